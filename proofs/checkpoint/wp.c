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

/* Declared for b64_decode() (not part of the WP run). */
int EVP_DecodeBlock(unsigned char *t, const unsigned char *f, int n);
int EVP_EncodeBlock(unsigned char *t, const unsigned char *f, int n);
#define OPENSSL_malloc(n) malloc(n)

#include "checkpoint.h"

/*@ requires n >= 1;
    requires \valid_read(p + (0 .. n - 1));
    requires \valid(cp);
    requires \separated(cp, p + (0 .. n - 1));
    assigns *cp;
    ensures 0 <= \result <= 4 && \result <= n; */
static size_t utf8_next(const uint8_t *p, size_t n, uint32_t *cp);

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

/*@ requires len >= 2;
    requires \valid_read(text + (0 .. len - 1));
    assigns \nothing;
    ensures \result < len; */
static size_t find_separator(const char *text, size_t len);

#include "checkpoint.c"
