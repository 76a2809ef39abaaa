/* vq_guest: guest memory for the virtq harnesses, as set_mem_table()
 * (src/lib/vu_dev.c) builds it: up to VQ_MAX_REGIONS regions with unknown
 * guest and frontend addresses and sizes, each on its own host mapping
 * (one array per region: separate objects, as separate mmaps are) at least
 * as large as the region, and unknown contents. */
#ifndef WARD_PROOFS_VQ_GUEST_H
#define WARD_PROOFS_VQ_GUEST_H

#define POOL (64u << 10)

static uint8_t g0[POOL], g1[POOL], g2[POOL], g3[POOL], g4[POOL], g5[POOL], g6[POOL], g7[POOL];
static uint8_t *const guest[VQ_MAX_REGIONS] = { g0, g1, g2, g3, g4, g5, g6, g7 };

static void vq_guest_init(struct vq_mem *mem)
{
	for (unsigned int k = 0; k < VQ_MAX_REGIONS; k++)
		Frama_C_make_unknown((char *)guest[k], POOL);
	Frama_C_make_unknown((char *)mem, sizeof(*mem));
	mem->nregions = Frama_C_unsigned_int_interval(0, VQ_MAX_REGIONS);
	for (unsigned int k = 0; k < VQ_MAX_REGIONS; k++) {
		mem->r[k].size = Frama_C_unsigned_long_interval(1, POOL);
		mem->r[k].host = guest[k];
	}
}

#endif
