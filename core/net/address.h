/*
 * net/address.h - node addresses as neo.conf and the wire write them.
 *
 * Text forms: "host:port", "host" (a default port), "[v6addr]:port",
 * "[v6addr]", and a bare IPv6 address with no port ("::1").  On the wire an
 * address is (bin host, int port), an IPv6 host without brackets.  A list
 * of masters is separated by spaces, commas or newlines.
 */
#ifndef NEO_ADDRESS_H
#define NEO_ADDRESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct neo_address {
	char host[256];
	uint16_t port;
};

/* default_port < 0: a port is required.  Returns 0, or -1 with err. */
int neo_address_parse(const char *text, int default_port, struct neo_address *out,
		      char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Parses a list; *out is malloc'ed (the caller frees it), *count its size. */
int neo_address_list_parse(const char *text, int default_port, struct neo_address **out,
			   size_t *count, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* "host:port" or "[v6]:port" into buf; returns buf. */
const char *neo_address_format(const struct neo_address *addr, char *buf, size_t buflen);

/* Resolves with getaddrinfo (names, IPv4, IPv6); the first result wins. */
int neo_address_resolve(const struct neo_address *addr, struct sockaddr_storage *out,
			socklen_t *outlen, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The address of a socket name (for the bound port of a listener). */
int neo_address_from_sockaddr(const struct sockaddr *sa, struct neo_address *out)
	__attribute__((warn_unused_result));

#endif
