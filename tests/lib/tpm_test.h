/* tpm_test: helpers shared by the TPM tests (tests/lib/test_tpm_*.c), which
 * run under tests/tpm/swtpm-env.sh against a private swtpm. */
#ifndef WARD_TPM_TEST_H
#define WARD_TPM_TEST_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tpm.h"

static inline struct tpm *tt_open(void)
{
	char err[256];
	struct tpm *t = NULL;

	if (tpm_open(NULL, &t, err, sizeof(err))) {
		fprintf(stderr, "tpm_open: %s\n", err);
		return NULL;
	}
	return t;
}

static inline void tt_sha256(const void *p, size_t n, uint8_t out[32])
{
	EVP_Digest(p, n, out, NULL, EVP_sha256(), NULL);
}

/* new = SHA256(old || d): what PCR_Extend does. */
static inline void tt_extend(uint8_t pcr[32], const uint8_t d[32])
{
	uint8_t b[64];

	memcpy(b, pcr, 32);
	memcpy(b + 32, d, 32);
	tt_sha256(b, 64, pcr);
}

static inline void tt_hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

/* A path under the test's private swtpm directory. */
static inline const char *tt_path(const char *name)
{
	static char buf[4][512];
	static int i;
	const char *d = getenv("WARD_SWTPM_DIR");

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s/work/%s", d ? d : "/tmp", name);
	return buf[i];
}

/* Run a shell command, capturing stdout (up to cap-1 bytes); returns the
 * exit status or -1. */
static inline int tt_run(char *out, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline int tt_run(char *out, size_t cap, const char *fmt, ...)
{
	char cmd[2048];
	size_t n = 0;
	va_list ap;
	FILE *f;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	if (out) {
		n = fread(out, 1, cap - 1, f);
		out[n] = '\0';
	} else {
		char sink[512];

		while (fread(sink, 1, sizeof(sink), f) > 0)
			;
	}
	st = pclose(f);
	return st < 0 ? -1 : (st & 0x7f ? -1 : (st >> 8) & 0xff);
}

/* Parse `tpm2_pcrread sha256:...` output into vals; returns a mask of the
 * PCRs found. */
static inline uint32_t tt_parse_pcrread(const char *s, uint8_t vals[24][32])
{
	uint32_t mask = 0;
	const char *p = s;

	/* Lines look like "    16: 0x..." or "    8 : 0x...". */
	while ((p = strstr(p, ": 0x"))) {
		const char *q = p;
		unsigned idx;

		while (q > s && q[-1] == ' ')
			q--;
		while (q > s && q[-1] >= '0' && q[-1] <= '9')
			q--;
		if (sscanf(q, "%u", &idx) == 1 && idx < 24) {
			for (int i = 0; i < 32; i++) {
				unsigned b;

				if (sscanf(p + 4 + 2 * i, "%2x", &b) != 1)
					break;
				vals[idx][i] = (uint8_t)b;
			}
			mask |= 1u << idx;
		}
		p += 4;
	}
	return mask;
}

#endif
