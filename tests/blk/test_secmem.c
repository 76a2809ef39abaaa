/* test_secmem: secure allocations are zeroed, locked or secret, excluded from
 * dumps, wiped in a forked child, and the process can be made non-dumpable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "secmem.h"

/* Look up the VmFlags of the mapping holding p in /proc/self/smaps. */
static int vmflags(const void *p, char *out, size_t n)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;

		if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, ' ') && line[8] != ':')
			in = (uintptr_t)p >= a && (uintptr_t)p < b;
		if (in && !strncmp(line, "VmFlags:", 8)) {
			snprintf(out, n, "%s", line);
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	return -1;
}

static void test_alloc_zeroed_and_flags(void **state)
{
	uint8_t *p = secmem_alloc(100);
	char fl[512];

	(void)state;
	assert_non_null(p);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(p[i], 0);
	memset(p, 0x5a, 100);
	assert_int_equal(vmflags(p, fl, sizeof(fl)), 0);
	assert_non_null(strstr(fl, " dd")); /* MADV_DONTDUMP */
	if (!secmem_last_was_secret()) {
		assert_non_null(strstr(fl, " lo")); /* mlocked */
		assert_non_null(strstr(fl, " wf")); /* MADV_WIPEONFORK */
	}
	secmem_free(p, 100);
	secmem_free(NULL, 10);
}

static void test_child_sees_no_secret(void **state)
{
	uint8_t *p = secmem_alloc(64);
	pid_t pid;
	int st;

	(void)state;
	assert_non_null(p);
	memset(p, 0x77, 64);
	pid = fork();
	if (pid == 0) {
		/* Anonymous fallback: the page reads as zeroes (WIPEONFORK).
		 * memfd_secret: the mapping is not inherited at all, so touching
		 * it would fault; probe with a pipe write instead of reading. */
		int fds[2];

		if (pipe(fds))
			_exit(3);
		if (write(fds[1], p, 1) != 1)
			_exit(0); /* EFAULT: not mapped in the child */
		_exit(p[0] == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(p[0], 0x77);
	secmem_free(p, 64);
}

/* Freed single pages are reused (cheap secrets) but never with their old
 * content: every byte must read zero again. */
static void test_reused_page_is_wiped(void **state)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char *a = secmem_alloc(64), *b;

	assert_non_null(a);
	memset(a, 0x5a, pg);
	secmem_free(a, 64);
	b = secmem_alloc(100);
	assert_non_null(b);
	for (size_t i = 0; i < pg; i++)
		assert_int_equal(b[i], 0);
	secmem_free(b, 100);
}

static void test_not_dumpable(void **state)
{
	pid_t pid = fork();
	int st;

	(void)state;
	if (pid == 0)
		_exit(secmem_process_harden() == 0 && prctl(PR_GET_DUMPABLE) == 0 ? 0 : 1);
	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alloc_zeroed_and_flags),
		cmocka_unit_test(test_child_sees_no_secret),
		cmocka_unit_test(test_reused_page_is_wiped),
		cmocka_unit_test(test_not_dumpable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
