/* Frama-C EVA harness for the receive-side Geneve header parsing of
 * ward-net's underlay (src/net/tunnel/tunnel.c): geneve_rx_base() and, on
 * the header length it returns, geneve_rx_option(), exactly as
 * decap_nolock() calls them, on a packet of unknown bytes in a block
 * allocated with exactly its length (a read past the packet is an alarm):
 * one analysis per length up to one past the header and tag
 * (TUNNEL_OVERHEAD), where every check is decided, then one for every
 * longer packet up to the largest UDP payload, in a block whose size is
 * only known to be in that range (a read past its smallest size, or of
 * the bytes past it that stay uninitialised, is an alarm). The AES-GCM
 * open and the peer/key state are not part of this harness. */
#include "shims.h"

/* The OpenSSL cipher calls tunnel.c makes (not reached by the parsing):
 * declarations only, the stand-in evp.h has no cipher part. */
typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;
typedef struct evp_cipher_st EVP_CIPHER;
#define EVP_CTRL_GCM_SET_IVLEN 0x9
#define EVP_CTRL_GCM_GET_TAG 0x10
#define EVP_CTRL_GCM_SET_TAG 0x11
EVP_CIPHER_CTX *EVP_CIPHER_CTX_new(void);
void EVP_CIPHER_CTX_free(EVP_CIPHER_CTX *c);
int EVP_CIPHER_CTX_ctrl(EVP_CIPHER_CTX *c, int type, int arg, void *ptr);
const EVP_CIPHER *EVP_aes_256_gcm(void);
int EVP_CipherInit_ex(EVP_CIPHER_CTX *c, const EVP_CIPHER *t, void *e, const unsigned char *key,
		      const unsigned char *iv, int enc);
int EVP_EncryptInit_ex(EVP_CIPHER_CTX *c, const EVP_CIPHER *t, void *e, const unsigned char *key,
		       const unsigned char *iv);
int EVP_DecryptInit_ex(EVP_CIPHER_CTX *c, const EVP_CIPHER *t, void *e, const unsigned char *key,
		       const unsigned char *iv);
int EVP_EncryptUpdate(EVP_CIPHER_CTX *c, unsigned char *out, int *outl, const unsigned char *in,
		      int inl);
int EVP_DecryptUpdate(EVP_CIPHER_CTX *c, unsigned char *out, int *outl, const unsigned char *in,
		      int inl);
int EVP_EncryptFinal_ex(EVP_CIPHER_CTX *c, unsigned char *out, int *outl);
int EVP_DecryptFinal_ex(EVP_CIPHER_CTX *c, unsigned char *out, int *outl);

#include "tunnel/tunnel.c"

#include <stdlib.h>

#define PKT_MAX 65507	/* largest UDP payload over IPv4 */

static void parse(const uint8_t *pkt, size_t len)
{
	uint32_t vni, epoch;
	uint64_t seq;
	size_t hl;

	hl = geneve_rx_base(pkt, len, &vni);
	if (hl > 8)
		(void)geneve_rx_option(pkt, len, hl, &epoch, &seq);
}

int main(void)
{
	size_t len;
	uint8_t *b;

	len = Frama_C_size_t_interval(0, TUNNEL_OVERHEAD + 1);
	//@ split len;
	b = malloc(len ? len : 1);
	if (b) {
		Frama_C_make_unknown((char *)b, len);
		parse(b, len);
		free(b);
	}
	//@ merge len;

	len = Frama_C_size_t_interval(TUNNEL_OVERHEAD + 2, PKT_MAX);
	b = malloc(len);
	if (b) {
		Frama_C_make_unknown((char *)b, TUNNEL_OVERHEAD + 2);
		parse(b, len);
		free(b);
	}
	return 0;
}
