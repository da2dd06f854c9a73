/*
 * The client side of a local control socket; see ctlclient.h.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctlclient.h"
#include "err.h"

int
ctlclient_connect(const char *path)
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
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return FF_EIO;
	}
	return fd;
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
			return FF_EIO;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
