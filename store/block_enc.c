/*
 * The block encoder (layout in block.h): per column and block it picks
 * the smallest packing (constant, frame of reference in bytes or bits,
 * a dictionary of values or of addresses), and zstd only where that
 * pays for its cost. The blocks go into LMDB through storage.c.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "common/err.h"
#include "common/util.h"
#include "block.h"

/* Columns shorter than this are not worth a zstd frame. */
#define BLK_ZSTD_MIN	64

/*
 * zstd costs far more than packing, in proportion to the bytes it reads
 * (bench_store). A column is stored zstd-compressed only when that saves,
 * against its best packing (FOR, BITS or DICT), at least 1/BLK_ZSTD_GAIN
 * of the FOR bytes zstd had to read; when it does not, the encoder does
 * not try zstd on that column for the next BLK_ZSTD_RETRY blocks.
 */
#define BLK_ZSTD_GAIN	4
#define BLK_ZSTD_RETRY	16

#define V4MAPPED_LO	0x0000ffff00000000ULL	/* ::ffff:0.0.0.0, low word */
#define BLK_DIRECT	4096	/* dictionaries of smaller ranges: a table */
#define BLK_HASH_BITS	10
#define BLK_HASH	(1 << BLK_HASH_BITS)

struct blk_enc {
	ZSTD_CCtx *cctx;
	int level;
	uint8_t *out;		/* the encoded block */
	size_t outcap;
	uint8_t *tmp;		/* one column's packed bytes */
	size_t tmpcap;
	uint32_t *v4;		/* one address column as IPv4 integers */
	size_t v4cap;
	uint8_t *codes;		/* dictionary code per row */
	size_t codescap;
	uint64_t dict[256];	/* dictionary entries (deltas) */
	uint16_t direct[BLK_DIRECT];	/* small ranges: delta -> code + 1 */
	uint64_t hkey[BLK_HASH];	/* large ranges: open addressing */
	uint8_t hcode[BLK_HASH];
	uint8_t hused[BLK_HASH];
	uint8_t zskip[STORE_COL_COUNT];	/* blocks to store column c unzstd'd */
	/* the address dictionary of one column (adict_build) */
	uint32_t *aslot;	/* hash slots: entry + 1, 0 empty */
	size_t aslotcap;
	uint64_t *ahi, *alo;	/* entries, STORE_DICT_MAX of each */
	uint32_t *aremap;	/* entry -> code (IPv4 entries first) */
	uint32_t *aprov;	/* per row: entry */
	size_t aprovcap;
	uint32_t an, an4;	/* entries, IPv4 ones among them */
};

static uint32_t
v4_of(const uint8_t a[16])
{
	return be32(a + 12);
}

/* --- batch column access (columns.def) ------------------------------------ */

/* Column c of cb: its rows (v4: the IPv4 form of an address column). */
#define CB_GET_U8(id, name)	case STORE_COL_##id: return cb->name;
#define CB_GET_U16(id, name)	case STORE_COL_##id: return cb->name;
#define CB_GET_U32(id, name)	case STORE_COL_##id: return cb->name;
#define CB_GET_U64(id, name)	case STORE_COL_##id: return cb->name;
#define CB_GET_ADDR(id, name)	case STORE_COL_##id: \
	return v4 ? (const void *)cb->name##4 : (const void *)cb->name##16;

static const void *
cb_get(const store_colbatch_t *cb, int c, int v4)
{
	switch (c) {
#define STORE_COLUMN(id, name, type, rank, filter, list) CB_GET_##type(id, name)
#include "store/columns.def"
#undef STORE_COLUMN
	}
	return NULL;
}

/* --- packing (encoder) --------------------------------------------------- */

/* Rows one after the other, little-endian. */
#define PACK_ROWS(T, W) do {						\
	for (size_t i_ = 0; i_ < n; i_++) {				\
		uint64_t d_ = (uint64_t)(T)(v[i_] - min);		\
		for (unsigned j_ = 0; j_ < (W); j_++)			\
			o[i_ * (W) + j_] = (uint8_t)(d_ >> (8 * j_));	\
	}								\
} while (0)

/*
 * Per value type: min/max; FOR byte packing; bit packing of k <= 56 bits
 * per row; and a dictionary of at most 256 distinct values (codes[i] per
 * row, dict[] the distinct deltas from min), which returns the number of
 * entries or 0 beyond 256.
 */
#define DEF_INT_FNS(T, SFX)						\
static void								\
minmax_##SFX(const T *v, size_t n, uint64_t *mnp, uint64_t *mxp)	\
{									\
	/* four independent lanes: no chain of dependent compares */	\
	T mn[4] = { v[0], v[0], v[0], v[0] }, mx[4] = { v[0], v[0],	\
	    v[0], v[0] };						\
	size_t i = 0;							\
									\
	for (; i + 4 <= n; i += 4)					\
		for (unsigned l = 0; l < 4; l++) {			\
			mn[l] = v[i + l] < mn[l] ? v[i + l] : mn[l];	\
			mx[l] = v[i + l] > mx[l] ? v[i + l] : mx[l];	\
		}							\
	for (; i < n; i++) {						\
		mn[0] = v[i] < mn[0] ? v[i] : mn[0];			\
		mx[0] = v[i] > mx[0] ? v[i] : mx[0];			\
	}								\
	for (unsigned l = 1; l < 4; l++) {				\
		mn[0] = mn[l] < mn[0] ? mn[l] : mn[0];			\
		mx[0] = mx[l] > mx[0] ? mx[l] : mx[0];			\
	}								\
	*mnp = mn[0];							\
	*mxp = mx[0];							\
}									\
									\
static void								\
pack_##SFX(const T *v, size_t n, T min, unsigned w, uint8_t *o)	\
{									\
	switch (w) {							\
	case 1:								\
		PACK_ROWS(T, 1);					\
		break;							\
	case 2:								\
		PACK_ROWS(T, 2);					\
		break;							\
	case 4:								\
		PACK_ROWS(T, 4);					\
		break;							\
	default:							\
		PACK_ROWS(T, 8);					\
		break;							\
	}								\
}									\
									\
static size_t								\
packbits_##SFX(const T *v, size_t n, T min, unsigned k, uint8_t *o)	\
{									\
	uint64_t acc = 0;						\
	unsigned nb = 0;						\
	size_t p = 0;							\
									\
	for (size_t i = 0; i < n; i++) {				\
		uint64_t x = (uint64_t)(T)(v[i] - min);			\
									\
		acc |= x << nb;						\
		nb += k;						\
		if (nb >= 64) {						\
			put_le64(o + p, acc);				\
			p += 8;						\
			nb -= 64;					\
			acc = nb ? x >> (k - nb) : 0;			\
		}							\
	}								\
	for (; nb > 0; nb = nb > 8 ? nb - 8 : 0) {			\
		o[p++] = (uint8_t)acc;					\
		acc >>= 8;						\
	}								\
	return p;							\
}									\
									\
static unsigned								\
dict_##SFX(blk_enc_t *e, const T *v, size_t n, T min, uint64_t span)	\
{									\
	unsigned d = 0;							\
									\
	if (span < BLK_DIRECT) {					\
		uint16_t *tab = e->direct;				\
									\
		memset(tab, 0, ((size_t)span + 1) * sizeof(*tab));	\
		for (size_t i = 0; i < n; i++) {			\
			T x = (T)(v[i] - min);				\
			unsigned c = tab[x];				\
									\
			if (c == 0) {					\
				if (d == 256)				\
					return 0;			\
				e->dict[d] = x;				\
				tab[x] = (uint16_t)(c = ++d);		\
			}						\
			e->codes[i] = (uint8_t)(c - 1);			\
		}							\
		return d;						\
	}								\
	memset(e->hused, 0, sizeof(e->hused));				\
	for (size_t i = 0; i < n; i++) {				\
		uint64_t x = (uint64_t)(T)(v[i] - min);			\
		unsigned h = (unsigned)((x * 0x9e3779b97f4a7c15ull) >>	\
		    (64 - BLK_HASH_BITS));				\
									\
		while (e->hused[h] && e->hkey[h] != x)			\
			h = (h + 1) & (BLK_HASH - 1);			\
		if (!e->hused[h]) {					\
			if (d == 256)					\
				return 0;				\
			e->hused[h] = 1;				\
			e->hkey[h] = x;					\
			e->hcode[h] = (uint8_t)d;			\
			e->dict[d++] = x;				\
		}							\
		e->codes[i] = e->hcode[h];				\
	}								\
	return d;							\
}

static size_t
packbits_codes(const uint8_t *v, size_t n, unsigned k, uint8_t *o);

DEF_INT_FNS(uint64_t, u64)
DEF_INT_FNS(uint32_t, u32)
DEF_INT_FNS(uint16_t, u16)
DEF_INT_FNS(uint8_t, u8)

static size_t
packbits_codes(const uint8_t *v, size_t n, unsigned k, uint8_t *o)
{
	return packbits_u8(v, n, 0, k, o);
}

/*
 * Try zstd on the in_len bytes at in, into out, keeping the frame only
 * when it is at most limit bytes. Returns its length or 0.
 */
static size_t
try_zstd(blk_enc_t *e, int c, const uint8_t *in, size_t in_len,
    uint8_t *out, size_t limit)
{
	size_t z;

	if (in_len < BLK_ZSTD_MIN || limit == 0)
		return 0;
	z = ZSTD_compress2(e->cctx, out, limit, in, in_len);
	if (ZSTD_isError(z) || z == 0) {
		e->zskip[c] = BLK_ZSTD_RETRY;
		return 0;
	}
	return z;
}

/* FOR bytes of width w of values v of size sz. */
static void
pack_for(const void *v, unsigned sz, size_t n, uint64_t mn, unsigned w,
    uint8_t *o)
{
	switch (sz) {
	case 8: pack_u64(v, n, mn, w, o); break;
	case 4: pack_u32(v, n, (uint32_t)mn, w, o); break;
	case 2: pack_u16(v, n, (uint16_t)mn, w, o); break;
	default: pack_u8(v, n, (uint8_t)mn, w, o); break;
	}
}

/*
 * Encode integer column c (values v of natural size sz, n > 0 rows) into
 * out: fills d and returns the stored length. alt is the length of
 * another packing the caller can write (SIZE_MAX: none): when it is the
 * smallest, d->rep is set to BLK_REP_ADICT and nothing is written.
 */
static size_t
enc_int(blk_enc_t *e, int c, const void *v, unsigned sz, size_t n,
    blk_coldesc_t *d, uint8_t *out, uint64_t *minp, uint64_t *maxp,
    size_t alt)
{
	uint64_t mn, mx, span;
	size_t s_for, s_bits = SIZE_MAX, s_dict = SIZE_MAX, best, z;
	unsigned w, kb, kd = 0, nd = 0;

	switch (sz) {
	case 8:	minmax_u64(v, n, &mn, &mx); break;
	case 4:	minmax_u32(v, n, &mn, &mx); break;
	case 2:	minmax_u16(v, n, &mn, &mx); break;
	default: minmax_u8(v, n, &mn, &mx); break;
	}
	if (minp != NULL) {
		*minp = mn;
		*maxp = mx;
	}
	d->base = mn;
	span = mx - mn;
	if (span == 0) {
		d->rep = BLK_REP_CONST;
		return 0;
	}
	kb = bits_of(span);
	w = kb <= 8 ? 1 : kb <= 16 ? 2 : kb <= 32 ? 4 : 8;
	s_for = n * w;
	if (kb <= BLK_BITS_MAX)
		s_bits = (n * kb + 7) / 8;

	/* a dictionary pays when it needs fewer bits than the range */
	if (kb > 1) {
		switch (sz) {
		case 8: nd = dict_u64(e, v, n, mn, span); break;
		case 4: nd = dict_u32(e, v, n, (uint32_t)mn, span); break;
		case 2: nd = dict_u16(e, v, n, (uint16_t)mn, span); break;
		default: nd = dict_u8(e, v, n, (uint8_t)mn, span); break;
		}
		if (nd >= 2) {
			kd = bits_of(nd - 1);
			if (kd < kb)
				s_dict = 2 + (size_t)nd * w + (n * kd + 7) / 8;
		}
	}
	best = FF_MIN(FF_MIN(s_for, alt), FF_MIN(s_bits, s_dict));

	/* zstd over the FOR bytes, when it beats the best packing well */
	d->rep = BLK_REP_FOR;
	d->width = (uint8_t)w;
	if (e->zskip[c] > 0)
		e->zskip[c]--;
	else if (s_for >= BLK_ZSTD_MIN && best > s_for / BLK_ZSTD_GAIN) {
		pack_for(v, sz, n, mn, w, e->tmp);
		if ((z = try_zstd(e, c, e->tmp, s_for, out,
		    best - s_for / BLK_ZSTD_GAIN)) > 0) {
			d->codec = BLK_CODEC_ZSTD;
			return z;
		}
	}
	if (best == s_for) {
		pack_for(v, sz, n, mn, w, out);
		return s_for;
	}
	if (best == alt) {
		d->rep = BLK_REP_ADICT;
		d->width = 0;
		d->base = 0;
		return 0;
	}
	if (best == s_bits) {
		d->rep = BLK_REP_BITS;
		d->width = (uint8_t)kb;
		switch (sz) {
		case 8: return packbits_u64(v, n, mn, kb, out);
		case 4: return packbits_u32(v, n, (uint32_t)mn, kb, out);
		case 2: return packbits_u16(v, n, (uint16_t)mn, kb, out);
		default: return packbits_u8(v, n, (uint8_t)mn, kb, out);
		}
	}
	d->rep = BLK_REP_DICT;
	d->width = (uint8_t)kd;
	out[0] = (uint8_t)(nd - 1);
	out[1] = (uint8_t)w;
	for (unsigned i = 0; i < nd; i++)
		for (unsigned j = 0; j < w; j++)
			out[2 + i * w + j] = (uint8_t)(e->dict[i] >> (8 * j));
	return 2 + (size_t)nd * w +
	    packbits_codes(e->codes, n, kd, out + 2 + (size_t)nd * w);
}

static inline int
key_v4(uint64_t hi, uint64_t lo)
{
	return hi == 0 && (lo >> 32) == 0xffff;
}

/*
 * Build the dictionary of an address column's n rows (a: 16-byte rows,
 * or v: IPv4 integers when a is NULL): the distinct addresses as (hi, lo)
 * words in e->ahi/e->alo (e->an of them in order of first appearance,
 * e->an4 of them IPv4), the entry of each row in e->aprov. Returns the
 * ADICT stored length, or SIZE_MAX when there are more than
 * STORE_DICT_MAX distinct addresses or the dictionary cannot be shorter
 * than limit bytes.
 */
static size_t
adict_build(blk_enc_t *e, const uint8_t (*a)[16], const uint32_t *v,
    size_t n, size_t limit)
{
	size_t cap = 1024, mask, len;
	unsigned shift = 54;
	uint32_t d = 0, n4 = 0;

	if (n < 2)
		return SIZE_MAX;
	while (cap < 2 * FF_MIN(n, (size_t)STORE_DICT_MAX)) {
		cap *= 2;
		shift--;
	}
	if (blk_grow((void **)&e->aslot, &e->aslotcap, cap * 4) != 0 ||
	    blk_grow((void **)&e->aprov, &e->aprovcap, n * 4) != 0)
		return SIZE_MAX;
	memset(e->aslot, 0, cap * 4);
	mask = cap - 1;
	for (size_t i = 0; i < n; i++) {
		uint64_t hi, lo, x;
		size_t h;

		if (a != NULL) {
			hi = be64(a[i]);
			lo = be64(a[i] + 8);
		} else {
			hi = 0;
			lo = V4MAPPED_LO | v[i];
		}
		x = lo ^ (hi * 0xc2b2ae3d27d4eb4fULL);
		x ^= x >> 31;
		for (h = (size_t)((x * 0x9e3779b97f4a7c15ULL) >> shift);;
		    h = (h + 1) & mask) {
			uint32_t sl = e->aslot[h];

			if (sl == 0) {
				if (d == STORE_DICT_MAX)
					return SIZE_MAX;
				e->ahi[d] = hi;
				e->alo[d] = lo;
				n4 += key_v4(hi, lo);
				e->aprov[i] = d;
				e->aslot[h] = ++d;
				break;
			}
			if (e->ahi[sl - 1] == hi && e->alo[sl - 1] == lo) {
				e->aprov[i] = sl - 1;
				break;
			}
		}
		/* give up as soon as the entries alone are too long */
		if ((i & 1023) == 1023 && BLK_ADICT_HDR + (size_t)n4 * 4 +
		    (size_t)(d - n4) * 16 + (n * bits_of(d - 1) + 7) / 8 >=
		    limit)
			return SIZE_MAX;
	}
	if (d < 2)
		return SIZE_MAX;
	e->an = d;
	e->an4 = n4;
	len = BLK_ADICT_HDR + (size_t)n4 * 4 + (size_t)(d - n4) * 16 +
	    (n * bits_of(d - 1) + 7) / 8;
	return len < limit ? len : SIZE_MAX;
}

/* Write the dictionary adict_build() made (n rows) at out. */
static size_t
adict_write(blk_enc_t *e, size_t n, blk_coldesc_t *d, uint8_t *out)
{
	uint32_t nd = e->an, n4 = e->an4, k4 = 0, k6 = 0;
	unsigned k = bits_of(nd - 1);
	uint8_t *p4 = out + BLK_ADICT_HDR, *p6 = p4 + (size_t)n4 * 4, *o;
	uint64_t acc = 0;
	unsigned nb = 0;
	size_t p = 0;

	d->rep = BLK_REP_ADICT;
	d->codec = BLK_CODEC_RAW;
	d->width = (uint8_t)k;
	d->base = 0;
	d->flags = n4 == nd ? BLK_CF_V4 : 0;
	put_le32(out, n4);
	put_le32(out + 4, nd - n4);
	for (uint32_t j = 0; j < nd; j++) {
		if (key_v4(e->ahi[j], e->alo[j])) {
			put_le32(p4 + (size_t)k4 * 4, (uint32_t)e->alo[j]);
			e->aremap[j] = k4++;
		} else {
			put_be64(p6 + (size_t)k6 * 16, e->ahi[j]);
			put_be64(p6 + (size_t)k6 * 16 + 8, e->alo[j]);
			e->aremap[j] = n4 + k6++;
		}
	}
	o = p6 + (size_t)(nd - n4) * 16;
	for (size_t i = 0; i < n; i++) {
		uint64_t x = e->aremap[e->aprov[i]];

		acc |= x << nb;
		nb += k;
		if (nb >= 64) {
			put_le64(o + p, acc);
			p += 8;
			nb -= 64;
			acc = nb ? x >> (k - nb) : 0;
		}
	}
	for (; nb > 0; nb = nb > 8 ? nb - 8 : 0) {
		o[p++] = (uint8_t)acc;
		acc >>= 8;
	}
	return (size_t)(o - out) + p;
}

/*
 * An address column: a dictionary when that is smallest; else IPv4
 * integers when every row is IPv4 (given in v4 form, or 16-byte rows
 * that are all IPv4-mapped), else 16-byte rows.
 */
static size_t
enc_addr(blk_enc_t *e, const store_colbatch_t *cb, int c, size_t n,
    blk_coldesc_t *d, uint8_t *out)
{
	const uint8_t (*a)[16] = NULL;
	const uint32_t *v;
	size_t i, z, sa, best, len;
	uint64_t mn, mx;

	if (cb->v4 & STORE_COLBIT(c)) {
		v = cb_get(cb, c, 1);
	} else {
		a = cb_get(cb, c, 0);
		for (i = 0; i < n; i++) {
			if (!addr_is_v4(a[i]))
				break;
			e->v4[i] = v4_of(a[i]);
		}
		if (i < n) {
			/* Mixed or IPv6: constant, dictionary or rows. */
			for (i = 1; i < n; i++)
				if (memcmp(a[i], a[0], 16) != 0)
					break;
			if (i == n) {
				d->rep = BLK_REP_CONST;
				memcpy(out, a[0], 16);
				return 16;
			}
			sa = adict_build(e, a, NULL, n, n * 16);
			best = FF_MIN(n * 16, sa);
			d->rep = BLK_REP_RAW16;
			d->width = 16;
			if (e->zskip[c] > 0)
				e->zskip[c]--;
			else if (best > n * 16 / BLK_ZSTD_GAIN &&
			    (z = try_zstd(e, c, (const uint8_t *)a, n * 16,
			    out, best - n * 16 / BLK_ZSTD_GAIN)) > 0) {
				d->codec = BLK_CODEC_ZSTD;
				return z;
			}
			if (sa != SIZE_MAX)
				return adict_write(e, n, d, out);
			memcpy(out, a, n * 16);
			return n * 16;
		}
		v = e->v4;
	}
	/* IPv4: a dictionary of more than 256 entries, or the integers */
	minmax_u32(v, n, &mn, &mx);
	sa = SIZE_MAX;
	if (mx > mn)
		sa = adict_build(e, NULL, v, n, FF_MIN(n * 4,
		    (n * bits_of(mx - mn) + 7) / 8));
	d->flags |= BLK_CF_V4;
	len = enc_int(e, c, v, 4, n, d, out, NULL, NULL, sa);
	if (d->rep == BLK_REP_ADICT)
		return adict_write(e, n, d, out);
	return len;
}

blk_enc_t *
blk_enc_new(int level)
{
	blk_enc_t *e;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->level = level == 0 ? 1 : level;
	e->ahi = malloc(STORE_DICT_MAX * sizeof(*e->ahi));
	e->alo = malloc(STORE_DICT_MAX * sizeof(*e->alo));
	e->aremap = malloc(STORE_DICT_MAX * sizeof(*e->aremap));
	if (e->ahi == NULL || e->alo == NULL || e->aremap == NULL) {
		blk_enc_free(e);
		return NULL;
	}
	/* A frame checksum lets the decoder catch damaged column bytes. */
	if ((e->cctx = ZSTD_createCCtx()) == NULL ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(e->cctx,
	    ZSTD_c_compressionLevel, e->level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(e->cctx,
	    ZSTD_c_checksumFlag, 1))) {
		blk_enc_free(e);
		return NULL;
	}
	return e;
}

void
blk_enc_free(blk_enc_t *e)
{
	if (e == NULL)
		return;
	ZSTD_freeCCtx(e->cctx);
	free(e->out);
	free(e->tmp);
	free(e->v4);
	free(e->codes);
	free(e->aslot);
	free(e->ahi);
	free(e->alo);
	free(e->aremap);
	free(e->aprov);
	free(e);
}

int
blk_encode(blk_enc_t *e, const store_colbatch_t *cb, const uint8_t **out,
    size_t *len, blk_info_t *info)
{
	size_t n = cb->n, off, maxrow = 0;
	blk_coldesc_t d;
	uint8_t *dir;
	int rc;

	if ((cb->cols & STORE_COLS_ALL) != STORE_COLS_ALL ||
	    n > STORE_BLOCK_ROWS_MAX)
		return FF_EINVAL;
	for (int c = 0; c < STORE_COL_COUNT; c++)
		maxrow += store_col_width(c);
	/* a column never takes more than its rows plus a dictionary */
	if ((rc = blk_grow((void **)&e->out, &e->outcap, BLK_FIXED_LEN +
	    n * maxrow + STORE_COL_COUNT * (2 + 256 * 8))) != 0 ||
	    (rc = blk_grow((void **)&e->tmp, &e->tmpcap, n * 16 + 16)) != 0 ||
	    (rc = blk_grow((void **)&e->v4, &e->v4cap, n * 4 + 4)) != 0 ||
	    (rc = blk_grow((void **)&e->codes, &e->codescap, n + 1)) != 0)
		return rc;

	memset(info, 0, sizeof(*info));
	info->rows = (uint32_t)n;
	memcpy(e->out, BLK_MAGIC, 4);
	e->out[4] = BLK_VERSION;
	e->out[5] = STORE_COL_COUNT;
	e->out[6] = e->out[7] = 0;
	put_le32(e->out + 8, (uint32_t)n);
	off = BLK_FIXED_LEN;
	for (int c = 0; c < STORE_COL_COUNT; c++) {
		uint8_t *o = e->out + off;
		size_t clen;

		memset(&d, 0, sizeof(d));
		if (n == 0) {
			/* no rows: constant 0 (IPv4 0 for addresses) */
			d.rep = BLK_REP_CONST;
			if (store_col_width(c) == 16)
				d.flags = BLK_CF_V4;
			clen = 0;
		} else if (store_col_width(c) == 16) {
			clen = enc_addr(e, cb, c, n, &d, o);
		} else if (c == STORE_COL_FIRST) {
			clen = enc_int(e, c, cb_get(cb, c, 0), 8, n, &d, o,
			    &info->min_first, &info->max_first, SIZE_MAX);
		} else if (c == STORE_COL_LAST) {
			clen = enc_int(e, c, cb_get(cb, c, 0), 8, n, &d, o,
			    &info->min_last, &info->max_last, SIZE_MAX);
		} else {
			clen = enc_int(e, c, cb_get(cb, c, 0), store_col_width(c), n,
			    &d, o, NULL, NULL, SIZE_MAX);
		}
		d.clen = (uint32_t)clen;
		off += clen;

		dir = e->out + BLK_HDR_LEN + (size_t)c * BLK_DIR_LEN;
		dir[0] = d.rep;
		dir[1] = d.codec;
		dir[2] = d.width;
		dir[3] = d.flags;
		put_le32(dir + 4, d.clen);
		put_le64(dir + 8, d.base);
	}
	*out = e->out;
	*len = off;
	return 0;
}
