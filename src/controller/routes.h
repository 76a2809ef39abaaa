/* routes: the host API's route x role table. routes.c is the only place
 * that says which role may call what; api.c implements the handlers. */
#ifndef WARD_CONTROLLER_ROUTES_H
#define WARD_CONTROLLER_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

enum role {
	ROLE_NONE = 0,		/* valid certificate, no known role: nothing allowed */
	ROLE_CONTROL_PLANE,
	ROLE_OPERATOR,
};
#define ROLE_BIT(r) (1u << (r))

#define ROUTE_PARAM_MAX 64	/* bytes of one {param} path segment */
#define ROUTE_MAX_PARAMS 2

struct api_req;
typedef void (*route_fn)(struct api_req *r);

struct route {
	const char *method;
	const char *pattern;	/* "/v1/instances/{id}" */
	unsigned roles;		/* ROLE_BIT()s allowed */
	route_fn fn;
};

extern const struct route routes[];
extern const size_t routes_count;

/* The one grammar of ids that travel in a path segment (instance and
 * volume ids): [A-Za-z0-9_-]. No '.', so no id can be "." or "..", which
 * clients collapse out of URLs. Inline: the body-parser fuzz harness
 * (volspec.c) links without routes.c. */
static inline bool route_id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* s is 1..max bytes of route_id_char (max <= ROUTE_PARAM_MAX). */
static inline bool route_id_valid(const char *s, size_t max)
{
	size_t n = 0;

	while (s[n] && n <= max && route_id_char(s[n]))
		n++;
	return n > 0 && n <= max && !s[n];
}

/* Match method + path (no query). Returns the route, or NULL with
 * *path_known telling 405 (path exists for another method) from 404.
 * {param} segments match route_id_char{1,64} into params[]. */
const struct route *route_match(const char *method, const char *path,
				char params[ROUTE_MAX_PARAMS][ROUTE_PARAM_MAX + 1], bool *path_known);
bool route_allows(const struct route *rt, enum role role);

const char *role_name(enum role r);
/* "control-plane" / "operator" -> role; anything else ROLE_NONE. */
enum role role_parse(const char *s);

/* Handlers (api.c). */
void api_health(struct api_req *r);
void api_host(struct api_req *r);
void api_instances_list(struct api_req *r);
void api_images_list(struct api_req *r);
void api_instance_run(struct api_req *r);
void api_instance_get(struct api_req *r);
void api_instance_stop(struct api_req *r);
void api_instance_console(struct api_req *r);
void api_volume_attach(struct api_req *r);
void api_volume_detach(struct api_req *r);
void api_drain(struct api_req *r);
void api_attestation(struct api_req *r);	/* every /v1/attestation route */
void api_net(struct api_req *r);	/* every /v1/vpcs, subnets, security-groups, enis route */
void api_underlay(struct api_req *r);	/* /v1/underlay: peers and mappings (netcard.c) */
void api_audit_checkpoint(struct api_req *r);
void api_audit_leaves(struct api_req *r);
void api_audit_proof(struct api_req *r);
void api_updates(struct api_req *r);
void api_metrics(struct api_req *r);

#endif
