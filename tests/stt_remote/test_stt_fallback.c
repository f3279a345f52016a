/*
 * test_stt_fallback.c - the speech-to-text fallback of scribe_engines_open()
 * and the remote-engine configuration keys.
 *
 * Decision under test: the fallback to PocketSphinx happens when the
 * configured engine cannot be *created* (for "openai": no or invalid
 * stt_url).  An unknown engine name stays a configuration error, and a
 * remote server that is down at transcription time fails the job with a
 * transient error (the worker retries it) rather than silently degrading.
 *
 * Also runs `scribe transcribe --stt openai FILE` when the scribe binary is
 * built (skipped otherwise).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/config.h"
#include "core/error.h"
#include "pipeline/pipeline.h"

#define RATE 16000
#define SECRET "sk-fallback-test-secret"

/* A 2 s WAV: silence, a 1 s tone, silence. */
static unsigned char *make_wav(size_t *len) {
  size_t n = 2 * RATE, data = n * 2;
  unsigned char *w = calloc(1, 44 + data);
  assert_non_null(w);
  uint32_t v32[] = {(uint32_t)(36 + data), 16, RATE, RATE * 2, (uint32_t)data};
  memcpy(w, "RIFF", 4);
  memcpy(w + 8, "WAVEfmt ", 8);
  memcpy(w + 36, "data", 4);
  size_t off32[] = {4, 16, 24, 28, 40};
  for (int i = 0; i < 5; i++)
    for (int b = 0; b < 4; b++) w[off32[i] + (size_t)b] = (unsigned char)(v32[i] >> (8 * b));
  w[20] = 1;  /* PCM */
  w[22] = 1;  /* mono */
  w[32] = 2;  /* block align */
  w[34] = 16; /* bits */
  for (size_t i = RATE / 2; i < RATE * 3 / 2; i++) {
    int16_t s = (int16_t)(8000 * sin(2 * M_PI * 440.0 * (double)i / RATE));
    w[44 + 2 * i] = (unsigned char)((uint16_t)s & 0xff);
    w[44 + 2 * i + 1] = (unsigned char)((uint16_t)s >> 8);
  }
  *len = 44 + data;
  return w;
}

typedef struct {
  const unsigned char *p;
  size_t len, pos;
} mem;

static long mem_read(void *ud, void *buf, size_t n) {
  mem *m = ud;
  size_t left = m->len - m->pos;
  if (n > left) n = left;
  memcpy(buf, m->p + m->pos, n);
  m->pos += n;
  return (long)n;
}

static int64_t mem_seek(void *ud, int64_t off, int whence) {
  mem *m = ud;
  int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t)m->pos : (int64_t)m->len;
  if (base + off < 0 || base + off > (int64_t)m->len) return SCRIBE_EINVAL;
  m->pos = (size_t)(base + off);
  return (int64_t)m->pos;
}

static void set(scribe_config *c, const char *k, const char *v) {
  char err[256];
  assert_int_equal(scribe_config_set(c, k, v, "test", err, sizeof(err)), SCRIBE_OK);
}

static void test_fallback_when_create_fails(void **state) {
  scribe_config cfg;
  scribe_config_init(&cfg);
  set(&cfg, "stt", "openai"); /* stt_url left empty */
  set(&cfg, "stt_api_key", SECRET);
  scribe_engines e;
  char err[512] = "";
  assert_int_equal(scribe_engines_open(&e, &cfg, NULL, err, sizeof(err)), SCRIBE_OK);
  assert_string_equal(scribe_stt_name(e.stt), "pocketsphinx");
  assert_non_null(strstr(e.stt_fallback, "stt_url"));
  assert_null(strstr(e.stt_fallback, SECRET));

  size_t len;
  unsigned char *wav = make_wav(&len);
  mem m = {wav, len, 0};
  scribe_audio_source src = {&m, mem_read, mem_seek, (int64_t)len};
  json_t *fields = NULL;
  int rc = scribe_pipeline_run(&e, &cfg, &src, NULL, NULL, &fields, err, sizeof(err));
  if (rc) print_error("pipeline: %s\n", err);
  assert_int_equal(rc, SCRIBE_OK);
  json_t *eng = json_object_get(fields, "engine");
  assert_string_equal(json_string_value(json_object_get(eng, "stt")), "pocketsphinx");
  assert_true(json_is_true(json_object_get(eng, "fallback")));
  assert_string_equal(json_string_value(json_object_get(eng, "fallback_from")), "openai");
  assert_non_null(strstr(json_string_value(json_object_get(eng, "fallback_reason")), "stt_url"));
  char *dump = json_dumps(fields, 0);
  assert_null(strstr(dump, SECRET));
  free(dump);
  json_decref(fields);
  scribe_engines_close(&e, true);
  free(wav);
  scribe_config_release(&cfg);
}

static void test_no_fallback(void **state) {
  scribe_config cfg;
  scribe_config_init(&cfg);
  scribe_engines e;
  char err[512] = "";
  /* a remote engine that can be created is used, even if its server is down
   * (creating does not contact it) */
  set(&cfg, "stt", "openai");
  set(&cfg, "stt_url", "http://127.0.0.1:1/v1");
  assert_int_equal(scribe_engines_open(&e, &cfg, NULL, err, sizeof(err)), SCRIBE_OK);
  assert_string_equal(scribe_stt_name(e.stt), "openai");
  assert_string_equal(e.stt_fallback, "");
  scribe_engines_close(&e, true);
  /* an unknown name is a configuration error, not a fallback */
  set(&cfg, "stt", "no-such-engine");
  assert_int_equal(scribe_engines_open(&e, &cfg, NULL, err, sizeof(err)), SCRIBE_ECONFIG);
  assert_non_null(strstr(err, "no-such-engine"));
  assert_null(e.stt);
  /* pocketsphinx itself: no fallback field */
  set(&cfg, "stt", "pocketsphinx");
  assert_int_equal(scribe_engines_open(&e, &cfg, NULL, err, sizeof(err)), SCRIBE_OK);
  assert_string_equal(e.stt_fallback, "");
  scribe_engines_close(&e, true);
  scribe_config_release(&cfg);
}

static void test_config_keys(void **state) {
  scribe_config cfg;
  scribe_config_init(&cfg);
  assert_string_equal(cfg.stt_model, "whisper-1");
  assert_string_equal(cfg.stt_language, "");
  assert_string_equal(cfg.stt_url, "");
  assert_int_equal(cfg.stt_timeout, 300);
  char err[256];
  assert_int_equal(scribe_config_set(&cfg, "stt_timeout", "0", "test", err, sizeof(err)),
                   SCRIBE_ECONFIG);
  set(&cfg, "stt-api-key", SECRET);
  set(&cfg, "stt_url", "http://127.0.0.1:9000/v1");
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  assert_non_null(f);
  scribe_config_print(&cfg, f);
  fclose(f);
  assert_null(strstr(text, SECRET));
  assert_non_null(strstr(text, "stt_api_key"));
  assert_non_null(strstr(text, "http://127.0.0.1:9000/v1"));
  free(text);
  scribe_config_release(&cfg);
}

/* `scribe transcribe --stt openai FILE` with no stt_url: a warning, then
 * PocketSphinx, and the result says so. */
static void test_cli(void **state) {
  const char *bin = getenv("SCRIBE_BINARY_DIR");
  char exe[1024], dir[1024], wavp[1100], outp[1100], errp[1100];
  snprintf(exe, sizeof(exe), "%s/scribe", bin ? bin : ".");
  if (access(exe, X_OK) != 0) {
    print_message("skipped: %s not built\n", exe);
    skip();
  }
  const char *tmp = getenv("SCRIBE_TEST_TMP");
  snprintf(dir, sizeof(dir), "%s/sttfb-%ld", tmp && *tmp ? tmp : "/tmp", (long)getpid());
  assert_int_equal(mkdir(dir, 0700), 0);
  snprintf(wavp, sizeof(wavp), "%s/a.wav", dir);
  snprintf(outp, sizeof(outp), "%s/out.json", dir);
  snprintf(errp, sizeof(errp), "%s/err.txt", dir);
  size_t len;
  unsigned char *wav = make_wav(&len);
  FILE *f = fopen(wavp, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(wav, 1, len, f), len);
  fclose(f);
  free(wav);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(o, 1);
    dup2(e, 2);
    setenv("SCRIBE_STT_API_KEY", SECRET, 1);
    execl(exe, exe, "transcribe", "--stt", "openai", "--data-dir", dir, wavp, (char *)NULL);
    _exit(127);
  }
  int st;
  waitpid(pid, &st, 0);
  assert_true(WIFEXITED(st));
  json_t *res = json_load_file(outp, 0, NULL);
  FILE *ef = fopen(errp, "r");
  char errtext[4096] = "";
  size_t n = ef ? fread(errtext, 1, sizeof(errtext) - 1, ef) : 0;
  errtext[n] = '\0';
  if (ef) fclose(ef);
  if (WEXITSTATUS(st) != 0 || !res) print_error("scribe: %s\n", errtext);
  assert_int_equal(WEXITSTATUS(st), 0);
  assert_non_null(strstr(errtext, "falling back to pocketsphinx"));
  assert_null(strstr(errtext, SECRET));
  json_t *eng = json_object_get(res, "engine");
  assert_string_equal(json_string_value(json_object_get(eng, "stt")), "pocketsphinx");
  assert_true(json_is_true(json_object_get(eng, "fallback")));
  char *dump = json_dumps(res, 0);
  assert_null(strstr(dump, SECRET));
  free(dump);
  json_decref(res);
  unlink(wavp);
  unlink(outp);
  unlink(errp);
  char cmd[1200];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_keys),
      cmocka_unit_test(test_fallback_when_create_fails),
      cmocka_unit_test(test_no_fallback),
      cmocka_unit_test(test_cli),
  };
  return cmocka_run_group_tests_name("stt_fallback", tests, NULL, NULL) ? 1 : 0;
}
