/*
 * error.h - the one error space of Scribe.
 *
 * Every fallible function returns int: SCRIBE_OK (0) or a negative SCRIBE_E*
 * code from the table below.  Backends translate library errors (errno,
 * SQLite, libpq, libcurl, FFmpeg) into these codes at their boundary; callers
 * never see raw library codes.
 *
 * The worker's retry policy depends on one distinction: transient errors
 * (scribe_err_transient() is true) are retried with backoff, every other
 * error fails the job at once with a reason the user sees.
 */
#ifndef SCRIBE_ERROR_H
#define SCRIBE_ERROR_H

#include <stdbool.h>

/* X(NAME, value, transient, message) */
#define SCRIBE_ERROR_MAP(X)                                                   \
  X(OK, 0, 0, "success")                                                      \
  X(NOMEM, -1, 1, "out of memory")                                            \
  X(INVAL, -2, 0, "invalid argument")                                         \
  X(NOTFOUND, -3, 0, "not found")                                             \
  X(EXISTS, -4, 0, "already exists")                                          \
  X(IO, -5, 1, "input/output error")                                          \
  X(TOOBIG, -6, 0, "too large")                                               \
  X(AGAIN, -7, 1, "temporarily unavailable, try again")                       \
  X(TIMEOUT, -8, 1, "timed out")                                              \
  X(UNAVAILABLE, -9, 1, "backend unavailable")                                \
  X(BADAUDIO, -10, 0, "audio could not be decoded")                           \
  X(NOAUDIO, -11, 0, "no audio in input")                                     \
  X(TOOLONG, -12, 0, "audio longer than the configured limit")                \
  X(CANCELED, -13, 0, "canceled")                                             \
  X(CONFIG, -14, 0, "invalid configuration")                                  \
  X(PARSE, -15, 0, "malformed input")                                         \
  X(FORBIDDEN, -16, 0, "forbidden")                                           \
  X(EXPIRED, -17, 0, "expired")                                               \
  X(BADKEY, -18, 0, "invalid key")                                            \
  X(INTERNAL, -19, 0, "internal error")

typedef enum scribe_err {
#define SCRIBE_X(name, value, transient, msg) SCRIBE_E##name = (value),
  SCRIBE_ERROR_MAP(SCRIBE_X)
#undef SCRIBE_X
} scribe_err;

#define SCRIBE_OK SCRIBE_EOK

/* Human-readable message for an error code; never NULL. */
const char *scribe_strerror(int err);
/* Symbolic name ("SCRIBE_ENOTFOUND"); never NULL. */
const char *scribe_err_name(int err);
/* Short lower-case code for API bodies ("not_found", "bad_audio"). */
const char *scribe_err_code(int err);
/* True for errors worth retrying later (I/O, timeouts, unavailable). */
bool scribe_err_transient(int err);

#endif
