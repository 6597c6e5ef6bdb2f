/*
 * filestorage/fs_read.c - opening a Data.fs and reading its transactions
 * and data records (core/filestorage/format.md says what the bytes are).
 */
#include "filestorage/filestorage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/alloc.h"

/* Chains of back pointers are short in practice; a longer one is a loop. */
#define FS_MAX_BACK_CHAIN 100000

uint64_t fs_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

void fs_put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint16_t u16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

int fs_fail(struct fs_file *fs, int status, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(fs->err, sizeof(fs->err), "%s: ", fs->path);

	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(fs->err))
		vsnprintf(fs->err + n, sizeof(fs->err) - (size_t)n, fmt, ap);
	va_end(ap);
	return status;
}

int fs_pread(struct fs_file *fs, uint64_t pos, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pread(fs->fd, p, len, (off_t)pos);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return fs_fail(fs, FS_EIO, "read at %llu: %s", (unsigned long long)pos,
				    strerror(errno));
		}
		if (n == 0)
			return fs_fail(fs, FS_ECORRUPT, "unexpected end of file at %llu",
				    (unsigned long long)pos);
		p += n;
		pos += (uint64_t)n;
		len -= (size_t)n;
	}
	return FS_OK;
}

static int refresh_size(struct fs_file *fs)
{
	struct stat st;

	if (fstat(fs->fd, &st) != 0)
		return fs_fail(fs, FS_EIO, "stat: %s", strerror(errno));
	fs->size = (uint64_t)st.st_size;
	return FS_OK;
}

static int write_magic(struct fs_file *fs)
{
	if (pwrite(fs->fd, FS_MAGIC, FS_MAGIC_LEN, 0) != FS_MAGIC_LEN || fsync(fs->fd) != 0)
		return fs_fail(fs, FS_EIO, "cannot write the file header: %s", strerror(errno));
	fs->size = FS_MAGIC_LEN;
	return FS_OK;
}

static int check_magic(struct fs_file *fs, bool create)
{
	uint8_t magic[FS_MAGIC_LEN];

	if (fs->size == 0 && create)
		return write_magic(fs);
	if (fs->size < FS_MAGIC_LEN || fs_pread(fs, 0, magic, sizeof(magic)) != FS_OK ||
	    (memcmp(magic, FS_MAGIC, FS_MAGIC_LEN) != 0 &&
	     memcmp(magic, FS_MAGIC_PY2, FS_MAGIC_LEN) != 0))
		return fs_fail(fs, FS_EFORMAT, "not a FileStorage (no \"%s\" nor \"%s\" "
			       "header)", FS_MAGIC, FS_MAGIC_PY2);
	return FS_OK;
}

int fs_open(const char *path, bool writable, bool create, struct fs_file **out,
	    char *err, size_t errlen)
{
	struct fs_file *fs = neo_calloc(1, sizeof(*fs));
	int flags = writable ? O_RDWR : O_RDONLY;
	int status;

	if (fs == NULL) {
		snprintf(err, errlen, "out of memory");
		return FS_ENOMEM;
	}
	if (create)
		flags |= O_CREAT;
	snprintf(fs->path, sizeof(fs->path), "%s", path);
	fs->writable = writable;
	fs->fd = open(path, flags | O_CLOEXEC, 0666);
	if (fs->fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		neo_free(fs);
		return FS_EIO;
	}
	status = refresh_size(fs);
	if (status == FS_OK)
		status = check_magic(fs, create && writable);
	if (status != FS_OK) {
		snprintf(err, errlen, "%s", fs->err);
		fs_close(fs);
		return status;
	}
	*out = fs;
	return FS_OK;
}

void fs_close(struct fs_file *fs)
{
	if (fs == NULL)
		return;
	if (fs->fd >= 0)
		close(fs->fd);
	neo_free(fs);
}

/* Reads a transaction header at pos and its metadata into *buf.  FS_END
 * when there is no complete transaction there, as ZODB's reader stops: the
 * end of the file, a header cut short, a length running past the end, an
 * unfinished checkpoint ('c'), or a redundant length that is not there. */
int fs_read_txn(struct fs_file *fs, uint64_t pos, struct fs_txn *txn, uint8_t **buf,
		size_t *bufcap)
{
	uint8_t h[FS_TXN_HEADER_LEN], tail[8];
	size_t meta;
	int status;

	if (pos + FS_TXN_HEADER_LEN > fs->size)
		return FS_END;
	status = fs_pread(fs, pos, h, sizeof(h));
	if (status != FS_OK)
		return status;
	txn->pos = pos;
	txn->tid = fs_u64(h);
	txn->tlen = fs_u64(h + 8);
	txn->status = (char)h[16];
	txn->ulen = u16(h + 17);
	txn->dlen = u16(h + 19);
	txn->elen = u16(h + 21);
	if (txn->status == 'c' || txn->tlen > fs->size || pos + txn->tlen + 8 > fs->size)
		return FS_END;
	meta = (size_t)txn->ulen + txn->dlen + txn->elen;
	if (txn->tlen < FS_TXN_HEADER_LEN + meta) {
		/* as upstream: a header that cannot be is taken for the end */
		return FS_END;
	}
	status = fs_pread(fs, pos + txn->tlen, tail, sizeof(tail));
	if (status != FS_OK)
		return status;
	if (fs_u64(tail) != txn->tlen)
		return FS_END;
	if (txn->status != ' ' && txn->status != 'p' && txn->status != 'u')
		return fs_fail(fs, FS_ECORRUPT, "invalid transaction status %d at %llu",
			    txn->status, (unsigned long long)pos);
	if (meta > *bufcap) {
		uint8_t *n = neo_realloc(*buf, meta);

		if (n == NULL)
			return fs_fail(fs, FS_ENOMEM, "out of memory");
		*buf = n;
		*bufcap = meta;
	}
	if (meta > 0) {
		status = fs_pread(fs, pos + FS_TXN_HEADER_LEN, *buf, meta);
		if (status != FS_OK)
			return status;
	}
	txn->user = *buf;
	txn->description = *buf + txn->ulen;
	txn->extension = *buf + txn->ulen + txn->dlen;
	txn->records = pos + FS_TXN_HEADER_LEN + meta;
	txn->end = pos + txn->tlen;
	return FS_OK;
}

int fs_read_record(struct fs_file *fs, uint64_t pos, struct fs_record *rec)
{
	uint8_t h[FS_DATA_HEADER_LEN + 8];
	uint16_t vlen;
	int status = fs_pread(fs, pos, h, FS_DATA_HEADER_LEN);

	if (status != FS_OK)
		return status;
	rec->pos = pos;
	rec->oid = fs_u64(h);
	rec->tid = fs_u64(h + 8);
	rec->prev = fs_u64(h + 16);
	rec->tpos = fs_u64(h + 24);
	vlen = u16(h + 32);
	rec->plen = fs_u64(h + 34);
	rec->back = 0;
	if (vlen != 0)
		return fs_fail(fs, FS_ECORRUPT, "data record with a version at %llu "
			    "(versions are not supported, as in ZODB 5)", (unsigned long long)pos);
	if (rec->plen == 0) {
		status = fs_pread(fs, pos + FS_DATA_HEADER_LEN, h + FS_DATA_HEADER_LEN, 8);
		if (status != FS_OK)
			return status;
		rec->back = fs_u64(h + FS_DATA_HEADER_LEN);
	}
	return FS_OK;
}

static uint64_t record_len(const struct fs_record *rec)
{
	return FS_DATA_HEADER_LEN + (rec->plen ? rec->plen : 8);
}

int fs_record_resolve(struct fs_file *fs, const struct fs_record *rec, struct fs_resolved *out)
{
	struct fs_record r = *rec;

	memset(out, 0, sizeof(*out));
	if (r.plen == 0 && r.back != 0) {
		struct fs_record target;
		int status = fs_read_record(fs, r.back, &target);

		if (status != FS_OK)
			return status;
		if (target.oid != rec->oid)
			return fs_fail(fs, FS_ECORRUPT, "back pointer of oid %llu at %llu "
				    "names another oid", (unsigned long long)rec->oid,
				    (unsigned long long)rec->pos);
		out->has_data_txn = true;
		out->data_txn = target.tid;
		r = target;
	}
	for (int hops = 0; r.plen == 0; hops++) {
		if (r.back == 0)
			return FS_OK;	/* no data: an undone creation */
		if (hops > FS_MAX_BACK_CHAIN || r.back >= r.pos)
			return fs_fail(fs, FS_ECORRUPT, "bad back pointer at %llu",
				    (unsigned long long)r.pos);
		int status = fs_read_record(fs, r.back, &r);

		if (status != FS_OK)
			return status;
	}
	out->has_data = true;
	out->data_pos = r.pos + FS_DATA_HEADER_LEN;
	out->data_len = r.plen;
	return FS_OK;
}

void fs_iter_init(struct fs_iter *it, struct fs_file *fs, uint64_t start_pos, uint64_t stop_tid)
{
	memset(it, 0, sizeof(*it));
	it->fs = fs;
	it->pos = start_pos ? start_pos : FS_MAGIC_LEN;
	it->stop_tid = stop_tid;
}

int fs_iter_next_txn(struct fs_iter *it)
{
	for (;;) {
		int status;

		if (it->ended)
			return FS_END;
		status = fs_read_txn(it->fs, it->pos, &it->txn, &it->buf, &it->bufcap);
		if (status != FS_OK) {
			it->ended = true;
			return status;
		}
		if (it->stop_tid && it->txn.tid > it->stop_tid) {
			it->ended = true;
			return FS_END;
		}
		it->pos = it->txn.end + 8;
		it->rec_pos = it->txn.records;
		/* as upstream: 'u' transactions are skipped */
		if (it->txn.status != 'u')
			return FS_OK;
	}
}

int fs_iter_next_record(struct fs_iter *it, struct fs_record *rec)
{
	int status;

	if (it->rec_pos >= it->txn.end)
		return FS_END;
	status = fs_read_record(it->fs, it->rec_pos, rec);
	if (status != FS_OK)
		return status;
	if (rec->tpos != it->txn.pos || it->rec_pos + record_len(rec) > it->txn.end ||
	    rec->tid != it->txn.tid)
		return fs_fail(it->fs, FS_ECORRUPT, "data record at %llu does not belong to "
			    "its transaction at %llu", (unsigned long long)it->rec_pos,
			    (unsigned long long)it->txn.pos);
	it->rec_pos += record_len(rec);
	return FS_OK;
}

void fs_iter_free(struct fs_iter *it)
{
	neo_free(it->buf);
	it->buf = NULL;
	it->bufcap = 0;
}

int fs_scan_end(struct fs_file *fs)
{
	struct fs_iter it;
	int status;

	status = refresh_size(fs);
	if (status != FS_OK)
		return status;
	fs_iter_init(&it, fs, 0, 0);
	fs->end = FS_MAGIC_LEN;
	fs->last_tid = 0;
	/* fs_read_txn stops at the first incomplete transaction; 'u' ones are
	 * still part of the file. */
	for (;;) {
		status = fs_read_txn(fs, it.pos, &it.txn, &it.buf, &it.bufcap);
		if (status != FS_OK)
			break;
		fs->last_tid = it.txn.tid;
		it.pos = it.txn.end + 8;
		fs->end = it.pos;
	}
	fs_iter_free(&it);
	return status == FS_END ? FS_OK : status;
}
