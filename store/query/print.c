/*
 * Printing the final answer of a result: an aligned table with
 * human-readable numbers (default), JSON (one object, exact numbers) or
 * CSV (a header line, then exact numbers).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/json.h"
#include "common/util.h"
#include "query_int.h"

#define CELL	64
#define MAXCOL	12

/* --- number and key formatting ------------------------------------------ */

static char *
pct_fmt(uint64_t part, uint64_t total, char *buf, size_t len)
{
	if (total == 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1f%%", 100.0 * (double)part /
		    (double)total);
	return buf;
}

/*
 * Key k of identity id as text: addresses, prefixes "a/len", numbers;
 * the protocol by name when names is set.
 */
static char *
key_fmt(const qident_t *id, const uint8_t k[16], int names, char *buf,
    size_t len)
{
	uint64_t hi, lo;
	char ab[ADDR_STRLEN], pb[8];

	key_from_bytes(k, &hi, &lo);
	if (key_is_addr(id->key)) {
		addr_fmt(k, ab, sizeof(ab));
		if (id->key == QUERY_KEY_SRCNET || id->key == QUERY_KEY_DSTNET)
			snprintf(buf, len, "%s/%u", ab, key_is_v4(hi, lo) ?
			    id->prefix4 : id->prefix6);
		else
			snprintf(buf, len, "%s", ab);
	} else if (id->key == QUERY_KEY_PROTO && names)
		snprintf(buf, len, "%s", query_proto_name((uint8_t)lo, pb));
	else
		snprintf(buf, len, "%" PRIu64, lo);
	return buf;
}

/* CSV field: quoted when it holds a comma, quote or line break. */
static void
csv_str(FILE *fp, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, fp);
		return;
	}
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			fputc('"', fp);
		fputc(*s, fp);
	}
	fputc('"', fp);
}

static char *
window_fmt(uint64_t t, int is_end, char *buf, size_t len)
{
	if ((!is_end && t == 0) || (is_end && t == UINT64_MAX))
		snprintf(buf, len, "%s", is_end ? "end" : "start");
	else
		time_fmt_ms(t, buf, len);
	return buf;
}

/* --- aligned tables ------------------------------------------------------- */

/*
 * A table is printed in two passes over its rows: one to measure the
 * columns, one to print them. fill() writes row i's cells (row -1: the
 * header).
 */
struct table {
	int ncol;
	const int *right;	/* 1: right-aligned column */
	size_t nrow;
	void (*fill)(const void *arg, long i, char cells[][CELL]);
	const void *arg;
};

static void
table_print(FILE *fp, const struct table *t)
{
	char cells[MAXCOL][CELL];
	size_t w[MAXCOL] = { 0 };

	for (long i = -1; i < (long)t->nrow; i++) {
		t->fill(t->arg, i, cells);
		for (int c = 0; c < t->ncol; c++)
			if (strlen(cells[c]) > w[c])
				w[c] = strlen(cells[c]);
	}
	for (long i = -1; i < (long)t->nrow; i++) {
		t->fill(t->arg, i, cells);
		for (int c = 0; c < t->ncol; c++) {
			int last = c == t->ncol - 1;

			if (t->right[c])
				fprintf(fp, "%*s", (int)w[c], cells[c]);
			else if (last)
				fputs(cells[c], fp);
			else
				fprintf(fp, "%-*s", (int)w[c], cells[c]);
			fputs(last ? "\n" : "  ", fp);
		}
	}
}

struct rows_ctx {
	const query_result_t *r;
	const query_row_t *rows;
};

static void
fill_topn(const void *arg, long i, char cells[][CELL])
{
	static const char *hdr[] = { "rank", NULL, "flows", "%", "packets",
	    "%", "bytes", "%" };
	const struct rows_ctx *x = arg;
	const query_row_t *row;
	const aggv_t *t = &x->r->tot;

	if (i < 0) {
		for (int c = 0; c < 8; c++)
			snprintf(cells[c], CELL, "%s", hdr[c] != NULL ? hdr[c] :
			    qkey_name(x->r->id.key));
		return;
	}
	row = &x->rows[i];
	snprintf(cells[0], CELL, "%ld", i + 1);
	key_fmt(&x->r->id, row->key, 1, cells[1], CELL);
	count_fmt(row->flows, cells[2], CELL);
	pct_fmt(row->flows, t->flows, cells[3], CELL);
	count_fmt(row->packets, cells[4], CELL);
	pct_fmt(row->packets, t->packets, cells[5], CELL);
	size_fmt(row->bytes, cells[6], CELL);
	pct_fmt(row->bytes, t->bytes, cells[7], CELL);
}

static void
fill_series(const void *arg, long i, char cells[][CELL])
{
	const struct rows_ctx *x = arg;
	const query_row_t *row;

	if (i < 0) {
		snprintf(cells[0], CELL, "start");
		snprintf(cells[1], CELL, "flows");
		snprintf(cells[2], CELL, "packets");
		snprintf(cells[3], CELL, "bytes");
		return;
	}
	row = &x->rows[i];
	time_fmt_ms(row->t_ms, cells[0], CELL);
	count_fmt(row->flows, cells[1], CELL);
	count_fmt(row->packets, cells[2], CELL);
	size_fmt(row->bytes, cells[3], CELL);
}

/* An address cell: "-" when the flow has none. */
static void
addr_cell(const store_flow_t *f, int col, char *buf)
{
	if (flow_addr(f, col, buf, CELL) == NULL)
		snprintf(buf, CELL, "-");
}

/* An address CSV field: empty when the flow has none. */
static const char *
addr_csv(const store_flow_t *f, int col, char *buf, size_t len)
{
	const char *a = flow_addr(f, col, buf, len);

	return a != NULL ? a : "";
}

static void
fill_list(const void *arg, long i, char cells[][CELL])
{
	static const char *hdr[] = { "start", "duration", "proto", "src",
	    "sport", "dst", "dport", "flags", "packets", "bytes" };
	const query_result_t *r = arg;
	const store_flow_t *f;
	uint64_t dur;
	char pb[8], fb[9];

	if (i < 0) {
		for (int c = 0; c < 10; c++)
			snprintf(cells[c], CELL, "%s", hdr[c]);
		return;
	}
	f = &r->fl[i];
	dur = f->last_ms >= f->first_ms ? f->last_ms - f->first_ms : 0;
	time_fmt_ms(f->first_ms, cells[0], CELL);
	snprintf(cells[1], CELL, "%" PRIu64 ".%03" PRIu64, dur / 1000,
	    dur % 1000);
	snprintf(cells[2], CELL, "%s", query_proto_name(f->proto, pb));
	addr_cell(f, STORE_COL_SRC, cells[3]);
	snprintf(cells[4], CELL, "%u", f->sport);
	addr_cell(f, STORE_COL_DST, cells[5]);
	snprintf(cells[6], CELL, "%u", f->dport);
	snprintf(cells[7], CELL, "%s", query_tcp_flags_str(f->tcp_flags, fb));
	count_fmt(f->packets, cells[8], CELL);
	size_fmt(f->bytes, cells[9], CELL);
}

static void
print_title(FILE *fp, const query_result_t *r)
{
	const qident_t *id = &r->id;
	char a[32], b[32];

	switch (id->kind) {
	case QUERY_TOTALS:
		fprintf(fp, "Totals");
		break;
	case QUERY_TOPN:
		fprintf(fp, "Top %u %s by %s", id->n, qkey_name(id->key),
		    qorder_name(id->order));
		break;
	case QUERY_SERIES:
		fprintf(fp, "Series, step %" PRIu64 " ms", id->step_ms);
		break;
	case QUERY_LIST:
		fprintf(fp, "Flows (first %u by start time)", id->limit);
		break;
	case QUERY_DISTINCT:
		fprintf(fp, "Distinct %s", qkey_name(id->key));
		break;
	}
	if (id->key == QUERY_KEY_SRCNET || id->key == QUERY_KEY_DSTNET)
		fprintf(fp, " (/%u, /%u)", id->prefix4, id->prefix6);
	fprintf(fp, ", %s .. %s", window_fmt(id->t0, 0, a, sizeof(a)),
	    window_fmt(id->t1, 1, b, sizeof(b)));
	if (id->filter[0] != '\0')
		fprintf(fp, ", filter '%s'", id->filter);
	fputc('\n', fp);
}

static void
print_footer(FILE *fp, const query_result_t *r)
{
	const query_meta_t *m = &r->meta;
	char f[32], p[32], b[32], s[32];

	fprintf(fp, "Total: %s flows, %s packets, %s",
	    count_fmt(r->tot.flows, f, sizeof(f)),
	    count_fmt(r->tot.packets, p, sizeof(p)),
	    size_fmt(r->tot.bytes, b, sizeof(b)));
	/* a selection (a distributed top N) does not know how many keys
	   there are in all, unless its maker said (query_result_set_keys) */
	if (r->keys_given && r->keys_known)
		fprintf(fp, "; %" PRIu64 " distinct %s", r->keys,
		    qkey_name(r->id.key));
	else if (qident_keyed(&r->id) && !r->subset && !r->keys_given)
		fprintf(fp, "; %zu distinct %s", r->tab.n,
		    qkey_name(r->id.key));
	fprintf(fp, "\nScanned %s flows in %" PRIu64 " block%s (%" PRIu64
	    " skipped", count_fmt(m->flows_scanned, s, sizeof(s)),
	    m->blocks_scanned, m->blocks_scanned == 1 ? "" : "s",
	    m->blocks_skipped);
	if (m->blocks_damaged != 0)
		fprintf(fp, ", %" PRIu64 " DAMAGED, left out",
		    m->blocks_damaged);
	fprintf(fp, ") in %" PRIu64 ".%03" PRIu64 " s\n",
	    m->elapsed_us / 1000000, m->elapsed_us / 1000 % 1000);
}

static int
print_table(const query_result_t *r, FILE *fp)
{
	static const int r_topn[] = { 1, 0, 1, 1, 1, 1, 1, 1 };
	static const int r_series[] = { 0, 1, 1, 1 };
	static const int r_list[] = { 0, 1, 0, 0, 1, 0, 1, 0, 1, 1 };
	struct rows_ctx x = { r, NULL };
	struct table t;
	query_row_t *rows = NULL;
	size_t n = 0;
	int err;
	char f[32], p[32], b[32];

	print_title(fp, r);
	memset(&t, 0, sizeof(t));
	switch (r->id.kind) {
	case QUERY_TOTALS:
		fprintf(fp, "%s flows, %s packets, %s\n",
		    count_fmt(r->tot.flows, f, sizeof(f)),
		    count_fmt(r->tot.packets, p, sizeof(p)),
		    size_fmt(r->tot.bytes, b, sizeof(b)));
		break;
	case QUERY_DISTINCT:
		fprintf(fp, "%zu\n", r->tab.n);
		break;
	case QUERY_TOPN:
	case QUERY_SERIES:
		if ((err = query_result_rows(r, r->id.kind == QUERY_TOPN ?
		    r->id.n : 0, &rows, &n)) != 0)
			return err;
		x.rows = rows;
		t.ncol = r->id.kind == QUERY_TOPN ? 8 : 4;
		t.right = r->id.kind == QUERY_TOPN ? r_topn : r_series;
		t.nrow = n;
		t.fill = r->id.kind == QUERY_TOPN ? fill_topn : fill_series;
		t.arg = &x;
		table_print(fp, &t);
		free(rows);
		break;
	case QUERY_LIST:
		t.ncol = 10;
		t.right = r_list;
		t.nrow = r->nfl;
		t.fill = fill_list;
		t.arg = r;
		table_print(fp, &t);
		break;
	}
	print_footer(fp, r);
	return 0;
}

/* --- JSON ----------------------------------------------------------------- */

static void
json_key(FILE *fp, const qident_t *id, const uint8_t k[16])
{
	char kb[CELL];

	key_fmt(id, k, 0, kb, sizeof(kb));
	if (key_is_addr(id->key))
		json_strz(fp, kb);
	else
		fputs(kb, fp);
}

static int
print_json(const query_result_t *r, FILE *fp)
{
	const qident_t *id = &r->id;
	const query_meta_t *m = &r->meta;
	query_row_t *rows = NULL;
	size_t n = 0;
	char a[32], buf[QUERY_FLOW_JSON_MAX];
	int err;

	fprintf(fp, "{\"query\":{\"kind\":\"%s\"", qkind_name(id->kind));
	if (qident_keyed(id))
		fprintf(fp, ",\"key\":\"%s\"", qkey_name(id->key));
	if (id->key == QUERY_KEY_SRCNET || id->key == QUERY_KEY_DSTNET)
		fprintf(fp, ",\"prefix4\":%u,\"prefix6\":%u", id->prefix4,
		    id->prefix6);
	if (id->kind == QUERY_TOPN)
		fprintf(fp, ",\"order\":\"%s\",\"n\":%u", qorder_name(id->order),
		    id->n);
	if (id->kind == QUERY_SERIES)
		fprintf(fp, ",\"step_ms\":%" PRIu64, id->step_ms);
	if (id->kind == QUERY_LIST)
		fprintf(fp, ",\"limit\":%u", id->limit);
	fprintf(fp, ",\"t0\":%" PRIu64 ",\"t1\":%" PRIu64, id->t0, id->t1);
	fprintf(fp, ",\"from\":");
	if (id->t0 == 0)
		fputs("null", fp);
	else
		json_strz(fp, time_fmt_ms(id->t0, a, sizeof(a)));
	fprintf(fp, ",\"to\":");
	if (id->t1 == UINT64_MAX)
		fputs("null", fp);
	else
		json_strz(fp, time_fmt_ms(id->t1, a, sizeof(a)));
	fprintf(fp, ",\"filter\":");
	json_strz(fp, id->filter);
	fprintf(fp, ",\"qid\":\"%016" PRIx64 "\"},", id->qid);
	fprintf(fp, "\"totals\":{\"flows\":%" PRIu64 ",\"packets\":%" PRIu64
	    ",\"bytes\":%" PRIu64 "}", r->tot.flows, r->tot.packets,
	    r->tot.bytes);
	switch (id->kind) {
	case QUERY_DISTINCT:
		fprintf(fp, ",\"distinct\":%zu", r->tab.n);
		break;
	case QUERY_TOPN:
	case QUERY_SERIES:
		if ((err = query_result_rows(r, id->kind == QUERY_TOPN ?
		    id->n : 0, &rows, &n)) != 0)
			return err;
		if (id->kind == QUERY_TOPN && r->keys_given && r->keys_known)
			fprintf(fp, ",\"keys\":%" PRIu64 ",\"subset\":false",
			    r->keys);
		else if (id->kind == QUERY_TOPN && r->keys_given)
			fprintf(fp, ",\"keys\":null,\"subset\":true");
		else if (id->kind == QUERY_TOPN)
			fprintf(fp, ",\"keys\":%zu,\"subset\":%s", r->tab.n,
			    r->subset ? "true" : "false");
		fprintf(fp, ",\"rows\":[");
		for (size_t i = 0; i < n; i++) {
			fputs(i > 0 ? ",{" : "{", fp);
			if (id->kind == QUERY_TOPN) {
				fprintf(fp, "\"rank\":%zu,\"key\":", i + 1);
				json_key(fp, id, rows[i].key);
			} else {
				fprintf(fp, "\"t_ms\":%" PRIu64 ",\"start\":",
				    rows[i].t_ms);
				json_strz(fp, time_fmt_ms(rows[i].t_ms, a,
				    sizeof(a)));
			}
			fprintf(fp, ",\"flows\":%" PRIu64 ",\"packets\":%"
			    PRIu64 ",\"bytes\":%" PRIu64 "}", rows[i].flows,
			    rows[i].packets, rows[i].bytes);
		}
		fputc(']', fp);
		free(rows);
		break;
	case QUERY_LIST:
		fprintf(fp, ",\"flows\":[");
		for (size_t i = 0; i < r->nfl; i++) {
			query_flow_fmt_json(&r->fl[i], buf, sizeof(buf));
			fprintf(fp, "%s%s", i > 0 ? "," : "", buf);
		}
		fputc(']', fp);
		break;
	}
	fprintf(fp, ",\"meta\":{\"flows_scanned\":%" PRIu64
	    ",\"flows_matched\":%" PRIu64 ",\"blocks_scanned\":%" PRIu64
	    ",\"blocks_skipped\":%" PRIu64 ",\"blocks_damaged\":%" PRIu64
	    ",\"elapsed_us\":%" PRIu64 "}}\n", m->flows_scanned,
	    m->flows_matched, m->blocks_scanned, m->blocks_skipped,
	    m->blocks_damaged, m->elapsed_us);
	return 0;
}

/* --- CSV ------------------------------------------------------------------ */

static int
print_csv(const query_result_t *r, FILE *fp)
{
	const qident_t *id = &r->id;
	query_row_t *rows = NULL;
	size_t n = 0;
	char a[32], kb[CELL], s[ADDR_STRLEN], d[ADDR_STRLEN];
	char nh[ADDR_STRLEN], ex[ADDR_STRLEN], extra[512];
	int err;

	switch (id->kind) {
	case QUERY_TOTALS:
		fprintf(fp, "flows,packets,bytes\n%" PRIu64 ",%" PRIu64 ",%"
		    PRIu64 "\n", r->tot.flows, r->tot.packets, r->tot.bytes);
		break;
	case QUERY_DISTINCT:
		fprintf(fp, "key,distinct,flows\n%s,%zu,%" PRIu64 "\n",
		    qkey_name(id->key), r->tab.n, r->tot.flows);
		break;
	case QUERY_TOPN:
	case QUERY_SERIES:
		if ((err = query_result_rows(r, id->kind == QUERY_TOPN ?
		    id->n : 0, &rows, &n)) != 0)
			return err;
		if (id->kind == QUERY_TOPN)
			fprintf(fp, "rank,%s,flows,packets,bytes\n",
			    qkey_name(id->key));
		else
			fprintf(fp, "t_ms,start,flows,packets,bytes\n");
		for (size_t i = 0; i < n; i++) {
			if (id->kind == QUERY_TOPN) {
				fprintf(fp, "%zu,", i + 1);
				csv_str(fp, key_fmt(id, rows[i].key, 0, kb,
				    sizeof(kb)));
			} else
				fprintf(fp, "%" PRIu64 ",%s", rows[i].t_ms,
				    time_fmt_ms(rows[i].t_ms, a, sizeof(a)));
			fprintf(fp, ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 "\n",
			    rows[i].flows, rows[i].packets, rows[i].bytes);
		}
		free(rows);
		break;
	case QUERY_LIST:
		flow_fmt_extra(NULL, FLOW_EXTRA_CSV_HEADER, extra,
		    sizeof(extra));
		fprintf(fp, "first_ms,last_ms,proto,src,sport,dst,dport,"
		    "tcp_flags,packets,bytes,in_if,out_if,src_as,dst_as,tos,"
		    "src_mask,dst_mask,nexthop,exporter,sampling,tags%s\n",
		    extra);
		for (size_t i = 0; i < r->nfl; i++) {
			const store_flow_t *f = &r->fl[i];

			fprintf(fp, "%" PRIu64 ",%" PRIu64 ",%u,%s,%u,%s,%u,"
			    "%u,%" PRIu64 ",%" PRIu64 ",%u,%u,%u,%u,%u,%u,%u,"
			    "%s,%s,%u,%u", f->first_ms, f->last_ms,
			    f->proto, addr_csv(f, STORE_COL_SRC, s, sizeof(s)),
			    f->sport, addr_csv(f, STORE_COL_DST, d, sizeof(d)),
			    f->dport, f->tcp_flags, f->packets, f->bytes,
			    f->in_if, f->out_if, f->src_as, f->dst_as, f->tos,
			    f->src_mask, f->dst_mask,
			    addr_csv(f, STORE_COL_NEXTHOP, nh, sizeof(nh)),
			    addr_fmt(f->exporter, ex, sizeof(ex)),
			    f->sampling, f->tags);
			flow_fmt_extra(f, FLOW_EXTRA_CSV, extra,
			    sizeof(extra));
			fprintf(fp, "%s\n", extra);
		}
		break;
	}
	return 0;
}

int
query_result_print(const query_result_t *r, FILE *fp, query_fmt_t fmt)
{
	int err;

	switch (fmt) {
	case QUERY_FMT_JSON:
		err = print_json(r, fp);
		break;
	case QUERY_FMT_CSV:
		err = print_csv(r, fp);
		break;
	default:
		err = print_table(r, fp);
		break;
	}
	if (err != 0)
		return err;
	if (fflush(fp) != 0 || ferror(fp))
		return FF_EIO;
	return 0;
}
