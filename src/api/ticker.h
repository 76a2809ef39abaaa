/* ticker: a periodic task of ward-api's on SQLite (one replica, no
 * election): fn every second, or at once after ticker_kick, in a thread
 * with a store connection of its own. On etcd the leader's tick runs the
 * same functions instead (leader.h). Used by hosts.c and reconcile.c. */
#ifndef WARD_API_TICKER_H
#define WARD_API_TICKER_H

#include <pthread.h>
#include <stdbool.h>

#include "store.h"

struct ticker {
	int (*fn)(struct store *s, void *arg);	/* its return is not looked at */
	void *arg;
	/* the rest is ticker.c's */
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool running, stop, kicked;
	struct store *s;
};

/* A static struct ticker: static struct ticker T = TICKER_INIT(f, NULL); */
#define TICKER_INIT(f, a) { .fn = (f), .arg = (a), \
	.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER }

/* Opens db (the same SQLite file the server uses) and starts the thread;
 * its first round runs at once. 0 or -errno. */
int ticker_start(struct ticker *t, const char *db);
/* Ends the thread after its current round and closes its connection;
 * a no-op when not started. */
void ticker_stop(struct ticker *t);
/* Run a round soon (no-op while not started). */
void ticker_kick(struct ticker *t);

#endif
