/*
 * Listed flows (QUERY_LIST): their total order and the merge of two
 * sorted listings.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/util.h"
#include "query_int.h"

/*
 * The fields of a flow by rank (columns.def): the order listings sort
 * by, and the order of a listed flow's fields on the wire (pack.c).
 */
const struct flow_field flow_fields[STORE_COL_COUNT] = {
#define STORE_COLUMN(id, name, type, rank, filter, list) \
	[rank] = { offsetof(store_flow_t, name), STORE_WIDTH_##type },
#include "store/columns.def"
#undef STORE_COLUMN
};

#define CMP(x, y) do { if ((x) != (y)) return (x) < (y) ? -1 : 1; } while (0)

/* Compare field width w (a number, or a 16-byte address) at x and y. */
#define CMP_LOAD(T, x, y) do {						\
	T u_, v_;							\
									\
	memcpy(&u_, (x), sizeof(T));					\
	memcpy(&v_, (y), sizeof(T));					\
	CMP(u_, v_);							\
} while (0)

int
flow_cmp(const store_flow_t *a, const store_flow_t *b)
{
	for (size_t r = 0; r < STORE_COL_COUNT; r++) {
		const uint8_t *x = (const uint8_t *)a + flow_fields[r].off;
		const uint8_t *y = (const uint8_t *)b + flow_fields[r].off;
		int c;

		switch (flow_fields[r].width) {
		case 1:
			CMP(*x, *y);
			break;
		case 2:
			CMP_LOAD(uint16_t, x, y);
			break;
		case 4:
			CMP_LOAD(uint32_t, x, y);
			break;
		case 8:
			CMP_LOAD(uint64_t, x, y);
			break;
		default:
			if ((c = memcmp(x, y, 16)) != 0)
				return c;
			break;
		}
	}
	return 0;
}

int
flows_merge(const store_flow_t *a, size_t na, const store_flow_t *b,
    size_t nb, size_t limit, memacct_t *ma, store_flow_t **out,
    size_t *nout)
{
	size_t n = na + nb, i = 0, j = 0, k = 0;
	store_flow_t *m;
	int err;

	if (n > limit)
		n = limit;
	*out = NULL;
	*nout = 0;
	if (n == 0)
		return 0;
	if (n > SIZE_MAX / sizeof(store_flow_t))
		return FF_ENOMEM;
	if ((err = mem_take(ma, n * sizeof(store_flow_t))) != 0)
		return err;
	if ((m = malloc(n * sizeof(store_flow_t))) == NULL) {
		mem_give(ma, n * sizeof(store_flow_t));
		return FF_ENOMEM;
	}
	while (k < n) {
		if (j >= nb || (i < na && flow_cmp(&a[i], &b[j]) <= 0))
			m[k++] = a[i++];
		else
			m[k++] = b[j++];
	}
	*out = m;
	*nout = n;
	return 0;
}
