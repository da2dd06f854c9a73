/*
 * The options every command takes (-s SOCKET, --json) and where their
 * values live; the option parser of the nodes and status commands.
 * main.c fills cli with the options given before the command; a
 * command's parser adds those given after it.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "cli.h"

struct cli_globals cli = { .socket = WIRE_CTL_SOCKET_DEFAULT };

void
cli_globals_init(void)
{
	const char *env = getenv("FLOWFLEET_SOCKET");

	if (env != NULL && env[0] != '\0')
		cli.socket = env;
}

int
cli_usage_error(void (*usage)(FILE *), const char *fmt, ...)
{
	va_list ap;

	fputs(CLI_PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n", stderr);
	usage(stderr);
	return EX_USAGE;
}

/* One option (getopt's ch) with its value. Returns -1, or an exit code. */
static int
take(int ch, const char *val, int add_opts, struct cli_args *a,
    void (*usage)(FILE *))
{
	if (ch == 's') {
		cli.socket = val;
		return -1;
	}
	if (ch == 'j') {
		cli.json = 1;
		return -1;
	}
	if (ch == 'T') {
		if (parse_duration_ms(val, &cli.timeout_ms) != 0 ||
		    cli.timeout_ms == 0 || cli.timeout_ms > INT32_MAX)
			return cli_usage_error(usage, "--timeout: bad duration "
			    "'%s'", val);
		return -1;
	}
	if (!add_opts)
		return cli_usage_error(usage, "--%s is an option of 'nodes "
		    "add'", ch == 'l' ? "label" : ch == 'f' ? "fingerprint" :
		    "ttl");
	if (ch == 'f')
		a->fp = val;
	else if (ch == 't')
		a->ttl = val;
	else if (a->nlabels == WIRE_LABELS_MAX)
		return cli_usage_error(usage, "at most %d labels",
		    WIRE_LABELS_MAX);
	else
		a->labels[a->nlabels++] = val;
	return -1;
}

int
cli_parse(int argc, char **argv, int add_opts, int nargs,
    struct cli_args *a, void (*usage)(FILE *))
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "label", required_argument, NULL, 'l' },
		{ "fingerprint", required_argument, NULL, 'f' },
		{ "ttl", required_argument, NULL, 't' },
		{ "timeout", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 }
	};
	int ch, rc;

	memset(a, 0, sizeof(*a));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
		if (ch == 'h') {
			usage(stdout);
			return EX_OK;
		}
		if (ch == '?' || ch == ':') {
			usage(stderr);
			return EX_USAGE;
		}
		if ((rc = take(ch, optarg, add_opts, a, usage)) >= 0)
			return rc;
	}
	for (int i = optind; i < argc; i++) {
		if (a->nargs == nargs)
			return cli_usage_error(usage, "unexpected argument "
			    "'%s'", argv[i]);
		a->args[a->nargs++] = argv[i];
	}
	if (a->nargs < nargs)
		return cli_usage_error(usage, "missing argument");
	return -1;
}
