/* hsm: PKCS#11 through p11-kit's pkcs11.h and a dlopen'd module. One logged
 * in session per worker thread; object handles are shared (they belong to
 * the application, not to the session). */
#include "hsm.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <p11-kit/pkcs11.h>

#include "log.h"

/* PKCS#11 return values by name for logs (CKR_PIN_INCORRECT, not 0xa0):
 * the ones a token returns on the paths ward-kms takes; others as hex. */
const char *hsm_rv_name(unsigned long rv)
{
	static const struct { unsigned long rv; const char *name; } names[] = {
#define CKR(n) { n, #n }
		CKR(CKR_OK), CKR(CKR_CANCEL), CKR(CKR_HOST_MEMORY), CKR(CKR_SLOT_ID_INVALID),
		CKR(CKR_GENERAL_ERROR), CKR(CKR_FUNCTION_FAILED), CKR(CKR_ARGUMENTS_BAD),
		CKR(CKR_ATTRIBUTE_READ_ONLY), CKR(CKR_ATTRIBUTE_TYPE_INVALID),
		CKR(CKR_ATTRIBUTE_VALUE_INVALID), CKR(CKR_DATA_INVALID), CKR(CKR_DATA_LEN_RANGE),
		CKR(CKR_DEVICE_ERROR), CKR(CKR_DEVICE_MEMORY), CKR(CKR_DEVICE_REMOVED),
		CKR(CKR_ENCRYPTED_DATA_INVALID), CKR(CKR_ENCRYPTED_DATA_LEN_RANGE),
		CKR(CKR_FUNCTION_NOT_SUPPORTED), CKR(CKR_KEY_HANDLE_INVALID),
		CKR(CKR_KEY_SIZE_RANGE), CKR(CKR_KEY_TYPE_INCONSISTENT),
		CKR(CKR_MECHANISM_INVALID), CKR(CKR_MECHANISM_PARAM_INVALID),
		CKR(CKR_OBJECT_HANDLE_INVALID), CKR(CKR_OPERATION_ACTIVE),
		CKR(CKR_OPERATION_NOT_INITIALIZED), CKR(CKR_PIN_INCORRECT), CKR(CKR_PIN_INVALID),
		CKR(CKR_PIN_LEN_RANGE), CKR(CKR_PIN_EXPIRED), CKR(CKR_PIN_LOCKED),
		CKR(CKR_SESSION_CLOSED), CKR(CKR_SESSION_COUNT), CKR(CKR_SESSION_HANDLE_INVALID),
		CKR(CKR_SESSION_READ_ONLY), CKR(CKR_TEMPLATE_INCOMPLETE),
		CKR(CKR_TEMPLATE_INCONSISTENT), CKR(CKR_TOKEN_NOT_PRESENT),
		CKR(CKR_TOKEN_NOT_RECOGNIZED), CKR(CKR_TOKEN_WRITE_PROTECTED),
		CKR(CKR_USER_ALREADY_LOGGED_IN), CKR(CKR_USER_NOT_LOGGED_IN),
		CKR(CKR_USER_PIN_NOT_INITIALIZED), CKR(CKR_USER_TYPE_INVALID),
		CKR(CKR_BUFFER_TOO_SMALL), CKR(CKR_CRYPTOKI_NOT_INITIALIZED),
		CKR(CKR_CRYPTOKI_ALREADY_INITIALIZED),
#undef CKR
	};
	static __thread char hex[24];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].rv == rv)
			return names[i].name;
	snprintf(hex, sizeof(hex), "CKR_0x%lx", rv);
	return hex;
}

#define HSM_MAX_SESSIONS 16

struct hsm {
	void *dl;
	CK_FUNCTION_LIST_PTR f;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE sess[HSM_MAX_SESSIONS];
	unsigned n_sess;
};

static int load(const char *module, void **dl, CK_FUNCTION_LIST_PTR *f)
{
	CK_C_GetFunctionList get;
	CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
	CK_RV rv;

	*dl = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	if (!*dl) {
		log_error("cannot load PKCS#11 module", "module=%s", module);
		return -ENOENT;
	}
	get = (CK_C_GetFunctionList)dlsym(*dl, "C_GetFunctionList");
	if (!get || get(f) != CKR_OK) {
		log_error("PKCS#11 module has no function list", "module=%s", module);
		dlclose(*dl);
		return -EINVAL;
	}
	rv = (*f)->C_Initialize(&args);
	if (rv != CKR_OK && rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		log_error("C_Initialize failed", "rv=%s", hsm_rv_name(rv));
		dlclose(*dl);
		return -EIO;
	}
	return 0;
}

static void pad_label(CK_UTF8CHAR out[32], const char *label)
{
	size_t n = strlen(label);

	memset(out, ' ', 32);
	memcpy(out, label, n > 32 ? 32 : n);
}

/* Finds the slot whose token carries `label` (initialised or, for
 * want_free, the first slot with no initialised token). */
static int find_slot(CK_FUNCTION_LIST_PTR f, const char *label, int want_free,
		     CK_SLOT_ID *out)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64;
	CK_UTF8CHAR want[32];

	if (f->C_GetSlotList(CK_TRUE, slots, &n) != CKR_OK)
		return -EIO;
	pad_label(want, label);
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;

		if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		if (want_free && !(ti.flags & CKF_TOKEN_INITIALIZED)) {
			*out = slots[i];
			return 0;
		}
		if (!want_free && (ti.flags & CKF_TOKEN_INITIALIZED) &&
		    memcmp(ti.label, want, 32) == 0) {
			*out = slots[i];
			return 0;
		}
	}
	return -ENOENT;
}

int hsm_init_token(const char *module, const char *label, const char *so_pin,
		   const char *pin)
{
	CK_FUNCTION_LIST_PTR f;
	CK_SESSION_HANDLE s;
	CK_UTF8CHAR lab[32];
	CK_SLOT_ID slot;
	void *dl;
	int rc;

	rc = load(module, &dl, &f);
	if (rc)
		return rc;
	if (find_slot(f, label, 0, &slot) == 0) {
		rc = -EEXIST;
		goto out;
	}
	rc = find_slot(f, label, 1, &slot);
	if (rc) {
		log_error("no free PKCS#11 slot to initialise a token in");
		goto out;
	}
	pad_label(lab, label);
	rc = -EIO;
	if (f->C_InitToken(slot, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin), lab) != CKR_OK)
		goto out;
	/* SoftHSM moves the new token to a fresh slot id: look it up again. */
	if (find_slot(f, label, 0, &slot))
		goto out;
	if (f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s) != CKR_OK)
		goto out;
	if (f->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin)) == CKR_OK &&
	    f->C_InitPIN(s, (CK_UTF8CHAR_PTR)pin, strlen(pin)) == CKR_OK)
		rc = 0;
	f->C_Logout(s);
	f->C_CloseSession(s);
out:
	f->C_Finalize(NULL);
	dlclose(dl);
	return rc;
}

int hsm_open(const char *module, const char *token_label, const char *pin,
	     unsigned sessions, struct hsm **out)
{
	struct hsm *h;
	CK_RV rv;
	int rc;

	if (sessions == 0 || sessions > HSM_MAX_SESSIONS)
		return -EINVAL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	rc = load(module, &h->dl, &h->f);
	if (rc)
		goto err_free;
	rc = find_slot(h->f, token_label, 0, &h->slot);
	if (rc) {
		log_error("PKCS#11 token not found", "label=%s", token_label);
		goto err_fin;
	}
	for (; h->n_sess < sessions; h->n_sess++) {
		rv = h->f->C_OpenSession(h->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION,
					 NULL, NULL, &h->sess[h->n_sess]);
		if (rv != CKR_OK) {
			rc = -EIO;
			goto err_fin;
		}
	}
	/* Login is per application: one login covers every session. */
	rv = h->f->C_Login(h->sess[0], CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin));
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		log_error("PKCS#11 login failed", "rv=%s", hsm_rv_name(rv));
		rc = -EACCES;
		goto err_fin;
	}
	*out = h;
	return 0;
err_fin:
	h->f->C_Finalize(NULL);
	dlclose(h->dl);
err_free:
	free(h);
	return rc;
}

void hsm_close(struct hsm *h)
{
	if (!h)
		return;
	h->f->C_Logout(h->sess[0]);
	for (unsigned i = 0; i < h->n_sess; i++)
		h->f->C_CloseSession(h->sess[i]);
	h->f->C_Finalize(NULL);
	dlclose(h->dl);
	free(h);
}

int hsm_key_find(struct hsm *h, unsigned sess, const char *label, unsigned long *handle)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	CK_SESSION_HANDLE s = h->sess[sess];
	CK_OBJECT_HANDLE obj;
	CK_ULONG n = 0;

	if (h->f->C_FindObjectsInit(s, tmpl, 2) != CKR_OK)
		return -EIO;
	if (h->f->C_FindObjects(s, &obj, 1, &n) != CKR_OK)
		n = 0;
	h->f->C_FindObjectsFinal(s);
	if (n == 0)
		return -ENOENT;
	*handle = obj;
	return 0;
}

int hsm_key_create(struct hsm *h, unsigned sess, const char *label, unsigned long *handle)
{
	CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
	CK_KEY_TYPE kt = CKK_AES;
	CK_ULONG len = 32;
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_MECHANISM mech = { CKM_AES_KEY_GEN, NULL, 0 };
	/* Sensitive + non-extractable: the value can never be read or wrapped
	 * out; encrypt/decrypt only. */
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_VALUE_LEN, &len, sizeof(len) },
		{ CKA_TOKEN, &yes, sizeof(yes) },
		{ CKA_PRIVATE, &yes, sizeof(yes) },
		{ CKA_SENSITIVE, &yes, sizeof(yes) },
		{ CKA_EXTRACTABLE, &no, sizeof(no) },
		{ CKA_ENCRYPT, &yes, sizeof(yes) },
		{ CKA_DECRYPT, &yes, sizeof(yes) },
		{ CKA_WRAP, &no, sizeof(no) },
		{ CKA_UNWRAP, &no, sizeof(no) },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	CK_OBJECT_HANDLE obj;
	unsigned long existing;
	CK_RV rv;

	if (hsm_key_find(h, sess, label, &existing) == 0)
		return -EEXIST;
	rv = h->f->C_GenerateKey(h->sess[sess], &mech, tmpl,
				 sizeof(tmpl) / sizeof(tmpl[0]), &obj);
	if (rv != CKR_OK) {
		log_error("C_GenerateKey failed", "rv=%s", hsm_rv_name(rv));
		return -EIO;
	}
	*handle = obj;
	return 0;
}

int hsm_key_destroy(struct hsm *h, unsigned sess, const char *label)
{
	unsigned long obj;
	int found = 0;

	/* Destroy every object with the label, in case a crash left two. */
	while (hsm_key_find(h, sess, label, &obj) == 0) {
		if (h->f->C_DestroyObject(h->sess[sess], obj) != CKR_OK)
			return -EIO;
		found = 1;
	}
	return found ? 0 : -ENOENT;
}

int hsm_gcm_encrypt(struct hsm *h, unsigned sess, unsigned long key,
		    const uint8_t iv[12], const uint8_t *aad, size_t aad_len,
		    const uint8_t *pt, size_t len, uint8_t *ct, uint8_t tag[16])
{
	CK_GCM_PARAMS gcm = {
		.pIv = (CK_BYTE_PTR)iv, .ulIvLen = 12, .ulIvBits = 96,
		.pAAD = (CK_BYTE_PTR)aad, .ulAADLen = aad_len, .ulTagBits = 128,
	};
	CK_MECHANISM mech = { CKM_AES_GCM, &gcm, sizeof(gcm) };
	CK_SESSION_HANDLE s = h->sess[sess];
	uint8_t out[4096 + 16];
	CK_ULONG olen = sizeof(out);

	if (len > 4096)
		return -EINVAL;
	if (h->f->C_EncryptInit(s, &mech, key) != CKR_OK)
		return -EIO;
	if (h->f->C_Encrypt(s, (CK_BYTE_PTR)pt, len, out, &olen) != CKR_OK ||
	    olen != len + 16) {
		OPENSSL_cleanse(out, sizeof(out));
		return -EIO;
	}
	memcpy(ct, out, len);
	memcpy(tag, out + len, 16);
	return 0;
}

int hsm_gcm_decrypt(struct hsm *h, unsigned sess, unsigned long key,
		    const uint8_t iv[12], const uint8_t *aad, size_t aad_len,
		    const uint8_t *ct, size_t len, const uint8_t tag[16], uint8_t *pt)
{
	CK_GCM_PARAMS gcm = {
		.pIv = (CK_BYTE_PTR)iv, .ulIvLen = 12, .ulIvBits = 96,
		.pAAD = (CK_BYTE_PTR)aad, .ulAADLen = aad_len, .ulTagBits = 128,
	};
	CK_MECHANISM mech = { CKM_AES_GCM, &gcm, sizeof(gcm) };
	CK_SESSION_HANDLE s = h->sess[sess];
	uint8_t in[4096 + 16], out[4096 + 16];
	CK_ULONG olen = sizeof(out);
	CK_RV rv;

	if (len > 4096)
		return -EINVAL;
	memcpy(in, ct, len);
	memcpy(in + len, tag, 16);
	rv = h->f->C_DecryptInit(s, &mech, key);
	if (rv != CKR_OK) {
		log_error("C_DecryptInit failed", "rv=%s", hsm_rv_name(rv));
		return -EIO;
	}
	/* Some modules want room for ciphertext+tag in the output. */
	rv = h->f->C_Decrypt(s, in, len + 16, out, &olen);
	if (rv == CKR_OK && olen == len) {
		memcpy(pt, out, len);
		OPENSSL_cleanse(out, len);
		return 0;
	}
	OPENSSL_cleanse(out, sizeof(out));
	log_debug("C_Decrypt failed", "rv=%s", hsm_rv_name(rv));
	/* Modules differ in what a failed tag check returns; none of these
	 * can be told apart from a forged blob by the caller anyway. */
	if (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_ENCRYPTED_DATA_LEN_RANGE ||
	    rv == CKR_FUNCTION_FAILED || rv == CKR_GENERAL_ERROR)
		return -EBADMSG;
	return -EIO;
}

int hsm_random(struct hsm *h, unsigned sess, uint8_t *buf, size_t len)
{
	return h->f->C_GenerateRandom(h->sess[sess], buf, len) == CKR_OK ? 0 : -EIO;
}
