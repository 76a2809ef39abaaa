/* fuzz_frame: ward-net's frame parser and everything the data path does with
 * a parsed frame (source/destination check, ARP answers, DHCP, switching,
 * routing), on a fixed two-VPC model. Input: [u8 sending ENI][frame bytes].
 * Delivered frames are re-parsed: what the card sends must parse too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/dp.h"
#include "net/frame.h"
#include "net/vpc.h"

static const char model[] =
	"{\"version\":1,\"vpcs\":[{\"id\":\"a\",\"cidr\":\"10.0.0.0/16\"},{\"id\":\"b\",\"cidr\":\"10.0.0.0/16\"}],"
	"\"subnets\":[{\"id\":\"a1\",\"vpc\":\"a\",\"cidr\":\"10.0.1.0/24\"},"
	"{\"id\":\"a2\",\"vpc\":\"a\",\"cidr\":\"10.0.2.0/24\"},{\"id\":\"b1\",\"vpc\":\"b\",\"cidr\":\"10.0.1.0/24\"}],"
	"\"enis\":[{\"id\":\"e0\",\"subnet\":\"a1\",\"mac\":\"02:00:00:00:00:01\",\"ip\":\"10.0.1.10\"},"
	"{\"id\":\"e1\",\"subnet\":\"a1\",\"mac\":\"02:00:00:00:00:02\",\"ip\":\"10.0.1.20\"},"
	"{\"id\":\"e2\",\"subnet\":\"a2\",\"mac\":\"02:00:00:00:00:03\",\"ip\":\"10.0.2.10\",\"mtu\":1500},"
	"{\"id\":\"e3\",\"subnet\":\"b1\",\"mac\":\"02:00:00:00:00:04\",\"ip\":\"10.0.1.20\","
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
	static uint8_t buf[FRAME_MAX_LEN + 1];
	static int loaded;
	char err[256];

	if (!loaded) {
		if (vpc_load(model, sizeof(model) - 1, &cfg, err, sizeof(err)))
			abort();
		dp_init(&dp, &cfg, deliver, NULL);
		loaded = 1;
	}
	if (size < 1 || size - 1 > sizeof(buf))
		return 0;
	memcpy(buf, data + 1, size - 1);
	dp_input(&dp, data[0] % cfg.n_enis, buf, size - 1);
	return 0;
}
