/* auth: who is calling ward-api — SigV4 (header form) over the Query
 * request, with long-term access keys (iam.c) or STS session credentials
 * carried in X-Amz-Security-Token (sts.c). */
#ifndef WARD_API_AUTH_H
#define WARD_API_AUTH_H

#include "api.h"

struct api_http {
	const char *method, *path, *query;
	/* Returns the header's value (first of count occurrences), or NULL. */
	const char *(*header)(void *ctx, const char *name, int *count);
	void *ctx;
	const uint8_t *body;
	size_t body_len;
	const char *source_ip;
};

/* 0 and *out filled, or -1 with an error reply in err. */
int auth_caller(struct api *a, const struct api_http *h, double now, struct api_caller *out,
		struct api_reply *err);

#endif
