/* admin/alerts.c - see admin/alerts.h. */
#include "admin/alerts.h"

#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin/smtp.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

struct alerts {
	struct event_base *base;
	const struct neo_options *opts;	/* recipients, server, cluster */
	char *user, *password;		/* from --smtp-auth, or NULL */
	char fqdn[256];			/* ours, for EHLO and the sender */
	char from[1024];		/* the From header */
	struct smtp_session *sending;
	char *sending_date;		/* Date of the mail being sent */
	bool sending_changed;
	/* What came while a mail was being sent: it goes next. */
	char *pending_body;
	char *pending_subject;
	bool pending_changed;
	char *failure;			/* "" or the text of the last failure */
	struct event *retry_timer;
	void (*retry)(void *arg);
	void *retry_arg;
};

static void start_mail(struct alerts *al, const char *body, const char *subject, bool changed);

bool alerts_busy(const struct alerts *al)
{
	return al->sending != NULL;
}

const char *alerts_failure(const struct alerts *al)
{
	return al->failure ? al->failure : "";
}

/* As upstream's socket.getfqdn(): the canonical name of our host name. */
static void find_fqdn(char *out, size_t size)
{
	struct addrinfo hints = { .ai_flags = AI_CANONNAME };
	struct addrinfo *info = NULL;

	if (gethostname(out, size) != 0)
		snprintf(out, size, "localhost");
	out[size - 1] = '\0';
	if (getaddrinfo(out, NULL, &hints, &info) == 0 && info && info->ai_canonname)
		snprintf(out, size, "%s", info->ai_canonname);
	if (info)
		freeaddrinfo(info);
}

/* As upstream: "NEO CLUSTER" <$EMAIL, else user@fqdn>, the name quoted
 * when it holds a character special to RFC 5322. */
static void make_from(struct alerts *al)
{
	const char *email = getenv("EMAIL");
	const struct passwd *pw = getpwuid(geteuid());
	char address[400];
	bool quote = strpbrk(al->opts->cluster, "()<>[]:;@\\,.\"") != NULL;

	if (email && *email)
		snprintf(address, sizeof address, "%s", email);
	else
		snprintf(address, sizeof address, "%s@%s", pw ? pw->pw_name : "neo", al->fqdn);
	if (quote) {
		char name[300];
		size_t used = 0;

		for (const char *p = al->opts->cluster; *p && used + 3 < sizeof name; p++) {
			if (*p == '"' || *p == '\\')
				name[used++] = '\\';
			name[used++] = *p;
		}
		name[used] = '\0';
		snprintf(al->from, sizeof al->from, "\"NEO %s\" <%s>", name, address);
	} else {
		snprintf(al->from, sizeof al->from, "NEO %s <%s>", al->opts->cluster, address);
	}
}

/* RFC 5322 date, as upstream's email.utils.formatdate() (ours in local
 * time with its offset). */
static void format_date(char *out, size_t size)
{
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(out, size, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

static char *format_message(struct alerts *al, const char *body, const char *date,
			    const char *subject)
{
	const struct neo_string_list *to = &al->opts->monitor_email;
	size_t size = strlen(body) + strlen(alerts_failure(al)) + strlen(subject) + 2048;
	char *text;
	size_t used;

	for (size_t i = 0; i < to->count; i++)
		size += strlen(to->items[i]) + 2;
	text = neo_malloc(size);
	if (text == NULL)
		return NULL;
	used = (size_t)snprintf(text, size,
				"MIME-Version: 1.0\nContent-Type: text/plain; charset=\"utf-8\"\n"
				"Content-Transfer-Encoding: 8bit\nDate: %s\nSubject: NEO monitoring: %s\n"
				"From: %s\nTo: ", date, subject, al->from);
	for (size_t i = 0; i < to->count; i++)
		used += (size_t)snprintf(text + used, size - used, "%s%s", i ? ", " : "",
					 to->items[i]);
	snprintf(text + used, size - used, "\n\n%s%s\n", body, alerts_failure(al));
	return text;
}

static void note_failure(struct alerts *al, const char *date, const char *error)
{
	size_t size = strlen(date) + strlen(error) + 64;
	char *text = neo_malloc(size);
	struct timeval delay = { ALERTS_RETRY_S, 0 };

	neo_log(NEO_LOG_ERROR, "monitoring mail not sent: %s (next try in %d s)", error,
		ALERTS_RETRY_S);
	/* as upstream: a failure replaces the kept one only when the summary
	 * changed, so that the first failure of a run is the one reported */
	if (text != NULL && (al->sending_changed || al->failure == NULL)) {
		snprintf(text, size, "\n\nA notification could not be sent at %s:\n\n%s\n", date,
			 error);
		neo_free(al->failure);
		al->failure = text;
	} else {
		neo_free(text);
	}
	evtimer_add(al->retry_timer, &delay);
}

static void mail_done(int status, const char *error, void *arg)
{
	struct alerts *al = arg;
	char *body = al->pending_body, *subject = al->pending_subject;

	al->sending = NULL;
	if (status == 0) {
		neo_log(NEO_LOG_INFO, "monitoring mail sent to %zu recipient(s)",
			al->opts->monitor_email.count);
		neo_free(al->failure);
		al->failure = NULL;
		evtimer_del(al->retry_timer);
	} else {
		note_failure(al, al->sending_date, error);
	}
	neo_free(al->sending_date);
	al->sending_date = NULL;
	if (body == NULL)
		return;
	al->pending_body = NULL;
	al->pending_subject = NULL;
	alerts_send(al, body, subject, al->pending_changed);
	neo_free(body);
	neo_free(subject);
}

static void start_mail(struct alerts *al, const char *body, const char *subject, bool changed)
{
	const struct neo_options *opts = al->opts;
	char date[64], err[512];
	struct smtp_mail mail = {
		.server = opts->smtp ? opts->smtp : "localhost",
		.starttls = opts->smtp_tls,
		.user = al->user, .password = al->password,
		.helo = al->fqdn,
		.sender = "",	/* as upstream: sendmail(None, ...) */
		.recipients = opts->monitor_email.items,
		.recipient_count = opts->monitor_email.count,
	};
	char *message;

	format_date(date, sizeof date);
	message = format_message(al, body, date, subject);
	al->sending_date = neo_strdup(date);
	al->sending_changed = changed;
	if (message == NULL || al->sending_date == NULL) {
		neo_free(message);
		note_failure(al, date, "out of memory");
		return;
	}
	mail.message = message;
	neo_log(NEO_LOG_INFO, "sending a monitoring mail through %s", mail.server);
	al->sending = smtp_send(al->base, &mail, mail_done, al, err, sizeof err);
	neo_free(message);
	if (al->sending == NULL) {
		note_failure(al, date, err);
		neo_free(al->sending_date);
		al->sending_date = NULL;
	}
}

void alerts_send(struct alerts *al, const char *body, const char *subject, bool changed)
{
	if (al->sending) {
		char *copy = neo_strdup(body), *subject_copy = neo_strdup(subject);

		if (copy == NULL || subject_copy == NULL) {
			neo_free(copy);
			neo_free(subject_copy);
			return;
		}
		/* A change stays a change until a mail tells it. */
		al->pending_changed = changed || (al->pending_body && al->pending_changed);
		neo_free(al->pending_body);
		neo_free(al->pending_subject);
		al->pending_body = copy;
		al->pending_subject = subject_copy;
		return;
	}
	if (!changed && al->failure == NULL)
		return;
	evtimer_del(al->retry_timer);
	start_mail(al, body, subject, changed);
}

static void retry_due(evutil_socket_t fd, short what, void *arg)
{
	struct alerts *al = arg;

	al->retry(al->retry_arg);
}

static int read_auth(struct alerts *al, const char *auth, char *err, size_t errlen)
{
	const char *colon = strchr(auth, ':');

	if (colon == NULL) {
		snprintf(err, errlen, "--smtp-auth: expected USER:PASSWORD");
		return -1;
	}
	al->user = neo_malloc((size_t)(colon - auth) + 1);
	al->password = neo_strdup(colon + 1);
	if (al->user == NULL || al->password == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(al->user, auth, (size_t)(colon - auth));
	al->user[colon - auth] = '\0';
	return 0;
}

int alerts_new(struct event_base *base, const struct neo_options *opts,
	       void (*retry)(void *arg), void *arg, struct alerts **out, char *err, size_t errlen)
{
	struct alerts *al;

	*out = NULL;
	if (opts->monitor_email.count == 0)
		return 0;
	al = neo_calloc(1, sizeof *al);
	if (al == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	al->base = base;
	al->opts = opts;
	al->retry = retry;
	al->retry_arg = arg;
	al->retry_timer = evtimer_new(base, retry_due, al);
	if (al->retry_timer == NULL) {
		snprintf(err, errlen, "out of memory");
		alerts_free(al);
		return -1;
	}
	if (opts->smtp_auth && read_auth(al, opts->smtp_auth, err, errlen) < 0) {
		alerts_free(al);
		return -1;
	}
	find_fqdn(al->fqdn, sizeof al->fqdn);
	make_from(al);
	*out = al;
	return 0;
}

void alerts_free(struct alerts *al)
{
	if (al == NULL)
		return;
	smtp_cancel(al->sending);
	if (al->retry_timer)
		event_free(al->retry_timer);
	neo_free(al->sending_date);
	neo_free(al->pending_body);
	neo_free(al->pending_subject);
	neo_free(al->failure);
	neo_free(al->user);
	neo_free(al->password);
	neo_free(al);
}
