/* tpmsign: checkpoint signatures by the TPM-resident audit key. The
 * private key never leaves the TPM; the blob on disk is usable only on
 * this TPM. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "controller/tpmsign.h"
#include "fileio.h"
#include "log.h"

struct tpmsign {
	struct tpm *t;
	uint8_t *blob;
	size_t blob_len;
	EVP_PKEY *pub;
	char *pem;
};

/* fileio: a whole regular file (no FIFO, no symlink); the blob and PEM
 * are replaced atomically, and a failed write leaves no temporary file. */
static int read_file(const char *path, uint8_t **buf, size_t *len)
{
	int rc = fileio_read(path, 65536, 0, buf, len);

	if (!rc && !*len) {
		free(*buf);
		rc = -EINVAL;
	}
	return rc;
}

static int write_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	return fileio_replace(path, buf, len, mode);
}

static int make_pem(struct tpmsign *s, const uint8_t spki[TPM_SPKI_LEN])
{
	const unsigned char *p = spki;
	BIO *bio;
	char *data;
	long n;

	s->pub = d2i_PUBKEY(NULL, &p, TPM_SPKI_LEN);
	if (!s->pub || !(bio = BIO_new(BIO_s_mem())))
		return -EINVAL;
	if (!PEM_write_bio_PUBKEY(bio, s->pub)) {
		BIO_free(bio);
		return -EINVAL;
	}
	n = BIO_get_mem_data(bio, &data);
	s->pem = strndup(data, (size_t)n);
	BIO_free(bio);
	return s->pem ? 0 : -ENOMEM;
}

/* The public key file is derived from the blob: rewritten only when it
 * differs, so a start on a full disk does not fail on it. */
static int pub_pem_sync(const char *path, const char *pem)
{
	uint8_t *cur = NULL;
	size_t len;
	int same = !read_file(path, &cur, &len) && len == strlen(pem) && !memcmp(cur, pem, len);

	free(cur);
	return same ? 0 : write_file(path, pem, strlen(pem), 0644);
}

int tpmsign_open(struct tpm *t, const char *state_dir, bool may_create, struct tpmsign **out,
		 int *created, char *err, size_t errlen)
{
	char path[PATH_MAX], ppath[PATH_MAX];
	uint8_t spki[TPM_SPKI_LEN], point[TPM_ECC_POINT_LEN];
	struct tpmsign *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	s->t = t;
	*created = 0;
	snprintf(path, sizeof(path), "%s/" TPMSIGN_BLOB, state_dir);
	snprintf(ppath, sizeof(ppath), "%s/" TPMSIGN_PUB, state_dir);
	rc = read_file(path, &s->blob, &s->blob_len);
	if (rc == -ENOENT && !may_create) {
		/* Never replaced behind the log's back: a new key would make
		 * every existing checkpoint look forged. */
		snprintf(err, errlen, "audit signing key %s is missing (restore it, or provision "
			 "the host with ward-fwtool provision); not creating another", path);
		goto fail;
	}
	if (rc == -ENOENT) {
		snprintf(path, sizeof(path), "%s/keys", state_dir);
		if (mkdir(path, 0700) && errno != EEXIST) {
			rc = -errno;
			snprintf(err, errlen, "cannot create %s: %s", path, strerror(-rc));
			goto fail;
		}
		snprintf(path, sizeof(path), "%s/" TPMSIGN_BLOB, state_dir);
		rc = tpm_signkey_create(t, 0, 0, NULL, &s->blob, &s->blob_len, spki);
		if (rc) {
			snprintf(err, errlen, "cannot create the audit signing key: %s", tpm_error(t));
			goto fail;
		}
		/* Created once, complete or not at all, never over another. */
		if ((rc = fileio_write_new(path, s->blob, s->blob_len, 0600))) {
			snprintf(err, errlen, "cannot store %s: %s", path, fileio_strerror(rc));
			goto fail;
		}
		*created = 1;
	} else if (rc) {
		snprintf(err, errlen, "cannot read the audit signing key %s: %s", path,
			 fileio_strerror(rc));
		goto fail;
	}
	if ((rc = tpm_blob_pubkey(s->blob, s->blob_len, spki, point)) || (rc = make_pem(s, spki))) {
		snprintf(err, errlen, "%s is not a TPM signing key blob", path);
		goto fail;
	}
	if ((rc = pub_pem_sync(ppath, s->pem))) {
		snprintf(err, errlen, "cannot write %s: %s", ppath, fileio_strerror(rc));
		goto fail;
	}
	*out = s;
	return 0;
fail:
	tpmsign_close(s);
	return rc ? rc : -EINVAL;
}

void tpmsign_close(struct tpmsign *s)
{
	if (!s)
		return;
	free(s->blob);
	free(s->pem);
	EVP_PKEY_free(s->pub);
	free(s);
}

EVP_PKEY *tpmsign_pub(struct tpmsign *s)
{
	return s->pub;
}

const char *tpmsign_pub_pem(struct tpmsign *s)
{
	return s->pem;
}

static int tpm_sign_cb(void *ctx, const uint8_t *msg, size_t len, uint8_t *sig, size_t *siglen)
{
	struct tpmsign *s = ctx;
	uint8_t digest[TPM_DIGEST_LEN], der[TPM_SIG_MAX];
	size_t dlen = 0;
	int rc;

	SHA256(msg, len, digest);
	rc = tpm_sign(s->t, s->blob, s->blob_len, digest, der, &dlen);
	if (rc) {
		log_error("TPM refused to sign the audit checkpoint", "error=\"%s\"", tpm_error(s->t));
		return rc;
	}
	if (dlen > *siglen)
		return -ENOSPC;
	memcpy(sig, der, dlen);
	*siglen = dlen;
	return 0;
}

int tpmsign_signer(struct tpmsign *s, const char *name, struct checkpoint_signer *out)
{
	uint8_t alg;
	int rc = checkpoint_key_id(name, s->pub, &alg, &out->key_id);

	if (rc)
		return rc;
	out->name = name;
	out->sign = tpm_sign_cb;
	out->ctx = s;
	return 0;
}
