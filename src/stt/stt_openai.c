/*
 * stt_openai.c - the "openai" backend: any OpenAI-compatible
 * POST /v1/audio/transcriptions server (OpenAI, whisper.cpp's server,
 * faster-whisper servers), over libcurl.
 *
 * Each request is a multipart/form-data upload: `file` (the PCM as a 16 kHz
 * mono 16-bit WAV built in memory), `model`, `response_format=verbose_json`
 * and, when set, `language` and `prompt`.  The reply's `segments`
 * [{start, end, text}] become our segments; a reply without segments gives one
 * segment with its `text`.
 *
 * Long audio: uploads are bounded.  scribe_stt_vad() finds the speech; spans
 * are grouped into chunks of at most chunk_seconds (default 600 s, ~19 MB of
 * WAV, under OpenAI's 25 MB limit) that start and end at pauses, and each
 * chunk is one request whose segment times are offset by the chunk's start.
 * Silence between chunks and silence-only input are never sent (Whisper
 * invents text on silence).
 *
 * Errors (the worker retries transient ones later):
 *   429, 408, 5xx, timeouts, connection errors -> retried here with
 *     exponential backoff (Retry-After honoured), then SCRIBE_ETIMEOUT when
 *     the last attempt timed out, else SCRIBE_EUNAVAILABLE;
 *   401/403 -> SCRIBE_EFORBIDDEN, 413 -> SCRIBE_ETOOBIG, 404 -> SCRIBE_ECONFIG,
 *   other 4xx -> SCRIBE_EINVAL with the server's message (sanitised), no retry.
 *
 * Privacy: the API key is sent only in the Authorization header, never logged
 * or copied into error messages (a server message that echoes it is
 * redacted), and wiped when the handle is freed.  Logs carry chunk numbers,
 * durations, sizes and HTTP statuses only.  Redirects are not followed, so the
 * key and the audio go to the configured host only.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/log.h"
#include "stt/stt.h"

#define ENGINE_NAME "openai-compatible"
#define DEFAULT_MODEL "whisper-1"
#define DEFAULT_TIMEOUT_MS 300000
#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define DEFAULT_RETRIES 4
#define DEFAULT_RETRY_BASE_MS 1000
#define DEFAULT_CHUNK_SECONDS 600.0
#define MAX_BACKOFF_MS 30000
#define MAX_RETRY_AFTER_S 120 /* longer: give up now, the worker retries later */
#define MAX_RESPONSE_BYTES ((size_t)16 << 20)
#define MAX_URL_LEN 2048
#define PROGRESS_EVERY_MS 200 /* during a request or a backoff wait */

typedef struct oa_stt {
  scribe_stt base; /* first: the registry sees a scribe_stt */
  CURL *curl;      /* reused across requests: keeps the connection */
  char *endpoint;  /* .../audio/transcriptions */
  char *auth;      /* "Authorization: Bearer KEY" or NULL */
  char *key;       /* to redact server messages; NULL when none */
  char *model_name;
  char *language; /* NULL = none */
  char *prompt;   /* NULL = none */
  long timeout_ms, connect_timeout_ms;
  int max_retries, retry_base_ms;
  double chunk_seconds;
  unsigned rand_state;
} oa_stt;

/* ---- small helpers -------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;
static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *nonempty(const char *s) { return s && *s ? s : NULL; }

static char *dup_or_null(const char *s, int *oom) {
  if (!nonempty(s)) return NULL;
  char *d = strdup(s);
  if (!d) *oom = 1;
  return d;
}

/* Overwrites a secret before freeing it. */
static void free_secret(char *s) {
  if (!s) return;
  volatile char *v = s;
  while (*v) *v++ = '\0';
  free(s);
}

static int has_ctl(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) return 1;
  return 0;
}

static int starts_with_ci(const char *s, const char *prefix) {
  return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* True when the URL's host is a loopback address. */
static int is_loopback(const char *url) {
  const char *h = strstr(url, "://");
  h = h ? h + 3 : url;
  const char *at = strpbrk(h, "@/");
  if (at && *at == '@') h = at + 1;
  return starts_with_ci(h, "localhost") || strncmp(h, "127.", 4) == 0 ||
         strncmp(h, "[::1]", 5) == 0;
}

/* ---- create / free ------------------------------------------------------- */

static void oa_free(scribe_stt *stt) {
  oa_stt *s = (oa_stt *)stt;
  if (!s) return;
  if (s->curl) curl_easy_cleanup(s->curl);
  free(s->endpoint);
  free_secret(s->auth);
  free_secret(s->key);
  free(s->model_name);
  free(s->language);
  free(s->prompt);
  free(s);
}

static scribe_stt *oa_create(const scribe_stt_params *p, char *err, size_t errlen) {
  char scratch[8];
  if (!err || !errlen) {
    err = scratch;
    errlen = sizeof(scratch);
  }
  const char *url = nonempty(p->url);
  if (!url) {
    /* Name the local-engine settings that were given, so that a user who
     * configured a model directory sees that this backend ignores it. */
    const char *md = nonempty(p->model_dir);
    snprintf(err, errlen,
             "openai: no server URL configured (set stt_url, e.g. http://127.0.0.1:9000/v1)%s%s%s",
             md ? "; model_dir \"" : "", md ? md : "",
             md ? "\" is used by local engines only" : "");
    return NULL;
  }
  size_t ulen = strlen(url);
  if (ulen > MAX_URL_LEN || has_ctl(url) || strchr(url, ' ') ||
      !(starts_with_ci(url, "http://") || starts_with_ci(url, "https://"))) {
    snprintf(err, errlen, "openai: stt_url must be an http:// or https:// URL of at most %d bytes",
             MAX_URL_LEN);
    return NULL;
  }
  const char *key = nonempty(p->api_key);
  if (!key) key = nonempty(getenv("SCRIBE_STT_API_KEY"));
  if (!key) key = nonempty(getenv("OPENAI_API_KEY"));
  if (key && (strlen(key) > 4096 || has_ctl(key) || strchr(key, ' '))) {
    snprintf(err, errlen, "openai: the API key contains spaces or control characters");
    return NULL;
  }
  if (p->chunk_seconds < 0 || p->timeout_ms < 0 || p->connect_timeout_ms < 0 ||
      p->retry_base_ms < 0) {
    snprintf(err, errlen, "openai: negative timeout, retry delay or chunk length");
    return NULL;
  }
  pthread_once(&curl_once, curl_init);
  if (curl_init_rc != CURLE_OK) {
    snprintf(err, errlen, "openai: libcurl failed to initialise");
    return NULL;
  }

  oa_stt *s = calloc(1, sizeof(*s));
  if (!s) goto oom;
  /* endpoint: the base URL without trailing slashes + /audio/transcriptions
   * (unless the full endpoint was given) */
  while (ulen && url[ulen - 1] == '/') ulen--;
  static const char suffix[] = "/audio/transcriptions";
  size_t slen = sizeof(suffix) - 1;
  int full = ulen >= slen && strncmp(url + ulen - slen, suffix, slen) == 0;
  s->endpoint = malloc(ulen + slen + 1);
  if (!s->endpoint) goto oom;
  snprintf(s->endpoint, ulen + slen + 1, "%.*s%s", (int)ulen, url, full ? "" : suffix);
  int oom = 0;
  if (key) {
    static const char hdr[] = "Authorization: Bearer ";
    size_t n = sizeof(hdr) + strlen(key);
    s->auth = malloc(n);
    s->key = strdup(key);
    if (!s->auth || !s->key) goto oom;
    snprintf(s->auth, n, "%s%s", hdr, key);
  }
  s->model_name = strdup(nonempty(p->model_name) ? p->model_name : DEFAULT_MODEL);
  s->language = dup_or_null(p->language, &oom);
  s->prompt = dup_or_null(p->prompt, &oom);
  if (!s->model_name || oom) goto oom;
  s->timeout_ms = p->timeout_ms > 0 ? p->timeout_ms : DEFAULT_TIMEOUT_MS;
  s->connect_timeout_ms = p->connect_timeout_ms > 0 ? p->connect_timeout_ms
                                                    : DEFAULT_CONNECT_TIMEOUT_MS;
  if (s->connect_timeout_ms > s->timeout_ms) s->connect_timeout_ms = s->timeout_ms;
  s->max_retries = p->max_retries < 0 ? 0 : p->max_retries > 0 ? p->max_retries : DEFAULT_RETRIES;
  s->retry_base_ms = p->retry_base_ms > 0 ? p->retry_base_ms : DEFAULT_RETRY_BASE_MS;
  s->chunk_seconds = p->chunk_seconds > 0 ? p->chunk_seconds : DEFAULT_CHUNK_SECONDS;
  if (s->chunk_seconds < 1) s->chunk_seconds = 1;
  if (s->chunk_seconds > 3600) s->chunk_seconds = 3600; /* WAV sizes stay far below 4 GB */
  s->rand_state = (unsigned)(mono_ms() ^ (int64_t)(uintptr_t)s);
  s->curl = curl_easy_init();
  if (!s->curl) goto oom;
  if (starts_with_ci(url, "http://") && !is_loopback(url))
    LOG_WARN("stt openai: stt_url is plain http to a non-loopback host: audio%s travel "
             "unencrypted",
             key ? " and the API key" : "");
  return &s->base;

oom:
  oa_free(&s->base);
  snprintf(err, errlen, "openai: out of memory");
  return NULL;
}

/* ---- one request ------------------------------------------------------------ */

typedef struct {
  scribe_stt_progress_fn fn;
  void *ud;
  double base, span; /* progress fraction at the chunk start, and the chunk's share */
  double last;       /* last fraction reported (never decreases) */
  int64_t last_ms;   /* when progress was last called */
  int canceled;
} prog;

/* Calls the user's progress at most every PROGRESS_EVERY_MS unless forced;
 * returns nonzero (and remembers it) when it asks to cancel. */
static int report(prog *pg, double f, int force) {
  if (pg->canceled) return 1;
  if (!pg->fn) return 0;
  int64_t now = mono_ms();
  if (!force && now - pg->last_ms < PROGRESS_EVERY_MS) return 0;
  pg->last_ms = now;
  if (f > 1) f = 1;
  if (f < pg->last) f = pg->last;
  pg->last = f;
  if (pg->fn(pg->ud, f)) pg->canceled = 1;
  return pg->canceled;
}

static int xferinfo(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                    curl_off_t ulnow) {
  prog *pg = ud;
  /* The upload is the first half of a chunk's share; the server's work,
   * which we cannot see, the second. */
  double up = ultotal > 0 ? (double)ulnow / (double)ultotal : 0;
  return report(pg, pg->base + pg->span * 0.5 * up, 0);
}

typedef struct {
  scribe_buf *body;
  int too_big;
} sink;

static size_t on_write(char *data, size_t size, size_t n, void *ud) {
  sink *k = ud;
  if (scribe_buf_append(k->body, data, size * n)) {
    k->too_big = 1;
    return 0;
  }
  return size * n;
}

typedef struct {
  const unsigned char *data;
  size_t len, pos;
} reader;

static size_t on_read(char *buf, size_t size, size_t n, void *ud) {
  reader *r = ud;
  size_t want = size * n, left = r->len - r->pos;
  if (want > left) want = left;
  memcpy(buf, r->data + r->pos, want);
  r->pos += want;
  return want;
}

static int on_seek(void *ud, curl_off_t offset, int origin) {
  reader *r = ud;
  if (origin != SEEK_SET || offset < 0 || (size_t)offset > r->len) return CURL_SEEKFUNC_FAIL;
  r->pos = (size_t)offset;
  return CURL_SEEKFUNC_OK;
}

/* A curl failure as one of our codes, and whether it is worth retrying. */
static int map_curl(CURLcode c, int *transient) {
  *transient = 1;
  switch (c) {
    case CURLE_OPERATION_TIMEDOUT:
      return SCRIBE_ETIMEOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
      return SCRIBE_EUNAVAILABLE;
    case CURLE_OUT_OF_MEMORY:
      *transient = 0;
      return SCRIBE_ENOMEM;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_NOT_BUILT_IN:
      *transient = 0;
      return SCRIBE_ECONFIG;
    default:
      return SCRIBE_EUNAVAILABLE;
  }
}

/* Posts one WAV.  On SCRIBE_OK *status is the HTTP status and body holds the
 * reply; otherwise err says why and *transient whether to retry. */
static int post(oa_stt *s, const unsigned char *wav, size_t wavlen, prog *pg, scribe_buf *body,
                long *status, long *retry_after_s, int *transient, char *err, size_t errlen) {
  CURL *c = s->curl;
  curl_mime *mime = NULL;
  struct curl_slist *hdrs = NULL;
  reader rd = {wav, wavlen, 0};
  sink k = {body, 0};
  int rc = SCRIBE_ENOMEM;
  *transient = 0;
  *status = 0;
  *retry_after_s = -1;
  scribe_buf_reset(body);
  curl_easy_reset(c);

  mime = curl_mime_init(c);
  if (!mime) goto done;
  curl_mimepart *part = curl_mime_addpart(mime);
  if (!part || curl_mime_name(part, "file") || curl_mime_filename(part, "audio.wav") ||
      curl_mime_type(part, "audio/wav") ||
      curl_mime_data_cb(part, (curl_off_t)wavlen, on_read, on_seek, NULL, &rd))
    goto done;
  const char *fields[][2] = {{"model", s->model_name},
                             {"response_format", "verbose_json"},
                             {"language", s->language},
                             {"prompt", s->prompt}};
  for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
    if (!fields[i][1]) continue;
    part = curl_mime_addpart(mime);
    if (!part || curl_mime_name(part, fields[i][0]) ||
        curl_mime_data(part, fields[i][1], CURL_ZERO_TERMINATED))
      goto done;
  }
  /* No "Expect: 100-continue" round trip before the upload. */
  struct curl_slist *h = curl_slist_append(NULL, "Expect:");
  if (!h) goto done;
  hdrs = h;
  h = curl_slist_append(hdrs, "Accept: application/json");
  if (!h) goto done;
  if (s->auth) {
    h = curl_slist_append(hdrs, s->auth);
    if (!h) goto done;
  }

  curl_easy_setopt(c, CURLOPT_URL, s->endpoint);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "scribe/" SCRIBE_VERSION);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, s->connect_timeout_ms);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, s->timeout_ms);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &k);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, xferinfo);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, pg);
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");

  CURLcode cc = curl_easy_perform(c);
  if (cc == CURLE_ABORTED_BY_CALLBACK || pg->canceled) {
    rc = SCRIBE_ECANCELED;
    snprintf(err, errlen, "transcription canceled");
  } else if (cc == CURLE_WRITE_ERROR && k.too_big) {
    rc = SCRIBE_EPARSE;
    snprintf(err, errlen, "openai: the server's reply is larger than %zu bytes",
             MAX_RESPONSE_BYTES);
  } else if (cc != CURLE_OK) {
    rc = map_curl(cc, transient);
    snprintf(err, errlen, "openai: %s", curl_easy_strerror(cc));
  } else {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_off_t ra = -1;
    if (curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
      *retry_after_s = ra > 86400 ? 86400 : (long)ra;
    rc = SCRIBE_OK;
  }

done:
  if (rc == SCRIBE_ENOMEM) snprintf(err, errlen, "openai: out of memory");
  /* The options point at the mime and headers we free now. */
  curl_easy_setopt(c, CURLOPT_MIMEPOST, NULL);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
  curl_mime_free(mime);
  curl_slist_free_all(hdrs);
  return rc;
}

/* ---- replies ------------------------------------------------------------- */

/* The server's error message (error.message, detail or message) in a
 * printable, bounded form, with the API key redacted; "" when none. */
static void server_message(const oa_stt *s, const scribe_buf *body, char *out, size_t outlen) {
  out[0] = '\0';
  if (!body->len || outlen < 2) return;
  json_t *root = json_loadb(body->data, body->len, 0, NULL);
  const char *m = NULL;
  if (json_is_object(root)) {
    json_t *e = json_object_get(root, "error");
    if (json_is_object(e)) m = json_string_value(json_object_get(e, "message"));
    if (!m) m = json_string_value(e);
    if (!m) m = json_string_value(json_object_get(root, "detail"));
    if (!m) m = json_string_value(json_object_get(root, "message"));
  }
  if (m) {
    size_t cap = outlen - 1 < 160 ? outlen - 1 : 160, n = 0;
    for (const char *c = m; *c && n < cap; c++)
      out[n++] = (*c >= 0x20 && *c < 0x7f) ? *c : '?';
    out[n] = '\0';
    if (s->key && strlen(s->key) >= 4) {
      char *hit;
      while ((hit = strstr(out, s->key)) != NULL) memset(hit, '*', strlen(s->key));
    }
  }
  json_decref(root);
}

/* Is the UTF-8 sequence at p[0..3) one we turn into a space or an apostrophe? */
static int utf8_punct(const unsigned char *p, size_t left, char *repl) {
  if (left < 3 || p[0] != 0xE2 || p[1] != 0x80) return 0;
  switch (p[2]) {
    case 0x98: /* ‘ */
    case 0x99: /* ’ */
      *repl = '\'';
      return 1;
    case 0x93: /* – */
    case 0x94: /* — */
    case 0x9C: /* “ */
    case 0x9D: /* ” */
    case 0xA6: /* … */
      *repl = ' ';
      return 1;
    default:
      return 0;
  }
}

static int edge_punct(char c) {
  return c == '.' || c == ',' || c == '!' || c == '?' || c == ';' || c == ':' || c == '"' ||
         c == '\'' || c == '-';
}

/* Whisper writes sentences ("Take 2.5 mg, twice a day."); our segments are
 * lower-case words separated by spaces ("take 2.5 mg twice a day").
 * Annotations in brackets ("[BLANK_AUDIO]", "(coughs)", "*laughs*") are
 * dropped; punctuation is dropped at word edges but kept inside words
 * ("2.5", "follow-up", "don't"). */
static int normalise(const char *in, size_t len, scribe_buf *out) {
  scribe_buf_reset(out);
  int rc;
  /* pass 1: drop bracketed annotations, map punctuation, lower-case */
  size_t i = 0;
  while (i < len) {
    unsigned char ch = (unsigned char)in[i];
    char close = ch == '(' ? ')' : ch == '[' ? ']' : ch == '<' ? '>' : ch == '*' ? '*' : 0;
    if (close) {
      const char *end = memchr(in + i + 1, close, len - i - 1);
      i = end ? (size_t)(end - in) + 1 : i + 1;
      if ((rc = scribe_buf_append(out, " ", 1))) return rc;
      continue;
    }
    char r = (char)ch;
    if (ch >= 0x80) {
      char repl;
      if (utf8_punct((const unsigned char *)in + i, len - i, &repl)) {
        if ((rc = scribe_buf_append(out, &repl, 1))) return rc;
        i += 3;
        continue;
      }
    } else if (ch < 0x20 || ch == 0x7f || ch == ')' || ch == ']' || ch == '>') {
      r = ' ';
    } else {
      r = (char)tolower(ch);
    }
    if ((rc = scribe_buf_append(out, &r, 1))) return rc;
    i++;
  }
  /* pass 2, in place: strip punctuation at word edges; words of punctuation
   * only vanish */
  char *d = out->data;
  size_t n = out->len, w = 0;
  i = 0;
  while (i < n) {
    while (i < n && d[i] == ' ') i++;
    size_t a = i;
    while (i < n && d[i] != ' ') i++;
    size_t b = i;
    while (a < b && edge_punct(d[a])) a++;
    while (b > a && edge_punct(d[b - 1])) b--;
    for (size_t k = a; k < b; k++)
      if (d[k] == '"' || d[k] == '!' || d[k] == '?' || d[k] == ';') d[k] = ' ';
    if (a == b) continue;
    if (w) d[w++] = ' ';
    memmove(d + w, d + a, b - a);
    w += b - a;
  }
  out->len = w;
  if (out->data) out->data[w] = '\0';
  return SCRIBE_OK;
}

typedef struct {
  double start, end; /* the chunk, in seconds of the whole audio */
  double prev_end;   /* end of the last segment added */
} place;

/* Adds one server segment (times relative to the chunk), keeping segments
 * ordered, non-overlapping, with start < end, inside the chunk. */
static int add_segment(scribe_stt_result *out, place *pl, double t0, double t1, const char *text,
                       size_t len, scribe_buf *tmp) {
  int rc = normalise(text, len, tmp);
  if (rc || !tmp->len) return rc;
  double dur = pl->end - pl->start;
  if (!(t0 >= 0)) t0 = 0; /* also NaN */
  if (!(t1 <= dur)) t1 = dur;
  if (t0 > dur) t0 = dur;
  double a = pl->start + t0, b = pl->start + t1;
  if (a < pl->prev_end) a = pl->prev_end;
  if (b <= a) b = a + 0.01;
  if (b > pl->end) {
    if (a + 0.001 >= pl->end && out->nsegments) {
      /* no room left in the chunk: the words join the previous segment */
      scribe_stt_segment *last = &out->segments[out->nsegments - 1];
      size_t old = strlen(last->text);
      if (tmp->len > SIZE_MAX - old - 2) return SCRIBE_ETOOBIG;
      char *t = realloc(last->text, old + tmp->len + 2);
      if (!t) return SCRIBE_ENOMEM;
      t[old] = ' ';
      memcpy(t + old + 1, tmp->data, tmp->len + 1);
      last->text = t;
      return SCRIBE_OK;
    }
    b = pl->end;
    if (a >= b) a = b - 0.01 > pl->prev_end ? b - 0.01 : pl->prev_end;
  }
  size_t before = out->nsegments;
  rc = scribe_stt_result_add(out, a, b, tmp->data, tmp->len);
  if (!rc && out->nsegments > before) pl->prev_end = out->segments[out->nsegments - 1].end;
  return rc;
}

/* Parses a verbose_json (or plain json) reply into segments. */
static int parse_reply(const scribe_buf *body, place *pl, scribe_stt_result *out,
                       scribe_buf *tmp, char *err, size_t errlen) {
  json_error_t je;
  json_t *root = body->len ? json_loadb(body->data, body->len, 0, &je) : NULL;
  int rc = SCRIBE_OK;
  if (!json_is_object(root)) {
    snprintf(err, errlen, "openai: the server's reply is not a JSON object");
    rc = SCRIBE_EPARSE;
    goto done;
  }
  json_t *segs = json_object_get(root, "segments");
  if (json_is_array(segs) && json_array_size(segs) > 0) {
    size_t i;
    json_t *sg;
    json_array_foreach(segs, i, sg) {
      json_t *t = json_object_get(sg, "text");
      json_t *a = json_object_get(sg, "start"), *b = json_object_get(sg, "end");
      if (!json_is_string(t) || !json_is_number(a) || !json_is_number(b)) continue;
      rc = add_segment(out, pl, json_number_value(a), json_number_value(b), json_string_value(t),
                       json_string_length(t), tmp);
      if (rc) goto done;
    }
  } else {
    json_t *t = json_object_get(root, "text");
    if (!json_is_string(t)) {
      snprintf(err, errlen, "openai: the server's reply has neither segments nor text");
      rc = SCRIBE_EPARSE;
      goto done;
    }
    rc = add_segment(out, pl, 0, pl->end - pl->start, json_string_value(t),
                     json_string_length(t), tmp);
  }
done:
  json_decref(root);
  return rc;
}

/* ---- transcribe ------------------------------------------------------------ */

/* Builds a 16 kHz mono 16-bit WAV of pcm[0..n) into *wav (malloc()ed). */
static int build_wav(const int16_t *pcm, size_t n, unsigned char **wav, size_t *len) {
  if (n > (UINT32_MAX - 36) / 2) return SCRIBE_ETOOBIG;
  size_t data = n * 2, total = 44 + data;
  unsigned char *w = malloc(total);
  if (!w) return SCRIBE_ENOMEM;
  uint32_t riff = (uint32_t)(36 + data), rate = SCRIBE_STT_SAMPLE_RATE, byte_rate = rate * 2;
  const struct {
    size_t off;
    uint32_t v;
    int bytes;
  } f[] = {{4, riff, 4}, {16, 16, 4}, {20, 1, 2}, {22, 1, 2}, {24, rate, 4},
           {28, byte_rate, 4}, {32, 2, 2}, {34, 16, 2}, {40, (uint32_t)data, 4}};
  memcpy(w, "RIFF", 4);
  memcpy(w + 8, "WAVEfmt ", 8);
  memcpy(w + 36, "data", 4);
  for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
    for (int b = 0; b < f[i].bytes; b++)
      w[f[i].off + (size_t)b] = (unsigned char)(f[i].v >> (8 * b));
  for (size_t i = 0; i < n; i++) {
    uint16_t v = (uint16_t)pcm[i];
    w[44 + 2 * i] = (unsigned char)(v & 0xff);
    w[44 + 2 * i + 1] = (unsigned char)(v >> 8);
  }
  *wav = w;
  *len = total;
  return SCRIBE_OK;
}

/* Waits ms, calling progress so that a cancel is seen promptly. */
static int wait_ms(prog *pg, long ms) {
  int64_t until = mono_ms() + ms;
  for (;;) {
    if (report(pg, pg->last, 0)) return SCRIBE_ECANCELED;
    int64_t left = until - mono_ms();
    if (left <= 0) return SCRIBE_OK;
    if (left > 50) left = 50;
    struct timespec ts = {0, (long)left * 1000000L};
    nanosleep(&ts, NULL);
  }
}

static int status_transient(long st) { return st == 408 || st == 425 || st == 429 || st >= 500; }

/* One chunk with retries: SCRIBE_OK with the segments added to out. */
static int do_chunk(oa_stt *s, const int16_t *pcm, size_t a, size_t b, size_t idx, size_t nchunks,
                    prog *pg, place *pl, scribe_buf *body, scribe_buf *tmp,
                    scribe_stt_result *out, char *err, size_t errlen) {
  unsigned char *wav = NULL;
  size_t wavlen = 0;
  int rc = build_wav(pcm + a, b - a, &wav, &wavlen);
  if (rc) {
    snprintf(err, errlen, "openai: %s", scribe_strerror(rc));
    return rc;
  }
  double secs = (double)(b - a) / SCRIBE_STT_SAMPLE_RATE;
  for (int attempt = 0;; attempt++) {
    long status = 0, retry_after = -1;
    int transient = 0;
    int64_t t0 = mono_ms();
    rc = post(s, wav, wavlen, pg, body, &status, &retry_after, &transient, err, errlen);
    if (rc == SCRIBE_OK) {
      LOG_DEBUG("stt openai: chunk %zu/%zu (%.1f s, %zu bytes): HTTP %ld in %lld ms", idx + 1,
                nchunks, secs, wavlen, status, (long long)(mono_ms() - t0));
      if (status >= 200 && status < 300) {
        rc = parse_reply(body, pl, out, tmp, err, errlen);
        goto done;
      }
      char msg[200];
      server_message(s, body, msg, sizeof(msg));
      if (!status_transient(status)) {
        if (status == 401 || status == 403) {
          rc = SCRIBE_EFORBIDDEN;
          snprintf(err, errlen, "openai: HTTP %ld from the server: check the API key (stt_api_key)",
                   status);
        } else if (status == 413) {
          rc = SCRIBE_ETOOBIG;
          snprintf(err, errlen,
                   "openai: HTTP 413: the server refused %zu bytes of audio (lower chunk_seconds)",
                   wavlen);
        } else if (status == 404) {
          rc = SCRIBE_ECONFIG;
          snprintf(err, errlen, "openai: HTTP 404: check stt_url and stt_model%s%s",
                   *msg ? ": " : "", msg);
        } else {
          rc = SCRIBE_EINVAL;
          snprintf(err, errlen, "openai: HTTP %ld from the server%s%s", status, *msg ? ": " : "",
                   msg);
        }
        goto done;
      }
      rc = SCRIBE_EUNAVAILABLE;
      snprintf(err, errlen, "openai: HTTP %ld from the server%s%s", status, *msg ? ": " : "",
               msg);
    } else if (!transient) {
      goto done;
    }
    /* transient: retry after a backoff, or give up */
    if (attempt >= s->max_retries) {
      LOG_WARN("stt openai: chunk %zu/%zu: giving up after %d attempt(s): %s", idx + 1, nchunks,
               attempt + 1, scribe_strerror(rc));
      size_t used = strlen(err);
      if (used < errlen)
        snprintf(err + used, errlen - used, " (after %d attempt%s)", attempt + 1,
                 attempt ? "s" : "");
      goto done;
    }
    long delay;
    if (retry_after > MAX_RETRY_AFTER_S) {
      rc = SCRIBE_EUNAVAILABLE;
      snprintf(err, errlen, "openai: the server asks to retry after %ld s", retry_after);
      goto done;
    } else if (retry_after > 0) {
      delay = retry_after * 1000;
    } else {
      long d = s->retry_base_ms;
      for (int k = 0; k < attempt && d < MAX_BACKOFF_MS; k++) d *= 2;
      if (d > MAX_BACKOFF_MS) d = MAX_BACKOFF_MS;
      delay = d + (long)(rand_r(&s->rand_state) % (unsigned)(d / 4 + 1)); /* jitter */
    }
    char why[48];
    if (status)
      snprintf(why, sizeof(why), "HTTP %ld", status);
    else
      snprintf(why, sizeof(why), "%s", scribe_strerror(rc));
    LOG_WARN("stt openai: chunk %zu/%zu: %s; retry %d/%d in %ld ms", idx + 1, nchunks, why,
             attempt + 1, s->max_retries, delay);
    if ((rc = wait_ms(pg, delay))) {
      snprintf(err, errlen, "transcription canceled");
      goto done;
    }
  }
done:
  free(wav);
  return rc;
}

static int oa_transcribe(scribe_stt *stt, const int16_t *pcm, size_t nsamples, int sample_rate,
                         scribe_stt_progress_fn progress, void *user_data,
                         scribe_stt_result *out, char *err, size_t errlen) {
  oa_stt *s = (oa_stt *)stt;
  char scratch[8];
  if (!err || !errlen) {
    err = scratch;
    errlen = sizeof(scratch);
  }
  scribe_stt_span *spans = NULL;
  size_t nspans = 0;
  scribe_buf body, tmp;
  scribe_buf_init(&body, MAX_RESPONSE_BYTES);
  scribe_buf_init(&tmp, MAX_RESPONSE_BYTES);
  prog pg = {progress, user_data, 0, 0, 0, 0, 0};
  int rc;
  snprintf(out->engine, sizeof(out->engine), "%s", ENGINE_NAME);
  snprintf(out->model, sizeof(out->model), "%s", s->model_name);

  if (report(&pg, 0, 1)) goto canceled;
  scribe_stt_vad_params vp = scribe_stt_vad_default_params();
  vp.sample_rate = sample_rate;
  if (vp.max_span_s > s->chunk_seconds) vp.max_span_s = s->chunk_seconds;
  if ((rc = scribe_stt_vad(pcm, nsamples, &vp, &spans, &nspans))) {
    snprintf(err, errlen, "openai: %s", scribe_strerror(rc));
    goto fail;
  }

  /* Group spans into chunks of at most chunk_seconds, cut at pauses.  Count
   * them first for the logs. */
  size_t max_chunk = (size_t)(s->chunk_seconds * SCRIBE_STT_SAMPLE_RATE);
  size_t nchunks = 0;
  for (size_t i = 0; i < nspans;) {
    size_t j = i + 1;
    while (j < nspans && spans[j].end - spans[i].start <= max_chunk) j++;
    nchunks++;
    i = j;
  }
  place pl = {0, 0, 0};
  size_t idx = 0;
  for (size_t i = 0; i < nspans; idx++) {
    size_t j = i + 1;
    while (j < nspans && spans[j].end - spans[i].start <= max_chunk) j++;
    size_t a = spans[i].start, b = spans[j - 1].end;
    pl.start = (double)a / sample_rate;
    pl.end = (double)b / sample_rate;
    pg.base = (double)a / (double)nsamples;
    pg.span = (double)(b - a) / (double)nsamples;
    if (report(&pg, pg.base, 1)) goto canceled;
    rc = do_chunk(s, pcm, a, b, idx, nchunks, &pg, &pl, &body, &tmp, out, err, errlen);
    if (rc == SCRIBE_ECANCELED) goto canceled;
    if (rc) goto fail;
    i = j;
  }
  if (report(&pg, 1.0, 1)) goto canceled;
  free(spans);
  scribe_buf_release(&body);
  scribe_buf_release(&tmp);
  return SCRIBE_OK;

canceled:
  rc = SCRIBE_ECANCELED;
  snprintf(err, errlen, "transcription canceled");
fail:
  free(spans);
  scribe_buf_release(&body);
  scribe_buf_release(&tmp);
  return rc;
}

const scribe_stt_backend scribe_stt_openai = {
    .version = SCRIBE_STT_BACKEND_VERSION,
    .name = "openai",
    .create = oa_create,
    .free = oa_free,
    .transcribe = oa_transcribe,
};
