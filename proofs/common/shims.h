/* shims: the parser-boundary cuts shared by every Frama-C harness in
 * proofs/. Included before the product file, so its calls to these
 * compiler builtins and to errmsg() resolve here. Each cut is either an
 * exact C model of the builtin (overflow checks) or an ACSL contract of
 * what the parser assumes of it; docs/proofs.md lists them all. */
#ifndef WARD_PROOFS_SHIMS_H
#define WARD_PROOFS_SHIMS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "__fc_builtin.h"

/* Frama-C 25 knows only the typed overflow builtins; every use in the
 * parsers is on uint64_t (a mismatched type fails to type-check here, so
 * a new use cannot silently get the wrong model). Exact semantics. */
#ifdef WARD_WP
/* For WP, what the overflow check means (Eva runs on the body itself). */
/*@ requires \valid(r);
    assigns *r \from a, b;
    ensures \result != 0 <==> a + b > UINT64_MAX;
    ensures \result == 0 ==> *r == a + b; */
#else
/*@ requires \valid(r);
    assigns *r \from a, b; */
#endif
static inline _Bool fc_add_overflow_u64(uint64_t a, uint64_t b, uint64_t *r)
{
	*r = a + b;
	return *r < a;
}
#define __builtin_add_overflow(a, b, r) fc_add_overflow_u64((a), (b), (r))

/* Atomics: the analysis is of one thread's view, so an atomic load or
 * store is a plain access of the same object (the double-fetch property
 * is checked separately, on the volatile accesses). */
#define __atomic_load_n(p, o) (*(p))
#define __atomic_store_n(p, v, o) ((void)(*(p) = (v)))
#define __atomic_thread_fence(o) ((void)0)
#define __atomic_fetch_add(p, v, o) ((*(p) += (v)) - (v))

/* errmsg() (src/lib/errmsg.c) formats into the caller's buffer with
 * vsnprintf: assumed to write only err[0..errlen-1] and to return rc. */
/*@ requires errlen == 0 || \valid(err + (0 .. errlen - 1));
    assigns err[0 .. errlen - 1] \from fmt[0 ..];
    assigns \result \from rc;
    ensures \result == rc; */
int errmsg(char *err, size_t errlen, int rc, const char *fmt, ...);

#endif
