/* log: the one line format of every ward process (docs/observability.md):
 * `ts=RFC3339 level=L comp=C msg="..." key=value ...` on stderr, one
 * write(2) per line so lines from several threads never interleave. */
#include "log.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

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

struct out {
	char *buf;
	size_t cap, n;	/* cap excludes room for the final newline */
};

static void put(struct out *o, const char *s, size_t len)
{
	if (len > o->cap - o->n)
		len = o->cap - o->n;
	memcpy(o->buf + o->n, s, len);
	o->n += len;
}

static void putc_(struct out *o, char c)
{
	put(o, &c, 1);
}

static bool needs_quotes(const char *s, size_t len)
{
	if (len == 0)
		return true;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
			return true;
	}
	return false;
}

/* Inside quotes: `"` and `\` escaped, control bytes as \n \t \r or \xHH,
 * so a value can never end the quoted string or the line early. */
static void put_escaped(struct out *o, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[4] = { '\\', 0, 0, 0 };
		size_t el = 2;

		switch (c) {
		case '"': e[1] = '"'; break;
		case '\\': e[1] = '\\'; break;
		case '\n': e[1] = 'n'; break;
		case '\r': e[1] = 'r'; break;
		case '\t': e[1] = 't'; break;
		default:
			if (c >= 0x20 && c != 0x7f) {
				putc_(o, (char)c);
				continue;
			}
			e[1] = 'x';
			e[2] = hex[c >> 4];
			e[3] = hex[c & 15];
			el = 4;
		}
		put(o, e, el);
	}
}

/* Days since 1970-01-01 to a civil date (H. Hinnant's algorithm): no libc
 * time zone code, which would open /etc/localtime after a lockdown. */
static void civil(int64_t days, int *y, unsigned *m, unsigned *d)
{
	int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

int log_timestamp(char *buf, size_t len)
{
	struct timespec ts;
	int64_t s, days;
	unsigned m, d;
	int y, n;

	clock_gettime(CLOCK_REALTIME, &ts);
	s = ts.tv_sec;
	days = (s >= 0 ? s : s - 86399) / 86400;
	s -= days * 86400;
	civil(days, &y, &m, &d);
	n = snprintf(buf, len, "%04d-%02u-%02uT%02u:%02u:%02u.%03uZ", y, m, d,
		     (unsigned)(s / 3600), (unsigned)(s / 60 % 60), (unsigned)(s % 60),
		     (unsigned)(ts.tv_nsec / 1000000));
	return n < 0 || (size_t)n >= len ? -ENOSPC : 0;
}

/* One conversion of fmt (at *p, after the '%') into tmp; consumes its
 * arguments. The caller's format was checked by the compiler (printf
 * attribute), so the types read here are the ones passed; the spec handed
 * to snprintf is rebuilt from it (hence no literal format below). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static int format_one(const char **p, va_list *ap, char *tmp, size_t tmplen, char *conv,
		      int *prec)
{
	char spec[32];
	size_t sl = 0;
	const char *q = *p;
	int lmod = 0;	/* 1 h, 2 hh, 3 l, 4 ll, 5 z, 6 j, 7 t, 8 L */

	spec[sl++] = '%';
	while (*q && strchr("-+ #0'", *q) && sl < 8)
		spec[sl++] = *q++;
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			if (*q != '.')
				break;
			spec[sl++] = *q++;
		}
		if (*q == '*') {
			int v = va_arg(*ap, int);

			sl += (size_t)snprintf(spec + sl, sizeof(spec) - sl, "%d", v);
			if (pass == 1)
				*prec = v;
			q++;
		} else {
			if (pass == 1)
				*prec = atoi(q);
			while (*q >= '0' && *q <= '9' && sl < 24)
				spec[sl++] = *q++;
		}
	}
	if (*q == 'h') {
		lmod = q[1] == 'h' ? 2 : 1;
		q += lmod;
	} else if (*q == 'l') {
		lmod = q[1] == 'l' ? 4 : 3;
		q += lmod - 2;
	} else if (*q == 'z' || *q == 'j' || *q == 't' || *q == 'L') {
		lmod = *q == 'z' ? 5 : *q == 'j' ? 6 : *q == 't' ? 7 : 8;
		q++;
	}
	*conv = *q;
	if (!*q)
		return -1;
	*p = q + 1;
	if (*conv == 's') {
		/* returned as is by the caller: it needs the raw bytes */
		return 0;
	}
	static const char *const mods[] = { "", "h", "hh", "l", "ll", "z", "j", "t", "L" };
	sl += (size_t)snprintf(spec + sl, sizeof(spec) - sl, "%s%c", mods[lmod], *conv);
	switch (*conv) {
	case 'd': case 'i':
		switch (lmod) {
		case 3: return snprintf(tmp, tmplen, spec, va_arg(*ap, long));
		case 4: return snprintf(tmp, tmplen, spec, va_arg(*ap, long long));
		case 5: return snprintf(tmp, tmplen, spec, va_arg(*ap, ptrdiff_t));
		case 6: return snprintf(tmp, tmplen, spec, va_arg(*ap, intmax_t));
		case 7: return snprintf(tmp, tmplen, spec, va_arg(*ap, ptrdiff_t));
		default: return snprintf(tmp, tmplen, spec, va_arg(*ap, int));
		}
	case 'u': case 'x': case 'X': case 'o':
		switch (lmod) {
		case 3: return snprintf(tmp, tmplen, spec, va_arg(*ap, unsigned long));
		case 4: return snprintf(tmp, tmplen, spec, va_arg(*ap, unsigned long long));
		case 5: return snprintf(tmp, tmplen, spec, va_arg(*ap, size_t));
		case 6: return snprintf(tmp, tmplen, spec, va_arg(*ap, uintmax_t));
		case 7: return snprintf(tmp, tmplen, spec, va_arg(*ap, size_t));
		default: return snprintf(tmp, tmplen, spec, va_arg(*ap, unsigned));
		}
	case 'c':
		return snprintf(tmp, tmplen, spec, va_arg(*ap, int));
	case 'p':
		return snprintf(tmp, tmplen, spec, va_arg(*ap, void *));
	case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': case 'a': case 'A':
		if (lmod == 8)
			return snprintf(tmp, tmplen, spec, va_arg(*ap, long double));
		return snprintf(tmp, tmplen, spec, va_arg(*ap, double));
	default:
		return -1;	/* %n and unknown conversions: never written */
	}
}
#pragma GCC diagnostic pop

/* The fields: literal text as given; a %s right after `key=` is quoted
 * when it holds a space, quote, `=`, backslash or control byte (or is
 * empty); a %s inside `key="..."` is escaped. So a value (a certificate
 * subject, a path) can never forge a field or a line. */
static void format_fields(struct out *o, const char *fmt, va_list ap)
{
	const char *p = fmt;
	char tmp[512];
	va_list aq;

	va_copy(aq, ap);
	while (*p && o->n < o->cap) {
		bool after_eq, in_quotes;
		const char *start;
		int n, prec = -1;
		char conv;

		if (*p != '%') {
			putc_(o, *p++);
			continue;
		}
		if (p[1] == '%') {
			putc_(o, '%');
			p += 2;
			continue;
		}
		start = p++;
		after_eq = start > fmt && start[-1] == '=';
		in_quotes = start > fmt + 1 && start[-1] == '"' && start[-2] == '=';
		n = format_one(&p, &aq, tmp, sizeof(tmp), &conv, &prec);
		if (n < 0)
			break;
		if (conv == 's') {
			const char *s = va_arg(aq, const char *);
			size_t len;

			if (!s)
				s = "(null)";
			/* a precision (%.*s, %.8s) bounds the bytes read */
			len = prec >= 0 ? strnlen(s, (size_t)prec) : strlen(s);
			if (in_quotes) {
				put_escaped(o, s, len);
			} else if (after_eq && needs_quotes(s, len)) {
				putc_(o, '"');
				put_escaped(o, s, len);
				putc_(o, '"');
			} else if (!after_eq && needs_quotes(s, len) && len) {
				put_escaped(o, s, len);
			} else {
				put(o, s, len);
			}
			continue;
		}
		put(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
	}
	va_end(aq);
}

void log_emit(enum log_level lvl, const char *msg, const char *fmt, ...)
{
	char line[LOG_LINE_MAX], ts[40];
	struct out o = { .buf = line, .cap = sizeof(line) - 1 };

	if (lvl < log_min)
		return;
	log_timestamp(ts, sizeof(ts));
	put(&o, "ts=", 3);
	put(&o, ts, strlen(ts));
	put(&o, " level=", 7);
	put(&o, level_names[lvl], strlen(level_names[lvl]));
	put(&o, " comp=", 6);
	put(&o, log_comp, strlen(log_comp));
	put(&o, " msg=\"", 6);
	put_escaped(&o, msg, strlen(msg));
	putc_(&o, '"');
	if (fmt && fmt[0]) {
		va_list ap;

		putc_(&o, ' ');
		va_start(ap, fmt);
		format_fields(&o, fmt, ap);
		va_end(ap);
	}
	line[o.n++] = '\n';
	(void)!write(STDERR_FILENO, line, o.n);
}
