/* mem: guest RAM backed by one sealed memfd, populated up front, locked when
 * RLIMIT_MEMLOCK allows, excluded from core dumps and KSM, wiped on teardown. */
#include "hv/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#endif

int mem_create(struct guest_mem *m, uint64_t size, char *err, size_t errlen)
{
	struct rlimit rl;
	int rc;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (size == 0 || size % 4096) {
		snprintf(err, errlen, "guest memory must be a non-zero multiple of 4 KiB");
		return -EINVAL;
	}
	m->fd = memfd_create("ward-guest-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (m->fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "memfd_create for guest memory failed: %s", strerror(errno));
		return rc;
	}
	if (ftruncate(m->fd, (off_t)size) < 0 ||
	    /* Backends map this fd too: forbid resizing so no peer can turn our
	     * mapping into SIGBUS by shrinking it. */
	    fcntl(m->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		rc = -errno;
		snprintf(err, errlen, "sizing guest memory to %llu bytes failed: %s",
			 (unsigned long long)size, strerror(errno));
		goto err_close;
	}
	/* Opt this process out of KSM merging (a MAP_SHARED memfd is never
	 * merged anyway; this keeps it so if the mapping ever changes). */
	(void)prctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0);
	m->host = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		       m->fd, 0);
	if (m->host == MAP_FAILED) {
		rc = -errno;
		m->host = NULL;
		snprintf(err, errlen, "mapping %llu bytes of guest memory failed: %s",
			 (unsigned long long)size, strerror(errno));
		goto err_close;
	}
	/* Guest memory is customer data: never in a core dump of ward-hv. */
	if (madvise(m->host, size, MADV_DONTDUMP) < 0)
		log_warn("madvise(MADV_DONTDUMP) on guest memory failed", "errno=%d", errno);
	m->size = size;
	m->low = size < MEM_LOW_MAX ? size : MEM_LOW_MAX;
	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
	    (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= size) &&
	    mlock(m->host, size) == 0)
		m->locked = true;
	else
		log_info("guest memory not locked", "size=%llu reason=\"RLIMIT_MEMLOCK too low\"",
			 (unsigned long long)size);
	return 0;

err_close:
	close(m->fd);
	m->fd = -1;
	return rc;
}

void mem_destroy(struct guest_mem *m)
{
	if (m->host) {
		/* Wipe before release so no page of this guest reaches the next
		 * user of the memory with its content (the backends have already
		 * unmapped or will see zeroes). */
		explicit_bzero(m->host, m->size);
		munmap(m->host, m->size); /* also unlocks (no munlock in the sandbox) */
		m->host = NULL;
	}
	if (m->fd >= 0) {
		close(m->fd);
		m->fd = -1;
	}
}

void *mem_gpa(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	uint64_t end;

	if (__builtin_add_overflow(gpa, len, &end))
		return NULL;
	if (end <= m->low)
		return m->host + gpa;
	if (gpa >= MEM_HIGH_BASE && end - MEM_HIGH_BASE <= m->size - m->low)
		return m->host + m->low + (gpa - MEM_HIGH_BASE);
	return NULL;
}

int mem_regions(const struct guest_mem *m, struct mem_region out[2])
{
	out[0] = (struct mem_region){ .gpa = 0, .size = m->low, .offset = 0 };
	if (m->size == m->low)
		return 1;
	out[1] = (struct mem_region){ .gpa = MEM_HIGH_BASE, .size = m->size - m->low,
				      .offset = m->low };
	return 2;
}
