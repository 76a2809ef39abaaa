/* blob: ciphertext blob layout and encryption-context canonicalisation.
 * Both are part of the AAD of every data-key encryption, so they are written
 * and read only here. */
#include "blob.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static int cmp_pair(const void *a, const void *b)
{
	const struct ec_pair *x = a, *y = b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(x->key, y->key, n);

	if (c)
		return c;
	return x->klen < y->klen ? -1 : x->klen > y->klen;
}

int blob_ec_encode(struct ec_pair *pairs, size_t n, uint8_t *out, size_t cap,
		   size_t *len)
{
	size_t off = 0;

	*len = 0;
	if (n == 0)
		return 0;
	if (n > 0xffff)
		return -EINVAL;
	qsort(pairs, n, sizeof(pairs[0]), cmp_pair);
	if (cap < 2)
		return -ENOSPC;
	put16(out, n);
	off = 2;
	for (size_t i = 0; i < n; i++) {
		if (pairs[i].klen > 0xffff || pairs[i].vlen > 0xffff)
			return -EINVAL;
		if (i && cmp_pair(&pairs[i - 1], &pairs[i]) == 0)
			return -EINVAL;
		if (cap - off < 4 + pairs[i].klen + pairs[i].vlen)
			return -ENOSPC;
		put16(out + off, pairs[i].klen);
		memcpy(out + off + 2, pairs[i].key, pairs[i].klen);
		off += 2 + pairs[i].klen;
		put16(out + off, pairs[i].vlen);
		memcpy(out + off + 2, pairs[i].value, pairs[i].vlen);
		off += 2 + pairs[i].vlen;
	}
	*len = off;
	return 0;
}

int blob_is_key_id(const char *s, size_t len)
{
	if (len != BLOB_KEY_ID_LEN)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return 0;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			return 0;
		}
	}
	return 1;
}

int blob_header(const char *key_id, uint32_t version, const uint8_t iv[BLOB_IV_LEN],
		uint8_t hdr[BLOB_HEADER_LEN])
{
	if (!blob_is_key_id(key_id, strlen(key_id)))
		return -EINVAL;
	hdr[0] = BLOB_VERSION;
	memcpy(hdr + 1, key_id, BLOB_KEY_ID_LEN);
	hdr[37] = (uint8_t)(version >> 24);
	hdr[38] = (uint8_t)(version >> 16);
	hdr[39] = (uint8_t)(version >> 8);
	hdr[40] = (uint8_t)version;
	memcpy(hdr + 41, iv, BLOB_IV_LEN);
	return 0;
}

size_t blob_assemble(const uint8_t hdr[BLOB_HEADER_LEN],
		     const uint8_t tag[BLOB_TAG_LEN], const uint8_t *ct,
		     size_t ct_len, uint8_t *out, size_t cap)
{
	if (cap < BLOB_OVERHEAD + ct_len)
		return 0;
	memcpy(out, hdr, BLOB_HEADER_LEN);
	memcpy(out + BLOB_HEADER_LEN, tag, BLOB_TAG_LEN);
	memcpy(out + BLOB_OVERHEAD, ct, ct_len);
	return BLOB_OVERHEAD + ct_len;
}

int blob_parse(const uint8_t *buf, size_t len, struct blob *out)
{
	if (len <= BLOB_OVERHEAD || len > BLOB_OVERHEAD + BLOB_MAX_PLAINTEXT)
		return -EINVAL;
	if (buf[0] != BLOB_VERSION)
		return -EINVAL;
	if (!blob_is_key_id((const char *)buf + 1, BLOB_KEY_ID_LEN))
		return -EINVAL;
	memcpy(out->key_id, buf + 1, BLOB_KEY_ID_LEN);
	out->key_id[BLOB_KEY_ID_LEN] = '\0';
	out->key_version = (uint32_t)buf[37] << 24 | (uint32_t)buf[38] << 16 |
			   (uint32_t)buf[39] << 8 | buf[40];
	if (out->key_version == 0)
		return -EINVAL;
	out->header = buf;
	out->iv = buf + 41;
	out->tag = buf + BLOB_HEADER_LEN;
	out->ct = buf + BLOB_OVERHEAD;
	out->ct_len = len - BLOB_OVERHEAD;
	return 0;
}
