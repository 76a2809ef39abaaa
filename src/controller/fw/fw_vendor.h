/* fw_vendor: the vendor's Ed25519 firmware-signing public key, pinned into
 * the controller at build time (docs/firmware.md, "Keys"). */
#ifndef WARD_FW_VENDOR_H
#define WARD_FW_VENDOR_H

#include <stdbool.h>
#include <stdint.h>

#include "fw_format.h"

/* The built-in key (raw 32 bytes). */
const uint8_t *fw_vendor_pubkey(void);
/* True when the built-in key is the committed TEST key. */
bool fw_vendor_is_test_key(void);

#endif
