/*
 * Template persistence: decoder_templates_snapshot(), _seal(), _export()
 * and _import().
 *
 * Format 2 (written; all integers big-endian):
 *
 *   header    "FFTPLSET" u16 format (2) u16 flags (0) u32 0
 *   records, each self-contained:
 *     u8 magic[4] "FFTR"
 *     u8 sum[16]  BLAKE2b-128 (crypto_generichash) of len and body
 *     u32 len     bytes of body, at most TPLF_BODY_MAX
 *     body        u8 type u8 version (9|10) u16 0 addr[16] u32 domain,
 *                 then by type:
 *       1 exporter  u64 last_seen_ms u64 used_ms u64 tpl_ms
 *                   u64 sys_init_ms u32 default_rate u16 nsamplers u16 0
 *                   nsamplers x (u64 id u32 rate)
 *       2 template  u8 options u8 0 u16 len, len bytes: the template
 *                   record as received on the wire
 *
 * An exporter's record comes before its templates' (its clock ranks
 * them against the memory budget as they load), but every record names
 * its exporter, so each loads alone. Import walks the records; a record
 * whose checksum or framing is wrong, or a run of bytes that is no
 * record, is skipped up to the next "FFTR" that starts an intact record
 * and counted once as damaged. The checksums are filled in by
 * decoder_templates_seal(), off the thread that took the snapshot.
 *
 * Format 1 (read only): the same header with format 1 and its
 * exporters as one block, checked whole by a BLAKE2b-256 trailer:
 *
 *   header    "FFTPLSET" u16 format (1) u16 flags (0) u32 nexporters
 *   exporter  addr[16] u8 version (9|10) u8 0 u16 nsamplers u32 domain
 *             u64 sys_init_ms u32 default_rate u32 ntemplates
 *   sampler   u64 id u32 rate                       (nsamplers times)
 *   template  u8 options u8 0 u16 len, len bytes:   (ntemplates times)
 *   trailer   BLAKE2b-256 of everything before it
 *
 * Either way each template is installed through tpl_record(), the code
 * path of a template received from the network.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/err.h"
#include "common/util.h"
#include "template.h"

#define TPLF_MAGIC	"FFTPLSET"
#define TPLF_FORMAT	2
#define TPLF_FORMAT_V1	1
#define TPLF_HDR_LEN	16

#define TPLF_REC_MAGIC	"FFTR"
#define TPLF_REC_SUM	16
#define TPLF_REC_HDR	24	/* magic, sum, len */
#define TPLF_KEY_LEN	24	/* type, version, 0, addr, domain */
#define TPLF_EXP_LEN	(TPLF_KEY_LEN + 40)
#define TPLF_SAMP_LEN	12
#define TPLF_TPL_LEN	(TPLF_KEY_LEN + 4)
#define TPLF_BODY_MAX	(TPLF_TPL_LEN + 65535)

#define REC_EXPORTER	1
#define REC_TEMPLATE	2

/* format 1 */
#define TPLF1_EXP_LEN	40
#define TPLF1_TPL_HDR	4
#define TPLF1_SUM_LEN	32

_Static_assert(TPLF_EXP_LEN + SAMPLER_MAX * TPLF_SAMP_LEN <= TPLF_BODY_MAX,
    "an exporter record fits the record limit");

/* --- snapshot --------------------------------------------------------------- */

/* Whether e has anything to save. */
static const struct nf9_state *
saved_state(const struct exporter *e)
{
	const struct nf9_state *s = e->proto;

	/* never saved: exporters on probation (no template and no data
	   yet: a flood of made-up source ids) */
	if (s == NULL || !e->valid || (e->version != 9 && e->version != 10))
		return NULL;
	if (s->ntpl == 0 && s->nsamplers == 0 && s->default_rate == 0 &&
	    s->sys_init_ms == 0)
		return NULL;
	return s;
}

/* Start a record of body length blen at q; returns where its body goes. */
static uint8_t *
put_rec(uint8_t *q, size_t blen, unsigned type, const struct exporter *e)
{
	memcpy(q, TPLF_REC_MAGIC, 4);
	memset(q + 4, 0, TPLF_REC_SUM);		/* seal() fills it in */
	put_be32(q + 20, (uint32_t)blen);
	q += TPLF_REC_HDR;
	q[0] = (uint8_t)type;
	q[1] = e->version;
	put_be16(q + 2, 0);
	memcpy(q + 4, e->addr, 16);
	put_be32(q + 20, e->domain);
	return q + TPLF_KEY_LEN;
}

struct fill {
	const struct exporter *e;
	uint8_t *q;
};

static void
put_tpl(void *arg, const struct tpl *t)
{
	struct fill *f = arg;
	uint8_t *q;

	q = put_rec(f->q, TPLF_TPL_LEN + t->raw_len, REC_TEMPLATE, f->e);
	q[0] = (t->flags & TPL_F_OPTIONS) ? 1 : 0;
	q[1] = 0;
	put_be16(q + 2, t->raw_len);
	memcpy(q + 4, t->raw, t->raw_len);
	f->q = q + 4 + t->raw_len;
}

static uint8_t *
put_exporter(uint8_t *q, const struct exporter *e,
    const struct nf9_state *s)
{
	struct fill f;

	q = put_rec(q, TPLF_EXP_LEN + s->nsamplers * TPLF_SAMP_LEN,
	    REC_EXPORTER, e);
	put_be64(q, e->st.last_seen_ms);
	put_be64(q + 8, s->used_ms);
	put_be64(q + 16, s->tpl_ms);
	put_be64(q + 24, s->sys_init_ms);
	put_be32(q + 32, s->default_rate);
	put_be16(q + 36, (uint16_t)s->nsamplers);
	put_be16(q + 38, 0);
	q += 40;
	for (unsigned i = 0; i < s->nsamplers; i++, q += TPLF_SAMP_LEN) {
		put_be64(q, s->samplers[i].id);
		put_be32(q + 8, s->samplers[i].rate);
	}
	f.e = e;
	f.q = q;
	tpl_foreach(s, put_tpl, &f);
	return f.q;
}

static void
add_tpl_len(void *arg, const struct tpl *t)
{
	*(size_t *)arg += TPLF_REC_HDR + TPLF_TPL_LEN + t->raw_len;
}

int
decoder_templates_snapshot(decoder_t *d, uint8_t **buf, size_t *len)
{
	const struct nf9_state *s;
	size_t total = TPLF_HDR_LEN;
	uint8_t *b, *q;

	*buf = NULL;
	*len = 0;
	/* size it first: one allocation, no doubling */
	for (size_t i = 0; i < d->nbuckets; i++)
		for (struct exporter *e = d->buckets[i]; e; e = e->hnext) {
			if ((s = saved_state(e)) == NULL)
				continue;
			total += TPLF_REC_HDR + TPLF_EXP_LEN +
			    s->nsamplers * TPLF_SAMP_LEN;
			tpl_foreach(s, add_tpl_len, &total);
		}
	if ((b = malloc(total)) == NULL)
		return FF_ENOMEM;
	memcpy(b, TPLF_MAGIC, 8);
	put_be16(b + 8, TPLF_FORMAT);
	put_be16(b + 10, 0);
	put_be32(b + 12, 0);
	q = b + TPLF_HDR_LEN;
	for (size_t i = 0; i < d->nbuckets; i++)
		for (struct exporter *e = d->buckets[i]; e; e = e->hnext)
			if ((s = saved_state(e)) != NULL)
				q = put_exporter(q, e, s);
	*buf = b;
	*len = (size_t)(q - b);
	d->templates_dirty = 0;
	return 0;
}

/* The checksum of the record at p, whose body is blen bytes. */
static void
rec_sum(const uint8_t *p, size_t blen, uint8_t sum[TPLF_REC_SUM])
{
	crypto_generichash(sum, TPLF_REC_SUM, p + 20, 4 + blen, NULL, 0);
}

void
decoder_templates_seal(uint8_t *buf, size_t len)
{
	size_t off = TPLF_HDR_LEN;

	if (sodium_init() < 0 || len < TPLF_HDR_LEN)
		return;		/* unsealed records load as damaged */
	while (len - off >= TPLF_REC_HDR) {
		size_t blen = be32(buf + off + 20);

		if (blen > len - off - TPLF_REC_HDR)
			break;
		rec_sum(buf + off, blen, buf + off + 4);
		off += TPLF_REC_HDR + blen;
	}
}

int
decoder_templates_export(decoder_t *d, uint8_t **buf, size_t *len)
{
	int rc;

	if (sodium_init() < 0)
		return FF_ECRYPTO;
	if ((rc = decoder_templates_snapshot(d, buf, len)) == 0)
		decoder_templates_seal(*buf, *len);
	return rc;
}

/* --- import, format 2 -------------------------------------------------- */

/*
 * The intact record at p (avail bytes)? Returns its length, or 0 when
 * it is no record or a damaged one.
 */
static size_t
rec_check(const uint8_t *p, size_t avail)
{
	uint8_t sum[TPLF_REC_SUM];
	size_t blen;

	if (avail < TPLF_REC_HDR || memcmp(p, TPLF_REC_MAGIC, 4) != 0)
		return 0;
	blen = be32(p + 20);
	if (blen < TPLF_KEY_LEN || blen > TPLF_BODY_MAX ||
	    blen > avail - TPLF_REC_HDR)
		return 0;
	rec_sum(p, blen, sum);
	if (sodium_memcmp(sum, p + 4, sizeof(sum)) != 0)
		return 0;
	return TPLF_REC_HDR + blen;
}

/* The exporter a record body names, with its state; NULL if none. */
static struct nf9_state *
rec_state(decoder_t *d, const uint8_t *b, uint64_t seen_ms)
{
	struct exporter *e;

	if (b[1] != 9 && b[1] != 10)
		return NULL;
	/* made at "time 0": its idle time counts from the first tick after
	   the load (a node that was down for a while must not expire the
	   exporters it saved), but it shows when it was last seen */
	if ((e = exporter_get(d, b + 4, NULL, b[1], be32(b + 20), 0)) ==
	    NULL)
		return NULL;
	if (seen_ms > e->st.last_seen_ms)
		e->st.last_seen_ms = seen_ms;
	/* it had sent templates: not to be evicted for a newcomer */
	exporter_valid(d, e);
	return nf9_state_get(d, e);
}

/*
 * Load an exporter record body (blen bytes). Returns 0, FF_EPROTO (its
 * content is wrong), FF_ELIMIT (no room for the exporter) or FF_ENOMEM.
 */
static int
load_exporter(decoder_t *d, const uint8_t *b, size_t blen)
{
	struct nf9_state *s;
	const uint8_t *q = b + TPLF_KEY_LEN;
	unsigned nsamp;
	uint32_t rate;
	uint64_t used, tpl;

	if (blen < TPLF_EXP_LEN)
		return FF_EPROTO;
	rate = be32(q + 32);
	nsamp = be16(q + 36);
	if (nsamp > SAMPLER_MAX || be16(q + 38) != 0 ||
	    blen != TPLF_EXP_LEN + (size_t)nsamp * TPLF_SAMP_LEN ||
	    rate > d->opts.max_sampling)
		return FF_EPROTO;
	for (unsigned i = 0; i < nsamp; i++) {
		uint32_t r = be32(q + 40 + i * TPLF_SAMP_LEN + 8);

		if (r == 0 || r > d->opts.max_sampling)
			return FF_EPROTO;
	}
	if (b[1] != 9 && b[1] != 10)
		return FF_EPROTO;
	if ((s = rec_state(d, b, be64(q))) == NULL)
		return d->nexporters >= d->opts.max_exporters ? FF_ELIMIT :
		    FF_ENOMEM;
	used = be64(q + 8);
	tpl = be64(q + 16);
	if (used > s->used_ms)
		s->used_ms = used;
	if (tpl > s->tpl_ms)
		s->tpl_ms = tpl;
	s->sys_init_ms = be64(q + 24);
	s->default_rate = rate;
	for (unsigned i = 0; i < nsamp; i++) {
		const uint8_t *sp = q + 40 + i * TPLF_SAMP_LEN;

		if (sampler_set(s, 1, be64(sp), be32(sp + 8)) == FF_ENOMEM)
			return FF_ENOMEM;
	}
	return 0;
}

/*
 * Load a template record body (blen bytes) of an exporter last seen at
 * seen_ms (0: unknown); returns as load_exporter().
 */
static int
load_template(decoder_t *d, const uint8_t *b, size_t blen, uint64_t seen_ms)
{
	struct nf9_state *s;
	const uint8_t *q = b + TPLF_KEY_LEN;
	size_t tlen, used;
	uint16_t id;
	int rc;

	if (blen < TPLF_TPL_LEN)
		return FF_EPROTO;
	tlen = be16(q + 2);
	if (q[0] > 1 || q[1] != 0 || tlen < 4 || blen != TPLF_TPL_LEN + tlen ||
	    (b[1] != 9 && b[1] != 10))
		return FF_EPROTO;
	/* an IPFIX record with no fields would withdraw: never written */
	if (b[1] == 10 && be16(q + 4 + 2) == 0)
		return FF_EPROTO;
	if ((s = rec_state(d, b, seen_ms)) == NULL)
		return d->nexporters >= d->opts.max_exporters ? FF_ELIMIT :
		    FF_ENOMEM;
	rc = tpl_record(s, b[1], q[0], q + 4, tlen, s->tpl_ms, &used, &id);
	if (rc == FF_ENOMEM)
		return rc;
	if (rc == TPL_REFUSED)
		return 0;		/* counted: no room in the budget */
	if ((rc != TPL_ADDED && rc != TPL_REFRESHED) || used != tlen)
		return FF_EPROTO;
	if (rc == TPL_ADDED)
		d->tst.loaded++;
	return 0;
}

/* The next "FFTR" in buf from off on, or len. */
static size_t
next_magic(const uint8_t *buf, size_t len, size_t off)
{
	const uint8_t *p;

	while (off + 4 <= len) {
		if ((p = memchr(buf + off, 'F', len - off - 3)) == NULL)
			break;
		off = (size_t)(p - buf);
		if (memcmp(p, TPLF_REC_MAGIC, 4) == 0)
			return off;
		off++;
	}
	return len;
}

/* Walk the records of buf from off on; returns the damaged parts. */
static int
import_records(decoder_t *d, const uint8_t *buf, size_t len, size_t off,
    unsigned *damaged)
{
	const uint8_t *exp = NULL;	/* the last exporter record's body */
	int in_damage = 0;

	while (off < len) {
		size_t rlen = rec_check(buf + off, len - off);
		const uint8_t *b = buf + off + TPLF_REC_HDR;
		int rc;

		if (rlen == 0) {
			/* skip to the next record that is intact */
			if (!in_damage)
				(*damaged)++;
			in_damage = 1;
			off = next_magic(buf, len, off + 1);
			continue;
		}
		in_damage = 0;
		switch (b[0]) {
		case REC_EXPORTER:
			rc = load_exporter(d, b, rlen - TPLF_REC_HDR);
			exp = rc == 0 ? b : NULL;
			break;
		case REC_TEMPLATE:
			/* its exporter's clock, when that record came just
			   before (the key: all but the type byte) */
			rc = load_template(d, b, rlen - TPLF_REC_HDR,
			    exp != NULL && memcmp(exp + 1, b + 1,
			    TPLF_KEY_LEN - 1) == 0 ?
			    be64(exp + TPLF_KEY_LEN) : 0);
			break;
		default:
			rc = FF_EPROTO;
		}
		if (rc == FF_ENOMEM)
			return rc;
		if (rc == FF_EPROTO)
			(*damaged)++;
		off += rlen;
	}
	return 0;
}

/* --- import, format 1 -------------------------------------------------- */

/* Load one exporter's block at p (avail bytes); *used is its length. */
static int
import_v1_exporter(decoder_t *d, const uint8_t *p, size_t avail,
    size_t *used)
{
	struct exporter *e;
	struct nf9_state *s;
	unsigned version, nsamp;
	uint32_t ntpl, rate;
	size_t off;

	if (avail < TPLF1_EXP_LEN)
		return FF_EPROTO;
	version = p[16];
	nsamp = be16(p + 18);
	rate = be32(p + 32);
	ntpl = be32(p + 36);
	if ((version != 9 && version != 10) || p[17] != 0 ||
	    nsamp > SAMPLER_MAX || ntpl > TPL_MAX_PER_EXPORTER ||
	    rate > d->opts.max_sampling ||
	    (size_t)nsamp * TPLF_SAMP_LEN > avail - TPLF1_EXP_LEN)
		return FF_EPROTO;
	if ((e = exporter_get(d, p, NULL, version, be32(p + 20), 0)) == NULL)
		return FF_ELIMIT;
	if ((s = nf9_state_get(d, e)) == NULL)
		return FF_ENOMEM;
	exporter_valid(d, e);
	s->sys_init_ms = be64(p + 24);
	s->default_rate = rate;
	off = TPLF1_EXP_LEN;
	for (unsigned i = 0; i < nsamp; i++, off += TPLF_SAMP_LEN) {
		uint32_t r = be32(p + off + 8);

		if (r == 0 || r > d->opts.max_sampling)
			return FF_EPROTO;
		if (sampler_set(s, 1, be64(p + off), r) < 0)
			return FF_EPROTO;
	}
	for (uint32_t i = 0; i < ntpl; i++) {
		size_t tlen, tused;
		uint16_t id;
		int rc;

		if (avail - off < TPLF1_TPL_HDR)
			return FF_EPROTO;
		tlen = be16(p + off + 2);
		if (p[off] > 1 || p[off + 1] != 0 || tlen == 0 ||
		    tlen > avail - off - TPLF1_TPL_HDR)
			return FF_EPROTO;
		rc = tpl_record(s, version, p[off], p + off + TPLF1_TPL_HDR,
		    tlen, 0, &tused, &id);
		if (rc == FF_ENOMEM)
			return rc;
		if (rc == TPL_ADDED)
			d->tst.loaded++;
		if ((rc != TPL_ADDED && rc != TPL_REFRESHED &&
		    rc != TPL_REFUSED) || tused != tlen)
			return FF_EPROTO;
		off += TPLF1_TPL_HDR + tlen;
	}
	*used = off;
	return 0;
}

static int
import_v1(decoder_t *d, const uint8_t *buf, size_t len)
{
	uint8_t sum[TPLF1_SUM_LEN];
	uint32_t n;
	size_t off, body;

	if (len < TPLF_HDR_LEN + TPLF1_SUM_LEN)
		return FF_EPROTO;
	body = len - TPLF1_SUM_LEN;
	crypto_generichash(sum, sizeof(sum), buf, body, NULL, 0);
	if (sodium_memcmp(sum, buf + body, sizeof(sum)) != 0)
		return FF_EPROTO;
	if (be16(buf + 10) != 0)
		return FF_EPROTO;
	n = be32(buf + 12);
	off = TPLF_HDR_LEN;
	for (uint32_t i = 0; i < n; i++) {
		size_t used = 0;
		int rc;

		if ((rc = import_v1_exporter(d, buf + off, body - off,
		    &used)) != 0)
			return rc;
		off += used;
	}
	if (off != body)
		return FF_EPROTO;
	return 0;
}

/* --- import -------------------------------------------------------------- */

int
decoder_templates_import(decoder_t *d, const uint8_t *buf, size_t len)
{
	unsigned damaged = 0;
	int dirty = d->templates_dirty, rc;
	size_t per_source = d->opts.max_per_source;

	if (sodium_init() < 0)
		return FF_ECRYPTO;
	/* Saved exporters had sent templates: the share of a source
	   address bounds new exporters, not these (a lower
	   max_per_source than when they were saved must not make the
	   file look damaged). */
	d->opts.max_per_source = SIZE_MAX;
	if (len >= TPLF_HDR_LEN && memcmp(buf, TPLF_MAGIC, 8) == 0 &&
	    be16(buf + 8) == TPLF_FORMAT_V1) {
		/* the old format: checked whole, loaded up to any damage */
		rc = import_v1(d, buf, len);
		if (rc == FF_EPROTO || rc == FF_ELIMIT) {
			damaged = 1;
			rc = 0;
		}
	} else if (len >= TPLF_HDR_LEN && memcmp(buf, TPLF_MAGIC, 8) == 0) {
		/* a damaged header spoils no record: each has its sum */
		if (be16(buf + 8) != TPLF_FORMAT || be16(buf + 10) != 0 ||
		    be32(buf + 12) != 0)
			damaged++;
		rc = import_records(d, buf, len, TPLF_HDR_LEN, &damaged);
	} else {
		/* no header (damaged, or cut short): records may follow */
		damaged++;
		rc = import_records(d, buf, len, next_magic(buf, len, 0),
		    &damaged);
	}
	d->opts.max_per_source = per_source;
	d->templates_dirty = dirty;	/* loaded, not changed */
	d->tst.load_damaged += damaged;
	if (rc != 0)
		return rc;
	return damaged ? FF_EPROTO : 0;
}
