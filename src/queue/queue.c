/*
 * queue.c - registry of queue backends and the checked wrappers every
 * caller goes through (argument and key validation live here, once).
 */
#include "queue/queue.h"

#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "core/registry.h"

extern const scribe_queue_backend scribe_queue_sqlite;
extern const scribe_queue_backend scribe_queue_postgres;

/* NULL-terminated; the first entry is the default. */
static const scribe_queue_backend *const backends[] = {
    &scribe_queue_sqlite,
    &scribe_queue_postgres,
    NULL,
};

scribe_queue_params scribe_queue_default_params(void) {
  scribe_queue_params p;
  memset(&p, 0, sizeof(p));
  p.path = "scribe-data/scribe.db";
  p.max_attempts = 5;
  p.backoff_base_ms = 2000;
  p.backoff_max_ms = 300000;
  p.poll_ms = 250;
  return p;
}

const scribe_queue_backend *scribe_queue_find(const char *name) {
  return scribe_registry_find((const void *const *)backends, name);
}

void scribe_queue_names(char *buf, size_t len) {
  scribe_registry_names((const void *const *)backends, buf, len);
}

scribe_queue *scribe_queue_create(const char *name, const scribe_queue_params *p, char *err,
                                  size_t errlen) {
  char tmp[8];
  if (!err) {
    err = tmp;
    errlen = sizeof(tmp);
  }
  if (errlen) err[0] = '\0';
  const scribe_queue_backend *b = scribe_queue_find(name);
  if (!b) {
    char names[256];
    scribe_queue_names(names, sizeof(names));
    snprintf(err, errlen, "unknown queue backend '%s' (compiled in: %s)", name ? name : "",
             names);
    return NULL;
  }
  scribe_queue_params def = scribe_queue_default_params();
  if (!p) p = &def;
  if (p->max_attempts < 1 || p->backoff_base_ms < 0 || p->backoff_max_ms < p->backoff_base_ms ||
      p->poll_ms < 1) {
    snprintf(err, errlen,
             "queue: invalid parameters (max_attempts >= 1, 0 <= backoff_base_ms <= "
             "backoff_max_ms, poll_ms >= 1)");
    return NULL;
  }
  scribe_queue *q = b->create(p, err, errlen);
  if (q) q->backend = b;
  return q;
}

void scribe_queue_free(scribe_queue *q) {
  if (q) q->backend->free(q);
}

const char *scribe_queue_name(const scribe_queue *q) { return q ? q->backend->name : NULL; }

int scribe_queue_push(scribe_queue *q, const char *key, int64_t delay_ms, bool *created) {
  if (created) *created = false;
  if (!q || delay_ms < 0) return SCRIBE_EINVAL;
  if (!scribe_storage_key_valid(key)) return SCRIBE_EBADKEY;
  bool ignored;
  return q->backend->push(q, key, delay_ms, created ? created : &ignored);
}

int scribe_queue_claim(scribe_queue *q, int64_t lease_ms, scribe_job *out) {
  if (!q || !out || lease_ms <= 0) return SCRIBE_EINVAL;
  memset(out, 0, sizeof(*out));
  return q->backend->claim(q, lease_ms, out);
}

int scribe_queue_extend(scribe_queue *q, scribe_job *job, int64_t lease_ms) {
  if (!q || !job || lease_ms <= 0) return SCRIBE_EINVAL;
  return q->backend->extend(q, job, lease_ms);
}

int scribe_queue_complete(scribe_queue *q, const scribe_job *job) {
  if (!q || !job) return SCRIBE_EINVAL;
  return q->backend->complete(q, job);
}

int scribe_queue_retry(scribe_queue *q, const scribe_job *job, const char *reason, bool *dead) {
  if (dead) *dead = false;
  if (!q || !job) return SCRIBE_EINVAL;
  bool ignored;
  return q->backend->retry(q, job, reason, dead ? dead : &ignored);
}

int scribe_queue_fail(scribe_queue *q, const scribe_job *job, const char *reason) {
  if (!q || !job) return SCRIBE_EINVAL;
  return q->backend->fail(q, job, reason);
}

int scribe_queue_release(scribe_queue *q, const scribe_job *job) {
  if (!q || !job) return SCRIBE_EINVAL;
  return q->backend->release(q, job);
}

int scribe_queue_wait(scribe_queue *q, int timeout_ms) {
  if (!q) return SCRIBE_EINVAL;
  return q->backend->wait(q, timeout_ms < 0 ? 0 : timeout_ms);
}

void scribe_queue_wake(scribe_queue *q) {
  if (q) q->backend->wake(q);
}

int scribe_queue_stats_get(scribe_queue *q, scribe_queue_stats *out) {
  if (!q || !out) return SCRIBE_EINVAL;
  memset(out, 0, sizeof(*out));
  return q->backend->stats(q, out);
}
