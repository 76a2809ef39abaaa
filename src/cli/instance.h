/* instance: `ward instance run|list|show|stop` against the host API
 * (docs/controller.md, docs/cli.md). */
#ifndef WARD_CLI_INSTANCE_H
#define WARD_CLI_INSTANCE_H

#include "cli/apiclient.h"

/* argv: what follows `instance`. Returns the exit status (help.h). */
int instance_cmd(const struct api_cfg *c, int argc, char **argv);
/* argv: what follows `image` (list [--json]). */
int image_cmd(const struct api_cfg *c, int argc, char **argv);

#endif
