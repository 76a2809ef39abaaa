/* nacl: network ACLs for ward-net (AWS semantics): per subnet, stateless,
 * evaluated when a frame leaves or enters the subnet (not between two ENIs
 * of the same subnet); numbered rules in order, the first match decides,
 * and a frame no rule matches is denied. A subnet without a NACL has the
 * VPC's default one, which allows everything. */
#ifndef WARD_NET_NACL_H
#define WARD_NET_NACL_H

#include <stdbool.h>

#include "dp.h"
#include "frame.h"
#include "vpc.h"

bool nacl_allows(const struct vpc_cfg *cfg, unsigned int subnet, enum dp_dir dir, const struct frame *f);

#endif
