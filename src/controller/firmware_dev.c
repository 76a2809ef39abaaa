/* firmware_dev: development stand-in for the boot chain, linked only when
 * firmware.c is absent (and into ward-controller-dev). It verifies and
 * measures NOTHING: the host state is "unverified-dev", never in-service,
 * and executables come from the build directory (--dev-images). main.c is
 * compiled with WARD_FW_DEV when linked with this file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/firmware.h"
#include "log.h"

int fw_boot(const char *state_dir, const char *tcti, struct fw_state *out)
{
	memset(out, 0, sizeof(*out));
	out->img.hv_fd = -1;
	out->img.blk_fd = -1;
	out->img.net_fd = -1;
	out->in_service = false;
	snprintf(out->reason, sizeof(out->reason),
		 "unverified-dev: development build, no firmware was verified or measured");
#ifdef WARD_TEST_HOOKS
	/* Tests of the out-of-service path: a verdict the real chain could give. */
	const char *v = getenv("WARD_TEST_FW_VERDICT");
	if (v && *v)
		snprintf(out->reason, sizeof(out->reason), "%s", v);
#endif
	log_warn("firmware not verified (development build)", "state_dir=%s", state_dir);
	return 0;
}

int fw_update_apply(const char *state_dir, const char *tcti, const char *package_path,
		    char *err, size_t errlen)
{
	snprintf(err, errlen, "updates need the verified boot chain; this is a development build");
	return -ENOTSUP;
}

void fw_state_release(struct fw_state *s)
{
	(void)s;
}
