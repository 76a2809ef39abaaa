/* guest/smp.c: brings up the APs (cmdline smp=N: N CPUs in all) with
 * INIT-SIPI-SIPI and checks that each one reached long mode. Exit 0 if all
 * N-1 APs checked in within 5 s, 1 otherwise. */
#include "lib/boot.h"
#include "lib/console.h"
#include "lib/cpu.h"

int main(void)
{
	int n = (int)cmdline_u64("smp", 1), up;

	if (n <= 1) {
		printf("smp: 1 cpu requested, nothing to start\n");
		return 0;
	}
	up = smp_start_aps(n - 1, 5000);
	printf("smp: %d of %d APs up\n", up, n - 1);
	return up == n - 1 ? 0 : 1;
}
