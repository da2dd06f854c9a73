/*
 * The controller pin and the join token; see trust.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "common/err.h"
#include "common/log.h"
#include "common/strict.h"
#include "trust.h"

struct node_trust {
	char fp[WIRE_FP_LEN];		/* "" when nothing is pinned */
	char secret[WIRE_TOKEN_SECRET_LEN + 1];
	int have_secret;
	char joined[TRUST_JOINED_LEN];	/* hex, or "" */
	char path[4200];		/* the state file */
};

static void
hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

int
trust_state_parse(const char *buf, size_t len, char fp[WIRE_FP_LEN],
    char joined[TRUST_JOINED_LEN], int *badline)
{
	size_t pos = 0;
	int lineno = 0;

	fp[0] = '\0';
	joined[0] = '\0';
	*badline = 0;
	if (len > TRUST_FILE_MAX || memchr(buf, '\0', len) != NULL)
		return FF_EPROTO;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = (nl ? (size_t)(nl - buf) : len) - pos;
		char line[TRUST_FILE_MAX + 1];

		lineno++;
		memcpy(line, buf + pos, n);
		line[n] = '\0';
		pos += n + 1;
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (strncmp(line, "controller ", 11) == 0 &&
		    wire_fp_parse(line + 11, fp) == 0)
			continue;
		if (strncmp(line, "joined ", 7) == 0 &&
		    strlen(line + 7) == TRUST_JOINED_LEN - 1 &&
		    strspn(line + 7, "0123456789abcdef") ==
		    TRUST_JOINED_LEN - 1) {
			memcpy(joined, line + 7, TRUST_JOINED_LEN);
			continue;
		}
		fp[0] = '\0';
		joined[0] = '\0';
		*badline = lineno;
		return FF_EPROTO;
	}
	return 0;
}

/* Read the state file into fp and t->joined. A missing file is fine. */
static int
read_state(node_trust_t *t, char *fp, char *err, size_t errlen)
{
	char buf[TRUST_FILE_MAX + 1];
	struct stat st;
	ssize_t n;
	int fd, bad;

	fp[0] = '\0';
	if ((fd = open(t->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", t->path, strerror(errno));
		return FF_EIO;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", t->path, strerror(errno));
		close(fd);
		return FF_EIO;
	}
	if (strict_check(t->path, &st, err, errlen) != 0) {
		close(fd);
		return FF_EAUTH;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0 || n > TRUST_FILE_MAX) {
		snprintf(err, errlen, "%s: %s", t->path, n < 0 ?
		    strerror(errno) : "file is too large");
		return FF_EIO;
	}
	if (trust_state_parse(buf, (size_t)n, fp, t->joined, &bad) != 0) {
		snprintf(err, errlen, "%s:%d: damaged (expected 'controller "
		    "FINGERPRINT' or 'joined HASH'); remove the file to "
		    "forget the pinned controller", t->path, bad);
		return FF_EPROTO;
	}
	return 0;
}

static int
write_state(node_trust_t *t, char *err, size_t errlen)
{
	char tmp[sizeof(t->path) + 8], text[512];
	int fd, len;

	len = snprintf(text, sizeof(text), "# flowfleet-node: the controller "
	    "key this node trusts (written by the node)\ncontroller %s\n%s%s%s",
	    t->fp, t->joined[0] ? "joined " : "", t->joined,
	    t->joined[0] ? "\n" : "");
	snprintf(tmp, sizeof(tmp), "%s.tmp", t->path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return FF_EIO;
	}
	if (write(fd, text, (size_t)len) != len || fsync(fd) != 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return FF_EIO;
	}
	close(fd);
	if (rename(tmp, t->path) != 0) {
		snprintf(err, errlen, "%s: %s", t->path, strerror(errno));
		unlink(tmp);
		return FF_EIO;
	}
	return 0;
}

int
trust_load(const char *state_dir, const char *cfg_fp, const char *token,
    node_trust_t **out, char *err, size_t errlen)
{
	node_trust_t *t;
	char state_fp[WIRE_FP_LEN], tok_fp[WIRE_FP_LEN];
	uint8_t h[WIRE_TOKEN_HASH_LEN];
	char hh[sizeof(t->joined)];
	int rc;

	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return FF_ENOMEM;
	}
	if ((size_t)snprintf(t->path, sizeof(t->path), "%s/%s", state_dir,
	    TRUST_FILE) >= sizeof(t->path)) {
		snprintf(err, errlen, "%s: path too long", state_dir);
		free(t);
		return FF_EINVAL;
	}
	if ((rc = read_state(t, state_fp, err, errlen)) != 0) {
		free(t);
		return rc;
	}
	if (token != NULL) {
		if (wire_token_parse(token, tok_fp, t->secret) != 0 ||
		    wire_token_hash(t->secret, strlen(t->secret), h) != 0) {
			snprintf(err, errlen, "join-token is not a valid "
			    "token");
			trust_free(t);
			return FF_EINVAL;
		}
		hex(h, sizeof(h), hh);
		if (strcmp(hh, t->joined) == 0) {
			log_info("the join token in the configuration was "
			    "used already; it can be removed");
			sodium_memzero(t->secret, sizeof(t->secret));
		} else
			t->have_secret = 1;
	}
	if (cfg_fp != NULL) {
		snprintf(t->fp, sizeof(t->fp), "%s", cfg_fp);
		log_info("trusting controller key %s (configuration)", t->fp);
	} else if (token != NULL) {
		snprintf(t->fp, sizeof(t->fp), "%s", tok_fp);
		log_info("trusting controller key %s (join token)", t->fp);
		if (strcmp(state_fp, t->fp) != 0) {
			if (state_fp[0])
				log_warnx("the join token names another "
				    "controller key than the one pinned "
				    "before (%s): now trusting the token's",
				    state_fp);
			if ((rc = write_state(t, err, errlen)) != 0) {
				trust_free(t);
				return rc;
			}
		}
	} else if (state_fp[0]) {
		snprintf(t->fp, sizeof(t->fp), "%s", state_fp);
		log_info("trusting controller key %s (learned from a join "
		    "token, %s)", t->fp, t->path);
	} else
		log_warnx("no controller key is pinned and there is no join "
		    "token: every connection on the control and query ports "
		    "will be refused (set controller-fingerprint or "
		    "join-token)");
	if (t->have_secret)
		log_info("holding a join token: waiting for the controller to "
		    "enroll this node");
	*out = t;
	return 0;
}

void
trust_free(node_trust_t *t)
{
	if (t == NULL)
		return;
	sodium_memzero(t, sizeof(*t));
	free(t);
}

int
trust_accepts(const node_trust_t *t, const char *fp)
{
	if (t->fp[0] == '\0')
		return -1;
	return wire_fp_equal(t->fp, fp) ? 0 : -1;
}

const char *
trust_fp(const node_trust_t *t)
{
	return t->fp;
}

const char *
trust_secret(const node_trust_t *t)
{
	return t->have_secret ? t->secret : NULL;
}

int
trust_joined(node_trust_t *t, char *err, size_t errlen)
{
	uint8_t h[WIRE_TOKEN_HASH_LEN];

	if (!t->have_secret)
		return 0;
	if (wire_token_hash(t->secret, strlen(t->secret), h) == 0)
		hex(h, sizeof(h), t->joined);
	sodium_memzero(t->secret, sizeof(t->secret));
	t->have_secret = 0;
	return write_state(t, err, errlen);
}
