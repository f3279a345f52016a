#include "results/results_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/log.h"
#include "storage/storage.h"

#define CURSOR_MAX SCRIBE_RESULTS_CURSOR_MAX

/* Length of the well-formed UTF-8 sequence at s (n bytes left), 0 when the
 * bytes there are not one (overlong forms, surrogates and values above
 * U+10FFFF included). */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  if (c < 0x80) return 1;
  size_t len;
  uint32_t cp, min;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2, cp = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, cp = c & 0x0F, min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

bool scribe_results_utf8_valid(const char *s) {
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    size_t k = utf8_seq((const unsigned char *)s + i, n - i);
    if (!k) return false;
    i += k;
  }
  return true;
}

/* Copy of s with every byte that is not part of a well-formed sequence
 * replaced by U+FFFD; the caller free()s it.  NULL when out of memory. */
char *scribe_results_utf8_repair(const char *s) {
  size_t n = strlen(s);
  if (n > (SIZE_MAX - 1) / 3) return NULL;
  char *out = malloc(3 * n + 1);
  if (!out) return NULL;
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    size_t k = utf8_seq((const unsigned char *)s + i, n - i);
    if (k) {
      memcpy(out + o, s + i, k);
      o += k;
      i += k;
    } else {
      memcpy(out + o, "\xEF\xBF\xBD", 3);
      o += 3;
      i++;
    }
  }
  out[o] = '\0';
  return out;
}

/* JSON string for a column value: null for NULL, repaired when needed. */
json_t *scribe_results_json_text(const unsigned char *s) {
  if (!s) return json_null();
  json_t *j = json_string((const char *)s);
  if (j) return j;
  char *fixed = scribe_results_utf8_repair((const char *)s);
  j = fixed ? json_string(fixed) : NULL;
  free(fixed);
  return j;
}

/* RFC 3339 UTC with milliseconds: 2024-05-01T12:34:56.789Z */
json_t *scribe_results_json_time(int64_t ms) {
  time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  int milli = (int)(ms - (int64_t)secs * 1000);
  struct tm tm;
  char buf[96]; /* room for any int the compiler can imagine */
  if (!gmtime_r(&secs, &tm)) return json_null();
  snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
  return json_string(buf);
}

/* Adds name=value to obj, stealing value; SCRIBE_ENOMEM on failure. */
int scribe_results_put(json_t *obj, const char *name, json_t *value) {
  if (!value) return SCRIBE_ENOMEM;
  return json_object_set_new(obj, name, value) == 0 ? SCRIBE_OK : SCRIBE_ENOMEM;
}

/* ---- cursors: base64url("<ms>:<key>") ---------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *scribe_results_cursor_encode(int64_t ms, const char *key) {
  char raw[32 + SCRIBE_STORAGE_KEY_MAX];
  int n = snprintf(raw, sizeof(raw), "%lld:%s", (long long)ms, key);
  if (n < 0 || (size_t)n >= sizeof(raw)) return NULL;
  size_t len = (size_t)n;
  char *out = malloc((len + 2) / 3 * 4 + 1);
  if (!out) return NULL;
  size_t o = 0;
  for (size_t i = 0; i < len; i += 3) {
    uint32_t v = (uint32_t)(unsigned char)raw[i] << 16;
    if (i + 1 < len) v |= (uint32_t)(unsigned char)raw[i + 1] << 8;
    if (i + 2 < len) v |= (unsigned char)raw[i + 2];
    out[o++] = b64[(v >> 18) & 63];
    out[o++] = b64[(v >> 12) & 63];
    if (i + 1 < len) out[o++] = b64[(v >> 6) & 63];
    if (i + 2 < len) out[o++] = b64[v & 63];
  }
  out[o] = '\0';
  return out;
}

static int b64_value(char c) {
  const char *p = c ? strchr(b64, c) : NULL;
  return p ? (int)(p - b64) : -1;
}

/* Parses a cursor into ms and key (key has SCRIBE_STORAGE_KEY_MAX+1 bytes).
 * SCRIBE_EINVAL for anything we did not produce. */
int scribe_results_cursor_decode(const char *cur, int64_t *ms, char *key) {
  size_t n = strnlen(cur, CURSOR_MAX + 1);
  if (n == 0 || n > CURSOR_MAX || n % 4 == 1) return SCRIBE_EINVAL;
  unsigned char raw[CURSOR_MAX];
  size_t len = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64_value(cur[i]);
    if (v < 0) return SCRIBE_EINVAL;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      raw[len++] = (unsigned char)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0) return SCRIBE_EINVAL; /* non-canonical trailing bits */
  size_t i = 0;
  int64_t v = 0;
  while (i < len && raw[i] >= '0' && raw[i] <= '9') {
    if (i >= 15) return SCRIBE_EINVAL; /* more digits than any epoch ms */
    v = v * 10 + (raw[i] - '0');
    i++;
  }
  if (i == 0 || i >= len || raw[i] != ':') return SCRIBE_EINVAL;
  size_t klen = len - i - 1;
  if (klen == 0 || klen > SCRIBE_STORAGE_KEY_MAX) return SCRIBE_EINVAL;
  memcpy(key, raw + i + 1, klen);
  key[klen] = '\0';
  if (!scribe_storage_key_valid(key)) return SCRIBE_EINVAL;
  *ms = v;
  return SCRIBE_OK;
}

/* Column-backed names in the merged document. */
static const char *const column_fields[] = {
    "audio_key", "status", "stage_percent", "created_at", "updated_at",
    "error",     "patient_id", "filename",  NULL,
};

static bool is_column_field(const char *name) {
  for (size_t i = 0; column_fields[i]; i++)
    if (strcmp(column_fields[i], name) == 0) return true;
  return false;
}

int scribe_results_merge_stored(json_t *merged, const char *text, size_t len, const char *who) {
  json_error_t jerr;
  json_t *fields = json_loadb(text, len, JSON_ALLOW_NUL, &jerr);
  int rc = SCRIBE_OK;
  if (!json_is_object(fields)) {
    /* Never expected: only objects are stored.  Serve the columns. */
    LOG_WARN("%s: stored document is not a JSON object (line %d)", who, jerr.line);
  } else {
    const char *name;
    json_t *value;
    json_object_foreach(fields, name, value) {
      if (is_column_field(name)) continue;
      if (json_object_set(merged, name, value) != 0) {
        rc = SCRIBE_ENOMEM;
        break;
      }
    }
  }
  json_decref(fields);
  return rc;
}
