/* conf: the one parser of ward's configuration files (/etc/ward/NAME.conf).
 * A file is turned into long options placed before the command line's, so
 * each daemon keeps a single option parser and its own checks (conf.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"

#ifndef WARD_CONF_DIR
#define WARD_CONF_DIR "/etc/ward"
#endif

#define CONF_MAX_LINE	1024		/* longer is a mistake, not a setting */
#define CONF_MAX_FILE	(64 * 1024)
#define CONF_MAX_KEYS	64
#define CONF_SHOW	64		/* bytes of a bad value quoted in an error */

const char *conf_dir(void)
{
	return WARD_CONF_DIR;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static void trim(const char **s, size_t *n)
{
	while (*n && is_space(**s))
		(*s)++, (*n)--;
	while (*n && is_space((*s)[*n - 1]))
		(*n)--;
}

static bool key_chars_ok(const char *k, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '-'))
			return false;
	return n > 0;
}

static const struct conf_key *key_find(const struct conf_key *keys, const char *k, size_t n,
				       int *idx)
{
	for (int i = 0; keys[i].name; i++)
		if (strlen(keys[i].name) == n && !memcmp(keys[i].name, k, n)) {
			*idx = i;
			return &keys[i];
		}
	return NULL;
}

static bool parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (!strcmp(v, yes[i]))
			return *out = true, true;
		if (!strcmp(v, no[i]))
			return *out = false, true;
	}
	return false;
}

/* Checks value (NUL-terminated) against the key's type; sets *out to the
 * value to pass on (NULL: a false boolean, i.e. no option at all). */
static int value_check(const char *name, unsigned line, const struct conf_key *k, const char *v,
		       const char **out, char *err, size_t errlen)
{
	long long n;
	char *end;
	bool b;

	*out = v;
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			snprintf(err, errlen, "%s:%u: control character in the value of '%s'", name,
				 line, k->name);
			return -EINVAL;
		}
	if (!*v) {
		snprintf(err, errlen, "%s:%u: '%s' needs a value", name, line, k->name);
		return -EINVAL;
	}
	switch (k->type) {
	case CONF_STRING:
		return 0;
	case CONF_PATH:
		if (v[0] == '/')
			return 0;
		snprintf(err, errlen, "%s:%u: '%s' must be an absolute path, got '%.*s'", name, line,
			 k->name, CONF_SHOW, v);
		return -EINVAL;
	case CONF_INT:
		errno = 0;
		n = strtoll(v, &end, 10);
		if (!errno && !*end && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) &&
		    n >= k->min && n <= k->max)
			return 0;
		snprintf(err, errlen, "%s:%u: '%s' must be an integer from %lld to %lld, got '%.*s'",
			 name, line, k->name, k->min, k->max, CONF_SHOW, v);
		return -EINVAL;
	case CONF_BOOL:
		if (parse_bool(v, &b)) {
			*out = b ? v : NULL;
			return 0;
		}
		snprintf(err, errlen, "%s:%u: '%s' must be true or false, got '%.*s'", name, line,
			 k->name, CONF_SHOW, v);
		return -EINVAL;
	}
	return -EINVAL;
}

/* One line (no newline); 0 with nothing to do for blanks and comments. */
static int parse_line(const char *name, unsigned line, const char *l, size_t n,
		      const struct conf_key *keys, unsigned *first, conf_cb cb, void *arg,
		      char *err, size_t errlen)
{
	char value[CONF_MAX_LINE + 1];
	const struct conf_key *k;
	const char *key, *eq, *v, *out;
	size_t kn, vn;
	int idx = 0, rc;

	if (n > CONF_MAX_LINE) {
		snprintf(err, errlen, "%s:%u: line longer than %d bytes", name, line, CONF_MAX_LINE);
		return -EINVAL;
	}
	if (memchr(l, '\0', n)) {
		snprintf(err, errlen, "%s:%u: NUL byte (not a text file?)", name, line);
		return -EINVAL;
	}
	trim(&l, &n);
	if (!n || l[0] == '#')
		return 0;
	if (!(eq = memchr(l, '=', n))) {
		snprintf(err, errlen, "%s:%u: expected 'key = value'", name, line);
		return -EINVAL;
	}
	key = l, kn = (size_t)(eq - l);
	v = eq + 1, vn = n - kn - 1;
	trim(&key, &kn);
	trim(&v, &vn);
	if (!key_chars_ok(key, kn)) {
		snprintf(err, errlen, "%s:%u: expected 'key = value' with a key of a-z, 0-9 and '-'",
			 name, line);
		return -EINVAL;
	}
	if (!(k = key_find(keys, key, kn, &idx))) {
		snprintf(err, errlen, "%s:%u: unknown key '%.*s'", name, line, (int)kn, key);
		return -EINVAL;
	}
	if (first[idx] && !k->multi) {
		snprintf(err, errlen, "%s:%u: '%s' given twice (first on line %u)", name, line,
			 k->name, first[idx]);
		return -EINVAL;
	}
	if (!first[idx])
		first[idx] = line;
	memcpy(value, v, vn);
	value[vn] = '\0';
	if ((rc = value_check(name, line, k, value, &out, err, errlen)))
		return rc;
	if ((rc = cb(arg, k, out, line))) {
		snprintf(err, errlen, "%s:%u: %s", name, line, strerror(-rc));
		return rc;
	}
	return 0;
}

int conf_parse(const char *name, const char *text, size_t len, const struct conf_key *keys,
	       conf_cb cb, void *arg, char *err, size_t errlen)
{
	unsigned first[CONF_MAX_KEYS] = { 0 }, line = 0;
	size_t pos = 0, nkeys = 0;
	int rc;

	while (keys[nkeys].name)
		nkeys++;
	if (nkeys > CONF_MAX_KEYS) {
		snprintf(err, errlen, "%s: too many keys defined", name);
		return -E2BIG;
	}
	while (pos < len) {
		const char *l = text + pos, *nl = memchr(l, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - l) : len - pos;

		pos += n + (nl != NULL);
		if (++line == 0)	/* more lines than fit: the file size cap prevents it */
			return -E2BIG;
		if ((rc = parse_line(name, line, l, n, keys, first, cb, arg, err, errlen)))
			return rc;
	}
	return 0;
}

/* ---- conf_args: the file as options before the command line ---- */

struct argbuf {
	char **v;
	int n, cap;
	const bool *overridden;		/* per key: the command line sets it */
	const struct conf_key *keys;
};

static int argbuf_push(struct argbuf *b, char *s)
{
	if (b->n + 1 >= b->cap) {
		int cap = b->cap ? b->cap * 2 : 16;
		char **v = realloc(b->v, (size_t)cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		b->v = v, b->cap = cap;
	}
	b->v[b->n++] = s;
	b->v[b->n] = NULL;
	return 0;
}

static int add_setting(void *arg, const struct conf_key *k, const char *value, unsigned line)
{
	struct argbuf *b = arg;
	size_t len;
	char *s;
	int rc;

	if (!value || b->overridden[k - b->keys])
		return 0;
	len = strlen(k->name) + strlen(value) + 4;
	if (!(s = malloc(len)))
		return -ENOMEM;
	if (k->type == CONF_BOOL)
		snprintf(s, len, "--%s", k->name);
	else
		snprintf(s, len, "--%s=%s", k->name, value);
	if ((rc = argbuf_push(b, s)))
		free(s);
	return rc;
}

static const struct option *opt_find(const struct option *lo, const char *arg, size_t n)
{
	for (; lo->name; lo++)
		if (strlen(lo->name) == n && !strncmp(lo->name, arg, n))
			return lo;
	return NULL;
}

/* Reads a regular file of at most CONF_MAX_FILE bytes. -ENOENT as is. */
static int file_read(const char *path, char **out, size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t r;
	int fd, rc;

	/* O_NONBLOCK: a FIFO put in place of the file is refused, not waited on. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)) < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto err;
	}
	rc = -EINVAL;
	if (!S_ISREG(st.st_mode))
		goto err;
	rc = -EFBIG;
	if (st.st_size > CONF_MAX_FILE)
		goto err;
	rc = -ENOMEM;
	if (!(buf = malloc(CONF_MAX_FILE + 1)))
		goto err;
	while ((r = read(fd, buf + got, CONF_MAX_FILE + 1 - got)) > 0)
		got += (size_t)r;
	rc = r < 0 ? -errno : got > CONF_MAX_FILE ? -EFBIG : 0;
	if (rc)
		goto err;
	close(fd);
	*out = buf, *len = got;
	return 0;
err:
	free(buf);
	close(fd);
	return rc;
}

/* The argv handed back lives until exit (options point into it): kept here
 * so that leak checkers see it as reachable. */
static char **kept_argv;
static int kept_settings;

void conf_args_release(void)
{
	for (int i = 1; kept_argv && i <= kept_settings; i++)
		free(kept_argv[i]);
	free(kept_argv);
	kept_argv = NULL;
	kept_settings = 0;
}

int conf_args(const char *prog, const char *base, const struct conf_key *keys,
	      const struct option *lo, int *argc, char ***argv)
{
	bool overridden[CONF_MAX_KEYS] = { false };
	struct argbuf b = { .overridden = overridden, .keys = keys };
	char defpath[4096], err[512], *text = NULL, **av = *argv;
	const char *path = NULL;
	int skip_at = -1, i, rc, idx, settings;
	size_t len = 0;

	/* The command line: where --config is, and which keys it sets. */
	for (i = 1; i < *argc && strcmp(av[i], "--"); i++) {
		const char *a = av[i], *eq;
		const struct option *o;
		size_t n;

		if (strncmp(a, "--", 2))
			continue;
		a += 2;
		eq = strchr(a, '=');
		n = eq ? (size_t)(eq - a) : strlen(a);
		if ((n == 4 && !strncmp(a, "help", 4)) || (n == 7 && !strncmp(a, "version", 7)))
			return 0;	/* they need no configuration, nor a valid file */
		if (n == 6 && !strncmp(a, "config", 6)) {
			if (path) {
				fprintf(stderr, "%s: --config given twice\n", prog);
				return -1;
			}
			if (!eq && i + 1 >= *argc) {
				fprintf(stderr, "%s: --config needs a file name\n", prog);
				return -1;
			}
			path = eq ? eq + 1 : av[i + 1];
			skip_at = i;
			if (!eq)
				i++;
			continue;
		}
		if (key_find(keys, a, n, &idx))
			overridden[idx] = true;
		if ((o = opt_find(lo, a, n)) && o->has_arg == required_argument && !eq)
			i++;
	}
	if (!path) {
		snprintf(defpath, sizeof(defpath), "%s/%s", conf_dir(), base);
		path = defpath;
	}
	rc = file_read(path, &text, &len);
	if (rc == -ENOENT && path == defpath)
		return 0;	/* no file: flags only, as before files existed */
	if (rc) {
		fprintf(stderr, "%s: cannot read the configuration file %s: %s\n", prog, path,
			rc == -EINVAL ? "not a regular file" :
			rc == -EFBIG ? "larger than 64 KiB" : strerror(-rc));
		return -1;
	}
	if ((rc = argbuf_push(&b, av[0])))
		goto err_mem;
	rc = conf_parse(path, text, len, keys, add_setting, &b, err, sizeof(err));
	free(text);
	if (rc == -ENOMEM)
		goto err_mem;
	if (rc) {
		fprintf(stderr, "%s: %s\n", prog, err);
		goto err;
	}
	settings = b.n - 1;
	for (i = 1; i < *argc; i++) {
		if (i == skip_at) {
			if (!strchr(av[i], '='))
				i++;
			continue;
		}
		if ((rc = argbuf_push(&b, av[i])))
			goto err_mem;
	}
	*argc = b.n;
	conf_args_release();
	*argv = kept_argv = b.v;
	kept_settings = settings;
	return 0;
err_mem:
	fprintf(stderr, "%s: out of memory reading %s\n", prog, path);
err:
	/* Only the settings (strings made here) are freed, never argv's own. */
	for (int j = 1; j < b.n; j++) {
		bool own = true;

		for (int m = 0; m < *argc; m++)
			if (b.v[j] == av[m])
				own = false;
		if (own)
			free(b.v[j]);
	}
	free(b.v);
	return -1;
}
