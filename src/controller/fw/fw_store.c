/* fw_store: slots, encryption at rest and the durable write path of the
 * firmware store. Images are AES-256-GCM under the TPM-sealed store key
 * with (name, slot, version) as AAD, so a ciphertext cannot be moved to
 * another name, slot or store version. Loading decrypts straight into a
 * memfd, seals it, and hashes the sealed bytes: what was verified is
 * exactly what a later fexecve runs, and no path is opened again. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "fileio.h"
#include "fw_store.h"
#include "log.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

#define GCM_NONCE	12
#define GCM_TAG		16
static const char image_aad_domain[] = "ward firmware image v1";

#ifdef WARD_TEST_HOOKS
/* Power-cut simulation (MCUboot sim style): the N-th write operation stops
 * half-way and the process dies, as if the machine lost power there. */
static long fault_at = -1;
static long fault_ops;
static int fault_inited;

static void fault_point(const char *what, const char *path, int fd,
			const void *buf, size_t len)
{
	if (!fault_inited) {
		const char *e = getenv("WARD_FW_FAIL_AFTER_WRITES");

		fault_at = e && *e ? strtol(e, NULL, 10) : -1;
		fault_inited = 1;
	}
	if (fault_at <= 0 || ++fault_ops != fault_at)
		return;
	if (fd >= 0 && buf && len > 1) {
		ssize_t r = write(fd, buf, len / 2);	/* a torn write */
		(void)r;
	}
	fprintf(stderr, "fw: test hook: power cut at write operation %ld (%s %s)\n",
		fault_ops, what, path);
	_exit(99);
}
#else
static inline void fault_point(const char *what, const char *path, int fd,
			       const void *buf, size_t len) {}
#endif

/* Every file goes through fileio (regular files only, opened without
 * blocking; atomic replace with directory fsync); its steps are this
 * store's write operations for the power-cut hook. */
static void fault_arm(void)
{
#ifdef WARD_TEST_HOOKS
	fileio_set_test_hook(fault_point);
#endif
}

/* Written as a replace: an image or manifest is never seen half-written,
 * and a power cut leaves at most a temporary file, which clear_slot and
 * fw_pointer_store sweep. */
int fw_io_write(const char *path, const void *buf, size_t len)
{
	fault_arm();
	return fileio_replace(path, buf, len, 0600);
}

int fw_io_fsync_dir(const char *dir)
{
	fault_point("fsync-dir", dir, -1, NULL, 0);
	return fileio_fsync_dir(dir);
}

/* Temporary file, fsync, rename over path, fsync of the directory: after
 * a crash the file is the old or the new, never a mix. */
int fw_io_replace(const char *path, const void *buf, size_t len)
{
	fault_arm();
	return fileio_replace(path, buf, len, 0600);
}

int fw_io_mkdir(const char *path)
{
	fault_point("mkdir", path, -1, NULL, 0);
	if (mkdir(path, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

int fw_io_unlink(const char *path)
{
	fault_point("unlink", path, -1, NULL, 0);
	if (unlink(path) && errno != ENOENT)
		return -errno;
	return 0;
}

/* A FIFO, device or symlink in place of the pointer, a manifest or an
 * image is refused at once (fileio looks before it opens, and opens
 * O_NONBLOCK): the store goes out of service naming the file instead of
 * hanging the boot. */
int fw_io_read(const char *path, size_t max, uint8_t **buf, size_t *len)
{
	return fileio_read(path, max, 0, buf, len);
}

int fw_pointer_load(const char *fwdir, struct fw_pointer *p, char *err, size_t errlen)
{
	char path[PATH_MAX];
	uint8_t *buf;
	size_t len;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", fwdir, FW_POINTER);
	rc = fw_io_read(path, 4096, &buf, &len);
	if (rc) {
		snprintf(err, errlen, "slot pointer %s: %s", path, fileio_strerror(rc));
		return rc;
	}
	rc = fw_pointer_parse(buf, len, p, err, errlen);
	free(buf);
	return rc;
}

int fw_pointer_store(const char *fwdir, const struct fw_pointer *p)
{
	char path[PATH_MAX];
	uint8_t b[FW_POINTER_LEN];

	snprintf(path, sizeof(path), "%s/%s", fwdir, FW_POINTER);
	fw_pointer_encode(p, b);
	fileio_sweep(fwdir);	/* a pointer write cut short */
	return fw_io_replace(path, b, sizeof(b));
}

static size_t image_aad(uint8_t *aad, size_t cap, const char *name, char slot,
			uint64_t version)
{
	size_t n = 0, nl = strlen(name);

	if (cap < sizeof(image_aad_domain) + 1 + 8 + nl)
		return 0;
	memcpy(aad, image_aad_domain, sizeof(image_aad_domain));
	n = sizeof(image_aad_domain);
	aad[n++] = (uint8_t)slot;
	for (int i = 0; i < 8; i++)
		aad[n++] = (uint8_t)(version >> (8 * i));
	memcpy(aad + n, name, nl);
	return n + nl;
}

static int gcm(bool enc, const uint8_t *key, const uint8_t *nonce,
	       const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len,
	       uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n, ok;

	if (!c)
		return -ENOMEM;
	ok = EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, GCM_NONCE, NULL) &&
	     EVP_CipherInit_ex(c, NULL, NULL, key, nonce, enc) &&
	     EVP_CipherUpdate(c, NULL, &n, aad, (int)aad_len);
	/* Images are <= FW_IMAGE_MAX (256 MiB), within int. */
	ok = ok && EVP_CipherUpdate(c, out, &n, in, (int)len);
	if (ok && !enc)
		ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, GCM_TAG, tag);
	ok = ok && EVP_CipherFinal_ex(c, out + n, &n);
	if (ok && enc)
		ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, GCM_TAG, tag);
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -EBADMSG;
}

static int clear_slot(const char *sdir)
{
	char path[PATH_MAX + 512];
	struct dirent *e;
	DIR *d;
	int rc;

	rc = fw_io_mkdir(sdir);
	if (rc)
		return rc;
	fileio_sweep(sdir);	/* temporary files of a write cut short */
	/* The manifest goes first: from here on the slot reads as empty. */
	snprintf(path, sizeof(path), "%s/%s", sdir, FW_MANIFEST);
	rc = fw_io_unlink(path);
	if (rc)
		return rc;
	d = opendir(sdir);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", sdir, e->d_name);
		rc = fw_io_unlink(path);
		if (rc)
			break;
	}
	closedir(d);
	return rc ? rc : fw_io_fsync_dir(sdir);
}

int fw_slot_write(const char *fwdir, char slot, const uint8_t *manifest,
		  size_t manifest_len, const struct fw_package *pkg,
		  const uint8_t *key, const uint8_t *golden, size_t golden_len,
		  char *err, size_t errlen)
{
	char sdir[PATH_MAX], path[PATH_MAX + 64];
	uint8_t aad[128], *buf = NULL;
	size_t aad_len;
	int rc;

	snprintf(sdir, sizeof(sdir), "%s/slot-%c", fwdir, slot);
	rc = clear_slot(sdir);
	if (rc) {
		snprintf(err, errlen, "cannot clear slot %c: %s", slot, fileio_strerror(rc));
		return rc;
	}
	for (unsigned i = 0; i < pkg->m.n_images; i++) {
		const struct fw_image_desc *d = &pkg->m.img[i];
		size_t n = GCM_NONCE + d->size + GCM_TAG;

		buf = malloc(n);
		if (!buf)
			return -ENOMEM;
		aad_len = image_aad(aad, sizeof(aad), d->name, slot, pkg->m.version);
		if (RAND_bytes(buf, GCM_NONCE) != 1 ||
		    gcm(true, key, buf, aad, aad_len, pkg->image[i], d->size,
			buf + GCM_NONCE, buf + GCM_NONCE + d->size)) {
			snprintf(err, errlen, "encrypting %s failed", d->name);
			rc = -EIO;
			goto out;
		}
		snprintf(path, sizeof(path), "%s/%s.img", sdir, d->name);
		rc = fw_io_write(path, buf, n);
		if (rc) {
			snprintf(err, errlen, "writing %s: %s", path, fileio_strerror(rc));
			goto out;
		}
		free(buf);
		buf = NULL;
	}
	snprintf(path, sizeof(path), "%s/%s", sdir, FW_GOLDEN);
	rc = fw_io_write(path, golden, golden_len);
	if (!rc) {
		snprintf(path, sizeof(path), "%s/%s", sdir, FW_MANIFEST);
		rc = fw_io_write(path, manifest, manifest_len);
	}
	if (!rc)
		rc = fw_io_fsync_dir(sdir);
	if (rc)
		snprintf(err, errlen, "writing slot %c: %s", slot, fileio_strerror(rc));
out:
	free(buf);
	return rc;
}

int fw_sha256_fd(int fd, uint8_t out[FW_SHA256_LEN])
{
	struct stat st;
	void *p = NULL;
	int rc = 0;

	if (fstat(fd, &st))
		return -errno;
	if (st.st_size) {
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED)
			return -errno;
	}
	if (!EVP_Digest(p ? p : "", (size_t)st.st_size, out, NULL, EVP_sha256(), NULL))
		rc = -EIO;
	if (p)
		munmap(p, (size_t)st.st_size);
	return rc;
}

static int make_memfd(const char *name)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);

	if (fd < 0 && errno == EINVAL)	/* kernels before 6.3 lack MFD_EXEC */
		fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	return fd < 0 ? -errno : fd;
}

/* Decrypt one image into a sealed memfd and check the sealed bytes. */
static int load_image(const char *sdir, char slot, const struct fw_manifest *m,
		      unsigned i, const uint8_t *key, int *out, char *err, size_t errlen)
{
	const struct fw_image_desc *d = &m->img[i];
	char path[PATH_MAX + 64];
	uint8_t aad[128], h[FW_SHA256_LEN], *ct = NULL;
	size_t ct_len, aad_len;
	void *map = MAP_FAILED;
	int fd = -1, rc;

	snprintf(path, sizeof(path), "%s/%s.img", sdir, d->name);
	rc = fw_io_read(path, FW_IMAGE_MAX + GCM_NONCE + GCM_TAG, &ct, &ct_len);
	if (rc) {
		snprintf(err, errlen, "image %s in slot %c (%s): %s", d->name, slot, path,
			 fileio_strerror(rc));
		return rc;
	}
	if (ct_len != GCM_NONCE + d->size + GCM_TAG) {
		snprintf(err, errlen, "image %s in slot %c: size differs from the manifest",
			 d->name, slot);
		rc = -EBADMSG;
		goto out;
	}
	fd = make_memfd(d->name);
	if (fd < 0 || ftruncate(fd, (off_t)d->size)) {
		rc = fd < 0 ? fd : -errno;
		snprintf(err, errlen, "memfd for %s: %s", d->name, strerror(-rc));
		goto out;
	}
	map = mmap(NULL, d->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		rc = -errno;
		goto out;
	}
	aad_len = image_aad(aad, sizeof(aad), d->name, slot, m->version);
	rc = gcm(false, key, ct, aad, aad_len, ct + GCM_NONCE, d->size, map,
		 ct + GCM_NONCE + d->size);
	munmap(map, d->size);
	if (rc) {
		snprintf(err, errlen, "image %s in slot %c failed authentication "
			 "(modified at rest, or another store's key)", d->name, slot);
		goto out;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		rc = -errno;
		snprintf(err, errlen, "sealing memfd of %s: %s", d->name, strerror(errno));
		goto out;
	}
	rc = fw_sha256_fd(fd, h);
	if (rc || CRYPTO_memcmp(h, d->sha256, FW_SHA256_LEN)) {
		snprintf(err, errlen, "image %s in slot %c does not match its manifest hash",
			 d->name, slot);
		rc = -EBADMSG;
		goto out;
	}
	*out = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	free(ct);
	return rc;
}

int fw_slot_load(const char *fwdir, char slot, const uint8_t *key,
		 const uint8_t *vendor_pub, struct fw_slot *s, char *err, size_t errlen)
{
	char sdir[PATH_MAX], path[PATH_MAX + 16], why[160];
	uint8_t *gbuf = NULL;
	size_t len, glen;
	int rc;

	memset(s, 0, sizeof(*s));
	s->slot = slot;
	for (int i = 0; i < FW_MAX_IMAGES; i++)
		s->fd[i] = -1;
	snprintf(sdir, sizeof(sdir), "%s/slot-%c", fwdir, slot);
	snprintf(path, sizeof(path), "%s/%s", sdir, FW_MANIFEST);
	rc = fw_io_read(path, 1u << 20, &s->manifest_buf, &len);
	if (rc) {
		snprintf(err, errlen, "slot %c has no readable manifest (%s): %s", slot, path,
			 fileio_strerror(rc));
		goto fail;
	}
	rc = fw_manifest_parse(s->manifest_buf, len, &s->m, why, sizeof(why));
	if (rc) {
		snprintf(err, errlen, "slot %c: %s", slot, why);
		goto fail;
	}
	rc = fw_manifest_verify(&s->m, vendor_pub);
	if (rc) {
		snprintf(err, errlen, "slot %c: manifest signature does not verify with "
			 "the vendor key", slot);
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/%s", sdir, FW_GOLDEN);
	rc = fw_io_read(path, 4096, &gbuf, &glen);
	if (rc) {
		snprintf(err, errlen, "slot %c golden set (%s): %s", slot, path,
			 fileio_strerror(rc));
		goto fail;
	}
	rc = fw_golden_parse(gbuf, glen, &s->golden, why, sizeof(why));
	free(gbuf);
	if (rc) {
		snprintf(err, errlen, "slot %c golden set: %s", slot, why);
		goto fail;
	}
	for (unsigned i = 0; i < s->m.n_images; i++) {
		rc = load_image(sdir, slot, &s->m, i, key, &s->fd[i], err, errlen);
		if (rc)
			goto fail;
	}
	return 0;
fail:
	fw_slot_release(s);
	return rc ? rc : -EBADMSG;
}

void fw_slot_release(struct fw_slot *s)
{
	for (int i = 0; i < FW_MAX_IMAGES; i++) {
		if (s->fd[i] >= 0)
			close(s->fd[i]);
		s->fd[i] = -1;
	}
	free(s->manifest_buf);
	s->manifest_buf = NULL;
}
