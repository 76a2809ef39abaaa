/* boot: boot_load — picks the loader for the kernel image's format, then
 * writes the tables every format shares (MP table, GDT, page tables).
 * Holds the bounds checks the loaders use for guest addresses. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hv/boot/boot_priv.h"
#include "hv/vm.h"

int boot_err(struct boot_ctx *c, int rc, const char *fmt, ...)
{
	va_list ap;

	if (c->err && c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err, c->errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t bend)
{
	return a < bend && a + alen > b;
}

int boot_check_load(struct boot_ctx *c, uint64_t gpa, uint64_t len,
		    const char *what)
{
	if (len == 0)
		return 0;
	if (gpa + len < gpa)
		return boot_err(c, -EINVAL, "%s at 0x%llx with size 0x%llx wraps around the address space",
				what, (unsigned long long)gpa, (unsigned long long)len);
	if (overlaps(gpa, len, 0, BOOT_LOW_END) ||
	    overlaps(gpa, len, BOOT_EBDA, BOOT_1M))
		return boot_err(c, -EINVAL, "%s at [0x%llx, 0x%llx) overlaps the boot tables ([0, 0x%llx) and [0x%llx, 0x%llx) are reserved)",
				what, (unsigned long long)gpa,
				(unsigned long long)(gpa + len),
				(unsigned long long)BOOT_LOW_END,
				(unsigned long long)BOOT_EBDA,
				(unsigned long long)BOOT_1M);
	if (!mem_gpa(c->mem, gpa, len))
		return boot_err(c, -ENOMEM, "%s at [0x%llx, 0x%llx) is outside guest RAM (%llu MiB, %llu MiB below the 3 GiB hole)",
				what, (unsigned long long)gpa,
				(unsigned long long)(gpa + len),
				(unsigned long long)(c->mem->size >> 20),
				(unsigned long long)(c->mem->low >> 20));
	return 0;
}

int boot_place_initrd(struct boot_ctx *c, uint64_t max_last)
{
	const struct boot_image *img = c->img;
	uint64_t top, gpa;
	uint8_t *dst;

	c->initrd_gpa = 0;
	if (!img->initrd || img->initrd_len == 0)
		return 0;
	top = c->mem->low;
	if (max_last < top - 1)
		top = max_last + 1;
	/* Page-aligned (boot.rst), as high as allowed so the kernel's own
	 * early allocations below it are left alone. */
	if (img->initrd_len > top ||
	    ((top - img->initrd_len) & ~0xfffULL) < c->kernel_end ||
	    ((top - img->initrd_len) & ~0xfffULL) < BOOT_1M)
		return boot_err(c, -ENOMEM, "initrd of %zu bytes does not fit in guest RAM between the kernel's end at 0x%llx and 0x%llx",
				img->initrd_len,
				(unsigned long long)c->kernel_end,
				(unsigned long long)top);
	gpa = (top - img->initrd_len) & ~0xfffULL;
	dst = mem_gpa(c->mem, gpa, img->initrd_len);
	if (!dst)
		return boot_err(c, -ENOMEM, "initrd at 0x%llx is outside guest RAM",
				(unsigned long long)gpa);
	memcpy(dst, img->initrd, img->initrd_len);
	c->initrd_gpa = gpa;
	return 0;
}

/* Clear the areas the boot structures live in: the memfd is fresh, but a
 * reused buffer (tests, fuzzing) must not leak old tables to the guest. */
static int clear_tables(struct boot_ctx *c)
{
	uint8_t *low = mem_gpa(c->mem, 0, BOOT_LOW_END);
	uint8_t *mp = mem_gpa(c->mem, BOOT_MPTABLE, BOOT_MPTABLE_MAX);

	if (!low || !mp)
		return boot_err(c, -ENOMEM, "guest RAM does not cover the boot tables");
	memset(low, 0, BOOT_LOW_END);
	memset(mp, 0, BOOT_MPTABLE_MAX);
	return 0;
}

static bool is_elf(const uint8_t *k, size_t len)
{
	return len >= 4 && k[0] == 0x7f && k[1] == 'E' && k[2] == 'L' &&
	       k[3] == 'F';
}

int boot_load(struct guest_mem *mem, const struct boot_image *img,
	      int nr_vcpus, struct boot_entry *out, char *err, size_t errlen)
{
	struct boot_ctx c = {
		.mem = mem, .img = img, .nr_vcpus = nr_vcpus,
		.err = err, .errlen = errlen,
	};
	struct boot_entry e = { 0 };
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!mem || !img || !out)
		return boot_err(&c, -EINVAL, "boot_load: missing argument");
	if (nr_vcpus < 1 || nr_vcpus > VM_MAX_VCPUS)
		return boot_err(&c, -EINVAL, "%d vCPUs requested: 1 to %d supported",
				nr_vcpus, VM_MAX_VCPUS);
	if (mem->low < BOOT_MIN_LOW_RAM || mem->low > mem->size)
		return boot_err(&c, -ENOMEM, "guest RAM of %llu bytes is too small: at least %llu MiB needed",
				(unsigned long long)mem->size,
				(unsigned long long)(BOOT_MIN_LOW_RAM >> 20));
	if (!img->kernel || img->kernel_len == 0)
		return boot_err(&c, -ENOEXEC, "kernel image is empty (0 bytes)");
	if (img->kernel_len > mem->size)
		return boot_err(&c, -EFBIG, "kernel image of %zu bytes is larger than guest RAM (%llu bytes)",
				img->kernel_len, (unsigned long long)mem->size);
	if (img->initrd_len > mem->size)
		return boot_err(&c, -EFBIG, "initrd of %zu bytes is larger than guest RAM (%llu bytes)",
				img->initrd_len, (unsigned long long)mem->size);
	c.cmdline_len = img->cmdline ? strnlen(img->cmdline, BOOT_CMDLINE_MAX) : 0;
	if (c.cmdline_len >= BOOT_CMDLINE_MAX)
		return boot_err(&c, -E2BIG, "command line is longer than %llu bytes",
				(unsigned long long)(BOOT_CMDLINE_MAX - 1));

	rc = clear_tables(&c);
	if (rc)
		return rc;
	if (is_elf(img->kernel, img->kernel_len))
		rc = boot_elf_load(&c, &e);
	else if (boot_bzimage_is(img->kernel, img->kernel_len))
		rc = boot_bzimage_load(&c, &e);
	else
		rc = boot_err(&c, -ENOEXEC, "kernel image is neither an ELF file nor a Linux bzImage (no ELF magic, no \"HdrS\" at 0x202)");
	if (rc)
		return rc;

	rc = boot_write_mptable(&c);
	if (rc)
		return rc;
	rc = boot_write_gdt(&c, e.mode);
	if (rc)
		return rc;
	if (e.mode == BOOT_LINUX64) {
		rc = boot_write_page_tables(&c);
		if (rc)
			return rc;
		e.pml4 = BOOT_PML4;
	}
	*out = e;
	return 0;
}
