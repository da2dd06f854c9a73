/*
 * The arithmetic of TPUT (see tput.h).
 */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "tput.h"

uint64_t
tput_metric(const query_row_t *r, query_order_t o)
{
	return o == QUERY_ORDER_PACKETS ? r->packets :
	    o == QUERY_ORDER_FLOWS ? r->flows : r->bytes;
}

/* The k-th largest value of r's order metric, 0 if r has fewer keys. */
static int
kth_value(const query_result_t *r, uint32_t k, query_order_t o,
    uint64_t *v)
{
	query_row_t *rows;
	size_t n;
	int rc;

	*v = 0;
	if ((rc = query_result_rows(r, k, &rows, &n)) != 0)
		return rc;
	if (n == k && k > 0)
		*v = tput_metric(&rows[k - 1], o);
	free(rows);
	return 0;
}

/* A new result of q holding full and every parts[0..m). */
static int
sum_of(const query_t *q, const query_result_t *full,
    const query_result_t *const *parts, size_t m, query_result_t **out)
{
	query_result_t *r;
	int rc = 0;

	if ((r = query_result_new(q)) == NULL)
		return FF_ENOMEM;
	if (full != NULL)
		rc = query_result_merge(r, full);
	for (size_t i = 0; rc == 0 && i < m; i++)
		rc = query_result_merge(r, parts[i]);
	if (rc != 0) {
		query_result_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

int
tput_threshold(const query_t *q, const query_result_t *full,
    const query_result_t *const *r1, size_t m, uint32_t n, query_order_t o,
    uint64_t *tau1, uint64_t *T)
{
	query_result_t *p1;
	int rc;

	*tau1 = *T = 0;
	if ((rc = sum_of(q, full, r1, m, &p1)) != 0)
		return rc;
	rc = kth_value(p1, n, o, tau1);
	query_result_free(p1);
	if (rc == 0 && m > 0)
		*T = *tau1 / m;
	return rc;
}

static int
key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

/* Sorted keys of r (caller frees). */
static int
sorted_keys(const query_result_t *r, uint8_t (**keys)[16], size_t *n)
{
	query_row_t *rows;
	int rc;

	*keys = NULL;
	if ((rc = query_result_rows(r, 0, &rows, n)) != 0)
		return rc;
	if ((*keys = malloc(*n ? *n * 16 : 1)) == NULL) {
		free(rows);
		return FF_ENOMEM;
	}
	for (size_t i = 0; i < *n; i++)
		memcpy((*keys)[i], rows[i].key, 16);
	free(rows);
	qsort(*keys, *n, 16, key_cmp);
	return 0;
}

int
tput_candidates(const query_t *q, const query_result_t *full,
    const query_result_t *const *r2, size_t m, uint64_t T, uint32_t n,
    query_order_t o, uint64_t *tau2, uint8_t (**cand)[16], size_t *ncand,
    uint64_t *nunion)
{
	query_result_t *p2 = NULL;
	query_row_t *rows = NULL;
	uint8_t (*c)[16] = NULL;
	uint8_t (**have)[16] = NULL;
	size_t *nhave = NULL, nrows = 0, k = 0;
	uint64_t slack = T > 0 ? T - 1 : 0;
	int rc;

	*tau2 = 0;
	*cand = NULL;
	*ncand = 0;
	*nunion = 0;
	if ((rc = sum_of(q, full, r2, m, &p2)) == 0 &&
	    ((have = calloc(m ? m : 1, sizeof(*have))) == NULL ||
	    (nhave = calloc(m ? m : 1, sizeof(*nhave))) == NULL))
		rc = FF_ENOMEM;
	for (size_t i = 0; rc == 0 && i < m; i++)
		rc = sorted_keys(r2[i], &have[i], &nhave[i]);
	if (rc == 0)
		rc = kth_value(p2, n, o, tau2);
	if (rc == 0)
		rc = query_result_rows(p2, 0, &rows, &nrows);
	if (rc == 0 && (c = malloc(nrows ? nrows * 16 : 1)) == NULL)
		rc = FF_ENOMEM;
	for (size_t r = 0; rc == 0 && r < nrows; r++) {
		uint64_t ub = tput_metric(&rows[r], o), add;
		size_t reported = 0;

		for (size_t i = 0; i < m; i++)
			if (bsearch(rows[r].key, have[i], nhave[i], 16,
			    key_cmp) != NULL)
				reported++;
		/* (m - reported) * slack <= m * T <= tau1: no overflow */
		add = (m - reported) * slack;
		ub = ub > UINT64_MAX - add ? UINT64_MAX : ub + add;
		if (ub >= *tau2)
			memcpy(c[k++], rows[r].key, 16);
	}
	for (size_t i = 0; have != NULL && i < m; i++)
		free(have[i]);
	free(have);
	free(nhave);
	free(rows);
	query_result_free(p2);
	if (rc != 0) {
		free(c);
		return rc;
	}
	*cand = c;
	*ncand = k;
	*nunion = nrows;
	return 0;
}
