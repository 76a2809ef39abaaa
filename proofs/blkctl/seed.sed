# Off by one in the ATTACH export-name bound: a 1025-byte name passes, and
# the copy writes export_name[1025], one past the end of the field.
s/if (elen > BLKCTL_EXPORT_MAX || len != (size_t)ATTACH_FIXED + elen)/if (elen > BLKCTL_EXPORT_MAX + 1 || len != (size_t)ATTACH_FIXED + elen)/
