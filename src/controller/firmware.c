/* firmware: the controller's side of the boot chain (ARCHITECTURE §2
 * steps 2-5). fw_boot unseals the store key (only in the measured good
 * state), picks the slot (A/B with MCUboot-style trial and revert), verifies
 * manifest and images, measures them, and compares all boot PCRs with the
 * TPM-signed golden set; fw_update_apply installs a signed update into the
 * inactive slot. Formats and state machine: docs/firmware.md. */
#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcntl.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "controller/firmware.h"
#include "fileio.h"
#include "controller/fw/fw_chain.h"
#include "controller/fw/fw_store.h"
#include "controller/fw/fw_vendor.h"
#include "log.h"
#include "secmem.h"
#include "tpm.h"
#include "tpm_eventlog.h"

/* What fw_boot leaves for fw_update_apply in this process. The secret is
 * in locked, non-dumpable memory and never logged. */
static struct {
	struct fw_secret *secret;
	char state_dir[PATH_MAX];
	char slot;
	uint64_t version;
	uint8_t pcr12[FW_SHA256_LEN];
} sess;

/* The store key sealed to the state a verified boot reached. */
#define FW_RESUME_BLOB	"resume-secret.blob"

static char other(char slot)
{
	return slot == 'A' ? 'B' : 'A';
}

static void say(struct fw_state *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(struct fw_state *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
}

void fw_forget_store_key(void)
{
	if (sess.secret)
		secmem_free(sess.secret, sizeof(*sess.secret));
	sess.secret = NULL;
}

static int unseal_secret(struct tpm *t, const char *state_dir, const char *name,
			 struct fw_secret *sec, char *err, size_t errlen)
{
	char path[PATH_MAX];
	uint8_t *blob = NULL, *plain;
	size_t blen, n = 0;
	int rc;

	snprintf(path, sizeof(path), "%s/%s/%s", state_dir, FW_DIR, name);
	rc = fw_io_read(path, 4096, &blob, &blen);
	if (rc && !strcmp(name, FW_RESUME_BLOB)) {
		snprintf(err, errlen, "controller restart refused: no store key for a resumed "
			 "boot (%s/%s: %s); a host reboot measures afresh", FW_DIR, name,
			 fileio_strerror(rc));
		return rc;
	}
	if (rc) {
		snprintf(err, errlen, "firmware store not provisioned (%s/%s: %s)", FW_DIR,
			 name, fileio_strerror(rc));
		return rc;
	}
	plain = secmem_alloc(TPM_SEAL_MAX);
	if (!plain) {
		free(blob);
		snprintf(err, errlen, "no locked memory for the store key");
		return -ENOMEM;
	}
	rc = tpm_unseal(t, blob, blen, plain, TPM_SEAL_MAX, &n);
	free(blob);
	if (rc == -EACCES && !strcmp(name, FW_RESUME_BLOB))
		snprintf(err, errlen, "controller restart refused: store key did not unseal: "
			 "the boot PCRs are not those of this store's verified boot");
	else if (rc == -EACCES)
		snprintf(err, errlen, "store key did not unseal: boot measurements differ");
	else if (rc)
		snprintf(err, errlen, "store key did not unseal: %s", tpm_error(t));
	else if ((rc = fw_secret_parse(plain, n, sec)))
		snprintf(err, errlen, "store key did not unseal: sealed secret malformed");
	secmem_free(plain, TPM_SEAL_MAX);
	return rc;
}

/* After a verified boot reached service: seal the store key again, to the
 * boot PCRs as they are now (PCR 12 = this controller, 13/15 = this slot
 * measured, equal to the golden set just compared). Only a later start in
 * exactly this state opens it: a restart of the same controller in the
 * same boot (docs/controller.md, "Restart"). Failing is not fatal: the
 * host serves, and a restart then needs a reboot. */
static void seal_resume_key(struct tpm *t, const char *state_dir, const struct fw_secret *sec)
{
	uint8_t *plain = secmem_alloc(FW_SECRET_LEN), *blob = NULL;
	size_t blen = 0;
	int rc = -ENOMEM;

	if (plain) {
		fw_secret_encode(sec, plain);
		rc = tpm_seal(t, TPM_BOOT_PCRS, NULL, plain, FW_SECRET_LEN, &blob, &blen);
		secmem_free(plain, FW_SECRET_LEN);
	}
	if (!rc)
		rc = fw_state_write(state_dir, FW_DIR "/" FW_RESUME_BLOB, blob, blen);
	free(blob);
	if (rc)
		log_warn("cannot seal the store key for a controller restart: a restart will "
			 "need a host reboot", "error=\"%s\"", rc == -ENOMEM ? "out of memory" :
			 tpm_error(t)[0] ? tpm_error(t) : strerror(-rc));
}

/* SHA-256 of the running executable: under ward-boot the sealed memfd it
 * measured and executed, reached through /proc/self/exe. */
static int fw_self_digest(uint8_t out[TPM_DIGEST_LEN])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t buf[1 << 16];
	int fd, rc = -EIO;
	ssize_t r;

	fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
		rc = fd < 0 ? -errno : -ENOMEM;
		goto out;
	}
	while ((r = read(fd, buf, sizeof(buf))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || !EVP_DigestUpdate(md, buf, (size_t)r))
			goto out;
	}
	if (EVP_DigestFinal_ex(md, out, NULL))
		rc = 0;
out:
	EVP_MD_CTX_free(md);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* A restarted controller must be the binary PCR 12 measured: hash what is
 * running (the sealed memfd ward-boot executed) and check it against the
 * event log's one PCR 12 event and the PCR itself. A different binary
 * started directly is told so here rather than running on another's
 * measurement. */
static int check_self(struct tpm *t, char *err, size_t errlen)
{
	uint8_t pcrs[TPM_NUM_PCRS][TPM_DIGEST_LEN], digest[TPM_DIGEST_LEN];
	char e[160];
	int rc;

	rc = fw_self_digest(digest);
	if (rc) {
		snprintf(err, errlen, "controller restart refused: cannot hash the running "
			 "binary: %s", strerror(-rc));
		return rc;
	}
	rc = tpm_pcr_read(t, TPM_PCR_BIT(TPM_PCR_BOOT), pcrs);
	if (rc) {
		snprintf(err, errlen, "reading PCR 12: %s", tpm_error(t));
		return rc;
	}
	rc = tpm_eventlog_check_single(fw_eventlog_path(), TPM_PCR_BOOT, digest,
				       pcrs[TPM_PCR_BOOT], e, sizeof(e));
	if (rc)
		snprintf(err, errlen, "controller restart refused: %s", e);
	return rc;
}

/* Checks on a verified slot beyond signatures: freshness and rollback. */
static int check_slot(struct tpm *t, const char *state_dir, const struct fw_slot *s,
		      const struct fw_secret *sec, uint64_t want_version,
		      char *err, size_t errlen)
{
	uint64_t nv;
	int rc;

	if (want_version && s->m.version != want_version) {
		snprintf(err, errlen, "slot %c holds store version %llu, the slot pointer "
			 "activated %llu", s->slot, (unsigned long long)s->m.version,
			 (unsigned long long)want_version);
		return -EBADMSG;
	}
	if (s->m.expiry && (uint64_t)time(NULL) > s->m.expiry) {
		snprintf(err, errlen, "slot %c: manifest expired", s->slot);
		return -EKEYEXPIRED;
	}
	rc = tpm_nvcounter_read(t, TPM_NV_FW_COUNTER, &nv);
	if (rc) {
		snprintf(err, errlen, "NV security counter unreadable: %s", tpm_error(t));
		return rc;
	}
	if (nv < sec->nv_base || s->m.counter < nv - sec->nv_base) {
		snprintf(err, errlen, "slot %c: security counter %llu is below the TPM's %llu "
			 "(rollback refused)", s->slot, (unsigned long long)s->m.counter,
			 (unsigned long long)(nv - sec->nv_base));
		return -EPERM;
	}
	return fw_golden_check(state_dir, &s->golden, sec->golden_key_id, err, errlen);
}

static int load_checked(struct tpm *t, const char *state_dir, const char *fwdir,
			char slot, const struct fw_secret *sec, uint64_t want_version,
			struct fw_slot *s, char *err, size_t errlen)
{
	int rc = fw_slot_load(fwdir, slot, sec->key, fw_vendor_pubkey(), s, err, errlen);

	if (rc)
		return rc;
	rc = check_slot(t, state_dir, s, sec, want_version, err, errlen);
	if (rc)
		fw_slot_release(s);
	return rc;
}

static int revert(const char *fwdir, char to)
{
	struct fw_slot probe;
	struct fw_pointer p = { .active = to, .state = FW_SLOT_CONFIRMED };
	char path[PATH_MAX];
	uint8_t *buf;
	size_t len;

	/* The version to expect is the one in the fallback slot's manifest. */
	snprintf(path, sizeof(path), "%s/slot-%c/%s", fwdir, to, FW_MANIFEST);
	if (!fw_io_read(path, 1u << 20, &buf, &len)) {
		if (!fw_manifest_parse(buf, len, &probe.m, NULL, 0))
			p.version = probe.m.version;
		free(buf);
	}
	log_warn("firmware slot reverted", "to=%c", to);
	return fw_pointer_store(fwdir, &p);
}

/* Extend PCR 15 with the manifest, then PCR 13 with each image in manifest
 * order, logging each event before its extend (docs/tpm.md). */
static int measure(struct tpm *t, const struct fw_slot *s, char *err, size_t errlen)
{
	const char *log_path = fw_eventlog_path();
	char desc[128];
	int rc, n;

	n = snprintf(desc, sizeof(desc), "ward manifest slot=%c version=%llu counter=%llu",
		     s->slot, (unsigned long long)s->m.version,
		     (unsigned long long)s->m.counter);
	rc = tpm_measure(t, log_path, TPM_PCR_CONFIG, TPM_EV_EVENT_TAG, s->m.digest, desc,
			 (size_t)n);
	for (unsigned i = 0; !rc && i < s->m.n_images; i++) {
		n = snprintf(desc, sizeof(desc), "ward image %s role=%s version=%llu",
			     s->m.img[i].name, fw_role_name(s->m.img[i].role),
			     (unsigned long long)s->m.version);
		rc = tpm_measure(t, log_path, TPM_PCR_COMPONENTS, TPM_EV_IPL,
				 s->m.img[i].sha256, desc, (size_t)n);
	}
	if (rc)
		snprintf(err, errlen, "measuring the store failed (event log %s): %s",
			 log_path, tpm_error(t));
	return rc;
}

static int compare_golden(struct tpm *t, const struct fw_golden *g, char *err, size_t errlen)
{
	uint8_t pcrs[TPM_NUM_PCRS][TPM_DIGEST_LEN];
	uint32_t mask = 0;
	int rc;

	for (unsigned i = 0; i < g->n; i++)
		mask |= TPM_PCR_BIT(g->pcr[i]);
	if ((mask & FW_GOLDEN_PCRS) != FW_GOLDEN_PCRS) {
		snprintf(err, errlen, "golden set does not cover PCRs 12, 13 and 15");
		return -EBADMSG;
	}
	rc = tpm_pcr_read(t, mask, pcrs);
	if (rc) {
		snprintf(err, errlen, "reading PCRs: %s", tpm_error(t));
		return rc;
	}
	for (unsigned i = 0; i < g->n; i++)
		if (CRYPTO_memcmp(pcrs[g->pcr[i]], g->value[i], TPM_DIGEST_LEN)) {
			snprintf(err, errlen, "measurements differ from the golden set at PCR %u",
				 g->pcr[i]);
			return -EPERM;
		}
	return 0;
}

/* Hand the slot's memfds to the caller by role. */
static void take_images(struct fw_slot *s, struct fw_images *img)
{
	for (unsigned i = 0; i < s->m.n_images; i++) {
		const struct fw_image_desc *d = &s->m.img[i];
		int *dst = NULL;

		if (d->role == FW_ROLE_HV)
			dst = &img->hv_fd;
		else if (d->role == FW_ROLE_BLK)
			dst = &img->blk_fd;
		else if (d->role == FW_ROLE_NET)
			dst = &img->net_fd;
		else if (d->role == FW_ROLE_GUEST && img->n_guests < FW_MAX_GUEST_IMAGES) {
			struct fw_guest_image *gi = &img->guest[img->n_guests++];

			snprintf(gi->name, sizeof(gi->name), "%s", d->name);
			dst = &gi->fd;
		}
		if (dst) {
			*dst = s->fd[i];
			s->fd[i] = -1;
		}
	}
}

static void state_init(struct fw_state *out)
{
	memset(out, 0, sizeof(*out));
	out->img.hv_fd = -1;
	out->img.blk_fd = -1;
	out->img.net_fd = -1;
}

/* Pick the slot to boot from the pointer (trial / confirm / revert, see
 * docs/firmware.md) and load it verified into s. Nothing is measured yet,
 * so a failed trial slot can fall back within this boot. */
static int pick_slot(struct tpm *t, const char *state_dir, const char *fwdir,
		     const struct fw_secret *sec, struct fw_slot *s, bool *trial,
		     bool *fell_back, char *err, size_t errlen)
{
	struct fw_pointer ptr;
	char slot;
	int rc;

	rc = fw_pointer_load(fwdir, &ptr, err, errlen);
	if (rc)
		return rc;
	slot = ptr.active;
	*trial = ptr.state == FW_SLOT_TRIAL;
	if (*trial && ptr.tries >= 1) {
		/* A trial boot started and never confirmed: go back. */
		log_warn("firmware trial slot did not confirm, reverting", "slot=%c", slot);
		goto fall_back;
	}
	if (*trial) {
		ptr.tries++;
		rc = fw_pointer_store(fwdir, &ptr);
		if (rc) {
			snprintf(err, errlen, "cannot record the trial boot: %s", fileio_strerror(rc));
			return rc;
		}
	}
	rc = load_checked(t, state_dir, fwdir, slot, sec, ptr.version, s, err, errlen);
	if (!rc || !*trial)
		return rc;
	log_warn("firmware trial slot failed verification", "slot=%c reason=\"%s\"", slot, err);
fall_back:
	slot = other(slot);
	*trial = false;
	*fell_back = true;
	rc = revert(fwdir, slot);
	if (rc) {
		snprintf(err, errlen, "cannot revert the slot pointer: %s", fileio_strerror(rc));
		return rc;
	}
	rc = fw_pointer_load(fwdir, &ptr, err, errlen);
	if (!rc)
		rc = load_checked(t, state_dir, fwdir, slot, sec, ptr.version, s, err, errlen);
	return rc;
}

/* After a good trial boot: confirm the slot, keeping its version. */
static int confirm(const char *fwdir, const struct fw_slot *s)
{
	struct fw_pointer p = { .active = s->slot, .state = FW_SLOT_CONFIRMED,
				.version = s->m.version };

	return fw_pointer_store(fwdir, &p);
}

/* A resumed boot runs the slot that was measured: the one whose golden
 * set the PCRs hold (the active one, or the confirmed one beside an update
 * staged since). It is verified again in full, but nothing is measured and
 * the slot pointer and counter are left as the fresh boot left them. */
static int resume_slot(struct tpm *t, const char *state_dir, const char *fwdir,
		       const struct fw_secret *sec, struct fw_slot *s, char *err, size_t errlen)
{
	struct fw_pointer ptr;
	char slots[2], e[160];
	int rc;

	rc = fw_pointer_load(fwdir, &ptr, err, errlen);
	if (rc)
		return rc;
	slots[0] = ptr.active;
	slots[1] = other(ptr.active);
	for (int i = 0; i < 2; i++) {
		rc = load_checked(t, state_dir, fwdir, slots[i], sec, i ? 0 : ptr.version, s, e,
				  sizeof(e));
		if (!rc) {
			rc = compare_golden(t, &s->golden, e, sizeof(e));
			if (!rc)
				return 0;
			fw_slot_release(s);
		}
		snprintf(err, errlen, "controller restart refused: slot %c: %s", slots[i], e);
	}
	return rc;
}

/* PCRs 13 and 15 are still zero until this controller measures the
 * store: anything else is a restart within a boot. */
static int boot_is_fresh(struct tpm *t, bool *fresh, char *err, size_t errlen)
{
	static const uint8_t zero[TPM_DIGEST_LEN];
	uint8_t pcrs[TPM_NUM_PCRS][TPM_DIGEST_LEN];

	if (tpm_pcr_read(t, TPM_PCR_BIT(TPM_PCR_COMPONENTS) | TPM_PCR_BIT(TPM_PCR_CONFIG), pcrs)) {
		snprintf(err, errlen, "reading PCRs: %s", tpm_error(t));
		return -EIO;
	}
	*fresh = !memcmp(pcrs[TPM_PCR_COMPONENTS], zero, sizeof(zero)) &&
		 !memcmp(pcrs[TPM_PCR_CONFIG], zero, sizeof(zero));
	return 0;
}

int fw_boot(const char *state_dir, const char *tcti, struct fw_state *out)
{
	char fwdir[PATH_MAX], err[224];
	struct fw_secret *sec = NULL;
	struct fw_slot s = { .manifest_buf = NULL };
	struct tpm *t = NULL;
	bool trial = false, fell_back = false, fresh = true;
	int rc;

	state_init(out);
	for (int i = 0; i < FW_MAX_IMAGES; i++)
		s.fd[i] = -1;
	fw_forget_store_key();
	if (fw_vendor_is_test_key())
		log_warn("firmware vendor key is the TEST key: anyone can sign firmware for this build");
	snprintf(fwdir, sizeof(fwdir), "%s/%s", state_dir, FW_DIR);
	rc = tpm_open(tcti, &t, err, sizeof(err));
	if (rc) {
		say(out, "TPM unavailable: %s", err);
		goto out;
	}
	sec = secmem_alloc(sizeof(*sec));
	if (!sec) {
		say(out, "no locked memory for the store key");
		goto out;
	}
	rc = boot_is_fresh(t, &fresh, err, sizeof(err));
	if (!rc && !fresh) {
		/* A restart in this boot: the running binary must be the one
		 * measured, and the key sealed at the end of the verified boot
		 * opens only in the state that boot reached. */
		rc = check_self(t, err, sizeof(err));
		if (!rc)
			rc = unseal_secret(t, state_dir, FW_RESUME_BLOB, sec, err, sizeof(err));
		if (!rc)
			rc = resume_slot(t, state_dir, fwdir, sec, &s, err, sizeof(err));
		if (rc) {
			say(out, "%s", err);
			goto out;
		}
		goto in_service;
	}
	/* First, before anything is measured: the key is sealed to PCR 12 =
	 * the good controller and PCRs 13/15 still zero. */
	if (!rc)
		rc = unseal_secret(t, state_dir, FW_SECRET_BLOB, sec, err, sizeof(err));
	if (!rc)
		rc = pick_slot(t, state_dir, fwdir, sec, &s, &trial, &fell_back, err, sizeof(err));
	if (rc) {
		say(out, "%s", err);
		goto out;
	}
	rc = measure(t, &s, err, sizeof(err));
	if (!rc)
		rc = compare_golden(t, &s.golden, err, sizeof(err));
	if (rc) {
		if (trial && revert(fwdir, other(s.slot)) == 0)
			say(out, "%s; reverted to slot %c for the next boot", err, other(s.slot));
		else
			say(out, "%s", err);
		goto out;
	}
	/* Confirm before advancing the counter: a crash in between leaves the
	 * new slot confirmed and the counter catches up on the next boot; the
	 * reverse order could strand the host with no slot the counter allows. */
	if (trial && (rc = confirm(fwdir, &s))) {
		say(out, "cannot confirm slot %c: %s", s.slot, fileio_strerror(rc));
		goto out;
	}
	rc = fw_counter_advance(t, sec->nv_base, s.m.counter, err, sizeof(err));
	if (rc) {
		say(out, "%s", err);
		goto out;
	}
	seal_resume_key(t, state_dir, sec);
in_service:
	take_images(&s, &out->img);
	out->in_service = true;
	out->slot = s.slot;
	out->version = s.m.version;
	say(out, "in service: slot %c, store version %llu%s%s", s.slot,
	    (unsigned long long)s.m.version, fell_back ? " (fell back from a failed update)" : "",
	    fresh ? "" : " (controller restarted in this boot, not measured again)");
	sess.secret = sec;
	sec = NULL;
	snprintf(sess.state_dir, sizeof(sess.state_dir), "%s", state_dir);
	sess.slot = s.slot;
	sess.version = s.m.version;
	for (unsigned i = 0; i < s.golden.n; i++)
		if (s.golden.pcr[i] == TPM_PCR_BOOT)
			memcpy(sess.pcr12, s.golden.value[i], FW_SHA256_LEN);
	log_info(fresh ? "firmware verified and measured" :
		 "firmware verified; measurements of this boot resumed", "slot=%c version=%llu "
		 "images=%u", s.slot, (unsigned long long)s.m.version, s.m.n_images);
out:
	if (!out->in_service)
		log_error("host out of service", "reason=\"%s\"", out->reason);
	fw_slot_release(&s);
	if (sec)
		secmem_free(sec, sizeof(*sec));
	tpm_close(t);
	return 0;
}

int fw_update_apply(const char *state_dir, const char *tcti, const char *package_path,
		    char *err, size_t errlen)
{
	char fwdir[PATH_MAX], e[224];
	uint8_t *buf = NULL, golden[512];
	size_t len, glen;
	struct fw_package *pkg = NULL;
	struct fw_golden g;
	struct fw_slot check;
	struct fw_pointer ptr;
	struct tpm *t = NULL;
	uint64_t nv;
	char target;
	int rc;

	if (!sess.secret || strcmp(sess.state_dir, state_dir)) {
		snprintf(err, errlen, "the firmware store is not open: updates are applied by "
			 "a controller that booted in service");
		return -EPERM;
	}
	snprintf(fwdir, sizeof(fwdir), "%s/%s", state_dir, FW_DIR);
	rc = fw_io_read(package_path, (size_t)1 << 30, &buf, &len);
	if (rc) {
		snprintf(err, errlen, "cannot read %s: %s", package_path, fileio_strerror(rc));
		return rc;
	}
	pkg = malloc(sizeof(*pkg));
	if (!pkg) {
		rc = -ENOMEM;
		goto out;
	}
	rc = fw_package_parse(buf, len, pkg, e, sizeof(e));
	if (rc) {
		snprintf(err, errlen, "%s", e);
		goto out;
	}
	if (fw_manifest_verify(&pkg->m, fw_vendor_pubkey())) {
		snprintf(err, errlen, "package signature does not verify with the vendor key");
		rc = -EKEYREJECTED;
		goto out;
	}
	if (pkg->m.expiry && (uint64_t)time(NULL) > pkg->m.expiry) {
		snprintf(err, errlen, "package expired");
		rc = -EKEYEXPIRED;
		goto out;
	}
	if (pkg->m.version <= sess.version) {
		snprintf(err, errlen, "package version %llu is not newer than the installed %llu",
			 (unsigned long long)pkg->m.version, (unsigned long long)sess.version);
		rc = -EPERM;
		goto out;
	}
	rc = tpm_open(tcti, &t, e, sizeof(e));
	if (rc) {
		snprintf(err, errlen, "TPM unavailable: %s", e);
		goto out;
	}
	rc = tpm_nvcounter_read(t, TPM_NV_FW_COUNTER, &nv);
	if (rc || nv < sess.secret->nv_base) {
		snprintf(err, errlen, "NV security counter unreadable: %s", tpm_error(t));
		rc = rc ? rc : -EIO;
		goto out;
	}
	if (pkg->m.counter < nv - sess.secret->nv_base) {
		snprintf(err, errlen, "package security counter %llu is below the TPM's %llu "
			 "(rollback refused)", (unsigned long long)pkg->m.counter,
			 (unsigned long long)(nv - sess.secret->nv_base));
		rc = -EPERM;
		goto out;
	}
	rc = fw_pointer_load(fwdir, &ptr, e, sizeof(e));
	if (rc || ptr.state != FW_SLOT_CONFIRMED || ptr.active != sess.slot) {
		snprintf(err, errlen, "slot pointer is not on the confirmed running slot");
		rc = rc ? rc : -EBUSY;
		goto out;
	}
	target = other(sess.slot);
	fw_golden_compute(&pkg->m, sess.pcr12, &g);
	rc = fw_golden_sign(t, state_dir, &g, golden, sizeof(golden), &glen, err, errlen);
	if (rc)
		goto out;
	rc = fw_slot_write(fwdir, target, pkg->m.body, pkg->m.total_len, pkg, sess.secret->key,
			   golden, glen, err, errlen);
	if (rc)
		goto out;
	/* Verify again from the slot, as the next boot will read it. */
	rc = fw_slot_load(fwdir, target, sess.secret->key, fw_vendor_pubkey(), &check, e,
			  sizeof(e));
	if (!rc) {
		if (CRYPTO_memcmp(check.m.digest, pkg->m.digest, FW_SHA256_LEN))
			rc = -EIO;
		if (!rc)
			rc = fw_golden_check(state_dir, &check.golden,
					     sess.secret->golden_key_id, e, sizeof(e));
		fw_slot_release(&check);
	}
	if (rc) {
		snprintf(err, errlen, "slot %c did not verify after writing: %s", target, e);
		goto out;
	}
	ptr.active = target;
	ptr.state = FW_SLOT_TRIAL;
	ptr.tries = 0;
	ptr.version = pkg->m.version;
	rc = fw_pointer_store(fwdir, &ptr);
	if (rc) {
		snprintf(err, errlen, "activating slot %c: %s", target, fileio_strerror(rc));
		goto out;
	}
	log_info("firmware update staged", "slot=%c version=%llu counter=%llu", target,
		 (unsigned long long)pkg->m.version, (unsigned long long)pkg->m.counter);
out:
	tpm_close(t);
	free(pkg);
	free(buf);
	return rc;
}

void fw_state_release(struct fw_state *s)
{
	if (s->img.hv_fd >= 0)
		close(s->img.hv_fd);
	if (s->img.blk_fd >= 0)
		close(s->img.blk_fd);
	if (s->img.net_fd >= 0)
		close(s->img.net_fd);
	for (unsigned i = 0; i < s->img.n_guests && i < FW_MAX_GUEST_IMAGES; i++)
		if (s->img.guest[i].fd >= 0)
			close(s->img.guest[i].fd);
	s->img.hv_fd = s->img.blk_fd = s->img.net_fd = -1;
	s->img.n_guests = 0;
}
