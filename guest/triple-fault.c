/* guest/triple-fault.c: makes the CPU triple-fault: empty IDT, then ud2
 * (#UD -> #GP -> #DF -> shutdown), int3 as a second try. ud2 comes first
 * because KVM's instruction emulator (kvm_pvm's emulated ring 0) cannot
 * emulate INT n in protected mode and reports an internal error instead.
 * A VMM must report the shutdown and exit non-zero; a guest still alive
 * afterwards exits 99. */
#include "lib/boot.h"
#include "lib/console.h"

int main(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) empty = { 0, 0 };

	printf("triple-fault: loading an empty IDT, then ud2\n");
	__asm__ volatile("lidt %0; ud2; int3" : : "m"(empty));
	printf("triple-fault: still alive, the CPU did not shut down\n");
	return 99;
}
