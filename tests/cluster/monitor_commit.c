/*
 * monitor_commit CLUSTER MASTERS COUNT - commits COUNT transactions (one
 * new object each) to a cluster and prints the last tid in hex, for
 * tests/cluster/monitor_backup_check.py.  Exits 1 with a message when a
 * commit fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neo/client.h"

static int commit_one(struct neo_client *client, int round, uint64_t *tid)
{
	struct neo_txn *txn;
	struct neo_client_conflict *conflicts = NULL;
	size_t count = 0;
	uint64_t oid;
	char value[64];

	if (neo_client_begin(client, 0, &txn) != NEO_CLIENT_OK)
		return -1;
	snprintf(value, sizeof value, "object of round %d", round);
	if (neo_client_new_oids(client, 1, &oid) != NEO_CLIENT_OK
	    || neo_txn_store(txn, oid, 0, value, strlen(value)) != NEO_CLIENT_OK
	    || neo_txn_vote(txn, "", 0, "", 0, "", 0, &conflicts, &count) != NEO_CLIENT_OK
	    || neo_txn_finish(txn, tid) != NEO_CLIENT_OK) {
		neo_client_conflicts_free(conflicts, count);
		neo_txn_abort(txn);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct neo_client_config config = { .struct_size = sizeof config };
	struct neo_client *client;
	uint64_t tid = 0;
	int count;

	if (argc != 4 || (count = atoi(argv[3])) <= 0) {
		fprintf(stderr, "usage: monitor_commit CLUSTER MASTERS COUNT\n");
		return 2;
	}
	config.cluster = argv[1];
	config.masters = argv[2];
	config.compress = -1;
	config.connect_timeout_ms = 20000;
	if (neo_client_open(&config, &client) != NEO_CLIENT_OK) {
		fprintf(stderr, "monitor_commit: %s\n", neo_client_errmsg());
		return 1;
	}
	for (int i = 0; i < count; i++)
		if (commit_one(client, i, &tid) < 0) {
			fprintf(stderr, "monitor_commit: commit %d: %s\n", i, neo_client_errmsg());
			neo_client_close(client);
			return 1;
		}
	printf("%016llx\n", (unsigned long long)tid);
	neo_client_close(client);
	return 0;
}
