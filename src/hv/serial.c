/* serial: a 16550A UART model, output only (the guest console), with the
 * THR-empty interrupt Linux's 8250 driver needs, plus the debug-exit port.
 * Register semantics follow the National Semiconductor PC16550D datasheet. */
#include "hv/serial.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "hv/bus.h"
#include "hv/vm.h"
#include "log.h"

enum { RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

#define IER_THRI    0x02
#define IIR_NO_INT  0x01
#define IIR_THRI    0x02
#define IIR_FIFO    0xc0
#define LCR_DLAB    0x80
#define MCR_LOOP    0x10
#define LSR_THRE    0x20
#define LSR_TEMT    0x40

struct uart {
	struct vm *vm;
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	bool thri_pending;   /* THR-empty interrupt waiting to be read from IIR */
	char buf[256];
	size_t len;
};

static struct uart com1;

static void uart_flush(struct uart *u)
{
	size_t off = 0;

	while (off < u->len) {
		ssize_t n = write(u->vm->serial_out_fd, u->buf + off, u->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* console gone: drop output, keep the guest running */
		off += (size_t)n;
	}
	u->len = 0;
}

void serial_flush(void)
{
	if (com1.vm)
		uart_flush(&com1);
}

/* The line is edge-triggered on the IOAPIC for ISA IRQs: pulse it. */
static void uart_update_irq(struct uart *u)
{
	if ((u->ier & IER_THRI) && u->thri_pending) {
		vm_irq_line(u->vm, VM_IRQ_COM1, 1);
		vm_irq_line(u->vm, VM_IRQ_COM1, 0);
	}
}

static void uart_write(struct uart *u, unsigned int reg, uint8_t v)
{
	if ((u->lcr & LCR_DLAB) && reg <= IER) {
		if (reg == RBR_THR)
			u->dll = v;
		else
			u->dlm = v;
		return;
	}
	switch (reg) {
	case RBR_THR:
		if (u->mcr & MCR_LOOP)
			break; /* loopback: the byte never leaves the UART */
		u->buf[u->len++] = (char)v;
		if (v == '\n' || u->len == sizeof(u->buf))
			uart_flush(u);
		u->thri_pending = true;
		uart_update_irq(u);
		break;
	case IER:
		u->ier = v & 0x0f;
		/* Enabling THRI while THR is empty raises it at once (8250 drivers
		 * rely on this to start transmitting). */
		u->thri_pending = true;
		uart_update_irq(u);
		break;
	case IIR_FCR:
		u->fcr = v;
		break;
	case LCR:
		u->lcr = v;
		break;
	case MCR:
		u->mcr = v & 0x1f;
		break;
	case SCR:
		u->scr = v;
		break;
	default:
		break; /* LSR/MSR are read-only */
	}
}

static uint8_t uart_read(struct uart *u, unsigned int reg)
{
	if ((u->lcr & LCR_DLAB) && reg <= IER)
		return reg == RBR_THR ? u->dll : u->dlm;
	switch (reg) {
	case RBR_THR:
		return 0; /* no input: the console is output-only */
	case IER:
		return u->ier;
	case IIR_FCR: {
		uint8_t fifo = (u->fcr & 1) ? IIR_FIFO : 0;

		if ((u->ier & IER_THRI) && u->thri_pending) {
			u->thri_pending = false; /* reading IIR clears THRI */
			return fifo | IIR_THRI;
		}
		return fifo | IIR_NO_INT;
	}
	case LCR:
		return u->lcr;
	case MCR:
		return u->mcr;
	case LSR:
		return LSR_THRE | LSR_TEMT;
	case MSR:
		if (u->mcr & MCR_LOOP) /* loopback: modem outputs appear as inputs */
			return (uint8_t)(((u->mcr & 0x02) << 3) | ((u->mcr & 0x01) << 5) |
					 ((u->mcr & 0x04) << 4) | ((u->mcr & 0x08) << 4));
		return 0xb0; /* DCD, DSR, CTS: a connected terminal */
	case SCR:
		return u->scr;
	}
	return 0xff;
}

static void uart_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct uart *u = opaque;

	if (len != 1)
		return; /* the UART has byte registers only */
	if (is_write)
		uart_write(u, (unsigned int)off, data[0]);
	else
		data[0] = uart_read(u, (unsigned int)off);
}

static void debug_exit_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct vm *vm = opaque;
	uint32_t v = 0;

	if (!is_write || off != 0)
		return;
	memcpy(&v, data, len < 4 ? len : 4);
	log_debug("guest wrote debug-exit", "value=%u", v);
	vm_stop(vm, (int)(v & 0xff));
}

int platform_devices_init(struct vm *vm)
{
	int rc;

	com1 = (struct uart){ .vm = vm };
	rc = bus_register(BUS_PIO, SERIAL_COM1_BASE, 8, uart_io, &com1);
	if (rc)
		return rc;
	return bus_register(BUS_PIO, DEBUG_EXIT_PORT, 4, debug_exit_io, vm);
}
