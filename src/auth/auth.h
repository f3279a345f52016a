/*
 * auth.h - accounts, API tokens, login sessions and consultation owners
 * (issue 6).  One SQLite database, data_dir/auth.db, shared by `scribe
 * serve` and `scribe user`.
 *
 *   char err[256];
 *   scribe_auth *a = scribe_auth_open("data/auth.db", err, sizeof err);
 *   scribe_auth_user_add(a, "alice", SCRIBE_ROLE_CLINICIAN, "pw…", NULL);
 *   char tok[SCRIBE_AUTH_TOKEN_LEN + 1]; int64_t tid;
 *   scribe_auth_token_create(a, "alice", "ehr", now + 90 * 86400000LL, tok, &tid);
 *   scribe_auth_principal p;
 *   if (scribe_auth_token_check(a, tok, now, &p) == SCRIBE_OK) …
 *   scribe_auth_close(a);
 *
 * Secrets: passwords are stored as Argon2id encoded hashes (libargon2);
 * API tokens and session ids are 32 random bytes shown once and stored as
 * SHA-256 hashes; every comparison of a secret is constant-time.  Nothing
 * here logs a password, token, session id or CSRF token.
 *
 * Handles are safe to use from several threads (SQLite serialized mode,
 * WAL, busy timeout); several processes may share one database.
 * Times are milliseconds since the Unix epoch.
 */
#ifndef SCRIBE_AUTH_H
#define SCRIBE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCRIBE_AUTH_NAME_MAX 64       /* user name: 1..64 of [A-Za-z0-9._@-] */
#define SCRIBE_AUTH_PASSWORD_MIN 8
#define SCRIBE_AUTH_PASSWORD_MAX 1024
#define SCRIBE_AUTH_TOKEN_LEN 71      /* "scribe_" + 64 hex digits */
#define SCRIBE_AUTH_SESSION_LEN 64    /* 64 hex digits */
#define SCRIBE_AUTH_CSRF_LEN 64       /* 64 hex digits */

typedef enum scribe_role { SCRIBE_ROLE_CLINICIAN = 0, SCRIBE_ROLE_ADMIN = 1 } scribe_role;

/* "clinician" / "admin"; parse returns -1 for anything else. */
const char *scribe_auth_role_name(scribe_role r);
int scribe_auth_role_parse(const char *name);

/* Who a request is, once authenticated. */
typedef struct scribe_auth_principal {
  int64_t user_id;
  char username[SCRIBE_AUTH_NAME_MAX + 1];
  scribe_role role;
} scribe_auth_principal;

typedef struct scribe_auth_user {
  int64_t id;
  char username[SCRIBE_AUTH_NAME_MAX + 1];
  scribe_role role;
  bool disabled;
  int64_t created_ms;
} scribe_auth_user;

typedef struct scribe_auth_token_info {
  int64_t id;
  int64_t user_id;
  char name[SCRIBE_AUTH_NAME_MAX + 1];
  int64_t created_ms, expires_ms;
  bool revoked;
} scribe_auth_token_info;

typedef struct scribe_auth scribe_auth;

/* Opens (creating it and its tables when missing) the database at path.
 * NULL with a message in err on failure.  Free with scribe_auth_close(). */
scribe_auth *scribe_auth_open(const char *path, char *err, size_t errlen);
void scribe_auth_close(scribe_auth *a); /* NULL is fine */
/* Path of the database in data_dir ("DIR/auth.db") into out. */
int scribe_auth_path(const char *data_dir, char *out, size_t outlen);

/* True for a valid user name (see SCRIBE_AUTH_NAME_MAX). */
bool scribe_auth_name_valid(const char *name);

/* ---- users -------------------------------------------------------------- */
/* Adds a user with an Argon2id hash of password (8..1024 bytes).  *id gets
 * the new id (id may be NULL).  SCRIBE_EINVAL for a bad name or password,
 * SCRIBE_EEXISTS when the name is taken. */
int scribe_auth_user_add(scribe_auth *a, const char *username, scribe_role role,
                         const char *password, int64_t *id);
/* SCRIBE_ENOTFOUND when absent. */
int scribe_auth_user_get(scribe_auth *a, const char *username, scribe_auth_user *out);
/* Every user, by id; the caller free()s *out (NULL when *n == 0). */
int scribe_auth_user_list(scribe_auth *a, scribe_auth_user **out, size_t *n);
/* Disables the account and ends its sessions (its tokens stop working
 * while it is disabled).  SCRIBE_ENOTFOUND when absent. */
int scribe_auth_user_disable(scribe_auth *a, const char *username);
/* Sets a new password, re-enables nothing, ends every session of the
 * user.  SCRIBE_EINVAL for a bad password, SCRIBE_ENOTFOUND. */
int scribe_auth_user_set_password(scribe_auth *a, const char *username, const char *password);
/* Checks a password.  SCRIBE_OK with *out filled, or SCRIBE_EFORBIDDEN for
 * an unknown user, a wrong password or a disabled account (the same time
 * is spent for an unknown user as for a known one). */
int scribe_auth_login(scribe_auth *a, const char *username, const char *password,
                      scribe_auth_principal *out);

/* ---- API tokens ---------------------------------------------------------- */
/* Creates a token for username valid until expires_ms.  token_out gets
 * the token (shown once; only its hash is stored), *id its id.
 * SCRIBE_ENOTFOUND for an unknown user. */
int scribe_auth_token_create(scribe_auth *a, const char *username, const char *name,
                             int64_t expires_ms, char token_out[SCRIBE_AUTH_TOKEN_LEN + 1],
                             int64_t *id);
/* Checks a bearer token at time now.  SCRIBE_OK with *out, SCRIBE_EEXPIRED
 * for an expired one, SCRIBE_EFORBIDDEN for an unknown, revoked or
 * malformed token or a disabled user. */
int scribe_auth_token_check(scribe_auth *a, const char *token, int64_t now,
                            scribe_auth_principal *out);
/* Revokes token id.  SCRIBE_ENOTFOUND when absent. */
int scribe_auth_token_revoke(scribe_auth *a, int64_t id);
/* The tokens of user_id (every user when user_id < 0); free() *out. */
int scribe_auth_token_list(scribe_auth *a, int64_t user_id, scribe_auth_token_info **out,
                           size_t *n);

/* ---- web sessions -------------------------------------------------------- */
/* Starts a session for user_id until expires_ms: sid_out gets the cookie
 * value, csrf_out the CSRF token (both shown once, stored hashed). */
int scribe_auth_session_create(scribe_auth *a, int64_t user_id, int64_t expires_ms,
                               char sid_out[SCRIBE_AUTH_SESSION_LEN + 1],
                               char csrf_out[SCRIBE_AUTH_CSRF_LEN + 1]);
/* Checks a session cookie at time now and, when csrf is not NULL, its CSRF
 * token.  SCRIBE_OK with *out; SCRIBE_EFORBIDDEN for an unknown, expired
 * or malformed session or a disabled user; SCRIBE_EBADKEY when the session
 * is good but csrf does not match it. */
int scribe_auth_session_check(scribe_auth *a, const char *sid, const char *csrf, int64_t now,
                              scribe_auth_principal *out);
/* Ends a session (unknown ones are fine). */
int scribe_auth_session_delete(scribe_auth *a, const char *sid);

/* ---- consultation owners -------------------------------------------------- */
/* Records that consultation key belongs to user_id (replaces any owner). */
int scribe_auth_owner_set(scribe_auth *a, const char *key, int64_t user_id);
/* *user_id = the owner of key; SCRIBE_ENOTFOUND when it has none (made
 * while auth was off: only admins see it). */
int scribe_auth_owner_get(scribe_auth *a, const char *key, int64_t *user_id);
/* Forgets the owner of key (missing is fine). */
int scribe_auth_owner_remove(scribe_auth *a, const char *key);

/* ---- login throttling (in memory, per process) ---------------------------- */
/* Counts failures per subject (an account name or a client address); after
 * max_failures in a row a subject is locked for base_ms, doubling with
 * every further failure, at most one hour.  A success clears the account's
 * count.  Thread-safe.  Holds at most a few thousand subjects (the oldest
 * unlocked ones are forgotten first). */
typedef struct scribe_auth_throttle scribe_auth_throttle;
scribe_auth_throttle *scribe_auth_throttle_create(int max_failures, int64_t base_ms);
void scribe_auth_throttle_free(scribe_auth_throttle *t); /* NULL is fine */
/* 0 when subject may try now, else the milliseconds until it may. */
int64_t scribe_auth_throttle_wait(scribe_auth_throttle *t, const char *subject, int64_t now);
void scribe_auth_throttle_fail(scribe_auth_throttle *t, const char *subject, int64_t now);
void scribe_auth_throttle_ok(scribe_auth_throttle *t, const char *subject);

/* ---- command line ---------------------------------------------------------- */
/* `scribe user add|list|disable|reset-password|token|revoke-token …`
 * (argv[0] = "user").  Returns the process exit status. */
int scribe_user_cli(int argc, char **argv);

#endif
