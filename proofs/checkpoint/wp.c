/* WP contracts for the leaf parsers of checkpoint text
 * (src/lib/checkpoint.c): each reads only its input, at every length up
 * to CHECKPOINT_MAX_LEN (the Eva harness covers short exact lengths):
 * utf8_next() reads only p[0 .. n-1] and returns 0 or a length <= n, so
 * text_ok()'s and name_ok()'s walks never step past their input;
 * parse_size() reads only s[0 .. n-1] and never overflows; and
 * find_separator() reads only text[0 .. len-1] and returns 0 or an index
 * below len. The contracts sit on declarations here, the product file
 * carries only the loop invariants. */
#include "shims.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"

/* b64_decode()'s library calls, as in the Eva harness: EVP_DecodeBlock()
 * reads exactly n bytes and writes n / 4 * 3; EVP_EncodeBlock() reads
 * exactly n bytes and writes 4 * ceil(n / 3) characters and a NUL.
 * OPENSSL_malloc() is NULL or a block of the size asked, apart from the
 * caller's objects (WP has no \fresh: it is named wp_heap, which
 * b64_decode()'s contract separates from its arguments); OPENSSL_free()
 * is not modelled. */
/*@ requires n >= 0 && n % 4 == 0;
    requires \valid_read(f + (0 .. n - 1));
    requires \valid(t + (0 .. n / 4 * 3 - 1));
    assigns t[0 .. n / 4 * 3 - 1] \from f[0 .. n - 1];
    assigns \result \from f[0 .. n - 1], n;
    ensures \result == -1 || \result == n / 4 * 3; */
int EVP_DecodeBlock(unsigned char *t, const unsigned char *f, int n);
/*@ requires n >= 0;
    requires \valid_read(f + (0 .. n - 1));
    requires \valid(t + (0 .. (n + 2) / 3 * 4));
    assigns t[0 .. (n + 2) / 3 * 4] \from f[0 .. n - 1];
    assigns \result \from n;
    ensures \result == (n + 2) / 3 * 4; */
int EVP_EncodeBlock(unsigned char *t, const unsigned char *f, int n);
#define WP_HEAP (CHECKPOINT_MAX_LEN + 1)
extern unsigned char wp_heap[WP_HEAP];
/*@ assigns \result \from size;
    ensures \result == \null || (\result == (void *)wp_heap && size <= WP_HEAP); */
static void *wp_malloc(size_t size);
/*@ assigns \nothing; */
static void wp_free(void *p);
/* memcmp: reads n bytes of each side. Frama-C's contract also asks
 * that both be initialised and not dangling, which WP in Frama-C 25 does
 * not implement; b64_decode() compares the input with what
 * EVP_EncodeBlock() wrote, only when that is exactly n characters. */
/*@ requires \valid_read((const char *)a + (0 .. n - 1));
    requires \valid_read((const char *)b + (0 .. n - 1));
    assigns \result \from ((const char *)a)[0 .. n - 1], ((const char *)b)[0 .. n - 1]; */
static int wp_memcmp(const void *a, const void *b, size_t n);
#define memcmp wp_memcmp
#define OPENSSL_malloc(n) wp_malloc(n)
#define CRYPTO_free(p, f, l) wp_free(p)

/*@ requires n >= 1;
    requires \valid_read(p + (0 .. n - 1));
    requires \valid(cp);
    requires \separated(cp, p + (0 .. n - 1));
    assigns *cp;
    ensures 0 <= \result <= 4 && \result <= n; */
static size_t utf8_next(const uint8_t *p, size_t n, uint32_t *cp);

/*@ assigns \nothing; */
static bool b64_char(char c);

/*@ requires \valid_read(s + (0 .. n - 1));
    assigns \nothing; */
static bool text_ok(const char *s, size_t n);

/*@ assigns \nothing; */
static bool unicode_space(uint32_t cp);

/*@ requires \valid_read(s + (0 .. n - 1));
    assigns \nothing; */
static bool name_ok(const char *s, size_t n);

/*@ requires \valid_read(s + (0 .. n - 1));
    requires \valid(out);
    requires \separated(out, s + (0 .. n - 1));
    assigns *out; */
static int parse_size(const char *s, size_t n, uint64_t *out);

/* n is at most CHECKPOINT_MAX_LEN (its callers pass a line of the text). */
/*@ requires n <= CHECKPOINT_MAX_LEN;
    requires \valid_read(s + (0 .. n - 1));
    requires \valid(out + (0 .. n / 4 * 3 - 1));
    requires \valid(out_len);
    requires \separated(out + (0 .. n / 4 * 3 - 1), s + (0 .. n - 1), out_len, wp_heap + (0 .. WP_HEAP - 1));
    requires \separated(out_len, s + (0 .. n - 1), wp_heap + (0 .. WP_HEAP - 1));
    requires \separated(s + (0 .. n - 1), wp_heap + (0 .. WP_HEAP - 1));
    assigns out[0 .. n / 4 * 3 - 1], *out_len, wp_heap[0 .. WP_HEAP - 1];
    ensures \result == 0 ==> *out_len <= n / 4 * 3; */
static int b64_decode(const char *s, size_t n, uint8_t *out, size_t *out_len);

/*@ requires len >= 2;
    requires \valid_read(text + (0 .. len - 1));
    assigns \nothing;
    ensures \result < len; */
static size_t find_separator(const char *text, size_t len);

#include "checkpoint.c"
