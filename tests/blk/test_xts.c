/* test_xts: AES-256-XTS against the IEEE 1619-2007 Annex B known answers for
 * 512-bit keys (vectors 10, 11 and 14: 512-byte data units; on both of
 * xts.c's paths, the provider's functions and EVP), the plain64
 * tweak convention on 4096-byte sectors, and the equal-halves key check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "xts.h"

static const char *key_hex =
	"2718281828459045235360287471352662497757247093699959574966967627"
	"3141592653589793238462643383279502884197169399375105820974944592";

static const struct { uint64_t unit; const char *ct; } vec[] = {
	{ 0xff,
	  "1c3b3a102f770386e4836c99e370cf9bea00803f5e482357a4ae12d414a3e63b"
	  "5d31e276f8fe4a8d66b317f9ac683f44680a86ac35adfc3345befecb4bb188fd"
	  "5776926c49a3095eb108fd1098baec70aaa66999a72a82f27d848b21d4a741b0"
	  "c5cd4d5fff9dac89aeba122961d03a757123e9870f8acf1000020887891429ca"
	  "2a3e7a7d7df7b10355165c8b9a6d0a7de8b062c4500dc4cd120c0f7418dae3d0"
	  "b5781c34803fa75421c790dfe1de1834f280d7667b327f6c8cd7557e12ac3a0f"
	  "93ec05c52e0493ef31a12d3d9260f79a289d6a379bc70c50841473d1a8cc81ec"
	  "583e9645e07b8d9670655ba5bbcfecc6dc3966380ad8fecb17b6ba02469a020a"
	  "84e18e8f84252070c13e9f1f289be54fbc481457778f616015e1327a02b140f1"
	  "505eb309326d68378f8374595c849d84f4c333ec4423885143cb47bd71c5edae"
	  "9be69a2ffeceb1bec9de244fbe15992b11b77c040f12bd8f6a975a44a0f90c29"
	  "a9abc3d4d893927284c58754cce294529f8614dcd2aba991925fedc4ae74ffac"
	  "6e333b93eb4aff0479da9a410e4450e0dd7ae4c6e2910900575da401fc07059f"
	  "645e8b7e9bfdef33943054ff84011493c27b3429eaedb4ed5376441a77ed4385"
	  "1ad77f16f541dfd269d50d6a5f14fb0aab1cbb4c1550be97f7ab4066193c4caa"
	  "773dad38014bd2092fa755c824bb5e54c4f36ffda9fcea70b9c6e693e148c151" },
	{ 0xffff,
	  "77a31251618a15e6b92d1d66dffe7b50b50bad552305ba0217a610688eff7e11"
	  "e1d0225438e093242d6db274fde801d4cae06f2092c728b2478559df58e837c2"
	  "469ee4a4fa794e4bbc7f39bc026e3cb72c33b0888f25b4acf56a2a9804f1ce6d"
	  "3d6e1dc6ca181d4b546179d55544aa7760c40d06741539c7e3cd9d2f6650b201"
	  "3fd0eeb8c2b8e3d8d240ccae2d4c98320a7442e1c8d75a42d6e6cfa4c2eca179"
	  "8d158c7aecdf82490f24bb9b38e108bcda12c3faf9a21141c3613b58367f922a"
	  "aa26cd22f23d708dae699ad7cb40a8ad0b6e2784973dcb605684c08b8d6998c6"
	  "9aac049921871ebb65301a4619ca80ecb485a31d744223ce8ddc2394828d6a80"
	  "470c092f5ba413c3378fa6054255c6f9df4495862bbb3287681f931b687c888a"
	  "bf844dfc8fc28331e579928cd12bd2390ae123cf03818d14dedde5c0c24c8ab0"
	  "18bfca75ca096f2d531f3d1619e785f1ada437cab92e980558b3dce1474afb75"
	  "bfedbf8ff54cb2618e0244c9ac0d3c66fb51598cd2db11f9be39791abe447c63"
	  "094f7c453b7ff87cb5bb36b7c79efb0872d17058b83b15ab0866ad8a58656c5a"
	  "7e20dbdf308b2461d97c0ec0024a2715055249cf3b478ddd4740de654f75ca68"
	  "6e0d7345c69ed50cdc2a8b332b1f8824108ac937eb050585608ee734097fc090"
	  "54fbff89eeaeea791f4a7ab1f9868294a4f9e27b42af8100cb9d59cef9645803" },
	{ 0xffffffffffull,
	  "64497e5a831e4a932c09be3e5393376daa599548b816031d224bbf50a818ed23"
	  "50eae7e96087c8a0db51ad290bd00c1ac1620857635bf246c176ab463be30b80"
	  "8da548081ac847b158e1264be25bb0910bbc92647108089415d45fab1b3d2604"
	  "e8a8eff1ae4020cfa39936b66827b23f371b92200be90251e6d73c5f86de5fd4"
	  "a950781933d79a28272b782a2ec313efdfcc0628f43d744c2dc2ff3dcb66999b"
	  "50c7ca895b0c64791eeaa5f29499fb1c026f84ce5b5c72ba1083cddb5ce45434"
	  "631665c333b60b11593fb253c5179a2c8db813782a004856a1653011e93fb6d8"
	  "76c18366dd8683f53412c0c180f9c848592d593f8609ca736317d356e13e2bff"
	  "3a9f59cd9aeb19cd482593d8c46128bb32423b37a9adfb482b99453fbe25a41b"
	  "f6feb4aa0bef5ed24bf73c762978025482c13115e4015aac992e5613a3b5c2f6"
	  "85b84795cb6e9b2656d8c88157e52c42f978d8634c43d06fea928f2822e465aa"
	  "6576e9bf419384506cc3ce3c54ac1a6f67dc66f3b30191e698380bc999b05abc"
	  "e19dc0c6dcc2dd001ec535ba18deb2df1a101023108318c75dc98611a09dc48a"
	  "0acdec676fabdf222f07e026f059b672b56e5cbc8e1d21bbd867dd9272120546"
	  "81d70ea737134cdfce93b6f82ae22423274e58a0821cc5502e2d0ab4585e94de"
	  "6975be5e0b4efce51cd3e70c25a1fbbbd609d273ad5b0d59631c531f6a0a57b9" },
};

static void unhex(const char *h, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned int b;

		assert_int_equal(sscanf(h + 2 * i, "%2x", &b), 1);
		out[i] = (uint8_t)b;
	}
}

/* Both paths of xts.c: the provider's functions (what xts_create uses) and
 * the EVP fallback. */
static void ieee1619_vectors(unsigned int flags)
{
	uint8_t key[64], pt[512], ct[512], out[512];
	struct xts_ctx *x;

	unhex(key_hex, key, 64);
	for (int i = 0; i < 512; i++)
		pt[i] = (uint8_t)i;
	assert_int_equal(xts_create_flags(&x, key, flags), 0);
	for (size_t v = 0; v < sizeof(vec) / sizeof(vec[0]); v++) {
		unhex(vec[v].ct, ct, 512);
		assert_int_equal(xts_crypt_unit(x, true, vec[v].unit, pt, out, 512), 0);
		assert_memory_equal(out, ct, 512);
		assert_int_equal(xts_crypt_unit(x, false, vec[v].unit, ct, out, 512), 0);
		assert_memory_equal(out, pt, 512);
		/* in place, as ward-blk does for straddling sectors */
		memcpy(out, ct, 512);
		assert_int_equal(xts_crypt_unit(x, false, vec[v].unit, out, out, 512), 0);
		assert_memory_equal(out, pt, 512);
	}
	xts_destroy(x);
}

static void test_ieee1619_vectors(void **state)
{
	(void)state;
	ieee1619_vectors(0);
}

static void test_ieee1619_vectors_evp(void **state)
{
	(void)state;
	ieee1619_vectors(XTS_EVP);
}

/* Sectors are independent units with tweak = sector number: encrypting N
 * sectors at once equals encrypting each alone, and the same plaintext at
 * two sectors gives different ciphertext. */
static void test_sectors_plain64(void **state)
{
	static uint8_t pt[3 * 4096], ct[3 * 4096], one[4096], back[3 * 4096];
	uint8_t key[64];
	struct xts_ctx *x;

	(void)state;
	for (int i = 0; i < 64; i++)
		key[i] = (uint8_t)(i * 7 + 1);
	memset(pt, 0xab, sizeof(pt));
	assert_int_equal(xts_create(&x, key), 0);
	assert_int_equal(xts_encrypt_sectors(x, 1000, pt, ct, 3), 0);
	for (int s = 0; s < 3; s++) {
		assert_int_equal(xts_crypt_unit(x, true, 1000 + (uint64_t)s, pt + s * 4096, one, 4096), 0);
		assert_memory_equal(one, ct + s * 4096, 4096);
	}
	assert_memory_not_equal(ct, ct + 4096, 4096);
	assert_int_equal(xts_decrypt_sectors(x, 1000, ct, back, 3), 0);
	assert_memory_equal(back, pt, sizeof(pt));
	assert_int_not_equal(xts_crypt_unit(x, true, 0, pt, one, 15), 0);
	assert_int_not_equal(xts_crypt_unit(x, true, 0, pt, one, 17), 0);
	xts_destroy(x);
}

static void test_equal_halves_refused(void **state)
{
	uint8_t key[64];
	struct xts_ctx *x = (void *)1;

	(void)state;
	memset(key, 0x42, sizeof(key));
	assert_int_equal(xts_create(&x, key), -22);
	assert_null(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ieee1619_vectors),
		cmocka_unit_test(test_ieee1619_vectors_evp),
		cmocka_unit_test(test_sectors_plain64),
		cmocka_unit_test(test_equal_halves_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
