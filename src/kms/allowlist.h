/* kms/allowlist: ward-kms's lockdown (the generic parts are
 * src/lib/sandbox.h). Order in server_run: TLS context, SQLite connections,
 * HSM sessions, the listening socket and the port file, then
 * kms_sandbox_lock() while single-threaded; the worker threads start
 * afterwards and inherit both the Landlock domain and the filter. */
#ifndef WARD_KMS_ALLOWLIST_H
#define WARD_KMS_ALLOWLIST_H

#include <stddef.h>

#include "sandbox.h"

struct kms_sandbox {
	const char *db_path;	/* SQLite database: its directory (journals) */
	const char *token_dir;	/* PKCS#11 token directory (SoftHSM2), or NULL */
	const char *trail_dir;	/* activity trail (trail.h), or NULL */
};

/* Landlock (the database's directory and the token directory read-write,
 * /dev/urandom read-only, no TCP bind or connect, no signals or abstract
 * sockets outside) and the seccomp allowlist. 0 or negative errno. */
int kms_sandbox_lock(const struct kms_sandbox *s, char *err, size_t errlen);

/* SoftHSM2's token directory from $SOFTHSM2_CONF (or its default
 * /etc/softhsm/softhsm2.conf): "directories.tokendir = DIR". */
int kms_sandbox_token_dir(char *out, size_t len);

/* Test builds: WARD_KMS_TEST_FORBIDDEN=main|worker[/CALL] (sandbox.h). */
#define kms_sandbox_test_forbidden(kind) sandbox_test_forbidden("WARD_KMS_TEST_FORBIDDEN", kind)

#endif
