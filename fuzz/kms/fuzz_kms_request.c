/* libFuzzer harness for ward-kms's request parsing: the JSON 1.1 body parser
 * for every operation, the ciphertext-blob parser and the key-policy grammar.
 * Input: one selector byte, then the body. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "blob.h"
#include "policy.h"
#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kms_request r;
	char err[256];
	unsigned sel;

	if (size < 1)
		return 0;
	sel = data[0];
	data++;
	size--;
	if (sel < 0xf0) {
		if (kms_request_parse((enum kms_op)(sel % (OP_COUNT + 1)), (const char *)data,
				      size, &r, err, sizeof(err)) == REQ_OK) {
			struct blob b;

			/* What handlers do next with the validated parts. */
			if (r.blob)
				blob_parse(r.blob, r.blob_len, &b);
			if (r.n_ec) {
				uint8_t enc[2 + REQ_MAX_EC * 4 + 8192];
				size_t len;

				blob_ec_encode(r.ec, r.n_ec, enc, sizeof(enc), &len);
			}
			kms_request_free(&r);
		}
	} else if (sel < 0xf8) {
		struct blob b;

		blob_parse(data, size, &b);
	} else {
		json_t *d = json_loadb((const char *)data, size, 0, NULL);

		/* With and without a Recipient's condition keys. */
		static const struct policy_ctx_entry e[] = {
			{ "kms:RecipientAttestation:PCR0", "abcdef" },
			{ "kms:RecipientAttestation:ImageSha384", "abcdef" },
		};
		struct policy_ctx ctx = { e, 2 };

		if (d && policy_validate(d, sel & 1 ? POLICY_KEY : POLICY_IDENTITY, err,
					 sizeof(err)) == 0)
			policy_eval(d, sel & 1 ? POLICY_KEY : POLICY_IDENTITY,
				    "arn:aws:iam::111122223333:user/alice", "kms:Decrypt",
				    "arn:aws:kms:us-east-1:111122223333:key/x", sel & 2 ? &ctx : NULL);
		json_decref(d);
	}
	return 0;
}
