/*
 * Block codec tests (store/block_enc.c, block_dec.c): every column round-trips through
 * every representation the encoder can choose (constant, frame of
 * reference at each width, IPv4-only and mixed IPv6 addresses), for
 * empty, one-row, typical and maximal blocks of seeded random rows; and
 * damaged blocks (truncated, extended, lying lengths and counts, flipped
 * bytes) are rejected with FF_EPROTO or, where the damage hits plain
 * data, decode to a well-formed batch, never a crash (run under ASan).
 * Expected values are the rows the test itself wrote.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/util.h"
#include "store/block.h"
#include "store/storage.h"

/* ---- seeded rows ------------------------------------------------------- */

static uint64_t rng;

static uint64_t
rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void
rnd_addr(uint8_t a[16], int v6)
{
	uint32_t v = (uint32_t)rnd();
	uint8_t b[4];

	if (v6) {
		uint64_t x = rnd(), y = rnd();

		a[0] = 0x20;
		a[1] = 0x01;
		for (int i = 2; i < 8; i++)
			a[i] = (uint8_t)(x >> (8 * i));
		for (int i = 8; i < 16; i++)
			a[i] = (uint8_t)(y >> (8 * (i - 8)));
		return;
	}
	put_be32(b, v);
	addr_from_v4(a, b);
}

/* A random flow; v6: percent of rows with IPv6 addresses. */
static void
rnd_flow(store_flow_t *f, unsigned v6)
{
	int is6 = rnd() % 100 < v6;

	memset(f, 0, sizeof(*f));
	f->first_ms = 1700000000000ull + rnd() % 3600000;
	f->last_ms = f->first_ms + rnd() % 120000;
	f->bytes = rnd() % 2 ? rnd() % 1500 : rnd();
	f->packets = 1 + rnd() % 100000;
	rnd_addr(f->src, is6);
	rnd_addr(f->dst, is6);
	rnd_addr(f->nexthop, 0);
	rnd_addr(f->exporter, rnd() % 4 == 0);
	f->in_if = (uint32_t)rnd();
	f->out_if = (uint32_t)rnd() % 64;
	f->src_as = (uint32_t)rnd();
	f->dst_as = (uint32_t)rnd() % 70000;
	f->sampling = 1 + (uint32_t)(rnd() % 3) * 999;
	f->tags = (uint32_t)rnd();
	f->sport = (uint16_t)rnd();
	f->dport = (uint16_t)rnd();
	f->proto = (uint8_t)rnd();
	f->tcp_flags = (uint8_t)rnd();
	f->tos = (uint8_t)rnd();
	f->src_mask = (uint8_t)(rnd() % 129);
	f->dst_mask = (uint8_t)(rnd() % 129);
	f->flags = is6 ? STORE_FLOW_F_V6 : 0;
}

/* A buffer of n rows and the flows it was filled from. */
struct rows {
	struct colbuf b;
	store_flow_t *f;
	size_t n;
};

static void
rows_init(struct rows *r, size_t n)
{
	assert_int_equal(colbuf_init(&r->b, n > 0 ? n : 1), 0);
	r->f = calloc(n > 0 ? n : 1, sizeof(*r->f));
	assert_non_null(r->f);
	r->n = n;
}

static void
rows_fill(struct rows *r, uint64_t seed, unsigned v6)
{
	rng = seed;
	r->b.n = 0;
	for (size_t i = 0; i < r->n; i++) {
		rnd_flow(&r->f[i], v6);
		colbuf_add(&r->b, &r->f[i]);
	}
}

/* Rebuild the colbuf from r->f after a test changed the flows. */
static void
rows_sync(struct rows *r)
{
	r->b.n = 0;
	for (size_t i = 0; i < r->n; i++)
		colbuf_add(&r->b, &r->f[i]);
}

static void
rows_free(struct rows *r)
{
	colbuf_free(&r->b);
	free(r->f);
}

/* Encode r, decode every column and compare each row with r->f. */
static void
roundtrip(struct rows *r, blk_enc_t *e, blk_dec_t *d, blk_coldesc_t *desc)
{
	const uint8_t *buf;
	blk_info_t info;
	store_colbatch_t in, out;
	store_flow_t g;
	uint32_t rows;
	size_t len;
	uint8_t *copy;

	colbuf_view(&r->b, &in);
	assert_int_equal(blk_encode(e, &in, &buf, &len, &info), 0);
	assert_int_equal(info.rows, r->n);
	/* decode from an exact-size copy so ASan sees any overread */
	copy = malloc(len);
	assert_non_null(copy);
	memcpy(copy, buf, len);
	assert_int_equal(blk_describe(copy, len, &rows, desc), 0);
	assert_int_equal(rows, r->n);
	assert_int_equal(blk_decode(d, copy, len, STORE_COLS_ALL, &out), 0);
	assert_int_equal(out.n, r->n);
	assert_int_equal(out.cols, STORE_COLS_ALL);
	for (size_t i = 0; i < r->n; i++) {
		store_colbatch_row(&out, i, &g);
		assert_memory_equal(&g, &r->f[i], sizeof(g));
	}
	if (r->n > 0) {
		uint64_t mnf = UINT64_MAX, mxf = 0, mnl = UINT64_MAX, mxl = 0;

		for (size_t i = 0; i < r->n; i++) {
			mnf = FF_MIN(mnf, r->f[i].first_ms);
			mxf = FF_MAX(mxf, r->f[i].first_ms);
			mnl = FF_MIN(mnl, r->f[i].last_ms);
			mxl = FF_MAX(mxl, r->f[i].last_ms);
		}
		assert_true(info.min_first == mnf && info.max_first == mxf);
		assert_true(info.min_last == mnl && info.max_last == mxl);
	}
	free(copy);
}

/* ---- round trips ------------------------------------------------------- */

static void
test_roundtrip_sizes(void **state)
{
	static const size_t sizes[] = { 0, 1, 2, 63, 64, 1000, 32768 };
	blk_enc_t *e = blk_enc_new(1);
	blk_dec_t *d = blk_dec_new();
	blk_coldesc_t desc[STORE_COL_COUNT];

	(void)state;
	assert_non_null(e);
	assert_non_null(d);
	for (size_t s = 0; s < FF_NELEM(sizes); s++) {
		for (unsigned v6 = 0; v6 <= 100; v6 += 50) {
			struct rows r;

			rows_init(&r, sizes[s]);
			rows_fill(&r, 1000 + s * 7 + v6, v6);
			roundtrip(&r, e, d, desc);
			if (sizes[s] == 0) {
				/* empty: every column a constant, no data */
				for (int c = 0; c < STORE_COL_COUNT; c++) {
					assert_int_equal(desc[c].rep,
					    BLK_REP_CONST);
					assert_int_equal(desc[c].clen, 0);
				}
			}
			rows_free(&r);
		}
	}
	blk_enc_free(e);
	blk_dec_free(d);
}

static void
test_roundtrip_max_rows(void **state)
{
	blk_enc_t *e = blk_enc_new(1);
	blk_dec_t *d = blk_dec_new();
	blk_coldesc_t desc[STORE_COL_COUNT];
	const uint8_t *buf;
	blk_info_t info;
	store_colbatch_t cb;
	struct rows r;
	size_t len;

	(void)state;
	rows_init(&r, STORE_BLOCK_ROWS_MAX);
	rows_fill(&r, 77, 10);
	roundtrip(&r, e, d, desc);
	/* one row more than the maximum is refused before any read */
	colbuf_view(&r.b, &cb);
	cb.n = (size_t)STORE_BLOCK_ROWS_MAX + 1;
	assert_int_equal(blk_encode(e, &cb, &buf, &len, &info), FF_EINVAL);
	/* and so is a batch without every column */
	colbuf_view(&r.b, &cb);
	cb.cols &= ~STORE_COLBIT(STORE_COL_TOS);
	assert_int_equal(blk_encode(e, &cb, &buf, &len, &info), FF_EINVAL);
	rows_free(&r);
	blk_enc_free(e);
	blk_dec_free(d);
}

/* Natural size of integer column c. */
static unsigned
int_size(int c)
{
	return store_col_width((unsigned)c);
}

/* Set integer column c of f to v (columns.def). */
#define SET_INT(id, name, T)	case STORE_COL_##id: f->name = (T)v; return;
#define SET_U8(id, name)	SET_INT(id, name, uint8_t)
#define SET_U16(id, name)	SET_INT(id, name, uint16_t)
#define SET_U32(id, name)	SET_INT(id, name, uint32_t)
#define SET_U64(id, name)	SET_INT(id, name, uint64_t)
#define SET_ADDR(id, name)

static void
set_int(store_flow_t *f, int c, uint64_t v)
{
	switch (c) {
#define STORE_COLUMN(id, name, type, rank, filter, list) SET_##type(id, name)
#include "store/columns.def"
#undef STORE_COLUMN
	}
	fail_msg("not an integer column %d", c);
}

/* Address column c of f (columns.def). */
#define ADDR_U8(id, name)
#define ADDR_U16(id, name)
#define ADDR_U32(id, name)
#define ADDR_U64(id, name)
#define ADDR_ADDR(id, name)	case STORE_COL_##id: return &f->name;

static uint8_t (*
addr_of(store_flow_t *f, int c))[16]
{
	switch (c) {
#define STORE_COLUMN(id, name, type, rank, filter, list) ADDR_##type(id, name)
#include "store/columns.def"
#undef STORE_COLUMN
	}
	fail_msg("not an address column %d", c);
	return NULL;
}

/* Start from rows where every column is constant. */
static void
rows_const(struct rows *r)
{
	store_flow_t f;

	rng = 5;
	rnd_flow(&f, 0);
	for (size_t i = 0; i < r->n; i++)
		r->f[i] = f;
}

static void
test_int_widths(void **state)
{
	blk_enc_t *e = blk_enc_new(1);
	blk_dec_t *d = blk_dec_new();
	blk_coldesc_t desc[STORE_COL_COUNT];
	struct rows r;

	(void)state;
	rows_init(&r, 1000);
	for (int c = 0; c < STORE_COL_COUNT; c++) {
		unsigned sz;

		if (c >= STORE_COL_SRC && c <= STORE_COL_EXPORTER)
			continue;
		sz = int_size(c);
		/* constant */
		rows_const(&r);
		rows_sync(&r);
		roundtrip(&r, e, d, desc);
		for (int o = 0; o < STORE_COL_COUNT; o++)
			assert_int_equal(desc[o].rep, BLK_REP_CONST);

		for (unsigned w = 1; w <= sz; w *= 2) {
			/* base .. base + 2^(8w) - 1, both ends present */
			uint64_t span = w == 8 ? UINT64_MAX :
			    ((uint64_t)1 << (8 * w)) - 1;
			uint64_t base = w == sz ? 0 : 3;

			rows_const(&r);
			rng = 100 + (uint64_t)c * 10 + w;
			for (size_t i = 0; i < r.n; i++)
				set_int(&r.f[i], c, base + (i == 0 ? 0 :
				    i == 1 ? span : rnd() % span));
			rows_sync(&r);
			roundtrip(&r, e, d, desc);
			assert_int_equal(desc[c].rep, BLK_REP_FOR);
			assert_int_equal(desc[c].width, w);
			assert_true(desc[c].base == base);
			for (int o = 0; o < STORE_COL_COUNT; o++)
				if (o != c)
					assert_int_equal(desc[o].rep,
					    BLK_REP_CONST);
		}
	}
	rows_free(&r);
	blk_enc_free(e);
	blk_dec_free(d);
}

/* Bit packing, dictionaries and zstd, for every integer column. */
static void
test_packings(void **state)
{
	static const unsigned ks[] = { 1, 5, 13, 27, 45, 56 };
	blk_dec_t *d = blk_dec_new();
	blk_coldesc_t desc[STORE_COL_COUNT];
	struct rows r;

	(void)state;
	rows_init(&r, 1000);
	for (int c = 0; c < STORE_COL_COUNT; c++) {
		unsigned sz;

		if (c >= STORE_COL_SRC && c <= STORE_COL_EXPORTER)
			continue;
		sz = int_size(c);
		/*
		 * BITS: a span of 2^k - 1 with k not a whole number of
		 * bytes; random values, so no dictionary can be smaller.
		 */
		for (size_t ki = 0; ki < FF_NELEM(ks); ki++) {
			unsigned k = ks[ki];
			uint64_t span = ((uint64_t)1 << k) - 1;
			blk_enc_t *e;

			if (k >= 8 * sz)
				continue;
			e = blk_enc_new(1);
			rows_const(&r);
			rng = 200 + (uint64_t)c * 10 + k;
			for (size_t i = 0; i < r.n; i++)
				set_int(&r.f[i], c, 1 + (i == 0 ? 0 : i == 1 ?
				    span : rnd() % (span + 1)));
			rows_sync(&r);
			roundtrip(&r, e, d, desc);
			assert_int_equal(desc[c].rep, BLK_REP_BITS);
			assert_int_equal(desc[c].width, k);
			assert_true(desc[c].base == 1);
			assert_int_equal(desc[c].clen, (r.n * k + 7) / 8);
			blk_enc_free(e);
		}
		/* DICT: 7 distinct values over the column's whole range */
		{
			uint64_t vals[7], top = sz == 8 ? UINT64_MAX :
			    ((uint64_t)1 << (8 * sz)) - 1;
			blk_enc_t *e = blk_enc_new(1);

			rng = 300 + (uint64_t)c;
			vals[0] = 0;
			vals[1] = top;
			for (int j = 2; j < 7; j++)
				vals[j] = rnd() & top;
			rows_const(&r);
			for (size_t i = 0; i < r.n; i++)
				set_int(&r.f[i], c, vals[i < 7 ? i :
				    rnd() % 7]);
			rows_sync(&r);
			roundtrip(&r, e, d, desc);
			assert_int_equal(desc[c].rep, BLK_REP_DICT);
			/* 7 entries: codes of bits(6) = 3 bits */
			assert_int_equal(desc[c].width, 3);
			blk_enc_free(e);
		}
		/*
		 * zstd: a period of 300 distinct values (too many for a
		 * dictionary) compresses far below any packing.
		 */
		if (sz >= 2) {
			blk_enc_t *e = blk_enc_new(1);

			rows_const(&r);
			for (size_t i = 0; i < r.n; i++)
				set_int(&r.f[i], c, (i % 300) * 211);
			rows_sync(&r);
			roundtrip(&r, e, d, desc);
			assert_int_equal(desc[c].rep, BLK_REP_FOR);
			assert_int_equal(desc[c].codec, BLK_CODEC_ZSTD);
			/* 2000 FOR bytes; the period repeats three times */
			assert_true(desc[c].clen < r.n);
			blk_enc_free(e);
		}
	}
	rows_free(&r);
	blk_dec_free(d);
}

static void
test_addr_forms(void **state)
{
	blk_enc_t *e = blk_enc_new(1);
	blk_dec_t *d = blk_dec_new();
	blk_coldesc_t desc[STORE_COL_COUNT];
	struct rows r;
	uint8_t v4[4];

	(void)state;
	rows_init(&r, 500);
	for (int c = STORE_COL_SRC; c <= STORE_COL_EXPORTER; c++) {
		/* IPv4, all rows equal: a constant IPv4 integer */
		rows_const(&r);
		rows_sync(&r);
		roundtrip(&r, e, d, desc);
		assert_int_equal(desc[c].rep, BLK_REP_CONST);
		assert_true(desc[c].flags & BLK_CF_V4);

		/* IPv4 in one /24: one byte per row */
		rng = 9 + c;
		for (size_t i = 0; i < r.n; i++) {
			put_be32(v4, 0xc0a80100u | (uint32_t)(rnd() & 0xff));
			addr_from_v4(*addr_of(&r.f[i], c), v4);
		}
		rows_sync(&r);
		roundtrip(&r, e, d, desc);
		assert_int_equal(desc[c].rep, BLK_REP_FOR);
		assert_true(desc[c].flags & BLK_CF_V4);
		assert_int_equal(desc[c].width, 1);

		/* IPv4 anywhere: four bytes */
		for (size_t i = 0; i < r.n; i++)
			rnd_addr(*addr_of(&r.f[i], c), 0);
		memset(*addr_of(&r.f[0], c) + 12, 0, 4);
		memset(*addr_of(&r.f[1], c) + 12, 0xff, 4);
		rows_sync(&r);
		roundtrip(&r, e, d, desc);
		assert_int_equal(desc[c].rep, BLK_REP_FOR);
		assert_int_equal(desc[c].width, 4);
		assert_true(desc[c].flags & BLK_CF_V4);

		/* one IPv6 row: a dictionary of 499 IPv4 and 1 IPv6 entries
		   (8 + 499 * 4 + 16 + 500 * 9 / 8 bytes beat 16 per row) */
		rnd_addr(*addr_of(&r.f[7], c), 1);
		rows_sync(&r);
		roundtrip(&r, e, d, desc);
		assert_int_equal(desc[c].rep, BLK_REP_ADICT);
		assert_false(desc[c].flags & BLK_CF_V4);
		assert_int_equal(desc[c].width, 9);
		assert_int_equal(desc[c].clen, 8 + 499 * 4 + 16 +
		    (500 * 9 + 7) / 8);

		/* IPv4, 40 distinct (over 256 values apart) in 500 rows: a
		   dictionary of IPv4 entries (the IPv4 form) */
		rng = 19 + c;
		for (size_t i = 0; i < r.n; i++) {
			put_be32(v4, 0x0a000000u | (uint32_t)(i % 40) << 12);
			addr_from_v4(*addr_of(&r.f[i], c), v4);
		}
		rows_sync(&r);
		roundtrip(&r, e, d, desc);
		assert_true(desc[c].rep == BLK_REP_DICT ||
		    desc[c].rep == BLK_REP_ADICT);
		assert_true(desc[c].flags & BLK_CF_V4);

		/* IPv6, all rows equal: the 16 bytes once */
		rnd_addr(*addr_of(&r.f[0], c), 1);
		for (size_t i = 1; i < r.n; i++)
			memcpy(*addr_of(&r.f[i], c), *addr_of(&r.f[0], c),
			    16);
		rows_sync(&r);
		roundtrip(&r, e, d, desc);
		assert_int_equal(desc[c].rep, BLK_REP_CONST);
		assert_false(desc[c].flags & BLK_CF_V4);
		assert_int_equal(desc[c].clen, 16);
	}
	rows_free(&r);
	blk_enc_free(e);
	blk_dec_free(d);
}

/*
 * 16-byte rows: more distinct IPv6 addresses than a dictionary holds.
 * Fewer addresses, repeated: a dictionary.
 */
static void
test_addr_raw16(void **state)
{
	blk_enc_t *e = blk_enc_new(1);
	blk_dec_t *d = blk_dec_new();
	blk_coldesc_t desc[STORE_COL_COUNT];
	struct rows r;

	(void)state;
	rows_init(&r, STORE_DICT_MAX + 1000);
	rows_const(&r);
	rng = 61;
	for (size_t i = 0; i < r.n; i++)
		rnd_addr(r.f[i].src, 1);
	rows_sync(&r);
	roundtrip(&r, e, d, desc);
	assert_int_equal(desc[STORE_COL_SRC].rep, BLK_REP_RAW16);
	assert_int_equal(desc[STORE_COL_SRC].codec, BLK_CODEC_RAW);
	/* 1000 rows of 100 addresses */
	r.n = 1000;
	for (size_t i = 100; i < r.n; i++)
		memcpy(r.f[i].src, r.f[i % 100].src, 16);
	rows_sync(&r);
	roundtrip(&r, e, d, desc);
	assert_int_equal(desc[STORE_COL_SRC].rep, BLK_REP_ADICT);
	assert_int_equal(desc[STORE_COL_SRC].clen, 8 + 100 * 16 + 1000 * 7 / 8);
	rows_free(&r);
	blk_enc_free(e);
	blk_dec_free(d);
}

/* Check the dictionary form of address column c against rows f. */
static void
check_dict(const store_colbatch_t *cb, int c, const store_flow_t *f, size_t n)
{
	const store_coldict_t *cd = &cb->dicts[c];
	uint8_t want[16], b[4];

	assert_true(cb->dict & STORE_COLBIT(c));
	assert_true(cb->cols & STORE_COLBIT(c));
	assert_true(cd->n >= 2 && cd->n <= STORE_DICT_MAX);
	assert_true(cd->n4 <= cd->n);
	for (uint32_t j = cd->n4; j < cd->n; j++)
		assert_false(addr_is_v4(cd->e16[j - cd->n4]));
	for (size_t i = 0; i < n; i++) {
		uint16_t k = cd->code[i];

		assert_true(k < cd->n);
		if (k < cd->n4) {
			put_be32(b, cd->e4[k]);
			addr_from_v4(want, b);
		} else
			memcpy(want, cd->e16[k - cd->n4], 16);
		switch (c) {
		case STORE_COL_SRC:
			assert_memory_equal(want, f[i].src, 16);
			break;
		case STORE_COL_DST:
			assert_memory_equal(want, f[i].dst, 16);
			break;
		case STORE_COL_NEXTHOP:
			assert_memory_equal(want, f[i].nexthop, 16);
			break;
		default:
			assert_memory_equal(want, f[i].exporter, 16);
			break;
		}
	}
}

/*
 * Address columns asked for in dictionary form come so when the block
 * stores them as ADICT (mixed or IPv4) or DICT (IPv4), as rows
 * otherwise; other columns are unaffected.
 */
static void
test_dict_form(void **state)
{
	const uint32_t addrs = STORE_COLBIT(STORE_COL_SRC) | STORE_COLBIT(STORE_COL_DST) |
	    STORE_COLBIT(STORE_COL_NEXTHOP) | STORE_COLBIT(STORE_COL_EXPORTER);
	blk_enc_t *e = blk_enc_new(1);
	blk_dec_t *d = blk_dec_new();
	blk_coldesc_t desc[STORE_COL_COUNT];
	const uint8_t *buf;
	blk_info_t info;
	store_colbatch_t in, out;
	struct rows r;
	uint8_t v4[4];
	size_t len;
	int seen_adict = 0, seen_adict4 = 0, seen_dict4 = 0;

	(void)state;
	rows_init(&r, 2000);
	for (unsigned v6 = 0; v6 <= 100; v6 += 25) {
		rows_fill(&r, 70 + v6, v6);
		for (size_t i = 0; i < r.n; i++) {
			/* src: 300 hosts; dst: 900; nexthop: 5; exporter:
			   1 (a constant) */
			put_be32(v4, 0xc0000000u + (uint32_t)(rnd() % 300) * 77);
			if (!(r.f[i].flags & STORE_FLOW_F_V6))
				addr_from_v4(r.f[i].src, v4);
			put_be32(v4, 0x0a000000u + (uint32_t)(rnd() % 900) * 5);
			if (!(r.f[i].flags & STORE_FLOW_F_V6))
				addr_from_v4(r.f[i].dst, v4);
			put_be32(v4, 0xac100001u + (uint32_t)(rnd() % 5) * 1000);
			addr_from_v4(r.f[i].nexthop, v4);
			memcpy(r.f[i].exporter, r.f[0].exporter, 16);
		}
		rows_sync(&r);
		colbuf_view(&r.b, &in);
		assert_int_equal(blk_encode(e, &in, &buf, &len, &info), 0);
		assert_int_equal(blk_describe(buf, len, &info.rows, desc), 0);
		blk_dec_set_dict(d, STORE_COLS_ALL);
		assert_int_equal(blk_decode(d, buf, len, STORE_COLS_ALL, &out),
		    0);
		assert_int_equal(out.cols, STORE_COLS_ALL);
		for (int c = STORE_COL_SRC; c <= STORE_COL_EXPORTER; c++) {
			const blk_coldesc_t *dc = &desc[c];

			if (dc->rep == BLK_REP_ADICT ||
			    (dc->rep == BLK_REP_DICT &&
			    (dc->flags & BLK_CF_V4))) {
				check_dict(&out, c, r.f, r.n);
				seen_adict += dc->rep == BLK_REP_ADICT &&
				    !(dc->flags & BLK_CF_V4);
				seen_adict4 += dc->rep == BLK_REP_ADICT &&
				    (dc->flags & BLK_CF_V4);
				seen_dict4 += dc->rep == BLK_REP_DICT;
			} else
				assert_false(out.dict & STORE_COLBIT(c));
		}
		assert_int_equal(out.dict & ~addrs, 0);
		/* the other columns as rows */
		for (size_t i = 0; i < r.n; i++)
			assert_true(out.bytes[i] == r.f[i].bytes &&
			    out.dport[i] == r.f[i].dport);
		/* only the columns asked for */
		blk_dec_set_dict(d, STORE_COLBIT(STORE_COL_DST));
		assert_int_equal(blk_decode(d, buf, len, STORE_COLS_ALL, &out),
		    0);
		assert_int_equal(out.dict & ~STORE_COLBIT(STORE_COL_DST), 0);
		/* and none: every row as before */
		blk_dec_set_dict(d, 0);
		assert_int_equal(blk_decode(d, buf, len, STORE_COLS_ALL, &out),
		    0);
		assert_int_equal(out.dict, 0);
		for (size_t i = 0; i < r.n; i++) {
			store_flow_t g;

			store_colbatch_row(&out, i, &g);
			assert_memory_equal(&g, &r.f[i], sizeof(g));
		}
	}
	assert_true(seen_adict > 0);
	assert_true(seen_adict4 > 0);
	assert_true(seen_dict4 > 0);
	rows_free(&r);
	blk_enc_free(e);
	blk_dec_free(d);
}

/*
 * A batch says its bytes and packets cannot sum past 2^64 only when the
 * packings bound them so: small values, yes; a value of 2^62 in 1000
 * rows, no; and not when a column was not decoded.
 */
static void
test_fits(void **state)
{
	blk_enc_t *e = blk_enc_new(1);
	blk_dec_t *d = blk_dec_new();
	const uint8_t *buf;
	blk_info_t info;
	store_colbatch_t in, out;
	struct rows r;
	size_t len;

	(void)state;
	rows_init(&r, 1000);
	rows_fill(&r, 12, 10);
	for (size_t i = 0; i < r.n; i++)
		r.f[i].bytes = 40 + i;
	rows_sync(&r);
	colbuf_view(&r.b, &in);
	assert_int_equal(blk_encode(e, &in, &buf, &len, &info), 0);
	assert_int_equal(blk_decode(d, buf, len, STORE_COLS_ALL, &out), 0);
	assert_int_equal(out.fits, 1);
	assert_int_equal(blk_decode(d, buf, len, STORE_COLBIT(STORE_COL_BYTES),
	    &out), 0);
	assert_int_equal(out.fits, 0);
	r.f[500].bytes = 1ull << 62;
	rows_sync(&r);
	colbuf_view(&r.b, &in);
	assert_int_equal(blk_encode(e, &in, &buf, &len, &info), 0);
	assert_int_equal(blk_decode(d, buf, len, STORE_COLS_ALL, &out), 0);
	assert_int_equal(out.fits, 0);
	rows_free(&r);
	blk_enc_free(e);
	blk_dec_free(d);
}

/* Partial decodes fill only what was asked; the IPv4 form is host order. */
static void
test_partial_and_v4_form(void **state)
{
	blk_enc_t *e = blk_enc_new(3);
	blk_enc_t *e2 = blk_enc_new(1);
	blk_dec_t *d = blk_dec_new(), *d2 = blk_dec_new();
	const uint8_t *buf, *buf2;
	blk_info_t info;
	store_colbatch_t in, out, out2;
	store_flow_t g;
	struct rows r;
	size_t len, len2;
	uint8_t *copy;
	uint32_t want = STORE_COLBIT(STORE_COL_SRC) | STORE_COLBIT(STORE_COL_BYTES) |
	    STORE_COLBIT(STORE_COL_DST);

	(void)state;
	rows_init(&r, 3000);
	rows_fill(&r, 4242, 0);
	/* dst has IPv6 rows, src stays IPv4 */
	rnd_addr(r.f[10].dst, 1);
	rows_sync(&r);
	colbuf_view(&r.b, &in);
	assert_int_equal(blk_encode(e, &in, &buf, &len, &info), 0);
	copy = malloc(len);
	assert_non_null(copy);
	memcpy(copy, buf, len);
	assert_int_equal(blk_decode(d, copy, len, want, &out), 0);
	assert_int_equal(out.cols, want);
	assert_int_equal(out.v4, STORE_COLBIT(STORE_COL_SRC));
	assert_null(out.first_ms);
	assert_null(out.packets);
	assert_null(out.src16);
	assert_null(out.dst4);
	assert_null(out.proto);
	for (size_t i = 0; i < r.n; i++) {
		assert_int_equal(out.src4[i], be32(r.f[i].src + 12));
		assert_memory_equal(out.dst16[i], r.f[i].dst, 16);
		assert_true(out.bytes[i] == r.f[i].bytes);
	}

	/* A batch in the IPv4 form encodes to the same rows. */
	assert_int_equal(blk_decode(d, copy, len, STORE_COLS_ALL, &out), 0);
	assert_true(out.v4 & STORE_COLBIT(STORE_COL_SRC));
	assert_int_equal(blk_encode(e2, &out, &buf2, &len2, &info), 0);
	assert_int_equal(blk_decode(d2, buf2, len2, STORE_COLS_ALL, &out2), 0);
	for (size_t i = 0; i < r.n; i++) {
		store_colbatch_row(&out2, i, &g);
		assert_memory_equal(&g, &r.f[i], sizeof(g));
	}
	free(copy);
	rows_free(&r);
	blk_enc_free(e);
	blk_enc_free(e2);
	blk_dec_free(d);
	blk_dec_free(d2);
}

/* ---- damaged blocks ---------------------------------------------------- */

static uint32_t
le32_at(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

struct sample {
	uint8_t *buf;
	size_t len;
	uint32_t rows;
	blk_coldesc_t desc[STORE_COL_COUNT];
	size_t off[STORE_COL_COUNT];
};

static void
sample_make(struct sample *s, size_t n)
{
	blk_enc_t *e = blk_enc_new(1);
	const uint8_t *buf;
	blk_info_t info;
	store_colbatch_t cb;
	struct rows r;

	rows_init(&r, n);
	rows_fill(&r, 31337, 20);
	colbuf_view(&r.b, &cb);
	assert_int_equal(blk_encode(e, &cb, &buf, &s->len, &info), 0);
	s->buf = malloc(s->len);
	assert_non_null(s->buf);
	memcpy(s->buf, buf, s->len);
	assert_int_equal(blk_describe(s->buf, s->len, &s->rows, s->desc), 0);
	s->off[0] = BLK_FIXED_LEN;
	for (int c = 1; c < STORE_COL_COUNT; c++)
		s->off[c] = s->off[c - 1] + s->desc[c - 1].clen;
	rows_free(&r);
	blk_enc_free(e);
}

/* Decode a damaged copy; must fail. */
#define expect_bad(d, buf, len) expect_bad_at(d, buf, len, __LINE__, ccol)
static int ccol = -1;	/* the column being damaged, for messages */

static void
expect_bad_at(blk_dec_t *d, const uint8_t *buf, size_t len, int line,
    int col)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);
	store_colbatch_t cb;
	int rc;

	assert_non_null(copy);
	memcpy(copy, buf, len);
	rc = blk_decode(d, copy, len, STORE_COLS_ALL, &cb);
	free(copy);
	if (rc != FF_EPROTO)
		fail_msg("damage at line %d (column %d) decoded: %d", line,
		    col, rc);
}

static void
test_truncated_and_extended(void **state)
{
	blk_dec_t *d = blk_dec_new();
	struct sample s;
	uint32_t rows;
	uint8_t *big;

	(void)state;
	sample_make(&s, 200);
	for (size_t l = 0; l < s.len; l++) {
		expect_bad(d, s.buf, l);
		assert_int_equal(blk_describe(s.buf, l, &rows, NULL),
		    FF_EPROTO);
	}
	big = malloc(s.len + 1);
	assert_non_null(big);
	memcpy(big, s.buf, s.len);
	big[s.len] = 0;
	expect_bad(d, big, s.len + 1);
	free(big);
	free(s.buf);
	blk_dec_free(d);
}

static void
test_lying_fields(void **state)
{
	blk_dec_t *d = blk_dec_new();
	struct sample s;
	uint8_t *b;
	int nz = 0, nd = 0, ndict = 0, nad = 0;

	(void)state;
	sample_make(&s, 300);
	b = malloc(s.len);
	assert_non_null(b);

#define RESET() memcpy(b, s.buf, s.len)
#define DIR(c) (b + BLK_HDR_LEN + (size_t)(c) * BLK_DIR_LEN)
	/* header fields */
	RESET(); b[0] ^= 0x20; expect_bad(d, b, s.len);
	RESET(); b[4] = BLK_VERSION + 1; expect_bad(d, b, s.len);
	RESET(); b[5] = STORE_COL_COUNT - 1; expect_bad(d, b, s.len);
	RESET(); b[5] = STORE_COL_COUNT + 1; expect_bad(d, b, s.len);
	RESET(); b[6] = 1; expect_bad(d, b, s.len);
	/* rows: one more, one less, beyond the maximum */
	RESET(); b[8]++; expect_bad(d, b, s.len);
	RESET(); b[8]--; expect_bad(d, b, s.len);
	RESET(); b[11] = 0x80; expect_bad(d, b, s.len);

	for (int c = 0; c < STORE_COL_COUNT; c++) {
		ccol = c;
		/* unknown representation, codec, flag; impossible width */
		RESET(); DIR(c)[0] = BLK_REP_ADICT + 1; expect_bad(d, b, s.len);
		if (c < STORE_COL_SRC || c > STORE_COL_EXPORTER) {
			/* an address dictionary in an integer column */
			RESET(); DIR(c)[0] = BLK_REP_ADICT;
			expect_bad(d, b, s.len);
		}
		RESET(); DIR(c)[0] = 0xff; expect_bad(d, b, s.len);
		RESET(); DIR(c)[1] = 2; expect_bad(d, b, s.len);
		RESET(); DIR(c)[3] |= 0x80; expect_bad(d, b, s.len);
		RESET(); DIR(c)[2] = 0x80; expect_bad(d, b, s.len);
		/* a length that lies, the total kept by the next column */
		if (c + 1 < STORE_COL_COUNT && s.desc[c + 1].clen > 0) {
			RESET();
			{
				uint32_t a = s.desc[c].clen + 1;
				uint32_t n = s.desc[c + 1].clen - 1;

				for (int i = 0; i < 4; i++) {
					DIR(c)[4 + i] = (uint8_t)(a >> (8 * i));
					DIR(c + 1)[4 + i] =
					    (uint8_t)(n >> (8 * i));
				}
			}
			expect_bad(d, b, s.len);
			nz++;
		}
		/* packed widths that disagree with the lengths */
		if (s.desc[c].rep == BLK_REP_BITS ||
		    s.desc[c].rep == BLK_REP_DICT ||
		    s.desc[c].rep == BLK_REP_ADICT) {
			RESET(); DIR(c)[2]++; expect_bad(d, b, s.len);
			RESET(); DIR(c)[2]--; expect_bad(d, b, s.len);
			nd++;
		}
		/* a dictionary with a wrong count or entry width */
		if (s.desc[c].rep == BLK_REP_DICT) {
			RESET(); b[s.off[c]]++; expect_bad(d, b, s.len);
			RESET(); b[s.off[c]] = 0; expect_bad(d, b, s.len);
			RESET(); b[s.off[c] + 1] = 3; expect_bad(d, b, s.len);
			RESET(); b[s.off[c] + 1] *= 2; expect_bad(d, b, s.len);
			ndict++;
		}
		/*
		 * an address dictionary with counts that lie (the total
		 * kept, or not), an IPv4-mapped IPv6 entry, the wrong
		 * flag, a compressed codec, or in a version 1 block
		 */
		if (s.desc[c].rep == BLK_REP_ADICT) {
			size_t o = s.off[c];
			uint32_t n4 = le32_at(b + o), n6 = le32_at(b + o + 4);

			RESET(); b[o]++; expect_bad(d, b, s.len);
			RESET(); b[o + 4]++; expect_bad(d, b, s.len);
			RESET(); b[o]++; b[o + 4]--; expect_bad(d, b, s.len);
			RESET(); b[o + 3] = 0x80; expect_bad(d, b, s.len);
			RESET(); memset(b + o, 0, 8); expect_bad(d, b, s.len);
			if (n6 > 0) {
				/* the first IPv6 entry made ::ffff:x */
				uint8_t *p6 = b + o + 8 + (size_t)n4 * 4;

				RESET();
				memset(p6, 0, 10);
				p6[10] = p6[11] = 0xff;
				expect_bad(d, b, s.len);
			}
			RESET(); DIR(c)[3] ^= BLK_CF_V4; expect_bad(d, b, s.len);
			RESET(); DIR(c)[1] = BLK_CODEC_ZSTD;
			expect_bad(d, b, s.len);
			RESET(); b[4] = 1; expect_bad(d, b, s.len);
			nad++;
		}
		/* a length beyond the block */
		RESET(); DIR(c)[7] = 0x7f; expect_bad(d, b, s.len);
		/* a base beyond the column's type (an address's must be 0
		 * or IPv4), not for 8-byte ones */
		if (c > STORE_COL_PACKETS) {
			RESET(); DIR(c)[15] = 1; expect_bad(d, b, s.len);
		}
		/* a compressed column whose bytes were changed */
		if (s.desc[c].codec == BLK_CODEC_ZSTD) {
			RESET();
			b[s.off[c] + s.desc[c].clen / 2] ^= 0x5a;
			expect_bad(d, b, s.len);
		}
	}
	assert_true(nz > 5);
	/* the sample has bit-packed columns and dictionaries */
	assert_true(nd > 2);
	assert_true(ndict > 0);
	assert_true(nad > 0);
#undef RESET
#undef DIR
	free(b);
	free(s.buf);
	blk_dec_free(d);
}

/*
 * An address dictionary's code beyond its entries makes the block
 * damaged, whether the column is asked for as rows or as a dictionary.
 */
static void
test_adict_code_beyond(void **state)
{
	blk_enc_t *e = blk_enc_new(1);
	blk_dec_t *d = blk_dec_new();
	blk_coldesc_t desc[STORE_COL_COUNT];
	const uint8_t *buf;
	blk_info_t info;
	store_colbatch_t cb;
	struct rows r;
	size_t len, codes = BLK_FIXED_LEN;
	uint8_t *copy, v4[4];

	(void)state;
	rows_init(&r, 100);
	rows_const(&r);
	/* 2 IPv4 entries and 1 IPv6: 3 entries, 2-bit codes */
	for (size_t i = 0; i < r.n; i++) {
		put_be32(v4, 0x0a000001u + (uint32_t)(i % 2) * 0x10000);
		addr_from_v4(r.f[i].src, v4);
	}
	rng = 3;
	rnd_addr(r.f[5].src, 1);
	rows_sync(&r);
	colbuf_view(&r.b, &cb);
	assert_int_equal(blk_encode(e, &cb, &buf, &len, &info), 0);
	assert_int_equal(blk_describe(buf, len, &info.rows, desc), 0);
	assert_int_equal(desc[STORE_COL_SRC].rep, BLK_REP_ADICT);
	assert_int_equal(desc[STORE_COL_SRC].width, 2);
	for (int c = 0; c < STORE_COL_SRC; c++)
		codes += desc[c].clen;
	codes += 8 + 2 * 4 + 16;
	copy = malloc(len);
	assert_non_null(copy);
	memcpy(copy, buf, len);
	/* row 0 held code 0; code 2 (the IPv6 entry) is fine */
	copy[codes] = (uint8_t)((copy[codes] & ~3) | 2);
	assert_int_equal(blk_decode(d, copy, len, STORE_COLS_ALL, &cb), 0);
	assert_memory_equal(cb.src16[0], r.f[5].src, 16);
	/* code 3 is beyond the 3 entries */
	copy[codes] |= 3;
	assert_int_equal(blk_decode(d, copy, len, STORE_COLS_ALL, &cb),
	    FF_EPROTO);
	blk_dec_set_dict(d, STORE_COLBIT(STORE_COL_SRC));
	assert_int_equal(blk_decode(d, copy, len, STORE_COLS_ALL, &cb),
	    FF_EPROTO);
	free(copy);
	rows_free(&r);
	blk_enc_free(e);
	blk_dec_free(d);
}

/*
 * Version 1 blocks (no address dictionaries) still decode; the encoder
 * writes version 2.
 */
static void
test_version1(void **state)
{
	blk_enc_t *e = blk_enc_new(1);
	blk_dec_t *d = blk_dec_new();
	blk_coldesc_t desc[STORE_COL_COUNT];
	const uint8_t *buf;
	blk_info_t info;
	store_colbatch_t cb;
	struct rows r;
	size_t len;
	uint8_t *copy;

	(void)state;
	rows_init(&r, 300);
	rows_fill(&r, 8, 0);
	/* random IPv4 addresses everywhere: no column a dictionary */
	for (size_t i = 0; i < r.n; i++)
		rnd_addr(r.f[i].exporter, 0);
	rows_sync(&r);
	colbuf_view(&r.b, &cb);
	assert_int_equal(blk_encode(e, &cb, &buf, &len, &info), 0);
	assert_int_equal(buf[4], BLK_VERSION);
	assert_int_equal(BLK_VERSION, 2);
	assert_int_equal(blk_describe(buf, len, &info.rows, desc), 0);
	for (int c = 0; c < STORE_COL_COUNT; c++)
		assert_int_not_equal(desc[c].rep, BLK_REP_ADICT);
	copy = malloc(len);
	assert_non_null(copy);
	memcpy(copy, buf, len);
	copy[4] = 1;
	assert_int_equal(blk_decode(d, copy, len, STORE_COLS_ALL, &cb), 0);
	for (size_t i = 0; i < r.n; i++) {
		store_flow_t g;

		store_colbatch_row(&cb, i, &g);
		assert_memory_equal(&g, &r.f[i], sizeof(g));
	}
	copy[4] = 0;
	assert_int_equal(blk_decode(d, copy, len, STORE_COLS_ALL, &cb),
	    FF_EPROTO);
	free(copy);
	rows_free(&r);
	blk_enc_free(e);
	blk_dec_free(d);
}

/* A dictionary code beyond the entries decodes to the base value. */
static void
test_dict_code_beyond(void **state)
{
	blk_enc_t *e = blk_enc_new(1);
	blk_dec_t *d = blk_dec_new();
	blk_coldesc_t desc[STORE_COL_COUNT];
	const uint8_t *buf;
	blk_info_t info;
	store_colbatch_t cb;
	struct rows r;
	size_t len, off = BLK_FIXED_LEN;
	uint8_t *copy;

	(void)state;
	rows_init(&r, 100);
	rows_const(&r);
	for (size_t i = 0; i < r.n; i++)
		r.f[i].dport = (uint16_t)(10 * (1 + (i + 1) % 3));
	rows_sync(&r);
	colbuf_view(&r.b, &cb);
	assert_int_equal(blk_encode(e, &cb, &buf, &len, &info), 0);
	copy = malloc(len);
	assert_non_null(copy);
	memcpy(copy, buf, len);
	assert_int_equal(blk_describe(copy, len, &info.rows, desc), 0);
	/* 3 entries, 2-bit codes: 2 + 3 + 25 bytes beat 5-bit packing */
	assert_int_equal(desc[STORE_COL_DPORT].rep, BLK_REP_DICT);
	assert_int_equal(desc[STORE_COL_DPORT].width, 2);
	assert_true(desc[STORE_COL_DPORT].base == 10);
	for (int c = 0; c < STORE_COL_DPORT; c++)
		off += desc[c].clen;
	/* row 0's code is the low 2 bits after the 3 one-byte entries */
	copy[off + 2 + 3] |= 3;
	assert_int_equal(blk_decode(d, copy, len, STORE_COLS_ALL, &cb), 0);
	/* row 0 held 20 (code 0: codes follow first appearance) */
	assert_int_equal(r.f[0].dport, 20);
	assert_int_equal(cb.dport[0], 10);
	for (size_t i = 1; i < r.n; i++)
		assert_int_equal(cb.dport[i], r.f[i].dport);
	free(copy);
	rows_free(&r);
	blk_enc_free(e);
	blk_dec_free(d);
}

/* Random damage anywhere: FF_EPROTO, or a batch of the stated size. */
static void
test_random_damage(void **state)
{
	blk_dec_t *d = blk_dec_new();
	struct sample s;
	store_colbatch_t cb;
	int bad = 0, good = 0;

	(void)state;
	sample_make(&s, 257);
	rng = 99;
	for (int it = 0; it < 3000; it++) {
		uint8_t *b = malloc(s.len);
		int flips = 1 + (int)(rnd() % 4), rc;

		assert_non_null(b);
		memcpy(b, s.buf, s.len);
		for (int k = 0; k < flips; k++)
			b[rnd() % s.len] ^= (uint8_t)(1 + rnd() % 255);
		rc = blk_decode(d, b, s.len, STORE_COLS_ALL, &cb);
		if (rc == 0) {
			assert_true(cb.n <= STORE_BLOCK_ROWS_MAX);
			assert_int_equal(cb.cols, STORE_COLS_ALL);
			good++;
		} else {
			assert_int_equal(rc, FF_EPROTO);
			bad++;
		}
		free(b);
	}
	/* both outcomes occur: plain data bytes carry no checksum */
	assert_true(bad > 0);
	assert_true(good > 0);

	/* pure noise of every length up to a few blocks' headers */
	for (size_t len = 0; len < 2 * BLK_FIXED_LEN; len++) {
		uint8_t *b = malloc(len + 1);

		assert_non_null(b);
		for (size_t i = 0; i < len; i++)
			b[i] = (uint8_t)rnd();
		if (len >= 6) {
			memcpy(b, "FFBK", 4);
			b[4] = BLK_VERSION;
			b[5] = STORE_COL_COUNT;
		}
		assert_int_equal(blk_decode(d, b, len, STORE_COLS_ALL, &cb),
		    FF_EPROTO);
		free(b);
	}
	free(s.buf);
	blk_dec_free(d);
}

/*
 * A block written before the later columns of the table existed stores
 * fewer columns (ncols): rebuild an encoded block as it would have been
 * with only its first ncols columns, for every ncols from 1 up, and
 * decode it: the columns it stores come back as written, the others
 * read 0 (addresses ::), in row and in dictionary form. ncols 0 and
 * more than the table has are damage.
 */
static void
test_fewer_columns(void **state)
{
	blk_enc_t *e = blk_enc_new(1);
	blk_dec_t *d = blk_dec_new(), *dd = blk_dec_new();
	blk_coldesc_t desc[STORE_COL_COUNT];
	store_colbatch_t in, out;
	const uint8_t *buf;
	blk_info_t info;
	struct rows r;
	uint32_t rows;
	size_t len;

	(void)state;
	assert_non_null(e);
	assert_non_null(d);
	assert_non_null(dd);
	blk_dec_set_dict(dd, STORE_COLS_ALL);
	rows_init(&r, 1000);
	rows_fill(&r, 77, 30);
	colbuf_view(&r.b, &in);
	assert_int_equal(blk_encode(e, &in, &buf, &len, &info), 0);
	assert_int_equal(blk_describe(buf, len, &rows, desc), 0);
	for (unsigned ncols = 0; ncols <= STORE_COL_COUNT + 1; ncols++) {
		size_t data = BLK_FIXED_LEN, keep = 0, olen;
		uint8_t *old;

		for (unsigned c = 0; c < STORE_COL_COUNT; c++)
			if (c < ncols)
				keep += desc[c].clen;
		olen = BLK_HDR_LEN + (size_t)ncols * BLK_DIR_LEN + keep;
		old = malloc(olen);
		assert_non_null(old);
		memcpy(old, buf, BLK_HDR_LEN);
		old[5] = (uint8_t)ncols;
		if (ncols > STORE_COL_COUNT) {
			/* one directory entry and no bytes more than it has */
			old = realloc(old, len + BLK_DIR_LEN);
			assert_non_null(old);
			memcpy(old, buf, BLK_FIXED_LEN);
			memset(old + BLK_FIXED_LEN, 0, BLK_DIR_LEN);
			old[BLK_FIXED_LEN] = BLK_REP_CONST;
			memcpy(old + BLK_FIXED_LEN + BLK_DIR_LEN,
			    buf + BLK_FIXED_LEN, len - BLK_FIXED_LEN);
			old[5] = (uint8_t)ncols;
			assert_int_equal(blk_decode(d, old, len + BLK_DIR_LEN,
			    STORE_COLS_ALL, &out), FF_EPROTO);
			free(old);
			continue;
		}
		memcpy(old + BLK_HDR_LEN, buf + BLK_HDR_LEN,
		    (size_t)ncols * BLK_DIR_LEN);
		memcpy(old + BLK_HDR_LEN + (size_t)ncols * BLK_DIR_LEN,
		    buf + data, keep);
		if (ncols == 0) {
			assert_int_equal(blk_decode(d, old, olen,
			    STORE_COLS_ALL, &out), FF_EPROTO);
			free(old);
			continue;
		}
		assert_int_equal(blk_describe(old, olen, &rows, NULL), 0);
		assert_int_equal(rows, r.n);
		assert_int_equal(blk_decode(d, old, olen, STORE_COLS_ALL,
		    &out), 0);
		assert_int_equal(out.n, r.n);
		for (size_t i = 0; i < r.n; i++) {
			store_flow_t want = r.f[i], got;

			for (unsigned c = ncols; c < STORE_COL_COUNT; c++) {
				if (store_col_width(c) == 16)
					memset(*addr_of(&want, (int)c), 0, 16);
				else
					set_int(&want, (int)c, 0);
			}
			store_colbatch_row(&out, i, &got);
			assert_memory_equal(&got, &want, sizeof(got));
		}
		/* dictionary form asked for: the missing ones come as rows */
		assert_int_equal(blk_decode(dd, old, olen, STORE_COLS_ALL,
		    &out), 0);
		for (unsigned c = ncols; c < STORE_COL_COUNT; c++)
			assert_false(out.dict & STORE_COLBIT(c));
		free(old);
	}
	rows_free(&r);
	blk_enc_free(e);
	blk_dec_free(d);
	blk_dec_free(dd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_sizes),
		cmocka_unit_test(test_roundtrip_max_rows),
		cmocka_unit_test(test_int_widths),
		cmocka_unit_test(test_packings),
		cmocka_unit_test(test_addr_forms),
		cmocka_unit_test(test_addr_raw16),
		cmocka_unit_test(test_dict_form),
		cmocka_unit_test(test_fits),
		cmocka_unit_test(test_version1),
		cmocka_unit_test(test_fewer_columns),
		cmocka_unit_test(test_adict_code_beyond),
		cmocka_unit_test(test_partial_and_v4_form),
		cmocka_unit_test(test_truncated_and_extended),
		cmocka_unit_test(test_lying_fields),
		cmocka_unit_test(test_dict_code_beyond),
		cmocka_unit_test(test_random_damage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
