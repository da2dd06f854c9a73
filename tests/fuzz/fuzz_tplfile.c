/*
 * libFuzzer target: template persistence, decoder_templates_import().
 *
 * Input: one mode byte, then the buffer. Mode bit 0x01 appends the right
 * BLAKE2b-256 trailer to the buffer, so the fuzzer reaches the parser
 * behind the checksum; otherwise the bytes go in as they are (and must
 * almost always be rejected by the checksum). Whatever got imported,
 * even before an error, must export, import again into a new decoder
 * with success, and export to the same size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/err.h"
#include "node/decode/decode.h"

#define MAX_SAMPLING	100000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static decoder_t *
new_decoder(void)
{
	decoder_opts_t o;

	memset(&o, 0, sizeof(o));
	o.max_sampling = MAX_SAMPLING;
	o.max_exporters = 64;
	return decoder_new(&o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf, *out = NULL, *out2 = NULL;
	size_t len, olen, olen2;
	decoder_t *d, *d2;
	int rc;

	if (size < 1 || sodium_init() < 0)
		return 0;
	len = size - 1;
	if ((buf = malloc(len + 32)) == NULL)
		return 0;
	memcpy(buf, data + 1, len);
	if (data[0] & 0x01) {
		crypto_generichash(buf + len, 32, buf, len, NULL, 0);
		len += 32;
	}
	if ((d = new_decoder()) == NULL) {
		free(buf);
		return 0;
	}
	rc = decoder_templates_import(d, buf, len);
	if (rc > 0 || rc < FF_ERR_MIN)
		abort();
	if (decoder_templates_dirty(d))
		abort();
	if (decoder_templates_export(d, &out, &olen) == 0) {
		if ((d2 = new_decoder()) == NULL)
			abort();
		if (decoder_templates_import(d2, out, olen) != 0)
			abort();
		if (decoder_templates_export(d2, &out2, &olen2) != 0 ||
		    olen2 != olen)
			abort();
		decoder_free(d2);
	}
	free(out);
	free(out2);
	free(buf);
	decoder_free(d);
	return 0;
}
