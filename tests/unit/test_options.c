/* test_options.c - command lines and neo.conf merged as upstream does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/options.h"
#include "tap.h"

static char conf_path[] = "/tmp/neo-test-options-XXXXXX";
static char err[300];
static struct neo_options opts;

/* An upstream-style neo.conf (as upstream's example, with our additions). */
static const char upstream_conf[] =
	"[DEFAULT]\n"
	"cluster: test\n"
	"masters: 127.0.0.1:10000 127.0.0.1:10001\n"
	"replicas: 1\n"
	"partitions: 12\n"
	";upstream_cluster: test2\n"
	"home = /srv/neo\n"
	"[admin]\n"
	"bind: 127.0.0.1:9999\n"
	"monitor_email: ops@example.com\n"
	"  dba@example.com\n"
	"smtp_tls: yes\n"
	"[master]\n"
	"bind: 127.0.0.1:10000\n"
	"backup = off\n"
	"[storage]\n"
	"database: neo:neo@neo1\n"
	"bind: 127.0.0.1:20000\n"
	"[storage1]\n"
	"adapter: SQLite\n"
	"database: %(home)s/s1.db\n"
	"bind: [::1]:20001\n"
	"logfile: ~/s1.log\n"
	"dedup: true\n"
	"[typo]\n"
	"partitons: 12\n"
	"[badint]\n"
	"partitions: many\n"
	"[badbool]\n"
	"dedup: maybe\n"
	"database: x\n"
	"[withmetrics]\n"
	"database: x\n"
	"metrics: 127.0.0.1:9100\n";

static int parse(enum neo_program program, const char *line)
{
	char *argv[32];
	char copy[512];
	int argc = 0;

	snprintf(copy, sizeof(copy), "%s", line);
	for (char *w = strtok(copy, " "); w && argc < 31; w = strtok(NULL, " "))
		argv[argc++] = strcmp(w, "CONF") == 0 ? conf_path : w;
	argv[argc] = NULL;
	err[0] = '\0';
	return neo_options_parse(program, argc, argv, &opts, err, sizeof(err));
}

static void expect_error(enum neo_program program, const char *line, const char *want)
{
	int r = parse(program, line);

	if (!tap_ok(r == -1 && strstr(err, want) != NULL, "refused: %s", line))
		tap_diag("got %d '%s'", r, err);
	if (r == 0)
		neo_options_free(&opts);
}

static void test_master(void)
{
	tap_ok(parse(NEO_PROGRAM_MASTER, "neomaster -f CONF") == 0, "master reads [master]");
	tap_ok(strcmp(opts.cluster, "test") == 0 && opts.partitions == 12 && opts.replicas == 1 &&
	       strcmp(opts.bind, "127.0.0.1:10000") == 0 && !opts.backup &&
	       strcmp(opts.masters, "127.0.0.1:10000 127.0.0.1:10001") == 0,
	       "master values from [DEFAULT] and [master]");
	neo_options_free(&opts);

	tap_ok(parse(NEO_PROGRAM_MASTER, "neomaster -f CONF --partitions 24 -r0 -B --nid=-268435455") == 0 &&
	       opts.partitions == 24 && opts.replicas == 0 && opts.backup &&
	       opts.has_nid && opts.nid == -268435455,
	       "the command line overrides the file; -r0, --x=y and flags");
	neo_options_free(&opts);

	tap_ok(parse(NEO_PROGRAM_MASTER, "neomaster -c solo") == 0 && opts.partitions == 100 &&
	       opts.replicas == 0 && strcmp(opts.bind, "127.0.0.1:10000") == 0 &&
	       strcmp(opts.masters, "") == 0 && !opts.has_nid && opts.file == NULL,
	       "upstream's defaults without a file");
	neo_options_free(&opts);
}

static void test_storage(void)
{
	const char *home = getenv("HOME");
	char want_log[300];

	snprintf(want_log, sizeof(want_log), "%s/s1.log", home ? home : "");
	tap_ok(parse(NEO_PROGRAM_STORAGE, "neostorage -f CONF -s storage1") == 0,
	       "storage reads the section named by -s");
	tap_ok(strcmp(opts.database, "/srv/neo/s1.db") == 0 && strcmp(opts.adapter, "SQLite") == 0 &&
	       strcmp(opts.bind, "[::1]:20001") == 0 && opts.dedup &&
	       strcmp(opts.logfile, want_log) == 0,
	       "interpolated database, boolean words, ~ in paths");
	neo_options_free(&opts);

	tap_ok(parse(NEO_PROGRAM_STORAGE, "neostorage -f CONF") == 0 &&
	       strcmp(opts.database, "neo:neo@neo1") == 0 && strcmp(opts.masters,
	       "127.0.0.1:10000 127.0.0.1:10001") == 0 && opts.wait == 0,
	       "storage defaults to [storage]; database untouched");
	neo_options_free(&opts);

	tap_ok(parse(NEO_PROGRAM_STORAGE, "neostorage -c x -d /tmp/x.db -e sqlite -w 2.5 --reset") == 0 &&
	       strcmp(opts.engine, "sqlite") == 0 && opts.wait == 2.5 && opts.reset,
	       "storage without a file");
	neo_options_free(&opts);
}

static void test_admin_and_ctl(void)
{
	tap_ok(parse(NEO_PROGRAM_ADMIN, "neoadmin -f CONF --monitor-backup b1 --monitor-backup b2") == 0 &&
	       opts.monitor_email.count == 2 &&
	       strcmp(opts.monitor_email.items[1], "dba@example.com") == 0 &&
	       opts.monitor_backup.count == 2 && strcmp(opts.monitor_backup.items[1], "b2") == 0 &&
	       opts.smtp_tls && strcmp(opts.smtp, "localhost") == 0,
	       "multi-valued options: lines in the file, repeats on the command line");
	neo_options_free(&opts);

	tap_ok(parse(NEO_PROGRAM_CTL, "neoctl -a 127.0.0.1:9998 print node") == 0 &&
	       strcmp(opts.address, "127.0.0.1:9998") == 0 && opts.command.count == 2 &&
	       strcmp(opts.command.items[0], "print") == 0,
	       "neoctl: address and command words");
	neo_options_free(&opts);

	tap_ok(parse(NEO_PROGRAM_CTL, "neoctl print cluster") == 0 &&
	       strcmp(opts.address, "127.0.0.1:9999") == 0, "neoctl's default admin address");
	neo_options_free(&opts);

	tap_ok(parse(NEO_PROGRAM_MASTER, "neomaster --help") == 0 && opts.help,
	       "--help needs nothing else");
	neo_options_free(&opts);

	tap_ok(parse(NEO_PROGRAM_STORAGE, "neostorage -c x -d /tmp/x.db --loglevel DEBUG") == 0 &&
	       opts.loglevel != NULL && strcmp(opts.loglevel, "DEBUG") == 0,
	       "--loglevel for the daemons (ours)");
	neo_options_free(&opts);
	expect_error(NEO_PROGRAM_CTL, "neoctl --loglevel DEBUG print node", "--loglevel");
}

/* --metrics / metrics: (ours): every daemon, not neoctl. */
static void test_metrics(void)
{
	tap_ok(parse(NEO_PROGRAM_STORAGE, "neostorage -f CONF -s withmetrics") == 0
	       && opts.metrics && strcmp(opts.metrics, "127.0.0.1:9100") == 0,
	       "metrics: from neo.conf");
	neo_options_free(&opts);
	tap_ok(parse(NEO_PROGRAM_STORAGE, "neostorage -f CONF -s withmetrics --metrics [::1]:9200") == 0
	       && opts.metrics && strcmp(opts.metrics, "[::1]:9200") == 0,
	       "--metrics overrides the file");
	neo_options_free(&opts);
	tap_ok(parse(NEO_PROGRAM_MASTER, "neomaster -c x --metrics 127.0.0.1:9101") == 0
	       && opts.metrics && strcmp(opts.metrics, "127.0.0.1:9101") == 0,
	       "the master takes --metrics");
	neo_options_free(&opts);
	tap_ok(parse(NEO_PROGRAM_ADMIN, "neoadmin -c x --metrics=127.0.0.1:9102") == 0
	       && opts.metrics && strcmp(opts.metrics, "127.0.0.1:9102") == 0,
	       "the admin takes --metrics=");
	neo_options_free(&opts);
	tap_ok(parse(NEO_PROGRAM_MASTER, "neomaster -c x") == 0 && opts.metrics == NULL,
	       "no metrics by default");
	neo_options_free(&opts);
	expect_error(NEO_PROGRAM_CTL, "neoctl --metrics 127.0.0.1:1 print node", "--metrics");
	expect_error(NEO_PROGRAM_MASTER, "neomaster -c x --metrics=", "--metrics: expected a value");
}

static void test_errors(void)
{
	expect_error(NEO_PROGRAM_MASTER, "neomaster", "neomaster: the cluster name is required");
	expect_error(NEO_PROGRAM_MASTER, "neomaster -c x --partitions x",
		     "neomaster: --partitions: expected a positive integer, got 'x'");
	expect_error(NEO_PROGRAM_MASTER, "neomaster -c x -p 0",
		     "--partitions: expected a positive integer, got '0'");
	expect_error(NEO_PROGRAM_MASTER, "neomaster -c x -r -1",
		     "--replicas: expected an integer >= 0, got '-1'");
	expect_error(NEO_PROGRAM_MASTER, "neomaster -c x --frobnicate", "unknown option '--frobnicate'");
	expect_error(NEO_PROGRAM_MASTER, "neomaster -c x --database d", "unknown option '--database'");
	expect_error(NEO_PROGRAM_MASTER, "neomaster -c x -p", "--partitions needs a value");
	expect_error(NEO_PROGRAM_MASTER, "neomaster -c x --backup=yes", "--backup takes no value");
	expect_error(NEO_PROGRAM_MASTER, "neomaster -c x extra", "unexpected argument 'extra'");
	expect_error(NEO_PROGRAM_MASTER, "neomaster -c x --ca a.pem", "all three of ca, cert and key");
	expect_error(NEO_PROGRAM_STORAGE, "neostorage -c x", "the database is required");
	expect_error(NEO_PROGRAM_STORAGE, "neostorage -c x -d y -a Oracle", "unknown adapter 'Oracle'");
	expect_error(NEO_PROGRAM_STORAGE, "neostorage -c x -d y -w soon", "--wait: expected a number");
	expect_error(NEO_PROGRAM_MASTER, "neomaster -f CONF -s typo", ":26: unknown option 'partitons'");
	expect_error(NEO_PROGRAM_MASTER, "neomaster -f CONF -s badint",
		     ":28: partitions: expected a positive integer, got 'many'");
	expect_error(NEO_PROGRAM_STORAGE, "neostorage -f CONF -s badbool", ":30: dedup: expected a boolean");
	expect_error(NEO_PROGRAM_MASTER, "neomaster -f CONF -s nowhere", "no section [nowhere]");
	expect_error(NEO_PROGRAM_MASTER, "neomaster -f /nonexistent.conf", "/nonexistent.conf: cannot read");
}

static void expect_choice(const char *adapter, const char *engine, const char *module,
			  const char *mysql_engine)
{
	const char *m, *e;
	int r = neo_backend_choice(adapter, engine, &m, &e, err, sizeof(err));

	tap_ok(r == 0 && strcmp(m, module) == 0 &&
	       ((e == NULL && mysql_engine == NULL) || (e && mysql_engine && strcmp(e, mysql_engine) == 0)),
	       "adapter %s, engine %s -> %s (%s)", adapter ? adapter : "-", engine ? engine : "-",
	       module, mysql_engine ? mysql_engine : "no MySQL engine");
}

static void test_backend_choice(void)
{
	const char *m, *e;

	expect_choice("SQLite", NULL, "sqlite", NULL);
	expect_choice("MySQL", NULL, "mysql_innodb", NULL);
	expect_choice(NULL, NULL, "mysql_innodb", NULL);
	expect_choice("MySQL", "InnoDB", "mysql_innodb", "InnoDB");
	expect_choice(NULL, "RocksDB", "mysql_innodb", "RocksDB");
	expect_choice(NULL, "sqlite", "sqlite", NULL);
	expect_choice(NULL, "rocksdb", "rocksdb", NULL);
	expect_choice(NULL, "/opt/x/mybackend.so", "/opt/x/mybackend.so", NULL);
	expect_choice("SQLite", "sqlite", "sqlite", NULL);
	tap_ok(neo_backend_choice("SQLite", "InnoDB", &m, &e, err, sizeof(err)) == -1,
	       "a MySQL engine with the SQLite adapter is refused");
	tap_ok(neo_backend_choice("MySQL", "sqlite", &m, &e, err, sizeof(err)) == -1,
	       "adapter MySQL with engine sqlite is refused");
}

int main(void)
{
	int fd = mkstemp(conf_path);

	if (!tap_ok(fd >= 0 && write(fd, upstream_conf, sizeof(upstream_conf) - 1) > 0,
		    "write a neo.conf"))
		return tap_done();
	close(fd);
	test_master();
	test_storage();
	test_admin_and_ctl();
	test_errors();
	test_metrics();
	test_backend_choice();
	unlink(conf_path);
	return tap_done();
}
