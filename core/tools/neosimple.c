/*
 * neosimple - a whole throwaway cluster in one command.
 *
 *     neosimple [options] DB [DB...] [-- COMMAND [ARG...]]
 *
 * Starts the masters, one storage per DB (SQLite unless --engine says
 * otherwise), and an admin node, on free ports of --bind_ip, in a
 * directory that holds every database and log.  Once the cluster is
 * RUNNING it prints how clients connect, including one line
 *
 *     master_nodes=HOST:PORT[ HOST:PORT...] name=NAME
 *
 * for scripts, then runs until SIGINT or SIGTERM and stops every node.
 * With "-- COMMAND", it runs COMMAND instead of waiting (environment:
 * NEO_MASTER_NODES, NEO_CLUSTER, NEO_ADMIN, NEO_DIR), stops the cluster
 * when COMMAND ends and exits with its status.
 *
 * The option names are upstream's (neo/scripts/simple.py, which takes
 * them from its functional test cluster); the directory is removed at the
 * end only when neosimple created it.
 *
 * --seed STRING, as upstream: what is otherwise left to chance comes
 * from a generator seeded with STRING, so that the same seed gives the
 * same cluster: the ports (drawn from 20000-59999 and checked free,
 * instead of the system's ephemeral ones) and, without --name, the
 * cluster name (neo_N, N in 0-100, upstream's form).
 *
 * --adapter MySQL (or --engine mysql_innodb), as upstream's test cluster:
 * each DB that is a bare name is a database of a MySQL/MariaDB server,
 * dropped if it exists and created again with the mysql client, as
 * $NEO_DB_ADMIN (root) with $NEO_DB_PASSWD through $NEO_DB_SOCKET
 * (upstream's variables); the storages use it as that user.  (Upstream
 * makes the databases as the admin and grants them to a user 'test'; a
 * GRANT ... IDENTIFIED BY is refused by current servers, so the admin
 * user is used.)  A DB with '@' is a database string used as given.
 *
 * --importer FILE, as upstream's test cluster's importer: the one storage
 * runs the Importer backend (conf/importer.conf) importing FILE, a
 * Data.fs, into DB; FILE may also be an importer.conf, used as given.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/alloc.h"

#define SIMPLE_MAX_MASTERS 8
#define SIMPLE_MAX_STORAGES 64
#define SIMPLE_START_TIMEOUT_S 60

struct simple_options {
	int master_count;
	int partitions;
	int replicas;
	const char *name;
	const char *dir;		/* --temp_dir, or NULL: a new one */
	const char *bind_ip;
	const char *engine;		/* module name or path for every storage */
	const char *seed;		/* --seed, or NULL */
	const char *importer;		/* --importer, or NULL */
	char **dbs;
	int db_count;
	char **command;			/* after "--", or NULL */
};

struct simple_node {
	const char *role;		/* "master", "storage", "admin" */
	char label[128];		/* for messages: "storage db1" */
	char log[PATH_MAX + 160];
	pid_t pid;
	int status;
	bool exited;
};

struct simple_cluster {
	struct simple_options opt;
	char dir[PATH_MAX];
	bool made_dir;
	char bindir[PATH_MAX];		/* where neomaster & co are */
	char masters[SIMPLE_MAX_MASTERS * 64];
	char admin[64];
	struct simple_node nodes[SIMPLE_MAX_MASTERS + SIMPLE_MAX_STORAGES + 1];
	int node_count;
};

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int signum)
{
	stop_signal = signum;
}

static void on_child(int signum)
{
	(void)signum;	/* only wakes sigsuspend up */
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: neosimple [options] DB [DB...] [-- COMMAND [ARG...]]\n"
		"\n"
		"Starts a NEO cluster for tests: masters, one storage per DB, an admin.\n"
		"\n"
		"  --master_count N   masters to start (1)\n"
		"  --partitions N     partitions (1)\n"
		"  --replicas N       replicas (0)\n"
		"  --name NAME        cluster name (neosimple)\n"
		"  --temp_dir DIR     where databases and logs go (a new directory in\n"
		"                     $TMPDIR, removed at the end)\n"
		"  --bind_ip IP       address every node listens on (127.0.0.1)\n"
		"  --engine ENGINE    backend module of the storages: a name or a path\n"
		"                     to a .so (sqlite); also --adapter SQLite|MySQL\n"
		"                     (MySQL: each bare DB name is a database of the server\n"
		"                     at $NEO_DB_SOCKET, as $NEO_DB_ADMIN, made afresh)\n"
		"  --importer FILE    the one storage imports FILE, a Data.fs (or runs the\n"
		"                     importer.conf FILE), into DB (Importer backend)\n"
		"  --seed STRING      seed of what is random: ports and, without --name,\n"
		"                     the cluster name (neo_N)\n"
		"  -- COMMAND         run COMMAND once the cluster is RUNNING, then stop;\n"
		"                     it gets NEO_MASTER_NODES, NEO_CLUSTER, NEO_ADMIN, NEO_DIR\n");
}

static int parse_count(const char *option, const char *text, int min, int max, int *out)
{
	char *end;
	long value;

	errno = 0;
	value = strtol(text, &end, 10);
	if (errno || end == text || *end || value < min || value > max) {
		fprintf(stderr, "neosimple: %s wants a number from %d to %d, not \"%s\"\n", option,
			min, max, text);
		return -1;
	}
	*out = (int)value;
	return 0;
}

/* Upstream spells the backend with --adapter (SQLite, MySQL); ours are
 * module names. */
static const char *engine_of_adapter(const char *adapter)
{
	if (strcasecmp(adapter, "sqlite") == 0)
		return "sqlite";
	if (strcasecmp(adapter, "mysql") == 0)
		return "mysql_innodb";
	return adapter;
}

/* One "--name value" or "--name=value" option at argv[*i]. */
static int parse_option(int argc, char **argv, int *i, struct simple_options *opt)
{
	static const char *const names[] = { "--master_count", "--partitions", "--replicas",
		"--name", "--temp_dir", "--bind_ip", "--engine", "--adapter", "--importer",
		"--seed" };
	const char *arg = argv[*i], *value = NULL;
	size_t k, len = 0;

	for (k = 0; k < sizeof names / sizeof names[0]; k++) {
		len = strlen(names[k]);
		if (strncmp(arg, names[k], len) == 0 && (arg[len] == '\0' || arg[len] == '='))
			break;
	}
	if (k == sizeof names / sizeof names[0]) {
		fprintf(stderr, "neosimple: unknown option %s (see --help)\n", arg);
		return -1;
	}
	if (arg[len] == '=')
		value = arg + len + 1;
	else if (*i + 1 < argc)
		value = argv[++*i];
	if (value == NULL) {
		fprintf(stderr, "neosimple: %s needs a value\n", names[k]);
		return -1;
	}
	switch (k) {
	case 0: return parse_count(names[k], value, 1, SIMPLE_MAX_MASTERS, &opt->master_count);
	case 1: return parse_count(names[k], value, 1, 1 << 20, &opt->partitions);
	case 2: return parse_count(names[k], value, 0, 64, &opt->replicas);
	case 3: opt->name = value; return 0;
	case 4: opt->dir = value; return 0;
	case 5: opt->bind_ip = value; return 0;
	case 6: opt->engine = value; return 0;
	case 7: opt->engine = engine_of_adapter(value); return 0;
	case 8: opt->importer = value; return 0;
	default: opt->seed = value; return 0;
	}
}

/* Returns 0, 1 for --help, -1 on a bad command line. */
static int parse_args(int argc, char **argv, struct simple_options *opt)
{
	*opt = (struct simple_options){ .master_count = 1, .partitions = 1,
		.bind_ip = "127.0.0.1", .engine = "sqlite" };
	opt->dbs = neo_calloc((size_t)argc, sizeof *opt->dbs);
	if (opt->dbs == NULL)
		return -1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			if (i + 1 < argc)
				opt->command = argv + i + 1;
			break;
		}
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return 1;
		if (argv[i][0] == '-') {
			if (parse_option(argc, argv, &i, opt) < 0)
				return -1;
			continue;
		}
		opt->dbs[opt->db_count++] = argv[i];
	}
	if (opt->db_count == 0) {
		fprintf(stderr, "neosimple: name at least one storage database (DB)\n");
		return -1;
	}
	if (opt->name == NULL && opt->seed == NULL)
		opt->name = "neosimple";
	if (opt->importer != NULL && opt->db_count != 1) {
		fprintf(stderr, "neosimple: --importer needs exactly one DB (its destination)\n");
		return -1;
	}
	if (opt->db_count > SIMPLE_MAX_STORAGES) {
		fprintf(stderr, "neosimple: at most %d storages\n", SIMPLE_MAX_STORAGES);
		return -1;
	}
	return 0;
}

/* --seed's generator (splitmix64), seeded from the string (FNV-1a). */
static uint64_t seed_state;

static void seed_from(const char *text)
{
	uint64_t h = UINT64_C(14695981039346656037);

	for (; *text; text++)
		h = (h ^ (unsigned char)*text) * UINT64_C(1099511628211);
	seed_state = h;
}

static uint64_t seeded_next(void)
{
	uint64_t z = (seed_state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* A port nobody listens on now, its socket kept open in *fd (so that the
 * next call cannot get it too) until the caller closes it.  Another
 * process could take it before the node binds it; the node would then
 * fail with a clear message. */
static int free_port(const char *ip, int *fd_out)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t len = sizeof addr;
	int fd, port = -1;

	if (inet_pton(AF_INET, ip, &addr.sin_addr) != 1)
		return -1;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	*fd_out = fd;
	if (seed_state) {
		int one = 1;

		/* --seed: ports drawn from the generator, the first free ones
		 * (a port left in TIME_WAIT by the last run is free: the
		 * nodes listen with SO_REUSEADDR) */
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		for (int tries = 0; tries < 1000; tries++) {
			addr.sin_port = htons((uint16_t)(20000 + seeded_next() % 40000));
			if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0)
				return ntohs(addr.sin_port);
		}
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
	    getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
		port = ntohs(addr.sin_port);
	return port;
}

/* The ports of the masters and of the admin, all different. */
static int reserve_ports(struct simple_cluster *c, int *master_ports, int *admin_port)
{
	int fds[SIMPLE_MAX_MASTERS + 1], count = 0, rc = 0;

	for (int i = 0; i < c->opt.master_count && rc == 0; i++)
		if ((master_ports[i] = free_port(c->opt.bind_ip, &fds[count++])) < 0)
			rc = -1;
	if (rc == 0 && (*admin_port = free_port(c->opt.bind_ip, &fds[count++])) < 0)
		rc = -1;
	while (count > 0)
		close(fds[--count]);
	if (rc < 0)
		fprintf(stderr, "neosimple: no free port on %s\n", c->opt.bind_ip);
	return rc;
}

/* neomaster & co live next to neosimple, installed or in a build tree. */
static int find_bindir(struct simple_cluster *c)
{
	const char *env = getenv("NEO_BINDIR");
	ssize_t n;
	char *slash;

	if (env && *env) {
		snprintf(c->bindir, sizeof c->bindir, "%s", env);
		return 0;
	}
	n = readlink("/proc/self/exe", c->bindir, sizeof c->bindir - 1);
	if (n <= 0) {
		fprintf(stderr, "neosimple: cannot find my own directory: %s\n", strerror(errno));
		return -1;
	}
	c->bindir[n] = '\0';
	slash = strrchr(c->bindir, '/');
	if (slash)
		*slash = '\0';
	return 0;
}

/* In a build tree the modules are in backends/.libs, not where an
 * installed neostorage looks: point it there unless told otherwise. */
static void find_build_modules(const struct simple_cluster *c)
{
	char dir[PATH_MAX + 32], probe[PATH_MAX + 64];

	if (getenv("NEO_BACKEND_DIR"))
		return;
	snprintf(dir, sizeof dir, "%s/../backends/.libs", c->bindir);
	snprintf(probe, sizeof probe, "%s/sqlite.so", dir);
	if (access(probe, R_OK) == 0)
		setenv("NEO_BACKEND_DIR", dir, 1);
}

static int make_dir(struct simple_cluster *c)
{
	const char *tmp = getenv("TMPDIR");

	if (c->opt.dir) {
		snprintf(c->dir, sizeof c->dir, "%s", c->opt.dir);
		if (mkdir(c->dir, 0700) < 0 && errno != EEXIST) {
			fprintf(stderr, "neosimple: %s: %s\n", c->dir, strerror(errno));
			return -1;
		}
		return 0;
	}
	snprintf(c->dir, sizeof c->dir, "%s/neosimple-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(c->dir) == NULL) {
		fprintf(stderr, "neosimple: cannot create a directory in %s: %s\n",
			tmp && *tmp ? tmp : "/tmp", strerror(errno));
		return -1;
	}
	c->made_dir = true;
	return 0;
}

/* Runs argv with output to log + ".out" (what a node prints before its log
 * is open, such as a bad option). */
static pid_t spawn(char *const argv[], const char *log)
{
	char out[PATH_MAX + 170];
	pid_t pid;

	snprintf(out, sizeof out, "%s.out", log);
	pid = fork();
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
		execv(argv[0], argv);
		fprintf(stderr, "neosimple: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

static struct simple_node *add_node(struct simple_cluster *c, const char *role,
				    const char *label)
{
	struct simple_node *node = &c->nodes[c->node_count++];

	node->role = role;
	snprintf(node->label, sizeof node->label, "%s", label);
	snprintf(node->log, sizeof node->log, "%s/%s.log", c->dir, label);
	return node;
}

static int start_masters(struct simple_cluster *c, const int *ports)
{
	char path[PATH_MAX + 16], bind[64], np[16], nr[16], autostart[16], label[32];
	char *argv[] = { path, "-c", (char *)c->opt.name, "-b", bind, "-m", c->masters, "-p", np,
			 "-r", nr, "-A", autostart, "-l", NULL, NULL };

	snprintf(path, sizeof path, "%s/neomaster", c->bindir);
	snprintf(np, sizeof np, "%d", c->opt.partitions);
	snprintf(nr, sizeof nr, "%d", c->opt.replicas);
	/* as upstream's test cluster: start once every storage is there */
	snprintf(autostart, sizeof autostart, "%d", c->opt.db_count);
	c->masters[0] = '\0';
	for (int i = 0; i < c->opt.master_count; i++) {
		snprintf(c->masters + strlen(c->masters), sizeof c->masters - strlen(c->masters),
			 "%s%s:%d", i ? " " : "", c->opt.bind_ip, ports[i]);
	}
	for (int i = 0; i < c->opt.master_count; i++) {
		struct simple_node *node;

		snprintf(label, sizeof label, "master%d", i);
		node = add_node(c, "master", label);
		snprintf(bind, sizeof bind, "%s:%d", c->opt.bind_ip, ports[i]);
		argv[14] = node->log;
		node->pid = spawn(argv, node->log);
	}
	return 0;
}

static bool is_mysql(const struct simple_cluster *c)
{
	return strcmp(c->opt.engine, "mysql_innodb") == 0;
}

static const char *env_or(const char *name, const char *fallback)
{
	const char *value = getenv(name);

	return value ? value : fallback;
}

/* A bare name only: letters, digits, '_' and '$' (no quoting needed). */
static bool mysql_name_ok(const char *db)
{
	if (*db == '\0' || strlen(db) > 64)
		return false;
	for (; *db; db++)
		if (!(((*db | 32) >= 'a' && (*db | 32) <= 'z') || (*db >= '0' && *db <= '9')
		      || *db == '_' || *db == '$'))
			return false;
	return true;
}

/*
 * --adapter MySQL, as upstream's test cluster: every bare DB name is a
 * database made afresh on the server (the mysql client, as the admin
 * user).  Returns 0, or -1 with a message.
 */
static int prepare_mysql(const struct simple_cluster *c)
{
	const char *user = env_or("NEO_DB_ADMIN", "root");
	const char *password = env_or("NEO_DB_PASSWD", "");
	const char *socket = env_or("NEO_DB_SOCKET", "");

	for (int i = 0; i < c->opt.db_count; i++) {
		const char *db = c->opt.dbs[i];
		char sql[256];
		pid_t pid;
		int status = 0;

		if (strchr(db, '@'))
			continue;	/* a database string, used as given */
		if (!mysql_name_ok(db)) {
			fprintf(stderr, "neosimple: --adapter MySQL: '%s' is not a database name "
				"(letters, digits, _), nor a database string with '@'\n", db);
			return -1;
		}
		snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS `%s`; CREATE DATABASE `%s`", db,
			 db);
		pid = fork();
		if (pid == 0) {
			char user_opt[300], password_opt[300], socket_opt[PATH_MAX + 16];
			char *argv[10];
			int n = 0;

			snprintf(user_opt, sizeof user_opt, "--user=%s", user);
			snprintf(password_opt, sizeof password_opt, "--password=%s", password);
			snprintf(socket_opt, sizeof socket_opt, "--socket=%s", socket);
			argv[n++] = "mysql";
			argv[n++] = "--no-defaults";
			argv[n++] = user_opt;
			if (*password)
				argv[n++] = password_opt;
			if (*socket)
				argv[n++] = socket_opt;
			argv[n++] = "-e";
			argv[n++] = sql;
			argv[n] = NULL;
			execvp("mysql", argv);
			fprintf(stderr, "neosimple: cannot run the mysql client: %s\n",
				strerror(errno));
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)
		    || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "neosimple: --adapter MySQL: cannot create database '%s' as "
				"%s%s%s (set NEO_DB_ADMIN, NEO_DB_PASSWD, NEO_DB_SOCKET)\n", db, user,
				*socket ? " through " : "", socket);
			return -1;
		}
	}
	return 0;
}

static void storage_database(const struct simple_cluster *c, const char *db, char *out,
			     size_t size)
{
	if (is_mysql(c) && strchr(db, '@') == NULL) {
		const char *password = env_or("NEO_DB_PASSWD", "");

		/* the module's string: USER[:PASSWORD]@DATABASE[SOCKET] */
		snprintf(out, size, "%s%s%s@%s%s", env_or("NEO_DB_ADMIN", "root"),
			 *password ? ":" : "", password, db, env_or("NEO_DB_SOCKET", ""));
		return;
	}
	/* a bare name is a file (sqlite) or a directory (rocksdb) of the
	 * cluster directory; anything else (a path, a MySQL database) is used
	 * as given */
	if (strchr(db, '/') == NULL && strcmp(c->opt.engine, "sqlite") == 0)
		snprintf(out, size, "%s/%s.sqlite", c->dir, db);
	else if (strchr(db, '/') == NULL && strcmp(c->opt.engine, "rocksdb") == 0)
		snprintf(out, size, "%s/%s.rocksdb", c->dir, db);
	else
		snprintf(out, size, "%s", db);
}

/*
 * --importer FILE, as upstream's test cluster: the one storage runs the
 * Importer backend, whose destination is DB on --engine.  FILE is the
 * Data.fs to import (an importer.cfg naming it is written in the
 * cluster directory), or an importer.conf used as it is (ending in .conf
 * or .cfg).  Returns the database= of the storage in out, or -1.
 */
static int importer_database(const struct simple_cluster *c, const char *destination,
			     char *out, size_t size)
{
	const char *file = c->opt.importer, *dot = strrchr(file, '.');
	char path[PATH_MAX];
	FILE *f;

	if (dot && (strcmp(dot, ".conf") == 0 || strcmp(dot, ".cfg") == 0)) {
		snprintf(out, size, "%s", file);
		return 0;
	}
	if (file[0] != '/' && getcwd(path, sizeof path) != NULL) {
		size_t n = strlen(path);

		snprintf(path + n, sizeof path - n, "/%s", file);
		file = path;
	}
	snprintf(out, size, "%s/importer.cfg", c->dir);
	f = fopen(out, "w");
	if (f == NULL)
		return -1;
	fprintf(f, "[neo]\nengine = %s\ndatabase = %s\n\n[root]\nstorage =\n"
		"  <filestorage>\n    path %s\n  </filestorage>\n", c->opt.engine, destination,
		file);
	return fclose(f) == 0 ? 0 : -1;
}

static void start_storages(struct simple_cluster *c)
{
	char path[PATH_MAX + 16], database[PATH_MAX + 64], label[128];
	char *argv[] = { path, "-c", (char *)c->opt.name, "-b", (char *)c->opt.bind_ip, "-m",
			 c->masters, "-e", (char *)c->opt.engine, "-d", database, "-l", NULL,
			 NULL };

	snprintf(path, sizeof path, "%s/neostorage", c->bindir);
	for (int i = 0; i < c->opt.db_count; i++) {
		struct simple_node *node;
		const char *base = strrchr(c->opt.dbs[i], '/');

		snprintf(label, sizeof label, "storage-%s", base ? base + 1 : c->opt.dbs[i]);
		node = add_node(c, "storage", label);
		storage_database(c, c->opt.dbs[i], database, sizeof database);
		if (c->opt.importer != NULL) {
			char destination[sizeof database];

			memcpy(destination, database, sizeof database);
			if (importer_database(c, destination, database, sizeof database) != 0)
				fprintf(stderr, "neosimple: cannot write %s\n", database);
			argv[8] = "importer";
		}
		argv[12] = node->log;
		node->pid = spawn(argv, node->log);
	}
}

static int start_admin(struct simple_cluster *c, int port)
{
	char path[PATH_MAX + 16];
	char *argv[] = { path, "-c", (char *)c->opt.name, "-b", c->admin, "-m", c->masters, "-l",
			 NULL, NULL };
	struct simple_node *node;

	snprintf(c->admin, sizeof c->admin, "%s:%d", c->opt.bind_ip, port);
	snprintf(path, sizeof path, "%s/neoadmin", c->bindir);
	node = add_node(c, "admin", "admin");
	argv[8] = node->log;
	node->pid = spawn(argv, node->log);
	return 0;
}

/* Collects exited children; reports those that were not asked to stop. */
static void reap(struct simple_cluster *c, bool stopping)
{
	for (int i = 0; i < c->node_count; i++) {
		struct simple_node *node = &c->nodes[i];

		if (node->exited || node->pid <= 0 ||
		    waitpid(node->pid, &node->status, WNOHANG) != node->pid)
			continue;
		node->exited = true;
		if (stopping)
			continue;
		if (WIFSIGNALED(node->status))
			fprintf(stderr, "neosimple: %s (pid %d) was killed by signal %d; see %s\n",
				node->label, (int)node->pid, WTERMSIG(node->status), node->log);
		else
			fprintf(stderr, "neosimple: %s (pid %d) exited with status %d; see %s\n",
				node->label, (int)node->pid, WEXITSTATUS(node->status), node->log);
	}
}

static bool any_running(const struct simple_cluster *c)
{
	for (int i = 0; i < c->node_count; i++)
		if (!c->nodes[i].exited && c->nodes[i].pid > 0)
			return true;
	return false;
}

/* Asks the admin node for the cluster state with neoctl: true once
 * RUNNING. */
static bool cluster_running(const struct simple_cluster *c)
{
	char command[PATH_MAX + 128], line[128] = "";
	FILE *out;

	snprintf(command, sizeof command, "'%s/neoctl' -a %s print cluster 2>/dev/null",
		 c->bindir, c->admin);
	out = popen(command, "r");
	if (out == NULL)
		return false;
	if (fgets(line, sizeof line, out) == NULL)
		line[0] = '\0';
	pclose(out);
	return strncmp(line, "RUNNING", 7) == 0;
}

static int wait_running(struct simple_cluster *c)
{
	time_t deadline = time(NULL) + SIMPLE_START_TIMEOUT_S;

	while (!stop_signal) {
		if (cluster_running(c))
			return 0;
		reap(c, false);
		for (int i = 0; i < c->node_count; i++)
			if (c->nodes[i].exited) {
				fprintf(stderr, "neosimple: the cluster could not start\n");
				return -1;
			}
		if (time(NULL) > deadline) {
			fprintf(stderr, "neosimple: the cluster is not RUNNING after %d s; "
				"see the logs in %s\n", SIMPLE_START_TIMEOUT_S, c->dir);
			return -1;
		}
		usleep(100000);
	}
	return -1;
}

static void print_connection(const struct simple_cluster *c)
{
	const char *first_space = strchr(c->masters, ' ');
	int first_len = first_space ? (int)(first_space - c->masters) : (int)strlen(c->masters);

	printf("neosimple: cluster \"%s\" is RUNNING: %d master%s, %d storage%s (%s), "
	       "%d partition%s, %d replica%s\n", c->opt.name, c->opt.master_count,
	       c->opt.master_count > 1 ? "s" : "", c->opt.db_count, c->opt.db_count > 1 ? "s" : "",
	       c->opt.engine, c->opt.partitions, c->opt.partitions > 1 ? "s" : "",
	       c->opt.replicas, c->opt.replicas == 1 ? "" : "s");
	printf("  directory  %s (databases and logs)\n", c->dir);
	printf("  admin      %s    try: neoctl -a %s print node\n", c->admin, c->admin);
	printf("  ZODB       neo.client.Storage.Storage(master_nodes='%s', name='%s')\n",
	       c->masters, c->opt.name);
	printf("  zodburi    neo://%s@%.*s\n", c->opt.name, first_len, c->masters);
	printf("master_nodes=%s name=%s\n", c->masters, c->opt.name);
	fflush(stdout);
}

/* SIGTERM to every node (they stop cleanly on it), SIGKILL to those still
 * there after 20 s. */
static void stop_cluster(struct simple_cluster *c)
{
	for (int i = c->node_count - 1; i >= 0; i--)
		if (!c->nodes[i].exited && c->nodes[i].pid > 0)
			kill(c->nodes[i].pid, SIGTERM);
	for (int tick = 0; tick < 200 && any_running(c); tick++) {
		usleep(100000);
		reap(c, true);
	}
	for (int i = 0; i < c->node_count; i++) {
		struct simple_node *node = &c->nodes[i];

		if (node->exited || node->pid <= 0)
			continue;
		fprintf(stderr, "neosimple: %s did not stop within 20 s: killed\n", node->label);
		kill(node->pid, SIGKILL);
		waitpid(node->pid, &node->status, 0);
		node->exited = true;
	}
}

static int remove_tree(const char *dir)
{
	char command[PATH_MAX + 32];

	snprintf(command, sizeof command, "rm -rf '%s'", dir);
	return system(command);
}

/* Runs the command after "--"; returns its exit status (128+N if killed
 * by signal N, as shells do). */
static int run_command(struct simple_cluster *c, sigset_t *waitmask)
{
	pid_t pid;
	int status;

	setenv("NEO_MASTER_NODES", c->masters, 1);
	setenv("NEO_CLUSTER", c->opt.name, 1);
	setenv("NEO_ADMIN", c->admin, 1);
	setenv("NEO_DIR", c->dir, 1);
	pid = fork();
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, waitmask, NULL);
		execvp(c->opt.command[0], c->opt.command);
		fprintf(stderr, "neosimple: cannot run %s: %s\n", c->opt.command[0],
			strerror(errno));
		_exit(127);
	}
	if (pid < 0)
		return 1;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* Waits for SIGINT/SIGTERM, reporting nodes that die meanwhile. */
static void serve(struct simple_cluster *c, sigset_t *waitmask)
{
	printf("Stop with Ctrl+C (or SIGTERM).\n");
	fflush(stdout);
	while (!stop_signal) {
		sigsuspend(waitmask);
		reap(c, false);
		if (!any_running(c)) {
			fprintf(stderr, "neosimple: every node has exited\n");
			return;
		}
	}
}

static int start(struct simple_cluster *c)
{
	int master_ports[SIMPLE_MAX_MASTERS], admin_port = 0;

	if (find_bindir(c) < 0 || make_dir(c) < 0)
		return -1;
	find_build_modules(c);
	if (is_mysql(c) && prepare_mysql(c) < 0)
		return -1;
	if (reserve_ports(c, master_ports, &admin_port) < 0 || start_masters(c, master_ports) < 0)
		return -1;
	start_storages(c);
	if (start_admin(c, admin_port) < 0)
		return -1;
	return wait_running(c);
}

int main(int argc, char **argv)
{
	static struct simple_cluster cluster;
	struct sigaction stop_action = { .sa_handler = on_stop_signal };
	struct sigaction child_action = { .sa_handler = on_child };
	sigset_t blocked, waitmask;
	int parsed, status = 0;

	parsed = parse_args(argc, argv, &cluster.opt);
	if (parsed != 0) {
		usage(parsed > 0 ? stdout : stderr);
		neo_free(cluster.opt.dbs);
		return parsed > 0 ? 0 : 2;
	}
	if (cluster.opt.seed) {
		static char seeded_name[16];

		/* as upstream: the seed decides the name when none is given */
		seed_from(cluster.opt.seed);
		if (seed_state == 0)
			seed_state = 1;
		if (cluster.opt.name == NULL) {
			snprintf(seeded_name, sizeof seeded_name, "neo_%u",
				 (unsigned)(seeded_next() % 101));
			cluster.opt.name = seeded_name;
		}
	}
	sigaction(SIGINT, &stop_action, NULL);
	sigaction(SIGTERM, &stop_action, NULL);
	sigaction(SIGCHLD, &child_action, NULL);
	/* signals are taken only inside sigsuspend (serve) or polled */
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGCHLD);
	sigprocmask(SIG_BLOCK, &blocked, &waitmask);

	if (start(&cluster) < 0)
		status = 1;
	else {
		print_connection(&cluster);
		if (cluster.opt.command)
			status = run_command(&cluster, &waitmask);
		else
			serve(&cluster, &waitmask);
	}
	stop_cluster(&cluster);
	/* a failed run keeps its logs */
	if (cluster.made_dir && status == 0)
		remove_tree(cluster.dir);
	else if (status != 0 && cluster.dir[0])
		fprintf(stderr, "neosimple: logs are in %s\n", cluster.dir);
	neo_free(cluster.opt.dbs);
	return status;
}
