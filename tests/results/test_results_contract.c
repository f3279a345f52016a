/*
 * test_results_contract.c - the results store contract, run against every
 * compiled-in backend (scribe_results_names()).  A new backend adds a case
 * to make_params() and must pass the same tests unchanged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>

#include "../postgres/pg_test_util.h"
#include "../storage/contract_util.h"
#include "core/error.h"
#include "queue/queue.h"
#include "results/results.h"

static const char *g_backend; /* backend under test */
static char *g_root;          /* this run's temporary directory */
static int g_seq;

typedef struct fixture {
  char dir[512];
  char path[600];
  scribe_results_params p;
  scribe_results *r;
} fixture;

/* Parameters for `backend` keeping its data under dir; false to skip a
 * backend this suite does not know how to configure. */
static bool make_params(const char *backend, const char *dir, char *path, size_t pathlen,
                        scribe_results_params *p) {
  *p = scribe_results_default_params();
  if (strcmp(backend, "sqlite") == 0) {
    snprintf(path, pathlen, "%s/results.db", dir);
    p->path = path;
    return true;
  }
  if (strcmp(backend, "postgres") == 0) {
    /* A fresh database per test; path holds its connection string. */
    if (!pgt_fresh_db("results", path, pathlen)) return false;
    p->conninfo = path;
    return true;
  }
  return false;
}

static scribe_results *open_results(const fixture *f) {
  char err[256];
  scribe_results *r = scribe_results_create(g_backend, &f->p, err, sizeof(err));
  if (!r) fprintf(stderr, "create %s: %s\n", g_backend, err);
  return r;
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  if (!f) return -1;
  snprintf(f->dir, sizeof(f->dir), "%s/t%d", g_root, ++g_seq);
  if (mkdir(f->dir, 0700) != 0) return -1;
  if (!make_params(g_backend, f->dir, f->path, sizeof(f->path), &f->p)) return -1;
  f->r = open_results(f);
  if (!f->r) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  scribe_results_free(f->r);
  tu_rmtree(f->dir);
  free(f);
  return 0;
}

static const char *sget(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* "2024-05-01T12:34:56.789Z" */
static bool is_rfc3339_ms(const char *s) {
  if (!s || strlen(s) != 24) return false;
  const char *pat = "dddd-dd-ddTdd:dd:dd.dddZ";
  for (int i = 0; i < 24; i++) {
    if (pat[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != pat[i]) return false;
  }
  return true;
}

/* ---- tests ------------------------------------------------------------ */

static void test_status_names(void **state) {
  const char *names[] = {"uploaded", "queued", "transcribing", "extracting", "completed", "failed"};
  for (int i = 0; i < SCRIBE_STATUS_COUNT; i++) {
    assert_string_equal(scribe_status_name((scribe_status)i), names[i]);
    assert_int_equal(scribe_status_parse(names[i]), i);
  }
  assert_null(scribe_status_name(SCRIBE_STATUS_COUNT));
  assert_null(scribe_status_name((scribe_status)-1));
  assert_int_equal(scribe_status_parse("done"), -1);
  assert_int_equal(scribe_status_parse(NULL), -1);
  fixture *f = *state;
  char names_buf[256], err[256];
  scribe_results_names(names_buf, sizeof(names_buf));
  assert_non_null(strstr(names_buf, g_backend));
  assert_null(scribe_results_create("no-such-backend", &f->p, err, sizeof(err)));
  assert_non_null(strstr(err, g_backend));
  assert_string_equal(scribe_results_name(f->r), g_backend);
  scribe_results_free(NULL);
}

static void test_insert_get(void **state) {
  fixture *f = *state;
  scribe_record_meta m = {.patient_id = "P-123", .owner = "dr-a", .filename = "visit.webm"};
  assert_int_equal(scribe_results_insert(f->r, "rec-1", &m), SCRIBE_OK);
  scribe_record_meta other = {.patient_id = "P-999"};
  assert_int_equal(scribe_results_insert(f->r, "rec-1", &other), SCRIBE_EEXISTS);
  assert_int_equal(scribe_results_insert(f->r, "rec-2", NULL), SCRIBE_OK);

  json_t *doc = NULL;
  assert_int_equal(scribe_results_get(f->r, "rec-1", &doc), SCRIBE_OK);
  assert_string_equal(sget(doc, "audio_key"), "rec-1");
  assert_string_equal(sget(doc, "status"), "uploaded");
  assert_int_equal(json_integer_value(json_object_get(doc, "stage_percent")), 0);
  assert_true(json_is_null(json_object_get(doc, "error")));
  assert_string_equal(sget(doc, "patient_id"), "P-123"); /* unchanged by the EEXISTS insert */
  assert_string_equal(sget(doc, "filename"), "visit.webm");
  assert_true(is_rfc3339_ms(sget(doc, "created_at")));
  assert_true(is_rfc3339_ms(sget(doc, "updated_at")));
  /* The column fields come first, in a fixed order. */
  const char *order[] = {"audio_key", "status", "stage_percent", "created_at", "updated_at"};
  void *it = json_object_iter(doc);
  for (int i = 0; i < 5; i++, it = json_object_iter_next(doc, it)) {
    assert_non_null(it);
    assert_string_equal(json_object_iter_key(it), order[i]);
  }
  json_decref(doc);

  assert_int_equal(scribe_results_get(f->r, "rec-2", &doc), SCRIBE_OK);
  assert_true(json_is_null(json_object_get(doc, "patient_id")));
  assert_true(json_is_null(json_object_get(doc, "filename")));
  json_decref(doc);

  doc = (json_t *)1;
  assert_int_equal(scribe_results_get(f->r, "missing", &doc), SCRIBE_ENOTFOUND);
  assert_null(doc);
  assert_int_equal(scribe_results_get(f->r, "../bad", &doc), SCRIBE_EBADKEY);
  assert_int_equal(scribe_results_insert(f->r, "", NULL), SCRIBE_EBADKEY);
}

static void test_status_transitions(void **state) {
  fixture *f = *state;
  json_t *doc;
  assert_int_equal(scribe_results_insert(f->r, "s", NULL), SCRIBE_OK);
  assert_int_equal(scribe_results_get(f->r, "s", &doc), SCRIBE_OK);
  char created[32];
  snprintf(created, sizeof(created), "%s", sget(doc, "created_at"));
  json_decref(doc);
  tu_sleep_ms(5);

  assert_int_equal(scribe_results_set_status(f->r, "s", SCRIBE_STATUS_QUEUED, 0, NULL), 0);
  assert_int_equal(scribe_results_set_status(f->r, "s", SCRIBE_STATUS_TRANSCRIBING, 40, NULL), 0);
  assert_int_equal(scribe_results_get(f->r, "s", &doc), SCRIBE_OK);
  assert_string_equal(sget(doc, "status"), "transcribing");
  assert_int_equal(json_integer_value(json_object_get(doc, "stage_percent")), 40);
  assert_string_equal(sget(doc, "created_at"), created);
  assert_true(strcmp(sget(doc, "updated_at"), created) > 0);
  json_decref(doc);

  /* -1 keeps the percent. */
  assert_int_equal(scribe_results_set_status(f->r, "s", SCRIBE_STATUS_EXTRACTING, -1, NULL), 0);
  assert_int_equal(scribe_results_get(f->r, "s", &doc), SCRIBE_OK);
  assert_string_equal(sget(doc, "status"), "extracting");
  assert_int_equal(json_integer_value(json_object_get(doc, "stage_percent")), 40);
  json_decref(doc);

  /* An error reason is stored, and cleared by NULL. */
  assert_int_equal(
      scribe_results_set_status(f->r, "s", SCRIBE_STATUS_FAILED, -1, "audio could not be decoded"),
      SCRIBE_OK);
  assert_int_equal(scribe_results_get(f->r, "s", &doc), SCRIBE_OK);
  assert_string_equal(sget(doc, "status"), "failed");
  assert_string_equal(sget(doc, "error"), "audio could not be decoded");
  json_decref(doc);
  assert_int_equal(scribe_results_set_status(f->r, "s", SCRIBE_STATUS_QUEUED, 0, NULL), 0);
  assert_int_equal(scribe_results_get(f->r, "s", &doc), SCRIBE_OK);
  assert_true(json_is_null(json_object_get(doc, "error")));
  json_decref(doc);

  assert_int_equal(scribe_results_set_status(f->r, "nope", SCRIBE_STATUS_QUEUED, 0, NULL),
                   SCRIBE_ENOTFOUND);
  assert_int_equal(scribe_results_set_status(f->r, "s", SCRIBE_STATUS_COUNT, 0, NULL),
                   SCRIBE_EINVAL);
  assert_int_equal(scribe_results_set_status(f->r, "s", SCRIBE_STATUS_QUEUED, 101, NULL),
                   SCRIBE_EINVAL);
  assert_int_equal(scribe_results_set_status(f->r, "s", SCRIBE_STATUS_QUEUED, -2, NULL),
                   SCRIBE_EINVAL);
}

static void test_put_result_merge(void **state) {
  fixture *f = *state;
  scribe_record_meta m = {.patient_id = "P-1", .filename = "a.wav"};
  assert_int_equal(scribe_results_insert(f->r, "m", &m), SCRIBE_OK);
  assert_int_equal(scribe_results_set_status(f->r, "m", SCRIBE_STATUS_EXTRACTING, 80, "old"), 0);
  json_t *fields = json_pack(
      "{s:s, s:[{s:f, s:f, s:s}], s:s, s:[{s:s, s:s}], s:s, s:s, s:s, s:i}", "transcript",
      "take amoxicillin", "segments", "start", 0.0, "end", 1.5, "text", "take amoxicillin",
      "diagnosis", "otitis media", "medications", "name", "amoxicillin", "dose", "500 mg",
      /* column names inside the fields never win over the columns */
      "status", "bogus", "audio_key", "other", "patient_id", "forged", "stage_percent", 7);
  assert_non_null(fields);
  assert_int_equal(scribe_results_put_result(f->r, "m", fields), SCRIBE_OK);
  assert_int_equal(fields->refcount, 1); /* not stolen */

  json_t *doc;
  assert_int_equal(scribe_results_get(f->r, "m", &doc), SCRIBE_OK);
  assert_string_equal(sget(doc, "status"), "completed");
  assert_int_equal(json_integer_value(json_object_get(doc, "stage_percent")), 100);
  assert_true(json_is_null(json_object_get(doc, "error")));
  assert_string_equal(sget(doc, "audio_key"), "m");
  assert_string_equal(sget(doc, "patient_id"), "P-1");
  assert_string_equal(sget(doc, "filename"), "a.wav");
  assert_string_equal(sget(doc, "transcript"), "take amoxicillin");
  assert_string_equal(sget(doc, "diagnosis"), "otitis media");
  assert_true(json_equal(json_object_get(doc, "segments"), json_object_get(fields, "segments")));
  assert_true(
      json_equal(json_object_get(doc, "medications"), json_object_get(fields, "medications")));
  json_decref(doc);

  /* A second put replaces the fields. */
  json_t *again = json_pack("{s:s}", "transcript", "second run");
  assert_int_equal(scribe_results_put_result(f->r, "m", again), SCRIBE_OK);
  assert_int_equal(scribe_results_get(f->r, "m", &doc), SCRIBE_OK);
  assert_string_equal(sget(doc, "transcript"), "second run");
  assert_null(json_object_get(doc, "diagnosis"));
  json_decref(doc);
  json_decref(again);

  /* Status changes after completion keep the fields. */
  assert_int_equal(scribe_results_set_status(f->r, "m", SCRIBE_STATUS_QUEUED, 0, NULL), 0);
  assert_int_equal(scribe_results_get(f->r, "m", &doc), SCRIBE_OK);
  assert_string_equal(sget(doc, "status"), "queued");
  assert_string_equal(sget(doc, "transcript"), "second run");
  json_decref(doc);

  assert_int_equal(scribe_results_put_result(f->r, "absent", fields), SCRIBE_ENOTFOUND);
  json_t *arr = json_array();
  assert_int_equal(scribe_results_put_result(f->r, "m", arr), SCRIBE_EINVAL);
  assert_int_equal(scribe_results_put_result(f->r, "m", NULL), SCRIBE_EINVAL);
  json_decref(arr);
  json_decref(fields);
}

static void test_list_pagination(void **state) {
  fixture *f = *state;
  enum { N = 25 };
  for (int i = 0; i < N; i++) {
    char key[32];
    snprintf(key, sizeof(key), "item-%02d", i);
    scribe_record_meta m = {.patient_id = "P"};
    assert_int_equal(scribe_results_insert(f->r, key, &m), SCRIBE_OK);
    if (i % 5 == 0) tu_sleep_ms(2); /* a mix of equal and distinct timestamps */
    if (i % 3 == 0)
      assert_int_equal(scribe_results_set_status(f->r, key, SCRIBE_STATUS_COMPLETED, 100, NULL),
                       SCRIBE_OK);
  }
  bool seen[N] = {false};
  char *cursor = NULL;
  int pages = 0, total = 0;
  char prev_created[32] = "9999", prev_key[32] = "~";
  do {
    json_t *items = NULL;
    char *next = NULL;
    assert_int_equal(scribe_results_list(f->r, -1, cursor, 10, &items, &next), SCRIBE_OK);
    free(cursor);
    cursor = next;
    pages++;
    assert_int_equal(json_array_size(items), pages < 3 ? 10 : 5);
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
      const char *k = sget(it, "audio_key"), *c = sget(it, "created_at");
      assert_non_null(k);
      assert_true(is_rfc3339_ms(c));
      assert_true(is_rfc3339_ms(sget(it, "updated_at")));
      assert_non_null(sget(it, "status"));
      assert_string_equal(sget(it, "patient_id"), "P");
      assert_true(json_is_null(json_object_get(it, "error")));
      /* newest first by (created_at, key) */
      int cmp = strcmp(c, prev_created);
      assert_true(cmp < 0 || (cmp == 0 && strcmp(k, prev_key) < 0));
      snprintf(prev_created, sizeof(prev_created), "%s", c);
      snprintf(prev_key, sizeof(prev_key), "%s", k);
      int idx = atoi(k + 5);
      assert_false(seen[idx]);
      seen[idx] = true;
      total++;
    }
    json_decref(items);
    assert_true(pages <= 3);
  } while (cursor);
  assert_int_equal(pages, 3);
  assert_int_equal(total, N);
  /* The last item was inserted last: the first page starts with it. */
  json_t *items;
  char *next;
  assert_int_equal(scribe_results_list(f->r, -1, NULL, 1, &items, &next), SCRIBE_OK);
  assert_string_equal(sget(json_array_get(items, 0), "audio_key"), "item-24");
  json_decref(items);
  free(next);

  /* Status filter: items 0, 3, ..., 24 are completed (9 of them). */
  int filtered = 0;
  cursor = NULL;
  do {
    char *nx = NULL;
    assert_int_equal(
        scribe_results_list(f->r, SCRIBE_STATUS_COMPLETED, cursor, 4, &items, &nx), SCRIBE_OK);
    free(cursor);
    cursor = nx;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
      assert_string_equal(sget(it, "status"), "completed");
      assert_int_equal(atoi(sget(it, "audio_key") + 5) % 3, 0);
      filtered++;
    }
    json_decref(items);
  } while (cursor);
  assert_int_equal(filtered, 9);
  assert_int_equal(scribe_results_list(f->r, SCRIBE_STATUS_FAILED, NULL, 10, &items, &next), 0);
  assert_int_equal(json_array_size(items), 0);
  assert_null(next);
  json_decref(items);

  /* Limits are clamped to 1..500. */
  assert_int_equal(scribe_results_list(f->r, -1, NULL, 0, &items, &next), SCRIBE_OK);
  assert_int_equal(json_array_size(items), 1);
  assert_non_null(next);
  json_decref(items);
  free(next);
  assert_int_equal(scribe_results_list(f->r, -1, NULL, 100000, &items, &next), SCRIBE_OK);
  assert_int_equal(json_array_size(items), N);
  assert_null(next);
  json_decref(items);
  assert_int_equal(scribe_results_list(f->r, 99, NULL, 10, &items, &next), SCRIBE_EINVAL);
}

static void test_bad_cursor(void **state) {
  fixture *f = *state;
  assert_int_equal(scribe_results_insert(f->r, "a", NULL), SCRIBE_OK);
  assert_int_equal(scribe_results_insert(f->r, "b", NULL), SCRIBE_OK);
  json_t *items = (json_t *)1;
  char *next = (char *)1;
  char huge[5000];
  memset(huge, 'A', sizeof(huge) - 1);
  huge[sizeof(huge) - 1] = '\0';
  const char *bad[] = {"", "!!!", "not a cursor", "MTIzOmE=", "A", "AAAA", "MTIz", "OmE",
                       "eHl6OmE", huge};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(scribe_results_list(f->r, -1, bad[i], 10, &items, &next), SCRIBE_EINVAL);
    assert_null(items);
    assert_null(next);
  }
  /* A valid cursor, truncated, is refused too (or at worst still valid). */
  char *cur;
  assert_int_equal(scribe_results_list(f->r, -1, NULL, 1, &items, &cur), SCRIBE_OK);
  json_decref(items);
  assert_non_null(cur);
  assert_int_equal(scribe_results_list(f->r, -1, cur, 1, &items, &next), SCRIBE_OK);
  assert_int_equal(json_array_size(items), 1);
  assert_null(next);
  json_decref(items);
  cur[strlen(cur) / 2] = '\0';
  int rc = scribe_results_list(f->r, -1, cur, 1, &items, &next);
  assert_true(rc == SCRIBE_EINVAL);
  free(cur);
}

static void test_remove(void **state) {
  fixture *f = *state;
  json_t *doc;
  assert_int_equal(scribe_results_insert(f->r, "gone", NULL), SCRIBE_OK);
  assert_int_equal(scribe_results_remove(f->r, "gone"), SCRIBE_OK);
  assert_int_equal(scribe_results_get(f->r, "gone", &doc), SCRIBE_ENOTFOUND);
  assert_int_equal(scribe_results_remove(f->r, "gone"), SCRIBE_ENOTFOUND);
  assert_int_equal(scribe_results_set_status(f->r, "gone", SCRIBE_STATUS_QUEUED, 0, NULL),
                   SCRIBE_ENOTFOUND);
  /* The key can be used again. */
  assert_int_equal(scribe_results_insert(f->r, "gone", NULL), SCRIBE_OK);
  assert_int_equal(scribe_results_get(f->r, "gone", &doc), SCRIBE_OK);
  assert_string_equal(sget(doc, "status"), "uploaded");
  json_decref(doc);
}

/* The version of a record moves forward on every write, never repeats for
 * a key across delete and re-create, and the status comes with it. */
static void test_stamp(void **state) {
  fixture *f = *state;
  scribe_status st;
  int64_t v0, v1, v2, v3, v4;
  assert_int_equal(scribe_results_stamp(f->r, "stamped", &st, &v0), SCRIBE_ENOTFOUND);
  assert_int_equal(scribe_results_stamp(f->r, "../x", &st, &v0), SCRIBE_EBADKEY);
  assert_int_equal(scribe_results_insert(f->r, "stamped", NULL), SCRIBE_OK);
  assert_int_equal(scribe_results_stamp(f->r, "stamped", &st, &v0), SCRIBE_OK);
  assert_int_equal(st, SCRIBE_STATUS_UPLOADED);
  assert_int_equal(scribe_results_set_status(f->r, "stamped", SCRIBE_STATUS_QUEUED, 0, NULL),
                   SCRIBE_OK);
  assert_int_equal(scribe_results_stamp(f->r, "stamped", &st, &v1), SCRIBE_OK);
  assert_int_equal(st, SCRIBE_STATUS_QUEUED);
  assert_true(v1 > v0);
  /* two writes in the same millisecond still differ */
  assert_int_equal(scribe_results_set_status(f->r, "stamped", SCRIBE_STATUS_TRANSCRIBING, 5, NULL),
                   SCRIBE_OK);
  assert_int_equal(scribe_results_set_status(f->r, "stamped", SCRIBE_STATUS_TRANSCRIBING, 6, NULL),
                   SCRIBE_OK);
  assert_int_equal(scribe_results_stamp(f->r, "stamped", &st, &v2), SCRIBE_OK);
  assert_true(v2 >= v1 + 2);
  json_t *fields = json_pack("{s:s}", "transcript", "hello");
  assert_int_equal(scribe_results_put_result(f->r, "stamped", fields), SCRIBE_OK);
  json_decref(fields);
  assert_int_equal(scribe_results_stamp(f->r, "stamped", &st, &v3), SCRIBE_OK);
  assert_int_equal(st, SCRIBE_STATUS_COMPLETED);
  assert_true(v3 > v2);
  assert_int_equal(scribe_results_remove(f->r, "stamped"), SCRIBE_OK);
  assert_int_equal(scribe_results_insert(f->r, "stamped", NULL), SCRIBE_OK);
  assert_int_equal(scribe_results_stamp(f->r, "stamped", &st, &v4), SCRIBE_OK);
  assert_true(v4 != v0 && v4 != v1 && v4 != v3);
}

static void test_reopen(void **state) {
  fixture *f = *state;
  scribe_record_meta m = {.patient_id = "keep"};
  assert_int_equal(scribe_results_insert(f->r, "durable", &m), SCRIBE_OK);
  json_t *fields = json_pack("{s:s}", "transcript", "persisted");
  assert_int_equal(scribe_results_put_result(f->r, "durable", fields), SCRIBE_OK);
  json_decref(fields);
  json_t *before, *after;
  assert_int_equal(scribe_results_get(f->r, "durable", &before), SCRIBE_OK);
  scribe_results_free(f->r);
  f->r = open_results(f);
  assert_non_null(f->r);
  assert_int_equal(scribe_results_get(f->r, "durable", &after), SCRIBE_OK);
  assert_true(json_equal(before, after));
  json_decref(before);
  json_decref(after);
}

static void test_unicode(void **state) {
  fixture *f = *state;
  const char *pid = "Zo\xc3\xab \"quoted\" back\\slash\nnew line\ttab \xe6\x97\xa5\xe6\x9c\xac "
                    "\xf0\x9f\x98\x80 </script>";
  const char *fname = "consulta \xc3\xa1\xc3\xa9\xc3\xad.m4a";
  scribe_record_meta m = {.patient_id = pid, .owner = "dr \xc3\xb8", .filename = fname};
  assert_int_equal(scribe_results_insert(f->r, "u", &m), SCRIBE_OK);
  const char *reason = "decoder said: \"bad\\header\"\n\x01\x1f";
  assert_int_equal(scribe_results_set_status(f->r, "u", SCRIBE_STATUS_FAILED, -1, reason), 0);
  json_t *doc;
  assert_int_equal(scribe_results_get(f->r, "u", &doc), SCRIBE_OK);
  assert_string_equal(sget(doc, "patient_id"), pid);
  assert_string_equal(sget(doc, "filename"), fname);
  assert_string_equal(sget(doc, "error"), reason);
  /* It serialises to valid JSON that parses back to the same values. */
  char *text = json_dumps(doc, JSON_COMPACT);
  json_error_t e;
  json_t *back = json_loads(text, 0, &e);
  assert_non_null(back);
  assert_true(json_equal(doc, back));
  json_decref(back);
  free(text);
  json_decref(doc);

  json_t *fields = json_object();
  json_object_set_new(fields, "transcript",
                      json_string("Patient \xe2\x80\x9c" "feels\xe2\x80\x9d \\ok\\ \x7f \xc2\xb5g"));
  json_object_set_new(fields, "nul", json_stringn("a\0b", 3));
  json_object_set_new(fields, "\xc3\xa9t\xc3\xa9", json_integer(1));
  assert_int_equal(scribe_results_put_result(f->r, "u", fields), SCRIBE_OK);
  assert_int_equal(scribe_results_get(f->r, "u", &doc), SCRIBE_OK);
  assert_true(json_equal(json_object_get(doc, "transcript"), json_object_get(fields, "transcript")));
  assert_true(json_equal(json_object_get(doc, "nul"), json_object_get(fields, "nul")));
  assert_int_equal(json_integer_value(json_object_get(doc, "\xc3\xa9t\xc3\xa9")), 1);
  json_decref(doc);
  json_decref(fields);

  /* Invalid UTF-8: refused in metadata, repaired in error reasons. */
  scribe_record_meta bad = {.patient_id = "bad\xff\xfe"};
  assert_int_equal(scribe_results_insert(f->r, "bad-utf8", &bad), SCRIBE_EINVAL);
  assert_int_equal(scribe_results_set_status(f->r, "u", SCRIBE_STATUS_FAILED, -1, "x\xc3(y"), 0);
  assert_int_equal(scribe_results_get(f->r, "u", &doc), SCRIBE_OK);
  assert_string_equal(sget(doc, "error"), "x\xef\xbf\xbd(y");
  json_decref(doc);
}

typedef struct hammer {
  const fixture *f;
  int id;
  int errors;
} hammer;

static void *hammer_thread(void *arg) {
  hammer *h = arg;
  scribe_results *r = open_results(h->f);
  if (!r) {
    h->errors++;
    return NULL;
  }
  for (int i = 0; i < 25; i++) {
    char key[32];
    snprintf(key, sizeof(key), "h%d-%d", h->id, i);
    int rc;
    while ((rc = scribe_results_insert(r, key, NULL)) == SCRIBE_EAGAIN) {
    }
    if (rc) h->errors++;
    while ((rc = scribe_results_set_status(r, key, SCRIBE_STATUS_QUEUED, 10, NULL)) ==
           SCRIBE_EAGAIN) {
    }
    if (rc) h->errors++;
    json_t *doc = NULL;
    while ((rc = scribe_results_get(r, key, &doc)) == SCRIBE_EAGAIN) {
    }
    if (rc || strcmp(sget(doc, "status"), "queued") != 0) h->errors++;
    json_decref(doc);
  }
  scribe_results_free(r);
  return NULL;
}

/* Several handles (as several processes would) on one store. */
static void test_concurrent_handles(void **state) {
  fixture *f = *state;
  hammer h[4];
  pthread_t t[4];
  for (int i = 0; i < 4; i++) {
    h[i] = (hammer){.f = f, .id = i};
    assert_int_equal(pthread_create(&t[i], NULL, hammer_thread, &h[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(h[i].errors, 0);
  }
  json_t *items;
  char *next;
  assert_int_equal(scribe_results_list(f->r, SCRIBE_STATUS_QUEUED, NULL, 500, &items, &next), 0);
  assert_int_equal(json_array_size(items), 100);
  json_decref(items);
}

/* The lead runs the queue and the results store on one database file:
 * their tables and schema versions must coexist (sqlite only). */
static void test_shared_database(void **state) {
  fixture *f = *state;
  if (strcmp(g_backend, "sqlite") != 0) skip();
  scribe_queue_params qp = scribe_queue_default_params();
  qp.path = f->path;
  char err[256];
  scribe_queue *q = scribe_queue_create("sqlite", &qp, err, sizeof(err));
  assert_non_null(q);
  for (int round = 0; round < 2; round++) {
    char key[16];
    snprintf(key, sizeof(key), "shared-%d", round);
    assert_int_equal(scribe_results_insert(f->r, key, NULL), SCRIBE_OK);
    bool created = false;
    assert_int_equal(scribe_queue_push(q, key, 0, &created), SCRIBE_OK);
    assert_true(created);
    assert_int_equal(scribe_results_set_status(f->r, key, SCRIBE_STATUS_QUEUED, 0, NULL), 0);
    scribe_job j;
    assert_int_equal(scribe_queue_claim(q, 60000, &j), SCRIBE_OK);
    assert_string_equal(j.key, key);
    json_t *fields = json_pack("{s:s}", "transcript", "ok");
    assert_int_equal(scribe_results_put_result(f->r, key, fields), SCRIBE_OK);
    json_decref(fields);
    assert_int_equal(scribe_queue_complete(q, &j), SCRIBE_OK);
    /* Reopen both, in the other order, on the same file. */
    scribe_queue_free(q);
    scribe_results_free(f->r);
    q = scribe_queue_create("sqlite", &qp, err, sizeof(err));
    assert_non_null(q);
    f->r = open_results(f);
    assert_non_null(f->r);
  }
  scribe_queue_stats st;
  assert_int_equal(scribe_queue_stats_get(q, &st), SCRIBE_OK);
  assert_int_equal(st.done, 2);
  json_t *items;
  char *next;
  assert_int_equal(scribe_results_list(f->r, SCRIBE_STATUS_COMPLETED, NULL, 10, &items, &next), 0);
  assert_int_equal(json_array_size(items), 2);
  json_decref(items);
  scribe_queue_free(q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_status_names, setup, teardown),
      cmocka_unit_test_setup_teardown(test_insert_get, setup, teardown),
      cmocka_unit_test_setup_teardown(test_status_transitions, setup, teardown),
      cmocka_unit_test_setup_teardown(test_put_result_merge, setup, teardown),
      cmocka_unit_test_setup_teardown(test_list_pagination, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_cursor, setup, teardown),
      cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stamp, setup, teardown),
      cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unicode, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_handles, setup, teardown),
      cmocka_unit_test_setup_teardown(test_shared_database, setup, teardown),
  };
  g_root = tu_mkdtemp("results-contract");
  if (!g_root) return 1;
  char names[256], path[600];
  const char *list[16];
  scribe_results_names(names, sizeof(names));
  int n = tu_split_names(names, list, 16), failed = 0;
  for (int i = 0; i < n; i++) {
    scribe_results_params p;
    if (!make_params(list[i], g_root, path, sizeof(path), &p)) {
      fprintf(stderr, "# results backend %s: no test parameters, skipped\n", list[i]);
      continue;
    }
    g_backend = list[i];
    failed += cmocka_run_group_tests_name(list[i], tests, NULL, NULL);
  }
  tu_rmtree(g_root);
  free(g_root);
  return failed ? 1 : 0;
}
