/* sigv4: AWS Signature Version 4 (header form) — canonical request, string
 * to sign, signing-key derivation and signature — shared by ward-kms (verifier)
 * and the KMS clients (controller, tests, bench) that sign requests. */
#ifndef WARD_SIGV4_H
#define WARD_SIGV4_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_MAX_SIGNED_HEADERS 32

struct sigv4_header {
	const char *name;	/* any case; lowercased in the canonical form */
	const char *value;	/* trimmed, inner runs of spaces collapsed */
};

struct sigv4_request {
	const char *method;
	const char *path;	/* already-normalised absolute path ("/" for KMS) */
	const char *query;	/* raw query string without '?', or NULL */
	const struct sigv4_header *headers;	/* exactly the signed headers */
	size_t n_headers;
	const char *payload_hash;	/* 64 lowercase hex chars */
};

/* A parsed `Authorization: AWS4-HMAC-SHA256 Credential=..., ...` header. */
struct sigv4_auth {
	char access_key_id[129];
	char date[9];		/* YYYYMMDD from the credential scope */
	char region[64];
	char service[64];
	char signed_headers[1024];	/* "a;b;c", as sent */
	char *header_names[SIGV4_MAX_SIGNED_HEADERS];	/* into signed_headers */
	size_t n_headers;
	char signature[65];	/* lowercase hex */
};

void sigv4_sha256_hex(const void *data, size_t len, char hex[65]);

/* Canonical request (malloc'd, NUL-terminated). -EINVAL on bad input. */
int sigv4_canonical_request(const struct sigv4_request *req, char **out);

/* String to sign for amz_date "YYYYMMDDTHHMMSSZ" and the scope's parts. */
int sigv4_string_to_sign(const char *amz_date, const char *region,
			 const char *service, const char *canonical_request,
			 char **out);

/* kSigning = HMAC chain over "AWS4"+secret, date, region, service, aws4_request. */
int sigv4_signing_key(const char *secret, const char *date8, const char *region,
		      const char *service, uint8_t key[32]);

/* hex(HMAC-SHA256(kSigning, string_to_sign)) */
void sigv4_signature(const uint8_t key[32], const char *string_to_sign,
		     char hex[65]);

/* Parses an Authorization header; strict: every part present once, sizes
 * bounded, signed header names lowercase and sorted. 0 or -EINVAL. */
int sigv4_parse_authorization(const char *value, struct sigv4_auth *out);

/* Parses "YYYYMMDDTHHMMSSZ" (UTC). 0 or -EINVAL. */
int sigv4_parse_amz_date(const char *s, time_t *out);

/* Formats t as "YYYYMMDDTHHMMSSZ". */
void sigv4_format_amz_date(time_t t, char out[17]);

/* Client side: builds the Authorization header value for req (whose headers
 * must include host and x-amz-date). Returns 0 or negative errno; *out malloc'd. */
int sigv4_authorization(const struct sigv4_request *req, const char *amz_date,
			const char *access_key_id, const char *secret,
			const char *region, const char *service, char **out);

#endif
