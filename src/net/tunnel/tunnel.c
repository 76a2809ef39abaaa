/* tunnel: seal/open of ward-net's Geneve underlay, per-peer security
 * associations (one per key epoch, at most a current and a previous one),
 * and the (VNI, IPv4) -> host mapping table. Wire format and key schedule:
 * docs/formats.md "Underlay"; why it is built this way: docs/net.md. */
#include "tunnel.h"

#include "log.h"
#include "replay.h"
#include "secmem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define ETH_HLEN 14
#define ETH_P_IPV4 0x0800
#define IPV4_MIN 20
#define NONCE_LEN 12
#define MAP_BUCKETS 4096u /* power of two */
#define NO_RETIRE UINT64_MAX

/* Secret per-SA state that is not inside an EVP context: the nonce salts.
 * The raw keys live only in the caller's secure buffer while installing. */
struct sa_secret {
	uint8_t tx_salt[TUNNEL_SALT_LEN];
	uint8_t rx_salt[TUNNEL_SALT_LEN];
};

struct sa {
	uint32_t epoch;
	EVP_CIPHER_CTX *tx, *rx; /* keyed once; only the IV changes per packet */
	struct sa_secret *sec;   /* secmem */
	uint64_t tx_seq;         /* last sequence number sent */
	uint64_t installed_at;
	uint64_t retire_at;      /* receive refused from then on (NO_RETIRE: open) */
	struct tunnel_replay win;
};

struct peer {
	char id[TUNNEL_HOST_ID_MAX + 1];
	uint32_t addr;
	struct sa *cur, *prev; /* newest installed, and the one before it */
	struct sa *tx;         /* cur once activated, prev until then */
	struct sa *limbo;      /* installed, never activated here, replaced:
				* the peer may have activated it (receive only,
				* for the grace period) */
};

struct map_ent {
	struct map_ent *next;
	uint32_t vni, ip;
	struct peer *owner; /* NULL: this host */
};

struct tunnel {
	struct tunnel_cfg cfg;
	char local_id[TUNNEL_HOST_ID_MAX + 1];
	struct peer **peers;
	size_t npeers, cap_peers;
	struct map_ent *map[MAP_BUCKETS];
	struct tunnel_stats st;
	/* One lock for everything: the data path (encap/decap) and the control
	 * side (keys from keyx's thread, the table from the controller) meet
	 * only here. Uncontended it costs a few ns against ~0.5 us of GCM for a
	 * 1500-byte frame; see docs/net.md for how several data path threads
	 * will get their own. */
	pthread_mutex_t lock;
};

bool tunnel_host_id_valid(const char *id)
{
	size_t n = 0;

	if (!id)
		return false;
	for (; id[n]; n++) {
		char c = id[n];

		if (n >= TUNNEL_HOST_ID_MAX ||
		    !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return n > 0;
}

int tunnel_create(const struct tunnel_cfg *cfg, struct tunnel **out)
{
	struct tunnel *t;

	if (!cfg || !tunnel_host_id_valid(cfg->local_id))
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cfg = *cfg;
	strcpy(t->local_id, cfg->local_id);
	t->cfg.local_id = t->local_id;
	if (!t->cfg.rekey_after_s)
		t->cfg.rekey_after_s = TUNNEL_DEFAULT_REKEY_S;
	if (!t->cfg.rekey_after_pkts)
		t->cfg.rekey_after_pkts = TUNNEL_DEFAULT_REKEY_PKTS;
	if (!t->cfg.expire_after_s)
		t->cfg.expire_after_s = 2 * t->cfg.rekey_after_s;
	if (!t->cfg.expire_after_pkts)
		t->cfg.expire_after_pkts = 2 * t->cfg.rekey_after_pkts;
	if (!t->cfg.grace_s)
		t->cfg.grace_s = TUNNEL_DEFAULT_GRACE_S;
	if (t->cfg.expire_after_s < t->cfg.rekey_after_s ||
	    t->cfg.expire_after_pkts < t->cfg.rekey_after_pkts) {
		free(t);
		return -EINVAL;
	}
	pthread_mutex_init(&t->lock, NULL);
	if (cfg->debug_plaintext)
		log_warn("underlay in DEBUG PLAINTEXT mode: nothing between hosts is encrypted",
			 "local=%s", t->local_id);
	*out = t;
	return 0;
}

static void sa_free(struct sa *sa)
{
	if (!sa)
		return;
	EVP_CIPHER_CTX_free(sa->tx); /* cleanses the key schedule */
	EVP_CIPHER_CTX_free(sa->rx);
	secmem_free(sa->sec, sizeof(*sa->sec));
	free(sa);
}

static void peer_free(struct peer *p)
{
	sa_free(p->limbo);
	sa_free(p->prev);
	sa_free(p->cur);
	free(p);
}

static void map_purge(struct tunnel *t, const struct peer *owner, bool all)
{
	for (size_t b = 0; b < MAP_BUCKETS; b++) {
		struct map_ent **pp = &t->map[b];

		while (*pp) {
			struct map_ent *e = *pp;

			if (all || e->owner == owner) {
				*pp = e->next;
				free(e);
			} else {
				pp = &e->next;
			}
		}
	}
}

void tunnel_destroy(struct tunnel *t)
{
	if (!t)
		return;
	map_purge(t, NULL, true);
	for (size_t i = 0; i < t->npeers; i++)
		peer_free(t->peers[i]);
	free(t->peers);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

const char *tunnel_local_id(const struct tunnel *t)
{
	return t->local_id;
}


static struct peer *peer_by_id(const struct tunnel *t, const char *id)
{
	for (size_t i = 0; i < t->npeers; i++)
		if (!strcmp(t->peers[i]->id, id))
			return t->peers[i];
	return NULL;
}

/* Linear: a host has one entry per other host it talks to (tens to
 * hundreds); a hash keyed by address replaces this when that grows. */
static struct peer *peer_by_addr(const struct tunnel *t, uint32_t addr)
{
	for (size_t i = 0; i < t->npeers; i++)
		if (t->peers[i]->addr == addr)
			return t->peers[i];
	return NULL;
}

static int peer_add_nolock(struct tunnel *t, const char *host_id, uint32_t addr)
{
	struct peer *p;

	if (!tunnel_host_id_valid(host_id) || !strcmp(host_id, t->local_id) || addr == 0)
		return -EINVAL;
	if (peer_by_id(t, host_id) || peer_by_addr(t, addr))
		return -EEXIST;
	if (t->npeers == t->cap_peers) {
		size_t n = t->cap_peers ? 2 * t->cap_peers : 8;
		struct peer **np = realloc(t->peers, n * sizeof(*np));

		if (!np)
			return -ENOMEM;
		t->peers = np;
		t->cap_peers = n;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	strcpy(p->id, host_id);
	p->addr = addr;
	t->peers[t->npeers++] = p;
	return 0;
}

static int peer_remove_nolock(struct tunnel *t, const char *host_id)
{
	for (size_t i = 0; i < t->npeers; i++) {
		if (strcmp(t->peers[i]->id, host_id))
			continue;
		map_purge(t, t->peers[i], false);
		peer_free(t->peers[i]);
		t->peers[i] = t->peers[--t->npeers];
		return 0;
	}
	return -ENOENT;
}

static int peer_addr_nolock(const struct tunnel *t, const char *host_id, uint32_t *addr)
{
	const struct peer *p = peer_by_id(t, host_id);

	if (!p)
		return -ENOENT;
	*addr = p->addr;
	return 0;
}


/* ---- mapping table ---- */

static uint32_t map_hash(uint32_t vni, uint32_t ip)
{
	uint64_t h = ((uint64_t)vni << 32 | ip) * 0x9E3779B97F4A7C15ull;

	return (uint32_t)(h >> 40) & (MAP_BUCKETS - 1);
}

static struct map_ent *map_find(const struct tunnel *t, uint32_t vni, uint32_t ip)
{
	for (struct map_ent *e = t->map[map_hash(vni, ip)]; e; e = e->next)
		if (e->vni == vni && e->ip == ip)
			return e;
	return NULL;
}

static int map_set_nolock(struct tunnel *t, uint32_t vni, uint32_t ip, const char *host_id)
{
	struct peer *owner = NULL;
	struct map_ent *e;
	uint32_t b;

	if (vni > TUNNEL_VNI_MAX || !host_id)
		return -EINVAL;
	if (strcmp(host_id, t->local_id)) {
		owner = peer_by_id(t, host_id);
		if (!owner)
			return -ENOENT;
	}
	e = map_find(t, vni, ip);
	if (e) {
		e->owner = owner;
		return 0;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->vni = vni;
	e->ip = ip;
	e->owner = owner;
	b = map_hash(vni, ip);
	e->next = t->map[b];
	t->map[b] = e;
	return 0;
}

static int map_del_nolock(struct tunnel *t, uint32_t vni, uint32_t ip)
{
	for (struct map_ent **pp = &t->map[map_hash(vni, ip)]; *pp; pp = &(*pp)->next) {
		struct map_ent *e = *pp;

		if (e->vni == vni && e->ip == ip) {
			*pp = e->next;
			free(e);
			return 0;
		}
	}
	return -ENOENT;
}


/* ---- keys ---- */

static EVP_CIPHER_CTX *gcm_ctx(const uint8_t key[TUNNEL_KEY_LEN], int enc)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();

	if (!c)
		return NULL;
	if (EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) != 1 ||
	    EVP_CipherInit_ex(c, NULL, NULL, key, NULL, enc) != 1) {
		EVP_CIPHER_CTX_free(c);
		return NULL;
	}
	return c;
}

/* Layout of the exporter output: docs/formats.md "Underlay keys". */
static struct sa *sa_new(uint32_t epoch, enum tunnel_role role,
			 const uint8_t m[TUNNEL_KEY_MATERIAL_LEN], uint64_t now)
{
	const uint8_t *k_i2r = m, *k_r2i = m + TUNNEL_KEY_LEN;
	const uint8_t *s_i2r = m + 2 * TUNNEL_KEY_LEN, *s_r2i = s_i2r + TUNNEL_SALT_LEN;
	bool ini = role == TUNNEL_INITIATOR;
	struct sa *sa = calloc(1, sizeof(*sa));

	if (!sa)
		return NULL;
	sa->sec = secmem_alloc(sizeof(*sa->sec));
	if (!sa->sec)
		goto err_free;
	sa->tx = gcm_ctx(ini ? k_i2r : k_r2i, 1);
	sa->rx = gcm_ctx(ini ? k_r2i : k_i2r, 0);
	if (!sa->tx || !sa->rx)
		goto err_free;
	memcpy(sa->sec->tx_salt, ini ? s_i2r : s_r2i, TUNNEL_SALT_LEN);
	memcpy(sa->sec->rx_salt, ini ? s_r2i : s_i2r, TUNNEL_SALT_LEN);
	sa->epoch = epoch;
	sa->installed_at = now;
	sa->retire_at = NO_RETIRE;
	tunnel_replay_init(&sa->win);
	return sa;
err_free:
	sa_free(sa);
	return NULL;
}

static int peer_install_nolock(struct tunnel *t, const char *host_id, uint32_t epoch,
			       enum tunnel_role role, const uint8_t material[TUNNEL_KEY_MATERIAL_LEN],
			       uint64_t now)
{
	struct peer *p = peer_by_id(t, host_id);
	struct sa *sa;

	if (!p)
		return -ENOENT;
	if (epoch == 0 || (p->cur && epoch <= p->cur->epoch))
		return -ESTALE;
	sa = sa_new(epoch, role, material, now);
	if (!sa)
		return -ENOMEM;
	if (p->tx == p->cur) {
		/* Normal rotation: the epoch before the current one goes now; the
		 * current one keeps sending (and receiving) until the new one is
		 * activated. */
		sa_free(p->prev);
		p->prev = p->cur;
	} else {
		/* The current epoch was installed but never activated here (that
		 * key exchange failed half-way). The peer may have activated it
		 * (it saw our RDY1, we missed its): keep receiving under it for
		 * the grace period while the new one takes its place. */
		sa_free(p->limbo);
		p->limbo = p->cur;
		p->limbo->retire_at = now + t->cfg.grace_s;
	}
	p->cur = sa;
	log_info("underlay key installed", "peer=%s epoch=%u", p->id, epoch);
	return 0;
}

static int peer_activate_nolock(struct tunnel *t, const char *host_id, uint32_t epoch, uint64_t now)
{
	struct peer *p = peer_by_id(t, host_id);

	if (!p)
		return -ENOENT;
	if (!p->cur || p->cur->epoch != epoch)
		return -ESTALE;
	p->tx = p->cur;
	/* The peer may still send with the old key for a while (packets in
	 * flight, or it activates after us): accept it for the grace period. */
	if (p->prev)
		p->prev->retire_at = now + t->cfg.grace_s;
	return 0;
}

static uint32_t peer_epoch_nolock(const struct tunnel *t, const char *host_id)
{
	const struct peer *p = peer_by_id(t, host_id);

	return p && p->cur ? p->cur->epoch : 0;
}

static bool sa_past(const struct sa *sa, uint64_t after_s, uint64_t after_pkts, uint64_t now)
{
	return now - sa->installed_at >= after_s || sa->tx_seq >= after_pkts;
}

bool tunnel_initiates(const struct tunnel *t, const char *peer_id)
{
	return strcmp(t->local_id, peer_id) < 0;
}

static bool peer_rekey_due_nolock(const struct tunnel *t, const char *host_id, uint64_t now)
{
	const struct peer *p = peer_by_id(t, host_id);

	if (!p)
		return false;
	return !p->tx || sa_past(p->tx, t->cfg.rekey_after_s, t->cfg.rekey_after_pkts, now);
}

/* ---- data path ---- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* Inner IPv4 address at `off` in the IP header (12 = source, 16 = dest),
 * network byte order; -1 when the frame is not IPv4 over Ethernet. ARP
 * never crosses hosts (ward-net answers it), other protocols are not
 * carried. */
static int inner_ipv4(const uint8_t *f, size_t len, size_t off, uint32_t *ip)
{
	if (len < ETH_HLEN + IPV4_MIN || get16(f + 12) != ETH_P_IPV4 || (f[ETH_HLEN] >> 4) != 4)
		return -1;
	memcpy(ip, f + ETH_HLEN + off, 4);
	return 0;
}

static void geneve_base(uint8_t *h, uint8_t optlen_words, bool critical, uint32_t vni)
{
	h[0] = optlen_words & 0x3f;             /* Ver 0 | Opt Len */
	h[1] = critical ? 0x40 : 0x00;          /* O = 0, C */
	put16(h + 2, TUNNEL_GENEVE_PROTO);
	put32(h + 4, vni << 8);                 /* VNI | reserved */
}

static void nonce_make(uint8_t n[NONCE_LEN], const uint8_t salt[TUNNEL_SALT_LEN], uint64_t seq)
{
	memcpy(n, salt, TUNNEL_SALT_LEN);
	put64(n + TUNNEL_SALT_LEN, seq);
}

static int gcm_seal(EVP_CIPHER_CTX *c, const uint8_t nonce[NONCE_LEN], const uint8_t *aad,
		    size_t aadlen, const uint8_t *in, size_t len, uint8_t *out)
{
	int n, f;

	if (EVP_EncryptInit_ex(c, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &n, aad, (int)aadlen) != 1 ||
	    EVP_EncryptUpdate(c, out, &n, in, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(c, out + n, &f) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TUNNEL_TAG_LEN, out + len) != 1)
		return -EIO;
	return 0;
}

static int gcm_open(EVP_CIPHER_CTX *c, const uint8_t nonce[NONCE_LEN], const uint8_t *aad,
		    size_t aadlen, const uint8_t *in, size_t len, const uint8_t *tag, uint8_t *out)
{
	int n, f;

	if (EVP_DecryptInit_ex(c, NULL, NULL, NULL, nonce) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &n, aad, (int)aadlen) != 1 ||
	    EVP_DecryptUpdate(c, out, &n, in, (int)len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TUNNEL_TAG_LEN, (void *)tag) != 1)
		return -EIO;
	/* Final compares the tag in constant time; on failure the plaintext
	 * already written to `out` is wiped by the caller's contract (unused). */
	if (EVP_DecryptFinal_ex(c, out + n, &f) != 1)
		return -EBADMSG;
	return 0;
}

static long encap_nolock(struct tunnel *t, uint32_t vni, const uint8_t *frame, size_t len,
			 uint8_t *out, size_t cap, uint32_t *dst, uint64_t now)
{
	const struct map_ent *e;
	struct peer *p;
	struct sa *sa;
	uint8_t nonce[NONCE_LEN];
	uint32_t ip;

	if (vni > TUNNEL_VNI_MAX || len > TUNNEL_MAX_FRAME || inner_ipv4(frame, len, 16, &ip)) {
		t->st.tx_bad_frame++;
		return -EINVAL;
	}
	if (cap < len + (t->cfg.debug_plaintext ? TUNNEL_PLAIN_HDR_LEN : TUNNEL_OVERHEAD)) {
		t->st.tx_bad_frame++;
		return -EMSGSIZE;
	}
	e = map_find(t, vni, ip);
	if (!e) {
		t->st.tx_unknown_dst++;
		return -EHOSTUNREACH;
	}
	if (!e->owner) {
		t->st.tx_local++;
		return -ELOOP;
	}
	p = e->owner;
	*dst = p->addr;
	if (t->cfg.debug_plaintext) {
		geneve_base(out, 0, false, vni);
		memcpy(out + TUNNEL_PLAIN_HDR_LEN, frame, len);
		t->st.tx_ok++;
		return (long)(len + TUNNEL_PLAIN_HDR_LEN);
	}
	sa = p->tx;
	if (!sa) {
		t->st.tx_no_key++;
		return -ENOKEY;
	}
	if (sa_past(sa, t->cfg.expire_after_s, t->cfg.expire_after_pkts, now)) {
		t->st.tx_no_key++;
		return -EKEYEXPIRED;
	}
	sa->tx_seq++; /* never reused, even if sealing fails below */
	geneve_base(out, (TUNNEL_HDR_LEN - 8) / 4, true, vni);
	put16(out + 8, TUNNEL_OPT_CLASS);
	out[10] = TUNNEL_OPT_TYPE;
	out[11] = (TUNNEL_HDR_LEN - 12) / 4; /* R = 0 | option data length in words */
	put32(out + 12, sa->epoch);
	put64(out + 16, sa->tx_seq);
	nonce_make(nonce, sa->sec->tx_salt, sa->tx_seq);
	if (gcm_seal(sa->tx, nonce, out, TUNNEL_HDR_LEN, frame, len, out + TUNNEL_HDR_LEN)) {
		t->st.tx_no_key++;
		return -EIO;
	}
	t->st.tx_ok++;
	return (long)(len + TUNNEL_OVERHEAD);
}

/* The sender's host must own the inner source address in this VPC: a host
 * cannot inject traffic in the name of another host's guests. */
static long rx_check_owner(struct tunnel *t, const struct peer *p, uint32_t vni,
			   const uint8_t *f, size_t len)
{
	const struct map_ent *e;
	uint32_t ip;

	if (inner_ipv4(f, len, 12, &ip)) {
		t->st.rx_bad_frame++;
		return -EBADMSG;
	}
	e = map_find(t, vni, ip);
	if (!e || e->owner != p) {
		t->st.rx_spoofed++;
		return -EPERM;
	}
	t->st.rx_ok++;
	return (long)len;
}

static struct sa *rx_sa(struct peer *p, uint32_t epoch, uint64_t now)
{
	if (p->cur && p->cur->epoch == epoch)
		return p->cur;
	if (p->prev && p->prev->epoch == epoch && now < p->prev->retire_at)
		return p->prev;
	if (p->limbo && p->limbo->epoch == epoch && now < p->limbo->retire_at)
		return p->limbo;
	return NULL;
}

/* The receive side's header parsing, apart from the peer and key state so
 * that it is analysed on its own (proofs/geneve, docs/proofs.md). */

/* The Geneve base header (RFC 8926 §3.4) as ward-net sends it: version 0,
 * no O bit, Transparent Ethernet Bridging, reserved byte 0. Returns the
 * header length with options (8..260), or 0 when malformed; *vni is set
 * then. */
static size_t geneve_rx_base(const uint8_t *pkt, size_t len, uint32_t *vni)
{
	if (len < TUNNEL_PLAIN_HDR_LEN || (pkt[0] >> 6) != 0 || (pkt[1] & 0x80) ||
	    get16(pkt + 2) != TUNNEL_GENEVE_PROTO || pkt[7] != 0)
		return 0;
	*vni = get32(pkt + 4) >> 8;
	return 8 + (size_t)(pkt[0] & 0x3f) * 4;
}

/* Exactly our one option, critical bit set in both places, and the whole
 * header and tag there, sealing at most TUNNEL_MAX_FRAME: 0 with the
 * option's epoch and sequence number, or -EBADMSG. The length first:
 * nothing past byte 8 is read before it is known to be there. */
static int geneve_rx_option(const uint8_t *pkt, size_t len, size_t hl, uint32_t *epoch,
			    uint64_t *seq)
{
	if (len < TUNNEL_OVERHEAD || len - TUNNEL_OVERHEAD > TUNNEL_MAX_FRAME ||
	    hl != TUNNEL_HDR_LEN || pkt[1] != 0x40 || get16(pkt + 8) != TUNNEL_OPT_CLASS ||
	    pkt[10] != TUNNEL_OPT_TYPE || pkt[11] != (TUNNEL_HDR_LEN - 12) / 4)
		return -EBADMSG;
	*epoch = get32(pkt + 12);
	*seq = get64(pkt + 16);
	return 0;
}

static long decap_nolock(struct tunnel *t, uint32_t src, const uint8_t *pkt, size_t len,
			 uint8_t *out, size_t cap, uint32_t *vni, uint64_t now)
{
	struct peer *p;
	struct sa *sa;
	uint8_t nonce[NONCE_LEN];
	size_t hl, clen;
	uint32_t v = 0, epoch;
	uint64_t seq;
	bool opts;

	hl = geneve_rx_base(pkt, len, &v);
	if (!hl) {
		t->st.rx_malformed++;
		return -EBADMSG;
	}
	opts = hl > 8;
	if (opts != !t->cfg.debug_plaintext) {
		t->st.rx_plaintext++;
		return -EPROTO;
	}
	*vni = v;
	p = peer_by_addr(t, src);
	if (!p) {
		t->st.rx_unknown_peer++;
		return -ENOENT;
	}
	if (!opts) {
		if (len - hl > cap || len - hl > TUNNEL_MAX_FRAME) {
			t->st.rx_malformed++;
			return -EMSGSIZE;
		}
		memcpy(out, pkt + hl, len - hl);
		return rx_check_owner(t, p, *vni, out, len - hl);
	}
	if (geneve_rx_option(pkt, len, hl, &epoch, &seq)) {
		t->st.rx_malformed++;
		return -EBADMSG;
	}
	clen = len - TUNNEL_OVERHEAD;
	if (clen > cap) {
		t->st.rx_malformed++;
		return -EMSGSIZE;
	}
	sa = rx_sa(p, epoch, now);
	if (!sa) {
		t->st.rx_unknown_key++;
		return -ENOKEY;
	}
	if (tunnel_replay_check(&sa->win, seq) != TUNNEL_REPLAY_OK) {
		t->st.rx_replay++;
		return -EALREADY;
	}
	nonce_make(nonce, sa->sec->rx_salt, seq);
	if (gcm_open(sa->rx, nonce, pkt, TUNNEL_HDR_LEN, pkt + TUNNEL_HDR_LEN, clen,
		     pkt + TUNNEL_HDR_LEN + clen, out)) {
		OPENSSL_cleanse(out, clen);
		t->st.rx_auth_fail++;
		return -EBADMSG;
	}
	/* Only an authenticated packet moves the window (RFC 4303 §3.4.3). */
	tunnel_replay_update(&sa->win, seq);
	return rx_check_owner(t, p, *vni, out, clen);
}

/* ---- the public, locked entry points ---- */

#define LOCKED(t, expr)                                                   \
	({                                                                \
		pthread_mutex_t *l_ = (pthread_mutex_t *)&(t)->lock;      \
		pthread_mutex_lock(l_);                                   \
		__typeof__(expr) r_ = (expr);                             \
		pthread_mutex_unlock(l_);                                 \
		r_;                                                       \
	})

int tunnel_peer_add(struct tunnel *t, const char *host_id, uint32_t addr)
{
	return LOCKED(t, peer_add_nolock(t, host_id, addr));
}

int tunnel_peer_remove(struct tunnel *t, const char *host_id)
{
	return LOCKED(t, peer_remove_nolock(t, host_id));
}

int tunnel_peer_addr(const struct tunnel *t, const char *host_id, uint32_t *addr)
{
	return LOCKED(t, peer_addr_nolock(t, host_id, addr));
}

static int copy_id(char out[TUNNEL_HOST_ID_MAX + 1], const char *id)
{
	if (!id)
		return -ENOENT;
	strcpy(out, id);
	return 0;
}

size_t tunnel_peer_count(const struct tunnel *t)
{
	return LOCKED(t, t->npeers);
}

int tunnel_peer_id(const struct tunnel *t, size_t i, char out[TUNNEL_HOST_ID_MAX + 1])
{
	return LOCKED(t, copy_id(out, i < t->npeers ? t->peers[i]->id : NULL));
}

int tunnel_map_set(struct tunnel *t, uint32_t vni, uint32_t ip, const char *host_id)
{
	return LOCKED(t, map_set_nolock(t, vni, ip, host_id));
}

int tunnel_map_del(struct tunnel *t, uint32_t vni, uint32_t ip)
{
	return LOCKED(t, map_del_nolock(t, vni, ip));
}

static const char *map_owner(const struct tunnel *t, uint32_t vni, uint32_t ip)
{
	const struct map_ent *e = map_find(t, vni, ip);

	if (!e)
		return NULL;
	return e->owner ? e->owner->id : t->local_id;
}

int tunnel_map_lookup(const struct tunnel *t, uint32_t vni, uint32_t ip,
		      char out[TUNNEL_HOST_ID_MAX + 1])
{
	return LOCKED(t, copy_id(out, map_owner(t, vni, ip)));
}

static int stats_copy(const struct tunnel *t, struct tunnel_stats *out)
{
	*out = t->st;
	return 0;
}

void tunnel_stats_read(const struct tunnel *t, struct tunnel_stats *out)
{
	(void)LOCKED(t, stats_copy(t, out));
}

int tunnel_peer_install(struct tunnel *t, const char *host_id, uint32_t epoch,
			enum tunnel_role role, const uint8_t material[TUNNEL_KEY_MATERIAL_LEN],
			uint64_t now)
{
	return LOCKED(t, peer_install_nolock(t, host_id, epoch, role, material, now));
}

int tunnel_peer_activate(struct tunnel *t, const char *host_id, uint32_t epoch, uint64_t now)
{
	return LOCKED(t, peer_activate_nolock(t, host_id, epoch, now));
}

uint32_t tunnel_peer_epoch(const struct tunnel *t, const char *host_id)
{
	return LOCKED(t, peer_epoch_nolock(t, host_id));
}

bool tunnel_peer_rekey_due(const struct tunnel *t, const char *host_id, uint64_t now)
{
	return LOCKED(t, peer_rekey_due_nolock(t, host_id, now));
}

long tunnel_encap(struct tunnel *t, uint32_t vni, const uint8_t *frame, size_t len,
		  uint8_t *out, size_t cap, uint32_t *dst, uint64_t now)
{
	return LOCKED(t, encap_nolock(t, vni, frame, len, out, cap, dst, now));
}

long tunnel_decap(struct tunnel *t, uint32_t src, const uint8_t *pkt, size_t len,
		  uint8_t *out, size_t cap, uint32_t *vni, uint64_t now)
{
	return LOCKED(t, decap_nolock(t, src, pkt, len, out, cap, vni, now));
}
