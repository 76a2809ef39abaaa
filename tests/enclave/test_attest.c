/* tests/enclave/test_attest: the attestation verifier against AWS's real
 * documents (accepted at their own timestamps; refused when any byte is
 * flipped, when truncated, under another root, outside the certificates'
 * validity) and round trips of ward's own generator through a three-level
 * ward chain. `test_attest emit DIR` writes a generated document, its root
 * and nonce for the independent Python check (attest_cli.sh). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "attest.h"
#include "cose.h"

static const char *samples_dir(void)
{
	static char dir[4096];
	const char *src = getenv("WARD_SOURCE_ROOT");

	snprintf(dir, sizeof(dir), "%s/tests/enclave/samples", src ? src : ".");
	return dir;
}

static uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b = NULL;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	rewind(f);
	b = malloc((size_t)n + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

static uint8_t *sample(const char *name, size_t *len)
{
	char path[4200];
	size_t n;
	uint8_t *b, *out;
	int m;

	snprintf(path, sizeof(path), "%s/%s", samples_dir(), name);
	b = read_all(path, &n);
	while (n && (b[n - 1] == '\n' || b[n - 1] == '\r'))
		n--;
	out = malloc(n);
	assert_non_null(out);
	m = EVP_DecodeBlock(out, b, (int)n);
	assert_true(m > 0);
	while (n && b[n - 1] == '=') {
		n--;
		m--;
	}
	free(b);
	*len = (size_t)m;
	return out;
}

static X509 *aws_root(void)
{
	char path[4200];
	FILE *f;
	X509 *x;

	snprintf(path, sizeof(path), "%s/AWS_NitroEnclaves_Root-G1.pem", samples_dir());
	f = fopen(path, "r");
	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

static const char *const good[] = {
	"aws_nostrband_noauth_enclaved_2025-04-01.b64",
	"aws_stutxo_choracle_2026-04-22.b64",
	"aws_eternis_debug_2024-09-09.b64",
};

static int verify_at(const uint8_t *d, size_t n, X509 *root, int64_t at, struct attest_doc *doc)
{
	struct attest_verify_opts o = { .root = root, .at = at };
	char err[320];

	return attest_verify(d, n, &o, doc, err, sizeof(err));
}

static void aws_samples_accepted(void **state)
{
	struct attest_doc *doc = calloc(1, sizeof(*doc));
	X509 *root = aws_root();
	size_t i, n;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint8_t *d = sample(good[i], &n);

		assert_int_equal(verify_at(d, n, root, ATTEST_AT_DOC_TIME, doc), 0);
		assert_int_equal(doc->pcr_mask, 0xffff);
		assert_int_equal(doc->ncabundle, 4);
		assert_true(!strncmp(doc->module_id, "i-", 2));
		free(d);
	}
	/* The debug-mode document: PCR0 is all zero, as AWS documents. */
	{
		static const uint8_t zero[ATTEST_PCR_LEN];
		uint8_t *d = sample(good[2], &n);

		assert_int_equal(verify_at(d, n, root, ATTEST_AT_DOC_TIME, doc), 0);
		assert_memory_equal(doc->pcr[0], zero, ATTEST_PCR_LEN);
		assert_int_equal(doc->nonce.len, 20);
		assert_int_equal(doc->timestamp_ms, 1725911352400ull);
		free(d);
	}
	X509_free(root);
	free(doc);
}

static void aws_invalid_refused(void **state)
{
	struct attest_doc *doc = calloc(1, sizeof(*doc));
	X509 *root = aws_root();
	size_t n;
	uint8_t *d = sample("aws_eternis_invalid_2024-07-23.b64", &n);

	assert_int_equal(verify_at(d, n, root, ATTEST_AT_DOC_TIME, doc), -EBADMSG);
	free(d);
	X509_free(root);
	free(doc);
}

/* Leaf certificates live for hours: now, and a day before, are outside. */
static void aws_outside_validity_refused(void **state)
{
	struct attest_doc *doc = calloc(1, sizeof(*doc));
	X509 *root = aws_root();
	size_t n;
	uint8_t *d = sample(good[0], &n);

	assert_int_equal(verify_at(d, n, root, time(NULL), doc), -EKEYREJECTED);
	assert_int_equal(verify_at(d, n, root, 1743516970 - 86400, doc), -EKEYREJECTED);
	assert_int_equal(verify_at(d, n, root, 1743516970, doc), 0);
	free(d);
	X509_free(root);
	free(doc);
}

static void aws_nonce(void **state)
{
	struct attest_doc *doc = calloc(1, sizeof(*doc));
	X509 *root = aws_root();
	struct attest_verify_opts o = { .root = root, .at = ATTEST_AT_DOC_TIME };
	uint8_t nonce[32];
	size_t n;
	uint8_t *d = sample(good[1], &n);
	char err[320];

	assert_int_equal(attest_parse(d, n, doc, err, sizeof(err)), 0);
	assert_int_equal(doc->nonce.len, 32);
	memcpy(nonce, doc->nonce.data, 32);
	o.nonce = nonce;
	o.nonce_len = 32;
	assert_int_equal(attest_verify(d, n, &o, doc, err, sizeof(err)), 0);
	nonce[31] ^= 1;
	assert_int_equal(attest_verify(d, n, &o, doc, err, sizeof(err)), -EBADMSG);
	o.nonce_len = 31;
	assert_int_equal(attest_verify(d, n, &o, doc, err, sizeof(err)), -EBADMSG);
	free(d);
	X509_free(root);
	free(doc);
}

/* ---- a ward chain: root -> intermediate -> per-host leaf, all P-384 ---- */

struct ca {
	X509 *cert;
	EVP_PKEY *key;
};

static struct ca make_cert(const char *cn, const struct ca *issuer, int is_ca, long from, long secs)
{
	struct ca c = { X509_new(), EVP_EC_gen("P-384") };
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	assert_non_null(c.cert);
	assert_non_null(c.key);
	X509_set_version(c.cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(c.cert), (long)(random() & 0x7fffffff));
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(c.cert, name);
	X509_set_issuer_name(c.cert, issuer ? X509_get_subject_name(issuer->cert) : name);
	X509_NAME_free(name);
	X509_time_adj_ex(X509_getm_notBefore(c.cert), 0, from, NULL);
	X509_time_adj_ex(X509_getm_notAfter(c.cert), 0, from + secs, NULL);
	X509_set_pubkey(c.cert, c.key);
	X509V3_set_ctx(&ctx, issuer ? issuer->cert : c.cert, c.cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	X509_add_ext(c.cert, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_key_usage,
				  is_ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
	X509_add_ext(c.cert, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(c.cert, issuer ? issuer->key : c.key, EVP_sha384()) > 0);
	return c;
}

static void ca_free(struct ca *c)
{
	X509_free(c->cert);
	EVP_PKEY_free(c->key);
}

struct chain {
	struct ca root, inter, leaf;
	uint8_t *der[3];	/* root, inter, leaf */
	size_t len[3];
};

static void chain_make(struct chain *ch, long from, long secs)
{
	int i;

	memset(ch, 0, sizeof(*ch));	/* i2d_X509 writes into a non-NULL *pp */
	ch->root = make_cert("ward attestation root", NULL, 1, -86400, 86400 * 3650L);
	ch->inter = make_cert("ward attestation intermediate", &ch->root, 1, -86400, 86400 * 365L);
	ch->leaf = make_cert("ward host attestation key", &ch->inter, 0, from, secs);
	for (i = 0; i < 3; i++) {
		X509 *x = i == 0 ? ch->root.cert : i == 1 ? ch->inter.cert : ch->leaf.cert;
		int n = i2d_X509(x, &ch->der[i]);

		assert_true(n > 0);
		ch->len[i] = (size_t)n;
	}
}

static void chain_free(struct chain *ch)
{
	int i;

	for (i = 0; i < 3; i++)
		OPENSSL_free(ch->der[i]);
	ca_free(&ch->root);
	ca_free(&ch->inter);
	ca_free(&ch->leaf);
}

static const uint8_t test_nonce[24] = "ward-nonce-0123456789abc";

static int generate(struct chain *ch, struct attest_doc *in, const uint8_t *user_data, size_t ud_len,
		    uint8_t **out, size_t *len)
{
	const uint8_t *cab[2] = { ch->der[0], ch->der[1] };
	const size_t cablen[2] = { ch->len[0], ch->len[1] };
	struct attest_signer s = { ch->leaf.key, ch->der[2], ch->len[2], 2, cab, cablen };
	unsigned i;
	char err[320];

	memset(in, 0, sizeof(*in));
	strcpy(in->module_id, "ward-host-1-enc0000000000000001");
	in->timestamp_ms = (uint64_t)time(NULL) * 1000;
	for (i = 0; i < 5; i++) {
		memset(in->pcr[i], 0x10 + i, ATTEST_PCR_LEN);
		in->pcr_mask |= 1u << i;
	}
	memset(in->pcr[8], 0x88, ATTEST_PCR_LEN);
	in->pcr_mask |= 1u << 8;
	in->nonce = (struct attest_blob){ true, test_nonce, sizeof(test_nonce) };
	in->user_data = (struct attest_blob){ true, user_data, ud_len };
	return attest_generate(in, &s, out, len, err, sizeof(err));
}

static void ward_round_trip(void **state)
{
	struct attest_doc *in = calloc(1, sizeof(*in)), *out = calloc(1, sizeof(*out));
	struct chain ch, other;
	uint8_t *d, ud[ATTEST_USER_DATA_MAX + 1] = { 7 };
	size_t n;

	chain_make(&ch, -60, 3600);
	assert_int_equal(generate(&ch, in, ud, 100, &d, &n), 0);
	struct attest_verify_opts o = { .root = ch.root.cert, .at = time(NULL),
					.nonce = test_nonce, .nonce_len = sizeof(test_nonce) };
	char err[320];

	assert_int_equal(attest_verify(d, n, &o, out, err, sizeof(err)), 0);
	assert_string_equal(out->module_id, in->module_id);
	assert_int_equal(out->pcr_mask, in->pcr_mask);
	assert_memory_equal(out->pcr, in->pcr, sizeof(in->pcr));
	assert_int_equal(out->user_data.len, 100);
	assert_false(out->public_key.present);
	assert_int_equal(out->timestamp_ms, in->timestamp_ms);
	/* At the document's own time as well. */
	o.at = ATTEST_AT_DOC_TIME;
	assert_int_equal(attest_verify(d, n, &o, out, err, sizeof(err)), 0);

	/* Another ward root (another installation) is refused. */
	chain_make(&other, -60, 3600);
	o.root = other.root.cert;
	assert_int_equal(attest_verify(d, n, &o, out, err, sizeof(err)), -EKEYREJECTED);
	o.root = ch.root.cert;
	/* An hour and a minute later the leaf has expired. */
	o.at = time(NULL) + 3660;
	assert_int_equal(attest_verify(d, n, &o, out, err, sizeof(err)), -EKEYREJECTED);
	free(d);

	/* Field limits are the generator's too. */
	assert_int_equal(generate(&ch, in, ud, ATTEST_USER_DATA_MAX + 1, &d, &n), -EMSGSIZE);
	assert_int_equal(generate(&ch, in, ud, ATTEST_USER_DATA_MAX, &d, &n), 0);
	free(d);
	chain_free(&other);
	chain_free(&ch);
	free(in);
	free(out);
}

/* A document signed by a leaf whose issuer is not in the bundle. */
static void ward_foreign_leaf_refused(void **state)
{
	struct attest_doc *in = calloc(1, sizeof(*in)), *out = calloc(1, sizeof(*out));
	struct chain ch, other;
	uint8_t *d;
	size_t n;
	char err[320];

	chain_make(&ch, -60, 3600);
	chain_make(&other, -60, 3600);
	/* Leaf (key and certificate) of the other chain, bundle of ours. */
	EVP_PKEY *k = ch.leaf.key;
	uint8_t *der = ch.der[2];
	size_t len = ch.len[2];

	ch.leaf.key = other.leaf.key;
	ch.der[2] = other.der[2];
	ch.len[2] = other.len[2];
	assert_int_equal(generate(&ch, in, NULL, 0, &d, &n), 0);
	ch.leaf.key = k;
	ch.der[2] = der;
	ch.len[2] = len;
	struct attest_verify_opts o = { .root = ch.root.cert, .at = time(NULL) };

	assert_int_equal(attest_verify(d, n, &o, out, err, sizeof(err)), -EKEYREJECTED);
	free(d);
	chain_free(&other);
	chain_free(&ch);
	free(in);
	free(out);
}

/* A document whose leaf does chain to the pinned root, but whose bundle
 * names another root first: refused, the bundle must start at the root. */
static void ward_bundle_root_mismatch_refused(void **state)
{
	struct attest_doc *in = calloc(1, sizeof(*in)), *out = calloc(1, sizeof(*out));
	struct chain ch, other;
	uint8_t *d, *root_der;
	size_t n, root_len;
	char err[320];

	chain_make(&ch, -60, 3600);
	chain_make(&other, -60, 3600);
	root_der = ch.der[0];
	root_len = ch.len[0];
	ch.der[0] = other.der[0];
	ch.len[0] = other.len[0];
	assert_int_equal(generate(&ch, in, NULL, 0, &d, &n), 0);
	ch.der[0] = root_der;
	ch.len[0] = root_len;
	struct attest_verify_opts o = { .root = ch.root.cert, .at = time(NULL) };

	assert_int_equal(attest_verify(d, n, &o, out, err, sizeof(err)), -EKEYREJECTED);
	assert_non_null(strstr(err, "pinned root"));
	free(d);
	chain_free(&other);
	chain_free(&ch);
	free(in);
	free(out);
}

/* Every single-byte change and every truncation must be refused. */
static void flips_and_truncations(const uint8_t *d, size_t n, X509 *root, int64_t at, size_t stride)
{
	struct attest_doc *doc = calloc(1, sizeof(*doc));
	uint8_t *c = malloc(n);
	size_t i;

	assert_int_equal(verify_at(d, n, root, at, doc), 0);
	for (i = 0; i < n; i += stride) {
		memcpy(c, d, n);
		c[i] ^= (uint8_t)(1u << (i % 8));
		if (!verify_at(c, n, root, at, doc))
			fail_msg("flipping bit %zu of byte %zu was accepted", i % 8, i);
	}
	for (i = 0; i < n; i++)
		if (!verify_at(d, i, root, at, doc))
			fail_msg("a document truncated to %zu of %zu bytes was accepted", i, n);
	free(c);
	free(doc);
}

static void aws_flipped_bytes_refused(void **state)
{
	X509 *root = aws_root();
	size_t n;
	uint8_t *d = sample(good[1], &n);

	flips_and_truncations(d, n, root, ATTEST_AT_DOC_TIME, 1);
	free(d);
	X509_free(root);
}

static void ward_flipped_bytes_refused(void **state)
{
	struct attest_doc *in = calloc(1, sizeof(*in));
	struct chain ch;
	uint8_t *d;
	size_t n;

	chain_make(&ch, -60, 3600);
	assert_int_equal(generate(&ch, in, (const uint8_t *)"ud", 2, &d, &n), 0);
	flips_and_truncations(d, n, ch.root.cert, time(NULL), 1);
	free(d);
	chain_free(&ch);
	free(in);
}

static int emit(const char *dir)
{
	struct attest_doc in;
	struct chain ch;
	uint8_t *d;
	size_t n, i;
	char path[4200];
	FILE *f;

	chain_make(&ch, -60, 3600);
	if (generate(&ch, &in, (const uint8_t *)"user data", 9, &d, &n))
		return 1;
	snprintf(path, sizeof(path), "%s/doc.cbor", dir);
	f = fopen(path, "wb");
	fwrite(d, 1, n, f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/root.pem", dir);
	f = fopen(path, "w");
	PEM_write_X509(f, ch.root.cert);
	fclose(f);
	snprintf(path, sizeof(path), "%s/nonce.hex", dir);
	f = fopen(path, "w");
	for (i = 0; i < sizeof(test_nonce); i++)
		fprintf(f, "%02x", test_nonce[i]);
	fclose(f);
	free(d);
	chain_free(&ch);
	return 0;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(aws_samples_accepted),
		cmocka_unit_test(aws_invalid_refused),
		cmocka_unit_test(aws_outside_validity_refused),
		cmocka_unit_test(aws_nonce),
		cmocka_unit_test(aws_flipped_bytes_refused),
		cmocka_unit_test(ward_round_trip),
		cmocka_unit_test(ward_foreign_leaf_refused),
		cmocka_unit_test(ward_bundle_root_mismatch_refused),
		cmocka_unit_test(ward_flipped_bytes_refused),
	};

	if (argc == 3 && !strcmp(argv[1], "emit"))
		return emit(argv[2]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
