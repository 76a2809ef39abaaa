/* log: key=value logging to stderr, one write(2) per line so lines from
 * several threads never interleave. */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *log_comp = "ward";
static enum log_level log_min = LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void log_init(const char *component, enum log_level min)
{
	const char *env = getenv("WARD_LOG_LEVEL");

	log_comp = component;
	log_min = min;
	if (!env)
		return;
	for (int i = LOG_DEBUG; i <= LOG_ERROR; i++)
		if (strcmp(env, level_names[i]) == 0)
			log_min = (enum log_level)i;
}

void log_emit(enum log_level lvl, const char *msg, const char *fmt, ...)
{
	char line[1024];
	int n;

	if (lvl < log_min)
		return;
	n = snprintf(line, sizeof(line), "comp=%s level=%s msg=\"%s\"",
		     log_comp, level_names[lvl], msg);
	if (n < 0 || (size_t)n >= sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	if (fmt && fmt[0]) {
		va_list ap;
		int m;

		line[n++] = ' ';
		va_start(ap, fmt);
		m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
		va_end(ap);
		if (m < 0)
			m = 0;
		n += m;
		if ((size_t)n > sizeof(line) - 2)
			n = (int)sizeof(line) - 2;
	}
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}
