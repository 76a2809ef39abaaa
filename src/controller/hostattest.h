/* hostattest: the controller's half of host attestation (docs/attestation.md):
 * its EK and attestation key (AK) publics, ActivateCredential, and quotes
 * over the boot PCRs with this boot's event log, for ward-api. The AK is a
 * blob under the SRK at state_dir/keys/attest.blob, made on first start. */
#ifndef WARD_CONTROLLER_HOSTATTEST_H
#define WARD_CONTROLLER_HOSTATTEST_H

#include <stddef.h>

#include <jansson.h>

#include "tpm.h"

#define HOSTATTEST_AK_BLOB "keys/attest.blob"	/* fw_chain.h reserves the name */

struct hostattest;

/* t must outlive h. The event log at log_path is read now, once: the boot
 * chain has measured everything before the controller serves, and the
 * sandbox set up later does not open that path again. A missing log is
 * not an error here; quotes then answer 503. */
int hostattest_open(struct tpm *t, const char *state_dir, const char *log_path,
		    struct hostattest **out, char *err, size_t errlen);
void hostattest_close(struct hostattest *h);

/* One host API request on an attestation route (pattern as in routes.c):
 * returns the HTTP status and sets *reply, or *code and msg on an error.
 * Audit fields go into audit (sizes and names, never the credential). */
int hostattest_request(struct hostattest *h, const char *method, const char *pattern,
		       const char *body, size_t body_len, json_t *audit, json_t **reply,
		       const char **code, char *msg, size_t msglen);

#endif
