/*
 * test_notify_contract.c - the notification contract, run against every
 * compiled-in backend (scribe_notify_names()).  A new backend adds a case to
 * make_params() and must pass the same tests unchanged.  Delivery may be
 * asynchronous for networked backends, so tests wait for events with a
 * deadline instead of expecting them on return from publish.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "../postgres/pg_test_util.h"
#include "../storage/contract_util.h"
#include "core/error.h"
#include "notify/notify.h"

static const char *g_backend;

typedef struct fixture {
  scribe_notify *n;
} fixture;

/* Parameters for `backend`; false to skip a backend this suite does not
 * know how to configure. */
static char g_db[512];
static char g_pg[1024]; /* postgres: one database for the whole run; "" when none */

static bool make_params(const char *backend, scribe_notify_params *p) {
  *p = scribe_notify_default_params();
  if (strcmp(backend, "local") == 0) return true;
  if (strcmp(backend, "sqlite") == 0) {
    p->conninfo = g_db;
    return true;
  }
  if (strcmp(backend, "postgres") == 0) {
    if (!g_pg[0]) return false;
    p->conninfo = g_pg;
    return true;
  }
  return false;
}

/* Backends that carry events between processes sharing one store. */
static bool shared_between_handles(const char *backend) {
  return strcmp(backend, "sqlite") == 0 || strcmp(backend, "postgres") == 0;
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  if (!f) return -1;
  scribe_notify_params p;
  char err[256];
  if (!make_params(g_backend, &p)) return -1;
  f->n = scribe_notify_create(g_backend, &p, err, sizeof(err));
  if (!f->n) {
    fprintf(stderr, "create %s: %s\n", g_backend, err);
    free(f);
    return -1;
  }
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  scribe_notify_free(f->n);
  free(f);
  return 0;
}

/* A subscriber recording what it receives. */
typedef struct inbox {
  pthread_mutex_t mu;
  int count;
  char last_key[64];
  char last_event[256];
} inbox;

static void inbox_init(inbox *b) {
  memset(b, 0, sizeof(*b));
  pthread_mutex_init(&b->mu, NULL);
}

static void on_event(void *ud, const char *key, const char *event_json) {
  inbox *b = ud;
  pthread_mutex_lock(&b->mu);
  b->count++;
  snprintf(b->last_key, sizeof(b->last_key), "%s", key);
  snprintf(b->last_event, sizeof(b->last_event), "%s", event_json);
  pthread_mutex_unlock(&b->mu);
}

static int inbox_count(inbox *b) {
  pthread_mutex_lock(&b->mu);
  int n = b->count;
  pthread_mutex_unlock(&b->mu);
  return n;
}

/* Waits up to 2 s for b to hold at least n events. */
static bool inbox_wait(inbox *b, int n) {
  int64_t end = tu_mono_ms() + 2000;
  while (inbox_count(b) < n) {
    if (tu_mono_ms() > end) return false;
    tu_sleep_ms(1);
  }
  return true;
}

/* ---- tests ------------------------------------------------------------ */

static void test_registry(void **state) {
  char names[256], err[256];
  scribe_notify_names(names, sizeof(names));
  assert_non_null(strstr(names, g_backend));
  assert_non_null(scribe_notify_find(g_backend));
  assert_null(scribe_notify_find("no-such-backend"));
  scribe_notify_params p = scribe_notify_default_params();
  assert_null(scribe_notify_create("no-such-backend", &p, err, sizeof(err)));
  assert_non_null(strstr(err, g_backend));
  scribe_notify_free(NULL);
  scribe_notify_unsubscribe(NULL, 1);
  fixture *f = *state;
  uint64_t id;
  assert_int_equal(scribe_notify_subscribe(f->n, NULL, NULL, &id), SCRIBE_EINVAL);
  assert_int_equal(scribe_notify_publish(f->n, NULL, "{}"), SCRIBE_EINVAL);
  assert_int_equal(scribe_notify_publish(f->n, "k", NULL), SCRIBE_EINVAL);
  scribe_notify_unsubscribe(f->n, 424242); /* unknown id: nothing happens */
}

static void test_fan_out(void **state) {
  fixture *f = *state;
  inbox b[3];
  uint64_t id[3];
  for (int i = 0; i < 3; i++) {
    inbox_init(&b[i]);
    assert_int_equal(scribe_notify_subscribe(f->n, on_event, &b[i], &id[i]), SCRIBE_OK);
  }
  assert_true(id[0] != id[1] && id[1] != id[2] && id[0] != id[2]);
  const char *ev = "{\"type\":\"progress\",\"audioKey\":\"k1\",\"stage\":\"transcribing\",\"percent\":40}";
  assert_int_equal(scribe_notify_publish(f->n, "k1", ev), SCRIBE_OK);
  for (int i = 0; i < 3; i++) {
    assert_true(inbox_wait(&b[i], 1));
    assert_string_equal(b[i].last_key, "k1");
    assert_string_equal(b[i].last_event, ev);
  }
  /* Unsubscribing one stops its deliveries only. */
  scribe_notify_unsubscribe(f->n, id[1]);
  assert_int_equal(scribe_notify_publish(f->n, "k2", "{\"type\":\"completed\"}"), SCRIBE_OK);
  assert_true(inbox_wait(&b[0], 2));
  assert_true(inbox_wait(&b[2], 2));
  assert_string_equal(b[0].last_key, "k2");
  tu_sleep_ms(50);
  assert_int_equal(inbox_count(&b[1]), 1);
  assert_string_equal(b[1].last_key, "k1");
  scribe_notify_unsubscribe(f->n, id[1]); /* twice: harmless */
  scribe_notify_unsubscribe(f->n, id[0]);
  scribe_notify_unsubscribe(f->n, id[2]);
  assert_int_equal(scribe_notify_publish(f->n, "k3", "{}"), SCRIBE_OK);
  tu_sleep_ms(50);
  assert_int_equal(inbox_count(&b[0]), 2);
  assert_int_equal(inbox_count(&b[2]), 2);
  /* Publishing with nobody listening is fine. */
  assert_int_equal(scribe_notify_publish(f->n, "k4", "{}"), SCRIBE_OK);
}

/* A callback that publishes again (events cascading) must not deadlock. */
typedef struct nested {
  scribe_notify *n;
  atomic_int depth_events;
} nested;

static void on_nested(void *ud, const char *key, const char *event_json) {
  nested *x = ud;
  atomic_fetch_add(&x->depth_events, 1);
  if (strcmp(key, "outer") == 0) scribe_notify_publish(x->n, "inner", "{}");
}

static void test_publish_from_callback(void **state) {
  fixture *f = *state;
  nested x = {.n = f->n};
  atomic_init(&x.depth_events, 0);
  uint64_t id;
  assert_int_equal(scribe_notify_subscribe(f->n, on_nested, &x, &id), SCRIBE_OK);
  assert_int_equal(scribe_notify_publish(f->n, "outer", "{}"), SCRIBE_OK);
  int64_t end = tu_mono_ms() + 2000;
  while (atomic_load(&x.depth_events) < 2 && tu_mono_ms() < end) tu_sleep_ms(1);
  assert_int_equal(atomic_load(&x.depth_events), 2);
  scribe_notify_unsubscribe(f->n, id);
}

/* ---- concurrency -------------------------------------------------------- */

enum { PUBLISHERS = 4, MIN_EVENTS = 1000, CHURN = 2000 };

/* A subscription that must never be called once unsubscribed. */
typedef struct tracked {
  atomic_bool closed;
  atomic_int calls;
} tracked;

static atomic_int g_total_late; /* calls after unsubscribe returned: must stay 0 */
static atomic_size_t g_sink;

static void on_tracked(void *ud, const char *key, const char *event_json) {
  tracked *t = ud;
  if (atomic_load(&t->closed)) atomic_fetch_add(&g_total_late, 1);
  atomic_fetch_add(&t->calls, 1);
  /* Read the arguments so ASan sees any dangling pointer. */
  atomic_fetch_add(&g_sink, strlen(key) + strlen(event_json));
}

static atomic_bool g_stop;

typedef struct pub_arg {
  scribe_notify *n;
  int id;
  int errors;
  int64_t published;
} pub_arg;

/* Publishes until told to stop (and at least MIN_EVENTS times). */
static void *publisher(void *arg) {
  pub_arg *a = arg;
  for (int i = 0; i < MIN_EVENTS || !atomic_load(&g_stop); i++) {
    char key[32], ev[96];
    snprintf(key, sizeof(key), "key-%d", a->id);
    snprintf(ev, sizeof(ev), "{\"type\":\"progress\",\"n\":%d}", i);
    if (scribe_notify_publish(a->n, key, ev) != SCRIBE_OK) a->errors++;
    a->published++;
  }
  return NULL;
}

static void test_concurrent(void **state) {
  fixture *f = *state;
  atomic_init(&g_total_late, 0);
  atomic_init(&g_stop, false);
  /* One long-lived subscriber sees every event. */
  tracked steady;
  atomic_init(&steady.closed, false);
  atomic_init(&steady.calls, 0);
  uint64_t steady_id;
  assert_int_equal(scribe_notify_subscribe(f->n, on_tracked, &steady, &steady_id), SCRIBE_OK);

  pthread_t t[PUBLISHERS];
  pub_arg a[PUBLISHERS];
  for (int i = 0; i < PUBLISHERS; i++) {
    a[i] = (pub_arg){.n = f->n, .id = i};
    assert_int_equal(pthread_create(&t[i], NULL, publisher, &a[i]), 0);
  }
  /* Meanwhile subscribe and unsubscribe short-lived subscribers; each one
   * is freed right after unsubscribe, so a late call would be a
   * use-after-free that ASan reports. */
  int64_t churn_calls = 0;
  for (int i = 0; i < CHURN; i++) {
    tracked *s = malloc(sizeof(*s));
    assert_non_null(s);
    atomic_init(&s->closed, false);
    atomic_init(&s->calls, 0);
    uint64_t id;
    assert_int_equal(scribe_notify_subscribe(f->n, on_tracked, s, &id), SCRIBE_OK);
    if (i % 100 == 0) tu_sleep_ms(1);
    scribe_notify_unsubscribe(f->n, id);
    atomic_store(&s->closed, true);
    churn_calls += atomic_load(&s->calls);
    free(s);
  }
  atomic_store(&g_stop, true);
  int64_t want = 0;
  for (int i = 0; i < PUBLISHERS; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(a[i].errors, 0);
    want += a[i].published;
  }
  fprintf(stderr,
          "# %lld events published during %d subscribe/unsubscribe cycles, "
          "%lld delivered to the short-lived subscribers\n",
          (long long)want, CHURN, (long long)churn_calls);
  int64_t end = tu_mono_ms() + 5000;
  while (atomic_load(&steady.calls) < want && tu_mono_ms() < end) tu_sleep_ms(1);
  assert_int_equal(atomic_load(&steady.calls), want);
  assert_int_equal(atomic_load(&g_total_late), 0);
  scribe_notify_unsubscribe(f->n, steady_id);
}

/* Two handles on one store stand for two processes: an event published on
 * one reaches the other's subscribers, once, and not the publisher's own
 * handle twice. */
static void test_between_handles(void **state) {
  fixture *f = *state;
  if (!shared_between_handles(g_backend)) skip();
  scribe_notify_params p;
  char err[256];
  assert_true(make_params(g_backend, &p));
  scribe_notify *other = scribe_notify_create(g_backend, &p, err, sizeof(err));
  assert_non_null(other);
  inbox mine, theirs;
  inbox_init(&mine);
  inbox_init(&theirs);
  uint64_t a, b;
  assert_int_equal(scribe_notify_subscribe(f->n, on_event, &mine, &a), SCRIBE_OK);
  assert_int_equal(scribe_notify_subscribe(other, on_event, &theirs, &b), SCRIBE_OK);
  const char *ev = "{\"type\":\"completed\",\"audioKey\":\"kx\",\"result\":{\"t\":\"x\"}}";
  assert_int_equal(scribe_notify_publish(f->n, "kx", ev), SCRIBE_OK);
  assert_true(inbox_wait(&theirs, 1));
  assert_string_equal(theirs.last_key, "kx");
  /* the bulky result stays out of the shared table */
  assert_null(strstr(theirs.last_event, "\"result\""));
  assert_non_null(strstr(theirs.last_event, "\"completed\""));
  tu_sleep_ms(300);
  assert_int_equal(inbox_count(&mine), 1);
  assert_int_equal(inbox_count(&theirs), 1);
  scribe_notify_unsubscribe(other, b);
  scribe_notify_unsubscribe(f->n, a);
  scribe_notify_free(other);
}

int main(void) {
  char *dir = tu_mkdtemp("notify");
  if (!dir) return 1;
  snprintf(g_db, sizeof(g_db), "%s/events.db", dir);
  if (!pgt_fresh_db("notify", g_pg, sizeof(g_pg))) g_pg[0] = '\0';
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_between_handles, setup, teardown),
      cmocka_unit_test_setup_teardown(test_registry, setup, teardown),
      cmocka_unit_test_setup_teardown(test_fan_out, setup, teardown),
      cmocka_unit_test_setup_teardown(test_publish_from_callback, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
  };
  char names[256];
  const char *list[16];
  scribe_notify_names(names, sizeof(names));
  int n = tu_split_names(names, list, 16), failed = 0;
  for (int i = 0; i < n; i++) {
    scribe_notify_params p;
    if (!make_params(list[i], &p)) {
      fprintf(stderr, "# notify backend %s: no test parameters, skipped\n", list[i]);
      continue;
    }
    g_backend = list[i];
    failed += cmocka_run_group_tests_name(list[i], tests, NULL, NULL);
  }
  tu_rmtree(dir);
  free(dir);
  return failed ? 1 : 0;
}
