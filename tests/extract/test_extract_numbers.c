/* test_extract_numbers.c - spoken numbers and doses/strengths. */
#include "test_extract_parsers.h"

static void num_ok(const char *s, double want) {
  double v = -1;
  if (!xr_str_number(g_lx, s, &v) || v < want - 1e-9 || v > want + 1e-9)
    fail_msg("number \"%s\": got %g, want %g", s, v, want);
}

static void num_bad(const char *s) {
  double v;
  if (xr_str_number(g_lx, s, &v)) fail_msg("\"%s\" parsed as %g", s, v);
}

static void test_numbers(void **state) {
  (void)state;
  num_ok("five", 5);
  num_ok("five hundred", 500);
  num_ok("Five Hundred", 500);
  num_ok("five hundred and twenty", 520);
  num_ok("twenty-five", 25);
  num_ok("twenty five", 25);
  num_ok("forty", 40);
  num_ok("one and a half", 1.5);
  num_ok("two and a half", 2.5);
  num_ok("a half", 0.5);
  num_ok("half", 0.5);
  num_ok("0.5", 0.5);
  num_ok("12.5", 12.5);
  num_ok("1,000", 1000);
  num_ok("one thousand", 1000);
  num_ok("two thousand five hundred", 2500);
  num_ok("a hundred", 100);
  num_ok("twelve hundred", 1200);
  num_ok("zero point five", 0.5);
  num_ok("two point five", 2.5);
  num_ok("1/2", 0.5);
  num_ok("2 and a half", 2.5);
  num_ok("nineteen", 19);
  num_bad("pain");
  num_bad("a");
  num_bad("");
  /* does not run two numbers together */
  num_bad("five six");
  num_bad("twenty thirty");
}

static void dose_ok(const char *s, const char *want) {
  char out[64] = "";
  if (!xr_str_dose(g_lx, s, out, sizeof(out)) || strcmp(out, want) != 0)
    fail_msg("dose \"%s\": got \"%s\", want \"%s\"", s, out, want);
}

static void test_doses(void **state) {
  (void)state;
  dose_ok("500 mg", "500 mg");
  dose_ok("500mg", "500 mg");
  dose_ok("five hundred milligrams", "500 mg");
  dose_ok("0.5 mg", "0.5 mg");
  dose_ok("twenty-five micrograms", "25 mcg");
  dose_ok("two puffs", "2 puffs");
  dose_ok("one tablet", "1 tablet");
  dose_ok("a tablet", "1 tablet");
  dose_ok("one and a half tablets", "1.5 tablets");
  dose_ok("half a tablet", "0.5 tablet");
  dose_ok("10 units", "10 units");
  dose_ok("two patches", "2 patches");
  dose_ok("5 ml", "5 ml");
  dose_ok("1 gram", "1 g");
  dose_ok("0.05%", "0.05%");
  char out[64];
  assert_false(xr_str_dose(g_lx, "five days", out, sizeof(out)));
  assert_false(xr_str_dose(g_lx, "mg", out, sizeof(out)));
  assert_false(xr_str_dose(g_lx, "two weeks", out, sizeof(out)));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_doses),
  };
  return cmocka_run_group_tests(tests, setup_lex, teardown_lex);
}
