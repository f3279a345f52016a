/*
 * test_queue_contract.c - the job queue contract, run against every
 * compiled-in backend (scribe_queue_names()).  A new backend adds a case to
 * make_params() and must pass the same tests unchanged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/wait.h>

#include "../postgres/pg_test_util.h"
#include "../storage/contract_util.h"
#include "core/error.h"
#include "queue/queue.h"

static const char *g_backend; /* backend under test */
static char *g_root;          /* this run's temporary directory */
static int g_seq;

typedef struct fixture {
  char dir[512];
  char path[600];
  scribe_queue_params p;
  scribe_queue *q;
} fixture;

/* Parameters for `backend` keeping its data under dir (path is storage
 * for the backend's address); false to skip a backend this suite does not
 * know how to configure.  Timings are short so the suite runs fast. */
static bool make_params(const char *backend, const char *dir, char *path, size_t pathlen,
                        scribe_queue_params *p) {
  *p = scribe_queue_default_params();
  p->max_attempts = 3;
  p->backoff_base_ms = 200;
  p->backoff_max_ms = 10000;
  p->poll_ms = 50;
  if (strcmp(backend, "sqlite") == 0) {
    snprintf(path, pathlen, "%s/queue.db", dir);
    p->path = path;
    return true;
  }
  if (strcmp(backend, "postgres") == 0) {
    /* A fresh database per test; path holds its connection string. */
    if (!pgt_fresh_db("queue", path, pathlen)) return false;
    p->conninfo = path;
    return true;
  }
  return false;
}

static scribe_queue *open_queue(const fixture *f) {
  char err[256];
  scribe_queue *q = scribe_queue_create(g_backend, &f->p, err, sizeof(err));
  if (!q) fprintf(stderr, "create %s: %s\n", g_backend, err);
  return q;
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  if (!f) return -1;
  snprintf(f->dir, sizeof(f->dir), "%s/t%d", g_root, ++g_seq);
  if (mkdir(f->dir, 0700) != 0) return -1;
  if (!make_params(g_backend, f->dir, f->path, sizeof(f->path), &f->p)) return -1;
  f->q = open_queue(f);
  if (!f->q) return -1;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  scribe_queue_free(f->q);
  tu_rmtree(f->dir);
  free(f);
  return 0;
}

/* Reopens the fixture's queue with changed settings. */
static void reopen(fixture *f, int max_attempts, int64_t base_ms, int64_t max_ms) {
  scribe_queue_free(f->q);
  f->p.max_attempts = max_attempts;
  f->p.backoff_base_ms = base_ms;
  f->p.backoff_max_ms = max_ms;
  f->q = open_queue(f);
  assert_non_null(f->q);
}

static int64_t wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void push_new(scribe_queue *q, const char *key) {
  bool created = false;
  assert_int_equal(scribe_queue_push(q, key, 0, &created), SCRIBE_OK);
  assert_true(created);
}

static void expect_stats(scribe_queue *q, int64_t ready, int64_t leased, int64_t done,
                         int64_t dead) {
  scribe_queue_stats s;
  assert_int_equal(scribe_queue_stats_get(q, &s), SCRIBE_OK);
  assert_int_equal(s.ready, ready);
  assert_int_equal(s.leased, leased);
  assert_int_equal(s.done, done);
  assert_int_equal(s.dead, dead);
}

/* ---- tests ------------------------------------------------------------ */

static void test_registry(void **state) {
  fixture *f = *state;
  char names[256], err[256];
  scribe_queue_names(names, sizeof(names));
  assert_non_null(strstr(names, g_backend));
  assert_null(scribe_queue_find("no-such-backend"));
  assert_null(scribe_queue_create("no-such-backend", &f->p, err, sizeof(err)));
  assert_non_null(strstr(err, g_backend));
  scribe_queue_params bad = f->p;
  bad.max_attempts = 0;
  assert_null(scribe_queue_create(g_backend, &bad, err, sizeof(err)));
  assert_string_equal(scribe_queue_name(f->q), g_backend);
  scribe_queue_free(NULL);
  scribe_queue_wake(NULL);
}

static void test_fifo(void **state) {
  fixture *f = *state;
  push_new(f->q, "audio/a");
  push_new(f->q, "audio/b");
  push_new(f->q, "audio/c");
  expect_stats(f->q, 3, 0, 0, 0);
  scribe_job j[3];
  const char *want[] = {"audio/a", "audio/b", "audio/c"};
  for (int i = 0; i < 3; i++) {
    int64_t before = wall_ms();
    assert_int_equal(scribe_queue_claim(f->q, 60000, &j[i]), SCRIBE_OK);
    assert_string_equal(j[i].key, want[i]);
    assert_int_equal(j[i].attempts, 1);
    assert_true(strlen(j[i].token) >= 16);
    assert_true(j[i].lease_until_ms >= before + 60000 && j[i].lease_until_ms <= wall_ms() + 60000);
  }
  assert_true(j[0].id != j[1].id && j[1].id != j[2].id);
  assert_true(strcmp(j[0].token, j[1].token) != 0);
  scribe_job none;
  assert_int_equal(scribe_queue_claim(f->q, 60000, &none), SCRIBE_ENOTFOUND);
  expect_stats(f->q, 0, 3, 0, 0);
  for (int i = 0; i < 3; i++) assert_int_equal(scribe_queue_complete(f->q, &j[i]), SCRIBE_OK);
  expect_stats(f->q, 0, 0, 3, 0);
}

static void test_dedupe(void **state) {
  fixture *f = *state;
  bool created = true;
  push_new(f->q, "k");
  assert_int_equal(scribe_queue_push(f->q, "k", 0, &created), SCRIBE_OK);
  assert_false(created);
  assert_int_equal(scribe_queue_push(f->q, "k", 0, NULL), SCRIBE_OK);
  expect_stats(f->q, 1, 0, 0, 0);
  scribe_job j;
  assert_int_equal(scribe_queue_claim(f->q, 60000, &j), SCRIBE_OK);
  created = true;
  assert_int_equal(scribe_queue_push(f->q, "k", 0, &created), SCRIBE_OK); /* leased: pending */
  assert_false(created);
  expect_stats(f->q, 0, 1, 0, 0);
  assert_int_equal(scribe_queue_complete(f->q, &j), SCRIBE_OK);
  push_new(f->q, "k"); /* done is not pending: a new job */
  expect_stats(f->q, 1, 0, 1, 0);
  scribe_job j2;
  assert_int_equal(scribe_queue_claim(f->q, 60000, &j2), SCRIBE_OK);
  assert_true(j2.id != j.id);
  assert_int_equal(j2.attempts, 1);
}

static void test_delay(void **state) {
  fixture *f = *state;
  scribe_job j;
  assert_int_equal(scribe_queue_push(f->q, "later", 300, NULL), SCRIBE_OK);
  push_new(f->q, "now");
  assert_int_equal(scribe_queue_claim(f->q, 60000, &j), SCRIBE_OK);
  assert_string_equal(j.key, "now");
  assert_int_equal(scribe_queue_claim(f->q, 60000, &j), SCRIBE_ENOTFOUND);
  tu_sleep_ms(350);
  assert_int_equal(scribe_queue_claim(f->q, 60000, &j), SCRIBE_OK);
  assert_string_equal(j.key, "later");
}

static void test_lease_expiry_and_tokens(void **state) {
  fixture *f = *state;
  scribe_job j1, j2, none;
  push_new(f->q, "lease");
  assert_int_equal(scribe_queue_claim(f->q, 200, &j1), SCRIBE_OK);
  assert_int_equal(scribe_queue_claim(f->q, 200, &none), SCRIBE_ENOTFOUND);
  tu_sleep_ms(300);
  /* The worker "crashed": the job is claimable again, as a new attempt. */
  assert_int_equal(scribe_queue_claim(f->q, 60000, &j2), SCRIBE_OK);
  assert_int_equal(j2.id, j1.id);
  assert_string_equal(j2.key, "lease");
  assert_int_equal(j2.attempts, 2);
  assert_string_not_equal(j2.token, j1.token);
  /* The stale claim can change nothing. */
  bool dead = true;
  assert_int_equal(scribe_queue_complete(f->q, &j1), SCRIBE_EEXPIRED);
  assert_int_equal(scribe_queue_extend(f->q, &j1, 1000), SCRIBE_EEXPIRED);
  assert_int_equal(scribe_queue_retry(f->q, &j1, "x", &dead), SCRIBE_EEXPIRED);
  assert_false(dead);
  assert_int_equal(scribe_queue_fail(f->q, &j1, "x"), SCRIBE_EEXPIRED);
  assert_int_equal(scribe_queue_release(f->q, &j1), SCRIBE_EEXPIRED);
  expect_stats(f->q, 0, 1, 0, 0);
  assert_int_equal(scribe_queue_claim(f->q, 60000, &none), SCRIBE_ENOTFOUND);
  /* The current holder completes; completing twice is harmless. */
  assert_int_equal(scribe_queue_complete(f->q, &j2), SCRIBE_OK);
  assert_int_equal(scribe_queue_complete(f->q, &j2), SCRIBE_OK);
  expect_stats(f->q, 0, 0, 1, 0);
  /* Once done, a late complete from the old claim is harmless too. */
  assert_int_equal(scribe_queue_complete(f->q, &j1), SCRIBE_OK);
  assert_int_equal(scribe_queue_retry(f->q, &j2, "x", &dead), SCRIBE_EEXPIRED);
  expect_stats(f->q, 0, 0, 1, 0);
  /* Unknown job. */
  scribe_job ghost = j2;
  ghost.id = 987654;
  assert_int_equal(scribe_queue_complete(f->q, &ghost), SCRIBE_ENOTFOUND);
}

static void test_expired_lease_still_completes(void **state) {
  fixture *f = *state;
  scribe_job j;
  push_new(f->q, "slow");
  assert_int_equal(scribe_queue_claim(f->q, 100, &j), SCRIBE_OK);
  tu_sleep_ms(200);
  /* Nobody claimed it meanwhile: the slow worker's result still counts. */
  assert_int_equal(scribe_queue_complete(f->q, &j), SCRIBE_OK);
  expect_stats(f->q, 0, 0, 1, 0);
}

static void test_extend(void **state) {
  fixture *f = *state;
  scribe_job j, none;
  push_new(f->q, "beat");
  assert_int_equal(scribe_queue_claim(f->q, 200, &j), SCRIBE_OK);
  int64_t first = j.lease_until_ms;
  tu_sleep_ms(100);
  assert_int_equal(scribe_queue_extend(f->q, &j, 1000), SCRIBE_OK);
  assert_true(j.lease_until_ms > first);
  tu_sleep_ms(250); /* past the first lease */
  assert_int_equal(scribe_queue_claim(f->q, 1000, &none), SCRIBE_ENOTFOUND);
  assert_int_equal(scribe_queue_complete(f->q, &j), SCRIBE_OK);
  assert_int_equal(scribe_queue_extend(f->q, &j, 1000), SCRIBE_EEXPIRED);
}

static void test_backoff(void **state) {
  fixture *f = *state;
  reopen(f, 5, 200, 10000);
  scribe_job j;
  bool dead = true;
  push_new(f->q, "flaky");
  assert_int_equal(scribe_queue_claim(f->q, 60000, &j), SCRIBE_OK);
  assert_int_equal(j.attempts, 1);
  assert_int_equal(scribe_queue_retry(f->q, &j, "timeout", &dead), SCRIBE_OK);
  assert_false(dead);
  expect_stats(f->q, 1, 0, 0, 0);
  /* First delay: 200 ms. */
  assert_int_equal(scribe_queue_claim(f->q, 60000, &j), SCRIBE_ENOTFOUND);
  tu_sleep_ms(300);
  assert_int_equal(scribe_queue_claim(f->q, 60000, &j), SCRIBE_OK);
  assert_int_equal(j.attempts, 2);
  assert_int_equal(scribe_queue_retry(f->q, &j, "timeout", &dead), SCRIBE_OK);
  /* Second delay: 400 ms, so still waiting after 250 ms. */
  tu_sleep_ms(250);
  assert_int_equal(scribe_queue_claim(f->q, 60000, &j), SCRIBE_ENOTFOUND);
  tu_sleep_ms(250);
  assert_int_equal(scribe_queue_claim(f->q, 60000, &j), SCRIBE_OK);
  assert_int_equal(j.attempts, 3);
  assert_int_equal(scribe_queue_complete(f->q, &j), SCRIBE_OK);

  /* The cap: base 100, cap 150 -> never more than 150 ms. */
  reopen(f, 10, 100, 150);
  push_new(f->q, "capped");
  for (int i = 1; i <= 4; i++) {
    assert_int_equal(scribe_queue_claim(f->q, 60000, &j), SCRIBE_OK);
    assert_int_equal(j.attempts, i);
    assert_int_equal(scribe_queue_retry(f->q, &j, "again", &dead), SCRIBE_OK);
    tu_sleep_ms(220);
  }
  assert_int_equal(scribe_queue_claim(f->q, 60000, &j), SCRIBE_OK);
  assert_int_equal(j.attempts, 5);
}

static void test_dead_letter_retry(void **state) {
  fixture *f = *state;
  reopen(f, 3, 1, 1);
  scribe_job j;
  bool dead = true;
  push_new(f->q, "doomed");
  for (int i = 1; i <= 3; i++) {
    tu_sleep_ms(5);
    assert_int_equal(scribe_queue_claim(f->q, 60000, &j), SCRIBE_OK);
    assert_int_equal(j.attempts, i);
    assert_int_equal(scribe_queue_retry(f->q, &j, "transient", &dead), SCRIBE_OK);
    assert_int_equal(dead, i == 3);
  }
  tu_sleep_ms(5);
  assert_int_equal(scribe_queue_claim(f->q, 60000, &j), SCRIBE_ENOTFOUND);
  expect_stats(f->q, 0, 0, 0, 1);
  push_new(f->q, "doomed"); /* a dead job is not pending */
}

static void test_dead_letter_expiry(void **state) {
  fixture *f = *state;
  reopen(f, 2, 1, 1);
  scribe_job j;
  push_new(f->q, "crashy");
  assert_int_equal(scribe_queue_claim(f->q, 100, &j), SCRIBE_OK);
  tu_sleep_ms(150);
  assert_int_equal(scribe_queue_claim(f->q, 100, &j), SCRIBE_OK);
  assert_int_equal(j.attempts, 2);
  tu_sleep_ms(150);
  /* Its last allowed attempt expired: dead-lettered, not handed out. */
  push_new(f->q, "healthy");
  scribe_job k;
  assert_int_equal(scribe_queue_claim(f->q, 100, &k), SCRIBE_OK);
  assert_string_equal(k.key, "healthy");
  assert_int_equal(scribe_queue_claim(f->q, 100, &k), SCRIBE_ENOTFOUND);
  expect_stats(f->q, 0, 1, 0, 1);
  assert_int_equal(scribe_queue_complete(f->q, &j), SCRIBE_EEXPIRED);
}

static void test_fail(void **state) {
  fixture *f = *state;
  scribe_job j;
  push_new(f->q, "bad-audio");
  assert_int_equal(scribe_queue_claim(f->q, 60000, &j), SCRIBE_OK);
  assert_int_equal(scribe_queue_fail(f->q, &j, "undecodable"), SCRIBE_OK);
  assert_int_equal(scribe_queue_fail(f->q, &j, "undecodable"), SCRIBE_OK);
  assert_int_equal(scribe_queue_complete(f->q, &j), SCRIBE_EEXPIRED);
  assert_int_equal(scribe_queue_claim(f->q, 60000, &j), SCRIBE_ENOTFOUND);
  expect_stats(f->q, 0, 0, 0, 1);
}

static void test_release(void **state) {
  fixture *f = *state;
  scribe_job j, j2;
  push_new(f->q, "shutdown");
  assert_int_equal(scribe_queue_claim(f->q, 60000, &j), SCRIBE_OK);
  assert_int_equal(j.attempts, 1);
  assert_int_equal(scribe_queue_release(f->q, &j), SCRIBE_OK);
  expect_stats(f->q, 1, 0, 0, 0);
  /* Released at once and the attempt was given back. */
  assert_int_equal(scribe_queue_claim(f->q, 60000, &j2), SCRIBE_OK);
  assert_int_equal(j2.id, j.id);
  assert_int_equal(j2.attempts, 1);
  assert_int_equal(scribe_queue_release(f->q, &j), SCRIBE_EEXPIRED); /* old token */
  /* Releasing many times never dead-letters a job. */
  for (int i = 0; i < 5; i++) {
    assert_int_equal(scribe_queue_release(f->q, &j2), SCRIBE_OK);
    assert_int_equal(scribe_queue_claim(f->q, 60000, &j2), SCRIBE_OK);
    assert_int_equal(j2.attempts, 1);
  }
  assert_int_equal(scribe_queue_complete(f->q, &j2), SCRIBE_OK);
}

static void test_durable(void **state) {
  fixture *f = *state;
  push_new(f->q, "d/1");
  push_new(f->q, "d/2");
  push_new(f->q, "d/3");
  scribe_job j;
  assert_int_equal(scribe_queue_claim(f->q, 60000, &j), SCRIBE_OK);
  scribe_queue_free(f->q);
  f->q = open_queue(f);
  assert_non_null(f->q);
  expect_stats(f->q, 2, 1, 0, 0);
  scribe_job k;
  assert_int_equal(scribe_queue_claim(f->q, 60000, &k), SCRIBE_OK);
  assert_string_equal(k.key, "d/2");
  /* The claim made before the restart is still valid. */
  assert_int_equal(scribe_queue_complete(f->q, &j), SCRIBE_OK);
  expect_stats(f->q, 1, 1, 1, 0);
}

/* ---- several handles ---------------------------------------------------- */

enum { N_THREADS = 4, N_JOBS = 800 };

static pthread_barrier_t g_start;

typedef struct claimer {
  const fixture *f;
  atomic_int *claims;
  int completed;
  int errors;
} claimer;

static void *claim_loop(void *arg) {
  claimer *c = arg;
  scribe_queue *q = open_queue(c->f); /* its own handle: another "process" */
  pthread_barrier_wait(&g_start);      /* all compete from the same moment */
  if (!q) {
    c->errors++;
    return NULL;
  }
  for (;;) {
    scribe_job j;
    int rc = scribe_queue_claim(q, 60000, &j);
    if (rc == SCRIBE_ENOTFOUND) break;
    if (rc == SCRIBE_EAGAIN) continue;
    if (rc) {
      c->errors++;
      break;
    }
    int idx = atoi(j.key + 4);
    if (idx >= 0 && idx < N_JOBS) atomic_fetch_add(&c->claims[idx], 1);
    rc = scribe_queue_complete(q, &j);
    while (rc == SCRIBE_EAGAIN) rc = scribe_queue_complete(q, &j);
    if (rc) c->errors++;
    else c->completed++;
  }
  scribe_queue_free(q);
  return NULL;
}

static void test_concurrent_handles(void **state) {
  fixture *f = *state;
  for (int i = 0; i < N_JOBS; i++) {
    char key[32];
    snprintf(key, sizeof(key), "job/%d", i);
    push_new(f->q, key);
  }
  static atomic_int claims[N_JOBS];
  for (int i = 0; i < N_JOBS; i++) atomic_init(&claims[i], 0);
  claimer c[N_THREADS];
  pthread_t t[N_THREADS];
  assert_int_equal(pthread_barrier_init(&g_start, NULL, N_THREADS), 0);
  int64_t t0 = tu_mono_ms();
  for (int i = 0; i < N_THREADS; i++) {
    c[i] = (claimer){.f = f, .claims = claims};
    assert_int_equal(pthread_create(&t[i], NULL, claim_loop, &c[i]), 0);
  }
  int total = 0;
  for (int i = 0; i < N_THREADS; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(c[i].errors, 0);
    total += c[i].completed;
    fprintf(stderr, "# claimer %d completed %d\n", i, c[i].completed);
  }
  pthread_barrier_destroy(&g_start);
  fprintf(stderr, "# %d jobs claimed and completed by %d handles in %lld ms\n", total, N_THREADS,
          (long long)(tu_mono_ms() - t0));
  assert_int_equal(total, N_JOBS);
  for (int i = 0; i < N_JOBS; i++) assert_int_equal(atomic_load(&claims[i]), 1);
  expect_stats(f->q, 0, 0, N_JOBS, 0);
}

/* A real crash: a child process claims and dies by SIGKILL. */
static void test_crash_reclaim(void **state) {
  fixture *f = *state;
  push_new(f->q, "crash/me");
  /* Connections must not cross fork(): close ours, reopen afterwards. */
  scribe_queue_free(f->q);
  f->q = NULL;
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    scribe_queue *q = open_queue(f);
    scribe_job j;
    if (!q || scribe_queue_claim(q, 300, &j) != SCRIBE_OK) _exit(2);
    if (write(fds[1], &j.id, sizeof(j.id)) != (ssize_t)sizeof(j.id)) _exit(3);
    raise(SIGKILL); /* as kill -9: no cleanup at all */
    _exit(4);
  }
  close(fds[1]);
  int64_t id = -1;
  assert_int_equal(read(fds[0], &id, sizeof(id)), sizeof(id));
  close(fds[0]);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  f->q = open_queue(f);
  assert_non_null(f->q);
  scribe_job j;
  assert_int_equal(scribe_queue_claim(f->q, 60000, &j), SCRIBE_ENOTFOUND); /* lease held */
  tu_sleep_ms(400);
  assert_int_equal(scribe_queue_claim(f->q, 60000, &j), SCRIBE_OK);
  assert_int_equal(j.id, id);
  assert_int_equal(j.attempts, 2);
  assert_int_equal(scribe_queue_complete(f->q, &j), SCRIBE_OK);
  expect_stats(f->q, 0, 0, 1, 0);
}

/* ---- wait / wake -------------------------------------------------------- */

typedef struct waiter {
  scribe_queue *q;
  int timeout_ms;
  int rc;
  int64_t returned_ms;
} waiter;

static void *wait_thread(void *arg) {
  waiter *w = arg;
  w->rc = scribe_queue_wait(w->q, w->timeout_ms);
  w->returned_ms = tu_mono_ms();
  return NULL;
}

static void test_wait(void **state) {
  fixture *f = *state;
  /* Times out on an empty queue. */
  int64_t t0 = tu_mono_ms();
  assert_int_equal(scribe_queue_wait(f->q, 150), SCRIBE_ETIMEOUT);
  int64_t took = tu_mono_ms() - t0;
  assert_true(took >= 140 && took < 1000);

  /* Woken promptly by a push in this process. */
  waiter w = {.q = f->q, .timeout_ms = 5000};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, wait_thread, &w), 0);
  tu_sleep_ms(100);
  int64_t pushed = tu_mono_ms();
  push_new(f->q, "wake/1");
  pthread_join(t, NULL);
  assert_int_equal(w.rc, SCRIBE_OK);
  fprintf(stderr, "# wait woke %lld ms after push\n", (long long)(w.returned_ms - pushed));
  assert_true(w.returned_ms - pushed < 50);

  /* Returns at once while a job is ready. */
  t0 = tu_mono_ms();
  assert_int_equal(scribe_queue_wait(f->q, 5000), SCRIBE_OK);
  assert_true(tu_mono_ms() - t0 < 50);
  scribe_job j;
  assert_int_equal(scribe_queue_claim(f->q, 60000, &j), SCRIBE_OK);

  /* wake() breaks a waiter. */
  w = (waiter){.q = f->q, .timeout_ms = 5000};
  assert_int_equal(pthread_create(&t, NULL, wait_thread, &w), 0);
  tu_sleep_ms(100);
  int64_t woke = tu_mono_ms();
  scribe_queue_wake(f->q);
  pthread_join(t, NULL);
  assert_true(w.returned_ms - woke < 100);

  /* A push through another handle is seen within poll_ms. */
  scribe_queue *other = open_queue(f);
  assert_non_null(other);
  w = (waiter){.q = f->q, .timeout_ms = 5000};
  assert_int_equal(pthread_create(&t, NULL, wait_thread, &w), 0);
  tu_sleep_ms(100);
  pushed = tu_mono_ms();
  push_new(other, "wake/2");
  pthread_join(t, NULL);
  assert_int_equal(w.rc, SCRIBE_OK);
  assert_true(w.returned_ms - pushed < f->p.poll_ms + 100);
  scribe_queue_free(other);
  assert_int_equal(scribe_queue_claim(f->q, 60000, &j), SCRIBE_OK);

  /* A delayed job wakes the waiter when it falls due. */
  t0 = tu_mono_ms();
  assert_int_equal(scribe_queue_push(f->q, "wake/3", 200, NULL), SCRIBE_OK);
  int rc;
  do {
    rc = scribe_queue_wait(f->q, 2000);
  } while (rc == SCRIBE_OK && scribe_queue_claim(f->q, 60000, &j) == SCRIBE_ENOTFOUND);
  assert_int_equal(rc, SCRIBE_OK);
  took = tu_mono_ms() - t0;
  assert_true(took >= 150 && took < 1000);
  assert_string_equal(j.key, "wake/3");
}

static void test_bad_args(void **state) {
  fixture *f = *state;
  scribe_job j;
  bool created = true;
  assert_int_equal(scribe_queue_push(f->q, "../etc", 0, &created), SCRIBE_EBADKEY);
  assert_false(created);
  assert_int_equal(scribe_queue_push(f->q, "", 0, NULL), SCRIBE_EBADKEY);
  assert_int_equal(scribe_queue_push(f->q, NULL, 0, NULL), SCRIBE_EBADKEY);
  assert_int_equal(scribe_queue_push(f->q, "ok", -1, NULL), SCRIBE_EINVAL);
  assert_int_equal(scribe_queue_push(NULL, "ok", 0, NULL), SCRIBE_EINVAL);
  assert_int_equal(scribe_queue_claim(f->q, 0, &j), SCRIBE_EINVAL);
  assert_int_equal(scribe_queue_claim(f->q, 1000, NULL), SCRIBE_EINVAL);
  assert_int_equal(scribe_queue_complete(f->q, NULL), SCRIBE_EINVAL);
  assert_int_equal(scribe_queue_stats_get(f->q, NULL), SCRIBE_EINVAL);
  expect_stats(f->q, 0, 0, 0, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_registry, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fifo, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dedupe, setup, teardown),
      cmocka_unit_test_setup_teardown(test_delay, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lease_expiry_and_tokens, setup, teardown),
      cmocka_unit_test_setup_teardown(test_expired_lease_still_completes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_extend, setup, teardown),
      cmocka_unit_test_setup_teardown(test_backoff, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dead_letter_retry, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dead_letter_expiry, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fail, setup, teardown),
      cmocka_unit_test_setup_teardown(test_release, setup, teardown),
      cmocka_unit_test_setup_teardown(test_durable, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_handles, setup, teardown),
      cmocka_unit_test_setup_teardown(test_crash_reclaim, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wait, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
  };
  g_root = tu_mkdtemp("queue-contract");
  if (!g_root) return 1;
  char names[256], path[600];
  const char *list[16];
  scribe_queue_names(names, sizeof(names));
  int n = tu_split_names(names, list, 16), failed = 0;
  for (int i = 0; i < n; i++) {
    scribe_queue_params p;
    if (!make_params(list[i], g_root, path, sizeof(path), &p)) {
      fprintf(stderr, "# queue backend %s: no test parameters, skipped\n", list[i]);
      continue;
    }
    g_backend = list[i];
    failed += cmocka_run_group_tests_name(list[i], tests, NULL, NULL);
  }
  tu_rmtree(g_root);
  free(g_root);
  return failed ? 1 : 0;
}
