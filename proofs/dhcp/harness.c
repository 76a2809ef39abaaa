/* Frama-C EVA harness for ward-net's DHCP server (src/net/dhcp.c):
 * dhcp_handle() (the BOOTP header checks, the option walk and, for a
 * message it answers, the reply it builds into out[DHCP_MAX_REPLY]) on a
 * message of unknown bytes. Messages up to SHORT_MAX bytes (the 240-byte
 * fixed part and up to 48 bytes of options) are allocated at exactly their
 * length, one analysis per length, so a read past the message is an alarm;
 * every longer message, up to the largest a frame can carry (a 9001-byte
 * IPv4 packet less its 20-byte header and 8-byte UDP header), lies in a
 * buffer of that largest size, as it lies in the frame (dp.c hands over
 * f->buf + payload_off), so there a read past the message but inside the
 * frame is not flagged. The lease is unknown. */
#include "shims.h"
#include "dhcp.c"
#include "frame.h"

#include <stdlib.h>

#define SHORT_MAX (BOOTP_FIXED + 4 + 48)
#define MSG_MAX (FRAME_MAX_MTU - 20 - 8)

static uint8_t big[MSG_MAX];

int main(void)
{
	struct dhcp_lease l;
	struct dhcp_reply r;
	uint8_t out[DHCP_MAX_REPLY];
	const char *why;
	size_t len;
	uint8_t *b;

	Frama_C_make_unknown((char *)&l, sizeof(l));
	len = Frama_C_size_t_interval(0, SHORT_MAX);
	//@ split len;
	b = malloc(len ? len : 1);
	if (b) {
		Frama_C_make_unknown((char *)b, len);
		(void)dhcp_handle(&l, b, len, out, &r, &why);
		free(b);
	}
	//@ merge len;

	Frama_C_make_unknown((char *)big, sizeof(big));
	len = Frama_C_size_t_interval(SHORT_MAX + 1, MSG_MAX);
	(void)dhcp_handle(&l, big, len, out, &r, &why);
	return 0;
}
