/*
 * postgres_schema.c - versioned schema migrations for the PostgreSQL
 * backends (`scribe migrate`, and every backend's create).
 *
 * Each step below runs once, in its own transaction, and is recorded in
 * scribe_schema_migrations(version, name, applied_at).  The whole run holds
 * a session advisory lock, so processes starting together take turns: the
 * first applies what is missing, the next ones find the latest version and
 * do nothing.  Steps are append-only: never edit a released step, add a new
 * one (and bump SCRIBE_POSTGRES_SCHEMA_VERSION).
 *
 * Tables are prefixed scribe_ so the database can be shared.  Keys use the
 * "C" collation so that ordering (list cursors) is bytewise whatever the
 * database's locale.  Result documents are text, not jsonb: jsonb reorders
 * members and refuses \u0000, and the API returns documents as stored.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "queue/postgres.h"

/* pg_advisory_lock key serialising migrations ("scribe" in ASCII). */
#define MIGRATE_LOCK_SQL "SELECT pg_advisory_lock(126943076660325)"
#define MIGRATE_UNLOCK_SQL "SELECT pg_advisory_unlock(126943076660325)"

typedef struct migration {
  int version;
  const char *name;
  const char *sql;
} migration;

static const migration migrations[] = {
    {1, "queue: scribe_jobs",
     "CREATE TABLE scribe_jobs("
     " id bigserial PRIMARY KEY,"
     " key text COLLATE \"C\" NOT NULL,"
     " state text NOT NULL CHECK (state IN ('ready','leased','done','dead')),"
     " attempts integer NOT NULL DEFAULT 0,"
     " available_at_ms bigint NOT NULL,"
     " lease_until_ms bigint NOT NULL DEFAULT 0,"
     " token text,"
     " last_error text,"
     " created_at_ms bigint NOT NULL,"
     " updated_at_ms bigint NOT NULL);"
     "CREATE UNIQUE INDEX scribe_jobs_pending_key ON scribe_jobs(key)"
     " WHERE state IN ('ready','leased');"
     "CREATE INDEX scribe_jobs_ready ON scribe_jobs(available_at_ms, id) WHERE state='ready';"
     "CREATE INDEX scribe_jobs_leased ON scribe_jobs(lease_until_ms, id) WHERE state='leased';"
     "CREATE INDEX scribe_jobs_done ON scribe_jobs(updated_at_ms) WHERE state='done';"},
    {2, "results: scribe_results",
     "CREATE SEQUENCE scribe_results_version;"
     "CREATE TABLE scribe_results("
     " key text COLLATE \"C\" PRIMARY KEY,"
     " status text NOT NULL,"
     " percent integer NOT NULL DEFAULT 0,"
     " error text,"
     " patient_id text,"
     " owner text,"
     " filename text,"
     " created_at_ms bigint NOT NULL,"
     " updated_at_ms bigint NOT NULL,"
     " doc text,"
     " version bigint NOT NULL);"
     "CREATE INDEX scribe_results_created ON scribe_results(created_at_ms, key);"
     "CREATE INDEX scribe_results_status_created ON scribe_results(status, created_at_ms, key);"},
    {3, "notify: scribe_events",
     "CREATE TABLE scribe_events("
     " id bigserial PRIMARY KEY,"
     " origin text NOT NULL,"
     " key text NOT NULL,"
     " event text NOT NULL,"
     " created_at timestamptz NOT NULL DEFAULT now());"
     "CREATE INDEX scribe_events_created ON scribe_events(created_at);"},
};

#define N_MIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

_Static_assert(N_MIGRATIONS == SCRIBE_POSTGRES_SCHEMA_VERSION,
               "bump SCRIBE_POSTGRES_SCHEMA_VERSION with every new step");

/* Runs sql (may be several statements, no parameters); on failure writes
 * "postgres migrate: <what>: <server message>" into err. */
static int run(PGconn *pg, const char *sql, const char *what, char *err, size_t errlen) {
  PGresult *res = PQexec(pg, sql);
  ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
    PQclear(res);
    return SCRIBE_OK;
  }
  int rc = scribe_postgres_error(pg, res);
  const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  if (!msg) msg = PQerrorMessage(pg);
  size_t n = strcspn(msg, "\n");
  snprintf(err, errlen, "postgres migrate: %s: %.*s", what, (int)(n > 300 ? 300 : n), msg);
  PQclear(res);
  return rc;
}

/* The recorded schema version (0 for a database never migrated), or a
 * negative error.  Does not create anything. */
static int current_version(PGconn *pg, int *version, char *err, size_t errlen) {
  *version = 0;
  PGresult *res = PQexec(pg,
                         "SELECT CASE WHEN to_regclass('scribe_schema_migrations') IS NULL"
                         " THEN -1 ELSE 0 END");
  if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
    int rc = scribe_postgres_error(pg, res);
    snprintf(err, errlen, "postgres migrate: cannot read the schema version");
    PQclear(res);
    return rc;
  }
  bool absent = atoi(PQgetvalue(res, 0, 0)) < 0;
  PQclear(res);
  if (absent) return SCRIBE_OK;
  res = PQexec(pg, "SELECT COALESCE(MAX(version), 0) FROM scribe_schema_migrations");
  if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
    int rc = scribe_postgres_error(pg, res);
    snprintf(err, errlen, "postgres migrate: cannot read scribe_schema_migrations");
    PQclear(res);
    return rc;
  }
  *version = atoi(PQgetvalue(res, 0, 0));
  PQclear(res);
  return SCRIBE_OK;
}

int scribe_postgres_migrate_conn(PGconn *pg, char *err, size_t errlen) {
  char tmp[8];
  if (!err) {
    err = tmp;
    errlen = sizeof(tmp);
  }
  if (!pg) return SCRIBE_EINVAL;
  int version = 0;
  /* Fast path, no lock: already current (every process start after the
   * first). */
  int rc = current_version(pg, &version, err, errlen);
  if (rc) return rc;
  if (version == SCRIBE_POSTGRES_SCHEMA_VERSION) return SCRIBE_OK;
  bool locked = false;
  rc = run(pg, MIGRATE_LOCK_SQL, "take the migration lock", err, errlen);
  if (rc) goto out;
  locked = true;
  rc = run(pg,
           "CREATE TABLE IF NOT EXISTS scribe_schema_migrations("
           " version integer PRIMARY KEY,"
           " name text NOT NULL,"
           " applied_at timestamptz NOT NULL DEFAULT now())",
           "create scribe_schema_migrations", err, errlen);
  if (rc) goto out;
  rc = current_version(pg, &version, err, errlen); /* again, under the lock */
  if (rc) goto out;
  if (version > SCRIBE_POSTGRES_SCHEMA_VERSION) {
    snprintf(err, errlen,
             "postgres migrate: the database schema (version %d) is newer than this "
             "program's (%d): upgrade Scribe",
             version, SCRIBE_POSTGRES_SCHEMA_VERSION);
    rc = SCRIBE_ECONFIG;
    goto out;
  }
  for (size_t i = 0; i < N_MIGRATIONS; i++) {
    const migration *m = &migrations[i];
    if (m->version <= version) continue;
    rc = run(pg, "BEGIN", "begin", err, errlen);
    if (rc) goto out;
    rc = run(pg, m->sql, m->name, err, errlen);
    if (rc == SCRIBE_OK) {
      char ver[16];
      snprintf(ver, sizeof(ver), "%d", m->version);
      const char *vals[] = {ver, m->name};
      PGresult *res = PQexecParams(
          pg, "INSERT INTO scribe_schema_migrations(version, name) VALUES($1::integer, $2)", 2,
          NULL, vals, NULL, NULL, 0);
      if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = scribe_postgres_error(pg, res);
        snprintf(err, errlen, "postgres migrate: cannot record version %d", m->version);
      }
      PQclear(res);
    }
    if (rc == SCRIBE_OK) rc = run(pg, "COMMIT", "commit", err, errlen);
    if (rc) {
      PQclear(PQexec(pg, "ROLLBACK"));
      goto out;
    }
    LOG_INFO("postgres: schema migrated to version %d (%s)", m->version, m->name);
  }
out:
  if (locked && PQstatus(pg) == CONNECTION_OK) PQclear(PQexec(pg, MIGRATE_UNLOCK_SQL));
  return rc;
}

int scribe_postgres_migrate(const char *conninfo, char *err, size_t errlen) {
  char tmp[8];
  if (!err) {
    err = tmp;
    errlen = sizeof(tmp);
  }
  if (errlen) err[0] = '\0';
  PGconn *pg = scribe_postgres_connect(conninfo, "postgres migrate", err, errlen);
  if (!pg) return SCRIBE_EUNAVAILABLE;
  int rc = scribe_postgres_migrate_conn(pg, err, errlen);
  PQfinish(pg);
  return rc;
}
