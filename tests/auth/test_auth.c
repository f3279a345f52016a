/*
 * Unit tests of src/auth: the SQLite account store (users, Argon2id
 * passwords, API tokens with revocation and expiry, sessions with CSRF,
 * consultation owners) and the login throttle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "core/clock.h"
#include "core/error.h"

static char dir[512];
static scribe_auth *A;

static int setup(void **state) {
  const char *tmp = getenv("SCRIBE_TEST_TMP");
  snprintf(dir, sizeof(dir), "%s/auth-XXXXXX", tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) return -1;
  char path[600], err[256];
  scribe_auth_path(dir, path, sizeof(path));
  A = scribe_auth_open(path, err, sizeof(err));
  if (!A) fprintf(stderr, "%s\n", err);
  return A ? 0 : -1;
}

static int teardown(void **state) {
  scribe_auth_close(A);
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static void test_users(void **state) {
  int64_t id = 0;
  assert_int_equal(scribe_auth_user_add(A, "alice", SCRIBE_ROLE_CLINICIAN, "correct horse", &id),
                   SCRIBE_OK);
  assert_true(id > 0);
  assert_int_equal(scribe_auth_user_add(A, "alice", SCRIBE_ROLE_ADMIN, "another one", NULL),
                   SCRIBE_EEXISTS);
  assert_int_equal(scribe_auth_user_add(A, "bad name", SCRIBE_ROLE_ADMIN, "password1", NULL),
                   SCRIBE_EINVAL);
  assert_int_equal(scribe_auth_user_add(A, "shorty", SCRIBE_ROLE_ADMIN, "short", NULL),
                   SCRIBE_EINVAL);
  assert_int_equal(scribe_auth_user_add(A, "root", SCRIBE_ROLE_ADMIN, "admin password", NULL),
                   SCRIBE_OK);
  scribe_auth_principal p;
  assert_int_equal(scribe_auth_login(A, "alice", "correct horse", &p), SCRIBE_OK);
  assert_int_equal(p.user_id, id);
  assert_string_equal(p.username, "alice");
  assert_int_equal(p.role, SCRIBE_ROLE_CLINICIAN);
  assert_int_equal(scribe_auth_login(A, "alice", "wrong horse", &p), SCRIBE_EFORBIDDEN);
  assert_int_equal(scribe_auth_login(A, "nobody", "correct horse", &p), SCRIBE_EFORBIDDEN);
  assert_int_equal(scribe_auth_login(A, "root", "admin password", &p), SCRIBE_OK);
  assert_int_equal(p.role, SCRIBE_ROLE_ADMIN);

  /* the stored hash is Argon2id, never the password */
  scribe_auth_user *u = NULL;
  size_t n = 0;
  assert_int_equal(scribe_auth_user_list(A, &u, &n), SCRIBE_OK);
  assert_int_equal(n, 2);
  assert_string_equal(u[0].username, "alice");
  assert_false(u[0].disabled);
  free(u);
  char cmd[700];
  snprintf(cmd, sizeof(cmd), "cat '%s'/auth.db* | grep -q 'correct horse'", dir);
  assert_int_not_equal(system(cmd), 0);
  snprintf(cmd, sizeof(cmd), "cat '%s'/auth.db* | grep -q 'argon2id'", dir);
  assert_int_equal(system(cmd), 0);

  assert_int_equal(scribe_auth_user_set_password(A, "alice", "new password"), SCRIBE_OK);
  assert_int_equal(scribe_auth_login(A, "alice", "correct horse", &p), SCRIBE_EFORBIDDEN);
  assert_int_equal(scribe_auth_login(A, "alice", "new password", &p), SCRIBE_OK);
  assert_int_equal(scribe_auth_user_set_password(A, "ghost", "new password"), SCRIBE_ENOTFOUND);
}

static void test_tokens(void **state) {
  scribe_auth_user_add(A, "tok", SCRIBE_ROLE_CLINICIAN, "token user pw", NULL);
  int64_t now = scribe_now_ms();
  char t1[SCRIBE_AUTH_TOKEN_LEN + 1], t2[SCRIBE_AUTH_TOKEN_LEN + 1];
  int64_t id1 = 0, id2 = 0;
  assert_int_equal(scribe_auth_token_create(A, "tok", "ehr", now + 60000, t1, &id1), SCRIBE_OK);
  assert_int_equal(strlen(t1), SCRIBE_AUTH_TOKEN_LEN);
  assert_int_equal(scribe_auth_token_create(A, "tok", "old", now + 1000, t2, &id2), SCRIBE_OK);
  assert_string_not_equal(t1, t2);
  assert_int_equal(scribe_auth_token_create(A, "ghost", "x", now + 1000, t2, NULL),
                   SCRIBE_ENOTFOUND);
  scribe_auth_principal p;
  assert_int_equal(scribe_auth_token_check(A, t1, now, &p), SCRIBE_OK);
  assert_string_equal(p.username, "tok");
  /* expiry */
  assert_int_equal(scribe_auth_token_check(A, t2, now + 999, &p), SCRIBE_OK);
  assert_int_equal(scribe_auth_token_check(A, t2, now + 1000, &p), SCRIBE_EEXPIRED);
  /* a changed digit, garbage */
  char bad[SCRIBE_AUTH_TOKEN_LEN + 1];
  memcpy(bad, t1, sizeof(bad));
  bad[20] = bad[20] == 'a' ? 'b' : 'a';
  assert_int_equal(scribe_auth_token_check(A, bad, now, &p), SCRIBE_EFORBIDDEN);
  assert_int_equal(scribe_auth_token_check(A, "scribe_zz", now, &p), SCRIBE_EFORBIDDEN);
  assert_int_equal(scribe_auth_token_check(A, NULL, now, &p), SCRIBE_EFORBIDDEN);
  /* the token is stored hashed */
  char cmd[700];
  snprintf(cmd, sizeof(cmd), "cat '%s'/auth.db* | grep -q '%s'", dir, t1 + 7);
  assert_int_not_equal(system(cmd), 0);
  /* revocation */
  assert_int_equal(scribe_auth_token_revoke(A, id1), SCRIBE_OK);
  assert_int_equal(scribe_auth_token_check(A, t1, now, &p), SCRIBE_EFORBIDDEN);
  assert_int_equal(scribe_auth_token_revoke(A, 999999), SCRIBE_ENOTFOUND);
  scribe_auth_token_info *ti = NULL;
  size_t n = 0;
  assert_int_equal(scribe_auth_token_list(A, p.user_id, &ti, &n), SCRIBE_OK);
  assert_int_equal(n, 2);
  assert_true(ti[0].revoked);
  assert_string_equal(ti[0].name, "ehr");
  free(ti);
  /* a disabled user's tokens stop working */
  char t3[SCRIBE_AUTH_TOKEN_LEN + 1];
  assert_int_equal(scribe_auth_token_create(A, "tok", "x", now + 60000, t3, NULL), SCRIBE_OK);
  assert_int_equal(scribe_auth_user_disable(A, "tok"), SCRIBE_OK);
  assert_int_equal(scribe_auth_token_check(A, t3, now, &p), SCRIBE_EFORBIDDEN);
  assert_int_equal(scribe_auth_login(A, "tok", "token user pw", &p), SCRIBE_EFORBIDDEN);
}

static void test_sessions_and_owners(void **state) {
  int64_t id = 0;
  scribe_auth_user_add(A, "sess", SCRIBE_ROLE_CLINICIAN, "session pw 1", &id);
  int64_t now = scribe_now_ms();
  char sid[SCRIBE_AUTH_SESSION_LEN + 1], csrf[SCRIBE_AUTH_CSRF_LEN + 1];
  assert_int_equal(scribe_auth_session_create(A, id, now + 5000, sid, csrf), SCRIBE_OK);
  scribe_auth_principal p;
  assert_int_equal(scribe_auth_session_check(A, sid, NULL, now, &p), SCRIBE_OK);
  assert_int_equal(p.user_id, id);
  assert_int_equal(scribe_auth_session_check(A, sid, csrf, now, &p), SCRIBE_OK);
  assert_int_equal(scribe_auth_session_check(A, sid, "", now, &p), SCRIBE_EBADKEY);
  assert_int_equal(scribe_auth_session_check(A, sid, sid, now, &p), SCRIBE_EBADKEY);
  assert_int_equal(scribe_auth_session_check(A, csrf, NULL, now, &p), SCRIBE_EFORBIDDEN);
  assert_int_equal(scribe_auth_session_check(A, sid, NULL, now + 5000, &p), SCRIBE_EFORBIDDEN);
  /* a new password ends sessions */
  assert_int_equal(scribe_auth_user_set_password(A, "sess", "session pw 2"), SCRIBE_OK);
  assert_int_equal(scribe_auth_session_check(A, sid, NULL, now, &p), SCRIBE_EFORBIDDEN);
  assert_int_equal(scribe_auth_session_create(A, id, now + 5000, sid, csrf), SCRIBE_OK);
  assert_int_equal(scribe_auth_session_delete(A, sid), SCRIBE_OK);
  assert_int_equal(scribe_auth_session_check(A, sid, NULL, now, &p), SCRIBE_EFORBIDDEN);

  int64_t owner = 0;
  assert_int_equal(scribe_auth_owner_get(A, "k1", &owner), SCRIBE_ENOTFOUND);
  assert_int_equal(scribe_auth_owner_set(A, "k1", id), SCRIBE_OK);
  assert_int_equal(scribe_auth_owner_get(A, "k1", &owner), SCRIBE_OK);
  assert_int_equal(owner, id);
  assert_int_equal(scribe_auth_owner_remove(A, "k1"), SCRIBE_OK);
  assert_int_equal(scribe_auth_owner_get(A, "k1", &owner), SCRIBE_ENOTFOUND);
}

static void test_throttle(void **state) {
  scribe_auth_throttle *t = scribe_auth_throttle_create(3, 1000);
  assert_non_null(t);
  int64_t now = 1000000;
  for (int i = 0; i < 2; i++) scribe_auth_throttle_fail(t, "u:a", now);
  assert_int_equal(scribe_auth_throttle_wait(t, "u:a", now), 0);
  scribe_auth_throttle_fail(t, "u:a", now);
  assert_int_equal(scribe_auth_throttle_wait(t, "u:a", now), 1000);
  assert_int_equal(scribe_auth_throttle_wait(t, "u:a", now + 1000), 0);
  scribe_auth_throttle_fail(t, "u:a", now + 1000); /* 4th: 2 s */
  assert_int_equal(scribe_auth_throttle_wait(t, "u:a", now + 1000), 2000);
  scribe_auth_throttle_fail(t, "u:a", now + 3000); /* 5th: 4 s */
  assert_int_equal(scribe_auth_throttle_wait(t, "u:a", now + 3000), 4000);
  assert_int_equal(scribe_auth_throttle_wait(t, "u:b", now), 0);
  scribe_auth_throttle_ok(t, "u:a");
  assert_int_equal(scribe_auth_throttle_wait(t, "u:a", now + 3000), 0);
  /* at most an hour */
  for (int i = 0; i < 40; i++) scribe_auth_throttle_fail(t, "u:c", now);
  assert_int_equal(scribe_auth_throttle_wait(t, "u:c", now), 3600 * 1000);
  /* many subjects: the table recycles */
  char s[32];
  for (int i = 0; i < 5000; i++) {
    snprintf(s, sizeof(s), "a:%d", i);
    scribe_auth_throttle_fail(t, s, now + i);
  }
  scribe_auth_throttle_free(t);
  scribe_auth_throttle_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_users),
      cmocka_unit_test(test_tokens),
      cmocka_unit_test(test_sessions_and_owners),
      cmocka_unit_test(test_throttle),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
