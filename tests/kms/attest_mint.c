/* tests/kms/attest_mint: makes an attestation document with ward's own
 * generator (lib/attest attest_generate, what the NSM calls) for the
 * ward-kms Recipient tests, under a chain the test built with openssl.
 * usage: attest_mint LEAF_KEY.pem LEAF.pem ROOT.pem INTER.pem OUT
 *          [--pcr N=HEX]... [--debug] [--pubkey SPKI.der] [--ts-offset S] [--tamper]
 * --debug: every PCR zero, as AWS documents debug mode. --tamper: one bit of
 * PCR0 flipped in the signed payload after signing. A random nonce makes
 * each document distinct. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/rand.h>

#include "attest.h"

static uint8_t *pem_cert_der(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	uint8_t *der = NULL;
	int n;

	if (f)
		fclose(f);
	if (!x)
		return NULL;
	n = i2d_X509(x, &der);
	X509_free(x);
	*len = n > 0 ? (size_t)n : 0;
	return n > 0 ? der : NULL;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;

	if (!f)
		return NULL;
	b = malloc(1 << 16);
	*len = b ? fread(b, 1, 1 << 16, f) : 0;
	fclose(f);
	return b;
}

static int hex_pcr(const char *s, uint8_t out[ATTEST_PCR_LEN])
{
	if (strlen(s) != 2 * ATTEST_PCR_LEN)
		return -1;
	for (unsigned i = 0; i < ATTEST_PCR_LEN; i++)
		if (sscanf(s + 2 * i, "%2hhx", &out[i]) != 1)
			return -1;
	return 0;
}

int main(int argc, char **argv)
{
	static struct attest_doc doc;
	const uint8_t *cab[2];
	size_t cablen[2], certlen = 0, outlen, pklen = 0;
	struct attest_signer s = { 0 };
	uint8_t nonce[16], *out, *pk = NULL;
	struct timespec ts;
	long offset = 0;
	int debug = 0, tamper = 0;
	char err[256];
	FILE *f;

	if (argc < 6)
		return 2;
	for (int i = 6; i < argc; i++) {
		if (strcmp(argv[i], "--debug") == 0) {
			debug = 1;
		} else if (strcmp(argv[i], "--tamper") == 0) {
			tamper = 1;
		} else if (strcmp(argv[i], "--pcr") == 0 && i + 1 < argc) {
			char *eq = strchr(argv[++i], '=');
			unsigned n = (unsigned)atoi(argv[i]);

			if (!eq || n >= ATTEST_NPCRS || hex_pcr(eq + 1, doc.pcr[n]))
				return 2;
			doc.pcr_mask |= 1u << n;
		} else if (strcmp(argv[i], "--pubkey") == 0 && i + 1 < argc) {
			if (!(pk = slurp(argv[++i], &pklen)))
				return 2;
		} else if (strcmp(argv[i], "--ts-offset") == 0 && i + 1 < argc) {
			offset = atol(argv[++i]);
		} else {
			return 2;
		}
	}
	f = fopen(argv[1], "r");
	s.key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	s.cert = pem_cert_der(argv[2], &certlen);
	cab[0] = pem_cert_der(argv[3], &cablen[0]);
	cab[1] = pem_cert_der(argv[4], &cablen[1]);
	if (!s.key || !s.cert || !cab[0] || !cab[1])
		return 2;
	s.cert_len = certlen;
	s.ncabundle = 2;
	s.cabundle = cab;
	s.cabundle_len = cablen;
	/* Debug mode: the NSM reports PCR0..15 as zeros, whatever was measured. */
	if (debug) {
		memset(doc.pcr, 0, sizeof(doc.pcr));
		doc.pcr_mask = 0xffff;
	}
	if (!doc.pcr_mask)
		doc.pcr_mask = 1;	/* PCR0 = zeros unless given */
	snprintf(doc.module_id, sizeof(doc.module_id), "i-0123456789abcdef0-enc0123456789abcdef");
	clock_gettime(CLOCK_REALTIME, &ts);
	doc.timestamp_ms = (uint64_t)(ts.tv_sec + offset) * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return 3;
	doc.nonce = (struct attest_blob){ true, nonce, sizeof(nonce) };
	if (pk)
		doc.public_key = (struct attest_blob){ true, pk, pklen };
	if (attest_generate(&doc, &s, &out, &outlen, err, sizeof(err))) {
		fprintf(stderr, "attest_mint: %s\n", err);
		return 3;
	}
	if (tamper) {
		uint8_t *at = memmem(out, outlen, doc.pcr[0], ATTEST_PCR_LEN);

		if (!at)
			return 3;
		at[0] ^= 1;
	}
	f = fopen(argv[5], "wb");
	if (!f || fwrite(out, 1, outlen, f) != outlen || fclose(f))
		return 3;
	free(out);
	free(pk);
	OPENSSL_free((void *)s.cert);
	OPENSSL_free((void *)cab[0]);
	OPENSSL_free((void *)cab[1]);
	EVP_PKEY_free(s.key);
	return 0;
}
