/*
 * notify_postgres.c - backend "postgres": events reach subscribers in this
 * process at once (through an inner local fan-out) and subscribers of every
 * other process sharing the database (API servers, workers, on any machine)
 * through PostgreSQL LISTEN/NOTIFY.
 *
 * publish(): delivers locally, then appends the event to scribe_events
 * (with this handle's random origin id) and NOTIFYs channel scribe_events
 * with the new row's id, in one statement.  The row, not the NOTIFY
 * payload, carries the event: payloads are limited to 8000 bytes and are
 * lost while a listener is disconnected.  As in notify_sqlite.c, a
 * "completed" event is stored without its "result" member (the HTTP layer
 * loads the stored result when an event lacks it).
 *
 * Ids are handed out in commit order: the insert takes a transaction-level
 * advisory lock first, so a row with a smaller id is always visible before
 * one with a larger id, and "rows newer than the last id delivered" never
 * skips a row committed late.  (This serialises publishing across the
 * cluster; events are small and few per consultation.)
 *
 * The listener thread has its own connection: LISTEN scribe_events, then
 * reads rows newer than the last id it delivered and hands those from other
 * origins to the local subscribers, on every notification and at least
 * once a second.  When the connection is lost (PostgreSQL restarted) it
 * reconnects with backoff (200 ms doubling to 2 s) and, once connected,
 * catches up on every row it missed.  Rows older than ten minutes are
 * pruned (once a minute, by every listener).
 *
 * When PostgreSQL is unreachable, publish() still delivers locally and
 * returns SCRIBE_EUNAVAILABLE: other processes do not get that event.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/error.h"
#include "core/log.h"
#include "notify/notify.h"
#include "queue/postgres.h"

extern const scribe_notify_backend scribe_notify_local;
extern const scribe_notify_backend scribe_notify_postgres;

#define LABEL "notify postgres"
#define CHANNEL "scribe_events"
#define POOL_SIZE 2
#define BATCH 500
#define RESCAN_MS 1000
#define PRUNE_EVERY_MS (60 * 1000)
#define KEEP "10 minutes"
#define RECONNECT_MIN_MS 200
#define RECONNECT_MAX_MS 2000
/* Advisory lock key ordering event ids ("events" in ASCII). */
#define ORDER_LOCK "111524937200755"

typedef struct pg_notify {
  scribe_notify base;
  scribe_notify *local;       /* in-process fan-out */
  scribe_postgres_pool *pool; /* publishing */
  char origin[33];
  pthread_t thread;
  bool thread_started;
  int stop_pipe[2]; /* free() writes to stop the listener */
  atomic_bool stop;
  /* listener thread only */
  PGconn *listen;
  int64_t last_id;
  int64_t last_prune_ms;
  bool outage_logged;
} pg_notify;

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps up to ms unless free() asks the listener to stop; true when it
 * should stop. */
static bool nap(pg_notify *n, int ms) {
  struct pollfd p = {.fd = n->stop_pipe[0], .events = POLLIN};
  poll(&p, 1, ms);
  return atomic_load(&n->stop);
}

static void drop_listen(pg_notify *n) {
  if (n->listen) PQfinish(n->listen);
  n->listen = NULL;
}

/* Reads rows newer than last_id and delivers those from other origins.
 * false when the connection failed. */
static bool catch_up(pg_notify *n) {
  for (;;) {
    char last[24];
    snprintf(last, sizeof(last), "%lld", (long long)n->last_id);
    const char *v[] = {last};
    PGresult *res = PQexecParams(n->listen,
                                 "SELECT id, origin, key, event FROM scribe_events"
                                 " WHERE id > $1::bigint ORDER BY id LIMIT " "500",
                                 1, NULL, v, NULL, NULL, 0);
    if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
      int rc = scribe_postgres_error(n->listen, res);
      const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
      LOG_WARN(LABEL ": reading events failed: %s (%s)", msg ? msg : "connection lost",
               scribe_err_name(rc));
      PQclear(res);
      return false;
    }
    int rows = PQntuples(res);
    for (int i = 0; i < rows; i++) {
      n->last_id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
      if (strcmp(PQgetvalue(res, i, 1), n->origin) == 0) continue; /* delivered at publish */
      scribe_notify_publish(n->local, PQgetvalue(res, i, 2), PQgetvalue(res, i, 3));
    }
    PQclear(res);
    if (rows < BATCH) return true;
  }
}

static void prune(pg_notify *n) {
  int64_t now = mono_ms();
  if (n->last_prune_ms && now - n->last_prune_ms < PRUNE_EVERY_MS) return;
  n->last_prune_ms = now;
  PGresult *res = PQexec(n->listen, "DELETE FROM scribe_events WHERE created_at < now() - "
                                    "interval '" KEEP "'");
  if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
    LOG_WARN(LABEL ": pruning old events failed");
  PQclear(res);
}

/* Connects, LISTENs and catches up; false when that failed. */
static bool listen_connect(pg_notify *n) {
  char err[512];
  n->listen = scribe_postgres_connect(scribe_postgres_pool_conninfo(n->pool), LABEL, err,
                                      sizeof(err));
  if (!n->listen) {
    if (!n->outage_logged) LOG_WARN("%s (listener retrying with backoff)", err);
    n->outage_logged = true;
    return false;
  }
  PGresult *res = PQexec(n->listen, "LISTEN " CHANNEL);
  bool ok = res && PQresultStatus(res) == PGRES_COMMAND_OK;
  PQclear(res);
  if (!ok || !catch_up(n)) {
    drop_listen(n);
    return false;
  }
  if (n->outage_logged) LOG_INFO(LABEL ": listener reconnected and caught up");
  n->outage_logged = false;
  return true;
}

static void *listener(void *arg) {
  pg_notify *n = arg;
  int backoff = 0;
  int64_t last_scan = mono_ms();
  while (!atomic_load(&n->stop)) {
    if (!n->listen) {
      if (!listen_connect(n)) {
        backoff = backoff ? backoff * 2 : RECONNECT_MIN_MS;
        if (backoff > RECONNECT_MAX_MS) backoff = RECONNECT_MAX_MS;
        if (nap(n, backoff)) break;
        continue;
      }
      backoff = 0;
      last_scan = mono_ms();
    }
    struct pollfd fds[2] = {{.fd = n->stop_pipe[0], .events = POLLIN},
                            {.fd = PQsocket(n->listen), .events = POLLIN}};
    int64_t wait = RESCAN_MS - (mono_ms() - last_scan);
    if (wait < 0) wait = 0;
    int pr = poll(fds, 2, (int)wait);
    if (atomic_load(&n->stop)) break;
    bool scan = mono_ms() - last_scan >= RESCAN_MS;
    if (pr > 0 && fds[1].revents) {
      if (!PQconsumeInput(n->listen)) {
        LOG_WARN(LABEL ": listener lost its connection; reconnecting");
        n->outage_logged = true;
        drop_listen(n);
        continue;
      }
      PGnotify *note;
      while ((note = PQnotifies(n->listen)) != NULL) {
        scan = true;
        PQfreemem(note);
      }
    }
    if (!scan) continue;
    last_scan = mono_ms();
    if (!catch_up(n)) {
      n->outage_logged = true;
      drop_listen(n);
      continue;
    }
    prune(n);
  }
  drop_listen(n);
  return NULL;
}

static void pn_free(scribe_notify *base) {
  pg_notify *n = (pg_notify *)base;
  if (n->thread_started) {
    atomic_store(&n->stop, true);
    ssize_t w = write(n->stop_pipe[1], "x", 1);
    (void)w;
    pthread_join(n->thread, NULL);
  }
  for (int i = 0; i < 2; i++)
    if (n->stop_pipe[i] >= 0) close(n->stop_pipe[i]);
  scribe_postgres_pool_free(n->pool);
  scribe_notify_free(n->local);
  free(n);
}

static scribe_notify *pn_create(const scribe_notify_params *p, char *err, size_t errlen) {
  pg_notify *n = calloc(1, sizeof(*n));
  if (!n) {
    snprintf(err, errlen, LABEL ": out of memory");
    return NULL;
  }
  n->base.backend = &scribe_notify_postgres;
  n->stop_pipe[0] = n->stop_pipe[1] = -1;
  atomic_init(&n->stop, false);
  if (pipe2(n->stop_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
    n->stop_pipe[0] = n->stop_pipe[1] = -1;
    snprintf(err, errlen, LABEL ": cannot create a pipe: %s", strerror(errno));
    goto fail;
  }
  n->local = scribe_notify_create("local", p, err, errlen);
  if (!n->local) goto fail;
  if (scribe_random_hex(n->origin, sizeof(n->origin), 16)) {
    snprintf(err, errlen, LABEL ": no randomness for the origin id");
    goto fail;
  }
  n->pool = scribe_postgres_pool_create(p->conninfo, LABEL, POOL_SIZE, err, errlen);
  if (!n->pool) goto fail;
  /* Start from now: older events are not news to a new subscriber. */
  PGresult *res = NULL;
  scribe_postgres_conn *c = scribe_postgres_pool_acquire(n->pool);
  int rc = scribe_postgres_exec(c, "last event id",
                                "SELECT COALESCE(MAX(id), 0) FROM scribe_events", 0, NULL, &res);
  scribe_postgres_pool_release(n->pool, c);
  if (rc) {
    snprintf(err, errlen, LABEL ": cannot read the events table: %s", scribe_strerror(rc));
    goto fail;
  }
  n->last_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
  PQclear(res);
  if (pthread_create(&n->thread, NULL, listener, n) != 0) {
    snprintf(err, errlen, LABEL ": cannot start the listener thread");
    goto fail;
  }
  n->thread_started = true;
  return &n->base;
fail:
  pn_free(&n->base);
  return NULL;
}

static int pn_publish(scribe_notify *base, const char *key, const char *event_json) {
  pg_notify *n = (pg_notify *)base;
  int rc = scribe_notify_publish(n->local, key, event_json);
  /* Copy for other processes, without a bulky result document. */
  char *stored = NULL;
  const char *text = event_json;
  if (strstr(event_json, "\"result\"")) {
    json_t *ev = json_loads(event_json, 0, NULL);
    if (ev && json_object_get(ev, "result")) {
      json_object_del(ev, "result");
      stored = json_dumps(ev, JSON_COMPACT);
      if (stored) text = stored;
    }
    json_decref(ev);
  }
  const char *v[] = {n->origin, key, text};
  scribe_postgres_conn *c = scribe_postgres_pool_acquire(n->pool);
  int src = scribe_postgres_exec(
      c, "publish",
      "WITH l AS (SELECT pg_advisory_xact_lock(" ORDER_LOCK ")),"
      " ins AS (INSERT INTO scribe_events(origin, key, event) SELECT $1, $2, $3 FROM l"
      " RETURNING id)"
      " SELECT pg_notify('" CHANNEL "', id::text) FROM ins",
      3, v, NULL);
  scribe_postgres_pool_release(n->pool, c);
  free(stored);
  if (src) LOG_WARN(LABEL ": event not shared with other processes (%s)", scribe_strerror(src));
  return rc ? rc : src;
}

static int pn_subscribe(scribe_notify *base, scribe_notify_fn fn, void *ud, uint64_t *id) {
  return scribe_notify_subscribe(((pg_notify *)base)->local, fn, ud, id);
}

static void pn_unsubscribe(scribe_notify *base, uint64_t id) {
  scribe_notify_unsubscribe(((pg_notify *)base)->local, id);
}

const scribe_notify_backend scribe_notify_postgres = {
    .version = 1,
    .name = "postgres",
    .create = pn_create,
    .free = pn_free,
    .publish = pn_publish,
    .subscribe = pn_subscribe,
    .unsubscribe = pn_unsubscribe,
};
