# Off by one in the section bound: a section one byte longer than what is
# left of the file passes, and the cmdline's NUL scan reads one past it.
s/if (cur + EIF_SECT_HDR_LEN > len || size > len - cur - EIF_SECT_HDR_LEN)/if (cur + EIF_SECT_HDR_LEN > len || size > len - cur - EIF_SECT_HDR_LEN + 1)/
