/*
 * The configuration language of flowfleet's daemons, and its loader.
 *
 * A file is lines of "keyword arguments". Words are split at blanks and
 * tabs; a word may be double-quoted (with \" and \\ escapes) to hold
 * blanks or '#'; '#' outside quotes starts a comment; a line may end in
 * CRLF; a keyword is given once unless its table entry says otherwise.
 *
 * A daemon describes its language in a table (struct conf_keyword): for
 * each keyword, the handler that checks and stores its value, the
 * printer that writes it back, and its default, written as it would be
 * in the file. conf_parse() runs a table over text and reports the first
 * problem as "file:line: what is wrong". The value handlers and printers
 * here (durations, sizes, counts, yes/no, log levels, names, paths) are
 * shared, so every daemon speaks the same language; a daemon adds its
 * own handlers and its checks across keywords (struct conf_syntax).
 *
 * conf_parse() is a pure function of (file name, text): the daemons, the
 * tests and the fuzzers drive it without files; conf_load() reads a file
 * around it. CONF_API() gives them a daemon's types.
 */
#ifndef FF_CONF_H
#define FF_CONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#define CONF_MAX_LINE		1024	/* bytes of one line, without CRLF */
#define CONF_MAX_WORDS		8	/* words of one line */
#define CONF_MAX_KEYWORDS	64	/* entries of one keyword table */

/* The state of one parse, handed to the keyword handlers. */
typedef struct conf conf_t;

struct conf_keyword;

/*
 * Check the arguments av[0..ac-1] of one line of keyword k and store
 * them in obj (the object being configured). Returns 0, FF_ESYNTAX after
 * conf_err() or FF_ENOMEM. Unless k has CONF_ARGS, ac is 1.
 */
typedef int conf_set_fn(conf_t *cf, const struct conf_keyword *k,
    void *obj, char **av, int ac);

/*
 * Print the value of keyword k in obj as whole lines ("keyword value\n")
 * that conf_parse() reads back to the same value, or nothing.
 */
typedef void conf_print_fn(FILE *fp, const struct conf_keyword *k,
    const void *obj);

/* struct conf_keyword flags */
#define CONF_MANY	0x1	/* may be given on several lines */
#define CONF_ARGS	0x2	/* takes any number of arguments (1 or more):
				   the handler checks them */
#define CONF_STR	0x4	/* the field is a char * the object owns:
				   conf_free() frees it */
#define CONF_SECRET	0x8	/* ... and overwrites it first */
#define CONF_LOCAL	0x10	/* a setting of the host itself (its identity,
				   how it is reached): conf_parse() ignores
				   it; a daemon's table marks what a
				   controller must not push */

/*
 * One keyword. The generic handlers below find their field in the
 * configured object at off (size bytes: give both with CONF_FIELD()).
 */
struct conf_keyword {
	const char *name;
	conf_set_fn *set;
	conf_print_fn *print;	/* NULL: conf_print() skips it */
	const char *usage;	/* its arguments: "SIZE", "yes|no" */
	int flags;		/* CONF_* */
	size_t off, size;	/* the field */
	uint64_t min, max;	/* inclusive range of a number; the longest
				   name or path */
	const char *word;	/* the word that stands for 0 ("none",
				   "auto"), or NULL */
	const char *hint;	/* durations and sizes: how a good value
				   looks, in the message for a bad one;
				   NULL: "'V' is not a size from LO to HI" */
	const char *def;	/* the default, as the argument of a line
				   ("30s"), or NULL: the field stays 0 */
};

/* Designated initializers of the field of type a keyword sets. */
#define CONF_FIELD(type, field) \
	.off = offsetof(type, field), .size = sizeof(((type *)0)->field)

/* What a daemon's configuration language is made of. */
struct conf_syntax {
	const struct conf_keyword *keywords;	/* at most CONF_MAX_KEYWORDS */
	size_t nkeywords;
	size_t max_size;	/* bytes of text */
	size_t size;		/* of the configured object */
	size_t file_off;	/* its char *: the file the text came from */
	/* Checks across keywords, and defaults that depend on others,
	   after the last line: 0, FF_ESYNTAX after conf_err_at(), or
	   FF_ENOMEM. NULL: none. */
	int (*finish)(conf_t *cf, void *obj);
	/* Free what the object owns besides its file name and CONF_STR
	   fields. NULL: nothing. */
	void (*cleanup)(void *obj);
};

/*
 * Parse len bytes of text buf (need not be NUL-terminated), read from
 * the file named fname (for messages; NULL: "(config)"), with syntax syn
 * into a new object: zeroed, every keyword's def applied, then the text,
 * then syn->finish. out is the address of the caller's pointer to the
 * object's type (a struct node_config **, say), set to the object on
 * success. On error returns FF_ESYNTAX or FF_ENOMEM with "fname:line:
 * what is wrong" ("fname: out of memory") in err (errlen bytes) and
 * leaves the pointer untouched; FF_EINVAL (and why in err) when syn
 * has more than CONF_MAX_KEYWORDS keywords or a field whose size does
 * not fit its handler. The caller frees the object with conf_free().
 */
int conf_parse(const struct conf_syntax *syn, const char *fname,
    const char *buf, size_t len, void *out, char *err, size_t errlen);

/*
 * Read the file at path (a regular file of at most syn->max_size bytes)
 * and conf_parse() it. A file that does not exist gives the defaults
 * when missing_ok is set. Returns 0, FF_EIO (unreadable, not a regular
 * file, too large, or missing without missing_ok; "path: why" in err),
 * or what conf_parse() returns.
 */
int conf_load(const struct conf_syntax *syn, const char *path,
    int missing_ok, void *out, char *err, size_t errlen);

/* Free an object of syn made by conf_parse(). Accepts NULL. */
void conf_free(const struct conf_syntax *syn, void *obj);

/*
 * Print the normalized configuration: a "# file, normalized" line, then
 * every keyword of syn in table order through its print function.
 * Returns 0 or FF_EIO.
 */
int conf_print(FILE *fp, const struct conf_syntax *syn, const void *obj);

/*
 * Define a daemon's configuration language, prefix_syntax (a static
 * struct conf_syntax over the keyword array table, for text of at most
 * maxsize bytes, with the finish and cleanup functions, or NULL), and
 * the typed face of the four functions above for its type, which has a
 * char *file (declare them, with their contracts, in its header):
 *   int prefix_parse(const char *fname, const char *buf, size_t len,
 *       type **out, char *err, size_t errlen);
 *   int prefix_load(const char *path, int missing_ok, type **out,
 *       char *err, size_t errlen);
 *   void prefix_free(type *c);
 *   int prefix_print(FILE *fp, const type *c);
 */
#define CONF_API(prefix, type, table, maxsize, finish_fn, cleanup_fn)	\
static const struct conf_syntax prefix##_syntax = {			\
	.keywords = (table),						\
	.nkeywords = sizeof(table) / sizeof((table)[0]),		\
	.max_size = (maxsize),						\
	.size = sizeof(type),						\
	.file_off = offsetof(type, file),				\
	.finish = (finish_fn),						\
	.cleanup = (cleanup_fn),					\
};									\
_Static_assert(sizeof(table) / sizeof((table)[0]) <= CONF_MAX_KEYWORDS, \
    #table " has more than CONF_MAX_KEYWORDS keywords");		\
int									\
prefix##_parse(const char *fname, const char *buf, size_t len,		\
    type **out, char *err, size_t errlen)				\
{									\
	return conf_parse(&prefix##_syntax, fname, buf, len, out, err,	\
	    errlen);							\
}									\
int									\
prefix##_load(const char *path, int missing_ok, type **out, char *err,	\
    size_t errlen)							\
{									\
	return conf_load(&prefix##_syntax, path, missing_ok, out, err,	\
	    errlen);							\
}									\
void									\
prefix##_free(type *c)							\
{									\
	conf_free(&prefix##_syntax, c);					\
}									\
int									\
prefix##_print(FILE *fp, const type *c)					\
{									\
	return conf_print(fp, &prefix##_syntax, c);			\
}

/* ---- the messages of a handler or a finish check ---- */

/*
 * Report a problem on the line being parsed: "fname:line: " and the
 * formatted text go to the caller's err. Returns FF_ESYNTAX.
 */
int conf_err(conf_t *cf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* conf_err() on line line (a finish check names the line it blames). */
int conf_err_at(conf_t *cf, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The number of the line being parsed (1 is the first; 0 while the
   defaults are applied). */
int conf_line(const conf_t *cf);

/* The line where keyword name was first given, 0 if it was not. */
int conf_seen(const conf_t *cf, const char *name);

/* ---- value handlers, for struct conf_keyword.set ---- */

/* A duration (util's parse_duration_ms) in [min, max] ms, or word:
   0, into a uint64_t. */
conf_set_fn conf_set_duration;
/* A size (util's parse_size) in [min, max] bytes, or word: 0, into a
   uint64_t. */
conf_set_fn conf_set_size;
/* A decimal number in [min, max], or word: 0, into an unsigned or a
   uint64_t. */
conf_set_fn conf_set_count;
/* yes or no: 1 or 0, into an int. */
conf_set_fn conf_set_bool;
/* warn, info or debug: LOG_LVL_*, into an int. */
conf_set_fn conf_set_log_level;
/* A name of 1 to max letters, digits, '.', '_' or '-', not starting with
   '.' or '-', into a char * (CONF_STR; the old value is freed). */
conf_set_fn conf_set_name;
/* An absolute path of at most max bytes, trailing slashes dropped ("/"
   stays), into a char * (CONF_STR; the old value is freed). */
conf_set_fn conf_set_path;

/* ---- value printers, for struct conf_keyword.print ---- */

conf_print_fn conf_print_duration;	/* word when 0 and k has one */
conf_print_fn conf_print_size;		/* word when 0 and k has one */
conf_print_fn conf_print_count;		/* word when 0 and k has one */
conf_print_fn conf_print_bool;
conf_print_fn conf_print_log_level;
conf_print_fn conf_print_str;		/* a char *, quoted as needed;
					   nothing when NULL */

/* ---- values, for handlers of a daemon's own ---- */

/*
 * Parse s, decimal digits only, as a number in [lo, hi]. Returns 0 or
 * FF_EINVAL.
 */
int conf_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

/*
 * Format a duration in ms with the largest unit that divides it exactly
 * ("90s", "36h", "1500ms") into buf. Returns buf.
 */
char *conf_fmt_duration(uint64_t ms, char *buf, size_t len);

/*
 * Format a size in bytes with the largest power-of-1024 suffix that
 * divides it exactly ("4K", "3T", "12345") into buf. Returns buf.
 */
char *conf_fmt_size(uint64_t v, char *buf, size_t len);

/* Print s as one word, in double quotes when the lexer needs them (and
   then with \" and \\: up to twice as long, plus the quotes). */
void conf_print_word(FILE *fp, const char *s);

/*
 * Parse a listen address "1.2.3.4:PORT" or "[v6]:PORT" (numeric, port 1
 * to 65535, no zone) into *ss and *sslen. Returns 0, or FF_EINVAL with
 * the reason in *why (a static string).
 */
int conf_addr_parse(const char *s, struct sockaddr_storage *ss,
    socklen_t *sslen, const char **why);

/* 1 if a and b are the same AF_INET/AF_INET6 address and port. */
int conf_addr_same(const struct sockaddr_storage *a,
    const struct sockaddr_storage *b);

/*
 * Format a listen address as "1.2.3.4:2055" or "[::1]:2055" into buf (at
 * least CONF_ADDR_STRLEN bytes). Returns buf.
 */
#define CONF_ADDR_STRLEN 64
char *conf_addr_fmt(const struct sockaddr_storage *ss, char *buf,
    size_t len);

#endif
