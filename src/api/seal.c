/* seal: AEAD and randomness for ward-api, on OpenSSL's EVP. */
#include "seal.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

int seal_derive(const uint8_t master[32], const char *label, uint8_t out[32])
{
	unsigned int len = 32;

	return HMAC(EVP_sha256(), master, 32, (const uint8_t *)label, strlen(label), out, &len) ?
	       0 : -EIO;
}

static int gcm(bool enc, const uint8_t key[32], const uint8_t iv[12], const char *aad,
	       const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[16])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n, rc = -EIO;

	if (!c || len > INT32_MAX)
		goto out;
	if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, key, iv, enc) != 1 ||
	    EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)aad, (int)strlen(aad)) != 1 ||
	    (len && EVP_CipherUpdate(c, out, &n, in, (int)len) != 1))
		goto out;
	if (!enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, tag) != 1)
		goto out;
	if (EVP_CipherFinal_ex(c, out + len, &n) != 1) {
		rc = enc ? -EIO : -EBADMSG;
		goto out;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1)
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(c);
	return rc;
}

int seal_b64(const uint8_t key[32], const char *aad, const void *pt, size_t len, char **out)
{
	size_t raw_len = 12 + len + 16;
	uint8_t *raw = malloc(raw_len + 16);
	char *b64;
	int rc;

	if (!raw)
		return -ENOMEM;
	if (RAND_bytes(raw, 12) != 1) {
		free(raw);
		return -EIO;
	}
	rc = gcm(true, key, raw, aad, pt, len, raw + 12, raw + 12 + len);
	if (rc) {
		free(raw);
		return rc;
	}
	b64 = malloc(4 * ((raw_len + 2) / 3) + 1);
	if (!b64) {
		free(raw);
		return -ENOMEM;
	}
	EVP_EncodeBlock((uint8_t *)b64, raw, (int)raw_len);
	free(raw);
	*out = b64;
	return 0;
}

int seal_open_b64(const uint8_t key[32], const char *aad, const char *b64,
		  uint8_t **pt, size_t *len)
{
	size_t blen = strlen(b64), raw_len;
	uint8_t *raw, *plain;
	int n, rc;

	if (blen == 0 || blen % 4 || blen > 65536)
		return -EBADMSG;
	raw = malloc(blen);
	if (!raw)
		return -ENOMEM;
	n = EVP_DecodeBlock(raw, (const uint8_t *)b64, (int)blen);
	if (n < 0) {
		free(raw);
		return -EBADMSG;
	}
	/* DecodeBlock counts padding as zero bytes. */
	raw_len = (size_t)n - (b64[blen - 1] == '=') - (b64[blen - 2] == '=');
	if (raw_len < 28) {
		free(raw);
		return -EBADMSG;
	}
	plain = malloc(raw_len - 28 + 16 + 1);
	if (!plain) {
		free(raw);
		return -ENOMEM;
	}
	rc = gcm(false, key, raw, aad, raw + 12, raw_len - 28, plain, raw + raw_len - 16);
	free(raw);
	if (rc) {
		/* GCM decrypts before the tag is checked: what is in plain is
		 * unauthenticated but may still be a secret's plaintext. */
		OPENSSL_cleanse(plain, raw_len - 28);
		free(plain);
		return rc;
	}
	*len = raw_len - 28;
	plain[*len] = '\0';
	*pt = plain;
	return 0;
}

int seal_random_chars(char *out, size_t n, const char *alphabet)
{
	size_t an = strlen(alphabet);
	uint8_t b;

	for (size_t i = 0; i < n; i++) {
		/* Rejection sampling: no modulo bias. */
		do {
			if (RAND_bytes(&b, 1) != 1)
				return -EIO;
		} while (b >= 256 - 256 % an);
		out[i] = alphabet[b % an];
	}
	out[n] = '\0';
	return 0;
}
