/* fuzz_merkle_proof: libFuzzer harness for inclusion and consistency proof
 * verification (src/lib/merkle.c) — proofs reach `ward audit verify` from
 * the network. Oracle: over a fixed 37-leaf tree, a proof that verifies
 * against the true leaf and roots must be exactly the proof the tree
 * generates (anything else would be a forgery); arbitrary sizes must not
 * crash or loop. Input: kind(1) a(8) b(8) then 32-byte hashes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "merkle.h"

#define H MERKLE_HASH_LEN
#define N 37

static uint8_t leaves[N][H];
static uint8_t roots[N + 1][H];
static struct merkle_array arr = { (const uint8_t(*)[H])leaves, N };
static struct merkle_src src;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	merkle_array_src(&src, &arr);
	for (uint64_t i = 0; i < N; i++)
		if (merkle_leaf_hash(&i, sizeof(i), leaves[i]))
			abort();
	for (uint64_t s = 0; s <= N; s++)
		if (merkle_root(&src, s, roots[s]))
			abort();
	return 0;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t proof[MERKLE_MAX_PROOF + 2][H], want[MERKLE_MAX_PROOF][H];
	uint64_t a, b;
	size_t n, wn;
	uint8_t kind;

	if (size < 17)
		return 0;
	kind = data[0];
	a = get64(data + 1);
	b = get64(data + 9);
	n = (size - 17) / H;
	if (n > MERKLE_MAX_PROOF + 2)
		n = MERKLE_MAX_PROOF + 2;
	memcpy(proof, data + 17, n * H);
	const uint8_t(*p)[H] = (const uint8_t(*)[H])proof;

	if (kind & 2) {
		/* Raw sizes: only "no crash, no hang"; hashes from the proof. */
		const uint8_t *x = n ? proof[0] : roots[0];
		if (kind & 1)
			merkle_verify_consistency(a, b, x, roots[N], p, n);
		else
			merkle_verify_inclusion(a, b, x, p, n, roots[N]);
		return 0;
	}
	a %= N + 1;
	b %= N + 1;
	if (kind & 1) {
		if (merkle_verify_consistency(a, b, roots[a], roots[b], p, n) != 0)
			return 0;
		if (merkle_consistency_proof(&src, a, b, want, &wn) || wn != n ||
		    (n && memcmp(want, proof, n * H)))
			abort();
	} else {
		if (a >= N || merkle_verify_inclusion(a, b, leaves[a], p, n, roots[b]) != 0)
			return 0;
		if (merkle_inclusion_proof(&src, a, b, want, &wn) || wn != n ||
		    (n && memcmp(want, proof, n * H)))
			abort();
	}
	return 0;
}
