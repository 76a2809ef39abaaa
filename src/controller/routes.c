/* routes: THE route x role table of the host API (ARCHITECTURE §5).
 * The operator role gets health, drain, the instance list (ids and states
 * only), the audit log and updates. No route returns guest memory,
 * volume data or key material, and only the control plane's console route
 * returns console output; adding one means adding a line here, which is
 * what review looks at. */
#include <string.h>

#include "controller/routes.h"

#define CP ROLE_BIT(ROLE_CONTROL_PLANE)
#define OP ROLE_BIT(ROLE_OPERATOR)

const struct route routes[] = {
	{ "GET",    "/v1/health",                          CP | OP, api_health },
	{ "GET",    "/v1/host",                            CP,      api_host },
	{ "GET",    "/v1/instances",                       CP | OP, api_instances_list },
	/* What a launch may name: the control plane's, like the image of an
	 * instance (the operator sees instances' ids and states only). */
	{ "GET",    "/v1/images",                          CP,      api_images_list },
	{ "POST",   "/v1/instances",                       CP,      api_instance_run },
	{ "GET",    "/v1/instances/{id}",                  CP,      api_instance_get },
	{ "DELETE", "/v1/instances/{id}",                  CP,      api_instance_stop },
	/* The serial console is the customer's data: never the operator. */
	{ "GET",    "/v1/instances/{id}/console",          CP,      api_instance_console },
	{ "POST",   "/v1/instances/{id}/volumes",          CP,      api_volume_attach },
	{ "DELETE", "/v1/instances/{id}/volumes/{vid}",    CP,      api_volume_detach },
	/* The VPC model (vpcstore.c): control plane only, like instances. */
	{ "GET",    "/v1/vpcs",                            CP,      api_net },
	{ "POST",   "/v1/vpcs",                            CP,      api_net },
	{ "DELETE", "/v1/vpcs/{id}",                       CP,      api_net },
	{ "GET",    "/v1/subnets",                         CP,      api_net },
	{ "POST",   "/v1/subnets",                         CP,      api_net },
	{ "DELETE", "/v1/subnets/{id}",                    CP,      api_net },
	{ "GET",    "/v1/security-groups",                 CP,      api_net },
	{ "POST",   "/v1/security-groups",                 CP,      api_net },
	{ "DELETE", "/v1/security-groups/{id}",            CP,      api_net },
	{ "POST",   "/v1/security-groups/{id}/authorize",  CP,      api_net },
	{ "POST",   "/v1/security-groups/{id}/revoke",     CP,      api_net },
	{ "GET",    "/v1/enis",                            CP,      api_net },
	{ "POST",   "/v1/enis",                            CP,      api_net },
	{ "DELETE", "/v1/enis/{id}",                       CP,      api_net },
	{ "POST",   "/v1/enis/{id}/security-groups",       CP,      api_net },
	{ "GET",    "/v1/network-acls",                    CP,      api_net },
	{ "POST",   "/v1/network-acls",                    CP,      api_net },
	{ "DELETE", "/v1/network-acls/{id}",               CP,      api_net },
	{ "POST",   "/v1/network-acls/{id}/authorize",     CP,      api_net },
	{ "POST",   "/v1/network-acls/{id}/revoke",        CP,      api_net },
	{ "POST",   "/v1/network-acls/{id}/associate",     CP,      api_net },
	{ "POST",   "/v1/network-acls/{id}/disassociate",  CP,      api_net },
	/* The underlay's peer list and mapping table (netcard.c), pushed to
	 * ward-net: control plane only. */
	{ "GET",    "/v1/underlay",                        CP,      api_underlay },
	{ "POST",   "/v1/underlay/peers",                  CP,      api_underlay },
	{ "POST",   "/v1/underlay/peers/remove",           CP,      api_underlay },
	{ "POST",   "/v1/underlay/mappings",               CP,      api_underlay },
	{ "POST",   "/v1/underlay/mappings/remove",        CP,      api_underlay },
	/* Host attestation (hostattest.c): for ward-api, never the operator. */
	{ "GET",    "/v1/attestation/keys",                CP,      api_attestation },
	{ "POST",   "/v1/attestation/activate",            CP,      api_attestation },
	{ "POST",   "/v1/attestation/quote",               CP,      api_attestation },
	{ "POST",   "/v1/drain",                           OP,      api_drain },
	{ "GET",    "/v1/audit/checkpoint",                CP | OP, api_audit_checkpoint },
	{ "GET",    "/v1/audit/leaves",                    CP | OP, api_audit_leaves },
	{ "GET",    "/v1/audit/proof",                     CP | OP, api_audit_proof },
	{ "POST",   "/v1/updates",                         OP,      api_updates },
	/* Prometheus text (hostmetrics.c): instance ids and their activity. */
	{ "GET",    "/v1/metrics",                         CP,      api_metrics },
};
const size_t routes_count = sizeof(routes) / sizeof(routes[0]);

static bool path_match(const char *pat, const char *path,
		       char params[ROUTE_MAX_PARAMS][ROUTE_PARAM_MAX + 1])
{
	int np = 0;

	while (*pat && *path) {
		if (*pat == '{') {
			size_t n = 0;

			while (route_id_char(path[n]))
				n++;
			if (n == 0 || n > ROUTE_PARAM_MAX || (path[n] && path[n] != '/') ||
			    np == ROUTE_MAX_PARAMS)
				return false;
			memcpy(params[np], path, n);
			params[np++][n] = 0;
			path += n;
			pat = strchr(pat, '}') + 1;
			continue;
		}
		if (*pat++ != *path++)
			return false;
	}
	return !*pat && !*path;
}

const struct route *route_match(const char *method, const char *path,
				char params[ROUTE_MAX_PARAMS][ROUTE_PARAM_MAX + 1], bool *path_known)
{
	size_t i;

	*path_known = false;
	for (i = 0; i < routes_count; i++) {
		if (!path_match(routes[i].pattern, path, params))
			continue;
		*path_known = true;
		if (!strcmp(routes[i].method, method))
			return &routes[i];
	}
	return NULL;
}

bool route_allows(const struct route *rt, enum role role)
{
	return role != ROLE_NONE && (rt->roles & ROLE_BIT(role));
}

const char *role_name(enum role r)
{
	switch (r) {
	case ROLE_CONTROL_PLANE: return "control-plane";
	case ROLE_OPERATOR: return "operator";
	default: return "none";
	}
}

enum role role_parse(const char *s)
{
	if (s && !strcmp(s, "control-plane"))
		return ROLE_CONTROL_PLANE;
	if (s && !strcmp(s, "operator"))
		return ROLE_OPERATOR;
	return ROLE_NONE;
}
