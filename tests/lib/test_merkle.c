/* test_merkle: RFC 6962 Merkle tree hashing and proofs against the
 * Certificate Transparency test data, a naive reference recursion, and
 * tampered proofs that must be rejected. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "merkle.h"

#define H MERKLE_HASH_LEN

static void unhex(const char *s, uint8_t *out, size_t len)
{
	assert_int_equal(strlen(s), 2 * len);
	for (size_t i = 0; i < len; i++) {
		unsigned v;
		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static void hash_hex(const char *s, uint8_t out[H])
{
	unhex(s, out, H);
}

/* Test data: the 8 leaf inputs, complete-subtree hashes and roots of
 * Certificate Transparency's merkle_tree_test.cc as carried by
 * transparency-dev/merkle testonly/constants.go; proofs from
 * transparency-dev/merkle proof/verify_test.go (leaf indices there are
 * 1-based; here 0-based). */
static const char *const leaf_inputs[8] = {
	"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
	"606162636465666768696a6b6c6d6e6f",
};
static const char *const leaf_hashes_hex[8] = {
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
	"0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
	"07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
	"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
	"4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
	"b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
	"46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
};
static const char *const roots_hex[9] = {
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

struct proof_vec {
	uint64_t a, b; /* inclusion: leaf index, size; consistency: size1, size2 */
	size_t n;
	const char *p[3];
};

static const struct proof_vec inclusion_vecs[] = {
	{ 0, 1, 0, { NULL } },
	{ 0, 8, 3, { "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
		     "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		     "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4" } },
	{ 5, 8, 3, { "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
		     "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
		     "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" } },
	{ 2, 3, 1, { "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125" } },
	{ 1, 5, 3, { "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
		     "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		     "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b" } },
};

static const struct proof_vec consistency_vecs[] = {
	{ 1, 1, 0, { NULL } },
	{ 1, 8, 3, { "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
		     "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		     "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4" } },
	{ 6, 8, 3, { "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
		     "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
		     "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" } },
	{ 2, 5, 2, { "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		     "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b" } },
	{ 6, 7, 3, { "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
		     "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
		     "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7" } },
};

static uint8_t ct_leaves[8][H];
static uint8_t ct_roots[9][H];
static struct merkle_array ct_arr;
static struct merkle_src ct_src;

static int setup_ct(void **state)
{
	for (int i = 0; i < 8; i++) {
		uint8_t in[16];
		size_t n = strlen(leaf_inputs[i]) / 2;

		unhex(leaf_inputs[i], in, n);
		if (merkle_leaf_hash(in, n, ct_leaves[i]))
			return -1;
	}
	for (int i = 0; i < 9; i++)
		hash_hex(roots_hex[i], ct_roots[i]);
	ct_arr.hashes = (const uint8_t(*)[H])ct_leaves;
	ct_arr.n = 8;
	merkle_array_src(&ct_src, &ct_arr);
	return 0;
}

static void test_leaf_hashes(void **state)
{
	uint8_t want[H];

	for (int i = 0; i < 8; i++) {
		hash_hex(leaf_hashes_hex[i], want);
		assert_memory_equal(ct_leaves[i], want, H);
	}
}

static void test_roots(void **state)
{
	struct merkle_tree t;
	uint8_t got[H];

	merkle_tree_init(&t);
	for (uint64_t n = 0; n <= 8; n++) {
		assert_int_equal(merkle_root(&ct_src, n, got), 0);
		assert_memory_equal(got, ct_roots[n], H);
		assert_int_equal(merkle_tree_root(&t, got), 0);
		assert_memory_equal(got, ct_roots[n], H);
		if (n < 8)
			assert_int_equal(merkle_tree_append(&t, ct_leaves[n]), 0);
	}
	for (uint64_t n = 0; n <= 8; n++) {
		assert_int_equal(merkle_tree_load(&t, &ct_src, n), 0);
		assert_int_equal(merkle_tree_root(&t, got), 0);
		assert_memory_equal(got, ct_roots[n], H);
	}
	/* Reading past the source is an error, not a made-up root. */
	assert_int_equal(merkle_root(&ct_src, 9, got), -ERANGE);
}

static void load_proof(const struct proof_vec *v, uint8_t p[][H])
{
	for (size_t i = 0; i < v->n; i++)
		hash_hex(v->p[i], p[i]);
}

/* Every mutation of a valid inclusion proof must fail (the probes of
 * transparency-dev/merkle corruptInclusionProof). */
static void check_inclusion_tampering(uint64_t idx, uint64_t size, const uint8_t leaf[H],
				      const uint8_t proof[][H], size_t n, const uint8_t root[H])
{
	uint8_t p[MERKLE_MAX_PROOF + 1][H], other[H];

	assert_int_equal(merkle_verify_inclusion(idx, size, leaf, proof, n, root), 0);
	if (idx > 0)
		assert_int_equal(merkle_verify_inclusion(idx - 1, size, leaf, proof, n, root), -EBADMSG);
	assert_int_equal(merkle_verify_inclusion(idx + 1, size, leaf, proof, n, root), -EBADMSG);
	assert_int_equal(merkle_verify_inclusion(idx ^ 2, size, leaf, proof, n, root), -EBADMSG);
	assert_int_equal(merkle_verify_inclusion(idx, size * 2, leaf, proof, n, root), -EBADMSG);
	assert_int_equal(merkle_verify_inclusion(idx, size / 2, leaf, proof, n, root), -EBADMSG);
	memcpy(other, leaf, H);
	other[31] ^= 1;
	assert_int_equal(merkle_verify_inclusion(idx, size, other, proof, n, root), -EBADMSG);
	assert_int_equal(merkle_verify_inclusion(idx, size, leaf, proof, n, other), -EBADMSG);
	hash_hex(roots_hex[0], other);
	assert_int_equal(merkle_verify_inclusion(idx, size, leaf, proof, n, other), -EBADMSG);

	/* trailing root, preceding root */
	memcpy(p, proof, n * H);
	memcpy(p[n], root, H);
	assert_int_equal(merkle_verify_inclusion(idx, size, leaf, (const uint8_t(*)[H])p, n + 1, root),
			 -EBADMSG);
	memcpy(p[0], root, H);
	memcpy(p[1], proof, n * H);
	assert_int_equal(merkle_verify_inclusion(idx, size, leaf, (const uint8_t(*)[H])p, n + 1, root),
			 -EBADMSG);
	/* single bit flips */
	for (size_t i = 0; i < n; i++) {
		memcpy(p, proof, n * H);
		p[i][0] ^= 8;
		assert_int_equal(merkle_verify_inclusion(idx, size, leaf, (const uint8_t(*)[H])p, n, root),
				 -EBADMSG);
	}
	/* removed and inserted components */
	if (n > 0)
		assert_int_equal(merkle_verify_inclusion(idx, size, leaf, proof, n - 1, root), -EBADMSG);
	if (n > 1) {
		memcpy(p[0], proof[0], H);
		memset(p[1], 0xab, H);
		memcpy(p[2], proof[1], (n - 1) * H);
		assert_int_equal(merkle_verify_inclusion(idx, size, leaf, (const uint8_t(*)[H])p, n + 1, root),
				 -EBADMSG);
	}
}

static void test_inclusion_vectors(void **state)
{
	uint8_t want[3][H], got[MERKLE_MAX_PROOF][H];
	size_t n;

	for (size_t v = 0; v < sizeof(inclusion_vecs) / sizeof(inclusion_vecs[0]); v++) {
		const struct proof_vec *iv = &inclusion_vecs[v];

		load_proof(iv, want);
		assert_int_equal(merkle_inclusion_proof(&ct_src, iv->a, iv->b, got, &n), 0);
		assert_int_equal(n, iv->n);
		if (n)
			assert_memory_equal(got, want, n * H);
		check_inclusion_tampering(iv->a, iv->b, ct_leaves[iv->a], (const uint8_t(*)[H])want,
					  iv->n, ct_roots[iv->b]);
	}
	/* index >= size: no proof can exist */
	assert_int_equal(merkle_inclusion_proof(&ct_src, 8, 8, got, &n), -EINVAL);
	assert_int_equal(merkle_inclusion_proof(&ct_src, 0, 0, got, &n), -EINVAL);
	assert_int_equal(merkle_verify_inclusion(0, 0, ct_leaves[0], NULL, 0, ct_roots[0]), -EBADMSG);
	assert_int_equal(merkle_verify_inclusion(1, 1, ct_leaves[0], NULL, 0, ct_roots[1]), -EBADMSG);
}

static void check_consistency_tampering(uint64_t s1, uint64_t s2, const uint8_t r1[H],
					const uint8_t r2[H], const uint8_t proof[][H], size_t n)
{
	uint8_t p[MERKLE_MAX_PROOF + 1][H], wrong[H];
	const uint8_t(*cp)[H] = (const uint8_t(*)[H])p;

	assert_int_equal(merkle_verify_consistency(s1, s2, r1, r2, proof, n), 0);
	if (n == 0)
		return;
	assert_int_equal(merkle_verify_consistency(s1 - 1, s2, r1, r2, proof, n), -EBADMSG);
	assert_int_equal(merkle_verify_consistency(s1 + 1, s2, r1, r2, proof, n), -EBADMSG);
	assert_int_equal(merkle_verify_consistency(s1 ^ 2, s2, r1, r2, proof, n), -EBADMSG);
	assert_int_equal(merkle_verify_consistency(s1, s2 * 2, r1, r2, proof, n), -EBADMSG);
	assert_int_equal(merkle_verify_consistency(s1, s2 / 2, r1, r2, proof, n), -EBADMSG);
	memset(wrong, 0x5a, H);
	assert_int_equal(merkle_verify_consistency(s1, s2, wrong, r2, proof, n), -EBADMSG);
	assert_int_equal(merkle_verify_consistency(s1, s2, r1, wrong, proof, n), -EBADMSG);
	assert_int_equal(merkle_verify_consistency(s1, s2, r2, r1, proof, n), -EBADMSG);
	assert_int_equal(merkle_verify_consistency(s1, s2, r1, r2, proof, 0), -EBADMSG);
	assert_int_equal(merkle_verify_consistency(s1, s2, r1, r2, proof, n - 1), -EBADMSG);
	const uint8_t *extra[] = { r1, r2, wrong };
	for (size_t e = 0; e < 3; e++) {
		memcpy(p, proof, n * H);
		memcpy(p[n], extra[e], H);
		assert_int_equal(merkle_verify_consistency(s1, s2, r1, r2, cp, n + 1), -EBADMSG);
		memcpy(p[0], extra[e], H);
		memcpy(p[1], proof, n * H);
		assert_int_equal(merkle_verify_consistency(s1, s2, r1, r2, cp, n + 1), -EBADMSG);
	}
	memcpy(p[0], proof[0], H);
	memcpy(p[1], proof, n * H);
	assert_int_equal(merkle_verify_consistency(s1, s2, r1, r2, cp, n + 1), -EBADMSG);
	for (size_t i = 0; i < n; i++) {
		memcpy(p, proof, n * H);
		p[i][0] ^= 16;
		assert_int_equal(merkle_verify_consistency(s1, s2, r1, r2, cp, n), -EBADMSG);
	}
}

static void test_consistency_vectors(void **state)
{
	uint8_t want[3][H], got[MERKLE_MAX_PROOF][H];
	size_t n;

	for (size_t v = 0; v < sizeof(consistency_vecs) / sizeof(consistency_vecs[0]); v++) {
		const struct proof_vec *cv = &consistency_vecs[v];

		load_proof(cv, want);
		assert_int_equal(merkle_consistency_proof(&ct_src, cv->a, cv->b, got, &n), 0);
		assert_int_equal(n, cv->n);
		if (n)
			assert_memory_equal(got, want, n * H);
		check_consistency_tampering(cv->a, cv->b, ct_roots[cv->a], ct_roots[cv->b],
					    (const uint8_t(*)[H])want, cv->n);
	}
	assert_int_equal(merkle_consistency_proof(&ct_src, 5, 4, got, &n), -EINVAL);
}

/* The trivial cases of transparency-dev/merkle TestVerifyConsistency. */
static void test_consistency_trivial(void **state)
{
	uint8_t a[H], b[H], empty[H], one[1][H];

	memset(a, 1, H);
	memset(b, 2, H);
	hash_hex(roots_hex[0], empty);
	memcpy(one[0], empty, H);
	const uint8_t(*p1)[H] = (const uint8_t(*)[H])one;

	assert_int_equal(merkle_verify_consistency(0, 0, a, b, NULL, 0), -EBADMSG);
	assert_int_equal(merkle_verify_consistency(1, 1, a, b, NULL, 0), -EBADMSG);
	assert_int_equal(merkle_verify_consistency(0, 0, a, a, NULL, 0), 0);
	assert_int_equal(merkle_verify_consistency(0, 1, a, b, NULL, 0), 0);
	assert_int_equal(merkle_verify_consistency(1, 1, b, b, NULL, 0), 0);
	assert_int_equal(merkle_verify_consistency(1, 0, a, b, NULL, 0), -EBADMSG);
	assert_int_equal(merkle_verify_consistency(2, 1, a, b, NULL, 0), -EBADMSG);
	assert_int_equal(merkle_verify_consistency(1, 2, a, b, NULL, 0), -EBADMSG);
	assert_int_equal(merkle_verify_consistency(0, 0, empty, b, NULL, 0), -EBADMSG);
	assert_int_equal(merkle_verify_consistency(1, 1, empty, b, NULL, 0), -EBADMSG);
	assert_int_equal(merkle_verify_consistency(0, 0, empty, empty, p1, 1), -EBADMSG);
	assert_int_equal(merkle_verify_consistency(0, 1, empty, empty, p1, 1), -EBADMSG);
	assert_int_equal(merkle_verify_consistency(1, 1, empty, empty, p1, 1), -EBADMSG);
}

/* Reference MTH straight from RFC 9162 §2.1.1, no shared code path. */
static void ref_mth(const uint8_t (*leaves)[H], uint64_t n, uint8_t out[H])
{
	uint8_t l[H], r[H];
	uint64_t k = 1;

	if (n == 1) {
		memcpy(out, leaves[0], H);
		return;
	}
	while (k * 2 < n)
		k *= 2;
	ref_mth(leaves, k, l);
	ref_mth(leaves + k, n - k, r);
	assert_int_equal(merkle_node_hash(l, r, out), 0);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void test_randomized(void **state)
{
	enum { N = 130 };
	static uint8_t leaves[N][H];
	static uint8_t roots[N + 1][H];
	uint8_t p[MERKLE_MAX_PROOF][H], got[H];
	struct merkle_array arr = { .hashes = (const uint8_t(*)[H])leaves, .n = N };
	struct merkle_src src;
	struct merkle_tree t;
	size_t n;

	merkle_array_src(&src, &arr);
	merkle_tree_init(&t);
	for (uint64_t i = 0; i < N; i++) {
		uint64_t x = rnd();
		assert_int_equal(merkle_leaf_hash(&x, sizeof(x), leaves[i]), 0);
	}
	assert_int_equal(merkle_root(&src, 0, roots[0]), 0);
	for (uint64_t s = 1; s <= N; s++) {
		ref_mth((const uint8_t(*)[H])leaves, s, roots[s]);
		assert_int_equal(merkle_root(&src, s, got), 0);
		assert_memory_equal(got, roots[s], H);
		assert_int_equal(merkle_tree_append(&t, leaves[s - 1]), 0);
		assert_int_equal(merkle_tree_root(&t, got), 0);
		assert_memory_equal(got, roots[s], H);
	}
	/* Every inclusion proof of every size verifies, and only for its leaf. */
	for (uint64_t s = 1; s <= N; s++) {
		for (uint64_t i = 0; i < s; i++) {
			assert_int_equal(merkle_inclusion_proof(&src, i, s, p, &n), 0);
			assert_int_equal(merkle_verify_inclusion(i, s, leaves[i], (const uint8_t(*)[H])p,
								 n, roots[s]), 0);
			assert_int_equal(merkle_verify_inclusion(i, s, leaves[(i + 1) % N],
								 (const uint8_t(*)[H])p, n, roots[s]),
					 -EBADMSG);
			if (n) {
				p[rnd() % n][rnd() % H] ^= (uint8_t)(1u << (rnd() % 8));
				assert_int_equal(merkle_verify_inclusion(i, s, leaves[i],
									 (const uint8_t(*)[H])p, n,
									 roots[s]), -EBADMSG);
			}
		}
	}
	/* Every consistency proof between every pair of sizes. */
	for (uint64_t s2 = 0; s2 <= N; s2++) {
		for (uint64_t s1 = 0; s1 <= s2; s1++) {
			assert_int_equal(merkle_consistency_proof(&src, s1, s2, p, &n), 0);
			assert_int_equal(merkle_verify_consistency(s1, s2, roots[s1], roots[s2],
								   (const uint8_t(*)[H])p, n), 0);
			if (s1 == 0)
				continue;
			if (s2 < N)
				assert_int_equal(merkle_verify_consistency(s1, s2 + 1, roots[s1],
									   roots[s2 + 1],
									   (const uint8_t(*)[H])p, n),
						 -EBADMSG);
			if (s1 > 1 && s1 < s2)
				assert_int_equal(merkle_verify_consistency(s1 - 1, s2, roots[s1 - 1],
									   roots[s2],
									   (const uint8_t(*)[H])p, n),
						 -EBADMSG);
			if (n) {
				p[rnd() % n][rnd() % H] ^= 0x40;
				assert_int_equal(merkle_verify_consistency(s1, s2, roots[s1], roots[s2],
									   (const uint8_t(*)[H])p, n),
						 -EBADMSG);
			}
		}
	}
}

/* A store that keeps every 2^4-leaf subtree answers get_node; proofs and
 * roots must not change, and far fewer leaves are read. */
struct cached {
	struct merkle_array arr;
	uint8_t (*nodes)[H];
	uint64_t leaf_reads;
};

static int cached_leaf(void *ctx, uint64_t index, uint8_t out[H])
{
	struct cached *c = ctx;

	c->leaf_reads++;
	if (index >= c->arr.n)
		return -ERANGE;
	memcpy(out, c->arr.hashes[index], H);
	return 0;
}

static int cached_node(void *ctx, unsigned level, uint64_t index, uint8_t out[H])
{
	struct cached *c = ctx;

	if (level != 4 || ((index + 1) << 4) > c->arr.n)
		return -ENOENT;
	memcpy(out, c->nodes[index], H);
	return 0;
}

static void test_subtree_cache(void **state)
{
	enum { N = 1000 };
	static uint8_t leaves[N][H];
	static uint8_t nodes[N / 16][H];
	struct cached c = { .arr = { (const uint8_t(*)[H])leaves, N }, .nodes = nodes };
	struct merkle_src plain, fast = { cached_leaf, cached_node, &c };
	uint8_t a[MERKLE_MAX_PROOF][H], b[MERKLE_MAX_PROOF][H], ra[H], rb[H];
	size_t na, nb;

	merkle_array_src(&plain, &c.arr);
	for (uint64_t i = 0; i < N; i++)
		assert_int_equal(merkle_leaf_hash(&i, sizeof(i), leaves[i]), 0);
	for (uint64_t i = 0; i < N / 16; i++) {
		struct merkle_array sub = { (const uint8_t(*)[H])leaves[i * 16], 16 };
		struct merkle_src s;

		merkle_array_src(&s, &sub);
		assert_int_equal(merkle_root(&s, 16, nodes[i]), 0);
	}
	assert_int_equal(merkle_root(&plain, N, ra), 0);
	assert_int_equal(merkle_root(&fast, N, rb), 0);
	assert_memory_equal(ra, rb, H);
	assert_true(c.leaf_reads < N / 8);

	c.leaf_reads = 0;
	assert_int_equal(merkle_inclusion_proof(&plain, 517, N, a, &na), 0);
	assert_int_equal(merkle_inclusion_proof(&fast, 517, N, b, &nb), 0);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na * H);
	assert_true(c.leaf_reads < 100);

	assert_int_equal(merkle_consistency_proof(&plain, 333, N, a, &na), 0);
	assert_int_equal(merkle_consistency_proof(&fast, 333, N, b, &nb), 0);
	assert_int_equal(na, nb);
	assert_memory_equal(a, b, na * H);
}

static int failing_leaf(void *ctx, uint64_t index, uint8_t out[H])
{
	return index == 5 ? -EIO : (memset(out, 0, H), 0);
}

static void test_source_errors(void **state)
{
	struct merkle_src src = { failing_leaf, NULL, NULL };
	struct merkle_tree t;
	uint8_t p[MERKLE_MAX_PROOF][H], r[H];
	size_t n;

	assert_int_equal(merkle_root(&src, 8, r), -EIO);
	assert_int_equal(merkle_root(&src, 5, r), 0);
	assert_int_equal(merkle_inclusion_proof(&src, 0, 8, p, &n), -EIO);
	assert_int_equal(merkle_consistency_proof(&src, 3, 8, p, &n), -EIO);
	assert_int_equal(merkle_tree_load(&t, &src, 8), -EIO);
	assert_int_equal(t.size, 0);
}

/* A million-leaf log: the incremental tree and the source-walk agree, and
 * it finishes in well under the test timeout (O(n) hashing). */
static void test_million(void **state)
{
	const uint64_t n = 1u << 20 | 12345;
	uint8_t (*leaves)[H] = malloc(n * H);
	struct merkle_array arr = { (const uint8_t(*)[H])leaves, n };
	uint8_t p[MERKLE_MAX_PROOF][H], r1[H], r2[H], rs[H];
	struct merkle_src src;
	struct merkle_tree t;
	size_t np;

	assert_non_null(leaves);
	merkle_array_src(&src, &arr);
	merkle_tree_init(&t);
	for (uint64_t i = 0; i < n; i++) {
		memset(leaves[i], 0, H);
		memcpy(leaves[i], &i, sizeof(i));
		assert_int_equal(merkle_tree_append(&t, leaves[i]), 0);
	}
	assert_int_equal(merkle_tree_root(&t, r1), 0);
	assert_int_equal(merkle_root(&src, n, r2), 0);
	assert_memory_equal(r1, r2, H);
	assert_int_equal(merkle_inclusion_proof(&src, n - 7, n, p, &np), 0);
	assert_int_equal(merkle_verify_inclusion(n - 7, n, leaves[n - 7], (const uint8_t(*)[H])p, np, r1), 0);
	assert_int_equal(merkle_root(&src, 999999, rs), 0);
	assert_int_equal(merkle_consistency_proof(&src, 999999, n, p, &np), 0);
	assert_int_equal(merkle_verify_consistency(999999, n, rs, r1, (const uint8_t(*)[H])p, np), 0);
	free(leaves);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leaf_hashes),
		cmocka_unit_test(test_roots),
		cmocka_unit_test(test_inclusion_vectors),
		cmocka_unit_test(test_consistency_vectors),
		cmocka_unit_test(test_consistency_trivial),
		cmocka_unit_test(test_randomized),
		cmocka_unit_test(test_subtree_cache),
		cmocka_unit_test(test_source_errors),
		cmocka_unit_test(test_million),
	};

	return cmocka_run_group_tests(tests, setup_ct, NULL);
}
