/*
 * storage.h - object storage layer: keys -> byte streams.
 *
 * Usage:
 *   scribe_storage_params p = scribe_storage_default_params();
 *   p.root = "scribe-data/objects";
 *   scribe_storage *s = scribe_storage_create("fs", &p, err, sizeof err);
 *   scribe_storage_writer *w;
 *   if (scribe_storage_put_begin(s, "audio/abc", &w) == SCRIBE_OK) {
 *     scribe_storage_write(w, data, n);        // as many times as needed
 *     rc = scribe_storage_commit(w);           // atomic: visible only now
 *   }
 *   scribe_storage_free(s);
 *
 * Writes stream (nothing holds a whole object in memory) and are atomic: a
 * reader sees the old object or the complete new one, never a partial one.
 * Keys are validated by every call (scribe_storage_key_valid).
 *
 * Backends (curl vtls / SQLite VFS pattern): one file each, one exported
 * const scribe_storage_backend, listed in the registry in storage.c.
 * A handle may be used from several threads at once; a writer or reader
 * belongs to one thread at a time.
 */
#ifndef SCRIBE_STORAGE_H
#define SCRIBE_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCRIBE_STORAGE_KEY_MAX 512

typedef struct scribe_storage_backend scribe_storage_backend;

/* Base structs: backends allocate larger structs with these first. */
typedef struct scribe_storage {
  const scribe_storage_backend *backend;
} scribe_storage;
typedef struct scribe_storage_writer {
  const scribe_storage_backend *backend;
} scribe_storage_writer;
typedef struct scribe_storage_reader {
  const scribe_storage_backend *backend;
} scribe_storage_reader;

typedef struct scribe_storage_params {
  const char *root; /* fs: directory holding the objects (created if absent) */
  /* s3: any S3-compatible object store */
  const char *s3_endpoint;      /* "https://s3.eu-west-1.amazonaws.com", "http://127.0.0.1:9000" */
  const char *s3_region;        /* "us-east-1" */
  const char *s3_bucket;
  const char *s3_prefix;        /* prepended to every key, may be "" */
  const char *s3_access_key;
  const char *s3_secret_key;
  const char *s3_session_token; /* may be NULL or "" */
  bool s3_path_style;           /* endpoint/bucket/key instead of bucket.endpoint/key */
} scribe_storage_params;

struct scribe_storage_backend {
  int version; /* 1 */
  const char *name;
  scribe_storage *(*create)(const scribe_storage_params *p, char *err, size_t errlen);
  void (*free)(scribe_storage *s);
  int (*put_begin)(scribe_storage *s, const char *key, scribe_storage_writer **out);
  int (*write)(scribe_storage_writer *w, const void *data, size_t len);
  int (*commit)(scribe_storage_writer *w); /* always consumes w */
  void (*abort)(scribe_storage_writer *w); /* consumes w, discards data */
  int (*open)(scribe_storage *s, const char *key, scribe_storage_reader **out,
              uint64_t *size);
  long (*read)(scribe_storage_reader *r, void *buf, size_t n);
  int64_t (*seek)(scribe_storage_reader *r, int64_t offset, int whence);
  void (*close)(scribe_storage_reader *r);
  int (*stat)(scribe_storage *s, const char *key, uint64_t *size);
  int (*remove)(scribe_storage *s, const char *key);
  /* Optional (NULL when the backend has no such thing, as fs): a URL that
   * lets a client PUT the object itself until expires_seconds from now;
   * *url is malloc'd. */
  int (*presign_put)(scribe_storage *s, const char *key, long expires_seconds, char **url);
};

scribe_storage_params scribe_storage_default_params(void);

/* Looks up a compiled-in backend; NULL when unknown. */
const scribe_storage_backend *scribe_storage_find(const char *name);
/* Writes the compiled-in names ("fs, ...") into buf. */
void scribe_storage_names(char *buf, size_t len);

/* True when key is 1..SCRIBE_STORAGE_KEY_MAX bytes of [A-Za-z0-9._-/], does
 * not start or end with '/', has no empty, "." or ".." path segment. */
bool scribe_storage_key_valid(const char *key);

/* Creates a handle on backend `name`; NULL with a message in err on failure
 * (unknown name: the message lists the compiled-in names). */
scribe_storage *scribe_storage_create(const char *name, const scribe_storage_params *p,
                                      char *err, size_t errlen);
void scribe_storage_free(scribe_storage *s); /* NULL is fine */
const char *scribe_storage_name(const scribe_storage *s);

/* Starts an atomic write of `key`.  SCRIBE_EBADKEY for an invalid key. */
int scribe_storage_put_begin(scribe_storage *s, const char *key, scribe_storage_writer **out);
int scribe_storage_write(scribe_storage_writer *w, const void *data, size_t len);
/* Makes the object durable and visible (fsync + rename for fs); consumes w
 * whatever it returns. */
int scribe_storage_commit(scribe_storage_writer *w);
void scribe_storage_abort(scribe_storage_writer *w); /* NULL is fine */

/* Opens `key` for streaming reads; *size gets its length.  SCRIBE_ENOTFOUND
 * when absent. */
int scribe_storage_open(scribe_storage *s, const char *key, scribe_storage_reader **out,
                        uint64_t *size);
/* Reads up to n bytes: count, 0 at end, or a negative SCRIBE_E* code. */
long scribe_storage_read(scribe_storage_reader *r, void *buf, size_t n);
/* lseek-like (SEEK_SET/SEEK_CUR/SEEK_END): new offset or negative code. */
int64_t scribe_storage_seek(scribe_storage_reader *r, int64_t offset, int whence);
void scribe_storage_close(scribe_storage_reader *r); /* NULL is fine */

/* Size of `key`, or SCRIBE_ENOTFOUND. */
int scribe_storage_stat(scribe_storage *s, const char *key, uint64_t *size);
/* Deletes `key`; SCRIBE_ENOTFOUND when absent. */
int scribe_storage_remove(scribe_storage *s, const char *key);

/* A presigned URL with which a client (the browser) uploads `key` straight
 * to the backend with an HTTP PUT of the whole body, valid for
 * expires_seconds (1..604800).  Only backends with a presign_put op (s3);
 * the object becomes visible when the client's PUT completes, so check with
 * scribe_storage_stat() before using it.  On success *url is malloc'd and
 * the caller frees it.  Errors: SCRIBE_EINVAL (no such op for this backend,
 * bad expiry or arguments; *url stays NULL), SCRIBE_EBADKEY.  Signing is
 * local: no request is made. */
int scribe_storage_presign_put(scribe_storage *s, const char *key, long expires_seconds,
                               char **url);

#endif
