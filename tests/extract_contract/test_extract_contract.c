/*
 * test_extract_contract.c - what every extraction backend must do, written
 * against the interface (src/extract/extract.h).  Later backends (LLM
 * extraction checked against the transcript) are added to `backends` and
 * must pass unchanged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "extract/extract.h"

static const char *const backends[] = {"rules", NULL};
static const char *g_backend;

static const char *const consult[] = {
    "Doctor: Good morning. What brings you in today?",
    "Patient: I've had a sore throat and a fever for three days.",
    "Doctor: Any chest pain?",
    "Patient: No.",
    "Doctor: Are you allergic to anything?",
    "Patient: Yes, penicillin gives me a rash.",
    "Doctor: It sounds like tonsillitis. I'll prescribe clarithromycin 500 mg twice a day for "
    "seven days, and you can take paracetamol for the pain.",
    "Doctor: Come back in two weeks if it's not better.",
};
#define NCONSULT (sizeof(consult) / sizeof(consult[0]))

static scribe_extract *make(void) {
  char err[256];
  scribe_extract_params p = scribe_extract_default_params();
  scribe_extract *x = scribe_extract_create(g_backend, &p, err, sizeof(err));
  if (!x) fail_msg("create %s: %s", g_backend, err);
  return x;
}

/* Every evidence object points at real text in the segment it names. */
static void check_evidence(json_t *ev, const char *const *segs, size_t nsegs) {
  assert_true(json_is_object(ev));
  json_int_t seg = json_integer_value(json_object_get(ev, "segment"));
  json_int_t a = json_integer_value(json_object_get(ev, "start_char"));
  json_int_t b = json_integer_value(json_object_get(ev, "end_char"));
  assert_true(seg >= 0 && (size_t)seg < nsegs);
  assert_true(a >= 0 && b > a && (size_t)b <= strlen(segs[seg]));
  const char *text = json_string_value(json_object_get(ev, "text"));
  if (text) {
    assert_int_equal(strlen(text), (size_t)(b - a));
    assert_memory_equal(text, segs[seg] + a, (size_t)(b - a));
  }
}

static void check_items(json_t *out, const char *field, const char *const *segs, size_t n) {
  json_t *arr = json_object_get(out, field);
  assert_true(json_is_array(arr));
  size_t i;
  json_t *it;
  json_array_foreach(arr, i, it) {
    json_t *ev = json_object_get(it, "evidence");
    if (ev && !json_is_null(ev)) check_evidence(ev, segs, n);
  }
}

static void test_schema_and_evidence(void **state) {
  scribe_extract *x = make();
  assert_string_equal(scribe_extract_name(x), g_backend);
  assert_non_null(scribe_extract_version(x));
  json_t *out = NULL;
  char err[256];
  assert_int_equal(scribe_extract_segments(x, consult, NCONSULT, &out, err, sizeof(err)),
                   SCRIBE_OK);
  /* the result document's extraction fields, with their types */
  const char *arrays[] = {"diagnoses", "medications", "allergies", "negations",
                          "symptoms",  "tasks",       "vital_signs", NULL};
  for (int i = 0; arrays[i]; i++) check_items(out, arrays[i], consult, NCONSULT);
  json_t *dx = json_object_get(out, "diagnosis");
  assert_true(json_is_string(dx) || json_is_null(dx));
  json_t *fu = json_object_get(out, "follow_up");
  assert_true(json_is_string(fu) || json_is_null(fu));
  assert_non_null(json_object_get(out, "follow_up_interval"));
  assert_non_null(json_object_get(out, "notes"));
  /* medications carry the fields of the schema */
  size_t i;
  json_t *m;
  json_array_foreach(json_object_get(out, "medications"), i, m) {
    const char *keys[] = {"name", "text", "status", "dose", "route", "frequency",
                          "duration", "as_needed", "evidence", NULL};
    for (int k = 0; keys[k]; k++) assert_non_null(json_object_get(m, keys[k]));
    assert_true(json_is_string(json_object_get(m, "name")));
  }
  json_decref(out);
  scribe_extract_free(x);
}

static void test_empty_and_limits(void **state) {
  scribe_extract *x = make();
  json_t *out = NULL;
  char err[256];
  assert_int_equal(scribe_extract_segments(x, NULL, 0, &out, err, sizeof(err)), SCRIBE_OK);
  assert_int_equal(json_array_size(json_object_get(out, "medications")), 0);
  json_decref(out);
  assert_int_equal(scribe_extract_text(x, "", 0, &out, err, sizeof(err)), SCRIBE_OK);
  json_decref(out);
  /* bytes that are not text do not crash it */
  char junk[512];
  for (size_t k = 0; k < sizeof(junk); k++) junk[k] = (char)(k * 37 + 11);
  int rc = scribe_extract_text(x, junk, sizeof(junk), &out, err, sizeof(err));
  assert_true(rc == SCRIBE_OK || rc == SCRIBE_EINVAL || rc == SCRIBE_EPARSE);
  if (rc == SCRIBE_OK) json_decref(out);
  scribe_extract_free(x);
  scribe_extract_free(NULL);
}

static void test_deterministic(void **state) {
  scribe_extract *x = make();
  json_t *a = NULL, *b = NULL;
  char err[256];
  assert_int_equal(scribe_extract_segments(x, consult, NCONSULT, &a, err, sizeof(err)), 0);
  assert_int_equal(scribe_extract_segments(x, consult, NCONSULT, &b, err, sizeof(err)), 0);
  assert_true(json_equal(a, b));
  json_decref(a);
  json_decref(b);
  scribe_extract_free(x);
}

typedef struct {
  scribe_extract *x;
  json_t *want;
  int bad;
} thread_arg;

static void *worker(void *p) {
  thread_arg *t = p;
  for (int i = 0; i < 50; i++) {
    json_t *out = NULL;
    char err[128];
    if (scribe_extract_segments(t->x, consult, NCONSULT, &out, err, sizeof(err)) ||
        !json_equal(out, t->want))
      t->bad++;
    json_decref(out);
  }
  return NULL;
}

/* One handle shared by several workers gives each the same answer. */
static void test_shared_between_threads(void **state) {
  scribe_extract *x = make();
  json_t *want = NULL;
  char err[256];
  assert_int_equal(scribe_extract_segments(x, consult, NCONSULT, &want, err, sizeof(err)), 0);
  pthread_t th[4];
  thread_arg args[4];
  for (int i = 0; i < 4; i++) {
    args[i] = (thread_arg){x, want, 0};
    assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(args[i].bad, 0);
  }
  json_decref(want);
  scribe_extract_free(x);
}

static void test_unknown_backend(void **state) {
  char err[256] = "";
  scribe_extract_params p = scribe_extract_default_params();
  assert_null(scribe_extract_create("no-such-extractor", &p, err, sizeof(err)));
  assert_non_null(strstr(err, g_backend));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_schema_and_evidence), cmocka_unit_test(test_empty_and_limits),
      cmocka_unit_test(test_deterministic),       cmocka_unit_test(test_shared_between_threads),
      cmocka_unit_test(test_unknown_backend),
  };
  int failed = 0;
  for (int i = 0; backends[i]; i++) {
    g_backend = backends[i];
    failed += cmocka_run_group_tests_name(backends[i], tests, NULL, NULL);
  }
  return failed ? 1 : 0;
}
