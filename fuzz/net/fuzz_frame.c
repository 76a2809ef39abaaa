/* fuzz_frame: ward-net's frame parser and everything the data path does with
 * a parsed frame (source/destination check, ARP answers, DHCP, switching,
 * routing, security groups, conntrack, NACLs), on a fixed two-VPC model;
 * the flow tables carry over from one input to the next. Input: [u8 sending ENI][frame bytes].
 * Delivered frames are re-parsed: what the card sends must parse too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/dp.h"
#include "net/filter.h"
#include "net/frame.h"
#include "net/vpc.h"

static const char model[] =
	"{\"version\":1,\"vpcs\":[{\"id\":\"a\",\"cidr\":\"10.0.0.0/16\"},{\"id\":\"b\",\"cidr\":\"10.0.0.0/16\"}],"
	"\"security_groups\":[{\"id\":\"ga\",\"vpc\":\"a\",\"ingress\":[{\"proto\":\"tcp\",\"ports\":[80,80],"
	"\"cidr\":\"10.0.0.0/16\"},{\"proto\":\"all\",\"sg\":\"ga\"},{\"proto\":\"icmp\",\"icmp\":[8,-1],"
	"\"cidr\":\"0.0.0.0/0\"}],\"egress\":[{\"proto\":\"all\",\"cidr\":\"0.0.0.0/0\"}]},"
	"{\"id\":\"gb\",\"vpc\":\"b\"}],"
	"\"nacls\":[{\"id\":\"n2\",\"vpc\":\"a\",\"subnets\":[\"a2\"],\"ingress\":[{\"rule\":1,"
	"\"action\":\"allow\",\"proto\":\"tcp\",\"ports\":[0,1023],\"cidr\":\"10.0.0.0/8\"}],\"egress\":[{"
	"\"rule\":5,\"action\":\"deny\",\"proto\":\"udp\",\"ports\":[53,53],\"cidr\":\"0.0.0.0/0\"},{\"rule\":9,"
	"\"action\":\"allow\",\"proto\":\"all\",\"cidr\":\"0.0.0.0/0\"}]}],"
	"\"subnets\":[{\"id\":\"a1\",\"vpc\":\"a\",\"cidr\":\"10.0.1.0/24\"},"
	"{\"id\":\"a2\",\"vpc\":\"a\",\"cidr\":\"10.0.2.0/24\"},{\"id\":\"b1\",\"vpc\":\"b\",\"cidr\":\"10.0.1.0/24\"}],"
	"\"enis\":[{\"id\":\"e0\",\"subnet\":\"a1\",\"security_groups\":[\"ga\"],\"conntrack_max\":8,\"mac\":\"02:00:00:00:00:01\",\"ip\":\"10.0.1.10\"},"
	"{\"id\":\"e1\",\"subnet\":\"a1\",\"security_groups\":[\"ga\"],\"conntrack_max\":8,\"mac\":\"02:00:00:00:00:02\",\"ip\":\"10.0.1.20\"},"
	"{\"id\":\"e2\",\"subnet\":\"a2\",\"security_groups\":[\"ga\"],\"mac\":\"02:00:00:00:00:03\",\"ip\":\"10.0.2.10\",\"mtu\":1500},"
	"{\"id\":\"e3\",\"subnet\":\"b1\",\"security_groups\":[\"gb\"],\"mac\":\"02:00:00:00:00:04\",\"ip\":\"10.0.1.20\","
	"\"source_dest_check\":false}]}";

static int deliver(void *opaque, unsigned int eni, const uint8_t *f, size_t len)
{
	struct frame fr;
	const char *why;

	if (frame_parse(f, len, &fr, &why))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vpc_cfg cfg;
	static struct dp dp;
	static struct filter fl;
	static uint8_t buf[FRAME_MAX_LEN + 1];
	static int loaded;
	char err[256];

	if (!loaded) {
		if (vpc_load(model, sizeof(model) - 1, &cfg, err, sizeof(err)))
			abort();
		dp_init(&dp, &cfg, deliver, NULL);
		if (filter_init(&fl, &cfg, dp.c))
			abort();
		dp.filter = filter_check;
		dp.filter_opaque = &fl;
		loaded = 1;
	}
	if (size < 1 || size - 1 > sizeof(buf))
		return 0;
	memcpy(buf, data + 1, size - 1);
	fl.now++;   /* flows come and go across inputs: expiry is exercised too */
	dp_input(&dp, data[0] % cfg.n_enis, buf, size - 1);
	return 0;
}
