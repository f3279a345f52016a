/* test_extract_negation.c - negation scope (NegEx/ConText) and the dialogue rule. */
#include "test_extract_helpers.h"

static void test_scope(void **state) {
  (void)state;
  const char *t = "Patient: No chest pain or shortness of breath.";
  neg(t, "chest pain", true);
  neg(t, "shortness of breath", true);
  neg("Patient: I deny any fever, chills, nausea or vomiting.", "vomiting", true);
  neg("Patient: I haven't had any headaches.", "headache", true);
  neg("Patient: I've had no problems with my vision.", "vision changes", false);
  neg("Doctor: She denies dysuria.", "dysuria", true);
  neg("Doctor: Chest pain: denied.", "chest pain", true);
  /* terminators end the scope */
  t = "Patient: No fever but I do have a cough.";
  neg(t, "fever", true);
  neg(t, "cough", false);
  neg("Patient: Not really, however the headaches are bad.", "headache", false);
  /* pseudo-triggers do not negate */
  neg("Patient: There's no increase in the swelling of my legs.", "leg swelling", false);
  neg("Patient: It's not only the cough, I have a fever too.", "cough", false);
  neg("Patient: The cough is not getting better.", "cough", false);
  /* scope window: far-away findings are not negated */
  neg("Patient: No, I went to the shop yesterday and then in the evening I had a headache.",
      "headache", false);
  /* hypothetical is not a denial */
  neg("Doctor: If you get chest pain, call an ambulance.", "chest pain", false);
  /* unlabeled lower case without punctuation */
  neg("no chest pain or shortness of breath", "shortness of breath", true);
  neg("i have not had any fevers", "fever", true);
  neg("i don't have any nausea", "nausea", true);
}

static void test_dialogue(void **state) {
  (void)state;
  const char *t = "Doctor: Any chest pain?\nPatient: No.";
  neg(t, "chest pain", true);
  t = "Doctor: Okay. Have you had any fevers or chills?\nPatient: No, nothing like that.";
  neg(t, "fever", true);
  neg(t, "chills", true);
  t = "Doctor: Any nausea or vomiting?\nPatient: Yes, some nausea.";
  neg(t, "nausea", false);
  neg(t, "vomiting", false);
  /* "no" but the finding is named in the answer */
  t = "Doctor: Any cough or fever?\nPatient: No fever, but I do have a cough.";
  neg(t, "fever", true);
  neg(t, "cough", false);
  /* unlabeled, no question mark: the next line answers */
  t = "any burning when you pee\nno";
  neg(t, "dysuria", true);
  /* the answer must come from the other speaker */
  t = "Doctor: Any headaches?\nDoctor: No, let me check your blood pressure.";
  neg(t, "headache", false);
  /* family history */
  t = "Doctor: Any family history of heart disease?\nPatient: No.";
  neg(t, "family history of coronary artery disease", true);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scope),
      cmocka_unit_test(test_dialogue),
  };
  return cmocka_run_group_tests(tests, setup_x, teardown_x);
}
