/*
 * crypto.h - the few primitives Scribe needs, on OpenSSL.
 */
#ifndef SCRIBE_CRYPTO_H
#define SCRIBE_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

/* Fills buf with n cryptographically random bytes. */
int scribe_random_bytes(void *buf, size_t n);
/* Writes 2*n lower-case hex digits of n random bytes plus NUL into out
 * (outlen >= 2*n+1). */
int scribe_random_hex(char *out, size_t outlen, size_t n);
/* HMAC-SHA256 of msg under key, as 64 hex digits + NUL into out[65]. */
int scribe_hmac_sha256_hex(const void *key, size_t keylen, const void *msg, size_t msglen,
                           char out[65]);
/* Constant-time equality of two byte strings (length may leak). */
bool scribe_secure_equal(const void *a, size_t alen, const void *b, size_t blen);

#endif
