/* tpmsign: the audit checkpoint key — a TPM-resident ECDSA P-256 key
 * (src/lib/tpm.h) kept as a blob at state_dir/keys/audit-sign.blob with its
 * public half in audit-sign.pub.pem. Provisioning makes it, bound to PCR 12
 * (docs/audit.md); a development controller makes an unbound one on its
 * first start. */
#ifndef WARD_CONTROLLER_TPMSIGN_H
#define WARD_CONTROLLER_TPMSIGN_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "checkpoint.h"
#include "tpm.h"

#define TPMSIGN_BLOB "keys/audit-sign.blob"
#define TPMSIGN_PUB  "keys/audit-sign.pub.pem"

struct tpmsign;

/* t must outlive the signer. A missing key is made only if may_create (a
 * development host's first start; provisioning makes it otherwise), and
 * then *created is set; else it is reported missing (-ENOENT). */
int tpmsign_open(struct tpm *t, const char *state_dir, bool may_create, struct tpmsign **out,
		 int *created, char *err, size_t errlen);
void tpmsign_close(struct tpmsign *s);
EVP_PKEY *tpmsign_pub(struct tpmsign *s);
const char *tpmsign_pub_pem(struct tpmsign *s);
/* A checkpoint signer with key name `name` (the log's origin). */
int tpmsign_signer(struct tpmsign *s, const char *name, struct checkpoint_signer *out);

#endif
