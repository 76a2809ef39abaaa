/* reconcile: drives each admitted host's controller to what the instance
 * records want (docs/api.md#the-reconciler) — launches pending instances
 * with POST /v1/instances, stops and terminates with DELETE, observes the
 * controller's list, and writes the transitions pending→running,
 * stopping→stopped, shutting-down→terminated. It also records each host's
 * reported capacity (ec2/hostcap/<id>) that placement reads. A leader-only
 * task on etcd (leader.h), a thread of its own on SQLite. */
#ifndef WARD_API_RECONCILE_H
#define WARD_API_RECONCILE_H

#include <jansson.h>

#include "store.h"

struct reconcile_cfg {
	const char *client_cert, *client_key;	/* ward-api's control-plane identity */
	int timeout_s;				/* one request to a controller */
};

/* Keeps cfg (its strings must outlive the rounds). */
void reconcile_configure(const struct reconcile_cfg *cfg);

/* One pass over every admitted host and every instance that is not where
 * it is wanted. A leader_task_fn: -ESTALE when a fenced write found this
 * replica deposed. */
int reconcile_round(struct store *s, void *arg);

/* One request to a host's controller with ward-api's identity: the HTTP
 * status (0: unreachable) and the JSON body, if any, in *out (the caller
 * decrefs it). */
long reconcile_call(const json_t *host, const char *method, const char *path, const char *body,
		    json_t **out);
/* The round's steps kept beside their actions: volume attachments
 * (ec2_attach.c) toward where their instances are, and each admitted
 * host's image list (GET /v1/images) into ec2/hostimages/<id>
 * (ec2_image.c). Same return convention as reconcile_round. */
int reconcile_volumes(struct store *s, const json_t *hosts, const json_t *insts);
int reconcile_images(struct store *s, const json_t *host, const json_t *rep);
/* What a host reports, kept at key: doc is written (under the leader's
 * fence) only when it differs from what is stored. 1 written, 0 already
 * so, or -errno. */
int reconcile_put_changed(struct store *s, const char *key, const char *doc);

/* SQLite (one replica): reconcile_round every second, or at once after
 * reconcile_kick, in a thread with its own store connection (db). */
int reconcile_thread_start(const char *db);
void reconcile_thread_stop(void);
/* A request changed what is wanted: run a round soon (no-op without the
 * thread; the leader's tick runs it on etcd). */
void reconcile_kick(void);

#endif
