/*
 * Address text parsing for peers: "host", "host:port", "[v6]", "[v6]:port";
 * node names, labels and node addresses ("host[:control[:query]]").
 */
#include <arpa/inet.h>
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

/* ---- node names, labels and node addresses ---- */

int
wire_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= WIRE_NAME_MAX && s[0] != '.' && s[0] != '-' &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") == n;
}

int
wire_label_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= WIRE_LABEL_MAX &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._:=/-") == n;
}

static int
port_parse(const char *s, size_t len, uint16_t *port)
{
	unsigned long v = 0;

	if (len == 0 || len > 5)
		return FF_EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return FF_EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return FF_EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int
wire_node_addr_parse(const char *text, char *host, size_t hostlen,
    uint16_t *cport, uint16_t *qport)
{
	const char *rest, *colon;
	size_t hl;

	*cport = WIRE_PORT_CONTROL;
	*qport = WIRE_PORT_QUERY;
	if (strlen(text) > WIRE_ADDR_MAX || text[0] == '\0')
		return FF_EINVAL;
	if (text[0] == '[') {
		const char *end = strchr(text, ']');
		struct in6_addr a6;

		if (end == NULL)
			return FF_EINVAL;
		hl = (size_t)(end - text - 1);
		if (hl == 0 || hl >= hostlen)
			return FF_EINVAL;
		memcpy(host, text + 1, hl);
		host[hl] = '\0';
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return FF_EINVAL;
		rest = end + 1;
		if (*rest != '\0' && *rest != ':')
			return FF_EINVAL;
	} else {
		rest = strchr(text, ':');
		hl = rest ? (size_t)(rest - text) : strlen(text);
		if (hl == 0 || hl >= hostlen)
			return FF_EINVAL;
		memcpy(host, text, hl);
		host[hl] = '\0';
		/* a host name or an IPv4 address: no odd characters */
		if (strspn(host, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != hl ||
		    host[0] == '-' || host[0] == '.')
			return FF_EINVAL;
		if (rest == NULL)
			rest = "";
	}
	if (*rest == '\0')
		return 0;
	rest++;		/* past ':' */
	colon = strchr(rest, ':');
	if (port_parse(rest, colon ? (size_t)(colon - rest) : strlen(rest),
	    cport) != 0)
		return FF_EINVAL;
	if (colon == NULL)
		return 0;
	if (port_parse(colon + 1, strlen(colon + 1), qport) != 0)
		return FF_EINVAL;
	return 0;
}
