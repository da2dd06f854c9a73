/*
 * NetFlow v9 / IPFIX per-exporter state, internal to the decoders:
 * the template cache and its compiled field programs (template.c), the
 * sampler table (template.c), the queue of data held until its template
 * arrives (hold.c), and template persistence (tplfile.c). nf9.c walks the
 * packets and runs the programs.
 *
 * Template memory is counted against one budget for the whole decoder
 * (decoder_opts_t tpl_max_bytes). When a new template would exceed it,
 * the templates of the least recently used exporters are evicted, an
 * exporter at a time; an exporter that sent data within
 * TPL_DATA_CREDIT_MS ranks as used that much later, so the templates of
 * exporters that send data outlive those of sources that send only
 * templates. The data path's part is one timestamp store per data set
 * (nf9_state used_ms); the order is worked out only when room is needed.
 */
#ifndef FF_NODE_TEMPLATE_H
#define FF_NODE_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

#include "decode_int.h"

#define TPL_MAX_FIELDS		1024	/* field specifiers per template */
#define TPL_MAX_PER_EXPORTER	1024	/* templates per exporter */
#define TPL_BUCKETS		64	/* hash buckets per exporter */
#define TPL_VARLEN		0xffff	/* field length: variable */
#define SAMPLER_MAX		256	/* sampler ids per exporter */
#define TPL_DATA_CREDIT_MS	3600000	/* see above: one hour */
#define TPL_RESCAN_MS		1000	/* after an eviction scan found no
					   room: refuse without a scan */

/*
 * Field program operations: where a field's value goes. Fields that no
 * operation uses are skipped by offset (fixed-length templates) or by a
 * skip operation (variable-length templates).
 */
enum tpl_opcode {
	OP_SKIP = 0,
	OP_BYTES,		/* f->bytes */
	OP_PACKETS,		/* f->packets */
	OP_PROTO,
	OP_TOS,
	OP_TCP_FLAGS,		/* low 8 bits */
	OP_SPORT,
	OP_DPORT,
	OP_SRC4,		/* IPv4 source (exactly 4 bytes) */
	OP_DST4,
	OP_SRC6,		/* IPv6 source (exactly 16 bytes) */
	OP_DST6,
	OP_SRC4_NZ,		/* ... written only when not zero: the */
	OP_DST4_NZ,		/* template carries both families */
	OP_SRC6_NZ,
	OP_DST6_NZ,
	OP_NH4,			/* next hop, IPv4 */
	OP_NH6,			/* next hop, IPv6 */
	OP_SRC_MASK,		/* written when not zero */
	OP_DST_MASK,
	OP_IN_IF,
	OP_OUT_IF,
	OP_SRC_AS,
	OP_DST_AS,
	OP_FIRST,		/* raw start time into rec.first */
	OP_LAST,		/* raw end time into rec.last */
	OP_ICMP_TC,		/* type * 256 + code */
	OP_ICMP_TYPE,
	OP_ICMP_CODE,
	OP_SYSINIT,		/* systemInitTimeMilliseconds */
	OP_SAMP_INTERVAL,	/* samplingInterval, samplerRandomInterval */
	OP_SAMP_PKT_INTERVAL,	/* samplingPacketInterval */
	OP_SAMP_PKT_SPACE,	/* samplingPacketSpace */
	OP_SAMP_SIZE,		/* samplingSize */
	OP_SAMP_POPULATION,	/* samplingPopulation */
	OP_SAMPLER_ID,		/* samplerId, selectorId */
	OP_SECTION,		/* a packet section (variable-length
				   templates only; see struct tpl) */
	OP_SRC_MASK6,		/* IPv6 prefix lengths: rec.*_mask6, taken */
	OP_DST_MASK6,		/* for IPv6 flows (TPL_F_MASK6) */
	OP_STA4,		/* staIPv4Address into src (TPL_F_STA) */
	OP_DIRECTION,		/* flowDirection into rec.direction */
	OP_MAX
};

/* How a template's start/end time field is encoded. */
enum tpl_timekind {
	TK_NONE = 0,
	TK_UPTIME,		/* ms of sysUptime (IE 21/22) */
	TK_SEC,			/* seconds since the epoch (150/151) */
	TK_MS,			/* ms since the epoch (152/153) */
	TK_NTP,			/* NTP 64-bit timestamp (154-157) */
	TK_DELTA_US		/* us before the export time (158/159) */
};

/* One step of a field program. */
struct tpl_op {
	uint16_t off;		/* offset in a fixed-length record */
	uint16_t len;		/* field length or TPL_VARLEN */
	uint8_t op;		/* enum tpl_opcode */
};

/* Template flags. */
#define TPL_F_OPTIONS	0x01	/* options template */
#define TPL_F_FIXED	0x02	/* every field has a fixed length */
#define TPL_F_ICMP_TC	0x04	/* has icmpTypeCode (32/139) */
#define TPL_F_ICMP_SEP	0x08	/* has icmpType/Code (176-179) */
#define TPL_F_RATE	0x10	/* records carry samplingInterval */
#define TPL_F_SAMPLER	0x20	/* records carry a sampler/selector id */
#define TPL_F_SYSINIT	0x40	/* records carry systemInitTime */
#define TPL_F_V6	0x80	/* has IPv6 source or destination */
#define TPL_F_PKT_RATE	0x100	/* records carry samplingPacketInterval */
#define TPL_F_POP_RATE	0x200	/* records carry samplingPopulation */
#define TPL_F_ANY_RATE	(TPL_F_RATE | TPL_F_PKT_RATE | TPL_F_POP_RATE)
#define TPL_F_STA	0x400	/* no source or destination address, but a
				   station address (staIPv4Address, 366):
				   the source, or for flowDirection egress
				   (61 = 1) the destination */
#define TPL_F_MASK6	0x800	/* has IPv6 prefix lengths (29/30) */
/*
 * The addresses the template's records lack: STORE_FLOW_F_NO_SRC,
 * _NO_DST, _NO_NH shifted left by 8 (TPL_ABSENT() gives them back). A
 * packet section or the station address may fill one in per record.
 */
#define TPL_F_NO_SRC	(STORE_FLOW_F_NO_SRC << 8)
#define TPL_F_NO_DST	(STORE_FLOW_F_NO_DST << 8)
#define TPL_F_NO_NH	(STORE_FLOW_F_NO_NH << 8)
#define TPL_ABSENT(t)	((uint8_t)(((t)->flags >> 8) & (STORE_FLOW_F_NO_SRC | \
			    STORE_FLOW_F_NO_DST | STORE_FLOW_F_NO_NH)))

/*
 * Flow fields a packet section fills in (struct tpl sect_fill): those the
 * template does not carry itself. SECT_F_COUNTERS: the template carries
 * neither a byte nor a packet counter, so the record reports the one
 * packet of the section (bytes = its IP length, packets = 1).
 */
#define SECT_F_SRC	0x01
#define SECT_F_DST	0x02
#define SECT_F_SPORT	0x04
#define SECT_F_DPORT	0x08
#define SECT_F_PROTO	0x10
#define SECT_F_TOS	0x20
#define SECT_F_TCP_FLAGS 0x40
#define SECT_F_COUNTERS	0x80

/* A template, compiled. */
struct tpl {
	struct tpl *next;	/* hash chain */
	uint16_t id;
	uint16_t flags;		/* TPL_F_* */
	uint8_t start_kind;	/* enum tpl_timekind */
	uint8_t end_kind;
	uint16_t nops;
	uint32_t rec_len;	/* fixed: record length; else minimum */
	struct tpl_op *ops;	/* nops steps, in record order */
	uint8_t *raw;		/* the template record as received */
	uint16_t raw_len;
	/*
	 * A packet section the records carry (dataLinkFrameSection 315,
	 * layer2packetSectionData 104, ipHeaderPacketSection 313,
	 * mplsPayloadPacketSection 317), parsed for the flow fields the
	 * template lacks. sect_link 0: none, else an enum pkt_link. In a
	 * fixed-length template the section is at sect_off, sect_len bytes;
	 * in a variable-length one it is the OP_SECTION step of ops.
	 */
	uint8_t sect_link;
	uint8_t sect_fill;	/* SECT_F_* */
	uint16_t sect_off;
	uint16_t sect_len;
};

/* Data set held while its template is missing. */
struct held {
	struct held *next;
	uint64_t recv_ms;	/* when it arrived */
	uint64_t export_ms;	/* its packet's export time */
	uint32_t sys_uptime;	/* its packet's sysUptime (v9) */
	uint16_t set_id;
	uint16_t len;		/* bytes of set body in data[] */
	uint8_t data[];
};

struct sampler {
	uint64_t id;
	uint32_t rate;
};

/* NetFlow v9 / IPFIX state of one exporter (struct exporter.proto). */
struct nf9_state {
	struct tpl *tbl[TPL_BUCKETS];
	unsigned ntpl;
	decoder_t *d;			/* owner: counts template memory */
	size_t tpl_bytes;		/* memory of this exporter's templates */
	uint64_t used_ms;		/* last data set received, 0: none */
	uint64_t tpl_ms;		/* last template installed/refreshed */
	struct tpl *last;		/* last template used */
	uint32_t default_rate;		/* 0: none announced */
	uint64_t sys_init_ms;		/* IPFIX systemInitTime, 0: unknown */
	struct sampler *samplers;
	unsigned nsamplers;
	unsigned last_sampler;		/* index of the last lookup hit */
	struct held *hold_head;
	struct held *hold_tail;
	size_t hold_bytes;
	unsigned nheld;
};

/*
 * Return e's v9/IPFIX state, creating it for decoder d; NULL when memory
 * is short.
 */
struct nf9_state *nf9_state_get(decoder_t *d, struct exporter *e);

/*
 * Free a state and everything it holds, taking its templates and held
 * data off its decoder's counts. Accepts NULL.
 */
void nf9_state_free(struct nf9_state *s);

/*
 * Memory of one template as the allocator takes it: the template, its
 * field program and its raw record, each with the allocator's block
 * overhead.
 */
size_t tpl_mem(const struct tpl *t);

/*
 * Rank of an exporter for eviction: the larger, the later it goes. The
 * time of its last template, or of its last data plus
 * TPL_DATA_CREDIT_MS, whichever is later.
 */
static inline uint64_t
tpl_rank(const struct nf9_state *s)
{
	uint64_t r = s->used_ms ? s->used_ms + TPL_DATA_CREDIT_MS : 0;

	return r > s->tpl_ms ? r : s->tpl_ms;
}

/* Find template id; NULL if unknown. */
static inline struct tpl *
tpl_find(struct nf9_state *s, uint16_t id)
{
	struct tpl *t = s->last;

	if (t != NULL && t->id == id)
		return t;
	for (t = s->tbl[id % TPL_BUCKETS]; t != NULL; t = t->next)
		if (t->id == id) {
			s->last = t;
			return t;
		}
	return NULL;
}

/* Results of tpl_record(). */
enum tpl_result {
	TPL_ADDED = 1,		/* new or changed template installed */
	TPL_REFRESHED,		/* identical to the installed one */
	TPL_WITHDRAWN,		/* one template withdrawn (IPFIX) */
	TPL_WITHDRAWN_ALL,	/* all (options) templates withdrawn */
	TPL_BAD,		/* malformed record; skip *used bytes */
	TPL_END,		/* only padding is left */
	TPL_REFUSED		/* well-formed, but no room in the memory
				   budget (counted); skip *used bytes */
};

/*
 * Parse one template record at p (avail bytes: the rest of the set) of a
 * template set (options = 0) or options template set (options = 1) of
 * NetFlow version 9 or 10, received at now_ms, and install, refresh or
 * withdraw the template in s. A new template that does not fit the
 * decoder's memory budget evicts the templates of exporters that rank
 * lower than s (tpl_rank()), or is refused when that would not make
 * room. On success *used is the record's length and *id its template
 * id. Returns an enum tpl_result, FF_EPROTO when the record is malformed
 * in a way that leaves the rest of the set unreadable, or FF_ENOMEM.
 */
int tpl_record(struct nf9_state *s, unsigned version, int options,
    const uint8_t *p, size_t avail, uint64_t now_ms, size_t *used,
    uint16_t *id);

/*
 * Visit every template of s in a stable order (bucket, then chain).
 * Returns the number visited.
 */
unsigned tpl_foreach(const struct nf9_state *s,
    void (*cb)(void *arg, const struct tpl *t), void *arg);

/*
 * Sampling rates. sampler_set() records rate for sampler id (has_id) or
 * as the exporter default; returns 1 if the table changed, 0 if not,
 * FF_ELIMIT when the table is full. sampler_rate() returns the rate of
 * sampler id, else the default, else 0.
 */
int sampler_set(struct nf9_state *s, int has_id, uint64_t id, uint32_t rate);
uint32_t sampler_rate(struct nf9_state *s, int has_id, uint64_t id);

/*
 * Hold queue (hold.c). hold_push() appends a copy of a data set body
 * (len bytes) and its packet's clock; it drops the oldest held sets to
 * stay within max_bytes and returns how many it dropped, or FF_ENOMEM /
 * FF_ELIMIT (the set alone exceeds max_bytes; not held). hold_take()
 * detaches the held sets for template id and returns them oldest first
 * (free each with free()). hold_take_known() does the same for every set
 * whose template now exists. hold_expire() drops sets received before
 * cutoff_ms and hold_clear() drops all; both return how many they dropped.
 */
int hold_push(struct nf9_state *s, size_t max_bytes, uint16_t set_id,
    const uint8_t *p, size_t len, uint64_t recv_ms, uint64_t export_ms,
    uint32_t sys_uptime);
struct held *hold_take(struct nf9_state *s, uint16_t id);
struct held *hold_take_known(struct nf9_state *s);
unsigned hold_expire(struct nf9_state *s, uint64_t cutoff_ms);
unsigned hold_clear(struct nf9_state *s);

/* NTP timestamp (seconds since 1900 << 32 | fraction) to ms since 1970. */
static inline uint64_t
ntp_to_ms(uint64_t v)
{
	uint64_t sec = v >> 32, frac = v & 0xffffffffu;

	if (sec < 2208988800u)
		return 0;
	return (sec - 2208988800u) * 1000 + ((frac * 1000) >> 32);
}

#endif
