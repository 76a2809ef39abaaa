/* fw_format: the on-disk formats of the firmware store — signed manifest,
 * update package, golden measurement set, slot pointer, sealed boot secret.
 * Every byte that comes from disk is parsed here, strictly, into validated
 * structs; nothing else in the controller reads the raw bytes. docs/firmware.md. */
#ifndef WARD_FW_FORMAT_H
#define WARD_FW_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FW_MAX_IMAGES		32
#define FW_NAME_MAX		32
#define FW_IMAGE_MAX		(256u << 20)	/* largest image accepted */
#define FW_ED25519_PUB_LEN	32
#define FW_ED25519_SIG_LEN	64
#define FW_SHA256_LEN		32

enum fw_role {
	FW_ROLE_HV = 1,		/* ward-hv */
	FW_ROLE_BLK = 2,	/* ward-blk */
	FW_ROLE_NET = 3,	/* ward-net */
	FW_ROLE_GUEST = 4,	/* guest firmware / test guest image */
};

struct fw_image_desc {
	char name[FW_NAME_MAX + 1];
	enum fw_role role;
	uint64_t size;
	uint8_t sha256[FW_SHA256_LEN];
};

/* A parsed manifest. body/body_len/sig point into the caller's buffer:
 * the signed bytes are exactly body[0..body_len). */
struct fw_manifest {
	uint16_t format;
	uint64_t version;	/* store version: strictly increasing */
	uint64_t counter;	/* security counter: never below the TPM's */
	uint64_t expiry;	/* unix seconds; 0 = never */
	unsigned n_images;
	struct fw_image_desc img[FW_MAX_IMAGES];
	const uint8_t *body;
	size_t body_len;
	const uint8_t *sig;	/* FW_ED25519_SIG_LEN bytes */
	size_t total_len;	/* body + signature trailer */
	uint8_t digest[FW_SHA256_LEN];	/* SHA-256 of the whole manifest */
};

const char *fw_role_name(enum fw_role r);
int fw_role_parse(const char *s, enum fw_role *out);

/* Parse exactly len bytes as a manifest (structure only: the signature is
 * checked by fw_manifest_verify). -EBADMSG with the reason in err. */
int fw_manifest_parse(const uint8_t *buf, size_t len, struct fw_manifest *m,
		      char *err, size_t errlen);
/* Ed25519 signature over the domain-separated body, with the given public
 * key (FW_ED25519_PUB_LEN raw bytes). -EKEYREJECTED on a bad signature. */
int fw_manifest_verify(const struct fw_manifest *m, const uint8_t *pub);
/* Serialise and sign with a PEM Ed25519 private key file; *out malloc'd. */
int fw_manifest_build(const struct fw_manifest *m, const char *key_pem_path,
		      uint8_t **out, size_t *out_len, char *err, size_t errlen);

/* Update package: "WFUP" | u16 1 | u16 0 | u32 manifest_len | manifest |
 * image bytes in manifest order (sizes from the manifest). Parsing checks
 * the structure and that each image hashes to its manifest entry; the
 * manifest signature is what makes the package authentic. */
struct fw_package {
	struct fw_manifest m;
	const uint8_t *image[FW_MAX_IMAGES];	/* into the caller's buffer */
};
int fw_package_parse(const uint8_t *buf, size_t len, struct fw_package *p,
		     char *err, size_t errlen);

/* Golden measurement set: PCR index -> expected SHA-256 bank value,
 * signed (ECDSA P-256, DER) by the TPM-resident golden/audit signing key. */
#define FW_GOLDEN_MAX_PCRS	8
#define FW_GOLDEN_SIG_MAX	80
struct fw_golden {
	unsigned n;
	uint8_t pcr[FW_GOLDEN_MAX_PCRS];
	uint8_t value[FW_GOLDEN_MAX_PCRS][FW_SHA256_LEN];
	uint8_t sig[FW_GOLDEN_SIG_MAX];
	size_t sig_len;
	uint8_t digest[FW_SHA256_LEN];	/* what the signature covers */
};
int fw_golden_parse(const uint8_t *buf, size_t len, struct fw_golden *g,
		    char *err, size_t errlen);
/* Body bytes (without signature) and their signing digest. */
int fw_golden_body(const struct fw_golden *g, uint8_t *out, size_t cap,
		   size_t *out_len, uint8_t digest[FW_SHA256_LEN]);
/* Full encoding including the signature. */
int fw_golden_encode(const struct fw_golden *g, uint8_t *out, size_t cap,
		     size_t *out_len);

/* Slot pointer (MCUboot-style test/confirm): which slot boots, whether it
 * is on trial, and how many trial boots were attempted. */
enum fw_slot_state { FW_SLOT_CONFIRMED = 0, FW_SLOT_TRIAL = 1 };
struct fw_pointer {
	char active;		/* 'A' or 'B' */
	enum fw_slot_state state;
	uint8_t tries;
	uint64_t version;	/* store version of the active slot */
};
#define FW_POINTER_LEN	24
int fw_pointer_parse(const uint8_t *buf, size_t len, struct fw_pointer *p,
		     char *err, size_t errlen);
void fw_pointer_encode(const struct fw_pointer *p, uint8_t out[FW_POINTER_LEN]);

/* The boot secret sealed in the TPM: store key, the NV counter value that
 * means "security counter 0" on this TPM, and the SHA-256 of the golden
 * signing key's SubjectPublicKeyInfo (pins which key may sign golden sets). */
#define FW_STORE_KEY_LEN	32
#define FW_SECRET_LEN		80
struct fw_secret {
	uint64_t nv_base;
	uint8_t key[FW_STORE_KEY_LEN];
	uint8_t golden_key_id[FW_SHA256_LEN];
};
int fw_secret_parse(const uint8_t *buf, size_t len, struct fw_secret *s);
void fw_secret_encode(const struct fw_secret *s, uint8_t out[FW_SECRET_LEN]);

#endif
