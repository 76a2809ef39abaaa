/* guest/lib/cpu.h: TSC frequency, ring-3 entry and AP bring-up. */
#ifndef GUEST_CPU_H
#define GUEST_CPU_H

#include <stdint.h>

/* TSC kHz: hypervisor CPUID leaf 0x40000010, else kvmclock's scale, else
 * CPUID 0x15/0x16, else 20 ms against PIT channel 0. *src names the
 * source; 0 if none worked. Cmdline tsc=pit forces the PIT. */
uint64_t tsc_khz(const char **src);

/* Loads a TSS (RSP0 = the boot stack) and irets to ring 3 with IOPL=3,
 * IF=0, running fn(arg) on a fresh user stack; fn's return value becomes
 * the exit code. Never returns. */
__attribute__((noreturn)) void ring3_run(int (*fn)(void *), void *arg);

/* Starts every AP with INIT-SIPI-SIPI (xAPIC, broadcast excluding self)
 * into a real-mode trampoline at 0x8000; each AP enters long mode,
 * increments the shared counter and halts. Waits up to timeout_ms for
 * `expected` APs; returns how many checked in. */
int smp_start_aps(int expected, uint64_t timeout_ms);

#endif
