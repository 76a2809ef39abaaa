/* guest/lib/pci.h: PCI configuration access (0xCF8/0xCFC when a host
 * bridge answers there, as under ward-hv; ECAM found through ACPI
 * otherwise, as under QEMU microvm), bus-0 enumeration and BAR setup. */
#ifndef GUEST_PCI_H
#define GUEST_PCI_H

#include <stdbool.h>
#include <stdint.h>

struct pci_dev {
	uint8_t bus, dev, fn;
	uint16_t vendor, device;
	uint64_t bar[6];		/* memory BAR addresses after pci_enable */
	uint64_t bar_size[6];
};

enum pci_access { PCI_NONE, PCI_TYPE1, PCI_ECAM };

/* Picks the access method; returns it (PCI_NONE: no PCI at all). */
enum pci_access pci_init(void);

uint32_t pci_read32(const struct pci_dev *d, uint16_t off);
uint16_t pci_read16(const struct pci_dev *d, uint16_t off);
uint8_t pci_read8(const struct pci_dev *d, uint16_t off);
void pci_write32(const struct pci_dev *d, uint16_t off, uint32_t v);
void pci_write16(const struct pci_dev *d, uint16_t off, uint16_t v);
void pci_write8(const struct pci_dev *d, uint16_t off, uint8_t v);

/* For diagnostics: "type1", "ecam@0x..." or "none". */
const char *pci_describe(void);

/* The index-th (0-based) device on bus 0 with this vendor:device. */
bool pci_find(uint16_t vendor, uint16_t device, int index, struct pci_dev *out);

/* Sizes the memory BARs, assigns the ones still at 0 from the platform
 * window (non-zero BARs are kept: ward-hv pre-assigns them), then turns on
 * memory space and bus mastering. 0, or -1 if the window is exhausted. */
int pci_enable(struct pci_dev *d);

/* First capability with this id at or after config offset `from`
 * (0 = start of the list); returns its offset or 0. */
uint8_t pci_find_cap(const struct pci_dev *d, uint8_t id, uint8_t from);

#endif
