/* ctl: the state ward-controller's parts share — host state, the audit
 * log and its signer, instances, configuration. One per process, owned by
 * main.c and touched only from the event-loop thread. */
#ifndef WARD_CONTROLLER_CTL_H
#define WARD_CONTROLLER_CTL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "checkpoint.h"
#include "cpupart.h"
#include "audit.h"
#include "controller/firmware.h"

enum host_state {
	HOST_IN_SERVICE,
	HOST_OUT_OF_SERVICE,
	HOST_UNVERIFIED_DEV,	/* development build: runs, but is never in service */
	HOST_DRAINING,
};

struct instances;

struct ctl {
	const char *state_dir;
	const char *tcti;
	enum host_state state;
	char reason[256];
	struct fw_state fw;
	struct audit *audit;
	const struct checkpoint_signer *signer;
	char *audit_pub_pem;	/* public key of the checkpoint key, PEM */
	char origin[256];
	struct instances *inst;
	struct volumes *vols;	/* encrypted volumes (volumes.c) */
	struct vpcstore *vpcs;	/* the VPC model (vpcstore.c) */
	struct netcard *net;	/* the host's ward-net (netcard.c) */
	struct hostattest *attest;	/* EK, AK, quotes (hostattest.c); NULL: none */
	struct cpu_topo *topo;	/* CPU partition; NULL on a one-core host */
	struct cpu_alloc *cpu;
	char cpu_note[256];	/* why there is no partition, or pinning was skipped */
	struct sidechan_caps side;	/* what this kernel offers, probed at start */
	bool dev;
	int checkpoint_s;	/* checkpoint interval: also how long failures are borne */
};

const char *ctl_state_name(enum host_state s);
/* Host may launch instances: in service or the development state. */
bool ctl_can_launch(const struct ctl *c, const char **why);

/* Append a lifecycle record (takes ownership of rec). Failures are logged:
 * the audit module then refuses everything further (fail closed). */
int ctl_audit(struct ctl *c, json_t *rec);

#endif
