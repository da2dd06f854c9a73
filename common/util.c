#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "err.h"
#include "util.h"

char *
addr_fmt(const uint8_t a[16], char *buf, size_t len)
{
	if (addr_is_v4(a))
		inet_ntop(AF_INET, a + 12, buf, (socklen_t)len);
	else
		inet_ntop(AF_INET6, a, buf, (socklen_t)len);
	return buf;
}

int
addr_parse(const char *s, uint8_t a[16])
{
	uint8_t v4[4];

	if (inet_pton(AF_INET, s, v4) == 1) {
		addr_from_v4(a, v4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, a) == 1)
		return 0;
	return FF_EINVAL;
}

void
addr_from_sockaddr(const struct sockaddr *sa, uint8_t a[16], uint16_t *port)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		addr_from_v4(a, (const uint8_t *)&sin->sin_addr);
		if (port)
			*port = ntohs(sin->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 =
		    (const struct sockaddr_in6 *)sa;

		memcpy(a, &sin6->sin6_addr, 16);
		if (port)
			*port = ntohs(sin6->sin6_port);
	} else {
		memset(a, 0, 16);
		if (port)
			*port = 0;
	}
}

uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

char *
time_fmt_ms(uint64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char tmp[24];

	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, len, "%" PRIu64, ms);
		return buf;
	}
	/* A year too long for tmp: strftime returns 0, tmp is undefined. */
	if (strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(buf, len, "%" PRIu64, ms);
		return buf;
	}
	snprintf(buf, len, "%s.%03uZ", tmp, (unsigned)(ms % 1000));
	return buf;
}

/*
 * A number with a unit: the decimal digits s starts with into *v, *end
 * past them. Returns 0, or FF_EINVAL when s does not start with a digit
 * or the number does not fit.
 */
static int
number_prefix(const char *s, unsigned long long *v, char **end)
{
	if (s == NULL || !isdigit((unsigned char)*s))
		return FF_EINVAL;
	errno = 0;
	*v = strtoull(s, end, 10);
	return errno != 0 ? FF_EINVAL : 0;
}

/* *out = v * mul, or FF_EINVAL when it does not fit. */
static int
scaled(unsigned long long v, uint64_t mul, uint64_t *out)
{
	if (v > UINT64_MAX / mul)
		return FF_EINVAL;
	*out = v * mul;
	return 0;
}

int
parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (number_prefix(s, &v, &end) != 0)
		return FF_EINVAL;
	switch (toupper((unsigned char)*end)) {
	case '\0':
		break;
	case 'K':
		mul = 1024ull;
		end++;
		break;
	case 'M':
		mul = 1024ull * 1024;
		end++;
		break;
	case 'G':
		mul = 1024ull * 1024 * 1024;
		end++;
		break;
	case 'T':
		mul = 1024ull * 1024 * 1024 * 1024;
		end++;
		break;
	default:
		return FF_EINVAL;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end != '\0')
		return FF_EINVAL;
	return scaled(v, mul, out);
}

int
parse_duration_ms(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul;

	if (number_prefix(s, &v, &end) != 0)
		return FF_EINVAL;
	if (strcmp(end, "ms") == 0)
		mul = 1;
	else if (*end == '\0' || strcmp(end, "s") == 0)
		mul = 1000;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		mul = 60 * 1000;
	else if (strcmp(end, "h") == 0)
		mul = 3600 * 1000;
	else if (strcmp(end, "d") == 0)
		mul = 86400ull * 1000;
	else if (strcmp(end, "w") == 0)
		mul = 7 * 86400ull * 1000;
	else
		return FF_EINVAL;
	return scaled(v, mul, out);
}

char *
age_fmt(uint64_t now, uint64_t then, char *buf, size_t len)
{
	uint64_t s;

	if (then == 0) {
		snprintf(buf, len, "never");
		return buf;
	}
	s = now > then ? (now - then) / 1000 : 0;
	if (s == 0)
		snprintf(buf, len, "now");
	else if (s < 120)
		snprintf(buf, len, "%" PRIu64 "s ago", s);
	else if (s < 7200)
		snprintf(buf, len, "%" PRIu64 "m ago", s / 60);
	else if (s < 172800)
		snprintf(buf, len, "%" PRIu64 "h ago", s / 3600);
	else
		snprintf(buf, len, "%" PRIu64 "d ago", s / 86400);
	return buf;
}

/*
 * v in units of base: "%.1f UNIT" once v reaches the next unit (at
 * limit, so that rounding never prints "1000.0"), else v itself and the
 * first unit.
 */
static char *
scaled_fmt(uint64_t v, double base, double limit, const char *const *units,
    size_t nunits, char *buf, size_t len)
{
	double d = (double)v;
	size_t u = 0;

	if ((double)v < base) {
		snprintf(buf, len, "%" PRIu64 "%s%s", v, units[0][0] ? " " :
		    "", units[0]);
		return buf;
	}
	while (d >= limit && u + 1 < nunits) {
		d /= base;
		u++;
	}
	snprintf(buf, len, "%.1f %s", d, units[u]);
	return buf;
}

char *
size_fmt(uint64_t v, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB",
	    "PiB" };

	return scaled_fmt(v, 1024, 1024, units, FF_NELEM(units), buf, len);
}

char *
count_fmt(uint64_t v, char *buf, size_t len)
{
	static const char *const units[] = { "", "K", "M", "G", "T", "P",
	    "E" };

	return scaled_fmt(v, 1000, 999.95, units, FF_NELEM(units), buf, len);
}
