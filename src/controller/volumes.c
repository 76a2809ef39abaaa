/* volumes: KMS Decrypt (grant + forward access session, Recipient = this
 * host) -> HPKE open whose DH is TPM2_ECDH_ZGen on the PCR-bound host key ->
 * blkctl ATTACH into the instance's ward-blk. The 64-byte volume key exists
 * in this process only in one secmem page, from the HPKE open to the end of
 * the ATTACH send, and is never logged, audited or put in an error. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "blkctl.h"
#include "controller/instances.h"
#include "controller/kmsclient.h"
#include "controller/statefile.h"
#include "controller/launcher.h"
#include "controller/volumes.h"
#include "fileio.h"
#include "hpke.h"
#include "errmsg.h"
#include "log.h"
#include "secmem.h"
#include "tpm.h"

#define KMS_HPKE_INFO "ward-kms recipient v1"	/* docs/kms.md, Recipient */
#define HOSTKEY_BLOB "keys/host.blob"		/* fw_provision (FW_HOSTKEY_BLOB) */
#define DEVKEY_BLOB "keys/dev-host.blob"
#define DEVKEY_PUB "keys/dev-host.pub"		/* 65-byte point */
#define DEVKEY_PEM "keys/dev-host.pub.pem"
#define BLK_STOP_MS 3000
#define BLK_REPLY_S 10
#define CARD_FD 4		/* ward-blk's copy of our end (--keep-fd) */
#define KEY_PAGE 4096

struct vol_set {
	char instance[40];
	uid_t uid;			/* this ward-blk's own uid and gid */
	uint64_t start_time;		/* /proc/PID/stat field 22, for re-adoption */
	bool child;			/* ours to waitpid (not re-adopted) */
	pid_t pid;
	int pidfd;
	int ctl;			/* our end of the blkctl socketpair */
	unsigned n;
	char ids[VOL_MAX][VOL_ID_MAX + 1];
	bool attached[VOL_MAX];
	struct vol_set *next;
};

struct volumes {
	struct vol_cfg cfg;
	struct kmsc *kms;
	uint8_t *hostkey;		/* TPM blob: useless off this TPM */
	size_t hostkey_len;
	uint8_t hostpub[TPM_ECC_POINT_LEN];
	char why_off[256];		/* set when volumes cannot work here */
	int dh_rc;			/* last TPM ECDH result, for the message */
	char dh_err[200];
	struct vol_set *sets;
};

/* ---- the host key ---- */

/* The host key blob, public point and PEM: fileio reads whole regular
 * files only and creates them complete or not at all. */
static int read_all(const char *path, uint8_t **buf, size_t *len)
{
	int rc = fileio_read(path, 65536, 0, buf, len);

	if (!rc && !*len) {
		free(*buf);
		rc = -EINVAL;
	}
	return rc;
}

static int write_new(const char *path, const void *buf, size_t len)
{
	return fileio_write_new(path, buf, len, 0600);
}

static int write_pem(const char *path, const uint8_t spki[TPM_SPKI_LEN])
{
	const unsigned char *p = spki;
	EVP_PKEY *k = d2i_PUBKEY(NULL, &p, TPM_SPKI_LEN);
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long n;
	int rc = -EIO;

	if (k && b && PEM_write_bio_PUBKEY(b, k) && (n = BIO_get_mem_data(b, &data)) > 0)
		rc = fileio_write_new(path, data, (size_t)n, 0644);
	BIO_free(b);
	EVP_PKEY_free(k);
	return rc;
}

/* Development build: no provisioning, so the first start creates a host
 * key with the same TPM API, bound to PCR 12 as it is now. */
static int dev_hostkey(struct volumes *v, char *err, size_t errlen)
{
	char path[PATH_MAX];
	uint8_t spki[TPM_SPKI_LEN];
	int rc;

	snprintf(path, sizeof(path), "%s/keys", v->cfg.state_dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/" DEVKEY_BLOB, v->cfg.state_dir);
	if (!read_all(path, &v->hostkey, &v->hostkey_len))
		return 0;
	rc = tpm_hostkey_create(v->cfg.tpm, TPM_PCR_BIT(TPM_PCR_BOOT), NULL, &v->hostkey,
				&v->hostkey_len, v->hostpub);
	if (rc) {
		snprintf(err, errlen, "cannot create the dev host key: %s", tpm_error(v->cfg.tpm));
		return rc;
	}
	if ((rc = write_new(path, v->hostkey, v->hostkey_len)))
		goto fail;
	snprintf(path, sizeof(path), "%s/" DEVKEY_PUB, v->cfg.state_dir);
	if ((rc = write_new(path, v->hostpub, sizeof(v->hostpub))))
		goto fail;
	snprintf(path, sizeof(path), "%s/" DEVKEY_PEM, v->cfg.state_dir);
	if ((rc = tpm_blob_pubkey(v->hostkey, v->hostkey_len, spki, v->hostpub)) ||
	    (rc = write_pem(path, spki)))
		goto fail;
	log_warn("DEV host key created in the TPM: development build, bound to PCR 12 as it "
		 "is now, not to a measured controller", "pub=%s/" DEVKEY_PEM, v->cfg.state_dir);
	return 0;
fail:
	snprintf(err, errlen, "cannot store the dev host key under %s/keys", v->cfg.state_dir);
	return rc;
}

int vol_init(struct volumes **out, const struct vol_cfg *cfg, char *err, size_t errlen)
{
	struct kmsc_cfg kc = { 0 };
	struct volumes *v = calloc(1, sizeof(*v));
	uint8_t spki[TPM_SPKI_LEN];
	char path[PATH_MAX];
	int rc;

	if (!v)
		return -ENOMEM;
	v->cfg = *cfg;
	*out = v;
	if (!cfg->kms_url) {
		snprintf(v->why_off, sizeof(v->why_off), "this controller has no KMS configured "
			 "(--kms-url): encrypted volumes cannot be attached");
		return 0;
	}
	if (!cfg->host_id || !cfg->kms_cert || !cfg->kms_key || !cfg->kms_ca) {
		snprintf(err, errlen, "--kms-url needs --kms-cert, --kms-key, --kms-ca and --host-id");
		return -EINVAL;
	}
	if (cfg->blk_fd < 0 && !cfg->blk_path)
		snprintf(v->why_off, sizeof(v->why_off), "no verified ward-blk image is available");
	if (cfg->dev) {
		if ((rc = dev_hostkey(v, err, errlen)))
			return rc;
	} else {
		snprintf(path, sizeof(path), "%s/" HOSTKEY_BLOB, cfg->state_dir);
		if (read_all(path, &v->hostkey, &v->hostkey_len))
			snprintf(v->why_off, sizeof(v->why_off), "this host has no provisioned host "
				 "key (%s): encrypted volumes cannot be attached", HOSTKEY_BLOB);
	}
	if (v->hostkey && tpm_blob_pubkey(v->hostkey, v->hostkey_len, spki, v->hostpub)) {
		snprintf(err, errlen, "the host key blob is malformed");
		return -EINVAL;
	}
	kc = (struct kmsc_cfg){ .url = cfg->kms_url, .ca = cfg->kms_ca, .cert = cfg->kms_cert,
				.key = cfg->kms_key };
	if ((rc = kmsc_new(&kc, &v->kms))) {
		snprintf(err, errlen, "--kms-url must be an https:// URL");
		return rc;
	}
	log_info("volumes: KMS configured", "kms=%s host_id=%s", cfg->kms_url, cfg->host_id);
	return 0;
}

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* ---- ward-blk ---- */

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static void blk_event(void *opaque, const struct blkctl_msg *ev)
{
	log_warn("ward-blk event", "volume=%s event=%u msg=\"%s\"", ev->u.event.id,
		 ev->u.event.event, ev->u.event.msg);
}

/* Each ward-blk runs as a uid of its own, distinct from every ward-hv's
 * and every other ward-blk's: a card that is taken over shares no owner
 * (signals, /proc, memlock accounting) with another tenant's processes.
 * Sets being attached are not in the list yet, but attaches run one at a
 * time on the event loop, so the lowest free k is free. */
static int pick_uid(struct volumes *v, uid_t *uid)
{
	struct vol_set *s;

	for (unsigned k = 0; k < v->cfg.max_sets; k++) {
		for (s = v->sets; s; s = s->next)
			if (s->uid == v->cfg.uid_base + k)
				break;
		if (!s) {
			*uid = v->cfg.uid_base + k;
			return 0;
		}
	}
	return -EBUSY;
}

/* A ward-blk that stops answering must not hang the controller's event
 * loop: every wait for a reply gives up after BLK_REPLY_S. */
static void ctl_timeout(int fd)
{
	struct timeval tv = { .tv_sec = BLK_REPLY_S };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)))
		log_warn("cannot bound waits on the ward-blk channel", "errno=%s", errname(errno));
}

/* Card processes get only inherited fds: the control socketpair as fd 3.
 * ward-blk makes its io_uring rings before it locks itself down and can make
 * none later, so it is told how many volumes it will serve: this instance's
 * n, all attached at launch (no hot-plug), so ATTACHes never outnumber them. */
static int blk_spawn(struct volumes *v, struct vol_set *s, unsigned n, char *err,
		     size_t errlen)
{
	static char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	char nvol[12], uid[16];
	char *const argv[] = { "ward-blk", "--control-fd", "3", "--keep-fd", "4", "--max-volumes",
			       nvol, "--uid", uid, "--gid", uid, NULL };
	int sp[2], fds[2], go[2];
	struct launch_req lr;
	char st;

	snprintf(nvol, sizeof(nvol), "%u", n);
	snprintf(uid, sizeof(uid), "%u", (unsigned)s->uid);

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp)) {
		snprintf(err, errlen, "cannot create the ward-blk control channel");
		return -errno;
	}
	/* It execs only once it can be watched (a pidfd): the controller
	 * signals its children through pidfds only, never kill(2). */
	if (pipe2(go, O_CLOEXEC)) {
		int rc = -errno;

		close(sp[0]);
		close(sp[1]);
		snprintf(err, errlen, "cannot start ward-blk: %s", strerror(-rc));
		return rc;
	}
	/* fd 3: ward-blk's end; fd 4: a copy of ours, which ward-blk holds so
	 * the channel outlives this process (vol_adopt). The launcher starts
	 * it: the controller itself may not. */
	fds[0] = sp[1];
	fds[1] = sp[0];
	lr = (struct launch_req){ .image = LAUNCH_BLK, .argv = argv, .envp = envp, .fds = fds,
				  .n_fds = 2, .go_fd = go[0] };
	s->pid = launcher_spawn(&lr, err, errlen);
	close(go[0]);
	if (s->pid < 0) {
		int rc = s->pid;

		s->pid = 0;
		close(sp[0]);
		close(sp[1]);
		close(go[1]);
		return rc;
	}
	close(sp[1]);
	s->ctl = sp[0];
	s->child = true;
	s->pidfd = pidfd_open_(s->pid);
	/* No pidfd: EOF on the go pipe, and it exits (127) before exec. */
	if (s->pidfd < 0 || write(go[1], "g", 1) != 1) {
		int rc = s->pidfd < 0 ? -errno : -EIO;

		close(go[1]);
		if (s->pidfd >= 0)
			syscall(SYS_pidfd_send_signal, s->pidfd, SIGKILL, NULL, 0);
		waitpid(s->pid, NULL, 0);
		if (s->pidfd >= 0)
			close(s->pidfd);
		s->pidfd = -1;
		s->pid = 0;
		close(s->ctl);
		s->ctl = -1;
		snprintf(err, errlen, "cannot watch ward-blk: %s", strerror(-rc));
		return rc;
	}
	close(go[1]);
	if (inst_proc_stat(s->pid, &s->start_time, &st))
		s->start_time = 0;	/* never adoptable: the check below fails */
	ctl_timeout(s->ctl);
	return 0;
}

/* SIGTERM: ward-blk detaches (wipes) whatever is still attached and
 * exits. It holds a copy of our end of the channel, so closing ours is
 * no longer a stop signal. */
static void blk_stop(struct vol_set *s)
{
	if (s->ctl >= 0)
		close(s->ctl);
	s->ctl = -1;
	if (s->pid <= 0)
		return;
	launcher_stop_card(s->pidfd, s->pid, s->child, BLK_STOP_MS, "ward-blk");
	if (s->pidfd >= 0)
		close(s->pidfd);
	s->pidfd = -1;
	s->pid = 0;
}

/* ---- steps 3 and 4 ---- */

static void audit_vol(struct volumes *v, const char *event, const struct vol_spec *sp,
		      const char *who, const char *instance, const char *reason)
{
	json_t *rec = json_pack("{s:s, s:s, s:s, s:s}", "type", "volume", "event", event,
				"volume", sp->volume_id, "key_id", sp->key_id);

	if (!rec)
		return;
	if (who)
		json_object_set_new(rec, "by", json_string(who));
	if (instance)
		json_object_set_new(rec, "instance", json_string(instance));
	if (reason)
		json_object_set_new(rec, "reason", json_string(reason));
	v->cfg.audit(v->cfg.audit_opaque, rec);
}

static int dh_tpm(void *ctx, const uint8_t peer[HPKE_PK_LEN], uint8_t z[HPKE_DH_LEN])
{
	struct volumes *v = ctx;

	v->dh_rc = tpm_ecdh_zgen(v->cfg.tpm, v->hostkey, v->hostkey_len, peer, z);
	if (v->dh_rc)
		snprintf(v->dh_err, sizeof(v->dh_err), "%s", tpm_error(v->cfg.tpm));
	return v->dh_rc;
}

/* Step 3: the KMS seals the key to this host; nothing secret comes back. */
static int kms_decrypt(struct volumes *v, const struct vol_spec *sp, uint8_t *sealed,
		       size_t cap, size_t *sealed_len, char *arn, size_t arnlen, int *http,
		       const char **code, char *err, size_t errlen)
{
	char etype[64], kerr[480], *b64 = kmsc_b64_encode(sp->encrypted_key,
							    sp->encrypted_key_len);
	json_t *req, *resp = NULL;
	const char *ct, *kid;
	int rc;

	req = b64 ? json_pack("{s:s, s:s, s:{s:s}, s:[s], s:{s:s, s:s}, s:s}", "CiphertextBlob",
			      b64, "KeyId", sp->key_id, "EncryptionContext", "ward:volume",
			      sp->volume_id, "GrantTokens", sp->grant_token, "Recipient",
			      "KeyEncryptionAlgorithm", "HPKE_P256_SHA256_AES256GCM", "HostId",
			      v->cfg.host_id, "ForwardAccessSession", sp->fas_token) : NULL;
	free(b64);
	if (!req)
		return -ENOMEM;
	rc = kmsc_call(v->kms, "Decrypt", req, &resp, etype, sizeof(etype), kerr, sizeof(kerr));
	json_decref(req);
	*code = "kms_refused";
	if (rc) {
		*http = rc == -EIO ? 502 : rc == -EACCES ? 403 :
			!strcmp(etype, "KMSInvalidStateException") ||
			!strcmp(etype, "DisabledException") ? 409 : 422;
		if (rc == -EIO)
			*code = "kms_unavailable";
		snprintf(err, errlen, "volume %s: step 3 (KMS Decrypt for this host): %s",
			 sp->volume_id, kerr);
		return rc;
	}
	ct = json_string_value(json_object_get(resp, "CiphertextForRecipient"));
	kid = json_string_value(json_object_get(resp, "KeyId"));
	if (!ct || !kid || strlen(kid) >= arnlen || json_object_get(resp, "Plaintext") ||
	    kmsc_b64_decode(ct, sealed, cap, sealed_len)) {
		/* A Plaintext would mean the key crossed the wire unsealed. */
		*http = 502;
		*code = "kms_bad_answer";
		snprintf(err, errlen, "volume %s: step 3: KMS answered without a sealed key for "
			 "this host", sp->volume_id);
		json_decref(resp);
		return -EPROTO;
	}
	snprintf(arn, arnlen, "%s", kid);
	json_decref(resp);
	return 0;
}

/* Steps 3-4 and the ATTACH for one volume; *hv_fd gets ward-hv's socket. */
/* The volume's backing store, opened before any key is fetched: a store
 * that does not open refuses the launch with no KMS Decrypt and no TPM
 * unseal (issue 16 §5). */
static int open_store(struct volumes *v, const struct vol_spec *sp, const char *who,
		      struct blkctl_attach *a, char *err, size_t errlen)
{
	char berr[BLKCTL_MSG_LEN + 1] = "";
	int store;

	memset(a, 0, sizeof(*a));
	snprintf(a->id, sizeof(a->id), "%s", sp->volume_id);
	a->size = sp->size;
	a->num_queues = 1;
	a->flags = sp->read_only ? BLKCTL_F_READONLY : 0;
	/* ward-blk opens nothing itself: the store arrives as an fd. */
	store = blkctl_open_store(sp->backing, a, berr, sizeof(berr));
	if (store < 0) {
		bool nbd = !strncmp(sp->backing, "nbd", 3);

		/* EACCES here is mostly the lockdown: Landlock lets the
		 * controller open stores only where the operator said. */
		if (store == -EACCES)
			snprintf(err, errlen, "volume %s: backing store: %s (the controller opens "
				 "backing stores only %s, and needs read-write permission on a "
				 "file)", sp->volume_id, berr, nbd ?
				 "on the ports given with --nbd-port" :
				 "beneath the directories given with --volume-dir");
		else
			snprintf(err, errlen, "volume %s: backing store: %s", sp->volume_id, berr);
		audit_vol(v, "attach refused", sp, who, NULL, err);
		log_warn("volume attach refused", "volume=%s step=backing_store", sp->volume_id);
	}
	return store;
}

static int attach_one(struct volumes *v, struct vol_set *s, const struct vol_spec *sp,
		      struct blkctl_attach *pa, int store, const char *who, int *hv_fd,
		      int *http, const char **code, char *err, size_t errlen)
{
	uint8_t sealed[256], *key = NULL;
	char arn[256], berr[BLKCTL_MSG_LEN + 1] = "";
	struct blkctl_attach a = *pa;
	size_t sealed_len, key_len = 0;
	int vu[2] = { -1, -1 }, rc;

	long long t0 = now_us(), t1, t2;

	audit_vol(v, "attach requested", sp, who, NULL, NULL);
	if ((rc = kms_decrypt(v, sp, sealed, sizeof(sealed), &sealed_len, arn, sizeof(arn), http,
			      code, err, errlen)))
		goto refused;
	/* Step 4: only this TPM, in the PCR state the key is bound to, can do
	 * the ECDH that opens the seal. */
	if (!(key = secmem_alloc(KEY_PAGE))) {
		*http = 500;
		*code = "no_secure_memory";
		snprintf(err, errlen, "volume %s: no lockable memory for the volume key",
			 sp->volume_id);
		rc = -ENOMEM;
		goto refused;
	}
	v->dh_rc = 0;
	t1 = now_us();
	rc = hpke_open_with_dh(sealed, sealed_len, v->hostpub, dh_tpm, v,
			       (const uint8_t *)KMS_HPKE_INFO, strlen(KMS_HPKE_INFO),
			       (const uint8_t *)arn, strlen(arn), key, KEY_PAGE, &key_len);
	if (rc || key_len != BLKCTL_KEY_LEN) {
		*code = "unseal_refused";
		if (v->dh_rc == -EACCES) {
			*http = 503;
			snprintf(err, errlen, "volume %s: step 4 (TPM2_ECDH_ZGen on the host key) "
				 "refused by the TPM: %s: this host is not in the measured state its "
				 "key is bound to", sp->volume_id, v->dh_err);
		} else if (v->dh_rc) {
			*http = 500;
			snprintf(err, errlen, "volume %s: step 4: the TPM could not use the host key: "
				 "%s", sp->volume_id, v->dh_err);
		} else if (rc) {
			*http = 422;
			snprintf(err, errlen, "volume %s: step 4: the sealed key does not open with "
				 "this host's key (sealed to another host's key, or altered)",
				 sp->volume_id);
		} else {
			*http = 422;
			snprintf(err, errlen, "volume %s: volume key must be %d bytes, got %zu",
				 sp->volume_id, BLKCTL_KEY_LEN, key_len);
		}
		rc = rc ? rc : -EINVAL;
		goto refused;
	}
	t2 = now_us();
	audit_vol(v, "key unsealed", sp, who, NULL, NULL);
	*code = "blk_attach_failed";
	*http = 500;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, vu)) {
		rc = -errno;
		snprintf(err, errlen, "volume %s: cannot create the vhost-user socketpair",
			 sp->volume_id);
		goto refused;
	}
	rc = blkctl_attach(s->ctl, &a, key, vu[1], store, blk_event, v, berr, sizeof(berr));
	/* From here on the key exists only in ward-blk. */
	secmem_free(key, KEY_PAGE);
	key = NULL;
	if (rc) {
		snprintf(err, errlen, "volume %s: ward-blk refused ATTACH: %s", sp->volume_id,
			 berr[0] ? berr : strerror(-rc));
		goto refused;
	}
	close(vu[1]);
	*hv_fd = vu[0];
	log_info("volume key unsealed into ward-blk", "volume=%s kms_us=%lld tpm_us=%lld "
		 "attach_us=%lld", sp->volume_id, t1 - t0, t2 - t1, now_us() - t2);
	return 0;
refused:
	secmem_free(key, KEY_PAGE);
	if (vu[0] >= 0) {
		close(vu[0]);
		close(vu[1]);
	}
	audit_vol(v, "attach refused", sp, who, NULL, err);
	log_warn("volume attach refused", "volume=%s step=%s", sp->volume_id, *code);
	return rc;
}

static void set_free(struct volumes *v, struct vol_set *s)
{
	char path[PATH_MAX];

	blk_stop(s);
	if (s->instance[0]) {
		snprintf(path, sizeof(path), "%s/cards/%s.json", v->cfg.state_dir, s->instance);
		unlink(path);
	}
	free(s);
}

int vol_attach_all(struct volumes *v, const struct vol_spec *specs, unsigned n,
		   const char *who, struct vol_set **out, int *hv_fds, int *http,
		   const char **code, char *err, size_t errlen)
{
	struct blkctl_attach as[VOL_MAX];
	int stores[VOL_MAX];
	struct vol_set *s;
	long long t0;
	unsigned i;
	int rc;

	*out = NULL;
	if (v->why_off[0] || !v->kms) {
		*http = 503;
		*code = "volumes_unavailable";
		snprintf(err, errlen, "%s", v->why_off);
		return -ENOTSUP;
	}
	if (n < 1 || n > VOL_MAX) {	/* vol_spec_parse allows no other n */
		*http = 500;
		*code = "blk_unavailable";
		snprintf(err, errlen, "%u volumes for one instance; 1..%d allowed", n, VOL_MAX);
		return -EINVAL;
	}
	if (!(s = calloc(1, sizeof(*s))))
		return -ENOMEM;
	s->ctl = s->pidfd = -1;
	if (pick_uid(v, &s->uid)) {
		*http = 409;
		*code = "host_full";
		snprintf(err, errlen, "every storage card uid is in use (%u instances with volumes)",
			 v->cfg.max_sets);
		free(s);
		return -EBUSY;
	}
	t0 = now_us();
	/* Every store first: no key is fetched for a launch that a store
	 * would refuse after it. */
	for (i = 0; i < n; i++) {
		stores[i] = open_store(v, &specs[i], who, &as[i], err, errlen);
		if (stores[i] < 0) {
			rc = stores[i];
			while (i-- > 0)
				close(stores[i]);
			*http = 422;
			*code = "blk_attach_failed";
			free(s);
			return rc;
		}
	}
	if ((rc = blk_spawn(v, s, n, err, errlen))) {
		*http = 500;
		*code = "blk_unavailable";
		for (i = 0; i < n; i++)
			close(stores[i]);
		free(s);
		return rc;
	}
	for (i = 0; i < n; i++) {
		rc = attach_one(v, s, &specs[i], &as[i], stores[i], who, &hv_fds[i], http, code,
				err, errlen);
		if (rc)
			break;
		snprintf(s->ids[i], sizeof(s->ids[i]), "%s", specs[i].volume_id);
		s->attached[i] = true;
		s->n = i + 1;
	}
	for (unsigned j = 0; j < n; j++)
		close(stores[j]);
	if (rc) {
		while (i-- > 0)
			close(hv_fds[i]);
		vol_abort(v, s, "an earlier volume of the launch was refused");
		return rc;
	}
	log_info("volumes attached", "count=%u total_us=%lld", n, now_us() - t0);
	*out = s;
	return 0;
}

static int detach_in(struct vol_set *s, unsigned i, char *err, size_t errlen)
{
	char berr[BLKCTL_MSG_LEN + 1] = "";
	int rc;

	rc = blkctl_detach(s->ctl, s->ids[i], blk_event, NULL, berr, sizeof(berr));
	if (rc) {
		snprintf(err, errlen, "ward-blk refused DETACH of %s: %s", s->ids[i],
			 berr[0] ? berr : strerror(-rc));
		return rc;
	}
	s->attached[i] = false;
	return 0;
}

/* A card's fate across a controller restart: adopted, released, lost. */
static void audit_card(struct volumes *v, struct vol_set *s, const char *event,
		       const char *reason)
{
	json_t *rec = json_pack("{s:s, s:s, s:s, s:I}", "type", "card", "event", event,
				"instance", s->instance, "pid", (json_int_t)s->pid);

	if (rec && reason)
		json_object_set_new(rec, "reason", json_string(reason));
	if (rec)
		v->cfg.audit(v->cfg.audit_opaque, rec);
}

static void audit_detach(struct volumes *v, struct vol_set *s, unsigned i, const char *why,
			 int rc, const char *err)
{
	json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b}", "type", "volume", "event",
				"detached", "volume", s->ids[i], "instance", s->instance, "reason",
				why, "key_wiped", rc == 0);

	if (rec && rc)
		json_object_set_new(rec, "error", json_string(err));
	if (rec)
		v->cfg.audit(v->cfg.audit_opaque, rec);
}

/* Detach every attached volume (each reply checked), then stop ward-blk,
 * which wipes whatever a failed DETACH left when its channel closes. */
static void release(struct volumes *v, struct vol_set *s, const char *why)
{
	char err[256];
	unsigned i;
	int rc;

	for (i = 0; i < s->n; i++) {
		if (!s->attached[i])
			continue;
		rc = detach_in(s, i, err, sizeof(err));
		if (rc)
			log_warn("volume detach failed; stopping ward-blk wipes it", "volume=%s",
				 s->ids[i]);
		else
			log_info("volume detached, key wiped in ward-blk", "volume=%s instance=%s",
				 s->ids[i], s->instance);
		audit_detach(v, s, i, why, rc, err);
	}
	set_free(v, s);
}

void vol_abort(struct volumes *v, struct vol_set *s, const char *why)
{
	if (s)
		release(v, s, why);
}

/* STATE_DIR/cards/INSTANCE.json: what a restarted controller needs to
 * find this ward-blk again and check it is the same process (vol_adopt).
 * No key material: the card holds the only copy. */
static void save_set(struct volumes *v, struct vol_set *s)
{
	char dir[PATH_MAX];
	json_t *o, *ids = json_array();
	int rc;

	for (unsigned i = 0; ids && i < s->n; i++)
		if (s->attached[i])
			json_array_append_new(ids, json_string(s->ids[i]));
	o = json_pack("{s:s, s:I, s:I, s:I, s:o}", "instance", s->instance, "pid",
		      (json_int_t)s->pid, "start_time", (json_int_t)s->start_time, "uid",
		      (json_int_t)s->uid, "volumes", ids);
	snprintf(dir, sizeof(dir), "%s/cards", v->cfg.state_dir);
	if (mkdir(dir, 0700) && errno != EEXIST)
		rc = -errno;
	else
		rc = o ? statefile_write_json(dir, s->instance, o) : -ENOMEM;
	json_decref(o);
	if (rc)
		log_error("cannot record the card; a controller restart would lose it",
			  "instance=%s errno=%s", s->instance, errname(-rc));
}

void vol_bind(struct volumes *v, struct vol_set *s, const char *instance_id)
{
	snprintf(s->instance, sizeof(s->instance), "%s", instance_id);
	s->next = v->sets;
	v->sets = s;
	save_set(v, s);
	for (unsigned i = 0; i < s->n; i++) {
		json_t *rec = json_pack("{s:s, s:s, s:s, s:s}", "type", "volume", "event",
					"attached", "volume", s->ids[i], "instance", instance_id);

		if (rec)
			v->cfg.audit(v->cfg.audit_opaque, rec);
	}
}

static struct vol_set **find_set(struct volumes *v, const char *instance_id)
{
	struct vol_set **pp;

	for (pp = &v->sets; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->instance, instance_id))
			return pp;
	return NULL;
}

int vol_detach(struct volumes *v, const char *instance_id, const char *volume_id,
	       char *err, size_t errlen)
{
	struct vol_set **pp = v ? find_set(v, instance_id) : NULL, *s;
	unsigned i, left = 0;
	int rc;

	if (!pp)
		goto none;
	s = *pp;
	for (i = 0; i < s->n; i++)
		if (s->attached[i] && !strcmp(s->ids[i], volume_id))
			break;
	if (i == s->n)
		goto none;
	rc = detach_in(s, i, err, errlen);
	audit_detach(v, s, i, "detach requested", rc, err);
	if (rc)
		return rc;
	log_info("volume detached, key wiped in ward-blk", "volume=%s instance=%s", volume_id,
		 instance_id);
	for (i = 0; i < s->n; i++)
		left += s->attached[i];
	if (!left) {
		*pp = s->next;
		set_free(v, s);
	} else {
		save_set(v, s);
	}
	return 0;
none:
	snprintf(err, errlen, "no volume %s attached to instance %s", volume_id, instance_id);
	return -ENOENT;
}

void vol_instance_gone(struct volumes *v, const char *instance_id, const char *why)
{
	struct vol_set **pp = v ? find_set(v, instance_id) : NULL, *s;

	if (!pp)
		return;
	s = *pp;
	*pp = s->next;
	release(v, s, why);
}

json_t *vol_list(struct volumes *v, const char *instance_id)
{
	struct vol_set **pp = v ? find_set(v, instance_id) : NULL;
	json_t *a = json_array();

	for (unsigned i = 0; pp && a && i < (*pp)->n; i++)
		if ((*pp)->attached[i])
			json_array_append_new(a, json_string((*pp)->ids[i]));
	return a;
}

void vol_cards_foreach(struct volumes *v, void (*fn)(void *arg, const char *instance, bool up),
		       void *arg)
{
	for (struct vol_set *s = v ? v->sets : NULL; s; s = s->next) {
		struct pollfd p = { .fd = s->pidfd, .events = POLLIN };

		fn(arg, s->instance, s->pidfd >= 0 && poll(&p, 1, 0) == 0);
	}
}

void vol_blk_stats_foreach(struct volumes *v,
			   void (*fn)(void *arg, const char *instance, const char *volume,
				      const struct blkctl_stats *st),
			   void *arg)
{
	struct blkctl_stats st;
	char err[BLKCTL_MSG_LEN + 1];

	for (struct vol_set *s = v ? v->sets : NULL; s; s = s->next)
		for (unsigned i = 0; i < s->n; i++)
			if (s->attached[i] && s->ctl >= 0 &&
			    blkctl_stats(s->ctl, s->ids[i], blk_event, v, &st, err, sizeof(err)) == 0)
				fn(arg, s->instance, s->ids[i], &st);
}

/* Instance ids are UUIDs; a record naming anything else is not ours (and
 * its name is used in a path). */
static bool valid_instance_id(const char *id)
{
	if (strlen(id) != INST_ID_LEN)
		return false;
	for (const char *p = id; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || *p == '-'))
			return false;
	return true;
}

/* One STATE_DIR/cards record: the same ward-blk still running (pid and
 * start time), its channel taken back from it, what it still serves. */
static int adopt_one(struct volumes *v, const char *dir, const char *name,
		     bool (*running)(void *, const char *), void *opaque)
{
	char path[PATH_MAX], err[256], st = 0;
	const char *inst;
	json_int_t pid = 0, start = 0, uid = 0;
	json_t *o, *ids = NULL;
	struct vol_set *s;
	uint64_t now;
	int rc;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return -ENAMETOOLONG;
	if (statefile_read_json(path, &o))
		o = NULL;
	if (!o || json_unpack(o, "{s:s, s:I, s:I, s:I, s:o}", "instance", &inst, "pid", &pid,
			      "start_time", &start, "uid", &uid, "volumes", &ids) ||
	    !json_is_array(ids) || json_array_size(ids) > VOL_MAX || pid <= 0 ||
	    !valid_instance_id(inst) || strncmp(name, inst, INST_ID_LEN) ||
	    strcmp(name + INST_ID_LEN, ".json") || !(s = calloc(1, sizeof(*s)))) {
		log_error("ignoring unreadable card record", "file=%s", name);
		json_decref(o);
		unlink(path);
		return -EINVAL;
	}
	snprintf(s->instance, sizeof(s->instance), "%s", inst);
	s->pid = (pid_t)pid;
	s->start_time = (uint64_t)start;
	s->uid = (uid_t)uid;
	s->ctl = -1;
	for (size_t i = 0; i < json_array_size(ids); i++) {
		const char *id = json_string_value(json_array_get(ids, i));

		if (id && strlen(id) <= VOL_ID_MAX)
			snprintf(s->ids[s->n++], sizeof(s->ids[0]), "%s", id);
	}
	json_decref(o);
	/* pidfd first, then the start time: a recycled pid cannot pass. */
	s->pidfd = pidfd_open_(s->pid);
	if (s->pidfd < 0 || inst_proc_stat(s->pid, &now, &st) || now != s->start_time ||
	    st == 'Z') {
		log_warn("card is gone", "instance=%s pid=%d", s->instance, (int)s->pid);
		audit_card(v, s, "lost", "not running after the controller restart");
		if (s->pidfd >= 0)
			close(s->pidfd);
		s->pidfd = -1;
		s->pid = 0;
		set_free(v, s);
		return -ESRCH;
	}
	s->ctl = (int)syscall(SYS_pidfd_getfd, s->pidfd, CARD_FD, 0);
	if (s->ctl < 0) {
		/* No channel, no DETACH: SIGTERM still wipes every key. */
		log_error("cannot take the card's channel back; stopping it", "instance=%s errno=%s",
			  s->instance, errname(errno));
		audit_card(v, s, "released", "its control channel could not be taken back");
		set_free(v, s);
		return -EIO;
	}
	ctl_timeout(s->ctl);
	blkctl_resync(s->ctl);
	for (unsigned i = 0; i < s->n; i++) {
		rc = blkctl_query(s->ctl, s->ids[i], blk_event, v, err, sizeof(err));
		s->attached[i] = rc == 0 || rc == -ENOLINK;
		if (rc && rc != -ENOLINK)
			log_warn("card no longer has a recorded volume", "instance=%s volume=%s "
				 "reason=\"%s\"", s->instance, s->ids[i], err);
	}
	if (!running(opaque, s->instance)) {
		audit_card(v, s, "released", "its instance ended while the controller was down");
		release(v, s, "instance ended while the controller was down");
		return 0;
	}
	s->next = v->sets;
	v->sets = s;
	save_set(v, s);
	audit_card(v, s, "adopted", NULL);
	log_info("card re-adopted", "instance=%s pid=%d volumes=%u", s->instance, (int)s->pid,
		 s->n);
	return 0;
}

int vol_adopt(struct volumes *v, bool (*running)(void *, const char *), void *opaque)
{
	char dir[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/cards", v->cfg.state_dir);
	if (mkdir(dir, 0700) && errno != EEXIST)
		return -errno;
	if (!(d = opendir(dir)))
		return -errno;
	fileio_sweep(dir);	/* records a killed controller was replacing */
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);

		if (e->d_name[0] == '.' || len < 6 || strcmp(e->d_name + len - 5, ".json"))
			continue;
		n += adopt_one(v, dir, e->d_name, running, opaque) == 0;
	}
	closedir(d);
	return n;
}

void vol_destroy(struct volumes *v)
{
	struct vol_set *s;

	if (!v)
		return;
	/* The controller stops; VMs keep running and so do their cards, with
	 * their keys: the next controller takes them back (vol_adopt). A card
	 * wipes a volume's key itself when its VM goes. */
	while ((s = v->sets)) {
		v->sets = s->next;
		if (s->ctl >= 0)
			close(s->ctl);
		if (s->pidfd >= 0)
			close(s->pidfd);
		free(s);
	}
	kmsc_free(v->kms);
	free(v->hostkey);
	free(v);
}
