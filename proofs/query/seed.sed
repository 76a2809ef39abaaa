# Off by one in the %-escape's bound: an escape with one byte left after
# the '%' passes, and its second hex digit is read one past the input.
s/if (n - i < 3 || (hi = hexval/if (n - i < 2 || (hi = hexval/
