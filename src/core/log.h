/*
 * log.h - leveled, one-line-per-event logging to stderr.
 *
 * Never log transcripts, audio, patient identifiers, tokens or keys: log
 * ids, sizes, durations and error codes.  The macros check the level before
 * evaluating their arguments (as Redis's serverLog does).
 * Thread-safe: each line is written with a single write(2).
 */
#ifndef SCRIBE_LOG_H
#define SCRIBE_LOG_H

typedef enum {
  SCRIBE_LOG_DEBUG = 0,
  SCRIBE_LOG_INFO = 1,
  SCRIBE_LOG_WARN = 2,
  SCRIBE_LOG_ERROR = 3,
  SCRIBE_LOG_OFF = 4
} scribe_log_level;

extern int scribe_log_threshold;

/* Parses "debug|info|warn|error|off"; returns -1 when unknown. */
int scribe_log_level_parse(const char *s);
void scribe_log_set_level(int level);
void scribe_log_write(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define scribe_log(level, ...)                                      \
  do {                                                              \
    if ((level) >= scribe_log_threshold) scribe_log_write((level), __VA_ARGS__); \
  } while (0)

#define LOG_DEBUG(...) scribe_log(SCRIBE_LOG_DEBUG, __VA_ARGS__)
#define LOG_INFO(...) scribe_log(SCRIBE_LOG_INFO, __VA_ARGS__)
#define LOG_WARN(...) scribe_log(SCRIBE_LOG_WARN, __VA_ARGS__)
#define LOG_ERROR(...) scribe_log(SCRIBE_LOG_ERROR, __VA_ARGS__)

#endif
