/* leader: which ward-api replica runs the leader-only work (reconcilers:
 * placement, the attestation schedule, driving hosts), elected on etcd
 * with a lease, and the fencing that stops a deposed leader's writes
 * (docs/ha.md). Without --etcd there is one replica and it leads. */
#ifndef WARD_API_LEADER_H
#define WARD_API_LEADER_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

struct etcd_tls;

/* The election key in etcd; its value is the leader's replica id. */
#define LEADER_KEY "ward/leader/api"

struct leader_config {
	const char *endpoints;		/* etcd, as store_etcd_open */
	const struct etcd_tls *tls;
	const char *id;			/* this replica, e.g. "host/pid" */
	int ttl_s;			/* the lease: how long a dead leader leads */
	int64_t first_watch_rev;	/* tests: the first watch starts here (0: normal) */
	long test_slow_task_ms;		/* tests: a leader task this slow (0: none) */
};

/* The leader's fencing token: the election key's create_revision (unique
 * per term, increasing) and the lease that holds it. */
struct leader_token {
	int64_t create_rev;
	int64_t lease;
};

/* A leader-only task, run on each tick (ttl/3) in the election's thread
 * with a store of its own, only while this replica leads. Its writes go
 * through leader_fence; a commit that returns -ESTALE means this replica
 * was deposed: the task returns it, and the election steps down. */
typedef int (*leader_task_fn)(struct store *s, void *arg);

/* Registers a task; before leader_start only. 0, -ENOSPC. */
int leader_add_task(leader_task_fn fn, void *arg);

/* Starts campaigning in a thread of its own. 0 or -errno. */
int leader_start(const struct leader_config *cfg);
/* Stops the thread; a leader gives up its lease so another takes over at
 * once. */
void leader_stop(void);

/* Whether this replica leads now (true when there is no election). A
 * hint: only the fenced commit is authoritative. */
bool leader_is_me(void);
/* 0 with the current token, -ENOENT when not leading, -EOPNOTSUPP when
 * there is no election (one replica, SQLite). */
int leader_token(struct leader_token *out);
/* Adds to t the compare that the election key still has this term's
 * create_revision: the commit then fails with -ESTALE once another
 * replica was elected. 0 (also with no election: nothing to fence),
 * -ENOENT when not leading. */
int leader_fence(struct store_txn *t);

#endif
