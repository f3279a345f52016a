/*
 * storage.c - registry of object storage backends and the checked wrappers
 * every caller goes through.  Argument and key validation live here, once,
 * so every backend behaves the same on bad input.
 */
#include "storage/storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/registry.h"

extern const scribe_storage_backend scribe_storage_fs;
extern const scribe_storage_backend scribe_storage_s3;

/* NULL-terminated; the first entry is the default. */
static const scribe_storage_backend *const backends[] = {
    &scribe_storage_fs,
    &scribe_storage_s3,
    NULL,
};

scribe_storage_params scribe_storage_default_params(void) {
  scribe_storage_params p;
  memset(&p, 0, sizeof(p));
  p.root = "scribe-data/objects";
  return p;
}

const scribe_storage_backend *scribe_storage_find(const char *name) {
  return scribe_registry_find((const void *const *)backends, name);
}

void scribe_storage_names(char *buf, size_t len) {
  scribe_registry_names((const void *const *)backends, buf, len);
}

static bool key_char_ok(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '_' || c == '-' || c == '/';
}

bool scribe_storage_key_valid(const char *key) {
  if (!key) return false;
  size_t n = strnlen(key, SCRIBE_STORAGE_KEY_MAX + 1);
  if (n == 0 || n > SCRIBE_STORAGE_KEY_MAX) return false;
  size_t seg_start = 0;
  for (size_t i = 0; i <= n; i++) {
    if (i < n && !key_char_ok(key[i])) return false;
    if (i == n || key[i] == '/') {
      size_t seg_len = i - seg_start;
      if (seg_len == 0) return false; /* leading, trailing or doubled '/' */
      if (seg_len == 1 && key[seg_start] == '.') return false;
      if (seg_len == 2 && key[seg_start] == '.' && key[seg_start + 1] == '.') return false;
      seg_start = i + 1;
    }
  }
  return true;
}

scribe_storage *scribe_storage_create(const char *name, const scribe_storage_params *p,
                                      char *err, size_t errlen) {
  char tmp[8];
  if (!err) {
    err = tmp;
    errlen = sizeof(tmp);
  }
  if (errlen) err[0] = '\0';
  const scribe_storage_backend *b = scribe_storage_find(name);
  if (!b) {
    char names[256];
    scribe_storage_names(names, sizeof(names));
    snprintf(err, errlen, "unknown storage backend '%s' (compiled in: %s)", name ? name : "",
             names);
    return NULL;
  }
  scribe_storage_params def = scribe_storage_default_params();
  scribe_storage *s = b->create(p ? p : &def, err, errlen);
  if (s) s->backend = b;
  return s;
}

void scribe_storage_free(scribe_storage *s) {
  if (s) s->backend->free(s);
}

const char *scribe_storage_name(const scribe_storage *s) {
  return s ? s->backend->name : NULL;
}

int scribe_storage_put_begin(scribe_storage *s, const char *key, scribe_storage_writer **out) {
  if (!out) return SCRIBE_EINVAL;
  *out = NULL;
  if (!s) return SCRIBE_EINVAL;
  if (!scribe_storage_key_valid(key)) return SCRIBE_EBADKEY;
  int rc = s->backend->put_begin(s, key, out);
  if (rc == SCRIBE_OK && *out) (*out)->backend = s->backend;
  if (rc != SCRIBE_OK) *out = NULL;
  return rc;
}

int scribe_storage_write(scribe_storage_writer *w, const void *data, size_t len) {
  if (!w || (!data && len)) return SCRIBE_EINVAL;
  if (len == 0) return SCRIBE_OK;
  return w->backend->write(w, data, len);
}

int scribe_storage_commit(scribe_storage_writer *w) {
  if (!w) return SCRIBE_EINVAL;
  return w->backend->commit(w);
}

void scribe_storage_abort(scribe_storage_writer *w) {
  if (w) w->backend->abort(w);
}

int scribe_storage_open(scribe_storage *s, const char *key, scribe_storage_reader **out,
                        uint64_t *size) {
  if (!out) return SCRIBE_EINVAL;
  *out = NULL;
  if (!s) return SCRIBE_EINVAL;
  if (!scribe_storage_key_valid(key)) return SCRIBE_EBADKEY;
  uint64_t ignored = 0;
  int rc = s->backend->open(s, key, out, size ? size : &ignored);
  if (rc == SCRIBE_OK && *out) (*out)->backend = s->backend;
  if (rc != SCRIBE_OK) *out = NULL;
  return rc;
}

long scribe_storage_read(scribe_storage_reader *r, void *buf, size_t n) {
  if (!r || (!buf && n)) return SCRIBE_EINVAL;
  if (n == 0) return 0;
  return r->backend->read(r, buf, n);
}

int64_t scribe_storage_seek(scribe_storage_reader *r, int64_t offset, int whence) {
  if (!r) return SCRIBE_EINVAL;
  if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) return SCRIBE_EINVAL;
  return r->backend->seek(r, offset, whence);
}

void scribe_storage_close(scribe_storage_reader *r) {
  if (r) r->backend->close(r);
}

int scribe_storage_stat(scribe_storage *s, const char *key, uint64_t *size) {
  if (!s) return SCRIBE_EINVAL;
  if (!scribe_storage_key_valid(key)) return SCRIBE_EBADKEY;
  uint64_t ignored = 0;
  return s->backend->stat(s, key, size ? size : &ignored);
}

int scribe_storage_remove(scribe_storage *s, const char *key) {
  if (!s) return SCRIBE_EINVAL;
  if (!scribe_storage_key_valid(key)) return SCRIBE_EBADKEY;
  return s->backend->remove(s, key);
}

int scribe_storage_presign_put(scribe_storage *s, const char *key, long expires_seconds,
                               char **url) {
  if (!url) return SCRIBE_EINVAL;
  *url = NULL;
  if (!s || !s->backend->presign_put) return SCRIBE_EINVAL;
  if (!scribe_storage_key_valid(key)) return SCRIBE_EBADKEY;
  if (expires_seconds < 1 || expires_seconds > 604800) return SCRIBE_EINVAL;
  int rc = s->backend->presign_put(s, key, expires_seconds, url);
  if (rc != SCRIBE_OK) {
    free(*url);
    *url = NULL;
  }
  return rc;
}
