# Off by one in the signed-header count bound: a 33rd name is accepted and
# written to header_names[32], one past the array.
s/if (a->n_headers >= SIGV4_MAX_SIGNED_HEADERS)/if (a->n_headers > SIGV4_MAX_SIGNED_HEADERS)/
