/*
 * filestorage/fs_index.c - an in-memory index of a Data.fs: every
 * transaction by tid and every revision by (oid, tid), built by one scan
 * of the headers (data bytes are skipped), so that any revision can be
 * read without ZODB's .index file.
 */
#include "filestorage/filestorage.h"

#include <stdlib.h>
#include <string.h>

#include "runtime/alloc.h"

static int rev_cmp(const void *a, const void *b)
{
	const struct fs_index_rev *x = a, *y = b;

	if (x->oid != y->oid)
		return x->oid < y->oid ? -1 : 1;
	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	return 0;
}

static int add_txn(struct fs_index *index, size_t *cap, const struct fs_txn *txn)
{
	if (neo_grow(&index->txns, cap, index->ntxns + 1, sizeof(*index->txns)) != 0)
		return FS_ENOMEM;
	index->txns[index->ntxns].tid = txn->tid;
	index->txns[index->ntxns].pos = txn->pos;
	index->ntxns++;
	return FS_OK;
}

static int add_rev(struct fs_index *index, size_t *cap, const struct fs_record *rec)
{
	if (neo_grow(&index->revs, cap, index->nrevs + 1, sizeof(*index->revs)) != 0)
		return FS_ENOMEM;
	index->revs[index->nrevs].oid = rec->oid;
	index->revs[index->nrevs].tid = rec->tid;
	index->revs[index->nrevs].pos = rec->pos;
	index->nrevs++;
	if (!index->has_oid || rec->oid > index->max_oid)
		index->max_oid = rec->oid;
	index->has_oid = true;
	return FS_OK;
}

static int index_txn_records(struct fs_iter *it, struct fs_index *index, size_t *revcap)
{
	struct fs_record rec;
	int status;

	while ((status = fs_iter_next_record(it, &rec)) == FS_OK) {
		status = add_rev(index, revcap, &rec);
		if (status != FS_OK)
			return status;
	}
	return status == FS_END ? FS_OK : status;
}

int fs_index_build(struct fs_file *fs, uint64_t stop_tid, struct fs_index *index)
{
	struct fs_iter it;
	size_t txncap = 0, revcap = 0;
	int status;

	memset(index, 0, sizeof(*index));
	fs_iter_init(&it, fs, 0, stop_tid);
	index->end = FS_MAGIC_LEN;
	while ((status = fs_iter_next_txn(&it)) == FS_OK) {
		status = add_txn(index, &txncap, &it.txn);
		if (status == FS_OK)
			status = index_txn_records(&it, index, &revcap);
		if (status != FS_OK)
			break;
		index->end = it.pos;
	}
	fs_iter_free(&it);
	if (status != FS_END) {
		fs_index_free(index);
		return status;
	}
	/* (oid, tid) pairs are unique, so the order is total. */
	if (index->nrevs > 0)
		qsort(index->revs, index->nrevs, sizeof(*index->revs), rev_cmp);
	index->bytes = index->end - FS_MAGIC_LEN;
	return FS_OK;
}

void fs_index_free(struct fs_index *index)
{
	neo_free(index->txns);
	neo_free(index->revs);
	memset(index, 0, sizeof(*index));
}

void fs_index_oid(const struct fs_index *index, uint64_t oid, size_t *first, size_t *count)
{
	size_t lo = 0, hi = index->nrevs, start;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (index->revs[mid].oid < oid)
			lo = mid + 1;
		else
			hi = mid;
	}
	start = lo;
	while (lo < index->nrevs && index->revs[lo].oid == oid)
		lo++;
	*first = start;
	*count = lo - start;
}

size_t fs_index_txn_from(const struct fs_index *index, uint64_t tid)
{
	size_t lo = 0, hi = index->ntxns;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (index->txns[mid].tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

long fs_index_txn(const struct fs_index *index, uint64_t tid)
{
	size_t i = fs_index_txn_from(index, tid);

	return i < index->ntxns && index->txns[i].tid == tid ? (long)i : -1;
}
