/*
 * cluster_util.c - starting and stopping real cluster processes.
 */
#include "cluster_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A port nobody listens on.  The socket stays bound (in *fds) until the
 * caller has all its ports, or the kernel could give the same one twice. */
/*
 * The ports the kernel gives outgoing connections (ip_local_port_range):
 * a port picked among them (bind to port 0) may be taken by some client
 * connection between cluster_init and the node's start, which then
 * cannot listen ("Address already in use": a flaky test).  Ports are
 * picked below that range instead, at random, free when picked.
 */
static void ephemeral_range(int *low, int *high)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

	*low = 32768;
	*high = 60999;
	if (f) {
		if (fscanf(f, "%d %d", low, high) != 2) {
			*low = 32768;
			*high = 60999;
		}
		fclose(f);
	}
}

static int free_port(int *fds, int *count)
{
	static unsigned seed;
	int low, high;

	ephemeral_range(&low, &high);
	if (seed == 0)
		seed = (unsigned)getpid() ^ (unsigned)time(NULL);
	for (int attempt = 0; attempt < 1000; attempt++) {
		struct sockaddr_in addr = { .sin_family = AF_INET };
		int port, fd;

		if (low > 11024)
			port = 10000 + (int)(rand_r(&seed) % (unsigned)(low - 10000));
		else
			port = high + 1 + (int)(rand_r(&seed) % (unsigned)(65535 - high));
		fd = socket(AF_INET, SOCK_STREAM, 0);
		addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		addr.sin_port = htons((uint16_t)port);
		if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
			fds[(*count)++] = fd;
			return port;
		}
		if (fd >= 0)
			close(fd);
	}
	return 0;
}

static const char *builddir(void)
{
	const char *dir = getenv("abs_top_builddir");

	return dir ? dir : ".";
}

void cluster_init(struct test_cluster *tc, const char *name, int partitions, int replicas,
		  int storages, int masters)
{
	const char *tmp = getenv("TMPDIR");

	memset(tc, 0, sizeof *tc);
	snprintf(tc->dir, sizeof tc->dir, "%s/neo-cluster-XXXXXX", tmp ? tmp : "/tmp");
	if (mkdtemp(tc->dir) == NULL) {
		perror("mkdtemp");
		exit(99);
	}
	snprintf(tc->name, sizeof tc->name, "%s", name);
	tc->partitions = partitions;
	tc->replicas = replicas;
	tc->storage_count = storages;
	tc->autostart = storages;
	tc->master_count = masters;
	{
		int fds[2 + CLUSTER_MAX_NODES + 1], count = 0;

		for (int i = 0; i < masters; i++)
			tc->master_ports[i] = free_port(fds, &count);
		for (int i = 0; i < CLUSTER_MAX_NODES; i++)
			tc->storage_ports[i] = free_port(fds, &count);
		tc->admin_port = free_port(fds, &count);
		while (count > 0)
			close(fds[--count]);
	}
}

char *cluster_masters(struct test_cluster *tc, char *buf, size_t len)
{
	buf[0] = '\0';
	for (int i = 0; i < tc->master_count; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s127.0.0.1:%d", i ? " " : "",
			 tc->master_ports[i]);
	return buf;
}

/* Files the next spawned process may write, in bytes (0: no bound): a
 * full disk, for that process only. */
static off_t next_file_limit;
/* Whether spawned processes get SIGKILL when the spawning thread ends. */
static bool die_with_parent;

void cluster_die_with_parent(bool on)
{
	die_with_parent = on;
}

/* TLS for every node, neoctl and client: the files, or "" when off. */
static char ssl_ca[300], ssl_cert[300], ssl_key[300];

bool cluster_use_ssl(struct test_cluster *tc)
{
	char command[2048];

	snprintf(command, sizeof command,
		 "cd '%s' && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt "
		 "-days 2 -subj /CN=neo-test-ca -addext basicConstraints=critical,CA:TRUE "
		 "-addext keyUsage=critical,keyCertSign >/dev/null 2>&1 && "
		 "openssl req -newkey rsa:2048 -nodes -keyout node.key -out node.csr "
		 "-subj /CN=neo-test-node >/dev/null 2>&1 && "
		 "openssl x509 -req -in node.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
		 "-out node.crt -days 2 >/dev/null 2>&1", tc->dir);
	if (system(command) != 0)
		return false;
	snprintf(ssl_ca, sizeof ssl_ca, "%s/ca.crt", tc->dir);
	snprintf(ssl_cert, sizeof ssl_cert, "%s/node.crt", tc->dir);
	snprintf(ssl_key, sizeof ssl_key, "%s/node.key", tc->dir);
	return true;
}

void cluster_ssl_off(void)
{
	ssl_ca[0] = ssl_cert[0] = ssl_key[0] = '\0';
}

void cluster_client_ssl(struct neo_client_config *config)
{
	if (ssl_ca[0]) {
		config->ca = ssl_ca;
		config->cert = ssl_cert;
		config->key = ssl_key;
	}
}

/* argv with the TLS options added when TLS is on (execv's array). */
static char *const *with_ssl(char *const argv[], char **buf, size_t room)
{
	size_t n = 0;

	if (!ssl_ca[0])
		return argv;
	while (argv[n] && n + 7 < room) {
		buf[n] = argv[n];
		n++;
	}
	buf[n++] = "--ca";
	buf[n++] = ssl_ca;
	buf[n++] = "--cert";
	buf[n++] = ssl_cert;
	buf[n++] = "--key";
	buf[n++] = ssl_key;
	buf[n] = NULL;
	return buf;
}

/* A sanitized daemon's reports (ASan, LSan, UBSan) go to files
 * DIR/sanitizer.PID instead of its stderr (/dev/null): cluster_stop
 * checks them.  Without sanitizers the variables are ignored. */
static void sanitizer_logs_to(const char *dir)
{
	static const char *const names[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS" };

	for (int i = 0; i < 2; i++) {
		const char *old = getenv(names[i]);
		char value[1024];

		snprintf(value, sizeof value, "%s%slog_path=%s/sanitizer", old ? old : "",
			 old && *old ? ":" : "", dir);
		setenv(names[i], value, 1);
	}
}

static pid_t spawn(const struct test_cluster *tc, char *const plain_argv[])
{
	char *buf[40];
	char *const *argv = with_ssl(plain_argv, buf, 40);
	pid_t pid = fork();

	if (pid == 0) {
		if (die_with_parent)
			prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (next_file_limit > 0) {
			struct rlimit limit = { (rlim_t)next_file_limit, (rlim_t)next_file_limit };

			/* writes past the bound fail with EFBIG, as on a
			 * full disk, instead of killing the process */
			signal(SIGXFSZ, SIG_IGN);
			setrlimit(RLIMIT_FSIZE, &limit);
		}
		/* Daemons log to files; they must not hold the test's output
		 * open, or the harness waits for them after a crash. */
		int null = open("/dev/null", O_RDWR);

		sanitizer_logs_to(tc->dir);

		if (null >= 0) {
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
			close(null);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

pid_t cluster_start_master(struct test_cluster *tc, int index)
{
	return cluster_start_master_with(tc, index, NULL);
}

/* Appends the NULL-terminated extra options to argv (room: argc_max,
 * the NULL included) from its NULL on. */
static void append_options(char **argv, size_t argc_max, const char *const extra[])
{
	size_t at = 0;

	while (argv[at] != NULL)
		at++;
	for (size_t i = 0; extra && extra[i] && at + 1 < argc_max; i++)
		argv[at++] = (char *)extra[i];
	argv[at] = NULL;
}

pid_t cluster_start_master_with(struct test_cluster *tc, int index, const char *const extra[])
{
	char path[512], bind[64], masters[256], log[512], np[16], nr[16], autostart[16];
	char *argv[24] = { path, "-c", tc->name, "-b", bind, "-m", masters, "-p", np, "-r", nr,
			   "-A", autostart, "-l", log, NULL };

	snprintf(path, sizeof path, "%s/core/neomaster", builddir());
	snprintf(bind, sizeof bind, "127.0.0.1:%d", tc->master_ports[index]);
	cluster_masters(tc, masters, sizeof masters);
	snprintf(np, sizeof np, "%d", tc->partitions);
	snprintf(nr, sizeof nr, "%d", tc->replicas);
	snprintf(autostart, sizeof autostart, "%d", tc->autostart);
	snprintf(log, sizeof log, "%s/master%d.log", tc->dir, index);
	if (tc->autostart == 0) {	/* wait for neoctl start */
		argv[11] = "-l";
		argv[12] = log;
		argv[13] = NULL;
	}
	append_options(argv, sizeof argv / sizeof argv[0], extra);
	tc->masters[index] = spawn(tc, argv);
	return tc->masters[index];
}

pid_t cluster_start_master_noauto(struct test_cluster *tc, int index, const char *const extra[])
{
	char path[512], bind[64], masters[256], log[512], np[16], nr[16];
	char *argv[24] = { path, "-c", tc->name, "-b", bind, "-m", masters, "-p", np, "-r", nr,
			   "-l", log };
	int argc = 13;

	snprintf(path, sizeof path, "%s/core/neomaster", builddir());
	snprintf(bind, sizeof bind, "127.0.0.1:%d", tc->master_ports[index]);
	cluster_masters(tc, masters, sizeof masters);
	snprintf(np, sizeof np, "%d", tc->partitions);
	snprintf(nr, sizeof nr, "%d", tc->replicas);
	snprintf(log, sizeof log, "%s/master%d.log", tc->dir, index);
	for (int i = 0; extra && extra[i] && argc < 23; i++)
		argv[argc++] = (char *)extra[i];
	argv[argc] = NULL;
	tc->masters[index] = spawn(tc, argv);
	return tc->masters[index];
}

const char *cluster_engine(void)
{
	const char *engine = getenv("NEO_TEST_ENGINE");

	return engine && *engine ? engine : "sqlite";
}

/*
 * The database of storage index for the engine under test: a file or a
 * directory of the cluster's, or for MySQL a database of the server the
 * test script started (NEO_TEST_MYSQL_SOCKET), named after the cluster
 * directory so that tests sharing a server do not meet.
 */
void cluster_storage_database(struct test_cluster *tc, int index, char *db, size_t size)
{
	const char *engine = cluster_engine();
	const char *socket = getenv("NEO_TEST_MYSQL_SOCKET");

	if (strcmp(engine, "mysql_innodb") == 0) {
		const char *tag = strrchr(tc->dir, '-');
		const char *server = getenv("NEO_TEST_MYSQL_DIR");
		const char *script = getenv("NEO_TEST_MYSQL_SCRIPT");
		char command[1024];

		snprintf(db, size, "root@neo_%s_%d%s", tag ? tag + 1 : "test", index,
			 socket ? socket : "");
		/* as upstream, the module uses a database, it does not create one */
		if (server && script) {
			snprintf(command, sizeof command,
				 "sh '%s' sql '%s' 'CREATE DATABASE IF NOT EXISTS neo_%s_%d' >/dev/null",
				 script, server, tag ? tag + 1 : "test", index);
			if (system(command) != 0)
				fprintf(stderr, "cluster_util: could not create database %d\n", index);
		}
	} else if (strcmp(engine, "rocksdb") == 0) {
		snprintf(db, size, "%s/storage%d.rocksdb", tc->dir, index);
	} else {
		snprintf(db, size, "%s/storage%d.db", tc->dir, index);
	}
}

pid_t cluster_start_storage(struct test_cluster *tc, int index)
{
	return cluster_start_storage_with(tc, index, NULL);
}

pid_t cluster_start_storage_with(struct test_cluster *tc, int index, const char *const extra[])
{
	char path[512], masters[256], db[512], log[512], module[512], bind[64];
	char *argv[20] = { path, "-c", tc->name, "-b", bind, "-m", masters, "-e", module,
			   "-d", db, "-l", log, NULL };

	for (int i = 0, at = 13; extra && extra[i] && at < 19; i++)
		argv[at++] = (char *)extra[i];

	/* The module of this build, whatever NEO_BACKEND_DIR says; an engine
	 * with a '/' is the path of a module (a test's own). */
	if (strchr(cluster_engine(), '/'))
		snprintf(module, sizeof module, "%s", cluster_engine());
	else
		snprintf(module, sizeof module, "%s/backends/.libs/%s.so", builddir(),
			 cluster_engine());
	snprintf(path, sizeof path, "%s/core/neostorage", builddir());
	cluster_masters(tc, masters, sizeof masters);
	snprintf(bind, sizeof bind, "127.0.0.1:%d", tc->storage_ports[index]);
	cluster_storage_database(tc, index, db, sizeof db);
	snprintf(log, sizeof log, "%s/storage%d.log", tc->dir, index);
	tc->storages[index] = spawn(tc, argv);
	return tc->storages[index];
}

pid_t cluster_start_admin(struct test_cluster *tc)
{
	return cluster_start_admin_with(tc, NULL);
}

pid_t cluster_start_admin_with(struct test_cluster *tc, const char *const extra[])
{
	char path[512], bind[64], masters[256], log[512];
	char *argv[20] = { path, "-c", tc->name, "-b", bind, "-m", masters, "-l", log, NULL };

	snprintf(path, sizeof path, "%s/core/neoadmin", builddir());
	snprintf(bind, sizeof bind, "127.0.0.1:%d", tc->admin_port);
	cluster_masters(tc, masters, sizeof masters);
	snprintf(log, sizeof log, "%s/admin.log", tc->dir);
	append_options(argv, sizeof argv / sizeof argv[0], extra);
	tc->admin = spawn(tc, argv);
	return tc->admin;
}

int cluster_neoctl(struct test_cluster *tc, char *out, size_t len, const char *command)
{
	char line[1024];
	FILE *pipe;
	size_t used = 0;
	int status;

	if (ssl_ca[0])
		snprintf(line, sizeof line, "'%s/core/neoctl' -a 127.0.0.1:%d --ca '%s' --cert '%s' "
			 "--key '%s' %s 2>&1", builddir(), tc->admin_port, ssl_ca, ssl_cert, ssl_key,
			 command);
	else
		snprintf(line, sizeof line, "'%s/core/neoctl' -a 127.0.0.1:%d %s 2>&1", builddir(),
			 tc->admin_port, command);
	pipe = popen(line, "r");
	if (pipe == NULL)
		return -1;
	out[0] = '\0';
	while (used + 1 < len) {
		size_t n = fread(out + used, 1, len - 1 - used, pipe);

		if (n == 0)
			break;
		used += n;
	}
	out[used] = '\0';
	while (fread(line, 1, sizeof line, pipe) > 0)
		;	/* drain what does not fit */
	status = pclose(pipe);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool cluster_neoctl_wait(struct test_cluster *tc, const char *command, const char *text, int ms)
{
	char out[8192];

	for (int waited = 0; waited <= ms; waited += 100) {
		cluster_neoctl(tc, out, sizeof out, command);
		if (strstr(out, text))
			return true;
		usleep(100000);
	}
	return false;
}

int cluster_storage_index(struct test_cluster *tc, const char *nid)
{
	char out[8192], prefix[32];
	const char *line;

	if (cluster_neoctl(tc, out, sizeof out, "print node storage") != 0)
		return -1;
	snprintf(prefix, sizeof prefix, "%s | STORAGE | 127.0.0.1:", nid);
	line = strstr(out, prefix);
	if (line == NULL)
		return -1;
	for (int i = 0; i < CLUSTER_MAX_NODES; i++)
		if (atoi(line + strlen(prefix)) == tc->storage_ports[i])
			return i;
	return -1;
}

pid_t cluster_start_storage_limited(struct test_cluster *tc, int index, off_t max_file_size)
{
	pid_t pid;

	next_file_limit = max_file_size;
	pid = cluster_start_storage(tc, index);
	next_file_limit = 0;
	return pid;
}

void cluster_start(struct test_cluster *tc)
{
	for (int i = 0; i < tc->master_count; i++)
		cluster_start_master(tc, i);
	usleep(200000);
	for (int i = 0; i < tc->storage_count; i++)
		cluster_start_storage(tc, i);
}

void cluster_kill(pid_t *pid, int signum)
{
	int status;

	if (*pid <= 0)
		return;
	kill(*pid, signum);
	for (int i = 0; i < 100; i++) {
		if (waitpid(*pid, &status, WNOHANG) == *pid)
			break;
		usleep(50000);
		if (i == 99) {
			kill(*pid, SIGKILL);
			waitpid(*pid, &status, 0);
		}
	}
	*pid = 0;
}

/* The tests' TAP emitter when linked (tests/lib/tap.c; not the benches). */
extern bool tap_ok(bool cond, const char *name_fmt, ...) __attribute__((weak));

int cluster_sanitizer_reports(struct test_cluster *tc)
{
	char command[600], line[512];
	int reports = 0;
	FILE *list;

	/* the files and their first lines, as TAP comments */
	snprintf(command, sizeof command,
		 "for f in '%s'/sanitizer.*; do [ -f \"$f\" ] && echo \"== $f\" && head -c 4000 \"$f\";"
		 " done 2>/dev/null", tc->dir);
	list = popen(command, "r");
	if (list == NULL)
		return 0;
	while (fgets(line, sizeof line, list)) {
		if (strncmp(line, "== ", 3) == 0)
			reports++;
		printf("# %s", line);
	}
	pclose(list);
	fflush(stdout);
	return reports;
}

void cluster_stop(struct test_cluster *tc)
{
	int reports;

	for (int i = 0; i < tc->master_count; i++)
		cluster_kill(&tc->masters[i], SIGTERM);
	for (int i = 0; i < tc->storage_count; i++)
		cluster_kill(&tc->storages[i], SIGTERM);
	cluster_kill(&tc->admin, SIGTERM);
	/* every daemon exits clean under ASan/LSan/UBSan (README) */
	reports = cluster_sanitizer_reports(tc);
	if (reports && tap_ok)
		tap_ok(false, "cluster %s: no sanitizer report from its daemons (%d)", tc->name,
		       reports);
	else if (reports)
		fprintf(stderr, "cluster %s: %d sanitizer report(s) in %s\n", tc->name, reports,
			tc->dir);
}

int cluster_client(struct test_cluster *tc, const char *name, struct neo_client **client,
		   neo_client_invalidate_cb cb, void *arg)
{
	char masters[256];
	struct neo_client_config config = { .struct_size = sizeof config };

	config.cluster = name ? name : tc->name;
	config.masters = cluster_masters(tc, masters, sizeof masters);
	config.compress = -1;
	config.connect_timeout_ms = name ? 2000 : 20000;
	config.on_invalidate = cb;
	config.invalidate_arg = arg;
	cluster_client_ssl(&config);
	return neo_client_open(&config, client);
}

int cluster_client_ro(struct test_cluster *tc, struct neo_client **client)
{
	char masters[256];
	struct neo_client_config config = { .struct_size = sizeof config };

	config.cluster = tc->name;
	config.masters = cluster_masters(tc, masters, sizeof masters);
	config.compress = -1;
	config.read_only = true;
	config.connect_timeout_ms = 20000;
	cluster_client_ssl(&config);
	return neo_client_open(&config, client);
}

int cluster_log_count(struct test_cluster *tc, const char *file, const char *text)
{
	char path[512], line[2048];
	FILE *f;
	int count = 0;

	snprintf(path, sizeof path, "%s/%s", tc->dir, file);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f))
		if (strstr(line, text))
			count++;
	fclose(f);
	return count;
}

int cluster_storage_log_count(struct test_cluster *tc, const char *text)
{
	int total = 0;

	for (int i = 0; i < tc->storage_count; i++) {
		char log[32];

		snprintf(log, sizeof log, "storage%d.log", i);
		total += cluster_log_count(tc, log, text);
	}
	return total;
}

bool cluster_log_has(struct test_cluster *tc, const char *file, const char *text, int ms)
{
	for (int waited = 0; waited <= ms; waited += 100) {
		if (cluster_log_count(tc, file, text) > 0)
			return true;
		usleep(100000);
	}
	return false;
}

uint64_t cluster_commit(struct neo_client *client, uint64_t oid, uint64_t serial,
			const char *data)
{
	struct neo_txn *txn;
	struct neo_client_conflict *conflicts;
	size_t count;
	uint64_t tid = 0;

	if (neo_client_begin(client, 0, &txn) != NEO_CLIENT_OK)
		return 0;
	if (neo_txn_store(txn, oid, serial, data, strlen(data)) != NEO_CLIENT_OK
	    || neo_txn_vote(txn, "test", 4, "commit", 6, "", 0, &conflicts, &count) != NEO_CLIENT_OK) {
		neo_client_conflicts_free(conflicts, count);
		neo_txn_abort(txn);
		return 0;
	}
	if (neo_txn_finish(txn, &tid) != NEO_CLIENT_OK) {
		neo_txn_abort(txn);
		return 0;
	}
	return tid;
}

bool cluster_load_is(struct neo_client *client, uint64_t oid, const char *data)
{
	struct neo_client_record record;
	bool same;

	if (neo_client_load(client, oid, &record) != NEO_CLIENT_OK)
		return false;
	same = record.size == strlen(data) && memcmp(record.data, data, record.size) == 0;
	neo_client_record_clear(&record);
	return same;
}
