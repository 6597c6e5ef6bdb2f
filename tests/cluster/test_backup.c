/*
 * test_backup - backup mode (issue 17, core/cluster/cluster.md section
 * 16), real processes of ours on both sides: a primary cluster P (2
 * storages, 1 replica) and a backup cluster B (2 storages, no replica)
 * whose master follows P (-C/-M).
 *   - neoctl set cluster STARTING_BACKUP on B, refused while a client is
 *     connected (as upstream); without: it goes BACKINGUP and
 *     catches up with hundreds of P's transactions (new and updated
 *     objects, large values, user/description/extension, an undo), then
 *     with more as they come;
 *   - while backing up: a read-write client is refused, a read-only one
 *     reads (loadBefore) and cannot write (READ_ONLY_ACCESS);
 *     print ids and print summary show the backup tid; neoctl check
 *     compares every partition with the upstream cluster's cells;
 *   - a third backup storage added (add, tweak) while BACKINGUP: its
 *     cells catch up and the backup goes on;
 *   - kill -9 of a backup storage, then of the backup master: back to
 *     BACKINGUP by themselves, caught up again;
 *   - the whole backup cluster stopped while P commits, and started
 *     again: BACKINGUP by itself (the mode is persisted), caught up;
 *   - kill -9 of P's master: B goes STARTING_BACKUP, and BACKINGUP again
 *     once P's master is back, caught up;
 *   - the network between B's master and P's cut (B's master reaches P's
 *     through a relay in this test) while P commits: STARTING_BACKUP,
 *     then BACKINGUP and caught up once it is back;
 *   - a record deleted from a backup storage's database (sqlite): neoctl
 *     check : finds that partition different from the upstream cluster's,
 *     the other 7 equal; put back, all 8 equal;
 *   - B's admin told of P's admin (NotifyUpstreamAdmin, as upstream: P's
 *     admin has --monitor-backup bk) and reporting to it;
 *   - a pack on P (while backing up): the order follows over the link,
 *     every backup storage applies it (B's master logs it completed);
 *   - the two histories compared record by record (metadata of every
 *     transaction; oid, data and data_txn of every record) and by
 *     loadBefore samples, B read while backing up;
 *   - STOPPING_BACKUP while a backup storage lags (SIGSTOP): B is cut at
 *     the backup tid every cell reached (before P's last tid) and goes
 *     RUNNING; the histories up to the cut compared again; B then takes
 *     writes.
 * With NEO_TEST_BACKUP_SSL=1 both clusters and the link between them
 * use TLS; with NEO_TEST_BACKUP_REPLICAS=1 B has one replica, and the
 * killed backup storage's cells, outdated, catch up from the other one
 * (test_backup_ssl.sh runs both); with NEO_TEST_BACKUP_B=1 B starts
 * with -B instead of neoctl set cluster STARTING_BACKUP (it too).
 */
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "cluster_util.h"
#include "tap.h"

#define MAX_OIDS 256

static struct test_cluster up, bk;
static uint64_t oids[MAX_OIDS], serials[MAX_OIDS];
static int oid_count;
static int packed_away;	/* records compare_histories found gone on both sides */

/* --- A TCP relay between the backup master and P's master, to cut the
 * network between the two clusters (the storages' own connections to P's
 * storages are not relayed). */

#define RELAY_PAIRS 16

static int relay_listener, relay_port;
static atomic_bool relay_cut, relay_stop;
static pthread_t relay_thread;

static int relay_connect_upstream(void)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)up.master_ports[0]) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&to, sizeof to) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Pairs of sockets (accepted, to P's master); -1 where none. */
static void *relay(void *arg)
{
	int pairs[RELAY_PAIRS][2];

	(void)arg;
	for (int i = 0; i < RELAY_PAIRS; i++)
		pairs[i][0] = pairs[i][1] = -1;
	while (!atomic_load(&relay_stop)) {
		struct pollfd fds[1 + 2 * RELAY_PAIRS];
		int n = 1;
		char buf[65536];

		if (atomic_load(&relay_cut))
			for (int i = 0; i < RELAY_PAIRS; i++)
				for (int k = 0; k < 2; k++)
					if (pairs[i][k] >= 0) {
						close(pairs[i][k]);
						pairs[i][k] = -1;
					}
		fds[0] = (struct pollfd){ .fd = relay_listener, .events = POLLIN };
		for (int i = 0; i < RELAY_PAIRS; i++)
			for (int k = 0; k < 2; k++)
				fds[n++] = (struct pollfd){ .fd = pairs[i][k], .events = POLLIN };
		if (poll(fds, (nfds_t)n, 50) <= 0)
			continue;
		if (fds[0].revents & POLLIN) {
			int in = accept(relay_listener, NULL, NULL), out = -1, slot = -1;

			for (int i = 0; i < RELAY_PAIRS && slot < 0; i++)
				if (pairs[i][0] < 0)
					slot = i;
			if (in >= 0 && (atomic_load(&relay_cut) || slot < 0
					|| (out = relay_connect_upstream()) < 0)) {
				close(in);
			} else if (in >= 0) {
				pairs[slot][0] = in;
				pairs[slot][1] = out;
			}
		}
		for (int i = 0; i < RELAY_PAIRS; i++)
			for (int k = 0; k < 2; k++) {
				struct pollfd *f = &fds[1 + 2 * i + k];
				ssize_t got;

				if (f->fd < 0 || !(f->revents & (POLLIN | POLLHUP | POLLERR)))
					continue;
				got = read(f->fd, buf, sizeof buf);
				if (got <= 0 || pairs[i][1 - k] < 0
				    || write(pairs[i][1 - k], buf, (size_t)got) != got) {
					for (int j = 0; j < 2; j++)
						if (pairs[i][j] >= 0) {
							close(pairs[i][j]);
							pairs[i][j] = -1;
						}
				}
			}
	}
	for (int i = 0; i < RELAY_PAIRS; i++)
		for (int k = 0; k < 2; k++)
			if (pairs[i][k] >= 0)
				close(pairs[i][k]);
	return NULL;
}

static bool relay_start(void)
{
	struct sockaddr_in at = { .sin_family = AF_INET };
	socklen_t len = sizeof at;
	int one = 1;

	at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	relay_listener = socket(AF_INET, SOCK_STREAM, 0);
	if (relay_listener < 0)
		return false;
	setsockopt(relay_listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(relay_listener, (struct sockaddr *)&at, sizeof at) < 0
	    || listen(relay_listener, 16) < 0
	    || getsockname(relay_listener, (struct sockaddr *)&at, &len) < 0)
		return false;
	relay_port = ntohs(at.sin_port);
	return pthread_create(&relay_thread, NULL, relay, NULL) == 0;
}

static void relay_end(void)
{
	atomic_store(&relay_stop, true);
	pthread_join(relay_thread, NULL);
	close(relay_listener);
}

/* B's master reaches P's through the relay. */
static char *pmasters(char *buf, size_t len)
{
	snprintf(buf, len, "127.0.0.1:%d", relay_port);
	return buf;
}

static pid_t start_backup_master(bool backup_flag)
{
	char masters[256];
	const char *extra[] = { "-A", "2", "-C", up.name, "-M", NULL, NULL, NULL };

	extra[5] = pmasters(masters, sizeof masters);
	if (backup_flag)
		extra[6] = "-B";
	return cluster_start_master_noauto(&bk, 0, extra);
}

/* A value of some size: large ones every so often. */
static size_t make_value(char *buf, size_t cap, int round, int k)
{
	size_t size = (round % 37 == 0) ? 300000 : (size_t)(20 + (round * 7 + k) % 900);

	if (size > cap)
		size = cap;
	for (size_t i = 0; i < size; i++)
		buf[i] = (char)('a' + (round * 31 + k * 7 + i) % 26);
	return size;
}

/* One transaction: a new object and updates of older ones, with metadata. */
static uint64_t commit_round(struct neo_client *client, int round)
{
	static char value[300000];
	struct neo_txn *txn;
	struct neo_client_conflict *conflicts = NULL;
	size_t count = 0, size;
	uint64_t tid = 0, oid;
	char user[64], desc[64], ext[64];
	int touched[3], n = 0;

	if (neo_client_begin(client, 0, &txn) != NEO_CLIENT_OK)
		return 0;
	if (oid_count < MAX_OIDS && neo_client_new_oids(client, 1, &oid) == NEO_CLIENT_OK) {
		oids[oid_count] = oid;
		serials[oid_count] = 0;
		touched[n++] = oid_count++;
	}
	for (int k = 0; k < 2 && oid_count > 1; k++) {
		int i = (round * 13 + k * 5) % (oid_count - 1);

		if (n && touched[0] == i)
			continue;
		touched[n++] = i;
	}
	for (int k = 0; k < n; k++) {
		size = make_value(value, sizeof value, round, k);
		if (neo_txn_store(txn, oids[touched[k]], serials[touched[k]], value, size)
		    != NEO_CLIENT_OK) {
			neo_txn_abort(txn);
			return 0;
		}
	}
	snprintf(user, sizeof user, "user%d", round % 7);
	snprintf(desc, sizeof desc, "round %d", round);
	snprintf(ext, sizeof ext, "\x81\xa1x\xcd%c%c", (char)(round >> 8), (char)round);
	if (neo_txn_vote(txn, user, strlen(user), desc, strlen(desc), ext, 6, &conflicts, &count)
	    != NEO_CLIENT_OK) {
		neo_client_conflicts_free(conflicts, count);
		neo_txn_abort(txn);
		return 0;
	}
	if (neo_txn_finish(txn, &tid) != NEO_CLIENT_OK) {
		neo_txn_abort(txn);
		return 0;
	}
	for (int k = 0; k < n; k++)
		serials[touched[k]] = tid;
	return tid;
}

static int commit_many(struct neo_client *client, int from, int count, uint64_t *last)
{
	int done = 0;

	for (int r = from; r < from + count; r++) {
		uint64_t tid = commit_round(client, r);

		if (tid) {
			*last = tid;
			done++;
		}
	}
	return done;
}

/* Undoes transaction tid; the objects it touched get new serials. */
static uint64_t undo(struct neo_client *client, uint64_t undone)
{
	struct neo_txn *txn;
	struct neo_client_conflict *conflicts = NULL;
	size_t count = 0, n = 0;
	uint64_t *undone_oids = NULL, tid = 0;

	if (neo_client_begin(client, 0, &txn) != NEO_CLIENT_OK)
		return 0;
	if (neo_txn_undo(txn, undone, &undone_oids, &n) != NEO_CLIENT_OK
	    || neo_txn_vote(txn, "undoer", 6, "undo", 4, "", 0, &conflicts, &count) != NEO_CLIENT_OK
	    || neo_txn_finish(txn, &tid) != NEO_CLIENT_OK) {
		neo_client_conflicts_free(conflicts, count);
		neo_txn_abort(txn);
		neo_client_free(undone_oids);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < oid_count; k++)
			if (oids[k] == undone_oids[i])
				serials[k] = tid;
	neo_client_free(undone_oids);
	return tid;
}

/* The backup tid print ids shows, 0 if none. */
static uint64_t backup_tid(void)
{
	char out[2048];
	const char *at;

	if (cluster_neoctl(&bk, out, sizeof out, "print ids") != 0)
		return 0;
	at = strstr(out, "backup_tid = 0x");
	return at ? strtoull(at + 15, NULL, 16) : 0;
}

/* Whether B's backup tid reaches tid within ms. */
static bool caught_up(uint64_t tid, int ms)
{
	for (int waited = 0; waited < ms; waited += 100) {
		if (backup_tid() >= tid)
			return true;
		usleep(100000);
	}
	tap_diag("backup tid %016" PRIx64 ", wanted %016" PRIx64, backup_tid(), tid);
	return false;
}

/* Whether every cell of B is UP_TO_DATE within ms. */
static bool all_up_to_date(int ms)
{
	char out[4096];

	for (int waited = 0; waited < ms; waited += 100) {
		if (cluster_neoctl(&bk, out, sizeof out, "print pt") == 0 && strstr(out, "U")
		    && !strstr(out, "O"))
			return true;
		usleep(100000);
	}
	return false;
}

static bool state_is(const char *state, int ms)
{
	return cluster_neoctl_wait(&bk, "print cluster", state, ms);
}

static bool same_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

/* Every transaction of P up to last, compared with B's. */
static int compare_histories(struct neo_client *p, struct neo_client *b, uint64_t last,
			     int *records)
{
	uint64_t *ptids = NULL, *btids = NULL;
	size_t pcount = 0, bcount = 0;
	int diffs = 0;

	*records = 0;
	packed_away = 0;
	if (neo_client_tids_from(p, 0, last, 0, &ptids, &pcount) != NEO_CLIENT_OK
	    || neo_client_tids_from(b, 0, UINT64_MAX >> 1, 0, &btids, &bcount) != NEO_CLIENT_OK) {
		tap_diag("tids_from: %s", neo_client_errmsg());
		neo_client_free(ptids);
		neo_client_free(btids);
		return -1;
	}
	if (pcount != bcount) {
		tap_diag("%zu transactions upstream, %zu in the backup", pcount, bcount);
		diffs++;
	}
	for (size_t i = 0; i < pcount && i < bcount; i++) {
		struct neo_client_txn_info pi = { 0 }, bi = { 0 };

		if (ptids[i] != btids[i]) {
			tap_diag("transaction %zu: %016" PRIx64 " vs %016" PRIx64, i, ptids[i], btids[i]);
			diffs++;
			break;
		}
		if (neo_client_transaction_info(p, ptids[i], &pi) != NEO_CLIENT_OK
		    || neo_client_transaction_info(b, btids[i], &bi) != NEO_CLIENT_OK
		    || !same_bytes(pi.user, pi.user_size, bi.user, bi.user_size)
		    || !same_bytes(pi.description, pi.description_size, bi.description,
				   bi.description_size)
		    || !same_bytes(pi.extension, pi.extension_size, bi.extension, bi.extension_size)
		    || pi.packed != bi.packed || pi.oid_count != bi.oid_count
		    || !same_bytes((uint8_t *)pi.oids, pi.oid_count * 8, (uint8_t *)bi.oids,
				   bi.oid_count * 8)) {
			tap_diag("transaction %016" PRIx64 ": metadata differs", ptids[i]);
			diffs++;
		}
		for (size_t k = 0; k < pi.oid_count && k < bi.oid_count; k++) {
			struct neo_client_record pr = { 0 }, br = { 0 };
			uint64_t pds = 0, bds = 0;
			int prc = neo_client_load_serial_ex(p, pi.oids[k], ptids[i], &pr, &pds);
			int brc = neo_client_load_serial_ex(b, pi.oids[k], ptids[i], &br, &bds);

			if (prc != brc || pds != bds || !same_bytes(pr.data, pr.size, br.data, br.size)) {
				tap_diag("record %016" PRIx64 "@%016" PRIx64 " differs (%d/%d)",
					 pi.oids[k], ptids[i], prc, brc);
				diffs++;
			} else if (prc != NEO_CLIENT_OK) {
				packed_away++;
			}
			(*records)++;
			neo_client_record_clear(&pr);
			neo_client_record_clear(&br);
		}
		neo_client_txn_info_clear(&pi);
		neo_client_txn_info_clear(&bi);
	}
	/* loadBefore samples: each object before some of the tids */
	for (size_t i = 0; i < pcount; i += 17)
		for (int k = 0; k < oid_count; k += 11) {
			struct neo_client_record pr = { 0 }, br = { 0 };
			int prc = neo_client_load_before(p, oids[k], ptids[i], &pr);
			int brc = neo_client_load_before(b, oids[k], ptids[i], &br);

			/* a revision current at the cut is current in the backup */
			if (pr.next_serial > last)
				pr.next_serial = 0;
			if (prc != brc || pr.serial != br.serial || pr.next_serial != br.next_serial
			    || !same_bytes(pr.data, pr.size, br.data, br.size)) {
				tap_diag("loadBefore %016" PRIx64 " < %016" PRIx64 " differs", oids[k],
					 ptids[i]);
				diffs++;
			}
			neo_client_record_clear(&pr);
			neo_client_record_clear(&br);
		}
	neo_client_free(ptids);
	neo_client_free(btids);
	return diffs;
}

/* Runs Python's sqlite3 on B's storage 0 database (stopped). */
static bool on_storage0_db(const char *statements)
{
	char command[2048];

	snprintf(command, sizeof command,
		 "python3 -c 'import sqlite3,sys; d=sqlite3.connect(sys.argv[1]);"
		 " d.executescript(\"%s\"); d.commit()' %s/storage0.db", statements, bk.dir);
	return system(command) == 0;
}

/* B's storage 0 stopped and started again: B backing up again, its
 * cells readable. */
static bool restart_storage0(const char *statements)
{
	bool done;

	cluster_kill(&bk.storages[0], SIGTERM);
	done = on_storage0_db(statements);
	cluster_start_storage(&bk, 0);
	return done && state_is("BACKINGUP", 30000) && all_up_to_date(30000);
}

/* neoctl check : and its outcome in the storage logs: how many
 * partitions were found equal, and whether a cell was found to differ
 * (the checking storage says which: its own, "differs here from the
 * upstream cluster", or another's, "differs on S.."). */
static void check_all(int *equal, bool *differs)
{
	char out[1024];
	int before = cluster_storage_log_count(&bk, "replicas are equal");
	int before_bad = cluster_storage_log_count(&bk, " differs ");

	cluster_neoctl(&bk, out, sizeof out, "check :");
	for (int waited = 0; waited < 20000; waited += 200) {
		*equal = cluster_storage_log_count(&bk, "replicas are equal") - before;
		*differs = cluster_storage_log_count(&bk, " differs ") > before_bad;
		if (*equal + *differs >= 8)
			return;
		usleep(200000);
	}
}

static void corrupt_and_check(void)
{
	int equal = 0;
	bool differs = false;

	if (strcmp(cluster_engine(), "sqlite") != 0) {
		tap_skip("a corrupted backup cell: made in the files of the sqlite module only");
		return;
	}
	tap_ok(restart_storage0("CREATE TABLE saved AS SELECT * FROM obj WHERE oid=(SELECT"
				" min(oid) FROM obj); DELETE FROM obj WHERE oid=(SELECT"
				" oid FROM saved);"),
	       "a record deleted behind a backup storage's back; BACKINGUP again");
	check_all(&equal, &differs);
	tap_ok(differs && equal == 7
	       && cluster_log_has(&bk, "master0.log", "is corrupted", 5000),
	       "check : finds that cell different from the upstream cluster's (%d equal)",
	       equal);
	tap_ok(restart_storage0("INSERT INTO obj SELECT * FROM saved; DROP TABLE saved;"),
	       "the record put back");
	check_all(&equal, &differs);
	tap_ok(!differs && equal == 8, "check : every partition equal again (%d)", equal);
}

static void start_backup_storages(void)
{
	for (int i = 0; i < bk.storage_count; i++)
		cluster_start_storage(&bk, i);
}

int main(void)
{
	struct neo_client *pc = NULL, *ro = NULL, *rw = NULL, *bc = NULL;
	struct neo_client_record record = { 0 };
	struct neo_txn *txn = NULL;
	uint64_t last = 0, undone_tid = 0, cut = 0, pack_at = 0, pack_id = 0;
	int committed, records = 0, diffs;
	char out[4096];
	bool ssl = getenv("NEO_TEST_BACKUP_SSL") && strcmp(getenv("NEO_TEST_BACKUP_SSL"), "1") == 0;
	int replicas = getenv("NEO_TEST_BACKUP_REPLICAS") ? atoi(getenv("NEO_TEST_BACKUP_REPLICAS")) : 0;
	bool with_b = getenv("NEO_TEST_BACKUP_B") && strcmp(getenv("NEO_TEST_BACKUP_B"), "1") == 0;

	cluster_die_with_parent(true);
	cluster_init(&up, "up", 8, 1, 2, 1);
	cluster_init(&bk, "bk", 8, replicas, 2, 1);
	up.autostart = 2;
	bk.autostart = 2;
	if (ssl && !cluster_use_ssl(&up)) {
		tap_skip("no openssl command for TLS");
		return tap_done();
	}
	cluster_start(&up);
	{
		/* P's admin watches B: B's master is told of it (as upstream) */
		const char *watch[] = { "--monitor-backup", "bk", NULL };

		cluster_start_admin_with(&up, watch);
	}
	if (!relay_start()) {
		tap_skip("no relay socket");
		cluster_stop(&up);
		return tap_done();
	}
	start_backup_master(with_b);
	usleep(200000);
	start_backup_storages();
	cluster_start_admin(&bk);

	tap_ok(cluster_client(&up, NULL, &pc, NULL, NULL) == NEO_CLIENT_OK, "upstream cluster up");
	committed = commit_many(pc, 0, 150, &last);
	tap_ok(committed == 150, "150 transactions committed upstream (%d)", committed);
	if (with_b) {
		/* 1. -B: an empty cluster goes backing up by itself */
		tap_ok(state_is("BACKINGUP", 20000), "-B: the empty backup cluster goes BACKINGUP");
	} else {
		tap_ok(state_is("RUNNING", 20000), "backup cluster RUNNING, empty");
		/* as upstream: not with clients connected */
		if (cluster_client(&bk, NULL, &rw, NULL, NULL) == NEO_CLIENT_OK) {
			cluster_neoctl(&bk, out, sizeof out, "set cluster STARTING_BACKUP");
			tap_ok(strstr(out, "connected clients") && state_is("RUNNING", 0),
			       "STARTING_BACKUP refused while a client is connected (%s)", out);
			neo_client_close(rw);
			rw = NULL;
			usleep(300000);
		} else {
			tap_ok(false, "a client of the backup cluster while RUNNING");
		}
		/* 1. backup mode on */
		cluster_neoctl(&bk, out, sizeof out, "set cluster STARTING_BACKUP");
		tap_ok(state_is("BACKINGUP", 20000), "set cluster STARTING_BACKUP: BACKINGUP");
	}
	committed = commit_many(pc, 150, 150, &last);
	undone_tid = undo(pc, last);
	if (undone_tid)
		last = undone_tid;
	tap_ok(committed == 150 && undone_tid, "150 more transactions and an undo upstream");
	pack_at = last;
	tap_ok(caught_up(last, 30000), "the backup caught up (backup tid = upstream last tid)");
	cluster_neoctl(&bk, out, sizeof out, "print ids");
	tap_ok(strstr(out, "backup_tid = 0x") && strstr(out, "last_tid = 0x"),
	       "print ids shows the backup tid");
	{
		char summary[4096], want[64];

		cluster_neoctl(&bk, summary, sizeof summary, "print summary");
		snprintf(want, sizeof want, "ltid=%016" PRIx64, backup_tid());
		tap_ok(strstr(summary, "BACKINGUP; UP_TO_DATE=") && strstr(summary, want),
		       "print summary shows BACKINGUP and the backup tid (%s)", want);
		if (!strstr(summary, want))
			tap_diag("%s", summary);
	}

	/* 1b. neoctl check against the upstream cluster's cells */
	{
		int status = cluster_neoctl(&bk, out, sizeof out, "check :");
		bool equal = status == 0;

		for (int waited = 0; equal && waited < 20000; waited += 200) {
			if (cluster_storage_log_count(&bk, "replicas are equal") >= 8)
				break;
			usleep(200000);
		}
		equal = equal && cluster_storage_log_count(&bk, "replicas are equal") >= 8
			&& cluster_storage_log_count(&bk, "differs") == 0;
		tap_ok(equal, "check : compares every partition with the upstream cluster's cells: "
		       "equal (%s)", out);
	}

	/* 1c. a storage added while backing up: its cells catch up from the
	 * other backup storages, then follow the upstream cluster */
	bk.storage_count = 3;
	cluster_start_storage(&bk, 2);
	tap_ok(cluster_neoctl_wait(&bk, "print node", "PENDING", 20000)
	       && cluster_neoctl(&bk, out, sizeof out, "add all") == 0
	       && cluster_neoctl(&bk, out, sizeof out, "tweak") == 0,
	       "a third backup storage added and given cells while BACKINGUP (%s)", out);
	committed = commit_many(pc, 300, 20, &last);
	tap_ok(committed == 20 && all_up_to_date(30000) && caught_up(last, 30000)
	       && state_is("BACKINGUP", 0),
	       "its cells are UP_TO_DATE and the backup caught up");
	cluster_neoctl(&bk, out, sizeof out, "print pt");
	tap_diag("%s", out);

	/* 2. clients while backing up */
	tap_ok(cluster_client(&bk, "bk", &rw, NULL, NULL) != NEO_CLIENT_OK
	       && strstr(neo_client_errmsg(), "backing up"),
	       "a read-write client is refused (%s)", neo_client_errmsg());
	rw = NULL;
	tap_ok(cluster_client_ro(&bk, &ro) == NEO_CLIENT_OK, "a read-only client connects");
	if (ro) {
		tap_ok(neo_client_load_before(ro, oids[1], last + 1, &record) == NEO_CLIENT_OK
		       && record.serial == serials[1], "it loads the last revision (loadBefore)");
		neo_client_record_clear(&record);
		tap_ok(neo_client_begin(ro, 0, &txn) == NEO_CLIENT_READ_ONLY,
		       "it cannot write (READ_ONLY_ACCESS)");
		neo_client_close(ro);
		ro = NULL;
	}

	/* 3. kill -9 of a backup storage */
	cluster_kill(&bk.storages[0], SIGKILL);
	committed = commit_many(pc, 300, 40, &last);
	cluster_start_storage(&bk, 0);
	tap_ok(state_is("BACKINGUP", 30000) && caught_up(last, 30000),
	       "kill -9 of a backup storage: BACKINGUP again and caught up");
	if (replicas)	/* its cells were outdated: caught up from the other */
		tap_ok(all_up_to_date(30000), "its cells are UP_TO_DATE again");

	/* 4. kill -9 of the backup master */
	cluster_kill(&bk.masters[0], SIGKILL);
	committed = commit_many(pc, 340, 40, &last);
	start_backup_master(false);
	tap_ok(state_is("BACKINGUP", 30000) && caught_up(last, 30000),
	       "kill -9 of the backup master: BACKINGUP again and caught up");

	/* 5. the whole backup cluster stopped and started again */
	cluster_stop(&bk);
	committed = commit_many(pc, 380, 60, &last);
	start_backup_master(false);
	usleep(200000);
	start_backup_storages();
	cluster_start_admin(&bk);
	tap_ok(state_is("BACKINGUP", 30000) && caught_up(last, 30000),
	       "whole backup cluster restarted: BACKINGUP by itself and caught up");

	/* 5b. kill -9 of the upstream primary master */
	cluster_kill(&up.masters[0], SIGKILL);
	tap_ok(state_is("STARTING_BACKUP", 20000), "upstream master killed: STARTING_BACKUP");
	cluster_start_master(&up, 0);
	committed = commit_many(pc, 440, 30, &last);
	tap_ok(committed == 30 && state_is("BACKINGUP", 30000) && caught_up(last, 30000),
	       "upstream master back: BACKINGUP again and caught up");

	/* 5c. the network between the clusters cut, while P commits */
	atomic_store(&relay_cut, true);
	tap_ok(state_is("STARTING_BACKUP", 20000), "network cut: STARTING_BACKUP");
	committed = commit_many(pc, 500, 30, &last);
	atomic_store(&relay_cut, false);
	tap_ok(committed == 30 && state_is("BACKINGUP", 30000) && caught_up(last, 30000),
	       "network back: BACKINGUP again and caught up");

	/* 5c'. as upstream, B's master names P's admin (which watches B) to
	 * B's admin (NotifyUpstreamAdmin), which reports to it */
	{
		char text[80];

		snprintf(text, sizeof text, "upstream admin at 127.0.0.1:%d", up.admin_port);
		tap_ok(cluster_log_has(&bk, "admin.log", text, 10000)
		       && cluster_log_has(&up, "admin.log", "backup cluster bk: its admin reports",
					  10000),
		       "B's admin was told of P's admin (NotifyUpstreamAdmin) and reports to it");
	}

	/* 5d. a pack on P: B follows it (as upstream: the order comes over
	 * the link, each cell packs once it holds the history past it) */
	{
		char completed[64];
		int rc = neo_client_pack(pc, pack_at, NULL, 0, true, &pack_id);

		committed = commit_many(pc, 600, 10, &last);
		snprintf(completed, sizeof completed, "packs completed up to %016" PRIx64, pack_id);
		tap_ok(rc == NEO_CLIENT_OK && committed == 10 && caught_up(last, 30000)
		       && cluster_log_has(&bk, "master0.log", completed, 30000),
		       "a pack upstream (%016" PRIx64 "): every backup storage applied it (%d)",
		       pack_id, rc);
	}

	/* 6. the histories, read from the backup while it is backing up */
	tap_ok(cluster_client_ro(&bk, &bc) == NEO_CLIENT_OK, "a read-only client of the backup");
	if (bc) {
		/* The backup tid is, per partition, the best cell's (as
		 * upstream): with replicas, a client may still read a
		 * partition from a cell behind it (busy packing, say) for a
		 * moment; compared again until that cell has caught up. */
		diffs = compare_histories(pc, bc, last, &records);
		for (int again = 0; diffs && replicas && again < 10; again++) {
			usleep(500000);
			diffs = compare_histories(pc, bc, last, &records);
		}
		tap_ok(diffs == 0 && records > 900 && packed_away > 0,
		       "histories equal record by record, the pack's included (%d records, %d "
		       "packed away on both, %d differences)", records, packed_away, diffs);
		neo_client_close(bc);
		bc = NULL;
	} else {
		tap_ok(false, "histories compared");
	}

	/* 6b. a corrupted backup cell: check finds it against the upstream */
	corrupt_and_check();

	/* 7. leaving backup mode while a storage lags: cut at the backup tid */
	kill(bk.storages[1], SIGSTOP);
	committed = commit_many(pc, 530, 30, &last);
	cluster_neoctl(&bk, out, sizeof out, "set cluster STOPPING_BACKUP");
	usleep(300000);
	kill(bk.storages[1], SIGCONT);
	tap_ok(state_is("RUNNING", 30000), "STOPPING_BACKUP: RUNNING");
	cluster_neoctl(&bk, out, sizeof out, "print ids");
	cut = strstr(out, "last_tid = 0x") ? strtoull(strstr(out, "last_tid = 0x") + 13, NULL, 16) : 0;
	tap_diag("%s", out);
	tap_ok(cluster_client_ro(&bk, &bc) == NEO_CLIENT_OK && cut > 0 && cut < last,
	       "truncated at the backup tid (%016" PRIx64 " < %016" PRIx64 ")", cut, last);
	if (bc) {
		diffs = compare_histories(pc, bc, cut, &records);
		tap_ok(diffs == 0 && records > 900,
		       "up to the cut, histories equal record by record (%d records, %d "
		       "differences)", records, diffs);
		neo_client_close(bc);
	} else {
		tap_ok(false, "histories compared after the cut");
	}
	{
		uint64_t oid = 0;

		bool wrote = cluster_client(&bk, NULL, &rw, NULL, NULL) == NEO_CLIENT_OK
			     && neo_client_new_oids(rw, 1, &oid) == NEO_CLIENT_OK
			     && cluster_commit(rw, oid, 0, "after backup") != 0;

		tap_ok(wrote, "the former backup takes writes (a new object %016" PRIx64 ")", oid);
	}
	if (rw)
		neo_client_close(rw);
	neo_client_close(pc);
	cluster_stop(&bk);
	cluster_stop(&up);
	relay_end();
	return tap_done();
}
