/*
 * http_routes.c - the JSON routes: health, the compatibility routes of the
 * original AWS client (exact response shapes) and the native /api/v1, plus
 * the WebSocket handshake.  The upload PUT is in http_upload.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "core/log.h"
#include "http/http_internal.h"

/* ---------------------------------------------------------------------- */
/* Helpers                                                                 */

/* The request body as a JSON object.  Returns true with *out set (NULL for
 * an empty body when optional), or false after queuing a 400. */
static bool body_object(http_call *c, bool optional, json_t **out, enum MHD_Result *ret) {
  *out = NULL;
  http_req *r = c->r;
  if (r->json.len == 0) {
    if (optional) return true;
    *ret = scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "missing_body",
                                   "a JSON object body is required");
    return false;
  }
  const char *why = NULL;
  json_t *v = scribe_http_json_parse(r->json.data, r->json.len, (int)c->h->cfg->max_json_depth,
                                     &why);
  if (!v) {
    bool deep = why && strcmp(why, "too_deep") == 0;
    *ret = scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, deep ? "too_deep" : "invalid_json",
                                   deep ? "JSON nested too deeply" : "malformed JSON");
    return false;
  }
  if (!json_is_object(v)) {
    json_decref(v);
    *ret = scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid_json",
                                   "the body must be a JSON object");
    return false;
  }
  *out = v;
  return true;
}

/* A printable, bounded text field (patient id, file name). */
static bool text_ok(const char *s, size_t max) {
  size_t n = strlen(s);
  if (n == 0 || n > max) return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return false;
  return true;
}

/* Optional string member of obj: *out NULL when absent or null. */
static bool opt_string(json_t *obj, const char *name, size_t max, const char **out) {
  *out = NULL;
  json_t *v = obj ? json_object_get(obj, name) : NULL;
  if (!v || json_is_null(v)) return true;
  if (!json_is_string(v) || !text_ok(json_string_value(v), max)) return false;
  *out = json_string_value(v);
  return true;
}

static enum MHD_Result bad_key(http_call *c) {
  return scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid_key", "invalid key");
}

static bool param_key_ok(http_call *c) {
  return !c->r->param_too_long && scribe_app_key_valid(c->r->param);
}

static enum MHD_Result reply_static_json(http_call *c, unsigned status, const char *text) {
  size_t n = strlen(text);
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(n, (void *)text, MHD_RESPMEM_PERSISTENT);
  if (!resp) return MHD_NO;
  MHD_add_response_header(resp, "Content-Type", "application/json");
  MHD_add_response_header(resp, "Cache-Control", "no-store");
  c->r->bytes = n;
  return scribe_http_reply(c, status, resp);
}

/* New key + record + signed upload URL. */
static int new_consultation(http_call *c, const scribe_record_meta *meta, char key[],
                            char **url) {
  *url = NULL;
  char *base = NULL;
  int rc = scribe_http_base_url(c, false, &base);
  if (rc) return rc;
  scribe_record_meta m = *meta;
  if (c->r->authed) m.owner = c->r->who.username;
  rc = scribe_app_new_key(key);
  /* the owner first: a record is never visible without its owner */
  if (!rc) rc = scribe_http_set_owner(c, key);
  if (!rc) rc = scribe_app_create(c->h->app, key, &m);
  if (!rc) rc = scribe_app_upload_url(c->h->app, base, key, url);
  if (!rc) rc = scribe_http_bind_owner(c, key, url);
  free(base);
  if (!rc) LOG_INFO("consultation created key=%s", key);
  return rc;
}

/* ---------------------------------------------------------------------- */
/* Health                                                                  */

enum MHD_Result scribe_http_route_healthz(http_call *c) {
  return reply_static_json(c, MHD_HTTP_OK, "{\"status\":\"ok\"}");
}

enum MHD_Result scribe_http_route_readyz(http_call *c) {
  scribe_app *app = c->h->app;
  scribe_queue_stats st;
  json_t *doc = NULL;
  uint64_t size = 0;
  int rq = scribe_queue_stats_get(app->queue, &st);
  int rr = scribe_results_get(app->results, "readyz-probe", &doc);
  json_decref(doc);
  int rs = scribe_storage_stat(app->storage, "readyz-probe", &size);
  bool q = rq == SCRIBE_OK, r = rr == SCRIBE_OK || rr == SCRIBE_ENOTFOUND,
       s = rs == SCRIBE_OK || rs == SCRIBE_ENOTFOUND;
  bool ready = q && r && s;
  if (!ready)
    LOG_WARN("readyz: queue=%s results=%s storage=%s", scribe_err_name(rq),
             scribe_err_name(rr), scribe_err_name(rs));
  json_t *body = json_pack("{s:s,s:{s:s,s:s,s:s}}", "status", ready ? "ready" : "unavailable",
                           "checks", "queue", q ? "ok" : "error", "results", r ? "ok" : "error",
                           "storage", s ? "ok" : "error");
  return scribe_http_reply_json(c, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, body);
}

/* ---------------------------------------------------------------------- */
/* Compatibility routes                                                    */

enum MHD_Result scribe_http_route_config(http_call *c) {
  char *base = NULL;
  if (scribe_http_base_url(c, true, &base))
    return scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_host", "invalid Host header");
  size_t n = strlen(base) + 4;
  char *ws = malloc(n);
  if (!ws) {
    free(base);
    return scribe_http_reply_rc(c, SCRIBE_ENOMEM);
  }
  snprintf(ws, n, "%s/ws", base);
  free(base);
  json_t *body = json_pack("{s:s}", "websocketUrl", ws);
  free(ws);
  return scribe_http_reply_json(c, MHD_HTTP_OK, body);
}

enum MHD_Result scribe_http_route_get_upload_url(http_call *c) {
  const char *patient = scribe_http_arg(c, "patientId");
  if (patient && !*patient) patient = NULL;
  if (patient && !text_ok(patient, SCRIBE_HTTP_PATIENT_ID_MAX))
    return scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid_patient_id",
                                   "patientId must be 1..256 printable characters");
  scribe_record_meta meta = {patient, NULL, NULL};
  char key[SCRIBE_KEY_LEN + 1];
  char *url = NULL;
  int rc = new_consultation(c, &meta, key, &url);
  if (rc == SCRIBE_EINVAL)
    return scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_host", "invalid Host header");
  if (rc) return scribe_http_reply_rc(c, rc);
  json_t *body = json_pack("{s:s,s:s}", "upload_url", url, "key", key);
  free(url);
  return scribe_http_reply_json(c, MHD_HTTP_OK, body);
}

enum MHD_Result scribe_http_route_upload_complete(http_call *c) {
  enum MHD_Result ret = MHD_NO;
  json_t *req = NULL;
  if (!body_object(c, false, &req, &ret)) return ret;
  json_t *k = json_object_get(req, "key");
  if (!json_is_string(k)) {
    json_decref(req);
    return scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "missing_field",
                                   "\"key\" (a string) is required");
  }
  char key[SCRIBE_STORAGE_KEY_MAX + 1];
  snprintf(key, sizeof(key), "%s", json_string_value(k));
  bool ok = json_string_length(k) < sizeof(key) && scribe_app_key_valid(key);
  json_decref(req);
  if (!ok) return bad_key(c);
  if (scribe_http_authorize_key(c, key) != SCRIBE_OK)
    return scribe_http_reply_error(c, MHD_HTTP_NOT_FOUND, "not_found",
                                   "no upload for this key");
  bool queued = false;
  int rc = scribe_app_enqueue(c->h->app, key, &queued);
  if (rc == SCRIBE_ENOTFOUND)
    return scribe_http_reply_error(c, MHD_HTTP_NOT_FOUND, "not_found",
                                   "no upload for this key");
  if (rc) return scribe_http_reply_rc(c, rc);
  return reply_static_json(c, MHD_HTTP_OK, "{\"status\":\"processing triggered\"}");
}

/* Replies 200 with the stored document of c->r->param, serialized once per
 * version of the record (see http_cache.h); `final_only`: anything not
 * completed or failed gets the compatibility 404 {"status":"processing"}. */
static enum MHD_Result reply_document(http_call *c, bool final_only) {
  const char *key = c->r->param;
  scribe_status st;
  int64_t version;
  int rc = scribe_results_stamp(c->h->app->results, key, &st, &version);
  if (rc == SCRIBE_ENOTFOUND && final_only)
    return reply_static_json(c, MHD_HTTP_NOT_FOUND, "{\"status\":\"processing\"}");
  if (rc) return scribe_http_reply_rc(c, rc);
  if (final_only && st != SCRIBE_STATUS_COMPLETED && st != SCRIBE_STATUS_FAILED) {
    /* An upload that went straight to the object store (presigned S3 PUT)
     * has no server-side completion: the original client only polls this
     * route, so a poll that finds the audio there queues the job (the
     * bucket event notification of the original design). */
    if (st == SCRIBE_STATUS_UPLOADED) {
      bool queued = false;
      scribe_app_enqueue(c->h->app, key, &queued);
    }
    return reply_static_json(c, MHD_HTTP_NOT_FOUND, "{\"status\":\"processing\"}");
  }
  size_t len = 0;
  char *body = scribe_http_cache_get(c->h->docs, key, version, &len);
  if (!body) {
    json_t *doc = NULL;
    rc = scribe_results_get(c->h->app->results, key, &doc);
    if (rc == SCRIBE_ENOTFOUND && final_only)
      return reply_static_json(c, MHD_HTTP_NOT_FOUND, "{\"status\":\"processing\"}");
    if (rc) return scribe_http_reply_rc(c, rc);
    body = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!body) return scribe_http_reply_rc(c, SCRIBE_ENOMEM);
    len = strlen(body);
    /* A write between the stamp and the get makes this body newer than
     * `version`; that is harmless: versions only grow, so no later stamp
     * returns `version` again and the entry is never served. */
    scribe_http_cache_put(c->h->docs, key, version, body, len);
  }
  struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
  if (!resp) {
    free(body);
    return MHD_NO;
  }
  MHD_add_response_header(resp, "Content-Type", "application/json");
  MHD_add_response_header(resp, "Cache-Control", "no-store");
  c->r->bytes = len;
  return scribe_http_reply(c, MHD_HTTP_OK, resp);
}

enum MHD_Result scribe_http_route_result(http_call *c) {
  if (!param_key_ok(c)) return bad_key(c);
  return reply_document(c, true);
}

/* ---------------------------------------------------------------------- */
/* Native API                                                              */

enum MHD_Result scribe_http_route_create(http_call *c) {
  enum MHD_Result ret = MHD_NO;
  json_t *req = NULL;
  if (!body_object(c, true, &req, &ret)) return ret;
  const char *patient = NULL, *filename = NULL;
  if (!opt_string(req, "patient_id", SCRIBE_HTTP_PATIENT_ID_MAX, &patient) ||
      !opt_string(req, "filename", SCRIBE_HTTP_FILENAME_MAX, &filename)) {
    json_decref(req);
    return scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid_field",
                                   "patient_id and filename must be strings of 1..256 "
                                   "printable characters");
  }
  scribe_record_meta meta = {patient, NULL, filename};
  char key[SCRIBE_KEY_LEN + 1];
  char *url = NULL;
  int rc = new_consultation(c, &meta, key, &url);
  json_decref(req);
  if (rc == SCRIBE_EINVAL)
    return scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_host", "invalid Host header");
  if (rc) return scribe_http_reply_rc(c, rc);
  json_t *body = json_pack("{s:s,s:s,s:s}", "id", key, "upload_url", url, "status",
                           scribe_status_name(SCRIBE_STATUS_UPLOADED));
  free(url);
  struct MHD_Response *resp = scribe_http_json_response(body, &c->r->bytes);
  if (!resp) return scribe_http_reply_rc(c, SCRIBE_ENOMEM);
  char loc[64 + SCRIBE_KEY_LEN];
  snprintf(loc, sizeof(loc), "/api/v1/consultations/%s", key);
  MHD_add_response_header(resp, "Location", loc);
  return scribe_http_reply(c, MHD_HTTP_CREATED, resp);
}

/* scribe_results_list() limited to what the caller may see.  Clinicians
 * (auth on): pages are read and filtered by owner until `limit` items are
 * found, at most LIST_SCAN_PAGES pages (the page then holds fewer items;
 * next_cursor still continues after the last record read).
 * TODO(issue 6): an owner filter in the results layer. */
#define LIST_SCAN_PAGES 50
static int list_visible(http_call *c, int st, const char *cursor, int limit, json_t **items,
                        char **next) {
  scribe_results *res = c->h->app->results;
  if (!c->h->auth || (c->r->authed && c->r->who.role == SCRIBE_ROLE_ADMIN))
    return scribe_results_list(res, st, cursor, limit, items, next);
  *items = NULL;
  *next = NULL;
  json_t *out = json_array();
  if (!out) return SCRIBE_ENOMEM;
  char *cur = cursor ? strdup(cursor) : NULL;
  if (cursor && !cur) {
    json_decref(out);
    return SCRIBE_ENOMEM;
  }
  int rc = SCRIBE_OK;
  for (int page = 0; page < LIST_SCAN_PAGES && (int)json_array_size(out) < limit; page++) {
    json_t *got = NULL;
    char *nx = NULL;
    rc = scribe_results_list(res, st, cur, limit - (int)json_array_size(out), &got, &nx);
    free(cur);
    cur = nx;
    if (rc) break;
    size_t i;
    json_t *it;
    json_array_foreach(got, i, it) {
      const char *k = json_string_value(json_object_get(it, "audio_key"));
      if (k && scribe_http_authorize_key(c, k) == SCRIBE_OK) json_array_append(out, it);
    }
    json_decref(got);
    if (!cur) break;
  }
  if (rc) {
    free(cur);
    json_decref(out);
    return rc;
  }
  *items = out;
  *next = cur;
  return SCRIBE_OK;
}

enum MHD_Result scribe_http_route_list(http_call *c) {
  const char *status = scribe_http_arg(c, "status");
  const char *cursor = scribe_http_arg(c, "cursor");
  const char *limit_s = scribe_http_arg(c, "limit");
  int st = -1;
  if (status && *status) {
    st = scribe_status_parse(status);
    if (st < 0)
      return scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid_status",
                                     "status must be uploaded, queued, transcribing, "
                                     "extracting, completed or failed");
  }
  uint64_t limit = SCRIBE_HTTP_LIST_DEFAULT;
  if (limit_s && (!scribe_http_parse_u64(limit_s, &limit) || limit < 1 ||
                  limit > SCRIBE_HTTP_LIST_MAX))
    return scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid_limit",
                                   "limit must be an integer from 1 to 1000");
  if (cursor && !*cursor) cursor = NULL;
  if (cursor && strlen(cursor) > SCRIBE_HTTP_CURSOR_MAX)
    return scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid_cursor", "invalid cursor");
  json_t *items = NULL;
  char *next = NULL;
  int rc = list_visible(c, st, cursor, (int)limit, &items, &next);
  if (rc == SCRIBE_EINVAL || rc == SCRIBE_EPARSE)
    return scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid_cursor", "invalid cursor");
  if (rc) return scribe_http_reply_rc(c, rc);
  json_t *body = json_pack("{s:o,s:o}", "items", items ? items : json_array(), "next_cursor",
                           next ? json_string(next) : json_null());
  free(next);
  return scribe_http_reply_json(c, MHD_HTTP_OK, body);
}

enum MHD_Result scribe_http_route_get(http_call *c) {
  if (!param_key_ok(c)) return bad_key(c);
  return reply_document(c, false);
}

enum MHD_Result scribe_http_route_delete(http_call *c) {
  if (!param_key_ok(c)) return bad_key(c);
  int rc = scribe_app_delete(c->h->app, c->r->param);
  if (c->h->auth && rc == SCRIBE_OK) scribe_auth_owner_remove(c->h->auth, c->r->param);
  scribe_http_cache_drop(c->h->docs, c->r->param);
  scribe_http_parts_remove(c->h, c->r->param, 0); /* an unfinished resumable upload */
  if (rc) return scribe_http_reply_rc(c, rc);
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
  if (!resp) return MHD_NO;
  return scribe_http_reply(c, MHD_HTTP_NO_CONTENT, resp);
}

enum MHD_Result scribe_http_route_complete(http_call *c) {
  if (!param_key_ok(c)) return bad_key(c);
  const char *key = c->r->param;
  bool queued = false;
  int rc = scribe_app_enqueue(c->h->app, key, &queued);
  if (rc == SCRIBE_ENOTFOUND)
    return scribe_http_reply_error(c, MHD_HTTP_NOT_FOUND, "not_found",
                                   "no audio uploaded for this consultation");
  if (rc) return scribe_http_reply_rc(c, rc);
  /* Report the status as it is now (queued, or further along when the
   * job was already queued or done). */
  json_t *doc = NULL;
  const char *status = scribe_status_name(SCRIBE_STATUS_QUEUED);
  if (scribe_results_get(c->h->app->results, key, &doc) == SCRIBE_OK) {
    const char *s = json_string_value(json_object_get(doc, "status"));
    if (s) status = s;
  }
  json_t *body = json_pack("{s:s,s:s}", "id", key, "status", status);
  json_decref(doc);
  return scribe_http_reply_json(c, MHD_HTTP_ACCEPTED, body);
}

/* ---------------------------------------------------------------------- */
/* WebSocket handshake (RFC 6455 section 4.2)                              */

/* Browsers do not apply CORS to WebSockets: accept no Origin (not a
 * browser), the page's own origin (Host or public_url) or a configured
 * origin. */
static bool ws_origin_ok(http_call *c) {
  const char *origin = scribe_http_header(c, "Origin");
  if (!origin) return true;
  if (scribe_http_origin_listed(c->h->cors, c->h->ncors, origin)) return true;
  const char *rest = NULL;
  if (strncasecmp(origin, "http://", 7) == 0)
    rest = origin + 7;
  else if (strncasecmp(origin, "https://", 8) == 0)
    rest = origin + 8;
  const char *host = scribe_http_header(c, "Host");
  if (rest && host && strcasecmp(rest, host) == 0) return true;
  const char *pub = c->h->cfg->public_url;
  if (pub && *pub) {
    const char *p = strstr(pub, "://");
    size_t n = p ? (size_t)(strchrnul(p + 3, '/') - pub) : strlen(pub);
    if (strlen(origin) == n && strncasecmp(origin, pub, n) == 0) return true;
  }
  return false;
}

enum MHD_Result scribe_http_route_ws(http_call *c) {
  const char *upgrade = scribe_http_header(c, "Upgrade");
  const char *connection = scribe_http_header(c, "Connection");
  const char *version = scribe_http_header(c, "Sec-WebSocket-Version");
  const char *key = scribe_http_header(c, "Sec-WebSocket-Key");
  if (!scribe_http_has_token(upgrade, "websocket") ||
      !scribe_http_has_token(connection, "upgrade")) {
    json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", "upgrade_required", "message",
                             "this endpoint speaks WebSocket only");
    struct MHD_Response *resp = scribe_http_json_response(body, &c->r->bytes);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Upgrade", "websocket");
    return scribe_http_reply(c, MHD_HTTP_UPGRADE_REQUIRED, resp);
  }
  if (!version || strcmp(version, "13") != 0) {
    json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", "unsupported_version", "message",
                             "Sec-WebSocket-Version 13 is required");
    struct MHD_Response *resp = scribe_http_json_response(body, &c->r->bytes);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Sec-WebSocket-Version", "13");
    return scribe_http_reply(c, MHD_HTTP_UPGRADE_REQUIRED, resp);
  }
  if (!scribe_http_ws_key_valid(key))
    return scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_handshake",
                                   "invalid Sec-WebSocket-Key");
  if (!ws_origin_ok(c))
    return scribe_http_reply_error(c, MHD_HTTP_FORBIDDEN, "forbidden", "origin not allowed");
  if (scribe_ws_hub_full(c->h->ws)) {
    json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", "unavailable", "message",
                             "too many WebSocket connections");
    struct MHD_Response *resp = scribe_http_json_response(body, &c->r->bytes);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, "Retry-After", "5");
    return scribe_http_reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, resp);
  }
  char accept[29];
  if (scribe_http_ws_accept(key, accept)) return scribe_http_reply_rc(c, SCRIBE_EINTERNAL);
  struct MHD_Response *resp = MHD_create_response_for_upgrade(scribe_ws_hub_upgrade, c->h->ws);
  if (!resp) return MHD_NO;
  MHD_add_response_header(resp, "Upgrade", "websocket");
  MHD_add_response_header(resp, "Sec-WebSocket-Accept", accept);
  c->r->bytes = 0;
  return scribe_http_reply(c, MHD_HTTP_SWITCHING_PROTOCOLS, resp);
}
