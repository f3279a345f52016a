/*
 * Integration tests of the resumable upload (src/http/http_parts.c):
 * PUT /api/v1/consultations/{id}/parts/{n}, GET .../parts and
 * POST .../parts/complete, on a real server over real backends
 * (127.0.0.1:<ephemeral>, a temporary data_dir), driven with libcurl and a
 * raw socket.  No worker runs: completed uploads stay in the queue.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "http/http.h"
#include "pipeline/app.h"

/* ---------------------------------------------------------------------- */
/* Fixture: one server; restartable on the same data_dir                  */

typedef struct server {
  scribe_config cfg;
  scribe_app app;
  scribe_http *http;
  int port;
  char dir[512];
} server;

static server S;

static int server_start(server *s) {
  char err[512];
  scribe_config_init(&s->cfg);
  struct {
    const char *k, *v;
  } sets[] = {
      {"data_dir", s->dir}, {"host", "127.0.0.1"}, {"port", "0"}, {"workers", "0"},
      {"max_json_bytes", "65536"},
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
  s->http = scribe_http_start(&s->app, NULL, err, sizeof(err));
  if (!s->http) {
    fprintf(stderr, "http: %s\n", err);
    return -1;
  }
  s->port = scribe_http_port(s->http);
  return s->port > 0 ? 0 : -1;
}

static void server_stop(server *s) {
  scribe_http_stop(s->http);
  s->http = NULL;
  scribe_app_close(&s->app);
  scribe_config_release(&s->cfg);
}

static int group_setup(void **state) {
  scribe_log_set_level(getenv("SCRIBE_TEST_QUIET") ? SCRIBE_LOG_WARN : SCRIBE_LOG_DEBUG);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const char *tmp = getenv("SCRIBE_TEST_TMP");
  if (!tmp) tmp = "/tmp";
  snprintf(S.dir, sizeof(S.dir), "%s/http-parts-XXXXXX", tmp);
  if (!mkdtemp(S.dir)) return -1;
  return server_start(&S);
}

static int group_teardown(void **state) {
  server_stop(&S);
  curl_global_cleanup();
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", S.dir);
  if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", S.dir);
  return 0;
}

/* ---------------------------------------------------------------------- */
/* Client                                                                  */

typedef struct resp {
  long status;
  char *body;
  size_t len;
  char headers[8192];
  size_t hlen;
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

static resp request(const char *method, const char *path, const void *body, size_t blen,
                    const char *const *headers) {
  resp r;
  memset(&r, 0, sizeof(r));
  char url[1024];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", S.port, path);
  CURL *c = curl_easy_init();
  struct curl_slist *hl = NULL;
  for (size_t i = 0; headers && headers[i]; i++) hl = curl_slist_append(hl, headers[i]);
  hl = curl_slist_append(hl, "Expect:");
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
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

static resp post_json(const char *path, const char *json) {
  const char *h[] = {"Content-Type: application/json", NULL};
  return request("POST", path, json, json ? strlen(json) : 0, h);
}

static json_t *body_json(const resp *r) {
  return r->body ? json_loadb(r->body, r->len, 0, NULL) : NULL;
}

static const char *jstr(json_t *o, const char *k) { return json_string_value(json_object_get(o, k)); }

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

static void sha256_hex(const void *p, size_t n, char out[65]) {
  unsigned char md[32];
  unsigned mdn = 0;
  assert_true(EVP_Digest(p, n, md, &mdn, EVP_sha256(), NULL));
  for (int i = 0; i < 32; i++) snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void md5_b64(const void *p, size_t n, char out[32]) {
  unsigned char md[16];
  unsigned mdn = 0;
  assert_true(EVP_Digest(p, n, md, &mdn, EVP_md5(), NULL));
  assert_int_equal(EVP_EncodeBlock((unsigned char *)out, md, 16), 24);
}

/* POST /api/v1/consultations -> id */
static void create(char id[SCRIBE_KEY_LEN + 1]) {
  resp r = post_json("/api/v1/consultations", "{\"patient_id\":\"MRN-7\"}");
  assert_int_equal(r.status, 201);
  json_t *j = body_json(&r);
  snprintf(id, SCRIBE_KEY_LEN + 1, "%s", jstr(j, "id"));
  json_decref(j);
  resp_free(&r);
}

static resp put_part(const char *id, const char *n, const void *data, size_t len,
                     const char *extra_header) {
  char path[256];
  snprintf(path, sizeof(path), "/api/v1/consultations/%s/parts/%s", id, n);
  const char *h[] = {"Content-Type: application/octet-stream", extra_header, NULL};
  return request("PUT", path, data, len, h);
}

static resp list_parts(const char *id) {
  char path[256];
  snprintf(path, sizeof(path), "/api/v1/consultations/%s/parts", id);
  return request("GET", path, NULL, 0, NULL);
}

static resp complete(const char *id, const char *json) {
  char path[256];
  snprintf(path, sizeof(path), "/api/v1/consultations/%s/parts/complete", id);
  return post_json(path, json);
}

static int64_t ready_jobs(void) {
  scribe_queue_stats st;
  assert_int_equal(scribe_queue_stats_get(S.app.queue, &st), SCRIBE_OK);
  return st.ready;
}

static bool object_exists(const char *key) {
  uint64_t size = 0;
  return scribe_storage_stat(S.app.storage, key, &size) == SCRIBE_OK;
}

/* Reads a whole object (small ones) into a malloc'ed buffer. */
static char *read_object(const char *key, size_t *len) {
  scribe_storage_reader *rd = NULL;
  uint64_t size = 0;
  assert_int_equal(scribe_storage_open(S.app.storage, key, &rd, &size), SCRIBE_OK);
  char *buf = malloc(size + 1);
  size_t got = 0;
  for (;;) {
    long m = scribe_storage_read(rd, buf + got, size - got + 1);
    assert_true(m >= 0);
    if (m == 0) break;
    got += (size_t)m;
  }
  scribe_storage_close(rd);
  assert_int_equal(got, size);
  *len = got;
  return buf;
}

/* Sends raw request text; returns the status of the answer (0 on error). */
static int raw_status(const char *text) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)S.port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
    close(fd);
    return 0;
  }
  size_t n = strlen(text);
  if (send(fd, text, n, MSG_NOSIGNAL) != (ssize_t)n) {
    close(fd);
    return 0;
  }
  char buf[256];
  size_t got = 0;
  while (got < sizeof(buf) - 1) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 10000) <= 0) break;
    ssize_t m = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
    if (m <= 0) break;
    got += (size_t)m;
    buf[got] = '\0';
    if (strstr(buf, "\r\n")) break;
  }
  close(fd);
  buf[got] = '\0';
  int status = 0;
  if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) return 0;
  return status;
}

/* ---------------------------------------------------------------------- */
/* Tests                                                                   */

static void test_roundtrip(void **state) {
  char id[SCRIBE_KEY_LEN + 1];
  create(id);
  static const char p0[] = "first part of the recording|";
  static const char p1[] = "second|";
  char p2[70000]; /* more than one copy buffer */
  for (size_t i = 0; i < sizeof(p2); i++) p2[i] = (char)('a' + i % 26);

  /* nothing yet */
  resp r = list_parts(id);
  assert_int_equal(r.status, 200);
  json_t *j = body_json(&r);
  assert_string_equal(jstr(j, "status"), "uploaded");
  assert_int_equal(json_array_size(json_object_get(j, "parts")), 0);
  assert_int_equal(json_integer_value(json_object_get(j, "part_max_bytes")), 16 * 1024 * 1024);
  assert_int_equal(json_integer_value(json_object_get(j, "max_parts")), 1000);
  json_decref(j);
  resp_free(&r);

  /* out of order, one twice (idempotent), with checksums */
  char sha[65], hdr[128], md5[32];
  sha256_hex(p2, sizeof(p2), sha);
  snprintf(hdr, sizeof(hdr), "X-Checksum-SHA256: %s", sha);
  r = put_part(id, "2", p2, sizeof(p2), hdr);
  assert_int_equal(r.status, 200);
  j = body_json(&r);
  assert_string_equal(jstr(j, "sha256"), sha);
  assert_int_equal(json_integer_value(json_object_get(j, "part")), 2);
  assert_int_equal(json_integer_value(json_object_get(j, "size")), sizeof(p2));
  json_decref(j);
  assert_non_null(strcasestr(r.headers, "\r\nETag: \""));
  resp_free(&r);
  md5_b64(p0, sizeof(p0) - 1, md5);
  snprintf(hdr, sizeof(hdr), "Content-MD5: %s", md5);
  for (int i = 0; i < 2; i++) {
    r = put_part(id, "0", p0, sizeof(p0) - 1, hdr);
    assert_int_equal(r.status, 200);
    resp_free(&r);
  }
  r = put_part(id, "1", "garbage", 7, NULL); /* replaced below */
  assert_int_equal(r.status, 200);
  resp_free(&r);
  r = put_part(id, "1", p1, sizeof(p1) - 1, NULL);
  assert_int_equal(r.status, 200);
  resp_free(&r);

  r = list_parts(id);
  j = body_json(&r);
  json_t *parts = json_object_get(j, "parts");
  assert_int_equal(json_array_size(parts), 3);
  sha256_hex(p1, sizeof(p1) - 1, sha);
  json_t *one = json_array_get(parts, 1);
  assert_int_equal(json_integer_value(json_object_get(one, "n")), 1);
  assert_int_equal(json_integer_value(json_object_get(one, "size")), sizeof(p1) - 1);
  assert_string_equal(jstr(one, "sha256"), sha);
  assert_int_equal(json_integer_value(json_object_get(j, "total_bytes")),
                   sizeof(p0) - 1 + sizeof(p1) - 1 + sizeof(p2));
  json_decref(j);
  resp_free(&r);

  /* complete with the checksum of the whole */
  size_t total = sizeof(p0) - 1 + sizeof(p1) - 1 + sizeof(p2);
  char *whole = malloc(total);
  memcpy(whole, p0, sizeof(p0) - 1);
  memcpy(whole + sizeof(p0) - 1, p1, sizeof(p1) - 1);
  memcpy(whole + sizeof(p0) - 1 + sizeof(p1) - 1, p2, sizeof(p2));
  sha256_hex(whole, total, sha);
  int64_t before = ready_jobs();
  char body[200];
  snprintf(body, sizeof(body), "{\"parts\":3,\"sha256\":\"%s\"}", sha);
  r = complete(id, body);
  assert_int_equal(r.status, 202);
  j = body_json(&r);
  assert_string_equal(jstr(j, "id"), id);
  assert_string_equal(jstr(j, "status"), "queued");
  assert_string_equal(jstr(j, "sha256"), sha);
  assert_int_equal(json_integer_value(json_object_get(j, "size")), total);
  json_decref(j);
  resp_free(&r);
  assert_int_equal(ready_jobs(), before + 1);

  /* the audio is the concatenation; the parts are gone */
  char obj[128];
  snprintf(obj, sizeof(obj), "audio/%s", id);
  size_t len = 0;
  char *got = read_object(obj, &len);
  assert_int_equal(len, total);
  assert_memory_equal(got, whole, total);
  free(got);
  free(whole);
  snprintf(obj, sizeof(obj), "parts/%s/0", id);
  assert_false(object_exists(obj));
  snprintf(obj, sizeof(obj), "parts/%s/2.json", id);
  assert_false(object_exists(obj));

  /* a retry is idempotent: same answer, still one job */
  r = complete(id, body);
  assert_int_equal(r.status, 202);
  j = body_json(&r);
  assert_string_equal(jstr(j, "status"), "queued");
  json_decref(j);
  resp_free(&r);
  assert_int_equal(ready_jobs(), before + 1);
  r = list_parts(id);
  j = body_json(&r);
  assert_string_equal(jstr(j, "status"), "queued");
  assert_int_equal(json_array_size(json_object_get(j, "parts")), 0);
  json_decref(j);
  resp_free(&r);

  /* no more parts once the audio is complete */
  r = put_part(id, "3", "late", 4, NULL);
  assert_error(&r, 409, "conflict");
  resp_free(&r);
}

static void test_part_errors(void **state) {
  char id[SCRIBE_KEY_LEN + 1];
  create(id);
  const char *bad_numbers[] = {"01", "1000", "x", "-1", "1.5", "99999999999"};
  for (size_t i = 0; i < sizeof(bad_numbers) / sizeof(bad_numbers[0]); i++) {
    resp r = put_part(id, bad_numbers[i], "a", 1, NULL);
    assert_error(&r, 400, "invalid_part");
    resp_free(&r);
  }
  resp r = put_part("bad.key..x", "0", "a", 1, NULL);
  assert_error(&r, 400, "invalid_key");
  resp_free(&r);
  r = put_part("0123456789abcdef0123456789abcdef", "0", "a", 1, NULL);
  assert_error(&r, 404, "not_found");
  resp_free(&r);
  r = list_parts("0123456789abcdef0123456789abcdef");
  assert_error(&r, 404, "not_found");
  resp_free(&r);

  /* checksums: malformed header, then a mismatch (nothing stored) */
  r = put_part(id, "0", "abc", 3, "X-Checksum-SHA256: nothex");
  assert_error(&r, 400, "invalid_checksum");
  resp_free(&r);
  r = put_part(id, "0", "abc", 3, "Content-MD5: AAAA");
  assert_error(&r, 400, "invalid_checksum");
  resp_free(&r);
  char sha[65], hdr[128];
  sha256_hex("abd", 3, sha);
  snprintf(hdr, sizeof(hdr), "X-Checksum-SHA256: %s", sha);
  r = put_part(id, "0", "abc", 3, hdr);
  assert_error(&r, 400, "checksum_mismatch");
  resp_free(&r);
  char md5[32];
  md5_b64("abd", 3, md5);
  snprintf(hdr, sizeof(hdr), "Content-MD5: %s", md5);
  r = put_part(id, "0", "abc", 3, hdr);
  assert_error(&r, 400, "checksum_mismatch");
  resp_free(&r);
  char obj[128];
  snprintf(obj, sizeof(obj), "parts/%s/0", id);
  assert_false(object_exists(obj));
  r = list_parts(id);
  json_t *j = body_json(&r);
  assert_int_equal(json_array_size(json_object_get(j, "parts")), 0);
  json_decref(j);
  resp_free(&r);

  /* sizes are decided before the body is read */
  char req[512];
  snprintf(req, sizeof(req),
           "PUT /api/v1/consultations/%s/parts/0 HTTP/1.1\r\nHost: x\r\n"
           "Content-Length: 16777217\r\n\r\n", id);
  assert_int_equal(raw_status(req), 413);
  snprintf(req, sizeof(req),
           "PUT /api/v1/consultations/%s/parts/0 HTTP/1.1\r\nHost: x\r\n\r\n", id);
  assert_int_equal(raw_status(req), 411);

  /* methods */
  char path[256];
  snprintf(path, sizeof(path), "/api/v1/consultations/%s/parts/0", id);
  r = request("GET", path, NULL, 0, NULL);
  assert_error(&r, 405, "method_not_allowed");
  assert_non_null(strcasestr(r.headers, "Allow: PUT, OPTIONS"));
  resp_free(&r);
  snprintf(path, sizeof(path), "/api/v1/consultations/%s/parts", id);
  r = request("POST", path, "{}", 2, NULL);
  assert_error(&r, 405, "method_not_allowed");
  resp_free(&r);
}

static void test_complete_errors(void **state) {
  char id[SCRIBE_KEY_LEN + 1];
  create(id);
  resp r = complete(id, NULL);
  assert_error(&r, 400, "missing_body");
  resp_free(&r);
  r = complete(id, "{\"parts\":\"2\"}");
  assert_error(&r, 400, "missing_field");
  resp_free(&r);
  r = complete(id, "{\"parts\":0}");
  assert_error(&r, 400, "invalid_field");
  resp_free(&r);
  r = complete(id, "{\"parts\":1001}");
  assert_error(&r, 400, "invalid_field");
  resp_free(&r);
  r = complete(id, "{\"parts\":1,\"sha256\":\"abc\"}");
  assert_error(&r, 400, "invalid_field");
  resp_free(&r);
  r = complete(id, "[1]");
  assert_error(&r, 400, "invalid_json");
  resp_free(&r);
  r = complete("0123456789abcdef0123456789abcdef", "{\"parts\":1}");
  assert_error(&r, 404, "not_found");
  resp_free(&r);

  /* a gap: 409 naming the missing parts */
  r = put_part(id, "0", "zero", 4, NULL);
  assert_int_equal(r.status, 200);
  resp_free(&r);
  r = put_part(id, "2", "two", 3, NULL);
  assert_int_equal(r.status, 200);
  resp_free(&r);
  r = complete(id, "{\"parts\":4}");
  assert_error(&r, 409, "missing_parts");
  json_t *j = body_json(&r);
  json_t *missing = json_object_get(json_object_get(j, "error"), "missing");
  assert_int_equal(json_array_size(missing), 2);
  assert_int_equal(json_integer_value(json_array_get(missing, 0)), 1);
  assert_int_equal(json_integer_value(json_array_get(missing, 1)), 3);
  json_decref(j);
  resp_free(&r);

  /* wrong checksum of the whole: refused, parts kept, nothing queued */
  r = put_part(id, "1", "one", 3, NULL);
  resp_free(&r);
  int64_t before = ready_jobs();
  r = complete(id, "{\"parts\":3,\"sha256\":"
                   "\"0000000000000000000000000000000000000000000000000000000000000000\"}");
  assert_error(&r, 400, "checksum_mismatch");
  resp_free(&r);
  assert_int_equal(ready_jobs(), before);
  char obj[128];
  snprintf(obj, sizeof(obj), "audio/%s", id);
  assert_false(object_exists(obj));
  r = list_parts(id);
  j = body_json(&r);
  assert_int_equal(json_array_size(json_object_get(j, "parts")), 3);
  json_decref(j);
  resp_free(&r);

  /* a part damaged in storage is dropped and named */
  snprintf(obj, sizeof(obj), "parts/%s/1", id);
  scribe_storage_writer *w = NULL;
  assert_int_equal(scribe_storage_put_begin(S.app.storage, obj, &w), SCRIBE_OK);
  assert_int_equal(scribe_storage_write(w, "0n3", 3), SCRIBE_OK);
  assert_int_equal(scribe_storage_commit(w), SCRIBE_OK);
  r = complete(id, "{\"parts\":3}");
  assert_error(&r, 409, "missing_parts");
  j = body_json(&r);
  missing = json_object_get(json_object_get(j, "error"), "missing");
  assert_int_equal(json_array_size(missing), 1);
  assert_int_equal(json_integer_value(json_array_get(missing, 0)), 1);
  json_decref(j);
  resp_free(&r);
  r = list_parts(id);
  j = body_json(&r);
  assert_int_equal(json_array_size(json_object_get(j, "parts")), 2);
  json_decref(j);
  resp_free(&r);

  /* sent again: completes; extra parts beyond "parts" are dropped */
  r = put_part(id, "1", "one", 3, NULL);
  resp_free(&r);
  r = put_part(id, "5", "extra", 5, NULL);
  resp_free(&r);
  r = complete(id, "{\"parts\":3,\"sha256\":null}");
  assert_int_equal(r.status, 202);
  resp_free(&r);
  snprintf(obj, sizeof(obj), "audio/%s", id);
  size_t len = 0;
  char *got = read_object(obj, &len);
  assert_int_equal(len, 10);
  assert_memory_equal(got, "zeroonetwo", 10);
  free(got);
  snprintf(obj, sizeof(obj), "parts/%s/5", id);
  assert_false(object_exists(obj));
}

/* A part without its checksum record (a crash between the two commits)
 * is not listed: the client sends it again. */
static void test_half_written_part(void **state) {
  char id[SCRIBE_KEY_LEN + 1];
  create(id);
  char obj[128];
  snprintf(obj, sizeof(obj), "parts/%s/0", id);
  scribe_storage_writer *w = NULL;
  assert_int_equal(scribe_storage_put_begin(S.app.storage, obj, &w), SCRIBE_OK);
  assert_int_equal(scribe_storage_write(w, "data", 4), SCRIBE_OK);
  assert_int_equal(scribe_storage_commit(w), SCRIBE_OK);
  resp r = list_parts(id);
  json_t *j = body_json(&r);
  assert_int_equal(json_array_size(json_object_get(j, "parts")), 0);
  json_decref(j);
  resp_free(&r);
  r = complete(id, "{\"parts\":1}");
  assert_error(&r, 409, "missing_parts");
  resp_free(&r);
}

/* Parts survive a restart of the server; DELETE removes them. */
static void test_restart_and_delete(void **state) {
  char id[SCRIBE_KEY_LEN + 1];
  create(id);
  resp r = put_part(id, "0", "before restart", 14, NULL);
  assert_int_equal(r.status, 200);
  resp_free(&r);
  server_stop(&S);
  assert_int_equal(server_start(&S), 0);
  r = list_parts(id);
  assert_int_equal(r.status, 200);
  json_t *j = body_json(&r);
  json_t *parts = json_object_get(j, "parts");
  assert_int_equal(json_array_size(parts), 1);
  assert_int_equal(json_integer_value(json_object_get(json_array_get(parts, 0), "size")), 14);
  json_decref(j);
  resp_free(&r);

  char path[256];
  snprintf(path, sizeof(path), "/api/v1/consultations/%s", id);
  r = request("DELETE", path, NULL, 0, NULL);
  assert_int_equal(r.status, 204);
  resp_free(&r);
  char obj[128];
  snprintf(obj, sizeof(obj), "parts/%s/0", id);
  assert_false(object_exists(obj));
  snprintf(obj, sizeof(obj), "parts/%s/0.json", id);
  assert_false(object_exists(obj));
}

/* A failed job can be queued again through parts/complete (its parts are
 * gone, the audio is kept), or re-uploaded in parts. */
static void test_failed_requeue(void **state) {
  char id[SCRIBE_KEY_LEN + 1];
  create(id);
  resp r = put_part(id, "0", "audio", 5, NULL);
  resp_free(&r);
  r = complete(id, "{\"parts\":1}");
  assert_int_equal(r.status, 202);
  resp_free(&r);
  assert_int_equal(
      scribe_results_set_status(S.app.results, id, SCRIBE_STATUS_FAILED, -1, "bad audio"),
      SCRIBE_OK);
  r = complete(id, "{\"parts\":1}");
  assert_int_equal(r.status, 202);
  json_t *j = body_json(&r);
  assert_string_equal(jstr(j, "status"), "queued");
  json_decref(j);
  resp_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip),
      cmocka_unit_test(test_part_errors),
      cmocka_unit_test(test_complete_errors),
      cmocka_unit_test(test_half_written_part),
      cmocka_unit_test(test_failed_requeue),
      cmocka_unit_test(test_restart_and_delete),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
