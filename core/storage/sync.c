/*
 * storage/sync.c - group commit.  A vote and a lock commit LAZY, then
 * wait here for their answer; a deferred event, run once the requests
 * that arrived in the same turn of the loop are handled, makes them all
 * durable with one SYNC commit (core/neo/backend.md section 8: a SYNC
 * commit makes everything before it durable) and answers them.
 * Concurrent transactions' votes and locks so share one fsync, and a
 * request is still answered only once what it acknowledges is durable.
 */
#include "storage/storage.h"

#include "runtime/alloc.h"
#include "runtime/log.h"

/* An answer that waits for the next sync. */
struct sync_waiter {
	struct neo_conn *conn;
	uint32_t msg_id;
	uint16_t code;			/* AnswerInformationLocked carries ttid */
	uint64_t ttid;
	struct sync_waiter *next;
};

static void answer(struct sync_waiter *w, bool durable)
{
	struct neo_answer_information_locked locked = { .ttid = w->ttid };

	if (!durable)
		neo_conn_answer_error(w->conn, w->msg_id, NEO_ERROR_NOT_READY, "backend error");
	else if (w->code == NEO_ANSWER_INFORMATION_LOCKED)
		neo_conn_answer(w->conn, w->msg_id, w->code, &locked);
	else
		neo_conn_answer(w->conn, w->msg_id, w->code, NULL);
}

static void sync_now(evutil_socket_t fd, short what, void *arg)
{
	struct storage *s = arg;
	/* Taken first: a failure drops connections, whose close drops
	 * their waiters from the list. */
	struct sync_waiter *list = s->sync_waiters;
	bool durable;

	(void)fd;
	(void)what;
	s->sync_waiters = NULL;
	durable = !storage_db_failed(s, s->be->commit(s->db, NEO_BACKEND_COMMIT_SYNC),
				     "syncing votes and locks");
	/* One write per connection for all its answers, at once. */
	neo_conn_batch_begin();
	while (list) {
		struct sync_waiter *w = list;

		list = w->next;
		answer(w, durable);
		neo_free(w);
	}
	neo_conn_batch_end();
}

void storage_sync_answer(struct storage *s, struct neo_conn *conn, uint32_t msg_id,
			 uint16_t code, uint64_t ttid)
{
	struct sync_waiter *w = neo_calloc(1, sizeof *w), **tail = &s->sync_waiters;

	if (w != NULL && s->sync_event == NULL)
		s->sync_event = event_new(s->base, -1, 0, sync_now, s);
	if (w == NULL || s->sync_event == NULL) {
		/* No group: this one syncs alone. */
		struct sync_waiter alone = { conn, msg_id, code, ttid, NULL };

		neo_free(w);
		answer(&alone, !storage_db_failed(s, s->be->commit(s->db, NEO_BACKEND_COMMIT_SYNC),
						  "syncing a vote or a lock"));
		return;
	}
	*w = (struct sync_waiter){ conn, msg_id, code, ttid, NULL };
	/* In order: answers on one connection go as the requests came. */
	while (*tail)
		tail = &(*tail)->next;
	*tail = w;
	if (!event_pending(s->sync_event, EV_TIMEOUT, NULL))
		event_active(s->sync_event, EV_TIMEOUT, 0);
}

void storage_sync_drop(struct storage *s, struct neo_conn *conn)
{
	struct sync_waiter **at = &s->sync_waiters;

	while (*at) {
		struct sync_waiter *w = *at;

		if (conn == NULL || w->conn == conn) {
			*at = w->next;
			neo_free(w);
		} else {
			at = &w->next;
		}
	}
}

void storage_sync_free(struct storage *s)
{
	storage_sync_drop(s, NULL);
	if (s->sync_event)
		event_free(s->sync_event);
	s->sync_event = NULL;
}
