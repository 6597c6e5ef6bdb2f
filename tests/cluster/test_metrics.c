/*
 * test_metrics.c - --metrics on a real cluster (a master, two storages
 * with one replica, an admin), scraped over HTTP and parsed by
 * prometheus_client's parser from PyPI (metrics_scrape.py, one process run
 * by $NEO_METRICS_PYTHON: test_metrics.sh makes the virtualenv):
 *
 *   - every daemon answers, its text parses, and each family has the
 *     type the README says; a storage tells its database's size (db_size,
 *     ABI 1.1);
 *   - the admin shows the cluster RUNNING, nodes by type and state, the
 *     cells by state, and once something is committed the last tid's
 *     time and age;
 *   - commits move the master's begun/finished counters and its finish
 *     latency histogram, each storage's commits; loads from a client move the storages' loads and their
 *     latency histogram; a conflict moves conflicts and aborts;
 *   - a storage that goes down moves the admin's node counts (RUNNING to
 *     DOWN) and cell counts (OUT_OF_DATE); back while its source is
 *     paused, it shows a replication lag for each partition; then it
 *     replicates what it missed: its replicated transactions and bytes
 *     move, and the cells are all UP_TO_DATE again;
 *   - a pack in progress (slowed down: NEO_PACK_THROTTLE_MS) shows on the
 *     admin (neo_progress_*: order, partitions, oids, pace), and no longer
 *     once done;
 *   - --metrics without a port, and a port in use, stop the daemon with a
 *     message naming --metrics;
 *   - every daemon serving metrics stops with status 0 on SIGTERM (under
 *     the sanitizers: no leak, no error, in the endpoint either).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "autoconfig.h"
#include "cluster_util.h"
#include "tap.h"

#define PARTITIONS 2
#define MAX_LINES 600

static struct test_cluster tc;

/* A scrape: the lines metrics_scrape.py printed. */
struct scrape {
	char *lines[MAX_LINES];
	int count;
	bool ok;
};

static void scrape_free(struct scrape *s)
{
	for (int i = 0; i < s->count; i++)
		free(s->lines[i]);
	s->count = 0;
}

/* The scraper process (metrics_scrape.py): URLs to its stdin, its
 * answers from its stdout. */
static FILE *scraper_in, *scraper_out;
static pid_t scraper;

static bool scraper_start(void)
{
	const char *python = getenv("NEO_METRICS_PYTHON");
	const char *script = getenv("NEO_METRICS_SCRAPER");
	int to_child[2], from_child[2];

	if (pipe(to_child) != 0 || pipe(from_child) != 0)
		return false;
	scraper = fork();
	if (scraper == 0) {
		dup2(to_child[0], STDIN_FILENO);
		dup2(from_child[1], STDOUT_FILENO);
		close(to_child[0]);
		close(to_child[1]);
		close(from_child[0]);
		close(from_child[1]);
		execl(python, python, script, (char *)NULL);
		_exit(127);
	}
	close(to_child[0]);
	close(from_child[1]);
	/* the daemons spawned later must not hold the scraper's stdin open */
	fcntl(to_child[1], F_SETFD, FD_CLOEXEC);
	fcntl(from_child[0], F_SETFD, FD_CLOEXEC);
	scraper_in = fdopen(to_child[1], "w");
	scraper_out = fdopen(from_child[0], "r");
	return scraper > 0 && scraper_in != NULL && scraper_out != NULL;
}

static void scraper_stop(void)
{
	int status;

	if (scraper_in != NULL)
		fclose(scraper_in);
	if (scraper_out != NULL)
		fclose(scraper_out);
	if (scraper > 0)
		waitpid(scraper, &status, 0);
}

static bool scrape(int port, struct scrape *s)
{
	char line[1024];

	memset(s, 0, sizeof *s);
	fprintf(scraper_in, "http://127.0.0.1:%d/metrics\n", port);
	fflush(scraper_in);
	while (fgets(line, sizeof line, scraper_out)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "end ", 4) == 0) {
			s->ok = strcmp(line, "end ok") == 0;
			if (!s->ok)
				tap_diag("scrape of port %d: %s", port, line);
			break;
		}
		if (s->count < MAX_LINES)
			s->lines[s->count++] = strdup(line);
	}
	return s->ok;
}

/* The value of sample name{labels} ("k=v,k=v" sorted, "-": none), NAN if absent. */
static double sample(const struct scrape *s, const char *name, const char *labels)
{
	char prefix[512];

	snprintf(prefix, sizeof prefix, "sample %s %s ", name, labels);
	for (int i = 0; i < s->count; i++)
		if (strncmp(s->lines[i], prefix, strlen(prefix)) == 0)
			return strtod(s->lines[i] + strlen(prefix), NULL);
	return NAN;
}

static bool family_type(const struct scrape *s, const char *name, const char *type)
{
	char want[256];

	snprintf(want, sizeof want, "type %s %s", name, type);
	for (int i = 0; i < s->count; i++)
		if (strcmp(s->lines[i], want) == 0)
			return true;
	tap_diag("no family %s of type %s", name, type);
	return false;
}

/* One value from a fresh scrape (NAN when the scrape fails). */
static double scrape_value(int port, const char *name, const char *labels)
{
	struct scrape s;
	double value = NAN;

	if (scrape(port, &s))
		value = sample(&s, name, labels);
	scrape_free(&s);
	return value;
}

/* Scrapes until name{labels} == want, for up to ms. */
static bool wait_value(int port, const char *name, const char *labels, double want, int ms)
{
	double value = NAN;

	for (int waited = 0; waited <= ms; waited += 250) {
		value = scrape_value(port, name, labels);
		if (value == want)
			return true;
		usleep(250000);
	}
	tap_diag("%s{%s} is %g, not %g", name, labels, value, want);
	return false;
}

static int free_port(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof addr;
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&addr, sizeof addr);
	getsockname(fd, (struct sockaddr *)&addr, &len);
	port = ntohs(addr.sin_port);
	close(fd);
	return port;
}

static int master_port, storage_port[2], admin_port;

static void start_storage(int index)
{
	char where[64];
	const char *extra[] = { "--metrics", where, NULL };

	snprintf(where, sizeof where, "127.0.0.1:%d", storage_port[index]);
	cluster_start_storage_with(&tc, index, extra);
}

static void start_cluster(void)
{
	char where[64];
	const char *extra[] = { "--metrics", where, NULL };

	master_port = free_port();
	storage_port[0] = free_port();
	storage_port[1] = free_port();
	admin_port = free_port();
	snprintf(where, sizeof where, "127.0.0.1:%d", master_port);
	cluster_start_master_with(&tc, 0, extra);
	usleep(200000);
	start_storage(0);
	start_storage(1);
	snprintf(where, sizeof where, "127.0.0.1:%d", admin_port);
	cluster_start_admin_with(&tc, extra);
}

static void check_types(void)
{
	struct scrape s;

	tap_ok(scrape(master_port, &s) && family_type(&s, "neo_master_transactions_begun", "counter")
	       && family_type(&s, "neo_master_transactions_finished", "counter")
	       && family_type(&s, "neo_master_transactions_aborted", "counter")
	       && family_type(&s, "neo_master_primary", "gauge")
	       && family_type(&s, "neo_open_connections", "gauge")
	       && sample(&s, "neo_master_primary", "-") == 1
	       && sample(&s, "neo_build_info", "program=neomaster,version=" PACKAGE_VERSION) == 1,
	       "the master's text parses, with its families and types");
	scrape_free(&s);
	scrape(storage_port[0], &s);
	tap_ok(s.ok && family_type(&s, "neo_storage_commits", "counter")
	       && family_type(&s, "neo_storage_aborts", "counter")
	       && family_type(&s, "neo_storage_conflicts", "counter")
	       && family_type(&s, "neo_storage_loads", "counter")
	       && family_type(&s, "neo_storage_load_duration_seconds", "histogram")
	       && family_type(&s, "neo_storage_replicated_bytes", "counter")
	       && family_type(&s, "neo_storage_replicated_transactions", "counter")
	       && family_type(&s, "neo_storage_replication_lag_seconds", "gauge")
	       && family_type(&s, "neo_storage_cells", "gauge")
	       && sample(&s, "neo_storage_cells", "state=UP_TO_DATE") == PARTITIONS
	       && sample(&s, "neo_open_connections", "-") >= 1
	       && sample(&s, "neo_storage_database_size_bytes", "-") > 0,
	       "a storage's text parses, with its families and types, its cells UP_TO_DATE, "
	       "its database's size (%g bytes)", sample(&s, "neo_storage_database_size_bytes", "-"));
	scrape_free(&s);
	tap_ok(scrape(admin_port, &s) && family_type(&s, "neo_cluster_nodes", "gauge")
	       && sample(&s, "neo_admin_primary_connected", "-") == 1
	       && sample(&s, "neo_cluster_state", "state=RUNNING") == 1
	       && sample(&s, "neo_cluster_state", "state=RECOVERING") == 0
	       && sample(&s, "neo_cluster_nodes", "state=RUNNING,type=STORAGE") == 2
	       && sample(&s, "neo_cluster_nodes", "state=RUNNING,type=MASTER") == 1
	       && sample(&s, "neo_cluster_nodes", "state=RUNNING,type=ADMIN") == 1
	       && sample(&s, "neo_cluster_nodes", "state=DOWN,type=STORAGE") == 0
	       && sample(&s, "neo_cluster_cells", "state=UP_TO_DATE") == 2 * PARTITIONS
	       && sample(&s, "neo_cluster_cells", "state=OUT_OF_DATE") == 0
	       && sample(&s, "neo_cluster_partitions", "-") == PARTITIONS
	       && sample(&s, "neo_cluster_replicas", "-") == 1,
	       "the admin: RUNNING, 1 master, 2 storages, 1 admin, %d cells UP_TO_DATE",
	       2 * PARTITIONS);
	scrape_free(&s);
}

static uint64_t serials[8];

static void check_commits(struct neo_client *client)
{
	double begun = scrape_value(master_port, "neo_master_transactions_begun_total", "-");
	double finished = scrape_value(master_port, "neo_master_transactions_finished_total", "-");
	double commits[2], loads = scrape_value(storage_port[0], "neo_storage_loads_total", "-")
		+ scrape_value(storage_port[1], "neo_storage_loads_total", "-");
	struct neo_client *reader = NULL;
	bool all = true;
	struct scrape s;
	double last_time;

	for (int i = 0; i < 2; i++)
		commits[i] = scrape_value(storage_port[i], "neo_storage_commits_total", "-");
	tap_ok(!isnan(begun) && !isnan(finished) && !isnan(commits[0]) && !isnan(loads),
	       "the counters are there before any commit (begun %g, finished %g, commits %g)",
	       begun, finished, commits[0]);
	for (uint64_t oid = 1; oid <= 3; oid++) {
		char data[32];

		snprintf(data, sizeof data, "object %llu", (unsigned long long)oid);
		serials[oid] = cluster_commit(client, oid, 0, data);
		all &= serials[oid] != 0;
	}
	tap_ok(all, "3 transactions committed");
	tap_ok(scrape_value(master_port, "neo_master_transactions_begun_total", "-") == begun + 3
	       && scrape_value(master_port, "neo_master_transactions_finished_total", "-")
		  == finished + 3, "the master counted 3 begun and 3 finished");
	tap_ok(scrape_value(master_port, "neo_master_finish_duration_seconds_count", "-")
	       == finished + 3
	       && scrape_value(master_port, "neo_master_finish_duration_seconds_bucket", "le=+Inf")
		  == finished + 3
	       && scrape_value(master_port, "neo_master_finish_duration_seconds_sum", "-") > 0,
	       "its finish latency histogram has one observation per commit");
	/* the unlock reaches storages just after the client's answer */
	tap_ok(wait_value(storage_port[0], "neo_storage_commits_total", "-", commits[0] + 3, 5000)
	       && wait_value(storage_port[1], "neo_storage_commits_total", "-", commits[1] + 3,
			     5000), "each storage (both replicas) counted 3 commits");
	tap_ok(wait_value(admin_port, "neo_cluster_last_tid_timestamp_seconds", "-",
			  scrape_value(master_port, "neo_master_last_tid_timestamp_seconds", "-"),
			  5000),
	       "the admin's last tid time is the master's after the commits");
	last_time = scrape_value(admin_port, "neo_cluster_last_tid_timestamp_seconds", "-");
	tap_ok(fabs(last_time - (double)time(NULL)) < 60
	       && scrape_value(admin_port, "neo_cluster_last_tid_age_seconds", "-") < 60,
	       "the last tid stands for now, its age is small");
	/* a new client: nothing in its cache, loads go to the storages */
	if (cluster_client(&tc, NULL, &reader, NULL, NULL) == NEO_CLIENT_OK) {
		tap_ok(cluster_load_is(reader, 1, "object 1") && cluster_load_is(reader, 2, "object 2")
		       && cluster_load_is(reader, 3, "object 3"), "3 objects loaded by a new client");
		neo_client_close(reader);
	} else {
		tap_ok(false, "a second client connects");
	}
	all = scrape(storage_port[0], &s);
	{
		double loads0 = sample(&s, "neo_storage_loads_total", "-");
		double count0 = sample(&s, "neo_storage_load_duration_seconds_count", "-");
		double inf0 = sample(&s, "neo_storage_load_duration_seconds_bucket", "le=+Inf");
		double loads1 = scrape_value(storage_port[1], "neo_storage_loads_total", "-");

		tap_ok(all && loads0 + loads1 >= loads + 3, "the storages counted the loads (%g)",
		       loads0 + loads1 - loads);
		tap_ok(count0 == loads0 && inf0 == loads0
		       && sample(&s, "neo_storage_load_duration_seconds_sum", "-") >= 0,
		       "the latency histogram has one observation per load");
	}
	scrape_free(&s);
}

static void check_conflict(struct neo_client *client)
{
	double conflicts = scrape_value(storage_port[0], "neo_storage_conflicts_total", "-")
		+ scrape_value(storage_port[1], "neo_storage_conflicts_total", "-");
	double aborts = scrape_value(storage_port[0], "neo_storage_aborts_total", "-");
	double aborted = scrape_value(master_port, "neo_master_transactions_aborted_total", "-");

	/* stored on serial 0: oid 1 changed since */
	tap_ok(cluster_commit(client, 1, 0, "stale") == 0, "a store on a stale serial fails");
	tap_ok(scrape_value(storage_port[0], "neo_storage_conflicts_total", "-")
	       + scrape_value(storage_port[1], "neo_storage_conflicts_total", "-") > conflicts,
	       "the storages counted the conflict");
	tap_ok(wait_value(storage_port[0], "neo_storage_aborts_total", "-", aborts + 1, 5000)
	       && wait_value(master_port, "neo_master_transactions_aborted_total", "-",
			     aborted + 1, 5000),
	       "its abort is counted by the storage and the master");
}

/* Scrapes until every own partition has a replication lag > 0, for up to
 * ms; *took: how long it took. */
static bool wait_lag(int port, int ms, int *took)
{
	const char *prefix = "sample neo_storage_replication_lag_seconds partition=";

	for (int waited = 0; waited <= ms; waited += 250) {
		struct scrape s;
		int lagging = 0;

		if (scrape(port, &s))
			for (int i = 0; i < s.count; i++) {
				const char *value;

				if (strncmp(s.lines[i], prefix, strlen(prefix)) != 0)
					continue;
				value = strchr(s.lines[i] + strlen(prefix), ' ');
				if (value && strtod(value, NULL) > 0)
					lagging++;
			}
		scrape_free(&s);
		*took = waited;
		if (lagging == PARTITIONS)
			return true;
		usleep(250000);
	}
	return false;
}

static bool sample_with(const struct scrape *s, const char *name, const char *want,
			char *labels, size_t size);

/* While it cannot catch up, the catching-up storage's replication on the
 * admin (neo_progress_*, task replicate): its OUT_OF_DATE cells counted,
 * and the same line under neoctl print summary. */
static void check_replication_progress(void)
{
	struct scrape s = { 0 };
	char labels[512] = "", node[64] = "", want[128];
	bool seen = false;

	for (int waited = 0; waited <= 4000 && !seen; waited += 250) {
		scrape_free(&s);
		seen = scrape(admin_port, &s) && sample_with(&s, "neo_progress_info",
							      "task=replicate", labels, sizeof labels);
		if (!seen)
			usleep(250000);
	}
	if (seen && strstr(labels, "node=")) {
		snprintf(node, sizeof node, "%s", strstr(labels, "node=") + 5);
		node[strcspn(node, ",")] = '\0';
	}
	snprintf(want, sizeof want, "node=%s,task=replicate,unit=partitions", node);
	tap_ok(seen && sample(&s, "neo_progress_expected", want) == PARTITIONS
	       && sample(&s, "neo_progress_done", want) == 0,
	       "the admin shows the storage's catch-up in progress (%s: %g of %g partitions)",
	       labels, sample(&s, "neo_progress_done", want),
	       sample(&s, "neo_progress_expected", want));
	scrape_free(&s);
	tap_ok(cluster_neoctl_wait(&tc, "print summary", "replicate S", 2000),
	       "neoctl print summary shows it: a replicate line");
}

/* Once caught up, no replication in progress on the admin. */
static void check_replication_done(void)
{
	struct scrape s = { 0 };
	char labels[512];
	bool gone = false;

	for (int waited = 0; waited <= 10000 && !gone; waited += 250) {
		scrape_free(&s);
		gone = scrape(admin_port, &s) && !sample_with(&s, "neo_progress_info",
							       "task=replicate", labels,
							       sizeof labels);
		if (!gone)
			usleep(250000);
	}
	scrape_free(&s);
	tap_ok(gone, "then the admin shows no replication in progress");
}

static void check_storage_down(struct neo_client *client)
{
	bool all = true;
	int took = 0;

	cluster_kill(&tc.storages[1], SIGKILL);
	tap_ok(wait_value(admin_port, "neo_cluster_nodes", "state=RUNNING,type=STORAGE", 1, 20000)
	       && wait_value(admin_port, "neo_cluster_nodes", "state=DOWN,type=STORAGE", 1, 5000),
	       "a storage down: the admin counts 1 storage RUNNING, 1 DOWN");
	tap_ok(wait_value(admin_port, "neo_cluster_cells", "state=OUT_OF_DATE", PARTITIONS, 5000)
	       && scrape_value(admin_port, "neo_cluster_cells", "state=UP_TO_DATE") == PARTITIONS,
	       "its cells are counted OUT_OF_DATE");
	for (uint64_t oid = 4; oid <= 6; oid++)
		all &= cluster_commit(client, oid, 0, "while one storage is down") != 0;
	tap_ok(all, "3 commits while it is down");
	/* Its source paused (SIGSTOP, well within the 10 s the master's
	 * keepalive allows), it comes back and cannot catch up: its cells are
	 * complete up to the tid it had, behind the newest the master told it. */
	kill(tc.storages[0], SIGSTOP);
	start_storage(1);
	tap_ok(wait_lag(storage_port[1], 6000, &took),
	       "its replication lag per partition shows while its source is paused (after %d ms)",
	       took);
	check_replication_progress();
	kill(tc.storages[0], SIGCONT);
	tap_ok(wait_value(admin_port, "neo_cluster_cells", "state=UP_TO_DATE", 2 * PARTITIONS,
			  30000)
	       && wait_value(admin_port, "neo_cluster_nodes", "state=RUNNING,type=STORAGE", 2, 5000),
	       "back, it catches up: every cell UP_TO_DATE, 2 storages RUNNING");
	check_replication_done();
	/* a new process: its counters started at 0 */
	tap_ok(scrape_value(storage_port[1], "neo_storage_replicated_transactions_total", "-") >= 3
	       && scrape_value(storage_port[1], "neo_storage_replicated_bytes_total", "-") > 0,
	       "it counted the transactions and bytes it replicated (%g, %g)",
	       scrape_value(storage_port[1], "neo_storage_replicated_transactions_total", "-"),
	       scrape_value(storage_port[1], "neo_storage_replicated_bytes_total", "-"));
	tap_ok(scrape_value(storage_port[1], "neo_storage_cells", "state=UP_TO_DATE") == PARTITIONS
	       && scrape_value(storage_port[1], "neo_storage_cells", "state=OUT_OF_DATE") == 0,
	       "its own cells: UP_TO_DATE");
}

/* Runs a daemon that must refuse to start: its status and output. */
/* The first sample line of name whose labels hold want ("task=pack"); its
 * labels in labels. */
static bool sample_with(const struct scrape *s, const char *name, const char *want,
			char *labels, size_t size)
{
	char prefix[256];

	snprintf(prefix, sizeof prefix, "sample %s ", name);
	for (int i = 0; i < s->count; i++)
		if (strncmp(s->lines[i], prefix, strlen(prefix)) == 0
		    && strstr(s->lines[i] + strlen(prefix), want)) {
			snprintf(labels, size, "%s", s->lines[i] + strlen(prefix));
			labels[strcspn(labels, " ")] = '\0';
			return true;
		}
	return false;
}

/*
 * A pack's progress on the admin (neo_progress_*), the storages' steps
 * slowed down by NEO_PACK_THROTTLE_MS (set for the whole cluster: nothing
 * else packs): while a storage packs, its order, partitions done of those
 * to pack, oids and pace; none once the pack is done.
 */
static void check_pack_progress(struct neo_client *client)
{
	uint64_t last = 0, pack_id = 0;
	struct scrape s = { 0 };
	char labels[512] = "", node[64] = "", want[128];
	bool seen = false, gone = false;

	if (neo_client_last_tid(client, &last) != NEO_CLIENT_OK
	    || neo_client_pack(client, last, NULL, 0, false, &pack_id) != NEO_CLIENT_OK) {
		tap_ok(false, "a pack is ordered (%s)", neo_client_errmsg());
		return;
	}
	for (int waited = 0; waited <= 15000 && !seen; waited += 250) {
		scrape_free(&s);
		seen = scrape(admin_port, &s) && sample_with(&s, "neo_progress_info", "task=pack",
							      labels, sizeof labels);
		if (!seen)
			usleep(250000);
	}
	if (seen && strstr(labels, "node=")) {
		snprintf(node, sizeof node, "%s", strstr(labels, "node=") + 5);
		node[strcspn(node, ",")] = '\0';
	}
	snprintf(want, sizeof want, "node=%s,task=pack,unit=partitions", node);
	tap_ok(seen && family_type(&s, "neo_progress_info", "gauge")
	       && family_type(&s, "neo_progress_done", "gauge")
	       && family_type(&s, "neo_progress_expected", "gauge")
	       && family_type(&s, "neo_progress_rate", "gauge")
	       && family_type(&s, "neo_progress_remaining_seconds", "gauge")
	       && family_type(&s, "neo_progress_partition", "gauge")
	       && sample(&s, "neo_progress_expected", want) == PARTITIONS
	       && sample(&s, "neo_progress_done", want) <= PARTITIONS,
	       "the admin shows a storage's pack in progress (%s: %g of %g partitions)", labels,
	       sample(&s, "neo_progress_done", want), sample(&s, "neo_progress_expected", want));
	snprintf(want, sizeof want, "node=%s,task=pack,unit=oids", node);
	tap_ok(seen && sample(&s, "neo_progress_done", want) >= 0
	       && sample(&s, "neo_progress_rate", want) >= 0,
	       "with its oids packed and their pace (%g oids, %g/s)",
	       sample(&s, "neo_progress_done", want), sample(&s, "neo_progress_rate", want));
	tap_ok(neo_client_wait_for_pack(client, pack_id) == NEO_CLIENT_OK, "the pack completes");
	for (int waited = 0; waited <= 10000 && !gone; waited += 250) {
		scrape_free(&s);
		gone = scrape(admin_port, &s)
		       && !sample_with(&s, "neo_progress_info", "task=pack", labels, sizeof labels);
		if (!gone)
			usleep(250000);
	}
	tap_ok(gone, "then the admin shows no pack in progress");
	scrape_free(&s);
}

static int refused(const char *args, char *out, size_t len)
{
	const char *dir = getenv("abs_top_builddir");
	char command[2048];
	FILE *pipe;
	size_t used = 0;
	int status;

	snprintf(command, sizeof command, "timeout 10 '%s/core/neostorage' -c %s -d '%s/x.db' "
		 "-e '%s/backends/.libs/sqlite.so' -m 127.0.0.1:%d %s 2>&1", dir ? dir : ".",
		 tc.name, tc.dir, dir ? dir : ".", tc.master_ports[0], args);
	pipe = popen(command, "r");
	if (pipe == NULL)
		return -1;
	while (used + 1 < len) {
		size_t n = fread(out + used, 1, len - 1 - used, pipe);

		if (n == 0)
			break;
		used += n;
	}
	while (used > 0 && out[used - 1] == '\n')
		used--;
	out[used] = '\0';
	status = pclose(pipe);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void check_bad_options(void)
{
	char out[2048], args[128];
	int status;

	status = refused("--metrics nonsense", out, sizeof out);
	tap_ok(status != 0 && strstr(out, "--metrics") && strstr(out, "a port is required"),
	       "--metrics nonsense: refused (status %d): %s", status, out);
	snprintf(args, sizeof args, "--metrics 127.0.0.1:%d", admin_port);
	status = refused(args, out, sizeof out);
	tap_ok(status != 0 && strstr(out, "--metrics") && strstr(out, "cannot listen")
	       && strstr(out, "in use"), "--metrics on a port in use: refused (status %d): %s",
	       status, out);
}

/* SIGTERM, then up to 10 s for pid; true if it exited with status 0. */
static bool stops_cleanly(pid_t *pid)
{
	int status;

	if (*pid <= 0)
		return false;
	kill(*pid, SIGTERM);
	for (int waited = 0; waited < 200; waited++) {
		if (waitpid(*pid, &status, WNOHANG) == *pid) {
			*pid = 0;
			return WIFEXITED(status) && WEXITSTATUS(status) == 0;
		}
		usleep(50000);
	}
	return false;
}

static void check_clean_stop(void)
{
	/* a scrape in between, so that the endpoint has served and closed */
	scrape_value(admin_port, "neo_open_connections", "-");
	tap_ok(stops_cleanly(&tc.admin), "the admin stops with status 0");
	tap_ok(stops_cleanly(&tc.storages[0]) && stops_cleanly(&tc.storages[1]),
	       "the storages stop with status 0");
	tap_ok(stops_cleanly(&tc.masters[0]), "the master stops with status 0");
}

int main(void)
{
	struct neo_client *client = NULL;

	if (getenv("NEO_METRICS_PYTHON") == NULL || getenv("NEO_METRICS_SCRAPER") == NULL) {
		printf("1..0 # SKIP run through tests/cluster/test_metrics.sh (the Prometheus parser)\n");
		return 0;
	}
	if (!tap_ok(scraper_start(), "the scraper (prometheus_client's parser) starts"))
		return tap_done();
	cluster_die_with_parent(true);
	setenv("NEO_PACK_THROTTLE_MS", "2000", 1);	/* check_pack_progress */
	cluster_init(&tc, "metrics", PARTITIONS, 1, 2, 1);
	start_cluster();
	if (!tap_ok(wait_value(admin_port, "neo_cluster_state", "state=RUNNING", 1, 30000),
		    "the cluster runs (seen on the admin's /metrics)")) {
		cluster_stop(&tc);
		scraper_stop();
		return tap_done();
	}
	check_types();
	if (tap_ok(cluster_client(&tc, NULL, &client, NULL, NULL) == NEO_CLIENT_OK,
		   "a client connects")) {
		check_commits(client);
		check_conflict(client);
		check_storage_down(client);
		check_pack_progress(client);
		neo_client_close(client);
	}
	check_bad_options();
	check_clean_stop();
	cluster_stop(&tc);
	scraper_stop();
	if (tap_failures() == 0) {
		char command[512];

		snprintf(command, sizeof command, "rm -rf '%s'", tc.dir);
		if (system(command) != 0)
			tap_diag("could not remove %s", tc.dir);
	} else {
		tap_diag("cluster files kept in %s", tc.dir);
	}
	return tap_done();
}
