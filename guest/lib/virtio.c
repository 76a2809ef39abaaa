/* guest/lib/virtio.c: virtio-pci modern transport and polled split rings.
 * Capabilities (vendor cap 0x09) locate common/notify/ISR/device config in
 * the BARs (§4.1.4); the doorbell is notify cap offset + queue_notify_off *
 * notify_off_multiplier (§4.1.4.4). */
#include "virtio.h"
#include "io.h"
#include "mem.h"

#define PCI_CAP_VENDOR		0x09
#define CAP_COMMON		1
#define CAP_NOTIFY		2
#define CAP_ISR			3
#define CAP_DEVICE		4

/* struct virtio_pci_common_cfg offsets (§4.1.4.3) */
#define CC_DFSELECT		0
#define CC_DF			4
#define CC_GFSELECT		8
#define CC_GF			12
#define CC_MSIX			16
#define CC_NUMQ			18
#define CC_STATUS		20
#define CC_CFGGEN		21
#define CC_Q_SELECT		22
#define CC_Q_SIZE		24
#define CC_Q_MSIX		26
#define CC_Q_ENABLE		28
#define CC_Q_NOFF		30
#define CC_Q_DESC		32
#define CC_Q_DRIVER		40
#define CC_Q_DEVICE		48

#define VIRTIO_MSI_NO_VECTOR	0xFFFF

int virtio_pci_open(struct virtio_dev *vd, uint16_t virtio_id, int index)
{
	uint8_t cap = 0;

	memset(vd, 0, sizeof(*vd));
	if (!pci_find(VIRTIO_PCI_VENDOR, VIRTIO_PCI_MODERN_BASE + virtio_id,
		      index, &vd->pci))
		return -VIRTIO_ENODEV;
	if (pci_enable(&vd->pci))
		return -VIRTIO_ENODEV;
	while ((cap = pci_find_cap(&vd->pci, PCI_CAP_VENDOR, cap))) {
		uint8_t type = pci_read8(&vd->pci, cap + 3);
		uint8_t bar = pci_read8(&vd->pci, cap + 4);
		uint32_t off = pci_read32(&vd->pci, cap + 8);
		uint64_t a;

		if (bar > 5 || !vd->pci.bar[bar])
			continue;
		a = vd->pci.bar[bar] + off;
		/* The first capability of each type is the preferred one. */
		if (type == CAP_COMMON && !vd->common) {
			vd->common = a;
		} else if (type == CAP_NOTIFY && !vd->notify_base) {
			vd->notify_base = a;
			vd->notify_mult = pci_read32(&vd->pci, cap + 16);
		} else if (type == CAP_ISR && !vd->isr) {
			vd->isr = a;
		} else if (type == CAP_DEVICE && !vd->device_cfg) {
			vd->device_cfg = a;
		}
	}
	if (!vd->common || !vd->notify_base || !vd->isr)
		return -VIRTIO_ENODEV;
	return 0;
}

static void set_status(struct virtio_dev *vd, uint8_t bits)
{
	mmio_write8(vd->common + CC_STATUS,
		    mmio_read8(vd->common + CC_STATUS) | bits);
}

void virtio_reset(struct virtio_dev *vd)
{
	mmio_write8(vd->common + CC_STATUS, 0);
	/* §4.1.4.3.2: reset is complete when status reads back 0. */
	for (int i = 0; i < 1000000 && mmio_read8(vd->common + CC_STATUS); i++)
		cpu_relax();
}

int virtio_negotiate(struct virtio_dev *vd, uint64_t wanted, uint64_t required)
{
	uint64_t offered, accept;

	virtio_reset(vd);
	set_status(vd, VIRTIO_STATUS_ACK);
	set_status(vd, VIRTIO_STATUS_DRIVER);
	mmio_write32(vd->common + CC_DFSELECT, 0);
	offered = mmio_read32(vd->common + CC_DF);
	mmio_write32(vd->common + CC_DFSELECT, 1);
	offered |= (uint64_t)mmio_read32(vd->common + CC_DF) << 32;
	required |= VIRTIO_F_VERSION_1;
	accept = offered & (wanted | required);
	if ((accept & required) != required)
		goto fail;
	mmio_write32(vd->common + CC_GFSELECT, 0);
	mmio_write32(vd->common + CC_GF, (uint32_t)accept);
	mmio_write32(vd->common + CC_GFSELECT, 1);
	mmio_write32(vd->common + CC_GF, (uint32_t)(accept >> 32));
	set_status(vd, VIRTIO_STATUS_FEATURES_OK);
	if (!(mmio_read8(vd->common + CC_STATUS) & VIRTIO_STATUS_FEATURES_OK))
		goto fail;
	vd->features = accept;
	/* Polled driver: no configuration-change vector. */
	mmio_write16(vd->common + CC_MSIX, VIRTIO_MSI_NO_VECTOR);
	return 0;
fail:
	set_status(vd, VIRTIO_STATUS_FAILED);
	return -VIRTIO_EFEATURES;
}

static void write64(uint64_t a, uint64_t v)
{
	/* §4.1.3.1: 64-bit fields may be written as two 32-bit halves. */
	mmio_write32(a, (uint32_t)v);
	mmio_write32(a + 4, (uint32_t)(v >> 32));
}

int virtq_setup(struct virtio_dev *vd, struct virtq *q, uint16_t index, uint16_t size)
{
	uint16_t max, noff;
	size_t dsz, asz, usz;
	uint8_t *mem;

	if (index >= mmio_read16(vd->common + CC_NUMQ))
		return -VIRTIO_EQUEUE;
	mmio_write16(vd->common + CC_Q_SELECT, index);
	max = mmio_read16(vd->common + CC_Q_SIZE);
	if (!max)
		return -VIRTIO_EQUEUE;
	/* Largest power of two <= min(size, max, 1024). */
	for (uint16_t s = 1;; s *= 2) {
		if (s * 2u > size || s * 2u > max || s * 2u > 1024) {
			size = s;
			break;
		}
	}
	dsz = 16u * size;
	asz = 6 + 2u * size;
	usz = 6 + 8u * size;
	/* desc | avail, then used on its own page (§2.7 alignment 16/2/4). */
	mem = mem_alloc(((dsz + asz + 4095) & ~4095ul) + usz, 4096);
	memset(mem, 0, ((dsz + asz + 4095) & ~4095ul) + usz);
	memset(q, 0, sizeof(*q));
	q->index = index;
	q->size = size;
	q->desc = (void *)mem;
	q->avail = (void *)(mem + dsz);
	q->used = (void *)(mem + ((dsz + asz + 4095) & ~4095ul));
	for (uint16_t i = 0; i < size; i++)
		q->desc[i].next = i + 1;
	q->num_free = size;
	/* We poll the used ring; interrupts would only cost the host. */
	q->avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;

	mmio_write16(vd->common + CC_Q_SIZE, size);
	mmio_write16(vd->common + CC_Q_MSIX, VIRTIO_MSI_NO_VECTOR);
	write64(vd->common + CC_Q_DESC, (uintptr_t)q->desc);
	write64(vd->common + CC_Q_DRIVER, (uintptr_t)q->avail);
	write64(vd->common + CC_Q_DEVICE, (uintptr_t)q->used);
	noff = mmio_read16(vd->common + CC_Q_NOFF);
	q->notify = vd->notify_base + (uint64_t)noff * vd->notify_mult;
	mmio_write16(vd->common + CC_Q_ENABLE, 1);
	return 0;
}

void virtio_driver_ok(struct virtio_dev *vd)
{
	set_status(vd, VIRTIO_STATUS_DRIVER_OK);
}

/* Device config reads, retried while config_generation changes (§4.1.4.3). */
#define CFG_READ(bits)							\
uint##bits##_t virtio_cfg_read##bits(struct virtio_dev *vd, uint32_t off) \
{									\
	uint8_t gen;							\
	uint##bits##_t v;						\
	do {								\
		gen = mmio_read8(vd->common + CC_CFGGEN);		\
		v = mmio_read##bits(vd->device_cfg + off);		\
	} while (gen != mmio_read8(vd->common + CC_CFGGEN));		\
	return v;							\
}
CFG_READ(8)
CFG_READ(16)
CFG_READ(32)

uint64_t virtio_cfg_read64(struct virtio_dev *vd, uint32_t off)
{
	uint8_t gen;
	uint64_t v;

	do {
		gen = mmio_read8(vd->common + CC_CFGGEN);
		v = mmio_read32(vd->device_cfg + off);
		v |= (uint64_t)mmio_read32(vd->device_cfg + off + 4) << 32;
	} while (gen != mmio_read8(vd->common + CC_CFGGEN));
	return v;
}

int virtq_add(struct virtq *q, const struct virtq_buf *bufs, int n)
{
	uint16_t head = q->free_head, d = head, last = head;

	if (n <= 0 || n > q->num_free)
		return -1;
	for (int i = 0; i < n; i++) {
		q->desc[d].addr = (uintptr_t)bufs[i].addr;
		q->desc[d].len = bufs[i].len;
		q->desc[d].flags = (bufs[i].write ? VIRTQ_DESC_F_WRITE : 0) |
				   (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0);
		last = d;
		d = q->desc[d].next;
	}
	q->free_head = q->desc[last].next;
	q->num_free -= n;
	q->chain_len[head] = n;
	q->avail->ring[q->avail_idx % q->size] = head;
	/* Descriptors and ring slot before the index (§2.7.13); x86 keeps
	 * stores in order, the compiler must too. */
	barrier();
	q->avail->idx = ++q->avail_idx;
	return head;
}

void virtq_kick(struct virtq *q)
{
	/* Our avail->idx store must be visible before we read used->flags. */
	mb();
	if (q->used->flags & VIRTQ_USED_F_NO_NOTIFY)
		return;
	mmio_write16(q->notify, q->index);
	q->kicks++;
}

int virtq_get(struct virtq *q, uint32_t *len)
{
	uint16_t head, d;

	if (q->used->idx == q->last_used)
		return -1;
	barrier();
	head = (uint16_t)q->used->ring[q->last_used % q->size].id;
	if (len)
		*len = q->used->ring[q->last_used % q->size].len;
	q->last_used++;
	if (head >= q->size)
		return -1;
	/* Return the chain to the free list. */
	d = head;
	for (uint16_t i = 1; i < q->chain_len[head]; i++)
		d = q->desc[d].next;
	q->desc[d].next = q->free_head;
	q->free_head = head;
	q->num_free += q->chain_len[head];
	return head;
}
