#include "db/sqlite_db.h"

#include <stdio.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"

int scribe_sqlite_map(int rc) {
  switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW: return SCRIBE_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return SCRIBE_EAGAIN;
    case SQLITE_NOMEM: return SCRIBE_ENOMEM;
    default: return SCRIBE_EIO;
  }
}

sqlite3 *scribe_sqlite_open(const char *path, int busy_ms, const char *who, char *err,
                            size_t errlen) {
  sqlite3 *db = NULL;
  int rc = sqlite3_open_v2(path, &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                           NULL);
  if (rc != SQLITE_OK) {
    snprintf(err, errlen, "%s: cannot open %s: %s", who, path,
             db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close_v2(db);
    return NULL;
  }
  sqlite3_busy_timeout(db, busy_ms);
  sqlite3_extended_result_codes(db, 1);
  int64_t give_up = scribe_mono_ms() + busy_ms;
  for (;;) {
    rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, NULL);
    if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) break;
    if (scribe_mono_ms() > give_up) break;
    scribe_sleep_ms(5);
  }
  if (rc != SQLITE_OK) {
    snprintf(err, errlen, "%s: cannot configure %s: %s", who, path, sqlite3_errmsg(db));
    sqlite3_close_v2(db);
    return NULL;
  }
  return db;
}

static int exec(sqlite3 *db, const char *sql, const char *who, const char *op) {
  int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
  if (rc == SQLITE_OK) return SCRIBE_OK;
  LOG_WARN("%s: %s: %s (%d)", who, op, sqlite3_errmsg(db), rc);
  return scribe_sqlite_map(rc);
}

int scribe_sqlite_schema(sqlite3 *db, const char *component, int version, const char *ddl,
                         const char *who, char *err, size_t errlen) {
  sqlite3_stmt *st = NULL;
  int rc = exec(db, "BEGIN IMMEDIATE", who, "begin");
  if (rc) goto fail;
  rc = exec(db,
            "CREATE TABLE IF NOT EXISTS scribe_schema("
            " component TEXT PRIMARY KEY, version INTEGER NOT NULL)",
            who, "create schema table");
  if (rc) goto fail;
  int s = sqlite3_prepare_v2(db, "SELECT version FROM scribe_schema WHERE component=?1", -1, &st,
                             NULL);
  if (s != SQLITE_OK) {
    rc = scribe_sqlite_map(s);
    goto fail;
  }
  sqlite3_bind_text(st, 1, component, -1, SQLITE_STATIC);
  s = sqlite3_step(st);
  int have = 0;
  if (s == SQLITE_ROW) {
    have = sqlite3_column_int(st, 0);
  } else if (s != SQLITE_DONE) {
    LOG_WARN("%s: read schema version: %s (%d)", who, sqlite3_errmsg(db), s);
    rc = scribe_sqlite_map(s);
    goto fail;
  }
  sqlite3_finalize(st);
  st = NULL;
  if (have > version) {
    snprintf(err, errlen, "%s: database schema version %d is newer than this program's (%d)", who,
             have, version);
    rc = SCRIBE_ECONFIG;
    goto fail;
  }
  if (have < version) {
    rc = exec(db, ddl, who, "create tables");
    if (rc) goto fail;
    s = sqlite3_prepare_v2(db,
                           "INSERT OR REPLACE INTO scribe_schema(component, version) VALUES(?1, ?2)",
                           -1, &st, NULL);
    if (s == SQLITE_OK) {
      sqlite3_bind_text(st, 1, component, -1, SQLITE_STATIC);
      sqlite3_bind_int(st, 2, version);
      s = sqlite3_step(st);
    }
    if (s != SQLITE_DONE) {
      rc = scribe_sqlite_map(s);
      goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;
  }
  rc = exec(db, "COMMIT", who, "commit");
  if (rc) goto fail;
  return SCRIBE_OK;

fail:
  sqlite3_finalize(st);
  if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  if (err && errlen && !err[0])
    snprintf(err, errlen, "%s: cannot set up tables: %s", who, scribe_strerror(rc));
  return rc;
}
