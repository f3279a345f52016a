/*
 * stt.c - the speech-to-text registry, dispatch and result helpers.
 */
#include "stt/stt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/registry.h"

/* Each backend file exports one const methods object. */
extern const scribe_stt_backend scribe_stt_pocketsphinx;
extern const scribe_stt_backend scribe_stt_openai;

/* NULL-terminated; the first entry is the default. */
static const scribe_stt_backend *const backends[] = {
    &scribe_stt_pocketsphinx,
    &scribe_stt_openai,
    NULL,
};

static void set_err(char *err, size_t errlen, const char *fmt, const char *arg) {
  if (err && errlen) snprintf(err, errlen, fmt, arg);
}

const scribe_stt_backend *scribe_stt_backend_at(size_t i) {
  size_t n = sizeof(backends) / sizeof(backends[0]) - 1;
  return i < n ? backends[i] : NULL;
}

const scribe_stt_backend *scribe_stt_find(const char *name) {
  const scribe_stt_backend *b = scribe_registry_find((const void *const *)backends, name);
  return b && b->version == SCRIBE_STT_BACKEND_VERSION ? b : NULL;
}

void scribe_stt_names(char *buf, size_t len) {
  scribe_registry_names((const void *const *)backends, buf, len);
}

scribe_stt_params scribe_stt_default_params(void) {
  scribe_stt_params p;
  memset(&p, 0, sizeof(p));
  return p;
}

scribe_stt *scribe_stt_create(const char *name, const scribe_stt_params *p, char *err,
                              size_t errlen) {
  const scribe_stt_backend *b = scribe_stt_find(name);
  if (!b) {
    char names[256];
    scribe_stt_names(names, sizeof(names));
    if (err && errlen)
      snprintf(err, errlen, "unknown speech-to-text backend \"%s\" (compiled in: %s)",
               name ? name : "(null)", names);
    return NULL;
  }
  scribe_stt_params defaults = scribe_stt_default_params();
  if (err && errlen) err[0] = '\0';
  scribe_stt *stt = b->create(p ? p : &defaults, err, errlen);
  if (!stt) {
    if (err && errlen && !err[0]) set_err(err, errlen, "%s: failed to create engine", b->name);
    return NULL;
  }
  stt->backend = b;
  return stt;
}

void scribe_stt_free(scribe_stt *stt) {
  if (stt) stt->backend->free(stt);
}

const char *scribe_stt_name(const scribe_stt *stt) {
  return stt ? stt->backend->name : "";
}

int scribe_stt_transcribe(scribe_stt *stt, const int16_t *pcm, size_t nsamples, int sample_rate,
                          scribe_stt_progress_fn progress, void *user_data,
                          scribe_stt_result *out, char *err, size_t errlen) {
  if (out) memset(out, 0, sizeof(*out));
  if (err && errlen) err[0] = '\0';
  if (!stt || !out) {
    set_err(err, errlen, "%s", "transcribe: no engine or no result");
    return SCRIBE_EINVAL;
  }
  if (!pcm && nsamples) {
    set_err(err, errlen, "%s", "transcribe: no samples");
    return SCRIBE_EINVAL;
  }
  if (sample_rate != SCRIBE_STT_SAMPLE_RATE) {
    if (err && errlen)
      snprintf(err, errlen, "transcribe: sample rate %d Hz, expected %d Hz", sample_rate,
               SCRIBE_STT_SAMPLE_RATE);
    return SCRIBE_EINVAL;
  }
  int rc = stt->backend->transcribe(stt, pcm, nsamples, sample_rate, progress, user_data, out,
                                    err, errlen);
  if (rc != SCRIBE_OK) {
    scribe_stt_result_free(out);
    if (err && errlen && !err[0]) set_err(err, errlen, "transcribe: %s", scribe_strerror(rc));
  }
  return rc;
}

/* ---- results ----------------------------------------------------------- */

void scribe_stt_result_free(scribe_stt_result *r) {
  if (!r) return;
  for (size_t i = 0; i < r->nsegments; i++) free(r->segments[i].text);
  free(r->segments);
  memset(r, 0, sizeof(*r));
}

char *scribe_stt_result_text(const scribe_stt_result *r) {
  if (!r) return NULL;
  size_t total = 1;
  for (size_t i = 0; i < r->nsegments; i++) {
    size_t n = strlen(r->segments[i].text) + 1;
    if (n > SIZE_MAX - total) return NULL;
    total += n;
  }
  char *s = malloc(total);
  if (!s) return NULL;
  size_t used = 0;
  for (size_t i = 0; i < r->nsegments; i++) {
    size_t n = strlen(r->segments[i].text);
    if (i) s[used++] = '\n';
    memcpy(s + used, r->segments[i].text, n);
    used += n;
  }
  s[used] = '\0';
  return s;
}

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Engine markers: <s>, </s>, <sil>, [NOISE], [SPEECH], ++GARBAGE++ ... */
static int is_marker(const char *w, size_t n) {
  if (n >= 2 && w[0] == '<' && w[n - 1] == '>') return 1;
  if (n >= 2 && w[0] == '[' && w[n - 1] == ']') return 1;
  if (n >= 4 && w[0] == '+' && w[1] == '+' && w[n - 1] == '+' && w[n - 2] == '+') return 1;
  return 0;
}

/* Length of w without a trailing "(2)"-style alternate-pronunciation mark. */
static size_t base_len(const char *w, size_t n) {
  if (n < 3 || w[n - 1] != ')') return n;
  size_t i = n - 1;
  while (i > 0 && w[i - 1] >= '0' && w[i - 1] <= '9') i--;
  if (i == n - 1 || i == 0 || w[i - 1] != '(') return n;
  return i - 1;
}

int scribe_stt_result_add(scribe_stt_result *r, double start, double end, const char *text,
                          size_t len) {
  if (!r || (!text && len)) return SCRIBE_EINVAL;
  /* The cleaned text is never longer than the input. */
  if (len > SIZE_MAX - 1) return SCRIBE_ETOOBIG;
  char *clean = malloc(len + 1);
  if (!clean) return SCRIBE_ENOMEM;
  size_t used = 0, i = 0;
  while (i < len) {
    while (i < len && is_space(text[i])) i++;
    size_t w = i;
    while (i < len && !is_space(text[i])) i++;
    size_t n = i - w;
    if (!n || is_marker(text + w, n)) continue;
    n = base_len(text + w, n);
    if (!n) continue;
    if (used) clean[used++] = ' ';
    memcpy(clean + used, text + w, n);
    used += n;
  }
  clean[used] = '\0';
  if (!used) {
    free(clean);
    return SCRIBE_OK;
  }
  /* The capacity is implied by the count: 4, 8, 16, ... (only this function
   * appends), so appending is amortised O(1). */
  size_t n = r->nsegments;
  if (n == 0 || (n >= 4 && (n & (n - 1)) == 0)) {
    size_t cap = n ? n * 2 : 4;
    if (cap < n || cap > SIZE_MAX / sizeof(*r->segments)) {
      free(clean);
      return SCRIBE_ETOOBIG;
    }
    scribe_stt_segment *grown = realloc(r->segments, cap * sizeof(*grown));
    if (!grown) {
      free(clean);
      return SCRIBE_ENOMEM;
    }
    r->segments = grown;
  }
  scribe_stt_segment *segs = r->segments;
  segs[r->nsegments].start = start;
  segs[r->nsegments].end = end > start ? end : start;
  segs[r->nsegments].text = clean;
  r->nsegments++;
  return SCRIBE_OK;
}
