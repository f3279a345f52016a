/*
 * http.c - the libmicrohttpd daemon: start/stop, routing, the common
 * response headers (security, CORS), static web files and the access log.
 *
 * Request life (MHD's access handler is called several times per request):
 *   1st call  headers only: route the URL, check what must be checked
 *             before a body is read (signature and size of an upload,
 *             content type and size of a JSON body).  An error here is
 *             queued at once (MHD then closes the connection, the body is
 *             never read); otherwise nothing is queued yet, so that
 *             keep-alive survives (MHD closes a connection whose response
 *             was queued before the request was complete).
 *   middle    body pieces: streamed to storage (upload), collected into a
 *             capped buffer (JSON) or counted and dropped.
 *   last      *upload_data_size == 0: run the route, queue the response.
 *   completed MHD_OPTION_NOTIFY_COMPLETED: access log line, free the state
 *             (an unfinished upload is aborted there).
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/error.h"
#include "core/log.h"
#include "http/http_internal.h"

#define CSP_HTML                                                                          \
  "default-src 'self'; connect-src 'self' ws: wss:; media-src 'self' blob:; img-src 'self' " \
  "data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

/* Every route: its methods and who may call it (http_internal.h).  No
 * default: a route left out has ACCESS_UNDECLARED and is refused. */
static const http_route_info route_table[ROUTE_COUNT] = {
    [ROUTE_NONE] = {NULL, ACCESS_PUBLIC, false},
    [ROUTE_STATIC] = {"GET, HEAD, OPTIONS", ACCESS_PUBLIC, false},
    [ROUTE_HEALTHZ] = {"GET, HEAD, OPTIONS", ACCESS_PUBLIC, false},
    [ROUTE_READYZ] = {"GET, HEAD, OPTIONS", ACCESS_PUBLIC, false},
    [ROUTE_CONFIG] = {"GET, HEAD, OPTIONS", ACCESS_USER, false},
    [ROUTE_GET_UPLOAD_URL] = {"GET, OPTIONS", ACCESS_USER, false},
    [ROUTE_UPLOAD] = {"PUT, OPTIONS", ACCESS_SIGNED, false},
    [ROUTE_UPLOAD_COMPLETE] = {"POST, OPTIONS", ACCESS_USER, false}, /* key in the body */
    [ROUTE_RESULT] = {"GET, HEAD, OPTIONS", ACCESS_USER, true},
    [ROUTE_WS] = {"GET, OPTIONS", ACCESS_USER, false},
    [ROUTE_CONSULTATIONS] = {"GET, HEAD, POST, OPTIONS", ACCESS_USER, false},
    [ROUTE_CONSULTATION] = {"GET, HEAD, DELETE, OPTIONS", ACCESS_USER, true},
    [ROUTE_COMPLETE] = {"POST, OPTIONS", ACCESS_USER, true},
    [ROUTE_PARTS] = {"GET, HEAD, OPTIONS", ACCESS_USER, true},
    [ROUTE_PART] = {"PUT, OPTIONS", ACCESS_USER, true},
    [ROUTE_PARTS_COMPLETE] = {"POST, OPTIONS", ACCESS_USER, true},
    [ROUTE_API_NONE] = {NULL, ACCESS_PUBLIC, false},
    [ROUTE_LOGIN] = {"POST, OPTIONS", ACCESS_PUBLIC, false},
    [ROUTE_LOGOUT] = {"POST, OPTIONS", ACCESS_USER, false},
    [ROUTE_ME] = {"GET, HEAD, OPTIONS", ACCESS_PUBLIC, false}, /* says who, if anyone */
};

const http_route_info *scribe_http_route_info(http_route route) {
  static const http_route_info undeclared = {NULL, ACCESS_UNDECLARED, false};
  if ((unsigned)route >= ROUTE_COUNT) return &undeclared;
  return &route_table[route];
}


/* ---------------------------------------------------------------------- */
/* Routing                                                                 */

/* Copies the path segment after prefix into r->param; true when url is
 * prefix + a non-empty rest (which may contain '/', making it an invalid
 * key later: a decoded %2F must not change the route). */
static bool take_param(http_req *r, const char *rest) {
  size_t n = strlen(rest);
  if (n == 0) return false;
  if (n >= sizeof(r->param)) {
    r->param_too_long = true;
    n = sizeof(r->param) - 1;
  }
  memcpy(r->param, rest, n);
  r->param[n] = '\0';
  return true;
}

static bool starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* {id}/parts, {id}/parts/complete, {id}/parts/{n}: the resumable upload.
 * ROUTE_NONE when rest is none of them.  An {n} that is not a number
 * still routes here (400 from the handler, not a confusing 404). */
static http_route match_sub_route(const char *rest, http_req *r) {
  const char *p = strstr(rest, "/parts");
  if (!p || p == rest) return ROUTE_NONE;
  const char *tail = p + strlen("/parts");
  http_route route;
  if (*tail == '\0') {
    route = ROUTE_PARTS;
  } else if (strcmp(tail, "/complete") == 0) {
    route = ROUTE_PARTS_COMPLETE;
  } else if (tail[0] == '/' && tail[1] && !strchr(tail + 1, '/')) {
    route = ROUTE_PART;
    snprintf(r->part, sizeof(r->part), "%s", tail + 1);
    if (strlen(tail + 1) >= sizeof(r->part)) r->part[0] = 'x'; /* too long: invalid */
  } else {
    return ROUTE_NONE;
  }
  char tmp[SCRIBE_STORAGE_KEY_MAX + 1];
  size_t kl = (size_t)(p - rest);
  if (kl >= sizeof(tmp)) {
    kl = sizeof(tmp) - 1;
    r->param_too_long = true;
  }
  memcpy(tmp, rest, kl);
  tmp[kl] = '\0';
  bool too_long = r->param_too_long;
  take_param(r, tmp);
  r->param_too_long = r->param_too_long || too_long;
  return route;
}

static http_route match_route(const char *url, http_req *r) {
  if (strcmp(url, "/healthz") == 0) return ROUTE_HEALTHZ;
  if (strcmp(url, "/readyz") == 0) return ROUTE_READYZ;
  if (strcmp(url, "/config") == 0) return ROUTE_CONFIG;
  if (strcmp(url, "/get-upload-url") == 0) return ROUTE_GET_UPLOAD_URL;
  if (strcmp(url, "/upload-complete") == 0) return ROUTE_UPLOAD_COMPLETE;
  if (strcmp(url, "/ws") == 0 || strcmp(url, "/api/v1/events") == 0) return ROUTE_WS;
  if (starts_with(url, "/upload/")) return take_param(r, url + 8) ? ROUTE_UPLOAD : ROUTE_NONE;
  if (starts_with(url, "/result/")) return take_param(r, url + 8) ? ROUTE_RESULT : ROUTE_NONE;
  if (strcmp(url, "/api/v1/login") == 0) return ROUTE_LOGIN;
  if (strcmp(url, "/api/v1/logout") == 0) return ROUTE_LOGOUT;
  if (strcmp(url, "/api/v1/me") == 0) return ROUTE_ME;
  if (strcmp(url, "/api/v1/consultations") == 0 || strcmp(url, "/api/v1/consultations/") == 0)
    return ROUTE_CONSULTATIONS;
  if (starts_with(url, "/api/v1/consultations/")) {
    const char *rest = url + strlen("/api/v1/consultations/");
    http_route sub = match_sub_route(rest, r);
    if (sub != ROUTE_NONE) return sub;
    size_t n = strlen(rest);
    static const char suffix[] = "/complete";
    size_t sl = sizeof(suffix) - 1;
    if (n > sl && strcmp(rest + n - sl, suffix) == 0) {
      char tmp[SCRIBE_STORAGE_KEY_MAX + 1];
      size_t kl = n - sl;
      if (kl >= sizeof(tmp)) kl = sizeof(tmp) - 1;
      memcpy(tmp, rest, kl);
      tmp[kl] = '\0';
      take_param(r, tmp);
      if (n - sl >= sizeof(tmp)) r->param_too_long = true;
      return ROUTE_COMPLETE;
    }
    return take_param(r, rest) ? ROUTE_CONSULTATION : ROUTE_API_NONE;
  }
  if (starts_with(url, "/api/")) return ROUTE_API_NONE;
  return ROUTE_STATIC;
}

/* Methods are case-sensitive (RFC 9110): "get" is not GET. */
static bool method_allowed(http_route route, const char *m) {
  const char *allow = scribe_http_route_info(route)->allow;
  if (!allow) return true; /* 404 routes answer whatever the method */
  size_t ml = strlen(m);
  for (const char *p = allow; *p;) {
    const char *end = strchrnul(p, ',');
    if ((size_t)(end - p) == ml && strncmp(p, m, ml) == 0) return true;
    p = *end ? end + 2 : end; /* ", " */
  }
  return false;
}

/* ---------------------------------------------------------------------- */
/* Responses                                                               */

const char *scribe_http_header(http_call *c, const char *name) {
  return MHD_lookup_connection_value(c->conn, MHD_HEADER_KIND, name);
}

const char *scribe_http_arg(http_call *c, const char *name) {
  return MHD_lookup_connection_value(c->conn, MHD_GET_ARGUMENT_KIND, name);
}

static void add_cors(http_call *c, struct MHD_Response *resp) {
  if (c->h->ncors == 0) return;
  MHD_add_response_header(resp, "Vary", "Origin");
  const char *origin = scribe_http_header(c, "Origin");
  if (!scribe_http_origin_listed(c->h->cors, c->h->ncors, origin)) return;
  MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
  MHD_add_response_header(resp, "Access-Control-Expose-Headers", "ETag, Location");
}

enum MHD_Result scribe_http_reply(http_call *c, unsigned status, struct MHD_Response *resp) {
  if (!resp) return MHD_NO;
  MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
  add_cors(c, resp);
  c->r->status = status;
  c->r->responded = true;
  enum MHD_Result ret = MHD_queue_response(c->conn, status, resp);
  MHD_destroy_response(resp);
  return ret;
}

struct MHD_Response *scribe_http_json_response(json_t *body, uint64_t *len) {
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  if (!text) return NULL;
  size_t n = strlen(text);
  struct MHD_Response *resp = MHD_create_response_from_buffer(n, text, MHD_RESPMEM_MUST_FREE);
  if (!resp) {
    free(text);
    return NULL;
  }
  MHD_add_response_header(resp, "Content-Type", "application/json");
  MHD_add_response_header(resp, "Cache-Control", "no-store");
  *len = n;
  return resp;
}

enum MHD_Result scribe_http_reply_json(http_call *c, unsigned status, json_t *body) {
  struct MHD_Response *resp = scribe_http_json_response(body, &c->r->bytes);
  if (!resp) {
    static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"internal error\"}}";
    resp = MHD_create_response_from_buffer(sizeof(oom) - 1, (void *)oom, MHD_RESPMEM_PERSISTENT);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    c->r->bytes = sizeof(oom) - 1;
    status = MHD_HTTP_INTERNAL_SERVER_ERROR;
  }
  return scribe_http_reply(c, status, resp);
}

enum MHD_Result scribe_http_reply_error(http_call *c, unsigned status, const char *code,
                                        const char *msg) {
  json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
  return scribe_http_reply_json(c, status, body);
}

enum MHD_Result scribe_http_reply_rc(http_call *c, int rc) {
  switch (rc) {
    case SCRIBE_ENOTFOUND:
      return scribe_http_reply_error(c, MHD_HTTP_NOT_FOUND, "not_found", "not found");
    case SCRIBE_EBADKEY:
      return scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid_key", "invalid key");
    case SCRIBE_EINVAL:
    case SCRIBE_EPARSE:
      return scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_request",
                                     scribe_strerror(rc));
    case SCRIBE_EFORBIDDEN:
      return scribe_http_reply_error(c, MHD_HTTP_FORBIDDEN, "forbidden", "forbidden");
    case SCRIBE_EEXPIRED:
      return scribe_http_reply_error(c, MHD_HTTP_FORBIDDEN, "expired", "expired");
    case SCRIBE_EEXISTS:
      return scribe_http_reply_error(c, MHD_HTTP_CONFLICT, "conflict", "already exists");
    case SCRIBE_ETOOBIG:
      return scribe_http_reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", "too large");
    case SCRIBE_EAGAIN:
    case SCRIBE_ETIMEOUT:
    case SCRIBE_EUNAVAILABLE:
      LOG_WARN("http %s %s: backend unavailable: %s", c->r->method, c->r->path,
               scribe_err_name(rc));
      return scribe_http_reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "unavailable",
                                     "service temporarily unavailable, try again");
    default:
      LOG_ERROR("http %s %s: %s", c->r->method, c->r->path, scribe_err_name(rc));
      return scribe_http_reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                                     "internal error");
  }
}

int scribe_http_base_url(http_call *c, bool ws, char **out) {
  *out = NULL;
  scribe_buf b;
  scribe_buf_init(&b, 4096);
  const char *pub = c->h->cfg->public_url;
  int rc;
  if (pub && *pub) {
    const char *rest = pub;
    const char *scheme = ws ? "ws://" : "http://";
    if (strncasecmp(pub, "https://", 8) == 0) {
      rest = pub + 8;
      scheme = ws ? "wss://" : "https://";
    } else if (strncasecmp(pub, "http://", 7) == 0) {
      rest = pub + 7;
    }
    size_t n = strlen(rest);
    while (n && rest[n - 1] == '/') n--;
    rc = scribe_buf_appends(&b, scheme);
    if (!rc) rc = scribe_buf_append(&b, rest, n);
  } else {
    const char *host = scribe_http_header(c, "Host");
    char fallback[300];
    if (!host) { /* HTTP/1.0 without Host: the configured address */
      const char *h = c->h->cfg->host;
      bool v6 = strchr(h, ':') != NULL;
      snprintf(fallback, sizeof(fallback), "%s%s%s:%d", v6 ? "[" : "", h, v6 ? "]" : "",
               c->h->port);
      host = fallback;
    }
    if (!scribe_http_host_valid(host)) {
      scribe_buf_release(&b);
      return SCRIBE_EINVAL;
    }
    rc = scribe_buf_appends(&b, ws ? "ws://" : "http://");
    if (!rc) rc = scribe_buf_appends(&b, host);
  }
  if (rc) {
    scribe_buf_release(&b);
    return rc;
  }
  *out = scribe_buf_steal(&b);
  return SCRIBE_OK;
}

/* ---------------------------------------------------------------------- */
/* Static files, OPTIONS                                                   */

static uint64_t fnv1a(const unsigned char *p, size_t n) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  return h;
}

static enum MHD_Result serve_static(http_call *c, const char *url) {
  char path[256];
  const char *p = url + 1; /* url starts with '/' */
  size_t n = strlen(p);
  if (n == 0 || p[n - 1] == '/') {
    if (n + sizeof("index.html") > sizeof(path))
      return scribe_http_reply_error(c, MHD_HTTP_NOT_FOUND, "not_found", "not found");
    memcpy(path, p, n);
    memcpy(path + n, "index.html", sizeof("index.html"));
  } else {
    if (n >= sizeof(path))
      return scribe_http_reply_error(c, MHD_HTTP_NOT_FOUND, "not_found", "not found");
    memcpy(path, p, n + 1);
  }
  /* no hidden files, no dot segments (the table has none; belt and braces) */
  bool ok = path[0] != '.' && !strstr(path, "/.");
  const scribe_embedded_file *f = ok ? scribe_embed_find(c->h->web, path) : NULL;
  if (!f) return scribe_http_reply_error(c, MHD_HTTP_NOT_FOUND, "not_found", "not found");

  char etag[24];
  snprintf(etag, sizeof(etag), "\"%016" PRIx64 "\"", fnv1a(f->data, f->size));
  const char *inm = scribe_http_header(c, "If-None-Match");
  bool not_modified = inm && strstr(inm, etag) != NULL;
  struct MHD_Response *resp =
      not_modified ? MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT)
                   : MHD_create_response_from_buffer(f->size, (void *)f->data,
                                                     MHD_RESPMEM_PERSISTENT);
  if (!resp) return MHD_NO;
  const char *type = scribe_http_mime_type(path);
  MHD_add_response_header(resp, "Content-Type", type);
  MHD_add_response_header(resp, "Cache-Control", "no-cache");
  MHD_add_response_header(resp, "ETag", etag);
  if (strncmp(type, "text/html", 9) == 0) {
    MHD_add_response_header(resp, "Content-Security-Policy", CSP_HTML);
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
  }
  c->r->bytes = not_modified ? 0 : f->size;
  return scribe_http_reply(c, not_modified ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, resp);
}

/* OPTIONS: CORS preflight when Origin + Access-Control-Request-Method are
 * present, else a plain 204 with Allow. */
static enum MHD_Result serve_options(http_call *c) {
  const char *allow = scribe_http_route_info(c->r->route)->allow;
  if (!allow) return scribe_http_reply_error(c, MHD_HTTP_NOT_FOUND, "not_found", "not found");
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
  if (!resp) return MHD_NO;
  MHD_add_response_header(resp, "Allow", allow);
  const char *origin = scribe_http_header(c, "Origin");
  const char *want = scribe_http_header(c, "Access-Control-Request-Method");
  if (want && scribe_http_origin_listed(c->h->cors, c->h->ncors, origin)) {
    /* add_cors() adds Allow-Origin and Vary */
    MHD_add_response_header(resp, "Access-Control-Allow-Methods", allow);
    MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                            "Content-Type, Authorization, X-CSRF-Token");
    MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
  }
  return scribe_http_reply(c, MHD_HTTP_NO_CONTENT, resp);
}

/* ---------------------------------------------------------------------- */
/* The access handler                                                      */

static enum MHD_Result method_not_allowed(http_call *c) {
  json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", "method_not_allowed", "message",
                           "method not allowed");
  struct MHD_Response *resp = scribe_http_json_response(body, &c->r->bytes);
  if (!resp) return MHD_NO;
  MHD_add_response_header(resp, "Allow", scribe_http_route_info(c->r->route)->allow);
  return scribe_http_reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, resp);
}

static void defer_error(http_req *r, unsigned status, const char *code, const char *msg) {
  if (r->deferred_status) return;
  r->deferred_status = status;
  r->deferred_code = code;
  r->deferred_msg = msg;
}

static bool is_method(const char *m, const char *want) { return strcmp(m, want) == 0; }

/* First call: headers only. */
static enum MHD_Result begin_request(http_call *c, const char *url) {
  http_req *r = c->r;
  const scribe_config *cfg = c->h->cfg;
  r->route = match_route(url, r);
  r->body = BODY_DISCARD;
  r->limit = (uint64_t)cfg->max_json_bytes;

  bool options = is_method(c->method, "OPTIONS");
  bool allowed = options || method_allowed(r->route, c->method);
  if (allowed && !options) { /* who may call it: before any body is read */
    enum MHD_Result ret = MHD_NO;
    if (!scribe_http_gate(c, &ret)) return ret;
  }
  if (!allowed) {
    defer_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed");
  } else if (!options && r->route == ROUTE_UPLOAD) {
    return scribe_http_upload_begin(c);
  } else if (!options && r->route == ROUTE_PART) {
    return scribe_http_part_begin(c);
  } else if (!options && is_method(c->method, "POST")) {
    r->body = BODY_JSON;
    scribe_buf_init(&r->json, (size_t)cfg->max_json_bytes);
    const char *ct = scribe_http_header(c, "Content-Type");
    if (ct && !scribe_http_is_json_type(ct))
      return scribe_http_reply_error(c, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                     "unsupported_media_type",
                                     "Content-Type must be application/json");
  }
  /* Any body beyond the JSON limit is refused before it is read. */
  const char *cl = scribe_http_header(c, "Content-Length");
  uint64_t len = 0;
  if (cl && scribe_http_parse_u64(cl, &len) && len > r->limit)
    return scribe_http_reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                                   "request body too large");
  return MHD_YES;
}

static enum MHD_Result body_data(http_call *c, const char *data, size_t len) {
  http_req *r = c->r;
  if (r->body == BODY_UPLOAD) return scribe_http_upload_data(c, data, len);
  if (len > r->limit || r->received > r->limit - len) {
    /* Only chunked bodies get here (Content-Length was checked): we
     * cannot answer in the middle of a body, so close the connection. */
    LOG_DEBUG("http %s %s: body over %" PRIu64 " bytes, closing", r->method, r->path,
              r->limit);
    return MHD_NO;
  }
  r->received += len;
  if (r->body == BODY_JSON && scribe_buf_append(&r->json, data, len) != SCRIBE_OK) return MHD_NO;
  return MHD_YES;
}

static enum MHD_Result end_request(http_call *c, const char *url) {
  http_req *r = c->r;
  if (r->deferred_status) {
    if (r->deferred_status == MHD_HTTP_METHOD_NOT_ALLOWED) return method_not_allowed(c);
    return scribe_http_reply_error(c, r->deferred_status, r->deferred_code, r->deferred_msg);
  }
  if (is_method(c->method, "OPTIONS")) return serve_options(c);
  bool get = is_method(c->method, "GET") || is_method(c->method, "HEAD");
  switch (r->route) {
    case ROUTE_STATIC:
      return serve_static(c, url);
    case ROUTE_HEALTHZ:
      return scribe_http_route_healthz(c);
    case ROUTE_READYZ:
      return scribe_http_route_readyz(c);
    case ROUTE_CONFIG:
      return scribe_http_route_config(c);
    case ROUTE_GET_UPLOAD_URL:
      return scribe_http_route_get_upload_url(c);
    case ROUTE_UPLOAD:
      return scribe_http_upload_end(c);
    case ROUTE_UPLOAD_COMPLETE:
      return scribe_http_route_upload_complete(c);
    case ROUTE_RESULT:
      return scribe_http_route_result(c);
    case ROUTE_WS:
      return scribe_http_route_ws(c);
    case ROUTE_CONSULTATIONS:
      return get ? scribe_http_route_list(c) : scribe_http_route_create(c);
    case ROUTE_CONSULTATION:
      return get ? scribe_http_route_get(c) : scribe_http_route_delete(c);
    case ROUTE_COMPLETE:
      return scribe_http_route_complete(c);
    case ROUTE_PARTS:
      return scribe_http_route_parts(c);
    case ROUTE_PART:
      return scribe_http_part_end(c);
    case ROUTE_PARTS_COMPLETE:
      return scribe_http_route_parts_complete(c);
    case ROUTE_LOGIN:
      return scribe_http_route_login(c);
    case ROUTE_LOGOUT:
      return scribe_http_route_logout(c);
    case ROUTE_ME:
      return scribe_http_route_me(c);
    case ROUTE_NONE:
    case ROUTE_API_NONE:
    default:
      return scribe_http_reply_error(c, MHD_HTTP_NOT_FOUND, "not_found", "not found");
  }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
  scribe_http *h = cls;
  http_req *r = *con_cls;
  if (!r) {
    r = calloc(1, sizeof(*r));
    if (!r) return MHD_NO;
    r->start_ms = scribe_mono_ms();
    snprintf(r->method, sizeof(r->method), "%s", method);
    snprintf(r->path, sizeof(r->path), "%s", url);
    for (char *p = r->method; *p; p++) /* the access log is one line */
      if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) *p = '?';
    for (char *p = r->path; *p; p++)
      if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) *p = '?';
    *con_cls = r;
    http_call c = {h, conn, r, method};
    return begin_request(&c, url);
  }
  http_call c = {h, conn, r, method};
  if (r->responded) { /* an early error is queued: MHD discards the rest */
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (*upload_data_size) {
    size_t n = *upload_data_size;
    *upload_data_size = 0;
    return body_data(&c, upload_data, n);
  }
  return end_request(&c, url);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  http_req *r = *con_cls;
  if (!r) return;
  *con_cls = NULL;
  scribe_http_upload_cleanup(r);
  scribe_buf_release(&r->json);
  LOG_DEBUG("http %s %s %u %" PRIu64 "B %" PRId64 "ms%s", r->method, r->path, r->status,
            r->bytes, scribe_mono_ms() - r->start_ms,
            toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (aborted)");
  free(r);
}

/* MHD's own messages, at debug level; signature values are masked. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
  if (SCRIBE_LOG_DEBUG < scribe_log_threshold) return;
  char line[512];
  vsnprintf(line, sizeof(line), fmt, ap);
  for (char *p = strstr(line, "sig="); p; p = strstr(p, "sig=")) /* sig=, osig= */
    for (p += 4; *p && *p != '&' && *p != ' ' && *p != '\''; p++) *p = '*';
  for (char *p = strstr(line, "token="); p; p = strstr(p, "token=")) /* WebSocket ?token= */
    for (p += 6; *p && *p != '&' && *p != ' ' && *p != '\''; p++) *p = '*';
  size_t n = strlen(line);
  while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
  LOG_DEBUG("mhd: %s", line);
}

/* ---------------------------------------------------------------------- */
/* Start / stop                                                            */

static int resolve(const char *host, int port, struct sockaddr_storage *ss, bool *v6) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  const char *node = (host && *host) ? host : NULL;
  if (getaddrinfo(node, NULL, &hints, &res) != 0 || !res) return SCRIBE_ECONFIG;
  memset(ss, 0, sizeof(*ss));
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  *v6 = res->ai_family == AF_INET6;
  if (*v6)
    ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
  else
    ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
  freeaddrinfo(res);
  return SCRIBE_OK;
}

scribe_http *scribe_http_start(scribe_app *app, const scribe_embedded_file *web, char *err,
                               size_t errlen) {
  const scribe_config *cfg = app->cfg;
  scribe_http *h = calloc(1, sizeof(*h));
  if (!h) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  h->app = app;
  h->cfg = cfg;
  h->web = web;
  if (scribe_http_origins_parse(cfg->cors_origins, &h->cors, &h->ncors) != SCRIBE_OK) {
    snprintf(err, errlen, "out of memory");
    goto fail;
  }

  struct sockaddr_storage ss;
  bool v6 = false;
  if (resolve(cfg->host, (int)cfg->port, &ss, &v6) != SCRIBE_OK) {
    snprintf(err, errlen, "host %s: cannot resolve", cfg->host);
    goto fail;
  }

  unsigned max_conns = (unsigned)cfg->max_connections;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  unsigned pool = cpus < 2 ? 2 : cpus > 4 ? 4 : (unsigned)cpus;
  if (pool > max_conns) pool = max_conns;
  unsigned per_ip = max_conns / 2 ? max_conns / 2 : 1;
  int ws_max = (int)(max_conns / 2 ? max_conns / 2 : 1);

  if (!cfg->auth && !scribe_http_is_loopback(cfg->host)) {
    snprintf(err, errlen,
             "refusing to listen on %s without authentication: patient data would be open "
             "to the network. Turn auth on (auth = on in the config file, SCRIBE_AUTH=on or "
             "--auth on) and create an account with `scribe user add NAME --role admin`, "
             "or listen on 127.0.0.1 only",
             cfg->host);
    goto fail;
  }
  if (cfg->auth) {
    char path[4200];
    if (scribe_auth_path(cfg->data_dir, path, sizeof(path))) {
      snprintf(err, errlen, "data_dir too long");
      goto fail;
    }
    h->auth = scribe_auth_open(path, err, errlen);
    if (!h->auth) goto fail;
    h->throttle = scribe_auth_throttle_create((int)cfg->auth_login_max_failures,
                                              cfg->auth_lockout_seconds * 1000);
    if (!h->throttle) {
      snprintf(err, errlen, "out of memory");
      goto fail;
    }
  }
  h->ws = scribe_ws_hub_create(app, h->auth, ws_max, (int)cfg->max_json_depth, err, errlen);
  if (!h->ws) goto fail;
  if (pthread_mutex_init(&h->parts_lock, NULL) != 0) {
    snprintf(err, errlen, "cannot create a mutex");
    goto fail;
  }
  h->parts_lock_ready = true;
  h->docs = scribe_http_cache_create(1024, 1u << 20);
  if (!h->docs) {
    snprintf(err, errlen, "out of memory");
    goto fail;
  }

  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_UPGRADE |
                   MHD_USE_ITC | MHD_USE_ERROR_LOG;
  if (v6) flags |= MHD_USE_IPv6;
  struct MHD_OptionItem opts[] = {
      {MHD_OPTION_SOCK_ADDR, 0, &ss},
      {MHD_OPTION_CONNECTION_LIMIT, max_conns, NULL},
      {MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip, NULL},
      {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)cfg->connection_timeout, NULL},
      {MHD_OPTION_CONNECTION_MEMORY_LIMIT, SCRIBE_HTTP_MEMORY_LIMIT, NULL},
      {MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL},
      {pool > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END, pool, NULL},
      {MHD_OPTION_END, 0, NULL},
  };
  h->daemon = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, on_request, h,
                               MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
                               MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_ARRAY,
                               opts, MHD_OPTION_END);
  if (!h->daemon) {
    snprintf(err, errlen, "cannot listen on %s:%d (address in use or not available?)",
             cfg->host, (int)cfg->port);
    goto fail;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
  h->port = info ? (int)info->port : (int)cfg->port;
  LOG_INFO("http listening on %s:%d (threads=%u, max_connections=%u, auth=%s)", cfg->host,
           h->port, pool, max_conns, cfg->auth ? "on" : "off");
  return h;

fail:
  if (h->parts_lock_ready) pthread_mutex_destroy(&h->parts_lock);
  scribe_ws_hub_free(h->ws);
  scribe_auth_throttle_free(h->throttle);
  scribe_auth_close(h->auth);
  scribe_http_cache_free(h->docs);
  scribe_http_origins_free(h->cors, h->ncors);
  free(h);
  return NULL;
}

int scribe_http_port(const scribe_http *h) { return h ? h->port : 0; }

void scribe_http_stop(scribe_http *h) {
  if (!h) return;
  MHD_socket lfd = MHD_INVALID_SOCKET;
  if (h->daemon) lfd = MHD_quiesce_daemon(h->daemon);
  scribe_ws_hub_stop(h->ws);
  if (h->daemon) MHD_stop_daemon(h->daemon);
  if (lfd != MHD_INVALID_SOCKET) close(lfd);
  scribe_ws_hub_free(h->ws);
  scribe_http_cache_free(h->docs);
  scribe_http_origins_free(h->cors, h->ncors);
  if (h->parts_lock_ready) pthread_mutex_destroy(&h->parts_lock);
  scribe_auth_throttle_free(h->throttle);
  scribe_auth_close(h->auth);
  LOG_INFO("http stopped");
  free(h);
}
