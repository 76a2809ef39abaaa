/* keyx: per-host-pair underlay keys from a TLS 1.3 exporter (RFC 8446 §7.5)
 * on an mTLS connection between two hosts' cards, each authenticated by its
 * host certificate (one OU=host, CN = host id, same CA). The DTLS-SRTP
 * pattern: TLS does the key exchange, the exporter hands the data path its
 * keys (docs/formats.md "Underlay keys"). Every run makes a fresh ECDHE
 * handshake, so each epoch's keys are independent (forward secrecy). */
#ifndef WARD_NET_KEYX_H
#define WARD_NET_KEYX_H

#include "tunnel.h"

#define KEYX_EXPORTER_LABEL "EXPORTER-ward-underlay"
/* The highest epoch a responder follows an initiator to (keyx_respond). */
#define KEYX_EPOCH_MAX 0x7fffffffu

struct keyx;

/* Load this host's certificate chain, key and the CA every peer's host
 * certificate must chain to. The certificate must itself be a host
 * certificate; its CN is the local host id. 0 or -errno (-EINVAL: not a
 * host certificate, -EIO: files). */
int keyx_create(const char *cert_file, const char *key_file, const char *ca_file,
		struct keyx **out);
void keyx_destroy(struct keyx *kx);
/* Every exchange must finish within `ms` in total (0: no limit, the socket
 * blocks as given). With a limit the socket is non-blocking during the
 * exchange; a late one fails as a TLS/protocol error. */
void keyx_set_timeout(struct keyx *kx, int ms);
const char *keyx_local_id(const struct keyx *kx);

/* The process ignores SIGPIPE (every ward daemon does): a peer that hangs up
 * mid-exchange is an error return, not a signal.
 *
 * Over a connected stream socket `fd` (blocking), run the TLS client side
 * against host `peer_id`, agree on the next epoch, install its keys in `t`
 * and activate them once the peer has. 0 or -errno: -EPROTO (TLS failed),
 * -EACCES (the peer is not `peer_id`'s host certificate), -ESTALE, -EIO. */
int keyx_initiate(struct keyx *kx, struct tunnel *t, int fd, const char *peer_id, uint64_t now);

/* The server side: the peer must be a host `t` knows, and `from` (the
 * connection's IPv4 source, network byte order, as accept() gave it) must be
 * that host's underlay address. Its id is returned in peer_id. */
int keyx_respond(struct keyx *kx, struct tunnel *t, int fd, uint32_t from, uint64_t now,
		 char peer_id[TUNNEL_HOST_ID_MAX + 1]);

#endif
