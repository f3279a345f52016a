/*
 * queue.h - durable job queue: at-least-once delivery with leases.
 *
 * A job names an audio key.  A worker claims a job with a lease (visibility
 * timeout); while it holds the lease no one else gets the job; when the
 * lease expires (the worker crashed) the job is claimable again.  Each claim
 * counts an attempt.  scribe_queue_retry() schedules the job again with
 * exponential backoff, or dead-letters it after max_attempts;
 * scribe_queue_fail() dead-letters at once (permanent errors).
 * Completing (or failing) a job whose lease was lost is harmless: the call
 * returns SCRIBE_EEXPIRED and changes nothing; completing twice is OK.
 *
 * At most one pending (ready or leased) job exists per key: pushing a key
 * that is already pending does nothing and reports it.
 *
 * Handles are safe to use from several threads; several processes may share
 * one queue (SQLite file or PostgreSQL database).
 */
#ifndef SCRIBE_QUEUE_H
#define SCRIBE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/storage.h"

typedef struct scribe_queue_backend scribe_queue_backend;
typedef struct scribe_queue {
  const scribe_queue_backend *backend;
} scribe_queue;

typedef struct scribe_job {
  int64_t id;
  char key[SCRIBE_STORAGE_KEY_MAX + 1];
  int attempts;          /* claims so far, including this one */
  int64_t lease_until_ms; /* epoch ms */
  char token[40];        /* identifies this claim; later calls check it */
} scribe_job;

typedef struct scribe_queue_stats {
  int64_t ready, leased, done, dead;
} scribe_queue_stats;

typedef struct scribe_queue_params {
  const char *path;        /* sqlite: database file */
  const char *conninfo;    /* postgres: libpq connection string or URL */
  int max_attempts;        /* dead-letter after this many claims (default 5) */
  int64_t backoff_base_ms; /* first retry delay (default 2000), doubles */
  int64_t backoff_max_ms;  /* cap (default 300000) */
  int poll_ms;             /* how often wait() rechecks for other processes' jobs (default 250) */
} scribe_queue_params;

struct scribe_queue_backend {
  int version; /* 1 */
  const char *name;
  scribe_queue *(*create)(const scribe_queue_params *p, char *err, size_t errlen);
  void (*free)(scribe_queue *q);
  int (*push)(scribe_queue *q, const char *key, int64_t delay_ms, bool *created);
  int (*claim)(scribe_queue *q, int64_t lease_ms, scribe_job *out);
  int (*extend)(scribe_queue *q, scribe_job *job, int64_t lease_ms);
  int (*complete)(scribe_queue *q, const scribe_job *job);
  int (*retry)(scribe_queue *q, const scribe_job *job, const char *reason, bool *dead);
  int (*fail)(scribe_queue *q, const scribe_job *job, const char *reason);
  int (*release)(scribe_queue *q, const scribe_job *job);
  int (*wait)(scribe_queue *q, int timeout_ms);
  void (*wake)(scribe_queue *q);
  int (*stats)(scribe_queue *q, scribe_queue_stats *out);
};

scribe_queue_params scribe_queue_default_params(void);
const scribe_queue_backend *scribe_queue_find(const char *name);
void scribe_queue_names(char *buf, size_t len);

scribe_queue *scribe_queue_create(const char *name, const scribe_queue_params *p, char *err,
                                  size_t errlen);
void scribe_queue_free(scribe_queue *q); /* NULL is fine */
const char *scribe_queue_name(const scribe_queue *q);

/* Enqueues `key`, claimable after delay_ms.  *created (may be NULL) is false
 * when a pending job for key already existed (then nothing changes). */
int scribe_queue_push(scribe_queue *q, const char *key, int64_t delay_ms, bool *created);
/* Claims the oldest ready job with a lease of lease_ms.  SCRIBE_ENOTFOUND
 * when none is ready. */
int scribe_queue_claim(scribe_queue *q, int64_t lease_ms, scribe_job *out);
/* Extends a held lease (heartbeat).  SCRIBE_EEXPIRED when the lease was
 * lost to another claim. */
int scribe_queue_extend(scribe_queue *q, scribe_job *job, int64_t lease_ms);
/* Marks the job done.  OK when already done; SCRIBE_EEXPIRED when another
 * claim holds it now. */
int scribe_queue_complete(scribe_queue *q, const scribe_job *job);
/* Transient failure: ready again after backoff (base * 2^(attempts-1),
 * capped), or dead-lettered when attempts >= max_attempts (*dead = true). */
int scribe_queue_retry(scribe_queue *q, const scribe_job *job, const char *reason, bool *dead);
/* Permanent failure: dead-letter now. */
int scribe_queue_fail(scribe_queue *q, const scribe_job *job, const char *reason);
/* Gives the job back untouched (shutdown): ready now, attempt not counted
 * (the counter is decremented, so the next claim reports the same attempt
 * number as the released one). */
int scribe_queue_release(scribe_queue *q, const scribe_job *job);
/* Blocks up to timeout_ms until a job may be ready (a push in this process
 * wakes it at once; other processes' pushes are seen within poll_ms).
 * Returns SCRIBE_OK or SCRIBE_ETIMEOUT; spurious wake-ups are allowed. */
int scribe_queue_wait(scribe_queue *q, int timeout_ms);
/* Wakes every waiter (used at shutdown). */
void scribe_queue_wake(scribe_queue *q);
int scribe_queue_stats_get(scribe_queue *q, scribe_queue_stats *out);

#endif
