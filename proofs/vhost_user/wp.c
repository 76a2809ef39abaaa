/* WP contract for the SET_MEM_TABLE check (src/lib/vhost_user.c): it
 * accepts a table only if the region count, payload size and fd count
 * agree and every region is non-empty with no range that wraps. The
 * contract sits on a declaration here, so the product file carries only
 * the loop invariants. */
#include "shims.h"
#include "vhost_user.h"

/*@ requires \valid_read(m);
    requires errlen == 0 || \valid(err + (0 .. errlen - 1));
    assigns err[0 .. errlen - 1];
    ensures accepted: \result == 0 ==>
        1 <= m->p.mem.nregions <= VU_MAX_MEM_REGIONS &&
        m->hdr.size == 8 + 32 * m->p.mem.nregions &&
        m->nfds == m->p.mem.nregions &&
        \forall integer k; 0 <= k < m->p.mem.nregions ==>
            m->p.mem.regions[k].memory_size != 0 &&
            m->p.mem.regions[k].guest_phys_addr + m->p.mem.regions[k].memory_size <= UINT64_MAX &&
            m->p.mem.regions[k].userspace_addr + m->p.mem.regions[k].memory_size <= UINT64_MAX &&
            m->p.mem.regions[k].mmap_offset + m->p.mem.regions[k].memory_size <= UINT64_MAX;
 */
static int validate_mem_table(const struct vu_msg *m, char *err, size_t errlen);

#include "vhost_user.c"
