/*
 * mysql_transactions.c - transaction metadata and the two-phase commit
 * of staged rows in mysql_innodb.so (core/neo/backend.md section 12).
 *
 * At vote the node stages revisions in tobj (their tid column holds the
 * ttid) and metadata in ttrans (tid NULL).  Lock writes the final tid into
 * ttrans; the node commits SYNC before answering, so a crash after lock
 * leaves a ttrans row with its tid, which recovery replays.  Unlock moves
 * the rows to obj and trans under the final tid, each in one
 * INSERT ... SELECT on the server.
 */
#include <stdio.h>
#include <string.h>

#include "mysql_db.h"

int neo_mysql_trans_put(struct neo_db *db, const struct neo_trans *trans, bool temporary)
{
	uint64_t partition = trans->partition, packed = trans->packed;
	unsigned long lengths[4] = { (unsigned long)trans->oids.size,
		(unsigned long)trans->user.size, (unsigned long)trans->description.size,
		(unsigned long)trans->extension.size };
	MYSQL_BIND params[8];

	neo_mysql_bind_id(&params[0], &partition);
	if (temporary)
		neo_mysql_bind_null(&params[1]);
	else
		neo_mysql_bind_id(&params[1], &trans->tid);
	neo_mysql_bind_id(&params[2], &packed);
	neo_mysql_bind_bytes(&params[3], trans->oids.data, &lengths[0]);
	neo_mysql_bind_bytes(&params[4], trans->user.data, &lengths[1]);
	neo_mysql_bind_bytes(&params[5], trans->description.data, &lengths[2]);
	neo_mysql_bind_bytes(&params[6], trans->extension.data, &lengths[3]);
	neo_mysql_bind_id(&params[7], &trans->ttid);
	/* As for revisions: a vote sent again replaces its metadata. */
	return neo_mysql_run(db, temporary ?
		"REPLACE INTO ttrans (`partition`, tid, packed, oids, user, description, ext, ttid)"
		" VALUES (?, ?, ?, ?, ?, ?, ?, ?)" :
		"INSERT INTO trans (`partition`, tid, packed, oids, user, description, ext, ttid)"
		" VALUES (?, ?, ?, ?, ?, ?, ?, ?)", params, NULL);
}

static int read_trans(struct neo_db *db, const struct neo_mysql_row *row, struct neo_trans *out)
{
	out->partition = (uint32_t)row->id[0];
	out->tid = row->id[1];
	out->packed = row->id[2] != 0;
	out->ttid = row->id[3];
	out->oids = row->blob[0];
	out->user = row->blob[1];
	out->description = row->blob[2];
	out->extension = row->blob[3];
	if (out->oids.size % 8 != 0) {
		snprintf(db->errmsg, sizeof(db->errmsg),
			 "a transaction's oid list is not a multiple of 8 bytes");
		return NEO_BACKEND_ECORRUPT;
	}
	return NEO_BACKEND_OK;
}

static int trans_get_from(struct neo_db *db, const char *sql, uint64_t partition, uint64_t tid,
			  struct neo_trans *out)
{
	struct neo_mysql_row row = { .ids = 4, .blobs = 4 };
	MYSQL_BIND params[2];
	int status;

	neo_mysql_bind_id(&params[0], &partition);
	neo_mysql_bind_id(&params[1], &tid);
	status = neo_mysql_query_row(db, sql, params, &row);
	if (status == NEO_BACKEND_OK)
		status = read_trans(db, &row, out);
	return status;
}

int neo_mysql_trans_get(struct neo_db *db, uint32_t partition, uint64_t tid,
			bool include_locked_temporary, struct neo_trans *out)
{
	int status;

	memset(out, 0, sizeof(*out));
	status = trans_get_from(db, "SELECT `partition`, tid, packed, ttid, oids, user,"
				" description, ext FROM trans WHERE `partition` = ? AND tid = ?",
				partition, tid, out);
	if (status == NEO_BACKEND_NOTFOUND && include_locked_temporary)
		status = trans_get_from(db, "SELECT `partition`, tid, packed, ttid, oids, user,"
					" description, ext FROM ttrans WHERE `partition` = ?"
					" AND tid = ?", partition, tid, out);
	return status;
}

int neo_mysql_trans_delete(struct neo_db *db, uint32_t partition, uint64_t tid)
{
	int status = neo_mysql_run_ids(db, "DELETE FROM trans WHERE `partition` = ? AND tid = ?",
				       partition, tid, 0, NULL);

	if (status == NEO_BACKEND_OK)
		status = neo_mysql_run_ids(db, "DELETE FROM pack WHERE tid = ?", tid, 0, 0, NULL);
	return status;
}

int neo_mysql_final_tid(struct neo_db *db, uint32_t partition, uint64_t ttid, uint64_t *tid)
{
	struct neo_mysql_row row = { .ids = 1 };
	uint64_t p = partition;
	MYSQL_BIND params[3];
	int status;

	neo_mysql_bind_id(&params[0], &p);
	neo_mysql_bind_id(&params[1], &ttid);
	neo_mysql_bind_id(&params[2], &ttid);
	/* As upstream: the final tid is never below the ttid. */
	status = neo_mysql_query_row(db, "SELECT tid FROM trans WHERE `partition` = ? AND tid >= ?"
				   " AND ttid = ? LIMIT 1", params, &row);
	if (status == NEO_BACKEND_OK)
		*tid = row.id[0];
	return status;
}

int neo_mysql_txn_lock(struct neo_db *db, uint64_t ttid, uint64_t tid)
{
	/* As upstream: nothing to lock on a node without the metadata. */
	return neo_mysql_run_ids(db, "UPDATE ttrans SET tid = ? WHERE ttid = ?", tid, ttid, 0, NULL);
}

int neo_mysql_txn_unlock(struct neo_db *db, uint64_t ttid, uint64_t tid, neo_id_cb data_ids,
			 void *ctx)
{
	int status = neo_mysql_run_ids(db,
		"INSERT INTO trans (`partition`, tid, packed, oids, user, description, ext, ttid)"
		" SELECT `partition`, ?, packed, oids, user, description, ext, ttid FROM ttrans"
		" WHERE ttid = ?", tid, ttid, 0, NULL);

	if (status == NEO_BACKEND_OK)
		status = neo_mysql_run_ids(db, "DELETE FROM ttrans WHERE ttid = ?", ttid, 0, 0, NULL);
	if (status == NEO_BACKEND_OK)
		status = neo_mysql_run_ids(db, "UPDATE pack SET tid = ? WHERE tid = ?", tid, ttid, 0,
					   NULL);
	if (status == NEO_BACKEND_OK)
		status = neo_mysql_each_id(db, "SELECT data_id FROM tobj WHERE tid = ?"
					   " AND data_id IS NOT NULL", ttid, 0, 0, data_ids, ctx);
	if (status == NEO_BACKEND_OK)
		status = neo_mysql_run_ids(db, "INSERT INTO obj (`partition`, oid, tid, data_id,"
					   " value_tid) SELECT `partition`, oid, ?, data_id, value_tid"
					   " FROM tobj WHERE tid = ?", tid, ttid, 0, NULL);
	if (status == NEO_BACKEND_OK)
		status = neo_mysql_run_ids(db, "DELETE FROM tobj WHERE tid = ?", ttid, 0, 0, NULL);
	return status;
}

int neo_mysql_txn_abort(struct neo_db *db, uint64_t ttid, neo_id_cb data_ids, void *ctx)
{
	int status = neo_mysql_each_id(db, "SELECT data_id FROM tobj WHERE tid = ?"
				       " AND data_id IS NOT NULL", ttid, 0, 0, data_ids, ctx);

	if (status == NEO_BACKEND_OK)
		status = neo_mysql_run_ids(db, "DELETE FROM tobj WHERE tid = ?", ttid, 0, 0, NULL);
	if (status == NEO_BACKEND_OK)
		status = neo_mysql_run_ids(db, "DELETE FROM ttrans WHERE ttid = ?", ttid, 0, 0, NULL);
	/* As sqlite.so: a pack order staged under the ttid goes too. */
	if (status == NEO_BACKEND_OK)
		status = neo_mysql_run_ids(db, "DELETE FROM pack WHERE tid = ?", ttid, 0, 0, NULL);
	return status;
}

int neo_mysql_txn_unfinished(struct neo_db *db, neo_id_pair_cb cb, void *ctx)
{
	MYSQL_STMT *st;
	int status = neo_mysql_execute(db, "SELECT ttid, IFNULL(tid, 0) FROM ttrans"
		" UNION SELECT DISTINCT tid, 0 FROM tobj WHERE tid NOT IN (SELECT ttid FROM ttrans)"
		" ORDER BY 1", NULL, &st);

	if (status != NEO_BACKEND_OK)
		return status;
	return neo_mysql_scan(db, st, NULL, cb, ctx);
}

int neo_mysql_txn_staged_data_ids(struct neo_db *db, neo_id_cb cb, void *ctx)
{
	return neo_mysql_each_id(db, "SELECT data_id FROM tobj WHERE data_id IS NOT NULL",
				 0, 0, 0, cb, ctx);
}
