/*
 * http_upload.c - PUT /upload/{key}?expires=&max=&sig=, the target of the
 * signed upload URL (what an S3 presigned PUT was for the original client).
 *
 * Checked before any byte of the body is read: the key, the signature
 * (403 "forbidden"), the expiry (403 "expired"), the declared size against
 * the signed limit and upload_max_bytes (413), the record's state (409
 * while it is being processed or done).  The body is streamed into object
 * storage (never held in memory); an MD5 of it gives the ETag, as S3's.
 * A chunked body that passes the limit, or a client that goes away, aborts
 * the storage writer: nothing partial becomes visible.  A completed upload
 * enqueues the job by itself (as the bucket's event notification did).
 */
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/log.h"
#include "http/http_internal.h"

void scribe_http_upload_cleanup(http_req *r) {
  if (r->writer) {
    scribe_storage_abort(r->writer);
    r->writer = NULL;
    LOG_INFO("upload aborted key=%s after %" PRIu64 " bytes", r->param, r->received);
  }
  if (r->md5) {
    EVP_MD_CTX_free(r->md5);
    r->md5 = NULL;
  }
  if (r->sha256) {
    EVP_MD_CTX_free(r->sha256);
    r->sha256 = NULL;
  }
}

static bool chunked(http_call *c) {
  return scribe_http_has_token(scribe_http_header(c, "Transfer-Encoding"), "chunked");
}

enum MHD_Result scribe_http_upload_begin(http_call *c) {
  http_req *r = c->r;
  scribe_app *app = c->h->app;
  if (r->param_too_long || !scribe_app_key_valid(r->param))
    return scribe_http_reply_error(c, MHD_HTTP_BAD_REQUEST, "invalid_key", "invalid key");

  int64_t signed_max = 0;
  int rc = scribe_app_verify_upload(app, r->param, scribe_http_arg(c, "expires"),
                                    scribe_http_arg(c, "max"), scribe_http_arg(c, "sig"),
                                    scribe_now_ms(), &signed_max);
  if (rc == SCRIBE_EEXPIRED)
    return scribe_http_reply_error(c, MHD_HTTP_FORBIDDEN, "expired", "upload URL has expired");
  if (rc)
    return scribe_http_reply_error(c, MHD_HTTP_FORBIDDEN, "forbidden",
                                   "invalid upload signature");
  /* auth on: the URL also binds the consultation's owner */
  if (scribe_http_check_owner_binding(c, r->param) != SCRIBE_OK)
    return scribe_http_reply_error(c, MHD_HTTP_FORBIDDEN, "forbidden",
                                   "invalid upload signature");

  uint64_t limit = (uint64_t)c->h->cfg->upload_max_bytes;
  if (signed_max >= 0 && (uint64_t)signed_max < limit) limit = (uint64_t)signed_max;
  const char *cl = scribe_http_header(c, "Content-Length");
  bool is_chunked = chunked(c);
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
                                     "upload larger than allowed");
  }

  /* A record being processed or done keeps its audio. */
  json_t *doc = NULL;
  rc = scribe_results_get(app->results, r->param, &doc);
  if (rc == SCRIBE_OK) {
    int st = scribe_status_parse(json_string_value(json_object_get(doc, "status")));
    json_decref(doc);
    if (st == SCRIBE_STATUS_TRANSCRIBING || st == SCRIBE_STATUS_EXTRACTING ||
        st == SCRIBE_STATUS_COMPLETED)
      return scribe_http_reply_error(c, MHD_HTTP_CONFLICT, "conflict",
                                     "this consultation is already being processed");
  } else if (rc != SCRIBE_ENOTFOUND) {
    return scribe_http_reply_rc(c, rc);
  }

  char obj[SCRIBE_STORAGE_KEY_MAX + 1];
  rc = scribe_app_audio_object(r->param, obj, sizeof(obj));
  if (!rc) rc = scribe_storage_put_begin(app->storage, obj, &r->writer);
  if (rc) {
    r->writer = NULL;
    return scribe_http_reply_rc(c, rc);
  }
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  if (md && !EVP_DigestInit_ex(md, EVP_md5(), NULL)) {
    EVP_MD_CTX_free(md);
    md = NULL;
  }
  r->md5 = md; /* no ETag when MD5 is unavailable (FIPS) */
  r->body = BODY_UPLOAD;
  r->limit = limit;
  LOG_DEBUG("upload started key=%s declared=%" PRIu64 "%s", r->param, len,
            is_chunked ? " (chunked)" : "");
  return MHD_YES;
}

enum MHD_Result scribe_http_upload_data(http_call *c, const char *data, size_t len) {
  http_req *r = c->r;
  if (len > r->limit || r->received > r->limit - len) {
    /* Only a chunked body gets here (Content-Length was checked first);
     * MHD cannot answer in the middle of a body: close the connection. */
    LOG_INFO("upload key=%s passed the limit of %" PRIu64 " bytes, closing", r->param,
             r->limit);
    scribe_http_upload_cleanup(r);
    return MHD_NO;
  }
  r->received += len;
  if (!r->writer) return MHD_YES; /* a write failed: drop the rest, answer at the end */
  if (r->md5) EVP_DigestUpdate(r->md5, data, len);
  if (r->sha256) EVP_DigestUpdate(r->sha256, data, len);
  int rc = scribe_storage_write(r->writer, data, len);
  if (rc) {
    LOG_ERROR("upload key=%s: storage write failed: %s", r->param, scribe_err_name(rc));
    scribe_http_upload_cleanup(r);
    if (!r->deferred_status) {
      r->deferred_status = scribe_err_transient(rc) ? MHD_HTTP_SERVICE_UNAVAILABLE
                                                    : MHD_HTTP_INTERNAL_SERVER_ERROR;
      r->deferred_code = scribe_err_transient(rc) ? "unavailable" : "internal";
      r->deferred_msg = scribe_err_transient(rc) ? "storage unavailable, try again"
                                                 : "internal error";
    }
    if (chunked(c)) return MHD_NO; /* unbounded: do not keep reading */
  }
  return MHD_YES;
}

enum MHD_Result scribe_http_upload_end(http_call *c) {
  http_req *r = c->r;
  scribe_app *app = c->h->app;
  if (!r->writer) return scribe_http_reply_rc(c, SCRIBE_EINTERNAL);
  char etag[40] = "";
  if (r->md5) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(r->md5, md, &n) && n == 16) {
      etag[0] = '"';
      for (unsigned i = 0; i < 16; i++) snprintf(etag + 1 + 2 * i, 3, "%02x", md[i]);
      etag[33] = '"';
      etag[34] = '\0';
    }
  }
  scribe_storage_writer *w = r->writer;
  r->writer = NULL;
  int rc = scribe_storage_commit(w);
  if (rc) {
    LOG_ERROR("upload key=%s: commit failed: %s", r->param, scribe_err_name(rc));
    return scribe_http_reply_rc(c, rc);
  }
  LOG_INFO("upload stored key=%s bytes=%" PRIu64, r->param, r->received);

  /* The signature proves we issued this key; recreate a missing record. */
  if (r->upload_owner > 0) {
    int64_t cur = 0;
    if (scribe_auth_owner_get(c->h->auth, r->param, &cur) == SCRIBE_ENOTFOUND)
      scribe_auth_owner_set(c->h->auth, r->param, r->upload_owner);
  }
  rc = scribe_app_create(app, r->param, NULL);
  if (rc && rc != SCRIBE_EEXISTS) return scribe_http_reply_rc(c, rc);
  bool queued = false;
  rc = scribe_app_enqueue(app, r->param, &queued);
  if (rc) {
    LOG_ERROR("upload key=%s: enqueue failed: %s", r->param, scribe_err_name(rc));
    return scribe_http_reply_rc(c, rc);
  }
  json_t *body = json_pack("{s:s,s:s}", "status", "uploaded", "key", r->param);
  struct MHD_Response *resp = scribe_http_json_response(body, &r->bytes);
  if (!resp) return scribe_http_reply_rc(c, SCRIBE_ENOMEM);
  if (etag[0]) MHD_add_response_header(resp, "ETag", etag);
  return scribe_http_reply(c, MHD_HTTP_OK, resp);
}
