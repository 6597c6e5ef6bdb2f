/*
 * admin/smtp.h - one mail handed to an SMTP server, on libevent, for the
 * admin's alerts (admin/alerts.h).
 *
 * Promises:
 *   - the dialogue of RFC 5321: greeting, EHLO, STARTTLS when asked (then
 *     EHLO again), AUTH when credentials are given (PLAIN, or LOGIN when
 *     the server offers only that), MAIL FROM, one RCPT TO per recipient,
 *     DATA with the message (lines end with CRLF, a leading dot doubled),
 *     QUIT;
 *   - as upstream's smtplib.starttls() without a context, TLS encrypts but
 *     the server's certificate is not verified;
 *   - every step has SMTP_TIMEOUT_S to get its reply;
 *   - done is called exactly once, unless smtp_cancel comes first: status
 *     0 (the server took the mail) or -1 with a message such as
 *     "127.0.0.1:25: RCPT TO:<a@b>: 550 no such user"; the session frees
 *     itself after done returns.
 *
 * The server's name is resolved with getaddrinfo, which blocks the loop
 * while it runs (localhost or a name in /etc/hosts: at once).
 */
#ifndef NEO_ADMIN_SMTP_H
#define NEO_ADMIN_SMTP_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

#define SMTP_TIMEOUT_S 60

struct smtp_session;

struct smtp_mail {
	const char *server;		/* HOST[:PORT], port 25 by default */
	bool starttls;
	const char *user, *password;	/* NULL: no AUTH */
	const char *helo;		/* our name, for EHLO */
	const char *sender;		/* envelope sender; "" is <> */
	char *const *recipients;
	size_t recipient_count;
	const char *message;		/* headers, empty line, body; '\n' ends lines */
};

typedef void smtp_done_fn(int status, const char *error, void *arg);

/*
 * Starts sending; everything in mail is copied.  Returns the session, or
 * NULL with err (the server's address is malformed or does not resolve,
 * out of memory) and done is not called.
 */
struct smtp_session *smtp_send(struct event_base *base, const struct smtp_mail *mail,
			       smtp_done_fn *done, void *arg, char *err, size_t errlen);

/* Ends a session at once, without calling done. */
void smtp_cancel(struct smtp_session *s);

#endif
