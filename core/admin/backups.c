/*
 * admin/backups.c - the backup clusters an admin watches (--monitor-backup),
 * as upstream's admin does: their admins identify to us and tell their
 * health; each check asks them how far they got, and the summary of each
 * says how many seconds it lags behind our last tid (see admin/admin.h).
 */
#include "admin/admin.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cluster/tid.h"
#include "proto/enums.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

/* as upstream's MONITOR_TIMEOUT: how long a backup's admin may take to
 * say its ids; then its connection is closed */
#define BACKUP_ASK_TIMEOUT_MS 60000
/* as upstream: checks every 10 minutes unless --monitor-interval */
#define DEFAULT_INTERVAL_S 600

int admin_backups_init(struct admin *a, const struct neo_options *opts)
{
	const struct neo_string_list *names = &opts->monitor_backup;

	a->monitor_maxlag = opts->monitor_maxlag;
	a->monitor_interval = opts->monitor_interval > 0 ? opts->monitor_interval
							  : DEFAULT_INTERVAL_S;
	if (names->count == 0)
		return 0;
	a->backups = neo_calloc(names->count, sizeof *a->backups);
	if (a->backups == NULL)
		return -1;
	a->backup_count = names->count;
	for (size_t i = 0; i < names->count; i++) {
		a->backups[i].admin = a;
		a->backups[i].name = names->items[i];
	}
	return 0;
}

void admin_backups_free(struct admin *a)
{
	neo_free(a->backups);
	a->backups = NULL;
	a->backup_count = 0;
}

/* As upstream's connectionClosed of a backup: a new, empty record. */
void admin_backup_reset(struct admin_backup *b)
{
	struct admin *a = b->admin;
	const char *name = b->name;

	memset(b, 0, sizeof *b);
	b->admin = a;
	b->name = name;
}

static bool backup_operational(const struct admin_backup *b)
{
	return b->has_state && (b->state == NEO_CLUSTER_RUNNING
				|| b->state == NEO_CLUSTER_BACKINGUP);
}

static bool only_up_to_date(const struct admin_backup *b)
{
	bool any = false;

	for (int state = 0; state <= NEO_CELL_DISCARDED; state++) {
		if (b->counts[state] && state != NEO_CELL_UP_TO_DATE)
			return false;
		any |= b->counts[state] != 0;
	}
	return any;
}

/* As upstream's Monitor.severity for a Backup: 2 problem, 1 warning. */
int admin_backup_severity(const struct admin_backup *b)
{
	if (b->down || !backup_operational(b))
		return 2;
	if (!b->has_pt || !only_up_to_date(b) || b->state != NEO_CLUSTER_BACKINGUP)
		return 1;
	return 0;
}

/* --- What its admin tells ---------------------------------------------------- */

/* An enum as upstream packs it: an ext of that enum's code around an int. */
static bool read_enum(const msgpack_object *o, enum neo_enum_type type, int *out)
{
	const unsigned char *p;

	if (o->type != MSGPACK_OBJECT_EXT || o->via.ext.type != (int8_t)type
	    || o->via.ext.size != 1)
		return false;
	p = (const unsigned char *)o->via.ext.ptr;
	if (p[0] > 0x7f || neo_enum_name(type, p[0]) == NULL)
		return false;
	*out = p[0];
	return true;
}

static bool key_is(const struct neo_bin *key, const char *name)
{
	return key->size == strlen(name) && memcmp(key->data, name, key->size) == 0;
}

static void take_state(struct admin_backup *b, const msgpack_object *v)
{
	int state = 0;
	bool has = v->type != MSGPACK_OBJECT_NIL;

	if (has && !read_enum(v, NEO_ENUM_CLUSTER_STATES, &state)) {
		neo_log(NEO_LOG_WARNING, "backup %s: malformed cluster_state, ignored", b->name);
		return;
	}
	if (has == b->has_state && (!has || (int)b->state == state))
		return;
	b->has_state = has;
	b->state = (enum neo_cluster_state)state;
	b->changed = true;
}

static void take_down(struct admin_backup *b, const msgpack_object *v)
{
	if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 > UINT32_MAX) {
		neo_log(NEO_LOG_WARNING, "backup %s: malformed down, ignored", b->name);
		return;
	}
	if (b->down != v->via.u64) {
		b->down = (uint32_t)v->via.u64;
		b->changed = true;
	}
}

static void take_pt_summary(struct admin_backup *b, const msgpack_object *v)
{
	uint32_t counts[NEO_CELL_DISCARDED + 1] = { 0 };

	if (v->type == MSGPACK_OBJECT_NIL) {
		b->changed |= b->has_pt;
		b->has_pt = false;
		return;
	}
	if (v->type != MSGPACK_OBJECT_MAP) {
		neo_log(NEO_LOG_WARNING, "backup %s: malformed pt_summary, ignored", b->name);
		return;
	}
	for (uint32_t i = 0; i < v->via.map.size; i++) {
		const msgpack_object_kv *kv = &v->via.map.ptr[i];
		int state;

		if (!read_enum(&kv->key, NEO_ENUM_CELL_STATES, &state) || state > NEO_CELL_DISCARDED
		    || kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER || kv->val.via.u64 > UINT32_MAX) {
			neo_log(NEO_LOG_WARNING, "backup %s: malformed pt_summary, ignored", b->name);
			return;
		}
		counts[state] = (uint32_t)kv->val.via.u64;
	}
	if (b->has_pt && memcmp(counts, b->counts, sizeof counts) == 0)
		return;
	b->has_pt = true;
	memcpy(b->counts, counts, sizeof counts);
	b->changed = true;
}

/* As upstream's updateMonitorInformation: only what changed is told; a
 * change starts a check (mailed when it is over). */
static void monitor_information(struct admin_backup *b,
				const struct neo_notify_monitor_information *info)
{
	bool was_changed = b->changed;

	b->changed = false;
	for (uint32_t i = 0; i < info->information.count; i++) {
		const struct neo_bin *key = &info->information.keys[i];
		const msgpack_object *value = &info->information.values[i];

		if (key_is(key, "cluster_state"))
			take_state(b, value);
		else if (key_is(key, "down"))
			take_down(b, value);
		else if (key_is(key, "pt_summary"))
			take_pt_summary(b, value);
		else
			neo_log(NEO_LOG_DEBUG, "backup %s: unknown monitoring key '%.*s'", b->name,
				(int)key->size, (const char *)key->data);
	}
	if (!b->changed) {
		b->changed = was_changed;
		return;
	}
	admin_monitor_notify(b->admin);
}

static void backup_packet(struct neo_conn *conn, struct neo_packet *pkt, void *arg)
{
	struct admin_backup *b = arg;

	(void)conn;
	if (pkt->code == NEO_NOTIFY_MONITOR_INFORMATION)
		monitor_information(b, pkt->args);
	else
		neo_log(NEO_LOG_DEBUG, "backup %s: %s ignored", b->name, pkt->type->name);
}

/* Upstream forgets the backup and tells it at its next check; we also
 * check at once, so that a backup whose admin went away is mailed. */
static void backup_closed(struct neo_conn *conn, const char *reason, void *arg)
{
	struct admin_backup *b = arg;
	struct admin *a = b->admin;

	if (conn != b->conn)
		return;
	neo_log(a->stopped ? NEO_LOG_INFO : NEO_LOG_WARNING,
		"backup cluster %s: its admin is gone: %s", b->name, reason);
	admin_backup_reset(b);
	b->changed = true;
	admin_monitor_notify(a);
}

bool admin_backups_identify(struct admin *a, struct neo_conn *conn,
			    const struct neo_request_identification *req, uint32_t msg_id,
			    char *why, size_t whylen)
{
	static const struct neo_conn_callbacks callbacks = {
		.on_packet = backup_packet,
		.on_close = backup_closed,
	};
	struct neo_accept_identification accept = { .node_type = NEO_NODE_ADMIN };
	struct admin_backup *b = NULL;

	/* as upstream's requestIdentification of the admin */
	if (req->node_type != NEO_NODE_ADMIN) {
		snprintf(why, whylen, "reject non-admin node");
		return false;
	}
	for (size_t i = 0; i < a->backup_count; i++)
		if (key_is(&req->cluster_name, a->backups[i].name))
			b = &a->backups[i];
	if (b == NULL) {
		snprintf(why, whylen, "unknown backup cluster '%.*s'", (int)req->cluster_name.size,
			 (const char *)req->cluster_name.data);
		return false;
	}
	if (b->conn != NULL) {
		snprintf(why, whylen, "already connected");
		return false;
	}
	b->conn = conn;
	neo_conn_set_callbacks(conn, &callbacks, b);
	neo_conn_set_name(conn, b->name);
	neo_conn_answer(conn, msg_id, NEO_ACCEPT_IDENTIFICATION, &accept);
	neo_log(NEO_LOG_INFO, "backup cluster %s: its admin reports from %s", b->name,
		neo_conn_peer(conn));
	return true;
}

/* --- The checks --------------------------------------------------------------- */

static void recovery_answered(struct neo_conn *conn, enum neo_ask_status status,
			      struct neo_packet *answer, void *arg)
{
	struct admin_backup *b = arg;
	struct admin *a = b->admin;

	if (conn == b->conn && status == NEO_ASK_ANSWERED && answer->code == NEO_ANSWER_RECOVERY) {
		const struct neo_answer_recovery *r = answer->args;

		b->has_backup_tid = r->backup_tid.has;
		b->backup_tid = r->backup_tid.v;
		neo_log(NEO_LOG_DEBUG, "backup %s: backup tid %016llx", b->name,
			(unsigned long long)b->backup_tid);
	} else if (conn == b->conn && status == NEO_ASK_TIMEOUT) {
		/* as upstream's _networkTimeout */
		neo_conn_close(conn, "no answer to the monitoring check");
	}
	admin_round_answered(a);
}

static void last_tid_answered(struct neo_conn *conn, enum neo_ask_status status,
			      struct neo_packet *answer, void *arg)
{
	struct admin_backup *b = arg;
	struct admin *a = b->admin;

	if (conn == b->conn && status == NEO_ASK_ANSWERED
	    && answer->code == NEO_ANSWER_LAST_TRANSACTION) {
		b->has_ltid = true;
		b->ltid = ((const struct neo_answer_last_transaction *)answer->args)->tid;
	} else if (conn == b->conn && status == NEO_ASK_TIMEOUT) {
		neo_conn_close(conn, "no answer to the monitoring check");
	}
	admin_round_answered(a);
}

/* As upstream's askLastIds: the backup tid in backup mode, the last tid
 * always.  Each ask counts in the round. */
void admin_backups_ask(struct admin *a)
{
	for (size_t i = 0; i < a->backup_count; i++) {
		struct admin_backup *b = &a->backups[i];

		if (b->conn == NULL || !backup_operational(b))
			continue;
		if (b->state == NEO_CLUSTER_BACKINGUP
		    && neo_conn_ask(b->conn, NEO_ASK_RECOVERY, NULL, BACKUP_ASK_TIMEOUT_MS,
				    recovery_answered, b) >= 0)
			a->round_pending++;
		if (neo_conn_ask(b->conn, NEO_ASK_LAST_TRANSACTION, NULL, BACKUP_ASK_TIMEOUT_MS,
				 last_tid_answered, b) >= 0)
			a->round_pending++;
	}
}

/* --- The summary ----------------------------------------------------------------- */

/* A tid's time in microseconds since the epoch, as upstream's
 * datetimeFromTID (microseconds truncated). */
static int64_t tid_micros(uint64_t tid)
{
	struct tm tm;
	long micro;

	neo_tid_unpack(tid, &tm, &micro);
	return (int64_t)timegm(&tm) * 1000000 + micro;
}

/* Seconds as Python prints timedelta.total_seconds(): the shortest repr
 * of a float ("3.0", "12.5", "0.000123", "5e-06"). */
static void format_seconds(int64_t micros, char *buf, size_t buflen)
{
	const char *sign = micros < 0 ? "-" : "";
	uint64_t u = micros < 0 ? (uint64_t)-micros : (uint64_t)micros;
	char frac[8];
	int len;

	if (u != 0 && u < 100) {
		if (u < 10)
			snprintf(buf, buflen, "%s%ue-06", sign, (unsigned)u);
		else if (u % 10)
			snprintf(buf, buflen, "%s%u.%ue-05", sign, (unsigned)(u / 10),
				 (unsigned)(u % 10));
		else
			snprintf(buf, buflen, "%s%ue-05", sign, (unsigned)(u / 10));
		return;
	}
	len = snprintf(frac, sizeof frac, "%06u", (unsigned)(u % 1000000));
	while (len > 1 && frac[len - 1] == '0')
		frac[--len] = '\0';
	snprintf(buf, buflen, "%s%llu.%s", sign, (unsigned long long)(u / 1000000), frac);
}

/* As upstream's formatSummary with the upstream tid: the lag, and whether
 * it is more than --monitor-maxlag (a change of it is a change). */
static void lag_text(struct admin_backup *b, uint64_t tid, uint64_t upstream_tid, char *buf,
		     size_t buflen)
{
	int64_t lag = tid_micros(upstream_tid) - tid_micros(tid);
	double maxlag = b->admin->monitor_maxlag;
	bool lagging;

	if (lag != 0 || tid >= upstream_tid) {
		lagging = maxlag < (double)lag / 1e6;
		snprintf(buf, buflen, "; lag=");
		format_seconds(lag, buf + strlen(buf), buflen - strlen(buf));
	} else {
		/* behind by less than a microsecond */
		lagging = maxlag <= 0;
		snprintf(buf, buflen, "; lag=\xce\xb5");
	}
	b->has_lag = true;
	b->lag = (double)lag / 1e6;
	if (b->lagging != lagging) {
		b->lagging = lagging;
		b->changed = true;
		neo_log(lagging ? NEO_LOG_WARNING : NEO_LOG_INFO, "backup cluster %s %s (%s)",
			b->name, lagging ? "lags" : "no longer lags", buf + 2);
	}
}

static size_t backup_summary(struct admin_backup *b, bool has_upstream, uint64_t upstream_tid,
			     char *buf, size_t buflen)
{
	size_t len = (size_t)snprintf(buf, buflen, "%s", b->has_state
				      ? neo_enum_name(NEO_ENUM_CLUSTER_STATES, b->state) : "None");
	bool first = true;
	uint64_t tid;
	char extra[96];

	for (int state = 0; b->has_pt && state <= NEO_CELL_DISCARDED && len < buflen; state++) {
		if (b->counts[state] == 0)
			continue;
		len += (size_t)snprintf(buf + len, buflen - len, "%s%s=%u", first ? "; " : ", ",
					neo_enum_name(NEO_ENUM_CELL_STATES, state), b->counts[state]);
		first = false;
	}
	if (b->down && len < buflen)
		len += (size_t)snprintf(buf + len, buflen - len, "; DOWN=%u", b->down);
	b->has_lag = false;
	if (!backup_operational(b) || len >= buflen)
		return len;
	if (b->state == NEO_CLUSTER_BACKINGUP) {
		if (!b->has_backup_tid)
			return len;
		tid = b->backup_tid;
		if (has_upstream)
			lag_text(b, tid, upstream_tid, extra, sizeof extra);
	} else {
		if (!b->has_ltid)
			return len;
		tid = b->ltid;
		has_upstream = false;
	}
	if (!has_upstream) {
		char when[64];

		snprintf(extra, sizeof extra, " (%s)", neo_tid_format_datetime(tid, when, sizeof when));
	}
	len += (size_t)snprintf(buf + len, buflen - len, "; ltid=%016llx%s",
				(unsigned long long)tid, extra);
	return len;
}

/* As upstream's body: after ours, for each backup an empty line, its
 * name, and its summary indented by 4. */
void admin_backups_summary(struct admin *a, bool has_tid, uint64_t tid, char *body,
			   size_t bodylen)
{
	size_t len = strlen(body);

	for (size_t i = 0; i < a->backup_count && len < bodylen; i++) {
		struct admin_backup *b = &a->backups[i];

		len += (size_t)snprintf(body + len, bodylen - len, "\n\n%s\n    ", b->name);
		if (len < bodylen)
			len += backup_summary(b, has_tid, tid, body + len, bodylen - len);
	}
}
