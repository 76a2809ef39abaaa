/* guest/memcheck.c: checks that a fresh VM's RAM holds nothing of a previous
 * tenant. mode=dirty fills RAM with a pattern; mode=scan exits 0 only if
 * every byte of RAM above the image is zero; mode=selftest dirties and then
 * scans, and exits 0 only if the scan caught it (so the scan can fail).
 * The loops run in ring 3: native speed where KVM emulates ring 0. */
#include "lib/boot.h"
#include "lib/console.h"
#include "lib/cpu.h"
#include "lib/mem.h"

enum { EXIT_DIRTY_FOUND = 1, EXIT_BAD_MODE = 2, EXIT_SELFTEST_MISSED = 3 };

static uint64_t *region_start, *region_end;

static void dirty(void)
{
	for (uint64_t *p = region_start; p < region_end; p++)
		*p = 0xa5a5a5a5a5a5a5a5ull ^ (uint64_t)(uintptr_t)p;
}

/* Returns the first non-zero address, or NULL. */
static uint64_t *scan(void)
{
	for (uint64_t *p = region_start; p < region_end; p++)
		if (*p)
			return p;
	return 0;
}

static int run(void *arg)
{
	const char *mode = arg;
	uint64_t *hit;

	/* Everything the boot path and the bump allocator handed out lies
	 * below the next allocation. */
	region_start = mem_alloc(4096, 4096);
	region_end = (uint64_t *)(uintptr_t)boot_ram_end((uint64_t)(uintptr_t)region_start);
	printf("memcheck: %s %llu KiB from %p\n", mode,
	       (unsigned long long)((uintptr_t)region_end - (uintptr_t)region_start) / 1024,
	       (void *)region_start);
	if (mode[0] == 'd') {
		dirty();
		printf("memcheck: dirtied\n");
		return 0;
	}
	if (mode[0] == 's' && mode[1] == 'e')
		dirty();
	hit = scan();
	if (mode[0] == 's' && mode[1] == 'e') {
		printf("memcheck: selftest %s\n", hit ? "caught the pattern" : "MISSED the pattern");
		return hit ? 0 : EXIT_SELFTEST_MISSED;
	}
	if (hit) {
		printf("memcheck: non-zero byte at %p: %llx\n", (void *)hit, (unsigned long long)*hit);
		return EXIT_DIRTY_FOUND;
	}
	printf("memcheck: all zero\n");
	return 0;
}

int main(void)
{
	static char mode[16];

	if (!cmdline_get("mode", mode, sizeof(mode)) ||
	    (strncmp(mode, "dirty", 6) && strncmp(mode, "scan", 5) && strncmp(mode, "selftest", 9))) {
		printf("memcheck: cmdline needs mode=dirty|scan|selftest\n");
		return EXIT_BAD_MODE;
	}
	ring3_run(run, mode);
}
