/* vcpu: one thread per virtual CPU running KVM_RUN, pinned to its host CPU
 * when asked, with a filtered CPUID, and the exit handling: port I/O and MMIO
 * go to the bus, everything else stops the VM with a clear message. */
#include "hv/vm.h"

#include <errno.h>
#include <linux/kvm.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hv/bus.h"
#include "hv/allowlist.h"
#include "log.h"

#define SIG_VCPU_KICK SIGUSR1

static void kick_handler(int sig) { (void)sig; }

/* Feature bits hidden from guests (leaf 1 ECX): VMX (no nested virt),
 * MONITOR (no mwait-based idle). Leaf 1 ECX bit 31 says "hypervisor". */
#define CPUID1_ECX_MONITOR (1u << 3)
#define CPUID1_ECX_VMX     (1u << 5)
#define CPUID1_ECX_HYPERV  (1u << 31)

static int set_cpuid(struct vcpu *v, int nr_vcpus)
{
	int nent = 256, rc;
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + (size_t)nent * sizeof(struct kvm_cpuid_entry2));

	if (!c)
		return -ENOMEM;
	c->nent = (uint32_t)nent;
	if (ioctl(v->vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		rc = -errno;
		goto out;
	}
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			e->ecx &= ~(CPUID1_ECX_MONITOR | CPUID1_ECX_VMX);
			e->ecx |= CPUID1_ECX_HYPERV;
			/* initial APIC id and logical processor count */
			e->ebx = (e->ebx & 0x0000ffffu) | ((uint32_t)v->id << 24) |
				 ((uint32_t)(nr_vcpus & 0xff) << 16);
			break;
		case 0xb: case 0x1f:
			e->edx = (uint32_t)v->id; /* x2APIC id */
			break;
		case 6:
			e->ecx &= ~1u; /* no APERF/MPERF: not virtualised here */
			break;
		}
	}
	rc = ioctl(v->fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
out:
	free(c);
	return rc;
}

int vcpus_create(struct vm *vm, int nr, const int *host_cpus, char *err, size_t errlen)
{
	int mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	int rc;

	if (mmap_size <= 0) {
		snprintf(err, errlen, "KVM_GET_VCPU_MMAP_SIZE failed: %s", strerror(errno));
		return -EIO;
	}
	for (int i = 0; i < nr; i++) {
		struct vcpu *v = &vm->vcpus[i];

		v->vm = vm;
		v->id = i;
		v->host_cpu = host_cpus ? host_cpus[i] : -1;
		v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)i);
		if (v->fd < 0) {
			rc = -errno;
			snprintf(err, errlen, "KVM_CREATE_VCPU %d failed: %s", i, strerror(errno));
			return rc;
		}
		vm->nr_vcpus = i + 1;
		v->run_size = (size_t)mmap_size;
		v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
		if (v->run == MAP_FAILED) {
			v->run = NULL;
			snprintf(err, errlen, "mapping kvm_run of vCPU %d failed: %s", i, strerror(errno));
			return -ENOMEM;
		}
		rc = set_cpuid(v, nr);
		if (rc) {
			snprintf(err, errlen, "setting CPUID of vCPU %d failed: %s", i, strerror(-rc));
			return rc;
		}
	}
	return 0;
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	uint8_t *data = (uint8_t *)r + r->io.data_offset;
	bool wr = r->io.direction == KVM_EXIT_IO_OUT;

	/* String I/O (rep outsb etc.): KVM hands us `count` elements. */
	for (uint32_t i = 0; i < r->io.count; i++, data += r->io.size)
		if (!bus_dispatch(BUS_PIO, r->io.port, data, r->io.size, wr))
			log_debug("unclaimed port I/O", "port=0x%x size=%u write=%d",
				  r->io.port, r->io.size, wr);
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *r = v->run;

	if (r->mmio.len > 8)
		return;
	if (!bus_dispatch(BUS_MMIO, r->mmio.phys_addr, r->mmio.data, r->mmio.len,
			  r->mmio.is_write))
		log_debug("unclaimed MMIO", "gpa=0x%llx len=%u write=%d",
			  (unsigned long long)r->mmio.phys_addr, r->mmio.len, r->mmio.is_write);
}

static void report_crash(struct vcpu *v, const char *what)
{
	struct kvm_regs regs;
	unsigned long long rip = 0;

	if (ioctl(v->fd, KVM_GET_REGS, &regs) == 0)
		rip = regs.rip;
	fprintf(stderr, "ward-hv: %s on vCPU %d (rip=0x%llx); stopping the VM\n", what, v->id, rip);
	vm_stop(v->vm, HV_EXIT_CRASH);
}

/* KVM_INTERNAL_ERROR_* suberrors. A guest that faults while its exceptions
 * are emulated (hosts whose KVM emulates ring 0) ends here rather than in
 * KVM_EXIT_SHUTDOWN; the message says which. */
static const char *internal_error_name(uint32_t sub)
{
	switch (sub) {
	case KVM_INTERNAL_ERROR_EMULATION:
		return "instruction emulation failed (on hosts that emulate ring 0, a guest fault with no usable IDT ends here)";
	case KVM_INTERNAL_ERROR_SIMUL_EX:
		return "exception while delivering an exception (triple fault)";
	case KVM_INTERNAL_ERROR_DELIVERY_EV:
		return "fault while delivering an event";
	default:
		return "unexpected exit";
	}
}

/* Returns false when the vCPU loop must end. */
static bool handle_exit(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	char what[192];

	switch (r->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(v);
		return true;
	case KVM_EXIT_MMIO:
		handle_mmio(v);
		return true;
	case KVM_EXIT_INTR:
	case KVM_EXIT_HLT: /* in-kernel LAPIC handles HLT; tolerate the exit */
		return true;
	case KVM_EXIT_SHUTDOWN:
		report_crash(v, "guest triple fault (shutdown)");
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		if (r->system_event.type == KVM_SYSTEM_EVENT_CRASH) {
			report_crash(v, "guest reported a crash");
		} else {
			log_info("guest requested power-off/reset", "vcpu=%d type=%u",
				 v->id, r->system_event.type);
			vm_stop(v->vm, 0);
		}
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "KVM entry failure (hardware reason 0x%llx)",
			 (unsigned long long)r->fail_entry.hardware_entry_failure_reason);
		report_crash(v, what);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(what, sizeof(what), "KVM internal error: %s (suberror %u)",
			 internal_error_name(r->internal.suberror), r->internal.suberror);
		report_crash(v, what);
		return false;
	default:
		snprintf(what, sizeof(what), "unhandled KVM exit reason %u", r->exit_reason);
		report_crash(v, what);
		return false;
	}
}

/* A vCPU thread's own set-up (name, pinning, signal mask) uses calls the
 * VMM filter does not allow, so vcpus_start waits for every thread to get
 * here before the filter goes on: without that, a thread that starts late
 * on a loaded host would die of SIGSYS naming itself. */
static void park(struct vcpu *v)
{
	pthread_mutex_lock(&v->vm->go_lock);
	v->vm->parked++;
	pthread_cond_broadcast(&v->vm->go_cond);
	while (!v->vm->go)
		pthread_cond_wait(&v->vm->go_cond, &v->vm->go_lock);
	pthread_mutex_unlock(&v->vm->go_lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	char name[16];
	sigset_t set;

	hv_sandbox_test_forbidden("vcpu-start");
	snprintf(name, sizeof(name), "vcpu%d", v->id);
	pthread_setname_np(pthread_self(), name);

	if (v->host_cpu >= 0) {
		cpu_set_t cpus;

		CPU_ZERO(&cpus);
		CPU_SET(v->host_cpu, &cpus);
		if (sched_setaffinity(0, sizeof(cpus), &cpus) < 0) {
			fprintf(stderr, "ward-hv: cannot pin vCPU %d to host CPU %d: %s\n",
				v->id, v->host_cpu, strerror(errno));
			vm_stop(v->vm, HV_EXIT_SETUP);
			park(v);
			return NULL;
		}
	}
	/* Only this thread's kick signal is unblocked here. */
	sigemptyset(&set);
	sigaddset(&set, SIG_VCPU_KICK);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	park(v);
	if (atomic_load(&v->vm->stopping))
		return NULL;
	if (v->vm->sandbox && hv_sandbox_vcpu(v->vm->sandbox) < 0) {
		fprintf(stderr, "ward-hv: cannot install the vCPU %d seccomp filter\n", v->id);
		vm_stop(v->vm, HV_EXIT_SETUP);
		return NULL;
	}
	hv_sandbox_test_forbidden("vcpu");

	while (!atomic_load(&v->vm->stopping)) {
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			fprintf(stderr, "ward-hv: KVM_RUN on vCPU %d failed: %s\n", v->id, strerror(errno));
			vm_stop(v->vm, HV_EXIT_CRASH);
			break;
		}
		if (!handle_exit(v))
			break;
	}
	return NULL;
}

void vcpus_go(struct vm *vm)
{
	pthread_mutex_lock(&vm->go_lock);
	vm->go = true;
	pthread_cond_broadcast(&vm->go_cond);
	pthread_mutex_unlock(&vm->go_lock);
}

int vcpus_start(struct vm *vm, char *err, size_t errlen)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	int rc;

	sigemptyset(&sa.sa_mask);
	sigaction(SIG_VCPU_KICK, &sa, NULL); /* no SA_RESTART: KVM_RUN must return */
	pthread_mutex_init(&vm->go_lock, NULL);
	pthread_cond_init(&vm->go_cond, NULL);
	for (int i = 0; i < vm->nr_vcpus; i++) {
		rc = pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread, &vm->vcpus[i]);
		if (rc) {
			snprintf(err, errlen, "starting vCPU thread %d: %s", i, strerror(rc));
			vm_stop(vm, HV_EXIT_SETUP);
			vcpus_stop(vm);
			return -rc;
		}
		vm->vcpus[i].started = true;
	}
	pthread_mutex_lock(&vm->go_lock);
	while (vm->parked < vm->nr_vcpus)
		pthread_cond_wait(&vm->go_cond, &vm->go_lock);
	pthread_mutex_unlock(&vm->go_lock);
	return 0;
}

void vcpus_stop(struct vm *vm)
{
	vcpus_go(vm); /* threads still waiting to start see `stopping` and end */
	for (int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (!v->started)
			continue;
		v->run->immediate_exit = 1;
		pthread_kill(v->thread, SIG_VCPU_KICK);
		pthread_join(v->thread, NULL);
		v->started = false;
	}
}

void vcpus_destroy(struct vm *vm)
{
	for (int i = 0; i < VM_MAX_VCPUS; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (v->run)
			munmap(v->run, v->run_size);
		if (v->vm && v->fd >= 0)
			close(v->fd);
		v->run = NULL;
		v->fd = -1;
	}
}
