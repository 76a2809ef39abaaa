/* test_boot_real: boot_load on a stock Linux bzImage (Debian's kernel,
 * fetched by real-kernel.sh) — the loader must accept what distributions
 * ship and fill the zero page the way boot.rst asks — and, where /dev/kvm
 * works, that kernel's decompressor must start from our entry state and
 * print on the serial port. The same kernel's uncompressed vmlinux (taken
 * out of the bzImage by extract-vmlinux.sh) must load as a PVH ELF: the
 * way linux-boot boots Linux first, without the decompressor. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "boot_test.h"
#include "hv/boot/boot.h"
#include "hv/boot/boot_priv.h"

static const char *kernel_path, *vmlinux_path;

static uint8_t *read_file(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc(st.st_size);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, st.st_size), st.st_size);
	close(fd);
	*len = st.st_size;
	return buf;
}

static void test_stock_kernel(void **state)
{
	struct guest_mem *m = tmem_create(512 * MIB);
	struct boot_image bi = { .cmdline = "console=ttyS0 panic=-1" };
	size_t len, pm_off, initrd_len = 3 * MIB + 123;
	uint8_t *k = read_file(kernel_path, &len), *initrd, *zp;
	uint64_t pref, init_size, rd;
	struct boot_entry e;
	char err[256];

	initrd = malloc(initrd_len);
	assert_non_null(initrd);
	for (size_t i = 0; i < initrd_len; i++)
		initrd[i] = (uint8_t)(i * 31);
	bi.kernel = k, bi.kernel_len = len;
	bi.initrd = initrd, bi.initrd_len = initrd_len;
	if (boot_load(m, &bi, 2, &e, err, sizeof(err)))
		fail_msg("boot_load: %s", err);
	print_message("kernel protocol %x, entry 0x%llx\n", get16(k + 0x206),
		      (unsigned long long)e.entry);

	pref = get64(k + 0x258);
	init_size = get32(k + 0x260);
	pm_off = (size_t)((k[0x1f1] ? k[0x1f1] : 4) + 1) * 512;
	assert_int_equal(e.mode, BOOT_LINUX64);
	/* relocatable distribution kernel: loaded where it wants to run */
	assert_int_equal(e.entry, pref + 0x200);
	assert_memory_equal(tmem_at(m, pref), k + pm_off, len - pm_off);

	zp = tmem_at(m, e.boot_arg);
	assert_memory_equal(zp + 0x202, "HdrS", 4);
	assert_true(get16(zp + 0x206) >= 0x020c);
	assert_int_equal(zp[0x210], 0xff);
	assert_true(get16(zp + 0x236) & 1);
	assert_int_equal(get32(zp + 0x214), pref);
	assert_string_equal((char *)tmem_at(m, get32(zp + 0x228)), bi.cmdline);
	rd = get32(zp + 0x218);
	assert_int_equal(get32(zp + 0x21c), initrd_len);
	assert_int_equal(rd & 0xfff, 0);
	assert_true(rd >= pref + init_size);
	assert_true(rd + initrd_len <= get32(k + 0x22c) + 1ULL);
	assert_memory_equal(tmem_at(m, rd), initrd, initrd_len);
	assert_int_equal(zp[0x1e8], 4);
	assert_int_equal(get64(zp + 0x2d0 + 2 * 20 + 8), 511 * MIB);

	/* 64 MiB cannot hold its decompressed size: refused, not overrun */
	tmem_destroy(m);
	m = tmem_create(64 * MIB);
	bi.initrd = NULL, bi.initrd_len = 0;
	assert_int_equal(boot_load(m, &bi, 1, &e, err, sizeof(err)), -ENOMEM);
	assert_non_null(strstr(err, "init_size"));
	free(initrd);
	free(k);
	tmem_destroy(m);
}

/* The Xen PHYS32_ENTRY note (type 18) of an ELF64 vmlinux, found here
 * independently of the loader's parser; 0 if there is none. */
static uint64_t pvh_note_entry(const uint8_t *k, size_t len)
{
	uint64_t phoff = get64(k + 0x20);
	uint16_t phnum = get16(k + 0x38);

	for (uint16_t i = 0; i < phnum; i++) {
		const uint8_t *ph = k + phoff + 56ull * i;
		uint64_t off = get64(ph + 8), end = off + get64(ph + 32);

		if (get32(ph) != 4 /* PT_NOTE */)
			continue;
		assert_true(end <= len);
		while (off + 12 <= end) {
			uint32_t namesz = get32(k + off), descsz = get32(k + off + 4);
			uint32_t type = get32(k + off + 8);
			uint64_t desc = off + 12 + ((namesz + 3) & ~3u);

			if (type == 18 && namesz == 4 && !memcmp(k + off + 12, "Xen", 4))
				return descsz == 8 ? get64(k + desc) : get32(k + desc);
			off = desc + ((descsz + 3) & ~3u);
		}
	}
	return 0;
}

static void test_stock_vmlinux(void **state)
{
	struct guest_mem *m = tmem_create(512 * MIB);
	struct boot_image bi = { .cmdline = "console=ttyS0 earlyprintk=serial panic=-1" };
	size_t len, initrd_len = 2 * MIB + 17;
	uint8_t *k = read_file(vmlinux_path, &len), *initrd, *si;
	uint64_t phoff, note_entry;
	uint16_t phnum;
	struct boot_entry e;
	char err[256];
	int loads = 0;

	/* What a distribution's vmlinux is: ELF64 x86-64 ET_EXEC with a PVH
	 * entry note (CONFIG_PVH), else linux-boot could not boot it. */
	assert_true(len > 0x40);
	assert_memory_equal(k, "\x7f" "ELF", 4);
	assert_int_equal(k[4], 2);
	assert_int_equal(get16(k + 0x10), 2);
	assert_int_equal(get16(k + 0x12), 62);
	note_entry = pvh_note_entry(k, len);
	if (!note_entry)
		fail_msg("%s has no Xen PHYS32_ENTRY note: kernel built without CONFIG_PVH", vmlinux_path);

	initrd = malloc(initrd_len);
	assert_non_null(initrd);
	for (size_t i = 0; i < initrd_len; i++)
		initrd[i] = (uint8_t)(i * 7 + 3);
	bi.kernel = k, bi.kernel_len = len;
	bi.initrd = initrd, bi.initrd_len = initrd_len;
	if (boot_load(m, &bi, 2, &e, err, sizeof(err)))
		fail_msg("boot_load of the vmlinux: %s", err);
	print_message("vmlinux PVH entry 0x%llx\n", (unsigned long long)e.entry);
	assert_int_equal(e.mode, BOOT_PVH);
	assert_int_equal(e.entry, note_entry);

	/* every PT_LOAD at its physical address, its bss tail zeroed */
	phoff = get64(k + 0x20);
	phnum = get16(k + 0x38);
	for (uint16_t i = 0; i < phnum; i++) {
		const uint8_t *ph = k + phoff + 56ull * i;
		uint64_t off = get64(ph + 8), pa = get64(ph + 24);
		uint64_t filesz = get64(ph + 32), memsz = get64(ph + 40);
		const uint8_t *g;

		if (get32(ph) != 1 /* PT_LOAD */)
			continue;
		loads++;
		assert_true(off + filesz <= len);
		assert_memory_equal(tmem_at(m, pa), k + off, filesz);
		g = tmem_at(m, pa + filesz);
		for (uint64_t b = 0; b < memsz - filesz; b++)
			if (g[b])
				fail_msg("segment %u: bss byte 0x%llx not zero", i,
					 (unsigned long long)(pa + filesz + b));
	}
	assert_true(loads >= 2);

	/* hvm_start_info v1: command line, memory map, the initrd as module 0 */
	si = tmem_at(m, e.boot_arg);
	assert_int_equal(get32(si), 0x336ec578);
	assert_true(get32(si + 4) >= 1);
	assert_string_equal((char *)tmem_at(m, get64(si + 24)), bi.cmdline);
	assert_int_equal(get32(si + 12), 1);
	assert_true(get32(si + 48) >= 3);
	{
		const uint8_t *mod = tmem_at(m, get64(si + 16));

		assert_int_equal(get64(mod + 8), initrd_len);
		assert_memory_equal(tmem_at(m, get64(mod)), initrd, initrd_len);
	}

	/* 64 MiB cannot hold its segments: refused, not overrun */
	tmem_destroy(m);
	m = tmem_create(64 * MIB);
	bi.initrd = NULL, bi.initrd_len = 0;
	assert_true(boot_load(m, &bi, 1, &e, err, sizeof(err)) < 0);
	print_message("in 64 MiB: %s\n", err);
	free(initrd);
	free(k);
	tmem_destroy(m);
}

static void on_alarm(int sig) { (void)sig; }

/* Run until `want` shows up on COM1 or `secs` pass; the console so far is
 * in con. Only what the decompressor touches is emulated: the 16550's THR
 * and LSR (always ready); other port reads give all-ones. */
static bool run_until(struct tvm *v, const char *want, int secs,
		      char *con, size_t conlen)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL,
				.sigev_signo = SIGALRM };
	struct itimerspec its = { { 1, 0 }, { 1, 0 } };
	time_t end = time(NULL) + secs;
	size_t n = 0;
	timer_t t;
	bool found = false;

	con[0] = '\0';
	sigaction(SIGALRM, &sa, NULL);
	assert_int_equal(timer_create(CLOCK_MONOTONIC, &sev, &t), 0);
	timer_settime(t, 0, &its, NULL);
	while (!found && time(NULL) < end) {
		struct kvm_run *r = v->run;
		uint8_t *d;

		if (ioctl(v->vcpu, KVM_RUN, 0) < 0) {
			assert_int_equal(errno, EINTR);
			continue;
		}
		if (r->exit_reason == KVM_EXIT_MMIO)
			continue;
		if (r->exit_reason != KVM_EXIT_IO) {
			print_message("console: %s\n", con);
			fail_msg("kernel stopped: exit reason %u", r->exit_reason);
		}
		d = (uint8_t *)r + r->io.data_offset;
		if (r->io.direction == KVM_EXIT_IO_IN) {
			memset(d, r->io.port == 0x3fd ? 0x60 : 0xff,
			       (size_t)r->io.size * r->io.count);
		} else if (r->io.port == 0x3f8 && n + 1 < conlen) {
			con[n++] = (char)d[0];
			con[n] = '\0';
			found = strstr(con, want) != NULL;
		}
	}
	timer_delete(t);
	signal(SIGALRM, SIG_DFL);
	return found;
}

static void test_stock_kernel_starts(void **state)
{
	struct boot_image bi = { .cmdline = "console=ttyS0 earlyprintk=serial nokaslr" };
	static char con[4096];
	struct boot_entry e;
	struct tvm v;
	char err[256];
	size_t len;
	uint8_t *k = read_file(kernel_path, &len);
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm = -1;

	if (fd >= 0)
		vm = ioctl(fd, KVM_CREATE_VM, 0);
	if (vm >= 0)
		close(vm);
	if (fd >= 0)
		close(fd);
	if (vm < 0) {
		free(k);
		print_message("no usable /dev/kvm: not running the kernel\n");
		skip();
	}
	bi.kernel = k, bi.kernel_len = len;
	tvm_open(&v, 256 * MIB);
	if (boot_load(v.mem, &bi, 1, &e, err, sizeof(err)) ||
	    boot_setup_vcpu(v.vcpu, &e, v.mem, err, sizeof(err)))
		fail_msg("%s", err);
	/* The decompressor's first line: it read our command line through
	 * the zero page, from 64-bit code at our entry, and found COM1.
	 * Seconds even where ring 0 is emulated. */
	if (!run_until(&v, "KASLR disabled", 120, con, sizeof(con)))
		fail_msg("no decompressor output in 120 s; console: \"%s\"", con);
	tvm_close(&v);
	free(k);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stock_kernel),
		cmocka_unit_test(test_stock_kernel_starts),
		cmocka_unit_test(test_stock_vmlinux),
	};

	if (argc != 3) {
		fprintf(stderr, "usage: %s VMLINUZ VMLINUX\n", argv[0]);
		return 2;
	}
	kernel_path = argv[1];
	vmlinux_path = argv[2];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
