/*
 * queue_postgres.c - backend "postgres": the job queue in PostgreSQL, shared
 * by any number of workers on any number of machines.
 *
 * Table scribe_jobs (postgres_schema.c), one row per job, with the same
 * life cycle as queue_sqlite.c:
 *   ready --claim--> leased --complete--> done
 *                      |----retry-----> ready (later) | dead (attempts used up)
 *                      |----fail------> dead
 *                      |----release---> ready (attempt given back)
 *                      `--lease expires--> claimable again; when its attempts
 *                         are used up the next claim dead-letters it.
 * A partial unique index keeps at most one ready-or-leased job per key
 * (push is INSERT ... ON CONFLICT DO NOTHING).
 *
 * Claims pick the oldest due row with SELECT ... FOR UPDATE SKIP LOCKED
 * inside the claiming UPDATE, so concurrent workers never wait for each
 * other and never get the same job.  Every claim stores a fresh random
 * token that later calls must present (a worker whose lease expired and
 * was claimed again gets SCRIBE_EEXPIRED).  Times are the database
 * server's clock (now()), so workers on machines with skewed clocks agree
 * on leases and backoff.
 *
 * Connections: a pool of two per handle (postgres.h) that reconnects with
 * backoff; a call that fails because PostgreSQL went away returns
 * SCRIBE_EUNAVAILABLE and the next call reconnects.
 *
 * wait(): push, retry and release NOTIFY channel scribe_jobs.  One waiter
 * per handle at a time holds a LISTEN connection and sleeps in poll() on
 * its socket (and on a pipe that wake() writes to); other waiters of the
 * handle sleep on a condition variable that the first one signals, and
 * all of them re-read the table at least every poll_ms (and when the
 * earliest delayed job or lease falls due), which also covers a lost
 * LISTEN connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/error.h"
#include "core/log.h"
#include "queue/postgres.h"
#include "queue/queue.h"

#define LABEL "queue postgres"
#define POOL_SIZE 2
#define DONE_RETENTION_MS (7LL * 24 * 3600 * 1000)
#define LISTEN_RETRY_MS 1000
#define CHANNEL "scribe_jobs"

/* The server's clock in epoch milliseconds (the transaction's start). */
#define NOW_MS "(floor(extract(epoch FROM now()) * 1000))::bigint"

typedef struct pq_queue {
  scribe_queue base;
  scribe_postgres_pool *pool;
  int max_attempts;
  int64_t backoff_base_ms;
  int64_t backoff_max_ms;
  int poll_ms;
  /* wait() / wake() */
  pthread_mutex_t wmu; /* guards wgen */
  pthread_cond_t wcv;  /* CLOCK_MONOTONIC */
  uint64_t wgen;       /* bumped by every wake-up */
  pthread_mutex_t lmu; /* held by the waiter using `listen` */
  PGconn *listen;      /* LISTEN scribe_jobs; guarded by lmu */
  int64_t listen_retry_at_ms;
  int wake_pipe[2]; /* wake() writes a byte to break the LISTEN holder's poll */
} pq_queue;

extern const scribe_queue_backend scribe_queue_postgres;

/* ---- helpers ---------------------------------------------------------- */

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void i64(char *buf, size_t len, int64_t v) { snprintf(buf, len, "%lld", (long long)v); }

static int64_t col_i64(const PGresult *res, int row, int col) {
  return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* Wakes this handle's waiters (a push or release here; wake()). */
static void wake_local(pq_queue *q) {
  pthread_mutex_lock(&q->wmu);
  q->wgen++;
  pthread_cond_broadcast(&q->wcv);
  pthread_mutex_unlock(&q->wmu);
  if (q->wake_pipe[1] >= 0) {
    ssize_t w = write(q->wake_pipe[1], "x", 1);
    (void)w; /* a full pipe already wakes the poller */
  }
}

/* ---- create / free ---------------------------------------------------- */

static void pq_free(scribe_queue *base) {
  pq_queue *q = (pq_queue *)base;
  if (q->listen) PQfinish(q->listen);
  scribe_postgres_pool_free(q->pool);
  for (int i = 0; i < 2; i++)
    if (q->wake_pipe[i] >= 0) close(q->wake_pipe[i]);
  pthread_cond_destroy(&q->wcv);
  pthread_mutex_destroy(&q->wmu);
  pthread_mutex_destroy(&q->lmu);
  free(q);
}

static scribe_queue *pq_create(const scribe_queue_params *p, char *err, size_t errlen) {
  pq_queue *q = calloc(1, sizeof(*q));
  if (!q) {
    snprintf(err, errlen, LABEL ": out of memory");
    return NULL;
  }
  q->base.backend = &scribe_queue_postgres;
  q->max_attempts = p->max_attempts;
  q->backoff_base_ms = p->backoff_base_ms;
  q->backoff_max_ms = p->backoff_max_ms;
  q->poll_ms = p->poll_ms;
  q->wake_pipe[0] = q->wake_pipe[1] = -1;
  pthread_mutex_init(&q->wmu, NULL);
  pthread_mutex_init(&q->lmu, NULL);
  pthread_condattr_t a;
  pthread_condattr_init(&a);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  pthread_cond_init(&q->wcv, &a);
  pthread_condattr_destroy(&a);
  if (pipe2(q->wake_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
    q->wake_pipe[0] = q->wake_pipe[1] = -1;
    snprintf(err, errlen, LABEL ": cannot create a pipe: %s", strerror(errno));
    goto fail;
  }
  q->pool = scribe_postgres_pool_create(p->conninfo, LABEL, POOL_SIZE, err, errlen);
  if (!q->pool) goto fail;
  /* Housekeeping: finished jobs are only kept a while for inspection. */
  char keep[24];
  i64(keep, sizeof(keep), DONE_RETENTION_MS);
  const char *v[] = {keep};
  scribe_postgres_conn *c = scribe_postgres_pool_acquire(q->pool);
  scribe_postgres_exec(c, "prune done jobs",
                       "DELETE FROM scribe_jobs WHERE state='done' AND updated_at_ms < " NOW_MS
                       " - $1::bigint",
                       1, v, NULL);
  scribe_postgres_pool_release(q->pool, c);
  return &q->base;

fail:
  pq_free(&q->base);
  return NULL;
}

/* ---- operations ------------------------------------------------------- */

static int pq_push(scribe_queue *base, const char *key, int64_t delay_ms, bool *created) {
  pq_queue *q = (pq_queue *)base;
  char delay[24];
  i64(delay, sizeof(delay), delay_ms);
  const char *v[] = {key, delay};
  PGresult *res = NULL;
  scribe_postgres_conn *c = scribe_postgres_pool_acquire(q->pool);
  int rc = scribe_postgres_exec(
      c, "push",
      "WITH ins AS (INSERT INTO scribe_jobs(key, state, attempts, available_at_ms,"
      " created_at_ms, updated_at_ms) VALUES($1, 'ready', 0, " NOW_MS " + $2::bigint, " NOW_MS
      ", " NOW_MS ") ON CONFLICT (key) WHERE state IN ('ready','leased') DO NOTHING"
      " RETURNING id)"
      " SELECT id, pg_notify('" CHANNEL "', '') FROM ins",
      2, v, &res);
  scribe_postgres_pool_release(q->pool, c);
  if (rc) return rc;
  *created = PQntuples(res) > 0;
  PQclear(res);
  if (*created) wake_local(q);
  return SCRIBE_OK;
}

/* Runs one claiming UPDATE (RETURNING id, key, attempts, lease_until_ms)
 * and fills out; SCRIBE_ENOTFOUND when it matched no row. */
static int claim_one(scribe_postgres_conn *c, const char *sql, int n, const char *const *v,
                     scribe_job *out) {
  PGresult *res = NULL;
  int rc = scribe_postgres_exec(c, "claim", sql, n, v, &res);
  if (rc) return rc;
  if (PQntuples(res) == 0) {
    PQclear(res);
    return SCRIBE_ENOTFOUND;
  }
  out->id = col_i64(res, 0, 0);
  snprintf(out->key, sizeof(out->key), "%s", PQgetvalue(res, 0, 1));
  out->attempts = (int)col_i64(res, 0, 2);
  out->lease_until_ms = col_i64(res, 0, 3);
  PQclear(res);
  return SCRIBE_OK;
}

#define CLAIM_SET                                                                      \
  "UPDATE scribe_jobs j SET state='leased', attempts=j.attempts+1,"                   \
  " lease_until_ms=" NOW_MS " + $1::bigint, token=$2, updated_at_ms=" NOW_MS " FROM (" \
  "SELECT id FROM scribe_jobs WHERE "
#define CLAIM_END                                                              \
  " LIMIT 1 FOR UPDATE SKIP LOCKED) c WHERE j.id=c.id"                       \
  " RETURNING j.id, j.key, j.attempts, j.lease_until_ms"

static int pq_claim(scribe_queue *base, int64_t lease_ms, scribe_job *out) {
  pq_queue *q = (pq_queue *)base;
  char token[sizeof(out->token)];
  int rc = scribe_random_hex(token, sizeof(token), 16);
  if (rc) return rc;
  char lease[24], maxa[16];
  i64(lease, sizeof(lease), lease_ms);
  snprintf(maxa, sizeof(maxa), "%d", q->max_attempts);
  scribe_postgres_conn *c = scribe_postgres_pool_acquire(q->pool);
  /* Jobs whose worker died on the last allowed attempt: dead-letter. */
  const char *dv[] = {maxa};
  PGresult *res = NULL;
  rc = scribe_postgres_exec(
      c, "dead-letter expired jobs",
      "UPDATE scribe_jobs SET state='dead', token=NULL, lease_until_ms=0,"
      " last_error='lease expired on the last attempt', updated_at_ms=" NOW_MS
      " WHERE id IN (SELECT id FROM scribe_jobs WHERE state='leased' AND lease_until_ms <= " NOW_MS
      " AND attempts >= $1::integer FOR UPDATE SKIP LOCKED) RETURNING id, attempts",
      1, dv, &res);
  if (rc) goto out;
  for (int i = 0; i < PQntuples(res); i++)
    LOG_WARN("queue: job %lld dead-lettered: lease expired after %lld attempts",
             (long long)col_i64(res, i, 0), (long long)col_i64(res, i, 1));
  PQclear(res);
  /* Expired leases first (those jobs have waited longest), then ready. */
  const char *v[] = {lease, token, maxa};
  rc = claim_one(c,
                 CLAIM_SET "state='leased' AND lease_until_ms <= " NOW_MS
                           " AND attempts < $3::integer ORDER BY lease_until_ms, id" CLAIM_END,
                 3, v, out);
  if (rc == SCRIBE_ENOTFOUND)
    rc = claim_one(c,
                   CLAIM_SET "state='ready' AND available_at_ms <= " NOW_MS
                             " ORDER BY available_at_ms, id" CLAIM_END,
                   2, v, out);
  if (rc == SCRIBE_OK) memcpy(out->token, token, sizeof(token));
out:
  scribe_postgres_pool_release(q->pool, c);
  if (rc) memset(out, 0, sizeof(*out));
  return rc;
}

/* After an UPDATE guarded by token matched no row: why not?  Returns
 * SCRIBE_ENOTFOUND (no such job), SCRIBE_OK when the job is in ok_state with
 * this token (the call was repeated), else SCRIBE_EEXPIRED. */
static int why_unchanged(scribe_postgres_conn *c, const scribe_job *job, const char *ok_state,
                         bool any_token) {
  char id[24];
  i64(id, sizeof(id), job->id);
  const char *v[] = {id};
  PGresult *res = NULL;
  int rc = scribe_postgres_exec(c, "job lookup",
                                "SELECT state, token FROM scribe_jobs WHERE id=$1::bigint", 1, v,
                                &res);
  if (rc) return rc;
  if (PQntuples(res) == 0) {
    rc = SCRIBE_ENOTFOUND;
  } else {
    const char *state = PQgetvalue(res, 0, 0);
    bool same = !PQgetisnull(res, 0, 1) && strcmp(PQgetvalue(res, 0, 1), job->token) == 0;
    rc = ok_state && strcmp(state, ok_state) == 0 && (any_token || same) ? SCRIBE_OK
                                                                         : SCRIBE_EEXPIRED;
  }
  PQclear(res);
  return rc;
}

/* Runs an UPDATE guarded by (id=$1, token=$2, state='leased'); when it
 * matched no row, explains why (see why_unchanged).  *res_out (may be
 * NULL) gets the result when a row matched. */
static int guarded(pq_queue *q, const char *op, const char *sql, int n, const char *const *v,
                   const scribe_job *job, const char *ok_state, bool any_token,
                   PGresult **res_out) {
  PGresult *res = NULL;
  if (res_out) *res_out = NULL;
  scribe_postgres_conn *c = scribe_postgres_pool_acquire(q->pool);
  int rc = scribe_postgres_exec(c, op, sql, n, v, &res);
  if (rc == SCRIBE_OK) {
    bool changed = PQresultStatus(res) == PGRES_TUPLES_OK ? PQntuples(res) > 0
                                                          : strcmp(PQcmdTuples(res), "0") != 0;
    if (!changed) {
      rc = why_unchanged(c, job, ok_state, any_token);
    } else if (res_out) {
      *res_out = res;
      res = NULL;
    }
  }
  scribe_postgres_pool_release(q->pool, c);
  PQclear(res);
  return rc;
}

static int pq_extend(scribe_queue *base, scribe_job *job, int64_t lease_ms) {
  pq_queue *q = (pq_queue *)base;
  char id[24], lease[24];
  i64(id, sizeof(id), job->id);
  i64(lease, sizeof(lease), lease_ms);
  const char *v[] = {id, job->token, lease};
  PGresult *res = NULL;
  int rc = guarded(q, "extend",
                   "UPDATE scribe_jobs SET lease_until_ms=" NOW_MS " + $3::bigint, updated_at_ms=" NOW_MS
                   " WHERE id=$1::bigint AND token=$2 AND state='leased' RETURNING lease_until_ms",
                   3, v, job, NULL, false, &res);
  if (rc == SCRIBE_OK) {
    job->lease_until_ms = col_i64(res, 0, 0);
    PQclear(res);
  }
  return rc;
}

static int pq_complete(scribe_queue *base, const scribe_job *job) {
  pq_queue *q = (pq_queue *)base;
  char id[24];
  i64(id, sizeof(id), job->id);
  const char *v[] = {id, job->token};
  /* A lease that ran out but was not claimed again still belongs to us. */
  return guarded(q, "complete",
                 "UPDATE scribe_jobs SET state='done', lease_until_ms=0, last_error=NULL,"
                 " updated_at_ms=" NOW_MS " WHERE id=$1::bigint AND token=$2 AND state='leased'",
                 2, v, job, "done", true, NULL);
}

static int pq_retry(scribe_queue *base, const scribe_job *job, const char *reason, bool *dead) {
  pq_queue *q = (pq_queue *)base;
  char id[24], maxa[16], bbase[24], bmax[24];
  i64(id, sizeof(id), job->id);
  snprintf(maxa, sizeof(maxa), "%d", q->max_attempts);
  i64(bbase, sizeof(bbase), q->backoff_base_ms);
  i64(bmax, sizeof(bmax), q->backoff_max_ms);
  const char *v[] = {id, job->token, maxa, reason ? reason : "retry", bbase, bmax};
  PGresult *res = NULL;
  /* Backoff: base * 2^(attempts-1), capped (computed in float8 so large
   * attempt counts cannot overflow). */
  int rc = guarded(
      q, "retry",
      "WITH u AS (UPDATE scribe_jobs SET"
      " state = CASE WHEN attempts >= $3::integer THEN 'dead' ELSE 'ready' END,"
      " token = CASE WHEN attempts >= $3::integer THEN token ELSE NULL END,"
      " lease_until_ms=0, last_error=$4, updated_at_ms=" NOW_MS ","
      " available_at_ms = CASE WHEN attempts >= $3::integer THEN available_at_ms ELSE " NOW_MS
      " + LEAST($5::float8 * power(2::float8, GREATEST(attempts - 1, 0)), $6::float8)::bigint"
      " END"
      " WHERE id=$1::bigint AND token=$2 AND state='leased' RETURNING state)"
      " SELECT state, pg_notify('" CHANNEL "', '') FROM u",
      6, v, job, NULL, false, &res);
  if (rc == SCRIBE_OK) {
    *dead = strcmp(PQgetvalue(res, 0, 0), "dead") == 0;
    PQclear(res);
    if (!*dead) wake_local(q);
  }
  return rc;
}

static int pq_fail(scribe_queue *base, const scribe_job *job, const char *reason) {
  pq_queue *q = (pq_queue *)base;
  char id[24];
  i64(id, sizeof(id), job->id);
  const char *v[] = {id, job->token, reason ? reason : "failed"};
  return guarded(q, "fail",
                 "UPDATE scribe_jobs SET state='dead', lease_until_ms=0, last_error=$3,"
                 " updated_at_ms=" NOW_MS " WHERE id=$1::bigint AND token=$2 AND state='leased'",
                 3, v, job, "dead", false, NULL);
}

static int pq_release(scribe_queue *base, const scribe_job *job) {
  pq_queue *q = (pq_queue *)base;
  char id[24];
  i64(id, sizeof(id), job->id);
  const char *v[] = {id, job->token};
  PGresult *res = NULL;
  int rc = guarded(q, "release",
                   "WITH u AS (UPDATE scribe_jobs SET state='ready', lease_until_ms=0, token=NULL,"
                   " attempts=GREATEST(attempts-1, 0), available_at_ms=" NOW_MS
                   ", updated_at_ms=" NOW_MS
                   " WHERE id=$1::bigint AND token=$2 AND state='leased' RETURNING id)"
                   " SELECT id, pg_notify('" CHANNEL "', '') FROM u",
                   2, v, job, NULL, false, &res);
  if (rc == SCRIBE_OK) {
    PQclear(res);
    wake_local(q);
  }
  return rc;
}

/* When the next job falls due, in ms from now on the server's clock
 * (<= 0: due now); -1 when no job is pending. */
static int next_due(pq_queue *q, int64_t *in_ms) {
  *in_ms = -1;
  PGresult *res = NULL;
  scribe_postgres_conn *c = scribe_postgres_pool_acquire(q->pool);
  int rc = scribe_postgres_exec(
      c, "wait select",
      "SELECT LEAST((SELECT MIN(available_at_ms) FROM scribe_jobs WHERE state='ready'),"
      " (SELECT MIN(lease_until_ms) FROM scribe_jobs WHERE state='leased')) - " NOW_MS,
      0, NULL, &res);
  scribe_postgres_pool_release(q->pool, c);
  if (rc) return rc;
  if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
    int64_t d = col_i64(res, 0, 0);
    *in_ms = d < 0 ? 0 : d;
  }
  PQclear(res);
  return SCRIBE_OK;
}

/* Opens the LISTEN connection if there is none (called with lmu).  Quiet
 * on failure: the pool's connection reports outages. */
static void listen_ensure(pq_queue *q) {
  if (q->listen && PQstatus(q->listen) == CONNECTION_OK) return;
  if (q->listen) PQfinish(q->listen);
  q->listen = NULL;
  if (mono_ms() < q->listen_retry_at_ms) return;
  char err[256];
  PGconn *pg = scribe_postgres_connect(scribe_postgres_pool_conninfo(q->pool), LABEL, err,
                                       sizeof(err));
  PGresult *res = pg ? PQexec(pg, "LISTEN " CHANNEL) : NULL;
  if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
    PQclear(res);
    if (pg) PQfinish(pg);
    q->listen_retry_at_ms = mono_ms() + LISTEN_RETRY_MS;
    return;
  }
  PQclear(res);
  PQsetnonblocking(pg, 1);
  q->listen = pg;
}

/* Reads what arrived on the LISTEN connection; true when a notification
 * came.  Drops the connection when it broke (called with lmu). */
static bool listen_drain(pq_queue *q) {
  if (!q->listen) return false;
  if (!PQconsumeInput(q->listen)) {
    PQfinish(q->listen);
    q->listen = NULL;
    return false;
  }
  bool got = false;
  PGnotify *n;
  while ((n = PQnotifies(q->listen)) != NULL) {
    got = true;
    PQfreemem(n);
  }
  return got;
}

static void drain_pipe(int fd) {
  char buf[64];
  while (read(fd, buf, sizeof(buf)) > 0) {
  }
}

static int pq_wait(scribe_queue *base, int timeout_ms) {
  pq_queue *q = (pq_queue *)base;
  int64_t deadline = mono_ms() + timeout_ms;
  pthread_mutex_lock(&q->wmu);
  uint64_t gen = q->wgen; /* taken before looking, so no local push is missed */
  pthread_mutex_unlock(&q->wmu);
  for (;;) {
    bool holder = pthread_mutex_trylock(&q->lmu) == 0;
    if (holder) {
      listen_ensure(q);
      listen_drain(q); /* old news: the table is read next */
    }
    int64_t due = -1;
    int rc = next_due(q, &due);
    if (rc == SCRIBE_OK && due == 0) {
      if (holder) pthread_mutex_unlock(&q->lmu);
      return SCRIBE_OK;
    }
    int64_t left = deadline - mono_ms();
    if (left <= 0) {
      if (holder) pthread_mutex_unlock(&q->lmu);
      return SCRIBE_ETIMEOUT;
    }
    int64_t nap = left < q->poll_ms ? left : q->poll_ms;
    if (due > 0 && due < nap) nap = due;
    if (nap < 1) nap = 1;
    bool woken = false;
    if (holder) {
      pthread_mutex_lock(&q->wmu);
      woken = q->wgen != gen;
      pthread_mutex_unlock(&q->wmu);
      if (!woken) {
        struct pollfd fds[2] = {{.fd = q->wake_pipe[0], .events = POLLIN},
                                {.fd = q->listen ? PQsocket(q->listen) : -1, .events = POLLIN}};
        int pr = poll(fds, 2, (int)nap);
        if (pr > 0 && (fds[0].revents & POLLIN)) {
          drain_pipe(q->wake_pipe[0]);
          woken = true;
        }
        if (pr > 0 && fds[1].fd >= 0 && fds[1].revents && listen_drain(q)) {
          woken = true;
          wake_local(q); /* share the news with this handle's other waiters */
          drain_pipe(q->wake_pipe[0]);
        }
      }
      pthread_mutex_unlock(&q->lmu);
    } else {
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      ts.tv_sec += (time_t)(nap / 1000);
      ts.tv_nsec += (long)(nap % 1000) * 1000000L;
      if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
      }
      pthread_mutex_lock(&q->wmu);
      while (q->wgen == gen)
        if (pthread_cond_timedwait(&q->wcv, &q->wmu, &ts) != 0) break; /* ETIMEDOUT */
      woken = q->wgen != gen;
      pthread_mutex_unlock(&q->wmu);
    }
    if (woken) return SCRIBE_OK;
  }
}

static void pq_wake(scribe_queue *base) { wake_local((pq_queue *)base); }

static int pq_stats(scribe_queue *base, scribe_queue_stats *out) {
  pq_queue *q = (pq_queue *)base;
  PGresult *res = NULL;
  scribe_postgres_conn *c = scribe_postgres_pool_acquire(q->pool);
  int rc = scribe_postgres_exec(c, "stats", "SELECT state, COUNT(*) FROM scribe_jobs GROUP BY state",
                                0, NULL, &res);
  scribe_postgres_pool_release(q->pool, c);
  if (rc) return rc;
  for (int i = 0; i < PQntuples(res); i++) {
    const char *state = PQgetvalue(res, i, 0);
    int64_t n = col_i64(res, i, 1);
    if (strcmp(state, "ready") == 0) out->ready = n;
    else if (strcmp(state, "leased") == 0) out->leased = n;
    else if (strcmp(state, "done") == 0) out->done = n;
    else if (strcmp(state, "dead") == 0) out->dead = n;
  }
  PQclear(res);
  return SCRIBE_OK;
}

const scribe_queue_backend scribe_queue_postgres = {
    .version = 1,
    .name = "postgres",
    .create = pq_create,
    .free = pq_free,
    .push = pq_push,
    .claim = pq_claim,
    .extend = pq_extend,
    .complete = pq_complete,
    .retry = pq_retry,
    .fail = pq_fail,
    .release = pq_release,
    .wait = pq_wait,
    .wake = pq_wake,
    .stats = pq_stats,
};
