/* fuzz_imds: ward-net's instance metadata service on hostile input. The
 * first byte picks the layer:
 *   0  the HTTP parser and imds_respond() on the bytes as they are;
 *   1  the same with a valid token header appended (so the path tree past
 *      the token check is reached: the fuzzer cannot forge an HMAC);
 *   2  TCP segments through the whole data path (dp_input with IMDS on):
 *      records of [flags][ctl][len u16][delta u32][win u16][payload], the
 *      harness writing valid checksums and, when ctl asks, the sequence
 *      and acknowledgement numbers the card expects next (so the
 *      connection states past the handshake are reached).
 * Connection state carries over between inputs. Everything the card sends
 * must parse, come from 169.254.169.254:80 and go to the ENI that asked;
 * every reply must be one HTTP/1.1 status line within its buffer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/dp.h"
#include "net/frame.h"
#include "net/imds.h"
#include "net/imds_http.h"
#include "net/vpc.h"

static const char model[] =
	"{\"version\":1,\"vpcs\":[{\"id\":\"v\",\"cidr\":\"10.0.0.0/16\"}],"
	"\"subnets\":[{\"id\":\"s\",\"vpc\":\"v\",\"cidr\":\"10.0.1.0/24\"}],"
	"\"security_groups\":[{\"id\":\"g\",\"vpc\":\"v\"}],"
	"\"enis\":[{\"id\":\"e0\",\"subnet\":\"s\",\"security_groups\":[\"g\"],\"mac\":\"02:00:00:00:00:01\","
	"\"ip\":\"10.0.1.10\",\"secondary_ips\":[\"10.0.1.11\"]},"
	"{\"id\":\"e1\",\"subnet\":\"s\",\"security_groups\":[\"g\"],\"mac\":\"02:00:00:00:00:02\","
	"\"ip\":\"10.0.1.20\",\"mtu\":1500}]}";

static struct vpc_cfg cfg;
static struct dp dp;
static struct imds *imds;
static char token[2][80];
static uint32_t next_seq[2][4], next_ack[2][4];   /* per ENI, per client port */
static unsigned int sending;

static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static int deliver(void *opaque, unsigned int eni, const uint8_t *f, size_t len)
{
	struct frame fr;
	const char *why;
	unsigned int k;

	(void)opaque;
	if (eni != sending || frame_parse(f, len, &fr, &why) || fr.kind != FRAME_IPV4 || fr.l4 != L4_TCP ||
	    fr.ip.src != IMDS_IP || fr.u.tcp.sport != IMDS_PORT || memcmp(fr.dst, cfg.enis[eni].mac, 6))
		abort();
	k = fr.u.tcp.dport & 3;
	next_seq[eni][k] = fr.u.tcp.ack;
	next_ack[eni][k] = fr.u.tcp.seq + (uint32_t)fr.payload_len +
			   ((fr.u.tcp.flags & (TCP_SYN | TCP_FIN)) ? 1 : 0);
	return 0;
}

static void check_reply(const char *out, size_t n, size_t cap)
{
	if (!n || n > cap || n < 12 || memcmp(out, "HTTP/1.1 ", 9))
		abort();
}

static void setup(void)
{
	static struct netctl_meta meta = {
		.instance = "i-0123", .az = "az-1a", .role = "r", .access_key_id = "ASIAAAAAAAAAAAAAAAAA",
		.last_updated = "2026-01-01T00:00:00Z", .expiration = "2026-01-01T06:00:00Z",
		.device_number = 0, .secret = "c2VjcmV0", .token = "dG9rZW4=",
	};
	static const char put[] = "PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\n\r\n";
	char out[8192], err[256];
	bool ttl1;

	if (vpc_load(model, sizeof(model) - 1, &cfg, err, sizeof(err)) || imds_init(&imds, &cfg, 0, 1u << 30))
		abort();
	dp_init(&dp, &cfg, deliver, NULL);
	dp.imds = imds_input;
	dp.imds_opaque = imds;
	imds_set_meta(imds, 0, &meta);
	imds_set_meta(imds, 1, &meta);   /* the same instance: both ENIs listed */
	for (unsigned int e = 0; e < 2; e++) {
		size_t n = imds_respond(imds, e, put, sizeof(put) - 1, 1, out, sizeof(out), &ttl1);
		char *t = strstr(out, "\r\n\r\n");

		if (!n || !ttl1 || !t || n - (size_t)(t + 4 - out) >= sizeof(token[e]))
			abort();
		memcpy(token[e], t + 4, n - (size_t)(t + 4 - out));
	}
}

static void http(const uint8_t *data, size_t size, bool with_token)
{
	static char req[IMDS_REQ_MAX + 256], out[8192];
	struct imds_req r;
	const char *why;
	size_t n = size;
	bool ttl1;

	if (size > IMDS_REQ_MAX)
		return;
	memcpy(req, data, size);
	if (with_token)
		n += (size_t)snprintf(req + size, sizeof(req) - size, "X-aws-ec2-metadata-token: %s\r\n\r\n",
				      token[size & 1]);
	if (!imds_http_parse(req, n, &r, &why)) {
		if (r.path[0] != '/' || strlen(r.path) > IMDS_PATH_MAX || strlen(r.token) > IMDS_TOKEN_MAX ||
		    (r.has_ttl && r.ttl != -1 && (r.ttl < 1 || r.ttl > 21600)))
			abort();
		for (const char *p = r.path; *p; p++)
			if (*p <= 0x20 || *p >= 0x7f)
				abort();
	}
	check_reply(out, imds_respond(imds, size & 1, req, n, 2, out, sizeof(out), &ttl1), sizeof(out));
}

static void tcp(const uint8_t *d, size_t size)
{
	static uint8_t f[FRAME_MAX_LEN];

	while (size >= 10) {
		uint8_t flags = d[0], ctl = d[1], pseudo[12];
		size_t plen = (size_t)(d[2] | d[3] << 8) % 2048, thl = (ctl & 4) ? 24 : 20, total, n;
		uint32_t delta = (uint32_t)d[4] | (uint32_t)d[5] << 8 | (uint32_t)d[6] << 16 | (uint32_t)d[7] << 24;
		unsigned int e = (ctl >> 5) & 1, k = (ctl >> 3) & 3;
		uint8_t *ip = f + 14, *t = ip + 20;
		uint16_t sum;

		if (plen > size - 10)
			plen = size - 10;
		total = 20 + thl + plen;
		memset(f, 0, 14 + total);
		memcpy(f, vpc_router_mac, 6);
		memcpy(f + 6, cfg.enis[e].mac, 6);
		wr16(f + 12, 0x0800);
		ip[0] = 0x45;
		wr16(ip + 2, (uint16_t)total);
		ip[8] = 64;
		ip[9] = IPPROTO_TCP_;
		wr32(ip + 12, cfg.enis[e].ip);
		wr32(ip + 16, (ctl & 0x80) ? IMDS_IP + 1 : IMDS_IP);
		wr16(ip + 10, frame_csum(ip, 20, 0));
		wr16(t, (uint16_t)(40000 + k));
		wr16(t + 2, (ctl & 0x40) ? 81 : IMDS_PORT);
		wr32(t + 4, (ctl & 1) ? next_seq[e][k] + delta : delta);
		wr32(t + 8, (ctl & 2) ? next_ack[e][k] : delta);
		t[12] = (uint8_t)(thl / 4) << 4;
		t[13] = flags;
		t[14] = d[8];
		t[15] = d[9];
		if (ctl & 4) {
			t[20] = 2;
			t[21] = 4;
			t[22] = d[9];
			t[23] = d[8];
		}
		memcpy(t + thl, d + 10, plen);
		wr32(pseudo, cfg.enis[e].ip);
		memcpy(pseudo + 4, ip + 16, 4);
		pseudo[8] = 0;
		pseudo[9] = IPPROTO_TCP_;
		wr16(pseudo + 10, (uint16_t)(thl + plen));
		sum = (uint16_t)~frame_csum(pseudo, sizeof(pseudo), 0);
		wr16(t + 16, frame_csum(t, thl + plen, sum));
		n = 14 + total;
		sending = e;
		dp_input(&dp, e, f, n < 60 ? 60 : n);
		d += 10 + plen;
		size -= 10 + plen;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!imds)
		setup();
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0: http(data + 1, size - 1, false); break;
	case 1: http(data + 1, size - 1, true); break;
	default: tcp(data + 1, size - 1); break;
	}
	return 0;
}
