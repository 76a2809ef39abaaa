/* fuzz_checkpoint: libFuzzer harness for the checkpoint parser and verifier
 * (src/lib/checkpoint.c), the code `ward audit verify` runs on untrusted
 * checkpoint text. Oracle: anything that parses re-formats to the same
 * note text; nothing crashes, leaks or reads out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "checkpoint.h"

/* Keys fixed so the seed corpus can carry notes that really verify: the
 * Ed25519 seed is 32 bytes of 0x42 (see make_corpus.py), the ECDSA key is
 * the Sigstore Rekor log key of the Rekor seed. */
static const uint8_t ed_seed[32] = {
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
};
static const char rekor_spki[] =
	"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2G2Y+2tabdTV5BcGiBIx0a9fAFwrkBbmLSGtks4L3qX6yYY0zufBnhC8Ur/iy55GhWP/9A/bY2LhC30M9+RYtw==";

static EVP_PKEY *ed, *ec;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	uint8_t der[128];
	const unsigned char *p = der;
	int n;

	ed = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, ed_seed, sizeof(ed_seed));
	n = EVP_DecodeBlock(der, (const unsigned char *)rekor_spki, (int)strlen(rekor_spki));
	if (!ed || n < 2)
		abort();
	ec = d2i_PUBKEY(NULL, &p, 91); /* DER SPKI length */
	if (!ec)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct checkpoint *cp;
	size_t len;
	char *body;

	if (checkpoint_parse(text, size, &cp) == 0) {
		if (cp->body_len >= size || memcmp(cp->body, text, cp->body_len) ||
		    cp->n_sigs == 0 || cp->n_sigs > CHECKPOINT_MAX_SIGS || !cp->origin[0])
			abort();
		if (checkpoint_format(cp->origin, cp->size, cp->root, cp->ext, cp->n_ext, &body, &len) ||
		    len != cp->body_len || memcmp(body, cp->body, len))
			abort();
		free(body);
		checkpoint_free(cp);
	} else if (cp) {
		abort();
	}
	checkpoint_verify(text, size, ed, "fuzz.example/log", NULL);
	checkpoint_verify(text, size, ec, "rekor.sigstore.dev", NULL);
	return 0;
}
