/*
 * filestorage/fs_write.c - appending committed transactions to a Data.fs
 * in ZODB's format (core/filestorage/format.md): the whole transaction is
 * built in memory, written at the end of the valid part with one write,
 * then synced, so that a crash leaves at worst a truncated tail that
 * readers skip and the next append overwrites.
 */
#include "filestorage/filestorage.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "runtime/alloc.h"

static uint64_t new_record_len(const struct fs_new_record *r)
{
	return FS_DATA_HEADER_LEN + (r->has_data ? r->len : 8);
}

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint8_t *put_txn_header(uint8_t *p, uint64_t tid, uint64_t tlen, char status,
			       const uint8_t *user, size_t ulen, const uint8_t *desc,
			       size_t dlen, const uint8_t *ext, size_t elen)
{
	fs_put_u64(p, tid);
	fs_put_u64(p + 8, tlen);
	p[16] = (uint8_t)status;
	put_u16(p + 17, (uint16_t)ulen);
	put_u16(p + 19, (uint16_t)dlen);
	put_u16(p + 21, (uint16_t)elen);
	p += FS_TXN_HEADER_LEN;
	if (ulen)
		memcpy(p, user, ulen);
	p += ulen;
	if (dlen)
		memcpy(p, desc, dlen);
	p += dlen;
	if (elen)
		memcpy(p, ext, elen);
	return p + elen;
}

static uint8_t *put_record(uint8_t *p, const struct fs_new_record *r, uint64_t tid,
			   uint64_t tpos)
{
	fs_put_u64(p, r->oid);
	fs_put_u64(p + 8, tid);
	fs_put_u64(p + 16, r->prev);
	fs_put_u64(p + 24, tpos);
	put_u16(p + 32, 0);
	fs_put_u64(p + 34, r->has_data ? r->len : 0);
	p += FS_DATA_HEADER_LEN;
	if (r->has_data) {
		memcpy(p, r->data, r->len);
		return p + r->len;
	}
	fs_put_u64(p, r->back);
	return p + 8;
}

static int check_args(struct fs_file *fs, uint64_t tid, char status, size_t ulen, size_t dlen,
		      size_t elen, const struct fs_new_record *records, size_t count)
{
	if (!fs->writable) 
		return fs_fail(fs, FS_EIO, "opened read-only");
	if (ulen > 0xffff || dlen > 0xffff || elen > 0xffff || (status != ' ' && status != 'p')) 
		return fs_fail(fs, FS_ECORRUPT, "transaction metadata too long for "
			 "FileStorage (65535 bytes each at most)");
	if (fs->last_tid && tid <= fs->last_tid) 
		return fs_fail(fs, FS_ECORRUPT, "tid %016llx is not after the last "
			 "one %016llx", (unsigned long long)tid,
			 (unsigned long long)fs->last_tid);
	for (size_t i = 0; i < count; i++)
		if (records[i].has_data && records[i].len == 0) 
			return fs_fail(fs, FS_ECORRUPT, "empty data cannot be "
				 "stored in FileStorage");
	return FS_OK;
}

int fs_append_txn(struct fs_file *fs, uint64_t tid, char status,
		  const uint8_t *user, size_t ulen, const uint8_t *desc, size_t dlen,
		  const uint8_t *ext, size_t elen, const struct fs_new_record *records,
		  size_t count, uint64_t *record_pos)
{
	uint64_t tpos, tlen = FS_TXN_HEADER_LEN + ulen + dlen + elen;
	uint8_t *buf, *p;
	int rc;

	if (fs->end == 0 && (rc = fs_scan_end(fs)) != FS_OK)
		return rc;
	rc = check_args(fs, tid, status, ulen, dlen, elen, records, count);
	if (rc != FS_OK)
		return rc;
	for (size_t i = 0; i < count; i++)
		tlen += new_record_len(&records[i]);
	buf = neo_malloc((size_t)tlen + 8);
	if (buf == NULL)
		return FS_ENOMEM;
	tpos = fs->end;
	p = put_txn_header(buf, tid, tlen, status, user, ulen, desc, dlen, ext, elen);
	for (size_t i = 0; i < count; i++) {
		if (record_pos)
			record_pos[i] = tpos + (uint64_t)(p - buf);
		p = put_record(p, &records[i], tid, tpos);
	}
	fs_put_u64(p, tlen);
	rc = FS_OK;
	for (size_t done = 0; done < tlen + 8;) {
		ssize_t n = pwrite(fs->fd, buf + done, (size_t)(tlen + 8 - done),
				   (off_t)(tpos + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = fs_fail(fs, FS_EIO, "write: %s", strerror(errno));
			break;
		}
		done += (size_t)n;
	}
	neo_free(buf);
	/* Whatever was after the valid part (a torn tail) goes. */
	if (rc == FS_OK && (ftruncate(fs->fd, (off_t)(tpos + tlen + 8)) != 0 ||
			    fdatasync(fs->fd) != 0)) {
		rc = fs_fail(fs, FS_EIO, "sync: %s", strerror(errno));
	}
	if (rc != FS_OK)
		return rc;
	fs->end = tpos + tlen + 8;
	fs->size = fs->end;
	fs->last_tid = tid;
	return FS_OK;
}
