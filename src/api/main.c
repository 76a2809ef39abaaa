/* ward-api: ward's control plane API — IAM and STS over the AWS Query
 * protocol for now (docs/api.md, docs/iam.md). Subcommands: serve, admin
 * bootstrap (the first administrator). The master key comes from a file
 * (created 0600 on first use), never from the command line. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "api.h"
#include "conf.h"
#include "cliopt.h"
#include "etcd.h"
#include "fileio.h"
#include "hosts.h"
#include "reconcile.h"
#include "leader.h"
#include "log.h"
#include "secmem.h"
#include "server.h"

struct opts {
	const char *db, *key_file, *account;
	const char *etcd, *replica_id;	/* --etcd: replicated (docs/ha.md) */
	struct etcd_tls tls;
	int leader_ttl;
	struct server_config srv;
	struct hosts_cfg hosts;	/* --golden: host attestation (docs/attestation.md) */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ward-api [options] serve --cert PEM --key PEM [--listen ADDR] [--port P]\n"
		"                                [--port-file F]\n"
		"       ward-api [options] admin bootstrap NAME\n"
		"       ward-api [options] admin register-host ID URL CA.pem EK.pub RELEASE\n"
		"options: --db PATH (default ward-api.db)\n"
		"         --master-key-file F (default ward-api.key; 32 bytes, created if missing)\n"
		"         --account N (12 digits, default 111122223333)\n"
		"         --etcd URL,URL,... (the store on etcd instead of --db: replicas)\n"
		"         --etcd-cacert F --etcd-cert F --etcd-key F (https:// endpoints)\n"
		"         --leader-ttl S (the leader's lease, default 5) --replica-id ID\n"
		"         --golden F (host attestation's golden set; hosts are admitted only with it)\n"
		"         --attest-period S (re-attestation, default 60) --controller-cert PEM\n"
		"         --controller-key PEM (ward-api's client identity for controllers)\n"
		"       ward-api --help | --version\n"
		"exit status: 0 success; 1 runtime error (database, cannot listen);\n"
		"  2 usage error (docs/cli.md)\n");
}

/* The master key (in a 64-byte secmem buffer, see fileio_read_into):
 * 32 random bytes, made once. Everything sealed in the
 * store (access-key secrets, session tokens) depends on it. */
static uint8_t *master_key(const char *path)
{
	uint8_t *k = secmem_alloc(64), fresh[32];
	size_t len = 0;
	int rc;

	if (!k)
		return NULL;
	rc = fileio_read_into(path, FILEIO_FOLLOW, k, 64, &len);
	if (rc == -ENOENT) {
		if (RAND_bytes(fresh, 32) != 1)
			goto err;
		rc = fileio_write_new(path, fresh, 32, 0600);
		OPENSSL_cleanse(fresh, 32);
		if (rc && rc != -EEXIST)
			goto err;
		/* Read back what is on disk: another process may have won. */
		rc = fileio_read_into(path, FILEIO_FOLLOW, k, 64, &len);
	}
	if (rc || len != 32)
		goto err;
	return k;
err:
	fprintf(stderr, "ward-api: cannot read or create the 32-byte master key file %s%s\n", path,
		rc == 0 ? ": wrong size" : "");
	secmem_free(k, 64);
	return NULL;
}

static int open_api(struct opts *o, struct api *a)
{
	struct store *s;
	uint8_t *mk;
	int rc;

	if (strlen(o->account) != 12 || strspn(o->account, "0123456789") != 12) {
		fprintf(stderr, "ward-api: --account must be 12 digits\n");
		return -EINVAL;
	}
	if (!(mk = master_key(o->key_file)))
		return -EIO;
	rc = o->etcd ? store_etcd_open(o->etcd, &o->tls, &s) : store_sqlite_open(o->db, &s);
	if (rc) {
		fprintf(stderr, "ward-api: cannot open the store %s%s\n", o->etcd ? o->etcd : o->db,
			o->etcd ? " (endpoints: http://host:port, comma-separated; https:// with "
				  "--etcd-cacert)" : "");
		secmem_free(mk, 64);
		return rc;
	}
	rc = api_open(a, s, o->account, mk);
	secmem_free(mk, 64);
	if (rc)
		store_close(s);
	return rc;
}

static void close_api(struct api *a)
{
	struct store *s = a->store;

	api_close(a);
	store_close(s);
}

/* admin register-host ID URL CA.pem EK.pub RELEASE (docs/attestation.md). */
static int cmd_register_host(struct opts *o, char **argv)
{
	uint8_t *ca = NULL, *ek = NULL;
	size_t cl = 0, el = 0;
	char err[256] = "", *pem = NULL;
	struct api a;
	int rc;

	if (!o->hosts.golden_path) {
		fprintf(stderr, "ward-api: register-host needs --golden (the release is checked)\n");
		return 2;
	}
	if (hosts_configure(&o->hosts, err, sizeof(err))) {
		fprintf(stderr, "ward-api: %s\n", err);
		return 1;
	}
	if (fileio_read(argv[2], 65536, FILEIO_FOLLOW, &ca, &cl) ||
	    fileio_read(argv[3], 4096, FILEIO_FOLLOW, &ek, &el) || !(pem = strndup((char *)ca, cl))) {
		fprintf(stderr, "ward-api: cannot read %s or %s\n", argv[2], argv[3]);
		rc = 1;
		goto out;
	}
	if (open_api(o, &a)) {
		rc = 1;
		goto out;
	}
	rc = hosts_register(a.store, argv[0], argv[1], pem, ek, el, argv[4], err, sizeof(err));
	close_api(&a);
	if (rc)
		fprintf(stderr, "ward-api: cannot register host %s: %s\n", argv[0], err);
	else
		log_info("host registered", "host=%s endpoint=%s release=%s", argv[0], argv[1],
			 argv[4]);
	rc = rc == -EINVAL || rc == -ENOENT ? 2 : rc ? 1 : 0;
out:
	free(pem);
	free(ca);
	free(ek);
	return rc;
}

static int cmd_admin(struct opts *o, int argc, char **argv)
{
	struct api a;
	char akid[21], secret[41];
	int rc;

	if (argc == 6 && strcmp(argv[0], "register-host") == 0)
		return cmd_register_host(o, argv + 1);
	if (argc != 2 || strcmp(argv[0], "bootstrap") != 0) {
		usage(stderr);
		return 2;
	}
	if (open_api(o, &a))
		return 1;
	rc = iam_bootstrap_admin(&a, argv[1], (double)time(NULL), akid, secret);
	if (rc == 0) {
		/* The only time the secret is shown; it is not logged. */
		printf("%s %s\n", akid, secret);
		OPENSSL_cleanse(secret, sizeof(secret));
		log_info("bootstrap administrator created", "user=%s akid=%s", argv[1], akid);
	} else {
		fprintf(stderr, "ward-api: cannot create administrator %s: %s\n", argv[1],
			rc == -EEXIST ? "a user of that name exists" :
			rc == -EINVAL ? "the name is not a valid IAM user name" : strerror(-rc));
	}
	close_api(&a);
	return rc ? 1 : 0;
}

/* With --etcd, every replica serves requests; one, elected, also runs
 * the leader-only tasks (leader.h). */
static int start_election(const struct opts *o)
{
	struct leader_config lc = { .endpoints = o->etcd, .tls = &o->tls, .ttl_s = o->leader_ttl };
	char id[128], host[64] = "ward-api";
	int rc;

	gethostname(host, sizeof(host) - 1);
	host[strcspn(host, ".")] = '\0';
	snprintf(id, sizeof(id), "%s/%ld", host, (long)getpid());
	lc.id = o->replica_id ? o->replica_id : id;
#ifdef WARD_TEST_HOOKS
	/* The compaction test: the first election watch starts from an old,
	 * compacted revision. */
	if (getenv("WARD_TEST_LEADER_WATCH_FROM"))
		lc.first_watch_rev = strtoll(getenv("WARD_TEST_LEADER_WATCH_FROM"), NULL, 10);
	/* The lease test: a leader task slower than the lease. */
	if (getenv("WARD_TEST_LEADER_SLOW_TASK_MS"))
		lc.test_slow_task_ms = strtol(getenv("WARD_TEST_LEADER_SLOW_TASK_MS"), NULL, 10);
#endif
	if ((rc = leader_start(&lc)))
		fprintf(stderr, "ward-api: cannot start the leader election (--replica-id: letters, "
			"digits, -_./:)\n");
	return rc;
}

/* Host attestation rounds: the leader's task on etcd, else a thread of
 * this one replica with its own store connection. */
static int start_hosts(struct opts *o)
{
	char err[256] = "";
	int rc = hosts_configure(&o->hosts, err, sizeof(err));

	if (rc) {
		fprintf(stderr, "ward-api: %s\n", err);
		return rc;
	}
	rc = o->etcd ? leader_add_task(hosts_round, NULL) : hosts_thread_start(o->db);
	if (rc) {
		fprintf(stderr, "ward-api: cannot start host attestation: %s\n", strerror(-rc));
		return rc;
	}
	/* The instance reconciler drives the admitted hosts, with the same
	 * identity and on the same schedule (docs/api.md#the-reconciler). */
	reconcile_configure(&(struct reconcile_cfg){ o->hosts.client_cert, o->hosts.client_key,
						     o->hosts.timeout_s });
	rc = o->etcd ? leader_add_task(reconcile_round, NULL) : reconcile_thread_start(o->db);
	if (rc)
		fprintf(stderr, "ward-api: cannot start the reconciler: %s\n", strerror(-rc));
	return rc;
}

/* /etc/ward/api.conf (docs/operations.md). */
static const struct conf_key conf_keys[] = {
	{ "db", CONF_PATH, 0, 0, 0 }, { "master-key-file", CONF_PATH, 0, 0, 0 },
	{ "account", CONF_STRING, 0, 0, 0 }, { "cert", CONF_PATH, 0, 0, 0 },
	{ "key", CONF_PATH, 0, 0, 0 }, { "listen", CONF_STRING, 0, 0, 0 },
	{ "port", CONF_INT, 0, 65535, 0 }, { "port-file", CONF_PATH, 0, 0, 0 },
	{ "etcd", CONF_STRING, 0, 0, 0 },
	{ "etcd-cacert", CONF_PATH, 0, 0, 0 }, { "etcd-cert", CONF_PATH, 0, 0, 0 },
	{ "etcd-key", CONF_PATH, 0, 0, 0 }, { "leader-ttl", CONF_INT, 1, 3600, 0 },
	{ "replica-id", CONF_STRING, 0, 0, 0 },
	{ "golden", CONF_PATH, 0, 0, 0 }, { "attest-period", CONF_INT, 1, 86400, 0 },
	{ "controller-cert", CONF_PATH, 0, 0, 0 }, { "controller-key", CONF_PATH, 0, 0, 0 },
	{ NULL, 0, 0, 0, 0 },
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "master-key-file", required_argument, NULL, 'm' },
		{ "account", required_argument, NULL, 'a' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "listen", required_argument, NULL, 'l' },
		{ "port", required_argument, NULL, 'p' },
		{ "port-file", required_argument, NULL, 'P' },
		{ "etcd", required_argument, NULL, 'e' },
		{ "etcd-cacert", required_argument, NULL, 1 },
		{ "etcd-cert", required_argument, NULL, 2 },
		{ "etcd-key", required_argument, NULL, 3 },
		{ "leader-ttl", required_argument, NULL, 4 },
		{ "replica-id", required_argument, NULL, 5 },
		{ "golden", required_argument, NULL, 6 },
		{ "attest-period", required_argument, NULL, 7 },
		{ "controller-cert", required_argument, NULL, 8 },
		{ "controller-key", required_argument, NULL, 9 },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .db = "ward-api.db", .key_file = "ward-api.key",
			  .account = "111122223333", .leader_ttl = 5,
			  .hosts = { .period_s = 60 },
			  .srv = { .listen_addr = "127.0.0.1", .port = 8443 } };
	struct api a;
	int c, rc;

	log_init("api", LOG_INFO);
	if (conf_args("ward-api", "api.conf", conf_keys, longopts, &argc, &argv))
		return 2;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': o.db = optarg; break;
		case 'm': o.key_file = optarg; break;
		case 'a': o.account = optarg; break;
		case 'c': o.srv.cert = optarg; break;
		case 'k': o.srv.key = optarg; break;
		case 'l': o.srv.listen_addr = optarg; break;
		case 'p':
			if (cliopt_parse_port(optarg, &o.srv.port))
				return cliopt_bad_value("ward-api", "--port", "a number from 0 to "
							"65535 (0: any free port)", optarg);
			break;
		case 'P': o.srv.port_file = optarg; break;
		case 'e': o.etcd = optarg; break;
		case 1: o.tls.cacert = optarg; break;
		case 2: o.tls.cert = optarg; break;
		case 3: o.tls.key = optarg; break;
		case 4:
			o.leader_ttl = atoi(optarg);
			if (o.leader_ttl < 1 || o.leader_ttl > 3600)
				return cliopt_bad_value("ward-api", "--leader-ttl", "seconds from 1 to "
							"3600", optarg);
			break;
		case 5: o.replica_id = optarg; break;
		case 6: o.hosts.golden_path = optarg; break;
		case 7:
			o.hosts.period_s = atoi(optarg);
			if (o.hosts.period_s < 1 || o.hosts.period_s > 86400)
				return cliopt_bad_value("ward-api", "--attest-period", "seconds from 1 "
							"to 86400", optarg);
			break;
		case 8: o.hosts.client_cert = optarg; break;
		case 9: o.hosts.client_key = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': cliopt_version("ward-api"); return 0;
		default: return cliopt_bad_option("ward-api", argv, longopts);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[optind], "admin") == 0)
		return cmd_admin(&o, argc - optind - 1, argv + optind + 1);
	if (strcmp(argv[optind], "serve") != 0 || optind + 1 != argc) {
		usage(stderr);
		return 2;
	}
	if (!o.srv.cert || !o.srv.key) {
		fprintf(stderr, "ward-api: serve needs --cert and --key (TLS is not optional)\n");
		return 2;
	}
	if ((o.tls.cert == NULL) != (o.tls.key == NULL) || (o.tls.cert && !o.tls.cacert)) {
		fprintf(stderr, "ward-api: --etcd-cert and --etcd-key go together, with "
			"--etcd-cacert\n");
		return 2;
	}
	if (o.hosts.golden_path && (!o.hosts.client_cert || !o.hosts.client_key)) {
		fprintf(stderr, "ward-api: --golden needs --controller-cert and --controller-key "
			"(the control plane's identity at the hosts' controllers)\n");
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || open_api(&o, &a))
		return 1;
	if (o.hosts.golden_path && start_hosts(&o)) {
		close_api(&a);
		return 1;
	}
	if (o.etcd && start_election(&o)) {
		close_api(&a);
		return 1;
	}
	rc = server_run(&a, &o.srv);
	leader_stop();
	hosts_thread_stop();
	reconcile_thread_stop();
	close_api(&a);
	curl_global_cleanup();
	return rc ? 1 : 0;
}
