/* guest/lib/boot.h: what every guest gets from the boot path: the PVH
 * start_info, the command line, RAM size, exception reporting, exit codes
 * through the debug-exit port (0xF4: QEMU isa-debug-exit, ward-hv). */
#ifndef GUEST_BOOT_H
#define GUEST_BOOT_H

#include <stdbool.h>
#include <stdint.h>

#define HVM_START_MAGIC 0x336ec578

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;		/* version >= 1 */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;			/* 1 = RAM */
	uint32_t reserved;
};

/* Exit codes shared by all guests (value written to port 0xF4; under QEMU
 * the process exit status is (value << 1) | 1). Guests use 0..63 for their
 * own results; the library's own failures sit above. */
enum {
	GUEST_EXIT_OK = 0,
	GUEST_EXIT_BADBOOT = 120,	/* start_info magic wrong */
	GUEST_EXIT_NOMEM = 121,
	GUEST_EXIT_TRAP = 122,		/* unexpected CPU exception */
	GUEST_EXIT_RETURNED = 123,	/* ring-3 code fell off its end */
};

#define GUEST_DEBUG_EXIT_PORT 0xF4

/* Each guest provides this; its return value is the exit code. */
int main(void);

const struct hvm_start_info *boot_info(void);
/* End of the RAM region holding addr (from the memmap; 32 MiB if none). */
uint64_t boot_ram_end(uint64_t addr);

/* Command line: space-separated key=value words. */
const char *cmdline(void);
bool cmdline_get(const char *key, char *buf, unsigned int len);
uint64_t cmdline_u64(const char *key, uint64_t dflt);

/* Works from ring 0 and from ring 3 (IOPL=3). */
__attribute__((noreturn)) void guest_exit(unsigned int code);
__attribute__((noreturn, format(printf, 2, 3)))
void guest_panic(unsigned int code, const char *fmt, ...);

/* Empty IDT limit is the triple-fault guest's business; the others get
 * stubs that print the exception and exit GUEST_EXIT_TRAP. */
void trap_init(void);

/* What trap_common in boot.S pushes: the GPRs, then vector and error code
 * (0 for vectors without one), then the CPU's interrupt frame. */
struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rdi, rsi, rbp, rbx, rdx, rcx, rax;
	uint64_t vec, err, rip, cs, rflags, rsp, ss;
};

/* A guest's own handler for exception `vec` (0-31): it returns true when
 * it dealt with the exception (it may move f->rip to resume elsewhere) and
 * the stub irets; false falls through to the report and GUEST_EXIT_TRAP. */
typedef bool (*trap_fn)(struct trap_frame *f);
void trap_set_handler(unsigned int vec, trap_fn fn);

#endif
