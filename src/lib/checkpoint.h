/* checkpoint: C2SP tlog-checkpoint signed notes (c2sp.org/tlog-checkpoint,
 * c2sp.org/signed-note) — the signed tree heads of the audit log. One strict
 * parser for hostile input; signing goes through a callback because the
 * host's checkpoint key is TPM-resident. */
#ifndef WARD_CHECKPOINT_H
#define WARD_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define CHECKPOINT_HASH_LEN 32
#define CHECKPOINT_MAX_LEN 65536   /* whole note, bytes */
#define CHECKPOINT_MAX_SIGS 16     /* signed-note: MUST accept at least 16 */
#define CHECKPOINT_MAX_SIG_LEN 5120 /* signature bytes after the key ID */
#define CHECKPOINT_MAX_EXT 32      /* extension lines */

/* signed-note signature type bytes (c2sp.org/signed-note §Signature types) */
#define CHECKPOINT_ALG_ED25519 0x01
#define CHECKPOINT_ALG_ECDSA 0x02 /* ECDSA P-256 SHA-256, ASN.1 DER */

struct checkpoint_sig {
	const char *name;   /* NUL-terminated key name */
	uint32_t key_id;
	const uint8_t *sig; /* signature bytes, key ID stripped */
	size_t sig_len;
};

/* A parsed, validated checkpoint. All pointers point into the same
 * allocation; free with checkpoint_free. */
struct checkpoint {
	const char *origin;
	uint64_t size;
	uint8_t root[CHECKPOINT_HASH_LEN];
	size_t n_ext;
	const char *ext[CHECKPOINT_MAX_EXT];
	const char *body; /* the signed note text, final newline included */
	size_t body_len;
	size_t n_sigs;
	struct checkpoint_sig sigs[CHECKPOINT_MAX_SIGS];
};

/* *siglen is the capacity of sig on entry, the signature length on return.
 * ECDSA signers return ASN.1 DER (checkpoint_ecdsa_der converts a TPM's
 * r, s), Ed25519 signers the 64-byte RFC 8032 signature. 0 or -errno. */
typedef int (*checkpoint_sign_fn)(void *ctx, const uint8_t *msg, size_t len,
				  uint8_t *sig, size_t *siglen);

struct checkpoint_signer {
	const char *name;
	uint32_t key_id;
	checkpoint_sign_fn sign;
	void *ctx;
};

/* The note text "origin\nsize\nbase64(root)\n[ext\n...]" in a malloc'd,
 * NUL-terminated *body. -EINVAL if the result would not parse (empty or
 * multi-line origin or extension, control characters, invalid UTF-8). */
int checkpoint_format(const char *origin, uint64_t size, const uint8_t root[CHECKPOINT_HASH_LEN],
		      const char *const *ext, size_t n_ext, char **body, size_t *body_len);

/* body + blank line + one signature line per signer, malloc'd in *note. */
int checkpoint_sign(const char *body, size_t body_len, const struct checkpoint_signer *signers,
		    size_t n_signers, char **note, size_t *note_len);

/* Strict parse of untrusted text. -EBADMSG if malformed, -E2BIG if over
 * the limits above. Signatures are not checked here. */
int checkpoint_parse(const char *text, size_t len, struct checkpoint **out);
void checkpoint_free(struct checkpoint *cp);

/* Parse, then verify the signatures by (name, pub). signed-note rules:
 * every signature with this name and key ID must verify (-EBADMSG if one
 * does not) and at least one must exist (-ENOKEY); others are ignored.
 * pub: Ed25519 or ECDSA P-256. On success *out (if out) gets the checkpoint. */
int checkpoint_verify(const char *text, size_t len, EVP_PKEY *pub, const char *name,
		      struct checkpoint **out);

/* Key ID and signature type of a public key under a name: Ed25519 as in
 * signed-note, ECDSA P-256 as type 0x02 (SHA-256 of the DER SPKI). */
int checkpoint_key_id(const char *name, EVP_PKEY *pub, uint8_t *alg, uint32_t *key_id);

/* A signer over a software key (tests, vendor tooling); ctx = key. */
int checkpoint_signer_pkey(struct checkpoint_signer *s, const char *name, EVP_PKEY *key);
int checkpoint_pkey_sign(void *ctx, const uint8_t *msg, size_t len, uint8_t *sig, size_t *siglen);

/* r, s (32 bytes each, big-endian, as TPM2_Sign returns them) to ASN.1 DER. */
int checkpoint_ecdsa_der(const uint8_t r[32], const uint8_t s[32], uint8_t *der, size_t *len);

#endif
