/* auth: who is calling ward-kms. Users sign requests with SigV4 (region,
 * service "kms", 5-minute clock skew, constant-time signature compare);
 * hosts present an mTLS client certificate registered for them. */
#ifndef WARD_KMS_AUTH_H
#define WARD_KMS_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "kms.h"

#define AUTH_MAX_SKEW 300

struct auth_http {
	const char *method, *path, *query;
	/* Value of a header (case-insensitive name) and how often it occurs. */
	const char *(*header)(void *ctx, const char *name, int *count);
	void *ctx;
	const uint8_t *body;
	size_t body_len;
	const char *tls_subject;	/* verified client certificate subject */
};

/* 0 and *out filled, or -1 and err holds the AWS error reply. */
int auth_caller(struct kms *k, const struct auth_http *h, double now,
		struct kms_caller *out, struct kms_reply *err);

#endif
