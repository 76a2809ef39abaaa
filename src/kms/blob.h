/* blob: the ward-kms ciphertext blob and the canonical encryption-context
 * encoding (AWS Encryption SDK, framework/structures.md) that is bound into
 * it as AES-GCM additional authenticated data. Format: docs/formats.md. */
#ifndef WARD_KMS_BLOB_H
#define WARD_KMS_BLOB_H

#include <stddef.h>
#include <stdint.h>

#define BLOB_VERSION 0x01
#define BLOB_KEY_ID_LEN 36	/* RFC 4122 UUID text */
#define BLOB_IV_LEN 12
#define BLOB_TAG_LEN 16
#define BLOB_HEADER_LEN (1 + BLOB_KEY_ID_LEN + 4 + BLOB_IV_LEN)
#define BLOB_OVERHEAD (BLOB_HEADER_LEN + BLOB_TAG_LEN)
#define BLOB_MAX_PLAINTEXT 4096

struct ec_pair {
	const char *key, *value;	/* UTF-8, NUL-free */
	size_t klen, vlen;
};

struct blob {
	char key_id[BLOB_KEY_ID_LEN + 1];
	uint32_t key_version;
	const uint8_t *header;	/* BLOB_HEADER_LEN bytes: the AAD prefix */
	const uint8_t *iv, *tag, *ct;
	size_t ct_len;
};

/* Serialised context: empty context → 0 bytes; otherwise u16 count, then
 * pairs sorted by key bytes, each u16 len + key, u16 len + value (big
 * endian). Duplicate keys or fields over 65535 bytes: -EINVAL. The pairs
 * array is sorted in place. Writes at most cap bytes; returns length. */
int blob_ec_encode(struct ec_pair *pairs, size_t n, uint8_t *out, size_t cap,
		   size_t *len);

/* Writes the header for (key_id, version, iv) into hdr[BLOB_HEADER_LEN]. */
int blob_header(const char *key_id, uint32_t version, const uint8_t iv[BLOB_IV_LEN],
		uint8_t hdr[BLOB_HEADER_LEN]);

/* Assembles header | tag | ct into out (cap bytes); returns the length. */
size_t blob_assemble(const uint8_t hdr[BLOB_HEADER_LEN],
		     const uint8_t tag[BLOB_TAG_LEN], const uint8_t *ct,
		     size_t ct_len, uint8_t *out, size_t cap);

/* Validates and splits a blob; pointers refer into buf. 0 or -EINVAL. */
int blob_parse(const uint8_t *buf, size_t len, struct blob *out);

/* True when s is a lowercase RFC 4122 UUID string (what ward-kms issues). */
int blob_is_key_id(const char *s, size_t len);

#endif
