/* pci: PCI bus 0 of ward-hv — host bridge 00:00.0, device slots, type-1
 * config cycles (0xCF8 address, 0xCFC..0xCFF data) and BAR0 placement.
 * Config space is guest-writable only through each device's write mask. */
#include "hv/dev/pci.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "hv/mem.h"
#include "hv/vm.h"
#include "errmsg.h"
#include "log.h"

#define PCI_CONFIG_ADDR   0xcf8
#define PCI_CONFIG_DATA   0xcfc
#define PCI_CAP_START     0x40

static struct {
	struct vm *vm;
	uint32_t addr;                      /* last value written to 0xCF8 */
	struct pci_dev *slots[PCI_MAX_SLOTS];
	struct pci_dev bridge;
} pci;

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }

void pci_dev_setup(struct pci_dev *d, uint16_t vendor, uint16_t device,
		   uint32_t class_code, uint8_t revision,
		   uint16_t subsys_vendor, uint16_t subsys_id)
{
	memset(d->cfg, 0, sizeof(d->cfg));
	memset(d->wmask, 0, sizeof(d->wmask));
	put16(d->cfg + PCI_VENDOR_ID, vendor);
	put16(d->cfg + PCI_DEVICE_ID, device);
	d->cfg[PCI_REVISION] = revision;
	d->cfg[PCI_CLASS_PROG] = (uint8_t)class_code;
	d->cfg[PCI_CLASS_PROG + 1] = (uint8_t)(class_code >> 8);
	d->cfg[PCI_CLASS_PROG + 2] = (uint8_t)(class_code >> 16);
	put16(d->cfg + PCI_SUBSYS_VENDOR, subsys_vendor);
	put16(d->cfg + PCI_SUBSYS_ID, subsys_id);
	/* Memory space, bus master and INTx disable are the command bits
	 * that mean something here; I/O space stays 0 (no I/O BARs). */
	put16(d->wmask + PCI_COMMAND, PCI_CMD_MEM | PCI_CMD_MASTER | PCI_CMD_INTX_OFF);
	d->wmask[0x0c] = 0xff;              /* cache line size */
	d->wmask[PCI_INT_LINE] = 0xff;      /* scratch for the OS */
	d->cap_end = PCI_CAP_START;
	d->cap_last = 0;
}

int pci_add_cap(struct pci_dev *d, const void *cap, uint8_t len)
{
	uint8_t off = d->cap_end;

	if (len < 2 || off + len > PCI_CFG_SIZE)
		return -ENOSPC;
	memcpy(d->cfg + off, cap, len);
	d->cfg[off + 1] = 0;
	if (d->cap_last)
		d->cfg[d->cap_last + 1] = off;
	else
		d->cfg[PCI_CAP_PTR] = off;
	d->cfg[PCI_STATUS] |= PCI_STATUS_CAPS;
	d->cap_last = off;
	/* capabilities are dword aligned (PCI 3.0 §6.7) */
	d->cap_end = (uint8_t)((off + len + 3) & ~3);
	return off;
}

/* A BAR address ward-hv will decode: inside the MMIO hole above guest RAM
 * and below the IOAPIC/LAPIC pages. Anything else (the all-ones sizing
 * pattern, 0, an address over RAM) leaves the BAR registered but inert. */
static bool bar_addr_ok(const struct pci_dev *d, uint64_t addr)
{
	uint64_t low = pci.vm ? pci.vm->mem.low : 0;

	return addr >= low && addr >= 0x100000 &&
	       addr + d->bar_size <= MEM_IOAPIC_BASE;
}

static void bar_update(struct pci_dev *d)
{
	uint64_t addr = get32(d->cfg + PCI_BAR0) & ~0xfu;
	bool want = (get16(d->cfg + PCI_COMMAND) & PCI_CMD_MEM) && bar_addr_ok(d, addr);
	bool moved = false;
	int rc;

	if (!d->bar_size)
		return;
	if (want && addr != d->bar_base) {
		rc = bus_move(BUS_MMIO, d, d->bar_base, addr);
		if (rc < 0) {
			/* guest-triggered: debug level, so it cannot flood the log */
			log_debug("guest placed a BAR over another device; BAR not decoded",
				  "slot=%d addr=0x%llx errno=%s", d->slot,
				  (unsigned long long)addr, errname(rc));
			want = false;
		} else {
			d->bar_base = addr;
			moved = true;
		}
	}
	if (want == d->bar_active && !moved)
		return;
	d->bar_active = want;
	log_debug("pci bar0", "slot=%d base=0x%llx decoding=%d", d->slot,
		  (unsigned long long)d->bar_base, want);
	if (d->bar_changed)
		d->bar_changed(d, d->bar_opaque);
}

/* Every BAR0 access comes here first, so an inert BAR reads all-ones and
 * drops writes without the device model having to know. */
static void bar_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_dev *d = opaque;

	if (!d->bar_active || off + len > d->bar_size)
		return;
	d->bar_fn(d->bar_opaque, off, data, len, is_write);
}

/* The interrupt thread and config writes (vCPU threads) both get here. */
static pthread_mutex_t irq_lock = PTHREAD_MUTEX_INITIALIZER;

/* level < 0: keep the pending state, re-evaluate the INTx disable bit */
static void irq_update(struct pci_dev *d, int level)
{
	bool pending, assert_line;

	pthread_mutex_lock(&irq_lock);
	if (level >= 0) {
		if (level)
			d->cfg[PCI_STATUS] |= PCI_STATUS_INTX;
		else
			d->cfg[PCI_STATUS] &= (uint8_t)~PCI_STATUS_INTX;
	}
	pending = d->cfg[PCI_STATUS] & PCI_STATUS_INTX;
	assert_line = pending && !(get16(d->cfg + PCI_COMMAND) & PCI_CMD_INTX_OFF);
	if (assert_line != d->irq_level) {
		d->irq_level = assert_line;
		if (pci.vm)
			vm_irq_line(pci.vm, pci_slot_gsi(d->slot), assert_line);
	}
	pthread_mutex_unlock(&irq_lock);
}

void pci_dev_set_irq(struct pci_dev *d, bool level)
{
	irq_update(d, level);
}

static void cfg_write(struct pci_dev *d, unsigned int reg, const uint8_t *data, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++) {
		uint8_t m = d->wmask[reg + i];

		d->cfg[reg + i] = (uint8_t)((d->cfg[reg + i] & ~m) | (data[i] & m));
	}
	if (reg < PCI_COMMAND + 2 && reg + len > PCI_COMMAND) {
		/* INTx disable may have changed: re-evaluate the line */
		irq_update(d, -1);
		bar_update(d);
	} else if (reg < PCI_BAR0 + 4 && reg + len > PCI_BAR0) {
		bar_update(d);
	} else if (reg >= PCI_CAP_START && d->cap_written) {
		d->cap_written(d, d->bar_opaque, reg, len);
	}
}

static struct pci_dev *cfg_target(uint32_t addr)
{
	unsigned int bus = (addr >> 16) & 0xff, dev = (addr >> 11) & 0x1f, fn = (addr >> 8) & 7;

	if (!(addr & 0x80000000u) || bus || fn || dev >= PCI_MAX_SLOTS)
		return NULL;
	return pci.slots[dev];
}

static void cfg_addr_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	/* Only whole-dword accesses are config-address cycles; byte accesses
	 * (0xCF9 reset control, 0xCFB type-2 probing) are not ours. */
	if (off != 0 || len != 4)
		return;
	if (is_write)
		pci.addr = get32(data) & 0x80fffffcu;
	else
		put32(data, pci.addr);
}

static void cfg_data_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_dev *d = cfg_target(pci.addr);
	unsigned int reg = (pci.addr & 0xfc) + (unsigned int)off;

	if (!d || off + len > 4 || reg + len > PCI_CFG_SIZE)
		return;                 /* reads stay all-ones: no device */
	if (is_write) {
		cfg_write(d, reg, data, len);
		return;
	}
	if (reg >= PCI_CAP_START && d->cap_read)
		d->cap_read(d, d->bar_opaque, reg, len);
	memcpy(data, d->cfg + reg, len);
}

int pci_init(struct vm *vm)
{
	int rc;

	memset(&pci, 0, sizeof(pci));
	pci.vm = vm;
	/* Intel 82G33 DRAM controller, as QEMU's q35 shows it: guests (Linux's
	 * pci_sanity_check) accept type-1 config when bus 0 has a host bridge. */
	pci_dev_setup(&pci.bridge, 0x8086, 0x29c0, 0x060000, 0, 0x1af4, 0x1100);
	pci.bridge.slot = 0;
	pci.slots[0] = &pci.bridge;

	rc = bus_register(BUS_PIO, PCI_CONFIG_ADDR, 4, cfg_addr_io, &pci.addr);
	if (rc < 0)
		goto err;
	rc = bus_register(BUS_PIO, PCI_CONFIG_DATA, 4, cfg_data_io, &pci.slots);
	if (rc < 0)
		goto err_addr;
	return 0;
err_addr:
	bus_unregister(BUS_PIO, &pci.addr, PCI_CONFIG_ADDR);
err:
	log_error("cannot claim PCI config ports 0xCF8-0xCFF", "errno=%s", errname(rc));
	return rc;
}

void pci_destroy(struct vm *vm)
{
	if (pci.vm != vm)
		return;
	bus_unregister(BUS_PIO, &pci.slots, PCI_CONFIG_DATA);
	bus_unregister(BUS_PIO, &pci.addr, PCI_CONFIG_ADDR);
	memset(&pci, 0, sizeof(pci));
}

int pci_dev_register(struct pci_dev *d)
{
	int slot, rc;

	for (slot = 1; slot <= PCI_LAST_DEV_SLOT; slot++)
		if (!pci.slots[slot])
			break;
	if (slot > PCI_LAST_DEV_SLOT)
		return -ENOSPC;
	d->slot = slot;
	d->cfg[PCI_INT_LINE] = (uint8_t)pci_slot_gsi(slot);
	d->cfg[PCI_INT_PIN] = 1;        /* INTA# */
	d->irq_level = false;
	d->bar_active = false;
	if (d->bar_size) {
		/* BAR sizing: the mask makes an all-ones write read back as
		 * ~(size - 1) with type bits 0 (32-bit, non-prefetchable). */
		put32(d->wmask + PCI_BAR0, ~(d->bar_size - 1) & ~0xfu);
		/* Pre-assign like firmware: one naturally aligned window per
		 * slot. Slots are ≤ 7 and BARs ≤ 16 MiB, so this stays within
		 * MEM_PCI_MMIO_SIZE. */
		d->bar_base = MEM_PCI_MMIO_BASE + (uint64_t)(slot - 1) * 0x1000000;
		put32(d->cfg + PCI_BAR0, (uint32_t)d->bar_base);
		rc = bus_register(BUS_MMIO, d->bar_base, d->bar_size, bar_io, d);
		if (rc < 0)
			return rc;
		d->cfg[PCI_COMMAND] |= PCI_CMD_MEM;
	}
	pci.slots[slot] = d;
	bar_update(d);
	return 0;
}

void pci_dev_unregister(struct pci_dev *d)
{
	if (d->slot < 1 || d->slot >= PCI_MAX_SLOTS || pci.slots[d->slot] != d)
		return;
	pci_dev_set_irq(d, false);
	if (d->bar_size)
		bus_unregister(BUS_MMIO, d, d->bar_base);
	d->bar_active = false;
	pci.slots[d->slot] = NULL;
}
