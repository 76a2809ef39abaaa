/* xts: AES-256-XTS sector encryption on OpenSSL 3 (see xts.h).
 * XTS needs a new tweak (IV) for every data unit. The cipher is fetched
 * through EVP (so configuration and provider selection apply), then driven
 * through that provider's own functions: one provider context per direction,
 * keyed once, IV-only init and one cipher call per sector. bench/blk/xts_bench
 * measured this at ~98% of an unbroken EVP stream, the EVP IV-only init at
 * ~90% (each EVP init asks the provider for the IV length through a
 * parameter lookup); docs/blk.md, "Sector encryption cost". Should the
 * provider not list its functions, the EVP path is used. */
#include "xts.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_dispatch.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

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

/* The provider's AES-256-XTS functions (OSSL_OP_CIPHER dispatch table). */
struct xts_prov {
	OSSL_FUNC_cipher_newctx_fn *newctx;
	OSSL_FUNC_cipher_freectx_fn *freectx;
	OSSL_FUNC_cipher_encrypt_init_fn *einit;
	OSSL_FUNC_cipher_decrypt_init_fn *dinit;
	OSSL_FUNC_cipher_cipher_fn *cipher;
};

struct xts_ctx {
	EVP_CIPHER *cipher;      /* holds the provider while its contexts live */
	struct xts_prov p;
	void *penc, *pdec;       /* provider contexts (fast path) */
	EVP_CIPHER_CTX *enc;     /* EVP contexts (fallback) */
	EVP_CIPHER_CTX *dec;
};

/* Is `name` one of the colon-separated names in `names`? */
static bool name_in(const char *names, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = names; p && *p; p = strchr(p, ':') ? strchr(p, ':') + 1 : NULL)
		if (strncasecmp(p, name, n) == 0 && (p[n] == ':' || p[n] == '\0'))
			return true;
	return false;
}

/* Find the fetched cipher's implementation in its provider's table. */
static int prov_lookup(const EVP_CIPHER *c, struct xts_prov *p)
{
	OSSL_PROVIDER *prov = (OSSL_PROVIDER *)EVP_CIPHER_get0_provider(c);
	const OSSL_ALGORITHM *algs, *a;
	int no_cache = 0, rc = -ENOENT;

	memset(p, 0, sizeof(*p));
	if (!prov || !(algs = OSSL_PROVIDER_query_operation(prov, OSSL_OP_CIPHER, &no_cache)))
		return -ENOENT;
	for (a = algs; a->algorithm_names; a++)
		if (name_in(a->algorithm_names, EVP_CIPHER_get0_name(c)))
			break;
	for (const OSSL_DISPATCH *f = a->algorithm_names ? a->implementation : NULL;
	     f && f->function_id; f++) {
		switch (f->function_id) {
		case OSSL_FUNC_CIPHER_NEWCTX: p->newctx = OSSL_FUNC_cipher_newctx(f); break;
		case OSSL_FUNC_CIPHER_FREECTX: p->freectx = OSSL_FUNC_cipher_freectx(f); break;
		case OSSL_FUNC_CIPHER_ENCRYPT_INIT: p->einit = OSSL_FUNC_cipher_encrypt_init(f); break;
		case OSSL_FUNC_CIPHER_DECRYPT_INIT: p->dinit = OSSL_FUNC_cipher_decrypt_init(f); break;
		case OSSL_FUNC_CIPHER_CIPHER: p->cipher = OSSL_FUNC_cipher_cipher(f); break;
		default: break;
		}
	}
	if (p->newctx && p->freectx && p->einit && p->dinit && p->cipher)
		rc = 0;
	OSSL_PROVIDER_unquery_operation(prov, OSSL_OP_CIPHER, algs);
	return rc;
}

static void *prov_keyed(struct xts_ctx *x, const uint8_t *key, int enc)
{
	OSSL_PROVIDER *prov = (OSSL_PROVIDER *)EVP_CIPHER_get0_provider(x->cipher);
	void *c = x->p.newctx(OSSL_PROVIDER_get0_provider_ctx(prov));

	if (!c)
		return NULL;
	if ((enc ? x->p.einit : x->p.dinit)(c, key, XTS_KEY_LEN, NULL, 0, NULL) != 1) {
		x->p.freectx(c);
		return NULL;
	}
	return c;
}

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
	return xts_create_flags(out, key, 0);
}

int xts_create_flags(struct xts_ctx **out, const uint8_t key[XTS_KEY_LEN], unsigned int flags)
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
	x->cipher = c;
	if (!(flags & XTS_EVP) && prov_lookup(c, &x->p) == 0) {
		x->penc = prov_keyed(x, key, 1);
		x->pdec = prov_keyed(x, key, 0);
		if (!x->penc || !x->pdec)
			goto err;
	} else {
		x->enc = keyed(c, key, 1);
		x->dec = keyed(c, key, 0);
		if (!x->enc || !x->dec)
			goto err;
	}
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
	/* The provider's freectx (EVP_CIPHER_CTX_free calls it too)
	 * cleanses its key schedule. */
	if (x->penc)
		x->p.freectx(x->penc);
	if (x->pdec)
		x->p.freectx(x->pdec);
	EVP_CIPHER_CTX_free(x->enc);
	EVP_CIPHER_CTX_free(x->dec);
	EVP_CIPHER_free(x->cipher);
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
	if (x->penc) {
		/* IV only (no key: the schedule stays), then one call. */
		void *pc = encrypt ? x->penc : x->pdec;
		size_t outl = 0;

		if ((encrypt ? x->p.einit : x->p.dinit)(pc, NULL, 0, iv, sizeof(iv), NULL) != 1 ||
		    x->p.cipher(pc, out, &outl, len, in, len) != 1 || outl != len)
			return -EIO;
		return 0;
	}
	/* enc = -1 keeps the direction: the cheapest EVP IV-only re-init. */
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
