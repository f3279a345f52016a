/*
 * results_util.h - what the results backends share: UTF-8 checks, the
 * JSON pieces of the merged document, and the opaque list cursor.
 * Internal to the results layer.
 */
#ifndef SCRIBE_RESULTS_UTIL_H
#define SCRIBE_RESULTS_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define SCRIBE_RESULTS_CURSOR_MAX 2048

/* True when s is well-formed UTF-8 (no overlong forms or surrogates). */
bool scribe_results_utf8_valid(const char *s);
/* Copy of s with ill-formed bytes replaced by U+FFFD; caller free()s;
 * NULL when out of memory. */
char *scribe_results_utf8_repair(const char *s);
/* JSON string of a column value (repaired if needed), or null. */
json_t *scribe_results_json_text(const unsigned char *s);
/* RFC 3339 UTC time with milliseconds. */
json_t *scribe_results_json_time(int64_t ms);
/* Sets name to value in obj (stealing value): SCRIBE_OK or SCRIBE_ENOMEM. */
int scribe_results_put(json_t *obj, const char *name, json_t *value);
/* Opaque cursor for (created_at_ms, key); caller free()s; NULL on OOM. */
char *scribe_results_cursor_encode(int64_t ms, const char *key);
/* Parses a cursor (key has SCRIBE_STORAGE_KEY_MAX + 1 bytes);
 * SCRIBE_EINVAL when malformed. */
int scribe_results_cursor_decode(const char *cur, int64_t *ms, char *key);

/* Copies the members of a stored result document (JSON text of len
 * bytes) into merged, skipping the column-backed names (audio_key, status,
 * …) which the columns own.  A stored text that is not an object is logged
 * (as `who`) and skipped.  SCRIBE_OK or SCRIBE_ENOMEM. */
int scribe_results_merge_stored(json_t *merged, const char *text, size_t len, const char *who);

#endif
