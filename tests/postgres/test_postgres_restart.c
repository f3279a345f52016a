/*
 * test_postgres_restart.c - the PostgreSQL backends against a server that
 * goes away: clear errors when unreachable at create (naming host and
 * port, never the password), migrations that several processes may run at
 * once, and recovery after `pg_ctl restart` and after an outage: queue and
 * results handles work again on the next calls, and a notify subscriber
 * gets both an event published after the restart and one published while
 * its listener was still disconnected (caught up from the events table).
 *
 * Runs its own throw-away cluster (scripts/postgres-test-server) so that
 * restarting it never disturbs the suites sharing the fixture's cluster.
 * Skipped when PostgreSQL is not installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <glob.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#include "../storage/contract_util.h"
#include "core/error.h"
#include "notify/notify.h"
#include "queue/postgres.h"
#include "queue/queue.h"
#include "results/results.h"

static char *g_dir;          /* the cluster's directory */
static char g_conninfo[512]; /* "" when no cluster could be started */
static char g_script[1024];

static bool pg_installed(void) {
  glob_t g;
  bool found = glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &g) == 0 && g.gl_pathc > 0;
  globfree(&g);
  return found;
}

static int server(const char *cmd) {
  char line[2200];
  snprintf(line, sizeof(line), "'%s' %s '%s' >/dev/null", g_script, cmd, g_dir);
  return system(line);
}

/* A fresh database on the cluster; its conninfo into out. */
static void fresh_db(const char *name, char *out, size_t len) {
  PGconn *pg = PQconnectdb(g_conninfo);
  assert_int_equal(PQstatus(pg), CONNECTION_OK);
  char sql[128];
  snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
  PGresult *res = PQexec(pg, sql);
  assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
  PQclear(res);
  PQfinish(pg);
  snprintf(out, len, "%s dbname=%s", g_conninfo, name); /* the last dbname wins */
}

static void need_server(void) {
  if (!g_conninfo[0]) skip();
}

/* ---- unreachable --------------------------------------------------------- */

static void expect_clear_error(const char *conninfo) {
  char err[512];
  scribe_queue_params qp = scribe_queue_default_params();
  qp.conninfo = conninfo;
  err[0] = '\0';
  assert_null(scribe_queue_create("postgres", &qp, err, sizeof(err)));
  fprintf(stderr, "# queue: %s\n", err);
  assert_null(strstr(err, "sekret"));
  assert_non_null(strstr(err, "queue postgres"));

  scribe_results_params rp = scribe_results_default_params();
  rp.conninfo = conninfo;
  err[0] = '\0';
  assert_null(scribe_results_create("postgres", &rp, err, sizeof(err)));
  assert_null(strstr(err, "sekret"));
  assert_true(err[0] != '\0');

  scribe_notify_params np = scribe_notify_default_params();
  np.conninfo = conninfo;
  err[0] = '\0';
  assert_null(scribe_notify_create("postgres", &np, err, sizeof(err)));
  assert_null(strstr(err, "sekret"));
  assert_true(err[0] != '\0');

  err[0] = '\0';
  assert_true(scribe_postgres_migrate(conninfo, err, sizeof(err)) != SCRIBE_OK);
  assert_null(strstr(err, "sekret"));
}

static void test_unreachable(void **state) {
  /* Port 1 on loopback: nothing listens there. */
  const char *kv = "host=127.0.0.1 port=1 user=scribe password=sekret dbname=scribe "
                   "connect_timeout=2";
  expect_clear_error(kv);
  char err[512];
  scribe_queue_params qp = scribe_queue_default_params();
  qp.conninfo = kv;
  assert_null(scribe_queue_create("postgres", &qp, err, sizeof(err)));
  assert_non_null(strstr(err, "127.0.0.1:1"));
  assert_int_equal(scribe_postgres_migrate(kv, err, sizeof(err)), SCRIBE_EUNAVAILABLE);

  expect_clear_error("postgresql://scribe:sekret@127.0.0.1:1/scribe?connect_timeout=2");
  qp.conninfo = "postgresql://scribe:sekret@127.0.0.1:1/scribe?connect_timeout=2";
  assert_null(scribe_queue_create("postgres", &qp, err, sizeof(err)));
  assert_non_null(strstr(err, "127.0.0.1:1"));
  /* Malformed strings are not echoed (they may hold the password). */
  expect_clear_error("password=sekret this-is-not-conninfo");
  expect_clear_error("postgresql://scribe:sekret@[::1");
  expect_clear_error("");
}

/* ---- migrations ------------------------------------------------------------ */

typedef struct migrator {
  const char *conninfo;
  int rc;
  char err[256];
} migrator;

static void *migrate_thread(void *arg) {
  migrator *m = arg;
  m->rc = scribe_postgres_migrate(m->conninfo, m->err, sizeof(m->err));
  return NULL;
}

static void test_migrate_concurrently(void **state) {
  need_server();
  char ci[700];
  fresh_db("migrate_race", ci, sizeof(ci));
  enum { N = 6 };
  migrator m[N];
  pthread_t t[N];
  for (int i = 0; i < N; i++) {
    m[i] = (migrator){.conninfo = ci};
    assert_int_equal(pthread_create(&t[i], NULL, migrate_thread, &m[i]), 0);
  }
  for (int i = 0; i < N; i++) {
    pthread_join(t[i], NULL);
    if (m[i].rc) fprintf(stderr, "# migrate %d: %s\n", i, m[i].err);
    assert_int_equal(m[i].rc, SCRIBE_OK);
  }
  /* Each step once; running again changes nothing. */
  char err[256];
  assert_int_equal(scribe_postgres_migrate(ci, err, sizeof(err)), SCRIBE_OK);
  PGconn *pg = PQconnectdb(ci);
  PGresult *res = PQexec(pg, "SELECT count(*), max(version) FROM scribe_schema_migrations");
  assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
  assert_int_equal(atoi(PQgetvalue(res, 0, 0)), SCRIBE_POSTGRES_SCHEMA_VERSION);
  assert_int_equal(atoi(PQgetvalue(res, 0, 1)), SCRIBE_POSTGRES_SCHEMA_VERSION);
  PQclear(res);
  /* A database from a newer program is refused with a clear message. */
  PQclear(PQexec(pg, "INSERT INTO scribe_schema_migrations(version, name) VALUES(999, 'future')"));
  PQfinish(pg);
  assert_int_equal(scribe_postgres_migrate(ci, err, sizeof(err)), SCRIBE_ECONFIG);
  assert_non_null(strstr(err, "newer"));
  scribe_queue_params qp = scribe_queue_default_params();
  qp.conninfo = ci;
  assert_null(scribe_queue_create("postgres", &qp, err, sizeof(err)));
}

/* ---- restart and outage ------------------------------------------------------ */

typedef struct inbox {
  pthread_mutex_t mu;
  int count;
  char events[16][128];
} inbox;

static void on_event(void *ud, const char *key, const char *event_json) {
  inbox *b = ud;
  pthread_mutex_lock(&b->mu);
  if (b->count < 16) snprintf(b->events[b->count], sizeof(b->events[0]), "%s", event_json);
  b->count++;
  pthread_mutex_unlock(&b->mu);
}

/* How many received events contain needle. */
static int inbox_has(inbox *b, const char *needle) {
  pthread_mutex_lock(&b->mu);
  int n = 0;
  for (int i = 0; i < b->count && i < 16; i++)
    if (strstr(b->events[i], needle)) n++;
  pthread_mutex_unlock(&b->mu);
  return n;
}

static bool inbox_wait(inbox *b, const char *needle, int ms) {
  int64_t end = tu_mono_ms() + ms;
  while (inbox_has(b, needle) == 0) {
    if (tu_mono_ms() > end) return false;
    tu_sleep_ms(5);
  }
  return true;
}

/* Repeats op until it stops failing with a transient error (at most 15 s);
 * every failure on the way must be transient. */
#define UNTIL_BACK(expr)                                                      \
  ({                                                                          \
    int rc_, tries_ = 0;                                                      \
    int64_t end_ = tu_mono_ms() + 15000;                                      \
    while ((rc_ = (expr)) != SCRIBE_OK && scribe_err_transient(rc_) &&        \
           tu_mono_ms() < end_) {                                             \
      tries_++;                                                               \
      tu_sleep_ms(50);                                                        \
    }                                                                         \
    if (tries_) fprintf(stderr, "# %s: %d transient failures\n", #expr, tries_); \
    rc_;                                                                      \
  })

static void test_restart_and_outage(void **state) {
  need_server();
  char ci[700], err[512];
  fresh_db("restart", ci, sizeof(ci));
  scribe_queue_params qp = scribe_queue_default_params();
  qp.conninfo = ci;
  qp.poll_ms = 50;
  scribe_queue *q = scribe_queue_create("postgres", &qp, err, sizeof(err));
  assert_non_null(q);
  scribe_results_params rp = scribe_results_default_params();
  rp.conninfo = ci;
  scribe_results *r = scribe_results_create("postgres", &rp, err, sizeof(err));
  assert_non_null(r);
  scribe_notify_params np = scribe_notify_default_params();
  np.conninfo = ci;
  scribe_notify *sub = scribe_notify_create("postgres", &np, err, sizeof(err)); /* API server */
  assert_non_null(sub);
  scribe_notify *pub = scribe_notify_create("postgres", &np, err, sizeof(err)); /* worker */
  assert_non_null(pub);
  inbox box;
  memset(&box, 0, sizeof(box));
  pthread_mutex_init(&box.mu, NULL);
  uint64_t sid;
  assert_int_equal(scribe_notify_subscribe(sub, on_event, &box, &sid), SCRIBE_OK);

  assert_int_equal(scribe_queue_push(q, "rs/before", 0, NULL), SCRIBE_OK);
  assert_int_equal(scribe_results_insert(r, "rs/rec", NULL), SCRIBE_OK);
  assert_int_equal(scribe_notify_publish(pub, "rs/k", "{\"type\":\"progress\",\"n\":\"warm\"}"),
                   SCRIBE_OK);
  assert_true(inbox_wait(&box, "warm", 3000));

  /* 1. pg_ctl restart: every connection is cut. */
  int64_t t0 = tu_mono_ms();
  assert_int_equal(server("restart"), 0);
  fprintf(stderr, "# restarted in %lld ms\n", (long long)(tu_mono_ms() - t0));
  scribe_job j;
  assert_int_equal(UNTIL_BACK(scribe_queue_claim(q, 60000, &j)), SCRIBE_OK);
  assert_string_equal(j.key, "rs/before");
  assert_int_equal(UNTIL_BACK(scribe_queue_complete(q, &j)), SCRIBE_OK);
  assert_int_equal(UNTIL_BACK(scribe_results_set_status(r, "rs/rec", SCRIBE_STATUS_QUEUED, 5,
                                                        NULL)),
                   SCRIBE_OK);
  json_t *doc = NULL;
  assert_int_equal(UNTIL_BACK(scribe_results_get(r, "rs/rec", &doc)), SCRIBE_OK);
  assert_string_equal(json_string_value(json_object_get(doc, "status")), "queued");
  json_decref(doc);
  assert_int_equal(UNTIL_BACK(scribe_notify_publish(pub, "rs/k",
                                                    "{\"type\":\"progress\",\"n\":\"after\"}")),
                   SCRIBE_OK);
  assert_true(inbox_wait(&box, "after", 5000));

  /* wait() still works (its LISTEN connection was cut too). */
  assert_int_equal(UNTIL_BACK(scribe_queue_push(q, "rs/wake", 0, NULL)), SCRIBE_OK);
  assert_int_equal(scribe_queue_wait(q, 2000), SCRIBE_OK);

  /* 2. An outage: calls fail with transient errors, quickly. */
  assert_int_equal(server("down"), 0);
  t0 = tu_mono_ms();
  int rc = scribe_queue_push(q, "rs/down", 0, NULL);
  assert_true(rc != SCRIBE_OK && scribe_err_transient(rc));
  rc = scribe_results_get(r, "rs/rec", &doc);
  assert_true(rc != SCRIBE_OK && scribe_err_transient(rc));
  rc = scribe_notify_publish(pub, "rs/k", "{\"type\":\"progress\",\"n\":\"unshared\"}");
  assert_true(rc != SCRIBE_OK && scribe_err_transient(rc));
  assert_true(tu_mono_ms() - t0 < 3000);
  tu_sleep_ms(1500); /* the subscriber's listener backs off meanwhile */

  /* Back: the publisher's event reaches the subscriber whether its listener
   * was connected in time for the NOTIFY or catches up from the table. */
  assert_int_equal(server("up"), 0);
  assert_int_equal(UNTIL_BACK(scribe_notify_publish(
                       pub, "rs/k", "{\"type\":\"completed\",\"n\":\"missed\",\"result\":{}}")),
                   SCRIBE_OK);
  assert_true(inbox_wait(&box, "missed", 8000));
  assert_int_equal(UNTIL_BACK(scribe_queue_push(q, "rs/back", 0, NULL)), SCRIBE_OK);
  assert_int_equal(UNTIL_BACK(scribe_results_get(r, "rs/rec", &doc)), SCRIBE_OK);
  json_decref(doc);
  assert_int_equal(scribe_notify_publish(pub, "rs/k", "{\"type\":\"progress\",\"n\":\"later\"}"),
                   SCRIBE_OK);
  assert_true(inbox_wait(&box, "later", 5000));

  /* Each event exactly once; the one published while down never left its
   * process; the result member stayed out of the shared copy. */
  tu_sleep_ms(300);
  assert_int_equal(inbox_has(&box, "warm"), 1);
  assert_int_equal(inbox_has(&box, "\"after\""), 1);
  assert_int_equal(inbox_has(&box, "missed"), 1);
  assert_int_equal(inbox_has(&box, "later"), 1);
  assert_int_equal(inbox_has(&box, "unshared"), 0);
  assert_int_equal(inbox_has(&box, "result"), 0);

  scribe_notify_unsubscribe(sub, sid);
  scribe_notify_free(pub);
  scribe_notify_free(sub);
  scribe_results_free(r);
  scribe_queue_free(q);
  pthread_mutex_destroy(&box.mu);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unreachable),
      cmocka_unit_test(test_migrate_concurrently),
      cmocka_unit_test(test_restart_and_outage),
  };
  const char *src = getenv("SCRIBE_SOURCE_DIR");
  snprintf(g_script, sizeof(g_script), "%s/scripts/postgres-test-server", src ? src : ".");
  g_dir = tu_mkdtemp("pgr");
  if (!g_dir) return 1;
  if (!pg_installed()) {
    fprintf(stderr, "# PostgreSQL is not installed: restart tests skipped\n");
  } else if (server("start") != 0) {
    fprintf(stderr, "# cannot start a PostgreSQL cluster in %s\n", g_dir);
    return 1;
  } else {
    char path[1100];
    snprintf(path, sizeof(path), "%s/conninfo", g_dir);
    FILE *f = fopen(path, "r");
    if (f) {
      if (!fgets(g_conninfo, sizeof(g_conninfo), f)) g_conninfo[0] = '\0';
      g_conninfo[strcspn(g_conninfo, "\n")] = '\0';
      fclose(f);
    }
  }
  int failed = cmocka_run_group_tests_name("postgres-restart", tests, NULL, NULL);
  if (g_conninfo[0]) server("stop");
  tu_rmtree(g_dir);
  free(g_dir);
  return failed ? 1 : 0;
}
