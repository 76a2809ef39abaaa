/* libFuzzer harness for attestation documents: COSE_Sign1 envelope, the
 * CBOR payload, and the chain/signature checks against AWS's root at the
 * document's own time (attest_verify), as ward-kms will run them on a
 * Recipient's document. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/pem.h>

#include "attest.h"

static X509 *root;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	FILE *f = fopen(SAMPLES_DIR "/AWS_NitroEnclaves_Root-G1.pem", "r");

	if (!f)
		abort();
	root = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!root)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct attest_verify_opts o = { .root = root, .at = ATTEST_AT_DOC_TIME };
	static struct attest_doc doc;
	char err[320];

	if (size > (1u << 16))
		return 0;
	attest_parse(data, size, &doc, err, sizeof(err));
	attest_verify(data, size, &o, &doc, err, sizeof(err));
	return 0;
}
