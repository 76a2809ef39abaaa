/* bus: dispatch of port-I/O and MMIO exits to the device models.
 * Devices register [base, base+len) ranges; all dispatch happens under one
 * lock, so device models need no locking of their own (exits are rare: the
 * payload path never comes through ward-hv). */
#ifndef WARD_HV_BUS_H
#define WARD_HV_BUS_H

#include <stdbool.h>
#include <stdint.h>

/* offset is relative to the range base; data holds len (1..8) bytes,
 * little-endian; on a read the handler fills it (it is pre-filled with 0xff). */
typedef void (*bus_io_fn)(void *opaque, uint64_t offset, uint8_t *data,
			  uint32_t len, bool is_write);

enum bus_space { BUS_PIO = 0, BUS_MMIO = 1 };

#define BUS_MAX_RANGES 64

struct bus_range {
	uint64_t base, len;
	bus_io_fn fn;
	void *opaque;
};

/* Returns 0, -EEXIST on overlap, -ENOSPC when full. */
int bus_register(enum bus_space sp, uint64_t base, uint64_t len, bus_io_fn fn, void *opaque);
/* Move an existing range (BAR reprogramming). Call it only from inside a
 * handler (the bus lock is then held) or before the vCPUs start. A device
 * whose decoding is disabled keeps its range and ignores the accesses. */
int bus_move(enum bus_space sp, void *opaque, uint64_t old_base, uint64_t new_base);
/* Takes the bus lock: never call it from inside a handler. */
void bus_unregister(enum bus_space sp, void *opaque, uint64_t base);

/* Returns false when nothing is mapped there (reads then see all-ones). */
bool bus_dispatch(enum bus_space sp, uint64_t addr, uint8_t *data,
		  uint32_t len, bool is_write);

#endif
