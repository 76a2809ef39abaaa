/* guest/lib/mem.h: the few libc string/memory routines the guests need
 * (gcc may also emit calls to memcpy/memset on its own). */
#ifndef GUEST_MEM_H
#define GUEST_MEM_H

#include <stddef.h>
#include <stdint.h>

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);

/* Page-granular bump allocator over RAM after the image; never freed. */
void *mem_alloc(size_t bytes, size_t align);

#endif
