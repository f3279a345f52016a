/*
 * extract.c - extraction registry and the public wrappers.
 */
#include "extract/extract.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "extract/extract_backend.h"

static const scribe_extract_backend *const backends[] = {
    &scribe_extract_rules_backend,
    NULL,
};

struct scribe_extract {
  const scribe_extract_backend *be;
  void *state;
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...) {
  if (!err || errlen == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

scribe_extract_params scribe_extract_default_params(void) {
  scribe_extract_params p;
  memset(&p, 0, sizeof(p));
  return p;
}

scribe_extract *scribe_extract_create(const char *backend_name,
                                      const scribe_extract_params *p,
                                      char *err, size_t errlen) {
  scribe_extract_params defp = scribe_extract_default_params();
  const scribe_extract_backend *be = NULL;
  scribe_extract *x = NULL;
  if (!backend_name || !*backend_name) backend_name = "rules";
  if (!p) p = &defp;
  for (size_t i = 0; backends[i]; i++)
    if (strcmp(backends[i]->name, backend_name) == 0) be = backends[i];
  if (!be) {
    char names[256] = "";
    size_t off = 0;
    for (size_t i = 0; backends[i] && off < sizeof(names); i++) {
      int n = snprintf(names + off, sizeof(names) - off, "%s%s", i ? ", " : "",
                       backends[i]->name);
      if (n < 0) break;
      off += (size_t)n;
    }
    seterr(err, errlen, "unknown extraction backend \"%s\" (compiled in: %s)",
           backend_name, names);
    return NULL;
  }
  if (be->version != SCRIBE_EXTRACT_BACKEND_VERSION) {
    seterr(err, errlen, "extraction backend \"%s\" has interface version %d, want %d",
           be->name, be->version, SCRIBE_EXTRACT_BACKEND_VERSION);
    return NULL;
  }
  x = calloc(1, sizeof(*x));
  if (!x) {
    seterr(err, errlen, "out of memory");
    return NULL;
  }
  x->be = be;
  x->state = be->create(p, err, errlen);
  if (!x->state) {
    free(x);
    return NULL;
  }
  return x;
}

void scribe_extract_free(scribe_extract *x) {
  if (!x) return;
  x->be->destroy(x->state);
  free(x);
}

const char *scribe_extract_name(const scribe_extract *x) {
  return x ? x->be->name : "";
}

const char *scribe_extract_version(const scribe_extract *x) {
  return x ? x->be->version_str(x->state) : "";
}

int scribe_extract_segments(scribe_extract *x, const char *const *segments,
                            size_t nsegments, json_t **out, char *err,
                            size_t errlen) {
  if (out) *out = NULL;
  if (!x || !out || (!segments && nsegments > 0)) {
    seterr(err, errlen, "invalid argument");
    return SCRIBE_EINVAL;
  }
  if (nsegments > SCRIBE_EXTRACT_MAX_SEGMENTS) {
    seterr(err, errlen, "too many segments (%zu, limit %d)", nsegments,
           SCRIBE_EXTRACT_MAX_SEGMENTS);
    return SCRIBE_ETOOBIG;
  }
  size_t total = 0;
  for (size_t i = 0; i < nsegments; i++) {
    if (!segments[i]) continue;
    total += strlen(segments[i]);
    if (total > SCRIBE_EXTRACT_MAX_BYTES) {
      seterr(err, errlen, "transcript too large (limit %u bytes)",
             SCRIBE_EXTRACT_MAX_BYTES);
      return SCRIBE_ETOOBIG;
    }
  }
  return x->be->extract(x->state, segments, nsegments, out, err, errlen);
}

int scribe_extract_text(scribe_extract *x, const char *text, size_t len,
                        json_t **out, char *err, size_t errlen) {
  if (out) *out = NULL;
  if (!x || !out || (!text && len > 0)) {
    seterr(err, errlen, "invalid argument");
    return SCRIBE_EINVAL;
  }
  if (len > SCRIBE_EXTRACT_MAX_BYTES) {
    seterr(err, errlen, "transcript too large (limit %u bytes)",
           SCRIBE_EXTRACT_MAX_BYTES);
    return SCRIBE_ETOOBIG;
  }
  size_t nlines = 1;
  for (size_t i = 0; i < len; i++)
    if (text[i] == '\n') nlines++;
  if (nlines > SCRIBE_EXTRACT_MAX_SEGMENTS) {
    seterr(err, errlen, "too many lines (%zu, limit %d)", nlines,
           SCRIBE_EXTRACT_MAX_SEGMENTS);
    return SCRIBE_ETOOBIG;
  }
  /* One copy of the text with NULs at the line ends, plus the pointer table. */
  char *copy = malloc(len + 1);
  const char **segs = malloc(nlines * sizeof(*segs));
  int rc = SCRIBE_ENOMEM;
  if (!copy || !segs) {
    seterr(err, errlen, "out of memory");
    goto fail;
  }
  if (len) memcpy(copy, text, len);
  copy[len] = '\0';
  size_t n = 0, start = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i == len || copy[i] == '\n') {
      size_t end = i;
      if (end > start && copy[end - 1] == '\r') end--;
      copy[end] = '\0';
      segs[n++] = copy + start;
      start = i + 1;
    }
  }
  /* Text ending in a newline has no extra empty last segment. */
  if (n > 1 && len > 0 && text[len - 1] == '\n') n--;
  rc = scribe_extract_segments(x, segs, n, out, err, errlen);
fail:
  free(copy);
  free(segs);
  return rc;
}
