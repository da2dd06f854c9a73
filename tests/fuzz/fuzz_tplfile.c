/*
 * libFuzzer target: template persistence, decoder_templates_import().
 *
 * Input: one mode byte, then the buffer. So that the fuzzer reaches the
 * parsers behind the checksums: mode bit 0x01 appends the BLAKE2b-256
 * trailer of the older format 1, bit 0x02 fills in the record checksums
 * of format 2 (decoder_templates_seal()); otherwise the bytes go in as
 * they are (and their records must almost always be skipped as damaged).
 * Bit 0x04 gives the decoders a template memory budget of 16 KiB, so
 * loads evict and refuse. Whatever got imported, even around damage,
 * must export, import again into a new decoder with the same options
 * with success (nothing damaged, nothing evicted or refused), and export
 * to the same size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/err.h"
#include "node/decode/decode.h"

#define MAX_SAMPLING	100000
#define SMALL_BUDGET	(16 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static decoder_t *
new_decoder(int small)
{
	decoder_opts_t o;

	memset(&o, 0, sizeof(o));
	o.max_sampling = MAX_SAMPLING;
	o.max_exporters = 64;
	if (small)
		o.tpl_max_bytes = SMALL_BUDGET;
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
	if (data[0] & 0x02)
		decoder_templates_seal(buf, len);
	if (data[0] & 0x01) {
		crypto_generichash(buf + len, 32, buf, len, NULL, 0);
		len += 32;
	}
	if ((d = new_decoder(data[0] & 0x04)) == NULL) {
		free(buf);
		return 0;
	}
	rc = decoder_templates_import(d, buf, len);
	if (rc > 0 || rc < FF_ERR_MIN)
		abort();
	if (decoder_templates_dirty(d))
		abort();
	if (decoder_template_stats(d)->bytes >
	    decoder_template_stats(d)->max_bytes)
		abort();
	if (decoder_templates_export(d, &out, &olen) == 0) {
		const decoder_tplstats_t *ts;

		if ((d2 = new_decoder(data[0] & 0x04)) == NULL)
			abort();
		if (decoder_templates_import(d2, out, olen) != 0)
			abort();
		ts = decoder_template_stats(d2);
		if (ts->evicted != 0 || ts->refused != 0 ||
		    ts->templates != decoder_template_stats(d)->templates ||
		    ts->bytes != decoder_template_stats(d)->bytes)
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
