/*
 * libFuzzer target: the join token text (node configuration) and the
 * secret a node sends in JOIN (untrusted input on 2210): wire_token_parse()
 * and wire_token_hash(). Checked, else abort:
 *  - a token that parses rebuilds to exactly the input from its parts,
 *    its fingerprint is canonical and its secret hashes;
 *  - a secret that hashes is 43 characters and re-encodes canonically
 *    (the same text always gives the same hash).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[256], fp[WIRE_FP_LEN], canon[WIRE_FP_LEN];
	char secret[WIRE_TOKEN_SECRET_LEN + 1], again[WIRE_TOKEN_LEN];
	uint8_t h1[WIRE_TOKEN_HASH_LEN], h2[WIRE_TOKEN_HASH_LEN];

	/* as a secret from JOIN: arbitrary bytes, not NUL-terminated */
	if (wire_token_hash((const char *)data, size, h1) == 0) {
		if (size != WIRE_TOKEN_SECRET_LEN)
			abort();
		if (wire_token_hash((const char *)data, size, h2) != 0 ||
		    memcmp(h1, h2, sizeof(h1)) != 0)
			abort();
	}
	/* as a token text */
	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (wire_token_parse(text, fp, secret) != 0)
		return 0;
	if (wire_fp_parse(fp, canon) != 0 || strcmp(fp, canon) != 0)
		abort();
	if (strlen(secret) != WIRE_TOKEN_SECRET_LEN ||
	    wire_token_hash(secret, strlen(secret), h1) != 0)
		abort();
	memcpy(again, "ffj1.", 5);
	memcpy(again + 5, fp + 7, 64);
	again[69] = '.';
	memcpy(again + 70, secret, WIRE_TOKEN_SECRET_LEN + 1);
	if (strcmp(again, text) != 0)
		abort();
	return 0;
}
