/* volume: the control plane of encrypted volumes (docs/attach.md). Volume
 * metadata — never a plaintext key — lives in CP_DIR/volumes.json; the
 * caller is authenticated by a KMS request signed with their own access key
 * and authorised by CP_DIR/policy.json; KMS grants and forward access
 * sessions are made as the control-plane principal (CP_DIR/credentials);
 * the controller is called over mTLS with the control-plane certificate. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "cli/apiclient.h"
#include "cli/help.h"
#include "cli/volume.h"
#include "controller/kmsclient.h"
#include "cliopt.h"
#include "fileio.h"
#include "secmem.h"

#define DATA_KEY_BYTES 64	/* AES-256-XTS: two 256-bit keys */

struct vctx {
	const char *url, *cert, *key, *ca;	/* controller */
	const char *cp_dir, *kms_url, *kms_ca;
	char cp_akid[129], cp_secret[129], cp_arn[256];
	json_t *state;		/* volumes.json */
	int lock_fd;
	struct kmsc *cp_k;	/* one KMS connection per command, kept alive */
};

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int die(const char *fmt, ...)
{
	va_list ap;

	fputs("ward volume: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* A usage error of `volume SUB`: why, then SUB's usage; exit status 2. */
static int usage_error(const char *sub, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int usage_error(const char *sub, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return help_usage_error("volume", sub, why);
}

/* ---- control-plane state ---- */

static int cp_path(const struct vctx *x, const char *name, char *out, size_t len)
{
	return snprintf(out, len, "%s/%s", x->cp_dir, name) >= (int)len ? -1 : 0;
}

#define CP_FILE_MAX (16u << 20)
#define CRED_MAX 1024

/* A JSON file of the control-plane dir: a whole regular file (fileio),
 * no duplicate keys. -EBADMSG when it is not JSON. */
static int load_json(const char *path, json_t **out)
{
	uint8_t *buf;
	size_t len;
	int rc = fileio_read(path, CP_FILE_MAX, 0, &buf, &len);

	if (rc)
		return rc;
	*out = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, NULL);
	free(buf);
	return *out ? 0 : -EBADMSG;
}

static int load_state(struct vctx *x)
{
	char path[PATH_MAX];
	int rc;

	if (mkdir(x->cp_dir, 0700) && errno != EEXIST)
		return die("cannot create the control-plane dir %s: %s", x->cp_dir, strerror(errno));
	cp_path(x, ".lock", path, sizeof(path));
	x->lock_fd = fileio_open(path, O_RDWR | O_CREAT, 0600, 0);
	if (x->lock_fd < 0 || flock(x->lock_fd, LOCK_EX))
		return die("cannot lock %s", path);
	/* Under the lock: no other `ward volume` is replacing a file here. */
	fileio_sweep(x->cp_dir);
	cp_path(x, "volumes.json", path, sizeof(path));
	rc = load_json(path, &x->state);
	if (rc == -ENOENT) {
		x->state = json_pack("{s:{}}", "volumes");
		return 0;
	}
	if (rc || !json_is_object(json_object_get(x->state, "volumes")))
		return die("%s is unreadable: %s", path, rc ? fileio_strerror(rc) : "no \"volumes\"");
	return 0;
}

static int save_state(struct vctx *x)
{
	char path[PATH_MAX], *txt = json_dumps(x->state, JSON_INDENT(1) | JSON_SORT_KEYS);
	int rc;

	cp_path(x, "volumes.json", path, sizeof(path));
	rc = txt ? fileio_replace(path, txt, strlen(txt), 0600) : -ENOMEM;
	free(txt);
	if (rc)
		return die("cannot replace %s: %s", path, fileio_strerror(rc));
	return 0;
}

/* CP_DIR/credentials: "AKID SECRET ARN" of the control-plane principal.
 * Read straight into a secmem page, wiped after parsing. */
static int load_cp_credentials(struct vctx *x)
{
	char path[PATH_MAX], *buf = secmem_alloc(CRED_MAX);
	size_t len;
	int n = 0, rc;

	if (!buf)
		return die("no locked memory for the control-plane credentials");
	cp_path(x, "credentials", path, sizeof(path));
	rc = fileio_read_into(path, 0, buf, CRED_MAX, &len);
	if (!rc)
		n = sscanf(buf, "%128s %128s %255s", x->cp_akid, x->cp_secret, x->cp_arn);
	secmem_free(buf, CRED_MAX);
	if (rc)
		return die("cannot read the control-plane credentials %s: %s", path,
			   fileio_strerror(rc));
	if (n != 3)
		return die("%s must hold \"ACCESS_KEY_ID SECRET PRINCIPAL_ARN\"", path);
	return 0;
}

static struct kmsc *kms_as(const struct vctx *x, const char *akid, const char *secret)
{
	struct kmsc_cfg c = { .url = x->kms_url, .ca = x->kms_ca, .akid = akid, .secret = secret };
	struct kmsc *k = NULL;

	if (!x->kms_url || kmsc_new(&c, &k))
		die("need --kms-url https://... (or WARD_KMS_URL)");
	return k;
}

/* ---- the caller ---- */

struct caller {
	char akid[129];
	const char *arn;	/* from the policy file */
	json_t *entry;
};

/* Authentication: a request signed with the caller's key that KMS verifies.
 * Success or AccessDeniedException both mean the signature was good. */
static int authenticate(struct vctx *x, const char *key_id, json_t *policy, struct caller *c)
{
	const char *akid = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
	char etype[64], err[512];
	json_t *resp = NULL, *p;
	struct kmsc *k;
	size_t i;
	int rc;

	if (!akid || !sk)
		return die("the caller's own KMS credentials are needed (AWS_ACCESS_KEY_ID, "
			   "AWS_SECRET_ACCESS_KEY)");
	/* One TLS connection for the command: SigV4 signs each request. */
	if (!x->cp_k && !(x->cp_k = kms_as(x, akid, sk)))
		return 1;
	k = x->cp_k;
	if (kmsc_set_signer(k, akid, sk))
		return die("out of memory");
	json_t *body = json_pack("{s:s}", "KeyId", key_id);

	rc = kmsc_call(k, "DescribeKey", body, &resp, etype, sizeof(etype), err, sizeof(err));
	json_decref(body);
	json_decref(resp);
	if (rc && rc != -EACCES)
		return die("caller authentication failed: %s", err);
	snprintf(c->akid, sizeof(c->akid), "%s", akid);
	json_array_foreach(json_object_get(policy, "principals"), i, p) {
		const char *a = json_string_value(json_object_get(p, "access_key_id"));

		if (a && !strcmp(a, akid)) {
			c->arn = json_string_value(json_object_get(p, "arn"));
			c->entry = p;
			if (c->arn)
				return 0;
		}
	}
	return die("access key %s is not a principal of the control-plane policy", akid);
}

static int in_list(json_t *arr, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		if (json_is_string(v) && (!strcmp(json_string_value(v), "*") ||
					  !strcmp(json_string_value(v), s)))
			return 1;
	return 0;
}

/* Authorisation: CP_DIR/policy.json, principal -> volumes x actions. */
static int authorize(const struct caller *c, const char *action, const char *vol)
{
	if (in_list(json_object_get(c->entry, "actions"), action) &&
	    in_list(json_object_get(c->entry, "volumes"), vol))
		return 0;
	return die("%s may not %s volume %s (control-plane policy)", c->arn, action, vol);
}

static json_t *load_policy(const struct vctx *x)
{
	char path[PATH_MAX];
	json_t *p = NULL;
	int rc;

	cp_path(x, "policy.json", path, sizeof(path));
	rc = load_json(path, &p);
	if (rc || !json_is_array(json_object_get(p, "principals"))) {
		die("cannot read the control-plane policy %s: %s", path,
		    rc ? fileio_strerror(rc) : "no \"principals\" array");
		json_decref(p);
		return NULL;
	}
	return p;
}

/* ---- the controller ---- */

/* The controller API, as the control plane (the caller's certificate). */
static long ctl_call(const struct vctx *x, const char *method, const char *path,
		     const char *body, struct api_buf *out)
{
	struct api_cfg c = { x->url, x->cert, x->key, x->ca };

	return api_call(&c, method, path, body, out);
}

/* ---- commands ---- */

/* The size syntax of every ward binary (cliopt; a bare number is bytes),
 * and a volume is whole 4 KiB blocks, at most 1 PiB. */
static int parse_size(const char *s, uint64_t *out)
{
	uint64_t v;

	if (cliopt_parse_size(s, CLI_UNIT_BYTES, &v) || !v || v > (1ull << 50) || v % 4096)
		return -1;
	*out = v;
	return 0;
}

static void random_id(char *out, size_t len)
{
	uint8_t b[8];

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		abort();
	snprintf(out, len, "vol-%02x%02x%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4],
		 b[5], b[6], b[7]);
}

static int cmd_create(struct vctx *x, int argc, char **argv)
{
	const char *kms_key = NULL, *backing = NULL, *size_s = NULL, *akid, *sk;
	char id[64] = "", path[PATH_MAX], etype[64], err[512], now[32];
	json_t *policy, *body, *resp = NULL, *vol;
	struct caller c = { 0 };
	const char *arn, *blob;
	struct kmsc *k;
	uint64_t size;
	time_t t = time(NULL);
	int i, fd, rc;

	for (i = 0; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--size"))
			size_s = argv[i + 1];
		else if (!strcmp(argv[i], "--kms-key"))
			kms_key = argv[i + 1];
		else if (!strcmp(argv[i], "--id"))
			snprintf(id, sizeof(id), "%s", argv[i + 1]);
		else if (!strcmp(argv[i], "--backing"))
			backing = argv[i + 1];
		else
			break;
	}
	if (i + 1 == argc)
		return usage_error("create", "option %s needs a value", argv[i]);
	if (i != argc || !size_s || !kms_key)
		return i != argc ? usage_error("create", "unknown option '%s'", argv[i]) :
				   usage_error("create", "--size and --kms-key are required");
	if (parse_size(size_s, &size))
		return usage_error("create", "--size must be a size in whole 4096-byte blocks, "
				   "at most 1 PiB (64M, 1G; a bare number is bytes), got '%s'", size_s);
	if (!id[0])
		random_id(id, sizeof(id));
	if (strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
	    strlen(id) || strlen(id) > 63)
		return die("--id must be 1-63 of [A-Za-z0-9._-]");
	if (!(policy = load_policy(x)))
		return 1;
	if (authenticate(x, kms_key, policy, &c) || authorize(&c, "create", id)) {
		json_decref(policy);
		return 1;
	}
	if (json_object_get(json_object_get(x->state, "volumes"), id)) {
		json_decref(policy);
		return die("volume %s exists", id);
	}
	/* The data key is generated and wrapped inside KMS; only the wrapped
	 * blob is stored, bound to this volume by its encryption context. */
	akid = getenv("AWS_ACCESS_KEY_ID");
	sk = getenv("AWS_SECRET_ACCESS_KEY");
	k = x->cp_k;	/* authenticate() left it signing as the caller */
	if (k && kmsc_set_signer(k, akid, sk))
		k = NULL;
	body = json_pack("{s:s, s:i, s:{s:s}}", "KeyId", kms_key, "NumberOfBytes", DATA_KEY_BYTES,
			 "EncryptionContext", "ward:volume", id);
	rc = k ? kmsc_call(k, "GenerateDataKeyWithoutPlaintext", body, &resp, etype,
			   sizeof(etype), err, sizeof(err)) : -EINVAL;
	json_decref(body);
	if (rc) {
		json_decref(policy);
		return k ? die("%s", err) : 1;
	}
	arn = json_string_value(json_object_get(resp, "KeyId"));
	blob = json_string_value(json_object_get(resp, "CiphertextBlob"));
	if (!arn || !blob) {
		json_decref(resp);
		json_decref(policy);
		return die("KMS answered GenerateDataKeyWithoutPlaintext without a key blob");
	}
	if (!backing) {
		snprintf(path, sizeof(path), "%s/volumes", x->cp_dir);
		mkdir(path, 0700);
		snprintf(path, sizeof(path), "%s/volumes/%s.img", x->cp_dir, id);
		backing = path;
	}
	/* The store holds exactly `size` bytes of ciphertext (docs/blk.md). */
	fd = fileio_open(backing, O_WRONLY | O_CREAT | O_EXCL, 0600, 0);
	rc = fd < 0 ? fd : ftruncate(fd, (off_t)size) || fsync(fd) ? -errno :
	     fileio_fsync_parent(backing);
	if (fd >= 0)
		close(fd);
	if (rc) {
		rc = die("cannot create the backing file %s: %s", backing, fileio_strerror(rc));
		goto out;
	}
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	vol = json_pack("{s:s, s:I, s:s, s:s, s:{s:s}, s:s, s:s, s:s, s:n}", "id", id, "size",
			(json_int_t)size, "backing", backing, "key_id", arn, "encryption_context",
			"ward:volume", id, "encrypted_key", blob, "owner", c.arn, "created", now,
			"attachment");
	json_object_set_new(json_object_get(x->state, "volumes"), id, vol);
	if ((rc = save_state(x)))
		goto out;
	json_dumpf(vol, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
	printf("\n");
out:
	json_decref(resp);
	json_decref(policy);
	return rc;
}

/* Control-plane KMS call; prints the reason on failure (not when the
 * error type is `tolerate`: then returns 2). */
static int cp_kms_t(struct vctx *x, const char *op, json_t *body, json_t **resp,
		    const char *tolerate)
{
	char etype[64], err[512];
	json_t *r = NULL;
	int rc;

	if ((!x->cp_k && !(x->cp_k = kms_as(x, x->cp_akid, x->cp_secret))) ||
	    kmsc_set_signer(x->cp_k, x->cp_akid, x->cp_secret)) {
		json_decref(body);
		return 1;
	}
	rc = kmsc_call(x->cp_k, op, body, &r, etype, sizeof(etype), err, sizeof(err));
	json_decref(body);
	if (rc && tolerate && !strcmp(etype, tolerate))
		return 2;
	if (rc)
		return die("%s", err);
	if (resp)
		*resp = r;
	else
		json_decref(r);
	return 0;
}

static int cp_kms(struct vctx *x, const char *op, json_t *body, json_t **resp)
{
	return cp_kms_t(x, op, body, resp, NULL);
}

/* A grant already revoked by the key's owner counts as retired. */
static int retire(struct vctx *x, json_t *vol, const char *grant_id)
{
	int rc = cp_kms_t(x, "RetireGrant", json_pack("{s:s, s:s}", "KeyId",
			  json_string_value(json_object_get(vol, "key_id")), "GrantId", grant_id),
			  NULL, "NotFoundException");

	if (rc == 2)
		fprintf(stderr, "ward volume: grant %s was already revoked\n", grant_id);
	return rc == 2 ? 0 : rc;
}

/* arn:aws:kms:REGION:ACCOUNT:key/ID -> ACCOUNT */
static int key_account(const char *arn, char *out, size_t len)
{
	const char *p = arn;

	for (int i = 0; i < 4; i++)
		if (!(p = strchr(p, ':')) || !*++p)
			return -1;
	snprintf(out, len, "%.*s", (int)strcspn(p, ":"), p);
	return 0;
}

static long long mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static int cmd_attach(struct vctx *x, int argc, char **argv)
{
	long long t_start = mono_us(), t_cp = 0, t_host;
	const char *vid, *image = NULL, *host = getenv("WARD_HOST_ID");
	unsigned long fas_s = 60;
	int i, spec_only = 0, rc = 1;
	json_t *policy = NULL, *vol, *resp = NULL, *req = NULL, *fas = NULL, *ans, *shape;
	const char *key_arn, *grant_id = NULL, *grant_tok, *fas_tok, *inst;
	char host_arn[256], acct[32], *body = NULL;
	struct caller c = { 0 };
	struct api_buf rb = { 0 };
	long st;

	if (argc < 1 || !(shape = json_object()))
		goto usage;
	vid = argv[0];
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--spec-only"))
			spec_only = 1;
		else if (i + 1 < argc && !strcmp(argv[i], "--image"))
			image = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--host"))
			host = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--fas-seconds"))
			fas_s = strtoul(argv[++i], NULL, 10);
		else if ((rc = api_launch_opt(shape, argv[i], i + 1 < argc ? argv[i + 1] : NULL)) == 1)
			i++;
		else {
			json_decref(shape);
			if (rc < 0)	/* api_launch_opt said what was wrong */
				return usage_error("attach", "see the options below");
			if (i + 1 == argc && (!strcmp(argv[i], "--image") || !strcmp(argv[i], "--host") ||
					      !strcmp(argv[i], "--fas-seconds")))
				return usage_error("attach", "option %s needs a value", argv[i]);
			return usage_error("attach", "unknown option '%s'", argv[i]);
		}
	}
	if (!image || !host || fas_s < 1 || fas_s > 300) {
		json_decref(shape);
		return usage_error("attach", !image ? "--image is required" : !host ?
				   "no host: --host HOST_ID or WARD_HOST_ID" :
				   "--fas-seconds must be a number from 1 to 300");
	}
	rc = 1;
	if (!(vol = json_object_get(json_object_get(x->state, "volumes"), vid)))
		return die("no volume %s", vid);
	if (!json_is_null(json_object_get(vol, "attachment")))
		return die("volume %s is already attached (detach it first)", vid);
	key_arn = json_string_value(json_object_get(vol, "key_id"));
	if (!key_arn || key_account(key_arn, acct, sizeof(acct)))
		return die("volume %s has no valid KMS key ARN", vid);
	if (load_cp_credentials(x) || !(policy = load_policy(x)))
		goto out;
	/* 1. who is asking, and may they attach this volume? */
	if (authenticate(x, key_arn, policy, &c) || authorize(&c, "attach", vid))
		goto out;
	/* 2. a grant for this host, this volume's context, Decrypt only... */
	snprintf(host_arn, sizeof(host_arn), "arn:aws:iam::%s:role/ward-host/%s", acct, host);
	if (cp_kms(x, "CreateGrant", json_pack("{s:s, s:s, s:[s], s:{s:{s:s}}, s:s}", "KeyId",
						key_arn, "GranteePrincipal", host_arn,
						"Operations", "Decrypt", "Constraints",
						"EncryptionContextEquals", "ward:volume", vid,
						"RetiringPrincipal", x->cp_arn), &resp))
		goto out;
	grant_id = json_string_value(json_object_get(resp, "GrantId"));
	grant_tok = json_string_value(json_object_get(resp, "GrantToken"));
	if (!grant_id || !grant_tok) {
		die("KMS CreateGrant answered without a grant");
		goto out;
	}
	json_object_set_new(vol, "attachment", json_pack("{s:s, s:s, s:n}", "host", host,
							 "grant_id", grant_id, "instance"));
	if (save_state(x))
		goto out;
	/* ...and a short-lived session that carries the caller's identity, so
	 * KMS re-checks the caller's own Decrypt permission. */
	if (cp_kms(x, "CreateForwardAccessSession", json_pack("{s:s, s:s, s:I}", "KeyId",
			key_arn, "CallerPrincipal", c.arn, "DurationSeconds", (json_int_t)fas_s),
		   &fas))
		goto retire;
	fas_tok = json_string_value(json_object_get(fas, "SessionToken"));
	req = json_pack("{s:s, s:[{s:s, s:s, s:O, s:s, s:O, s:O, s:s, s:s}]}", "image",
			image, "volumes", "volume_id", vid,
			"backing", json_string_value(json_object_get(vol, "backing")), "size",
			json_object_get(vol, "size"), "key_id", key_arn, "encrypted_key",
			json_object_get(vol, "encrypted_key"), "encryption_context",
			json_object_get(vol, "encryption_context"), "grant_token", grant_tok,
			"fas_token", fas_tok ? fas_tok : "");
	json_decref(fas);
	if (req)
		json_object_update(req, shape);	/* --memory, --cpu, ... */
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	if (!body) {
		die("cannot build the launch request");
		goto retire;
	}
	if (spec_only) {
		/* The launch request is the host's to send (tests, other tools);
		 * `volume detach` still retires the grant. */
		printf("%s\n", body);
		rc = 0;
		goto out;
	}
	/* 3. the host does steps 3-4 and launches the instance. */
	t_cp = mono_us();
	st = ctl_call(x, "POST", "/v1/instances", body, &rb);
	t_host = mono_us();
	/* For bench/attach: where the time went, measured in-process. */
	if (getenv("WARD_ATTACH_TIMING"))
		fprintf(stderr, "attach timing: control_plane_us=%lld host_request_us=%lld\n",
			t_cp - t_start, t_host - t_cp);
	if (st != 201) {
		fprintf(stderr, "%s", rb.p ? rb.p : "");
		die("the host refused the attach (HTTP %ld); retiring the grant", st);
		goto retire;
	}
	ans = json_loads(rb.p, 0, NULL);
	inst = json_string_value(json_object_get(ans, "id"));
	json_object_set_new(json_object_get(vol, "attachment"), "instance",
			    json_string(inst ? inst : ""));
	json_decref(ans);
	if (save_state(x))
		goto out;
	fputs(rb.p, stdout);
	rc = 0;
	goto out;
retire:
	if (!retire(x, vol, grant_id)) {
		json_object_set_new(vol, "attachment", json_null());
		save_state(x);
	}
out:
	free(rb.p);
	free(body);
	json_decref(req);
	json_decref(resp);
	json_decref(policy);
	json_decref(shape);
	return rc;
usage:
	return usage_error("attach", "attach needs a VOLUME");
}

static int cmd_detach(struct vctx *x, int argc, char **argv)
{
	json_t *policy = NULL, *vol, *att;
	const char *inst, *grant;
	struct caller c = { 0 };
	struct api_buf rb = { 0 };
	char path[512];
	int rc = 1, wiped = 0;
	long st = 0;

	if (argc != 1)
		return usage_error("detach", "detach takes one VOLUME");
	if (!(vol = json_object_get(json_object_get(x->state, "volumes"), argv[0])))
		return die("no volume %s", argv[0]);
	att = json_object_get(vol, "attachment");
	if (!json_is_object(att))
		return die("volume %s is not attached", argv[0]);
	if (load_cp_credentials(x) || !(policy = load_policy(x)))
		goto out;
	if (authenticate(x, json_string_value(json_object_get(vol, "key_id")), policy, &c) ||
	    authorize(&c, "detach", argv[0]))
		goto out;
	inst = json_string_value(json_object_get(att, "instance"));
	grant = json_string_value(json_object_get(att, "grant_id"));
	if (inst && inst[0]) {
		/* ward-blk wipes the key; a stopped instance has no key left. */
		snprintf(path, sizeof(path), "/v1/instances/%.64s/volumes/%.64s", inst, argv[0]);
		st = ctl_call(x, "DELETE", path, NULL, &rb);
		if (st != 200 && st != 404) {
			fprintf(stderr, "%s", rb.p ? rb.p : "");
			die("the host could not detach volume %s (HTTP %ld)", argv[0], st);
			goto out;
		}
		wiped = 1;
	}
	/* Retire the grant: re-attaching needs the whole flow again. */
	if (grant && retire(x, vol, grant))
		goto out;
	printf("{\"volume\":\"%s\",\"instance\":\"%s\",\"key_wiped\":%s,\"host_answer\":%ld,"
	       "\"grant_retired\":\"%s\"}\n", argv[0], inst ? inst : "",
	       wiped ? "true" : "false", st, grant ? grant : "");
	json_object_set_new(vol, "attachment", json_null());	/* frees inst, grant */
	if (save_state(x))
		goto out;
	rc = 0;
out:
	free(rb.p);
	json_decref(policy);
	return rc;
}

/* What the host says of an attachment (issue 16 §5): "ended" when its
 * instance has exited or is gone, "detached" when it runs without this
 * volume; NULL when it still runs with it, or when no host is configured
 * (an offline listing shows the records as stored). */
static const char *host_view(const struct vctx *x, const char *inst, const char *vid)
{
	struct api_buf rb = { 0 };
	const char *view = NULL;
	char path[128];
	json_t *o, *vols;
	size_t i;
	long st;

	if (!x->url || !x->cert || !x->key || !x->ca || !inst || !inst[0])
		return NULL;
	snprintf(path, sizeof(path), "/v1/instances/%.64s", inst);
	st = ctl_call(x, "GET", path, NULL, &rb);
	if (st == 404) {
		view = "ended";
	} else if (st == 200 && (o = json_loads(rb.p ? rb.p : "", 0, NULL))) {
		const char *state = json_string_value(json_object_get(o, "state"));

		vols = json_object_get(o, "volumes");
		if (!state || strcmp(state, "running")) {
			view = "ended";
		} else {
			view = "detached";
			for (i = 0; i < json_array_size(vols); i++) {
				const char *a = json_string_value(json_array_get(vols, i));

				if (a && !strcmp(a, vid))
					view = NULL;
			}
		}
		json_decref(o);
	}
	free(rb.p);
	return view;
}

/* list [--json]: a table (ID SIZE INSTANCE KEY), or the records as
 * stored in volumes.json (keyed by id; stable keys, docs/cli.md). With a
 * host configured, an attachment whose instance has ended shows it: the
 * INSTANCE column says "ID (ended)", the record gets "host_state". */
static int cmd_list(struct vctx *x, int argc, char **argv)
{
	json_t *vols = json_object_get(x->state, "volumes"), *v, *att;
	const char *id;

	if (argc > 1 || (argc == 1 && strcmp(argv[0], "--json")))
		return usage_error("list", "list takes only --json");
	json_object_foreach(vols, id, v) {
		const char *view;

		att = json_object_get(v, "attachment");
		view = host_view(x, json_string_value(json_object_get(att, "instance")), id);
		if (view)	/* shown, never saved: the record changes on detach */
			json_object_set_new(att, "host_state", json_string(view));
	}
	if (argc == 1) {
		json_dumpf(vols, stdout, JSON_INDENT(1) | JSON_SORT_KEYS);
		printf("\n");
		return 0;
	}
	printf("%-24s %14s %-34s %s\n", "ID", "SIZE", "INSTANCE", "KEY");
	json_object_foreach(vols, id, v) {
		const char *inst = json_string_value(json_object_get(json_object_get(v,
							"attachment"), "instance"));
		const char *view = json_string_value(json_object_get(json_object_get(v,
							"attachment"), "host_state"));
		const char *key = json_string_value(json_object_get(v, "key_id"));
		char shown[96];

		snprintf(shown, sizeof(shown), "%s%s%s%s", inst && inst[0] ? inst : "-",
			 view ? " (" : "", view ? view : "", view ? ")" : "");
		printf("%-24s %14lld %-34s %s\n", id,
		       (long long)json_integer_value(json_object_get(v, "size")), shown,
		       key ? key : "-");
	}
	return 0;
}

int volume_cmd(const char *url, const char *cert, const char *key, const char *ca, int argc,
	       char **argv)
{
	struct vctx x = { url, cert, key, ca, getenv("WARD_CP_DIR"), getenv("WARD_KMS_URL"),
			  getenv("WARD_KMS_CA"), "", "", "", NULL, -1, NULL };
	int i = 0, rc;

	while (i + 1 < argc && !strncmp(argv[i], "--", 2)) {
		if (!strcmp(argv[i], "--cp-dir"))
			x.cp_dir = argv[i + 1];
		else if (!strcmp(argv[i], "--kms-url"))
			x.kms_url = argv[i + 1];
		else if (!strcmp(argv[i], "--kms-ca"))
			x.kms_ca = argv[i + 1];
		else
			break;
		i += 2;
	}
	if (i >= argc || !x.cp_dir)
		return help_usage_error("volume", NULL, i >= argc ? "volume needs a subcommand" :
					"no control-plane directory: --cp-dir DIR or WARD_CP_DIR");
	if (load_state(&x)) {
		rc = 1;
	} else if (!strcmp(argv[i], "create")) {
		rc = cmd_create(&x, argc - i - 1, argv + i + 1);
	} else if (!strcmp(argv[i], "attach")) {
		rc = cmd_attach(&x, argc - i - 1, argv + i + 1);
	} else if (!strcmp(argv[i], "detach")) {
		rc = cmd_detach(&x, argc - i - 1, argv + i + 1);
	} else if (!strcmp(argv[i], "list")) {
		rc = cmd_list(&x, argc - i - 1, argv + i + 1);
	} else {
		rc = help_usage_error("volume", NULL, "unknown volume subcommand");
	}
	kmsc_free(x.cp_k);
	OPENSSL_cleanse(x.cp_secret, sizeof(x.cp_secret));
	json_decref(x.state);
	if (x.lock_fd >= 0)
		close(x.lock_fd);
	return rc;
}
