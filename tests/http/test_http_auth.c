/*
 * Access control of the HTTP front with auth = on (issue 6): every route
 * of the route table, anonymous and other-clinician requests, API tokens
 * (revocation, expiry), web sessions and CSRF, signed upload URLs bound to
 * their owner, login throttling, and `scribe serve` refusing a public
 * address without auth.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auth/auth.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "http/http.h"
#include "http/http_internal.h"
#include "pipeline/app.h"

static scribe_config cfg;
static scribe_app app;
static scribe_http *http;
static scribe_auth *store; /* the same database, for setting up tokens */
static int port;
static char dir[512];
static char tok_alice[SCRIBE_AUTH_TOKEN_LEN + 1], tok_bob[SCRIBE_AUTH_TOKEN_LEN + 1],
    tok_root[SCRIBE_AUTH_TOKEN_LEN + 1];
static char key_alice[SCRIBE_KEY_LEN + 1];
static char *url_alice;

typedef struct resp {
  long status;
  char *body;
  size_t len;
  char headers[8192];
  size_t hlen;
} resp;

static size_t on_body(char *p, size_t sz, size_t n, void *u) {
  resp *r = u;
  char *nb = realloc(r->body, r->len + sz * n + 1);
  if (!nb) return 0;
  memcpy(nb + r->len, p, sz * n);
  r->body = nb;
  r->len += sz * n;
  r->body[r->len] = '\0';
  return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *u) {
  resp *r = u;
  if (r->hlen + sz * n < sizeof(r->headers)) {
    memcpy(r->headers + r->hlen, p, sz * n);
    r->hlen += sz * n;
    r->headers[r->hlen] = '\0';
  }
  return sz * n;
}

/* auth: NULL, a token (Bearer) or "cookie:SID" (+ csrf when not NULL) */
static resp req(const char *method, const char *path, const char *body, const char *auth,
                const char *csrf) {
  resp r;
  memset(&r, 0, sizeof(r));
  char url[4096], h1[256], h2[256];
  if (!strncmp(path, "http", 4))
    snprintf(url, sizeof(url), "%s", path);
  else
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
  CURL *c = curl_easy_init();
  struct curl_slist *hl = curl_slist_append(NULL, "Expect:");
  if (auth && !strncmp(auth, "cookie:", 7)) {
    snprintf(h1, sizeof(h1), "Cookie: scribe_session=%s", auth + 7);
    hl = curl_slist_append(hl, h1);
  } else if (auth) {
    snprintf(h1, sizeof(h1), "Authorization: Bearer %s", auth);
    hl = curl_slist_append(hl, h1);
  }
  if (csrf) {
    snprintf(h2, sizeof(h2), "X-CSRF-Token: %s", csrf);
    hl = curl_slist_append(hl, h2);
  }
  if (body) hl = curl_slist_append(hl, "Content-Type: application/json");
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  if (!strcmp(method, "HEAD")) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
  curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(hl);
  curl_easy_cleanup(c);
  return r;
}

static void resp_free(resp *r) {
  free(r->body);
  r->body = NULL;
}

static bool has(const resp *r, const char *s) { return r->body && strstr(r->body, s); }

static void expect(resp r, long status, const char *why) {
  if (r.status != status)
    fprintf(stderr, "%s: status %ld (want %ld) body %s\n", why, r.status, status,
            r.body ? r.body : "");
  assert_int_equal(r.status, status);
  /* no patient data in a refusal */
  if (status >= 400) {
    assert_false(has(&r, "patient"));
    assert_false(has(&r, "transcript"));
  }
  resp_free(&r);
}

static int setup(void **state) {
  scribe_log_set_level(SCRIBE_LOG_WARN);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const char *tmp = getenv("SCRIBE_TEST_TMP");
  snprintf(dir, sizeof(dir), "%s/http-auth-XXXXXX", tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) return -1;
  char err[512], path[700];
  scribe_config_init(&cfg);
  const char *sets[][2] = {{"data_dir", dir},         {"host", "127.0.0.1"},
                           {"port", "0"},             {"workers", "0"},
                           {"auth", "on"},            {"auth_login_max_failures", "3"},
                           {"auth_lockout_seconds", "60"}};
  for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
    if (scribe_config_set(&cfg, sets[i][0], sets[i][1], "test", err, sizeof(err))) return -1;
  if (scribe_app_open(&app, &cfg, err, sizeof(err))) return -1;
  scribe_auth_path(dir, path, sizeof(path));
  store = scribe_auth_open(path, err, sizeof(err));
  if (!store) return -1;
  int64_t exp = scribe_now_ms() + 3600 * 1000;
  if (scribe_auth_user_add(store, "alice", SCRIBE_ROLE_CLINICIAN, "alice password", NULL) ||
      scribe_auth_user_add(store, "bob", SCRIBE_ROLE_CLINICIAN, "bob password", NULL) ||
      scribe_auth_user_add(store, "root", SCRIBE_ROLE_ADMIN, "root password", NULL) ||
      scribe_auth_token_create(store, "alice", "t", exp, tok_alice, NULL) ||
      scribe_auth_token_create(store, "bob", "t", exp, tok_bob, NULL) ||
      scribe_auth_token_create(store, "root", "t", exp, tok_root, NULL))
    return -1;
  http = scribe_http_start(&app, NULL, err, sizeof(err));
  if (!http) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  port = scribe_http_port(http);
  /* alice's consultation */
  resp r = req("POST", "/api/v1/consultations", "{\"patient_id\":\"P-1\"}", tok_alice, NULL);
  if (r.status != 201) return -1;
  json_t *j = json_loads(r.body, 0, NULL);
  snprintf(key_alice, sizeof(key_alice), "%s", json_string_value(json_object_get(j, "id")));
  url_alice = strdup(json_string_value(json_object_get(j, "upload_url")));
  json_decref(j);
  resp_free(&r);
  return 0;
}

static int teardown(void **state) {
  free(url_alice);
  scribe_http_stop(http);
  scribe_auth_close(store);
  scribe_app_close(&app);
  scribe_config_release(&cfg);
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  if (system(cmd) != 0) return -1;
  curl_global_cleanup();
  return 0;
}

/* Every route declares who may call it. */
static void test_route_table_complete(void **state) {
  for (int r = 0; r < ROUTE_COUNT; r++) {
    const http_route_info *info = scribe_http_route_info((http_route)r);
    if (info->access == ACCESS_UNDECLARED) fprintf(stderr, "route %d: no access rule\n", r);
    assert_int_not_equal(info->access, ACCESS_UNDECLARED);
    if (info->owned) assert_true(info->access == ACCESS_USER || info->access == ACCESS_ADMIN);
  }
  assert_int_equal(scribe_http_route_info(ROUTE_COUNT)->access, ACCESS_UNDECLARED);
}

/* One request per protected route and method: {route, method, path}. */
typedef struct {
  http_route route;
  const char *method;
  const char *path; /* %s = alice's key */
  const char *body;
} route_case;

static const route_case cases[] = {
    {ROUTE_CONFIG, "GET", "/config", NULL},
    {ROUTE_GET_UPLOAD_URL, "GET", "/get-upload-url", NULL},
    {ROUTE_UPLOAD_COMPLETE, "POST", "/upload-complete", "{\"key\":\"%s\"}"},
    {ROUTE_RESULT, "GET", "/result/%s", NULL},
    {ROUTE_WS, "GET", "/ws", NULL},
    {ROUTE_WS, "GET", "/api/v1/events", NULL},
    {ROUTE_CONSULTATIONS, "GET", "/api/v1/consultations", NULL},
    {ROUTE_CONSULTATIONS, "POST", "/api/v1/consultations", "{}"},
    {ROUTE_CONSULTATION, "GET", "/api/v1/consultations/%s", NULL},
    {ROUTE_CONSULTATION, "DELETE", "/api/v1/consultations/%s", NULL},
    {ROUTE_COMPLETE, "POST", "/api/v1/consultations/%s/complete", "{}"},
    {ROUTE_PARTS, "GET", "/api/v1/consultations/%s/parts", NULL},
    {ROUTE_PART, "PUT", "/api/v1/consultations/%s/parts/0", NULL},
    {ROUTE_PARTS_COMPLETE, "POST", "/api/v1/consultations/%s/parts/complete", "{}"},
    {ROUTE_LOGOUT, "POST", "/api/v1/logout", "{}"},
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

static void fill(const route_case *rc, char *path, size_t pl, char *body, size_t bl) {
  snprintf(path, pl, rc->path, key_alice);
  if (rc->body) snprintf(body, bl, rc->body, key_alice);
}

/* Anonymous, bad-token and other-clinician requests get 401 / 404 and no
 * data, for every protected route; the table covers every such route. */
static void test_every_route_refuses_strangers(void **state) {
  for (int r = 0; r < ROUTE_COUNT; r++) {
    const http_route_info *info = scribe_http_route_info((http_route)r);
    if (info->access != ACCESS_USER && info->access != ACCESS_ADMIN) continue;
    bool covered = false;
    for (size_t i = 0; i < NCASES; i++) covered = covered || cases[i].route == (http_route)r;
    if (!covered) fprintf(stderr, "route %d has no case in test_http_auth\n", r);
    assert_true(covered);
  }
  char path[256], body[256];
  for (size_t i = 0; i < NCASES; i++) {
    fill(&cases[i], path, sizeof(path), body, sizeof(body));
    const char *b = cases[i].body ? body : NULL;
    expect(req(cases[i].method, path, b, NULL, NULL), 401, path);
    expect(req(cases[i].method, path, b, "scribe_0000", NULL), 401, path);
    expect(req(cases[i].method, path, b, "cookie:abcd", NULL), 401, path);
    if (scribe_http_route_info(cases[i].route)->owned || cases[i].route == ROUTE_UPLOAD_COMPLETE)
      expect(req(cases[i].method, path, b, tok_bob, NULL), 404, path);
  }
  /* public routes stay public */
  expect(req("GET", "/healthz", NULL, NULL, NULL), 200, "healthz");
  expect(req("GET", "/readyz", NULL, NULL, NULL), 200, "readyz");
  /* the owner and an admin do see it */
  snprintf(path, sizeof(path), "/api/v1/consultations/%s", key_alice);
  resp r = req("GET", path, NULL, tok_alice, NULL);
  assert_int_equal(r.status, 200);
  assert_true(has(&r, "P-1"));
  resp_free(&r);
  expect(req("GET", path, NULL, tok_root, NULL), 200, "admin");
  /* listings are filtered by owner */
  r = req("GET", "/api/v1/consultations", NULL, tok_bob, NULL);
  assert_int_equal(r.status, 200);
  assert_false(has(&r, key_alice));
  resp_free(&r);
  r = req("GET", "/api/v1/consultations", NULL, tok_alice, NULL);
  assert_true(has(&r, key_alice));
  resp_free(&r);
  r = req("GET", "/api/v1/consultations", NULL, tok_root, NULL);
  assert_true(has(&r, key_alice));
  resp_free(&r);
}

static void test_token_revocation_and_expiry(void **state) {
  char t[SCRIBE_AUTH_TOKEN_LEN + 1];
  int64_t id = 0;
  assert_int_equal(scribe_auth_token_create(store, "alice", "x", scribe_now_ms() + 3600000, t,
                                            &id),
                   SCRIBE_OK);
  expect(req("GET", "/api/v1/consultations", NULL, t, NULL), 200, "fresh token");
  assert_int_equal(scribe_auth_token_revoke(store, id), SCRIBE_OK);
  expect(req("GET", "/api/v1/consultations", NULL, t, NULL), 401, "revoked token");
  assert_int_equal(scribe_auth_token_create(store, "alice", "x", scribe_now_ms() + 50, t, &id),
                   SCRIBE_OK);
  usleep(100 * 1000);
  resp r = req("GET", "/api/v1/consultations", NULL, t, NULL);
  assert_int_equal(r.status, 401);
  assert_true(has(&r, "token_expired"));
  resp_free(&r);
}

static void login(const char *user, const char *pw, char sid[80], char csrf[80]) {
  char body[256];
  snprintf(body, sizeof(body), "{\"username\":\"%s\",\"password\":\"%s\"}", user, pw);
  resp r = req("POST", "/api/v1/login", body, NULL, NULL);
  assert_int_equal(r.status, 200);
  const char *c = strcasestr(r.headers, "Set-Cookie: scribe_session=");
  assert_non_null(c);
  c += strlen("Set-Cookie: scribe_session=");
  size_t n = strcspn(c, ";\r\n");
  assert_true(n < 80);
  memcpy(sid, c, n);
  sid[n] = '\0';
  assert_non_null(strstr(c, "HttpOnly"));
  assert_non_null(strstr(c, "SameSite=Strict"));
  json_t *j = json_loads(r.body, 0, NULL);
  snprintf(csrf, 80, "%s", json_string_value(json_object_get(j, "csrf_token")));
  assert_string_equal(json_string_value(json_object_get(j, "role")), "clinician");
  json_decref(j);
  resp_free(&r);
}

static void test_session_and_csrf(void **state) {
  char sid[80], csrf[80], ck[100];
  login("alice", "alice password", sid, csrf);
  snprintf(ck, sizeof(ck), "cookie:%s", sid);
  resp r = req("GET", "/api/v1/me", NULL, ck, NULL);
  assert_true(has(&r, "\"alice\""));
  resp_free(&r);
  expect(req("GET", "/api/v1/consultations", NULL, ck, NULL), 200, "cookie GET");
  /* changes need the CSRF token */
  expect(req("POST", "/api/v1/consultations", "{}", ck, NULL), 403, "no csrf");
  expect(req("POST", "/api/v1/consultations", "{}", ck, "0123"), 403, "wrong csrf");
  expect(req("POST", "/api/v1/consultations", "{}", ck, csrf), 201, "csrf");
  char path[200];
  snprintf(path, sizeof(path), "/api/v1/consultations/%s", key_alice);
  expect(req("DELETE", path, NULL, ck, NULL), 403, "delete without csrf");
  /* logout ends the session */
  expect(req("POST", "/api/v1/logout", "{}", ck, csrf), 204, "logout");
  expect(req("GET", "/api/v1/consultations", NULL, ck, NULL), 401, "after logout");
  expect(req("POST", "/api/v1/login", "{\"username\":\"alice\"}", NULL, NULL), 400, "no pw");
}

static void test_signed_upload_bound_to_owner(void **state) {
  assert_non_null(strstr(url_alice, "&owner="));
  assert_non_null(strstr(url_alice, "&osig="));
  /* the signature is the capability: no bearer needed */
  expect(req("PUT", url_alice, "RIFFxxxxWAVE", NULL, NULL), 200, "signed put");
  /* without the owner binding, or bound to someone else */
  char u[4096];
  snprintf(u, sizeof(u), "%s", url_alice);
  *strstr(u, "&owner=") = '\0';
  expect(req("PUT", u, "RIFFxxxxWAVE", NULL, NULL), 403, "unbound");
  snprintf(u, sizeof(u), "%s", url_alice);
  char *o = strstr(u, "&owner=") + 7;
  *o = *o == '9' ? '8' : '9';
  expect(req("PUT", u, "RIFFxxxxWAVE", NULL, NULL), 403, "other owner");
}

static void test_login_throttling(void **state) {
  const char *bad = "{\"username\":\"bob\",\"password\":\"wrong password\"}";
  for (int i = 0; i < 3; i++) expect(req("POST", "/api/v1/login", bad, NULL, NULL), 401, "bad");
  resp r = req("POST", "/api/v1/login", bad, NULL, NULL);
  assert_int_equal(r.status, 429);
  assert_non_null(strcasestr(r.headers, "Retry-After:"));
  resp_free(&r);
  /* locked even with the right password */
  expect(req("POST", "/api/v1/login", "{\"username\":\"bob\",\"password\":\"bob password\"}",
             NULL, NULL),
         429, "locked account");
  /* and the address is locked for other accounts too */
  expect(req("POST", "/api/v1/login",
             "{\"username\":\"root\",\"password\":\"root password\"}", NULL, NULL),
         429, "locked address");
}

/* `scribe serve` on a public address without auth refuses to start. */
static void test_public_bind_needs_auth(void **state) {
  assert_true(scribe_http_is_loopback("127.0.0.1"));
  assert_true(scribe_http_is_loopback("::1"));
  assert_false(scribe_http_is_loopback("0.0.0.0"));
  assert_false(scribe_http_is_loopback("::"));
  const char *bin = getenv("SCRIBE_BINARY_DIR");
  if (!bin) skip();
  char cmd[2048];
  snprintf(cmd, sizeof(cmd),
           "env -u SCRIBE_AUTH '%s/scribe' serve --host 0.0.0.0 --port 0 --workers 0 "
           "--data-dir '%s/cli' 2>&1",
           bin, dir);
  FILE *p = popen(cmd, "r");
  assert_non_null(p);
  char out[4096] = "";
  size_t n = fread(out, 1, sizeof(out) - 1, p);
  out[n] = '\0';
  int st = pclose(p);
  assert_true(WIFEXITED(st));
  assert_int_not_equal(WEXITSTATUS(st), 0);
  assert_non_null(strstr(out, "auth = on"));
  assert_non_null(strstr(out, "scribe user add"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_route_table_complete),
      cmocka_unit_test(test_every_route_refuses_strangers),
      cmocka_unit_test(test_token_revocation_and_expiry),
      cmocka_unit_test(test_session_and_csrf),
      cmocka_unit_test(test_signed_upload_bound_to_owner),
      cmocka_unit_test(test_public_bind_needs_auth),
      cmocka_unit_test(test_login_throttling), /* last: locks 127.0.0.1 */
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
