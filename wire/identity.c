/*
 * A daemon's identity: an EC P-256 key and a self-signed certificate,
 * made on first start, and the SHA-256 fingerprint of the public key by
 * which peers pin it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>
#include <sodium.h>

#include "common/err.h"
#include "common/strict.h"
#include "wire.h"
#include "wire_int.h"

int
wire_init(void)
{
	if (sodium_init() < 0)
		return FF_ECRYPTO;
	return 0;
}

int
wire_rng(void *ctx, unsigned char *out, size_t len)
{
	(void)ctx;
	randombytes_buf(out, len);
	return 0;
}

static void
hex_fp(const uint8_t digest[32], char out[WIRE_FP_LEN])
{
	static const char hex[] = "0123456789abcdef";

	memcpy(out, "sha256:", 7);
	for (int i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[digest[i] >> 4];
		out[8 + 2 * i] = hex[digest[i] & 15];
	}
	out[WIRE_FP_LEN - 1] = '\0';
}

int
wire_pk_fingerprint(mbedtls_pk_context *pk, char out[WIRE_FP_LEN])
{
	unsigned char der[512];
	uint8_t digest[32];
	int n;

	/* mbedtls_pk_write_pubkey_der writes at the end of the buffer */
	n = mbedtls_pk_write_pubkey_der(pk, der, sizeof(der));
	if (n <= 0)
		return FF_ECRYPTO;
	if (mbedtls_sha256_ret(der + sizeof(der) - n, (size_t)n, digest, 0) !=
	    0)
		return FF_ECRYPTO;
	hex_fp(digest, out);
	return 0;
}

int
wire_fp_parse(const char *text, char out[WIRE_FP_LEN])
{
	uint8_t digest[32];
	size_t nd = 0;
	const char *p = text;

	if (strncasecmp(p, "sha256:", 7) == 0)
		p += 7;
	for (; *p != '\0'; p++) {
		int v;

		if (*p == ':' || *p == ' ')
			continue;
		if (*p >= '0' && *p <= '9')
			v = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			v = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'F')
			v = *p - 'A' + 10;
		else
			return FF_EINVAL;
		if (nd >= 64)
			return FF_EINVAL;
		if (nd % 2 == 0)
			digest[nd / 2] = (uint8_t)(v << 4);
		else
			digest[nd / 2] |= (uint8_t)v;
		nd++;
	}
	if (nd != 64)
		return FF_EINVAL;
	hex_fp(digest, out);
	return 0;
}

int
wire_fp_equal(const char *a, const char *b)
{
	return sodium_memcmp(a, b, WIRE_FP_LEN - 1) == 0;
}

static int
write_file_0600(const char *path, const unsigned char *data, size_t len)
{
	char tmp[4200];
	int fd;
	ssize_t w;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return FF_EINVAL;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return FF_EIO;
	w = write(fd, data, len);
	if (w < 0 || (size_t)w != len || fsync(fd) != 0) {
		close(fd);
		unlink(tmp);
		return FF_EIO;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		unlink(tmp);
		return FF_EIO;
	}
	return 0;
}

static int
make_identity(const char *keypath, const char *certpath, const char *cn,
    char *err, size_t errlen)
{
	mbedtls_pk_context pk;
	mbedtls_x509write_cert crt;
	mbedtls_mpi serial;
	unsigned char buf[4096], sbytes[16];
	char subject[256];
	int rc = FF_ECRYPTO;

	mbedtls_pk_init(&pk);
	mbedtls_x509write_crt_init(&crt);
	mbedtls_mpi_init(&serial);
	if (mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY))
	    != 0 || mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1,
	    mbedtls_pk_ec(pk), wire_rng, NULL) != 0) {
		snprintf(err, errlen, "cannot generate a key");
		goto out;
	}
	if (mbedtls_pk_write_key_pem(&pk, buf, sizeof(buf)) != 0) {
		snprintf(err, errlen, "cannot encode the key");
		goto out;
	}
	if ((rc = write_file_0600(keypath, buf, strlen((char *)buf))) != 0) {
		snprintf(err, errlen, "%s: %s", keypath, strerror(errno));
		goto out;
	}
	rc = FF_ECRYPTO;
	snprintf(subject, sizeof(subject), "CN=%s,O=flowfleet", cn);
	randombytes_buf(sbytes, sizeof(sbytes));
	sbytes[0] &= 0x7f;	/* positive serial */
	mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&crt, &pk);
	mbedtls_x509write_crt_set_issuer_key(&crt, &pk);
	if (mbedtls_mpi_read_binary(&serial, sbytes, sizeof(sbytes)) != 0 ||
	    mbedtls_x509write_crt_set_serial(&crt, &serial) != 0 ||
	    mbedtls_x509write_crt_set_subject_name(&crt, subject) != 0 ||
	    mbedtls_x509write_crt_set_issuer_name(&crt, subject) != 0 ||
	    mbedtls_x509write_crt_set_validity(&crt, "20250101000000",
	    "20991231235959") != 0 ||
	    mbedtls_x509write_crt_set_basic_constraints(&crt, 1, 0) != 0 ||
	    mbedtls_x509write_crt_pem(&crt, buf, sizeof(buf), wire_rng,
	    NULL) != 0) {
		snprintf(err, errlen, "cannot make the certificate");
		goto out;
	}
	if ((rc = write_file_0600(certpath, buf, strlen((char *)buf))) != 0) {
		snprintf(err, errlen, "%s: %s", certpath, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&crt);
	mbedtls_pk_free(&pk);
	return rc;
}

int
wire_identity_load(const char *dir, const char *cn, wire_identity_t **out,
    int *created, char *err, size_t errlen)
{
	char keypath[4096], certpath[4096];
	struct stat stk, stc;
	int hk, hc, rc;
	wire_identity_t *id;

	*created = 0;
	if ((size_t)snprintf(keypath, sizeof(keypath), "%s/key.pem", dir) >=
	    sizeof(keypath) ||
	    (size_t)snprintf(certpath, sizeof(certpath), "%s/cert.pem", dir) >=
	    sizeof(certpath)) {
		snprintf(err, errlen, "%s: path too long", dir);
		return FF_EINVAL;
	}
	hk = stat(keypath, &stk) == 0;
	hc = stat(certpath, &stc) == 0;
	if (!hk && !hc) {
		if ((rc = make_identity(keypath, certpath, cn, err, errlen))
		    != 0)
			return rc;
		*created = 1;
		if (stat(keypath, &stk) != 0 || stat(certpath, &stc) != 0) {
			snprintf(err, errlen, "%s: %s", keypath,
			    strerror(errno));
			return FF_EIO;
		}
	} else if (!hk || !hc) {
		snprintf(err, errlen, "%s has only one of key.pem and "
		    "cert.pem; restore the missing file or remove both to "
		    "make a new identity (peers will need the new "
		    "fingerprint)", dir);
		return FF_ENOENT;
	}
	if ((rc = strict_check(keypath, &stk, err, errlen)) != 0 ||
	    (rc = strict_check(certpath, &stc, err, errlen)) != 0)
		return rc;
	if ((stk.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s: key file is accessible by group or "
		    "others (mode %03o); chmod 600 it", keypath,
		    (unsigned)(stk.st_mode & 0777));
		return FF_EAUTH;
	}
	if ((id = calloc(1, sizeof(*id))) == NULL)
		return FF_ENOMEM;
	mbedtls_pk_init(&id->key);
	mbedtls_x509_crt_init(&id->cert);
	if ((rc = mbedtls_pk_parse_keyfile(&id->key, keypath, NULL)) != 0) {
		snprintf(err, errlen, "%s: cannot parse the key (mbedTLS "
		    "-0x%04x)", keypath, (unsigned)-rc);
		wire_identity_free(id);
		return FF_ECRYPTO;
	}
	if ((rc = mbedtls_x509_crt_parse_file(&id->cert, certpath)) != 0) {
		snprintf(err, errlen, "%s: cannot parse the certificate "
		    "(mbedTLS -0x%04x)", certpath, (unsigned)-rc);
		wire_identity_free(id);
		return FF_ECRYPTO;
	}
	if (mbedtls_pk_check_pair(&id->cert.pk, &id->key) != 0) {
		snprintf(err, errlen, "%s does not match %s", certpath,
		    keypath);
		wire_identity_free(id);
		return FF_ECRYPTO;
	}
	if (wire_pk_fingerprint(&id->cert.pk, id->fp) != 0) {
		snprintf(err, errlen, "cannot fingerprint %s", certpath);
		wire_identity_free(id);
		return FF_ECRYPTO;
	}
	*out = id;
	return 0;
}

void
wire_identity_free(wire_identity_t *id)
{
	if (id == NULL)
		return;
	mbedtls_x509_crt_free(&id->cert);
	mbedtls_pk_free(&id->key);
	free(id);
}

const char *
wire_identity_fp(const wire_identity_t *id)
{
	return id->fp;
}
