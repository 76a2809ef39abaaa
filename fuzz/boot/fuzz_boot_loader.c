/* fuzz_boot_loader: libFuzzer harness for boot_load (src/hv/boot), the
 * parser of untrusted kernel images. Input: byte 0 picks the vCPU count,
 * bytes 1-2 the initrd length, byte 3 the command-line length; then the
 * command line, the initrd, and the rest is the kernel image. Seeds come
 * from make_corpus.py (fuzz/corpus/boot_loader). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hv/boot/boot.h"
#include "hv/vm.h"

#define FUZZ_MEM (32ULL << 20)

static struct guest_mem mem;

static void mem_init(void)
{
	mem.fd = -1;
	mem.host = mmap(NULL, FUZZ_MEM, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem.host == MAP_FAILED)
		abort();
	mem.size = mem.low = FUZZ_MEM;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct boot_image img = { 0 };
	struct boot_entry e;
	char cmdline[256], err[256];
	size_t initrd_len, cmd_len;
	int nr_vcpus;

	if (!mem.host)
		mem_init();
	if (size < 4)
		return 0;
	nr_vcpus = 1 + data[0] % VM_MAX_VCPUS;
	initrd_len = (size_t)data[1] | (size_t)data[2] << 8;
	cmd_len = data[3];
	data += 4, size -= 4;
	if (cmd_len > size)
		cmd_len = size;
	memcpy(cmdline, data, cmd_len);
	cmdline[cmd_len] = '\0';
	data += cmd_len, size -= cmd_len;
	if (initrd_len > size)
		initrd_len = size;
	img.initrd = initrd_len ? data : NULL;
	img.initrd_len = initrd_len;
	data += initrd_len, size -= initrd_len;
	img.kernel = data;
	img.kernel_len = size;
	img.cmdline = cmdline;

	if (boot_load(&mem, &img, nr_vcpus, &e, err, sizeof(err)) == 0) {
		/* Success promises an entry inside RAM and a boot argument
		 * among the tables: check what the hypervisor will rely on. */
		if (!mem_gpa(&mem, e.entry, 1) || !mem_gpa(&mem, e.boot_arg, 1))
			abort();
	} else if (!err[0]) {
		abort();        /* every refusal must say why */
	}
	return 0;
}
