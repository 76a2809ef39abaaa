/* audit: the controller's tamper-evident audit log — an RFC 6962 Merkle
 * tree over canonical JSON records in two append-only files under the
 * state dir, durable by group commit (one fsync per batch of concurrent
 * appends), with signed C2SP checkpoints that never contradict each other.
 * Format and recovery rules: docs/audit.md. Thread-safe. */
#ifndef WARD_AUDIT_H
#define WARD_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "checkpoint.h"
#include "merkle.h"

struct audit;

/* Files under dir (created if missing): leaves (records), hashes (32-byte
 * leaf hashes), checkpoint (last signed note). Recovery: every stored
 * record must match its hash; the last checkpoint must verify under pub
 * with name = origin and match the stored tree; an incomplete tail beyond
 * the checkpoint (crash during append) is cut off and reported in
 * *repaired; anything else is refused (-EBADMSG, reason in err). */
int audit_open(const char *dir, const char *origin, EVP_PKEY *pub, struct audit **out,
	       uint64_t *repaired, char *err, size_t errlen);
void audit_close(struct audit *a);
/* Hash entries recovery rewrote from the records: past the checkpoint
 * after a crash (*why NULL), or a damaged or truncated hashes file whose
 * records match the checkpoint (*why says which entry / how far). */
uint64_t audit_hashes_rebuilt(struct audit *a, const char **why);

/* Append one record: rec is a JSON object of scalar fields with "type";
 * "index" and "time" are set here. Returns once the record is on disk
 * (group commit), with its index in *index (may be NULL). A failed write
 * leaves the log refusing all further appends (fail closed). */
int audit_append(struct audit *a, json_t *rec, uint64_t *index);
/* Pipelined form: enqueue, then wait for durability of everything up to idx. */
int audit_append_nowait(struct audit *a, json_t *rec, uint64_t *index);
int audit_wait(struct audit *a, uint64_t index);

/* A thread that flushes whatever is pending as soon as it is, and calls
 * notify(arg) after each batch (from that thread: keep it to a wake-up, such
 * as an eventfd write). For callers that must not block on the disk. */
int audit_start_flusher(struct audit *a, void (*notify)(void *), void *arg);
/* Drain what is pending, stop the thread, forget notify. */
void audit_stop_flusher(struct audit *a);
/* 0, or the error that made the log refuse appends. */
int audit_status(struct audit *a);

uint64_t audit_size(struct audit *a);	/* durable records */
uint64_t audit_flushes(struct audit *a);	/* fsync batches so far */

/* A signed checkpoint of the current durable tree. Signs a new one only if
 * the log grew, and only after proving the new tree consistent with the
 * last signed one (never two inconsistent heads). *note is malloc'd. */
int audit_checkpoint(struct audit *a, const struct checkpoint_signer *signer, char **note,
		     size_t *len);
/* A monotonic counter outside the host's files (the TPM's): each signed
 * checkpoint carries the next value as the extension line
 * "ward-tpm-counter N", and the counter is advanced once the checkpoint is
 * on disk. read gives the current value, advance adds one and gives the
 * new value; both return 0 or negative errno. */
struct audit_anchor {
	int (*read)(void *ctx, uint64_t *value);
	int (*advance)(void *ctx, uint64_t *value);
	void *ctx;
	bool defined_now;	/* the counter was made by this start, after the log's first checkpoint */
};

/* Check the last checkpoint against the counter and anchor every later
 * one. Refused (-EBADMSG, reason in err): a checkpoint older than the
 * counter (the log and its checkpoint were rolled back together), one
 * ahead of it by more than the one a crash can leave (another TPM), or no
 * checkpoint at all, or one without a number, while the counter existed
 * before this start (the counter proves numbered checkpoints were signed).
 * A checkpoint one ahead (crash between writing it and advancing) advances
 * the counter. A checkpoint without a number is accepted only as the one
 * that precedes the counter's definition (defined_now). */
int audit_anchor(struct audit *a, const struct audit_anchor *anchor, char *err, size_t errlen);

/* Checkpoint health: rc of the last attempt (0 = it succeeded, or none
 * failed yet) with why, consecutive failures, seconds since the first of
 * them, and how many durable records no checkpoint covers. */
struct audit_cp_health {
	int rc;
	char why[200];
	uint64_t failures, failing_s, checkpointed, unanchored;
};
void audit_checkpoint_health(struct audit *a, struct audit_cp_health *h);

/* The last signed checkpoint (NULL/-ENOENT if none yet). */
int audit_last_checkpoint(struct audit *a, char **note, size_t *len);

/* Records [from, to) of the durable log, newline-terminated, malloc'd. */
int audit_read(struct audit *a, uint64_t from, uint64_t to, char **buf, size_t *len);

/* Proofs over the durable log (sizes must be <= audit_size()). */
int audit_inclusion(struct audit *a, uint64_t index, uint64_t size,
		    uint8_t proof[][MERKLE_HASH_LEN], size_t *n, uint8_t leaf[MERKLE_HASH_LEN]);
int audit_consistency(struct audit *a, uint64_t size1, uint64_t size2,
		      uint8_t proof[][MERKLE_HASH_LEN], size_t *n);
int audit_root(struct audit *a, uint64_t size, uint8_t root[MERKLE_HASH_LEN]);

#endif
