/* hostmsg: the one parser of a host controller's attestation replies
 * (docs/attestation.md) — untrusted JSON from the host being judged —
 * into raw bytes for src/lib/quote.c. Strict: unknown members, wrong types
 * and bad base64 are errors. Fuzzed by fuzz/api/fuzz_hostmsg.c. */
#ifndef WARD_API_HOSTMSG_H
#define WARD_API_HOSTMSG_H

#include <stddef.h>
#include <stdint.h>

#define HOSTMSG_MAX (96u << 20)	/* a 64 MiB event log in base64, and the rest */

struct hostmsg_keys {
	uint8_t ek[1024], ak[1024];
	size_t ek_len, ak_len;
};

struct hostmsg_quote {
	uint8_t attest[1024], sig[256];
	size_t attest_len, sig_len;
	uint8_t *log;		/* malloc'd */
	size_t log_len;
};

/* Standard base64 with padding, exactly: -EINVAL otherwise or over cap. */
int hostmsg_b64_decode(const char *s, size_t slen, uint8_t *out, size_t cap, size_t *len);
/* malloc'd, NUL-terminated. */
char *hostmsg_b64_encode(const uint8_t *in, size_t len);

/* GET /v1/attestation/keys: {"ek_public", "ak_public", "event_log": bool}. */
int hostmsg_keys(const char *body, size_t len, struct hostmsg_keys *out, char *err,
		 size_t errlen);
/* POST /v1/attestation/activate: {"secret"} into out (<= 64 bytes). */
int hostmsg_secret(const char *body, size_t len, uint8_t out[64], size_t *out_len, char *err,
		   size_t errlen);
/* POST /v1/attestation/quote: {"quote", "signature", "pcr_select", "pcrs",
 * "event_log"}. The pcrs the host reports are not kept: the verifier
 * recomputes them from the log. */
int hostmsg_quote(const char *body, size_t len, struct hostmsg_quote *out, char *err,
		  size_t errlen);
void hostmsg_quote_free(struct hostmsg_quote *q);

#endif
