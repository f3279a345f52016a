/*
 * sqlite_db.h - what the SQLite backends (queue, results) share: opening a
 * database in WAL mode, translating SQLite's result codes, and versioned
 * schemas in one file.
 */
#ifndef SCRIBE_SQLITE_DB_H
#define SCRIBE_SQLITE_DB_H

#include <sqlite3.h>
#include <stddef.h>

/* SQLite result code -> SCRIBE_E* (BUSY/LOCKED are transient: EAGAIN). */
int scribe_sqlite_map(int rc);

/* Opens path read-write (created if absent) with a busy timeout, extended
 * result codes, WAL and synchronous=FULL (a commit survives power loss).
 * Switching a new file to WAL takes a lock that bypasses the busy handler,
 * so when several processes open a fresh file at once this retries until
 * busy_ms.  `who` ("queue sqlite") prefixes messages.  NULL on failure
 * with err set. */
sqlite3 *scribe_sqlite_open(const char *path, int busy_ms, const char *who, char *err,
                            size_t errlen);

/* Creates or upgrades `component`'s tables to `version` by running `ddl`
 * (idempotent CREATE … IF NOT EXISTS statements) in one write transaction,
 * recording the version in the shared table scribe_schema (one row per
 * component, so several stores can share a file).  A database newer than
 * this program fails with SCRIBE_ECONFIG. */
int scribe_sqlite_schema(sqlite3 *db, const char *component, int version, const char *ddl,
                         const char *who, char *err, size_t errlen);

#endif
