/* test_virtq: the split-virtqueue parser against hostile rings: descriptor
 * loops, out-of-range indices, lengths that overflow, addresses outside the
 * memory table, chains too long, bad indirect tables, readable-after-
 * writable, a runaway avail index - each breaks the ring, none crashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "virtq.h"

#define N 16
#define MEM (1u << 20)
#define GPA 0x100000ull

static uint8_t *mem;
static struct vq_mem table;
static struct vq vq;
static struct vq_desc_raw *desc;
static uint16_t *avail;

static int setup(void **state)
{
	(void)state;
	mem = aligned_alloc(4096, MEM);
	memset(mem, 0, MEM);
	table.nregions = 1;
	table.r[0] = (struct vq_region){ .gpa = GPA, .size = MEM, .uva = 0x7000000, .host = mem };
	desc = (struct vq_desc_raw *)mem;
	avail = (uint16_t *)(mem + 4096);
	assert_int_equal(vq_setup(&vq, &table, N, 0x7000000, 0x7000000 + 4096, 0x7000000 + 8192,
				  0, true, true), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(mem);
	return 0;
}

static void offer(uint16_t head)
{
	avail[2 + avail[1] % N] = head;
	avail[1]++;
}

static struct vq_chain c;

static void test_good_chain_and_push(void **state)
{
	(void)state;
	desc[0] = (struct vq_desc_raw){ GPA + 0x4000, 16, VIRTQ_DESC_F_NEXT, 1 };
	desc[1] = (struct vq_desc_raw){ GPA + 0x5000, 4096, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2 };
	desc[2] = (struct vq_desc_raw){ GPA + 0x6000, 1, VIRTQ_DESC_F_WRITE, 0 };
	offer(0);
	assert_int_equal(vq_pop(&vq, &c), 1);
	assert_int_equal(c.nout, 1);
	assert_int_equal(c.nin, 2);
	assert_int_equal(c.in_bytes, 4097);
	assert_ptr_equal(c.iov[0].iov_base, mem + 0x4000);
	assert_int_equal(vq_pop(&vq, &c), 0);
	vq_push(&vq, 0, 4097);
	assert_true(vq_should_notify(&vq));
	assert_false(vq_enable_notify(&vq));
}

static void test_indirect(void **state)
{
	struct vq_desc_raw *t = (struct vq_desc_raw *)(mem + 0x3000);

	(void)state;
	t[0] = (struct vq_desc_raw){ GPA + 0x4000, 16, VIRTQ_DESC_F_NEXT, 1 };
	t[1] = (struct vq_desc_raw){ GPA + 0x6000, 1, VIRTQ_DESC_F_WRITE, 0 };
	desc[3] = (struct vq_desc_raw){ GPA + 0x3000, 32, VIRTQ_DESC_F_INDIRECT, 0 };
	offer(3);
	assert_int_equal(vq_pop(&vq, &c), 1);
	assert_int_equal(c.nout + c.nin, 2);
}

/* Each hostile case gets a fresh ring and must fail with -EIO + broken. */
static void expect_broken(const char *what)
{
	assert_int_equal(vq_pop(&vq, &c), -5);
	assert_true(vq.broken);
	assert_true(vq.why[0] != 0);
	assert_int_equal(vq_pop(&vq, &c), -5); /* stays dead */
	(void)what;
	teardown(NULL);
	setup(NULL);
}

/* recomputed on use: expect_broken() reallocates guest memory */
#define ITBL ((struct vq_desc_raw *)(mem + 0x3000))

static void test_hostile(void **state)
{

	(void)state;
	/* loop */
	desc[0] = (struct vq_desc_raw){ GPA, 16, VIRTQ_DESC_F_NEXT, 1 };
	desc[1] = (struct vq_desc_raw){ GPA, 16, VIRTQ_DESC_F_NEXT, 0 };
	offer(0);
	expect_broken("loop");
	/* next out of range */
	desc[0] = (struct vq_desc_raw){ GPA, 16, VIRTQ_DESC_F_NEXT, N };
	offer(0);
	expect_broken("next");
	/* head out of range */
	offer(N + 3);
	expect_broken("head");
	/* address outside the memory table */
	desc[0] = (struct vq_desc_raw){ GPA + MEM - 8, 16, 0, 0 };
	offer(0);
	expect_broken("oob");
	desc[0] = (struct vq_desc_raw){ 0x1000, 16, 0, 0 };
	offer(0);
	expect_broken("below");
	/* address + length overflows */
	desc[0] = (struct vq_desc_raw){ ~0ull - 4, 16, 0, 0 };
	offer(0);
	expect_broken("overflow");
	/* readable after writable */
	desc[0] = (struct vq_desc_raw){ GPA, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1 };
	desc[1] = (struct vq_desc_raw){ GPA, 1, 0, 0 };
	offer(0);
	expect_broken("order");
	/* avail index far ahead of the ring */
	avail[1] = N + 5;
	expect_broken("avail");
	/* chain too many bytes: 2 x 16 MiB would exceed VQ_MAX_BYTES even if mapped */
	desc[0] = (struct vq_desc_raw){ GPA, 0xffffffffu, 0, 0 };
	offer(0);
	expect_broken("bytes");
	/* indirect: nested, with NEXT, bad length, loop, out of memory */
	ITBL[0] = (struct vq_desc_raw){ GPA + 0x3000, 16, VIRTQ_DESC_F_INDIRECT, 0 };
	desc[0] = (struct vq_desc_raw){ GPA + 0x3000, 16, VIRTQ_DESC_F_INDIRECT, 0 };
	offer(0);
	expect_broken("nested");
	desc[0] = (struct vq_desc_raw){ GPA + 0x3000, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 1 };
	offer(0);
	expect_broken("indirect+next");
	desc[0] = (struct vq_desc_raw){ GPA + 0x3000, 20, VIRTQ_DESC_F_INDIRECT, 0 };
	offer(0);
	expect_broken("indirect len");
	ITBL[0] = (struct vq_desc_raw){ GPA, 16, VIRTQ_DESC_F_NEXT, 1 };
	ITBL[1] = (struct vq_desc_raw){ GPA, 16, VIRTQ_DESC_F_NEXT, 0 };
	desc[0] = (struct vq_desc_raw){ GPA + 0x3000, 32, VIRTQ_DESC_F_INDIRECT, 0 };
	offer(0);
	expect_broken("indirect loop");
	desc[0] = (struct vq_desc_raw){ GPA + MEM - 16, 64, VIRTQ_DESC_F_INDIRECT, 0 };
	offer(0);
	expect_broken("indirect oob");
}

static void test_chain_too_long(void **state)
{
	struct vq_desc_raw *t = (struct vq_desc_raw *)(mem + 0x10000);

	(void)state;
	/* 256 entries is the indirect maximum; 257 is refused. */
	for (int i = 0; i < 257; i++)
		t[i] = (struct vq_desc_raw){ GPA, 1, VIRTQ_DESC_F_NEXT, (uint16_t)(i + 1) };
	desc[0] = (struct vq_desc_raw){ GPA + 0x10000, 257 * 16, VIRTQ_DESC_F_INDIRECT, 0 };
	offer(0);
	expect_broken("long");
}

static void test_setup_checks(void **state)
{
	struct vq q;

	(void)state;
	assert_int_not_equal(vq_setup(&q, &table, 3, 0x7000000, 0x7001000, 0x7002000, 0, false, false), 0);
	assert_int_not_equal(vq_setup(&q, &table, 2048, 0x7000000, 0x7001000, 0x7002000, 0, false, false), 0);
	assert_int_not_equal(vq_setup(&q, &table, 16, 0x7000008, 0x7001000, 0x7002000, 0, false, false), 0);
	assert_int_not_equal(vq_setup(&q, &table, 16, 0x7000000 + MEM - 16, 0x7001000, 0x7002000, 0, false, false), 0);
	assert_int_not_equal(vq_setup(&q, &table, 16, 0x1000, 0x7001000, 0x7002000, 0, false, false), 0);
	assert_null(vq_mem_gpa(&table, ~0ull - 2, 8));
	assert_null(vq_mem_gpa(&table, GPA + MEM, 1));
	assert_non_null(vq_mem_gpa(&table, GPA + MEM - 1, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_chain_and_push, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_setup_checks, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
