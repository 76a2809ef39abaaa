/* tpm_int: what the tpm*.c files share and nobody else sees: the context,
 * error recording, the storage primary key and session helpers. */
#ifndef WARD_TPM_INT_H
#define WARD_TPM_INT_H

#include <tss2/tss2_esys.h>

#include "tpm.h"

struct tpm {
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
	ESYS_TR srk;		/* storage primary, created on first use */
	char err[256];
};

/* Record "what: decoded rc" in t->err, log it, return the errno that fits
 * rc (-EACCES for a policy failure, -EEXIST, -ENOENT, -EINVAL, -EIO). */
int tpm_fail_rc(struct tpm *t, const char *what, TSS2_RC rc);
/* Record a failure that is not a TSS return code. */
int tpm_fail(struct tpm *t, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The TPM-layer base code of rc (format-one parameter/session/handle
 * numbers stripped), or 0 if rc is not a TPM response code. */
TSS2_RC tpm_rc_base(TSS2_RC rc);

int tpm_srk(struct tpm *t, ESYS_TR *srk);
/* Start a session salted with the SRK, AES-128-CFB parameter encryption,
 * attrs from TPMA_SESSION_*; continueSession is always set: callers flush. */
int tpm_session_start(struct tpm *t, TPM2_SE type, TPMA_SESSION attrs,
		      ESYS_TR *session);
void tpm_flush(struct tpm *t, ESYS_TR *h);

void tpm_pcr_selection(uint32_t mask, TPML_PCR_SELECTION *sel);
/* Start a policy session that has run PolicyPCR over mask with the PCRs'
 * current values; attrs as for tpm_session_start (TPMA_SESSION_ENCRYPT for
 * commands whose first response parameter is a secret TPM2B). */
int tpm_policy_pcr_session(struct tpm *t, uint32_t mask, TPMA_SESSION attrs,
			   ESYS_TR *session);
/* authPolicy for mask: over `expected`, or over the current values. */
int tpm_policy_for(struct tpm *t, uint32_t mask,
		   const uint8_t (*expected)[TPM_DIGEST_LEN],
		   TPM2B_DIGEST *policy);

#endif
