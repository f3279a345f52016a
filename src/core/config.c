#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"

typedef enum { T_STR, T_INT, T_BOOL, T_LEVEL } row_type;

typedef struct {
  const char *name;
  row_type type;
  size_t offset;
  const char *def;
  int64_t min, max;
  bool secret;
  const char *help;
} row;

#define OFF(f) offsetof(scribe_config, f)
#define I64MAX INT64_MAX

static const row table[] = {
    {"host", T_STR, OFF(host), "127.0.0.1", 0, 0, false, "address to listen on"},
    {"port", T_INT, OFF(port), "8080", 0, 65535, false, "TCP port (0 = any free port)"},
    {"public_url", T_STR, OFF(public_url), "", 0, 0, false,
     "external base URL (https://scribe.example.org); empty = from the Host header"},
    {"cors_origins", T_STR, OFF(cors_origins), "", 0, 0, false,
     "comma-separated origins allowed by CORS; empty = none"},
    {"max_connections", T_INT, OFF(max_connections), "512", 1, 100000, false,
     "concurrent HTTP connections"},
    {"connection_timeout", T_INT, OFF(connection_timeout), "30", 1, 3600, false,
     "seconds an idle or slow HTTP client is kept"},
    {"max_json_bytes", T_INT, OFF(max_json_bytes), "1048576", 64, 64 << 20, false,
     "largest JSON request body"},
    {"max_json_depth", T_INT, OFF(max_json_depth), "32", 2, 1024, false,
     "deepest nesting accepted in JSON request bodies"},
    {"data_dir", T_STR, OFF(data_dir), "./scribe-data", 0, 0, false,
     "directory holding the database and objects in embedded mode"},
    {"storage", T_STR, OFF(storage), "fs", 0, 0, false, "object storage backend"},
    {"queue", T_STR, OFF(queue), "sqlite", 0, 0, false, "job queue backend"},
    {"results", T_STR, OFF(results), "sqlite", 0, 0, false, "results backend"},
    {"notify", T_STR, OFF(notify), "sqlite", 0, 0, false,
     "notifications backend: sqlite (shared with `scribe worker` processes) or local"},
    {"postgres_url", T_STR, OFF(postgres_url), "", 0, 0, true,
     "PostgreSQL connection string for the postgres backends (postgresql://user:pass@host/db)"},
    {"s3_endpoint", T_STR, OFF(s3_endpoint), "", 0, 0, false,
     "S3-compatible endpoint URL for the s3 storage backend"},
    {"s3_region", T_STR, OFF(s3_region), "us-east-1", 0, 0, false, "S3 region"},
    {"s3_bucket", T_STR, OFF(s3_bucket), "", 0, 0, false, "S3 bucket"},
    {"s3_prefix", T_STR, OFF(s3_prefix), "", 0, 0, false, "prefix for every object key"},
    {"s3_access_key", T_STR, OFF(s3_access_key), "", 0, 0, true,
     "S3 access key id (or AWS_ACCESS_KEY_ID)"},
    {"s3_secret_key", T_STR, OFF(s3_secret_key), "", 0, 0, true,
     "S3 secret access key (or AWS_SECRET_ACCESS_KEY)"},
    {"s3_session_token", T_STR, OFF(s3_session_token), "", 0, 0, true,
     "S3 session token (or AWS_SESSION_TOKEN)"},
    {"s3_path_style", T_BOOL, OFF(s3_path_style), "true", 0, 0, false,
     "path-style S3 URLs (endpoint/bucket/key); false = virtual-host style"},
    {"upload_max_bytes", T_INT, OFF(upload_max_bytes), "2147483648", 1, I64MAX, false,
     "largest accepted upload in bytes"},
    {"upload_url_ttl", T_INT, OFF(upload_url_ttl), "3600", 1, 7 * 86400, false,
     "seconds a signed upload URL stays valid"},
    {"signing_key", T_STR, OFF(signing_key), "", 0, 0, true,
     "HMAC key for upload URLs; empty = generated once into data_dir/signing.key"},
    {"auth", T_BOOL, OFF(auth), "off", 0, 0, false,
     "on: accounts, login and ownership (required off loopback); off: no login"},
    {"auth_session_ttl", T_INT, OFF(auth_session_ttl), "43200", 60, 30 * 86400, false,
     "seconds a web login session lasts"},
    {"auth_token_ttl_days", T_INT, OFF(auth_token_ttl_days), "90", 1, 3650, false,
     "default lifetime of an API token (scribe user token --days)"},
    {"auth_login_max_failures", T_INT, OFF(auth_login_max_failures), "5", 1, 1000, false,
     "failed logins per account or address before a lockout"},
    {"auth_lockout_seconds", T_INT, OFF(auth_lockout_seconds), "30", 1, 86400, false,
     "first login lockout; doubles per further failure (at most 1 hour)"},
    {"workers", T_INT, OFF(workers), "1", 0, 256, false,
     "in-process workers in `serve` (0 = none: use `scribe worker`)"},
    {"stt", T_STR, OFF(stt), "pocketsphinx", 0, 0, false,
     "speech-to-text backend: pocketsphinx or openai (any OpenAI-compatible server)"},
    {"stt_url", T_STR, OFF(stt_url), "", 0, 0, false,
     "openai stt: server base URL, e.g. http://127.0.0.1:9000/v1 or https://api.openai.com/v1"},
    {"stt_api_key", T_STR, OFF(stt_api_key), "", 0, 0, true,
     "openai stt: API key sent as a Bearer token (or OPENAI_API_KEY); empty = none"},
    {"stt_model", T_STR, OFF(stt_model), "whisper-1", 0, 0, false,
     "openai stt: model name sent to the server"},
    {"stt_language", T_STR, OFF(stt_language), "", 0, 0, false,
     "openai stt: ISO-639-1 language hint (en); empty = the server detects it"},
    {"stt_prompt", T_STR, OFF(stt_prompt), "", 0, 0, false,
     "openai stt: prompt with vocabulary hints (drug names); never put patient data here"},
    {"stt_timeout", T_INT, OFF(stt_timeout), "300", 1, 86400, false,
     "openai stt: seconds allowed per request (one chunk of at most 10 minutes of audio)"},
    {"extractor", T_STR, OFF(extractor), "rules", 0, 0, false, "clinical extraction backend"},
    {"audio_max_seconds", T_INT, OFF(audio_max_seconds), "14400", 1, 86400, false,
     "longest accepted recording"},
    {"keep_audio", T_BOOL, OFF(keep_audio), "false", 0, 0, false,
     "keep audio after a successful job (it is always kept when a job fails)"},
    {"lease_seconds", T_INT, OFF(lease_seconds), "60", 2, 86400, false,
     "job lease; a worker renews it while working, a crashed worker's job returns after it"},
    {"max_attempts", T_INT, OFF(max_attempts), "5", 1, 100, false,
     "attempts before a job is dead-lettered"},
    {"retry_base_ms", T_INT, OFF(retry_base_ms), "2000", 1, 3600000, false,
     "first retry delay; doubles per attempt"},
    {"pocketsphinx_model", T_STR, OFF(pocketsphinx_model),
     "/usr/share/pocketsphinx/model/en-us/en-us", 0, 0, false, "PocketSphinx acoustic model dir"},
    {"pocketsphinx_lm", T_STR, OFF(pocketsphinx_lm),
     "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin", 0, 0, false,
     "PocketSphinx language model"},
    {"pocketsphinx_dict", T_STR, OFF(pocketsphinx_dict),
     "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict", 0, 0, false,
     "PocketSphinx pronunciation dictionary"},
    {"pocketsphinx_domain", T_BOOL, OFF(pocketsphinx_domain), "true", 0, 0, false,
     "PocketSphinx: add the medical dictionary and the consultation language model (on|off)"},
    {"lexicon_dir", T_STR, OFF(lexicon_dir), "", 0, 0, false,
     "directory of extraction lexicons; empty = the built-in ones"},
    {"log_level", T_LEVEL, OFF(log_level), "info", 0, 0, false, "debug, info, warn or error"},
};

#define NROWS (sizeof(table) / sizeof(table[0]))

/* Compares a flag or env spelling with a key name: case-insensitive,
 * '-' == '_'. */
static bool name_eq(const char *a, size_t alen, const char *key) {
  size_t klen = strlen(key);
  if (alen != klen) return false;
  for (size_t i = 0; i < alen; i++) {
    char c = a[i] == '-' ? '_' : (char)tolower((unsigned char)a[i]);
    if (c != key[i]) return false;
  }
  return true;
}

static const row *find_row(const char *name, size_t len) {
  for (size_t i = 0; i < NROWS; i++)
    if (name_eq(name, len, table[i].name)) return &table[i];
  return NULL;
}

bool scribe_config_has_key(const char *flag) { return find_row(flag, strlen(flag)) != NULL; }

static int set_row(scribe_config *cfg, const row *r, const char *value, const char *source,
                   char *err, size_t errlen) {
  char *base = (char *)cfg;
  switch (r->type) {
    case T_STR:
    case T_LEVEL: {
      if (r->type == T_LEVEL && scribe_log_level_parse(value) < 0) {
        snprintf(err, errlen, "%s: %s: expected debug, info, warn or error", source, r->name);
        return SCRIBE_ECONFIG;
      }
      if (strlen(value) > 4096) {
        snprintf(err, errlen, "%s: %s: value too long", source, r->name);
        return SCRIBE_ECONFIG;
      }
      char *copy = strdup(value);
      if (!copy) return SCRIBE_ENOMEM;
      char **slot = (char **)(base + r->offset);
      free(*slot);
      *slot = copy;
      return SCRIBE_OK;
    }
    case T_INT: {
      char *end = NULL;
      errno = 0;
      long long v = strtoll(value, &end, 10);
      while (end && *end && isspace((unsigned char)*end)) end++;
      if (errno || end == value || (end && *end) || v < r->min || v > r->max) {
        snprintf(err, errlen, "%s: %s: expected an integer from %lld to %lld, got \"%.64s\"",
                 source, r->name, (long long)r->min, (long long)r->max, value);
        return SCRIBE_ECONFIG;
      }
      *(int64_t *)(base + r->offset) = v;
      return SCRIBE_OK;
    }
    case T_BOOL: {
      bool v;
      if (!strcasecmp(value, "true") || !strcmp(value, "1") || !strcasecmp(value, "yes") ||
          !strcasecmp(value, "on"))
        v = true;
      else if (!strcasecmp(value, "false") || !strcmp(value, "0") || !strcasecmp(value, "no") ||
               !strcasecmp(value, "off"))
        v = false;
      else {
        snprintf(err, errlen, "%s: %s: expected true or false, got \"%.64s\"", source, r->name,
                 value);
        return SCRIBE_ECONFIG;
      }
      *(bool *)(base + r->offset) = v;
      return SCRIBE_OK;
    }
  }
  return SCRIBE_EINVAL;
}

int scribe_config_set(scribe_config *cfg, const char *key, const char *value, const char *source,
                      char *err, size_t errlen) {
  const row *r = find_row(key, strlen(key));
  if (!r) {
    snprintf(err, errlen, "%s: unknown configuration key \"%.64s\"", source, key);
    return SCRIBE_ECONFIG;
  }
  return set_row(cfg, r, value, source, err, errlen);
}

void scribe_config_init(scribe_config *cfg) {
  memset(cfg, 0, sizeof(*cfg));
  char err[256];
  for (size_t i = 0; i < NROWS; i++) {
    int rc = set_row(cfg, &table[i], table[i].def, "default", err, sizeof(err));
    if (rc) abort(); /* a broken built-in default is a programming error */
  }
}

void scribe_config_release(scribe_config *cfg) {
  char *base = (char *)cfg;
  for (size_t i = 0; i < NROWS; i++) {
    if (table[i].type == T_STR || table[i].type == T_LEVEL) {
      char **slot = (char **)(base + table[i].offset);
      free(*slot);
      *slot = NULL;
    }
  }
}

static char *trim(char *s) {
  while (*s && isspace((unsigned char)*s)) s++;
  size_t n = strlen(s);
  while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
  return s;
}

int scribe_config_load_file(scribe_config *cfg, const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errlen, "%s: cannot open configuration file: %s", path, strerror(errno));
    return errno == ENOENT ? SCRIBE_ENOTFOUND : SCRIBE_ECONFIG;
  }
  char line[8192];
  int lineno = 0, rc = SCRIBE_OK;
  while (fgets(line, sizeof(line), f)) {
    lineno++;
    char src[512];
    snprintf(src, sizeof(src), "%s:%d", path, lineno);
    if (!strchr(line, '\n') && !feof(f)) {
      snprintf(err, errlen, "%s: line too long", src);
      rc = SCRIBE_ECONFIG;
      break;
    }
    char *hash = strchr(line, '#');
    if (hash) *hash = '\0';
    char *s = trim(line);
    if (!*s) continue;
    char *eq = strchr(s, '=');
    if (!eq) {
      snprintf(err, errlen, "%s: expected \"key = value\"", src);
      rc = SCRIBE_ECONFIG;
      break;
    }
    *eq = '\0';
    char *key = trim(s), *val = trim(eq + 1);
    size_t vl = strlen(val);
    if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
      val[vl - 1] = '\0';
      val++;
    }
    rc = scribe_config_set(cfg, key, val, src, err, errlen);
    if (rc) break;
  }
  fclose(f);
  return rc ? SCRIBE_ECONFIG : SCRIBE_OK;
}

int scribe_config_load_env(scribe_config *cfg, char *err, size_t errlen) {
  for (size_t i = 0; i < NROWS; i++) {
    char env[128] = "SCRIBE_";
    size_t n = strlen(env);
    for (const char *p = table[i].name; *p && n < sizeof(env) - 1; p++)
      env[n++] = (char)toupper((unsigned char)*p);
    env[n] = '\0';
    const char *v = getenv(env);
    if (!v) continue;
    char src[160];
    snprintf(src, sizeof(src), "environment %s", env);
    int rc = set_row(cfg, &table[i], v, src, err, errlen);
    if (rc) return rc;
  }
  return SCRIBE_OK;
}

int scribe_config_load(scribe_config *cfg, int *argc, char **argv, char *err, size_t errlen) {
  /* Find --config first: the file sits below env and flags. */
  const char *file = getenv("SCRIBE_CONFIG");
  for (int i = 1; i < *argc; i++) {
    if (!strcmp(argv[i], "--config") && i + 1 < *argc) file = argv[i + 1];
    else if (!strncmp(argv[i], "--config=", 9)) file = argv[i] + 9;
  }
  if (file && *file) {
    int rc = scribe_config_load_file(cfg, file, err, errlen);
    if (rc) return SCRIBE_ECONFIG;
  }
  if (scribe_config_load_env(cfg, err, errlen)) return SCRIBE_ECONFIG;

  int out = 1;
  for (int i = 1; i < *argc; i++) {
    char *a = argv[i];
    if (!strcmp(a, "--")) {
      while (i < *argc) argv[out++] = argv[i++];
      break;
    }
    if (strncmp(a, "--", 2) != 0) {
      argv[out++] = a;
      continue;
    }
    const char *name = a + 2;
    const char *eq = strchr(name, '=');
    size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
    if (name_eq(name, nlen, "config")) {
      if (!eq) i++;
      continue;
    }
    const row *r = find_row(name, nlen);
    if (!r) {
      argv[out++] = a; /* not a config flag: the subcommand handles it */
      continue;
    }
    const char *val;
    if (eq) val = eq + 1;
    else if (r->type == T_BOOL && (i + 1 >= *argc || strncmp(argv[i + 1], "--", 2) == 0))
      val = "true";
    else if (i + 1 < *argc) val = argv[++i];
    else {
      snprintf(err, errlen, "--%s needs a value", r->name);
      return SCRIBE_ECONFIG;
    }
    char src[160];
    snprintf(src, sizeof(src), "flag --%.*s", (int)nlen, name);
    if (set_row(cfg, r, val, src, err, errlen)) return SCRIBE_ECONFIG;
  }
  argv[out] = NULL;
  *argc = out;
  return scribe_config_validate(cfg, err, errlen);
}

int scribe_config_validate(const scribe_config *cfg, char *err, size_t errlen) {
  if (!*cfg->host) {
    snprintf(err, errlen, "host: must not be empty");
    return SCRIBE_ECONFIG;
  }
  if (!*cfg->data_dir) {
    snprintf(err, errlen, "data_dir: must not be empty");
    return SCRIBE_ECONFIG;
  }
  if (*cfg->public_url && strncmp(cfg->public_url, "http://", 7) != 0 &&
      strncmp(cfg->public_url, "https://", 8) != 0) {
    snprintf(err, errlen, "public_url: must start with http:// or https://");
    return SCRIBE_ECONFIG;
  }
  if (*cfg->cors_origins && strstr(cfg->cors_origins, "*")) {
    snprintf(err, errlen,
             "cors_origins: \"*\" is not allowed (any web page could read transcripts); "
             "list the origins");
    return SCRIBE_ECONFIG;
  }
  if (*cfg->signing_key && strlen(cfg->signing_key) < 32) {
    snprintf(err, errlen, "signing_key: must be at least 32 characters");
    return SCRIBE_ECONFIG;
  }
  return SCRIBE_OK;
}

void scribe_config_print(const scribe_config *cfg, void *file) {
  FILE *f = file;
  const char *base = (const char *)cfg;
  for (size_t i = 0; i < NROWS; i++) {
    const row *r = &table[i];
    switch (r->type) {
      case T_STR:
      case T_LEVEL: {
        const char *v = *(char *const *)(base + r->offset);
        if (r->secret && v && *v) v = "********";
        fprintf(f, "%s = \"%s\"\n", r->name, v ? v : "");
        break;
      }
      case T_INT:
        fprintf(f, "%s = %lld\n", r->name, (long long)*(const int64_t *)(base + r->offset));
        break;
      case T_BOOL:
        fprintf(f, "%s = %s\n", r->name, *(const bool *)(base + r->offset) ? "true" : "false");
        break;
    }
  }
}

void scribe_config_print_help(void *file) {
  FILE *f = file;
  for (size_t i = 0; i < NROWS; i++) {
    char flag[64];
    snprintf(flag, sizeof(flag), "--%s", table[i].name);
    for (char *p = flag + 2; *p; p++)
      if (*p == '_') *p = '-';
    fprintf(f, "  %-22s %s (default: %s)\n", flag, table[i].help,
            !strcmp(table[i].name, "signing_key") ? "generated"
                                                   : (*table[i].def ? table[i].def : "\"\""));
  }
}
