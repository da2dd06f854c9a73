/*
 * Project-wide error codes. Library functions return 0 on success or one of
 * these negative values; daemons decide what is fatal.
 */
#ifndef FF_ERR_H
#define FF_ERR_H

enum ff_err {
	FF_OK = 0,
	FF_ENOMEM = -1,		/* allocation failed */
	FF_EINVAL = -2,		/* invalid argument or value */
	FF_EIO = -3,		/* I/O error; errno has details */
	FF_ETRUNC = -4,		/* input shorter than its header says */
	FF_EPROTO = -5,		/* malformed input or protocol violation */
	FF_ENOSPC = -6,		/* out of space (disk, map, buffer) */
	FF_ENOENT = -7,		/* no such item */
	FF_EEXIST = -8,		/* item exists */
	FF_ETIMEDOUT = -9,	/* deadline passed */
	FF_ECANCELED = -10,	/* operation cancelled */
	FF_ELIMIT = -11,	/* a configured limit was hit */
	FF_EAUTH = -12,		/* authentication or trust failure */
	FF_ECRYPTO = -13,	/* cryptographic operation failed */
	FF_EVERSION = -14,	/* unsupported version */
	FF_ESTORE = -15,	/* store (LMDB) error */
	FF_EBUSY = -16,		/* resource busy, try later */
	FF_ENOTSUP = -17,	/* not supported */
	FF_ESYNTAX = -18,	/* syntax error in a config, filter or query */
	FF_ERR_MIN = -18
};

/* Return a static description of err (0 or an ff_err value). */
const char *ff_strerror(int err);

#endif
