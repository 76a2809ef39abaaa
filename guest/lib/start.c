/* guest/lib/start.c: C side of the boot path: validates start_info, keeps a
 * private copy of the command line, installs exception stubs, runs main()
 * and reports its result through the debug-exit port. */
#include "boot.h"
#include "console.h"
#include "io.h"
#include "mem.h"

#define CMDLINE_MAX 512

static const struct hvm_start_info *start_info;
static char cmdline_buf[CMDLINE_MAX];

struct idt_gate {
	uint16_t off_lo;
	uint16_t sel;
	uint8_t ist;
	uint8_t type;
	uint16_t off_mid;
	uint32_t off_hi;
	uint32_t zero;
} __attribute__((packed));

static struct idt_gate idt[32] __attribute__((aligned(16)));
static trap_fn trap_fns[32];
extern char trap_stubs[];

void guest_start(uint32_t info_pa);

void guest_start(uint32_t info_pa)
{
	const struct hvm_start_info *si = (const void *)(uintptr_t)info_pa;

	serial_init();
	trap_init();
	if (!si || si->magic != HVM_START_MAGIC)
		guest_panic(GUEST_EXIT_BADBOOT, "bad hvm_start_info at %#x",
			    info_pa);
	start_info = si;
	/* Copy it: the loader may have put it where a guest later writes
	 * (the SMP trampoline page, the heap). */
	if (si->cmdline_paddr) {
		const char *c = (const char *)(uintptr_t)si->cmdline_paddr;
		size_t n = 0;

		while (n < CMDLINE_MAX - 1 && c[n])
			n++;
		memcpy(cmdline_buf, c, n);
		cmdline_buf[n] = '\0';
	}
	guest_exit((unsigned int)main());
}

const struct hvm_start_info *boot_info(void)
{
	return start_info;
}

uint64_t boot_ram_end(uint64_t addr)
{
	const struct hvm_memmap_entry *e;

	if (start_info && start_info->version >= 1 && start_info->memmap_paddr) {
		e = (const void *)(uintptr_t)start_info->memmap_paddr;
		for (uint32_t i = 0; i < start_info->memmap_entries; i++)
			if (e[i].type == 1 && addr >= e[i].addr &&
			    addr < e[i].addr + e[i].size)
				return e[i].addr + e[i].size;
	}
	return 32u << 20;
}

const char *cmdline(void)
{
	return cmdline_buf;
}

bool cmdline_get(const char *key, char *buf, unsigned int len)
{
	size_t klen = strlen(key);
	const char *p = cmdline_buf;

	while (*p) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, key, klen) && p[klen] == '=') {
			unsigned int n = 0;

			p += klen + 1;
			while (p[n] && p[n] != ' ' && n + 1 < len) {
				buf[n] = p[n];
				n++;
			}
			buf[n] = '\0';
			return true;
		}
		while (*p && *p != ' ')
			p++;
	}
	return false;
}

/* Decimal or 0x-hex, with an optional k/m/g (binary) suffix. */
uint64_t cmdline_u64(const char *key, uint64_t dflt)
{
	char v[32];
	const char *p = v;
	uint64_t n = 0, base = 10;

	if (!cmdline_get(key, v, sizeof(v)) || !v[0])
		return dflt;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	for (; *p; p++) {
		unsigned int d;

		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			break;
		n = n * base + d;
	}
	switch (*p) {
	case 'k': case 'K': n <<= 10; break;
	case 'm': case 'M': n <<= 20; break;
	case 'g': case 'G': n <<= 30; break;
	}
	return n;
}

void guest_exit(unsigned int code)
{
	outl(GUEST_DEBUG_EXIT_PORT, code);
	/* A VMM without a debug-exit port: stop here. */
	for (;;) {
		if (cpu_cpl() == 0)
			__asm__ volatile("cli; hlt");
		else
			cpu_relax();
	}
}

void guest_panic(unsigned int code, const char *fmt, ...)
{
	va_list ap;

	printf("guest panic: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" (exit %u)\n", code);
	guest_exit(code);
}

void trap_init(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) ptr = { sizeof(idt) - 1, (uintptr_t)idt };

	for (int v = 0; v < 32; v++) {
		uint64_t a = (uintptr_t)trap_stubs + 16 * v;

		idt[v] = (struct idt_gate){
			.off_lo = a & 0xFFFF, .sel = 0x08, .type = 0x8E,
			.off_mid = (a >> 16) & 0xFFFF, .off_hi = a >> 32,
		};
	}
	__asm__ volatile("lidt %0" : : "m"(ptr));
}

/* Ring 3 runs with IOPL=3, but some hosts (kvm_pvm runs guest ring 3 on
 * the host's own ring 3) still raise #GP on IN/OUT. Do the access here and
 * resume: slow (an emulated ring-0 round trip), so only the console and
 * the debug exit use ports from ring 3, never a benchmark's hot loop. */
static bool emulate_port_io(struct trap_frame *f)
{
	const uint8_t *ip = (const uint8_t *)(uintptr_t)f->rip;
	unsigned int len = 1, size = 4;
	uint16_t port;
	uint8_t op;

	if (f->vec != 13 || (f->cs & 3) != 3)
		return false;
	if (ip[0] == 0x66) {
		size = 2;
		ip++;
		len++;
	}
	op = ip[0];
	if (op >= 0xE4 && op <= 0xE7) {
		port = ip[1];
		len++;
	} else if (op >= 0xEC && op <= 0xEF) {
		port = (uint16_t)f->rdx;
	} else {
		return false;
	}
	if (!(op & 1))
		size = 1;
	if (op & 2) {				/* OUT */
		if (size == 1)
			outb(port, (uint8_t)f->rax);
		else if (size == 2)
			outw(port, (uint16_t)f->rax);
		else
			outl(port, (uint32_t)f->rax);
	} else {				/* IN */
		if (size == 1)
			f->rax = (f->rax & ~0xFFull) | inb(port);
		else if (size == 2)
			f->rax = (f->rax & ~0xFFFFull) | inw(port);
		else
			f->rax = inl(port);	/* 32-bit writes zero-extend */
	}
	f->rip += len;
	return true;
}

void trap_handle(struct trap_frame *f);

void trap_set_handler(unsigned int vec, trap_fn fn)
{
	if (vec < 32)
		trap_fns[vec] = fn;
}

void trap_handle(struct trap_frame *f)
{
	if (f->vec < 32 && trap_fns[f->vec] && trap_fns[f->vec](f))
		return;
	if (emulate_port_io(f))
		return;
	guest_panic(GUEST_EXIT_TRAP,
		    "exception %lu err=%#lx rip=%#lx cs=%#lx rsp=%#lx rflags=%#lx",
		    f->vec, f->err, f->rip, f->cs, f->rsp, f->rflags);
}
