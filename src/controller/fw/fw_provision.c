/* fw_provision: creates the host identity and the first store. The store
 * key is sealed to the PCR values of a boot that has measured exactly the
 * given controller binary and nothing else yet (PCR 12 = extend(0, H(ctl)),
 * PCRs 13 and 15 zero); the host key and the golden/audit signing key to
 * PCR 12. See docs/firmware.md. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "fw_chain.h"
#include "fw_provision.h"
#include "fw_store.h"
#include "fw_vendor.h"
#include "log.h"
#include "secmem.h"

static int keypair(struct tpm *t, const char *state_dir, const char *blob_rel,
		   const char *pem_rel, int kind, const uint8_t (*exp)[TPM_DIGEST_LEN],
		   char *err, size_t errlen)
{
	uint8_t *blob = NULL, spki[TPM_SPKI_LEN], point[TPM_ECC_POINT_LEN];
	size_t blen;
	int rc;

	if (kind == 0)	/* host key: ECDH, PCR 12 policy */
		rc = tpm_hostkey_create(t, TPM_PCR_BIT(TPM_PCR_BOOT), exp, &blob, &blen, point);
	else	/* attestation key: quotes of whatever the PCRs hold */
		rc = tpm_signkey_create(t, TPM_SIGNKEY_RESTRICTED, 0, NULL, &blob, &blen, spki);
	if (rc) {
		snprintf(err, errlen, "creating %s: %s", blob_rel, tpm_error(t));
		return rc;
	}
	rc = tpm_blob_pubkey(blob, blen, spki, point);
	if (!rc)
		rc = fw_state_write(state_dir, blob_rel, blob, blen);
	if (!rc)
		rc = fw_write_pem_pub(state_dir, pem_rel, spki);
	if (!rc && kind == 0)
		rc = fw_state_write(state_dir, FW_HOSTKEY_PUB, point, sizeof(point));
	if (rc)
		snprintf(err, errlen, "storing %s: %s", blob_rel, strerror(-rc));
	free(blob);
	return rc;
}

/* The golden/audit signing key is bound to PCR 12 = the provisioned
 * controller (as the host key): only that controller, measured by
 * ward-boot, can sign checkpoints or golden sets. Provisioning runs before
 * that boot, so the key signs the first golden set once, now, under a
 * one-time authorisation the TPM code wipes (tpm_signkey_create_signed). */
static int signkey_provision(struct tpm *t, const char *state_dir,
			     const uint8_t (*exp)[TPM_DIGEST_LEN], struct fw_golden *g,
			     uint8_t *out, size_t cap, size_t *out_len, char *err, size_t errlen)
{
	uint8_t body[512], *blob = NULL, spki[TPM_SPKI_LEN];
	size_t blen, n;
	int rc;

	rc = fw_golden_body(g, body, sizeof(body), &n, g->digest);
	if (rc)
		return rc;
	rc = tpm_signkey_create_signed(t, TPM_PCR_BIT(TPM_PCR_BOOT), exp, g->digest, g->sig,
				       &g->sig_len, &blob, &blen, spki);
	if (rc) {
		snprintf(err, errlen, "creating %s: %s", FW_SIGNKEY_BLOB, tpm_error(t));
		return rc;
	}
	rc = fw_state_write(state_dir, FW_SIGNKEY_BLOB, blob, blen);
	if (!rc)
		rc = fw_write_pem_pub(state_dir, FW_SIGNKEY_PEM, spki);
	free(blob);
	if (rc) {
		snprintf(err, errlen, "storing %s: %s", FW_SIGNKEY_BLOB, strerror(-rc));
		return rc;
	}
	return fw_golden_encode(g, out, cap, out_len);
}

int fw_provision(const struct fw_provision_opts *o, char *err, size_t errlen)
{
	char path[PATH_MAX], fwdir[PATH_MAX], e[224];
	uint8_t expected[TPM_NUM_PCRS][TPM_DIGEST_LEN] = { { 0 } };
	uint8_t ctl[FW_SHA256_LEN], *buf = NULL, *sealed = NULL, golden[512];
	uint8_t plain[FW_SECRET_LEN];
	size_t len, slen, glen;
	struct fw_package *pkg = NULL;
	struct fw_secret *sec = NULL;
	struct fw_golden g;
	struct fw_pointer ptr = { .active = 'A', .state = FW_SLOT_CONFIRMED };
	struct tpm *t = NULL;
	uint64_t nv;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", o->state_dir, FW_HOSTKEY_BLOB);
	if (!o->force && access(path, F_OK) == 0) {
		snprintf(err, errlen, "host already provisioned (%s exists); --force replaces "
			 "its identity and makes every key sealed to it useless", path);
		return -EEXIST;
	}
	rc = fw_sha256_file(o->controller, ctl);
	if (rc) {
		snprintf(err, errlen, "controller %s: %s", o->controller, strerror(-rc));
		return rc;
	}
	rc = fw_io_read(o->package, (size_t)1 << 30, &buf, &len);
	if (rc) {
		snprintf(err, errlen, "package %s: %s", o->package, strerror(-rc));
		return rc;
	}
	pkg = malloc(sizeof(*pkg));
	sec = secmem_alloc(sizeof(*sec));
	if (!pkg || !sec) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of (locked) memory");
		goto out;
	}
	rc = fw_package_parse(buf, len, pkg, err, errlen);
	if (rc)
		goto out;
	if (fw_manifest_verify(&pkg->m, fw_vendor_pubkey())) {
		snprintf(err, errlen, "package signature does not verify with the vendor key");
		rc = -EKEYREJECTED;
		goto out;
	}
	if (pkg->m.expiry && (uint64_t)time(NULL) > pkg->m.expiry) {
		snprintf(err, errlen, "package expired");
		rc = -EKEYEXPIRED;
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s", o->state_dir, FW_KEYS_DIR);
	snprintf(fwdir, sizeof(fwdir), "%s/%s", o->state_dir, FW_DIR);
	if ((mkdir(o->state_dir, 0700) && errno != EEXIST) ||
	    (rc = fw_io_mkdir(path)) || (rc = fw_io_mkdir(fwdir))) {
		rc = rc ? rc : -errno;
		snprintf(err, errlen, "cannot create the state directories: %s", strerror(-rc));
		goto out;
	}
	rc = tpm_open(o->tcti, &t, e, sizeof(e));
	if (rc) {
		snprintf(err, errlen, "TPM unavailable: %s", e);
		goto out;
	}
	fw_pcr12_for(ctl, expected[TPM_PCR_BOOT]);
	fw_golden_compute(&pkg->m, expected[TPM_PCR_BOOT], &g);

	if ((rc = keypair(t, o->state_dir, FW_HOSTKEY_BLOB, FW_HOSTKEY_PEM, 0,
			  (const uint8_t (*)[TPM_DIGEST_LEN])expected, err, errlen)) ||
	    (rc = signkey_provision(t, o->state_dir, (const uint8_t (*)[TPM_DIGEST_LEN])expected,
				    &g, golden, sizeof(golden), &glen, err, errlen)) ||
	    (rc = keypair(t, o->state_dir, FW_AK_BLOB, FW_AK_PEM, 1, NULL, err, errlen)))
		goto out;

	rc = tpm_nvcounter_define(t, TPM_NV_FW_COUNTER);
	if (rc && rc != -EEXIST) {
		snprintf(err, errlen, "defining the NV security counter: %s", tpm_error(t));
		goto out;
	}
	rc = tpm_nvcounter_read(t, TPM_NV_FW_COUNTER, &nv);
	if (rc) {
		snprintf(err, errlen, "reading the NV security counter: %s", tpm_error(t));
		goto out;
	}
	/* Security counter 0 is the counter's value now (a new NV counter
	 * starts at the highest value this TPM ever had). */
	sec->nv_base = nv;
	if (RAND_priv_bytes(sec->key, sizeof(sec->key)) != 1 ||
	    fw_signkey_id(o->state_dir, sec->golden_key_id)) {
		rc = -EIO;
		snprintf(err, errlen, "cannot make the store key");
		goto out;
	}
	fw_secret_encode(sec, plain);
	/* PCRs 13 and 15 are zero in `expected`: the key opens only before
	 * the controller has measured anything (once per boot). */
	rc = tpm_seal(t, TPM_BOOT_PCRS, (const uint8_t (*)[TPM_DIGEST_LEN])expected, plain,
		      sizeof(plain), &sealed, &slen);
	OPENSSL_cleanse(plain, sizeof(plain));
	if (rc) {
		snprintf(err, errlen, "sealing the store key: %s", tpm_error(t));
		goto out;
	}
	if (snprintf(path, sizeof(path), "%s/slot-B/%s", fwdir, FW_MANIFEST) >= (int)sizeof(path))
		rc = -ENAMETOOLONG;
	if (rc || (rc = fw_io_unlink(path)) ||
	    (rc = fw_slot_write(fwdir, 'A', pkg->m.body, pkg->m.total_len, pkg, sec->key,
				golden, glen, err, errlen)))
		goto out;
	rc = fw_state_write(o->state_dir, FW_DIR "/" FW_SECRET_BLOB, sealed, slen);
	if (rc) {
		snprintf(err, errlen, "storing the sealed store key: %s", strerror(-rc));
		goto out;
	}
	ptr.version = pkg->m.version;
	rc = fw_pointer_store(fwdir, &ptr);
	if (rc) {
		snprintf(err, errlen, "writing the slot pointer: %s", strerror(-rc));
		goto out;
	}
	rc = fw_counter_advance(t, sec->nv_base, pkg->m.counter, err, errlen);
	if (rc)
		goto out;
	log_info("host provisioned", "state_dir=%s store_version=%llu counter=%llu nv_base=%llu",
		 o->state_dir, (unsigned long long)pkg->m.version,
		 (unsigned long long)pkg->m.counter, (unsigned long long)nv);
out:
	tpm_close(t);
	if (sec)
		secmem_free(sec, sizeof(*sec));
	free(sealed);
	free(pkg);
	free(buf);
	return rc;
}
