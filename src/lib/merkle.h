/* merkle: RFC 6962 / RFC 9162 §2.1 Merkle tree hashing for the audit log —
 * tree heads, inclusion and consistency proofs (generation and verification)
 * over leaf hashes read through a storage-agnostic source. */
#ifndef WARD_MERKLE_H
#define WARD_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define MERKLE_HASH_LEN 32
/* A proof for a tree of at most 2^64 - 1 leaves has at most 64 hashes
 * (consistency proofs may need one more for the prepended first root). */
#define MERKLE_MAX_PROOF 65

/* Where leaf hashes come from. get_leaf is mandatory. get_node is optional:
 * it returns the hash of the perfect subtree of 2^level leaves that starts at
 * leaf index << level, or -ENOENT when it is not stored; a store that keeps
 * some levels (say every 2^8-leaf subtree) makes proofs over large logs
 * cheap. Both return 0 or a negative errno, which is passed up unchanged. */
struct merkle_src {
	int (*get_leaf)(void *ctx, uint64_t index, uint8_t out[MERKLE_HASH_LEN]);
	int (*get_node)(void *ctx, unsigned level, uint64_t index,
			uint8_t out[MERKLE_HASH_LEN]);
	void *ctx;
};

/* A source over an in-memory array of n leaf hashes (tests, small logs).
 * get_leaf returns -ERANGE past the end. */
struct merkle_array {
	const uint8_t (*hashes)[MERKLE_HASH_LEN];
	uint64_t n;
};
void merkle_array_src(struct merkle_src *src, struct merkle_array *arr);

/* RFC 9162 §2.1.1: SHA-256(0x00 || data) and SHA-256(0x01 || l || r). */
int merkle_leaf_hash(const void *data, size_t len, uint8_t out[MERKLE_HASH_LEN]);
int merkle_node_hash(const uint8_t l[MERKLE_HASH_LEN], const uint8_t r[MERKLE_HASH_LEN],
		     uint8_t out[MERKLE_HASH_LEN]);

/* MTH(D[0:n]); for n == 0 this is SHA-256 of the empty string. O(n) leaf
 * reads at worst, fewer when get_node answers. */
int merkle_root(const struct merkle_src *src, uint64_t n, uint8_t out[MERKLE_HASH_LEN]);

/* Incremental tree: the compact range [0, size) — one perfect subtree hash
 * per set bit of size. Appending is O(log n) amortised, the root O(log n).
 * This is what the audit log keeps in memory while it appends. */
struct merkle_tree {
	uint64_t size;
	uint8_t frontier[64][MERKLE_HASH_LEN]; /* [level], valid if bit set */
};
void merkle_tree_init(struct merkle_tree *t);
/* Rebuild the frontier of the first n leaves of src (on start-up). */
int merkle_tree_load(struct merkle_tree *t, const struct merkle_src *src, uint64_t n);
int merkle_tree_append(struct merkle_tree *t, const uint8_t leaf_hash[MERKLE_HASH_LEN]);
int merkle_tree_root(const struct merkle_tree *t, uint8_t out[MERKLE_HASH_LEN]);

/* RFC 9162 §2.1.3.1 PATH(index, D[0:size]). proof must hold
 * MERKLE_MAX_PROOF hashes; *len receives the count. -EINVAL unless
 * index < size. */
int merkle_inclusion_proof(const struct merkle_src *src, uint64_t index, uint64_t size,
			   uint8_t proof[][MERKLE_HASH_LEN], size_t *len);

/* RFC 9162 §2.1.3.2. 0 when the proof shows leaf_hash at index in the tree
 * of `size` leaves with root `root`; -EBADMSG when it does not (wrong
 * proof, index, size, leaf or root). */
int merkle_verify_inclusion(uint64_t index, uint64_t size,
			    const uint8_t leaf_hash[MERKLE_HASH_LEN],
			    const uint8_t proof[][MERKLE_HASH_LEN], size_t len,
			    const uint8_t root[MERKLE_HASH_LEN]);

/* RFC 9162 §2.1.4.1 PROOF(size1, D[0:size2]); empty when size1 is 0 or
 * equal to size2. -EINVAL if size1 > size2. */
int merkle_consistency_proof(const struct merkle_src *src, uint64_t size1, uint64_t size2,
			     uint8_t proof[][MERKLE_HASH_LEN], size_t *len);

/* RFC 9162 §2.1.4.2, plus the trivial cases: size1 == size2 needs an empty
 * proof and equal roots, size1 == 0 an empty proof. 0 or -EBADMSG. */
int merkle_verify_consistency(uint64_t size1, uint64_t size2,
			      const uint8_t root1[MERKLE_HASH_LEN],
			      const uint8_t root2[MERKLE_HASH_LEN],
			      const uint8_t proof[][MERKLE_HASH_LEN], size_t len);

#endif
