/* statefile: small records in the controller's state dir, replaced
 * atomically (fileio_replace: temporary file, fsync, rename, directory
 * fsync) so a crash leaves the old record or the new one, never half. */
#ifndef WARD_CONTROLLER_STATEFILE_H
#define WARD_CONTROLLER_STATEFILE_H

#include <jansson.h>

/* Writes `o` (compact, sorted keys) to DIR/NAME.json, mode 0600. Returns 0
 * or negative errno (-ENOSPC when the disk is full). */
int statefile_write_json(const char *dir, const char *name, const json_t *o);

#define STATEFILE_MAX (1u << 20)

/* Reads the JSON object of a record at `path` (a regular file of at most
 * STATEFILE_MAX bytes, no duplicate keys). Returns 0, -EBADMSG when it is
 * not JSON, or the fileio error (fileio_strerror says it plainly). */
int statefile_read_json(const char *path, json_t **out);

#endif
