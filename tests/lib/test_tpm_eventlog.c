/* test_tpm_eventlog: the event log writer, its hostile-input parser and the
 * PCR replay, without a TPM. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tpm_eventlog.h"
#include "tpm_test.h"

static char dir[] = "/tmp/ward-evlog.XXXXXX";
static char path[600];

static int setup(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/log", dir);
	return 0;
}

static int teardown(void **state)
{
	unlink(path);
	rmdir(dir);
	return 0;
}

static uint8_t *slurp(size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b = malloc(1 << 18);

	assert_non_null(f);
	*len = fread(b, 1, 1 << 18, f);
	fclose(f);
	return b;
}

struct seen {
	int n;
	struct tpm_event ev[8];
};

static int collect(const struct tpm_event *ev, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8)
		s->ev[s->n] = *ev;
	s->n++;
	return 0;
}

/* Writes a 3-event log; returns the record boundaries. */
static void write_log(size_t bounds[4])
{
	uint8_t d[32];

	unlink(path);
	tt_sha256("a", 1, d);
	assert_int_equal(tpm_eventlog_append(path, 8, TPM_EV_IPL, d, "a", 1), 0);
	tt_sha256("bb", 2, d);
	assert_int_equal(tpm_eventlog_append(path, 9, TPM_EV_IPL, d, "bb", 2),
			 0);
	memset(d, 0, 32);
	assert_int_equal(tpm_eventlog_append(path, 10, TPM_EV_NO_ACTION, d,
					     NULL, 0), 0);
	/* header 65; each record 4+4+4+2+32+4 = 50 + data */
	bounds[0] = 65;
	bounds[1] = bounds[0] + 51;
	bounds[2] = bounds[1] + 52;
	bounds[3] = bounds[2] + 50;
}

static void test_append_parse_round_trip(void **state)
{
	size_t bounds[4], len;
	struct seen s = { 0 };
	char err[128];
	uint8_t *b, d[32];

	write_log(bounds);
	b = slurp(&len);
	assert_int_equal(len, bounds[3]);
	assert_int_equal(tpm_eventlog_parse(b, len, collect, &s, err,
					    sizeof(err)), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.ev[0].pcr, 8);
	assert_int_equal(s.ev[0].type, TPM_EV_IPL);
	assert_int_equal(s.ev[0].data_len, 1);
	assert_memory_equal(s.ev[0].data, "a", 1);
	tt_sha256("bb", 2, d);
	assert_memory_equal(s.ev[1].digest, d, 32);
	assert_int_equal(s.ev[2].type, TPM_EV_NO_ACTION);
	free(b);
}

static void test_replay_known_values(void **state)
{
	size_t bounds[4];
	struct tpm_replay r;
	uint8_t p8[32] = { 0 }, p9[32] = { 0 }, d[32], ones[32];
	char err[128];

	write_log(bounds);
	assert_int_equal(tpm_eventlog_replay_file(path, &r, err, sizeof(err)),
			 0);
	tt_sha256("a", 1, d);
	tt_extend(p8, d);
	tt_sha256("bb", 2, d);
	tt_extend(p9, d);
	/* EV_NO_ACTION on PCR 10 is not extended. */
	assert_int_equal(r.mask, TPM_PCR_BIT(8) | TPM_PCR_BIT(9));
	assert_int_equal(r.events, 3);
	assert_memory_equal(r.pcr[8], p8, 32);
	assert_memory_equal(r.pcr[9], p9, 32);
	memset(ones, 0xff, 32);
	assert_memory_equal(r.pcr[17], ones, 32);
	memset(ones, 0, 32);
	assert_memory_equal(r.pcr[10], ones, 32);
}

/* A log cut anywhere parses only if the cut is on a record boundary. */
static void test_every_truncation(void **state)
{
	size_t bounds[4], len;
	struct tpm_replay r;
	char err[128];
	uint8_t *b;

	write_log(bounds);
	b = slurp(&len);
	for (size_t n = 0; n < len; n++) {
		int ok = n == bounds[0] || n == bounds[1] || n == bounds[2];
		uint8_t *c = malloc(n ? n : 1);

		memcpy(c, b, n);
		assert_int_equal(tpm_eventlog_replay(c, n, &r, err, sizeof(err)),
				 ok ? 0 : -EBADMSG);
		if (!ok)
			assert_non_null(strstr(err, "event log offset"));
		free(c);
	}
	free(b);
}

static void test_corruptions_rejected(void **state)
{
	size_t bounds[4], len;
	struct tpm_replay r;
	char err[128];
	uint8_t *b;

	write_log(bounds);
	b = slurp(&len);
	/* signature */
	b[32] ^= 1;
	assert_int_equal(tpm_eventlog_replay(b, len, &r, err, sizeof(err)),
			 -EBADMSG);
	b[32] ^= 1;
	/* PCR index 24 in the first event */
	b[bounds[0]] = 24;
	assert_int_equal(tpm_eventlog_replay(b, len, &r, err, sizeof(err)),
			 -EBADMSG);
	assert_non_null(strstr(err, "PCR index"));
	b[bounds[0]] = 8;
	/* digest count 2 */
	b[bounds[0] + 8] = 2;
	assert_int_equal(tpm_eventlog_replay(b, len, &r, err, sizeof(err)),
			 -EBADMSG);
	b[bounds[0] + 8] = 1;
	/* unknown algorithm */
	b[bounds[0] + 12] = 0x0c;
	assert_int_equal(tpm_eventlog_replay(b, len, &r, err, sizeof(err)),
			 -EBADMSG);
	b[bounds[0] + 12] = 0x0b;
	/* event size 0xffffffff */
	memset(b + bounds[0] + 46, 0xff, 4);
	assert_int_equal(tpm_eventlog_replay(b, len, &r, err, sizeof(err)),
			 -EBADMSG);
	memset(b + bounds[0] + 46, 0, 4);
	b[bounds[0] + 46] = 1;
	assert_int_equal(tpm_eventlog_replay(b, len, &r, err, sizeof(err)), 0);
	/* empty / NULL */
	assert_int_equal(tpm_eventlog_replay(NULL, 0, &r, err, sizeof(err)),
			 -EBADMSG);
	free(b);
}

static void test_create_truncates_and_bad_args(void **state)
{
	size_t bounds[4];
	struct tpm_replay r;
	uint8_t d[32] = { 0 };
	char err[128];

	write_log(bounds);
	assert_int_equal(tpm_eventlog_create(path), 0);
	assert_int_equal(tpm_eventlog_replay_file(path, &r, err, sizeof(err)),
			 0);
	assert_int_equal(r.events, 0);
	assert_int_equal(tpm_eventlog_append(path, 24, TPM_EV_IPL, d, NULL, 0),
			 -EINVAL);
	assert_int_equal(tpm_eventlog_append(path, 8, TPM_EV_IPL, d, d,
					     TPM_EVENT_DATA_MAX + 1), -EINVAL);
	assert_true(tpm_eventlog_replay_file("/nonexistent/x", &r, err,
					     sizeof(err)) == -ENOENT);
}

static int count_events(const struct tpm_event *ev, void *arg)
{
	int *counts = arg;

	counts[ev->pcr]++;
	return 0;
}

/* Appenders in several processes at once: every record lands whole, the
 * header exactly once. */
static void test_concurrent_appends(void **state)
{
	int counts[24] = { 0 }, status;
	pid_t kids[4];
	size_t len;
	uint8_t *b;
	char err[128];

	unlink(path);
	for (int k = 0; k < 4; k++) {
		kids[k] = fork();
		assert_true(kids[k] >= 0);
		if (kids[k] == 0) {
			uint8_t d[32] = { (uint8_t)k };

			for (int i = 0; i < 100; i++)
				if (tpm_eventlog_append(path, 12 + (unsigned)k,
							TPM_EV_IPL, d, "payload",
							7))
					_exit(1);
			_exit(0);
		}
	}
	for (int k = 0; k < 4; k++) {
		assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	b = slurp(&len);
	assert_int_equal(tpm_eventlog_parse(b, len, count_events, counts, err,
					    sizeof(err)), 0);
	for (int k = 0; k < 4; k++)
		assert_int_equal(counts[12 + k], 100);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append_parse_round_trip),
		cmocka_unit_test(test_replay_known_values),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_corruptions_rejected),
		cmocka_unit_test(test_create_truncates_and_bad_args),
		cmocka_unit_test(test_concurrent_appends),
	};

	return cmocka_run_group_tests_name("tpm-eventlog", tests, setup,
					   teardown);
}
