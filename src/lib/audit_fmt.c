/* audit_fmt: parser and offline verifier of the audit log format (one
 * canonical JSON record per line, RFC 6962 leaf = SHA-256(0x00 || record)).
 * Reached by untrusted bytes: exported logs given to `ward audit verify`
 * and the controller's own files on recovery. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "errmsg.h"
#include "checkpoint.h"
#include "audit_fmt.h"

static const char *const record_types[] = {
	"api", "instance", "boot", "update", "controller", "volume", "card",
	"kms",	/* ward-kms activity trail (docs/kms.md) */
	"netcard",	/* ward-net driven by the controller (docs/net.md) */
};

int audit_record_parse(const char *line, size_t len, struct audit_record *rec,
		       char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *o, *v;
	const char *key, *type;
	char *canon = NULL;
	json_int_t idx;
	size_t i;
	int rc = -EBADMSG;

	if (len == 0 || len > AUDIT_RECORD_MAX)
		return errmsg(err, errlen, -EBADMSG, "record length %zu outside 1..%d", len, AUDIT_RECORD_MAX);
	if (memchr(line, '\n', len))
		return errmsg(err, errlen, -EBADMSG, "record contains a newline");
	o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		return errmsg(err, errlen, -EBADMSG, "record is not JSON: %s", jerr.text);
	if (!json_is_object(o)) {
		errmsg(err, errlen, -EBADMSG, "record is not a JSON object");
		goto out;
	}
	json_object_foreach(o, key, v) {
		if (!json_is_string(v) && !json_is_integer(v) && !json_is_boolean(v) &&
		    !json_is_null(v)) {
			errmsg(err, errlen, -EBADMSG, "field \"%.64s\": only strings, integers, booleans, null", key);
			goto out;
		}
	}
	v = json_object_get(o, "index");
	if (!json_is_integer(v) || (idx = json_integer_value(v)) < 0) {
		errmsg(err, errlen, -EBADMSG, "record has no non-negative integer \"index\"");
		goto out;
	}
	if (!json_is_string(json_object_get(o, "time"))) {
		errmsg(err, errlen, -EBADMSG, "record has no string \"time\"");
		goto out;
	}
	v = json_object_get(o, "type");
	type = json_string_value(v);
	for (i = 0; type && i < sizeof(record_types) / sizeof(record_types[0]); i++)
		if (!strcmp(type, record_types[i]))
			break;
	if (!type || i == sizeof(record_types) / sizeof(record_types[0])) {
		errmsg(err, errlen, -EBADMSG, "record has no known \"type\"");
		goto out;
	}
	/* Canonical form: one byte sequence per record, so a verifier that
	 * re-serialises sees exactly what was hashed. */
	canon = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	if (!canon || strlen(canon) != len || memcmp(canon, line, len)) {
		errmsg(err, errlen, -EBADMSG, "record is not in canonical form");
		goto out;
	}
	if (rec) {
		rec->index = (uint64_t)idx;
		snprintf(rec->type, sizeof(rec->type), "%s", type);
	}
	rc = 0;
out:
	free(canon);
	json_decref(o);
	return rc;
}

int audit_leaves_hash(const char *buf, size_t len, uint8_t (**hashes)[MERKLE_HASH_LEN],
		      uint64_t *n, char *err, size_t errlen)
{
	uint8_t (*h)[MERKLE_HASH_LEN] = NULL;
	size_t cap = 0, off = 0;
	uint64_t count = 0;
	struct audit_record rec;
	char why[200];

	if (len && buf[len - 1] != '\n')
		return errmsg(err, errlen, -EBADMSG, "leaves file does not end with a newline (truncated?)");
	while (off < len) {
		const char *nl = memchr(buf + off, '\n', len - off);
		size_t l = (size_t)(nl - (buf + off));

		if (audit_record_parse(buf + off, l, &rec, why, sizeof(why))) {
			errmsg(err, errlen, -EBADMSG, "leaf %llu (byte %zu): %s", (unsigned long long)count, off, why);
			goto err;
		}
		if (rec.index != count) {
			errmsg(err, errlen, -EBADMSG, "leaf %llu carries index %llu", (unsigned long long)count,
			     (unsigned long long)rec.index);
			goto err;
		}
		if (count == cap) {
			size_t ncap = cap ? cap * 2 : 1024;
			void *p = realloc(h, ncap * MERKLE_HASH_LEN);

			if (!p) {
				free(h);
				return -ENOMEM;
			}
			h = p;
			cap = ncap;
		}
		if (merkle_leaf_hash(buf + off, l, h[count]))
			goto err;
		count++;
		off += l + 1;
	}
	*hashes = h;
	*n = count;
	return 0;
err:
	free(h);
	return -EBADMSG;
}

/* All levels of the tree over an array of leaf hashes, built once in O(n):
 * with it every proof costs O(log n) instead of O(n), so checking the
 * inclusion of every leaf stays O(n log n). */
struct levels {
	uint8_t (*lv[65])[MERKLE_HASH_LEN];
	uint64_t cnt[65];
	unsigned n;
};

static int levels_get_leaf(void *ctx, uint64_t i, uint8_t out[MERKLE_HASH_LEN])
{
	struct levels *l = ctx;

	if (i >= l->cnt[0])
		return -ERANGE;
	memcpy(out, l->lv[0][i], MERKLE_HASH_LEN);
	return 0;
}

static int levels_get_node(void *ctx, unsigned level, uint64_t i, uint8_t out[MERKLE_HASH_LEN])
{
	struct levels *l = ctx;

	if (level >= l->n || i >= l->cnt[level])
		return -ENOENT;
	memcpy(out, l->lv[level][i], MERKLE_HASH_LEN);
	return 0;
}

static void levels_free(struct levels *l)
{
	unsigned k;

	for (k = 1; k < l->n; k++)
		free(l->lv[k]);
}

static int levels_build(struct levels *l, uint8_t (*leaves)[MERKLE_HASH_LEN], uint64_t n,
			struct merkle_src *src)
{
	uint64_t i;

	memset(l, 0, sizeof(*l));
	l->lv[0] = leaves;
	l->cnt[0] = n;
	l->n = 1;
	while (l->cnt[l->n - 1] >= 2 && l->n < 65) {
		unsigned k = l->n;

		l->cnt[k] = l->cnt[k - 1] / 2;
		l->lv[k] = malloc(l->cnt[k] * MERKLE_HASH_LEN);
		if (!l->lv[k]) {
			levels_free(l);
			return -ENOMEM;
		}
		l->n++;
		for (i = 0; i < l->cnt[k]; i++)
			merkle_node_hash(l->lv[k - 1][2 * i], l->lv[k - 1][2 * i + 1], l->lv[k][i]);
	}
	src->get_leaf = levels_get_leaf;
	src->get_node = levels_get_node;
	src->ctx = l;
	return 0;
}

/* Signature, then parse: a checkpoint's fields are trusted only once the
 * signature over them has been checked. */
static int verify_cp(const char *text, size_t len, EVP_PKEY *pub, const char *origin,
		     const char *what, struct checkpoint **out, char *err, size_t errlen)
{
	struct checkpoint *cp;
	char name[256];
	int rc;

	if (checkpoint_parse(text, len, &cp))
		return errmsg(err, errlen, -EBADMSG, "%s: not a valid checkpoint note", what);
	snprintf(name, sizeof(name), "%s", origin ? origin : cp->origin);
	checkpoint_free(cp);
	rc = checkpoint_verify(text, len, pub, name, out);
	if (rc == -ENOKEY)
		return errmsg(err, errlen, -EBADMSG, "%s: no signature by key \"%s\" with this public key", what, name);
	if (rc)
		return errmsg(err, errlen, -EBADMSG, "%s: signature does not verify", what);
	if (origin && strcmp((*out)->origin, origin)) {
		checkpoint_free(*out);
		return errmsg(err, errlen, -EBADMSG, "%s: origin is not \"%s\"", what, origin);
	}
	return 0;
}

int audit_checkpoint_counter(const struct checkpoint *cp, uint64_t *n)
{
	const size_t pl = strlen(AUDIT_COUNTER_EXT);

	*n = 0;
	for (size_t i = 0; i < cp->n_ext; i++) {
		const char *v = cp->ext[i];
		char *end;

		if (strncmp(v, AUDIT_COUNTER_EXT, pl))
			continue;
		v += pl;
		if (*n || *v < '1' || *v > '9')
			return -EBADMSG;
		errno = 0;
		*n = strtoull(v, &end, 10);
		if (errno || *end)
			return -EBADMSG;
	}
	return 0;
}

int audit_verify_export(const char *leaves, size_t leaves_len, const char *cptext, size_t cp_len,
			const char *prev, size_t prev_len, EVP_PKEY *pub, const char *origin,
			struct audit_verify_report *rep, char *err, size_t errlen)
{
	uint8_t (*hashes)[MERKLE_HASH_LEN] = NULL;
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN], root[MERKLE_HASH_LEN];
	struct checkpoint *cp = NULL, *pcp = NULL;
	struct levels lv = { .n = 0 };
	struct merkle_src src;
	uint64_t n, i;
	size_t plen;
	int rc;

	memset(rep, 0, sizeof(*rep));
	if ((rc = verify_cp(cptext, cp_len, pub, origin, "checkpoint", &cp, err, errlen)))
		return rc;
	snprintf(rep->origin, sizeof(rep->origin), "%s", cp->origin);
	rep->size = cp->size;
	if (audit_checkpoint_counter(cp, &rep->counter)) {
		rc = errmsg(err, errlen, -EBADMSG, "checkpoint has a malformed TPM counter line");
		goto out;
	}
	if ((rc = audit_leaves_hash(leaves, leaves_len, &hashes, &n, err, errlen)))
		goto out;
	rep->leaves = n;
	rc = -EBADMSG;
	if (n < cp->size) {
		errmsg(err, errlen, -EBADMSG, "log has %llu leaves, checkpoint covers %llu", (unsigned long long)n,
		     (unsigned long long)cp->size);
		goto out;
	}
	if (levels_build(&lv, hashes, n, &src)) {
		rc = -ENOMEM;
		goto out;
	}
	if (merkle_root(&src, cp->size, root) ||
	    CRYPTO_memcmp(root, cp->root, MERKLE_HASH_LEN)) {
		errmsg(err, errlen, -EBADMSG, "tree of the first %llu leaves does not match the checkpoint root",
		     (unsigned long long)cp->size);
		goto out;
	}
	for (i = 0; i < cp->size; i++) {
		if (merkle_inclusion_proof(&src, i, cp->size, proof, &plen) ||
		    merkle_verify_inclusion(i, cp->size, hashes[i],
					    (const uint8_t (*)[MERKLE_HASH_LEN])proof, plen, cp->root)) {
			errmsg(err, errlen, -EBADMSG, "inclusion proof of leaf %llu fails", (unsigned long long)i);
			goto out;
		}
		rep->inclusion_checked++;
	}
	if (prev && prev_len) {
		if ((rc = verify_cp(prev, prev_len, pub, origin, "previous checkpoint", &pcp, err,
				    errlen)))
			goto out;
		rc = -EBADMSG;
		rep->prev_size = pcp->size;
		if (audit_checkpoint_counter(pcp, &rep->prev_counter)) {
			errmsg(err, errlen, -EBADMSG, "previous checkpoint has a malformed TPM counter line");
			goto out;
		}
		/* The TPM counter never goes back, and a log once anchored
		 * stays anchored. */
		if (rep->prev_counter && rep->counter < rep->prev_counter) {
			errmsg(err, errlen, -EBADMSG, "checkpoint number %llu is older than the previous "
			       "checkpoint's %llu: the log was rolled back",
			       (unsigned long long)rep->counter, (unsigned long long)rep->prev_counter);
			goto out;
		}
		if (strcmp(pcp->origin, cp->origin)) {
			errmsg(err, errlen, -EBADMSG, "checkpoints are of different logs");
			goto out;
		}
		if (pcp->size > cp->size) {
			errmsg(err, errlen, -EBADMSG, "previous checkpoint (%llu) is larger than the new one (%llu)",
			     (unsigned long long)pcp->size, (unsigned long long)cp->size);
			goto out;
		}
		if (merkle_consistency_proof(&src, pcp->size, cp->size, proof, &plen) ||
		    merkle_verify_consistency(pcp->size, cp->size, pcp->root, cp->root,
					      (const uint8_t (*)[MERKLE_HASH_LEN])proof, plen)) {
			errmsg(err, errlen, -EBADMSG, "checkpoints %llu and %llu are not consistent",
			     (unsigned long long)pcp->size, (unsigned long long)cp->size);
			goto out;
		}
	}
	rc = 0;
out:
	levels_free(&lv);
	free(hashes);
	checkpoint_free(pcp);
	checkpoint_free(cp);
	return rc;
}
