/* ec2_place: RunInstances' placement (docs/api.md#instances-and-placement)
 * — the instance-type table and the choice of a host by the rules
 * ward-controller enforces (docs/controller.md: fixed instances take whole
 * free cores, burstable ones share the host's pool), spreading instances.
 * Pure: the hosts' capacity comes from the store, the answer goes back. */
#ifndef WARD_API_EC2_PLACE_H
#define WARD_API_EC2_PLACE_H

#include <stdbool.h>
#include <stddef.h>

struct ec2_itype {
	const char *name;	/* "t3.micro" */
	unsigned vcpus;
	unsigned memory_mib;
	bool fixed;		/* whole cores ("cpu":"fixed"), else the burstable pool */
};

/* The type named name, or NULL. */
const struct ec2_itype *ec2_itype_find(const char *name);

struct ec2_host_cap {
	const char *id;
	unsigned threads_per_core;	/* >= 1 */
	unsigned fixed_free_cores;	/* whole cores not yet given to fixed instances */
	unsigned burst_pool_cores;	/* 0: no pool, burstable instances refused */
	unsigned memory_free_mib;
	unsigned instances;		/* placed on it already */
};

/* The index of the host to place t on, or -ENOSPC when none fits
 * (InsufficientInstanceCapacity): a fixed type needs vcpus to be a whole
 * number of that host's cores and that many free cores, a burstable one a
 * pool; both need the memory. Among those that fit, the one with the
 * fewest instances, then the most free memory, then the lowest id: a
 * fleet fills evenly. */
int ec2_place(const struct ec2_host_cap *hosts, size_t n, const struct ec2_itype *t);
/* Takes t's share out of h (after the placement is stored). */
void ec2_place_take(struct ec2_host_cap *h, const struct ec2_itype *t);

#endif
