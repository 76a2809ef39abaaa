/* guest/lib/cpu.c: TSC calibration, ring-3 entry (TSS + iretq) and AP
 * start-up. Kept short: all of it runs in ring 0, which some KVM hosts
 * (kvm_pvm) emulate at ~1M instructions/s. */
#include "cpu.h"
#include "boot.h"
#include "io.h"
#include "mem.h"

/* ---- TSC frequency ---- */

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v),
			 "d"((uint32_t)(v >> 32)));
}

/* pvclock_vcpu_time_info (KVM's kvmclock ABI). */
struct pvclock {
	uint32_t version, pad0;
	uint64_t tsc_timestamp, system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	uint8_t flags, pad[2];
} __attribute__((packed, aligned(64)));

#define KVM_FEATURE_CLOCKSOURCE2	(1u << 3)
#define MSR_KVM_SYSTEM_TIME_NEW		0x4b564d01

/* kvmclock publishes the exact TSC -> ns scale: ns = (tsc << shift) *
 * mul >> 32, so kHz = 10^6 * 2^32 / mul, shifted back. */
static uint64_t kvmclock_khz(void)
{
	static struct pvclock pv;
	uint32_t r[4];
	uint64_t khz;

	cpuid(0x40000000, 0, r);
	if (r[1] != 0x4b4d564b || r[2] != 0x564b4d56 || r[3] != 0x4d ||
	    r[0] < 0x40000001)
		return 0;
	cpuid(0x40000001, 0, r);
	if (!(r[0] & KVM_FEATURE_CLOCKSOURCE2))
		return 0;
	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (uintptr_t)&pv | 1);
	for (int i = 0; i < 1000 && !*(volatile uint32_t *)&pv.tsc_to_system_mul; i++)
		cpu_relax();
	wrmsr(MSR_KVM_SYSTEM_TIME_NEW, 0);
	if (!pv.tsc_to_system_mul)
		return 0;
	khz = (1000000ull << 32) / pv.tsc_to_system_mul;
	return pv.tsc_shift < 0 ? khz << -pv.tsc_shift : khz >> pv.tsc_shift;
}

static uint16_t pit_ch0_read(void)
{
	uint8_t lo, hi;

	outb(0x43, 0x00);			/* latch channel 0 */
	lo = inb(0x40);
	hi = inb(0x40);
	return (uint16_t)(hi << 8 | lo);
}

/* Counts PIT channel 0 (1193182 Hz, mode 2, full 16-bit period) down for
 * 20 ms against the TSC. Reading the counter needs no speaker port
 * (0x61), which QEMU microvm does not have. 0 if no PIT counts. */
static uint64_t pit_calibrate(void)
{
	const uint32_t ms = 20, ticks = 1193182 * ms / 1000;
	uint32_t elapsed = 0, stuck = 0;
	uint16_t prev, cur;
	uint64_t t0, t1;

	outb(0x43, 0x34);			/* ch 0, lo/hi, mode 2 */
	outb(0x40, 0);
	outb(0x40, 0);				/* count 65536 */
	prev = pit_ch0_read();
	t0 = rdtsc();
	while (elapsed < ticks && stuck < 100000) {
		cur = pit_ch0_read();
		if (cur == prev) {
			stuck++;
			continue;
		}
		elapsed += (uint16_t)(prev - cur);
		prev = cur;
		stuck = 0;
	}
	t1 = rdtsc();
	outb(0x43, 0x30);			/* mode 0, no count: stopped */
	if (elapsed < ticks)
		return 0;
	return (t1 - t0) * 1193182 / elapsed / 1000;
}

uint64_t tsc_khz(const char **src)
{
	uint32_t r[4];
	uint64_t khz;
	char force[8];

	/* tsc=pit on the command line checks the last-resort path. */
	if (cmdline_get("tsc", force, sizeof(force)) && !strncmp(force, "pit", 4))
		goto pit;
	cpuid(0x40000000, 0, r);
	if (r[0] >= 0x40000010 && r[0] < 0x40010000) {
		cpuid(0x40000010, 0, r);
		if (r[0]) {
			*src = "cpuid-0x40000010";
			return r[0];
		}
	}
	khz = kvmclock_khz();
	if (khz) {
		*src = "kvmclock";
		return khz;
	}
	cpuid(0, 0, r);
	if (r[0] >= 0x15) {
		uint32_t max = r[0];

		cpuid(0x15, 0, r);	/* eax=denominator ebx=numerator ecx=Hz */
		if (r[0] && r[1] && r[2]) {
			*src = "cpuid-0x15";
			return (uint64_t)r[2] * r[1] / r[0] / 1000;
		}
		if (max >= 0x16) {
			cpuid(0x16, 0, r);
			if (r[0]) {
				*src = "cpuid-0x16";
				return (uint64_t)r[0] * 1000;
			}
		}
	}
pit:
	khz = pit_calibrate();
	*src = khz ? "pit" : "none";
	return khz;
}

/* ---- ring 3 ---- */

struct tss64 {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

#define SEL_TSS		0x30
#define USER_STACK	(64 * 1024)

extern uint64_t gdt[];
extern char boot_stack_top[];
void ring3_jump(uint64_t rip, uint64_t rsp, uint64_t arg);

static struct tss64 tss __attribute__((aligned(16)));
static int (*ring3_fn)(void *);

static void ring3_entry(void *arg)
{
	guest_exit((unsigned int)ring3_fn(arg));
}

void ring3_run(int (*fn)(void *), void *arg)
{
	uint64_t base = (uintptr_t)&tss, limit = sizeof(tss) - 1;
	uint8_t *stack = mem_alloc(USER_STACK, 4096);

	/* A fault in ring 3 lands on the boot stack and is reported. */
	tss.rsp[0] = (uintptr_t)boot_stack_top;
	/* No I/O bitmap: IOPL=3 already grants ring 3 the ports. */
	tss.iomap_base = sizeof(tss);
	gdt[SEL_TSS / 8] = (limit & 0xFFFF) | (base & 0xFFFFFF) << 16 |
			   0x89ull << 40 | ((limit >> 16) & 0xF) << 48 |
			   ((base >> 24) & 0xFF) << 56;
	gdt[SEL_TSS / 8 + 1] = base >> 32;
	__asm__ volatile("ltr %w0" : : "r"(SEL_TSS));
	ring3_fn = fn;
	/* The stack looks as if ring3_entry had been called: rsp % 16 == 8. */
	ring3_jump((uintptr_t)ring3_entry, (uintptr_t)(stack + USER_STACK - 8),
		   (uintptr_t)arg);
	__builtin_unreachable();
}

/* ---- application processors ---- */

#define AP_TRAMP_BASE	0x8000
#define APIC_SVR	0xF0
#define APIC_ICR_LO	0x300
#define APIC_ICR_HI	0x310
#define ICR_BUSY	(1u << 12)
/* Destination shorthand "all excluding self", level assert. */
#define ICR_INIT	0x000C4500u
#define ICR_SIPI	(0x000C4600u | (AP_TRAMP_BASE >> 12))

extern volatile uint32_t smp_ap_count;
extern char ap_tramp_start[], ap_tramp_end[];

static void delay_us(uint64_t khz, uint64_t us)
{
	uint64_t end = rdtsc() + khz * us / 1000;

	while (rdtsc() < end)
		cpu_relax();
}

static void icr_send(uint64_t apic, uint32_t v)
{
	mmio_write32(apic + APIC_ICR_HI, 0);
	mmio_write32(apic + APIC_ICR_LO, v);
	for (int i = 0; i < 100000 && (mmio_read32(apic + APIC_ICR_LO) & ICR_BUSY); i++)
		cpu_relax();
}

int smp_start_aps(int expected, uint64_t timeout_ms)
{
	uint64_t apic = rdmsr(0x1B) & ~0xFFFull, khz, end;
	const char *src;

	if (expected <= 0)
		return 0;
	khz = tsc_khz(&src);
	if (!khz)
		khz = 1000000;		/* unknown: assume 1 GHz, bounds only */
	memcpy((void *)AP_TRAMP_BASE, ap_tramp_start,
	       (size_t)(ap_tramp_end - ap_tramp_start));
	mmio_write32(apic + APIC_SVR, mmio_read32(apic + APIC_SVR) | 0x100);
	/* Intel SDM 8.4.4.1: INIT, 10 ms, SIPI, 200 us, SIPI. A second SIPI
	 * to an AP that already started is ignored. */
	icr_send(apic, ICR_INIT);
	delay_us(khz, 10000);
	icr_send(apic, ICR_SIPI);
	delay_us(khz, 200);
	icr_send(apic, ICR_SIPI);
	end = rdtsc() + khz * timeout_ms;
	while ((int)smp_ap_count < expected && rdtsc() < end)
		cpu_relax();
	return (int)smp_ap_count;
}
