/* xts: AES-256-XTS over fixed-size data units through OpenSSL EVP.
 * ward-blk encrypts every 4096-byte volume sector with it, dm-crypt plain64
 * convention: the tweak is the sector number, little-endian, zero-padded to
 * 16 bytes (docs/blk.md, "Sector format"). */
#ifndef WARD_XTS_H
#define WARD_XTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XTS_KEY_LEN     64      /* AES-256 data key || AES-256 tweak key */
#define XTS_SECTOR_SIZE 4096u
#define XTS_SECTOR_SHIFT 12

struct xts_ctx;

/* Key the two directions. The 64 key bytes are only read; the caller keeps
 * them in secmem. Returns 0, -EINVAL when the key halves are equal (IEEE 1619
 * / FIPS 140-3 IG C.I forbid it, OpenSSL 3.0 only checks on encrypt),
 * -ENOMEM, or -EIO when OpenSSL refuses. */
int xts_create(struct xts_ctx **out, const uint8_t key[XTS_KEY_LEN]);
/* The same; XTS_EVP forces the EVP path that xts_create only falls back to
 * (for the known-answer tests and bench/blk/xts_bench). */
#define XTS_EVP 1u
int xts_create_flags(struct xts_ctx **out, const uint8_t key[XTS_KEY_LEN], unsigned int flags);
void xts_destroy(struct xts_ctx *x);

/* En/decrypt one data unit of `len` bytes (multiple of 16, at least 16) with
 * tweak `unit`. in == out is allowed. The known-answer tests use 512-byte
 * units; volumes use XTS_SECTOR_SIZE. Returns 0 or negative errno. */
int xts_crypt_unit(struct xts_ctx *x, bool encrypt, uint64_t unit,
		   const void *in, void *out, size_t len);

/* `nsectors` consecutive 4096-byte sectors starting at `first`. */
int xts_encrypt_sectors(struct xts_ctx *x, uint64_t first, const void *in,
			void *out, size_t nsectors);
int xts_decrypt_sectors(struct xts_ctx *x, uint64_t first, const void *in,
			void *out, size_t nsectors);

#endif
