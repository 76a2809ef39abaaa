/* ward-fwtool: the vendor's and the provisioning operator's firmware tool —
 * build and sign stores and update packages, provision a host, re-sign a
 * golden set, and (for tests and bring-up) run the boot chain the way the
 * controller does, quote the boot PCRs, replay an event log. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cliopt.h"
#include "controller/firmware.h"
#include "fileio.h"
#include "fw_chain.h"
#include "fw_provision.h"
#include "fw_store.h"
#include "log.h"
#include "tpm_eventlog.h"

/* The usage on stdout for --help, on stderr for a usage error (docs/cli.md). */
static void usage(FILE *f)
{
	fprintf(f,
"usage: ward-fwtool COMMAND [options]\n"
"       ward-fwtool --help | --version\n"
"  build-store  --images DIR --key VENDOR.pem --version N --counter N [--expiry UNIX] -o PKG\n"
"               every file in DIR is an image: ward-hv/ward-blk/ward-net by name, others\n"
"               are guests (name without .elf)\n"
"  pack-update  --key VENDOR.pem --version N --counter N [--expiry UNIX] -o PKG NAME:ROLE:PATH...\n"
"  provision    --state DIR --controller BIN --package PKG [--force] [--tcti T]\n"
"  sign-golden  --state DIR --slot A|B --controller BIN [--tcti T]\n"
"  golden-set   --release NAME --controller BIN --package PKG [-o FILE]\n"
"               the release's golden set for ward-api (stdout unless -o)\n"
"  run          --state DIR [--update PKG] [--tcti T]   boot chain as the controller runs it\n"
"  quote        --state DIR --nonce HEX --out DIR [--tcti T]\n"
"  replay       LOG       PCR values an event log predicts\n"
"  info         PKG       print a package's manifest\n"
"exit status: 0 done; 1 the operation failed; 2 usage error\n");
}

static struct {
	const char *images, *key, *out, *state, *controller, *package, *tcti, *update;
	const char *nonce, *slot, *release;
	unsigned long long version, counter, expiry;
	int force;
} opt;

/* --version, --counter and --expiry are whole decimal numbers, refused
 * with the option's name when malformed (not read as 0 by strtoull). */
static int parse_num(const char *name, const char *val, uint64_t min, unsigned long long *out)
{
	uint64_t v;

	if (cliopt_parse_uint(val, min, UINT64_MAX, &v)) {
		char want[64];

		snprintf(want, sizeof(want), "a number from %llu to %llu",
			 (unsigned long long)min, (unsigned long long)UINT64_MAX);
		cliopt_bad_value("ward-fwtool", name, want, val);
		return -1;
	}
	*out = v;
	return 0;
}

/* Options follow the command (argv[1]); first = 1 parses from argv[1]
 * only to name an option given where the command should be. */
static int parse_opts(int argc, char **argv, int first)
{
	static const struct option lo[] = {
		{ "images", 1, 0, 'i' }, { "key", 1, 0, 'k' }, { "out", 1, 0, 'o' },
		{ "state", 1, 0, 's' }, { "controller", 1, 0, 'c' }, { "package", 1, 0, 'p' },
		{ "tcti", 1, 0, 't' }, { "update", 1, 0, 'u' }, { "nonce", 1, 0, 'n' },
		{ "slot", 1, 0, 'S' }, { "version", 1, 0, 'V' }, { "counter", 1, 0, 'C' },
		{ "expiry", 1, 0, 'E' }, { "force", 0, 0, 'f' }, { "release", 1, 0, 'R' },
		{ 0, 0, 0, 0 },
	};
	int c;

	opterr = 0;
	optind = first;
	while ((c = getopt_long(argc, argv, ":o:", lo, NULL)) != -1) {
		switch (c) {
		case 'i': opt.images = optarg; break;
		case 'k': opt.key = optarg; break;
		case 'o': opt.out = optarg; break;
		case 's': opt.state = optarg; break;
		case 'c': opt.controller = optarg; break;
		case 'p': opt.package = optarg; break;
		case 't': opt.tcti = optarg; break;
		case 'u': opt.update = optarg; break;
		case 'n': opt.nonce = optarg; break;
		case 'S': opt.slot = optarg; break;
		case 'V': if (parse_num("--version", optarg, 1, &opt.version)) return -1; break;
		case 'C': if (parse_num("--counter", optarg, 0, &opt.counter)) return -1; break;
		case 'E': if (parse_num("--expiry", optarg, 0, &opt.expiry)) return -1; break;
		case 'f': opt.force = 1; break;
		case 'R': opt.release = optarg; break;
		default:
			cliopt_bad_option("ward-fwtool", argv, lo);
			return -1;
		}
	}
	return 0;
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

struct src { char name[FW_NAME_MAX + 1]; enum fw_role role; char path[PATH_MAX]; };

static int write_package(struct src *s, unsigned n)
{
	struct fw_manifest *m = calloc(1, sizeof(*m));
	uint8_t *man = NULL, *img[FW_MAX_IMAGES] = { 0 }, hdr[12];
	size_t mlen, ilen[FW_MAX_IMAGES];
	struct iovec iov[FW_MAX_IMAGES + 2];
	char err[256];
	int rc = 1;

	if (!m || !opt.key || !opt.out || !opt.version) {
		fprintf(stderr, "ward-fwtool: need --key, --version (>0) and -o\n");
		goto out;
	}
	m->version = opt.version;
	m->counter = opt.counter;
	m->expiry = opt.expiry;
	m->n_images = n;
	for (unsigned i = 0; i < n; i++) {
		if (fw_io_read(s[i].path, FW_IMAGE_MAX, &img[i], &ilen[i])) {
			fprintf(stderr, "ward-fwtool: cannot read %s\n", s[i].path);
			goto out;
		}
		snprintf(m->img[i].name, sizeof(m->img[i].name), "%s", s[i].name);
		m->img[i].role = s[i].role;
		m->img[i].size = ilen[i];
		EVP_Digest(img[i], ilen[i], m->img[i].sha256, NULL, EVP_sha256(), NULL);
	}
	if (fw_manifest_build(m, opt.key, &man, &mlen, err, sizeof(err))) {
		fprintf(stderr, "ward-fwtool: %s\n", err);
		goto out;
	}
	memcpy(hdr, "WFUP\1\0\0\0", 8);
	for (int i = 0; i < 4; i++)
		hdr[8 + i] = (uint8_t)(mlen >> (8 * i));
	iov[0] = (struct iovec){ .iov_base = hdr, .iov_len = sizeof(hdr) };
	iov[1] = (struct iovec){ .iov_base = man, .iov_len = mlen };
	for (unsigned i = 0; i < n; i++)
		iov[2 + i] = (struct iovec){ .iov_base = img[i], .iov_len = ilen[i] };
	/* Replaced atomically: a package is never seen half-written. */
	if ((rc = fileio_replacev(opt.out, iov, (int)n + 2, 0644))) {
		fprintf(stderr, "ward-fwtool: writing %s: %s\n", opt.out, fileio_strerror(rc));
		rc = 1;
	}
out:
	for (unsigned i = 0; i < n; i++)
		free(img[i]);
	free(man);
	free(m);
	return rc;
}

static int cmp_src(const void *a, const void *b)
{
	const struct src *x = a, *y = b;

	if (x->role != y->role)
		return (int)x->role - (int)y->role;
	return strcmp(x->name, y->name);
}

static int cmd_build_store(void)
{
	struct src s[FW_MAX_IMAGES];
	struct dirent *e;
	unsigned n = 0;
	DIR *d;

	if (!opt.images || !(d = opendir(opt.images))) {
		fprintf(stderr, "ward-fwtool: --images DIR needed\n");
		return 2;
	}
	while ((e = readdir(d))) {
		char *dot;

		if (e->d_name[0] == '.')
			continue;
		if (n == FW_MAX_IMAGES) {
			fprintf(stderr, "ward-fwtool: more than %d images\n", FW_MAX_IMAGES);
			closedir(d);
			return 1;
		}
		snprintf(s[n].path, sizeof(s[n].path), "%s/%s", opt.images, e->d_name);
		if (snprintf(s[n].name, sizeof(s[n].name), "%s", e->d_name) >= (int)sizeof(s[n].name) &&
		    !strstr(e->d_name, ".elf")) {
			fprintf(stderr, "ward-fwtool: image name %s too long\n", e->d_name);
			closedir(d);
			return 1;
		}
		dot = strstr(s[n].name, ".elf");
		if (dot && !dot[4])
			*dot = 0;
		s[n].role = !strcmp(s[n].name, "ward-hv") ? FW_ROLE_HV :
			    !strcmp(s[n].name, "ward-blk") ? FW_ROLE_BLK :
			    !strcmp(s[n].name, "ward-net") ? FW_ROLE_NET : FW_ROLE_GUEST;
		n++;
	}
	closedir(d);
	/* Launch (measurement) order: hv, blk, net, then guests by name. */
	qsort(s, n, sizeof(s[0]), cmp_src);
	return write_package(s, n);
}

static int cmd_pack_update(int argc, char **argv)
{
	struct src s[FW_MAX_IMAGES];
	unsigned n = 0;

	for (int i = optind; i < argc; i++) {
		char *a = argv[i], *c1 = strchr(a, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2 || n == FW_MAX_IMAGES || (size_t)(c1 - a) > FW_NAME_MAX) {
			fprintf(stderr, "ward-fwtool: bad image spec %s (NAME:ROLE:PATH)\n", a);
			return 2;
		}
		*c1 = *c2 = 0;
		snprintf(s[n].name, sizeof(s[n].name), "%s", a);
		if (fw_role_parse(c1 + 1, &s[n].role)) {
			fprintf(stderr, "ward-fwtool: unknown role %s (hv, blk, net, guest)\n", c1 + 1);
			return 2;
		}
		snprintf(s[n].path, sizeof(s[n].path), "%s", c2 + 1);
		n++;
	}
	return write_package(s, n);
}

static int cmd_provision(void)
{
	struct fw_provision_opts o = {
		.state_dir = opt.state, .tcti = opt.tcti, .controller = opt.controller,
		.package = opt.package, .force = opt.force,
	};
	char err[512];
	int rc;

	if (!opt.state || !opt.controller || !opt.package) {
		fprintf(stderr, "ward-fwtool: provision needs --state, --controller, --package\n");
		return 2;
	}
	rc = fw_provision(&o, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "ward-fwtool: provision: %s\n", err);
		return rc == -EEXIST ? 3 : 1;
	}
	printf("provisioned %s\n", opt.state);
	return 0;
}

static int cmd_sign_golden(void)
{
	char path[PATH_MAX], err[256];
	uint8_t ctl[FW_SHA256_LEN], pcr12[FW_SHA256_LEN], *buf = NULL, out[512];
	size_t len, olen;
	struct fw_manifest m;
	struct fw_golden g;
	struct tpm *t = NULL;
	int rc = 1;

	if (!opt.state || !opt.controller || !opt.slot ||
	    (strcmp(opt.slot, "A") && strcmp(opt.slot, "B"))) {
		fprintf(stderr, "ward-fwtool: sign-golden needs --state, --slot A|B, --controller\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/%s/slot-%s/%s", opt.state, FW_DIR, opt.slot, FW_MANIFEST);
	if (fw_sha256_file(opt.controller, ctl) || fw_io_read(path, 1u << 20, &buf, &len) ||
	    fw_manifest_parse(buf, len, &m, err, sizeof(err))) {
		fprintf(stderr, "ward-fwtool: cannot read the controller or %s\n", path);
		goto out;
	}
	fw_pcr12_for(ctl, pcr12);
	fw_golden_compute(&m, pcr12, &g);
	if (tpm_open(opt.tcti, &t, err, sizeof(err)) ||
	    fw_golden_sign(t, opt.state, &g, out, sizeof(out), &olen, err, sizeof(err))) {
		fprintf(stderr, "ward-fwtool: %s\n", err);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/slot-%s/%s", FW_DIR, opt.slot, FW_GOLDEN);
	rc = fw_state_write(opt.state, path, out, olen) ? 1 : 0;
out:
	tpm_close(t);
	free(buf);
	return rc;
}

static void print_fd(const char *role, const char *name, int fd)
{
	uint8_t h[FW_SHA256_LEN];
	char x[2 * FW_SHA256_LEN + 1];
	int seals = fcntl(fd, F_GET_SEALS);

	if (fw_sha256_fd(fd, h))
		return;
	hex(h, sizeof(h), x);
	printf("image %s %s sha256=%s sealed=%d\n", role, name, x,
	       seals >= 0 && (seals & (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) ==
		       (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL));
}

static int cmd_run(void)
{
	struct fw_state st;
	char err[256];
	int rc = 0;

	if (!opt.state) {
		fprintf(stderr, "ward-fwtool: run needs --state\n");
		return 2;
	}
	fw_boot(opt.state, opt.tcti, &st);
	printf("in_service=%d\nslot=%c\nversion=%llu\nreason=%s\n", st.in_service,
	       st.slot ? st.slot : '-', st.version, st.reason);
	if (st.img.hv_fd >= 0)
		print_fd("hv", "ward-hv", st.img.hv_fd);
	if (st.img.blk_fd >= 0)
		print_fd("blk", "ward-blk", st.img.blk_fd);
	for (unsigned i = 0; i < st.img.n_guests; i++)
		print_fd("guest", st.img.guest[i].name, st.img.guest[i].fd);
	if (opt.update && st.in_service) {
		rc = fw_update_apply(opt.state, opt.tcti, opt.update, err, sizeof(err));
		printf("update=%s\n", rc ? err : "staged");
	}
	fflush(stdout);
	fw_state_release(&st);
	fw_forget_store_key();
	if (!st.in_service)
		return 4;
	return rc ? 5 : 0;
}

static int cmd_quote(void)
{
	char path[PATH_MAX], err[256], list[64];
	uint8_t nonce[64], *blob = NULL;
	size_t blen, nlen = 0;
	struct tpm_quote q;
	struct tpm *t = NULL;
	int rc = 1;

	if (!opt.state || !opt.nonce || !opt.out || strlen(opt.nonce) > 128 ||
	    strlen(opt.nonce) % 2) {
		fprintf(stderr, "ward-fwtool: quote needs --state, --nonce HEX (<= 64 bytes), --out\n");
		return 2;
	}
	for (size_t i = 0; opt.nonce[2 * i]; i++, nlen++) {
		unsigned v;

		if (sscanf(opt.nonce + 2 * i, "%2x", &v) != 1)
			return 2;
		nonce[i] = (uint8_t)v;
	}
	snprintf(path, sizeof(path), "%s/%s", opt.state, FW_AK_BLOB);
	if (fw_io_read(path, 1u << 16, &blob, &blen) || tpm_open(opt.tcti, &t, err, sizeof(err)))
		goto out;
	if (tpm_quote(t, blob, blen, TPM_BOOT_PCRS, nonce, nlen, &q)) {
		fprintf(stderr, "ward-fwtool: quote: %s\n", tpm_error(t));
		goto out;
	}
	if (!tpm_quote_write_files(&q, opt.out, list, sizeof(list))) {
		printf("%s\n", list);
		rc = 0;
	}
	tpm_quote_free(&q);
out:
	tpm_close(t);
	free(blob);
	return rc;
}

static int cmd_replay(int argc, char **argv)
{
	struct tpm_replay r;
	char err[256], x[2 * TPM_DIGEST_LEN + 1];

	if (optind >= argc)
		return 2;
	if (tpm_eventlog_replay_file(argv[optind], &r, err, sizeof(err))) {
		fprintf(stderr, "ward-fwtool: %s\n", err);
		return 1;
	}
	for (unsigned i = 0; i < TPM_NUM_PCRS; i++)
		if (r.mask & TPM_PCR_BIT(i)) {
			hex(r.pcr[i], TPM_DIGEST_LEN, x);
			printf("%u %s\n", i, x);
		}
	return 0;
}

/* The golden-set format's release names: 1-64 of [A-Za-z0-9._-]. */
static bool release_name_ok(const char *r)
{
	size_t n = strlen(r);

	if (n < 1 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)r[i]) && !strchr("._-", r[i]))
			return false;
	return true;
}

static int golden_line(char *buf, size_t cap, size_t *off, unsigned pcr,
		       const uint8_t d[FW_SHA256_LEN], const char *label)
{
	char x[2 * FW_SHA256_LEN + 1];
	int n;

	hex(d, FW_SHA256_LEN, x);
	n = snprintf(buf + *off, cap - *off, "pcr %u %s %s\n", pcr, x, label);
	if (n < 0 || (size_t)n >= cap - *off)
		return -1;
	*off += (size_t)n;
	return 0;
}

/* What the vendor publishes for a release (docs/attestation.md): the
 * controller binary ward-boot measures (PCR 12), then what fw_boot
 * measures from the package: its manifest (PCR 15) and each image in
 * manifest order (PCR 13). Made from what ships, never from a host. */
static int cmd_golden_set(void)
{
	struct fw_package *p = NULL;
	uint8_t *bin = NULL, *pkg = NULL, d[FW_SHA256_LEN];
	size_t bl, pl, off = 0, cap = 16384;
	char err[256], *out = NULL;
	int rc = 1, n;

	if (!opt.release || !opt.controller || !opt.package) {
		fprintf(stderr, "ward-fwtool: golden-set needs --release, --controller and --package\n");
		return CLI_EXIT_USAGE;
	}
	if (!release_name_ok(opt.release)) {
		cliopt_bad_value("ward-fwtool", "--release", "1-64 of A-Z a-z 0-9 . _ -",
				 opt.release);
		return CLI_EXIT_USAGE;
	}
	p = malloc(sizeof(*p));
	out = malloc(cap);
	if (!p || !out)
		goto out;
	if (fw_io_read(opt.controller, FW_IMAGE_MAX, &bin, &bl)) {
		fprintf(stderr, "ward-fwtool: cannot read %s\n", opt.controller);
		goto out;
	}
	if (fw_io_read(opt.package, SIZE_MAX, &pkg, &pl)) {
		fprintf(stderr, "ward-fwtool: cannot read %s\n", opt.package);
		goto out;
	}
	if (fw_package_parse(pkg, pl, p, err, sizeof(err))) {
		fprintf(stderr, "ward-fwtool: %s: %s\n", opt.package, err);
		goto out;
	}
	if (!EVP_Digest(bin, bl, d, NULL, EVP_sha256(), NULL))
		goto out;
	n = snprintf(out, cap, "# ward golden set: release %s\nrelease %s\n",
		     opt.release, opt.release);
	if (n < 0 || (size_t)n >= cap)
		goto out;
	off = (size_t)n;
	if (golden_line(out, cap, &off, 12, d, "ward-controller") ||
	    golden_line(out, cap, &off, 15, p->m.digest, "manifest"))
		goto out;
	for (unsigned i = 0; i < p->m.n_images; i++)
		if (golden_line(out, cap, &off, 13, p->m.img[i].sha256, p->m.img[i].name))
			goto out;
	if (opt.out) {
		struct iovec v = { .iov_base = out, .iov_len = off };

		if ((rc = fileio_replacev(opt.out, &v, 1, 0644))) {
			fprintf(stderr, "ward-fwtool: writing %s: %s\n", opt.out, fileio_strerror(rc));
			rc = 1;
			goto out;
		}
	} else if (fwrite(out, 1, off, stdout) != off || fflush(stdout)) {
		goto out;
	}
	rc = 0;
out:
	free(out);
	free(pkg);
	free(bin);
	free(p);
	return rc;
}

static int cmd_info(int argc, char **argv)
{
	struct fw_package *p = malloc(sizeof(*p));
	char err[256], x[2 * FW_SHA256_LEN + 1];
	uint8_t *buf = NULL;
	size_t len;
	int rc = 1;

	if (!p || optind >= argc || fw_io_read(argv[optind], SIZE_MAX, &buf, &len))
		goto out;
	if (fw_package_parse(buf, len, p, err, sizeof(err))) {
		fprintf(stderr, "ward-fwtool: %s\n", err);
		goto out;
	}
	printf("version=%llu counter=%llu expiry=%llu images=%u\n",
	       (unsigned long long)p->m.version, (unsigned long long)p->m.counter,
	       (unsigned long long)p->m.expiry, p->m.n_images);
	for (unsigned i = 0; i < p->m.n_images; i++) {
		hex(p->m.img[i].sha256, FW_SHA256_LEN, x);
		printf("image %s role=%s size=%llu sha256=%s\n", p->m.img[i].name,
		       fw_role_name(p->m.img[i].role), (unsigned long long)p->m.img[i].size, x);
	}
	rc = 0;
out:
	free(buf);
	free(p);
	return rc;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";

	log_init("fwtool", LOG_WARN);
	if (!strcmp(cmd, "--version")) {
		cliopt_version("ward-fwtool");
		return 0;
	}
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return 0;
	}
	/* An option where the command belongs is named, like every binary's. */
	if (parse_opts(argc, argv, cmd[0] == '-' ? 1 : 2))
		return CLI_EXIT_USAGE;
	if (cmd[0] == '-')	/* options only, no command */
		goto bad;
	if (!strcmp(cmd, "build-store"))
		return cmd_build_store();
	if (!strcmp(cmd, "pack-update"))
		return cmd_pack_update(argc, argv);
	if (!strcmp(cmd, "provision"))
		return cmd_provision();
	if (!strcmp(cmd, "sign-golden"))
		return cmd_sign_golden();
	if (!strcmp(cmd, "golden-set"))
		return cmd_golden_set();
	if (!strcmp(cmd, "run"))
		return cmd_run();
	if (!strcmp(cmd, "quote"))
		return cmd_quote();
	if (!strcmp(cmd, "replay"))
		return cmd_replay(argc, argv);
	if (!strcmp(cmd, "info"))
		return cmd_info(argc, argv);
bad:
	usage(stderr);
	return CLI_EXIT_USAGE;
}
