/*
 * The flowfleet CLI's pieces that need no controller: counts and
 * durations for narrow columns, fields of an answer, msgpack answers as
 * JSON, the nodes and status commands' option parser (the global
 * options after the command); and what it shares with the other
 * programs: aligned tables (common/table.c) and the command table's
 * global options and generated usage (common/cmd.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/cmd.h"
#include "common/err.h"
#include "common/table.h"
#include "controller/cli/cli.h"

/* ---- helpers ---- */

/* What fn wrote to a FILE, as a string (free it). */
struct capture {
	char *text;
	size_t len;
	FILE *fp;
};

static FILE *
capture_open(struct capture *c)
{
	memset(c, 0, sizeof(*c));
	c->fp = open_memstream(&c->text, &c->len);
	assert_non_null(c->fp);
	return c->fp;
}

static const char *
capture_close(struct capture *c)
{
	fclose(c->fp);
	return c->text;
}

/* Unpack the n bytes of msgpack in sb into *u (free with
   msgpack_unpacked_destroy). */
static const msgpack_object *
unpack(const msgpack_sbuffer *sb, msgpack_unpacked *u)
{
	size_t off = 0;

	msgpack_unpacked_init(u);
	assert_int_equal(msgpack_unpack_next(u, sb->data, sb->size, &off),
	    MSGPACK_UNPACK_SUCCESS);
	return &u->data;
}

/* Split s at spaces into argv (at most 15 words; NULL after the last).
   Returns argc. The words live until the next call. */
static int
split(const char *s, char *argv[16])
{
	static char copy[256];
	char *save = NULL;
	int argc = 0;

	snprintf(copy, sizeof(copy), "%s", s);
	for (char *w = strtok_r(copy, " ", &save); w != NULL && argc < 15;
	    w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	argv[argc] = NULL;
	return argc;
}

static void
pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* ---- format.c ---- */

static void
check_count(uint64_t v, const char *want)
{
	char buf[32];

	cli_count(v, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void
test_count(void **state)
{
	(void)state;
	check_count(0, "0");
	check_count(9999, "9999");
	check_count(10000, "10.0k");
	check_count(12345, "12.3k");
	check_count(9999999, "10000.0k");
	check_count(10000000, "10.0M");
	check_count(4567890123ull, "4567.9M");
	check_count(10000000000ull, "10.0G");
	check_count(UINT64_MAX, "18446744073.7G");
}

static void
check_duration(uint64_t ms, const char *want)
{
	char buf[32];

	cli_duration(ms, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void
test_duration(void **state)
{
	(void)state;
	check_duration(0, "0s");
	check_duration(999, "0s");
	check_duration(119999, "119s");
	check_duration(120000, "2m");
	check_duration(7199999, "119m");
	check_duration(7200000, "2h00m");
	check_duration((5 * 3600 + 3 * 60 + 59) * 1000ull, "5h03m");
	check_duration(172799999, "47h59m");
	check_duration(172800000, "2d00h");
	check_duration((3 * 86400 + 4 * 3600 + 59) * 1000ull, "3d04h");
}

static void
test_fields(void **state)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked u;
	const msgpack_object *m;
	char buf[8];

	(void)state;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 5);
	pack_str(&pk, "n");
	msgpack_pack_uint64(&pk, 42);
	pack_str(&pk, "b");
	msgpack_pack_true(&pk);
	pack_str(&pk, "s");
	pack_str(&pk, "up");
	pack_str(&pk, "long");
	pack_str(&pk, "longer than buf");
	pack_str(&pk, "a");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_nil(&pk);
	m = unpack(&sb, &u);

	assert_int_equal(cli_u64(m, "n"), 42);
	assert_int_equal(cli_u64(m, "s"), 0);		/* not a number */
	assert_int_equal(cli_u64(m, "absent"), 0);
	assert_int_equal(cli_u64(NULL, "n"), 0);
	assert_int_equal(cli_bool(m, "b"), 1);
	assert_int_equal(cli_bool(m, "n"), 0);
	assert_string_equal(cli_str(m, "s", "?", buf, sizeof(buf)), "up");
	assert_string_equal(cli_str(m, "absent", "?", buf, sizeof(buf)),
	    "?");
	assert_string_equal(cli_str(m, "long", "", buf, sizeof(buf)), "");
	assert_string_equal(cli_str(m, "n", "-", buf, sizeof(buf)), "-");
	assert_string_equal(cli_str(NULL, "s", "?", buf, sizeof(buf)), "?");
	assert_non_null(cli_array(m, "a"));
	assert_int_equal(cli_array(m, "a")->via.array.size, 1);
	assert_null(cli_array(m, "s"));
	assert_null(cli_array(m, "absent"));

	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);
}

/* ---- json.c ---- */

static void
test_json(void **state)
{
	static const char bin[] = { 0x00, 0x7f, (char)0xff };
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked u;
	struct capture c;

	(void)state;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 9);
	pack_str(&pk, "u");
	msgpack_pack_uint64(&pk, UINT64_MAX);
	pack_str(&pk, "i");
	msgpack_pack_int64(&pk, INT64_MIN);
	pack_str(&pk, "f");
	msgpack_pack_double(&pk, 0.5);
	pack_str(&pk, "t");
	msgpack_pack_true(&pk);
	pack_str(&pk, "nil");
	msgpack_pack_nil(&pk);
	pack_str(&pk, "s\"q");
	pack_str(&pk, "a\\b\nc\x01\x7f\xc3\xa9");
	pack_str(&pk, "bin");
	msgpack_pack_bin_with_body(&pk, bin, sizeof(bin));
	pack_str(&pk, "arr");
	msgpack_pack_array(&pk, 3);
	msgpack_pack_uint8(&pk, 1);
	msgpack_pack_map(&pk, 0);
	msgpack_pack_array(&pk, 0);
	msgpack_pack_uint8(&pk, 7);		/* a key that is no string */
	msgpack_pack_false(&pk);

	cli_json_write(capture_open(&c), unpack(&sb, &u));
	assert_string_equal(capture_close(&c),
	    "{\"u\":18446744073709551615,\"i\":-9223372036854775808,"
	    "\"f\":0.5,\"t\":true,\"nil\":null,"
	    "\"s\\\"q\":\"a\\\\b\\nc\\u0001\\u007f\xc3\xa9\","
	    "\"bin\":\"007fff\",\"arr\":[1,{},[]],\"?\":false}");
	free(c.text);
	msgpack_unpacked_destroy(&u);
	msgpack_sbuffer_destroy(&sb);
}

/* ---- options.c ---- */

static int usage_calls;

static void
fake_usage(FILE *fp)
{
	(void)fp;
	usage_calls++;
}

/* cli_parse() over the words of s (at most 15). */
static int
parse_words(const char *s, int add_opts, int nargs, struct cli_args *a)
{
	char *argv[16];
	int argc = split(s, argv);

	return cli_parse(argc, argv, add_opts, nargs, a, fake_usage);
}

static void
test_parse(void **state)
{
	struct cli_args a;

	(void)state;
	cli.socket = "default";
	cli.json = 0;
	usage_calls = 0;

	/* the global options after the command */
	assert_int_equal(parse_words("show x -s /tmp/s --json", 0, 1, &a),
	    -1);
	assert_string_equal(cli.socket, "/tmp/s");
	assert_int_equal(cli.json, 1);
	assert_int_equal(a.nargs, 1);
	assert_string_equal(a.args[0], "x");

	/* nodes add's own options */
	assert_int_equal(parse_words("add n 10.0.0.1 --label a --label b "
	    "--ttl 1h --fingerprint F", 1, 2, &a), -1);
	assert_int_equal(a.nargs, 2);
	assert_string_equal(a.args[1], "10.0.0.1");
	assert_int_equal(a.nlabels, 2);
	assert_string_equal(a.labels[1], "b");
	assert_string_equal(a.ttl, "1h");
	assert_string_equal(a.fp, "F");
	assert_int_equal(usage_calls, 0);

	/* usage errors: each prints the command's usage */
	assert_int_equal(parse_words("status --label x", 0, 0, &a),
	    EX_USAGE);
	assert_int_equal(parse_words("list extra", 0, 0, &a), EX_USAGE);
	assert_int_equal(parse_words("show", 0, 1, &a), EX_USAGE);
	assert_int_equal(parse_words("status -q", 0, 0, &a), EX_USAGE);
	assert_int_equal(usage_calls, 4);

	/* -h: the usage, and success */
	assert_int_equal(parse_words("status -h", 0, 0, &a), EX_OK);
	assert_int_equal(usage_calls, 5);
}

/* ---- common/table.c ---- */

static void
fill(const void *arg, long i, char cells[][TABLE_CELL])
{
	static const char *const hdr[] = { "NAME", "STATE", "FLOWS" };
	static const char *const rows[][3] = {
		{ "a", "up", "12" },
		{ "long-name", "connecting", "3.4k" },
	};

	(void)arg;
	if (i < 0) {
		table_header(cells, hdr, 3);
		return;
	}
	for (int c = 0; c < 3; c++)
		snprintf(cells[c], TABLE_CELL, "%s", rows[i][c]);
}

static void
test_table(void **state)
{
	static const int left_left[] = { 1, 1, 1 };
	static const int left_right[] = { 1, 1, 0 };
	struct capture c;
	int rc;

	(void)state;
	/* numbers right-aligned; a right-aligned last column is padded */
	rc = table_print(capture_open(&c), NULL, 2, 3, fill, left_right);
	assert_int_equal(rc, 0);
	assert_string_equal(capture_close(&c),
	    "NAME       STATE       FLOWS\n"
	    "a          up             12\n"
	    "long-name  connecting   3.4k\n");
	free(c.text);
	/* a left-aligned last column is not */
	rc = table_print(capture_open(&c), NULL, 2, 3, fill, left_left);
	assert_int_equal(rc, 0);
	assert_string_equal(capture_close(&c),
	    "NAME       STATE       FLOWS\n"
	    "a          up          12\n"
	    "long-name  connecting  3.4k\n");
	free(c.text);
	/* the header alone */
	table_print(capture_open(&c), NULL, 0, 2, fill, left_left);
	assert_string_equal(capture_close(&c), "NAME  STATE\n");
	free(c.text);
	/* too many or no columns: nothing */
	rc = table_print(capture_open(&c), NULL, 2, TABLE_MAX_COLS + 1, fill,
	    left_left);
	assert_int_equal(rc, FF_EINVAL);
	assert_int_equal(table_print(c.fp, NULL, 2, 0, fill, left_left),
	    FF_EINVAL);
	assert_string_equal(capture_close(&c), "");
	free(c.text);
}

/* ---- common/cmd.c: global options and the generated usage ---- */

static const char *opt_sock;
static int opt_json, ran_add, ran_list;

static int
run_add(int argc, char **argv)
{
	(void)argv;
	ran_add = argc;
	return 0;
}

static int
run_list(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	ran_list++;
	return 4;
}

static const cmd_t demo_cmds[] = {
	{ "things add", "NAME", "add a thing; a long help line that has to "
	    "be wrapped to stay within the screen", run_add, NULL },
	{ "things list", "", "list them", run_list, NULL },
	{ NULL, NULL, NULL, NULL, NULL }
};

static const cmd_opt_t demo_opts[] = {
	{ "-s", "SOCKET", "the socket", &opt_sock, NULL },
	{ "--json", NULL, "JSON", NULL, &opt_json },
	{ NULL, NULL, NULL, NULL, NULL }
};

static const cmd_prog_t demo = {
	.name = "demo",
	.version = "1",
	.synopsis = "[-s SOCKET] COMMAND",
	.cmds = demo_cmds,
	.opts = demo_opts,
	.opts_title = "Options (anywhere)",
	.footer = "Exit status: 0.\n",
};

static int
demo_main(const char *words)
{
	char *argv[16];
	int argc = split(words, argv);

	return cmd_main(&demo, argc, argv);
}

static void
test_cmd(void **state)
{
	struct capture c;

	(void)state;
	cmd_usage(&demo, capture_open(&c));
	assert_string_equal(capture_close(&c),
	    "usage: demo [-s SOCKET] COMMAND\n"
	    "\n"
	    "Commands:\n"
	    "  things add NAME   add a thing; a long help line that has to be "
	    "wrapped to\n"
	    "                    stay within the screen\n"
	    "  things list       list them\n"
	    "  help [COMMAND]    this text, or a command's options\n"
	    "\n"
	    "Options (anywhere):\n"
	    "  -s SOCKET   the socket\n"
	    "  --json      JSON\n"
	    "  -h, --help  this text\n"
	    "\n"
	    "Exit status: 0.\n");
	free(c.text);

	/* the global options before the command, then the command */
	assert_int_equal(demo_main("-s /x --json things add a b"), 0);
	assert_string_equal(opt_sock, "/x");
	assert_int_equal(opt_json, 1);
	assert_int_equal(ran_add, 3);		/* "add a b" */
	assert_int_equal(demo_main("things list"), 4);
	assert_int_equal(ran_list, 1);
	/* unknown option, missing value, group without its command */
	assert_int_equal(demo_main("-x things list"), CMD_EX_USAGE);
	assert_int_equal(demo_main("things list -s"), 4);  /* the command's */
	assert_int_equal(demo_main("-s"), CMD_EX_USAGE);
	assert_int_equal(demo_main("things"), CMD_EX_USAGE);
	assert_int_equal(demo_main("--json"), CMD_EX_USAGE);
	assert_int_equal(ran_list, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_count),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_cmd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
