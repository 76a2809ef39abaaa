/* ticker: a periodic task on its own SQLite store connection, in a
 * thread: once a second, or at once when kicked, until stopped
 * (ticker.h). */
#include "ticker.h"

#include <time.h>

static void *ticker_main(void *arg)
{
	struct ticker *t = arg;
	struct timespec ts;

	pthread_mutex_lock(&t->mu);
	while (!t->stop) {
		t->kicked = false;
		pthread_mutex_unlock(&t->mu);
		/* No lock held during the round: a kick meanwhile is seen
		 * below and skips the wait. */
		t->fn(t->s, t->arg);
		pthread_mutex_lock(&t->mu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		if (!t->stop && !t->kicked)
			pthread_cond_timedwait(&t->cv, &t->mu, &ts);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

int ticker_start(struct ticker *t, const char *db)
{
	int rc = store_sqlite_open(db, &t->s);

	if (rc)
		return rc;
	t->stop = false;
	rc = -pthread_create(&t->th, NULL, ticker_main, t);
	if (rc) {
		store_close(t->s);
		t->s = NULL;
		return rc;
	}
	t->running = true;
	return 0;
}

void ticker_stop(struct ticker *t)
{
	if (!t->running)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = true;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->th, NULL);
	store_close(t->s);
	t->s = NULL;
	t->running = false;
}

void ticker_kick(struct ticker *t)
{
	pthread_mutex_lock(&t->mu);
	t->kicked = true;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
}
