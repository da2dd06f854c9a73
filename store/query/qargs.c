/*
 * Query options on a command line, shared by `flowfleet-node query` and
 * `flowfleet query`: --since/--from/--to, --filter, --top/--by/--order,
 * --series, --list, --distinct, --json/--csv, --threads, --timeout,
 * --max-rows, --max-mem. Each command loops over its arguments itself
 * and hands the query options here, so that both spell and check them
 * the same way. And the points in time those options take.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/util.h"
#include "query.h"

enum qopt {
	Q_NONE = 0,
	Q_SINCE, Q_FROM, Q_TO, Q_FILTER, Q_TOP, Q_BY, Q_ORDER, Q_SERIES,
	Q_LIST, Q_DISTINCT, Q_JSON, Q_CSV, Q_THREADS, Q_TIMEOUT, Q_MAXROWS,
	Q_MAXMEM
};

static const struct {
	const char *name;
	enum qopt opt;
	int value;
} qopts[] = {
	{ "since", Q_SINCE, 1 },
	{ "from", Q_FROM, 1 },
	{ "to", Q_TO, 1 },
	{ "filter", Q_FILTER, 1 },
	{ "f", Q_FILTER, 1 },
	{ "top", Q_TOP, 1 },
	{ "by", Q_BY, 1 },
	{ "order", Q_ORDER, 1 },
	{ "series", Q_SERIES, 1 },
	{ "list", Q_LIST, 1 },
	{ "distinct", Q_DISTINCT, 1 },
	{ "json", Q_JSON, 0 },
	{ "csv", Q_CSV, 0 },
	{ "threads", Q_THREADS, 1 },
	{ "timeout", Q_TIMEOUT, 1 },
	{ "max-rows", Q_MAXROWS, 1 },
	{ "max-mem", Q_MAXMEM, 1 },
};

void
query_args_init(query_args_t *a)
{
	memset(a, 0, sizeof(*a));
	a->spec.kind = QUERY_TOTALS;
	a->spec.t1 = UINT64_MAX;
	a->spec.order = QUERY_ORDER_BYTES;
	a->spec.n = 10;
	a->fmt = QUERY_FMT_TABLE;
}

static enum qopt
lookup(const char *name, int *value)
{
	for (size_t i = 0; i < sizeof(qopts) / sizeof(qopts[0]); i++)
		if (strcmp(qopts[i].name, name) == 0) {
			*value = qopts[i].value;
			return qopts[i].opt;
		}
	return Q_NONE;
}

int
query_args_takes_value(const char *name)
{
	int value;

	return lookup(name, &value) == Q_NONE ? -1 : value;
}

static int
bad(char *err, size_t errlen, const char *name, const char *what,
    const char *val)
{
	snprintf(err, errlen, "--%s: %s: '%s'", name, what, val);
	return FF_EINVAL;
}

/* A decimal count in [min, max]. */
static int
count(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	uint64_t v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtoull(s, &end, 10);
	if (*end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
query_args_opt(query_args_t *a, const char *name, const char *val,
    char *err, size_t errlen)
{
	query_spec_t *q = &a->spec;
	int value;
	uint64_t v;

	switch (lookup(name, &value)) {
	case Q_NONE:
		return FF_ENOENT;
	case Q_SINCE:
		if (parse_duration_ms(val, &a->since) != 0)
			return bad(err, errlen, name, "bad duration", val);
		a->since_set = 1;
		return 0;
	case Q_FROM:
		if (query_time_parse(val, &a->from) != 0)
			return bad(err, errlen, name, "bad time", val);
		a->from_set = 1;
		return 0;
	case Q_TO:
		if (query_time_parse(val, &a->to) != 0)
			return bad(err, errlen, name, "bad time", val);
		a->to_set = 1;
		return 0;
	case Q_FILTER:
		q->filter = val;
		return 0;
	case Q_TOP:
		if (count(val, 1, QUERY_TOPN_MAX, &v) != 0)
			return bad(err, errlen, name, "wants 1 to 1000000",
			    val);
		q->n = (uint32_t)v;
		a->top_set = 1;
		return 0;
	case Q_BY:
		if (query_key_parse(val, &q->key, &q->prefix4,
		    &q->prefix6) != 0)
			return bad(err, errlen, name, "unknown key", val);
		a->by_set = 1;
		return 0;
	case Q_ORDER:
		if (query_order_parse(val, &q->order) != 0)
			return bad(err, errlen, name, "is bytes, packets or "
			    "flows", val);
		return 0;
	case Q_SERIES:
		if (parse_duration_ms(val, &q->step_ms) != 0 ||
		    q->step_ms == 0)
			return bad(err, errlen, name, "bad step", val);
		q->kind = QUERY_SERIES;
		a->kinds++;
		return 0;
	case Q_LIST:
		if (count(val, 1, QUERY_LIST_MAX, &v) != 0)
			return bad(err, errlen, name, "wants 1 to 1000000",
			    val);
		q->limit = (uint32_t)v;
		q->kind = QUERY_LIST;
		a->kinds++;
		return 0;
	case Q_DISTINCT:
		if (query_key_parse(val, &q->key, &q->prefix4,
		    &q->prefix6) != 0)
			return bad(err, errlen, name, "unknown key", val);
		q->kind = QUERY_DISTINCT;
		a->distinct_set = 1;
		a->kinds++;
		return 0;
	case Q_JSON:
		a->fmt = QUERY_FMT_JSON;
		return 0;
	case Q_CSV:
		a->fmt = QUERY_FMT_CSV;
		return 0;
	case Q_THREADS:
		if (count(val, 1, 256, &v) != 0)
			return bad(err, errlen, name, "wants 1 to 256", val);
		q->threads = (int)v;
		return 0;
	case Q_TIMEOUT:
		if (parse_duration_ms(val, &q->max_ms) != 0 || q->max_ms == 0)
			return bad(err, errlen, name, "bad duration", val);
		return 0;
	case Q_MAXROWS:
		if (count(val, 1, UINT64_MAX, &v) != 0)
			return bad(err, errlen, name, "bad row count", val);
		q->max_rows = v;
		return 0;
	case Q_MAXMEM:
		if (parse_size(val, &q->max_mem) != 0 || q->max_mem == 0)
			return bad(err, errlen, name, "bad size", val);
		return 0;
	}
	return FF_ENOENT;
}

int
query_args_finish(query_args_t *a, uint64_t now, char *err, size_t errlen)
{
	query_spec_t *q = &a->spec;

	if (a->top_set || a->by_set) {
		if (!a->by_set) {
			snprintf(err, errlen, "--top needs --by KEY");
			return FF_EINVAL;
		}
		if (a->distinct_set) {
			snprintf(err, errlen, "--by and --distinct both name "
			    "a key; use one");
			return FF_EINVAL;
		}
		q->kind = QUERY_TOPN;
		a->kinds++;
	}
	if (a->kinds > 1) {
		snprintf(err, errlen, "use one of --top/--by, --series, "
		    "--list, --distinct");
		return FF_EINVAL;
	}
	if (a->since_set && (a->from_set || a->to_set)) {
		snprintf(err, errlen, "use --since or --from/--to, not both");
		return FF_EINVAL;
	}
	if (a->since_set)
		q->t0 = now > a->since ? now - a->since : 0;
	if (a->from_set)
		q->t0 = a->from;
	if (a->to_set)
		q->t1 = a->to;
	if (q->t0 > q->t1) {
		snprintf(err, errlen, "the window ends before it starts");
		return FF_EINVAL;
	}
	return 0;
}

/* Round t down to a multiple of step. */
static uint64_t
floor_to(uint64_t t, uint64_t step)
{
	return t - t % step;
}

void
query_args_series_window(query_args_t *a, uint64_t now, int have_flows,
    uint64_t oldest_ms, uint64_t newest_ms)
{
	query_spec_t *q = &a->spec;
	uint64_t step = q->step_ms, end;

	if (q->kind != QUERY_SERIES || step == 0)
		return;
	if (a->since_set) {
		q->t0 = floor_to(now > a->since ? now - a->since : 0, step);
		end = now;
	} else {
		if (!a->from_set)
			q->t0 = floor_to(have_flows ? oldest_ms : now, step);
		end = have_flows ? newest_ms : q->t0;
	}
	if (a->to_set)
		q->t1 = a->to;
	else if (end < q->t0)
		q->t1 = q->t0 + step;
	else
		q->t1 = q->t0 + ((end - q->t0) / step + 1) * step;
}

/* Is name in the NULL-terminated list? */
static int
listed(const char *const *list, const char *name)
{
	for (; list != NULL && *list != NULL; list++)
		if (strcmp(*list, name) == 0)
			return 1;
	return 0;
}

int
query_args_next(query_args_iter_t *it, char *err, size_t errlen)
{
	const char *arg, *eq;
	int tv;

	if (it->i >= it->argc)
		return 0;
	arg = it->argv[it->i++];
	it->arg = arg;
	it->val = NULL;
	if (arg[0] != '-' || arg[1] == '\0') {
		snprintf(err, errlen, "unexpected argument '%s'", arg);
		return FF_EINVAL;
	}
	it->name = arg + (arg[1] == '-' ? 2 : 1);
	if ((eq = strchr(it->name, '=')) != NULL) {
		if ((size_t)(eq - it->name) >= sizeof(it->nbuf)) {
			snprintf(err, errlen, "unknown option '%s'", arg);
			return FF_EINVAL;
		}
		memcpy(it->nbuf, it->name, (size_t)(eq - it->name));
		it->nbuf[eq - it->name] = '\0';
		it->name = it->nbuf;
		it->val = eq + 1;
	}
	if (listed(it->valued, it->name))
		tv = 1;
	else if (listed(it->flags, it->name))
		tv = 0;
	else if ((tv = query_args_takes_value(it->name)) < 0) {
		snprintf(err, errlen, "unknown option '%s'", arg);
		return FF_EINVAL;
	}
	if (tv == 1 && it->val == NULL) {
		if (it->i >= it->argc) {
			snprintf(err, errlen, "%s needs a value", arg);
			return FF_EINVAL;
		}
		it->val = it->argv[it->i++];
	} else if (tv == 0 && it->val != NULL) {
		snprintf(err, errlen, "%s takes no value", arg);
		return FF_EINVAL;
	}
	return 1;
}

/* --- time parsing ---------------------------------------------------------- */

/* Exactly n digits at *p. */
static int
digits(const char **p, int n, int *v)
{
	int x = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -1;
		x = x * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*v = x;
	return 0;
}

int
query_time_parse(const char *s, uint64_t *ms)
{
	struct tm tm, chk;
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, zone = 0, off = 0;
	char dsep, tsep;
	time_t t;

	if (*p == '@') {
		char *end;
		unsigned long long v;

		if (!isdigit((unsigned char)p[1]))
			return FF_EINVAL;
		v = strtoull(p + 1, &end, 10);
		if (*end != '\0' || v > UINT64_MAX / 1000)
			return FF_EINVAL;
		*ms = v * 1000;
		return 0;
	}
	if (digits(&p, 4, &y) != 0 || (*p != '-' && *p != '/'))
		return FF_EINVAL;
	dsep = *p++;
	if (digits(&p, 2, &mo) != 0 || *p++ != dsep || digits(&p, 2, &d) != 0)
		return FF_EINVAL;
	/* nfdump: YYYY/MM/DD.hh:mm:ss; ISO: YYYY-MM-DD[T ]hh:mm:ss */
	tsep = dsep == '/' ? '.' : 'T';
	if (*p == tsep || (dsep == '-' && *p == ' ')) {
		p++;
		if (digits(&p, 2, &h) != 0)
			return FF_EINVAL;
		if (*p == ':') {
			p++;
			if (digits(&p, 2, &mi) != 0)
				return FF_EINVAL;
			if (*p == ':') {
				p++;
				if (digits(&p, 2, &sec) != 0)
					return FF_EINVAL;
				if (*p == '.' && dsep == '-') {
					int nd = 0;

					for (p++; isdigit((unsigned char)*p);
					    p++, nd++)
						if (nd < 3)
							frac = frac * 10 +
							    (*p - '0');
					if (nd == 0)
						return FF_EINVAL;
					for (; nd < 3; nd++)
						frac *= 10;
				}
			}
		} else if (dsep == '-')
			return FF_EINVAL;
	}
	if (dsep == '-' && *p != '\0') {
		int oh, om = 0, sign;

		if (*p == 'Z' || *p == 'z') {
			zone = 1;
			p++;
		} else if (*p == '+' || *p == '-') {
			sign = *p++ == '-' ? -1 : 1;
			if (digits(&p, 2, &oh) != 0)
				return FF_EINVAL;
			if (*p == ':')
				p++;
			if (*p != '\0' && digits(&p, 2, &om) != 0)
				return FF_EINVAL;
			if (oh > 23 || om > 59)
				return FF_EINVAL;
			zone = 1;
			off = sign * (oh * 3600 + om * 60);
		}
	}
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 59 || y < 1970)
		return FF_EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	tm.tm_isdst = -1;
	chk = tm;
	t = zone ? timegm(&tm) : mktime(&tm);
	/* A day the month does not have (April 31) moves the date. */
	if (t == (time_t)-1 || tm.tm_mday != chk.tm_mday ||
	    tm.tm_mon != chk.tm_mon)
		return FF_EINVAL;
	t -= off;
	if (t < 0)
		return FF_EINVAL;
	*ms = (uint64_t)t * 1000 + (uint64_t)frac;
	return 0;
}
