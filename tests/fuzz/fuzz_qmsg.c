/*
 * libFuzzer target: the query requests, as the node reads a QUERY from
 * the controller (qengine_parse_query) and the controller a CTL_QUERY
 * from the CLI (dquery_parse_request). The input is one frame payload
 * (a msgpack [type, id, body]); a body that parses is compiled as a
 * query (query_compile: the filter parser), as both daemons do.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "controller/dquery.h"
#include "node/qengine.h"
#include "store/query/query.h"
#include "wire/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
compile(const query_spec_t *q)
{
	query_t *sq = NULL;
	char err[256];

	if (query_compile(q, &sq, err, sizeof(err)) == 0) {
		query_result_t *r = query_result_new(sq);

		query_result_free(r);
		query_free(sq);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char nfilter[QENGINE_FILTER_MAX], cfilter[DQUERY_FILTER_MAX];
	query_spec_t q;
	wire_msg_t m;
	char err[512], method[8];
	uint64_t qid, timeout;
	int mi;

	if (wire_msg_decode(data, size, &m) != 0)
		return 0;
	if (qengine_parse_query(&m.body, &q, nfilter, &qid, &mi, err,
	    sizeof(err)) == 0)
		compile(&q);
	if (dquery_parse_request(&m.body, 30000, &q, cfilter, method,
	    &timeout, err, sizeof(err)) == 0)
		compile(&q);
	wire_msg_free(&m);
	return 0;
}
