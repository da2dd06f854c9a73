/*
 * libFuzzer target: the block decoder (store/block.c), which reads blocks
 * back from the store and must survive any damage to them.
 *
 * The input is one block, copied into a buffer of its exact size (so a
 * read past its end is caught). It is decoded once with the column mask
 * taken from its last 4 bytes (partial decodes) and once with every
 * column. When the full decode of a block of at most 65536 rows
 * succeeds (bigger ones only decode, to keep runs fast), the block must
 * describe itself with the same row count, and the batch is encoded
 * again and decoded once more: the rows must come back unchanged;
 * otherwise the target aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/err.h"
#include "../../store/block.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static blk_dec_t *dec, *dec2;
static blk_enc_t *enc;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *out;
	store_flow_t a, b;
	colbatch_t cb, cb2;
	blk_info_t info;
	uint32_t mask = 0, rows;
	uint8_t *buf;
	size_t len;
	int rc;

	if (dec == NULL) {
		dec = blk_dec_new();
		dec2 = blk_dec_new();
		enc = blk_enc_new(1);
		if (dec == NULL || dec2 == NULL || enc == NULL)
			abort();
	}
	if ((buf = malloc(size > 0 ? size : 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	if (size >= 4)
		memcpy(&mask, data + size - 4, 4);

	rc = blk_decode(dec, buf, size, mask, &cb);
	if (rc != 0 && rc != FF_EPROTO)
		abort();
	if (rc == 0 && (cb.cols != (mask & STORE_COLS_ALL) ||
	    cb.n > STORE_BLOCK_ROWS_MAX))
		abort();

	rc = blk_decode(dec, buf, size, STORE_COLS_ALL, &cb);
	if (rc != 0 && rc != FF_EPROTO)
		abort();
	/* the round trip for blocks of a usual size (keeps runs fast) */
	if (rc == 0 && cb.n <= 65536) {
		if (blk_describe(buf, size, &rows, NULL) != 0 || rows != cb.n)
			abort();
		if (blk_encode(enc, &cb, &out, &len, &info) != 0 ||
		    info.rows != cb.n)
			abort();
		if (blk_decode(dec2, out, len, STORE_COLS_ALL, &cb2) != 0 ||
		    cb2.n != cb.n)
			abort();
		for (size_t i = 0; i < cb.n; i++) {
			colbatch_row(&cb, i, &a);
			colbatch_row(&cb2, i, &b);
			if (memcmp(&a, &b, sizeof(a)) != 0)
				abort();
		}
	}
	free(buf);
	return 0;
}
