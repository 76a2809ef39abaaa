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
#include "fileio.h"
#include "cli/apiclient.h"
#include "cli/enclave.h"
#include "cli/volume.h"
#include "audit_fmt.h"

/* An exported log can be large; anything past this is not ours. */
#define AUDIT_FILE_MAX ((size_t)1 << 34)

static void usage(void)
{
	fputs(
"usage: ward [--url URL] [--cert PEM] [--key PEM] [--ca PEM] COMMAND\n"
"  (defaults from WARD_URL, WARD_CERT, WARD_KEY, WARD_CA)\n"
"commands:\n"
"  host                              host state, boot verdict, audit key\n"
"  health                            liveness and host state\n"
"  drain                             stop accepting new instances (operator)\n"
"  instance run --image NAME [--memory MIB] [--vcpus N]\n"
"               [--cpu fixed|burstable] [--hugepages 2M|1G] [--cmdline STR]\n"
"                                    fixed: whole cores of its own, or refused\n"
"  instance list\n"
"  instance stop ID\n"
"  volume create|attach|detach|list ...   encrypted volumes (control plane,\n"
"                                    docs/attach.md; `ward volume` for usage)\n"
"  enclave build|describe-eif ...    enclave images (EIF) and their PCRs,\n"
"                                    offline (docs/enclaves.md)\n"
"  attestation verify DOC --root PEM [--at document|SECS] [--nonce HEX]\n"
"                                    check an attestation document, offline\n"
"  audit checkpoint                  print the latest signed checkpoint\n"
"  audit fetch --out DIR             checkpoint + leaves (keeps the previous\n"
"                                    checkpoint as DIR/checkpoint.prev)\n"
"  audit verify DIR --pubkey PEM [--origin ORIGIN] [--min-counter N]\n"
"                                    offline: signatures, tree, inclusion of\n"
"                                    every leaf, consistency with .prev\n", stderr);
}

/* Print the body; non-2xx answers go to stderr and fail the command. */
static int simple(const struct api_cfg *c, const char *method, const char *path, const char *body)
{
	struct api_buf b;
	long st = api_call(c, method, path, body, &b);
	int ok = st >= 200 && st < 300;

	if (b.p)
		fputs(b.p, ok ? stdout : stderr);
	if (st && !ok)
		fprintf(stderr, "ward: HTTP %ld\n", st);
	free(b.p);
	return ok ? 0 : 1;
}

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

static int cmd_instance(const struct api_cfg *c, int argc, char **argv)
{
	char path[256], *body;
	json_t *req;
	int i, rc;

	if (argc < 1)
		goto bad;
	if (!strcmp(argv[0], "list") && argc == 1)
		return simple(c, "GET", "/v1/instances", NULL);
	if (!strcmp(argv[0], "stop") && argc == 2) {
		snprintf(path, sizeof(path), "/v1/instances/%.64s", argv[1]);
		return simple(c, "DELETE", path, NULL);
	}
	if (!strcmp(argv[0], "run")) {
		if (!(req = json_object()))
			return 1;
		for (i = 1, rc = 0; i < argc && rc >= 0; i += 2) {
			const char *val = i + 1 < argc ? argv[i + 1] : NULL;

			if (!strcmp(argv[i], "--image") && val)
				rc = json_object_set_new(req, "image", json_string(val));
			else if ((rc = api_launch_opt(req, argv[i], val)) == 0)
				rc = -1;
		}
		if (rc < 0 || !json_object_get(req, "image")) {
			json_decref(req);
			goto bad;
		}
		body = json_dumps(req, JSON_COMPACT);
		json_decref(req);
		rc = body ? simple(c, "POST", "/v1/instances", body) : 1;
		free(body);
		return rc;
	}
bad:
	usage();
	return 2;
}

static int cmd_audit(const struct api_cfg *c, int argc, char **argv)
{
	const char *pub = NULL, *origin = NULL, *out = NULL;
	unsigned long long min_counter = 0;
	char *end;
	int i;

	if (argc == 1 && !strcmp(argv[0], "checkpoint"))
		return simple(c, "GET", "/v1/audit/checkpoint", NULL);
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
	}
	usage();
	return 2;
}

int main(int argc, char **argv)
{
	struct api_cfg c = { getenv("WARD_URL"), getenv("WARD_CERT"), getenv("WARD_KEY"),
			 getenv("WARD_CA") };
	int i = 1, rc;

	while (i + 1 < argc && argv[i][0] == '-' && argv[i][1] == '-') {
		if (!strcmp(argv[i], "--url"))
			c.url = argv[i + 1];
		else if (!strcmp(argv[i], "--cert"))
			c.cert = argv[i + 1];
		else if (!strcmp(argv[i], "--key"))
			c.key = argv[i + 1];
		else if (!strcmp(argv[i], "--ca"))
			c.ca = argv[i + 1];
		else
			break;
		i += 2;
	}
	if (i >= argc) {
		usage();
		return 2;
	}
	/* Offline commands: no host, no curl. */
	if (!strcmp(argv[i], "enclave"))
		return enclave_cmd(argc - i - 1, argv + i + 1);
	if (!strcmp(argv[i], "attestation"))
		return attestation_cmd(argc - i - 1, argv + i + 1);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!strcmp(argv[i], "host") && argc == i + 1)
		rc = simple(&c, "GET", "/v1/host", NULL);
	else if (!strcmp(argv[i], "health") && argc == i + 1)
		rc = simple(&c, "GET", "/v1/health", NULL);
	else if (!strcmp(argv[i], "drain") && argc == i + 1)
		rc = simple(&c, "POST", "/v1/drain", "{}");
	else if (!strcmp(argv[i], "instance"))
		rc = cmd_instance(&c, argc - i - 1, argv + i + 1);
	else if (!strcmp(argv[i], "audit"))
		rc = cmd_audit(&c, argc - i - 1, argv + i + 1);
	else if (!strcmp(argv[i], "volume"))
		rc = volume_cmd(c.url, c.cert, c.key, c.ca, argc - i - 1, argv + i + 1);
	else {
		usage();
		rc = 2;
	}
	curl_global_cleanup();
	return rc;
}
