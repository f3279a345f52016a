/* test_extract_dosing.c - frequencies and durations. */
#include "test_extract_parsers.h"

static void freq_ok(const char *s, const char *want, bool want_prn) {
  char out[64] = "";
  bool prn = false;
  if (!xr_str_freq(g_lx, s, out, sizeof(out), &prn) || strcmp(out, want) != 0 || prn != want_prn)
    fail_msg("frequency \"%s\": got \"%s\" prn=%d, want \"%s\" prn=%d", s, out, prn, want, want_prn);
}

static void test_frequencies(void **state) {
  (void)state;
  freq_ok("twice a day", "twice a day", false);
  freq_ok("Twice daily", "twice a day", false);
  freq_ok("BD", "twice a day", false);
  freq_ok("bid", "twice a day", false);
  freq_ok("TDS", "three times a day", false);
  freq_ok("three times a day", "three times a day", false);
  freq_ok("3 times a day", "3 times a day", false);
  freq_ok("QDS", "four times a day", false);
  freq_ok("once a day", "once a day", false);
  freq_ok("daily", "once a day", false);
  freq_ok("every day", "once a day", false);
  freq_ok("a day", "once a day", false);
  freq_ok("at night", "at night", false);
  freq_ok("at bedtime", "at bedtime", false);
  freq_ok("nocte", "at night", false);
  freq_ok("in the morning", "in the morning", false);
  freq_ok("every four to six hours", "every 4-6 hours", false);
  freq_ok("every 6 hours", "every 6 hours", false);
  freq_ok("every eight hours", "every 8 hours", false);
  freq_ok("q6h", "every 6 hours", false);
  freq_ok("once a week", "once a week", false);
  freq_ok("twice a week", "twice a week", false);
  freq_ok("2 times per week", "twice a week", false);
  freq_ok("as needed", "as needed", true);
  freq_ok("PRN", "as needed", true);
  freq_ok("as required", "as needed", true);
  freq_ok("when needed", "as needed", true);
  char out[64];
  bool prn;
  assert_false(xr_str_freq(g_lx, "two weeks", out, sizeof(out), &prn));
  assert_false(xr_str_freq(g_lx, "every", out, sizeof(out), &prn));
}

static void dur_ok(const char *s, const char *want) {
  char out[64] = "";
  if (!xr_str_duration(g_lx, s, out, sizeof(out)) || strcmp(out, want) != 0)
    fail_msg("duration \"%s\": got \"%s\", want \"%s\"", s, out, want);
}

static void test_durations(void **state) {
  (void)state;
  dur_ok("for seven days", "7 days");
  dur_ok("for 7 days", "7 days");
  dur_ok("for a week", "1 week");
  dur_ok("for two weeks", "2 weeks");
  dur_ok("for the next ten days", "10 days");
  dur_ok("a two-week course", "2 weeks");
  dur_ok("a 10 day course", "10 days");
  dur_ok("five day course", "5 days");
  dur_ok("for three months", "3 months");
  dur_ok("a week's supply", "1 week");
  char out[64];
  /* a bare interval is not a duration (it may be a follow-up) */
  assert_false(xr_str_duration(g_lx, "two weeks", out, sizeof(out)));
  assert_false(xr_str_duration(g_lx, "for now", out, sizeof(out)));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_frequencies),
      cmocka_unit_test(test_durations),
  };
  return cmocka_run_group_tests(tests, setup_lex, teardown_lex);
}
