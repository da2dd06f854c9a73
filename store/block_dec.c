/*
 * The block decoder (layout in block.h): checks every field of the
 * untrusted block before it touches the data, then decodes the columns
 * asked for into the arrays of a column batch. A block written before
 * some columns existed reads them as 0.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "common/err.h"
#include "common/util.h"
#include "block.h"

struct blk_dec {
	ZSTD_DCtx *dctx;
	uint32_t dcols;		/* address columns wanted as dictionaries */
	uint8_t *raw;		/* one column's decompressed bytes */
	size_t rawcap;
	void *arr[STORE_COL_COUNT];	/* typed arrays; 16-byte rows for addresses */
	size_t cap[STORE_COL_COUNT];	/* rows */
	uint32_t *arr4[STORE_COL_COUNT];	/* address columns in IPv4 form */
	size_t cap4[STORE_COL_COUNT];
	/* address columns in dictionary form; entries STORE_DICT_MAX */
	uint16_t *code[STORE_COL_COUNT];	/* per row */
	size_t codecap[STORE_COL_COUNT];	/* bytes, as blk_grow() keeps them */
	uint32_t *e4[STORE_COL_COUNT];	/* IPv4 entries */
	size_t e4cap[STORE_COL_COUNT];
	uint8_t (*e16[STORE_COL_COUNT])[16];	/* IPv6 entries */
	size_t e16cap[STORE_COL_COUNT];
	uint8_t (*x16)[16];	/* an ADICT's entries as 16-byte rows */
	size_t x16cap;
};

/* --- batch column access (columns.def) ------------------------------------ */

/* Point column c of cb at p (v4: the IPv4 form of an address column). */
#define CB_SET_U8(id, name)	case STORE_COL_##id: cb->name = p; break;
#define CB_SET_U16(id, name)	case STORE_COL_##id: cb->name = p; break;
#define CB_SET_U32(id, name)	case STORE_COL_##id: cb->name = p; break;
#define CB_SET_U64(id, name)	case STORE_COL_##id: cb->name = p; break;
#define CB_SET_ADDR(id, name)	case STORE_COL_##id:			\
	if (v4)								\
		cb->name##4 = p;					\
	else								\
		cb->name##16 = p;					\
	break;

static void
cb_set(store_colbatch_t *cb, int c, const void *p, int v4)
{
	switch (c) {
#define STORE_COLUMN(id, name, type, rank, filter, list) CB_SET_##type(id, name)
#include "store/columns.def"
#undef STORE_COLUMN
	}
}

/* --- directory ----------------------------------------------------------- */

/*
 * Check directory entry d of column c in a block of the given version
 * and n rows whose stored bytes are p (d->clen of them, already known to
 * lie inside the block), and return the length of the column's bytes
 * after decompression in *raw. Returns 0 or FF_EPROTO.
 */
static int
check_col(int c, unsigned version, size_t n, const blk_coldesc_t *d,
    const uint8_t *p, size_t *raw)
{
	unsigned sz = store_col_width(c);
	uint64_t maxv;

	if (d->flags & ~BLK_CF_V4)
		return FF_EPROTO;
	if ((d->flags & BLK_CF_V4) && sz != 16)
		return FF_EPROTO;
	if (d->codec != BLK_CODEC_RAW && d->codec != BLK_CODEC_ZSTD)
		return FF_EPROTO;
	if (d->codec == BLK_CODEC_ZSTD && d->rep != BLK_REP_FOR &&
	    d->rep != BLK_REP_RAW16)
		return FF_EPROTO;
	if (sz == 16 && (d->flags & BLK_CF_V4))
		sz = 4;
	maxv = sz >= 8 ? UINT64_MAX : ((uint64_t)1 << (8 * sz)) - 1;
	if (d->rep != BLK_REP_RAW16 && !(d->rep == BLK_REP_CONST && sz == 16) &&
	    d->base > maxv)
		return FF_EPROTO;

	switch (d->rep) {
	case BLK_REP_CONST:
		if (d->width != 0)
			return FF_EPROTO;
		if (sz == 16) {
			if (d->base != 0)
				return FF_EPROTO;
			*raw = 16;
		} else
			*raw = 0;
		break;
	case BLK_REP_FOR:
		if (sz == 16)
			return FF_EPROTO;
		if ((d->width != 1 && d->width != 2 && d->width != 4 &&
		    d->width != 8) || d->width > sz)
			return FF_EPROTO;
		*raw = n * d->width;
		break;
	case BLK_REP_RAW16:
		if (sz != 16 || d->width != 16 || d->base != 0)
			return FF_EPROTO;
		*raw = n * 16;
		break;
	case BLK_REP_BITS:
		if (sz == 16 || d->width == 0 || d->width > BLK_BITS_MAX ||
		    d->width > 8 * sz)
			return FF_EPROTO;
		*raw = (n * d->width + 7) / 8;
		break;
	case BLK_REP_DICT: {
		unsigned nd, w;

		if (sz == 16 || d->width == 0 || d->width > 8 || d->clen < 2)
			return FF_EPROTO;
		nd = (unsigned)p[0] + 1;
		w = p[1];
		if (nd < 2 || bits_of(nd - 1) != d->width ||
		    (w != 1 && w != 2 && w != 4 && w != 8) || w > sz)
			return FF_EPROTO;
		*raw = 2 + (size_t)nd * w + (n * d->width + 7) / 8;
		break;
	}
	case BLK_REP_ADICT: {
		uint64_t n4, n6;

		/* only in the 16-byte size: the flag says what it holds */
		if (version < 2 || store_col_width(c) != 16 || d->base != 0 ||
		    d->codec != BLK_CODEC_RAW || d->clen < BLK_ADICT_HDR)
			return FF_EPROTO;
		n4 = le32(p);
		n6 = le32(p + 4);
		if (n4 + n6 < 2 || n4 + n6 > STORE_DICT_MAX ||
		    ((d->flags & BLK_CF_V4) != 0) != (n6 == 0) ||
		    d->width != bits_of(n4 + n6 - 1))
			return FF_EPROTO;
		*raw = BLK_ADICT_HDR + (size_t)n4 * 4 + (size_t)n6 * 16 +
		    (n * d->width + 7) / 8;
		break;
	}
	default:
		return FF_EPROTO;
	}
	if (d->codec == BLK_CODEC_RAW && d->clen != *raw)
		return FF_EPROTO;
	if (d->codec == BLK_CODEC_ZSTD && (d->clen == 0 || *raw == 0))
		return FF_EPROTO;
	return 0;
}

/* The stored bytes of a column a block does not store (see parse_dir). */
static const uint8_t absent16[16];

/*
 * Parse and check the header and directory: rows, entries, each column's
 * stored bytes and raw length. The columns past the block's ncols (added
 * to the table after the block was written) get a CONST 0 entry: an
 * address reads as ::, a number as 0. Returns 0 or FF_EPROTO.
 */
static int
parse_dir(const uint8_t *buf, size_t len, uint32_t *rowsp,
    blk_coldesc_t *desc, const uint8_t **data, size_t *raws)
{
	unsigned ncols;
	uint32_t rows;
	size_t off;

	if (len < BLK_HDR_LEN || memcmp(buf, BLK_MAGIC, 4) != 0 ||
	    buf[4] < BLK_VERSION_MIN || buf[4] > BLK_VERSION ||
	    buf[5] < 1 || buf[5] > STORE_COL_COUNT ||
	    buf[6] != 0 || buf[7] != 0)
		return FF_EPROTO;
	ncols = buf[5];
	off = BLK_HDR_LEN + (size_t)ncols * BLK_DIR_LEN;
	if (len < off)
		return FF_EPROTO;
	rows = le32(buf + 8);
	if (rows > STORE_BLOCK_ROWS_MAX)
		return FF_EPROTO;
	for (unsigned c = 0; c < ncols; c++) {
		const uint8_t *p = buf + BLK_HDR_LEN + (size_t)c * BLK_DIR_LEN;
		blk_coldesc_t *d = &desc[c];

		d->rep = p[0];
		d->codec = p[1];
		d->width = p[2];
		d->flags = p[3];
		d->clen = le32(p + 4);
		d->base = le64(p + 8);
		if (d->clen > len - off)
			return FF_EPROTO;
		if (check_col((int)c, buf[4], rows, d, buf + off,
		    &raws[c]) != 0)
			return FF_EPROTO;
		data[c] = buf + off;
		off += d->clen;
	}
	if (off != len)
		return FF_EPROTO;
	for (unsigned c = ncols; c < STORE_COL_COUNT; c++) {
		blk_coldesc_t *d = &desc[c];

		memset(d, 0, sizeof(*d));
		d->rep = BLK_REP_CONST;
		d->clen = store_col_width(c) == 16 ? 16 : 0;
		raws[c] = d->clen;
		data[c] = absent16;
	}
	*rowsp = rows;
	return 0;
}

int
blk_describe(const uint8_t *buf, size_t len, uint32_t *rows,
    blk_coldesc_t *desc)
{
	blk_coldesc_t tmp[STORE_COL_COUNT];
	const uint8_t *data[STORE_COL_COUNT];
	size_t raws[STORE_COL_COUNT];

	return parse_dir(buf, len, rows, desc != NULL ? desc : tmp, data,
	    raws);
}

/* --- unpacking (decoder) ------------------------------------------------- */

/* FOR rows of W bytes, each one little-endian load (vectorizes). */
#define UNPACK_ROWS(T, W) do {						\
	for (size_t i_ = 0; i_ < n; i_++)				\
		out[i_] = (T)(base + LE_LOAD##W(in + i_ * (W)));	\
} while (0)
#define LE_LOAD1(p)	(*(p))
#define LE_LOAD2(p)	le16(p)
#define LE_LOAD4(p)	le32(p)
#define LE_LOAD8(p)	le64(p)

/* The bits of a packed stream from bit `bit` on (at least 57 of them). */
static inline uint64_t
bits_at(const uint8_t *in, size_t len, size_t bit)
{
	size_t b = bit >> 3;
	uint64_t w = 0;

	if (b + 8 <= len)
		w = le64(in + b);
	else
		for (size_t j = 0; b + j < len; j++)
			w |= (uint64_t)in[b + j] << (8 * j);
	return w >> (bit & 7);
}

/*
 * Run STORE(i, x) for each of the n values x of k bits (1 <= k <= 56)
 * packed LSB first in the len bytes at in: eight rows at a time (they
 * take k bytes) with one unaligned load each, while the loads stay
 * inside the bytes; bits_at() for the last rows.
 */
#define FOR_BITS(in, len, n, k, STORE) do {				\
	const uint64_t m_ = ((uint64_t)1 << (k)) - 1;			\
	const size_t last_ = (7 * (size_t)(k)) >> 3;			\
	size_t g_, ng_ = 0;						\
									\
	if ((len) >= last_ + 8)						\
		ng_ = ((len) - last_ - 8) / (k) + 1;			\
	if (ng_ > (n) / 8)						\
		ng_ = (n) / 8;						\
	for (g_ = 0; g_ < ng_; g_++) {					\
		const uint8_t *p_ = (in) + g_ * (k);			\
									\
		FOR_BITS_ONE(0, k, STORE);				\
		FOR_BITS_ONE(1, k, STORE);				\
		FOR_BITS_ONE(2, k, STORE);				\
		FOR_BITS_ONE(3, k, STORE);				\
		FOR_BITS_ONE(4, k, STORE);				\
		FOR_BITS_ONE(5, k, STORE);				\
		FOR_BITS_ONE(6, k, STORE);				\
		FOR_BITS_ONE(7, k, STORE);				\
	}								\
	for (size_t i_ = ng_ * 8; i_ < (n); i_++) {			\
		uint64_t x_ = bits_at((in), (len), i_ * (k)) & m_;	\
									\
		STORE(i_, x_);						\
	}								\
} while (0)
/* Row j of a group of eight (p_ its first byte). */
#define FOR_BITS_ONE(j, k, STORE) do {					\
	uint64_t x_ = (le64(p_ + (((j) * (size_t)(k)) >> 3)) >>	\
	    (((j) * (unsigned)(k)) & 7)) & m_;				\
									\
	STORE(g_ * 8 + (j), x_);					\
} while (0)

/*
 * Per value type: decode the checked column dc (its len bytes at in, after
 * decompression) of n rows into out.
 */
#define DEF_UNPACK(T, SFX)						\
static void								\
unpack_##SFX(const blk_coldesc_t *dc, const uint8_t *in, size_t len,	\
    size_t n, T *out)							\
{									\
	uint64_t base = dc->base;					\
	unsigned k = dc->width;						\
									\
	switch (dc->rep) {						\
	case BLK_REP_CONST:						\
		for (size_t i = 0; i < n; i++)				\
			out[i] = (T)base;				\
		return;							\
	case BLK_REP_BITS:						\
		FOR_BITS(in, len, n, k, UNPACK_BASE);			\
		return;							\
	case BLK_REP_DICT: {						\
		unsigned nd = (unsigned)in[0] + 1, w = in[1];		\
		const uint8_t *codes = in + 2 + (size_t)nd * w;		\
		size_t clen = len - 2 - (size_t)nd * w;			\
		T tab[256];						\
									\
		for (unsigned j = 0; j < 256; j++)			\
			tab[j] = (T)base;				\
		for (unsigned j = 0; j < nd; j++) {			\
			uint64_t x = 0;					\
									\
			for (unsigned b = 0; b < w; b++)		\
				x |= (uint64_t)in[2 + j * w + b] << (8 * b); \
			tab[j] = (T)(base + x);				\
		}							\
		FOR_BITS(codes, clen, n, k, UNPACK_TAB);		\
		return;							\
	}								\
	}								\
	/* BLK_REP_FOR */						\
	switch (k) {							\
	case 1:								\
		UNPACK_ROWS(T, 1);					\
		break;							\
	case 2:								\
		UNPACK_ROWS(T, 2);					\
		break;							\
	case 4:								\
		UNPACK_ROWS(T, 4);					\
		break;							\
	default:							\
		UNPACK_ROWS(T, 8);					\
		break;							\
	}								\
}

#define UNPACK_BASE(i, x)	(out[(i)] = (__typeof__(*out))(base + (x)))
#define UNPACK_TAB(i, x)	(out[(i)] = tab[(x)])
DEF_UNPACK(uint64_t, u64)
DEF_UNPACK(uint32_t, u32)
DEF_UNPACK(uint16_t, u16)
DEF_UNPACK(uint8_t, u8)

blk_dec_t *
blk_dec_new(void)
{
	blk_dec_t *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	if ((d->dctx = ZSTD_createDCtx()) == NULL) {
		free(d);
		return NULL;
	}
	return d;
}

void
blk_dec_free(blk_dec_t *d)
{
	if (d == NULL)
		return;
	ZSTD_freeDCtx(d->dctx);
	free(d->raw);
	for (int c = 0; c < STORE_COL_COUNT; c++) {
		free(d->arr[c]);
		free(d->arr4[c]);
	}
	for (int a = 0; a < STORE_COL_COUNT; a++) {
		free(d->code[a]);
		free(d->e4[a]);
		free(d->e16[a]);
	}
	free(d->x16);
	free(d);
}

void
blk_dec_set_dict(blk_dec_t *d, uint32_t dcols)
{
	d->dcols = dcols & STORE_COLS_ADDR;
}

/* Make room for n rows of column c (v4: IPv4 form). */
static int
dec_room(blk_dec_t *d, int c, size_t n, int v4)
{
	size_t rows = n < 1024 ? 1024 : n;
	void *p;

	if (v4) {
		if (d->cap4[c] >= rows)
			return 0;
		if ((p = realloc(d->arr4[c], rows * 4)) == NULL)
			return FF_ENOMEM;
		d->arr4[c] = p;
		d->cap4[c] = rows;
	} else {
		if (d->cap[c] >= rows)
			return 0;
		if ((p = realloc(d->arr[c], rows * store_col_width(c))) == NULL)
			return FF_ENOMEM;
		d->arr[c] = p;
		d->cap[c] = rows;
	}
	return 0;
}

/*
 * Unpack n codes of k bits (the len bytes at in) into code[]; 1 if one
 * of them is nd or more.
 */
static int
unpack_codes(const uint8_t *in, size_t len, size_t n, unsigned k,
    uint32_t nd, uint16_t *code)
{
	uint64_t mx = 0;

#define CODE_STORE(i, x) do {						\
	mx = (x) > mx ? (x) : mx;					\
	code[(i)] = (uint16_t)(x);					\
} while (0)
	/* a constant width lets the compiler fold the shifts */
	switch (k) {
#define CODE_K(K) case K: FOR_BITS(in, len, n, K, CODE_STORE); break;
	CODE_K(1) CODE_K(2) CODE_K(3) CODE_K(4) CODE_K(5) CODE_K(6)
	CODE_K(7) CODE_K(8) CODE_K(9) CODE_K(10) CODE_K(11) CODE_K(12)
	CODE_K(13) CODE_K(14) CODE_K(15) CODE_K(16)
#undef CODE_K
	default:
		return 1;
	}
#undef CODE_STORE
	return mx >= nd;
}

/*
 * Decode ADICT column c (the checked dc, its len bytes at in) of n rows:
 * into its dictionary form when asked for (d->dcols), else into rows.
 * Returns 0, FF_EPROTO or FF_ENOMEM.
 */
static int
dec_adict(blk_dec_t *d, int c, const blk_coldesc_t *dc, const uint8_t *in,
    size_t len, size_t n, store_colbatch_t *cb)
{
	unsigned a = (unsigned)c, k = dc->width;
	uint32_t n4 = le32(in), n6 = le32(in + 4), nd = n4 + n6;
	const uint8_t *p4 = in + BLK_ADICT_HDR, *p6 = p4 + (size_t)n4 * 4;
	const uint8_t *codes = p6 + (size_t)n6 * 16;
	store_coldict_t *cd = &cb->dicts[c];
	int rc;

	if ((rc = blk_grow((void **)&d->code[a], &d->codecap[a], n * 2 + 2)) != 0 ||
	    (rc = blk_grow((void **)&d->e4[a], &d->e4cap[a], n4 * 4 + 4)) != 0 ||
	    (rc = blk_grow((void **)&d->e16[a], &d->e16cap[a],
	    (size_t)n6 * 16 + 16)) != 0)
		return rc;
	for (uint32_t j = 0; j < n4; j++)
		d->e4[a][j] = le32(p4 + (size_t)j * 4);
	for (uint32_t j = 0; j < n6; j++) {
		memcpy(d->e16[a][j], p6 + (size_t)j * 16, 16);
		if (addr_is_v4(d->e16[a][j]))
			return FF_EPROTO;
	}
	if (unpack_codes(codes, len - (size_t)(codes - in), n, k, nd,
	    d->code[a]))
		return FF_EPROTO;
	if (d->dcols & STORE_COLBIT(c)) {
		cd->code = d->code[a];
		cd->n = nd;
		cd->n4 = n4;
		cd->e4 = d->e4[a];
		cd->e16 = (const uint8_t (*)[16])d->e16[a];
		cb->dict |= STORE_COLBIT(c);
		return 0;
	}
	if (n6 == 0) {
		uint32_t *out;

		if ((rc = dec_room(d, c, n, 1)) != 0)
			return rc;
		out = d->arr4[c];
		for (size_t i = 0; i < n; i++)
			out[i] = d->e4[a][d->code[a][i]];
		cb_set(cb, c, out, 1);
		cb->v4 |= STORE_COLBIT(c);
	} else {
		uint8_t (*out)[16];
		uint8_t b[4];

		if ((rc = dec_room(d, c, n, 0)) != 0 ||
		    (rc = blk_grow((void **)&d->x16, &d->x16cap,
		    (size_t)nd * 16)) != 0)
			return rc;
		for (uint32_t j = 0; j < n4; j++) {
			put_be32(b, d->e4[a][j]);
			addr_from_v4(d->x16[j], b);
		}
		memcpy(d->x16 + n4, d->e16[a], (size_t)n6 * 16);
		out = d->arr[c];
		for (size_t i = 0; i < n; i++)
			memcpy(out[i], d->x16[d->code[a][i]], 16);
		cb_set(cb, c, out, 0);
	}
	return 0;
}

/*
 * The dictionary form of IPv4 address column c stored as DICT (the
 * checked dc, its len bytes at in) of n rows: 2^width entries, those
 * past the stored ones the base (as the rows decode them).
 */
static int
dec_dict4(blk_dec_t *d, int c, const blk_coldesc_t *dc, const uint8_t *in,
    size_t len, size_t n, store_colbatch_t *cb)
{
	unsigned a = (unsigned)c, k = dc->width, nd = (unsigned)in[0] + 1;
	unsigned w = in[1], ne = 1u << k;
	const uint8_t *codes = in + 2 + (size_t)nd * w;
	store_coldict_t *cd = &cb->dicts[c];
	int rc;

	if ((rc = blk_grow((void **)&d->code[a], &d->codecap[a], n * 2 + 2)) != 0 ||
	    (rc = blk_grow((void **)&d->e4[a], &d->e4cap[a], ne * 4)) != 0)
		return rc;
	for (unsigned j = 0; j < ne; j++) {
		uint64_t x = 0;

		if (j < nd)
			for (unsigned b = 0; b < w; b++)
				x |= (uint64_t)in[2 + j * w + b] << (8 * b);
		d->e4[a][j] = (uint32_t)(dc->base + x);
	}
	(void)unpack_codes(codes, len - 2 - (size_t)nd * w, n, k, ne,
	    d->code[a]);
	cd->code = d->code[a];
	cd->n = cd->n4 = ne;
	cd->e4 = d->e4[a];
	cd->e16 = NULL;
	cb->dict |= STORE_COLBIT(c);
	return 0;
}

/*
 * The largest value integer column dc (checked; in: its bytes after
 * decompression) can hold, by its packing.
 */
static uint64_t
col_bound(const blk_coldesc_t *dc, const uint8_t *in)
{
	unsigned bits;
	uint64_t span;

	switch (dc->rep) {
	case BLK_REP_CONST:
		return dc->base;
	case BLK_REP_BITS:
		bits = dc->width;
		break;
	case BLK_REP_DICT:
		bits = 8 * (unsigned)in[1];
		break;
	default:
		bits = 8 * (unsigned)dc->width;
		break;
	}
	if (bits >= 64)
		return UINT64_MAX;
	span = ((uint64_t)1 << bits) - 1;
	return span > UINT64_MAX - dc->base ? UINT64_MAX : dc->base + span;
}

int
blk_decode(blk_dec_t *d, const uint8_t *buf, size_t len, uint32_t cols,
    store_colbatch_t *cb)
{
	blk_coldesc_t desc[STORE_COL_COUNT];
	const uint8_t *data[STORE_COL_COUNT];
	size_t raws[STORE_COL_COUNT], n;
	uint64_t bound[STORE_COL_COUNT];
	uint32_t rows;
	int rc;

	memset(cb, 0, sizeof(*cb));
	if (parse_dir(buf, len, &rows, desc, data, raws) != 0)
		return FF_EPROTO;
	n = rows;
	cols &= STORE_COLS_ALL;
	for (int c = 0; c < STORE_COL_COUNT; c++) {
		const blk_coldesc_t *dc = &desc[c];
		const uint8_t *in = data[c];
		int v4 = (dc->flags & BLK_CF_V4) != 0;
		void *out;

		if (!(cols & STORE_COLBIT(c)))
			continue;
		if (dc->rep == BLK_REP_ADICT) {
			if ((rc = dec_adict(d, c, dc, in, raws[c], n, cb)) != 0)
				return rc;
			continue;
		}
		if (v4 && dc->rep == BLK_REP_DICT &&
		    (d->dcols & STORE_COLBIT(c))) {
			if ((rc = dec_dict4(d, c, dc, in, raws[c], n, cb)) != 0)
				return rc;
			continue;
		}
		if ((rc = dec_room(d, c, n, v4)) != 0)
			return rc;
		out = v4 ? (void *)d->arr4[c] : d->arr[c];

		if (dc->codec == BLK_CODEC_ZSTD) {
			unsigned long long fcs;
			size_t r;

			if ((rc = blk_grow((void **)&d->raw, &d->rawcap,
			    raws[c])) != 0)
				return rc;
			fcs = ZSTD_getFrameContentSize(in, dc->clen);
			if (fcs != raws[c])
				return FF_EPROTO;
			r = ZSTD_decompressDCtx(d->dctx, d->raw, raws[c], in,
			    dc->clen);
			if (ZSTD_isError(r) || r != raws[c])
				return FF_EPROTO;
			in = d->raw;
		}

		if (store_col_width(c) != 16)
			bound[c] = col_bound(dc, in);
		if (store_col_width(c) == 16 && !v4) {
			uint8_t (*a)[16] = out;

			if (dc->rep == BLK_REP_CONST) {
				for (size_t i = 0; i < n; i++)
					memcpy(a[i], in, 16);
			} else
				memcpy(a, in, n * 16);
		} else {
			switch (v4 ? 4 : store_col_width(c)) {
			case 8:
				unpack_u64(dc, in, raws[c], n, out);
				break;
			case 4:
				unpack_u32(dc, in, raws[c], n, out);
				break;
			case 2:
				unpack_u16(dc, in, raws[c], n, out);
				break;
			default:
				unpack_u8(dc, in, raws[c], n, out);
				break;
			}
		}
		cb_set(cb, c, out, v4);
		if (v4)
			cb->v4 |= STORE_COLBIT(c);
	}
	cb->n = n;
	cb->cols = cols;
	if ((cols & STORE_COLBIT(STORE_COL_BYTES)) &&
	    (cols & STORE_COLBIT(STORE_COL_PACKETS)))
		cb->fits = n == 0 || (bound[STORE_COL_BYTES] < UINT64_MAX / n &&
		    bound[STORE_COL_PACKETS] < UINT64_MAX / n);
	return 0;
}
