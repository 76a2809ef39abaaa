/* Frama-C EVA harness for walk_indirect() (src/lib/virtq.c): the indirect
 * descriptor as vq_pop() hands it over (the chain's first, fully unknown:
 * any address, length and flags) and an indirect table of unknown contents
 * anywhere in guest memory. */
#include "shims.h"
#include "virtq.c"

#include <string.h>

#include "vq_guest.h"

int main(void)
{
	struct vq_mem mem;
	struct vq vq;
	struct vq_chain c;
	struct vq_desc_raw d;

	vq_guest_init(&mem);
	memset(&vq, 0, sizeof(vq));
	vq.mem = &mem;
	vq.indirect = Frama_C_nondet(0, 1);
	Frama_C_make_unknown((char *)&d, sizeof(d));
	/* What vq_pop() has set when it calls walk_indirect(). */
	c.head = (uint16_t)Frama_C_unsigned_short_interval(0, VQ_MAX_SIZE - 1);
	c.nout = c.nin = 0;
	c.out_bytes = c.in_bytes = 0;
	(void)walk_indirect(&vq, &c, &d);
	return 0;
}
