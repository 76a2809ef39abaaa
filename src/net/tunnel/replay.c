/* tunnel replay window (RFC 6479): a ring of 64-bit words indexed by
 * sequence number, cleared a whole word at a time as the window advances,
 * so both check and update are O(1) with no shifting of the bitmap. */
#include "replay.h"

#include <string.h>

#define RING_BITS (TUNNEL_REPLAY_WORDS * 64u)

void tunnel_replay_init(struct tunnel_replay *w)
{
	memset(w, 0, sizeof(*w));
}

enum tunnel_replay_verdict tunnel_replay_check(const struct tunnel_replay *w, uint64_t seq)
{
	uint64_t bit;

	if (seq == 0)
		return TUNNEL_REPLAY_ZERO;
	if (seq > w->top)
		return TUNNEL_REPLAY_OK;
	if (w->top - seq >= TUNNEL_REPLAY_WINDOW)
		return TUNNEL_REPLAY_OLD;
	bit = seq % RING_BITS;
	if (w->bits[bit / 64u] & (1ull << (bit % 64u)))
		return TUNNEL_REPLAY_DUP;
	return TUNNEL_REPLAY_OK;
}

void tunnel_replay_update(struct tunnel_replay *w, uint64_t seq)
{
	uint64_t bit = seq % RING_BITS;

	if (seq > w->top) {
		uint64_t cur = w->top / 64u, next = seq / 64u, diff = next - cur;

		/* Words between the old top and the new one hold bits of numbers
		 * that have left the window: clear them (all of them when the jump
		 * is larger than the ring). */
		if (diff > TUNNEL_REPLAY_WORDS)
			diff = TUNNEL_REPLAY_WORDS;
		for (uint64_t i = 1; i <= diff; i++)
			w->bits[(cur + i) % TUNNEL_REPLAY_WORDS] = 0;
		w->top = seq;
	}
	w->bits[bit / 64u] |= 1ull << (bit % 64u);
}
