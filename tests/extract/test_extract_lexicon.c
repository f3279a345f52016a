/* test_extract_lexicon.c - lexicon loading, errors with file:line, the
 * registry, and the lexicon_dir override. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extract/extract.h"

static char g_dir[1024];

static void copy_lexicons(void) {
  const char *tmp = getenv("SCRIBE_TEST_TMP");
  const char *src = getenv("SCRIBE_SOURCE_DIR");
  snprintf(g_dir, sizeof(g_dir), "%s/lexicon-test-%d", tmp ? tmp : "/tmp", (int)getpid());
  char cmd[4096];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s' && cp '%s'/data/lexicon/*.tsv '%s'/",
           g_dir, g_dir, src ? src : ".", g_dir);
  assert_int_equal(system(cmd), 0);
}

static void append(const char *file, const char *line) {
  char p[1200];
  snprintf(p, sizeof(p), "%s/%s", g_dir, file);
  FILE *f = fopen(p, "a");
  assert_non_null(f);
  fputs(line, f);
  fclose(f);
}

static int count_lines(const char *file) {
  char p[1200];
  snprintf(p, sizeof(p), "%s/%s", g_dir, file);
  FILE *f = fopen(p, "r");
  assert_non_null(f);
  int n = 0, c, last = '\n';
  while ((c = fgetc(f)) != EOF) {
    if (c == '\n') n++;
    last = c;
  }
  fclose(f);
  return last == '\n' ? n : n + 1;
}

static void test_registry(void **state) {
  (void)state;
  char err[256];
  scribe_extract *x = scribe_extract_create("nope", NULL, err, sizeof(err));
  assert_null(x);
  assert_non_null(strstr(err, "rules"));
  x = scribe_extract_create(NULL, NULL, err, sizeof(err));
  assert_non_null(x);
  assert_string_equal(scribe_extract_name(x), "rules");
  assert_non_null(strstr(scribe_extract_version(x), "rules-1+lex-"));
  scribe_extract_free(x);
  scribe_extract_free(NULL);
}

static void test_dir_override(void **state) {
  (void)state;
  copy_lexicons();
  append("medications.tsv", "zzfictivol\tdrug\tantibiotic\tzzbrandol\n");
  scribe_extract_params p = scribe_extract_default_params();
  p.lexicon_dir = g_dir;
  char err[256];
  scribe_extract *x = scribe_extract_create("rules", &p, err, sizeof(err));
  if (!x) fail_msg("%s", err);
  const char *t = "Doctor: I'll prescribe zzbrandol.";
  json_t *r = NULL;
  assert_int_equal(scribe_extract_text(x, t, strlen(t), &r, err, sizeof(err)), 0);
  json_t *m = json_array_get(json_object_get(r, "medications"), 0);
  assert_non_null(m);
  assert_string_equal(json_string_value(json_object_get(m, "name")), "zzfictivol");
  json_decref(r);
  scribe_extract_free(x);
}

static void expect_error(const char *file, const char *line, const char *why) {
  copy_lexicons();
  int n = count_lines(file);
  append(file, line);
  scribe_extract_params p = scribe_extract_default_params();
  p.lexicon_dir = g_dir;
  char err[512] = "", want[256];
  scribe_extract *x = scribe_extract_create("rules", &p, err, sizeof(err));
  if (x) fail_msg("%s accepted: %s", file, line);
  snprintf(want, sizeof(want), "%s:%d: ", file, n + 1);
  if (!strstr(err, want) || !strstr(err, why))
    fail_msg("error \"%s\" does not name \"%s\" and \"%s\"", err, want, why);
}

static void test_malformed(void **state) {
  (void)state;
  expect_error("medications.tsv", "aspirin\tdrug\n", "columns");
  expect_error("medications.tsv", "aspirin\tpotion\t-\t-\n", "kind");
  expect_error("medications.tsv", "aspirin\tdrug\t-\ta||b\n", "empty variant");
  expect_error("conditions.tsv", "\tdisease\t-\n", "empty");
  expect_error("negation.tsv", "nope\tmaybe\n", "role");
  expect_error("followup.tsv", "soon\tfixed\t5\t2\n", "min_days");
  expect_error("numbers.tsv", "eleventy\tx11\tunit\n", "number");
  expect_error("dosing.tsv", "mg\tunit\n", "columns");
  /* missing header */
  copy_lexicons();
  char p[1200];
  snprintf(p, sizeof(p), "%s/cues.tsv", g_dir);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  fputs("no\tanswer_no\n", f);
  fclose(f);
  scribe_extract_params pp = scribe_extract_default_params();
  pp.lexicon_dir = g_dir;
  char err[512];
  assert_null(scribe_extract_create("rules", &pp, err, sizeof(err)));
  assert_non_null(strstr(err, "cues.tsv:1: missing header"));
  /* missing file */
  unlink(p);
  assert_null(scribe_extract_create("rules", &pp, err, sizeof(err)));
  assert_non_null(strstr(err, "cues.tsv"));
  char cmd[1200];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registry),
      cmocka_unit_test(test_dir_override),
      cmocka_unit_test(test_malformed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
