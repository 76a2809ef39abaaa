/* fw_vendor: the pinned vendor key. The default is the TEST key in
 * keys/TEST-vendor-ed25519.pem (its private half is public: tests and the
 * demo sign with it). Production builds define WARD_FW_VENDOR_PUBKEY_HEX. */
#include <string.h>

#include "fw_vendor.h"

#define TEST_VENDOR_PUBKEY_HEX \
	"28a96b142813baa28652b39e50737db8de7d244f2fe40bcb6d09ceae9ad54b2b"

#ifndef WARD_FW_VENDOR_PUBKEY_HEX
#define WARD_FW_VENDOR_PUBKEY_HEX TEST_VENDOR_PUBKEY_HEX
#endif

_Static_assert(sizeof(WARD_FW_VENDOR_PUBKEY_HEX) == 2 * FW_ED25519_PUB_LEN + 1,
	       "WARD_FW_VENDOR_PUBKEY_HEX must be 64 hex digits");

static uint8_t key[FW_ED25519_PUB_LEN];
static bool decoded;

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 0;
}

const uint8_t *fw_vendor_pubkey(void)
{
	static const char hex[] = WARD_FW_VENDOR_PUBKEY_HEX;

	if (!decoded) {
		for (int i = 0; i < FW_ED25519_PUB_LEN; i++)
			key[i] = (uint8_t)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
		decoded = true;
	}
	return key;
}

bool fw_vendor_is_test_key(void)
{
	return !strcmp(WARD_FW_VENDOR_PUBKEY_HEX, TEST_VENDOR_PUBKEY_HEX);
}
