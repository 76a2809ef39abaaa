/* hosts: ward-api's host registry and admission by TPM attestation
 * (docs/attestation.md). A host is registered with its controller's
 * endpoint, that controller's CA, its EK public and firmware release; a
 * leader-only round (leader.h; a thread of its own on SQLite) proves the
 * AK<->EK binding with MakeCredential/ActivateCredential, then asks for a
 * quote with a fresh nonce and verifies it with the SAME AK against the
 * release's golden set: admitted, or drained with the reason. Documents
 * live in the store (store.h only) at "ec2/host/<id>". */
#ifndef WARD_API_HOSTS_H
#define WARD_API_HOSTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define HOST_ID_MAX 64

struct hosts_cfg {
	const char *golden_path;	/* the golden set file (quote.h's format) */
	int period_s;			/* re-attestation period */
	const char *client_cert, *client_key;	/* ward-api's control-plane identity */
	int timeout_s;			/* one request to a controller */
};

/* Loads the golden set and keeps cfg (its strings must outlive the
 * rounds). Without it, hosts are never admitted. 0 or -errno with err. */
int hosts_configure(const struct hosts_cfg *cfg, char *err, size_t errlen);
bool hosts_configured(void);

/* One round: every host that is due (new, or its period has passed) is
 * attested and its state written. A leader_task_fn: -ESTALE when a
 * fenced write found this replica deposed. */
int hosts_round(struct store *s, void *arg);
/* On SQLite (one replica, no election): run hosts_round every second in
 * a thread with a store connection of its own (db: the same file). */
int hosts_thread_start(const char *db);
void hosts_thread_stop(void);

/* Admin: register (or re-register: back to "registered") a host. ek is a
 * TPM2B_PUBLIC the operator got from the TPM's manufacturing record, never
 * from the host itself: it anchors everything. */
int hosts_register(struct store *s, const char *id, const char *endpoint, const char *ca_pem,
		   const uint8_t *ek, size_t ek_len, const char *release, char *err,
		   size_t errlen);

/* One attestation of a host document (as stored: Endpoint, CaPem,
 * EkPublic, Release), no store involved: 0 = it would be admitted, else
 * the reason in err. For rounds, and for measuring them (bench/attest). */
struct json_t;
int hosts_attest_once(const struct json_t *host, char *err, size_t errlen);

/* The hosts placement may use: state "admitted". ids[i] gets each id. */
int hosts_list_schedulable(struct store_txn *t, char (*ids)[HOST_ID_MAX + 1], size_t max,
			   size_t *n);

struct ec2_req;
/* EC2 DescribeHosts (HostId.N, Filter.N: state, host-id, tag:...), with
 * ward's attestation state as State and its reason, release and time as
 * tags ward:reason, ward:firmware-release, ward:attested-at. */
void ec2_describe_hosts(struct ec2_req *q);

#endif
