/*
 * http_internal.h - what the files of src/http share; not a public API.
 *
 *   http.c         daemon start/stop, routing, responses, CORS, static files
 *   http_routes.c  JSON routes (compatibility + /api/v1 + health)
 *   http_upload.c  the signed, streamed PUT /upload/{key}
 *   http_parts.c   the resumable upload: numbered parts, listing, completion
 *   http_util.c    pure helpers (JSON depth scan, Host check, WebSocket
 *                  accept key, ...), unit-tested directly
 *   ws.c           the WebSocket thread (wslay) and the event fan-out
 */
#ifndef SCRIBE_HTTP_INTERNAL_H
#define SCRIBE_HTTP_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "auth/auth.h"
#include "core/embed.h"
#include "http/http.h"
#include "http/http_cache.h"
#include "pipeline/app.h"

/* ---- limits that are not configuration keys ---------------------------- */
/* Per connection: bounds the request line + headers (431 past it) and the
 * read buffer.  MHD zeroes the whole pool after every request, so bigger
 * costs keep-alive throughput. */
#define SCRIBE_HTTP_MEMORY_LIMIT (32 * 1024)
#define SCRIBE_HTTP_PATIENT_ID_MAX 256
#define SCRIBE_HTTP_FILENAME_MAX 256
#define SCRIBE_HTTP_LIST_DEFAULT 50
#define SCRIBE_HTTP_LIST_MAX 1000
#define SCRIBE_HTTP_CURSOR_MAX 512
#define SCRIBE_HTTP_PART_MAX (16u * 1024 * 1024) /* one part of a resumable upload */
#define SCRIBE_HTTP_PARTS_MAX 1000               /* parts 0..999 per consultation */
#define SCRIBE_WS_MSG_MAX (64 * 1024)         /* larger client messages: close 1009 */
#define SCRIBE_WS_MAX_SUBS 100                /* subscriptions per connection */
#define SCRIBE_WS_OUT_MAX (16u * 1024 * 1024) /* queued output before a slow peer is dropped */
#define SCRIBE_WS_OUT_MSGS_MAX 4096             /* queued messages (pongs included), same */
#define SCRIBE_WS_EVENT_QUEUE_MAX 10000       /* events waiting for the WebSocket thread */
#define SCRIBE_WS_PING_MS 30000
#define SCRIBE_WS_IDLE_MS 75000
#define SCRIBE_WS_CLOSE_WAIT_MS 500           /* at stop: wait for close replies */

/* ---- routes --------------------------------------------------------------- */
typedef enum http_route {
  ROUTE_NONE = 0,      /* 404 */
  ROUTE_STATIC,        /* GET / and web files */
  ROUTE_HEALTHZ,
  ROUTE_READYZ,
  ROUTE_CONFIG,
  ROUTE_GET_UPLOAD_URL,
  ROUTE_UPLOAD,        /* PUT /upload/{key} */
  ROUTE_UPLOAD_COMPLETE,
  ROUTE_RESULT,        /* GET /result/{key} */
  ROUTE_WS,            /* /ws and /api/v1/events */
  ROUTE_CONSULTATIONS, /* /api/v1/consultations */
  ROUTE_CONSULTATION,  /* /api/v1/consultations/{id} */
  ROUTE_COMPLETE,      /* /api/v1/consultations/{id}/complete */
  ROUTE_PARTS,         /* GET /api/v1/consultations/{id}/parts */
  ROUTE_PART,          /* PUT /api/v1/consultations/{id}/parts/{n} */
  ROUTE_PARTS_COMPLETE, /* POST /api/v1/consultations/{id}/parts/complete */
  ROUTE_API_NONE,      /* unknown path under /api/ (JSON 404) */
  ROUTE_LOGIN,         /* POST /api/v1/login */
  ROUTE_LOGOUT,        /* POST /api/v1/logout */
  ROUTE_ME,            /* GET /api/v1/me */
  ROUTE_COUNT
} http_route;

/* Who may call a route (when auth is on; with auth off everything is
 * open, as bound to loopback only).  UNDECLARED is 0 so that a route
 * missing from the table is refused (500) and fails test_http_auth. */
typedef enum http_access {
  ACCESS_UNDECLARED = 0,
  ACCESS_PUBLIC, /* anyone: health, static files, login */
  ACCESS_SIGNED, /* the URL's signature is the capability (PUT /upload/{key}) */
  ACCESS_USER,   /* any signed-in user; {id}/{key} must be theirs (admins: any) */
  ACCESS_ADMIN,  /* admins only */
} http_access;

typedef struct http_route_info {
  const char *allow; /* Allow header; NULL = answers 404 to every method */
  http_access access;
  bool owned;        /* the {id}/{key} path parameter names a consultation */
} http_route_info;

/* The row of route (the one table every request goes through). */
const http_route_info *scribe_http_route_info(http_route route);

typedef enum http_body { BODY_DISCARD = 0, BODY_JSON, BODY_UPLOAD } http_body;

typedef struct scribe_ws_hub scribe_ws_hub;

struct scribe_http {
  scribe_app *app;
  const scribe_config *cfg;
  const scribe_embedded_file *web;
  struct MHD_Daemon *daemon;
  int port;
  char **cors;       /* allowed origins */
  size_t ncors;
  scribe_ws_hub *ws;
  scribe_http_cache *docs; /* serialized result documents by (key, version) */
  /* Serializes the commit of a part (data + checksum record) with the
   * completion of a resumable upload, so that neither sees the other half
   * done (http_parts.c). */
  pthread_mutex_t parts_lock;
  bool parts_lock_ready;
  /* access control (cfg->auth): NULL when auth is off */
  scribe_auth *auth;
  scribe_auth_throttle *throttle;
};

/* One request (MHD's con_cls); freed by the request-completed callback. */
typedef struct http_req {
  int64_t start_ms; /* monotonic */
  http_route route;
  char method[16];
  char path[160];   /* for the access log: no query string */
  char param[SCRIBE_STORAGE_KEY_MAX + 1]; /* {key}/{id} as decoded by MHD */
  bool param_too_long;
  char part[16];    /* {n} of /parts/{n}, as received (validated by the route) */
  unsigned status;  /* queued status (access log) */
  uint64_t bytes;   /* response body bytes (access log) */
  bool responded;
  /* body */
  http_body body;
  uint64_t received;
  uint64_t limit;
  scribe_buf json;
  scribe_storage_writer *writer;
  void *md5;        /* EVP_MD_CTX * of the upload (ETag) */
  void *sha256;     /* EVP_MD_CTX * of a part (resumable upload only) */
  unsigned part_no;
  bool want_md5, want_sha256; /* checksums sent by the client (Content-MD5, X-Checksum-SHA256) */
  unsigned char md5_expected[16];
  unsigned char sha256_expected[32];
  /* the caller, when auth is on and the route is not public */
  bool authed;
  bool via_cookie;
  scribe_auth_principal who;
  int64_t upload_owner; /* PUT /upload: the owner bound by the URL, 0 = none */
  /* error found while the body was arriving, sent once it is read */
  unsigned deferred_status;
  const char *deferred_code;
  const char *deferred_msg;
} http_req;

/* What a route handler gets. */
typedef struct http_call {
  scribe_http *h;
  struct MHD_Connection *conn;
  http_req *r;
  const char *method;
} http_call;

/* ---- responses (http.c) ---------------------------------------------------
 * Each adds the common headers (nosniff, Referrer-Policy, CORS) and queues
 * the response; they return MHD's result. */
enum MHD_Result scribe_http_reply(http_call *c, unsigned status, struct MHD_Response *resp);
/* A JSON response of body (stolen; NULL or unserializable gives NULL),
 * with Content-Type application/json and Cache-Control no-store; *len gets
 * the body size.  Add headers, then pass it to scribe_http_reply(). */
struct MHD_Response *scribe_http_json_response(json_t *body, uint64_t *len);
/* body is stolen; Content-Type application/json, Cache-Control no-store. */
enum MHD_Result scribe_http_reply_json(http_call *c, unsigned status, json_t *body);
/* {"error":{"code":code,"message":msg}} */
enum MHD_Result scribe_http_reply_error(http_call *c, unsigned status, const char *code,
                                        const char *msg);
/* Maps a SCRIBE_E* code to a status and an error body (500 says nothing
 * about internals; the code is logged). */
enum MHD_Result scribe_http_reply_rc(http_call *c, int rc);
/* Base URL of this server for absolute links: cfg->public_url, else
 * "http://" + the request's Host (validated).  ws=true gives ws(s)://.
 * The caller free()s *out.  SCRIBE_EINVAL for a missing or bad Host. */
int scribe_http_base_url(http_call *c, bool ws, char **out);
/* Request header / query argument (NULL when absent). */
const char *scribe_http_header(http_call *c, const char *name);
const char *scribe_http_arg(http_call *c, const char *name);

/* ---- access control (http_auth.c) ---------------------------------------- */
/* Authenticates and authorizes a request from its headers (first call):
 * true when it may go on; false after queuing 401/403/404/500 (*ret). */
bool scribe_http_gate(http_call *c, enum MHD_Result *ret);
/* The one ownership check: SCRIBE_OK when the caller may see consultation
 * key (auth off, an admin, or its owner), else SCRIBE_ENOTFOUND (answer
 * 404: existence does not leak). */
int scribe_http_authorize_key(http_call *c, const char *key);
/* Records the caller as the owner of a new consultation (no-op when auth
 * is off). */
int scribe_http_set_owner(http_call *c, const char *key);
/* Owner binding of a signed upload URL: appends "&owner=ID&osig=HMAC" to
 * *url (realloc'd) for our own /upload/ URLs when auth is on. */
int scribe_http_bind_owner(http_call *c, const char *key, char **url);
/* Checks the owner binding of PUT /upload/{key}: SCRIBE_OK (r->upload_owner
 * set) or SCRIBE_EFORBIDDEN.  SCRIBE_OK with no binding when auth is off. */
int scribe_http_check_owner_binding(http_call *c, const char *key);
enum MHD_Result scribe_http_route_login(http_call *c);
enum MHD_Result scribe_http_route_logout(http_call *c);
enum MHD_Result scribe_http_route_me(http_call *c);
/* True when host resolves to loopback addresses only (127/8, ::1). */
bool scribe_http_is_loopback(const char *host);

/* ---- route handlers (http_routes.c, http_upload.c) ---------------------- */
enum MHD_Result scribe_http_route_healthz(http_call *c);
enum MHD_Result scribe_http_route_readyz(http_call *c);
enum MHD_Result scribe_http_route_config(http_call *c);
enum MHD_Result scribe_http_route_get_upload_url(http_call *c);
enum MHD_Result scribe_http_route_upload_complete(http_call *c);
enum MHD_Result scribe_http_route_result(http_call *c);
enum MHD_Result scribe_http_route_create(http_call *c);
enum MHD_Result scribe_http_route_list(http_call *c);
enum MHD_Result scribe_http_route_get(http_call *c);
enum MHD_Result scribe_http_route_delete(http_call *c);
enum MHD_Result scribe_http_route_complete(http_call *c);
enum MHD_Result scribe_http_route_ws(http_call *c);

/* PUT /upload/{key}: first call (headers only).  Either queues an error
 * (403/411/413/...) at once, or prepares r to stream the body. */
enum MHD_Result scribe_http_upload_begin(http_call *c);
/* A piece of the body.  MHD_NO closes the connection (limit passed with
 * chunked encoding). */
enum MHD_Result scribe_http_upload_data(http_call *c, const char *data, size_t len);
/* Body complete: commit, enqueue, answer. */
enum MHD_Result scribe_http_upload_end(http_call *c);
/* Releases what an unfinished upload holds (client went away). */
void scribe_http_upload_cleanup(http_req *r);

/* PUT /api/v1/consultations/{id}/parts/{n} (http_parts.c): first call
 * (headers only), body pieces go through scribe_http_upload_data(), body
 * complete (verify checksums, commit the part and its checksum record). */
enum MHD_Result scribe_http_part_begin(http_call *c);
enum MHD_Result scribe_http_part_end(http_call *c);
/* GET /api/v1/consultations/{id}/parts and POST .../parts/complete. */
enum MHD_Result scribe_http_route_parts(http_call *c);
enum MHD_Result scribe_http_route_parts_complete(http_call *c);
/* Removes every part of consultation `key` (and their checksum records);
 * missing ones are fine.  Used by DELETE and after completion. */
void scribe_http_parts_remove(scribe_http *h, const char *key, unsigned from);

/* ---- pure helpers (http_util.c) ----------------------------------------- */
/* Deepest nesting of [ and { outside strings in the JSON text; stops
 * scanning as soon as the depth exceeds limit (then returns limit + 1). */
int scribe_http_json_depth(const char *text, size_t len, int limit);
/* Parses a JSON text of at most max_depth nesting levels.  NULL on error
 * with *why = "invalid_json" or "too_deep". */
json_t *scribe_http_json_parse(const char *text, size_t len, int max_depth, const char **why);
/* A Host header value of [A-Za-z0-9.-] (or a bracketed IPv6 literal) with
 * an optional :port, 1..255 bytes. */
bool scribe_http_host_valid(const char *host);
/* A Sec-WebSocket-Key: 24 base64 characters decoding to 16 bytes. */
bool scribe_http_ws_key_valid(const char *key);
/* Sec-WebSocket-Accept for key: base64(SHA-1(key GUID)) + NUL. */
int scribe_http_ws_accept(const char *key, char out[29]);
/* True when a comma-separated header value holds token (case-insensitive). */
bool scribe_http_has_token(const char *value, const char *token);
/* True for application/json (parameters allowed, case-insensitive). */
bool scribe_http_is_json_type(const char *content_type);
/* Decimal digits only, no sign, no overflow. */
bool scribe_http_parse_u64(const char *s, uint64_t *out);
/* A part number: decimal, no sign, no leading zero, below max. */
bool scribe_http_parse_part(const char *s, unsigned max, unsigned *out);
/* Lower-case hex of n bytes into out (2n + 1 bytes). */
void scribe_http_hex(const unsigned char *p, size_t n, char *out);
/* Decodes a checksum header value into want (n bytes): 2n hex digits
 * (either case) or standard base64 with padding.  False when malformed. */
bool scribe_http_parse_digest(const char *value, unsigned char *want, size_t n);
/* Content-Type for a file name, by extension. */
const char *scribe_http_mime_type(const char *path);
/* Splits a comma-separated origin list (spaces and trailing '/' trimmed).
 * *out is an array of *n strings; free with scribe_http_origins_free(). */
int scribe_http_origins_parse(const char *list, char ***out, size_t *n);
void scribe_http_origins_free(char **list, size_t n);
/* True when origin exactly equals one of the list. */
bool scribe_http_origin_listed(char *const *list, size_t n, const char *origin);

/* ---- WebSocket hub (ws.c) ------------------------------------------------ */
/* Starts the WebSocket thread and subscribes to app->notify. */
/* auth: owners of consultations when auth is on (subscriptions of
 * clinicians are limited to their own), else NULL. */
scribe_ws_hub *scribe_ws_hub_create(scribe_app *app, scribe_auth *auth, int max_conns,
                                    int max_json_depth,
                                    char *err, size_t errlen);
/* True when no more connections are accepted (full or stopping). */
bool scribe_ws_hub_full(scribe_ws_hub *hub);
/* MHD upgrade handler (cls = the hub): takes over the socket. */
void scribe_ws_hub_upgrade(void *cls, struct MHD_Connection *connection, void *con_cls,
                           const char *extra_in, size_t extra_in_size, MHD_socket sock,
                           struct MHD_UpgradeResponseHandle *urh);
/* Unsubscribes from notify, closes every connection with 1001 (waiting a
 * moment for the close replies) and joins the thread.  Connections handed
 * over later are closed at once.  Call before MHD_stop_daemon(). */
void scribe_ws_hub_stop(scribe_ws_hub *hub);
void scribe_ws_hub_free(scribe_ws_hub *hub); /* NULL is fine; stops first */

#endif
