/* netctl: ward-net's side of its control channel (see netctl.h). Requests
 * are a header and a NUL-padded 64-byte ENI id; ATTACH carries exactly one
 * fd, a stream socket, and every other request none. Replies carry a
 * status, a message and, for STATS, the ENI's counters in DP_COUNTERS
 * order (docs/net.md lists it). PEER, MAP, UNMAP and PEER_DEL feed the
 * underlay; SG_SET, SG_DEL, SG_RULE_ADD/DEL, NACL_SET and ENI_SGS change
 * the model live: every field's form is checked here, what it means
 * against the model in model.c. ENI_META feeds the metadata service
 * (imds.c): its credentials are wiped from the receive buffer here. */
#include "netctl.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fdpass.h"

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static int refuse(int *fds, size_t nfds, char *err, size_t errlen, const char *why)
{
	close_fds(fds, nfds);
	snprintf(err, errlen, "%s", why);
	return -EPROTO;
}

/* A NUL-padded id field: 1..63 bytes, then only NULs. host: the
 * underlay's host-id alphabet ([A-Za-z0-9_-]), since it reaches logs. */
static const char *id_check(const char *f, bool host)
{
	size_t n = strnlen(f, NETCTL_ID_LEN);

	if (!n || n == NETCTL_ID_LEN)
		return "id empty or not NUL-terminated";
	for (size_t i = n; i < NETCTL_ID_LEN; i++)
		if (f[i])
			return "id not NUL-padded";
	for (size_t i = 0; host && i < n; i++)
		if (!isalnum((unsigned char)f[i]) && f[i] != '_' && f[i] != '-')
			return "host id outside [A-Za-z0-9_-]";
	return NULL;
}

static int parse_underlay(const struct netctl_hdr *h, const uint8_t *p, struct netctl_msg *m,
			  char *err, size_t errlen)
{
	const char *why;

	if (h->type == NETCTL_PEER) {
		struct netctl_peer pe;
		uint32_t a;

		if (h->len != sizeof(pe))
			return refuse(NULL, 0, err, errlen, "PEER payload must be 68 bytes");
		memcpy(&pe, p, sizeof(pe));
		if ((why = id_check(pe.host, true)))
			return refuse(NULL, 0, err, errlen, why);
		a = ntohl(pe.addr);
		/* A unicast host address: the key exchange connects to it and
		 * the receive check compares outer sources with it. */
		if (!a || a >= 0xe0000000u || (a >> 24) == 0 || (a >> 24) == 127)
			return refuse(NULL, 0, err, errlen, "PEER address is not a unicast host address");
		memcpy(m->id, pe.host, strlen(pe.host) + 1);
		m->addr = pe.addr;
	} else {
		struct netctl_map mp;

		if (h->len != sizeof(mp))
			return refuse(NULL, 0, err, errlen, "MAP/UNMAP payload must be 136 bytes");
		memcpy(&mp, p, sizeof(mp));
		if ((why = id_check(mp.host, true)) || (why = id_check(mp.vpc, false)))
			return refuse(NULL, 0, err, errlen, why);
		if (!mp.vni || mp.vni > 0xffffffu)
			return refuse(NULL, 0, err, errlen, "MAP VNI must be 1..0xFFFFFF");
		if (!mp.ip || ntohl(mp.ip) >= 0xe0000000u)
			return refuse(NULL, 0, err, errlen, "MAP address is not a unicast address");
		memcpy(m->id, mp.host, strlen(mp.host) + 1);
		memcpy(m->vpc, mp.vpc, strlen(mp.vpc) + 1);
		m->vni = mp.vni;
		m->addr = mp.ip;
	}
	m->type = h->type;
	return 0;
}

/* One rule's form (what the model says is model.c's: the group it names,
 * a NACL number used twice). nacl: number and action, no group. */
static const char *rule_check(const struct netctl_wire_rule *w, bool nacl, struct netctl_rule *out)
{
	struct vpc_rule *r = &out->r;
	uint32_t net = ntohl(w->net);
	bool ports = w->proto == 6 || w->proto == 17, icmp = w->proto == 1;

	if (w->proto < -1 || w->proto > 255)
		return "rule proto must be -1 (all) or 0-255";
	if (ports ? w->port_lo > w->port_hi : w->port_lo != 0 || w->port_hi != 65535)
		return "rule ports must be lo <= hi for tcp/udp, 0-65535 otherwise";
	if (icmp ? w->icmp_type < -1 || w->icmp_type > 255 || w->icmp_code < -1 || w->icmp_code > 255
		 : w->icmp_type != -1 || w->icmp_code != -1)
		return "rule icmp type/code must be -1..255 for icmp, -1 otherwise";
	if (w->prefix > 32 || (net & ~vpc_mask(w->prefix)) || w->pad)
		return "rule CIDR has host bits set or a prefix over 32";
	if (w->sg[0]) {
		const char *why = id_check(w->sg, false);

		if (why)
			return why;
		if (nacl)
			return "a NACL rule names a CIDR, never a group";
		if (w->net || w->prefix)
			return "a rule names a CIDR or a group, not both";
	}
	if (nacl ? w->number < 1 || w->number > 32766 || w->allow > 1 : w->number || w->allow != 1)
		return nacl ? "NACL rule number must be 1-32766 and action 0 or 1"
			    : "a group rule has no number and always allows";
	memset(out, 0, sizeof(*out));
	r->proto = w->proto;
	r->port_lo = w->port_lo;
	r->port_hi = w->port_hi;
	r->icmp_type = w->icmp_type;
	r->icmp_code = w->icmp_code;
	r->net = net;
	r->prefix = w->prefix;
	r->sg = -1;
	r->number = w->number;
	r->allow = w->allow;
	if (w->sg[0])
		memcpy(out->sg, w->sg, strlen(w->sg) + 1);
	return NULL;
}

static int parse_set(const struct netctl_hdr *h, const uint8_t *p, struct netctl_msg *m,
		     char *err, size_t errlen)
{
	struct netctl_set_hdr sh;
	bool nacl = h->type == NETCTL_NACL_SET;
	unsigned int max = nacl ? VPC_MAX_NACL_RULES : VPC_MAX_SG_RULES;
	const char *why;

	if (h->len < sizeof(sh))
		return refuse(NULL, 0, err, errlen, "SG_SET/NACL_SET shorter than its header");
	memcpy(&sh, p, sizeof(sh));
	if ((why = id_check(sh.id, false)) || (why = id_check(sh.vpc, false)))
		return refuse(NULL, 0, err, errlen, why);
	if (sh.n_in > max || sh.n_out > max)
		return refuse(NULL, 0, err, errlen, "too many rules in one direction");
	if (h->len != sizeof(sh) + (sh.n_in + sh.n_out) * sizeof(struct netctl_wire_rule))
		return refuse(NULL, 0, err, errlen, "payload length disagrees with the rule counts");
	for (unsigned int i = 0; i < sh.n_in + sh.n_out; i++) {
		struct netctl_wire_rule w;

		memcpy(&w, p + sizeof(sh) + i * sizeof(w), sizeof(w));
		if ((why = rule_check(&w, nacl, &m->rules[i])))
			return refuse(NULL, 0, err, errlen, why);
	}
	memcpy(m->id, sh.id, strlen(sh.id) + 1);
	memcpy(m->vpc, sh.vpc, strlen(sh.vpc) + 1);
	m->n_in = sh.n_in;
	m->n_out = sh.n_out;
	m->type = h->type;
	return 0;
}

static int parse_rule(const struct netctl_hdr *h, const uint8_t *p, struct netctl_msg *m,
		      char *err, size_t errlen)
{
	struct netctl_rule_msg rm;
	const char *why;

	if (h->len != sizeof(rm))
		return refuse(NULL, 0, err, errlen, "SG_RULE_ADD/DEL payload must be 152 bytes");
	memcpy(&rm, p, sizeof(rm));
	if ((why = id_check(rm.id, false)))
		return refuse(NULL, 0, err, errlen, why);
	if (rm.dir > 1 || rm.pad[0] || rm.pad[1] || rm.pad[2])
		return refuse(NULL, 0, err, errlen, "rule direction must be 0 (ingress) or 1 (egress)");
	if ((why = rule_check(&rm.rule, false, &m->rules[0])))
		return refuse(NULL, 0, err, errlen, why);
	memcpy(m->id, rm.id, strlen(rm.id) + 1);
	m->dir = rm.dir;
	m->type = h->type;
	return 0;
}

static int parse_eni_sgs(const struct netctl_hdr *h, const uint8_t *p, struct netctl_msg *m,
			 char *err, size_t errlen)
{
	struct netctl_eni_sgs es;
	const char *why;

	if (h->len != sizeof(es))
		return refuse(NULL, 0, err, errlen, "ENI_SGS payload must be 388 bytes");
	memcpy(&es, p, sizeof(es));
	if ((why = id_check(es.id, false)))
		return refuse(NULL, 0, err, errlen, why);
	if (es.n < 1 || es.n > VPC_MAX_SGS)
		return refuse(NULL, 0, err, errlen, "an ENI has 1 to 5 security groups");
	for (unsigned int i = 0; i < VPC_MAX_SGS; i++) {
		if (i >= es.n) {
			for (size_t k = 0; k < NETCTL_ID_LEN; k++)
				if (es.sgs[i][k])
					return refuse(NULL, 0, err, errlen, "unused group slots must be zero");
			continue;
		}
		if ((why = id_check(es.sgs[i], false)))
			return refuse(NULL, 0, err, errlen, why);
		for (unsigned int j = 0; j < i; j++)
			if (!strcmp(es.sgs[i], es.sgs[j]))
				return refuse(NULL, 0, err, errlen, "a group named twice");
		memcpy(m->sgs[i], es.sgs[i], strlen(es.sgs[i]) + 1);
	}
	memcpy(m->id, es.id, strlen(es.id) + 1);
	m->n_sgs = es.n;
	m->type = h->type;
	return 0;
}

/* A NUL-padded text field of cap bytes: up to cap-1 bytes from the
 * alphabet allow (alphanumerics when alnum), then only NULs; empty allowed
 * (not set). Copied to out. */
static const char *text_check(const char *f, size_t cap, const char *allow, bool alnum, char *out)
{
	size_t n = strnlen(f, cap);

	if (n == cap)
		return "ENI_META field not NUL-terminated";
	for (size_t i = n; i < cap; i++)
		if (f[i])
			return "ENI_META field not NUL-padded";
	for (size_t i = 0; i < n; i++)
		if (!(alnum && isalnum((unsigned char)f[i])) && !strchr(allow, f[i]))
			return "ENI_META field has a character outside its alphabet";
	memcpy(out, f, n + 1);
	return NULL;
}

/* YYYY-MM-DDTHH:MM:SSZ, as AWS writes LastUpdated and Expiration. */
static bool time_ok(const char *t)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:ddZ";

	if (strlen(t) != sizeof(pat) - 1)
		return false;
	for (size_t i = 0; pat[i]; i++)
		if (pat[i] == 'd' ? !isdigit((unsigned char)t[i]) : t[i] != pat[i])
			return false;
	return true;
}

/* Base64 text of exactly n bytes (the secret and the session token). */
static bool b64_ok(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isalnum(p[i]) && p[i] != '+' && p[i] != '/' && p[i] != '=')
			return false;
	return true;
}

/* ENI_META: every field goes into JSON and HTTP replies verbatim, so
 * each has a narrow alphabet (no quote, backslash, CR or LF can reach
 * them). */
static int parse_eni_meta(const struct netctl_hdr *h, const uint8_t *p, struct netctl_msg *m,
			  char *err, size_t errlen)
{
	struct netctl_eni_meta em;
	struct netctl_meta *o = &m->meta;
	const char *why;
	bool role;

	if (h->len < sizeof(em))
		return refuse(NULL, 0, err, errlen, "ENI_META shorter than its fixed part");
	memcpy(&em, p, sizeof(em));
	if (h->len != sizeof(em) + (size_t)em.secret_len + em.token_len)
		return refuse(NULL, 0, err, errlen, "ENI_META length disagrees with its secret/token lengths");
	if ((why = id_check(em.id, false)) ||
	    (why = text_check(em.instance, NETCTL_ID_LEN, "-", true, o->instance)) ||
	    (why = text_check(em.az, NETCTL_ID_LEN, "abcdefghijklmnopqrstuvwxyz0123456789-", false, o->az)) ||
	    (why = text_check(em.role, NETCTL_ID_LEN, "+=,.@_-", true, o->role)) ||
	    (why = text_check(em.access_key_id, NETCTL_AKID_LEN, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
			      false, o->access_key_id)) ||
	    (why = text_check(em.last_updated, NETCTL_TIME_LEN, "0123456789-:TZ", false, o->last_updated)) ||
	    (why = text_check(em.expiration, NETCTL_TIME_LEN, "0123456789-:TZ", false, o->expiration)))
		goto bad;
	if (em.device_number > 255) {
		why = "ENI_META device number over 255";
		goto bad;
	}
	role = o->role[0];
	if (role ? strlen(o->access_key_id) < 16 || !time_ok(o->last_updated) || !time_ok(o->expiration) ||
		   !em.secret_len || em.secret_len > NETCTL_SECRET_MAX || !em.token_len ||
		   em.token_len > NETCTL_STOKEN_MAX || !b64_ok(p + sizeof(em), (size_t)em.secret_len + em.token_len)
		 : o->access_key_id[0] || o->last_updated[0] || o->expiration[0] || em.secret_len || em.token_len) {
		why = role ? "ENI_META credentials malformed (key id, times, secret 1-128, token 1-2048 base64)"
			   : "ENI_META credentials without a role";
		goto bad;
	}
	memcpy(o->secret, p + sizeof(em), em.secret_len);
	o->secret[em.secret_len] = 0;
	memcpy(o->token, p + sizeof(em) + em.secret_len, em.token_len);
	o->token[em.token_len] = 0;
	o->device_number = em.device_number;
	memcpy(m->id, em.id, strlen(em.id) + 1);
	m->type = h->type;
	explicit_bzero(&em, sizeof(em));
	return 0;
bad:
	explicit_bzero(o, sizeof(*o));
	explicit_bzero(&em, sizeof(em));
	return refuse(NULL, 0, err, errlen, why);
}

int netctl_parse(const uint8_t *buf, size_t len, int *fds, size_t nfds, struct netctl_msg *m,
		 char *err, size_t errlen)
{
	struct netctl_hdr h;
	const char *id, *why;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (len < sizeof(h))
		return refuse(fds, nfds, err, errlen, "shorter than a header");
	memcpy(&h, buf, sizeof(h));
	m->seq = h.seq;
	if (h.magic != NETCTL_MAGIC || h.version != NETCTL_VERSION)
		return refuse(fds, nfds, err, errlen, "bad magic or version");
	if (h.len != len - sizeof(h))
		return refuse(fds, nfds, err, errlen, "payload length disagrees with the packet");
	if (h.type < NETCTL_ATTACH || h.type > NETCTL_ENI_META)
		return refuse(fds, nfds, err, errlen, "unknown request type (1..15)");
	if (nfds != (h.type == NETCTL_ATTACH ? 1u : 0u))
		return refuse(fds, nfds, err, errlen, "ATTACH takes exactly one fd, the rest none");
	switch (h.type) {
	case NETCTL_PEER:
	case NETCTL_MAP:
	case NETCTL_UNMAP:
		return parse_underlay(&h, buf + sizeof(h), m, err, errlen);
	case NETCTL_SG_SET:
	case NETCTL_NACL_SET:
		return parse_set(&h, buf + sizeof(h), m, err, errlen);
	case NETCTL_SG_RULE_ADD:
	case NETCTL_SG_RULE_DEL:
		return parse_rule(&h, buf + sizeof(h), m, err, errlen);
	case NETCTL_ENI_SGS:
		return parse_eni_sgs(&h, buf + sizeof(h), m, err, errlen);
	case NETCTL_ENI_META:
		return parse_eni_meta(&h, buf + sizeof(h), m, err, errlen);
	default:
		break;
	}
	/* ATTACH, DETACH, STATS, QUERY: an ENI id; SG_DEL: a group id;
	 * PEER_DEL: a host id. */
	if (h.len != NETCTL_ID_LEN)
		return refuse(fds, nfds, err, errlen, "payload must be the 64-byte id");
	id = (const char *)buf + sizeof(h);
	if ((why = id_check(id, h.type == NETCTL_PEER_DEL)))
		return refuse(fds, nfds, err, errlen, why);
	if (h.type == NETCTL_ATTACH) {
		int type = 0;
		socklen_t tl = sizeof(type);

		if (getsockopt(fds[0], SOL_SOCKET, SO_TYPE, &type, &tl) < 0 || type != SOCK_STREAM)
			return refuse(fds, nfds, err, errlen, "ATTACH's fd is not a stream socket");
		m->fd = fds[0];
	}
	memcpy(m->id, id, strlen(id) + 1);
	m->type = h.type;
	return 0;
}

int netctl_recv(int sock, struct netctl_msg *m, char *err, size_t errlen)
{
	uint8_t buf[NETCTL_MAX_PACKET];
	int fds[FDPASS_MAX];
	size_t nfds = 0;
	ssize_t n = fdpass_recv(sock, buf, sizeof(buf), 0, fds, 1, &nfds);
	int rc;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (n == -EMSGSIZE) {
		snprintf(err, errlen, "packet or fds over the limit");
		return -EPROTO;
	}
	if (n < 0)
		return (int)n;
	if (n == 0 && !nfds)
		return 0;
	rc = netctl_parse(buf, (size_t)n, fds, nfds, m, err, errlen) ? -EPROTO : 1;
	explicit_bzero(buf, (size_t)n);     /* an ENI_META's credentials */
	return rc;
}

int netctl_reply(int sock, uint32_t seq, int32_t status, const char *msg,
		 const uint64_t *counters, uint32_t n)
{
	struct {
		struct netctl_hdr h;
		int32_t status;
		char msg[NETCTL_MSG_LEN];
		uint32_t n;
	} __attribute__((packed)) r;
	struct iovec iov[2];

	if (n > NETCTL_MAX_COUNTERS)
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	r.h.magic = NETCTL_MAGIC;
	r.h.version = NETCTL_VERSION;
	r.h.type = NETCTL_REPLY;
	r.h.seq = seq;
	r.h.len = (uint32_t)(sizeof(r) - sizeof(r.h) + n * sizeof(uint64_t));
	r.status = status;
	snprintf(r.msg, sizeof(r.msg), "%s", msg);
	r.n = n;
	iov[0] = (struct iovec){ &r, sizeof(r) };
	iov[1] = (struct iovec){ (void *)counters, n * sizeof(uint64_t) };
	return fdpass_send(sock, iov, n ? 2 : 1, NULL, 0);
}
