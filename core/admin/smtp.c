/* admin/smtp.c - see admin/smtp.h. */
#include "admin/smtp.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "net/address.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

/* Where the dialogue is: the reply awaited is that of this step. */
enum smtp_step {
	STEP_GREETING,
	STEP_EHLO,
	STEP_STARTTLS,
	STEP_AUTH_PLAIN,
	STEP_AUTH_LOGIN,
	STEP_AUTH_USER,
	STEP_AUTH_PASSWORD,
	STEP_MAIL,
	STEP_RCPT,
	STEP_DATA,
	STEP_MESSAGE,
	STEP_QUIT
};

struct smtp_session {
	struct event_base *base;
	struct bufferevent *bev;
	SSL_CTX *ssl_ctx;		/* once STARTTLS was answered */
	char server[300];		/* as given, for messages */
	char host[256];			/* for the TLS server name */
	bool starttls, tls_on;
	char *user, *password, *helo, *sender;
	char *data;			/* the message as DATA sends it */
	char **recipients;
	size_t recipient_count, rcpt_index, accepted;
	enum smtp_step step;
	char command[320];		/* the last command, for messages */
	bool offers_starttls, offers_plain, offers_login;	/* from EHLO */
	bool sent;			/* the server took the mail */
	smtp_done_fn *done;
	void *arg;
};

static void session_free(struct smtp_session *s)
{
	if (s->bev)
		bufferevent_free(s->bev);
	if (s->ssl_ctx)
		SSL_CTX_free(s->ssl_ctx);
	for (size_t i = 0; i < s->recipient_count; i++)
		neo_free(s->recipients[i]);
	neo_free(s->recipients);
	neo_free(s->user);
	neo_free(s->password);
	neo_free(s->helo);
	neo_free(s->sender);
	neo_free(s->data);
	neo_free(s);
}

static void finish(struct smtp_session *s, int status, const char *error)
{
	s->done(status, error, s->arg);
	session_free(s);
}

static void fail(struct smtp_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fail(struct smtp_session *s, const char *fmt, ...)
{
	char why[512];
	char message[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	snprintf(message, sizeof message, "%s: %s", s->server, why);
	finish(s, -1, message);
}

/* Sends one command line; text is kept (without secrets) for messages. */
static void send_command(struct smtp_session *s, enum smtp_step step, const char *line,
			 const char *shown)
{
	s->step = step;
	snprintf(s->command, sizeof s->command, "%s", shown ? shown : line);
	evbuffer_add_printf(bufferevent_get_output(s->bev), "%s\r\n", line);
}

/* RFC 4648 base64 of len bytes, by OpenSSL. */
static char *base64(const void *bytes, size_t len)
{
	char *out = neo_malloc(4 * ((len + 2) / 3) + 1);

	if (out != NULL)
		EVP_EncodeBlock((unsigned char *)out, bytes, (int)len);
	return out;
}

static void send_auth(struct smtp_session *s)
{
	size_t ulen = strlen(s->user), plen = strlen(s->password);
	char *plain, *encoded, *line;

	if (!s->offers_plain && !s->offers_login) {
		fail(s, "the server offers no AUTH method we know (PLAIN, LOGIN)");
		return;
	}
	if (!s->offers_plain) {
		send_command(s, STEP_AUTH_LOGIN, "AUTH LOGIN", NULL);
		return;
	}
	/* RFC 4616: authzid NUL authcid NUL password. */
	plain = neo_malloc(ulen + plen + 2);
	if (plain == NULL) {
		fail(s, "out of memory");
		return;
	}
	plain[0] = '\0';
	memcpy(plain + 1, s->user, ulen);
	plain[1 + ulen] = '\0';
	memcpy(plain + 2 + ulen, s->password, plen);
	encoded = base64(plain, ulen + plen + 2);
	neo_free(plain);
	line = encoded ? neo_malloc(strlen(encoded) + 16) : NULL;
	if (line == NULL) {
		neo_free(encoded);
		fail(s, "out of memory");
		return;
	}
	sprintf(line, "AUTH PLAIN %s", encoded);
	send_command(s, STEP_AUTH_PLAIN, line, "AUTH PLAIN ...");
	neo_free(line);
	neo_free(encoded);
}

/* One AUTH LOGIN answer: the user name or the password, in base64. */
static void send_secret(struct smtp_session *s, enum smtp_step step, const char *secret)
{
	char *encoded = base64(secret, strlen(secret));

	if (encoded == NULL) {
		fail(s, "out of memory");
		return;
	}
	send_command(s, step, encoded, "(AUTH LOGIN credentials)");
	neo_free(encoded);
}

static void send_mail_from(struct smtp_session *s)
{
	char line[300];

	snprintf(line, sizeof line, "MAIL FROM:<%s>", s->sender);
	send_command(s, STEP_MAIL, line, NULL);
}

static void send_rcpt(struct smtp_session *s)
{
	char line[300];

	snprintf(line, sizeof line, "RCPT TO:<%s>", s->recipients[s->rcpt_index]);
	send_command(s, STEP_RCPT, line, NULL);
}

static void send_ehlo(struct smtp_session *s)
{
	char line[300];

	s->offers_starttls = s->offers_plain = s->offers_login = false;
	snprintf(line, sizeof line, "EHLO %s", s->helo);
	send_command(s, STEP_EHLO, line, NULL);
}

static void on_event(struct bufferevent *bev, short what, void *arg);
static void on_read(struct bufferevent *bev, void *arg);

static void set_callbacks(struct smtp_session *s)
{
	struct timeval timeout = { SMTP_TIMEOUT_S, 0 };

	bufferevent_setcb(s->bev, on_read, NULL, on_event, s);
	bufferevent_set_timeouts(s->bev, &timeout, &timeout);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

/* The server said 220 to STARTTLS: the rest of the dialogue goes in TLS. */
static void start_tls(struct smtp_session *s)
{
	struct bufferevent *tls;
	SSL *ssl;

	s->ssl_ctx = SSL_CTX_new(TLS_client_method());
	ssl = s->ssl_ctx ? SSL_new(s->ssl_ctx) : NULL;
	if (ssl == NULL) {
		fail(s, "cannot set up TLS");
		return;
	}
	/* as upstream: smtplib's starttls() verifies no certificate */
	SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
	SSL_set_tlsext_host_name(ssl, s->host);
	tls = bufferevent_openssl_filter_new(s->base, s->bev, ssl, BUFFEREVENT_SSL_CONNECTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (tls == NULL) {
		SSL_free(ssl);
		fail(s, "cannot set up TLS");
		return;
	}
	s->bev = tls;
	s->tls_on = true;
	set_callbacks(s);
	send_ehlo(s);
}

static void after_ehlo(struct smtp_session *s)
{
	if (s->starttls && !s->tls_on) {
		if (!s->offers_starttls) {
			fail(s, "the server does not offer STARTTLS (--smtp-tls)");
			return;
		}
		send_command(s, STEP_STARTTLS, "STARTTLS", NULL);
		return;
	}
	if (s->user)
		send_auth(s);
	else
		send_mail_from(s);
}

/* A line of the EHLO reply: "STARTTLS", "AUTH PLAIN LOGIN" (or AUTH=). */
static void note_capability(struct smtp_session *s, const char *text)
{
	if (strcasecmp(text, "STARTTLS") == 0)
		s->offers_starttls = true;
	if (strncasecmp(text, "AUTH", 4) != 0 || (text[4] != ' ' && text[4] != '='))
		return;
	for (const char *p = text + 5; *p; ) {
		size_t len = strcspn(p, " ");

		if (len == 5 && strncasecmp(p, "PLAIN", 5) == 0)
			s->offers_plain = true;
		if (len == 5 && strncasecmp(p, "LOGIN", 5) == 0)
			s->offers_login = true;
		p += len;
		p += strspn(p, " ");
	}
}

static void write_message(struct smtp_session *s)
{
	s->step = STEP_MESSAGE;
	snprintf(s->command, sizeof s->command, "(the message)");
	evbuffer_add(bufferevent_get_output(s->bev), s->data, strlen(s->data));
}

/* The reply to the current step: code and the text of its last line. */
static void on_reply(struct smtp_session *s, int code, const char *text)
{
	static const int expected[] = {
		[STEP_GREETING] = 220, [STEP_EHLO] = 250, [STEP_STARTTLS] = 220,
		[STEP_AUTH_PLAIN] = 235, [STEP_AUTH_LOGIN] = 334, [STEP_AUTH_USER] = 334,
		[STEP_AUTH_PASSWORD] = 235, [STEP_MAIL] = 250, [STEP_RCPT] = 250,
		[STEP_DATA] = 354, [STEP_MESSAGE] = 250, [STEP_QUIT] = 221,
	};

	if (s->step == STEP_QUIT) {
		finish(s, 0, NULL);
		return;
	}
	if (s->step == STEP_RCPT) {
		/* as upstream's sendmail: refused recipients are skipped, the
		 * mail fails only when nobody takes it */
		if (code == 250 || code == 251)
			s->accepted++;
		else
			neo_log(NEO_LOG_WARNING, "%s: %s: %d %s", s->server, s->command, code, text);
		if (++s->rcpt_index < s->recipient_count)
			send_rcpt(s);
		else if (s->accepted == 0)
			fail(s, "every recipient was refused (the last: %s: %d %s)", s->command, code,
			     text);
		else
			send_command(s, STEP_DATA, "DATA", NULL);
		return;
	}
	if (code != expected[s->step]) {
		if (s->step == STEP_GREETING)
			fail(s, "greeting: %d %s", code, text);
		else
			fail(s, "%s: %d %s", s->command, code, text);
		return;
	}
	switch (s->step) {
	case STEP_GREETING:
		send_ehlo(s);
		return;
	case STEP_EHLO:
		after_ehlo(s);
		return;
	case STEP_STARTTLS:
		start_tls(s);
		return;
	case STEP_AUTH_LOGIN:
		send_secret(s, STEP_AUTH_USER, s->user);
		return;
	case STEP_AUTH_USER:
		send_secret(s, STEP_AUTH_PASSWORD, s->password);
		return;
	case STEP_AUTH_PLAIN:
	case STEP_AUTH_PASSWORD:
		send_mail_from(s);
		return;
	case STEP_MAIL:
		send_rcpt(s);
		return;
	case STEP_DATA:
		write_message(s);
		return;
	case STEP_MESSAGE:
		s->sent = true;
		send_command(s, STEP_QUIT, "QUIT", NULL);
		return;
	default:
		return;
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct smtp_session *s = arg;
	struct evbuffer *input = bufferevent_get_input(bev);
	char *line;
	size_t len;

	/* evbuffer_readln's lines are libevent's, hence free(). */
	while ((line = evbuffer_readln(input, &len, EVBUFFER_EOL_CRLF)) != NULL) {
		bool last = len < 4 || line[3] != '-';
		const char *text = len > 4 ? line + 4 : "";
		int code = 0;

		if (len < 3 || sscanf(line, "%3d", &code) != 1) {
			char shown[100];

			snprintf(shown, sizeof shown, "%.80s", line);
			free(line);
			fail(s, "not an SMTP reply: '%s'", shown);
			return;
		}
		if (s->step == STEP_EHLO)
			note_capability(s, text);
		if (!last) {
			free(line);
			continue;
		}
		/* on_reply may end the session: nothing of it is used after. */
		on_reply(s, code, text);
		free(line);
		return;
	}
	if (evbuffer_get_length(input) > 4096)
		fail(s, "reply line too long");
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct smtp_session *s = arg;
	unsigned long tls_error = 0;

	if (what & BEV_EVENT_CONNECTED)
		return;
	if (s->sent) {
		/* The mail was taken; the server need not wait for our QUIT. */
		finish(s, 0, NULL);
		return;
	}
	if (s->tls_on)
		tls_error = bufferevent_get_openssl_error(bev);
	if (what & BEV_EVENT_TIMEOUT)
		fail(s, "no reply within %d s (%s)", SMTP_TIMEOUT_S, s->command);
	else if (tls_error)
		fail(s, "TLS: %s", ERR_reason_error_string(tls_error));
	else if (what & BEV_EVENT_EOF)
		fail(s, "the server closed the connection (%s)", s->command);
	else
		fail(s, "%s (%s)", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()),
		     s->command);
}

/* The message for DATA: CRLF line ends, leading dots doubled, the end. */
static char *data_from_message(const char *message)
{
	size_t size = strlen(message) * 2 + 8, used = 0;
	char *out = neo_malloc(size);
	const char *p = message;

	if (out == NULL)
		return NULL;
	while (*p) {
		size_t len = strcspn(p, "\n");
		size_t text = len > 0 && p[len - 1] == '\r' ? len - 1 : len;

		if (*p == '.')
			out[used++] = '.';
		memcpy(out + used, p, text);
		used += text;
		out[used++] = '\r';
		out[used++] = '\n';
		p += len + (p[len] == '\n');
	}
	memcpy(out + used, ".\r\n", 4);
	return out;
}

static int copy_mail(struct smtp_session *s, const struct smtp_mail *mail)
{
	s->starttls = mail->starttls;
	s->helo = neo_strdup(mail->helo);
	s->sender = neo_strdup(mail->sender);
	s->data = data_from_message(mail->message);
	s->recipients = neo_calloc(mail->recipient_count + 1, sizeof *s->recipients);
	if (!s->helo || !s->sender || !s->data || !s->recipients)
		return -1;
	for (size_t i = 0; i < mail->recipient_count; i++) {
		s->recipients[i] = neo_strdup(mail->recipients[i]);
		if (s->recipients[i] == NULL)
			return -1;
		s->recipient_count++;
	}
	if (mail->user) {
		s->user = neo_strdup(mail->user);
		s->password = neo_strdup(mail->password ? mail->password : "");
		if (!s->user || !s->password)
			return -1;
	}
	return 0;
}

static int connect_server(struct smtp_session *s, char *err, size_t errlen)
{
	struct neo_address address;
	struct sockaddr_storage ss;
	socklen_t sslen;
	evutil_socket_t fd;

	if (neo_address_parse(s->server, 25, &address, err, errlen) < 0 ||
	    neo_address_resolve(&address, &ss, &sslen, err, errlen) < 0)
		return -1;
	snprintf(s->host, sizeof s->host, "%s", address.host);
	/* Close-on-exec, as every socket of ours (net/conn.h). */
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create a socket: %s", strerror(errno));
		return -1;
	}
	s->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL) {
		evutil_closesocket(fd);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	set_callbacks(s);
	s->step = STEP_GREETING;
	snprintf(s->command, sizeof s->command, "(connecting)");
	if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&ss, (int)sslen) != 0) {
		snprintf(err, errlen, "cannot connect: %s",
			 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		return -1;
	}
	return 0;
}

struct smtp_session *smtp_send(struct event_base *base, const struct smtp_mail *mail,
			       smtp_done_fn *done, void *arg, char *err, size_t errlen)
{
	struct smtp_session *s = neo_calloc(1, sizeof *s);

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->base = base;
	s->done = done;
	s->arg = arg;
	snprintf(s->server, sizeof s->server, "%s", mail->server);
	if (copy_mail(s, mail) < 0) {
		snprintf(err, errlen, "out of memory");
		session_free(s);
		return NULL;
	}
	if (connect_server(s, err, errlen) < 0) {
		session_free(s);
		return NULL;
	}
	return s;
}

void smtp_cancel(struct smtp_session *s)
{
	if (s != NULL)
		session_free(s);
}
