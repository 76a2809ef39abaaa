/* WP contracts for the Query form parser's decoder (src/api/query.c):
 * decode() reads only s[0 .. n-1] (a %-escape's two hex digits only
 * when both are inside the input), writes only d[0 .. n] of the
 * n + 1 bytes it allocates, and hands back a NUL-terminated string;
 * utf8_valid() reads only s[0 .. n-1] (a sequence's continuation bytes
 * only when the whole sequence is inside). For every n up to
 * QUERY_MAX_BODY, where Eva (no relation between the write index and
 * the input index) cannot reach. The contracts sit on declarations here,
 * the product file carries only the loop invariants. malloc and free are
 * cut to what decode() assumes of them (below). */
#include "shims.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include "query.h"

/* malloc: NULL or a block of at least size writable bytes apart from
 * every object the caller passed in (WP in Frama-C 25 has no \fresh: the
 * block is modelled as wp_heap, which decode()'s contract separates from
 * its arguments). free: the block is not read or written by the parser
 * afterwards (not modelled). */
extern char wp_heap[QUERY_MAX_BODY + 1];
/*@ assigns \result \from size;
    ensures \result == \null || (\result == (void *)wp_heap && size <= QUERY_MAX_BODY + 1); */
static void *wp_malloc(size_t size);
/*@ assigns \nothing; */
static void wp_free(void *p);
#define malloc wp_malloc
#define free wp_free

/* decode() joins two hex digits as hi << 4 | lo. WP's provers here have
 * no bit-vector theory, so the shift's one fact is an axiom: true of
 * every integer in the range, and the only one used. */
/*@ axiomatic Shift4 {
      axiom lsl4: \forall integer x; 0 <= x <= 15 ==> (x << 4) == x * 16;
    } */

/*@ assigns \nothing;
    ensures -1 <= \result <= 15; */
static int hexval(char c);

/*@ requires n <= QUERY_MAX_BODY;
    requires \valid_read(s + (0 .. n - 1));
    assigns \nothing; */
static bool utf8_valid(const uint8_t *s, size_t n);

/*@ requires n <= QUERY_MAX_BODY;
    requires \valid_read(s + (0 .. n - 1));
    requires \valid(out);
    requires errlen == 0 || \valid(err + (0 .. errlen - 1));
    requires \separated(out, s + (0 .. n - 1), err + (0 .. errlen - 1), wp_heap + (0 .. QUERY_MAX_BODY));
    ensures \result == 0 ==> \valid(*out + (0 .. n));
    ensures terminated: \result == 0 ==> \exists integer k; 0 <= k <= n && (*out)[k] == 0; */
static int decode(const char *s, size_t n, char **out, char *err, size_t errlen);

#include "query.c"
