/* keyxd: one thread per card running the underlay key exchanges (keyx.c)
 * so the data path never blocks on a handshake. It sleeps in poll() on the
 * listening socket and an eventfd (poke/stop), answers one connection at a
 * time, and on every tick starts the exchanges that are due. */
#include "keyxd.h"

#include "errmsg.h"
#include "log.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct keyxd {
	struct keyxd_cfg cfg;
	int evfd;
	pthread_t thread;
	pthread_mutex_t mu;
	bool stop;
	struct keyxd_stats st;
};

static uint64_t mono_s(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec;
}

static void set_deadline(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	/* For connect(); the exchange itself runs against keyx's one deadline. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void count(struct keyxd *d, uint64_t *c)
{
	pthread_mutex_lock(&d->mu);
	(*c)++;
	pthread_mutex_unlock(&d->mu);
}

static bool known_peer_addr(const struct tunnel *t, uint32_t addr)
{
	char id[TUNNEL_HOST_ID_MAX + 1];
	uint32_t a;

	for (size_t i = 0; tunnel_peer_id(t, i, id) == 0; i++)
		if (tunnel_peer_addr(t, id, &a) == 0 && a == addr)
			return true;
	return false;
}

static void answer_one(struct keyxd *d)
{
	char peer[TUNNEL_HOST_ID_MAX + 1];
	struct sockaddr_in from;
	socklen_t fl = sizeof(from);
	int c = accept4(d->cfg.listen_fd, (struct sockaddr *)&from, &fl, SOCK_CLOEXEC);

	if (c < 0)
		return;
	if (fl != sizeof(from) || from.sin_family != AF_INET) {
		close(c);
		count(d, &d->st.resp_fail);
		return;
	}
	/* Only a known peer's underlay address gets a TLS handshake: anyone
	 * else would hold the one responder for a whole deadline per try. */
	if (!known_peer_addr(d->cfg.t, from.sin_addr.s_addr)) {
		close(c);
		count(d, &d->st.resp_fail);
		return;
	}
	set_deadline(c, d->cfg.io_timeout_ms);
	if (keyx_respond(d->cfg.kx, d->cfg.t, c, from.sin_addr.s_addr, d->cfg.now(d->cfg.now_arg), peer))
		count(d, &d->st.resp_fail);
	else
		count(d, &d->st.resp_ok);
	close(c);
}

static int dial_direct(void *arg, uint32_t addr, uint16_t port)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
	int c, rc;

	to.sin_addr.s_addr = addr;
	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0)
		return -errno;
	set_deadline(c, *(const int *)arg);
	if (connect(c, (struct sockaddr *)&to, sizeof(to))) {
		rc = -errno;
		close(c);
		return rc;
	}
	return c;
}

static int initiate_one(struct keyxd *d, const char *peer)
{
	uint32_t addr;
	int c, rc;

	if (tunnel_peer_addr(d->cfg.t, peer, &addr))
		return -ENOENT;
	c = d->cfg.dial(d->cfg.dial_arg, addr, d->cfg.port);
	if (c < 0) {
		log_warn("underlay key exchange: cannot reach peer", "peer=%s errno=%s", peer, errname(-c));
		return c;
	}
	set_deadline(c, d->cfg.io_timeout_ms);
	rc = keyx_initiate(d->cfg.kx, d->cfg.t, c, peer, d->cfg.now(d->cfg.now_arg));
	close(c);
	return rc;
}

static void start_due(struct keyxd *d)
{
	char peer[TUNNEL_HOST_ID_MAX + 1];

	for (size_t i = 0; tunnel_peer_id(d->cfg.t, i, peer) == 0; i++) {
		if (!tunnel_initiates(d->cfg.t, peer) ||
		    !tunnel_peer_rekey_due(d->cfg.t, peer, d->cfg.now(d->cfg.now_arg)))
			continue;
		count(d, initiate_one(d, peer) ? &d->st.init_fail : &d->st.init_ok);
	}
}

static void *keyxd_run(void *arg)
{
	struct keyxd *d = arg;

	for (;;) {
		struct pollfd p[2] = { { .fd = d->cfg.listen_fd, .events = POLLIN },
				       { .fd = d->evfd, .events = POLLIN } };
		bool stop;
		int n = poll(p, 2, (int)d->cfg.check_ms);

		pthread_mutex_lock(&d->mu);
		stop = d->stop;
		pthread_mutex_unlock(&d->mu);
		if (stop)
			return NULL;
		if (n < 0 && errno != EINTR)
			return NULL;
		if (n > 0 && (p[0].revents & POLLIN))
			answer_one(d);
		if (n > 0 && (p[1].revents & POLLIN)) {
			uint64_t v;

			if (read(d->evfd, &v, sizeof(v)) < 0)
				continue;
		}
		start_due(d);
	}
}

int keyxd_start(const struct keyxd_cfg *cfg, struct keyxd **out)
{
	struct keyxd *d;
	int rc;

	if (!cfg->kx || !cfg->t || cfg->listen_fd < 0 || !cfg->port)
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->cfg = *cfg;
	if (!d->cfg.io_timeout_ms)
		d->cfg.io_timeout_ms = 5000;
	if (!d->cfg.check_ms)
		d->cfg.check_ms = 1000;
	if (!d->cfg.now)
		d->cfg.now = mono_s;
	if (!d->cfg.dial) {
		d->cfg.dial = dial_direct;
		d->cfg.dial_arg = &d->cfg.io_timeout_ms;
	}
	keyx_set_timeout(d->cfg.kx, d->cfg.io_timeout_ms);
	d->evfd = eventfd(0, EFD_CLOEXEC);
	if (d->evfd < 0) {
		rc = -errno;
		goto err_free;
	}
	pthread_mutex_init(&d->mu, NULL);
	rc = -pthread_create(&d->thread, NULL, keyxd_run, d);
	if (rc)
		goto err_close;
	*out = d;
	return 0;
err_close:
	pthread_mutex_destroy(&d->mu);
	close(d->evfd);
err_free:
	free(d);
	return rc;
}

void keyxd_poke(struct keyxd *d)
{
	uint64_t one = 1;

	if (write(d->evfd, &one, sizeof(one)) < 0)
		log_warn("keyxd: poke lost", "errno=%s", errname(errno));
}

void keyxd_stats_read(struct keyxd *d, struct keyxd_stats *out)
{
	pthread_mutex_lock(&d->mu);
	*out = d->st;
	pthread_mutex_unlock(&d->mu);
}

void keyxd_stop(struct keyxd *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	d->stop = true;
	pthread_mutex_unlock(&d->mu);
	keyxd_poke(d);
	pthread_join(d->thread, NULL);
	pthread_mutex_destroy(&d->mu);
	close(d->evfd);
	free(d);
}
