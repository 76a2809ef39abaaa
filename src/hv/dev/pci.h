/* pci: ward-hv's PCI bus 0 — a host bridge at 00:00.0, up to 8 device slots,
 * and type-1 config cycles on ports 0xCF8/0xCFC. Devices (virtio_pci.c) own a
 * struct pci_dev; this module owns config-space semantics and BAR0 mapping. */
#ifndef WARD_HV_PCI_H
#define WARD_HV_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/bus.h"

struct vm;

#define PCI_CFG_SIZE      256
#define PCI_MAX_SLOTS     9          /* slot 0: host bridge, 1..8: devices */

/* Config-space offsets used outside pci.c */
#define PCI_VENDOR_ID     0x00
#define PCI_DEVICE_ID     0x02
#define PCI_COMMAND       0x04
#define PCI_STATUS        0x06
#define PCI_REVISION      0x08
#define PCI_CLASS_PROG    0x09
#define PCI_HEADER_TYPE   0x0e
#define PCI_BAR0          0x10
#define PCI_SUBSYS_VENDOR 0x2c
#define PCI_SUBSYS_ID     0x2e
#define PCI_CAP_PTR       0x34
#define PCI_INT_LINE      0x3c
#define PCI_INT_PIN       0x3d

#define PCI_CMD_MEM       0x0002
#define PCI_CMD_MASTER    0x0004
#define PCI_CMD_INTX_OFF  0x0400
#define PCI_STATUS_INTX   0x0008
#define PCI_STATUS_CAPS   0x0010

struct pci_dev {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];   /* bits a guest config write may change */
	uint8_t cap_end;               /* next free config byte for pci_add_cap */
	uint8_t cap_last;              /* offset of the last capability, 0: none */
	int slot;                      /* assigned by pci_dev_register */
	/* BAR0: a 32-bit non-prefetchable memory BAR of bar_size bytes. */
	uint32_t bar_size;
	uint64_t bar_base;             /* where the range sits on BUS_MMIO */
	bool bar_active;               /* decoding: memory enabled, sane address */
	bus_io_fn bar_fn;              /* called only while bar_active */
	void *bar_opaque;
	/* Told after BAR0 starts/stops decoding or moves (under the bus lock). */
	void (*bar_changed)(struct pci_dev *d, void *opaque);
	/* Told after a guest write into the capability area (0x40..0xff),
	 * e.g. the MSI-X message control word (under the bus lock). */
	void (*cap_written)(struct pci_dev *d, void *opaque, unsigned int reg, unsigned int len);
	/* Told before a guest read of the capability area, to refresh it. */
	void (*cap_read)(struct pci_dev *d, void *opaque, unsigned int reg, unsigned int len);
	bool irq_level;
};

/* Create the host bridge and claim the config ports. Resets all slots. */
int pci_init(struct vm *vm);
/* Release the config ports (after virtio_devices_destroy). */
void pci_destroy(struct vm *vm);

/* Fill the type-0 header (ids, class, INTA# → GSI 16+slot). */
void pci_dev_setup(struct pci_dev *d, uint16_t vendor, uint16_t device,
		   uint32_t class_code, uint8_t revision,
		   uint16_t subsys_vendor, uint16_t subsys_id);
/* Append a capability (body starts with id and a next-pointer byte, which
 * pci_add_cap fills). Returns its config offset or -ENOSPC. */
int pci_add_cap(struct pci_dev *d, const void *cap, uint8_t len);
/* Take the next free slot, pre-assign BAR0 in the PCI window as firmware
 * would, enable memory decoding and register the BAR on BUS_MMIO. */
int pci_dev_register(struct pci_dev *d);
/* Unmap BAR0 and free the slot. */
void pci_dev_unregister(struct pci_dev *d);

/* Drive the device's INTx line (honours the command register's INTx
 * disable bit and mirrors the level into the status register). */
void pci_dev_set_irq(struct pci_dev *d, bool level);

/* The GSI a slot's INTA# is wired to (the MP table advertises the same):
 * 16 + slot. The in-kernel IOAPIC has 24 pins, so slot 8 would need GSI 24;
 * devices therefore use slots 1..7. */
static inline uint32_t pci_slot_gsi(int slot) { return 16u + (uint32_t)slot; }
#define PCI_LAST_DEV_SLOT 7

#endif
