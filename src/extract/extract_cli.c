/*
 * extract_cli.c - `scribe extract [FILE|-] [--format json|text]
 * [--lexicon-dir DIR] [--backend NAME]`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "extract/extract.h"

static void usage(FILE *f) {
  fputs("usage: scribe extract [FILE|-] [--format json|text] [--lexicon-dir DIR] [--backend NAME]\n"
        "  Reads a transcript (one utterance a line, optionally \"Doctor:\"/\"Patient:\" labels)\n"
        "  from FILE or standard input and prints the extracted clinical fields.\n",
        f);
}

static char *read_all(FILE *f, size_t *len, int *rc) {
  size_t cap = 65536, n = 0;
  char *buf = malloc(cap);
  *rc = SCRIBE_ENOMEM;
  if (!buf) return NULL;
  for (;;) {
    if (n == cap) {
      if (cap >= SCRIBE_EXTRACT_MAX_BYTES + 1) {
        *rc = SCRIBE_ETOOBIG;
        free(buf);
        return NULL;
      }
      size_t ncap = cap * 2;
      char *nb = realloc(buf, ncap);
      if (!nb) {
        free(buf);
        return NULL;
      }
      buf = nb;
      cap = ncap;
    }
    size_t r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (r == 0) break;
  }
  if (ferror(f)) {
    *rc = SCRIBE_EIO;
    free(buf);
    return NULL;
  }
  *len = n;
  *rc = SCRIBE_OK;
  return buf;
}

static const char *sval(json_t *o, const char *k) {
  json_t *v = json_object_get(o, k);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

static void print_text(FILE *f, json_t *r) {
  size_t i;
  json_t *v;
  const char *dx = sval(r, "diagnosis");
  fprintf(f, "Diagnosis: %s\n", dx ? dx : "-");
  json_t *dxs = json_object_get(r, "diagnoses");
  if (json_array_size(dxs)) {
    fputs("Diagnoses:\n", f);
    json_array_foreach(dxs, i, v)
      fprintf(f, "  - %s (%s)%s\n", sval(v, "name"), sval(v, "certainty"),
              json_is_true(json_object_get(v, "main")) ? " [main]" : "");
  }
  json_t *meds = json_object_get(r, "medications");
  fputs("Medications:", f);
  fputs(json_array_size(meds) ? "\n" : " none\n", f);
  json_array_foreach(meds, i, v) {
    fprintf(f, "  - %s [%s]", sval(v, "name"), sval(v, "status"));
    static const char *const keys[] = {"dose", "route", "frequency", "duration"};
    for (size_t k = 0; k < 4; k++)
      if (sval(v, keys[k])) fprintf(f, " %s", sval(v, keys[k]));
    if (json_is_true(json_object_get(v, "as_needed"))) fputs(" as needed", f);
    fprintf(f, "  (\"%s\")\n", sval(v, "text"));
  }
  json_t *al = json_object_get(r, "allergies");
  const char *stated = sval(r, "allergies_stated");
  fprintf(f, "Allergies: %s\n", json_array_size(al) ? "" : stated ? stated : "not stated");
  json_array_foreach(al, i, v)
    fprintf(f, "  - %s%s%s\n", sval(v, "substance"), sval(v, "reaction") ? ": " : "",
            sval(v, "reaction") ? sval(v, "reaction") : "");
  const char *fu = sval(r, "follow_up");
  fprintf(f, "Follow-up: %s\n", fu ? fu : "-");
  static const char *const lists[][3] = {{"negations", "finding", "Denied"},
                                         {"symptoms", "name", "Symptoms"},
                                         {"tasks", "text", "Tasks"}};
  for (size_t k = 0; k < 3; k++) {
    json_t *a = json_object_get(r, lists[k][0]);
    fprintf(f, "%s:", lists[k][2]);
    json_array_foreach(a, i, v) fprintf(f, "%s %s", i ? "," : "", sval(v, lists[k][1]));
    fputs(json_array_size(a) ? "\n" : " -\n", f);
  }
  json_t *vs = json_object_get(r, "vital_signs");
  if (json_array_size(vs)) {
    fputs("Vital signs:", f);
    json_array_foreach(vs, i, v)
      fprintf(f, "%s %s %s%s%s", i ? "," : "", sval(v, "name"), sval(v, "value"),
              sval(v, "unit") ? " " : "", sval(v, "unit") ? sval(v, "unit") : "");
    fputs("\n", f);
  }
}

int scribe_extract_cli(int argc, char **argv) {
  const char *file = NULL, *format = "json", *lexdir = NULL, *backend = "rules";
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "--format") == 0 && i + 1 < argc) {
      format = argv[++i];
    } else if (strncmp(a, "--format=", 9) == 0) {
      format = a + 9;
    } else if (strcmp(a, "--lexicon-dir") == 0 && i + 1 < argc) {
      lexdir = argv[++i];
    } else if (strncmp(a, "--lexicon-dir=", 14) == 0) {
      lexdir = a + 14;
    } else if (strcmp(a, "--backend") == 0 && i + 1 < argc) {
      backend = argv[++i];
    } else if (a[0] == '-' && a[1] != '\0') {
      fprintf(stderr, "scribe extract: unknown option %s\n", a);
      usage(stderr);
      return 2;
    } else if (!file) {
      file = a;
    } else {
      fprintf(stderr, "scribe extract: more than one input file\n");
      usage(stderr);
      return 2;
    }
  }
  if (strcmp(format, "json") != 0 && strcmp(format, "text") != 0) {
    fprintf(stderr, "scribe extract: --format must be json or text\n");
    return 2;
  }
  char err[512] = "";
  scribe_extract_params p = scribe_extract_default_params();
  p.lexicon_dir = lexdir;
  scribe_extract *x = scribe_extract_create(backend, &p, err, sizeof(err));
  if (!x) {
    fprintf(stderr, "scribe extract: %s\n", err);
    return 1;
  }
  FILE *in = stdin;
  if (file && strcmp(file, "-") != 0) {
    in = fopen(file, "rb");
    if (!in) {
      perror(file);
      scribe_extract_free(x);
      return 1;
    }
  }
  size_t len = 0;
  int rc;
  char *text = read_all(in, &len, &rc);
  if (in != stdin) fclose(in);
  if (!text) {
    fprintf(stderr, "scribe extract: reading input: %s\n", scribe_strerror(rc));
    scribe_extract_free(x);
    return 1;
  }
  json_t *out = NULL;
  rc = scribe_extract_text(x, text, len, &out, err, sizeof(err));
  free(text);
  if (rc != SCRIBE_OK) {
    fprintf(stderr, "scribe extract: %s\n", err);
    scribe_extract_free(x);
    return 1;
  }
  if (strcmp(format, "json") == 0) {
    json_object_set_new(out, "engine", json_pack("{s:s,s:s}", "extractor", scribe_extract_name(x),
                                                 "version", scribe_extract_version(x)));
    json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputs("\n", stdout);
  } else {
    print_text(stdout, out);
  }
  json_decref(out);
  scribe_extract_free(x);
  return fflush(stdout) == 0 ? 0 : 1;
}
