/* ward-kms: the KMS of ward (docs/kms.md). Subcommands: serve,
 * init-token (create the PKCS#11 token), admin (principals, hosts,
 * policies, maintenance). Secrets (PINs) come from files or the environment,
 * never from the command line. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "allowlist.h"
#include "cliopt.h"
#include "conf.h"
#include "errmsg.h"
#include "fileio.h"
#include "hpke.h"
#include "kms.h"
#include "log.h"
#include "policy.h"
#include "secmem.h"
#include "server.h"
#include "trail.h"

struct opts {
	struct kms_config kms;
	struct server_config srv;
	const char *pin_file, *so_pin_file, *policy_file, *pubkey_file, *subject;
	int admin, json;
	unsigned threads;
	double now;
	const char *trail_dir;	/* activity trail; default DB.trail */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ward-kms [options] serve\n"
		"       ward-kms [options] init-token --so-pin-file F\n"
		"       ward-kms [options] admin add-principal NAME [--admin | --policy FILE]\n"
		"       ward-kms [options] admin add-host NAME --pubkey PEM --cert-subject SUBJ [--policy FILE]\n"
		"       ward-kms [options] admin set-policy NAME FILE\n"
		"       ward-kms [options] admin sweep [--now EPOCH]\n"
		"       ward-kms [options] admin list-principals|list-hosts [--json]\n"
		"       ward-kms --help | --version\n"
		"options: --db PATH --pkcs11-module SO --token-label L --pin-file F (or WARD_KMS_PIN)\n"
		"         --token-dir DIR (SoftHSM2: a token directory of its own)\n"
		"         --region R --account N --listen ADDR --port P --port-file F\n"
		"         --cert PEM --key PEM --client-ca PEM --threads N (default: CPUs)\n"
		"         --trail-dir DIR (activity trail; default: DB.trail)\n"
		"         --metrics-subject SUBJ (client certificate allowed GET /metrics)\n"
		"         --attestation-root PEM (ward attestation root: Recipient documents)\n"
		"exit status: 0 success; 1 runtime error (HSM, database, cannot listen);\n"
		"  2 usage error (docs/cli.md)\n");
}

/* --token-dir: a self-contained SoftHSM2 token directory for tests and
 * the demo. Writes DIR/softhsm2.conf if missing and points SoftHSM at it. */
static int use_token_dir(const char *dir)
{
	char conf[4096], tokens[4096], text[4200];
	int n, rc;

	if (snprintf(conf, sizeof(conf), "%s/softhsm2.conf", dir) >= (int)sizeof(conf) ||
	    snprintf(tokens, sizeof(tokens), "%s/tokens", dir) >= (int)sizeof(tokens))
		return -ENAMETOOLONG;
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -errno;
	if (mkdir(tokens, 0700) != 0 && errno != EEXIST)
		return -errno;
	n = snprintf(text, sizeof(text), "directories.tokendir = %s\nobjectstore.backend = file\n"
		     "log.level = ERROR\n", tokens);
	/* Created complete or not at all; an existing one is kept. */
	rc = fileio_write_new(conf, text, (size_t)n, 0600);
	if (rc && rc != -EEXIST)
		return rc;
	return setenv("SOFTHSM2_CONF", conf, 1) ? -errno : 0;
}

/* Reads a one-line secret into secure memory: fileio reads the file
 * straight into the secmem page, no stdio buffer holds a copy. */
static char *read_secret(const char *file, const char *env)
{
	char *buf = secmem_alloc(256);
	const char *e = env ? getenv(env) : NULL;
	size_t len;

	if (!buf)
		return NULL;
	if (file) {
		if (fileio_read_into(file, FILEIO_FOLLOW, buf, 256, &len) || !len) {
			secmem_free(buf, 256);
			return NULL;
		}
	} else if (e && strlen(e) < 255) {
		strcpy(buf, e);
	} else {
		secmem_free(buf, 256);
		return NULL;
	}
	buf[strcspn(buf, "\r\n")] = '\0';
	return buf;
}

static char *read_file(const char *path)
{
	uint8_t *buf;
	size_t len;

	return fileio_read(path, 65535, FILEIO_FOLLOW, &buf, &len) ? NULL : (char *)buf;
}

static char *load_policy(const char *path)
{
	char *text = read_file(path), err[256];
	json_t *doc;

	if (!text) {
		fprintf(stderr, "ward-kms: cannot read policy file %s\n", path);
		return NULL;
	}
	doc = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	if (!doc || policy_validate(doc, POLICY_IDENTITY, err, sizeof(err))) {
		fprintf(stderr, "ward-kms: %s: %s\n", path, doc ? err : "not valid JSON");
		json_decref(doc);
		free(text);
		return NULL;
	}
	json_decref(doc);
	return text;
}

static int open_kms(struct opts *o, struct kms **k)
{
	char *pin = read_secret(o->pin_file, "WARD_KMS_PIN");
	int rc;

	if (!pin) {
		fprintf(stderr, "ward-kms: the token PIN is needed: --pin-file FILE or WARD_KMS_PIN\n");
		return -EINVAL;
	}
	o->kms.pin = pin;
	rc = kms_open(&o->kms, k);
	secmem_free(pin, 256);
	o->kms.pin = NULL;
	if (rc)
		fprintf(stderr, "ward-kms: cannot open the KMS (HSM token %s, database %s): %s\n",
			o->kms.token_label, o->kms.db_path, strerror(-rc));
	return rc;
}

static int cmd_init_token(struct opts *o)
{
	char *pin = read_secret(o->pin_file, "WARD_KMS_PIN");
	char *so = read_secret(o->so_pin_file, "WARD_KMS_SO_PIN");
	int rc = -EINVAL;

	if (!pin || !so)
		fprintf(stderr, "ward-kms: init-token needs --pin-file and --so-pin-file\n");
	else
		rc = hsm_init_token(o->kms.module, o->kms.token_label, so, pin);
	if (rc && pin && so)
		fprintf(stderr, "ward-kms: cannot initialise token %s: %s\n",
			o->kms.token_label, strerror(-rc));
	secmem_free(pin, 256);
	secmem_free(so, 256);
	return rc ? 1 : 0;
}

static int read_host_pubkey(const char *path, uint8_t pub[65])
{
	EVP_PKEY *pk = NULL;
	uint8_t *pem;
	size_t len;
	BIO *b;
	int rc;

	if ((rc = fileio_read(path, 65536, FILEIO_FOLLOW, &pem, &len)))
		return rc;
	if ((b = BIO_new_mem_buf(pem, (int)len)))
		pk = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	BIO_free(b);
	free(pem);
	if (!pk)
		return -EINVAL;
	rc = hpke_public_key(pk, pub);
	EVP_PKEY_free(pk);
	return rc;
}

/* A JSON string literal of s (quoted, escaped) on stdout. */
static void put_json_string(const char *s)
{
	json_t *j = json_string(s ? s : "");
	char *t = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;

	fputs(t ? t : "\"\"", stdout);
	free(t);
	json_decref(j);
}

/* What admin add-* created: its name and ARN (and, for a principal, the
 * one showing of its secret access key, never stored in the clear). */
static void print_created(const struct opts *o, struct kms *k, const char *name,
			  const char *akid, const char *secret)
{
	struct kms_principal p;
	int found = !store_principal_by_name(k->store, name, &p);

	if (o->json) {
		fputs("{\"Name\":", stdout);
		put_json_string(name);
		fputs(",\"Arn\":", stdout);
		put_json_string(found ? p.arn : "");
		if (akid)
			printf(",\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"%s\"", akid, secret);
		fputs("}\n", stdout);
	} else {
		/* Line 1 stays "AKID SECRET" for scripts that read it. */
		if (akid)
			printf("%s %s\n", akid, secret);
		printf("%s\n", found ? p.arn : name);
	}
	if (found)
		store_principal_clear(&p);
}

struct list_ctx {
	const struct opts *o;
	json_t *arr;
};

static int list_one(void *arg, const struct kms_principal *p)
{
	struct list_ctx *c = arg;

	if (c->o->json) {
		json_t *e = json_pack("{s:s, s:s}", "Name", p->name, "Arn", p->arn);

		if (p->kind == PRINCIPAL_USER)
			json_object_set_new(e, "AccessKeyId", json_string(p->akid));
		else
			json_object_set_new(e, "CertSubject",
					    json_string(p->cert_subject ? p->cert_subject : ""));
		json_object_set_new(e, "HasPolicy", json_boolean(p->policy != NULL));
		json_array_append_new(c->arr, e);
	} else {
		printf("%s\t%s\t%s\n", p->name,
		       p->kind == PRINCIPAL_USER ? p->akid : (p->cert_subject ? p->cert_subject : "-"),
		       p->arn);
	}
	return 0;
}

/* admin list-principals | list-hosts: one per line (NAME, AKID or
 * certificate subject, ARN, tab-separated), or a JSON array (--json). */
static int cmd_list(const struct opts *o, struct kms *k, enum principal_kind kind)
{
	struct list_ctx c = { o, json_array() };
	int rc;

	if (!c.arr)
		return 1;
	rc = store_principal_foreach(k->store, kind, list_one, &c);
	if (rc)
		fprintf(stderr, "ward-kms: cannot read the principals: %s\n", errname(rc));
	else if (o->json) {
		json_dumpf(c.arr, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
	}
	json_decref(c.arr);
	return rc ? 1 : 0;
}

static int cmd_admin(struct opts *o, int argc, char **argv)
{
	struct kms *k;
	char *policy = NULL;
	int rc;

	if (argc < 1) {
		usage(stderr);
		return 2;
	}
	if (o->policy_file && !(policy = load_policy(o->policy_file)))
		return 1;
	if (o->admin && !policy)
		policy = strdup("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
				"\"Action\":\"kms:*\",\"Resource\":\"*\"}]}");
	if (open_kms(o, &k)) {
		free(policy);
		return 1;
	}
	rc = 2;
	if (strcmp(argv[0], "add-principal") == 0 && argc == 2) {
		char akid[21], secret[41];

		rc = kms_add_user(k, argv[1], policy, akid, secret);
		if (rc == 0)
			print_created(o, k, argv[1], akid, secret);
		else
			fprintf(stderr, "ward-kms: cannot add principal %s: %s\n", argv[1],
				rc == -EEXIST ? "it exists" : strerror(-rc));
		OPENSSL_cleanse(secret, sizeof(secret));
		rc = rc ? 1 : 0;
	} else if (strcmp(argv[0], "add-host") == 0 && argc == 2) {
		uint8_t pub[65];

		if (!o->pubkey_file || !o->subject || read_host_pubkey(o->pubkey_file, pub)) {
			fprintf(stderr, "ward-kms: add-host needs --pubkey (a P-256 PEM public "
				"key) and --cert-subject\n");
			rc = 1;
		} else {
			rc = kms_add_host(k, argv[1], o->subject, pub, policy);
			if (!rc)
				print_created(o, k, argv[1], NULL, NULL);
			else
				fprintf(stderr, "ward-kms: cannot add host %s: %s\n", argv[1],
					rc == -EEXIST ? "it exists" : strerror(-rc));
			rc = rc ? 1 : 0;
		}
	} else if (strcmp(argv[0], "set-policy") == 0 && argc == 3) {
		free(policy);
		policy = load_policy(argv[2]);
		rc = !policy || store_principal_set_policy(k->store, argv[1], policy);
		if (rc)
			fprintf(stderr, "ward-kms: cannot set the policy of %s\n", argv[1]);
	} else if (strcmp(argv[0], "list-principals") == 0 && argc == 1) {
		rc = cmd_list(o, k, PRINCIPAL_USER);
	} else if (strcmp(argv[0], "list-hosts") == 0 && argc == 1) {
		rc = cmd_list(o, k, PRINCIPAL_HOST);
	} else if (strcmp(argv[0], "sweep") == 0 && argc == 1) {
		int n = kms_sweep(k, o->now > 0 ? o->now : kms_now());

		if (n >= 0)
			printf("keys_changed=%d\n", n);
		rc = n < 0;
	} else {
		usage(stderr);
	}
	free(policy);
	kms_close(k);
	return rc;
}

/* Landlock and seccomp, from inside server_run once the socket is bound. */
static int lockdown(void *arg)
{
	struct opts *o = arg;
	char token_dir[4096], err[256] = "";
	struct kms_sandbox sb = { .db_path = o->kms.db_path, .trail_dir = o->trail_dir };
	int rc;

	if (!kms_sandbox_token_dir(token_dir, sizeof(token_dir)))
		sb.token_dir = token_dir;
	else
		log_warn("no SoftHSM2 token directory found: the PKCS#11 module gets no "
			 "filesystem access after lockdown", "module=%s", o->kms.module);
	rc = kms_sandbox_lock(&sb, err, sizeof(err));
	if (rc) {
		log_error("cannot lock down", "error=\"%s\"", err);
		return rc;
	}
	kms_sandbox_test_forbidden("main");
	return 0;
}

/* The activity trail, DB.trail unless --trail-dir says where (docs/kms.md). */
static int open_trail(struct opts *o)
{
	static char dflt[4096];
	char origin[96], err[512];
	int rc;

	if (!o->trail_dir) {
		if (snprintf(dflt, sizeof(dflt), "%s.trail", o->kms.db_path) >= (int)sizeof(dflt)) {
			fprintf(stderr, "ward-kms: the database path is too long\n");
			return -ENAMETOOLONG;
		}
		o->trail_dir = dflt;
	}
	snprintf(origin, sizeof(origin), "ward-kms/%s/%s", o->kms.region, o->kms.account);
	rc = trail_open(o->trail_dir, origin, &o->srv.trail, err, sizeof(err));
	if (rc)
		fprintf(stderr, "ward-kms: cannot open the activity trail: %s\n", err);
	o->srv.trail_checkpoint_s = 10;
	return rc;
}

/* One HSM (one login, a session per worker) and a KMS context per worker. */
static int serve(struct opts *o)
{
	struct kms *ks[16];
	struct hsm *hsm = NULL;
	char *pin = read_secret(o->pin_file, "WARD_KMS_PIN");
	unsigned n = o->threads, opened = 0;
	int rc = 1;

	if (!pin) {
		fprintf(stderr, "ward-kms: the token PIN is needed: --pin-file FILE or WARD_KMS_PIN\n");
		return 1;
	}
	if (n == 0) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);

		n = c > 0 ? (unsigned)c : 1;
	}
	if (n > 16)
		n = 16;
	if (hsm_open(o->kms.module, o->kms.token_label, pin, n, &hsm)) {
		fprintf(stderr, "ward-kms: cannot open HSM token %s\n", o->kms.token_label);
		goto out;
	}
	o->kms.hsm = hsm;
	for (; opened < n; opened++) {
		o->kms.sess = opened;
		if (kms_open(&o->kms, &ks[opened])) {
			fprintf(stderr, "ward-kms: cannot open the KMS database %s\n", o->kms.db_path);
			goto out;
		}
	}
#ifdef WARD_TEST_HOOKS
	/* bench/kms/trail_cost.sh: the same binary with the trail off, to
	 * measure what its durable append costs each answer. Test builds
	 * only: a production ward-kms always records. */
	if (getenv("WARD_KMS_TEST_NO_TRAIL"))
		fprintf(stderr, "test hook: the activity trail is off (WARD_KMS_TEST_NO_TRAIL)\n");
	else
#endif
	if (open_trail(o))
		goto out;
	o->srv.lockdown = lockdown;
	o->srv.lockdown_arg = o;
	rc = server_run(ks, n, &o->srv) ? 1 : 0;
out:
	trail_close(o->srv.trail);
	o->srv.trail = NULL;
	while (opened)
		kms_close(ks[--opened]);
	hsm_close(hsm);
	secmem_free(pin, 256);
	return rc;
}

/* /etc/ward/kms.conf: the options of the daemon and its token, not the
 * per-command ones of `admin` (docs/operations.md). */
static const struct conf_key conf_keys[] = {
	{ "db", CONF_PATH, 0, 0, 0 }, { "pkcs11-module", CONF_PATH, 0, 0, 0 },
	{ "token-label", CONF_STRING, 0, 0, 0 }, { "token-dir", CONF_PATH, 0, 0, 0 },
	{ "pin-file", CONF_PATH, 0, 0, 0 }, { "so-pin-file", CONF_PATH, 0, 0, 0 },
	{ "region", CONF_STRING, 0, 0, 0 }, { "account", CONF_STRING, 0, 0, 0 },
	{ "listen", CONF_STRING, 0, 0, 0 }, { "port", CONF_INT, 0, 65535, 0 },
	{ "port-file", CONF_PATH, 0, 0, 0 }, { "cert", CONF_PATH, 0, 0, 0 },
	{ "key", CONF_PATH, 0, 0, 0 }, { "client-ca", CONF_PATH, 0, 0, 0 },
	{ "threads", CONF_INT, 0, 16, 0 }, { "trail-dir", CONF_PATH, 0, 0, 0 },
	{ "metrics-subject", CONF_STRING, 0, 0, 0 },
	{ "attestation-root", CONF_PATH, 0, 0, 0 },
	{ NULL, 0, 0, 0, 0 },
};

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "pkcs11-module", required_argument, NULL, 'm' },
		{ "token-label", required_argument, NULL, 't' },
		{ "pin-file", required_argument, NULL, 'p' },
		{ "so-pin-file", required_argument, NULL, 'P' },
		{ "region", required_argument, NULL, 'r' },
		{ "account", required_argument, NULL, 'a' },
		{ "listen", required_argument, NULL, 'l' },
		{ "port", required_argument, NULL, 'o' },
		{ "port-file", required_argument, NULL, 'O' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "client-ca", required_argument, NULL, 'C' },
		{ "policy", required_argument, NULL, 'y' },
		{ "admin", no_argument, NULL, 'A' },
		{ "pubkey", required_argument, NULL, 'u' },
		{ "cert-subject", required_argument, NULL, 's' },
		{ "now", required_argument, NULL, 'n' },
		{ "threads", required_argument, NULL, 'T' },
		{ "trail-dir", required_argument, NULL, 'L' },
		{ "metrics-subject", required_argument, NULL, 'M' },
		{ "token-dir", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "json", no_argument, NULL, 'J' },
		{ "attestation-root", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = {
		.kms = { .db_path = "ward-kms.db", .module = HSM_DEFAULT_MODULE,
			 .token_label = "ward-kms", .region = "us-east-1",
			 .account = "111122223333" },
		.srv = { .listen_addr = "127.0.0.1", .port = 8443 },
	};
	unsigned port;
	int c;

	log_init("kms", LOG_INFO);
	if (conf_args("ward-kms", "kms.conf", conf_keys, lo, &argc, &argv))
		return 2;
	opterr = 0;
	/* '+': stop at the subcommand; options after it are parsed again. */
	while ((c = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		switch (c) {
		case 'd': o.kms.db_path = optarg; break;
		case 'm': o.kms.module = optarg; break;
		case 't': o.kms.token_label = optarg; break;
		case 'p': o.pin_file = optarg; break;
		case 'P': o.so_pin_file = optarg; break;
		case 'r': o.kms.region = optarg; break;
		case 'a': o.kms.account = optarg; break;
		case 'l': o.srv.listen_addr = optarg; break;
		case 'o':
			if (cliopt_parse_port(optarg, &port))
				return cliopt_bad_value("ward-kms", "--port", "a number from 0 to "
							"65535 (0: any free port)", optarg);
			o.srv.port = (unsigned short)port;
			break;
		case 'O': o.srv.port_file = optarg; break;
		case 'c': o.srv.cert = optarg; break;
		case 'k': o.srv.key = optarg; break;
		case 'C': o.srv.client_ca = optarg; break;
		case 'y': o.policy_file = optarg; break;
		case 'A': o.admin = 1; break;
		case 'u': o.pubkey_file = optarg; break;
		case 's': o.subject = optarg; break;
		case 'n': o.now = atof(optarg); break;
		case 'T': o.threads = (unsigned)atoi(optarg); break;
		case 'L': o.trail_dir = optarg; break;
		case 'M': o.srv.metrics_subject = optarg; break;
		case 'R': o.kms.attest_root = optarg; break;
		case 'D':
			if (use_token_dir(optarg)) {
				fprintf(stderr, "ward-kms: cannot use token directory %s\n", optarg);
				return 1;
			}
			break;
		case 'J': o.json = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': cliopt_version("ward-kms"); return 0;
		default: return cliopt_bad_option("ward-kms", argv, lo);
		}
		if (optind < argc && argv[optind][0] != '-' && strcmp(argv[optind], "admin") == 0)
			break;
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[optind], "init-token") == 0)
		return cmd_init_token(&o);
	if (strcmp(argv[optind], "admin") == 0) {
		/* Re-scan the rest for options mixed with positional args. */
		char *pos[8];
		int npos = 0;

		for (int i = optind + 1; i < argc; i++) {
			const struct option *opt = NULL;

			if (strncmp(argv[i], "--", 2) == 0)
				for (const struct option *q = lo; q->name; q++)
					if (strcmp(argv[i] + 2, q->name) == 0)
						opt = q;
			if (!opt) {
				if (npos < 8)
					pos[npos++] = argv[i];
				continue;
			}
			const char *val = opt->has_arg ? (i + 1 < argc ? argv[++i] : NULL) : NULL;

			if (opt->has_arg && !val) {
				fprintf(stderr, "ward-kms: option --%s needs a value\n", opt->name);
				return CLI_EXIT_USAGE;
			}
			switch (opt->val) {
			case 'y': o.policy_file = val; break;
			case 'A': o.admin = 1; break;
			case 'u': o.pubkey_file = val; break;
			case 's': o.subject = val; break;
			case 'n': o.now = atof(val); break;
			case 'J': o.json = 1; break;
			default:
				fprintf(stderr, "ward-kms: option --%s does not belong to admin\n",
					opt->name);
				return CLI_EXIT_USAGE;
			}
		}
		return cmd_admin(&o, npos, pos);
	}
	if (strcmp(argv[optind], "serve") != 0) {
		usage(stderr);
		return 2;
	}
	if (!o.srv.cert || !o.srv.key) {
		fprintf(stderr, "ward-kms: serve needs --cert and --key\n");
		return 2;
	}
	secmem_process_harden();
	return serve(&o);
}
