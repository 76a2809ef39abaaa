/* vm: one KVM virtual machine — the fds, guest memory, vCPUs, and the
 * run/exit state shared by the vCPU threads. One ward-hv process runs
 * exactly one vm. */
#ifndef WARD_HV_VM_H
#define WARD_HV_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <stddef.h>

#include "hv/mem.h"

struct sandbox_cfg;

#define VM_MAX_VCPUS 64

struct vcpu {
	struct vm *vm;
	int id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	int host_cpu;       /* -1: not pinned */
	pthread_t thread;
	bool started;
};

struct vm {
	int kvm_fd;
	int vm_fd;
	struct guest_mem mem;
	int nr_vcpus;
	struct vcpu vcpus[VM_MAX_VCPUS];
	int serial_out_fd;           /* guest console goes here (stdout) */
	int stop_efd;                /* eventfd written by vm_stop() */
	const struct sandbox_cfg *sandbox; /* vCPU threads narrow themselves */
	pthread_mutex_t go_lock;     /* vCPUs wait here until the sandbox is locked */
	pthread_cond_t go_cond;
	bool go;
	int parked;                  /* vCPU threads done with their own set-up */
	/* Set once by the first vCPU to stop the VM (debug exit, shutdown,
	 * fatal error); exit_status is then ward-hv's exit status. */
	atomic_bool stopping;
	int exit_status;
};

/* ward-hv's own exit statuses (a guest's debug-exit value is used as is). */
#define HV_EXIT_SETUP 125   /* bad option or image, KVM setup failed */
#define HV_EXIT_CRASH 126   /* triple fault, internal error, unhandled exit */

/* Request that every vCPU stops; the first caller's status wins. */
void vm_stop(struct vm *vm, int status);

/* IRQ lines (GSIs) used by the platform: 4 = COM1. PCI INTx lines are
 * allocated from VM_PCI_IRQ_BASE upwards (one per device slot). */
#define VM_IRQ_COM1       4
#define VM_PCI_IRQ_BASE   16
#define VM_PCI_IRQ_COUNT  8

/* Raise/lower a GSI on the in-kernel irqchip. */
int vm_irq_line(struct vm *vm, uint32_t gsi, int level);


/* Open /dev/kvm, create the VM with in-kernel irqchip and PIT, and map
 * guest memory of `mem_bytes` into it. */
int vm_create(struct vm *vm, uint64_t mem_bytes, uint64_t huge_page, char *err,
	      size_t errlen);
void vm_destroy(struct vm *vm);

/* vCPUs (vcpu.c) */
int vcpus_create(struct vm *vm, int nr, const int *host_cpus, char *err, size_t errlen);
/* Start the vCPU threads; each pins itself and waits for vcpus_go(). */
int vcpus_start(struct vm *vm, char *err, size_t errlen);
/* Let the vCPUs run: each applies its seccomp filter, then enters KVM_RUN. */
void vcpus_go(struct vm *vm);
/* Kick every vCPU out of KVM_RUN and join the threads. */
void vcpus_stop(struct vm *vm);
void vcpus_destroy(struct vm *vm);

#endif
