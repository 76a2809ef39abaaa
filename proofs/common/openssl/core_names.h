/* Stand-in for OpenSSL's core_names.h, cut for Frama-C. */
#ifndef WARD_PROOFS_OPENSSL_CORE_NAMES_H
#define WARD_PROOFS_OPENSSL_CORE_NAMES_H
#define OSSL_PKEY_PARAM_GROUP_NAME "group"
#endif
