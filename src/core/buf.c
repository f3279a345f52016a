#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

void scribe_buf_init(scribe_buf *b, size_t max) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->max = max;
}

void scribe_buf_release(scribe_buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

void scribe_buf_reset(scribe_buf *b) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
}

static int grow(scribe_buf *b, size_t extra) {
  if (extra > b->max || b->len > b->max - extra) return SCRIBE_ETOOBIG;
  size_t need = b->len + extra + 1;
  if (need <= b->cap) return SCRIBE_OK;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
  char *p = realloc(b->data, cap);
  if (!p) return SCRIBE_ENOMEM;
  b->data = p;
  b->cap = cap;
  return SCRIBE_OK;
}

int scribe_buf_append(scribe_buf *b, const void *data, size_t len) {
  int rc = grow(b, len);
  if (rc) return rc;
  if (len) memcpy(b->data + b->len, data, len);
  b->len += len;
  b->data[b->len] = '\0';
  return SCRIBE_OK;
}

int scribe_buf_appends(scribe_buf *b, const char *s) {
  return scribe_buf_append(b, s, strlen(s));
}

int scribe_buf_printf(scribe_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return SCRIBE_EINVAL;
  int rc = grow(b, (size_t)n);
  if (rc) return rc;
  va_start(ap, fmt);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return SCRIBE_OK;
}

char *scribe_buf_steal(scribe_buf *b) {
  char *p = b->data;
  if (!p) p = calloc(1, 1);
  b->data = NULL;
  b->len = b->cap = 0;
  return p;
}
