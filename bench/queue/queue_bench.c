/*
 * queue_bench.c - the queue alone (no decoding, no engines): jobs per second
 * through push + claim + complete with 1, 2, 4 and 8 worker threads, each
 * with its own handle (as separate processes would have), and the latency
 * of an event from one notify handle to a subscriber on another (a worker's
 * completion reaching a WebSocket held by another server).  Runs the sqlite
 * backends, and the postgres ones when a connection string is given.
 *
 *   queue_bench DIR [POSTGRES_CONNINFO] [JOBS]
 *
 * A benchmark, not a test: it prints figures and never fails on time.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/error.h"
#include "notify/notify.h"
#include "queue/queue.h"

static const char *g_backend, *g_path, *g_conninfo;
static atomic_long g_done;
static long g_jobs;

static scribe_queue *open_queue(void) {
  char err[256];
  scribe_queue_params p = scribe_queue_default_params();
  p.path = g_path;
  p.conninfo = g_conninfo;
  scribe_queue *q = scribe_queue_create(g_backend, &p, err, sizeof(err));
  if (!q) fprintf(stderr, "queue %s: %s\n", g_backend, err);
  return q;
}

static void *worker(void *arg) {
  scribe_queue *q = open_queue();
  if (!q) return NULL;
  while (atomic_load(&g_done) < g_jobs) {
    scribe_job job;
    int rc = scribe_queue_claim(q, 60000, &job);
    if (rc == SCRIBE_ENOTFOUND) {
      scribe_queue_wait(q, 5);
      continue;
    }
    if (rc) continue;
    if (scribe_queue_complete(q, &job) == SCRIBE_OK) atomic_fetch_add(&g_done, 1);
  }
  scribe_queue_free(q);
  return NULL;
}

static void run_queue(int nworkers, int round) {
  scribe_queue *q = open_queue();
  if (!q) return;
  for (long i = 0; i < g_jobs; i++) {
    char key[64];
    snprintf(key, sizeof(key), "bench-%d-%d-%ld", round, nworkers, i);
    scribe_queue_push(q, key, 0, NULL);
  }
  atomic_store(&g_done, 0);
  pthread_t th[8];
  int64_t t0 = scribe_mono_ms();
  for (int i = 0; i < nworkers; i++) pthread_create(&th[i], NULL, worker, NULL);
  for (int i = 0; i < nworkers; i++) pthread_join(th[i], NULL);
  int64_t ms = scribe_mono_ms() - t0;
  printf("queue %-8s workers=%d: %ld jobs in %lld ms = %.0f jobs/s\n", g_backend, nworkers,
         g_jobs, (long long)ms, ms ? g_jobs * 1000.0 / (double)ms : 0.0);
  scribe_queue_free(q);
}

/* ---- event latency ----------------------------------------------------- */

typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int got;
} inbox;

static void on_event(void *ud, const char *key, const char *ev) {
  inbox *b = ud;
  pthread_mutex_lock(&b->mu);
  b->got++;
  pthread_cond_signal(&b->cv);
  pthread_mutex_unlock(&b->mu);
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void run_events(const char *backend, const char *conninfo, int n) {
  char err[256];
  scribe_notify_params p = scribe_notify_default_params();
  p.conninfo = conninfo;
  scribe_notify *pub = scribe_notify_create(backend, &p, err, sizeof(err));
  scribe_notify *sub = scribe_notify_create(backend, &p, err, sizeof(err));
  if (!pub || !sub) {
    fprintf(stderr, "notify %s: %s\n", backend, err);
    scribe_notify_free(pub);
    scribe_notify_free(sub);
    return;
  }
  inbox b = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
  uint64_t id;
  scribe_notify_subscribe(sub, on_event, &b, &id);
  double *lat = calloc((size_t)n, sizeof(double));
  int have = 0;
  for (int i = 0; i < n && lat; i++) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_mutex_lock(&b.mu);
    int want = b.got + 1;
    pthread_mutex_unlock(&b.mu);
    scribe_notify_publish(pub, "bench", "{\"type\":\"completed\",\"audioKey\":\"bench\"}");
    pthread_mutex_lock(&b.mu);
    while (b.got < want) {
      struct timespec dl;
      clock_gettime(CLOCK_REALTIME, &dl);
      dl.tv_sec += 2;
      if (pthread_cond_timedwait(&b.cv, &b.mu, &dl) != 0) break;
    }
    int ok = b.got >= want;
    pthread_mutex_unlock(&b.mu);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (ok) lat[have++] = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
  }
  if (have) {
    qsort(lat, (size_t)have, sizeof(double), cmp);
    printf("event %-8s publisher -> subscriber on another handle: median %.2f ms, p99 %.2f ms "
           "(%d events)\n",
           backend, lat[have / 2], lat[(int)(have * 0.99)], have);
  }
  free(lat);
  scribe_notify_unsubscribe(sub, id);
  scribe_notify_free(sub);
  scribe_notify_free(pub);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: queue_bench DIR [POSTGRES_CONNINFO] [JOBS]\n");
    return 2;
  }
  char path[1024];
  snprintf(path, sizeof(path), "%s/bench.db", argv[1]);
  const char *pg = argc > 2 && argv[2][0] ? argv[2] : NULL;
  g_jobs = argc > 3 ? atol(argv[3]) : 2000;
  const char *backends[] = {"sqlite", pg ? "postgres" : NULL};
  for (int b = 0; b < 2 && backends[b]; b++) {
    g_backend = backends[b];
    g_path = path;
    g_conninfo = pg;
    int round = 0;
    for (int w = 1; w <= 8; w *= 2) run_queue(w, round++);
  }
  run_events("sqlite", path, 200);
  if (pg) run_events("postgres", pg, 200);
  return 0;
}
