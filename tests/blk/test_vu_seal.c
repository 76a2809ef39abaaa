/* test_vu_seal: SET_MEM_TABLE against a frontend that shrinks its memfd and
 * then seals it against shrinking while the vhost-user core (vu_dev.c, the
 * code ward-blk runs) is checking that memfd. A table the core accepts must
 * never map past the end of its file: the first touch would SIGBUS the card.
 *
 * Two frontends: (1) one that acts right after each system call the core
 * makes on the fd — fstat and fcntl are interposed here, so every
 * interleaving at system-call granularity is tried, deterministically;
 * (2) a real shrinker thread racing SET_MEM_TABLE in a bounded loop. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cmocka.h>

#include "vu_dev.h"

#define BIG   (1u << 20)   /* what the table claims */
#define SMALL 4096u        /* what the frontend shrinks the file to */
#define RACES 2000

/* The adversary of (1): after the attack_after-th fstat/fcntl the core
 * makes on target_fd, shrink the file and seal it. */
static int target_fd = -1;
static int attack_after;
static int calls;

static void shrink_and_seal(int fd)
{
	assert_int_equal(ftruncate(fd, SMALL), 0);
	assert_int_equal(syscall(SYS_fcntl, fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
}

static void after_call(int fd)
{
	if (fd == target_fd && ++calls == attack_after)
		shrink_and_seal(fd);
}

/* Interposed for the whole test program (libward is linked statically, so
 * vu_dev.c's calls land here); both pass through to the kernel unchanged. */
int fstat(int fd, struct stat *st)
{
	long rc = syscall(SYS_fstat, fd, st);

	after_call(fd);
	return (int)rc;
}

int fcntl(int fd, int cmd, ...)
{
	unsigned long arg;
	va_list ap;
	long rc;

	va_start(ap, cmd);
	arg = va_arg(ap, unsigned long);
	va_end(ap);
	rc = syscall(SYS_fcntl, fd, cmd, arg);
	after_call(fd);
	return (int)rc;
}

static const struct vu_dev_ops ops = { .num_queues = 1 };

static int guest_memfd(void)
{
	int fd = memfd_create("guest", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, BIG), 0);
	return fd;
}

/* Hand the core one SET_MEM_TABLE of BIG bytes whose fd msg_fd (a dup of
 * memfd, which the core closes) backs it; *accepted says whether it mapped. */
static void set_mem_table(struct vu_dev *d, int memfd, int msg_fd, bool *accepted)
{
	struct vu_msg m = { 0 };

	m.hdr.request = VU_SET_MEM_TABLE;
	m.hdr.flags = VU_VERSION;
	m.hdr.size = 8 + sizeof(struct vu_mem_region);
	m.p.mem.nregions = 1;
	m.p.mem.regions[0] = (struct vu_mem_region){
		.guest_phys_addr = 0, .memory_size = BIG,
		.userspace_addr = 0x7f0000000000ull, .mmap_offset = 0,
	};
	m.fds[0] = msg_fd;
	m.nfds = 1;
	assert_int_equal(vu_dev_handle(d, &m), 0);
	*accepted = d->mem.nregions == 1;
	if (*accepted) {
		struct stat st;

		/* The seals now forbid shrinking: if the file is smaller than
		 * the mapping here, the card dies on the first guest access. */
		assert_int_equal(syscall(SYS_fstat, memfd, &st), 0);
		if ((uint64_t)st.st_size < BIG)
			fail_msg("SET_MEM_TABLE accepted a %lld-byte memfd for a %u-byte region",
				 (long long)st.st_size, BIG);
		(void)*(volatile uint8_t *)(d->mem.r[0].host + BIG - 1);
	}
	vu_dev_reset(d);
}

/* Not vacuous: a memfd sealed at its full size is accepted. */
static void test_sealed_memfd_accepted(void **state)
{
	struct vu_dev d;
	bool accepted;
	int fd = guest_memfd();

	(void)state;
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	vu_dev_init(&d, -1, &ops, NULL);
	set_mem_table(&d, fd, dup(fd), &accepted);
	assert_true(accepted);
	close(fd);
}

static void test_unsealed_refused(void **state)
{
	struct vu_dev d;
	bool accepted;
	int fd = guest_memfd();

	(void)state;
	vu_dev_init(&d, -1, &ops, NULL);
	set_mem_table(&d, fd, dup(fd), &accepted);
	assert_false(accepted);
	close(fd);
}

/* (1) The frontend shrinks and seals right after the k-th check the core
 * makes, for every k until the core makes fewer than k calls. */
static void test_shrink_between_checks(void **state)
{
	(void)state;
	for (int k = 1;; k++) {
		struct vu_dev d;
		bool accepted;
		int fd = guest_memfd();

		vu_dev_init(&d, -1, &ops, NULL);
		target_fd = dup(fd);
		attack_after = k;
		calls = 0;
		set_mem_table(&d, fd, target_fd, &accepted);
		target_fd = -1;
		close(fd);
		if (calls < k)
			break;
		print_message("  shrunk after check %d of %d: %s\n", k, calls,
			      accepted ? "accepted" : "refused");
	}
}

/* (2) A real thread shrinks and seals while SET_MEM_TABLE runs. */
struct race {
	int fd;
	atomic_int go;
};

static void *shrinker(void *arg)
{
	struct race *r = arg;

	while (!atomic_load(&r->go))
		;
	if (ftruncate(r->fd, SMALL) == 0)
		syscall(SYS_fcntl, r->fd, F_ADD_SEALS, F_SEAL_SHRINK);
	return NULL;
}

static void test_shrinker_thread(void **state)
{
	int won = 0;

	(void)state;
	for (int i = 0; i < RACES; i++) {
		struct race r = { .fd = guest_memfd() };
		struct vu_dev d;
		pthread_t t;
		bool accepted;
		int msg_fd = dup(r.fd);

		vu_dev_init(&d, -1, &ops, NULL);
		assert_int_equal(pthread_create(&t, NULL, shrinker, &r), 0);
		atomic_store(&r.go, 1);
		set_mem_table(&d, r.fd, msg_fd, &accepted);
		assert_int_equal(pthread_join(t, NULL), 0);
		won += accepted;
		close(r.fd);
	}
	print_message("  %d of %d races accepted (each with the file still whole)\n", won, RACES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sealed_memfd_accepted),
		cmocka_unit_test(test_unsealed_refused),
		cmocka_unit_test(test_shrink_between_checks),
		cmocka_unit_test(test_shrinker_thread),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
