# Off by one in utf8_next()'s length check: a sequence one byte longer
# than what is left of the input passes, and its last continuation byte
# is read one past the input.
s/^\tif (n < len)$/\tif (n + 1 < len)/
