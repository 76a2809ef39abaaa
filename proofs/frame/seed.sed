# Off by one in the ARP length check: a 27-byte ARP body passes, and
# reading the target protocol address reads one past the frame.
s/if (len < 28)$/if (len < 27)/
