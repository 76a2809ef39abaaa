/* fw_chain: expected measurements, golden sets and the rollback counter,
 * shared by boot, update, provisioning and ward-fwtool. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fileio.h"
#include "fw_chain.h"
#include "fw_store.h"

#define COUNTER_STEP_MAX	4096	/* increments per advance: a sane jump */

const char *fw_eventlog_path(void)
{
	const char *p = getenv(FW_EVENTLOG_ENV);

	return p && *p ? p : FW_EVENTLOG_DEFAULT;
}

void fw_extend(uint8_t pcr[FW_SHA256_LEN], const uint8_t d[FW_SHA256_LEN])
{
	uint8_t b[2 * FW_SHA256_LEN];

	memcpy(b, pcr, FW_SHA256_LEN);
	memcpy(b + FW_SHA256_LEN, d, FW_SHA256_LEN);
	EVP_Digest(b, sizeof(b), pcr, NULL, EVP_sha256(), NULL);
}

void fw_pcr12_for(const uint8_t controller_sha256[FW_SHA256_LEN],
		  uint8_t pcr12[FW_SHA256_LEN])
{
	memset(pcr12, 0, FW_SHA256_LEN);
	fw_extend(pcr12, controller_sha256);
}

int fw_sha256_file(const char *path, uint8_t out[FW_SHA256_LEN])
{
	int fd = fileio_open(path, O_RDONLY, 0, FILEIO_FOLLOW), rc;

	if (fd < 0)
		return fd;
	rc = fw_sha256_fd(fd, out);
	close(fd);
	return rc;
}

void fw_golden_compute(const struct fw_manifest *m, const uint8_t pcr12[FW_SHA256_LEN],
		       struct fw_golden *g)
{
	memset(g, 0, sizeof(*g));
	g->n = 3;
	g->pcr[0] = TPM_PCR_BOOT;
	memcpy(g->value[0], pcr12, FW_SHA256_LEN);
	g->pcr[1] = TPM_PCR_COMPONENTS;
	for (unsigned i = 0; i < m->n_images; i++)
		fw_extend(g->value[1], m->img[i].sha256);
	g->pcr[2] = TPM_PCR_CONFIG;
	fw_extend(g->value[2], m->digest);
}

static int read_rel(const char *state_dir, const char *rel, uint8_t **buf, size_t *len)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", state_dir, rel);
	return fw_io_read(path, 1u << 16, buf, len);
}

int fw_golden_sign(struct tpm *t, const char *state_dir, struct fw_golden *g,
		   uint8_t *out, size_t cap, size_t *out_len, char *err, size_t errlen)
{
	uint8_t body[512], *blob = NULL;
	size_t blen, n;
	int rc;

	rc = fw_golden_body(g, body, sizeof(body), &n, g->digest);
	if (rc)
		return rc;
	rc = read_rel(state_dir, FW_SIGNKEY_BLOB, &blob, &blen);
	if (rc) {
		snprintf(err, errlen, "golden signing key %s/%s: %s", state_dir,
			 FW_SIGNKEY_BLOB, fileio_strerror(rc));
		return rc;
	}
	rc = tpm_sign(t, blob, blen, g->digest, g->sig, &g->sig_len);
	free(blob);
	if (rc) {
		snprintf(err, errlen, "signing the golden set: %s", tpm_error(t));
		return rc;
	}
	return fw_golden_encode(g, out, cap, out_len);
}

static int signkey_spki(const char *state_dir, uint8_t spki[TPM_SPKI_LEN])
{
	uint8_t *blob, point[TPM_ECC_POINT_LEN];
	size_t blen;
	int rc;

	rc = read_rel(state_dir, FW_SIGNKEY_BLOB, &blob, &blen);
	if (rc)
		return rc;
	rc = tpm_blob_pubkey(blob, blen, spki, point);
	free(blob);
	return rc;
}

int fw_signkey_id(const char *state_dir, uint8_t id[FW_SHA256_LEN])
{
	uint8_t spki[TPM_SPKI_LEN];
	int rc = signkey_spki(state_dir, spki);

	if (!rc)
		EVP_Digest(spki, sizeof(spki), id, NULL, EVP_sha256(), NULL);
	return rc;
}

int fw_golden_check(const char *state_dir, const struct fw_golden *g,
		    const uint8_t key_id[FW_SHA256_LEN], char *err, size_t errlen)
{
	uint8_t spki[TPM_SPKI_LEN], id[FW_SHA256_LEN];
	const uint8_t *p = spki;
	EVP_PKEY *k = NULL;
	EVP_PKEY_CTX *c = NULL;
	int rc;

	rc = signkey_spki(state_dir, spki);
	if (rc) {
		snprintf(err, errlen, "golden signing key unreadable: %s", fileio_strerror(rc));
		return rc;
	}
	EVP_Digest(spki, sizeof(spki), id, NULL, EVP_sha256(), NULL);
	if (CRYPTO_memcmp(id, key_id, FW_SHA256_LEN)) {
		snprintf(err, errlen, "golden signing key is not the one provisioned with the store key");
		return -EKEYREJECTED;
	}
	rc = -EKEYREJECTED;
	k = d2i_PUBKEY(NULL, &p, sizeof(spki));
	c = k ? EVP_PKEY_CTX_new(k, NULL) : NULL;
	if (c && EVP_PKEY_verify_init(c) == 1 &&
	    EVP_PKEY_verify(c, g->sig, g->sig_len, g->digest, FW_SHA256_LEN) == 1)
		rc = 0;
	else
		snprintf(err, errlen, "golden set signature does not verify");
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(k);
	return rc;
}

int fw_counter_advance(struct tpm *t, uint64_t nv_base, uint64_t counter,
		       char *err, size_t errlen)
{
	uint64_t v;
	int rc, steps = 0;

	rc = tpm_nvcounter_read(t, TPM_NV_FW_COUNTER, &v);
	while (!rc && v < nv_base + counter) {
		if (++steps > COUNTER_STEP_MAX) {
			snprintf(err, errlen, "security counter jump too large");
			return -ERANGE;
		}
		rc = tpm_nvcounter_increment(t, TPM_NV_FW_COUNTER, &v);
	}
	if (rc)
		snprintf(err, errlen, "NV security counter: %s", tpm_error(t));
	return rc;
}

int fw_state_write(const char *state_dir, const char *rel, const void *buf, size_t len)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", state_dir, rel);
	return fw_io_replace(path, buf, len);
}

int fw_write_pem_pub(const char *state_dir, const char *rel,
		     const uint8_t spki[TPM_SPKI_LEN])
{
	const uint8_t *p = spki;
	EVP_PKEY *k = d2i_PUBKEY(NULL, &p, TPM_SPKI_LEN);
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int rc = -EINVAL;

	if (k && b && PEM_write_bio_PUBKEY(b, k) == 1) {
		n = BIO_get_mem_data(b, &data);
		rc = fw_state_write(state_dir, rel, data, (size_t)n);
	}
	BIO_free(b);
	EVP_PKEY_free(k);
	return rc;
}
