/* guest/blk-check.c: end-to-end check of a virtio-blk device (and so of
 * the whole vhost-user path behind it). Writes sector-dependent patterns,
 * salted per run so stale data cannot pass, to several extents (first
 * sectors, middle, the very last sector) with multi-descriptor requests in
 * flight together, FLUSHes, reads back with different splits, verifies.
 * Exit: 0 ok, 1 no device, 2 feature negotiation failed, 3 I/O error,
 * 4 data mismatch, 5 unusable device (queue, read-only, too small). */
#include "lib/boot.h"
#include "lib/console.h"
#include "lib/io.h"
#include "lib/mem.h"
#include "lib/virtio_blk.h"

enum { EX_OK, EX_NODEV, EX_FEATURES, EX_IOERR, EX_MISMATCH, EX_SETUP };

#define MAX_SEG 16

struct extent {
	uint64_t sector;
	uint32_t nsect;
	int wsegs;			/* descriptors used to write */
	int rsegs;			/* ... and to read back */
	uint8_t *seg[MAX_SEG];		/* separate allocations, 512-aligned */
	struct vblk_req req;
};

static uint64_t salt;

static uint64_t pattern(uint64_t sector, uint32_t word)
{
	return (sector << 20 | word) ^ salt ^ 0x5741524442304B21ull;
}

/* Segment buffers are allocated with a gap between them so a chain never
 * describes one contiguous range by accident. */
static void alloc_segs(struct extent *e)
{
	uint32_t bytes = e->nsect * 512 / e->wsegs;

	for (int i = 0; i < e->wsegs; i++) {
		e->seg[i] = mem_alloc(bytes, 512);
		mem_alloc(512, 512);
	}
}

static void fill(struct extent *e)
{
	uint32_t seg_bytes = e->nsect * 512 / e->wsegs;

	for (uint32_t s = 0; s < e->nsect; s++) {
		uint32_t off = s * 512;
		uint64_t *w = (uint64_t *)(e->seg[off / seg_bytes] + off % seg_bytes);

		for (uint32_t i = 0; i < 64; i++)
			w[i] = pattern(e->sector + s, i);
	}
}

static int build_bufs(struct extent *e, uint8_t *contig, int nsegs,
		      struct virtq_buf *b)
{
	uint32_t bytes = e->nsect * 512 / nsegs;

	for (int i = 0; i < nsegs; i++)
		b[i] = (struct virtq_buf){
			contig ? contig + i * bytes : e->seg[i], bytes, false };
	return nsegs;
}

static int verify(const struct extent *e, const uint8_t *buf)
{
	for (uint32_t s = 0; s < e->nsect; s++) {
		const uint64_t *w = (const uint64_t *)(buf + s * 512);

		for (uint32_t i = 0; i < 64; i++) {
			if (w[i] != pattern(e->sector + s, i)) {
				printf("blk-check: mismatch at sector %lu word %u: got %#lx want %#lx\n",
				       e->sector + s, i, w[i], pattern(e->sector + s, i));
				return -1;
			}
		}
	}
	return 0;
}

int main(void)
{
	static struct vblk blk;
	struct extent ext[5];
	struct virtq_buf bufs[MAX_SEG];
	char id[VBLK_ID_BYTES + 1] = { 0 };
	uint64_t cap;
	uint8_t *rbuf;
	int r, n = 0, done = 0, segs_max, st;

	r = vblk_open(&blk, 0, 64);
	if (r == -VIRTIO_ENODEV) {
		printf("blk-check: no virtio-blk (1af4:1042) device found (pci: %s)\n",
		       pci_describe());
		return EX_NODEV;
	}
	if (r == -VIRTIO_EFEATURES) {
		printf("blk-check: feature negotiation failed (VERSION_1 required)\n");
		return EX_FEATURES;
	}
	if (r) {
		printf("blk-check: queue setup failed (%d)\n", r);
		return EX_SETUP;
	}
	cap = blk.capacity;
	printf("blk-check: device %02x:%02x.%x pci=%s bar4=%#lx capacity=%lu sectors blk_size=%u seg_max=%u features=%#lx\n",
	       blk.vd.pci.bus, blk.vd.pci.dev, blk.vd.pci.fn, pci_describe(),
	       blk.vd.pci.bar[4], cap,
	       blk.blk_size, blk.seg_max, blk.vd.features);
	if (blk.vd.features & VIRTIO_BLK_F_RO) {
		printf("blk-check: device is read-only\n");
		return EX_SETUP;
	}
	if (cap < 64) {
		printf("blk-check: device too small (%lu sectors)\n", cap);
		return EX_SETUP;
	}
	bufs[0] = (struct virtq_buf){ id, VBLK_ID_BYTES, true };
	if (vblk_do(&blk, VIRTIO_BLK_T_GET_ID, 0, bufs, 1) == VIRTIO_BLK_S_OK)
		printf("blk-check: id \"%s\"\n", id);

	segs_max = blk.seg_max < MAX_SEG ? (int)blk.seg_max : MAX_SEG;
	salt = rdtsc();
	ext[0] = (struct extent){ .sector = 0, .nsect = 1, .wsegs = 1, .rsegs = 1 };
	ext[1] = (struct extent){ .sector = 1, .nsect = 8, .wsegs = 4, .rsegs = 1 };
	ext[2] = (struct extent){ .sector = cap / 2 - 3, .nsect = 16, .wsegs = 16, .rsegs = 2 };
	ext[3] = (struct extent){ .sector = cap - 9, .nsect = 8, .wsegs = 1, .rsegs = 8 };
	ext[4] = (struct extent){ .sector = cap - 1, .nsect = 1, .wsegs = 1, .rsegs = 1 };
	rbuf = mem_alloc(16 * 512, 4096);

	/* All writes in flight at once, one notify. */
	for (int i = 0; i < 5; i++) {
		struct extent *e = &ext[i];

		while (e->wsegs > segs_max)
			e->wsegs /= 2;
		while (e->rsegs > segs_max)
			e->rsegs /= 2;
		alloc_segs(e);
		fill(e);
		build_bufs(e, NULL, e->wsegs, bufs);
		if (vblk_submit(&blk, &e->req, VIRTIO_BLK_T_OUT, e->sector,
				bufs, e->wsegs) < 0) {
			printf("blk-check: ring full at write %d\n", i);
			return EX_SETUP;
		}
		n++;
	}
	virtq_kick(&blk.q);
	for (uint32_t spin = 0; done < n && spin < (1u << 24); spin++)
		if (virtq_get(&blk.q, NULL) >= 0)
			done++;
	if (done < n) {
		printf("blk-check: %d of %d writes never completed\n", n - done, n);
		return EX_IOERR;
	}
	for (int i = 0; i < 5; i++) {
		if (ext[i].req.status != VIRTIO_BLK_S_OK) {
			printf("blk-check: write of sector %lu failed, status %u\n",
			       ext[i].sector, ext[i].req.status);
			return EX_IOERR;
		}
	}
	if (blk.vd.features & VIRTIO_BLK_F_FLUSH) {
		st = vblk_do(&blk, VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
		if (st != VIRTIO_BLK_S_OK) {
			printf("blk-check: flush failed, status %d\n", st);
			return EX_IOERR;
		}
	}
	for (int i = 0; i < 5; i++) {
		struct extent *e = &ext[i];

		memset(rbuf, 0, e->nsect * 512);
		build_bufs(e, rbuf, e->rsegs, bufs);
		st = vblk_do(&blk, VIRTIO_BLK_T_IN, e->sector, bufs, e->rsegs);
		if (st != VIRTIO_BLK_S_OK) {
			printf("blk-check: read of sector %lu failed, status %d\n",
			       e->sector, st);
			return EX_IOERR;
		}
		if (verify(e, rbuf))
			return EX_MISMATCH;
	}
	printf("blk-check: ok: 5 extents, 34 sectors incl. last sector %lu, flush=%s, kicks=%lu\n",
	       cap - 1, (blk.vd.features & VIRTIO_BLK_F_FLUSH) ? "yes" : "unsupported",
	       blk.q.kicks);
	return EX_OK;
}
