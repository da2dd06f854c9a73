/*
 * Blocks: one block holds up to STORE_BLOCK_ROWS_MAX flows, each column
 * (enum store_col) encoded and compressed on its own behind a small
 * column directory, so a reader decodes only the columns it asks for.
 * The encoder is block_enc.c, the decoder block_dec.c. Internal to the
 * storage (storage.c puts blocks into LMDB; scan.c and maintain.c read
 * them back).
 *
 * Layout (integers little-endian):
 *
 *	0	"FFBK"
 *	4	u8 version (BLK_VERSION; version 1 blocks, which have no
 *		ADICT columns, are still read)
 *	5	u8 ncols: the first ncols columns of the column table
 *		(columns.def) are stored, 1 <= ncols <= STORE_COL_COUNT; a
 *		block written before the later columns existed has fewer,
 *		and they read as 0 (addresses as ::)
 *	6	u16 reserved, 0
 *	8	u32 rows
 *	12	ncols directory entries of 16 bytes:
 *		u8 rep, u8 codec, u8 width, u8 flags, u32 clen, u64 base
 *	...	the columns' stored bytes, clen each, in column order; the
 *		block ends exactly after the last one.
 *
 * Representations (rep); integer columns and IPv4 address columns (flag
 * V4: host-order IPv4 as a 32-bit integer) use CONST, FOR, BITS or DICT,
 * other address columns CONST or RAW16; any address column may be ADICT:
 *	BLK_REP_CONST	every row holds one value: base (integers, IPv4),
 *			or the 16 stored bytes. width 0.
 *	BLK_REP_FOR	frame of reference: row = base + a value of width
 *			1, 2, 4 or 8 bytes (at most the column's size).
 *	BLK_REP_RAW16	16-byte addresses, width 16.
 *	BLK_REP_BITS	row = base + a value of width bits (1..56), rows
 *			packed LSB first into ceil(n * width / 8) bytes.
 *	BLK_REP_DICT	at most 256 distinct values: the stored bytes are
 *			u8 d - 1 (d >= 2 entries), u8 w (1, 2, 4 or 8), d
 *			entries of w bytes, then per row a code of width =
 *			bits(d - 1) bits packed as in BITS; row = base +
 *			entry[code] (a code >= d decodes to base).
 *	BLK_REP_ADICT	(version 2) an address dictionary of 2 to 65536
 *			entries: the stored bytes are u32 n4, u32 n6, n4
 *			IPv4 entries (u32, host-order address), n6 IPv6
 *			entries (16 bytes, none IPv4-mapped), then per row a
 *			code of width = bits(n4 + n6 - 1) bits packed as in
 *			BITS; row = entry[code], the IPv4 entries first. A
 *			code >= n4 + n6 makes the block damaged. Flag V4 is
 *			set exactly when n6 = 0; base 0; codec RAW.
 *			A reader may take the column in this form
 *			(store_coldict_t) instead of one address per row: a top N
 *			by address then adds each row to its code's slot of
 *			a small array and probes its hash table once per
 *			entry, not once per row.
 * Flags: BLK_CF_V4 - address column in IPv4 form. Multi-byte FOR and
 * RAW16 rows are stored one after the other, little-endian (FOR); byte
 * planes were measured to compress worse and cost more with zstd.
 * Codec: BLK_CODEC_RAW (the bytes as described) or, for FOR and RAW16
 * only, BLK_CODEC_ZSTD (one zstd frame, with a content checksum, holding
 * the n * width bytes).
 *
 * The encoder takes per column the smallest of FOR, BITS, DICT and (for
 * addresses) RAW16 and ADICT, and FOR or RAW16 compressed with zstd only
 * when that saves at least a quarter of the bytes zstd reads:
 * compressing costs far more than packing (bench_store), and
 * decompressing too (zstd decodes about 1.3 GB/s per core, which was
 * most of the cost of a top N over 16-byte address rows).
 */
#ifndef FF_STORE_BLOCK_H
#define FF_STORE_BLOCK_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#include "store/store.h"

#define BLK_MAGIC	"FFBK"
#define BLK_VERSION	2
#define BLK_VERSION_MIN	1	/* oldest version still read */
#define BLK_HDR_LEN	12
#define BLK_DIR_LEN	16
/* Header and directory of a block of every column (as the encoder writes) */
#define BLK_FIXED_LEN	(BLK_HDR_LEN + STORE_COL_COUNT * BLK_DIR_LEN)
#define BLK_BITS_MAX	56	/* widest BITS row (one 64-bit load) */
#define BLK_ADICT_HDR	8	/* u32 n4, u32 n6 */

#define BLK_REP_CONST	0
#define BLK_REP_FOR	1
#define BLK_REP_RAW16	2
#define BLK_REP_BITS	3
#define BLK_REP_DICT	4
#define BLK_REP_ADICT	5

#define BLK_CODEC_RAW	0
#define BLK_CODEC_ZSTD	1

#define BLK_CF_V4	0x01

/* What one block holds, as the idx entry records it. */
typedef struct blk_info {
	uint32_t rows;
	uint64_t min_first, max_first;	/* 0 when rows == 0 */
	uint64_t min_last, max_last;
} blk_info_t;

/* One directory entry, as blk_describe() reports it. */
typedef struct blk_coldesc {
	uint8_t rep, codec, width, flags;
	uint32_t clen;
	uint64_t base;
} blk_coldesc_t;

typedef struct blk_enc blk_enc_t;
typedef struct blk_dec blk_dec_t;

/*
 * Make an encoder compressing with zstd level `level` (0: 1). Returns NULL
 * on ENOMEM. Free with blk_enc_free() (accepts NULL).
 */
blk_enc_t *blk_enc_new(int level);
void blk_enc_free(blk_enc_t *e);

/*
 * Encode the cb->n rows of cb, which must hold every column
 * (STORE_COLS_ALL; address columns in row form, either one), into *out, *len
 * bytes owned by e and valid until the next blk_encode() or
 * blk_enc_free(). Fills *info. Returns 0, FF_EINVAL (missing columns or
 * more than STORE_BLOCK_ROWS_MAX rows) or FF_ENOMEM.
 */
int blk_encode(blk_enc_t *e, const store_colbatch_t *cb, const uint8_t **out,
    size_t *len, blk_info_t *info);

/* Make a decoder with its scratch arrays. NULL on ENOMEM. */
blk_dec_t *blk_dec_new(void);
void blk_dec_free(blk_dec_t *d);

/*
 * From now on give the address columns in dcols that a block stores as a
 * dictionary (ADICT, or DICT in the IPv4 form) in dictionary form
 * (cb->dict, cb->dicts[c]) instead of as rows; 0 (the default): always
 * rows.
 */
void blk_dec_set_dict(blk_dec_t *d, uint32_t dcols);

/*
 * Decode the columns in `cols` of the block buf (len bytes, untrusted:
 * every length, count, width and codec is checked) into *cb. The arrays
 * are owned by d and valid until the next blk_decode() or blk_dec_free();
 * they grow as needed and are reused. cb's min/max fields are left 0
 * (the caller knows them from the block's idx entry).
 * Returns 0, FF_EPROTO (damaged block; *cb is then undefined) or
 * FF_ENOMEM.
 */
int blk_decode(blk_dec_t *d, const uint8_t *buf, size_t len, uint32_t cols,
    store_colbatch_t *cb);

/*
 * Check the header and directory of buf and report its row count and,
 * when desc is not NULL, its STORE_COL_COUNT directory entries (those of
 * the columns the block does not store: CONST 0). Returns 0 or
 * FF_EPROTO.
 */
int blk_describe(const uint8_t *buf, size_t len, uint32_t *rows,
    blk_coldesc_t *desc);

/* --- helpers of the encoder and the decoder ---------------------------- */

static inline void
put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static inline void
put_le64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static inline uint16_t
le16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return le16toh(v);
}

static inline uint32_t
le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static inline uint64_t
le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

/* Bits needed to hold v (0 for 0). */
static inline unsigned
bits_of(uint64_t v)
{
	return v == 0 ? 0 : 64 - (unsigned)__builtin_clzll(v);
}

/* Grow *buf to at least need bytes. Returns 0 or FF_ENOMEM. */
static inline int
blk_grow(void **buf, size_t *cap, size_t need)
{
	void *p;
	size_t n;

	if (*cap >= need && *buf != NULL)
		return 0;
	n = need < 4096 ? 4096 : need;
	p = realloc(*buf, n);
	if (p == NULL)
		return FF_ENOMEM;
	*buf = p;
	*cap = n;
	return 0;
}

#endif
