/* test_extract_helpers.h - running the extractor on small transcripts. */
#ifndef TEST_EXTRACT_HELPERS_H
#define TEST_EXTRACT_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "extract/extract.h"

static scribe_extract *g_x;

static int setup_x(void **state) {
  (void)state;
  char err[256];
  g_x = scribe_extract_create("rules", NULL, err, sizeof(err));
  if (!g_x) fprintf(stderr, "create: %s\n", err);
  return g_x ? 0 : -1;
}

static int teardown_x(void **state) {
  (void)state;
  scribe_extract_free(g_x);
  return 0;
}

static inline json_t *run(const char *text) {
  json_t *r = NULL;
  char err[256];
  int rc = scribe_extract_text(g_x, text, strlen(text), &r, err, sizeof(err));
  if (rc != 0) fail_msg("extract: %s", err);
  return r;
}

/* Is there an item in list `field` whose `key` equals `val`? */
static inline json_t *find_item(json_t *r, const char *field, const char *key, const char *val) {
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(r, field), i, v) {
    const char *s = json_string_value(json_object_get(v, key));
    if (s && strcmp(s, val) == 0) return v;
  }
  return NULL;
}

static inline void expect_item(json_t *r, const char *field, const char *key, const char *val,
                        bool want, const char *text) {
  bool got = find_item(r, field, key, val) != NULL;
  if (got != want) {
    char *dump = json_dumps(json_object_get(r, field), JSON_COMPACT);
    fail_msg("%s: %s %s=\"%s\" expected %s\n  text: %s\n  got: %s", field, want ? "missing" : "unexpected",
             key, val, want ? "present" : "absent", text, dump ? dump : "?");
  }
}

static inline void neg(const char *text, const char *finding, bool want) {
  json_t *r = run(text);
  expect_item(r, "negations", "finding", finding, want, text);
  json_decref(r);
}

#endif
