/* libFuzzer harness for ward-kms's Recipient path (src/kms/recipient.c):
 * recipient_check on an attestation document — pinned to the document's
 * own cabundle[0] and checked at its own time, so that mutated documents
 * get past the root and the window to the signature, the chain, the debug
 * rule and the public_key parser — then, for a document that passes, the
 * CMS answer sealed to its key. */
#include <stddef.h>
#include <stdint.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "attest.h"
#include "recipient.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct attest_doc doc;
	static const uint8_t pt[32] = { 1 };
	struct recipient_att a;
	const uint8_t *p;
	X509 *root = NULL;
	uint8_t *der;
	size_t der_len;
	char err[320];

	if (size > (1u << 16))
		return 0;
	if (attest_parse(data, size, &doc, err, sizeof(err)) == 0) {
		p = doc.cabundle[0].data;
		root = d2i_X509(NULL, &p, (long)doc.cabundle[0].len);
	}
	if (recipient_check(root, data, size, (double)doc.timestamp_ms / 1000.0, &a, err,
			    sizeof(err)) == 0) {
		if (recipient_cms_seal(a.pub, pt, sizeof(pt), &der, &der_len) == 0)
			OPENSSL_free(der);
		recipient_att_clear(&a);
	}
	X509_free(root);
	return 0;
}
