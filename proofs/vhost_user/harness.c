/* Frama-C EVA harness for vu_msg_validate() (src/lib/vhost_user.c): a
 * message with fully unknown header, payload, fds and fd count, and any
 * queue count. Zero alarms means no input makes the validator,
 * including the SET_MEM_TABLE check, do a runtime error. */
#include "shims.h"
#include "vhost_user.c"

int main(void)
{
	struct vu_msg m;
	char err[160];
	unsigned int max_queues = Frama_C_unsigned_int_interval(0, 0xffffffffu);

	Frama_C_make_unknown((char *)&m, sizeof(m));
	/* Not even vu_recv()'s framing (hdr.size <= sizeof(m.p), nfds <=
	 * VU_MAX_FDS) is assumed: every field is unknown. */
	(void)vu_msg_validate(&m, max_queues, err, sizeof(err));
	return 0;
}
