/* guest/lib/mem.c: string routines (rep movs/stos: one instruction each,
 * which matters when ring 0 is emulated) and the bump allocator. */
#include "mem.h"
#include "boot.h"

void *memset(void *d, int c, size_t n)
{
	void *r = d;

	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return r;
}

void *memcpy(void *d, const void *s, size_t n)
{
	void *r = d;

	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	return r;
}

void *memmove(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;

	if (dp <= sp || dp >= sp + n)
		return memcpy(d, s, n);
	while (n--)
		dp[n] = sp[n];
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	size_t i = 0;

	/* Word steps first: 8x fewer instructions under ring-0 emulation. */
	while (i + 8 <= n && *(const uint64_t *)(x + i) == *(const uint64_t *)(y + i))
		i += 8;
	for (; i < n; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (a[i] != b[i])
			return (unsigned char)a[i] < (unsigned char)b[i] ? -1 : 1;
		if (!a[i])
			return 0;
	}
	return 0;
}

extern char __image_end[];
static uint64_t heap_next, heap_end;

void *mem_alloc(size_t bytes, size_t align)
{
	uint64_t p;

	if (!heap_next) {
		heap_next = (uint64_t)(uintptr_t)__image_end;
		heap_end = boot_ram_end(heap_next);
	}
	if (align < 16)
		align = 16;
	p = (heap_next + align - 1) & ~(uint64_t)(align - 1);
	if (p + bytes > heap_end || p + bytes < p)
		guest_panic(GUEST_EXIT_NOMEM, "out of memory: %lu bytes wanted",
			    (unsigned long)bytes);
	heap_next = p + bytes;
	return (void *)(uintptr_t)p;
}
