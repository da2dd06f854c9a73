/*
 * The arithmetic of TPUT, the exact distributed top N (Cao and Wang,
 * 2004), as the fan-out (dquery.c) runs it over the nodes' partial
 * results. Pure functions of results: the fan-out collects the nodes'
 * answers of a round and sends what these compute.
 *
 * With N the size of the top, "full" the merge of the complete partials
 * (nodes that sent every key; may be NULL) and m TPUT nodes:
 *
 *   round 2  tau1 = the N-th largest sum of full and the m nodes' first
 *            N keys (lower bounds); the threshold T = tau1 / m: every
 *            TPUT node sends each key whose value reaches T;
 *   round 3  tau2 = the N-th largest sum of full and those keys (lower
 *            bounds); a key's upper bound adds T - 1 for each TPUT node
 *            that did not send it; the candidates, whose upper bound
 *            reaches tau2, are looked up exactly at every TPUT node.
 *
 * Every key outside the candidates has a true sum below tau2, which is
 * at most the true N-th value: the N largest of the exact sums of the
 * candidates are the exact top N, ties included.
 */
#ifndef FF_CONTROLLER_TPUT_H
#define FF_CONTROLLER_TPUT_H

#include <stddef.h>
#include <stdint.h>

#include "store/query/query.h"

/* The value of row r that orders the top N (bytes, packets or flows). */
uint64_t tput_metric(const query_row_t *r, query_order_t o);

/*
 * Round 2's threshold: *tau1 and *T (T = 0 when m is 0) from full and
 * the m > 0 TPUT nodes' first N keys r1[0..m) of query q (N = n, ordered
 * by o). Returns 0 or FF_ENOMEM.
 */
int tput_threshold(const query_t *q, const query_result_t *full,
    const query_result_t *const *r1, size_t m, uint32_t n, query_order_t o,
    uint64_t *tau1, uint64_t *T);

/*
 * Round 3's candidates: from full and the m TPUT nodes' keys >= T
 * r2[0..m), sets *tau2 and a new array *cand of *ncand 16-byte keys
 * (caller frees; in answer order of the round-2 sums), and *nunion, the
 * number of different keys in full and r2 (every key there is, when
 * each r2 holds all its node's keys). Returns 0 or FF_ENOMEM.
 */
int tput_candidates(const query_t *q, const query_result_t *full,
    const query_result_t *const *r2, size_t m, uint64_t T, uint32_t n,
    query_order_t o, uint64_t *tau2, uint8_t (**cand)[16], size_t *ncand,
    uint64_t *nunion);

#endif
