/* netcard: ward-net driven by the controller (netcard.h). One card per
 * host, started like ward-blk (launcher, go pipe, pidfd, --keep-fd) with
 * the model in a sealed memfd; model changes become netctl requests
 * computed as the difference between what the card holds and vpcstore's
 * model, so the same code serves a live change, a re-adopted card and a
 * restarted one. */
#include "controller/netcard.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "controller/instances.h"
#include "controller/launcher.h"
#include "controller/statefile.h"
#include "controller/vpcstore.h"
#include "errmsg.h"
#include "fdpass.h"
#include "fileio.h"
#include "log.h"
#include "net/netctl.h"
#include "net/vpc.h"

#define NET_KEEP_FD 4		/* ward-net's copy of our end (--keep-fd) */
#define NET_REPLY_S 10		/* every wait on the channel is bounded */
#define NET_STOP_MS 3000
#define NET_MAX_DEATHS 5	/* restarts in a row (deaths under a minute apart) */
#define NET_RECORD "netcard"	/* STATE_DIR/netcard.json */
#define UL_RECORD "underlay"	/* STATE_DIR/underlay.json: peers and mappings */

struct nc_att {
	char instance[INST_ID_LEN + 1];
	char eni[VPC_ID_LEN + 1];
	int fe;			/* the frontend end of a re-ATTACH after a card restart,
				 * held for ward-hv (which cannot take it yet); -1 */
};

struct netcard {
	struct netcard_cfg cfg;
	pid_t pid;
	int pidfd, ctl;
	bool child;		/* ours to waitpid (not re-adopted) */
	uint64_t start_time;
	struct event *ev;	/* the pidfd: the card died */
	uint32_t seq;
	struct vpc_cfg *have;	/* the card's model; NULL: no card running */
	json_t *have_json;
	bool pending;		/* a change netctl cannot carry waits for an idle card */
	struct nc_att att[INST_MAX];
	unsigned n_att;
	unsigned deaths;
	time_t last_death;
	int udp_fd, keyx_fd;	/* the underlay's sockets, made before lockdown; -1 */
	json_t *ul;		/* {"peers":[{host,address}],"mappings":[{host,vpc,vni,ip}]} */
};

static void audit(struct netcard *nc, const char *event, json_t *extra)
{
	json_t *rec = json_pack("{s:s, s:s, s:I}", "type", "netcard", "event", event, "pid",
				(json_int_t)nc->pid);

	if (rec && extra)
		json_object_update(rec, extra);
	json_decref(extra);
	if (rec)
		nc->cfg.audit(nc->cfg.opaque, rec);
}

/* ---- the model ---- */

static bool model_empty(const json_t *m)
{
	return !json_array_size(json_object_get(m, "vpcs"));
}

static struct vpc_cfg *model_parse(const json_t *m)
{
	struct vpc_cfg *c = malloc(sizeof(*c));
	char *txt = json_dumps(m, JSON_COMPACT);
	char err[256];

	/* vpcstore checked it with the same loader before committing it. */
	if (!c || !txt || vpc_load(txt, strlen(txt), c, err, sizeof(err))) {
		if (c && txt)
			log_error("the VPC model does not load", "error=\"%s\"", err);
		free(c);
		c = NULL;
	}
	free(txt);
	return c;
}

static int find_id(const char *ids, size_t stride, unsigned n, const char *id)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(ids + i * stride, id))
			return (int)i;
	return -1;
}

#define FIND(c, arr, cnt, key) find_id((c)->arr[0].id, sizeof((c)->arr[0]), (c)->cnt, (key))

/* What netctl cannot change: VPCs, subnets (and their NACL), NACLs as
 * objects, ENIs and their addresses. */
static bool same_structure(const struct vpc_cfg *a, const struct vpc_cfg *b)
{
	if (a->n_vpcs != b->n_vpcs || a->n_subnets != b->n_subnets || a->n_enis != b->n_enis ||
	    a->n_nacls != b->n_nacls)
		return false;
	for (unsigned i = 0; i < b->n_vpcs; i++) {
		int k = FIND(a, vpcs, n_vpcs, b->vpcs[i].id);

		if (k < 0 || a->vpcs[k].net != b->vpcs[i].net || a->vpcs[k].prefix != b->vpcs[i].prefix)
			return false;
	}
	for (unsigned i = 0; i < b->n_nacls; i++) {
		int k = FIND(a, nacls, n_nacls, b->nacls[i].id);

		if (k < 0 || strcmp(a->vpcs[a->nacls[k].vpc].id, b->vpcs[b->nacls[i].vpc].id))
			return false;
	}
	for (unsigned i = 0; i < b->n_subnets; i++) {
		const struct vpc_subnet *sb = &b->subnets[i], *sa;
		int k = FIND(a, subnets, n_subnets, sb->id);

		if (k < 0)
			return false;
		sa = &a->subnets[k];
		if (strcmp(a->vpcs[sa->vpc].id, b->vpcs[sb->vpc].id) || sa->net != sb->net ||
		    sa->prefix != sb->prefix || (sa->nacl < 0) != (sb->nacl < 0) ||
		    (sb->nacl >= 0 && strcmp(a->nacls[sa->nacl].id, b->nacls[sb->nacl].id)))
			return false;
	}
	for (unsigned i = 0; i < b->n_enis; i++) {
		const struct vpc_eni *eb = &b->enis[i], *ea;
		int k = FIND(a, enis, n_enis, eb->id);

		if (k < 0)
			return false;
		ea = &a->enis[k];
		if (strcmp(a->subnets[ea->subnet].id, b->subnets[eb->subnet].id) ||
		    memcmp(ea->mac, eb->mac, 6) || ea->ip != eb->ip || ea->n_sec_ips != eb->n_sec_ips ||
		    memcmp(ea->sec_ips, eb->sec_ips, eb->n_sec_ips * sizeof(eb->sec_ips[0])) ||
		    ea->ct_max != eb->ct_max || ea->src_dst_check != eb->src_dst_check ||
		    ea->mtu != eb->mtu)
			return false;
	}
	return true;
}

static void put_id(char dst[NETCTL_ID_LEN], const char *id)
{
	memset(dst, 0, NETCTL_ID_LEN);
	memcpy(dst, id, strnlen(id, NETCTL_ID_LEN - 1));
}

/* A rule as netctl carries it: the group it names by id, never by index
 * (the card's indices are its own). */
static void to_wire(const struct vpc_cfg *c, const struct vpc_rule *r, bool nacl,
		    struct netctl_wire_rule *w)
{
	bool ports = r->proto == 6 || r->proto == 17, icmp = r->proto == 1;

	memset(w, 0, sizeof(*w));
	w->proto = r->proto;
	w->port_lo = ports ? r->port_lo : 0;
	w->port_hi = ports ? r->port_hi : 65535;
	w->icmp_type = icmp ? r->icmp_type : -1;
	w->icmp_code = icmp ? r->icmp_code : -1;
	w->number = nacl ? r->number : 0;
	w->allow = nacl ? r->allow : 1;
	if (!nacl && r->sg >= 0) {
		put_id(w->sg, c->sgs[r->sg].id);
	} else {
		w->prefix = r->prefix;
		w->net = htonl(r->net);
	}
}

static bool same_rules(const struct vpc_cfg *a, const struct vpc_rules *ra,
		       const struct vpc_cfg *b, const struct vpc_rules *rb, bool nacl)
{
	struct netctl_wire_rule wa, wb;

	if (ra->n != rb->n)
		return false;
	for (unsigned i = 0; i < rb->n; i++) {
		to_wire(a, &ra->r[i], nacl, &wa);
		to_wire(b, &rb->r[i], nacl, &wb);
		if (memcmp(&wa, &wb, sizeof(wa)))
			return false;
	}
	return true;
}

/* ---- the channel ---- */

/* A reply as netctl_reply() writes it. */
struct __attribute__((packed)) nc_reply {
	struct netctl_hdr h;
	int32_t status;
	char msg[NETCTL_MSG_LEN];
	uint32_t n;
	uint64_t c[NETCTL_MAX_COUNTERS];
};

/* One request and its reply (matched by seq: a reply a previous
 * controller never read is skipped). Returns the card's status (0 or
 * negative errno) with its message, or the channel's failure. */
static int call(struct netcard *nc, uint16_t type, const void *payload, size_t len, int fd,
		char *msg, size_t msglen)
{
	struct netctl_hdr h = { NETCTL_MAGIC, NETCTL_VERSION, type, ++nc->seq, (uint32_t)len };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)payload, len } };
	struct nc_reply r;
	size_t fixed = offsetof(struct nc_reply, c);
	int rc;

	snprintf(msg, msglen, "no card");
	if (nc->ctl < 0)
		return -ENOTCONN;
	rc = fdpass_send(nc->ctl, iov, 2, fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0);
	if (rc) {
		snprintf(msg, msglen, "the card's channel failed: %s", strerror(-rc));
		return rc;
	}
	for (;;) {
		ssize_t n = recv(nc->ctl, &r, sizeof(r), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n == 0 ? -EPIPE : errno == EAGAIN ? -ETIMEDOUT : -errno;
			snprintf(msg, msglen, "no answer from the card: %s", strerror(-rc));
			return rc;
		}
		if ((size_t)n < fixed || r.h.magic != NETCTL_MAGIC || r.h.type != NETCTL_REPLY ||
		    r.h.len != (size_t)n - sizeof(r.h))
			continue;	/* not a reply we can read: not ours either */
		if (r.h.seq != h.seq)
			continue;
		r.msg[NETCTL_MSG_LEN - 1] = 0;
		snprintf(msg, msglen, "%s", r.msg);
		return r.status;
	}
}

static int call_id(struct netcard *nc, uint16_t type, const char *id, int fd, char *msg,
		   size_t msglen)
{
	char p[NETCTL_ID_LEN];

	put_id(p, id);
	return call(nc, type, p, sizeof(p), fd, msg, msglen);
}

static int send_set(struct netcard *nc, uint16_t type, const struct vpc_cfg *c, const char *id,
		    unsigned vpc, const struct vpc_rules *in, const struct vpc_rules *out,
		    bool nacl, char *msg, size_t msglen)
{
	static uint8_t buf[NETCTL_MAX_PACKET];
	struct netctl_set_hdr *sh = (struct netctl_set_hdr *)buf;
	struct netctl_wire_rule w;
	size_t off = sizeof(*sh);

	memset(sh, 0, sizeof(*sh));
	put_id(sh->id, id);
	put_id(sh->vpc, c->vpcs[vpc].id);
	sh->n_in = (uint16_t)(in ? in->n : 0);
	sh->n_out = (uint16_t)(out ? out->n : 0);
	for (unsigned d = 0; d < 2; d++) {
		const struct vpc_rules *rs = d ? out : in;

		for (unsigned i = 0; rs && i < rs->n; i++) {
			to_wire(c, &rs->r[i], nacl, &w);
			memcpy(buf + off, &w, sizeof(w));
			off += sizeof(w);
		}
	}
	return call(nc, type, buf, off, -1, msg, msglen);
}

static int send_eni_sgs(struct netcard *nc, const struct vpc_cfg *c, const struct vpc_eni *e,
			char *msg, size_t msglen)
{
	struct netctl_eni_sgs m;

	memset(&m, 0, sizeof(m));
	put_id(m.id, e->id);
	m.n = e->n_sgs;
	for (unsigned i = 0; i < e->n_sgs; i++)
		put_id(m.sgs[i], c->sgs[e->sgs[i]].id);
	return call(nc, NETCTL_ENI_SGS, &m, sizeof(m), -1, msg, msglen);
}

/* The requests that take card model a to b (same structure, or pending:
 * then what the card lacks is refused and left for the restart). Groups
 * first made empty so rules may name each other, then their rules, the
 * ENIs' groups, the groups no longer there, the NACLs' rules. Returns how
 * many were sent; *failed counts the refused ones. */
static unsigned push_diff(struct netcard *nc, const struct vpc_cfg *a, const struct vpc_cfg *b,
			  unsigned *failed)
{
	char msg[NETCTL_MSG_LEN + 64];
	unsigned sent = 0;
	int rc, k;

#define PUSH(what, id, expr) do {						\
	sent++;									\
	if ((rc = (expr))) {							\
		(*failed)++;							\
		log_warn("ward-net refused a model change", "what=%s id=%s reason=\"%s\"", \
			 what, id, msg);					\
	}									\
} while (0)
	*failed = 0;
	for (unsigned i = 0; i < b->n_sgs; i++)
		if (FIND(a, sgs, n_sgs, b->sgs[i].id) < 0)
			PUSH("sg_create", b->sgs[i].id, send_set(nc, NETCTL_SG_SET, b, b->sgs[i].id,
								 b->sgs[i].vpc, NULL, NULL, false,
								 msg, sizeof(msg)));
	for (unsigned i = 0; i < b->n_sgs; i++) {
		const struct vpc_sg *g = &b->sgs[i];

		k = FIND(a, sgs, n_sgs, g->id);
		if (k >= 0 && same_rules(a, &a->sgs[k].in, b, &g->in, false) &&
		    same_rules(a, &a->sgs[k].out, b, &g->out, false))
			continue;
		if (k < 0 && !g->in.n && !g->out.n)
			continue;
		PUSH("sg_rules", g->id, send_set(nc, NETCTL_SG_SET, b, g->id, g->vpc, &g->in,
						 &g->out, false, msg, sizeof(msg)));
	}
	for (unsigned i = 0; i < b->n_enis; i++) {
		const struct vpc_eni *e = &b->enis[i];
		bool same;

		k = FIND(a, enis, n_enis, e->id);
		if (k < 0)
			continue;	/* new: arrives with the card's restart */
		same = a->enis[k].n_sgs == e->n_sgs;
		for (unsigned j = 0; same && j < e->n_sgs; j++)
			same = !strcmp(a->sgs[a->enis[k].sgs[j]].id, b->sgs[e->sgs[j]].id);
		if (!same)
			PUSH("eni_sgs", e->id, send_eni_sgs(nc, b, e, msg, sizeof(msg)));
	}
	for (unsigned i = 0; i < a->n_sgs; i++)
		if (FIND(b, sgs, n_sgs, a->sgs[i].id) < 0)
			PUSH("sg_delete", a->sgs[i].id, call_id(nc, NETCTL_SG_DEL, a->sgs[i].id, -1, msg,
								sizeof(msg)));
	for (unsigned i = 0; i < b->n_nacls; i++) {
		const struct vpc_nacl *n = &b->nacls[i];

		k = FIND(a, nacls, n_nacls, n->id);
		if (k < 0 || (same_rules(a, &a->nacls[k].in, b, &n->in, true) &&
			      same_rules(a, &a->nacls[k].out, b, &n->out, true)))
			continue;
		PUSH("nacl_rules", n->id, send_set(nc, NETCTL_NACL_SET, b, n->id, n->vpc, &n->in,
						   &n->out, true, msg, sizeof(msg)));
	}
#undef PUSH
	return sent;
}

/* ---- the record ---- */

static void save(struct netcard *nc)
{
	json_t *o, *atts = json_array();
	int rc;

	for (unsigned i = 0; atts && i < nc->n_att; i++)
		json_array_append_new(atts, json_pack("{s:s, s:s}", "instance", nc->att[i].instance,
						      "eni", nc->att[i].eni));
	o = json_pack("{s:I, s:I, s:I, s:b, s:o, s:O?}", "pid", (json_int_t)nc->pid, "start_time",
		      (json_int_t)nc->start_time, "uid", (json_int_t)nc->cfg.uid, "pending",
		      nc->pending, "attachments", atts, "model", nc->have_json);
	rc = o ? statefile_write_json(nc->cfg.state_dir, NET_RECORD, o) : -ENOMEM;
	json_decref(o);
	if (rc)
		log_error("cannot record ward-net; a controller restart would lose it", "errno=%s",
			  errname(-rc));
}

/* ---- the process ---- */

static void on_exit_(evutil_socket_t fd, short what, void *arg);

static void ctl_timeout(int fd)
{
	struct timeval tv = { .tv_sec = NET_REPLY_S };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		log_warn("cannot bound waits on the ward-net channel", "errno=%s", errname(errno));
}

static int watch(struct netcard *nc)
{
	nc->ev = event_new(nc->cfg.base, nc->pidfd, EV_READ, on_exit_, nc);
	if (!nc->ev || event_add(nc->ev, NULL)) {
		log_error("cannot watch ward-net: its death would go unnoticed", "pid=%d", (int)nc->pid);
		return -ENOMEM;
	}
	return 0;
}

/* Forget the process (dead or stopped): the attachments stay, to be
 * made again on the next card. */
static void forget(struct netcard *nc)
{
	if (nc->ev)
		event_free(nc->ev);
	nc->ev = NULL;
	if (nc->ctl >= 0)
		close(nc->ctl);
	if (nc->pidfd >= 0)
		close(nc->pidfd);
	nc->ctl = nc->pidfd = -1;
	nc->pid = 0;
	nc->start_time = 0;
	free(nc->have);
	nc->have = NULL;
	json_decref(nc->have_json);
	nc->have_json = NULL;
	for (unsigned i = 0; i < nc->n_att; i++) {
		if (nc->att[i].fe >= 0)
			close(nc->att[i].fe);
		nc->att[i].fe = -1;
	}
}

static void stop(struct netcard *nc)
{
	if (!nc->pid)
		return;
	if (nc->ev)
		event_del(nc->ev);
	launcher_stop_card(nc->pidfd, nc->pid, nc->child, NET_STOP_MS, "ward-net");
	log_info("ward-net stopped", "pid=%d", (int)nc->pid);
	forget(nc);
}

/* The model for --config-fd: a sealed memfd the card reads from 0. */
static int model_memfd(const json_t *m)
{
	char *txt = json_dumps(m, JSON_COMPACT);
	int fd = memfd_create("ward-net-model", MFD_CLOEXEC | MFD_ALLOW_SEALING), rc = 0;
	size_t len = txt ? strlen(txt) : 0, off = 0;

	if (!txt || fd < 0) {
		rc = fd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	while (off < len) {
		ssize_t w = write(fd, txt + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? -errno : -EIO;
			goto out;
		}
		off += (size_t)w;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL))
		rc = -errno;
out:
	free(txt);
	if (rc && fd >= 0)
		close(fd);
	return rc ? rc : fd;
}

/* fd 3: ward-net's end of the channel; 4: a copy of ours, which it holds
 * so the channel outlives this process; 5: the model. */
static int start(struct netcard *nc, const json_t *model, char *err, size_t errlen)
{
	static char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	char uid[16], st, kport[8];
	char *argv[24] = { "ward-net", "--control-fd", "3", "--keep-fd", "4", "--config-fd",
			   "5", "--uid", uid, "--gid", uid, NULL };
	int sp[2] = { -1, -1 }, go[2] = { -1, -1 }, mfd, fds[5], rc;
	unsigned na = 11, nfds = 3;
	struct launch_req lr;
	pid_t pid;

	snprintf(uid, sizeof(uid), "%u", (unsigned)nc->cfg.uid);
	/* With an underlay: its two sockets as fds 6 and 7 and the host
	 * certificate's files (ward-net reads them before its lockdown). */
	if (nc->udp_fd >= 0) {
		snprintf(kport, sizeof(kport), "%u", (unsigned)nc->cfg.keyx_port);
		argv[na++] = "--underlay-fd";
		argv[na++] = "6";
		argv[na++] = "--keyx-fd";
		argv[na++] = "7";
		argv[na++] = "--keyx-port";
		argv[na++] = kport;
		argv[na++] = "--host-cert";
		argv[na++] = (char *)nc->cfg.host_cert;
		argv[na++] = "--host-key";
		argv[na++] = (char *)nc->cfg.host_key;
		argv[na++] = "--ca";
		argv[na++] = (char *)nc->cfg.host_ca;
		argv[na] = NULL;
	}
	if (!(nc->have = model_parse(model)) || !(nc->have_json = json_deep_copy(model))) {
		snprintf(err, errlen, "the VPC model does not load");
		rc = -EINVAL;
		goto err_model;
	}
	if ((mfd = model_memfd(model)) < 0) {
		rc = mfd;
		snprintf(err, errlen, "cannot pass the model to ward-net: %s", strerror(-rc));
		goto err_model;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) || pipe2(go, O_CLOEXEC)) {
		rc = -errno;
		snprintf(err, errlen, "cannot start ward-net: %s", strerror(-rc));
		goto err_fds;
	}
	fds[0] = sp[1];
	fds[1] = sp[0];
	fds[2] = mfd;
	if (nc->udp_fd >= 0) {
		fds[nfds++] = nc->udp_fd;
		fds[nfds++] = nc->keyx_fd;
	}
	/* It execs only once it can be watched (a pidfd), as ward-blk. */
	lr = (struct launch_req){ .image = LAUNCH_NET, .argv = argv, .envp = envp, .fds = fds,
				  .n_fds = nfds, .go_fd = go[0] };
	pid = launcher_spawn(&lr, err, errlen);
	close(go[0]);
	go[0] = -1;
	if (pid < 0) {
		rc = pid;
		goto err_fds;
	}
	nc->pid = pid;
	nc->child = true;
	nc->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (nc->pidfd < 0 || inst_proc_stat(pid, &nc->start_time, &st) || write(go[1], "g", 1) != 1) {
		rc = -EIO;
		snprintf(err, errlen, "cannot watch ward-net (pid %d)", (int)pid);
		close(go[1]);	/* EOF: it exits before exec */
		go[1] = -1;
		if (nc->pidfd >= 0)
			syscall(SYS_pidfd_send_signal, nc->pidfd, SIGKILL, NULL, 0);
		waitpid(pid, NULL, 0);
		goto err_fds;
	}
	close(go[1]);
	close(sp[1]);
	close(mfd);
	nc->ctl = sp[0];
	ctl_timeout(nc->ctl);
	nc->pending = false;
	watch(nc);
	log_info("ward-net started", "pid=%d uid=%s vpcs=%u enis=%u", (int)pid, uid,
		 nc->have->n_vpcs, nc->have->n_enis);
	return 0;
err_fds:
	if (go[0] >= 0)
		close(go[0]);
	if (go[1] >= 0)
		close(go[1]);
	if (sp[0] >= 0) {
		close(sp[0]);
		close(sp[1]);
	}
	close(mfd);
err_model:
	if (nc->pidfd >= 0)
		close(nc->pidfd);
	nc->pidfd = -1;
	nc->pid = 0;
	free(nc->have);
	nc->have = NULL;
	json_decref(nc->have_json);
	nc->have_json = NULL;
	return rc;
}

/* ATTACH one recorded ENI again on a new card. ward-hv has no way yet to
 * take a new socket, so the frontend end is held here (docs/net.md). */
static int reattach(struct netcard *nc, struct nc_att *a)
{
	char msg[NETCTL_MSG_LEN + 64];
	int vu[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, vu))
		return -errno;
	rc = call_id(nc, NETCTL_ATTACH, a->eni, vu[1], msg, sizeof(msg));
	close(vu[1]);
	if (rc) {
		close(vu[0]);
		log_error("ward-net refused an ENI again", "eni=%s instance=%s reason=\"%s\"", a->eni,
			  a->instance, msg);
		return rc;
	}
	a->fe = vu[0];
	return 0;
}

/* ---- the underlay: peers and the mapping table ---- */

static int ul_peer(struct netcard *nc, uint16_t type, const char *host, uint32_t addr, char *msg,
		   size_t msglen)
{
	struct netctl_peer p;

	if (type == NETCTL_PEER_DEL)
		return call_id(nc, type, host, -1, msg, msglen);
	memset(&p, 0, sizeof(p));
	put_id(p.host, host);
	p.addr = addr;
	return call(nc, type, &p, sizeof(p), -1, msg, msglen);
}

static int ul_map(struct netcard *nc, uint16_t type, const char *host, const char *vpc,
		  uint32_t vni, uint32_t ip, char *msg, size_t msglen)
{
	struct netctl_map m;

	memset(&m, 0, sizeof(m));
	put_id(m.host, host);
	put_id(m.vpc, vpc);
	m.vni = vni;
	m.ip = ip;
	return call(nc, type, &m, sizeof(m), -1, msg, msglen);
}

/* A new card knows no host: every peer, then every mapping. */
static void ul_push_all(struct netcard *nc)
{
	char msg[NETCTL_MSG_LEN + 64];
	unsigned sent = 0, refused = 0;
	struct in_addr a;
	json_t *o;
	size_t i;

	if (nc->udp_fd < 0 || !nc->ul)
		return;
	json_array_foreach(json_object_get(nc->ul, "peers"), i, o) {
		const char *h = json_string_value(json_object_get(o, "host"));
		const char *ad = json_string_value(json_object_get(o, "address"));

		if (!h || !ad || inet_pton(AF_INET, ad, &a) != 1)
			continue;
		sent++;
		refused += ul_peer(nc, NETCTL_PEER, h, a.s_addr, msg, sizeof(msg)) != 0;
	}
	json_array_foreach(json_object_get(nc->ul, "mappings"), i, o) {
		const char *h = json_string_value(json_object_get(o, "host"));
		const char *v = json_string_value(json_object_get(o, "vpc"));
		const char *ad = json_string_value(json_object_get(o, "ip"));

		if (!h || !v || !ad || inet_pton(AF_INET, ad, &a) != 1)
			continue;
		sent++;
		refused += ul_map(nc, NETCTL_MAP, h, v, (uint32_t)json_integer_value(
					  json_object_get(o, "vni")), a.s_addr, msg, sizeof(msg)) != 0;
	}
	if (sent)
		audit(nc, "underlay pushed", json_pack("{s:I, s:I}", "messages", (json_int_t)sent,
						       "refused", (json_int_t)refused));
}

/* Every packet between hosts is one datagram of up to ~9 KiB: the kernel's
 * default 208 KiB receive buffer held too few, and bench/net measured 73%
 * of jumbo datagrams lost in the kernel at full rate (docs/net.md). The
 * controller is still root here, so the FORCE variants pass the sysctl
 * caps; without them, the capped size is still better than the default. */
#define UL_SOCKBUF (4 << 20)
static void ul_size_buffers(int fd)
{
	int sz = UL_SOCKBUF;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)))
		log_warn("underlay receive buffer left at the default", "errno=%s", errname(errno));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) &&
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)))
		log_warn("underlay send buffer left at the default", "errno=%s", errname(errno));
}

/* The underlay's sockets, made while the controller may still bind
 * (before its lockdown) and kept for every card it starts. */
static int ul_open(struct netcard *nc, char *err, size_t errlen)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = nc->cfg.underlay_addr };
	int one = 1, rc;

	nc->udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	nc->keyx_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a.sin_port = htons(nc->cfg.underlay_port);
	if (nc->udp_fd < 0 || nc->keyx_fd < 0 || bind(nc->udp_fd, (struct sockaddr *)&a, sizeof(a)))
		goto fail;
	ul_size_buffers(nc->udp_fd);
	a.sin_port = htons(nc->cfg.keyx_port);
	if (setsockopt(nc->keyx_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(nc->keyx_fd, (struct sockaddr *)&a, sizeof(a)) || listen(nc->keyx_fd, 16))
		goto fail;
	return 0;
fail:
	rc = -errno;
	snprintf(err, errlen, "cannot open the underlay sockets (udp %u, tcp %u): %s",
		 (unsigned)nc->cfg.underlay_port, (unsigned)nc->cfg.keyx_port, strerror(-rc));
	return rc;
}

/* Is fd a socket of that type bound to the underlay address and port? */
static bool ul_sock_is(int fd, int type, uint16_t port, uint32_t addr)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int t = 0;
	socklen_t tl = sizeof(t);

	return fd >= 0 && !getsockopt(fd, SOL_SOCKET, SO_TYPE, &t, &tl) && t == type &&
	       !getsockname(fd, (struct sockaddr *)&a, &al) && a.sin_family == AF_INET &&
	       a.sin_port == htons(port) && a.sin_addr.s_addr == addr;
}

/* A re-adopted card holds the underlay's sockets (its fds 6 and 7, where
 * they were passed): the next cards get the same ones, as the ports
 * cannot be bound twice. */
static void ul_take_back(struct netcard *nc)
{
	nc->udp_fd = (int)syscall(SYS_pidfd_getfd, nc->pidfd, 6, 0);
	nc->keyx_fd = (int)syscall(SYS_pidfd_getfd, nc->pidfd, 7, 0);
	if (ul_sock_is(nc->udp_fd, SOCK_DGRAM, nc->cfg.underlay_port, nc->cfg.underlay_addr) &&
	    ul_sock_is(nc->keyx_fd, SOCK_STREAM, nc->cfg.keyx_port, nc->cfg.underlay_addr))
		return;
	if (nc->udp_fd >= 0)
		close(nc->udp_fd);
	if (nc->keyx_fd >= 0)
		close(nc->keyx_fd);
	nc->udp_fd = nc->keyx_fd = -1;
}

/* STATE_DIR/underlay.json: what the cards have taken. */
static int ul_load(struct netcard *nc, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int rc;

	snprintf(path, sizeof(path), "%s/" UL_RECORD ".json", nc->cfg.state_dir);
	rc = statefile_read_json(path, &nc->ul);
	if (rc == -ENOENT)
		nc->ul = json_pack("{s:[], s:[]}", "peers", "mappings");
	else if (rc || !json_is_array(json_object_get(nc->ul, "peers")) ||
		 !json_is_array(json_object_get(nc->ul, "mappings"))) {
		snprintf(err, errlen, "%s is unreadable", path);
		return -EINVAL;
	}
	return nc->ul ? 0 : -ENOMEM;
}

static bool host_id_ok(const char *h)
{
	size_t n = h ? strlen(h) : 0;

	return n >= 1 && n <= 63 && strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					  "0123456789_-") == n;
}

int netcard_underlay_request(struct netcard *nc, const char *method, const char *pattern,
			     const char *body, size_t len, json_t *arec, json_t **reply,
			     const char **code, char *msg, size_t msglen)
{
	char cmsg[NETCTL_MSG_LEN + 64];
	const char *host = NULL, *addr = NULL, *vpc = NULL, *ip = NULL;
	json_int_t vni = 0;
	json_t *b = NULL, *list, *o;
	struct in_addr a;
	bool peers = strstr(pattern, "/peers") != NULL, del = strstr(pattern, "remove") != NULL;
	size_t i, at = (size_t)-1;
	int rc, st;

	*reply = NULL;
	*code = "no_underlay";
	if (!nc || nc->udp_fd < 0) {
		snprintf(msg, msglen, "this controller has no underlay (--underlay ADDR)");
		return 409;
	}
	if (!strcmp(method, "GET")) {
		*reply = json_pack("{s:O, s:O}", "peers", json_object_get(nc->ul, "peers"),
				   "mappings", json_object_get(nc->ul, "mappings"));
		*code = "internal";
		snprintf(msg, msglen, "out of memory");
		return *reply ? 200 : 500;
	}
	*code = "bad_request";
	b = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, NULL);
	if (peers ? json_unpack(b, "{s:s, s?s !}", "host", &host, "address", &addr) ||
		    (!del && !addr) :
		    json_unpack(b, "{s:s, s:s, s:I, s:s !}", "host", &host, "vpc", &vpc, "vni", &vni,
				"ip", &ip)) {
		snprintf(msg, msglen, peers ? "expected {\"host\", \"address\"} (remove: {\"host\"})" :
			 "expected {\"host\", \"vpc\", \"vni\", \"ip\"}");
		goto out_st;
	}
	if (!host_id_ok(host) || (addr && inet_pton(AF_INET, addr, &a) != 1) ||
	    (ip && inet_pton(AF_INET, ip, &a) != 1) || (vpc && strlen(vpc) > VPC_ID_LEN) ||
	    (!peers && (vni < 1 || vni > 0xFFFFFF))) {
		snprintf(msg, msglen, "host must be 1-63 of [A-Za-z0-9_-], address and ip IPv4, vni "
			 "1..16777215");
		goto out_st;
	}
	json_object_set_new(arec, "host", json_string(host));
	if (vpc)
		json_object_set_new(arec, "vpc", json_string(vpc));
	list = json_object_get(nc->ul, peers ? "peers" : "mappings");
	json_array_foreach(list, i, o) {
		const char *k = json_string_value(json_object_get(o, peers ? "host" : "ip"));
		const char *v = json_string_value(json_object_get(o, "vpc"));

		if (k && !strcmp(k, peers ? host : ip) && (peers || (v && !strcmp(v, vpc))))
			at = i;
	}
	if (del && at == (size_t)-1) {
		*code = "not_found";
		snprintf(msg, msglen, peers ? "no peer %s" : "no mapping of %s in %s", peers ? host : ip,
			 vpc);
		json_decref(b);
		return 404;
	}
	/* The card judges (this host as a peer, a VPC's second VNI, an
	 * unknown VPC...); only what it took is kept. */
	if (peers)
		rc = ul_peer(nc, del ? NETCTL_PEER_DEL : NETCTL_PEER, host, addr ? a.s_addr : 0, cmsg,
			     sizeof(cmsg));
	else
		rc = ul_map(nc, del ? NETCTL_UNMAP : NETCTL_MAP, host, vpc, (uint32_t)vni, a.s_addr,
			    cmsg, sizeof(cmsg));
	audit(nc, "underlay change", json_pack("{s:s, s:s, s:i}", "what", peers ? (del ? "peer_del" :
				"peer") : (del ? "unmap" : "map"), "host", host, "status", rc));
	if (rc) {
		*code = nc->ctl < 0 ? "net_unavailable" : "refused_by_card";
		snprintf(msg, msglen, "ward-net refused it: %s", cmsg);
		st = nc->ctl < 0 ? 503 : 409;
		goto out;
	}
	if (del) {
		json_array_remove(list, at);
		/* A peer takes its mappings with it, in the card as here. */
		json_t *maps = json_object_get(nc->ul, "mappings");

		for (i = json_array_size(maps); peers && i-- > 0;) {
			const char *h = json_string_value(json_object_get(json_array_get(maps, i), "host"));

			if (h && !strcmp(h, host))
				json_array_remove(maps, i);
		}
	} else {
		o = peers ? json_pack("{s:s, s:s}", "host", host, "address", addr) :
			    json_pack("{s:s, s:s, s:I, s:s}", "host", host, "vpc", vpc, "vni", vni, "ip",
				      ip);
		if (at != (size_t)-1)
			json_array_set_new(list, at, o);
		else
			json_array_append_new(list, o);
	}
	rc = statefile_write_json(nc->cfg.state_dir, UL_RECORD, nc->ul);
	if (rc)
		log_error("cannot record the underlay table; a new card would miss this change",
			  "errno=%s", errname(-rc));
	*reply = json_pack("{s:O, s:O}", "peers", json_object_get(nc->ul, "peers"), "mappings",
			   json_object_get(nc->ul, "mappings"));
	st = del ? 200 : 201;
	goto out;
out_st:
	st = 400;
out:
	json_decref(b);
	return st;
}

/* A new card with the whole current model and every attachment made
 * again. */
static int restart(struct netcard *nc, const char *event)
{
	const json_t *m = vpcstore_model(nc->cfg.vpcs);
	char err[256];
	unsigned ok = 0;
	int rc;

	if (nc->pid)
		stop(nc);
	if (model_empty(m) || !nc->cfg.have_image) {
		save(nc);
		return 0;
	}
	if ((rc = start(nc, m, err, sizeof(err)))) {
		log_error("cannot start ward-net", "error=\"%s\"", err);
		audit(nc, "start failed", json_pack("{s:s}", "reason", err));
		save(nc);
		return rc;
	}
	ul_push_all(nc);
	for (unsigned i = 0; i < nc->n_att; i++)
		ok += reattach(nc, &nc->att[i]) == 0;
	save(nc);
	audit(nc, event, json_pack("{s:I, s:I}", "enis", (json_int_t)nc->n_att, "reattached",
				   (json_int_t)ok));
	return 0;
}

static void on_exit_(evutil_socket_t fd, short what, void *arg)
{
	struct netcard *nc = arg;
	int status = 0;
	char how[32] = "unknown";
	time_t now = time(NULL);

	if (nc->child && waitpid(nc->pid, &status, 0) == nc->pid)
		snprintf(how, sizeof(how), WIFSIGNALED(status) ? "signal %d" : "exit %d",
			 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	log_error("ward-net died: its guests lost the network; restarting it", "pid=%d how=\"%s\" "
		  "enis=%u", (int)nc->pid, how, nc->n_att);
	audit(nc, "died", json_pack("{s:s, s:I}", "how", how, "enis", (json_int_t)nc->n_att));
	forget(nc);
	/* A card that dies again at once is not restarted for ever. */
	nc->deaths = now - nc->last_death < 60 ? nc->deaths + 1 : 1;
	nc->last_death = now;
	if (nc->deaths > NET_MAX_DEATHS) {
		log_error("ward-net keeps dying; not restarting it", "deaths=%u", nc->deaths);
		audit(nc, "given up", json_pack("{s:I}", "deaths", (json_int_t)nc->deaths));
		save(nc);
		return;
	}
	restart(nc, "restarted");
}

/* ---- re-adoption ---- */

static bool valid_instance_id(const char *id)
{
	if (strlen(id) != INST_ID_LEN)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || *p == '-'))
			return false;
	return true;
}

/* STATE_DIR/netcard.json: the same ward-net (pid, start time), its
 * channel taken back, the model it holds and its attachments. Returns 1
 * when the card was taken back. */
static int adopt(struct netcard *nc)
{
	char path[PATH_MAX], st = 0, junk[64];
	json_int_t pid = 0, start = 0;
	json_t *o = NULL, *atts = NULL, *model = NULL, *a;
	int pending = 0;
	uint64_t now = 0;
	bool alive;
	size_t i;

	snprintf(path, sizeof(path), "%s/" NET_RECORD ".json", nc->cfg.state_dir);
	if (statefile_read_json(path, &o))
		return 0;
	if (json_unpack(o, "{s:I, s:I, s:b, s:o, s?o}", "pid", &pid, "start_time", &start,
			"pending", &pending, "attachments", &atts, "model", &model) ||
	    !json_is_array(atts)) {
		log_error("ignoring an unreadable ward-net record", "file=%s", path);
		json_decref(o);
		return 0;
	}
	json_array_foreach(atts, i, a) {
		const char *in = json_string_value(json_object_get(a, "instance"));
		const char *eni = json_string_value(json_object_get(a, "eni"));

		if (!in || !eni || !valid_instance_id(in) || strlen(eni) > VPC_ID_LEN ||
		    nc->n_att == INST_MAX)
			continue;
		snprintf(nc->att[nc->n_att].instance, sizeof(nc->att[0].instance), "%s", in);
		snprintf(nc->att[nc->n_att].eni, sizeof(nc->att[0].eni), "%s", eni);
		nc->att[nc->n_att++].fe = -1;
	}
	nc->pid = (pid_t)pid;
	/* pidfd first, then the start time: a recycled pid cannot pass. */
	nc->pidfd = pid > 0 ? (int)syscall(SYS_pidfd_open, nc->pid, 0) : -1;
	alive = nc->pidfd >= 0 && !inst_proc_stat(nc->pid, &now, &st) && now == (uint64_t)start &&
		st != 'Z';
	if (!alive || !model || !(nc->have = model_parse(model)) ||
	    (nc->ctl = (int)syscall(SYS_pidfd_getfd, nc->pidfd, NET_KEEP_FD, 0)) < 0) {
		if (alive) {
			/* Running, but not ours to drive: stopped, and a new
			 * card takes over. */
			log_error("cannot take ward-net back; stopping it", "pid=%d errno=%s",
				  (int)pid, errname(errno));
			audit(nc, "released", json_pack("{s:s}", "reason", "its model or channel "
							"could not be taken back"));
			syscall(SYS_pidfd_send_signal, nc->pidfd, SIGKILL, NULL, 0);
			/* Gone before its successor binds the same ports. */
			poll(&(struct pollfd){ .fd = nc->pidfd, .events = POLLIN }, 1, NET_STOP_MS);
		} else if (pid > 0) {
			log_warn("ward-net is gone", "pid=%d", (int)pid);
			audit(nc, "lost", json_pack("{s:s}", "reason", "not running after the "
						    "controller restart"));
		}
		forget(nc);
		json_decref(o);
		return 0;
	}
	nc->start_time = now;
	nc->have_json = json_deep_copy(model);
	nc->pending = pending;
	json_decref(o);
	ctl_timeout(nc->ctl);
	/* Replies the previous controller never read, out of the way. A
	 * closed channel reads 0 for ever: the card is gone. */
	for (;;) {
		ssize_t got = recv(nc->ctl, junk, sizeof(junk), MSG_DONTWAIT);

		if (got > 0)
			continue;
		if (got == 0) {
			log_warn("ward-net closed its channel while being re-adopted", "pid=%d",
				 (int)nc->pid);
			forget(nc);
			return 0;
		}
		break;
	}
	watch(nc);
	log_info("ward-net re-adopted", "pid=%d enis=%u", (int)nc->pid, nc->n_att);
	audit(nc, "adopted", json_pack("{s:I}", "enis", (json_int_t)nc->n_att));
	return 1;
}

/* ---- the API ---- */

int netcard_open(struct netcard **out, const struct netcard_cfg *cfg, char *err, size_t errlen)
{
	struct netcard *nc = calloc(1, sizeof(*nc));
	char msg[NETCTL_MSG_LEN + 64];
	uint32_t seq;
	bool adopted;
	int rc;

	if (!nc) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	nc->cfg = *cfg;
	nc->pidfd = nc->ctl = nc->udp_fd = nc->keyx_fd = -1;
	*out = nc;
	adopted = adopt(nc);
	if (cfg->underlay_addr) {
		if (adopted)
			ul_take_back(nc);
		/* A card started without these sockets gets them at its next
		 * restart, which waits for an idle card like any change it
		 * cannot take live. */
		if (adopted && nc->udp_fd < 0)
			nc->pending = true;
		if ((nc->udp_fd < 0 && (rc = ul_open(nc, err, errlen))) ||
		    (rc = ul_load(nc, err, errlen)))
			return rc;
	}
	/* A random start: no reply queued for a previous controller can
	 * carry a seq this one waits for. */
	if (getrandom(&seq, sizeof(seq), 0) == sizeof(seq))
		nc->seq = seq;
	if (adopted) {
		/* Attachments of instances that ended meanwhile go. */
		for (unsigned i = 0; i < nc->n_att;) {
			if (cfg->running(cfg->opaque, nc->att[i].instance)) {
				rc = call_id(nc, NETCTL_QUERY, nc->att[i].eni, -1, msg, sizeof(msg));
				if (rc && rc != -ENOLINK)
					log_warn("ward-net no longer serves a recorded ENI", "eni=%s "
						 "reason=\"%s\"", nc->att[i].eni, msg);
				i++;
				continue;
			}
			netcard_instance_gone(nc, nc->att[i].instance, "instance ended while the "
					      "controller was down");
		}
		return netcard_sync(nc, "adopted");
	}
	/* No card to take back: a new one, with the attachments of the
	 * instances still running made again. */
	for (unsigned i = 0; i < nc->n_att;) {
		if (cfg->running(cfg->opaque, nc->att[i].instance)) {
			i++;
			continue;
		}
		nc->att[i] = nc->att[--nc->n_att];
	}
	if (!cfg->have_image) {
		log_warn("no verified ward-net image: instances get no network", "enis=%u",
			 nc->n_att);
		return 0;
	}
	return restart(nc, "started");
}

void netcard_close(struct netcard *nc)
{
	if (!nc)
		return;
	if (nc->ev)
		event_free(nc->ev);
	nc->ev = NULL;
	if (nc->ctl >= 0)
		close(nc->ctl);
	if (nc->pidfd >= 0)
		close(nc->pidfd);
	for (unsigned i = 0; i < nc->n_att; i++)
		if (nc->att[i].fe >= 0)
			close(nc->att[i].fe);
	free(nc->have);
	json_decref(nc->have_json);
	if (nc->udp_fd >= 0)
		close(nc->udp_fd);
	if (nc->keyx_fd >= 0)
		close(nc->keyx_fd);
	json_decref(nc->ul);
	free(nc);
}

int netcard_sync(struct netcard *nc, const char *why)
{
	const json_t *m;
	struct vpc_cfg *b;
	unsigned sent, failed;

	if (!nc || !nc->cfg.have_image)
		return 0;
	m = vpcstore_model(nc->cfg.vpcs);
	if (model_empty(m)) {
		/* Nothing to serve; a card with attachments cannot exist here
		 * (an attached ENI is never deleted). */
		if (nc->pid && !nc->n_att) {
			stop(nc);
			audit(nc, "stopped", json_pack("{s:s}", "reason", "the model has no VPC"));
			save(nc);
		}
		return 0;
	}
	if (!nc->have)
		return restart(nc, "started");
	/* What waited for an idle card goes as soon as the card is idle: a
	 * refused push or a card re-adopted without its underlay sockets can
	 * leave it pending with nothing attached. */
	if (nc->pending && !nc->n_att)
		return restart(nc, "restarted with a new model");
	if (!(b = model_parse(m)))
		return -EINVAL;
	if (!nc->pending && !same_structure(nc->have, b)) {
		if (!nc->n_att) {
			/* Nothing attached, so no flow to lose: the card
			 * starts again with the whole model. */
			free(b);
			return restart(nc, "restarted with a new model");
		}
		nc->pending = true;
		log_warn("a VPC, subnet, ENI or NACL association changed while ENIs are attached: "
			 "ward-net gets it when none is", "why=%s enis=%u", why, nc->n_att);
		audit(nc, "model pending", json_pack("{s:s, s:I}", "why", why, "enis",
						     (json_int_t)nc->n_att));
	}
	sent = push_diff(nc, nc->have, b, &failed);
	if (sent)
		audit(nc, "model pushed", json_pack("{s:s, s:I, s:I}", "why", why, "messages",
						    (json_int_t)sent, "refused", (json_int_t)failed));
	if (failed && !nc->pending) {
		/* The card's model is no longer known exactly: rebuilt from
		 * the whole model as soon as it is idle. */
		nc->pending = true;
		audit(nc, "model pending", json_pack("{s:s, s:I}", "why", "a change was refused",
						     "enis", (json_int_t)nc->n_att));
	}
	free(nc->have);
	nc->have = b;
	json_decref(nc->have_json);
	nc->have_json = json_deep_copy(m);
	save(nc);
	if (sent)
		log_info("ward-net model pushed", "why=%s messages=%u refused=%u", why, sent, failed);
	if (nc->pending && !nc->n_att)
		return restart(nc, "restarted with a new model");
	return failed ? -EPROTO : 0;
}

const char *netcard_eni_user(const struct netcard *nc, const char *eni)
{
	for (unsigned i = 0; nc && i < nc->n_att; i++)
		if (!strcmp(nc->att[i].eni, eni))
			return nc->att[i].instance;
	return NULL;
}

/* The ENI id's object in a model (its "enis" array), or NULL. */
static const json_t *model_eni(const json_t *model, const char *id)
{
	const json_t *e;
	size_t i;

	json_array_foreach(json_object_get(model, "enis"), i, e) {
		const char *eid = json_string_value(json_object_get(e, "id"));

		if (eid && !strcmp(eid, id))
			return e;
	}
	return NULL;
}

int netcard_attach(struct netcard *nc, const char *instance, const char *eni, int *hv_fd,
		   int *http, const char **code, char *err, size_t errlen)
{
	char msg[NETCTL_MSG_LEN + 64];
	const char *user;
	int vu[2], rc;

	*hv_fd = -1;
	*http = 503;
	*code = "net_unavailable";
	if (!nc) {
		snprintf(err, errlen, "this controller has no VPC card");
		return -ENOTCONN;
	}
	*http = 409;
	*code = "eni_in_use";
	if ((user = netcard_eni_user(nc, eni))) {
		snprintf(err, errlen, "ENI %s is attached to instance %s", eni, user);
		return -EBUSY;
	}
	if (!nc->have || nc->ctl < 0) {
		*http = 503;
		*code = "net_unavailable";
		snprintf(err, errlen, "%s", nc->cfg.have_image ? "ward-net is not running (the model "
			 "has no VPC, or the card failed)" : "no verified ward-net image is available");
		return -ENOTCONN;
	}
	/* Only an ENI of the model as it stands, as the card holds it: while
	 * a change waits for an idle card, the card may still know an ENI the
	 * control plane deleted or changed since. */
	if (!model_eni(vpcstore_model(nc->cfg.vpcs), eni)) {
		*http = 404;
		*code = "not_found";
		snprintf(err, errlen, "no ENI %s in this host's VPC model", eni);
		return -ENOENT;
	}
	if (nc->pending && !json_equal(model_eni(vpcstore_model(nc->cfg.vpcs), eni),
				       model_eni(nc->have_json, eni))) {
		*code = "net_model_pending";
		snprintf(err, errlen, "ENI %s changed since the model ward-net holds: ward-net "
			 "takes VPCs, subnets and ENIs only while no ENI is attached "
			 "(docs/net.md)", eni);
		return -EAGAIN;
	}
	if (nc->n_att == INST_MAX) {
		*code = "host_full";
		snprintf(err, errlen, "%d ENIs attached already", INST_MAX);
		return -ENOSPC;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, vu)) {
		*http = 500;
		*code = "internal";
		snprintf(err, errlen, "cannot create the vhost-user socketpair");
		return -errno;
	}
	rc = call_id(nc, NETCTL_ATTACH, eni, vu[1], msg, sizeof(msg));
	close(vu[1]);
	if (rc) {
		close(vu[0]);
		if (rc == -ENOENT && nc->pending) {
			*code = "net_model_pending";
			snprintf(err, errlen, "ENI %s is newer than the model ward-net holds: ward-net "
				 "takes VPCs, subnets and ENIs only while no ENI is attached "
				 "(docs/net.md)", eni);
		} else if (rc == -ENOENT) {
			*http = 404;
			*code = "not_found";
			snprintf(err, errlen, "no ENI %s", eni);
		} else {
			*http = 500;
			*code = "net_attach_failed";
			snprintf(err, errlen, "ward-net refused ATTACH of %s: %s", eni, msg);
		}
		audit(nc, "attach refused", json_pack("{s:s, s:s, s:s}", "instance", instance, "eni",
						      eni, "reason", err));
		return rc;
	}
	snprintf(nc->att[nc->n_att].instance, sizeof(nc->att[0].instance), "%s", instance);
	snprintf(nc->att[nc->n_att].eni, sizeof(nc->att[0].eni), "%s", eni);
	nc->att[nc->n_att++].fe = -1;
	save(nc);
	audit(nc, "attached", json_pack("{s:s, s:s}", "instance", instance, "eni", eni));
	log_info("ENI attached in ward-net", "eni=%s instance=%s", eni, instance);
	*hv_fd = vu[0];
	return 0;
}

void netcard_instance_gone(struct netcard *nc, const char *instance_in, const char *why)
{
	char msg[NETCTL_MSG_LEN + 64], instance[sizeof(nc->att[0].instance)];
	bool any = false;
	int rc;

	/* A copy: the caller may pass an att[] entry's own id, which the
	 * removal below overwrites with the last entry's. */
	snprintf(instance, sizeof(instance), "%s", instance_in);
	for (unsigned i = 0; nc && i < nc->n_att;) {
		struct nc_att *a = &nc->att[i];

		if (strcmp(a->instance, instance)) {
			i++;
			continue;
		}
		rc = nc->ctl >= 0 ? call_id(nc, NETCTL_DETACH, a->eni, -1, msg, sizeof(msg)) : 0;
		if (rc && rc != -ENOENT)
			log_warn("ward-net refused DETACH", "eni=%s reason=\"%s\"", a->eni, msg);
		log_info("ENI detached from ward-net", "eni=%s instance=%s", a->eni, instance);
		audit(nc, "detached", json_pack("{s:s, s:s, s:s}", "instance", instance, "eni",
						a->eni, "reason", why));
		if (a->fe >= 0)
			close(a->fe);
		*a = nc->att[--nc->n_att];
		any = true;
	}
	if (!any)
		return;
	save(nc);
	/* The card is idle now: what was pending can reach it. */
	if (nc->pending && !nc->n_att)
		restart(nc, "restarted with a new model");
}

json_t *netcard_list(struct netcard *nc, const char *instance)
{
	char msg[NETCTL_MSG_LEN + 64];
	json_t *arr = json_array();

	for (unsigned i = 0; nc && arr && i < nc->n_att; i++) {
		int rc;

		if (strcmp(nc->att[i].instance, instance))
			continue;
		rc = call_id(nc, NETCTL_QUERY, nc->att[i].eni, -1, msg, sizeof(msg));
		json_array_append_new(arr, json_pack("{s:s, s:s}", "eni", nc->att[i].eni, "card",
						     rc == 0 ? "attached" : rc == -ENOLINK ?
						     "frontend gone" : rc == -ENOENT ?
						     "not attached" : "no answer"));
	}
	return arr;
}
