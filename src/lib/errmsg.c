/* errmsg: caller-buffer error messages (see errmsg.h). */
#include "errmsg.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int errmsg(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

const char *errname(int err)
{
	static __thread char unknown[16];
	const char *n;

	if (err < 0)
		err = -err;
	n = strerrorname_np(err);
	if (n)
		return n;
	snprintf(unknown, sizeof(unknown), "E%d", err);
	return unknown;
}
