/* fw_store: the firmware store on disk — A/B slots of AES-256-GCM
 * encrypted images with their signed manifest and golden set, the slot
 * pointer, and the write path (every write/fsync/rename goes through one
 * place, where test builds can cut the power). docs/firmware.md. */
#ifndef WARD_FW_STORE_H
#define WARD_FW_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "fw_format.h"

/* Layout under <state_dir>/fw (FW_DIR). */
#define FW_DIR		"fw"
#define FW_POINTER	"pointer"
#define FW_SECRET_BLOB	"boot-secret.blob"
#define FW_MANIFEST	"manifest"
#define FW_GOLDEN	"golden"

/* Durable writes. Each step (open+write, fsync, rename, unlink, mkdir,
 * directory fsync) is one "write operation" for the power-cut hook:
 * WARD_FW_FAIL_AFTER_WRITES=N (test builds only) makes the N-th operation
 * of the process stop half-way and _exit(99). */
int fw_io_write(const char *path, const void *buf, size_t len);	/* atomic too */
int fw_io_replace(const char *path, const void *buf, size_t len);	/* atomic */
int fw_io_fsync_dir(const char *dir);
int fw_io_mkdir(const char *path);
int fw_io_unlink(const char *path);
/* Read a whole regular file (no symlinks), at most max bytes. */
int fw_io_read(const char *path, size_t max, uint8_t **buf, size_t *len);

int fw_pointer_load(const char *fwdir, struct fw_pointer *p, char *err, size_t errlen);
int fw_pointer_store(const char *fwdir, const struct fw_pointer *p);

/* Write pkg into slot ('A'/'B') of fwdir: images encrypted with key
 * (AAD = name, slot, store version), then golden, then the manifest last
 * (a slot without a manifest is empty). Any previous content goes first. */
int fw_slot_write(const char *fwdir, char slot, const uint8_t *manifest,
		  size_t manifest_len, const struct fw_package *pkg,
		  const uint8_t *key, const uint8_t *golden, size_t golden_len,
		  char *err, size_t errlen);

/* A slot read back and verified: manifest (signature checked against
 * vendor_pub), every image decrypted into a sealed memfd whose content
 * hashes to the manifest entry, and the golden set parsed (its signature is
 * the caller's to check). */
struct fw_slot {
	char slot;
	uint8_t *manifest_buf;
	struct fw_manifest m;
	struct fw_golden golden;
	int fd[FW_MAX_IMAGES];
};
int fw_slot_load(const char *fwdir, char slot, const uint8_t *key,
		 const uint8_t *vendor_pub, struct fw_slot *s, char *err, size_t errlen);
void fw_slot_release(struct fw_slot *s);

/* SHA-256 of a file's/fd's whole content. */
int fw_sha256_fd(int fd, uint8_t out[FW_SHA256_LEN]);

#endif
