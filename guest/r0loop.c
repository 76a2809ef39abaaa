/* guest/r0loop.c: a fixed ring-0 loop of ~2,000,000 instructions. Host
 * tests time the whole run: milliseconds when KVM runs ring 0 natively,
 * seconds when it emulates it (kvm_pvm). */
#include "lib/boot.h"
#include "lib/console.h"
#include "lib/io.h"

#define ITERS 666667	/* 3 instructions each */

int main(void)
{
	uint64_t t0 = rdtsc(), t1;

	__asm__ volatile("mov %0, %%ecx\n"
			 "1: add $1, %%rax\n"
			 "dec %%ecx\n"
			 "jnz 1b\n"
			 : : "i"(ITERS) : "rcx", "rax", "cc");
	t1 = rdtsc();
	printf("r0loop: done (%u instructions, %lu tsc cycles)\n",
	       3 * ITERS, t1 - t0);
	return 0;
}
