/* test_extract_parsers.h - shared fixture for the parser tests. */
#ifndef TEST_EXTRACT_PARSERS_H
#define TEST_EXTRACT_PARSERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "extract/rules.h"

static xr_lex *g_lx;

static inline int setup_lex(void **state) {
  (void)state;
  char err[256];
  g_lx = xr_lex_load(NULL, err, sizeof(err));
  if (!g_lx) fprintf(stderr, "lexicon: %s\n", err);
  return g_lx ? 0 : -1;
}

static inline int teardown_lex(void **state) {
  (void)state;
  xr_lex_free(g_lx);
  return 0;
}

#endif
