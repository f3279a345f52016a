/*
 * auth_sqlite.c - the account store of auth.h on SQLite (data_dir/auth.db).
 *
 * Tables:
 *   users(id, username, role, password_hash, disabled, created_ms)
 *   tokens(id, user_id, hash, name, created_ms, expires_ms, revoked)
 *   sessions(hash, user_id, csrf_hash, created_ms, expires_ms)
 *   owners(key, user_id)                 consultation -> owner
 * Secrets are looked up by their SHA-256 (hex) and the stored hash is then
 * compared in constant time.  Argon2id runs outside the connection lock.
 */
#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "core/clock.h"
#include "core/error.h"
#include "core/log.h"

/* OWASP's Argon2id minimum: 19 MiB, 2 passes, 1 lane. */
#define ARGON_T 2
#define ARGON_M (19 * 1024)
#define ARGON_P 1
#define ARGON_SALT 16
#define ARGON_HASH 32
#define ARGON_ENCODED_MAX 160

struct scribe_auth {
  sqlite3 *db;
  pthread_mutex_t mu;
  char dummy_hash[ARGON_ENCODED_MAX]; /* verified for unknown users */
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE IF NOT EXISTS users("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " username TEXT NOT NULL UNIQUE,"
    " role TEXT NOT NULL CHECK (role IN ('admin','clinician')),"
    " password_hash TEXT NOT NULL,"
    " disabled INTEGER NOT NULL DEFAULT 0,"
    " created_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS tokens("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " user_id INTEGER NOT NULL REFERENCES users(id),"
    " hash TEXT NOT NULL UNIQUE,"
    " name TEXT NOT NULL DEFAULT '',"
    " created_ms INTEGER NOT NULL,"
    " expires_ms INTEGER NOT NULL,"
    " revoked INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS sessions("
    " hash TEXT PRIMARY KEY NOT NULL,"
    " user_id INTEGER NOT NULL REFERENCES users(id),"
    " csrf_hash TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL,"
    " expires_ms INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS owners("
    " key TEXT PRIMARY KEY NOT NULL,"
    " user_id INTEGER NOT NULL);";

/* ---- helpers ------------------------------------------------------------ */

const char *scribe_auth_role_name(scribe_role r) {
  return r == SCRIBE_ROLE_ADMIN ? "admin" : r == SCRIBE_ROLE_CLINICIAN ? "clinician" : NULL;
}

int scribe_auth_role_parse(const char *name) {
  if (!name) return -1;
  if (!strcmp(name, "admin")) return SCRIBE_ROLE_ADMIN;
  if (!strcmp(name, "clinician")) return SCRIBE_ROLE_CLINICIAN;
  return -1;
}

bool scribe_auth_name_valid(const char *name) {
  if (!name) return false;
  size_t n = strlen(name);
  if (n == 0 || n > SCRIBE_AUTH_NAME_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '@' || c == '-';
    if (!ok) return false;
  }
  return true;
}

int scribe_auth_path(const char *data_dir, char *out, size_t outlen) {
  int n = snprintf(out, outlen, "%s/auth.db", data_dir);
  return (n < 0 || (size_t)n >= outlen) ? SCRIBE_ETOOBIG : SCRIBE_OK;
}

static void hex(const unsigned char *p, size_t n, char *out) {
  static const char d[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = d[p[i] >> 4];
    out[2 * i + 1] = d[p[i] & 15];
  }
  out[2 * n] = '\0';
}

/* 32 random bytes as 64 hex digits. */
static int random_hex(char out[65]) {
  unsigned char b[32];
  if (RAND_bytes(b, sizeof(b)) != 1) return SCRIBE_EINTERNAL;
  hex(b, sizeof(b), out);
  OPENSSL_cleanse(b, sizeof(b));
  return SCRIBE_OK;
}

static void sha256_hex(const char *s, char out[65]) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256((const unsigned char *)s, strlen(s), md);
  hex(md, sizeof(md), out);
}

static bool is_hex(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return s[n] == '\0';
}

static bool password_ok(const char *pw) {
  size_t n = pw ? strlen(pw) : 0;
  return n >= SCRIBE_AUTH_PASSWORD_MIN && n <= SCRIBE_AUTH_PASSWORD_MAX;
}

static int hash_password(const char *pw, char out[ARGON_ENCODED_MAX]) {
  unsigned char salt[ARGON_SALT];
  if (RAND_bytes(salt, sizeof(salt)) != 1) return SCRIBE_EINTERNAL;
  int rc = argon2id_hash_encoded(ARGON_T, ARGON_M, ARGON_P, pw, strlen(pw), salt, sizeof(salt),
                                 ARGON_HASH, out, ARGON_ENCODED_MAX);
  return rc == ARGON2_OK ? SCRIBE_OK : rc == ARGON2_MEMORY_ALLOCATION_ERROR ? SCRIBE_ENOMEM
                                                                           : SCRIBE_EINTERNAL;
}

static int db_rc(int rc) {
  switch (rc) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
      return SCRIBE_OK;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return SCRIBE_EAGAIN;
    case SQLITE_CONSTRAINT:
      return SCRIBE_EEXISTS;
    case SQLITE_NOMEM:
      return SCRIBE_ENOMEM;
    default:
      return SCRIBE_EIO;
  }
}

typedef int (*row_fn)(sqlite3_stmt *st, void *ud);
static int vexec_locked(scribe_auth *a, const char *sql, row_fn row, void *ud, int *changes,
                        const char *fmt, va_list ap) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(a->db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK) {
    LOG_ERROR("auth: prepare: %s", sqlite3_errmsg(a->db));
    return db_rc(rc);
  }
  for (int i = 0; fmt[i]; i++) {
    if (fmt[i] == 't')
      sqlite3_bind_text(st, i + 1, va_arg(ap, const char *), -1, SQLITE_TRANSIENT);
    else
      sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
  }
  int out = SCRIBE_OK;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (row && row(st, ud)) break;
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) out = db_rc(rc);
  if (changes) *changes = sqlite3_changes(a->db);
  sqlite3_finalize(st);
  return out;
}

/* Runs a statement with bound arguments.  fmt: one letter per argument,
 * 't' (const char *) or 'i' (int64_t).  When row is not NULL it is called
 * for each result row (return nonzero to stop).  Caller holds a->mu. */
static int exec_locked(scribe_auth *a, const char *sql, row_fn row, void *ud, int *changes,
                       const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = vexec_locked(a, sql, row, ud, changes, fmt, ap);
  va_end(ap);
  return rc;
}

/* The same, taking the lock. */
static int exec1(scribe_auth *a, const char *sql, row_fn row, void *ud, int *changes,
                 const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  pthread_mutex_lock(&a->mu);
  int rc = vexec_locked(a, sql, row, ud, changes, fmt, ap);
  pthread_mutex_unlock(&a->mu);
  va_end(ap);
  return rc;
}

static void copy_text(char *dst, size_t n, const unsigned char *src) {
  snprintf(dst, n, "%s", src ? (const char *)src : "");
}

/* ---- open / close -------------------------------------------------------- */

scribe_auth *scribe_auth_open(const char *path, char *err, size_t errlen) {
  scribe_auth *a = calloc(1, sizeof(*a));
  if (!a) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  if (pthread_mutex_init(&a->mu, NULL) != 0) {
    free(a);
    snprintf(err, errlen, "cannot create a mutex");
    return NULL;
  }
  char *msg = NULL;
  int rc = sqlite3_open_v2(path, &a->db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                           NULL);
  if (rc != SQLITE_OK) {
    snprintf(err, errlen, "%s: cannot open: %s", path,
             a->db ? sqlite3_errmsg(a->db) : "out of memory");
    goto fail;
  }
  sqlite3_busy_timeout(a->db, 5000);
  if (sqlite3_exec(a->db, schema, NULL, NULL, &msg) != SQLITE_OK) {
    snprintf(err, errlen, "%s: cannot create tables: %s", path, msg ? msg : "?");
    sqlite3_free(msg);
    goto fail;
  }
  if (hash_password("scribe-dummy-password", a->dummy_hash) != SCRIBE_OK) {
    snprintf(err, errlen, "argon2id is not available");
    goto fail;
  }
  return a;
fail:
  sqlite3_close(a->db);
  pthread_mutex_destroy(&a->mu);
  free(a);
  return NULL;
}

void scribe_auth_close(scribe_auth *a) {
  if (!a) return;
  sqlite3_close(a->db);
  pthread_mutex_destroy(&a->mu);
  free(a);
}

/* ---- users ---------------------------------------------------------------- */

int scribe_auth_user_add(scribe_auth *a, const char *username, scribe_role role,
                         const char *password, int64_t *id) {
  if (!scribe_auth_name_valid(username) || !password_ok(password) ||
      !scribe_auth_role_name(role))
    return SCRIBE_EINVAL;
  char enc[ARGON_ENCODED_MAX];
  int rc = hash_password(password, enc);
  if (rc) return rc;
  pthread_mutex_lock(&a->mu);
  rc = exec_locked(a,
                   "INSERT INTO users(username, role, password_hash, created_ms) "
                   "VALUES(?1, ?2, ?3, ?4)",
                   NULL, NULL, NULL, "ttti", username, scribe_auth_role_name(role), enc,
                   scribe_now_ms());
  if (!rc && id) *id = sqlite3_last_insert_rowid(a->db);
  pthread_mutex_unlock(&a->mu);
  OPENSSL_cleanse(enc, sizeof(enc));
  return rc;
}

static void read_user(sqlite3_stmt *st, scribe_auth_user *u) {
  u->id = sqlite3_column_int64(st, 0);
  copy_text(u->username, sizeof(u->username), sqlite3_column_text(st, 1));
  u->role = scribe_auth_role_parse((const char *)sqlite3_column_text(st, 2)) == SCRIBE_ROLE_ADMIN
                ? SCRIBE_ROLE_ADMIN
                : SCRIBE_ROLE_CLINICIAN;
  u->disabled = sqlite3_column_int(st, 3) != 0;
  u->created_ms = sqlite3_column_int64(st, 4);
}

typedef struct {
  scribe_auth_user *u;
  bool found;
  char hash[ARGON_ENCODED_MAX];
} one_user;

static int on_one_user(sqlite3_stmt *st, void *ud) {
  one_user *o = ud;
  read_user(st, o->u);
  copy_text(o->hash, sizeof(o->hash), sqlite3_column_text(st, 5));
  o->found = true;
  return 1;
}

#define USER_COLS "id, username, role, disabled, created_ms, password_hash"

int scribe_auth_user_get(scribe_auth *a, const char *username, scribe_auth_user *out) {
  one_user o = {out, false, ""};
  int rc = exec1(a, "SELECT " USER_COLS " FROM users WHERE username=?1", on_one_user, &o, NULL,
                "t", username ? username : "");
  OPENSSL_cleanse(o.hash, sizeof(o.hash));
  if (rc) return rc;
  return o.found ? SCRIBE_OK : SCRIBE_ENOTFOUND;
}

typedef struct {
  scribe_auth_user *v;
  size_t n, cap;
  int rc;
} user_vec;

static int on_user_row(sqlite3_stmt *st, void *ud) {
  user_vec *uv = ud;
  if (uv->n == uv->cap) {
    size_t cap = uv->cap ? uv->cap * 2 : 16;
    scribe_auth_user *v = realloc(uv->v, cap * sizeof(*v));
    if (!v) {
      uv->rc = SCRIBE_ENOMEM;
      return 1;
    }
    uv->v = v;
    uv->cap = cap;
  }
  read_user(st, &uv->v[uv->n++]);
  return 0;
}

int scribe_auth_user_list(scribe_auth *a, scribe_auth_user **out, size_t *n) {
  user_vec uv = {0};
  int rc = exec1(a, "SELECT " USER_COLS " FROM users ORDER BY id", on_user_row, &uv, NULL, "");
  if (!rc) rc = uv.rc;
  if (rc) {
    free(uv.v);
    *out = NULL;
    *n = 0;
    return rc;
  }
  *out = uv.v;
  *n = uv.n;
  return SCRIBE_OK;
}

int scribe_auth_user_disable(scribe_auth *a, const char *username) {
  int changes = 0;
  pthread_mutex_lock(&a->mu);
  int rc = exec_locked(a, "UPDATE users SET disabled=1 WHERE username=?1", NULL, NULL, &changes,
                       "t", username);
  if (!rc && changes)
    rc = exec_locked(a,
                     "DELETE FROM sessions WHERE user_id=(SELECT id FROM users WHERE "
                     "username=?1)",
                     NULL, NULL, NULL, "t", username);
  pthread_mutex_unlock(&a->mu);
  if (rc) return rc;
  return changes ? SCRIBE_OK : SCRIBE_ENOTFOUND;
}

int scribe_auth_user_set_password(scribe_auth *a, const char *username, const char *password) {
  if (!password_ok(password)) return SCRIBE_EINVAL;
  char enc[ARGON_ENCODED_MAX];
  int rc = hash_password(password, enc);
  if (rc) return rc;
  int changes = 0;
  pthread_mutex_lock(&a->mu);
  rc = exec_locked(a, "UPDATE users SET password_hash=?2 WHERE username=?1", NULL, NULL,
                   &changes, "tt", username, enc);
  if (!rc && changes)
    rc = exec_locked(a,
                     "DELETE FROM sessions WHERE user_id=(SELECT id FROM users WHERE "
                     "username=?1)",
                     NULL, NULL, NULL, "t", username);
  pthread_mutex_unlock(&a->mu);
  OPENSSL_cleanse(enc, sizeof(enc));
  if (rc) return rc;
  return changes ? SCRIBE_OK : SCRIBE_ENOTFOUND;
}

static void to_principal(const scribe_auth_user *u, scribe_auth_principal *p) {
  p->user_id = u->id;
  memcpy(p->username, u->username, sizeof(p->username));
  p->role = u->role;
}

int scribe_auth_login(scribe_auth *a, const char *username, const char *password,
                      scribe_auth_principal *out) {
  scribe_auth_user u;
  one_user o = {&u, false, ""};
  bool valid = scribe_auth_name_valid(username) && password &&
               strlen(password) <= SCRIBE_AUTH_PASSWORD_MAX;
  int rc = SCRIBE_OK;
  if (valid)
    rc = exec1(a, "SELECT " USER_COLS " FROM users WHERE username=?1", on_one_user, &o, NULL, "t",
              username);
  if (rc) return rc;
  const char *hash = o.found ? o.hash : a->dummy_hash;
  const char *pw = password ? password : "";
  bool match = argon2id_verify(hash, pw, strlen(pw)) == ARGON2_OK;
  OPENSSL_cleanse(o.hash, sizeof(o.hash));
  if (!valid || !o.found || !match || u.disabled) return SCRIBE_EFORBIDDEN;
  to_principal(&u, out);
  return SCRIBE_OK;
}

/* ---- tokens -------------------------------------------------------------- */

int scribe_auth_token_create(scribe_auth *a, const char *username, const char *name,
                             int64_t expires_ms, char token_out[SCRIBE_AUTH_TOKEN_LEN + 1],
                             int64_t *id) {
  scribe_auth_user u;
  int rc = scribe_auth_user_get(a, username, &u);
  if (rc) return rc;
  char rnd[65], h[65];
  rc = random_hex(rnd);
  if (rc) return rc;
  snprintf(token_out, SCRIBE_AUTH_TOKEN_LEN + 1, "scribe_%s", rnd);
  OPENSSL_cleanse(rnd, sizeof(rnd));
  sha256_hex(token_out, h);
  pthread_mutex_lock(&a->mu);
  rc = exec_locked(a,
                   "INSERT INTO tokens(user_id, hash, name, created_ms, expires_ms) "
                   "VALUES(?1, ?2, ?3, ?4, ?5)",
                   NULL, NULL, NULL, "ittii", u.id, h, name ? name : "", scribe_now_ms(),
                   expires_ms);
  if (!rc && id) *id = sqlite3_last_insert_rowid(a->db);
  pthread_mutex_unlock(&a->mu);
  if (rc) OPENSSL_cleanse(token_out, SCRIBE_AUTH_TOKEN_LEN + 1);
  return rc;
}

typedef struct {
  bool found;
  char hash[65];
  int64_t expires_ms;
  bool revoked;
  scribe_auth_user u;
} secret_row;

/* hash, expires, revoked, then the user's columns */
static int on_secret_row(sqlite3_stmt *st, void *ud) {
  secret_row *s = ud;
  copy_text(s->hash, sizeof(s->hash), sqlite3_column_text(st, 0));
  s->expires_ms = sqlite3_column_int64(st, 1);
  s->revoked = sqlite3_column_int(st, 2) != 0;
  s->u.id = sqlite3_column_int64(st, 3);
  copy_text(s->u.username, sizeof(s->u.username), sqlite3_column_text(st, 4));
  s->u.role = scribe_auth_role_parse((const char *)sqlite3_column_text(st, 5)) == SCRIBE_ROLE_ADMIN
                  ? SCRIBE_ROLE_ADMIN
                  : SCRIBE_ROLE_CLINICIAN;
  s->u.disabled = sqlite3_column_int(st, 6) != 0;
  s->found = true;
  return 1;
}

int scribe_auth_token_check(scribe_auth *a, const char *token, int64_t now,
                            scribe_auth_principal *out) {
  if (!token || strlen(token) != SCRIBE_AUTH_TOKEN_LEN || strncmp(token, "scribe_", 7) != 0 ||
      !is_hex(token + 7, 64))
    return SCRIBE_EFORBIDDEN;
  char h[65];
  sha256_hex(token, h);
  secret_row s = {0};
  int rc = exec1(a,
                "SELECT t.hash, t.expires_ms, t.revoked, u.id, u.username, u.role, u.disabled "
                "FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.hash=?1",
                on_secret_row, &s, NULL, "t", h);
  if (rc) return rc;
  if (!s.found || CRYPTO_memcmp(s.hash, h, 64) != 0 || s.revoked || s.u.disabled)
    return SCRIBE_EFORBIDDEN;
  if (now >= s.expires_ms) return SCRIBE_EEXPIRED;
  to_principal(&s.u, out);
  return SCRIBE_OK;
}

int scribe_auth_token_revoke(scribe_auth *a, int64_t id) {
  int changes = 0;
  int rc = exec1(a, "UPDATE tokens SET revoked=1 WHERE id=?1", NULL, NULL, &changes, "i", id);
  if (rc) return rc;
  return changes ? SCRIBE_OK : SCRIBE_ENOTFOUND;
}

typedef struct {
  scribe_auth_token_info *v;
  size_t n, cap;
  int rc;
} token_vec;

static int on_token_row(sqlite3_stmt *st, void *ud) {
  token_vec *tv = ud;
  if (tv->n == tv->cap) {
    size_t cap = tv->cap ? tv->cap * 2 : 16;
    scribe_auth_token_info *v = realloc(tv->v, cap * sizeof(*v));
    if (!v) {
      tv->rc = SCRIBE_ENOMEM;
      return 1;
    }
    tv->v = v;
    tv->cap = cap;
  }
  scribe_auth_token_info *t = &tv->v[tv->n++];
  t->id = sqlite3_column_int64(st, 0);
  t->user_id = sqlite3_column_int64(st, 1);
  copy_text(t->name, sizeof(t->name), sqlite3_column_text(st, 2));
  t->created_ms = sqlite3_column_int64(st, 3);
  t->expires_ms = sqlite3_column_int64(st, 4);
  t->revoked = sqlite3_column_int(st, 5) != 0;
  return 0;
}

int scribe_auth_token_list(scribe_auth *a, int64_t user_id, scribe_auth_token_info **out,
                           size_t *n) {
  token_vec tv = {0};
  int rc = exec1(a,
                "SELECT id, user_id, name, created_ms, expires_ms, revoked FROM tokens "
                "WHERE ?1 < 0 OR user_id=?1 ORDER BY id",
                on_token_row, &tv, NULL, "i", user_id);
  if (!rc) rc = tv.rc;
  if (rc) {
    free(tv.v);
    *out = NULL;
    *n = 0;
    return rc;
  }
  *out = tv.v;
  *n = tv.n;
  return SCRIBE_OK;
}

/* ---- sessions -------------------------------------------------------------- */

int scribe_auth_session_create(scribe_auth *a, int64_t user_id, int64_t expires_ms,
                               char sid_out[SCRIBE_AUTH_SESSION_LEN + 1],
                               char csrf_out[SCRIBE_AUTH_CSRF_LEN + 1]) {
  char hs[65], hc[65];
  int rc = random_hex(sid_out);
  if (!rc) rc = random_hex(csrf_out);
  if (rc) return rc;
  sha256_hex(sid_out, hs);
  sha256_hex(csrf_out, hc);
  int64_t now = scribe_now_ms();
  pthread_mutex_lock(&a->mu);
  /* expired sessions go away as new ones come */
  exec_locked(a, "DELETE FROM sessions WHERE expires_ms <= ?1", NULL, NULL, NULL, "i", now);
  rc = exec_locked(a,
                   "INSERT INTO sessions(hash, user_id, csrf_hash, created_ms, expires_ms) "
                   "VALUES(?1, ?2, ?3, ?4, ?5)",
                   NULL, NULL, NULL, "titii", hs, user_id, hc, now, expires_ms);
  pthread_mutex_unlock(&a->mu);
  return rc;
}

typedef struct {
  secret_row s;
  char csrf_hash[65];
} session_row;

static int on_session_row(sqlite3_stmt *st, void *ud) {
  session_row *r = ud;
  on_secret_row(st, &r->s);
  copy_text(r->csrf_hash, sizeof(r->csrf_hash), sqlite3_column_text(st, 7));
  return 1;
}

int scribe_auth_session_check(scribe_auth *a, const char *sid, const char *csrf, int64_t now,
                              scribe_auth_principal *out) {
  if (!sid || strlen(sid) != SCRIBE_AUTH_SESSION_LEN || !is_hex(sid, 64)) return SCRIBE_EFORBIDDEN;
  char h[65];
  sha256_hex(sid, h);
  session_row r = {0};
  int rc = exec1(a,
                "SELECT s.hash, s.expires_ms, 0, u.id, u.username, u.role, u.disabled, "
                "s.csrf_hash FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.hash=?1",
                on_session_row, &r, NULL, "t", h);
  if (rc) return rc;
  if (!r.s.found || CRYPTO_memcmp(r.s.hash, h, 64) != 0 || r.s.u.disabled ||
      now >= r.s.expires_ms)
    return SCRIBE_EFORBIDDEN;
  if (csrf) {
    char hc[65];
    sha256_hex(csrf, hc);
    if (CRYPTO_memcmp(hc, r.csrf_hash, 64) != 0) return SCRIBE_EBADKEY;
  }
  to_principal(&r.s.u, out);
  return SCRIBE_OK;
}

int scribe_auth_session_delete(scribe_auth *a, const char *sid) {
  if (!sid) return SCRIBE_OK;
  char h[65];
  sha256_hex(sid, h);
  return exec1(a, "DELETE FROM sessions WHERE hash=?1", NULL, NULL, NULL, "t", h);
}

/* ---- owners ---------------------------------------------------------------- */

int scribe_auth_owner_set(scribe_auth *a, const char *key, int64_t user_id) {
  return exec1(a, "INSERT OR REPLACE INTO owners(key, user_id) VALUES(?1, ?2)", NULL, NULL, NULL,
              "ti", key, user_id);
}

typedef struct {
  bool found;
  int64_t v;
} one_int;

static int on_one_int(sqlite3_stmt *st, void *ud) {
  one_int *o = ud;
  o->v = sqlite3_column_int64(st, 0);
  o->found = true;
  return 1;
}

int scribe_auth_owner_get(scribe_auth *a, const char *key, int64_t *user_id) {
  one_int o = {0};
  int rc = exec1(a, "SELECT user_id FROM owners WHERE key=?1", on_one_int, &o, NULL, "t", key);
  if (rc) return rc;
  if (!o.found) return SCRIBE_ENOTFOUND;
  *user_id = o.v;
  return SCRIBE_OK;
}

int scribe_auth_owner_remove(scribe_auth *a, const char *key) {
  return exec1(a, "DELETE FROM owners WHERE key=?1", NULL, NULL, NULL, "t", key);
}
