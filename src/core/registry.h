/*
 * registry.h - lookup in a layer's table of compiled-in backends.
 *
 * Every backend struct (storage, queue, results, notify, stt, …) begins with
 * `int version; const char *name;`; a layer keeps a NULL-terminated array of
 * pointers to its backends and passes it here as `const void *const *`.
 */
#ifndef SCRIBE_REGISTRY_H
#define SCRIBE_REGISTRY_H

#include <stddef.h>

/* The common first members of every backend struct. */
typedef struct scribe_backend_head {
  int version;
  const char *name;
} scribe_backend_head;

/* The entry of `table` named `name`, or NULL (also for a NULL name). */
const void *scribe_registry_find(const void *const *table, const char *name);
/* Writes "a, b, c" (the names in table order) into buf, truncated to len. */
void scribe_registry_names(const void *const *table, char *buf, size_t len);

#endif
