/*
 * results.c - registry of results backends, status names, and the checked
 * wrappers every caller goes through (argument and key validation live
 * here, once, so every backend behaves the same on bad input).
 */
#include "results/results.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/registry.h"
#include "storage/storage.h"

#define LIST_LIMIT_MAX 500

extern const scribe_results_backend scribe_results_sqlite;
extern const scribe_results_backend scribe_results_postgres;

/* NULL-terminated; the first entry is the default. */
static const scribe_results_backend *const backends[] = {
    &scribe_results_sqlite,
    &scribe_results_postgres,
    NULL,
};

static const char *const status_names[SCRIBE_STATUS_COUNT] = {
    "uploaded", "queued", "transcribing", "extracting", "completed", "failed",
};

const char *scribe_status_name(scribe_status s) {
  if ((int)s < 0 || (int)s >= SCRIBE_STATUS_COUNT) return NULL;
  return status_names[s];
}

int scribe_status_parse(const char *name) {
  if (!name) return -1;
  for (int i = 0; i < SCRIBE_STATUS_COUNT; i++)
    if (strcmp(status_names[i], name) == 0) return i;
  return -1;
}

scribe_results_params scribe_results_default_params(void) {
  scribe_results_params p;
  memset(&p, 0, sizeof(p));
  p.path = "scribe-data/scribe.db";
  return p;
}

const scribe_results_backend *scribe_results_find(const char *name) {
  return scribe_registry_find((const void *const *)backends, name);
}

void scribe_results_names(char *buf, size_t len) {
  scribe_registry_names((const void *const *)backends, buf, len);
}

scribe_results *scribe_results_create(const char *name, const scribe_results_params *p,
                                      char *err, size_t errlen) {
  char tmp[8];
  if (!err) {
    err = tmp;
    errlen = sizeof(tmp);
  }
  if (errlen) err[0] = '\0';
  const scribe_results_backend *b = scribe_results_find(name);
  if (!b) {
    char names[256];
    scribe_results_names(names, sizeof(names));
    snprintf(err, errlen, "unknown results backend '%s' (compiled in: %s)", name ? name : "",
             names);
    return NULL;
  }
  scribe_results_params def = scribe_results_default_params();
  scribe_results *r = b->create(p ? p : &def, err, errlen);
  if (r) r->backend = b;
  return r;
}

void scribe_results_free(scribe_results *r) {
  if (r) r->backend->free(r);
}

const char *scribe_results_name(const scribe_results *r) {
  return r ? r->backend->name : NULL;
}

int scribe_results_insert(scribe_results *r, const char *key, const scribe_record_meta *meta) {
  if (!r) return SCRIBE_EINVAL;
  if (!scribe_storage_key_valid(key)) return SCRIBE_EBADKEY;
  scribe_record_meta none = {0};
  return r->backend->insert(r, key, meta ? meta : &none);
}

int scribe_results_get(scribe_results *r, const char *key, json_t **doc) {
  if (!doc) return SCRIBE_EINVAL;
  *doc = NULL;
  if (!r) return SCRIBE_EINVAL;
  if (!scribe_storage_key_valid(key)) return SCRIBE_EBADKEY;
  int rc = r->backend->get(r, key, doc);
  if (rc != SCRIBE_OK && *doc) {
    json_decref(*doc);
    *doc = NULL;
  }
  return rc;
}

int scribe_results_set_status(scribe_results *r, const char *key, scribe_status st, int percent,
                              const char *error) {
  if (!r || !scribe_status_name(st) || percent < -1 || percent > 100) return SCRIBE_EINVAL;
  if (!scribe_storage_key_valid(key)) return SCRIBE_EBADKEY;
  return r->backend->set_status(r, key, st, percent, error);
}

int scribe_results_put_result(scribe_results *r, const char *key, json_t *fields) {
  if (!r || !json_is_object(fields)) return SCRIBE_EINVAL;
  if (!scribe_storage_key_valid(key)) return SCRIBE_EBADKEY;
  return r->backend->put_result(r, key, fields);
}

int scribe_results_list(scribe_results *r, int status, const char *cursor, int limit,
                        json_t **items, char **next_cursor) {
  if (items) *items = NULL;
  if (next_cursor) *next_cursor = NULL;
  if (!r || !items || !next_cursor) return SCRIBE_EINVAL;
  if (status != -1 && !scribe_status_name((scribe_status)status)) return SCRIBE_EINVAL;
  if (limit < 1) limit = 1;
  if (limit > LIST_LIMIT_MAX) limit = LIST_LIMIT_MAX;
  int rc = r->backend->list(r, status, cursor, limit, items, next_cursor);
  if (rc != SCRIBE_OK) {
    json_decref(*items);
    *items = NULL;
    free(*next_cursor);
    *next_cursor = NULL;
  }
  return rc;
}

int scribe_results_remove(scribe_results *r, const char *key) {
  if (!r) return SCRIBE_EINVAL;
  if (!scribe_storage_key_valid(key)) return SCRIBE_EBADKEY;
  return r->backend->remove(r, key);
}

int scribe_results_stamp(scribe_results *r, const char *key, scribe_status *status,
                         int64_t *version) {
  if (!r || !status || !version) return SCRIBE_EINVAL;
  if (!scribe_storage_key_valid(key)) return SCRIBE_EBADKEY;
  return r->backend->stamp(r, key, status, version);
}
