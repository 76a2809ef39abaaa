/* conf: the daemons' configuration files (/etc/ward/NAME.conf, docs/operations.md).
 * `key = value` lines, whole-line `#` comments; a key is a long option's name.
 * The file becomes options placed before the command line's, so flags win. */
#ifndef WARD_CONF_H
#define WARD_CONF_H

#include <getopt.h>
#include <stddef.h>

enum conf_type {
	CONF_STRING,	/* any non-empty text without control characters */
	CONF_PATH,	/* an absolute path: a relative one would depend on the cwd */
	CONF_INT,	/* decimal, min..max */
	CONF_BOOL,	/* true/false/yes/no/on/off/1/0: a flag without a value */
};

struct conf_key {
	const char *name;	/* the long option, without "--" */
	enum conf_type type;
	long long min, max;	/* CONF_INT only */
	int multi;		/* may be given more than once (--volume-dir) */
};

/* One key/value of a parsed file; value is NULL for a false CONF_BOOL. */
typedef int (*conf_cb)(void *arg, const struct conf_key *key, const char *value,
		       unsigned line);

/* Parses text (not NUL-terminated) against keys (ended by a NULL name),
 * calling cb for each setting in file order. On error returns -EINVAL with
 * "NAME:LINE: what is wrong" in err; name is the file's path. */
int conf_parse(const char *name, const char *text, size_t len, const struct conf_key *keys,
	       conf_cb cb, void *arg, char *err, size_t errlen);

/* For a daemon's main(): reads --config PATH (or --config=PATH) from the
 * command line, else WARD_CONF_DIR/base (when that file exists), and
 * replaces *argc and *argv by argv[0], the file's settings as "--key=value"
 * (minus the keys the command line gives itself), then the command line
 * without --config. lo is the daemon's getopt table (for which options take
 * a value). With --help or --version, nothing is read: 0, argv unchanged.
 * Prints "prog: error" and returns -1 on a bad file. The new argv
 * lives until the process exits. */
int conf_args(const char *prog, const char *base, const struct conf_key *keys,
	      const struct option *lo, int *argc, char ***argv);

/* Frees what conf_args made (tests; a daemon keeps it until exit). */
void conf_args_release(void);

/* The directory of the default files, e.g. /etc/ward. */
const char *conf_dir(void);

#endif
