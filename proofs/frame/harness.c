/* Frama-C EVA harness for ward-net's frame parser (src/net/frame.c):
 * frame_parse() (Ethernet, ARP, IPv4 with options, TCP with options, UDP,
 * ICMP with the quoted header of an error) on a frame of unknown bytes in
 * a block allocated with exactly the frame's length, so a read past the
 * frame is an alarm. Every length up to FRAME_MAX_LEN: one analysis per
 * length up to SHORT_MAX, above the deepest header byte the parser can
 * reach (14 Ethernet + 60 IPv4 + 8 ICMP + 60 quoted IPv4 + 8 = 150), and
 * one analysis for every longer frame together, in a block whose size is
 * only known to be in that range (a read past its smallest size, or of the
 * bytes past it that stay uninitialised, is an alarm). */
#include "shims.h"
#include "frame.c"

#include <stdlib.h>

#define SHORT_MAX 152

int main(void)
{
	struct frame f;
	const char *why;
	size_t len;
	uint8_t *b;

	len = Frama_C_size_t_interval(0, SHORT_MAX);
	//@ split len;
	b = malloc(len ? len : 1);
	if (b) {
		Frama_C_make_unknown((char *)b, len);
		(void)frame_parse(b, len, &f, &why);
		free(b);
	}
	//@ merge len;

	len = Frama_C_size_t_interval(SHORT_MAX + 1, FRAME_MAX_LEN + 1);
	b = malloc(len);
	if (b) {
		Frama_C_make_unknown((char *)b, SHORT_MAX + 1);
		(void)frame_parse(b, len, &f, &why);
		free(b);
	}
	return 0;
}
