/* nsm: the Nitro Secure Module's request handling, without the device —
 * CBOR requests and responses in aws-nitro-enclaves-nsm-api's externally
 * tagged form (DescribePCR, ExtendPCR, LockPCR, LockPCRs, DescribeNSM,
 * GetRandom, Attestation), a bank of 32 SHA-384 PCRs with locks, and
 * attestation documents from attest_generate. The virtio device (ID 33)
 * that will carry these bytes is not built yet (docs/enclaves.md). */
#ifndef WARD_NSM_H
#define WARD_NSM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest.h"

#define NSM_NPCRS 32
#define NSM_PCR_LEN 48
#define NSM_REQUEST_MAX 0x1000	/* the Linux nsm driver's request limit */
#define NSM_EXTEND_MAX 1024	/* bytes of data per ExtendPCR */
#define NSM_RANDOM_LEN 256
#define NSM_ATTEST_PCRS 16	/* AWS's documents carry PCR0..15 */

struct nsm {
	uint8_t pcr[NSM_NPCRS][NSM_PCR_LEN];
	uint32_t locked;		/* bit i: PCR i is read-only */
	bool started;			/* a request was served: no more nsm_set_pcr */
	char module_id[ATTEST_MODULE_ID_MAX + 1];
	const struct attest_signer *signer;	/* the host's attestation key */
};

/* All PCRs zero; 0..15 (the image's and the parent's measurements,
 * AWS's reserved range) read-only to the enclave from the start, 16..31
 * its own to extend and lock. The signer must outlive the module. */
int nsm_init(struct nsm *n, const char *module_id, const struct attest_signer *signer);
/* Before the enclave runs (its first request): set a PCR from the image
 * or the parent. -EPERM once it runs. */
int nsm_set_pcr(struct nsm *n, unsigned index, const uint8_t value[NSM_PCR_LEN]);
void nsm_lock(struct nsm *n, unsigned index);

/* Handle one request. Every request, well-formed or not, gets a response
 * (an error is {"Error": "InvalidArgument"|"InvalidIndex"|...}); the
 * return value is -ENOMEM or another internal failure only. *resp is
 * malloc'd. */
int nsm_handle(struct nsm *n, const uint8_t *req, size_t len, uint8_t **resp, size_t *resp_len);

#endif
