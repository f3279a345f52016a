/*
 * contract_util.h - small helpers shared by the layer contract suites
 * (tests/storage, tests/queue, tests/results, tests/notify): temporary
 * directories under $SCRIBE_TEST_TMP, backend name lists, clocks.
 * Header-only (static functions) so each test program stays one file.
 */
#ifndef SCRIBE_TEST_CONTRACT_UTIL_H
#define SCRIBE_TEST_CONTRACT_UTIL_H

#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A fresh directory "<$SCRIBE_TEST_TMP or /tmp>/<prefix>-XXXXXX"; the caller
 * free()s the path and removes the tree with tu_rmtree().  NULL on error. */
static inline char *tu_mkdtemp(const char *prefix) {
  const char *base = getenv("SCRIBE_TEST_TMP");
  if (!base || !base[0]) base = "/tmp";
  mkdir(base, 0700); /* may exist */
  size_t n = strlen(base) + strlen(prefix) + 16;
  char *path = malloc(n);
  if (!path) return NULL;
  snprintf(path, n, "%s/%s-XXXXXX", base, prefix);
  if (!mkdtemp(path)) {
    fprintf(stderr, "mkdtemp %s: %s\n", path, strerror(errno));
    free(path);
    return NULL;
  }
  return path;
}

static inline int tu_rm_entry(const char *path, const struct stat *st, int flag,
                              struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  remove(path);
  return 0;
}

static inline void tu_rmtree(const char *path) {
  if (path) nftw(path, tu_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Splits a "a, b, c" list (as the *_names() functions write it) in place;
 * returns how many names were stored in out[0..max). */
static inline int tu_split_names(char *list, const char **out, int max) {
  int n = 0;
  char *save = NULL;
  for (char *t = strtok_r(list, ", ", &save); t && n < max; t = strtok_r(NULL, ", ", &save))
    out[n++] = t;
  return n;
}

static inline int64_t tu_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void tu_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* Resident set size of this process in KiB, -1 when unknown. */
static inline long tu_rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long kb = -1;
  while (fgets(line, sizeof(line), f))
    if (strncmp(line, "VmRSS:", 6) == 0) {
      kb = strtol(line + 6, NULL, 10);
      break;
    }
  fclose(f);
  return kb;
}

#endif
