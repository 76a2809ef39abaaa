/* ctlclient: one mTLS request from ward-api to a host's controller (libcurl),
 * shared by the attestation rounds (hosts.c) and the reconciler
 * (reconcile.c); each keeps its own reading of the answer on top. */
#ifndef WARD_API_CTLCLIENT_H
#define WARD_API_CTLCLIENT_H

#include <stddef.h>

#include <jansson.h>

/* ward-api's control-plane identity and its per-request timeout. */
struct ctlclient_id {
	const char *client_cert, *client_key;
	int timeout_s;
};

/* A reply body, NUL-terminated (p NULL when empty); the caller frees p. */
struct ctlclient_reply {
	char *p;
	size_t n;
};

/* One request to the controller of `host` (its "Endpoint", CA pinned from
 * its "CaPem"); `body`, when set, is POSTed as JSON. 0 when the controller
 * answered: its HTTP status in *status and the body (at most max_reply
 * bytes) in *out, whatever the status. Else -ENOMEM/-EIO, *status 0,
 * *out empty and the reason in err. */
int ctlclient_call(const json_t *host, const struct ctlclient_id *id, const char *method,
		   const char *path, const char *body, size_t max_reply, long *status,
		   struct ctlclient_reply *out, char *err, size_t errlen);

#endif
