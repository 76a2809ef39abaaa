/* statefile: atomic replacement of a JSON record (see statefile.h). */
#include "controller/statefile.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"

int statefile_write_json(const char *dir, const char *name, const json_t *o)
{
	char path[PATH_MAX], *txt = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	int rc;

	if (!txt)
		return -ENOMEM;
	if (snprintf(path, sizeof(path), "%s/%s.json", dir, name) >= (int)sizeof(path))
		rc = -ENAMETOOLONG;
	else
		rc = fileio_replace(path, txt, strlen(txt), 0600);
	free(txt);
	return rc;
}

int statefile_read_json(const char *path, json_t **out)
{
	uint8_t *buf;
	size_t len;
	int rc;

	/* fileio: a FIFO or symlink in place of a record is refused at once. */
	rc = fileio_read(path, STATEFILE_MAX, 0, &buf, &len);
	if (rc)
		return rc;
	*out = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, NULL);
	free(buf);
	return *out ? 0 : -EBADMSG;
}
