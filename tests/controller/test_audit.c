/* test_audit: the audit log module — concurrent appends with group commit,
 * recovery (torn tail repaired only past the last checkpoint, anything else
 * refused), never signing inconsistent heads, and offline verification
 * catching a flipped byte anywhere in an export. Software Ed25519 signer:
 * the TPM-backed one is exercised by the integration tests. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "audit.h"
#include "audit_fmt.h"

#define ORIGIN "ward/test/audit"

static char dir[256];
static EVP_PKEY *key;
static struct checkpoint_signer signer;

static int setup(void **st)
{
	char t[] = "/tmp/ward-audit-test.XXXXXX";
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);

	assert_non_null(mkdtemp(t));
	snprintf(dir, sizeof(dir), "%s/audit", t);
	assert_int_equal(EVP_PKEY_keygen_init(c), 1);
	assert_int_equal(EVP_PKEY_keygen(c, &key), 1);
	EVP_PKEY_CTX_free(c);
	assert_int_equal(checkpoint_signer_pkey(&signer, ORIGIN, key), 0);
	return 0;
}

static int teardown(void **st)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s/..'", dir);
	*strrchr(cmd, '/') = 0;
	strcat(cmd, "'");
	if (system(cmd))
		return -1;
	EVP_PKEY_free(key);
	return 0;
}

static struct audit *open_log(uint64_t *repaired)
{
	struct audit *a = NULL;
	char err[256] = "";
	int rc = audit_open(dir, ORIGIN, key, &a, repaired, err, sizeof(err));

	if (rc)
		fail_msg("audit_open: %d %s", rc, err);
	return a;
}

static int open_rc(char *err, size_t len)
{
	struct audit *a = NULL;
	int rc = audit_open(dir, ORIGIN, key, &a, NULL, err, len);

	audit_close(a);
	return rc;
}

struct writer {
	struct audit *a;
	int id, n;
};

static void *write_many(void *arg)
{
	struct writer *w = arg;
	int i;

	for (i = 0; i < w->n; i++) {
		json_t *r = json_pack("{s:s, s:i, s:i, s:s}", "type", "api", "writer", w->id, "seq", i,
				      "path", "/v1/health");
		if (audit_append(w->a, r, NULL))
			abort();
		json_decref(r);
	}
	return NULL;
}

static char *slurp(const char *name, size_t *len)
{
	char path[300];
	FILE *f;
	char *b;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	b = malloc((size_t)n + 1);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	b[n] = 0;
	*len = (size_t)n;
	return b;
}

static void put(const char *name, const char *buf, size_t len)
{
	char path[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	fclose(f);
}

/* 8 writers x 250 appends, group commit, then export + verify. */
static void test_append_concurrent(void **st)
{
	struct audit *a = open_log(NULL);
	struct writer w[8];
	pthread_t th[8];
	char *note, *leaves, err[256];
	size_t nlen, llen;
	struct audit_verify_report rep;
	uint64_t idx;
	int i;

	for (i = 0; i < 8; i++) {
		w[i] = (struct writer){ a, i, 250 };
		pthread_create(&th[i], NULL, write_many, &w[i]);
	}
	for (i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(audit_size(a), 2000);
	/* Batching happened: fewer fsync rounds than records. */
	assert_true(audit_flushes(a) < 2000);
	printf("# 2000 appends in %llu flushes\n", (unsigned long long)audit_flushes(a));
	assert_int_equal(audit_checkpoint(a, &signer, &note, &nlen), 0);
	leaves = slurp("leaves", &llen);
	assert_int_equal(audit_verify_export(leaves, llen, note, nlen, NULL, 0, key, NULL, &rep, err,
					     sizeof(err)), 0);
	assert_int_equal(rep.size, 2000);
	assert_int_equal(rep.inclusion_checked, 2000);
	free(leaves);
	free(note);
	/* A record without a type, or with nested values, is refused. */
	json_t *bad = json_pack("{s:i}", "x", 1);
	assert_int_equal(audit_append(a, bad, &idx), -EINVAL);
	json_decref(bad);
	audit_close(a);

	/* Reopen: same size, same checkpoint. */
	a = open_log(NULL);
	assert_int_equal(audit_size(a), 2000);
	audit_close(a);
}

static void test_consistency_and_reads(void **st)
{
	struct audit *a = open_log(NULL);
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN], leaf[32], r1[32], r2[32];
	char *note1, *note2, *buf, *leaves, err[256];
	size_t n1, n2, len, plen, llen;
	struct audit_verify_report rep;
	uint64_t s1 = audit_size(a);

	assert_int_equal(audit_checkpoint(a, &signer, &note1, &n1), 0);
	json_t *r = json_pack("{s:s, s:s}", "type", "instance", "event", "launch");
	assert_int_equal(audit_append(a, r, NULL), 0);
	json_decref(r);
	assert_int_equal(audit_checkpoint(a, &signer, &note2, &n2), 0);
	assert_int_equal(audit_root(a, s1, r1), 0);
	assert_int_equal(audit_root(a, s1 + 1, r2), 0);
	assert_int_equal(audit_consistency(a, s1, s1 + 1, proof, &plen), 0);
	assert_int_equal(merkle_verify_consistency(s1, s1 + 1, r1, r2,
						   (const uint8_t (*)[32])proof, plen), 0);
	assert_int_equal(audit_inclusion(a, 7, s1 + 1, proof, &plen, leaf), 0);
	assert_int_equal(merkle_verify_inclusion(7, s1 + 1, leaf, (const uint8_t (*)[32])proof,
						 plen, r2), 0);
	assert_int_equal(audit_read(a, s1, s1 + 1, &buf, &len), 0);
	assert_non_null(strstr(buf, "\"event\":\"launch\""));
	assert_int_equal(buf[len - 1], '\n');
	free(buf);
	assert_int_equal(audit_read(a, 0, s1 + 2, &buf, &len), -ERANGE);
	leaves = slurp("leaves", &llen);
	assert_int_equal(audit_verify_export(leaves, llen, note2, n2, note1, n1, key, ORIGIN, &rep,
					     err, sizeof(err)), 0);
	assert_int_equal(rep.prev_size, s1);
	/* Swapped order: the "previous" one is larger. */
	assert_int_not_equal(audit_verify_export(leaves, llen, note1, n1, note2, n2, key, NULL,
						 &rep, err, sizeof(err)), 0);
	/* Every single flipped byte of the export is caught. */
	for (size_t off = 0; off < llen; off += 1009) {
		leaves[off] ^= 0x20;
		assert_int_not_equal(audit_verify_export(leaves, llen, note2, n2, note1, n1, key,
							 NULL, &rep, err, sizeof(err)), 0);
		leaves[off] ^= 0x20;
	}
	for (size_t off = 0; off < n2; off++) {
		note2[off] ^= 0x01;
		assert_int_not_equal(audit_verify_export(leaves, llen, note2, n2, note1, n1, key,
							 NULL, &rep, err, sizeof(err)), 0);
		note2[off] ^= 0x01;
	}
	free(leaves);
	free(note1);
	free(note2);
	audit_close(a);
}

static void test_recovery(void **st)
{
	struct audit *a;
	uint64_t repaired = 0, size;
	char *leaves, *hashes, *note, err[256];
	size_t llen, hlen, nlen;

	a = open_log(NULL);
	size = audit_size(a);
	assert_int_equal(audit_checkpoint(a, &signer, &note, &nlen), 0);
	free(note);
	/* Two more records past the checkpoint. */
	for (int i = 0; i < 2; i++) {
		json_t *r = json_pack("{s:s}", "type", "api");
		assert_int_equal(audit_append(a, r, NULL), 0);
		json_decref(r);
	}
	audit_close(a);
	leaves = slurp("leaves", &llen);
	hashes = slurp("hashes", &hlen);

	/* Torn tail: half a record and a partial hash past the checkpoint. */
	put("leaves", leaves, llen - 10);
	put("hashes", hashes, hlen - 5);
	a = open_log(&repaired);
	assert_true(repaired > 0);
	assert_int_equal(audit_size(a), size + 1);
	audit_close(a);

	/* Cut into the signed part: refused. */
	put("leaves", leaves, llen / 2);
	put("hashes", hashes, hlen);
	assert_int_equal(open_rc(err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "refusing"));

	/* A record edited (hash file untouched): refused. */
	leaves[20] ^= 0x01;
	put("leaves", leaves, llen);
	assert_int_equal(open_rc(err, sizeof(err)), -EBADMSG);
	leaves[20] ^= 0x01;

	/* Record and hash both rewritten consistently: the checkpoint root
	 * no longer matches. */
	{
		char *p = strstr(leaves, "/v1/health");
		uint8_t h[32];
		char *nl;

		assert_non_null(p);
		memcpy(p, "/v1/hEalth", 10);
		nl = p;
		while (nl > leaves && nl[-1] != '\n')
			nl--;
		size_t idx = 0;
		for (char *q = leaves; q < nl; q++)
			idx += *q == '\n';
		merkle_leaf_hash(nl, (size_t)(strchr(nl, '\n') - nl), h);
		memcpy(hashes + idx * 32, h, 32);
		put("leaves", leaves, llen);
		put("hashes", hashes, hlen);
		assert_int_equal(open_rc(err, sizeof(err)), -EBADMSG);
		assert_non_null(strstr(err, "checkpoint"));
		memcpy(p, "/v1/health", 10);
	}
	free(leaves);
	free(hashes);
}

static void test_record_parser(void **st)
{
	struct audit_record r;
	char err[200];
	const char *good = "{\"index\":5,\"time\":\"t\",\"type\":\"api\"}";

	assert_int_equal(audit_record_parse(good, strlen(good), &r, err, sizeof(err)), 0);
	assert_int_equal(r.index, 5);
	static const char *const bad[] = {
		"{\"type\":\"api\",\"index\":5,\"time\":\"t\"}",		/* keys unsorted */
		"{\"index\": 5,\"time\":\"t\",\"type\":\"api\"}",		/* not compact */
		"{\"index\":5,\"time\":\"t\",\"type\":\"nope\"}",		/* unknown type */
		"{\"index\":-1,\"time\":\"t\",\"type\":\"api\"}",
		"{\"index\":5.0,\"time\":\"t\",\"type\":\"api\"}",
		"{\"index\":5,\"time\":\"t\",\"type\":\"api\",\"x\":[1]}",	/* nested */
		"{\"index\":5,\"index\":5,\"time\":\"t\",\"type\":\"api\"}",
		"{\"index\":5,\"time\":\"\\u00e9\",\"type\":\"api\"}x",	/* trailing */
		"[]", "", "{",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(audit_record_parse(bad[i], strlen(bad[i]), &r, err, sizeof(err)), 0);
}

/* The TPM counter line of a checkpoint: one, positive, digits only. */
static uint64_t counter_of(const char *const *ext, size_t n_ext, int *rc)
{
	uint8_t root[CHECKPOINT_HASH_LEN] = { 1 };
	char *body, *note;
	size_t blen, nlen;
	struct checkpoint *cp;
	uint64_t v = 0;

	assert_int_equal(checkpoint_format(ORIGIN, 5, root, ext, n_ext, &body, &blen), 0);
	assert_int_equal(checkpoint_sign(body, blen, &signer, 1, &note, &nlen), 0);
	assert_int_equal(checkpoint_parse(note, nlen, &cp), 0);
	*rc = audit_checkpoint_counter(cp, &v);
	checkpoint_free(cp);
	free(note);
	free(body);
	return v;
}

static void test_checkpoint_counter(void **st)
{
	const char *ok[] = { "other ext", AUDIT_COUNTER_EXT "42" };
	const char *zero[] = { AUDIT_COUNTER_EXT "0" };
	const char *junk[] = { AUDIT_COUNTER_EXT "12x" };
	const char *two[] = { AUDIT_COUNTER_EXT "1", AUDIT_COUNTER_EXT "2" };
	const char *neg[] = { AUDIT_COUNTER_EXT "-3" };
	int rc;

	(void)st;
	assert_int_equal(counter_of(ok, 2, &rc), 42);
	assert_int_equal(rc, 0);
	assert_int_equal(counter_of(NULL, 0, &rc), 0);
	assert_int_equal(rc, 0);
	counter_of(zero, 1, &rc);
	assert_int_equal(rc, -EBADMSG);
	counter_of(junk, 1, &rc);
	assert_int_equal(rc, -EBADMSG);
	counter_of(two, 2, &rc);
	assert_int_equal(rc, -EBADMSG);
	counter_of(neg, 1, &rc);
	assert_int_equal(rc, -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_parser),
		cmocka_unit_test(test_append_concurrent),
		cmocka_unit_test(test_consistency_and_reads),
		cmocka_unit_test(test_recovery),
		cmocka_unit_test(test_checkpoint_counter),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
