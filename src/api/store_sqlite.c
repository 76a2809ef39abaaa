/* store_sqlite: the default ward-api store — one SQLite database in WAL
 * mode with synchronous=FULL, one table of (key, value). A write
 * transaction is BEGIN IMMEDIATE ... COMMIT, so a kill -9 at any point
 * leaves either all of it or none of it. */
#include "store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"

struct sq_store {
	struct store base;
	sqlite3 *db;
	sqlite3_stmt *get, *ins, *upsert, *del;
	bool in_txn;
};

struct sq_txn {
	struct store_txn base;
	bool write;
};

static int sq_exec(struct sq_store *s, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_error("store statement failed", "sql=\"%s\" error=\"%s\"", sql,
			  err ? err : "?");
		sqlite3_free(err);
		return -EIO;
	}
	return 0;
}

static int sq_begin(struct store *st, bool write, struct store_txn **out)
{
	struct sq_store *s = (struct sq_store *)st;
	struct sq_txn *t;

	if (s->in_txn)
		return -EBUSY;	/* one connection, one transaction at a time */
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	if (sq_exec(s, write ? "BEGIN IMMEDIATE" : "BEGIN")) {
		free(t);
		return -EIO;
	}
	s->in_txn = true;
	t->base.s = st;
	t->write = write;
	*out = &t->base;
	return 0;
}

static int sq_commit(struct store_txn *tx)
{
	struct sq_store *s = (struct sq_store *)tx->s;
	int rc = sq_exec(s, "COMMIT");

	if (rc)
		sq_exec(s, "ROLLBACK");
	s->in_txn = false;
	free(tx);
	return rc;
}

static void sq_abort(struct store_txn *tx)
{
	struct sq_store *s = (struct sq_store *)tx->s;

	sq_exec(s, "ROLLBACK");
	s->in_txn = false;
	free(tx);
}

static int sq_get(struct store_txn *tx, const char *key, char **value)
{
	struct sq_store *s = (struct sq_store *)tx->s;
	int rc;

	sqlite3_reset(s->get);
	sqlite3_bind_text(s->get, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s->get);
	if (rc == SQLITE_DONE)
		rc = -ENOENT;
	else if (rc != SQLITE_ROW)
		rc = -EIO;
	else
		rc = (*value = strdup((const char *)sqlite3_column_text(s->get, 0))) ? 0 : -ENOMEM;
	sqlite3_reset(s->get);
	return rc;
}

static int sq_write(sqlite3_stmt *st, struct store_txn *tx, const char *key, const char *value)
{
	struct sq_txn *t = (struct sq_txn *)tx;
	int rc;

	if (!t->write || strlen(key) > STORE_KEY_MAX)
		return -EINVAL;
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (value)
		sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_CONSTRAINT)
		return -EEXIST;
	if (rc != SQLITE_DONE)
		return -EIO;
	return 0;
}

static int sq_create(struct store_txn *tx, const char *key, const char *value)
{
	return sq_write(((struct sq_store *)tx->s)->ins, tx, key, value);
}

static int sq_put(struct store_txn *tx, const char *key, const char *value)
{
	return sq_write(((struct sq_store *)tx->s)->upsert, tx, key, value);
}

static int sq_del(struct store_txn *tx, const char *key)
{
	struct sq_store *s = (struct sq_store *)tx->s;
	int rc = sq_write(s->del, tx, key, NULL);

	if (rc == 0 && sqlite3_changes(s->db) == 0)
		return -ENOENT;
	return rc;
}

/* Each listing gets a statement of its own: a callback may list again
 * (groups, then each group's policies), and a shared statement would be
 * reset under the outer loop, which then stopped early without an error. */
static int sq_list(struct store_txn *tx, const char *prefix, store_list_cb cb, void *arg)
{
	struct sq_store *s = (struct sq_store *)tx->s;
	size_t plen = strlen(prefix);
	sqlite3_stmt *st;
	int rc, out = 0;

	if (sqlite3_prepare_v2(s->db, "SELECT key, value FROM kv WHERE key >= ? ORDER BY key", -1,
			       &st, NULL) != SQLITE_OK)
		return -EIO;
	/* Range scan [prefix, prefix+0xff): byte order, as etcd's prefix range. */
	sqlite3_bind_text(st, 1, prefix, (int)plen, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);

		if (strncmp(k, prefix, plen) != 0)
			break;
		out = cb(k, (const char *)sqlite3_column_text(st, 1), arg);
		if (out)
			break;
	}
	if (!out && rc != SQLITE_ROW && rc != SQLITE_DONE)
		out = -EIO;
	sqlite3_finalize(st);
	return out;
}

static void sq_close(struct store *st)
{
	struct sq_store *s = (struct sq_store *)st;

	sqlite3_finalize(s->get);
	sqlite3_finalize(s->ins);
	sqlite3_finalize(s->upsert);
	sqlite3_finalize(s->del);
	sqlite3_close(s->db);
	free(s);
}

static const struct store_ops sq_ops = {
	.txn_begin = sq_begin, .txn_commit = sq_commit, .txn_abort = sq_abort,
	.get = sq_get, .create = sq_create, .put = sq_put, .del = sq_del, .list = sq_list,
	.close = sq_close,
};

int store_sqlite_open(const char *path, struct store **out)
{
	struct sq_store *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->base.ops = &sq_ops;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		log_error("cannot open the store", "path=%s error=\"%s\"", path,
			  s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto err;
	}
	sqlite3_busy_timeout(s->db, 5000);
	if (sq_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
		    "CREATE TABLE IF NOT EXISTS kv(key TEXT PRIMARY KEY, value TEXT NOT NULL)"
		    " WITHOUT ROWID;"))
		goto err;
	if (sqlite3_prepare_v2(s->db, "SELECT value FROM kv WHERE key=?", -1, &s->get, NULL) ||
	    sqlite3_prepare_v2(s->db, "INSERT INTO kv(key, value) VALUES(?,?)", -1, &s->ins, NULL) ||
	    sqlite3_prepare_v2(s->db, "INSERT INTO kv(key, value) VALUES(?,?) ON CONFLICT(key)"
			       " DO UPDATE SET value=excluded.value", -1, &s->upsert, NULL) ||
	    sqlite3_prepare_v2(s->db, "DELETE FROM kv WHERE key=?", -1, &s->del, NULL)) {
		log_error("cannot prepare the store's statements", "error=\"%s\"",
			  sqlite3_errmsg(s->db));
		goto err;
	}
	*out = &s->base;
	return 0;
err:
	sq_close(&s->base);
	return -EIO;
}
