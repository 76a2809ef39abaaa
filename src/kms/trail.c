/* trail: ward-kms's activity trail over the shared audit log
 * (src/lib/audit.c): records built here, made durable by the log's group
 * commit, checkpoints signed with the trail's Ed25519 key. docs/kms.md. */
#include "trail.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "audit.h"
#include "checkpoint.h"
#include "errmsg.h"
#include "fileio.h"
#include "log.h"

struct trail {
	struct audit *log;
	EVP_PKEY *key;
	struct checkpoint_signer signer;
	char origin[128];
};

static int pem_write(EVP_PKEY *key, int private, const char *path, mode_t mode)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int rc = -ENOMEM;

	if (!b)
		return rc;
	if (private ? PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)
		    : PEM_write_bio_PUBKEY(b, key)) {
		len = BIO_get_mem_data(b, &data);
		rc = len > 0 ? fileio_write_new(path, data, (size_t)len, mode) : -EIO;
	}
	BIO_free(b);
	return rc;
}

static EVP_PKEY *pem_read(const char *path, int *rc)
{
	EVP_PKEY *key = NULL;
	uint8_t *buf;
	size_t len;
	BIO *b;

	*rc = fileio_read(path, 65536, 0, &buf, &len);
	if (*rc)
		return NULL;
	if ((b = BIO_new_mem_buf(buf, (int)len)))
		key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	OPENSSL_cleanse(buf, len);
	free(buf);
	*rc = key && EVP_PKEY_id(key) == EVP_PKEY_ED25519 ? 0 : -EBADMSG;
	if (*rc) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	return key;
}

/* The signing key: loaded, or made with a log that has no record yet. */
static int load_key(struct trail *t, const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX], pub[PATH_MAX], leaves[PATH_MAX];
	struct stat st;
	int rc;

	snprintf(path, sizeof(path), "%s/sign.key", dir);
	snprintf(pub, sizeof(pub), "%s/sign.pub.pem", dir);
	snprintf(leaves, sizeof(leaves), "%s/leaves", dir);
	if ((t->key = pem_read(path, &rc)))
		return 0;
	if (rc != -ENOENT)
		return errmsg(err, errlen, rc, "cannot read the trail signing key %s: %s", path,
			      rc == -EBADMSG ? "not an Ed25519 PEM private key" : errname(rc));
	if (stat(leaves, &st) == 0 && st.st_size > 0)
		return errmsg(err, errlen, -ENOKEY, "the trail signing key %s is missing beside "
			      "an existing trail", path);
	t->key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!t->key)
		return errmsg(err, errlen, -EIO, "cannot generate the trail signing key");
	unlink(pub);	/* a stale public half from a start cut short */
	if ((rc = pem_write(t->key, 1, path, 0600)) || (rc = pem_write(t->key, 0, pub, 0644)))
		return errmsg(err, errlen, rc, "cannot write the trail signing key in %s: %s",
			      dir, errname(rc));
	log_info("trail signing key created", "path=%s public=%s", path, pub);
	return 0;
}

int trail_open(const char *dir, const char *origin, struct trail **out, char *err,
	       size_t errlen)
{
	struct trail *t = calloc(1, sizeof(*t));
	uint64_t repaired = 0;
	int rc;

	if (!t)
		return -ENOMEM;
	snprintf(t->origin, sizeof(t->origin), "%s", origin);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		rc = errmsg(err, errlen, -errno, "cannot create the trail dir %s: %s", dir,
			    errname(errno));
		goto err_free;
	}
	if ((rc = load_key(t, dir, err, errlen)))
		goto err_free;
	if ((rc = checkpoint_signer_pkey(&t->signer, t->origin, t->key))) {
		errmsg(err, errlen, rc, "cannot make the trail's checkpoint signer");
		goto err_free;
	}
	if ((rc = audit_open(dir, t->origin, t->key, &t->log, &repaired, err, errlen)))
		goto err_free;
	if (repaired)
		log_warn("trail: an append cut short was removed", "dir=%s bytes=%llu", dir,
			 (unsigned long long)repaired);
	log_info("trail open", "dir=%s origin=%s records=%llu", dir, t->origin,
		 (unsigned long long)audit_size(t->log));
	*out = t;
	return 0;
err_free:
	EVP_PKEY_free(t->key);
	free(t);
	return rc;
}

int trail_checkpoint(struct trail *t)
{
	char *note = NULL;
	size_t len;
	int rc = audit_checkpoint(t->log, &t->signer, &note, &len);

	free(note);
	if (rc)
		log_error("trail: checkpoint failed", "errno=%s", errname(rc));
	return rc;
}

void trail_close(struct trail *t)
{
	if (!t)
		return;
	if (audit_size(t->log))
		trail_checkpoint(t);
	audit_close(t->log);
	EVP_PKEY_free(t->key);
	free(t);
}

uint64_t trail_size(struct trail *t)
{
	return audit_size(t->log);
}

const char *trail_outcome(int status, const char *error)
{
	static const char *const refusals[] = {
		"AccessDeniedException", "IncompleteSignatureException",
		"InvalidSignatureException", "UnrecognizedClientException",
		"MissingAuthenticationTokenException",
	};

	if (status == 200 && !error)
		return "allow";
	for (size_t i = 0; error && i < sizeof(refusals) / sizeof(refusals[0]); i++)
		if (!strcmp(error, refusals[i]))
			return "deny";
	return "error";
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

int trail_record(struct trail *t, const struct trail_event *ev)
{
	json_t *rec = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:i, s:o}",
				"type", "kms", "op", ev->op ? ev->op : "-",
				"principal", str_or_null(ev->principal),
				"key", str_or_null(ev->key_id),
				"grant", str_or_null(ev->grant_id),
				"context_keys", str_or_null(ev->context_keys),
				"recipient", str_or_null(ev->recipient),
				"source", str_or_null(ev->source),
				"outcome", trail_outcome(ev->status, ev->error),
				"status", ev->status,
				"error", str_or_null(ev->error));
	int rc;

	if (!rec)
		return -ENOMEM;
	rc = audit_append(t->log, rec, NULL);
	json_decref(rec);
	if (rc)
		log_error("trail: append failed; answering requests with an error", "errno=%s",
			  errname(rc));
	return rc;
}
