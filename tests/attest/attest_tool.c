/* attest_tool: the verifier library (src/lib/quote.c) as a command for the
 * attestation tests, on files of raw bytes:
 *   attest_tool makecred EK.pub AK.pub CRED OUT.credblob OUT.secret
 *   attest_tool akpem AK.pub OUT.pem
 *   attest_tool verify AK.pub QUOTE.msg QUOTE.sig EVENTLOG GOLDEN RELEASE NONCEHEX
 *   attest_tool get JSONFILE KEY [SUBKEY]   (a string member on stdout)
 *   attest_tool fakeek OUT   (an EK-shaped public area of no TPM: a fresh P-256 point)
 *   attest_tool unhex OUT   (hex on stdin -> bytes; the tests start no
 *   python per field: on a loaded 2-core machine each costs a second)
 * verify prints "ok" and exits 0, or prints the reason and exits 1. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <tss2/tss2_mu.h>
#include <openssl/x509.h>

#include "fileio.h"
#include "quote.h"

static uint8_t *slurp(const char *path, size_t *len)
{
	uint8_t *b = NULL;
	int rc = fileio_read(path, 64u << 20, 0, &b, len);

	if (rc) {
		fprintf(stderr, "attest_tool: %s: %s\n", path, strerror(-rc));
		exit(2);
	}
	return b;
}

static void spit(const char *path, const uint8_t *b, size_t len)
{
	if (fileio_replace(path, b, len, 0644)) {
		fprintf(stderr, "attest_tool: cannot write %s\n", path);
		exit(2);
	}
}

static int ak_load(const char *path, struct quote_key *k)
{
	char err[256];
	size_t len;
	uint8_t *b = slurp(path, &len);
	int rc = quote_ak_parse(b, len, k, err, sizeof(err));

	free(b);
	if (rc)
		printf("attestation key refused: %s\n", err);
	return rc;
}

static int makecred(char **a)
{
	struct quote_key ek, ak;
	uint8_t *e, *c, *cb, *sb;
	size_t el, cl, cbl, sbl;
	char err[256];

	e = slurp(a[0], &el);
	if (quote_ek_parse(e, el, &ek, err, sizeof(err))) {
		printf("endorsement key refused: %s\n", err);
		return 1;
	}
	if (ak_load(a[1], &ak))
		return 1;
	c = slurp(a[2], &cl);
	if (quote_make_credential(&ek, ak.name, c, cl, &cb, &cbl, &sb, &sbl)) {
		printf("MakeCredential failed\n");
		return 1;
	}
	spit(a[3], cb, cbl);
	spit(a[4], sb, sbl);
	free(e);
	free(c);
	free(cb);
	free(sb);
	return 0;
}

static int akpem(char **a)
{
	struct quote_key ak;
	const unsigned char *p;
	EVP_PKEY *k;
	FILE *f;

	if (ak_load(a[0], &ak))
		return 1;
	p = ak.spki;
	k = d2i_PUBKEY(NULL, &p, TPM_SPKI_LEN);
	f = fopen(a[1], "w");
	if (!k || !f || !PEM_write_PUBKEY(f, k))
		return 2;
	fclose(f);
	EVP_PKEY_free(k);
	return 0;
}

static int verify(char **a)
{
	struct quote_evidence ev;
	struct quote_golden *g;
	struct quote_key ak;
	uint8_t nonce[QUOTE_NONCE_MAX], *gb, *att, *sig, *log;
	size_t gl, nl = strlen(a[6]) / 2;
	char err[256];
	int rc;

	if (ak_load(a[0], &ak))
		return 1;
	if (nl > sizeof(nonce) || strlen(a[6]) % 2)
		return 2;
	for (size_t i = 0; i < nl; i++)
		if (sscanf(a[6] + 2 * i, "%2hhx", &nonce[i]) != 1)
			return 2;
	gb = slurp(a[4], &gl);
	if (quote_golden_parse((const char *)gb, gl, &g, err, sizeof(err))) {
		printf("golden set refused: %s\n", err);
		return 1;
	}
	att = slurp(a[1], &ev.attest_len);
	sig = slurp(a[2], &ev.sig_len);
	log = slurp(a[3], &ev.log_len);
	ev.attest = att;
	ev.sig = sig;
	ev.log = log;
	rc = quote_verify(&ak, &ev, nonce, nl, g, a[5], NULL, err, sizeof(err));
	printf("%s\n", rc ? err : "ok");
	quote_golden_free(g);
	free(gb);
	free(att);
	free(sig);
	free(log);
	return rc ? 1 : 0;
}

static int fakeek(const char *out)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	TPM2B_PUBLIC p = { 0 };
	TPMT_PUBLIC *a = &p.publicArea;
	uint8_t pt[65], buf[512];
	size_t pl = 0, off = 0;

	if (!k || !EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &pl))
		return 2;
	EVP_PKEY_free(k);
	a->type = TPM2_ALG_ECC;
	a->nameAlg = TPM2_ALG_SHA256;
	a->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
		TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
		TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
	a->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
	a->parameters.eccDetail.symmetric.keyBits.aes = 128;
	a->parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
	a->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
	a->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
	a->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	a->unique.ecc.x.size = a->unique.ecc.y.size = 32;
	memcpy(a->unique.ecc.x.buffer, pt + 1, 32);
	memcpy(a->unique.ecc.y.buffer, pt + 33, 32);
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(&p, buf, sizeof(buf), &off))
		return 2;
	spit(out, buf, off);
	return 0;
}

static int get(int argc, char **argv)
{
	json_t *o = json_load_file(argv[0], 0, NULL), *v;

	v = o ? json_object_get(o, argv[1]) : NULL;
	if (v && argc == 3)
		v = json_object_get(v, argv[2]);
	if (!json_is_string(v))
		return 1;
	printf("%s\n", json_string_value(v));
	json_decref(o);
	return 0;
}

static int unhex(const char *out)
{
	uint8_t buf[4096];
	size_t n = 0;
	unsigned v;

	while (n < sizeof(buf) && scanf("%2x", &v) == 1)
		buf[n++] = (uint8_t)v;
	spit(out, buf, n);
	return 0;
}

int main(int argc, char **argv)
{
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "get"))
		return get(argc - 2, argv + 2);
	if (argc == 3 && !strcmp(argv[1], "fakeek"))
		return fakeek(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "unhex"))
		return unhex(argv[2]);
	if (argc == 7 && !strcmp(argv[1], "makecred"))
		return makecred(argv + 2);
	if (argc == 4 && !strcmp(argv[1], "akpem"))
		return akpem(argv + 2);
	if (argc == 9 && !strcmp(argv[1], "verify"))
		return verify(argv + 2);
	fprintf(stderr, "usage: attest_tool makecred|akpem|verify ...\n");
	return 2;
}
