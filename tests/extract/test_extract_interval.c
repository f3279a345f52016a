/* test_extract_interval.c - follow-up intervals in days. */
#include "test_extract_parsers.h"

static void iv_ok(const char *s, int lo, int hi) {
  int a = -1, b = -1;
  if (!xr_str_interval(g_lx, s, &a, &b) || a != lo || b != hi)
    fail_msg("interval \"%s\": got %d..%d, want %d..%d", s, a, b, lo, hi);
}

static void test_intervals(void **state) {
  (void)state;
  iv_ok("come back in two weeks", 14, 14);
  iv_ok("come back in 2 weeks", 14, 14);
  iv_ok("review in three to five days if it's not better", 3, 5);
  iv_ok("review in 3-5 days", 3, 5);
  iv_ok("see you next month", 28, 31);
  iv_ok("in a month", 28, 31);
  iv_ok("in a month's time", 28, 31);
  iv_ok("follow up in three months", 84, 93);
  iv_ok("see you next week", 5, 10);
  iv_ok("in about a week", 5, 10);
  iv_ok("in a week or so", 5, 10);
  iv_ok("in a week", 7, 7);
  iv_ok("in a few days", 1, 5);
  iv_ok("same day", 0, 0);
  iv_ok("go to A&E", 0, 0);
  iv_ok("go to a and e", 0, 0);
  iv_ok("today", 0, 0);
  iv_ok("tomorrow", 1, 1);
  iv_ok("in a fortnight", 14, 14);
  iv_ok("in six weeks", 42, 42);
  iv_ok("in 6/52", 42, 42);
  iv_ok("in one to two weeks", 7, 14);
  iv_ok("in a week or two", 7, 14);
  iv_ok("in 48 hours", 2, 2);
  iv_ok("in a year", 365, 365);
  iv_ok("in twenty-one days", 21, 21);
  iv_ok("in a couple of weeks", 14, 14);
  int a, b;
  assert_false(xr_str_interval(g_lx, "come back if it gets worse", &a, &b));
  assert_false(xr_str_interval(g_lx, "two tablets", &a, &b));
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_intervals)};
  return cmocka_run_group_tests(tests, setup_lex, teardown_lex);
}
