/* cpupart: the host's CPU topology and its partitioning into card CPUs
 * (controller, cards) and guest CPUs; whole-core allocation for
 * fixed-performance instances, a shared pool for burstable ones, and a
 * probe of which side-channel controls this kernel offers. Used by
 * ward-controller to decide every instance's --cpus. */
#ifndef WARD_CPUPART_H
#define WARD_CPUPART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CPUPART_MAX_CPUS 1024

struct cpu_topo {
	int ncpus;                         /* highest online cpu id + 1 */
	int ncores;
	int threads_per_core;              /* max siblings seen on a core */
	int16_t core_of[CPUPART_MAX_CPUS]; /* core index, -1: offline / absent */
	int16_t socket_of[CPUPART_MAX_CPUS];
};

/* Read sysfs (root = "/sys/devices/system/cpu", or a fake tree in tests).
 * Cores are the sets in topology/core_cpus_list (thread_siblings_list on
 * older kernels). Returns 0 or negative errno with a message. */
int cpupart_read_topology(const char *root, struct cpu_topo *t, char *err, size_t errlen);

/* Guest-side allocation state: which cores are guest cores, which are
 * taken by fixed instances, which form the burstable pool. */
struct cpu_alloc {
	const struct cpu_topo *topo;
	uint8_t role[CPUPART_MAX_CPUS];    /* per core: CORE_CARD / CORE_FIXED_FREE / ... */
	int owner[CPUPART_MAX_CPUS];       /* per core: instance slot holding it, -1 */
};

enum core_role { CORE_CARD = 1, CORE_GUEST_FREE, CORE_GUEST_FIXED, CORE_BURST };

/* Give the first `card_cores` cores (lowest ids; socket 0 first) to the card
 * domain, `burst_cores` of the rest to the burstable pool, the remainder to
 * fixed-performance instances. Refuses splits that leave a domain empty. */
int cpupart_split(struct cpu_alloc *a, const struct cpu_topo *t, int card_cores,
		  int burst_cores, char *err, size_t errlen);

/* Fixed-performance: `vcpus` must be a whole number of cores; takes free
 * cores exclusively (all their SMT siblings) and writes one host CPU per
 * vCPU to cpus[]. Refuses — never approximates — when that cannot be met. */
int cpupart_alloc_fixed(struct cpu_alloc *a, int owner, int vcpus, int *cpus,
			char *err, size_t errlen);
void cpupart_release(struct cpu_alloc *a, int owner);
/* Re-adoption: take again, for `owner`, the cores of cpus[] a running
 * fixed-performance instance was given earlier. Refuses a CPU that is not a
 * free guest core's. */
int cpupart_claim_fixed(struct cpu_alloc *a, int owner, const int *cpus, int n,
			char *err, size_t errlen);

/* Burstable: the pool's CPUs (every vCPU may run on any of them). */
int cpupart_burst_cpus(const struct cpu_alloc *a, int *cpus, int max);

/* CPUs of the card domain, for pinning the controller and cards. */
int cpupart_card_cpus(const struct cpu_alloc *a, int *cpus, int max);

/* What the running kernel offers, probed (never assumed). */
struct sidechan_caps {
	bool core_sched;       /* PR_SCHED_CORE */
	bool l1d_flush;        /* PR_SPEC_L1D_FLUSH can be enabled */
	bool ib_isolation;     /* PR_SPEC_INDIRECT_BRANCH can be disabled (STIBP/IBPB) */
	bool smt_active;       /* /sys/devices/system/cpu/smt/active */
	char detail[256];      /* human-readable, e.g. "core scheduling: EINVAL ..." */
};
void cpupart_probe_sidechan(struct sidechan_caps *c);

/* For a burstable instance's own process (ward-hv, before seccomp): create a
 * core-scheduling cookie for the whole thread group and request L1D flush
 * and indirect-branch isolation. Writes what was refused into `report`;
 * returns the number of controls that could not be applied (0 = all). */
int cpupart_harden_self(char *report, size_t len);

#endif
