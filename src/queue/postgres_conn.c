/*
 * postgres_conn.c - libpq connections for the PostgreSQL backends: opening
 * them with a clear error, translating libpq errors, reconnecting with
 * backoff, and a small pool.  See postgres.h.
 *
 * Nothing here logs or reports a connection string: it may hold a password.
 * Server messages are logged by their primary text only (no DETAIL, which
 * can quote row values).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/log.h"
#include "queue/postgres.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define POOL_MAX 16

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void scribe_postgres_describe(const char *conninfo, char *buf, size_t len) {
  if (!buf || len == 0) return;
  char *perr = NULL;
  PQconninfoOption *opts = conninfo ? PQconninfoParse(conninfo, &perr) : NULL;
  PQfreemem(perr); /* may quote the string: never shown */
  if (!opts) {
    snprintf(buf, len, "(invalid connection string)");
    return;
  }
  const char *host = NULL, *hostaddr = NULL, *port = NULL, *db = NULL;
  for (PQconninfoOption *o = opts; o->keyword; o++) {
    if (!o->val || !o->val[0]) continue;
    if (strcmp(o->keyword, "host") == 0) host = o->val;
    else if (strcmp(o->keyword, "hostaddr") == 0) hostaddr = o->val;
    else if (strcmp(o->keyword, "port") == 0) port = o->val;
    else if (strcmp(o->keyword, "dbname") == 0) db = o->val;
  }
  if (!host) host = hostaddr;
  if (!host) host = getenv("PGHOST");
  if (!port) port = getenv("PGPORT");
  snprintf(buf, len, "%s:%s/%s", host ? host : "localhost", port ? port : "5432",
           db ? db : "(default database)");
  PQconninfoFree(opts);
}

/* First line of a libpq message, without the trailing newline. */
static void first_line(const char *msg, char *buf, size_t len) {
  if (!msg) msg = "";
  size_t n = strcspn(msg, "\n");
  if (n >= len) n = len - 1;
  memcpy(buf, msg, n);
  buf[n] = '\0';
}

/* libpq's default prints server notices ("relation already exists,
 * skipping", "terminating connection due to administrator command") on
 * stderr; they go to the debug log instead. */
static void on_notice(void *arg, const char *message) {
  char line[256];
  first_line(message, line, sizeof(line));
  LOG_DEBUG("postgres notice: %s", line);
}

PGconn *scribe_postgres_connect(const char *conninfo, const char *label, char *err,
                                size_t errlen) {
  char where[256];
  char tmp[8];
  if (!err) {
    err = tmp;
    errlen = sizeof(tmp);
  }
  if (!conninfo || !conninfo[0]) {
    snprintf(err, errlen, "%s: no PostgreSQL connection string (postgres_url) is set", label);
    return NULL;
  }
  char *perr = NULL;
  PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
  PQfreemem(perr);
  if (!opts) {
    snprintf(err, errlen, "%s: the PostgreSQL connection string (postgres_url) is malformed",
             label);
    return NULL;
  }
  PQconninfoFree(opts);
  scribe_postgres_describe(conninfo, where, sizeof(where));
  /* Our defaults first; the expanded connection string overrides them. */
  const char *const keys[] = {"connect_timeout", "application_name", "client_encoding", "dbname",
                              NULL};
  const char *const vals[] = {"5", "scribe", "UTF8", conninfo, NULL};
  PGconn *pg = PQconnectdbParams(keys, vals, 1);
  if (!pg) {
    snprintf(err, errlen, "%s: cannot connect to PostgreSQL at %s: out of memory", label, where);
    return NULL;
  }
  if (PQstatus(pg) != CONNECTION_OK) {
    char why[256];
    first_line(PQerrorMessage(pg), why, sizeof(why));
    snprintf(err, errlen, "%s: cannot connect to PostgreSQL at %s: %s", label, where, why);
    PQfinish(pg);
    return NULL;
  }
  PQsetNoticeProcessor(pg, on_notice, NULL);
  /* The client encoding must stay UTF-8 whatever the string said. */
  const char *enc = PQparameterStatus(pg, "client_encoding");
  if ((!enc || strcmp(enc, "UTF8") != 0) && PQsetClientEncoding(pg, "UTF8") != 0) {
    snprintf(err, errlen, "%s: PostgreSQL at %s refused client encoding UTF8", label, where);
    PQfinish(pg);
    return NULL;
  }
  return pg;
}

int scribe_postgres_error(PGconn *pg, const PGresult *res) {
  if (!pg || PQstatus(pg) != CONNECTION_OK) return SCRIBE_EUNAVAILABLE;
  if (!res) return SCRIBE_EUNAVAILABLE; /* libpq could not even build a result */
  const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
  if (!state || strlen(state) != 5) return SCRIBE_EIO;
  if (strncmp(state, "08", 2) == 0) return SCRIBE_EUNAVAILABLE; /* connection exception */
  if (strcmp(state, "57P01") == 0 || strcmp(state, "57P02") == 0 ||
      strcmp(state, "57P03") == 0)
    return SCRIBE_EUNAVAILABLE; /* admin/crash shutdown, cannot connect now */
  if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0) return SCRIBE_EAGAIN;
  if (strcmp(state, "55P03") == 0) return SCRIBE_EAGAIN; /* lock not available */
  if (strncmp(state, "53", 2) == 0) return SCRIBE_EAGAIN; /* insufficient resources */
  return SCRIBE_EIO;
}

/* ---- self-reconnecting connection -------------------------------------- */

static void conn_drop(scribe_postgres_conn *c) {
  if (c->pg) PQfinish(c->pg);
  c->pg = NULL;
}

int scribe_postgres_ready(scribe_postgres_conn *c) {
  /* Between transactions, read what the server sent while the connection
   * sat in the pool: after a server restart that is the termination
   * notice and EOF, so the connection is replaced here instead of failing
   * the caller's next statement.  (Non-blocking; inside a transaction a
   * lost connection must fail the transaction instead.) */
  if (c->pg && PQstatus(c->pg) == CONNECTION_OK &&
      PQtransactionStatus(c->pg) == PQTRANS_IDLE && !PQconsumeInput(c->pg)) {
    conn_drop(c);
    c->retry_at_ms = 0;
  }
  if (c->pg && PQstatus(c->pg) == CONNECTION_OK) return SCRIBE_OK;
  conn_drop(c);
  int64_t now = mono_ms();
  if (now < c->retry_at_ms) return SCRIBE_EUNAVAILABLE;
  char err[512];
  c->pg = scribe_postgres_connect(c->conninfo, c->label, err, sizeof(err));
  if (!c->pg) {
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (c->backoff_ms > BACKOFF_MAX_MS) c->backoff_ms = BACKOFF_MAX_MS;
    c->retry_at_ms = now + c->backoff_ms;
    if (!c->down_logged) LOG_WARN("%s (retrying with backoff)", err);
    c->down_logged = 1;
    return SCRIBE_EUNAVAILABLE;
  }
  if (c->down_logged) LOG_INFO("%s: reconnected to PostgreSQL", c->label);
  c->down_logged = 0;
  c->backoff_ms = 0;
  c->retry_at_ms = 0;
  return SCRIBE_OK;
}

int scribe_postgres_exec(scribe_postgres_conn *c, const char *op, const char *sql, int nparams,
                         const char *const *values, PGresult **out) {
  if (out) *out = NULL;
  int rc = scribe_postgres_ready(c);
  if (rc) return rc;
  bool idle = PQtransactionStatus(c->pg) == PQTRANS_IDLE;
  PGresult *res = PQexecParams(c->pg, sql, nparams, NULL, values, NULL, NULL, 0);
  ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && idle &&
      PQstatus(c->pg) == CONNECTION_BAD) {
    /* A pooled connection the server had already closed (restart,
     * failover): the statement never ran.  Once, on a new connection. */
    PQclear(res);
    conn_drop(c);
    c->retry_at_ms = 0;
    rc = scribe_postgres_ready(c);
    if (rc) return rc;
    res = PQexecParams(c->pg, sql, nparams, NULL, values, NULL, NULL, 0);
    st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  }
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
    if (out) *out = res;
    else PQclear(res);
    return SCRIBE_OK;
  }
  rc = scribe_postgres_error(c->pg, res);
  char why[256];
  const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  first_line(primary ? primary : PQerrorMessage(c->pg), why, sizeof(why));
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  LOG_WARN("%s: %s: %s (%s, %s)", c->label, op, why, state ? state : "no sqlstate",
           scribe_err_name(rc));
  PQclear(res);
  if (rc == SCRIBE_EUNAVAILABLE) {
    /* Lost: the next call opens a new connection at once. */
    conn_drop(c);
    c->retry_at_ms = 0;
  }
  return rc;
}

void scribe_postgres_rollback(scribe_postgres_conn *c) {
  if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) return;
  if (PQtransactionStatus(c->pg) == PQTRANS_IDLE) return;
  PGresult *res = PQexec(c->pg, "ROLLBACK");
  PQclear(res);
}

/* ---- pool ---------------------------------------------------------------- */

typedef struct slot {
  pthread_mutex_t mu;
  scribe_postgres_conn c;
} slot;

struct scribe_postgres_pool {
  char *conninfo;
  char *label;
  int size;
  unsigned next;
  slot slots[POOL_MAX];
};

void scribe_postgres_pool_free(scribe_postgres_pool *p) {
  if (!p) return;
  for (int i = 0; i < p->size; i++) {
    conn_drop(&p->slots[i].c);
    pthread_mutex_destroy(&p->slots[i].mu);
  }
  free(p->conninfo);
  free(p->label);
  free(p);
}

scribe_postgres_pool *scribe_postgres_pool_create(const char *conninfo, const char *label,
                                                  int size, char *err, size_t errlen) {
  if (size < 1) size = 1;
  if (size > POOL_MAX) size = POOL_MAX;
  PGconn *first = scribe_postgres_connect(conninfo, label, err, errlen);
  if (!first) return NULL;
  if (scribe_postgres_migrate_conn(first, err, errlen) != SCRIBE_OK) {
    PQfinish(first);
    return NULL;
  }
  scribe_postgres_pool *p = calloc(1, sizeof(*p));
  if (!p || !(p->conninfo = strdup(conninfo)) || !(p->label = strdup(label))) {
    snprintf(err, errlen, "%s: out of memory", label);
    PQfinish(first);
    if (p) {
      free(p->conninfo);
      free(p);
    }
    return NULL;
  }
  p->size = size;
  for (int i = 0; i < size; i++) {
    pthread_mutex_init(&p->slots[i].mu, NULL);
    p->slots[i].c.conninfo = p->conninfo;
    p->slots[i].c.label = p->label;
  }
  p->slots[0].c.pg = first;
  return p;
}

scribe_postgres_conn *scribe_postgres_pool_acquire(scribe_postgres_pool *p) {
  for (int i = 0; i < p->size; i++)
    if (pthread_mutex_trylock(&p->slots[i].mu) == 0) return &p->slots[i].c;
  slot *s = &p->slots[__atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED) % (unsigned)p->size];
  pthread_mutex_lock(&s->mu);
  return &s->c;
}

void scribe_postgres_pool_release(scribe_postgres_pool *p, scribe_postgres_conn *c) {
  if (!c) return;
  scribe_postgres_rollback(c); /* never hand on a connection inside a transaction */
  slot *s = (slot *)((char *)c - offsetof(slot, c));
  pthread_mutex_unlock(&s->mu);
}

const char *scribe_postgres_pool_conninfo(const scribe_postgres_pool *p) {
  return p ? p->conninfo : NULL;
}
