# Off by one in the head-index check: head == num passes, and the walk reads
# desc[num], one descriptor past the end of the table.
s/if (head >= vq->num)/if (head > vq->num)/
