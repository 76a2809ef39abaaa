/* ec2_place: the instance-type table and host choice for RunInstances, by
 * ward-controller's own fixed/burstable rules so that a placement the
 * API makes is one the host's controller will accept (it still decides:
 * a 409 from it sends the instance back to placement). */
#include "ec2_place.h"

#include <errno.h>
#include <string.h>

/* vCPUs and memory as AWS sizes them; t3 are burstable, m5/c5 fixed. */
static const struct ec2_itype types[] = {
	{ "t3.nano", 2, 512, false },
	{ "t3.micro", 2, 1024, false },
	{ "t3.small", 2, 2048, false },
	{ "t3.medium", 2, 4096, false },
	{ "t3.large", 2, 8192, false },
	{ "m5.large", 2, 8192, true },
	{ "m5.xlarge", 4, 16384, true },
	{ "m5.2xlarge", 8, 32768, true },
	{ "c5.large", 2, 4096, true },
	{ "c5.xlarge", 4, 8192, true },
	{ "c5.2xlarge", 8, 16384, true },
};

const struct ec2_itype *ec2_itype_find(const char *name)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(types[i].name, name) == 0)
			return &types[i];
	return NULL;
}

static bool fits(const struct ec2_host_cap *h, const struct ec2_itype *t)
{
	unsigned tpc = h->threads_per_core ? h->threads_per_core : 1;

	if (t->memory_mib > h->memory_free_mib)
		return false;
	if (!t->fixed)
		return h->burst_pool_cores > 0;
	/* Never approximated: a partial core is refused, as the controller does. */
	return t->vcpus % tpc == 0 && t->vcpus / tpc <= h->fixed_free_cores;
}

static bool better(const struct ec2_host_cap *a, const struct ec2_host_cap *b)
{
	if (a->instances != b->instances)
		return a->instances < b->instances;
	if (a->memory_free_mib != b->memory_free_mib)
		return a->memory_free_mib > b->memory_free_mib;
	return strcmp(a->id, b->id) < 0;
}

int ec2_place(const struct ec2_host_cap *hosts, size_t n, const struct ec2_itype *t)
{
	int best = -ENOSPC;

	for (size_t i = 0; i < n; i++)
		if (fits(&hosts[i], t) && (best < 0 || better(&hosts[i], &hosts[best])))
			best = (int)i;
	return best;
}

void ec2_place_take(struct ec2_host_cap *h, const struct ec2_itype *t)
{
	unsigned tpc = h->threads_per_core ? h->threads_per_core : 1;

	h->memory_free_mib -= t->memory_mib;
	if (t->fixed)
		h->fixed_free_cores -= t->vcpus / tpc;
	h->instances++;
}
