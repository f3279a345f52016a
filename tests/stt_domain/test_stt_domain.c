/*
 * test_stt_domain.c - the PocketSphinx domain model (docs/speech.md).
 *
 * 1. The generated medical dictionary covers the drug names of the
 *    extraction lexicon that cmudict lacks.
 * 2. A flite sentence with two drug names missing from cmudict (metformin,
 *    gabapentin) is recognised with the domain model, and cannot be without it.
 * flite output is deterministic, so is the decoder: the asserts are exact.
 * Skipped when flite or the generated files (no espeak-ng at build time) are missing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stt/stt.h"

#define CMUDICT "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"

static char domain_dir[1024], lexicon[1024], tmpdir[1024];

/* 1 when file has a line starting with "word " (or "word(" for variants). */
static int dict_has(FILE *f, const char *word) {
  char line[1024];
  size_t n = strlen(word);
  rewind(f);
  while (fgets(line, sizeof(line), f))
    if (!strncmp(line, word, n) && (line[n] == ' ' || line[n] == '(')) return 1;
  return 0;
}

static void test_dictionary_covers_lexicon(void **state) {
  (void)state;
  char path[1100];
  snprintf(path, sizeof(path), "%s/medical.dict", domain_dir);
  FILE *med = fopen(path, "r"), *cmu = fopen(CMUDICT, "r"), *lex = fopen(lexicon, "r");
  if (!med || !cmu) {
    if (med) fclose(med);
    if (cmu) fclose(cmu);
    if (lex) fclose(lex);
    skip();
  }
  assert_non_null(lex);
  char line[4096];
  int drugs = 0, missing = 0;
  while (fgets(line, sizeof(line), lex)) {
    if (line[0] == '#' || line[0] == '\n') continue;
    char *tab = strchr(line, '\t');
    if (!tab || strncmp(tab + 1, "drug\t", 5)) continue;
    *tab = '\0';
    if (strspn(line, "abcdefghijklmnopqrstuvwxyz") != strlen(line) || strlen(line) < 4) continue;
    drugs++;
    if (!dict_has(cmu, line) && !dict_has(med, line)) {
      print_message("not covered: %s\n", line);
      missing++;
    }
  }
  fclose(med);
  fclose(cmu);
  fclose(lex);
  assert_true(drugs > 100);
  assert_int_equal(missing, 0);
}

static int16_t *flite(const char *text, size_t *n) {
  char path[1100];
  snprintf(path, sizeof(path), "%s/stt_domain.wav", tmpdir);
  pid_t pid = fork();
  if (pid == 0) {
    execlp("flite", "flite", "-voice", "slt", "-t", text, "-o", path, (char *)NULL);
    _exit(127);
  }
  int st;
  if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) return NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  static unsigned char buf[4 << 20];
  size_t got = fread(buf, 1, sizeof(buf), f);
  fclose(f);
  unlink(path);
  /* flite writes a canonical 44-byte header: 16 kHz mono s16 for slt */
  if (got < 44 || memcmp(buf, "RIFF", 4) || memcmp(buf + 36, "data", 4)) return NULL;
  *n = (got - 44) / 2;
  int16_t *pcm = malloc(*n * sizeof(*pcm) + 1);
  if (!pcm) return NULL;
  for (size_t i = 0; i < *n; i++) pcm[i] = (int16_t)(buf[44 + 2 * i] | buf[45 + 2 * i] << 8);
  return pcm;
}

static char *transcribe(int domain, const int16_t *pcm, size_t n) {
  char err[512];
  scribe_stt_params p = scribe_stt_default_params();
  p.domain = domain;
  p.domain_dir = domain_dir;
  scribe_stt *stt = scribe_stt_create("pocketsphinx", &p, err, sizeof(err));
  if (!stt) print_message("%s\n", err);
  assert_non_null(stt);
  scribe_stt_result r;
  assert_int_equal(scribe_stt_transcribe(stt, pcm, n, 16000, NULL, NULL, &r, err, sizeof(err)), 0);
  char *text = scribe_stt_result_text(&r);
  assert_non_null(text);
  scribe_stt_result_free(&r);
  scribe_stt_free(stt);
  return text;
}

static void test_drug_names_recognised(void **state) {
  (void)state;
  char path[1100];
  snprintf(path, sizeof(path), "%s/consult.lm", domain_dir);
  if (access(path, R_OK) != 0) skip();
  size_t n = 0;
  int16_t *pcm = flite("take metformin with food and gabapentin at night", &n);
  if (!pcm) skip();
  char *on = transcribe(1, pcm, n), *off = transcribe(-1, pcm, n);
  assert_non_null(strstr(on, "metformin"));
  assert_non_null(strstr(on, "gabapentin"));
  assert_null(strstr(off, "metformin")); /* not in cmudict: only the domain model knows it */
  free(on);
  free(off);
  free(pcm);
}

static void test_missing_domain_files(void **state) {
  (void)state;
  char err[512];
  scribe_stt_params p = scribe_stt_default_params();
  p.domain_dir = "/nonexistent/scribe-stt-domain";
  p.domain = 1; /* required: fails and names the directory */
  assert_null(scribe_stt_create("pocketsphinx", &p, err, sizeof(err)));
  assert_non_null(strstr(err, "/nonexistent/scribe-stt-domain"));
  p.domain = 0; /* optional: the stock model */
  scribe_stt *stt = scribe_stt_create("pocketsphinx", &p, err, sizeof(err));
  assert_non_null(stt);
  scribe_stt_free(stt);
}

int main(void) {
  const char *bin = getenv("SCRIBE_BINARY_DIR"), *src = getenv("SCRIBE_SOURCE_DIR");
  const char *tmp = getenv("SCRIBE_TEST_TMP");
  snprintf(domain_dir, sizeof(domain_dir), "%s/data/stt", bin ? bin : ".");
  snprintf(lexicon, sizeof(lexicon), "%s/data/lexicon/medications.tsv", src ? src : ".");
  snprintf(tmpdir, sizeof(tmpdir), "%s", tmp && *tmp ? tmp : "/tmp");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dictionary_covers_lexicon),
      cmocka_unit_test(test_drug_names_recognised),
      cmocka_unit_test(test_missing_domain_files),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
