/* netcard: the controller's side of ward-net, the host's one VPC card
 * (docs/net.md "Driven by the controller"). Starts it through the launcher
 * (verified image, its own uid, sandboxed by itself) with the model from
 * vpcstore as a sealed memfd, pushes every later model change over netctl,
 * ATTACHes an instance's ENI with a socketpair whose other end goes to
 * ward-hv, re-adopts the card across a controller restart (pidfd_getfd of
 * its --keep-fd, as for ward-blk) and restarts it when it dies. */
#ifndef WARD_CONTROLLER_NETCARD_H
#define WARD_CONTROLLER_NETCARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>
#include <jansson.h>

#define NETCARD_MAX_ENIS 1	/* ENIs per instance, for now (launch fds) */

struct netcard;
struct vpcstore;

typedef void (*netcard_audit_fn)(void *opaque, json_t *rec);	/* takes rec */

struct netcard_cfg {
	const char *state_dir;
	struct event_base *base;	/* the card's pidfd is watched here */
	struct vpcstore *vpcs;		/* the model the card must have */
	bool have_image;		/* a verified ward-net (or a dev path) exists */
	uid_t uid;			/* the card's own uid and gid */
	/* The encrypted underlay (docs/net.md "Underlay"): the host's
	 * underlay IPv4 (network order, 0: none), the Geneve and key-exchange
	 * ports, and the host certificate provisioning issued (read by
	 * ward-net before its lockdown). */
	uint32_t underlay_addr;
	uint16_t underlay_port, keyx_port;
	const char *host_cert, *host_key, *host_ca;
	bool (*running)(void *opaque, const char *instance);
	netcard_audit_fn audit;
	void *opaque;			/* for running and audit */
};

/* Take back the card a previous controller left (STATE_DIR/netcard.json:
 * same pid and start time, its channel copied out of it), or start one
 * when the model has a VPC; then bring its model up to vpcstore's.
 * Attachments of instances that no longer run are detached. Only a
 * missing image is not an error (every ENI launch is then refused). */
int netcard_open(struct netcard **out, const struct netcard_cfg *cfg, char *err, size_t errlen);
/* Leaves ward-net running: the next controller re-adopts it. */
void netcard_close(struct netcard *nc);

/* The model changed (vpcstore committed it): push the difference to the
 * card. Groups, their rules, NACL rules and ENI group lists go live over
 * netctl; a change netctl cannot carry (VPCs, subnets, ENIs, NACL
 * associations) restarts the card with the new model while no ENI is
 * attached, and otherwise leaves it pending until the card is idle
 * (docs/net.md). Logged and audited; 0 or negative errno. */
int netcard_sync(struct netcard *nc, const char *why);

/* Which instance an ENI is attached to, or NULL. */
const char *netcard_eni_user(const struct netcard *nc, const char *eni);

/* ATTACH eni for instance: *hv_fd gets ward-hv's end of the vhost-user
 * socketpair (the caller closes it after the launch). *http and *code
 * say how to refuse. */
int netcard_attach(struct netcard *nc, const char *instance, const char *eni, int *hv_fd,
		   int *http, const char **code, char *err, size_t errlen);
/* The instance ended (or its launch failed): DETACH its ENIs. */
void netcard_instance_gone(struct netcard *nc, const char *instance, const char *why);
/* The underlay's peer list and mapping table (GET/POST /v1/underlay...,
 * routes.c): each change is pushed to the card (PEER, PEER_DEL, MAP,
 * UNMAP), which judges it, and kept in STATE_DIR/underlay.json only once
 * the card took it; a new card gets all of it. Returns the HTTP status
 * with *reply, or *code and msg; audit gets the ids touched. */
int netcard_underlay_request(struct netcard *nc, const char *method, const char *pattern,
			     const char *body, size_t len, json_t *audit, json_t **reply,
			     const char **code, char *msg, size_t msglen);
/* Its ENIs and what the card says of each (QUERY), a new reference. */
json_t *netcard_list(struct netcard *nc, const char *instance);

#endif
