/* Frama-C EVA harness for the split-virtqueue device side (src/lib/virtq.c):
 * vq_setup() with any queue size and ring addresses, then on a bound ring
 * of every accepted size vq_pop(), vq_push() and the notification checks,
 * with every byte of guest memory (avail index and ring, descriptors,
 * event indices) and the ring's indices unknown. Indirect tables are
 * analysed by proofs/virtq_indirect. */
#include "shims.h"
#include "virtq.c"

#include <string.h>

#include "vq_guest.h"

int main(void)
{
	struct vq_mem mem;
	struct vq vq;
	struct vq_chain c;
	unsigned int num;
	uint64_t desc = Frama_C_unsigned_long_interval(0, UINT64_MAX);
	uint64_t avail = Frama_C_unsigned_long_interval(0, UINT64_MAX);
	uint64_t used = Frama_C_unsigned_long_interval(0, UINT64_MAX);
	uint16_t base = (uint16_t)Frama_C_unsigned_short_interval(0, 0xffff);
	int rc;

	vq_guest_init(&mem);
	/* vq_setup() with any size and addresses; sizes up to VQ_MAX_SIZE one
	 * by one, so that each lookup has an exact length. */
	(void)vq_setup(&vq, &mem, Frama_C_unsigned_int_interval(VQ_MAX_SIZE + 1, 0xffffffffu),
		       desc, avail, used, base, Frama_C_nondet(0, 1), Frama_C_nondet(0, 1));
	num = Frama_C_unsigned_int_interval(0, VQ_MAX_SIZE);
	//@ split num;
	(void)vq_setup(&vq, &mem, num, desc, avail, used, base,
		       Frama_C_nondet(0, 1), Frama_C_nondet(0, 1));
	//@ merge num;

	/* A bound ring, as a successful vq_setup() leaves it: a power-of-2
	 * size up to VQ_MAX_SIZE (one analysis per size), each part inside
	 * one region, by lookup()'s checks analysed just above. Built here
	 * because Eva joins vq_setup()'s failure and success states on
	 * return. Any indices: the guest's avail and used positions are its
	 * own. */
	unsigned int lg = Frama_C_unsigned_int_interval(0, 10);
	//@ split lg;
	num = 1u << lg;
	memset(&vq, 0, sizeof(vq));
	vq.num = num;
	vq.mem = &mem;
	vq.event_idx = Frama_C_nondet(0, 1);
	vq.indirect = false; /* walk_indirect(): proofs/virtq_indirect */
	vq.last_avail = base;
	vq.used_idx = (uint16_t)Frama_C_unsigned_short_interval(0, 0xffff);
	vq.signalled_used = (uint16_t)Frama_C_unsigned_short_interval(0, 0xffff);
	vq.signalled_valid = Frama_C_nondet(0, 1);
	vq.desc = (volatile struct vq_desc_raw *)(guest[Frama_C_interval(0, 7)] +
		  16 * Frama_C_unsigned_int_interval(0, (POOL - 16 * num) / 16));
	vq.avail = (volatile uint16_t *)(guest[Frama_C_interval(0, 7)] +
		   2 * Frama_C_unsigned_int_interval(0, (POOL - 6 - 2 * num) / 2));
	vq.used = (volatile uint16_t *)(guest[Frama_C_interval(0, 7)] +
		  4 * Frama_C_unsigned_int_interval(0, (POOL - 6 - 8 * num) / 4));

	memset(&c, 0, sizeof(c));
	rc = vq_pop(&vq, &c);
	if (rc == 1)
		vq_push(&vq, c.head, Frama_C_unsigned_int_interval(0, 0xffffffffu));
	(void)vq_should_notify(&vq);
	(void)vq_enable_notify(&vq);
	return 0;
}
