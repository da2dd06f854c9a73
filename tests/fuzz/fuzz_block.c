/*
 * libFuzzer target: the block decoder (store/block_dec.c), which reads blocks
 * back from the store and must survive any damage to them.
 *
 * The input is one block, copied into a buffer of its exact size (so a
 * read past its end is caught). It is decoded once with the column mask
 * taken from its last 4 bytes (partial decodes) and once with every
 * column. When the full decode of a block of at most 65536 rows
 * succeeds (bigger ones only decode, to keep runs fast), the block must
 * describe itself with the same row count, and the batch is encoded
 * again and decoded once more: the rows must come back unchanged;
 * otherwise the target aborts. A third decode asks for every address
 * column in dictionary form: it must succeed exactly when the full one
 * did, every code must be below its entry count, no IPv6 entry may be
 * IPv4-mapped, and each row's entry must be the row the full decode gave.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "store/block.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static blk_dec_t *dec, *dec2, *decd;
static blk_enc_t *enc;

/* Abort unless the dictionary form of column c in d matches rows r. */
static void
check_dict(const store_colbatch_t *d, const store_colbatch_t *r, int c)
{
	const store_coldict_t *cd = &d->dicts[c];
	const uint32_t *a4;
	const uint8_t (*a16)[16];
	uint8_t want[16], got[16], b[4];

	if (cd->n < 1 || cd->n > STORE_DICT_MAX || cd->n4 > cd->n)
		abort();
	for (uint32_t j = cd->n4; j < cd->n; j++)
		if (addr_is_v4(cd->e16[j - cd->n4]))
			abort();
	switch (c) {
	case STORE_COL_SRC: a4 = r->src4; a16 = r->src16; break;
	case STORE_COL_DST: a4 = r->dst4; a16 = r->dst16; break;
	case STORE_COL_NEXTHOP: a4 = r->nexthop4; a16 = r->nexthop16; break;
	default: a4 = r->exporter4; a16 = r->exporter16; break;
	}
	for (size_t i = 0; i < d->n; i++) {
		uint16_t k = cd->code[i];

		if (k >= cd->n)
			abort();
		if (k < cd->n4) {
			put_be32(b, cd->e4[k]);
			addr_from_v4(got, b);
		} else
			memcpy(got, cd->e16[k - cd->n4], 16);
		if (r->v4 & STORE_COLBIT(c)) {
			put_be32(b, a4[i]);
			addr_from_v4(want, b);
		} else
			memcpy(want, a16[i], 16);
		if (memcmp(got, want, 16) != 0)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *out;
	store_flow_t a, b;
	store_colbatch_t cb, cb2;
	blk_info_t info;
	uint32_t mask = 0, rows;
	uint8_t *buf;
	size_t len;
	int rc;

	if (dec == NULL) {
		dec = blk_dec_new();
		dec2 = blk_dec_new();
		decd = blk_dec_new();
		enc = blk_enc_new(1);
		if (dec == NULL || dec2 == NULL || decd == NULL || enc == NULL)
			abort();
		blk_dec_set_dict(decd, STORE_COLS_ALL);
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
	if (blk_decode(decd, buf, size, STORE_COLS_ALL, &cb2) != rc)
		abort();
	if (rc == 0) {
		if (cb2.n != cb.n || cb2.cols != STORE_COLS_ALL ||
		    cb.dict != 0 || (cb2.dict & ~(STORE_COLBIT(STORE_COL_SRC) |
		    STORE_COLBIT(STORE_COL_DST) | STORE_COLBIT(STORE_COL_NEXTHOP) |
		    STORE_COLBIT(STORE_COL_EXPORTER))) != 0)
			abort();
		for (int c = STORE_COL_SRC; c <= STORE_COL_EXPORTER; c++)
			if (cb2.dict & STORE_COLBIT(c))
				check_dict(&cb2, &cb, c);
	}
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
			store_colbatch_row(&cb, i, &a);
			store_colbatch_row(&cb2, i, &b);
			if (memcmp(&a, &b, sizeof(a)) != 0)
				abort();
		}
	}
	free(buf);
	return 0;
}
