# Off by one in blob_is_key_id()'s loop: it reads s[36], one past a
# 36-byte key id.
s/for (size_t i = 0; i < len; i++) {/for (size_t i = 0; i <= len; i++) {/
