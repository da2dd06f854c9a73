/*
 * Command tables. Each program (flowfleet-node, flowfleet-controller,
 * flowfleet) lists its commands once, in one table: name, arguments, one
 * line of help, handler and the command's own usage. The program's
 * usage text, "help [COMMAND]", "--help", "--version" and the dispatch
 * itself all come from that table, so a command is added in one place.
 *
 * Exit status 2 is a usage error in every program.
 */
#ifndef FF_CMD_H
#define FF_CMD_H

#include <stdio.h>

#define CMD_EX_USAGE	2

typedef struct cmd {
	/* One word ("run") or two ("nodes add": a command of a group). */
	const char *name;
	/* Synopsis of its arguments ("NAME ADDRESS [--label L]..."), or "". */
	const char *args;
	/* One line of help (wrapped when it is longer than the screen). */
	const char *help;
	/*
	 * Run it: argv[0] is the command's last word, argv[1..] its
	 * arguments. Returns the exit status.
	 */
	int (*run)(int argc, char **argv);
	/*
	 * Print the command's own usage (its options) to fp; NULL: "help
	 * COMMAND" runs the command with --help instead.
	 */
	void (*usage)(FILE *fp);
} cmd_t;

/*
 * An option ("-s SOCKET", "--json"). Of the program itself, given
 * before the command: cmd_main() stores it (a program whose commands
 * also accept it after the command says so in cmd_prog_t.opts_title).
 * Of a command: read by cmd_getopt() from the command's table.
 */
typedef struct cmd_opt {
	const char *name;	/* as typed: "-s", "--json" */
	const char *arg;	/* its value's name ("SOCKET"); NULL: a flag */
	const char *help;	/* one line (wrapped when long) */
	const char **val;	/* with arg: where the value goes */
	int *flag;		/* without arg: set to 1 when given */
} cmd_opt_t;

typedef struct cmd_prog {
	const char *name;	/* "flowfleet-node" */
	const char *version;	/* printed by "version" and "--version" */
	const char *synopsis;	/* after the name: "COMMAND [ARGS]" */
	const char *about;	/* a paragraph under the usage line, or NULL */
	const cmd_t *cmds;	/* ends with an entry whose name is NULL */
	const char *footer;	/* exit status...: text or NULL */
	/*
	 * The program's own options, ending with an entry whose name is
	 * NULL; NULL: none (then a word starting with '-' before the
	 * command is an unknown command).
	 */
	const cmd_opt_t *opts;
	const char *opts_title;	/* heading of their list; NULL: "Options" */
} cmd_prog_t;

/*
 * Print p's usage: the usage line, about, one line per command ("name
 * args" and its help, aligned and wrapped; "help [COMMAND]" last), the
 * program's options (with "-h, --help") when it has any, and the footer.
 */
void cmd_usage(const cmd_prog_t *p, FILE *fp);

/*
 * Find the command that argv[0] (and argv[1], for a group) names. Sets
 * *words to the number of words used (1 or 2). NULL when there is none.
 */
const cmd_t *cmd_find(const cmd_prog_t *p, int argc, char **argv,
    int *words);

/*
 * Run the command that argv names (argv: what follows the program's
 * name). First the program's own options (p->opts) before the command
 * are taken; an unknown one, or one missing its value, is a usage error
 * ("PROG: unknown option '-x'"). Also handles: no command, "help", "-h",
 * "--help" (usage on stdout, 0), "help COMMAND" (the command's usage),
 * "version" and "--version", a group word alone ("nodes": which
 * commands it has), and an unknown command ("PROG: unknown command 'x'"
 * and the usage on stderr, CMD_EX_USAGE). Returns the exit status.
 */
int cmd_main(const cmd_prog_t *p, int argc, char **argv);

/* ---- a command's options ---- */

/* cmd_getopt(): the options are good, run the command. */
#define CMD_GO	(-1)

/*
 * Read a command's options (argv[0] is the command's word) as the table
 * opts says (it ends with an entry whose name is NULL); -h and --help
 * are always known. Then at least min and at most max operands (max < 0:
 * any number) must follow; *first (may be NULL) is set to the index of
 * the first one. Options and operands may come in any order.
 *
 * Returns CMD_GO to run the command; else the command's exit status: 0
 * after -h/--help (usage on stdout), CMD_EX_USAGE after a bad option or
 * operand count (usage on stderr).
 */
int cmd_getopt(int argc, char **argv, const cmd_opt_t *opts,
    void (*usage)(FILE *fp), int min, int max, int *first);

/*
 * Report a failure of command prog ("flowfleet-node: ..." on stderr) and
 * return the exit status for it, 1.
 */
int cmd_fail(const char *prog, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
