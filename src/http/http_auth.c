/*
 * http_auth.c - access control of the HTTP front (issue 6, docs/security.md).
 *
 * Every request passes scribe_http_gate() on its first call (headers only),
 * which reads the route's row of the route table (http.c): public routes
 * go on; signed ones carry their own capability (the upload signature);
 * the others need a user, from
 *   Authorization: Bearer <API token>            (integrations, old client)
 *   Cookie: scribe_session=<id>                  (the web page; unsafe
 *     methods also need X-CSRF-Token: <token from the login answer>)
 *   ?token=<API token>                           (WebSocket upgrade only)
 * and a route whose {id}/{key} names a consultation answers 404 unless the
 * caller owns it or is an admin.  With auth off (loopback only) everything
 * is open and nothing is checked, as before.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "core/error.h"
#include "core/log.h"
#include "http/http_internal.h"

#define SESSION_COOKIE "scribe_session"

static bool auth_on(http_call *c) { return c->h->auth != NULL; }

static bool safe_method(const char *m) {
  return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "OPTIONS");
}

static enum MHD_Result unauthorized(http_call *c, const char *code, const char *msg) {
  json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
  struct MHD_Response *resp = scribe_http_json_response(body, &c->r->bytes);
  if (!resp) return MHD_NO;
  MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"scribe\"");
  return scribe_http_reply(c, MHD_HTTP_UNAUTHORIZED, resp);
}

/* Fills c->r->who.  SCRIBE_OK, SCRIBE_ENOTFOUND (no credentials),
 * SCRIBE_EFORBIDDEN / SCRIBE_EEXPIRED (bad ones), SCRIBE_EBADKEY (cookie
 * without a matching CSRF token on an unsafe method). */
static int authenticate(http_call *c, bool need_csrf) {
  http_req *r = c->r;
  int64_t now = scribe_now_ms();
  const char *authz = scribe_http_header(c, "Authorization");
  if (authz) {
    if (strncasecmp(authz, "Bearer ", 7) != 0) return SCRIBE_EFORBIDDEN;
    const char *tok = authz + 7;
    while (*tok == ' ') tok++;
    return scribe_auth_token_check(c->h->auth, tok, now, &r->who);
  }
  const char *sid = MHD_lookup_connection_value(c->conn, MHD_COOKIE_KIND, SESSION_COOKIE);
  if (sid) {
    const char *csrf = NULL;
    if (need_csrf) {
      csrf = scribe_http_header(c, "X-CSRF-Token");
      if (!csrf) csrf = "";
    }
    int rc = scribe_auth_session_check(c->h->auth, sid, csrf, now, &r->who);
    if (rc == SCRIBE_OK) r->via_cookie = true;
    return rc;
  }
  if (r->route == ROUTE_WS) {
    const char *tok = scribe_http_arg(c, "token");
    if (tok) return scribe_auth_token_check(c->h->auth, tok, now, &r->who);
  }
  return SCRIBE_ENOTFOUND;
}

bool scribe_http_gate(http_call *c, enum MHD_Result *ret) {
  http_req *r = c->r;
  const http_route_info *info = scribe_http_route_info(r->route);
  if (info->access == ACCESS_UNDECLARED) { /* fail closed */
    LOG_ERROR("http %s %s: route %d declares no access", r->method, r->path, (int)r->route);
    *ret = scribe_http_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                                   "internal error");
    return false;
  }
  if (!auth_on(c) || info->access == ACCESS_PUBLIC || info->access == ACCESS_SIGNED)
    return true;
  int rc = authenticate(c, !safe_method(c->method));
  switch (rc) {
    case SCRIBE_OK:
      break;
    case SCRIBE_ENOTFOUND:
      *ret = unauthorized(c, "unauthorized", "sign in or send an API token");
      return false;
    case SCRIBE_EEXPIRED:
      *ret = unauthorized(c, "token_expired", "the API token has expired");
      return false;
    case SCRIBE_EFORBIDDEN:
      *ret = unauthorized(c, "unauthorized", "invalid credentials");
      return false;
    case SCRIBE_EBADKEY:
      *ret = scribe_http_reply_error(c, MHD_HTTP_FORBIDDEN, "csrf",
                                     "missing or wrong X-CSRF-Token");
      return false;
    default:
      *ret = scribe_http_reply_rc(c, rc);
      return false;
  }
  r->authed = true;
  if (info->access == ACCESS_ADMIN && r->who.role != SCRIBE_ROLE_ADMIN) {
    *ret = scribe_http_reply_error(c, MHD_HTTP_FORBIDDEN, "forbidden", "administrators only");
    return false;
  }
  if (info->owned && !r->param_too_long && scribe_app_key_valid(r->param) &&
      scribe_http_authorize_key(c, r->param) != SCRIBE_OK) {
    *ret = scribe_http_reply_error(c, MHD_HTTP_NOT_FOUND, "not_found", "not found");
    return false;
  }
  return true;
}

int scribe_http_authorize_key(http_call *c, const char *key) {
  http_req *r = c->r;
  if (!auth_on(c)) return SCRIBE_OK;
  if (!r->authed) return SCRIBE_ENOTFOUND;
  if (r->who.role == SCRIBE_ROLE_ADMIN) return SCRIBE_OK;
  int64_t owner = 0;
  int rc = scribe_auth_owner_get(c->h->auth, key, &owner);
  if (rc == SCRIBE_OK && owner == r->who.user_id) return SCRIBE_OK;
  if (rc && rc != SCRIBE_ENOTFOUND)
    LOG_WARN("http: owner lookup failed: %s", scribe_err_name(rc));
  return SCRIBE_ENOTFOUND;
}

int scribe_http_set_owner(http_call *c, const char *key) {
  if (!auth_on(c) || !c->r->authed) return SCRIBE_OK;
  return scribe_auth_owner_set(c->h->auth, key, c->r->who.user_id);
}

/* ---- owner binding of signed upload URLs ------------------------------- */

static int owner_sig(const scribe_app *app, const char *key, int64_t owner, char out[65]) {
  char msg[SCRIBE_STORAGE_KEY_MAX + 64];
  int n = snprintf(msg, sizeof(msg), "OWNER\n%s\n%" PRId64, key, owner);
  if (n < 0 || (size_t)n >= sizeof(msg)) return SCRIBE_EINVAL;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (!HMAC(EVP_sha256(), app->signing_key, (int)app->signing_key_len, (unsigned char *)msg,
            (size_t)n, md, &mdlen) ||
      mdlen != 32)
    return SCRIBE_EINTERNAL;
  scribe_http_hex(md, 32, out);
  return SCRIBE_OK;
}

int scribe_http_bind_owner(http_call *c, const char *key, char **url) {
  if (!auth_on(c) || !c->r->authed || !*url || !strstr(*url, "/upload/")) return SCRIBE_OK;
  char sig[65];
  int rc = owner_sig(c->h->app, key, c->r->who.user_id, sig);
  if (rc) return rc;
  size_t n = strlen(*url) + 128;
  char *u = malloc(n);
  if (!u) return SCRIBE_ENOMEM;
  snprintf(u, n, "%s&owner=%" PRId64 "&osig=%s", *url, c->r->who.user_id, sig);
  free(*url);
  *url = u;
  return SCRIBE_OK;
}

int scribe_http_check_owner_binding(http_call *c, const char *key) {
  http_req *r = c->r;
  r->upload_owner = 0;
  if (!auth_on(c)) return SCRIBE_OK;
  const char *owner_s = scribe_http_arg(c, "owner");
  const char *osig = scribe_http_arg(c, "osig");
  uint64_t owner = 0;
  if (!owner_s || !osig || !scribe_http_parse_u64(owner_s, &owner) || owner == 0 ||
      owner > INT64_MAX || strlen(osig) != 64)
    return SCRIBE_EFORBIDDEN;
  char want[65];
  if (owner_sig(c->h->app, key, (int64_t)owner, want)) return SCRIBE_EFORBIDDEN;
  if (CRYPTO_memcmp(want, osig, 64) != 0) return SCRIBE_EFORBIDDEN;
  /* The consultation, if it exists, must belong to the bound owner. */
  int64_t cur = 0;
  int rc = scribe_auth_owner_get(c->h->auth, key, &cur);
  if (rc == SCRIBE_OK && cur != (int64_t)owner) return SCRIBE_EFORBIDDEN;
  if (rc && rc != SCRIBE_ENOTFOUND) return rc;
  r->upload_owner = (int64_t)owner;
  return SCRIBE_OK;
}

/* ---- login / logout / me --------------------------------------------------- */

static void client_address(http_call *c, char *out, size_t len) {
  snprintf(out, len, "a:?");
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (!ci || !ci->client_addr) return;
  char host[NI_MAXHOST];
  const struct sockaddr *sa = ci->client_addr;
  socklen_t sl = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                           : sizeof(struct sockaddr_in);
  if (getnameinfo(sa, sl, host, sizeof(host), NULL, 0, NI_NUMERICHOST) == 0)
    snprintf(out, len, "a:%s", host);
}

static enum MHD_Result too_many(http_call *c, int64_t wait_ms) {
  json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", "too_many_attempts", "message",
                           "too many failed logins; try again later");
  struct MHD_Response *resp = scribe_http_json_response(body, &c->r->bytes);
  if (!resp) return MHD_NO;
  char ra[32];
  snprintf(ra, sizeof(ra), "%" PRId64, (wait_ms + 999) / 1000);
  MHD_add_response_header(resp, "Retry-After", ra);
  return scribe_http_reply(c, MHD_HTTP_TOO_MANY_REQUESTS, resp);
}

static bool secure_cookies(http_call *c) {
  const char *pub = c->h->cfg->public_url;
  return pub && strncasecmp(pub, "https://", 8) == 0;
}

enum MHD_Result scribe_http_route_login(http_call *c) {
  if (!auth_on(c))
    return scribe_http_reply_error(c, MHD_HTTP_NOT_FOUND, "auth_off",
                                   "authentication is off on this server");
  http_req *r = c->r;
  const char *why = NULL;
  json_t *req = r->json.len ? scribe_http_json_parse(r->json.data, r->json.len,
                                                     (int)c->h->cfg->max_json_depth, &why)
                            : NULL;
  const char *user = json_string_value(json_object_get(req, "username"));
  const char *pw = json_string_value(json_object_get(req, "password"));
  if (!user || !pw) {
    json_decref(req);
    return scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "missing_field",
                                   "\"username\" and \"password\" (strings) are required");
  }
  char acct[SCRIBE_AUTH_NAME_MAX + 8], addr[NI_MAXHOST + 4];
  snprintf(acct, sizeof(acct), "u:%.*s", SCRIBE_AUTH_NAME_MAX, user);
  client_address(c, addr, sizeof(addr));
  int64_t now = scribe_now_ms();
  int64_t wait = scribe_auth_throttle_wait(c->h->throttle, acct, now);
  int64_t wait2 = scribe_auth_throttle_wait(c->h->throttle, addr, now);
  if (wait2 > wait) wait = wait2;
  if (wait > 0) {
    json_decref(req);
    LOG_WARN("login throttled");
    return too_many(c, wait);
  }
  scribe_auth_principal who;
  int rc = scribe_auth_login(c->h->auth, user, pw, &who);
  json_decref(req);
  if (rc == SCRIBE_EFORBIDDEN) {
    scribe_auth_throttle_fail(c->h->throttle, acct, now);
    scribe_auth_throttle_fail(c->h->throttle, addr, now);
    LOG_INFO("login failed");
    return scribe_http_reply_error(c, MHD_HTTP_UNAUTHORIZED, "invalid_credentials",
                                   "wrong user name or password");
  }
  if (rc) return scribe_http_reply_rc(c, rc);
  scribe_auth_throttle_ok(c->h->throttle, acct);
  int64_t ttl = c->h->cfg->auth_session_ttl;
  char sid[SCRIBE_AUTH_SESSION_LEN + 1], csrf[SCRIBE_AUTH_CSRF_LEN + 1];
  rc = scribe_auth_session_create(c->h->auth, who.user_id, now + ttl * 1000, sid, csrf);
  if (rc) return scribe_http_reply_rc(c, rc);
  LOG_INFO("login ok user_id=%" PRId64, who.user_id);
  json_t *body = json_pack("{s:s,s:s,s:s,s:I}", "username", who.username, "role",
                           scribe_auth_role_name(who.role), "csrf_token", csrf, "expires_in",
                           (json_int_t)ttl);
  OPENSSL_cleanse(csrf, sizeof(csrf));
  struct MHD_Response *resp = scribe_http_json_response(body, &r->bytes);
  if (!resp) {
    scribe_auth_session_delete(c->h->auth, sid);
    return scribe_http_reply_rc(c, SCRIBE_ENOMEM);
  }
  char cookie[256];
  snprintf(cookie, sizeof(cookie),
           SESSION_COOKIE "=%s; Path=/; Max-Age=%" PRId64 "; HttpOnly; SameSite=Strict%s", sid,
           ttl, secure_cookies(c) ? "; Secure" : "");
  OPENSSL_cleanse(sid, sizeof(sid));
  MHD_add_response_header(resp, "Set-Cookie", cookie);
  OPENSSL_cleanse(cookie, sizeof(cookie));
  return scribe_http_reply(c, MHD_HTTP_OK, resp);
}

enum MHD_Result scribe_http_route_logout(http_call *c) {
  const char *sid = MHD_lookup_connection_value(c->conn, MHD_COOKIE_KIND, SESSION_COOKIE);
  if (auth_on(c) && sid) scribe_auth_session_delete(c->h->auth, sid);
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
  if (!resp) return MHD_NO;
  char cookie[160];
  snprintf(cookie, sizeof(cookie),
           SESSION_COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict%s",
           secure_cookies(c) ? "; Secure" : "");
  MHD_add_response_header(resp, "Set-Cookie", cookie);
  MHD_add_response_header(resp, "Cache-Control", "no-store");
  return scribe_http_reply(c, MHD_HTTP_NO_CONTENT, resp);
}

enum MHD_Result scribe_http_route_me(http_call *c) {
  if (!auth_on(c))
    return scribe_http_reply_json(c, MHD_HTTP_OK,
                                  json_pack("{s:b,s:b}", "auth", 0, "authenticated", 0));
  http_req *r = c->r;
  if (!r->authed && authenticate(c, false) == SCRIBE_OK) r->authed = true;
  if (!r->authed)
    return scribe_http_reply_json(c, MHD_HTTP_OK,
                                  json_pack("{s:b,s:b}", "auth", 1, "authenticated", 0));
  return scribe_http_reply_json(
      c, MHD_HTTP_OK,
      json_pack("{s:b,s:b,s:s,s:s}", "auth", 1, "authenticated", 1, "username", r->who.username,
                "role", scribe_auth_role_name(r->who.role)));
}

/* ---- modes --------------------------------------------------------------------- */

bool scribe_http_is_loopback(const char *host) {
  if (!host || !*host) return false;
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res) return false;
  bool all = true;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET) {
      uint32_t a = ntohl(((struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr);
      if ((a >> 24) != 127) all = false;
    } else if (ai->ai_family == AF_INET6) {
      const struct in6_addr *a6 = &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
      bool v4loop = IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127;
      if (!IN6_IS_ADDR_LOOPBACK(a6) && !v4loop) all = false;
    } else {
      all = false;
    }
  }
  freeaddrinfo(res);
  return all;
}
