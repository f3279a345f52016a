/*
 * embed.h - files compiled into the binary (web page, lexicons).
 * Tables end with a row whose path is NULL.  Contents are NUL-terminated
 * (the NUL is not counted in size).
 */
#ifndef SCRIBE_EMBED_H
#define SCRIBE_EMBED_H

#include <stddef.h>

typedef struct scribe_embedded_file {
  const char *path;
  const unsigned char *data;
  size_t size;
} scribe_embedded_file;

/* Finds `path` in a table; NULL when absent. */
const scribe_embedded_file *scribe_embed_find(const scribe_embedded_file *table,
                                              const char *path);

#endif
