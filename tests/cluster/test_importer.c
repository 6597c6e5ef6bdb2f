/*
 * test_importer.c - importer.so on a real cluster (one master, one storage
 * with adapter Importer over sqlite.so), run by test_importer.sh, which
 * makes a Data.fs with ZODB (tests/lib/fs_make.py) and dumps it with
 * ZODB's own iterator (tests/lib/fs_dump.py): test_importer DIR, where
 * DIR holds Data.fs and zodb.txt.  The import is slowed down
 * (NEO_IMPORTER_THROTTLE_MS) so that the cluster is looked at in the
 * middle of it:
 *
 *   - during the import, every record of the dump reads as ZODB's
 *     iterator says (data, data_txn of undo records), loadBefore gives
 *     its serial and the serial of the next revision (upstream's does
 *     not), every current revision loads, every transaction's metadata
 *     and oids are ZODB's;
 *   - clients commit during the import: new oids come after the
 *     Data.fs's, an FS object gets a new revision, an undo to a revision
 *     not imported yet keeps its data and back pointer;
 *   - pack is refused during the import;
 *   - a kill -9 in the middle of the import, then a restart: the import
 *     resumes, "All data are imported" is logged, and the destination
 *     holds every transaction and revision exactly once (sqlite3);
 *   - after the import, the same reads give the same answers;
 *   - writeback appends the commits to the Data.fs (read back here with
 *     core/filestorage; test_importer.sh then opens it with ZODB);
 *   - the storage switched to the destination (sqlite.so, database moved
 *     in place) serves the same history.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "cluster_util.h"
#include "filestorage/filestorage.h"
#include "tap.h"

#define MAX_RECORDS 20000
#define MAX_TXNS 2000
#define MAX_COMMITS 8

struct record {
	uint64_t oid, tid, data_txn;	/* data_txn 0: none */
	bool has_data;
	char sha1[41];
	size_t txn;			/* index in txns */
};

struct txn {
	uint64_t tid;
	char user[1024], desc[1024], ext[2048];	/* hex, "-" when empty */
	size_t first, count;		/* its records */
};

struct current {			/* an L line */
	uint64_t oid, serial;
	bool has_data;
	char sha1[41];
};

static struct test_cluster tc;
static struct record records[MAX_RECORDS];
static size_t nrecords;
static struct txn txns[MAX_TXNS];
static size_t ntxns;
static struct current currents[MAX_RECORDS];
static size_t ncurrents;
static uint64_t max_fs_oid;

/* What the test committed, per oid: its serial and data (latest). */
struct commit {
	uint64_t oid, tid, data_serial;
	char data[64];
	bool fs_oid;			/* an oid of the Data.fs */
	uint64_t first_tid;		/* the first commit on that oid */
};
static struct commit commits[MAX_COMMITS];
static size_t ncommits;

static void sha1_hex(const uint8_t *data, size_t size, char out[41])
{
	uint8_t md[SHA_DIGEST_LENGTH];

	SHA1(data, size, md);
	for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

static bool read_dump(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[8192];

	if (f == NULL)
		return false;
	while (fgets(line, sizeof line, f)) {
		if (line[0] == 'T' && ntxns < MAX_TXNS) {
			struct txn *t = &txns[ntxns++];
			char status[4];

			sscanf(line, "T %" SCNx64 " %3s %1023s %1023s %2047s", &t->tid, status,
			       t->user, t->desc, t->ext);
			t->first = nrecords;
		} else if (line[0] == 'R' && nrecords < MAX_RECORDS && ntxns > 0) {
			struct record *r = &records[nrecords++];
			char dt[20];
			size_t len;

			sscanf(line, "R %" SCNx64 " %" SCNx64 " %19s %40s %zu", &r->oid, &r->tid, dt,
			       r->sha1, &len);
			r->data_txn = strcmp(dt, "-") ? strtoull(dt, NULL, 16) : 0;
			r->has_data = strcmp(r->sha1, "none") != 0;
			r->txn = ntxns - 1;
			txns[ntxns - 1].count++;
			if (r->oid > max_fs_oid)
				max_fs_oid = r->oid;
		} else if (line[0] == 'L' && ncurrents < MAX_RECORDS) {
			struct current *c = &currents[ncurrents++];
			char serial[20] = "";

			sscanf(line, "L %" SCNx64 " %19s %40s", &c->oid, serial, c->sha1);
			c->has_data = strcmp(serial, "none") != 0;
			c->serial = c->has_data ? strtoull(serial, NULL, 16) : 0;
		}
	}
	fclose(f);
	return nrecords > 0 && ntxns > 0;
}

static const struct commit *commit_of(uint64_t oid)
{
	for (size_t i = 0; i < ncommits; i++)
		if (commits[i].oid == oid)
			return &commits[i];
	return NULL;
}

/* The serial of the revision after record i of its oid: the next one in
 * the Data.fs, else the test's first commit on it, else 0. */
static uint64_t next_serial_of(size_t i)
{
	const struct commit *c;

	for (size_t j = i + 1; j < nrecords; j++)
		if (records[j].oid == records[i].oid)
			return records[j].tid;
	c = commit_of(records[i].oid);
	return c ? c->first_tid : 0;
}

static void hexify(const uint8_t *p, size_t n, char *out)
{
	if (n == 0) {
		strcpy(out, "-");
		return;
	}
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

static int check_record(struct neo_client *client, size_t i)
{
	const struct record *r = &records[i];
	struct neo_client_record rec = { 0 };
	uint64_t data_serial = 0;
	char sha1[41] = "none";
	int rc = neo_client_load_serial_ex(client, r->oid, r->tid, &rec, &data_serial);
	int bad = 0;

	if (rc == NEO_CLIENT_OK && rec.data)
		sha1_hex(rec.data, rec.size, sha1);
	if ((r->has_data ? rc != NEO_CLIENT_OK : rc != NEO_CLIENT_NO_DATA) ||
	    strcmp(sha1, r->sha1) != 0 || data_serial != r->data_txn) {
		if (bad++ < 3)
			tap_diag("oid %" PRIx64 " at %" PRIx64 ": rc %d, %s data_txn %" PRIx64
				 " (expected %s %" PRIx64 ")", r->oid, r->tid, rc, sha1, data_serial,
				 r->sha1, r->data_txn);
	}
	neo_client_record_clear(&rec);
	rc = neo_client_load_before(client, r->oid, r->tid + 1, &rec);
	if (rec.serial != r->tid || rec.next_serial != next_serial_of(i)) {
		tap_diag("loadBefore(%" PRIx64 ", %" PRIx64 "+1): rc %d serial %" PRIx64 " next %"
			 PRIx64 " (expected next %" PRIx64 ")", r->oid, r->tid, rc, rec.serial,
			 rec.next_serial, next_serial_of(i));
		bad++;
	}
	neo_client_record_clear(&rec);
	return bad;
}

static int check_txn(struct neo_client *client, const struct txn *t)
{
	struct neo_client_txn_info info = { 0 };
	char user[1024], desc[1024], ext[2048];
	int bad = 0;

	if (neo_client_transaction_info(client, t->tid, &info) != NEO_CLIENT_OK) {
		tap_diag("transaction %" PRIx64 ": %s", t->tid, neo_client_errmsg());
		return 1;
	}
	hexify(info.user, info.user_size, user);
	hexify(info.description, info.description_size, desc);
	hexify(info.extension, info.extension_size, ext);
	if (strcmp(user, t->user) || strcmp(desc, t->desc) || strcmp(ext, t->ext) ||
	    info.oid_count != t->count)
		bad++;
	for (size_t k = 0; !bad && k < t->count; k++) {
		bool found = false;

		for (size_t m = 0; m < info.oid_count; m++)
			found |= info.oids[m] == records[t->first + k].oid;
		bad += !found;
	}
	if (bad)
		tap_diag("transaction %" PRIx64 ": metadata or oids differ (%zu oids)", t->tid,
			 info.oid_count);
	neo_client_txn_info_clear(&info);
	return bad;
}

static int check_current(struct neo_client *client, const struct current *c)
{
	struct neo_client_record rec = { 0 };
	char sha1[41] = "none";
	int rc, bad = 0;

	if (commit_of(c->oid))
		return 0;
	rc = neo_client_load(client, c->oid, &rec);
	if (rc == NEO_CLIENT_OK && rec.data)
		sha1_hex(rec.data, rec.size, sha1);
	if (c->has_data ? (rc != NEO_CLIENT_OK || rec.serial != c->serial ||
			   strcmp(sha1, c->sha1) != 0)
			: rc == NEO_CLIENT_OK) {
		tap_diag("load(%" PRIx64 "): rc %d serial %" PRIx64 " %s", c->oid, rc, rec.serial,
			 sha1);
		bad = 1;
	}
	neo_client_record_clear(&rec);
	return bad;
}

static int check_commits(struct neo_client *client)
{
	int bad = 0;

	for (size_t i = 0; i < ncommits; i++) {
		struct neo_client_record rec = { 0 };
		uint64_t data_serial = 0;
		int rc = neo_client_load_serial_ex(client, commits[i].oid, commits[i].tid, &rec,
						   &data_serial);

		if (rc != NEO_CLIENT_OK || data_serial != commits[i].data_serial ||
		    (!commits[i].data_serial && (rec.size != strlen(commits[i].data) ||
						 memcmp(rec.data, commits[i].data, rec.size)))) {
			tap_diag("commit %zu on %" PRIx64 ": rc %d data_serial %" PRIx64, i,
				 commits[i].oid, rc, data_serial);
			bad++;
		}
		neo_client_record_clear(&rec);
	}
	return bad;
}

/* The history of every oid of the dump: its revisions newest first
 * (the test's commits, then the Data.fs's). */
static int check_histories(struct neo_client *client)
{
	int bad = 0;

	for (size_t i = 0; i < ncurrents; i++) {
		struct neo_client_history_entry *entries = NULL;
		size_t count = 0, k = 0;
		uint64_t oid = currents[i].oid;
		int rc = neo_client_history(client, oid, 100000, &entries, &count);

		uint64_t mine[MAX_COMMITS];
		size_t nmine = 0;

		for (size_t c = 0; c < ncommits; c++)	/* the test's, newest first */
			if (commits[c].oid == oid) {
				size_t j = nmine++;

				while (j > 0 && mine[j - 1] < commits[c].tid) {
					mine[j] = mine[j - 1];
					j--;
				}
				mine[j] = commits[c].tid;
			}
		for (size_t c = 0; rc == NEO_CLIENT_OK && c < nmine; c++)
			if (k >= count || entries[k++].serial != mine[c])
				bad++;
		for (size_t r = nrecords; rc == NEO_CLIENT_OK && r-- > 0;)
			if (records[r].oid == oid && (k >= count || entries[k++].serial != records[r].tid))
				bad++;
		if (rc != NEO_CLIENT_OK || k != count) {
			if (bad < 3)
				tap_diag("history of %" PRIx64 ": rc %d, %zu entries", oid, rc, count);
			bad++;
		}
		neo_client_free(entries);
	}
	return bad;
}

/* Before its creation, an object has no revision: loadBefore(first serial)
 * is NO_DATA with no serial (upstream's raised POSKeyError during the
 * import for an object created after the asked tid but not imported). */
static int check_before_creation(struct neo_client *client)
{
	int bad = 0;

	for (size_t i = 0; i < ncurrents; i++) {
		struct neo_client_record rec = { 0 };
		uint64_t first = 0;
		int rc;

		for (size_t r = 0; r < nrecords && !first; r++)
			if (records[r].oid == currents[i].oid)
				first = records[r].tid;
		rc = neo_client_load_before(client, currents[i].oid, first, &rec);
		if (rc != NEO_CLIENT_NO_DATA || rec.serial != 0) {
			if (bad++ < 3)
				tap_diag("loadBefore(%" PRIx64 ", %" PRIx64 "): rc %d serial %" PRIx64,
					 currents[i].oid, first, rc, rec.serial);
		}
		neo_client_record_clear(&rec);
	}
	return bad;
}

/* The iterator's and undoLog's tids: the Data.fs's, then the commits. */
static int check_tid_lists(struct neo_client *client)
{
	uint64_t *tids = NULL, expected[MAX_TXNS + MAX_COMMITS];
	size_t count = 0, n = 0;
	int bad = 0;

	for (size_t i = 0; i < ntxns; i++)
		expected[n++] = txns[i].tid;
	for (size_t i = 0; i < ncommits; i++) {
		size_t j = n++;

		while (j > 0 && expected[j - 1] > commits[i].tid) {	/* sorted */
			expected[j] = expected[j - 1];
			j--;
		}
		expected[j] = commits[i].tid;
	}
	if (neo_client_tids_from(client, 0, UINT64_MAX >> 1, 0, &tids, &count) != NEO_CLIENT_OK ||
	    count != n)
		bad++;
	for (size_t i = 0; !bad && i < n; i++)
		bad += tids[i] != expected[i];
	neo_client_free(tids);
	tids = NULL;
	if (neo_client_undo_log(client, 0, 20, &tids, &count) != NEO_CLIENT_OK || count != 20)
		bad++;
	for (size_t i = 0; !bad && i < 20; i++)
		bad += tids[i] != expected[n - 1 - i];
	neo_client_free(tids);
	if (bad)
		tap_diag("tid lists differ (%zu tids, %zu expected)", count, n);
	return bad;
}

/* Every record, transaction and current revision as ZODB's dump says. */
static void check_all(struct neo_client *client, const char *when)
{
	int bad_records = 0, bad_txns = 0, bad_currents = 0;

	for (size_t i = 0; i < nrecords; i++)
		bad_records += check_record(client, i) != 0;
	for (size_t i = 0; i < ntxns; i++)
		bad_txns += check_txn(client, &txns[i]);
	for (size_t i = 0; i < ncurrents; i++)
		bad_currents += check_current(client, &currents[i]);
	tap_ok(bad_records == 0, "%s: %zu records read as ZODB's iterator gives them (data, "
	       "data_txn, loadBefore's serial and next serial)", when, nrecords);
	tap_ok(bad_txns == 0, "%s: %zu transactions with ZODB's user, description, extension "
	       "and oids", when, ntxns);
	tap_ok(bad_currents == 0, "%s: %zu current revisions load as ZODB loads them", when,
	       ncurrents);
	tap_ok(check_before_creation(client) == 0, "%s: before its creation, each object has "
	       "no revision (loadBefore)", when);
	tap_ok(check_histories(client) == 0, "%s: the history of each of %zu oids lists its "
	       "revisions", when, ncurrents);
	tap_ok(check_tid_lists(client) == 0, "%s: the iterator's tids and undoLog's first page "
	       "are the transactions'", when);
	if (ncommits)
		tap_ok(check_commits(client) == 0, "%s: the commits made during the import read "
		       "back", when);
}

static uint64_t store(struct neo_client *client, uint64_t oid, uint64_t serial,
		      uint64_t undo_to, const char *data)
{
	struct neo_txn *txn;
	struct neo_client_conflict *conflicts = NULL;
	size_t count = 0;
	uint64_t tid = 0;
	int rc = neo_client_begin(client, 0, &txn);

	if (rc != NEO_CLIENT_OK)
		return 0;
	rc = undo_to ? neo_txn_store_undo(txn, oid, serial, undo_to)
		     : neo_txn_store(txn, oid, serial, data, strlen(data));
	if (rc == NEO_CLIENT_OK)
		rc = neo_txn_vote(txn, "tester", 6, "during import", 13, "", 0, &conflicts, &count);
	if (rc == NEO_CLIENT_OK)
		rc = neo_txn_finish(txn, &tid);
	if (rc != NEO_CLIENT_OK) {
		tap_diag("commit on %" PRIx64 ": %d %s", oid, rc, neo_client_errmsg());
		neo_client_conflicts_free(conflicts, count);
		neo_txn_abort(txn);
		return 0;
	}
	if (ncommits < MAX_COMMITS) {
		commits[ncommits] = (struct commit){ oid, tid, undo_to, "", oid <= max_fs_oid, tid };
		snprintf(commits[ncommits].data, sizeof commits[ncommits].data, "%s", data);
		ncommits++;
	}
	return tid;
}

static bool importing(void)
{
	return cluster_storage_log_count(&tc, "All data are imported") == 0;
}

/* The last record of the dump with data of an oid with at least two such
 * revisions, late in the file (not imported yet while throttled). */
static size_t late_record_with_earlier(void)
{
	for (size_t i = nrecords; i-- > nrecords / 2;) {
		if (!records[i].has_data || records[i].data_txn)
			continue;
		for (size_t j = i; j-- > 0;)
			if (records[j].oid == records[i].oid && records[j].has_data &&
			    !records[j].data_txn && next_serial_of(i) == 0)
				return i;
	}
	return 0;
}

static size_t earlier_record(size_t i)
{
	for (size_t j = i; j-- > 0;)
		if (records[j].oid == records[i].oid)
			return j;
	return i;
}

static void commit_during_import(struct neo_client *client)
{
	uint64_t oids[2], tid, serial;
	size_t late = late_record_with_earlier(), earlier = earlier_record(late);

	tap_ok(neo_client_new_oids(client, 2, oids) == NEO_CLIENT_OK && oids[0] > max_fs_oid &&
	       oids[1] > max_fs_oid, "new oids come after the Data.fs's last oid %" PRIx64,
	       max_fs_oid);
	tid = store(client, oids[0], 0, 0, "new object one");
	tid = tid ? store(client, oids[0], tid, 0, "new object two") : 0;
	tap_ok(tid > txns[ntxns - 1].tid && store(client, oids[1], 0, 0, "another"),
	       "new objects are committed during the import, after the Data.fs's last tid");
	serial = records[late].tid;
	tid = store(client, records[late].oid, serial, records[earlier].tid, "");
	tap_ok(tid != 0, "an undo of an object to a revision not imported yet (oid %" PRIx64
	       ", back to %" PRIx64 ")", records[late].oid, records[earlier].tid);
	if (tid)
		commits[ncommits - 1].data_serial = records[earlier].tid;
	tap_ok(tid && store(client, records[late].oid, tid, 0, "changed during import"),
	       "an object of the Data.fs gets a new revision during the import");
	for (size_t i = 0; i < ncommits; i++)	/* the first commit on each oid */
		for (size_t j = 0; j < i; j++)
			if (commits[j].oid == commits[i].oid)
				commits[i].first_tid = commits[j].first_tid;
	/* commit_of() must give the latest of each oid */
	for (size_t i = 0; i < ncommits; i++)
		for (size_t j = i + 1; j < ncommits; j++)
			if (commits[j].oid == commits[i].oid) {
				struct commit later = commits[j];

				commits[j] = commits[i];
				commits[i] = later;
			}
}

static long sql_number(const char *db, const char *query)
{
	char line[1024], out[64] = "";
	FILE *pipe;
	long value = -1;

	snprintf(line, sizeof line, "sqlite3 -readonly '%s' \"%s\" 2>/dev/null", db, query);
	pipe = popen(line, "r");
	if (pipe == NULL)
		return -1;
	if (fgets(out, sizeof out, pipe))
		value = strtol(out, NULL, 10);
	pclose(pipe);
	return value;
}

static uint64_t fs_last_tid(const char *path)
{
	struct fs_file *fs;
	char err[256];
	uint64_t tid = 0;

	if (fs_open(path, false, false, &fs, err, sizeof err) != FS_OK)
		return 0;
	if (fs_scan_end(fs) == FS_OK)
		tid = fs->last_tid;
	fs_close(fs);
	return tid;
}

static void write_conf(const char *datafs, const char *dest)
{
	char path[512];
	FILE *f;

	cluster_storage_database(&tc, 0, path, sizeof path);
	f = fopen(path, "w");
	if (f == NULL)
		return;
	fprintf(f, "# made by test_importer\n[neo]\nadapter = SQLite\ndatabase = %s\n"
		"writeback = true\n\n[root]\nstorage =\n  <filestorage>\n    path %s\n"
		"  </filestorage>\n", dest, datafs);
	fclose(f);
}

/* Writes what ZODB must read in the Data.fs after writeback. */
static void write_expected(const char *dir)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/writeback.txt", dir);
	f = fopen(path, "w");
	if (f == NULL)
		return;
	for (size_t i = 0; i < ncommits; i++) {
		const struct commit *c = &commits[i];
		char sha1[41];

		if (commit_of(c->oid) != c)
			continue;
		sha1_hex((const uint8_t *)c->data, strlen(c->data), sha1);
		fprintf(f, "L %016" PRIx64 " %016" PRIx64 " %s\n", c->oid, c->tid, sha1);
	}
	fclose(f);
}

static void switch_over(const char *dest)
{
	char db[512], from[700], to[700];
	struct neo_client *client = NULL;

	cluster_stop(&tc);
	cluster_storage_database(&tc, 0, db, sizeof db);
	unlink(db);	/* the importer.conf */
	rename(dest, db);
	for (int i = 0; i < 2; i++) {
		snprintf(from, sizeof from, "%s%s", dest, i ? "-wal" : "-shm");
		snprintf(to, sizeof to, "%s%s", db, i ? "-wal" : "-shm");
		rename(from, to);
	}
	setenv("NEO_TEST_ENGINE", "sqlite", 1);
	cluster_start(&tc);
	if (!tap_ok(cluster_client(&tc, NULL, &client, NULL, NULL) == NEO_CLIENT_OK,
		    "switched to sqlite.so on the destination, the cluster runs"))
		return;
	check_all(client, "after switch-over");
	neo_client_close(client);
}

/* test_importer DIR migrate: neomigrate both ways through a plain
 * cluster; DIR/Data.fs in, DIR/out.fs out (test_neomigrate.sh compares it
 * with ZODB's dump). */
static int run_migrate(const char *dir, const char *datafs)
{
	struct neo_client *client = NULL;
	const char *builddir = getenv("abs_top_builddir");
	char masters[256], command[2048];

	cluster_init(&tc, "migrate", 3, 0, 1, 1);
	cluster_start(&tc);
	cluster_masters(&tc, masters, sizeof masters);
	if (!tap_ok(cluster_client(&tc, NULL, &client, NULL, NULL) == NEO_CLIENT_OK,
		    "an empty cluster runs")) {
		cluster_stop(&tc);
		return tap_done();
	}
	snprintf(command, sizeof command, "'%s/core/neomigrate' -c %s '%s' '%s' >'%s/fs2neo.out' "
		 "2>&1", builddir ? builddir : ".", tc.name, datafs, masters, dir);
	tap_ok(system(command) == 0, "neomigrate FileStorage -> NEO");
	tap_ok(neo_client_sync(client) == NEO_CLIENT_OK, "the client sees the new transactions");
	check_all(client, "after neomigrate FS -> NEO");
	snprintf(command, sizeof command, "'%s/core/neomigrate' -c %s '%s' '%s/out.fs' "
		 ">'%s/neo2fs.out' 2>&1", builddir ? builddir : ".", tc.name, masters, dir, dir);
	tap_ok(system(command) == 0, "neomigrate NEO -> FileStorage");
	neo_client_close(client);
	cluster_stop(&tc);
	return tap_done();
}

/* The import's line under neoctl print summary (ours): transactions, MB,
 * pace and time left; and the admin's metrics (neo_progress_*). */
static void summary_during_import(void)
{
	char out[8192] = "";
	bool seen;

	cluster_start_admin(&tc);
	seen = cluster_neoctl_wait(&tc, "print summary", " MB/s, about ", 15000);
	cluster_neoctl(&tc, out, sizeof out, "print summary");
	if (!tap_ok(seen && strstr(out, "\nimport S") && strstr(out, " transactions, ")
		    && strstr(out, " MB (") && strstr(out, " left"),
		    "neoctl print summary shows the import: transactions, MB, rate, time left")
	    || strstr(out, "import S"))
		tap_diag("%s", out);
}

/* Whether text is absent from neoctl print summary within ms. */
static bool summary_lacks(const char *text, int ms)
{
	char out[8192];

	for (int waited = 0; waited <= ms; waited += 200) {
		if (cluster_neoctl(&tc, out, sizeof out, "print summary") == 0 && !strstr(out, text))
			return true;
		usleep(200000);
	}
	tap_diag("%s", out);
	return false;
}

/* As upstream, the Importer's node is the only storage node during the
 * import: a cluster made with it and a second (sqlite) storage, one
 * replica, is refused by the Importer's node, which stops with a message
 * (replication to or from it would be wrong). */
static void check_only_storage(const char *datafs)
{
	struct test_cluster two;
	char conf[512], dest[600], module[600], db1[600];
	const char *builddir = getenv("abs_top_builddir");
	const char *extra[] = { "-e", module, "-d", db1, NULL };
	int status = 0;
	bool exited = false;
	FILE *f;

	cluster_init(&two, "importer-two", 3, 1, 2, 1);
	cluster_storage_database(&two, 0, conf, sizeof conf);
	snprintf(dest, sizeof dest, "%s/dest.sqlite", two.dir);
	snprintf(db1, sizeof db1, "%s/other.sqlite", two.dir);
	snprintf(module, sizeof module, "%s/backends/.libs/sqlite.so", builddir ? builddir : ".");
	f = fopen(conf, "w");
	if (f != NULL) {
		fprintf(f, "[neo]\nadapter = SQLite\ndatabase = %s\n\n[root]\nstorage =\n"
			"  <filestorage>\n    path %s\n  </filestorage>\n", dest, datafs);
		fclose(f);
	}
	cluster_start_master(&two, 0);
	cluster_start_storage(&two, 0);
	cluster_start_storage_with(&two, 1, extra);
	tap_ok(cluster_log_has(&two, "storage0.log", "must be the only storage node", 20000),
	       "a partition table giving cells to a second storage node during the import is "
	       "refused by the Importer's node, with a message");
	for (int waited = 0; waited < 10000 && !exited; waited += 100) {
		exited = waitpid(two.storages[0], &status, WNOHANG) == two.storages[0];
		if (!exited)
			usleep(100000);
	}
	if (exited)
		two.storages[0] = 0;
	tap_ok(exited, "the Importer's node stops rather than serve such a table");
	cluster_stop(&two);
}

int main(int argc, char **argv)
{
	struct neo_client *client = NULL;
	char datafs[512], dump[512], dest[600];
	uint64_t pack_id = 0, last_commit = 0;
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: test_importer DIR (with Data.fs and zodb.txt)\n");
		return 2;
	}
	snprintf(datafs, sizeof datafs, "%s/Data.fs", argv[1]);
	snprintf(dump, sizeof dump, "%s/zodb.txt", argv[1]);
	if (!read_dump(dump)) {
		tap_ok(false, "ZODB's dump %s read", dump);
		return tap_done();
	}
	tap_ok(true, "ZODB's dump read: %zu transactions, %zu records", ntxns, nrecords);
	if (argc > 2 && strcmp(argv[2], "migrate") == 0)
		return run_migrate(argv[1], datafs);
	setenv("NEO_TEST_ENGINE", "importer", 1);
	setenv("NEO_IMPORTER_THROTTLE_MS", "60", 1);
	check_only_storage(datafs);
	cluster_init(&tc, "importer", 3, 0, 1, 1);
	snprintf(dest, sizeof dest, "%s/dest.sqlite", tc.dir);
	write_conf(datafs, dest);
	cluster_start(&tc);
	if (!tap_ok(cluster_client(&tc, NULL, &client, NULL, NULL) == NEO_CLIENT_OK,
		    "a cluster on the Importer runs at once")) {
		cluster_stop(&tc);
		return tap_done();
	}
	check_all(client, "during the import");
	tap_ok(importing(), "those reads were all done during the import");
	summary_during_import();
	commit_during_import(client);
	rc = neo_client_pack(client, commits[0].tid, NULL, 0, false, &pack_id);
	tap_ok(rc != NEO_CLIENT_OK, "pack is refused during the import (%s)", neo_client_errmsg());
	tap_ok(importing(), "still importing: kill -9 the storage");
	cluster_kill(&tc.storages[0], SIGKILL);
	cluster_start_storage(&tc, 0);
	for (int waited = 0; waited < 20000 &&
	     cluster_storage_log_count(&tc, "already imported") < 2; waited += 100)
		usleep(100000);
	tap_ok(cluster_storage_log_count(&tc, "already imported") == 2 &&
	       cluster_storage_log_count(&tc, " 0 of ") == 1,
	       "the restarted storage resumes the import where it was");
	unsetenv("NEO_IMPORTER_THROTTLE_MS");
	tap_ok(cluster_log_has(&tc, "storage0.log", "All data are imported", 60000),
	       "\"All data are imported\" is logged");
	tap_ok(summary_lacks("import S", 10000),
	       "neoctl print summary no longer shows the import once it is done");
	tap_ok(cluster_storage_log_count(&tc, "MB/s, ") > 0 &&
	       cluster_storage_log_count(&tc, " s left") > 0,
	       "the progress was logged (transactions, MB, rate, time left)");
	tap_ok(sql_number(dest, "SELECT COUNT(*) FROM trans") == (long)ntxns + (long)ncommits &&
	       sql_number(dest, "SELECT COUNT(*) FROM obj") == (long)nrecords + (long)ncommits,
	       "the destination holds every transaction and revision once (%ld transactions, "
	       "%ld revisions)", sql_number(dest, "SELECT COUNT(*) FROM trans"),
	       sql_number(dest, "SELECT COUNT(*) FROM obj"));
	check_all(client, "after the import");
	for (size_t i = 0; i < ncommits; i++)
		if (commits[i].tid > last_commit)
			last_commit = commits[i].tid;
	for (int waited = 0; waited < 20000 && fs_last_tid(datafs) != last_commit; waited += 100)
		usleep(100000);
	tap_ok(last_commit && fs_last_tid(datafs) == last_commit,
	       "writeback appended the commits to the Data.fs");
	write_expected(argv[1]);
	neo_client_close(client);
	switch_over(dest);
	cluster_stop(&tc);
	return tap_done();
}
