/*
 * The controller's configuration file, in the language of common/conf.h
 * (the node's): its keywords, defaults and checks.
 * controller_config_parse() is a pure function of (file name, text) for
 * tests and the fuzzer; controller_config_load() reads the file around
 * it.
 */
#ifndef FF_CONTROLLER_CONFIG_H
#define FF_CONTROLLER_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONTROLLER_CONFIG_DEFAULT_PATH	"/etc/flowfleet/controller.conf"
#define CONTROLLER_CONFIG_DEFAULT_STATE	"/var/lib/flowfleet-controller"
#define CONTROLLER_CONFIG_MAX_SIZE	(256 * 1024)	/* bytes of text */
#define CONTROLLER_CONFIG_MAX_NAME	63
#define CONTROLLER_CONFIG_MAX_PATH	107	/* fits sockaddr_un.sun_path */

struct controller_config {
	char *file;			/* where the text came from */
	char *state_dir;		/* absolute */
	char *socket;			/* absolute, the CLI's socket */
	char *name;			/* NULL: the host name */
	uint64_t ping_interval_ms;	/* PING period, both channels */
	unsigned ping_misses;		/* missed PONGs that mean down */
	uint64_t status_interval_ms;	/* STATUS_GET period */
	uint64_t clock_warn_ms;		/* offset that is warned of */
	uint64_t reconnect_min_ms;	/* first reconnect delay */
	uint64_t reconnect_max_ms;	/* cap of the exponential backoff */
	uint64_t connect_timeout_ms;	/* TCP connect + TLS handshake */
	uint64_t token_ttl_ms;		/* default join token lifetime */
	uint64_t flush_interval_ms;	/* runtime state to the inventory */
	uint64_t query_timeout_ms;	/* default deadline of a query */
	int log_level;			/* LOG_LVL_* */
};

/* Ranges (inclusive) of the durations, in ms, and of ping-misses. */
#define CONTROLLER_CONFIG_PING_MIN	100
#define CONTROLLER_CONFIG_PING_MAX	60000
#define CONTROLLER_CONFIG_MISSES_MAX	100
#define CONTROLLER_CONFIG_STATUS_MIN	1000
#define CONTROLLER_CONFIG_STATUS_MAX	3600000
#define CONTROLLER_CONFIG_CLOCK_MIN	1
#define CONTROLLER_CONFIG_CLOCK_MAX	3600000
#define CONTROLLER_CONFIG_RECONNECT_MIN	100
#define CONTROLLER_CONFIG_RECONNECT_MAX	3600000
#define CONTROLLER_CONFIG_CONNECT_MIN	1000
#define CONTROLLER_CONFIG_CONNECT_MAX	300000
#define CONTROLLER_CONFIG_FLUSH_MIN	1000
#define CONTROLLER_CONFIG_FLUSH_MAX	3600000

/*
 * Parse len bytes of buf (text of the file fname, used in messages) into
 * a new *out; absent keywords take their defaults. On error returns
 * FF_ESYNTAX (or FF_ENOMEM) with "fname:line: what is wrong" in err and
 * leaves *out untouched. Free *out with controller_config_free().
 */
int controller_config_parse(const char *fname, const char *buf, size_t len,
    struct controller_config **out, char *err, size_t errlen);

/*
 * Read and parse path; a missing file gives the defaults when missing_ok.
 * Returns 0, FF_EIO, FF_ESYNTAX or FF_ENOMEM (message in err).
 */
int controller_config_load(const char *path, int missing_ok,
    struct controller_config **out, char *err, size_t errlen);

/* Free. Accepts NULL. */
void controller_config_free(struct controller_config *c);

/*
 * Print every setting in the syntax controller_config_parse() reads.
 * Returns 0 or FF_EIO.
 */
int controller_config_print(FILE *fp, const struct controller_config *c);

#endif
