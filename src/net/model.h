/* model: changes to ward-net's VPC model while it runs, from the netctl
 * requests the controller sends (SG_SET, SG_DEL, SG_RULE_ADD/DEL, NACL_SET,
 * ENI_SGS). netctl.c has checked each field's form; this module checks
 * what the request means against the model (the groups it names exist in
 * the right VPC, no duplicate rule, no NACL number twice) and applies it
 * whole or not at all. Flows the filter tracks are left alone: a removed
 * rule cuts only untracked flows (docs/net.md "Changing the model live"). */
#ifndef WARD_NET_MODEL_H
#define WARD_NET_MODEL_H

#include <stddef.h>

#include "netctl.h"
#include "vpc.h"

/* 0, or -ENOENT (no such group/NACL/ENI/VPC, or no such rule to remove),
 * -EEXIST (the rule is there already), -ENOSPC (too many groups or rules),
 * -EBUSY (a group still in use), -EINVAL (another VPC's group, a NACL
 * number twice), with the reason in err. The model is unchanged on error. */
int model_apply(struct vpc_cfg *cfg, const struct netctl_msg *m, char *err, size_t errlen);

#endif
