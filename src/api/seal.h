/* seal: AES-256-GCM sealing for ward-api — access-key secrets at rest and
 * the STS session tokens — plus the random identifiers IAM hands out. */
#ifndef WARD_API_SEAL_H
#define WARD_API_SEAL_H

#include <stddef.h>
#include <stdint.h>

/* Subkey = HMAC-SHA256(master, label): one purpose per key. */
int seal_derive(const uint8_t master[32], const char *label, uint8_t out[32]);

/* base64(nonce12 || ciphertext || tag16), the AAD binding it to its use
 * (the access key id, "sts-token"). *out malloc'd. */
int seal_b64(const uint8_t key[32], const char *aad, const void *pt, size_t len, char **out);

/* Inverse; -EBADMSG when the tag or the AAD does not match. *pt malloc'd
 * with a NUL after *len bytes; the caller wipes it. */
int seal_open_b64(const uint8_t key[32], const char *aad, const char *b64,
		  uint8_t **pt, size_t *len);

/* n random characters from alphabet, NUL-terminated (out holds n+1). */
int seal_random_chars(char *out, size_t n, const char *alphabet);

#endif
