/* Frama-C EVA harness for the Merkle proof verifiers (src/lib/merkle.c):
 * merkle_verify_inclusion() and merkle_verify_consistency() on a proof of
 * unknown hashes in a buffer allocated with exactly its length (so a read
 * past the last hash is an alarm), every length 0 .. MERKLE_MAX_PROOF + 1
 * (one analysis each), any index and tree sizes, unknown leaf and roots. */
#include "shims.h"
#include "merkle.c"

#include <stdlib.h>

#include "evp_model.h"

/* pthread_once(): runs the initialiser (once: this is one call path). */
int pthread_once(pthread_once_t *once, void (*fn)(void))
{
	(void)once;
	fn();
	return 0;
}

int main(void)
{
	uint8_t leaf[MERKLE_HASH_LEN], root1[MERKLE_HASH_LEN], root2[MERKLE_HASH_LEN];
	size_t len = Frama_C_size_t_interval(0, MERKLE_MAX_PROOF + 1);
	uint8_t (*proof)[MERKLE_HASH_LEN];

	Frama_C_make_unknown((char *)leaf, sizeof(leaf));
	Frama_C_make_unknown((char *)root1, sizeof(root1));
	Frama_C_make_unknown((char *)root2, sizeof(root2));
	//@ split len;
	proof = malloc(len ? len * MERKLE_HASH_LEN : 1);
	if (proof) {
		Frama_C_make_unknown((char *)proof, len * MERKLE_HASH_LEN);
		(void)merkle_verify_inclusion(Frama_C_unsigned_long_interval(0, UINT64_MAX),
					      Frama_C_unsigned_long_interval(0, UINT64_MAX),
					      leaf, (const uint8_t (*)[MERKLE_HASH_LEN])proof, len, root1);
		(void)merkle_verify_consistency(Frama_C_unsigned_long_interval(0, UINT64_MAX),
						Frama_C_unsigned_long_interval(0, UINT64_MAX),
						root1, root2,
						(const uint8_t (*)[MERKLE_HASH_LEN])proof, len);
		free(proof);
	}
	return 0;
}
