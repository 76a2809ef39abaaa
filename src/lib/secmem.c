/* secmem: locked, non-dumpable, wipe-on-fork/free memory for secrets.
 * Prefers memfd_secret(2) (pages leave the kernel direct map); falls back to
 * anonymous private memory. Either way the pages are mlock()ed and marked
 * MADV_DONTDUMP | MADV_WIPEONFORK. */
#include "secmem.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/crypto.h>

#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447
#endif

static __thread bool last_secret;

/* Mapping a secret page costs a memfd, an mmap and an mlock (~0.5 ms here),
 * which dominated short-lived secrets such as an HPKE context per KMS
 * request. Freed single pages are therefore wiped and kept, still locked,
 * undumpable and unforkable, for the next single-page allocation. */
#define PAGE_CACHE_MAX 32
static struct { void *p; bool secret; } page_cache[PAGE_CACHE_MAX];
static int page_cache_n;
static pthread_mutex_t page_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static void *cache_get(size_t sz)
{
	void *p = NULL;

	if (sz != (size_t)sysconf(_SC_PAGESIZE))
		return NULL;
	pthread_mutex_lock(&page_cache_lock);
	if (page_cache_n > 0) {
		page_cache_n--;
		p = page_cache[page_cache_n].p;
		last_secret = page_cache[page_cache_n].secret;
	}
	pthread_mutex_unlock(&page_cache_lock);
	return p; /* wiped when it was put back */
}

static bool cache_put(void *p, size_t sz, bool secret)
{
	bool kept = false;

	if (sz != (size_t)sysconf(_SC_PAGESIZE))
		return false;
	pthread_mutex_lock(&page_cache_lock);
	if (page_cache_n < PAGE_CACHE_MAX) {
		page_cache[page_cache_n].p = p;
		page_cache[page_cache_n].secret = secret;
		page_cache_n++;
		kept = true;
	}
	pthread_mutex_unlock(&page_cache_lock);
	return kept;
}

static size_t round_pages(size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	if (len == 0 || len > SIZE_MAX - pg)
		return 0;
	return (len + pg - 1) & ~(pg - 1);
}

/* memfd_secret mappings cannot be forked into a child at all (the kernel
 * treats them as VM_DONTFORK-like); WIPEONFORK is only applicable to private
 * anonymous memory, so it is set on the fallback path. */
static void *map_secret(size_t len)
{
	void *p;
	int fd = (int)syscall(SYS_memfd_secret, (unsigned long)O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (ftruncate(fd, (off_t)len) < 0) {
		close(fd);
		return NULL;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

/* memfd_secret availability does not change during a process's life. */
static int secret_mode = -1;

static bool memfd_secret_works(void)
{
	return secret_mode == 1;
}

void *secmem_alloc(size_t len)
{
	size_t sz = round_pages(len);
	void *p;
	int e;

	if (!sz) {
		errno = EINVAL;
		return NULL;
	}
	p = cache_get(sz);
	if (p)
		return p;
	p = map_secret(sz);
	last_secret = p != NULL;
	secret_mode = last_secret;
	if (!p) {
		p = mmap(NULL, sz, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		if (madvise(p, sz, MADV_WIPEONFORK) < 0)
			goto err;
	} else if (madvise(p, sz, MADV_DONTFORK) < 0) {
		goto err; /* a shared secret mapping must not reach a child */
	}
	if (madvise(p, sz, MADV_DONTDUMP) < 0)
		goto err;
	/* memfd_secret pages are unevictable and charged to RLIMIT_MEMLOCK by
	 * the kernel itself (mlock on them fails); anonymous pages are locked
	 * here, and an allocation that cannot be locked is refused. */
	if (!last_secret && mlock(p, sz) < 0)
		goto err;
	return p;
err:
	e = errno;
	munmap(p, sz);
	errno = e;
	return NULL;
}

void secmem_free(void *p, size_t len)
{
	size_t sz = round_pages(len);

	if (!p || !sz)
		return;
	OPENSSL_cleanse(p, sz);
	if (cache_put(p, sz, memfd_secret_works()))
		return;
	munlock(p, sz); /* harmless on memfd_secret pages */
	munmap(p, sz);
}

bool secmem_last_was_secret(void)
{
	return last_secret;
}

int secmem_process_harden(void)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return -errno;
	return 0;
}
