/* vu_dev: the backend half of a vhost-user connection, shared by the card
 * processes (ward-blk now, ward-net later). It owns the connection state
 * machine: features, memory table (mapped and validated), vrings (through
 * virtq), kick/call/err fds. The device plugs in with vu_dev_ops.
 * Everything received is validated by vu_msg_validate() first; a message that
 * fails is answered with an error (REPLY_ACK) or ends the connection. */
#ifndef WARD_VU_DEV_H
#define WARD_VU_DEV_H

#include <stdbool.h>
#include <stdint.h>

#include "vhost_user.h"
#include "virtq.h"

#define VU_DEV_MAX_QUEUES 8

struct vu_dev;

struct vu_dev_ops {
	uint64_t features;           /* virtio features offered */
	uint64_t protocol_features;  /* vhost-user protocol features offered */
	unsigned int num_queues;     /* <= VU_DEV_MAX_QUEUES */
	/* Copy device config [off, off+len) into buf; 0 or negative errno. */
	int (*get_config)(struct vu_dev *d, uint8_t *buf, uint32_t off, uint32_t len);
	/* Finish every in-flight request of queue q (or of all queues for
	 * q < 0) before its ring or the memory table goes away. */
	void (*quiesce)(struct vu_dev *d, int q);
};

struct vu_vring {
	struct vq vq;
	unsigned int num;
	uint64_t desc, avail, used;
	uint16_t base;
	bool addr_set, enabled, started;
	int kick_fd, call_fd, err_fd;
};

struct vu_map {
	void *addr;
	size_t len;
};

struct vu_dev {
	int sock;
	const struct vu_dev_ops *ops;
	void *priv;
	uint64_t features;          /* acked */
	uint64_t protocol_features; /* acked */
	bool features_set;
	struct vq_mem mem;
	struct vu_map maps[VQ_MAX_REGIONS];
	struct vu_vring vr[VU_DEV_MAX_QUEUES];
	bool broken;
	char why[160];
};

void vu_dev_init(struct vu_dev *d, int sock, const struct vu_dev_ops *ops, void *priv);

/* Handle one already-received message (takes ownership of its fds).
 * Returns 0 to keep the connection, negative errno to drop it. */
int vu_dev_handle(struct vu_dev *d, struct vu_msg *m);

/* Receive and handle one message from d->sock. 1: handled, 0: peer closed,
 * negative errno: connection must be dropped. */
int vu_dev_dispatch(struct vu_dev *d);

/* Drop all connection state: unmap memory, close fds (not d->sock). */
void vu_dev_reset(struct vu_dev *d);

/* Mark ring q broken (bad descriptors): signals its err fd, stops it.
 * Other devices and the process are unaffected. */
void vu_dev_ring_broken(struct vu_dev *d, unsigned int q, const char *why);

/* Signal the driver through ring q's call fd if vq_should_notify says so. */
void vu_dev_notify(struct vu_dev *d, unsigned int q);

static inline bool vu_dev_ring_live(const struct vu_dev *d, unsigned int q)
{
	return d->vr[q].started && d->vr[q].enabled && !d->vr[q].vq.broken;
}

#endif
