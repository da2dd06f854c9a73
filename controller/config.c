/*
 * Configuration parser for flowfleet-controller; see config.h and the
 * commented example deploy/flowfleet-controller.conf.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"
#include "common/util.h"
#include "wire/wire.h"
#include "config.h"

#define MAX_WORDS	8

struct parse {
	const char *fname;
	int line;
	struct controller_config *c;
	char *err;
	size_t errlen;
	int seen[16];		/* line of each keyword's first use */
};

struct keyword {
	const char *name;
	int (*fn)(struct parse *p, const struct keyword *k, char **av,
	    int ac);
	size_t off;		/* field, for durations */
	uint64_t min, max;	/* range, for durations */
	const char *usage;
};

static int perr(struct parse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
perr(struct parse *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "%s:%d: %s", p->fname, p->line, msg);
	return FF_ESYNTAX;
}

static void
fmt_duration(uint64_t ms, char *buf, size_t len)
{
	if (ms % 86400000 == 0)
		snprintf(buf, len, "%" PRIu64 "d", ms / 86400000);
	else if (ms % 3600000 == 0)
		snprintf(buf, len, "%" PRIu64 "h", ms / 3600000);
	else if (ms % 60000 == 0)
		snprintf(buf, len, "%" PRIu64 "m", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%" PRIu64 "s", ms / 1000);
	else
		snprintf(buf, len, "%" PRIu64 "ms", ms);
}

/* ---- keyword handlers ---- */

static int
set_path(struct parse *p, const char *kw, const char *v, char **dst)
{
	char *s;

	if (v[0] != '/')
		return perr(p, "%s must be an absolute path, not '%.80s'", kw,
		    v);
	if (strlen(v) > CTLCONF_MAX_PATH)
		return perr(p, "%s is longer than %d bytes", kw,
		    CTLCONF_MAX_PATH);
	if ((s = strdup(v)) == NULL)
		return FF_ENOMEM;
	for (size_t n = strlen(s); n > 1 && s[n - 1] == '/'; n--)
		s[n - 1] = '\0';
	free(*dst);
	*dst = s;
	return 0;
}

static int
kw_state_dir(struct parse *p, const struct keyword *k, char **av, int ac)
{
	if (ac != 1)
		return perr(p, "%s takes one argument: %s", k->name, k->usage);
	return set_path(p, k->name, av[0], &p->c->state_dir);
}

static int
kw_socket(struct parse *p, const struct keyword *k, char **av, int ac)
{
	size_t n = strlen(av[0]);

	if (ac != 1)
		return perr(p, "%s takes one argument: %s", k->name, k->usage);
	if (n > 0 && av[0][n - 1] == '/')
		return perr(p, "socket must name a file, not a directory");
	return set_path(p, k->name, av[0], &p->c->socket);
}

static int
kw_name(struct parse *p, const struct keyword *k, char **av, int ac)
{
	const char *s = av[0];
	size_t n = strlen(s);

	if (ac != 1)
		return perr(p, "%s takes one argument: %s", k->name, k->usage);
	if (n == 0 || n > CTLCONF_MAX_NAME || s[0] == '.' || s[0] == '-' ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") != n)
		return perr(p, "name: '%.64s' is not a valid name (1 to %d "
		    "letters, digits, '.', '_' or '-', not starting with '.' "
		    "or '-')", s, CTLCONF_MAX_NAME);
	free(p->c->name);
	if ((p->c->name = strdup(s)) == NULL)
		return FF_ENOMEM;
	return 0;
}

static int
kw_duration(struct parse *p, const struct keyword *k, char **av, int ac)
{
	uint64_t v;
	char lo[32], hi[32];

	if (ac != 1)
		return perr(p, "%s takes one argument: %s", k->name, k->usage);
	fmt_duration(k->min, lo, sizeof(lo));
	fmt_duration(k->max, hi, sizeof(hi));
	if (parse_duration_ms(av[0], &v) != 0)
		return perr(p, "%s: bad duration '%.64s' (a number with an "
		    "ms, s, m, h or d suffix)", k->name, av[0]);
	if (v < k->min || v > k->max)
		return perr(p, "%s: %.64s is out of range (%s to %s)", k->name,
		    av[0], lo, hi);
	*(uint64_t *)(void *)((char *)p->c + k->off) = v;
	return 0;
}

static int
kw_misses(struct parse *p, const struct keyword *k, char **av, int ac)
{
	char *end;
	unsigned long v;

	if (ac != 1)
		return perr(p, "%s takes one argument: %s", k->name, k->usage);
	errno = 0;
	v = strtoul(av[0], &end, 10);
	if (av[0][0] < '0' || av[0][0] > '9' || *end != '\0' || errno != 0 ||
	    v < 1 || v > CTLCONF_MISSES_MAX)
		return perr(p, "%s: expected a number from 1 to %d, not "
		    "'%.32s'", k->name, CTLCONF_MISSES_MAX, av[0]);
	p->c->ping_misses = (unsigned)v;
	return 0;
}

static int
kw_log_level(struct parse *p, const struct keyword *k, char **av, int ac)
{
	if (ac != 1)
		return perr(p, "%s takes one argument: %s", k->name, k->usage);
	if (strcmp(av[0], "warn") == 0)
		p->c->log_level = LOG_LVL_WARN;
	else if (strcmp(av[0], "info") == 0)
		p->c->log_level = LOG_LVL_INFO;
	else if (strcmp(av[0], "debug") == 0)
		p->c->log_level = LOG_LVL_DEBUG;
	else
		return perr(p, "log-level: expected warn, info or debug, not "
		    "'%.32s'", av[0]);
	return 0;
}

#define DUR(kw, field, lo, hi) \
	{ kw, kw_duration, offsetof(struct controller_config, field), lo, hi, \
	    "DURATION" }

static const struct keyword keywords[] = {
	{ "state-dir", kw_state_dir, 0, 0, 0, "PATH" },
	{ "socket", kw_socket, 0, 0, 0, "PATH" },
	{ "name", kw_name, 0, 0, 0, "NAME" },
	DUR("ping-interval", ping_interval_ms, CTLCONF_PING_MIN,
	    CTLCONF_PING_MAX),
	{ "ping-misses", kw_misses, 0, 0, 0, "COUNT" },
	DUR("status-interval", status_interval_ms, CTLCONF_STATUS_MIN,
	    CTLCONF_STATUS_MAX),
	DUR("clock-warn", clock_warn_ms, CTLCONF_CLOCK_MIN, CTLCONF_CLOCK_MAX),
	DUR("reconnect-min", reconnect_min_ms, CTLCONF_RECONNECT_MIN,
	    CTLCONF_RECONNECT_MAX),
	DUR("reconnect-max", reconnect_max_ms, CTLCONF_RECONNECT_MIN,
	    CTLCONF_RECONNECT_MAX),
	DUR("connect-timeout", connect_timeout_ms, CTLCONF_CONNECT_MIN,
	    CTLCONF_CONNECT_MAX),
	DUR("token-ttl", token_ttl_ms, WIRE_TOKEN_TTL_MIN, WIRE_TOKEN_TTL_MAX),
	DUR("flush-interval", flush_interval_ms, CTLCONF_FLUSH_MIN,
	    CTLCONF_FLUSH_MAX),
	DUR("query-timeout", query_timeout_ms, WIRE_QUERY_TIMEOUT_MIN,
	    WIRE_QUERY_TIMEOUT_MAX),
	{ "log-level", kw_log_level, 0, 0, 0, "warn|info|debug" },
};
_Static_assert(FF_NELEM(keywords) <= FF_NELEM(((struct parse *)0)->seen),
    "struct parse: seen[] is too small for the keyword table");

/* ---- lexer (the node's rules: blanks, quotes with \" and \\, #) ---- */

static int
split_words(struct parse *p, char *line, char **av)
{
	char *s = line, *w;
	int ac = 0;

	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '#')
			break;
		if (ac == MAX_WORDS)
			return perr(p, "too many words on the line (at most "
			    "%d)", MAX_WORDS), -1;
		if (*s == '"') {
			w = ++s;
			av[ac++] = w;
			for (;;) {
				if (*s == '\0')
					return perr(p, "unterminated quoted "
					    "string"), -1;
				if (*s == '"')
					break;
				if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
					s++;
				*w++ = *s++;
			}
			s++;
			if (*s != '\0' && *s != ' ' && *s != '\t' && *s != '#')
				return perr(p, "text right after a closing "
				    "quote"), -1;
			*w = '\0';
			continue;
		}
		av[ac++] = s;
		while (*s != '\0' && *s != ' ' && *s != '\t' && *s != '#') {
			if (*s == '"')
				return perr(p, "quote in the middle of a "
				    "word"), -1;
			s++;
		}
		if (*s == '#') {
			*s = '\0';
			break;
		}
		if (*s != '\0')
			*s++ = '\0';
	}
	return ac;
}

static int
parse_line(struct parse *p, char *line)
{
	char *av[MAX_WORDS];
	const struct keyword *k = NULL;
	int ac;

	if ((ac = split_words(p, line, av)) < 0)
		return FF_ESYNTAX;
	if (ac == 0)
		return 0;
	for (size_t i = 0; i < FF_NELEM(keywords); i++)
		if (strcmp(av[0], keywords[i].name) == 0) {
			k = &keywords[i];
			if (p->seen[i])
				return perr(p, "%s is already set on line %d",
				    k->name, p->seen[i]);
			p->seen[i] = p->line;
			break;
		}
	if (k == NULL)
		return perr(p, "unknown keyword '%.64s'", av[0]);
	if (ac == 1)
		return perr(p, "%s: missing argument (%s %s)", k->name,
		    k->name, k->usage);
	return k->fn(p, k, av + 1, ac - 1);
}

/* ---- parse, load, free, print ---- */

void
ctlconf_free(struct controller_config *c)
{
	if (c == NULL)
		return;
	free(c->file);
	free(c->state_dir);
	free(c->socket);
	free(c->name);
	free(c);
}

int
ctlconf_parse(const char *fname, const char *buf, size_t len,
    struct controller_config **out, char *err, size_t errlen)
{
	struct parse p;
	struct controller_config *c;
	char line[CTLCONF_MAX_LINE + 1];
	size_t pos = 0;
	int rc = 0;

	memset(&p, 0, sizeof(p));
	p.fname = fname ? fname : "(config)";
	p.err = err;
	p.errlen = errlen;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return FF_ENOMEM;
	p.c = c;
	c->ping_interval_ms = 2000;
	c->ping_misses = 3;
	c->status_interval_ms = 5000;
	c->clock_warn_ms = 1000;
	c->reconnect_min_ms = 500;
	c->reconnect_max_ms = 5000;
	c->connect_timeout_ms = 10000;
	c->token_ttl_ms = 86400000;
	c->flush_interval_ms = 30000;
	c->query_timeout_ms = 30000;
	c->log_level = LOG_LVL_INFO;
	if ((c->file = strdup(p.fname)) == NULL) {
		ctlconf_free(c);
		return FF_ENOMEM;
	}
	if (len > CTLCONF_MAX_SIZE) {
		p.line = 1;
		ctlconf_free(c);
		return perr(&p, "file is larger than %d bytes",
		    CTLCONF_MAX_SIZE);
	}
	while (pos < len && rc == 0) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - buf) : len;
		size_t n = end - pos;

		p.line++;
		if (n > 0 && buf[end - 1] == '\r')
			n--;
		if (n > CTLCONF_MAX_LINE) {
			rc = perr(&p, "line is longer than %d bytes",
			    CTLCONF_MAX_LINE);
			break;
		}
		memcpy(line, buf + pos, n);
		line[n] = '\0';
		for (size_t i = 0; i < n && rc == 0; i++)
			if (line[i] == '\0' || ((unsigned char)line[i] < 0x20 &&
			    line[i] != '\t') || line[i] == 0x7f)
				rc = perr(&p, "control character 0x%02x in the "
				    "line", (unsigned char)line[i]);
		if (rc == 0)
			rc = parse_line(&p, line);
		pos = end + 1;
	}
	if (rc == 0 && c->reconnect_max_ms < c->reconnect_min_ms) {
		/* report it on whichever of the two lines came last */
		p.line = 0;
		for (size_t i = 0; i < FF_NELEM(keywords); i++)
			if (strncmp(keywords[i].name, "reconnect-", 10) == 0 &&
			    p.seen[i] > p.line)
				p.line = p.seen[i];
		rc = perr(&p, "reconnect-max is shorter than reconnect-min");
	}
	if (rc == 0 && c->state_dir == NULL &&
	    (c->state_dir = strdup(CTLCONF_DEFAULT_STATE)) == NULL)
		rc = FF_ENOMEM;
	if (rc == 0 && c->socket == NULL &&
	    (c->socket = strdup(WIRE_CTL_SOCKET_DEFAULT)) == NULL)
		rc = FF_ENOMEM;
	if (rc != 0) {
		if (rc == FF_ENOMEM)
			snprintf(err, errlen, "%s: out of memory", p.fname);
		ctlconf_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int
ctlconf_load(const char *path, int missing_ok, struct controller_config **out,
    char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t got = 0;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT && missing_ok)
			return ctlconf_parse(path, "", 0, out, err, errlen);
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return FF_EIO;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > CTLCONF_MAX_SIZE) {
		snprintf(err, errlen, "%s: %s", path, S_ISREG(st.st_mode) ?
		    "file is too large" : "not a regular file");
		close(fd);
		return FF_EIO;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return FF_ENOMEM;
	}
	while (got <= (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size + 1 - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			free(buf);
			close(fd);
			return FF_EIO;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got > (size_t)st.st_size) {
		snprintf(err, errlen, "%s: file changed while being read",
		    path);
		free(buf);
		return FF_EIO;
	}
	rc = ctlconf_parse(path, buf, got, out, err, errlen);
	free(buf);
	return rc;
}

static void
print_word(FILE *fp, const char *s)
{
	if (*s != '\0' && strpbrk(s, " \t#\"\\") == NULL) {
		fputs(s, fp);
		return;
	}
	fputc('"', fp);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', fp);
		fputc(*s, fp);
	}
	fputc('"', fp);
}

int
ctlconf_print(FILE *fp, const struct controller_config *c)
{
	static const char *levels[] = { "warn", "info", "debug" };
	char b[32];

	fprintf(fp, "# %s, normalized\n", c->file);
	fputs("state-dir ", fp);
	print_word(fp, c->state_dir);
	fputs("\nsocket ", fp);
	print_word(fp, c->socket);
	fputc('\n', fp);
	if (c->name != NULL)
		fprintf(fp, "name %s\n", c->name);
	else
		fputs("# name: the host name\n", fp);
	for (size_t i = 0; i < FF_NELEM(keywords); i++) {
		if (keywords[i].fn != kw_duration)
			continue;
		fmt_duration(*(const uint64_t *)(const void *)((const char *)c +
		    keywords[i].off), b, sizeof(b));
		fprintf(fp, "%s %s\n", keywords[i].name, b);
	}
	fprintf(fp, "ping-misses %u\n", c->ping_misses);
	fprintf(fp, "log-level %s\n", c->log_level >= 0 &&
	    c->log_level < (int)FF_NELEM(levels) ? levels[c->log_level] :
	    "info");
	fflush(fp);
	return ferror(fp) ? FF_EIO : 0;
}
