/* bench/kms/recipient_bench: KMS Decrypt with an attestation Recipient per
 * second (issue 13), in-process through kms_dispatch against a SoftHSM2
 * token, beside plain Decrypt of the same blob in the same run (the
 * reference), plus the two parts the Recipient adds: recipient_check (the
 * document's chain and signature) and recipient_cms_seal (RSA-OAEP + CMS).
 * Each attested call needs its own document (one release per document), so
 * the documents are made before the clock starts.
 * usage: recipient_bench DIR N — DIR holds root.pem inter.pem leaf.pem
 * leaf.key enc.spki (bench/kms/run.sh makes them with openssl).
 * Prints "label per_s=X" rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/rand.h>

#include "attest.h"
#include "kms.h"
#include "recipient.h"

static struct kms *k;
static struct kms_caller alice = { "arn:aws:iam::111122223333:user/alice", "alice",
	PRINCIPAL_USER, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"kms:*\","
	"\"Resource\":\"*\"}]}" };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint8_t *cert_der(const char *dir, const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	X509 *x;
	uint8_t *der = NULL;
	int n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	n = x ? i2d_X509(x, &der) : 0;
	X509_free(x);
	*len = n > 0 ? (size_t)n : 0;
	return n > 0 ? der : NULL;
}

static int dispatch(const char *body, char **resp)
{
	struct kms_reply out;

	kms_dispatch(k, &alice, strncmp(body, "{\"KeyId", 7) == 0 ? OP_GENERATE_DATA_KEY
		     : OP_DECRYPT, body, strlen(body), kms_now(), &out);
	free(out.context_keys);
	*resp = out.body;
	return out.status;
}

static char *member(const char *json, const char *name)
{
	json_t *o = json_loads(json, 0, NULL);
	char *v = o ? strdup(json_string_value(json_object_get(o, name)) ?: "") : NULL;

	json_decref(o);
	return v;
}

int main(int argc, char **argv)
{
	static char tmp[] = "/tmp/ward-kms-rbench.XXXXXX";
	const uint8_t *cab[2];
	size_t cablen[2], certlen, pklen, n;
	struct attest_signer s = { 0 };
	struct kms_config cfg = { .module = HSM_DEFAULT_MODULE, .token_label = "rbench",
		.pin = "1234", .region = "us-east-1", .account = "111122223333" };
	char path[512], dbpath[512], rootpath[512], err[256], *resp, *blob, **bodies;
	uint8_t pk[2048], **docs;
	size_t *doclen;
	double t0, plain, attested, check, seal;
	FILE *f;

	if (argc != 3 || (n = strtoul(argv[2], NULL, 10)) == 0 || n > 100000)
		return 2;
	/* token and store of its own */
	if (!mkdtemp(tmp))
		return 2;
	snprintf(path, sizeof(path), "%s/tokens", tmp);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/softhsm2.conf", tmp);
	f = fopen(path, "w");
	if (!f)
		return 2;
	fprintf(f, "directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n", tmp);
	fclose(f);
	setenv("SOFTHSM2_CONF", path, 1);
	if (hsm_init_token(cfg.module, cfg.token_label, "87654321", cfg.pin))
		return 3;
	snprintf(dbpath, sizeof(dbpath), "%s/kms.db", tmp);
	snprintf(rootpath, sizeof(rootpath), "%s/root.pem", argv[1]);
	cfg.db_path = dbpath;
	cfg.attest_root = rootpath;
	if (kms_open(&cfg, &k))
		return 3;
	/* the signer and the enclave's key */
	snprintf(path, sizeof(path), "%s/leaf.key", argv[1]);
	f = fopen(path, "r");
	s.key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	s.cert = cert_der(argv[1], "leaf.pem", &certlen);
	cab[0] = cert_der(argv[1], "root.pem", &cablen[0]);
	cab[1] = cert_der(argv[1], "inter.pem", &cablen[1]);
	snprintf(path, sizeof(path), "%s/enc.spki", argv[1]);
	f = fopen(path, "rb");
	pklen = f ? fread(pk, 1, sizeof(pk), f) : 0;
	if (f)
		fclose(f);
	if (!s.key || !s.cert || !cab[0] || !cab[1] || !pklen)
		return 4;
	s.cert_len = certlen;
	s.ncabundle = 2;
	s.cabundle = cab;
	s.cabundle_len = cablen;
	/* a data key, then n fresh documents and their Decrypt bodies */
	{
		char body[256], *id;
		struct kms_reply out;

		kms_dispatch(k, &alice, OP_CREATE_KEY, "{}", 2, kms_now(), &out);
		free(out.context_keys);
		id = out.body ? strstr(out.body, "\"KeyId\":\"") : NULL;
		if (!id)
			return 5;
		snprintf(body, sizeof(body), "{\"KeyId\":\"%.36s\",\"KeySpec\":\"AES_256\"}", id + 9);
		free(out.body);
		if (dispatch(body, &resp) != 200)
			return 5;
		blob = member(resp, "CiphertextBlob");
		free(resp);
	}
	docs = calloc(n, sizeof(*docs));
	doclen = calloc(n, sizeof(*doclen));
	bodies = calloc(n, sizeof(*bodies));
	for (size_t i = 0; i < n; i++) {
		static struct attest_doc doc;
		uint8_t nonce[16];
		char *b64;

		memset(&doc, 0, sizeof(doc));
		snprintf(doc.module_id, sizeof(doc.module_id), "i-bench-enc0");
		doc.timestamp_ms = (uint64_t)(kms_now() * 1000);
		memset(doc.pcr, 0x42, sizeof(doc.pcr));
		doc.pcr_mask = 0xffff;
		RAND_bytes(nonce, sizeof(nonce));
		doc.nonce = (struct attest_blob){ true, nonce, sizeof(nonce) };
		doc.public_key = (struct attest_blob){ true, pk, pklen };
		if (attest_generate(&doc, &s, &docs[i], &doclen[i], err, sizeof(err)))
			return 6;
		b64 = kms_b64_encode(docs[i], doclen[i]);
		bodies[i] = malloc(strlen(b64) + strlen(blob) + 160);
		sprintf(bodies[i], "{\"CiphertextBlob\":\"%s\",\"Recipient\":{\"KeyEncryptionAlgorithm\":"
			"\"RSAES_OAEP_SHA_256\",\"AttestationDocument\":\"%s\"}}", blob, b64);
		free(b64);
	}
	/* the reference: plain Decrypt of the same blob */
	{
		char body[1024];

		snprintf(body, sizeof(body), "{\"CiphertextBlob\":\"%s\"}", blob);
		t0 = now_s();
		for (size_t i = 0; i < n; i++) {
			if (dispatch(body, &resp) != 200)
				return 7;
			free(resp);
		}
		plain = n / (now_s() - t0);
	}
	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		if (dispatch(bodies[i], &resp) != 200) {
			fprintf(stderr, "recipient_bench: %s\n", resp ? resp : "no reply");
			return 8;
		}
		free(resp);
	}
	attested = n / (now_s() - t0);
	/* the parts: the document check, and the CMS seal of 32 bytes */
	{
		struct recipient_att a;
		uint8_t pt[32] = { 0 }, *der;
		size_t dlen;
		X509 *root = recipient_load_root(rootpath, err, sizeof(err));

		t0 = now_s();
		for (size_t i = 0; i < n; i++) {
			if (recipient_check(root, docs[i], doclen[i], kms_now(), &a, err, sizeof(err)))
				return 9;
			if (i + 1 < n)
				recipient_att_clear(&a);
		}
		check = n / (now_s() - t0);
		t0 = now_s();
		for (size_t i = 0; i < n; i++) {
			if (recipient_cms_seal(a.pub, pt, sizeof(pt), &der, &dlen))
				return 9;
			OPENSSL_free(der);
		}
		seal = n / (now_s() - t0);
		recipient_att_clear(&a);
		X509_free(root);
	}
	printf("decrypt_inproc per_s=%.0f\n", plain);
	printf("decrypt_attested_inproc per_s=%.0f ratio_to_decrypt_inproc=%.3f\n", attested,
	       attested / plain);
	printf("recipient_check per_s=%.0f\n", check);
	printf("recipient_cms_seal per_s=%.0f\n", seal);
	kms_close(k);
	for (size_t i = 0; i < n; i++) {
		free(docs[i]);
		free(bodies[i]);
	}
	free(docs);
	free(doclen);
	free(bodies);
	free(blob);
	EVP_PKEY_free(s.key);
	OPENSSL_free((void *)s.cert);
	OPENSSL_free((void *)cab[0]);
	OPENSSL_free((void *)cab[1]);
	snprintf(path, sizeof(path), "rm -rf '%s'", tmp);
	return system(path) == 0 ? 0 : 10;
}
