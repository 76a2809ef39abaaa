/* fw_provision: first-time setup of a host's root of trust — TPM keys
 * (host key, golden/audit signing key, attestation key), the NV security
 * counter, the sealed store key and the first firmware store. */
#ifndef WARD_FW_PROVISION_H
#define WARD_FW_PROVISION_H

#include <stdbool.h>
#include <stddef.h>

struct fw_provision_opts {
	const char *state_dir;
	const char *tcti;		/* NULL: $WARD_TPM_TCTI or /dev/tpmrm0 */
	const char *controller;		/* the ward-controller binary ward-boot will measure */
	const char *package;		/* vendor-signed package: the first store */
	bool force;			/* replace an existing host identity */
};

/* -EEXIST (and nothing changed) if the host already has an identity and
 * force is not set. */
int fw_provision(const struct fw_provision_opts *o, char *err, size_t errlen);

#endif
