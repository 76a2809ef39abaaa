/* ctl: host state names and the lifecycle audit helper shared by the
 * controller's parts. */
#include <errno.h>

#include "controller/ctl.h"
#include "errmsg.h"
#include "log.h"

const char *ctl_state_name(enum host_state s)
{
	switch (s) {
	case HOST_IN_SERVICE: return "in-service";
	case HOST_OUT_OF_SERVICE: return "out-of-service";
	case HOST_UNVERIFIED_DEV: return "unverified-dev";
	case HOST_DRAINING: return "draining";
	}
	return "unknown";
}

bool ctl_can_launch(const struct ctl *c, const char **why)
{
	switch (c->state) {
	case HOST_IN_SERVICE:
	case HOST_UNVERIFIED_DEV:
		return true;
	case HOST_DRAINING:
		*why = "host is draining: no new instances";
		return false;
	case HOST_OUT_OF_SERVICE:
	default:
		*why = c->reason;
		return false;
	}
}

int ctl_audit(struct ctl *c, json_t *rec)
{
	int rc;

	if (!rec)
		return -ENOMEM;
	rc = audit_append(c->audit, rec, NULL);
	if (rc)
		log_error("audit append failed", "errno=%s", errname(-rc));
	json_decref(rec);
	return rc;
}
