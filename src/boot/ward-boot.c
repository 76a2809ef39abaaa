/* ward-boot: the boot-ROM analogue (ARCHITECTURE §2 step 1). Reads the
 * controller binary once, measures its SHA-256 into PCR 12 with an event-log
 * entry, and fexecve()s exactly those bytes from a sealed memfd, so the
 * measured bytes are the executed bytes. A restart of the same controller
 * in the same boot resumes without a second extend: PCR 12 must hold
 * exactly one logged measurement, of these bytes (docs/controller.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cliopt.h"
#include "fileio.h"
#include "log.h"
#include "tpm.h"
#include "tpm_eventlog.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif
#define CONTROLLER_MAX	(512u << 20)
#define EVENTLOG_DEFAULT "/run/ward/measurements.log"

extern char **environ;

static void usage(FILE *f)
{
	fprintf(f, "usage: ward-boot [--event-log PATH] CONTROLLER [ARGS...]\n"
		   "       ward-boot --help | --version\n"
		   "  TPM: $WARD_TPM_TCTI (default device:/dev/tpmrm0)\n"
		   "exit status: the controller's (ward-boot becomes it); 1 boot refused or\n"
		   "  failed; 2 usage error (docs/cli.md)\n");
}

/* Copy the file into a memfd in one pass, then seal it: later changes to
 * the file on disk cannot reach what is measured and executed. */
static int load_sealed(const char *path, const char *name)
{
	struct stat st;
	char buf[1 << 16];
	int in, fd, rc = -1;
	off_t total = 0;

	/* fileio_open: only a regular file, and a FIFO cannot stall the boot. */
	in = fileio_open(path, O_RDONLY, 0, FILEIO_FOLLOW);
	if (in < 0) {
		log_error("cannot open controller", "path=%s error=\"%s\"", path,
			  fileio_strerror(in));
		return -1;
	}
	if (fstat(in, &st) || !S_ISREG(st.st_mode) || st.st_size > CONTROLLER_MAX) {
		log_error("controller is not a regular file of sane size", "path=%s", path);
		close(in);
		return -1;
	}
	fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	if (fd < 0 && errno == EINVAL)
		fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		goto out;
	for (;;) {
		ssize_t r = read(in, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		if (total + r > (off_t)CONTROLLER_MAX || write(fd, buf, (size_t)r) != r)
			goto out;
		total += r;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL))
		goto out;
	rc = 0;
out:
	if (rc) {
		log_error("cannot copy the controller into a sealed memfd", "error=\"%s\"",
			  strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	close(in);
	return fd;
}

static int hash_fd(int fd, uint8_t out[TPM_DIGEST_LEN])
{
	struct stat st;
	void *p;
	int ok;

	if (fstat(fd, &st) || st.st_size == 0)
		return -1;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	ok = EVP_Digest(p, (size_t)st.st_size, out, NULL, EVP_sha256(), NULL);
	munmap(p, (size_t)st.st_size);
	return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	const char *log_path = EVENTLOG_DEFAULT, *base;
	uint8_t digest[TPM_DIGEST_LEN], pcrs[TPM_NUM_PCRS][TPM_DIGEST_LEN];
	static const uint8_t zero[TPM_DIGEST_LEN];
	char err[256], desc[512];
	struct tpm *t = NULL;
	int argi = 1, fd, n;

	log_init("boot", LOG_INFO);
	tpm_quiet_tss_log();
	/* Only ward-boot's own options come before CONTROLLER; everything
	 * after it is the controller's. */
	if (argi < argc && !strcmp(argv[argi], "--help"))
		return usage(stdout), 0;
	if (argi < argc && !strcmp(argv[argi], "--version"))
		return cliopt_version("ward-boot"), 0;
	if (argi < argc && !strcmp(argv[argi], "--event-log")) {
		if (argi + 1 >= argc) {
			fprintf(stderr, "ward-boot: option --event-log needs a value\n");
			return CLI_EXIT_USAGE;
		}
		log_path = argv[argi + 1];
		argi += 2;
	}
	if (argi < argc && argv[argi][0] == '-') {
		fprintf(stderr, "ward-boot: unknown option '%s'\nTry 'ward-boot --help'.\n",
			argv[argi]);
		return CLI_EXIT_USAGE;
	}
	if (argi >= argc) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	base = strrchr(argv[argi], '/');
	base = base ? base + 1 : argv[argi];
	fd = load_sealed(argv[argi], base);
	if (fd < 0 || hash_fd(fd, digest))
		return 1;
	if (tpm_open(NULL, &t, err, sizeof(err))) {
		log_error("TPM unavailable", "error=\"%s\"", err);
		return 1;
	}
	/* The event log replays from zero: boot PCRs that are already
	 * extended are either this boot's controller measurement (a restart:
	 * resume without extending) or something the log does not explain. */
	if (tpm_pcr_read(t, TPM_BOOT_PCRS, pcrs)) {
		log_error("cannot read PCRs", "error=\"%s\"", tpm_error(t));
		goto fail;
	}
	if (memcmp(pcrs[TPM_PCR_BOOT], zero, sizeof(zero))) {
		n = tpm_eventlog_check_single(log_path, TPM_PCR_BOOT, digest, pcrs[TPM_PCR_BOOT],
					      err, sizeof(err));
		if (n) {
			log_error("boot PCR already extended and not by this controller alone: "
				  "refusing (a new controller needs a new boot)", "pcr=%u log=%s "
				  "reason=\"%s\"", TPM_PCR_BOOT, log_path, err);
			goto fail;
		}
		log_info("controller restart in the same boot: PCR 12 holds this binary's one "
			 "measurement, resuming without a second extend", "log=%s", log_path);
		goto run;
	}
	for (unsigned i = 0; i < TPM_NUM_PCRS; i++)
		if ((TPM_BOOT_PCRS & TPM_PCR_BIT(i)) && memcmp(pcrs[i], zero, sizeof(zero))) {
			log_error("boot PCR already extended before the controller was measured: "
				  "not a fresh boot, refusing", "pcr=%u", i);
			goto fail;
		}
	if (!strcmp(log_path, EVENTLOG_DEFAULT))
		mkdir("/run/ward", 0700);	/* the log lives as long as this boot */
	n = tpm_eventlog_create(log_path);
	if (n) {
		log_error("cannot create the event log", "path=%s error=\"%s\"", log_path,
			  strerror(-n));
		goto fail;
	}
	n = snprintf(desc, sizeof(desc), "ward-controller %s", argv[argi]);
	if (n >= (int)sizeof(desc))
		n = sizeof(desc) - 1;
	if (tpm_measure(t, log_path, TPM_PCR_BOOT, TPM_EV_IPL, digest, desc, (size_t)n)) {
		log_error("measuring the controller failed", "error=\"%s\"", tpm_error(t));
		goto fail;
	}
run:
	tpm_close(t);
	if (setenv("WARD_EVENT_LOG", log_path, 1))
		return 1;
	fexecve(fd, argv + argi, environ);
	log_error("fexecve of the measured controller failed", "error=\"%s\"", strerror(errno));
	return 1;
fail:
	tpm_close(t);
	return 1;
}
