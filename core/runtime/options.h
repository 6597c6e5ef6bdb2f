/*
 * runtime/options.h - the command lines of neomaster, neostorage, neoadmin and
 * neoctl, with neo.conf merged in, as upstream does it:
 *
 *   - with -f FILE, the node reads section -s NAME (default "master",
 *     "storage" or "admin"), which inherits [DEFAULT];
 *   - file keys use '_' where long options use '-' (upstream_cluster);
 *   - the command line overrides the file;
 *   - booleans in the file take configparser's words (1/yes/true/on,
 *     0/no/false/off); multi-valued options take one value per line in the
 *     file and repeat on the command line;
 *   - '~' is expanded in paths (logfile, ca, cert, key, file,
 *     dynamic_master_list); database is passed to backends untouched.
 *
 * Keys that belong to another program, or that a value uses through
 * %(key)s, are ignored in the file as upstream ignores them; a key no NEO
 * program knows at all (a typo) is an error naming file and line.
 *
 * The options are described by a table per program (runtime/options.c); one
 * generic parser reads them.  All strings in struct neo_options are owned
 * by it and freed by neo_options_free.
 */
#ifndef NEO_OPTIONS_H
#define NEO_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum neo_program {
	NEO_PROGRAM_MASTER,
	NEO_PROGRAM_STORAGE,
	NEO_PROGRAM_ADMIN,
	NEO_PROGRAM_CTL
};

struct neo_string_list {
	char **items;
	size_t count, capacity;
};

struct neo_options {
	enum neo_program program;

	/* Every program. */
	char *logfile;
	char *ca, *cert, *key;

	/* Daemons. */
	char *loglevel;			/* ours, not upstream's: see README */
	char *file, *section;
	char *cluster;
	char *masters;			/* space-separated addresses */
	char *bind;
	char *dynamic_master_list;
	char *metrics;			/* HOST:PORT of /metrics; ours, not upstream's */
	long nid;
	bool has_nid;

	/* neomaster. */
	long autostart;			/* 0: none */
	char *upstream_cluster, *upstream_masters;
	bool backup;
	long replicas, partitions;
	bool pack_gc;			/* ours: pack collects garbage by default */

	/* neostorage. */
	char *adapter, *database, *engine;
	double wait;
	bool disable_pack, disable_drop_partitions, new_nid, dedup, reset;

	/* neoadmin. */
	double monitor_maxlag;
	double monitor_interval;	/* ours: seconds between lag checks, 0: 600 */
	struct neo_string_list monitor_email, monitor_backup;
	char *smtp, *smtp_auth;
	bool smtp_tls;

	/* neoctl: the admin to talk to, and the command words. */
	char *address;
	double watch;			/* -w: seconds between redraws (ours), 0: once */
	struct neo_string_list command;

	bool help, version;		/* -h/--help, --version were given */
};

/*
 * Parses argv (argv[0] is the program name) and the file it names.
 * Returns 0 and fills *opts (free it with neo_options_free), or -1 with a
 * message in err, e.g. "neomaster: --partitions: expected a positive
 * integer, got 'x'" or "neo.conf:7: unknown option 'partitons'".  On -1
 * there is nothing to free.
 */
int neo_options_parse(enum neo_program program, int argc, char *const argv[],
		      struct neo_options *opts, char *err, size_t errlen)
	__attribute__((warn_unused_result));

void neo_options_free(struct neo_options *opts);

/* Writes the usage text of the program. */
void neo_options_usage(enum neo_program program, FILE *out);

const char *neo_program_name(enum neo_program program);

/*
 * Which backend module a storage loads, from adapter and engine as set
 * (NULL when not set), following our rule:
 *   adapter SQLite -> sqlite; adapter MySQL -> mysql_innodb;
 *   engine InnoDB or RocksDB keep upstream's meaning, the MySQL table
 *   engine (module mysql_innodb); any other engine names our module
 *   (sqlite, mysql_innodb, rocksdb, or a path to a .so);
 *   with neither, MySQL, as upstream.
 * *module gets the module name or path, *mysql_engine the MySQL table
 * engine or NULL (both point into static strings or into the inputs).
 * Returns 0, or -1 with a message (unknown adapter, contradictory pair).
 */
int neo_backend_choice(const char *adapter, const char *engine, const char **module,
		       const char **mysql_engine, char *err, size_t errlen);

#endif
