/* fw_chain: pieces of the boot chain shared by fw_boot / fw_update_apply
 * (../firmware.c), provisioning and ward-fwtool: key file names, expected
 * PCR values of a store, golden-set signing and checking. */
#ifndef WARD_FW_CHAIN_H
#define WARD_FW_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "fw_format.h"
#include "tpm.h"

/* Files under the state directory. */
#define FW_KEYS_DIR		"keys"
#define FW_HOSTKEY_BLOB		"keys/host.blob"	/* HPKE recipient, PCR 12 policy */
#define FW_HOSTKEY_PUB		"keys/host.pub"		/* uncompressed P-256 point */
#define FW_HOSTKEY_PEM		"keys/host.pub.pem"
#define FW_SIGNKEY_BLOB		"keys/audit-sign.blob"	/* golden sets, audit checkpoints */
#define FW_SIGNKEY_PEM		"keys/audit-sign.pub.pem"
#define FW_AK_BLOB		"keys/attest.blob"	/* restricted: quotes */
#define FW_AK_PEM		"keys/attest.pub.pem"

/* The event log ward-boot starts and fw_boot appends to. */
#define FW_EVENTLOG_ENV		"WARD_EVENT_LOG"
#define FW_EVENTLOG_DEFAULT	"/run/ward/measurements.log"
const char *fw_eventlog_path(void);

#define FW_GOLDEN_PCRS	TPM_BOOT_PCRS

/* pcr = SHA256(pcr || d) */
void fw_extend(uint8_t pcr[FW_SHA256_LEN], const uint8_t d[FW_SHA256_LEN]);
/* PCR 12 after ward-boot measured a controller with this SHA-256. */
void fw_pcr12_for(const uint8_t controller_sha256[FW_SHA256_LEN],
		  uint8_t pcr12[FW_SHA256_LEN]);
int fw_sha256_file(const char *path, uint8_t out[FW_SHA256_LEN]);

/* The PCR values (12, 13, 15) fw_boot leaves after booting manifest m
 * under a controller whose PCR 12 value is pcr12. Unsigned. */
void fw_golden_compute(const struct fw_manifest *m, const uint8_t pcr12[FW_SHA256_LEN],
		       struct fw_golden *g);
/* Sign g with the TPM signing key in state_dir and encode it. */
int fw_golden_sign(struct tpm *t, const char *state_dir, struct fw_golden *g,
		   uint8_t *out, size_t cap, size_t *out_len, char *err, size_t errlen);
/* Check g's signature with the signing key of state_dir, which must be the
 * key pinned by key_id (SHA-256 of its SubjectPublicKeyInfo). */
int fw_golden_check(const char *state_dir, const struct fw_golden *g,
		    const uint8_t key_id[FW_SHA256_LEN], char *err, size_t errlen);
/* SHA-256 of the signing key's SPKI (the id sealed with the store key). */
int fw_signkey_id(const char *state_dir, uint8_t id[FW_SHA256_LEN]);

/* Raise the NV counter until value - nv_base >= counter. */
int fw_counter_advance(struct tpm *t, uint64_t nv_base, uint64_t counter,
		       char *err, size_t errlen);

/* Write a file atomically (fw_io_replace) under state_dir/rel. */
int fw_state_write(const char *state_dir, const char *rel, const void *buf, size_t len);
int fw_write_pem_pub(const char *state_dir, const char *rel,
		     const uint8_t spki[TPM_SPKI_LEN]);

#endif
