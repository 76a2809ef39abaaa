/* Frama-C EVA harness for the leaf parsers of checkpoint text
 * (src/lib/checkpoint.c, behind checkpoint_parse(), which reads notes
 * from untrusted storage for `ward audit verify`): text_ok() and
 * name_ok() (through them utf8_next()), parse_size(), b64_decode() and
 * find_separator(), each on unknown bytes in a block of exactly the
 * input's length (a read one past the input is an alarm), every length
 * up to the bound below (one analysis each; the ACSL `split i` in the
 * two UTF-8 walks keeps each code point's offset exact into
 * utf8_next(), where Eva would otherwise join the offsets and the
 * remaining lengths of different paths). b64_decode()'s output
 * block is n / 4 * 3 bytes, what its callers give it. checkpoint_parse()'s
 * line walk (the copies of sep and len bytes into one allocation) is not
 * part of this harness (docs/proofs.md). */
#include "shims.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* EVP_DecodeBlock(): reads f[0 .. n-1] and writes 3 bytes per 4 (OpenSSL
 * decodes whole groups; b64_decode() hands it a multiple of 4). Returns
 * n / 4 * 3 or -1. EVP_EncodeBlock(): reads f[0 .. n-1], writes
 * 4 * ceil(n / 3) characters and a NUL, returns their count. */
/*@ requires n >= 0 && n % 4 == 0;
    requires \valid_read(f + (0 .. n - 1));
    requires \valid(t + (0 .. n / 4 * 3 - 1));
    assigns t[0 .. n / 4 * 3 - 1] \from f[0 .. n - 1];
    assigns \result \from f[0 .. n - 1], n;
    ensures \result == -1 || \result == n / 4 * 3;
    ensures \initialized(t + (0 .. n / 4 * 3 - 1)); */
int EVP_DecodeBlock(unsigned char *t, const unsigned char *f, int n);
/*@ requires n >= 0;
    requires \valid_read(f + (0 .. n - 1));
    requires \valid(t + (0 .. (n + 2) / 3 * 4));
    assigns t[0 .. (n + 2) / 3 * 4] \from f[0 .. n - 1];
    assigns \result \from n;
    ensures \result == (n + 2) / 3 * 4;
    ensures \initialized(t + (0 .. (n + 2) / 3 * 4)); */
int EVP_EncodeBlock(unsigned char *t, const unsigned char *f, int n);
#define OPENSSL_malloc(n) malloc(n)

#include "checkpoint.c"

/* OPENSSL_free(): free(). */
void CRYPTO_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

#define TEXT_MAX 16
#define SIZE_MAX_LEN 22
#define B64_MAX 48

int main(void)
{
	uint64_t size;
	size_t n, out_len;
	uint8_t *out;
	char *s;

	n = Frama_C_size_t_interval(0, TEXT_MAX);
	//@ split n;
	s = malloc(n ? n : 1);
	if (s) {
		Frama_C_make_unknown(s, n);
		(void)text_ok(s, n);
		(void)name_ok(s, n);
		if (n >= 2)
			(void)find_separator(s, n);
		free(s);
	}
	//@ merge n;

	n = Frama_C_size_t_interval(0, SIZE_MAX_LEN);
	//@ split n;
	s = malloc(n ? n : 1);
	if (s) {
		Frama_C_make_unknown(s, n);
		(void)parse_size(s, n, &size);
		free(s);
	}
	//@ merge n;

	n = Frama_C_size_t_interval(0, B64_MAX);
	//@ split n;
	s = malloc(n ? n : 1);
	out = malloc(n / 4 * 3 ? n / 4 * 3 : 1);
	if (s && out) {
		Frama_C_make_unknown(s, n);
		(void)b64_decode(s, n, out, &out_len);
	}
	free(s);
	free(out);
	//@ merge n;
	return 0;
}
