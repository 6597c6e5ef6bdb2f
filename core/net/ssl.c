/* net/ssl.c - see net/ssl.h. */
#include "net/ssl.h"

#include <stdio.h>

#include <openssl/err.h>

static SSL_CTX *fail(SSL_CTX *ctx, char *err, size_t errlen, const char *what,
		     const char *path)
{
	char reason[200];

	ERR_error_string_n(ERR_get_error(), reason, sizeof(reason));
	snprintf(err, errlen, "SSL: %s '%s': %s", what, path, reason);
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *neo_ssl_context_new(const char *ca, const char *cert, const char *key,
			     char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if (ca == NULL || cert == NULL || key == NULL) {
		snprintf(err, errlen, "SSL needs all three of ca, cert and key");
		return NULL;
	}
	ctx = SSL_CTX_new(TLS_method());
	if (ctx == NULL)
		return fail(NULL, err, errlen, "cannot create a context for", ca);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION);
	/* Both ends must show a certificate signed by the CA. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(ctx), X509_V_FLAG_X509_STRICT);
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
		return fail(ctx, err, errlen, "cannot load the CA", ca);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		return fail(ctx, err, errlen, "cannot load the certificate", cert);
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		return fail(ctx, err, errlen, "cannot load the key", key);
	if (SSL_CTX_check_private_key(ctx) != 1)
		return fail(ctx, err, errlen, "the key does not match the certificate", cert);
	return ctx;
}
