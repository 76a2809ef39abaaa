/* serial: the guest console (16550A UART on COM1) and QEMU-compatible
 * isa-debug-exit port — ward-hv's only legacy platform devices. */
#ifndef WARD_HV_SERIAL_H
#define WARD_HV_SERIAL_H

struct vm;

#define SERIAL_COM1_BASE 0x3f8
#define DEBUG_EXIT_PORT  0xf4

/* Register COM1 (output to vm->serial_out_fd) and the debug-exit port. */
int platform_devices_init(struct vm *vm);
/* Flush buffered console output (called when the VM stops). */
void serial_flush(void);

#endif
