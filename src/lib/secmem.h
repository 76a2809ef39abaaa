/* secmem: allocations for secrets (volume keys, unsealed key material).
 * Pages are locked (never swapped), excluded from core dumps, wiped in a
 * forked child, and wiped before they are returned to the kernel. Where the
 * kernel offers memfd_secret they are also removed from the kernel's direct
 * map. Used by ward-blk for volume keys and by the controller / KMS. */
#ifndef WARD_SECMEM_H
#define WARD_SECMEM_H

#include <stdbool.h>
#include <stddef.h>

/* Zeroed, page-rounded secure allocation of `len` bytes. NULL on failure
 * (errno set: ENOMEM, or EPERM/ENOMEM from mlock when RLIMIT_MEMLOCK is hit:
 * secrets are never placed in memory that could not be locked). */
void *secmem_alloc(size_t len);

/* Wipe (OPENSSL_cleanse) and unmap. NULL is ignored. `len` must be the
 * length given to secmem_alloc. */
void secmem_free(void *p, size_t len);

/* True when the last successful allocation used memfd_secret (for tests and
 * the startup log line). */
bool secmem_last_was_secret(void);

/* Make the whole process non-dumpable (no core dumps, no ptrace attach by
 * same-uid processes, /proc/PID/mem closed). Returns 0 or negative errno. */
int secmem_process_harden(void);

#endif
