/* server: ward-api's HTTPS front end (libevent evhttp + OpenSSL): one event
 * loop on loopback or the management network, POST / with a Query body. */
#ifndef WARD_API_SERVER_H
#define WARD_API_SERVER_H

#include "api.h"

struct server_config {
	const char *listen_addr;
	unsigned port;		/* 0: any free port, written to port_file */
	const char *port_file;
	const char *cert, *key;
};

/* Serves until SIGINT/SIGTERM. 0 or negative errno. */
int server_run(struct api *a, const struct server_config *cfg);

#endif
