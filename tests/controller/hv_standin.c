/* hv_standin: a stand-in for ward-hv in a test firmware store, for hosts
 * without /dev/kvm. It takes ward-hv's command line, holds the fds it is
 * given (the volumes' vhost-user ends) and waits for SIGTERM, so an
 * instance "runs" and its re-adoption across a controller restart can be
 * tested. It never touches a guest.
 *
 * Its console (stdout, the controller's pipe): a guest command line
 * (WARD_GUEST_CMDLINE, as ward-hv gets it) with "console-pattern=N" makes
 * it write N bytes of numbered lines ("console line 00000000\n", the last
 * one cut short), then "stdout O_NONBLOCK=yes|no\n"; SIGHUP writes
 * "console after SIGHUP\n"; SIGUSR1 makes it exit 0 (an instance that
 * ends on its own). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop, hup;

static void on_sig(int sig)
{
	if (sig == SIGHUP)
		hup = 1;
	else
		stop = 1;
}

/* All of it into the pipe: the test checks exact offsets, so the stand-in
 * waits where ward-hv (whose end is non-blocking too) would drop. */
static void put(const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(STDOUT_FILENO, p, n);

		if (w < 0 && errno == EAGAIN) {
			struct pollfd pf = { .fd = STDOUT_FILENO, .events = POLLOUT };

			poll(&pf, 1, 1000);
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;	/* no reader: dropped, like ward-hv */
		p += w;
		n -= (size_t)w;
	}
}

static void pattern(unsigned long total)
{
	char line[32];
	unsigned long done = 0, k = 0;
	int fl = fcntl(STDOUT_FILENO, F_GETFL);

	while (done < total) {
		size_t n = (size_t)snprintf(line, sizeof(line), "console line %08lu\n", k++);

		if (n > total - done)
			n = total - done;
		put(line, n);
		done += n;
	}
	snprintf(line, sizeof(line), "stdout O_NONBLOCK=%s\n",
		 fl >= 0 && (fl & O_NONBLOCK) ? "yes" : "no");
	put(line, strlen(line));
}

int main(void)
{
	struct sigaction sa = { .sa_handler = on_sig };
	const char *cmd = getenv("WARD_GUEST_CMDLINE"), *p;
	sigset_t all, none;

	signal(SIGPIPE, SIG_IGN);	/* as ward-hv: a console without reader drops */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (cmd && (p = strstr(cmd, "console-pattern=")))
		pattern(strtoul(p + strlen("console-pattern="), NULL, 10));
	sigfillset(&all);
	sigemptyset(&none);
	sigprocmask(SIG_BLOCK, &all, NULL);
	while (!stop) {
		if (hup) {
			hup = 0;
			put("console after SIGHUP\n", strlen("console after SIGHUP\n"));
			continue;
		}
		sigsuspend(&none);
	}
	return 0;
}
