/*
 * queue_sqlite.c - backend "sqlite": the job queue in one SQLite file (WAL).
 *
 * Table `jobs`, one row per job.  A job moves
 *   ready --claim--> leased --complete--> done
 *                      |----retry-----> ready (later) | dead (attempts used up)
 *                      |----fail------> dead
 *                      |----release---> ready (attempt given back)
 *                      `--lease expires--> claimable again as if ready; when
 *                         its attempts are used up the next claim dead-letters
 *                         it instead of handing it out.
 * A partial unique index keeps at most one ready-or-leased job per key.
 *
 * Every claim stores a fresh random token; later calls must present it, so a
 * worker whose lease expired and was claimed again cannot change the job
 * (SCRIBE_EEXPIRED).  complete/fail keep the token so that repeating them is
 * harmless.  release() decrements the attempt counter: the next claim
 * reports the same attempt number as the released one.
 *
 * Concurrency: one connection per handle behind the handle's mutex; write
 * transactions use BEGIN IMMEDIATE, so several handles and processes on one
 * file serialise on SQLite's lock (busy_timeout) and never hand out one job
 * twice.  The database may be shared with other tables (results): this file
 * only touches `jobs` and its own row in `scribe_schema`.
 *
 * As with any SQLite connection, a handle must not be used across fork():
 * a child process opens its own.
 *
 * wait(): all handles of a process share one condition variable signalled by
 * push, release and retry; waiters also re-read the table at least every
 * poll_ms (and when the earliest delayed job or lease falls due), which is how
 * other processes' pushes are seen.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/crypto.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"
#include "db/sqlite_db.h"
#include "queue/queue.h"

#define SCHEMA_COMPONENT "queue"
#define SCHEMA_VERSION 1
#define BUSY_TIMEOUT_MS 5000
#define DONE_RETENTION_MS (7LL * 24 * 3600 * 1000)

typedef struct sq_queue {
  scribe_queue base;
  sqlite3 *db;
  pthread_mutex_t mu; /* serialises use of db (multi-statement transactions) */
  int max_attempts;
  int64_t backoff_base_ms;
  int64_t backoff_max_ms;
  int poll_ms;
} sq_queue;

extern const scribe_queue_backend scribe_queue_sqlite;

/* ---- process-wide wake-ups ------------------------------------------- */

static pthread_once_t wait_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t wait_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wait_cv;
static uint64_t wait_gen;

static void wait_init(void) {
  pthread_condattr_t a;
  pthread_condattr_init(&a);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  pthread_cond_init(&wait_cv, &a);
  pthread_condattr_destroy(&a);
}

static void signal_waiters(void) {
  pthread_once(&wait_once, wait_init);
  pthread_mutex_lock(&wait_mu);
  wait_gen++;
  pthread_cond_broadcast(&wait_cv);
  pthread_mutex_unlock(&wait_mu);
}

/* ---- helpers ---------------------------------------------------------- */

/* Logs a failed SQLite call (no keys or tokens: only the operation and
 * SQLite's message) and returns the translated code. */
static int fail_sql(sq_queue *q, int rc, const char *op) {
  LOG_WARN("queue sqlite: %s: %s (%d)", op, sqlite3_errmsg(q->db), rc);
  return scribe_sqlite_map(rc);
}

static int exec_sql(sq_queue *q, const char *sql, const char *op) {
  int rc = sqlite3_exec(q->db, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK ? SCRIBE_OK : fail_sql(q, rc, op);
}

static int prepare(sq_queue *q, const char *sql, sqlite3_stmt **st) {
  int rc = sqlite3_prepare_v2(q->db, sql, -1, st, NULL);
  if (rc != SQLITE_OK) {
    *st = NULL;
    return fail_sql(q, rc, "prepare");
  }
  return SCRIBE_OK;
}

static void rollback(sq_queue *q) {
  if (!sqlite3_get_autocommit(q->db)) sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
}

static int64_t backoff_ms(const sq_queue *q, int attempts) {
  int64_t d = q->backoff_base_ms;
  for (int i = 1; i < attempts && d < q->backoff_max_ms; i++) d *= 2;
  return d < q->backoff_max_ms ? d : q->backoff_max_ms;
}

/* ---- schema ----------------------------------------------------------- */

static const char schema_v1[] =
    "CREATE TABLE IF NOT EXISTS jobs("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " key TEXT NOT NULL,"
    " state TEXT NOT NULL CHECK(state IN ('ready','leased','done','dead')),"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " available_at_ms INTEGER NOT NULL,"
    " lease_until_ms INTEGER NOT NULL DEFAULT 0,"
    " token TEXT,"
    " last_error TEXT,"
    " created_at_ms INTEGER NOT NULL,"
    " updated_at_ms INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX IF NOT EXISTS jobs_pending_key ON jobs(key)"
    " WHERE state IN ('ready','leased');"
    "CREATE INDEX IF NOT EXISTS jobs_state_due ON jobs(state, available_at_ms, id);"
    "CREATE INDEX IF NOT EXISTS jobs_state_lease ON jobs(state, lease_until_ms, id);";

/* ---- create / free ---------------------------------------------------- */

static void sq_free(scribe_queue *base) {
  sq_queue *q = (sq_queue *)base;
  if (q->db) sqlite3_close_v2(q->db);
  pthread_mutex_destroy(&q->mu);
  free(q);
}

static scribe_queue *sq_create(const scribe_queue_params *p, char *err, size_t errlen) {
  if (!p->path || !p->path[0]) {
    snprintf(err, errlen, "queue sqlite: database path is not set");
    return NULL;
  }
  sq_queue *q = calloc(1, sizeof(*q));
  if (!q) {
    snprintf(err, errlen, "queue sqlite: out of memory");
    return NULL;
  }
  q->base.backend = &scribe_queue_sqlite;
  pthread_mutex_init(&q->mu, NULL);
  q->max_attempts = p->max_attempts;
  q->backoff_base_ms = p->backoff_base_ms;
  q->backoff_max_ms = p->backoff_max_ms;
  q->poll_ms = p->poll_ms;
  q->db = scribe_sqlite_open(p->path, BUSY_TIMEOUT_MS, "queue sqlite", err, errlen);
  if (!q->db) goto fail;
  if (scribe_sqlite_schema(q->db, SCHEMA_COMPONENT, SCHEMA_VERSION, schema_v1, "queue sqlite", err,
                           errlen))
    goto fail;
  /* Housekeeping: finished jobs are only kept a while for inspection. */
  sqlite3_stmt *st = NULL;
  if (prepare(q, "DELETE FROM jobs WHERE state='done' AND updated_at_ms < ?1", &st) ==
      SCRIBE_OK) {
    sqlite3_bind_int64(st, 1, scribe_now_ms() - DONE_RETENTION_MS);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) fail_sql(q, rc, "prune done jobs");
    sqlite3_finalize(st);
  }
  return &q->base;

fail:
  sq_free(&q->base);
  return NULL;
}

/* ---- operations ------------------------------------------------------- */

static int sq_push(scribe_queue *base, const char *key, int64_t delay_ms, bool *created) {
  sq_queue *q = (sq_queue *)base;
  sqlite3_stmt *st = NULL;
  int64_t now = scribe_now_ms();
  pthread_mutex_lock(&q->mu);
  /* The partial unique index turns a second pending job for key into a
   * constraint violation that OR IGNORE skips. */
  int rc = prepare(q,
                   "INSERT OR IGNORE INTO jobs(key, state, attempts, available_at_ms,"
                   " created_at_ms, updated_at_ms) VALUES(?1, 'ready', 0, ?2, ?3, ?3)",
                   &st);
  if (rc) goto out;
  sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, now + delay_ms);
  sqlite3_bind_int64(st, 3, now);
  int s = sqlite3_step(st);
  if (s != SQLITE_DONE) {
    rc = fail_sql(q, s, "push");
    goto out;
  }
  *created = sqlite3_changes(q->db) > 0;
out:
  sqlite3_finalize(st);
  pthread_mutex_unlock(&q->mu);
  if (rc == SCRIBE_OK && *created) signal_waiters();
  return rc;
}

/* Selects one row (id, key, attempts) into the outputs; SCRIBE_ENOTFOUND
 * when the query has no row. */
static int pick(sq_queue *q, const char *sql, int64_t now, int64_t *id, scribe_job *out) {
  sqlite3_stmt *st = NULL;
  int rc = prepare(q, sql, &st);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, now);
  int s = sqlite3_step(st);
  if (s == SQLITE_ROW) {
    *id = sqlite3_column_int64(st, 0);
    const unsigned char *k = sqlite3_column_text(st, 1);
    snprintf(out->key, sizeof(out->key), "%s", k ? (const char *)k : "");
    out->attempts = sqlite3_column_int(st, 2);
    rc = SCRIBE_OK;
  } else if (s == SQLITE_DONE) {
    rc = SCRIBE_ENOTFOUND;
  } else {
    rc = fail_sql(q, s, "claim select");
  }
  sqlite3_finalize(st);
  return rc;
}

static int step_update(sq_queue *q, sqlite3_stmt *st, const char *op) {
  int s = sqlite3_step(st);
  int rc = s == SQLITE_DONE ? SCRIBE_OK : fail_sql(q, s, op);
  sqlite3_finalize(st);
  return rc;
}

static int sq_claim(scribe_queue *base, int64_t lease_ms, scribe_job *out) {
  sq_queue *q = (sq_queue *)base;
  sqlite3_stmt *st = NULL;
  char token[sizeof(out->token)];
  int rc = scribe_random_hex(token, sizeof(token), 16);
  if (rc) return rc;
  pthread_mutex_lock(&q->mu);
  rc = exec_sql(q, "BEGIN IMMEDIATE", "claim begin");
  if (rc) goto out;
  int64_t now = scribe_now_ms(), id = 0;
  for (;;) {
    /* Expired leases first: those jobs have waited longest. */
    rc = pick(q,
              "SELECT id, key, attempts FROM jobs WHERE state='leased' AND lease_until_ms<=?1"
              " ORDER BY lease_until_ms, id LIMIT 1",
              now, &id, out);
    if (rc == SCRIBE_OK && out->attempts >= q->max_attempts) {
      /* Its worker died on the last allowed attempt: dead-letter it. */
      rc = prepare(q,
                   "UPDATE jobs SET state='dead', token=NULL, lease_until_ms=0,"
                   " last_error='lease expired on the last attempt', updated_at_ms=?2"
                   " WHERE id=?1",
                   &st);
      if (rc) goto out;
      sqlite3_bind_int64(st, 1, id);
      sqlite3_bind_int64(st, 2, now);
      rc = step_update(q, st, "dead-letter expired job");
      st = NULL;
      if (rc) goto out;
      LOG_WARN("queue: job %lld dead-lettered: lease expired after %d attempts", (long long)id,
               out->attempts);
      continue;
    }
    if (rc == SCRIBE_ENOTFOUND)
      rc = pick(q,
                "SELECT id, key, attempts FROM jobs WHERE state='ready' AND available_at_ms<=?1"
                " ORDER BY available_at_ms, id LIMIT 1",
                now, &id, out);
    break;
  }
  if (rc) goto out;
  rc = prepare(q,
               "UPDATE jobs SET state='leased', attempts=attempts+1, lease_until_ms=?2,"
               " token=?3, updated_at_ms=?4 WHERE id=?1",
               &st);
  if (rc) goto out;
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_int64(st, 2, now + lease_ms);
  sqlite3_bind_text(st, 3, token, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, now);
  rc = step_update(q, st, "claim update");
  st = NULL;
  if (rc) goto out;
  rc = exec_sql(q, "COMMIT", "claim commit");
  if (rc) goto out;
  out->id = id;
  out->attempts += 1;
  out->lease_until_ms = now + lease_ms;
  memcpy(out->token, token, sizeof(token));
out:
  sqlite3_finalize(st);
  if (rc) {
    rollback(q);
    memset(out, 0, sizeof(*out));
  }
  pthread_mutex_unlock(&q->mu);
  return rc;
}

/* After an UPDATE guarded by token matched no row: why not?  Returns
 * SCRIBE_ENOTFOUND (no such job), SCRIBE_OK when the job is in ok_state with
 * this token (the call was repeated), else SCRIBE_EEXPIRED. */
static int why_unchanged(sq_queue *q, const scribe_job *job, const char *ok_state,
                         bool any_token) {
  sqlite3_stmt *st = NULL;
  int rc = prepare(q, "SELECT state, token FROM jobs WHERE id=?1", &st);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, job->id);
  int s = sqlite3_step(st);
  if (s == SQLITE_ROW) {
    const char *state = (const char *)sqlite3_column_text(st, 0);
    const char *token = (const char *)sqlite3_column_text(st, 1);
    bool same = token && strcmp(token, job->token) == 0;
    rc = ok_state && state && strcmp(state, ok_state) == 0 && (any_token || same)
             ? SCRIBE_OK
             : SCRIBE_EEXPIRED;
  } else if (s == SQLITE_DONE) {
    rc = SCRIBE_ENOTFOUND;
  } else {
    rc = fail_sql(q, s, "job lookup");
  }
  sqlite3_finalize(st);
  return rc;
}

static int sq_extend(scribe_queue *base, scribe_job *job, int64_t lease_ms) {
  sq_queue *q = (sq_queue *)base;
  sqlite3_stmt *st = NULL;
  int64_t now = scribe_now_ms();
  pthread_mutex_lock(&q->mu);
  int rc = prepare(q,
                   "UPDATE jobs SET lease_until_ms=?3, updated_at_ms=?4"
                   " WHERE id=?1 AND token=?2 AND state='leased'",
                   &st);
  if (rc) goto out;
  sqlite3_bind_int64(st, 1, job->id);
  sqlite3_bind_text(st, 2, job->token, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, now + lease_ms);
  sqlite3_bind_int64(st, 4, now);
  rc = step_update(q, st, "extend");
  st = NULL;
  if (rc) goto out;
  if (sqlite3_changes(q->db) == 0) {
    rc = why_unchanged(q, job, NULL, false);
    goto out;
  }
  job->lease_until_ms = now + lease_ms;
out:
  pthread_mutex_unlock(&q->mu);
  return rc;
}

static int sq_complete(scribe_queue *base, const scribe_job *job) {
  sq_queue *q = (sq_queue *)base;
  sqlite3_stmt *st = NULL;
  pthread_mutex_lock(&q->mu);
  /* A lease that ran out but was not claimed again still belongs to us. */
  int rc = prepare(q,
                   "UPDATE jobs SET state='done', lease_until_ms=0, last_error=NULL,"
                   " updated_at_ms=?3 WHERE id=?1 AND token=?2 AND state='leased'",
                   &st);
  if (rc) goto out;
  sqlite3_bind_int64(st, 1, job->id);
  sqlite3_bind_text(st, 2, job->token, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, scribe_now_ms());
  rc = step_update(q, st, "complete");
  if (rc) goto out;
  if (sqlite3_changes(q->db) == 0) rc = why_unchanged(q, job, "done", true);
out:
  pthread_mutex_unlock(&q->mu);
  return rc;
}

static int sq_retry(scribe_queue *base, const scribe_job *job, const char *reason, bool *dead) {
  sq_queue *q = (sq_queue *)base;
  sqlite3_stmt *st = NULL;
  int64_t now = scribe_now_ms();
  pthread_mutex_lock(&q->mu);
  int rc = exec_sql(q, "BEGIN IMMEDIATE", "retry begin");
  if (rc) goto out;
  rc = prepare(q, "SELECT attempts FROM jobs WHERE id=?1 AND token=?2 AND state='leased'", &st);
  if (rc) goto out;
  sqlite3_bind_int64(st, 1, job->id);
  sqlite3_bind_text(st, 2, job->token, -1, SQLITE_STATIC);
  int s = sqlite3_step(st);
  if (s != SQLITE_ROW) {
    rc = s == SQLITE_DONE ? why_unchanged(q, job, NULL, false) : fail_sql(q, s, "retry select");
    goto out;
  }
  int attempts = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  st = NULL;
  *dead = attempts >= q->max_attempts;
  if (*dead)
    rc = prepare(q,
                 "UPDATE jobs SET state='dead', lease_until_ms=0, last_error=?2,"
                 " updated_at_ms=?3 WHERE id=?1",
                 &st);
  else
    rc = prepare(q,
                 "UPDATE jobs SET state='ready', lease_until_ms=0, token=NULL, last_error=?2,"
                 " updated_at_ms=?3, available_at_ms=?4 WHERE id=?1",
                 &st);
  if (rc) goto out;
  sqlite3_bind_int64(st, 1, job->id);
  sqlite3_bind_text(st, 2, reason ? reason : "retry", -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, now);
  if (!*dead) sqlite3_bind_int64(st, 4, now + backoff_ms(q, attempts));
  rc = step_update(q, st, "retry update");
  st = NULL;
  if (rc) goto out;
  rc = exec_sql(q, "COMMIT", "retry commit");
out:
  sqlite3_finalize(st);
  if (rc) {
    rollback(q);
    *dead = false;
  }
  pthread_mutex_unlock(&q->mu);
  if (rc == SCRIBE_OK && !*dead) signal_waiters();
  return rc;
}

static int sq_fail(scribe_queue *base, const scribe_job *job, const char *reason) {
  sq_queue *q = (sq_queue *)base;
  sqlite3_stmt *st = NULL;
  pthread_mutex_lock(&q->mu);
  int rc = prepare(q,
                   "UPDATE jobs SET state='dead', lease_until_ms=0, last_error=?3,"
                   " updated_at_ms=?4 WHERE id=?1 AND token=?2 AND state='leased'",
                   &st);
  if (rc) goto out;
  sqlite3_bind_int64(st, 1, job->id);
  sqlite3_bind_text(st, 2, job->token, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, reason ? reason : "failed", -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, scribe_now_ms());
  rc = step_update(q, st, "fail");
  if (rc) goto out;
  if (sqlite3_changes(q->db) == 0) rc = why_unchanged(q, job, "dead", false);
out:
  pthread_mutex_unlock(&q->mu);
  return rc;
}

static int sq_release(scribe_queue *base, const scribe_job *job) {
  sq_queue *q = (sq_queue *)base;
  sqlite3_stmt *st = NULL;
  int64_t now = scribe_now_ms();
  pthread_mutex_lock(&q->mu);
  int rc = prepare(q,
                   "UPDATE jobs SET state='ready', lease_until_ms=0, token=NULL,"
                   " attempts=MAX(attempts-1, 0), available_at_ms=?3, updated_at_ms=?3"
                   " WHERE id=?1 AND token=?2 AND state='leased'",
                   &st);
  if (rc) goto out;
  sqlite3_bind_int64(st, 1, job->id);
  sqlite3_bind_text(st, 2, job->token, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, now);
  rc = step_update(q, st, "release");
  if (rc) goto out;
  if (sqlite3_changes(q->db) == 0) rc = why_unchanged(q, job, NULL, false);
out:
  pthread_mutex_unlock(&q->mu);
  if (rc == SCRIBE_OK) signal_waiters();
  return rc;
}

/* Epoch ms when the next job falls due (ready or lease expiring), or -1
 * when the queue holds no pending job. */
static int next_due(sq_queue *q, int64_t *due) {
  sqlite3_stmt *st = NULL;
  *due = -1;
  pthread_mutex_lock(&q->mu);
  int rc = prepare(q,
                   "SELECT MIN(t) FROM ("
                   " SELECT MIN(available_at_ms) AS t FROM jobs WHERE state='ready'"
                   " UNION ALL"
                   " SELECT MIN(lease_until_ms) AS t FROM jobs WHERE state='leased')",
                   &st);
  if (rc) goto out;
  int s = sqlite3_step(st);
  if (s == SQLITE_ROW) {
    if (sqlite3_column_type(st, 0) != SQLITE_NULL) *due = sqlite3_column_int64(st, 0);
  } else {
    rc = fail_sql(q, s, "wait select");
  }
out:
  sqlite3_finalize(st);
  pthread_mutex_unlock(&q->mu);
  return rc;
}

static int sq_wait(scribe_queue *base, int timeout_ms) {
  sq_queue *q = (sq_queue *)base;
  pthread_once(&wait_once, wait_init);
  int64_t deadline = scribe_mono_ms() + timeout_ms;
  pthread_mutex_lock(&wait_mu);
  uint64_t gen = wait_gen; /* taken before looking, so no push is missed */
  pthread_mutex_unlock(&wait_mu);
  for (;;) {
    int64_t due = -1;
    int rc = next_due(q, &due);
    int64_t now = scribe_now_ms();
    if (rc == SCRIBE_OK && due >= 0 && due <= now) return SCRIBE_OK;
    int64_t left = deadline - scribe_mono_ms();
    if (left <= 0) return SCRIBE_ETIMEOUT;
    int64_t nap = left < q->poll_ms ? left : q->poll_ms;
    if (due >= 0 && due - now < nap) nap = due - now;
    if (nap < 1) nap = 1;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(nap / 1000);
    ts.tv_nsec += (long)(nap % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&wait_mu);
    while (wait_gen == gen) {
      if (pthread_cond_timedwait(&wait_cv, &wait_mu, &ts) != 0) break; /* ETIMEDOUT */
    }
    bool woken = wait_gen != gen;
    pthread_mutex_unlock(&wait_mu);
    if (woken) return SCRIBE_OK;
  }
}

static void sq_wake(scribe_queue *base) { signal_waiters(); }

static int sq_stats(scribe_queue *base, scribe_queue_stats *out) {
  sq_queue *q = (sq_queue *)base;
  sqlite3_stmt *st = NULL;
  pthread_mutex_lock(&q->mu);
  int rc = prepare(q, "SELECT state, COUNT(*) FROM jobs GROUP BY state", &st);
  if (rc) goto out;
  int s;
  while ((s = sqlite3_step(st)) == SQLITE_ROW) {
    const char *state = (const char *)sqlite3_column_text(st, 0);
    int64_t n = sqlite3_column_int64(st, 1);
    if (!state) continue;
    if (strcmp(state, "ready") == 0) out->ready = n;
    else if (strcmp(state, "leased") == 0) out->leased = n;
    else if (strcmp(state, "done") == 0) out->done = n;
    else if (strcmp(state, "dead") == 0) out->dead = n;
  }
  if (s != SQLITE_DONE) rc = fail_sql(q, s, "stats");
out:
  sqlite3_finalize(st);
  pthread_mutex_unlock(&q->mu);
  return rc;
}

const scribe_queue_backend scribe_queue_sqlite = {
    .version = 1,
    .name = "sqlite",
    .create = sq_create,
    .free = sq_free,
    .push = sq_push,
    .claim = sq_claim,
    .extend = sq_extend,
    .complete = sq_complete,
    .retry = sq_retry,
    .fail = sq_fail,
    .release = sq_release,
    .wait = sq_wait,
    .wake = sq_wake,
    .stats = sq_stats,
};
