/* runtime/options.c - see runtime/options.h.  The tables follow upstream's option
 * definitions (neo/lib/app.py, neo/{master,storage,admin}/app.py, neoctl). */
#include "runtime/options.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "runtime/alloc.h"
#include "runtime/config.h"

enum option_kind {
	KIND_STRING,
	KIND_PATH,		/* string with ~ expanded */
	KIND_INT,
	KIND_POSITIVE,		/* int > 0 */
	KIND_NONNEGATIVE,	/* int >= 0 */
	KIND_FLOAT,
	KIND_FLAG,		/* no value on the command line */
	KIND_LIST		/* repeated on the command line, lines in the file */
};

#define FOR_MASTER (1u << NEO_PROGRAM_MASTER)
#define FOR_STORAGE (1u << NEO_PROGRAM_STORAGE)
#define FOR_ADMIN (1u << NEO_PROGRAM_ADMIN)
#define FOR_CTL (1u << NEO_PROGRAM_CTL)
#define FOR_DAEMONS (FOR_MASTER | FOR_STORAGE | FOR_ADMIN)
#define FOR_ALL (FOR_DAEMONS | FOR_CTL)
#define NO_FLAG SIZE_MAX

struct option_desc {
	const char *long_name;
	char short_name;	/* '\0': long form only */
	enum option_kind kind;
	size_t offset;		/* of the value in struct neo_options */
	size_t set_offset;	/* of a bool telling it was given, or NO_FLAG */
	unsigned programs;
	const char *help;
};

#define AT(field) offsetof(struct neo_options, field)

static const struct option_desc option_table[] = {
	{ "logfile", 'l', KIND_PATH, AT(logfile), NO_FLAG, FOR_ALL, "log to this file" },
	{ "loglevel", 0, KIND_STRING, AT(loglevel), NO_FLAG, FOR_DAEMONS,
	  "lowest level written: DEBUG (with the packet trace), INFO, WARNING or ERROR" },
	{ "ca", 0, KIND_PATH, AT(ca), NO_FLAG, FOR_ALL, "(SSL) certificate authority, PEM" },
	{ "cert", 0, KIND_PATH, AT(cert), NO_FLAG, FOR_ALL, "(SSL) certificate, PEM" },
	{ "key", 0, KIND_PATH, AT(key), NO_FLAG, FOR_ALL, "(SSL) private key, PEM" },
	{ "file", 'f', KIND_PATH, AT(file), NO_FLAG, FOR_DAEMONS, "configuration file" },
	{ "section", 's', KIND_STRING, AT(section), NO_FLAG, FOR_DAEMONS,
	  "section of the configuration file to read" },
	{ "cluster", 'c', KIND_STRING, AT(cluster), NO_FLAG, FOR_DAEMONS, "the cluster name" },
	{ "masters", 'm', KIND_STRING, AT(masters), NO_FLAG, FOR_DAEMONS,
	  "space-separated list of master addresses" },
	{ "bind", 'b', KIND_STRING, AT(bind), NO_FLAG, FOR_DAEMONS, "address to listen on" },
	{ "dynamic-master-list", 'D', KIND_PATH, AT(dynamic_master_list), NO_FLAG, FOR_DAEMONS,
	  "file keeping the list of masters up to date" },
	{ "metrics", 0, KIND_STRING, AT(metrics), NO_FLAG, FOR_DAEMONS,
	  "serve Prometheus metrics on http://HOST:PORT/metrics (ours, not upstream's)" },
	{ "nid", 'i', KIND_INT, AT(nid), AT(has_nid), FOR_DAEMONS, "node id (testing, or a new storage)" },
	{ "autostart", 'A', KIND_POSITIVE, AT(autostart), NO_FLAG, FOR_MASTER,
	  "start a new cluster once this many storages are pending" },
	{ "upstream-cluster", 'C', KIND_STRING, AT(upstream_cluster), NO_FLAG, FOR_MASTER,
	  "the name of the cluster to back up" },
	{ "upstream-masters", 'M', KIND_STRING, AT(upstream_masters), NO_FLAG, FOR_MASTER,
	  "the masters of the cluster to back up" },
	{ "backup", 'B', KIND_FLAG, AT(backup), NO_FLAG, FOR_MASTER,
	  "back up instead of RUNNING when the database is empty" },
	{ "replicas", 'r', KIND_NONNEGATIVE, AT(replicas), NO_FLAG, FOR_MASTER,
	  "replicas of a new partition table" },
	{ "partitions", 'p', KIND_POSITIVE, AT(partitions), NO_FLAG, FOR_MASTER,
	  "partitions of a new partition table" },
	{ "pack-gc", 0, KIND_FLAG, AT(pack_gc), NO_FLAG, FOR_MASTER,
	  "ours: packs collect garbage unless the client says otherwise" },
	{ "adapter", 'a', KIND_STRING, AT(adapter), NO_FLAG, FOR_STORAGE,
	  "backend: SQLite, MySQL or Importer (upstream's names)" },
	{ "database", 'd', KIND_STRING, AT(database), NO_FLAG, FOR_STORAGE,
	  "backend database, passed to the module untouched" },
	{ "engine", 'e', KIND_STRING, AT(engine), NO_FLAG, FOR_STORAGE,
	  "backend module (sqlite, mysql_innodb, rocksdb, path) or MySQL engine (InnoDB, RocksDB)" },
	{ "wait", 'w', KIND_FLOAT, AT(wait), NO_FLAG, FOR_STORAGE,
	  "seconds to wait for the backend (-1: forever)" },
	{ "disable-pack", 0, KIND_FLAG, AT(disable_pack), NO_FLAG, FOR_STORAGE, "ignore pack orders" },
	{ "disable-drop-partitions", 0, KIND_FLAG, AT(disable_drop_partitions), NO_FLAG, FOR_STORAGE,
	  "keep the data of discarded cells" },
	{ "new-nid", 0, KIND_FLAG, AT(new_nid), NO_FLAG, FOR_STORAGE,
	  "ask for a new node id, save it and exit" },
	{ "dedup", 0, KIND_FLAG, AT(dedup), NO_FLAG, FOR_STORAGE,
	  "deduplicate object data (when creating the database)" },
	{ "reset", 0, KIND_FLAG, AT(reset), NO_FLAG, FOR_STORAGE, "erase the database and exit" },
	{ "monitor-maxlag", 0, KIND_FLOAT, AT(monitor_maxlag), NO_FLAG, FOR_ADMIN,
	  "warn when a backup lags more than this many seconds" },
	{ "monitor-email", 0, KIND_LIST, AT(monitor_email), NO_FLAG, FOR_ADMIN,
	  "address to mail the cluster's state to (repeatable)" },
	{ "monitor-backup", 0, KIND_LIST, AT(monitor_backup), NO_FLAG, FOR_ADMIN,
	  "name of a backup cluster to monitor (repeatable)" },
	{ "monitor-interval", 0, KIND_FLOAT, AT(monitor_interval), NO_FLAG, FOR_ADMIN,
	  "seconds between checks of the backups' lag (default 600, ours)" },
	{ "smtp", 0, KIND_STRING, AT(smtp), NO_FLAG, FOR_ADMIN, "SMTP server, HOST[:PORT]" },
	{ "smtp-tls", 0, KIND_FLAG, AT(smtp_tls), NO_FLAG, FOR_ADMIN, "use STARTTLS" },
	{ "smtp-auth", 0, KIND_STRING, AT(smtp_auth), NO_FLAG, FOR_ADMIN, "SMTP USER:PASS" },
	{ "address", 'a', KIND_STRING, AT(address), NO_FLAG, FOR_CTL, "admin node to talk to" },
	{ "watch", 'w', KIND_FLOAT, AT(watch), NO_FLAG, FOR_CTL,
	  "run a print command every this many seconds, redrawing (ours)" },
};

#define OPTION_COUNT (sizeof(option_table) / sizeof(option_table[0]))

static const char *const program_names[] = { "neomaster", "neostorage", "neoadmin", "neoctl" };
static const char *const default_sections[] = { "master", "storage", "admin", NULL };

const char *neo_program_name(enum neo_program program)
{
	return program_names[program];
}

/* Defaults that are not zero, per program. */
static const char *default_value(enum neo_program program, const char *name)
{
	if (strcmp(name, "section") == 0)
		return default_sections[program];
	if (strcmp(name, "bind") == 0)
		return program == NEO_PROGRAM_MASTER ? "127.0.0.1:10000" :
		       program == NEO_PROGRAM_ADMIN ? "127.0.0.1:9999" : "127.0.0.1";
	if (strcmp(name, "masters") == 0)
		return program == NEO_PROGRAM_MASTER ? "" : "127.0.0.1:10000";
	if (strcmp(name, "partitions") == 0)
		return "100";
	if (strcmp(name, "replicas") == 0)
		return "0";
	if (strcmp(name, "smtp") == 0)
		return "localhost";
	if (strcmp(name, "address") == 0)
		return "127.0.0.1:9999";
	return NULL;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Where a raw value came from, for messages. */
struct source {
	const char *file;	/* NULL: command line */
	int line;
};

static int bad_value(char *err, size_t errlen, enum neo_program program,
		     const struct option_desc *d, const struct source *src,
		     const char *expected, const char *value)
{
	if (src->file != NULL)
		return fail(err, errlen, "%s:%d: %s: expected %s, got '%s'", src->file, src->line,
			    d->long_name, expected, value);
	return fail(err, errlen, "%s: --%s: expected %s, got '%s'", program_names[program],
		    d->long_name, expected, value);
}

static int parse_long(const char *text, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(text, &end, 10);
	return errno || end == text || *end != '\0' ? -1 : 0;
}

/* configparser's boolean words. */
static int parse_bool(const char *text, bool *out)
{
	static const char *const yes[] = { "1", "yes", "true", "on" };
	static const char *const no[] = { "0", "no", "false", "off" };

	for (int i = 0; i < 4; i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static int list_add(struct neo_string_list *list, const char *value, size_t len)
{
	char *copy;

	if (neo_grow(&list->items, &list->capacity, list->count + 1, sizeof *list->items))
		return -1;
	copy = neo_malloc(len + 1);
	if (copy == NULL)
		return -1;
	memcpy(copy, value, len);
	copy[len] = '\0';
	list->items[list->count++] = copy;
	return 0;
}

static void list_free(struct neo_string_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		neo_free(list->items[i]);
	neo_free(list->items);
	list->items = NULL;
	list->count = 0;
	list->capacity = 0;
}

/* Stores one raw value into its field, converting and checking it. */
static int store_value(struct neo_options *opts, const struct option_desc *d,
		       const char *value, const struct source *src, char *err, size_t errlen)
{
	char *field = (char *)opts + d->offset;
	long number;
	double real;
	char *end;

	if (d->set_offset != NO_FLAG)
		*(bool *)((char *)opts + d->set_offset) = true;
	switch (d->kind) {
	case KIND_STRING:
	case KIND_PATH: {
		char *copy = d->kind == KIND_PATH ? neo_config_expand_path(value)
						  : neo_strdup(value);

		if (copy == NULL)
			return fail(err, errlen, "out of memory");
		if (*value == '\0') {
			neo_free(copy);
			return bad_value(err, errlen, opts->program, d, src, "a value", value);
		}
		neo_free(*(char **)field);
		*(char **)field = copy;
		return 0;
	}
	case KIND_INT:
	case KIND_POSITIVE:
	case KIND_NONNEGATIVE:
		if (parse_long(value, &number) ||
		    (d->kind == KIND_POSITIVE && number <= 0) ||
		    (d->kind == KIND_NONNEGATIVE && number < 0))
			return bad_value(err, errlen, opts->program, d, src,
					 d->kind == KIND_POSITIVE ? "a positive integer" :
					 d->kind == KIND_NONNEGATIVE ? "an integer >= 0" :
					 "an integer", value);
		*(long *)field = number;
		return 0;
	case KIND_FLOAT:
		errno = 0;
		real = strtod(value, &end);
		if (errno || end == value || *end != '\0' || !isfinite(real))
			return bad_value(err, errlen, opts->program, d, src, "a number", value);
		*(double *)field = real;
		return 0;
	case KIND_FLAG:
		if (parse_bool(value, (bool *)field))
			return bad_value(err, errlen, opts->program, d, src,
					 "a boolean (yes/no, true/false, on/off, 1/0)", value);
		return 0;
	case KIND_LIST:
		/* From the file: one value per line; empty lines skipped. */
		while (*value) {
			size_t len = strcspn(value, "\n");

			if (len > 0 && list_add((struct neo_string_list *)field, value, len))
				return fail(err, errlen, "out of memory");
			value += len + (value[len] == '\n');
		}
		return 0;
	}
	return -1;
}

/* The raw command line, before the file is read. */
struct command_line {
	const char *values[OPTION_COUNT];	/* last value given, NULL if none */
	bool given[OPTION_COUNT];
	struct neo_string_list lists[OPTION_COUNT];	/* repeated options */
	struct neo_string_list positional;
};

static void command_line_free(struct command_line *cl)
{
	for (size_t i = 0; i < OPTION_COUNT; i++)
		list_free(&cl->lists[i]);
	list_free(&cl->positional);
}

static int find_option(enum neo_program program, const char *long_name, size_t len,
		       char short_name)
{
	for (size_t i = 0; i < OPTION_COUNT; i++) {
		const struct option_desc *d = &option_table[i];

		if (!(d->programs & (1u << program)))
			continue;
		if (long_name ? strlen(d->long_name) == len &&
				strncmp(d->long_name, long_name, len) == 0
			      : d->short_name == short_name)
			return (int)i;
	}
	return -1;
}

static int record(struct command_line *cl, int index, const char *value)
{
	const struct option_desc *d = &option_table[index];

	cl->given[index] = true;
	cl->values[index] = value;
	if (d->kind == KIND_LIST)
		return list_add(&cl->lists[index], value, strlen(value));
	return 0;
}

/* Reads one option at argv[*i]; advances *i past its value. */
static int read_option(enum neo_program program, int argc, char *const argv[], int *i,
		       struct command_line *cl, struct neo_options *opts, char *err, size_t errlen)
{
	const char *arg = argv[*i];
	const char *name = program_names[program];
	const char *value = NULL;
	int index;

	if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
		opts->help = true;
		return 0;
	}
	if (strcmp(arg, "--version") == 0) {
		opts->version = true;
		return 0;
	}
	if (arg[1] == '-') {
		const char *eq = strchr(arg + 2, '=');
		size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);

		index = find_option(program, arg + 2, len, 0);
		if (eq != NULL)
			value = eq + 1;
	} else {
		index = find_option(program, NULL, 0, arg[1]);
		if (arg[2] != '\0')
			value = arg + 2;
	}
	if (index < 0)
		return fail(err, errlen, "%s: unknown option '%s' (see %s --help)", name, arg, name);
	if (option_table[index].kind == KIND_FLAG) {
		if (value != NULL)
			return fail(err, errlen, "%s: --%s takes no value", name,
				    option_table[index].long_name);
		return record(cl, index, "1");
	}
	if (value == NULL) {
		if (*i + 1 >= argc)
			return fail(err, errlen, "%s: --%s needs a value", name,
				    option_table[index].long_name);
		value = argv[++*i];
	}
	if (record(cl, index, value))
		return fail(err, errlen, "out of memory");
	return 0;
}

static int read_command_line(enum neo_program program, int argc, char *const argv[],
			     struct command_line *cl, struct neo_options *opts,
			     char *err, size_t errlen)
{
	bool options_done = false;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (!options_done && strcmp(arg, "--") == 0) {
			options_done = true;
			continue;
		}
		if (!options_done && arg[0] == '-' && arg[1] != '\0') {
			if (read_option(program, argc, argv, &i, cl, opts, err, errlen))
				return -1;
			continue;
		}
		if (program != NEO_PROGRAM_CTL)
			return fail(err, errlen, "%s: unexpected argument '%s'",
				    program_names[program], arg);
		/* neoctl: the command, e.g. "print node"; the rest are its words. */
		options_done = true;
		if (list_add(&cl->positional, arg, strlen(arg)))
			return fail(err, errlen, "out of memory");
	}
	return 0;
}

static int file_key_index(enum neo_program program, const char *key, bool *known_elsewhere)
{
	char name[128];
	size_t len = strlen(key);

	*known_elsewhere = false;
	if (len >= sizeof(name))
		return -1;
	/* As upstream: file keys use '_' where options use '-'. */
	for (size_t i = 0; i <= len; i++)
		name[i] = key[i] == '_' ? '-' : key[i];
	for (size_t i = 0; i < OPTION_COUNT; i++) {
		if (strcmp(option_table[i].long_name, name) != 0)
			continue;
		if (option_table[i].programs & (1u << program))
			return (int)i;
		*known_elsewhere = true;
	}
	return -1;
}

struct file_reader {
	enum neo_program program;
	const struct neo_config *cfg;
	const char *section;
	const struct command_line *cl;
	struct neo_options *opts;
	bool from_file[OPTION_COUNT];
	char *err;
	size_t errlen;
};

static int read_file_key(void *ctx, const char *key, int line)
{
	struct file_reader *r = ctx;
	bool elsewhere;
	int index = file_key_index(r->program, key, &elsewhere);
	struct source src = { neo_config_name(r->cfg), line };
	char *value = NULL;
	int status;

	if (index < 0) {
		if (elsewhere || neo_config_key_is_referenced(r->cfg, key))
			return 0;
		return fail(r->err, r->errlen, "%s:%d: unknown option '%s'", src.file, line, key);
	}
	if (r->cl->given[index] || strcmp(key, "file") == 0 || strcmp(key, "section") == 0)
		return 0;	/* the command line wins */
	status = neo_config_get(r->cfg, r->section, key, &value, NULL, r->err, r->errlen);
	if (status < 0)
		return -1;
	status = store_value(r->opts, &option_table[index], value, &src, r->err, r->errlen);
	neo_free(value);
	r->from_file[index] = true;
	return status;
}

static int read_file(enum neo_program program, const struct command_line *cl,
		     struct neo_options *opts, bool *from_file, char *err, size_t errlen)
{
	struct neo_config *cfg = neo_config_parse_file(opts->file, err, errlen);
	struct file_reader reader = {
		.program = program, .cfg = cfg, .section = opts->section,
		.cl = cl, .opts = opts, .err = err, .errlen = errlen,
	};
	int status;

	if (cfg == NULL)
		return -1;
	if (!neo_config_has_section(cfg, opts->section)) {
		neo_config_free(cfg);
		return fail(err, errlen, "%s: no section [%s]", opts->file, opts->section);
	}
	status = neo_config_foreach_key(cfg, opts->section, read_file_key, &reader);
	memcpy(from_file, reader.from_file, sizeof(reader.from_file));
	neo_config_free(cfg);
	return status;
}

static int apply_command_line(const struct command_line *cl, struct neo_options *opts,
			      char *err, size_t errlen)
{
	struct source src = { NULL, 0 };

	for (size_t i = 0; i < OPTION_COUNT; i++) {
		if (!cl->given[i])
			continue;
		if (option_table[i].kind == KIND_LIST) {
			struct neo_string_list *list =
				(struct neo_string_list *)((char *)opts + option_table[i].offset);

			for (size_t k = 0; k < cl->lists[i].count; k++)
				if (list_add(list, cl->lists[i].items[k], strlen(cl->lists[i].items[k])))
					return fail(err, errlen, "out of memory");
		} else if (store_value(opts, &option_table[i], cl->values[i], &src, err, errlen)) {
			return -1;
		}
	}
	return 0;
}

static int apply_defaults(enum neo_program program, const struct command_line *cl,
			  const bool *from_file, struct neo_options *opts, char *err, size_t errlen)
{
	struct source src = { NULL, 0 };

	for (size_t i = 0; i < OPTION_COUNT; i++) {
		const struct option_desc *d = &option_table[i];
		const char *value = default_value(program, d->long_name);
		char **field = (char **)((char *)opts + d->offset);

		if (!(d->programs & (1u << program)) || cl->given[i] || from_file[i] || value == NULL)
			continue;
		/* Empty string defaults (the master's own masters list). */
		if (*value == '\0' && (d->kind == KIND_STRING || d->kind == KIND_PATH)) {
			*field = neo_strdup("");
			if (*field == NULL)
				return fail(err, errlen, "out of memory");
			continue;
		}
		if (store_value(opts, d, value, &src, err, errlen))
			return -1;
	}
	return 0;
}

static int check_required(enum neo_program program, const struct neo_options *opts,
			  char *err, size_t errlen)
{
	const char *name = program_names[program];
	int ssl = (opts->ca != NULL) + (opts->cert != NULL) + (opts->key != NULL);

	if (program != NEO_PROGRAM_CTL && opts->cluster == NULL)
		return fail(err, errlen, "%s: the cluster name is required "
			    "(--cluster, or cluster in the configuration file)", name);
	if (program == NEO_PROGRAM_STORAGE && opts->database == NULL)
		return fail(err, errlen, "%s: the database is required "
			    "(--database, or database in the configuration file)", name);
	if (ssl != 0 && ssl != 3)
		return fail(err, errlen, "%s: SSL needs all three of ca, cert and key", name);
	if (program == NEO_PROGRAM_STORAGE) {
		const char *module, *engine;

		return neo_backend_choice(opts->adapter, opts->engine, &module, &engine, err, errlen);
	}
	return 0;
}

int neo_options_parse(enum neo_program program, int argc, char *const argv[],
		      struct neo_options *opts, char *err, size_t errlen)
{
	struct command_line cl;
	bool from_file[OPTION_COUNT] = { false };
	struct source src = { NULL, 0 };
	int status = -1;

	memset(opts, 0, sizeof(*opts));
	memset(&cl, 0, sizeof(cl));
	opts->program = program;
	if (read_command_line(program, argc, argv, &cl, opts, err, errlen))
		goto done;
	if (opts->help || opts->version) {
		status = 0;
		goto done;
	}
	/* -f and -s first: they say what to read. */
	for (size_t i = 0; i < OPTION_COUNT; i++)
		if (cl.given[i] && (strcmp(option_table[i].long_name, "file") == 0 ||
				    strcmp(option_table[i].long_name, "section") == 0) &&
		    store_value(opts, &option_table[i], cl.values[i], &src, err, errlen))
			goto done;
	if (opts->section == NULL && default_sections[program] != NULL &&
	    (opts->section = neo_strdup(default_sections[program])) == NULL)
		goto done;
	if (opts->file != NULL && read_file(program, &cl, opts, from_file, err, errlen))
		goto done;
	if (apply_command_line(&cl, opts, err, errlen) ||
	    apply_defaults(program, &cl, from_file, opts, err, errlen) ||
	    check_required(program, opts, err, errlen))
		goto done;
	opts->command = cl.positional;
	cl.positional = (struct neo_string_list){ 0 };
	status = 0;
done:
	command_line_free(&cl);
	if (status != 0)
		neo_options_free(opts);
	return status;
}

void neo_options_free(struct neo_options *opts)
{
	for (size_t i = 0; i < OPTION_COUNT; i++) {
		const struct option_desc *d = &option_table[i];
		char *field = (char *)opts + d->offset;

		if (d->kind == KIND_STRING || d->kind == KIND_PATH) {
			neo_free(*(char **)field);
			*(char **)field = NULL;
		} else if (d->kind == KIND_LIST) {
			list_free((struct neo_string_list *)field);
		}
	}
	list_free(&opts->command);
}

void neo_options_usage(enum neo_program program, FILE *out)
{
	fprintf(out, "usage: %s [options]%s\n\noptions:\n", program_names[program],
		program == NEO_PROGRAM_CTL ? " command [arguments]" : "");
	for (size_t i = 0; i < OPTION_COUNT; i++) {
		const struct option_desc *d = &option_table[i];
		const char *def = default_value(program, d->long_name);
		char shortform[8] = "";

		if (!(d->programs & (1u << program)))
			continue;
		if (d->short_name)
			snprintf(shortform, sizeof(shortform), "-%c, ", d->short_name);
		fprintf(out, "  %4s--%-24s %s", shortform, d->long_name, d->help);
		if (def != NULL && *def != '\0')
			fprintf(out, " (default: %s)", def);
		fputc('\n', out);
	}
	fprintf(out, "  -h, --help%20s show this help\n      --version%17s show the version\n", "", "");
}

int neo_backend_choice(const char *adapter, const char *engine, const char **module,
		       const char **mysql_engine, char *err, size_t errlen)
{
	/* Upstream's exact spellings: "rocksdb" is our module, "RocksDB" is
	 * the MySQL engine (MyRocks). */
	bool mysql_engine_named = engine != NULL &&
		(strcmp(engine, "InnoDB") == 0 || strcmp(engine, "RocksDB") == 0);

	*module = NULL;
	*mysql_engine = NULL;
	if (adapter != NULL && strcasecmp(adapter, "Importer") == 0) {
		/* As upstream's Importer: database= is an importer.conf, which
		 * names the destination (backends/importer/importer_conf.c). */
		if (engine != NULL && strcmp(engine, "importer") != 0 && strchr(engine, '/') == NULL)
			return fail(err, errlen, "adapter 'Importer' contradicts engine '%s' (the "
				    "destination's engine goes in importer.conf)", engine);
		*module = engine != NULL ? engine : "importer";
		return 0;
	}
	if (adapter != NULL && strcasecmp(adapter, "SQLite") != 0 &&
	    strcasecmp(adapter, "MySQL") != 0)
		return fail(err, errlen, "unknown adapter '%s' (SQLite, MySQL or Importer)", adapter);
	if (mysql_engine_named) {
		/* As upstream: InnoDB/RocksDB are MySQL table engines. */
		if (adapter != NULL && strcasecmp(adapter, "SQLite") == 0)
			return fail(err, errlen, "engine '%s' is a MySQL engine, but adapter is SQLite",
				    engine);
		*module = "mysql_innodb";
		*mysql_engine = engine;
		return 0;
	}
	if (engine != NULL) {
		if (adapter != NULL &&
		    strcmp(engine, strcasecmp(adapter, "SQLite") == 0 ? "sqlite" : "mysql_innodb") != 0 &&
		    strchr(engine, '/') == NULL)
			return fail(err, errlen, "adapter '%s' contradicts engine '%s'", adapter, engine);
		*module = engine;
		return 0;
	}
	/* As upstream: without adapter, MySQL. */
	*module = adapter != NULL && strcasecmp(adapter, "SQLite") == 0 ? "sqlite" : "mysql_innodb";
	return 0;
}
