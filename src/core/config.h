/*
 * config.h - Scribe's configuration: one table of keys (after Redis's
 * config.c).  Precedence: built-in defaults < config file < environment
 * (SCRIBE_<KEY>, upper case) < command-line flags (--key value or
 * --key=value; '-' and '_' are interchangeable in flags).
 *
 * Every value is validated when loaded; a bad value stops the program with
 * a message naming the key, where it came from and what is allowed.
 */
#ifndef SCRIBE_CONFIG_H
#define SCRIBE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct scribe_config {
  /* server */
  char *host;
  int64_t port;
  char *public_url;   /* base for absolute upload/WebSocket URLs; "" = from Host */
  char *cors_origins; /* comma-separated allowed origins; "" = none */
  int64_t max_connections;
  int64_t connection_timeout; /* seconds of client inactivity */
  int64_t max_json_bytes;
  int64_t max_json_depth;
  /* data */
  char *data_dir;
  char *storage;   /* object storage backend */
  char *queue;     /* queue backend */
  char *results;   /* results backend */
  char *notify;    /* notifications backend */
  char *postgres_url; /* secret: libpq connection string for postgres backends */
  char *s3_endpoint;
  char *s3_region;
  char *s3_bucket;
  char *s3_prefix;
  char *s3_access_key; /* secret */
  char *s3_secret_key; /* secret */
  char *s3_session_token; /* secret */
  bool s3_path_style;
  /* uploads */
  int64_t upload_max_bytes;
  int64_t upload_url_ttl; /* seconds */
  char *signing_key;      /* secret; "" = generated once into data_dir */
  /* access control (src/auth, docs/security.md) */
  bool auth;                        /* off: no accounts (loopback only); on: login required */
  int64_t auth_session_ttl;         /* seconds a web login session lasts */
  int64_t auth_token_ttl_days;      /* default lifetime of an API token */
  int64_t auth_login_max_failures;  /* failed logins before a lockout */
  int64_t auth_lockout_seconds;     /* first lockout; doubles per further failure */
  /* pipeline */
  int64_t workers;
  char *stt;
  char *stt_url;       /* remote stt: base URL (http://127.0.0.1:9000/v1) */
  char *stt_api_key;   /* secret: remote stt API key; "" = $OPENAI_API_KEY or none */
  char *stt_model;     /* remote stt: model name */
  char *stt_language;  /* remote stt: language hint; "" = detect */
  char *stt_prompt;    /* remote stt: vocabulary hints */
  int64_t stt_timeout; /* remote stt: seconds per request */
  char *extractor;
  int64_t audio_max_seconds;
  bool keep_audio;
  int64_t lease_seconds;
  int64_t max_attempts;
  int64_t retry_base_ms;
  char *pocketsphinx_model;
  char *pocketsphinx_lm;
  char *pocketsphinx_dict;
  bool pocketsphinx_domain; /* medical dictionary + consultation LM (docs/speech.md) */
  char *lexicon_dir;
  char *log_level;
} scribe_config;

/* Fills cfg with the defaults.  Release with scribe_config_release(). */
void scribe_config_init(scribe_config *cfg);
void scribe_config_release(scribe_config *cfg);

/* Applies a file of "key = value" lines ('#' starts a comment).
 * Errors name file:line.  SCRIBE_ENOTFOUND if the file is missing. */
int scribe_config_load_file(scribe_config *cfg, const char *path, char *err, size_t errlen);
/* Applies SCRIBE_<KEY> environment variables. */
int scribe_config_load_env(scribe_config *cfg, char *err, size_t errlen);
/* Sets one key from a string (source names where it came from, for errors). */
int scribe_config_set(scribe_config *cfg, const char *key, const char *value, const char *source,
                      char *err, size_t errlen);
/* True when `flag` (without leading dashes) names a key. */
bool scribe_config_has_key(const char *flag);

/* The whole load: defaults, then file (--config FILE or SCRIBE_CONFIG, if
 * any), environment, then flags in argv.  Consumes the config flags it
 * knows from argv (compacting it, *argc updated) and leaves the rest.
 * Returns SCRIBE_OK or SCRIBE_ECONFIG with a message. */
int scribe_config_load(scribe_config *cfg, int *argc, char **argv, char *err, size_t errlen);

/* Checks cross-key constraints (after loading). */
int scribe_config_validate(const scribe_config *cfg, char *err, size_t errlen);

/* Writes "key = value" lines, secrets masked, to the FILE*. */
void scribe_config_print(const scribe_config *cfg, void *file);
/* Writes the table (key, default, help) for --help. */
void scribe_config_print_help(void *file);

#endif
