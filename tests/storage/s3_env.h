/*
 * s3_env.h - where the S3 tests find their endpoint.
 *
 * Either the environment already names one (SCRIBE_TEST_S3_ENDPOINT,
 * _BUCKET, _REGION, _ACCESS_KEY, _SECRET_KEY: e.g. a real MinIO or AWS
 * bucket), or the ctest fixture s3_server_start (tests/s3/start.sh) wrote
 * $SCRIBE_BINARY_DIR/s3-test/endpoint.env with the same names for the local
 * s3rver behind the signature-checking proxy.  Header-only.
 */
#ifndef SCRIBE_TEST_S3_ENV_H
#define SCRIBE_TEST_S3_ENV_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct s3_test_env {
  bool local; /* the fixture's proxy: test hooks (/__stats, /__fail) exist */
  char endpoint[256];
  char vhost_endpoint[256];
  char bucket[128];
  char region[64];
  char access_key[128];
  char secret_key[256];
  char token_access_key[128];
  char token_secret_key[256];
  char session_token[256];
} s3_test_env;

static inline void s3_env_set(s3_test_env *e, const char *name, const char *v) {
  static const struct {
    const char *name;
    size_t off, len;
  } fields[] = {
#define F(n, f) {n, offsetof(s3_test_env, f), sizeof(((s3_test_env *)0)->f)}
      F("SCRIBE_TEST_S3_ENDPOINT", endpoint),
      F("SCRIBE_TEST_S3_VHOST_ENDPOINT", vhost_endpoint),
      F("SCRIBE_TEST_S3_BUCKET", bucket),
      F("SCRIBE_TEST_S3_REGION", region),
      F("SCRIBE_TEST_S3_ACCESS_KEY", access_key),
      F("SCRIBE_TEST_S3_SECRET_KEY", secret_key),
      F("SCRIBE_TEST_S3_TOKEN_ACCESS_KEY", token_access_key),
      F("SCRIBE_TEST_S3_TOKEN_SECRET_KEY", token_secret_key),
      F("SCRIBE_TEST_S3_SESSION_TOKEN", session_token),
#undef F
  };
  for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
    if (strcmp(fields[i].name, name) == 0)
      snprintf((char *)e + fields[i].off, fields[i].len, "%s", v);
}

/* Fills *e; false (with the reason on stderr) when no endpoint is known. */
static inline bool s3_test_env_load(s3_test_env *e) {
  memset(e, 0, sizeof(*e));
  const char *ep = getenv("SCRIBE_TEST_S3_ENDPOINT");
  if (ep && ep[0]) {
    const char *names[] = {"SCRIBE_TEST_S3_ENDPOINT", "SCRIBE_TEST_S3_VHOST_ENDPOINT",
                           "SCRIBE_TEST_S3_BUCKET", "SCRIBE_TEST_S3_REGION",
                           "SCRIBE_TEST_S3_ACCESS_KEY", "SCRIBE_TEST_S3_SECRET_KEY",
                           "SCRIBE_TEST_S3_TOKEN_ACCESS_KEY", "SCRIBE_TEST_S3_TOKEN_SECRET_KEY",
                           "SCRIBE_TEST_S3_SESSION_TOKEN"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
      const char *v = getenv(names[i]);
      if (v) s3_env_set(e, names[i], v);
    }
    return e->bucket[0] && e->access_key[0] && e->secret_key[0];
  }
  const char *bin = getenv("SCRIBE_BINARY_DIR");
  char path[1024];
  snprintf(path, sizeof(path), "%s/s3-test/endpoint.env", bin ? bin : ".");
  FILE *f = fopen(path, "r");
  if (!f) {
    char skip[1024], reason[256] = "fixture s3_server_start did not run";
    snprintf(skip, sizeof(skip), "%s/s3-test/skip", bin ? bin : ".");
    FILE *s = fopen(skip, "r");
    if (s) {
      if (!fgets(reason, sizeof(reason), s)) reason[0] = '\0';
      reason[strcspn(reason, "\n")] = '\0';
      fclose(s);
    }
    fprintf(stderr, "# no S3 test endpoint: %s\n", reason);
    return false;
  }
  char line[512];
  while (fgets(line, sizeof(line), f)) {
    line[strcspn(line, "\r\n")] = '\0';
    char *eq = strchr(line, '=');
    if (!eq) continue;
    *eq = '\0';
    s3_env_set(e, line, eq + 1);
  }
  fclose(f);
  e->local = true;
  return e->endpoint[0] && e->bucket[0];
}

#endif
