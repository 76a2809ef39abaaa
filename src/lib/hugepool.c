/* hugepool: the host's hugepage pools, read from sysfs (see hugepool.h). */
#include "hugepool.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int read_count(uint64_t page_size, const char *what, long *out)
{
	char path[96];
	FILE *f;
	int rc = 0;

	snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%llukB/%s",
		 (unsigned long long)(page_size >> 10), what);
	if (!(f = fopen(path, "re")))
		return -ENOENT;
	if (fscanf(f, "%ld", out) != 1 || *out < 0)
		rc = -EIO;
	fclose(f);
	return rc;
}

int hugepool_read(uint64_t page_size, long *total, long *free_pages)
{
	int rc = read_count(page_size, "nr_hugepages", total);

	return rc ? rc : read_count(page_size, "free_hugepages", free_pages);
}

uint64_t hugepage_parse(const char *s)
{
	if (!strcmp(s, "2M"))
		return HUGEPAGE_2M;
	if (!strcmp(s, "1G"))
		return HUGEPAGE_1G;
	return 0;
}

const char *hugepage_name(uint64_t page_size)
{
	return page_size == HUGEPAGE_1G ? "1 GiB" : "2 MiB";
}
