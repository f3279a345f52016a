/*
 * test_stt_contract.c - the speech-to-text contract, run against every
 * compiled-in backend (scribe_stt_backend_at()), plus unit tests of the
 * registry, result helpers and voice activity detection.
 *
 * Speech fixtures are synthesised at test time with flite (voice slt, 16 kHz
 * mono WAV); tests that need them are skipped when flite is missing, and a
 * backend's tests are skipped when its model is not installed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "stt/stt.h"

#define RATE 16000
#define SENTENCE1 "the patient has a headache and a fever since yesterday"
#define SENTENCE2 "please take two tablets of ibuprofen every morning"
/* Measured: 0.0 for both sentences with pocketsphinx 5prealpha (beam
 * 1e-60).  The bound leaves room for other engines and library versions. */
#define MAX_WER 0.30

typedef struct {
  int16_t *pcm;
  size_t n;
} audio;

static struct {
  char dir[512];
  int have_speech; /* flite fixtures were made */
  audio s1, s2;    /* the two sentences */
  audio two;       /* s1, 1 s of silence, s2 */
  size_t two_gap_start, two_gap_end;
  /* the backend under test */
  const char *backend;
  scribe_stt *stt;
  char skip_reason[300];
} g;

/* ---- helpers --------------------------------------------------------- */

static int run_quiet(char *const argv[]) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
      dup2(fd, 0);
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execvp(argv[0], argv);
    _exit(127);
  }
  int st;
  if (waitpid(pid, &st, 0) < 0) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static uint32_t le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint16_t le16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* Reads a 16 kHz mono 16-bit PCM WAV file; 0 on success. */
static int read_wav(const char *path, audio *out) {
  int rc = -1;
  unsigned char *buf = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  if (fseek(f, 0, SEEK_END) != 0) goto done;
  long size = ftell(f);
  if (size < 12 || size > 64L << 20 || fseek(f, 0, SEEK_SET) != 0) goto done;
  buf = malloc((size_t)size);
  if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) goto done;
  if (memcmp(buf, "RIFF", 4) || memcmp(buf + 8, "WAVE", 4)) goto done;
  int fmt_ok = 0;
  size_t pos = 12;
  while (pos + 8 <= (size_t)size) {
    uint32_t clen = le32(buf + pos + 4);
    const unsigned char *c = buf + pos + 8;
    if (clen > (size_t)size - pos - 8) clen = (uint32_t)((size_t)size - pos - 8);
    if (!memcmp(buf + pos, "fmt ", 4) && clen >= 16) {
      fmt_ok = le16(c) == 1 && le16(c + 2) == 1 && le32(c + 4) == RATE && le16(c + 14) == 16;
    } else if (!memcmp(buf + pos, "data", 4) && fmt_ok) {
      out->n = clen / 2;
      out->pcm = malloc(out->n * sizeof(int16_t) + 1);
      if (!out->pcm) goto done;
      for (size_t i = 0; i < out->n; i++) out->pcm[i] = (int16_t)le16(c + 2 * i);
      rc = 0;
      goto done;
    }
    pos += 8 + (size_t)clen + (clen & 1);
  }
done:
  free(buf);
  fclose(f);
  return rc;
}

static int make_speech(const char *text, const char *name, audio *out) {
  char path[600];
  snprintf(path, sizeof(path), "%s/%s.wav", g.dir, name);
  char *argv[] = {"flite", "-voice", "slt", "-t", (char *)text, "-o", path, NULL};
  if (run_quiet(argv) != 0) return -1;
  int rc = read_wav(path, out);
  unlink(path);
  return rc;
}

static double duration(size_t n) { return (double)n / RATE; }

/* Lower-case words of s (letters, digits, apostrophes), at most max. */
static size_t words(const char *s, char w[][32], size_t max) {
  size_t n = 0;
  while (*s && n < max) {
    while (*s && !isalnum((unsigned char)*s) && *s != '\'') s++;
    size_t len = 0;
    while (*s && (isalnum((unsigned char)*s) || *s == '\'')) {
      if (len < 31) w[n][len++] = (char)tolower((unsigned char)*s);
      s++;
    }
    if (len) w[n++][len] = '\0';
  }
  return n;
}

/* Word error rate: word-level Levenshtein distance / reference length. */
static double wer(const char *ref, const char *hyp) {
  static char r[256][32], h[256][32];
  size_t nr = words(ref, r, 256), nh = words(hyp, h, 256);
  static size_t d[257][257];
  for (size_t i = 0; i <= nr; i++) d[i][0] = i;
  for (size_t j = 0; j <= nh; j++) d[0][j] = j;
  for (size_t i = 1; i <= nr; i++)
    for (size_t j = 1; j <= nh; j++) {
      size_t sub = d[i - 1][j - 1] + (strcmp(r[i - 1], h[j - 1]) != 0);
      size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
      d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
    }
  return nr ? (double)d[nr][nh] / (double)nr : (double)nh;
}

static void check_segments(const scribe_stt_result *r, size_t nsamples) {
  double prev_end = 0, dur = duration(nsamples);
  for (size_t i = 0; i < r->nsegments; i++) {
    const scribe_stt_segment *s = &r->segments[i];
    assert_non_null(s->text);
    assert_true(strlen(s->text) > 0);
    assert_true(s->start >= prev_end - 1e-9); /* ordered, not overlapping */
    assert_true(s->start < s->end);
    assert_true(s->end <= dur + 1e-6);
    /* no engine markers left */
    assert_null(strchr(s->text, '<'));
    assert_null(strchr(s->text, '['));
    assert_null(strchr(s->text, '('));
    assert_null(strstr(s->text, "++"));
    prev_end = s->end;
  }
  assert_true(strlen(r->engine) > 0);
}

static void need_engine(int need_speech) {
  if (!g.stt) {
    print_message("skipped: %s\n", g.skip_reason);
    skip();
  }
  if (need_speech && !g.have_speech) {
    print_message("skipped: flite not available\n");
    skip();
  }
}

/* ---- backend-independent unit tests ------------------------------------ */

static void test_unknown_backend(void **state) {
  char err[512], names[256], want[256] = "";
  assert_null(scribe_stt_find("no-such-engine"));
  assert_null(scribe_stt_find(NULL));
  scribe_stt_names(names, sizeof(names));
  size_t used = 0;
  for (size_t i = 0; scribe_stt_backend_at(i); i++) {
    const scribe_stt_backend *b = scribe_stt_backend_at(i);
    assert_int_equal(b->version, SCRIBE_STT_BACKEND_VERSION);
    assert_ptr_equal(scribe_stt_find(b->name), b);
    used += (size_t)snprintf(want + used, sizeof(want) - used, "%s%s", i ? ", " : "", b->name);
  }
  assert_true(used > 0);
  assert_string_equal(names, want);
  scribe_stt_params p = scribe_stt_default_params();
  assert_null(scribe_stt_create("no-such-engine", &p, err, sizeof(err)));
  assert_non_null(strstr(err, "no-such-engine"));
  assert_non_null(strstr(err, names));
  /* truncation stays terminated */
  char tiny[4];
  scribe_stt_names(tiny, sizeof(tiny));
  assert_true(strlen(tiny) < sizeof(tiny));
  assert_string_equal(scribe_stt_name(NULL), "");
  scribe_stt_free(NULL);
}

static void test_result_helpers(void **state) {
  scribe_stt_result r;
  memset(&r, 0, sizeof(r));
  const char *raw = "<s> the(2) patient [NOISE] <sil> ++GARBAGE++  has(12)\tpain </s>";
  assert_int_equal(scribe_stt_result_add(&r, 1.0, 2.5, raw, strlen(raw)), SCRIBE_OK);
  assert_int_equal(r.nsegments, 1);
  assert_string_equal(r.segments[0].text, "the patient has pain");
  /* only markers: not added */
  assert_int_equal(scribe_stt_result_add(&r, 3, 4, "<s> [BREATH] </s>", 17), SCRIBE_OK);
  assert_int_equal(scribe_stt_result_add(&r, 3, 4, "", 0), SCRIBE_OK);
  assert_int_equal(r.nsegments, 1);
  /* length is honoured (no NUL needed); end below start is raised */
  assert_int_equal(scribe_stt_result_add(&r, 5, 4, "fever and more", 5), SCRIBE_OK);
  assert_int_equal(r.nsegments, 2);
  assert_string_equal(r.segments[1].text, "fever");
  assert_true(r.segments[1].end >= r.segments[1].start);
  for (int i = 0; i < 40; i++) /* growth */
    assert_int_equal(scribe_stt_result_add(&r, 6 + i, 6.5 + i, "x", 1), SCRIBE_OK);
  assert_int_equal(r.nsegments, 42);
  scribe_stt_result_free(&r);
  assert_null(r.segments);
  assert_int_equal(r.nsegments, 0);
  scribe_stt_result_free(&r); /* twice is fine */
  scribe_stt_result_free(NULL);

  assert_int_equal(scribe_stt_result_add(&r, 0, 1, "hello", 5), SCRIBE_OK);
  assert_int_equal(scribe_stt_result_add(&r, 1, 2, "world wide", 10), SCRIBE_OK);
  char *t = scribe_stt_result_text(&r);
  assert_string_equal(t, "hello\nworld wide");
  free(t);
  scribe_stt_result_free(&r);
  t = scribe_stt_result_text(&r);
  assert_string_equal(t, "");
  free(t);
  assert_null(scribe_stt_result_text(NULL));
  assert_int_equal(scribe_stt_result_add(NULL, 0, 1, "x", 1), SCRIBE_EINVAL);
}

/* A 440 Hz tone at amplitude a. */
static void tone(int16_t *x, size_t n, double a) {
  for (size_t i = 0; i < n; i++) x[i] = (int16_t)(a * sin(2 * M_PI * 440.0 * (double)i / RATE));
}

static void test_vad(void **state) {
  scribe_stt_vad_params p = scribe_stt_vad_default_params();
  scribe_stt_span *s = NULL;
  size_t n = 99;
  /* empty and silent input: no spans */
  assert_int_equal(scribe_stt_vad(NULL, 0, &p, &s, &n), SCRIBE_OK);
  assert_int_equal(n, 0);
  assert_null(s);
  size_t len = 60 * RATE;
  int16_t *x = calloc(len, sizeof(*x));
  assert_non_null(x);
  assert_int_equal(scribe_stt_vad(x, 10 * RATE, &p, &s, &n), SCRIBE_OK);
  assert_int_equal(n, 0);
  /* low stationary noise only: no spans */
  srand(1);
  for (size_t i = 0; i < 10 * RATE; i++) x[i] = (int16_t)(rand() % 61 - 30);
  assert_int_equal(scribe_stt_vad(x, 10 * RATE, &p, &s, &n), SCRIBE_OK);
  assert_int_equal(n, 0);
  /* 1 s tone, 1 s pause, 1 s tone, 0.5 s pause: two spans around the tones */
  memset(x, 0, len * sizeof(*x));
  tone(x + RATE / 2, RATE, 8000);
  tone(x + RATE * 5 / 2, RATE, 8000);
  size_t total = RATE * 4;
  assert_int_equal(scribe_stt_vad(x, total, &p, &s, &n), SCRIBE_OK);
  assert_int_equal(n, 2);
  assert_true(s[0].start <= (size_t)RATE / 2 && s[0].start + RATE / 4 >= (size_t)RATE / 2);
  assert_true(s[0].end >= (size_t)RATE * 3 / 2 && s[0].end <= s[1].start);
  assert_true(s[1].start <= (size_t)RATE * 5 / 2 && s[1].end >= (size_t)RATE * 7 / 2);
  assert_true(s[1].end <= total);
  free(s);
  /* a short click is not speech */
  memset(x, 0, len * sizeof(*x));
  tone(x + RATE, RATE / 20, 8000);
  assert_int_equal(scribe_stt_vad(x, 3 * RATE, &p, &s, &n), SCRIBE_OK);
  assert_int_equal(n, 0);
  /* 60 s without pauses: cut into spans no longer than max_span_s */
  tone(x, len, 8000);
  for (size_t i = 0; i < len; i += RATE * 7) /* dips where cuts may go */
    for (size_t k = i; k < i + RATE / 5 && k < len; k++) x[k] /= 16;
  assert_int_equal(scribe_stt_vad(x, len, &p, &s, &n), SCRIBE_OK);
  assert_true(n >= 3);
  for (size_t i = 0; i < n; i++) {
    assert_true(s[i].end > s[i].start);
    assert_true(duration(s[i].end - s[i].start) <= p.max_span_s + 1e-9);
    if (i) assert_true(s[i].start >= s[i - 1].end);
  }
  assert_true(s[n - 1].end <= len);
  free(s);
  /* bad parameters */
  p.frame_ms = 0;
  assert_int_equal(scribe_stt_vad(x, len, &p, &s, &n), SCRIBE_EINVAL);
  free(x);
}

/* ---- the contract, per backend ----------------------------------------- */

static void test_sentence(void **state) {
  need_engine(1);
  const audio *clips[] = {&g.s1, &g.s2};
  const char *texts[] = {SENTENCE1, SENTENCE2};
  for (int c = 0; c < 2; c++) {
    scribe_stt_result r;
    char err[256];
    int rc = scribe_stt_transcribe(g.stt, clips[c]->pcm, clips[c]->n, RATE, NULL, NULL, &r, err,
                                   sizeof(err));
    assert_int_equal(rc, SCRIBE_OK);
    assert_true(r.nsegments >= 1);
    check_segments(&r, clips[c]->n);
    char *text = scribe_stt_result_text(&r);
    assert_non_null(text);
    double w = wer(texts[c], text);
    print_message("%s: sentence %d: WER %.2f, %zu segment(s)\n", g.backend, c + 1, w,
                  r.nsegments);
    assert_true(w < MAX_WER);
    free(text);
    scribe_stt_result_free(&r);
  }
}

static void test_silence(void **state) {
  need_engine(0);
  size_t n = 4 * RATE;
  int16_t *x = calloc(n, sizeof(*x));
  assert_non_null(x);
  scribe_stt_result r;
  char err[256];
  assert_int_equal(scribe_stt_transcribe(g.stt, x, n, RATE, NULL, NULL, &r, err, sizeof(err)),
                   SCRIBE_OK);
  assert_int_equal(r.nsegments, 0);
  scribe_stt_result_free(&r);
  srand(7);
  for (size_t i = 0; i < n; i++) x[i] = (int16_t)(rand() % 41 - 20);
  assert_int_equal(scribe_stt_transcribe(g.stt, x, n, RATE, NULL, NULL, &r, err, sizeof(err)),
                   SCRIBE_OK);
  assert_int_equal(r.nsegments, 0);
  scribe_stt_result_free(&r);
  /* no samples at all */
  assert_int_equal(scribe_stt_transcribe(g.stt, NULL, 0, RATE, NULL, NULL, &r, err, sizeof(err)),
                   SCRIBE_OK);
  assert_int_equal(r.nsegments, 0);
  scribe_stt_result_free(&r);
  free(x);
}

static void test_bad_args(void **state) {
  need_engine(0);
  int16_t x[160] = {0};
  scribe_stt_result r;
  char err[256];
  assert_int_equal(scribe_stt_transcribe(g.stt, x, 160, 8000, NULL, NULL, &r, err, sizeof(err)),
                   SCRIBE_EINVAL);
  assert_non_null(strstr(err, "8000"));
  assert_null(r.segments);
  assert_int_equal(scribe_stt_transcribe(g.stt, NULL, 160, RATE, NULL, NULL, &r, err, sizeof(err)),
                   SCRIBE_EINVAL);
  assert_int_equal(scribe_stt_transcribe(NULL, x, 160, RATE, NULL, NULL, &r, err, sizeof(err)),
                   SCRIBE_EINVAL);
  assert_int_equal(scribe_stt_transcribe(g.stt, x, 160, RATE, NULL, NULL, NULL, NULL, 0),
                   SCRIBE_EINVAL);
  assert_string_equal(scribe_stt_name(g.stt), g.backend);
}

static void test_missing_model(void **state) {
  char err[512];
  scribe_stt_params p = scribe_stt_default_params();
  p.model_dir = "/nonexistent/scribe-test-model";
  p.lm = "/nonexistent/scribe-test-model/lm";
  p.dict = "/nonexistent/scribe-test-model/dict";
  assert_null(scribe_stt_create(g.backend, &p, err, sizeof(err)));
  assert_non_null(strstr(err, "/nonexistent/scribe-test-model"));
}

typedef struct {
  double fractions[256];
  size_t n;
  int cancel_after; /* return nonzero on this call (1-based); 0 = never */
} progress_log;

static int on_progress(void *ud, double fraction) {
  progress_log *l = ud;
  if (l->n < 256) l->fractions[l->n] = fraction;
  l->n++;
  return l->cancel_after && l->n >= (size_t)l->cancel_after;
}

static void test_progress(void **state) {
  need_engine(1);
  progress_log l;
  memset(&l, 0, sizeof(l));
  scribe_stt_result r;
  char err[256];
  assert_int_equal(scribe_stt_transcribe(g.stt, g.two.pcm, g.two.n, RATE, on_progress, &l, &r,
                                         err, sizeof(err)),
                   SCRIBE_OK);
  /* about every second of audio (the fixture is ~7 s), from 0 to 1 */
  assert_true(l.n >= 4 && l.n <= 256);
  assert_true(l.fractions[0] >= 0.0 && l.fractions[0] < 0.2);
  for (size_t i = 1; i < l.n; i++) {
    assert_true(l.fractions[i] >= l.fractions[i - 1]);
    assert_true(l.fractions[i] <= 1.0);
  }
  assert_true(fabs(l.fractions[l.n - 1] - 1.0) < 1e-9);
  scribe_stt_result_free(&r);
}

static void test_cancel(void **state) {
  need_engine(1);
  scribe_stt_result r;
  char err[256];
  /* at once */
  progress_log l;
  memset(&l, 0, sizeof(l));
  l.cancel_after = 1;
  assert_int_equal(scribe_stt_transcribe(g.stt, g.two.pcm, g.two.n, RATE, on_progress, &l, &r,
                                         err, sizeof(err)),
                   SCRIBE_ECANCELED);
  assert_int_equal(l.n, 1);
  assert_null(r.segments);
  assert_int_equal(r.nsegments, 0);
  /* in the middle: no more callbacks after the one that canceled */
  memset(&l, 0, sizeof(l));
  l.cancel_after = 3;
  assert_int_equal(scribe_stt_transcribe(g.stt, g.two.pcm, g.two.n, RATE, on_progress, &l, &r,
                                         err, sizeof(err)),
                   SCRIBE_ECANCELED);
  assert_int_equal(l.n, 3);
  assert_true(l.fractions[2] < 1.0);
  assert_null(r.segments);
  /* the handle still works afterwards */
  assert_int_equal(scribe_stt_transcribe(g.stt, g.s1.pcm, g.s1.n, RATE, NULL, NULL, &r, err,
                                         sizeof(err)),
                   SCRIBE_OK);
  char *text = scribe_stt_result_text(&r);
  assert_true(wer(SENTENCE1, text) < MAX_WER);
  free(text);
  scribe_stt_result_free(&r);
}

static void test_two_utterances(void **state) {
  need_engine(1);
  scribe_stt_result r;
  char err[256];
  assert_int_equal(scribe_stt_transcribe(g.stt, g.two.pcm, g.two.n, RATE, NULL, NULL, &r, err,
                                         sizeof(err)),
                   SCRIBE_OK);
  assert_true(r.nsegments >= 2);
  check_segments(&r, g.two.n);
  /* the pause separates them: something ends before it and starts after it */
  double gap0 = duration(g.two_gap_start), gap1 = duration(g.two_gap_end);
  assert_true(r.segments[0].end <= gap0 + 0.3);
  assert_true(r.segments[r.nsegments - 1].start >= gap1 - 0.3);
  char *text = scribe_stt_result_text(&r);
  double w = wer(SENTENCE1 " " SENTENCE2, text);
  print_message("%s: two utterances: WER %.2f, %zu segments\n", g.backend, w, r.nsegments);
  assert_true(w < MAX_WER);
  free(text);
  scribe_stt_result_free(&r);
}

typedef struct {
  scribe_stt *stt;
  int rc;
  char *text;
} job;

static void *run_job(void *arg) {
  job *j = arg;
  scribe_stt_result r;
  j->rc = scribe_stt_transcribe(j->stt, g.two.pcm, g.two.n, RATE, NULL, NULL, &r, NULL, 0);
  j->text = scribe_stt_result_text(&r);
  scribe_stt_result_free(&r);
  return NULL;
}

/* Distinct handles work at the same time in different threads, and a
 * result does not depend on what the handle transcribed before. */
static void test_threads(void **state) {
  need_engine(1);
  char err[256];
  scribe_stt_params p = scribe_stt_default_params();
  job a = {g.stt, -1, NULL}, b = {scribe_stt_create(g.backend, &p, err, sizeof(err)), -1, NULL};
  assert_non_null(b.stt);
  pthread_t ta, tb;
  assert_int_equal(pthread_create(&ta, NULL, run_job, &a), 0);
  assert_int_equal(pthread_create(&tb, NULL, run_job, &b), 0);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  assert_int_equal(a.rc, SCRIBE_OK);
  assert_int_equal(b.rc, SCRIBE_OK);
  assert_non_null(a.text);
  assert_non_null(b.text);
  assert_string_equal(a.text, b.text);
  free(a.text);
  free(b.text);
  scribe_stt_free(b.stt);
}

/* ---- fixtures ------------------------------------------------------------ */

/* Where a backend's default model lives, to tell "not installed" (skip)
 * from "fails to load" (failure). */
static int model_installed(const char *backend) {
  if (strcmp(backend, "pocketsphinx") == 0)
    return access("/usr/share/pocketsphinx/model/en-us/en-us/mdef", R_OK) == 0;
  return 0;
}

static int backend_setup(void **state) {
  char err[256] = "";
  scribe_stt_params p = scribe_stt_default_params();
  g.stt = scribe_stt_create(g.backend, &p, err, sizeof(err));
  if (!g.stt) {
    snprintf(g.skip_reason, sizeof(g.skip_reason), "%s: %s", g.backend, err);
    if (model_installed(g.backend)) {
      print_error("%s: model installed but create failed: %s\n", g.backend, err);
      return -1;
    }
  }
  return 0;
}

static int backend_teardown(void **state) {
  scribe_stt_free(g.stt);
  g.stt = NULL;
  return 0;
}

static void make_fixtures(void) {
  const char *tmp = getenv("SCRIBE_TEST_TMP");
  snprintf(g.dir, sizeof(g.dir), "%s/stt-%ld", tmp && *tmp ? tmp : "/tmp", (long)getpid());
  if (mkdir(g.dir, 0700) != 0) return;
  if (make_speech(SENTENCE1, "s1", &g.s1) || make_speech(SENTENCE2, "s2", &g.s2)) return;
  size_t gap = RATE; /* 1 s of silence */
  g.two.n = g.s1.n + gap + g.s2.n;
  g.two.pcm = calloc(g.two.n, sizeof(int16_t));
  if (!g.two.pcm) return;
  memcpy(g.two.pcm, g.s1.pcm, g.s1.n * sizeof(int16_t));
  memcpy(g.two.pcm + g.s1.n + gap, g.s2.pcm, g.s2.n * sizeof(int16_t));
  g.two_gap_start = g.s1.n;
  g.two_gap_end = g.s1.n + gap;
  g.have_speech = 1;
}

int main(void) {
  int failed = 0;
  make_fixtures();
  if (!g.have_speech) print_message("flite unavailable: speech tests will be skipped\n");

  const struct CMUnitTest unit[] = {
      cmocka_unit_test(test_unknown_backend),
      cmocka_unit_test(test_result_helpers),
      cmocka_unit_test(test_vad),
  };
  failed += cmocka_run_group_tests_name("stt", unit, NULL, NULL);

  const struct CMUnitTest contract[] = {
      cmocka_unit_test(test_sentence),      cmocka_unit_test(test_silence),
      cmocka_unit_test(test_bad_args),      cmocka_unit_test(test_missing_model),
      cmocka_unit_test(test_progress),      cmocka_unit_test(test_cancel),
      cmocka_unit_test(test_two_utterances), cmocka_unit_test(test_threads),
  };
  for (size_t i = 0; scribe_stt_backend_at(i); i++) {
    g.backend = scribe_stt_backend_at(i)->name;
    failed += _cmocka_run_group_tests(g.backend, contract, sizeof(contract) / sizeof(contract[0]),
                                      backend_setup, backend_teardown);
  }

  free(g.s1.pcm);
  free(g.s2.pcm);
  free(g.two.pcm);
  rmdir(g.dir);
  return failed ? 1 : 0;
}
