/* WP contracts for the virtqueue bound checks (src/lib/virtq.c): what
 * lookup() returns is either NULL or a pointer to len bytes inside one
 * mapped region, for guest-physical and frontend addresses alike. The
 * contract sits on a declaration here, so the product file carries none. */
#include "shims.h"
#include <stdbool.h>
#include <stdint.h>
#include "virtq.h"

/*@ requires m_valid: \valid_read(m);
    requires nregions: m->nregions <= VQ_MAX_REGIONS;
    assigns \nothing;
    ensures null_or_inside: \result == \null || \exists integer k; 0 <= k < m->nregions &&
        (uva ? m->r[k].uva : m->r[k].gpa) <= a &&
        a + len <= (uva ? m->r[k].uva : m->r[k].gpa) + m->r[k].size &&
        (uint8_t *)\result == m->r[k].host + (a - (uva ? m->r[k].uva : m->r[k].gpa));
 */
static void *lookup(const struct vq_mem *m, uint64_t a, uint64_t len, bool uva);

#include "virtq.c"
