/*
 * http_parts.c - the resumable upload of the native API, for clients that
 * must survive a network drop, a server restart or a page reload:
 *
 *   PUT  /api/v1/consultations/{id}/parts/{n}   one part (0..999), at most
 *        SCRIBE_HTTP_PART_MAX bytes, streamed to storage object
 *        "parts/{id}/{n}"; optional Content-MD5 / X-Checksum-SHA256 checked
 *        before the part is committed.  Sending a part again replaces it.
 *   GET  /api/v1/consultations/{id}/parts       the parts held durably, with
 *        sizes and SHA-256, so that a client knows where to resume.
 *   POST /api/v1/consultations/{id}/parts/complete {"parts":N,"sha256":?}
 *        concatenates parts 0..N-1 into "audio/{id}" with one streaming
 *        storage write, queues the job, then deletes the parts.
 *
 * A part is durable once both its data object and its checksum record
 * "parts/{id}/{n}.json" ({"size":S,"sha256":H}) are committed, in that
 * order: a crash in between leaves a part without a record, which the
 * listing does not show, so the client sends it again.  h->parts_lock makes
 * "commit data + record" and "concatenate + queue + delete" mutually
 * exclusive inside this process.  Completion is ordered so that a retry
 * after a crash always works: audio committed, job queued, parts deleted.
 */
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "http/http_internal.h"

#define PART_INFO_MAX 512        /* bytes of a checksum record */
#define COPY_BUF (64 * 1024)     /* concatenation buffer */
#define MISSING_LIST_MAX 100     /* part numbers named in a missing_parts error */

typedef struct part_info {
  bool present;
  uint64_t size;
  char sha256[65];
} part_info;

/* "parts/{key}/{n}" or, with meta, "parts/{key}/{n}.json". */
static int part_object(const char *key, unsigned n, bool meta, char *out, size_t len) {
  int w = snprintf(out, len, "parts/%s/%u%s", key, n, meta ? ".json" : "");
  if (w < 0 || (size_t)w >= len) return SCRIBE_EBADKEY;
  return scribe_storage_key_valid(out) ? SCRIBE_OK : SCRIBE_EBADKEY;
}

/* The record's status, or a negative code (SCRIBE_ENOTFOUND). */
static int record_status(scribe_app *app, const char *key) {
  json_t *doc = NULL;
  int rc = scribe_results_get(app->results, key, &doc);
  if (rc) return rc;
  int st = scribe_status_parse(json_string_value(json_object_get(doc, "status")));
  json_decref(doc);
  return st < 0 ? SCRIBE_EINTERNAL : st;
}

/* Parts may arrive while the audio has not been handed to a worker. */
static bool accepts_parts(int st) {
  return st == SCRIBE_STATUS_UPLOADED || st == SCRIBE_STATUS_FAILED;
}

static bool is_hex64(const char *s) {
  if (!s || strlen(s) != 64) return false;
  for (size_t i = 0; i < 64; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
  return true;
}

/* Reads part n's checksum record and checks the data object's size against
 * it.  pi->present is false when either is missing or they disagree (the
 * part must be sent again); a storage error is returned as is. */
static int read_part_info(scribe_storage *s, const char *key, unsigned n, part_info *pi) {
  memset(pi, 0, sizeof(*pi));
  char obj[SCRIBE_STORAGE_KEY_MAX + 1];
  int rc = part_object(key, n, true, obj, sizeof(obj));
  if (rc) return rc;
  scribe_storage_reader *rd = NULL;
  uint64_t size = 0;
  rc = scribe_storage_open(s, obj, &rd, &size);
  if (rc == SCRIBE_ENOTFOUND) return SCRIBE_OK;
  if (rc) return rc;
  char text[PART_INFO_MAX];
  size_t got = 0;
  while (got < sizeof(text)) {
    long m = scribe_storage_read(rd, text + got, sizeof(text) - got);
    if (m < 0) {
      scribe_storage_close(rd);
      return (int)m;
    }
    if (m == 0) break;
    got += (size_t)m;
  }
  scribe_storage_close(rd);
  json_t *j = json_loadb(text, got, 0, NULL);
  json_t *js = json_object_get(j, "size");
  const char *sha = json_string_value(json_object_get(j, "sha256"));
  bool ok = json_is_integer(js) && json_integer_value(js) >= 0 && is_hex64(sha);
  if (ok) {
    pi->size = (uint64_t)json_integer_value(js);
    memcpy(pi->sha256, sha, 65);
  }
  json_decref(j);
  if (!ok) return SCRIBE_OK; /* a damaged record: the part is sent again */
  rc = part_object(key, n, false, obj, sizeof(obj));
  if (rc) return rc;
  rc = scribe_storage_stat(s, obj, &size);
  if (rc == SCRIBE_ENOTFOUND) return SCRIBE_OK;
  if (rc) return rc;
  pi->present = size == pi->size;
  return SCRIBE_OK;
}

static int write_part_info(scribe_storage *s, const char *key, unsigned n, uint64_t size,
                           const char *sha256) {
  char obj[SCRIBE_STORAGE_KEY_MAX + 1];
  int rc = part_object(key, n, true, obj, sizeof(obj));
  if (rc) return rc;
  char text[PART_INFO_MAX];
  int len = snprintf(text, sizeof(text), "{\"size\":%" PRIu64 ",\"sha256\":\"%s\"}", size, sha256);
  if (len < 0 || (size_t)len >= sizeof(text)) return SCRIBE_EINTERNAL;
  scribe_storage_writer *w = NULL;
  rc = scribe_storage_put_begin(s, obj, &w);
  if (rc) return rc;
  rc = scribe_storage_write(w, text, (size_t)len);
  if (rc) {
    scribe_storage_abort(w);
    return rc;
  }
  return scribe_storage_commit(w);
}

void scribe_http_parts_remove(scribe_http *h, const char *key, unsigned from) {
  char obj[SCRIBE_STORAGE_KEY_MAX + 1];
  for (unsigned n = from; n < SCRIBE_HTTP_PARTS_MAX; n++) {
    /* record first: a part without its record is never listed */
    if (part_object(key, n, true, obj, sizeof(obj)) == SCRIBE_OK)
      scribe_storage_remove(h->app->storage, obj);
    if (part_object(key, n, false, obj, sizeof(obj)) == SCRIBE_OK)
      scribe_storage_remove(h->app->storage, obj);
  }
}

static enum MHD_Result reply_status_rc(http_call *c, int st) {
  if (st == SCRIBE_ENOTFOUND)
    return scribe_http_reply_error(c, MHD_HTTP_NOT_FOUND, "not_found", "no such consultation");
  return scribe_http_reply_rc(c, st);
}

static enum MHD_Result reply_conflict(http_call *c) {
  return scribe_http_reply_error(c, MHD_HTTP_CONFLICT, "conflict",
                                 "this consultation's audio is already complete");
}

static bool key_ok(http_call *c) {
  return !c->r->param_too_long && scribe_app_key_valid(c->r->param);
}

/* ---------------------------------------------------------------------- */
/* PUT .../parts/{n}                                                       */

enum MHD_Result scribe_http_part_begin(http_call *c) {
  http_req *r = c->r;
  scribe_app *app = c->h->app;
  if (!key_ok(c))
    return scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid_key", "invalid key");
  if (!scribe_http_parse_part(r->part, SCRIBE_HTTP_PARTS_MAX, &r->part_no))
    return scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid_part",
                                   "the part number must be an integer from 0 to 999");
  const char *md5h = scribe_http_header(c, "Content-MD5");
  const char *shah = scribe_http_header(c, "X-Checksum-SHA256");
  if (md5h && !scribe_http_parse_digest(md5h, r->md5_expected, 16))
    return scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid_checksum",
                                   "Content-MD5 must be the base64 of 16 bytes");
  if (shah && !scribe_http_parse_digest(shah, r->sha256_expected, 32))
    return scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid_checksum",
                                   "X-Checksum-SHA256 must be 64 hex digits or base64");
  r->want_md5 = md5h != NULL;
  r->want_sha256 = shah != NULL;

  uint64_t limit = SCRIBE_HTTP_PART_MAX;
  if ((uint64_t)c->h->cfg->upload_max_bytes < limit) limit = (uint64_t)c->h->cfg->upload_max_bytes;
  const char *cl = scribe_http_header(c, "Content-Length");
  bool is_chunked = scribe_http_has_token(scribe_http_header(c, "Transfer-Encoding"), "chunked");
  uint64_t len = 0;
  if (!is_chunked) {
    if (!cl)
      return scribe_http_reply_error(c, MHD_HTTP_LENGTH_REQUIRED, "length_required",
                                     "Content-Length is required");
    if (!scribe_http_parse_u64(cl, &len))
      return scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "bad_request",
                                     "invalid Content-Length");
    if (len > limit)
      return scribe_http_reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                                     "a part is at most 16 MiB");
  }
  int st = record_status(app, r->param);
  if (st < 0) return reply_status_rc(c, st);
  if (!accepts_parts(st)) return reply_conflict(c);

  char obj[SCRIBE_STORAGE_KEY_MAX + 1];
  int rc = part_object(r->param, r->part_no, false, obj, sizeof(obj));
  if (!rc) rc = scribe_storage_put_begin(app->storage, obj, &r->writer);
  if (rc) {
    r->writer = NULL;
    return scribe_http_reply_rc(c, rc);
  }
  EVP_MD_CTX *md5 = EVP_MD_CTX_new(), *sha = EVP_MD_CTX_new();
  if (md5 && !EVP_DigestInit_ex(md5, EVP_md5(), NULL)) { /* no MD5 (FIPS) */
    EVP_MD_CTX_free(md5);
    md5 = NULL;
  }
  r->md5 = md5;
  r->sha256 = sha;
  if (!sha || !EVP_DigestInit_ex(sha, EVP_sha256(), NULL)) {
    scribe_http_upload_cleanup(r);
    return scribe_http_reply_rc(c, SCRIBE_ENOMEM);
  }
  r->body = BODY_UPLOAD;
  r->limit = limit;
  LOG_DEBUG("part started key=%s part=%u declared=%" PRIu64 "%s", r->param, r->part_no, len,
            is_chunked ? " (chunked)" : "");
  return MHD_YES;
}

enum MHD_Result scribe_http_part_end(http_call *c) {
  http_req *r = c->r;
  scribe_http *h = c->h;
  if (!r->writer || !r->sha256) return scribe_http_reply_rc(c, SCRIBE_EINTERNAL);
  unsigned char md5[EVP_MAX_MD_SIZE], sha[EVP_MAX_MD_SIZE];
  unsigned md5n = 0, shan = 0;
  bool have_md5 = r->md5 && EVP_DigestFinal_ex(r->md5, md5, &md5n) && md5n == 16;
  if (!EVP_DigestFinal_ex(r->sha256, sha, &shan) || shan != 32) {
    scribe_http_upload_cleanup(r);
    return scribe_http_reply_rc(c, SCRIBE_EINTERNAL);
  }
  const char *mismatch = NULL;
  if (r->want_md5 && !have_md5)
    mismatch = "MD5 is not available on this server; send X-Checksum-SHA256";
  else if (r->want_md5 && memcmp(md5, r->md5_expected, 16) != 0)
    mismatch = "Content-MD5 does not match the body";
  else if (r->want_sha256 && memcmp(sha, r->sha256_expected, 32) != 0)
    mismatch = "X-Checksum-SHA256 does not match the body";
  if (mismatch) {
    scribe_http_upload_cleanup(r); /* aborts the writer: nothing stored */
    LOG_INFO("part rejected key=%s part=%u: checksum mismatch", r->param, r->part_no);
    return scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "checksum_mismatch", mismatch);
  }
  char sha_hex[65], etag[40] = "";
  scribe_http_hex(sha, 32, sha_hex);
  if (have_md5) {
    etag[0] = '"';
    scribe_http_hex(md5, 16, etag + 1);
    etag[33] = '"';
    etag[34] = '\0';
  }

  scribe_storage_writer *w = r->writer;
  r->writer = NULL;
  pthread_mutex_lock(&h->parts_lock);
  /* completion may have run while the body arrived */
  int st = record_status(h->app, r->param);
  if (st < 0 || !accepts_parts(st)) {
    pthread_mutex_unlock(&h->parts_lock);
    scribe_storage_abort(w);
    return st < 0 ? reply_status_rc(c, st) : reply_conflict(c);
  }
  int rc = scribe_storage_commit(w);
  if (!rc) rc = write_part_info(h->app->storage, r->param, r->part_no, r->received, sha_hex);
  pthread_mutex_unlock(&h->parts_lock);
  if (rc) {
    LOG_ERROR("part key=%s part=%u: commit failed: %s", r->param, r->part_no,
              scribe_err_name(rc));
    return scribe_http_reply_rc(c, rc);
  }
  LOG_INFO("part stored key=%s part=%u bytes=%" PRIu64, r->param, r->part_no, r->received);
  json_t *body = json_pack("{s:s,s:I,s:I,s:s}", "id", r->param, "part", (json_int_t)r->part_no,
                           "size", (json_int_t)r->received, "sha256", sha_hex);
  struct MHD_Response *resp = scribe_http_json_response(body, &r->bytes);
  if (!resp) return scribe_http_reply_rc(c, SCRIBE_ENOMEM);
  if (etag[0]) MHD_add_response_header(resp, "ETag", etag);
  return scribe_http_reply(c, MHD_HTTP_OK, resp);
}

/* ---------------------------------------------------------------------- */
/* GET .../parts                                                           */

enum MHD_Result scribe_http_route_parts(http_call *c) {
  scribe_app *app = c->h->app;
  const char *key = c->r->param;
  if (!key_ok(c))
    return scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid_key", "invalid key");
  int st = record_status(app, key);
  if (st < 0) return reply_status_rc(c, st);
  json_t *parts = json_array();
  if (!parts) return scribe_http_reply_rc(c, SCRIBE_ENOMEM);
  uint64_t total = 0;
  for (unsigned n = 0; n < SCRIBE_HTTP_PARTS_MAX; n++) {
    part_info pi;
    int rc = read_part_info(app->storage, key, n, &pi);
    if (rc) {
      json_decref(parts);
      return scribe_http_reply_rc(c, rc);
    }
    if (!pi.present) continue;
    total += pi.size;
    json_array_append_new(parts, json_pack("{s:I,s:I,s:s}", "n", (json_int_t)n, "size",
                                           (json_int_t)pi.size, "sha256", pi.sha256));
  }
  uint64_t part_max = SCRIBE_HTTP_PART_MAX;
  if ((uint64_t)c->h->cfg->upload_max_bytes < part_max)
    part_max = (uint64_t)c->h->cfg->upload_max_bytes;
  json_t *body = json_pack("{s:s,s:s,s:o,s:I,s:I,s:i}", "id", key, "status",
                           scribe_status_name((scribe_status)st), "parts", parts, "total_bytes",
                           (json_int_t)total, "part_max_bytes", (json_int_t)part_max,
                           "max_parts", SCRIBE_HTTP_PARTS_MAX);
  return scribe_http_reply_json(c, MHD_HTTP_OK, body);
}

/* ---------------------------------------------------------------------- */
/* POST .../parts/complete                                                 */

static enum MHD_Result reply_missing(http_call *c, const unsigned *missing, size_t n,
                                     const char *msg) {
  json_t *list = json_array();
  for (size_t i = 0; list && i < n && i < MISSING_LIST_MAX; i++)
    json_array_append_new(list, json_integer((json_int_t)missing[i]));
  json_t *body = json_pack("{s:{s:s,s:s,s:o}}", "error", "code", "missing_parts", "message", msg,
                           "missing", list ? list : json_array());
  return scribe_http_reply_json(c, MHD_HTTP_CONFLICT, body);
}

static enum MHD_Result reply_completed(http_call *c, const char *key, const char *sha_hex,
                                       uint64_t size, bool has_size) {
  int st = record_status(c->h->app, key);
  const char *status = scribe_status_name(st < 0 ? SCRIBE_STATUS_QUEUED : (scribe_status)st);
  json_t *body = json_pack("{s:s,s:s}", "id", key, "status", status);
  if (body && has_size) {
    json_object_set_new(body, "size", json_integer((json_int_t)size));
    json_object_set_new(body, "sha256", json_string(sha_hex));
  }
  return scribe_http_reply_json(c, MHD_HTTP_ACCEPTED, body);
}

/* Streams part n into w, checking it against pi.  Returns SCRIBE_OK,
 * SCRIBE_EPARSE when the stored part no longer matches its checksum (or
 * vanished), or a storage error. */
static int copy_part(scribe_storage *s, const char *key, unsigned n, const part_info *pi,
                     scribe_storage_writer *w, EVP_MD_CTX *all, char *buf) {
  char obj[SCRIBE_STORAGE_KEY_MAX + 1];
  int rc = part_object(key, n, false, obj, sizeof(obj));
  if (rc) return rc;
  scribe_storage_reader *rd = NULL;
  uint64_t size = 0;
  rc = scribe_storage_open(s, obj, &rd, &size);
  if (rc == SCRIBE_ENOTFOUND) return SCRIBE_EPARSE;
  if (rc) return rc;
  EVP_MD_CTX *one = EVP_MD_CTX_new();
  if (!one || !EVP_DigestInit_ex(one, EVP_sha256(), NULL)) {
    rc = SCRIBE_ENOMEM;
    goto done;
  }
  uint64_t copied = 0;
  for (;;) {
    long m = scribe_storage_read(rd, buf, COPY_BUF);
    if (m < 0) {
      rc = (int)m;
      goto done;
    }
    if (m == 0) break;
    copied += (uint64_t)m;
    if (copied > pi->size) break; /* grew: damaged */
    EVP_DigestUpdate(one, buf, (size_t)m);
    EVP_DigestUpdate(all, buf, (size_t)m);
    rc = scribe_storage_write(w, buf, (size_t)m);
    if (rc) goto done;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdn = 0;
  char hex[65];
  if (!EVP_DigestFinal_ex(one, md, &mdn) || mdn != 32) {
    rc = SCRIBE_EINTERNAL;
    goto done;
  }
  scribe_http_hex(md, 32, hex);
  rc = (copied == pi->size && strcmp(hex, pi->sha256) == 0) ? SCRIBE_OK : SCRIBE_EPARSE;
done:
  EVP_MD_CTX_free(one);
  scribe_storage_close(rd);
  return rc;
}

/* Called with h->parts_lock held. */
static enum MHD_Result complete_locked(http_call *c, unsigned nparts, bool want_sha,
                                       const unsigned char *sha_expected) {
  scribe_http *h = c->h;
  scribe_app *app = h->app;
  const char *key = c->r->param;
  enum MHD_Result ret;
  part_info *info = NULL;
  unsigned *missing = NULL;
  char *buf = NULL;
  EVP_MD_CTX *all = NULL;
  scribe_storage_writer *w = NULL;

  int st = record_status(app, key);
  if (st < 0) return reply_status_rc(c, st);
  char audio[SCRIBE_STORAGE_KEY_MAX + 1];
  int rc = scribe_app_audio_object(key, audio, sizeof(audio));
  if (rc) return scribe_http_reply_rc(c, rc);
  if (!accepts_parts(st)) {
    /* already completed (a retry, or a crash before the parts were
     * deleted): idempotent */
    scribe_http_parts_remove(h, key, 0);
    return reply_completed(c, key, NULL, 0, false);
  }
  info = calloc(nparts, sizeof(*info));
  missing = calloc(nparts, sizeof(*missing));
  if (!info || !missing) {
    ret = scribe_http_reply_rc(c, SCRIBE_ENOMEM);
    goto out;
  }
  size_t nmissing = 0;
  uint64_t total = 0;
  for (unsigned n = 0; n < nparts; n++) {
    rc = read_part_info(app->storage, key, n, &info[n]);
    if (rc) {
      ret = scribe_http_reply_rc(c, rc);
      goto out;
    }
    if (!info[n].present)
      missing[nmissing++] = n;
    else
      total += info[n].size;
  }
  if (nmissing == nparts && st == SCRIBE_STATUS_FAILED) {
    /* parts gone after an earlier completion whose job failed: queue the
     * stored audio again, like .../complete */
    bool queued = false;
    rc = scribe_app_enqueue(app, key, &queued);
    if (rc == SCRIBE_OK) {
      ret = reply_completed(c, key, NULL, 0, false);
      goto out;
    }
    if (rc != SCRIBE_ENOTFOUND) {
      ret = scribe_http_reply_rc(c, rc);
      goto out;
    }
  }
  if (nmissing) {
    ret = reply_missing(c, missing, nmissing, "some parts have not been uploaded");
    goto out;
  }
  if (total > (uint64_t)h->cfg->upload_max_bytes) {
    ret = scribe_http_reply_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                                  "the parts together are larger than allowed");
    goto out;
  }

  buf = malloc(COPY_BUF);
  all = EVP_MD_CTX_new();
  if (!buf || !all || !EVP_DigestInit_ex(all, EVP_sha256(), NULL)) {
    ret = scribe_http_reply_rc(c, SCRIBE_ENOMEM);
    goto out;
  }
  rc = scribe_storage_put_begin(app->storage, audio, &w);
  if (rc) {
    w = NULL;
    ret = scribe_http_reply_rc(c, rc);
    goto out;
  }
  for (unsigned n = 0; n < nparts; n++) {
    rc = copy_part(app->storage, key, n, &info[n], w, all, buf);
    if (rc == SCRIBE_EPARSE) {
      /* damaged in storage: drop it so that the client sends it again */
      char obj[SCRIBE_STORAGE_KEY_MAX + 1];
      if (part_object(key, n, true, obj, sizeof(obj)) == SCRIBE_OK)
        scribe_storage_remove(app->storage, obj);
      LOG_WARN("part key=%s part=%u does not match its checksum; dropped", key, n);
      ret = reply_missing(c, &n, 1, "a stored part was damaged; upload it again");
      goto out;
    }
    if (rc) {
      ret = scribe_http_reply_rc(c, rc);
      goto out;
    }
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned mdn = 0;
  char sha_hex[65];
  if (!EVP_DigestFinal_ex(all, md, &mdn) || mdn != 32) {
    ret = scribe_http_reply_rc(c, SCRIBE_EINTERNAL);
    goto out;
  }
  scribe_http_hex(md, 32, sha_hex);
  if (want_sha && memcmp(md, sha_expected, 32) != 0) {
    ret = scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "checksum_mismatch",
                                  "sha256 does not match the concatenated parts");
    goto out;
  }
  scribe_storage_writer *tmp = w;
  w = NULL;
  rc = scribe_storage_commit(tmp);
  if (rc) {
    LOG_ERROR("parts key=%s: commit of the audio failed: %s", key, scribe_err_name(rc));
    ret = scribe_http_reply_rc(c, rc);
    goto out;
  }
  bool queued = false;
  rc = scribe_app_enqueue(app, key, &queued);
  if (rc) {
    /* the parts stay: a retry concatenates them again */
    LOG_ERROR("parts key=%s: enqueue failed: %s", key, scribe_err_name(rc));
    ret = scribe_http_reply_rc(c, rc);
    goto out;
  }
  scribe_http_parts_remove(h, key, 0);
  LOG_INFO("parts completed key=%s parts=%u bytes=%" PRIu64, key, nparts, total);
  ret = reply_completed(c, key, sha_hex, total, true);
out:
  scribe_storage_abort(w);
  EVP_MD_CTX_free(all);
  free(buf);
  free(missing);
  free(info);
  return ret;
}

enum MHD_Result scribe_http_route_parts_complete(http_call *c) {
  http_req *r = c->r;
  if (!key_ok(c))
    return scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid_key", "invalid key");
  if (r->json.len == 0)
    return scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "missing_body",
                                   "a JSON object body is required");
  const char *why = NULL;
  json_t *req = scribe_http_json_parse(r->json.data, r->json.len,
                                       (int)c->h->cfg->max_json_depth, &why);
  if (!req || !json_is_object(req)) {
    json_decref(req);
    bool deep = why && strcmp(why, "too_deep") == 0;
    return scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, deep ? "too_deep" : "invalid_json",
                                   deep ? "JSON nested too deeply" : "malformed JSON");
  }
  json_t *jn = json_object_get(req, "parts");
  json_t *js = json_object_get(req, "sha256");
  unsigned char sha[32];
  bool want_sha = js && !json_is_null(js);
  const char *bad = NULL;
  if (!json_is_integer(jn))
    bad = "missing_field";
  else if (json_integer_value(jn) < 1 || json_integer_value(jn) > SCRIBE_HTTP_PARTS_MAX)
    bad = "invalid_field";
  else if (want_sha && (!json_is_string(js) ||
                        !scribe_http_parse_digest(json_string_value(js), sha, 32)))
    bad = "invalid_field";
  unsigned nparts = json_is_integer(jn) ? (unsigned)json_integer_value(jn) : 0;
  json_decref(req);
  if (bad)
    return scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, bad,
                                   "\"parts\" must be an integer from 1 to 1000 and \"sha256\" "
                                   "64 hex digits or null");
  pthread_mutex_lock(&c->h->parts_lock);
  enum MHD_Result ret = complete_locked(c, nparts, want_sha, sha);
  pthread_mutex_unlock(&c->h->parts_lock);
  return ret;
}
