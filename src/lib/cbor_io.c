/* cbor_io: bounded CBOR reading (libcbor's streaming decoder: no allocation,
 * one item head at a time) and growable CBOR writing (libcbor's encoders).
 * See cbor_io.h; used by eif.c, cose.c and attest.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>

#include "cbor_io.h"

#define CBR_NONE ((enum cbr_type)-1)

/* ---- reader: each callback records the one item it saw ---- */

static void set(void *c, enum cbr_type t, uint64_t v)
{
	struct cbr_item *it = c;

	it->type = t;
	it->val = v;
}
static void on_u8(void *c, uint8_t v) { set(c, CBR_UINT, v); }
static void on_u16(void *c, uint16_t v) { set(c, CBR_UINT, v); }
static void on_u32(void *c, uint32_t v) { set(c, CBR_UINT, v); }
static void on_u64(void *c, uint64_t v) { set(c, CBR_UINT, v); }
static void on_n8(void *c, uint8_t v) { set(c, CBR_NEGINT, v); }
static void on_n16(void *c, uint16_t v) { set(c, CBR_NEGINT, v); }
static void on_n32(void *c, uint32_t v) { set(c, CBR_NEGINT, v); }
static void on_n64(void *c, uint64_t v) { set(c, CBR_NEGINT, v); }
static void on_bytes(void *c, cbor_data d, size_t n)
{
	set(c, CBR_BYTES, n);
	((struct cbr_item *)c)->ptr = d;
}
static void on_text(void *c, cbor_data d, size_t n)
{
	set(c, CBR_TEXT, n);
	((struct cbr_item *)c)->ptr = d;
}
/* Indefinite-length strings arrive in chunks; none of our formats has them. */
static void on_strstart(void *c) { set(c, CBR_NONE, 0); }
static void on_array(void *c, size_t n) { set(c, CBR_ARRAY, n); }
static void on_map(void *c, size_t n) { set(c, CBR_MAP, n); }
static void on_iarray(void *c)
{
	set(c, CBR_ARRAY, 0);
	((struct cbr_item *)c)->indef = true;
}
static void on_imap(void *c)
{
	set(c, CBR_MAP, 0);
	((struct cbr_item *)c)->indef = true;
}
static void on_tag(void *c, uint64_t v) { set(c, CBR_TAG, v); }
static void on_f(void *c, float f) { set(c, CBR_FLOAT, 0); }
static void on_d(void *c, double f) { set(c, CBR_FLOAT, 0); }
static void on_undef(void *c) { set(c, CBR_UNDEF, 0); }
static void on_null(void *c) { set(c, CBR_NULL, 0); }
static void on_bool(void *c, bool b) { set(c, CBR_BOOL, b); }
static void on_break(void *c) { set(c, CBR_BREAK, 0); }

static const struct cbor_callbacks cbr_cb = {
	.uint8 = on_u8, .uint16 = on_u16, .uint32 = on_u32, .uint64 = on_u64,
	.negint8 = on_n8, .negint16 = on_n16, .negint32 = on_n32, .negint64 = on_n64,
	.byte_string_start = on_strstart, .byte_string = on_bytes,
	.string = on_text, .string_start = on_strstart,
	.indef_array_start = on_iarray, .array_start = on_array,
	.indef_map_start = on_imap, .map_start = on_map,
	.tag = on_tag, .float2 = on_f, .float4 = on_f, .float8 = on_d,
	.undefined = on_undef, .null = on_null, .boolean = on_bool,
	.indef_break = on_break,
};

void cbr_init(struct cbor_rd *r, const void *buf, size_t len)
{
	r->p = buf;
	r->len = len;
	r->off = 0;
}

int cbr_next(struct cbor_rd *r, struct cbr_item *it)
{
	struct cbor_decoder_result res;

	memset(it, 0, sizeof(*it));
	it->type = CBR_NONE;
	if (r->off >= r->len)
		return -ENODATA;
	res = cbor_stream_decode(r->p + r->off, r->len - r->off, &cbr_cb, it);
	if (res.status == CBOR_DECODER_NEDATA)
		return -ENODATA;
	if (res.status != CBOR_DECODER_FINISHED || it->type == CBR_NONE ||
	    res.read == 0 || res.read > r->len - r->off)
		return -EPROTO;
	r->off += res.read;
	return 0;
}

int cbr_at_break(struct cbor_rd *r)
{
	if (r->off < r->len && r->p[r->off] == 0xff) {
		r->off++;
		return 1;
	}
	return 0;
}

/* ---- writer ---- */

void cbw_init(struct cbor_wr *w)
{
	memset(w, 0, sizeof(*w));
}

void cbw_free(struct cbor_wr *w)
{
	free(w->buf);
	cbw_init(w);
}

static uint8_t *reserve(struct cbor_wr *w, size_t n)
{
	size_t cap;
	uint8_t *nb;

	if (w->err)
		return NULL;
	if (n > SIZE_MAX / 2 - w->len) {
		w->err = -EOVERFLOW;
		return NULL;
	}
	if (w->len + n > w->cap) {
		cap = w->cap ? w->cap : 256;
		while (cap < w->len + n)
			cap *= 2;
		nb = realloc(w->buf, cap);
		if (!nb) {
			w->err = -ENOMEM;
			return NULL;
		}
		w->buf = nb;
		w->cap = cap;
	}
	return w->buf + w->len;
}

/* An item head is at most 9 bytes. */
#define HEAD(w, call)                                        \
	do {                                                 \
		uint8_t *p_ = reserve(w, 9);                 \
		size_t n_;                                   \
		if (!p_)                                     \
			return;                              \
		n_ = call;                                   \
		if (!n_) {                                   \
			w->err = -EINVAL;                    \
			return;                              \
		}                                            \
		w->len += n_;                                \
	} while (0)

void cbw_uint(struct cbor_wr *w, uint64_t v) { HEAD(w, cbor_encode_uint(v, p_, 9)); }

void cbw_bytes(struct cbor_wr *w, const void *p, size_t n)
{
	uint8_t *d;

	HEAD(w, cbor_encode_bytestring_start(n, p_, 9));
	if (!n || !(d = reserve(w, n)))
		return;
	memcpy(d, p, n);
	w->len += n;
}

void cbw_text(struct cbor_wr *w, const char *s)
{
	size_t n = strlen(s);
	uint8_t *d;

	HEAD(w, cbor_encode_string_start(n, p_, 9));
	if (!n || !(d = reserve(w, n)))
		return;
	memcpy(d, s, n);
	w->len += n;
}

void cbw_array(struct cbor_wr *w, size_t n) { HEAD(w, cbor_encode_array_start(n, p_, 9)); }
void cbw_map(struct cbor_wr *w, size_t n) { HEAD(w, cbor_encode_map_start(n, p_, 9)); }
void cbw_null(struct cbor_wr *w) { HEAD(w, cbor_encode_null(p_, 9)); }
void cbw_bool(struct cbor_wr *w, bool b) { HEAD(w, cbor_encode_bool(b, p_, 9)); }

int cbw_finish(struct cbor_wr *w, uint8_t **out, size_t *len)
{
	int rc = w->err;

	if (rc) {
		cbw_free(w);
		return rc;
	}
	*out = w->buf;
	*len = w->len;
	w->buf = NULL;
	w->len = w->cap = 0;
	return 0;
}
