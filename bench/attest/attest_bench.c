/* attest_bench: host-attestation round trips per second — ward-api's whole
 * check of one host (hosts_attest_once: keys, MakeCredential,
 * ActivateCredential, quote, verify against the golden set, over mTLS to
 * the real controller) — side by side with its reference, bare TPM2_Quote
 * calls on the same TPM in the same run.
 * usage: attest_bench URL CA.pem CERT KEY EK.pub GOLDEN RELEASE TCTI N */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "fileio.h"
#include "hostmsg.h"
#include "hosts.h"
#include "tpm.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct hosts_cfg cfg;
	struct tpm_quote q;
	struct tpm *t = NULL;
	uint8_t *ca, *ek, *blob = NULL, spki[TPM_SPKI_LEN];
	size_t cl, el, bl = 0;
	char err[512], *pem, *e64;
	json_t *host;
	double t0, ward, ref;
	int n;

	if (argc != 10 || (n = atoi(argv[9])) < 1)
		return fprintf(stderr, "usage: attest_bench URL CA CERT KEY EK GOLDEN RELEASE TCTI N\n"), 2;
	cfg = (struct hosts_cfg){ .golden_path = argv[6], .period_s = 1, .client_cert = argv[3],
				  .client_key = argv[4], .timeout_s = 30 };
	if (curl_global_init(CURL_GLOBAL_DEFAULT) || hosts_configure(&cfg, err, sizeof(err)) ||
	    fileio_read(argv[2], 65536, 0, &ca, &cl) || fileio_read(argv[5], 4096, 0, &ek, &el))
		return fprintf(stderr, "attest_bench: set-up failed: %s\n", err), 1;
	pem = strndup((char *)ca, cl);
	e64 = hostmsg_b64_encode(ek, el);
	host = json_pack("{s:s, s:s, s:s, s:s, s:s}", "HostId", "h-bench", "Endpoint", argv[1],
			 "CaPem", pem, "EkPublic", e64, "Release", argv[7]);
	if (hosts_attest_once(host, err, sizeof(err)))	/* warm-up, and it must pass */
		return fprintf(stderr, "attest_bench: the host is refused: %s\n", err), 1;
	t0 = now();
	for (int i = 0; i < n; i++)
		if (hosts_attest_once(host, err, sizeof(err)))
			return fprintf(stderr, "attest_bench: round %d refused: %s\n", i, err), 1;
	ward = n / (now() - t0);
	/* The reference: the TPM's own work for a quote, nothing else. */
	if (tpm_open(argv[8], &t, err, sizeof(err)) ||
	    tpm_signkey_create(t, TPM_SIGNKEY_RESTRICTED, 0, NULL, &blob, &bl, spki))
		return fprintf(stderr, "attest_bench: reference set-up: %s\n", t ? tpm_error(t) : err), 1;
	t0 = now();
	for (int i = 0; i < n; i++) {
		if (tpm_quote(t, blob, bl, TPM_BOOT_PCRS, "bench-nonce-0123456", 20, &q))
			return fprintf(stderr, "attest_bench: quote: %s\n", tpm_error(t)), 1;
		tpm_quote_free(&q);
	}
	ref = n / (now() - t0);
	printf("attest_round_trips_per_s=%.1f tpm_quotes_per_s=%.1f ratio=%.3f rounds=%d\n", ward,
	       ref, ward / ref, n);
	tpm_close(t);
	free(blob);
	json_decref(host);
	free(pem);
	free(e64);
	free(ca);
	free(ek);
	curl_global_cleanup();
	return 0;
}
