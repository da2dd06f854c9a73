/*
 * Block encoding and decoding (layout in block.h). The encoder picks per
 * column and block the smallest packing (constant, frame of reference in
 * bytes or bits, dictionary), and zstd only where it pays for its cost;
 * the decoder checks every field of the untrusted block before it touches
 * the data.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "common/err.h"
#include "common/util.h"
#include "block.h"

static const uint8_t blk_magic[4] = { 'F', 'F', 'B', 'K' };

/* Natural size of a column's values; 16 marks an address column. */
static const uint8_t col_size[COL_COUNT] = {
	[COL_FIRST] = 8, [COL_LAST] = 8, [COL_BYTES] = 8, [COL_PACKETS] = 8,
	[COL_SRC] = 16, [COL_DST] = 16, [COL_NEXTHOP] = 16,
	[COL_EXPORTER] = 16,
	[COL_IN_IF] = 4, [COL_OUT_IF] = 4, [COL_SRC_AS] = 4, [COL_DST_AS] = 4,
	[COL_SAMPLING] = 4, [COL_TAGS] = 4,
	[COL_SPORT] = 2, [COL_DPORT] = 2,
	[COL_PROTO] = 1, [COL_TCP_FLAGS] = 1, [COL_TOS] = 1,
	[COL_SRC_MASK] = 1, [COL_DST_MASK] = 1, [COL_FLAGS] = 1
};

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

#define BLK_BITS_MAX	56	/* widest BITS row (one 64-bit load) */
#define BLK_ADICT_HDR	8	/* u32 n4, u32 n6 */
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
	uint8_t zskip[COL_COUNT];	/* blocks to store column c unzstd'd */
	/* the address dictionary of one column (adict_build) */
	uint32_t *aslot;	/* hash slots: entry + 1, 0 empty */
	size_t aslotcap;
	uint64_t *ahi, *alo;	/* entries, STORE_DICT_MAX of each */
	uint32_t *aremap;	/* entry -> code (IPv4 entries first) */
	uint32_t *aprov;	/* per row: entry */
	size_t aprovcap;
	uint32_t an, an4;	/* entries, IPv4 ones among them */
};

/* Address columns, 0 .. NADDR - 1 for COL_SRC .. COL_EXPORTER. */
#define NADDR		4
#define ADDR_IDX(c)	((c) - COL_SRC)

struct blk_dec {
	ZSTD_DCtx *dctx;
	uint32_t dcols;		/* address columns wanted as dictionaries */
	uint8_t *raw;		/* one column's decompressed bytes */
	size_t rawcap;
	void *arr[COL_COUNT];	/* typed arrays; 16-byte rows for addresses */
	size_t cap[COL_COUNT];	/* rows */
	uint32_t *arr4[COL_COUNT];	/* address columns in IPv4 form */
	size_t cap4[COL_COUNT];
	/* address columns in dictionary form; entries STORE_DICT_MAX */
	uint16_t *code[NADDR];	/* per row */
	size_t codecap[NADDR];	/* bytes, as grow() keeps them */
	uint32_t *e4[NADDR];	/* IPv4 entries */
	size_t e4cap[NADDR];
	uint8_t (*e16[NADDR])[16];	/* IPv6 entries */
	size_t e16cap[NADDR];
	uint8_t (*x16)[16];	/* an ADICT's entries as 16-byte rows */
	size_t x16cap;
};

/* --- little helpers ------------------------------------------------------ */

static void
put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void
put_le64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static uint16_t
le16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return le16toh(v);
}

static uint32_t
le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static uint64_t
le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

/* Grow *buf to at least need bytes. Returns 0 or FF_ENOMEM. */
static int
grow(void **buf, size_t *cap, size_t need)
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

static uint32_t
v4_of(const uint8_t a[16])
{
	return be32(a + 12);
}

/* --- colbatch column access ---------------------------------------------- */

static const void *
cb_get(const colbatch_t *cb, int c, int v4)
{
	switch (c) {
	case COL_FIRST:		return cb->first_ms;
	case COL_LAST:		return cb->last_ms;
	case COL_BYTES:		return cb->bytes;
	case COL_PACKETS:	return cb->packets;
	case COL_SRC:		return v4 ? (const void *)cb->src4 :
				    (const void *)cb->src16;
	case COL_DST:		return v4 ? (const void *)cb->dst4 :
				    (const void *)cb->dst16;
	case COL_NEXTHOP:	return v4 ? (const void *)cb->nexthop4 :
				    (const void *)cb->nexthop16;
	case COL_EXPORTER:	return v4 ? (const void *)cb->exporter4 :
				    (const void *)cb->exporter16;
	case COL_IN_IF:		return cb->in_if;
	case COL_OUT_IF:	return cb->out_if;
	case COL_SRC_AS:	return cb->src_as;
	case COL_DST_AS:	return cb->dst_as;
	case COL_SAMPLING:	return cb->sampling;
	case COL_TAGS:		return cb->tags;
	case COL_SPORT:		return cb->sport;
	case COL_DPORT:		return cb->dport;
	case COL_PROTO:		return cb->proto;
	case COL_TCP_FLAGS:	return cb->tcp_flags;
	case COL_TOS:		return cb->tos;
	case COL_SRC_MASK:	return cb->src_mask;
	case COL_DST_MASK:	return cb->dst_mask;
	case COL_FLAGS:		return cb->flags;
	}
	return NULL;
}

static void
cb_set(colbatch_t *cb, int c, const void *p, int v4)
{
	switch (c) {
	case COL_FIRST:		cb->first_ms = p; break;
	case COL_LAST:		cb->last_ms = p; break;
	case COL_BYTES:		cb->bytes = p; break;
	case COL_PACKETS:	cb->packets = p; break;
	case COL_SRC:
		if (v4)
			cb->src4 = p;
		else
			cb->src16 = p;
		break;
	case COL_DST:
		if (v4)
			cb->dst4 = p;
		else
			cb->dst16 = p;
		break;
	case COL_NEXTHOP:
		if (v4)
			cb->nexthop4 = p;
		else
			cb->nexthop16 = p;
		break;
	case COL_EXPORTER:
		if (v4)
			cb->exporter4 = p;
		else
			cb->exporter16 = p;
		break;
	case COL_IN_IF:		cb->in_if = p; break;
	case COL_OUT_IF:	cb->out_if = p; break;
	case COL_SRC_AS:	cb->src_as = p; break;
	case COL_DST_AS:	cb->dst_as = p; break;
	case COL_SAMPLING:	cb->sampling = p; break;
	case COL_TAGS:		cb->tags = p; break;
	case COL_SPORT:		cb->sport = p; break;
	case COL_DPORT:		cb->dport = p; break;
	case COL_PROTO:		cb->proto = p; break;
	case COL_TCP_FLAGS:	cb->tcp_flags = p; break;
	case COL_TOS:		cb->tos = p; break;
	case COL_SRC_MASK:	cb->src_mask = p; break;
	case COL_DST_MASK:	cb->dst_mask = p; break;
	case COL_FLAGS:		cb->flags = p; break;
	}
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

/* Bits needed to hold v (0 for 0). */
static unsigned
bits_of(uint64_t v)
{
	return v == 0 ? 0 : 64 - (unsigned)__builtin_clzll(v);
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
	if (grow((void **)&e->aslot, &e->aslotcap, cap * 4) != 0 ||
	    grow((void **)&e->aprov, &e->aprovcap, n * 4) != 0)
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
enc_addr(blk_enc_t *e, const colbatch_t *cb, int c, size_t n,
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
blk_encode(blk_enc_t *e, const colbatch_t *cb, const uint8_t **out,
    size_t *len, blk_info_t *info)
{
	size_t n = cb->n, off, maxrow = 0;
	blk_coldesc_t d;
	uint8_t *dir;
	int rc;

	if ((cb->cols & STORE_COLS_ALL) != STORE_COLS_ALL ||
	    n > STORE_BLOCK_ROWS_MAX)
		return FF_EINVAL;
	for (int c = 0; c < COL_COUNT; c++)
		maxrow += col_size[c];
	/* a column never takes more than its rows plus a dictionary */
	if ((rc = grow((void **)&e->out, &e->outcap, BLK_FIXED_LEN +
	    n * maxrow + COL_COUNT * (2 + 256 * 8))) != 0 ||
	    (rc = grow((void **)&e->tmp, &e->tmpcap, n * 16 + 16)) != 0 ||
	    (rc = grow((void **)&e->v4, &e->v4cap, n * 4 + 4)) != 0 ||
	    (rc = grow((void **)&e->codes, &e->codescap, n + 1)) != 0)
		return rc;

	memset(info, 0, sizeof(*info));
	info->rows = (uint32_t)n;
	memcpy(e->out, blk_magic, 4);
	e->out[4] = BLK_VERSION;
	e->out[5] = COL_COUNT;
	e->out[6] = e->out[7] = 0;
	put_le32(e->out + 8, (uint32_t)n);
	off = BLK_FIXED_LEN;
	for (int c = 0; c < COL_COUNT; c++) {
		uint8_t *o = e->out + off;
		size_t clen;

		memset(&d, 0, sizeof(d));
		if (n == 0) {
			/* no rows: constant 0 (IPv4 0 for addresses) */
			d.rep = BLK_REP_CONST;
			if (col_size[c] == 16)
				d.flags = BLK_CF_V4;
			clen = 0;
		} else if (col_size[c] == 16) {
			clen = enc_addr(e, cb, c, n, &d, o);
		} else if (c == COL_FIRST) {
			clen = enc_int(e, c, cb_get(cb, c, 0), 8, n, &d, o,
			    &info->min_first, &info->max_first, SIZE_MAX);
		} else if (c == COL_LAST) {
			clen = enc_int(e, c, cb_get(cb, c, 0), 8, n, &d, o,
			    &info->min_last, &info->max_last, SIZE_MAX);
		} else {
			clen = enc_int(e, c, cb_get(cb, c, 0), col_size[c], n,
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
	unsigned sz = col_size[c];
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
		if (version < 2 || col_size[c] != 16 || d->base != 0 ||
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

/*
 * Parse and check the header and directory: rows, entries, each column's
 * data offset and raw length. Returns 0 or FF_EPROTO.
 */
static int
parse_dir(const uint8_t *buf, size_t len, uint32_t *rowsp,
    blk_coldesc_t *desc, size_t *offs, size_t *raws)
{
	uint32_t rows;
	size_t off;

	if (len < BLK_FIXED_LEN || memcmp(buf, blk_magic, 4) != 0 ||
	    buf[4] < BLK_VERSION_MIN || buf[4] > BLK_VERSION ||
	    buf[5] != COL_COUNT ||
	    buf[6] != 0 || buf[7] != 0)
		return FF_EPROTO;
	rows = le32(buf + 8);
	if (rows > STORE_BLOCK_ROWS_MAX)
		return FF_EPROTO;
	off = BLK_FIXED_LEN;
	for (int c = 0; c < COL_COUNT; c++) {
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
		if (check_col(c, buf[4], rows, d, buf + off, &raws[c]) != 0)
			return FF_EPROTO;
		offs[c] = off;
		off += d->clen;
	}
	if (off != len)
		return FF_EPROTO;
	*rowsp = rows;
	return 0;
}

int
blk_describe(const uint8_t *buf, size_t len, uint32_t *rows,
    blk_coldesc_t *desc)
{
	blk_coldesc_t tmp[COL_COUNT];
	size_t offs[COL_COUNT], raws[COL_COUNT];

	return parse_dir(buf, len, rows, desc != NULL ? desc : tmp, offs,
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
	for (int c = 0; c < COL_COUNT; c++) {
		free(d->arr[c]);
		free(d->arr4[c]);
	}
	for (int a = 0; a < NADDR; a++) {
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
	d->dcols = dcols & (STORE_COLBIT(COL_SRC) | STORE_COLBIT(COL_DST) |
	    STORE_COLBIT(COL_NEXTHOP) | STORE_COLBIT(COL_EXPORTER));
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
		if ((p = realloc(d->arr[c], rows * col_size[c])) == NULL)
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
    size_t len, size_t n, colbatch_t *cb)
{
	unsigned a = ADDR_IDX(c), k = dc->width;
	uint32_t n4 = le32(in), n6 = le32(in + 4), nd = n4 + n6;
	const uint8_t *p4 = in + BLK_ADICT_HDR, *p6 = p4 + (size_t)n4 * 4;
	const uint8_t *codes = p6 + (size_t)n6 * 16;
	coldict_t *cd = &cb->dicts[c];
	int rc;

	if ((rc = grow((void **)&d->code[a], &d->codecap[a], n * 2 + 2)) != 0 ||
	    (rc = grow((void **)&d->e4[a], &d->e4cap[a], n4 * 4 + 4)) != 0 ||
	    (rc = grow((void **)&d->e16[a], &d->e16cap[a],
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
		    (rc = grow((void **)&d->x16, &d->x16cap,
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
    size_t len, size_t n, colbatch_t *cb)
{
	unsigned a = ADDR_IDX(c), k = dc->width, nd = (unsigned)in[0] + 1;
	unsigned w = in[1], ne = 1u << k;
	const uint8_t *codes = in + 2 + (size_t)nd * w;
	coldict_t *cd = &cb->dicts[c];
	int rc;

	if ((rc = grow((void **)&d->code[a], &d->codecap[a], n * 2 + 2)) != 0 ||
	    (rc = grow((void **)&d->e4[a], &d->e4cap[a], ne * 4)) != 0)
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
    colbatch_t *cb)
{
	blk_coldesc_t desc[COL_COUNT];
	size_t offs[COL_COUNT], raws[COL_COUNT], n;
	uint64_t bound[COL_COUNT];
	uint32_t rows;
	int rc;

	memset(cb, 0, sizeof(*cb));
	if (parse_dir(buf, len, &rows, desc, offs, raws) != 0)
		return FF_EPROTO;
	n = rows;
	cols &= STORE_COLS_ALL;
	for (int c = 0; c < COL_COUNT; c++) {
		const blk_coldesc_t *dc = &desc[c];
		const uint8_t *in = buf + offs[c];
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

			if ((rc = grow((void **)&d->raw, &d->rawcap,
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

		if (col_size[c] != 16)
			bound[c] = col_bound(dc, in);
		if (col_size[c] == 16 && !v4) {
			uint8_t (*a)[16] = out;

			if (dc->rep == BLK_REP_CONST) {
				for (size_t i = 0; i < n; i++)
					memcpy(a[i], in, 16);
			} else
				memcpy(a, in, n * 16);
		} else {
			switch (v4 ? 4 : col_size[c]) {
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
	if ((cols & STORE_COLBIT(COL_BYTES)) &&
	    (cols & STORE_COLBIT(COL_PACKETS)))
		cb->fits = n == 0 || (bound[COL_BYTES] < UINT64_MAX / n &&
		    bound[COL_PACKETS] < UINT64_MAX / n);
	return 0;
}
