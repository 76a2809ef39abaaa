/* tpmsign: the audit checkpoint key — a TPM-resident ECDSA P-256 key
 * (src/lib/tpm.h) kept as a blob at state_dir/keys/audit-sign.blob with its
 * public half in audit-sign.pub.pem, created on first start if absent (the
 * provisioning step of the boot chain may create it earlier, same files). */
#ifndef WARD_CONTROLLER_TPMSIGN_H
#define WARD_CONTROLLER_TPMSIGN_H

#include <stddef.h>

#include <openssl/evp.h>

#include "checkpoint.h"
#include "tpm.h"

#define TPMSIGN_BLOB "keys/audit-sign.blob"
#define TPMSIGN_PUB  "keys/audit-sign.pub.pem"

struct tpmsign;

/* t must outlive the signer. *created is set when the key was made now. */
int tpmsign_open(struct tpm *t, const char *state_dir, struct tpmsign **out, int *created,
		 char *err, size_t errlen);
void tpmsign_close(struct tpmsign *s);
EVP_PKEY *tpmsign_pub(struct tpmsign *s);
const char *tpmsign_pub_pem(struct tpmsign *s);
/* A checkpoint signer with key name `name` (the log's origin). */
int tpmsign_signer(struct tpmsign *s, const char *name, struct checkpoint_signer *out);

#endif
