/* enclave: the CLI's offline enclave commands. `ward enclave build` makes
 * an EIF and prints its measurements as nitro-cli build-enclave does;
 * `describe-eif` parses, checks and measures one; `ward attestation
 * verify` checks an attestation document against a pinned root. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "attest.h"
#include "cli/enclave.h"
#include "eif.h"
#include "fileio.h"

#define INPUT_MAX ((size_t)1 << 31)	/* a kernel or ramdisk over 2 GiB is a mistake */
#define DOC_MAX ((size_t)1 << 20)

static int fail(const char *what, const char *msg)
{
	fprintf(stderr, "ward %s: %s\n", what, msg);
	return 1;
}

static int slurp(const char *what, const char *path, size_t max, uint8_t **buf, size_t *len)
{
	int rc = fileio_read(path, max, FILEIO_FOLLOW, buf, len);

	if (rc) {
		fprintf(stderr, "ward %s: cannot read %s: %s\n", what, path, fileio_strerror(rc));
		return -1;
	}
	return 0;
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = 0;
}

static json_t *hexval(const uint8_t *p, size_t n)
{
	char *s = malloc(2 * n + 1);
	json_t *j;

	if (!s)
		return NULL;
	hex(p, n, s);
	j = json_string(s);
	free(s);
	return j;
}

/* nitro-cli prints Rust's Debug form of sha2::Sha384 as HashAlgorithm. */
static json_t *measurements(const struct eif_pcrs *p)
{
	json_t *m = json_object();

	json_object_set_new(m, "HashAlgorithm", json_string("Sha384 { ... }"));
	json_object_set_new(m, "PCR0", hexval(p->pcr0, EIF_PCR_LEN));
	json_object_set_new(m, "PCR1", hexval(p->pcr1, EIF_PCR_LEN));
	json_object_set_new(m, "PCR2", hexval(p->pcr2, EIF_PCR_LEN));
	if (p->has_pcr8)
		json_object_set_new(m, "PCR8", hexval(p->pcr8, EIF_PCR_LEN));
	return m;
}

static void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (s)
		printf("%s\n", s);
	free(s);
}

/* The metadata section (EifIdentityInfo): not measured, informational.
 * BuildTime honours SOURCE_DATE_EPOCH so that a build can be reproduced
 * byte for byte. */
static char *metadata_json(const char *output)
{
	const char *sde = getenv("SOURCE_DATE_EPOCH"), *base = strrchr(output, '/');
	time_t t = sde ? (time_t)strtoll(sde, NULL, 10) : time(NULL);
	char when[64];
	struct tm tm;
	json_t *m, *b;
	char *s;

	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S+00:00", &tm);
	b = json_pack("{s:s, s:s, s:s, s:s, s:s}", "BuildTime", when, "BuildTool", "ward",
		      "BuildToolVersion", "0.1.0", "OperatingSystem", "Linux", "KernelVersion", "unknown");
	m = json_pack("{s:s, s:s, s:o, s:{}, s:n}", "ImageName", base ? base + 1 : output,
		      "ImageVersion", "1.0", "BuildMetadata", b, "DockerInfo", "CustomMetadata");
	s = m ? json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(m);
	return s;
}

static void build_usage(void)
{
	fputs("usage: ward enclave build --kernel FILE --cmdline STR --ramdisk FILE [--ramdisk FILE]...\n"
	      "           [--signing-certificate PEM --private-key PEM] --output-file FILE\n"
	      "       ward enclave describe-eif --eif-path FILE\n", stderr);
}

#define MAX_RD (EIF_MAX_SECTIONS - 4)

static int cmd_build(int argc, char **argv)
{
	const char *kernel = NULL, *cmdline = NULL, *cert = NULL, *key = NULL, *output = NULL;
	const char *rdpath[MAX_RD];
	uint8_t *rd[MAX_RD] = { 0 }, *kbuf = NULL, *cbuf = NULL, *keybuf = NULL, *out = NULL;
	size_t rdlen[MAX_RD], klen, clen = 0, keylen = 0, out_len;
	struct eif_build_in in = { 0 };
	struct eif_pcrs pcrs;
	char err[256], *meta = NULL;
	unsigned nrd = 0, i;
	int a, rc = 1;
	json_t *j;

	for (a = 0; a + 1 < argc; a += 2) {
		const char *o = argv[a], *v = argv[a + 1];

		if (!strcmp(o, "--kernel"))
			kernel = v;
		else if (!strcmp(o, "--cmdline"))
			cmdline = v;
		else if (!strcmp(o, "--ramdisk") && nrd < MAX_RD)
			rdpath[nrd++] = v;
		else if (!strcmp(o, "--signing-certificate"))
			cert = v;
		else if (!strcmp(o, "--private-key"))
			key = v;
		else if (!strcmp(o, "--output-file"))
			output = v;
		else
			break;
	}
	if (a != argc || !kernel || !cmdline || !nrd || !output || !cert != !key) {
		build_usage();
		return 2;
	}
	if (slurp("enclave build", kernel, INPUT_MAX, &kbuf, &klen))
		goto out;
	for (i = 0; i < nrd; i++)
		if (slurp("enclave build", rdpath[i], INPUT_MAX, &rd[i], &rdlen[i]))
			goto out;
	if (cert && (slurp("enclave build", cert, DOC_MAX, &cbuf, &clen) ||
		     slurp("enclave build", key, DOC_MAX, &keybuf, &keylen)))
		goto out;
	if (!(meta = metadata_json(output))) {
		fail("enclave build", "out of memory");
		goto out;
	}
	in = (struct eif_build_in){
		.kernel = kbuf, .kernel_len = klen, .cmdline = cmdline,
		.nramdisks = nrd, .ramdisk = (const uint8_t *const *)rd, .ramdisk_len = rdlen,
		.metadata = (const uint8_t *)meta, .metadata_len = strlen(meta),
		.cert_pem = cbuf, .cert_pem_len = clen, .key_pem = keybuf, .key_pem_len = keylen,
	};
	if (eif_build(&in, &out, &out_len, &pcrs, err, sizeof(err))) {
		fail("enclave build", err);
		goto out;
	}
	if ((rc = fileio_replace(output, out, out_len, 0644))) {
		fprintf(stderr, "ward enclave build: cannot write %s: %s\n", output, fileio_strerror(rc));
		rc = 1;
		goto out;
	}
	j = json_pack("{s:o}", "Measurements", measurements(&pcrs));
	print_json(j);
	json_decref(j);
	rc = 0;
out:
	free(out);
	free(meta);
	if (keybuf)
		OPENSSL_cleanse(keybuf, keylen);
	free(keybuf);
	free(cbuf);
	for (i = 0; i < nrd; i++)
		free(rd[i]);
	free(kbuf);
	return rc;
}

static int cmd_describe(int argc, char **argv)
{
	struct eif_image img;
	struct eif_pcrs pcrs;
	uint8_t *buf;
	size_t len;
	char err[256];
	json_t *j;
	int rc = 1;

	if (argc != 2 || strcmp(argv[0], "--eif-path")) {
		build_usage();
		return 2;
	}
	if (slurp("enclave describe-eif", argv[1], INPUT_MAX * 4, &buf, &len))
		return 1;
	if (eif_parse(buf, len, &img, err, sizeof(err)) || eif_measure(&img, &pcrs, err, sizeof(err))) {
		fail("enclave describe-eif", err);
		goto out;
	}
	j = json_pack("{s:i, s:o, s:b, s:b}", "EifVersion", img.version,
		      "Measurements", measurements(&pcrs), "IsSigned", pcrs.has_pcr8, "CheckCRC", 1);
	if (pcrs.has_pcr8)
		json_object_set_new(j, "SignatureCheck", json_true());
	json_object_set_new(j, "DefaultMemory", json_integer((json_int_t)(img.default_mem >> 20)));
	json_object_set_new(j, "DefaultCPUs", json_integer((json_int_t)img.default_cpus));
	print_json(j);
	json_decref(j);
	rc = 0;
out:
	free(buf);
	return rc;
}

int enclave_cmd(int argc, char **argv)
{
	if (argc >= 1 && !strcmp(argv[0], "build"))
		return cmd_build(argc - 1, argv + 1);
	if (argc >= 1 && !strcmp(argv[0], "describe-eif"))
		return cmd_describe(argc - 1, argv + 1);
	build_usage();
	return 2;
}

/* ---- attestation verify ---- */

/* A document file holds the CBOR, or its base64 (as AWS's samples and
 * most tools pass it around). */
static int doc_bytes(uint8_t *buf, size_t len, size_t *out_len)
{
	size_t i, j = 0;
	int n;

	if (len && (buf[0] == 0x84 || buf[0] == 0xd2))	/* array(4) or tag 18 */
		goto raw;
	for (i = 0; i < len; i++) {
		uint8_t c = buf[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '+' || c == '/' || c == '=')
			buf[j++] = c;
		else if (c != '\n' && c != '\r' && c != ' ')
			goto raw;
	}
	n = EVP_DecodeBlock(buf, buf, (int)j);
	if (n < 0 || j % 4)
		return -1;
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	while (j && buf[j - 1] == '=') {
		j--;
		n--;
	}
	*out_len = (size_t)n;
	return 0;
raw:
	*out_len = len;
	return 0;
}

static int unhex(const char *s, uint8_t *out, size_t max, size_t *len)
{
	size_t n = strlen(s), i;

	if (n % 2 || n / 2 > max)
		return -1;
	for (i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdefABCDEF", s[2 * i]) ||
		    !strchr("0123456789abcdefABCDEF", s[2 * i + 1]))
			return -1;
		out[i] = (uint8_t)v;
	}
	*len = n / 2;
	return 0;
}

static json_t *blob(const struct attest_blob *b)
{
	return b->present ? hexval(b->data, b->len) : json_null();
}

static json_t *doc_json(const struct attest_doc *d)
{
	json_t *pcrs = json_object(), *j;
	char idx[4];
	unsigned i;

	for (i = 0; i < ATTEST_NPCRS; i++)
		if (d->pcr_mask & (1u << i)) {
			snprintf(idx, sizeof(idx), "%u", i);
			json_object_set_new(pcrs, idx, hexval(d->pcr[i], ATTEST_PCR_LEN));
		}
	j = json_pack("{s:s, s:s, s:I, s:o, s:o, s:o, s:o, s:i}", "module_id", d->module_id,
		      "digest", "SHA384", "timestamp", (json_int_t)d->timestamp_ms, "pcrs", pcrs,
		      "public_key", blob(&d->public_key), "user_data", blob(&d->user_data),
		      "nonce", blob(&d->nonce), "cabundle_length", (int)d->ncabundle);
	return j;
}

static void att_usage(void)
{
	fputs("usage: ward attestation verify DOC --root PEM [--at document|UNIX_SECONDS] [--nonce HEX]\n"
	      "  DOC: the COSE_Sign1 document, raw CBOR or base64. --at: check the\n"
	      "  certificates at the document's own timestamp or at a given time\n"
	      "  (default: now).\n", stderr);
}

int attestation_cmd(int argc, char **argv)
{
	const char *root_path = NULL, *at = NULL, *nonce_hex = NULL;
	struct attest_verify_opts o = { 0 };
	uint8_t *buf = NULL, *rbuf = NULL, nonce[ATTEST_NONCE_MAX];
	struct attest_doc *d = NULL;
	size_t len, rlen, nlen;
	char err[320], *end;
	int a, rc = 1;
	BIO *bio;
	json_t *j;

	if (argc < 2 || strcmp(argv[0], "verify")) {
		att_usage();
		return 2;
	}
	for (a = 2; a + 1 < argc; a += 2) {
		if (!strcmp(argv[a], "--root"))
			root_path = argv[a + 1];
		else if (!strcmp(argv[a], "--at"))
			at = argv[a + 1];
		else if (!strcmp(argv[a], "--nonce"))
			nonce_hex = argv[a + 1];
		else
			break;
	}
	if (a != argc || !root_path) {
		att_usage();
		return 2;
	}
	o.at = time(NULL);
	if (at && !strcmp(at, "document"))
		o.at = ATTEST_AT_DOC_TIME;
	else if (at) {
		errno = 0;
		o.at = strtoll(at, &end, 10);
		if (errno || *end || !*at || o.at < 0)
			return fail("attestation verify", "--at must be \"document\" or seconds since the epoch");
	}
	if (nonce_hex) {
		if (unhex(nonce_hex, nonce, sizeof(nonce), &nlen))
			return fail("attestation verify", "--nonce must be hex, at most 512 bytes");
		o.nonce = nonce;
		o.nonce_len = nlen;
	}
	if (slurp("attestation verify", root_path, DOC_MAX, &rbuf, &rlen))
		return 1;
	bio = BIO_new_mem_buf(rbuf, (int)rlen);
	o.root = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (!o.root) {
		fail("attestation verify", "--root is not a PEM certificate");
		goto out;
	}
	if (slurp("attestation verify", argv[1], DOC_MAX, &buf, &len))
		goto out;
	if (doc_bytes(buf, len, &len)) {
		fail("attestation verify", "the document is neither CBOR nor base64");
		goto out;
	}
	if (!(d = calloc(1, sizeof(*d))))
		goto out;
	if (attest_verify(buf, len, &o, d, err, sizeof(err))) {
		fail("attestation verify", err);
		goto out;
	}
	j = doc_json(d);
	print_json(j);
	json_decref(j);
	rc = 0;
out:
	free(d);
	X509_free(o.root);
	free(rbuf);
	free(buf);
	return rc;
}
