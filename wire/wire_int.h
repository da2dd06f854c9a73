/*
 * Internal to wire/.
 */
#ifndef FF_WIRE_INT_H
#define FF_WIRE_INT_H

#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "wire.h"

struct wire_identity {
	mbedtls_pk_context key;
	mbedtls_x509_crt cert;
	char fp[WIRE_FP_LEN];
};

/* mbedTLS random callback backed by libsodium. */
int wire_rng(void *ctx, unsigned char *out, size_t len);

/* Fingerprint of a public key: "sha256:" + hex of SHA-256(SPKI DER). */
int wire_pk_fingerprint(mbedtls_pk_context *pk, char out[WIRE_FP_LEN]);

#endif
