/*
 * net/ssl.h - TLS between nodes, as upstream: mutual authentication against
 * one CA, peer certificates required and verified, TLS 1.2 at least (the
 * newest both sides have), no compression.  TLS wraps the whole NEO
 * stream, handshake included (see net/conn.h).
 */
#ifndef NEO_SSL_H
#define NEO_SSL_H

#include <stddef.h>

#include <openssl/ssl.h>

/*
 * A context from the three PEM files (all required).  NULL on failure,
 * with a message naming the file at fault in err.  The caller owns the
 * context (SSL_CTX_free).
 */
SSL_CTX *neo_ssl_context_new(const char *ca, const char *cert, const char *key,
			     char *err, size_t errlen);

#endif
