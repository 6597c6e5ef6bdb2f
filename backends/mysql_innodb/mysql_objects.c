/*
 * mysql_objects.c - object data and revisions in mysql_innodb.so.
 *
 * Data ids are allocated per partition, as upstream: (partition << 48) + n,
 * so the contents of a partition cluster together in the primary key and
 * dropping it never needs a global counter.  The next id of each partition
 * is kept in memory after the first MAX(id) query (one writer per
 * database: the lock), as upstream does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mysql_db.h"

/* Room for the rest of the INSERT in the packet that carries a value. */
#define PACKET_OVERHEAD 1024

static int first_free_data_id(struct neo_db *db, uint32_t partition, uint64_t *id)
{
	struct neo_mysql_row row = { .ids = 1 };
	uint64_t first = (uint64_t)partition << 48, end = first + (1ull << 48);
	MYSQL_BIND params[2];
	int status;

	neo_mysql_bind_id(&params[0], &first);
	neo_mysql_bind_id(&params[1], &end);
	status = neo_mysql_query_row(db, "SELECT MAX(id) FROM data WHERE id >= ? AND id < ?",
					     params, &row);
	if (status != NEO_BACKEND_OK && status != NEO_BACKEND_NOTFOUND)
		return status;
	*id = status == NEO_BACKEND_OK && !row.null[0] ? row.id[0] + 1 : first;
	return NEO_BACKEND_OK;
}

/* The id the next value of partition gets; counted as used. */
static int take_data_id(struct neo_db *db, uint32_t partition, uint64_t *id)
{
	int status;

	if (partition >= db->next_data_id_count) {
		size_t count = (size_t)partition + 1;
		uint64_t *grown = realloc(db->next_data_id, count * sizeof(*grown));

		if (grown == NULL) {
			snprintf(db->errmsg, sizeof(db->errmsg), "out of memory");
			return NEO_BACKEND_EIO;
		}
		memset(grown + db->next_data_id_count, 0,
		       (count - db->next_data_id_count) * sizeof(*grown));
		db->next_data_id = grown;
		db->next_data_id_count = count;
	}
	/* Partition 0's first id is 0, so "not known" is tracked as 0 and
	 * every id is stored plus one. */
	if (db->next_data_id[partition] == 0) {
		status = first_free_data_id(db, partition, id);
		if (status != NEO_BACKEND_OK)
			return status;
		db->next_data_id[partition] = *id + 1;
	}
	*id = db->next_data_id[partition] - 1;
	db->next_data_id[partition]++;
	return NEO_BACKEND_OK;
}

/*
 * As upstream: a value of 16 MiB or more does not fit data.value (a
 * MEDIUMBLOB).  It is stored in bigdata rows of 8 MiB at most, with
 * consecutive ids, and its data row holds, instead of the value, the
 * first chunk's id and the value's length (two big-endian 32-bit
 * numbers), with the high bit of compression set.
 */
#define MEDIUMBLOB_LIMIT 0x1000000u
#define BIGDATA_FLAG 0x80u
#define BIGDATA_CHUNK 0x800000u

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* The value a bigdata pointer (a data row's value) stands for, into
 * scratch slot 3 (slot 0 is used for each chunk). */
static int read_bigdata(struct neo_db *db, uint64_t data_id, struct neo_bytes pointer,
			struct neo_bytes *out)
{
	uint64_t first, length, chunks, used = 0;
	struct neo_bytes whole;
	int status;

	if (pointer.size != 8) {
		snprintf(db->errmsg, sizeof(db->errmsg), "data row %llu: bad bigdata pointer",
			 (unsigned long long)data_id);
		return NEO_BACKEND_ECORRUPT;
	}
	first = be32(pointer.data);
	length = be32(pointer.data + 4);
	chunks = (length + BIGDATA_CHUNK - 1) / BIGDATA_CHUNK;
	status = neo_mysql_keep(db, 3, NULL, (size_t)length, &whole);
	for (uint64_t k = 0; k < chunks && status == NEO_BACKEND_OK; k++) {
		struct neo_mysql_row row = { .blobs = 1 };
		uint64_t id = first + k;
		MYSQL_BIND params[1];

		neo_mysql_bind_id(&params[0], &id);
		status = neo_mysql_query_row(db, "SELECT value FROM bigdata WHERE id = ?", params,
					     &row);
		if (status == NEO_BACKEND_NOTFOUND || (status == NEO_BACKEND_OK
						       && used + row.blob[0].size > length)) {
			snprintf(db->errmsg, sizeof(db->errmsg), "data row %llu: bigdata chunk %llu "
				 "missing or too long", (unsigned long long)data_id,
				 (unsigned long long)id);
			return NEO_BACKEND_ECORRUPT;
		}
		if (status == NEO_BACKEND_OK && row.blob[0].size) {
			memcpy(db->scratch[3] + used, row.blob[0].data, row.blob[0].size);
			used += row.blob[0].size;
		}
	}
	if (status == NEO_BACKEND_OK && used != length) {
		snprintf(db->errmsg, sizeof(db->errmsg), "data row %llu: bigdata chunks hold %llu "
			 "bytes, not %llu", (unsigned long long)data_id, (unsigned long long)used,
			 (unsigned long long)length);
		return NEO_BACKEND_ECORRUPT;
	}
	if (status == NEO_BACKEND_OK)
		*out = whole;
	return status;
}

/* Stores value in bigdata chunks; pointer gets what the data row holds. */
static int write_bigdata(struct neo_db *db, struct neo_bytes data, uint8_t pointer[8])
{
	struct neo_mysql_row row = { .ids = 1 };
	uint64_t first = 0;
	int status = NEO_BACKEND_OK;

	if (data.size > UINT32_MAX) {
		snprintf(db->errmsg, sizeof(db->errmsg), "a value of %zu bytes is too big",
			 data.size);
		return NEO_BACKEND_EINVAL;
	}
	for (size_t off = 0, k = 0; off < data.size && status == NEO_BACKEND_OK;
	     off += BIGDATA_CHUNK, k++) {
		unsigned long length = (unsigned long)(data.size - off < BIGDATA_CHUNK
						       ? data.size - off : BIGDATA_CHUNK);
		uint64_t id = first + k;
		MYSQL_BIND params[2];

		neo_mysql_bind_id(&params[0], &id);
		neo_mysql_bind_bytes(&params[1], data.data + off, &length);
		/* as upstream: the first chunk's id comes from the counter, the
		 * next ones follow it */
		if (k == 0) {
			status = neo_mysql_run(db, "INSERT INTO bigdata (value) VALUES (?)",
					       &params[1], NULL);
			if (status == NEO_BACKEND_OK)
				status = neo_mysql_query_row(db, "SELECT LAST_INSERT_ID()", NULL,
							     &row);
			first = row.id[0];
		} else {
			status = neo_mysql_run(db, "INSERT INTO bigdata (id, value) VALUES (?, ?)",
					       params, NULL);
		}
	}
	if (status == NEO_BACKEND_OK && first > UINT32_MAX) {
		snprintf(db->errmsg, sizeof(db->errmsg), "bigdata ids exhausted");
		return NEO_BACKEND_EIO;
	}
	put_be32(pointer, (uint32_t)first);
	put_be32(pointer + 4, (uint32_t)data.size);
	return status;
}

/* With dedup: the id of the identical stored bytes under (checksum,
 * compression), EDUP when other bytes have the checksum, NOTFOUND when
 * there is none. */
static int find_duplicate(struct neo_db *db, const uint8_t checksum[20], uint64_t compression,
			  struct neo_bytes data, uint64_t *data_id)
{
	struct neo_mysql_row row = { .ids = 1, .blobs = 1 };
	unsigned long hash_length = 20;
	struct neo_bytes stored;
	MYSQL_BIND params[2];
	int status;

	neo_mysql_bind_bytes(&params[0], checksum, &hash_length);
	neo_mysql_bind_id(&params[1], &compression);
	status = neo_mysql_query_row(db, "SELECT id, value FROM data WHERE hash = ? AND compression = ?",
					     params, &row);
	if (status != NEO_BACKEND_OK)
		return status;
	stored = row.blob[0];
	if (compression & BIGDATA_FLAG) {
		status = read_bigdata(db, row.id[0], stored, &stored);
		if (status != NEO_BACKEND_OK)
			return status;
	}
	if (stored.size == data.size &&
	    (data.size == 0 || memcmp(stored.data, data.data, data.size) == 0)) {
		*data_id = row.id[0];
		return NEO_BACKEND_OK;
	}
	snprintf(db->errmsg, sizeof(db->errmsg), "two different values have the same checksum");
	return NEO_BACKEND_EDUP;
}

/*
 * Our earlier versions kept a value of any size in one LONGBLOB data row.
 * Before data.value becomes upstream's MEDIUMBLOB (mysql_schema.c), each
 * value of 16 MiB or more moves to bigdata chunks, one committed row at
 * a time, so that an interrupted migration resumes where it stopped.
 */
int neo_mysql_move_big_values(struct neo_db *db, uint64_t *moved)
{
	int status = NEO_BACKEND_OK;

	*moved = 0;
	while (status == NEO_BACKEND_OK) {
		struct neo_mysql_row row = { .ids = 2, .blobs = 1 };
		unsigned long pointer_length = 8;
		uint8_t pointer[8];
		MYSQL_BIND params[3];
		uint64_t compression;

		status = neo_mysql_query_row(db, "SELECT id, compression, value FROM data"
					     " WHERE compression < 128 AND LENGTH(value) >= 16777216"
					     " LIMIT 1", NULL, &row);
		if (status == NEO_BACKEND_NOTFOUND)
			return NEO_BACKEND_OK;
		if (status == NEO_BACKEND_OK)
			status = write_bigdata(db, row.blob[0], pointer);
		compression = row.id[1] | BIGDATA_FLAG;
		neo_mysql_bind_id(&params[0], &compression);
		neo_mysql_bind_bytes(&params[1], pointer, &pointer_length);
		neo_mysql_bind_id(&params[2], &row.id[0]);
		if (status == NEO_BACKEND_OK)
			status = neo_mysql_run(db, "UPDATE data SET compression = ?, value = ?"
					       " WHERE id = ?", params, NULL);
		if (status == NEO_BACKEND_OK && mysql_commit(db->conn) != 0)
			status = neo_mysql_fail(db, NEO_BACKEND_EIO, "commit");
		db->active = false;
		if (status == NEO_BACKEND_OK)
			(*moved)++;
	}
	return status;
}

static int too_big(struct neo_db *db, size_t size)
{
	snprintf(db->errmsg, sizeof(db->errmsg), "a value of %zu bytes does not fit the MySQL "
		 "server's max_allowed_packet (%lu): raise it", size, db->max_allowed_packet);
	return NEO_BACKEND_EINVAL;
}

int neo_mysql_data_put(struct neo_db *db, uint32_t partition, const uint8_t checksum[20],
		       uint8_t compression, struct neo_bytes data, uint64_t *data_id)
{
	uint64_t id, comp = compression;
	unsigned long hash_length = 20, value_length = (unsigned long)data.size;
	MYSQL_BIND params[4];
	uint8_t pointer[8];
	int status;

	if (data.size >= MEDIUMBLOB_LIMIT) {
		if (BIGDATA_CHUNK + PACKET_OVERHEAD > db->max_allowed_packet)
			return too_big(db, BIGDATA_CHUNK);
		comp |= BIGDATA_FLAG;
		/* as upstream: with dedup, the same big value is found first */
		if (db->dedup) {
			status = find_duplicate(db, checksum, comp, data, data_id);
			if (status != NEO_BACKEND_NOTFOUND)
				return status;
		}
		status = write_bigdata(db, data, pointer);
		if (status != NEO_BACKEND_OK)
			return status;
		data = (struct neo_bytes){ pointer, sizeof pointer };
		value_length = sizeof pointer;
	} else if (data.size + PACKET_OVERHEAD > db->max_allowed_packet) {
		return too_big(db, data.size);
	}
	status = take_data_id(db, partition, &id);
	if (status != NEO_BACKEND_OK)
		return status;
	neo_mysql_bind_id(&params[0], &id);
	neo_mysql_bind_bytes(&params[1], checksum, &hash_length);
	neo_mysql_bind_id(&params[2], &comp);
	neo_mysql_bind_bytes(&params[3], data.data, &value_length);
	/* With dedup, the unique index finds a duplicate on the way: the
	 * common case (new bytes) costs one statement. */
	status = neo_mysql_run(db, "INSERT INTO data (id, hash, compression, value)"
			       " VALUES (?, ?, ?, ?)", params, NULL);
	if (status == NEO_BACKEND_EDUP && db->dedup) {
		status = find_duplicate(db, checksum, comp, data, data_id);
		return status == NEO_BACKEND_NOTFOUND ? NEO_BACKEND_ECORRUPT : status;
	}
	if (status == NEO_BACKEND_OK)
		*data_id = id;
	return status;
}

int neo_mysql_data_get(struct neo_db *db, uint64_t data_id, uint8_t *compression,
		       uint8_t checksum[20], struct neo_bytes *data)
{
	struct neo_mysql_row row = { .ids = 1, .blobs = 2 };
	MYSQL_BIND params[1];
	int status;

	neo_mysql_bind_id(&params[0], &data_id);
	status = neo_mysql_query_row(db, "SELECT compression, value, hash FROM data WHERE id = ?",
					     params, &row);
	if (status != NEO_BACKEND_OK)
		return status;
	*compression = (uint8_t)(row.id[0] & ~BIGDATA_FLAG);
	if (row.blob[1].size == 20)
		memcpy(checksum, row.blob[1].data, 20);
	*data = row.blob[0];
	return row.id[0] & BIGDATA_FLAG ? read_bigdata(db, data_id, row.blob[0], data)
					: NEO_BACKEND_OK;
}

/* A revision and its data in one round trip (the load path).  As
 * upstream, the primary key is forced: left to choose, the optimizer
 * weighs the tid index on every execution, which doubled the time of a
 * load here. */
static const char *const revision_queries[] = {
	[NEO_BACKEND_OBJ_LATEST] = "SELECT tid, data_id, value_tid, compression, value, hash"
		" FROM obj FORCE INDEX (PRIMARY) LEFT JOIN data ON data.id = obj.data_id"
		" WHERE `partition` = ? AND oid = ? ORDER BY tid DESC LIMIT 1",
	[NEO_BACKEND_OBJ_EXACT] = "SELECT tid, data_id, value_tid, compression, value, hash"
		" FROM obj FORCE INDEX (PRIMARY) LEFT JOIN data ON data.id = obj.data_id"
		" WHERE `partition` = ? AND oid = ? AND tid = ?",
	[NEO_BACKEND_OBJ_BEFORE] = "SELECT tid, data_id, value_tid, compression, value, hash"
		" FROM obj FORCE INDEX (PRIMARY) LEFT JOIN data ON data.id = obj.data_id"
		" WHERE `partition` = ? AND oid = ? AND tid < ? ORDER BY tid DESC LIMIT 1",
};

static int next_serial(struct neo_db *db, uint64_t partition, uint64_t oid, uint64_t serial,
		       struct neo_opt_id *out)
{
	struct neo_mysql_row row = { .ids = 1 };
	MYSQL_BIND params[3];
	int status;

	neo_mysql_bind_id(&params[0], &partition);
	neo_mysql_bind_id(&params[1], &oid);
	neo_mysql_bind_id(&params[2], &serial);
	status = neo_mysql_query_row(db, "SELECT tid FROM obj FORCE INDEX (PRIMARY) WHERE `partition` = ? AND oid = ?"
				   " AND tid > ? ORDER BY tid LIMIT 1", params, &row);
	out->has = status == NEO_BACKEND_OK;
	out->id = out->has ? row.id[0] : 0;
	return status == NEO_BACKEND_NOTFOUND ? NEO_BACKEND_OK : status;
}

/* Fills out from a row of revision_queries. */
static int read_revision(struct neo_db *db, const struct neo_mysql_row *row,
			 struct neo_object *out)
{
	out->serial = row->id[0];
	out->has_data = !row->null[1];
	out->data_serial.has = !row->null[2];
	out->data_serial.id = row->id[2];
	if (!out->has_data)
		return NEO_BACKEND_OK;
	if (row->null[3]) {
		snprintf(db->errmsg, sizeof(db->errmsg), "a revision refers to missing data");
		return NEO_BACKEND_ECORRUPT;
	}
	out->compression = (uint8_t)(row->id[3] & ~BIGDATA_FLAG);
	out->data = row->blob[0];
	if (row->blob[1].size == 20)
		memcpy(out->checksum, row->blob[1].data, 20);
	return row->id[3] & BIGDATA_FLAG ? read_bigdata(db, row->id[1], row->blob[0], &out->data)
					 : NEO_BACKEND_OK;
}

int neo_mysql_obj_get(struct neo_db *db, uint32_t partition, uint64_t oid,
		      enum neo_backend_obj_at at, uint64_t tid, struct neo_object *out)
{
	struct neo_mysql_row row = { .ids = 4, .blobs = 2 };
	uint64_t p = partition;
	MYSQL_BIND params[3];
	int status;

	if ((unsigned)at > NEO_BACKEND_OBJ_BEFORE)
		return NEO_BACKEND_EINVAL;
	memset(out, 0, sizeof(*out));
	neo_mysql_bind_id(&params[0], &p);
	neo_mysql_bind_id(&params[1], &oid);
	neo_mysql_bind_id(&params[2], &tid);
	status = neo_mysql_query_row(db, revision_queries[at], params, &row);
	if (status == NEO_BACKEND_OK)
		status = read_revision(db, &row, out);
	/* the latest revision has no next one: one query less per load */
	if (status == NEO_BACKEND_OK && at != NEO_BACKEND_OBJ_LATEST)
		status = next_serial(db, p, oid, out->serial, &out->next_serial);
	return status;
}

int neo_mysql_obj_last_serial(struct neo_db *db, uint32_t partition, uint64_t oid,
			      uint64_t *serial)
{
	struct neo_mysql_row row = { .ids = 1 };
	uint64_t p = partition;
	MYSQL_BIND params[2];
	int status;

	neo_mysql_bind_id(&params[0], &p);
	neo_mysql_bind_id(&params[1], &oid);
	status = neo_mysql_query_row(db, "SELECT tid FROM obj FORCE INDEX (PRIMARY) WHERE `partition` = ? AND oid = ?"
				   " ORDER BY tid DESC LIMIT 1", params, &row);
	if (status == NEO_BACKEND_OK)
		*serial = row.id[0];
	return status;
}

int neo_mysql_obj_data_id(struct neo_db *db, uint32_t partition, uint64_t oid, uint64_t serial,
			  struct neo_opt_id *data_id)
{
	struct neo_mysql_row row = { .ids = 1 };
	uint64_t p = partition;
	MYSQL_BIND params[3];
	int status;

	neo_mysql_bind_id(&params[0], &p);
	neo_mysql_bind_id(&params[1], &oid);
	neo_mysql_bind_id(&params[2], &serial);
	status = neo_mysql_query_row(db, "SELECT data_id FROM obj WHERE `partition` = ? AND oid = ?"
				   " AND tid = ?", params, &row);
	if (status == NEO_BACKEND_OK) {
		data_id->has = !row.null[0];
		data_id->id = row.id[0];
	}
	return status;
}

/* "INSERT INTO obj (...) VALUES (?, ?, ?, ?, ?), ..." for rows rows.
 * Staged rows are REPLACEd, as upstream: a vote sent again overwrites
 * its own rows; a committed revision stored twice is EDUP. */
static char *insert_text(bool temporary, size_t rows)
{
	static const char tuple[] = "(?, ?, ?, ?, ?)";
	size_t size = 100 + rows * sizeof(tuple);
	char *sql = malloc(size);
	size_t used;

	if (sql == NULL)
		return NULL;
	used = (size_t)snprintf(sql, size, "%s (`partition`, oid, tid, data_id, value_tid)"
				" VALUES ", temporary ? "REPLACE INTO tobj" : "INSERT INTO obj");
	for (size_t i = 0; i < rows; i++)
		used += (size_t)snprintf(sql + used, size - used, i ? ",%s" : "%s", tuple);
	return sql;
}

/* Inserts rows[0..count) in one statement. */
static int insert_batch(struct neo_db *db, bool temporary, const struct neo_obj_row *rows,
			size_t count, MYSQL_BIND *params, uint64_t *partitions)
{
	char *sql = insert_text(temporary, count);
	int status;

	if (sql == NULL) {
		snprintf(db->errmsg, sizeof(db->errmsg), "out of memory");
		return NEO_BACKEND_EIO;
	}
	for (size_t i = 0; i < count; i++) {
		MYSQL_BIND *p = &params[i * 5];

		partitions[i] = rows[i].partition;
		neo_mysql_bind_id(&p[0], &partitions[i]);
		neo_mysql_bind_id(&p[1], &rows[i].oid);
		neo_mysql_bind_id(&p[2], &rows[i].tid);
		neo_mysql_bind_opt(&p[3], &rows[i].data_id);
		neo_mysql_bind_opt(&p[4], &rows[i].value_tid);
	}
	status = neo_mysql_run(db, sql, params, NULL);
	free(sql);
	return status;
}

/* The largest of the cached batch sizes (NEO_MYSQL_BATCH_ROWS, 16, 1)
 * that count fills: a few prepared texts serve any number of rows. */
static size_t batch_size(size_t count)
{
	if (count >= NEO_MYSQL_BATCH_ROWS)
		return NEO_MYSQL_BATCH_ROWS;
	return count >= 16 ? 16 : 1;
}

int neo_mysql_obj_put(struct neo_db *db, const struct neo_obj_row *rows, size_t count,
		      bool temporary)
{
	size_t most = batch_size(count);	/* the first batch is the largest */
	MYSQL_BIND *params = malloc(most * 5 * sizeof(*params));
	uint64_t *partitions = malloc(most * sizeof(*partitions));
	int status = NEO_BACKEND_OK;

	if (params == NULL || partitions == NULL) {
		snprintf(db->errmsg, sizeof(db->errmsg), "out of memory");
		status = NEO_BACKEND_EIO;
	}
	for (size_t done = 0; done < count && status == NEO_BACKEND_OK;) {
		size_t n = batch_size(count - done);

		status = insert_batch(db, temporary, rows + done, n, params, partitions);
		done += n;
	}
	free(params);
	free(partitions);
	return status;
}
