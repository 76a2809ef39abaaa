/* statefile: atomic replacement of a JSON record (see statefile.h). */
#include "controller/statefile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int statefile_write_json(const char *dir, const char *name, const json_t *o)
{
	char path[PATH_MAX], tmp[PATH_MAX], *txt = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	size_t len;
	int fd, rc = 0;

	if (!txt)
		return -ENOMEM;
	len = strlen(txt);
	snprintf(path, sizeof(path), "%s/%s.json", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
	} else {
		if (write(fd, txt, len) != (ssize_t)len || fsync(fd))
			rc = -EIO;
		close(fd);
		if (!rc && rename(tmp, path))
			rc = -errno;
		if (rc)
			unlink(tmp);
	}
	free(txt);
	return rc;
}
