/* hugepool: what the host's hugepage pools hold, read from sysfs. ward-hv
 * names the numbers when a reservation fails; the controller checks them
 * before a launch and reports them on GET /v1/host. */
#ifndef WARD_HUGEPOOL_H
#define WARD_HUGEPOOL_H

#include <stdint.h>

#define HUGEPAGE_2M (2ULL << 20)
#define HUGEPAGE_1G (1ULL << 30)

/* Pages of `page_size` bytes in the pool (total) and not yet taken (free).
 * Returns 0, or -ENOENT when this kernel has no pool of that size. */
int hugepool_read(uint64_t page_size, long *total, long *free_pages);

/* "2M" -> HUGEPAGE_2M, "1G" -> HUGEPAGE_1G, anything else -> 0. */
uint64_t hugepage_parse(const char *s);
/* HUGEPAGE_1G -> "1 GiB", else "2 MiB": for messages. */
const char *hugepage_name(uint64_t page_size);

#endif
