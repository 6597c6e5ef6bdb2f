/*
 * test_admin.c - a cluster run the way an operator runs one: through
 * neoadmin and neoctl (real processes on 127.0.0.1).
 *
 *   - a new cluster waits in RECOVERING until `start`; print cluster,
 *     node, pt and ids show it;
 *   - a new storage stays PENDING until `add`; `tweak` gives it cells,
 *     which it replicates until every cell is UP_TO_DATE, and the data
 *     is then read back; those that gave cells away delete their rows;
 *   - the two storages, each checking rows against the other at once
 *     (`check :`), both find them equal, over one connection between
 *     them that stays open afterwards;
 *   - `check` finds the replicas equal; after a row is deleted behind a
 *     storage's back, `check` against a good reference reports that cell
 *     corrupted (in the master's log, as upstream);
 *   - `tweak S3`, `kill S3`, `drop S3` retire a storage without losing
 *     data; `truncate` cuts the history after a tid;
 *   - `set cluster STOPPING` stops every master, storage and admin.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster_util.h"
#include "tap.h"

#define OBJECTS 40

static struct test_cluster tc;
static uint64_t serials[OBJECTS + 1];

static int neoctl(char *out, size_t len, const char *command)
{
	return cluster_neoctl(&tc, out, len, command);
}

static bool output_is(const char *command, const char *expected)
{
	char out[8192];

	neoctl(out, sizeof out, command);
	if (strcmp(out, expected) == 0)
		return true;
	tap_diag("neoctl %s printed:\n%s", command, out);
	return false;
}

static bool load_all(struct neo_client *client)
{
	for (uint64_t oid = 1; oid <= OBJECTS; oid++) {
		struct neo_client_record rec = { 0 };
		char want[32];
		bool good;

		snprintf(want, sizeof want, "object %llu", (unsigned long long)oid);
		if (neo_client_load(client, oid, &rec) != NEO_CLIENT_OK) {
			tap_diag("load of oid %llu: %s", (unsigned long long)oid,
				 neo_client_errmsg());
			return false;
		}
		good = rec.size == strlen(want) && memcmp(rec.data, want, rec.size) == 0;
		neo_client_record_clear(&rec);
		if (!good)
			return false;
	}
	return true;
}

static void start_and_print(struct neo_client **client)
{
	char out[8192], want[256];
	uint64_t last_tid = 0;

	tap_ok(cluster_neoctl_wait(&tc, "print cluster", "RECOVERING", 10000),
	       "print cluster: a new cluster waits in RECOVERING");
	tap_ok(cluster_neoctl_wait(&tc, "print node storage", "S2 | STORAGE", 10000),
	       "print node: both storages identified");
	tap_ok(neoctl(out, sizeof out, "start") == 0, "start: accepted");
	tap_ok(cluster_neoctl_wait(&tc, "print cluster", "RUNNING", 10000),
	       "print cluster: RUNNING after start");
	tap_ok(output_is("print pt", "# ptid: 1, replicas: 1\nS1 R UUUU\nS2 R UUUU\n"),
	       "print pt: 4 partitions, 2 copies of each");

	if (!tap_ok(cluster_client(&tc, NULL, client, NULL, NULL) == NEO_CLIENT_OK,
		    "client connects")) {
		cluster_stop(&tc);
		exit(tap_done());
	}
	for (uint64_t oid = 1; oid <= OBJECTS; oid++) {
		char data[32];

		snprintf(data, sizeof data, "object %llu", (unsigned long long)oid);
		serials[oid] = cluster_commit(*client, oid, 0, data);
	}
	neo_client_last_tid(*client, &last_tid);
	/* as upstream: "last_tid = 0x... (its date)" */
	snprintf(want, sizeof want, "last_oid = 0x%llx\nlast_tid = 0x%llx (",
		 (unsigned long long)OBJECTS, (unsigned long long)last_tid);
	neoctl(out, sizeof out, "print ids");
	tap_ok(serials[OBJECTS] == last_tid && strncmp(out, want, strlen(want)) == 0 &&
	       strstr(out, ")\nlast_ptid = 1\n"), "print ids: the last oid and tid committed");
}

/* Waits until the storages' logs hold count "replicas are equal" lines. */
static bool checked_equal(int count)
{
	for (int waited = 0; waited < 15000; waited += 100) {
		if (cluster_storage_log_count(&tc, "replicas are equal") >= count)
			return true;
		usleep(100000);
	}
	return false;
}

/* Established connections between storages a and b (indexes), counted at
 * the side that opened each: a socket of a's process to b's listening
 * port, or of b's to a's.  -1 if ss(8) cannot tell. */
static int connections_between(int a, int b)
{
	char command[256], line[512];
	FILE *out;
	int count = 0, lines = 0;

	snprintf(command, sizeof command,
		 "ss -Htnp state established '( dport = :%d or dport = :%d )' 2>/dev/null",
		 tc.storage_ports[a], tc.storage_ports[b]);
	out = popen(command, "r");
	if (out == NULL)
		return -1;
	while (fgets(line, sizeof line, out)) {
		char local[128], peer[128];
		const char *pid = strstr(line, "pid="), *colon;
		int owner, port;

		lines++;
		if (sscanf(line, "%*s %*s %127s %127s", local, peer) != 2 || pid == NULL
		    || (colon = strrchr(peer, ':')) == NULL)
			continue;
		owner = atoi(pid + 4);
		port = atoi(colon + 1);
		if ((owner == tc.storages[a] && port == tc.storage_ports[b])
		    || (owner == tc.storages[b] && port == tc.storage_ports[a]))
			count++;
	}
	pclose(out);
	return count;
}

/* The two storages check each other at once (each is the first cell of
 * some rows): both checks end equal, over one connection between them,
 * which stays open afterwards (as upstream: one connection per pair of
 * storages, used by both, not closed when a check ends). */
static void mutual_checks(void)
{
	char out[8192];
	int before = cluster_storage_log_count(&tc, "replicas are equal");
	int s1_before = cluster_log_count(&tc, "storage0.log", "replicas are equal");
	int s2_before = cluster_log_count(&tc, "storage1.log", "replicas are equal");
	int conns;

	for (int round = 0; round < 3; round++) {
		neoctl(out, sizeof out, "check :");
		tap_ok(checked_equal(before + 4 * (round + 1)),
		       "check (%d): the 4 partitions are equal on their replicas", round + 1);
	}
	tap_ok(cluster_log_count(&tc, "storage0.log", "replicas are equal") > s1_before
	       && cluster_log_count(&tc, "storage1.log", "replicas are equal") > s2_before,
	       "both storages ran checks against the other");
	tap_ok(cluster_storage_log_count(&tc, "check of partition") == 0, "no check was aborted");
	conns = connections_between(0, 1);
	if (conns < 0 || system("ss -V >/dev/null 2>&1") != 0) {
		tap_skip("connections between the storages: no ss(8)");
		return;
	}
	tap_ok(conns == 1, "one connection between S1 and S2 (%d)", conns);
	usleep(1500000);
	tap_ok(connections_between(0, 1) == 1, "it stays open after the checks");
}

/* Polls print pt until no cell is OUT_OF_DATE (O) or FEEDING (F). */
static bool replicated(char *out, size_t len)
{
	for (int waited = 0; waited < 20000; waited += 100) {
		const char *rows;

		neoctl(out, len, "print pt");
		rows = strchr(out, '\n');
		if (rows && !strpbrk(rows, "OF") && strstr(out, "S3 R "))
			return true;
		usleep(100000);
	}
	return false;
}

/* obj and trans rows of partition in storage index's database. */
static int rows_in_partition(int index, int partition)
{
	char command[1024];
	FILE *out;
	int rows = -1;

	snprintf(command, sizeof command,
		 "python3 -c 'import sqlite3,sys; d=sqlite3.connect(sys.argv[1]);"
		 " print(sum(d.execute(\"SELECT count(*) FROM \"+t+\" WHERE partition=%d\")"
		 ".fetchone()[0] for t in (\"obj\",\"trans\")))' %s/storage%d.db",
		 partition, tc.dir, index);
	out = popen(command, "r");
	if (out == NULL)
		return -1;
	if (fscanf(out, "%d", &rows) != 1)
		rows = -1;
	pclose(out);
	return rows;
}

/* Every partition shown '.' for a storage in the grid has no row left in
 * its database (dropped in the background); at least one such cell. */
static bool discarded_cells_emptied(const char *grid)
{
	int checked = 0;

	for (const char *line = grid; (line = strstr(line, "\nS")) != NULL; line++) {
		char nid[8];
		const char *cells = strstr(line, " R ");
		int index;

		if (cells == NULL || sscanf(line + 1, "%7s", nid) != 1)
			continue;
		index = cluster_storage_index(&tc, nid);
		for (int p = 0; cells[3 + p] == '.' || cells[3 + p] == 'U'; p++) {
			if (cells[3 + p] != '.')
				continue;
			for (int waited = 0; rows_in_partition(index, p) != 0; waited += 100) {
				if (waited > 10000) {
					tap_diag("%s still has rows of partition %d", nid, p);
					return false;
				}
				usleep(100000);
			}
			checked++;
		}
	}
	return checked > 0;
}

static void add_and_tweak(struct neo_client *client)
{
	char out[8192];
	int equal;

	tc.storage_count = 3;
	cluster_start_storage(&tc, 2);
	tap_ok(cluster_neoctl_wait(&tc, "print node storage", "| PENDING |", 10000),
	       "a new storage is PENDING in a running cluster");
	tap_ok(output_is("print pt", "# ptid: 1, replicas: 1\nS1 R UUUU\nS2 R UUUU\n"),
	       "a pending storage gets no cell");
	tap_ok(neoctl(out, sizeof out, "add S3") == 0, "add S3: accepted");
	tap_ok(cluster_neoctl_wait(&tc, "print node storage", "S3 | STORAGE | 127.0.0.1:", 5000)
	       && !cluster_neoctl_wait(&tc, "print node storage", "| PENDING |", 0),
	       "add makes it RUNNING");
	tap_ok(neoctl(out, sizeof out, "tweak") == 0, "tweak: accepted");
	tap_ok(cluster_neoctl_wait(&tc, "print pt", "S3 R ", 5000),
	       "tweak gives S3 cells");
	tap_ok(replicated(out, sizeof out), "S3 replicates until no cell is OUT_OF_DATE");
	tap_diag("after tweak:\n%s", out);
	tap_ok(strstr(out, "S3 R U") || strstr(out, "S3 R .U") || strstr(out, "S3 R ..U"),
	       "S3 holds UP_TO_DATE cells");
	/* the databases are looked into with Python's sqlite3 */
	if (strcmp(cluster_engine(), "sqlite") == 0)
		tap_ok(discarded_cells_emptied(out),
		       "the storages that gave cells away drop their rows in the background");
	else
		tap_skip("rows of given-away cells: checked in the files of the sqlite module only");

	equal = cluster_storage_log_count(&tc, "replicas are equal");
	neoctl(out, sizeof out, "check :");
	tap_ok(checked_equal(equal + 4), "check: the 4 partitions are equal on their replicas");
	tap_ok(load_all(client), "every object reads back after replication");
}

/* "000 | S1 - UP_TO_DATE | S3 - UP_TO_DATE |": the two holders of
 * partition 0. */
static bool holders_of_partition_0(char good[8], char victim[8])
{
	char out[1024];
	const char *first, *second;

	if (neoctl(out, sizeof out, "print pt 0 1") != 0)
		return false;
	first = strstr(out, "| S");
	second = first ? strstr(first + 1, "| S") : NULL;
	if (second == NULL)
		return false;
	sscanf(first + 2, "%7s", good);
	sscanf(second + 2, "%7s", victim);
	return true;
}

static void corrupt_and_check(void)
{
	char good[8] = "", victim[8] = "", command[1024], out[8192];
	int index;

	if (strcmp(cluster_engine(), "sqlite") != 0) {
		/* the row is deleted with Python's sqlite3 */
		tap_skip("a corrupted replica: made in the files of the sqlite module only");
		return;
	}
	tap_ok(holders_of_partition_0(good, victim), "print pt 0 1 names the holders: %s %s",
	       good, victim);
	index = cluster_storage_index(&tc, victim);
	tap_ok(index >= 0, "%s is storage %d", victim, index);
	if (index < 0)
		return;
	cluster_kill(&tc.storages[index], SIGTERM);
	snprintf(command, sizeof command,
		 "python3 -c 'import sqlite3,sys; d=sqlite3.connect(sys.argv[1]);"
		 " d.execute(\"DELETE FROM obj WHERE partition=0 AND oid=(SELECT min(oid) FROM obj"
		 " WHERE partition=0)\"); d.commit()' %s/storage%d.db",
		 tc.dir, index);
	tap_ok(system(command) == 0, "one object revision deleted behind %s's back", victim);
	cluster_start_storage(&tc, index);
	tap_ok(cluster_neoctl_wait(&tc, "print node storage", "| RUNNING |", 10000) &&
	       cluster_neoctl_wait(&tc, "print cluster", "RUNNING", 10000), "%s is back", victim);
	usleep(500000);
	snprintf(command, sizeof command, "check 0:%s", good);
	neoctl(out, sizeof out, command);
	/* as upstream (EXPERIMENTAL_CORRUPTED_STATE off): the master logs the
	 * corrupted cell and leaves the table as it is */
	snprintf(command, sizeof command, "check of partition 0: cell of %s is corrupted", victim);
	tap_ok(cluster_log_has(&tc, "master0.log", command, 15000),
	       "check 0:%s finds %s's cell corrupted (master log)", good, victim);
	tap_ok(cluster_neoctl_wait(&tc, "print pt 0 1", "UP_TO_DATE", 0),
	       "the cell states stay as they were");
}

/* tweak S3 moves its cells away, kill stops it, drop forgets it; the
 * data stays whole on the others. */
static void retire_storage(struct neo_client *client)
{
	char out[8192];
	int index = cluster_storage_index(&tc, "S3");

	tap_ok(neoctl(out, sizeof out, "tweak S3") == 0, "tweak S3: accepted");
	tap_ok(cluster_neoctl_wait(&tc, "print pt", "S3 R ....", 20000),
	       "S3 hands its cells over (S3 R ....)");
	tap_ok(neoctl(out, sizeof out, "kill S3") == 0, "kill S3: %s", out);
	tap_ok(index >= 0 && cluster_neoctl_wait(&tc, "print node storage", "| DOWN ", 10000),
	       "S3 is DOWN");
	neoctl(out, sizeof out, "print node storage");
	tap_diag("%s", out);
	if (index >= 0)
		cluster_kill(&tc.storages[index], SIGTERM);
	tap_ok(neoctl(out, sizeof out, "drop S3") == 0 &&
	       strstr(out, "node permanently removed") != NULL, "drop S3: %s", out);
	neoctl(out, sizeof out, "print node storage");
	tap_ok(strstr(out, "S3") == NULL && strstr(out, "S1") && strstr(out, "S2"),
	       "print node no longer lists S3");
	tap_ok(load_all(client), "every object reads back from S1 and S2");
}

/* truncate TID: the cluster goes back to recovery, every storage cuts its
 * history after TID, and the cluster runs again without the later
 * transactions. */
static void truncate_history(void)
{
	struct neo_client *fresh = NULL;
	struct neo_client_record rec = { 0 };
	char command[64], out[8192];
	int rc;

	snprintf(command, sizeof command, "truncate tid:%llu", (unsigned long long)serials[30]);
	tap_ok(neoctl(out, sizeof out, command) == 0, "truncate after oid 30's commit: accepted %s",
	       out);
	/* as upstream: back to recovery, where the storages get the order;
	 * every storage of the table is there, so it runs again by itself */
	tap_ok(cluster_log_has(&tc, "master0.log", "truncating after", 5000),
	       "the master truncates");
	tap_ok(cluster_neoctl_wait(&tc, "print cluster", "RUNNING", 20000),
	       "the cluster runs again");
	snprintf(command, sizeof command, "last_tid = 0x%llx ", (unsigned long long)serials[30]);
	tap_ok(cluster_neoctl_wait(&tc, "print ids", command, 5000),
	       "print ids: the last tid is the truncation point");
	neoctl(out, sizeof out, "print ids");
	tap_diag("%s(truncated at %llx)", out, (unsigned long long)serials[30]);
	if (cluster_client(&tc, NULL, &fresh, NULL, NULL) != NEO_CLIENT_OK) {
		tap_ok(false, "a new client connects: %s", neo_client_errmsg());
		return;
	}
	rc = neo_client_load(fresh, 30, &rec);
	tap_ok(rc == NEO_CLIENT_OK && rec.serial == serials[30], "oid 30 is there");
	neo_client_record_clear(&rec);
	rc = neo_client_load(fresh, 31, &rec);
	tap_ok(rc == NEO_CLIENT_NOT_FOUND || rc == NEO_CLIENT_NO_DATA,
	       "oid 31, committed after, is gone (%d)", rc);
	neo_client_record_clear(&rec);
	neo_client_close(fresh);
}

static bool exited_within(pid_t *pid, int ms)
{
	int status;

	if (*pid <= 0)
		return true;	/* stopped earlier by the test */
	for (int waited = 0; waited <= ms; waited += 50) {
		if (waitpid(*pid, &status, WNOHANG) == *pid) {
			*pid = 0;
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
				return true;
			tap_diag("exit status %d, signal %d", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
				 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
			return false;
		}
		usleep(50000);
	}
	return false;
}

static void stopping(void)
{
	char out[1024];
	bool all = true;

	tap_ok(neoctl(out, sizeof out, "set cluster STOPPING") == 0,
	       "set cluster STOPPING: accepted");
	all = exited_within(&tc.masters[0], 10000);
	for (int i = 0; i < tc.storage_count; i++)
		all = exited_within(&tc.storages[i], 10000) && all;
	tap_ok(all, "every master and storage exits with status 0");
	tap_ok(exited_within(&tc.admin, 10000), "the admin node exits with status 0 too");
}

int main(void)
{
	struct neo_client *client = NULL;

	cluster_init(&tc, "admintest", 4, 1, 2, 1);
	tc.autostart = 0;	/* wait for `neoctl start` */
	cluster_start(&tc);
	cluster_start_admin(&tc);

	start_and_print(&client);
	mutual_checks();
	add_and_tweak(client);
	corrupt_and_check();
	retire_storage(client);
	if (client)
		neo_client_close(client);
	truncate_history();
	stopping();

	cluster_stop(&tc);
	return tap_done();
}
