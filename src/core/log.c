#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int scribe_log_threshold = SCRIBE_LOG_INFO;

static const char *const names[] = {"debug", "info", "warn", "error", "off"};

int scribe_log_level_parse(const char *s) {
  for (int i = 0; i < 5; i++)
    if (s && strcmp(s, names[i]) == 0) return i;
  return -1;
}

void scribe_log_set_level(int level) {
  if (level >= SCRIBE_LOG_DEBUG && level <= SCRIBE_LOG_OFF)
    scribe_log_threshold = level;
}

void scribe_log_write(int level, const char *fmt, ...) {
  char line[1024];
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                   tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L,
                   names[level < 0 || level > 3 ? 3 : level]);
  if (n < 0) return;
  size_t used = (size_t)n;
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + used, sizeof(line) - used - 1, fmt, ap);
  va_end(ap);
  if (m < 0) return;
  used += (size_t)m;
  if (used > sizeof(line) - 2) used = sizeof(line) - 2;
  /* one line per event: replace embedded newlines */
  for (size_t i = 0; i < used; i++)
    if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
  line[used++] = '\n';
  ssize_t w = write(STDERR_FILENO, line, used);
  (void)w;
}
