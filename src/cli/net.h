/* net: `ward vpc|subnet|sg|eni ...` against the host API's VPC model
 * (docs/controller.md "VPC model", docs/cli.md). */
#ifndef WARD_CLI_NET_H
#define WARD_CLI_NET_H

#include "cli/apiclient.h"

/* kind: "vpc", "subnet", "sg" or "eni"; argv: what follows it. Returns
 * the exit status (help.h). */
int net_cmd(const struct api_cfg *c, const char *kind, int argc, char **argv);
/* `ward underlay ...`: the host's peer list and mapping table
 * (/v1/underlay, pushed to ward-net). */
int underlay_cmd(const struct api_cfg *c, int argc, char **argv);

#endif
