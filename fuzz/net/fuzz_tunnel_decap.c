/* fuzz/net/fuzz_tunnel_decap: the underlay receive path (tunnel_decap:
 * Geneve parse, key lookup, replay window, AES-256-GCM open, owner check)
 * on hostile UDP payloads. The first input byte picks the mode (bit 0:
 * debug plaintext) and the outer source (bit 1: the known peer or not);
 * the rest is the packet. Keys are fixed so that the seed corpus
 * (make_corpus_tunnel.py, an independent implementation of the format in
 * docs/formats.md) holds packets that authenticate. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <arpa/inet.h>

#include "tunnel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tunnel_cfg cfg = { .local_id = "hostB" };
	uint8_t m[TUNNEL_KEY_MATERIAL_LEN], out[TUNNEL_MAX_FRAME];
	struct tunnel *t;
	uint32_t vni, src = htonl(0xc6120001); /* 198.18.0.1 = hostA */

	if (size < 1)
		return 0;
	cfg.debug_plaintext = data[0] & 1;
	if (data[0] & 2)
		src = htonl(0xc6120009);
	for (size_t i = 0; i < sizeof(m); i++)
		m[i] = (uint8_t)(0x11 + i * 7);
	if (tunnel_create(&cfg, &t))
		abort();
	if (tunnel_peer_add(t, "hostA", htonl(0xc6120001)) ||
	    tunnel_map_set(t, 0xabcd, htonl(0x0a000001), "hostA") ||
	    tunnel_map_set(t, 0xabcd, htonl(0x0a000002), "hostB") ||
	    tunnel_peer_install(t, "hostA", 1, TUNNEL_RESPONDER, m, 0) ||
	    tunnel_peer_activate(t, "hostA", 1, 0))
		abort();
	/* twice: the second time the same packet must be a replay if it was
	 * accepted the first time */
	for (int i = 0; i < 2; i++) {
		long r = tunnel_decap(t, src, data + 1, size - 1, out, sizeof(out), &vni, 0);

		if (r > (long)sizeof(out) || (r >= 0 && i == 1 && !cfg.debug_plaintext))
			abort();
	}
	tunnel_destroy(t);
	return 0;
}
