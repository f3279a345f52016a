#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/crypto.h"
#include "core/error.h"

static void test_defaults(void **state) {
  scribe_config c;
  scribe_config_init(&c);
  assert_string_equal(c.host, "127.0.0.1");
  assert_int_equal(c.port, 8080);
  assert_string_equal(c.data_dir, "./scribe-data");
  assert_false(c.keep_audio);
  scribe_config_release(&c);
}

static const char *write_file(const char *text) {
  static char path[512];
  const char *tmp = getenv("SCRIBE_TEST_TMP");
  snprintf(path, sizeof(path), "%s/cfg-%d.conf", tmp ? tmp : "/tmp", (int)getpid());
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  return path;
}

static void test_precedence(void **state) {
  const char *path = write_file("# comment\nport = 9001\nhost = \"0.0.0.0\"\nworkers=3\n");
  setenv("SCRIBE_PORT", "9002", 1);
  setenv("SCRIBE_WORKERS", "4", 1);
  char a0[] = "scribe", a1[] = "--config", a3[] = "--port", a4[] = "9003", a5[] = "pos",
       a6[] = "--keep-audio";
  char a2[512];
  snprintf(a2, sizeof(a2), "%s", path);
  char *argv[] = {a0, a1, a2, a3, a4, a5, a6, NULL};
  int argc = 7;
  scribe_config c;
  scribe_config_init(&c);
  char err[256] = "";
  assert_int_equal(scribe_config_load(&c, &argc, argv, err, sizeof(err)), SCRIBE_OK);
  assert_int_equal(c.port, 9003);      /* flag beats env beats file */
  assert_int_equal(c.workers, 4);      /* env beats file */
  assert_string_equal(c.host, "0.0.0.0"); /* file beats default */
  assert_true(c.keep_audio);
  assert_int_equal(argc, 2);           /* config flags consumed */
  assert_string_equal(argv[1], "pos");
  scribe_config_release(&c);
  unsetenv("SCRIBE_PORT");
  unsetenv("SCRIBE_WORKERS");
  unlink(path);
}

static void test_bad_values(void **state) {
  scribe_config c;
  char err[256];
  scribe_config_init(&c);
  assert_int_equal(scribe_config_set(&c, "port", "70000", "test", err, sizeof(err)),
                   SCRIBE_ECONFIG);
  assert_non_null(strstr(err, "port"));
  assert_int_equal(scribe_config_set(&c, "port", "12x", "test", err, sizeof(err)), SCRIBE_ECONFIG);
  assert_int_equal(scribe_config_set(&c, "keep_audio", "maybe", "t", err, sizeof(err)),
                   SCRIBE_ECONFIG);
  assert_int_equal(scribe_config_set(&c, "log_level", "loud", "t", err, sizeof(err)),
                   SCRIBE_ECONFIG);
  assert_int_equal(scribe_config_set(&c, "nonsense", "1", "t", err, sizeof(err)), SCRIBE_ECONFIG);
  assert_non_null(strstr(err, "unknown"));
  assert_int_equal(scribe_config_set(&c, "cors_origins", "*", "t", err, sizeof(err)), SCRIBE_OK);
  assert_int_equal(scribe_config_validate(&c, err, sizeof(err)), SCRIBE_ECONFIG);
  scribe_config_release(&c);

  const char *path = write_file("port = 1\nthis line is wrong\n");
  scribe_config_init(&c);
  assert_int_equal(scribe_config_load_file(&c, path, err, sizeof(err)), SCRIBE_ECONFIG);
  assert_non_null(strstr(err, ":2:"));
  scribe_config_release(&c);
  unlink(path);
}

static void test_print_masks_secrets(void **state) {
  scribe_config c;
  char err[256];
  scribe_config_init(&c);
  assert_int_equal(scribe_config_set(&c, "signing_key", "supersecretsupersecretsupersecret12",
                                     "t", err, sizeof(err)),
                   SCRIBE_OK);
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  scribe_config_print(&c, f);
  fclose(f);
  assert_null(strstr(text, "supersecret"));
  assert_non_null(strstr(text, "signing_key = \"********\""));
  free(text);
  scribe_config_release(&c);
}

static void test_crypto(void **state) {
  char mac[65];
  /* RFC 4231 test case 2 */
  assert_int_equal(scribe_hmac_sha256_hex("Jefe", 4, "what do ya want for nothing?", 28, mac),
                   SCRIBE_OK);
  assert_string_equal(mac, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  char a[33], b[33];
  assert_int_equal(scribe_random_hex(a, sizeof(a), 16), SCRIBE_OK);
  assert_int_equal(scribe_random_hex(b, sizeof(b), 16), SCRIBE_OK);
  assert_int_equal(strlen(a), 32);
  assert_string_not_equal(a, b);
  assert_true(scribe_secure_equal("abc", 3, "abc", 3));
  assert_false(scribe_secure_equal("abc", 3, "abd", 3));
  assert_false(scribe_secure_equal("abc", 3, "ab", 2));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_precedence),
      cmocka_unit_test(test_bad_values),
      cmocka_unit_test(test_print_masks_secrets),
      cmocka_unit_test(test_crypto),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
