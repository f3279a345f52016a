/*
 * storage_s3.c - backend "s3": any S3-compatible object store (AWS S3, MinIO,
 * Ceph RGW, ...) over libcurl, signed with our own SigV4 (sigv4.c).
 *
 * Object "k" lives at <prefix>k in the bucket, addressed path-style
 * (endpoint/bucket/key) or virtual-host style (bucket.endpoint/key).
 *
 * Writes: the writer interface streams bytes of unknown total size, so the
 * writer buffers up to PART_SIZE bytes (bounded memory).  An object smaller
 * than that goes as one PUT at commit; a larger one becomes a multipart
 * upload (parts sent as the buffer fills, CompleteMultipartUpload at commit,
 * AbortMultipartUpload at abort).  Either way the object appears whole and
 * only at commit, as the contract asks.
 *
 * Reads: open() fetches the first READ_WINDOW bytes with a ranged GET (which
 * also gives the size and ETag); read() fetches further windows on demand;
 * seek() only moves the offset.  Later windows are requested with the first
 * response's version id (versioned buckets: a true snapshot) or with
 * If-Match on its ETag; an object replaced or removed while a reader is past
 * its first window makes read() fail with SCRIBE_EAGAIN / SCRIBE_ENOTFOUND
 * (S3 has no snapshot reads on unversioned buckets).
 *
 * Errors: 404 -> SCRIBE_ENOTFOUND, 403 -> SCRIBE_EFORBIDDEN (logged with
 * "check credentials"), 5xx/429/connection failures -> SCRIBE_EUNAVAILABLE,
 * timeouts -> SCRIBE_ETIMEOUT; idempotent requests are retried a few times
 * with backoff first.  Keys, secrets and signatures are never logged.
 *
 * Handles are thread-safe: each request borrows a curl easy handle from a
 * small mutex-protected pool (keeps connections alive between requests).
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "storage/sigv4.h"
#include "storage/storage.h"

#define PART_SIZE ((size_t)8 << 20)     /* multipart part / single-PUT threshold */
#define MAX_PARTS 10000                 /* S3's limit */
#define READ_WINDOW ((size_t)1 << 20)   /* bytes fetched per ranged GET */
#define XML_MAX ((size_t)1 << 20)       /* cap on error / XML response bodies */
#define POOL_MAX 8                      /* idle curl handles kept per storage */
#define ATTEMPTS 4                      /* tries of an idempotent request */
#define CONNECT_TIMEOUT_MS 10000L
#define LOW_SPEED_TIME_S 30L            /* stalled this long -> SCRIBE_ETIMEOUT */

typedef struct s3_storage {
  scribe_storage base;
  char *scheme;    /* "http" | "https" */
  char *authority; /* endpoint host[:port] */
  char *bucket;
  char *prefix;
  char *region;
  char *access_key;
  char *secret_key;
  char *token; /* NULL when none */
  bool path_style;
  pthread_mutex_t lock;
  CURL *idle[POOL_MAX];
  size_t nidle;
} s3_storage;

typedef struct s3_writer {
  scribe_storage_writer base;
  s3_storage *s;
  char key[SCRIBE_STORAGE_KEY_MAX + 1];
  unsigned char *part; /* PART_SIZE bytes once the first byte arrives */
  size_t part_len;
  char *upload_id; /* multipart upload in progress, else NULL */
  int nparts;
  scribe_buf parts_xml; /* <Part>...</Part> for CompleteMultipartUpload */
  int err;              /* first error; commit reports it */
} s3_writer;

typedef struct s3_reader {
  scribe_storage_reader base;
  s3_storage *s;
  char key[SCRIBE_STORAGE_KEY_MAX + 1];
  uint64_t size, pos;
  unsigned char *win; /* READ_WINDOW bytes */
  uint64_t win_off;
  size_t win_len;
  char etag[160];
  char version[256];
} s3_reader;

/* One HTTP exchange. */
typedef struct call {
  /* request */
  const char *method;
  const char *key;   /* object key without prefix */
  const char *query; /* wire query string, or NULL */
  const char *range; /* Range header value, or NULL */
  uint64_t range_start;
  const char *if_match;
  const char *content_type;
  const unsigned char *body; /* PUT/POST body, may be NULL with body_len 0 */
  size_t body_len;
  bool idempotent;
  /* 2xx body sink (GET); NULL: 2xx bodies go to xml */
  unsigned char *sink;
  size_t sink_cap;
  /* response */
  long status;
  size_t sink_len;
  bool sink_full; /* stopped on purpose once the sink was full */
  uint64_t skip;  /* bytes still to drop (server ignored Range) */
  bool first_chunk;
  scribe_buf xml;
  char etag[160];
  char content_range[128];
  char version[256];
  curl_off_t content_length;
  int attempts; /* how many times perform() sent it */
  /* internal */
  size_t body_off;
  CURL *h;
} call;

extern const scribe_storage_backend scribe_storage_s3;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

/* ---- small helpers ------------------------------------------------------ */

static char *xstrdup(const char *s) {
  size_t n = strlen(s);
  char *p = malloc(n + 1);
  if (p) memcpy(p, s, n + 1);
  return p;
}

static bool nonempty(const char *s) { return s && s[0]; }

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

/* Text between <tag> and </tag> in xml[0..len), XML entities decoded, into
 * out; false when absent or too long. */
static bool xml_tag(const char *xml, size_t len, const char *tag, char *out, size_t outlen) {
  char open[64], close[64];
  snprintf(open, sizeof(open), "<%s>", tag);
  snprintf(close, sizeof(close), "</%s>", tag);
  if (!xml) return false;
  const char *a = memmem(xml, len, open, strlen(open));
  if (!a) return false;
  a += strlen(open);
  const char *b = memmem(a, len - (size_t)(a - xml), close, strlen(close));
  if (!b) return false;
  size_t o = 0;
  for (const char *p = a; p < b; p++) {
    char c = *p;
    if (c == '&') {
      static const struct {
        const char *e;
        char c;
      } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
      for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
        size_t n = strlen(ents[i].e);
        if ((size_t)(b - p) >= n && memcmp(p, ents[i].e, n) == 0) {
          c = ents[i].c;
          p += n - 1;
          break;
        }
      }
    }
    if (o + 1 >= outlen) return false;
    out[o++] = c;
  }
  out[o] = '\0';
  return true;
}

static int xml_escape(scribe_buf *b, const char *s) {
  int rc = SCRIBE_OK;
  for (; *s && rc == SCRIBE_OK; s++) {
    switch (*s) {
      case '&': rc = scribe_buf_appends(b, "&amp;"); break;
      case '<': rc = scribe_buf_appends(b, "&lt;"); break;
      case '>': rc = scribe_buf_appends(b, "&gt;"); break;
      case '"': rc = scribe_buf_appends(b, "&quot;"); break;
      default: rc = scribe_buf_append(b, s, 1);
    }
  }
  return rc;
}

/* ---- curl handle pool --------------------------------------------------- */

static CURL *handle_get(s3_storage *s) {
  CURL *h = NULL;
  pthread_mutex_lock(&s->lock);
  if (s->nidle) h = s->idle[--s->nidle];
  pthread_mutex_unlock(&s->lock);
  if (h) curl_easy_reset(h);
  else h = curl_easy_init();
  return h;
}

static void handle_put(s3_storage *s, CURL *h) {
  if (!h) return;
  pthread_mutex_lock(&s->lock);
  if (s->nidle < POOL_MAX) {
    s->idle[s->nidle++] = h;
    h = NULL;
  }
  pthread_mutex_unlock(&s->lock);
  if (h) curl_easy_cleanup(h);
}

/* ---- one request -------------------------------------------------------- */

static size_t on_header(char *data, size_t size, size_t n, void *ud) {
  call *c = ud;
  size_t len = size * n;
  if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
    /* A new response (after a 100 Continue or a redirect): start afresh. */
    c->etag[0] = c->content_range[0] = c->version[0] = '\0';
    return len;
  }
  const char *colon = memchr(data, ':', len);
  if (!colon) return len;
  size_t nlen = (size_t)(colon - data);
  const char *v = colon + 1;
  size_t vlen = len - nlen - 1;
  while (vlen && (*v == ' ' || *v == '\t')) v++, vlen--;
  while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' ')) vlen--;
  char *dst = NULL;
  size_t dstlen = 0;
  if (nlen == 4 && strncasecmp(data, "etag", 4) == 0) dst = c->etag, dstlen = sizeof(c->etag);
  else if (nlen == 13 && strncasecmp(data, "content-range", 13) == 0)
    dst = c->content_range, dstlen = sizeof(c->content_range);
  else if (nlen == 16 && strncasecmp(data, "x-amz-version-id", 16) == 0)
    dst = c->version, dstlen = sizeof(c->version);
  if (dst) {
    if (vlen >= dstlen) vlen = 0; /* absurdly long: ignore */
    memcpy(dst, v, vlen);
    dst[vlen] = '\0';
  }
  return len;
}

static size_t on_write(char *data, size_t size, size_t n, void *ud) {
  call *c = ud;
  size_t len = size * n;
  if (c->first_chunk) {
    c->first_chunk = false;
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &c->status);
    /* A server that ignored our Range sends the object from byte 0. */
    if (c->status == 200 && c->range) c->skip = c->range_start;
  }
  if (c->status < 200 || c->status > 299 || !c->sink) {
    if (c->xml.len < c->xml.max) {
      size_t room = c->xml.max - c->xml.len;
      if (scribe_buf_append(&c->xml, data, len < room ? len : room) != SCRIBE_OK) return 0;
    }
    return len; /* drain the rest */
  }
  size_t off = 0;
  if (c->skip) {
    size_t drop = c->skip < len ? (size_t)c->skip : len;
    c->skip -= drop;
    off = drop;
  }
  size_t want = len - off, room = c->sink_cap - c->sink_len;
  if (want > room) {
    memcpy(c->sink + c->sink_len, data + off, room);
    c->sink_len += room;
    c->sink_full = true;
    return 0; /* we have all we asked for: stop the transfer */
  }
  memcpy(c->sink + c->sink_len, data + off, want);
  c->sink_len += want;
  return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *ud) {
  call *c = ud;
  size_t room = size * n, left = c->body_len - c->body_off;
  size_t k = left < room ? left : room;
  if (k) memcpy(buf, c->body + c->body_off, k);
  c->body_off += k;
  return k;
}

static int on_seek(void *ud, curl_off_t offset, int origin) {
  call *c = ud;
  if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > c->body_len)
    return CURL_SEEKFUNC_FAIL;
  c->body_off = (size_t)offset;
  return CURL_SEEKFUNC_OK;
}

/* Path on the wire for `key` (NULL: the bucket itself) and the Host value. */
static int build_target(s3_storage *s, const char *key, scribe_buf *path, scribe_buf *host) {
  int rc = SCRIBE_OK;
  if (s->path_style) {
    rc = scribe_buf_appends(host, s->authority);
    if (rc == SCRIBE_OK) rc = scribe_buf_appends(path, "/");
    if (rc == SCRIBE_OK) rc = scribe_sigv4_uri_encode(path, s->bucket, strlen(s->bucket), false);
    if (rc == SCRIBE_OK) rc = scribe_buf_appends(path, "/");
  } else {
    rc = scribe_buf_printf(host, "%s.%s", s->bucket, s->authority);
    if (rc == SCRIBE_OK) rc = scribe_buf_appends(path, "/");
  }
  if (rc == SCRIBE_OK && key) {
    rc = scribe_sigv4_uri_encode(path, s->prefix, strlen(s->prefix), true);
    if (rc == SCRIBE_OK) rc = scribe_sigv4_uri_encode(path, key, strlen(key), true);
  }
  return rc;
}

static int map_curl(CURLcode cc) {
  switch (cc) {
    case CURLE_OK: return SCRIBE_OK;
    case CURLE_OPERATION_TIMEDOUT: return SCRIBE_ETIMEOUT;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM: return SCRIBE_EUNAVAILABLE;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT: return SCRIBE_ECONFIG;
    case CURLE_OUT_OF_MEMORY: return SCRIBE_ENOMEM;
    case CURLE_ABORTED_BY_CALLBACK: return SCRIBE_ECANCELED;
    default: return SCRIBE_EIO;
  }
}

/* HTTP status + S3 error code -> SCRIBE_E*; logs what an operator needs. */
static int map_status(const call *c, const char *code) {
  long st = c->status;
  if (st >= 200 && st <= 299) return SCRIBE_OK;
  if (st == 404) {
    if (strcmp(code, "NoSuchBucket") == 0) {
      LOG_ERROR("s3: bucket does not exist (check storage.s3_bucket and endpoint)");
      return SCRIBE_ECONFIG;
    }
    return SCRIBE_ENOTFOUND;
  }
  if (st == 403) {
    if (strcmp(code, "RequestTimeTooSkewed") == 0)
      LOG_ERROR("s3: %s refused: this machine's clock is off, fix it (NTP)", c->method);
    else
      LOG_ERROR("s3: %s refused with 403%s%s: check credentials (access key, secret key, "
                "session token), region and bucket policy", c->method, code[0] ? " " : "",
                code);
    return SCRIBE_EFORBIDDEN;
  }
  if (st == 400) {
    if (strcmp(code, "RequestTimeout") == 0) return SCRIBE_ETIMEOUT;
    if (strcmp(code, "ExpiredToken") == 0) {
      LOG_ERROR("s3: session token expired: check credentials");
      return SCRIBE_EEXPIRED;
    }
    if (strcmp(code, "AuthorizationHeaderMalformed") == 0 ||
        strcmp(code, "InvalidBucketName") == 0) {
      LOG_ERROR("s3: %s refused with 400 %s: check region and bucket", c->method, code);
      return SCRIBE_ECONFIG;
    }
    LOG_WARN("s3: %s refused with 400 %s", c->method, code);
    return SCRIBE_EINVAL;
  }
  if (st == 412 || st == 409) return SCRIBE_EAGAIN;
  if (st == 416) return SCRIBE_EINVAL; /* readers handle it */
  if (st == 429 || (st >= 500 && st != 501)) return SCRIBE_EUNAVAILABLE;
  if (st == 501) return SCRIBE_EINTERNAL;
  LOG_WARN("s3: %s answered HTTP %ld %s", c->method, st, code);
  return SCRIBE_EIO;
}

static bool retryable(int rc) {
  return rc == SCRIBE_EUNAVAILABLE || rc == SCRIBE_ETIMEOUT;
}

/* Performs c once (fresh signature each time).  Returns the mapped result;
 * c->status and the response fields are filled. */
static int perform_once(s3_storage *s, call *c) {
  scribe_buf path, host, url, hv;
  scribe_buf_init(&path, 8192);
  scribe_buf_init(&host, 1024);
  scribe_buf_init(&url, 16384);
  scribe_buf_init(&hv, 8192);
  struct curl_slist *hdrs = NULL;
  int rc = build_target(s, c->key, &path, &host);
  if (rc == SCRIBE_OK)
    rc = scribe_buf_printf(&url, "%s://%s%s%s%s", s->scheme, host.data, path.data,
                           nonempty(c->query) ? "?" : "", nonempty(c->query) ? c->query : "");
  if (rc) goto done;

  char payload[65];
  scribe_sigv4_sha256_hex(c->body, c->body_len, payload);
  scribe_sigv4_header sh[4];
  size_t nsh = 0;
  sh[nsh++] = (scribe_sigv4_header){"host", host.data};
  if (c->range) sh[nsh++] = (scribe_sigv4_header){"range", c->range};
  if (c->if_match) sh[nsh++] = (scribe_sigv4_header){"if-match", c->if_match};
  scribe_sigv4_request rq = {.method = c->method, .path = path.data, .query = c->query,
                             .headers = sh, .nheaders = nsh, .payload_hash = payload,
                             .s3 = true};
  scribe_sigv4_creds cr = {.access_key = s->access_key, .secret_key = s->secret_key,
                           .session_token = s->token, .region = s->region, .service = "s3"};
  scribe_sigv4_result sig;
  rc = scribe_sigv4_sign(&rq, &cr, &sig);
  if (rc) goto done;

  size_t nl = 0;
  scribe_buf_reset(&hv);
  /* Each header as "Name: value\0" in hv, then handed to the slist. */
  size_t offs[10];
#define ADDH(...)                                                   \
  do {                                                              \
    offs[nl++] = hv.len;                                            \
    if (rc == SCRIBE_OK) rc = scribe_buf_printf(&hv, __VA_ARGS__);  \
    if (rc == SCRIBE_OK) rc = scribe_buf_append(&hv, "", 1);        \
  } while (0)
  ADDH("Host: %s", host.data);
  ADDH("x-amz-date: %s", sig.amz_date);
  ADDH("x-amz-content-sha256: %s", sig.content_sha256);
  ADDH("Authorization: %s", sig.authorization);
  if (s->token) ADDH("x-amz-security-token: %s", s->token);
  if (c->range) ADDH("Range: %s", c->range);
  if (c->if_match) ADDH("If-Match: %s", c->if_match);
  ADDH("Content-Type:%s%s", c->content_type ? " " : "", c->content_type ? c->content_type : "");
  ADDH("Expect:");
#undef ADDH
  memset(&sig, 0, sizeof(sig));
  if (rc) goto done;
  for (size_t i = 0; i < nl; i++) {
    struct curl_slist *t = curl_slist_append(hdrs, hv.data + offs[i]);
    if (!t) {
      rc = SCRIBE_ENOMEM;
      goto done;
    }
    hdrs = t;
  }

  CURL *h = c->h;
  c->status = 0;
  c->sink_len = 0;
  c->sink_full = false;
  c->skip = 0;
  c->first_chunk = true;
  c->body_off = 0;
  c->content_length = -1;
  c->etag[0] = c->content_range[0] = c->version[0] = '\0';
  scribe_buf_reset(&c->xml);

  curl_easy_setopt(h, CURLOPT_URL, url.data);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, LOW_SPEED_TIME_S);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
  if (strcmp(c->method, "HEAD") == 0) {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (strcmp(c->method, "PUT") == 0) {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, c);
    curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(h, CURLOPT_SEEKDATA, c);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->body_len);
  } else if (strcmp(c->method, "POST") == 0) {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body ? (const char *)c->body : "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
  } else if (strcmp(c->method, "GET") != 0) {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
  }

  CURLcode cc = curl_easy_perform(h);
  if (cc == CURLE_WRITE_ERROR && c->sink_full) cc = CURLE_OK;
  long st = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
  c->status = st;
  curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &c->content_length);
  if (cc != CURLE_OK) {
    rc = map_curl(cc);
    LOG_WARN("s3: %s failed: %s", c->method, curl_easy_strerror(cc));
  } else {
    char code[128] = "";
    xml_tag(c->xml.data, c->xml.len, "Code", code, sizeof(code));
    rc = map_status(c, code);
  }

done:
  curl_slist_free_all(hdrs);
  /* hv held the Authorization header: wipe before freeing. */
  if (hv.data) memset(hv.data, 0, hv.cap);
  scribe_buf_release(&hv);
  scribe_buf_release(&path);
  scribe_buf_release(&host);
  scribe_buf_release(&url);
  return rc;
}

/* Performs c with retries for transient failures of idempotent requests. */
static int perform(s3_storage *s, call *c) {
  c->h = handle_get(s);
  if (!c->h) return SCRIBE_ENOMEM;
  if (!c->xml.max) scribe_buf_init(&c->xml, XML_MAX);
  int rc = SCRIBE_EINTERNAL;
  long backoff = 100;
  for (int attempt = 1; attempt <= ATTEMPTS; attempt++) {
    c->attempts = attempt;
    rc = perform_once(s, c);
    if (!c->idempotent || !retryable(rc) || attempt == ATTEMPTS) break;
    LOG_WARN("s3: %s attempt %d: %s, retrying in %ld ms", c->method, attempt,
             scribe_strerror(rc), backoff);
    sleep_ms(backoff + rand() % (backoff / 2 + 1));
    backoff *= 4;
  }
  handle_put(s, c->h);
  c->h = NULL;
  return rc;
}

static void call_release(call *c) { scribe_buf_release(&c->xml); }

/* ---- create / free ------------------------------------------------------ */

static void s3_free(scribe_storage *base) {
  s3_storage *s = (s3_storage *)base;
  if (!s) return;
  for (size_t i = 0; i < s->nidle; i++) curl_easy_cleanup(s->idle[i]);
  pthread_mutex_destroy(&s->lock);
  free(s->scheme);
  free(s->authority);
  free(s->bucket);
  free(s->prefix);
  free(s->region);
  free(s->access_key);
  if (s->secret_key) memset(s->secret_key, 0, strlen(s->secret_key));
  free(s->secret_key);
  if (s->token) memset(s->token, 0, strlen(s->token));
  free(s->token);
  free(s);
}

static bool bucket_ok(const char *b, bool path_style) {
  size_t n = strlen(b);
  if (n < 1 || n > 255) return false;
  for (size_t i = 0; i < n; i++) {
    char c = b[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
              (path_style && ((c >= 'A' && c <= 'Z') || c == '_'));
    if (!ok) return false;
  }
  return true;
}

static scribe_storage *s3_create(const scribe_storage_params *p, char *err, size_t errlen) {
  pthread_once(&curl_once, curl_init);
  if (curl_init_rc != CURLE_OK) {
    snprintf(err, errlen, "s3: libcurl initialisation failed");
    return NULL;
  }
  if (!nonempty(p->s3_bucket)) {
    snprintf(err, errlen, "s3: no bucket configured");
    return NULL;
  }
  if (!bucket_ok(p->s3_bucket, p->s3_path_style)) {
    snprintf(err, errlen, "s3: invalid bucket name%s",
             p->s3_path_style ? "" : " (virtual-host addressing needs a DNS-compatible name)");
    return NULL;
  }
  if (!nonempty(p->s3_access_key) || !nonempty(p->s3_secret_key)) {
    snprintf(err, errlen, "s3: access key and secret key are required");
    return NULL;
  }
  if (strchr(p->s3_access_key, '/') || strpbrk(p->s3_access_key, " \r\n")) {
    snprintf(err, errlen, "s3: invalid access key id");
    return NULL;
  }
  const char *region = nonempty(p->s3_region) ? p->s3_region : "us-east-1";
  if (strpbrk(region, "/ \r\n")) {
    snprintf(err, errlen, "s3: invalid region");
    return NULL;
  }
  if (p->s3_session_token && strpbrk(p->s3_session_token, "\r\n")) {
    snprintf(err, errlen, "s3: invalid session token");
    return NULL;
  }
  /* Endpoint: scheme://authority with no path, query or user info. */
  char def_ep[300];
  const char *ep = p->s3_endpoint;
  if (!nonempty(ep)) {
    snprintf(def_ep, sizeof(def_ep), "https://s3.%s.amazonaws.com", region);
    ep = def_ep;
  }
  const char *auth;
  char scheme[8];
  if (strncmp(ep, "http://", 7) == 0) auth = ep + 7, snprintf(scheme, sizeof(scheme), "http");
  else if (strncmp(ep, "https://", 8) == 0)
    auth = ep + 8, snprintf(scheme, sizeof(scheme), "https");
  else {
    snprintf(err, errlen, "s3: endpoint must start with http:// or https://");
    return NULL;
  }
  size_t alen = strcspn(auth, "/?#");
  bool tail_ok = auth[alen] == '\0' || (auth[alen] == '/' && auth[alen + 1] == '\0');
  if (alen == 0 || !tail_ok || memchr(auth, '@', alen) || memchr(auth, ' ', alen)) {
    snprintf(err, errlen, "s3: endpoint must be scheme://host[:port] with no path");
    return NULL;
  }
  if (!p->s3_path_style && memchr(auth, '[', alen)) {
    snprintf(err, errlen, "s3: virtual-host addressing needs a host name endpoint");
    return NULL;
  }

  s3_storage *s = calloc(1, sizeof(*s));
  if (!s) {
    snprintf(err, errlen, "s3: out of memory");
    return NULL;
  }
  pthread_mutex_init(&s->lock, NULL);
  s->scheme = xstrdup(scheme);
  s->authority = malloc(alen + 1);
  if (s->authority) {
    memcpy(s->authority, auth, alen);
    s->authority[alen] = '\0';
  }
  s->bucket = xstrdup(p->s3_bucket);
  s->prefix = xstrdup(p->s3_prefix ? p->s3_prefix : "");
  s->region = xstrdup(region);
  s->access_key = xstrdup(p->s3_access_key);
  s->secret_key = xstrdup(p->s3_secret_key);
  s->token = nonempty(p->s3_session_token) ? xstrdup(p->s3_session_token) : NULL;
  s->path_style = p->s3_path_style;
  if (!s->scheme || !s->authority || !s->bucket || !s->prefix || !s->region ||
      !s->access_key || !s->secret_key || (nonempty(p->s3_session_token) && !s->token)) {
    snprintf(err, errlen, "s3: out of memory");
    s3_free(&s->base);
    return NULL;
  }
  if (strlen(s->prefix) > 512) {
    snprintf(err, errlen, "s3: prefix longer than 512 bytes");
    s3_free(&s->base);
    return NULL;
  }
  /* No request here: a store that is down at start is a transient error of
   * the first operation, not a failure to start. */
  LOG_DEBUG("s3: bucket %s at %s://%s (%s addressing, region %s)", s->bucket, s->scheme,
            s->authority, s->path_style ? "path" : "virtual-host", s->region);
  return &s->base;
}

/* ---- writes ------------------------------------------------------------- */

static int s3_put_begin(scribe_storage *base, const char *key, scribe_storage_writer **out) {
  s3_writer *w = calloc(1, sizeof(*w));
  if (!w) return SCRIBE_ENOMEM;
  w->s = (s3_storage *)base;
  snprintf(w->key, sizeof(w->key), "%s", key);
  scribe_buf_init(&w->parts_xml, (size_t)MAX_PARTS * 256);
  *out = &w->base;
  return SCRIBE_OK;
}

static int start_multipart(s3_writer *w) {
  call c = {.method = "POST", .key = w->key, .query = "uploads",
            .idempotent = true};
  int rc = perform(w->s, &c);
  if (rc == SCRIBE_OK) {
    char id[1024];
    if (!xml_tag(c.xml.data, c.xml.len, "UploadId", id, sizeof(id)) || !id[0]) {
      LOG_ERROR("s3: CreateMultipartUpload answered without an UploadId");
      rc = SCRIBE_EIO;
    } else if (!(w->upload_id = xstrdup(id))) {
      rc = SCRIBE_ENOMEM;
    }
  }
  call_release(&c);
  return rc;
}

/* "partNumber=N&uploadId=..." or "uploadId=..." into q. */
static int upload_query(scribe_buf *q, const s3_writer *w, int part) {
  int rc = SCRIBE_OK;
  if (part > 0) rc = scribe_buf_printf(q, "partNumber=%d&", part);
  if (rc == SCRIBE_OK) rc = scribe_buf_appends(q, "uploadId=");
  if (rc == SCRIBE_OK)
    rc = scribe_sigv4_uri_encode(q, w->upload_id, strlen(w->upload_id), false);
  return rc;
}

static int upload_part(s3_writer *w) {
  if (w->nparts >= MAX_PARTS) return SCRIBE_ETOOBIG;
  if (!w->upload_id) {
    int rc = start_multipart(w);
    if (rc) return rc;
  }
  scribe_buf q;
  scribe_buf_init(&q, 4096);
  int part = w->nparts + 1;
  int rc = upload_query(&q, w, part);
  if (rc) {
    scribe_buf_release(&q);
    return rc;
  }
  call c = {.method = "PUT", .key = w->key, .query = q.data, .body = w->part,
            .body_len = w->part_len, .idempotent = true};
  rc = perform(w->s, &c);
  if (rc == SCRIBE_OK && !c.etag[0]) {
    LOG_ERROR("s3: UploadPart answered without an ETag");
    rc = SCRIBE_EIO;
  }
  if (rc == SCRIBE_OK) {
    rc = scribe_buf_printf(&w->parts_xml, "<Part><PartNumber>%d</PartNumber><ETag>", part);
    if (rc == SCRIBE_OK) rc = xml_escape(&w->parts_xml, c.etag);
    if (rc == SCRIBE_OK) rc = scribe_buf_appends(&w->parts_xml, "</ETag></Part>");
  }
  if (rc == SCRIBE_OK) {
    w->nparts = part;
    w->part_len = 0;
  }
  call_release(&c);
  scribe_buf_release(&q);
  return rc;
}

static int s3_write(scribe_storage_writer *base, const void *data, size_t len) {
  s3_writer *w = (s3_writer *)base;
  if (w->err) return w->err;
  if (!w->part && !(w->part = malloc(PART_SIZE))) return w->err = SCRIBE_ENOMEM;
  const unsigned char *p = data;
  while (len) {
    size_t room = PART_SIZE - w->part_len, k = len < room ? len : room;
    memcpy(w->part + w->part_len, p, k);
    w->part_len += k;
    p += k;
    len -= k;
    if (w->part_len == PART_SIZE) {
      int rc = upload_part(w);
      if (rc) return w->err = rc;
    }
  }
  return SCRIBE_OK;
}

static void abort_upload(s3_writer *w) {
  if (!w->upload_id) return;
  scribe_buf q;
  scribe_buf_init(&q, 4096);
  if (upload_query(&q, w, 0) == SCRIBE_OK) {
    call c = {.method = "DELETE", .key = w->key, .query = q.data, .idempotent = true};
    int rc = perform(w->s, &c);
    if (rc != SCRIBE_OK && rc != SCRIBE_ENOTFOUND)
      LOG_WARN("s3: AbortMultipartUpload failed (%s); a lifecycle rule should clean it up",
               scribe_strerror(rc));
    call_release(&c);
  }
  scribe_buf_release(&q);
}

static void writer_free(s3_writer *w) {
  free(w->part);
  free(w->upload_id);
  scribe_buf_release(&w->parts_xml);
  free(w);
}

static int stat_key(s3_storage *s, const char *key, uint64_t *size);

static int complete_upload(s3_writer *w) {
  scribe_buf q, body;
  scribe_buf_init(&q, 4096);
  scribe_buf_init(&body, w->parts_xml.len + 256);
  int rc = upload_query(&q, w, 0);
  if (rc == SCRIBE_OK) rc = scribe_buf_appends(&body, "<CompleteMultipartUpload>");
  if (rc == SCRIBE_OK) rc = scribe_buf_append(&body, w->parts_xml.data, w->parts_xml.len);
  if (rc == SCRIBE_OK) rc = scribe_buf_appends(&body, "</CompleteMultipartUpload>");
  /* perform() retries transient failures; this loop only repeats when S3
   * answered 200 with an InternalError in the body (documented S3 behaviour
   * for CompleteMultipartUpload). */
  for (int round = 1; rc == SCRIBE_OK && round <= 3; round++) {
    call c = {.method = "POST", .key = w->key, .query = q.data,
              .body = (const unsigned char *)body.data, .body_len = body.len,
              .content_type = "application/xml", .idempotent = true};
    int r = perform(w->s, &c);
    bool again = false;
    char code[128] = "";
    if (r == SCRIBE_OK && memmem(c.xml.data ? c.xml.data : "", c.xml.len, "<Error>", 7)) {
      xml_tag(c.xml.data, c.xml.len, "Code", code, sizeof(code));
      LOG_WARN("s3: CompleteMultipartUpload reported %s", code);
      again = strcmp(code, "InternalError") == 0 || strcmp(code, "SlowDown") == 0;
      r = again ? SCRIBE_EUNAVAILABLE : SCRIBE_EIO;
    } else if (r == SCRIBE_ENOTFOUND && (c.attempts > 1 || round > 1)) {
      /* NoSuchUpload after a repeated request: the earlier one completed the
       * upload and its answer was lost.  Check the object is there. */
      uint64_t size;
      r = stat_key(w->s, w->key, &size);
    }
    call_release(&c);
    rc = r;
    if (!again || round == 3) break;
    sleep_ms(200L * round);
    rc = SCRIBE_OK;
  }
  scribe_buf_release(&q);
  scribe_buf_release(&body);
  return rc;
}

static int s3_commit(scribe_storage_writer *base) {
  s3_writer *w = (s3_writer *)base;
  int rc = w->err;
  if (rc == SCRIBE_OK && !w->upload_id) {
    /* Small object: one PUT. */
    call c = {.method = "PUT", .key = w->key, .body = w->part, .body_len = w->part_len,
              .idempotent = true};
    rc = perform(w->s, &c);
    call_release(&c);
  } else if (rc == SCRIBE_OK) {
    if (w->part_len > 0) rc = upload_part(w);
    if (rc == SCRIBE_OK) rc = complete_upload(w);
  }
  if (rc != SCRIBE_OK) abort_upload(w);
  writer_free(w);
  return rc;
}

static void s3_abort(scribe_storage_writer *base) {
  s3_writer *w = (s3_writer *)base;
  abort_upload(w);
  writer_free(w);
}

/* ---- reads -------------------------------------------------------------- */

/* Fetches the window starting at off into r->win. */
static int fetch_window(s3_reader *r, uint64_t off, bool first) {
  char range[80], query[400];
  uint64_t end = off + READ_WINDOW - 1;
  if (!first && end >= r->size) end = r->size - 1;
  snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)off,
           (unsigned long long)end);
  query[0] = '\0';
  if (!first && r->version[0]) {
    scribe_buf q;
    scribe_buf_init(&q, sizeof(query) - 1);
    int rc = scribe_buf_appends(&q, "versionId=");
    if (rc == SCRIBE_OK) rc = scribe_sigv4_uri_encode(&q, r->version, strlen(r->version), false);
    if (rc == SCRIBE_OK) memcpy(query, q.data, q.len + 1);
    scribe_buf_release(&q);
  }
  call c = {.method = "GET", .key = r->key, .query = query[0] ? query : NULL,
            .range = range, .range_start = off,
            .if_match = (!first && r->etag[0] && !r->version[0]) ? r->etag : NULL,
            .sink = r->win, .sink_cap = READ_WINDOW, .idempotent = true};
  int rc = perform(r->s, &c);
  if (first && c.status == 416) {
    /* Only an empty object cannot satisfy bytes=0-. */
    r->size = 0;
    r->win_off = 0;
    r->win_len = 0;
    call_release(&c);
    return SCRIBE_OK;
  }
  if (!first && (rc == SCRIBE_EAGAIN || c.status == 416)) {
    LOG_WARN("s3: object changed while a reader was open");
    rc = SCRIBE_EAGAIN;
  }
  if (rc == SCRIBE_OK) {
    if (first) {
      uint64_t total = 0;
      const char *slash = strrchr(c.content_range, '/');
      if (c.status == 206 && slash && slash[1] != '*') {
        total = strtoull(slash + 1, NULL, 10);
      } else if (c.status == 200 && c.content_length >= 0) {
        total = (uint64_t)c.content_length;
      } else {
        LOG_ERROR("s3: GET answered %ld without a usable size", c.status);
        rc = SCRIBE_EIO;
      }
      r->size = total;
      snprintf(r->etag, sizeof(r->etag), "%s", c.etag);
      snprintf(r->version, sizeof(r->version), "%s", c.version);
    } else if (r->etag[0] && c.etag[0] && strcmp(r->etag, c.etag) != 0) {
      /* Servers that ignore If-Match: check the ETag ourselves. */
      LOG_WARN("s3: object changed while a reader was open");
      rc = SCRIBE_EAGAIN;
    }
  }
  if (rc == SCRIBE_OK) {
    uint64_t want = (end < r->size ? end + 1 : r->size) - off;
    if (off < r->size && c.sink_len < want && !first) {
      LOG_WARN("s3: short ranged GET (%zu of %llu bytes)", c.sink_len,
               (unsigned long long)want);
      rc = SCRIBE_EUNAVAILABLE;
    } else {
      r->win_off = off;
      r->win_len = c.sink_len;
    }
  }
  call_release(&c);
  return rc;
}

static int s3_open(scribe_storage *base, const char *key, scribe_storage_reader **out,
                   uint64_t *size) {
  s3_reader *r = calloc(1, sizeof(*r));
  if (!r) return SCRIBE_ENOMEM;
  r->s = (s3_storage *)base;
  snprintf(r->key, sizeof(r->key), "%s", key);
  r->win = malloc(READ_WINDOW);
  if (!r->win) {
    free(r);
    return SCRIBE_ENOMEM;
  }
  int rc = fetch_window(r, 0, true);
  if (rc) {
    free(r->win);
    free(r);
    return rc;
  }
  *size = r->size;
  *out = &r->base;
  return SCRIBE_OK;
}

static long s3_read(scribe_storage_reader *base, void *buf, size_t n) {
  s3_reader *r = (s3_reader *)base;
  if (r->pos >= r->size) return 0;
  if (r->pos < r->win_off || r->pos >= r->win_off + r->win_len) {
    int rc = fetch_window(r, r->pos, false);
    if (rc) return rc;
    if (r->win_len == 0) return SCRIBE_EIO;
  }
  size_t at = (size_t)(r->pos - r->win_off), avail = r->win_len - at;
  if (n > avail) n = avail;
  if (n > (size_t)1 << 30) n = (size_t)1 << 30;
  memcpy(buf, r->win + at, n);
  r->pos += n;
  return (long)n;
}

static int64_t s3_seek(scribe_storage_reader *base, int64_t offset, int whence) {
  s3_reader *r = (s3_reader *)base;
  int64_t origin = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t)r->pos
                                                               : (int64_t)r->size;
  if ((offset > 0 && origin > INT64_MAX - offset) || origin + offset < 0) return SCRIBE_EINVAL;
  r->pos = (uint64_t)(origin + offset);
  return (int64_t)r->pos;
}

static void s3_close(scribe_storage_reader *base) {
  s3_reader *r = (s3_reader *)base;
  free(r->win);
  free(r);
}

/* ---- stat / remove / presign -------------------------------------------- */

static int stat_key(s3_storage *s, const char *key, uint64_t *size) {
  call c = {.method = "HEAD", .key = key, .idempotent = true};
  int rc = perform(s, &c);
  if (rc == SCRIBE_OK) {
    if (c.content_length < 0) rc = SCRIBE_EIO;
    else *size = (uint64_t)c.content_length;
  }
  call_release(&c);
  return rc;
}

static int s3_stat(scribe_storage *base, const char *key, uint64_t *size) {
  return stat_key((s3_storage *)base, key, size);
}

static int s3_remove(scribe_storage *base, const char *key) {
  s3_storage *s = (s3_storage *)base;
  /* S3 answers 204 for absent keys too; the contract wants NOTFOUND. */
  uint64_t size;
  int rc = stat_key(s, key, &size);
  if (rc) return rc;
  call c = {.method = "DELETE", .key = key, .idempotent = true};
  rc = perform(s, &c);
  call_release(&c);
  return rc;
}

static int s3_presign_put(scribe_storage *base, const char *key, long expires, char **url) {
  s3_storage *s = (s3_storage *)base;
  scribe_buf path, host, u;
  scribe_buf_init(&path, 8192);
  scribe_buf_init(&host, 1024);
  scribe_buf_init(&u, 65536);
  char *query = NULL;
  int rc = build_target(s, key, &path, &host);
  if (rc) goto done;
  scribe_sigv4_header h[] = {{"host", host.data}};
  scribe_sigv4_request rq = {.method = "PUT", .path = path.data, .headers = h, .nheaders = 1,
                             .s3 = true};
  scribe_sigv4_creds cr = {.access_key = s->access_key, .secret_key = s->secret_key,
                           .session_token = s->token, .region = s->region, .service = "s3"};
  rc = scribe_sigv4_presign(&rq, &cr, expires, &query);
  if (rc) goto done;
  rc = scribe_buf_printf(&u, "%s://%s%s?%s", s->scheme, host.data, path.data, query);
  if (rc) goto done;
  *url = scribe_buf_steal(&u);
  if (!*url) rc = SCRIBE_ENOMEM;
done:
  free(query);
  scribe_buf_release(&path);
  scribe_buf_release(&host);
  scribe_buf_release(&u);
  return rc;
}

const scribe_storage_backend scribe_storage_s3 = {
    .version = 1,
    .name = "s3",
    .create = s3_create,
    .free = s3_free,
    .put_begin = s3_put_begin,
    .write = s3_write,
    .commit = s3_commit,
    .abort = s3_abort,
    .open = s3_open,
    .read = s3_read,
    .seek = s3_seek,
    .close = s3_close,
    .stat = s3_stat,
    .remove = s3_remove,
    .presign_put = s3_presign_put,
};
