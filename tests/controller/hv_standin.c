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
 * ends on its own).
 *
 * Its network: given --net-fd N (the socket the controller made for its
 * ENI in ward-net), it asks the backend for its features as a vhost-user
 * frontend would (VHOST_USER_GET_FEATURES) at start and again on each
 * SIGHUP, and writes "net: features=0x..." or "net: backend gone (...)"
 * to its console. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop, hup;
static int net_fd = -1;
static void put(const char *p, size_t n);

/* One vhost-user request and its reply (docs: QEMU's vhost-user spec):
 * header u32 request, u32 flags (version 1; 0x4 = reply), u32 size. */
static void net_probe(void)
{
	struct __attribute__((packed)) {
		uint32_t req, flags, size;
		uint64_t v;
	} m = { 1 /* GET_FEATURES */, 0x1, 0, 0 };
	struct pollfd pf = { .fd = net_fd, .events = POLLIN };
	char line[96];
	ssize_t n;

	if (net_fd < 0)
		return;
	if (write(net_fd, &m, 12) != 12)
		snprintf(line, sizeof(line), "net: backend gone (send: %s)\n", strerror(errno));
	else if (poll(&pf, 1, 10000) != 1)
		snprintf(line, sizeof(line), "net: backend gone (no answer)\n");
	else if ((n = read(net_fd, &m, sizeof(m))) != (ssize_t)sizeof(m) || m.req != 1 ||
		 m.flags != 0x5 || m.size != 8)
		snprintf(line, sizeof(line), "net: backend gone (reply of %zd bytes)\n", n);
	else
		snprintf(line, sizeof(line), "net: features=0x%llx\n", (unsigned long long)m.v);
	put(line, strlen(line));
}

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

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_sig };
	const char *cmd = getenv("WARD_GUEST_CMDLINE"), *p;
	sigset_t all, none;

	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], "--net-fd"))
			net_fd = atoi(argv[i + 1]);

	signal(SIGPIPE, SIG_IGN);	/* as ward-hv: a console without reader drops */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (cmd && (p = strstr(cmd, "console-pattern=")))
		pattern(strtoul(p + strlen("console-pattern="), NULL, 10));
	net_probe();
	sigfillset(&all);
	sigemptyset(&none);
	sigprocmask(SIG_BLOCK, &all, NULL);
	while (!stop) {
		if (hup) {
			hup = 0;
			put("console after SIGHUP\n", strlen("console after SIGHUP\n"));
			net_probe();
			continue;
		}
		sigsuspend(&none);
	}
	return 0;
}
