/*
 * postgres.h - what the PostgreSQL backends (queue, results, notify) share:
 * the schema migrations, connections that reconnect themselves, a small
 * connection pool, and the translation of libpq errors into SCRIBE_E*.
 *
 * Usage:
 *   char err[256];
 *   if (scribe_postgres_migrate("postgresql://scribe@db/scribe", err, sizeof(err)))
 *     fprintf(stderr, "%s\n", err);
 *
 *   scribe_postgres_pool *pool = scribe_postgres_pool_create(conninfo, "queue postgres", 2,
 *                                                           err, sizeof(err));
 *   scribe_postgres_conn *c = scribe_postgres_pool_acquire(pool);
 *   PGresult *res;
 *   int rc = scribe_postgres_exec(c, "stats", "SELECT 1", 0, NULL, &res);
 *   if (rc == SCRIBE_OK) PQclear(res);
 *   scribe_postgres_pool_release(pool, c);
 *
 * Connection strings (libpq keyword=value or postgresql:// URLs) may hold a
 * password: nothing here ever logs them or puts them in an error message;
 * messages name host, port and database only.
 *
 * Errors: connection failures and server shutdowns -> SCRIBE_EUNAVAILABLE;
 * serialization failures, deadlocks, lock timeouts and resource exhaustion
 * -> SCRIBE_EAGAIN; everything else -> SCRIBE_EIO.  All three are
 * transient (scribe_err_transient()).
 */
#ifndef SCRIBE_POSTGRES_H
#define SCRIBE_POSTGRES_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

/* Latest schema version this program knows (see postgres_schema.c). */
#define SCRIBE_POSTGRES_SCHEMA_VERSION 3

/* Creates or upgrades every Scribe table in the database named by conninfo
 * (jobs, results, events), recording each applied step in
 * scribe_schema_migrations.  Runs under a session advisory lock, so several
 * processes may call it at once: one migrates, the others wait and find
 * nothing left to do.  Idempotent and cheap when already current.
 * Returns SCRIBE_OK; SCRIBE_EUNAVAILABLE when the server cannot be reached,
 * SCRIBE_ECONFIG when the database's schema is newer than this program's,
 * other codes when a step fails (nothing of that step is kept).  err gets a
 * one-line reason (never the password). */
int scribe_postgres_migrate(const char *conninfo, char *err, size_t errlen);

/* The same on an open connection (used by the backends at create). */
int scribe_postgres_migrate_conn(PGconn *pg, char *err, size_t errlen);

/* Writes "host:port/dbname" for conninfo into buf (never user or
 * password); "(invalid connection string)" when it does not parse. */
void scribe_postgres_describe(const char *conninfo, char *buf, size_t len);

/* Opens a connection.  NULL on failure with err set to
 * "<label>: cannot connect to PostgreSQL at host:port/db: <reason>".
 * The caller PQfinish()es the result. */
PGconn *scribe_postgres_connect(const char *conninfo, const char *label, char *err,
                                size_t errlen);

/* Translates a failed result (res may be NULL) on pg into a SCRIBE_E*
 * code (see the top of this file). */
int scribe_postgres_error(PGconn *pg, const PGresult *res);

/* One connection that reconnects itself: after a call fails because the
 * connection was lost, the next call opens a new one; while the server
 * stays unreachable, attempts back off from 100 ms to 5 s and calls in
 * between fail at once with SCRIBE_EUNAVAILABLE.  Not thread-safe: use it
 * from one thread at a time (the pool hands each out to one caller). */
typedef struct scribe_postgres_conn {
  PGconn *pg;          /* NULL while disconnected */
  const char *conninfo; /* the pool's copy; never logged */
  const char *label;
  int64_t retry_at_ms; /* monotonic; no reconnect before this */
  int64_t backoff_ms;
  int down_logged;     /* an outage was reported already */
} scribe_postgres_conn;

/* Makes sure c is connected: SCRIBE_OK or SCRIBE_EUNAVAILABLE. */
int scribe_postgres_ready(scribe_postgres_conn *c);

/* Runs sql with nparams text parameters (values[i] may be NULL for SQL
 * NULL).  On SCRIBE_OK, *out (when out is not NULL) holds the result, which
 * the caller PQclear()s; on error *out is NULL, the failure is logged as
 * "<label>: <op>: <server message>" and translated.  A lost connection is
 * closed here so that the next call reconnects. */
int scribe_postgres_exec(scribe_postgres_conn *c, const char *op, const char *sql, int nparams,
                         const char *const *values, PGresult **out);

/* Rolls back an open transaction, if any (after a failed step). */
void scribe_postgres_rollback(scribe_postgres_conn *c);

/* A fixed number of connections opened on demand; the first is opened at
 * create (so an unreachable server is reported there) and migrations run
 * on it.  Thread-safe. */
typedef struct scribe_postgres_pool scribe_postgres_pool;

/* NULL on failure with err set (see scribe_postgres_connect; also
 * migration errors).  size is clamped to 1..16.  conninfo is copied. */
scribe_postgres_pool *scribe_postgres_pool_create(const char *conninfo, const char *label,
                                                  int size, char *err, size_t errlen);
/* Closes every connection.  NULL is fine.  No connection may be held. */
void scribe_postgres_pool_free(scribe_postgres_pool *p);
/* A connection for the caller's exclusive use (a free one if any, else it
 * waits for one); give it back with scribe_postgres_pool_release(). */
scribe_postgres_conn *scribe_postgres_pool_acquire(scribe_postgres_pool *p);
void scribe_postgres_pool_release(scribe_postgres_pool *p, scribe_postgres_conn *c);
/* The pool's copy of the connection string (for extra connections such as
 * a LISTEN connection). */
const char *scribe_postgres_pool_conninfo(const scribe_postgres_pool *p);

#endif
