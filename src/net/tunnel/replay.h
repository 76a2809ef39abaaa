/* tunnel replay window: the RFC 6479 bitmap (RFC 4303 §3.4.3 semantics) that
 * the underlay keeps per security association. Check before decrypting
 * (cheap refusal), update only after the packet authenticated. */
#ifndef WARD_NET_TUNNEL_REPLAY_H
#define WARD_NET_TUNNEL_REPLAY_H

#include <stdint.h>

#define TUNNEL_REPLAY_WORDS 32u /* 2048-bit ring */
/* One word is "in flight" while the window slides, so RFC 6479 leaves
 * (words - 1) * 64 sequence numbers below the highest one acceptable. */
#define TUNNEL_REPLAY_WINDOW ((TUNNEL_REPLAY_WORDS - 1u) * 64u)

struct tunnel_replay {
	uint64_t top; /* highest authenticated sequence number, 0 = none yet */
	uint64_t bits[TUNNEL_REPLAY_WORDS];
};

enum tunnel_replay_verdict {
	TUNNEL_REPLAY_OK = 0,
	TUNNEL_REPLAY_DUP,     /* seen already */
	TUNNEL_REPLAY_OLD,     /* below the window */
	TUNNEL_REPLAY_ZERO,    /* sequence number 0 is never sent */
};

void tunnel_replay_init(struct tunnel_replay *w);
enum tunnel_replay_verdict tunnel_replay_check(const struct tunnel_replay *w, uint64_t seq);
/* Record `seq` (already checked and authenticated). */
void tunnel_replay_update(struct tunnel_replay *w, uint64_t seq);

#endif
