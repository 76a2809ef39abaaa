/* tunnel: ward-net's encrypted underlay between hosts. Geneve (RFC 8926,
 * UDP 6081, VNI = VPC, inner Ethernet 0x6558) whose payload is AES-256-GCM
 * sealed with per-host-pair, per-direction keys (from keyx.h's TLS 1.3
 * exporter), a replay window, and the mapping table (VPC, IP) -> host that
 * routes sends and checks receives. Wire format: docs/formats.md "Underlay".
 * Thread-safe: the data path and the control side (keyx, the controller's
 * table pushes) may call in from different threads. */
#ifndef WARD_NET_TUNNEL_H
#define WARD_NET_TUNNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TUNNEL_UDP_PORT 6081
#define TUNNEL_GENEVE_PROTO 0x6558 /* Transparent Ethernet Bridging */
#define TUNNEL_OPT_CLASS 0xFFF0    /* IANA Geneve option class, experimental use */
#define TUNNEL_OPT_TYPE 0xD7       /* critical bit | 0x57: unknown to a receiver = drop */
#define TUNNEL_HDR_LEN 24          /* Geneve 8 + option header 4 + epoch 4 + seq 8 */
#define TUNNEL_PLAIN_HDR_LEN 8     /* debug plaintext mode: Geneve without options */
#define TUNNEL_TAG_LEN 16
#define TUNNEL_OVERHEAD (TUNNEL_HDR_LEN + TUNNEL_TAG_LEN)
#define TUNNEL_MAX_FRAME 9216      /* largest inner Ethernet frame carried */
#define TUNNEL_HOST_ID_MAX 63      /* [A-Za-z0-9_-]{1,63} */
#define TUNNEL_VNI_MAX 0xFFFFFFu

/* Per epoch, from the TLS exporter: key initiator->responder, key
 * responder->initiator, then the 4-byte nonce salt of each direction. */
#define TUNNEL_KEY_LEN 32
#define TUNNEL_SALT_LEN 4
#define TUNNEL_KEY_MATERIAL_LEN (2 * (TUNNEL_KEY_LEN + TUNNEL_SALT_LEN))

enum tunnel_role { TUNNEL_INITIATOR = 0, TUNNEL_RESPONDER = 1 };

struct tunnel_cfg {
	const char *local_id;       /* this host's id (its host certificate's CN) */
	uint64_t rekey_after_s;     /* soft limits: tunnel_peer_rekey_due() turns true */
	uint64_t rekey_after_pkts;
	uint64_t expire_after_s;    /* hard limits: past them the key seals nothing */
	uint64_t expire_after_pkts;
	uint64_t grace_s;           /* old receive key kept after a new one is active */
	/* Debug only: Geneve without encryption, both ways. Never the default;
	 * ward-net sets it only from an explicit flag, and it is logged. */
	bool debug_plaintext;
};

/* Defaults used for zero fields of tunnel_cfg. GCM with 96-bit
 * deterministic nonces is safe far beyond these; they bound how much one
 * key protects and how long a stolen key is worth anything. */
#define TUNNEL_DEFAULT_REKEY_S 3600
#define TUNNEL_DEFAULT_REKEY_PKTS (1ull << 30)
#define TUNNEL_DEFAULT_GRACE_S 60

/* Every drop is counted by reason; nothing is flooded or retried. */
struct tunnel_stats {
	uint64_t tx_ok;
	uint64_t tx_unknown_dst;   /* no mapping for (VNI, inner destination) */
	uint64_t tx_no_key;        /* peer has no key, or its key expired */
	uint64_t tx_bad_frame;     /* not an IPv4 Ethernet frame, too big, bad VNI */
	uint64_t tx_local;         /* destination maps to this host */
	uint64_t rx_ok;
	uint64_t rx_malformed;     /* not our Geneve header */
	uint64_t rx_plaintext;     /* plaintext when encrypted expected or vice versa */
	uint64_t rx_unknown_peer;  /* outer source is no known host */
	uint64_t rx_unknown_key;   /* epoch not installed, or past its grace */
	uint64_t rx_auth_fail;     /* GCM tag did not verify */
	uint64_t rx_replay;        /* duplicate, below the window, or zero */
	uint64_t rx_spoofed;       /* inner source not owned by the outer source host */
	uint64_t rx_bad_frame;     /* decrypted, but not an IPv4 Ethernet frame */
};

struct tunnel;

/* 0 or -errno (-EINVAL: bad id or limits, -ENOMEM). */
int tunnel_create(const struct tunnel_cfg *cfg, struct tunnel **out);
void tunnel_destroy(struct tunnel *t);
const char *tunnel_local_id(const struct tunnel *t);
void tunnel_stats_read(const struct tunnel *t, struct tunnel_stats *out);
bool tunnel_host_id_valid(const char *id);

/* Hosts. addr: underlay IPv4, network byte order. -EEXIST, -EINVAL, -ENOMEM. */
int tunnel_peer_add(struct tunnel *t, const char *host_id, uint32_t addr);
int tunnel_peer_remove(struct tunnel *t, const char *host_id); /* wipes its keys */
/* The peer's underlay address (network byte order); -ENOENT. */
int tunnel_peer_addr(const struct tunnel *t, const char *host_id, uint32_t *addr);
size_t tunnel_peer_count(const struct tunnel *t);
/* The i-th peer's id copied to out; -ENOENT past the end. */
int tunnel_peer_id(const struct tunnel *t, size_t i, char out[TUNNEL_HOST_ID_MAX + 1]);

/* Mapping table pushed by the controller: (VNI, inner IPv4 in network byte
 * order) -> host id (this host or a peer). -ENOENT: unknown host. */
int tunnel_map_set(struct tunnel *t, uint32_t vni, uint32_t ip, const char *host_id);
int tunnel_map_del(struct tunnel *t, uint32_t vni, uint32_t ip);
/* The owner's id copied to out, or -ENOENT. */
int tunnel_map_lookup(const struct tunnel *t, uint32_t vni, uint32_t ip,
		      char out[TUNNEL_HOST_ID_MAX + 1]);

/* Keys (called by keyx). Installs epoch `epoch` for receiving at once; sends
 * stay on the previous epoch until tunnel_peer_activate(), which keyx calls
 * only once the peer said it can receive the new one. The material is
 * copied into the cipher contexts; the caller wipes its copy.
 * -ENOENT (no such peer), -ESTALE (epoch not above the current one). */
int tunnel_peer_install(struct tunnel *t, const char *host_id, uint32_t epoch,
			enum tunnel_role role, const uint8_t material[TUNNEL_KEY_MATERIAL_LEN],
			uint64_t now);
int tunnel_peer_activate(struct tunnel *t, const char *host_id, uint32_t epoch, uint64_t now);
/* Newest installed epoch for the peer (0 = none). */
uint32_t tunnel_peer_epoch(const struct tunnel *t, const char *host_id);
/* Which end starts the key exchange of a pair: the host whose id sorts
 * first (strcmp), so two cards never run crossing exchanges. */
bool tunnel_initiates(const struct tunnel *t, const char *peer_id);
/* True when the peer's send key is missing or past a soft limit. */
bool tunnel_peer_rekey_due(const struct tunnel *t, const char *host_id, uint64_t now);

/* Send: route `frame` (inner Ethernet) of VPC `vni` by its IPv4 destination
 * through the mapping table and seal it into `out` (room for len +
 * TUNNEL_OVERHEAD). Returns the UDP payload length and the peer's underlay
 * address in *dst, or -errno, counted: -EHOSTUNREACH (no mapping),
 * -ELOOP (maps to this host), -ENOKEY / -EKEYEXPIRED, -EINVAL, -EMSGSIZE. */
long tunnel_encap(struct tunnel *t, uint32_t vni, const uint8_t *frame, size_t len,
		  uint8_t *out, size_t cap, uint32_t *dst, uint64_t now);

/* Receive a UDP payload from underlay address `src` (network byte order):
 * parse, authenticate + decrypt, replay, then the receive check (the inner
 * IPv4 source must belong to `src`'s host in this VNI). Returns the inner
 * frame length in `out` (room for len) and its VNI, or -errno, counted:
 * -EBADMSG (malformed, auth), -EPROTO (plaintext mismatch), -ENOENT
 * (unknown peer), -ENOKEY, -EALREADY (replay), -EPERM (spoofed). */
long tunnel_decap(struct tunnel *t, uint32_t src, const uint8_t *pkt, size_t len,
		  uint8_t *out, size_t cap, uint32_t *vni, uint64_t now);

#endif
