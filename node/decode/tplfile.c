/*
 * Template persistence: decoder_templates_export() and
 * decoder_templates_import().
 *
 * Format (all integers big-endian):
 *
 *   header    "FFTPLSET" u16 format (1) u16 flags (0) u32 nexporters
 *   exporter  addr[16] u8 version (9|10) u8 0 u16 nsamplers u32 domain
 *             u64 sys_init_ms u32 default_rate u32 ntemplates
 *   sampler   u64 id u32 rate                       (nsamplers times)
 *   template  u8 options u8 0 u16 len, len bytes:   (ntemplates times)
 *             the template record as received on the wire
 *   trailer   BLAKE2b-256 (crypto_generichash) of everything before it
 *
 * Import checks the trailer first, then every count and length, and
 * installs each template through tpl_record(), the code path of a
 * template received from the network.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "common/err.h"
#include "common/util.h"
#include "template.h"

#define TPLF_MAGIC	"FFTPLSET"
#define TPLF_FORMAT	1
#define TPLF_HDR_LEN	16
#define TPLF_EXP_LEN	40
#define TPLF_SAMP_LEN	12
#define TPLF_TPL_HDR	4
#define TPLF_SUM_LEN	32

struct obuf {
	uint8_t *p;
	size_t len;
	size_t cap;
	int err;
};

static uint8_t *
ob_reserve(struct obuf *b, size_t n)
{
	uint8_t *np;
	size_t cap;

	if (b->err)
		return NULL;
	if (b->cap - b->len < n) {
		cap = b->cap ? b->cap : 4096;
		while (cap - b->len < n) {
			if (cap > SIZE_MAX / 2) {
				b->err = FF_ENOMEM;
				return NULL;
			}
			cap *= 2;
		}
		if ((np = realloc(b->p, cap)) == NULL) {
			b->err = FF_ENOMEM;
			return NULL;
		}
		b->p = np;
		b->cap = cap;
	}
	np = b->p + b->len;
	b->len += n;
	return np;
}

static void
put_tpl(void *arg, const struct tpl *t)
{
	struct obuf *b = arg;
	uint8_t *q;

	if ((q = ob_reserve(b, TPLF_TPL_HDR + t->raw_len)) == NULL)
		return;
	q[0] = (t->flags & TPL_F_OPTIONS) ? 1 : 0;
	q[1] = 0;
	put_be16(q + 2, t->raw_len);
	memcpy(q + TPLF_TPL_HDR, t->raw, t->raw_len);
}

static void
put_exporter(struct obuf *b, const struct exporter *e,
    const struct nf9_state *s)
{
	uint8_t *q;

	if ((q = ob_reserve(b, TPLF_EXP_LEN)) == NULL)
		return;
	memcpy(q, e->addr, 16);
	q[16] = e->version;
	q[17] = 0;
	put_be16(q + 18, (uint16_t)s->nsamplers);
	put_be32(q + 20, e->domain);
	put_be64(q + 24, s->sys_init_ms);
	put_be32(q + 32, s->default_rate);
	put_be32(q + 36, s->ntpl);
	for (unsigned i = 0; i < s->nsamplers; i++) {
		if ((q = ob_reserve(b, TPLF_SAMP_LEN)) == NULL)
			return;
		put_be64(q, s->samplers[i].id);
		put_be32(q + 8, s->samplers[i].rate);
	}
	tpl_foreach(s, put_tpl, b);
}

int
decoder_templates_export(decoder_t *d, uint8_t **buf, size_t *len)
{
	struct obuf b;
	uint32_t n = 0;
	uint8_t *q;

	*buf = NULL;
	*len = 0;
	if (sodium_init() < 0)
		return FF_ECRYPTO;
	memset(&b, 0, sizeof(b));
	if ((q = ob_reserve(&b, TPLF_HDR_LEN)) == NULL)
		return FF_ENOMEM;
	memcpy(q, TPLF_MAGIC, 8);
	put_be16(q + 8, TPLF_FORMAT);
	put_be16(q + 10, 0);
	for (size_t i = 0; i < d->nbuckets; i++)
		for (struct exporter *e = d->buckets[i]; e; e = e->hnext) {
			struct nf9_state *s = e->proto;

			/* never saved: exporters on probation (no template
			   and no data yet: a flood of made-up source ids) */
			if (s == NULL || !e->valid ||
			    (e->version != 9 && e->version != 10))
				continue;
			if (s->ntpl == 0 && s->nsamplers == 0 &&
			    s->default_rate == 0 && s->sys_init_ms == 0)
				continue;
			put_exporter(&b, e, s);
			n++;
		}
	if ((q = ob_reserve(&b, TPLF_SUM_LEN)) != NULL) {
		put_be32(b.p + 12, n);
		crypto_generichash(q, TPLF_SUM_LEN, b.p, b.len - TPLF_SUM_LEN,
		    NULL, 0);
	}
	if (b.err) {
		free(b.p);
		return b.err;
	}
	*buf = b.p;
	*len = b.len;
	d->templates_dirty = 0;
	return 0;
}

/* Load one exporter's record at p (avail bytes); *used is its length. */
static int
import_exporter(decoder_t *d, const uint8_t *p, size_t avail, size_t *used)
{
	struct exporter *e;
	struct nf9_state *s;
	unsigned version, nsamp;
	uint32_t ntpl, rate;
	size_t off;

	if (avail < TPLF_EXP_LEN)
		return FF_EPROTO;
	version = p[16];
	nsamp = be16(p + 18);
	rate = be32(p + 32);
	ntpl = be32(p + 36);
	if ((version != 9 && version != 10) || p[17] != 0 ||
	    nsamp > SAMPLER_MAX || ntpl > TPL_MAX_PER_EXPORTER ||
	    rate > d->opts.max_sampling ||
	    (size_t)nsamp * TPLF_SAMP_LEN > avail - TPLF_EXP_LEN)
		return FF_EPROTO;
	if ((e = exporter_get(d, p, NULL, version, be32(p + 20), 0)) == NULL)
		return FF_ELIMIT;
	if ((s = nf9_state_get(e)) == NULL)
		return FF_ENOMEM;
	/* it had sent templates: not to be evicted for a newcomer */
	exporter_valid(d, e);
	s->sys_init_ms = be64(p + 24);
	s->default_rate = rate;
	off = TPLF_EXP_LEN;
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

		if (avail - off < TPLF_TPL_HDR)
			return FF_EPROTO;
		tlen = be16(p + off + 2);
		if (p[off] > 1 || p[off + 1] != 0 || tlen == 0 ||
		    tlen > avail - off - TPLF_TPL_HDR)
			return FF_EPROTO;
		rc = tpl_record(s, version, p[off], p + off + TPLF_TPL_HDR,
		    tlen, &tused, &id);
		if (rc == FF_ENOMEM)
			return rc;
		if ((rc != TPL_ADDED && rc != TPL_REFRESHED) || tused != tlen)
			return FF_EPROTO;
		off += TPLF_TPL_HDR + tlen;
	}
	*used = off;
	return 0;
}

int
decoder_templates_import(decoder_t *d, const uint8_t *buf, size_t len)
{
	uint8_t sum[TPLF_SUM_LEN];
	uint32_t n;
	size_t off, body, per_source;
	int rc = 0;

	if (sodium_init() < 0)
		return FF_ECRYPTO;
	if (len < TPLF_HDR_LEN + TPLF_SUM_LEN)
		return FF_EPROTO;
	body = len - TPLF_SUM_LEN;
	crypto_generichash(sum, sizeof(sum), buf, body, NULL, 0);
	if (sodium_memcmp(sum, buf + body, sizeof(sum)) != 0)
		return FF_EPROTO;
	if (memcmp(buf, TPLF_MAGIC, 8) != 0)
		return FF_EPROTO;
	if (be16(buf + 8) != TPLF_FORMAT)
		return FF_EVERSION;
	if (be16(buf + 10) != 0)
		return FF_EPROTO;
	n = be32(buf + 12);
	off = TPLF_HDR_LEN;
	/* Saved exporters had sent templates: the share of a source
	   address bounds new exporters, not these (a lower
	   max_per_source than when they were saved must not make the
	   file look damaged). */
	per_source = d->opts.max_per_source;
	d->opts.max_per_source = SIZE_MAX;
	for (uint32_t i = 0; i < n; i++) {
		size_t used = 0;

		if ((rc = import_exporter(d, buf + off, body - off,
		    &used)) != 0)
			break;
		off += used;
	}
	d->opts.max_per_source = per_source;
	if (rc != 0)
		return rc;
	if (off != body)
		return FF_EPROTO;
	return 0;
}
