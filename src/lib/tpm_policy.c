/* tpm_policy: PCR policies. The authPolicy of sealed objects and keys is
 * computed here in software (so a verifier or the golden-set tooling can
 * predict it), and satisfied on the TPM with a PolicyPCR session. */
#include "tpm_int.h"

#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <tss2/tss2_mu.h>

void tpm_pcr_selection(uint32_t mask, TPML_PCR_SELECTION *sel)
{
	memset(sel, 0, sizeof(*sel));
	sel->count = 1;
	sel->pcrSelections[0].hash = TPM2_ALG_SHA256;
	sel->pcrSelections[0].sizeofSelect = 3;
	sel->pcrSelections[0].pcrSelect[0] = (uint8_t)mask;
	sel->pcrSelections[0].pcrSelect[1] = (uint8_t)(mask >> 8);
	sel->pcrSelections[0].pcrSelect[2] = (uint8_t)(mask >> 16);
}

/* TPM 2.0 Part 3 §23.7: policyDigest' = H(policyDigest || TPM_CC_PolicyPCR
 * || pcrs || H(selected PCR values in ascending order)). */
int tpm_policy_pcr_digest(uint32_t pcr_mask,
			  const uint8_t (*pcrs)[TPM_DIGEST_LEN],
			  uint8_t policy[TPM_DIGEST_LEN])
{
	uint8_t buf[TPM_DIGEST_LEN + 4 + sizeof(TPML_PCR_SELECTION) +
		    TPM_DIGEST_LEN];
	uint8_t values[TPM_DIGEST_LEN];
	TPML_PCR_SELECTION sel;
	size_t off = 0;
	EVP_MD_CTX *md;
	int ret = -ENOMEM;

	if (!pcr_mask || pcr_mask & ~TPM_PCR_ALL || !pcrs)
		return -EINVAL;
	md = EVP_MD_CTX_new();
	if (!md)
		return -ENOMEM;
	if (!EVP_DigestInit_ex(md, EVP_sha256(), NULL))
		goto out;
	for (unsigned i = 0; i < TPM_NUM_PCRS; i++)
		if (pcr_mask & TPM_PCR_BIT(i) &&
		    !EVP_DigestUpdate(md, pcrs[i], TPM_DIGEST_LEN))
			goto out;
	if (!EVP_DigestFinal_ex(md, values, NULL))
		goto out;

	memset(buf, 0, TPM_DIGEST_LEN);	/* policy sessions start at zero */
	off = TPM_DIGEST_LEN;
	tpm_pcr_selection(pcr_mask, &sel);
	if (Tss2_MU_TPM2_CC_Marshal(TPM2_CC_PolicyPCR, buf, sizeof(buf), &off) ||
	    Tss2_MU_TPML_PCR_SELECTION_Marshal(&sel, buf, sizeof(buf), &off)) {
		ret = -EINVAL;
		goto out;
	}
	memcpy(buf + off, values, TPM_DIGEST_LEN);
	off += TPM_DIGEST_LEN;
	if (!EVP_Digest(buf, off, policy, NULL, EVP_sha256(), NULL))
		goto out;
	ret = 0;
out:
	EVP_MD_CTX_free(md);
	return ret;
}

int tpm_policy_for(struct tpm *t, uint32_t mask,
		   const uint8_t (*expected)[TPM_DIGEST_LEN],
		   TPM2B_DIGEST *policy)
{
	uint8_t cur[TPM_NUM_PCRS][TPM_DIGEST_LEN];
	int ret;

	if (!expected) {
		ret = tpm_pcr_read(t, mask, cur);
		if (ret)
			return ret;
		expected = (const uint8_t (*)[TPM_DIGEST_LEN])cur;
	}
	ret = tpm_policy_pcr_digest(mask, expected, policy->buffer);
	if (ret)
		return tpm_fail(t, ret, "cannot compute PCR policy digest");
	policy->size = TPM_DIGEST_LEN;
	return 0;
}

int tpm_policy_pcr_session(struct tpm *t, uint32_t mask, TPMA_SESSION attrs,
			   ESYS_TR *session)
{
	TPML_PCR_SELECTION sel;
	TPM2B_DIGEST empty = { .size = 0 };
	TSS2_RC rc;
	int ret;

	ret = tpm_session_start(t, TPM2_SE_POLICY, attrs, session);
	if (ret)
		return ret;
	/* An empty pcrDigest makes the TPM use the PCRs' current values; the
	 * object's authPolicy decides whether they are the right ones. */
	tpm_pcr_selection(mask, &sel);
	rc = Esys_PolicyPCR(t->esys, *session, ESYS_TR_NONE, ESYS_TR_NONE,
			    ESYS_TR_NONE, &empty, &sel);
	if (rc) {
		tpm_flush(t, session);
		return tpm_fail_rc(t, "PolicyPCR", rc);
	}
	return 0;
}
