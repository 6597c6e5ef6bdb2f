/*
 * filestorage/fs_blobdir.c - ZODB's blob directory (the `blob-dir` of a
 * FileStorage), for the Importer and neomigrate: where the file of the
 * blob of revision TID of object OID is, and making such a directory.
 *
 * ZODB names the file <dir>/<oid path>/<tid>.blob, <tid> being the tid's
 * hexadecimal form without leading zeros (an even number of digits,
 * "0x" first: ZODB.utils.tid_repr), and the oid path depends on the
 * layout that <dir>/.layout names: "bushy" (the default: one directory
 * per byte of the oid, 0x00/0x00/.../0x2a) or "lawn" (one directory,
 * the oid's form as the tid's).  As ZODB, a directory without .layout is
 * bushy when empty and lawn otherwise.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filestorage/blob_dir.h"

/* ZODB.utils.oid_repr of an 8-byte id. */
static void id_repr(uint64_t id, char out[19])
{
	char hex[17];
	const char *p = hex;
	size_t n;

	snprintf(hex, sizeof hex, "%016llx", (unsigned long long)id);
	while (*p == '0')
		p++;
	n = strlen(p);
	if (n == 0)
		snprintf(out, 19, "0x00");
	else
		snprintf(out, 19, "0x%s%s", n % 2 ? "0" : "", p);
}

static int oid_dir(const struct blob_dir *bd, uint64_t oid, char *out, size_t len)
{
	size_t used;
	int n;

	if (!bd->bushy) {
		char repr[19];

		id_repr(oid, repr);
		n = snprintf(out, len, "%s/%s", bd->path, repr);
		return n < 0 || (size_t)n >= len ? -1 : 0;
	}
	n = snprintf(out, len, "%s", bd->path);
	if (n < 0 || (size_t)n >= len)
		return -1;
	used = (size_t)n;
	for (int shift = 56; shift >= 0; shift -= 8) {
		n = snprintf(out + used, len - used, "/0x%02x", (unsigned)(oid >> shift) & 0xff);
		if (n < 0 || (size_t)n >= len - used)
			return -1;
		used += (size_t)n;
	}
	return 0;
}

int blob_dir_file(const struct blob_dir *bd, uint64_t oid, uint64_t tid, char *out, size_t len)
{
	char repr[19];
	size_t used;
	int n;

	if (oid_dir(bd, oid, out, len) != 0)
		return -1;
	id_repr(tid, repr);
	used = strlen(out);
	n = snprintf(out + used, len - used, "/%s.blob", repr);
	return n < 0 || (size_t)n >= len - used ? -1 : 0;
}

static bool is_empty_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	bool empty = true;

	if (d == NULL)
		return true;
	while (empty && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
		    strcmp(e->d_name, "tmp") != 0)
			empty = false;
	closedir(d);
	return empty;
}

int blob_dir_open(const char *path, struct blob_dir *bd, char *err, size_t errlen)
{
	char marker[4096 + 16], name[32] = "";
	struct stat st;
	FILE *f;

	bd->path = path;
	bd->bushy = true;
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "blob directory %s: %s", path,
			 errno ? strerror(errno) : "not a directory");
		return -1;
	}
	snprintf(marker, sizeof marker, "%s/.layout", path);
	f = fopen(marker, "r");
	if (f == NULL) {
		bd->bushy = is_empty_dir(path);	/* as ZODB's auto_layout_select */
		return 0;
	}
	if (fgets(name, sizeof name, f) == NULL)
		name[0] = '\0';
	fclose(f);
	name[strcspn(name, " \t\r\n")] = '\0';
	if (strcmp(name, "bushy") == 0 || strcmp(name, "lawn") == 0) {
		bd->bushy = name[0] == 'b';
		return 0;
	}
	snprintf(err, errlen, "blob directory %s: layout '%s' is not ZODB's bushy or lawn",
		 path, name);
	return -1;
}

static int make_dir(const char *path, char *err, size_t errlen)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	snprintf(err, errlen, "cannot make %s: %s", path, strerror(errno));
	return -1;
}

int blob_dir_create(const char *path, struct blob_dir *bd, char *err, size_t errlen)
{
	char marker[4096 + 16];
	FILE *f;

	if (make_dir(path, err, errlen) != 0)
		return -1;
	snprintf(marker, sizeof marker, "%s/.layout", path);
	if (access(marker, F_OK) != 0 && is_empty_dir(path)) {
		f = fopen(marker, "w");
		if (f == NULL || fputs("bushy", f) < 0 || fclose(f) != 0) {
			snprintf(err, errlen, "cannot write %s: %s", marker, strerror(errno));
			return -1;
		}
	}
	return blob_dir_open(path, bd, err, errlen);
}

/* Makes every directory of the file's path below bd->path. */
int blob_dir_make_parents(const struct blob_dir *bd, uint64_t oid, char *err, size_t errlen)
{
	char dir[4096];
	size_t base = strlen(bd->path);

	if (oid_dir(bd, oid, dir, sizeof dir) != 0) {
		snprintf(err, errlen, "blob path too long under %s", bd->path);
		return -1;
	}
	for (char *p = dir + base + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (make_dir(dir, err, errlen) != 0)
			return -1;
		*p = '/';
	}
	return make_dir(dir, err, errlen);
}

bool blob_record_may_be_blob(const void *data, size_t size)
{
	/* as ZODB's is_blob_record: the pickle names the module ZODB.blob
	 * (a record that refers to blobs does too) */
	return data != NULL && memmem(data, size, "ZODB.blob", 9) != NULL;
}

bool blob_record_is_zodb_blob(const void *data, size_t size)
{
	/* the class pickle first: [PROTO n] GLOBAL "ZODB.blob\nBlob\n" */
	return data != NULL && memmem(data, size < 32 ? size : 32, "ZODB.blob\nBlob\n", 15) != NULL;
}
