/* lockedheap: OpenSSL's allocator on locked, non-dumpable memory (see
 * lockedheap.h). Deliberately simple: power-of-two size classes carved from
 * one arena with a bump pointer, a free list per class, no coalescing
 * (OpenSSL's pattern is a burst at initialisation, then a few contexts per
 * key); anything larger than the biggest class is a mapping of its own. */
#include "lockedheap.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/crypto.h>

#if defined(__SANITIZE_ADDRESS__)
#define LH_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LH_SANITIZED 1
#endif
#endif
#ifdef LH_SANITIZED
#include <sanitizer/lsan_interface.h>
#endif

#define LH_MAGIC 0x6b636f6cu      /* "lock" */
#define LH_BIG 0xffu
#define LH_MIN_SHIFT 5            /* 32-byte blocks: 16 of header, 16 of data */
#define LH_MAX_SHIFT 16           /* 64 KiB */
#define LH_CLASSES (LH_MAX_SHIFT - LH_MIN_SHIFT + 1)

/* 16 bytes, so data keeps malloc's alignment. */
struct lh_hdr {
	uint32_t magic;
	uint32_t cls;             /* size class, or LH_BIG */
	uint64_t len;             /* bytes asked for (BIG: the mapping's length) */
};

/* The raw syscalls: AddressSanitizer turns mlock() and munlock() into
 * no-ops, and a sanitized build must lock what a release build locks. */
static int lock_pages(void *p, size_t len)
{
	return (int)syscall(SYS_mlock, p, len);
}

static void unlock_pages(void *p, size_t len)
{
	(void)syscall(SYS_munlock, p, len);
}

struct lh_free {
	struct lh_free *next;
};

static struct {
	pthread_mutex_t mu;
	uint8_t *base, *bump, *end;
	struct lh_free *free[LH_CLASSES];
	size_t in_use;
} lh = { .mu = PTHREAD_MUTEX_INITIALIZER };

static int class_of(size_t total)
{
	for (int c = 0; c < LH_CLASSES; c++)
		if (total <= (size_t)1 << (c + LH_MIN_SHIFT))
			return c;
	return -1;
}

/* A locked, non-dumpable mapping of its own; NULL when it cannot be
 * locked (a secret must not land in swappable memory). */
static void *big_alloc(size_t num)
{
	size_t len = (num + sizeof(struct lh_hdr) + 4095) & ~(size_t)4095;
	struct lh_hdr *h;

	if (num > SIZE_MAX / 2)
		return NULL;
	h = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (h == MAP_FAILED)
		return NULL;
	if (lock_pages(h, len)) {
		munmap(h, len);
		return NULL;
	}
	(void)madvise(h, len, MADV_DONTDUMP);
	(void)madvise(h, len, MADV_WIPEONFORK);
	*h = (struct lh_hdr){ LH_MAGIC, LH_BIG, len };
	pthread_mutex_lock(&lh.mu);
	lh.in_use += len;
	pthread_mutex_unlock(&lh.mu);
	return h + 1;
}

static void *lh_malloc(size_t num, const char *file, int line)
{
	struct lh_hdr *h = NULL;
	size_t sz;
	int c;

	(void)file;
	(void)line;
	if (num == 0)
		num = 1;
	if (num > SIZE_MAX / 2)
		return NULL;
	c = class_of(num + sizeof(struct lh_hdr));
	if (c < 0)
		return big_alloc(num);
	sz = (size_t)1 << (c + LH_MIN_SHIFT);
	pthread_mutex_lock(&lh.mu);
	if (lh.free[c]) {
		h = (struct lh_hdr *)lh.free[c];
		lh.free[c] = lh.free[c]->next;
	} else if ((size_t)(lh.end - lh.bump) >= sz) {
		h = (struct lh_hdr *)lh.bump;
		lh.bump += sz;
	}
	if (h)
		lh.in_use += sz;
	pthread_mutex_unlock(&lh.mu);
	if (!h)
		return big_alloc(num);	/* arena full: still locked */
	*h = (struct lh_hdr){ LH_MAGIC, (uint32_t)c, num };
	return h + 1;
}

static void lh_free(void *p, const char *file, int line)
{
	struct lh_hdr *h;
	uint32_t cls;
	size_t sz;

	(void)file;
	(void)line;
	if (!p)
		return;
	h = (struct lh_hdr *)p - 1;
	if (h->magic != LH_MAGIC)
		abort();	/* not ours, or a corrupted header: never guess */
	if (h->cls == LH_BIG) {
		size_t len = h->len;

		OPENSSL_cleanse(h, len);
		unlock_pages(h, len);
		munmap(h, len);
		pthread_mutex_lock(&lh.mu);
		lh.in_use -= len;
		pthread_mutex_unlock(&lh.mu);
		return;
	}
	cls = h->cls;
	if (cls >= LH_CLASSES)
		abort();
	sz = (size_t)1 << (cls + LH_MIN_SHIFT);
	OPENSSL_cleanse(p, sz - sizeof(*h));
	pthread_mutex_lock(&lh.mu);
	/* The link overwrites the header: a second free of this block finds
	 * no magic and aborts. */
	((struct lh_free *)h)->next = lh.free[cls];
	lh.free[cls] = (struct lh_free *)h;
	lh.in_use -= sz;
	pthread_mutex_unlock(&lh.mu);
}

static void *lh_realloc(void *p, size_t num, const char *file, int line)
{
	struct lh_hdr *h;
	size_t have;
	void *q;

	if (!p)
		return lh_malloc(num, file, line);
	if (num == 0) {
		lh_free(p, file, line);
		return NULL;
	}
	h = (struct lh_hdr *)p - 1;
	if (h->magic != LH_MAGIC)
		abort();
	have = h->cls == LH_BIG ? h->len - sizeof(*h) :
		((size_t)1 << (h->cls + LH_MIN_SHIFT)) - sizeof(*h);
	if (num <= have && h->cls != LH_BIG) {
		h->len = num;
		return p;
	}
	if (!(q = lh_malloc(num, file, line)))
		return NULL;
	memcpy(q, p, h->cls == LH_BIG ? (num < have ? num : have) : (num < h->len ? num : h->len));
	lh_free(p, file, line);
	return q;
}

int lockedheap_route_openssl(size_t arena_bytes, char *err, size_t errlen)
{
	uint8_t *a;
	int rc;

	/* Once only: OpenSSL lets a customised allocator be replaced, which
	 * would strand every block already handed out. */
	if (lh.base) {
		snprintf(err, errlen, "OpenSSL's heap is already routed");
		return -EALREADY;
	}
	arena_bytes = (arena_bytes + 4095) & ~(size_t)4095;
	a = mmap(NULL, arena_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED) {
		rc = -errno;
		snprintf(err, errlen, "cannot map OpenSSL's locked heap: %s", strerror(errno));
		return rc;
	}
	if (lock_pages(a, arena_bytes)) {
		rc = -errno;
		munmap(a, arena_bytes);
		snprintf(err, errlen, "cannot lock %zu bytes for OpenSSL's heap (RLIMIT_MEMLOCK?): %s",
			 arena_bytes, strerror(-rc));
		return rc;
	}
	(void)madvise(a, arena_bytes, MADV_DONTDUMP);
	(void)madvise(a, arena_bytes, MADV_WIPEONFORK);
#ifdef LH_SANITIZED
	/* Pointers OpenSSL keeps in here must count for LeakSanitizer. */
	__lsan_register_root_region(a, arena_bytes);
#endif
	lh.base = lh.bump = a;
	lh.end = a + arena_bytes;
	if (!CRYPTO_set_mem_functions(lh_malloc, lh_realloc, lh_free)) {
		lh.base = lh.bump = lh.end = NULL;
		munmap(a, arena_bytes);
		snprintf(err, errlen, "OpenSSL allocated before its heap could be replaced");
		return -EALREADY;
	}
	return 0;
}

size_t lockedheap_in_use(void)
{
	size_t n;

	pthread_mutex_lock(&lh.mu);
	n = lh.in_use;
	pthread_mutex_unlock(&lh.mu);
	return n;
}
