/*
 * Address text parsing for peers: "host", "host:port", "[v6]", "[v6]:port".
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/err.h"
#include "wire.h"

int
wire_parse_hostport(const char *text, uint16_t default_port,
    struct sockaddr_storage *ss)
{
	char host[256], portbuf[8];
	const char *port = NULL;
	struct addrinfo hints, *res = NULL;
	size_t len = strlen(text);

	if (len == 0 || len >= sizeof(host))
		return FF_EINVAL;
	if (text[0] == '[') {
		const char *end = strchr(text, ']');

		if (end == NULL || (size_t)(end - text - 1) >= sizeof(host))
			return FF_EINVAL;
		memcpy(host, text + 1, (size_t)(end - text - 1));
		host[end - text - 1] = '\0';
		if (end[1] == ':')
			port = end + 2;
		else if (end[1] != '\0')
			return FF_EINVAL;
	} else {
		const char *colon = strchr(text, ':');

		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			return FF_EINVAL;	/* bare IPv6 needs brackets */
		memcpy(host, text, len + 1);
		if (colon != NULL) {
			host[colon - text] = '\0';
			port = colon + 1;
		}
	}
	if (port != NULL) {
		char *e;
		unsigned long v = strtoul(port, &e, 10);

		if (*port == '\0' || *e != '\0' || v == 0 || v > 65535)
			return FF_EINVAL;
		default_port = (uint16_t)v;
	}
	if (host[0] == '\0')
		return FF_EINVAL;
	snprintf(portbuf, sizeof(portbuf), "%u", default_port);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, portbuf, &hints, &res) != 0 || res == NULL)
		return FF_EINVAL;
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}
