# Off by one in the cursor's bound: a read may end one byte past the log.
s/	if (n > c->end || c->off > c->end - n)	\/\* left(c) < n \*\//	if (n > c->end || c->off > c->end - n + 1)/
