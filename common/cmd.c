/*
 * Command tables and the help generated from them; see cmd.h.
 */
#include <getopt.h>
#include <stdarg.h>
#include <string.h>

#include "cmd.h"

#define COLUMN	20	/* a command's help starts here, or further right */
#define COLUMN_MAX 28	/* a longer "name args" gets a line of its own */
#define WIDTH	75	/* help is wrapped at this column */

/*
 * "  left  help" with help starting at column col (on the next line when
 * left is too long for it) and wrapped at WIDTH, its continuation lines
 * starting at col too.
 */
static void
line(FILE *fp, int col, const char *left, const char *help)
{
	int n = (int)strlen(left), room = WIDTH - col;
	const char *p = help;

	if (2 + n + 2 <= col)
		fprintf(fp, "  %-*s", col - 2, left);
	else
		fprintf(fp, "  %s\n%*s", left, col, "");
	for (;;) {
		int len = (int)strlen(p), cut = len;

		if (len > room) {
			/* the last space that keeps the line within WIDTH */
			for (cut = room; cut > 0 && p[cut] != ' '; cut--)
				;
			if (cut == 0)
				cut = (int)strcspn(p, " ");
		}
		fprintf(fp, "%.*s\n", cut, p);
		if (p[cut] == '\0')
			break;
		p += cut + 1;
		fprintf(fp, "%*s", col, "");
	}
}

/* "name args" of command c into buf. */
static const char *
cmd_left(const cmd_t *c, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", c->name, c->args[0] != '\0' ? " " : "",
	    c->args);
	return buf;
}

/*
 * The commands' help column: two spaces after the longest "name args"
 * (leaving out those too long to share their line), at least COLUMN.
 */
static int
cmds_column(const cmd_t *cmds)
{
	char left[256];
	int col = COLUMN;

	for (const cmd_t *c = cmds; c->name != NULL; c++) {
		int n = 2 + (int)strlen(cmd_left(c, left, sizeof(left))) + 2;

		if (n > col && n <= COLUMN_MAX)
			col = n;
	}
	return col;
}

/* The options' help column: after the longest "-s SOCKET", two spaces. */
static int
opts_column(const cmd_opt_t *opts)
{
	int col = (int)strlen("  -h, --help  ");

	for (const cmd_opt_t *o = opts; o->name != NULL; o++) {
		int n = 2 + (int)strlen(o->name) + (o->arg ? 1 +
		    (int)strlen(o->arg) : 0) + 2;

		if (n > col)
			col = n;
	}
	return col < COLUMN ? col : COLUMN;
}

static void
opts_usage(const cmd_prog_t *p, FILE *fp)
{
	int col = opts_column(p->opts);
	char left[128];

	fprintf(fp, "\n%s:\n", p->opts_title ? p->opts_title : "Options");
	for (const cmd_opt_t *o = p->opts; o->name != NULL; o++) {
		snprintf(left, sizeof(left), "%s%s%s", o->name,
		    o->arg ? " " : "", o->arg ? o->arg : "");
		line(fp, col, left, o->help);
	}
	line(fp, col, "-h, --help", "this text");
}

void
cmd_usage(const cmd_prog_t *p, FILE *fp)
{
	char left[256];
	int col = cmds_column(p->cmds);

	fprintf(fp, "usage: %s %s\n", p->name, p->synopsis);
	if (p->about != NULL)
		fprintf(fp, "\n%s", p->about);
	fprintf(fp, "\nCommands:\n");
	for (const cmd_t *c = p->cmds; c->name != NULL; c++)
		line(fp, col, cmd_left(c, left, sizeof(left)), c->help);
	line(fp, col, "help [COMMAND]", "this text, or a command's options");
	if (p->opts != NULL)
		opts_usage(p, fp);
	if (p->footer != NULL)
		fprintf(fp, "\n%s", p->footer);
}

/* Does name start with the word w (followed by a space or its end)? */
static int
first_word_is(const char *name, const char *w)
{
	size_t n = strlen(w);

	return strncmp(name, w, n) == 0 && (name[n] == ' ' ||
	    name[n] == '\0');
}

const cmd_t *
cmd_find(const cmd_prog_t *p, int argc, char **argv, int *words)
{
	for (const cmd_t *c = p->cmds; c->name != NULL; c++) {
		const char *sp = strchr(c->name, ' ');

		if (argc < 1 || !first_word_is(c->name, argv[0]))
			continue;
		if (sp == NULL) {
			*words = 1;
			return c;
		}
		if (argc >= 2 && strcmp(sp + 1, argv[1]) == 0) {
			*words = 2;
			return c;
		}
	}
	return NULL;
}

/* Is w the first word of a group ("nodes" of "nodes add")? */
static int
is_group(const cmd_prog_t *p, const char *w)
{
	for (const cmd_t *c = p->cmds; c->name != NULL; c++)
		if (strchr(c->name, ' ') != NULL && first_word_is(c->name, w))
			return 1;
	return 0;
}

/* "add, list, show or remove" of group w, to fp. */
static void
group_list(const cmd_prog_t *p, const char *w, FILE *fp)
{
	const cmd_t *last = NULL;
	int first = 1;

	for (const cmd_t *c = p->cmds; c->name != NULL; c++)
		if (strchr(c->name, ' ') != NULL && first_word_is(c->name, w))
			last = c;
	for (const cmd_t *c = p->cmds; c->name != NULL; c++) {
		if (strchr(c->name, ' ') == NULL || !first_word_is(c->name, w))
			continue;
		fprintf(fp, "%s%s", first ? "" : c == last ? " or " : ", ",
		    strchr(c->name, ' ') + 1);
		first = 0;
	}
}

static int
usage_error(const cmd_prog_t *p, const char *what, const char *w)
{
	fprintf(stderr, "%s: %s '%s'\n", p->name, what, w);
	cmd_usage(p, stderr);
	return CMD_EX_USAGE;
}

/* The usage of c, to stdout. */
static int
command_help(const cmd_t *c)
{
	const char *w = strrchr(c->name, ' ');
	char word[64], help[] = "--help";
	char *hargv[] = { word, help, NULL };

	if (c->usage != NULL) {
		c->usage(stdout);
		return 0;
	}
	snprintf(word, sizeof(word), "%s", w ? w + 1 : c->name);
	return c->run(2, hargv);
}

static int
is_help(const char *w)
{
	return strcmp(w, "-h") == 0 || strcmp(w, "--help") == 0;
}

static const cmd_opt_t *
opt_find(const cmd_prog_t *p, const char *w)
{
	for (const cmd_opt_t *o = p->opts; o->name != NULL; o++)
		if (strcmp(o->name, w) == 0)
			return o;
	return NULL;
}

/*
 * Take the program's options at the front of argv, up to the command
 * (or -h, --help, --version). Returns how many words they were, or -1
 * after a usage error.
 */
static int
take_opts(const cmd_prog_t *p, int argc, char **argv)
{
	const cmd_opt_t *o;
	int i = 0;

	while (p->opts != NULL && i < argc && argv[i][0] == '-' &&
	    !is_help(argv[i]) && strcmp(argv[i], "--version") != 0) {
		if ((o = opt_find(p, argv[i])) == NULL) {
			usage_error(p, "unknown option", argv[i]);
			return -1;
		}
		if (o->arg == NULL) {
			*o->flag = 1;
			i++;
			continue;
		}
		if (i + 1 >= argc) {
			usage_error(p, "no value for option", argv[i]);
			return -1;
		}
		*o->val = argv[i + 1];
		i += 2;
	}
	return i;
}

int
cmd_main(const cmd_prog_t *p, int argc, char **argv)
{
	const cmd_t *c;
	int words, n;

	if ((n = take_opts(p, argc, argv)) < 0)
		return CMD_EX_USAGE;
	argc -= n;
	argv += n;
	if (argc < 1) {
		fprintf(stderr, "%s: no command\n", p->name);
		cmd_usage(p, stderr);
		return CMD_EX_USAGE;
	}
	if (is_help(argv[0]) || (strcmp(argv[0], "help") == 0 && argc == 1)) {
		cmd_usage(p, stdout);
		return 0;
	}
	if (strcmp(argv[0], "version") == 0 ||
	    strcmp(argv[0], "--version") == 0) {
		printf("%s %s\n", p->name, p->version);
		return 0;
	}
	if (strcmp(argv[0], "help") == 0) {
		if ((c = cmd_find(p, argc - 1, argv + 1, &words)) != NULL)
			return command_help(c);
		if (is_group(p, argv[1])) {
			if (argc == 2) {
				cmd_usage(p, stdout);
				return 0;
			}
			fprintf(stderr, "%s: help: unknown command '%s %s'\n",
			    p->name, argv[1], argv[2]);
			cmd_usage(p, stderr);
			return CMD_EX_USAGE;
		}
		return usage_error(p, "help: unknown command", argv[1]);
	}
	if ((c = cmd_find(p, argc, argv, &words)) != NULL)
		return c->run(argc - (words - 1), argv + (words - 1));
	if (is_group(p, argv[0])) {
		if (argc >= 2 && is_help(argv[1])) {
			cmd_usage(p, stdout);
			return 0;
		}
		if (argc < 2) {
			fprintf(stderr, "%s: %s: ", p->name, argv[0]);
			group_list(p, argv[0], stderr);
			fprintf(stderr, "?\n");
			cmd_usage(p, stderr);
			return CMD_EX_USAGE;
		}
		fprintf(stderr, "%s: %s: unknown command '%s'\n", p->name,
		    argv[0], argv[1]);
		cmd_usage(p, stderr);
		return CMD_EX_USAGE;
	}
	return usage_error(p, "unknown command", argv[0]);
}

/* ---- a command's options ---- */

#define MAX_OPTS	32
#define LONG_ONLY	256	/* getopt's values for long options */

int
cmd_getopt(int argc, char **argv, const cmd_opt_t *opts,
    void (*usage)(FILE *fp), int min, int max, int *first)
{
	struct option lo[MAX_OPTS + 2];
	char so[MAX_OPTS * 2 + 2] = "h", *sp = so + 1;
	size_t n, nl = 0;
	int ch, left;

	/* "-x" goes to the short options, "--name" to the long ones */
	for (n = 0; opts[n].name != NULL; n++) {
		const char *w = opts[n].name;

		if (n == MAX_OPTS || w[0] != '-' || w[1] == '\0')
			return CMD_EX_USAGE;	/* a bad table is a bug */
		if (w[1] != '-') {
			*sp++ = w[1];
			if (opts[n].arg != NULL)
				*sp++ = ':';
		} else
			lo[nl++] = (struct option){ w + 2, opts[n].arg ?
			    required_argument : no_argument, NULL,
			    LONG_ONLY + (int)n };
	}
	*sp = '\0';
	lo[nl++] = (struct option){ "help", no_argument, NULL, 'h' };
	lo[nl] = (struct option){ NULL, 0, NULL, 0 };
	optind = 0;	/* glibc: start afresh */
	while ((ch = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		size_t i;

		if (ch == 'h') {
			usage(stdout);
			return 0;
		}
		for (i = 0; i < n; i++)
			if (ch == (opts[i].name[1] == '-' ? LONG_ONLY +
			    (int)i : opts[i].name[1]))
				break;
		if (i == n) {
			usage(stderr);
			return CMD_EX_USAGE;
		}
		if (opts[i].arg != NULL)
			*opts[i].val = optarg;
		else
			*opts[i].flag = 1;
	}
	left = argc - optind;
	if (left < min || (max >= 0 && left > max)) {
		usage(stderr);
		return CMD_EX_USAGE;
	}
	if (first != NULL)
		*first = optind;
	return CMD_GO;
}

int
cmd_fail(const char *prog, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}
