/*
 * sigv4.h - AWS Signature Version 4 (AWS4-HMAC-SHA256), on OpenSSL.
 *
 * Our own signer because Debian's curl 7.88 CURLOPT_AWS_SIGV4 omits
 * x-amz-content-sha256, does not sort query parameters and does not
 * double-encode non-S3 paths.
 *
 * Usage (header signing, as storage_s3.c does):
 *   scribe_sigv4_header h[] = {{"host", "bucket.s3.amazonaws.com"},
 *                              {"range", "bytes=0-9"}};
 *   scribe_sigv4_request rq = {.method = "GET", .path = "/key", .query = NULL,
 *                              .headers = h, .nheaders = 2, .s3 = true};
 *   scribe_sigv4_creds c = {.access_key = ak, .secret_key = sk,
 *                           .region = "us-east-1", .service = "s3"};
 *   scribe_sigv4_result res;
 *   if (scribe_sigv4_sign(&rq, &c, &res) == SCRIBE_OK)
 *     send "Authorization: res.authorization", "x-amz-date: res.amz_date",
 *          "x-amz-content-sha256: res.content_sha256" (and the security
 *          token header when there is one) with the request.
 *
 * Thread-safe (no global state).  Nothing here logs; the result buffers hold
 * a signature, which callers must not log either.
 */
#ifndef SCRIBE_STORAGE_SIGV4_H
#define SCRIBE_STORAGE_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define SCRIBE_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define SCRIBE_SIGV4_AUTH_MAX 2048

typedef struct scribe_sigv4_header {
  const char *name;  /* any case; lower-cased for signing */
  const char *value; /* trimmed and inner runs of spaces collapsed for signing */
} scribe_sigv4_header;

typedef struct scribe_sigv4_request {
  const char *method; /* "GET", "PUT", ... */
  /* The path exactly as sent on the wire (percent-encoded where needed).
   * s3: the canonical URI is this path with its encoding normalised
   *     (decoded, then encoded once, '/' kept).
   * other services: dot-segments and repeated '/' are removed, then the path
   *     is URI-encoded (again): a wire "%20" signs as "%2520". */
  const char *path;
  /* The query string as sent, without '?', or NULL/"".  Parameters are
   * decoded, re-encoded and sorted for signing; '+' is a literal plus. */
  const char *query;
  /* Headers to sign; must include "host".  Do not pass x-amz-date,
   * x-amz-content-sha256 or x-amz-security-token: the signer adds them. */
  const scribe_sigv4_header *headers;
  size_t nheaders;
  /* Hex SHA-256 of the body, SCRIBE_SIGV4_UNSIGNED_PAYLOAD, or NULL for an
   * empty body (sign) / UNSIGNED-PAYLOAD (presign). */
  const char *payload_hash;
  /* "YYYYMMDDTHHMMSSZ"; NULL for the current time. */
  const char *amz_date;
  /* S3 rules: single-encoded, unnormalised path; adds and signs the header
   * x-amz-content-sha256 (sign only). */
  bool s3;
  /* When true, sign() also returns the canonical request and string to sign
   * (for tests; release with scribe_sigv4_result_release). */
  bool want_debug;
} scribe_sigv4_request;

typedef struct scribe_sigv4_creds {
  const char *access_key;
  const char *secret_key;
  const char *session_token; /* NULL or "" for none */
  const char *region;        /* "us-east-1" */
  const char *service;       /* "s3" */
} scribe_sigv4_creds;

typedef struct scribe_sigv4_result {
  char authorization[SCRIBE_SIGV4_AUTH_MAX]; /* value of the Authorization header */
  char amz_date[17];                         /* value of the x-amz-date header */
  char content_sha256[72]; /* value of x-amz-content-sha256 (req->s3 only, else "") */
  char signature[65];      /* hex; part of authorization */
  char *canonical_request; /* want_debug only, else NULL */
  char *string_to_sign;    /* want_debug only, else NULL */
} scribe_sigv4_result;

/* Signs req for the Authorization header.  On success fills *out (the caller
 * sends authorization, amz_date, content_sha256 when s3, and
 * x-amz-security-token = creds->session_token when set).
 * Errors: SCRIBE_EINVAL (missing method/path/host header/credentials, bad
 * amz_date or payload_hash), SCRIBE_ETOOBIG (Authorization longer than
 * SCRIBE_SIGV4_AUTH_MAX), SCRIBE_ENOMEM, SCRIBE_EINTERNAL (OpenSSL).
 * On error *out holds no allocation. */
int scribe_sigv4_sign(const scribe_sigv4_request *req, const scribe_sigv4_creds *creds,
                      scribe_sigv4_result *out);

/* Frees the debug strings of a result (NULL and repeated calls are fine). */
void scribe_sigv4_result_release(scribe_sigv4_result *res);

/* Query-string presigning: returns in *query (malloc'd, caller frees) the
 * whole query string to send after '?': req->query's parameters plus
 * X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
 * X-Amz-SignedHeaders, X-Amz-Security-Token (when a session token is set)
 * and X-Amz-Signature, sorted and encoded.  expires_seconds is 1..604800.
 * The payload is UNSIGNED-PAYLOAD unless req->payload_hash says otherwise.
 * Errors as for scribe_sigv4_sign; *query is NULL on error. */
int scribe_sigv4_presign(const scribe_sigv4_request *req, const scribe_sigv4_creds *creds,
                         long expires_seconds, char **query);

/* Formats t (UTC) as "YYYYMMDDTHHMMSSZ" into out[17]. */
void scribe_sigv4_amz_date(time_t t, char out[17]);

/* Hex SHA-256 of data into out[65]. */
void scribe_sigv4_sha256_hex(const void *data, size_t len, char out[65]);

/* Appends the RFC 3986 encoding of s[0..len) to out (unreserved characters
 * A-Z a-z 0-9 - . _ ~ kept, and '/' too when keep_slash; upper-case hex).
 * Returns SCRIBE_OK or SCRIBE_ETOOBIG/SCRIBE_ENOMEM from the buffer. */
struct scribe_buf;
int scribe_sigv4_uri_encode(struct scribe_buf *out, const char *s, size_t len,
                            bool keep_slash);

#endif
