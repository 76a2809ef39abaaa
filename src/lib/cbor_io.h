/* cbor_io: a bounded CBOR reader and a growable CBOR writer over libcbor's
 * allocation-free streaming decoder and its encoders. Every CBOR parser of
 * untrusted input in ward (EIF signature sections, COSE_Sign1, attestation
 * documents) reads through here: nothing is allocated while reading, so a
 * declared length can never make us allocate what the input does not hold. */
#ifndef WARD_CBOR_IO_H
#define WARD_CBOR_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum cbr_type {
	CBR_UINT, CBR_NEGINT,	/* val; a NEGINT's value is -1 - val */
	CBR_BYTES, CBR_TEXT,	/* ptr, val = length (definite only) */
	CBR_ARRAY, CBR_MAP,	/* val = count; indef: count unknown */
	CBR_TAG,		/* val = tag number */
	CBR_NULL, CBR_UNDEF, CBR_BOOL,	/* val = 0/1 for BOOL */
	CBR_FLOAT, CBR_BREAK,
};

struct cbr_item {
	enum cbr_type type;
	uint64_t val;
	const uint8_t *ptr;
	bool indef;		/* ARRAY/MAP of indefinite length */
};

struct cbor_rd {
	const uint8_t *p;
	size_t len, off;
};

void cbr_init(struct cbor_rd *r, const void *buf, size_t len);
/* Decode the next item head (and a string's bytes). -EPROTO on malformed
 * data or an indefinite-length string (never produced by the formats we
 * read), -ENODATA when the input ends inside the item. */
int cbr_next(struct cbor_rd *r, struct cbr_item *it);
/* 1 when the next byte is a "break" (0xff), consumed; 0 when not. */
int cbr_at_break(struct cbor_rd *r);
static inline bool cbr_done(const struct cbor_rd *r) { return r->off == r->len; }

/* Writer: errors are sticky (w->err), checked once at the end. */
struct cbor_wr {
	uint8_t *buf;
	size_t len, cap;
	int err;
};

void cbw_init(struct cbor_wr *w);
void cbw_free(struct cbor_wr *w);
void cbw_uint(struct cbor_wr *w, uint64_t v);
void cbw_bytes(struct cbor_wr *w, const void *p, size_t n);
void cbw_text(struct cbor_wr *w, const char *s);
void cbw_array(struct cbor_wr *w, size_t n);
void cbw_map(struct cbor_wr *w, size_t n);
void cbw_null(struct cbor_wr *w);
void cbw_bool(struct cbor_wr *w, bool b);
/* Hand the encoded bytes to the caller (who frees them); 0 or w->err. */
int cbw_finish(struct cbor_wr *w, uint8_t **out, size_t *len);

#endif
