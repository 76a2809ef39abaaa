/* tpm_eventlog: append-only measured-boot log in the TCG PC Client
 * crypto-agile format, its one parser (the log is untrusted input: a verifier
 * reads it from a host it does not trust) and PCR replay. docs/tpm.md. */
#include "tpm_eventlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "fileio.h"

#define ALG_SHA256		0x000bu
#define SPEC_ID_SIG		"Spec ID Event03"	/* 16 bytes with NUL */
#define SPEC_ID_SIG_LEN		16
#define MAX_ALGS		16	/* more banks than any TPM has */
#define MAX_ALG_DIGEST		64
#define LOG_FILE_MAX		(64u << 20)	/* refuse absurd files */

struct alg {
	uint16_t id;
	uint16_t size;
};

/* An offset cursor: [off, end) of buf is what is left to read. Always
 * off <= end <= the log's length. Kept as offsets into the one buffer (not
 * a moving pointer and a count) so every bound is one comparison with a
 * fixed end, which the analysis in proofs/tpm_eventlog follows. */
struct cursor {
	const uint8_t *buf;
	size_t off, end;
};

static size_t left(const struct cursor *c)
{
	return c->end - c->off;
}

static int get(struct cursor *c, void *dst, size_t n)
{
	if (n > c->end || c->off > c->end - n)	/* left(c) < n */
		return -1;
	if (dst)
		memcpy(dst, c->buf + c->off, n);
	c->off += n;
	return 0;
}

static int get_u32(struct cursor *c, uint32_t *v)
{
	uint8_t b[4];

	if (get(c, b, 4))
		return -1;
	*v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	     (uint32_t)b[3] << 24;
	return 0;
}

static int get_u16(struct cursor *c, uint16_t *v)
{
	uint8_t b[2];

	if (get(c, b, 2))
		return -1;
	*v = (uint16_t)(b[0] | b[1] << 8);
	return 0;
}

static int bad(char *err, size_t errlen, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int bad(char *err, size_t errlen, size_t off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err && errlen) {
		n = snprintf(err, errlen, "event log offset %zu: ", off);
		if (n < 0 || (size_t)n >= errlen)
			n = 0;
		va_start(ap, fmt);
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EBADMSG;
}

/* The first record: a SHA-1-format TCG_PCClientPCREvent whose data is the
 * TCG_EfiSpecIdEvent listing the banks (and digest sizes) of every record. */
static int parse_header(struct cursor *c, struct alg *algs, uint32_t *nalgs,
			char *err, size_t errlen)
{
	static const uint8_t zero20[20];
	uint8_t digest[20], sig[SPEC_ID_SIG_LEN], ver[4], vsize;
	uint32_t pcr, type, size, platform, n;
	struct cursor ev;
	size_t end;
	int have_sha256 = 0;

	if (get_u32(c, &pcr) || get_u32(c, &type) || get(c, digest, 20) ||
	    get_u32(c, &size))
		return bad(err, errlen, 0, "truncated header");
	if (pcr != 0 || type != TPM_EV_NO_ACTION || memcmp(digest, zero20, 20))
		return bad(err, errlen, 0, "first record is not a Spec ID event");
	end = c->off + size;	/* no wrap: off is 32 here, size < 4 GiB */
	if (end > c->end)	/* size > left(c) */
		return bad(err, errlen, 28, "Spec ID event size %u past end", size);
	ev = (struct cursor){ c->buf, c->off, end };
	c->off = end;

	if (get(&ev, sig, sizeof(sig)) || get_u32(&ev, &platform) ||
	    get(&ev, ver, 4) || get_u32(&ev, &n))
		return bad(err, errlen, 32, "truncated Spec ID event");
	if (memcmp(sig, SPEC_ID_SIG, SPEC_ID_SIG_LEN))
		return bad(err, errlen, 32, "bad Spec ID signature");
	if (ver[1] != 2)
		return bad(err, errlen, 32, "Spec ID version %u.%u, need 2.x",
			   ver[1], ver[0]);
	if (n == 0 || n > MAX_ALGS)
		return bad(err, errlen, 32, "%u digest algorithms", n);
	for (uint32_t i = 0; i < n; i++) {
		if (get_u16(&ev, &algs[i].id) || get_u16(&ev, &algs[i].size))
			return bad(err, errlen, 32, "truncated algorithm list");
		if (algs[i].size == 0 || algs[i].size > MAX_ALG_DIGEST)
			return bad(err, errlen, 32, "algorithm 0x%04x size %u",
				   algs[i].id, algs[i].size);
		for (uint32_t j = 0; j < i; j++)
			if (algs[j].id == algs[i].id)
				return bad(err, errlen, 32,
					   "algorithm 0x%04x listed twice",
					   algs[i].id);
		if (algs[i].id == ALG_SHA256) {
			if (algs[i].size != TPM_DIGEST_LEN)
				return bad(err, errlen, 32, "sha256 size %u",
					   algs[i].size);
			have_sha256 = 1;
		}
	}
	if (!have_sha256)
		return bad(err, errlen, 32, "log has no sha256 bank");
	if (get(&ev, &vsize, 1) || left(&ev) != vsize)
		return bad(err, errlen, 32, "Spec ID vendor info size mismatch");
	*nalgs = n;
	return 0;
}

static int parse_event(struct cursor *c, const struct alg *algs, uint32_t nalgs,
		       struct tpm_event *ev, size_t off, char *err,
		       size_t errlen)
{
	uint32_t count, size;
	int have_sha256 = 0;

	if (get_u32(c, &ev->pcr) || get_u32(c, &ev->type) ||
	    get_u32(c, &count))
		return bad(err, errlen, off, "truncated event header");
	if (ev->pcr >= TPM_NUM_PCRS)
		return bad(err, errlen, off, "PCR index %u out of range",
			   ev->pcr);
	if (count != nalgs)
		return bad(err, errlen, off, "%u digests, header says %u",
			   count, nalgs);
	for (uint32_t i = 0; i < count; i++) {
		const struct alg *a = NULL;
		uint16_t id;

		if (get_u16(c, &id))
			return bad(err, errlen, off, "truncated digest list");
		for (uint32_t j = 0; j < nalgs; j++)
			if (algs[j].id == id)
				a = &algs[j];
		if (!a)
			return bad(err, errlen, off,
				   "digest algorithm 0x%04x not in header", id);
		if (id == ALG_SHA256) {
			if (have_sha256)
				return bad(err, errlen, off, "two sha256 digests");
			have_sha256 = 1;
			if (get(c, ev->digest, TPM_DIGEST_LEN))
				return bad(err, errlen, off, "truncated digest");
		} else if (get(c, NULL, a->size)) {
			return bad(err, errlen, off, "truncated digest");
		}
	}
	if (!have_sha256)
		return bad(err, errlen, off, "event has no sha256 digest");
	if (get_u32(c, &size))
		return bad(err, errlen, off, "truncated event size");
	if (size > TPM_EVENT_DATA_MAX || size > left(c))
		return bad(err, errlen, off, "event data size %u too large",
			   size);
	ev->data = c->buf + c->off;
	ev->data_len = size;
	c->off += size;
	return 0;
}

int tpm_eventlog_parse(const uint8_t *buf, size_t len, tpm_event_fn fn,
		       void *arg, char *err, size_t errlen)
{
	/* Zeroed: only the header's n entries are read, but the analysis
	 * cannot tie n to how many were written. */
	struct alg algs[MAX_ALGS] = { 0 };
	struct cursor c = { buf, 0, len };
	uint32_t nalgs = 0;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	if (!buf && len)
		return -EINVAL;
	ret = parse_header(&c, algs, &nalgs, err, errlen);
	if (ret)
		return ret;
	while (left(&c)) {
		struct tpm_event ev = { 0 };	/* filled by parse_event() */
		size_t off = c.off;

		ret = parse_event(&c, algs, nalgs, &ev, off, err, errlen);
		if (ret)
			return ret;
		if (fn) {
			ret = fn(&ev, arg);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int replay_one(const struct tpm_event *ev, void *arg)
{
	struct tpm_replay *r = arg;
	uint8_t in[2 * TPM_DIGEST_LEN];

	r->events++;
	/* EV_NO_ACTION records carry information, they are never extended. */
	if (ev->type == TPM_EV_NO_ACTION)
		return 0;
	/* parse_event() checked the index; checked again where it addresses
	 * r->pcr, so the bound is local (proofs/tpm_eventlog: Eva does not
	 * carry the parser's check through its joined return states). */
	if (ev->pcr >= TPM_NUM_PCRS)
		return -EBADMSG;
	memcpy(in, r->pcr[ev->pcr], TPM_DIGEST_LEN);
	memcpy(in + TPM_DIGEST_LEN, ev->digest, TPM_DIGEST_LEN);
	if (!EVP_Digest(in, sizeof(in), r->pcr[ev->pcr], NULL, EVP_sha256(),
			NULL))
		return -ENOMEM;
	r->mask |= TPM_PCR_BIT(ev->pcr);
	return 0;
}

int tpm_eventlog_replay(const uint8_t *buf, size_t len, struct tpm_replay *out,
			char *err, size_t errlen)
{
	int ret;

	memset(out, 0, sizeof(*out));
	/* PC Client: PCRs 17-22 (DRTM) reset to all ones, the rest to zero. */
	for (int i = 17; i <= 22; i++)
		memset(out->pcr[i], 0xff, TPM_DIGEST_LEN);
	ret = tpm_eventlog_parse(buf, len, replay_one, out, err, errlen);
	if (ret == -ENOMEM && err && errlen)
		snprintf(err, errlen, "sha256 failed");
	return ret;
}

/* fileio: a whole regular file; a FIFO in place of the log is refused. */
static int read_file(const char *path, uint8_t **buf, size_t *len)
{
	return fileio_read(path, LOG_FILE_MAX, FILEIO_FOLLOW, buf, len);
}

int tpm_eventlog_replay_file(const char *path, struct tpm_replay *out,
			     char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret;

	ret = read_file(path, &buf, &len);
	if (ret) {
		if (err && errlen)
			snprintf(err, errlen, "cannot read event log %s: %s",
				 path, strerror(-ret));
		return ret;
	}
	ret = tpm_eventlog_replay(buf, len, out, err, errlen);
	free(buf);
	return ret;
}

struct single {
	unsigned pcr;
	size_t n;
	uint32_t type;
	uint8_t digest[TPM_DIGEST_LEN];
};

static int count_pcr(const struct tpm_event *ev, void *arg)
{
	struct single *s = arg;

	if (ev->pcr != s->pcr || ev->type == TPM_EV_NO_ACTION)
		return 0;
	if (s->n++ == 0) {
		s->type = ev->type;
		memcpy(s->digest, ev->digest, TPM_DIGEST_LEN);
	}
	return 0;
}

/* A PCR that holds exactly one logged measurement, of `digest`: the log
 * names one EV_IPL event for it, and replaying the whole log gives the
 * value the TPM reports. A second extend, logged or not, fails one of the
 * two. Errors are spelled out in err: they decide whether a host serves. */
int tpm_eventlog_check_single(const char *path, unsigned pcr,
			      const uint8_t digest[TPM_DIGEST_LEN],
			      const uint8_t current[TPM_DIGEST_LEN], char *err, size_t errlen)
{
	struct single s = { .pcr = pcr };
	struct tpm_replay r;
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret;

	if (pcr >= TPM_NUM_PCRS)
		return -EINVAL;
	ret = read_file(path, &buf, &len);
	if (ret) {
		snprintf(err, errlen, "cannot read the event log %s: %s", path, strerror(-ret));
		return ret;
	}
	ret = tpm_eventlog_parse(buf, len, count_pcr, &s, err, errlen);
	if (!ret)
		ret = tpm_eventlog_replay(buf, len, &r, err, errlen);
	free(buf);
	if (ret)
		return ret;
	if (s.n != 1) {
		snprintf(err, errlen, "the event log holds %zu measurements for PCR %u, not one",
			 s.n, pcr);
		return -EPERM;
	}
	if (s.type != TPM_EV_IPL || memcmp(s.digest, digest, TPM_DIGEST_LEN)) {
		snprintf(err, errlen, "PCR %u's one measurement is of another binary", pcr);
		return -EPERM;
	}
	if (memcmp(r.pcr[pcr], current, TPM_DIGEST_LEN)) {
		snprintf(err, errlen, "PCR %u does not match the event log: it was extended "
			 "outside it", pcr);
		return -EPERM;
	}
	return 0;
}

static uint8_t *put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
	return p + 4;
}

static uint8_t *put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	return p + 2;
}

/* Spec ID header for a log with one bank (SHA-256). */
#define HEADER_DATA_LEN	(SPEC_ID_SIG_LEN + 4 + 4 + 4 + 4 + 1)
#define HEADER_LEN	(4 + 4 + 20 + 4 + HEADER_DATA_LEN)

static size_t put_header(uint8_t *p)
{
	uint8_t *s = p;

	p = put_u32(p, 0);
	p = put_u32(p, TPM_EV_NO_ACTION);
	memset(p, 0, 20);
	p += 20;
	p = put_u32(p, HEADER_DATA_LEN);
	memcpy(p, SPEC_ID_SIG, SPEC_ID_SIG_LEN);
	p += SPEC_ID_SIG_LEN;
	p = put_u32(p, 0);	/* platformClass: client */
	*p++ = 0;		/* specVersionMinor */
	*p++ = 2;		/* specVersionMajor */
	*p++ = 0;		/* specErrata */
	*p++ = 2;		/* uintnSize: UINT64 */
	p = put_u32(p, 1);
	p = put_u16(p, ALG_SHA256);
	p = put_u16(p, TPM_DIGEST_LEN);
	*p++ = 0;		/* vendorInfoSize */
	return (size_t)(p - s);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	return fileio_write_all(fd, p, n);
}

int tpm_eventlog_create(const char *path)
{
	uint8_t hdr[HEADER_LEN];

	/* A fresh log replaces the old one whole: never half a header. */
	return fileio_replace(path, hdr, put_header(hdr), 0600);
}

int tpm_eventlog_append(const char *path, unsigned pcr, uint32_t type,
			const uint8_t digest[TPM_DIGEST_LEN],
			const void *data, size_t data_len)
{
	struct stat st;
	uint8_t *rec, *p;
	int fd, ret;

	if (pcr >= TPM_NUM_PCRS || data_len > TPM_EVENT_DATA_MAX ||
	    (data_len && !data))
		return -EINVAL;
	rec = malloc(HEADER_LEN + 4 + 4 + 4 + 2 + TPM_DIGEST_LEN + 4 + data_len);
	if (!rec)
		return -ENOMEM;
	fd = fileio_open(path, O_WRONLY | O_APPEND | O_CREAT, 0600, FILEIO_FOLLOW);
	if (fd < 0) {
		ret = fd;
		goto out_free;
	}
	/* One record per write(2) under an exclusive lock: concurrent
	 * appenders never interleave, and the header is written exactly once. */
	if (flock(fd, LOCK_EX) < 0 || fstat(fd, &st) < 0) {
		ret = -errno;
		goto out_close;
	}
	p = rec;
	if (st.st_size == 0)
		p += put_header(p);
	p = put_u32(p, pcr);
	p = put_u32(p, type);
	p = put_u32(p, 1);
	p = put_u16(p, ALG_SHA256);
	memcpy(p, digest, TPM_DIGEST_LEN);
	p += TPM_DIGEST_LEN;
	p = put_u32(p, (uint32_t)data_len);
	if (data_len)
		memcpy(p, data, data_len);
	p += data_len;
	ret = write_all(fd, rec, (size_t)(p - rec));
	if (!ret && fsync(fd) < 0)
		ret = -errno;
out_close:
	close(fd);
out_free:
	free(rec);
	return ret;
}
