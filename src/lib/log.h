/* log: the one logging module of every ward process.
 * Lines go to stderr as `comp=hv level=error msg="..." key=value ...`.
 * Never pass secrets: there is no redaction, by design nothing secret is logged. */
#ifndef WARD_LOG_H
#define WARD_LOG_H

#include <stdarg.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Set the component tag ("hv", "blk", ...) and the minimum level printed.
 * WARD_LOG_LEVEL=debug|info|warn|error in the environment overrides `min`. */
void log_init(const char *component, enum log_level min);

/* msg is a short fixed event text; fmt/... append key=value fields. */
void log_emit(enum log_level lvl, const char *msg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_debug(msg, ...) log_emit(LOG_DEBUG, msg, "" __VA_ARGS__)
#define log_info(msg, ...)  log_emit(LOG_INFO, msg, "" __VA_ARGS__)
#define log_warn(msg, ...)  log_emit(LOG_WARN, msg, "" __VA_ARGS__)
#define log_error(msg, ...) log_emit(LOG_ERROR, msg, "" __VA_ARGS__)

#endif
