/* store: the interface's entry points (store.h), shared by every
 * implementation: one place to add tracing or, with etcd, fencing. */
#include "store.h"

#include <errno.h>

int store_txn_commit(struct store_txn *t) { return t->s->ops->txn_commit(t); }
void store_txn_abort(struct store_txn *t) { if (t) t->s->ops->txn_abort(t); }
int store_get(struct store_txn *t, const char *k, char **v) { return t->s->ops->get(t, k, v); }
int store_create(struct store_txn *t, const char *k, const char *v) { return t->s->ops->create(t, k, v); }
int store_put(struct store_txn *t, const char *k, const char *v) { return t->s->ops->put(t, k, v); }
int store_del(struct store_txn *t, const char *k) { return t->s->ops->del(t, k); }
int store_list(struct store_txn *t, const char *p, store_list_cb cb, void *arg)
{ return t->s->ops->list(t, p, cb, arg); }
int store_guard(struct store_txn *t, const char *key, int64_t create_rev)
{ return t->s->ops->guard ? t->s->ops->guard(t, key, create_rev) : -EOPNOTSUPP; }
