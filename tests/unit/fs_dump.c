/*
 * tests/unit/fs_dump.c - core/filestorage seen from outside, for
 * test_filestorage.sh, which compares its output with ZODB's own
 * iterator (tests/lib/fs_dump.py prints the same format):
 *
 *   fs_dump PATH [--load]   dump every transaction and record; --load
 *                           adds each oid's current revision via the index
 *   fs_dump --copy SRC DST  rewrite SRC into a new DST with fs_append_txn,
 *                           back pointers mapped to the new positions
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "filestorage/filestorage.h"
#include "runtime/alloc.h"

static void print_hex(const uint8_t *p, size_t n)
{
	if (n == 0) {
		fputs(" -", stdout);
		return;
	}
	putchar(' ');
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

static int read_data(struct fs_file *fs, const struct fs_resolved *r, uint8_t **data)
{
	*data = neo_malloc(r->data_len ? (size_t)r->data_len : 1);
	if (*data == NULL)
		return FS_ENOMEM;
	return fs_pread(fs, r->data_pos, *data, (size_t)r->data_len);
}

static void print_sha1(const uint8_t *data, size_t len)
{
	uint8_t md[SHA_DIGEST_LENGTH];

	SHA1(data, len, md);
	putchar(' ');
	for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
		printf("%02x", md[i]);
}

static int dump_record(struct fs_file *fs, const struct fs_record *rec)
{
	struct fs_resolved r;
	uint8_t *data = NULL;
	int status = fs_record_resolve(fs, rec, &r);

	if (status != FS_OK)
		return status;
	printf("R %016" PRIx64 " %016" PRIx64, rec->oid, rec->tid);
	if (r.has_data_txn)
		printf(" %016" PRIx64, r.data_txn);
	else
		fputs(" -", stdout);
	if (!r.has_data) {
		puts(" none 0");
		return FS_OK;
	}
	status = read_data(fs, &r, &data);
	if (status == FS_OK) {
		print_sha1(data, (size_t)r.data_len);
		printf(" %" PRIu64 "\n", r.data_len);
	}
	neo_free(data);
	return status;
}

static int dump(struct fs_file *fs)
{
	struct fs_iter it;
	struct fs_record rec;
	int status;

	fs_iter_init(&it, fs, 0, 0);
	while ((status = fs_iter_next_txn(&it)) == FS_OK) {
		printf("T %016" PRIx64 " %c", it.txn.tid, it.txn.status == 'p' ? 'p' : '_');
		print_hex(it.txn.user, it.txn.ulen);
		print_hex(it.txn.description, it.txn.dlen);
		print_hex(it.txn.extension, it.txn.elen);
		putchar('\n');
		while ((status = fs_iter_next_record(&it, &rec)) == FS_OK)
			if ((status = dump_record(fs, &rec)) != FS_OK)
				break;
		if (status != FS_END)
			break;
	}
	fs_iter_free(&it);
	return status == FS_END ? FS_OK : status;
}

static int load_all(struct fs_file *fs)
{
	struct fs_index index;
	int status = fs_index_build(fs, 0, &index);

	if (status != FS_OK)
		return status;
	for (size_t i = 0; i < index.nrevs && status == FS_OK; i++) {
		struct fs_record rec;
		struct fs_resolved r;
		uint8_t *data = NULL;

		if (i + 1 < index.nrevs && index.revs[i + 1].oid == index.revs[i].oid)
			continue;	/* not the current revision */
		status = fs_read_record(fs, index.revs[i].pos, &rec);
		if (status == FS_OK)
			status = fs_record_resolve(fs, &rec, &r);
		if (status != FS_OK)
			break;
		if (!r.has_data) {
			printf("L %016" PRIx64 " none\n", rec.oid);
			continue;
		}
		status = read_data(fs, &r, &data);
		if (status == FS_OK) {
			printf("L %016" PRIx64 " %016" PRIx64, rec.oid, rec.tid);
			print_sha1(data, (size_t)r.data_len);
			putchar('\n');
		}
		neo_free(data);
	}
	fs_index_free(&index);
	return status;
}

/* Maps a source record position to the copy's, for back pointers. */
struct pos_pair {
	uint64_t from, to;
};

struct pos_map {
	struct pos_pair *pairs;		/* in ascending order of from */
	size_t count, cap;
};

static uint64_t map_pos(const struct pos_map *m, uint64_t from)
{
	size_t lo = 0, hi = m->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->pairs[mid].from < from)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < m->count && m->pairs[lo].from == from ? m->pairs[lo].to : 0;
}

static int copy_txn(struct fs_file *src, struct fs_file *dst, struct fs_iter *it,
		    struct pos_map *m)
{
	struct fs_new_record recs[4096];
	uint64_t srcpos[4096], newpos[4096];
	uint8_t *bufs[4096];
	size_t n = 0;
	struct fs_record rec;
	int status;

	while (n < 4096 && (status = fs_iter_next_record(it, &rec)) == FS_OK) {
		memset(&recs[n], 0, sizeof(recs[n]));
		bufs[n] = NULL;
		recs[n].oid = rec.oid;
		srcpos[n] = rec.pos;
		if (rec.plen) {
			recs[n].has_data = true;
			recs[n].len = (size_t)rec.plen;
			bufs[n] = neo_malloc((size_t)rec.plen);
			if (bufs[n] == NULL)
				return FS_ENOMEM;
			status = fs_pread(src, rec.pos + FS_DATA_HEADER_LEN, bufs[n], (size_t)rec.plen);
			if (status != FS_OK)
				return status;
			recs[n].data = bufs[n];
		} else {
			recs[n].back = rec.back ? map_pos(m, rec.back) : 0;
		}
		recs[n].prev = rec.prev ? map_pos(m, rec.prev) : 0;
		n++;
	}
	if (n == 4096 && fs_iter_next_record(it, &rec) != FS_END) {
		fprintf(stderr, "fs_dump: more than 4096 records in a transaction\n");
		status = FS_ENOMEM;
	} else {
		status = FS_OK;
	}
	if (status == FS_OK)
		status = fs_append_txn(dst, it->txn.tid, it->txn.status == 'p' ? 'p' : ' ', it->txn.user,
			       it->txn.ulen, it->txn.description, it->txn.dlen, it->txn.extension,
			       it->txn.elen, recs, n, newpos);
	for (size_t i = 0; i < n; i++) {
		neo_free(bufs[i]);
		if (status != FS_OK)
			continue;
		if (neo_grow(&m->pairs, &m->cap, m->count + 1, sizeof(*m->pairs)) != 0)
			status = FS_ENOMEM;
		else
			m->pairs[m->count++] = (struct pos_pair){srcpos[i], newpos[i]};
	}
	return status;
}

static int copy(const char *from, const char *to)
{
	struct fs_file *src, *dst;
	struct fs_iter it;
	struct pos_map m = {0};
	char err[512];
	int status;

	if (fs_open(from, false, false, &src, err, sizeof(err)) != FS_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (fs_open(to, true, true, &dst, err, sizeof(err)) != FS_OK) {
		fprintf(stderr, "%s\n", err);
		fs_close(src);
		return 1;
	}
	fs_iter_init(&it, src, 0, 0);
	while ((status = fs_iter_next_txn(&it)) == FS_OK)
		if ((status = copy_txn(src, dst, &it, &m)) != FS_OK)
			break;
	fs_iter_free(&it);
	if (status != FS_END)
		fprintf(stderr, "copy: %s / %s\n", src->err, dst->err);
	neo_free(m.pairs);
	fs_close(src);
	fs_close(dst);
	return status == FS_END ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct fs_file *fs;
	char err[512];
	int status;

	if (argc == 4 && strcmp(argv[1], "--copy") == 0)
		return copy(argv[2], argv[3]);
	if (argc < 2) {
		fprintf(stderr, "usage: fs_dump PATH [--load] | --copy SRC DST\n");
		return 2;
	}
	if (fs_open(argv[1], false, false, &fs, err, sizeof(err)) != FS_OK) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	status = dump(fs);
	if (status == FS_OK && argc > 2 && strcmp(argv[2], "--load") == 0)
		status = load_all(fs);
	if (status != FS_OK)
		fprintf(stderr, "fs_dump: %s\n", fs->err);
	fs_close(fs);
	return status == FS_OK ? 0 : 1;
}
