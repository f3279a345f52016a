/*
 * sigv4.c - AWS Signature Version 4 on OpenSSL HMAC-SHA256.
 *
 * canonical request = METHOD \n URI \n QUERY \n HEADERS \n SIGNED \n PAYLOAD
 * string to sign    = "AWS4-HMAC-SHA256" \n DATE \n SCOPE \n hex(sha256(CR))
 * signing key       = HMAC chain "AWS4"+secret -> date -> region -> service
 *                     -> "aws4_request"
 */
#include "storage/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"

/* Bounds on what one request may make us build. */
#define CANON_MAX ((size_t)1 << 20)
#define MAX_HEADERS 64
#define MAX_PARAMS 256
#define MAX_SEGMENTS 1024

typedef struct kv {
  char *k; /* lower-cased header name, or encoded query key */
  char *v; /* normalised header value, or encoded query value */
} kv;

static void kv_free(kv *a, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(a[i].k);
    free(a[i].v);
  }
}

static const char HEX[] = "0123456789ABCDEF";

static bool unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '.' || c == '_' || c == '~';
}

int scribe_sigv4_uri_encode(scribe_buf *out, const char *s, size_t len, bool keep_slash) {
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    int rc;
    if (unreserved(c) || (keep_slash && c == '/')) {
      rc = scribe_buf_append(out, &s[i], 1);
    } else {
      char e[3] = {'%', HEX[c >> 4], HEX[c & 15]};
      rc = scribe_buf_append(out, e, 3);
    }
    if (rc) return rc;
  }
  return SCRIBE_OK;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Percent-decodes s[0..len) into out (a malformed escape stays literal). */
static int uri_decode(scribe_buf *out, const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (c == '%' && i + 2 < len) {
      int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        c = (char)(hi * 16 + lo);
        i += 2;
      }
    }
    int rc = scribe_buf_append(out, &c, 1);
    if (rc) return rc;
  }
  return SCRIBE_OK;
}

/* Decodes then encodes once: the canonical form of an encoded component. */
static int reencode(scribe_buf *out, const char *s, size_t len, bool keep_slash) {
  scribe_buf tmp;
  scribe_buf_init(&tmp, CANON_MAX);
  int rc = uri_decode(&tmp, s, len);
  if (rc == SCRIBE_OK) rc = scribe_sigv4_uri_encode(out, tmp.data ? tmp.data : "", tmp.len,
                                                     keep_slash);
  scribe_buf_release(&tmp);
  return rc;
}

void scribe_sigv4_sha256_hex(const void *data, size_t len, char out[65]) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(data ? data : (const void *)"", len, md);
  for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
    out[2 * i] = "0123456789abcdef"[md[i] >> 4];
    out[2 * i + 1] = "0123456789abcdef"[md[i] & 15];
  }
  out[64] = '\0';
}

void scribe_sigv4_amz_date(time_t t, char out[17]) {
  struct tm tm;
  gmtime_r(&t, &tm);
  if (strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm) != 16) out[0] = '\0';
}

static bool date_ok(const char *d) {
  if (!d || strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z') return false;
  for (int i = 0; i < 15; i++)
    if (i != 8 && (d[i] < '0' || d[i] > '9')) return false;
  return true;
}

static bool hash_ok(const char *h) {
  if (strcmp(h, SCRIBE_SIGV4_UNSIGNED_PAYLOAD) == 0) return true;
  if (strlen(h) != 64) return false;
  for (int i = 0; i < 64; i++)
    if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f'))) return false;
  return true;
}

static char *dup_range(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

/* Lower-cased name, value trimmed with inner whitespace runs collapsed. */
static int header_kv(const scribe_sigv4_header *h, kv *out) {
  size_t nlen = strlen(h->name);
  out->k = dup_range(h->name, nlen);
  const char *v = h->value ? h->value : "";
  size_t vlen = strlen(v);
  out->v = malloc(vlen + 1);
  if (!out->k || !out->v) return SCRIBE_ENOMEM;
  for (size_t i = 0; i < nlen; i++)
    if (out->k[i] >= 'A' && out->k[i] <= 'Z') out->k[i] = (char)(out->k[i] - 'A' + 'a');
  size_t o = 0;
  bool space = false;
  for (size_t i = 0; i < vlen; i++) {
    char c = v[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = o > 0;
      continue;
    }
    if (space) out->v[o++] = ' ';
    space = false;
    out->v[o++] = c;
  }
  out->v[o] = '\0';
  return SCRIBE_OK;
}

/* Stable insertion sort by key then (when by_value) value. */
static void sort_kv(kv *a, size_t n, bool by_value) {
  for (size_t i = 1; i < n; i++) {
    kv x = a[i];
    size_t j = i;
    while (j > 0) {
      int c = strcmp(a[j - 1].k, x.k);
      if (c == 0 && by_value) c = strcmp(a[j - 1].v, x.v);
      if (c <= 0) break;
      a[j] = a[j - 1];
      j--;
    }
    a[j] = x;
  }
}

static int add_kv(kv *a, size_t *n, size_t max, const char *k, size_t klen, const char *v,
                  size_t vlen) {
  if (*n >= max) return SCRIBE_ETOOBIG;
  a[*n].k = dup_range(k, klen);
  a[*n].v = dup_range(v, vlen);
  (*n)++;
  return (a[*n - 1].k && a[*n - 1].v) ? SCRIBE_OK : SCRIBE_ENOMEM;
}

/* Adds one query parameter, given already-canonical (encoded) or raw. */
static int add_param(kv *a, size_t *n, const char *k, size_t klen, const char *v, size_t vlen,
                     bool raw) {
  scribe_buf kb, vb;
  scribe_buf_init(&kb, CANON_MAX);
  scribe_buf_init(&vb, CANON_MAX);
  int rc = raw ? scribe_sigv4_uri_encode(&kb, k, klen, false) : reencode(&kb, k, klen, false);
  if (rc == SCRIBE_OK)
    rc = raw ? scribe_sigv4_uri_encode(&vb, v, vlen, false) : reencode(&vb, v, vlen, false);
  if (rc == SCRIBE_OK)
    rc = add_kv(a, n, MAX_PARAMS, kb.data ? kb.data : "", kb.len, vb.data ? vb.data : "",
                vb.len);
  scribe_buf_release(&kb);
  scribe_buf_release(&vb);
  return rc;
}

static int parse_query(kv *a, size_t *n, const char *q) {
  if (!q) return SCRIBE_OK;
  const char *p = q;
  while (*p) {
    const char *amp = strchr(p, '&');
    size_t len = amp ? (size_t)(amp - p) : strlen(p);
    if (len > 0) {
      const char *eq = memchr(p, '=', len);
      size_t klen = eq ? (size_t)(eq - p) : len;
      const char *v = eq ? eq + 1 : p + len;
      size_t vlen = eq ? len - klen - 1 : 0;
      int rc = add_param(a, n, p, klen, v, vlen, false);
      if (rc) return rc;
    }
    p += len;
    if (*p == '&') p++;
  }
  return SCRIBE_OK;
}

/* Canonical URI.  Non-S3: drop empty and "." segments, resolve "..", then
 * encode the wire path again.  S3: normalise its encoding only. */
static int canonical_uri(scribe_buf *out, const char *path, bool s3) {
  if (!path[0]) return scribe_buf_appends(out, "/");
  if (s3) return reencode(out, path, strlen(path), true);
  const char *seg[MAX_SEGMENTS];
  size_t seglen[MAX_SEGMENTS], nseg = 0, plen = strlen(path);
  const char *p = path;
  while (p < path + plen) {
    while (*p == '/') p++;
    if (!*p) break;
    const char *e = strchr(p, '/');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len == 1 && p[0] == '.') {
      /* skip */
    } else if (len == 2 && p[0] == '.' && p[1] == '.') {
      if (nseg) nseg--;
    } else {
      if (nseg >= MAX_SEGMENTS) return SCRIBE_ETOOBIG;
      seg[nseg] = p;
      seglen[nseg++] = len;
    }
    p += len;
  }
  int rc = SCRIBE_OK;
  for (size_t i = 0; i < nseg && rc == SCRIBE_OK; i++) {
    rc = scribe_buf_appends(out, "/");
    if (rc == SCRIBE_OK) rc = scribe_sigv4_uri_encode(out, seg[i], seglen[i], false);
  }
  if (rc) return rc;
  if (nseg == 0 || path[plen - 1] == '/') rc = scribe_buf_appends(out, "/");
  return rc;
}

static int hmac(const void *key, size_t keylen, const char *msg, unsigned char out[32]) {
  unsigned int len = 32;
  if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out, &len) ||
      len != 32)
    return SCRIBE_EINTERNAL;
  return SCRIBE_OK;
}

/* hex(HMAC(signing key, sts)) into sig[65]. */
static int signature(const scribe_sigv4_creds *c, const char *date8, const char *sts,
                     char sig[65]) {
  size_t sklen = strlen(c->secret_key);
  char *k0 = malloc(sklen + 5);
  if (!k0) return SCRIBE_ENOMEM;
  memcpy(k0, "AWS4", 4);
  memcpy(k0 + 4, c->secret_key, sklen + 1);
  unsigned char a[32], b[32];
  int rc = hmac(k0, sklen + 4, date8, a);
  OPENSSL_cleanse(k0, sklen + 4);
  free(k0);
  if (rc == SCRIBE_OK) rc = hmac(a, 32, c->region, b);
  if (rc == SCRIBE_OK) rc = hmac(b, 32, c->service, a);
  if (rc == SCRIBE_OK) rc = hmac(a, 32, "aws4_request", b);
  if (rc == SCRIBE_OK) rc = hmac(b, 32, sts, a);
  if (rc == SCRIBE_OK) {
    for (int i = 0; i < 32; i++) {
      sig[2 * i] = "0123456789abcdef"[a[i] >> 4];
      sig[2 * i + 1] = "0123456789abcdef"[a[i] & 15];
    }
    sig[64] = '\0';
  }
  OPENSSL_cleanse(a, sizeof(a));
  OPENSSL_cleanse(b, sizeof(b));
  return rc;
}

static bool creds_ok(const scribe_sigv4_creds *c) {
  return c && c->access_key && c->access_key[0] && c->secret_key && c->region &&
         c->region[0] && c->service && c->service[0] && !strchr(c->access_key, '/');
}

/* Everything both modes share.  presign_expires > 0 selects query signing;
 * then *query_out gets the final query string. */
static int sign_common(const scribe_sigv4_request *req, const scribe_sigv4_creds *c,
                       long presign_expires, scribe_sigv4_result *res, char **query_out) {
  if (!req || !req->method || !req->method[0] || !req->path || !creds_ok(c) ||
      (req->nheaders && !req->headers) || req->nheaders > MAX_HEADERS - 3)
    return SCRIBE_EINVAL;
  bool presign = presign_expires > 0;
  const char *ph = req->payload_hash;
  char empty_hash[65];
  if (!ph) {
    if (presign) {
      ph = SCRIBE_SIGV4_UNSIGNED_PAYLOAD;
    } else {
      scribe_sigv4_sha256_hex("", 0, empty_hash);
      ph = empty_hash;
    }
  }
  if (!hash_ok(ph)) return SCRIBE_EINVAL;
  char date[17];
  if (req->amz_date) {
    if (!date_ok(req->amz_date)) return SCRIBE_EINVAL;
    memcpy(date, req->amz_date, 17);
  } else {
    scribe_sigv4_amz_date(time(NULL), date);
    if (!date_ok(date)) return SCRIBE_EINTERNAL;
  }
  char date8[9];
  memcpy(date8, date, 8);
  date8[8] = '\0';
  bool token = c->session_token && c->session_token[0];

  kv hdr[MAX_HEADERS], prm[MAX_PARAMS];
  size_t nh = 0, np = 0;
  scribe_buf cr, sh, scope, tmp;
  scribe_buf_init(&cr, CANON_MAX);
  scribe_buf_init(&sh, CANON_MAX);
  scribe_buf_init(&scope, 4096);
  scribe_buf_init(&tmp, CANON_MAX);
  int rc = SCRIBE_OK;

  /* Headers. */
  bool have_host = false;
  for (size_t i = 0; i < req->nheaders && rc == SCRIBE_OK; i++) {
    if (!req->headers[i].name || !req->headers[i].name[0]) {
      rc = SCRIBE_EINVAL;
      break;
    }
    rc = header_kv(&req->headers[i], &hdr[nh++]);
    if (rc == SCRIBE_OK && strcmp(hdr[nh - 1].k, "host") == 0) have_host = true;
  }
  if (rc) goto fail;
  if (!have_host) {
    rc = SCRIBE_EINVAL;
    goto fail;
  }
  if (!presign) {
    rc = add_kv(hdr, &nh, MAX_HEADERS, "x-amz-date", 10, date, 16);
    if (rc == SCRIBE_OK && req->s3)
      rc = add_kv(hdr, &nh, MAX_HEADERS, "x-amz-content-sha256", 20, ph, strlen(ph));
    if (rc == SCRIBE_OK && token)
      rc = add_kv(hdr, &nh, MAX_HEADERS, "x-amz-security-token", 20, c->session_token,
                  strlen(c->session_token));
    if (rc) goto fail;
  }
  sort_kv(hdr, nh, false);
  /* Signed header list, with duplicates named once. */
  for (size_t i = 0; i < nh && rc == SCRIBE_OK; i++) {
    if (i > 0 && strcmp(hdr[i].k, hdr[i - 1].k) == 0) continue;
    if (i > 0) rc = scribe_buf_appends(&sh, ";");
    if (rc == SCRIBE_OK) rc = scribe_buf_appends(&sh, hdr[i].k);
  }
  if (rc) goto fail;
  rc = scribe_buf_printf(&scope, "%s/%s/%s/aws4_request", date8, c->region, c->service);
  if (rc) goto fail;

  /* Query. */
  rc = parse_query(prm, &np, req->query);
  if (rc) goto fail;
  if (presign) {
    char exp[32];
    snprintf(exp, sizeof(exp), "%ld", presign_expires);
    scribe_buf_reset(&tmp);
    rc = scribe_buf_printf(&tmp, "%s/%s", c->access_key, scope.data);
    const struct {
      const char *k, *v;
    } extra[] = {{"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
                 {"X-Amz-Credential", tmp.data},
                 {"X-Amz-Date", date},
                 {"X-Amz-Expires", exp},
                 {"X-Amz-SignedHeaders", sh.data},
                 {"X-Amz-Security-Token", token ? c->session_token : NULL}};
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]) && rc == SCRIBE_OK; i++)
      if (extra[i].v)
        rc = add_param(prm, &np, extra[i].k, strlen(extra[i].k), extra[i].v,
                       strlen(extra[i].v), true);
    if (rc) goto fail;
  }
  sort_kv(prm, np, true);

  /* Canonical request. */
  rc = scribe_buf_appends(&cr, req->method);
  if (rc == SCRIBE_OK) rc = scribe_buf_appends(&cr, "\n");
  if (rc == SCRIBE_OK) rc = canonical_uri(&cr, req->path, req->s3);
  if (rc == SCRIBE_OK) rc = scribe_buf_appends(&cr, "\n");
  for (size_t i = 0; i < np && rc == SCRIBE_OK; i++)
    rc = scribe_buf_printf(&cr, "%s%s=%s", i ? "&" : "", prm[i].k, prm[i].v);
  if (rc == SCRIBE_OK) rc = scribe_buf_appends(&cr, "\n");
  for (size_t i = 0; i < nh && rc == SCRIBE_OK; i++) {
    bool same_as_prev = i > 0 && strcmp(hdr[i].k, hdr[i - 1].k) == 0;
    if (same_as_prev) rc = scribe_buf_printf(&cr, ",%s", hdr[i].v);
    else rc = scribe_buf_printf(&cr, "%s%s:%s", i ? "\n" : "", hdr[i].k, hdr[i].v);
  }
  if (rc == SCRIBE_OK)
    rc = scribe_buf_printf(&cr, "\n\n%s\n%s", sh.data ? sh.data : "", ph);
  if (rc) goto fail;

  /* String to sign and signature. */
  char crhash[65], sig[65];
  scribe_sigv4_sha256_hex(cr.data, cr.len, crhash);
  scribe_buf_reset(&tmp);
  rc = scribe_buf_printf(&tmp, "AWS4-HMAC-SHA256\n%s\n%s\n%s", date, scope.data, crhash);
  if (rc) goto fail;
  rc = signature(c, date8, tmp.data, sig);
  if (rc) goto fail;

  if (presign) {
    scribe_buf q;
    scribe_buf_init(&q, CANON_MAX);
    for (size_t i = 0; i < np && rc == SCRIBE_OK; i++)
      rc = scribe_buf_printf(&q, "%s=%s&", prm[i].k, prm[i].v);
    if (rc == SCRIBE_OK) rc = scribe_buf_printf(&q, "X-Amz-Signature=%s", sig);
    if (rc) {
      scribe_buf_release(&q);
      goto fail;
    }
    *query_out = scribe_buf_steal(&q);
    if (!*query_out) rc = SCRIBE_ENOMEM;
  } else {
    int n = snprintf(res->authorization, sizeof(res->authorization),
                     "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                     c->access_key, scope.data, sh.data, sig);
    if (n < 0 || (size_t)n >= sizeof(res->authorization)) {
      rc = SCRIBE_ETOOBIG;
      goto fail;
    }
    memcpy(res->amz_date, date, 17);
    snprintf(res->content_sha256, sizeof(res->content_sha256), "%s", req->s3 ? ph : "");
    memcpy(res->signature, sig, 65);
    if (req->want_debug) {
      res->canonical_request = scribe_buf_steal(&cr);
      res->string_to_sign = scribe_buf_steal(&tmp);
      if (!res->canonical_request || !res->string_to_sign) {
        scribe_sigv4_result_release(res);
        rc = SCRIBE_ENOMEM;
      }
    }
  }
  OPENSSL_cleanse(sig, sizeof(sig));

fail:
  kv_free(hdr, nh);
  kv_free(prm, np);
  scribe_buf_release(&cr);
  scribe_buf_release(&sh);
  scribe_buf_release(&scope);
  scribe_buf_release(&tmp);
  return rc;
}

int scribe_sigv4_sign(const scribe_sigv4_request *req, const scribe_sigv4_creds *creds,
                      scribe_sigv4_result *out) {
  if (!out) return SCRIBE_EINVAL;
  memset(out, 0, sizeof(*out));
  return sign_common(req, creds, 0, out, NULL);
}

void scribe_sigv4_result_release(scribe_sigv4_result *res) {
  if (!res) return;
  free(res->canonical_request);
  free(res->string_to_sign);
  res->canonical_request = res->string_to_sign = NULL;
}

int scribe_sigv4_presign(const scribe_sigv4_request *req, const scribe_sigv4_creds *creds,
                         long expires_seconds, char **query) {
  if (!query) return SCRIBE_EINVAL;
  *query = NULL;
  if (expires_seconds < 1 || expires_seconds > 604800) return SCRIBE_EINVAL;
  scribe_sigv4_result unused;
  memset(&unused, 0, sizeof(unused));
  return sign_common(req, creds, expires_seconds, &unused, query);
}
