/*
 * Join tokens: "ffj1.<controller fingerprint hex>.<secret>" (PROTOCOL.md,
 * JOIN). The secret is 32 random bytes in unpadded base64url (43
 * characters); the controller keeps only its SHA-256.
 */
#include <string.h>

#include <sodium.h>

#include "common/err.h"
#include "wire.h"

#define TOKEN_PREFIX	"ffj1."
#define SECRET_BYTES	32

int
wire_token_hash(const char *secret, size_t len,
    uint8_t hash[WIRE_TOKEN_HASH_LEN])
{
	uint8_t bin[SECRET_BYTES];
	char again[WIRE_TOKEN_SECRET_LEN + 1];
	size_t binlen = 0;
	const char *end = NULL;
	int rc = FF_EINVAL;

	if (len != WIRE_TOKEN_SECRET_LEN)
		return FF_EINVAL;
	if (sodium_base642bin(bin, sizeof(bin), secret, len, NULL, &binlen,
	    &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    binlen != SECRET_BYTES || end != secret + len)
		goto out;
	/* only the canonical spelling: the unused low bits must be zero */
	sodium_bin2base64(again, sizeof(again), bin, sizeof(bin),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if (memcmp(again, secret, len) != 0)
		goto out;
	crypto_hash_sha256(hash, bin, sizeof(bin));
	rc = 0;
out:
	sodium_memzero(bin, sizeof(bin));
	sodium_memzero(again, sizeof(again));
	return rc;
}

int
wire_token_make(const char *controller_fp, char token[WIRE_TOKEN_LEN],
    uint8_t hash[WIRE_TOKEN_HASH_LEN])
{
	uint8_t bin[SECRET_BYTES];
	char secret[WIRE_TOKEN_SECRET_LEN + 1];
	char fp[WIRE_FP_LEN];

	if (wire_fp_parse(controller_fp, fp) != 0)
		return FF_EINVAL;
	randombytes_buf(bin, sizeof(bin));
	sodium_bin2base64(secret, sizeof(secret), bin, sizeof(bin),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	crypto_hash_sha256(hash, bin, sizeof(bin));
	/* "ffj1." + 64 hex + "." + 43 + NUL == WIRE_TOKEN_LEN */
	memcpy(token, TOKEN_PREFIX, 5);
	memcpy(token + 5, fp + 7, 64);
	token[69] = '.';
	memcpy(token + 70, secret, WIRE_TOKEN_SECRET_LEN + 1);
	sodium_memzero(bin, sizeof(bin));
	sodium_memzero(secret, sizeof(secret));
	return 0;
}

int
wire_token_parse(const char *text, char fp[WIRE_FP_LEN],
    char secret[WIRE_TOKEN_SECRET_LEN + 1])
{
	char hex[65];
	uint8_t hash[WIRE_TOKEN_HASH_LEN];

	if (strlen(text) != WIRE_TOKEN_LEN - 1 ||
	    strncmp(text, TOKEN_PREFIX, 5) != 0 || text[69] != '.')
		return FF_EINVAL;
	memcpy(hex, text + 5, 64);
	hex[64] = '\0';
	/* lowercase hex only: wire_fp_parse is more lenient */
	for (int i = 0; i < 64; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') ||
		    (hex[i] >= 'a' && hex[i] <= 'f')))
			return FF_EINVAL;
	if (wire_fp_parse(hex, fp) != 0)
		return FF_EINVAL;
	if (wire_token_hash(text + 70, WIRE_TOKEN_SECRET_LEN, hash) != 0)
		return FF_EINVAL;
	memcpy(secret, text + 70, WIRE_TOKEN_SECRET_LEN + 1);
	return 0;
}

const char *
wire_token_check(const char *secret, size_t len, int have,
    const uint8_t hash[WIRE_TOKEN_HASH_LEN], uint64_t used_ms,
    uint64_t expires_ms, uint64_t now_ms)
{
	uint8_t h[WIRE_TOKEN_HASH_LEN];
	int wellformed, equal;

	memset(h, 0, sizeof(h));
	wellformed = wire_token_hash(secret, len, h) == 0;
	equal = sodium_memcmp(h, hash, sizeof(h)) == 0;
	sodium_memzero(h, sizeof(h));
	if (!wellformed || !equal || !have)
		return "wrong";
	if (used_ms != 0)
		return "used";
	if (now_ms >= expires_ms)
		return "expired";
	return NULL;
}
