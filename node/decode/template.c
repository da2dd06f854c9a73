/*
 * NetFlow v9 (RFC 3954) and IPFIX (RFC 7011) templates: the per-exporter
 * template cache, the compilation of a template record into a field
 * program, and the sampler table.
 *
 * A field program lists, in record order, only the fields the flow record
 * needs, each with its offset (fixed-length templates) and length, so a
 * data record is decoded by one short loop. Choices that depend on which
 * fields a template has (octetDeltaCount over octetTotalCount, logical
 * over physical interfaces, the best time encoding, ...) are made here,
 * once, not per record.
 *
 * Memory: every template's memory (tpl_mem()) is counted in its exporter
 * (nf9_state tpl_bytes) and in the decoder (tst.bytes), against the
 * decoder's budget. Room for a new template is made by tpl_make_room():
 * one pass over the exporter table collects the exporters that rank
 * lower than the newcomer's (tpl_rank()), and evicts all templates of
 * the lowest ones until the total is an eighth below the budget, so that
 * a flood pays for one pass per eighth of the budget, not per template.
 * When the lower-ranked exporters do not hold enough, nothing is evicted
 * and the template is refused; for TPL_RESCAN_MS more, newcomers of no
 * higher rank are refused without a pass. tpl_floor keeps a rank no
 * exporter with templates is below, so newcomers ranking no higher than
 * every exporter are refused without a pass too.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "packet.h"
#include "template.h"

struct nf9_state *
nf9_state_get(decoder_t *d, struct exporter *e)
{
	struct nf9_state *s;

	if (e->proto == NULL && (s = calloc(1, sizeof(*s))) != NULL) {
		s->d = d;
		e->proto = s;
	}
	return e->proto;
}

/*
 * Memory of a heap block of n bytes as glibc's malloc takes it: an
 * 8-byte header, rounded up to 16 bytes, 32 at least.
 */
static size_t
block_mem(size_t n)
{
	size_t b = (n + 8 + 15) & ~(size_t)15;

	return b < 32 ? 32 : b;
}

size_t
tpl_mem(const struct tpl *t)
{
	size_t nops = t->nops ? t->nops : 1;

	return block_mem(sizeof(*t)) + block_mem(nops * sizeof(*t->ops)) +
	    block_mem(t->raw_len);
}

static void
tpl_free(struct tpl *t)
{
	if (t == NULL)
		return;
	free(t->ops);
	free(t->raw);
	free(t);
}

/* Count an installed template in s and its decoder. */
static void
tpl_count(struct nf9_state *s, const struct tpl *t)
{
	size_t m = tpl_mem(t);

	s->ntpl++;
	s->tpl_bytes += m;
	s->d->tst.bytes += m;
	s->d->tst.templates++;
}

/* Free a template of s that is no longer linked, uncounting it. */
static void
tpl_drop(struct nf9_state *s, struct tpl *t)
{
	size_t m = tpl_mem(t);

	s->ntpl--;
	s->tpl_bytes -= m;
	s->d->tst.bytes -= m;
	s->d->tst.templates--;
	tpl_free(t);
}

void
nf9_state_free(struct nf9_state *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < TPL_BUCKETS; i++) {
		struct tpl *t, *next;

		for (t = s->tbl[i]; t != NULL; t = next) {
			next = t->next;
			tpl_drop(s, t);
		}
	}
	s->d->held_total -= s->hold_bytes;
	hold_clear(s);
	free(s->samplers);
	free(s);
}

/* One field specifier of a template record. */
struct field {
	uint16_t type;
	uint16_t len;
	uint32_t pen;		/* enterprise number, 0 for IANA */
	int scope;
};

/* Bit set of the IANA elements (< 512) a template carries. */
struct ieset {
	uint64_t w[8];
};

static int
has(const struct ieset *s, unsigned ie)
{
	return ie < 512 && (s->w[ie >> 6] >> (ie & 63) & 1);
}

/* First element of list (0-terminated) that the template carries. */
static unsigned
first_of(const struct ieset *s, const unsigned *list)
{
	for (; *list != 0; list++)
		if (has(s, *list))
			return *list;
	return 0;
}

static const unsigned start_ies[] = { 152, 150, 154, 156, 158, 22, 0 };
static const unsigned end_ies[] = { 153, 151, 155, 157, 159, 21, 0 };

static uint8_t
time_kind(unsigned ie)
{
	switch (ie) {
	case 21:
	case 22:
		return TK_UPTIME;
	case 150:
	case 151:
		return TK_SEC;
	case 152:
	case 153:
		return TK_MS;
	case 154:
	case 155:
	case 156:
	case 157:
		return TK_NTP;
	case 158:
	case 159:
		return TK_DELTA_US;
	}
	return TK_NONE;
}

/*
 * The operation for an IANA element ie in a template that carries the
 * elements in set, given the bests already chosen.
 */
struct choice {
	unsigned bytes, packets, in_if, out_if, nh4, nh6, start, end;
	int both_af;
	int sta;		/* the station address stands for the
				   addresses the template lacks */
};

static uint8_t
field_op(unsigned ie, const struct choice *c)
{
	switch (ie) {
	case 1:
	case 85:
	case 23:
		return ie == c->bytes ? OP_BYTES : OP_SKIP;
	case 2:
	case 86:
	case 24:
		return ie == c->packets ? OP_PACKETS : OP_SKIP;
	case 4:
		return OP_PROTO;
	case 5:
		return OP_TOS;
	case 6:
		return OP_TCP_FLAGS;
	case 7:
		return OP_SPORT;
	case 11:
		return OP_DPORT;
	case 8:
		return c->both_af ? OP_SRC4_NZ : OP_SRC4;
	case 12:
		return c->both_af ? OP_DST4_NZ : OP_DST4;
	case 27:
		return c->both_af ? OP_SRC6_NZ : OP_SRC6;
	case 28:
		return c->both_af ? OP_DST6_NZ : OP_DST6;
	case 15:
	case 18:
		return ie == c->nh4 ? OP_NH4 : OP_SKIP;
	case 62:
	case 63:
		return ie == c->nh6 ? OP_NH6 : OP_SKIP;
	case 9:
		return OP_SRC_MASK;
	case 29:
		return OP_SRC_MASK6;
	case 13:
		return OP_DST_MASK;
	case 30:
		return OP_DST_MASK6;
	case 366:
		return c->sta ? OP_STA4 : OP_SKIP;
	case 61:
		return c->sta ? OP_DIRECTION : OP_SKIP;
	case 10:
	case 252:
		return ie == c->in_if ? OP_IN_IF : OP_SKIP;
	case 14:
	case 253:
		return ie == c->out_if ? OP_OUT_IF : OP_SKIP;
	case 16:
		return OP_SRC_AS;
	case 17:
		return OP_DST_AS;
	case 32:
	case 139:
		return OP_ICMP_TC;
	case 176:
	case 178:
		return OP_ICMP_TYPE;
	case 177:
	case 179:
		return OP_ICMP_CODE;
	case 160:
		return OP_SYSINIT;
	case 34:
	case 50:
		return OP_SAMP_INTERVAL;
	case 305:
		return OP_SAMP_PKT_INTERVAL;
	case 306:
		return OP_SAMP_PKT_SPACE;
	case 309:
		return OP_SAMP_SIZE;
	case 310:
		return OP_SAMP_POPULATION;
	case 48:
	case 302:
		return OP_SAMPLER_ID;
	}
	if (ie == c->start)
		return OP_FIRST;
	if (ie == c->end)
		return OP_LAST;
	return OP_SKIP;
}

/* Keep op only if the field length suits it. */
static uint8_t
op_fit(uint8_t op, unsigned len)
{
	switch (op) {
	case OP_SKIP:
		return OP_SKIP;
	case OP_SRC4:
	case OP_DST4:
	case OP_SRC4_NZ:
	case OP_DST4_NZ:
	case OP_NH4:
	case OP_STA4:
		return len == 4 ? op : OP_SKIP;
	case OP_SRC6:
	case OP_DST6:
	case OP_SRC6_NZ:
	case OP_DST6_NZ:
	case OP_NH6:
		return len == 16 ? op : OP_SKIP;
	default:
		/* integers, reduced-size encoding allowed */
		return len >= 1 && len <= 8 ? op : OP_SKIP;
	}
}

/*
 * The packet sections a record may carry, best first, with the link type
 * their bytes start at: a captured frame (dataLinkFrameSection, RFC 7133;
 * NetFlow v9's layer2packetSectionData, which IANA lists for IPFIX too),
 * the packet from its IP header on (ipHeaderPacketSection, RFC 5477), the
 * packet after its MPLS label stack (mplsPayloadPacketSection; IP is
 * taken by its version nibble, anything else is left alone).
 */
static const struct {
	uint16_t ie;
	uint8_t link;
} sections[] = {
	{ 315, PKT_LINK_ETHER },
	{ 104, PKT_LINK_ETHER },
	{ 313, PKT_LINK_RAW },
	{ 317, PKT_LINK_RAW },
};

/*
 * The index in fl of the packet section the template's records carry
 * (the best one, if several), or n when none; *link is its link type.
 */
static unsigned
section_field(const struct field *fl, unsigned n, uint8_t *link)
{
	unsigned best = n, rank = FF_NELEM(sections);

	for (unsigned i = 0; i < n; i++) {
		if (fl[i].pen != 0 || fl[i].scope || fl[i].len == 0)
			continue;
		for (unsigned j = 0; j < rank; j++)
			if (fl[i].type == sections[j].ie) {
				best = i;
				rank = j;
				*link = sections[j].link;
				break;
			}
	}
	return best;
}

_Static_assert(OP_MAX <= 64, "a uint64_t holds one bit per operation");

/* The SECT_F_* fields a section fills, given the operations carried. */
static uint8_t
section_fill(uint64_t carried)
{
	uint8_t fill = 0;

#define CARRIES(op)	(carried & (1ull << (op)))
	if (!CARRIES(OP_SRC4) && !CARRIES(OP_SRC6) &&
	    !CARRIES(OP_SRC4_NZ) && !CARRIES(OP_SRC6_NZ))
		fill |= SECT_F_SRC;
	if (!CARRIES(OP_DST4) && !CARRIES(OP_DST6) &&
	    !CARRIES(OP_DST4_NZ) && !CARRIES(OP_DST6_NZ))
		fill |= SECT_F_DST;
	if (!CARRIES(OP_SPORT))
		fill |= SECT_F_SPORT;
	if (!CARRIES(OP_DPORT))
		fill |= SECT_F_DPORT;
	if (!CARRIES(OP_PROTO))
		fill |= SECT_F_PROTO;
	if (!CARRIES(OP_TOS))
		fill |= SECT_F_TOS;
	if (!CARRIES(OP_TCP_FLAGS))
		fill |= SECT_F_TCP_FLAGS;
	if (!CARRIES(OP_BYTES) && !CARRIES(OP_PACKETS))
		fill |= SECT_F_COUNTERS;
#undef CARRIES
	return fill;
}

/*
 * Compile fields into t: ops, flags, record length. Returns 0, FF_EPROTO
 * (records would be empty or longer than any packet) or FF_ENOMEM.
 */
static int
tpl_compile(struct tpl *t, const struct field *fl, unsigned n, int options)
{
	struct ieset set;
	struct choice c;
	struct tpl_op *ops;
	unsigned nops = 0, i, sect;
	uint32_t off = 0, minlen = 0;
	uint64_t carried = 0;
	uint8_t sect_link = 0;
	int fixed = 1;

	memset(&set, 0, sizeof(set));
	for (i = 0; i < n; i++) {
		if (fl[i].pen != 0 || fl[i].type >= 512 || fl[i].scope)
			continue;
		if (fl[i].len == TPL_VARLEN)
			continue;
		set.w[fl[i].type >> 6] |= 1ull << (fl[i].type & 63);
	}
	for (i = 0; i < n; i++)
		if (fl[i].len == TPL_VARLEN)
			fixed = 0;

	memset(&c, 0, sizeof(c));
	c.bytes = first_of(&set, (const unsigned[]){ 1, 85, 23, 0 });
	c.packets = first_of(&set, (const unsigned[]){ 2, 86, 24, 0 });
	c.in_if = first_of(&set, (const unsigned[]){ 10, 252, 0 });
	c.out_if = first_of(&set, (const unsigned[]){ 14, 253, 0 });
	if (has(&set, 15) || has(&set, 62)) {
		c.nh4 = has(&set, 15) ? 15 : 0;
		c.nh6 = has(&set, 62) ? 62 : 0;
	} else {
		c.nh4 = has(&set, 18) ? 18 : 0;
		c.nh6 = has(&set, 63) ? 63 : 0;
	}
	c.start = first_of(&set, start_ies);
	c.end = first_of(&set, end_ies);
	c.both_af = (has(&set, 8) || has(&set, 12)) &&
	    (has(&set, 27) || has(&set, 28));
	c.sta = !has(&set, 8) && !has(&set, 12) && !has(&set, 27) &&
	    !has(&set, 28) && has(&set, 366);

	/* options records report no packets: their sections are skipped */
	sect = options ? n : section_field(fl, n, &sect_link);

	if ((ops = calloc(n ? n : 1, sizeof(*ops))) == NULL)
		return FF_ENOMEM;
	t->flags = 0;
	for (i = 0; i < n; i++) {
		const struct field *f = &fl[i];
		uint8_t op = OP_SKIP;

		if (i == sect)
			op = OP_SECTION;
		else if (f->pen == 0 && !f->scope && f->len != TPL_VARLEN)
			op = op_fit(field_op(f->type, &c), f->len);
		if (op != OP_SKIP && f->len > 0)
			carried |= 1ull << op;
		switch (op) {
		case OP_ICMP_TC:
			t->flags |= TPL_F_ICMP_TC;
			break;
		case OP_ICMP_TYPE:
		case OP_ICMP_CODE:
			t->flags |= TPL_F_ICMP_SEP;
			break;
		case OP_SAMP_INTERVAL:
			t->flags |= TPL_F_RATE;
			break;
		case OP_SAMP_PKT_INTERVAL:
			t->flags |= TPL_F_PKT_RATE;
			break;
		case OP_SAMP_POPULATION:
			t->flags |= TPL_F_POP_RATE;
			break;
		case OP_SAMPLER_ID:
			t->flags |= TPL_F_SAMPLER;
			break;
		case OP_SYSINIT:
			t->flags |= TPL_F_SYSINIT;
			break;
		case OP_STA4:
			t->flags |= TPL_F_STA;
			break;
		case OP_SRC_MASK6:
		case OP_DST_MASK6:
			t->flags |= TPL_F_MASK6;
			break;
		case OP_SRC6:
		case OP_DST6:
		case OP_SRC6_NZ:
		case OP_DST6_NZ:
			t->flags |= TPL_F_V6;
			break;
		case OP_FIRST:
			t->start_kind = time_kind(f->type);
			break;
		case OP_LAST:
			t->end_kind = time_kind(f->type);
			break;
		}
		if (fixed) {
			if (op == OP_SECTION) {
				/* not a step: located by offset per record */
				t->sect_off = (uint16_t)off;
				t->sect_len = f->len;
			} else if (op != OP_SKIP && f->len > 0) {
				ops[nops].off = (uint16_t)off;
				ops[nops].len = f->len;
				ops[nops].op = op;
				nops++;
			}
			off += f->len;
			if (off > 65535)
				goto toolong;
			continue;
		}
		/* variable-length: a step per field, adjacent skips merged */
		if (f->len == 0)
			continue;
		minlen += f->len == TPL_VARLEN ? 1 : f->len;
		if (minlen > 65535)
			goto toolong;
		if (op == OP_SKIP && f->len != TPL_VARLEN && nops > 0 &&
		    ops[nops - 1].op == OP_SKIP &&
		    ops[nops - 1].len != TPL_VARLEN &&
		    (uint32_t)ops[nops - 1].len + f->len < TPL_VARLEN) {
			ops[nops - 1].len += f->len;
			continue;
		}
		ops[nops].len = f->len;
		ops[nops].op = op;
		nops++;
	}
	if (fixed) {
		t->flags |= TPL_F_FIXED;
		t->rec_len = off;
	} else
		t->rec_len = minlen;
	if (options)
		t->flags |= TPL_F_OPTIONS;
#define CARRIES(op)	(carried & (1ull << (op)))
	if (!CARRIES(OP_SRC4) && !CARRIES(OP_SRC6) &&
	    !CARRIES(OP_SRC4_NZ) && !CARRIES(OP_SRC6_NZ))
		t->flags |= TPL_F_NO_SRC;
	if (!CARRIES(OP_DST4) && !CARRIES(OP_DST6) &&
	    !CARRIES(OP_DST4_NZ) && !CARRIES(OP_DST6_NZ))
		t->flags |= TPL_F_NO_DST;
	if (!CARRIES(OP_NH4) && !CARRIES(OP_NH6))
		t->flags |= TPL_F_NO_NH;
#undef CARRIES
	if (sect < n) {
		t->sect_link = sect_link;
		t->sect_fill = section_fill(carried);
	}
	if (t->rec_len == 0) {
		/* records of zero bytes: the set could never be walked */
		free(ops);
		return FF_EPROTO;
	}
	/* keep only the steps: most fields of a wide template are none */
	if (nops < n) {
		struct tpl_op *shrunk = realloc(ops, (nops ? nops : 1) *
		    sizeof(*ops));

		if (shrunk != NULL)
			ops = shrunk;
	}
	t->ops = ops;
	t->nops = (uint16_t)nops;
	return 0;
toolong:
	free(ops);
	return FF_EPROTO;
}

static void
tpl_unlink(struct nf9_state *s, uint16_t id)
{
	struct tpl **pp = &s->tbl[id % TPL_BUCKETS], *t;

	for (; (t = *pp) != NULL; pp = &t->next)
		if (t->id == id) {
			*pp = t->next;
			if (s->last == t)
				s->last = NULL;
			tpl_drop(s, t);
			return;
		}
}

/* Withdraw every template of one kind (options 0 or 1), or all (-1). */
static void
tpl_withdraw_all(struct nf9_state *s, int options)
{
	for (size_t i = 0; i < TPL_BUCKETS; i++) {
		struct tpl **pp = &s->tbl[i], *t;

		while ((t = *pp) != NULL) {
			if (options < 0 ||
			    !!(t->flags & TPL_F_OPTIONS) == !!options) {
				*pp = t->next;
				tpl_drop(s, t);
			} else
				pp = &t->next;
		}
	}
	s->last = NULL;
}

/* --- the memory budget ---------------------------------------------------- */

struct victim {
	uint64_t rank;
	struct exporter *e;
};

static int
victim_cmp(const void *x, const void *y)
{
	const struct victim *a = x, *b = y;

	return a->rank < b->rank ? -1 : a->rank > b->rank;
}

/*
 * Evict every template of exporter e; its state goes too when nothing
 * else is left in it (a source that only ever sent templates).
 */
static void
tpl_evict(struct exporter *e)
{
	struct nf9_state *s = e->proto;
	decoder_t *d = s->d;

	d->tst.evicted += s->ntpl;
	d->tst.evicted_exporters++;
	tpl_withdraw_all(s, -1);
	d->templates_dirty = 1;
	if (s->hold_head == NULL && s->nsamplers == 0 &&
	    s->default_rate == 0 && s->sys_init_ms == 0) {
		nf9_state_free(s);
		e->proto = NULL;
	}
}

/*
 * Make room for extra more bytes of templates in s's decoder by evicting
 * the templates of exporters that rank lower than s (s itself is not
 * touched). Returns 0, or FF_ELIMIT when that cannot make enough room
 * (then nothing was evicted), or FF_ENOMEM.
 */
static int
tpl_make_room(struct nf9_state *s, size_t extra)
{
	decoder_t *d = s->d;
	size_t budget = d->opts.tpl_max_bytes, low, avail = 0, n = 0, i;
	uint64_t rank = tpl_rank(s);
	struct victim *v;

	if (d->tst.bytes + extra <= budget)
		return 0;
	if (extra > budget || rank <= d->tpl_floor)
		return FF_ELIMIT;
	if ((v = calloc(d->nexporters ? d->nexporters : 1,
	    sizeof(*v))) == NULL)
		return FF_ENOMEM;
	for (i = 0; i < d->nbuckets; i++)
		for (struct exporter *e = d->buckets[i]; e; e = e->hnext) {
			struct nf9_state *o = e->proto;
			uint64_t r;

			if (o == NULL || o == s || o->ntpl == 0 || n ==
			    d->nexporters)
				continue;
			if ((r = tpl_rank(o)) >= rank)
				continue;
			v[n].rank = r;
			v[n++].e = e;
			avail += o->tpl_bytes;
		}
	if (d->tst.bytes - avail + extra > budget) {
		/* not enough below s: refuse, and its likes for a while */
		d->tpl_floor = rank + TPL_RESCAN_MS;
		free(v);
		return FF_ELIMIT;
	}
	qsort(v, n, sizeof(*v), victim_cmp);
	low = budget - budget / 8;
	for (i = 0; i < n && d->tst.bytes + extra > low; i++)
		tpl_evict(v[i].e);
	/* the rest of the exporters rank from here on */
	d->tpl_floor = i < n ? v[i].rank : rank;
	free(v);
	return 0;
}

/*
 * Read the field specifiers of a template record: n fields starting at q,
 * which must end by end. The first nscope are scope fields. Returns the
 * position after the last one, or NULL when they run past end.
 */
static const uint8_t *
read_fields(unsigned version, const uint8_t *q, const uint8_t *end,
    unsigned n, unsigned nscope, struct field *fl)
{
	for (unsigned i = 0; i < n; i++) {
		if (end - q < 4)
			return NULL;
		fl[i].type = be16(q);
		fl[i].len = be16(q + 2);
		fl[i].pen = 0;
		/* v9 scope types (system, interface, ...) are not IEs */
		fl[i].scope = version == 9 && i < nscope;
		q += 4;
		if (version == 10 && (fl[i].type & 0x8000)) {
			if (end - q < 4)
				return NULL;
			fl[i].type &= 0x7fff;
			fl[i].pen = be32(q);
			q += 4;
			/* an enterprise element never maps to a flow field */
			if (fl[i].pen == 0)
				fl[i].pen = 0xffffffffu;
		}
	}
	return q;
}

int
tpl_record(struct nf9_state *s, unsigned version, int options,
    const uint8_t *p, size_t avail, uint64_t now_ms, size_t *used,
    uint16_t *id)
{
	struct field *fl;
	const uint8_t *q, *end = p + avail;
	unsigned n, nscope = 0, hdr;
	uint16_t tid;
	struct tpl *t, *old;
	size_t m, m_old;
	int rc;

	*used = 0;
	if (avail < 4 || all_zero(p, avail))
		return TPL_END;
	tid = be16(p);
	*id = tid;
	if (version == 9) {
		if (!options) {
			n = be16(p + 2);
			hdr = 4;
		} else {
			unsigned slen, olen;

			if (avail < 6)
				return FF_EPROTO;
			slen = be16(p + 2);
			olen = be16(p + 4);
			if (slen % 4 != 0 || olen % 4 != 0)
				return FF_EPROTO;
			nscope = slen / 4;
			n = nscope + olen / 4;
			hdr = 6;
		}
		if (n == 0) {
			/* v9 has no withdrawal: an empty template is bad */
			*used = hdr;
			return TPL_BAD;
		}
	} else {
		n = be16(p + 2);
		if (n == 0) {
			*used = 4;
			if (tid == (options ? 3 : 2)) {
				tpl_withdraw_all(s, options);
				return TPL_WITHDRAWN_ALL;
			}
			if (tid < 256)
				return TPL_BAD;
			tpl_unlink(s, tid);
			return TPL_WITHDRAWN;
		}
		hdr = 4;
		if (options) {
			if (avail < 6)
				return FF_EPROTO;
			nscope = be16(p + 4);
			if (nscope > n)
				return FF_EPROTO;
			hdr = 6;
		}
	}
	/* bound the count before allocating: each field takes 4+ bytes */
	if (n > TPL_MAX_FIELDS || (size_t)n * 4 > avail - hdr)
		return FF_EPROTO;
	if ((fl = calloc(n, sizeof(*fl))) == NULL)
		return FF_ENOMEM;
	if ((q = read_fields(version, p + hdr, end, n, nscope, fl)) == NULL) {
		free(fl);
		return FF_EPROTO;
	}
	*used = (size_t)(q - p);
	if (tid < 256 || *used > 65535) {
		free(fl);
		return TPL_BAD;
	}
	if (now_ms > s->tpl_ms)
		s->tpl_ms = now_ms;
	old = tpl_find(s, tid);
	if (old != NULL && old->raw_len == *used &&
	    !!(old->flags & TPL_F_OPTIONS) == !!options &&
	    memcmp(old->raw, p, *used) == 0) {
		free(fl);
		return TPL_REFRESHED;
	}
	if (old == NULL && s->ntpl >= TPL_MAX_PER_EXPORTER) {
		free(fl);
		return TPL_BAD;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->raw = malloc(*used)) == NULL) {
		free(t);
		free(fl);
		return FF_ENOMEM;
	}
	t->id = tid;
	memcpy(t->raw, p, *used);
	t->raw_len = (uint16_t)*used;
	rc = tpl_compile(t, fl, n, options);
	free(fl);
	if (rc != 0) {
		tpl_free(t);
		return rc == FF_ENOMEM ? rc : TPL_BAD;
	}
	m = tpl_mem(t);
	m_old = old != NULL ? tpl_mem(old) : 0;
	if (m > m_old && (rc = tpl_make_room(s, m - m_old)) != 0) {
		tpl_free(t);
		if (rc == FF_ENOMEM)
			return rc;
		s->d->tst.refused++;
		return TPL_REFUSED;
	}
	if (old != NULL)
		tpl_unlink(s, tid);
	t->next = s->tbl[tid % TPL_BUCKETS];
	s->tbl[tid % TPL_BUCKETS] = t;
	tpl_count(s, t);
	/* a rank below the floor keeps the floor a floor */
	if (tpl_rank(s) < s->d->tpl_floor)
		s->d->tpl_floor = tpl_rank(s);
	return TPL_ADDED;
}

unsigned
tpl_foreach(const struct nf9_state *s,
    void (*cb)(void *arg, const struct tpl *t), void *arg)
{
	unsigned n = 0;

	for (size_t i = 0; i < TPL_BUCKETS; i++)
		for (const struct tpl *t = s->tbl[i]; t != NULL; t = t->next) {
			cb(arg, t);
			n++;
		}
	return n;
}

int
sampler_set(struct nf9_state *s, int has_id, uint64_t id, uint32_t rate)
{
	struct sampler *sp;

	if (!has_id) {
		if (s->default_rate == rate)
			return 0;
		s->default_rate = rate;
		return 1;
	}
	for (unsigned i = 0; i < s->nsamplers; i++)
		if (s->samplers[i].id == id) {
			if (s->samplers[i].rate == rate)
				return 0;
			s->samplers[i].rate = rate;
			return 1;
		}
	if (s->nsamplers >= SAMPLER_MAX)
		return FF_ELIMIT;
	/* grow by doubling, from 4 */
	if ((s->nsamplers & (s->nsamplers - 1)) == 0 && s->nsamplers >= 4) {
		sp = realloc(s->samplers, 2 * s->nsamplers * sizeof(*sp));
		if (sp == NULL)
			return FF_ENOMEM;
		s->samplers = sp;
	} else if (s->samplers == NULL) {
		if ((s->samplers = calloc(4, sizeof(*sp))) == NULL)
			return FF_ENOMEM;
	}
	s->samplers[s->nsamplers].id = id;
	s->samplers[s->nsamplers].rate = rate;
	s->nsamplers++;
	return 1;
}

uint32_t
sampler_rate(struct nf9_state *s, int has_id, uint64_t id)
{
	if (has_id && s->nsamplers > 0) {
		unsigned i = s->last_sampler;

		if (i < s->nsamplers && s->samplers[i].id == id)
			return s->samplers[i].rate;
		for (i = 0; i < s->nsamplers; i++)
			if (s->samplers[i].id == id) {
				s->last_sampler = i;
				return s->samplers[i].rate;
			}
	}
	return s->default_rate;
}
