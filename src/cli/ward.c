/* ward: the command-line client of the host API (the aws/nitro CLI of
 * ward). Talks HTTPS with a client certificate through libcurl; `ward audit
 * verify` checks an exported audit log offline. docs/controller.md. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/pem.h>

#include "checkpoint.h"
#include "cliopt.h"
#include "fileio.h"
#include "cli/apiclient.h"
#include "cli/enclave.h"
#include "cli/help.h"
#include "cli/instance.h"
#include "cli/net.h"
#include "cli/volume.h"
#include "audit_fmt.h"

/* An exported log can be large; anything past this is not ours. */
#define AUDIT_FILE_MAX ((size_t)1 << 34)

/* fileio: a whole regular file (a FIFO is refused, not waited on). */
static int read_file(const char *path, char **buf, size_t *len, int optional)
{
	uint8_t *b;
	int rc = fileio_read(path, AUDIT_FILE_MAX, FILEIO_FOLLOW, &b, len);

	if (rc == -ENOENT && optional) {
		*buf = NULL;
		*len = 0;
		return 0;
	}
	if (rc) {
		fprintf(stderr, "ward: cannot read %s: %s\n", path, fileio_strerror(rc));
		return -1;
	}
	*buf = (char *)b;
	return 0;
}

/* Replaced atomically (temporary file, fsync, rename, directory fsync). */
static int write_file(const char *path, const char *buf, size_t len)
{
	int rc = fileio_replace(path, buf, len, 0644);

	if (rc)
		fprintf(stderr, "ward: cannot write %s: %s\n", path, fileio_strerror(rc));
	return rc;
}

static int cmd_audit_fetch(const struct api_cfg *c, const char *dir)
{
	char path[PATH_MAX], prev[PATH_MAX], q[128], *old = NULL;
	struct api_buf cp, lv, all = { 0 };
	struct checkpoint *parsed = NULL;
	uint64_t from = 0;
	size_t oldlen;
	long st;
	int rc = 1;

	if (mkdir(dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "ward: cannot create %s\n", dir);
		return 1;
	}
	st = api_call(c, "GET", "/v1/audit/checkpoint", NULL, &cp);
	if (st != 200 || !cp.p || checkpoint_parse(cp.p, cp.len, &parsed)) {
		fprintf(stderr, "ward: no valid checkpoint from the host (HTTP %ld)\n", st);
		goto out;
	}
	/* Leaves [0, size): exactly what the checkpoint covers. */
	while (from < parsed->size) {
		snprintf(q, sizeof(q), "/v1/audit/leaves?from=%llu&to=%llu", (unsigned long long)from,
			 (unsigned long long)parsed->size);
		st = api_call(c, "GET", q, NULL, &lv);
		if (st != 200 || !lv.p) {
			fprintf(stderr, "ward: fetching leaves from %llu failed (HTTP %ld)\n",
				(unsigned long long)from, st);
			free(lv.p);
			goto out;
		}
		for (size_t i = 0; i < lv.len; i++)
			from += lv.p[i] == '\n';
		api_buf_append(&all, lv.p, lv.len);
		free(lv.p);
		if (!lv.len)
			break;
	}
	snprintf(path, sizeof(path), "%s/checkpoint", dir);
	snprintf(prev, sizeof(prev), "%s/checkpoint.prev", dir);
	if (read_file(path, &old, &oldlen, 1))
		goto out;
	if (old && (oldlen != cp.len || memcmp(old, cp.p, cp.len)) &&
	    write_file(prev, old, oldlen))
		goto out;
	snprintf(path, sizeof(path), "%s/leaves", dir);
	if (write_file(path, all.p ? all.p : "", all.len))
		goto out;
	snprintf(path, sizeof(path), "%s/checkpoint", dir);
	if (write_file(path, cp.p, cp.len))
		goto out;
	printf("fetched %llu leaves and the checkpoint of size %llu into %s\n",
	       (unsigned long long)from, (unsigned long long)parsed->size, dir);
	rc = 0;
out:
	checkpoint_free(parsed);
	free(old);
	free(cp.p);
	free(all.p);
	return rc;
}

/* min_counter: a TPM checkpoint number the verifier knows was reached
 * (tpm2_nvread of the host's counter, or an earlier verify): offline, only
 * it tells an older, validly signed log from the current one. */
static int cmd_audit_verify(const char *dir, const char *pubpath, const char *origin,
			    unsigned long long min_counter)
{
	char path[PATH_MAX], err[512], *leaves = NULL, *cp = NULL, *prev = NULL;
	size_t llen, clen, plen;
	struct audit_verify_report rep;
	EVP_PKEY *pub = NULL;
	BIO *bio = NULL;
	int rc = 1;

	if (read_file(pubpath, &cp, &clen, 0))
		return 1;
	if ((bio = BIO_new_mem_buf(cp, (int)clen)))
		pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	BIO_free(bio);
	free(cp);
	cp = NULL;
	if (!pub) {
		fprintf(stderr, "ward: cannot read a PEM public key from %s\n", pubpath);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/leaves", dir);
	if (read_file(path, &leaves, &llen, 0))
		goto out;
	snprintf(path, sizeof(path), "%s/checkpoint", dir);
	if (read_file(path, &cp, &clen, 0))
		goto out;
	snprintf(path, sizeof(path), "%s/checkpoint.prev", dir);
	if (read_file(path, &prev, &plen, 1))
		goto out;
	if (audit_verify_export(leaves, llen, cp, clen, prev, plen, pub, origin, &rep, err,
				sizeof(err))) {
		fprintf(stderr, "ward: audit log FAILED verification: %s\n", err);
		goto out;
	}
	if (min_counter && rep.counter < min_counter) {
		fprintf(stderr, "ward: audit log FAILED verification: its checkpoint is TPM number "
			"%llu but the counter had reached %llu: an older log (rolled back, or its "
			"checkpoint deleted and re-signed)\n", (unsigned long long)rep.counter,
			min_counter);
		goto out;
	}
	printf("audit log OK: origin %s, %llu leaves, checkpoint size %llu, %llu inclusion proofs",
	       rep.origin, (unsigned long long)rep.leaves, (unsigned long long)rep.size,
	       (unsigned long long)rep.inclusion_checked);
	if (rep.counter)
		printf(", TPM checkpoint number %llu", (unsigned long long)rep.counter);
	if (prev)
		printf(", consistent with previous checkpoint of size %llu",
		       (unsigned long long)rep.prev_size);
	if (rep.leaves > rep.size)
		printf(" (%llu newer leaves not yet covered)",
		       (unsigned long long)(rep.leaves - rep.size));
	printf("\n");
	rc = 0;
out:
	EVP_PKEY_free(pub);
	free(leaves);
	free(cp);
	free(prev);
	return rc;
}

/* One audit record as a table row: INDEX TIME TYPE ROLE DECISION WHAT. */
static void audit_row(unsigned long long idx, json_t *rec)
{
	const char *t = json_string_value(json_object_get(rec, "time"));
	const char *ty = json_string_value(json_object_get(rec, "type"));
	const char *role = json_string_value(json_object_get(rec, "role"));
	const char *dec = json_string_value(json_object_get(rec, "decision"));
	const char *m = json_string_value(json_object_get(rec, "method"));
	const char *p = json_string_value(json_object_get(rec, "path"));

	printf("%-6llu %-24s %-10s %-13s %-6s %s%s%s\n", idx, t ? t : "-", ty ? ty : "-",
	       role ? role : "-", dec ? dec : "-", m ? m : "", m ? " " : "", p ? p : "-");
}

/* audit list [--from N] [--to N] [--json]: the records [from, to) of the
 * log, as a table or a JSON array of the records as stored. */
static int cmd_audit_list(const struct api_cfg *c, int argc, char **argv)
{
	unsigned long long from = 0, to = 0;
	int json = 0, has_to = 0, i, rc = 1;
	struct api_buf b = { 0 };
	json_t *arr = NULL;
	char q[128], *end, *line, *save = NULL;
	long st;

	for (i = 0; i < argc; i++) {
		unsigned long long *v = !strcmp(argv[i], "--from") ? &from :
					!strcmp(argv[i], "--to") ? &to : NULL;

		if (!strcmp(argv[i], "--json")) {
			json = 1;
			continue;
		}
		if (!v)
			return help_usage_error("audit", "list", NULL);
		if (i + 1 >= argc) {
			fprintf(stderr, "ward: option %s needs a value\n", argv[i]);
			return help_usage_error("audit", "list", NULL);
		}
		errno = 0;
		*v = strtoull(argv[++i], &end, 10);
		if (errno || *end || !argv[i][0] || argv[i][0] == '-')
			return help_usage_error("audit", "list", "--from and --to are record "
						"numbers from 0");
		has_to |= v == &to;
	}
	if (has_to)
		snprintf(q, sizeof(q), "/v1/audit/leaves?from=%llu&to=%llu", from, to);
	else
		snprintf(q, sizeof(q), "/v1/audit/leaves?from=%llu", from);
	st = api_call(c, "GET", q, NULL, &b);
	if (st != 200) {
		if (b.p)
			fputs(b.p, stderr);
		if (st)
			fprintf(stderr, "ward: HTTP %ld\n", st);
		goto out;
	}
	if (json && !(arr = json_array()))
		goto out;
	if (!json)
		printf("%-6s %-24s %-10s %-13s %-6s %s\n", "INDEX", "TIME", "TYPE", "ROLE",
		       "DECIDE", "REQUEST");
	for (line = b.p ? strtok_r(b.p, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save), from++) {
		json_t *rec = json_loads(line, 0, NULL);

		if (!rec) {
			fprintf(stderr, "ward: record %llu is not JSON\n", from);
			goto out;
		}
		if (json)
			json_array_append(arr, rec);
		else
			audit_row(from, rec);
		json_decref(rec);
	}
	if (json) {
		json_dumpf(arr, stdout, JSON_INDENT(1));
		fputc('\n', stdout);
	}
	rc = 0;
out:
	json_decref(arr);
	free(b.p);
	return rc;
}

static int cmd_audit(const struct api_cfg *c, int argc, char **argv)
{
	const char *pub = NULL, *origin = NULL, *out = NULL;
	unsigned long long min_counter = 0;
	char *end;
	int i;

	if (argc == 1 && !strcmp(argv[0], "checkpoint"))
		return api_print_call(c, "GET", "/v1/audit/checkpoint", NULL);
	if (argc >= 1 && !strcmp(argv[0], "list"))
		return cmd_audit_list(c, argc - 1, argv + 1);
	if (argc == 2 && !strcmp(argv[0], "fetch") && !strcmp(argv[1], "--out"))
		return help_usage_error("audit", "fetch", "option --out needs a value");
	if (argc == 3 && !strcmp(argv[0], "fetch") && !strcmp(argv[1], "--out"))
		out = argv[2];
	if (out)
		return cmd_audit_fetch(c, out);
	if (argc >= 2 && !strcmp(argv[0], "verify")) {
		for (i = 2; i + 1 < argc; i += 2) {
			if (!strcmp(argv[i], "--pubkey"))
				pub = argv[i + 1];
			else if (!strcmp(argv[i], "--origin"))
				origin = argv[i + 1];
			else if (!strcmp(argv[i], "--min-counter")) {
				errno = 0;
				min_counter = strtoull(argv[i + 1], &end, 10);
				if (errno || *end || !*argv[i + 1] || argv[i + 1][0] == '-')
					break;
			} else
				break;
		}
		if (i == argc && pub)
			return cmd_audit_verify(argv[1], pub, origin, min_counter);
		if (i + 1 == argc)
			fprintf(stderr, "ward: option %s needs a value\n", argv[i]);
	}
	return help_usage_error("audit", argc && (!strcmp(argv[0], "fetch") ||
						  !strcmp(argv[0], "verify")) ? argv[0] : NULL, NULL);
}

int main(int argc, char **argv)
{
	struct api_cfg c = { getenv("WARD_URL"), getenv("WARD_CERT"), getenv("WARD_KEY"),
			 getenv("WARD_CA") };
	int i = 1, rc;

	if (argc == 2 && !strcmp(argv[1], "--version"))
		return cliopt_version("ward"), 0;
	while (i < argc && argv[i][0] == '-' && strcmp(argv[i], "--help") && strcmp(argv[i], "-h")) {
		if (strcmp(argv[i], "--url") && strcmp(argv[i], "--cert") && strcmp(argv[i], "--key") &&
		    strcmp(argv[i], "--ca")) {
			fprintf(stderr, "ward: unknown option '%s'\nTry 'ward --help'.\n", argv[i]);
			return WARD_EXIT_USAGE;
		}
		if (i + 1 >= argc) {
			fprintf(stderr, "ward: option %s needs a value\n", argv[i]);
			return WARD_EXIT_USAGE;
		}
		if (!strcmp(argv[i], "--url"))
			c.url = argv[i + 1];
		else if (!strcmp(argv[i], "--cert"))
			c.cert = argv[i + 1];
		else if (!strcmp(argv[i], "--key"))
			c.key = argv[i + 1];
		else
			c.ca = argv[i + 1];
		i += 2;
	}
	if (i >= argc)
		return help_usage_error(NULL, NULL, "a COMMAND is needed");
	/* `ward help instance run` is `ward instance run --help`. */
	if (!strcmp(argv[i], "help")) {
		if (argc - i > 3)
			return help_usage_error("help", NULL, "help takes COMMAND [SUBCOMMAND]");
		if (help_print(stdout, i + 1 < argc ? argv[i + 1] : NULL,
			       i + 2 < argc ? argv[i + 2] : NULL))
			return help_usage_error(NULL, NULL, "no such command");
		return 0;
	}
	/* Every command's own help, before anything is parsed or fetched. */
	if ((rc = help_requested(argc - i, argv + i)))
		return rc > 0 ? 0 : WARD_EXIT_USAGE;
	/* Offline commands: no host, no curl. */
	if (!strcmp(argv[i], "enclave"))
		return enclave_cmd(argc - i - 1, argv + i + 1);
	if (!strcmp(argv[i], "attestation"))
		return attestation_cmd(argc - i - 1, argv + i + 1);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!strcmp(argv[i], "host") && argc == i + 1)
		rc = api_print_call(&c, "GET", "/v1/host", NULL);
	else if (!strcmp(argv[i], "health") && argc == i + 1)
		rc = api_print_call(&c, "GET", "/v1/health", NULL);
	else if (!strcmp(argv[i], "drain") && argc == i + 1)
		rc = api_print_call(&c, "POST", "/v1/drain", "{}");
	else if (!strcmp(argv[i], "instance"))
		rc = instance_cmd(&c, argc - i - 1, argv + i + 1);
	else if (!strcmp(argv[i], "image"))
		rc = image_cmd(&c, argc - i - 1, argv + i + 1);
	else if (!strcmp(argv[i], "audit"))
		rc = cmd_audit(&c, argc - i - 1, argv + i + 1);
	else if (!strcmp(argv[i], "vpc") || !strcmp(argv[i], "subnet") || !strcmp(argv[i], "sg") ||
		 !strcmp(argv[i], "eni") || !strcmp(argv[i], "nacl"))
		rc = net_cmd(&c, argv[i], argc - i - 1, argv + i + 1);
	else if (!strcmp(argv[i], "underlay"))
		rc = underlay_cmd(&c, argc - i - 1, argv + i + 1);
	else if (!strcmp(argv[i], "volume"))
		rc = volume_cmd(c.url, c.cert, c.key, c.ca, argc - i - 1, argv + i + 1);
	else {
		char why[128];

		snprintf(why, sizeof(why), "unknown command or wrong arguments: '%.64s'", argv[i]);
		rc = help_usage_error(!strcmp(argv[i], "host") || !strcmp(argv[i], "health") ||
				      !strcmp(argv[i], "drain") ? argv[i] : NULL, NULL, why);
	}
	curl_global_cleanup();
	return rc;
}
