/* test_nohooks: the sources that carry fault-injection hooks, compiled the
 * way a default build compiles them (no -DWARD_TEST_HOOKS: meson builds
 * them into this program itself, whatever -Dtest_hooks says), ignore every
 * variable that would trigger a hook in a test build:
 * WARD_FW_FAIL_AFTER_WRITES (the controller would die half-way through a
 * firmware write), WARD_TEST_FW_VERDICT, WARD_*_TEST_FORBIDDEN (a sandboxed
 * thread would make a forbidden system call, ward-blk's ring would be fed
 * refused requests). nohooks.sh first checks that -Dtest_hooks is off by
 * default, so together they say what a default build does. */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "blk/ringpool.h"
#include "controller/firmware.h"
#include "controller/fw/fw_store.h"
#include "sandbox.h"

#ifdef WARD_TEST_HOOKS
#error "test_nohooks must be compiled without WARD_TEST_HOOKS"
#endif

static int saved_stderr = -1, captured = -1;

/* Everything a hook announces goes to stderr ("test hook: ..."). */
static void capture_stderr(void)
{
	captured = memfd_create("stderr", MFD_CLOEXEC);
	assert_true(captured >= 0);
	fflush(stderr);
	saved_stderr = dup(2);
	assert_int_equal(dup2(captured, 2), 2);
}

static void expect_no_hook_output(void)
{
	char buf[8192] = { 0 };
	ssize_t n;

	fflush(stderr);
	assert_int_equal(dup2(saved_stderr, 2), 2);
	close(saved_stderr);
	n = pread(captured, buf, sizeof(buf) - 1, 0);
	close(captured);
	assert_true(n >= 0);
	if (strstr(buf, "test hook"))
		fail_msg("a hook ran: %s", buf);
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* A test build would stop at the first write operation and _exit(99),
 * leaving a torn temporary file. */
static void test_fw_store_ignores_fail_after_writes(void **state)
{
	char dir[] = "/tmp/ward-nohooks-XXXXXX", path[64];
	static const char data[] = "an image that must be written whole";
	uint8_t *back = NULL;
	size_t len = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/image", dir);
	setenv("WARD_FW_FAIL_AFTER_WRITES", "1", 1);
	capture_stderr();
	assert_int_equal(fw_io_write(path, data, sizeof(data)), 0);
	assert_int_equal(fw_io_replace(path, data, sizeof(data)), 0); /* more operations */
	assert_int_equal(fw_io_fsync_dir(dir), 0);
	expect_no_hook_output();
	unsetenv("WARD_FW_FAIL_AFTER_WRITES");
	assert_int_equal(fw_io_read(path, 4096, &back, &len), 0);
	assert_int_equal(len, sizeof(data));
	assert_memory_equal(back, data, len);
	free(back);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

static void test_dev_firmware_ignores_verdict(void **state)
{
	struct fw_state st;

	(void)state;
	setenv("WARD_TEST_FW_VERDICT", "out-of-service: forged by the environment", 1);
	assert_int_equal(fw_boot("/nonexistent", NULL, &st), 0);
	unsetenv("WARD_TEST_FW_VERDICT");
	assert_null(strstr(st.reason, "forged"));
	assert_non_null(strstr(st.reason, "unverified-dev"));
	fw_state_release(&st);
}

/* A test build would call socket() (and leave the fd open) or, for the
 * ring, submit requests to the ring it is given (here none: it would
 * crash). */
static void test_sandbox_and_ring_ignore_forbidden(void **state)
{
	static const char *const kinds[] = { "main", "main/socket", "volume/io_uring_setup",
					     "volume/io_uring_register" };
	int before = open_fds();

	(void)state;
	capture_stderr();
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		setenv("WARD_NOHOOKS_TEST_FORBIDDEN", kinds[i], 1);
		sandbox_test_forbidden("WARD_NOHOOKS_TEST_FORBIDDEN", "main");
		sandbox_test_forbidden("WARD_NOHOOKS_TEST_FORBIDDEN", "volume");
	}
	unsetenv("WARD_NOHOOKS_TEST_FORBIDDEN");
	setenv("WARD_BLK_TEST_FORBIDDEN", "volume/ring-ops", 1);
	ringpool_test_probe(NULL, -1);
	unsetenv("WARD_BLK_TEST_FORBIDDEN");
	expect_no_hook_output();
	assert_int_equal(open_fds(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fw_store_ignores_fail_after_writes),
		cmocka_unit_test(test_dev_firmware_ignores_verdict),
		cmocka_unit_test(test_sandbox_and_ring_ignore_forbidden),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
