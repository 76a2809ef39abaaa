/* fuzz_quote: libFuzzer harness for the host-attestation verifier
 * (src/lib/quote.c), whose every input comes from the host being judged:
 * TPMS_ATTEST, TPMT_SIGNATURE, EK/AK public areas, the whole quote check
 * with an event log, and the golden-set file. The first byte picks one. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <tss2/tss2_mu.h>

#include "quote.h"

static struct quote_key ak;
static struct quote_golden *golden;
static const char golden_text[] =
	"release r1\n"
	"pcr 12 0000000000000000000000000000000000000000000000000000000000000000 ctl\n"
	"pcr 13 0101010101010101010101010101010101010101010101010101010101010101 img\n";

/* A real-looking AK: a fresh P-256 point in an AK public area. */
static void make_ak(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	uint8_t pt[65], buf[512];
	size_t pl = 0, off = 0;
	TPM2B_PUBLIC p = { 0 };
	char err[128];

	if (!k || !EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt, sizeof(pt), &pl))
		abort();
	p.publicArea.type = TPM2_ALG_ECC;
	p.publicArea.nameAlg = TPM2_ALG_SHA256;
	p.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
		TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
		TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
	p.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
	p.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
	p.publicArea.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
	p.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
	p.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	p.publicArea.unique.ecc.x.size = p.publicArea.unique.ecc.y.size = 32;
	memcpy(p.publicArea.unique.ecc.x.buffer, pt + 1, 32);
	memcpy(p.publicArea.unique.ecc.y.buffer, pt + 33, 32);
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(&p, buf, sizeof(buf), &off) ||
	    quote_ak_parse(buf, off, &ak, err, sizeof(err)))
		abort();
	EVP_PKEY_free(k);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[128];

	(void)argc;
	(void)argv;
	make_ak();
	if (quote_golden_parse(golden_text, sizeof(golden_text) - 1, &golden, err, sizeof(err)))
		abort();
	return 0;
}

static size_t take(const uint8_t **d, size_t *n, const uint8_t **out)
{
	size_t l;

	if (*n < 2) {
		*out = *d;
		return 0;
	}
	l = (size_t)(*d)[0] << 8 | (*d)[1];
	*d += 2;
	*n -= 2;
	if (l > *n)
		l = *n;
	*out = *d;
	*d += l;
	*n -= l;
	return l;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t nonce[20] = "fuzz-verifier-nonce";
	struct quote_evidence ev;
	struct quote_attest qa;
	struct quote_key k;
	struct quote_golden *g;
	uint8_t der[TPM_SIG_MAX];
	size_t dl;
	char err[256];

	if (!size)
		return 0;
	switch (data[0] % 5) {
	case 0:
		quote_attest_parse(data + 1, size - 1, &qa, err, sizeof(err));
		break;
	case 1:
		quote_ak_parse(data + 1, size - 1, &k, err, sizeof(err));
		quote_ek_parse(data + 1, size - 1, &k, err, sizeof(err));
		break;
	case 2:
		if (!quote_golden_parse((const char *)data + 1, size - 1, &g, err, sizeof(err)))
			quote_golden_has(g, "r1");
		else
			g = NULL;
		quote_golden_free(g);
		break;
	case 3:
		quote_sig_der(data + 1, size - 1, der, &dl);
		break;
	default:
		/* attest | signature | the rest is the event log */
		data++;
		size--;
		ev.attest_len = take(&data, &size, &ev.attest);
		ev.sig_len = take(&data, &size, &ev.sig);
		ev.log = data;
		ev.log_len = size;
		quote_verify(&ak, &ev, nonce, sizeof(nonce), golden, "r1", NULL, err, sizeof(err));
		break;
	}
	return 0;
}
