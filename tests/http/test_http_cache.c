#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_cache.h"

static void test_cache(void **state) {
  scribe_http_cache *c = scribe_http_cache_create(8, 16);
  assert_non_null(c);
  size_t len = 0;
  assert_null(scribe_http_cache_get(c, "k1", 1, &len));
  scribe_http_cache_put(c, "k1", 1, "{\"a\":1}", 7);
  char *b = scribe_http_cache_get(c, "k1", 1, &len);
  assert_non_null(b);
  assert_int_equal(len, 7);
  assert_memory_equal(b, "{\"a\":1}", 7);
  free(b);
  /* another version of the record: a miss */
  assert_null(scribe_http_cache_get(c, "k1", 2, &len));
  /* a newer version replaces the entry */
  scribe_http_cache_put(c, "k1", 2, "{\"a\":2}", 7);
  assert_null(scribe_http_cache_get(c, "k1", 1, &len));
  b = scribe_http_cache_get(c, "k1", 2, &len);
  assert_non_null(b);
  assert_memory_equal(b, "{\"a\":2}", 7);
  free(b);
  /* too large to cache */
  scribe_http_cache_put(c, "big", 1, "0123456789abcdefXYZ", 19);
  assert_null(scribe_http_cache_get(c, "big", 1, &len));
  /* dropped */
  scribe_http_cache_drop(c, "k1");
  assert_null(scribe_http_cache_get(c, "k1", 2, &len));
  /* many keys in few slots: never the wrong key's body */
  for (int i = 0; i < 100; i++) {
    char k[16], v[16];
    snprintf(k, sizeof(k), "key%d", i);
    snprintf(v, sizeof(v), "v%d", i);
    scribe_http_cache_put(c, k, i, v, strlen(v));
  }
  for (int i = 0; i < 100; i++) {
    char k[16], v[16];
    snprintf(k, sizeof(k), "key%d", i);
    snprintf(v, sizeof(v), "v%d", i);
    b = scribe_http_cache_get(c, k, i, &len);
    if (b) {
      assert_int_equal(len, strlen(v));
      assert_memory_equal(b, v, len);
      free(b);
    }
  }
  scribe_http_cache_free(c);
  scribe_http_cache_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_cache)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
