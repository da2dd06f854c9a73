/*
 * libFuzzer target: the filter language, filter_compile() and the two
 * evaluators.
 *
 * The input is the filter text (up to its first NUL). What the filter
 * module promises is checked, else the target aborts:
 *  - an error is FF_ESYNTAX, sets no filter, and its message is either
 *    "filter too long ..." or "[line L, ]column C: ..." with L and C
 *    inside the text;
 *  - a compiled filter gives, on a fixed batch of flows chosen at the
 *    edges of every field (IPv4 and IPv6, around ::ffff:0:0/96), the same
 *    selection from filter_eval (address columns in 16-byte form, and in
 *    IPv4 form on the IPv4 rows) as from filter_match row by row, the
 *    right count, no bits past the last row, reads only the columns
 *    filter_columns names (the others are NULL) and the scratch it asks
 *    for (exact-size heap buffers, so ASan sees an overrun);
 *  - its normalized print compiles (or fails on a limit only: a print
 *    can be longer, deeper or have more terms than what it came from),
 *    prints the same, and selects the same rows.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "store/query/filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NROWS	200

static store_flow_t rows[NROWS];
static size_t nrows, nrows4;	/* rows[0..nrows4) are all IPv4 */

static const char *const addrs4[] = { "0.0.0.0", "10.0.0.1", "10.0.0.2",
    "10.255.255.255", "127.0.0.1", "128.0.0.0", "172.16.0.1",
    "192.168.1.1", "255.255.255.255", "1.2.3.4" };
static const char *const addrs6[] = { "::", "::1", "::1.2.3.4",
    "::fffe:ffff:ffff", "::1:0:0:0", "2001:db8::1", "2001:db8:1::2",
    "fe80::1", "ff02::1", "ffff::1", "8000::" };
static const uint16_t ports[] = { 0, 1, 22, 53, 80, 443, 1023, 1024,
    0x0800, 0x0303, 65534, 65535 };
static const uint64_t counts[] = { 0, 1, 999, 1000, 1001, 1000000,
    4000000000ULL, UINT64_MAX };
static const uint32_t u32s[] = { 0, 1, 3, 7, 3356, 65535, 4294967295u };
static const uint8_t u8s[] = { 0, 1, 2, 4, 6, 17, 18, 24, 32, 47, 58, 63,
    64, 128, 184, 255 };

static void
init_rows(void)
{
	uint64_t x = 0x243f6a8885a308d3ULL;

	for (size_t i = 0; i < NROWS; i++) {
		store_flow_t *f = &rows[i];
		int v6 = i >= NROWS / 2;
		uint8_t *a[4] = { f->src, f->dst, f->nexthop, f->exporter };

		memset(f, 0, sizeof(*f));
		for (int k = 0; k < 4; k++) {
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
			if (!v6 || (k >= 2 && (x >> 40) % 2))
				addr_parse(addrs4[(x >> 33) % FF_NELEM(addrs4)],
				    a[k]);
			else if ((x >> 40) % 4 == 0)
				addr_parse(addrs4[(x >> 33) % FF_NELEM(addrs4)],
				    a[k]);
			else
				addr_parse(addrs6[(x >> 33) % FF_NELEM(addrs6)],
				    a[k]);
		}
		if (!addr_is_v4(f->src) || !addr_is_v4(f->dst))
			f->flags = STORE_FLOW_F_V6;
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		f->sport = ports[(x >> 20) % FF_NELEM(ports)];
		f->dport = ports[(x >> 30) % FF_NELEM(ports)];
		f->bytes = counts[(x >> 40) % FF_NELEM(counts)];
		f->packets = counts[(x >> 50) % FF_NELEM(counts)];
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		f->in_if = u32s[(x >> 20) % FF_NELEM(u32s)];
		f->out_if = u32s[(x >> 26) % FF_NELEM(u32s)];
		f->src_as = u32s[(x >> 32) % FF_NELEM(u32s)];
		f->dst_as = u32s[(x >> 38) % FF_NELEM(u32s)];
		f->tags = (uint32_t)(x >> 13);
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		f->proto = u8s[(x >> 20) % FF_NELEM(u8s)];
		f->tcp_flags = u8s[(x >> 26) % FF_NELEM(u8s)];
		f->tos = u8s[(x >> 32) % FF_NELEM(u8s)];
		f->src_mask = u8s[(x >> 38) % FF_NELEM(u8s)];
		f->dst_mask = u8s[(x >> 44) % FF_NELEM(u8s)];
		f->sampling = 1;
	}
	nrows = NROWS;
	/* the first half is IPv4 in every address column */
	nrows4 = NROWS / 2;
}

/*
 * Column arrays of a batch (store/columns.def), rebuilt per evaluation
 * with only cols set.
 */
#define ARR_U8(name)	static uint8_t c_##name[NROWS];
#define ARR_U16(name)	static uint16_t c_##name[NROWS];
#define ARR_U32(name)	static uint32_t c_##name[NROWS];
#define ARR_U64(name)	static uint64_t c_##name[NROWS];
#define ARR_ADDR(name)	static uint32_t c_##name##4[NROWS]; \
			static uint8_t c_##name##16[NROWS][16];
#define STORE_COLUMN(id, name, type, rank, filter, list) ARR_##type(name)
#include "store/columns.def"
#undef STORE_COLUMN

#define FILL_U8(name)	c_##name[i] = f->name;
#define FILL_U16(name)	c_##name[i] = f->name;
#define FILL_U32(name)	c_##name[i] = f->name;
#define FILL_U64(name)	c_##name[i] = f->name;
#define FILL_ADDR(name)	c_##name##4[i] = be32(f->name + 12); \
			memcpy(c_##name##16[i], f->name, 16);

static void
fill_columns(void)
{
	for (size_t i = 0; i < nrows; i++) {
		const store_flow_t *f = &rows[i];

#define STORE_COLUMN(id, name, type, rank, filter, list) FILL_##type(name)
#include "store/columns.def"
#undef STORE_COLUMN
	}
}

#define SET_INT(id, name)						\
	if (cols & STORE_COLBIT(STORE_COL_##id))			\
		cb->name = c_##name;
#define SET_U8(id, name)	SET_INT(id, name)
#define SET_U16(id, name)	SET_INT(id, name)
#define SET_U32(id, name)	SET_INT(id, name)
#define SET_U64(id, name)	SET_INT(id, name)
#define SET_ADDR(id, name)						\
	if ((cols & STORE_COLBIT(STORE_COL_##id)) && v4form) {		\
		cb->v4 |= STORE_COLBIT(STORE_COL_##id);			\
		cb->name##4 = c_##name##4;				\
	} else if (cols & STORE_COLBIT(STORE_COL_##id))			\
		cb->name##16 = (const uint8_t (*)[16])c_##name##16;

static void
batch(store_colbatch_t *cb, size_t n, uint32_t cols, int v4form)
{
	memset(cb, 0, sizeof(*cb));
	cb->n = n;
	cb->cols = cols;
#define STORE_COLUMN(id, name, type, rank, filter, list) SET_##type(id, name)
#include "store/columns.def"
#undef STORE_COLUMN
}

/* filter_eval on n rows, checked against filter_match; bits into sel8. */
static void
eval_check(const query_filter_t *f, size_t n, int v4form, uint8_t *sel8)
{
	size_t nw = (n + 63) / 64, scr = filter_scratch_words(f), cnt, ones = 0;
	uint64_t *sel = malloc(nw * 8), *scratch = NULL;
	store_colbatch_t cb;

	if (sel == NULL)
		abort();
	memset(sel, 0x5a, nw * 8);
	if (scr > 0 && (scratch = malloc(scr * nw * 8)) == NULL)
		abort();
	batch(&cb, n, filter_columns(f), v4form);
	cnt = filter_eval(f, &cb, sel, scratch);
	for (size_t i = 0; i < n; i++) {
		int b = (int)((sel[i / 64] >> (i % 64)) & 1);

		if (b != filter_match(f, &rows[i]))
			abort();
		sel8[i] = (uint8_t)b;
		ones += (size_t)b;
	}
	if (cnt != ones)
		abort();
	if (n % 64 != 0 && (sel[nw - 1] >> (n % 64)) != 0)
		abort();
	free(sel);
	free(scratch);
}

static void
check_error(const char *text, const char *err)
{
	unsigned long line = 1, col, lines = 1, len = 0, cur = 0;
	const char *p = err;
	char *end;

	if (strncmp(err, "filter too long", 15) == 0)
		return;
	if (strncmp(p, "line ", 5) == 0) {
		line = strtoul(p + 5, &end, 10);
		if (strncmp(end, ", ", 2) != 0)
			abort();
		p = end + 2;
	}
	if (strncmp(p, "column ", 7) != 0)
		abort();
	col = strtoul(p + 7, &end, 10);
	if (strncmp(end, ": ", 2) != 0 || line == 0 || col == 0)
		abort();
	/* the line exists, and the column is within it (or just past) */
	for (const char *s = text; *s != '\0'; s++) {
		if (*s == '\n') {
			if (lines == line)
				len = cur;
			lines++;
			cur = 0;
		} else
			cur++;
	}
	if (lines == line)
		len = cur;
	if (line > lines || col > len + 1)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t s16[NROWS], s4[NROWS], again[NROWS];
	query_filter_t *f = (query_filter_t *)s16, *g = NULL;
	char err[256], *text, *p1, *p2;
	size_t plen;
	int rc;

	if (nrows == 0) {
		init_rows();
		fill_columns();
	}
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	rc = filter_compile(text, &f, err, sizeof(err));
	if (rc != 0) {
		if (rc != FF_ESYNTAX || f != NULL)
			abort();
		check_error(text, err);
		free(text);
		return 0;
	}
	eval_check(f, nrows, 0, s16);
	eval_check(f, nrows4, 1, s4);
	if (memcmp(s4, s16, nrows4) != 0)
		abort();
	/* a batch size that is not a multiple of 64 */
	eval_check(f, 77, 0, s4);
	if (memcmp(s4, s16, 77) != 0)
		abort();

	plen = filter_print(f, NULL, 0) + 1;
	if ((p1 = malloc(plen)) == NULL || (p2 = malloc(plen)) == NULL)
		abort();
	if (filter_print(f, p1, plen) != plen - 1)
		abort();
	if (filter_compile(p1, &g, err, sizeof(err)) != 0) {
		if (strstr(err, "too long") == NULL &&
		    strstr(err, "too many terms") == NULL &&
		    strstr(err, "nesting too deep") == NULL &&
		    strstr(err, "filter too large") == NULL)
			abort();
	} else {
		if (filter_print(g, p2, plen) != plen - 1 ||
		    strcmp(p1, p2) != 0)
			abort();
		eval_check(g, nrows, 0, again);
		if (memcmp(again, s16, nrows) != 0)
			abort();
		filter_free(g);
	}
	free(p1);
	free(p2);
	filter_free(f);
	free(text);
	return 0;
}
