#include "pipeline/app.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/crypto.h"
#include "core/error.h"
#include "core/log.h"

/* mkdir -p with mode 0700 for directories we create. */
static int make_dirs(const char *path) {
  char tmp[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof(tmp)) return SCRIBE_EINVAL;
  memcpy(tmp, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (tmp[i] == '/' || tmp[i] == '\0') {
      char c = tmp[i];
      tmp[i] = '\0';
      if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return SCRIBE_EIO;
      tmp[i] = c;
    }
  }
  return SCRIBE_OK;
}

/* Reads data_dir/signing.key, or creates it with 32 random bytes (hex). */
static int load_signing_key(scribe_app *app, char *err, size_t errlen) {
  const scribe_config *cfg = app->cfg;
  if (*cfg->signing_key) {
    size_t n = strlen(cfg->signing_key);
    if (n >= sizeof(app->signing_key)) n = sizeof(app->signing_key) - 1;
    memcpy(app->signing_key, cfg->signing_key, n);
    app->signing_key_len = n;
    return SCRIBE_OK;
  }
  char path[4200];
  snprintf(path, sizeof(path), "%s/signing.key", cfg->data_dir);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t r = read(fd, app->signing_key, sizeof(app->signing_key) - 1);
    close(fd);
    if (r < 32) {
      snprintf(err, errlen, "%s: signing key file is too short (delete it to regenerate)", path);
      return SCRIBE_ECONFIG;
    }
    app->signing_key_len = (size_t)r;
    while (app->signing_key_len && (app->signing_key[app->signing_key_len - 1] == '\n'))
      app->signing_key_len--;
    return SCRIBE_OK;
  }
  char hex[65];
  int rc = scribe_random_hex(hex, sizeof(hex), 32);
  if (rc) return rc;
  char tmp[4300];
  snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
  fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    snprintf(err, errlen, "%s: cannot create signing key: %s", path, strerror(errno));
    return SCRIBE_EIO;
  }
  ssize_t w = write(fd, hex, 64);
  int ok = w == 64 && fsync(fd) == 0;
  close(fd);
  /* link() fails if another process created the key first: use theirs. */
  if (ok && link(tmp, path) != 0 && errno != EEXIST) ok = 0;
  unlink(tmp);
  if (!ok) {
    snprintf(err, errlen, "%s: cannot write signing key", path);
    return SCRIBE_EIO;
  }
  return load_signing_key(app, err, errlen);
}

int scribe_app_open(scribe_app *app, const scribe_config *cfg, char *err, size_t errlen) {
  memset(app, 0, sizeof(*app));
  app->cfg = cfg;
  char path[4200], objects[4200];
  int rc = make_dirs(cfg->data_dir);
  if (rc) {
    snprintf(err, errlen, "data_dir %s: cannot create: %s", cfg->data_dir, strerror(errno));
    return SCRIBE_ECONFIG;
  }
  rc = load_signing_key(app, err, errlen);
  if (rc) return rc;
  snprintf(path, sizeof(path), "%s/scribe.db", cfg->data_dir);
  snprintf(objects, sizeof(objects), "%s/objects", cfg->data_dir);

  scribe_storage_params sp = scribe_storage_default_params();
  sp.root = objects;
  sp.s3_endpoint = cfg->s3_endpoint;
  sp.s3_region = cfg->s3_region;
  sp.s3_bucket = cfg->s3_bucket;
  sp.s3_prefix = cfg->s3_prefix;
  sp.s3_access_key = *cfg->s3_access_key ? cfg->s3_access_key : getenv("AWS_ACCESS_KEY_ID");
  sp.s3_secret_key = *cfg->s3_secret_key ? cfg->s3_secret_key : getenv("AWS_SECRET_ACCESS_KEY");
  sp.s3_session_token =
      *cfg->s3_session_token ? cfg->s3_session_token : getenv("AWS_SESSION_TOKEN");
  sp.s3_path_style = cfg->s3_path_style;
  app->storage = scribe_storage_create(cfg->storage, &sp, err, errlen);
  if (!app->storage) goto fail;

  scribe_queue_params qp = scribe_queue_default_params();
  qp.path = path;
  qp.conninfo = cfg->postgres_url;
  qp.max_attempts = (int)cfg->max_attempts;
  qp.backoff_base_ms = cfg->retry_base_ms;
  app->queue = scribe_queue_create(cfg->queue, &qp, err, errlen);
  if (!app->queue) goto fail;

  scribe_results_params rp = scribe_results_default_params();
  rp.path = path;
  rp.conninfo = cfg->postgres_url;
  app->results = scribe_results_create(cfg->results, &rp, err, errlen);
  if (!app->results) goto fail;

  scribe_notify_params np = scribe_notify_default_params();
  /* sqlite: events shared through scribe.db; postgres: LISTEN/NOTIFY */
  np.conninfo = strcmp(cfg->notify, "sqlite") == 0 ? path : cfg->postgres_url;
  app->notify = scribe_notify_create(cfg->notify, &np, err, errlen);
  if (!app->notify) goto fail;
  return SCRIBE_OK;

fail:
  scribe_app_close(app);
  return SCRIBE_ECONFIG;
}

void scribe_app_close(scribe_app *app) {
  scribe_notify_free(app->notify);
  scribe_results_free(app->results);
  scribe_queue_free(app->queue);
  scribe_storage_free(app->storage);
  app->notify = NULL;
  app->results = NULL;
  app->queue = NULL;
  app->storage = NULL;
  memset(app->signing_key, 0, sizeof(app->signing_key));
}

int scribe_app_new_key(char out[SCRIBE_KEY_LEN + 1]) {
  return scribe_random_hex(out, SCRIBE_KEY_LEN + 1, SCRIBE_KEY_LEN / 2);
}

bool scribe_app_key_valid(const char *key) {
  if (!key) return false;
  size_t n = strlen(key);
  if (n == 0 || n > 128) return false;
  if (key[0] == '.') return false;
  for (size_t i = 0; i < n; i++) {
    char c = key[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return strstr(key, "..") == NULL;
}

int scribe_app_audio_object(const char *key, char *out, size_t outlen) {
  if (!scribe_app_key_valid(key)) return SCRIBE_EBADKEY;
  int n = snprintf(out, outlen, "audio/%s", key);
  return n < 0 || (size_t)n >= outlen ? SCRIBE_ETOOBIG : SCRIBE_OK;
}

int scribe_app_sign_upload(const scribe_app *app, const char *key, int64_t expires,
                           int64_t max_bytes, char sig[65]) {
  char msg[256];
  int n = snprintf(msg, sizeof(msg), "PUT\n%s\n%" PRId64 "\n%" PRId64, key, expires, max_bytes);
  if (n < 0 || (size_t)n >= sizeof(msg)) return SCRIBE_EINVAL;
  return scribe_hmac_sha256_hex(app->signing_key, app->signing_key_len, msg, (size_t)n, sig);
}

static bool parse_i64(const char *s, int64_t *out) {
  if (!s || !*s || strlen(s) > 19) return false;
  int64_t v = 0;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9') return false;
    v = v * 10 + (*p - '0');
  }
  *out = v;
  return true;
}

int scribe_app_verify_upload(const scribe_app *app, const char *key, const char *expires,
                             const char *max_bytes, const char *sig, int64_t now,
                             int64_t *max_bytes_out) {
  int64_t exp, max;
  if (!scribe_app_key_valid(key) || !parse_i64(expires, &exp) || !parse_i64(max_bytes, &max) ||
      !sig || strlen(sig) != 64)
    return SCRIBE_EFORBIDDEN;
  char want[65];
  if (scribe_app_sign_upload(app, key, exp, max, want)) return SCRIBE_EFORBIDDEN;
  if (!scribe_secure_equal(want, 64, sig, 64)) return SCRIBE_EFORBIDDEN;
  if (now / 1000 > exp) return SCRIBE_EEXPIRED;
  if (max_bytes_out) *max_bytes_out = max;
  return SCRIBE_OK;
}

int scribe_app_upload_url(const scribe_app *app, const char *base, const char *key, char **url) {
  /* A store that signs its own URLs (S3) takes the upload directly, as in
   * the original design; the server then learns of it from upload-complete
   * or from the client's polling (see scribe_app_enqueue). */
  char obj[SCRIBE_STORAGE_KEY_MAX + 1];
  int rc = scribe_app_audio_object(key, obj, sizeof(obj));
  if (rc) return rc;
  rc = scribe_storage_presign_put(app->storage, obj, (long)app->cfg->upload_url_ttl, url);
  if (rc != SCRIBE_EINVAL) return rc;
  int64_t expires = scribe_now_ms() / 1000 + app->cfg->upload_url_ttl;
  int64_t max = app->cfg->upload_max_bytes;
  char sig[65];
  rc = scribe_app_sign_upload(app, key, expires, max, sig);
  if (rc) return rc;
  size_t blen = strlen(base);
  while (blen && base[blen - 1] == '/') blen--;
  size_t need = blen + strlen(key) + 200;
  char *u = malloc(need);
  if (!u) return SCRIBE_ENOMEM;
  snprintf(u, need, "%.*s/upload/%s?expires=%" PRId64 "&max=%" PRId64 "&sig=%s", (int)blen, base,
           key, expires, max, sig);
  *url = u;
  return SCRIBE_OK;
}

int scribe_app_create(scribe_app *app, const char *key, const scribe_record_meta *meta) {
  if (!scribe_app_key_valid(key)) return SCRIBE_EBADKEY;
  return scribe_results_insert(app->results, key, meta);
}

int scribe_app_enqueue(scribe_app *app, const char *key, bool *queued) {
  if (queued) *queued = false;
  char obj[SCRIBE_STORAGE_KEY_MAX + 1];
  int rc = scribe_app_audio_object(key, obj, sizeof(obj));
  if (rc) return rc;
  json_t *doc = NULL;
  rc = scribe_results_get(app->results, key, &doc);
  if (rc) return rc;
  int st = scribe_status_parse(json_string_value(json_object_get(doc, "status")));
  json_decref(doc);
  if (st != SCRIBE_STATUS_UPLOADED && st != SCRIBE_STATUS_FAILED) return SCRIBE_OK;
  uint64_t size = 0;
  rc = scribe_storage_stat(app->storage, obj, &size);
  if (rc) return rc;
  bool created = false;
  /* Status first: if the push then fails the record says queued without a
   * job, so set it back.  If we crash between the two, the next
   * upload-complete repairs it (status queued but no job is re-pushed by
   * the recovery sweep in the worker). */
  rc = scribe_results_set_status(app->results, key, SCRIBE_STATUS_QUEUED, 0, NULL);
  if (rc) return rc;
  rc = scribe_queue_push(app->queue, key, 0, &created);
  if (rc) {
    scribe_results_set_status(app->results, key, (scribe_status)st, -1, NULL);
    return rc;
  }
  if (queued) *queued = created;
  LOG_INFO("job queued key=%s bytes=%llu", key, (unsigned long long)size);
  scribe_app_publish(app, key, "queued", NULL);
  return SCRIBE_OK;
}

int scribe_app_delete(scribe_app *app, const char *key) {
  char obj[SCRIBE_STORAGE_KEY_MAX + 1];
  int rc = scribe_app_audio_object(key, obj, sizeof(obj));
  if (rc) return rc;
  int rs = scribe_storage_remove(app->storage, obj);
  int rr = scribe_results_remove(app->results, key);
  if (rs && rs != SCRIBE_ENOTFOUND) return rs;
  if (rr && rr != SCRIBE_ENOTFOUND) return rr;
  if (rs == SCRIBE_ENOTFOUND && rr == SCRIBE_ENOTFOUND) return SCRIBE_ENOTFOUND;
  LOG_INFO("consultation deleted key=%s", key);
  return SCRIBE_OK;
}

int scribe_app_publish(scribe_app *app, const char *key, const char *type, json_t *extra) {
  json_t *ev = json_object();
  if (!ev) return SCRIBE_ENOMEM;
  json_object_set_new(ev, "type", json_string(type));
  json_object_set_new(ev, "audioKey", json_string(key));
  if (extra) json_object_update(ev, extra);
  char *text = json_dumps(ev, JSON_COMPACT);
  json_decref(ev);
  if (!text) return SCRIBE_ENOMEM;
  int rc = scribe_notify_publish(app->notify, key, text);
  free(text);
  return rc;
}
