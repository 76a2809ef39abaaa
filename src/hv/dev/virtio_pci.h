/* virtio_pci: virtio-pci modern transport (virtio 1.2 §4.1) for devices
 * served by a vhost-user backend. ward-hv emulates only the registers; the
 * rings are handed to the backend, kicks go through KVM ioeventfds, and the
 * payload never passes through ward-hv. Layout: docs/hv-devices.md. */
#ifndef WARD_HV_VIRTIO_PCI_H
#define WARD_HV_VIRTIO_PCI_H

#include <stddef.h>

struct vm;

/* Add a virtio-blk / virtio-net device on the next PCI slot, served by the
 * vhost-user backend connected on `vhost_sock`. Call after mem_create and
 * pci_init, before the vCPUs start. Does the vhost-user handshake now; on
 * error writes a message naming the backend and the step, returns negative
 * errno, and leaves vhost_sock to the caller. On success the device owns
 * vhost_sock (closed by virtio_devices_destroy). */
int virtio_blk_add(struct vm *vm, int vhost_sock, char *err, size_t errlen);
int virtio_net_add(struct vm *vm, int vhost_sock, char *err, size_t errlen);

/* Stop every started ring (GET_VRING_BASE), drop the ioeventfds, stop the
 * interrupt thread, close all fds and free the devices. */
void virtio_devices_destroy(struct vm *vm);

#endif
