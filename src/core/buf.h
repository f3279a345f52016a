/*
 * buf.h - a growable byte buffer with a hard size cap (after curl's dynbuf).
 *
 * The buffer keeps a NUL after its contents so it can be used as a C string,
 * but parsers should use the length.  Appending past `max` fails with
 * SCRIBE_ETOOBIG and leaves the contents unchanged.
 */
#ifndef SCRIBE_BUF_H
#define SCRIBE_BUF_H

#include <stddef.h>

typedef struct scribe_buf {
  char *data;  /* NULL until the first append */
  size_t len;  /* bytes used, excluding the trailing NUL */
  size_t cap;  /* bytes allocated */
  size_t max;  /* hard cap on len */
} scribe_buf;

void scribe_buf_init(scribe_buf *b, size_t max);
void scribe_buf_release(scribe_buf *b);
void scribe_buf_reset(scribe_buf *b); /* len = 0, keeps memory */
int scribe_buf_append(scribe_buf *b, const void *data, size_t len);
int scribe_buf_appends(scribe_buf *b, const char *s);
int scribe_buf_printf(scribe_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Hands the allocated string to the caller (free()), leaving b empty. */
char *scribe_buf_steal(scribe_buf *b);

#endif
