/* tpm: connection to the TPM through the TCTI loader and ESAPI, error
 * translation, PCRs, the storage primary key and salted sessions.
 * Keys live in tpm_keys.c, counters in tpm_nv.c, policies in tpm_policy.c. */
#include "tpm_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "log.h"
#include "tpm_eventlog.h"

const char *tpm_error(const struct tpm *t)
{
	return t && t->err[0] ? t->err : "no error";
}

int tpm_fail(struct tpm *t, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->err, sizeof(t->err), fmt, ap);
	va_end(ap);
	/* Debug only: the caller decides whether this is worth a warning
	 * (an -EEXIST from define, an -EACCES from unseal may be expected). */
	log_debug("tpm operation failed", "error=\"%s\"", t->err);
	return err;
}

TSS2_RC tpm_rc_base(TSS2_RC rc)
{
	if ((rc & TSS2_RC_LAYER_MASK) != TSS2_TPM_RC_LAYER)
		return 0;
	if (rc & TPM2_RC_FMT1)
		return rc & (TPM2_RC_FMT1 | 0x3f);
	return rc & 0xfff;
}

static int rc_errno(TSS2_RC rc)
{
	switch (tpm_rc_base(rc)) {
	case TPM2_RC_POLICY_FAIL:
	case TPM2_RC_PCR_CHANGED:
	case TPM2_RC_AUTH_FAIL:
	case TPM2_RC_BAD_AUTH:
	case TPM2_RC_AUTH_UNAVAILABLE:
	case TPM2_RC_LOCKOUT:
		return -EACCES;
	case TPM2_RC_NV_DEFINED:
		return -EEXIST;
	case TPM2_RC_HANDLE:
		return -ENOENT;
	case TPM2_RC_NV_SPACE:
	case TPM2_RC_OBJECT_MEMORY:
	case TPM2_RC_SESSION_MEMORY:
		return -ENOSPC;
	case TPM2_RC_INTEGRITY:
	case TPM2_RC_SIZE:
	case TPM2_RC_VALUE:
	case TPM2_RC_ECC_POINT:
	case TPM2_RC_KEY:
	case TPM2_RC_ATTRIBUTES:
	case TPM2_RC_TYPE:
	case TPM2_RC_SCHEME:
	case TPM2_RC_INSUFFICIENT:
		return -EINVAL;
	default:
		return -EIO;
	}
}

int tpm_fail_rc(struct tpm *t, const char *what, TSS2_RC rc)
{
	TSS2_RC base = tpm_rc_base(rc);

	/* The one failure callers must tell apart from all others. */
	if (base == TPM2_RC_POLICY_FAIL || base == TPM2_RC_PCR_CHANGED)
		return tpm_fail(t, -EACCES, "%s: PCR policy not satisfied (%s)",
				what, Tss2_RC_Decode(rc));
	return tpm_fail(t, rc_errno(rc), "%s: %s (0x%x)", what,
			Tss2_RC_Decode(rc), rc);
}

void tpm_quiet_tss_log(void)
{
	/* Every failure ward acts on is turned into a named ward log line or
	 * error (tpm_error: Tss2_RC_Decode); tss2's raw lines would only
	 * duplicate it, and some (NV_DefineSpace of an index that exists)
	 * are the expected answer. */
	setenv("TSS2_LOG", "all+none", 0);
}

int tpm_open(const char *tcti, struct tpm **out, char *err, size_t errlen)
{
	struct tpm *t;
	TSS2_RC rc;

	*out = NULL;
	if (!tcti)
		tcti = getenv("WARD_TPM_TCTI");
	if (!tcti || !tcti[0])
		tcti = TPM_DEFAULT_TCTI;
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	t->srk = ESYS_TR_NONE;
	rc = Tss2_TctiLdr_Initialize(tcti, &t->tcti);
	if (rc) {
		snprintf(err, errlen, "cannot open TPM via TCTI \"%s\": %s",
			 tcti, Tss2_RC_Decode(rc));
		goto err_free;
	}
	rc = Esys_Initialize(&t->esys, t->tcti, NULL);
	if (rc) {
		snprintf(err, errlen, "ESAPI initialisation on \"%s\": %s",
			 tcti, Tss2_RC_Decode(rc));
		goto err_tcti;
	}
	log_debug("tpm opened", "tcti=\"%s\"", tcti);
	*out = t;
	return 0;

err_tcti:
	Tss2_TctiLdr_Finalize(&t->tcti);
err_free:
	free(t);
	return -EIO;
}

void tpm_close(struct tpm *t)
{
	if (!t)
		return;
	tpm_flush(t, &t->srk);
	Esys_Finalize(&t->esys);
	Tss2_TctiLdr_Finalize(&t->tcti);
	free(t);
}

void tpm_flush(struct tpm *t, ESYS_TR *h)
{
	if (*h == ESYS_TR_NONE)
		return;
	/* Best effort on cleanup paths: a failed flush leaves a transient
	 * handle that the resource manager (or a TPM restart) reclaims. */
	Esys_FlushContext(t->esys, *h);
	*h = ESYS_TR_NONE;
}

int tpm_pcr_extend(struct tpm *t, unsigned pcr,
		   const uint8_t digest[TPM_DIGEST_LEN])
{
	TPML_DIGEST_VALUES v = { .count = 1 };
	TSS2_RC rc;

	if (pcr >= TPM_NUM_PCRS)
		return tpm_fail(t, -EINVAL, "PCR %u out of range", pcr);
	v.digests[0].hashAlg = TPM2_ALG_SHA256;
	memcpy(v.digests[0].digest.sha256, digest, TPM_DIGEST_LEN);
	rc = Esys_PCR_Extend(t->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD,
			     ESYS_TR_NONE, ESYS_TR_NONE, &v);
	if (rc)
		return tpm_fail_rc(t, "PCR_Extend", rc);
	return 0;
}

int tpm_pcr_read(struct tpm *t, uint32_t mask,
		 uint8_t out[TPM_NUM_PCRS][TPM_DIGEST_LEN])
{
	uint32_t left = mask;

	if (!mask || mask & ~TPM_PCR_ALL)
		return tpm_fail(t, -EINVAL, "PCR mask 0x%x invalid", mask);
	/* A TPM returns at most 8 digests per PCR_Read: loop until done. */
	while (left) {
		TPML_PCR_SELECTION sel, *osel = NULL;
		TPML_DIGEST *vals = NULL;
		uint32_t got = 0, n = 0;
		TSS2_RC rc;

		tpm_pcr_selection(left, &sel);
		rc = Esys_PCR_Read(t->esys, ESYS_TR_NONE, ESYS_TR_NONE,
				   ESYS_TR_NONE, &sel, NULL, &osel, &vals);
		if (rc)
			return tpm_fail_rc(t, "PCR_Read", rc);
		for (uint32_t s = 0; s < osel->count; s++) {
			TPMS_PCR_SELECTION *ps = &osel->pcrSelections[s];

			if (ps->hash != TPM2_ALG_SHA256)
				continue;
			for (unsigned i = 0; i < TPM_NUM_PCRS &&
			     i / 8 < ps->sizeofSelect; i++)
				if (ps->pcrSelect[i / 8] & (1u << (i % 8)))
					got |= TPM_PCR_BIT(i);
		}
		got &= left;
		for (unsigned i = 0; i < TPM_NUM_PCRS; i++) {
			if (!(got & TPM_PCR_BIT(i)))
				continue;
			if (n >= vals->count ||
			    vals->digests[n].size != TPM_DIGEST_LEN)
				break;
			memcpy(out[i], vals->digests[n].buffer, TPM_DIGEST_LEN);
			n++;
		}
		Esys_Free(osel);
		Esys_Free(vals);
		if (!got || n != (uint32_t)__builtin_popcount(got))
			return tpm_fail(t, -EIO,
					"PCR_Read: TPM has no sha256 bank for PCRs 0x%x",
					left);
		left &= ~got;
	}
	return 0;
}

int tpm_measure(struct tpm *t, const char *log_path, unsigned pcr,
		uint32_t type, const uint8_t digest[TPM_DIGEST_LEN],
		const void *desc, size_t desc_len)
{
	int ret;

	/* Log first: a crash between the two leaves a log that claims more
	 * than the PCR holds, which replay detects; never a silent extend. */
	ret = tpm_eventlog_append(log_path, pcr, type, digest, desc, desc_len);
	if (ret)
		return tpm_fail(t, ret, "cannot append to event log %s: %s",
				log_path, strerror(-ret));
	return tpm_pcr_extend(t, pcr, digest);
}

/* The TCG provisioning guidance's ECC P-256 SRK template: the owner seed
 * and this template always give the same key, so it is re-created on demand
 * rather than persisted (no NV slot used, nothing to provision). */
int tpm_srk(struct tpm *t, ESYS_TR *srk)
{
	TPM2B_SENSITIVE_CREATE sens = { .size = 0 };
	TPM2B_PUBLIC tmpl = {
		.publicArea = {
			.type = TPM2_ALG_ECC,
			.nameAlg = TPM2_ALG_SHA256,
			.objectAttributes = TPMA_OBJECT_FIXEDTPM |
				TPMA_OBJECT_FIXEDPARENT |
				TPMA_OBJECT_SENSITIVEDATAORIGIN |
				TPMA_OBJECT_USERWITHAUTH |
				TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED |
				TPMA_OBJECT_DECRYPT,
			.parameters.eccDetail = {
				.symmetric = {
					.algorithm = TPM2_ALG_AES,
					.keyBits.aes = 128,
					.mode.aes = TPM2_ALG_CFB,
				},
				.scheme.scheme = TPM2_ALG_NULL,
				.curveID = TPM2_ECC_NIST_P256,
				.kdf.scheme = TPM2_ALG_NULL,
			},
			.unique.ecc = { .x.size = 32, .y.size = 32 },
		},
	};
	TPM2B_DATA outside = { .size = 0 };
	TPML_PCR_SELECTION none = { .count = 0 };
	TSS2_RC rc;

	if (t->srk == ESYS_TR_NONE) {
		rc = Esys_CreatePrimary(t->esys, ESYS_TR_RH_OWNER,
					ESYS_TR_PASSWORD, ESYS_TR_NONE,
					ESYS_TR_NONE, &sens, &tmpl, &outside,
					&none, &t->srk, NULL, NULL, NULL, NULL);
		if (rc) {
			t->srk = ESYS_TR_NONE;
			return tpm_fail_rc(t, "CreatePrimary (storage key)", rc);
		}
	}
	*srk = t->srk;
	return 0;
}

int tpm_session_start(struct tpm *t, TPM2_SE type, TPMA_SESSION attrs,
		      ESYS_TR *session)
{
	/* Salted with the SRK: secrets crossing the bus (sealed data, ECDH
	 * output, new key sensitive parts) are encrypted under a key an
	 * interposer on the TPM bus cannot derive. */
	TPMT_SYM_DEF sym = {
		.algorithm = TPM2_ALG_AES,
		.keyBits.aes = 128,
		.mode.aes = TPM2_ALG_CFB,
	};
	ESYS_TR srk;
	TSS2_RC rc;
	int ret;

	*session = ESYS_TR_NONE;
	ret = tpm_srk(t, &srk);
	if (ret)
		return ret;
	rc = Esys_StartAuthSession(t->esys, srk, ESYS_TR_NONE, ESYS_TR_NONE,
				   ESYS_TR_NONE, ESYS_TR_NONE, NULL, type, &sym,
				   TPM2_ALG_SHA256, session);
	if (rc) {
		*session = ESYS_TR_NONE;
		return tpm_fail_rc(t, "StartAuthSession", rc);
	}
	rc = Esys_TRSess_SetAttributes(t->esys, *session,
				       attrs | TPMA_SESSION_CONTINUESESSION,
				       0xff);
	if (rc) {
		tpm_flush(t, session);
		return tpm_fail_rc(t, "session attributes", rc);
	}
	return 0;
}
