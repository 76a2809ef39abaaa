/* instances: lifecycle of the VMs this host runs — one ward-hv process per
 * instance, started from the verified executable (sealed memfd) with the
 * guest image as an inherited fd, its own uid/gid, its console (stdout) a
 * non-blocking pipe the controller drains into a bounded ring.
 * Each instance is recorded in state_dir/instances/ID.json so a restarted
 * controller re-adopts running VMs (pid + start time, pidfd). */
#ifndef WARD_CONTROLLER_INSTANCES_H
#define WARD_CONTROLLER_INSTANCES_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>
#include <jansson.h>

#include "conring.h"
#include "cpupart.h"
#include "controller/firmware.h"
#include "controller/request.h"

#define INST_ID_LEN 36	/* UUID text */
#define INST_MAX_VCPUS 64
#define INST_MAX 64
#define INST_CONSOLE_RING (64u << 10)	/* console bytes kept per instance */
#define HV_CMDLINE_ENV "WARD_GUEST_CMDLINE"	/* ward-hv --cmdline-env */	/* running instances per host: uids uid_base + [0, 64) */

enum inst_state { INST_RUNNING, INST_EXITED };

struct instance {
	char id[INST_ID_LEN + 1];
	char image[REQ_NAME_MAX + 1];
	uint32_t memory_mib, vcpus;
	pid_t pid;
	uint64_t start_time;	/* /proc/PID/stat field 22: tells a pid's reuse */
	uid_t uid;
	enum inst_state state;
	int exit_code;		/* -1: unknown (exited while not our child) */
	bool child;		/* started by this controller process */
	bool cpu_fixed;		/* whole cores of its own, else the burstable pool */
	char hugepages[3];	/* "2M" | "1G": guest RAM on hugepages; "" 4 KiB */
	bool cores_held;	/* its fixed cores are still taken in the allocation */
	int cpu_owner;		/* its key in the cpu allocation */
	unsigned ncpus;		/* host CPU of vCPU i: cpus[i]; 0: not placed */
	int cpus[INST_MAX_VCPUS];
	char created[40];
	/* Idempotent launch (docs/controller.md "Idempotent launch"): the
	 * client's token ("" none) and the SHA-256 (hex) of the launch
	 * parameters it came with, both kept in the state file so a
	 * restarted controller still answers a retry with this instance. */
	char client_token[REQ_TOKEN_MAX + 1];
	char launch_fp[65];
	/* The volumes it was launched with: after it ends (their keys wiped
	 * in ward-blk then) a detach of one of them is answered as done,
	 * not as an unknown attachment (issue 16 §5). */
	unsigned n_volumes;
	char volumes[VOL_MAX][VOL_ID_MAX + 1];
	int pidfd;
	struct event *ev;
	/* The serial console (docs/observability.md "Serial console"): the
	 * read end of ward-hv's stdout pipe (-1: none), drained by the event
	 * loop into con, which lives until the instance ends. con_ino is the
	 * pipe's inode, recorded so a restarted controller re-opens the same
	 * pipe through /proc/PID/fd/1 and nothing else. */
	int con_fd;
	struct event *con_ev;
	struct conring con;
	uint64_t con_ino;
	struct instance *next;
};

struct inst_cfg {
	const char *state_dir;
	int hv_fd;		/* verified ward-hv (sealed memfd), or -1 */
	const char *hv_path;	/* development: ward-hv from a build dir */
	const struct fw_images *fw;	/* verified guest images (sealed memfds), or NULL */
	const char *images_dir;	/* else NAME.elf guest images here, or NULL */
	uid_t uid_base;		/* instance k runs as uid_base + k */
	unsigned max_instances;
	/* CPU placement (docs/controller.md "CPU placement"); NULL: none, ward-hv
	 * runs where the controller may (a one-core host). */
	struct cpu_alloc *cpu;
};

/* event: "launch", "exit", "stop", "adopt", "lost". */
typedef void (*inst_event_fn)(void *opaque, const struct instance *in, const char *event);

struct instances;

int inst_init(struct instances **out, const struct inst_cfg *cfg, struct event_base *base,
	      inst_event_fn cb, void *opaque);
/* The guest images a launch may name (GET /v1/images): those the boot
 * chain verified ("source": "firmware-store"), then the NAME.elf files of
 * the image directory ("directory"), sorted by name. A new reference. */
json_t *inst_images_json(const struct instances *s);
/* Load state_dir/instances and re-adopt the live ones. */
int inst_adopt(struct instances *s);
void inst_destroy(struct instances *s);	/* leaves VMs running */

/* -ENOSPC: the CPUs asked for cannot be given (a fixed instance gets whole
 * cores or nothing). -ENOBUFS: the host's hugepage pool has too few free
 * pages for the guest memory asked for. */
int inst_run(struct instances *s, const struct run_req *req, struct instance **out,
	     char *err, size_t errlen);
/* The same with card sockets: ward-hv gets blk_fds[i] as --blk-fd (the
 * caller keeps and closes its copies). */
int inst_run_fds(struct instances *s, const struct run_req *req, const int *blk_fds,
		 unsigned n_blk, struct instance **out, char *err, size_t errlen);
/* inst_run_fds in two steps, so that a launch with volumes fetches no key
 * for a request the host would refuse anyway: inst_prepare makes every
 * check (image, host full, hugepages, CPU placement: the errnos above) and
 * holds the uid, CPUs and image; then inst_launch starts it, or
 * inst_plan_drop gives it all back. */
struct inst_plan {
	struct instance *in;	/* not yet listed */
	int kfd;		/* guest image */
	int net_fd;		/* -1, or ward-hv's --net-fd (its ENI's socket in
				 * ward-net, netcard.c); the caller's to close */
};
int inst_prepare(struct instances *s, const struct run_req *req, struct inst_plan *p,
		 char *err, size_t errlen);
int inst_launch(struct instances *s, struct inst_plan *p, const struct run_req *req,
		const int *blk_fds, unsigned n_blk, struct instance **out, char *err,
		size_t errlen);
void inst_plan_drop(struct instances *s, struct inst_plan *p);
/* Was volume_id one of the instance's launch volumes? */
bool inst_had_volume(const struct instance *in, const char *volume_id);
/* Stop (SIGTERM, SIGKILL after a grace period) and forget. -ENOENT if unknown. */
int inst_stop(struct instances *s, const char *id, int *exit_code, char *err, size_t errlen);
struct instance *inst_find(struct instances *s, const char *id);
/* The live (not ended) instance launched with this client token, or NULL. */
struct instance *inst_find_token(struct instances *s, const char *token);
/* The launch parameters' fingerprint (hex SHA-256, 65 bytes with the NUL)
 * that a retry with the same token must match: image, shape, placement,
 * cmdline and each volume's id, backing, size, mode and key id; not the
 * per-call credentials (grant and FAS tokens, key blob). 0 or -ENOMEM. */
int inst_launch_fp(const struct run_req *req, char out[65]);
/* Console bytes from absolute offset `from` (conring_read): *start is
 * where the copy begins (start - from bytes were overwritten), *end the
 * offset after the newest byte. -ESRCH: the instance ended (its ring is
 * wiped); -ENODATA: it runs without a console (not re-opened after a
 * restart); -ERANGE: from is past *end (offsets restart at 0 when a
 * restarted controller re-opens the console). */
int inst_console_read(const struct instance *in, uint64_t from, void *out, size_t len,
		      size_t *got, uint64_t *start, uint64_t *end);
struct instance *inst_list(struct instances *s);
unsigned inst_running(struct instances *s);
const char *inst_state_name(enum inst_state st);
/* Start time (field 22 of /proc/PID/stat) and state letter of a process:
 * with a pidfd opened first, equal start times mean the same process. */
int inst_proc_stat(pid_t pid, uint64_t *start, char *state);
const char *inst_cpu_mode(const struct instance *in);	/* "fixed" | "burstable" */
json_t *inst_cpus_json(const struct instance *in);	/* [host CPU of vCPU 0, ...] */

#endif
