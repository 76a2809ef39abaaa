/* vpcstore: the controller's VPC model — VPCs, subnets, security groups
 * and their rules, ENIs — kept in STATE_DIR/net.json in exactly the
 * format ward-net loads (docs/formats.md "ward-net VPC config"), and
 * checked on every change with ward-net's own loader (src/net/vpc.c), so
 * the controller never holds a model the card would refuse. The host API's
 * network routes (routes.c) come here through one handler in api.c. */
#ifndef WARD_CONTROLLER_VPCSTORE_H
#define WARD_CONTROLLER_VPCSTORE_H

#include <stddef.h>

#include <jansson.h>

#include "controller/routes.h"

struct vpcstore;

/* Load STATE_DIR/net.json (absent: an empty model). A stored model the
 * loader refuses stops the start with the reason in err. 0 or -errno. */
int vpcstore_open(const char *state_dir, struct vpcstore **out, char *err, size_t errlen);
void vpcstore_close(struct vpcstore *s);

/* The model as ward-net's config (borrowed; valid until the next change). */
const json_t *vpcstore_model(const struct vpcstore *s);

/* One host API request on a network route (pattern as in routes.c, params
 * its {id}s): returns the HTTP status and sets *reply (a JSON object to
 * send) or, on an error status, *code and msg. Fields for the request's
 * audit record go into audit (ids only, never more). */
int vpcstore_request(struct vpcstore *s, const char *method, const char *pattern,
		     char params[ROUTE_MAX_PARAMS][ROUTE_PARAM_MAX + 1], const char *body,
		     size_t body_len, json_t *audit, json_t **reply, const char **code, char *msg,
		     size_t msglen);

#endif
