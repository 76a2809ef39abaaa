/* dhcp: stateless DHCPv4 server for one ENI (see dhcp.h). Only the fields
 * RFC 2131 needs are read; options are walked with every length checked
 * against the end of the message, and a message without a well-formed
 * type option is refused. */
#include "dhcp.h"

#include <errno.h>
#include <string.h>

#define BOOTP_FIXED   236
#define MAGIC         0x63825363u
#define OPT_PAD       0
#define OPT_MASK      1
#define OPT_ROUTER    3
#define OPT_DNS       6
#define OPT_MTU       26
#define OPT_BROADCAST 28
#define OPT_REQ_IP    50
#define OPT_LEASE     51
#define OPT_OVERLOAD  52
#define OPT_MSG_TYPE  53
#define OPT_SERVER_ID 54
#define OPT_RENEW     58
#define OPT_REBIND    59
#define OPT_END       255

enum { DISCOVER = 1, OFFER, REQUEST, DECLINE, ACK, NAK, RELEASE, INFORM };

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

struct req {
	uint8_t type;
	bool has_req_ip, has_server_id;
	uint32_t req_ip, server_id;
};

#define FAIL(reason) do { *why = (reason); return -EINVAL; } while (0)

static int parse_options(const uint8_t *o, size_t len, struct req *q, const char **why)
{
	size_t i = 0, end;

	/* The option's end, i + 2 + olen, is computed once (len is at most
	 * a frame, so nothing wraps) and checked against len; the value is
	 * read back from it (o[end - 1] is o[i + 2] for a 1-byte value,
	 * o + end - 4 is o + i + 2 for a 4-byte one), so each read's bound
	 * is a check on its own index (docs/proofs.md). */
	while (i < len) {
		uint8_t code = o[i], olen;

		if (code == OPT_END)
			break;
		if (code == OPT_PAD) {
			i++;
			continue;
		}
		if (i + 1 >= len)
			FAIL("dhcp: option runs past the message");
		olen = o[i + 1];
		end = i + 2u + olen;
		if (end > len)
			FAIL("dhcp: option runs past the message");
		switch (code) {
		case OPT_MSG_TYPE:
			if (olen != 1 || q->type)
				FAIL("dhcp: bad or repeated message type option");
			q->type = o[end - 1];
			break;
		case OPT_REQ_IP:
			if (olen != 4)
				FAIL("dhcp: bad requested address option");
			q->has_req_ip = true;
			q->req_ip = rd32(o + end - 4);
			break;
		case OPT_SERVER_ID:
			if (olen != 4)
				FAIL("dhcp: bad server identifier option");
			q->has_server_id = true;
			q->server_id = rd32(o + end - 4);
			break;
		case OPT_OVERLOAD:
			/* sname/file carrying options: no client needs it to
			 * ask for its one address; refuse, do not half-read. */
			FAIL("dhcp: option overload is not supported");
		default:
			break;
		}
		i = end;
	}
	if (i >= len)
		FAIL("dhcp: options without an end option");
	if (q->type < DISCOVER || q->type > INFORM || q->type == OFFER || q->type == ACK ||
	    q->type == NAK)
		FAIL("dhcp: missing or not a client message type");
	return 0;
}

static uint8_t *opt(uint8_t *p, uint8_t code, uint8_t len, const void *val)
{
	p[0] = code;
	p[1] = len;
	memcpy(p + 2, val, len);
	return p + 2 + len;
}

static uint8_t *opt32(uint8_t *p, uint8_t code, uint32_t v)
{
	uint8_t b[4];

	wr32(b, v);
	return opt(p, code, 4, b);
}

static size_t build(const struct dhcp_lease *l, const uint8_t *msg, const struct req *q,
		    uint8_t type, uint8_t *out)
{
	uint8_t *p = out + BOOTP_FIXED + 4, mtu[2] = { (uint8_t)(l->mtu >> 8), (uint8_t)l->mtu };
	size_t len;

	memset(out, 0, DHCP_MAX_REPLY);
	out[0] = 2;                          /* BOOTREPLY */
	out[1] = 1;
	out[2] = 6;
	memcpy(out + 4, msg + 4, 4);         /* xid */
	memcpy(out + 10, msg + 10, 2);       /* flags (broadcast bit) */
	if (type == ACK && q->type == INFORM)
		memcpy(out + 12, msg + 12, 4);   /* ciaddr; no yiaddr for INFORM */
	else if (type != NAK)
		wr32(out + 16, l->ip);           /* yiaddr */
	memcpy(out + 28, msg + 28, 16);      /* chaddr */
	wr32(out + BOOTP_FIXED, MAGIC);
	p = opt(p, OPT_MSG_TYPE, 1, &type);
	p = opt32(p, OPT_SERVER_ID, l->router);
	if (type != NAK) {
		if (q->type != INFORM) {
			p = opt32(p, OPT_LEASE, l->lease_secs);
			p = opt32(p, OPT_RENEW, l->lease_secs / 2);
			p = opt32(p, OPT_REBIND, l->lease_secs / 8 * 7);
		}
		p = opt32(p, OPT_MASK, l->mask);
		p = opt32(p, OPT_ROUTER, l->router);
		p = opt32(p, OPT_DNS, l->dns);
		p = opt32(p, OPT_BROADCAST, (l->ip & l->mask) | ~l->mask);
		p = opt(p, OPT_MTU, 2, mtu);
	}
	*p++ = OPT_END;
	len = (size_t)(p - out);
	return len < 300 ? 300 : len;        /* BOOTP minimum, zero padded */
}

int dhcp_handle(const struct dhcp_lease *l, const uint8_t *msg, size_t len,
		uint8_t out[DHCP_MAX_REPLY], struct dhcp_reply *r, const char **why)
{
	struct req q = { 0 };
	uint32_t want;

	memset(r, 0, sizeof(*r));
	if (len < BOOTP_FIXED + 4)
		FAIL("dhcp: shorter than a BOOTP message");
	if (msg[0] != 1 || msg[1] != 1 || msg[2] != 6)
		FAIL("dhcp: not an Ethernet BOOTREQUEST");
	if (memcmp(msg + 28, l->mac, 6))
		FAIL("dhcp: client hardware address is not the ENI's");
	if (rd32(msg + BOOTP_FIXED) != MAGIC)
		FAIL("dhcp: no magic cookie");
	if (parse_options(msg + BOOTP_FIXED + 4, len - BOOTP_FIXED - 4, &q, why))
		return -EINVAL;
	r->broadcast = msg[10] & 0x80;
	switch (q.type) {
	case DISCOVER:
		r->msg_type = OFFER;
		break;
	case REQUEST:
		/* SELECTING names a server: if it is not us, the client chose
		 * another offer (there is none in a VPC, but RFC 2131 §4.3.2). */
		if (q.has_server_id && q.server_id != l->router)
			return 0;
		want = q.has_req_ip ? q.req_ip : rd32(msg + 12);
		r->msg_type = want == l->ip ? ACK : NAK;
		break;
	case INFORM:
		r->msg_type = ACK;
		break;
	default:                             /* DECLINE, RELEASE: nothing to say */
		return 0;
	}
	r->len = build(l, msg, &q, r->msg_type, out);
	return 1;
}
