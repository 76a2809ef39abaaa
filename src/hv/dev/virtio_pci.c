/* virtio_pci: the modern virtio-pci transport (virtio 1.2 §4.1.4) of
 * ward-hv's vhost-user devices. The guest is hostile: every register write
 * is range-checked, and a bad ring makes that one device report
 * DEVICE_NEEDS_RESET; nothing here may crash the VM. */
#include "hv/dev/virtio_pci.h"

#include <errno.h>
#include <linux/kvm.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hv/dev/msi.h"
#include "hv/dev/pci.h"
#include "hv/dev/vhost_front.h"
#include "hv/mem.h"
#include "hv/vm.h"
#include "errmsg.h"
#include "log.h"
#include "vhost_user.h"

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLK 2

/* BAR0 map: one 4 KiB page per structure, so a guest mapping one cannot
 * touch another, and the notify page is all ioeventfds. */
#define VP_BAR_SIZE     0x8000
#define VP_COMMON_OFF   0x0000
#define VP_COMMON_LEN   0x38
#define VP_ISR_OFF      0x1000
#define VP_DEVCFG_OFF   0x2000
#define VP_NOTIFY_OFF   0x3000
#define VP_NOTIFY_MULT  4
#define VP_MSIX_TABLE   0x4000
#define VP_MSIX_PBA     0x5000
#define VP_MAX_VECTORS  (VP_MAX_QUEUES + 1)
#define VP_MAX_QUEUES   8
#define VP_QUEUE_MAX    256
#define VP_NO_VECTOR    0xffff
#define VP_MAX_WARNINGS 8

#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG    3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG    5

#define VS_ACKNOWLEDGE  0x01
#define VS_DRIVER       0x02
#define VS_DRIVER_OK    0x04
#define VS_FEATURES_OK  0x08
#define VS_NEEDS_RESET  0x40
#define VS_FAILED       0x80

#define VP_ISR_QUEUE    0x1
#define VP_ISR_CONFIG   0x2

#define BIT(n) (1ull << (n))
/* Transport features ward-hv implements: the split ring with indirect
 * descriptors and event index, in-order, VERSION_1. Not offered: packed
 * ring (the ring-size checks assume split), ACCESS_PLATFORM (no IOMMU),
 * NOTIFICATION_DATA, LOG_ALL, and never VHOST_USER_F_PROTOCOL_FEATURES. */
#define VP_TRANSPORT_FEATURES (BIT(VIRTIO_F_RING_INDIRECT_DESC) | \
			       BIT(VIRTIO_F_RING_EVENT_IDX) | \
			       BIT(VIRTIO_F_VERSION_1) | BIT(35) /* IN_ORDER */)

struct vp_model {
	const char *kind;
	uint16_t virtio_id;
	uint32_t class_code;
	uint32_t config_len;
	bool config_required;
	uint64_t dev_features;       /* device bits (0..23) ward-hv passes on */
};

struct vp_queue {
	uint16_t size;
	bool enable;
	uint64_t desc, driver, device;
	bool started;
	int kick, call;
	bool ioeventfd;              /* kick registered with KVM at ioev_addr */
	uint64_t ioev_addr;
	uint16_t vector;             /* MSI-X vector, VP_NO_VECTOR: none */
	int irqfd_gsi;               /* call bound to this GSI by KVM_IRQFD, or -1 */
};

struct vp_msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;   /* ctrl bit 0: masked */
};

struct vp_dev {
	struct pci_dev pci;
	struct vm *vm;
	const struct vp_model *model;
	char name[48];
	struct vhf vhf;
	uint64_t host_features;      /* offered to the guest */
	uint64_t guest_features;
	uint32_t dfsel, gfsel;
	uint8_t status;
	uint8_t isr;
	uint16_t qsel, nq;
	struct vp_queue q[VP_MAX_QUEUES];
	uint8_t config[VU_MAX_CONFIG_SIZE];
	uint32_t config_len;
	/* MSI-X: one vector per queue plus one for config changes */
	int msix_cap;                /* config offsets of the MSI-X and */
	int cfg_cap;                 /* the PCI_CFG capability */
	uint16_t nvec, config_vector;
	unsigned int warnings;       /* guest-triggered log lines so far */
	struct vp_msix_entry msix[VP_MAX_VECTORS];
	int gsi[VP_MAX_VECTORS];     /* KVM MSI route of each vector, or -1 */
	uint64_t pba;
};

/* One lock for all devices: taken by MMIO handlers (already under the bus
 * lock) and by the interrupt thread, which never takes the bus lock. */
static struct {
	pthread_mutex_t lock;
	struct vp_dev *devs[PCI_MAX_SLOTS];
	int wake;                    /* eventfd: poll set changed, or quit */
	unsigned int gen;
	bool quit, thread_running;
	pthread_t thread;
	int ioev_len;                /* 0: any length (KVM cap), else 2 */
	bool ioev_warned;
} vp = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = -1, .ioev_len = -1 };

static void wake_thread(void)
{
	vp.gen++;
	if (vp.wake >= 0)
		eventfd_write(vp.wake, 1);
}

static bool msix_on(const struct vp_dev *d)
{
	return d->pci.cfg[d->msix_cap + 3] & 0x80;
}

static bool vec_masked(const struct vp_dev *d, unsigned int v)
{
	return (d->pci.cfg[d->msix_cap + 3] & 0x40) || (d->msix[v].ctrl & 1);
}

static uint64_t vec_addr(const struct vp_dev *d, unsigned int v)
{
	return (uint64_t)d->msix[v].addr_hi << 32 | d->msix[v].addr_lo;
}

/* Send an interrupt: to an MSI-X vector when MSI-X is on (held in the PBA
 * while masked; none for NO_VECTOR), else INTx with the ISR bit (§4.1.5.3). */
static void raise_isr(struct vp_dev *d, uint16_t vector, uint8_t bits)
{
	d->isr |= bits;
	if (!msix_on(d)) {
		pci_dev_set_irq(&d->pci, true);
		return;
	}
	if (vector >= d->nvec)
		return;
	if (vec_masked(d, vector))
		d->pba |= 1ull << vector;
	else
		msi_signal(d->vm, vec_addr(d, vector), d->msix[vector].data);
}

static void irqfd_set(struct vp_dev *d, struct vp_queue *q, int gsi)
{
	struct kvm_irqfd fd = { .fd = (uint32_t)q->call };

	if (gsi == q->irqfd_gsi)
		return;
	if (q->irqfd_gsi >= 0) {
		fd.gsi = (uint32_t)q->irqfd_gsi;
		fd.flags = KVM_IRQFD_FLAG_DEASSIGN;
		ioctl(d->vm->vm_fd, KVM_IRQFD, &fd);
		q->irqfd_gsi = -1;
	}
	if (gsi >= 0) {
		fd.gsi = (uint32_t)gsi;
		fd.flags = 0;
		if (ioctl(d->vm->vm_fd, KVM_IRQFD, &fd) == 0)
			q->irqfd_gsi = gsi;
	}
}

/* Bring KVM in line with the MSI-X state: routes of unmasked vectors,
 * a queue's call eventfd bound to its vector with KVM_IRQFD (so the
 * backend interrupts the guest without ward-hv), pending bits delivered on
 * unmask. Queues without an irqfd are served by the interrupt thread. */
static void vp_irq_refresh(struct vp_dev *d)
{
	bool on = msix_on(d);
	bool route_ok[VP_MAX_VECTORS] = { false };

	for (unsigned int v = 0; v < d->nvec; v++) {
		if (!on || vec_masked(d, v) || d->gsi[v] < 0)
			continue;
		route_ok[v] = msi_route_set(d->vm, (uint32_t)d->gsi[v], vec_addr(d, v),
					    d->msix[v].data) == 0;
		if (d->pba & (1ull << v)) {
			d->pba &= ~(1ull << v);
			msi_signal(d->vm, vec_addr(d, v), d->msix[v].data);
		}
	}
	for (unsigned int i = 0; i < d->nq; i++) {
		struct vp_queue *q = &d->q[i];
		int want = -1;

		if (!q->started)
			continue;
		if (on && q->vector < d->nvec && route_ok[q->vector])
			want = d->gsi[q->vector];
		irqfd_set(d, q, want);
	}
	if (on)
		pci_dev_set_irq(&d->pci, false);   /* no INTx while MSI-X is on */
	wake_thread();
}

/* The device cannot go on: tell the driver (§2.1.1) and keep the VM. */
static void vp_fail(struct vp_dev *d, const char *why)
{
	if (d->status & VS_NEEDS_RESET)
		return;
	/* A guest can fail its device in a loop: the host log must not be
	 * its megaphone, so only the first few failures are logged. */
	if (d->warnings < VP_MAX_WARNINGS)
		log_warn("virtio device needs reset", "slot=%d dev=%s reason=\"%s\"%s",
			 d->pci.slot, d->model->kind, why,
			 ++d->warnings == VP_MAX_WARNINGS ? " more=not_logged" : "");
	d->status |= VS_NEEDS_RESET;
	if (d->status & VS_DRIVER_OK)
		raise_isr(d, d->config_vector, VP_ISR_CONFIG);
}

/* ---- kicks: KVM ioeventfd on the queue's notify address ---- */

static void ioev_set(struct vp_dev *d, unsigned int qi, bool on)
{
	struct vp_queue *q = &d->q[qi];
	struct kvm_ioeventfd io = { 0 };

	if (on == q->ioeventfd)
		return;
	if (vp.ioev_len < 0)
		vp.ioev_len = ioctl(d->vm->vm_fd, KVM_CHECK_EXTENSION,
				    KVM_CAP_IOEVENTFD_ANY_LENGTH) > 0 ? 0 : 2;
	io.addr = on ? d->pci.bar_base + VP_NOTIFY_OFF + qi * VP_NOTIFY_MULT : q->ioev_addr;
	io.len = (uint32_t)vp.ioev_len;
	io.fd = q->kick;
	io.flags = on ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN;
	if (ioctl(d->vm->vm_fd, KVM_IOEVENTFD, &io) < 0) {
		/* Still correct: notify writes then exit to vp_notify(),
		 * which signals the same eventfd, only slower. */
		if (on && !vp.ioev_warned)
			log_warn("KVM_IOEVENTFD failed; kicks go through userspace",
				 "errno=%s", errname(errno));
		vp.ioev_warned = true;
		return;
	}
	q->ioeventfd = on;
	q->ioev_addr = io.addr;
}

static void vp_bar_changed(struct pci_dev *pd, void *opaque)
{
	struct vp_dev *d = opaque;

	pthread_mutex_lock(&vp.lock);
	for (unsigned int i = 0; i < d->nq; i++) {
		if (!d->q[i].started)
			continue;
		ioev_set(d, i, false);
		if (pd->bar_active)
			ioev_set(d, i, true);
	}
	pthread_mutex_unlock(&vp.lock);
}

/* ---- rings ---- */

static void queue_stop(struct vp_dev *d, unsigned int qi)
{
	struct vp_queue *q = &d->q[qi];
	char err[256];
	uint32_t base;

	if (!q->started)
		return;
	irqfd_set(d, q, -1);
	ioev_set(d, qi, false);
	if (!d->vhf.broken && vhf_vring_stop(&d->vhf, qi, &base, err, sizeof(err)) < 0)
		log_warn("cannot stop vring", "slot=%d queue=%u error=\"%s\"", d->pci.slot, qi, err);
	close(q->kick);
	close(q->call);
	q->kick = q->call = -1;
	q->started = false;
	wake_thread();
}

static void queue_start(struct vp_dev *d, unsigned int qi)
{
	struct vp_queue *q = &d->q[qi];
	const struct guest_mem *mem = &d->vm->mem;
	struct vhf_vring r = { .index = qi, .num = q->size, .kick = -1, .call = -1 };
	void *desc, *avail, *used;
	char err[256];
	uint64_t n = q->size;

	if (q->started || !q->enable)
		return;
	if (!n || (n & (n - 1)) || n > VP_QUEUE_MAX) {
		snprintf(err, sizeof(err), "queue %u: size %u is not a power of two <= %d",
			 qi, q->size, VP_QUEUE_MAX);
		goto fail;
	}
	/* Split-ring areas (§2.7), with the event-index words included;
	 * the alignments are the spec's, and the backend relies on them. */
	desc = (q->desc & 15) ? NULL : mem_gpa(mem, q->desc, 16 * n);
	avail = (q->driver & 1) ? NULL : mem_gpa(mem, q->driver, 6 + 2 * n);
	used = (q->device & 3) ? NULL : mem_gpa(mem, q->device, 6 + 8 * n);
	if (!desc || !avail || !used) {
		snprintf(err, sizeof(err), "queue %u: ring at desc 0x%llx avail 0x%llx used 0x%llx "
			 "is misaligned or outside guest RAM", qi, (unsigned long long)q->desc,
			 (unsigned long long)q->driver, (unsigned long long)q->device);
		goto fail;
	}
	r.desc = (uint64_t)(uintptr_t)desc;
	r.avail = (uint64_t)(uintptr_t)avail;
	r.used = (uint64_t)(uintptr_t)used;
	r.kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r.call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r.kick < 0 || r.call < 0) {
		snprintf(err, sizeof(err), "queue %u: eventfd: %s", qi, strerror(errno));
		goto fail_fds;
	}
	if (vhf_vring_start(&d->vhf, &r, err, sizeof(err)) < 0)
		goto fail_fds;
	q->kick = r.kick;
	q->call = r.call;
	q->started = true;
	if (d->pci.bar_active)
		ioev_set(d, qi, true);
	vp_irq_refresh(d);
	log_debug("vring started", "slot=%d queue=%u size=%u", d->pci.slot, qi, q->size);
	return;
fail_fds:
	if (r.kick >= 0)
		close(r.kick);
	if (r.call >= 0)
		close(r.call);
fail:
	vp_fail(d, err);
}

static void queue_init(struct vp_queue *q)
{
	*q = (struct vp_queue){ .size = VP_QUEUE_MAX, .kick = -1, .call = -1,
				.vector = VP_NO_VECTOR, .irqfd_gsi = -1 };
}

/* ---- device status (§2.1, §3.1) ---- */

static void vp_reset(struct vp_dev *d)
{
	for (unsigned int i = 0; i < d->nq; i++) {
		queue_stop(d, i);
		queue_init(&d->q[i]);
	}
	d->config_vector = VP_NO_VECTOR;
	d->status = 0;
	d->guest_features = 0;
	d->dfsel = d->gfsel = 0;
	d->qsel = 0;
	d->isr = 0;
	pci_dev_set_irq(&d->pci, false);
	/* the MSI-X table and PBA are PCI state: a virtio reset keeps them */
}

static bool features_ok(struct vp_dev *d)
{
	char err[256];

	if (d->guest_features & ~d->host_features) {
		log_debug("driver accepted features the device did not offer",
			  "slot=%d extra=0x%llx", d->pci.slot,
			  (unsigned long long)(d->guest_features & ~d->host_features));
		return false;
	}
	if (!(d->guest_features & BIT(VIRTIO_F_VERSION_1))) {
		log_debug("driver did not accept VIRTIO_F_VERSION_1", "slot=%d", d->pci.slot);
		return false;
	}
	if (vhf_set_features(&d->vhf, d->guest_features, err, sizeof(err)) < 0) {
		vp_fail(d, err);
		return false;
	}
	return true;
}

static void write_status(struct vp_dev *d, uint8_t v)
{
	uint8_t old = d->status;

	if (v == 0) {
		vp_reset(d);
		return;
	}
	v &= (uint8_t)~VS_NEEDS_RESET;     /* device-owned bit */
	if ((v & VS_FEATURES_OK) && !(old & VS_FEATURES_OK) &&
	    ((old & VS_NEEDS_RESET) || !features_ok(d)))
		v &= (uint8_t)~VS_FEATURES_OK;  /* §3.1.1: driver re-reads it */
	d->status = v | (d->status & VS_NEEDS_RESET);
	if (!(v & VS_DRIVER_OK) || (old & VS_DRIVER_OK) || (d->status & VS_NEEDS_RESET))
		return;
	if (!(d->status & VS_FEATURES_OK)) {
		vp_fail(d, "DRIVER_OK without FEATURES_OK");
		return;
	}
	for (unsigned int i = 0; i < d->nq && !(d->status & VS_NEEDS_RESET); i++)
		queue_start(d, i);
}

/* ---- common configuration structure (§4.1.4.3) ---- */

enum cc_field {
	CC_DFSELECT, CC_DF, CC_GFSELECT, CC_GF, CC_MSIX, CC_NUMQ, CC_STATUS,
	CC_CFGGEN, CC_QSELECT, CC_QSIZE, CC_QMSIX, CC_QENABLE, CC_QNOTIFY,
	CC_QDESC, CC_QDRIVER, CC_QDEVICE, CC_NFIELDS,
};

static const struct { uint8_t off, size; } cc_layout[CC_NFIELDS] = {
	[CC_DFSELECT] = { 0x00, 4 }, [CC_DF] = { 0x04, 4 },
	[CC_GFSELECT] = { 0x08, 4 }, [CC_GF] = { 0x0c, 4 },
	[CC_MSIX] = { 0x10, 2 }, [CC_NUMQ] = { 0x12, 2 },
	[CC_STATUS] = { 0x14, 1 }, [CC_CFGGEN] = { 0x15, 1 },
	[CC_QSELECT] = { 0x16, 2 }, [CC_QSIZE] = { 0x18, 2 },
	[CC_QMSIX] = { 0x1a, 2 }, [CC_QENABLE] = { 0x1c, 2 },
	[CC_QNOTIFY] = { 0x1e, 2 }, [CC_QDESC] = { 0x20, 8 },
	[CC_QDRIVER] = { 0x28, 8 }, [CC_QDEVICE] = { 0x30, 8 },
};

static struct vp_queue *cur_queue(struct vp_dev *d)
{
	return d->qsel < d->nq ? &d->q[d->qsel] : NULL;
}

static uint64_t cc_get(struct vp_dev *d, enum cc_field f)
{
	struct vp_queue *q = cur_queue(d);

	switch (f) {
	case CC_DFSELECT: return d->dfsel;
	case CC_DF: return d->dfsel < 2 ? (uint32_t)(d->host_features >> (32 * d->dfsel)) : 0;
	case CC_GFSELECT: return d->gfsel;
	case CC_GF: return d->gfsel < 2 ? (uint32_t)(d->guest_features >> (32 * d->gfsel)) : 0;
	case CC_MSIX: return d->config_vector;
	case CC_QMSIX: return q ? q->vector : VP_NO_VECTOR;
	case CC_NUMQ: return d->nq;
	case CC_STATUS: return d->status;
	case CC_CFGGEN: return 0;    /* the config never changes after start */
	case CC_QSELECT: return d->qsel;
	case CC_QSIZE: return q ? q->size : 0;
	case CC_QENABLE: return q ? q->enable : 0;
	case CC_QNOTIFY: return q ? d->qsel : 0;
	case CC_QDESC: return q ? q->desc : 0;
	case CC_QDRIVER: return q ? q->driver : 0;
	case CC_QDEVICE: return q ? q->device : 0;
	default: return 0;
	}
}

/* A 64-bit ring address may be written in two 32-bit halves. */
static void set_part(uint64_t *reg, uint64_t v, unsigned int shift, unsigned int len)
{
	uint64_t mask = (len == 8 ? ~0ull : ((1ull << (len * 8)) - 1)) << shift;

	*reg = (*reg & ~mask) | ((v << shift) & mask);
}

static void cc_set(struct vp_dev *d, enum cc_field f, uint64_t v, unsigned int shift, unsigned int len)
{
	struct vp_queue *q = cur_queue(d);
	/* queue fields are frozen once the queue is enabled (§4.1.4.3.2) */
	bool q_writable = q && !q->enable;

	switch (f) {
	case CC_DFSELECT: d->dfsel = (uint32_t)v; break;
	case CC_GFSELECT: d->gfsel = (uint32_t)v; break;
	case CC_GF:
		if (d->gfsel < 2 && !(d->status & VS_FEATURES_OK))
			set_part(&d->guest_features, v, 32 * d->gfsel, 4);
		break;
	case CC_STATUS: write_status(d, (uint8_t)v); break;
	case CC_QSELECT: d->qsel = (uint16_t)v; break;
	case CC_MSIX:
		/* an unknown vector reads back as NO_VECTOR (§4.1.4.3.1) */
		d->config_vector = v < d->nvec ? (uint16_t)v : VP_NO_VECTOR;
		break;
	case CC_QMSIX:
		if (q) {
			q->vector = v < d->nvec ? (uint16_t)v : VP_NO_VECTOR;
			vp_irq_refresh(d);
		}
		break;
	case CC_QSIZE:
		if (q_writable && v && !(v & (v - 1)) && v <= VP_QUEUE_MAX)
			q->size = (uint16_t)v;
		else
			log_debug("queue_size write ignored", "slot=%d queue=%u value=%llu",
				  d->pci.slot, d->qsel, (unsigned long long)v);
		break;
	case CC_QENABLE:
		/* 0 is not a valid write (§4.1.4.3.2); 1 after DRIVER_OK
		 * starts the queue at once. */
		if (q_writable && v == 1) {
			q->enable = true;
			if ((d->status & VS_DRIVER_OK) && !(d->status & VS_NEEDS_RESET))
				queue_start(d, d->qsel);
		}
		break;
	case CC_QDESC: if (q_writable) set_part(&q->desc, v, shift, len); break;
	case CC_QDRIVER: if (q_writable) set_part(&q->driver, v, shift, len); break;
	case CC_QDEVICE: if (q_writable) set_part(&q->device, v, shift, len); break;
	default: break;              /* read-only */
	}
}

/* Accesses must be of a field's own width, or a 32-bit half of a 64-bit
 * field; anything else reads as 0 and writes nothing. */
static void common_io(struct vp_dev *d, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	for (int f = 0; f < CC_NFIELDS; f++) {
		unsigned int fo = cc_layout[f].off, fs = cc_layout[f].size;
		unsigned int shift = (unsigned int)(off - fo) * 8;
		uint64_t v = 0;

		if (off < fo || off + len > fo + fs)
			continue;
		if (len != fs && !(fs == 8 && len == 4 && (off - fo) % 4 == 0))
			break;
		if (is_write) {
			memcpy(&v, data, len);
			cc_set(d, f, v, shift, len);
		} else {
			v = cc_get(d, f) >> shift;
			memcpy(data, &v, len);
		}
		return;
	}
	if (!is_write)
		memset(data, 0, len);
}

static void notify_io(struct vp_dev *d, uint64_t off, bool is_write)
{
	uint64_t qi = off / VP_NOTIFY_MULT;

	/* Reached only when KVM did not take the write as an ioeventfd. */
	if (is_write && qi < d->nq && d->q[qi].started)
		eventfd_write(d->q[qi].kick, 1);
}

/* MSI-X table: dword or qword accesses to whole fields (PCI 3.0 §6.8.2). */
static void msix_table_io(struct vp_dev *d, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	uint32_t *w = (uint32_t *)d->msix;

	if ((len != 4 && len != 8) || off % len || off + len > d->nvec * 16u) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	if (!is_write) {
		memcpy(data, w + off / 4, len);
		return;
	}
	for (uint32_t i = 0; i < len / 4; i++) {
		uint64_t f = off / 4 + i;
		uint32_t v;

		memcpy(&v, data + 4 * i, 4);
		w[f] = f % 4 == 3 ? (v & 1) : v;   /* vector control: mask bit only */
	}
	vp_irq_refresh(d);
}

static void msix_pba_io(struct vp_dev *d, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	uint64_t v = off < 8 ? d->pba >> (off * 8) : 0;

	if (!is_write)
		memcpy(data, &v, len);        /* read-only */
}

static void vp_bar_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write);

static bool overlaps(unsigned int reg, unsigned int len, unsigned int at, unsigned int n)
{
	return reg < at + n && at < reg + len;
}

/* VIRTIO_PCI_CAP_PCI_CFG (§4.1.4.9): a window into BAR0 through config
 * space, for drivers that cannot map the BAR. The access is done when the
 * driver touches pci_cfg_data, with the bar/offset/length it wrote, and
 * only if they describe an aligned 1-, 2- or 4-byte access inside BAR0. */
static void cfg_window(struct vp_dev *d, bool is_write)
{
	uint8_t *c = d->pci.cfg + d->cfg_cap;
	uint32_t off, len;

	memcpy(&off, c + 8, 4);
	memcpy(&len, c + 12, 4);
	if (c[4] != 0 || (len != 1 && len != 2 && len != 4) || off % len ||
	    off >= VP_BAR_SIZE || off + len > VP_BAR_SIZE)
		return;
	vp_bar_io(d, off, c + 16, len, is_write);
}

static void vp_cap_written(struct pci_dev *pd, void *opaque, unsigned int reg, unsigned int len)
{
	struct vp_dev *d = opaque;

	if (overlaps(reg, len, (unsigned int)d->msix_cap + 3, 1)) {
		pthread_mutex_lock(&vp.lock);
		vp_irq_refresh(d);
		pthread_mutex_unlock(&vp.lock);
	}
	if (overlaps(reg, len, (unsigned int)d->cfg_cap + 16, 4))
		cfg_window(d, true);
}

static void vp_cap_read(struct pci_dev *pd, void *opaque, unsigned int reg, unsigned int len)
{
	struct vp_dev *d = opaque;

	if (overlaps(reg, len, (unsigned int)d->cfg_cap + 16, 4))
		cfg_window(d, false);
}

static void vp_bar_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct vp_dev *d = opaque;

	pthread_mutex_lock(&vp.lock);
	if (off >= VP_MSIX_PBA) {
		msix_pba_io(d, off - VP_MSIX_PBA, data, len, is_write);
		goto out;
	}
	if (off >= VP_MSIX_TABLE) {
		msix_table_io(d, off - VP_MSIX_TABLE, data, len, is_write);
		goto out;
	}
	if (off < VP_ISR_OFF) {
		common_io(d, off - VP_COMMON_OFF, data, len, is_write);
	} else if (off < VP_DEVCFG_OFF) {
		memset(data, 0, len);
		if (!is_write && off == VP_ISR_OFF) {
			/* reading ISR acknowledges and deasserts INTx */
			data[0] = d->isr;
			d->isr = 0;
			pci_dev_set_irq(&d->pci, false);
		}
	} else if (off < VP_NOTIFY_OFF) {
		uint64_t o = off - VP_DEVCFG_OFF;

		/* read-only: ward-hv offers no writable config fields */
		if (!is_write) {
			memset(data, 0, len);
			if (o < d->config_len)
				memcpy(data, d->config + o,
				       o + len <= d->config_len ? len : d->config_len - o);
		}
	} else {
		notify_io(d, off - VP_NOTIFY_OFF, is_write);
		if (!is_write)
			memset(data, 0, len);
	}
out:
	pthread_mutex_unlock(&vp.lock);
}

/* ---- interrupts: INTx, raised when a backend signals a call eventfd ---- */

#define VP_MAX_POLL (1 + PCI_MAX_SLOTS * (1 + VP_MAX_QUEUES))

static void backend_gone(struct vp_dev *d)
{
	d->vhf.broken = true;
	log_error("vhost-user backend disconnected; device is broken, VM keeps running",
		  "slot=%d dev=%s", d->pci.slot, d->model->kind);
	vp_fail(d, "vhost-user backend disconnected");
	wake_thread();
}

static void *vp_thread(void *arg)
{
	struct pollfd pfd[VP_MAX_POLL];
	struct { struct vp_dev *d; int q; } who[VP_MAX_POLL];

	for (;;) {
		unsigned int gen;
		nfds_t n = 0;

		pthread_mutex_lock(&vp.lock);
		if (vp.quit) {
			pthread_mutex_unlock(&vp.lock);
			break;
		}
		gen = vp.gen;
		pfd[n++] = (struct pollfd){ .fd = vp.wake, .events = POLLIN };
		for (int s = 0; s < PCI_MAX_SLOTS; s++) {
			struct vp_dev *d = vp.devs[s];

			if (!d || d->vhf.broken)
				continue;
			who[n].d = d;
			who[n].q = -1;
			pfd[n++] = (struct pollfd){ .fd = d->vhf.sock, .events = POLLRDHUP };
			for (int i = 0; i < d->nq; i++) {
				if (!d->q[i].started || d->q[i].irqfd_gsi >= 0)
					continue;
				who[n].d = d;
				who[n].q = i;
				pfd[n++] = (struct pollfd){ .fd = d->q[i].call, .events = POLLIN };
			}
		}
		pthread_mutex_unlock(&vp.lock);

		if (poll(pfd, n, -1) < 0)
			continue;            /* EINTR */

		pthread_mutex_lock(&vp.lock);
		if (pfd[0].revents) {
			eventfd_t v;

			eventfd_read(vp.wake, &v);
		}
		/* fds may have been closed and reused since the poll began */
		for (nfds_t i = 1; gen == vp.gen && i < n; i++) {
			struct vp_dev *d = who[i].d;
			eventfd_t v;

			if (!pfd[i].revents)
				continue;
			if (who[i].q < 0)
				backend_gone(d);
			else if (eventfd_read(pfd[i].fd, &v) == 0)
				raise_isr(d, d->q[who[i].q].vector, VP_ISR_QUEUE);
		}
		pthread_mutex_unlock(&vp.lock);
	}
	return NULL;
}

static int thread_start(void)
{
	int rc;

	if (vp.thread_running)
		return 0;
	vp.wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vp.wake < 0)
		return -errno;
	vp.quit = false;
	rc = pthread_create(&vp.thread, NULL, vp_thread, NULL);
	if (rc) {
		close(vp.wake);
		vp.wake = -1;
		return -rc;
	}
	vp.thread_running = true;
	return 0;
}

/* ---- devices ---- */

struct virtio_pci_cap {
	uint8_t cap_vndr, cap_next, cap_len, cfg_type, bar, id, padding[2];
	uint32_t offset, length;
	uint32_t notify_off_multiplier;   /* only in the NOTIFY capability */
} __attribute__((packed));

static int add_vcap(struct pci_dev *pd, uint8_t type, uint32_t off, uint32_t len)
{
	struct virtio_pci_cap c = {
		.cap_vndr = 0x09, .cfg_type = type, .bar = 0,
		.offset = off, .length = len,
		.notify_off_multiplier = VP_NOTIFY_MULT,
	};

	c.cap_len = type == VIRTIO_PCI_CAP_NOTIFY_CFG ? 20 : 16;
	return pci_add_cap(pd, &c, c.cap_len);
}

/* MSI-X capability (PCI 3.0 §6.8.2): table and PBA in BAR0. */
static int add_msix_cap(struct vp_dev *d)
{
	uint8_t cap[12] = { 0x11, 0 };
	uint32_t table = VP_MSIX_TABLE, pba = VP_MSIX_PBA;   /* BIR 0 */
	int off;

	d->nvec = (uint16_t)(d->nq + 1);
	cap[2] = (uint8_t)(d->nvec - 1);                    /* table size - 1 */
	memcpy(cap + 4, &table, 4);
	memcpy(cap + 8, &pba, 4);
	off = pci_add_cap(&d->pci, cap, sizeof(cap));
	if (off < 0)
		return off;
	d->msix_cap = off;
	d->pci.wmask[off + 3] = 0xc0;                       /* enable, function mask */
	return 0;
}

static int add_cfg_cap(struct vp_dev *d)
{
	uint8_t cap[20] = { 0x09, 0, sizeof(cap), VIRTIO_PCI_CAP_PCI_CFG };
	int off = pci_add_cap(&d->pci, cap, sizeof(cap));

	if (off < 0)
		return off;
	d->cfg_cap = off;
	/* bar, offset, length and pci_cfg_data are the driver's to write */
	d->pci.wmask[off + 4] = 0xff;
	memset(d->pci.wmask + off + 8, 0xff, 12);
	return 0;
}

static uint16_t blk_queues(struct vp_dev *d)
{
	/* virtio_blk_config.num_queues (offset 34) with VIRTIO_BLK_F_MQ */
	uint32_t n = d->config[34] | d->config[35] << 8;
	uint32_t max = d->vhf.max_queues && d->vhf.max_queues < VP_MAX_QUEUES ?
		       d->vhf.max_queues : VP_MAX_QUEUES;

	if (!(d->host_features & BIT(12)))
		return 1;
	if (n == 0 || n > max)
		n = max;
	d->config[34] = (uint8_t)n;
	d->config[35] = (uint8_t)(n >> 8);
	return (uint16_t)n;
}

static const struct vp_model vp_blk = {
	.kind = "blk", .virtio_id = VIRTIO_ID_BLK, .class_code = 0x018000,
	.config_len = 60, .config_required = true,
	/* all blk bits but CONFIG_WCE (11): the config is read-only here */
	.dev_features = 0xffffffull & ~BIT(11),
};

static const struct vp_model vp_net = {
	.kind = "net", .virtio_id = VIRTIO_ID_NET, .class_code = 0x020000,
	.config_len = 12, .config_required = false,
	/* no control virtqueue and what depends on it: rx/tx queues only */
	.dev_features = 0xffffffull & ~(BIT(2) | BIT(17) | BIT(18) | BIT(19) |
					BIT(21) | BIT(22) | BIT(23)),
};

static int vp_add(struct vm *vm, int sock, const struct vp_model *m, char *err, size_t errlen)
{
	uint64_t dev_mask = m->dev_features;
	struct vp_dev *d;
	int rc;

	d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, errlen, "virtio-%s: out of memory", m->kind);
		return -ENOMEM;
	}
	d->vm = vm;
	d->model = m;
	snprintf(d->name, sizeof(d->name), "vhost-user %s backend", m->kind);
	rc = vhf_handshake(&d->vhf, sock, d->name, &vm->mem, err, errlen);
	if (rc < 0)
		goto err_free;
	if (!(d->vhf.features & BIT(VIRTIO_F_VERSION_1))) {
		snprintf(err, errlen, "%s does not offer VIRTIO_F_VERSION_1 "
			 "(ward-hv is a modern-only transport)", d->name);
		rc = -EPROTO;
		goto err_free;
	}
	d->config_len = m->config_len;
	if (d->vhf.protocol & BIT(VU_PROTOCOL_F_CONFIG)) {
		rc = vhf_get_config(&d->vhf, d->config, m->config_len, err, errlen);
		if (rc < 0)
			goto err_free;
	} else if (m->config_required) {
		snprintf(err, errlen, "%s does not offer the CONFIG protocol feature; "
			 "virtio-%s needs GET_CONFIG for its device configuration",
			 d->name, m->kind);
		rc = -EPROTO;
		goto err_free;
	} else {
		/* nothing to show: withhold what would point into the config
		 * (net MAC 5, MTU 3, STATUS 16) */
		dev_mask &= ~(BIT(3) | BIT(5) | BIT(16));
	}
	d->host_features = d->vhf.features & (dev_mask | VP_TRANSPORT_FEATURES);
	/* net: one rx/tx pair, which any vhost-user-net backend serves (its
	 * GET_QUEUE_NUM counts pairs); blk: as many as config and backend say */
	d->nq = m->virtio_id == VIRTIO_ID_BLK ? blk_queues(d) : 2;

	pci_dev_setup(&d->pci, 0x1af4, (uint16_t)(0x1040 + m->virtio_id), m->class_code,
		      1, 0x1af4, m->virtio_id);
	if (add_vcap(&d->pci, VIRTIO_PCI_CAP_COMMON_CFG, VP_COMMON_OFF, VP_COMMON_LEN) < 0 ||
	    add_vcap(&d->pci, VIRTIO_PCI_CAP_NOTIFY_CFG, VP_NOTIFY_OFF,
		     (uint32_t)d->nq * VP_NOTIFY_MULT) < 0 ||
	    add_vcap(&d->pci, VIRTIO_PCI_CAP_ISR_CFG, VP_ISR_OFF, 1) < 0 ||
	    add_vcap(&d->pci, VIRTIO_PCI_CAP_DEVICE_CFG, VP_DEVCFG_OFF, d->config_len) < 0 ||
	    add_msix_cap(d) < 0 || add_cfg_cap(d) < 0) {
		snprintf(err, errlen, "virtio-%s: capabilities do not fit", m->kind);
		rc = -ENOSPC;
		goto err_free;
	}
	d->pci.bar_size = VP_BAR_SIZE;
	d->pci.bar_fn = vp_bar_io;
	d->pci.bar_opaque = d;
	d->pci.bar_changed = vp_bar_changed;
	d->pci.cap_written = vp_cap_written;
	d->pci.cap_read = vp_cap_read;
	for (unsigned int i = 0; i < VP_MAX_QUEUES; i++)
		queue_init(&d->q[i]);
	d->config_vector = VP_NO_VECTOR;
	for (unsigned int v = 0; v < d->nvec; v++) {
		d->msix[v].ctrl = 1;          /* vectors start masked */
		/* without a route the vector still works, through the thread */
		d->gsi[v] = msi_route_alloc(vm);
	}

	pthread_mutex_lock(&vp.lock);
	rc = thread_start();
	pthread_mutex_unlock(&vp.lock);
	if (rc < 0) {
		snprintf(err, errlen, "virtio-%s: cannot start the interrupt thread: %s",
			 m->kind, strerror(-rc));
		goto err_free;
	}
	rc = pci_dev_register(&d->pci);   /* calls vp_bar_changed: no lock held */
	if (rc < 0) {
		snprintf(err, errlen, "virtio-%s: %s", m->kind, rc == -ENOSPC ?
			 "no free PCI slot (7 devices at most)" : "cannot map BAR0");
		goto err_free;
	}
	pthread_mutex_lock(&vp.lock);
	vp.devs[d->pci.slot] = d;
	wake_thread();
	pthread_mutex_unlock(&vp.lock);
	log_info("virtio device added", "slot=%d dev=%s bar0=0x%llx queues=%u features=0x%llx",
		 d->pci.slot, m->kind, (unsigned long long)d->pci.bar_base, d->nq,
		 (unsigned long long)d->host_features);
	return 0;
err_free:
	free(d);
	return rc;
}

int virtio_blk_add(struct vm *vm, int vhost_sock, char *err, size_t errlen)
{
	return vp_add(vm, vhost_sock, &vp_blk, err, errlen);
}

int virtio_net_add(struct vm *vm, int vhost_sock, char *err, size_t errlen)
{
	return vp_add(vm, vhost_sock, &vp_net, err, errlen);
}

void virtio_devices_destroy(struct vm *vm)
{
	pthread_mutex_lock(&vp.lock);
	vp.quit = true;
	wake_thread();
	pthread_mutex_unlock(&vp.lock);
	if (vp.thread_running)
		pthread_join(vp.thread, NULL);
	vp.thread_running = false;

	for (int s = 0; s < PCI_MAX_SLOTS; s++) {
		struct vp_dev *d = vp.devs[s];

		if (!d)
			continue;
		pthread_mutex_lock(&vp.lock);
		for (unsigned int i = 0; i < d->nq; i++)
			queue_stop(d, i);
		vp.devs[s] = NULL;
		pthread_mutex_unlock(&vp.lock);
		pci_dev_unregister(&d->pci);
		vhf_close(&d->vhf);
		free(d);
	}
	if (vp.wake >= 0)
		close(vp.wake);
	vp.wake = -1;
	msi_routes_reset(vm);
	vp.ioev_len = -1;
	vp.ioev_warned = false;
}
