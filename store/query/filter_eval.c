/*
 * Evaluation of compiled filters (see filter.h for their shape).
 *
 * filter_eval works column-wise: every leaf is one tight loop over one
 * typed column that produces 64 selection bits per word; AND/OR combine
 * them word by word. A leaf under an AND skips the words where nothing
 * is selected any more (under an OR, where everything is), so the cheap
 * and selective terms, which normalization puts first, save the work of
 * the others. Nothing is allocated: an OR below an AND (and vice versa)
 * evaluates into one of the caller's scratch bitmaps.
 *
 * filter_match evaluates one flow record directly from the 16-byte
 * addresses and the prefix lists as written; it is the reference that
 * the tests hold filter_eval to.
 */
#include <assert.h>
#include <endian.h>
#include <string.h>

#include "common/util.h"
#include "filter.h"

enum { M_SET, M_AND, M_OR };

struct evctx {
	const store_colbatch_t *cb;
	size_t n, nw;
	uint64_t *scratch;
};

/*
 * The word loop every leaf kernel shares. Words where care[] is 0 do not
 * matter to the caller; in AND mode words already 0, in OR mode words
 * already all 1, stay as they are. Otherwise the 64 rows of the word
 * (fewer in the last word) get their bits from FILL, then the leaf's
 * negation and the combination with dst apply. Bits beyond n come out
 * arbitrary; filter_eval clears them.
 *
 * FILL sees base (first row of the word), m_ (rows in the word) and
 * either sets bits directly (BIT_ROWS: for predicates that do not
 * vectorize, such as searches) or fills the byte array t_ with 0/1 per
 * row (BYTE_ROWS, BYTE_ROWS_OR: simple comparisons that the compiler
 * turns into vector code), which pack64 turns into bits.
 */
#define WORD_LOOP(BYTES, FILL) do {					\
	for (size_t w = 0; w < nw; w++) {				\
		uint64_t cur = 0, bits = 0;				\
		size_t base = w * 64, m_;				\
		uint8_t t_[64];						\
									\
		if (care != NULL && care[w] == 0) {			\
			if (mode == M_SET)				\
				dst[w] = 0;				\
			continue;					\
		}							\
		if (mode != M_SET) {					\
			cur = dst[w];					\
			if (mode == M_AND ? cur == 0 : cur == ~0ULL)	\
				continue;				\
		}							\
		if (n - base >= 64) {					\
			m_ = 64;					\
			FILL;						\
		} else {						\
			m_ = n - base;					\
			if (BYTES)					\
				memset(t_ + m_, 0, 64 - m_);		\
			FILL;						\
		}							\
		if (BYTES)						\
			bits = pack64(t_);				\
		bits ^= neg;						\
		dst[w] = mode == M_SET ? bits : mode == M_AND ?		\
		    (cur & bits) : (cur | bits);			\
	}								\
} while (0)

/* bits |= PRED for each row i of the word */
#define BIT_ROWS(PRED) do {						\
	for (size_t j = 0; j < m_; j++) {				\
		size_t i = base + j;					\
									\
		bits |= (uint64_t)(PRED) << j;				\
	}								\
} while (0)

/* t_[row] = PRED for each row i of the word */
#define BYTE_ROWS(PRED) do {						\
	for (size_t j = 0; j < m_; j++) {				\
		size_t i = base + j;					\
									\
		t_[j] = (uint8_t)(PRED);				\
	}								\
} while (0)

/* t_[row] = PRED(k) for any k in [0, NK) */
#define BYTE_ROWS_ANY(NK, PRED) do {					\
	memset(t_, 0, m_);						\
	for (size_t k = 0; k < (NK); k++) {				\
		for (size_t j = 0; j < m_; j++) {			\
			size_t i = base + j;				\
									\
			t_[j] |= (uint8_t)(PRED);			\
		}							\
	}								\
} while (0)

/* Sets and lists up to this size are scanned whole, in vector code. */
#define SMALL_SET	8
#define SMALL_LIST	16

/*
 * 64 bytes of 0/1 into 64 bits (byte j -> bit j): eight bytes at a time,
 * multiplying moves byte k's bit to bit 56 + k with no carries.
 */
static inline uint64_t
pack64(const uint8_t t[64])
{
	uint64_t bits = 0;

	for (int k = 0; k < 8; k++) {
		uint64_t x;

		memcpy(&x, t + 8 * k, 8);
		x = le64toh(x);
		bits |= ((x * 0x0102040810204080ULL) >> 56) << (8 * k);
	}
	return bits;
}

/* Kernels stay out of line: each is one tight loop of its own. */
#define KERNEL	__attribute__((noinline))

#define KERNEL_ARGS	const struct fnode *nd, size_t n, uint64_t *dst, \
	int mode, const uint64_t *care
#define KERNEL_PRE							\
	size_t nw = (n + 63) / 64;					\
	uint64_t neg = nd->neg ? ~0ULL : 0

/* Binary search in a sorted set of 32-bit values. */
static inline int
set_has(const struct fset *s, uint32_t x)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->vals[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n && s->vals[lo] == x;
}

/* Range, mask and set kernels for each integer width. */
#define INT_KERNELS(T, BITMAP)						\
static KERNEL void							\
k_range_##T(KERNEL_ARGS, const T *col)					\
{									\
	KERNEL_PRE;							\
	T lo = (T)nd->u.range.lo;					\
	T span = (T)(nd->u.range.hi - nd->u.range.lo);			\
									\
	WORD_LOOP(1, BYTE_ROWS((T)(col[i] - lo) <= span));		\
}									\
									\
static KERNEL void							\
k_mask_##T(KERNEL_ARGS, const T *col)					\
{									\
	KERNEL_PRE;							\
	T mk = (T)nd->u.mask.m, v = (T)nd->u.mask.v;			\
									\
	WORD_LOOP(1, BYTE_ROWS((col[i] & mk) == v));			\
}									\
									\
static KERNEL void							\
k_set_##T(KERNEL_ARGS, const T *col)					\
{									\
	KERNEL_PRE;							\
	const struct fset *s = nd->u.set;				\
									\
	if (s->n <= SMALL_SET) {					\
		T v[SMALL_SET];						\
		size_t nv = s->n;					\
									\
		for (size_t k = 0; k < nv; k++)				\
			v[k] = (T)s->vals[k];				\
		WORD_LOOP(1, BYTE_ROWS_ANY(nv, col[i] == v[k]));	\
	} else if (BITMAP) {						\
		const uint64_t *bm = s->bits;				\
									\
		WORD_LOOP(0, BIT_ROWS((bm[col[i] >> 6] >>		\
		    (col[i] & 63)) & 1));				\
	} else								\
		WORD_LOOP(0, BIT_ROWS(set_has(s, (uint32_t)col[i])));	\
}

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

INT_KERNELS(u8, 1)
INT_KERNELS(u16, 1)
INT_KERNELS(u32, 0)
INT_KERNELS(u64, 0)

/* Is host-order IPv4 a in one of the sorted disjoint intervals? */
static inline int
iv4_has(const struct flist *l, uint32_t a)
{
	size_t lo = 0, hi = l->n4;

	/* first interval whose hi >= a */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->iv4[mid].hi < a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < l->n4 && l->iv4[lo].lo <= a;
}

static inline int
iv6_has(const struct flist *l, const uint8_t a[16])
{
	uint64_t ah = be64(a), al = be64(a + 8);
	size_t lo = 0, hi = l->n6;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct fiv6 *v = &l->iv6[mid];

		if (v->hi_hi < ah || (v->hi_hi == ah && v->hi_lo < al))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo >= l->n6)
		return 0;
	return l->iv6[lo].lo_hi < ah ||
	    (l->iv6[lo].lo_hi == ah && l->iv6[lo].lo_lo <= al);
}

/* (a & m) == v on a 16-byte address, as two native-order loads */
static inline int
addr16_match(const uint8_t a[16], const uint64_t m[2], const uint64_t v[2])
{
	uint64_t x0, x1;

	memcpy(&x0, a, 8);
	memcpy(&x1, a + 8, 8);
	return ((x0 & m[0]) == v[0]) & ((x1 & m[1]) == v[1]);
}

/*
 * a in a short list: an IPv4-mapped a is looked up among the IPv4
 * intervals, any other among the prefixes that hold non-mapped addresses
 * (all tried: no branches to mispredict).
 */
static inline int
small_list16_has(const struct flist *l, const uint8_t a[16])
{
	static const uint8_t mapped[12] =
	    { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	uint64_t x0, x1, p0;
	uint32_t p1, y;
	int r = 0;

	memcpy(&x0, a, 8);
	memcpy(&x1, a + 8, 8);
	memcpy(&p0, mapped, 8);
	memcpy(&p1, mapped + 8, 4);
	memcpy(&y, a + 8, 4);
	if (x0 == p0 && y == p1) {
		uint32_t v4 = be32(a + 12);

		for (size_t k = 0; k < l->n4; k++)
			r |= v4 - l->iv4[k].lo <= l->iv4[k].hi - l->iv4[k].lo;
		return r;
	}
	for (size_t k = 0; k < l->nnat6; k++)
		r |= ((x0 & l->nat6[k].m[0]) == l->nat6[k].v[0]) &
		    ((x1 & l->nat6[k].m[1]) == l->nat6[k].v[1]);
	return r;
}

static KERNEL void
k_addr4(KERNEL_ARGS, const uint32_t *col)
{
	KERNEL_PRE;
	const struct faddr *fa = &nd->u.addr;
	uint32_t mk = fa->m4, v = fa->v4;

	if (!fa->v4any)
		WORD_LOOP(0, (void)0);
	else
		WORD_LOOP(1, BYTE_ROWS((col[i] & mk) == v));
}

static KERNEL void
k_addr16(KERNEL_ARGS, const uint8_t (*col)[16])
{
	KERNEL_PRE;
	const struct faddr *fa = &nd->u.addr;

	WORD_LOOP(0, BIT_ROWS(addr16_match(col[i], fa->m64, fa->v64)));
}

static KERNEL void
k_list4(KERNEL_ARGS, const uint32_t *col)
{
	KERNEL_PRE;
	const struct flist *l = nd->u.list;

	if (l->n4 <= SMALL_LIST) {
		uint32_t lo[SMALL_LIST], span[SMALL_LIST];
		size_t ni = l->n4;

		for (size_t k = 0; k < ni; k++) {
			lo[k] = l->iv4[k].lo;
			span[k] = l->iv4[k].hi - l->iv4[k].lo;
		}
		WORD_LOOP(1, BYTE_ROWS_ANY(ni, col[i] - lo[k] <= span[k]));
	} else
		WORD_LOOP(0, BIT_ROWS(iv4_has(l, col[i])));
}

static KERNEL void
k_list16(KERNEL_ARGS, const uint8_t (*col)[16])
{
	KERNEL_PRE;
	const struct flist *l = nd->u.list;

	if (l->n <= SMALL_LIST)
		WORD_LOOP(0, BIT_ROWS(small_list16_has(l, col[i])));
	else
		WORD_LOOP(0, BIT_ROWS(iv6_has(l, col[i])));
}

/* The rows of integer column col (columns.def) of cb. */
#define INT_COL_U8(id, name)	case STORE_COL_##id: return cb->name;
#define INT_COL_U16(id, name)	case STORE_COL_##id: return cb->name;
#define INT_COL_U32(id, name)	case STORE_COL_##id: return cb->name;
#define INT_COL_U64(id, name)	case STORE_COL_##id: return cb->name;
#define INT_COL_ADDR(id, name)

static const void *
int_col(const store_colbatch_t *cb, unsigned col)
{
	switch (col) {
#define STORE_COLUMN(id, name, type, rank, filter, list) INT_COL_##type(id, name)
#include "store/columns.def"
#undef STORE_COLUMN
	}
	return NULL;
}

/* The rows of address column col of cb: in IPv4 form (*a4) or not (*a16). */
#define ADDR_COL_U8(id, name)
#define ADDR_COL_U16(id, name)
#define ADDR_COL_U32(id, name)
#define ADDR_COL_U64(id, name)
#define ADDR_COL_ADDR(id, name)	case STORE_COL_##id:			\
	*a4 = cb->name##4;						\
	*a16 = cb->name##16;						\
	break;

static void
addr_col(const store_colbatch_t *cb, unsigned col, const uint32_t **a4,
    const uint8_t (**a16)[16])
{
	*a4 = NULL;
	*a16 = NULL;
	switch (col) {
#define STORE_COLUMN(id, name, type, rank, filter, list) ADDR_COL_##type(id, name)
#include "store/columns.def"
#undef STORE_COLUMN
	}
	if (cb->v4 & STORE_COLBIT(col))
		*a16 = NULL;
	else
		*a4 = NULL;
}

static void
eval_leaf(struct evctx *e, const struct fnode *nd, uint64_t *dst, int mode,
    const uint64_t *care)
{
	size_t n = e->n;

	if (nd->op == FOP_ADDR || nd->op == FOP_ADDR_LIST) {
		const uint32_t *a4;
		const uint8_t (*a16)[16];

		addr_col(e->cb, nd->col, &a4, &a16);
		if (nd->op == FOP_ADDR) {
			if (a4 != NULL)
				k_addr4(nd, n, dst, mode, care, a4);
			else
				k_addr16(nd, n, dst, mode, care, a16);
		} else {
			if (a4 != NULL)
				k_list4(nd, n, dst, mode, care, a4);
			else
				k_list16(nd, n, dst, mode, care, a16);
		}
		return;
	}

#define DISPATCH(T)							\
	do {								\
		const T *c = int_col(e->cb, nd->col);			\
									\
		if (nd->op == FOP_RANGE)				\
			k_range_##T(nd, n, dst, mode, care, c);		\
		else if (nd->op == FOP_MASK)				\
			k_mask_##T(nd, n, dst, mode, care, c);		\
		else							\
			k_set_##T(nd, n, dst, mode, care, c);		\
	} while (0)

	switch (store_col_width(nd->col)) {
	case 1: DISPATCH(u8); break;
	case 2: DISPATCH(u16); break;
	case 4: DISPATCH(u32); break;
	default: DISPATCH(u64); break;
	}
#undef DISPATCH
}

/*
 * Evaluate nd into dst per mode (M_SET: dst = nd; M_AND: dst &= nd;
 * M_OR: dst |= nd), caring only for the words where care (if not NULL)
 * is non-zero. level is the first scratch bitmap free for this subtree.
 */
static void
eval_node(struct evctx *e, const struct fnode *nd, uint64_t *dst, int mode,
    const uint64_t *care, size_t level)
{
	int inner = nd->kind == FN_AND ? M_AND : M_OR;

	if (nd->kind == FN_LEAF) {
		eval_leaf(e, nd, dst, mode, care);
		return;
	}
	if (mode != M_SET && mode != inner) {
		/* OR under AND, AND under OR: evaluate aside, combine */
		uint64_t *tmp = e->scratch + level * e->nw;

		eval_node(e, nd, tmp, M_SET, mode == M_AND ? dst : care,
		    level + 1);
		if (mode == M_AND) {
			for (size_t w = 0; w < e->nw; w++)
				dst[w] &= tmp[w];
		} else {
			for (size_t w = 0; w < e->nw; w++)
				dst[w] |= tmp[w];
		}
		return;
	}
	for (size_t i = 0; i < nd->nkids; i++)
		eval_node(e, nd->kids[i], dst, i == 0 && mode == M_SET ?
		    M_SET : inner, care, level);
}

/* Bits set in x (SWAR; the builtin is a libgcc call without -mpopcnt). */
static inline size_t
popcount64(uint64_t x)
{
	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (size_t)((x * 0x0101010101010101ULL) >> 56);
}

size_t
filter_eval(const query_filter_t *f, const store_colbatch_t *cb, uint64_t *sel,
    uint64_t *scratch)
{
	struct evctx e;
	size_t cnt = 0;

	assert((cb->cols & f->cols) == f->cols);
	e.cb = cb;
	e.n = cb->n;
	e.nw = (cb->n + 63) / 64;
	e.scratch = scratch;
	if (e.nw == 0)
		return 0;
	switch (f->root->kind) {
	case FN_TRUE:
		memset(sel, 0xff, e.nw * sizeof(*sel));
		break;
	case FN_FALSE:
		memset(sel, 0, e.nw * sizeof(*sel));
		return 0;
	default:
		eval_node(&e, f->root, sel, M_SET, NULL, 0);
		break;
	}
	if (e.n % 64 != 0)
		sel[e.nw - 1] &= ((uint64_t)1 << (e.n % 64)) - 1;
	for (size_t w = 0; w < e.nw; w++)
		cnt += popcount64(sel[w]);
	return cnt;
}

/* ---------------------------------------------------------------------
 * One record at a time: the reference semantics.
 * --------------------------------------------------------------------- */

/* Integer column col of a flow record. */
#define FLOW_INT_U8(id, name)	case STORE_COL_##id: return fl->name;
#define FLOW_INT_U16(id, name)	case STORE_COL_##id: return fl->name;
#define FLOW_INT_U32(id, name)	case STORE_COL_##id: return fl->name;
#define FLOW_INT_U64(id, name)	case STORE_COL_##id: return fl->name;
#define FLOW_INT_ADDR(id, name)

static uint64_t
flow_int(const store_flow_t *fl, unsigned col)
{
	switch (col) {
#define STORE_COLUMN(id, name, type, rank, filter, list) FLOW_INT_##type(id, name)
#include "store/columns.def"
#undef STORE_COLUMN
	}
	return 0;
}

/* Address column col of a flow record. */
#define FLOW_ADDR_U8(id, name)
#define FLOW_ADDR_U16(id, name)
#define FLOW_ADDR_U32(id, name)
#define FLOW_ADDR_U64(id, name)
#define FLOW_ADDR_ADDR(id, name) case STORE_COL_##id: return fl->name;

static const uint8_t *
flow_addr(const store_flow_t *fl, unsigned col)
{
	switch (col) {
#define STORE_COLUMN(id, name, type, rank, filter, list) FLOW_ADDR_##type(id, name)
#include "store/columns.def"
#undef STORE_COLUMN
	}
	return fl->src;
}

/* Do the first len bits of a and p agree? */
static int
prefix_match(const uint8_t a[16], const uint8_t p[16], unsigned len)
{
	for (unsigned bit = 0; bit < len; bit++) {
		unsigned byte = bit / 8, shift = 7 - bit % 8;

		if (((a[byte] >> shift) & 1) != ((p[byte] >> shift) & 1))
			return 0;
	}
	return 1;
}

static int
match_leaf(const struct fnode *nd, const store_flow_t *fl)
{
	uint64_t x;

	if (nd->op == FOP_ADDR) {
		const uint8_t *a = flow_addr(fl, nd->col);

		for (int k = 0; k < 16; k++)
			if ((a[k] & nd->u.addr.mask[k]) != nd->u.addr.val[k])
				return 0;
		return 1;
	}
	if (nd->op == FOP_ADDR_LIST) {
		const uint8_t *a = flow_addr(fl, nd->col);

		for (size_t i = 0; i < nd->u.list->n; i++)
			if (prefix_match(a, nd->u.list->pfx[i].a,
			    nd->u.list->pfx[i].len))
				return 1;
		return 0;
	}
	x = flow_int(fl, nd->col);
	switch (nd->op) {
	case FOP_RANGE:
		return nd->u.range.lo <= x && x <= nd->u.range.hi;
	case FOP_MASK:
		return (x & nd->u.mask.m) == nd->u.mask.v;
	default:
		for (size_t i = 0; i < nd->u.set->n; i++)
			if (nd->u.set->vals[i] == x)
				return 1;
		return 0;
	}
}

static int
match_node(const struct fnode *nd, const store_flow_t *fl)
{
	switch (nd->kind) {
	case FN_TRUE:
		return 1;
	case FN_FALSE:
		return 0;
	case FN_LEAF:
		return match_leaf(nd, fl) ^ nd->neg;
	case FN_AND:
		for (size_t i = 0; i < nd->nkids; i++)
			if (!match_node(nd->kids[i], fl))
				return 0;
		return 1;
	default:
		for (size_t i = 0; i < nd->nkids; i++)
			if (match_node(nd->kids[i], fl))
				return 1;
		return 0;
	}
}

int
filter_match(const query_filter_t *f, const store_flow_t *flow)
{
	return match_node(f->root, flow);
}
