/* fuzz_netctl: ward-net's control-channel parser on arbitrary packets (no
 * fds: an ATTACH must then be refused). A PEER or MAP it accepts must hold
 * what the underlay relies on: a host id of [A-Za-z0-9_-], a VPC id, a VNI
 * in 1..0xFFFFFF, a non-zero address. */
#include <ctype.h>
#include <string.h>
#include <stdint.h>
#include <stdlib.h>

#include "net/netctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct netctl_msg m;
	char err[160];

	if (netctl_parse(data, size, NULL, 0, &m, err, sizeof(err)) == 0 &&
	    (m.type == NETCTL_ATTACH || m.fd != -1 || !m.id[0]))
		abort();
	if (m.type == NETCTL_PEER || m.type == NETCTL_MAP) {
		for (size_t i = 0; m.id[i]; i++)
			if (!isalnum((unsigned char)m.id[i]) && m.id[i] != '_' && m.id[i] != '-')
				abort();
		if (!m.addr || (m.type == NETCTL_MAP && (!m.vpc[0] || !m.vni || m.vni > 0xffffff)))
			abort();
	}
	return 0;
}
