/*
 * The code the column table (columns.def) generates for the storage: the
 * writer's row buffers (one array per column) and the rebuilding of a
 * flow record from a column batch.
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "storage.h"

int
colbuf_init(struct colbuf *b, size_t cap)
{
	memset(b, 0, sizeof(*b));
	if (cap == 0 || cap > STORE_BLOCK_ROWS_MAX)
		return FF_EINVAL;
	b->cap = cap;
#define STORE_COLUMN(id, name, type, rank, filter, list)		\
	if ((b->name = malloc(cap * sizeof(*b->name))) == NULL) {	\
		colbuf_free(b);						\
		return FF_ENOMEM;					\
	}
#include "store/columns.def"
#undef STORE_COLUMN
	return 0;
}

void
colbuf_free(struct colbuf *b)
{
#define STORE_COLUMN(id, name, type, rank, filter, list) free(b->name);
#include "store/columns.def"
#undef STORE_COLUMN
	memset(b, 0, sizeof(*b));
}

void
colbuf_add(struct colbuf *b, const store_flow_t *f)
{
	size_t i = b->n++;

#define STORE_COLUMN(id, name, type, rank, filter, list) \
	memcpy(&b->name[i], &f->name, sizeof(f->name));
#include "store/columns.def"
#undef STORE_COLUMN
}

/* The batch members of column `name` over the buffer's array. */
#define VIEW_U8(name)	cb->name = b->name;
#define VIEW_U16(name)	cb->name = b->name;
#define VIEW_U32(name)	cb->name = b->name;
#define VIEW_U64(name)	cb->name = b->name;
#define VIEW_ADDR(name)	cb->name##16 = (const uint8_t (*)[16])b->name;

void
colbuf_view(const struct colbuf *b, store_colbatch_t *cb)
{
	memset(cb, 0, sizeof(*cb));
	cb->n = b->n;
	cb->cols = STORE_COLS_ALL;
#define STORE_COLUMN(id, name, type, rank, filter, list) VIEW_##type(name)
#include "store/columns.def"
#undef STORE_COLUMN
}

/* Row i of column `name` of cb into the record f. */
#define ROW_U8(id, name)	f->name = cb->name[i];
#define ROW_U16(id, name)	f->name = cb->name[i];
#define ROW_U32(id, name)	f->name = cb->name[i];
#define ROW_U64(id, name)	f->name = cb->name[i];
#define ROW_ADDR(id, name) do {						\
	if (cb->v4 & STORE_COLBIT(STORE_COL_##id)) {			\
		put_be32(b, cb->name##4[i]);				\
		addr_from_v4(f->name, b);				\
	} else								\
		memcpy(f->name, cb->name##16[i], 16);			\
} while (0);

void
store_colbatch_row(const store_colbatch_t *cb, size_t i, store_flow_t *f)
{
	uint8_t b[4];

	memset(f, 0, sizeof(*f));
#define STORE_COLUMN(id, name, type, rank, filter, list) ROW_##type(id, name)
#include "store/columns.def"
#undef STORE_COLUMN
}
