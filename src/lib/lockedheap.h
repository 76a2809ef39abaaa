/* lockedheap: every allocation OpenSSL makes, in memory that is locked
 * (never swapped), excluded from core dumps and wiped in a forked child, and
 * wiped again when freed. A process whose OpenSSL holds keys (ward-blk's
 * AES-XTS key schedules live inside OpenSSL's cipher contexts, out of
 * secmem's reach) routes OpenSSL here before its first OpenSSL call. */
#ifndef WARD_LOCKEDHEAP_H
#define WARD_LOCKEDHEAP_H

#include <stddef.h>

/* Map and lock an arena of `arena_bytes` and make it OpenSSL's allocator
 * (CRYPTO_set_mem_functions). Blocks up to 64 KiB come from the arena;
 * larger ones, and any once the arena is full, are their own locked
 * mappings. Returns 0, or negative errno with a reason in err: -EPERM /
 * -ENOMEM when the arena cannot be locked (RLIMIT_MEMLOCK), -EALREADY when
 * OpenSSL has allocated already. */
int lockedheap_route_openssl(size_t arena_bytes, char *err, size_t errlen);

/* Bytes handed out and not freed (arena blocks at their class size, plus
 * separate mappings): for the startup log and tests. */
size_t lockedheap_in_use(void);

#endif
