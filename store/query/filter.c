/*
 * The compiled form of a filter: the arena every piece of it lives in,
 * so that filter_free releases it at once and FILTER_MAX_MEM bounds it,
 * and its accessors.
 */
#include <stdlib.h>

#include "filter.h"

struct farena_chunk {
	struct farena_chunk *next;
	size_t size, used;
	_Alignas(16) unsigned char data[];
};

#define ARENA_CHUNK	4096

void *
filter_alloc(query_filter_t *f, size_t n)
{
	struct farena_chunk *c = f->chunks;
	size_t sz;

	n = (n + 15) & ~(size_t)15;
	if (n == 0)
		n = 16;
	if (c != NULL && c->size - c->used >= n) {
		void *p = c->data + c->used;

		c->used += n;
		return p;
	}
	sz = n > ARENA_CHUNK ? n : ARENA_CHUNK;
	if (n > FILTER_MAX_MEM ||
	    f->mem + sz + sizeof(*c) > FILTER_MAX_MEM) {
		f->over = 1;
		return NULL;
	}
	if ((c = malloc(sizeof(*c) + sz)) == NULL)
		return NULL;
	f->mem += sizeof(*c) + sz;
	c->size = sz;
	c->used = n;
	/* Keep a big one-off allocation from hiding the current chunk. */
	if (n > ARENA_CHUNK && f->chunks != NULL) {
		c->next = f->chunks->next;
		f->chunks->next = c;
	} else {
		c->next = f->chunks;
		f->chunks = c;
	}
	return c->data;
}

void
filter_free(query_filter_t *f)
{
	struct farena_chunk *c, *next;

	if (f == NULL)
		return;
	for (c = f->chunks; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(f);
}

uint32_t
filter_columns(const query_filter_t *f)
{
	return f->cols;
}

int
filter_is_any(const query_filter_t *f)
{
	return f->root->kind == FN_TRUE;
}

size_t
filter_scratch_words(const query_filter_t *f)
{
	return f->scratch;
}
