/*
 * test_admin_validation.c - neoctl requests with bad arguments, against
 * real processes (master, 3 storages, admin): each is refused with a
 * message neoctl prints and a non-zero exit, and changes nothing.
 *
 *   - in RECOVERING, table changes and checks are refused;
 *   - set replicas: negative, huge, beyond what node ids allow refused
 *     and `print pt` unchanged; more than the storages accepted with a
 *     warning (as upstream, which accepts them);
 *   - check: no partition, partitions that do not exist, unknown or
 *     non-storage references, a reference without a readable cell, tid
 *     ranges that are empty, partitions with nothing to compare;
 *   - add, tweak, kill, drop, prune_orphan with unknown ids or ids of the
 *     wrong node type; tweak with an unlisted down storage;
 *   - truncate before the first or after the last transaction, or
 *     before an approved pack; set cluster to states it cannot go to.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster_util.h"
#include "tap.h"

static struct test_cluster tc;
static uint64_t serials[6];

/* neoctl command exits with status and prints text (somewhere). */
static void refused_with(int status, const char *command, const char *text)
{
	char out[8192];
	int rc = cluster_neoctl(&tc, out, sizeof out, command);

	if (!tap_ok(rc == status && strstr(out, text) != NULL, "%s: refused, exit %d (%s)",
		    command, status, text))
		tap_diag("exit %d, printed:\n%s", rc, out);
}

/* Refused by the master (or the admin node): exit 1, as upstream. */
static void refused(const char *command, const char *text)
{
	refused_with(1, command, text);
}

/* Refused by neoctl before it connects: a usage error, exit 2. */
static void refused_locally(const char *command, const char *text)
{
	refused_with(2, command, text);
}

/* neoctl command exits 0 and prints text (NULL: anything). */
static bool accepted(const char *command, const char *text, char *out, size_t len)
{
	int rc = cluster_neoctl(&tc, out, len, command);

	if (rc == 0 && (text == NULL || strstr(out, text) != NULL))
		return true;
	tap_diag("%s: exit %d, printed:\n%s", command, rc, out);
	return false;
}

static void print_pt(char *out, size_t len)
{
	cluster_neoctl(&tc, out, len, "print pt");
}

static void in_recovery(void)
{
	char out[1024];

	tap_ok(cluster_neoctl_wait(&tc, "print node storage", "S3 | STORAGE", 10000),
	       "three storages identified");
	refused("set replicas 2", "setNumReplicas RPC can not be used in RECOVERING state");
	refused("check :", "checkReplicas RPC can not be used in RECOVERING state");
	refused("tweak", "tweakPartitionTable RPC can not be used in RECOVERING state");
	refused("add S1", "addPendingNodes RPC can not be used in RECOVERING state");
	tap_ok(accepted("start", "Cluster state changed", out, sizeof out), "start: accepted");
	tap_ok(cluster_neoctl_wait(&tc, "print cluster", "RUNNING", 10000), "RUNNING");
}

static void set_replicas(void)
{
	char before[8192], after[8192], out[8192];

	print_pt(before, sizeof before);
	tap_ok(strncmp(before, "# ptid: 1, replicas: 1\n", 23) == 0, "print pt: replicas 1");
	refused_locally("set replicas -1", "invalid number of replicas");
	refused("set replicas 2147483648",
		"invalid number of replicas: 2147483648 (at most 16777214: one copy per storage "
		"node)");
	refused("set replicas 4294967296", "invalid number of replicas: 4294967296");
	refused("set replicas 16777215", "invalid number of replicas: 16777215");
	refused_locally("set replicas 99999999999999999999", "invalid number");
	refused_locally("set replicas two", "invalid number 'two'");
	print_pt(after, sizeof after);
	tap_ok(strcmp(before, after) == 0, "print pt unchanged after the refusals");

	/* as upstream: accepted, rows get min(nr + 1, storages) cells */
	tap_ok(accepted("set replicas 3", "Warning: 3 replicas need 4 storage nodes and the "
			"cluster has 3", out, sizeof out), "set replicas 3 with 3 storages: a warning");
	print_pt(after, sizeof after);
	tap_ok(strncmp(after, "# ptid: 2, replicas: 3\n", 23) == 0, "print pt: replicas 3");
	tap_ok(accepted("set replicas 1", NULL, out, sizeof out) && strcmp(out, "\n") == 0,
	       "set replicas 1: an empty line, as upstream");
	print_pt(after, sizeof after);
	tap_ok(strncmp(after, "# ptid: 3, replicas: 1\n", 23) == 0
	       && strcmp(strchr(after, '\n'), strchr(before, '\n')) == 0,
	       "back to replicas 1, the cells as they were");
}

/* The storage without a cell of partition 0 ("000 | S1 - ... | S2 - ... |"). */
static bool storage_without_partition_0(char nid[8])
{
	char out[1024];

	if (cluster_neoctl(&tc, out, sizeof out, "print pt 0 1") != 0)
		return false;
	for (int i = 1; i <= 3; i++) {
		char cell[16];

		snprintf(cell, sizeof cell, "| S%d - ", i);
		if (strstr(out, cell) == NULL) {
			snprintf(nid, 8, "S%d", i);
			return true;
		}
	}
	return false;
}

static void check(void)
{
	char out[8192], command[128], outsider[8] = "";

	refused_locally("check", "check: no partition given (PARTITION:[REF] for one, ':' or ':REF' for "
		"every partition)");
	refused_locally("check tid:1", "no partition given");
	refused("check 4:", "check: partition 4 does not exist (the table has 4, 0 to 3)");
	refused("check 0: 7:", "check: partition 7 does not exist");
	refused("check 0:S9", "check: unknown node S9");
	refused("check 0:M1", "check: M1 is not a storage node");
	refused_locally("check 0: tid:9 tid:5", "check: MIN_TID is after MAX_TID: nothing to check");
	refused("check 0: tid:0x7ffffffffffffff0",
		"check: nothing to check: min_tid 7ffffffffffffff0 is after the last transaction");
	tap_ok(storage_without_partition_0(outsider), "%s has no cell of partition 0", outsider);
	snprintf(command, sizeof command, "check 0:%s", outsider);
	snprintf(out, sizeof out, "check: %s has no readable cell of partition 0", outsider);
	refused(command, out);
	tap_ok(accepted("check :", NULL, out, sizeof out) && strcmp(out, "") == 0,
	       "check : (every partition) still works, printing nothing");
	tap_ok(accepted("check 0: 1: tid:0", NULL, out, sizeof out), "check 0: 1: MIN_TID");
}

static void nodes(void)
{
	char out[8192], client[16] = "", command[64];

	refused_locally("add", "add: expected all or node ids");
	refused("add S9", "add: unknown node S9");
	refused("add M1", "add: M1 is not a storage node");
	tap_ok(accepted("add S1", "No node added", out, sizeof out),
	       "add of a running storage: No node added (as upstream)");
	tap_ok(accepted("add all", "No node added", out, sizeof out), "add all: No node added");
	refused("tweak S9", "tweak: unknown node S9");
	refused("tweak -n M1", "tweak: M1 is not a storage node");
	refused("kill S9", "unknown node S9");
	refused("drop S77", "unknown node S77");
	refused("kill M1", "can not kill primary master node");
	refused("drop M1", "can not switch node to UNKNOWN state");
	refused("drop S1", "a running node must be stopped before removal");
	cluster_neoctl(&tc, out, sizeof out, "print node client");
	if (sscanf(out, "%15s", client) == 1 && client[0] == 'C') {
		snprintf(command, sizeof command, "kill %s", client);
		refused(command, "can not switch node to DOWN state");
	} else {
		tap_ok(false, "a client is listed: %s", out);
	}
	refused_locally("prune_orphan 1", "prune_orphan: expected all or node ids");
	refused("prune_orphan 1 S9", "invalid storage node S9");
	refused("prune_orphan 1 S1 M1", "invalid storage node M1");
	refused("set cluster RUNNING", "Invalid state requested");
	refused("set cluster VERIFYING", "Can not switch to this state");
	refused("set cluster STARTING_BACKUP", "No upstream cluster to backup");
	refused_locally("set cluster DANCING", "unknown cluster state 'DANCING'");
	refused("print pt 5 9", "invalid partition table offset");
}

static void truncation(struct neo_client *client)
{
	char command[64];
	uint64_t pack_id = 0;

	refused("truncate tid:0", "Truncating before first transaction is probably not what you "
		"intended to do");
	snprintf(command, sizeof command, "truncate tid:%llu", (unsigned long long)serials[5]);
	refused(command, "Truncating after last transaction does nothing");
	refused_locally("truncate", "expected one TID");
	tap_ok(neo_client_pack(client, serials[3], NULL, 0, true, &pack_id) == NEO_CLIENT_OK,
	       "a pack at the 3rd commit: %s", neo_client_errmsg());
	snprintf(command, sizeof command, "truncate tid:%llu", (unsigned long long)serials[4]);
	refused(command, "Can not truncate before an approved pack");
	tap_ok(cluster_neoctl_wait(&tc, "print cluster", "RUNNING", 0),
	       "the cluster still RUNNING after the refused truncations");
}

/* A storage stopped: its cells are OUT_OF_DATE, some partitions have one
 * readable cell left. */
static void storage_down(void)
{
	char out[8192], victim[16] = "", command[64];
	int index;

	cluster_neoctl(&tc, out, sizeof out, "print pt 0 1");
	if (sscanf(out, "# ptid: %*d, replicas: %*d\n000 | %15s", victim) != 1) {
		tap_ok(false, "a holder of partition 0: %s", out);
		return;
	}
	index = cluster_storage_index(&tc, victim);
	cluster_kill(&tc.storages[index], SIGTERM);
	tap_ok(cluster_neoctl_wait(&tc, "print pt 0 1", "OUT_OF_DATE", 10000),
	       "%s stopped: its cells OUT_OF_DATE", victim);
	refused("check 0:", "check: nothing to compare: partition 0 has fewer than 2 readable "
		"cells");
	tap_ok(accepted("check :", "skipped (fewer than 2 readable cells): partitions 0", out,
			sizeof out), "check : names the partitions it skipped");
	snprintf(command, sizeof command, "check 0:%s", victim);
	snprintf(out, sizeof out, "check: %s has no readable cell of partition 0", victim);
	refused(command, out);
	refused("tweak", "tweak: down nodes must be listed explicitly");
	snprintf(command, sizeof command, "prune_orphan 0 %s", victim);
	snprintf(out, sizeof out, "invalid storage node %s", victim);
	refused(command, out);
	cluster_start_storage(&tc, index);
	tap_ok(cluster_neoctl_wait(&tc, "print node storage", "| RUNNING |", 10000)
	       && !cluster_neoctl_wait(&tc, "print node storage", "| DOWN |", 0),
	       "%s is back", victim);
}

int main(void)
{
	struct neo_client *client = NULL;
	char out[1024];

	cluster_init(&tc, "adminval", 4, 1, 3, 1);
	tc.autostart = 0;
	cluster_start(&tc);
	cluster_start_admin(&tc);

	in_recovery();
	if (!tap_ok(cluster_client(&tc, NULL, &client, NULL, NULL) == NEO_CLIENT_OK,
		    "client connects")) {
		cluster_stop(&tc);
		return tap_done();
	}
	for (uint64_t oid = 1; oid <= 5; oid++)
		serials[oid] = cluster_commit(client, oid, 0, "data");
	set_replicas();
	check();
	nodes();
	truncation(client);
	storage_down();
	neo_client_close(client);
	tap_ok(accepted("set cluster STOPPING", "Cluster state changed", out, sizeof out),
	       "set cluster STOPPING");
	cluster_stop(&tc);
	return tap_done();
}
