/* errmsg: the one way a ward function reports "what was wrong" to its
 * caller: format a message into the caller's buffer and return the negative
 * errno, so a parser's rejection is one line: return errmsg(err, len, -EPROTO,
 * "region %u overlaps region %u", i, j). Never pass secrets. */
#ifndef WARD_ERRMSG_H
#define WARD_ERRMSG_H

#include <stddef.h>

/* Writes the message when err is non-NULL and errlen > 0; returns rc. */
int errmsg(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The symbolic name of an errno value, either sign: errname(-ENOENT) and
 * errname(ENOENT) are "ENOENT". Unknown values read "E123" (a static
 * per-thread buffer). For log fields and messages: names, not numbers. */
const char *errname(int err);

#endif
