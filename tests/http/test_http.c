/*
 * Integration tests of the HTTP + WebSocket front: a real server on
 * 127.0.0.1:<ephemeral> over real backends (scribe_app_open on a temporary
 * data_dir), driven with libcurl, raw sockets and a tiny WebSocket client.
 * No worker runs: jobs stay in the queue.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "http/http.h"
#include "pipeline/app.h"

/* ---------------------------------------------------------------------- */
/* Fixture                                                                 */

typedef struct server {
  scribe_config cfg;
  scribe_app app;
  scribe_http *http;
  int port;
  char dir[512];
} server;

static server S;

static const unsigned char index_html[] = "<!doctype html><title>Scribe test</title>";
static const unsigned char app_js[] = "console.log('scribe');";
static const unsigned char hidden[] = "secret";
static const scribe_embedded_file web[] = {
    {"index.html", index_html, sizeof(index_html) - 1},
    {"app.js", app_js, sizeof(app_js) - 1},
    {".env", hidden, sizeof(hidden) - 1},
    {NULL, NULL, 0},
};

static int server_open_with(server *s, const char *name, const char *max_connections) {
  const char *tmp = getenv("SCRIBE_TEST_TMP");
  if (!tmp) tmp = "/tmp";
  snprintf(s->dir, sizeof(s->dir), "%s/http-%s-XXXXXX", tmp, name);
  if (!mkdtemp(s->dir)) return -1;
  char err[512];
  scribe_config_init(&s->cfg);
  struct {
    const char *k, *v;
  } sets[] = {
      {"data_dir", s->dir},  {"host", "127.0.0.1"}, {"port", "0"},
      {"workers", "0"},      {"cors_origins", "http://allowed.example, https://two.example"},
      {"max_json_bytes", "65536"}, {"max_connections", max_connections},
  };
  for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
    if (scribe_config_set(&s->cfg, sets[i].k, sets[i].v, "test", err, sizeof(err))) {
      fprintf(stderr, "config: %s\n", err);
      return -1;
    }
  if (scribe_app_open(&s->app, &s->cfg, err, sizeof(err))) {
    fprintf(stderr, "app: %s\n", err);
    return -1;
  }
  s->http = scribe_http_start(&s->app, web, err, sizeof(err));
  if (!s->http) {
    fprintf(stderr, "http: %s\n", err);
    return -1;
  }
  s->port = scribe_http_port(s->http);
  return s->port > 0 ? 0 : -1;
}

static int server_open(server *s, const char *name) { return server_open_with(s, name, "512"); }

static void server_close(server *s) {
  scribe_http_stop(s->http);
  s->http = NULL;
  scribe_app_close(&s->app);
  scribe_config_release(&s->cfg);
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
  if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", s->dir);
}

static int group_setup(void **state) {
  scribe_log_set_level(getenv("SCRIBE_TEST_QUIET") ? SCRIBE_LOG_WARN : SCRIBE_LOG_DEBUG);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  return server_open(&S, "main");
}

static int group_teardown(void **state) {
  server_close(&S);
  curl_global_cleanup();
  return 0;
}

/* ---------------------------------------------------------------------- */
/* HTTP client (libcurl)                                                   */

typedef struct resp {
  long status;
  char *body;
  size_t len;
  char headers[16384];
  size_t hlen;
  CURLcode cc;
} resp;

static size_t on_body(char *p, size_t sz, size_t n, void *u) {
  resp *r = u;
  size_t add = sz * n;
  char *nb = realloc(r->body, r->len + add + 1);
  if (!nb) return 0;
  memcpy(nb + r->len, p, add);
  r->body = nb;
  r->len += add;
  r->body[r->len] = '\0';
  return add;
}

static size_t on_header(char *p, size_t sz, size_t n, void *u) {
  resp *r = u;
  size_t add = sz * n;
  if (r->hlen + add < sizeof(r->headers)) {
    memcpy(r->headers + r->hlen, p, add);
    r->hlen += add;
    r->headers[r->hlen] = '\0';
  }
  return add;
}

static void resp_free(resp *r) {
  free(r->body);
  memset(r, 0, sizeof(*r));
}

/* Header value (first match, case-insensitive name) into buf; NULL if absent. */
static const char *hdr(const resp *r, const char *name, char *buf, size_t n) {
  size_t nl = strlen(name);
  const char *p = r->headers;
  while (p && *p) {
    const char *eol = strstr(p, "\r\n");
    if (!eol) break;
    if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
      const char *v = p + nl + 1;
      while (*v == ' ') v++;
      size_t vl = (size_t)(eol - v);
      if (vl >= n) vl = n - 1;
      memcpy(buf, v, vl);
      buf[vl] = '\0';
      return buf;
    }
    p = eol + 2;
  }
  return NULL;
}

/* method path-or-URL [body] [headers NULL-terminated] */
static resp request(const char *method, const char *path, const char *body, size_t blen,
                    const char *const *headers) {
  resp r;
  memset(&r, 0, sizeof(r));
  char url[4096];
  if (strncmp(path, "http", 4) == 0)
    snprintf(url, sizeof(url), "%s", path);
  else
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", S.port, path);
  CURL *c = curl_easy_init();
  struct curl_slist *hl = NULL;
  for (size_t i = 0; headers && headers[i]; i++) hl = curl_slist_append(hl, headers[i]);
  hl = curl_slist_append(hl, "Expect:");
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  if (strcmp(method, "HEAD") == 0) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
  r.cc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(hl);
  curl_easy_cleanup(c);
  return r;
}

static resp get(const char *path) { return request("GET", path, NULL, 0, NULL); }

static resp post_json(const char *path, const char *json) {
  const char *h[] = {"Content-Type: application/json", NULL};
  return request("POST", path, json, json ? strlen(json) : 0, h);
}

static json_t *body_json(const resp *r) {
  if (!r->body) return NULL;
  return json_loadb(r->body, r->len, 0, NULL);
}

static const char *jstr(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

/* Asserts {"error":{"code":code,...}} */
static void assert_error(const resp *r, long status, const char *code) {
  if (r->status != status) fprintf(stderr, "status %ld body %s\n", r->status, r->body);
  assert_int_equal(r->status, status);
  json_t *j = body_json(r);
  assert_non_null(j);
  json_t *e = json_object_get(j, "error");
  assert_true(json_is_object(e));
  assert_string_equal(jstr(e, "code"), code);
  assert_true(json_is_string(json_object_get(e, "message")));
  json_decref(j);
}

/* GET /get-upload-url -> key + upload URL (caller frees *url). */
static void new_upload(char key[SCRIBE_KEY_LEN + 1], char **url) {
  resp r = get("/get-upload-url");
  assert_int_equal(r.status, 200);
  json_t *j = body_json(&r);
  assert_non_null(j);
  snprintf(key, SCRIBE_KEY_LEN + 1, "%s", jstr(j, "key"));
  *url = strdup(jstr(j, "upload_url"));
  json_decref(j);
  resp_free(&r);
}

static resp put_bytes(const char *url, const void *data, size_t len) {
  const char *h[] = {"Content-Type: audio/webm", NULL};
  return request("PUT", url, data, len, h);
}

static int64_t ready_jobs(void) {
  scribe_queue_stats st;
  assert_int_equal(scribe_queue_stats_get(S.app.queue, &st), SCRIBE_OK);
  return st.ready;
}

static bool object_exists(const char *key) {
  char obj[600];
  snprintf(obj, sizeof(obj), "audio/%s", key);
  uint64_t size = 0;
  return scribe_storage_stat(S.app.storage, obj, &size) == SCRIBE_OK;
}

static char *signed_path(const char *key, int64_t expires, int64_t max) {
  char sig[65];
  assert_int_equal(scribe_app_sign_upload(&S.app, key, expires, max, sig), SCRIBE_OK);
  char *p = malloc(1024);
  snprintf(p, 1024, "/upload/%s?expires=%lld&max=%lld&sig=%s", key, (long long)expires,
           (long long)max, sig);
  return p;
}

/* ---------------------------------------------------------------------- */
/* Raw sockets                                                             */

/* Connects to the server from source address src (NULL: any). */
static int tcp_connect_from(const char *src) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  if (src) {
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    inet_pton(AF_INET, src, &a.sin_addr);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
      close(fd);
      return -1;
    }
  }
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)S.port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

static int tcp_connect(void) { return tcp_connect_from(NULL); }

static bool write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    c += w;
    n -= (size_t)w;
  }
  return true;
}

/* Reads exactly n bytes: 0, -1 on EOF/error, -2 on timeout. */
static int read_exact(int fd, void *buf, size_t n, int timeout_ms) {
  char *p = buf;
  while (n) {
    struct pollfd pfd = {fd, POLLIN, 0};
    int pr = poll(&pfd, 1, timeout_ms);
    if (pr == 0) return -2;
    if (pr < 0) return -1;
    ssize_t r = recv(fd, p, n, 0);
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

/* Sends req, reads until the server closes (or timeout); returns the text. */
static char *raw_exchange(const char *req, size_t len, int timeout_ms) {
  int fd = tcp_connect();
  assert_true(fd >= 0);
  write_all(fd, req, len);
  size_t cap = 65536, used = 0;
  char *out = calloc(1, cap + 1);
  for (;;) {
    struct pollfd pfd = {fd, POLLIN, 0};
    if (poll(&pfd, 1, timeout_ms) <= 0) break;
    ssize_t r = recv(fd, out + used, cap - used, 0);
    if (r <= 0) break;
    used += (size_t)r;
    if (used == cap) break;
  }
  out[used] = '\0';
  close(fd);
  return out;
}

static int raw_status(const char *text) {
  int st = 0;
  if (sscanf(text, "HTTP/1.%*d %d", &st) != 1) return 0;
  return st;
}

/* ---------------------------------------------------------------------- */
/* A tiny WebSocket client                                                 */

#define WS_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define WS_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

/* Opens path (from source address src, NULL: any); returns the socket
 * after a 101, else -1 with *status set. */
static int ws_open_from(const char *src, const char *path, const char *extra, int *status) {
  int fd = tcp_connect_from(src);
  assert_true(fd >= 0);
  char req[1024];
  int n = snprintf(req, sizeof(req),
                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: " WS_KEY
                   "\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
                   path, S.port, extra ? extra : "");
  assert_true(write_all(fd, req, (size_t)n));
  char head[4096];
  size_t used = 0;
  while (used < sizeof(head) - 1) { /* byte by byte: leave frames unread */
    if (read_exact(fd, head + used, 1, 5000) != 0) break;
    used++;
    if (used >= 4 && memcmp(head + used - 4, "\r\n\r\n", 4) == 0) break;
  }
  head[used] = '\0';
  *status = raw_status(head);
  if (*status != 101) {
    close(fd);
    return -1;
  }
  assert_non_null(strstr(head, "Sec-WebSocket-Accept: " WS_ACCEPT));
  assert_non_null(strcasestr(head, "Upgrade: websocket"));
  return fd;
}

static int ws_open(const char *path, const char *extra, int *status) {
  return ws_open_from(NULL, path, extra, status);
}

static void ws_send(int fd, uint8_t b0, const void *data, size_t len, bool mask) {
  uint8_t h[14];
  size_t hl = 0;
  h[hl++] = b0;
  uint8_t m = mask ? 0x80 : 0;
  if (len < 126) {
    h[hl++] = m | (uint8_t)len;
  } else if (len < 65536) {
    h[hl++] = m | 126;
    h[hl++] = (uint8_t)(len >> 8);
    h[hl++] = (uint8_t)len;
  } else {
    h[hl++] = m | 127;
    for (int i = 7; i >= 0; i--) h[hl++] = (uint8_t)((uint64_t)len >> (8 * i));
  }
  uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
  if (mask) {
    memcpy(h + hl, key, 4);
    hl += 4;
  }
  uint8_t *frame = malloc(hl + len);
  memcpy(frame, h, hl);
  const uint8_t *d = data;
  for (size_t i = 0; i < len; i++) frame[hl + i] = mask ? d[i] ^ key[i % 4] : d[i];
  write_all(fd, frame, hl + len);
  free(frame);
}

static void ws_send_text(int fd, const char *text) {
  ws_send(fd, 0x81, text, strlen(text), true);
}

/* Reads one frame: 0 with opcode/payload (caller frees), -1 EOF, -2 timeout. */
static int ws_read(int fd, int *opcode, char **payload, size_t *len, int timeout_ms) {
  uint8_t h[2];
  int rc = read_exact(fd, h, 2, timeout_ms);
  if (rc) return rc;
  *opcode = h[0] & 0x0f;
  uint64_t n = h[1] & 0x7f;
  assert_false(h[1] & 0x80); /* server frames are not masked */
  if (n == 126) {
    uint8_t e[2];
    if (read_exact(fd, e, 2, timeout_ms)) return -1;
    n = ((uint64_t)e[0] << 8) | e[1];
  } else if (n == 127) {
    uint8_t e[8];
    if (read_exact(fd, e, 8, timeout_ms)) return -1;
    n = 0;
    for (int i = 0; i < 8; i++) n = (n << 8) | e[i];
  }
  assert_true(n < (64u << 20));
  char *p = malloc(n + 1);
  if (n && read_exact(fd, p, n, timeout_ms)) {
    free(p);
    return -1;
  }
  p[n] = '\0';
  *payload = p;
  *len = n;
  return 0;
}

/* Next text message as JSON (pings skipped); NULL on close/EOF/timeout. */
static json_t *ws_json(int fd, int timeout_ms) {
  for (;;) {
    int op;
    char *p = NULL;
    size_t n;
    if (ws_read(fd, &op, &p, &n, timeout_ms)) return NULL;
    if (op == 1) {
      json_t *j = json_loadb(p, n, 0, NULL);
      free(p);
      return j;
    }
    free(p);
    if (op == 8) return NULL;
  }
}

/* Waits for a close frame; returns its code, 0 for EOF, -2 for timeout. */
static int ws_close_code(int fd, int timeout_ms) {
  for (;;) {
    int op;
    char *p = NULL;
    size_t n;
    int rc = ws_read(fd, &op, &p, &n, timeout_ms);
    if (rc == -1) return 0;
    if (rc == -2) return -2;
    if (op == 8) {
      int code = n >= 2 ? (((uint8_t)p[0] << 8) | (uint8_t)p[1]) : 1005;
      free(p);
      return code;
    }
    free(p);
  }
}

static void assert_type(json_t *j, const char *type) {
  assert_non_null(j);
  if (!jstr(j, "type") || strcmp(jstr(j, "type"), type) != 0) {
    char *t = json_dumps(j, 0);
    fprintf(stderr, "expected %s, got %s\n", type, t);
    free(t);
  }
  assert_string_equal(jstr(j, "type"), type);
}

static void assert_still_serving(void) {
  resp r = get("/healthz");
  assert_int_equal(r.status, 200);
  resp_free(&r);
}

/* ---------------------------------------------------------------------- */
/* Tests: basics                                                           */

static void test_health(void **state) {
  resp r = get("/healthz");
  assert_int_equal(r.cc, CURLE_OK);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "{\"status\":\"ok\"}");
  char b[256];
  assert_string_equal(hdr(&r, "Content-Type", b, sizeof b), "application/json");
  assert_string_equal(hdr(&r, "X-Content-Type-Options", b, sizeof b), "nosniff");
  assert_string_equal(hdr(&r, "Referrer-Policy", b, sizeof b), "no-referrer");
  resp_free(&r);

  r = get("/readyz");
  assert_int_equal(r.status, 200);
  json_t *j = body_json(&r);
  assert_string_equal(jstr(j, "status"), "ready");
  json_decref(j);
  resp_free(&r);

  r = request("HEAD", "/healthz", NULL, 0, NULL);
  assert_int_equal(r.status, 200);
  resp_free(&r);
}

static void test_static(void **state) {
  char b[512];
  resp r = get("/");
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, (const char *)index_html);
  assert_string_equal(hdr(&r, "Content-Type", b, sizeof b), "text/html; charset=utf-8");
  assert_string_equal(hdr(&r, "Cache-Control", b, sizeof b), "no-cache");
  assert_non_null(hdr(&r, "Content-Security-Policy", b, sizeof b));
  assert_non_null(strstr(b, "default-src 'self'"));
  assert_non_null(strstr(b, "connect-src 'self' ws: wss:"));
  assert_non_null(strstr(b, "media-src 'self' blob:"));
  assert_non_null(strstr(b, "frame-ancestors 'none'"));
  assert_string_equal(hdr(&r, "X-Content-Type-Options", b, sizeof b), "nosniff");
  char etag[64];
  assert_non_null(hdr(&r, "ETag", etag, sizeof etag));
  resp_free(&r);

  char inm[100];
  snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
  const char *h[] = {inm, NULL};
  r = request("GET", "/index.html", NULL, 0, h);
  assert_int_equal(r.status, 304);
  resp_free(&r);

  r = get("/app.js");
  assert_int_equal(r.status, 200);
  assert_string_equal(hdr(&r, "Content-Type", b, sizeof b), "text/javascript; charset=utf-8");
  assert_null(hdr(&r, "Content-Security-Policy", b, sizeof b));
  resp_free(&r);

  r = get("/.env"); /* hidden files are never served */
  assert_error(&r, 404, "not_found");
  resp_free(&r);
  r = get("/nope.html");
  assert_error(&r, 404, "not_found");
  resp_free(&r);
  r = get("/../../etc/passwd");
  assert_int_equal(r.status, 404);
  resp_free(&r);
  r = get("/api/v1/nothing");
  assert_error(&r, 404, "not_found");
  resp_free(&r);
  r = request("POST", "/", "x", 1, NULL);
  assert_error(&r, 405, "method_not_allowed");
  resp_free(&r);
}

static void test_method_not_allowed(void **state) {
  char b[256];
  resp r = request("DELETE", "/healthz", NULL, 0, NULL);
  assert_error(&r, 405, "method_not_allowed");
  assert_non_null(hdr(&r, "Allow", b, sizeof b));
  assert_non_null(strstr(b, "GET"));
  resp_free(&r);
  r = request("GET", "/upload-complete", NULL, 0, NULL);
  assert_error(&r, 405, "method_not_allowed");
  assert_string_equal(hdr(&r, "Allow", b, sizeof b), "POST, OPTIONS");
  resp_free(&r);
  r = request("POST", "/get-upload-url", "{}", 2, NULL);
  assert_error(&r, 405, "method_not_allowed");
  resp_free(&r);
  r = request("PUT", "/api/v1/consultations", "{}", 2, NULL);
  assert_error(&r, 405, "method_not_allowed");
  resp_free(&r);
}

/* ---------------------------------------------------------------------- */
/* Compatibility routes                                                    */

static void test_get_upload_url(void **state) {
  resp r = get("/get-upload-url?patientId=P-123");
  assert_int_equal(r.status, 200);
  json_t *j = body_json(&r);
  assert_non_null(j);
  assert_int_equal(json_object_size(j), 2);
  const char *key = jstr(j, "key");
  const char *url = jstr(j, "upload_url");
  assert_non_null(key);
  assert_non_null(url);
  assert_true(scribe_app_key_valid(key));
  char prefix[128];
  snprintf(prefix, sizeof prefix, "http://127.0.0.1:%d/upload/%s?expires=", S.port, key);
  assert_true(strncmp(url, prefix, strlen(prefix)) == 0);
  assert_non_null(strstr(url, "&max="));
  assert_non_null(strstr(url, "&sig="));
  json_t *doc = NULL;
  assert_int_equal(scribe_results_get(S.app.results, key, &doc), SCRIBE_OK);
  assert_string_equal(jstr(doc, "status"), "uploaded");
  assert_string_equal(jstr(doc, "patient_id"), "P-123");
  json_decref(doc);
  json_decref(j);
  resp_free(&r);

  /* a hostile Host header never makes it into a URL */
  const char *h[] = {"Host: evil.example/x?", NULL};
  r = request("GET", "/get-upload-url", NULL, 0, h);
  assert_error(&r, 400, "bad_host");
  resp_free(&r);
  const char *h2[] = {"Host: scribe.example:9000", NULL};
  r = request("GET", "/config", NULL, 0, h2);
  assert_int_equal(r.status, 200);
  j = body_json(&r);
  assert_int_equal(json_object_size(j), 1);
  assert_string_equal(jstr(j, "websocketUrl"), "ws://scribe.example:9000/ws");
  json_decref(j);
  resp_free(&r);

  /* a bad patient id */
  r = get("/get-upload-url?patientId=%01x");
  assert_error(&r, 400, "invalid_patient_id");
  resp_free(&r);
}

static void test_signed_put_enqueues(void **state) {
  char key[SCRIBE_KEY_LEN + 1], *url = NULL;
  new_upload(key, &url);
  int64_t before = ready_jobs();
  static const char audio[] = "RIFF....WAVEfmt fake audio bytes";
  resp r = put_bytes(url, audio, sizeof(audio) - 1);
  assert_int_equal(r.status, 200);
  json_t *j = body_json(&r);
  assert_string_equal(jstr(j, "status"), "uploaded");
  assert_string_equal(jstr(j, "key"), key);
  json_decref(j);
  char b[128];
  assert_non_null(hdr(&r, "ETag", b, sizeof b));
  assert_int_equal(strlen(b), 34); /* "md5" */
  resp_free(&r);
  assert_int_equal(ready_jobs(), before + 1);

  /* the stored object is the body, byte for byte */
  char obj[64];
  snprintf(obj, sizeof obj, "audio/%s", key);
  scribe_storage_reader *rd = NULL;
  uint64_t size = 0;
  assert_int_equal(scribe_storage_open(S.app.storage, obj, &rd, &size), SCRIBE_OK);
  assert_int_equal(size, sizeof(audio) - 1);
  char got[64];
  assert_int_equal(scribe_storage_read(rd, got, sizeof got), (long)(sizeof(audio) - 1));
  assert_memory_equal(got, audio, sizeof(audio) - 1);
  scribe_storage_close(rd);

  /* the old client polls: not ready yet */
  char path[128];
  snprintf(path, sizeof path, "/result/%s", key);
  r = get(path);
  assert_int_equal(r.status, 404);
  assert_string_equal(r.body, "{\"status\":\"processing\"}");
  resp_free(&r);

  /* upload-complete after an upload: 200, idempotent, still one job */
  char body[128];
  snprintf(body, sizeof body, "{\"key\":\"%s\"}", key);
  for (int i = 0; i < 3; i++) {
    r = post_json("/upload-complete", body);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"processing triggered\"}");
    resp_free(&r);
  }
  assert_int_equal(ready_jobs(), before + 1);
  free(url);
}

static void test_put_rejections(void **state) {
  char key[SCRIBE_KEY_LEN + 1], *url = NULL;
  new_upload(key, &url);
  int64_t before = ready_jobs();

  /* tampered signature */
  char *bad = strdup(url);
  char *sig = strstr(bad, "sig=") + 4;
  sig[0] = sig[0] == 'a' ? 'b' : 'a';
  resp r = put_bytes(bad, "abc", 3);
  assert_error(&r, 403, "forbidden");
  resp_free(&r);
  /* tampered size limit */
  free(bad);
  bad = strdup(url);
  char *max = strstr(bad, "&max=") + 5;
  max[0] = max[0] == '9' ? '8' : '9';
  r = put_bytes(bad, "abc", 3);
  assert_error(&r, 403, "forbidden");
  resp_free(&r);
  free(bad);
  /* signed for another key */
  char other[SCRIBE_KEY_LEN + 1];
  scribe_app_new_key(other);
  bad = strdup(url);
  memcpy(strstr(bad, "/upload/") + 8, other, SCRIBE_KEY_LEN);
  r = put_bytes(bad, "abc", 3);
  assert_error(&r, 403, "forbidden");
  resp_free(&r);
  free(bad);
  /* no signature at all */
  char path[256];
  snprintf(path, sizeof path, "/upload/%s", key);
  r = put_bytes(path, "abc", 3);
  assert_error(&r, 403, "forbidden");
  resp_free(&r);

  /* expired */
  char *p = signed_path(key, scribe_now_ms() / 1000 - 10, 1000);
  r = put_bytes(p, "abc", 3);
  assert_error(&r, 403, "expired");
  resp_free(&r);
  free(p);

  /* larger than the signed limit: 413 before the body is read */
  p = signed_path(key, scribe_now_ms() / 1000 + 60, 10);
  char big[100];
  memset(big, 'x', sizeof big);
  r = put_bytes(p, big, sizeof big);
  assert_error(&r, 413, "too_large");
  resp_free(&r);
  free(p);
  p = signed_path(key, scribe_now_ms() / 1000 + 60, 100);
  /* larger than upload_max_bytes even though the signature allows more */
  int64_t saved = S.cfg.upload_max_bytes;
  S.cfg.upload_max_bytes = 50;
  r = put_bytes(p, big, sizeof big);
  assert_error(&r, 413, "too_large");
  resp_free(&r);
  S.cfg.upload_max_bytes = saved;
  /* a huge declared length is refused without reading anything */
  char req[1024];
  int n = snprintf(req, sizeof req,
                   "PUT %s HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n", p);
  char *out = raw_exchange(req, (size_t)n, 3000);
  assert_int_equal(raw_status(out), 413);
  free(out);
  /* no Content-Length, not chunked */
  n = snprintf(req, sizeof req, "PUT %s HTTP/1.1\r\nHost: x\r\n\r\n", p);
  out = raw_exchange(req, (size_t)n, 3000);
  assert_int_equal(raw_status(out), 411);
  free(out);
  assert_false(object_exists(key));
  assert_int_equal(ready_jobs(), before);

  r = put_bytes(p, big, sizeof big); /* exactly at the signed limit */
  assert_int_equal(r.status, 200);
  resp_free(&r);
  assert_true(object_exists(key));
  assert_int_equal(ready_jobs(), before + 1);
  free(p);
  free(url);
}

static void test_put_chunked_over_limit(void **state) {
  char key[SCRIBE_KEY_LEN + 1], *url = NULL;
  new_upload(key, &url);
  free(url);
  char *p = signed_path(key, scribe_now_ms() / 1000 + 60, 64);
  char req[2048];
  int n = snprintf(req, sizeof req,
                   "PUT %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "20\r\n%032d\r\n20\r\n%032d\r\n20\r\n%032d\r\n0\r\n\r\n",
                   p, 0, 0, 0);
  char *out = raw_exchange(req, (size_t)n, 3000);
  assert_int_not_equal(raw_status(out), 200); /* closed without an answer */
  free(out);
  assert_false(object_exists(key));

  /* the same within the limit streams fine */
  n = snprintf(req, sizeof req,
               "PUT %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
               "Transfer-Encoding: chunked\r\n\r\n20\r\n%032d\r\n20\r\n%032d\r\n0\r\n\r\n",
               p, 0, 0);
  out = raw_exchange(req, (size_t)n, 3000);
  assert_int_equal(raw_status(out), 200);
  free(out);
  assert_true(object_exists(key));
  free(p);
}

static void test_traversal(void **state) {
  int64_t exp = scribe_now_ms() / 1000 + 60;
  const char *keys[] = {"..%2Fescape", "..%2F..%2Fescape", "%2E%2E%2Fescape", "a%2Fb",
                        "..", "%2Fescape"};
  for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
    char path[512];
    snprintf(path, sizeof path, "/upload/%s?expires=%lld&max=100&sig=%064d", keys[i],
             (long long)exp, 0);
    resp r = put_bytes(path, "evil", 4);
    assert_true(r.status == 400 || r.status == 403 || r.status == 404);
    resp_free(&r);
  }
  /* even with a valid signature for the decoded key */
  char *p = signed_path("../escape", exp, 100);
  char *enc = malloc(strlen(p) + 16);
  snprintf(enc, strlen(p) + 16, "/upload/..%%2Fescape%s", strchr(p, '?'));
  resp r = put_bytes(enc, "evil", 4);
  assert_error(&r, 400, "invalid_key");
  resp_free(&r);
  free(enc);
  free(p);
  char path[1024];
  struct stat st;
  snprintf(path, sizeof path, "%s/escape", S.dir);
  assert_int_not_equal(stat(path, &st), 0);
  snprintf(path, sizeof path, "%s/objects/escape", S.dir);
  assert_int_not_equal(stat(path, &st), 0);
  snprintf(path, sizeof path, "%s/../escape", S.dir);
  assert_int_not_equal(stat(path, &st), 0);

  r = get("/result/..%2F..%2Fetc%2Fpasswd");
  assert_error(&r, 400, "invalid_key");
  resp_free(&r);
  r = get("/api/v1/consultations/..%2Fx");
  assert_error(&r, 400, "invalid_key");
  resp_free(&r);
  r = post_json("/upload-complete", "{\"key\":\"../../x\"}");
  assert_error(&r, 400, "invalid_key");
  resp_free(&r);
}

static void test_upload_complete(void **state) {
  resp r = post_json("/upload-complete", "{}");
  assert_error(&r, 400, "missing_field");
  resp_free(&r);
  r = post_json("/upload-complete", "{\"key\":42}");
  assert_error(&r, 400, "missing_field");
  resp_free(&r);
  r = post_json("/upload-complete", NULL);
  assert_error(&r, 400, "missing_body");
  resp_free(&r);
  r = post_json("/upload-complete", "{\"key\":\"0123456789abcdef0123456789abcdef\"}");
  assert_error(&r, 404, "not_found");
  resp_free(&r);

  /* record without audio: 404 too */
  char key[SCRIBE_KEY_LEN + 1], *url = NULL;
  new_upload(key, &url);
  free(url);
  char body[128];
  snprintf(body, sizeof body, "{\"key\":\"%s\"}", key);
  r = post_json("/upload-complete", body);
  assert_error(&r, 404, "not_found");
  resp_free(&r);

  /* audio stored by other means: upload-complete queues it, once */
  char obj[64];
  snprintf(obj, sizeof obj, "audio/%s", key);
  scribe_storage_writer *w = NULL;
  assert_int_equal(scribe_storage_put_begin(S.app.storage, obj, &w), SCRIBE_OK);
  assert_int_equal(scribe_storage_write(w, "data", 4), SCRIBE_OK);
  assert_int_equal(scribe_storage_commit(w), SCRIBE_OK);
  int64_t before = ready_jobs();
  for (int i = 0; i < 3; i++) {
    r = post_json("/upload-complete", body);
    assert_int_equal(r.status, 200);
    json_t *j = body_json(&r);
    assert_int_equal(json_object_size(j), 1);
    assert_string_equal(jstr(j, "status"), "processing triggered");
    json_decref(j);
    resp_free(&r);
  }
  assert_int_equal(ready_jobs(), before + 1);
}

static void test_json_limits(void **state) {
  resp r = post_json("/upload-complete", "{\"key\":");
  assert_error(&r, 400, "invalid_json");
  resp_free(&r);
  r = post_json("/upload-complete", "[\"key\"]");
  assert_error(&r, 400, "invalid_json");
  resp_free(&r);
  r = post_json("/upload-complete", "\xff\xfe{}");
  assert_error(&r, 400, "invalid_json");
  resp_free(&r);

  /* 10000 levels */
  size_t n = 20000;
  char *deep = malloc(n + 1);
  memset(deep, '[', n / 2);
  memset(deep + n / 2, ']', n / 2);
  deep[n] = '\0';
  r = post_json("/upload-complete", deep);
  assert_error(&r, 400, "too_deep");
  resp_free(&r);
  memset(deep, '{', n / 2); /* unterminated objects: still refused by depth */
  deep[n / 2] = '\0';
  r = post_json("/api/v1/consultations", deep);
  assert_error(&r, 400, "too_deep");
  resp_free(&r);
  free(deep);

  /* over max_json_bytes (64 KiB here) */
  size_t big = 70000;
  char *huge = malloc(big + 1);
  memset(huge, ' ', big);
  huge[0] = '{';
  huge[big - 1] = '}';
  huge[big] = '\0';
  r = post_json("/upload-complete", huge);
  assert_error(&r, 413, "too_large");
  resp_free(&r);
  free(huge);

  /* wrong content type */
  const char *h[] = {"Content-Type: text/plain", NULL};
  r = request("POST", "/upload-complete", "{\"key\":\"x\"}", 11, h);
  assert_error(&r, 415, "unsupported_media_type");
  resp_free(&r);
  const char *h2[] = {"Content-Type: application/x-www-form-urlencoded", NULL};
  r = request("POST", "/api/v1/consultations", "a=b", 3, h2);
  assert_error(&r, 415, "unsupported_media_type");
  resp_free(&r);
  assert_still_serving();
}

static void test_result(void **state) {
  resp r = get("/result/0123456789abcdef0123456789abcdef");
  assert_int_equal(r.status, 404);
  assert_string_equal(r.body, "{\"status\":\"processing\"}");
  resp_free(&r);

  char key[SCRIBE_KEY_LEN + 1];
  scribe_app_new_key(key);
  assert_int_equal(scribe_app_create(&S.app, key, NULL), SCRIBE_OK);
  char path[128];
  snprintf(path, sizeof path, "/result/%s", key);
  r = get(path);
  assert_int_equal(r.status, 404);
  resp_free(&r);

  json_t *fields = json_pack("{s:s,s:s,s:[]}", "transcript", "take amoxicillin", "diagnosis",
                             "otitis media", "medications");
  assert_int_equal(scribe_results_put_result(S.app.results, key, fields), SCRIBE_OK);
  json_decref(fields);
  r = get(path);
  assert_int_equal(r.status, 200);
  json_t *j = body_json(&r);
  assert_string_equal(jstr(j, "status"), "completed");
  assert_string_equal(jstr(j, "transcript"), "take amoxicillin");
  assert_string_equal(jstr(j, "diagnosis"), "otitis media");
  assert_string_equal(jstr(j, "audio_key"), key);
  json_decref(j);
  resp_free(&r);

  /* failed: 200 with status failed and the reason */
  char key2[SCRIBE_KEY_LEN + 1];
  scribe_app_new_key(key2);
  assert_int_equal(scribe_app_create(&S.app, key2, NULL), SCRIBE_OK);
  assert_int_equal(scribe_results_set_status(S.app.results, key2, SCRIBE_STATUS_FAILED, -1,
                                             "audio could not be decoded"),
                   SCRIBE_OK);
  snprintf(path, sizeof path, "/result/%s", key2);
  r = get(path);
  assert_int_equal(r.status, 200);
  j = body_json(&r);
  assert_string_equal(jstr(j, "status"), "failed");
  assert_string_equal(jstr(j, "error"), "audio could not be decoded");
  json_decref(j);
  resp_free(&r);
}

static void test_cors(void **state) {
  char b[512];
  const char *ok[] = {"Origin: http://allowed.example", NULL};
  resp r = request("GET", "/healthz", NULL, 0, ok);
  assert_int_equal(r.status, 200);
  assert_string_equal(hdr(&r, "Access-Control-Allow-Origin", b, sizeof b),
                      "http://allowed.example");
  assert_string_equal(hdr(&r, "Vary", b, sizeof b), "Origin");
  resp_free(&r);

  const char *evil[] = {"Origin: http://evil.example", NULL};
  r = request("GET", "/get-upload-url", NULL, 0, evil);
  assert_int_equal(r.status, 200);
  assert_null(hdr(&r, "Access-Control-Allow-Origin", b, sizeof b));
  resp_free(&r);
  const char *prefix[] = {"Origin: http://allowed.example.evil", NULL};
  r = request("GET", "/healthz", NULL, 0, prefix);
  assert_null(hdr(&r, "Access-Control-Allow-Origin", b, sizeof b));
  resp_free(&r);

  const char *pre[] = {"Origin: https://two.example", "Access-Control-Request-Method: PUT",
                       "Access-Control-Request-Headers: content-type", NULL};
  r = request("OPTIONS", "/upload/0123456789abcdef0123456789abcdef", NULL, 0, pre);
  assert_int_equal(r.status, 204);
  assert_string_equal(hdr(&r, "Access-Control-Allow-Origin", b, sizeof b),
                      "https://two.example");
  assert_non_null(strstr(hdr(&r, "Access-Control-Allow-Methods", b, sizeof b), "PUT"));
  assert_non_null(strstr(hdr(&r, "Access-Control-Allow-Headers", b, sizeof b), "Content-Type"));
  assert_non_null(hdr(&r, "Access-Control-Max-Age", b, sizeof b));
  resp_free(&r);

  const char *pre_evil[] = {"Origin: http://evil.example", "Access-Control-Request-Method: POST",
                            NULL};
  r = request("OPTIONS", "/upload-complete", NULL, 0, pre_evil);
  assert_true(r.status == 204 || r.status == 403);
  assert_null(hdr(&r, "Access-Control-Allow-Origin", b, sizeof b));
  assert_null(hdr(&r, "Access-Control-Allow-Methods", b, sizeof b));
  assert_null(strstr(r.headers, ": *"));
  resp_free(&r);

  r = request("OPTIONS", "/api/v1/consultations", NULL, 0, NULL);
  assert_int_equal(r.status, 204);
  assert_non_null(strstr(hdr(&r, "Allow", b, sizeof b), "POST"));
  resp_free(&r);
}

/* ---------------------------------------------------------------------- */
/* Native API                                                              */

static char *api_create(const char *body) {
  resp r = post_json("/api/v1/consultations", body);
  assert_int_equal(r.status, 201);
  json_t *j = body_json(&r);
  assert_non_null(j);
  assert_string_equal(jstr(j, "status"), "uploaded");
  const char *id = jstr(j, "id");
  assert_true(scribe_app_key_valid(id));
  assert_non_null(strstr(jstr(j, "upload_url"), "/upload/"));
  char loc[128], want[128];
  snprintf(want, sizeof want, "/api/v1/consultations/%s", id);
  assert_string_equal(hdr(&r, "Location", loc, sizeof loc), want);
  size_t outlen = strlen(id) + 1 + strlen(jstr(j, "upload_url")) + 1;
  char *out = malloc(outlen);
  snprintf(out, outlen, "%s %s", id, jstr(j, "upload_url"));
  json_decref(j);
  resp_free(&r);
  return out;
}

static void test_api_crud(void **state) {
  char *created = api_create("{\"patient_id\":\"MRN-1\",\"filename\":\"visit.webm\"}");
  char *id = created, *url = strchr(created, ' ');
  *url++ = '\0';
  char path[256];
  snprintf(path, sizeof path, "/api/v1/consultations/%s", id);
  resp r = get(path);
  assert_int_equal(r.status, 200);
  json_t *j = body_json(&r);
  assert_string_equal(jstr(j, "audio_key"), id);
  assert_string_equal(jstr(j, "status"), "uploaded");
  json_decref(j);
  resp_free(&r);

  char cpath[300];
  snprintf(cpath, sizeof cpath, "%s/complete", path);
  r = request("POST", cpath, NULL, 0, NULL);
  assert_error(&r, 404, "not_found"); /* no audio yet */
  resp_free(&r);

  r = put_bytes(url, "abcdef", 6);
  assert_int_equal(r.status, 200);
  resp_free(&r);
  r = request("POST", cpath, NULL, 0, NULL);
  assert_int_equal(r.status, 202);
  j = body_json(&r);
  assert_string_equal(jstr(j, "id"), id);
  assert_string_equal(jstr(j, "status"), "queued");
  json_decref(j);
  resp_free(&r);

  r = request("DELETE", path, NULL, 0, NULL);
  assert_int_equal(r.status, 204);
  assert_int_equal(r.len, 0);
  resp_free(&r);
  assert_false(object_exists(id));
  r = get(path);
  assert_error(&r, 404, "not_found");
  resp_free(&r);
  r = request("DELETE", path, NULL, 0, NULL);
  assert_error(&r, 404, "not_found");
  resp_free(&r);
  free(created);

  /* empty body is fine; bad fields are not */
  created = api_create(NULL);
  free(created);
  r = post_json("/api/v1/consultations", "{\"patient_id\":7}");
  assert_error(&r, 400, "invalid_field");
  resp_free(&r);
  r = post_json("/api/v1/consultations", "{\"filename\":\"a\\nb\"}");
  assert_error(&r, 400, "invalid_field");
  resp_free(&r);
}

static void test_api_list(void **state) {
  char *ids[5];
  for (int i = 0; i < 5; i++) {
    char *c = api_create("{}");
    *strchr(c, ' ') = '\0';
    ids[i] = c;
  }
  /* complete one */
  json_t *fields = json_pack("{s:s}", "transcript", "x");
  assert_int_equal(scribe_results_put_result(S.app.results, ids[2], fields), SCRIBE_OK);
  json_decref(fields);

  int seen[5] = {0};
  size_t total = 0;
  char *cursor = NULL;
  for (int page = 0; page < 100; page++) {
    char path[1024];
    if (cursor) {
      char *esc = curl_easy_escape(NULL, cursor, 0);
      snprintf(path, sizeof path, "/api/v1/consultations?limit=2&cursor=%s", esc);
      curl_free(esc);
    } else {
      snprintf(path, sizeof path, "/api/v1/consultations?limit=2");
    }
    resp r = get(path);
    assert_int_equal(r.status, 200);
    json_t *j = body_json(&r);
    json_t *items = json_object_get(j, "items");
    assert_true(json_is_array(items));
    assert_true(json_array_size(items) <= 2);
    json_t *next = json_object_get(j, "next_cursor");
    assert_non_null(next);
    for (size_t i = 0; i < json_array_size(items); i++) {
      const char *k = jstr(json_array_get(items, i), "audio_key");
      for (int x = 0; x < 5; x++)
        if (strcmp(k, ids[x]) == 0) seen[x]++;
      total++;
    }
    free(cursor);
    cursor = json_is_string(next) ? strdup(json_string_value(next)) : NULL;
    json_decref(j);
    resp_free(&r);
    if (!cursor) break;
  }
  for (int x = 0; x < 5; x++) assert_int_equal(seen[x], 1);
  assert_true(total >= 5);

  resp r = get("/api/v1/consultations?status=completed&limit=1000");
  assert_int_equal(r.status, 200);
  json_t *j = body_json(&r);
  json_t *items = json_object_get(j, "items");
  bool found = false;
  for (size_t i = 0; i < json_array_size(items); i++) {
    assert_string_equal(jstr(json_array_get(items, i), "status"), "completed");
    if (strcmp(jstr(json_array_get(items, i), "audio_key"), ids[2]) == 0) found = true;
  }
  assert_true(found);
  assert_true(json_is_null(json_object_get(j, "next_cursor")));
  json_decref(j);
  resp_free(&r);

  r = get("/api/v1/consultations?status=bogus");
  assert_error(&r, 400, "invalid_status");
  resp_free(&r);
  const char *bad_limits[] = {"0", "abc", "100000", "-1", "1.5"};
  for (size_t i = 0; i < 5; i++) {
    char path[128];
    snprintf(path, sizeof path, "/api/v1/consultations?limit=%s", bad_limits[i]);
    r = get(path);
    assert_error(&r, 400, "invalid_limit");
    resp_free(&r);
  }
  r = get("/api/v1/consultations?cursor=%21%21not-a-cursor%21%21");
  assert_error(&r, 400, "invalid_cursor");
  resp_free(&r);
  for (int x = 0; x < 5; x++) free(ids[x]);
}

static void test_big_headers(void **state) {
  size_t n = 80 * 1024;
  char *req = malloc(n + 200);
  int off = snprintf(req, 200, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
  memset(req + off, 'a', n);
  memcpy(req + off + n, "\r\n\r\n", 5);
  char *out = raw_exchange(req, (size_t)off + n + 4, 3000);
  int st = raw_status(out);
  assert_true(st == 431 || st == 413 || st == 400 || st == 0);
  free(out);
  free(req);
  assert_still_serving();
}

/* ---------------------------------------------------------------------- */
/* WebSocket                                                               */

static void test_ws_handshake_errors(void **state) {
  int st = 0;
  assert_int_equal(ws_open("/ws", "Origin: http://evil.example\r\n", &st), -1);
  assert_int_equal(st, 403);
  int fd = ws_open("/ws", "Origin: http://allowed.example\r\n", &st);
  assert_true(fd >= 0);
  close(fd);
  char origin[128];
  snprintf(origin, sizeof origin, "Origin: http://127.0.0.1:%d\r\n", S.port);
  fd = ws_open("/ws", origin, &st); /* same origin */
  assert_true(fd >= 0);
  close(fd);

  resp r = get("/ws");
  assert_error(&r, 426, "upgrade_required");
  resp_free(&r);
  const char *h[] = {"Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 8",
                     "Sec-WebSocket-Key: " WS_KEY, NULL};
  r = request("GET", "/ws", NULL, 0, h);
  assert_int_equal(r.status, 426);
  resp_free(&r);
  const char *h2[] = {"Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13",
                      "Sec-WebSocket-Key: nope", NULL};
  r = request("GET", "/ws", NULL, 0, h2);
  assert_error(&r, 400, "bad_handshake");
  resp_free(&r);
}

static void test_ws_events(void **state) {
  char key[SCRIBE_KEY_LEN + 1], *url = NULL;
  new_upload(key, &url);
  free(url);
  int st = 0;
  int fd = ws_open("/ws", NULL, &st);
  assert_true(fd >= 0);

  char msg[256];
  snprintf(msg, sizeof msg, "{\"action\":\"subscribe\",\"audioKey\":\"%s\"}", key);
  ws_send_text(fd, msg);
  json_t *j = ws_json(fd, 3000);
  assert_type(j, "subscribed");
  assert_string_equal(jstr(j, "audioKey"), key);
  json_decref(j);

  /* an event for another key is not delivered; ours is */
  char other[SCRIBE_KEY_LEN + 1];
  scribe_app_new_key(other);
  assert_int_equal(scribe_app_publish(&S.app, other, "queued", NULL), SCRIBE_OK);
  json_t *extra = json_pack("{s:s,s:i}", "stage", "transcribing", "percent", 40);
  assert_int_equal(scribe_app_publish(&S.app, key, "progress", extra), SCRIBE_OK);
  json_decref(extra);
  j = ws_json(fd, 3000);
  assert_type(j, "progress");
  assert_string_equal(jstr(j, "audioKey"), key);
  assert_string_equal(jstr(j, "stage"), "transcribing");
  assert_int_equal(json_integer_value(json_object_get(j, "percent")), 40);
  json_decref(j);

  /* a ping frame is answered with a pong */
  ws_send(fd, 0x89, "hi", 2, true);
  int op = 0;
  char *p = NULL;
  size_t n = 0;
  assert_int_equal(ws_read(fd, &op, &p, &n, 3000), 0);
  assert_int_equal(op, 0xA);
  assert_int_equal(n, 2);
  free(p);
  /* application ping */
  ws_send_text(fd, "{\"action\":\"ping\"}");
  j = ws_json(fd, 3000);
  assert_type(j, "pong");
  json_decref(j);

  /* completed without the document: the server adds it */
  json_t *fields = json_pack("{s:s}", "transcript", "patient takes ibuprofen");
  assert_int_equal(scribe_results_put_result(S.app.results, key, fields), SCRIBE_OK);
  json_decref(fields);
  assert_int_equal(scribe_app_publish(&S.app, key, "completed", NULL), SCRIBE_OK);
  j = ws_json(fd, 3000);
  assert_type(j, "completed");
  assert_string_equal(jstr(j, "audioKey"), key);
  json_t *result = json_object_get(j, "result");
  assert_true(json_is_object(result));
  assert_string_equal(jstr(result, "transcript"), "patient takes ibuprofen");
  assert_string_equal(jstr(result, "status"), "completed");
  json_decref(j);

  /* failed passes through with its reason */
  extra = json_pack("{s:s}", "reason", "no audio in input");
  assert_int_equal(scribe_app_publish(&S.app, key, "failed", extra), SCRIBE_OK);
  json_decref(extra);
  j = ws_json(fd, 3000);
  assert_type(j, "failed");
  assert_string_equal(jstr(j, "reason"), "no audio in input");
  json_decref(j);

  /* unsubscribe: nothing more arrives */
  snprintf(msg, sizeof msg, "{\"action\":\"unsubscribe\",\"audioKey\":\"%s\"}", key);
  ws_send_text(fd, msg);
  j = ws_json(fd, 3000);
  assert_type(j, "unsubscribed");
  json_decref(j);
  assert_int_equal(scribe_app_publish(&S.app, key, "queued", NULL), SCRIBE_OK);
  assert_int_equal(ws_read(fd, &op, &p, &n, 300), -2);

  /* clean close */
  uint8_t code[2] = {0x03, 0xe8};
  ws_send(fd, 0x88, code, 2, true);
  assert_int_equal(ws_close_code(fd, 3000), 1000);
  close(fd);
  assert_still_serving();
}

static void test_ws_after_completion(void **state) {
  char key[SCRIBE_KEY_LEN + 1];
  scribe_app_new_key(key);
  assert_int_equal(scribe_app_create(&S.app, key, NULL), SCRIBE_OK);
  json_t *fields = json_pack("{s:s,s:[{s:s}]}", "transcript", "metformin 500 mg twice daily",
                             "medications", "name", "metformin");
  assert_int_equal(scribe_results_put_result(S.app.results, key, fields), SCRIBE_OK);
  json_decref(fields);

  int st = 0;
  int fd = ws_open("/api/v1/events", NULL, &st);
  assert_true(fd >= 0);
  char msg[256];
  snprintf(msg, sizeof msg, "{\"action\":\"subscribe\",\"id\":\"%s\"}", key);
  ws_send_text(fd, msg);
  json_t *j = ws_json(fd, 3000);
  assert_type(j, "subscribed");
  json_decref(j);
  j = ws_json(fd, 3000);
  assert_type(j, "completed");
  assert_string_equal(jstr(j, "audioKey"), key);
  json_t *result = json_object_get(j, "result");
  assert_string_equal(jstr(result, "transcript"), "metformin 500 mg twice daily");
  assert_string_equal(jstr(json_array_get(json_object_get(result, "medications"), 0), "name"),
                      "metformin");
  json_decref(j);

  /* a failed job answers with its reason; a queued one with queued */
  char k2[SCRIBE_KEY_LEN + 1], k3[SCRIBE_KEY_LEN + 1];
  scribe_app_new_key(k2);
  scribe_app_new_key(k3);
  assert_int_equal(scribe_app_create(&S.app, k2, NULL), SCRIBE_OK);
  assert_int_equal(scribe_app_create(&S.app, k3, NULL), SCRIBE_OK);
  assert_int_equal(scribe_results_set_status(S.app.results, k2, SCRIBE_STATUS_FAILED, -1,
                                             "audio could not be decoded"),
                   SCRIBE_OK);
  assert_int_equal(
      scribe_results_set_status(S.app.results, k3, SCRIBE_STATUS_TRANSCRIBING, 30, NULL),
      SCRIBE_OK);
  snprintf(msg, sizeof msg, "{\"action\":\"subscribe\",\"audioKey\":\"%s\"}", k2);
  ws_send_text(fd, msg);
  j = ws_json(fd, 3000);
  assert_type(j, "subscribed");
  json_decref(j);
  j = ws_json(fd, 3000);
  assert_type(j, "failed");
  assert_string_equal(jstr(j, "reason"), "audio could not be decoded");
  json_decref(j);
  snprintf(msg, sizeof msg, "{\"action\":\"subscribe\",\"audioKey\":\"%s\"}", k3);
  ws_send_text(fd, msg);
  j = ws_json(fd, 3000);
  assert_type(j, "subscribed");
  json_decref(j);
  j = ws_json(fd, 3000);
  assert_type(j, "progress");
  assert_string_equal(jstr(j, "stage"), "transcribing");
  assert_int_equal(json_integer_value(json_object_get(j, "percent")), 30);
  json_decref(j);
  close(fd); /* abrupt: the server copes */
  assert_still_serving();
}

static void test_ws_bad_messages(void **state) {
  int st = 0;
  int fd = ws_open("/ws", NULL, &st);
  assert_true(fd >= 0);
  const char *bad[] = {"not json", "[1,2]", "{\"action\":\"dance\"}",
                       "{\"action\":\"subscribe\",\"audioKey\":\"../x\"}",
                       "{\"action\":\"subscribe\"}", "{\"audioKey\":\"abc\"}"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    ws_send_text(fd, bad[i]);
    json_t *j = ws_json(fd, 3000);
    assert_type(j, "error");
    assert_non_null(jstr(j, "code"));
    json_decref(j);
  }
  /* deep nesting inside the 64 KiB message limit */
  size_t n = 20000;
  char *deep = malloc(n + 1);
  memset(deep, '[', n);
  deep[n] = '\0';
  ws_send_text(fd, deep);
  free(deep);
  json_t *j = ws_json(fd, 3000);
  assert_type(j, "error");
  json_decref(j);
  /* a fragmented message is reassembled */
  ws_send(fd, 0x01, "{\"action\":", 10, true);
  ws_send(fd, 0x80, "\"ping\"}", 7, true);
  j = ws_json(fd, 3000);
  assert_type(j, "pong");
  json_decref(j);
  /* subscription cap */
  char msg[128];
  for (int i = 0; i <= 100; i++) {
    snprintf(msg, sizeof msg, "{\"action\":\"subscribe\",\"audioKey\":\"cap-%03d\"}", i);
    ws_send_text(fd, msg);
    j = ws_json(fd, 3000);
    assert_type(j, i < 100 ? "subscribed" : "error");
    if (i == 100) assert_string_equal(jstr(j, "code"), "too_many_subscriptions");
    json_decref(j);
  }
  /* binary: close 1003 */
  ws_send(fd, 0x82, "\x01\x02", 2, true);
  assert_int_equal(ws_close_code(fd, 3000), 1003);
  close(fd);

  /* garbage bytes (reserved bits and opcode): protocol error */
  fd = ws_open("/ws", NULL, &st);
  assert_true(fd >= 0);
  unsigned char junk[64];
  srand(7);
  for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)rand();
  junk[0] = 0xff;
  write_all(fd, junk, sizeof junk);
  int code = ws_close_code(fd, 3000);
  assert_true(code == 1002 || code == 0);
  close(fd);

  /* unmasked client frame */
  fd = ws_open("/ws", NULL, &st);
  assert_true(fd >= 0);
  ws_send(fd, 0x81, "{\"action\":\"ping\"}", 17, false);
  code = ws_close_code(fd, 3000);
  assert_true(code == 1002 || code == 0);
  close(fd);

  /* oversized message (100 KiB > 64 KiB) */
  fd = ws_open("/ws", NULL, &st);
  assert_true(fd >= 0);
  size_t big = 100 * 1024;
  char *payload = malloc(big);
  memset(payload, 'a', big);
  ws_send(fd, 0x81, payload, big, true);
  free(payload);
  code = ws_close_code(fd, 3000);
  assert_true(code == 1009 || code == 0);
  close(fd);

  /* invalid UTF-8 text */
  fd = ws_open("/ws", NULL, &st);
  assert_true(fd >= 0);
  ws_send(fd, 0x81, "\xff\xfe", 2, true);
  code = ws_close_code(fd, 3000);
  assert_true(code == 1007 || code == 0);
  close(fd);

  /* frames sent together with the handshake are not lost */
  fd = tcp_connect();
  char req[1024];
  int len = snprintf(req, sizeof req,
                     "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n");
  const char ping[] = "{\"action\":\"ping\"}";
  unsigned char frame[64] = {0x81, 0x80 | (sizeof(ping) - 1), 0, 0, 0, 0};
  memcpy(frame + 6, ping, sizeof(ping) - 1);
  memcpy(req + len, frame, 6 + sizeof(ping) - 1);
  write_all(fd, req, (size_t)len + 6 + sizeof(ping) - 1);
  char head[2048];
  size_t used = 0;
  while (used < sizeof(head) - 1 && read_exact(fd, head + used, 1, 3000) == 0) {
    used++;
    if (used >= 4 && memcmp(head + used - 4, "\r\n\r\n", 4) == 0) break;
  }
  head[used] = '\0';
  assert_int_equal(raw_status(head), 101);
  j = ws_json(fd, 3000);
  assert_type(j, "pong");
  json_decref(j);
  close(fd);

  assert_still_serving();
}

static void test_start_errors_and_stop(void **state) {
  /* the port is taken */
  server s2;
  memset(&s2, 0, sizeof(s2));
  assert_int_equal(server_open(&s2, "stop"), 0);
  char err[256] = "";
  scribe_config cfg;
  scribe_config_init(&cfg);
  char port[16];
  snprintf(port, sizeof port, "%d", s2.port);
  assert_int_equal(scribe_config_set(&cfg, "port", port, "test", err, sizeof err), SCRIBE_OK);
  assert_int_equal(scribe_config_set(&cfg, "host", "127.0.0.1", "test", err, sizeof err),
                   SCRIBE_OK);
  const scribe_config *saved = S.app.cfg;
  S.app.cfg = &cfg;
  scribe_http *dup = scribe_http_start(&S.app, NULL, err, sizeof err);
  S.app.cfg = saved;
  assert_null(dup);
  assert_true(strlen(err) > 0);
  scribe_config_release(&cfg);

  /* stop closes open WebSockets with 1001 */
  int saved_port = S.port;
  S.port = s2.port;
  int st = 0;
  int fd = ws_open("/ws", NULL, &st);
  assert_true(fd >= 0);
  ws_send_text(fd, "{\"action\":\"subscribe\",\"audioKey\":\"abc\"}");
  json_t *j = ws_json(fd, 3000);
  assert_type(j, "subscribed");
  json_decref(j);
  S.port = saved_port;
  scribe_http_stop(s2.http);
  s2.http = NULL;
  assert_int_equal(ws_close_code(fd, 3000), 1001);
  close(fd);
  server_close(&s2);
  scribe_http_stop(NULL);
}

static void test_ws_connection_cap(void **state) {
  /* max_connections 4: at most 2 per client address, 2 WebSockets in all */
  server s3;
  memset(&s3, 0, sizeof(s3));
  assert_int_equal(server_open_with(&s3, "cap", "4"), 0);
  int saved_port = S.port;
  S.port = s3.port;
  int st = 0;
  int a = ws_open_from("127.0.0.1", "/ws", NULL, &st);
  assert_true(a >= 0);
  int b = ws_open_from("127.0.0.2", "/ws", NULL, &st);
  assert_true(b >= 0);
  assert_int_equal(ws_open_from("127.0.0.3", "/ws", NULL, &st), -1);
  assert_int_equal(st, 503);
  /* a closed connection frees its slot */
  close(a);
  int c = -1;
  for (int i = 0; i < 200 && c < 0; i++) {
    c = ws_open_from("127.0.0.3", "/ws", NULL, &st);
    if (c < 0) usleep(10000);
  }
  assert_true(c >= 0);
  ws_send_text(c, "{\"action\":\"ping\"}");
  json_t *j = ws_json(c, 3000);
  assert_type(j, "pong");
  json_decref(j);
  close(b);
  close(c);
  S.port = saved_port;
  server_close(&s3);
}

static void test_methods_are_case_sensitive(void **state) {
  resp r = request("get", "/healthz", NULL, 0, NULL);
  assert_int_equal(r.status, 405);
  resp_free(&r);
  r = request("get", "/api/v1/consultations", NULL, 0, NULL);
  assert_int_equal(r.status, 405);
  resp_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_health),
      cmocka_unit_test(test_static),
      cmocka_unit_test(test_method_not_allowed),
      cmocka_unit_test(test_get_upload_url),
      cmocka_unit_test(test_signed_put_enqueues),
      cmocka_unit_test(test_put_rejections),
      cmocka_unit_test(test_put_chunked_over_limit),
      cmocka_unit_test(test_traversal),
      cmocka_unit_test(test_upload_complete),
      cmocka_unit_test(test_json_limits),
      cmocka_unit_test(test_result),
      cmocka_unit_test(test_cors),
      cmocka_unit_test(test_api_crud),
      cmocka_unit_test(test_api_list),
      cmocka_unit_test(test_big_headers),
      cmocka_unit_test(test_ws_handshake_errors),
      cmocka_unit_test(test_ws_events),
      cmocka_unit_test(test_ws_after_completion),
      cmocka_unit_test(test_ws_bad_messages),
      cmocka_unit_test(test_ws_connection_cap),
      cmocka_unit_test(test_methods_are_case_sensitive),
      cmocka_unit_test(test_start_errors_and_stop),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
