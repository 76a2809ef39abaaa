# Off by one in the decoder's output bound: a group that needs one byte
# more than is left passes, and its last byte is written one past the cap.
s/if (o + 3 - (size_t)pad > cap)/if (o + 3 - (size_t)pad > cap + 1)/
