/* store: SQLite persistence for ward-kms. Hot lookups use cached prepared
 * statements; every write is a single durable statement or transaction. */
#include "store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"

enum {
	Q_KEY_GET, Q_KEY_INSERT, Q_VER_INSERT, Q_KEY_LIST, Q_KEY_STATE, Q_KEY_ROT,
	Q_KEY_VER, Q_KEY_DEL, Q_VER_DEL, Q_GRANT_DEL_KEY, Q_DUE_DEL, Q_DUE_ROT,
	Q_GRANT_INSERT, Q_GRANT_GET, Q_GRANT_TOKEN, Q_GRANT_DEL, Q_GRANT_KEY,
	Q_GRANT_KEY_GRANTEE, Q_PR_INSERT, Q_PR_AKID, Q_PR_NAME, Q_PR_SUBJ, Q_PR_ARN,
	Q_PR_POLICY, Q_PR_KIND, Q_KEY_POLICY, Q_FAS_INSERT, Q_FAS_CONSUME, Q_FAS_GC,
	Q_SEEN_INSERT, Q_SEEN_GC, Q_COUNT
};

static const char *const sql_text[Q_COUNT] = {
	[Q_KEY_GET] = "SELECT id, description, policy, created, state, version, rotation,"
		" rotation_days, last_rotated, deletion_date, pending_days FROM keys WHERE id=?",
	[Q_KEY_INSERT] = "INSERT INTO keys(id, description, policy, created, state, version,"
		" rotation, rotation_days, last_rotated, deletion_date, pending_days)"
		" VALUES(?,?,?,?,?,?,?,?,?,?,?)",
	[Q_VER_INSERT] = "INSERT INTO key_versions(key_id, version, created) VALUES(?,?,?)",
	[Q_KEY_LIST] = "SELECT id FROM keys WHERE id > ? ORDER BY id LIMIT ?",
	[Q_KEY_STATE] = "UPDATE keys SET state=?, deletion_date=?, pending_days=? WHERE id=?",
	[Q_KEY_ROT] = "UPDATE keys SET rotation=?, rotation_days=? WHERE id=?",
	[Q_KEY_VER] = "UPDATE keys SET version=?, last_rotated=? WHERE id=? AND version=?-1",
	[Q_KEY_DEL] = "DELETE FROM keys WHERE id=?",
	[Q_VER_DEL] = "DELETE FROM key_versions WHERE key_id=?",
	[Q_GRANT_DEL_KEY] = "DELETE FROM grants WHERE key_id=?",
	[Q_DUE_DEL] = "SELECT id FROM keys WHERE state=2 AND deletion_date <= ?",
	[Q_DUE_ROT] = "SELECT id FROM keys WHERE state=0 AND rotation=1 AND"
		" last_rotated + rotation_days*86400.0 <= ?",
	[Q_GRANT_INSERT] = "INSERT INTO grants(id, key_id, token, name, grantee, retiring,"
		" issuer, constraints, ops, created) VALUES(?,?,?,?,?,?,?,?,?,?)",
	[Q_GRANT_GET] = "SELECT id, key_id, token, name, grantee, retiring, issuer,"
		" constraints, ops, created FROM grants WHERE id=?",
	[Q_GRANT_TOKEN] = "SELECT id, key_id, token, name, grantee, retiring, issuer,"
		" constraints, ops, created FROM grants WHERE token=?",
	[Q_GRANT_DEL] = "DELETE FROM grants WHERE id=?",
	[Q_GRANT_KEY] = "SELECT id, key_id, token, name, grantee, retiring, issuer,"
		" constraints, ops, created FROM grants WHERE key_id=? ORDER BY created, id",
	[Q_GRANT_KEY_GRANTEE] = "SELECT id, key_id, token, name, grantee, retiring, issuer,"
		" constraints, ops, created FROM grants WHERE key_id=? AND grantee=?",
	[Q_PR_INSERT] = "INSERT INTO principals(name, arn, kind, akid, secret, policy,"
		" cert_subject, pubkey) VALUES(?,?,?,?,?,?,?,?)",
	[Q_PR_AKID] = "SELECT name, arn, kind, akid, secret, policy, cert_subject, pubkey"
		" FROM principals WHERE akid=?",
	[Q_PR_NAME] = "SELECT name, arn, kind, akid, secret, policy, cert_subject, pubkey"
		" FROM principals WHERE name=?",
	[Q_PR_SUBJ] = "SELECT name, arn, kind, akid, secret, policy, cert_subject, pubkey"
		" FROM principals WHERE cert_subject=? AND kind=1",
	[Q_PR_ARN] = "SELECT name, arn, kind, akid, secret, policy, cert_subject, pubkey"
		" FROM principals WHERE arn=?",
	[Q_PR_POLICY] = "UPDATE principals SET policy=? WHERE name=?",
	/* Listings never read the wrapped secret (column 4 stays NULL). */
	[Q_PR_KIND] = "SELECT name, arn, kind, akid, NULL, policy, cert_subject, pubkey"
		" FROM principals WHERE kind=? ORDER BY name",
	[Q_KEY_POLICY] = "UPDATE keys SET policy=? WHERE id=?",
	[Q_FAS_INSERT] = "INSERT INTO fas(hash, caller, key_id, expires, used) VALUES(?,?,?,?,0)",
	[Q_FAS_CONSUME] = "UPDATE fas SET used=1 WHERE hash=? AND key_id=? AND used=0"
		" AND expires > ? RETURNING caller",
	[Q_FAS_GC] = "DELETE FROM fas WHERE expires < ?",
	[Q_SEEN_INSERT] = "INSERT INTO attest_seen(id, expires) VALUES(?,?)",
	[Q_SEEN_GC] = "DELETE FROM attest_seen WHERE expires < ?",
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS keys("
	" id TEXT PRIMARY KEY, description TEXT NOT NULL, policy TEXT NOT NULL,"
	" created REAL NOT NULL, state INTEGER NOT NULL, version INTEGER NOT NULL,"
	" rotation INTEGER NOT NULL, rotation_days INTEGER NOT NULL,"
	" last_rotated REAL NOT NULL, deletion_date REAL NOT NULL,"
	" pending_days INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS key_versions("
	" key_id TEXT NOT NULL, version INTEGER NOT NULL, created REAL NOT NULL,"
	" PRIMARY KEY(key_id, version));"
	"CREATE TABLE IF NOT EXISTS grants("
	" id TEXT PRIMARY KEY, key_id TEXT NOT NULL, token TEXT NOT NULL UNIQUE,"
	" name TEXT, grantee TEXT NOT NULL, retiring TEXT, issuer TEXT NOT NULL,"
	" constraints TEXT, ops INTEGER NOT NULL, created REAL NOT NULL);"
	"CREATE INDEX IF NOT EXISTS grants_key ON grants(key_id, grantee);"
	"CREATE TABLE IF NOT EXISTS principals("
	" name TEXT PRIMARY KEY, arn TEXT NOT NULL UNIQUE, kind INTEGER NOT NULL,"
	" akid TEXT UNIQUE, secret BLOB, policy TEXT, cert_subject TEXT UNIQUE,"
	" pubkey BLOB);"
	"CREATE TABLE IF NOT EXISTS fas("
	" hash BLOB PRIMARY KEY, caller TEXT NOT NULL, key_id TEXT NOT NULL,"
	" expires REAL NOT NULL, used INTEGER NOT NULL);"
	/* Attestation documents that released key material (docs/enclaves.md):
	 * a row outlives the document's freshness window, then goes. */
	"CREATE TABLE IF NOT EXISTS attest_seen("
	" id BLOB PRIMARY KEY, expires REAL NOT NULL);";

/* One generation for the whole process: every worker thread has its own
 * connection and caches, and must see the others' writes. */
static _Atomic uint64_t store_gen;

struct store {
	sqlite3 *db;
	sqlite3_stmt *st[Q_COUNT];
};

static sqlite3_stmt *q(struct store *s, int i)
{
	if (!s->st[i] &&
	    sqlite3_prepare_v3(s->db, sql_text[i], -1, SQLITE_PREPARE_PERSISTENT,
			       &s->st[i], NULL) != SQLITE_OK) {
		log_error("sqlite prepare failed", "err=\"%s\"", sqlite3_errmsg(s->db));
		return NULL;
	}
	sqlite3_reset(s->st[i]);
	sqlite3_clear_bindings(s->st[i]);
	return s->st[i];
}

int store_open(const char *path, struct store **out)
{
	struct store *s = calloc(1, sizeof(*s));
	char *err = NULL;

	if (!s)
		return -ENOMEM;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		goto err;
	sqlite3_busy_timeout(s->db, 5000);
	/* WAL + FULL: each commit is fsync'd before the call returns. */
	if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA temp_store=MEMORY;"
			 "PRAGMA foreign_keys=ON;", NULL, NULL, &err) != SQLITE_OK ||
	    sqlite3_exec(s->db, schema, NULL, NULL, &err) != SQLITE_OK)
		goto err;
	*out = s;
	return 0;
err:
	log_error("cannot open KMS database", "path=%s err=\"%s\"", path,
		  err ? err : sqlite3_errmsg(s->db));
	sqlite3_free(err);
	sqlite3_close(s->db);
	free(s);
	return -EIO;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close(s->db);
	free(s);
}

static char *col_strdup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? strdup((const char *)t) : NULL;
}

static void col_copy(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	dst[0] = '\0';
	if (t) {
		strncpy(dst, (const char *)t, cap - 1);
		dst[cap - 1] = '\0';
	}
}

static int bind_text(sqlite3_stmt *st, int i, const char *v)
{
	return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(st, i);
}

/* Runs a write statement to completion; -ENOENT when it changed nothing
 * and must_change is set. */
uint64_t store_generation(const struct store *s)
{
	return store_gen;
}

static int run(struct store *s, sqlite3_stmt *st, int must_change)
{
	int rc;

	store_gen++;
	rc = sqlite3_step(st);
	/* Again after the write: a reader that fetched between the two
	 * increments never caches under the final generation. */
	store_gen++;

	if (rc == SQLITE_CONSTRAINT)
		return -EEXIST;
	if (rc != SQLITE_DONE) {
		log_error("sqlite write failed", "err=\"%s\"", sqlite3_errmsg(s->db));
		return -EIO;
	}
	if (must_change && sqlite3_changes(s->db) == 0)
		return -ENOENT;
	return 0;
}

static int begin(struct store *s) {
	return sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

static int commit(struct store *s, int rc)
{
	if (rc == 0 && sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK) {
		store_gen++;
		return 0;
	}
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	store_gen++;
	return rc ? rc : -EIO;
}

void store_key_clear(struct kms_key *k)
{
	free(k->description);
	free(k->policy);
	k->description = k->policy = NULL;
}

int store_key_insert(struct store *s, const struct kms_key *k)
{
	sqlite3_stmt *st;
	int rc = begin(s);

	if (rc)
		return rc;
	rc = -EIO;
	if (!(st = q(s, Q_KEY_INSERT)))
		goto out;
	bind_text(st, 1, k->id);
	bind_text(st, 2, k->description ? k->description : "");
	bind_text(st, 3, k->policy);
	sqlite3_bind_double(st, 4, k->created);
	sqlite3_bind_int(st, 5, k->state);
	sqlite3_bind_int64(st, 6, k->version);
	sqlite3_bind_int(st, 7, k->rotation);
	sqlite3_bind_int(st, 8, k->rotation_days);
	sqlite3_bind_double(st, 9, k->last_rotated);
	sqlite3_bind_double(st, 10, k->deletion_date);
	sqlite3_bind_int(st, 11, k->pending_days);
	rc = run(s, st, 0);
	if (rc || !(st = q(s, Q_VER_INSERT)))
		goto out;
	bind_text(st, 1, k->id);
	sqlite3_bind_int64(st, 2, k->version);
	sqlite3_bind_double(st, 3, k->created);
	rc = run(s, st, 0);
out:
	return commit(s, rc);
}

int store_key_get(struct store *s, const char *id, struct kms_key *k)
{
	sqlite3_stmt *st = q(s, Q_KEY_GET);
	int rc;

	if (!st)
		return -EIO;
	bind_text(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	if (rc != SQLITE_ROW)
		return -EIO;
	memset(k, 0, sizeof(*k));
	col_copy(st, 0, k->id, sizeof(k->id));
	k->description = col_strdup(st, 1);
	k->policy = col_strdup(st, 2);
	k->created = sqlite3_column_double(st, 3);
	k->state = (enum key_state)sqlite3_column_int(st, 4);
	k->version = (uint32_t)sqlite3_column_int64(st, 5);
	k->rotation = sqlite3_column_int(st, 6);
	k->rotation_days = sqlite3_column_int(st, 7);
	k->last_rotated = sqlite3_column_double(st, 8);
	k->deletion_date = sqlite3_column_double(st, 9);
	k->pending_days = sqlite3_column_int(st, 10);
	sqlite3_reset(st);
	if (!k->description || !k->policy) {
		store_key_clear(k);
		return -ENOMEM;
	}
	return 0;
}

int store_key_list(struct store *s, const char *after, unsigned limit,
		   void (*cb)(void *arg, const char *id), void *arg, int *more)
{
	sqlite3_stmt *st = q(s, Q_KEY_LIST);
	unsigned n = 0;
	int rc;

	if (!st)
		return -EIO;
	bind_text(st, 1, after ? after : "");
	sqlite3_bind_int64(st, 2, (sqlite3_int64)limit + 1);
	*more = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n++ == limit) {
			*more = 1;
			break;
		}
		cb(arg, (const char *)sqlite3_column_text(st, 0));
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -EIO;
}

int store_key_set_state(struct store *s, const char *id, enum key_state stt,
			double deletion_date, int pending_days)
{
	sqlite3_stmt *st = q(s, Q_KEY_STATE);

	if (!st)
		return -EIO;
	sqlite3_bind_int(st, 1, stt);
	sqlite3_bind_double(st, 2, deletion_date);
	sqlite3_bind_int(st, 3, pending_days);
	bind_text(st, 4, id);
	return run(s, st, 1);
}

int store_key_set_policy(struct store *s, const char *id, const char *policy)
{
	sqlite3_stmt *st = q(s, Q_KEY_POLICY);

	if (!st)
		return -EIO;
	bind_text(st, 1, policy);
	bind_text(st, 2, id);
	return run(s, st, 1);
}

int store_key_set_rotation(struct store *s, const char *id, int on, int days)
{
	sqlite3_stmt *st = q(s, Q_KEY_ROT);

	if (!st)
		return -EIO;
	sqlite3_bind_int(st, 1, on);
	sqlite3_bind_int(st, 2, days);
	bind_text(st, 3, id);
	return run(s, st, 1);
}

int store_key_add_version(struct store *s, const char *id, uint32_t version, double now)
{
	sqlite3_stmt *st;
	int rc = begin(s);

	if (rc)
		return rc;
	rc = -EIO;
	if (!(st = q(s, Q_VER_INSERT)))
		goto out;
	bind_text(st, 1, id);
	sqlite3_bind_int64(st, 2, version);
	sqlite3_bind_double(st, 3, now);
	rc = run(s, st, 0);
	if (rc || !(st = q(s, Q_KEY_VER)))
		goto out;
	sqlite3_bind_int64(st, 1, version);
	sqlite3_bind_double(st, 2, now);
	bind_text(st, 3, id);
	sqlite3_bind_int64(st, 4, version);
	rc = run(s, st, 1);
out:
	return commit(s, rc);
}

int store_key_delete(struct store *s, const char *id)
{
	static const int qs[] = { Q_GRANT_DEL_KEY, Q_VER_DEL, Q_KEY_DEL };
	int rc = begin(s);

	if (rc)
		return rc;
	for (size_t i = 0; i < 3 && rc == 0; i++) {
		sqlite3_stmt *st = q(s, qs[i]);

		if (!st) {
			rc = -EIO;
			break;
		}
		bind_text(st, 1, id);
		rc = run(s, st, 0);
	}
	return commit(s, rc);
}

int store_keys_due(struct store *s, double now, int deletion,
		   void (*cb)(void *arg, const char *id), void *arg)
{
	sqlite3_stmt *st = q(s, deletion ? Q_DUE_DEL : Q_DUE_ROT);
	char ids[64][37];
	int n = 0, rc;

	if (!st)
		return -EIO;
	sqlite3_bind_double(st, 1, now);
	/* Collect first: the callback writes to the same tables. */
	while (n < 64 && (rc = sqlite3_step(st)) == SQLITE_ROW)
		col_copy(st, 0, ids[n++], sizeof(ids[0]));
	sqlite3_reset(st);
	for (int i = 0; i < n; i++)
		cb(arg, ids[i]);
	return n;
}

void store_grant_clear(struct kms_grant *g)
{
	free(g->token);
	free(g->name);
	free(g->grantee);
	free(g->retiring);
	free(g->issuer);
	free(g->constraints);
	memset(g, 0, sizeof(*g));
}

int store_grant_insert(struct store *s, const struct kms_grant *g)
{
	sqlite3_stmt *st = q(s, Q_GRANT_INSERT);

	if (!st)
		return -EIO;
	bind_text(st, 1, g->id);
	bind_text(st, 2, g->key_id);
	bind_text(st, 3, g->token);
	bind_text(st, 4, g->name);
	bind_text(st, 5, g->grantee);
	bind_text(st, 6, g->retiring);
	bind_text(st, 7, g->issuer);
	bind_text(st, 8, g->constraints);
	sqlite3_bind_int64(st, 9, g->ops);
	sqlite3_bind_double(st, 10, g->created);
	return run(s, st, 0);
}

static void grant_row(sqlite3_stmt *st, struct kms_grant *g)
{
	memset(g, 0, sizeof(*g));
	col_copy(st, 0, g->id, sizeof(g->id));
	col_copy(st, 1, g->key_id, sizeof(g->key_id));
	g->token = col_strdup(st, 2);
	g->name = col_strdup(st, 3);
	g->grantee = col_strdup(st, 4);
	g->retiring = col_strdup(st, 5);
	g->issuer = col_strdup(st, 6);
	g->constraints = col_strdup(st, 7);
	g->ops = (unsigned)sqlite3_column_int64(st, 8);
	g->created = sqlite3_column_double(st, 9);
}

static int grant_one(struct store *s, int qi, const char *v, struct kms_grant *g)
{
	sqlite3_stmt *st = q(s, qi);
	int rc;

	if (!st)
		return -EIO;
	bind_text(st, 1, v);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		grant_row(st, g);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	if (rc != SQLITE_ROW)
		return -EIO;
	if (!g->token || !g->grantee || !g->issuer) {
		store_grant_clear(g);
		return -ENOMEM;
	}
	return 0;
}

int store_grant_get(struct store *s, const char *id, struct kms_grant *g)
{
	return grant_one(s, Q_GRANT_GET, id, g);
}

int store_grant_by_token(struct store *s, const char *token, struct kms_grant *g)
{
	return grant_one(s, Q_GRANT_TOKEN, token, g);
}

int store_grant_delete(struct store *s, const char *id)
{
	sqlite3_stmt *st = q(s, Q_GRANT_DEL);

	if (!st)
		return -EIO;
	bind_text(st, 1, id);
	return run(s, st, 1);
}

int store_grant_foreach(struct store *s, const char *key_id, const char *grantee,
			int (*cb)(void *arg, const struct kms_grant *g), void *arg)
{
	sqlite3_stmt *st = q(s, grantee ? Q_GRANT_KEY_GRANTEE : Q_GRANT_KEY);
	int rc;

	if (!st)
		return -EIO;
	bind_text(st, 1, key_id);
	if (grantee)
		bind_text(st, 2, grantee);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct kms_grant g;
		int stop;

		grant_row(st, &g);
		stop = g.token && g.grantee && g.issuer ? cb(arg, &g) : 0;
		store_grant_clear(&g);
		if (stop)
			break;
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -EIO;
}

void store_principal_clear(struct kms_principal *p)
{
	free(p->secret_wrapped);
	free(p->policy);
	free(p->cert_subject);
	memset(p, 0, sizeof(*p));
}

int store_principal_insert(struct store *s, const struct kms_principal *p)
{
	sqlite3_stmt *st = q(s, Q_PR_INSERT);

	if (!st)
		return -EIO;
	bind_text(st, 1, p->name);
	bind_text(st, 2, p->arn);
	sqlite3_bind_int(st, 3, p->kind);
	bind_text(st, 4, p->akid[0] ? p->akid : NULL);
	if (p->secret_wrapped)
		sqlite3_bind_blob(st, 5, p->secret_wrapped, (int)p->secret_wrapped_len,
				  SQLITE_STATIC);
	bind_text(st, 6, p->policy);
	bind_text(st, 7, p->cert_subject);
	if (p->pubkey_len)
		sqlite3_bind_blob(st, 8, p->pubkey, (int)p->pubkey_len, SQLITE_STATIC);
	return run(s, st, 0);
}

static void principal_row(sqlite3_stmt *st, struct kms_principal *p)
{
	const void *b;
	int n;

	memset(p, 0, sizeof(*p));
	col_copy(st, 0, p->name, sizeof(p->name));
	col_copy(st, 1, p->arn, sizeof(p->arn));
	p->kind = (enum principal_kind)sqlite3_column_int(st, 2);
	col_copy(st, 3, p->akid, sizeof(p->akid));
	b = sqlite3_column_blob(st, 4);
	n = sqlite3_column_bytes(st, 4);
	if (b && n > 0 && (p->secret_wrapped = malloc((size_t)n))) {
		memcpy(p->secret_wrapped, b, (size_t)n);
		p->secret_wrapped_len = (size_t)n;
	}
	p->policy = col_strdup(st, 5);
	p->cert_subject = col_strdup(st, 6);
	b = sqlite3_column_blob(st, 7);
	n = sqlite3_column_bytes(st, 7);
	if (b && n > 0 && (size_t)n <= sizeof(p->pubkey)) {
		memcpy(p->pubkey, b, (size_t)n);
		p->pubkey_len = (size_t)n;
	}
}

static int principal_one(struct store *s, int qi, const char *v, struct kms_principal *p)
{
	sqlite3_stmt *st = q(s, qi);
	int rc;

	if (!st)
		return -EIO;
	bind_text(st, 1, v);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		principal_row(st, p);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	return rc == SQLITE_ROW ? 0 : -EIO;
}

int store_principal_foreach(struct store *s, enum principal_kind kind,
			    int (*cb)(void *arg, const struct kms_principal *p), void *arg)
{
	sqlite3_stmt *st = q(s, Q_PR_KIND);
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_int(st, 1, (int)kind);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct kms_principal p;
		int stop;

		principal_row(st, &p);
		stop = cb(arg, &p);
		store_principal_clear(&p);
		if (stop)
			break;
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -EIO;
}

int store_principal_by_akid(struct store *s, const char *akid, struct kms_principal *p)
{
	return principal_one(s, Q_PR_AKID, akid, p);
}

int store_principal_by_name(struct store *s, const char *name, struct kms_principal *p)
{
	return principal_one(s, Q_PR_NAME, name, p);
}

int store_principal_by_subject(struct store *s, const char *subj, struct kms_principal *p)
{
	return principal_one(s, Q_PR_SUBJ, subj, p);
}

int store_principal_by_arn(struct store *s, const char *arn, struct kms_principal *p)
{
	return principal_one(s, Q_PR_ARN, arn, p);
}

int store_principal_set_policy(struct store *s, const char *name, const char *policy)
{
	sqlite3_stmt *st = q(s, Q_PR_POLICY);

	if (!st)
		return -EIO;
	bind_text(st, 1, policy);
	bind_text(st, 2, name);
	return run(s, st, 1);
}

int store_fas_insert(struct store *s, const uint8_t hash[32], const char *caller,
		     const char *key_id, double expires)
{
	sqlite3_stmt *st = q(s, Q_FAS_GC);

	/* Expired sessions are useless: drop them as new ones are minted. */
	if (st) {
		sqlite3_bind_double(st, 1, expires - 3600);
		run(s, st, 0);
	}
	st = q(s, Q_FAS_INSERT);
	if (!st)
		return -EIO;
	sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
	bind_text(st, 2, caller);
	bind_text(st, 3, key_id);
	sqlite3_bind_double(st, 4, expires);
	return run(s, st, 0);
}

int store_fas_consume(struct store *s, const uint8_t hash[32], const char *key_id,
		      double now, char caller[160])
{
	sqlite3_stmt *st = q(s, Q_FAS_CONSUME);
	int rc;

	if (!st)
		return -EIO;
	sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
	bind_text(st, 2, key_id);
	sqlite3_bind_double(st, 3, now);
	store_gen++;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		col_copy(st, 0, caller, 160);
		while (sqlite3_step(st) == SQLITE_ROW)
			;
	}
	sqlite3_reset(st);
	store_gen++;
	if (rc == SQLITE_ROW)
		return 0;
	return rc == SQLITE_DONE ? -ENOENT : -EIO;
}

int store_attest_consume(struct store *s, const uint8_t id[32], double expires, double now)
{
	sqlite3_stmt *st;
	int rc;

	/* One transaction, one fsync: the clean-up rides on the insert. */
	if (begin(s))
		return -EIO;
	/* A row whose document is past the freshness window protects nothing:
	 * the window refuses that document anyway. */
	st = q(s, Q_SEEN_GC);
	if (st) {
		sqlite3_bind_double(st, 1, now);
		run(s, st, 0);
	}
	st = q(s, Q_SEEN_INSERT);
	if (!st)
		return commit(s, -EIO);
	sqlite3_bind_blob(st, 1, id, 32, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, expires);
	rc = run(s, st, 0);
	return commit(s, rc);
}
