/* fuzz_vpcstore: the host API's VPC routes (src/controller/vpcstore.c) on
 * arbitrary request bodies. The first byte picks the route, the rest is
 * the body; each input starts from the same small model (a VPC, a subnet,
 * a group with a rule naming the default group, an ENI). Whatever the
 * body, a 2xx answer has a reply, an error has a code, and the model the
 * store keeps is still one ward-net's loader accepts (or empty). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "controller/statefile.h"
#include "controller/vpcstore.h"
#include "net/vpc.h"

static char dir[64];
static json_t *base;
static struct vpc_cfg cfg;

static const struct {
	const char *method, *pattern, *kind;   /* kind: whose first id is {id} */
} rt[] = {
	{ "POST", "/v1/vpcs", NULL },
	{ "POST", "/v1/subnets", NULL },
	{ "POST", "/v1/security-groups", NULL },
	{ "POST", "/v1/security-groups/{id}/authorize", "security_groups" },
	{ "POST", "/v1/security-groups/{id}/revoke", "security_groups" },
	{ "POST", "/v1/enis", NULL },
	{ "DELETE", "/v1/security-groups/{id}", "security_groups" },
	{ "DELETE", "/v1/subnets/{id}", "subnets" },
	{ "DELETE", "/v1/enis/{id}", "enis" },
	{ "DELETE", "/v1/vpcs/{id}", "vpcs" },
	{ "GET", "/v1/enis", NULL },
};

static void cleanup(void)
{
	char p[96];

	snprintf(p, sizeof(p), "%s/net.json", dir);
	unlink(p);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	snprintf(dir, sizeof(dir), "%s/fuzz-vpcstore.XXXXXX", access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm");
	if (!mkdtemp(dir))
		abort();
	atexit(cleanup);
	base = json_loads(
		"{\"version\":1,\"vpcs\":[{\"id\":\"vpc-1\",\"cidr\":\"10.0.0.0/16\"}],"
		"\"subnets\":[{\"id\":\"subnet-1\",\"vpc\":\"vpc-1\",\"cidr\":\"10.0.1.0/24\"}],"
		"\"security_groups\":[{\"id\":\"sg-d\",\"vpc\":\"vpc-1\",\"ingress\":[{\"proto\":\"all\",\"sg\":\"sg-d\"}]},"
		" {\"id\":\"sg-2\",\"vpc\":\"vpc-1\",\"ingress\":[{\"proto\":\"tcp\",\"ports\":[22,22],\"sg\":\"sg-d\"}]}],"
		"\"nacls\":[],\"enis\":[{\"id\":\"eni-1\",\"subnet\":\"subnet-1\",\"mac\":\"02:00:00:00:00:01\","
		"\"ip\":\"10.0.1.4\",\"security_groups\":[\"sg-2\"]}]}", 0, NULL);
	return base ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char params[ROUTE_MAX_PARAMS][ROUTE_PARAM_MAX + 1] = { "" }, msg[512], err[256];
	const char *code = NULL;
	struct vpcstore *s;
	json_t *reply = NULL, *audit = json_object(), *first;
	int st;

	if (!size) {
		json_decref(audit);
		return 0;
	}
	if (statefile_write_json(dir, "net", base) || vpcstore_open(dir, &s, err, sizeof(err)))
		abort();
	size_t r = data[0] % (sizeof(rt) / sizeof(rt[0]));

	first = json_array_get(json_object_get(vpcstore_model(s), rt[r].kind ? rt[r].kind : "vpcs"),
			       data[0] / 128);
	snprintf(params[0], sizeof(params[0]), "%s",
		 json_string_value(json_object_get(first, "id")) ?: "nope");
	st = vpcstore_request(s, rt[r].method, rt[r].pattern, params, (const char *)data + 1, size - 1,
			      audit, &reply, &code, msg, sizeof(msg));
	if ((st < 300) != (reply != NULL) || (st >= 300 && !code) || st < 200 || st > 599)
		abort();
	if (json_array_size(json_object_get(vpcstore_model(s), "vpcs"))) {
		char *txt = json_dumps(vpcstore_model(s), JSON_COMPACT);

		if (!txt || vpc_load(txt, strlen(txt), &cfg, err, sizeof(err)))
			abort();
		free(txt);
	}
	json_decref(reply);
	json_decref(audit);
	vpcstore_close(s);
	return 0;
}
