/*
 * test_stt_remote.c - the "openai" speech-to-text backend against a fake
 * OpenAI-compatible server (fake_openai.py, Python stdlib, started here on
 * 127.0.0.1:0).  The fake checks the request (Authorization, multipart body
 * with a RIFF/WAVE 16 kHz mono part, model, response_format) and answers by
 * scenario; GET /stats/... tells how many requests it got and what they held.
 *
 * These are protocol tests: the fake's transcripts are synthetic (one
 * segment per tone burst, or a fixed sentence), so nothing here measures
 * recognition quality.  Skipped when python3 is missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "core/error.h"
#include "stt/stt.h"

#define RATE 16000
#define KEY "test-key-123"

static struct {
  pid_t pid;
  int to_child; /* the fake's stdin: closing it stops the fake */
  int port;
  int tag; /* makes each test's counters unique */
} g = {-1, -1, 0, 0};

/* ---- the fake server ------------------------------------------------------ */

static int start_fake(void) {
  const char *src = getenv("SCRIBE_SOURCE_DIR");
  char script[1024];
  snprintf(script, sizeof(script), "%s/tests/stt_remote/fake_openai.py", src ? src : ".");
  int in[2], out[2];
  if (pipe(in) || pipe(out)) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    close(in[1]);
    close(out[0]);
    execlp("python3", "python3", script, (char *)NULL);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  g.pid = pid;
  g.to_child = in[1];
  char line[32] = "";
  size_t n = 0;
  while (n < sizeof(line) - 1) {
    ssize_t r = read(out[0], line + n, 1);
    if (r <= 0 || line[n] == '\n') break;
    n++;
  }
  line[n] = '\0';
  close(out[0]);
  g.port = atoi(line);
  return g.port > 0 ? 0 : -1;
}

static void stop_fake(void) {
  if (g.pid <= 0) return;
  close(g.to_child);
  kill(g.pid, SIGTERM);
  waitpid(g.pid, NULL, 0);
  g.pid = -1;
}

static void need_fake(void) {
  if (g.port <= 0) {
    print_message("skipped: python3 fake server not available\n");
    skip();
  }
}

typedef struct {
  char data[65536];
  size_t len;
} textbuf;

static size_t to_text(char *d, size_t s, size_t n, void *ud) {
  textbuf *t = ud;
  size_t k = s * n;
  if (k > sizeof(t->data) - 1 - t->len) return 0;
  memcpy(t->data + t->len, d, k);
  t->len += k;
  t->data[t->len] = '\0';
  return k;
}

/* What the fake received for scenario/tag (caller json_decref()s). */
static json_t *fake_stats(const char *scenario, int tag) {
  char url[256];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/stats/%s/t%d", g.port, scenario, tag);
  textbuf t = {.len = 0};
  CURL *c = curl_easy_init();
  assert_non_null(c);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, to_text);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  assert_int_equal(curl_easy_perform(c), CURLE_OK);
  curl_easy_cleanup(c);
  json_t *j = json_loads(t.data, 0, NULL);
  assert_non_null(j);
  return j;
}

static int fake_count(const char *scenario, int tag) {
  json_t *j = fake_stats(scenario, tag);
  int n = (int)json_integer_value(json_object_get(j, "count"));
  json_decref(j);
  return n;
}

/* ---- helpers -------------------------------------------------------------- */

typedef struct {
  char url[256];
  scribe_stt_params p;
  int tag;
} setup;

static void params_for(setup *s, const char *scenario) {
  s->tag = ++g.tag;
  snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%d/%s/t%d/v1/", g.port, scenario, s->tag);
  s->p = scribe_stt_default_params();
  s->p.url = s->url;
  s->p.api_key = KEY;
  s->p.model_name = "test-model";
  s->p.timeout_ms = 10000;
  s->p.max_retries = 3;
  s->p.retry_base_ms = 10;
}

static scribe_stt *make(setup *s) {
  char err[512];
  scribe_stt *stt = scribe_stt_create("openai", &s->p, err, sizeof(err));
  if (!stt) print_error("create: %s\n", err);
  assert_non_null(stt);
  return stt;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* n samples of silence with 440 Hz tone bursts of len_s at the given times. */
static int16_t *tones(size_t n, const double *at, size_t nat, double len_s) {
  int16_t *x = calloc(n ? n : 1, sizeof(*x));
  assert_non_null(x);
  for (size_t k = 0; k < nat; k++) {
    size_t a = (size_t)(at[k] * RATE), b = a + (size_t)(len_s * RATE);
    for (size_t i = a; i < b && i < n; i++)
      x[i] = (int16_t)(8000 * sin(2 * M_PI * 440.0 * (double)(i - a) / RATE));
  }
  return x;
}

static void check_segments(const scribe_stt_result *r, size_t nsamples) {
  double prev_end = 0, dur = (double)nsamples / RATE;
  for (size_t i = 0; i < r->nsegments; i++) {
    const scribe_stt_segment *s = &r->segments[i];
    assert_true(strlen(s->text) > 0);
    assert_true(s->start >= prev_end - 1e-9);
    assert_true(s->start < s->end);
    assert_true(s->end <= dur + 1e-6);
    prev_end = s->end;
  }
}

typedef struct {
  double f[1024];
  size_t n;
  int cancel_after;     /* cancel on this call (1-based); 0 = never */
  double cancel_at;     /* cancel when called after this wall time; 0 = never */
} plog;

static int on_progress(void *ud, double f) {
  plog *l = ud;
  if (l->n < 1024) l->f[l->n] = f;
  l->n++;
  if (l->cancel_after && l->n >= (size_t)l->cancel_after) return 1;
  if (l->cancel_at > 0 && now_s() >= l->cancel_at) return 1;
  return 0;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_success(void **state) {
  need_fake();
  setup s;
  params_for(&s, "ok");
  s.p.language = "en";
  s.p.prompt = "amoxicillin, lisinopril";
  scribe_stt *stt = make(&s);
  const double at[] = {0.5, 2.5};
  size_t n = 4 * RATE;
  int16_t *x = tones(n, at, 2, 1.0);
  scribe_stt_result r;
  char err[512];
  plog l = {.n = 0};
  int rc = scribe_stt_transcribe(stt, x, n, RATE, on_progress, &l, &r, err, sizeof(err));
  if (rc) print_error("%s\n", err);
  assert_int_equal(rc, SCRIBE_OK);
  assert_int_equal(r.nsegments, 2);
  check_segments(&r, n);
  assert_string_equal(r.segments[0].text, "tone number 0 fine");
  assert_string_equal(r.segments[1].text, "tone number 1 fine");
  assert_true(fabs(r.segments[0].start - 0.5) < 0.1);
  assert_true(fabs(r.segments[0].end - 1.5) < 0.1);
  assert_true(fabs(r.segments[1].start - 2.5) < 0.1);
  assert_true(fabs(r.segments[1].end - 3.5) < 0.1);
  assert_string_equal(r.engine, "openai-compatible");
  assert_string_equal(r.model, "test-model");
  /* progress from 0 to 1, never decreasing */
  assert_true(l.n >= 2);
  assert_true(l.f[0] == 0.0);
  for (size_t i = 1; i < l.n && i < 1024; i++) assert_true(l.f[i] >= l.f[i - 1]);
  assert_true(fabs(l.f[(l.n < 1024 ? l.n : 1024) - 1] - 1.0) < 1e-9);
  scribe_stt_result_free(&r);

  json_t *st = fake_stats("ok", s.tag);
  assert_int_equal(json_integer_value(json_object_get(st, "count")), 1);
  json_t *last = json_object_get(st, "last");
  assert_true(json_is_true(json_object_get(last, "auth")));
  assert_true(json_is_true(json_object_get(last, "wav_ok")));
  assert_string_equal(json_string_value(json_object_get(last, "model")), "test-model");
  assert_string_equal(json_string_value(json_object_get(last, "response_format")),
                      "verbose_json");
  assert_string_equal(json_string_value(json_object_get(last, "language")), "en");
  assert_string_equal(json_string_value(json_object_get(last, "prompt")),
                      "amoxicillin, lisinopril");
  /* only the speech (with a little padding) was sent, not the silence around it */
  double sent = json_number_value(json_object_get(last, "wav_seconds"));
  assert_true(sent >= 3.0 && sent <= 3.5);
  json_decref(st);

  /* the handle is reusable */
  assert_int_equal(scribe_stt_transcribe(stt, x, n, RATE, NULL, NULL, &r, err, sizeof(err)),
                   SCRIBE_OK);
  assert_int_equal(r.nsegments, 2);
  scribe_stt_result_free(&r);
  assert_int_equal(fake_count("ok", s.tag), 2);
  free(x);
  scribe_stt_free(stt);
}

/* Whisper-style text (case, punctuation, annotations) becomes our word form;
 * a reply without segments gives one segment.  Protocol test: the fake's
 * sentence is fixed, not recognised. */
static void test_text_forms(void **state) {
  need_fake();
  const char *scen[] = {"sentence", "textonly"};
  const double at[] = {1.0};
  size_t n = 3 * RATE;
  int16_t *x = tones(n, at, 1, 1.0);
  for (int i = 0; i < 2; i++) {
    setup s;
    params_for(&s, scen[i]);
    scribe_stt *stt = make(&s);
    scribe_stt_result r;
    char err[512];
    assert_int_equal(scribe_stt_transcribe(stt, x, n, RATE, NULL, NULL, &r, err, sizeof(err)),
                     SCRIBE_OK);
    assert_int_equal(r.nsegments, 1);
    check_segments(&r, n);
    assert_string_equal(r.segments[0].text,
                        "the patient has a headache and a fever since yesterday");
    /* the segment lies on the audio that was sent */
    assert_true(r.segments[0].start >= 0.7 && r.segments[0].start <= 1.0);
    assert_true(r.segments[0].end >= 2.0 && r.segments[0].end <= 2.3);
    scribe_stt_result_free(&r);
    scribe_stt_free(stt);
  }
  free(x);
}

static void test_retry_429(void **state) {
  need_fake();
  setup s;
  params_for(&s, "r429");
  scribe_stt *stt = make(&s);
  const double at[] = {0.5};
  size_t n = 2 * RATE;
  int16_t *x = tones(n, at, 1, 1.0);
  scribe_stt_result r;
  char err[512];
  double t0 = now_s();
  assert_int_equal(scribe_stt_transcribe(stt, x, n, RATE, NULL, NULL, &r, err, sizeof(err)),
                   SCRIBE_OK);
  double took = now_s() - t0;
  assert_int_equal(r.nsegments, 1);
  assert_int_equal(fake_count("r429", s.tag), 3);
  /* two waits of Retry-After: 1 s, although the backoff base is 10 ms */
  print_message("429 x2 then success: %.2f s\n", took);
  assert_true(took >= 1.9 && took < 6);
  scribe_stt_result_free(&r);
  free(x);
  scribe_stt_free(stt);
}

/* Runs one transcription against scenario and checks the error and the
 * number of requests. */
static void expect_error(const char *scenario, int retries, int want_rc, int want_requests,
                         const char *want_text) {
  setup s;
  params_for(&s, scenario);
  s.p.max_retries = retries;
  scribe_stt *stt = make(&s);
  const double at[] = {0.5};
  size_t n = 2 * RATE;
  int16_t *x = tones(n, at, 1, 1.0);
  scribe_stt_result r;
  char err[512] = "";
  int rc = scribe_stt_transcribe(stt, x, n, RATE, NULL, NULL, &r, err, sizeof(err));
  print_message("%s: %s: %s\n", scenario, scribe_err_name(rc), err);
  assert_int_equal(rc, want_rc);
  assert_null(r.segments);
  assert_int_equal(r.nsegments, 0);
  assert_int_equal(fake_count(scenario, s.tag), want_requests);
  if (want_text) assert_non_null(strstr(err, want_text));
  assert_null(strstr(err, KEY));
  assert_null(strchr(err, '\n'));
  free(x);
  scribe_stt_free(stt);
}

static void test_errors(void **state) {
  need_fake();
  /* transient: retried, then unavailable (the worker retries the job) */
  expect_error("r500", 2, SCRIBE_EUNAVAILABLE, 3, "HTTP 500");
  assert_true(scribe_err_transient(SCRIBE_EUNAVAILABLE));
  /* permanent: no retry */
  expect_error("e401", 3, SCRIBE_EFORBIDDEN, 1, "API key");
  expect_error("e400", 3, SCRIBE_EINVAL, 1, "Invalid file format");
  expect_error("e413", 3, SCRIBE_ETOOBIG, 1, "413");
  expect_error("notjson", 3, SCRIBE_EPARSE, 1, "JSON");
  assert_false(scribe_err_transient(SCRIBE_EFORBIDDEN));
}

static void test_wrong_key(void **state) {
  need_fake();
  setup s;
  params_for(&s, "ok");
  s.p.api_key = "sk-wrong-secret-value";
  scribe_stt *stt = make(&s);
  const double at[] = {0.5};
  size_t n = 2 * RATE;
  int16_t *x = tones(n, at, 1, 1.0);
  scribe_stt_result r;
  char err[512];
  assert_int_equal(scribe_stt_transcribe(stt, x, n, RATE, NULL, NULL, &r, err, sizeof(err)),
                   SCRIBE_EFORBIDDEN);
  assert_null(strstr(err, "sk-wrong-secret-value")); /* the fake echoes it; we must not */
  json_t *st = fake_stats("ok", s.tag);
  assert_int_equal(json_integer_value(json_object_get(st, "count")), 1);
  assert_true(json_is_true(json_object_get(json_object_get(st, "last"), "auth_header")));
  json_decref(st);
  free(x);
  scribe_stt_free(stt);
}

static void test_timeout(void **state) {
  need_fake();
  setup s;
  params_for(&s, "slow");
  s.p.timeout_ms = 700;
  s.p.max_retries = 1;
  scribe_stt *stt = make(&s);
  const double at[] = {0.5};
  size_t n = 2 * RATE;
  int16_t *x = tones(n, at, 1, 1.0);
  scribe_stt_result r;
  char err[512];
  double t0 = now_s();
  int rc = scribe_stt_transcribe(stt, x, n, RATE, NULL, NULL, &r, err, sizeof(err));
  double took = now_s() - t0;
  print_message("slow server: %s after %.2f s: %s\n", scribe_err_name(rc), took, err);
  assert_int_equal(rc, SCRIBE_ETIMEOUT);
  assert_true(scribe_err_transient(rc));
  assert_true(took < 4.0); /* the fake sleeps 5 s */
  assert_int_equal(fake_count("slow", s.tag), 2);
  free(x);
  scribe_stt_free(stt);
}

static void test_unreachable(void **state) {
  char err[512];
  scribe_stt_params p = scribe_stt_default_params();
  p.url = "http://127.0.0.1:1/v1";
  p.max_retries = 2;
  p.retry_base_ms = 10;
  scribe_stt *stt = scribe_stt_create("openai", &p, err, sizeof(err));
  assert_non_null(stt); /* creating does not contact the server */
  const double at[] = {0.5};
  size_t n = 2 * RATE;
  int16_t *x = tones(n, at, 1, 1.0);
  scribe_stt_result r;
  int rc = scribe_stt_transcribe(stt, x, n, RATE, NULL, NULL, &r, err, sizeof(err));
  print_message("unreachable: %s: %s\n", scribe_err_name(rc), err);
  assert_int_equal(rc, SCRIBE_EUNAVAILABLE);
  assert_non_null(strstr(err, "3 attempts"));
  free(x);
  scribe_stt_free(stt);
}

static void test_cancel(void **state) {
  need_fake();
  const double at[] = {0.5};
  size_t n = 2 * RATE;
  int16_t *x = tones(n, at, 1, 1.0);
  scribe_stt_result r;
  char err[512];
  /* at once: nothing is sent */
  setup s;
  params_for(&s, "ok");
  scribe_stt *stt = make(&s);
  plog l = {.cancel_after = 1};
  assert_int_equal(scribe_stt_transcribe(stt, x, n, RATE, on_progress, &l, &r, err, sizeof(err)),
                   SCRIBE_ECANCELED);
  assert_int_equal(l.n, 1);
  assert_null(r.segments);
  assert_int_equal(fake_count("ok", s.tag), 0);
  scribe_stt_free(stt);

  /* during a slow request (curl's transfer callback) */
  params_for(&s, "slow");
  stt = make(&s);
  memset(&l, 0, sizeof(l));
  double t0 = now_s();
  l.cancel_at = t0 + 0.5;
  assert_int_equal(scribe_stt_transcribe(stt, x, n, RATE, on_progress, &l, &r, err, sizeof(err)),
                   SCRIBE_ECANCELED);
  double took = now_s() - t0;
  print_message("cancel during request: %.2f s, %zu progress calls\n", took, l.n);
  assert_true(took < 3.5); /* the fake sleeps 5 s */
  /* during a backoff wait */
  params_for(&s, "r500");
  s.p.retry_base_ms = 5000;
  scribe_stt_free(stt);
  stt = make(&s);
  memset(&l, 0, sizeof(l));
  t0 = now_s();
  l.cancel_at = t0 + 0.5;
  assert_int_equal(scribe_stt_transcribe(stt, x, n, RATE, on_progress, &l, &r, err, sizeof(err)),
                   SCRIBE_ECANCELED);
  took = now_s() - t0;
  print_message("cancel during backoff: %.2f s\n", took);
  assert_true(took < 3.0); /* the backoff is >= 5 s */
  assert_int_equal(fake_count("r500", s.tag), 1);
  /* the handle still works afterwards (the fake now fails it fast) */
  assert_int_equal(scribe_stt_transcribe(stt, NULL, 0, RATE, NULL, NULL, &r, err, sizeof(err)),
                   SCRIBE_OK);
  scribe_stt_free(stt);
  free(x);
}

/* Long audio goes in several requests cut at pauses; segment times are
 * offset by each chunk's start. */
static void test_chunks(void **state) {
  need_fake();
  setup s;
  params_for(&s, "ok");
  s.p.chunk_seconds = 5;
  scribe_stt *stt = make(&s);
  const double at[] = {1, 4, 7, 10, 13, 16};
  size_t n = 19 * RATE;
  int16_t *x = tones(n, at, 6, 1.0);
  scribe_stt_result r;
  char err[512];
  plog l = {.n = 0};
  int rc = scribe_stt_transcribe(stt, x, n, RATE, on_progress, &l, &r, err, sizeof(err));
  if (rc) print_error("%s\n", err);
  assert_int_equal(rc, SCRIBE_OK);
  int requests = fake_count("ok", s.tag);
  print_message("19 s in chunks of <= 5 s: %d requests, %zu segments\n", requests, r.nsegments);
  assert_true(requests >= 3);
  assert_int_equal(r.nsegments, 6);
  check_segments(&r, n);
  for (size_t i = 0; i < 6; i++) {
    assert_true(fabs(r.segments[i].start - at[i]) < 0.1);
    assert_true(fabs(r.segments[i].end - (at[i] + 1)) < 0.1);
  }
  json_t *st = fake_stats("ok", s.tag);
  assert_true(json_number_value(json_object_get(json_object_get(st, "last"), "wav_seconds")) <=
              5.0);
  json_decref(st);
  /* progress at least once per chunk, monotonic, ending at 1 */
  assert_true(l.n >= (size_t)requests + 2);
  for (size_t i = 1; i < l.n && i < 1024; i++) assert_true(l.f[i] >= l.f[i - 1]);
  scribe_stt_result_free(&r);
  free(x);
  scribe_stt_free(stt);
}

static void test_silence(void **state) {
  need_fake();
  setup s;
  params_for(&s, "ok");
  scribe_stt *stt = make(&s);
  size_t n = 4 * RATE;
  int16_t *x = calloc(n, sizeof(*x));
  scribe_stt_result r;
  char err[512];
  assert_int_equal(scribe_stt_transcribe(stt, x, n, RATE, NULL, NULL, &r, err, sizeof(err)),
                   SCRIBE_OK);
  assert_int_equal(r.nsegments, 0);
  assert_string_equal(r.engine, "openai-compatible");
  scribe_stt_result_free(&r);
  assert_int_equal(scribe_stt_transcribe(stt, NULL, 0, RATE, NULL, NULL, &r, err, sizeof(err)),
                   SCRIBE_OK);
  assert_int_equal(r.nsegments, 0);
  scribe_stt_result_free(&r);
  /* silence is never sent (Whisper would invent words) */
  assert_int_equal(fake_count("ok", s.tag), 0);
  /* bad arguments are the registry's */
  assert_int_equal(scribe_stt_transcribe(stt, x, n, 8000, NULL, NULL, &r, err, sizeof(err)),
                   SCRIBE_EINVAL);
  assert_string_equal(scribe_stt_name(stt), "openai");
  free(x);
  scribe_stt_free(stt);
}

static void test_create(void **state) {
  char err[512];
  scribe_stt_params p = scribe_stt_default_params();
  assert_null(scribe_stt_create("openai", &p, err, sizeof(err)));
  assert_non_null(strstr(err, "stt_url"));
  p.url = "ftp://example.org/v1";
  assert_null(scribe_stt_create("openai", &p, err, sizeof(err)));
  assert_non_null(strstr(err, "http"));
  p.url = "http://127.0.0.1:9/v1";
  p.api_key = "sk-abc\r\nX-Evil: 1";
  assert_null(scribe_stt_create("openai", &p, err, sizeof(err)));
  assert_null(strstr(err, "sk-abc"));
  p.api_key = NULL;
  scribe_stt *stt = scribe_stt_create("openai", &p, NULL, 0);
  assert_non_null(stt);
  scribe_stt_free(stt);
  scribe_stt_free(NULL);
}

/* The key comes from the environment when the params have none. */
static void test_env_key(void **state) {
  need_fake();
  const char *vars[] = {"SCRIBE_STT_API_KEY", "OPENAI_API_KEY"};
  for (int i = 0; i < 2; i++) {
    setup s;
    params_for(&s, "ok");
    s.p.api_key = NULL;
    unsetenv("SCRIBE_STT_API_KEY");
    unsetenv("OPENAI_API_KEY");
    setenv(vars[i], KEY, 1);
    scribe_stt *stt = make(&s);
    unsetenv(vars[i]);
    const double at[] = {0.5};
    size_t n = 2 * RATE;
    int16_t *x = tones(n, at, 1, 1.0);
    scribe_stt_result r;
    char err[512];
    assert_int_equal(scribe_stt_transcribe(stt, x, n, RATE, NULL, NULL, &r, err, sizeof(err)),
                     SCRIBE_OK);
    scribe_stt_result_free(&r);
    json_t *st = fake_stats("ok", s.tag);
    assert_true(json_is_true(json_object_get(json_object_get(st, "last"), "auth")));
    json_decref(st);
    free(x);
    scribe_stt_free(stt);
  }
}

typedef struct {
  scribe_stt *stt;
  const int16_t *x;
  size_t n;
  int rc;
  char *text;
} job;

static void *run_job(void *arg) {
  job *j = arg;
  scribe_stt_result r;
  j->rc = scribe_stt_transcribe(j->stt, j->x, j->n, RATE, NULL, NULL, &r, NULL, 0);
  j->text = scribe_stt_result_text(&r);
  scribe_stt_result_free(&r);
  return NULL;
}

static void test_threads(void **state) {
  need_fake();
  setup s1, s2;
  params_for(&s1, "ok");
  params_for(&s2, "ok");
  const double at[] = {0.5, 2.5};
  size_t n = 4 * RATE;
  int16_t *x = tones(n, at, 2, 1.0);
  job a = {make(&s1), x, n, -1, NULL}, b = {make(&s2), x, n, -1, NULL};
  pthread_t ta, tb;
  assert_int_equal(pthread_create(&ta, NULL, run_job, &a), 0);
  assert_int_equal(pthread_create(&tb, NULL, run_job, &b), 0);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  assert_int_equal(a.rc, SCRIBE_OK);
  assert_int_equal(b.rc, SCRIBE_OK);
  assert_string_equal(a.text, b.text);
  assert_string_equal(a.text, "tone number 0 fine\ntone number 1 fine");
  free(a.text);
  free(b.text);
  scribe_stt_free(a.stt);
  scribe_stt_free(b.stt);
  free(x);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  if (start_fake() != 0) {
    print_message("python3 or the fake server unavailable: server tests will be skipped\n");
    g.port = 0;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_create),     cmocka_unit_test(test_success),
      cmocka_unit_test(test_text_forms), cmocka_unit_test(test_retry_429),
      cmocka_unit_test(test_errors),     cmocka_unit_test(test_wrong_key),
      cmocka_unit_test(test_timeout),    cmocka_unit_test(test_unreachable),
      cmocka_unit_test(test_cancel),     cmocka_unit_test(test_chunks),
      cmocka_unit_test(test_silence),    cmocka_unit_test(test_env_key),
      cmocka_unit_test(test_threads),
  };
  int failed = cmocka_run_group_tests_name("stt_remote", tests, NULL, NULL);
  stop_fake();
  curl_global_cleanup();
  return failed ? 1 : 0;
}
