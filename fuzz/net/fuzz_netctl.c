/* fuzz_netctl: ward-net's control-channel parser on arbitrary packets (no
 * fds: an ATTACH must then be refused). */
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
	return 0;
}
