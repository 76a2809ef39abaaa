/* libFuzzer harness for NSM requests (nsm_handle): the CBOR a guest sends
 * to the NSM device, with the PCR bank's state carried across inputs and a
 * real signer, so Attestation requests produce real documents. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "nsm.h"

static struct nsm nsm;
static struct attest_signer signer;
static const uint8_t *cab[1];
static size_t cablen[1];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	EVP_PKEY *key = EVP_EC_gen("P-384");
	X509 *x = X509_new();
	uint8_t *der = NULL;
	int n;

	if (!key || !x)
		abort();
	X509_set_version(x, 2);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"fuzz", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	if (!X509_sign(x, key, EVP_sha384()) || (n = i2d_X509(x, &der)) <= 0)
		abort();
	X509_free(x);	/* the DER stays, referenced by the signer */
	signer = (struct attest_signer){ key, der, (size_t)n, 1, cab, cablen };
	cab[0] = der;
	cablen[0] = (size_t)n;
	if (nsm_init(&nsm, "i-fuzz-enc0001", &signer))
		abort();
	nsm_lock(&nsm, 0);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *resp;
	size_t len;

	if (!nsm_handle(&nsm, data, size, &resp, &len))
		free(resp);
	return 0;
}
