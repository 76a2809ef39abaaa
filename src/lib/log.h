/* log: the one logging module of every ward process. Lines go to stderr as
 * `ts=2026-12-07T19:04:05.123Z level=error comp=hv msg="..." key=value ...`
 * (docs/observability.md). Never pass secrets: there is no redaction, by
 * design nothing secret is logged. */
#ifndef WARD_LOG_H
#define WARD_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Set the component tag ("hv", "blk", ...) and the minimum level printed.
 * WARD_LOG_LEVEL=debug|info|warn|error in the environment overrides `min`. */
void log_init(const char *component, enum log_level min);

/* msg is a short fixed event text; fmt/... append key=value fields. A %s
 * right after `key=` is quoted and escaped when it needs to be (spaces,
 * quotes, `=`, backslashes, control bytes, empty); one inside `key="%s"` is
 * escaped. Errors: `errno=%s` with errname() (errmsg.h), not numbers. */
void log_emit(enum log_level lvl, const char *msg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* RFC 3339 UTC with milliseconds, "2026-12-07T19:04:05.123Z" (25 bytes
 * with the NUL). 0 or -ENOSPC. */
int log_timestamp(char *buf, size_t len);

#define log_debug(msg, ...) log_emit(LOG_DEBUG, msg, "" __VA_ARGS__)
#define log_info(msg, ...)  log_emit(LOG_INFO, msg, "" __VA_ARGS__)
#define log_warn(msg, ...)  log_emit(LOG_WARN, msg, "" __VA_ARGS__)
#define log_error(msg, ...) log_emit(LOG_ERROR, msg, "" __VA_ARGS__)

#endif
