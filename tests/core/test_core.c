#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"

static void test_errors(void **state) {
  assert_string_equal(scribe_strerror(SCRIBE_OK), "success");
  assert_string_equal(scribe_err_name(SCRIBE_ENOTFOUND), "SCRIBE_ENOTFOUND");
  assert_string_equal(scribe_err_code(SCRIBE_EBADAUDIO), "bad_audio");
  assert_true(scribe_err_transient(SCRIBE_ETIMEOUT));
  assert_true(scribe_err_transient(SCRIBE_EUNAVAILABLE));
  assert_false(scribe_err_transient(SCRIBE_EBADAUDIO));
  assert_false(scribe_err_transient(SCRIBE_EINVAL));
  assert_string_equal(scribe_strerror(-9999), "unknown error");
}

static void test_buf_cap(void **state) {
  scribe_buf b;
  scribe_buf_init(&b, 10);
  assert_int_equal(scribe_buf_appends(&b, "hello"), SCRIBE_OK);
  assert_int_equal(scribe_buf_printf(&b, "%d", 1234), SCRIBE_OK);
  assert_string_equal(b.data, "hello1234");
  assert_int_equal(scribe_buf_appends(&b, "xy"), SCRIBE_ETOOBIG);
  assert_string_equal(b.data, "hello1234");
  assert_int_equal(scribe_buf_appends(&b, "x"), SCRIBE_OK);
  assert_int_equal(b.len, 10);
  char *s = scribe_buf_steal(&b);
  assert_string_equal(s, "hello1234x");
  free(s);
  assert_null(b.data);
  scribe_buf_release(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_buf_cap),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
