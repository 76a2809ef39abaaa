/* audit: append-only Merkle-tree audit log of ward-controller.
 * Appends are assigned an index under one lock and made durable in batches:
 * whichever waiter finds no flush running writes everything pending and
 * fdatasyncs both files once (group commit), then wakes the others. Leaf
 * hashes and record offsets stay in memory in fixed chunks, so proofs read
 * them without holding the append lock. See docs/audit.md. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "errmsg.h"
#include "fileio.h"
#include "audit.h"
#include "audit_fmt.h"
#include "log.h"

#define CHUNK_BITS 16
#define CHUNK (1u << CHUNK_BITS)
#define MAX_CHUNKS (1u << 16)	/* 2^32 records */
#define CHECKPOINT_FILE_MAX (1u << 20)

struct pending {
	char *data;
	size_t len, cap;
	uint8_t (*hash)[MERKLE_HASH_LEN];
	uint32_t *lens;
	size_t n, ncap;
};

struct audit {
	char dir[PATH_MAX - 256];
	char origin[256];
	EVP_PKEY *pub;
	int data_fd, hash_fd;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t next;		/* indexes handed out */
	uint64_t durable;	/* records on disk */
	uint64_t data_end;	/* bytes of data file that are durable */
	uint64_t flushes;
	bool flushing;
	int broken;		/* first write error: the log refuses appends */
	struct pending pend, spare;
	struct merkle_tree tree;	/* over the durable records */
	uint8_t (*hchunk[MAX_CHUNKS])[MERKLE_HASH_LEN];
	uint64_t *ochunk[MAX_CHUNKS];

	/* Optional flusher thread (audit_start_flusher): flushes whatever is
	 * pending, then calls notify — for callers that never block. */
	pthread_t flusher;
	bool has_flusher, stop;
	pthread_cond_t cv_pend;
	void (*notify)(void *);
	void *notify_arg;

	pthread_mutex_t cp_mu;	/* one signer at a time */
	char *cp_note;
	size_t cp_len;
	uint64_t cp_size;
	uint8_t cp_root[MERKLE_HASH_LEN];
	uint64_t cp_counter;	/* its "ward-tpm-counter", 0 if it has none */

	/* Checkpoint failures (audit_checkpoint_health), under cp_mu. */
	int cp_fail_rc;
	char cp_fail_why[160];
	uint64_t cp_failures;
	struct timespec cp_fail_since;

	uint64_t hashes_rebuilt;	/* recovery: hash entries rewritten */
	char hashes_note[200];		/* why, when not a crash */

	bool anchored;		/* audit_anchor: checkpoints carry the counter */
	struct audit_anchor anchor;
	uint64_t anchor_n;	/* the counter's value as last seen */
};

/* ---- in-memory index: leaf hashes and record offsets ---- */

static int index_put(struct audit *a, uint64_t i, const uint8_t h[MERKLE_HASH_LEN], uint64_t off)
{
	uint64_t c = i >> CHUNK_BITS;

	if (c >= MAX_CHUNKS)
		return -ENOSPC;
	if (!a->hchunk[c]) {
		a->hchunk[c] = malloc(CHUNK * MERKLE_HASH_LEN);
		a->ochunk[c] = malloc(CHUNK * sizeof(uint64_t));
		if (!a->hchunk[c] || !a->ochunk[c])
			return -ENOMEM;
	}
	memcpy(a->hchunk[c][i & (CHUNK - 1)], h, MERKLE_HASH_LEN);
	a->ochunk[c][i & (CHUNK - 1)] = off;
	return 0;
}

static uint64_t index_off(struct audit *a, uint64_t i)
{
	return i == a->durable ? a->data_end : a->ochunk[i >> CHUNK_BITS][i & (CHUNK - 1)];
}

struct chunk_src {
	struct audit *a;
	uint64_t n;
};

static int chunk_get_leaf(void *ctx, uint64_t i, uint8_t out[MERKLE_HASH_LEN])
{
	struct chunk_src *s = ctx;

	if (i >= s->n)
		return -ERANGE;
	memcpy(out, s->a->hchunk[i >> CHUNK_BITS][i & (CHUNK - 1)], MERKLE_HASH_LEN);
	return 0;
}

/* Snapshot of the durable size, taken under the lock: chunks below it are
 * never written again, so reading them afterwards needs no lock. */
static void src_snapshot(struct audit *a, struct merkle_src *src, struct chunk_src *cs)
{
	pthread_mutex_lock(&a->mu);
	cs->a = a;
	cs->n = a->durable;
	pthread_mutex_unlock(&a->mu);
	src->get_leaf = chunk_get_leaf;
	src->get_node = NULL;
	src->ctx = cs;
}

/* ---- file helpers ---- */

/* fileio: whole reads, full writes, atomic replace with a directory fsync. */
static int read_all(int fd, char **buf, size_t *len)
{
	uint8_t *b;
	int rc = fileio_read_fd(fd, SIZE_MAX, &b, len);

	if (!rc)
		*buf = (char *)b;
	return rc;
}

static int write_all(int fd, const void *buf, size_t len)
{
	return fileio_write_all(fd, buf, len);
}

/* The checkpoint file is always either the old or the new note, never a
 * torn one. */
static int write_atomic(const char *dir, const char *name, const void *buf, size_t len)
{
	char dst[PATH_MAX];

	if (snprintf(dst, sizeof(dst), "%s/%s", dir, name) >= (int)sizeof(dst))
		return -ENAMETOOLONG;
	return fileio_replace(dst, buf, len, 0644);
}

/* ---- recovery ---- */

static int load_checkpoint(struct audit *a, char *err, size_t errlen)
{
	char path[PATH_MAX], *text = NULL;
	struct checkpoint *cp = NULL;
	uint8_t *raw;
	size_t len;
	int rc;

	snprintf(path, sizeof(path), "%s/checkpoint", a->dir);
	rc = fileio_read(path, CHECKPOINT_FILE_MAX, 0, &raw, &len);
	if (rc == -ENOENT)
		return 0;
	if (rc)
		return errmsg(err, errlen, rc, "cannot read %s: %s", path, fileio_strerror(rc));
	text = (char *)raw;
	if (a->pub)
		rc = checkpoint_verify(text, len, a->pub, a->origin, &cp);
	else
		rc = checkpoint_parse(text, len, &cp);
	if (rc) {
		free(text);
		return errmsg(err, errlen, -EBADMSG,
			    "last checkpoint does not verify under the audit key: log tampered");
	}
	if (strcmp(cp->origin, a->origin)) {
		rc = errmsg(err, errlen, -EBADMSG, "last checkpoint is of another log (origin \"%s\")",
			  cp->origin);
		goto out;
	}
	a->cp_note = text;
	a->cp_len = len;
	a->cp_size = cp->size;
	memcpy(a->cp_root, cp->root, MERKLE_HASH_LEN);
	if (audit_checkpoint_counter(cp, &a->cp_counter)) {
		rc = errmsg(err, errlen, -EBADMSG, "last checkpoint has a malformed counter line");
		goto out;
	}
	text = NULL;
out:
	checkpoint_free(cp);
	free(text);
	return rc;
}

/* Entries [keep, n) of the hash file are rewritten from the records. */
static int rewrite_hashes(struct audit *a, uint64_t keep, uint64_t n)
{
	uint8_t hh[MERKLE_HASH_LEN];
	uint64_t i;
	int rc;

	if (ftruncate(a->hash_fd, (off_t)(keep * MERKLE_HASH_LEN)))
		return -errno;
	for (i = keep; i < n; i++) {
		memcpy(hh, a->hchunk[i >> CHUNK_BITS][i & (CHUNK - 1)], MERKLE_HASH_LEN);
		if ((rc = write_all(a->hash_fd, hh, MERKLE_HASH_LEN)))
			return rc;
	}
	return fsync(a->hash_fd) ? -errno : 0;
}

static int recover(struct audit *a, uint64_t *repaired, char *err, size_t errlen)
{
	char *data = NULL, *hashes = NULL, why[200];
	size_t dlen, hlen, off = 0;
	uint64_t nh, n = 0, drop_bytes, keep, bad = UINT64_MAX;
	struct audit_record rec;
	uint8_t h[MERKLE_HASH_LEN], root[MERKLE_HASH_LEN];
	int rc;

	if ((rc = read_all(a->data_fd, &data, &dlen)) || (rc = read_all(a->hash_fd, &hashes, &hlen)))
		goto out;
	nh = hlen / MERKLE_HASH_LEN;
	while (off < dlen) {
		const char *nl = memchr(data + off, '\n', dlen - off);
		size_t l;

		if (!nl)
			break;	/* torn last record */
		l = (size_t)(nl - (data + off));
		if (audit_record_parse(data + off, l, &rec, why, sizeof(why))) {
			rc = errmsg(err, errlen, -EBADMSG, "record %llu is corrupt (%s): log tampered",
				  (unsigned long long)n, why);
			goto out;
		}
		if (rec.index != n) {
			rc = errmsg(err, errlen, -EBADMSG, "record %llu carries index %llu: log tampered",
				  (unsigned long long)n, (unsigned long long)rec.index);
			goto out;
		}
		/* The tree is built from the records; which of a record and
		 * its hash entry is wrong is decided by the checkpoint below. */
		merkle_leaf_hash(data + off, l, h);
		if (n < nh && bad == UINT64_MAX &&
		    CRYPTO_memcmp(h, hashes + n * MERKLE_HASH_LEN, MERKLE_HASH_LEN))
			bad = n;
		if ((rc = index_put(a, n, h, off)) || (rc = merkle_tree_append(&a->tree, h)))
			goto out;
		n++;
		off += l + 1;
	}
	if ((rc = load_checkpoint(a, err, errlen)))
		goto out;
	if (a->cp_note) {
		struct merkle_src src;
		struct chunk_src cs = { a, n };

		src.get_leaf = chunk_get_leaf;
		src.get_node = NULL;
		src.ctx = &cs;
		if (n < a->cp_size) {
			rc = errmsg(err, errlen, -EBADMSG,
				  "log has %llu intact records but its last checkpoint covers %llu: "
				  "records were removed or damaged: log tampered, refusing it",
				  (unsigned long long)n, (unsigned long long)a->cp_size);
			goto out;
		}
		if (merkle_root(&src, a->cp_size, root) ||
		    CRYPTO_memcmp(root, a->cp_root, MERKLE_HASH_LEN)) {
			if (bad < a->cp_size)
				rc = errmsg(err, errlen, -EBADMSG, "record %llu does not match its "
					    "stored hash, and the records do not match the last "
					    "checkpoint: record %llu was modified: log tampered",
					    (unsigned long long)bad, (unsigned long long)bad);
			else
				rc = errmsg(err, errlen, -EBADMSG,
					    "stored log does not match its last checkpoint: log tampered");
			goto out;
		}
	}
	/* Past the last checkpoint neither a record nor its hash entry is
	 * signed: a disagreement cannot be blamed on either. */
	if (bad != UINT64_MAX && bad >= a->cp_size) {
		rc = errmsg(err, errlen, -EBADMSG, "record %llu and hashes entry %llu disagree past "
			    "the last checkpoint (%llu records; neither is signed): one of them was "
			    "modified: log tampered, refusing it", (unsigned long long)bad,
			    (unsigned long long)bad, (unsigned long long)a->cp_size);
		goto out;
	}
	/* Everything past n is an append that never completed (its caller was
	 * never told it was durable): cut it off. */
	drop_bytes = (dlen - off) + (nh > n ? hlen - n * MERKLE_HASH_LEN : hlen % MERKLE_HASH_LEN);
	keep = nh < n ? nh : n;
	if (bad != UINT64_MAX) {
		/* The records match the signed checkpoint: the hash entry is
		 * what was damaged. It is an index derived from the records. */
		snprintf(a->hashes_note, sizeof(a->hashes_note), "hashes entry %llu is damaged "
			 "(record %llu matches the signed checkpoint); entries from it rebuilt from "
			 "the records", (unsigned long long)bad, (unsigned long long)bad);
		keep = bad;
	} else if (nh < a->cp_size) {
		/* Entries are synced before a checkpoint is signed: a crash
		 * cannot lose these. */
		snprintf(a->hashes_note, sizeof(a->hashes_note), "hashes file truncated to %llu "
			 "entries inside the checkpointed %llu (not a crash: they were synced before "
			 "signing); rebuilt from the records, which match the checkpoint",
			 (unsigned long long)nh, (unsigned long long)a->cp_size);
	}
	if (keep < n) {
		if ((rc = rewrite_hashes(a, keep, n))) {
			rc = errmsg(err, errlen, rc, "cannot repair the hash file: %s", strerror(-rc));
			goto out;
		}
		a->hashes_rebuilt = n - keep;
		if (a->hashes_note[0])
			log_error("audit log: the hashes file was damaged", "rebuilt=%llu why=\"%s\"",
				  (unsigned long long)(n - keep), a->hashes_note);
		else
			log_warn("audit log: leaf hashes past the last checkpoint recomputed after a "
				 "crash", "count=%llu", (unsigned long long)(n - keep));
	}
	if (drop_bytes) {
		if (ftruncate(a->data_fd, (off_t)off) || ftruncate(a->hash_fd, (off_t)(n * MERKLE_HASH_LEN)) ||
		    fsync(a->data_fd) || fsync(a->hash_fd)) {
			rc = errmsg(err, errlen, -errno, "cannot repair the log tail: %s", strerror(errno));
			goto out;
		}
		log_warn("audit log: incomplete tail removed", "records=%llu bytes=%llu",
			 (unsigned long long)n, (unsigned long long)drop_bytes);
	}
	if (repaired)
		*repaired = drop_bytes;
	a->next = a->durable = n;
	a->data_end = off;
	rc = 0;
out:
	free(data);
	free(hashes);
	return rc;
}

uint64_t audit_hashes_rebuilt(struct audit *a, const char **why)
{
	*why = a->hashes_note[0] ? a->hashes_note : NULL;
	return a->hashes_rebuilt;
}

int audit_open(const char *dir, const char *origin, EVP_PKEY *pub, struct audit **out,
	       uint64_t *repaired, char *err, size_t errlen)
{
	struct audit *a;
	char path[PATH_MAX];
	int rc;

	if (strlen(dir) >= sizeof(((struct audit *)0)->dir) || strlen(origin) >= sizeof(a->origin))
		return errmsg(err, errlen, -ENAMETOOLONG, "audit dir or origin too long");
	if (mkdir(dir, 0700) && errno != EEXIST)
		return errmsg(err, errlen, -errno, "cannot create %s: %s", dir, strerror(errno));
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	snprintf(a->dir, sizeof(a->dir), "%s", dir);
	snprintf(a->origin, sizeof(a->origin), "%s", origin);
	pthread_mutex_init(&a->mu, NULL);
	pthread_mutex_init(&a->cp_mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	pthread_cond_init(&a->cv_pend, NULL);
	merkle_tree_init(&a->tree);
	if (pub) {
		EVP_PKEY_up_ref(pub);
		a->pub = pub;
	}
	fileio_sweep(dir);	/* a checkpoint write cut short */
	snprintf(path, sizeof(path), "%s/leaves", dir);
	a->data_fd = fileio_open(path, O_RDWR | O_CREAT | O_APPEND, 0600, 0);
	snprintf(path, sizeof(path), "%s/hashes", dir);
	a->hash_fd = a->data_fd < 0 ? -1 : fileio_open(path, O_RDWR | O_CREAT | O_APPEND, 0600, 0);
	if (a->data_fd < 0 || a->hash_fd < 0) {
		rc = a->data_fd < 0 ? a->data_fd : a->hash_fd;
		rc = errmsg(err, errlen, rc, "cannot open the log files in %s: %s", dir,
			  fileio_strerror(rc));
		goto fail;
	}
	if ((rc = recover(a, repaired, err, errlen)))
		goto fail;
	*out = a;
	return 0;
fail:
	audit_close(a);
	return rc;
}

void audit_close(struct audit *a)
{
	uint32_t c;

	if (!a)
		return;
	audit_stop_flusher(a);
	/* Let a running flush finish so nothing is lost that a caller waits on. */
	pthread_mutex_lock(&a->mu);
	while (a->flushing)
		pthread_cond_wait(&a->cv, &a->mu);
	pthread_mutex_unlock(&a->mu);
	if (a->data_fd >= 0)
		close(a->data_fd);
	if (a->hash_fd >= 0)
		close(a->hash_fd);
	for (c = 0; c < MAX_CHUNKS && a->hchunk[c]; c++) {
		free(a->hchunk[c]);
		free(a->ochunk[c]);
	}
	free(a->pend.data);
	free(a->pend.hash);
	free(a->pend.lens);
	free(a->spare.data);
	free(a->spare.hash);
	free(a->spare.lens);
	free(a->cp_note);
	EVP_PKEY_free(a->pub);
	pthread_mutex_destroy(&a->mu);
	pthread_mutex_destroy(&a->cp_mu);
	pthread_cond_destroy(&a->cv);
	pthread_cond_destroy(&a->cv_pend);
	free(a);
}

/* ---- appending ---- */

/* Append "head" + index digits + "tail" + '\n'; the hash slot is filled by
 * the flusher, outside the lock. */
static int pend_push(struct pending *p, const char *head, size_t hlen, const char *digits,
		     size_t dlen, const char *tail, size_t tlen)
{
	size_t len = hlen + dlen + tlen;

	if (p->len + len + 1 > p->cap) {
		size_t ncap = p->cap ? p->cap * 2 : 65536;
		char *d;

		while (ncap < p->len + len + 1)
			ncap *= 2;
		if (!(d = realloc(p->data, ncap)))
			return -ENOMEM;
		p->data = d;
		p->cap = ncap;
	}
	if (p->n == p->ncap) {
		size_t ncap = p->ncap ? p->ncap * 2 : 256;
		void *h2 = realloc(p->hash, ncap * MERKLE_HASH_LEN), *l2;

		if (!h2)
			return -ENOMEM;
		p->hash = h2;
		if (!(l2 = realloc(p->lens, ncap * sizeof(uint32_t))))
			return -ENOMEM;
		p->lens = l2;
		p->ncap = ncap;
	}
	memcpy(p->data + p->len, head, hlen);
	memcpy(p->data + p->len + hlen, digits, dlen);
	memcpy(p->data + p->len + hlen + dlen, tail, tlen);
	p->data[p->len + len] = '\n';
	p->len += len + 1;
	p->lens[p->n++] = (uint32_t)(len + 1);
	return 0;
}

static void format_time(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	char sec[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%.20s.%06dZ", sec, (int)(ts.tv_nsec / 1000) % 1000000);
}

/* The key "index" as canonical JSON writes it. Keys are the controller's
 * own constants, so the first unescaped occurrence is the member. */
static const char *find_index(const char *s)
{
	const char *p = s;

	while ((p = strstr(p, "\"index\":0")))
		if (p > s && p[-1] != '\\')
			return p + 8;
		else
			p++;
	return NULL;
}

int audit_append_nowait(struct audit *a, json_t *rec, uint64_t *index)
{
	char when[48], digits[24], *s;
	const char *at;
	size_t len;
	int rc, dlen;

	if (!json_is_object(rec) || !json_is_string(json_object_get(rec, "type")))
		return -EINVAL;
	format_time(when, sizeof(when));
	if (json_object_set_new(rec, "time", json_string(when)) ||
	    json_object_set_new(rec, "index", json_integer(0)))
		return -ENOMEM;
	/* Serialise outside the lock with index 0; the real index is spliced
	 * in under the lock, so records land in the file in index order. */
	s = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
	if (!s)
		return -EINVAL;
	len = strlen(s);
	at = find_index(s);
	if (!at || len + 20 > AUDIT_RECORD_MAX) {
		free(s);
		return at ? -E2BIG : -EINVAL;
	}
	pthread_mutex_lock(&a->mu);
	if (!(rc = a->broken)) {
		dlen = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)a->next);
		rc = pend_push(&a->pend, s, (size_t)(at - s), digits, (size_t)dlen, at + 1,
			       len - (size_t)(at + 1 - s));
		if (!rc) {
			if (index)
				*index = a->next;
			a->next++;
			if (a->has_flusher)
				pthread_cond_signal(&a->cv_pend);
		}
	}
	pthread_mutex_unlock(&a->mu);
	free(s);
	return rc;
}

/* Called with mu held, returns with mu held; drops it around the I/O. */
static void flush_locked(struct audit *a)
{
	struct pending b = a->pend;
	uint64_t i, first = a->durable;
	int rc;

	a->flushing = true;
	a->pend = a->spare;
	a->pend.len = a->pend.n = 0;
	pthread_mutex_unlock(&a->mu);

	/* Leaf hashes of the batch, outside the lock. */
	{
		size_t off = 0;

		for (i = 0; i < b.n; i++) {
			merkle_leaf_hash(b.data + off, b.lens[i] - 1, b.hash[i]);
			off += b.lens[i];
		}
	}
	rc = write_all(a->data_fd, b.data, b.len);
	if (!rc)
		rc = write_all(a->hash_fd, b.hash, b.n * MERKLE_HASH_LEN);
	/* One fdatasync per batch: the records are the log; the hash file is
	 * derived from them (recomputed on recovery) and synced at checkpoints. */
	if (!rc && fdatasync(a->data_fd))
		rc = -errno;

	pthread_mutex_lock(&a->mu);
	for (i = 0; !rc && i < b.n; i++) {
		if (!(rc = index_put(a, first + i, b.hash[i], a->data_end)))
			rc = merkle_tree_append(&a->tree, b.hash[i]);
		a->data_end += b.lens[i];
		a->durable++;
	}
	if (rc && !a->broken) {
		a->broken = rc;
		log_error("audit log write failed: refusing further appends", "errno=%s error=\"%s\"",
			  errname(-rc), strerror(-rc));
	}
	a->flushes++;
	a->spare = b;
	a->flushing = false;
	pthread_cond_broadcast(&a->cv);
	if (a->has_flusher && a->pend.n)
		pthread_cond_signal(&a->cv_pend);
	if (a->notify)
		a->notify(a->notify_arg);
}

static void *flusher_main(void *arg)
{
	struct audit *a = arg;

	pthread_mutex_lock(&a->mu);
	while (!a->stop || (a->pend.n && !a->broken)) {
		if (!a->flushing && a->pend.n && !a->broken)
			flush_locked(a);
		else
			pthread_cond_wait(&a->cv_pend, &a->mu);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

int audit_start_flusher(struct audit *a, void (*notify)(void *), void *arg)
{
	int rc;

	pthread_mutex_lock(&a->mu);
	a->notify = notify;
	a->notify_arg = arg;
	a->has_flusher = true;
	rc = pthread_create(&a->flusher, NULL, flusher_main, a);
	if (rc)
		a->has_flusher = false;
	pthread_mutex_unlock(&a->mu);
	return -rc;
}

void audit_stop_flusher(struct audit *a)
{
	bool had;

	pthread_mutex_lock(&a->mu);
	had = a->has_flusher;
	a->stop = true;
	pthread_cond_signal(&a->cv_pend);
	pthread_mutex_unlock(&a->mu);
	if (had)
		pthread_join(a->flusher, NULL);
	pthread_mutex_lock(&a->mu);
	a->has_flusher = false;
	a->stop = false;
	a->notify = NULL;
	pthread_mutex_unlock(&a->mu);
}

int audit_status(struct audit *a)
{
	int rc;

	pthread_mutex_lock(&a->mu);
	rc = a->broken;
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int audit_wait(struct audit *a, uint64_t index)
{
	int rc;

	pthread_mutex_lock(&a->mu);
	while (!a->broken && a->durable <= index) {
		if (!a->flushing && a->pend.n)
			flush_locked(a);
		else
			pthread_cond_wait(&a->cv, &a->mu);
	}
	rc = a->durable > index ? 0 : a->broken;
	pthread_mutex_unlock(&a->mu);
	return rc;
}

int audit_append(struct audit *a, json_t *rec, uint64_t *index)
{
	uint64_t i;
	int rc = audit_append_nowait(a, rec, &i);

	if (rc)
		return rc;
	if (index)
		*index = i;
	return audit_wait(a, i);
}

uint64_t audit_size(struct audit *a)
{
	uint64_t n;

	pthread_mutex_lock(&a->mu);
	n = a->durable;
	pthread_mutex_unlock(&a->mu);
	return n;
}

uint64_t audit_flushes(struct audit *a)
{
	uint64_t n;

	pthread_mutex_lock(&a->mu);
	n = a->flushes;
	pthread_mutex_unlock(&a->mu);
	return n;
}

/* ---- reading, proofs, checkpoints ---- */

int audit_read(struct audit *a, uint64_t from, uint64_t to, char **buf, size_t *len)
{
	uint64_t start, end;
	size_t off = 0;
	char *b;

	pthread_mutex_lock(&a->mu);
	if (from > to || to > a->durable) {
		pthread_mutex_unlock(&a->mu);
		return -ERANGE;
	}
	start = index_off(a, from);
	end = index_off(a, to);
	pthread_mutex_unlock(&a->mu);
	b = malloc(end - start + 1);
	if (!b)
		return -ENOMEM;
	while (off < end - start) {
		ssize_t r = pread(a->data_fd, b + off, end - start - off, (off_t)(start + off));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(b);
			return r < 0 ? -errno : -EIO;
		}
		off += (size_t)r;
	}
	b[off] = 0;
	*buf = b;
	*len = off;
	return 0;
}

int audit_root(struct audit *a, uint64_t size, uint8_t root[MERKLE_HASH_LEN])
{
	struct merkle_src src;
	struct chunk_src cs;

	src_snapshot(a, &src, &cs);
	if (size > cs.n)
		return -ERANGE;
	return merkle_root(&src, size, root);
}

int audit_inclusion(struct audit *a, uint64_t index, uint64_t size,
		    uint8_t proof[][MERKLE_HASH_LEN], size_t *n, uint8_t leaf[MERKLE_HASH_LEN])
{
	struct merkle_src src;
	struct chunk_src cs;

	src_snapshot(a, &src, &cs);
	if (size > cs.n || index >= size)
		return -ERANGE;
	chunk_get_leaf(&cs, index, leaf);
	return merkle_inclusion_proof(&src, index, size, proof, n);
}

int audit_consistency(struct audit *a, uint64_t size1, uint64_t size2,
		      uint8_t proof[][MERKLE_HASH_LEN], size_t *n)
{
	struct merkle_src src;
	struct chunk_src cs;

	src_snapshot(a, &src, &cs);
	if (size2 > cs.n || size1 > size2)
		return -ERANGE;
	return merkle_consistency_proof(&src, size1, size2, proof, n);
}

static int dup_note(const char *note, size_t len, char **out, size_t *olen)
{
	if (!(*out = malloc(len + 1)))
		return -ENOMEM;
	memcpy(*out, note, len);
	(*out)[len] = 0;
	*olen = len;
	return 0;
}

int audit_anchor(struct audit *a, const struct audit_anchor *anchor, char *err, size_t errlen)
{
	uint64_t n;
	int rc;

	pthread_mutex_lock(&a->cp_mu);
	if ((rc = anchor->read(anchor->ctx, &n))) {
		rc = errmsg(err, errlen, rc, "cannot read the audit log's TPM counter");
		goto out;
	}
	if (a->cp_note && a->cp_counter) {
		if (a->cp_counter < n) {
			rc = errmsg(err, errlen, -EBADMSG, "the last checkpoint is number %llu but the "
				    "TPM counter says %llu were signed: the log and its checkpoint "
				    "were rolled back: log tampered, refusing it",
				    (unsigned long long)a->cp_counter, (unsigned long long)n);
			goto out;
		}
		if (a->cp_counter > n + 1) {
			rc = errmsg(err, errlen, -EBADMSG, "the last checkpoint is number %llu but the "
				    "TPM counter is only at %llu: not this host's TPM, or its NV was "
				    "reset: refusing the log", (unsigned long long)a->cp_counter,
				    (unsigned long long)n);
			goto out;
		}
		/* Written, then a crash before the counter moved: move it. */
		if (a->cp_counter == n + 1 && (rc = anchor->advance(anchor->ctx, &n))) {
			rc = errmsg(err, errlen, rc, "cannot advance the audit log's TPM counter");
			goto out;
		}
	} else if (a->cp_note && anchor->defined_now) {
		/* (A new log's first checkpoint, of size 0, is signed just
		 * before the counter is defined: nothing to warn about.) */
		if (a->cp_size)
			log_warn("audit log: the last checkpoint predates TPM anchoring; anchoring "
				 "from now", "counter=%llu", (unsigned long long)n);
	} else if (a->cp_note) {
		/* Only a log's first checkpoint, signed before the counter is
		 * defined, has no number: with the counter in place it is an
		 * old checkpoint put back over a newer log. */
		rc = errmsg(err, errlen, -EBADMSG, "the last checkpoint carries no TPM number but the "
			    "TPM counter says %llu checkpoints were signed: the log was replaced by an "
			    "older one: log tampered, refusing it", (unsigned long long)n);
		goto out;
	} else if (!anchor->defined_now) {
		/* The counter is defined only after a log's first checkpoint
		 * is on disk: a log without one lost it, and with it the only
		 * check of its size. */
		rc = errmsg(err, errlen, -EBADMSG, "the log has %llu records and no checkpoint, but "
			    "the TPM counter says %llu checkpoints were signed: the checkpoint was "
			    "deleted (records may have been removed): log tampered, refusing it",
			    (unsigned long long)audit_size(a), (unsigned long long)n);
		goto out;
	}
	a->anchor = *anchor;
	a->anchor_n = n;
	a->anchored = true;
out:
	pthread_mutex_unlock(&a->cp_mu);
	return rc;
}

int audit_last_checkpoint(struct audit *a, char **note, size_t *len)
{
	int rc;

	pthread_mutex_lock(&a->cp_mu);
	rc = a->cp_note ? dup_note(a->cp_note, a->cp_len, note, len) : -ENOENT;
	pthread_mutex_unlock(&a->cp_mu);
	return rc;
}

/* With cp_mu held. A failed checkpoint leaves the tail anchored by nothing
 * but the files: say so loudly, and keep when it started (the API refuses
 * changes once that lasts a checkpoint interval). */
static void checkpoint_result(struct audit *a, int rc, const char *stage, uint64_t size)
{
	if (!rc) {
		if (a->cp_fail_rc)
			log_info("audit log: checkpoints succeed again", "size=%llu failures=%llu",
				 (unsigned long long)size, (unsigned long long)a->cp_failures);
		a->cp_fail_rc = 0;
		a->cp_fail_why[0] = 0;
		a->cp_failures = 0;
		return;
	}
	if (!a->cp_fail_rc)
		clock_gettime(CLOCK_MONOTONIC, &a->cp_fail_since);
	a->cp_fail_rc = rc;
	a->cp_failures++;
	snprintf(a->cp_fail_why, sizeof(a->cp_fail_why), "%s: %s", stage, strerror(-rc));
	log_error("audit log: checkpoint failed; the records since the last one are not anchored",
		  "size=%llu last=%llu failures=%llu error=\"%s\"", (unsigned long long)size,
		  (unsigned long long)(a->cp_note ? a->cp_size : 0),
		  (unsigned long long)a->cp_failures, a->cp_fail_why);
}

int audit_checkpoint(struct audit *a, const struct checkpoint_signer *signer, char **note,
		     size_t *len)
{
	uint8_t root[MERKLE_HASH_LEN], proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	struct merkle_src src;
	struct chunk_src cs;
	char *body = NULL, *signed_note = NULL, ext[64];
	const char *const ext_list[] = { ext };
	size_t blen, slen, plen;
	const char *stage = "cannot compute the tree head";
	uint64_t n;
	int rc;

	pthread_mutex_lock(&a->cp_mu);
	pthread_mutex_lock(&a->mu);
	n = a->durable;
	rc = merkle_tree_root(&a->tree, root);
	pthread_mutex_unlock(&a->mu);
	if (rc)
		goto out;
	if (a->cp_note && n == a->cp_size) {
		rc = dup_note(a->cp_note, a->cp_len, note, len);
		goto out;
	}
	/* Never sign a head that the last signed one is not a prefix of. */
	if (a->cp_note) {
		cs.a = a;
		cs.n = n;
		src.get_leaf = chunk_get_leaf;
		src.get_node = NULL;
		src.ctx = &cs;
		if (n < a->cp_size ||
		    merkle_consistency_proof(&src, a->cp_size, n, proof, &plen) ||
		    merkle_verify_consistency(a->cp_size, n, a->cp_root, root,
					      (const uint8_t (*)[MERKLE_HASH_LEN])proof, plen)) {
			log_error("audit log: new tree is not consistent with the last checkpoint; "
				  "refusing to sign", "size=%llu last=%llu", (unsigned long long)n,
				  (unsigned long long)a->cp_size);
			rc = -EBADMSG;
			stage = "the stored tree is not consistent with the last checkpoint";
			goto out;
		}
	}
	if (fdatasync(a->hash_fd)) {
		rc = -errno;
		stage = "cannot sync the hashes file";
		goto out;
	}
	/* Anchored: this checkpoint is the counter's next value, and the
	 * counter moves only once the checkpoint is on disk (audit_anchor). */
	if (a->anchored)
		snprintf(ext, sizeof(ext), AUDIT_COUNTER_EXT "%llu",
			 (unsigned long long)(a->anchor_n + 1));
	stage = "the TPM did not sign it (is this the measured controller?)";
	if ((rc = checkpoint_format(a->origin, n, root, a->anchored ? ext_list : NULL,
				    a->anchored ? 1 : 0, &body, &blen)) ||
	    (rc = checkpoint_sign(body, blen, signer, 1, &signed_note, &slen)))
		goto out;
	if (a->pub && (rc = checkpoint_verify(signed_note, slen, a->pub, a->origin, NULL))) {
		log_error("audit log: signer and public key disagree", "errno=%s", errname(rc));
		rc = -EKEYREJECTED;
		stage = "the signature does not verify under the audit public key";
		goto out;
	}
	stage = "cannot write the checkpoint file";
	if ((rc = write_atomic(a->dir, "checkpoint", signed_note, slen)))
		goto out;
	if (a->anchored) {
		uint64_t v;

		/* On failure the checkpoint on disk is one ahead of the counter,
		 * which audit_anchor accepts; the next one reuses the number. */
		if ((rc = a->anchor.advance(a->anchor.ctx, &v))) {
			stage = "cannot advance the TPM counter";
			goto out;
		}
		if (v != a->anchor_n + 1)
			log_error("audit log: the TPM counter moved outside this log",
				  "expected=%llu got=%llu", (unsigned long long)(a->anchor_n + 1),
				  (unsigned long long)v);
		a->anchor_n = v;
		a->cp_counter = v;
	}
	free(a->cp_note);
	a->cp_note = signed_note;
	a->cp_len = slen;
	a->cp_size = n;
	memcpy(a->cp_root, root, MERKLE_HASH_LEN);
	signed_note = NULL;
	rc = dup_note(a->cp_note, a->cp_len, note, len);
out:
	checkpoint_result(a, rc, stage, n);
	pthread_mutex_unlock(&a->cp_mu);
	free(body);
	free(signed_note);
	return rc;
}

void audit_checkpoint_health(struct audit *a, struct audit_cp_health *h)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&a->cp_mu);
	memset(h, 0, sizeof(*h));
	h->rc = a->cp_fail_rc;
	h->failures = a->cp_failures;
	snprintf(h->why, sizeof(h->why), "%s", a->cp_fail_why);
	if (a->cp_fail_rc)
		h->failing_s = (uint64_t)(now.tv_sec - a->cp_fail_since.tv_sec);
	h->checkpointed = a->cp_note ? a->cp_size : 0;
	pthread_mutex_unlock(&a->cp_mu);
	h->unanchored = audit_size(a) - h->checkpointed;
}
