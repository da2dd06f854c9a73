/*
 * What both daemons do around their own work: the state directory
 * (created mode 0700), its exclusive lock and pid file, detaching to the
 * background or staying in the foreground, the event loop, SIGTERM and
 * SIGINT, and an orderly end.
 *
 * A daemon's run command:
 *
 *	daemon_start()      log to stderr, detach unless foreground, take
 *	                    the state directory, make the loop, catch signals
 *	...                 its own start-up on daemon_loop()
 *	daemon_ready()      start-up went well: release the starting process
 *	uv_run()
 *	daemon_drain()      after its stop function closed its handles
 *	...                 its own clean-up
 *	daemon_free()       remove the pid file, unlock
 *
 * While start-up runs (until daemon_ready) messages go to the terminal's
 * stderr, so a failure reaches the operator; when the daemon detached,
 * the starting process waits and exits with the daemon's exit status if
 * start-up fails, or 0 once it is ready.
 */
#ifndef FF_DAEMON_H
#define FF_DAEMON_H

#include <stddef.h>
#include <stdio.h>
#include <uv.h>

typedef struct daemon daemon_t;

/* Stop the daemon (close its handles so the loop ends); why is
   "SIGTERM" or "SIGINT". */
typedef void (*daemon_stop_fn)(void *arg, const char *why);

typedef struct daemon_opts {
	const char *prog;	/* "flowfleet-node": the log's name */
	/* "flowfleet-node", "controller": in "another WHO is running" */
	const char *who;
	const char *state_dir;
	const char *pid_file;	/* its name in state_dir: "node.pid" */
	int foreground;		/* stay, log to stderr; else detach, syslog */
	int log_level;		/* LOG_LVL_* */
	daemon_stop_fn stop;	/* on SIGTERM and SIGINT */
	void *arg;		/* for stop */
} daemon_opts_t;

/*
 * Start the daemon's shell, in this order: log to stderr, ignore
 * SIGPIPE, detach unless o->foreground (only the detached process
 * returns), make the state directory, lock it and write our pid to the
 * pid file, initialize the loop and catch SIGTERM and SIGINT (they call
 * o->stop once the loop runs). o is copied (its strings must outlive d).
 *
 * Returns 0 and *out (free with daemon_free()), or FF_EEXIST (another
 * process holds the state directory: "another WHO is running with state
 * directory DIR"), FF_EIO, FF_ENOMEM with a message in err; nothing is
 * left behind then.
 */
int daemon_start(const daemon_opts_t *o, daemon_t **out, char *err,
    size_t errlen);

/* The daemon's event loop. */
uv_loop_t *daemon_loop(daemon_t *d);

/* Stop catching SIGTERM and SIGINT (the stop function closes them with
   its other handles). Idempotent. */
void daemon_signals_close(daemon_t *d);

/*
 * Start-up is over: log to syslog unless in the foreground, and in a
 * detached daemon put stdio on /dev/null and let the starting process
 * exit 0.
 */
void daemon_ready(daemon_t *d);

/*
 * Run the loop until no handle is left (the caller has closed its own),
 * then close it; handles still open are logged. Returns 0, or FF_EBUSY
 * when the loop could not be closed. Idempotent.
 */
int daemon_drain(daemon_t *d);

/*
 * Close the signal handles and drain the loop if not done yet, remove
 * the pid file (it is still ours: we hold the lock), unlock, free d.
 * Accepts NULL.
 */
void daemon_free(daemon_t *d);

/* ---- what the daemons' commands share ---- */

/* The options of a daemon's run command. */
typedef struct daemon_args {
	const char *conf;	/* -c FILE, or NULL: the default file */
	int foreground;		/* -f */
	int check;		/* -n: check the configuration (-v: print it) */
	int verbose;		/* -v: log debug messages too */
} daemon_args_t;

/*
 * Read the run command's options -c FILE, -f, -n, -v (and -h, --help)
 * into *a; no operands. Returns CMD_GO (common/cmd.h) to run, or the
 * exit status (0 after --help, CMD_EX_USAGE after a usage error).
 */
int daemon_args(int argc, char **argv, void (*usage)(FILE *fp),
    daemon_args_t *a);

/*
 * The fingerprint commands' output: fp on stdout, after "PROG: made a
 * new key in DIR/key.pem" on stderr when the key was just made. Returns
 * the exit status: 0, or 1 when stdout cannot be written.
 */
int daemon_print_fp(const char *prog, const char *state_dir,
    const char *fp, int created);

/*
 * Make the state directory dir if it is missing (mode 0700; the parent
 * must exist) and check that it is a directory that no other user can
 * change (strict.h), and that no other user can put
 * another directory in its place: every directory above it belongs to
 * root or to us, and is not writable by group or others unless sticky.
 * Returns 0, or FF_EIO, FF_EINVAL, FF_EAUTH (with the chmod or chown
 * to run) with a message in err.
 */
int daemon_state_dir(const char *dir, char *err, size_t errlen);

/*
 * "dir/name" into buf (len bytes). Returns 0, or FF_ELIMIT when it does
 * not fit.
 */
int daemon_path(char *buf, size_t len, const char *dir, const char *name);

#endif
