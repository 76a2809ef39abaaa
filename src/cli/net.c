/* net: the `ward vpc|subnet|sg|eni` commands. Each builds one request of
 * the host API's VPC routes (create, list, delete; sg authorize/revoke)
 * and prints the host's JSON answer; the host validates everything (the
 * CLI only shapes flags into the request's fields). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/help.h"
#include "cli/net.h"

struct kind {
	const char *name;     /* CLI word */
	const char *path;     /* API collection */
	const char *const *create_flags;   /* --flag -> field of the same name (dashes -> _) */
};

static const char *const vpc_flags[] = { "cidr", NULL };
static const char *const subnet_flags[] = { "vpc", "cidr", NULL };
static const char *const sg_flags[] = { "vpc", NULL };
static const char *const eni_flags[] = { "subnet", "ip", NULL };
static const char *const nacl_flags[] = { "vpc", NULL };

/* Their usage text is in help.c's table (`ward vpc --help`). */
static const struct kind kinds[] = {
	{ "vpc", "/v1/vpcs", vpc_flags },
	{ "subnet", "/v1/subnets", subnet_flags },
	{ "sg", "/v1/security-groups", sg_flags },
	{ "eni", "/v1/enis", eni_flags },
	{ "nacl", "/v1/network-acls", nacl_flags },
};

static int usage(const struct kind *k, const char *why)
{
	return help_usage_error(k->name, NULL, why);
}

/* "N" or "N-M" -> [lo, hi]. */
static int range(const char *s, long lo_min, long hi_max, char sep, json_t **out)
{
	char *end;
	long a = strtol(s, &end, 10), b = a;

	if (end == s)
		return -EINVAL;
	if (sep && *end == sep) {
		const char *t = end + 1;

		b = strtol(t, &end, 10);
		if (end == t)
			return -EINVAL;
	}
	if (*end || a < lo_min || b > hi_max || a > hi_max || b < lo_min)
		return -EINVAL;
	*out = json_pack("[i, i]", (int)a, (int)b);
	return *out ? 0 : -ENOMEM;
}

static json_t *proto_value(const char *s)
{
	char *end;
	long n = strtol(s, &end, 10);

	if (*s && !*end)
		return json_integer(n);   /* the host checks 0-255 */
	return json_string(s);
}

/* sg authorize|revoke ID FLAGS: the rule, as the model writes it. */
static int rule_cmd(const struct api_cfg *c, const struct kind *k, const char *verb, int argc,
		    char **argv)
{
	json_t *b = json_object();
	char path[160], *txt;
	int rc;

	if (!b)
		return WARD_EXIT_FAILED;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		json_t *x = NULL;

		if (!strcmp(o, "--ingress") || !strcmp(o, "--egress")) {
			json_object_set_new(b, "direction", json_string(o + 2));
			continue;
		}
		if (!v)
			goto bad;
		i++;
		if (!strcmp(o, "--proto"))
			json_object_set_new(b, "proto", proto_value(v));
		else if (!strcmp(o, "--port") && !range(v, 0, 65535, '-', &x))
			json_object_set_new(b, "ports", x);
		else if (!strcmp(o, "--icmp") && !range(v, -1, 255, ':', &x))
			json_object_set_new(b, "icmp", x);
		else if (!strcmp(o, "--cidr"))
			json_object_set_new(b, "cidr", json_string(v));
		else if (!strcmp(o, "--source-group"))
			json_object_set_new(b, "sg", json_string(v));
		else if (!strcmp(o, "--rule") && !range(v, 1, 32766, 0, &x)) {
			json_object_set_new(b, "rule", json_incref(json_array_get(x, 0)));
			json_decref(x);
		} else if (!strcmp(o, "--action"))
			json_object_set_new(b, "action", json_string(v));
		else
			goto bad;
	}
	/* A NACL entry is revoked by its number alone. */
	if (!json_object_get(b, "direction") ||
	    (!json_object_get(b, "proto") && (strcmp(verb, "revoke") || strcmp(k->name, "nacl")))) {
		json_decref(b);
		return usage(k, "a rule needs --ingress or --egress and --proto");
	}
	snprintf(path, sizeof(path), "%s/%.64s/%s", k->path, argv[0], verb);
	txt = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	rc = txt ? api_print_call(c, "POST", path, txt) : WARD_EXIT_FAILED;
	free(txt);
	return rc;
bad:
	json_decref(b);
	return usage(k, "malformed rule option");
}

static int create_cmd(const struct api_cfg *c, const struct kind *k, int argc, char **argv)
{
	json_t *b = json_object(), *sgs = NULL;
	char *txt;
	int rc;

	if (!b)
		return WARD_EXIT_FAILED;
	for (int i = 0; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		size_t f;

		if (!strcmp(k->name, "eni") && !strcmp(o, "--no-source-dest-check")) {
			json_object_set_new(b, "source_dest_check", json_false());
			continue;
		}
		if (strncmp(o, "--", 2) || !v)
			goto bad;
		i++;
		if (!strcmp(k->name, "eni") && !strcmp(o, "--security-group")) {
			if (!sgs)
				json_object_set_new(b, "security_groups", sgs = json_array());
			json_array_append_new(sgs, json_string(v));
			continue;
		}
		if (!strcmp(k->name, "eni") && !strcmp(o, "--mtu")) {
			json_object_set_new(b, "mtu", json_integer(atoi(v)));
			continue;
		}
		for (f = 0; k->create_flags[f] && strcmp(k->create_flags[f], o + 2); f++)
			;
		if (!k->create_flags[f])
			goto bad;
		json_object_set_new(b, k->create_flags[f], json_string(v));
	}
	txt = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	rc = txt ? api_print_call(c, "POST", k->path, txt) : WARD_EXIT_FAILED;
	free(txt);
	return rc;
bad:
	json_decref(b);
	return usage(k, "unknown or incomplete option");
}

/* eni set-groups ID --security-group G...: the ENI's whole list. */
static int set_groups(const struct api_cfg *c, const struct kind *k, int argc, char **argv)
{
	json_t *sgs = json_array(), *b = json_pack("{s:o}", "security_groups", sgs);
	char path[160], *txt;
	int rc;

	if (!b)
		return WARD_EXIT_FAILED;
	for (int i = 1; i < argc; i += 2) {
		if (strcmp(argv[i], "--security-group") || i + 1 >= argc) {
			json_decref(b);
			return usage(k, "set-groups takes --security-group ID, repeated");
		}
		json_array_append_new(sgs, json_string(argv[i + 1]));
	}
	snprintf(path, sizeof(path), "%s/%.64s/security-groups", k->path, argv[0]);
	txt = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	rc = txt ? api_print_call(c, "POST", path, txt) : WARD_EXIT_FAILED;
	free(txt);
	return rc;
}

int net_cmd(const struct api_cfg *c, const char *kind, int argc, char **argv)
{
	const struct kind *k = NULL;
	char path[160];

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kinds[i].name, kind))
			k = &kinds[i];
	if (!k)
		return WARD_EXIT_USAGE;
	if (argc < 1)
		return usage(k, "which subcommand?");
	if (!strcmp(argv[0], "create"))
		return create_cmd(c, k, argc - 1, argv + 1);
	/* The host's JSON is what these listings print, so --json (accepted
	 * like every listing's, docs/cli.md) asks for what they already give. */
	if (!strcmp(argv[0], "list") && (argc == 1 || (argc == 2 && !strcmp(argv[1], "--json"))))
		return api_print_call(c, "GET", k->path, NULL);
	if (!strcmp(argv[0], "delete") && argc == 2) {
		snprintf(path, sizeof(path), "%s/%.64s", k->path, argv[1]);
		return api_print_call(c, "DELETE", path, NULL);
	}
	if ((!strcmp(k->name, "sg") || !strcmp(k->name, "nacl")) && argc >= 2 &&
	    (!strcmp(argv[0], "authorize") || !strcmp(argv[0], "revoke")))
		return rule_cmd(c, k, argv[0], argc - 1, argv + 1);
	if (!strcmp(k->name, "eni") && argc >= 2 && !strcmp(argv[0], "set-groups"))
		return set_groups(c, k, argc - 1, argv + 1);
	if (!strcmp(k->name, "nacl") && argc == 4 && !strcmp(argv[2], "--subnet") &&
	    (!strcmp(argv[0], "associate") || !strcmp(argv[0], "disassociate"))) {
		json_t *b = json_pack("{s:s}", "subnet", argv[3]);
		char *txt = b ? json_dumps(b, JSON_COMPACT) : NULL;
		int rc;

		json_decref(b);
		snprintf(path, sizeof(path), "%s/%.64s/%s", k->path, argv[1], argv[0]);
		rc = txt ? api_print_call(c, "POST", path, txt) : WARD_EXIT_FAILED;
		free(txt);
		return rc;
	}
	return usage(k, "unknown subcommand or wrong arguments");
}

/* ward underlay list | peer HOST ADDR | peer-remove HOST
 *              | map|unmap HOST VPC VNI IP */
int underlay_cmd(const struct api_cfg *c, int argc, char **argv)
{
	json_t *b = NULL;
	const char *path = NULL;
	char *end, *txt;
	long vni;
	int rc;

	if (argc >= 1 && !strcmp(argv[0], "list") &&
	    (argc == 1 || (argc == 2 && !strcmp(argv[1], "--json"))))
		return api_print_call(c, "GET", "/v1/underlay", NULL);
	if (argc == 3 && !strcmp(argv[0], "peer")) {
		path = "/v1/underlay/peers";
		b = json_pack("{s:s, s:s}", "host", argv[1], "address", argv[2]);
	} else if (argc == 2 && !strcmp(argv[0], "peer-remove")) {
		path = "/v1/underlay/peers/remove";
		b = json_pack("{s:s}", "host", argv[1]);
	} else if (argc == 5 && (!strcmp(argv[0], "map") || !strcmp(argv[0], "unmap"))) {
		vni = strtol(argv[3], &end, 10);
		if (*end || end == argv[3])
			return help_usage_error("underlay", NULL, "VNI must be a number");
		path = argv[0][0] == 'm' ? "/v1/underlay/mappings" : "/v1/underlay/mappings/remove";
		b = json_pack("{s:s, s:s, s:I, s:s}", "host", argv[1], "vpc", argv[2], "vni",
			      (json_int_t)vni, "ip", argv[4]);
	} else {
		return help_usage_error("underlay", NULL, "unknown subcommand or wrong arguments");
	}
	txt = b ? json_dumps(b, JSON_COMPACT) : NULL;
	json_decref(b);
	rc = txt ? api_print_call(c, "POST", path, txt) : WARD_EXIT_FAILED;
	free(txt);
	return rc;
}
