/* msi: ward-hv's KVM GSI routing table — the platform's default irqchip
 * routes (GSI 0-23) plus one MSI route per MSI-X vector of the devices, so
 * a backend's call eventfd can be bound to a vector with KVM_IRQFD. */
#ifndef WARD_HV_MSI_H
#define WARD_HV_MSI_H

#include <stdint.h>

struct vm;

/* Reserve a GSI for an MSI route (initially pointing nowhere).
 * Returns the GSI or negative errno. */
int msi_route_alloc(struct vm *vm);
/* Point the route at a message address/data; pushes the table to KVM. */
int msi_route_set(struct vm *vm, uint32_t gsi, uint64_t addr, uint32_t data);
/* Deliver one message now (a vector unmasked with its pending bit set). */
int msi_signal(struct vm *vm, uint64_t addr, uint32_t data);
/* Forget every route (device teardown); the default routes stay. */
void msi_routes_reset(struct vm *vm);

#endif
