/* hpke: RFC 9180 HPKE, base mode, DHKEM(P-256, HKDF-SHA256) + HKDF-SHA256 +
 * AES-256-GCM — how KMS seals a volume key to a host. The receiver's ECDH is
 * a callback because in production the host key lives in the TPM. */
#ifndef WARD_HPKE_H
#define WARD_HPKE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define HPKE_KEM_P256_SHA256 0x0010
#define HPKE_KDF_SHA256 0x0001
#define HPKE_AEAD_AES128GCM 0x0001 /* only for the RFC 9180 A.3 vectors */
#define HPKE_AEAD_AES256GCM 0x0002 /* ward's suite */

#define HPKE_PK_LEN 65 /* Npk = Nenc: uncompressed SEC1 point 04||x||y */
#define HPKE_ENC_LEN 65
#define HPKE_DH_LEN 32 /* Ndh: the x-coordinate of the shared point */
#define HPKE_TAG_LEN 16
/* Sealed blob (docs/formats.md): enc || AES-256-GCM ciphertext || tag. */
#define HPKE_SEALED_OVERHEAD (HPKE_ENC_LEN + HPKE_TAG_LEN)
#define HPKE_MAX_INFO 65536 /* info, aad and exporter context bound */

/* z = x-coordinate of sk * peer_pub. peer_pub has been validated as a point
 * of P-256 before the call. Return 0 or a negative errno. For a TPM key this
 * is TPM2_ECDH_ZGen; hpke_dh_pkey below is the software form. */
typedef int (*hpke_dh_fn)(void *ctx, const uint8_t peer_pub[HPKE_PK_LEN],
			  uint8_t z[HPKE_DH_LEN]);

/* A set-up encryption context (key, base nonce, exporter secret, sequence
 * number), held in secure memory. */
struct hpke_ctx;

/* SetupBaseS (§5.1.1) with a fresh ephemeral key. */
int hpke_setup_base_s(uint16_t aead_id, const uint8_t pkR[HPKE_PK_LEN],
		      const uint8_t *info, size_t info_len,
		      uint8_t enc[HPKE_ENC_LEN], struct hpke_ctx **out);
/* The same with the ephemeral key from DeriveKeyPair(ikmE): for the RFC test
 * vectors only — reusing ikmE across messages destroys confidentiality. */
int hpke_setup_base_s_derand(uint16_t aead_id, const uint8_t pkR[HPKE_PK_LEN],
			     const uint8_t *info, size_t info_len,
			     const uint8_t *ikmE, size_t ikmE_len,
			     uint8_t enc[HPKE_ENC_LEN], struct hpke_ctx **out);
/* SetupBaseR (§5.1.1): enc is validated (on-curve, uncompressed) before dh
 * sees it; pkR is the recipient's own public key (it is bound into the KEM
 * context). -EINVAL for a malformed enc. */
int hpke_setup_base_r(uint16_t aead_id, const uint8_t enc[HPKE_ENC_LEN],
		      const uint8_t pkR[HPKE_PK_LEN], hpke_dh_fn dh, void *dh_ctx,
		      const uint8_t *info, size_t info_len, struct hpke_ctx **out);

/* §5.2: ct receives pt_len + HPKE_TAG_LEN bytes. Each call uses and then
 * advances the sequence number; -EOVERFLOW when it is exhausted. */
int hpke_seal(struct hpke_ctx *c, const uint8_t *aad, size_t aad_len,
	      const uint8_t *pt, size_t pt_len, uint8_t *ct);
/* pt receives ct_len - HPKE_TAG_LEN bytes; -EBADMSG (and pt wiped) if the
 * tag does not verify. The sequence number advances only on success. */
int hpke_open(struct hpke_ctx *c, const uint8_t *aad, size_t aad_len,
	      const uint8_t *ct, size_t ct_len, uint8_t *pt);
/* §5.3 Export: L <= 255 * 32. */
int hpke_export(const struct hpke_ctx *c, const uint8_t *exp_ctx, size_t exp_len,
		uint8_t *out, size_t L);
void hpke_ctx_free(struct hpke_ctx *c);

/* Single-shot sealed blob with ward's suite: out (out_size >= pt_len +
 * HPKE_SEALED_OVERHEAD) receives enc || ct; *out_len its length. */
int hpke_seal_blob(const uint8_t pkR[HPKE_PK_LEN], const uint8_t *info, size_t info_len,
		   const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
		   uint8_t *out, size_t out_size, size_t *out_len);
/* Opens a sealed blob with a pluggable DH. pt (pt_size >= blob_len -
 * HPKE_SEALED_OVERHEAD) should be secure memory when it receives a key. */
int hpke_open_with_dh(const uint8_t *blob, size_t blob_len, const uint8_t pkR[HPKE_PK_LEN],
		      hpke_dh_fn dh, void *dh_ctx, const uint8_t *info, size_t info_len,
		      const uint8_t *aad, size_t aad_len,
		      uint8_t *pt, size_t pt_size, size_t *pt_len);

/* Software keys (tests, KMS side, hosts without a TPM). */
int hpke_generate_keypair(EVP_PKEY **out);
/* §7.1.3 DeriveKeyPair for P-256; ikm must be at least 32 bytes. */
int hpke_derive_keypair(const uint8_t *ikm, size_t ikm_len, EVP_PKEY **out);
/* SerializePublicKey: the 65-byte uncompressed point of a P-256 key. */
int hpke_public_key(const EVP_PKEY *key, uint8_t pk[HPKE_PK_LEN]);
/* hpke_dh_fn over an EVP_PKEY private key passed as ctx. */
int hpke_dh_pkey(void *ctx, const uint8_t peer_pub[HPKE_PK_LEN], uint8_t z[HPKE_DH_LEN]);

#endif
