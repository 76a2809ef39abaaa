# Off by one in the request-name table bound: request 26 reads vu_names[26],
# one past the end of the table.
s/if (request < VU_REQUEST_MAX \&\& vu_names\[request\])/if (request <= VU_REQUEST_MAX \&\& vu_names[request])/
