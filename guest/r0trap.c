/* guest/r0trap.c: capability probe for booting Linux. Raises int3 (#BP) and
 * a page fault (#PF) in ring 0 with handlers in the guest's own IDT and exits
 * 0 only if both handlers ran with the frame the CPU must push. Linux needs
 * this from its first instructions on (int3_selftest, exception fixups); a
 * host whose KVM emulates guest ring 0 without delivering the exceptions it
 * raises fails here in milliseconds instead of in a 300 s Linux boot.
 *
 * Exit values: 0 both delivered; 1 int3 went past without its handler; 2 the
 * #BP handler saw a wrong frame; 3 the load from an unmapped address returned
 * without a fault; 4 the #PF handler saw a wrong frame. A host that cannot
 * deliver them at all never gets to exit: ward-hv reports the crash (126).
 * Cmdline `trap=int3` or `trap=pf` runs one probe only. */
#include "lib/boot.h"
#include "lib/console.h"
#include "lib/io.h"
#include "lib/mem.h"

enum {
	R0TRAP_OK = 0,
	R0TRAP_BP_MISSED = 1,
	R0TRAP_BP_FRAME = 2,
	R0TRAP_PF_MISSED = 3,
	R0TRAP_PF_FRAME = 4,
	R0TRAP_USAGE = 5,
};

/* Above the 4 GiB the boot path maps: PDPT entry 5 is not present, so a
 * supervisor read there is a not-present #PF (error code 0). */
#define PF_ADDR ((uint64_t)0x140000008)

/* Labels in the probes' asm, so the handlers can check the CPU's saved RIP
 * exactly (and the #PF one can resume past the faulting load). */
extern const char r0trap_bp_after[], r0trap_pf_insn[], r0trap_pf_resume[];

static volatile unsigned int bp_seen, pf_seen;
static volatile uint64_t bp_rip, bp_cs, pf_rip, pf_cs, pf_err, pf_cr2;

static bool on_bp(struct trap_frame *f)
{
	bp_seen++;
	bp_rip = f->rip;	/* #BP is a trap: RIP is past the int3 */
	bp_cs = f->cs;
	return true;
}

static bool on_pf(struct trap_frame *f)
{
	uint64_t cr2;

	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	pf_seen++;
	pf_rip = f->rip;	/* #PF is a fault: RIP is the load itself */
	pf_cs = f->cs;
	pf_err = f->err;
	pf_cr2 = cr2;
	if (f->rip != (uintptr_t)r0trap_pf_insn)
		return false;	/* not our load: report it as unexpected */
	f->rip = (uintptr_t)r0trap_pf_resume;
	return true;
}

/* noinline/noclone: each asm label must be emitted exactly once. */
static __attribute__((noinline, noclone)) int probe_bp(void)
{
	trap_set_handler(3, on_bp);
	printf("r0trap: probing int3 in ring 0\n");
	__asm__ volatile("int3\n"
			 ".globl r0trap_bp_after\n"
			 "r0trap_bp_after:\n" ::: "memory");
	trap_set_handler(3, 0);
	if (!bp_seen) {
		printf("r0trap: int3 went past without the #BP handler running\n");
		return R0TRAP_BP_MISSED;
	}
	if (bp_seen != 1 || bp_rip != (uintptr_t)r0trap_bp_after || (bp_cs & 3)) {
		printf("r0trap: #BP handler ran %u times with rip=%#lx cs=%#lx, want once with rip=%p cs=ring 0\n",
		       bp_seen, bp_rip, bp_cs, r0trap_bp_after);
		return R0TRAP_BP_FRAME;
	}
	printf("r0trap: int3 delivered (rip=%#lx)\n", bp_rip);
	return R0TRAP_OK;
}

static __attribute__((noinline, noclone)) int probe_pf(void)
{
	uint64_t v = 0x5a5a5a5a5a5a5a5aull;

	trap_set_handler(14, on_pf);
	printf("r0trap: probing #PF in ring 0 (read of %#lx)\n", PF_ADDR);
	/* The handler resumes at r0trap_pf_resume, so v keeps its value. */
	__asm__ volatile(".globl r0trap_pf_insn, r0trap_pf_resume\n"
			 "r0trap_pf_insn: movq (%1), %0\n"
			 "r0trap_pf_resume:\n"
			 : "+r"(v) : "r"(PF_ADDR) : "memory");
	trap_set_handler(14, 0);
	if (!pf_seen) {
		printf("r0trap: read of unmapped %#lx gave %#lx without a #PF\n",
		       PF_ADDR, v);
		return R0TRAP_PF_MISSED;
	}
	/* err: not present, read, supervisor, no reserved bit, data access */
	if (pf_seen != 1 || pf_cr2 != PF_ADDR || (pf_err & 0x1f) || (pf_cs & 3) ||
	    v != 0x5a5a5a5a5a5a5a5aull) {
		printf("r0trap: #PF handler ran %u times with cr2=%#lx err=%#lx cs=%#lx, want once with cr2=%#lx err=0 cs=ring 0\n",
		       pf_seen, pf_cr2, pf_err, pf_cs, PF_ADDR);
		return R0TRAP_PF_FRAME;
	}
	printf("r0trap: #PF delivered (cr2=%#lx err=%#lx rip=%#lx)\n",
	       pf_cr2, pf_err, pf_rip);
	return R0TRAP_OK;
}

int main(void)
{
	char which[8] = "both";
	bool all;
	int rc;

	cmdline_get("trap", which, sizeof(which));
	all = !strncmp(which, "both", 5);
	if (!all && strncmp(which, "int3", 5) && strncmp(which, "pf", 3)) {
		printf("r0trap: trap=%s: want int3, pf or both\n", which);
		return R0TRAP_USAGE;
	}
	if (all || !strncmp(which, "int3", 5)) {
		rc = probe_bp();
		if (rc)
			return rc;
	}
	if (all || !strncmp(which, "pf", 3)) {
		rc = probe_pf();
		if (rc)
			return rc;
	}
	printf("r0trap: ok: ring-0 exceptions reach the guest's IDT (%s)\n", which);
	return R0TRAP_OK;
}
