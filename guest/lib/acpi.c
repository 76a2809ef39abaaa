/* guest/lib/acpi.c: RSDP -> XSDT/RSDT -> MCFG, or -> FADT -> DSDT `_CBA`.
 * QEMU 7.2 microvm publishes no MCFG; its ECAM base is only the AML name
 * _CBA of the PCIe host bridge (a method returning a constant), so we
 * scan the DSDT byte code for it. */
#include "acpi.h"
#include "boot.h"
#include "mem.h"

struct sdt_hdr {
	char sig[4];
	uint32_t length;
	uint8_t revision, checksum;
	char oem_id[6], oem_table_id[8];
	uint32_t oem_revision, creator_id, creator_revision;
} __attribute__((packed));

struct rsdp {
	char sig[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt;
	uint32_t length;
	uint64_t xsdt;
	uint8_t ext_checksum, reserved[3];
} __attribute__((packed));

static const struct rsdp *find_rsdp(void)
{
	const struct hvm_start_info *si = boot_info();

	if (si && si->rsdp_paddr)
		return (const void *)(uintptr_t)si->rsdp_paddr;
	/* Legacy location: BIOS area, 16-byte aligned. */
	for (uint64_t a = 0xE0000; a < 0x100000; a += 16)
		if (!memcmp((const void *)(uintptr_t)a, "RSD PTR ", 8))
			return (const void *)(uintptr_t)a;
	return NULL;
}

/* Fills tabs[] with the root table's entries; returns how many. */
static int root_tables(const struct rsdp *r, const struct sdt_hdr **tabs, int max)
{
	const struct sdt_hdr *root;
	int n = 0, esz;
	const uint8_t *p;

	if (r->revision >= 2 && r->xsdt) {
		root = (const void *)(uintptr_t)r->xsdt;
		esz = 8;
	} else {
		root = (const void *)(uintptr_t)r->rsdt;
		esz = 4;
	}
	if (!root || root->length < sizeof(*root))
		return 0;
	p = (const uint8_t *)(root + 1);
	for (uint32_t off = sizeof(*root); off + esz <= root->length && n < max;
	     off += esz, p += esz) {
		uint64_t a = esz == 8 ? *(const uint64_t *)p : *(const uint32_t *)p;

		if (a)
			tabs[n++] = (const void *)(uintptr_t)a;
	}
	return n;
}

/* An AML integer constant at p (ACPI 6.4 §20.2.3); -1 if it is not one. */
static int aml_int(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
	switch (p < end ? p[0] : 0) {
	case 0x0A:			/* BytePrefix */
		if (p + 2 > end)
			return -1;
		*v = p[1];
		return 0;
	case 0x0B:			/* WordPrefix */
		if (p + 3 > end)
			return -1;
		*v = *(const uint16_t *)(p + 1);
		return 0;
	case 0x0C:			/* DWordPrefix */
		if (p + 5 > end)
			return -1;
		*v = *(const uint32_t *)(p + 1);
		return 0;
	case 0x0E:			/* QWordPrefix */
		if (p + 9 > end)
			return -1;
		*v = *(const uint64_t *)(p + 1);
		return 0;
	}
	return -1;
}

/* _CBA appears either as Name (_CBA, <int>) or, in QEMU 7.2 microvm, as
 * Method (_CBA, 0) { Return (<int>) }: NameOp '_CBA' <int>, or
 * '_CBA' <method flags> ReturnOp <int>. */
static int dsdt_cba(const struct sdt_hdr *dsdt, uint64_t *base)
{
	const uint8_t *p = (const uint8_t *)dsdt;
	const uint8_t *end = p + dsdt->length;

	for (const uint8_t *q = p + sizeof(*dsdt); q + 6 <= end; q++) {
		if (q[0] != '_' || q[1] != 'C' || q[2] != 'B' || q[3] != 'A')
			continue;
		if (q[-1] == 0x08 && !aml_int(q + 4, end, base))
			return 0;
		if (q[5] == 0xA4 && !aml_int(q + 6, end, base))
			return 0;
	}
	return -1;
}

int acpi_find_ecam(uint64_t *base)
{
	const struct rsdp *r = find_rsdp();
	const struct sdt_hdr *tabs[32], *fadt = NULL;
	int n;

	if (!r || memcmp(r->sig, "RSD PTR ", 8))
		return -1;
	n = root_tables(r, tabs, 32);
	for (int i = 0; i < n; i++) {
		if (!memcmp(tabs[i]->sig, "MCFG", 4) && tabs[i]->length >= 44 + 16) {
			/* 8 reserved bytes, then the first allocation entry. */
			*base = *(const uint64_t *)((const uint8_t *)tabs[i] + 44);
			return 0;
		}
		if (!memcmp(tabs[i]->sig, "FACP", 4))
			fadt = tabs[i];
	}
	if (fadt) {
		const uint8_t *f = (const uint8_t *)fadt;
		uint64_t dsdt = *(const uint32_t *)(f + 40);

		if (fadt->length >= 148 && *(const uint64_t *)(f + 140))
			dsdt = *(const uint64_t *)(f + 140);
		if (dsdt)
			return dsdt_cba((const void *)(uintptr_t)dsdt, base);
	}
	return -1;
}
