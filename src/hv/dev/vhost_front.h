/* vhost_front: ward-hv's side of a vhost-user connection to a card process
 * (ward-blk, ward-net, or any vhost-user backend). Synchronous request/reply
 * over the inherited socket; replies are parsed here and nowhere else. */
#ifndef WARD_HV_VHOST_FRONT_H
#define WARD_HV_VHOST_FRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct guest_mem;

struct vhf {
	int sock;
	const char *name;          /* "vhost-user blk backend": used in errors */
	uint64_t features;         /* what GET_FEATURES offered */
	uint64_t protocol;         /* negotiated protocol features */
	uint32_t max_queues;       /* GET_QUEUE_NUM; 0: not told (no F_MQ) */
	bool broken;               /* the connection is unusable */
};

/* Handshake up front: GET_FEATURES, GET/SET_PROTOCOL_FEATURES, SET_OWNER,
 * GET_QUEUE_NUM, SET_MEM_TABLE (the guest memfd regions, at ward-hv's
 * mapping addresses). On error, err names the backend and the step. */
int vhf_handshake(struct vhf *f, int sock, const char *name,
		  const struct guest_mem *mem, char *err, size_t errlen);
/* GET_CONFIG of [0, len); needs VU_PROTOCOL_F_CONFIG. */
int vhf_get_config(struct vhf *f, void *buf, uint32_t len, char *err, size_t errlen);
/* SET_FEATURES (adds VHOST_USER_F_PROTOCOL_FEATURES when negotiated). */
int vhf_set_features(struct vhf *f, uint64_t features, char *err, size_t errlen);

struct vhf_vring {
	uint32_t index, num;
	uint64_t desc, avail, used;  /* ward-hv virtual addresses */
	int kick, call;              /* eventfds */
};
/* SET_VRING_NUM, _BASE 0, _ADDR, _CALL, _KICK, then _ENABLE 1. */
int vhf_vring_start(struct vhf *f, const struct vhf_vring *r, char *err, size_t errlen);
/* GET_VRING_BASE: the backend stops the ring; *base is its next avail index. */
int vhf_vring_stop(struct vhf *f, uint32_t index, uint32_t *base, char *err, size_t errlen);

/* Mark the connection unusable (peer gone) and close the socket. */
void vhf_close(struct vhf *f);

#endif
