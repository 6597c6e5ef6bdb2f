/*
 * test_options.c - storage and master options that change what a node
 * does, on a real cluster (issue 16: each was accepted and ignored):
 *
 *   - --disable-pack: a pack is accepted and completes (the storage
 *     reports it done), but that storage keeps every revision, while
 *     the other packs;
 *   - `set replicas 0` then `tweak` removes the extra cell of each row,
 *     as upstream's tweak does (it used to say "No change done.");
 *   - --disable-drop-partitions: the storage keeps the rows of the
 *     partitions tweaked away (still in its database) and logs it, while
 *     the other storage drops them;
 *   - --new-nid: a copy of a storage's database, taken while it was
 *     stopped, gets a fresh id from the master instead of looping on
 *     "a node with this id is already connected"; started again it
 *     replicates its cells;
 *   - -D/--dynamic-master-list: the file is created with the masters,
 *     and a master named only in the file is found at the next start;
 *   - --wait with a fraction of a second waits (it was truncated to 0).
 *
 * The rows are counted with the sqlite3 command on the storages' files:
 * the test runs on the sqlite engine only.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cluster_util.h"
#include "tap.h"

#define OBJECTS 8

static struct test_cluster tc;

/* The first number printed by sqlite3 for query on storage index's file,
 * or -1. */
static long sql_number(int index, const char *query)
{
	char db[512], line[1024], out[64] = "";
	FILE *pipe;
	long value = -1;

	cluster_storage_database(&tc, index, db, sizeof db);
	snprintf(line, sizeof line, "sqlite3 -readonly '%s' \"%s\" 2>/dev/null", db, query);
	pipe = popen(line, "r");
	if (pipe == NULL)
		return -1;
	if (fgets(out, sizeof out, pipe))
		value = strtol(out, NULL, 10);
	pclose(pipe);
	return value;
}

static int count_char(const char *text, char c)
{
	int n = 0;

	for (; *text; text++)
		n += *text == c;
	return n;
}

/* Waits for print pt to have `cells` U in total and no O or F. */
static bool pt_settles(int cells, int ms, char *out, size_t len)
{
	for (int waited = 0; waited <= ms; waited += 200) {
		const char *rows;

		cluster_neoctl(&tc, out, len, "print pt");
		rows = strchr(out, '\n');
		if (rows && count_char(rows, 'U') == cells && !strchr(rows, 'O')
		    && !strchr(rows, 'F'))
			return true;
		usleep(200000);
	}
	tap_diag("print pt:\n%s", out);
	return false;
}

static bool wait_exit(pid_t pid, int ms, int *status)
{
	for (int waited = 0; waited <= ms; waited += 100) {
		if (waitpid(pid, status, WNOHANG) == pid)
			return true;
		usleep(100000);
	}
	return false;
}

static void pack_and_drop(struct neo_client *client)
{
	uint64_t oids[OBJECTS], serials[OBJECTS], last = 0, pack_id = 0;
	char out[4096];
	int rc;

	neo_client_new_oids(client, OBJECTS, oids);
	for (int i = 0; i < OBJECTS; i++)
		serials[i] = cluster_commit(client, oids[i], 0, "first");
	for (int i = 0; i < OBJECTS; i++)
		last = serials[i] = cluster_commit(client, oids[i], serials[i], "second");
	tap_ok(last != 0, "two revisions of %d objects committed", OBJECTS);
	/* the storages commit the unlock lazily: give them a moment */
	for (int waited = 0; waited < 50
	     && (sql_number(0, "SELECT count(*) FROM obj") != 2 * OBJECTS
		 || sql_number(1, "SELECT count(*) FROM obj") != 2 * OBJECTS); waited++)
		usleep(100000);
	tap_ok(sql_number(0, "SELECT count(*) FROM obj") == 2 * OBJECTS
	       && sql_number(1, "SELECT count(*) FROM obj") == 2 * OBJECTS,
	       "both storages hold the %d revisions (%ld, %ld)", 2 * OBJECTS,
	       sql_number(0, "SELECT count(*) FROM obj"), sql_number(1, "SELECT count(*) FROM obj"));

	/* --disable-pack */
	rc = neo_client_pack(client, last, NULL, 0, true, &pack_id);
	tap_ok(rc == NEO_CLIENT_OK, "a pack is accepted and completes with --disable-pack on S2 "
	       "(%d: %s)", rc, rc ? neo_client_errmsg() : "");
	tap_ok(cluster_log_has(&tc, "storage1.log", "not done here (--disable-pack)", 5000),
	       "the storage with --disable-pack logs that it does not pack");
	tap_ok(sql_number(0, "SELECT count(*) FROM obj") == OBJECTS,
	       "the other storage packed: %ld revisions left",
	       sql_number(0, "SELECT count(*) FROM obj"));
	tap_ok(sql_number(1, "SELECT count(*) FROM obj") == 2 * OBJECTS,
	       "the storage with --disable-pack kept all %ld revisions",
	       sql_number(1, "SELECT count(*) FROM obj"));
	tap_ok(cluster_load_is(client, oids[0], "second"), "the data still reads");

	/* set replicas 0, tweak */
	rc = cluster_neoctl(&tc, out, sizeof out, "set replicas 0");
	tap_ok(rc == 0, "set replicas 0 accepted (%d)", rc);
	rc = cluster_neoctl(&tc, out, sizeof out, "tweak");
	tap_ok(rc == 0 && strstr(out, "No change done.") == NULL,
	       "tweak after lowering the replicas changes the table (%d: %s)", rc, out);
	tap_ok(pt_settles(4, 10000, out, sizeof out) && strstr(out, "replicas: 0"),
	       "print pt: one cell per partition, replicas 0");

	/* --disable-drop-partitions */
	tap_ok(cluster_log_has(&tc, "storage0.log", "dropped", 10000),
	       "the storage without the option drops the partitions it lost");
	for (int waited = 0; waited < 100
	     && sql_number(0, "SELECT count(DISTINCT partition) FROM obj") != 2; waited++)
		usleep(100000);
	tap_ok(sql_number(0, "SELECT count(DISTINCT partition) FROM obj") == 2,
	       "its database has the rows of its 2 partitions only");
	tap_ok(cluster_log_has(&tc, "storage1.log", "don't drop data for partition", 5000),
	       "the storage with --disable-drop-partitions logs what it keeps");
	tap_ok(sql_number(1, "SELECT count(DISTINCT partition) FROM obj") == 4,
	       "its database still has rows of all 4 partitions (%ld)",
	       sql_number(1, "SELECT count(DISTINCT partition) FROM obj"));
	tap_ok(cluster_load_is(client, oids[OBJECTS - 1], "second"), "the data still reads");
}

static void new_nid(void)
{
	static const char *const keep[] = { "--disable-pack", "--disable-drop-partitions", NULL };
	static const char *const renew[] = { "--new-nid", NULL };
	char out[4096], db1[512], db2[512], line[4096];
	long nid1, nid2;
	int status = -1;
	bool exited;

	/* copy S2's database while it is stopped */
	cluster_kill(&tc.storages[1], SIGTERM);
	cluster_storage_database(&tc, 1, db1, sizeof db1);
	cluster_storage_database(&tc, 2, db2, sizeof db2);
	snprintf(line, sizeof line, "cp '%s' '%s' && if [ -f '%s-wal' ]; then cp '%s-wal' '%s-wal'; fi",
		 db1, db2, db1, db1, db2);
	tap_ok(system(line) == 0, "S2's database copied while it is stopped");
	cluster_start_storage_with(&tc, 1, keep);
	tap_ok(cluster_neoctl_wait(&tc, "print cluster", "RUNNING", 20000),
	       "the cluster runs again with S2");
	nid1 = sql_number(1, "SELECT value FROM config WHERE name='nid'");

	cluster_start_storage_with(&tc, 2, renew);
	exited = wait_exit(tc.storages[2], 20000, &status);
	tap_ok(exited && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	       "the copy started with --new-nid exits with status 0 (%d)", status);
	tc.storages[2] = 0;
	tap_ok(cluster_log_has(&tc, "storage2.log", "new node id", 1000),
	       "it logged its new id");
	nid2 = sql_number(2, "SELECT value FROM config WHERE name='nid'");
	tap_ok(nid2 > 0 && nid2 != nid1, "its database has a new id (%ld, S2's is %ld)", nid2,
	       nid1);
	tap_ok(cluster_log_count(&tc, "master0.log", "a node with this id is already connected") == 0,
	       "the master never saw it as a clone of S2");
	cluster_neoctl(&tc, out, sizeof out, "print pt");
	tap_ok(strstr(out, "S3") && count_char(strchr(out, '\n') ? strchr(out, '\n') : out, 'O') == 2,
	       "the master gave it OUT_OF_DATE cells for S2's 2 partitions");
	if (!strstr(out, "S3"))
		tap_diag("print pt:\n%s", out);

	cluster_start_storage(&tc, 2);
	tap_ok(pt_settles(6, 30000, out, sizeof out) && strstr(out, "S3"),
	       "started again, it replicates its cells (6 cells UP_TO_DATE)");
	tap_ok(cluster_neoctl_wait(&tc, "print node storage", "S3 | STORAGE", 5000),
	       "print node lists it as S3");
}

static void dynamic_master_list(void)
{
	char list[600], line[2400], out[4096], path[512];
	FILE *f;
	bool created = false;

	/* -D on a storage started against the running master */
	snprintf(list, sizeof list, "%s/masters.json", tc.dir);
	{
		static char opt[640];
		const char *const extra[] = { "-D", opt, NULL };

		snprintf(opt, sizeof opt, "%s", list);
		cluster_kill(&tc.storages[0], SIGTERM);
		cluster_start_storage_with(&tc, 0, extra);
	}
	for (int waited = 0; waited < 50 && !created; waited++) {
		created = access(list, F_OK) == 0;
		usleep(100000);
	}
	f = fopen(list, "r");
	out[0] = '\0';
	if (f) {
		size_t n = fread(out, 1, sizeof out - 1, f);

		out[n] = '\0';
		fclose(f);
	}
	snprintf(line, sizeof line, "[[\"127.0.0.1\", %d]]", tc.master_ports[0]);
	tap_ok(strstr(out, line) != NULL, "-D: the file lists the master as upstream writes it "
	       "(%s)", out);
	tap_ok(cluster_neoctl_wait(&tc, "print node storage", "S1 | STORAGE | 127.0.0.1", 10000),
	       "the storage with -D joined the cluster");

	/* a master named only in the file: the storage finds it */
	cluster_kill(&tc.storages[0], SIGTERM);
	snprintf(path, sizeof path, "%s/core/neostorage", getenv("abs_top_builddir")
		 ? getenv("abs_top_builddir") : "..");
	{
		char db[512], log[600], bind[64], module[600];
		static const char *const engine = "sqlite";
		pid_t pid;

		cluster_storage_database(&tc, 0, db, sizeof db);
		snprintf(log, sizeof log, "%s/storage0-D.log", tc.dir);
		snprintf(bind, sizeof bind, "127.0.0.1:%d", tc.storage_ports[0]);
		snprintf(module, sizeof module, "%s/backends/.libs/%s.so",
			 getenv("abs_top_builddir") ? getenv("abs_top_builddir") : "..", engine);
		/* --masters names a port where nothing listens */
		pid = fork();
		if (pid == 0) {
			execl(path, path, "-c", tc.name, "-b", bind, "-m", "127.0.0.1:1", "-D", list,
			      "-e", module, "-d", db, "-l", log, (char *)NULL);
			_exit(127);
		}
		tc.storages[0] = pid;
	}
	tap_ok(cluster_log_has(&tc, "storage0-D.log", "identified by the primary master", 20000),
	       "-D: a storage whose --masters is wrong finds the master listed in the file");

	/* as upstream, a file that cannot be written or read is an error */
	{
		const char *top = getenv("abs_top_builddir") ? getenv("abs_top_builddir") : "..";
		char bad[600], err[700];

		snprintf(line, sizeof line, "'%s/core/neoadmin' -c x -D '%s/no/such/dir.json' "
			 ">/dev/null 2>'%s/D.err'", top, tc.dir, tc.dir);
		snprintf(err, sizeof err, "%s/D.err", tc.dir);
		tap_ok(system(line) != 0 && cluster_log_count(&tc, "D.err", "--dynamic-master-list") >= 1,
		       "-D: a file that cannot be written stops the node with a message");
		snprintf(bad, sizeof bad, "%s/bad.json", tc.dir);
		f = fopen(bad, "w");
		if (f) {
			fputs("{\"not\": \"a list\"}\n", f);
			fclose(f);
		}
		snprintf(line, sizeof line, "'%s/core/neoadmin' -c x -D '%s' >/dev/null 2>'%s'", top,
			 bad, err);
		tap_ok(system(line) != 0
		       && cluster_log_count(&tc, "D.err", "not a JSON list of [host, port] pairs") >= 1,
		       "-D: a file that is not a list of masters stops the node with a message");
	}

	/* as upstream, a master lists itself in its file */
	{
		const char *top = getenv("abs_top_builddir") ? getenv("abs_top_builddir") : "..";
		char master[600], own[600], log[600];
		pid_t pid;
		bool listed = false;

		snprintf(master, sizeof master, "%s/core/neomaster", top);
		snprintf(own, sizeof own, "%s/master-D.json", tc.dir);
		snprintf(log, sizeof log, "%s/master-D.log", tc.dir);
		pid = fork();
		if (pid == 0) {
			execl(master, master, "-c", "selfcheck", "-b", "127.0.0.1:0", "-D", own, "-l",
			      log, (char *)NULL);
			_exit(127);
		}
		for (int waited = 0; waited < 50 && !listed; waited++) {
			usleep(100000);
			f = fopen(own, "r");
			if (f) {
				size_t n = fread(out, 1, sizeof out - 1, f);

				out[n] = '\0';
				fclose(f);
				listed = strstr(out, "[\"127.0.0.1\", ") != NULL;
			}
		}
		cluster_kill(&pid, SIGTERM);
		tap_ok(listed, "-D: a master writes its own address in its file (%s)", out);
	}
}

/* --wait, as upstream a number of seconds: a fraction waits (rounded up
 * to the module's whole seconds), not zero.  On mysql_innodb.so, with a
 * server that is not there. */
static void wait_fraction(void)
{
	const char *top = getenv("abs_top_builddir") ? getenv("abs_top_builddir") : "..";
	char module[600], line[1600];
	struct timespec t0, t1;
	double elapsed;
	int rc;

	snprintf(module, sizeof module, "%s/backends/.libs/mysql_innodb.so", top);
	if (access(module, R_OK) != 0) {
		tap_skip("--wait: the mysql_innodb module is not built");
		return;
	}
	snprintf(line, sizeof line, "'%s/core/neostorage' -c x -e '%s' -d 'root@nodb%s/no.sock' "
		 "-w 0.5 -l '%s/wait.log' >/dev/null 2>&1", top, module, tc.dir, tc.dir);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = system(line);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	elapsed = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	tap_ok(rc != 0 && elapsed >= 0.9 && elapsed < 10,
	       "--wait 0.5: the storage retries its database for a second before failing "
	       "(%.2f s)", elapsed);
}

int main(void)
{
	static const char *const no_pack[] = { "--disable-pack", "--disable-drop-partitions", NULL };
	struct neo_client *client = NULL;

	if (strcmp(cluster_engine(), "sqlite") != 0 || system("sqlite3 -version >/dev/null 2>&1")) {
		tap_skip("needs the sqlite engine and the sqlite3 command");
		return tap_done();
	}
	cluster_init(&tc, "optionstest", 4, 1, 3, 1);
	tc.autostart = 2;
	cluster_start_master(&tc, 0);
	usleep(200000);
	cluster_start_storage(&tc, 0);
	cluster_start_storage_with(&tc, 1, no_pack);
	cluster_start_admin(&tc);
	if (!tap_ok(cluster_client(&tc, NULL, &client, NULL, NULL) == NEO_CLIENT_OK,
		    "client connects")) {
		cluster_stop(&tc);
		return tap_done();
	}
	pack_and_drop(client);
	neo_client_close(client);
	new_nid();
	dynamic_master_list();
	wait_fraction();
	cluster_stop(&tc);
	return tap_done();
}
