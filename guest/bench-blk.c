/* guest/bench-blk.c: virtio-blk benchmark whose hot loop runs in ring 3
 * (natively even where KVM emulates ring 0): qd requests stay in flight,
 * kicks are plain MMIO writes to the notify register (an ioeventfd on the
 * host), completions are found by polling the used ring.
 * cmdline: mode=randread|randwrite|read|write bs=4096 qd=32 ops=N|secs=N
 * Prints `bench-blk: mode=... bs=... qd=... ops=N bytes=N tsc_cycles=N
 * tsc_khz=N`. Exit: 0 ok, 1 no device, 2 features, 3 I/O error, 5 setup. */
#include "lib/boot.h"
#include "lib/console.h"
#include "lib/cpu.h"
#include "lib/io.h"
#include "lib/mem.h"
#include "lib/virtio_blk.h"

enum { EX_OK, EX_NODEV, EX_FEATURES, EX_IOERR, EX_MISMATCH, EX_SETUP };

#define QSIZE		256
#define MAX_QD		(QSIZE / 3)
#define MAX_BS		(1u << 20)

struct slot {
	struct vblk_req req;
	uint8_t *buf;
};

struct bench {
	struct vblk blk;
	char mode[16];
	bool write, random;
	uint32_t bs, qd;
	uint64_t ops, secs, khz;
	const char *khz_src;
	uint64_t blocks, next_block, rng;
	struct slot slots[MAX_QD];
	int16_t head_slot[QSIZE];
};

static uint64_t next_sector(struct bench *b)
{
	uint64_t blk;

	if (b->random) {
		/* xorshift64* */
		b->rng ^= b->rng >> 12;
		b->rng ^= b->rng << 25;
		b->rng ^= b->rng >> 27;
		blk = (b->rng * 0x2545F4914F6CDD1Dull) % b->blocks;
	} else {
		blk = b->next_block++;
		if (b->next_block == b->blocks)
			b->next_block = 0;
	}
	return blk * (b->bs / 512);
}

static int issue(struct bench *b, int s)
{
	struct virtq_buf data = { b->slots[s].buf, b->bs, false };
	int head = vblk_submit(&b->blk, &b->slots[s].req,
			       b->write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
			       next_sector(b), &data, 1);

	if (head >= 0)
		b->head_slot[head] = (int16_t)s;
	return head;
}

/* Ring 3 from here on: no privileged instruction, port I/O via IOPL=3. */
static int bench_loop(void *arg)
{
	struct bench *b = arg;
	struct virtq *q = &b->blk.q;
	uint64_t issued = 0, done = 0, inflight = 0, t0, t1, deadline = 0;
	uint64_t kicks0 = q->kicks;
	bool timed = b->secs != 0;

	t0 = rdtsc();
	if (timed)
		deadline = t0 + b->secs * b->khz * 1000;
	for (uint32_t s = 0; s < b->qd && (timed || issued < b->ops); s++) {
		if (issue(b, s) < 0)
			return EX_SETUP;
		issued++;
		inflight++;
	}
	virtq_kick(q);
	while (inflight) {
		int head, n = 0;

		while ((head = virtq_get(q, NULL)) >= 0) {
			int s = b->head_slot[head];

			if (b->slots[s].req.status != VIRTIO_BLK_S_OK) {
				printf("bench-blk: I/O error, status %u\n",
				       b->slots[s].req.status);
				return EX_IOERR;
			}
			done++;
			inflight--;
			if (timed ? rdtsc() < deadline : issued < b->ops) {
				if (issue(b, s) < 0)
					return EX_SETUP;
				issued++;
				inflight++;
				n++;
			}
		}
		if (n)
			virtq_kick(q);
		else
			cpu_relax();
	}
	t1 = rdtsc();
	printf("bench-blk: mode=%s bs=%u qd=%u ops=%lu bytes=%lu tsc_cycles=%lu tsc_khz=%lu\n",
	       b->mode, b->bs, b->qd, done, done * b->bs, t1 - t0, b->khz);
	if (t1 > t0 && b->khz)
		printf("bench-blk: iops=%lu kicks=%lu tsc_source=%s cpl=%u\n",
		       done * b->khz * 1000 / (t1 - t0), q->kicks - kicks0,
		       b->khz_src, cpu_cpl());
	return EX_OK;
}

static int parse(struct bench *b)
{
	if (!cmdline_get("mode", b->mode, sizeof(b->mode)))
		memcpy(b->mode, "randread", 9);
	if (!strncmp(b->mode, "randread", 9)) {
		b->random = true;
	} else if (!strncmp(b->mode, "randwrite", 10)) {
		b->random = b->write = true;
	} else if (!strncmp(b->mode, "write", 6)) {
		b->write = true;
	} else if (strncmp(b->mode, "read", 5)) {
		printf("bench-blk: mode=%s: want randread|randwrite|read|write\n",
		       b->mode);
		return -1;
	}
	b->bs = (uint32_t)cmdline_u64("bs", 4096);
	b->qd = (uint32_t)cmdline_u64("qd", 32);
	b->ops = cmdline_u64("ops", 0);
	b->secs = cmdline_u64("secs", 0);
	if (!b->ops && !b->secs)
		b->ops = 100000;
	if (!b->bs || b->bs % 512 || b->bs > MAX_BS) {
		printf("bench-blk: bs=%u: want a multiple of 512 up to %u\n",
		       b->bs, MAX_BS);
		return -1;
	}
	if (!b->qd || b->qd > MAX_QD) {
		printf("bench-blk: qd=%u: want 1..%u\n", b->qd, MAX_QD);
		return -1;
	}
	return 0;
}

int main(void)
{
	static struct bench b;
	int r;

	if (parse(&b))
		return EX_SETUP;
	r = vblk_open(&b.blk, 0, QSIZE);
	if (r == -VIRTIO_ENODEV) {
		printf("bench-blk: no virtio-blk (1af4:1042) device found (pci: %s)\n",
		       pci_describe());
		return EX_NODEV;
	}
	if (r == -VIRTIO_EFEATURES) {
		printf("bench-blk: feature negotiation failed\n");
		return EX_FEATURES;
	}
	if (r)
		return EX_SETUP;
	/* Each request is a 3-descriptor chain. */
	if (b.qd * 3 > b.blk.q.size) {
		printf("bench-blk: qd=%u needs %u descriptors, queue has %u\n",
		       b.qd, b.qd * 3, b.blk.q.size);
		return EX_SETUP;
	}
	if (b.write && (b.blk.vd.features & VIRTIO_BLK_F_RO)) {
		printf("bench-blk: device is read-only\n");
		return EX_SETUP;
	}
	b.blocks = b.blk.capacity * 512 / b.bs;
	if (!b.blocks) {
		printf("bench-blk: device smaller than one block\n");
		return EX_SETUP;
	}
	for (uint32_t s = 0; s < b.qd; s++) {
		b.slots[s].buf = mem_alloc(b.bs, 4096);
		if (b.write)
			memset(b.slots[s].buf, 0xA5 ^ s, b.bs);
	}
	b.rng = rdtsc() | 1;
	b.khz = tsc_khz(&b.khz_src);
	printf("bench-blk: capacity=%lu sectors queue=%u tsc_khz=%lu (%s), entering ring 3\n",
	       b.blk.capacity, b.blk.q.size, b.khz, b.khz_src);
	ring3_run(bench_loop, &b);
}
