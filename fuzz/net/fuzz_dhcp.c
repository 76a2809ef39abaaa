/* fuzz_dhcp: ward-net's DHCP server on arbitrary client messages (the UDP
 * payload). A reply must fit its buffer and be a BOOTREPLY. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/dhcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dhcp_lease l = { .mac = { 2, 0, 0, 0, 0, 1 }, .ip = 0x0a00010a, .mask = 0xffffff00,
				.router = 0x0a000101, .dns = 0x0a000002, .mtu = 9001, .lease_secs = 3600 };
	uint8_t out[DHCP_MAX_REPLY];
	struct dhcp_reply r;
	const char *why;
	int rc = dhcp_handle(&l, data, size, out, &r, &why);

	if (rc == 1 && (r.len > sizeof(out) || out[0] != 2))
		abort();
	return 0;
}
