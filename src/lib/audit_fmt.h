/* audit_fmt: the audit log's on-disk and export format, shared by
 * ward-controller (recovery) and `ward audit verify` (offline check):
 * one canonical JSON record per line, the one parser of records, and the
 * verification of an exported log against signed checkpoints. docs/audit.md. */
#ifndef WARD_AUDIT_FMT_H
#define WARD_AUDIT_FMT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "merkle.h"

#define AUDIT_RECORD_MAX 4096	/* bytes of one record, newline excluded */

/* Validated view of one record (points into the caller's line). */
struct audit_record {
	uint64_t index;
	char type[16];
};

/* The one parser of a stored/exported record (no trailing newline).
 * Requires: a JSON object in canonical form (compact, sorted keys, ASCII,
 * no duplicate keys, no reals), an integer "index" >= 0, a string "time" and
 * a known string "type"; every other value a string, integer, bool or null.
 * 0 or -EBADMSG with the reason in err. */
int audit_record_parse(const char *line, size_t len, struct audit_record *rec,
		       char *err, size_t errlen);

/* Split a leaves file into records and hash them. Every record must parse
 * and carry index == its position; the file must end with a newline. On
 * success *hashes (malloc'd, n * 32 bytes) and *n. -EBADMSG + err otherwise. */
int audit_leaves_hash(const char *buf, size_t len, uint8_t (**hashes)[MERKLE_HASH_LEN],
		      uint64_t *n, char *err, size_t errlen);

struct audit_verify_report {
	uint64_t leaves;	/* records in the export */
	uint64_t size;		/* size of the checkpoint */
	uint64_t prev_size;	/* size of the previous checkpoint, if given */
	uint64_t inclusion_checked;
	uint64_t counter, prev_counter;	/* TPM checkpoint numbers, 0 if none */
	char origin[256];
};

/* The checkpoint's TPM counter number (its "ward-tpm-counter N" extension
 * line, docs/audit.md "Anchoring") in *n, 0 when it has none. -EBADMSG for
 * a malformed or repeated line. */
#define AUDIT_COUNTER_EXT "ward-tpm-counter "
struct checkpoint;
int audit_checkpoint_counter(const struct checkpoint *cp, uint64_t *n);

/* Offline verification: the checkpoint's signature under pub (key name =
 * its origin, or `origin` if non-NULL), MTH(first cp.size leaves) == its
 * root, an inclusion proof of every covered leaf, and when prev is given
 * (prev_len > 0) its signature and a consistency proof prev -> cp.
 * 0 when everything holds; -EBADMSG with the first failure in err. */
int audit_verify_export(const char *leaves, size_t leaves_len, const char *cp, size_t cp_len,
			const char *prev, size_t prev_len, EVP_PKEY *pub, const char *origin,
			struct audit_verify_report *rep, char *err, size_t errlen);

#endif
