/* firmware: the controller's view of the boot chain (ward-boot, firmware
 * store, signed manifest, measured launch, updates). Implemented by
 * firmware*.c; firmware_dev.c is the development stand-in that verifies
 * nothing. The controller only calls these and never launches an image
 * that fw_boot did not hand it. */
#ifndef WARD_CONTROLLER_FIRMWARE_H
#define WARD_CONTROLLER_FIRMWARE_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* Guest images (test guests, guest firmware) are firmware-store images too. */
#define FW_MAX_GUEST_IMAGES	16
struct fw_guest_image {
	char name[33];	/* manifest name, e.g. "hello", "blk-check" */
	int fd;		/* sealed memfd */
};

struct fw_images {
	int hv_fd, blk_fd; /* sealed memfds of verified executables, -1 if absent */
	int net_fd;	/* ward-net (FW_ROLE_NET), the same way */
	unsigned n_guests;
	struct fw_guest_image guest[FW_MAX_GUEST_IMAGES];
};

struct fw_state {
	bool in_service;
	char reason[256];
	struct fw_images img;
	char slot;			/* 'A'/'B' booted, 0 if none */
	unsigned long long version;	/* store version booted, 0 if none */
};

/* The sealed memfd of guest image `name`, or -1. */
static inline int fw_images_guest(const struct fw_images *img, const char *name)
{
	for (unsigned i = 0; i < img->n_guests && i < FW_MAX_GUEST_IMAGES; i++)
		if (!strcmp(img->guest[i].name, name))
			return img->guest[i].fd;
	return -1;
}

/* Verify and measure everything; never launches anything itself. */
int fw_boot(const char *state_dir, const char *tcti, struct fw_state *out);
int fw_update_apply(const char *state_dir, const char *tcti, const char *package_path,
		    char *err, size_t errlen);
void fw_state_release(struct fw_state *s);
/* fw_boot keeps the unsealed store key (locked memory) for fw_update_apply;
 * this wipes it (e.g. when the host goes out of service). */
void fw_forget_store_key(void);

#endif
