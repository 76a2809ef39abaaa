/* request: the one parser of host-API request bodies (untrusted JSON from
 * mTLS clients) into validated structs. Strict: unknown fields, wrong
 * types and out-of-range values are errors with a message for the caller. */
#ifndef WARD_CONTROLLER_REQUEST_H
#define WARD_CONTROLLER_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "controller/volumes.h"

#define REQ_BODY_MAX (64 * 1024)
#define REQ_NAME_MAX 32

#define REQ_CMDLINE_MAX 1024
#define REQ_TOKEN_MAX 64
#define REQ_MAX_ENIS 1		/* NETCARD_MAX_ENIS */
#define REQ_ENI_MAX 31		/* "eni-" and hex digits (vpcstore.c) */

struct run_req {
	char image[REQ_NAME_MAX + 1];	/* guest image name: [a-z0-9-] */
	uint32_t memory_mib;		/* 4..65536, default 32 */
	uint32_t vcpus;			/* 1..64, default 1 */
	bool cpu_fixed;			/* "cpu": "fixed" (whole cores) | "burstable" (default) */
	char hugepages[3];		/* "hugepages": "2M" | "1G"; "" for 4 KiB pages */
	char cmdline[REQ_CMDLINE_MAX + 1]; /* the guest kernel's; printable ASCII */
	unsigned n_volumes;		/* attached at launch (docs/attach.md) */
	struct vol_spec volumes[VOL_MAX];
	/* "client_token": the client's name for this launch (idempotency,
	 * docs/controller.md "Idempotent launch"); "" when not given. */
	char client_token[REQ_TOKEN_MAX + 1];
	/* "enis": the ENIs (ids from POST /v1/enis) ward-net serves this
	 * instance (netcard.c); one for now. */
	unsigned n_enis;
	char enis[REQ_MAX_ENIS][REQ_ENI_MAX + 1];
};

/* The attach request as the KMS work will complete it: the data key
 * arrives HPKE-sealed to the host key, never in clear. */
struct volume_req {
	char volume_id[65];
	uint64_t size_bytes;		/* multiple of 4096 */
	bool read_only;
	bool has_sealed_key;
};

struct update_req {
	char package[65];		/* file name in state_dir/updates/ */
};

/* Each returns 0, or -EINVAL with a message in err (never echoing more than
 * a short field name back). An empty body is "{}" where allowed. */
int req_parse_run(const char *body, size_t len, struct run_req *out, char *err, size_t errlen);
int req_parse_volume(const char *body, size_t len, struct volume_req *out, char *err,
		     size_t errlen);
int req_parse_update(const char *body, size_t len, struct update_req *out, char *err,
		     size_t errlen);
int req_parse_empty(const char *body, size_t len, char *err, size_t errlen);

bool req_valid_name(const char *s, size_t max);

#endif
