/*
 * The per-exporter queue of NetFlow v9 / IPFIX data sets that arrived
 * before their template: a FIFO bounded in bytes (here) and in age (the
 * caller expires it).
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "template.h"

static size_t
held_size(const struct held *h)
{
	return sizeof(*h) + h->len;
}

/* Unlink and free the oldest held set. */
static void
hold_drop_head(struct nf9_state *s)
{
	struct held *h = s->hold_head;

	s->hold_head = h->next;
	if (s->hold_head == NULL)
		s->hold_tail = NULL;
	s->hold_bytes -= held_size(h);
	s->nheld--;
	free(h);
}

int
hold_push(struct nf9_state *s, size_t max_bytes, uint16_t set_id,
    const uint8_t *p, size_t len, uint64_t recv_ms, uint64_t export_ms,
    uint32_t sys_uptime)
{
	struct held *h;
	int dropped = 0;

	if (len > UINT16_MAX || sizeof(*h) + len > max_bytes)
		return FF_ELIMIT;
	while (s->hold_head != NULL &&
	    s->hold_bytes + sizeof(*h) + len > max_bytes) {
		hold_drop_head(s);
		dropped++;
	}
	if ((h = malloc(sizeof(*h) + len)) == NULL)
		return FF_ENOMEM;
	h->next = NULL;
	h->recv_ms = recv_ms;
	h->export_ms = export_ms;
	h->sys_uptime = sys_uptime;
	h->set_id = set_id;
	h->len = (uint16_t)len;
	memcpy(h->data, p, len);
	if (s->hold_tail != NULL)
		s->hold_tail->next = h;
	else
		s->hold_head = h;
	s->hold_tail = h;
	s->hold_bytes += held_size(h);
	s->nheld++;
	return dropped;
}

/* Detach the held sets for which match() is true, oldest first. */
static struct held *
hold_take_if(struct nf9_state *s, int (*match)(struct nf9_state *,
    const struct held *, uint16_t), uint16_t id)
{
	struct held *out = NULL, **tail = &out, **pp = &s->hold_head, *h;

	s->hold_tail = NULL;
	while ((h = *pp) != NULL) {
		if (match(s, h, id)) {
			*pp = h->next;
			s->hold_bytes -= held_size(h);
			s->nheld--;
			h->next = NULL;
			*tail = h;
			tail = &h->next;
		} else {
			s->hold_tail = h;
			pp = &h->next;
		}
	}
	return out;
}

static int
match_id(struct nf9_state *s, const struct held *h, uint16_t id)
{
	(void)s;
	return h->set_id == id;
}

static int
match_known(struct nf9_state *s, const struct held *h, uint16_t id)
{
	(void)id;
	return tpl_find(s, h->set_id) != NULL;
}

struct held *
hold_take(struct nf9_state *s, uint16_t id)
{
	if (s->hold_head == NULL)
		return NULL;
	return hold_take_if(s, match_id, id);
}

struct held *
hold_take_known(struct nf9_state *s)
{
	if (s->hold_head == NULL)
		return NULL;
	return hold_take_if(s, match_known, 0);
}

unsigned
hold_expire(struct nf9_state *s, uint64_t cutoff_ms)
{
	unsigned n = 0;

	/* FIFO: arrival times only grow, so expired sets are at the head */
	while (s->hold_head != NULL && s->hold_head->recv_ms < cutoff_ms) {
		hold_drop_head(s);
		n++;
	}
	return n;
}

unsigned
hold_clear(struct nf9_state *s)
{
	unsigned n = 0;

	while (s->hold_head != NULL) {
		hold_drop_head(s);
		n++;
	}
	return n;
}
