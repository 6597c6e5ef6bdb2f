/*
 * test_ctl.c - neoctl without a network: every command parsed into its
 * requests, and every answer shape turned into upstream's text (expected
 * strings worked out with upstream's formatting rules).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/nid.h"
#include "cluster/tid.h"
#include "ctl/ctl.h"
#include "tap.h"

static struct ctl_command cmd;
static char err[512];

/* Splits line on spaces into words and parses them. */
static enum ctl_parse_result parse(const char *line)
{
	static char copy[512];
	char *argv[32];
	size_t argc = 0;

	snprintf(copy, sizeof copy, "%s", line);
	for (char *w = strtok(copy, " "); w && argc < 31; w = strtok(NULL, " "))
		argv[argc++] = w;
	argv[argc] = NULL;
	err[0] = '\0';
	return ctl_parse(argc, argv, &cmd, err, sizeof err);
}

static bool parses(const char *line, enum ctl_kind kind)
{
	bool ok = parse(line) == CTL_PARSE_OK && cmd.kind == kind;

	if (!ok)
		tap_diag("'%s': %s", line, err);
	return ok;
}

static void expect_refused(const char *line, const char *want)
{
	enum ctl_parse_result r = parse(line);

	if (!tap_ok(r == CTL_PARSE_ERROR && strstr(err, want) != NULL, "refused: '%s'", line))
		tap_diag("got %d '%s', wanted '%s'", r, err, want);
	if (r == CTL_PARSE_OK)
		ctl_command_free(&cmd);
}

static int32_t storage(uint32_t n)
{
	return neo_nid_make(NEO_NODE_STORAGE, n);
}

/* --- Parsing ------------------------------------------------------------------- */

static void test_parse_print(void)
{
	tap_ok(parse("") == CTL_PARSE_HELP, "no command: the command list");
	tap_ok(parses("print ids", CTL_PRINT_IDS), "print ids");
	tap_ok(parses("print cluster", CTL_PRINT_CLUSTER), "print cluster");
	tap_ok(parses("print summary", CTL_PRINT_SUMMARY), "print summary");
	tap_ok(parses("print primary whatever", CTL_PRINT_PRIMARY),
	       "print primary ignores its arguments, as upstream");
	tap_ok(parses("print node", CTL_PRINT_NODE) && !cmd.has_node_type, "print node");
	tap_ok(parses("print node Storage", CTL_PRINT_NODE) && cmd.has_node_type
	       && cmd.node_type == NEO_NODE_STORAGE, "print node Storage (any case)");
	tap_ok(parses("print node admin", CTL_PRINT_NODE) && cmd.node_type == NEO_NODE_ADMIN,
	       "print node admin");
	tap_ok(parses("print pt", CTL_PRINT_PT) && cmd.min_offset == 0 && cmd.max_offset == 0
	       && !cmd.has_node, "print pt");
	tap_ok(parses("print pt 3", CTL_PRINT_PT) && cmd.min_offset == 3 && cmd.max_offset == 0,
	       "print pt MIN");
	tap_ok(parses("print pt 2 7 S3", CTL_PRINT_PT) && cmd.min_offset == 2
	       && cmd.max_offset == 7 && cmd.has_node && cmd.node == storage(3),
	       "print pt MIN MAX NODE");
	expect_refused("print", "invalid command: print");
	expect_refused("print foo", "invalid command: print foo");
	expect_refused("print node spaceship", "unknown node type");
	expect_refused("print node storage master", "unexpected argument");
	expect_refused("print pt x", "invalid partition offset");
	expect_refused("print pt 1 2 S1 4", "unexpected argument");
	expect_refused("print pt 0 0 Q1", "invalid node id");
	expect_refused("print ids now", "print ids: unexpected argument 'now'");
	expect_refused("frobnicate all", "invalid command: frobnicate all");
}

static void test_parse_changes(void)
{
	tap_ok(parses("set cluster stopping", CTL_SET_CLUSTER)
	       && cmd.cluster_state == NEO_CLUSTER_STOPPING, "set cluster stopping");
	tap_ok(parses("set cluster STARTING_BACKUP", CTL_SET_CLUSTER)
	       && cmd.cluster_state == NEO_CLUSTER_STARTING_BACKUP, "set cluster STARTING_BACKUP");
	tap_ok(parses("set replicas 2", CTL_SET_REPLICAS) && cmd.replicas == 2, "set replicas 2");
	tap_ok(parses("start", CTL_START) && cmd.cluster_state == NEO_CLUSTER_VERIFYING,
	       "start is set cluster VERIFYING");
	tap_ok(parses("add all", CTL_ADD) && cmd.all_storages && cmd.node_count == 0, "add all");
	tap_ok(parses("add S2 S3", CTL_ADD) && !cmd.all_storages && cmd.node_count == 2
	       && cmd.nodes[0] == storage(2) && cmd.nodes[1] == storage(3), "add S2 S3");
	ctl_command_free(&cmd);
	tap_ok(parses("tweak", CTL_TWEAK) && !cmd.dry_run && cmd.node_count == 0, "tweak");
	ctl_command_free(&cmd);
	tap_ok(parses("tweak -n S1", CTL_TWEAK) && cmd.dry_run && cmd.node_count == 1
	       && cmd.nodes[0] == storage(1), "tweak -n S1");
	ctl_command_free(&cmd);
	tap_ok(parses("drop S4", CTL_DROP) && cmd.node == storage(4), "drop S4");
	tap_ok(parses("kill M2", CTL_KILL) && cmd.node == neo_nid_make(NEO_NODE_MASTER, 2),
	       "kill M2");
	tap_ok(parses("prune_orphan 1 all", CTL_PRUNE_ORPHAN) && cmd.dry_run && cmd.all_storages,
	       "prune_orphan 1 all");
	tap_ok(parses("prune_orphan 0 S1 S2", CTL_PRUNE_ORPHAN) && !cmd.dry_run
	       && cmd.node_count == 2, "prune_orphan 0 S1 S2");
	ctl_command_free(&cmd);
	tap_ok(parses("truncate tid:0x3937af2eeeeeeee", CTL_TRUNCATE)
	       && cmd.min_tid == 0x3937af2eeeeeeeeULL, "truncate tid:0x...");
	tap_ok(parses("flush_log", CTL_FLUSH_LOG), "flush_log");
	expect_refused("set", "invalid command: set");
	expect_refused("set cluster", "expected one cluster state");
	expect_refused("set cluster DANCING", "unknown cluster state");
	expect_refused("set replicas -1", "invalid number of replicas");
	expect_refused("set replicas many", "invalid number");
	expect_refused("start now", "unexpected argument");
	expect_refused("add S1 all", "invalid node id 'all'");
	/* upstream sends an empty list, which adds nothing */
	expect_refused("add", "add: expected all or node ids");
	expect_refused("prune_orphan 1", "prune_orphan: expected all or node ids");
	expect_refused("set replicas 99999999999999999999", "invalid number");
	expect_refused("set replicas 1 2", "expected a number of replicas");
	expect_refused("set replicas", "expected a number of replicas");
	expect_refused("drop", "expected one node id");
	expect_refused("kill S1 S2", "expected one node id");
	expect_refused("prune_orphan 2 all", "expected 0 or 1");
	expect_refused("prune_orphan", "expected 0 or 1");
	expect_refused("truncate", "expected one TID");
	expect_refused("truncate yesterday", "invalid TID");
	expect_refused("flush_log please", "unexpected argument");
}

static void test_parse_check(void)
{
	/* upstream sends an empty request (nothing checked, exit 0): refused */
	expect_refused("check", "check: no partition given (PARTITION:[REF] for one, "
		       "':' or ':REF' for every partition)");
	expect_refused("check tid:5", "no partition given");
	expect_refused("check tid:5 tid:9", "no partition given");
	tap_ok(parses("check :", CTL_CHECK) && cmd.check_every_partition && !cmd.every_has_source
	       && cmd.check_count == 0, "check : is every partition");
	ctl_command_free(&cmd);
	tap_ok(parses("check 0: tid:5 tid:5", CTL_CHECK) && cmd.min_tid == 5 && cmd.max_tid == 5,
	       "check with MIN_TID == MAX_TID");
	ctl_command_free(&cmd);
	expect_refused("check 0: tid:9 tid:5", "check: MIN_TID is after MAX_TID: nothing to check");
	expect_refused("check : 1325421296 1000000000", "MIN_TID is after MAX_TID");
	expect_refused("check -1:", "invalid partition in '-1:'");
	expect_refused("check 99999999999999999999:", "invalid partition");
	tap_ok(parses("check 1:S2 3:", CTL_CHECK) && cmd.check_count == 2
	       && cmd.checks[0].partition == 1 && cmd.checks[0].has_source
	       && cmd.checks[0].source == storage(2) && cmd.checks[1].partition == 3
	       && !cmd.checks[1].has_source, "check 1:S2 3:");
	ctl_command_free(&cmd);
	tap_ok(parses("check :S1 5: tid:10 tid:0x20", CTL_CHECK) && cmd.check_every_partition
	       && cmd.every_has_source && cmd.every_source == storage(1) && cmd.check_count == 1
	       && cmd.min_tid == 10 && cmd.has_max_tid && cmd.max_tid == 0x20,
	       "check :S1 5: MIN_TID MAX_TID");
	ctl_command_free(&cmd);
	tap_ok(parses("check : 1325421296", CTL_CHECK) && cmd.check_every_partition
	       && !cmd.every_has_source && cmd.min_tid == 0x3937af2eeeeeeeeULL && !cmd.has_max_tid,
	       "check : with a UNIX time");
	ctl_command_free(&cmd);
	expect_refused("check 1:S1 :S2", "must come before");
	expect_refused("check x:S1", "invalid partition");
	expect_refused("check 1:Z9", "invalid node id");
	expect_refused("check 1: tid:1 tid:2 tid:3", "unexpected argument");
	expect_refused("check tid:zz", "invalid TID");
}

static void test_tids(void)
{
	uint64_t tid = 0;
	char buf[64];

	tap_ok(ctl_parse_tid("tid:257684787499560686", &tid) == 0 && tid == 0x3937af2eeeeeeeeULL,
	       "tid:decimal");
	tap_ok(ctl_parse_tid("TID:0X3937AF2EEEEEEEE", &tid) == 0 && tid == 0x3937af2eeeeeeeeULL,
	       "TID:0X... in any case");
	tap_ok(ctl_parse_tid("tid:0b101", &tid) == 0 && tid == 5, "tid:0b101");
	tap_ok(ctl_parse_tid("tid:010", &tid) == -1, "tid:010 refused, as Python's int(x, 0)");
	tap_ok(ctl_parse_tid("tid:", &tid) == -1, "tid: with no number refused");
	tap_ok(ctl_parse_tid("tid:0x1ffffffffffffffff", &tid) == -1, "a tid over 64 bits refused");
	tap_ok(ctl_parse_tid("1325421296", &tid) == 0 && tid == 0x3937af2eeeeeeeeULL,
	       "a UNIX time (upstream's help example)");
	tap_ok(ctl_parse_tid("1325421296.5", &tid) == 0 && tid == 0x3937af2f1111111ULL,
	       "a UNIX time with a fraction");
	tap_ok(ctl_parse_tid("nan", &tid) == -1 && ctl_parse_tid("-5", &tid) == -1,
	       "nan and negative times refused");
	tap_ok(strcmp(neo_tid_format_datetime(0x3937af2eeeeeeeeULL, buf, sizeof buf),
		      "2012-01-01 12:34:55.999999") == 0, "datetimeFromTID truncates: %s", buf);
	tap_ok(strcmp(neo_tid_format_datetime(0x03f1b2c3d4e5f602ULL, buf, sizeof buf),
		      "2023-07-11 11:47:49.898035") == 0, "datetimeFromTID: %s", buf);
	tap_ok(strcmp(neo_tid_format_datetime(0, buf, sizeof buf), "1900-01-01 00:00:00") == 0,
	       "the zero tid, without microseconds: %s", buf);
	tap_ok(strcmp(ctl_format_utc(1700000000.123456, buf, sizeof buf),
		      "2023-11-14 22:13:20.123456") == 0, "utcfromtimestamp: %s", buf);
	tap_ok(strcmp(ctl_format_utc(12.0000005, buf, sizeof buf),
		      "1970-01-01 00:00:12.000001") == 0, "microseconds rounded: %s", buf);
	tap_ok(strcmp(ctl_format_utc(1.9999996, buf, sizeof buf), "1970-01-01 00:00:02") == 0,
	       "rounding carries into the seconds: %s", buf);
}

/* --- Answers, shapes --------------------------------------------------------------- */

static struct neo_wire_address wire(const char *host, int port)
{
	struct neo_wire_address a = { neo_bin_str(host), port };

	return a;
}

static void node(struct neo_node_info *n, enum neo_node_type type, int32_t nid, const char *host,
		 int port, enum neo_node_state state, bool has_ts, double ts)
{
	memset(n, 0, sizeof *n);
	n->type = type;
	n->uuid.has = nid != 0;
	n->uuid.v = nid;
	n->address.has = host != NULL;
	if (host)
		n->address.v = wire(host, port);
	n->state = state;
	n->id_timestamp.has = has_ts;
	n->id_timestamp.v = ts;
}

static void expect_text(char *got, const char *want, const char *what)
{
	if (!tap_ok(got && strcmp(got, want) == 0, "%s", what))
		tap_diag("got:\n%s\nwanted:\n%s", got ? got : "(null)", want);
	free(got);
}

static void test_node_list(void)
{
	struct neo_node_info n[5];
	struct neo_list_node_info list = { n, 5 };
	struct neo_list_node_info empty = { n, 0 };

	node(&n[0], NEO_NODE_STORAGE, storage(1), "127.0.0.1", 20201, NEO_NODE_RUNNING, true,
	     1700000000.5);
	node(&n[1], NEO_NODE_MASTER, neo_nid_make(NEO_NODE_MASTER, 1), "127.0.0.1", 10000,
	     NEO_NODE_RUNNING, false, 0);
	node(&n[2], NEO_NODE_CLIENT, neo_nid_make(NEO_NODE_CLIENT, 2), NULL, 0, NEO_NODE_RUNNING,
	     true, 12.0000005);
	node(&n[3], NEO_NODE_MASTER, 0, "::1", 10001, NEO_NODE_DOWN, false, 0);
	node(&n[4], NEO_NODE_ADMIN, neo_nid_make(NEO_NODE_ADMIN, 1), "127.0.0.1", 9999,
	     NEO_NODE_RUNNING, true, 0.0);
	expect_text(ctl_format_node_list(&list),
		    "A1   | ADMIN   | 127.0.0.1:9999  | RUNNING | 0.0\n"
		    "C2   | CLIENT  |                 | RUNNING | 1970-01-01 00:00:12.000001\n"
		    "M1   | MASTER  | 127.0.0.1:10000 | RUNNING | None\n"
		    "S1   | STORAGE | 127.0.0.1:20201 | RUNNING | 2023-11-14 22:13:20.500000\n"
		    "None | MASTER  | [::1]:10001     | DOWN    | None",
		    "node list: sorted by id, padded columns, IPv6, no address, no id");
	expect_text(ctl_format_node_list(&empty), "Empty list!", "empty node list");
}

/* Rows for a 12-partition table: S1..S3 with cells, S10 unknown. */
static struct neo_cell cells[12][2];
static struct neo_list_cell row_items[12];

static struct neo_list_list_cell sample_rows(void)
{
	struct neo_list_list_cell rows = { row_items, 12 };

	memset(cells, 0, sizeof cells);
	for (int p = 0; p < 12; p++) {
		row_items[p].items = cells[p];
		row_items[p].count = 1;
		cells[p][0] = (struct neo_cell){ storage(1), NEO_CELL_UP_TO_DATE };
	}
	cells[0][1] = (struct neo_cell){ storage(2), NEO_CELL_UP_TO_DATE };
	row_items[0].count = 2;
	cells[1][0] = (struct neo_cell){ storage(2), NEO_CELL_UP_TO_DATE };
	cells[1][1] = (struct neo_cell){ storage(3), NEO_CELL_OUT_OF_DATE };
	row_items[1].count = 2;
	cells[2][0] = (struct neo_cell){ storage(1), NEO_CELL_FEEDING };
	cells[2][1] = (struct neo_cell){ storage(3), NEO_CELL_CORRUPTED };
	row_items[2].count = 2;
	cells[11][1] = (struct neo_cell){ storage(10), NEO_CELL_OUT_OF_DATE };
	row_items[11].count = 2;
	return rows;
}

static struct neo_node_info storages[4];
static struct neo_list_node_info storage_list = { storages, 4 };

static void sample_storages(void)
{
	node(&storages[0], NEO_NODE_STORAGE, storage(1), "h", 1, NEO_NODE_RUNNING, false, 0);
	node(&storages[1], NEO_NODE_STORAGE, storage(2), "h", 2, NEO_NODE_RUNNING, false, 0);
	node(&storages[2], NEO_NODE_STORAGE, storage(3), "h", 3, NEO_NODE_DOWN, false, 0);
	node(&storages[3], NEO_NODE_STORAGE, storage(4), "h", 4, NEO_NODE_RUNNING, false, 0);
}

static const char sample_grid[] =
	"              10v\n"
	"S1  R U.FUUUUUUUUU\n"
	"S2  R UU..........\n"
	"S3  D .OC.........\n"
	"S4  R ............\n"
	"S10 U ...........O";

static void test_pt_shapes(void)
{
	struct neo_list_list_cell rows = sample_rows();
	struct neo_list_list_cell few = { row_items, 3 };
	struct neo_list_list_cell none = { row_items, 0 };
	struct neo_list_node_info no_storages = { storages, 0 };

	sample_storages();
	expect_text(ctl_format_pt_grid(&rows, &storage_list), sample_grid,
		    "pt grid: 'v' every 10 partitions above, RUNNING storages without cells, "
		    "a DOWN node, an unknown node, padded ids");
	expect_text(ctl_format_pt_grid(&few, &storage_list),
		    "S1 R U.F\nS2 R UU.\nS3 D .OC\nS4 R ...",
		    "pt grid of 3 partitions: no header line");
	few.count = 10;
	expect_text(ctl_format_pt_grid(&few, &storage_list),
		    "S1 R U.FUUUUUUU\nS2 R UU........\nS3 D .OC.......\nS4 R ..........",
		    "pt grid of exactly 10 partitions: no header line");
	storages[3].state = NEO_NODE_PENDING;
	expect_text(ctl_format_pt_grid(&none, &storage_list), "S1 R \nS2 R ",
		    "no partitions: the running storages, as upstream");
	expect_text(ctl_format_pt_grid(&none, &no_storages), "", "no nodes at all: nothing");
	few.count = 3;
	expect_text(ctl_format_pt_rows(&few, 4),
		    "004 | S1 - UP_TO_DATE | S2 - UP_TO_DATE |\n"
		    "005 | S2 - UP_TO_DATE | S3 - OUT_OF_DATE |\n"
		    "006 | S1 - FEEDING | S3 - CORRUPTED |",
		    "pt rows from an offset");
	row_items[0].count = 0;
	few.count = 1;
	expect_text(ctl_format_pt_rows(&few, 0), "000 |", "an empty row");
}

static void test_summary_shape(void)
{
	struct neo_opt_bin names[3] = { { false, { 0 } }, { true, neo_bin_str("backup\"1") },
					{ true, neo_bin_str("b2") } };
	struct neo_answer_monitor_information info = { { names, 1 }, { names + 1, 2 },
						       neo_bin_str("RUNNING; UP_TO_DATE=3") };
	struct neo_answer_monitor_information ok = { { names, 0 }, { names, 0 },
						     neo_bin_str("RUNNING") };

	expect_text(ctl_format_summary(&info),
		    "# {\"warning\": [null], \"problem\": [\"backup\\\"1\", \"b2\"]}\n"
		    "RUNNING; UP_TO_DATE=3", "summary: JSON severities, null for this cluster");
	expect_text(ctl_format_summary(&ok), "# {}\nRUNNING", "summary with nothing wrong");
	info.primary_masters.count = 0;
	expect_text(ctl_format_summary(&info),
		    "# {\"problem\": [\"backup\\\"1\", \"b2\"]}\nRUNNING; UP_TO_DATE=3",
		    "summary with problems only");
}

/* --- Sessions ------------------------------------------------------------------------ */

static struct ctl_session session;
static struct ctl_request req;

static enum ctl_step start(const char *line)
{
	memset(&req, 0, sizeof req);
	if (parse(line) != CTL_PARSE_OK) {
		tap_diag("'%s' did not parse: %s", line, err);
		memset(&session, 0, sizeof session);
		return CTL_STEP_FAILED;
	}
	ctl_session_init(&session, &cmd);
	return ctl_session_start(&session, &req);
}

static enum ctl_step feed(uint16_t code, void *args)
{
	struct neo_packet pkt = { .msg_id = 1, .code = code, .type = neo_packet_type_of(code),
				  .args = args };
	enum ctl_step step = ctl_session_feed(&session, &pkt, &req);

	neo_packet_release(&pkt);
	return step;
}

static enum ctl_step feed_error(enum neo_error_code code, const char *message)
{
	struct neo_error e = { code, neo_bin_str(message) };

	return feed(NEO_ERROR, &e);
}

static bool output_is(const char *want)
{
	bool ok = want ? session.output && strcmp(session.output, want) == 0
		       : session.output == NULL;

	if (!ok)
		tap_diag("output:\n%s\nwanted:\n%s", session.output ? session.output : "(none)",
			 want ? want : "(none)");
	return ok;
}

static bool error_is(const char *want)
{
	bool ok = strcmp(session.error, want) == 0;

	if (!ok)
		tap_diag("error: '%s', wanted '%s'", session.error, want);
	return ok;
}

static void test_simple_sessions(void)
{
	struct neo_answer_cluster_state state = { { true, NEO_CLUSTER_RUNNING } };
	struct neo_answer_cluster_state unknown = { { false, 0 } };
	struct neo_answer_primary primary = { neo_nid_make(NEO_NODE_MASTER, 1) };
	struct neo_node_info n[1];
	struct neo_answer_node_list nodes = { { n, 1 } };
	const struct neo_ask_node_list *ask_nodes;

	tap_ok(start("print cluster") == CTL_STEP_ASK && req.code == NEO_ASK_CLUSTER_STATE
	       && feed(NEO_ANSWER_CLUSTER_STATE, &state) == CTL_STEP_DONE && output_is("RUNNING"),
	       "print cluster: AskClusterState -> RUNNING");
	ctl_session_free(&session);
	tap_ok(start("print cluster") == CTL_STEP_ASK
	       && feed(NEO_ANSWER_CLUSTER_STATE, &unknown) == CTL_STEP_DONE && output_is("None"),
	       "print cluster with no state yet -> None");
	ctl_session_free(&session);
	tap_ok(start("print primary") == CTL_STEP_ASK && req.code == NEO_ASK_PRIMARY
	       && feed(NEO_ANSWER_PRIMARY, &primary) == CTL_STEP_DONE && output_is("M1"),
	       "print primary -> M1");
	ctl_session_free(&session);
	node(&n[0], NEO_NODE_STORAGE, storage(1), "127.0.0.1", 20000, NEO_NODE_PENDING, false, 0);
	tap_ok(start("print node storage") == CTL_STEP_ASK && req.code == NEO_ASK_NODE_LIST
	       && (ask_nodes = req.args)->node_type.has
	       && ask_nodes->node_type.v == NEO_NODE_STORAGE
	       && feed(NEO_ANSWER_NODE_LIST, &nodes) == CTL_STEP_DONE
	       && output_is("S1 | STORAGE | 127.0.0.1:20000 | PENDING | None"),
	       "print node storage: AskNodeList(STORAGE) -> one line");
	ctl_session_free(&session);
	tap_ok(start("flush_log") == CTL_STEP_NOTIFY && req.code == NEO_FLUSH_LOG,
	       "flush_log is a notification");
	ctl_session_free(&session);
}

static void test_acks(void)
{
	const struct neo_set_node_state *node_state;
	const struct neo_set_cluster_state *cluster_state;
	const struct neo_truncate *truncate;

	tap_ok(start("start") == CTL_STEP_ASK && req.code == NEO_SET_CLUSTER_STATE
	       && (cluster_state = req.args)->state == NEO_CLUSTER_VERIFYING
	       && feed_error(NEO_ERROR_ACK, "Cluster state changed") == CTL_STEP_DONE
	       && output_is("Cluster state changed"), "start: the Ack text is printed");
	ctl_session_free(&session);
	tap_ok(start("set replicas 1") == CTL_STEP_ASK && req.code == NEO_SET_NUM_REPLICAS
	       && feed_error(NEO_ERROR_ACK, "") == CTL_STEP_DONE && output_is(""),
	       "set replicas: an empty Ack is an empty line");
	ctl_session_free(&session);
	tap_ok(start("set replicas 5") == CTL_STEP_ASK
	       && ((const struct neo_set_num_replicas *)req.args)->num_replicas == 5
	       && feed_error(NEO_ERROR_ACK, "Warning: 5 replicas need 6 storage nodes")
		  == CTL_STEP_DONE && output_is("Warning: 5 replicas need 6 storage nodes"),
	       "set replicas: the master's warning is printed");
	ctl_session_free(&session);
	tap_ok(start("set replicas 4294967296") == CTL_STEP_ASK
	       && ((const struct neo_set_num_replicas *)req.args)->num_replicas == 4294967296LL
	       && feed_error(NEO_ERROR_DENIED, "invalid number of replicas: 4294967296")
		  == CTL_STEP_FAILED && error_is("invalid number of replicas: 4294967296"),
	       "set replicas: a huge number goes whole to the master, whose refusal is printed");
	ctl_session_free(&session);
	tap_ok(start("drop S2") == CTL_STEP_ASK && req.code == NEO_SET_NODE_STATE
	       && (node_state = req.args)->uuid == storage(2)
	       && node_state->state == NEO_NODE_UNKNOWN
	       && feed_error(NEO_ERROR_ACK, "node permanently removed") == CTL_STEP_DONE
	       && output_is("node permanently removed"), "drop: SetNodeState(UNKNOWN)");
	ctl_session_free(&session);
	tap_ok(start("kill S2") == CTL_STEP_ASK && (node_state = req.args)->state == NEO_NODE_DOWN
	       && feed_error(NEO_ERROR_ACK, "state changed") == CTL_STEP_DONE
	       && output_is("state changed"), "kill: SetNodeState(DOWN)");
	ctl_session_free(&session);
	tap_ok(start("truncate tid:0x20") == CTL_STEP_ASK && req.code == NEO_TRUNCATE
	       && (truncate = req.args)->tid == 0x20
	       && feed_error(NEO_ERROR_ACK, "") == CTL_STEP_DONE && output_is(NULL),
	       "truncate prints nothing, as upstream");
	ctl_session_free(&session);
}

static void test_errors(void)
{
	struct neo_answer_primary primary = { 1 };

	tap_ok(start("set cluster running") == CTL_STEP_ASK
	       && feed_error(NEO_ERROR_DENIED, "Invalid state requested") == CTL_STEP_FAILED
	       && error_is("Invalid state requested"), "DENIED: its message alone");
	ctl_session_free(&session);
	tap_ok(start("print node") == CTL_STEP_ASK
	       && feed_error(NEO_ERROR_NOT_READY, "Not connected to a primary master.")
		  == CTL_STEP_FAILED && error_is("ERROR: Not connected to a primary master."),
	       "NOT_READY: ERROR: message");
	ctl_session_free(&session);
	tap_ok(start("print pt 1 2") == CTL_STEP_ASK
	       && feed_error(NEO_ERROR_PROTOCOL_ERROR, "invalid partition table offset")
		  == CTL_STEP_FAILED
	       && error_is("RuntimeError: (Error, PROTOCOL_ERROR, "
			   "'invalid partition table offset')"),
	       "another error: RuntimeError");
	ctl_session_free(&session);
	tap_ok(start("print cluster") == CTL_STEP_ASK
	       && feed_error(NEO_ERROR_ACK, "hm") == CTL_STEP_FAILED
	       && error_is("RuntimeError: (Error, ACK, 'hm')"), "an Ack where data was expected");
	ctl_session_free(&session);
	tap_ok(start("print cluster") == CTL_STEP_ASK
	       && feed(NEO_ANSWER_PRIMARY, &primary) == CTL_STEP_FAILED
	       && error_is("RuntimeError: unexpected answer AnswerPrimary"),
	       "an answer of the wrong type");
	ctl_session_free(&session);
	tap_ok(start("print ids") == CTL_STEP_ASK
	       && ctl_session_lost(&session, "Connection closed") == CTL_STEP_FAILED
	       && error_is("ERROR: Connection closed"),
	       "connection lost: ERROR: Connection closed");
	ctl_session_free(&session);
}

static void test_print_pt_sessions(void)
{
	struct neo_answer_partition_list pt = { { true, 7 }, 1, sample_rows() };
	struct neo_answer_node_list list;
	const struct neo_ask_partition_list *ask;
	const struct neo_ask_node_list *ask_nodes;
	char want[256];

	sample_storages();
	list.nodes = storage_list;
	snprintf(want, sizeof want, "# ptid: 7, replicas: 1\n%s", sample_grid);
	tap_ok(start("print pt") == CTL_STEP_ASK && req.code == NEO_ASK_PARTITION_LIST
	       && (ask = req.args)->min_offset == 0 && ask->max_offset == 0 && !ask->uuid.has
	       && feed(NEO_ANSWER_PARTITION_LIST, &pt) == CTL_STEP_ASK
	       && req.code == NEO_ASK_NODE_LIST && (ask_nodes = req.args)->node_type.has
	       && ask_nodes->node_type.v == NEO_NODE_STORAGE
	       && feed(NEO_ANSWER_NODE_LIST, &list) == CTL_STEP_DONE && output_is(want),
	       "print pt: rows, then the storages, then header and grid");
	ctl_session_free(&session);
	pt.rows.count = 2;
	tap_ok(start("print pt 0 2 S1") == CTL_STEP_ASK && (ask = req.args)->max_offset == 2
	       && ask->uuid.has && ask->uuid.v == storage(1)
	       && feed(NEO_ANSWER_PARTITION_LIST, &pt) == CTL_STEP_DONE
	       && output_is("# ptid: 7, replicas: 1\n"
			    "000 | S1 - UP_TO_DATE | S2 - UP_TO_DATE |\n"
			    "001 | S2 - UP_TO_DATE | S3 - OUT_OF_DATE |"),
	       "print pt MIN MAX: one line per row");
	ctl_session_free(&session);
	pt.ptid.has = false;
	tap_ok(start("print pt 0 2") == CTL_STEP_ASK
	       && feed(NEO_ANSWER_PARTITION_LIST, &pt) == CTL_STEP_DONE
	       && strncmp(session.output, "# ptid: None, replicas: 1\n", 26) == 0,
	       "print pt: a table without id (upstream's None) prints None");
	ctl_session_free(&session);
	pt.ptid.has = true;
	pt.rows.count = 0;
	list.nodes.count = 0;
	tap_ok(start("print pt") == CTL_STEP_ASK && feed(NEO_ANSWER_PARTITION_LIST, &pt)
	       == CTL_STEP_ASK && feed(NEO_ANSWER_NODE_LIST, &list) == CTL_STEP_DONE
	       && output_is("# ptid: 7, replicas: 1\n"), "print pt of an empty table");
	ctl_session_free(&session);
}

static void test_tweak_sessions(void)
{
	struct neo_answer_tweak_partition_table changed = { true, sample_rows() };
	struct neo_answer_tweak_partition_table same = { false, { NULL, 0 } };
	struct neo_answer_node_list list;
	const struct neo_tweak_partition_table *tweak;

	sample_storages();
	list.nodes = storage_list;
	tap_ok(start("tweak -n S3") == CTL_STEP_ASK && req.code == NEO_TWEAK_PARTITION_TABLE
	       && (tweak = req.args)->dry_run && tweak->excluded_uuids.count == 1
	       && tweak->excluded_uuids.items[0] == storage(3)
	       && feed(NEO_ANSWER_TWEAK_PARTITION_TABLE, &changed) == CTL_STEP_ASK
	       && req.code == NEO_ASK_NODE_LIST
	       && feed(NEO_ANSWER_NODE_LIST, &list) == CTL_STEP_DONE && output_is(sample_grid),
	       "tweak -n: the new grid, without the ptid line");
	ctl_session_free(&session);
	tap_ok(start("tweak") == CTL_STEP_ASK && !((const struct neo_tweak_partition_table *)
						      req.args)->dry_run
	       && feed(NEO_ANSWER_TWEAK_PARTITION_TABLE, &same) == CTL_STEP_DONE
	       && output_is("No change done."), "tweak with nothing to change");
	ctl_session_free(&session);
}

static void test_storage_list_sessions(void)
{
	struct neo_node_info n[3];
	struct neo_answer_node_list list = { { n, 3 } };
	const struct neo_add_pending_nodes *add;
	const struct neo_repair *repair;

	node(&n[0], NEO_NODE_STORAGE, storage(1), "h", 1, NEO_NODE_RUNNING, false, 0);
	node(&n[1], NEO_NODE_STORAGE, storage(2), "h", 2, NEO_NODE_PENDING, false, 0);
	node(&n[2], NEO_NODE_STORAGE, 0, "h", 3, NEO_NODE_PENDING, false, 0);
	tap_ok(start("add all") == CTL_STEP_ASK && req.code == NEO_ASK_NODE_LIST
	       && feed(NEO_ANSWER_NODE_LIST, &list) == CTL_STEP_ASK
	       && req.code == NEO_ADD_PENDING_NODES && (add = req.args)->uuids.count == 2
	       && add->uuids.items[0] == storage(1) && add->uuids.items[1] == storage(2)
	       && feed_error(NEO_ERROR_ACK, "Nodes added: S2") == CTL_STEP_DONE
	       && output_is("Nodes added: S2"), "add all: every listed storage with an id");
	ctl_session_free(&session);
	tap_ok(start("add S5") == CTL_STEP_ASK && req.code == NEO_ADD_PENDING_NODES
	       && (add = req.args)->uuids.count == 1 && add->uuids.items[0] == storage(5)
	       && feed_error(NEO_ERROR_ACK, "No node added") == CTL_STEP_DONE
	       && output_is("No node added"), "add S5: straight to AddPendingNodes");
	ctl_session_free(&session);
	tap_ok(start("prune_orphan 1 all") == CTL_STEP_ASK && req.code == NEO_ASK_NODE_LIST
	       && feed(NEO_ANSWER_NODE_LIST, &list) == CTL_STEP_ASK && req.code == NEO_REPAIR
	       && (repair = req.args)->dry_run && repair->uuids.count == 2
	       && feed_error(NEO_ERROR_ACK, "") == CTL_STEP_DONE && output_is(""),
	       "prune_orphan 1 all: Repair(storages, dry run)");
	ctl_session_free(&session);
	tap_ok(start("prune_orphan 0 S1") == CTL_STEP_ASK && req.code == NEO_REPAIR
	       && !(repair = req.args)->dry_run && repair->uuids.count == 1,
	       "prune_orphan 0 S1: Repair at once");
	ctl_session_free(&session);
}

static bool check_entry(const struct neo_check_replicas *c, uint32_t i, int64_t partition,
			bool has_source, int64_t source)
{
	return i < c->partitions.count && c->partitions.keys[i] == partition
	       && c->partitions.values[i].has == has_source
	       && (!has_source || c->partitions.values[i].v == source);
}

static void test_check_sessions(void)
{
	struct neo_answer_partition_list pt = { { true, 7 }, 1, sample_rows() };
	const struct neo_check_replicas *c;

	pt.rows.count = 3;
	tap_ok(start("check :S1 1:S2 7: tid:5") == CTL_STEP_ASK
	       && req.code == NEO_ASK_PARTITION_LIST
	       && feed(NEO_ANSWER_PARTITION_LIST, &pt) == CTL_STEP_ASK
	       && req.code == NEO_CHECK_REPLICAS && (c = req.args)->partitions.count == 4
	       && check_entry(c, 0, 0, true, storage(1)) && check_entry(c, 1, 1, true, storage(2))
	       && check_entry(c, 2, 2, true, storage(1)) && check_entry(c, 3, 7, false, 0)
	       && c->min_tid == 5 && c->max_tid.type == MSGPACK_OBJECT_NIL,
	       "check :S1 1:S2 7: every partition of the table, then the named ones");
	tap_ok(feed_error(NEO_ERROR_ACK, "") == CTL_STEP_DONE && output_is(NULL),
	       "check prints nothing");
	ctl_session_free(&session);
	tap_ok(start("check 1: 2:") == CTL_STEP_ASK && req.code == NEO_CHECK_REPLICAS
	       && feed_error(NEO_ERROR_ACK, "skipped (fewer than 2 readable cells): partition 2")
		  == CTL_STEP_DONE
	       && output_is("skipped (fewer than 2 readable cells): partition 2"),
	       "check prints a non-empty Ack (partitions skipped)");
	ctl_session_free(&session);
	tap_ok(start("check 9:") == CTL_STEP_ASK
	       && feed_error(NEO_ERROR_DENIED, "check: partition 9 does not exist (the table has "
			     "4, 0 to 3)") == CTL_STEP_FAILED
	       && error_is("check: partition 9 does not exist (the table has 4, 0 to 3)"),
	       "check refused by the master: its message, exit 1");
	ctl_session_free(&session);
	tap_ok(start("check 2: tid:1 tid:0x0102030405060708") == CTL_STEP_ASK
	       && req.code == NEO_CHECK_REPLICAS && (c = req.args)->partitions.count == 1
	       && check_entry(c, 0, 2, false, 0) && c->min_tid == 1
	       && c->max_tid.type == MSGPACK_OBJECT_BIN && c->max_tid.via.bin.size == 8
	       && memcmp(c->max_tid.via.bin.ptr, "\1\2\3\4\5\6\7\10", 8) == 0,
	       "check 2: MIN MAX: max_tid as a p64");
	ctl_session_free(&session);
}

static void test_ids_sessions(void)
{
	struct neo_answer_recovery recovery = { { true, 12 }, { false, 0 }, { false, 0 } };
	struct neo_answer_recovery backup = { { false, 0 }, { true, 0x3937af2eeeeeeeeULL },
					      { false, 0 } };
	/* Wire order, as upstream: last tid, last oid, first tid. */
	struct neo_answer_last_ids ids = { { true, 0x03f1b2c3d4e5f602ULL }, { true, 0x2a }, 0 };
	struct neo_answer_last_transaction last = { 0x03f1b2c3d4e5f602ULL };

	tap_ok(start("print ids") == CTL_STEP_ASK && req.code == NEO_ASK_RECOVERY
	       && feed(NEO_ANSWER_RECOVERY, &recovery) == CTL_STEP_ASK
	       && req.code == NEO_ASK_LAST_IDS && feed(NEO_ANSWER_LAST_IDS, &ids) == CTL_STEP_DONE
	       && output_is("last_oid = 0x2a\n"
			    "last_tid = 0x3f1b2c3d4e5f602 (2023-07-11 11:47:49.898035)\n"
			    "last_ptid = 12"),
	       "print ids: AskRecovery then AskLastIDs");
	ctl_session_free(&session);
	tap_ok(start("print ids") == CTL_STEP_ASK && feed(NEO_ANSWER_RECOVERY, &backup)
	       == CTL_STEP_ASK && req.code == NEO_ASK_LAST_TRANSACTION
	       && feed(NEO_ANSWER_LAST_TRANSACTION, &last) == CTL_STEP_DONE
	       && output_is("backup_tid = 0x3937af2eeeeeeee (2012-01-01 12:34:55.999999)\n"
			    "last_tid = 0x3f1b2c3d4e5f602 (2023-07-11 11:47:49.898035)\n"
			    "last_ptid = None"),
	       "print ids in backup mode: AskLastTransaction, backup_tid");
	ctl_session_free(&session);
}

static void test_summary_session(void)
{
	struct neo_opt_bin me = { false, { 0 } };
	struct neo_answer_monitor_information info = { { &me, 1 }, { NULL, 0 },
						       neo_bin_str("RUNNING; OUT_OF_DATE=1") };
	struct neo_cell settled[2] = { { 1, NEO_CELL_UP_TO_DATE }, { 2, NEO_CELL_UP_TO_DATE } };
	struct neo_cell behind[2] = { { 1, NEO_CELL_UP_TO_DATE }, { 2, NEO_CELL_OUT_OF_DATE } };
	struct neo_list_cell rows[2] = { { settled, 2 }, { behind, 2 } };
	struct neo_answer_partition_list pt = { { true, 5 }, 1, { rows, 1 } };
	struct ctl_watch watch = { 0 };

	tap_ok(start("print summary") == CTL_STEP_ASK && req.code == NEO_ASK_MONITOR_INFORMATION
	       && feed(NEO_ANSWER_MONITOR_INFORMATION, &info) == CTL_STEP_ASK
	       && req.code == NEO_ASK_PARTITION_LIST
	       && feed(NEO_ANSWER_PARTITION_LIST, &pt) == CTL_STEP_DONE
	       && output_is("# {\"warning\": [null]}\nRUNNING; OUT_OF_DATE=1"),
	       "print summary: AskMonitorInformation, then the table; all caught up: upstream's");
	ctl_session_free(&session);
	pt.rows.count = 2;
	tap_ok(start("print summary") == CTL_STEP_ASK
	       && feed(NEO_ANSWER_MONITOR_INFORMATION, &info) == CTL_STEP_ASK
	       && feed(NEO_ANSWER_PARTITION_LIST, &pt) == CTL_STEP_DONE
	       && output_is("# {\"warning\": [null]}\nRUNNING; OUT_OF_DATE=1\n"
			    "replication: 1 of 4 cells to catch up\n"
			    "  partition 1: S2 OUT_OF_DATE"),
	       "print summary: the cells to catch up, per partition");
	ctl_session_free(&session);
	tap_ok(start("print summary") == CTL_STEP_ASK
	       && feed(NEO_ANSWER_MONITOR_INFORMATION, &info) == CTL_STEP_ASK
	       && feed_error(NEO_ERROR_NOT_READY, "Not connected to a primary master.")
	       == CTL_STEP_DONE && output_is("# {\"warning\": [null]}\nRUNNING; OUT_OF_DATE=1"),
	       "print summary: no table, the summary alone");
	ctl_session_free(&session);

	/* -w: a cell behind in each partition at t=100, one at t=110. */
	struct neo_cell other[2] = { { 1, NEO_CELL_OUT_OF_DATE }, { 2, NEO_CELL_UP_TO_DATE } };

	rows[0].items = behind;
	rows[1].items = other;
	watch.now = 100;
	tap_ok(start("print summary") == CTL_STEP_ASK && (session.watch = &watch)
	       && feed(NEO_ANSWER_MONITOR_INFORMATION, &info) == CTL_STEP_ASK
	       && feed(NEO_ANSWER_PARTITION_LIST, &pt) == CTL_STEP_DONE
	       && output_is("# {\"warning\": [null]}\nRUNNING; OUT_OF_DATE=1\n"
			    "replication: 2 of 4 cells to catch up\n"
			    "  partition 0: S2 OUT_OF_DATE (for 0 s)\n"
			    "  partition 1: S1 OUT_OF_DATE (for 0 s)"),
	       "-w, first answer: no pace yet");
	ctl_session_free(&session);
	rows[0].items = settled;
	watch.now = 110;
	tap_ok(start("print summary") == CTL_STEP_ASK && (session.watch = &watch)
	       && feed(NEO_ANSWER_MONITOR_INFORMATION, &info) == CTL_STEP_ASK
	       && feed(NEO_ANSWER_PARTITION_LIST, &pt) == CTL_STEP_DONE
	       && output_is("# {\"warning\": [null]}\nRUNNING; OUT_OF_DATE=1\n"
			    "replication: 1 of 4 cells to catch up\n"
			    "  pace: 0.10 cells/s over 10 s, about 10 s left\n"
			    "  partition 1: S1 OUT_OF_DATE (for 10 s)"),
	       "-w, next answer: the pace and the time left");
	ctl_session_free(&session);
	ctl_watch_free(&watch);
}

static void test_usage(void)
{
	static const char head[] = "Available commands:\nprint\n  ids\n";
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);

	if (out == NULL) {
		tap_skip("open_memstream failed");
		return;
	}
	ctl_usage(out);
	fclose(out);
	tap_ok(strncmp(text, head, sizeof head - 1) == 0
	       && strstr(text, "\nset\n  cluster\n") && strstr(text, "\nflush_log\n")
	       && strstr(text, "tid:0x3937af2eeeeeeee"),
	       "usage lists the commands as upstream's tree, and the TID syntax");
	free(text);
}

int main(void)
{
	test_parse_print();
	test_parse_changes();
	test_parse_check();
	test_tids();
	test_node_list();
	test_pt_shapes();
	test_summary_shape();
	test_simple_sessions();
	test_acks();
	test_errors();
	test_print_pt_sessions();
	test_tweak_sessions();
	test_storage_list_sessions();
	test_check_sessions();
	test_ids_sessions();
	test_summary_session();
	test_usage();
	return tap_done();
}
