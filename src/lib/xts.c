/* xts: AES-256-XTS sector encryption on OpenSSL EVP (see xts.h).
 * OpenSSL 3.0 does not advance the tweak across EVP_CipherUpdate calls, so
 * the IV is re-initialised for every data unit (cheap: no key schedule). */
#include "xts.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "secmem.h"

#if defined(__SANITIZE_ADDRESS__)
#define XTS_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define XTS_SANITIZED 1
#endif
#endif
#ifdef XTS_SANITIZED
#include <sanitizer/lsan_interface.h>
#endif

struct xts_ctx {
	EVP_CIPHER_CTX *enc;
	EVP_CIPHER_CTX *dec;
};

static EVP_CIPHER_CTX *keyed(EVP_CIPHER *c, const uint8_t *key, int enc)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	if (!ctx)
		return NULL;
	if (EVP_CipherInit_ex2(ctx, c, key, NULL, enc, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1) {
		EVP_CIPHER_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int xts_create(struct xts_ctx **out, const uint8_t key[XTS_KEY_LEN])
{
	struct xts_ctx *x;
	EVP_CIPHER *c;
	int rc = -EIO;

	*out = NULL;
	/* Equal halves turn XTS into something weaker than advertised;
	 * constant-time compare because these are key bytes. */
	if (CRYPTO_memcmp(key, key + XTS_KEY_LEN / 2, XTS_KEY_LEN / 2) == 0)
		return -EINVAL;
	x = secmem_alloc(sizeof(*x));
	if (!x)
		return -ENOMEM;
#ifdef XTS_SANITIZED
	/* The cipher contexts are reachable only from this secmem page, which
	 * LeakSanitizer does not scan (it is our own mapping). */
	__lsan_register_root_region(x, sizeof(*x));
#endif
	c = EVP_CIPHER_fetch(NULL, "AES-256-XTS", NULL);
	if (!c)
		goto err;
	x->enc = keyed(c, key, 1);
	x->dec = keyed(c, key, 0);
	EVP_CIPHER_free(c);
	if (!x->enc || !x->dec)
		goto err;
	*out = x;
	return 0;
err:
	xts_destroy(x);
	return rc;
}

void xts_destroy(struct xts_ctx *x)
{
	if (!x)
		return;
	/* EVP_CIPHER_CTX_free cleanses the provider's key schedule. */
	EVP_CIPHER_CTX_free(x->enc);
	EVP_CIPHER_CTX_free(x->dec);
#ifdef XTS_SANITIZED
	__lsan_unregister_root_region(x, sizeof(*x));
#endif
	secmem_free(x, sizeof(*x));
}

int xts_crypt_unit(struct xts_ctx *x, bool encrypt, uint64_t unit,
		   const void *in, void *out, size_t len)
{
	EVP_CIPHER_CTX *ctx = encrypt ? x->enc : x->dec;
	uint8_t iv[16] = { 0 };
	int n;

	if (len < 16 || len % 16 || len > (size_t)1 << 24)
		return -EINVAL;
	for (int i = 0; i < 8; i++)
		iv[i] = (uint8_t)(unit >> (8 * i)); /* plain64: LE sector number */
	/* enc = -1 keeps the direction: the cheapest IV-only re-init in 3.0. */
	if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, -1) != 1)
		return -EIO;
	if (EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1 || (size_t)n != len)
		return -EIO;
	return 0;
}

static int crypt_sectors(struct xts_ctx *x, bool enc, uint64_t first,
			 const uint8_t *in, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t off = i * XTS_SECTOR_SIZE;
		int rc = xts_crypt_unit(x, enc, first + i, in + off, out + off,
					XTS_SECTOR_SIZE);

		if (rc)
			return rc;
	}
	return 0;
}

int xts_encrypt_sectors(struct xts_ctx *x, uint64_t first, const void *in,
			void *out, size_t nsectors)
{
	return crypt_sectors(x, true, first, in, out, nsectors);
}

int xts_decrypt_sectors(struct xts_ctx *x, uint64_t first, const void *in,
			void *out, size_t nsectors)
{
	return crypt_sectors(x, false, first, in, out, nsectors);
}
