#include "core/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>

#include "core/error.h"

int scribe_random_bytes(void *buf, size_t n) {
  if (n > (size_t)0x7fffffff) return SCRIBE_EINVAL;
  return RAND_bytes(buf, (int)n) == 1 ? SCRIBE_OK : SCRIBE_EIO;
}

static void to_hex(const unsigned char *in, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * n] = '\0';
}

int scribe_random_hex(char *out, size_t outlen, size_t n) {
  unsigned char raw[64];
  if (n > sizeof(raw) || outlen < 2 * n + 1) return SCRIBE_EINVAL;
  int rc = scribe_random_bytes(raw, n);
  if (rc) return rc;
  to_hex(raw, n, out);
  return SCRIBE_OK;
}

int scribe_hmac_sha256_hex(const void *key, size_t keylen, const void *msg, size_t msglen,
                           char out[65]) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int maclen = 0;
  if (keylen > 0x7fffffff) return SCRIBE_EINVAL;
  if (!HMAC(EVP_sha256(), key, (int)keylen, msg, msglen, mac, &maclen) || maclen != 32)
    return SCRIBE_EINTERNAL;
  to_hex(mac, 32, out);
  return SCRIBE_OK;
}

bool scribe_secure_equal(const void *a, size_t alen, const void *b, size_t blen) {
  if (alen != blen) return false;
  return CRYPTO_memcmp(a, b, alen) == 0;
}
