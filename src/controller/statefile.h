/* statefile: small records in the controller's state dir, replaced
 * atomically (write a temporary file, fsync, rename) so a crash leaves the
 * old record or the new one, never half of either. */
#ifndef WARD_CONTROLLER_STATEFILE_H
#define WARD_CONTROLLER_STATEFILE_H

#include <jansson.h>

/* Writes `o` (compact, sorted keys) to DIR/NAME.json, mode 0600. Returns 0
 * or negative errno. */
int statefile_write_json(const char *dir, const char *name, const json_t *o);

#endif
