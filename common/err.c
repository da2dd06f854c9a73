#include "err.h"

const char *
ff_strerror(int err)
{
	switch (err) {
	case FF_OK:		return "success";
	case FF_ENOMEM:		return "out of memory";
	case FF_EINVAL:		return "invalid argument";
	case FF_EIO:		return "I/O error";
	case FF_ETRUNC:		return "truncated input";
	case FF_EPROTO:		return "malformed input";
	case FF_ENOSPC:		return "no space left";
	case FF_ENOENT:		return "not found";
	case FF_EEXIST:		return "already exists";
	case FF_ETIMEDOUT:	return "timed out";
	case FF_ECANCELED:	return "cancelled";
	case FF_ELIMIT:		return "limit exceeded";
	case FF_EAUTH:		return "authentication failed";
	case FF_ECRYPTO:	return "cryptographic failure";
	case FF_EVERSION:	return "unsupported version";
	case FF_ESTORE:		return "store error";
	case FF_EBUSY:		return "busy";
	case FF_ENOTSUP:	return "not supported";
	case FF_ESYNTAX:	return "syntax error";
	}
	return "unknown error";
}
