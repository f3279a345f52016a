/* Unit tests of the pure helpers of the HTTP front (src/http/http_util.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "http/http_internal.h"

static void test_json_depth(void **state) {
  assert_int_equal(scribe_http_json_depth("", 0, 10), 0);
  assert_int_equal(scribe_http_json_depth("1", 1, 10), 0);
  const char *s = "{\"a\":[1,{\"b\":[]}]}";
  assert_int_equal(scribe_http_json_depth(s, strlen(s), 10), 4);
  /* brackets inside strings, escaped quotes */
  s = "{\"a\":\"[[[{{\\\"[[\"}";
  assert_int_equal(scribe_http_json_depth(s, strlen(s), 10), 1);
  /* stops early */
  size_t n = 10000;
  char *deep = malloc(n);
  memset(deep, '[', n);
  assert_int_equal(scribe_http_json_depth(deep, n, 32), 33);
  const char *why = NULL;
  assert_null(scribe_http_json_parse(deep, n, 32, &why));
  assert_string_equal(why, "too_deep");
  free(deep);
  /* unbalanced closers do not go negative */
  s = "]]]]{";
  assert_int_equal(scribe_http_json_depth(s, strlen(s), 10), 1);
}

static void test_json_parse(void **state) {
  const char *why = NULL;
  json_t *v = scribe_http_json_parse("{\"key\":\"abc\"}", 13, 4, &why);
  assert_non_null(v);
  assert_null(why);
  json_decref(v);
  assert_null(scribe_http_json_parse("{\"key\":", 7, 4, &why));
  assert_string_equal(why, "invalid_json");
  assert_null(scribe_http_json_parse("{} x", 4, 4, &why));
  assert_null(scribe_http_json_parse("{\"a\":1,\"a\":2}", 13, 4, &why)); /* duplicates */
  assert_null(scribe_http_json_parse("", 0, 4, &why));
  assert_null(scribe_http_json_parse("{\"a\":\"\0\"}", 9, 4, &why)); /* raw NUL */
  assert_null(scribe_http_json_parse("[[[[[1]]]]]", 11, 4, &why));
  assert_string_equal(why, "too_deep");
  v = scribe_http_json_parse("[[[[1]]]]", 9, 4, &why);
  assert_non_null(v);
  json_decref(v);
}

static void test_host(void **state) {
  assert_true(scribe_http_host_valid("127.0.0.1:8080"));
  assert_true(scribe_http_host_valid("localhost"));
  assert_true(scribe_http_host_valid("scribe.example.org"));
  assert_true(scribe_http_host_valid("[::1]:8080"));
  assert_true(scribe_http_host_valid("[::1]"));
  assert_false(scribe_http_host_valid(NULL));
  assert_false(scribe_http_host_valid(""));
  assert_false(scribe_http_host_valid("evil.com/path"));
  assert_false(scribe_http_host_valid("a b"));
  assert_false(scribe_http_host_valid("host:"));
  assert_false(scribe_http_host_valid("host:123456"));
  assert_false(scribe_http_host_valid("host:80x"));
  assert_false(scribe_http_host_valid(":80"));
  assert_false(scribe_http_host_valid("[]:80"));
  assert_false(scribe_http_host_valid("[::1"));
  assert_false(scribe_http_host_valid("x\"onerror=1"));
  assert_false(scribe_http_host_valid("user@host"));
  char longhost[300];
  memset(longhost, 'a', sizeof(longhost) - 1);
  longhost[sizeof(longhost) - 1] = '\0';
  assert_false(scribe_http_host_valid(longhost));
}

static void test_ws_accept(void **state) {
  /* RFC 6455 section 1.3 */
  char out[29];
  assert_true(scribe_http_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ=="));
  assert_int_equal(scribe_http_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", out), SCRIBE_OK);
  assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  assert_false(scribe_http_ws_key_valid(NULL));
  assert_false(scribe_http_ws_key_valid("short=="));
  assert_false(scribe_http_ws_key_valid("dGhlIHNhbXBsZSBub25jZQ="));
  assert_false(scribe_http_ws_key_valid("dGhlIHNhbXBsZSBub25jZ!=="));
  assert_false(scribe_http_ws_key_valid("dGhlIHNhbXBsZSBub25jZR==")); /* stray low bits */
}

static void test_tokens_types_numbers(void **state) {
  assert_true(scribe_http_has_token("Upgrade", "upgrade"));
  assert_true(scribe_http_has_token("keep-alive, Upgrade", "upgrade"));
  assert_true(scribe_http_has_token(" websocket ", "websocket"));
  assert_false(scribe_http_has_token("upgrades", "upgrade"));
  assert_false(scribe_http_has_token(NULL, "upgrade"));
  assert_false(scribe_http_has_token("", "upgrade"));

  assert_true(scribe_http_is_json_type("application/json"));
  assert_true(scribe_http_is_json_type("Application/JSON; charset=utf-8"));
  assert_false(scribe_http_is_json_type("application/jsonp"));
  assert_false(scribe_http_is_json_type("text/plain"));
  assert_false(scribe_http_is_json_type(NULL));

  uint64_t v = 0;
  assert_true(scribe_http_parse_u64("0", &v));
  assert_int_equal(v, 0);
  assert_true(scribe_http_parse_u64("18446744073709551615", &v));
  assert_true(v == UINT64_MAX);
  assert_false(scribe_http_parse_u64("18446744073709551616", &v));
  assert_false(scribe_http_parse_u64("-1", &v));
  assert_false(scribe_http_parse_u64("12a", &v));
  assert_false(scribe_http_parse_u64("", &v));
  assert_false(scribe_http_parse_u64(NULL, &v));

  assert_string_equal(scribe_http_mime_type("index.html"), "text/html; charset=utf-8");
  assert_string_equal(scribe_http_mime_type("app.js"), "text/javascript; charset=utf-8");
  assert_string_equal(scribe_http_mime_type("style.CSS"), "text/css; charset=utf-8");
  assert_string_equal(scribe_http_mime_type("x.svg"), "image/svg+xml");
  assert_string_equal(scribe_http_mime_type("noext"), "application/octet-stream");
  assert_string_equal(scribe_http_mime_type("dir.d/noext"), "application/octet-stream");
}

static void test_origins(void **state) {
  char **list = NULL;
  size_t n = 0;
  assert_int_equal(scribe_http_origins_parse("", &list, &n), SCRIBE_OK);
  assert_int_equal(n, 0);
  scribe_http_origins_free(list, n);
  assert_int_equal(
      scribe_http_origins_parse(" https://a.example/ ,http://b.example:8080,, ", &list, &n),
      SCRIBE_OK);
  assert_int_equal(n, 2);
  assert_string_equal(list[0], "https://a.example");
  assert_string_equal(list[1], "http://b.example:8080");
  assert_true(scribe_http_origin_listed(list, n, "https://a.example"));
  assert_true(scribe_http_origin_listed(list, n, "http://b.example:8080"));
  assert_false(scribe_http_origin_listed(list, n, "http://b.example"));
  assert_false(scribe_http_origin_listed(list, n, "https://a.example.evil"));
  assert_false(scribe_http_origin_listed(list, n, "null"));
  assert_false(scribe_http_origin_listed(list, n, NULL));
  assert_false(scribe_http_origin_listed(list, n, "*"));
  scribe_http_origins_free(list, n);
}

static void test_parts_helpers(void **state) {
  unsigned n = 7;
  assert_true(scribe_http_parse_part("0", 1000, &n));
  assert_int_equal(n, 0);
  assert_true(scribe_http_parse_part("999", 1000, &n));
  assert_int_equal(n, 999);
  const char *bad[] = {"", "00", "01", "1000", "-1", "+1", "1a", " 1", "4294967296", "x"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_false(scribe_http_parse_part(bad[i], 1000, &n));
  assert_false(scribe_http_parse_part(NULL, 1000, &n));

  char hex[9];
  const unsigned char b[4] = {0x00, 0xab, 0x10, 0xff};
  scribe_http_hex(b, 4, hex);
  assert_string_equal(hex, "00ab10ff");

  /* MD5 of "" in hex and base64 */
  static const unsigned char md5_empty[16] = {0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04,
                                              0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8, 0x42, 0x7e};
  unsigned char got[32];
  assert_true(scribe_http_parse_digest("d41d8cd98f00b204e9800998ecf8427e", got, 16));
  assert_memory_equal(got, md5_empty, 16);
  assert_true(scribe_http_parse_digest("D41D8CD98F00B204E9800998ECF8427E", got, 16));
  assert_memory_equal(got, md5_empty, 16);
  assert_true(scribe_http_parse_digest(" 1B2M2Y8AsgTpgAmY7PhCfg== ", got, 16));
  assert_memory_equal(got, md5_empty, 16);
  assert_false(scribe_http_parse_digest("1B2M2Y8AsgTpgAmY7PhCfg=", got, 16));
  assert_false(scribe_http_parse_digest("1B2M2Y8AsgTpgAmY7PhC=g==", got, 16));
  assert_false(scribe_http_parse_digest("1B2M2Y8AsgTpgAmY7PhCf!==", got, 16));
  assert_false(scribe_http_parse_digest("d41d8cd98f00b204e9800998ecf8427", got, 16));
  assert_false(scribe_http_parse_digest("g41d8cd98f00b204e9800998ecf8427e", got, 16));
  assert_false(scribe_http_parse_digest("", got, 16));
  assert_false(scribe_http_parse_digest(NULL, got, 16));
  /* SHA-256 of "" in base64 (32 bytes: one '=' of padding) */
  assert_true(scribe_http_parse_digest("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", got, 32));
  assert_int_equal(got[0], 0xe3);
  assert_int_equal(got[31], 0x55);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_json_depth), cmocka_unit_test(test_json_parse),
      cmocka_unit_test(test_host),       cmocka_unit_test(test_ws_accept),
      cmocka_unit_test(test_tokens_types_numbers), cmocka_unit_test(test_origins),
      cmocka_unit_test(test_parts_helpers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
