/* guest/hello.c: the smallest guest: one line on the serial console and
 * exit 0 through the debug port. Tests use it to check a VMM boots PVH. */
#include "lib/boot.h"
#include "lib/console.h"

int main(void)
{
	printf("hello from guest (cmdline \"%s\")\n", cmdline());
	return 0;
}
