/* test_quote: the verifier library without a TPM (src/lib/quote.c) —
 * golden-set parsing and matching against real event logs, the strictness
 * of the AK/EK public-area and TPMS_ATTEST parsers, MakeCredential's
 * output shape — and ward-api's hosts_list_schedulable over a SQLite
 * store (only "admitted" hosts are offered to placement). The swtpm
 * round trip of MakeCredential is tests/attest/attest_test.sh's. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <tss2/tss2_mu.h>

#include "fileio.h"
#include "hosts.h"
#include "quote.h"
#include "store.h"
#include "tpm_eventlog.h"

static char dir[] = "/tmp/ward-test-quote.XXXXXX";

static void digest_of(const char *s, uint8_t d[32])
{
	assert_int_equal(EVP_Digest(s, strlen(s), d, NULL, EVP_sha256(), NULL), 1);
}

static void hex(const uint8_t d[32], char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* A log of ward's shape: controller (12), manifest (15), two images (13). */
static uint8_t *make_log(const char *const *names, const unsigned *pcrs, size_t n, size_t *len)
{
	char path[256];
	uint8_t d[32], *buf = NULL;

	snprintf(path, sizeof(path), "%s/log", dir);
	assert_int_equal(tpm_eventlog_create(path), 0);
	for (size_t i = 0; i < n; i++) {
		digest_of(names[i], d);
		assert_int_equal(tpm_eventlog_append(path, pcrs[i], TPM_EV_IPL, d, names[i],
						     strlen(names[i])), 0);
	}
	assert_int_equal(fileio_read(path, 1 << 20, 0, &buf, len), 0);
	return buf;
}

static struct quote_golden *golden_for(const char *release, const char *const *names,
				       const unsigned *pcrs, size_t n)
{
	char text[4096], h[65], err[256];
	size_t off = (size_t)snprintf(text, sizeof(text), "# test\nrelease %s\n", release);
	struct quote_golden *g = NULL;
	uint8_t d[32];

	for (size_t i = 0; i < n; i++) {
		digest_of(names[i], d);
		hex(d, h);
		off += (size_t)snprintf(text + off, sizeof(text) - off, "pcr %u %s %s\n", pcrs[i], h,
					names[i]);
	}
	if (quote_golden_parse(text, off, &g, err, sizeof(err)))
		fail_msg("golden set refused: %s", err);
	return g;
}

static const char *const names[] = { "ctl", "manifest", "ward-hv", "ward-blk" };
static const unsigned pcrs[] = { 12, 15, 13, 13 };

static void test_golden_matches_exactly(void **st)
{
	struct quote_golden *g = golden_for("r1", names, pcrs, 4);
	const char *const swapped[] = { "ctl", "manifest", "ward-blk", "ward-hv" };
	const char *const extra[] = { "ctl", "manifest", "ward-hv", "ward-blk", "ward-net" };
	const unsigned extra_pcrs[] = { 12, 15, 13, 13, 13 };
	const unsigned other_pcr[] = { 12, 15, 13, 14 };
	char err[256];
	uint8_t *log;
	size_t len;

	(void)st;
	log = make_log(names, pcrs, 4, &len);
	assert_int_equal(quote_golden_check(g, "r1", log, len, err, sizeof(err)), 0);
	assert_int_equal(quote_golden_check(g, "r2", log, len, err, sizeof(err)), -EPERM);
	free(log);
	/* Two images in another order: PCR 13 would differ; named. */
	log = make_log(swapped, pcrs, 4, &len);
	assert_int_equal(quote_golden_check(g, "r1", log, len, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "PCR 13 measurement 1"));
	free(log);
	/* One measurement more than the release. */
	log = make_log(extra, extra_pcrs, 5, &len);
	assert_int_equal(quote_golden_check(g, "r1", log, len, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "more measurements"));
	free(log);
	/* One fewer. */
	log = make_log(names, pcrs, 3, &len);
	assert_int_equal(quote_golden_check(g, "r1", log, len, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "lacks measurement 2"));
	free(log);
	/* A PCR the quote does not cover. */
	log = make_log(names, other_pcr, 4, &len);
	assert_int_equal(quote_golden_check(g, "r1", log, len, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "PCR 14"));
	free(log);
	/* A truncated log is malformed, not a mismatch. */
	log = make_log(names, pcrs, 4, &len);
	assert_int_equal(quote_golden_check(g, "r1", log, len - 1, err, sizeof(err)), -EBADMSG);
	free(log);
	quote_golden_free(g);
}

static void test_golden_parse_is_strict(void **st)
{
	static const char *const bad[] = {
		"pcr 12 " "0000000000000000000000000000000000000000000000000000000000000000\n",
		"release a\nrelease a\npcr 12 "
		"0000000000000000000000000000000000000000000000000000000000000000\n",
		"release a\npcr 14 0000000000000000000000000000000000000000000000000000000000000000\n",
		"release a\npcr 12 00000000000000000000000000000000000000000000000000000000000000AA\n",
		"release a\npcr 12 000000000000000000000000000000000000000000000000000000000000000\n",
		"release a\npcr 13 0000000000000000000000000000000000000000000000000000000000000000\n",
		"release a b\npcr 12 0000000000000000000000000000000000000000000000000000000000000000\n",
		"release a\nmeasure 12 00\n",
		"# nothing\n",
		"release a\npcr 12 0000000000000000000000000000000000000000000000000000000000000000\x01\n",
	};
	struct quote_golden *g;
	char err[256];

	(void)st;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		g = NULL;
		if (quote_golden_parse(bad[i], strlen(bad[i]), &g, err, sizeof(err)) != -EBADMSG)
			fail_msg("golden set %zu accepted", i);
		assert_null(g);
	}
}

/* An AK-shaped public area around a fresh P-256 point; attrs as given. */
static size_t make_pub(uint32_t attrs, uint16_t sym, uint8_t *buf, size_t cap)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	TPM2B_PUBLIC p = { 0 };
	uint8_t pt[65];
	size_t pl = 0, off = 0;

	assert_non_null(k);
	assert_int_equal(EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, pt, 65, &pl),
			 1);
	EVP_PKEY_free(k);
	p.publicArea.type = TPM2_ALG_ECC;
	p.publicArea.nameAlg = TPM2_ALG_SHA256;
	p.publicArea.objectAttributes = attrs;
	p.publicArea.parameters.eccDetail.symmetric.algorithm = sym;
	if (sym == TPM2_ALG_AES) {
		p.publicArea.parameters.eccDetail.symmetric.keyBits.aes = 128;
		p.publicArea.parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
		p.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
	} else {
		p.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
		p.publicArea.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
	}
	p.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
	p.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	p.publicArea.unique.ecc.x.size = p.publicArea.unique.ecc.y.size = 32;
	memcpy(p.publicArea.unique.ecc.x.buffer, pt + 1, 32);
	memcpy(p.publicArea.unique.ecc.y.buffer, pt + 33, 32);
	assert_int_equal(Tss2_MU_TPM2B_PUBLIC_Marshal(&p, buf, cap, &off), 0);
	return off;
}

#define FIXED (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN)

static void test_key_parsers_are_strict(void **st)
{
	uint8_t b[1024], c[1024];
	struct quote_key ak, ek;
	char err[256];
	size_t n;

	(void)st;
	n = make_pub(FIXED | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT, TPM2_ALG_NULL, b,
		     sizeof(b));
	assert_int_equal(quote_ak_parse(b, n, &ak, err, sizeof(err)), 0);
	assert_int_equal(ak.name[0] << 8 | ak.name[1], TPM2_ALG_SHA256);
	/* One byte more or less than the size says. */
	memcpy(c, b, n);
	c[n] = 0;
	assert_int_equal(quote_ak_parse(c, n + 1, &ak, err, sizeof(err)), -EBADMSG);
	assert_int_equal(quote_ak_parse(b, n - 1, &ak, err, sizeof(err)), -EBADMSG);
	/* An unrestricted key could sign a "quote" the host made up. */
	n = make_pub(FIXED | TPMA_OBJECT_SIGN_ENCRYPT, TPM2_ALG_NULL, b, sizeof(b));
	assert_int_equal(quote_ak_parse(b, n, &ak, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "restricted"));
	/* A key that may leave the TPM. */
	n = make_pub(TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
		     TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT, TPM2_ALG_NULL, b, sizeof(b));
	assert_int_equal(quote_ak_parse(b, n, &ak, err, sizeof(err)), -EBADMSG);
	/* An EK is not an AK, nor an AK an EK. */
	n = make_pub(FIXED | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT |
		     TPMA_OBJECT_ADMINWITHPOLICY, TPM2_ALG_AES, b, sizeof(b));
	assert_int_equal(quote_ek_parse(b, n, &ek, err, sizeof(err)), 0);
	assert_int_equal(quote_ak_parse(b, n, &ak, err, sizeof(err)), -EBADMSG);
	n = make_pub(FIXED | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT, TPM2_ALG_NULL, c,
		     sizeof(c));
	assert_int_equal(quote_ek_parse(c, n, &ak, err, sizeof(err)), -EBADMSG);
	/* A point off the curve. */
	n = make_pub(FIXED | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT, TPM2_ALG_NULL, b,
		     sizeof(b));
	b[n - 1] ^= 1;
	assert_int_equal(quote_ak_parse(b, n, &ak, err, sizeof(err)), -EBADMSG);
}

static void test_make_credential_shape(void **st)
{
	uint8_t b[1024], cred[32] = "thirty-two bytes of a challenge", *cb, *sb, *cb2, *sb2;
	size_t n, cbl, sbl, cbl2, sbl2;
	struct quote_key ek;
	char err[256];

	(void)st;
	n = make_pub(FIXED | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT, TPM2_ALG_AES, b,
		     sizeof(b));
	assert_int_equal(quote_ek_parse(b, n, &ek, err, sizeof(err)), 0);
	assert_int_equal(quote_make_credential(&ek, ek.name, cred, 32, &cb, &cbl, &sb, &sbl), 0);
	/* TPM2B_ID_OBJECT: size | TPM2B(HMAC-SHA256) | CFB(TPM2B(cred)) */
	assert_int_equal(cbl, 2 + 2 + 32 + 2 + 32);
	assert_int_equal(cb[0] << 8 | cb[1], cbl - 2);
	/* TPM2B_ENCRYPTED_SECRET holding an ephemeral P-256 point. */
	assert_int_equal(sbl, 70);
	/* A fresh seed each time. */
	assert_int_equal(quote_make_credential(&ek, ek.name, cred, 32, &cb2, &cbl2, &sb2, &sbl2),
			 0);
	assert_memory_not_equal(sb, sb2, sbl);
	assert_memory_not_equal(cb, cb2, cbl);
	free(cb2);
	free(sb2);
	assert_int_equal(quote_make_credential(&ek, ek.name, cred, 0, &cb2, &cbl2, &sb2, &sbl2),
			 -EINVAL);
	free(cb);
	free(sb);
}

static size_t make_attest(uint8_t *b, const uint8_t sel[3], uint8_t sel_size)
{
	size_t n = 0;
	const uint8_t nonce[20] = "nonce-nonce-nonce-nn";

#define PUT16(v) (b[n++] = (uint8_t)((v) >> 8), b[n++] = (uint8_t)(v))
#define PUT32(v) (PUT16((v) >> 16), PUT16((v) & 0xffff))
	PUT32(0xff544347u);
	PUT16(0x8018);
	PUT16(34);
	PUT16(0x000b);
	memset(b + n, 0x22, 32);
	n += 32;
	PUT16(20);
	memcpy(b + n, nonce, 20);
	n += 20;
	memset(b + n, 0, 17);	/* clockInfo */
	n += 17;
	memset(b + n, 0, 8);	/* firmwareVersion */
	n += 8;
	PUT32(1);
	PUT16(0x000b);
	b[n++] = sel_size;
	for (unsigned i = 0; i < sel_size; i++)
		b[n++] = i < 3 ? sel[i] : 1;
	PUT16(32);
	memset(b + n, 0x11, 32);
	n += 32;
	return n;
}

static void test_attest_parser_is_strict(void **st)
{
	static const uint8_t boot[3] = { 0x00, 0xb0, 0x00 };
	struct quote_attest qa;
	uint8_t b[512];
	char err[256];
	size_t n;

	(void)st;
	n = make_attest(b, boot, 3);
	assert_int_equal(quote_attest_parse(b, n, &qa, err, sizeof(err)), 0);
	assert_int_equal(qa.pcr_mask, TPM_BOOT_PCRS);
	assert_int_equal(qa.nonce_len, 20);
	assert_int_equal(quote_attest_parse(b, n - 1, &qa, err, sizeof(err)), -EBADMSG);
	b[n] = 0;
	assert_int_equal(quote_attest_parse(b, n + 1, &qa, err, sizeof(err)), -EBADMSG);
	b[4] ^= 0xff;	/* not a quote */
	assert_int_equal(quote_attest_parse(b, n, &qa, err, sizeof(err)), -EBADMSG);
	n = make_attest(b, boot, 4);	/* a PCR above 23 */
	assert_int_equal(quote_attest_parse(b, n, &qa, err, sizeof(err)), -EBADMSG);
}

static int put_host(struct store *s, const char *id, const char *state)
{
	struct store_txn *t;
	char key[128], doc[256];

	snprintf(key, sizeof(key), "ec2/host/%s", id);
	snprintf(doc, sizeof(doc), "{\"HostId\":\"%s\",\"State\":\"%s\"}", id, state);
	assert_int_equal(store_txn_begin(s, true, &t), 0);
	assert_int_equal(store_put(t, key, doc), 0);
	return store_txn_commit(t);
}

static void test_only_admitted_hosts_are_schedulable(void **st)
{
	char db[256], ids[8][HOST_ID_MAX + 1];
	struct store *s;
	struct store_txn *t;
	size_t n = 0;

	(void)st;
	snprintf(db, sizeof(db), "%s/api.db", dir);
	assert_int_equal(store_sqlite_open(db, &s), 0);
	assert_int_equal(put_host(s, "h-a", "admitted"), 0);
	assert_int_equal(put_host(s, "h-b", "drained"), 0);
	assert_int_equal(put_host(s, "h-c", "registered"), 0);
	assert_int_equal(put_host(s, "h-d", "admitted"), 0);
	assert_int_equal(store_txn_begin(s, false, &t), 0);
	assert_int_equal(hosts_list_schedulable(t, ids, 8, &n), 0);
	store_txn_abort(t);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], "h-a");
	assert_string_equal(ids[1], "h-d");
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_matches_exactly),
		cmocka_unit_test(test_golden_parse_is_strict),
		cmocka_unit_test(test_key_parsers_are_strict),
		cmocka_unit_test(test_make_credential_shape),
		cmocka_unit_test(test_attest_parser_is_strict),
		cmocka_unit_test(test_only_admitted_hosts_are_schedulable),
	};
	int rc;

	if (!mkdtemp(dir))
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	for (const char *const *f = (const char *const[]){ "log", "api.db", "api.db-wal",
							  "api.db-shm", NULL }; *f; f++) {
		char p[256];

		snprintf(p, sizeof(p), "%s/%s", dir, *f);
		unlink(p);
	}
	rmdir(dir);
	return rc;
}
