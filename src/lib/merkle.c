/* merkle: RFC 6962 / RFC 9162 §2.1 Merkle tree hashing, proofs and their
 * verification for the controller's tamper-evident audit log and for
 * `ward audit verify`. Storage-agnostic: leaves come through merkle_src. */
#include "merkle.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	/* Fetched once: a per-hash fetch costs more than the hash itself. */
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* One digest context per top-level operation, reused for every hash. */
struct hasher {
	EVP_MD_CTX *ctx;
};

static int hasher_init(struct hasher *h)
{
	pthread_once(&sha256_once, sha256_fetch);
	if (!sha256_md)
		return -ENOSYS;
	h->ctx = EVP_MD_CTX_new();
	return h->ctx ? 0 : -ENOMEM;
}

static void hasher_fini(struct hasher *h)
{
	EVP_MD_CTX_free(h->ctx);
}

static int hash_parts(struct hasher *h, uint8_t prefix, const void *a, size_t alen,
		      const void *b, size_t blen, uint8_t out[MERKLE_HASH_LEN])
{
	if (!EVP_DigestInit_ex2(h->ctx, sha256_md, NULL) ||
	    !EVP_DigestUpdate(h->ctx, &prefix, 1) ||
	    (alen && !EVP_DigestUpdate(h->ctx, a, alen)) ||
	    (blen && !EVP_DigestUpdate(h->ctx, b, blen)) ||
	    !EVP_DigestFinal_ex(h->ctx, out, NULL))
		return -EIO;
	return 0;
}

static int node(struct hasher *h, const uint8_t l[MERKLE_HASH_LEN],
		const uint8_t r[MERKLE_HASH_LEN], uint8_t out[MERKLE_HASH_LEN])
{
	return hash_parts(h, 0x01, l, MERKLE_HASH_LEN, r, MERKLE_HASH_LEN, out);
}

static int empty_root(uint8_t out[MERKLE_HASH_LEN])
{
	pthread_once(&sha256_once, sha256_fetch);
	if (!sha256_md || !EVP_Digest("", 0, out, NULL, sha256_md, NULL))
		return -EIO;
	return 0;
}

int merkle_leaf_hash(const void *data, size_t len, uint8_t out[MERKLE_HASH_LEN])
{
	struct hasher h;
	int rc;

	if (!data && len)
		return -EINVAL;
	rc = hasher_init(&h);
	if (rc)
		return rc;
	rc = hash_parts(&h, 0x00, data, len, NULL, 0, out);
	hasher_fini(&h);
	return rc;
}

int merkle_node_hash(const uint8_t l[MERKLE_HASH_LEN], const uint8_t r[MERKLE_HASH_LEN],
		     uint8_t out[MERKLE_HASH_LEN])
{
	struct hasher h;
	int rc;

	rc = hasher_init(&h);
	if (rc)
		return rc;
	rc = node(&h, l, r, out);
	hasher_fini(&h);
	return rc;
}

static int array_get_leaf(void *ctx, uint64_t index, uint8_t out[MERKLE_HASH_LEN])
{
	const struct merkle_array *arr = ctx;

	if (index >= arr->n)
		return -ERANGE;
	memcpy(out, arr->hashes[index], MERKLE_HASH_LEN);
	return 0;
}

void merkle_array_src(struct merkle_src *src, struct merkle_array *arr)
{
	src->get_leaf = array_get_leaf;
	src->get_node = NULL;
	src->ctx = arr;
}

struct walk {
	const struct merkle_src *src;
	struct hasher h;
};

/* Hash of the perfect subtree of 2^level leaves starting at idx << level. */
static int perfect(struct walk *w, unsigned level, uint64_t idx, uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t l[MERKLE_HASH_LEN], r[MERKLE_HASH_LEN];
	int rc;

	if (level == 0)
		return w->src->get_leaf(w->src->ctx, idx, out);
	if (w->src->get_node) {
		rc = w->src->get_node(w->src->ctx, level, idx, out);
		if (rc != -ENOENT)
			return rc;
	}
	rc = perfect(w, level - 1, idx << 1, l);
	if (!rc)
		rc = perfect(w, level - 1, (idx << 1) | 1, r);
	if (!rc)
		rc = node(&w->h, l, r, out);
	return rc;
}

/* MTH(D[b:b+n]) for n >= 1, where b is a multiple of the largest power of
 * two <= n (true of every subtree RFC 9162's recursions visit). The tree is
 * the right fold of its perfect subtrees, largest first (§2.1.1). */
static int range_root(struct walk *w, uint64_t b, uint64_t n, uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t parts[64][MERKLE_HASH_LEN];
	unsigned k = 0;
	int rc;

	for (int level = 63; level >= 0; level--) {
		if (!(n >> level & 1))
			continue;
		rc = perfect(w, (unsigned)level, b >> level, parts[k++]);
		if (rc)
			return rc;
		b += (uint64_t)1 << level;
	}
	memcpy(out, parts[k - 1], MERKLE_HASH_LEN);
	while (--k > 0) {
		rc = node(&w->h, parts[k - 1], out, out);
		if (rc)
			return rc;
	}
	return 0;
}

static int walk_init(struct walk *w, const struct merkle_src *src)
{
	if (!src || !src->get_leaf)
		return -EINVAL;
	w->src = src;
	return hasher_init(&w->h);
}

int merkle_root(const struct merkle_src *src, uint64_t n, uint8_t out[MERKLE_HASH_LEN])
{
	struct walk w;
	int rc;

	if (n == 0)
		return empty_root(out);
	rc = walk_init(&w, src);
	if (rc)
		return rc;
	rc = range_root(&w, 0, n, out);
	hasher_fini(&w.h);
	return rc;
}

void merkle_tree_init(struct merkle_tree *t)
{
	memset(t, 0, sizeof(*t));
}

int merkle_tree_load(struct merkle_tree *t, const struct merkle_src *src, uint64_t n)
{
	struct walk w;
	uint64_t b = 0;
	int rc;

	merkle_tree_init(t);
	if (n == 0)
		return 0;
	rc = walk_init(&w, src);
	if (rc)
		return rc;
	for (int level = 63; level >= 0; level--) {
		if (!(n >> level & 1))
			continue;
		rc = perfect(&w, (unsigned)level, b >> level, t->frontier[level]);
		if (rc)
			break;
		b += (uint64_t)1 << level;
	}
	hasher_fini(&w.h);
	if (rc) {
		merkle_tree_init(t);
		return rc;
	}
	t->size = n;
	return 0;
}

int merkle_tree_append(struct merkle_tree *t, const uint8_t leaf_hash[MERKLE_HASH_LEN])
{
	uint8_t acc[MERKLE_HASH_LEN];
	struct hasher h;
	unsigned level = 0;
	int rc;

	if (t->size == UINT64_MAX)
		return -EOVERFLOW;
	rc = hasher_init(&h);
	if (rc)
		return rc;
	memcpy(acc, leaf_hash, MERKLE_HASH_LEN);
	/* Binary carry: each set low bit is a finished subtree to merge. */
	while (t->size >> level & 1) {
		rc = node(&h, t->frontier[level], acc, acc);
		if (rc)
			goto out;
		level++;
	}
	memcpy(t->frontier[level], acc, MERKLE_HASH_LEN);
	t->size++;
out:
	hasher_fini(&h);
	return rc;
}

int merkle_tree_root(const struct merkle_tree *t, uint8_t out[MERKLE_HASH_LEN])
{
	struct hasher h;
	unsigned level;
	int rc;

	if (t->size == 0)
		return empty_root(out);
	rc = hasher_init(&h);
	if (rc)
		return rc;
	level = (unsigned)__builtin_ctzll(t->size);
	memcpy(out, t->frontier[level], MERKLE_HASH_LEN);
	for (level++; level < 64; level++) {
		if (!(t->size >> level & 1))
			continue;
		rc = node(&h, t->frontier[level], out, out);
		if (rc)
			break;
	}
	hasher_fini(&h);
	return rc;
}

/* Largest power of two strictly less than n, n >= 2 (RFC 9162 §2.1.1 k). */
static uint64_t split_point(uint64_t n)
{
	return (uint64_t)1 << (63 - __builtin_clzll(n - 1));
}

struct proof_out {
	uint8_t (*p)[MERKLE_HASH_LEN];
	size_t len;
};

static int emit_range(struct walk *w, struct proof_out *o, uint64_t b, uint64_t n)
{
	if (o->len >= MERKLE_MAX_PROOF)
		return -EOVERFLOW;
	return range_root(w, b, n, o->p[o->len++]);
}

/* §2.1.3.1 PATH(m, D[b:b+n]); siblings are emitted leaf-side first. */
static int path(struct walk *w, struct proof_out *o, uint64_t m, uint64_t b, uint64_t n)
{
	uint64_t k;
	int rc;

	if (n == 1)
		return 0;
	k = split_point(n);
	if (m < k) {
		rc = path(w, o, m, b, k);
		return rc ? rc : emit_range(w, o, b + k, n - k);
	}
	rc = path(w, o, m - k, b + k, n - k);
	return rc ? rc : emit_range(w, o, b, k);
}

int merkle_inclusion_proof(const struct merkle_src *src, uint64_t index, uint64_t size,
			   uint8_t proof[][MERKLE_HASH_LEN], size_t *len)
{
	struct proof_out o = { .p = proof, .len = 0 };
	struct walk w;
	int rc;

	*len = 0;
	if (index >= size)
		return -EINVAL;
	rc = walk_init(&w, src);
	if (rc)
		return rc;
	rc = path(&w, &o, index, 0, size);
	hasher_fini(&w.h);
	if (!rc)
		*len = o.len;
	return rc;
}

/* §2.1.4.1 SUBPROOF(m, D[b:b+n], start). */
static int subproof(struct walk *w, struct proof_out *o, uint64_t m, uint64_t b, uint64_t n,
		    int start)
{
	uint64_t k;
	int rc;

	if (m == n)
		return start ? 0 : emit_range(w, o, b, n);
	k = split_point(n);
	if (m <= k) {
		rc = subproof(w, o, m, b, k, start);
		return rc ? rc : emit_range(w, o, b + k, n - k);
	}
	rc = subproof(w, o, m - k, b + k, n - k, 0);
	return rc ? rc : emit_range(w, o, b, k);
}

int merkle_consistency_proof(const struct merkle_src *src, uint64_t size1, uint64_t size2,
			     uint8_t proof[][MERKLE_HASH_LEN], size_t *len)
{
	struct proof_out o = { .p = proof, .len = 0 };
	struct walk w;
	int rc;

	*len = 0;
	if (size1 > size2)
		return -EINVAL;
	if (size1 == 0 || size1 == size2)
		return 0;
	rc = walk_init(&w, src);
	if (rc)
		return rc;
	rc = subproof(&w, &o, size1, 0, size2, 1);
	hasher_fini(&w.h);
	if (!rc)
		*len = o.len;
	return rc;
}

static int hash_eq(const uint8_t a[MERKLE_HASH_LEN], const uint8_t b[MERKLE_HASH_LEN])
{
	return CRYPTO_memcmp(a, b, MERKLE_HASH_LEN) == 0;
}

int merkle_verify_inclusion(uint64_t index, uint64_t size,
			    const uint8_t leaf_hash[MERKLE_HASH_LEN],
			    const uint8_t proof[][MERKLE_HASH_LEN], size_t len,
			    const uint8_t root[MERKLE_HASH_LEN])
{
	uint8_t r[MERKLE_HASH_LEN];
	uint64_t fn, sn;
	struct hasher h;
	int rc;

	if (index >= size || len > MERKLE_MAX_PROOF || (len && !proof))
		return -EBADMSG;
	rc = hasher_init(&h);
	if (rc)
		return rc;
	fn = index;
	sn = size - 1;
	memcpy(r, leaf_hash, MERKLE_HASH_LEN);
	for (size_t i = 0; i < len; i++) {
		if (sn == 0) {
			rc = -EBADMSG; /* more hashes than the tree has levels */
			goto out;
		}
		if ((fn & 1) || fn == sn) {
			rc = node(&h, proof[i], r, r);
			if (!(fn & 1))
				while (fn && !(fn & 1)) {
					fn >>= 1;
					sn >>= 1;
				}
		} else {
			rc = node(&h, r, proof[i], r);
		}
		if (rc)
			goto out;
		fn >>= 1;
		sn >>= 1;
	}
	rc = (sn == 0 && hash_eq(r, root)) ? 0 : -EBADMSG;
out:
	hasher_fini(&h);
	return rc;
}

int merkle_verify_consistency(uint64_t size1, uint64_t size2,
			      const uint8_t root1[MERKLE_HASH_LEN],
			      const uint8_t root2[MERKLE_HASH_LEN],
			      const uint8_t proof[][MERKLE_HASH_LEN], size_t len)
{
	uint8_t fr[MERKLE_HASH_LEN], sr[MERKLE_HASH_LEN];
	uint64_t fn, sn;
	struct hasher h;
	size_t i = 0;
	int rc;

	if (size1 > size2 || len > MERKLE_MAX_PROOF || (len && !proof))
		return -EBADMSG;
	if (size1 == size2)
		return (len == 0 && hash_eq(root1, root2)) ? 0 : -EBADMSG;
	if (size1 == 0)
		return len == 0 ? 0 : -EBADMSG;
	/* §2.1.4.2 step 1 */
	if (len == 0)
		return -EBADMSG;
	rc = hasher_init(&h);
	if (rc)
		return rc;
	/* Step 2: a power-of-two first tree is itself a node of the second
	 * tree, so the proof omits it and it is prepended here. */
	if ((size1 & (size1 - 1)) == 0) {
		memcpy(fr, root1, MERKLE_HASH_LEN);
	} else {
		memcpy(fr, proof[0], MERKLE_HASH_LEN);
		i = 1;
	}
	memcpy(sr, fr, MERKLE_HASH_LEN);
	fn = size1 - 1;
	sn = size2 - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < len; i++) {
		if (sn == 0) {
			rc = -EBADMSG;
			goto out;
		}
		if ((fn & 1) || fn == sn) {
			rc = node(&h, proof[i], fr, fr);
			if (!rc)
				rc = node(&h, proof[i], sr, sr);
			if (!(fn & 1))
				while (fn && !(fn & 1)) {
					fn >>= 1;
					sn >>= 1;
				}
		} else {
			rc = node(&h, sr, proof[i], sr);
		}
		if (rc)
			goto out;
		fn >>= 1;
		sn >>= 1;
	}
	rc = (sn == 0 && hash_eq(fr, root1) && hash_eq(sr, root2)) ? 0 : -EBADMSG;
out:
	hasher_fini(&h);
	return rc;
}
