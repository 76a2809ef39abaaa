/* server: the ward-kms HTTPS front end — libevent evhttp over
 * bufferevent_openssl (TLS 1.2+), optional mTLS client certificates for
 * hosts, the AWS JSON 1.1 envelope (POST /, X-Amz-Target). */
#ifndef WARD_KMS_SERVER_H
#define WARD_KMS_SERVER_H

#include "kms.h"
#include "trail.h"

struct server_config {
	const char *listen_addr;	/* IPv4/IPv6 literal */
	unsigned short port;		/* 0: pick a free one */
	const char *port_file;		/* write the bound port here */
	const char *cert, *key;		/* server certificate chain and key (PEM) */
	const char *client_ca;		/* CA for host client certs, or NULL */
	/* Called once everything is open and the port file is written,
	 * before the worker threads start and before any request is read:
	 * ward-kms locks itself down here (src/kms/allowlist.c). Non-zero
	 * stops the server. NULL: no lockdown (tests, benchmarks). */
	int (*lockdown)(void *arg);
	void *lockdown_arg;
	/* The activity trail (trail.h): every request that names an operation
	 * is recorded before it is answered; a checkpoint is signed every
	 * trail_checkpoint_s seconds when it grew, and at stop. NULL: none. */
	struct trail *trail;
	unsigned trail_checkpoint_s;
	/* RFC 2253 subject of the client certificate (issued by client_ca)
	 * that may GET /metrics; NULL: every /metrics request is refused. */
	const char *metrics_subject;
};

/* Serves with one event loop per context in ks (one thread each) until
 * SIGINT/SIGTERM. Returns 0 or negative errno. */
int server_run(struct kms **ks, unsigned n, const struct server_config *cfg);

#endif
