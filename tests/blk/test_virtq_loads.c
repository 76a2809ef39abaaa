/* test_virtq_loads: vq_pop fetches every field of every descriptor from
 * guest memory with exactly one load of its own (the XSA-155 class: a block
 * copy out of memory whose volatile was cast away leaves the compiler free
 * to fetch a field again after it was checked).
 *
 * How it is measured, on the real compiled code: the page that holds the
 * descriptor table (and an indirect table) is made inaccessible while
 * vq_pop runs; every instruction that touches it faults, the handler
 * records the address it touched, opens the page and single-steps that one
 * instruction with the x86 trap flag, then closes the page again. A pop
 * must then show one access starting at each of addr (+0), len (+8),
 * flags (+12) and next (+14) of each descriptor it walked, and no other
 * access — a 16-byte block copy (one or two loads at +0, or at +0 and +8)
 * does not pass. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>
#include <cmocka.h>

#include "virtq.h"

#if defined(__x86_64__)

#define N      16
#define MEMSZ  (1u << 20)
#define GPA    0x100000ull
#define UVA    0x7000000ull
#define ITBL   0x800          /* indirect table: same page as the ring's table */
#define MAXLOG 256

static uint8_t *mem;
static struct vq_mem table;
static struct vq vq;
static struct vq_desc_raw *desc;
static uint16_t *avail;
static struct vq_chain chain;

/* Written by the signal handlers only while a pop is traced. */
static volatile sig_atomic_t tracing, stepping;
static volatile size_t nlog;
static volatile uintptr_t logged[MAXLOG];

#define TRAP_FLAG 0x100

static void on_segv(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	uintptr_t a = (uintptr_t)si->si_addr;

	if (!tracing || a < (uintptr_t)mem || a >= (uintptr_t)mem + 4096) {
		signal(sig, SIG_DFL); /* a real crash: let it happen */
		return;
	}
	if (nlog < MAXLOG)
		logged[nlog] = a - (uintptr_t)mem;
	nlog = nlog + 1;
	mprotect(mem, 4096, PROT_READ | PROT_WRITE);
	uc->uc_mcontext.gregs[REG_EFL] |= TRAP_FLAG;
	stepping = 1;
}

static void on_trap(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	(void)si;
	if (!stepping) {
		signal(sig, SIG_DFL);
		return;
	}
	uc->uc_mcontext.gregs[REG_EFL] &= ~(greg_t)TRAP_FLAG;
	stepping = 0;
	mprotect(mem, 4096, PROT_NONE);
}

/* Installed around each traced pop only: cmocka sets its own SIGSEGV
 * handler for every test. */
static struct sigaction old_segv, old_trap;

static void trace_begin(void)
{
	struct sigaction sa = { .sa_flags = SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	sa.sa_sigaction = on_segv;
	assert_int_equal(sigaction(SIGSEGV, &sa, &old_segv), 0);
	sa.sa_sigaction = on_trap;
	assert_int_equal(sigaction(SIGTRAP, &sa, &old_trap), 0);
}

static void trace_end(void)
{
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGTRAP, &old_trap, NULL);
}

static int setup(void **state)
{
	(void)state;
	mem = mmap(NULL, MEMSZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(mem != MAP_FAILED);
	table.nregions = 1;
	table.r[0] = (struct vq_region){ .gpa = GPA, .size = MEMSZ, .uva = UVA, .host = mem };
	desc = (struct vq_desc_raw *)mem;
	avail = (uint16_t *)(mem + 4096);
	assert_int_equal(vq_setup(&vq, &table, N, UVA, UVA + 4096, UVA + 8192, 0, true, true), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	munmap(mem, MEMSZ);
	return 0;
}

static void offer(uint16_t head)
{
	avail[2 + avail[1] % N] = head;
	avail[1]++;
}

/* vq_pop with every access to the descriptor page recorded. */
static int traced_pop(void)
{
	int rc;

	nlog = 0;
	trace_begin();
	tracing = 1;
	assert_int_equal(mprotect(mem, 4096, PROT_NONE), 0);
	rc = vq_pop(&vq, &chain);
	assert_int_equal(mprotect(mem, 4096, PROT_READ | PROT_WRITE), 0);
	tracing = 0;
	trace_end();
	assert_false(stepping);
	return rc;
}

static int cmp_uptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

/* The recorded accesses must be exactly one at each field of each of the
 * descriptors at byte offsets offs[0..n). */
static void expect_one_load_per_field(const uintptr_t *offs, size_t n)
{
	uintptr_t want[4 * 8], got[MAXLOG];
	static const uintptr_t field[4] = {
		offsetof(struct vq_desc_raw, addr), offsetof(struct vq_desc_raw, len),
		offsetof(struct vq_desc_raw, flags), offsetof(struct vq_desc_raw, next),
	};

	assert_true(n <= 8 && nlog <= MAXLOG);
	for (size_t i = 0; i < n; i++)
		for (size_t f = 0; f < 4; f++)
			want[4 * i + f] = offs[i] + field[f];
	for (size_t i = 0; i < nlog; i++)
		got[i] = logged[i];
	qsort(want, 4 * n, sizeof(want[0]), cmp_uptr);
	qsort(got, nlog, sizeof(got[0]), cmp_uptr);
	if (nlog != 4 * n || memcmp(got, want, sizeof(want[0]) * 4 * n))
		for (size_t i = 0; i < nlog; i++)
			print_message("  load at table offset +%lu\n", (unsigned long)got[i]);
	assert_int_equal(nlog, 4 * n);
	assert_memory_equal(got, want, sizeof(want[0]) * 4 * n);
}

static void test_chain_loads(void **state)
{
	static const uintptr_t offs[3] = { 0 * 16, 5 * 16, 9 * 16 };

	(void)state;
	desc[0] = (struct vq_desc_raw){ GPA + 0x4000, 16, VIRTQ_DESC_F_NEXT, 5 };
	desc[5] = (struct vq_desc_raw){ GPA + 0x5000, 4096, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 9 };
	desc[9] = (struct vq_desc_raw){ GPA + 0x6000, 1, VIRTQ_DESC_F_WRITE, 0 };
	offer(0);
	assert_int_equal(traced_pop(), 1);
	assert_int_equal(chain.nout, 1);
	assert_int_equal(chain.nin, 2);
	assert_int_equal(chain.in_bytes, 4097);
	expect_one_load_per_field(offs, 3);
}

static void test_indirect_loads(void **state)
{
	struct vq_desc_raw *t = (struct vq_desc_raw *)(mem + ITBL);
	static const uintptr_t offs[3] = { 3 * 16, ITBL, ITBL + 16 };

	(void)state;
	t[0] = (struct vq_desc_raw){ GPA + 0x4000, 16, VIRTQ_DESC_F_NEXT, 1 };
	t[1] = (struct vq_desc_raw){ GPA + 0x6000, 512, VIRTQ_DESC_F_WRITE, 0 };
	desc[3] = (struct vq_desc_raw){ GPA + ITBL, 32, VIRTQ_DESC_F_INDIRECT, 0 };
	offer(3);
	assert_int_equal(traced_pop(), 1);
	assert_int_equal(chain.nout, 1);
	assert_int_equal(chain.nin, 1);
	assert_int_equal(chain.in_bytes, 512);
	expect_one_load_per_field(offs, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_chain_loads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_loads, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
#else
int main(void)
{
	printf("SKIP: needs the x86-64 trap flag to single-step the loads of vq_pop\n");
	return 77;
}
#endif
