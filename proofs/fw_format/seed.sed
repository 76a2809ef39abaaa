# Off by one in the slot-pointer length check: a 23-byte pointer passes,
# and the reserved-bytes check reads buf[23], one past the input.
s/if (len != FW_POINTER_LEN || memcmp(buf, pointer_magic, 4)/if (len != FW_POINTER_LEN - 1 || memcmp(buf, pointer_magic, 4)/
