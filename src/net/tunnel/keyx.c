/* keyx: the underlay key exchange. TLS 1.3 only, mutual certificates, no
 * tickets or resumption (every epoch is a full ECDHE handshake); after the
 * handshake two 8-byte messages agree on the epoch, both sides export and
 * install the keys, then each says READY and activates the new send key
 * only after the other's READY, so no packet is ever sent under a key the
 * receiver does not have yet. Messages: docs/formats.md "Underlay keys". */
#include "keyx.h"

#include "log.h"
#include "secmem.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define MSG_LEN 8
static const uint8_t msg_epoch[4] = { 'W', 'U', 'K', '1' };
static const uint8_t msg_ready[4] = { 'R', 'D', 'Y', '1' };

struct keyx {
	SSL_CTX *ctx;
	X509 *root; /* the CA our own host certificate chains to */
	int timeout_ms; /* whole-exchange limit, 0 = none (blocking) */
	char local_id[TUNNEL_HOST_ID_MAX + 1];
};

/* A host certificate's subject has exactly one OU, "host", and exactly one
 * CN, a valid host id (the same role convention as the controller's API
 * clients, docs/controller.md). */
static int host_id_of(X509 *cert, char out[TUNNEL_HOST_ID_MAX + 1])
{
	X509_NAME *n = X509_get_subject_name(cert);
	int ou = -1, cn = -1, pos;
	const ASN1_STRING *s;

	if (!n)
		return -EACCES;
	pos = X509_NAME_get_index_by_NID(n, NID_organizationalUnitName, -1);
	if (pos < 0 || X509_NAME_get_index_by_NID(n, NID_organizationalUnitName, pos) >= 0)
		return -EACCES;
	ou = pos;
	pos = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
	if (pos < 0 || X509_NAME_get_index_by_NID(n, NID_commonName, pos) >= 0)
		return -EACCES;
	cn = pos;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, ou));
	if (ASN1_STRING_length(s) != 4 || memcmp(ASN1_STRING_get0_data(s), "host", 4))
		return -EACCES;
	s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, cn));
	if (ASN1_STRING_length(s) < 1 || ASN1_STRING_length(s) > TUNNEL_HOST_ID_MAX ||
	    memchr(ASN1_STRING_get0_data(s), 0, (size_t)ASN1_STRING_length(s)))
		return -EACCES;	/* "hostA\0x" must not pass as hostA */
	memcpy(out, ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
	out[ASN1_STRING_length(s)] = '\0';
	if (!tunnel_host_id_valid(out)) {
		out[0] = '\0'; /* never logged: it may hold anything */
		return -EACCES;
	}
	return 0;
}

/* Our own certificate must verify against the CA file, and the root it
 * reaches is the one every peer's chain must end in: "a host certificate
 * of the same CA" holds even if the CA file is a bundle. */
static X509 *own_root(SSL_CTX *ctx)
{
	X509_STORE_CTX *vc = X509_STORE_CTX_new();
	STACK_OF(X509) *extra = NULL;
	X509 *root = NULL;

	if (!vc)
		return NULL;
	SSL_CTX_get0_chain_certs(ctx, &extra);
	if (X509_STORE_CTX_init(vc, SSL_CTX_get_cert_store(ctx), SSL_CTX_get0_certificate(ctx), extra) == 1 &&
	    X509_verify_cert(vc) == 1) {
		STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(vc);

		root = sk_X509_value(chain, sk_X509_num(chain) - 1);
		if (root && X509_up_ref(root) != 1)
			root = NULL;
	}
	X509_STORE_CTX_free(vc);
	return root;
}

int keyx_create(const char *cert_file, const char *key_file, const char *ca_file,
		struct keyx **out)
{
	struct keyx *kx = calloc(1, sizeof(*kx));
	int rc = -EIO;

	if (!kx)
		return -ENOMEM;
	kx->ctx = SSL_CTX_new(TLS_method());
	if (!kx->ctx)
		goto err_free;
	/* TLS 1.3 for its exporter (§7.5) and 256-bit suites only: the keys it
	 * derives protect AES-256 traffic. */
	if (SSL_CTX_set_min_proto_version(kx->ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(kx->ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_ciphersuites(kx->ctx, "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256") != 1)
		goto err_free;
	SSL_CTX_set_options(kx->ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(kx->ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(kx->ctx, 0);
	if (SSL_CTX_use_certificate_chain_file(kx->ctx, cert_file) != 1 ||
	    SSL_CTX_use_PrivateKey_file(kx->ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(kx->ctx) != 1 ||
	    SSL_CTX_load_verify_locations(kx->ctx, ca_file, NULL) != 1) {
		log_error("underlay: cannot load host certificate, key or CA",
			  "cert=%s ca=%s", cert_file, ca_file);
		goto err_free;
	}
	SSL_CTX_set_verify(kx->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	kx->root = own_root(kx->ctx);
	if (!kx->root) {
		log_error("underlay: own host certificate does not verify against the CA file",
			  "cert=%s ca=%s", cert_file, ca_file);
		rc = -EINVAL;
		goto err_free;
	}
	rc = host_id_of(SSL_CTX_get0_certificate(kx->ctx), kx->local_id);
	if (rc) {
		log_error("underlay: own certificate is not a host certificate (one OU=host, CN=host id)",
			  "cert=%s", cert_file);
		rc = -EINVAL;
		goto err_free;
	}
	*out = kx;
	return 0;
err_free:
	ERR_clear_error();
	keyx_destroy(kx);
	return rc;
}

void keyx_destroy(struct keyx *kx)
{
	if (!kx)
		return;
	X509_free(kx->root);
	SSL_CTX_free(kx->ctx);
	free(kx);
}

const char *keyx_local_id(const struct keyx *kx)
{
	return kx->local_id;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* After an SSL call on a non-blocking socket returned r <= 0: wait for the
 * socket, but only until the exchange's deadline (SSL app data). 0 means
 * try again. Without a deadline the socket blocks and r <= 0 is final. */
static int tls_retry(SSL *ssl, int r)
{
	const int64_t *deadline = SSL_get_app_data(ssl);
	int e = SSL_get_error(ssl, r);
	struct pollfd p = { .fd = SSL_get_fd(ssl) };
	int64_t left;

	if (!deadline || (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE))
		return -EIO;
	p.events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
	left = *deadline - mono_ms();
	if (left <= 0 || poll(&p, 1, (int)left) <= 0)
		return -ETIMEDOUT;
	return 0;
}

#define TLS_CALL(ssl, call)                                            \
	({                                                             \
		int r_;                                                \
		while ((r_ = (call)) <= 0 && tls_retry((ssl), r_) == 0) \
			;                                              \
		r_;                                                    \
	})

static int msg_send(SSL *ssl, const uint8_t tag[4], uint32_t v)
{
	uint8_t m[MSG_LEN];
	size_t n;

	memcpy(m, tag, 4);
	put32(m + 4, v);
	return TLS_CALL(ssl, SSL_write_ex(ssl, m, sizeof(m), &n)) == 1 && n == sizeof(m) ? 0 : -EIO;
}

static int msg_recv(SSL *ssl, const uint8_t tag[4], uint32_t *v)
{
	uint8_t m[MSG_LEN];
	size_t got = 0, n;

	while (got < sizeof(m)) {
		if (TLS_CALL(ssl, SSL_read_ex(ssl, m + got, sizeof(m) - got, &n)) != 1)
			return -EIO;
		got += n;
	}
	if (memcmp(m, tag, 4))
		return -EPROTO;
	*v = get32(m + 4);
	return 0;
}

/* The verified peer's host id: OpenSSL checked the chain against the CA
 * file; it must also end in the root our own certificate has. */
static int peer_host_id(const struct keyx *kx, SSL *ssl, char id[TUNNEL_HOST_ID_MAX + 1])
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	STACK_OF(X509) *chain = SSL_get0_verified_chain(ssl);

	if (!cert || !chain || SSL_get_verify_result(ssl) != X509_V_OK || sk_X509_num(chain) < 1 ||
	    X509_cmp(sk_X509_value(chain, sk_X509_num(chain) - 1), kx->root) != 0)
		return -EACCES;
	return host_id_of(cert, id);
}

/* Context = initiator id || 0 || responder id || 0 || epoch (4 bytes, big
 * endian): both ends, in a fixed order, and the epoch, so no two host pairs
 * or epochs ever share a key. */
static int export_keys(SSL *ssl, const char *ini, const char *resp, uint32_t epoch, uint8_t *out)
{
	uint8_t ctx[2 * (TUNNEL_HOST_ID_MAX + 1) + 4];
	size_t a = strlen(ini) + 1, b = strlen(resp) + 1;

	memcpy(ctx, ini, a);
	memcpy(ctx + a, resp, b);
	put32(ctx + a + b, epoch);
	if (SSL_export_keying_material(ssl, out, TUNNEL_KEY_MATERIAL_LEN, KEYX_EXPORTER_LABEL,
				       strlen(KEYX_EXPORTER_LABEL), ctx, a + b + 4, 1) != 1)
		return -EIO;
	return 0;
}

/* Export, install (receive side live at once), exchange READY, activate. */
static int install_and_activate(SSL *ssl, struct tunnel *t, const char *peer, enum tunnel_role role,
				uint32_t epoch, uint64_t now)
{
	const char *ini = role == TUNNEL_INITIATOR ? tunnel_local_id(t) : peer;
	const char *resp = role == TUNNEL_INITIATOR ? peer : tunnel_local_id(t);
	uint8_t *km = secmem_alloc(TUNNEL_KEY_MATERIAL_LEN);
	uint32_t v;
	int rc;

	if (!km)
		return -ENOMEM;
	rc = export_keys(ssl, ini, resp, epoch, km);
	if (!rc)
		rc = tunnel_peer_install(t, peer, epoch, role, km, now);
	secmem_free(km, TUNNEL_KEY_MATERIAL_LEN);
	if (rc)
		return rc;
	rc = msg_send(ssl, msg_ready, epoch);
	if (!rc)
		rc = msg_recv(ssl, msg_ready, &v);
	if (!rc && v != epoch)
		rc = -EPROTO;
	if (!rc)
		rc = tunnel_peer_activate(t, peer, epoch, now);
	return rc;
}

/* With a time limit the socket goes non-blocking for the exchange and every
 * TLS call waits in poll() against one deadline for the whole exchange, so
 * a peer that trickles bytes cannot stretch it; tls_end restores it. */
static SSL *tls_new(struct keyx *kx, int fd, int64_t *deadline, int *fl)
{
	SSL *ssl = SSL_new(kx->ctx);

	*fl = -1;
	if (ssl && SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		return NULL;
	}
	if (ssl && kx->timeout_ms > 0) {
		*fl = fcntl(fd, F_GETFL);
		if (*fl < 0 || fcntl(fd, F_SETFL, *fl | O_NONBLOCK) < 0) {
			SSL_free(ssl);
			return NULL;
		}
		*deadline = mono_ms() + kx->timeout_ms;
		SSL_set_app_data(ssl, deadline);
	}
	return ssl;
}

static void tls_end(SSL *ssl, int fl)
{
	int fd = SSL_get_fd(ssl);

	SSL_shutdown(ssl); /* one try: close_notify is a courtesy */
	SSL_free(ssl);
	ERR_clear_error();
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl);
}

void keyx_set_timeout(struct keyx *kx, int ms)
{
	kx->timeout_ms = ms;
}

static const char *why(int rc)
{
	switch (rc) {
	case -EPROTO: return "tls_or_protocol";
	case -EACCES: return "peer_identity";
	case -ESTALE: return "stale_epoch";
	case -ERANGE: return "epoch_out_of_range";
	case -ENOENT: return "unknown_peer";
	default: return "io";
	}
}

int keyx_initiate(struct keyx *kx, struct tunnel *t, int fd, const char *peer_id, uint64_t now)
{
	char got[TUNNEL_HOST_ID_MAX + 1];
	uint32_t want, epoch;
	int64_t deadline;
	SSL *ssl;
	int rc, fl;

	if (strcmp(kx->local_id, tunnel_local_id(t)) || !tunnel_host_id_valid(peer_id))
		return -EINVAL;
	want = tunnel_peer_epoch(t, peer_id) + 1;
	if (want == 0)
		return -ESTALE; /* 2^32 epochs: the pair needs new host ids */
	ssl = tls_new(kx, fd, &deadline, &fl);
	if (!ssl)
		return -ENOMEM;
	rc = TLS_CALL(ssl, SSL_connect(ssl)) == 1 ? 0 : -EPROTO;
	if (!rc)
		rc = peer_host_id(kx, ssl, got);
	if (!rc && strcmp(got, peer_id))
		rc = -EACCES;
	if (!rc)
		rc = msg_send(ssl, msg_epoch, want);
	if (!rc)
		rc = msg_recv(ssl, msg_epoch, &epoch);
	if (!rc && epoch < want)
		rc = -ESTALE;
	if (!rc)
		rc = install_and_activate(ssl, t, peer_id, TUNNEL_INITIATOR, epoch, now);
	tls_end(ssl, fl);
	if (rc)
		log_warn("underlay key exchange failed", "role=initiator peer=%s reason=%s", peer_id, why(rc));
	else
		log_info("underlay key exchange done", "role=initiator peer=%s epoch=%u", peer_id, epoch);
	return rc;
}

int keyx_respond(struct keyx *kx, struct tunnel *t, int fd, uint32_t from, uint64_t now,
		 char peer_id[TUNNEL_HOST_ID_MAX + 1])
{
	uint32_t want, epoch = 0, addr;
	int64_t deadline;
	SSL *ssl;
	int rc, fl;

	peer_id[0] = '\0';
	if (strcmp(kx->local_id, tunnel_local_id(t)))
		return -EINVAL;
	ssl = tls_new(kx, fd, &deadline, &fl);
	if (!ssl)
		return -ENOMEM;
	rc = TLS_CALL(ssl, SSL_accept(ssl)) == 1 ? 0 : -EPROTO;
	if (!rc)
		rc = peer_host_id(kx, ssl, peer_id);
	/* A host's certificate is good only from that host's own underlay
	 * address: the mapping table ties addresses to hosts. */
	if (!rc && (tunnel_peer_addr(t, peer_id, &addr) || addr != from))
		rc = -EACCES;
	if (!rc)
		rc = msg_recv(ssl, msg_epoch, &want);
	if (!rc) {
		/* Never go back: an epoch is used once per pair. */
		epoch = tunnel_peer_epoch(t, peer_id) + 1;
		/* Follow a peer that is ahead (we restarted and lost our
		 * epochs), but not to the end of the space: 2^31 rotations
		 * take centuries, so a higher ask can only be meant to wrap the
		 * pair into -ESTALE for good. */
		if (want > KEYX_EPOCH_MAX)
			rc = -ERANGE;
		else if (want > epoch)
			epoch = want;
		if (!rc)
			rc = epoch == 0 ? -ESTALE : msg_send(ssl, msg_epoch, epoch);
	}
	if (!rc)
		rc = install_and_activate(ssl, t, peer_id, TUNNEL_RESPONDER, epoch, now);
	tls_end(ssl, fl);
	if (rc)
		log_warn("underlay key exchange failed", "role=responder peer=%s reason=%s",
			 peer_id[0] ? peer_id : "-", why(rc));
	else
		log_info("underlay key exchange done", "role=responder peer=%s epoch=%u", peer_id, epoch);
	return rc;
}
