/*
 * test_storage_s3.c - what the S3 backend does beyond the storage contract
 * (which test_storage_contract runs against it): credentials refused,
 * presigned PUT URLs (and tampered ones refused), multipart uploads with
 * bounded memory, abort, virtual-host addressing, session tokens, retries
 * of transient failures, unreachable endpoints, bad parameters.
 *
 * Runs against tests/s3's s3rver behind the SigV4-checking proxy (ctest
 * fixture "s3"); skips when that could not be started.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../storage/contract_util.h"
#include "../storage/s3_env.h"
#include "core/error.h"
#include "core/log.h"
#include "storage/storage.h"

static s3_test_env g_env;
static char g_run[64]; /* per-run prefix */

static scribe_storage_params params(const char *sub) {
  static char prefix[8][128];
  static int slot;
  char *pf = prefix[slot++ % 8];
  snprintf(pf, 128, "%s/%s/", g_run, sub);
  scribe_storage_params p = scribe_storage_default_params();
  p.s3_endpoint = g_env.endpoint;
  p.s3_bucket = g_env.bucket;
  p.s3_region = g_env.region[0] ? g_env.region : NULL;
  p.s3_access_key = g_env.access_key;
  p.s3_secret_key = g_env.secret_key;
  p.s3_prefix = pf;
  p.s3_path_style = true;
  return p;
}

static scribe_storage *create(const scribe_storage_params *p) {
  char err[256];
  scribe_storage *s = scribe_storage_create("s3", p, err, sizeof(err));
  if (!s) fail_msg("create: %s", err);
  return s;
}

static int put(scribe_storage *s, const char *key, const void *data, size_t len) {
  scribe_storage_writer *w = NULL;
  int rc = scribe_storage_put_begin(s, key, &w);
  if (rc) return rc;
  rc = scribe_storage_write(w, data, len);
  if (rc) {
    scribe_storage_abort(w);
    return rc;
  }
  return scribe_storage_commit(w);
}

/* ---- the proxy's test hooks ------------------------------------------------ */

static size_t collect(char *d, size_t sz, size_t n, void *ud) {
  char *buf = ud;
  size_t have = strlen(buf), len = sz * n;
  if (have + len < 8192) {
    memcpy(buf + have, d, len);
    buf[have + len] = '\0';
  }
  return len;
}

/* HTTP request with libcurl; returns the status, body into out (8 KiB). */
static long http(const char *method, const char *url, const void *body, size_t len, char *out) {
  CURL *h = curl_easy_init();
  assert_non_null(h);
  char sink[8192] = "";
  if (!out) out = sink;
  out[0] = '\0';
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
  struct curl_slist *hd = curl_slist_append(NULL, "Expect:");
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
  if (body) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  }
  long st = 0;
  if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
  curl_slist_free_all(hd);
  curl_easy_cleanup(h);
  return st;
}

/* Makes the proxy answer the next `count` requests under prefix `sub` with
 * HTTP `status` (0 count: stop). */
static void inject_failures(const char *sub, int count, int status) {
  char url[512];
  snprintf(url, sizeof(url), "%s/__fail?count=%d&status=%d&match=/%s/%s/", g_env.endpoint,
           count, status, g_run, sub);
  assert_int_equal(http("POST", url, "", 0, NULL), 204);
}

/* A counter of the proxy, for the requests under this run's prefix `sub`
 * only (tests running at the same time use other prefixes). */
static long stat_counter(const char *sub, const char *name) {
  char url[512], body[8192];
  snprintf(url, sizeof(url), "%s/__stats?match=/%s/%s/", g_env.endpoint, g_run, sub);
  assert_int_equal(http("GET", url, NULL, 0, body), 200);
  size_t n = strlen(name);
  for (char *line = body; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
    if (strncmp(line, name, n) == 0 && line[n] == ' ') return strtol(line + n + 1, NULL, 10);
  return 0;
}

#define REQUIRE_LOCAL()                                        \
  do {                                                         \
    if (!g_env.local) {                                        \
      fprintf(stderr, "# needs the local proxy's test hooks\n"); \
      skip();                                                  \
    }                                                          \
  } while (0)

/* ---- tests ----------------------------------------------------------------- */

static void test_wrong_credentials(void **state) {
  (void)state;
  scribe_storage_params p = params("creds");
  scribe_storage *good = create(&p);
  assert_int_equal(put(good, "obj", "abc", 3), SCRIBE_OK);

  p.s3_secret_key = "not-the-secret";
  scribe_storage *bad = create(&p);
  uint64_t size;
  scribe_storage_reader *r = NULL;
  assert_int_equal(scribe_storage_stat(bad, "obj", &size), SCRIBE_EFORBIDDEN);
  assert_int_equal(scribe_storage_open(bad, "obj", &r, &size), SCRIBE_EFORBIDDEN);
  assert_null(r);
  assert_int_equal(put(bad, "obj2", "x", 1), SCRIBE_EFORBIDDEN);
  assert_int_equal(scribe_storage_remove(bad, "obj"), SCRIBE_EFORBIDDEN);
  assert_false(scribe_err_transient(SCRIBE_EFORBIDDEN));
  scribe_storage_free(bad);

  p.s3_secret_key = g_env.secret_key;
  p.s3_access_key = "NOSUCHACCESSKEY";
  bad = create(&p);
  assert_int_equal(scribe_storage_stat(bad, "obj", &size), SCRIBE_EFORBIDDEN);
  scribe_storage_free(bad);

  /* Nothing was written by the refused requests. */
  assert_int_equal(scribe_storage_stat(good, "obj2", &size), SCRIBE_ENOTFOUND);
  assert_int_equal(scribe_storage_stat(good, "obj", &size), SCRIBE_OK);
  assert_int_equal(size, 3);
  scribe_storage_free(good);
}

static void test_presigned_put(void **state) {
  (void)state;
  scribe_storage_params p = params("presign");
  scribe_storage *s = create(&p);
  char *url = NULL;
  assert_int_equal(scribe_storage_presign_put(s, "uploads/a.webm", 300, &url), SCRIBE_OK);
  assert_non_null(url);
  assert_non_null(strstr(url, "X-Amz-Signature="));
  assert_non_null(strstr(url, "X-Amz-Expires=300"));
  assert_null(strstr(url, g_env.secret_key));

  /* A plain PUT of the body to the URL, as a browser does. */
  assert_int_equal(http("PUT", url, "browser upload", 14, NULL), 200);
  uint64_t size = 0;
  assert_int_equal(scribe_storage_stat(s, "uploads/a.webm", &size), SCRIBE_OK);
  assert_int_equal(size, 14);

  /* Tampered: another key, another signature, another expiry. */
  char *t = strdup(url);
  char *k = strstr(t, "a.webm");
  assert_non_null(k);
  k[0] = 'b';
  assert_int_equal(http("PUT", t, "evil", 4, NULL), 403);
  memcpy(t, url, strlen(url) + 1);
  char *sig = strstr(t, "X-Amz-Signature=") + 16;
  sig[0] = sig[0] == '0' ? '1' : '0';
  assert_int_equal(http("PUT", t, "evil", 4, NULL), 403);
  memcpy(t, url, strlen(url) + 1);
  char *ex = strstr(t, "X-Amz-Expires=300");
  ex[14] = '9';
  assert_int_equal(http("PUT", t, "evil", 4, NULL), 403);
  free(t);
  assert_int_equal(scribe_storage_stat(s, "uploads/b.webm", &size), SCRIBE_ENOTFOUND);
  assert_int_equal(scribe_storage_stat(s, "uploads/a.webm", &size), SCRIBE_OK);
  assert_int_equal(size, 14);
  free(url);

  /* Expired. */
  assert_int_equal(scribe_storage_presign_put(s, "uploads/late", 1, &url), SCRIBE_OK);
  tu_sleep_ms(2100);
  assert_int_equal(http("PUT", url, "late", 4, NULL), 403);
  free(url);
  assert_int_equal(scribe_storage_stat(s, "uploads/late", &size), SCRIBE_ENOTFOUND);

  /* Bad arguments. */
  url = (char *)1;
  assert_int_equal(scribe_storage_presign_put(s, "../x", 60, &url), SCRIBE_EBADKEY);
  assert_null(url);
  assert_int_equal(scribe_storage_presign_put(s, "x", 0, &url), SCRIBE_EINVAL);
  assert_int_equal(scribe_storage_presign_put(s, "x", 604801, &url), SCRIBE_EINVAL);
  assert_int_equal(scribe_storage_presign_put(NULL, "x", 60, &url), SCRIBE_EINVAL);
  assert_int_equal(scribe_storage_presign_put(s, "x", 60, NULL), SCRIBE_EINVAL);
  scribe_storage_free(s);

  /* The fs backend has no presigned URLs. */
  char *dir = tu_mkdtemp("s3-fs");
  scribe_storage_params fp = scribe_storage_default_params();
  fp.root = dir;
  scribe_storage *fs = scribe_storage_create("fs", &fp, NULL, 0);
  assert_non_null(fs);
  assert_int_equal(scribe_storage_presign_put(fs, "x", 60, &url), SCRIBE_EINVAL);
  assert_null(url);
  scribe_storage_free(fs);
  tu_rmtree(dir);
  free(dir);
}

static uint64_t xorshift(uint64_t *s) {
  uint64_t x = *s;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return *s = x;
}

static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

static void test_multipart_bounded_memory(void **state) {
  (void)state;
  REQUIRE_LOCAL();
  enum { CHUNK = 100 * 1000, TOTAL = 20 * 1024 * 1024 }; /* odd chunk: parts straddle writes */
  scribe_storage_params p = params("multipart");
  scribe_storage *s = create(&p);
  unsigned char *buf = malloc(CHUNK);
  assert_non_null(buf);
  memset(buf, 0, CHUNK);
  long rss0 = tu_rss_kb();
  uint64_t seed = 42, hw = 1469598103934665603ULL;
  scribe_storage_writer *w;
  assert_int_equal(scribe_storage_put_begin(s, "big/twenty", &w), SCRIBE_OK);
  for (size_t done = 0; done < TOTAL;) {
    size_t n = TOTAL - done < CHUNK ? TOTAL - done : CHUNK;
    for (size_t i = 0; i + 8 <= n; i += 8) {
      uint64_t v = xorshift(&seed);
      memcpy(buf + i, &v, 8);
    }
    hw = fnv1a(hw, buf, n);
    assert_int_equal(scribe_storage_write(w, buf, n), SCRIBE_OK);
    done += n;
  }
  /* Not visible before commit, though parts were uploaded. */
  uint64_t size = 0;
  assert_int_equal(scribe_storage_stat(s, "big/twenty", &size), SCRIBE_ENOTFOUND);
  assert_int_equal(scribe_storage_commit(w), SCRIBE_OK);
  long rss1 = tu_rss_kb();
  assert_int_equal(stat_counter("multipart", "multipart_create"), 1);
  assert_int_equal(stat_counter("multipart", "multipart_part"), 3); /* 8 + 8 + 4 MiB */
  assert_int_equal(stat_counter("multipart", "multipart_complete"), 1);
  assert_int_equal(stat_counter("multipart", "put"), 0);

  assert_int_equal(scribe_storage_stat(s, "big/twenty", &size), SCRIBE_OK);
  assert_int_equal(size, TOTAL);
  scribe_storage_reader *r;
  assert_int_equal(scribe_storage_open(s, "big/twenty", &r, &size), SCRIBE_OK);
  uint64_t hr = 1469598103934665603ULL, total = 0;
  long n;
  while ((n = scribe_storage_read(r, buf, CHUNK)) > 0) {
    hr = fnv1a(hr, buf, (size_t)n);
    total += (uint64_t)n;
  }
  assert_int_equal(n, 0);
  assert_int_equal(total, TOTAL);
  assert_true(hr == hw);
  /* Random access across part boundaries. */
  uint64_t seed2 = 42;
  unsigned char first[16];
  for (int i = 0; i < 2; i++) {
    uint64_t v = xorshift(&seed2);
    memcpy(first + 8 * i, &v, 8);
  }
  assert_int_equal(scribe_storage_seek(r, 0, SEEK_SET), 0);
  assert_int_equal(scribe_storage_read(r, buf, 16), 16);
  assert_memory_equal(buf, first, 16);
  assert_int_equal(scribe_storage_seek(r, -3, SEEK_END), TOTAL - 3);
  assert_int_equal(scribe_storage_read(r, buf, 100), 3);
  scribe_storage_close(r);
  long rss2 = tu_rss_kb();
  if (rss0 > 0) {
    fprintf(stderr, "# rss kB: before %ld, after write %ld, after read %ld\n", rss0, rss1, rss2);
    assert_true(rss1 - rss0 < 14 * 1024);
    assert_true(rss2 - rss0 < 14 * 1024);
  }
  assert_int_equal(scribe_storage_remove(s, "big/twenty"), SCRIBE_OK);
  free(buf);
  scribe_storage_free(s);
}

static void test_multipart_abort(void **state) {
  (void)state;
  REQUIRE_LOCAL();
  scribe_storage_params p = params("abort");
  scribe_storage *s = create(&p);
  size_t len = 9 * 1024 * 1024;
  unsigned char *buf = calloc(1, len);
  assert_non_null(buf);
  scribe_storage_writer *w;
  assert_int_equal(scribe_storage_put_begin(s, "aborted", &w), SCRIBE_OK);
  assert_int_equal(scribe_storage_write(w, buf, len), SCRIBE_OK);
  scribe_storage_abort(w);
  assert_int_equal(stat_counter("abort", "multipart_part"), 1);
  assert_int_equal(stat_counter("abort", "multipart_abort"), 1);
  uint64_t size;
  assert_int_equal(scribe_storage_stat(s, "aborted", &size), SCRIBE_ENOTFOUND);
  free(buf);
  scribe_storage_free(s);
}

static void test_virtual_host(void **state) {
  (void)state;
  if (!g_env.vhost_endpoint[0]) skip();
  scribe_storage_params p = params("vhost");
  p.s3_endpoint = g_env.vhost_endpoint;
  p.s3_path_style = false;
  scribe_storage *s = create(&p);
  assert_int_equal(put(s, "v/obj", "virtual", 7), SCRIBE_OK);
  uint64_t size;
  assert_int_equal(scribe_storage_stat(s, "v/obj", &size), SCRIBE_OK);
  assert_int_equal(size, 7);
  scribe_storage_reader *r;
  char buf[16];
  assert_int_equal(scribe_storage_open(s, "v/obj", &r, &size), SCRIBE_OK);
  assert_int_equal(scribe_storage_read(r, buf, sizeof(buf)), 7);
  assert_memory_equal(buf, "virtual", 7);
  scribe_storage_close(r);
  if (g_env.local) {
    assert_true(stat_counter("vhost", "vhost") >= 3);
    assert_int_equal(stat_counter("vhost", "pathstyle"), 0);
  }
  /* The presigned URL uses the bucket's host name too. */
  char *url;
  assert_int_equal(scribe_storage_presign_put(s, "v/pre", 60, &url), SCRIBE_OK);
  char want[300];
  snprintf(want, sizeof(want), "http://%s.", g_env.bucket);
  assert_true(strncmp(url, want, strlen(want)) == 0);
  assert_int_equal(http("PUT", url, "pre", 3, NULL), 200);
  free(url);
  assert_int_equal(scribe_storage_stat(s, "v/pre", &size), SCRIBE_OK);
  /* Same objects through path-style addressing. */
  scribe_storage_params pp = params("vhost");
  scribe_storage *ps = create(&pp);
  assert_int_equal(scribe_storage_stat(ps, "v/obj", &size), SCRIBE_OK);
  assert_int_equal(size, 7);
  scribe_storage_free(ps);
  scribe_storage_free(s);
}

static void test_session_token(void **state) {
  (void)state;
  if (!g_env.token_access_key[0]) skip();
  scribe_storage_params p = params("token");
  p.s3_access_key = g_env.token_access_key;
  p.s3_secret_key = g_env.token_secret_key;
  p.s3_session_token = g_env.session_token;
  scribe_storage *s = create(&p);
  assert_int_equal(put(s, "t", "tok", 3), SCRIBE_OK);
  uint64_t size;
  assert_int_equal(scribe_storage_stat(s, "t", &size), SCRIBE_OK);
  char *url;
  assert_int_equal(scribe_storage_presign_put(s, "t2", 60, &url), SCRIBE_OK);
  assert_non_null(strstr(url, "X-Amz-Security-Token="));
  assert_int_equal(http("PUT", url, "t2", 2, NULL), 200);
  free(url);
  scribe_storage_free(s);
  /* Without the token, or with another one: refused. */
  p.s3_session_token = NULL;
  s = create(&p);
  assert_int_equal(scribe_storage_stat(s, "t", &size), SCRIBE_EFORBIDDEN);
  scribe_storage_free(s);
  p.s3_session_token = "wrong-token";
  s = create(&p);
  assert_int_equal(scribe_storage_stat(s, "t", &size), SCRIBE_EFORBIDDEN);
  scribe_storage_free(s);
}

static void test_transient_retry(void **state) {
  (void)state;
  REQUIRE_LOCAL();
  scribe_storage_params p = params("retry");
  scribe_storage *s = create(&p);
  assert_int_equal(put(s, "r", "retry", 5), SCRIBE_OK);
  uint64_t size;
  /* Two 503 SlowDown answers: retried inside the backend. */
  inject_failures("retry", 2, 503);
  assert_int_equal(scribe_storage_stat(s, "r", &size), SCRIBE_OK);
  assert_int_equal(stat_counter("retry", "injected_failures"), 2);
  inject_failures("retry", 2, 500);
  assert_int_equal(put(s, "r2", "again", 5), SCRIBE_OK);
  /* Failing for longer: a transient error for the caller (the worker). */
  inject_failures("retry", 20, 503);
  int64_t t0 = tu_mono_ms();
  int rc = scribe_storage_stat(s, "r", &size);
  assert_int_equal(rc, SCRIBE_EUNAVAILABLE);
  assert_true(scribe_err_transient(rc));
  assert_true(tu_mono_ms() - t0 < 10000);
  inject_failures("retry", 0, 503);
  assert_int_equal(scribe_storage_stat(s, "r2", &size), SCRIBE_OK);
  scribe_storage_free(s);
}

static void test_unreachable(void **state) {
  (void)state;
  scribe_storage_params p = params("down");
  p.s3_endpoint = "http://127.0.0.1:1"; /* nothing listens there */
  scribe_storage *s = create(&p);       /* no request at create */
  uint64_t size;
  int rc = scribe_storage_stat(s, "x", &size);
  assert_int_equal(rc, SCRIBE_EUNAVAILABLE);
  assert_true(scribe_err_transient(rc));
  assert_int_equal(put(s, "x", "y", 1), SCRIBE_EUNAVAILABLE);
  scribe_storage_free(s);
}

static void test_changed_while_reading(void **state) {
  (void)state;
  scribe_storage_params p = params("changed");
  scribe_storage *s = create(&p);
  size_t len = 3 * 1024 * 1024;
  unsigned char *a = malloc(len), *b = malloc(len), buf[64];
  assert_non_null(a);
  assert_non_null(b);
  memset(a, 'a', len);
  memset(b, 'b', len);
  assert_int_equal(put(s, "c", a, len), SCRIBE_OK);
  scribe_storage_reader *r;
  uint64_t size;
  assert_int_equal(scribe_storage_open(s, "c", &r, &size), SCRIBE_OK);
  assert_int_equal(size, len);
  assert_int_equal(put(s, "c", b, len), SCRIBE_OK);
  /* The first window was read at open: still the old version. */
  assert_int_equal(scribe_storage_read(r, buf, sizeof(buf)), sizeof(buf));
  assert_int_equal(buf[0], 'a');
  /* Past it, the change is detected rather than mixing versions. */
  assert_int_equal(scribe_storage_seek(r, 2 * 1024 * 1024, SEEK_SET), 2 * 1024 * 1024);
  assert_int_equal(scribe_storage_read(r, buf, sizeof(buf)), SCRIBE_EAGAIN);
  scribe_storage_close(r);
  /* Removed while open: not found. */
  assert_int_equal(scribe_storage_open(s, "c", &r, &size), SCRIBE_OK);
  assert_int_equal(scribe_storage_remove(s, "c"), SCRIBE_OK);
  assert_int_equal(scribe_storage_seek(r, 2 * 1024 * 1024, SEEK_SET), 2 * 1024 * 1024);
  assert_int_equal(scribe_storage_read(r, buf, sizeof(buf)), SCRIBE_ENOTFOUND);
  scribe_storage_close(r);
  free(a);
  free(b);
  scribe_storage_free(s);
}

static void test_bad_params(void **state) {
  (void)state;
  char err[256];
  scribe_storage_params good = params("params"), p;
  p = good;
  p.s3_bucket = NULL;
  assert_null(scribe_storage_create("s3", &p, err, sizeof(err)));
  assert_non_null(strstr(err, "bucket"));
  p = good;
  p.s3_secret_key = "";
  assert_null(scribe_storage_create("s3", &p, err, sizeof(err)));
  assert_non_null(strstr(err, "secret key"));
  p = good;
  p.s3_endpoint = "ftp://example.com";
  assert_null(scribe_storage_create("s3", &p, err, sizeof(err)));
  assert_non_null(strstr(err, "endpoint"));
  p = good;
  p.s3_endpoint = "http://example.com/some/path";
  assert_null(scribe_storage_create("s3", &p, err, sizeof(err)));
  p = good;
  p.s3_path_style = false;
  p.s3_bucket = "Not_DNS";
  assert_null(scribe_storage_create("s3", &p, err, sizeof(err)));
  assert_non_null(strstr(err, "bucket"));
  p = good;
  p.s3_region = "us east";
  assert_null(scribe_storage_create("s3", &p, err, sizeof(err)));
  /* Defaults: AWS endpoint for the region. */
  p = good;
  p.s3_endpoint = NULL;
  p.s3_region = NULL;
  scribe_storage *s = scribe_storage_create("s3", &p, err, sizeof(err));
  assert_non_null(s);
  char *url;
  assert_int_equal(scribe_storage_presign_put(s, "k", 60, &url), SCRIBE_OK);
  char want[300];
  snprintf(want, sizeof(want), "https://s3.us-east-1.amazonaws.com/%s/%sk?", good.s3_bucket,
           good.s3_prefix);
  assert_true(strncmp(url, want, strlen(want)) == 0);
  assert_non_null(strstr(url, "%2Fus-east-1%2Fs3%2Faws4_request"));
  free(url);
  scribe_storage_free(s);
}

int main(void) {
  scribe_log_set_level(SCRIBE_LOG_OFF);
  if (!s3_test_env_load(&g_env)) {
    printf("# s3 tests skipped\n");
    return 0;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  char rnd[9];
  snprintf(rnd, sizeof(rnd), "%08lx", (unsigned long)(tu_mono_ms() ^ (long)getpid() << 8));
  snprintf(g_run, sizeof(g_run), "s3test-%s", rnd);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_wrong_credentials),
      cmocka_unit_test(test_presigned_put),
      cmocka_unit_test(test_multipart_bounded_memory),
      cmocka_unit_test(test_multipart_abort),
      cmocka_unit_test(test_virtual_host),
      cmocka_unit_test(test_session_token),
      cmocka_unit_test(test_transient_retry),
      cmocka_unit_test(test_unreachable),
      cmocka_unit_test(test_changed_while_reading),
      cmocka_unit_test(test_bad_params),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
