/* tpm_nv: NV monotonic counters (TPM2_NT_COUNTER), the rollback barrier of
 * firmware updates: a counter only goes up, even across undefine/redefine
 * (a new counter starts at the highest value the TPM ever counted to). */
#include "tpm_int.h"

#include <errno.h>
#include <string.h>

#define NV_COUNTER_ATTRS \
	((TPM2_NT_COUNTER << TPMA_NV_TPM2_NT_SHIFT) | TPMA_NV_OWNERWRITE | \
	 TPMA_NV_OWNERREAD | TPMA_NV_AUTHREAD | TPMA_NV_NO_DA)

static int check_index(struct tpm *t, uint32_t idx)
{
	if ((idx & TPM2_HR_RANGE_MASK) != TPM2_HR_NV_INDEX)
		return tpm_fail(t, -EINVAL, "0x%08x is not an NV index", idx);
	return 0;
}

/* Resolve idx and make sure it is a counter: anyone holding owner auth could
 * have defined an ordinary (freely writable) index at this handle. */
static int counter_open(struct tpm *t, uint32_t idx, ESYS_TR *nv)
{
	TPM2B_NV_PUBLIC *pub = NULL;
	TSS2_RC rc;
	int ret = 0;

	*nv = ESYS_TR_NONE;
	ret = check_index(t, idx);
	if (ret)
		return ret;
	rc = Esys_TR_FromTPMPublic(t->esys, idx, ESYS_TR_NONE, ESYS_TR_NONE,
				   ESYS_TR_NONE, nv);
	if (rc) {
		*nv = ESYS_TR_NONE;
		if (tpm_rc_base(rc) == TPM2_RC_HANDLE)
			return tpm_fail(t, -ENOENT, "NV index 0x%08x is not defined",
					idx);
		return tpm_fail_rc(t, "NV index lookup", rc);
	}
	rc = Esys_NV_ReadPublic(t->esys, *nv, ESYS_TR_NONE, ESYS_TR_NONE,
				ESYS_TR_NONE, &pub, NULL);
	if (rc) {
		ret = tpm_fail_rc(t, "NV_ReadPublic", rc);
	} else if ((pub->nvPublic.attributes & TPMA_NV_TPM2_NT_MASK) >>
		   TPMA_NV_TPM2_NT_SHIFT != TPM2_NT_COUNTER ||
		   pub->nvPublic.dataSize != 8) {
		ret = tpm_fail(t, -EINVAL,
			       "NV index 0x%08x is not a monotonic counter", idx);
	}
	Esys_Free(pub);
	if (ret)
		Esys_TR_Close(t->esys, nv);
	return ret;
}

static int counter_read(struct tpm *t, ESYS_TR nv, uint64_t *value)
{
	TPM2B_MAX_NV_BUFFER *d = NULL;
	TSS2_RC rc;
	uint64_t v = 0;

	rc = Esys_NV_Read(t->esys, nv, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE,
			  ESYS_TR_NONE, 8, 0, &d);
	if (rc)
		return tpm_fail_rc(t, "NV_Read", rc);
	if (d->size != 8) {
		Esys_Free(d);
		return tpm_fail(t, -EIO, "NV_Read returned %u bytes", d->size);
	}
	for (int i = 0; i < 8; i++)
		v = v << 8 | d->buffer[i];	/* big-endian on the wire */
	Esys_Free(d);
	*value = v;
	return 0;
}

static int counter_increment(struct tpm *t, ESYS_TR nv)
{
	TSS2_RC rc;

	rc = Esys_NV_Increment(t->esys, ESYS_TR_RH_OWNER, nv, ESYS_TR_PASSWORD,
			       ESYS_TR_NONE, ESYS_TR_NONE);
	if (rc)
		return tpm_fail_rc(t, "NV_Increment", rc);
	return 0;
}

int tpm_nvcounter_define(struct tpm *t, uint32_t nv_index)
{
	TPM2B_AUTH auth = { .size = 0 };
	TPM2B_NV_PUBLIC pub = {
		.nvPublic = {
			.nvIndex = nv_index,
			.nameAlg = TPM2_ALG_SHA256,
			.attributes = NV_COUNTER_ATTRS,
			.dataSize = 8,
		},
	};
	ESYS_TR nv = ESYS_TR_NONE;
	TSS2_RC rc;
	int ret;

	ret = check_index(t, nv_index);
	if (ret)
		return ret;
	rc = Esys_NV_DefineSpace(t->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD,
				 ESYS_TR_NONE, ESYS_TR_NONE, &auth, &pub, &nv);
	if (rc) {
		if (tpm_rc_base(rc) == TPM2_RC_NV_DEFINED)
			return tpm_fail(t, -EEXIST,
					"NV index 0x%08x is already defined",
					nv_index);
		return tpm_fail_rc(t, "NV_DefineSpace", rc);
	}
	/* A counter cannot be read until first incremented. */
	ret = counter_increment(t, nv);
	Esys_TR_Close(t->esys, &nv);
	return ret;
}

int tpm_nvcounter_read(struct tpm *t, uint32_t nv_index, uint64_t *value)
{
	ESYS_TR nv;
	int ret;

	ret = counter_open(t, nv_index, &nv);
	if (ret)
		return ret;
	ret = counter_read(t, nv, value);
	Esys_TR_Close(t->esys, &nv);
	return ret;
}

int tpm_nvcounter_increment(struct tpm *t, uint32_t nv_index,
			    uint64_t *new_value)
{
	ESYS_TR nv;
	int ret;

	ret = counter_open(t, nv_index, &nv);
	if (ret)
		return ret;
	ret = counter_increment(t, nv);
	if (!ret && new_value)
		ret = counter_read(t, nv, new_value);
	Esys_TR_Close(t->esys, &nv);
	return ret;
}
