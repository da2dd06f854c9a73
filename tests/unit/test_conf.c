/*
 * common/conf.c, the configuration language both daemons read: the
 * lexer (words, quotes, comments, line and file caps), the keyword
 * dispatch (unknown, missing and extra arguments, repeated keywords),
 * the "file:line: what is wrong" messages, the value handlers and
 * printers, listen addresses, and the loader. A small keyword table of
 * this file's own drives it, so nothing here depends on a daemon.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "common/conf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/util.h"

struct tconf {
	char *file;
	char *words[CONF_MAX_WORDS];	/* the last "words" line */
	int nwords;
	int words_line;
	uint64_t dur, dur0, size, size0, big;
	unsigned cnt;
	uint16_t port;			/* the wrong size for a count */
	int flag, level;
	char *name, *path, *secret;
	int finished;
};

static int finish_line;		/* finish() blames this line when set */
static int finish_nomem;	/* finish() runs out of memory */

static void tfree(struct tconf *t);

static int
set_words(conf_t *cf, const struct conf_keyword *k, void *obj, char **av,
    int ac)
{
	struct tconf *t = obj;

	(void)k;
	for (int i = 0; i < t->nwords; i++)
		free(t->words[i]);
	t->nwords = 0;
	t->words_line = conf_line(cf);
	for (int i = 0; i < ac; i++) {
		if ((t->words[i] = strdup(av[i])) == NULL)
			return FF_ENOMEM;
		t->nwords++;
	}
	return 0;
}

static void
print_words(FILE *fp, const struct conf_keyword *k, const void *obj)
{
	const struct tconf *t = obj;

	if (t->nwords == 0)
		return;
	fputs(k->name, fp);
	for (int i = 0; i < t->nwords; i++) {
		fputc(' ', fp);
		conf_print_word(fp, t->words[i]);
	}
	fputc('\n', fp);
}

static int
set_choice(conf_t *cf, const struct conf_keyword *k, void *obj, char **av,
    int ac)
{
	(void)cf;
	(void)k;
	(void)obj;
	(void)av;
	(void)ac;
	return 0;
}

#define F(field)	CONF_FIELD(struct tconf, field)

static const struct conf_keyword keywords[] = {
	{ "words", set_words, print_words, "WORD...", CONF_MANY | CONF_ARGS,
	  F(words) },
	{ "dur", conf_set_duration, conf_print_duration, "DURATION", 0,
	  F(dur), .min = 100, .max = 3600000, .hint = "a duration hint",
	  .def = "30s" },
	{ "dur0", conf_set_duration, conf_print_duration, "DURATION|none", 0,
	  F(dur0), .min = 1000, .max = 86400000, .word = "none" },
	{ "size", conf_set_size, conf_print_size, "SIZE", 0, F(size),
	  .min = 4096, .max = 1ull << 30, .hint = "a size hint",
	  .def = "1M" },
	{ "size0", conf_set_size, conf_print_size, "SIZE|auto", 0, F(size0),
	  .min = 1ull << 20, .max = 1ull << 40, .word = "auto",
	  .hint = "another hint" },
	{ "cnt", conf_set_count, conf_print_count, "COUNT|auto", 0, F(cnt),
	  .min = 1, .max = 64, .word = "auto", .def = "4" },
	{ "big", conf_set_count, conf_print_count, "COUNT", 0, F(big),
	  .min = 1000, .max = 1000000000000ull, .def = "5000" },
	{ "flag", conf_set_bool, conf_print_bool, "yes|no", 0, F(flag) },
	{ "level", conf_set_log_level, conf_print_log_level,
	  "warn|info|debug", 0, F(level), .def = "info" },
	{ "name", conf_set_name, conf_print_str, "NAME", CONF_STR, F(name),
	  .max = 8 },
	{ "path", conf_set_path, conf_print_str, "PATH", CONF_STR, F(path),
	  .max = 16 },
	{ "secret", conf_set_name, NULL, "NAME", CONF_STR | CONF_SECRET,
	  F(secret), .max = 63 },
	{ "choice", set_choice, NULL, "a|b|c", 0, F(flag) },
};

static int
tfinish(conf_t *cf, void *obj)
{
	struct tconf *t = obj;

	if (finish_line)
		return conf_err_at(cf, finish_line, "blamed by finish (dur on "
		    "line %d)", conf_seen(cf, "dur"));
	if (finish_nomem)
		return FF_ENOMEM;
	t->finished = 1;
	return 0;
}

/* The words of a "words" line, which conf_free() does not know of. */
static void
tcleanup(void *obj)
{
	struct tconf *t = obj;

	for (int i = 0; i < t->nwords; i++)
		free(t->words[i]);
}

static const struct conf_syntax syntax = {
	.keywords = keywords,
	.nkeywords = FF_NELEM(keywords),
	.max_size = 4096,
	.size = sizeof(struct tconf),
	.file_off = offsetof(struct tconf, file),
	.finish = tfinish,
	.cleanup = tcleanup,
};

static void
tfree(struct tconf *t)
{
	conf_free(&syntax, t);
}

static struct tconf *
parse_len(const char *text, size_t len)
{
	void *t = NULL;
	char err[512] = "";
	int rc = conf_parse(&syntax, "t.conf", text, len, &t, err,
	    sizeof(err));

	if (rc != 0)
		fail_msg("unexpected error %d: %s", rc, err);
	assert_non_null(t);
	assert_int_equal(((struct tconf *)t)->finished, 1);
	return t;
}

static struct tconf *
parse_ok(const char *text)
{
	return parse_len(text, strlen(text));
}

/* Parse len bytes that must fail with FF_ESYNTAX and exactly want. */
static void
fails_len(const char *text, size_t len, const char *want)
{
	void *t = NULL;
	char err[512] = "";

	assert_int_equal(conf_parse(&syntax, "t.conf", text, len, &t, err,
	    sizeof(err)), FF_ESYNTAX);
	assert_null(t);
	assert_string_equal(err, want);
}

static void
fails(const char *text, const char *want)
{
	fails_len(text, strlen(text), want);
}

static void
test_words(void **state)
{
	struct tconf *t;

	(void)state;
	t = parse_ok("words a\tb  \"c d\" \"e#f\" \"\" \"g\\\"h\\\\i\" j\\k "
	    "#l m\n");
	assert_int_equal(t->nwords, 7);
	assert_string_equal(t->words[0], "a");
	assert_string_equal(t->words[1], "b");
	assert_string_equal(t->words[2], "c d");
	assert_string_equal(t->words[3], "e#f");
	assert_string_equal(t->words[4], "");
	assert_string_equal(t->words[5], "g\"h\\i");
	assert_string_equal(t->words[6], "j\\k");	/* no escape outside */
	tfree(t);

	/* comments right after a word; CRLF; no final newline */
	t = parse_ok("# only a comment\r\n\r\n  words x#y\r\nwords \"q\"#z");
	assert_int_equal(t->nwords, 1);
	assert_string_equal(t->words[0], "q");
	assert_int_equal(t->words_line, 4);
	tfree(t);

	/* CONF_MAX_WORDS words on a line, and a "\\" kept when not escaping */
	t = parse_ok("words 2 3 4 5 6 7 \"8\\x\"\n");
	assert_int_equal(t->nwords, CONF_MAX_WORDS - 1);
	assert_string_equal(t->words[6], "8\\x");
	tfree(t);

	fails("words 2 3 4 5 6 7 8 9\n", "t.conf:1: too many words on the "
	    "line (at most 8)");
	fails("\nwords \"a\n", "t.conf:2: unterminated quoted string");
	fails("words \"a\\\"\n", "t.conf:1: unterminated quoted string");
	fails("words \"a\"b\n", "t.conf:1: text right after a closing quote");
	fails("words a\"b\"\n", "t.conf:1: quote in the middle of a word");
	fails("\"words\" x\n\"x\n", "t.conf:2: unterminated quoted string");
}

static void
test_lines(void **state)
{
	char *big;
	struct tconf *t;

	(void)state;
	/* A line of CONF_MAX_LINE bytes (CR not counted) is fine. */
	big = malloc(CONF_MAX_LINE + 8);
	assert_non_null(big);
	memcpy(big, "words ", 6);
	memset(big + 6, 'x', CONF_MAX_LINE - 6);
	memcpy(big + CONF_MAX_LINE, "\r\n", 2);
	t = parse_len(big, CONF_MAX_LINE + 2);
	assert_int_equal(strlen(t->words[0]), CONF_MAX_LINE - 6);
	tfree(t);
	big[CONF_MAX_LINE] = 'x';
	fails_len(big, CONF_MAX_LINE + 1, "t.conf:1: line is longer than "
	    "1024 bytes");
	free(big);

	fails_len("words a\nwords b\0c\n", 17, "t.conf:2: NUL byte in the "
	    "line");
	fails_len("words \x01\0\n", 9, "t.conf:1: NUL byte in the line");
	fails("words a\x01z\n", "t.conf:1: control character 0x01 in the "
	    "line");
	fails("words a\x7f\n", "t.conf:1: control character 0x7f in the "
	    "line");
	fails("words a\rb\n", "t.conf:1: control character 0x0d in the "
	    "line");
	fails("words \xc3\xa9\n\x1b\n", "t.conf:2: control character 0x1b in "
	    "the line");
	/* the length rules, not a NUL */
	t = parse_len("words abc", 7);
	assert_string_equal(t->words[0], "a");
	tfree(t);
}

static void
test_size_cap(void **state)
{
	char *text = malloc(4097);

	(void)state;
	assert_non_null(text);
	memset(text, '\n', 4097);
	tfree(parse_len(text, 4096));
	fails_len(text, 4097, "t.conf:1: file is larger than 4096 bytes");
	free(text);
}

static void
test_dispatch(void **state)
{
	void *t = NULL;
	char err[512];
	char long_kw[100];

	(void)state;
	fails("bogus 1\n", "t.conf:1: unknown keyword 'bogus'");
	memset(long_kw, 'k', sizeof(long_kw) - 1);
	long_kw[sizeof(long_kw) - 1] = '\0';
	{
		char text[128], want[128];

		snprintf(text, sizeof(text), "%s\n", long_kw);
		snprintf(want, sizeof(want), "t.conf:1: unknown keyword "
		    "'%.64s'", long_kw);
		fails(text, want);
	}
	fails("Dur 1s\n", "t.conf:1: unknown keyword 'Dur'");
	fails("\n\ndur\n", "t.conf:3: dur: missing argument (dur DURATION)");
	fails("dur \"\" x\n", "t.conf:1: dur takes one argument: DURATION");
	fails("choice a b\n", "t.conf:1: choice takes one argument: a, b or "
	    "c");
	fails("flag yes no\n", "t.conf:1: flag takes one argument: yes or "
	    "no");
	fails("dur0 1s 2s\n", "t.conf:1: dur0 takes one argument: DURATION "
	    "or none");
	fails("# c\ndur 1s\n\ndur 2s\n", "t.conf:4: dur is already set on "
	    "line 2");
	/* a keyword with CONF_MANY may repeat: the last line counts */
	{
		struct tconf *tc = parse_ok("words a\nwords b c\n");

		assert_int_equal(tc->nwords, 2);
		assert_int_equal(tc->words_line, 2);
		tfree(tc);
	}

	/* finish() runs after the last line and may blame any line */
	finish_line = 3;
	fails("dur 1s\nflag no\nsize 1M\n", "t.conf:3: blamed by finish (dur "
	    "on line 1)");
	fails("", "t.conf:3: blamed by finish (dur on line 0)");
	finish_line = 0;

	/* no file name */
	assert_int_equal(conf_parse(&syntax, NULL, "x\n", 2, &t, err,
	    sizeof(err)), FF_ESYNTAX);
	assert_string_equal(err, "(config):1: unknown keyword 'x'");
	t = NULL;
	assert_int_equal(conf_parse(&syntax, NULL, "", 0, &t, err,
	    sizeof(err)), 0);
	assert_string_equal(((struct tconf *)t)->file, "(config)");
	tfree(t);

	/* out of memory in a check: the object is freed (ASan sees it) */
	t = NULL;
	finish_nomem = 1;
	assert_int_equal(conf_parse(&syntax, "t.conf", "words a b\n"
	    "name n\n", 17, &t, err, sizeof(err)), FF_ENOMEM);
	finish_nomem = 0;
	assert_null(t);
	assert_string_equal(err, "t.conf: out of memory");
}

/* The defaults are lines of the language, applied before the text. */
static void
test_defaults(void **state)
{
	struct conf_keyword kw[FF_NELEM(keywords)];
	struct conf_syntax syn = syntax;
	struct tconf *t;
	void *o = NULL;
	char err[128];

	(void)state;
	t = parse_ok("secret s3cr3t\n");
	assert_int_equal(t->dur, 30000);
	assert_int_equal(t->size, 1 << 20);
	assert_int_equal(t->cnt, 4);
	assert_int_equal(t->big, 5000);
	assert_int_equal(t->level, LOG_LVL_INFO);
	assert_int_equal(t->dur0, 0);
	assert_null(t->name);
	assert_string_equal(t->secret, "s3cr3t");
	assert_string_equal(t->file, "t.conf");
	tfree(t);
	tfree(NULL);

	/* a default the handler refuses is the table's bug: line 0 */
	memcpy(kw, keywords, sizeof(kw));
	kw[1].def = "1d";
	syn.keywords = kw;
	assert_int_equal(conf_parse(&syn, "t.conf", "", 0, &o, err,
	    sizeof(err)), FF_ESYNTAX);
	assert_null(o);
	assert_string_equal(err, "t.conf:0: dur: 1d is out of range (100ms "
	    "to 1h)");
}

static void
test_table_limit(void **state)
{
	struct conf_keyword many[CONF_MAX_KEYWORDS + 1];
	struct conf_syntax syn = syntax;
	void *t = NULL;
	char err[128];

	(void)state;
	for (size_t i = 0; i < FF_NELEM(many); i++)
		many[i] = keywords[0];
	syn.keywords = many;
	syn.nkeywords = FF_NELEM(many);
	assert_int_equal(conf_parse(&syn, "t.conf", "", 0, &t, err,
	    sizeof(err)), FF_EINVAL);
	assert_null(t);
	assert_string_equal(err, "more than 64 keywords");
	syn.nkeywords--;
	assert_int_equal(conf_parse(&syn, "t.conf", "", 0, &t, err,
	    sizeof(err)), 0);
	tfree(t);

	/* a field whose size does not fit its generic handler */
	many[0] = (struct conf_keyword){ "port", conf_set_count,
	    conf_print_count, "PORT", 0, F(port), .max = 65535 };
	syn.nkeywords = 1;
	t = NULL;
	assert_int_equal(conf_parse(&syn, "t.conf", "", 0, &t, err,
	    sizeof(err)), FF_EINVAL);
	assert_null(t);
	assert_string_equal(err, "keyword port: a field of 2 bytes for its "
	    "handler");
	many[0] = (struct conf_keyword){ "flag", conf_set_bool,
	    conf_print_bool, "yes|no", 0, F(dur) };
	assert_int_equal(conf_parse(&syn, "t.conf", "", 0, &t, err,
	    sizeof(err)), FF_EINVAL);
	assert_null(t);
	assert_string_equal(err, "keyword flag: a field of 8 bytes for its "
	    "handler");
}

static void
test_numbers(void **state)
{
	struct tconf *t;

	(void)state;
	t = parse_ok("dur 100ms\ndur0 none\nsize 4K\nsize0 auto\ncnt auto\n"
	    "big 1000\n");
	assert_int_equal(t->dur, 100);
	assert_int_equal(t->dur0, 0);
	assert_int_equal(t->size, 4096);
	assert_int_equal(t->size0, 0);
	assert_int_equal(t->cnt, 0);
	assert_int_equal(t->big, 1000);
	tfree(t);
	t = parse_ok("dur 1h\ndur0 1d\nsize 1GiB\nsize0 1T\ncnt 064\n"
	    "big 1000000000000\n");
	assert_int_equal(t->dur, 3600000);
	assert_int_equal(t->dur0, 86400000);
	assert_int_equal(t->size, 1ull << 30);
	assert_int_equal(t->size0, 1ull << 40);
	assert_int_equal(t->cnt, 64);
	assert_int_equal(t->big, 1000000000000ull);
	tfree(t);
	t = parse_ok("dur 45\n");	/* no suffix: seconds */
	assert_int_equal(t->dur, 45000);
	tfree(t);

	/* with a hint: "bad" and "out of range" */
	fails("dur soon\n", "t.conf:1: dur: bad duration 'soon' (a duration "
	    "hint)");
	fails("dur 99ms\n", "t.conf:1: dur: 99ms is out of range (100ms to "
	    "1h)");
	fails("dur 61m\n", "t.conf:1: dur: 61m is out of range (100ms to "
	    "1h)");
	fails("dur none\n", "t.conf:1: dur: bad duration 'none' (a duration "
	    "hint)");
	fails("size 4095\n", "t.conf:1: size: 4095 is out of range (4K to "
	    "1G)");
	fails("size -1\n", "t.conf:1: size: bad size '-1' (a size hint)");
	fails("size0 none\n", "t.conf:1: size0: bad size 'none' (another "
	    "hint, or auto)");
	fails("size0 1023K\n", "t.conf:1: size0: 1023K is out of range (1M "
	    "to 1T, or auto)");
	/* without a hint: one message for both */
	fails("dur0 999ms\n", "t.conf:1: dur0: '999ms' is not a duration "
	    "from 1s to 1d");
	fails("dur0 x\n", "t.conf:1: dur0: 'x' is not a duration from 1s to "
	    "1d");
	fails("cnt 65\n", "t.conf:1: cnt: '65' is not a number from 1 to 64");
	fails("cnt 0\n", "t.conf:1: cnt: '0' is not a number from 1 to 64");
	fails("cnt +1\n", "t.conf:1: cnt: '+1' is not a number from 1 to 64");
	fails("cnt Auto\n", "t.conf:1: cnt: 'Auto' is not a number from 1 to "
	    "64");
	fails("big 999\n", "t.conf:1: big: '999' is not a number from 1000 "
	    "to 1000000000000");
	/* a value is quoted in a message up to 64 bytes */
	fails("dur 12345678901234567890123456789012345678901234567890123456789"
	    "0123456789\n", "t.conf:1: dur: bad duration '1234567890123456789"
	    "012345678901234567890123456789012345678901234' (a duration "
	    "hint)");
}

static void
test_words_values(void **state)
{
	struct tconf *t;

	(void)state;
	t = parse_ok("flag yes\nlevel debug\nname a-1.b_\npath /a/b//\n");
	assert_int_equal(t->flag, 1);
	assert_int_equal(t->level, LOG_LVL_DEBUG);
	assert_string_equal(t->name, "a-1.b_");
	assert_string_equal(t->path, "/a/b");
	tfree(t);
	t = parse_ok("flag no\nlevel warn\nname 12345678\npath ///\n");
	assert_int_equal(t->flag, 0);
	assert_int_equal(t->level, LOG_LVL_WARN);
	assert_string_equal(t->name, "12345678");
	assert_string_equal(t->path, "/");
	tfree(t);

	fails("flag Yes\n", "t.conf:1: flag: expected yes or no, not 'Yes'");
	fails("level loud\n", "t.conf:1: level: expected warn, info or debug, "
	    "not 'loud'");
	fails("name 123456789\n", "t.conf:1: name: '123456789' is not a "
	    "valid name (1 to 8 letters, digits, '.', '_' or '-', not "
	    "starting with '.' or '-')");
	fails("name .a\n", "t.conf:1: name: '.a' is not a valid name (1 to 8 "
	    "letters, digits, '.', '_' or '-', not starting with '.' or '-')");
	fails("name -a\n", "t.conf:1: name: '-a' is not a valid name (1 to 8 "
	    "letters, digits, '.', '_' or '-', not starting with '.' or '-')");
	fails("name a/b\n", "t.conf:1: name: 'a/b' is not a valid name (1 to "
	    "8 letters, digits, '.', '_' or '-', not starting with '.' or "
	    "'-')");
	fails("name \"\"\n", "t.conf:1: name: '' is not a valid name (1 to 8 "
	    "letters, digits, '.', '_' or '-', not starting with '.' or '-')");
	fails("path a/b\n", "t.conf:1: path must be an absolute path, not "
	    "'a/b'");
	fails("path /12345678901234567\n", "t.conf:1: path is longer than 16 "
	    "bytes");
	/* the length counts before the trailing slashes go */
	fails("path /123456789012345/\n", "t.conf:1: path is longer than 16 "
	    "bytes");
}

static char *
print_of(const struct tconf *t)
{
	char *out = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&out, &len);

	assert_non_null(fp);
	assert_int_equal(conf_print(fp, &syntax, t), 0);
	fclose(fp);
	return out;
}

static void
test_print(void **state)
{
	struct tconf *t, *b;
	char *out, *again;

	(void)state;
	t = parse_ok("");
	out = print_of(t);
	assert_string_equal(out,
	    "# t.conf, normalized\n"
	    "dur 30s\n"
	    "dur0 none\n"
	    "size 1M\n"
	    "size0 auto\n"
	    "cnt 4\n"
	    "big 5000\n"
	    "flag no\n"
	    "level info\n");
	free(out);
	tfree(t);

	t = parse_ok("words \"a b\" \"#\" \"\\\"\\\\\" \"\" x\n"
	    "dur 1500ms\ndur0 18h\nsize 12345\nsize0 1T\ncnt 7\n"
	    "big 1000000000000\nflag yes\nlevel warn\nname n\n"
	    "path \"/x y/\"\n");
	out = print_of(t);
	assert_string_equal(out,
	    "# t.conf, normalized\n"
	    "words \"a b\" \"#\" \"\\\"\\\\\" \"\" x\n"
	    "dur 1500ms\n"
	    "dur0 18h\n"
	    "size 12345\n"
	    "size0 1T\n"
	    "cnt 7\n"
	    "big 1000000000000\n"
	    "flag yes\n"
	    "level warn\n"
	    "name n\n"
	    "path \"/x y\"\n");
	b = parse_ok(out);
	again = print_of(b);
	assert_string_equal(out, again);
	free(again);
	free(out);
	tfree(b);
	tfree(t);
}

static void
test_formats(void **state)
{
	static const struct {
		uint64_t v;
		const char *dur, *size;
	} cases[] = {
		{ 0, "0h", "0G" },
		{ 1, "1ms", "1" },
		{ 1000, "1s", "1000" },
		{ 1024, "1024ms", "1K" },
		{ 60000, "1m", "60000" },
		{ 3600000, "1h", "3600000" },
		{ 86400000, "1d", "84375K" },
		{ 90061001, "90061001ms", "90061001" },
		{ 1ull << 20, "1048576ms", "1M" },
		{ 3ull << 30, "3221225472ms", "3G" },
		{ 5ull << 40, "5497558138880ms", "5T" },
		{ UINT64_MAX, "18446744073709551615ms",
		  "18446744073709551615" },
	};
	char b[32];

	(void)state;
	for (size_t i = 0; i < FF_NELEM(cases); i++) {
		assert_string_equal(conf_fmt_duration(cases[i].v, b,
		    sizeof(b)), cases[i].dur);
		assert_string_equal(conf_fmt_size(cases[i].v, b, sizeof(b)),
		    cases[i].size);
	}
}

static void
test_uint(void **state)
{
	uint64_t v = 7;

	(void)state;
	assert_int_equal(conf_uint("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(conf_uint("0010", 0, 10, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(conf_uint("9999999999999999999", 0, UINT64_MAX, &v),
	    0);
	assert_int_equal(v, 9999999999999999999ull);
	v = 7;
	assert_int_equal(conf_uint("11", 0, 10, &v), FF_EINVAL);
	assert_int_equal(conf_uint("", 0, 10, &v), FF_EINVAL);
	assert_int_equal(conf_uint("-1", 0, 10, &v), FF_EINVAL);
	assert_int_equal(conf_uint("+1", 0, 10, &v), FF_EINVAL);
	assert_int_equal(conf_uint(" 1", 0, 10, &v), FF_EINVAL);
	assert_int_equal(conf_uint("1k", 0, 10, &v), FF_EINVAL);
	assert_int_equal(conf_uint("00000000000000000001", 0, 10, &v),
	    FF_EINVAL);	/* more than 19 digits */
	assert_int_equal(v, 7);
}

static void
test_addresses(void **state)
{
	static const struct {
		const char *text, *norm, *why;
	} cases[] = {
		{ "192.0.2.1:2055", "192.0.2.1:2055", NULL },
		{ "0.0.0.0:1", "0.0.0.0:1", NULL },
		{ "[::]:65535", "[::]:65535", NULL },
		{ "[2001:DB8:0:0:0:0:0:1]:02055", "[2001:db8::1]:2055", NULL },
		{ "[::ffff:192.0.2.9]:9", "[::ffff:192.0.2.9]:9", NULL },
		{ "1.2.3.4", NULL, "missing port (write ADDRESS:PORT)" },
		{ "1.2.3.4:", NULL, "bad port (1 to 65535)" },
		{ "1.2.3.4:0", NULL, "bad port (1 to 65535)" },
		{ "1.2.3.4:65536", NULL, "bad port (1 to 65535)" },
		{ "1.2.3.4:-1", NULL, "bad port (1 to 65535)" },
		{ ":2055", NULL, "bad IPv4 address" },
		{ "1.2.3:2055", NULL, "bad IPv4 address" },
		{ "host.example:2055", NULL, "bad IPv4 address" },
		{ "::1:2055", NULL,
		  "IPv6 addresses go in brackets: [ADDRESS]:PORT" },
		{ "[::1]", NULL, "missing port (write [ADDRESS]:PORT)" },
		{ "[::1]2055", NULL, "missing port (write [ADDRESS]:PORT)" },
		{ "[::1:2055", NULL, "missing ']' after an IPv6 address" },
		{ "[]:2055", NULL, "bad IPv6 address" },
		{ "[1.2.3.4]:2055", NULL, "bad IPv6 address" },
		{ "[fe80::1%eth0]:2055", NULL,
		  "scoped (zone) IPv6 addresses are not supported" },
		{ "[::1]:", NULL, "bad port (1 to 65535)" },
	};
	struct sockaddr_storage ss, ss2;
	socklen_t len;
	char b[CONF_ADDR_STRLEN];

	(void)state;
	for (size_t i = 0; i < FF_NELEM(cases); i++) {
		const char *why = NULL;
		int rc = conf_addr_parse(cases[i].text, &ss, &len, &why);

		if (cases[i].norm != NULL) {
			assert_int_equal(rc, 0);
			assert_string_equal(conf_addr_fmt(&ss, b, sizeof(b)),
			    cases[i].norm);
			assert_int_equal(len, ss.ss_family == AF_INET ?
			    sizeof(struct sockaddr_in) :
			    sizeof(struct sockaddr_in6));
		} else {
			assert_int_equal(rc, FF_EINVAL);
			assert_non_null(why);
			assert_string_equal(why, cases[i].why);
		}
	}
	assert_int_equal(conf_addr_parse("[::1]:80", &ss, &len, NULL), 0);
	assert_int_equal(conf_addr_parse("[0::1]:80", &ss2, &len, NULL), 0);
	assert_true(conf_addr_same(&ss, &ss2));
	assert_int_equal(conf_addr_parse("[::1]:81", &ss2, &len, NULL), 0);
	assert_false(conf_addr_same(&ss, &ss2));
	assert_int_equal(conf_addr_parse("127.0.0.1:80", &ss2, &len, NULL),
	    0);
	assert_false(conf_addr_same(&ss, &ss2));
	assert_int_equal(conf_addr_parse("127.0.0.1:80", &ss, &len, NULL), 0);
	assert_true(conf_addr_same(&ss, &ss2));
	memset(&ss, 0, sizeof(ss));
	assert_string_equal(conf_addr_fmt(&ss, b, sizeof(b)), "?");
}

static void
test_load(void **state)
{
	char dir[] = "/tmp/test_conf.XXXXXX", path[128], err[512], want[256];
	void *t = NULL;
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.conf", dir);

	/* absent: the defaults when missing_ok, an error otherwise */
	assert_int_equal(conf_load(&syntax, path, 1, &t, err, sizeof(err)),
	    0);
	assert_string_equal(((struct tconf *)t)->file, path);
	assert_int_equal(((struct tconf *)t)->dur, 30000);
	tfree(t);
	t = NULL;
	assert_int_equal(conf_load(&syntax, path, 0, &t, err, sizeof(err)),
	    FF_EIO);
	assert_null(t);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(err, want);

	/* errors name the file and the line */
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("dur 1s\n\ndur 2s\n", fp);
	fclose(fp);
	assert_int_equal(conf_load(&syntax, path, 1, &t, err, sizeof(err)),
	    FF_ESYNTAX);
	assert_null(t);
	snprintf(want, sizeof(want), "%s:3: dur is already set on line 1",
	    path);
	assert_string_equal(err, want);

	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("dur 2s\n", fp);
	fclose(fp);
	assert_int_equal(conf_load(&syntax, path, 0, &t, err, sizeof(err)),
	    0);
	assert_int_equal(((struct tconf *)t)->dur, 2000);
	tfree(t);
	t = NULL;

	/* larger than max_size */
	fp = fopen(path, "w");
	assert_non_null(fp);
	for (int i = 0; i < 4097; i++)
		fputc('\n', fp);
	fclose(fp);
	assert_int_equal(conf_load(&syntax, path, 0, &t, err, sizeof(err)),
	    FF_EIO);
	snprintf(want, sizeof(want), "%s: file is larger than 4096 bytes",
	    path);
	assert_string_equal(err, want);

	/* a directory is not a configuration file */
	assert_int_equal(conf_load(&syntax, dir, 1, &t, err, sizeof(err)),
	    FF_EIO);
	snprintf(want, sizeof(want), "%s: not a regular file", dir);
	assert_string_equal(err, want);
	assert_null(t);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_words),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_size_cap),
		cmocka_unit_test(test_dispatch),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_table_limit),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_words_values),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_uint),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
