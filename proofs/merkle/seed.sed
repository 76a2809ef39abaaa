# Off by one in the inclusion proof walk: one hash past the proof's end is
# read (proof[len], past the exact-length buffer).
s/	for (size_t i = 0; i < len; i++) {/	for (size_t i = 0; i <= len; i++) {/
