/* Frama-C EVA harness for the TPM event log reader (src/lib/tpm_eventlog.c):
 * tpm_eventlog_replay(), which parses the log (tpm_eventlog_parse(): the
 * Spec ID header, then every event) and replays each event's SHA-256 into
 * the PCRs, on a log of any length up to LOG_FILE_MAX (what
 * tpm_eventlog_replay_file() reads) with unknown bytes. */
#include "shims.h"
#include "tpm_eventlog.c"

#include "evp_model.h"

static uint8_t log_buf[LOG_FILE_MAX];

int main(void)
{
	struct tpm_replay r;
	char err[160];
	size_t len = Frama_C_size_t_interval(0, LOG_FILE_MAX);

	Frama_C_make_unknown((char *)log_buf, sizeof(log_buf));
	(void)tpm_eventlog_replay(log_buf, len, &r, err, sizeof(err));
	return 0;
}
