/* eif: the Enclave Image File format of AWS Nitro Enclaves (nitro-cli's
 * `build-enclave` output; aws-nitro-enclaves-image-format, src/defs): a
 * strict parser of untrusted images, a writer, and the PCR0/1/2/8
 * measurements nitro-cli prints. Layout and sources: docs/enclaves.md. */
#ifndef WARD_EIF_H
#define WARD_EIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EIF_HDR_LEN 548		/* magic..crc32, big-endian */
#define EIF_CRC_OFF 544		/* the crc32 is the header's last field */
#define EIF_SECT_HDR_LEN 12	/* type u16, flags u16, size u64 */
#define EIF_MAX_SECTIONS 32
#define EIF_VERSION 4		/* v4 added the metadata section */
#define EIF_FLAG_ARM64 0x1u
#define EIF_PCR_LEN 48		/* SHA-384 */
/* nitro-cli's defaults for images it builds (EifBuilder::new). */
#define EIF_DEFAULT_MEM (1024ull * 1024 * 1024)
#define EIF_DEFAULT_CPUS 2

enum eif_section_type {
	EIF_SECT_KERNEL = 1,
	EIF_SECT_CMDLINE = 2,
	EIF_SECT_RAMDISK = 3,
	EIF_SECT_SIGNATURE = 4,
	EIF_SECT_METADATA = 5,
};

struct eif_section {
	uint16_t type;
	uint64_t offset;	/* of its 12-byte section header in the file */
	const uint8_t *data;	/* into the parsed buffer */
	uint64_t size;
};

/* A validated view of an image held in memory by the caller. */
struct eif_image {
	uint16_t version, flags;
	uint64_t default_mem, default_cpus;
	uint32_t crc;
	unsigned nsections;
	struct eif_section sect[EIF_MAX_SECTIONS];
};

struct eif_pcrs {
	uint8_t pcr0[EIF_PCR_LEN], pcr1[EIF_PCR_LEN], pcr2[EIF_PCR_LEN], pcr8[EIF_PCR_LEN];
	bool has_pcr8;		/* signed image */
};

/* Reject anything that is not exactly a well-formed v4 image: magic,
 * version, flags, reserved fields, section table (count, offsets and sizes
 * matching each section header, sections contiguous and covering the file
 * to its last byte), section kinds (one kernel, one cmdline without NUL,
 * at least one ramdisk, at most one signature and one metadata), CRC32. */
int eif_parse(const uint8_t *buf, size_t len, struct eif_image *img, char *err, size_t errlen);

/* PCR0/1/2 of a parsed image; for a signed image also PCR8, after checking
 * the signature section: its COSE_Sign1 must verify with the key of its
 * certificate and sign {register_index: 0, register_value: PCR0}. */
int eif_measure(const struct eif_image *img, struct eif_pcrs *pcrs, char *err, size_t errlen);

struct eif_build_in {
	const uint8_t *kernel;
	size_t kernel_len;
	const char *cmdline;
	unsigned nramdisks;
	const uint8_t *const *ramdisk;
	const size_t *ramdisk_len;
	const uint8_t *metadata;	/* JSON, not measured */
	size_t metadata_len;
	/* Optional signing: the PEM certificate as the user gave it (it is
	 * stored as is, as nitro-cli does) and its P-384 private key. */
	const uint8_t *cert_pem;
	size_t cert_pem_len;
	const uint8_t *key_pem;
	size_t key_pem_len;
	uint16_t flags;
	uint64_t default_mem, default_cpus;
};

/* Lay out an image as nitro-cli does (kernel, cmdline, metadata, ramdisks,
 * signature), measure it and sign PCR0; *out is malloc'd. */
int eif_build(const struct eif_build_in *in, uint8_t **out, size_t *out_len,
	      struct eif_pcrs *pcrs, char *err, size_t errlen);

/* CRC-32/ISO-HDLC (the zlib/IEEE CRC the format uses), chainable from 0. */
uint32_t eif_crc32(uint32_t crc, const uint8_t *p, size_t n);

#endif
