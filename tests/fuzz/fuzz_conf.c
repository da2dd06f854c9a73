/*
 * libFuzzer target: the configuration language itself (common/conf.c),
 * through a keyword table of every generic kind plus a keyword that keeps
 * any words and one that keeps a listen address.
 *
 * The daemons' targets (fuzz_config, fuzz_controller_config) round-trip
 * their own values; this one checks what the lexer and the printers
 * promise for any text, else it aborts:
 *  - an error is FF_ESYNTAX with "fuzz.conf:LINE: ..." where LINE lies
 *    within the text, and no object;
 *  - the words of a line hold no NUL or control character but tabs, and
 *    there are at most CONF_MAX_WORDS of them;
 *  - every value lies in its range, and the normalized print parses back
 *    to the same words and values and prints the same again (quoting of
 *    any word, "none"/"auto", durations, sizes, addresses), unless
 *    quoting made a line longer than CONF_MAX_LINE, which is then the
 *    error.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/conf.h"
#include "common/err.h"
#include "tests/fuzz/conf_check.h"

#define FNAME	"fuzz.conf"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fconf {
	char *file;
	char *words[CONF_MAX_WORDS];
	int nwords;
	uint64_t dur, durb, size, sizeb, big;
	unsigned cnt;
	int flag, level;
	char *name, *path, *secret;
	struct sockaddr_storage addr;
	socklen_t addrlen;
};

static int
set_words(conf_t *cf, const struct conf_keyword *k, void *obj, char **av,
    int ac)
{
	struct fconf *f = obj;

	(void)cf;
	(void)k;
	for (int i = 0; i < f->nwords; i++)
		free(f->words[i]);
	f->nwords = 0;
	for (int i = 0; i < ac; i++) {
		if ((f->words[i] = strdup(av[i])) == NULL)
			return FF_ENOMEM;
		f->nwords++;
	}
	return 0;
}

static void
print_words(FILE *fp, const struct conf_keyword *k, const void *obj)
{
	const struct fconf *f = obj;

	if (f->nwords == 0)
		return;
	fputs(k->name, fp);
	for (int i = 0; i < f->nwords; i++) {
		fputc(' ', fp);
		conf_print_word(fp, f->words[i]);
	}
	fputc('\n', fp);
}

static int
set_addr(conf_t *cf, const struct conf_keyword *k, void *obj, char **av,
    int ac)
{
	struct fconf *f = obj;
	const char *why;

	(void)k;
	(void)ac;
	if (conf_addr_parse(av[0], &f->addr, &f->addrlen, &why) != 0)
		return conf_err(cf, "addr: '%s': %s", av[0], why);
	return 0;
}

static void
print_addr(FILE *fp, const struct conf_keyword *k, const void *obj)
{
	const struct fconf *f = obj;
	char b[CONF_ADDR_STRLEN];

	if (f->addrlen != 0)
		fprintf(fp, "%s %s\n", k->name, conf_addr_fmt(&f->addr, b,
		    sizeof(b)));
}

static void
cleanup(void *obj)
{
	struct fconf *f = obj;

	for (int i = 0; i < f->nwords; i++)
		free(f->words[i]);
}

#define F(field)	CONF_FIELD(struct fconf, field)

static const struct conf_keyword keywords[] = {
	{ "w", set_words, print_words, "WORD...", CONF_MANY | CONF_ARGS,
	  F(words) },
	{ "d", conf_set_duration, conf_print_duration, "DURATION|none", 0,
	  F(dur), .min = 1, .max = 30ull * 86400000, .word = "none",
	  .hint = "a duration", .def = "1h" },
	{ "db", conf_set_duration, conf_print_duration, "DURATION", 0,
	  F(durb), .min = 100, .max = 86400000, .def = "100ms" },
	{ "s", conf_set_size, conf_print_size, "SIZE|auto", 0, F(size),
	  .min = 1, .max = 64ull << 40, .word = "auto", .hint = "a size" },
	{ "sb", conf_set_size, conf_print_size, "SIZE", 0, F(sizeb),
	  .min = 1 << 20, .max = 1ull << 40, .def = "1G" },
	{ "c", conf_set_count, conf_print_count, "COUNT|auto", 0, F(cnt),
	  .min = 1, .max = 4096, .word = "auto", .def = "7" },
	{ "big", conf_set_count, conf_print_count, "COUNT", 0, F(big),
	  .min = 0, .max = UINT64_MAX },
	{ "b", conf_set_bool, conf_print_bool, "yes|no", 0, F(flag) },
	{ "l", conf_set_log_level, conf_print_log_level, "warn|info|debug",
	  0, F(level), .def = "info" },
	{ "n", conf_set_name, conf_print_str, "NAME", CONF_STR, F(name),
	  .max = 63 },
	{ "p", conf_set_path, conf_print_str, "PATH", CONF_STR, F(path),
	  .max = 200, .def = "/var/lib/x" },
	{ "x", conf_set_name, conf_print_str, "NAME", CONF_STR | CONF_SECRET,
	  F(secret), .max = 63 },
	{ "a", set_addr, print_addr, "ADDRESS:PORT", 0, F(addr) },
};

int fconf_parse(const char *fname, const char *buf, size_t len,
    struct fconf **out, char *err, size_t errlen);
int fconf_load(const char *path, int missing_ok, struct fconf **out,
    char *err, size_t errlen);
void fconf_free(struct fconf *c);
int fconf_print(FILE *fp, const struct fconf *c);

CONF_API(fconf, struct fconf, keywords, 64 * 1024, NULL, cleanup)

static void
check_values(const struct fconf *f)
{
	if (f->nwords < 0 || f->nwords > CONF_MAX_WORDS - 1)
		abort();
	for (int i = 0; i < f->nwords; i++)
		for (const char *s = f->words[i]; *s != '\0'; s++)
			if (((unsigned char)*s < 0x20 && *s != '\t') ||
			    *s == 0x7f)
				abort();
	if ((f->dur != 0 && f->dur > 30ull * 86400000) ||
	    f->durb < 100 || f->durb > 86400000 ||
	    f->sizeb < (1 << 20) || f->sizeb > (1ull << 40) ||
	    f->cnt > 4096 || f->size > (64ull << 40) ||
	    (f->flag != 0 && f->flag != 1) || f->level < 0 || f->level > 2)
		abort();
	if (f->name != NULL && (f->name[0] == '\0' || strlen(f->name) > 63 ||
	    f->name[0] == '.' || f->name[0] == '-'))
		abort();
	if (f->path == NULL || f->path[0] != '/' || strlen(f->path) > 200 ||
	    (strlen(f->path) > 1 && f->path[strlen(f->path) - 1] == '/'))
		abort();
}

static int
same(const struct fconf *a, const struct fconf *b)
{
	if (a->nwords != b->nwords)
		return 0;
	for (int i = 0; i < a->nwords; i++)
		if (strcmp(a->words[i], b->words[i]) != 0)
			return 0;
	if ((a->name == NULL) != (b->name == NULL) ||
	    (a->name != NULL && strcmp(a->name, b->name) != 0) ||
	    (a->secret == NULL) != (b->secret == NULL) ||
	    (a->secret != NULL && strcmp(a->secret, b->secret) != 0) ||
	    strcmp(a->path, b->path) != 0)
		return 0;
	return a->dur == b->dur && a->durb == b->durb && a->size == b->size &&
	    a->sizeb == b->sizeb && a->big == b->big && a->cnt == b->cnt &&
	    a->flag == b->flag && a->level == b->level &&
	    a->addrlen == b->addrlen &&
	    conf_addr_same(&a->addr, &b->addr) == (a->addrlen != 0);
}

static size_t
longest_line(const char *s, size_t len)
{
	size_t max = 0, n = 0;

	for (size_t i = 0; i < len; i++) {
		n = s[i] == '\n' ? 0 : n + 1;
		max = n > max ? n : max;
	}
	return max;
}

static char *
print_of(const struct fconf *f, size_t *len)
{
	char *out = NULL;
	FILE *fp;

	*len = 0;
	if ((fp = open_memstream(&out, len)) == NULL)
		return NULL;
	if (fconf_print(fp, f) != 0)
		abort();
	fclose(fp);
	return out;
}

static void
check_roundtrip(const struct fconf *a)
{
	struct fconf *b = NULL;
	char *out, *again, err[512];
	size_t len, len2;

	if ((out = print_of(a, &len)) == NULL)
		return;
	if (fconf_parse(FNAME, out, len, &b, err, sizeof(err)) != 0) {
		/* quoting lengthens words: a line may outgrow the cap */
		if (strstr(err, ": line is longer than") == NULL ||
		    longest_line(out, len) <= CONF_MAX_LINE)
			abort();
		free(out);
		return;
	}
	if (!same(a, b))
		abort();
	if ((again = print_of(b, &len2)) != NULL) {
		if (len != len2 || memcmp(out, again, len) != 0)
			abort();
		free(again);
	}
	fconf_free(b);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fconf *f = NULL;
	char err[512] = "";
	int rc;

	rc = fconf_parse(FNAME, (const char *)data, size, &f, err,
	    sizeof(err));
	if (rc == FF_ENOMEM)
		return 0;
	if (rc != 0) {
		if (rc != FF_ESYNTAX || f != NULL)
			abort();
		conf_check_error(FNAME, data, size, err);
		return 0;
	}
	check_values(f);
	check_roundtrip(f);
	fconf_free(f);
	return 0;
}
