/* test_conring: the card-side console ring (src/lib/conring.c): bytes come
 * back in order across the wrap, the oldest are overwritten and a reader
 * learns how many it lost, a write larger than the ring keeps its tail,
 * sizes outside the rules are refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "conring.h"

static void test_sizes(void **state)
{
	struct conring r;

	assert_int_equal(conring_init(&r, 1000), -EINVAL);
	assert_int_equal(conring_init(&r, 2048), -EINVAL);
	assert_int_equal(conring_init(&r, 2 * CONRING_MAX), -EINVAL);
	assert_int_equal(conring_init(&r, 4096), 0);
	conring_free(&r);
}

static void test_wrap_and_loss(void **state)
{
	struct conring r;
	uint8_t in[10000], out[10000];
	uint64_t start;
	size_t n;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + i / 256);
	assert_int_equal(conring_init(&r, 4096), 0);
	conring_write(&r, in, 3000);
	n = conring_read(&r, 0, out, sizeof(out), &start);
	assert_int_equal(n, 3000);
	assert_int_equal(start, 0);
	assert_memory_equal(out, in, 3000);
	/* 3000 more: 6000 written, 4096 kept, the first 1904 lost */
	conring_write(&r, in + 3000, 3000);
	n = conring_read(&r, 0, out, sizeof(out), &start);
	assert_int_equal(start, 6000 - 4096);
	assert_int_equal(n, 4096);
	assert_memory_equal(out, in + 1904, 4096);
	/* a reader that kept up reads only what is new, across the wrap */
	n = conring_read(&r, 3000, out, 100, &start);
	assert_int_equal(start, 3000);
	assert_int_equal(n, 100);
	assert_memory_equal(out, in + 3000, 100);
	assert_int_equal(conring_read(&r, 6000, out, 10, &start), 0);
	conring_free(&r);
}

static void test_big_write(void **state)
{
	struct conring r;
	uint8_t in[10000], out[4096];
	uint64_t start;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i ^ (i >> 8));
	assert_int_equal(conring_init(&r, 4096), 0);
	conring_write(&r, "x", 1);
	conring_write(&r, in, sizeof(in));
	assert_int_equal(r.written, 1 + sizeof(in));
	assert_int_equal(conring_read(&r, 0, out, sizeof(out), &start), 4096);
	assert_int_equal(start, 1 + sizeof(in) - 4096);
	assert_memory_equal(out, in + sizeof(in) - 4096, 4096);
	conring_free(&r);
	assert_null(r.buf);
}

/* conring_fill: a non-blocking pipe drained straight into the ring, across
 * the wrap, overwriting the oldest bytes; EAGAIN when empty, 0 at EOF. */
static void test_fill_from_pipe(void **state)
{
	struct conring r;
	uint8_t in[6000], out[4096];
	uint64_t start;
	int p[2];
	long n, total = 0;

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 13 + 1);
	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	assert_int_equal(conring_init(&r, 4096), 0);
	assert_int_equal(conring_fill(&r, p[0]), -EAGAIN);
	assert_int_equal(write(p[1], in, sizeof(in)), sizeof(in));
	while ((n = conring_fill(&r, p[0])) > 0)
		total += n;
	assert_int_equal(n, -EAGAIN);
	assert_int_equal(total, sizeof(in));
	assert_int_equal(conring_read(&r, 0, out, sizeof(out), &start), 4096);
	assert_int_equal(start, sizeof(in) - 4096);
	assert_memory_equal(out, in + sizeof(in) - 4096, 4096);
	close(p[1]);
	assert_int_equal(conring_fill(&r, p[0]), 0);
	close(p[0]);
	conring_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_wrap_and_loss),
		cmocka_unit_test(test_big_write),
		cmocka_unit_test(test_fill_from_pipe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
