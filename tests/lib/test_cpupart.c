/* Tests of cpupart: topology parsing on a fake sysfs tree (2 sockets x 8
 * cores x 2 threads, with Linux's "n and n+16 are siblings" numbering),
 * whole-core allocation and its refusals, and the side-channel probes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cpupart.h"

static char root[256];

static void put(const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* 2 sockets x 8 cores x 2 threads; cpu = thread*16 + socket*8 + core. */
static void make_fake(const char *online)
{
	char dir[512], text[64];

	snprintf(root, sizeof(root), "/tmp/ward-topo-XXXXXX");
	assert_non_null(mkdtemp(root));
	put("online", online);
	for (int cpu = 0; cpu < 32; cpu++) {
		int base = cpu % 16;

		snprintf(dir, sizeof(dir), "%s/cpu%d", root, cpu);
		mkdir(dir, 0755);
		snprintf(dir, sizeof(dir), "%s/cpu%d/topology", root, cpu);
		mkdir(dir, 0755);
		snprintf(dir, sizeof(dir), "cpu%d/topology/core_cpus_list", cpu);
		snprintf(text, sizeof(text), "%d,%d\n", base, base + 16);
		put(dir, text);
		snprintf(dir, sizeof(dir), "cpu%d/topology/physical_package_id", cpu);
		snprintf(text, sizeof(text), "%d\n", base / 8);
		put(dir, text);
	}
}

static void drop_fake(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	assert_int_equal(system(cmd), 0);
}

static void test_reads_fake_two_socket_smt_topology(void **state)
{
	static struct cpu_topo t;
	char err[256];

	make_fake("0-31\n");
	assert_int_equal(cpupart_read_topology(root, &t, err, sizeof(err)), 0);
	assert_int_equal(t.ncpus, 32);
	assert_int_equal(t.ncores, 16);
	assert_int_equal(t.threads_per_core, 2);
	assert_int_equal(t.core_of[3], t.core_of[19]);   /* siblings share a core */
	assert_int_not_equal(t.core_of[3], t.core_of[4]);
	assert_int_equal(t.socket_of[3], 0);
	assert_int_equal(t.socket_of[12], 1);
	drop_fake();
}

static void test_fixed_instances_get_whole_cores_or_nothing(void **state)
{
	static struct cpu_topo t;
	static struct cpu_alloc a;
	int cpus[64];
	char err[256];

	make_fake("0-31\n");
	assert_int_equal(cpupart_read_topology(root, &t, err, sizeof(err)), 0);
	assert_int_equal(cpupart_split(&a, &t, 2, 4, err, sizeof(err)), 0);

	/* 4 vCPUs = 2 whole cores: both siblings of each, on one socket. */
	assert_int_equal(cpupart_alloc_fixed(&a, 1, 4, cpus, err, sizeof(err)), 0);
	for (int i = 0; i < 4; i++) {
		int sib_found = 0;

		assert_true(a.role[t.core_of[cpus[i]]] == CORE_GUEST_FIXED);
		for (int j = 0; j < 4; j++)
			sib_found |= (cpus[j] == (cpus[i] + 16) % 32) || (cpus[j] == cpus[i] - 16);
		assert_true(sib_found);
		assert_int_equal(t.socket_of[cpus[i]], t.socket_of[cpus[0]]);
	}
	/* Never half a core. */
	assert_int_equal(cpupart_alloc_fixed(&a, 2, 3, cpus, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "whole cores"));
	/* 16 cores - 2 card - 4 burst = 10 fixed cores; 2 used, 8 left. */
	assert_int_equal(cpupart_alloc_fixed(&a, 3, 16, cpus, err, sizeof(err)), 0);
	assert_int_equal(cpupart_alloc_fixed(&a, 4, 2, cpus, err, sizeof(err)), -ENOSPC);
	assert_non_null(strstr(err, "refusing"));
	cpupart_release(&a, 1);
	assert_int_equal(cpupart_alloc_fixed(&a, 4, 2, cpus, err, sizeof(err)), 0);
	/* Re-adoption takes the recorded cores again, never a held or card one. */
	{
		int again[2] = { cpus[0], cpus[1] }, card[1] = { 0 };

		cpupart_release(&a, 4);
		assert_int_equal(cpupart_claim_fixed(&a, 6, again, 2, err, sizeof(err)), 0);
		assert_int_equal(cpupart_claim_fixed(&a, 7, again, 2, err, sizeof(err)), -EBUSY);
		assert_int_equal(cpupart_claim_fixed(&a, 7, card, 1, err, sizeof(err)), -EBUSY);
		assert_int_equal(a.owner[t.core_of[again[0]]], 6);
	}

	assert_int_equal(cpupart_burst_cpus(&a, cpus, 64), 8);
	assert_int_equal(cpupart_card_cpus(&a, cpus, 64), 4);
	for (int i = 0; i < 4; i++)
		assert_true(a.role[t.core_of[cpus[i]]] == CORE_CARD);
	drop_fake();
}

static void test_core_with_offline_sibling_is_never_handed_out(void **state)
{
	static struct cpu_topo t;
	static struct cpu_alloc a;
	int cpus[64];
	char err[256];

	/* cpu 31 (sibling of 15, the last core) is offline. */
	make_fake("0-30\n");
	assert_int_equal(cpupart_read_topology(root, &t, err, sizeof(err)), 0);
	assert_int_equal(cpupart_split(&a, &t, 1, 0, err, sizeof(err)), 0);
	/* 15 guest cores, one of them incomplete: 14 whole cores = 28 vCPUs. */
	assert_int_equal(cpupart_alloc_fixed(&a, 1, 30, cpus, err, sizeof(err)), -ENOSPC);
	assert_int_equal(cpupart_alloc_fixed(&a, 1, 28, cpus, err, sizeof(err)), 0);
	for (int i = 0; i < 28; i++)
		assert_true(cpus[i] != 15 && cpus[i] != 31);
	drop_fake();
}

static void test_refuses_bad_splits_and_malformed_lists(void **state)
{
	static struct cpu_topo t;
	static struct cpu_alloc a;
	char err[256];

	make_fake("0-31\n");
	assert_int_equal(cpupart_read_topology(root, &t, err, sizeof(err)), 0);
	assert_int_equal(cpupart_split(&a, &t, 0, 0, err, sizeof(err)), -EINVAL);
	assert_int_equal(cpupart_split(&a, &t, 16, 0, err, sizeof(err)), -EINVAL);
	assert_int_equal(cpupart_split(&a, &t, 8, 9, err, sizeof(err)), -EINVAL);
	assert_int_equal(cpupart_split(&a, &t, 8, 8, err, sizeof(err)), 0); /* all-burstable guests */
	put("cpu0/topology/core_cpus_list", "0-,x\n");
	assert_int_equal(cpupart_read_topology(root, &t, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "cpu0"));
	drop_fake();
	assert_int_equal(cpupart_read_topology("/nonexistent", &t, err, sizeof(err)), -ENOENT);
}

static void test_reads_this_host(void **state)
{
	static struct cpu_topo t;
	char err[256];

	assert_int_equal(cpupart_read_topology("/sys/devices/system/cpu", &t, err, sizeof(err)), 0);
	assert_true(t.ncores >= 1);
	assert_true(t.threads_per_core >= 1);
	assert_true(t.ncpus <= sysconf(_SC_NPROCESSORS_CONF));
}

/* The probes must agree with what actually happens when the controls are
 * requested, and every refusal must be named in the report. */
static void test_sidechannel_probe_matches_requests(void **state)
{
	struct sidechan_caps caps;
	char report[512];
	int failed;

	cpupart_probe_sidechan(&caps);
	if (!caps.core_sched)
		assert_non_null(strstr(caps.detail, "core-scheduling"));
	if (!caps.l1d_flush)
		assert_non_null(strstr(caps.detail, "L1D flush"));
	failed = cpupart_harden_self(report, sizeof(report));
	assert_int_equal(failed == 0, report[0] == '\0');
	assert_int_equal(!caps.core_sched, strstr(report, "core-scheduling") != NULL);
	assert_int_equal(!caps.l1d_flush, strstr(report, "L1D") != NULL);
	assert_int_equal(!caps.ib_isolation, strstr(report, "indirect-branch") != NULL);
	if (caps.core_sched) {
		unsigned long long cookie = 0;

		assert_int_equal(prctl(62 /* PR_SCHED_CORE */, 0, 0, 0, (unsigned long)&cookie), 0);
		assert_true(cookie != 0);
	}
	print_message("host side-channel controls: %s\n", caps.detail[0] ? caps.detail : "all offered");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_fake_two_socket_smt_topology),
		cmocka_unit_test(test_fixed_instances_get_whole_cores_or_nothing),
		cmocka_unit_test(test_core_with_offline_sibling_is_never_handed_out),
		cmocka_unit_test(test_refuses_bad_splits_and_malformed_lists),
		cmocka_unit_test(test_reads_this_host),
		cmocka_unit_test(test_sidechannel_probe_matches_requests),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
