/*
 * test_extract_acibench.c - regression test of the "rules" extractor on the
 * ACI-Bench development set (../shared/data/aci-bench next to the source
 * tree, or $SCRIBE_ACIBENCH_DIR).  Skips when the set or python3 is absent.
 *
 * For each dialogue it writes a prediction in score.py's format, runs
 * `python3 score.py PRED_DIR --json m.json` and fails when a metric drops
 * below the thresholds below (set just under what the extractor reaches).
 * It does this twice: for the labelled dialogues, and for the same text with
 * speaker labels removed, lower-cased and without punctuation (what a speech
 * recognizer gives).  It also measures throughput on one core.
 *
 *   test_extract_acibench [--bench] [--split train|valid] [--out DIR]
 * --bench prints the score lines and throughput and never fails on scores.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "extract/extract.h"

/* Thresholds (all 87 encounters, train + valid), just under what the
 * extractor reached when they were set (labelled: meds_f1 0.971, dx_hit 0.86,
 * fu_acc 0.89, allergy_f1 1.00, neg_recall 0.74; unlabeled: 0.967, 0.86, 0.87,
 * 1.00, 0.74).  Raise them when the extractor improves; never lower them. */
static const struct {
  const char *metric;
  double labelled, unlabeled;
} thresholds[] = {
    {"meds_f1", 0.96, 0.95},
    {"dx_hit", 0.85, 0.85},
    {"fu_acc", 0.87, 0.85},
    {"allergy_f1", 0.95, 0.95},
    {"neg_recall", 0.72, 0.72},
};
/* Throughput floor for this test (consultations/s, one core); the target of
 * 1000/s is checked by bench/extract/run.sh on an optimized build. */
#define MIN_THROUGHPUT_TEST 50.0

static char g_dir[4096];
static char g_out[4096];
static const char *g_split = NULL;
static int g_bench = 0;

typedef struct doc {
  char id[64];
  char *text;
  size_t len;
} doc;

static doc *g_docs;
static size_t g_ndocs;

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  if (n < 0) {
    fclose(f);
    return NULL;
  }
  char *b = malloc((size_t)n + 1);
  if (!b) {
    fclose(f);
    return NULL;
  }
  size_t r = fread(b, 1, (size_t)n, f);
  fclose(f);
  b[r] = '\0';
  *len = r;
  return b;
}

static int cmp_doc(const void *a, const void *b) {
  return strcmp(((const doc *)a)->id, ((const doc *)b)->id);
}

static bool find_dir(void) {
  const char *env = getenv("SCRIBE_ACIBENCH_DIR");
  if (env && *env) {
    snprintf(g_dir, sizeof(g_dir), "%s", env);
  } else {
    const char *src = getenv("SCRIBE_SOURCE_DIR");
    if (!src) src = ".";
    snprintf(g_dir, sizeof(g_dir), "%s/../shared/data/aci-bench", src);
  }
  char p[4200];
  struct stat st;
  snprintf(p, sizeof(p), "%s/score.py", g_dir);
  if (stat(p, &st) != 0) return false;
  snprintf(p, sizeof(p), "%s/dialogues", g_dir);
  return stat(p, &st) == 0;
}

static bool load_docs(void) {
  char p[4200];
  snprintf(p, sizeof(p), "%s/dialogues", g_dir);
  DIR *dp = opendir(p);
  if (!dp) return false;
  struct dirent *de;
  size_t cap = 0;
  while ((de = readdir(dp))) {
    size_t l = strlen(de->d_name);
    if (l < 5 || strcmp(de->d_name + l - 4, ".txt") != 0 || l - 4 >= 64) continue;
    if (g_ndocs == cap) {
      cap = cap ? cap * 2 : 128;
      g_docs = realloc(g_docs, cap * sizeof(*g_docs));
      assert_non_null(g_docs);
    }
    doc *d = &g_docs[g_ndocs];
    memcpy(d->id, de->d_name, l - 4);
    d->id[l - 4] = '\0';
    char fp[8600];
    snprintf(fp, sizeof(fp), "%s/%s", p, de->d_name);
    d->text = slurp(fp, &d->len);
    if (d->text) g_ndocs++;
  }
  closedir(dp);
  qsort(g_docs, g_ndocs, sizeof(*g_docs), cmp_doc);
  return g_ndocs > 0;
}

/* Speaker labels removed, lower case, no punctuation (apostrophes kept). */
static char *asr_form(const char *text, size_t len, size_t *olen) {
  char *o = malloc(len + 1);
  size_t n = 0, i = 0;
  assert_non_null(o);
  while (i < len) {
    size_t e = i;
    while (e < len && text[e] != '\n') e++;
    size_t s = i;
    const char *colon = memchr(text + s, ':', e - s);
    if (colon && colon - (text + s) <= 12) s = (size_t)(colon - text) + 1;
    bool space = true;
    for (size_t k = s; k < e; k++) {
      char c = text[k];
      if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
      if (c == '.' || c == ',' || c == '?' || c == '!' || c == ';' || c == ':' || c == '"' ||
          c == ' ' || c == '\t' || c == '\r') {
        if (!space) o[n++] = ' ';
        space = true;
        continue;
      }
      o[n++] = c;
      space = false;
    }
    while (n && o[n - 1] == ' ') n--;
    o[n++] = '\n';
    i = e + 1;
  }
  o[n] = '\0';
  *olen = n;
  return o;
}

/* One prediction in score.py's format. */
static json_t *to_prediction(json_t *r) {
  json_t *p = json_object();
  json_t *dx = json_array(), *meds = json_array(), *negs = json_array();
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(r, "diagnoses"), i, v) {
    if (strcmp(json_string_value(json_object_get(v, "certainty")), "ruled_out") == 0) continue;
    json_array_append(dx, json_object_get(v, "name"));
  }
  json_array_foreach(json_object_get(r, "medications"), i, v) {
    const char *st = json_string_value(json_object_get(v, "status"));
    if (strcmp(st, "allergic") == 0 || strcmp(st, "declined") == 0) continue;
    const char *name = json_string_value(json_object_get(v, "name"));
    const char *text = json_string_value(json_object_get(v, "text"));
    char buf[512];
    if (strcasecmp(name, text) != 0)
      snprintf(buf, sizeof(buf), "%s (%s)", name, text);
    else
      snprintf(buf, sizeof(buf), "%s", name);
    json_array_append_new(meds, json_string(buf));
  }
  json_array_foreach(json_object_get(r, "negations"), i, v) {
    const char *f = json_string_value(json_object_get(v, "finding"));
    const char *t = json_string_value(json_object_get(json_object_get(v, "evidence"), "text"));
    char buf[512];
    if (t && strcasecmp(f, t) != 0)
      snprintf(buf, sizeof(buf), "%s (%s)", f, t);
    else
      snprintf(buf, sizeof(buf), "%s", f);
    json_array_append_new(negs, json_string(buf));
  }
  json_t *al = json_array();
  json_array_foreach(json_object_get(r, "allergies"), i, v)
    json_array_append(al, json_object_get(v, "substance"));
  json_object_set_new(p, "diagnosis", dx);
  json_object_set_new(p, "medications", meds);
  json_t *fu = json_object_get(r, "follow_up");
  json_object_set(p, "follow_up", fu ? fu : json_null());
  const char *stated = json_string_value(json_object_get(r, "allergies_stated"));
  if (json_array_size(al) == 0 && stated && strcmp(stated, "none") == 0) {
    json_decref(al);
    json_object_set_new(p, "allergies", json_string("none"));
  } else {
    json_object_set_new(p, "allergies", al);
  }
  json_object_set_new(p, "negations", negs);
  return p;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void mkdirs(const char *p) {
  char cmd[4500];
  snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", p);
  assert_int_equal(system(cmd), 0);
}

/* Runs one variant; returns the metrics object (caller decrefs). */
static json_t *run_variant(scribe_extract *x, bool unlabeled, double *throughput) {
  char dir[4400];
  snprintf(dir, sizeof(dir), "%s/%s", g_out, unlabeled ? "unlabeled" : "labelled");
  mkdirs(dir);
  char **texts = calloc(g_ndocs, sizeof(*texts));
  size_t *lens = calloc(g_ndocs, sizeof(*lens));
  assert_non_null(texts);
  assert_non_null(lens);
  for (size_t i = 0; i < g_ndocs; i++) {
    if (unlabeled) {
      texts[i] = asr_form(g_docs[i].text, g_docs[i].len, &lens[i]);
    } else {
      texts[i] = g_docs[i].text;
      lens[i] = g_docs[i].len;
    }
  }
  char err[256];
  for (size_t i = 0; i < g_ndocs; i++) {
    json_t *r = NULL;
    assert_int_equal(scribe_extract_text(x, texts[i], lens[i], &r, err, sizeof(err)), 0);
    json_t *p = to_prediction(r);
    char fp[4600];
    snprintf(fp, sizeof(fp), "%s/%s.json", dir, g_docs[i].id);
    assert_int_equal(json_dump_file(p, fp, JSON_INDENT(1)), 0);
    json_decref(p);
    json_decref(r);
  }
  /* throughput: repeat the whole set for at least 0.5 s */
  size_t runs = 0;
  double t0 = now_s(), t1;
  do {
    for (size_t i = 0; i < g_ndocs; i++) {
      json_t *r = NULL;
      assert_int_equal(scribe_extract_text(x, texts[i], lens[i], &r, err, sizeof(err)), 0);
      json_decref(r);
    }
    runs++;
    t1 = now_s();
  } while (t1 - t0 < 0.5);
  *throughput = (double)(runs * g_ndocs) / (t1 - t0);
  if (unlabeled)
    for (size_t i = 0; i < g_ndocs; i++) free(texts[i]);
  free(texts);
  free(lens);
  char cmd[20000], mpath[4500];
  snprintf(mpath, sizeof(mpath), "%s/metrics.json", dir);
  snprintf(cmd, sizeof(cmd), "python3 '%s/score.py' '%s' --json '%s' %s%s > '%s/score.txt'",
           g_dir, dir, mpath, g_split ? "--split " : "", g_split ? g_split : "", dir);
  assert_int_equal(system(cmd), 0);
  json_error_t je;
  json_t *m = json_load_file(mpath, 0, &je);
  assert_non_null(m);
  char spath[4500];
  snprintf(spath, sizeof(spath), "%s/score.txt", dir);
  size_t sl;
  char *st = slurp(spath, &sl);
  if (st && g_bench) {
    printf("[%s]\n%s", unlabeled ? "unlabeled, lower case, no punctuation" : "labelled", st);
    printf("throughput: %.0f consultations/s (one core)\n", *throughput);
  }
  free(st);
  return m;
}

static void test_acibench(void **state) {
  (void)state;
  if (!find_dir() || system("python3 -c 'import json' >/dev/null 2>&1") != 0) {
    print_message("aci-bench set or python3 not found (%s): skipped\n", g_dir);
    skip();
  }
  assert_true(load_docs());
  if (!g_out[0]) {
    const char *tmp = getenv("SCRIBE_TEST_TMP");
    snprintf(g_out, sizeof(g_out), "%s/acibench-pred", tmp ? tmp : "/tmp");
  }
  char err[256];
  scribe_extract *x = scribe_extract_create("rules", NULL, err, sizeof(err));
  assert_non_null(x);
  for (int v = 0; v < 2; v++) {
    double tput = 0;
    json_t *m = run_variant(x, v == 1, &tput);
    for (size_t k = 0; k < sizeof(thresholds) / sizeof(thresholds[0]); k++) {
      json_t *metrics = json_object_get(m, "metrics");
      json_t *mv = json_object_get(metrics ? metrics : m, thresholds[k].metric);
      if (!json_is_number(mv)) {
        print_error("metric %s missing from score.py's output\n", thresholds[k].metric);
        fail();
      }
      double got = json_number_value(mv);
      double want = v ? thresholds[k].unlabeled : thresholds[k].labelled;
      if (!g_bench && !g_split && got + 1e-9 < want) {
        print_error("%s %s = %.3f, below the threshold %.3f\n", v ? "unlabeled" : "labelled",
                    thresholds[k].metric, got, want);
        fail();
      }
    }
    if (!g_bench && tput < MIN_THROUGHPUT_TEST) {
      print_error("throughput %.0f/s below %.0f/s\n", tput, MIN_THROUGHPUT_TEST);
      fail();
    }
    json_decref(m);
  }
  scribe_extract_free(x);
  for (size_t i = 0; i < g_ndocs; i++) free(g_docs[i].text);
  free(g_docs);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--bench") == 0) g_bench = 1;
    else if (strcmp(argv[i], "--split") == 0 && i + 1 < argc) g_split = argv[++i];
    else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
      snprintf(g_out, sizeof(g_out), "%s", argv[++i]);
  }
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_acibench)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
