/*
 * http_cache.h - serialized result documents kept by (key, version).
 *
 * Serializing a stored document (JSON parse + merge + dump) costs more than
 * everything else a GET /result/{key} does.  A document changes only when
 * its record is written, and every write moves the record's version
 * (scribe_results_stamp), so a cached body is valid exactly while the
 * version it was made from is current: a reader asks the store for the
 * version (one indexed lookup) and serves the cached bytes when they match.
 * Writes by other processes are seen the same way.
 *
 * Fixed number of slots, one mutex each; a key maps to one slot and a new
 * entry replaces the old.  Bodies over max_entry bytes are not cached.
 * Thread-safe.
 */
#ifndef SCRIBE_HTTP_CACHE_H
#define SCRIBE_HTTP_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct scribe_http_cache scribe_http_cache;

scribe_http_cache *scribe_http_cache_create(size_t slots, size_t max_entry);
void scribe_http_cache_free(scribe_http_cache *c); /* NULL is fine */
/* A malloc()ed copy of the body cached for (key, version), or NULL. */
char *scribe_http_cache_get(scribe_http_cache *c, const char *key, int64_t version, size_t *len);
/* Caches a copy of body for (key, version). */
void scribe_http_cache_put(scribe_http_cache *c, const char *key, int64_t version,
                           const char *body, size_t len);
/* Forgets key (after a delete, so the bytes do not linger). */
void scribe_http_cache_drop(scribe_http_cache *c, const char *key);

#endif
