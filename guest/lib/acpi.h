/* guest/lib/acpi.h: just enough ACPI table walking to find PCIe ECAM: the
 * MCFG table if there is one, else `_CBA` in the DSDT (QEMU microvm). */
#ifndef GUEST_ACPI_H
#define GUEST_ACPI_H

#include <stdint.h>

/* 0 and *base set on success; -1 when neither MCFG nor _CBA exists. */
int acpi_find_ecam(uint64_t *base);

#endif
