/* tests/enclave/nsm_tool: one NSM (src/lib/nsm.c) driven over stdin/stdout
 * for nsm_check.py: each request and response is framed by a big-endian
 * u32 length. PCR0..4 and PCR8 are set to 0x10+i and locked first, as the
 * enclave launcher will do with the image's and the parent's values.
 * usage: nsm_tool MODULE_ID LEAF_KEY.pem LEAF.der ROOT.der INTER.der */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>

#include "nsm.h"

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;

	if (!f)
		return NULL;
	b = malloc(1 << 16);
	*len = fread(b, 1, 1 << 16, f);
	fclose(f);
	return b;
}

static int read_n(uint8_t *p, size_t n)
{
	return fread(p, 1, n, stdin) == n ? 0 : -1;
}

int main(int argc, char **argv)
{
	const uint8_t *cab[2];
	size_t cablen[2], certlen, len;
	struct attest_signer s = { 0 };
	static struct nsm n;
	uint8_t hdr[4], *req, *resp, v[NSM_PCR_LEN];
	unsigned i;
	FILE *f;

	if (argc != 6)
		return 2;
	f = fopen(argv[2], "r");
	s.key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	s.cert = slurp(argv[3], &certlen);
	cab[0] = slurp(argv[4], &cablen[0]);
	cab[1] = slurp(argv[5], &cablen[1]);
	if (!s.key || !s.cert || !cab[0] || !cab[1])
		return 2;
	s.cert_len = certlen;
	s.ncabundle = 2;
	s.cabundle = cab;
	s.cabundle_len = cablen;
	if (nsm_init(&n, argv[1], &s))
		return 2;
	for (i = 0; i <= 8; i++) {
		if (i > 4 && i < 8)
			continue;
		memset(v, 0x10 + i, sizeof(v));
		nsm_set_pcr(&n, i, v);
		nsm_lock(&n, i);
	}
	while (!read_n(hdr, 4)) {
		len = (size_t)hdr[0] << 24 | hdr[1] << 16 | hdr[2] << 8 | hdr[3];
		if (len > (1u << 20) || !(req = malloc(len + 1)) || read_n(req, len))
			return 3;
		if (nsm_handle(&n, req, len, &resp, &len))
			return 4;
		hdr[0] = (uint8_t)(len >> 24);
		hdr[1] = (uint8_t)(len >> 16);
		hdr[2] = (uint8_t)(len >> 8);
		hdr[3] = (uint8_t)len;
		fwrite(hdr, 1, 4, stdout);
		fwrite(resp, 1, len, stdout);
		fflush(stdout);
		free(resp);
		free(req);
	}
	free((void *)s.cert);
	free((void *)cab[0]);
	free((void *)cab[1]);
	EVP_PKEY_free(s.key);
	return 0;
}
