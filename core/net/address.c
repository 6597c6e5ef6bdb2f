/* net/address.c - see net/address.h. */
#include "net/address.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/alloc.h"

static int fail(char *err, size_t errlen, const char *text, const char *why)
{
	snprintf(err, errlen, "bad address '%s': %s", text, why);
	return -1;
}

static int parse_port(const char *text, const char *port, struct neo_address *out,
		      char *err, size_t errlen)
{
	char *end;
	long value = strtol(port, &end, 10);

	if (*port == '\0' || *end != '\0' || value < 0 || value > 65535)
		return fail(err, errlen, text, "port must be a number from 0 to 65535");
	out->port = (uint16_t)value;
	return 0;
}

static int set_host(const char *text, const char *host, size_t len, struct neo_address *out,
		    char *err, size_t errlen)
{
	if (len == 0)
		return fail(err, errlen, text, "no host");
	if (len >= sizeof(out->host))
		return fail(err, errlen, text, "host name too long");
	memcpy(out->host, host, len);
	out->host[len] = '\0';
	return 0;
}

int neo_address_parse(const char *text, int default_port, struct neo_address *out,
		      char *err, size_t errlen)
{
	const char *colon;

	memset(out, 0, sizeof(*out));
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL)
			return fail(err, errlen, text, "missing ']'");
		if (set_host(text, text + 1, (size_t)(close - text - 1), out, err, errlen))
			return -1;
		if (close[1] == ':')
			return parse_port(text, close + 2, out, err, errlen);
		if (close[1] != '\0')
			return fail(err, errlen, text, "junk after ']'");
	} else if ((colon = strchr(text, ':')) != NULL && strchr(colon + 1, ':') == NULL) {
		if (set_host(text, text, (size_t)(colon - text), out, err, errlen))
			return -1;
		return parse_port(text, colon + 1, out, err, errlen);
	} else if (set_host(text, text, strlen(text), out, err, errlen)) {
		return -1;	/* a name, IPv4, or a bare IPv6 (several ':') */
	}
	if (default_port < 0)
		return fail(err, errlen, text, "a port is required");
	out->port = (uint16_t)default_port;
	return 0;
}

int neo_address_list_parse(const char *text, int default_port, struct neo_address **out,
			   size_t *count, char *err, size_t errlen)
{
	struct neo_address *list = NULL;
	size_t n = 0, room = 0;
	char word[300];

	*out = NULL;
	*count = 0;
	while (*text) {
		size_t len;

		text += strspn(text, " ,\t\r\n");
		len = strcspn(text, " ,\t\r\n");
		if (len == 0)
			break;
		if (len >= sizeof(word)) {
			neo_free(list);
			return fail(err, errlen, text, "too long");
		}
		memcpy(word, text, len);
		word[len] = '\0';
		text += len;
		if (neo_grow(&list, &room, n + 1, sizeof *list)) {
			neo_free(list);
			return fail(err, errlen, word, "out of memory");
		}
		if (neo_address_parse(word, default_port, &list[n], err, errlen)) {
			neo_free(list);
			return -1;
		}
		n++;
	}
	*out = list;
	*count = n;
	return 0;
}

const char *neo_address_format(const struct neo_address *addr, char *buf, size_t buflen)
{
	if (strchr(addr->host, ':') != NULL)
		snprintf(buf, buflen, "[%s]:%u", addr->host, addr->port);
	else
		snprintf(buf, buflen, "%s:%u", addr->host, addr->port);
	return buf;
}

int neo_address_resolve(const struct neo_address *addr, struct sockaddr_storage *out,
			socklen_t *outlen, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC };
	struct addrinfo *result = NULL;
	char port[8];
	int r;

	snprintf(port, sizeof(port), "%u", addr->port);
	r = getaddrinfo(addr->host, port, &hints, &result);
	if (r != 0 || result == NULL) {
		snprintf(err, errlen, "cannot resolve '%s': %s", addr->host, gai_strerror(r));
		return -1;
	}
	memcpy(out, result->ai_addr, result->ai_addrlen);
	*outlen = result->ai_addrlen;
	freeaddrinfo(result);
	return 0;
}

int neo_address_from_sockaddr(const struct sockaddr *sa, struct neo_address *out)
{
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, out->host, sizeof(out->host));
		out->port = ntohs(in->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, out->host, sizeof(out->host));
		out->port = ntohs(in6->sin6_port);
		return 0;
	}
	return -1;
}
