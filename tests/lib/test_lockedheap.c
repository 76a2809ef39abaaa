/* lockedheap: OpenSSL's allocations land in locked, non-dumpable memory,
 * are wiped when freed, and a real cipher works on top of it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "lockedheap.h"

/* VmFlags of the mapping that holds p (from /proc/self/smaps). */
static void flags_of(const void *p, char *out, size_t outlen)
{
	char line[512];
	uintptr_t a = (uintptr_t)p, lo, hi;
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "re");

	out[0] = 0;
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = a >= lo && a < hi;
		else if (in && !strncmp(line, "VmFlags:", 8)) {
			snprintf(out, outlen, "%s", line);
			break;
		}
	}
	fclose(f);
}

static void test_routes_and_locks(void **state)
{
	char err[256], flags[512];
	uint8_t *small, *big, *grown;
	size_t before;

	(void)state;
	assert_int_equal(lockedheap_route_openssl(256 << 10, err, sizeof(err)), 0);
	before = lockedheap_in_use();
	small = OPENSSL_malloc(100);
	big = OPENSSL_malloc(200 << 10);	/* beyond the largest class */
	assert_non_null(small);
	assert_non_null(big);
	assert_true(lockedheap_in_use() >= before + 128 + (200 << 10));
	memset(small, 0xa5, 100);
	memset(big, 0x5a, 200 << 10);
	flags_of(small, flags, sizeof(flags));
	assert_non_null(strstr(flags, " lo"));
	assert_non_null(strstr(flags, " dd"));
	flags_of(big, flags, sizeof(flags));
	assert_non_null(strstr(flags, " lo"));
	assert_non_null(strstr(flags, " dd"));
	/* realloc keeps the contents; a freed block is wiped (all but the
	 * free-list link in its header). */
	grown = OPENSSL_realloc(small, 3000);
	assert_non_null(grown);
	assert_int_equal(grown[99], 0xa5);
	for (int i = 0; i < 100; i++)
		assert_int_equal(small[i], 0);
	OPENSSL_free(grown);
	OPENSSL_free(big);
	assert_int_equal(lockedheap_in_use(), before);
	/* Too late for a second routing: OpenSSL has allocated. */
	assert_int_equal(lockedheap_route_openssl(4096, err, sizeof(err)), -EALREADY);
}

/* AES-256-XTS on top of it: the cipher's key schedule lives here. */
static void test_cipher_works(void **state)
{
	static const uint8_t key[64] = { 1, 2, 3, [32] = 4, 5, 6 };
	uint8_t iv[16] = { 0 }, in[4096], out[4096], back[4096];
	EVP_CIPHER_CTX *e = EVP_CIPHER_CTX_new(), *d = EVP_CIPHER_CTX_new();
	int n;

	(void)state;
	memset(in, 0x42, sizeof(in));
	assert_int_equal(EVP_EncryptInit_ex(e, EVP_aes_256_xts(), NULL, key, iv), 1);
	assert_int_equal(EVP_EncryptUpdate(e, out, &n, in, sizeof(in)), 1);
	assert_int_equal(EVP_DecryptInit_ex(d, EVP_aes_256_xts(), NULL, key, iv), 1);
	assert_int_equal(EVP_DecryptUpdate(d, back, &n, out, sizeof(out)), 1);
	assert_memory_equal(in, back, sizeof(in));
	assert_memory_not_equal(in, out, sizeof(in));
	EVP_CIPHER_CTX_free(e);
	EVP_CIPHER_CTX_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes_and_locks),
		cmocka_unit_test(test_cipher_works),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
