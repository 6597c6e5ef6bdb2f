/*
 * ctl/ctl.h - what neoctl does, without any I/O: the command words become a
 * short plan of requests to the admin node, and the answers become the
 * text upstream's neoctl prints (neo/neoctl/app.py).  ctl/main.c only
 * carries packets and prints.
 *
 * A session runs one command.  ctl_session_start gives the first request;
 * each answer fed to ctl_session_feed gives either the next request (some
 * commands need two: `print pt` asks the storage list to draw its grid,
 * `add all` asks which storages exist, ...) or the end: output for stdout
 * on success, or an error text for stderr and an exit status.
 *
 * Promises:
 *   - parsing never touches the network and refuses bad words with a
 *     message (as upstream's where upstream has one);
 *   - output follows upstream byte for byte where upstream is defined:
 *     `print node` columns, the partition table grid with its `v` header,
 *     `print ids`, Ack texts printed as they come; `print summary` adds
 *     the cells still to catch up when there are some (ctl/progress.h),
 *     for which it asks the partition table after the summary;
 *   - errors follow upstream's neoctl: DENIED prints its message,
 *     NOT_READY and a lost connection print "ERROR: <message>", anything
 *     else unexpected prints "RuntimeError: ..."; all exit 1.
 *
 * Ownership: a parsed command owns its node lists; the session takes the
 * command over, keeps answers it still needs (neo_packet_take), and frees
 * everything in ctl_session_free.  Request args point into the session and
 * stay valid until the next call on it.
 */
#ifndef NEO_CTL_H
#define NEO_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ctl/progress.h"
#include "proto/enums.h"
#include "proto/packet.h"

enum ctl_kind {
	CTL_PRINT_IDS,
	CTL_PRINT_PT,
	CTL_PRINT_NODE,
	CTL_PRINT_CLUSTER,
	CTL_PRINT_PRIMARY,
	CTL_PRINT_SUMMARY,
	CTL_SET_CLUSTER,
	CTL_SET_REPLICAS,
	CTL_CHECK,
	CTL_START,
	CTL_ADD,
	CTL_TWEAK,
	CTL_DROP,
	CTL_KILL,
	CTL_PRUNE_ORPHAN,
	CTL_TRUNCATE,
	CTL_FLUSH_LOG
};

/* One `check` partition: PARTITION:[REF]. */
struct ctl_check_item {
	int64_t partition;
	bool has_source;
	int32_t source;
};

struct ctl_command {
	enum ctl_kind kind;

	/* print node [TYPE] */
	bool has_node_type;
	enum neo_node_type node_type;

	/* print pt [MIN [MAX [NODE]]]; the one NODE of drop and kill */
	int64_t min_offset, max_offset;
	bool has_node;
	int32_t node;

	enum neo_cluster_state cluster_state;	/* set cluster, start */
	int64_t replicas;			/* set replicas */

	/* add, tweak, prune_orphan: NODE... or `all` (the storage list) */
	bool all_storages;
	int32_t *nodes;
	size_t node_count;
	bool dry_run;				/* tweak -n, prune_orphan 1 */

	/* check: PARTITION:[REF]...; ":REF" means every partition */
	struct ctl_check_item *checks;
	size_t check_count;
	bool check_every_partition;
	bool every_has_source;
	int32_t every_source;
	uint64_t min_tid;			/* check; also the TID of truncate */
	bool has_max_tid;
	uint64_t max_tid;
};

enum ctl_parse_result {
	CTL_PARSE_OK = 0,
	CTL_PARSE_HELP = 1,	/* no command: print the command list (ctl_usage) */
	CTL_PARSE_ERROR = -1	/* err says why */
};

/* The command words (what follows neoctl's options). */
enum ctl_parse_result ctl_parse(size_t argc, char *const argv[], struct ctl_command *cmd,
				char *err, size_t errlen)
	__attribute__((warn_unused_result));
void ctl_command_free(struct ctl_command *cmd);

/* The list of commands with their help, and the TID syntax. */
void ctl_usage(FILE *out);

/* TID arguments, as upstream: "tid:INT" (decimal, 0x, 0o, 0b) or a UNIX
 * time as a float.  Returns 0 or -1. */
int ctl_parse_tid(const char *text, uint64_t *tid);

/* --- Sessions ------------------------------------------------------------ */

struct ctl_request {
	uint16_t code;		/* a request, or NEO_FLUSH_LOG (a notification) */
	const void *args;	/* NULL when the packet has no arguments */
};

enum ctl_step {
	CTL_STEP_ASK,		/* send the request, feed its answer back */
	CTL_STEP_NOTIFY,	/* send the notification; then the command is done */
	CTL_STEP_DONE,		/* print output (when not NULL) and a newline; exit 0 */
	CTL_STEP_FAILED		/* print error and a newline on stderr; exit 1 */
};

union ctl_args {
	struct neo_ask_node_list node_list;
	struct neo_ask_partition_list partition_list;
	struct neo_set_cluster_state cluster_state;
	struct neo_set_num_replicas replicas;
	struct neo_add_pending_nodes add;
	struct neo_tweak_partition_table tweak;
	struct neo_set_node_state node_state;
	struct neo_repair repair;
	struct neo_truncate truncate;
	struct neo_check_replicas check;
};

struct ctl_session {
	struct ctl_command cmd;
	int stage;			/* which request of the plan is out */
	union ctl_args args;		/* the arguments of the request out */
	int64_t *uuids;			/* node lists sent on the wire */
	int64_t *check_keys;
	struct neo_opt_int *check_values;
	uint8_t max_tid_bytes[8];
	struct neo_packet kept;		/* an earlier answer the output needs */
	struct neo_opt_int ptid;	/* print ids: from AnswerRecovery */
	struct ctl_watch *watch;	/* neoctl -w (borrowed), or NULL */
	char *output;			/* CTL_STEP_DONE: malloc'ed, or NULL */
	char error[1024];		/* CTL_STEP_FAILED */
};

/* Takes cmd over (cmd is left empty). */
void ctl_session_init(struct ctl_session *s, struct ctl_command *cmd);
enum ctl_step ctl_session_start(struct ctl_session *s, struct ctl_request *req)
	__attribute__((warn_unused_result));
/* The answer to the request out; the session may take the packet. */
enum ctl_step ctl_session_feed(struct ctl_session *s, struct neo_packet *answer,
			       struct ctl_request *req)
	__attribute__((warn_unused_result));
/* The request got no answer (connection closed, timeout): why says so. */
enum ctl_step ctl_session_lost(struct ctl_session *s, const char *why)
	__attribute__((warn_unused_result));
void ctl_session_free(struct ctl_session *s);

/* --- Formatting (each returns a malloc'ed string, NULL on ENOMEM) ------- */

/* `print node`: upstream's formatNodeList, or "Empty list!". */
char *ctl_format_node_list(const struct neo_list_node_info *nodes);
/* The compact grid (upstream's PartitionTable._format without "pt: "):
 * storages gives the node states; RUNNING ones show even without cells. */
char *ctl_format_pt_grid(const struct neo_list_list_cell *rows,
			 const struct neo_list_node_info *storages);
/* `print pt MIN MAX`: one "NNN | S1 - UP_TO_DATE |" line per row. */
char *ctl_format_pt_rows(const struct neo_list_list_cell *rows, int64_t first_offset);
/* `print summary`: "# {json}" then the summary text. */
char *ctl_format_summary(const struct neo_answer_monitor_information *info);

/* str(datetime.utcfromtimestamp(t)): "2026-11-25 12:00:00[.123456]". */
const char *ctl_format_utc(double t, char *buf, size_t buflen);

#endif
