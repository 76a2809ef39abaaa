/* vhost_user: the vhost-user wire protocol (qemu docs/interop/vhost-user.rst)
 * shared by ward-hv (frontend) and the card processes (backends).
 * Messages arrive from another, untrusted, process: vu_recv() only frames
 * them (header, size bound, fds); vu_msg_validate() is the one parser that
 * checks a message's payload before anything uses it. */
#ifndef WARD_VHOST_USER_H
#define WARD_VHOST_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum vu_request {
	VU_GET_FEATURES = 1,
	VU_SET_FEATURES = 2,
	VU_SET_OWNER = 3,
	VU_RESET_OWNER = 4,
	VU_SET_MEM_TABLE = 5,
	VU_SET_LOG_BASE = 6,
	VU_SET_LOG_FD = 7,
	VU_SET_VRING_NUM = 8,
	VU_SET_VRING_ADDR = 9,
	VU_SET_VRING_BASE = 10,
	VU_GET_VRING_BASE = 11,
	VU_SET_VRING_KICK = 12,
	VU_SET_VRING_CALL = 13,
	VU_SET_VRING_ERR = 14,
	VU_GET_PROTOCOL_FEATURES = 15,
	VU_SET_PROTOCOL_FEATURES = 16,
	VU_GET_QUEUE_NUM = 17,
	VU_SET_VRING_ENABLE = 18,
	VU_SEND_RARP = 19,
	VU_NET_SET_MTU = 20,
	VU_SET_BACKEND_REQ_FD = 21,
	VU_IOTLB_MSG = 22,
	VU_SET_VRING_ENDIAN = 23,
	VU_GET_CONFIG = 24,
	VU_SET_CONFIG = 25,
	VU_REQUEST_MAX = 26,
};

/* Feature bits */
#define VU_F_PROTOCOL_FEATURES   30   /* VHOST_USER_F_PROTOCOL_FEATURES */
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX  29
#define VIRTIO_F_VERSION_1       32

#define VU_PROTOCOL_F_MQ         0
#define VU_PROTOCOL_F_LOG_SHMFD  1
#define VU_PROTOCOL_F_RARP       2
#define VU_PROTOCOL_F_REPLY_ACK  3
#define VU_PROTOCOL_F_MTU        4
#define VU_PROTOCOL_F_BACKEND_REQ 5
#define VU_PROTOCOL_F_CONFIG     9

/* Header flags */
#define VU_VERSION        0x1u
#define VU_FLAG_VERSION_MASK 0x3u
#define VU_FLAG_REPLY     (1u << 2)
#define VU_FLAG_NEED_REPLY (1u << 3)

#define VU_MAX_MEM_REGIONS 8
#define VU_MAX_FDS         8
#define VU_MAX_CONFIG_SIZE 256
#define VU_VRING_IDX_MASK  0xffu
#define VU_VRING_NOFD_MASK (1u << 8)

struct vu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;     /* payload bytes that follow */
} __attribute__((packed));

struct vu_vring_state {
	uint32_t index;
	uint32_t num;
} __attribute__((packed));

struct vu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc_user_addr;   /* frontend virtual addresses, translated by */
	uint64_t used_user_addr;   /* the backend through the userspace_addr of */
	uint64_t avail_user_addr;  /* each SET_MEM_TABLE region (QEMU's rule)   */
	uint64_t log_guest_addr;
} __attribute__((packed));

struct vu_mem_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr;
	uint64_t mmap_offset;
} __attribute__((packed));

struct vu_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vu_mem_region regions[VU_MAX_MEM_REGIONS];
} __attribute__((packed));

struct vu_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t region[VU_MAX_CONFIG_SIZE];
} __attribute__((packed));

union vu_payload {
	uint64_t u64;
	struct vu_vring_state state;
	struct vu_vring_addr addr;
	struct vu_mem_table mem;
	struct vu_config config;
};

/* A framed message: header, payload (hdr.size bytes valid) and the fds
 * that came with it (owned by the message; vu_msg_close_fds() closes them). */
struct vu_msg {
	struct vu_hdr hdr;
	union vu_payload p;
	int fds[VU_MAX_FDS];
	size_t nfds;
};

/* Receive one message. Returns 1 on a message, 0 on orderly EOF, negative
 * errno on error (-EPROTO: bad framing/size, -EMSGSIZE: too many fds).
 * On error no fd is leaked. */
int vu_recv(int sock, struct vu_msg *m);

/* Send header + `size` payload bytes + fds. Returns 0 or negative errno. */
int vu_send(int sock, uint32_t request, uint32_t flags, const void *payload,
	    uint32_t size, const int *fds, size_t nfds);

void vu_msg_close_fds(struct vu_msg *m);

/* Check a received message against its request type: payload size, fd count,
 * field ranges (region count and overflow, vring index < max_queues, config
 * offset/size). Returns 0 or negative errno and writes a reason to err. */
int vu_msg_validate(const struct vu_msg *m, unsigned int max_queues,
		    char *err, size_t errlen);

const char *vu_request_name(uint32_t request);

#endif
