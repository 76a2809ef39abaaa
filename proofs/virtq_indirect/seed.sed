# Off by one in the indirect next-index check: next == n passes, and the
# walk reads tbl[n], one entry past the end of the table.
s/if (e.next >= n)/if (e.next > n)/
