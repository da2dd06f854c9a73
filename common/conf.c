/*
 * The configuration lexer, keyword dispatch, loader, and the value
 * handlers and printers both daemons share. See conf.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "util.h"
#include "conf.h"

struct conf {
	const struct conf_syntax *syn;
	const char *fname;
	int line;
	char *err;
	size_t errlen;
	int seen[CONF_MAX_KEYWORDS];	/* line of each keyword's first use */
};

/* ---- messages ---- */

static int
verr(conf_t *cf, int line, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	snprintf(cf->err, cf->errlen, "%s:%d: %s", cf->fname, line, msg);
	return FF_ESYNTAX;
}

int
conf_err(conf_t *cf, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = verr(cf, cf->line, fmt, ap);
	va_end(ap);
	return rc;
}

int
conf_err_at(conf_t *cf, int line, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = verr(cf, line, fmt, ap);
	va_end(ap);
	return rc;
}

int
conf_line(const conf_t *cf)
{
	return cf->line;
}

int
conf_seen(const conf_t *cf, const char *name)
{
	for (size_t i = 0; i < cf->syn->nkeywords; i++)
		if (strcmp(cf->syn->keywords[i].name, name) == 0)
			return cf->seen[i];
	return 0;
}

/* ---- lexer ---- */

/*
 * Split line (NUL-terminated, modified in place) into at most
 * CONF_MAX_WORDS words in av. Returns the number of words, or -1 after
 * reporting an error.
 */
static int
split_words(conf_t *cf, char *line, char **av)
{
	char *s = line, *w;
	int ac = 0;

	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '#')
			break;
		if (ac == CONF_MAX_WORDS)
			return conf_err(cf, "too many words on the line (at "
			    "most %d)", CONF_MAX_WORDS), -1;
		if (*s == '"') {
			/* Quoted word: unescape in place. */
			w = ++s;
			av[ac++] = w;
			for (;;) {
				if (*s == '\0')
					return conf_err(cf, "unterminated "
					    "quoted string"), -1;
				if (*s == '"')
					break;
				if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
					s++;
				*w++ = *s++;
			}
			s++;
			if (*s != '\0' && *s != ' ' && *s != '\t' && *s != '#')
				return conf_err(cf, "text right after a "
				    "closing quote"), -1;
			*w = '\0';
			continue;
		}
		av[ac++] = s;
		while (*s != '\0' && *s != ' ' && *s != '\t' && *s != '#') {
			if (*s == '"')
				return conf_err(cf, "quote in the middle of a "
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

/* Usage "a|b|c" in words, "a, b or c", into buf. */
static const char *
usage_words(const char *usage, char *buf, size_t len)
{
	const char *bar = strrchr(usage, '|');
	size_t o = 0;

	if (bar == NULL)
		return usage;
	for (const char *s = usage; *s != '\0' && o + 4 < len; s++) {
		if (s == bar) {
			memcpy(buf + o, " or ", 4);
			o += 4;
		} else if (*s == '|') {
			memcpy(buf + o, ", ", 2);
			o += 2;
		} else
			buf[o++] = *s;
	}
	buf[o] = '\0';
	return buf;
}

/* Dispatch one line to its keyword's handler. */
static int
parse_line(conf_t *cf, void *obj, char *line)
{
	const struct conf_syntax *syn = cf->syn;
	const struct conf_keyword *k = NULL;
	char *av[CONF_MAX_WORDS], ub[128];
	int ac;

	if ((ac = split_words(cf, line, av)) < 0)
		return FF_ESYNTAX;
	if (ac == 0)
		return 0;
	for (size_t i = 0; i < syn->nkeywords; i++)
		if (strcmp(av[0], syn->keywords[i].name) == 0) {
			k = &syn->keywords[i];
			if (cf->seen[i] && !(k->flags & CONF_MANY))
				return conf_err(cf, "%s is already set on line "
				    "%d", k->name, cf->seen[i]);
			if (cf->seen[i] == 0)
				cf->seen[i] = cf->line;
			break;
		}
	if (k == NULL)
		return conf_err(cf, "unknown keyword '%.64s'", av[0]);
	if (ac == 1)
		return conf_err(cf, "%s: missing argument (%s %s)", k->name,
		    k->name, k->usage);
	if (ac != 2 && !(k->flags & CONF_ARGS))
		return conf_err(cf, "%s takes one argument: %s", k->name,
		    usage_words(k->usage, ub, sizeof(ub)));
	return k->set(cf, k, obj, av + 1, ac - 1);
}

/* Run every line of buf through parse_line(). */
static int
parse_text(conf_t *cf, void *obj, const char *buf, size_t len)
{
	char line[CONF_MAX_LINE + 1];
	size_t pos = 0;
	int rc = 0;

	if (len > cf->syn->max_size)
		return conf_err_at(cf, 1, "file is larger than %zu bytes",
		    cf->syn->max_size);
	while (pos < len && rc == 0) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - buf) : len;
		size_t n = end - pos;

		cf->line++;
		if (n > 0 && buf[end - 1] == '\r')
			n--;
		if (n > CONF_MAX_LINE)
			return conf_err(cf, "line is longer than %d bytes",
			    CONF_MAX_LINE);
		memcpy(line, buf + pos, n);
		line[n] = '\0';
		if (strlen(line) != n)
			return conf_err(cf, "NUL byte in the line");
		for (size_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)line[i];

			if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
				return conf_err(cf, "control character 0x%02x "
				    "in the line", ch);
		}
		rc = parse_line(cf, obj, line);
		pos = end + 1;
	}
	return rc;
}

/* ---- parse, load, print ---- */

/*
 * Check what the generic handlers assume of their fields: a number of 4
 * or 8 bytes, an int, a char * (a wrong table is a bug: FF_EINVAL).
 */
static int
check_table(const struct conf_syntax *syn, char *err, size_t errlen)
{
	if (syn->nkeywords > CONF_MAX_KEYWORDS) {
		snprintf(err, errlen, "more than %d keywords",
		    CONF_MAX_KEYWORDS);
		return FF_EINVAL;
	}
	for (size_t i = 0; i < syn->nkeywords; i++) {
		const struct conf_keyword *k = &syn->keywords[i];
		size_t want = 0;

		if (k->set == conf_set_duration || k->set == conf_set_size ||
		    k->set == conf_set_count)
			want = k->size == sizeof(uint64_t) ? k->size :
			    sizeof(uint32_t);
		else if (k->set == conf_set_bool ||
		    k->set == conf_set_log_level)
			want = sizeof(int);
		else if (k->set == conf_set_name || k->set == conf_set_path ||
		    (k->flags & CONF_STR))
			want = sizeof(char *);
		if (want != 0 && k->size != want) {
			snprintf(err, errlen, "keyword %s: a field of %zu bytes "
			    "for its handler", k->name, k->size);
			return FF_EINVAL;
		}
	}
	return 0;
}

/* Apply the default of every keyword that has one, as line 0. */
static int
apply_defaults(conf_t *cf, void *obj)
{
	char arg[CONF_MAX_LINE + 1], *av[1] = { arg };
	int rc;

	for (size_t i = 0; i < cf->syn->nkeywords; i++) {
		const struct conf_keyword *k = &cf->syn->keywords[i];

		if (k->def == NULL)
			continue;
		snprintf(arg, sizeof(arg), "%s", k->def);
		if ((rc = k->set(cf, k, obj, av, 1)) != 0)
			return rc;
	}
	return 0;
}

int
conf_parse(const struct conf_syntax *syn, const char *fname,
    const char *buf, size_t len, void *out, char *err, size_t errlen)
{
	conf_t cf;
	void *obj;
	char *file;
	int rc;

	memset(&cf, 0, sizeof(cf));
	cf.syn = syn;
	cf.fname = fname ? fname : "(config)";
	cf.err = err;
	cf.errlen = errlen;
	if ((rc = check_table(syn, err, errlen)) != 0)
		return rc;
	if ((obj = calloc(1, syn->size)) == NULL ||
	    (file = strdup(cf.fname)) == NULL)
		rc = FF_ENOMEM;
	else {
		memcpy((char *)obj + syn->file_off, &file, sizeof(file));
		if ((rc = apply_defaults(&cf, obj)) == 0 &&
		    (rc = parse_text(&cf, obj, buf, len)) == 0 &&
		    syn->finish != NULL)
			rc = syn->finish(&cf, obj);
	}
	if (rc != 0) {
		if (rc == FF_ENOMEM)
			snprintf(err, errlen, "%s: out of memory", cf.fname);
		conf_free(syn, obj);
		return rc;
	}
	memcpy(out, &obj, sizeof(obj));	/* the caller's typed pointer */
	return 0;
}

int
conf_load(const struct conf_syntax *syn, const char *path, int missing_ok,
    void *out, char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t got = 0;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT && missing_ok)
			return conf_parse(syn, path, "", 0, out, err, errlen);
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return FF_EIO;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return FF_EIO;
	}
	if ((uint64_t)st.st_size > syn->max_size) {
		snprintf(err, errlen, "%s: file is larger than %zu bytes", path,
		    syn->max_size);
		close(fd);
		return FF_EIO;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return FF_ENOMEM;
	}
	/* Read what fstat promised, and notice if the file grew. */
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
	rc = conf_parse(syn, path, buf, got, out, err, errlen);
	free(buf);
	return rc;
}

void
conf_free(const struct conf_syntax *syn, void *obj)
{
	char *s;

	if (obj == NULL)
		return;
	if (syn->cleanup != NULL)
		syn->cleanup(obj);
	for (size_t i = 0; i < syn->nkeywords; i++) {
		const struct conf_keyword *k = &syn->keywords[i];

		if (!(k->flags & CONF_STR))
			continue;
		memcpy(&s, (char *)obj + k->off, sizeof(s));
		if (s != NULL && (k->flags & CONF_SECRET))
			explicit_bzero(s, strlen(s));
		free(s);
	}
	memcpy(&s, (char *)obj + syn->file_off, sizeof(s));
	free(s);
	free(obj);
}

int
conf_print(FILE *fp, const struct conf_syntax *syn, const void *obj)
{
	const char *file;

	memcpy(&file, (const char *)obj + syn->file_off, sizeof(file));
	fprintf(fp, "# %s, normalized\n", file);
	for (size_t i = 0; i < syn->nkeywords; i++)
		if (syn->keywords[i].print != NULL)
			syn->keywords[i].print(fp, &syn->keywords[i], obj);
	fflush(fp);
	return ferror(fp) ? FF_EIO : 0;
}

/* ---- fields ---- */

static void *
field(void *obj, const struct conf_keyword *k)
{
	return (char *)obj + k->off;
}

static const void *
cfield(const void *obj, const struct conf_keyword *k)
{
	return (const char *)obj + k->off;
}

/* Store v, in range for it, in the unsigned field of k (4 or 8 bytes). */
static void
put_num(void *obj, const struct conf_keyword *k, uint64_t v)
{
	uint32_t v32 = (uint32_t)v;

	if (k->size == sizeof(v))
		memcpy(field(obj, k), &v, sizeof(v));
	else
		memcpy(field(obj, k), &v32, sizeof(v32));
}

static uint64_t
get_num(const void *obj, const struct conf_keyword *k)
{
	uint64_t v;
	uint32_t v32;

	if (k->size == sizeof(v)) {
		memcpy(&v, cfield(obj, k), sizeof(v));
		return v;
	}
	memcpy(&v32, cfield(obj, k), sizeof(v32));
	return v32;
}

/* Replace the char * field of k by a copy of s. */
static int
put_str(void *obj, const struct conf_keyword *k, const char *s)
{
	char **dst = field(obj, k), *n;

	if ((n = strdup(s)) == NULL)
		return FF_ENOMEM;
	free(*dst);
	*dst = n;
	return 0;
}

/* ---- value handlers ---- */

typedef int parse_fn(const char *s, uint64_t *out);
typedef char *fmt_fn(uint64_t v, char *buf, size_t len);

/*
 * A number through parse in [k->min, k->max], or k->word. A bad value
 * is "KW: bad WHAT 'V' (HINT[, or WORD])" and one out of range "KW: V is
 * out of range (LO to HI[, or WORD])"; without a hint either is "KW: 'V'
 * is not a WHAT from LO to HI".
 */
static int
set_unit(conf_t *cf, const struct conf_keyword *k, void *obj,
    const char *s, const char *what, parse_fn *parse, fmt_fn *fmt)
{
	char lo[32], hi[32];
	const char *or = k->word ? ", or " : "", *w = k->word ? k->word : "";
	uint64_t v;
	int bad;

	if (k->word != NULL && strcmp(s, k->word) == 0) {
		put_num(obj, k, 0);
		return 0;
	}
	fmt(k->min, lo, sizeof(lo));
	fmt(k->max, hi, sizeof(hi));
	bad = parse(s, &v) != 0;
	if (k->hint == NULL && (bad || v < k->min || v > k->max))
		return conf_err(cf, "%s: '%.64s' is not a %s from %s to %s",
		    k->name, s, what, lo, hi);
	if (bad)
		return conf_err(cf, "%s: bad %s '%.64s' (%s%s%s)", k->name,
		    what, s, k->hint, or, w);
	if (v < k->min || v > k->max)
		return conf_err(cf, "%s: %.64s is out of range (%s to %s%s%s)",
		    k->name, s, lo, hi, or, w);
	put_num(obj, k, v);
	return 0;
}

int
conf_set_duration(conf_t *cf, const struct conf_keyword *k, void *obj,
    char **av, int ac)
{
	(void)ac;
	return set_unit(cf, k, obj, av[0], "duration", parse_duration_ms,
	    conf_fmt_duration);
}

int
conf_set_size(conf_t *cf, const struct conf_keyword *k, void *obj,
    char **av, int ac)
{
	(void)ac;
	return set_unit(cf, k, obj, av[0], "size", parse_size, conf_fmt_size);
}

int
conf_set_count(conf_t *cf, const struct conf_keyword *k, void *obj,
    char **av, int ac)
{
	uint64_t v;

	(void)ac;
	if (k->word != NULL && strcmp(av[0], k->word) == 0)
		v = 0;
	else if (conf_uint(av[0], k->min, k->max, &v) != 0)
		return conf_err(cf, "%s: '%.64s' is not a number from %" PRIu64
		    " to %" PRIu64, k->name, av[0], k->min, k->max);
	put_num(obj, k, v);
	return 0;
}

/* Which of words[0..n-1] s is, or -1. */
static int
word_index(const char *s, const char *const *words, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(s, words[i]) == 0)
			return i;
	return -1;
}

static const char *const bools[] = { "no", "yes" };
static const char *const levels[] = { "warn", "info", "debug" };
_Static_assert(LOG_LVL_WARN == 0 && LOG_LVL_INFO == 1 && LOG_LVL_DEBUG == 2,
    "levels[] is indexed by LOG_LVL_*");

int
conf_set_bool(conf_t *cf, const struct conf_keyword *k, void *obj,
    char **av, int ac)
{
	int v = word_index(av[0], bools, 2);

	(void)ac;
	if (v < 0)
		return conf_err(cf, "%s: expected yes or no, not '%.64s'",
		    k->name, av[0]);
	memcpy(field(obj, k), &v, sizeof(v));
	return 0;
}

int
conf_set_log_level(conf_t *cf, const struct conf_keyword *k, void *obj,
    char **av, int ac)
{
	int v = word_index(av[0], levels, (int)FF_NELEM(levels));

	(void)ac;
	if (v < 0)
		return conf_err(cf, "%s: expected warn, info or debug, not "
		    "'%.32s'", k->name, av[0]);
	memcpy(field(obj, k), &v, sizeof(v));
	return 0;
}

int
conf_set_name(conf_t *cf, const struct conf_keyword *k, void *obj,
    char **av, int ac)
{
	const char *s = av[0];
	size_t n = strlen(s);

	(void)ac;
	if (n == 0 || n > k->max || s[0] == '.' || s[0] == '-' ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") != n)
		return conf_err(cf, "%s: '%.64s' is not a valid name (1 to %"
		    PRIu64 " letters, digits, '.', '_' or '-', not starting "
		    "with '.' or '-')", k->name, s, k->max);
	return put_str(obj, k, s);
}

int
conf_set_path(conf_t *cf, const struct conf_keyword *k, void *obj,
    char **av, int ac)
{
	const char *s = av[0];
	char **dst = field(obj, k);
	int rc;

	(void)ac;
	if (s[0] != '/')
		return conf_err(cf, "%s must be an absolute path, not '%.80s'",
		    k->name, s);
	if (strlen(s) > k->max)
		return conf_err(cf, "%s is longer than %" PRIu64 " bytes",
		    k->name, k->max);
	if ((rc = put_str(obj, k, s)) != 0)
		return rc;
	for (size_t n = strlen(*dst); n > 1 && (*dst)[n - 1] == '/'; n--)
		(*dst)[n - 1] = '\0';
	return 0;
}

/* ---- value printers ---- */

/* "keyword VALUE\n", or "keyword WORD\n" for 0 when k has a word. */
static void
print_unit(FILE *fp, const struct conf_keyword *k, const void *obj,
    fmt_fn *fmt)
{
	char b[32];
	uint64_t v = get_num(obj, k);

	if (v == 0 && k->word != NULL)
		fprintf(fp, "%s %s\n", k->name, k->word);
	else
		fprintf(fp, "%s %s\n", k->name, fmt(v, b, sizeof(b)));
}

static char *
fmt_count(uint64_t v, char *buf, size_t len)
{
	snprintf(buf, len, "%" PRIu64, v);
	return buf;
}

void
conf_print_duration(FILE *fp, const struct conf_keyword *k,
    const void *obj)
{
	print_unit(fp, k, obj, conf_fmt_duration);
}

void
conf_print_size(FILE *fp, const struct conf_keyword *k, const void *obj)
{
	print_unit(fp, k, obj, conf_fmt_size);
}

void
conf_print_count(FILE *fp, const struct conf_keyword *k, const void *obj)
{
	print_unit(fp, k, obj, fmt_count);
}

void
conf_print_bool(FILE *fp, const struct conf_keyword *k, const void *obj)
{
	int v;

	memcpy(&v, cfield(obj, k), sizeof(v));
	fprintf(fp, "%s %s\n", k->name, v ? "yes" : "no");
}

void
conf_print_log_level(FILE *fp, const struct conf_keyword *k,
    const void *obj)
{
	int v;

	memcpy(&v, cfield(obj, k), sizeof(v));
	fprintf(fp, "%s %s\n", k->name, v >= 0 && v < (int)FF_NELEM(levels) ?
	    levels[v] : "info");
}

void
conf_print_str(FILE *fp, const struct conf_keyword *k, const void *obj)
{
	const char *const *s = cfield(obj, k);

	if (*s == NULL)
		return;
	fprintf(fp, "%s ", k->name);
	conf_print_word(fp, *s);
	fputc('\n', fp);
}

void
conf_print_word(FILE *fp, const char *s)
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

/* ---- values ---- */

int
conf_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	uint64_t v;

	if (*s == '\0' || strspn(s, "0123456789") != strlen(s) ||
	    strlen(s) > 19 || (v = strtoull(s, NULL, 10)) < lo || v > hi)
		return FF_EINVAL;
	*out = v;
	return 0;
}

char *
conf_fmt_duration(uint64_t ms, char *buf, size_t len)
{
	if (ms != 0 && ms % 86400000 == 0)
		snprintf(buf, len, "%" PRIu64 "d", ms / 86400000);
	else if (ms % 3600000 == 0)
		snprintf(buf, len, "%" PRIu64 "h", ms / 3600000);
	else if (ms % 60000 == 0)
		snprintf(buf, len, "%" PRIu64 "m", ms / 60000);
	else if (ms % 1000 == 0)
		snprintf(buf, len, "%" PRIu64 "s", ms / 1000);
	else
		snprintf(buf, len, "%" PRIu64 "ms", ms);
	return buf;
}

char *
conf_fmt_size(uint64_t v, char *buf, size_t len)
{
	if (v != 0 && v % (1024ull << 30) == 0)
		snprintf(buf, len, "%" PRIu64 "T", v >> 40);
	else if (v % (1024ull * 1024 * 1024) == 0)
		snprintf(buf, len, "%" PRIu64 "G", v >> 30);
	else if (v % (1024ull * 1024) == 0)
		snprintf(buf, len, "%" PRIu64 "M", v >> 20);
	else if (v % 1024 == 0)
		snprintf(buf, len, "%" PRIu64 "K", v >> 10);
	else
		snprintf(buf, len, "%" PRIu64, v);
	return buf;
}

/* ---- listen addresses ---- */

/* A decimal port 1..65535. */
static int
parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;

	if (*s == '\0')
		return FF_EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return FF_EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > 65535)
			return FF_EINVAL;
	}
	if (v == 0)
		return FF_EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/* host (NUL-terminated, no brackets) and port text into *sin6. */
static int
addr6(const char *host, const char *port, struct sockaddr_storage *ss,
    socklen_t *sslen, const char **why)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	uint16_t pnum;

	if (strchr(host, '%') != NULL) {
		*why = "scoped (zone) IPv6 addresses are not supported";
		return FF_EINVAL;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
		*why = "bad IPv6 address";
		return FF_EINVAL;
	}
	if (parse_port(port, &pnum) != 0) {
		*why = "bad port (1 to 65535)";
		return FF_EINVAL;
	}
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(pnum);
	*sslen = sizeof(*sin6);
	return 0;
}

int
conf_addr_parse(const char *s, struct sockaddr_storage *ss,
    socklen_t *sslen, const char **why)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	char host[INET6_ADDRSTRLEN + 8];
	const char *colon, *end;
	uint16_t pnum;
	size_t hlen;

	memset(ss, 0, sizeof(*ss));
	if (*s == '[') {
		if ((end = strchr(s, ']')) == NULL) {
			*why = "missing ']' after an IPv6 address";
			return FF_EINVAL;
		}
		if (end[1] != ':') {
			*why = "missing port (write [ADDRESS]:PORT)";
			return FF_EINVAL;
		}
		hlen = (size_t)(end - (s + 1));
		if (hlen == 0 || hlen >= sizeof(host)) {
			*why = "bad IPv6 address";
			return FF_EINVAL;
		}
		memcpy(host, s + 1, hlen);
		host[hlen] = '\0';
		return addr6(host, end + 2, ss, sslen, why);
	}
	if ((colon = strchr(s, ':')) == NULL) {
		*why = "missing port (write ADDRESS:PORT)";
		return FF_EINVAL;
	}
	if (strchr(colon + 1, ':') != NULL) {
		*why = "IPv6 addresses go in brackets: [ADDRESS]:PORT";
		return FF_EINVAL;
	}
	hlen = (size_t)(colon - s);
	if (hlen == 0 || hlen >= sizeof(host)) {
		*why = "bad IPv4 address";
		return FF_EINVAL;
	}
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
		*why = "bad IPv4 address";
		return FF_EINVAL;
	}
	if (parse_port(colon + 1, &pnum) != 0) {
		*why = "bad port (1 to 65535)";
		return FF_EINVAL;
	}
	sin->sin_family = AF_INET;
	sin->sin_port = htons(pnum);
	*sslen = sizeof(*sin);
	return 0;
}

int
conf_addr_same(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a;
		const struct sockaddr_in *y = (const struct sockaddr_in *)b;

		return x->sin_port == y->sin_port &&
		    x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a;
		const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)b;

		return x->sin6_port == y->sin6_port &&
		    memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	return 0;
}

char *
conf_addr_fmt(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(sin->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 =
		    (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(sin6->sin6_port));
	} else
		snprintf(buf, len, "?");
	return buf;
}
