/*
 * The node's configuration file, in the language of common/conf.h: its
 * keywords, defaults and checks. The parser is a pure function of (file
 * name, text), with nothing of the node's runtime, so that tests, the
 * fuzzer and whoever validates node configuration text can drive it;
 * config_load() adds the file reading around it.
 */
#ifndef FF_NODECONF_H
#define FF_NODECONF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "common/conf.h"	/* conf_addr_fmt() for the listen addresses */

/* The default of every keyword is in its table (nodeconf.c), as it would be
   written in the file, and in deploy/flowfleet-node.conf. */
#define CONFIG_DEFAULT_PATH	"/etc/flowfleet/node.conf"
#define CONFIG_DEFAULT_STATE	"/var/lib/flowfleet"
#define CONFIG_MIN_RCVBUF	4096ull
#define CONFIG_MAX_RCVBUF	(1024ull * 1024 * 1024)	/* doubled: fits int */
#define CONFIG_MIN_HOLD_MS	100
#define CONFIG_MAX_HOLD_MS	3600000
#define CONFIG_MIN_TPL_MEMORY	(1ull << 20)	/* 1M */
#define CONFIG_MAX_TPL_MEMORY	(64ull << 30)	/* 64G */
#define CONFIG_MAX_LISTEN	256
#define CONFIG_MAX_SIZE		(1024 * 1024)	/* bytes of config text */
#define CONFIG_MAX_NAME		63		/* bytes of a node name */
/* flow store (node/writer.c) */
#define CONFIG_MIN_RETENTION_AGE_MS	60000ull		/* 1m */
#define CONFIG_MAX_RETENTION_AGE_MS	(3660ull * 86400 * 1000)	/* ~10y */
#define CONFIG_MIN_STORE_SIZE		(1ull << 20)		/* 1M */
#define CONFIG_MAX_STORE_SIZE		(64ull << 40)		/* 64T */
#define CONFIG_MAX_STORE_QUEUE		1024
/* exporters (node/decode/exporter.c, node/listener.c) */
#define CONFIG_MIN_EXPORTER_IDLE_MS	1000ull			/* 1s */
#define CONFIG_MAX_EXPORTER_IDLE_MS	(30ull * 86400 * 1000)	/* 30d */
#define CONFIG_MAX_EXPORTERS_PER_SOURCE	65536	/* the whole table */
#define CONFIG_MAX_ALLOW		256	/* exporter-allow prefixes */
/* queries on 4210 (node/qengine.c) */
#define CONFIG_MAX_QUERY_RUNNING	64
#define CONFIG_MAX_QUERY_QUEUED		4096
#define CONFIG_MAX_QUERY_THREADS	256

/* What a listen socket is labelled as receiving (the decoder auto-detects
   the content whatever the label). */
enum config_proto {
	CONFIG_PROTO_ANY = 0,
	CONFIG_PROTO_NETFLOW,	/* NetFlow v5/v9, IPFIX */
	CONFIG_PROTO_SFLOW
};

/* One exporter-allow prefix. */
struct config_prefix {
	uint8_t addr[16];		/* IPv4-mapped for IPv4; bits past
					   len are zero */
	unsigned len;			/* of the 128 bits (IPv4: 96 + n) */
	int line;
};

/* One UDP listen address. */
struct config_listen {
	struct sockaddr_storage ss;	/* AF_INET or AF_INET6, port set */
	socklen_t sslen;
	int proto;			/* enum config_proto */
	int line;			/* line in the file, 0 for a default */
};

struct node_config {
	char *file;			/* file name the text came from */
	char *state_dir;		/* absolute path */
	struct config_listen *listen;
	size_t nlisten;
	int listen_default;		/* 1: no listen line, defaults used */
	uint64_t rcvbuf;		/* SO_RCVBUF bytes to ask for */
	int hold_unknown;		/* 1: hold data without template */
	uint64_t hold_time_ms;
	uint64_t template_memory;	/* v9/IPFIX template memory budget */
	int log_level;			/* LOG_LVL_* */
	/* exporters (node/decode/exporter.c, node/listener.c) */
	uint64_t exporter_idle_ms;	/* forget after this long idle; 0:
					   never */
	unsigned exporter_max_per_source;	/* exporters per UDP source */
	struct config_prefix *allow;	/* decode only datagrams from
					   these; none: from everyone */
	size_t nallow;
	/* control plane (node/control.c) */
	char *name;			/* NULL: the host name */
	struct config_listen control_listen;	/* TCP, default *:2210 */
	struct config_listen query_listen;	/* TCP, default *:4210 */
	char *controller_fp;		/* canonical "sha256:..." or NULL */
	char *join_token;		/* "ffj1...." or NULL */
	/* flow store (node/writer.c), in STATE_DIR/flows */
	uint64_t retention_age_ms;	/* drop flows older than this; 0 none */
	uint64_t retention_size;	/* keep the store below; 0 none */
	uint64_t store_map_size;	/* LMDB map size; 0 auto */
	int store_sync;			/* 1: fsync at every commit */
	unsigned store_queue;		/* batches that may wait for the
					   writer (back-pressure beyond) */
	/* queries from the controller (node/qengine.c) */
	unsigned query_max_running;	/* at once, kept aggregates included */
	unsigned query_max_queued;	/* waiting for a slot; 0: none */
	unsigned query_threads;		/* scan threads per query; 0: cores */
	uint64_t query_max_ms;		/* time limit of one query */
	uint64_t query_max_mem;		/* memory limit of one query */
	uint64_t query_max_rows;	/* keys/buckets/flows of one answer */
	uint64_t query_max_result;	/* bytes of one packed answer */
	/* the first keyword of the host's own (CONF_LOCAL) in the text,
	   by line, or NULL and 0 (see config_check_pushable()) */
	const char *local_keyword;
	int local_line;
};

/*
 * Parse len bytes of config text buf (need not be NUL-terminated), read
 * from the file named fname (used in messages only), into a new *out.
 * This is the parser of text in memory: nothing is read from disk, and
 * fname is only the display name its messages start with (NULL:
 * "(config)"), so a controller can check text it holds for a node.
 * Keywords that are absent take their defaults. On error returns
 * FF_ESYNTAX (or FF_ENOMEM) with "fname:line: what is wrong" in err
 * (errlen bytes) and leaves *out untouched. The caller frees *out with
 * config_free().
 */
int config_parse(const char *fname, const char *buf, size_t len,
    struct node_config **out, char *err, size_t errlen);

/*
 * Read and parse the file at path. When the file does not exist and
 * missing_ok is set, return the defaults. Returns 0, FF_EIO (unreadable,
 * too large, or missing without missing_ok), FF_ESYNTAX or FF_ENOMEM, with
 * a message in err on failure. The caller frees *out with config_free().
 */
int config_load(const char *path, int missing_ok, struct node_config **out,
    char *err, size_t errlen);

/*
 * The keywords flagged CONF_LOCAL in the table are set on the node
 * itself and never pushed by a controller: the ones that would cut the
 * node off from its controller or change who it is (state-dir,
 * control-listen, query-listen, controller-fingerprint, join-token,
 * name). Returns 0 when c, parsed from text, uses none of them;
 * otherwise FF_EINVAL with "FILE:LINE: 'KEYWORD' is set on the node
 * itself and cannot be pushed by the controller" in err (errlen bytes)
 * for the first one in the text.
 */
int config_check_pushable(const struct node_config *c, char *err,
    size_t errlen);

/*
 * Check configuration text a controller would push to a node: parse it
 * as config_parse() does (fname the display name), then
 * config_check_pushable(). Returns 0, or FF_ESYNTAX, FF_ENOMEM or
 * FF_EINVAL with "FILE:LINE: what is wrong" in err.
 */
int config_check_push_text(const char *fname, const char *buf, size_t len,
    char *err, size_t errlen);

/* 1 if name is a keyword of the node's configuration that is set on
   the node itself (CONF_LOCAL), 0 if it is another keyword, -1 if it is
   no keyword. */
int config_keyword_local(const char *name);

/* Free a configuration. Accepts NULL. */
void config_free(struct node_config *c);

/*
 * Print c in normalized form (every keyword with its effective value, in
 * the syntax config_parse() reads) to fp. Returns 0 or FF_EIO.
 */
int config_print(FILE *fp, const struct node_config *c);

/* Name of an enum config_proto value: "any", "netflow" or "sflow". */
const char *config_proto_name(int proto);

#endif
