/*
 * admin/alerts.h - the admin's monitoring mails (--monitor-email), as
 * upstream's admin sends them.
 *
 * Promises (as upstream):
 *   - a mail goes out when the summary changed, or when the previous mail
 *     could not be sent (it is then tried again after ALERTS_RETRY_S, with
 *     the summary of that time);
 *   - Subject "NEO monitoring: OK", "NEO monitoring: WARNING (CLUSTER)"
 *     or "NEO monitoring: PROBLEM (CLUSTER)" (the names, of this cluster
 *     or of watched backups, only of those whose summary changed; the
 *     caller makes it, admin/monitor.c); From "NEO CLUSTER <$EMAIL or user@fqdn>"; To
 *     every --monitor-email; an empty envelope sender; a text/plain
 *     UTF-8 body, the summary, then the last failure if any;
 *   - one mail at a time: a summary that comes while one is being sent
 *     goes once it is done (the newest only);
 *   - a failure is logged (ERROR) and kept as text for the next mail and
 *     for neoctl's summary (alerts_failure) until a mail goes through.
 *
 * Ownership: struct alerts owns copies of its settings, the session of
 * the mail being sent and the retry timer.
 */
#ifndef NEO_ADMIN_ALERTS_H
#define NEO_ADMIN_ALERTS_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

#include "runtime/options.h"

#define ALERTS_RETRY_S 600

struct alerts;

/*
 * Reads --monitor-email and the --smtp options.  *out is NULL when no
 * address is given (no mail at all).  retry is called when a failed mail
 * is due again: it should call alerts_send with the summary of then.
 * Returns 0, or -1 with err (e.g. --smtp-auth without ':').
 */
int alerts_new(struct event_base *base, const struct neo_options *opts,
	       void (*retry)(void *arg), void *arg, struct alerts **out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Mails body when changed or after a failure, under the Subject
 * "NEO monitoring: " subject ("OK", "WARNING (b1)", "PROBLEM (t, b1)"). */
void alerts_send(struct alerts *al, const char *body, const char *subject, bool changed);

/* A mail is on its way. */
bool alerts_busy(const struct alerts *al);

/* "" or "\n\nA notification could not be sent at DATE:\n\nERROR\n". */
const char *alerts_failure(const struct alerts *al);

void alerts_free(struct alerts *al);

#endif
