/* instance: the `ward instance` commands. Listings print a table by
 * default and the API's JSON with --json, whose keys are the API's and
 * stay stable (docs/cli.md); run and stop print what the host answered;
 * console copies the serial console's bytes to stdout. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "cli/help.h"
#include "cli/instance.h"

/* GET path into a parsed object; errors reported. */
static int get_json(const struct api_cfg *c, const char *path, int raw, json_t **out)
{
	struct api_buf b;
	long st = api_call(c, "GET", path, NULL, &b);

	*out = NULL;
	if (st < 200 || st >= 300) {
		if (b.p)
			fputs(b.p, stderr);
		if (st)
			fprintf(stderr, "ward: HTTP %ld\n", st);
		free(b.p);
		return WARD_EXIT_FAILED;
	}
	if (raw) {	/* --json: the API's bytes, which are its stable keys */
		fputs(b.p ? b.p : "", stdout);
		if (b.len && b.p[b.len - 1] != '\n')
			fputc('\n', stdout);
		free(b.p);
		return 0;
	}
	*out = b.p ? json_loadb(b.p, b.len, 0, NULL) : NULL;
	free(b.p);
	if (!json_is_object(*out)) {
		fprintf(stderr, "ward: the host's answer is not a JSON object\n");
		json_decref(*out);
		*out = NULL;
		return WARD_EXIT_FAILED;
	}
	return 0;
}

/* A field as text for a table cell: "-" when absent (the operator role
 * sees ids and states only). */
static const char *cell(json_t *o, const char *key, char *buf, size_t len)
{
	json_t *v = json_object_get(o, key);

	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	return "-";
}

static int cmd_list(const struct api_cfg *c, int json)
{
	json_t *o, *in;
	size_t i;
	int rc = get_json(c, "/v1/instances", json, &o);

	if (rc || json)
		return rc;
	printf("%-34s %-9s %-16s %5s %8s\n", "ID", "STATE", "IMAGE", "VCPUS", "MEMORY");
	json_array_foreach(json_object_get(o, "instances"), i, in) {
		char v[24], m[24], mem[32] = "-";

		if (strcmp(cell(in, "memory_mib", m, sizeof(m)), "-"))
			snprintf(mem, sizeof(mem), "%sM", m);
		printf("%-34s %-9s %-16s %5s %8s\n", cell(in, "id", v, sizeof(v)),
		       cell(in, "state", v, sizeof(v)), cell(in, "image", v, sizeof(v)),
		       cell(in, "vcpus", v, sizeof(v)), mem);
	}
	json_decref(o);
	return 0;
}

static int cmd_show(const struct api_cfg *c, const char *id, int json)
{
	char path[128], *txt;
	const char *key;
	json_t *o, *v;
	int rc;

	/* An id is the host's: letters, digits, '-'; nothing to escape. */
	if (!id[0] || strlen(id) > 64 ||
	    strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") !=
	    strlen(id))
		return help_usage_error("instance", "show", "an instance ID is letters, digits, "
					"'-' and '_', at most 64");
	snprintf(path, sizeof(path), "/v1/instances/%s", id);
	if ((rc = get_json(c, path, json, &o)) || json)
		return rc;
	json_object_foreach(o, key, v) {
		if (json_is_string(v)) {
			printf("%-10s %s\n", key, json_string_value(v));
			continue;
		}
		txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		printf("%-10s %s\n", key, txt ? txt : "?");
		free(txt);
	}
	json_decref(o);
	return 0;
}

/* The value of response header name (case-insensitive), as a number. */
static int hdr_u64(const struct api_buf *h, const char *name, uint64_t *v)
{
	size_t nl = strlen(name);

	for (const char *p = h->p; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		char *end;

		if (strncasecmp(p, name, nl) || p[nl] != ':')
			continue;
		*v = strtoull(p + nl + 1, &end, 10);
		return end == p + nl + 1 ? -1 : 0;
	}
	return -1;
}

/* GET .../console?offset=N in a loop: bytes to stdout as they are, what
 * the host had overwritten on stderr. Without --follow one answer (the
 * whole ring from offset 0); with it, poll every half second. */
static int cmd_console(const struct api_cfg *c, const char *id, int follow)
{
	const struct timespec pause = { 0, 500 * 1000 * 1000 };
	uint64_t off = 0, next, missed;
	char path[160];

	if (!id[0] || strlen(id) > 64 ||
	    strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") !=
	    strlen(id))
		return help_usage_error("instance", "console", "an instance ID is letters, digits, "
					"'-' and '_', at most 64");
	for (;;) {
		struct api_buf b, h = { 0 };
		long st;

		snprintf(path, sizeof(path), "/v1/instances/%s/console?offset=%" PRIu64, id, off);
		st = api_call_hdrs(c, "GET", path, NULL, &b, &h);
		if (st == 416 && follow) {
			/* The host's controller restarted: its offsets start at 0. */
			fprintf(stderr, "ward: the console restarted (controller restart): reading "
				"from its start\n");
			off = 0;
		} else if (st == 410 && follow && off > 0) {
			fprintf(stderr, "ward: instance %s has ended\n", id);
			free(b.p);
			free(h.p);
			return 0;
		} else if (st != 200 || hdr_u64(&h, "X-Console-Next", &next) ||
			   hdr_u64(&h, "X-Console-Missed", &missed)) {
			if (b.p)
				fputs(b.p, stderr);
			if (st)
				fprintf(stderr, "ward: HTTP %ld\n", st);
			free(b.p);
			free(h.p);
			return WARD_EXIT_FAILED;
		} else {
			if (missed)
				fprintf(stderr, "ward: %" PRIu64 " console bytes were overwritten before "
					"they could be read\n", missed);
			if (b.len)
				fwrite(b.p, 1, b.len, stdout);
			fflush(stdout);
			if (!follow) {
				free(b.p);
				free(h.p);
				return 0;
			}
			if (next == off)
				nanosleep(&pause, NULL);
			off = next;
		}
		free(b.p);
		free(h.p);
	}
}

/* --subnet [--security-group ...]: a new ENI for the instance (POST
 * /v1/enis), its id into req's "enis". 0, or an exit status. */
static int new_eni(const struct api_cfg *c, json_t *req, const char *subnet, json_t *sgs,
		   char *id, size_t idlen)
{
	json_t *o = json_pack("{s:s}", "subnet", subnet), *ans;
	struct api_buf b = { 0 };
	char *body;
	long st;

	if (o && json_array_size(sgs))
		json_object_set(o, "security_groups", sgs);
	body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!body)
		return WARD_EXIT_FAILED;
	st = api_call(c, "POST", "/v1/enis", body, &b);
	free(body);
	ans = st == 201 && b.p ? json_loads(b.p, 0, NULL) : NULL;
	if (!ans || !json_is_string(json_object_get(ans, "id"))) {
		if (b.p)
			fputs(b.p, stderr);
		if (st)
			fprintf(stderr, "ward: creating the instance's ENI: HTTP %ld\n", st);
		json_decref(ans);
		free(b.p);
		return WARD_EXIT_FAILED;
	}
	snprintf(id, idlen, "%s", json_string_value(json_object_get(ans, "id")));
	json_object_set_new(req, "enis", json_pack("[s]", id));
	json_decref(ans);
	free(b.p);
	return 0;
}

static int cmd_run(const struct api_cfg *c, int argc, char **argv)
{
	json_t *req = json_object(), *sgs = json_array();
	const char *subnet = NULL, *eni = NULL;
	char *body, made[64] = "", path[128];
	int i, rc = 0;

	if (!req || !sgs) {
		json_decref(req);
		json_decref(sgs);
		return WARD_EXIT_FAILED;
	}
	for (i = 0; i < argc && rc >= 0; i += 2) {
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(argv[i], "--image") || !strcmp(argv[i], "--subnet") ||
		    !strcmp(argv[i], "--security-group") || !strcmp(argv[i], "--eni")) {
			if (!val) {
				fprintf(stderr, "ward: option %s needs a value\n", argv[i]);
				rc = -1;
			} else if (!strcmp(argv[i], "--image")) {
				rc = json_object_set_new(req, "image", json_string(val));
			} else if (!strcmp(argv[i], "--subnet")) {
				subnet = val;
			} else if (!strcmp(argv[i], "--eni")) {
				eni = val;
			} else {
				rc = json_array_append_new(sgs, json_string(val));
			}
		} else if ((rc = api_launch_opt(req, argv[i], val)) == 0) {
			fprintf(stderr, "ward: unknown option '%s'\n", argv[i]);
			rc = -1;
		}
	}
	if (rc >= 0 && ((eni && subnet) || (json_array_size(sgs) && !subnet))) {
		fprintf(stderr, "ward: --eni names an ENI; --subnet (with --security-group) makes "
			"one\n");
		rc = -1;
	}
	if (rc < 0 || !json_object_get(req, "image")) {
		json_decref(req);
		json_decref(sgs);
		return help_usage_error("instance", "run", rc < 0 ? NULL : "--image is required");
	}
	if (eni)
		json_object_set_new(req, "enis", json_pack("[s]", eni));
	if (subnet && (rc = new_eni(c, req, subnet, sgs, made, sizeof(made)))) {
		json_decref(req);
		json_decref(sgs);
		return rc;
	}
	json_decref(sgs);
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	rc = body ? api_print_call(c, "POST", "/v1/instances", body) : WARD_EXIT_FAILED;
	free(body);
	/* A launch that failed leaves no ENI made for it behind. */
	if (rc && made[0]) {
		struct api_buf b = { 0 };

		snprintf(path, sizeof(path), "/v1/enis/%.64s", made);
		if (api_call(c, "DELETE", path, NULL, &b) != 200)
			fprintf(stderr, "ward: ENI %s made for the launch is left\n", made);
		free(b.p);
	}
	return rc;
}

int instance_cmd(const struct api_cfg *c, int argc, char **argv)
{
	char path[128];
	int i, n, json = 0;

	/* --json may stand anywhere after the subcommand. */
	for (i = n = 0; i < argc; i++) {
		if (i > 0 && !strcmp(argv[i], "--json") && strcmp(argv[0], "run"))
			json = 1;
		else
			argv[n++] = argv[i];
	}
	argc = n;
	if (argc < 1)
		return help_usage_error("instance", NULL, "instance needs a subcommand");
	if (!strcmp(argv[0], "run"))
		return cmd_run(c, argc - 1, argv + 1);
	if (!strcmp(argv[0], "list") && argc == 1)
		return cmd_list(c, json);
	if (!strcmp(argv[0], "show") && argc == 2)
		return cmd_show(c, argv[1], json);
	if (!strcmp(argv[0], "console") && (argc == 2 || (argc == 3 && !strcmp(argv[2], "--follow"))))
		return cmd_console(c, argv[1], argc == 3);
	if (!strcmp(argv[0], "console") && argc == 3 && !strcmp(argv[1], "--follow"))
		return cmd_console(c, argv[2], 1);
	if (!strcmp(argv[0], "stop") && argc == 2) {
		snprintf(path, sizeof(path), "/v1/instances/%.64s", argv[1]);
		return api_print_call(c, "DELETE", path, NULL);
	}
	if (!strcmp(argv[0], "list") || !strcmp(argv[0], "show") || !strcmp(argv[0], "stop") ||
	    !strcmp(argv[0], "console"))
		return help_usage_error("instance", argv[0], "wrong arguments");
	fprintf(stderr, "ward: unknown instance subcommand '%s'\n", argv[0]);
	return help_usage_error("instance", NULL, NULL);
}

/* image list [--json]: the guest images the host can launch (GET
 * /v1/images, control plane), a table NAME SOURCE or the API's JSON. */
int image_cmd(const struct api_cfg *c, int argc, char **argv)
{
	json_t *o, *im;
	size_t i;
	int rc, json = argc == 2 && !strcmp(argv[1], "--json");

	if (argc < 1)
		return help_usage_error("image", NULL, "image needs a subcommand");
	if (strcmp(argv[0], "list")) {
		fprintf(stderr, "ward: unknown image subcommand '%s'\n", argv[0]);
		return help_usage_error("image", NULL, NULL);
	}
	if (argc > 2 || (argc == 2 && !json))
		return help_usage_error("image", "list", "list takes only --json");
	if ((rc = get_json(c, "/v1/images", json, &o)) || json)
		return rc;
	printf("%-33s %s\n", "NAME", "SOURCE");
	json_array_foreach(json_object_get(o, "images"), i, im) {
		char v[24];

		printf("%-33s %s\n", cell(im, "name", v, sizeof(v)), cell(im, "source", v, sizeof(v)));
	}
	json_decref(o);
	return 0;
}
