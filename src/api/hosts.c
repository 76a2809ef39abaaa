/* hosts: the host registry and its attestation rounds (docs/attestation.md).
 * The protocol runs over each controller's mTLS API with libcurl; the
 * cryptography is src/lib/quote.c's; state goes through store.h only, so
 * the same code runs on SQLite and, as a leader task, on etcd. */
#include "hosts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "ctlclient.h"
#include "ec2.h"
#include "fileio.h"
#include "hostmsg.h"
#include "leader.h"
#include "log.h"
#include "quote.h"
#include "ticker.h"

#define HOST_PREFIX "ec2/host/"
#define ROUND_HOSTS_MAX 1024

static struct {
	struct hosts_cfg cfg;
	struct quote_golden *golden;
} H;

int hosts_configure(const struct hosts_cfg *cfg, char *err, size_t errlen)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	H.cfg = *cfg;
	if (H.cfg.timeout_s <= 0)
		H.cfg.timeout_s = 10;
	rc = fileio_read(cfg->golden_path, 1u << 20, 0, &buf, &len);
	if (rc) {
		snprintf(err, errlen, "cannot read the golden set %s: %s", cfg->golden_path,
			 strerror(-rc));
		return rc;
	}
	rc = quote_golden_parse((const char *)buf, len, &H.golden, err, errlen);
	free(buf);
	return rc;
}

bool hosts_configured(void)
{
	return H.golden != NULL;
}

static bool id_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 3 || n > HOST_ID_MAX || strncmp(s, "h-", 2))
		return false;
	for (size_t i = 2; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

int hosts_register(struct store *s, const char *id, const char *endpoint, const char *ca_pem,
		   const uint8_t *ek, size_t ek_len, const char *release, char *err,
		   size_t errlen)
{
	struct quote_key k;
	struct store_txn *t;
	char key[STORE_KEY_MAX], *b64 = NULL, *doc = NULL;
	json_t *o;
	int rc;

	if (!id_ok(id)) {
		snprintf(err, errlen, "a host id is h- and 1-62 of [a-z0-9-]");
		return -EINVAL;
	}
	if (strncmp(endpoint, "https://", 8) || strlen(endpoint) > 256) {
		snprintf(err, errlen, "the endpoint is the controller's https:// URL");
		return -EINVAL;
	}
	if (!strstr(ca_pem, "-----BEGIN CERTIFICATE-----")) {
		snprintf(err, errlen, "the CA is a PEM certificate");
		return -EINVAL;
	}
	if (quote_ek_parse(ek, ek_len, &k, err, errlen))
		return -EINVAL;
	if (quote_golden_has(H.golden, release)) {
		snprintf(err, errlen, "the golden set has no release \"%.64s\"", release);
		return -ENOENT;
	}
	b64 = hostmsg_b64_encode(ek, ek_len);
	o = b64 ? json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:{s:s, s:s}}",
			    "HostId", id, "State", "registered", "Reason", "not yet attested",
			    "Endpoint", endpoint, "CaPem", ca_pem, "EkPublic", b64, "Release",
			    release, "CheckedAt", 0, "Tags", "ward:reason", "not yet attested",
			    "ward:firmware-release", release) : NULL;
	doc = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	free(b64);
	if (!doc)
		return -ENOMEM;
	snprintf(key, sizeof(key), HOST_PREFIX "%s", id);
	rc = store_txn_begin(s, true, &t);
	if (!rc) {
		rc = store_put(t, key, doc);
		if (rc)
			store_txn_abort(t);
		else
			rc = store_txn_commit(t);
	}
	free(doc);
	if (rc)
		snprintf(err, errlen, "cannot store the host: %s", strerror(-rc));
	return rc;
}

/* ---- talking to a controller ---- */

/* One request to the controller; 0 with the 200 body in *out, else the
 * reason in err. */
static int http(const json_t *host, const char *method, const char *path, const char *body,
		struct ctlclient_reply *out, char *err, size_t errlen)
{
	const struct ctlclient_id id = { H.cfg.client_cert, H.cfg.client_key, H.cfg.timeout_s };
	long status = 0;
	int rc;

	rc = ctlclient_call(host, &id, method, path, body, HOSTMSG_MAX, &status, out, err, errlen);
	if (rc)
		return rc;	/* -ENOMEM or -EIO, the reason in err */
	if (status != 200) {
		snprintf(err, errlen, "controller answered %s %s with HTTP %ld", method, path,
			 status);
		goto fail;
	}
	if (!out->p) {
		snprintf(err, errlen, "controller sent an empty reply");
		goto fail;
	}
	return 0;
fail:
	free(out->p);
	*out = (struct ctlclient_reply){ 0 };
	return -EIO;
}

/* The identity check: the AK the controller names must be loaded in the
 * TPM that holds the registered EK. Proves it by releasing a fresh secret
 * wrapped for (EK, AK name). */
static int prove_ak(const json_t *host, const struct quote_key *ek, const struct quote_key *ak,
		    char *err, size_t errlen)
{
	uint8_t cred[QUOTE_CRED_LEN], back[64], *cb = NULL, *sb = NULL;
	size_t cbl, sbl, bl = 0;
	char *c64 = NULL, *s64 = NULL, *req = NULL;
	struct ctlclient_reply r = { 0 };
	json_t *o;
	int rc = -ENOMEM;

	if (RAND_bytes(cred, sizeof(cred)) != 1 ||
	    quote_make_credential(ek, ak->name, cred, sizeof(cred), &cb, &cbl, &sb, &sbl)) {
		snprintf(err, errlen, "MakeCredential failed");
		goto out;
	}
	c64 = hostmsg_b64_encode(cb, cbl);
	s64 = hostmsg_b64_encode(sb, sbl);
	o = c64 && s64 ? json_pack("{s:s, s:s}", "credential", c64, "secret", s64) : NULL;
	req = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!req) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = http(host, "POST", "/v1/attestation/activate", req, &r, err, errlen);
	if (rc) {
		if (strstr(err, "HTTP 422"))
			snprintf(err, errlen, "ActivateCredential refused: the AK is not in the "
				 "registered EK's TPM");
		goto out;
	}
	rc = hostmsg_secret(r.p, r.n, back, &bl, err, errlen);
	if (!rc && (bl != sizeof(cred) || CRYPTO_memcmp(back, cred, sizeof(cred)))) {
		snprintf(err, errlen, "ActivateCredential returned another secret: the AK is "
			 "not bound to the registered EK");
		rc = -EPERM;
	}
out:
	OPENSSL_cleanse(cred, sizeof(cred));
	OPENSSL_cleanse(back, sizeof(back));
	free(r.p);
	free(req);
	free(c64);
	free(s64);
	free(cb);
	free(sb);
	return rc;
}

/* The whole check for one host; 0 = admitted, else the reason in err. */
static int attest(const json_t *host, char *ak_name, size_t an_len, char *err, size_t errlen)
{
	struct hostmsg_keys keys;
	struct hostmsg_quote qm = { 0 };
	struct quote_evidence ev;
	struct quote_key ek, ak;
	uint8_t reg[1024], nonce[20];
	size_t reg_len = 0;
	char nhex[41], body[80];
	const char *e64 = ec2_jstr(host, "EkPublic");
	struct ctlclient_reply r = { 0 };
	int rc;

	if (hostmsg_b64_decode(e64, strlen(e64), reg, sizeof(reg), &reg_len) ||
	    quote_ek_parse(reg, reg_len, &ek, err, errlen)) {
		snprintf(err, errlen, "the registered EK is unusable");
		return -EINVAL;
	}
	rc = http(host, "GET", "/v1/attestation/keys", NULL, &r, err, errlen);
	if (rc)
		return rc;
	rc = hostmsg_keys(r.p, r.n, &keys, err, errlen);
	free(r.p);
	if (rc)
		return rc;
	if (keys.ek_len != reg_len || CRYPTO_memcmp(keys.ek, reg, reg_len)) {
		snprintf(err, errlen, "the controller's EK is not the registered one");
		return -EPERM;
	}
	if (quote_ak_parse(keys.ak, keys.ak_len, &ak, err, errlen))
		return -EPERM;
	for (size_t i = 0; i < QUOTE_NAME_LEN && 2 * i + 2 < an_len; i++)
		snprintf(ak_name + 2 * i, 3, "%02x", ak.name[i]);
	/* From here on `ak` is the one key: the credential was made for its
	 * name, and only its SPKI verifies the quote (CVE-2022-1053). */
	rc = prove_ak(host, &ek, &ak, err, errlen);
	if (rc)
		return rc;
	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return -EIO;
	for (size_t i = 0; i < sizeof(nonce); i++)
		snprintf(nhex + 2 * i, 3, "%02x", nonce[i]);
	snprintf(body, sizeof(body), "{\"nonce\":\"%s\"}", nhex);
	rc = http(host, "POST", "/v1/attestation/quote", body, &r, err, errlen);
	if (rc)
		return rc;
	rc = hostmsg_quote(r.p, r.n, &qm, err, errlen);
	free(r.p);
	if (rc)
		return rc;
	ev = (struct quote_evidence){ qm.attest, qm.attest_len, qm.sig, qm.sig_len, qm.log,
				      qm.log_len };
	rc = quote_verify(&ak, &ev, nonce, sizeof(nonce), H.golden, ec2_jstr(host, "Release"),
			  NULL, err, errlen);
	hostmsg_quote_free(&qm);
	return rc;
}

int hosts_attest_once(const json_t *host, char *err, size_t errlen)
{
	char ak[2 * QUOTE_NAME_LEN + 1];

	return attest(host, ak, sizeof(ak), err, errlen);
}

/* ---- rounds ---- */

struct due {
	json_t *hosts[ROUND_HOSTS_MAX];
	size_t n;
	double now;
};

static int collect(const char *key, const char *value, void *arg)
{
	struct due *d = arg;
	json_t *o;
	double at;

	if (strchr(key + strlen(HOST_PREFIX), '/'))
		return 0;
	o = json_loads(value, 0, NULL);
	if (!o)
		return 0;
	at = json_number_value(json_object_get(o, "CheckedAt"));
	if (d->n < ROUND_HOSTS_MAX &&
	    (!strcmp(ec2_jstr(o, "State"), "registered") || d->now >= at + H.cfg.period_s))
		d->hosts[d->n++] = o;
	else
		json_decref(o);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Write the verdict onto the stored document (re-read: an admin may have
 * re-registered the host meanwhile, which wins), fenced by the leader's
 * term. */
static int record(struct store *s, const json_t *was, bool ok, const char *reason,
		  const char *ak_name, double now)
{
	struct store_txn *t;
	char key[STORE_KEY_MAX], *v = NULL, iso[32];
	json_t *o = NULL, *tags;
	int rc;

	snprintf(key, sizeof(key), HOST_PREFIX "%s", ec2_jstr(was, "HostId"));
	rc = store_txn_begin(s, true, &t);
	if (rc)
		return rc;
	rc = store_get(t, key, &v);
	o = rc ? NULL : json_loads(v, 0, NULL);
	free(v);
	v = NULL;
	/* Re-registered meanwhile (another endpoint, CA, EK or release): not
	 * this verdict's. */
	if (!o || strcmp(ec2_jstr(o, "Endpoint"), ec2_jstr(was, "Endpoint")) ||
	    strcmp(ec2_jstr(o, "CaPem"), ec2_jstr(was, "CaPem")) ||
	    strcmp(ec2_jstr(o, "EkPublic"), ec2_jstr(was, "EkPublic")) ||
	    strcmp(ec2_jstr(o, "Release"), ec2_jstr(was, "Release"))) {
		store_txn_abort(t);
		json_decref(o);
		return rc == -ENOENT ? 0 : rc;
	}
	api_iso8601(now, iso);
	json_object_set_new(o, "State", json_string(ok ? "admitted" : "drained"));
	json_object_set_new(o, "Reason", json_string(reason));
	json_object_set_new(o, "CheckedAt", json_real(now));
	json_object_set_new(o, "AkName", json_string(ak_name));
	tags = json_object_get(o, "Tags");
	if (json_is_object(tags)) {
		json_object_set_new(tags, "ward:reason", json_string(reason));
		json_object_set_new(tags, "ward:attested-at", json_string(iso));
	}
	v = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	rc = v ? leader_fence(t) : -ENOMEM;
	if (!rc)
		rc = store_put(t, key, v);
	free(v);
	if (rc) {
		store_txn_abort(t);
		return rc;
	}
	return store_txn_commit(t);
}

int hosts_round(struct store *s, void *arg)
{
	struct store_txn *t;
	struct due d = { .now = now_s() };
	int rc;

	(void)arg;
	if (!H.golden)
		return 0;
	rc = store_txn_begin(s, false, &t);
	if (rc)
		return rc;
	rc = store_list(t, HOST_PREFIX, collect, &d);
	store_txn_abort(t);
	for (size_t i = 0; i < d.n; i++) {
		const char *id = ec2_jstr(d.hosts[i], "HostId"), *was = ec2_jstr(d.hosts[i], "State");
		char why[300] = "", ak[2 * QUOTE_NAME_LEN + 1] = "";
		int ok;

		/* One host's failed write (a concurrent register-host: -EAGAIN)
		 * does not stop the others; a deposed leader (-ESTALE) stops. */
		if (rc != -ESTALE) {
			/* No transaction is open while the controller answers. */
			ok = attest(d.hosts[i], ak, sizeof(ak), why, sizeof(why)) == 0;
			if (ok)
				snprintf(why, sizeof(why), "quote verified against release %s",
					 ec2_jstr(d.hosts[i], "Release"));
			rc = record(s, d.hosts[i], ok, why, ak, now_s());
			if (!rc && strcmp(was, ok ? "admitted" : "drained"))
				log_info(ok ? "host admitted" : "host drained", "host=%s reason=\"%s\"",
					 id, why);
		}
		json_decref(d.hosts[i]);
	}
	return rc == -ESTALE ? rc : 0;
}

/* ---- the SQLite replica's own schedule ---- */

static struct ticker T = TICKER_INIT(hosts_round, NULL);

int hosts_thread_start(const char *db)
{
	return ticker_start(&T, db);
}

void hosts_thread_stop(void)
{
	ticker_stop(&T);
}

/* ---- readers ---- */

struct sched {
	char (*ids)[HOST_ID_MAX + 1];
	size_t max, n;
};

static int sched_one(const char *key, const char *value, void *arg)
{
	struct sched *sc = arg;
	json_t *o;

	if (strchr(key + strlen(HOST_PREFIX), '/'))
		return 0;
	o = json_loads(value, 0, NULL);
	if (o && !strcmp(ec2_jstr(o, "State"), "admitted") && sc->n < sc->max &&
	    strlen(ec2_jstr(o, "HostId")) <= HOST_ID_MAX)
		snprintf(sc->ids[sc->n++], HOST_ID_MAX + 1, "%s", ec2_jstr(o, "HostId"));
	json_decref(o);
	return 0;
}

int hosts_list_schedulable(struct store_txn *t, char (*ids)[HOST_ID_MAX + 1], size_t max,
			   size_t *n)
{
	struct sched sc = { ids, max, 0 };
	int rc = store_list(t, HOST_PREFIX, sched_one, &sc);

	*n = sc.n;
	return rc;
}

static void write_host(struct xml *x, const json_t *o)
{
	xml_text(x, "hostId", ec2_jstr(o, "HostId"));
	xml_text(x, "state", ec2_jstr(o, "State"));
	ec2_write_tags(x, o);
}

void ec2_describe_hosts(struct ec2_req *q)
{
	static const struct ec2_field fields[] = {
		{ "state", "State" }, { "host-id", "HostId" }, { NULL, NULL },
	};
	static const struct ec2_describe d = {
		"host", "HostId", "HostId", "InvalidHostID.NotFound", "host ID", "hostSet",
		fields, 5, 500, write_host,
	};

	ec2_describe(q, &d);
}
