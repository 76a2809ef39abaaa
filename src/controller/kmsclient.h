/* kmsclient: a small client of ward-kms (AWS KMS JSON 1.1 over HTTPS,
 * libcurl). The controller authenticates as its host with mTLS; the
 * control plane (`ward volume`) signs with SigV4. One kept-alive connection
 * per client. Bodies and answers carry no plaintext keys: hosts only ever
 * receive key material HPKE-sealed to their TPM key (docs/attach.md). */
#ifndef WARD_CONTROLLER_KMSCLIENT_H
#define WARD_CONTROLLER_KMSCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct kmsc_cfg {
	const char *url;	/* https://127.0.0.1:8443 */
	const char *ca;		/* CA of the KMS server certificate */
	const char *cert, *key;	/* mTLS client identity (hosts), or NULL */
	const char *akid, *secret;	/* SigV4 credentials (users), or NULL */
	const char *region;	/* default us-east-1 */
};

struct kmsc;

int kmsc_new(const struct kmsc_cfg *cfg, struct kmsc **out);
void kmsc_free(struct kmsc *k);
/* Sign the next calls as another principal (SigV4 is per request), keeping
 * the TLS connection. 0 or -ENOMEM. */
int kmsc_set_signer(struct kmsc *k, const char *akid, const char *secret);

/* TrentService.<op> with body (not consumed). 0 and *resp (decref it) on
 * HTTP 200. Otherwise a negative errno: -EACCES for AccessDeniedException,
 * -EPERM for other KMS refusals, -EIO for transport failures / unreadable
 * answers; etype gets the KMS error type ("" when none) and err a message
 * naming the operation and KMS's reason. */
int kmsc_call(struct kmsc *k, const char *op, json_t *body, json_t **resp, char *etype,
	      size_t etlen, char *err, size_t errlen);

/* Standard base64 (with padding). decode: 0, or -EINVAL for bad input or
 * output over cap. encode: malloc'd string or NULL. */
int kmsc_b64_decode(const char *in, uint8_t *out, size_t cap, size_t *out_len);
char *kmsc_b64_encode(const uint8_t *in, size_t len);

#endif
