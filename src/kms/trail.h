/* trail: ward-kms's activity trail, like CloudTrail (docs/kms.md "Activity
 * trail"): one record per request — operation, principal, key, grant,
 * encryption-context keys (never values), source and outcome — in the same
 * append-only Merkle log as the controller's audit log (src/lib/audit.h),
 * with checkpoints signed by the trail's own Ed25519 key. Thread-safe. */
#ifndef WARD_KMS_TRAIL_H
#define WARD_KMS_TRAIL_H

#include <stddef.h>
#include <stdint.h>

struct trail;

/* One request as the trail records it. NULL strings are recorded as null. */
struct trail_event {
	const char *op;			/* operation name, "-" if none was named */
	const char *principal;		/* caller ARN; NULL when authentication failed */
	const char *key_id;		/* the key the call resolved */
	const char *grant_id;		/* the grant that allowed it or that it created */
	const char *context_keys;	/* JSON array text of the context's keys */
	const char *recipient;		/* JSON object text: an attested Recipient */
	const char *source;		/* client address "ip:port" */
	int status;			/* HTTP status of the answer */
	const char *error;		/* AWS error type, NULL on success */
};

/* Opens (creating if missing) DIR: the log files (leaves, hashes,
 * checkpoint: docs/audit.md) and the signing key sign.key (0600) with its
 * public half sign.pub.pem, both made only with a new, empty log: a
 * missing key beside an existing log is refused (a new key would make
 * every old checkpoint look forged). origin names the log in checkpoints.
 * 0, or negative errno with the reason in err. */
int trail_open(const char *dir, const char *origin, struct trail **out, char *err,
	       size_t errlen);
/* Signs a last checkpoint and closes. */
void trail_close(struct trail *t);

/* Appends one record and returns once it is on disk (group commit with
 * concurrent callers). Not 0: the request must not be answered as done. */
int trail_record(struct trail *t, const struct trail_event *ev);

/* Signs a checkpoint of everything durable, if the log grew. 0 or -errno. */
int trail_checkpoint(struct trail *t);

/* Durable records. */
uint64_t trail_size(struct trail *t);

/* "allow", "deny" (authentication or authorisation refused) or "error". */
const char *trail_outcome(int status, const char *error);

#endif
