/* bench/net/tunnel_bench: the underlay's seal (tunnel_encap) and open
 * (tunnel_decap: parse, replay window, GCM open, owner check) throughput on
 * one core, per inner frame size, in Gbit/s of inner frame bytes per second
 * of this process's CPU time (the clock `openssl speed` reports against, so
 * the ratio holds on a shared machine). Prints `size seal_gbps open_gbps`. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "tunnel.h"

#define BATCH 2048
#define VNI 7

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct tunnel *host(const char *id, const char *peer, uint32_t peer_addr, enum tunnel_role role)
{
	struct tunnel_cfg c = { .local_id = id };
	uint8_t m[TUNNEL_KEY_MATERIAL_LEN];
	struct tunnel *t;

	for (size_t i = 0; i < sizeof(m); i++)
		m[i] = (uint8_t)(i * 13 + 5);
	if (tunnel_create(&c, &t) || tunnel_peer_add(t, peer, peer_addr) ||
	    tunnel_map_set(t, VNI, htonl(0x0a000001), role == TUNNEL_INITIATOR ? id : peer) ||
	    tunnel_map_set(t, VNI, htonl(0x0a000002), role == TUNNEL_INITIATOR ? peer : id) ||
	    tunnel_peer_install(t, peer, 1, role, m, 0) || tunnel_peer_activate(t, peer, 1, 0)) {
		fprintf(stderr, "tunnel_bench: setup failed\n");
		exit(1);
	}
	return t;
}

int main(int argc, char **argv)
{
	double secs = argc > 2 ? atof(argv[2]) : 1.0;

	log_init("tunnel-bench", LOG_WARN);
	{
		char *dup = strdup(argc > 1 ? argv[1] : "1500,9001"), *save = NULL;

		for (char *tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			size_t fl = (size_t)atol(tok), pl = fl + TUNNEL_OVERHEAD;
			uint8_t *frame = calloc(1, fl), *pkts = malloc(BATCH * pl), *out = malloc(fl);
			uint32_t s = htonl(0x0a000001), d = htonl(0x0a000002), dst, vni;
			double seal_t = 0, open_t = 0, bytes = 0;

			if (!frame || !pkts || !out || fl < 34 || fl > TUNNEL_MAX_FRAME)
				return 1;
			frame[12] = 0x08;
			frame[14] = 0x45;
			memcpy(frame + 26, &s, 4);
			memcpy(frame + 30, &d, 4);
			while (seal_t < secs || open_t < secs) {
				/* fresh pair per round: the receiver's window starts clean */
				struct tunnel *ta = host("hostA", "hostB", htonl(0xc6120002), TUNNEL_INITIATOR);
				struct tunnel *tb = host("hostB", "hostA", htonl(0xc6120001), TUNNEL_RESPONDER);
				double t0 = cpu_s(), t1, t2;

				for (int i = 0; i < BATCH; i++)
					if (tunnel_encap(ta, VNI, frame, fl, pkts + (size_t)i * pl, pl, &dst, 0) != (long)pl)
						return 1;
				t1 = cpu_s();
				for (int i = 0; i < BATCH; i++)
					if (tunnel_decap(tb, htonl(0xc6120001), pkts + (size_t)i * pl, pl, out, fl, &vni, 0) != (long)fl)
						return 1;
				t2 = cpu_s();
				seal_t += t1 - t0;
				open_t += t2 - t1;
				bytes += (double)BATCH * (double)fl;
				tunnel_destroy(ta);
				tunnel_destroy(tb);
			}
			printf("%zu %.2f %.2f\n", fl, bytes * 8 / seal_t / 1e9, bytes * 8 / open_t / 1e9);
			free(frame);
			free(pkts);
			free(out);
		}
		free(dup);
	}
	return 0;
}
