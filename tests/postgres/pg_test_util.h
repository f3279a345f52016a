/*
 * pg_test_util.h - PostgreSQL for the contract suites: where the test
 * server is, and a fresh database per test.
 *
 * The server: $SCRIBE_TEST_POSTGRES (a libpq connection string, for
 * running against a server of your own), else the throw-away cluster that
 * the ctest fixture `postgres_start` (scripts/postgres-test-server) started
 * and described in $SCRIBE_BINARY_DIR/pg-test/conninfo.  When neither is
 * there (PostgreSQL not installed), the suites skip their postgres cases.
 *
 * Databases created here are dropped at exit (WITH (FORCE)).
 * Header-only (static functions) so each test program stays one file.
 */
#ifndef SCRIBE_TEST_PG_TEST_UTIL_H
#define SCRIBE_TEST_PG_TEST_UTIL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PGT_MAX_DBS 128

static char pgt_dbs[PGT_MAX_DBS][64];
static int pgt_ndbs;
static pid_t pgt_owner;

/* The test server's connection string into buf; false when there is none. */
static inline bool pgt_base_conninfo(char *buf, size_t len) {
  const char *env = getenv("SCRIBE_TEST_POSTGRES");
  if (env && env[0]) {
    snprintf(buf, len, "%s", env);
    return true;
  }
  const char *bin = getenv("SCRIBE_BINARY_DIR");
  if (!bin || !bin[0]) return false;
  char path[1024];
  snprintf(path, sizeof(path), "%s/pg-test/conninfo", bin);
  FILE *f = fopen(path, "r");
  if (!f) return false;
  bool ok = fgets(buf, (int)len, f) != NULL;
  fclose(f);
  if (!ok) return false;
  buf[strcspn(buf, "\r\n")] = '\0';
  return buf[0] != '\0';
}

/* base with dbname replaced by db, as keyword='value' pairs. */
static inline bool pgt_with_db(const char *base, const char *db, char *out, size_t len) {
  char *perr = NULL;
  PQconninfoOption *opts = PQconninfoParse(base, &perr);
  PQfreemem(perr);
  if (!opts) return false;
  size_t used = 0;
  out[0] = '\0';
  for (PQconninfoOption *o = opts; o->keyword; o++) {
    const char *v = strcmp(o->keyword, "dbname") == 0 ? db : o->val;
    if (!v || !v[0]) continue;
    int n = snprintf(out + used, len - used, "%s%s='", used ? " " : "", o->keyword);
    if (n < 0 || (size_t)n >= len - used) goto toolong;
    used += (size_t)n;
    for (const char *c = v; *c; c++) {
      if (used + 4 > len) goto toolong;
      if (*c == '\'' || *c == '\\') out[used++] = '\\';
      out[used++] = *c;
    }
    out[used++] = '\'';
    out[used] = '\0';
  }
  PQconninfoFree(opts);
  return true;
toolong:
  PQconninfoFree(opts);
  return false;
}

static inline void pgt_drop_all(void) {
  if (getpid() != pgt_owner || pgt_ndbs == 0) return;
  char base[1024];
  if (!pgt_base_conninfo(base, sizeof(base))) return;
  PGconn *pg = PQconnectdb(base);
  if (PQstatus(pg) == CONNECTION_OK) {
    for (int i = 0; i < pgt_ndbs; i++) {
      char sql[128];
      snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", pgt_dbs[i]);
      PQclear(PQexec(pg, sql));
    }
  }
  PQfinish(pg);
  pgt_ndbs = 0;
}

/* Creates an empty database "<tag>_<pid>_<n>" on the test server and
 * writes its connection string into out.  false (with a message on stderr
 * when a server was configured) when that cannot be done. */
static inline bool pgt_fresh_db(const char *tag, char *out, size_t len) {
  static int seq;
  char base[1024];
  if (!pgt_base_conninfo(base, sizeof(base))) return false;
  char db[64];
  snprintf(db, sizeof(db), "%.20s_%ld_%d", tag, (long)getpid(), ++seq);
  PGconn *pg = PQconnectdb(base);
  if (PQstatus(pg) != CONNECTION_OK) {
    fprintf(stderr, "# test PostgreSQL unreachable: %s", PQerrorMessage(pg));
    PQfinish(pg);
    return false;
  }
  char sql[128];
  snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
  PGresult *res = PQexec(pg, sql);
  bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
  if (!ok) fprintf(stderr, "# %s: %s", sql, PQerrorMessage(pg));
  PQclear(res);
  PQfinish(pg);
  if (!ok) return false;
  if (pgt_owner == 0) {
    pgt_owner = getpid();
    atexit(pgt_drop_all);
  }
  if (pgt_ndbs < PGT_MAX_DBS) snprintf(pgt_dbs[pgt_ndbs++], sizeof(pgt_dbs[0]), "%s", db);
  return pgt_with_db(base, db, out, len);
}

#endif
