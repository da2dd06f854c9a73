/*
 * Unit tests of the filter language (store/query/filter_*.c): accepted
 * forms and their normalized print, every error message with its
 * column, the semantics of each term on hand-built
 * IPv4 and IPv6 flows, nfdump 1.7 as an oracle on a shared flow set
 * (filter_xcheck.inc), limits, and a property test holding filter_eval
 * (both address column forms) to filter_match on random filters.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/err.h"
#include "common/util.h"
#include "store/query/filter.h"
#include "qtest.h"

/* ---------------------------------------------------------------------
 * Helpers: flows, batches, evaluation in every form
 * --------------------------------------------------------------------- */

/* A flow described in a table; unset fields take the defaults of mk(). */
struct fspec {
	const char *src, *dst, *nh, *exp;
	uint8_t proto, flags, tos, smask, dmask;
	uint16_t sport, dport;
	uint64_t bytes, packets;
	uint32_t in_if, out_if, sas, das, tags;
};

static void
parse_addr_or_die(const char *s, uint8_t a[16])
{
	if (addr_parse(s, a) != 0)
		fail_msg("test address '%s' does not parse", s);
}

static store_flow_t
mk(const struct fspec *s)
{
	store_flow_t f;

	memset(&f, 0, sizeof(f));
	parse_addr_or_die(s->src ? s->src : "10.0.0.1", f.src);
	parse_addr_or_die(s->dst ? s->dst : "10.0.0.2", f.dst);
	parse_addr_or_die(s->nh ? s->nh : "::", f.nexthop);
	parse_addr_or_die(s->exp ? s->exp : "127.0.0.1", f.exporter);
	f.first_ms = 1704067200000ULL;
	f.last_ms = f.first_ms + 1000;
	f.bytes = s->bytes;
	f.packets = s->packets;
	f.proto = s->proto;
	f.tcp_flags = s->flags;
	f.tos = s->tos;
	f.src_mask = s->smask;
	f.dst_mask = s->dmask;
	f.sport = s->sport;
	f.dport = s->dport;
	f.in_if = s->in_if;
	f.out_if = s->out_if;
	f.src_as = s->sas;
	f.dst_as = s->das;
	f.tags = s->tags;
	f.sampling = 1;
	if (!addr_is_v4(f.src) || !addr_is_v4(f.dst))
		f.flags |= STORE_FLOW_F_V6;
	return f;
}

/* Column arrays of one batch, owned by the test. */
static void *
xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);

	assert_non_null(p);
	return p;
}

/* The address columns of v4mask bits 0..3: src, dst, nexthop, exporter. */
static uint32_t
v4_columns(unsigned v4mask)
{
	static const unsigned addr_cols[4] = { STORE_COL_SRC, STORE_COL_DST,
	    STORE_COL_NEXTHOP, STORE_COL_EXPORTER };
	uint32_t m = 0;

	for (int k = 0; k < 4; k++)
		if (v4mask & (1u << k))
			m |= STORE_COLBIT(addr_cols[k]);
	return m;
}

/*
 * Run filter_eval on b with exactly the scratch it asks for (heap
 * buffers of the exact size, so ASan sees any overrun) and with only the
 * filter's columns valid; check the returned count and the bits beyond n.
 * out[i] receives the selection of row i.
 */
static void
eval_batch(const query_filter_t *f, const store_flow_t *fl, size_t n,
    unsigned v4mask, uint8_t *out)
{
	qt_batch_t *b;
	size_t nw = (n + 63) / 64, cnt, ones = 0;
	uint64_t *sel, *scratch;

	b = qt_batch_cols(fl, n, v4_columns(v4mask), filter_columns(f));
	sel = xcalloc(nw, 8);
	memset(sel, 0xa5, nw * 8);	/* garbage in: all bits get written */
	scratch = filter_scratch_words(f) ? malloc(filter_scratch_words(f) *
	    nw * 8) : NULL;
	if (filter_scratch_words(f))
		assert_non_null(scratch);
	cnt = filter_eval(f, &b->cb, sel, scratch);
	for (size_t i = 0; i < n; i++) {
		out[i] = (uint8_t)((sel[i / 64] >> (i % 64)) & 1);
		ones += out[i];
	}
	assert_int_equal(cnt, ones);
	if (n % 64 != 0)
		assert_int_equal(sel[nw - 1] >> (n % 64), 0);
	free(sel);
	free(scratch);
	qt_batch_free(b);
}

/*
 * Evaluate f on flows every way: filter_match per row, filter_eval with
 * all address columns in 16-byte form, and (for the columns where every
 * row is IPv4) in IPv4 form; fail unless all agree. Returns the
 * selection in out (from filter_match).
 */
static void
eval_all(const query_filter_t *f, const char *text, const store_flow_t *fl,
    size_t n, uint8_t *out)
{
	uint8_t *e16 = xcalloc(n, 1), *e4 = xcalloc(n, 1);

	for (size_t i = 0; i < n; i++)
		out[i] = (uint8_t)filter_match(f, &fl[i]);
	eval_batch(f, fl, n, 0, e16);
	eval_batch(f, fl, n, 0xf, e4);
	for (size_t i = 0; i < n; i++) {
		if (e16[i] != out[i] || e4[i] != out[i])
			fail_msg("'%s' row %zu: filter_match %d, filter_eval "
			    "16-byte %d, IPv4 form %d", text, i, out[i],
			    e16[i], e4[i]);
	}
	free(e16);
	free(e4);
}

static query_filter_t *
compile_ok(const char *text)
{
	query_filter_t *f = NULL;
	char err[256];
	int rc = filter_compile(text, &f, err, sizeof(err));

	if (rc != 0)
		fail_msg("'%s' does not compile: %d %s", text, rc, err);
	return f;
}

/* ---------------------------------------------------------------------
 * nfdump 1.7 as the oracle (filter_xcheck.inc, made by filter_xcheck.py)
 * --------------------------------------------------------------------- */

struct xflow {
	uint64_t first, last, bytes, packets;
	const char *src, *dst, *nh, *exp;
	uint32_t in_if, out_if, sas, das;
	uint16_t sport, dport;
	uint8_t proto, flags, tos, smask, dmask, v6;
};

struct xcase {
	const char *filter;
	const char *nfdump;	/* '1' per flow nfdump selected; NULL: error */
	const char *nfdump_err;
};

#include "filter_xcheck.inc"

/*
 * nfdump 1.7 represents an IPv4 address as the IPv4-compatible IPv6
 * address ::a.b.c.d; we use the IPv4-mapped ::ffff:a.b.c.d. Its view of
 * a flow: the addresses of IPv4 flows moved from ::ffff:0:0/96 to ::/96.
 */
static store_flow_t
nfdump_view(const store_flow_t *f)
{
	store_flow_t v = *f;

	if (!(f->flags & STORE_FLOW_F_V6)) {
		v.src[10] = v.src[11] = 0;
		v.dst[10] = v.dst[11] = 0;
		if (addr_is_v4(v.nexthop))
			v.nexthop[10] = v.nexthop[11] = 0;
	}
	return v;
}

/*
 * Where flowfleet deliberately answers differently from nfdump 1.7
 * (docs/FILTER.md, "Differences from nfdump"). For each such filter,
 * 'equiv' is a filter in our language that gives nfdump's answer when
 * evaluated on nfdump's view of the flows: that is the difference,
 * stated exactly. The test also requires that the answers do differ on
 * some flow, so that the entry documents something real.
 */
static const struct xdiff {
	const char *filter;
	const char *equiv;
} xdiffs[] = {
	/* IPv4 literals are ::a.b.c.d to nfdump, and so are IPv4 flows */
	{ "ip 1.2.3.4", "ip ::1.2.3.4" },
	{ "src or dst ip 1.2.3.4", "src or dst ip ::1.2.3.4" },
	{ "ip ::1.2.3.4", "ip ::1.2.3.4" },
	{ "ip ::ffff:1.2.3.4", "ip ::ffff:1.2.3.4" },
	{ "ip in [ 10.1.2.3 1.2.3.4 ]", "ip in [ ::10.1.2.3 ::1.2.3.4 ]" },
	{ "net 0.0.0.0/0", "net ::/96" },
	{ "net ::/96", "net ::/96" },
	{ "net ::ffff:0:0/96", "net ::ffff:0:0/96" },
	{ "net ::ffff:10.0.0.0/104", "net ::ffff:10.0.0.0/104" },
	{ "next ip 0.0.0.0", "next ip ::" },
	/* nfdump 1.7.1 bug: an IPv6 /0 mask is built by a 64-bit shift by
	   64, which x86 takes as a shift by 0: ::/0 acts as ::/64 */
	{ "net ::/0", "net ::/64" },
	{ NULL, NULL }
};

/*
 * Filters nfdump 1.7.1 rejects that we accept (docs/FILTER.md). Every
 * other filter nfdump rejects must be rejected by us too.
 */
static const char *const xaccept[] = {
	/* nfdump 1.7.1 refuses every AS term unless a geo DB is loaded
	   ("Can not filter according geo elements without a geo location
	   DB"): its grammar sets the geo flag for AS terms */
	"as 3356", "src as 3356", "dst as 3356", "as > 60000",
	"src as 4200000000", "src and dst as 3356", "as in [ 3356 13335 ]",
	"dst as in [ 65535 64512 ]",
	/* nfdump's grammar has no "list , prefix/len" production */
	"src ip in [ 10.0.0.0/8, 2001:db8::/32 ]",
	NULL
};

static store_flow_t *
xflows_load(size_t *np)
{
	size_t nf = FF_NELEM(xflows);
	store_flow_t *fl = xcalloc(nf, sizeof(*fl));

	for (size_t i = 0; i < nf; i++) {
		const struct xflow *x = &xflows[i];

		parse_addr_or_die(x->src, fl[i].src);
		parse_addr_or_die(x->dst, fl[i].dst);
		parse_addr_or_die(x->nh, fl[i].nexthop);
		parse_addr_or_die(x->exp, fl[i].exporter);
		fl[i].first_ms = x->first;
		fl[i].last_ms = x->last;
		fl[i].bytes = x->bytes;
		fl[i].packets = x->packets;
		fl[i].in_if = x->in_if;
		fl[i].out_if = x->out_if;
		fl[i].src_as = x->sas;
		fl[i].dst_as = x->das;
		fl[i].sport = x->sport;
		fl[i].dport = x->dport;
		fl[i].proto = x->proto;
		fl[i].tcp_flags = x->flags;
		fl[i].tos = x->tos;
		fl[i].src_mask = x->smask;
		fl[i].dst_mask = x->dmask;
		fl[i].sampling = 1;
		fl[i].flags = x->v6 ? STORE_FLOW_F_V6 : 0;
	}
	*np = nf;
	return fl;
}

static void
test_nfdump_xcheck(void **state)
{
	size_t nf, bad = 0, compared = 0;
	store_flow_t *fl = xflows_load(&nf), *view = xcalloc(nf, sizeof(*fl));
	uint8_t *sel = xcalloc(nf, 1), *eq = xcalloc(nf, 1);

	(void)state;
	for (size_t i = 0; i < nf; i++)
		view[i] = nfdump_view(&fl[i]);
	for (size_t c = 0; c < FF_NELEM(xcases); c++) {
		const struct xcase *xc = &xcases[c];
		const struct xdiff *d = NULL;
		query_filter_t *f = NULL;
		size_t differ = 0;
		char err[256];
		int rc, listed = 0;

		for (const struct xdiff *k = xdiffs; k->filter != NULL; k++)
			if (strcmp(k->filter, xc->filter) == 0)
				d = k;
		for (size_t k = 0; xaccept[k] != NULL; k++)
			if (strcmp(xaccept[k], xc->filter) == 0)
				listed = 1;
		rc = filter_compile(xc->filter, &f, err, sizeof(err));
		if (xc->nfdump == NULL) {
			/* nfdump rejected it */
			if (rc == 0 && !listed) {
				print_message("'%s': nfdump rejects (%s), we "
				    "accept\n", xc->filter, xc->nfdump_err);
				bad++;
			}
			if (rc != 0 && listed) {
				print_message("'%s' listed as accepted: %s\n",
				    xc->filter, err);
				bad++;
			}
			filter_free(f);
			continue;
		}
		if (rc != 0) {
			print_message("'%s': nfdump accepts, we reject: %s\n",
			    xc->filter, err);
			bad++;
			continue;
		}
		eval_all(f, xc->filter, fl, nf, sel);
		filter_free(f);
		if (d != NULL) {
			query_filter_t *fe = compile_ok(d->equiv);

			eval_all(fe, d->equiv, view, nf, eq);
			filter_free(fe);
		} else
			memcpy(eq, sel, nf);
		for (size_t i = 0; i < nf; i++) {
			int nfd = xc->nfdump[i] == '1';

			differ += sel[i] != nfd;
			if (eq[i] != nfd) {
				print_message("'%s' flow %zu (%s -> %s): "
				    "nfdump %d, we %d%s\n", xc->filter, i,
				    xflows[i].src, xflows[i].dst, nfd, sel[i],
				    d ? " (documented equivalent disagrees)" :
				    "");
				bad++;
			}
		}
		if (d != NULL && differ == 0) {
			print_message("'%s' is listed as a difference but "
			    "agrees with nfdump\n", xc->filter);
			bad++;
		}
		compared++;
	}
	/* the oracle table is not trivially empty or trivially agreeing */
	assert_true(compared > 120);
	free(fl);
	free(view);
	free(sel);
	free(eq);
	assert_int_equal(bad, 0);
}

/* ---------------------------------------------------------------------
 * Accepted forms and their normalized print
 * --------------------------------------------------------------------- */

static const struct {
	const char *in;
	const char *out;
} accepts[] = {
	/* empty and constant filters */
	{ "", "any" },
	{ "   # nothing but a comment", "any" },
	{ "any", "any" },
	{ "not any", "not any" },
	{ "ANY", "any" },
	/* addresses: src/dst qualifiers as nfdump(1) lists them */
	{ "ip 10.0.0.1", "(src ip 10.0.0.1 or dst ip 10.0.0.1)" },
	{ "host 10.0.0.1", "(src ip 10.0.0.1 or dst ip 10.0.0.1)" },
	{ "src ip 10.0.0.1", "src ip 10.0.0.1" },
	{ "dst host 10.0.0.1", "dst ip 10.0.0.1" },
	{ "src or dst ip 10.0.0.1", "(src ip 10.0.0.1 or dst ip 10.0.0.1)" },
	{ "dst or src ip 10.0.0.1", "(src ip 10.0.0.1 or dst ip 10.0.0.1)" },
	{ "src and dst ip 10.0.0.1",
	    "(src ip 10.0.0.1 and dst ip 10.0.0.1)" },
	{ "dst && src ip 10.0.0.1",
	    "(src ip 10.0.0.1 and dst ip 10.0.0.1)" },
	{ "src ip 2001:DB8::1", "src ip 2001:db8::1" },
	{ "src ip ::ffff:10.0.0.1", "src ip 10.0.0.1" },
	{ "src ip 010.001.000.001", "src ip 10.1.0.1" },
	{ "src ip in [ 10.0.0.1 10.0.0.0/8, 2001:db8::/32 ]",
	    "src ip in [ 10.0.0.1 10.0.0.0/8 2001:db8::/32 ]" },
	{ "ip in [10.0.0.1]",
	    "(src ip in [ 10.0.0.1 ] or dst ip in [ 10.0.0.1 ])" },
	/* networks: CIDR, partial IPv4, netmask, host bits cleared */
	{ "src net 10.1.2.3/8", "src net 10.0.0.0/8" },
	{ "dst net 172.16/12", "dst net 172.16.0.0/12" },
	{ "src net 10.0.0.0 255.255.0.0", "src net 10.0.0.0/16" },
	{ "src net 10.0.7.7 255.0.255.0", "src net 10.0.7.0 255.0.255.0" },
	{ "src net 10.0.0.0/32", "src ip 10.0.0.0" },
	{ "src net 0.0.0.0/0", "src net 0.0.0.0/0" },
	{ "src net 2001:db8::1/32", "src net 2001:db8::/32" },
	{ "src net ::ffff:0:0/96", "src net 0.0.0.0/0" },
	{ "src net ::ffff:10.0.0.0/104", "src net 10.0.0.0/8" },
	{ "src net ::/96", "src net ::/96" },
	{ "src net ::/0", "any" },
	{ "net ::/0", "any" },
	/* ports and comparators: = == eq > gt < lt >= ge <= le */
	{ "src port 80", "src port 80" },
	{ "src port = 80", "src port 80" },
	{ "src port == 80", "src port 80" },
	{ "src port eq 80", "src port 80" },
	{ "src port > 1023", "src port >= 1024" },
	{ "src port gt 1023", "src port >= 1024" },
	{ "src port < 1024", "src port <= 1023" },
	{ "src port lt 1024", "src port <= 1023" },
	{ "src port >= 1024", "src port >= 1024" },
	{ "src port ge 1024", "src port >= 1024" },
	{ "src port <= 1023", "src port <= 1023" },
	{ "src port le 1023", "src port <= 1023" },
	{ "src port>1023", "src port >= 1024" },
	{ "src port 0x50", "src port 80" },
	{ "src port 1k", "src port 1000" },
	{ "src port > 65535", "not any" },
	{ "src port < 0", "not any" },
	{ "src port >= 0", "any" },
	{ "src port <= 65535", "any" },
	{ "port < 0", "not any" },		/* an OR of two constants */
	{ "port >= 0 and tos 1", "tos 1" },
	{ "port 80", "(src port 80 or dst port 80)" },
	{ "src and dst port 80", "(src port 80 and dst port 80)" },
	{ "dst port in [ 443 80, 80 ]", "dst port in [ 80 443 ]" },
	/* protocols by nfdump's names (any case) or number */
	{ "proto tcp", "proto tcp" },
	{ "proto TCP", "proto tcp" },
	{ "proto 6", "proto tcp" },
	{ "proto icmp6", "proto icmp6" },
	{ "proto ipv6", "proto ipv6" },
	{ "proto ipip", "proto ipip" },
	{ "proto 94", "proto 94" },
	{ "proto 255", "proto 255" },
	{ "proto 0", "proto 0" },
	{ "proto udp-l", "proto udp-l" },
	/* counters with k/m/g/t = powers of 1000 */
	{ "bytes > 1k", "bytes >= 1001" },
	{ "bytes 1M", "bytes 1000000" },
	{ "bytes >= 4G", "bytes >= 4000000000" },
	{ "bytes < 1t", "bytes <= 999999999999" },
	{ "in bytes 5", "bytes 5" },
	{ "packets > 18446744073709551614", "packets 18446744073709551615" },
	{ "packets > 18446744073709551615", "not any" },
	{ "in packets 3", "packets 3" },
	/* TCP flags imply proto tcp */
	{ "flags S", "(proto tcp and flags S)" },
	{ "flags sa", "(proto tcp and flags AS)" },
	{ "flags X", "(proto tcp and flags UAPRSF)" },
	{ "flags SX", "(proto tcp and flags UAPRSF)" },
	{ "not flags AFRPU", "(not proto tcp or not flags UAPRF)" },
	{ "flags 18", "(proto tcp and flags 18)" },
	{ "flags > 63", "(proto tcp and flags >= 64)" },
	/* the other fields */
	{ "tos 4", "tos 4" },
	{ "src tos > 4", "tos >= 5" },
	{ "mask 24", "(src mask 24 or dst mask 24)" },
	{ "dst mask >= 16", "dst mask >= 16" },
	{ "as 3356", "(src as 3356 or dst as 3356)" },
	{ "src as > 4294967294", "src as 4294967295" },
	{ "dst as in [ 3 1 2 ]", "dst as in [ 1 2 3 ]" },
	{ "if 3", "(in if 3 or out if 3)" },
	{ "in if 3", "in if 3" },
	{ "out if > 4294967294", "out if 4294967295" },
	{ "next ip 10.0.0.1", "next ip 10.0.0.1" },
	{ "next host ::", "next ip ::" },
	{ "next ip in [ 10.0.0.1 fe80::/10 ]",
	    "next ip in [ 10.0.0.1 fe80::/10 ]" },
	{ "router ip 127.0.0.1", "router ip 127.0.0.1" },
	{ "router ip in [ 127.0.0.0/8 ]", "router ip in [ 127.0.0.0/8 ]" },
	{ "inet", "inet" },
	{ "ipv4", "inet" },
	{ "inet6", "inet6" },
	{ "IPv6", "inet6" },
	{ "icmp-type 8", "(icmp-type 8 and (proto icmp or proto icmp6))" },
	{ "icmp-code 3", "(icmp-code 3 and (proto icmp or proto icmp6))" },
	{ "tag 0", "tag 0" },
	{ "tag 31", "tag 31" },
	/* operators and precedence: not > and > or */
	{ "proto tcp and tos 4", "(proto tcp and tos 4)" },
	{ "proto tcp && tos 4", "(proto tcp and tos 4)" },
	{ "proto tcp AND tos 4", "(proto tcp and tos 4)" },
	{ "proto tcp || tos 4", "(proto tcp or tos 4)" },
	{ "proto tcp or tos 4 and tos 5",
	    "(proto tcp or (tos 4 and tos 5))" },
	{ "proto tcp and tos 4 or tos 5",
	    "(tos 5 or (proto tcp and tos 4))" },
	{ "not proto tcp and tos 4", "(not proto tcp and tos 4)" },
	{ "!proto tcp", "not proto tcp" },
	{ "not (proto tcp and tos 4)", "(not proto tcp or not tos 4)" },
	{ "not not proto tcp", "proto tcp" },
	{ "(((proto tcp)))", "proto tcp" },
	{ "proto tcp and (tos 4 or tos 5)",
	    "(proto tcp and (tos 4 or tos 5))" },
	{ "proto tcp and proto tcp", "proto tcp" },
	{ "proto tcp and any", "proto tcp" },
	{ "proto tcp or any", "any" },
	{ "proto tcp and not any", "not any" },
	{ "proto tcp or not any", "proto tcp" },
	/* whitespace, newlines and comments */
	{ "proto tcp\n\tand # comment\r\n tos 4", "(proto tcp and tos 4)" },
};

static void
test_parse_accept(void **state)
{
	char out[1024], again[1024];

	(void)state;
	for (size_t i = 0; i < FF_NELEM(accepts); i++) {
		query_filter_t *f = compile_ok(accepts[i].in), *g;
		size_t need = filter_print(f, out, sizeof(out));

		assert_int_equal(need, strlen(out));
		if (strcmp(out, accepts[i].out) != 0)
			fail_msg("'%s' printed as '%s', want '%s'",
			    accepts[i].in, out, accepts[i].out);
		/* the print compiles back to itself */
		g = compile_ok(out);
		filter_print(g, again, sizeof(again));
		assert_string_equal(again, out);
		assert_int_equal(filter_is_any(f), strcmp(out, "any") == 0);
		filter_free(f);
		filter_free(g);
	}
}

static void
test_print_truncation(void **state)
{
	query_filter_t *f = compile_ok("proto tcp and tos 4");
	char small[8];

	(void)state;
	/* like snprintf: the full length, a terminated prefix */
	assert_int_equal(filter_print(f, small, sizeof(small)),
	    strlen("(proto tcp and tos 4)"));
	assert_string_equal(small, "(proto ");
	assert_int_equal(filter_print(f, NULL, 0),
	    strlen("(proto tcp and tos 4)"));
	filter_free(f);
}

/* ---------------------------------------------------------------------
 * Errors: message and column as a user sees them
 * --------------------------------------------------------------------- */

static const struct {
	const char *in;
	const char *err;
} errors[] = {
	{ "foo", "column 1: expected a filter term near 'foo'" },
	{ "src ip 10.0.0.1 and port foo",
	    "column 26: expected a port number near 'foo'" },
	{ "port 65536",
	    "column 6: port number out of range 0..65535 near '65536'" },
	{ "port 99999999999999999999",
	    "column 6: port number out of range 0..65535 near "
	    "'99999999999999999999'" },
	{ "port 80kk", "column 6: expected a port number near '80kk'" },
	{ "port -1", "column 6: expected a port number near '-1'" },
	{ "port", "column 5: expected a port number at end of input" },
	{ "port >", "column 7: expected a port number at end of input" },
	{ "(port 80", "column 9: expected ')' at end of input" },
	{ "port 80)", "column 8: unbalanced ')' near ')'" },
	{ "()", "column 2: expected a filter term near ')'" },
	{ "not", "column 4: expected a filter term at end of input" },
	{ "port 80 and", "column 12: expected a filter term at end of input" },
	{ "port 80 or or port 22",
	    "column 12: expected a filter term near 'or'" },
	{ "ip 1.2.3.4 ip 5.6.7.8", "column 12: expected 'and', 'or' or the "
	    "end of the filter near 'ip'" },
	{ "port 80 & port 22", "column 9: expected 'and', 'or' or the end "
	    "of the filter near '&'" },
	{ "port 80 and @include x",
	    "column 13: expected a filter term near '@'" },
	{ "port 80 and 'x'", "column 13: expected a filter term near '\\x27'" },
	{ "port \x01", "column 6: expected a port number near '\\x01'" },
	{ "port \xc3\xa9", "column 6: expected a port number near "
	    "'\\xc3'" },
	{ "port 80\nand foo",
	    "line 2, column 5: expected a filter term near 'foo'" },
	{ "ip www.example.com", "column 4: expected an IP address (host "
	    "names are not looked up) near 'www.example.com'" },
	{ "ip 10.0.0", "column 4: expected an IP address (host names are "
	    "not looked up) near '10.0.0'" },
	{ "ip 10.0.0.256", "column 4: expected an IP address (host names "
	    "are not looked up) near '10.0.0.256'" },
	{ "ip 2001:db8::1::2", "column 4: expected an IP address (host "
	    "names are not looked up) near '2001:db8::1::2'" },
	{ "ip 10.0.0.0/8",
	    "column 12: 'ip' takes one address; use 'net' for a prefix near "
	    "'/'" },
	{ "net 10.0.0.0/33",
	    "column 14: prefix length out of range 0..32 near '33'" },
	{ "net 2001:db8::/129",
	    "column 16: prefix length out of range 0..128 near '129'" },
	{ "net 172.16/24",
	    "column 12: prefix length longer than the address given near "
	    "'24'" },
	{ "net 10/8", "column 5: expected a network address near '10'" },
	{ "net 10.0.0.0/x", "column 14: expected a prefix length near 'x'" },
	{ "as foo", "column 4: expected an AS number near 'foo'" },
	{ "port in [ ]", "column 9: empty list near '['" },
	{ "port in 80", "column 9: expected '[' near '80'" },
	{ "net 10.0.0.0", "column 13: expected '/' and a prefix length, or "
	    "an IPv4 netmask at end of input" },
	{ "net 10.0.0.0 foo", "column 14: expected '/' and a prefix length, "
	    "or an IPv4 netmask near 'foo'" },
	{ "net 2001:db8:: 255.0.0.0", "column 5: a netmask needs an IPv4 "
	    "network; use ADDR/LEN for IPv6 near '2001:db8::'" },
	{ "net 10.0 255.0.0.0", "column 5: expected a complete IPv4 address "
	    "before a netmask near '10.0'" },
	{ "ip in [ ]", "column 7: empty list near '['" },
	{ "ip in 10.0.0.1", "column 7: expected '[' near '10.0.0.1'" },
	{ "ip in [ 1.2.3.4/33 ]",
	    "column 17: prefix length out of range 0..32 near '33'" },
	{ "ip in [ 1.2.3.4 foo ]",
	    "column 17: expected an IP address or prefix near 'foo'" },
	{ "ip in [ 1.2.3.4", "column 16: expected an IP address or prefix "
	    "at end of input" },
	{ "port in [ 80 70000 ]",
	    "column 14: port number out of range 0..65535 near '70000'" },
	{ "port in [ 80 443", "column 17: expected a port number at end of "
	    "input" },
	{ "as 4294967296", "column 4: AS number out of range 0..4294967295 "
	    "near '4294967296'" },
	{ "proto foo", "column 7: unknown protocol near 'foo'" },
	{ "proto 256",
	    "column 7: protocol number out of range 0..255 near '256'" },
	{ "proto", "column 6: expected a protocol name or number at end of "
	    "input" },
	{ "flags SQ", "column 7: expected TCP flags (letters of UAPRSF, or "
	    "X) near 'SQ'" },
	{ "flags SS", "column 7: repeated TCP flag near 'SS'" },
	{ "flags 256",
	    "column 7: TCP flags value out of range 0..255 near '256'" },
	{ "flags (", "column 7: expected TCP flags (letters of UAPRSF, or X) "
	    "or a number near '('" },
	{ "tos 256", "column 5: ToS value out of range 0..255 near '256'" },
	{ "mask 256", "column 6: mask length out of range 0..255 near "
	    "'256'" },
	{ "if 4294967296", "column 4: interface number out of range "
	    "0..4294967295 near '4294967296'" },
	{ "bytes > 18446744073709551616", "column 9: byte count out of range "
	    "0..18446744073709551615 near '18446744073709551616'" },
	{ "packets > 20000000000000000k", "column 11: packet count out of "
	    "range 0..18446744073709551615 near '20000000000000000k'" },
	{ "icmp-type 256",
	    "column 11: ICMP type out of range 0..255 near '256'" },
	{ "icmp-code x", "column 11: expected an ICMP code near 'x'" },
	{ "tag malware", "column 5: unknown reputation category near "
	    "'malware'" },
	{ "tag 32", "column 5: reputation category out of range 0..31 near "
	    "'32'" },
	{ "vlan 5",
	    "column 1: nfdump term not supported by flowfleet near 'vlan'" },
	{ "src vlan 5",
	    "column 5: nfdump term not supported by flowfleet near 'vlan'" },
	{ "duration > 100", "column 1: nfdump term not supported by "
	    "flowfleet near 'duration'" },
	{ "in port 80", "column 4: 'in' does not go with 'port' near "
	    "'port'" },
	{ "out ip 10.0.0.1",
	    "column 5: 'out' does not go with 'ip' near 'ip'" },
	{ "src if 3", "column 5: 'src' does not go with 'if' (use 'in if' or "
	    "'out if') near 'if'" },
	{ "in tos 3", "column 4: 'in' does not go with 'tos' near 'tos'" },
	{ "dst tos 3", "column 5: 'dst tos' is not stored by flowfleet "
	    "(only the source ToS) near 'tos'" },
	{ "out bytes 3", "column 5: 'out bytes' (reverse direction) is not "
	    "stored by flowfleet near 'bytes'" },
	{ "src packets 3",
	    "column 5: 'src' does not go with 'packets' near 'packets'" },
	{ "next as 3",
	    "column 6: 'next as' is not stored by flowfleet near 'as'" },
	{ "next 1.2.3.4", "column 6: expected 'ip' near '1.2.3.4'" },
	{ "router ip 1.2.3.4/8", "column 18: 'ip' takes one address; use "
	    "'net' for a prefix near '/'" },
	{ "src or port 80", "column 8: expected 'dst' near 'port'" },
	{ "dst and dst ip 1.2.3.4", "column 9: expected 'src' near 'dst'" },
	{ "src 80", "column 5: expected a field after 'src' near '80'" },
	{ "src", "column 4: expected a field after 'src' at end of input" },
	{ "src (", "column 5: expected a field after 'src' near '('" },
};

static void
test_parse_errors(void **state)
{
	char err[256];

	(void)state;
	for (size_t i = 0; i < FF_NELEM(errors); i++) {
		query_filter_t *f = (query_filter_t *)&err;
		int rc = filter_compile(errors[i].in, &f, err, sizeof(err));

		if (rc != FF_ESYNTAX)
			fail_msg("'%s' compiled (rc %d)", errors[i].in, rc);
		assert_null(f);
		if (strcmp(err, errors[i].err) != 0)
			fail_msg("'%s': got \"%s\", want \"%s\"", errors[i].in,
			    err, errors[i].err);
	}
}

static void
test_error_buffer(void **state)
{
	query_filter_t *f = NULL;
	char small[16];

	(void)state;
	/* truncated, terminated; no buffer at all is fine too */
	assert_int_equal(filter_compile("foo", &f, small, sizeof(small)),
	    FF_ESYNTAX);
	assert_string_equal(small, "column 1: expec");
	assert_int_equal(filter_compile("foo", &f, NULL, 0), FF_ESYNTAX);
	assert_null(f);
	/* success clears it; NULL text is "any" */
	assert_int_equal(filter_compile(NULL, &f, small, sizeof(small)), 0);
	assert_string_equal(small, "");
	assert_true(filter_is_any(f));
	filter_free(f);
	filter_free(NULL);
}

/* ---------------------------------------------------------------------
 * Semantics of each term on hand-built flows
 * --------------------------------------------------------------------- */

/*
 * Expected values come from nfdump(1) FILTER and nfdump 1.7's grammar
 * (as noted), or from our own definition in docs/FILTER.md where we
 * differ ("ours").
 */
static const struct {
	const char *filter;
	struct fspec f;
	int want;
} sems[] = {
	/* ip/host: either address; src/dst: that one (nfdump(1)) */
	{ "ip 10.0.0.1", { .src = "10.0.0.1" }, 1 },
	{ "ip 10.0.0.1", { .src = "10.9.9.9", .dst = "10.0.0.1" }, 1 },
	{ "ip 10.0.0.1", { .src = "10.9.9.9", .dst = "10.9.9.8" }, 0 },
	{ "src ip 10.0.0.1", { .src = "10.9.9.9", .dst = "10.0.0.1" }, 0 },
	{ "dst ip 10.0.0.1", { .src = "10.9.9.9", .dst = "10.0.0.1" }, 1 },
	{ "src and dst ip 10.0.0.1", { .src = "10.0.0.1", .dst = "10.0.0.1" },
	    1 },
	{ "src and dst ip 10.0.0.1", { .src = "10.0.0.1" }, 0 },
	{ "ip 2001:db8::1", { .src = "2001:db8::1", .dst = "2001:db8::2" },
	    1 },
	{ "ip 2001:db8::1", { .src = "2001:db8::2", .dst = "2001:db8::3" },
	    0 },
	/* ours: IPv4 is ::ffff:a.b.c.d, whichever way it is written */
	{ "ip ::ffff:10.0.0.1", { .src = "10.0.0.1" }, 1 },
	{ "ip ::10.0.0.1", { .src = "10.0.0.1" }, 0 },
	{ "ip 10.0.0.1", { .src = "::ffff:10.0.0.1", .dst = "2001:db8::1" },
	    1 },
	/* net: prefix, netmask, partial address (nfdump grammar) */
	{ "net 10.0.0.0/8", { .src = "10.255.255.255", .dst = "11.0.0.0" },
	    1 },
	{ "net 10.0.0.0/8", { .src = "9.255.255.255", .dst = "11.0.0.0" },
	    0 },
	{ "dst net 172.16/12", { .dst = "172.31.255.255" }, 1 },
	{ "dst net 172.16/12", { .dst = "172.32.0.0" }, 0 },
	{ "src net 10.0.0.0 255.255.0.0", { .src = "10.0.255.1" }, 1 },
	{ "src net 10.0.0.0 255.255.0.0", { .src = "10.1.0.1" }, 0 },
	{ "src net 10.0.0.7 255.0.255.255", { .src = "10.99.0.7" }, 1 },
	{ "src net 10.0.0.7 255.0.255.255", { .src = "10.99.0.8" }, 0 },
	{ "src net 0.0.0.0/0", { .src = "203.0.113.9" }, 1 },
	{ "src net 0.0.0.0/0", { .src = "2001:db8::1" }, 0 },
	{ "src net 2001:db8::/32", { .src = "2001:db8:ffff::1" }, 1 },
	{ "src net 2001:db8::/32", { .src = "2001:db9::" }, 0 },
	{ "src net 2001:db8::/32", { .src = "10.0.0.1" }, 0 },
	/* ours: IPv6 prefixes and IPv4 rows, through ::ffff:0:0/96 */
	{ "src net ::/0", { .src = "10.0.0.1" }, 1 },
	{ "src net ::ffff:0:0/96", { .src = "10.0.0.1" }, 1 },
	{ "src net ::ffff:0:0/96", { .src = "::fffe:ffff:ffff" }, 0 },
	{ "src net ::fffe:0:0/95", { .src = "10.0.0.1" }, 1 },
	{ "src net ::fffe:0:0/95", { .src = "::fffe:0:1" }, 1 },
	{ "src net ::ffff:0:0/97", { .src = "127.255.255.255" }, 1 },
	{ "src net ::ffff:0:0/97", { .src = "128.0.0.0" }, 0 },
	{ "src net ::ffff:10.0.0.0/104", { .src = "10.200.0.1" }, 1 },
	{ "src net ::/96", { .src = "10.0.0.1" }, 0 },
	{ "src net ::/96", { .src = "::1" }, 1 },
	{ "src net ::/64", { .src = "10.0.0.1" }, 1 },
	{ "src net 8000::/1", { .src = "255.255.255.255" }, 0 },
	/* lists (nfdump(1): IPs and CIDR, space or comma separated) */
	{ "ip in [ 10.0.0.0/8 2001:db8::1 ]", { .src = "10.1.1.1" }, 1 },
	{ "ip in [ 10.0.0.0/8 2001:db8::1 ]", { .src = "11.1.1.1",
	    .dst = "2001:db8::1" }, 1 },
	{ "ip in [ 10.0.0.0/8 2001:db8::1 ]", { .src = "11.1.1.1",
	    .dst = "2001:db8::2" }, 0 },
	{ "src ip in [ 10.0.0.0/9, 10.128.0.0/9 ]", { .src = "10.200.0.1" },
	    1 },
	{ "src ip in [ ::/0 ]", { .src = "1.2.3.4" }, 1 },
	{ "src ip in [ ::/96 ]", { .src = "1.2.3.4" }, 0 },
	{ "src ip in [ ::ffff:0:0/95 1.0.0.0/8 ]", { .src = "::fffe:0:1" },
	    1 },
	/* ports and comparators (nfdump grammar: comp defaults to ==) */
	{ "port > 1023", { .sport = 1023, .dport = 1024 }, 1 },
	{ "port > 1023", { .sport = 1023, .dport = 1023 }, 0 },
	{ "port < 1024", { .sport = 1024, .dport = 1023 }, 1 },
	{ "port < 1024", { .sport = 1024, .dport = 65535 }, 0 },
	{ "src port 0", { .sport = 0, .dport = 1 }, 1 },
	{ "dst port 65535", { .dport = 65535 }, 1 },
	{ "dst port >= 65535", { .dport = 65534 }, 0 },
	{ "src port <= 0", { .sport = 0 }, 1 },
	{ "src and dst port 53", { .sport = 53, .dport = 53 }, 1 },
	{ "src and dst port 53", { .sport = 53, .dport = 54 }, 0 },
	{ "port in [ 80 443 ]", { .sport = 50000, .dport = 443 }, 1 },
	{ "port in [ 80 443 ]", { .sport = 444, .dport = 79 }, 0 },
	/* protocols */
	{ "proto tcp", { .proto = 6 }, 1 },
	{ "proto tcp", { .proto = 17 }, 0 },
	{ "proto icmp6", { .proto = 58 }, 1 },
	{ "proto gre", { .proto = 47 }, 1 },
	{ "proto esp", { .proto = 50 }, 1 },
	{ "proto 255", { .proto = 255 }, 1 },
	/* counters: k, m, g are powers of 1000 (nfdump's scanner) */
	{ "bytes > 1k", { .bytes = 1000 }, 0 },
	{ "bytes > 1k", { .bytes = 1001 }, 1 },
	{ "bytes >= 1m", { .bytes = 1000000 }, 1 },
	{ "bytes < 1g", { .bytes = 1000000000 }, 0 },
	{ "bytes > 18446744073709551614", { .bytes = UINT64_MAX }, 1 },
	{ "packets 0x10", { .packets = 16 }, 1 },
	{ "packets < 1", { .packets = 0 }, 1 },
	/* TCP flags: all given set, TCP only (nfdump grammar) */
	{ "flags SA", { .proto = 6, .flags = 0x12 }, 1 },
	{ "flags SA", { .proto = 6, .flags = 0x13 }, 1 },
	{ "flags SA", { .proto = 6, .flags = 0x02 }, 0 },
	{ "flags SA", { .proto = 17, .flags = 0x12 }, 0 },
	{ "flags X", { .proto = 6, .flags = 0x3f }, 1 },
	{ "flags X", { .proto = 6, .flags = 0x3e }, 0 },
	/* negated: none of them set (nfdump's CMP_FLAGS when inverted) */
	{ "not flags SA", { .proto = 6, .flags = 0x02 }, 0 },
	{ "not flags SA", { .proto = 6, .flags = 0x01 }, 1 },
	{ "not flags SA", { .proto = 17, .flags = 0x12 }, 1 },
	{ "flags S and not flags AFRPU", { .proto = 6, .flags = 0x02 }, 1 },
	{ "flags S and not flags AFRPU", { .proto = 6, .flags = 0xc2 }, 1 },
	{ "flags S and not flags AFRPU", { .proto = 6, .flags = 0x12 }, 0 },
	/* numeric: the whole byte */
	{ "flags 2", { .proto = 6, .flags = 0x02 }, 1 },
	{ "flags 2", { .proto = 6, .flags = 0xc2 }, 0 },
	{ "flags > 63", { .proto = 6, .flags = 0xc2 }, 1 },
	{ "not flags 2", { .proto = 6, .flags = 0x12 }, 1 },
	/* tos, masks, AS, interfaces */
	{ "tos 4", { .tos = 4 }, 1 },
	{ "tos > 100", { .tos = 184 }, 1 },
	{ "src tos 184", { .tos = 183 }, 0 },
	{ "mask 24", { .smask = 8, .dmask = 24 }, 1 },
	{ "src mask 24", { .smask = 8, .dmask = 24 }, 0 },
	{ "dst mask > 16", { .dmask = 17 }, 1 },
	{ "as 3356", { .sas = 1, .das = 3356 }, 1 },
	{ "src as 3356", { .sas = 1, .das = 3356 }, 0 },
	{ "src as 4294967295", { .sas = 4294967295u }, 1 },
	{ "dst as > 64511", { .das = 64512 }, 1 },
	{ "as in [ 3356 13335 ]", { .sas = 13335 }, 1 },
	{ "as in [ 3356 13335 ]", { .sas = 13334, .das = 3357 }, 0 },
	{ "if 3", { .in_if = 1, .out_if = 3 }, 1 },
	{ "in if 3", { .in_if = 1, .out_if = 3 }, 0 },
	{ "out if 3", { .in_if = 1, .out_if = 3 }, 1 },
	{ "in if 4294967295", { .in_if = 4294967295u }, 1 },
	/* next hop and exporter: exact addresses */
	{ "next ip 10.0.0.254", { .nh = "10.0.0.254" }, 1 },
	{ "next ip 10.0.0.254", { .nh = "10.0.0.253" }, 0 },
	{ "next ip fe80::1", { .src = "2001:db8::1", .nh = "fe80::1" }, 1 },
	{ "next ip ::", { .nh = "::" }, 1 },
	/* ours: 0.0.0.0 is ::ffff:0.0.0.0, not the unknown :: */
	{ "next ip 0.0.0.0", { .nh = "::" }, 0 },
	{ "next ip in [ 10.0.0.0/8 ]", { .nh = "10.0.0.254" }, 1 },
	{ "router ip 127.0.0.2", { .exp = "127.0.0.2" }, 1 },
	{ "router ip 127.0.0.2", { .exp = "127.0.0.1" }, 0 },
	{ "router ip ::1", { .exp = "::1" }, 1 },
	/* address family: the record's, as nfdump's inet/inet6 */
	{ "inet", { .src = "10.0.0.1" }, 1 },
	{ "inet", { .src = "2001:db8::1" }, 0 },
	{ "inet6", { .src = "2001:db8::1" }, 1 },
	{ "not inet6", { .src = "10.0.0.1" }, 1 },
	/* ICMP type and code: dport = type * 256 + code, ICMP(v6) only */
	{ "icmp-type 8", { .proto = 1, .dport = 8 * 256 }, 1 },
	{ "icmp-type 8", { .proto = 6, .dport = 8 * 256 }, 0 },
	{ "icmp-type 3", { .proto = 1, .dport = 3 * 256 + 3 }, 1 },
	{ "icmp-code 3", { .proto = 58, .dport = 1 * 256 + 3 }, 1 },
	{ "icmp-code 3", { .proto = 58, .dport = 3 * 256 + 1 }, 0 },
	/* ours: reputation categories */
	{ "tag 3", { .tags = 0x8 }, 1 },
	{ "tag 3", { .tags = 0x7 }, 0 },
	{ "tag 31", { .tags = 0x80000000u }, 1 },
	{ "not tag 0", { .tags = 0 }, 1 },
	/* constants and precedence: not > and > or (nfdump grammar) */
	{ "any", { .proto = 6 }, 1 },
	{ "not any", { .proto = 6 }, 0 },
	{ "proto tcp or proto udp and port 53", { .proto = 6, .dport = 80 },
	    1 },
	{ "proto tcp or proto udp and port 53", { .proto = 17, .dport = 80 },
	    0 },
	{ "(proto tcp or proto udp) and port 53",
	    { .proto = 6, .dport = 80 }, 0 },
	{ "not proto tcp and port 53", { .proto = 17, .dport = 53 }, 1 },
	{ "not proto tcp and port 53", { .proto = 6, .dport = 53 }, 0 },
	{ "not (proto tcp and port 53)", { .proto = 6, .dport = 80 }, 1 },
	{ "not not proto tcp", { .proto = 6 }, 1 },
};

static void
test_semantics(void **state)
{
	(void)state;
	for (size_t i = 0; i < FF_NELEM(sems); i++) {
		query_filter_t *f = compile_ok(sems[i].filter);
		store_flow_t fl = mk(&sems[i].f);
		uint8_t got;

		eval_all(f, sems[i].filter, &fl, 1, &got);
		if (got != sems[i].want)
			fail_msg("'%s' (table row %zu): got %d, want %d",
			    sems[i].filter, i, got, sems[i].want);
		filter_free(f);
	}
}

/* ---------------------------------------------------------------------
 * Columns, batch sizes, tail bits
 * --------------------------------------------------------------------- */

#define B(c) STORE_COLBIT(c)

static const struct {
	const char *filter;
	uint32_t cols;
} colcases[] = {
	{ "any", 0 },
	{ "not any", 0 },
	{ "port >= 0", 0 },
	{ "src port 80", B(STORE_COL_SPORT) },
	{ "port 80", B(STORE_COL_SPORT) | B(STORE_COL_DPORT) },
	{ "ip 10.0.0.1", B(STORE_COL_SRC) | B(STORE_COL_DST) },
	{ "dst net 10.0.0.0/8", B(STORE_COL_DST) },
	{ "next ip ::", B(STORE_COL_NEXTHOP) },
	{ "router ip 127.0.0.1", B(STORE_COL_EXPORTER) },
	{ "flags S", B(STORE_COL_PROTO) | B(STORE_COL_TCP_FLAGS) },
	{ "icmp-type 8", B(STORE_COL_PROTO) | B(STORE_COL_DPORT) },
	{ "bytes > 1 and packets > 1", B(STORE_COL_BYTES) | B(STORE_COL_PACKETS) },
	{ "if 1", B(STORE_COL_IN_IF) | B(STORE_COL_OUT_IF) },
	{ "as 1", B(STORE_COL_SRC_AS) | B(STORE_COL_DST_AS) },
	{ "tos 1 or mask 1", B(STORE_COL_TOS) | B(STORE_COL_SRC_MASK) | B(STORE_COL_DST_MASK) },
	{ "inet6", B(STORE_COL_FLAGS) },
	{ "tag 1", B(STORE_COL_TAGS) },
	{ "proto tcp or any", 0 },
	{ "proto tcp and not any", 0 },
};

static void
test_columns(void **state)
{
	(void)state;
	for (size_t i = 0; i < FF_NELEM(colcases); i++) {
		query_filter_t *f = compile_ok(colcases[i].filter);
		struct fspec s = { .proto = 6 };
		store_flow_t fl = mk(&s);
		uint8_t got;

		if (filter_columns(f) != colcases[i].cols)
			fail_msg("'%s' reads %#x, want %#x",
			    colcases[i].filter, filter_columns(f),
			    colcases[i].cols);
		/* runs with only those columns present (the others NULL) */
		eval_all(f, colcases[i].filter, &fl, 1, &got);
		filter_free(f);
	}
}

static void
test_batch_sizes(void **state)
{
	static const size_t sizes[] = { 1, 2, 63, 64, 65, 127, 128, 129,
	    1000, 32768 };
	static const char *const filters[] = { "any", "not any",
	    "not port 80", "port 80", "not (port 80 or ip 10.0.0.1)",
	    "not src ip in [ 10.0.0.0/8 ]", "not (port 80 and tos 4)" };
	store_flow_t *fl = xcalloc(32768, sizeof(*fl));
	uint8_t *sel = xcalloc(32768, 1);

	(void)state;
	for (size_t i = 0; i < 32768; i++) {
		struct fspec s = { .sport = (uint16_t)(i % 3 ? 80 : 81),
		    .dport = (uint16_t)(i % 5), .tos = (uint8_t)(i % 7) };

		fl[i] = mk(&s);
	}
	for (size_t k = 0; k < FF_NELEM(filters); k++) {
		query_filter_t *f = compile_ok(filters[k]);

		/* eval_all checks the count and the bits past n */
		for (size_t j = 0; j < FF_NELEM(sizes); j++)
			eval_all(f, filters[k], fl, sizes[j], sel);
		filter_free(f);
	}
	/* an empty batch selects nothing and writes nothing */
	{
		query_filter_t *f = compile_ok("any");
		store_colbatch_t cb;
		uint64_t canary = 0x1234;

		memset(&cb, 0, sizeof(cb));
		assert_int_equal(filter_eval(f, &cb, &canary, NULL), 0);
		assert_int_equal(canary, 0x1234);
		filter_free(f);
	}
	free(fl);
	free(sel);
}

/* ---------------------------------------------------------------------
 * Limits against hostile filter text
 * --------------------------------------------------------------------- */

static char *
repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = xcalloc(hl + ul * n + tl + 1, 1);

	memcpy(s, head, hl);
	for (size_t i = 0; i < n; i++)
		memcpy(s + hl + i * ul, unit, ul);
	memcpy(s + hl + n * ul, tail, tl + 1);
	return s;
}

static int
compile_err(const char *text, char *err, size_t errlen)
{
	query_filter_t *f = NULL;
	int rc = filter_compile(text, &f, err, errlen);

	filter_free(f);
	return rc;
}

static void
test_limits(void **state)
{
	char err[256], want[128];
	char *s;

	(void)state;
	/* length */
	s = repeat("", " ", FILTER_MAX_TEXT - 3, "any");
	assert_int_equal(compile_err(s, err, sizeof(err)), 0);
	free(s);
	s = repeat("", " ", FILTER_MAX_TEXT - 2, "any");
	assert_int_equal(compile_err(s, err, sizeof(err)), FF_ESYNTAX);
	snprintf(want, sizeof(want), "filter too long (%u bytes, limit %u)",
	    FILTER_MAX_TEXT + 1, FILTER_MAX_TEXT);
	assert_string_equal(err, want);
	free(s);

	/* nesting: parentheses and 'not' */
	{
		char *open = repeat("", "(", FILTER_MAX_DEPTH, "any");

		s = repeat(open, ")", FILTER_MAX_DEPTH, "");
		free(open);
	}
	assert_int_equal(compile_err(s, err, sizeof(err)), 0);
	free(s);
	s = repeat("", "(", FILTER_MAX_DEPTH + 1, "any)");
	assert_int_equal(compile_err(s, err, sizeof(err)), FF_ESYNTAX);
	snprintf(want, sizeof(want), "column %u: nesting too deep (limit %u) "
	    "near '('", FILTER_MAX_DEPTH + 1, FILTER_MAX_DEPTH);
	assert_string_equal(err, want);
	free(s);
	s = repeat("", "not ", FILTER_MAX_DEPTH + 1, "any");
	assert_int_equal(compile_err(s, err, sizeof(err)), FF_ESYNTAX);
	assert_non_null(strstr(err, "nesting too deep"));
	free(s);
	s = repeat("", "!(", 1000, "");		/* never gets deep */
	assert_int_equal(compile_err(s, err, sizeof(err)), FF_ESYNTAX);
	free(s);

	/* terms */
	s = repeat("", "tos 1 or ", FILTER_MAX_NODES - 2, "tos 1");
	assert_int_equal(compile_err(s, err, sizeof(err)), 0);
	free(s);
	s = repeat("", "tos 1 or ", FILTER_MAX_NODES, "tos 1");
	assert_int_equal(compile_err(s, err, sizeof(err)), FF_ESYNTAX);
	/* the 4097th term starts 9 * 4096 bytes in */
	snprintf(want, sizeof(want), "column %u: too many terms (limit %u) "
	    "near 'tos'", 9 * FILTER_MAX_NODES + 1, FILTER_MAX_NODES);
	assert_string_equal(err, want);
	free(s);

	/* list entries */
	s = repeat("src port in [", " 1", FILTER_MAX_LIST, " ]");
	assert_int_equal(compile_err(s, err, sizeof(err)), 0);
	free(s);
	s = repeat("src port in [", " 1", FILTER_MAX_LIST + 1, " ]");
	assert_int_equal(compile_err(s, err, sizeof(err)), FF_ESYNTAX);
	snprintf(want, sizeof(want), "column %u: list too long (limit %u "
	    "entries) near '1'", 14 + 2 * FILTER_MAX_LIST + 1,
	    FILTER_MAX_LIST);
	assert_string_equal(err, want);
	free(s);
	s = repeat("src ip in [", " ::", FILTER_MAX_LIST + 1, " ]");
	assert_int_equal(compile_err(s, err, sizeof(err)), FF_ESYNTAX);
	assert_non_null(strstr(err, "list too long"));
	free(s);

	/* memory: each port list carries an 8 KiB bitmap */
	s = repeat("", "src port in [ 1 ] or ", 1100, "any");
	assert_int_equal(compile_err(s, err, sizeof(err)), FF_ESYNTAX);
	assert_non_null(strstr(err, "filter too large (compiled form over 8 "
	    "MiB) near"));
	free(s);
}

/* ---------------------------------------------------------------------
 * Property test: random filters from the grammar over random batches
 * --------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
	/* xorshift64*, seeded: reproducible */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static size_t
pick(size_t n)
{
	return (size_t)(rng() % n);
}

#define PICK(a) ((a)[pick(FF_NELEM(a))])

static const char *const p_v4[] = { "10.0.0.1", "10.0.0.2", "10.255.255.255",
    "0.0.0.0", "255.255.255.255", "192.168.1.1", "127.0.0.1", "128.0.0.0" };
static const char *const p_v6[] = { "::", "::1", "::ffff:10.0.0.1",
    "::fffe:0:1", "::fffe:ffff:ffff", "::1:0:0:1", "2001:db8::1",
    "2001:db8:1::2", "fe80::1", "::10.0.0.1", "ffff::1" };
static const char *const p_net[] = { "10.0.0.0/8", "0.0.0.0/0",
    "10.0.0.0/31", "::/0", "::/96", "::/64", "::ffff:0:0/96",
    "::ffff:0:0/95", "::fffe:0:0/95", "::fffe:0:0/96", "::ffff:10.0.0.0/104",
    "::ffff:0:0/97", "::ffff:128.0.0.0/97", "2001:db8::/32", "::/1",
    "8000::/1", "::ffff:10.0.0.1/128", "10.0.0.0 255.0.255.0",
    "10.0.0.1 255.255.255.255", "172.16/12", "192.168/16", "::/80",
    "::ffff:0:0/80", "fe80::/10", "10.0.0.2/32", "127.0.0.0/8" };
static const char *const p_lnet[] = { "10.0.0.0/8", "0.0.0.0/0",
    "10.0.0.0/31", "::/0", "::/96", "::ffff:0:0/96", "::ffff:0:0/95",
    "::fffe:0:0/95", "::ffff:10.0.0.0/104", "::ffff:0:0/97", "8000::/1",
    "::ffff:128.0.0.0/97", "2001:db8::/32", "::/1", "10.0.0.2/32",
    "::ffff:10.0.0.1/128", "127.0.0.0/8", "fe80::/10" };
static const char *const p_cmp[] = { "", "= ", "== ", "eq ", "> ", "gt ",
    "< ", "lt ", ">= ", "ge ", "<= ", "le " };
static const char *const p_dq[] = { "", "src ", "dst ", "src or dst ",
    "src and dst ", "dst or src " };
static const char *const p_port[] = { "0", "1", "22", "53", "80", "443",
    "1023", "1024", "65534", "65535" };
static const char *const p_u32[] = { "0", "1", "3", "3356", "64512",
    "4294967294", "4294967295" };
static const char *const p_u64[] = { "0", "1", "999", "1000", "1k",
    "1001", "1m", "0x10", "4g", "18446744073709551615" };
static const char *const p_u8[] = { "0", "1", "4", "8", "24", "32", "127",
    "184", "255" };
static const char *const p_proto[] = { "tcp", "udp", "icmp", "icmp6",
    "gre", "6", "17", "0", "255" };
static const char *const p_flags[] = { "S", "SA", "A", "F", "R", "X",
    "UAPRSF", "AFRPU", "sa", "2", "> 3", "< 64", "18" };
static const char *const p_and[] = { " and ", " && ", " AND " };
static const char *const p_or[] = { " or ", " || ", " OR " };
static const char *const p_not[] = { "not ", "! ", "NOT " };

static void
gen_addr(char *b, size_t len)
{
	snprintf(b, len, "%s", pick(2) ? PICK(p_v4) : PICK(p_v6));
}

static void
gen_list(char *b, size_t len)
{
	size_t n = 1 + pick(4), k = 0;

	k += (size_t)snprintf(b + k, len - k, "[");
	for (size_t i = 0; i < n && k < len; i++)
		k += (size_t)snprintf(b + k, len - k, "%s%s", i ? ", " : " ",
		    pick(2) ? (pick(2) ? PICK(p_v4) : PICK(p_v6)) :
		    PICK(p_lnet));
	if (k < len)
		snprintf(b + k, len - k, " ]");
}

static void
gen_term(char *b, size_t len)
{
	char a[256];

	switch (pick(22)) {
	case 0:
		gen_addr(a, sizeof(a));
		snprintf(b, len, "%sip %s", PICK(p_dq), a);
		break;
	case 1:
		snprintf(b, len, "%snet %s", PICK(p_dq), PICK(p_net));
		break;
	case 2:
		gen_list(a, sizeof(a));
		snprintf(b, len, "%sip in %s", PICK(p_dq), a);
		break;
	case 3:
		snprintf(b, len, "%sport %s%s", PICK(p_dq), PICK(p_cmp),
		    PICK(p_port));
		break;
	case 4:
		snprintf(b, len, "%sport in [ %s %s ]", PICK(p_dq),
		    PICK(p_port), PICK(p_port));
		break;
	case 5:
		snprintf(b, len, "proto %s", PICK(p_proto));
		break;
	case 6:
		snprintf(b, len, "%s %s%s", pick(2) ? "bytes" : "packets",
		    PICK(p_cmp), PICK(p_u64));
		break;
	case 7:
		snprintf(b, len, "flags %s", PICK(p_flags));
		break;
	case 8:
		snprintf(b, len, "%stos %s%s", pick(2) ? "src " : "",
		    PICK(p_cmp), PICK(p_u8));
		break;
	case 9:
		snprintf(b, len, "%smask %s%s", PICK(p_dq), PICK(p_cmp),
		    PICK(p_u8));
		break;
	case 10:
		snprintf(b, len, "%sas %s%s", PICK(p_dq), PICK(p_cmp),
		    PICK(p_u32));
		break;
	case 11:
		snprintf(b, len, "%sas in [ %s %s ]", PICK(p_dq), PICK(p_u32),
		    PICK(p_u32));
		break;
	case 12:
		snprintf(b, len, "%sif %s%s", pick(3) == 0 ? "" : pick(2) ?
		    "in " : "out ", PICK(p_cmp), PICK(p_u32));
		break;
	case 13:
		gen_addr(a, sizeof(a));
		snprintf(b, len, "next ip %s", a);
		break;
	case 14:
		gen_addr(a, sizeof(a));
		snprintf(b, len, "router ip %s", a);
		break;
	case 15:
		gen_list(a, sizeof(a));
		snprintf(b, len, "%s ip in %s", pick(2) ? "next" : "router", a);
		break;
	case 16:
		snprintf(b, len, "%s", pick(2) ? "inet" : "inet6");
		break;
	case 17:
		snprintf(b, len, "icmp-%s %s", pick(2) ? "type" : "code",
		    PICK(p_u8));
		break;
	case 18:
		snprintf(b, len, "tag %u", (unsigned)pick(32));
		break;
	case 19:
		snprintf(b, len, "%s", pick(4) ? "any" : "not any");
		break;
	case 20:
		snprintf(b, len, "%sport %s%s", pick(2) ? "src " : "dst ",
		    PICK(p_cmp), PICK(p_port));
		break;
	default:
		snprintf(b, len, "%s ip %s", pick(2) ? "src" : "dst",
		    PICK(p_v4));
		break;
	}
}

/* snprintf that fails the test instead of truncating */
static void
bprintf(char *b, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b, len, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < len);
}

static void
gen_expr(char *b, size_t len, int depth)
{
	char *l = xcalloc(len, 1), *r = xcalloc(len, 1);
	size_t c = depth >= 4 ? 0 : pick(10);

	if (c <= 3) {
		gen_term(b, len);
	} else if (c == 4) {
		gen_expr(l, len, depth + 1);
		bprintf(b, len, "%s%s", PICK(p_not), l);
	} else if (c == 5) {
		gen_expr(l, len, depth + 1);
		bprintf(b, len, "(%s)", l);
	} else {
		gen_expr(l, len, depth + 1);
		gen_expr(r, len, depth + 1);
		bprintf(b, len, "%s%s%s", l, c < 8 ? PICK(p_and) : PICK(p_or),
		    r);
	}
	free(l);
	free(r);
}

static void
gen_flow(store_flow_t *f, int v4only)
{
	const char *const *pool4 = p_v4;
	char a[64];

	memset(f, 0, sizeof(*f));
	for (int k = 0; k < 4; k++) {
		uint8_t *dst = k == 0 ? f->src : k == 1 ? f->dst : k == 2 ?
		    f->nexthop : f->exporter;

		if (v4only || pick(2)) {
			if (pick(3) == 0)
				snprintf(a, sizeof(a), "%u.%u.%u.%u",
				    (unsigned)pick(256), (unsigned)pick(256),
				    (unsigned)pick(256), (unsigned)pick(256));
			else
				snprintf(a, sizeof(a), "%s",
				    pool4[pick(FF_NELEM(p_v4))]);
		} else
			snprintf(a, sizeof(a), "%s", PICK(p_v6));
		parse_addr_or_die(a, dst);
	}
	if (!addr_is_v4(f->src) || !addr_is_v4(f->dst))
		f->flags |= STORE_FLOW_F_V6;
	f->bytes = strtoull(PICK(p_u64), NULL, 0);
	f->packets = rng() % 3 ? rng() % 2000 : rng();
	f->in_if = (uint32_t)strtoul(PICK(p_u32), NULL, 10);
	f->out_if = (uint32_t)strtoul(PICK(p_u32), NULL, 10);
	f->src_as = (uint32_t)strtoul(PICK(p_u32), NULL, 10);
	f->dst_as = (uint32_t)strtoul(PICK(p_u32), NULL, 10);
	f->tags = (uint32_t)rng();
	f->sport = (uint16_t)strtoul(PICK(p_port), NULL, 10);
	f->dport = pick(4) ? (uint16_t)strtoul(PICK(p_port), NULL, 10) :
	    (uint16_t)(pick(256) << 8 | pick(256));
	f->proto = (uint8_t)(pick(3) ? PICK(((const uint8_t[]){ 1, 6, 17,
	    58, 47 })) : pick(256));
	f->tcp_flags = (uint8_t)rng();
	f->tos = (uint8_t)strtoul(PICK(p_u8), NULL, 10);
	f->src_mask = (uint8_t)strtoul(PICK(p_u8), NULL, 10);
	f->dst_mask = (uint8_t)strtoul(PICK(p_u8), NULL, 10);
	f->sampling = 1;
}

static void
test_property(void **state)
{
	enum { NFILTERS = 3000, MAXROWS = 300 };
	store_flow_t *fl = xcalloc(MAXROWS, sizeof(*fl));
	uint8_t *a = xcalloc(MAXROWS, 1), *b = xcalloc(MAXROWS, 1);
	char text[8192], p1[32768], p2[32768];
	size_t any = 0, none = 0;

	(void)state;
	for (int it = 0; it < NFILTERS; it++) {
		query_filter_t *f, *g;
		size_t n = pick(MAXROWS + 1), sum = 0;
		int v4only = (int)pick(2);

		gen_expr(text, sizeof(text), 0);
		f = compile_ok(text);
		for (size_t i = 0; i < n; i++)
			gen_flow(&fl[i], v4only);
		/* eval (16-byte and IPv4 forms) == match, row by row */
		eval_all(f, text, fl, n, a);
		/* the normalized print is an equivalent filter */
		filter_print(f, p1, sizeof(p1));
		g = compile_ok(p1);
		filter_print(g, p2, sizeof(p2));
		if (strcmp(p1, p2) != 0)
			fail_msg("'%s': print '%s' reprints as '%s'", text, p1,
			    p2);
		eval_all(g, p1, fl, n, b);
		for (size_t i = 0; i < n; i++) {
			if (a[i] != b[i])
				fail_msg("'%s' and its print '%s' differ on "
				    "row %zu", text, p1, i);
			sum += a[i];
		}
		any += n > 0 && sum == n;
		none += sum == 0;
		filter_free(f);
		filter_free(g);
	}
	/* the generator makes both selective and unselective filters */
	assert_true(any > 100 && any < NFILTERS / 2);
	assert_true(none > 100 && none < NFILTERS / 2);
	free(fl);
	free(a);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_accept),
		cmocka_unit_test(test_print_truncation),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_error_buffer),
		cmocka_unit_test(test_semantics),
		cmocka_unit_test(test_columns),
		cmocka_unit_test(test_batch_sizes),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_property),
		cmocka_unit_test(test_nfdump_xcheck),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
