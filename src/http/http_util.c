/*
 * http_util.c - pure helpers of the HTTP front (no I/O, no state), kept
 * apart so that unit tests and fuzzers can call them directly.
 */
#include <ctype.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "http/http_internal.h"

int scribe_http_json_depth(const char *text, size_t len, int limit) {
  int depth = 0, max = 0;
  bool in_string = false, escaped = false;
  for (size_t i = 0; i < len; i++) {
    char ch = text[i];
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (ch == '\\')
        escaped = true;
      else if (ch == '"')
        in_string = false;
      continue;
    }
    switch (ch) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max) {
          max = depth;
          if (max > limit) return limit + 1;
        }
        break;
      case ']':
      case '}':
        if (depth > 0) depth--;
        break;
      default:
        break;
    }
  }
  return max;
}

json_t *scribe_http_json_parse(const char *text, size_t len, int max_depth, const char **why) {
  *why = "invalid_json";
  if (!text || len == 0) return NULL;
  if (scribe_http_json_depth(text, len, max_depth) > max_depth) {
    *why = "too_deep";
    return NULL;
  }
  json_error_t jerr;
  json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  if (v) *why = NULL;
  return v;
}

bool scribe_http_host_valid(const char *host) {
  if (!host) return false;
  size_t n = strlen(host);
  if (n == 0 || n > 255) return false;
  size_t i = 0;
  if (host[0] == '[') { /* [v6]:port */
    for (i = 1; i < n && host[i] != ']'; i++)
      if (!isxdigit((unsigned char)host[i]) && host[i] != ':' && host[i] != '.') return false;
    if (i >= n || i == 1) return false;
    i++;
  } else {
    for (; i < n && host[i] != ':'; i++) {
      unsigned char ch = (unsigned char)host[i];
      if (!isalnum(ch) && ch != '.' && ch != '-') return false;
    }
    if (i == 0) return false;
  }
  if (i == n) return true;
  if (host[i] != ':' || i + 1 == n || n - i - 1 > 5) return false;
  for (i++; i < n; i++)
    if (!isdigit((unsigned char)host[i])) return false;
  return true;
}

static int b64val(unsigned char ch) {
  if (ch >= 'A' && ch <= 'Z') return ch - 'A';
  if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
  if (ch >= '0' && ch <= '9') return ch - '0' + 52;
  if (ch == '+') return 62;
  if (ch == '/') return 63;
  return -1;
}

bool scribe_http_ws_key_valid(const char *key) {
  /* 16 bytes encode to 22 characters and "==". */
  if (!key || strlen(key) != 24 || key[22] != '=' || key[23] != '=') return false;
  for (int i = 0; i < 22; i++)
    if (b64val((unsigned char)key[i]) < 0) return false;
  /* the last character carries 2 bits; the 4 low ones must be zero */
  return (b64val((unsigned char)key[21]) & 0x0f) == 0;
}

int scribe_http_ws_accept(const char *key, char out[29]) {
  static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  char msg[64 + sizeof(guid)];
  size_t kl = strlen(key);
  if (kl > 64) return SCRIBE_EINVAL;
  memcpy(msg, key, kl);
  memcpy(msg + kl, guid, sizeof(guid) - 1);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (!EVP_Digest(msg, kl + sizeof(guid) - 1, md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
    return SCRIBE_EINTERNAL;
  if (EVP_EncodeBlock((unsigned char *)out, md, 20) != 28) return SCRIBE_EINTERNAL;
  return SCRIBE_OK;
}

bool scribe_http_has_token(const char *value, const char *token) {
  if (!value) return false;
  size_t tl = strlen(token);
  const char *p = value;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    const char *start = p;
    while (*p && *p != ',') p++;
    const char *end = p;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t')) end--;
    if ((size_t)(end - start) == tl && strncasecmp(start, token, tl) == 0) return true;
  }
  return false;
}

bool scribe_http_is_json_type(const char *ct) {
  if (!ct) return false;
  while (*ct == ' ') ct++;
  static const char want[] = "application/json";
  size_t wl = sizeof(want) - 1;
  if (strncasecmp(ct, want, wl) != 0) return false;
  const char *p = ct + wl;
  while (*p == ' ' || *p == '\t') p++;
  return *p == '\0' || *p == ';';
}

bool scribe_http_parse_u64(const char *s, uint64_t *out) {
  if (!s || !*s) return false;
  uint64_t v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return false;
    unsigned d = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

const char *scribe_http_mime_type(const char *path) {
  static const struct {
    const char *ext, *type;
  } types[] = {
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".ico", "image/x-icon"},
      {".webp", "image/webp"},
      {".woff2", "font/woff2"},
      {".woff", "font/woff"},
      {".txt", "text/plain; charset=utf-8"},
      {".md", "text/plain; charset=utf-8"},
      {".wasm", "application/wasm"},
      {".map", "application/json"},
  };
  const char *dot = strrchr(path, '.');
  if (dot && !strchr(dot, '/'))
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
      if (strcasecmp(dot, types[i].ext) == 0) return types[i].type;
  return "application/octet-stream";
}

void scribe_http_origins_free(char **list, size_t n) {
  if (!list) return;
  for (size_t i = 0; i < n; i++) free(list[i]);
  free(list);
}

int scribe_http_origins_parse(const char *text, char ***out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (!text || !*text) return SCRIBE_OK;
  size_t cap = 1;
  for (const char *p = text; *p; p++)
    if (*p == ',') cap++;
  char **list = calloc(cap, sizeof(*list));
  if (!list) return SCRIBE_ENOMEM;
  size_t count = 0;
  const char *p = text;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    const char *start = p;
    while (*p && *p != ',') p++;
    const char *end = p;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '/')) end--;
    if (end == start) continue;
    size_t len = (size_t)(end - start);
    char *s = malloc(len + 1);
    if (!s) {
      scribe_http_origins_free(list, count);
      return SCRIBE_ENOMEM;
    }
    memcpy(s, start, len);
    s[len] = '\0';
    list[count++] = s;
  }
  *out = list;
  *n = count;
  return SCRIBE_OK;
}

bool scribe_http_origin_listed(char *const *list, size_t n, const char *origin) {
  if (!origin || !*origin) return false;
  for (size_t i = 0; i < n; i++)
    if (strcmp(list[i], origin) == 0) return true;
  return false;
}

bool scribe_http_parse_part(const char *s, unsigned max, unsigned *out) {
  if (!s || !*s || strlen(s) > 9) return false;
  if (s[0] == '0' && s[1] != '\0') return false; /* one spelling per part */
  uint64_t v = 0;
  if (!scribe_http_parse_u64(s, &v) || v >= max) return false;
  *out = (unsigned)v;
  return true;
}

void scribe_http_hex(const unsigned char *p, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 0x0f];
  }
  out[2 * n] = '\0';
}

static int hexval(unsigned char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

bool scribe_http_parse_digest(const char *value, unsigned char *want, size_t n) {
  if (!value || n == 0 || n > 64) return false;
  while (*value == ' ' || *value == '\t') value++;
  size_t len = strlen(value);
  while (len && (value[len - 1] == ' ' || value[len - 1] == '\t')) len--;
  if (len == 2 * n) {
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
      int hi = hexval((unsigned char)value[2 * i]), lo = hexval((unsigned char)value[2 * i + 1]);
      if (hi < 0 || lo < 0) ok = false;
      else want[i] = (unsigned char)(hi << 4 | lo);
    }
    if (ok) return true;
  }
  /* base64: 4 characters per 3 bytes, padded */
  size_t b64len = (n + 2) / 3 * 4;
  if (len != b64len) return false;
  unsigned char tmp[96];
  size_t pad = 0;
  for (size_t i = 0; i < len; i++) {
    if (value[i] == '=') {
      if (i < len - 2) return false;
      pad++;
    } else if (pad || b64val((unsigned char)value[i]) < 0) {
      return false;
    }
  }
  if (pad != (3 - n % 3) % 3) return false;
  int got = EVP_DecodeBlock(tmp, (const unsigned char *)value, (int)len);
  if (got < 0 || (size_t)got != n + pad) return false;
  memcpy(want, tmp, n);
  return true;
}
