/*
 * The client side of a local control socket; see ctlclient.h.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctlclient.h"
#include "err.h"

int
ctlclient_set_timeout(int fd, int timeout_ms)
{
	struct timeval tv = { 0, 0 };

	if (timeout_ms >= 0) {
		/* 0 would mean "no limit" to the kernel */
		if (timeout_ms == 0)
			timeout_ms = 1;
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
	}
	return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == 0 ?
	    0 : FF_EIO;
}

int
ctlclient_connect_within(const char *path, int timeout_ms)
{
	struct sockaddr_un sun;
	int fd, e;

	if (strlen(path) >= sizeof(sun.sun_path))
		return FF_EINVAL;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return FF_EIO;
	/* a Unix connect waits for room in the listener's backlog as long
	   as the send timeout allows */
	if (timeout_ms >= 0 && ctlclient_set_timeout(fd, timeout_ms) != 0) {
		e = errno;
		close(fd);
		errno = e;
		return FF_EIO;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return e == EAGAIN || e == EWOULDBLOCK ? FF_ETIMEDOUT :
		    FF_EIO;
	}
	return fd;
}

int
ctlclient_connect(const char *path)
{
	return ctlclient_connect_within(path, -1);
}

int
ctlclient_send(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return errno == EAGAIN || errno == EWOULDBLOCK ?
			    FF_ETIMEDOUT : FF_EIO;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
