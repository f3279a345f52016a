/* test_extract_e2e.c - end to end on small transcripts written for this test
 * (labelled, and unlabeled lower case without punctuation). */
#include <pthread.h>

#include "test_extract_helpers.h"

static const char *UK =
    "Doctor: Hello, what brings you in today?\n"
    "Patient: I've had a cough and a fever for about five days, and I feel short of breath.\n"
    "Doctor: Any chest pain?\n"
    "Patient: No.\n"
    "Doctor: Are you taking anything at the moment?\n"
    "Patient: I've been taking paracetamol, two tablets four times a day, and I use my blue inhaler.\n"
    "Doctor: Any allergies to medicines?\n"
    "Patient: Yes, I'm allergic to penicillin, I come out in a rash.\n"
    "Doctor: Your temperature is 38.5 and your oxygen saturation is 95 percent.\n"
    "Doctor: I think this is a chest infection. Because of the penicillin allergy I'll prescribe "
    "doxycycline 100 mg once a day for five days.\n"
    "Doctor: I'll also order a chest x-ray. If you get worse, go to A&E. Otherwise come back in "
    "two weeks.\n";

static void test_labelled(void **state) {
  (void)state;
  json_t *r = run(UK);
  json_t *m = find_item(r, "medications", "name", "doxycycline");
  assert_non_null(m);
  assert_string_equal(json_string_value(json_object_get(m, "status")), "prescribed");
  assert_string_equal(json_string_value(json_object_get(m, "dose")), "100 mg");
  assert_string_equal(json_string_value(json_object_get(m, "frequency")), "once a day");
  assert_string_equal(json_string_value(json_object_get(m, "duration")), "5 days");
  m = find_item(r, "medications", "name", "acetaminophen");
  assert_non_null(m);
  assert_string_equal(json_string_value(json_object_get(m, "text")), "paracetamol");
  assert_string_equal(json_string_value(json_object_get(m, "status")), "current");
  assert_string_equal(json_string_value(json_object_get(m, "dose")), "2 tablets");
  assert_string_equal(json_string_value(json_object_get(m, "frequency")), "four times a day");
  m = find_item(r, "medications", "name", "albuterol");
  assert_non_null(m);
  assert_string_equal(json_string_value(json_object_get(m, "text")), "blue inhaler");
  assert_string_equal(json_string_value(json_object_get(m, "route")), "inhaled");
  /* penicillin: allergy, not a medication taken */
  json_t *a = find_item(r, "allergies", "substance", "penicillin");
  assert_non_null(a);
  assert_string_equal(json_string_value(json_object_get(a, "reaction")), "rash");
  assert_string_equal(json_string_value(json_object_get(r, "allergies_stated")), "yes");
  m = find_item(r, "medications", "name", "penicillin");
  assert_non_null(m);
  assert_string_equal(json_string_value(json_object_get(m, "status")), "allergic");
  /* diagnosis */
  assert_string_equal(json_string_value(json_object_get(r, "diagnosis")), "pneumonia");
  json_t *d = find_item(r, "diagnoses", "name", "pneumonia");
  assert_non_null(d);
  assert_string_equal(json_string_value(json_object_get(d, "certainty")), "likely");
  /* follow-up: the planned review, not the safety-netting */
  json_t *iv = json_object_get(r, "follow_up_interval");
  assert_int_equal(json_integer_value(json_object_get(iv, "min_days")), 14);
  assert_int_equal(json_integer_value(json_object_get(iv, "max_days")), 14);
  assert_non_null(strstr(json_string_value(json_object_get(r, "follow_up")), "two weeks"));
  expect_item(r, "negations", "finding", "chest pain", true, UK);
  expect_item(r, "symptoms", "name", "cough", true, UK);
  expect_item(r, "symptoms", "name", "fever", true, UK);
  expect_item(r, "tasks", "text", "x-ray", true, UK);
  json_t *v = find_item(r, "vital_signs", "name", "temperature");
  assert_non_null(v);
  assert_string_equal(json_string_value(json_object_get(v, "value")), "38.5");
  v = find_item(r, "vital_signs", "name", "oxygen saturation");
  assert_non_null(v);
  assert_string_equal(json_string_value(json_object_get(v, "value")), "95");
  json_decref(r);
}

/* Evidence offsets are byte offsets into the segment (label included). */
static void test_evidence(void **state) {
  (void)state;
  const char *segs[] = {"Doctor: Any chest pain?", "Patient: No.",
                        "Doctor: Start metformin 500 mg twice daily, caf\xc3\xa9 aside."};
  json_t *r = NULL;
  char err[128];
  assert_int_equal(scribe_extract_segments(g_x, segs, 3, &r, err, sizeof(err)), 0);
  json_t *m = find_item(r, "medications", "name", "metformin");
  assert_non_null(m);
  json_t *ev = json_object_get(m, "evidence");
  json_int_t seg = json_integer_value(json_object_get(ev, "segment"));
  json_int_t st = json_integer_value(json_object_get(ev, "start_char"));
  json_int_t en = json_integer_value(json_object_get(ev, "end_char"));
  assert_int_equal(seg, 2);
  assert_int_equal(en - st, 9);
  assert_memory_equal(segs[2] + st, "metformin", 9);
  assert_string_equal(json_string_value(json_object_get(ev, "text")), "metformin");
  json_t *n = find_item(r, "negations", "finding", "chest pain");
  assert_non_null(n);
  ev = json_object_get(n, "evidence");
  assert_int_equal(json_integer_value(json_object_get(ev, "segment")), 0);
  assert_int_equal(json_integer_value(json_object_get(ev, "start_char")), 12);
  json_decref(r);
}

static const char *ASR =
    "what brings you in today\n"
    "i've been having really bad headaches for two weeks and some nausea\n"
    "any vomiting or vision changes\n"
    "no\n"
    "what have you tried\n"
    "i tried ibuprofen but it didn't help\n"
    "okay it sounds like migraine i'm going to start you on sumatriptan fifty milligrams as needed\n"
    "and i want you to come back in three to four weeks\n";

static void test_unlabeled(void **state) {
  (void)state;
  json_t *r = run(ASR);
  json_t *m = find_item(r, "medications", "name", "sumatriptan");
  assert_non_null(m);
  assert_string_equal(json_string_value(json_object_get(m, "status")), "prescribed");
  assert_string_equal(json_string_value(json_object_get(m, "dose")), "50 mg");
  assert_true(json_is_true(json_object_get(m, "as_needed")));
  m = find_item(r, "medications", "name", "ibuprofen");
  assert_non_null(m);
  assert_string_equal(json_string_value(json_object_get(m, "status")), "stopped");
  assert_string_equal(json_string_value(json_object_get(r, "diagnosis")), "migraine");
  expect_item(r, "negations", "finding", "vomiting", true, ASR);
  expect_item(r, "negations", "finding", "vision changes", true, ASR);
  expect_item(r, "negations", "finding", "nausea", false, ASR);
  json_t *iv = json_object_get(r, "follow_up_interval");
  assert_int_equal(json_integer_value(json_object_get(iv, "min_days")), 21);
  assert_int_equal(json_integer_value(json_object_get(iv, "max_days")), 28);
  json_decref(r);
}

static void test_statuses(void **state) {
  (void)state;
  const char *t =
      "Patient: I stopped taking the atorvastatin because of muscle aches.\n"
      "Doctor: You could try some loratadine for the hay fever.\n"
      "Patient: I don't want to take prednisone.\n"
      "Doctor: We'll increase your lisinopril to 20 mg daily.\n"
      "Patient: I'm not on any blood thinners.\n"
      "Doctor: Keep taking the metformin.\n";
  json_t *r = run(t);
  static const char *const want[][2] = {{"atorvastatin", "stopped"},  {"loratadine", "recommended"},
                                        {"prednisone", "declined"},   {"lisinopril", "prescribed"},
                                        {"metformin", "current"}};
  for (size_t i = 0; i < 5; i++) {
    json_t *m = find_item(r, "medications", "name", want[i][0]);
    if (!m) fail_msg("missing %s", want[i][0]);
    const char *st = json_string_value(json_object_get(m, "status"));
    if (strcmp(st, want[i][1]) != 0) fail_msg("%s: status %s, want %s", want[i][0], st, want[i][1]);
  }
  /* denied medication is not listed */
  expect_item(r, "medications", "name", "anticoagulant", false, t);
  json_decref(r);
}

static void test_homonyms_and_misspellings(void **state) {
  (void)state;
  /* "iron" the household item, a lookalike misspelling, a family member's drug */
  const char *t =
      "Patient: I burned my hand on the iron yesterday.\n"
      "Patient: My mother takes warfarin.\n"
      "Patient: I think it was called metforman or something.\n";
  json_t *r = run(t);
  expect_item(r, "medications", "name", "metformin", false, t);
  json_decref(r);
  /* class word not repeated when the named drug is there */
  t = "Doctor: I'll start you on a statin, atorvastatin 20 mg at night.\n";
  r = run(t);
  expect_item(r, "medications", "name", "atorvastatin", true, t);
  expect_item(r, "medications", "name", "statin", false, t);
  json_decref(r);
  /* no known allergies */
  r = run("Doctor: Any allergies?\nPatient: No known allergies.\n");
  assert_string_equal(json_string_value(json_object_get(r, "allergies_stated")), "none");
  assert_int_equal(json_array_size(json_object_get(r, "allergies")), 0);
  json_decref(r);
  r = run("Doctor: Any allergies to medication?\nPatient: No.\n");
  assert_string_equal(json_string_value(json_object_get(r, "allergies_stated")), "none");
  json_decref(r);
}

static void test_empty_and_errors(void **state) {
  (void)state;
  json_t *r = run("");
  assert_true(json_is_null(json_object_get(r, "diagnosis")));
  assert_int_equal(json_array_size(json_object_get(r, "medications")), 0);
  assert_true(json_is_null(json_object_get(r, "follow_up")));
  assert_true(json_is_null(json_object_get(r, "allergies_stated")));
  json_decref(r);
  char err[128];
  assert_int_equal(scribe_extract_segments(g_x, NULL, 1, &r, err, sizeof(err)), -2);
  assert_null(r);
  const char *segs[] = {NULL, "Doctor: \xff\xfe garbage \xe2\x80\x99s \xe2", ""};
  assert_int_equal(scribe_extract_segments(g_x, segs, 3, &r, err, sizeof(err)), 0);
  json_decref(r);
}

static void *worker(void *arg) {
  (void)arg;
  for (int i = 0; i < 50; i++) {
    json_t *r = NULL;
    char err[64];
    if (scribe_extract_text(g_x, UK, strlen(UK), &r, err, sizeof(err)) != 0) return (void *)1;
    json_t *m = find_item(r, "medications", "name", "doxycycline");
    int ok = m != NULL;
    json_decref(r);
    if (!ok) return (void *)1;
  }
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  pthread_t th[4];
  for (int i = 0; i < 4; i++) assert_int_equal(pthread_create(&th[i], NULL, worker, NULL), 0);
  for (int i = 0; i < 4; i++) {
    void *rv;
    pthread_join(th[i], &rv);
    assert_null(rv);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_labelled),         cmocka_unit_test(test_evidence),
      cmocka_unit_test(test_unlabeled),        cmocka_unit_test(test_statuses),
      cmocka_unit_test(test_homonyms_and_misspellings), cmocka_unit_test(test_empty_and_errors),
      cmocka_unit_test(test_threads),
  };
  return cmocka_run_group_tests(tests, setup_x, teardown_x);
}
