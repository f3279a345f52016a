/* test_extract_regional.c - UK / Australian / New Zealand phrasings and the
 * general rules added for them (reactions, "I can't take", free "Any X?" /
 * "No." findings, unpunctuated finding lists, follow-up wording, notes).
 * Every transcript here was written for this test. */
#include "test_extract_helpers.h"

static const char *str(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

static void allergy(const char *text, const char *substance, bool want) {
  json_t *r = run(text);
  expect_item(r, "allergies", "substance", substance, want, text);
  json_decref(r);
}

static void test_reactions(void **state) {
  (void)state;
  allergy("Patient: Amoxicillin brings me out in hives.\n", "amoxicillin", true);
  allergy("Patient: I come out in a rash with penicillin.\n", "penicillin", true);
  allergy("Patient: I can't take codeine, it makes me really sick.\n", "codeine", true);
  allergy("Patient: Ibuprofen doesn't agree with me.\n", "ibuprofen", true);
  allergy("Doctor: You get itching with the trimethoprim?\nPatient: That's right.\n",
          "trimethoprim", true);
  allergy("Doctor: You get itching with the trimethoprim?\nPatient: No, that was someone else.\n",
          "trimethoprim", false);
  /* treating, not causing */
  allergy("Doctor: Put the hydrocortisone cream on the rash twice a day.\n", "hydrocortisone", false);
  allergy("Patient: The rash got better with the hydrocortisone.\n", "hydrocortisone", false);
  allergy("Patient: I was lifting hay and broke out in a sweat.\n", "pollen", false);
  allergy("Patient: Penicillin never gave me a rash.\n", "penicillin", false);
  /* a substance no lexicon knows, inside an allergy list */
  allergy("Doctor: You're allergic to penicillin and zorbicane.\n", "zorbicane", true);
  allergy("Doctor: You're allergic to penicillin and that's it.\n", "that", false);
  /* allergic substances are not current medications */
  json_t *r = run("Patient: Amoxicillin brings me out in hives.\n");
  json_t *m = find_item(r, "medications", "name", "amoxicillin");
  assert_non_null(m);
  assert_string_equal(str(m, "status"), "allergic");
  json_t *a = find_item(r, "allergies", "substance", "amoxicillin");
  assert_string_equal(str(a, "reaction"), "hives");
  json_decref(r);
  r = run("Doctor: Any allergies?\nPatient: NKDA.\n");
  assert_string_equal(str(r, "allergies_stated"), "none");
  json_decref(r);
}

static void test_free_findings(void **state) {
  (void)state;
  neg("Doctor: Any other episodes since then?\nPatient: No.\n", "other episodes", true);
  neg("Doctor: Any funny turns?\nPatient: No.\n", "syncope", true);
  neg("Doctor: And no further flare ups?\nPatient: No.\n", "further flare ups", true);
  neg("Doctor: Have you ever injured this knee before?\nPatient: No.\n", "previous injury", true);
  /* unlabeled, lower case */
  neg("and no further flare ups\nno\n", "further flare ups", true);
  /* not findings */
  neg("Doctor: Any questions?\nPatient: No.\n", "questions", false);
  neg("Doctor: Any other concerns today?\nPatient: No.\n", "other concerns today", false);
  neg("Doctor: Any problems with that?\nPatient: No.\n", "problems", false);
  /* answered yes: nothing denied */
  neg("Doctor: Any other episodes?\nPatient: Yes, two.\n", "other episodes", false);
}

static void test_uk_findings(void **state) {
  (void)state;
  neg("Doctor: Any pins and needles?\nPatient: No.\n", "tingling", true);
  neg("Doctor: Any problems with your waterworks?\nPatient: No.\n", "bladder problems", true);
  neg("Doctor: Any stinging when you wee?\nPatient: No.\n", "dysuria", true);
  neg("Doctor: Any blood in your poo?\nPatient: Nope.\n", "blood in stool", true);
  neg("Doctor: Have you been sick at all?\nPatient: No.\n", "vomiting", true);
  neg("Doctor: Any trouble lying flat?\nPatient: No.\n", "orthopnea", true);
  neg("Patient: I've never had a kidney stone.\n", "previous kidney stone", true);
  /* the finding is named with its site in the evidence */
  json_t *r = run("Doctor: Any tingling down your legs?\nPatient: No.\n");
  json_t *n = find_item(r, "negations", "finding", "tingling");
  assert_non_null(n);
  assert_string_equal(str(json_object_get(n, "evidence"), "text"), "tingling down your legs");
  json_decref(r);
  /* an unpunctuated turn that only lists findings is a question */
  r = run("nausea vomiting diarrhoea\nno\n");
  expect_item(r, "negations", "finding", "nausea", true, "list");
  expect_item(r, "negations", "finding", "vomiting", true, "list");
  expect_item(r, "negations", "finding", "diarrhea", true, "list");
  json_decref(r);
  /* a hypothetical word inside the question does not undo the answer */
  neg("Doctor: Anything I might be missing? Nausea?\nPatient: No.\n", "nausea", true);
  /* "no worries" denies nothing */
  r = run("Patient: No worries, I'll get the salbutamol script from the chemist.\n");
  assert_non_null(find_item(r, "medications", "name", "albuterol"));
  json_decref(r);
}

static void followup(const char *text, int lo, int hi) {
  json_t *r = run(text);
  json_t *iv = json_object_get(r, "follow_up_interval");
  if (!json_is_object(iv)) fail_msg("no interval: %s", text);
  if (json_integer_value(json_object_get(iv, "min_days")) != lo ||
      json_integer_value(json_object_get(iv, "max_days")) != hi)
    fail_msg("interval %lld-%lld, want %d-%d: %s",
             (long long)json_integer_value(json_object_get(iv, "min_days")),
             (long long)json_integer_value(json_object_get(iv, "max_days")), lo, hi, text);
  json_decref(r);
}

static void test_followup(void **state) {
  (void)state;
  followup("Doctor: Pop back and see me in a fortnight.\n", 14, 14);
  followup("Doctor: We'll do some bloods and review in three to five days.\n", 3, 5);
  followup("Doctor: It should settle in the next week or so. If it's no better, come back and "
           "see us.\n",
           5, 10);
  followup("Doctor: I'll be in touch with you in ... in a day or two.\n", 1, 2);
  followup("Doctor: Thanks for coming in today. Take it once a day and see how you go. Book a "
           "review in four weeks.\n",
           28, 28);
  followup("Doctor: He's a 59 year old man here for follow-up. Come back in two weeks.\n", 14, 14);
  followup("i'll see you back in a month\n", 28, 31);
}

static void test_notes(void **state) {
  (void)state;
  json_t *r = run("Doctor: Any chest pain?\nPatient: No.\nDoctor: Any allergies?\n"
                  "Patient: Penicillin brings me out in hives.\nDoctor: I think this is a chest "
                  "infection. I'll prescribe doxycycline 100 mg once a day. Review in a fortnight.\n");
  const char *n = str(r, "notes");
  assert_non_null(n);
  assert_non_null(strstr(n, "Impression: pneumonia."));
  assert_non_null(strstr(n, "doxycycline 100 mg once a day (prescribed)"));
  assert_non_null(strstr(n, "Allergies: penicillin (hives)"));
  assert_non_null(strstr(n, "Denies: chest pain."));
  assert_non_null(strstr(n, "Follow-up: 14 days."));
  json_decref(r);
  r = run("Doctor: Hello.\n");
  assert_true(json_is_null(json_object_get(r, "notes")));
  json_decref(r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reactions),     cmocka_unit_test(test_free_findings),
      cmocka_unit_test(test_uk_findings),   cmocka_unit_test(test_followup),
      cmocka_unit_test(test_notes),
  };
  return cmocka_run_group_tests(tests, setup_x, teardown_x);
}
