/* tests/hv/test_mem.c: ward-hv's guest memory without KVM (issue 12).
 * Guest RAM is populated only where touched; the exit wipe zeroes exactly
 * the populated extents and faults in no hole; and the wipe runs under
 * ward-hv's real VMM seccomp allowlist (a forked child locks itself down
 * the way ward-hv does, then wipes: a missing syscall kills it). */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "hv/allowlist.h"
#include "hv/mem.h"

#define MIB (1024ull * 1024)
#define PAGE 4096ull

/* The populated extents of fd as [start, end) pairs; returns their count. */
static int extents(int fd, off_t size, off_t out[][2], int max)
{
	off_t off = 0, d, h;
	int n = 0;

	while (off < size && n < max) {
		d = lseek(fd, off, SEEK_DATA);
		if (d < 0)
			break;
		h = lseek(fd, d, SEEK_HOLE);
		out[n][0] = d;
		out[n][1] = h;
		n++;
		off = h;
	}
	return n;
}

static void touch(struct guest_mem *m, uint64_t off, uint64_t len)
{
	memset(m->host + off, 0xa5, len);
}

static void test_lazy_and_wipe(void **state)
{
	struct guest_mem m;
	char err[256];
	off_t ext[8][2];
	uint8_t buf[PAGE];
	int fd;

	(void)state;
	assert_int_equal(mem_create(&m, 16 * MIB, 0, err, sizeof(err)), 0);
	/* Nothing populated at creation: the kernel zero-fills on first touch. */
	assert_int_equal(extents(m.fd, (off_t)m.size, ext, 8), 0);
	touch(&m, 0, PAGE);
	touch(&m, 5 * MIB, 3 * PAGE);
	touch(&m, m.size - PAGE, PAGE);
	assert_int_equal(extents(m.fd, (off_t)m.size, ext, 8), 3);

	fd = dup(m.fd);
	assert_true(fd >= 0);
	mem_destroy(&m);
	/* The wipe left holes holes: the same three extents, no more. */
	assert_int_equal(extents(fd, 16 * MIB, ext, 8), 3);
	assert_int_equal(ext[0][0], 0);
	assert_int_equal(ext[0][1], PAGE);
	assert_int_equal(ext[1][0], 5 * MIB);
	assert_int_equal(ext[1][1], 5 * MIB + 3 * PAGE);
	assert_int_equal(ext[2][0], 16 * MIB - PAGE);
	/* ...and every byte of them is zero. */
	for (int i = 0; i < 3; i++)
		for (off_t o = ext[i][0]; o < ext[i][1]; o += PAGE) {
			assert_int_equal(pread(fd, buf, PAGE, o), PAGE);
			for (size_t k = 0; k < PAGE; k++)
				if (buf[k])
					fail_msg("byte %zu of page at %lld survived the wipe", k,
						 (long long)o);
		}
	close(fd);
}

/* A fully touched guest: one extent, all of it wiped. */
static void test_wipe_all_touched(void **state)
{
	struct guest_mem m;
	char err[256];
	off_t ext[4][2];
	uint8_t buf[PAGE];
	int fd;

	(void)state;
	assert_int_equal(mem_create(&m, 2 * MIB, 0, err, sizeof(err)), 0);
	touch(&m, 0, m.size);
	fd = dup(m.fd);
	assert_true(fd >= 0);
	mem_wipe_populated(&m);
	assert_int_equal(extents(fd, 2 * MIB, ext, 4), 1);
	for (off_t o = 0; o < (off_t)(2 * MIB); o += PAGE) {
		assert_int_equal(pread(fd, buf, PAGE, o), PAGE);
		for (size_t k = 0; k < PAGE; k++)
			assert_int_equal(buf[k], 0);
	}
	mem_destroy(&m);
	close(fd);
}

/* The wipe runs at exit, after ward-hv's VMM allowlist is loaded: run it
 * under that very filter in a child. Killed by SIGSYS = a missing rule. */
static void test_wipe_under_vmm_seccomp(void **state)
{
	struct sandbox_cfg c = { .uid = 65534, .gid = 65534, .enabled = true };
	int status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct guest_mem m;
		char err[256];

		if (mem_create(&m, 4 * MIB, 0, err, sizeof(err)))
			_exit(10);
		touch(&m, MIB, PAGE);
		/* sandbox_isolate's no_new_privs, without its namespaces */
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
			_exit(13);
		if (hv_sandbox_lock(&c, err, sizeof(err))) {
			fprintf(stderr, "hv_sandbox_lock: %s\n", err);
			_exit(11);
		}
		mem_destroy(&m);
		_exit(m.fd == -1 && m.host == NULL ? 0 : 12);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("the wipe under the VMM allowlist died of signal %d (%s)",
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lazy_and_wipe),
		cmocka_unit_test(test_wipe_all_touched),
		cmocka_unit_test(test_wipe_under_vmm_seccomp),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
