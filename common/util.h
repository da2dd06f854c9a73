/*
 * Small helpers shared by every module: big-endian loads and stores, clocks,
 * address formatting. Header-only where it matters for speed.
 */
#ifndef FF_UTIL_H
#define FF_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FF_NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define FF_MIN(a, b) ((a) < (b) ? (a) : (b))
#define FF_MAX(a, b) ((a) > (b) ? (a) : (b))
/* An option left 0 takes its default. */
#define FF_DEFAULT(opt, def) do { if ((opt) == 0) (opt) = (def); } while (0)

static inline uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* Load an unsigned big-endian integer of 1..8 bytes. */
static inline uint64_t
beN(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static inline void
put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void
put_be64(uint8_t *p, uint64_t v)
{
	put_be32(p, (uint32_t)(v >> 32));
	put_be32(p + 4, (uint32_t)v);
}

/* Store an IPv4 address (network order bytes) as IPv4-mapped IPv6. */
static inline void
addr_from_v4(uint8_t dst[16], const uint8_t v4[4])
{
	static const uint8_t pfx[12] =
	    { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	memcpy(dst, pfx, 12);
	memcpy(dst + 12, v4, 4);
}

/* Return 1 if a 16-byte address is IPv4-mapped (::ffff:a.b.c.d). */
static inline int
addr_is_v4(const uint8_t a[16])
{
	static const uint8_t pfx[12] =
	    { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a, pfx, 12) == 0;
}

#define ADDR_STRLEN 48

/*
 * Format a 16-byte address into buf (at least ADDR_STRLEN bytes): dotted
 * quad for IPv4-mapped, RFC 5952 text otherwise. Returns buf.
 */
char *addr_fmt(const uint8_t a[16], char *buf, size_t len);

/*
 * Parse an IPv4 or IPv6 address text into 16-byte form. Returns 0 or
 * FF_EINVAL.
 */
int addr_parse(const char *s, uint8_t a[16]);

/* Convert a sockaddr (AF_INET/AF_INET6) to a 16-byte address and port. */
struct sockaddr;
void addr_from_sockaddr(const struct sockaddr *sa, uint8_t a[16],
    uint16_t *port);

/* Milliseconds since the epoch, UTC (CLOCK_REALTIME). */
uint64_t now_ms(void);
/* Monotonic milliseconds, for timeouts and rates. */
uint64_t mono_ms(void);
/* Monotonic nanoseconds, for benchmarks. */
uint64_t mono_ns(void);

/*
 * Format ms since the epoch as ISO 8601 UTC with milliseconds
 * ("2026-11-23T18:39:00.123Z"); buf needs 32 bytes. Returns buf.
 */
char *time_fmt_ms(uint64_t ms, char *buf, size_t len);

/*
 * Parse a size with an optional K/M/G suffix (powers of 1024) into *out.
 * Returns 0 or FF_EINVAL.
 */
int parse_size(const char *s, uint64_t *out);

/*
 * Parse a duration: a number with suffix ms, s, m, h, d (no suffix means
 * seconds) into milliseconds. Returns 0 or FF_EINVAL.
 */
int parse_duration_ms(const char *s, uint64_t *out);

/*
 * Format how long ago then was at now (both ms since the epoch) for
 * humans: "never" (then is 0), "now", "42s ago", "17m ago", "5h ago",
 * "3d ago". Returns buf.
 */
char *age_fmt(uint64_t now, uint64_t then, char *buf, size_t len);

/* Format a byte count for humans ("1.5 MiB") into buf. Returns buf. */
char *size_fmt(uint64_t v, char *buf, size_t len);

/* Format a count for humans: exact below 1000, else "3.4 M" (powers of
   1000). Returns buf. */
char *count_fmt(uint64_t v, char *buf, size_t len);

#endif
