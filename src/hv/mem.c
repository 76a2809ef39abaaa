/* mem: guest RAM backed by one sealed memfd, populated only as the guest
 * touches it, locked on fault when RLIMIT_MEMLOCK allows, excluded from core
 * dumps and KSM, its populated extents wiped on teardown.
 * Optionally the memfd is hugetlbfs-backed (2 MiB or 1 GiB pages): fewer TLB
 * and EPT misses, pages that are never swapped, and a reservation taken in
 * full at start or refused with the pool's numbers. */
#include "hv/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "hugepool.h"
#include "errmsg.h"
#include "log.h"

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE 67
#endif
#ifndef MFD_HUGE_SHIFT
#define MFD_HUGE_SHIFT 26
#endif

/* An explanation for a hugetlb reservation that failed. */
static void huge_refusal(uint64_t size, uint64_t page_size, int e, char *err, size_t errlen)
{
	long total, avail;

	if (hugepool_read(page_size, &total, &avail) == 0)
		snprintf(err, errlen, "guest memory needs %llu free %s hugepages, the host pool has "
			 "%ld (raise /sys/kernel/mm/hugepages/hugepages-%llukB/nr_hugepages): %s",
			 (unsigned long long)(size / page_size), hugepage_name(page_size), avail,
			 (unsigned long long)(page_size >> 10), strerror(e));
	else
		snprintf(err, errlen, "this host has no %s hugepage pool: %s",
			 hugepage_name(page_size), strerror(e));
}

int mem_create(struct guest_mem *m, uint64_t size, uint64_t huge_page, char *err,
	       size_t errlen)
{
	unsigned int flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
	uint64_t page = huge_page ? huge_page : 4096;
	struct rlimit rl;
	int rc;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	if (huge_page && huge_page != HUGEPAGE_2M && huge_page != HUGEPAGE_1G) {
		snprintf(err, errlen, "hugepages must be 2 MiB or 1 GiB");
		return -EINVAL;
	}
	if (size == 0 || size % page) {
		snprintf(err, errlen, "guest memory must be a non-zero multiple of %s",
			 page == HUGEPAGE_1G ? "1 GiB with 1 GiB hugepages" :
			 page == HUGEPAGE_2M ? "2 MiB with 2 MiB hugepages" : "4 KiB");
		return -EINVAL;
	}
	if (huge_page)
		flags |= MFD_HUGETLB | ((unsigned int)__builtin_ctzll(huge_page) << MFD_HUGE_SHIFT);
	m->fd = memfd_create("ward-guest-ram", flags);
	if (m->fd < 0) {
		rc = -errno;
		if (huge_page)
			huge_refusal(size, huge_page, errno, err, errlen);
		else
			snprintf(err, errlen, "memfd_create for guest memory failed: %s",
				 strerror(errno));
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
	/* Nothing is populated up front: the kernel hands the guest zeroed
	 * pages on first touch, so start-up costs only what the guest uses.
	 * A shared hugetlb mapping still reserves every huge page at mmap (no
	 * MAP_NORESERVE), so a short pool fails here with ENOMEM, never later
	 * with SIGBUS in a running guest. */
	m->host = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
	if (m->host == MAP_FAILED) {
		rc = -errno;
		m->host = NULL;
		if (huge_page)
			huge_refusal(size, huge_page, errno, err, errlen);
		else
			snprintf(err, errlen, "mapping %llu bytes of guest memory failed: %s",
				 (unsigned long long)size, strerror(errno));
		goto err_close;
	}
	/* Guest memory is customer data: never in a core dump of ward-hv. */
	if (madvise(m->host, size, MADV_DONTDUMP) < 0)
		log_warn("madvise(MADV_DONTDUMP) on guest memory failed", "errno=%s", errname(errno));
	m->size = size;
	m->low = size < MEM_LOW_MAX ? size : MEM_LOW_MAX;
	m->huge_page = huge_page;
	/* hugetlb pages are never swapped: they are as good as locked. Normal
	 * pages are locked as they fault in (MLOCK_ONFAULT): never swapped,
	 * never populated before the guest touches them. The whole size is
	 * charged to RLIMIT_MEMLOCK now all the same. */
	if (huge_page)
		m->locked = true;
	else if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
	    (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= size) &&
	    mlock2(m->host, size, MLOCK_ONFAULT) == 0)
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

/* Zeroes every extent of the memfd that has pages, and only those: the
 * extents come from SEEK_DATA/SEEK_HOLE, so a hole (never touched) is not
 * faulted in just to be cleared. Where the file system cannot say
 * (hugetlbfs reports the whole file as data), everything is cleared. */
void mem_wipe_populated(struct guest_mem *m)
{
	off_t off = 0, end = (off_t)m->size, data, hole;

	while (off < end) {
		data = lseek(m->fd, off, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			return;			/* no page after off */
		if (data < 0 || data < off || data >= end) {
			explicit_bzero(m->host + off, (size_t)(end - off));
			return;
		}
		hole = lseek(m->fd, data, SEEK_HOLE);
		if (hole <= data || hole > end)
			hole = end;
		explicit_bzero(m->host + data, (size_t)(hole - data));
		off = hole;
	}
}

void mem_destroy(struct guest_mem *m)
{
	if (m->host) {
		/* Wipe before release so no page of this guest reaches the next
		 * user of the memory with its content (the backends have already
		 * unmapped or will see zeroes). */
		mem_wipe_populated(m);
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
