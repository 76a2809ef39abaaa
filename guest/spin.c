/* guest/spin.c: prints "spin: running" and then loops forever in ring 3,
 * so tests can inspect a live VMM (threads, seccomp, memory). */
#include "lib/boot.h"
#include "lib/console.h"
#include "lib/cpu.h"
#include "lib/io.h"

static int spin(void *arg)
{
	for (;;)
		cpu_relax();
	return 0;
}

int main(void)
{
	printf("spin: running\n");
	ring3_run(spin, NULL);
}
