/* xts_bench: what the per-sector tweak change costs with OpenSSL 3, option
 * by option, over 1 MiB of 4096-byte plain64 sectors on one core (docs/blk.md,
 * "Sector encryption cost"; docs/benchmarks.md). Every option's output is
 * checked against the first one's, which tests/blk/test_xts checks against
 * IEEE 1619. Usage: xts_bench [SECONDS_PER_OPTION [OPTION|store]] ("store":
 * the read path's floor with a tmpfs store, see store_rows); prints one
 * line per option (best 50 ms round of thread CPU time, options
 * interleaved) and
 * `xts_best=NAME mbps=N`. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_dispatch.h>
#include <openssl/evp.h>
#include <openssl/provider.h>
#include <openssl/rand.h>

#include "xts.h"

#define BUF (1u << 20)
#define NSECT (BUF / XTS_SECTOR_SIZE)

static uint8_t key[XTS_KEY_LEN];

static double now(void)
{
	struct timespec t;

	/* CPU time of this thread, as `openssl speed` counts user time: the
	 * machine is shared, and time spent descheduled is not the cipher's. */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void tweak(uint8_t iv[16], uint64_t s)
{
	memset(iv, 0, 16);
	for (int i = 0; i < 8; i++)
		iv[i] = (uint8_t)(s >> (8 * i));
}

static EVP_CIPHER_CTX *ctx_keyed(int enc)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	EVP_CIPHER *x = EVP_CIPHER_fetch(NULL, "AES-256-XTS", NULL);

	if (!c || !x || EVP_CipherInit_ex2(c, x, key, NULL, enc, NULL) != 1)
		abort();
	EVP_CIPHER_free(x);
	return c;
}

struct opt {
	const char *name, *what;
	void (*run)(int enc, const uint8_t *in, uint8_t *out);
};

/* A: the original path: EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, -1),
 * then EVP_CipherUpdate. */
static void opt_init_ex(int enc, const uint8_t *in, uint8_t *out)
{
	static EVP_CIPHER_CTX *c[2];
	uint8_t iv[16];
	int n;

	if (!c[enc])
		c[enc] = ctx_keyed(enc);
	for (unsigned s = 0; s < NSECT; s++) {
		tweak(iv, s);
		if (EVP_CipherInit_ex(c[enc], NULL, NULL, NULL, iv, -1) != 1 ||
		    EVP_CipherUpdate(c[enc], out + s * XTS_SECTOR_SIZE, &n,
				     in + s * XTS_SECTOR_SIZE, XTS_SECTOR_SIZE) != 1)
			abort();
	}
}

/* B: EVP_CipherInit_ex2(ctx, NULL, NULL, iv, enc, NULL) + EVP_CipherUpdate. */
static void opt_init_ex2(int enc, const uint8_t *in, uint8_t *out)
{
	static EVP_CIPHER_CTX *c[2];
	uint8_t iv[16];
	int n;

	if (!c[enc])
		c[enc] = ctx_keyed(enc);
	for (unsigned s = 0; s < NSECT; s++) {
		tweak(iv, s);
		if (EVP_CipherInit_ex2(c[enc], NULL, NULL, iv, enc, NULL) != 1 ||
		    EVP_CipherUpdate(c[enc], out + s * XTS_SECTOR_SIZE, &n,
				     in + s * XTS_SECTOR_SIZE, XTS_SECTOR_SIZE) != 1)
			abort();
	}
}

/* C: IV-only init, then EVP_Cipher (the provider's cipher call, without
 * EVP_CipherUpdate's buffering checks). What src/lib/xts.c uses. */
static void opt_init_cipher(int enc, const uint8_t *in, uint8_t *out)
{
	static EVP_CIPHER_CTX *c[2];
	uint8_t iv[16];

	if (!c[enc])
		c[enc] = ctx_keyed(enc);
	for (unsigned s = 0; s < NSECT; s++) {
		tweak(iv, s);
		if (EVP_CipherInit_ex2(c[enc], NULL, NULL, iv, enc, NULL) != 1 ||
		    EVP_Cipher(c[enc], out + s * XTS_SECTOR_SIZE, in + s * XTS_SECTOR_SIZE,
			       XTS_SECTOR_SIZE) <= 0)
			abort();
	}
}

/* D: src/lib/xts.c as built (xts_encrypt/decrypt_sectors). */
static void opt_lib(int enc, const uint8_t *in, uint8_t *out)
{
	static struct xts_ctx *x;

	if (!x && xts_create(&x, key))
		abort();
	if ((enc ? xts_encrypt_sectors : xts_decrypt_sectors)(x, 0, in, out, NSECT))
		abort();
}

/* D2: src/lib/xts.c forced onto its EVP fallback. */
static void opt_lib_evp(int enc, const uint8_t *in, uint8_t *out)
{
	static struct xts_ctx *x;

	if (!x && xts_create_flags(&x, key, XTS_EVP))
		abort();
	if ((enc ? xts_encrypt_sectors : xts_decrypt_sectors)(x, 0, in, out, NSECT))
		abort();
}

/* E: key AND IV every sector: what a re-keying init costs (the key
 * schedule expansion of both AES-256 keys). */
static void opt_rekey(int enc, const uint8_t *in, uint8_t *out)
{
	static EVP_CIPHER_CTX *c[2];
	uint8_t iv[16];
	int n;

	if (!c[enc])
		c[enc] = ctx_keyed(enc);
	for (unsigned s = 0; s < NSECT; s++) {
		tweak(iv, s);
		if (EVP_CipherInit_ex2(c[enc], NULL, key, iv, enc, NULL) != 1 ||
		    EVP_CipherUpdate(c[enc], out + s * XTS_SECTOR_SIZE, &n,
				     in + s * XTS_SECTOR_SIZE, XTS_SECTOR_SIZE) != 1)
			abort();
	}
}

/* F: a prepared key schedule: a keyed template context copied for every
 * sector (EVP_CIPHER_CTX_copy duplicates the provider context, schedule
 * included, instead of expanding the key), then IV-only init. */
static void opt_copy(int enc, const uint8_t *in, uint8_t *out)
{
	static EVP_CIPHER_CTX *tmpl[2], *c[2];
	uint8_t iv[16];
	int n;

	if (!tmpl[enc]) {
		tmpl[enc] = ctx_keyed(enc);
		c[enc] = EVP_CIPHER_CTX_new();
	}
	for (unsigned s = 0; s < NSECT; s++) {
		tweak(iv, s);
		if (EVP_CIPHER_CTX_copy(c[enc], tmpl[enc]) != 1 ||
		    EVP_CipherInit_ex2(c[enc], NULL, NULL, iv, enc, NULL) != 1 ||
		    EVP_CipherUpdate(c[enc], out + s * XTS_SECTOR_SIZE, &n,
				     in + s * XTS_SECTOR_SIZE, XTS_SECTOR_SIZE) != 1)
			abort();
	}
}

/* H: the provider's own functions, without the EVP layer: the default
 * provider's AES-256-XTS dispatch table (OSSL_PROVIDER_query_operation), one
 * provider context keyed once, IV-only OSSL_FUNC_cipher_encrypt_init and
 * OSSL_FUNC_cipher_cipher per sector. Skips EVP_CIPHER_CTX_get_iv_length's
 * parameter round trip that every EVP init makes in 3.0. */
struct prov_xts {
	void *(*newctx)(void *);
	int (*einit)(void *, const unsigned char *, size_t, const unsigned char *, size_t,
		     const OSSL_PARAM *);
	int (*dinit)(void *, const unsigned char *, size_t, const unsigned char *, size_t,
		     const OSSL_PARAM *);
	int (*cipher)(void *, unsigned char *, size_t *, size_t, const unsigned char *, size_t);
};

static int prov_lookup(struct prov_xts *p)
{
	OSSL_PROVIDER *prov = OSSL_PROVIDER_load(NULL, "default");
	const OSSL_ALGORITHM *alg;
	int no_cache = 0;

	if (!prov || !(alg = OSSL_PROVIDER_query_operation(prov, OSSL_OP_CIPHER, &no_cache)))
		return -1;
	for (; alg->algorithm_names; alg++) {
		if (!strstr(alg->algorithm_names, "AES-256-XTS"))
			continue;
		for (const OSSL_DISPATCH *f = alg->implementation; f->function_id; f++) {
			if (f->function_id == OSSL_FUNC_CIPHER_NEWCTX)
				p->newctx = OSSL_FUNC_cipher_newctx(f);
			else if (f->function_id == OSSL_FUNC_CIPHER_ENCRYPT_INIT)
				p->einit = OSSL_FUNC_cipher_encrypt_init(f);
			else if (f->function_id == OSSL_FUNC_CIPHER_DECRYPT_INIT)
				p->dinit = OSSL_FUNC_cipher_decrypt_init(f);
			else if (f->function_id == OSSL_FUNC_CIPHER_CIPHER)
				p->cipher = OSSL_FUNC_cipher_cipher(f);
		}
		return p->newctx && p->einit && p->dinit && p->cipher ? 0 : -1;
	}
	return -1;
}

static void opt_provider(int enc, const uint8_t *in, uint8_t *out)
{
	static struct prov_xts p;
	static void *c[2];
	uint8_t iv[16];
	size_t n;

	if (!c[enc]) {
		if (!p.newctx && prov_lookup(&p))
			abort();
		c[enc] = p.newctx(OSSL_PROVIDER_get0_provider_ctx(OSSL_PROVIDER_load(NULL, "default")));
		if (!c[enc] || (enc ? p.einit : p.dinit)(c[enc], key, XTS_KEY_LEN, NULL, 0, NULL) != 1)
			abort();
	}
	for (unsigned s = 0; s < NSECT; s++) {
		tweak(iv, s);
		if ((enc ? p.einit : p.dinit)(c[enc], NULL, 0, iv, 16, NULL) != 1 ||
		    p.cipher(c[enc], out + s * XTS_SECTOR_SIZE, &n, XTS_SECTOR_SIZE,
			     in + s * XTS_SECTOR_SIZE, XTS_SECTOR_SIZE) != 1)
			abort();
	}
}

/* G: the ceiling, NOT a correct sector encryption: one IV for each 4096-byte
 * call, as `openssl speed -evp aes-256-xts -bytes 4096` does. */
static void opt_ceiling(int enc, const uint8_t *in, uint8_t *out)
{
	static EVP_CIPHER_CTX *c[2];
	uint8_t iv[16];
	int n;

	if (!c[enc]) {
		c[enc] = ctx_keyed(enc);
		tweak(iv, 0);
		if (EVP_CipherInit_ex2(c[enc], NULL, NULL, iv, enc, NULL) != 1)
			abort();
	}
	for (unsigned s = 0; s < NSECT; s++)
		if (EVP_CipherUpdate(c[enc], out + s * XTS_SECTOR_SIZE, &n,
				     in + s * XTS_SECTOR_SIZE, XTS_SECTOR_SIZE) != 1)
			abort();
}

static const struct opt opts[] = {
	{ "init_ex_update", "EVP_CipherInit_ex(iv, enc=-1) + EVP_CipherUpdate", opt_init_ex },
	{ "init_ex2_update", "EVP_CipherInit_ex2(iv only) + EVP_CipherUpdate", opt_init_ex2 },
	{ "init_ex2_cipher", "EVP_CipherInit_ex2(iv only) + EVP_Cipher", opt_init_cipher },
	{ "lib_xts", "src/lib/xts.c xts_*_sectors", opt_lib },
	{ "lib_xts_evp", "src/lib/xts.c, EVP fallback (XTS_EVP)", opt_lib_evp },
	{ "rekey_update", "EVP_CipherInit_ex2(key + iv) + EVP_CipherUpdate", opt_rekey },
	{ "copy_prepared", "EVP_CIPHER_CTX_copy(keyed template) + iv + Update", opt_copy },
	{ "provider_direct", "provider dispatch: IV-only init + cipher, no EVP", opt_provider },
	{ "ceiling_no_tweak_change", "one IV, EVP_CipherUpdate per 4 KiB (incorrect)", opt_ceiling },
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))
#define ROUND 0.05 /* seconds: options alternate round by round */

/* Best of many short rounds, options interleaved: on a shared, loaded
 * machine the best round is the one least disturbed, and every option gets
 * the same chances. */
static double round_mbps(const struct opt *o, int enc, const uint8_t *in, uint8_t *out)
{
	unsigned long n = 0;
	double t0 = now(), t;

	do {
		o->run(enc, in, out);
		n++;
		t = now() - t0;
	} while (t < ROUND);
	return (double)n * BUF / t / 1e6;
}

/* The read path's floor on one core, store included: a tmpfs file holding
 * STORE_MB of ciphertext, read 1 MiB at a time as ward-blk does (pread into
 * the destination, decrypt in place: two passes over every byte), against
 * decrypting straight out of a shared mapping of the file into the
 * destination (one pass; what a store mapping would allow, see
 * docs/benchmarks.md). Thread CPU time, kernel copy included; best of
 * interleaved rounds. */
#define STORE_MB 64

static struct xts_ctx *store_x;

static void store_pread(int fd, const uint8_t *map, uint8_t *out, size_t off)
{
	(void)map;
	if (pread(fd, out, BUF, (off_t)off) != (ssize_t)BUF ||
	    xts_decrypt_sectors(store_x, 0, out, out, NSECT))
		abort();
}

static void store_mmap(int fd, const uint8_t *map, uint8_t *out, size_t off)
{
	(void)fd;
	if (xts_decrypt_sectors(store_x, 0, map + off, out, NSECT))
		abort();
}

static void store_copy_only(int fd, const uint8_t *map, uint8_t *out, size_t off)
{
	(void)map;
	if (pread(fd, out, BUF, (off_t)off) != (ssize_t)BUF)
		abort();
}

static void store_rows(double secs, const uint8_t *ref, const uint8_t *pt, uint8_t *out)
{
	static const struct {
		const char *name, *what;
		void (*run)(int, const uint8_t *, uint8_t *, size_t);
		bool check;
	} rows[] = {
		{ "store_copy_only", "pread 1 MiB from tmpfs, no cipher", store_copy_only, false },
		{ "store_pread_inplace", "pread into the buffer + decrypt in place (ward-blk)", store_pread, true },
		{ "store_mmap_onepass", "decrypt from a mapping of the store (one pass)", store_mmap, true },
	};
	char path[] = "/dev/shm/xts_bench.XXXXXX";
	double best[3] = { 0 };
	uint8_t *map;
	int fd = mkstemp(path);

	if (fd < 0)
		return;
	unlink(path);
	for (size_t o = 0; o < (size_t)STORE_MB << 20; o += BUF)
		if (pwrite(fd, ref, BUF, (off_t)o) != (ssize_t)BUF)
			abort();
	map = mmap(NULL, (size_t)STORE_MB << 20, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED || xts_create(&store_x, key))
		abort();
	for (size_t i = 0; i < 3; i++) {
		rows[i].run(fd, map, out, 0);
		if (rows[i].check && memcmp(out, pt, BUF))
			printf("%s: WRONG\n", rows[i].name);
	}
	for (double spent = 0; spent < secs; spent += ROUND)
		for (size_t i = 0; i < 3; i++) {
			unsigned long n = 0;
			double t0 = now(), t;

			do {
				rows[i].run(fd, map, out, (n % STORE_MB) * BUF);
				n++;
				t = now() - t0;
			} while (t < ROUND);
			if ((double)n * BUF / t / 1e6 > best[i])
				best[i] = (double)n * BUF / t / 1e6;
		}
	for (size_t i = 0; i < 3; i++)
		printf("%-24s decrypt %8.1f MB/s  (%s)\n", rows[i].name, best[i], rows[i].what);
	xts_destroy(store_x);
	munmap(map, (size_t)STORE_MB << 20);
	close(fd);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 0.5;
	uint8_t *pt = aligned_alloc(4096, BUF), *ref = aligned_alloc(4096, BUF),
		*out = aligned_alloc(4096, BUF);
	const char *best = NULL;
	double best_mbps = 0, mbps[NOPTS][2] = { { 0 } };
	bool correct[NOPTS], on[NOPTS];

	if (!pt || !ref || !out || RAND_bytes(key, sizeof(key)) != 1 ||
	    RAND_bytes(pt, BUF) != 1)
		return 1;
	key[32] ^= key[0] == key[32] ? 1 : 0; /* halves must differ */
	opts[0].run(1, pt, ref);
	for (size_t i = 0; i < NOPTS; i++) {
		/* argv[2]: one option only (for perf record). */
		on[i] = argc <= 2 || !strcmp(argv[2], opts[i].name);
		/* Correctness first: encrypt must give the reference
		 * ciphertext, decrypt of it the plaintext. */
		opts[i].run(1, pt, out);
		correct[i] = memcmp(out, ref, BUF) == 0;
		opts[i].run(0, ref, out);
		correct[i] &= memcmp(out, pt, BUF) == 0;
	}
	for (double spent = 0; spent < secs; spent += 2 * ROUND)
		for (size_t i = 0; i < NOPTS; i++)
			for (int enc = 0; enc < 2 && on[i]; enc++) {
				double m = round_mbps(&opts[i], enc, enc ? pt : ref, out);

				if (m > mbps[i][enc])
					mbps[i][enc] = m;
			}
	for (size_t i = 0; i < NOPTS; i++) {
		if (!on[i])
			continue;
		printf("%-24s encrypt %8.1f MB/s  decrypt %8.1f MB/s  %s  (%s)\n", opts[i].name,
		       mbps[i][1], mbps[i][0], correct[i] ? "correct" : "WRONG", opts[i].what);
		if (correct[i] && mbps[i][0] + mbps[i][1] > best_mbps) {
			best_mbps = mbps[i][0] + mbps[i][1];
			best = opts[i].name;
		}
	}
	if (argc > 2 && !strcmp(argv[2], "store"))
		store_rows(secs, ref, pt, out);
	else
		printf("xts_best=%s mbps=%.1f\n", best ? best : "none", best_mbps / 2);
	free(pt);
	free(ref);
	free(out);
	return 0;
}
