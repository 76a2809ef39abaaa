/* store: ward-api's state, behind one interface (docs/api.md#state). The
 * model is etcd's: a flat, ordered key space of JSON documents changed only
 * inside transactions. store_sqlite.c implements it on SQLite (WAL); an
 * etcd implementation (issue 15) maps a transaction to one etcd Txn whose
 * compares are the revisions of the keys it read. */
#ifndef WARD_API_STORE_H
#define WARD_API_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct store_txn;

/* Keys: "iam/user/alice", "iam/accesskey/AKIA..." (docs/api.md lists
 * them); at most STORE_KEY_MAX bytes. Values: JSON text. */
#define STORE_KEY_MAX 512

typedef int (*store_list_cb)(const char *key, const char *value, void *arg);

struct store_ops {
	int (*txn_begin)(struct store *s, bool write, struct store_txn **out);
	/* Committed durably (fsync'd) when it returns 0. */
	int (*txn_commit)(struct store_txn *t);
	void (*txn_abort)(struct store_txn *t);
	/* *value malloc'd; -ENOENT when absent. */
	int (*get)(struct store_txn *t, const char *key, char **value);
	/* create: -EEXIST when present. put: create or replace. */
	int (*create)(struct store_txn *t, const char *key, const char *value);
	int (*put)(struct store_txn *t, const char *key, const char *value);
	/* -ENOENT when absent. */
	int (*del)(struct store_txn *t, const char *key);
	/* Keys starting with prefix in byte order; cb's non-zero stops and is
	 * returned. */
	int (*list)(struct store_txn *t, const char *prefix, store_list_cb cb, void *arg);
	/* Optional (etcd): the commit applies only while the raw etcd key
	 * still has this create_revision, else it fails with -ESTALE (a
	 * leader's fencing, leader.h). */
	int (*guard)(struct store_txn *t, const char *key, int64_t create_rev);
	void (*close)(struct store *s);
};

struct store {
	const struct store_ops *ops;
};

int store_sqlite_open(const char *path, struct store **out);
/* endpoints "http://127.0.0.1:2379,...": docs/ha.md. Its commit also
 * fails with -EAGAIN when something the transaction read has changed
 * (re-run the whole request) and -EIO when etcd is unreachable. */
struct etcd_tls;
int store_etcd_open(const char *endpoints, const struct etcd_tls *tls, struct store **out);

static inline int store_txn_begin(struct store *s, bool write, struct store_txn **out)
{ return s->ops->txn_begin(s, write, out); }
int store_txn_commit(struct store_txn *t);
void store_txn_abort(struct store_txn *t);
int store_get(struct store_txn *t, const char *key, char **value);
int store_create(struct store_txn *t, const char *key, const char *value);
int store_put(struct store_txn *t, const char *key, const char *value);
int store_del(struct store_txn *t, const char *key);
int store_list(struct store_txn *t, const char *prefix, store_list_cb cb, void *arg);
/* -EOPNOTSUPP on a store without guards (SQLite: one node, no election). */
int store_guard(struct store_txn *t, const char *key, int64_t create_rev);
static inline void store_close(struct store *s) { if (s) s->ops->close(s); }

/* Every transaction starts with a pointer to its store. */
struct store_txn {
	struct store *s;
};

#endif
