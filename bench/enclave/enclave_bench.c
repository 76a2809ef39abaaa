/* bench/enclave/enclave_bench: attestation documents verified and generated
 * per second, and EIF measuring throughput, each beside its reference in
 * the same run (raw ECDSA P-384/SHA-384 verifications and signatures, raw
 * SHA-384 over the same bytes). Prints a table, writes JSON.
 * usage: enclave_bench SAMPLES_DIR OUT_JSON [SECONDS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "attest.h"
#include "eif.h"

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Run `op` for `secs` seconds; returns operations per second. */
#define RATE(secs, op)                                               \
	({                                                           \
		double t0_ = now(), t_;                              \
		long n_ = 0;                                         \
		do {                                                 \
			op;                                          \
			n_++;                                        \
		} while ((t_ = now()) - t0_ < (secs));               \
		n_ / (t_ - t0_);                                     \
	})

static uint8_t *b64_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b = malloc(1 << 16), *o = malloc(1 << 16);
	size_t n;
	int m;

	if (!f || !b || !o)
		exit(2);
	n = fread(b, 1, (1 << 16) - 1, f);
	fclose(f);
	while (n && (b[n - 1] == '\n' || b[n - 1] == '\r'))
		n--;
	m = EVP_DecodeBlock(o, b, (int)n);
	while (n && b[n - 1] == '=') {
		n--;
		m--;
	}
	free(b);
	*len = (size_t)m;
	return o;
}

static X509 *self_signed(EVP_PKEY *k)
{
	X509 *x = X509_new();

	X509_set_version(x, 2);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"ward bench", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509_sign(x, k, EVP_sha384());
	return x;
}

int main(int argc, char **argv)
{
	double secs = argc > 3 ? atof(argv[3]) : 3, r_verify, r_sign, r_av, r_ag, r_sha, r_eif;
	char path[4096], err[320];
	struct attest_verify_opts o = { .at = ATTEST_AT_DOC_TIME };
	static struct attest_doc doc;
	EVP_PKEY *key = EVP_EC_gen("P-384");
	uint8_t tbs[600], sig[160], *d, *der = NULL, *out, *img;
	size_t n, siglen, olen, ilen, big = 64u << 20;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	FILE *f;
	int dlen;

	if (argc < 3 || !key || !md)
		return 2;
	snprintf(path, sizeof(path), "%s/aws_stutxo_choracle_2026-04-22.b64", argv[1]);
	d = b64_file(path, &n);
	snprintf(path, sizeof(path), "%s/AWS_NitroEnclaves_Root-G1.pem", argv[1]);
	f = fopen(path, "r");
	o.root = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	if (!o.root || attest_verify(d, n, &o, &doc, err, sizeof(err))) {
		fprintf(stderr, "enclave_bench: sample does not verify: %s\n", err);
		return 1;
	}
	memset(tbs, 7, sizeof(tbs));
	siglen = sizeof(sig);
	EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, key);
	EVP_DigestSign(md, sig, &siglen, tbs, sizeof(tbs));

	r_verify = RATE(secs, {
		EVP_DigestVerifyInit(md, NULL, EVP_sha384(), NULL, key);
		EVP_DigestVerify(md, sig, siglen, tbs, sizeof(tbs));
	});
	r_av = RATE(secs, attest_verify(d, n, &o, &doc, err, sizeof(err)));
	r_sign = RATE(secs, {
		size_t l = sizeof(sig);
		EVP_DigestSignInit(md, NULL, EVP_sha384(), NULL, key);
		EVP_DigestSign(md, sig, &l, tbs, sizeof(tbs));
	});
	{
		X509 *x = self_signed(key);
		const uint8_t *cab[1];
		size_t cablen[1];
		struct attest_signer s;

		dlen = i2d_X509(x, &der);
		cab[0] = der;
		cablen[0] = (size_t)dlen;
		s = (struct attest_signer){ key, der, (size_t)dlen, 1, cab, cablen };
		doc.certificate.present = false;
		r_ag = RATE(secs, {
			if (!attest_generate(&doc, &s, &out, &olen, err, sizeof(err)))
				free(out);
		});
		X509_free(x);
	}
	{
		uint8_t *k = malloc(big), dg[64];
		const uint8_t *rd[1] = { k };
		size_t rl[1] = { big };
		struct eif_build_in in = { .kernel = k, .kernel_len = big, .cmdline = "console=ttyS0",
					   .nramdisks = 1, .ramdisk = rd, .ramdisk_len = rl,
					   .metadata = (const uint8_t *)"{}", .metadata_len = 2 };
		struct eif_image im;
		struct eif_pcrs p;
		unsigned dl;

		memset(k, 0x5a, big);
		if (eif_build(&in, &img, &ilen, &p, err, sizeof(err)))
			return 1;
		r_sha = RATE(secs, EVP_Digest(img, ilen, dg, &dl, EVP_sha384(), NULL)) * (double)ilen / (1 << 20);
		r_eif = RATE(secs, {
			if (!eif_parse(img, ilen, &im, err, sizeof(err)))
				eif_measure(&im, &p, err, sizeof(err));
		}) * (double)ilen / (1 << 20);
		free(img);
		free(k);
	}
	printf("%-44s %12s %12s %8s\n", "what", "result", "reference", "ratio");
	printf("%-44s %10.0f/s %10.0f/s %8.3f\n", "attest_verify (AWS doc, 4 certs) vs P-384 verify",
	       r_av, r_verify, r_av / r_verify);
	printf("%-44s %10.0f/s %10.0f/s %8.3f\n", "attest_generate vs P-384 sign", r_ag, r_sign, r_ag / r_sign);
	printf("%-44s %8.0f MiB/s %6.0f MiB/s %8.3f\n", "eif_parse+measure (128 MiB) vs SHA-384",
	       r_eif, r_sha, r_eif / r_sha);
	f = fopen(argv[2], "w");
	if (f) {
		fprintf(f, "{\"attest_verify_per_s\": %.1f, \"p384_verify_per_s\": %.1f,\n"
			   " \"attest_generate_per_s\": %.1f, \"p384_sign_per_s\": %.1f,\n"
			   " \"eif_measure_mib_s\": %.1f, \"sha384_mib_s\": %.1f}\n",
			r_av, r_verify, r_ag, r_sign, r_eif, r_sha);
		fclose(f);
	}
	printf("attest_verify_per_s=%.0f attest_generate_per_s=%.0f\n", r_av, r_ag);
	OPENSSL_free(der);
	free(d);
	X509_free(o.root);
	EVP_PKEY_free(key);
	EVP_MD_CTX_free(md);
	return 0;
}
