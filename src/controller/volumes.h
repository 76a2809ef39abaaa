/* volumes: the host side of the encrypted-volume attach flow
 * (docs/attach.md). For each volume of an instance being launched: KMS
 * Decrypt with the control plane's grant + forward access session and
 * Recipient = this host, HPKE open with TPM2_ECDH_ZGen on the PCR-bound host
 * key, ATTACH into the instance's ward-blk; the key is in secure memory only
 * between the open and the ATTACH. Detach wipes it in ward-blk. */
#ifndef WARD_CONTROLLER_VOLUMES_H
#define WARD_CONTROLLER_VOLUMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define VOL_MAX 4		/* volumes per instance */
#define VOL_ID_MAX 63		/* route_id_valid() (routes.h), a blkctl id too */
#define VOL_BLOB_MAX 1024	/* KMS ciphertext blob of a 64-byte key */

/* One validated attach spec from POST /v1/instances "volumes". */
struct vol_spec {
	char volume_id[VOL_ID_MAX + 1];
	char backing[1025];		/* path on this host */
	uint64_t size;			/* bytes, multiple of 4096 */
	bool read_only;
	char key_id[257];		/* KMS key id or ARN */
	uint8_t encrypted_key[VOL_BLOB_MAX];	/* KMS ciphertext blob: not secret */
	size_t encrypted_key_len;
	char grant_token[1025];
	char fas_token[257];
};

/* The one parser of "volumes": an array of 1..VOL_MAX objects with exactly
 * volume_id, backing, size, key_id, encrypted_key (base64),
 * encryption_context (must be exactly {"ward:volume": volume_id}),
 * grant_token, fas_token, optional read_only. 0 or -EINVAL with err. */
int vol_spec_parse(json_t *arr, struct vol_spec *out, unsigned *n, char *err, size_t errlen);

struct tpm;
struct volumes;
struct vol_set;			/* one instance's ward-blk and its volumes */

typedef void (*vol_audit_fn)(void *opaque, json_t *rec);	/* takes rec */

struct vol_cfg {
	const char *state_dir;
	struct tpm *tpm;		/* shared with the audit signer: same thread */
	bool dev;			/* development build: dev host key */
	int blk_fd;			/* verified ward-blk (sealed memfd), or -1 */
	const char *blk_path;		/* development: ward-blk from a build dir */
	const char *kms_url, *kms_ca, *kms_cert, *kms_key;	/* NULL url: no volumes */
	const char *host_id;		/* this host's name at KMS (Recipient.HostId) */
	uid_t uid_base;			/* ward-blk k runs as uid/gid uid_base + k, */
	unsigned max_sets;		/* k < max_sets, one per instance with volumes */
	vol_audit_fn audit;
	void *audit_opaque;
};

/* Loads (dev: creates on first start) the host key. Without kms_url the
 * module still answers, refusing every volume with the reason. */
int vol_init(struct volumes **out, const struct vol_cfg *cfg, char *err, size_t errlen);
/* Leaves every ward-blk running with its volumes: they belong to running
 * VMs, and the next controller takes them back with vol_adopt. */
void vol_destroy(struct volumes *v);

/* After instances are re-adopted: take back each ward-blk recorded in
 * STATE_DIR/cards (same pid and start time; its channel copied out of it
 * with pidfd_getfd; QUERY per volume). A card whose instance is not
 * running(opaque, id) any more is released (DETACH, SIGTERM). Returns how
 * many were taken back or released, or negative errno. */
int vol_adopt(struct volumes *v, bool (*running)(void *, const char *), void *opaque);

/* Steps 3-4 for each spec, then ATTACH: starts one ward-blk for the
 * instance-to-be. hv_fds[i] gets ward-hv's end of volume i's vhost-user
 * socket (close after the launch). On failure nothing is attached, no
 * ward-blk is left, *http is the status to answer and code/err say which
 * step failed and why (never any key material). */
int vol_attach_all(struct volumes *v, const struct vol_spec *specs, unsigned n,
		   const char *who, struct vol_set **out, int *hv_fds, int *http,
		   const char **code, char *err, size_t errlen);
/* The launch failed: detach everything and stop ward-blk. */
void vol_abort(struct volumes *v, struct vol_set *s, const char *why);
/* The launch succeeded: remember the set under the instance id. */
void vol_bind(struct volumes *v, struct vol_set *s, const char *instance_id);

/* DETACH one volume (key wiped in ward-blk, reply checked). -ENOENT when it
 * is not attached to that instance; other errors with err. */
int vol_detach(struct volumes *v, const char *instance_id, const char *volume_id,
	       char *err, size_t errlen);
/* The instance stopped or exited: detach all its volumes, stop ward-blk. */
void vol_instance_gone(struct volumes *v, const char *instance_id, const char *why);
/* Volume ids attached to an instance, as a JSON array (new reference). */
json_t *vol_list(struct volumes *v, const char *instance_id);
/* Card health for metrics: fn(arg, instance, up) for each ward-blk this
 * controller holds; up while its process lives (its pidfd not readable). */
void vol_cards_foreach(struct volumes *v, void (*fn)(void *arg, const char *instance, bool up),
		       void *arg);
/* Per-volume I/O counters for metrics: a STATS request to each card for
 * each attached volume (bounded like every wait on the channel), fn for
 * each answer; a card that cannot answer is skipped. */
struct blkctl_stats;
void vol_blk_stats_foreach(struct volumes *v,
			   void (*fn)(void *arg, const char *instance, const char *volume,
				      const struct blkctl_stats *st),
			   void *arg);

#endif
