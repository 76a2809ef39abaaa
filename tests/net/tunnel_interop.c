/* tests/net/tunnel_interop: packets sealed by an independent implementation
 * of docs/formats.md "Underlay" (fuzz/net/make_corpus_tunnel.py, python's
 * cryptography AES-GCM) open in ward's tunnel_decap with the same key
 * material, and the wrong ones are refused for the documented reason.
 * argv[1]: the corpus directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tunnel.h"

static const char *dir;

static long decap_seed(const char *name, uint8_t *out, size_t cap)
{
	struct tunnel_cfg cfg = { .local_id = "hostB" };
	uint8_t buf[2048], m[TUNNEL_KEY_MATERIAL_LEN];
	char path[512];
	struct tunnel *t;
	uint32_t vni = 0, src = htonl(0xc6120001);
	size_t n;
	long r;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_true(n > 1);
	for (size_t i = 0; i < sizeof(m); i++)
		m[i] = (uint8_t)(0x11 + i * 7);
	cfg.debug_plaintext = buf[0] & 1;
	if (buf[0] & 2)
		src = htonl(0xc6120009);
	assert_int_equal(tunnel_create(&cfg, &t), 0);
	assert_int_equal(tunnel_peer_add(t, "hostA", htonl(0xc6120001)), 0);
	assert_int_equal(tunnel_map_set(t, 0xabcd, htonl(0x0a000001), "hostA"), 0);
	assert_int_equal(tunnel_map_set(t, 0xabcd, htonl(0x0a000002), "hostB"), 0);
	assert_int_equal(tunnel_peer_install(t, "hostA", 1, TUNNEL_RESPONDER, m, 0), 0);
	assert_int_equal(tunnel_peer_activate(t, "hostA", 1, 0), 0);
	r = tunnel_decap(t, src, buf + 1, n - 1, out, cap, &vni, 0);
	if (r >= 0)
		assert_int_equal(vni, 0xabcd);
	tunnel_destroy(t);
	return r;
}

static void test_independent_seal_opens(void **state)
{
	uint8_t out[2048];

	(void)state;
	assert_int_equal(decap_seed("sealed_ok", out, sizeof(out)), 34 + strlen("hello underlay"));
	assert_memory_equal(out + 34, "hello underlay", strlen("hello underlay"));
	assert_true(decap_seed("sealed_seq_big", out, sizeof(out)) > 0);
	assert_true(decap_seed("plain_ok", out, sizeof(out)) > 0);
}

static void test_refusals(void **state)
{
	uint8_t out[2048];

	(void)state;
	assert_int_equal(decap_seed("sealed_spoofed", out, sizeof(out)), -EPERM);
	assert_int_equal(decap_seed("sealed_wrong_epoch", out, sizeof(out)), -ENOKEY);
	assert_int_equal(decap_seed("sealed_unknown_src", out, sizeof(out)), -ENOENT);
	assert_int_equal(decap_seed("plain_refused", out, sizeof(out)), -EPROTO);
	assert_int_equal(decap_seed("short", out, sizeof(out)), -EBADMSG);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_independent_seal_opens),
		cmocka_unit_test(test_refusals),
	};

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
