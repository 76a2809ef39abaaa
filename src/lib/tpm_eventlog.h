/* tpm_eventlog: the measured-boot event log, in the TCG PC Client
 * crypto-agile format (TCG_PCR_EVENT2 records after a Spec ID header), with
 * one hostile-input parser and a replay that predicts PCR values. */
#ifndef WARD_TPM_EVENTLOG_H
#define WARD_TPM_EVENTLOG_H

#include <stddef.h>
#include <stdint.h>

#include "tpm.h"

/* Event types (TCG PC Client Platform Firmware Profile §10.4.1). */
#define TPM_EV_NO_ACTION	0x00000003u	/* not extended */
#define TPM_EV_ACTION		0x00000005u
#define TPM_EV_EVENT_TAG	0x00000006u
#define TPM_EV_IPL		0x0000000du	/* ward: a measured image */

#define TPM_EVENT_DATA_MAX	4096u	/* longest event data ward accepts */

struct tpm_event {
	uint32_t pcr;
	uint32_t type;
	uint8_t digest[TPM_DIGEST_LEN];	/* the SHA-256 one */
	const uint8_t *data;		/* points into the parsed buffer */
	uint32_t data_len;
};

/* Walk a log, calling fn for every event after the header; fn returning
 * non-zero stops the walk with that value. -EBADMSG on malformed input, with
 * a description in err. */
typedef int (*tpm_event_fn)(const struct tpm_event *ev, void *arg);
int tpm_eventlog_parse(const uint8_t *buf, size_t len, tpm_event_fn fn,
		       void *arg, char *err, size_t errlen);

/* Expected PCR values from a log: mask has a bit per PCR the log extends;
 * PCRs start at 0 (17-22 at all-ones, as after TPM2_Startup). */
struct tpm_replay {
	uint32_t mask;
	size_t events;
	uint8_t pcr[TPM_NUM_PCRS][TPM_DIGEST_LEN];
};
int tpm_eventlog_replay(const uint8_t *buf, size_t len, struct tpm_replay *out,
			char *err, size_t errlen);
int tpm_eventlog_replay_file(const char *path, struct tpm_replay *out,
			     char *err, size_t errlen);

/* 0 if PCR `pcr` holds exactly one measurement, an EV_IPL of `digest`,
 * and the log replays to `current` (what the TPM reports); -EPERM with the
 * reason otherwise, -ENOENT/-EBADMSG for a missing or malformed log. */
int tpm_eventlog_check_single(const char *path, unsigned pcr,
			      const uint8_t digest[TPM_DIGEST_LEN],
			      const uint8_t current[TPM_DIGEST_LEN], char *err, size_t errlen);

/* Start a new log (truncating any old one): once per boot. */
int tpm_eventlog_create(const char *path);
/* Append one event and fsync; writes the header first if the file is new or
 * empty. Concurrent appenders are serialised with flock. */
int tpm_eventlog_append(const char *path, unsigned pcr, uint32_t type,
			const uint8_t digest[TPM_DIGEST_LEN],
			const void *data, size_t data_len);

#endif
