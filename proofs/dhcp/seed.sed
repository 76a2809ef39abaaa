# Off by one in the option bound: an option one byte longer than what is
# left of the message passes, and its value is read one past the message.
s/if (end > len)$/if (end > len + 1)/
