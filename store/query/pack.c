/*
 * Serialization of partial results with msgpack.
 *
 * A result is one msgpack map whose keys come in this fixed order (the
 * unpacker rejects any other order, a missing, repeated or unknown key,
 * and trailing bytes):
 *
 *   "v"       format version, 1
 *   "kind"    query_kind_t
 *   "qid"     fingerprint of the query (recomputed and compared)
 *   "t0","t1" the window
 *   "filter"  the filter text (str)
 *   "key","p4","p6","order","n","step","limit"
 *             the rest of the query; 0 where it does not apply
 *   "subset"  bool (TOPN selection for TPUT)
 *   "tot"     [flows, bytes, packets] of every matching flow
 *   "meta"    [flows_scanned, flows_matched, blocks_scanned,
 *              blocks_skipped, elapsed_us, blocks_damaged]
 * then by kind:
 *   TOPN      "kw" key width (4 or 16), "keys" bin of rows * kw bytes,
 *             "flows", "bytes", "packets": arrays of rows uints
 *   DISTINCT  "kw", "keys"
 *   SERIES    "idx" ascending indexes of the non-empty buckets, "flows",
 *             "bytes", "packets"
 *   LIST      "fl": array of flows, each a bin of FLOW_WIRE_LEN bytes:
 *             the fields of the flow by rank (store/columns.def),
 *             numbers big-endian in their width, addresses 16 bytes
 *
 * Keys on the wire are the last kw bytes of the 16-byte key: for address
 * keys kw 4 means IPv4-mapped; numbers always use 4.
 *
 * Packing uses msgpack-c. Unpacking reads the buffer with a small cursor
 * instead of msgpack_unpack(): msgpack-c allocates an array's elements
 * from the count in its header before reading them (a 5-byte input asks
 * for 8 GiB), while here every count is checked against the bytes left
 * before anything is allocated, and nothing is allocated but the result.
 */
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "query_int.h"
#include "wire/wire.h"

#define RESULT_VERSION	1

/* Bytes of a listed flow on the wire: every column, packed. */
enum {
	FLOW_WIRE_LEN = 0
#define STORE_COLUMN(id, name, type, rank, filter, list) + STORE_WIDTH_##type
#include "store/columns.def"
#undef STORE_COLUMN
};

/* --- flows on the wire ---------------------------------------------------- */

/* The fields of a flow, by rank (flow_fields), each big-endian. */
static void
flow_encode(const store_flow_t *f, uint8_t *p)
{
	for (size_t r = 0; r < STORE_COL_COUNT; r++) {
		const uint8_t *x = (const uint8_t *)f + flow_fields[r].off;
		unsigned w = flow_fields[r].width;
		uint64_t v = 0;

		switch (w) {
		case 1: v = *x; break;
		case 2: { uint16_t u; memcpy(&u, x, 2); v = u; break; }
		case 4: { uint32_t u; memcpy(&u, x, 4); v = u; break; }
		case 8: memcpy(&v, x, 8); break;
		default: memcpy(p, x, 16); p += 16; continue;
		}
		for (unsigned i = 0; i < w; i++)
			p[i] = (uint8_t)(v >> (8 * (w - 1 - i)));
		p += w;
	}
}

static void
flow_decode(const uint8_t *p, store_flow_t *f)
{
	memset(f, 0, sizeof(*f));
	for (size_t r = 0; r < STORE_COL_COUNT; r++) {
		uint8_t *x = (uint8_t *)f + flow_fields[r].off;
		unsigned w = flow_fields[r].width;
		uint64_t v = beN(p, w == 16 ? 0 : w);

		switch (w) {
		case 1: *x = (uint8_t)v; break;
		case 2: { uint16_t u = (uint16_t)v; memcpy(x, &u, 2); break; }
		case 4: { uint32_t u = (uint32_t)v; memcpy(x, &u, 4); break; }
		case 8: memcpy(x, &v, 8); break;
		default: memcpy(x, p, 16); break;
		}
		p += w;
	}
}

/* --- packing ------------------------------------------------------------- */

/* Width of r's keys on the wire: 4 when every key fits. */
static unsigned
key_width(const query_result_t *r)
{
	if (!key_is_addr(r->id.key))
		return 4;
	for (size_t i = 0; i < r->tab.cap; i++) {
		const kent_t *e = &r->tab.e[i];

		if (e->v.flows != 0 && !key_is_v4(e->hi, e->lo))
			return 16;
	}
	return 4;
}

static int
pack_keys(msgpack_packer *pk, const query_result_t *r)
{
	unsigned kw = key_width(r);
	uint8_t kb[16];

	if (wire_pack_kv_u64(pk, "kw", kw) || wire_pack_str(pk, "keys") ||
	    msgpack_pack_bin(pk, r->tab.n * kw))
		return -1;
	for (size_t i = 0; i < r->tab.cap; i++) {
		const kent_t *e = &r->tab.e[i];

		if (e->v.flows == 0)
			continue;
		key_to_bytes(e->hi, e->lo, kb);
		if (msgpack_pack_bin_body(pk, kb + 16 - kw, kw))
			return -1;
	}
	return 0;
}

static uint64_t
metric_of(const aggv_t *v, int m)
{
	return m == 0 ? v->flows : m == 1 ? v->bytes : v->packets;
}

/* Metric m (0 flows, 1 bytes, 2 packets) of every key, in table order. */
static int
pack_metric(msgpack_packer *pk, const query_result_t *r, int m)
{
	static const char *names[] = { "flows", "bytes", "packets" };

	if (wire_pack_str(pk, names[m]) || msgpack_pack_array(pk, r->tab.n))
		return -1;
	for (size_t i = 0; i < r->tab.cap; i++) {
		const kent_t *e = &r->tab.e[i];

		if (e->v.flows != 0 &&
		    msgpack_pack_uint64(pk, metric_of(&e->v, m)))
			return -1;
	}
	return 0;
}

static int
pack_series(msgpack_packer *pk, const query_result_t *r)
{
	static const char *names[] = { "flows", "bytes", "packets" };
	size_t nz = 0;

	for (uint64_t b = 0; b < r->id.nbuckets; b++)
		nz += r->bk[b].flows != 0;
	if (wire_pack_str(pk, "idx") || msgpack_pack_array(pk, nz))
		return -1;
	for (uint64_t b = 0; b < r->id.nbuckets; b++)
		if (r->bk[b].flows != 0 && msgpack_pack_uint64(pk, b))
			return -1;
	for (int m = 0; m < 3; m++) {
		if (wire_pack_str(pk, names[m]) || msgpack_pack_array(pk, nz))
			return -1;
		for (uint64_t b = 0; b < r->id.nbuckets; b++) {
			const aggv_t *v = &r->bk[b];

			if (v->flows != 0 &&
			    msgpack_pack_uint64(pk, metric_of(v, m)))
				return -1;
		}
	}
	return 0;
}

static int
pack_list(msgpack_packer *pk, const query_result_t *r)
{
	uint8_t w[FLOW_WIRE_LEN];

	if (wire_pack_str(pk, "fl") || msgpack_pack_array(pk, r->nfl))
		return -1;
	for (size_t i = 0; i < r->nfl; i++) {
		flow_encode(&r->fl[i], w);
		if (msgpack_pack_bin_with_body(pk, w, sizeof(w)))
			return -1;
	}
	return 0;
}

static int
pack_all(msgpack_packer *pk, const query_result_t *r)
{
	const qident_t *id = &r->id;
	const query_meta_t *m = &r->meta;
	size_t nkeys = 16;

	switch (id->kind) {
	case QUERY_TOPN:
		nkeys += 5;
		break;
	case QUERY_DISTINCT:
		nkeys += 2;
		break;
	case QUERY_SERIES:
		nkeys += 4;
		break;
	case QUERY_LIST:
		nkeys += 1;
		break;
	}
	if (msgpack_pack_map(pk, nkeys) ||
	    wire_pack_kv_u64(pk, "v", RESULT_VERSION) ||
	    wire_pack_kv_u64(pk, "kind", id->kind) ||
	    wire_pack_kv_u64(pk, "qid", id->qid) ||
	    wire_pack_kv_u64(pk, "t0", id->t0) ||
	    wire_pack_kv_u64(pk, "t1", id->t1) ||
	    wire_pack_kv_str(pk, "filter", id->filter) ||
	    wire_pack_kv_u64(pk, "key", id->key) ||
	    wire_pack_kv_u64(pk, "p4", id->prefix4) ||
	    wire_pack_kv_u64(pk, "p6", id->prefix6) ||
	    wire_pack_kv_u64(pk, "order", id->order) ||
	    wire_pack_kv_u64(pk, "n", id->n) ||
	    wire_pack_kv_u64(pk, "step", id->step_ms) ||
	    wire_pack_kv_u64(pk, "limit", id->limit) ||
	    wire_pack_str(pk, "subset") ||
	    (r->subset ? msgpack_pack_true(pk) : msgpack_pack_false(pk)) ||
	    wire_pack_str(pk, "tot") || msgpack_pack_array(pk, 3) ||
	    msgpack_pack_uint64(pk, r->tot.flows) ||
	    msgpack_pack_uint64(pk, r->tot.bytes) ||
	    msgpack_pack_uint64(pk, r->tot.packets) ||
	    wire_pack_str(pk, "meta") || msgpack_pack_array(pk, 6) ||
	    msgpack_pack_uint64(pk, m->flows_scanned) ||
	    msgpack_pack_uint64(pk, m->flows_matched) ||
	    msgpack_pack_uint64(pk, m->blocks_scanned) ||
	    msgpack_pack_uint64(pk, m->blocks_skipped) ||
	    msgpack_pack_uint64(pk, m->elapsed_us) ||
	    msgpack_pack_uint64(pk, m->blocks_damaged))
		return -1;
	switch (id->kind) {
	case QUERY_TOPN:
		return pack_keys(pk, r) || pack_metric(pk, r, 0) ||
		    pack_metric(pk, r, 1) || pack_metric(pk, r, 2) ? -1 : 0;
	case QUERY_DISTINCT:
		return pack_keys(pk, r);
	case QUERY_SERIES:
		return pack_series(pk, r);
	case QUERY_LIST:
		return pack_list(pk, r);
	}
	return 0;
}

int
query_result_pack(const query_result_t *r, uint8_t **buf, size_t *len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	/* Straight into the buffer: every key is one write, and pack_all()
	   reports a failed one itself. */
	*buf = NULL;
	*len = 0;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (pack_all(&pk, r) != 0 || sb.data == NULL) {
		msgpack_sbuffer_destroy(&sb);
		return FF_ENOMEM;
	}
	*len = sb.size;
	*buf = (uint8_t *)msgpack_sbuffer_release(&sb);
	return 0;
}

/* --- unpacking: a bounds-checked cursor --------------------------------- */

struct rd {
	const uint8_t *p, *end;
};

static size_t
rd_left(const struct rd *r)
{
	return (size_t)(r->end - r->p);
}

/* Read an n-byte big-endian length or number following the tag. */
static int
rd_be(struct rd *r, size_t n, uint64_t *v)
{
	if (rd_left(r) < n)
		return FF_EPROTO;
	*v = beN(r->p, n);
	r->p += n;
	return 0;
}

static int
rd_uint(struct rd *r, uint64_t *v)
{
	uint8_t t;

	if (rd_left(r) < 1)
		return FF_EPROTO;
	t = *r->p++;
	if (t <= 0x7f) {
		*v = t;
		return 0;
	}
	switch (t) {
	case 0xcc:
		return rd_be(r, 1, v);
	case 0xcd:
		return rd_be(r, 2, v);
	case 0xce:
		return rd_be(r, 4, v);
	case 0xcf:
		return rd_be(r, 8, v);
	}
	return FF_EPROTO;
}

/* A uint no larger than max. */
static int
rd_uint_max(struct rd *r, uint64_t max, uint64_t *v)
{
	if (rd_uint(r, v) != 0 || *v > max)
		return FF_EPROTO;
	return 0;
}

/*
 * The bytes of a str (bin 0: fixstr, str 8, 16, 32) or bin (bin 1: bin
 * 8, 16, 32) object: *p and *n, within the buffer.
 */
static int
rd_bytes(struct rd *r, int bin, const uint8_t **p, size_t *n)
{
	static const uint8_t tag8[2] = { 0xd9, 0xc4 };
	uint64_t len;
	uint8_t t;

	if (rd_left(r) < 1)
		return FF_EPROTO;
	t = *r->p++;
	if (!bin && (t & 0xe0) == 0xa0)
		len = t & 0x1f;
	else if (t >= tag8[bin] && t <= tag8[bin] + 2) {
		if (rd_be(r, 1u << (t - tag8[bin]), &len) != 0)
			return FF_EPROTO;
	} else
		return FF_EPROTO;
	if (len > rd_left(r))
		return FF_EPROTO;
	*p = r->p;
	*n = (size_t)len;
	r->p += len;
	return 0;
}

static int
rd_str(struct rd *r, const char **s, size_t *n)
{
	const uint8_t *p;
	int rc;

	if ((rc = rd_bytes(r, 0, &p, n)) == 0)
		*s = (const char *)p;
	return rc;
}

static int
rd_bin(struct rd *r, const uint8_t **b, size_t *n)
{
	return rd_bytes(r, 1, b, n);
}

/*
 * An array or map header. Every element takes at least min_elem bytes,
 * so a count the rest of the buffer cannot hold is rejected here, before
 * anyone allocates for it.
 */
static int
rd_hdr(struct rd *r, int map, size_t min_elem, size_t *n)
{
	uint64_t c;
	uint8_t t;

	if (rd_left(r) < 1)
		return FF_EPROTO;
	t = *r->p++;
	if (!map && (t & 0xf0) == 0x90)
		c = t & 0x0f;
	else if (map && (t & 0xf0) == 0x80)
		c = t & 0x0f;
	else if (t == (map ? 0xde : 0xdc)) {
		if (rd_be(r, 2, &c) != 0)
			return FF_EPROTO;
	} else if (t == (map ? 0xdf : 0xdd)) {
		if (rd_be(r, 4, &c) != 0)
			return FF_EPROTO;
	} else
		return FF_EPROTO;
	if (c > rd_left(r) / min_elem)
		return FF_EPROTO;
	*n = (size_t)c;
	return 0;
}

/* The map key `name`, exactly. */
static int
rd_name(struct rd *r, const char *name)
{
	const char *s;
	size_t n;

	if (rd_str(r, &s, &n) != 0 || n != strlen(name) ||
	    memcmp(s, name, n) != 0)
		return FF_EPROTO;
	return 0;
}

static int
rd_field(struct rd *r, const char *name, uint64_t max, uint64_t *v)
{
	if (rd_name(r, name) != 0)
		return FF_EPROTO;
	return rd_uint_max(r, max, v);
}

/* An array of exactly n uints. */
static int
rd_uints_hdr(struct rd *r, const char *name, size_t n)
{
	size_t c;

	if (rd_name(r, name) != 0 || rd_hdr(r, 0, 1, &c) != 0 || c != n)
		return FF_EPROTO;
	return 0;
}

/* --- unpacking: the result ------------------------------------------------ */

static int
sum_ok(const aggv_t *sum, const aggv_t *tot, int exact)
{
	if (exact)
		return memcmp(sum, tot, sizeof(*sum)) == 0;
	return sum->flows <= tot->flows && sum->bytes <= tot->bytes &&
	    sum->packets <= tot->packets;
}

static int
unpack_keyed(struct rd *r, query_result_t *res)
{
	const uint8_t *kb;
	struct rd mr[3];
	size_t klen, n;
	uint64_t kw;
	aggv_t sum = { 0, 0, 0 };
	int topn = res->id.kind == QUERY_TOPN, err;

	if (rd_field(r, "kw", 16, &kw) != 0 || (kw != 4 && kw != 16) ||
	    (kw == 16 && !key_is_addr(res->id.key)))
		return FF_EPROTO;
	if (rd_name(r, "keys") != 0 || rd_bin(r, &kb, &klen) != 0 ||
	    klen % kw != 0)
		return FF_EPROTO;
	n = klen / (size_t)kw;
	if (topn) {
		/* Three arrays of n uints follow: check them first. */
		static const char *names[] = { "flows", "bytes", "packets" };

		for (int m = 0; m < 3; m++) {
			if (rd_uints_hdr(r, names[m], n) != 0)
				return FF_EPROTO;
			mr[m] = *r;
			for (size_t i = 0; i < n; i++) {
				uint64_t v;

				if (rd_uint(r, &v) != 0)
					return FF_EPROTO;
			}
		}
	} else if (n > res->tot.flows)
		return FF_EPROTO;
	if ((err = ktab_reserve(&res->tab, n)) != 0)
		return err == FF_ELIMIT ? FF_ENOMEM : err;
	for (size_t i = 0; i < n; i++) {
		uint8_t k16[16];
		uint64_t hi, lo;
		aggv_t v = { 1, 0, 0 };

		if (kw == 4) {
			memset(k16, 0, 12);
			if (key_is_addr(res->id.key))
				k16[10] = k16[11] = 0xff;
			memcpy(k16 + 12, kb + 4 * i, 4);
		} else
			memcpy(k16, kb + 16 * i, 16);
		key_from_bytes(k16, &hi, &lo);
		if (!key_valid(&res->id, hi, lo) ||
		    ktab_find(&res->tab, hi, lo) != NULL)
			return FF_EPROTO;	/* bad or repeated key */
		if (topn && (rd_uint(&mr[0], &v.flows) != 0 ||
		    rd_uint(&mr[1], &v.bytes) != 0 ||
		    rd_uint(&mr[2], &v.packets) != 0 || v.flows == 0))
			return FF_EPROTO;
		aggv_add(&sum, &v);
		if ((err = result_add_key(res, hi, lo, &v)) != 0)
			return err == FF_ELIMIT ? FF_ENOMEM : err;
	}
	if (topn && !sum_ok(&sum, &res->tot, !res->subset))
		return FF_EPROTO;
	return 0;
}

static int
unpack_series(struct rd *r, query_result_t *res)
{
	static const char *names[] = { "flows", "bytes", "packets" };
	struct rd ir;
	size_t n;
	uint64_t prev = 0;
	aggv_t sum = { 0, 0, 0 };

	if (rd_name(r, "idx") != 0 || rd_hdr(r, 0, 1, &n) != 0 ||
	    n > res->id.nbuckets)
		return FF_EPROTO;
	ir = *r;
	for (size_t i = 0; i < n; i++) {
		uint64_t b;

		if (rd_uint_max(r, res->id.nbuckets - 1, &b) != 0 ||
		    (i > 0 && b <= prev))
			return FF_EPROTO;	/* not strictly ascending */
		prev = b;
	}
	for (int m = 0; m < 3; m++) {
		struct rd xr = ir;

		if (rd_uints_hdr(r, names[m], n) != 0)
			return FF_EPROTO;
		for (size_t i = 0; i < n; i++) {
			uint64_t b, v;

			if (rd_uint(&xr, &b) != 0 || rd_uint(r, &v) != 0)
				return FF_EPROTO;
			if (m == 0) {
				if (v == 0)
					return FF_EPROTO;
				res->bk[b].flows = v;
			} else if (m == 1)
				res->bk[b].bytes = v;
			else
				res->bk[b].packets = v;
		}
	}
	for (uint64_t b = 0; b < res->id.nbuckets; b++)
		aggv_add(&sum, &res->bk[b]);
	return sum_ok(&sum, &res->tot, 1) ? 0 : FF_EPROTO;
}

static int
unpack_list(struct rd *r, query_result_t *res)
{
	size_t n;
	uint64_t want;

	if (rd_name(r, "fl") != 0 ||
	    rd_hdr(r, 0, FLOW_WIRE_LEN + 2, &n) != 0 || n > res->id.limit)
		return FF_EPROTO;
	/* The listing keeps the limit first flows of all that matched. */
	want = res->tot.flows < res->id.limit ? res->tot.flows : res->id.limit;
	if (n != want)
		return FF_EPROTO;
	if (n == 0)
		return 0;
	if (mem_take(&res->ma, n * sizeof(store_flow_t)) != 0 ||
	    (res->fl = calloc(n, sizeof(store_flow_t))) == NULL)
		return FF_ENOMEM;
	res->nfl = n;
	for (size_t i = 0; i < n; i++) {
		const uint8_t *b;
		size_t len;
		store_flow_t *f = &res->fl[i];

		if (rd_bin(r, &b, &len) != 0 || len != FLOW_WIRE_LEN)
			return FF_EPROTO;
		flow_decode(b, f);
		if (f->first_ms < res->id.t0 || (res->id.t1 != UINT64_MAX &&
		    f->first_ms >= res->id.t1) ||
		    f->src_mask > 128 || f->dst_mask > 128 ||
		    (i > 0 && flow_cmp(&res->fl[i - 1], f) > 0))
			return FF_EPROTO;
	}
	return 0;
}

static int
unpack_all(struct rd *r, query_result_t **out)
{
	static const size_t nkeys[] = { 0, 16, 21, 20, 17, 18 };
	query_result_t *res = NULL;
	qident_t id;
	const char *fs;
	size_t nmap, flen, n;
	uint64_t v, kind, qid, key, p4, p6, order, nn, limit, subset;
	uint64_t meta[6];
	aggv_t tot;
	int err;

	memset(&id, 0, sizeof(id));
	if (rd_hdr(r, 1, 2, &nmap) != 0 || rd_field(r, "v", UINT64_MAX,
	    &v) != 0)
		return FF_EPROTO;
	if (v != RESULT_VERSION)
		return FF_EVERSION;
	if (rd_field(r, "kind", QUERY_DISTINCT, &kind) != 0 || kind == 0 ||
	    nmap != nkeys[kind] ||
	    rd_field(r, "qid", UINT64_MAX, &qid) != 0 ||
	    rd_field(r, "t0", UINT64_MAX, &id.t0) != 0 ||
	    rd_field(r, "t1", UINT64_MAX, &id.t1) != 0 ||
	    rd_name(r, "filter") != 0 || rd_str(r, &fs, &flen) != 0 ||
	    flen > QRY_FILTER_MAX || memchr(fs, '\0', flen) != NULL ||
	    rd_field(r, "key", QUERY_KEY_DSTAS, &key) != 0 ||
	    rd_field(r, "p4", 32, &p4) != 0 ||
	    rd_field(r, "p6", 128, &p6) != 0 ||
	    rd_field(r, "order", QUERY_ORDER_FLOWS, &order) != 0 ||
	    rd_field(r, "n", QUERY_TOPN_MAX, &nn) != 0 ||
	    rd_field(r, "step", UINT64_MAX, &id.step_ms) != 0 ||
	    rd_field(r, "limit", QUERY_LIST_MAX, &limit) != 0 ||
	    rd_name(r, "subset") != 0 || rd_left(r) < 1 ||
	    (*r->p != 0xc2 && *r->p != 0xc3))
		return FF_EPROTO;
	subset = *r->p++ == 0xc3;
	if (rd_name(r, "tot") != 0 || rd_hdr(r, 0, 1, &n) != 0 || n != 3 ||
	    rd_uint(r, &tot.flows) != 0 || rd_uint(r, &tot.bytes) != 0 ||
	    rd_uint(r, &tot.packets) != 0)
		return FF_EPROTO;
	if (rd_name(r, "meta") != 0 || rd_hdr(r, 0, 1, &n) != 0 || n != 6)
		return FF_EPROTO;
	for (int i = 0; i < 6; i++)
		if (rd_uint(r, &meta[i]) != 0)
			return FF_EPROTO;
	/* Flows matched were scanned. */
	if (meta[0] < meta[1])
		return FF_EPROTO;
	if (subset && kind != QUERY_TOPN)
		return FF_EPROTO;

	id.kind = (int)kind;
	id.key = (int)key;
	id.prefix4 = (uint8_t)p4;
	id.prefix6 = (uint8_t)p6;
	id.order = (int)order;
	id.n = (uint32_t)nn;
	id.limit = (uint32_t)limit;
	if ((id.filter = malloc(flen + 1)) == NULL)
		return FF_ENOMEM;
	memcpy(id.filter, fs, flen);
	id.filter[flen] = '\0';
	if (qident_check(&id) != 0 || id.qid != qid) {
		qident_clear(&id);
		return FF_EPROTO;
	}
	res = result_new_id(&id, 0, 0);
	qident_clear(&id);
	if (res == NULL)
		return FF_ENOMEM;
	res->subset = (int)subset;
	res->tot = tot;
	res->meta.flows_scanned = meta[0];
	res->meta.flows_matched = meta[1];
	res->meta.blocks_scanned = meta[2];
	res->meta.blocks_skipped = meta[3];
	res->meta.elapsed_us = meta[4];
	res->meta.blocks_damaged = meta[5];
	switch (kind) {
	case QUERY_TOPN:
	case QUERY_DISTINCT:
		err = unpack_keyed(r, res);
		break;
	case QUERY_SERIES:
		err = unpack_series(r, res);
		break;
	case QUERY_LIST:
		err = unpack_list(r, res);
		break;
	default:
		err = 0;
		break;
	}
	if (err == 0 && rd_left(r) != 0)
		err = FF_EPROTO;	/* trailing bytes */
	if (err != 0) {
		query_result_free(res);
		return err;
	}
	*out = res;
	return 0;
}

int
query_result_unpack(const uint8_t *buf, size_t len, query_result_t **out)
{
	struct rd r;

	*out = NULL;
	if (buf == NULL || len > QUERY_RESULT_MAX_BYTES)
		return FF_EPROTO;
	r.p = buf;
	r.end = buf + len;
	return unpack_all(&r, out);
}
