/*
 * notify_sqlite.c - the "sqlite" notifications backend: events reach
 * subscribers in this process at once (through an inner local fan-out) and
 * subscribers in other processes sharing the same SQLite file (a `scribe
 * worker` beside a `scribe serve`) within poll_ms.
 *
 * Each published event is also appended to the `events` table with this
 * handle's random origin id; a listener thread reads rows newer than the
 * last one it saw and delivers those from other origins.  Rows older than
 * ten minutes are pruned.  The full result document is not copied into the
 * table: a "completed" event is stored without its "result" member (the
 * HTTP layer loads the stored result when an event lacks it).
 */
#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/crypto.h"
#include "core/error.h"
#include "core/log.h"
#include "notify/notify.h"

extern const scribe_notify_backend scribe_notify_local;
const scribe_notify_backend scribe_notify_sqlite;

#define POLL_MS 20
#define KEEP_MS (10 * 60 * 1000)

typedef struct sqlite_notify {
  scribe_notify base;
  scribe_notify *local; /* in-process fan-out */
  sqlite3 *db;          /* writer + reader, guarded by mu */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t thread;
  bool stop;
  char origin[33];
  int64_t last_id;
  int64_t last_prune_ms;
} sqlite_notify;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int exec(sqlite3 *db, const char *sql) {
  for (int i = 0; i < 50; i++) {
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK) return SCRIBE_OK;
    if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) return SCRIBE_EIO;
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return SCRIBE_EAGAIN;
}

/* Delivers rows newer than last_id from other origins.  Called with mu. */
static void poll_rows(sqlite_notify *n) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(n->db,
                         "SELECT id, origin, key, event FROM events WHERE id > ? ORDER BY id "
                         "LIMIT 1000",
                         -1, &st, NULL) != SQLITE_OK)
    return;
  sqlite3_bind_int64(st, 1, n->last_id);
  typedef struct {
    char *key, *event;
  } row;
  row rows[1000];
  int count = 0;
  while (count < 1000 && sqlite3_step(st) == SQLITE_ROW) {
    n->last_id = sqlite3_column_int64(st, 0);
    const char *origin = (const char *)sqlite3_column_text(st, 1);
    if (origin && strcmp(origin, n->origin) == 0) continue;
    const char *k = (const char *)sqlite3_column_text(st, 2);
    const char *e = (const char *)sqlite3_column_text(st, 3);
    if (!k || !e) continue;
    rows[count].key = strdup(k);
    rows[count].event = strdup(e);
    if (rows[count].key && rows[count].event) count++;
    else {
      free(rows[count].key);
      free(rows[count].event);
    }
  }
  sqlite3_finalize(st);
  int64_t now = now_ms();
  if (now - n->last_prune_ms > 60 * 1000) {
    n->last_prune_ms = now;
    char sql[128];
    snprintf(sql, sizeof(sql), "DELETE FROM events WHERE created_ms < %lld",
             (long long)(now - KEEP_MS));
    sqlite3_exec(n->db, sql, NULL, NULL, NULL);
  }
  pthread_mutex_unlock(&n->mu);
  for (int i = 0; i < count; i++) {
    scribe_notify_publish(n->local, rows[i].key, rows[i].event);
    free(rows[i].key);
    free(rows[i].event);
  }
  pthread_mutex_lock(&n->mu);
}

static void *listener(void *arg) {
  sqlite_notify *n = arg;
  pthread_mutex_lock(&n->mu);
  while (!n->stop) {
    poll_rows(n);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += POLL_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    if (!n->stop) pthread_cond_timedwait(&n->cv, &n->mu, &ts);
  }
  pthread_mutex_unlock(&n->mu);
  return NULL;
}

static void sn_free(scribe_notify *base) {
  sqlite_notify *n = (sqlite_notify *)base;
  if (n->thread) {
    pthread_mutex_lock(&n->mu);
    n->stop = true;
    pthread_cond_broadcast(&n->cv);
    pthread_mutex_unlock(&n->mu);
    pthread_join(n->thread, NULL);
  }
  scribe_notify_free(n->local);
  if (n->db) sqlite3_close(n->db);
  pthread_mutex_destroy(&n->mu);
  pthread_cond_destroy(&n->cv);
  free(n);
}

static scribe_notify *sn_create(const scribe_notify_params *p, char *err, size_t errlen) {
  if (!p->conninfo || !*p->conninfo) {
    snprintf(err, errlen, "notify sqlite: no database path");
    return NULL;
  }
  sqlite_notify *n = calloc(1, sizeof(*n));
  if (!n) return NULL;
  pthread_mutex_init(&n->mu, NULL);
  pthread_cond_init(&n->cv, NULL);
  n->local = scribe_notify_create("local", p, err, errlen);
  if (!n->local || scribe_random_hex(n->origin, sizeof(n->origin), 16)) goto fail;
  if (sqlite3_open_v2(p->conninfo, &n->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      NULL) != SQLITE_OK) {
    snprintf(err, errlen, "notify sqlite: cannot open database: %s",
             n->db ? sqlite3_errmsg(n->db) : "out of memory");
    goto fail;
  }
  sqlite3_busy_timeout(n->db, 5000);
  /* Events are ephemeral: no fsync per event. */
  if (exec(n->db, "PRAGMA journal_mode=WAL") || exec(n->db, "PRAGMA synchronous=NORMAL") ||
      exec(n->db,
           "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, "
           "origin TEXT NOT NULL, key TEXT NOT NULL, event TEXT NOT NULL, "
           "created_ms INTEGER NOT NULL)")) {
    snprintf(err, errlen, "notify sqlite: cannot create the events table: %s",
             sqlite3_errmsg(n->db));
    goto fail;
  }
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(n->db, "SELECT COALESCE(MAX(id), 0) FROM events", -1, &st, NULL) ==
          SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    n->last_id = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  n->last_prune_ms = 0;
  if (pthread_create(&n->thread, NULL, listener, n) != 0) {
    n->thread = 0;
    snprintf(err, errlen, "notify sqlite: cannot start the listener thread");
    goto fail;
  }
  return &n->base;
fail:
  sn_free(&n->base);
  return NULL;
}

static int sn_publish(scribe_notify *base, const char *key, const char *event_json) {
  sqlite_notify *n = (sqlite_notify *)base;
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
  pthread_mutex_lock(&n->mu);
  sqlite3_stmt *st = NULL;
  int src = SCRIBE_EIO;
  if (sqlite3_prepare_v2(n->db,
                         "INSERT INTO events (origin, key, event, created_ms) VALUES (?,?,?,?)",
                         -1, &st, NULL) == SQLITE_OK) {
    sqlite3_bind_text(st, 1, n->origin, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now_ms());
    int s = sqlite3_step(st);
    src = s == SQLITE_DONE ? SCRIBE_OK : (s == SQLITE_BUSY ? SCRIBE_EAGAIN : SCRIBE_EIO);
  }
  sqlite3_finalize(st);
  pthread_mutex_unlock(&n->mu);
  free(stored);
  if (src) LOG_WARN("notify sqlite: event not shared with other processes (%s)",
                    scribe_strerror(src));
  return rc ? rc : src;
}

static int sn_subscribe(scribe_notify *base, scribe_notify_fn fn, void *ud, uint64_t *id) {
  return scribe_notify_subscribe(((sqlite_notify *)base)->local, fn, ud, id);
}

static void sn_unsubscribe(scribe_notify *base, uint64_t id) {
  scribe_notify_unsubscribe(((sqlite_notify *)base)->local, id);
}

const scribe_notify_backend scribe_notify_sqlite = {
    1, "sqlite", sn_create, sn_free, sn_publish, sn_subscribe, sn_unsubscribe,
};
