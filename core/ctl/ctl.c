/*
 * ctl/ctl.c - neoctl's commands: parsing, the request plan of each command,
 * and the text of the answers.  See ctl/ctl.h.
 */
#include "ctl/ctl.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cluster/nid.h"
#include "cluster/nodes.h"
#include "cluster/ptable.h"
#include "cluster/tid.h"
#include "runtime/alloc.h"

/* --- A growing string ------------------------------------------------------ */

struct text {
	char *data;
	size_t len, cap;
	bool failed;		/* ENOMEM: the result is NULL */
};

static void text_addn(struct text *t, const char *s, size_t n)
{
	if (t->failed)
		return;
	if (neo_grow(&t->data, &t->cap, t->len + n + 1, 1)) {
		t->failed = true;
		return;
	}
	if (n)
		memcpy(t->data + t->len, s, n);
	t->len += n;
	t->data[t->len] = '\0';
}

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_add(struct text *t, const char *fmt, ...)
{
	char small[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0) {
		t->failed = true;
		return;
	}
	if ((size_t)n < sizeof small) {
		text_addn(t, small, (size_t)n);
		return;
	}
	{
		char *big = neo_malloc((size_t)n + 1);

		if (big == NULL) {
			t->failed = true;
			return;
		}
		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		text_addn(t, big, (size_t)n);
		neo_free(big);
	}
}

static void text_bin(struct text *t, struct neo_bin bin)
{
	text_addn(t, (const char *)bin.data, bin.size);
}

/* The string built (an empty one if nothing was added), or NULL. */
static char *text_finish(struct text *t)
{
	if (!t->failed && t->data == NULL)
		text_addn(t, "", 0);
	if (t->failed) {
		neo_free(t->data);
		return NULL;
	}
	return t->data;
}

/* --- Words ------------------------------------------------------------------ */

static int parse_int(const char *text, int64_t *out)
{
	char *end;
	long long v;

	if (text == NULL || *text == '\0')
		return -1;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int parse_node(const char *text, int32_t *nid)
{
	return neo_nid_parse(text, nid);
}

/* As upstream: enum names in any case ("storage", "Stopping"). */
static int parse_enum(enum neo_enum_type type, const char *text)
{
	char upper[64];
	size_t i;

	for (i = 0; text[i] && i + 1 < sizeof upper; i++)
		upper[i] = (char)toupper((unsigned char)text[i]);
	if (text[i])
		return -1;
	upper[i] = '\0';
	return neo_enum_value(type, upper);
}

static const char *enum_name(enum neo_enum_type type, int value)
{
	const char *name = neo_enum_name(type, value);

	return name ? name : "?";
}

/* Python's int(text, 0) for the TIDs we take: 0x, 0o, 0b or decimal. */
static int parse_uint64_base0(const char *text, uint64_t *out)
{
	int base = 10;
	char *end;
	unsigned long long v;

	if (text[0] == '0' && text[1] != '\0') {
		switch (tolower((unsigned char)text[1])) {
		case 'x': base = 16; break;
		case 'o': base = 8; break;
		case 'b': base = 2; break;
		default: return -1;	/* Python refuses "010" */
		}
		text += 2;
	}
	if (!isalnum((unsigned char)*text))
		return -1;
	errno = 0;
	v = strtoull(text, &end, base);
	if (errno || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

int ctl_parse_tid(const char *text, uint64_t *tid)
{
	char *end;
	double t;

	if (text == NULL || *text == '\0')
		return -1;
	if (strncasecmp(text, "tid:", 4) == 0)
		return parse_uint64_base0(text + 4, tid);
	errno = 0;
	t = strtod(text, &end);
	if (errno || *end != '\0' || !isfinite(t) || t < 0)
		return -1;
	*tid = neo_tid_from_time(t);
	return 0;
}

/* --- Parsing each command --------------------------------------------------- */

typedef enum ctl_parse_result (*ctl_parser)(struct ctl_command *cmd, size_t argc,
					    char *const argv[], char *err, size_t errlen);

static enum ctl_parse_result refuse(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum ctl_parse_result refuse(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return CTL_PARSE_ERROR;
}

static enum ctl_parse_result parse_nothing(struct ctl_command *cmd, size_t argc,
					   char *const argv[], char *err, size_t errlen)
{
	if (argc)
		return refuse(err, errlen, "unexpected argument '%s'", argv[0]);
	return CTL_PARSE_OK;
}

/* As upstream, `print primary` ignores its arguments. */
static enum ctl_parse_result parse_ignored(struct ctl_command *cmd, size_t argc,
					   char *const argv[], char *err, size_t errlen)
{
	return CTL_PARSE_OK;
}

static enum ctl_parse_result parse_print_node(struct ctl_command *cmd, size_t argc,
					      char *const argv[], char *err, size_t errlen)
{
	int type;

	if (argc > 1)
		return refuse(err, errlen, "unexpected argument '%s'", argv[1]);
	if (argc == 0)
		return CTL_PARSE_OK;
	type = parse_enum(NEO_ENUM_NODE_TYPES, argv[0]);
	if (type < 0)
		return refuse(err, errlen,
			      "unknown node type '%s' (master, storage, client, admin)", argv[0]);
	cmd->has_node_type = true;
	cmd->node_type = (enum neo_node_type)type;
	return CTL_PARSE_OK;
}

static enum ctl_parse_result parse_print_pt(struct ctl_command *cmd, size_t argc,
					    char *const argv[], char *err, size_t errlen)
{
	if (argc > 3)
		return refuse(err, errlen, "unexpected argument '%s'", argv[3]);
	if (argc > 0 && (parse_int(argv[0], &cmd->min_offset) < 0 || cmd->min_offset < 0))
		return refuse(err, errlen, "invalid partition offset '%s'", argv[0]);
	if (argc > 1 && (parse_int(argv[1], &cmd->max_offset) < 0 || cmd->max_offset < 0))
		return refuse(err, errlen, "invalid partition offset '%s'", argv[1]);
	if (argc > 2) {
		if (parse_node(argv[2], &cmd->node) < 0)
			return refuse(err, errlen, "invalid node id '%s'", argv[2]);
		cmd->has_node = true;
	}
	return CTL_PARSE_OK;
}

static enum ctl_parse_result parse_set_cluster(struct ctl_command *cmd, size_t argc,
					       char *const argv[], char *err, size_t errlen)
{
	int state;

	if (argc != 1)
		return refuse(err, errlen, "expected one cluster state");
	state = parse_enum(NEO_ENUM_CLUSTER_STATES, argv[0]);
	if (state < 0)
		return refuse(err, errlen, "unknown cluster state '%s'", argv[0]);
	cmd->cluster_state = (enum neo_cluster_state)state;
	return CTL_PARSE_OK;
}

static enum ctl_parse_result parse_set_replicas(struct ctl_command *cmd, size_t argc,
						char *const argv[], char *err, size_t errlen)
{
	if (argc != 1)
		return refuse(err, errlen, "expected a number of replicas");
	if (parse_int(argv[0], &cmd->replicas) < 0)
		return refuse(err, errlen, "invalid number '%s'", argv[0]);
	/* As upstream's message. */
	if (cmd->replicas < 0)
		return refuse(err, errlen, "invalid number of replicas");
	return CTL_PARSE_OK;
}

static enum ctl_parse_result parse_start(struct ctl_command *cmd, size_t argc,
					 char *const argv[], char *err, size_t errlen)
{
	/* As upstream: start is "set cluster VERIFYING". */
	cmd->cluster_state = NEO_CLUSTER_VERIFYING;
	return parse_nothing(cmd, argc, argv, err, errlen);
}

static enum ctl_parse_result parse_node_list(struct ctl_command *cmd, size_t argc,
					     char *const argv[], char *err, size_t errlen)
{
	cmd->nodes = neo_calloc(argc + 1, sizeof *cmd->nodes);
	if (cmd->nodes == NULL)
		return refuse(err, errlen, "out of memory");
	for (size_t i = 0; i < argc; i++)
		if (parse_node(argv[i], &cmd->nodes[cmd->node_count++]) < 0)
			return refuse(err, errlen, "invalid node id '%s'", argv[i]);
	return CTL_PARSE_OK;
}

/* all | NODE... (add, prune_orphan). */
static enum ctl_parse_result parse_storages(struct ctl_command *cmd, size_t argc,
					    char *const argv[], char *err, size_t errlen)
{
	/* Upstream sends an empty list, which does nothing. */
	if (argc == 0)
		return refuse(err, errlen, "expected all or node ids");
	if (argc == 1 && strcmp(argv[0], "all") == 0) {
		cmd->all_storages = true;
		return CTL_PARSE_OK;
	}
	return parse_node_list(cmd, argc, argv, err, errlen);
}

static enum ctl_parse_result parse_tweak(struct ctl_command *cmd, size_t argc,
					 char *const argv[], char *err, size_t errlen)
{
	cmd->dry_run = argc > 0 && strcmp(argv[0], "-n") == 0;
	return parse_node_list(cmd, argc - cmd->dry_run, argv + cmd->dry_run, err, errlen);
}

static enum ctl_parse_result parse_one_node(struct ctl_command *cmd, size_t argc,
					    char *const argv[], char *err, size_t errlen)
{
	if (argc != 1)
		return refuse(err, errlen, "expected one node id");
	if (parse_node(argv[0], &cmd->node) < 0)
		return refuse(err, errlen, "invalid node id '%s'", argv[0]);
	cmd->has_node = true;
	return CTL_PARSE_OK;
}

static enum ctl_parse_result parse_prune_orphan(struct ctl_command *cmd, size_t argc,
						char *const argv[], char *err, size_t errlen)
{
	if (argc == 0 || (strcmp(argv[0], "0") != 0 && strcmp(argv[0], "1") != 0))
		return refuse(err, errlen, "expected 0 or 1 (dry run), then all or node ids");
	cmd->dry_run = argv[0][0] == '1';
	return parse_storages(cmd, argc - 1, argv + 1, err, errlen);
}

static enum ctl_parse_result parse_truncate(struct ctl_command *cmd, size_t argc,
					    char *const argv[], char *err, size_t errlen)
{
	if (argc != 1)
		return refuse(err, errlen, "expected one TID");
	if (ctl_parse_tid(argv[0], &cmd->min_tid) < 0)
		return refuse(err, errlen, "invalid TID '%s'", argv[0]);
	return CTL_PARSE_OK;
}

/* PARTITION:[REF] or :[REF]; false when the word is no such thing.  Unlike
 * upstream, "tid:..." is a TID here, not a partition named "tid". */
static bool is_partition_word(const char *word)
{
	const char *colon = strchr(word, ':');

	return colon && strchr(colon + 1, ':') == NULL && strncasecmp(word, "tid:", 4) != 0;
}

static enum ctl_parse_result parse_check_item(struct ctl_command *cmd, const char *word,
					      char *err, size_t errlen)
{
	const char *colon = strchr(word, ':');
	struct ctl_check_item item = { 0 };
	char number[32];

	if (colon[1] != '\0') {
		if (parse_node(colon + 1, &item.source) < 0)
			return refuse(err, errlen, "invalid node id '%s'", colon + 1);
		item.has_source = true;
	}
	if (colon == word) {
		/* As upstream: ":REF" stands for every partition, first. */
		if (cmd->check_count || cmd->check_every_partition)
			return refuse(err, errlen, "'%s' must come before any PARTITION:REF", word);
		cmd->check_every_partition = true;
		cmd->every_has_source = item.has_source;
		cmd->every_source = item.source;
		return CTL_PARSE_OK;
	}
	if ((size_t)(colon - word) >= sizeof number)
		return refuse(err, errlen, "invalid partition in '%s'", word);
	memcpy(number, word, (size_t)(colon - word));
	number[colon - word] = '\0';
	if (parse_int(number, &item.partition) < 0 || item.partition < 0)
		return refuse(err, errlen, "invalid partition in '%s'", word);
	cmd->checks[cmd->check_count++] = item;
	return CTL_PARSE_OK;
}

static enum ctl_parse_result parse_check(struct ctl_command *cmd, size_t argc,
					 char *const argv[], char *err, size_t errlen)
{
	size_t i;

	cmd->checks = neo_calloc(argc + 1, sizeof *cmd->checks);
	if (cmd->checks == NULL)
		return refuse(err, errlen, "out of memory");
	for (i = 0; i < argc && is_partition_word(argv[i]); i++)
		if (parse_check_item(cmd, argv[i], err, errlen) != CTL_PARSE_OK)
			return CTL_PARSE_ERROR;
	if (i < argc && ctl_parse_tid(argv[i], &cmd->min_tid) < 0)
		return refuse(err, errlen, "invalid TID '%s'", argv[i]);
	if (i + 1 < argc) {
		if (ctl_parse_tid(argv[i + 1], &cmd->max_tid) < 0)
			return refuse(err, errlen, "invalid TID '%s'", argv[i + 1]);
		cmd->has_max_tid = true;
	}
	if (i + 2 < argc)
		return refuse(err, errlen, "unexpected argument '%s'", argv[i + 2]);
	/* Upstream sends an empty request then, which checks nothing and
	 * exits 0: an operator who typed `check` surely meant something. */
	if (cmd->check_count == 0 && !cmd->check_every_partition)
		return refuse(err, errlen, "no partition given (PARTITION:[REF] for one, "
			      "':' or ':REF' for every partition)");
	if (cmd->has_max_tid && cmd->min_tid > cmd->max_tid)
		return refuse(err, errlen, "MIN_TID is after MAX_TID: nothing to check");
	return CTL_PARSE_OK;
}

/* --- The commands ------------------------------------------------------------ */

struct ctl_verb {
	const char *group;	/* "print", "set", or NULL for a verb alone */
	const char *name;
	enum ctl_kind kind;
	ctl_parser parse;
	const char *help;	/* lines separated by '\n' */
};

/* In upstream's order, so that the help reads the same. */
static const struct ctl_verb ctl_verbs[] = {
	{ "print", "ids", CTL_PRINT_IDS, parse_nothing,
	  "Print the last oid, the last tid and the id of the partition table.\n"
	  "In backup mode, the backup tid is printed instead of the last oid." },
	{ "print", "pt", CTL_PRINT_PT, parse_print_pt,
	  "Print the partition table.\n"
	  "Parameters: [MIN [MAX [NODE]]]\n"
	  "  MIN: first partition to print (partitions count from 0)\n"
	  "  MAX: partition to stop before (0: up to the last one)\n"
	  "  NODE: passed to the admin node, which does not filter with it\n"
	  "Without MIN and MAX: a grid with one line per storage node." },
	{ "print", "node", CTL_PRINT_NODE, parse_print_node,
	  "Print the nodes of the cluster.\n"
	  "Parameters: [TYPE]\n"
	  "  TYPE: master, storage, client or admin: only nodes of that type" },
	{ "print", "cluster", CTL_PRINT_CLUSTER, parse_nothing,
	  "Print the state of the cluster." },
	{ "print", "primary", CTL_PRINT_PRIMARY, parse_ignored,
	  "Print the id of the primary master." },
	{ "print", "summary", CTL_PRINT_SUMMARY, parse_nothing,
	  "Print the health of this cluster and of the backups the admin watches.\n"
	  "The first line is a comment holding JSON, {severity: [cluster, ...]},\n"
	  "where severity is \"warning\" or \"problem\" and null is this cluster." },
	{ "set", "cluster", CTL_SET_CLUSTER, parse_set_cluster,
	  "Change the state of the cluster.\n"
	  "Parameters: STATE (e.g. STOPPING, STARTING_BACKUP, STOPPING_BACKUP)" },
	{ "set", "replicas", CTL_SET_REPLICAS, parse_set_replicas,
	  "Change the number of replicas.\n"
	  "Parameters: N (0: a single copy of each partition)\n"
	  "More replicas than storage nodes allow is accepted with a warning;\n"
	  "'tweak' then gives the partitions their new number of copies." },
	{ NULL, "check", CTL_CHECK, parse_check,
	  "Compare the replicas of partitions to find corrupted cells.\n"
	  "Parameters: PARTITION:[REF] ... [MIN_TID [MAX_TID]]\n"
	  "  PARTITION: a partition number; left out (\":REF\"), every partition\n"
	  "             (at least one must be given: ':' checks them all)\n"
	  "  REF: a storage node whose data is known to be good; without it,\n"
	  "       an upstream cell in backup mode\n"
	  "Experimental: a pack in progress shows as differences." },
	{ NULL, "start", CTL_START, parse_start,
	  "Let a starting cluster leave recovery (same as 'set cluster VERIFYING')." },
	{ NULL, "add", CTL_ADD, parse_storages,
	  "Put pending storage nodes to use.\n"
	  "Parameters: all | NODE ...\n"
	  "  all: every pending storage node" },
	{ NULL, "tweak", CTL_TWEAK, parse_tweak,
	  "Rebalance the partition table.\n"
	  "Parameters: [-n] [NODE ...]\n"
	  "  -n: only print what the table would become\n"
	  "  NODE: storage nodes to move data away from (they stop counting as\n"
	  "        replicas), usually before dropping them; down nodes must be named" },
	{ NULL, "drop", CTL_DROP, parse_one_node,
	  "Remove a storage node from the cluster for good.\n"
	  "Parameters: NODE" },
	{ NULL, "kill", CTL_KILL, parse_one_node,
	  "Stop a storage node or a secondary master.\n"
	  "Parameters: NODE" },
	{ NULL, "prune_orphan", CTL_PRUNE_ORPHAN, parse_prune_orphan,
	  "Delete raw data that no object revision uses (this can take long).\n"
	  "Parameters: DRY_RUN all | NODE ...\n"
	  "  DRY_RUN: 1 to only count, 0 to delete\n"
	  "  all: every connected storage node" },
	{ NULL, "truncate", CTL_TRUNCATE, parse_truncate,
	  "Cut the history of the database after TID.\n"
	  "The cluster must be RUNNING with no transaction in progress.  It goes\n"
	  "back to RECOVERING and waits for all its storage nodes: use 'start' only\n"
	  "when the missing ones surely need no truncation.\n"
	  "Parameters: TID" },
	{ NULL, "flush_log", CTL_FLUSH_LOG, parse_nothing,
	  "Ask every node of the cluster to flush its log (of a backup cluster,\n"
	  "only its primary master)." },
};

#define CTL_VERB_COUNT (sizeof ctl_verbs / sizeof ctl_verbs[0])

static bool is_group(const char *word)
{
	for (size_t i = 0; i < CTL_VERB_COUNT; i++)
		if (ctl_verbs[i].group && strcmp(ctl_verbs[i].group, word) == 0)
			return true;
	return false;
}

/* The verb the words name; *used says how many words that took. */
static const struct ctl_verb *find_verb(size_t argc, char *const argv[], size_t *used)
{
	bool grouped = is_group(argv[0]);

	*used = grouped ? 2 : 1;
	if (grouped && argc < 2)
		return NULL;
	for (size_t i = 0; i < CTL_VERB_COUNT; i++) {
		const struct ctl_verb *v = &ctl_verbs[i];

		if (grouped ? v->group && strcmp(v->group, argv[0]) == 0
				      && strcmp(v->name, argv[1]) == 0
			    : v->group == NULL && strcmp(v->name, argv[0]) == 0)
			return v;
	}
	return NULL;
}

static void join_words(size_t argc, char *const argv[], char *buf, size_t buflen)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < argc && len < buflen; i++)
		len += (size_t)snprintf(buf + len, buflen - len, "%s%s", i ? " " : "", argv[i]);
}

enum ctl_parse_result ctl_parse(size_t argc, char *const argv[], struct ctl_command *cmd,
				char *err, size_t errlen)
{
	const struct ctl_verb *verb;
	enum ctl_parse_result r;
	char words[256];
	size_t used;

	memset(cmd, 0, sizeof *cmd);
	if (argc == 0)
		return CTL_PARSE_HELP;
	verb = find_verb(argc, argv, &used);
	if (verb == NULL) {
		/* As upstream's message. */
		join_words(argc, argv, words, sizeof words);
		return refuse(err, errlen, "invalid command: %s", words);
	}
	cmd->kind = verb->kind;
	r = verb->parse(cmd, argc - used, argv + used, err, errlen);
	if (r != CTL_PARSE_OK) {
		char why[256];

		snprintf(why, sizeof why, "%s", err);
		join_words(used, argv, words, sizeof words);
		snprintf(err, errlen, "%s: %s", words, why);
		ctl_command_free(cmd);
	}
	return r;
}

void ctl_command_free(struct ctl_command *cmd)
{
	neo_free(cmd->nodes);
	neo_free(cmd->checks);
	memset(cmd, 0, sizeof *cmd);
}

static void usage_help(FILE *out, const char *help, int level)
{
	const char *line = help;

	while (*line) {
		size_t len = strcspn(line, "\n");

		fprintf(out, "%*s%.*s\n", level * 2, "", (int)len, line);
		line += len + (line[len] == '\n');
	}
}

void ctl_usage(FILE *out)
{
	const char *group = NULL;

	fputs("Available commands:\n", out);
	for (size_t i = 0; i < CTL_VERB_COUNT; i++) {
		const struct ctl_verb *v = &ctl_verbs[i];
		int level = v->group ? 1 : 0;

		if (v->group && (group == NULL || strcmp(group, v->group) != 0))
			fprintf(out, "%s\n", v->group);
		group = v->group;
		fprintf(out, "%*s%s\n", level * 2, "", v->name);
		usage_help(out, v->help, level + 1);
	}
	fputs("TID arguments are either tid:INTEGER (decimal, or hexadecimal with 0x;\n"
	      "the prefix in any case), e.g. 'tid:257684787499560686' or\n"
	      "'tid:0x3937af2eeeeeeee', or a UNIX time as a float, e.g. '1325421296'\n"
	      "for 2012-01-01 12:34:56 UTC.\n", out);
}

/* --- Dates ------------------------------------------------------------------ */

static const char *format_datetime(const struct tm *tm, long micro, char *buf, size_t buflen)
{
	/* As Python's str(datetime): microseconds only when there are some. */
	if (micro)
		snprintf(buf, buflen, "%04d-%02d-%02d %02d:%02d:%02d.%06ld", tm->tm_year + 1900,
			 tm->tm_mon + 1, tm->tm_mday, tm->tm_hour, tm->tm_min, tm->tm_sec, micro);
	else
		snprintf(buf, buflen, "%04d-%02d-%02d %02d:%02d:%02d", tm->tm_year + 1900,
			 tm->tm_mon + 1, tm->tm_mday, tm->tm_hour, tm->tm_min, tm->tm_sec);
	return buf;
}

const char *ctl_format_utc(double t, char *buf, size_t buflen)
{
	double whole, micro = nearbyint(modf(t, &whole) * 1e6);
	time_t seconds;
	struct tm tm;

	/* As Python's utcfromtimestamp: microseconds rounded half to even. */
	if (micro >= 1e6) {
		whole += 1;
		micro -= 1e6;
	} else if (micro < 0) {
		whole -= 1;
		micro += 1e6;
	}
	if (!isfinite(whole) || fabs(whole) > 1e15) {
		snprintf(buf, buflen, "%f", t);
		return buf;
	}
	seconds = (time_t)whole;
	if (gmtime_r(&seconds, &tm) == NULL) {
		snprintf(buf, buflen, "%f", t);
		return buf;
	}
	return format_datetime(&tm, (long)micro, buf, buflen);
}

/* --- Node lists --------------------------------------------------------------- */

#define NODE_COLUMNS 5

struct node_row {
	const struct neo_node_info *info;
	char columns[NODE_COLUMNS][300];
};

static void format_address(const struct neo_opt_wire_address *address, char *buf, size_t buflen)
{
	const struct neo_wire_address *a = &address->v;
	bool v6;

	if (!address->has) {
		buf[0] = '\0';
		return;
	}
	v6 = memchr(a->host.data, ':', a->host.size) != NULL;
	snprintf(buf, buflen, v6 ? "[%.*s]:%lld" : "%.*s:%lld", (int)a->host.size,
		 (const char *)a->host.data, (long long)a->port);
}

static void node_row_fill(struct node_row *row, const struct neo_node_info *info)
{
	row->info = info;
	if (info->uuid.has)
		neo_nid_format(info->uuid.v, row->columns[0], sizeof row->columns[0]);
	else
		strcpy(row->columns[0], "None");
	snprintf(row->columns[1], sizeof row->columns[1], "%s",
		 enum_name(NEO_ENUM_NODE_TYPES, info->type));
	format_address(&info->address, row->columns[2], sizeof row->columns[2]);
	snprintf(row->columns[3], sizeof row->columns[3], "%s",
		 enum_name(NEO_ENUM_NODE_STATES, info->state));
	/* As upstream: str(id_timestamp and utcfromtimestamp(id_timestamp)). */
	if (!info->id_timestamp.has)
		strcpy(row->columns[4], "None");
	else if (info->id_timestamp.v == 0)
		strcpy(row->columns[4], "0.0");
	else
		ctl_format_utc(info->id_timestamp.v, row->columns[4], sizeof row->columns[4]);
}

static int compare_addresses(const struct neo_opt_wire_address *a,
			     const struct neo_opt_wire_address *b)
{
	uint32_t n;
	int c;

	if (!a->has || !b->has)
		return (int)a->has - (int)b->has;
	n = a->v.host.size < b->v.host.size ? a->v.host.size : b->v.host.size;
	c = n ? memcmp(a->v.host.data, b->v.host.data, n) : 0;
	if (c == 0)
		c = (a->v.host.size > b->v.host.size) - (a->v.host.size < b->v.host.size);
	if (c == 0)
		c = (a->v.port > b->v.port) - (a->v.port < b->v.port);
	return c;
}

/* As upstream: by id, then the nodes without one by address. */
static int compare_node_rows(const void *pa, const void *pb)
{
	const struct neo_node_info *a = ((const struct node_row *)pa)->info;
	const struct neo_node_info *b = ((const struct node_row *)pb)->info;

	if (a->uuid.has != b->uuid.has)
		return a->uuid.has ? -1 : 1;
	if (!a->uuid.has)
		return compare_addresses(&a->address, &b->address);
	return (a->uuid.v > b->uuid.v) - (a->uuid.v < b->uuid.v);
}

char *ctl_format_node_list(const struct neo_list_node_info *nodes)
{
	struct text t = { 0 };
	struct node_row *rows;
	int widths[NODE_COLUMNS] = { 0 };

	if (nodes->count == 0) {
		text_add(&t, "Empty list!");
		return text_finish(&t);
	}
	rows = neo_calloc(nodes->count, sizeof *rows);
	if (rows == NULL)
		return NULL;
	for (uint32_t i = 0; i < nodes->count; i++) {
		node_row_fill(&rows[i], &nodes->items[i]);
		for (int c = 0; c < NODE_COLUMNS; c++)
			if ((int)strlen(rows[i].columns[c]) > widths[c])
				widths[c] = (int)strlen(rows[i].columns[c]);
	}
	qsort(rows, nodes->count, sizeof *rows, compare_node_rows);
	for (uint32_t i = 0; i < nodes->count; i++) {
		if (i)
			text_add(&t, "\n");
		/* As upstream: every column but the last padded, " | " between. */
		for (int c = 0; c < NODE_COLUMNS - 1; c++)
			text_add(&t, "%-*s | ", widths[c], rows[i].columns[c]);
		text_add(&t, "%s", rows[i].columns[NODE_COLUMNS - 1]);
	}
	neo_free(rows);
	return text_finish(&t);
}

/* --- Partition tables ---------------------------------------------------------- */

struct grid_line {
	int32_t nid;
	char state;		/* node state letter */
	char *cells;		/* one letter per partition, '.' for none */
};

struct grid {
	struct grid_line *lines;
	size_t count, capacity;
	uint32_t np;
};

static char storage_state_letter(const struct neo_list_node_info *storages, int32_t nid)
{
	for (uint32_t i = 0; i < storages->count; i++)
		if (storages->items[i].uuid.has && storages->items[i].uuid.v == nid)
			return neo_node_state_letter(storages->items[i].state);
	/* A cell of a node the list does not have. */
	return neo_node_state_letter(NEO_NODE_UNKNOWN);
}

static struct grid_line *grid_line_of(struct grid *g, int32_t nid, char state)
{
	struct grid_line *line;

	for (size_t i = 0; i < g->count; i++)
		if (g->lines[i].nid == nid)
			return &g->lines[i];
	if (neo_grow(&g->lines, &g->capacity, g->count + 1, sizeof *g->lines))
		return NULL;
	line = &g->lines[g->count];
	line->cells = neo_malloc(g->np + 1);
	if (line->cells == NULL)
		return NULL;
	memset(line->cells, '.', g->np);
	line->cells[g->np] = '\0';
	line->nid = nid;
	line->state = state;
	g->count++;
	return line;
}

static void grid_free(struct grid *g)
{
	for (size_t i = 0; i < g->count; i++)
		neo_free(g->lines[i].cells);
	neo_free(g->lines);
}

static int compare_grid_lines(const void *pa, const void *pb)
{
	int32_t a = ((const struct grid_line *)pa)->nid, b = ((const struct grid_line *)pb)->nid;

	return (a > b) - (a < b);
}

/* As upstream's neoctl: the nodes with cells, and every RUNNING storage. */
static int grid_build(struct grid *g, const struct neo_list_list_cell *rows,
		      const struct neo_list_node_info *storages)
{
	g->np = rows->count;
	for (uint32_t i = 0; i < storages->count; i++) {
		const struct neo_node_info *n = &storages->items[i];

		if (n->uuid.has && n->state == NEO_NODE_RUNNING
		    && grid_line_of(g, (int32_t)n->uuid.v, neo_node_state_letter(n->state)) == NULL)
			return -1;
	}
	for (uint32_t p = 0; p < rows->count; p++)
		for (uint32_t k = 0; k < rows->items[p].count; k++) {
			const struct neo_cell *cell = &rows->items[p].items[k];
			int32_t nid = (int32_t)cell->uuid;
			struct grid_line *line;

			if (cell->state == NEO_CELL_DISCARDED)
				continue;
			line = grid_line_of(g, nid, storage_state_letter(storages, nid));
			if (line == NULL)
				return -1;
			line->cells[p] = neo_cell_state_letter(cell->state);
		}
	if (g->count > 1)
		qsort(g->lines, g->count, sizeof *g->lines, compare_grid_lines);
	return 0;
}

char *ctl_format_pt_grid(const struct neo_list_list_cell *rows,
			 const struct neo_list_node_info *storages)
{
	struct grid g = { 0 };
	struct text t = { 0 };
	char nid[32];
	int width;

	if (grid_build(&g, rows, storages) < 0) {
		grid_free(&g);
		return NULL;
	}
	if (g.count == 0) {
		grid_free(&g);
		return text_finish(&t);
	}
	/* As upstream: the width of the last (highest) id, and above the
	 * cells a 'v' over every tenth partition when there are more than 10. */
	width = (int)strlen(neo_nid_format(g.lines[g.count - 1].nid, nid, sizeof nid));
	if (g.np > 10) {
		text_add(&t, "%*s", width + 4, "");
		for (uint32_t x = 10; x < g.np; x += 10)
			text_add(&t, "%9uv", x);
		text_add(&t, "\n");
	}
	for (size_t i = 0; i < g.count; i++)
		text_add(&t, "%s%-*s %c %s", i ? "\n" : "", width,
			 neo_nid_format(g.lines[i].nid, nid, sizeof nid), g.lines[i].state,
			 g.lines[i].cells);
	grid_free(&g);
	return text_finish(&t);
}

char *ctl_format_pt_rows(const struct neo_list_list_cell *rows, int64_t first_offset)
{
	struct text t = { 0 };
	char nid[32];

	for (uint32_t p = 0; p < rows->count; p++) {
		text_add(&t, "%s%03lld |", p ? "\n" : "", (long long)(first_offset + p));
		for (uint32_t k = 0; k < rows->items[p].count; k++) {
			const struct neo_cell *cell = &rows->items[p].items[k];

			text_add(&t, " %s - %s |", neo_nid_format(cell->uuid, nid, sizeof nid),
				 enum_name(NEO_ENUM_CELL_STATES, cell->state));
		}
	}
	return text_finish(&t);
}

/* --- Monitoring summary ------------------------------------------------------- */

static void json_string(struct text *t, struct neo_bin s)
{
	text_add(t, "\"");
	for (uint32_t i = 0; i < s.size; i++) {
		unsigned char c = s.data[i];

		if (c == '"' || c == '\\')
			text_add(t, "\\%c", c);
		else if (c < 0x20)
			text_add(t, "\\u%04x", c);
		else
			text_addn(t, (const char *)&c, 1);
	}
	text_add(t, "\"");
}

static void json_names(struct text *t, const char *key, const struct neo_list_opt_bin *names,
		       bool first)
{
	text_add(t, "%s\"%s\": [", first ? "" : ", ", key);
	for (uint32_t i = 0; i < names->count; i++) {
		if (i)
			text_add(t, ", ");
		if (names->items[i].has)
			json_string(t, names->items[i].v);
		else
			text_add(t, "null");
	}
	text_add(t, "]");
}

char *ctl_format_summary(const struct neo_answer_monitor_information *info)
{
	struct text t = { 0 };

	/* As upstream: json.dumps of the non-empty severities. */
	text_add(&t, "# {");
	if (info->primary_masters.count)
		json_names(&t, "warning", &info->primary_masters, true);
	if (info->backup_states.count)
		json_names(&t, "problem", &info->backup_states, info->primary_masters.count == 0);
	text_add(&t, "}\n");
	text_bin(&t, info->name);
	return text_finish(&t);
}

/* --- Sessions ----------------------------------------------------------------- */

/* As upstream: AnswerLastIDs carries (last tid, last oid, first tid). */
static struct neo_opt_p64 last_ids_tid(const struct neo_answer_last_ids *ids)
{
	return ids->last_tid;
}

static struct neo_opt_p64 last_ids_oid(const struct neo_answer_last_ids *ids)
{
	return ids->last_oid;
}

void ctl_session_init(struct ctl_session *s, struct ctl_command *cmd)
{
	memset(s, 0, sizeof *s);
	s->cmd = *cmd;
	memset(cmd, 0, sizeof *cmd);
}

void ctl_session_free(struct ctl_session *s)
{
	ctl_command_free(&s->cmd);
	neo_free(s->uuids);
	neo_free(s->check_keys);
	neo_free(s->check_values);
	neo_packet_release(&s->kept);
	neo_free(s->output);
	memset(s, 0, sizeof *s);
}

static enum ctl_step ask(struct ctl_request *req, uint16_t code, const void *args)
{
	req->code = code;
	req->args = args;
	return CTL_STEP_ASK;
}

static enum ctl_step fail(struct ctl_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static enum ctl_step fail(struct ctl_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->error, sizeof s->error, fmt, ap);
	va_end(ap);
	return CTL_STEP_FAILED;
}

/* Ends with output (NULL: out of memory, reported as such). */
static enum ctl_step done(struct ctl_session *s, char *output)
{
	if (output == NULL)
		return fail(s, "neoctl: out of memory");
	neo_free(s->output);
	s->output = output;
	return CTL_STEP_DONE;
}

/* Ends printing nothing (upstream's commands that return None). */
static enum ctl_step done_silently(struct ctl_session *s)
{
	neo_free(s->output);
	s->output = NULL;
	return CTL_STEP_DONE;
}

static enum ctl_step done_bin(struct ctl_session *s, struct neo_bin text)
{
	struct text t = { 0 };

	text_bin(&t, text);
	return done(s, text_finish(&t));
}

static enum ctl_step ask_storages(struct ctl_session *s, struct ctl_request *req)
{
	s->args.node_list.node_type.has = true;
	s->args.node_list.node_type.v = NEO_NODE_STORAGE;
	return ask(req, NEO_ASK_NODE_LIST, &s->args.node_list);
}

/* add / prune_orphan with the nodes of the command. */
static enum ctl_step ask_with_nodes(struct ctl_session *s, struct ctl_request *req,
				    const int32_t *nodes, size_t count)
{
	neo_free(s->uuids);
	s->uuids = neo_calloc(count + 1, sizeof *s->uuids);
	if (s->uuids == NULL)
		return fail(s, "neoctl: out of memory");
	for (size_t i = 0; i < count; i++)
		s->uuids[i] = nodes[i];
	s->stage = 1;
	if (s->cmd.kind == CTL_ADD) {
		s->args.add.uuids.items = s->uuids;
		s->args.add.uuids.count = (uint32_t)count;
		return ask(req, NEO_ADD_PENDING_NODES, &s->args.add);
	}
	s->args.repair.uuids.items = s->uuids;
	s->args.repair.uuids.count = (uint32_t)count;
	s->args.repair.dry_run = s->cmd.dry_run;
	return ask(req, NEO_REPAIR, &s->args.repair);
}

/* As upstream's _getStorageList: `all` is every storage listed. */
static enum ctl_step ask_with_storages(struct ctl_session *s, struct ctl_request *req,
				       const struct neo_answer_node_list *list)
{
	int32_t *nodes = neo_calloc(list->nodes.count + 1, sizeof *nodes);
	size_t count = 0;
	enum ctl_step step;

	if (nodes == NULL)
		return fail(s, "neoctl: out of memory");
	for (uint32_t i = 0; i < list->nodes.count; i++)
		if (list->nodes.items[i].uuid.has)
			nodes[count++] = (int32_t)list->nodes.items[i].uuid.v;
	step = ask_with_nodes(s, req, nodes, count);
	neo_free(nodes);
	return step;
}

static void check_map_add(struct ctl_session *s, int64_t partition, bool has_source,
			  int32_t source)
{
	struct neo_map_int_opt_int *map = &s->args.check.partitions;
	uint32_t i;

	/* As upstream's dict: a later entry for a partition wins. */
	for (i = 0; i < map->count && s->check_keys[i] != partition; i++)
		;
	s->check_keys[i] = partition;
	s->check_values[i].has = has_source;
	s->check_values[i].v = source;
	if (i == map->count)
		map->count++;
}

static enum ctl_step ask_check(struct ctl_session *s, struct ctl_request *req, uint32_t np)
{
	const struct ctl_command *c = &s->cmd;
	size_t room = c->check_count + (c->check_every_partition ? np : 0) + 1;
	struct neo_check_replicas *check = &s->args.check;

	s->check_keys = neo_calloc(room, sizeof *s->check_keys);
	s->check_values = neo_calloc(room, sizeof *s->check_values);
	if (s->check_keys == NULL || s->check_values == NULL)
		return fail(s, "neoctl: out of memory");
	memset(check, 0, sizeof *check);
	check->partitions.keys = s->check_keys;
	check->partitions.values = s->check_values;
	for (uint32_t p = 0; c->check_every_partition && p < np; p++)
		check_map_add(s, p, c->every_has_source, c->every_source);
	for (size_t i = 0; i < c->check_count; i++)
		check_map_add(s, c->checks[i].partition, c->checks[i].has_source,
			      c->checks[i].source);
	check->min_tid = c->min_tid;
	/* max_tid travels untyped: nil, or a p64 (as upstream). */
	check->max_tid.type = MSGPACK_OBJECT_NIL;
	if (c->has_max_tid) {
		neo_p64_write(c->max_tid, s->max_tid_bytes);
		check->max_tid.type = MSGPACK_OBJECT_BIN;
		check->max_tid.via.bin.ptr = (const char *)s->max_tid_bytes;
		check->max_tid.via.bin.size = 8;
	}
	s->stage = 1;
	return ask(req, NEO_CHECK_REPLICAS, check);
}

static enum ctl_step ask_tweak(struct ctl_session *s, struct ctl_request *req)
{
	const struct ctl_command *c = &s->cmd;

	s->uuids = neo_calloc(c->node_count + 1, sizeof *s->uuids);
	if (s->uuids == NULL)
		return fail(s, "neoctl: out of memory");
	for (size_t i = 0; i < c->node_count; i++)
		s->uuids[i] = c->nodes[i];
	s->args.tweak.dry_run = c->dry_run;
	s->args.tweak.excluded_uuids.items = s->uuids;
	s->args.tweak.excluded_uuids.count = (uint32_t)c->node_count;
	return ask(req, NEO_TWEAK_PARTITION_TABLE, &s->args.tweak);
}

enum ctl_step ctl_session_start(struct ctl_session *s, struct ctl_request *req)
{
	struct ctl_command *c = &s->cmd;
	union ctl_args *a = &s->args;

	s->stage = 0;
	switch (c->kind) {
	case CTL_PRINT_IDS:
		return ask(req, NEO_ASK_RECOVERY, NULL);
	case CTL_PRINT_PT:
		a->partition_list.min_offset = c->min_offset;
		a->partition_list.max_offset = c->max_offset;
		a->partition_list.uuid.has = c->has_node;
		a->partition_list.uuid.v = c->node;
		return ask(req, NEO_ASK_PARTITION_LIST, &a->partition_list);
	case CTL_PRINT_NODE:
		a->node_list.node_type.has = c->has_node_type;
		a->node_list.node_type.v = c->node_type;
		return ask(req, NEO_ASK_NODE_LIST, &a->node_list);
	case CTL_PRINT_CLUSTER:
		return ask(req, NEO_ASK_CLUSTER_STATE, NULL);
	case CTL_PRINT_PRIMARY:
		return ask(req, NEO_ASK_PRIMARY, NULL);
	case CTL_PRINT_SUMMARY:
		return ask(req, NEO_ASK_MONITOR_INFORMATION, NULL);
	case CTL_SET_CLUSTER:
	case CTL_START:
		a->cluster_state.state = c->cluster_state;
		return ask(req, NEO_SET_CLUSTER_STATE, &a->cluster_state);
	case CTL_SET_REPLICAS:
		a->replicas.num_replicas = c->replicas;
		return ask(req, NEO_SET_NUM_REPLICAS, &a->replicas);
	case CTL_CHECK:
		if (!c->check_every_partition)
			return ask_check(s, req, 0);
		/* As upstream: the number of partitions from the table. */
		memset(&a->partition_list, 0, sizeof a->partition_list);
		return ask(req, NEO_ASK_PARTITION_LIST, &a->partition_list);
	case CTL_ADD:
	case CTL_PRUNE_ORPHAN:
		if (c->all_storages)
			return ask_storages(s, req);
		return ask_with_nodes(s, req, c->nodes, c->node_count);
	case CTL_TWEAK:
		return ask_tweak(s, req);
	case CTL_DROP:
	case CTL_KILL:
		a->node_state.uuid = c->node;
		a->node_state.state = c->kind == CTL_DROP ? NEO_NODE_UNKNOWN : NEO_NODE_DOWN;
		return ask(req, NEO_SET_NODE_STATE, &a->node_state);
	case CTL_TRUNCATE:
		a->truncate.tid = c->min_tid;
		return ask(req, NEO_TRUNCATE, &a->truncate);
	case CTL_FLUSH_LOG:
		req->code = NEO_FLUSH_LOG;
		req->args = NULL;
		return CTL_STEP_NOTIFY;
	}
	return fail(s, "neoctl: unknown command");
}

/* Requests answered by Error(ACK, message) when they succeed. */
static bool acked_request(const struct ctl_session *s)
{
	switch (s->cmd.kind) {
	case CTL_SET_CLUSTER:
	case CTL_START:
	case CTL_SET_REPLICAS:
	case CTL_DROP:
	case CTL_KILL:
	case CTL_TRUNCATE:
		return true;
	case CTL_ADD:
	case CTL_PRUNE_ORPHAN:
	case CTL_CHECK:
		return s->stage == 1;
	default:
		return false;
	}
}

static enum ctl_step on_ack(struct ctl_session *s, struct neo_bin message)
{
	/* As upstream: truncate and check print nothing, the others the text;
	 * but a check's Ack is printed when it says something (which
	 * partitions were skipped: upstream's master never does). */
	if (s->cmd.kind == CTL_TRUNCATE || (s->cmd.kind == CTL_CHECK && message.size == 0))
		return done_silently(s);
	return done_bin(s, message);
}

static enum ctl_step unexpected(struct ctl_session *s, const struct neo_packet *answer)
{
	if (answer->code == NEO_ERROR) {
		const struct neo_error *e = answer->args;
		const char *code = neo_enum_name(NEO_ENUM_ERROR_CODES, (int)e->code);

		return fail(s, "RuntimeError: (Error, %s, '%.*s')", code ? code : "?",
			    (int)e->message.size, (const char *)e->message.data);
	}
	return fail(s, "RuntimeError: unexpected answer %s",
		    answer->type ? answer->type->name : "?");
}

/* Error answers, as upstream's neoctl: DENIED prints its message,
 * NOT_READY "ERROR: ...", an ACK is the success of acked requests. */
static enum ctl_step on_error(struct ctl_session *s, const struct neo_packet *answer)
{
	const struct neo_error *e = answer->args;

	if (e->code == NEO_ERROR_DENIED)
		return fail(s, "%.*s", (int)e->message.size, (const char *)e->message.data);
	if (e->code == NEO_ERROR_NOT_READY)
		return fail(s, "ERROR: %.*s", (int)e->message.size, (const char *)e->message.data);
	if (e->code == NEO_ERROR_ACK && acked_request(s))
		return on_ack(s, e->message);
	return unexpected(s, answer);
}

static enum ctl_step feed_ids(struct ctl_session *s, struct neo_packet *answer,
			      struct ctl_request *req)
{
	const struct neo_answer_recovery *recovery;
	struct text t = { 0 };
	char when[64];
	uint64_t ltid;

	if (s->stage == 0) {
		if (answer->code != NEO_ANSWER_RECOVERY)
			return unexpected(s, answer);
		neo_packet_take(answer, &s->kept);
		recovery = s->kept.args;
		s->stage = 1;
		/* As upstream: in backup mode the backup tid replaces the last oid. */
		if (recovery->backup_tid.has)
			return ask(req, NEO_ASK_LAST_TRANSACTION, NULL);
		return ask(req, NEO_ASK_LAST_IDS, NULL);
	}
	recovery = s->kept.args;
	if (recovery->backup_tid.has) {
		if (answer->code != NEO_ANSWER_LAST_TRANSACTION)
			return unexpected(s, answer);
		ltid = ((const struct neo_answer_last_transaction *)answer->args)->tid;
		text_add(&t, "backup_tid = 0x%llx (%s)", (unsigned long long)recovery->backup_tid.v,
			 neo_tid_format_datetime(recovery->backup_tid.v, when, sizeof when));
	} else {
		const struct neo_answer_last_ids *ids = answer->args;
		struct neo_opt_p64 loid;

		if (answer->code != NEO_ANSWER_LAST_IDS)
			return unexpected(s, answer);
		loid = last_ids_oid(ids);
		/* None (upstream would fail on it) reads as the zero tid. */
		ltid = last_ids_tid(ids).has ? last_ids_tid(ids).v : 0;
		if (loid.has)
			text_add(&t, "last_oid = 0x%llx", (unsigned long long)loid.v);
		else
			text_add(&t, "last_oid = None");
	}
	text_add(&t, "\nlast_tid = 0x%llx (%s)\n", (unsigned long long)ltid,
		 neo_tid_format_datetime(ltid, when, sizeof when));
	if (recovery->ptid.has)
		text_add(&t, "last_ptid = %lld", (long long)recovery->ptid.v);
	else
		text_add(&t, "last_ptid = None");
	return done(s, text_finish(&t));
}

/* "# ptid: N, replicas: R\n" then what follows (which may be NULL). */
static enum ctl_step done_pt(struct ctl_session *s, const struct neo_answer_partition_list *pt,
			     char *body)
{
	struct text t = { 0 };

	if (body == NULL)
		return done(s, NULL);
	if (pt->ptid.has)
		text_add(&t, "# ptid: %lld, replicas: %lld\n%s", (long long)pt->ptid.v,
			 (long long)pt->num_replicas, body);
	else
		text_add(&t, "# ptid: None, replicas: %lld\n%s", (long long)pt->num_replicas, body);
	neo_free(body);
	return done(s, text_finish(&t));
}

static enum ctl_step feed_pt(struct ctl_session *s, struct neo_packet *answer,
			     struct ctl_request *req)
{
	const struct neo_answer_partition_list *pt;

	if (s->stage == 0) {
		if (answer->code != NEO_ANSWER_PARTITION_LIST)
			return unexpected(s, answer);
		pt = answer->args;
		if (s->cmd.min_offset || s->cmd.max_offset)
			return done_pt(s, pt, ctl_format_pt_rows(&pt->rows, s->cmd.min_offset));
		/* The grid shows node states: ask the storages. */
		neo_packet_take(answer, &s->kept);
		s->stage = 1;
		return ask_storages(s, req);
	}
	if (answer->code != NEO_ANSWER_NODE_LIST)
		return unexpected(s, answer);
	pt = s->kept.args;
	return done_pt(s, pt, ctl_format_pt_grid(&pt->rows,
		&((const struct neo_answer_node_list *)answer->args)->nodes));
}

static enum ctl_step feed_tweak(struct ctl_session *s, struct neo_packet *answer,
				struct ctl_request *req)
{
	const struct neo_answer_tweak_partition_table *tweak;

	if (s->stage == 0) {
		if (answer->code != NEO_ANSWER_TWEAK_PARTITION_TABLE)
			return unexpected(s, answer);
		tweak = answer->args;
		if (!tweak->changed)
			return done(s, neo_strdup("No change done."));
		neo_packet_take(answer, &s->kept);
		s->stage = 1;
		return ask_storages(s, req);
	}
	if (answer->code != NEO_ANSWER_NODE_LIST)
		return unexpected(s, answer);
	tweak = s->kept.args;
	return done(s, ctl_format_pt_grid(&tweak->rows,
		&((const struct neo_answer_node_list *)answer->args)->nodes));
}

/* The summary, then (ours) the table for the cells still to catch up. */
static enum ctl_step feed_summary(struct ctl_session *s, struct neo_packet *answer,
				  struct ctl_request *req)
{
	const struct neo_answer_partition_list *pt = answer->args;
	char *summary, *replication;
	struct text t = { 0 };

	if (s->stage == 0) {
		if (answer->code != NEO_ANSWER_MONITOR_INFORMATION)
			return unexpected(s, answer);
		neo_packet_take(answer, &s->kept);
		s->stage = 1;
		memset(&s->args.partition_list, 0, sizeof s->args.partition_list);
		return ask(req, NEO_ASK_PARTITION_LIST, &s->args.partition_list);
	}
	summary = ctl_format_summary(s->kept.args);
	/* No table (not yet, or an error): upstream's summary alone. */
	if (answer->code != NEO_ANSWER_PARTITION_LIST || summary == NULL)
		return done(s, summary);
	replication = ctl_format_replication(&pt->rows, s->watch);
	if (replication == NULL || *replication == '\0') {
		neo_free(replication);
		return done(s, summary);
	}
	text_add(&t, "%s\n%s", summary, replication);
	neo_free(summary);
	neo_free(replication);
	return done(s, text_finish(&t));
}

/* Commands answered by one packet of the expected code. */
static enum ctl_step feed_single(struct ctl_session *s, struct neo_packet *answer)
{
	char nid[32];

	switch (s->cmd.kind) {
	case CTL_PRINT_NODE:
		if (answer->code != NEO_ANSWER_NODE_LIST)
			break;
		return done(s, ctl_format_node_list(
			&((const struct neo_answer_node_list *)answer->args)->nodes));
	case CTL_PRINT_CLUSTER: {
		const struct neo_answer_cluster_state *state = answer->args;

		if (answer->code != NEO_ANSWER_CLUSTER_STATE)
			break;
		return done(s, neo_strdup(!state->state.has ? "None"
					  : enum_name(NEO_ENUM_CLUSTER_STATES, state->state.v)));
	}
	case CTL_PRINT_PRIMARY:
		if (answer->code != NEO_ANSWER_PRIMARY)
			break;
		return done(s, neo_strdup(neo_nid_format(
			((const struct neo_answer_primary *)answer->args)->primary_uuid, nid,
			sizeof nid)));
	default:
		break;
	}
	return unexpected(s, answer);
}

enum ctl_step ctl_session_feed(struct ctl_session *s, struct neo_packet *answer,
			       struct ctl_request *req)
{
	if (s->cmd.kind == CTL_PRINT_SUMMARY && s->stage == 1)
		return feed_summary(s, answer, req);
	if (answer->code == NEO_ERROR)
		return on_error(s, answer);
	switch (s->cmd.kind) {
	case CTL_PRINT_SUMMARY:
		return feed_summary(s, answer, req);
	case CTL_PRINT_IDS:
		return feed_ids(s, answer, req);
	case CTL_PRINT_PT:
		return feed_pt(s, answer, req);
	case CTL_TWEAK:
		return feed_tweak(s, answer, req);
	case CTL_ADD:
	case CTL_PRUNE_ORPHAN:
		if (s->stage == 0 && answer->code == NEO_ANSWER_NODE_LIST)
			return ask_with_storages(s, req, answer->args);
		return unexpected(s, answer);
	case CTL_CHECK:
		if (s->stage == 0 && answer->code == NEO_ANSWER_PARTITION_LIST)
			return ask_check(s, req, ((const struct neo_answer_partition_list *)
						  answer->args)->rows.count);
		return unexpected(s, answer);
	default:
		return feed_single(s, answer);
	}
}

enum ctl_step ctl_session_lost(struct ctl_session *s, const char *why)
{
	/* As upstream's NotReadyException. */
	return fail(s, "ERROR: %s", why);
}
