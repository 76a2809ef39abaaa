/* hv_standin: a stand-in for ward-hv in a test firmware store, for hosts
 * without /dev/kvm. It takes ward-hv's command line, holds the fds it is
 * given (the volumes' vhost-user ends) and waits for SIGTERM, so an
 * instance "runs" and its re-adoption across a controller restart can be
 * tested. It never touches a guest. */
#include <signal.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_term };

	sigaction(SIGTERM, &sa, NULL);
	while (!stop)
		pause();
	return 0;
}
