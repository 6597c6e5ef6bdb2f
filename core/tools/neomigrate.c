/*
 * neomigrate - copies a FileStorage into a NEO cluster, or a NEO cluster
 * into a FileStorage, with upstream's command line:
 *
 *   neomigrate -c CLUSTER [-q] [-l LOGFILE] [--ca --cert --key] SOURCE DESTINATION
 *
 * As upstream: FileStorage -> NEO when SOURCE is an existing file (then
 * DESTINATION is the masters' addresses), NEO -> FileStorage otherwise.
 * Unlike upstream's, undo records keep their back pointers both ways
 * (NEO stores them as undo revisions), every transaction keeps its tid,
 * user, description and extension, and a FileStorage destination that
 * already holds transactions gets only the later ones (an interrupted
 * copy goes on).  The FileStorage is read and written by core/filestorage,
 * the cluster through libneoclient.  A progress bar goes to stderr unless
 * -q.  The Importer backend (conf/importer.conf) is the better way in: its
 * database is usable at once.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "filestorage/filestorage.h"
#include "neo/client.h"
#include "runtime/alloc.h"

#define MAX_TID 0x7fffffffffffffffull

struct migrate {
	const char *cluster, *source, *destination, *logfile, *ca, *cert, *key;
	bool quiet;
	struct neo_client *client;
	struct fs_file *fs;
	double started, last_bar;
	uint8_t *buf;
	size_t bufcap;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress(struct migrate *m, uint64_t done, uint64_t total, uint64_t bytes, bool last)
{
	double t = now(), elapsed = t - m->started;
	int width = 30, filled = total ? (int)((double)done * width / (double)total) : width;

	if (m->quiet || (!last && t - m->last_bar < 0.2))
		return;
	m->last_bar = t;
	fprintf(stderr, "\r[%.*s%*s] %3d%% %" PRIu64 "/%" PRIu64 " transactions, %.1f MB, "
		"%.1f MB/s", filled, "##############################", width - filled, "",
		total ? (int)(done * 100 / total) : 100, done, total, (double)bytes / 1e6,
		elapsed > 0 ? (double)bytes / 1e6 / elapsed : 0.0);
	if (last)
		fputc('\n', stderr);
}

static int open_client(struct migrate *m, const char *masters, bool read_only)
{
	struct neo_client_config config = { .struct_size = sizeof config };

	config.cluster = m->cluster;
	config.masters = masters;
	config.read_only = read_only;
	config.ca = m->ca;
	config.cert = m->cert;
	config.key = m->key;
	config.logfile = m->logfile;
	if (neo_client_open(&config, &m->client) != NEO_CLIENT_OK) {
		fprintf(stderr, "neomigrate: cannot connect to %s: %s\n", masters,
			neo_client_errmsg());
		return -1;
	}
	return 0;
}

static int grow(struct migrate *m, size_t need)
{
	return need <= m->bufcap ? 0 : neo_grow(&m->buf, &m->bufcap, need, 1);
}

/* --- FileStorage -> NEO ----------------------------------------------------- */

/* The serial of the revision before rec (0: rec creates the object). */
static int base_serial(struct migrate *m, const struct fs_record *rec, uint64_t *serial)
{
	struct fs_record prev;

	*serial = 0;
	if (rec->prev == 0)
		return 0;
	if (fs_read_record(m->fs, rec->prev, &prev) != FS_OK)
		return -1;
	*serial = prev.tid;
	return 0;
}

static int store_record(struct migrate *m, struct neo_txn *txn, const struct fs_record *rec)
{
	struct fs_resolved r;
	uint64_t base;

	if (fs_record_resolve(m->fs, rec, &r) != FS_OK || base_serial(m, rec, &base) != 0)
		return -1;
	if (r.has_data_txn)
		return neo_txn_store_undo(txn, rec->oid, base, r.data_txn);
	if (!r.has_data)
		return neo_txn_delete(txn, rec->oid, base);
	if (grow(m, (size_t)r.data_len + 1) != 0 ||
	    fs_pread(m->fs, r.data_pos, m->buf, (size_t)r.data_len) != FS_OK)
		return -1;
	return neo_txn_store(txn, rec->oid, base, m->buf, (size_t)r.data_len);
}

static int copy_fs_txn(struct migrate *m, struct fs_iter *it)
{
	struct neo_client_conflict *conflicts = NULL;
	struct neo_txn *txn;
	struct fs_record rec;
	size_t nconflicts = 0;
	uint64_t tid = 0;
	int rc = neo_client_begin(m->client, it->txn.tid, &txn);

	if (rc != NEO_CLIENT_OK)
		return -1;
	while (rc == NEO_CLIENT_OK && (rc = fs_iter_next_record(it, &rec)) == FS_OK)
		rc = store_record(m, txn, &rec);
	if (rc == FS_END)
		rc = neo_txn_vote(txn, it->txn.user, it->txn.ulen, it->txn.description,
				  it->txn.dlen, it->txn.extension, it->txn.elen, &conflicts,
				  &nconflicts);
	if (rc == NEO_CLIENT_OK)
		rc = neo_txn_finish(txn, &tid);
	neo_client_conflicts_free(conflicts, nconflicts);
	if (rc != NEO_CLIENT_OK) {
		fprintf(stderr, "\nneomigrate: transaction %016" PRIx64 ": %s%s\n", it->txn.tid,
			neo_client_errmsg(), m->fs->err);
		neo_txn_abort(txn);
		return -1;
	}
	if (tid != it->txn.tid) {
		fprintf(stderr, "\nneomigrate: transaction %016" PRIx64 " committed as %016" PRIx64
			"\n", it->txn.tid, tid);
		return -1;
	}
	return 0;
}

static int fs_to_neo(struct migrate *m)
{
	struct fs_iter it;
	uint64_t count = 0, total, last = 0;
	char err[512];
	int rc;

	if (fs_open(m->source, false, false, &m->fs, err, sizeof err) != FS_OK) {
		fprintf(stderr, "neomigrate: %s\n", err);
		return 1;
	}
	if (fs_scan_end(m->fs) != FS_OK || open_client(m, m->destination, false) != 0)
		return 1;
	neo_client_last_tid(m->client, &last);
	total = 0;
	fs_iter_init(&it, m->fs, 0, 0);
	while (fs_iter_next_txn(&it) == FS_OK)
		total++;
	fs_iter_free(&it);
	fs_iter_init(&it, m->fs, 0, 0);
	while ((rc = fs_iter_next_txn(&it)) == FS_OK) {
		count++;
		/* an interrupted copy goes on after what the cluster has */
		if (it.txn.tid > last && copy_fs_txn(m, &it) != 0)
			break;
		progress(m, count, total, it.pos - FS_MAGIC_LEN, false);
	}
	fs_iter_free(&it);
	progress(m, count, total, m->fs->end - FS_MAGIC_LEN, true);
	return rc == FS_END ? 0 : 1;
}

/* --- NEO -> FileStorage ------------------------------------------------------- */

/* oid -> position of its last record in the destination, open addressing. */
struct oid_map {
	uint64_t *keys, *values;	/* key oid + 1, 0 for a free slot */
	size_t cap, count;
};

static uint64_t *oid_slot(struct oid_map *map, uint64_t oid)
{
	size_t i = (size_t)((oid * 0x9e3779b97f4a7c15ull) >> 20) & (map->cap - 1);

	while (map->keys[i] != 0 && map->keys[i] != oid + 1)
		i = (i + 1) & (map->cap - 1);
	return &map->keys[i];
}

static int oid_set(struct oid_map *map, uint64_t oid, uint64_t pos)
{
	uint64_t *key;

	if (2 * (map->count + 1) > map->cap) {
		struct oid_map bigger = { neo_calloc(map->cap ? 2 * map->cap : 1024, 8),
					  neo_calloc(map->cap ? 2 * map->cap : 1024, 8),
					  map->cap ? 2 * map->cap : 1024, 0 };

		if (bigger.keys == NULL || bigger.values == NULL)
			return -1;
		for (size_t i = 0; i < map->cap; i++)
			if (map->keys[i])
				oid_set(&bigger, map->keys[i] - 1, map->values[i]);
		neo_free(map->keys);
		neo_free(map->values);
		*map = bigger;
	}
	key = oid_slot(map, oid);
	if (*key == 0)
		map->count++;
	*key = oid + 1;
	map->values[key - map->keys] = pos;
	return 0;
}

static uint64_t oid_get(struct oid_map *map, uint64_t oid)
{
	uint64_t *key = map->cap ? oid_slot(map, oid) : NULL;

	return key && *key ? map->values[key - map->keys] : 0;
}

/* The position of the record (oid, tid) in the destination, by its prev
 * pointers from the oid's last one; 0 if none. */
static uint64_t record_at(struct migrate *m, struct oid_map *map, uint64_t oid, uint64_t tid)
{
	uint64_t pos = oid_get(map, oid);
	struct fs_record rec;

	while (pos && fs_read_record(m->fs, pos, &rec) == FS_OK && rec.tid > tid)
		pos = rec.prev;
	return pos && fs_read_record(m->fs, pos, &rec) == FS_OK && rec.tid == tid ? pos : 0;
}

struct neo_txn_copy {
	struct fs_new_record *recs;
	size_t count, cap;
	uint8_t *data;
	size_t datalen, datacap;
	size_t *offsets;
	size_t offcap;
};

static int add_neo_record(struct migrate *m, struct oid_map *map, struct neo_txn_copy *c,
			  uint64_t oid, uint64_t tid)
{
	struct neo_client_record rec = { 0 };
	struct fs_new_record *r;
	uint64_t data_serial = 0;
	int rc = neo_client_load_serial_ex(m->client, oid, tid, &rec, &data_serial);

	if (rc == NEO_CLIENT_NOT_FOUND || (rc == NEO_CLIENT_NO_DATA && rec.serial != tid)) {
		neo_client_record_clear(&rec);
		return 0;	/* as upstream: an oid only checked, not written */
	}
	if ((rc != NEO_CLIENT_OK && rc != NEO_CLIENT_NO_DATA) ||
	    neo_grow(&c->recs, &c->cap, c->count + 1, sizeof(*c->recs)) != 0 ||
	    neo_grow(&c->offsets, &c->offcap, c->count + 1, sizeof(*c->offsets)) != 0 ||
	    neo_grow(&c->data, &c->datacap, c->datalen + rec.size + 1, 1) != 0) {
		fprintf(stderr, "\nneomigrate: oid %016" PRIx64 " at %016" PRIx64 ": %s\n", oid, tid,
			neo_client_errmsg());
		neo_client_record_clear(&rec);
		return -1;
	}
	r = &c->recs[c->count];
	memset(r, 0, sizeof(*r));
	r->oid = oid;
	r->prev = oid_get(map, oid);
	c->offsets[c->count] = c->datalen;
	if (data_serial) {
		r->back = record_at(m, map, oid, data_serial);
	} else if (rc == NEO_CLIENT_OK && rec.size > 0) {
		r->has_data = true;
		r->len = rec.size;
		memcpy(c->data + c->datalen, rec.data, rec.size);
		c->datalen += rec.size;
	}
	c->count++;
	neo_client_record_clear(&rec);
	return 0;
}

static int copy_neo_txn(struct migrate *m, struct oid_map *map, struct neo_txn_copy *c,
			uint64_t tid)
{
	struct neo_client_txn_info info = { 0 };
	uint64_t *pos = NULL;
	int rc = neo_client_transaction_info(m->client, tid, &info);

	c->count = 0;
	c->datalen = 0;
	for (size_t i = 0; rc == NEO_CLIENT_OK && i < info.oid_count; i++)
		if (add_neo_record(m, map, c, info.oids[i], tid) != 0)
			rc = -1;
	for (size_t i = 0; i < c->count; i++)
		if (c->recs[i].has_data)
			c->recs[i].data = c->data + c->offsets[i];
	pos = neo_malloc(sizeof(*pos) * (c->count + 1));
	if (rc == NEO_CLIENT_OK && pos != NULL)
		rc = fs_append_txn(m->fs, tid, info.packed ? 'p' : ' ', info.user, info.user_size,
				   info.description, info.description_size, info.extension,
				   info.extension_size, c->recs, c->count, pos) == FS_OK ? 0 : -2;
	for (size_t i = 0; rc == 0 && pos && i < c->count; i++)
		if (oid_set(map, c->recs[i].oid, pos[i]) != 0)
			rc = -1;
	if (rc != 0)
		fprintf(stderr, "\nneomigrate: transaction %016" PRIx64 ": %s\n", tid,
			rc == -2 ? m->fs->err : neo_client_errmsg());
	neo_free(pos);
	neo_client_txn_info_clear(&info);
	return rc == 0 && pos ? 0 : -1;
}

/* The records already in the destination (an interrupted copy). */
static int map_existing(struct migrate *m, struct oid_map *map)
{
	struct fs_iter it;
	struct fs_record rec;
	int rc;

	fs_iter_init(&it, m->fs, 0, 0);
	while ((rc = fs_iter_next_txn(&it)) == FS_OK)
		while ((rc = fs_iter_next_record(&it, &rec)) == FS_OK)
			if (oid_set(map, rec.oid, rec.pos) != 0)
				rc = FS_ENOMEM;
	fs_iter_free(&it);
	return rc == FS_END ? 0 : -1;
}

static int neo_to_fs(struct migrate *m)
{
	struct oid_map map = { 0 };
	struct neo_txn_copy c = { 0 };
	uint64_t *tids = NULL, bytes = 0;
	size_t count = 0, done = 0;
	char err[512];
	int status = 1;

	if (fs_open(m->destination, true, true, &m->fs, err, sizeof err) != FS_OK) {
		fprintf(stderr, "neomigrate: %s\n", err);
		return 1;
	}
	if (fs_scan_end(m->fs) != FS_OK || map_existing(m, &map) != 0) {
		fprintf(stderr, "neomigrate: %s\n", m->fs->err);
		goto done;
	}
	if (open_client(m, m->source, true) != 0)
		goto done;
	if (neo_client_tids_from(m->client, m->fs->last_tid + 1, MAX_TID, 0, &tids, &count) !=
	    NEO_CLIENT_OK) {
		fprintf(stderr, "neomigrate: %s\n", neo_client_errmsg());
		goto done;
	}
	for (done = 0; done < count; done++) {
		uint64_t before = m->fs->end;

		if (copy_neo_txn(m, &map, &c, tids[done]) != 0)
			break;
		bytes += m->fs->end - before;
		progress(m, done + 1, count, bytes, false);
	}
	progress(m, done, count, bytes, true);
	status = done == count ? 0 : 1;
done:
	neo_client_free(tids);
	neo_free(map.keys);
	neo_free(map.values);
	neo_free(c.recs);
	neo_free(c.data);
	neo_free(c.offsets);
	return status;
}

/* --- Command line ------------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out, "usage: neomigrate -c CLUSTER [-q] [-l LOGFILE] [--ca CA --cert CERT "
		"--key KEY] SOURCE DESTINATION\n\n"
		"NEO <-> FileStorage conversion tool: FileStorage -> NEO when SOURCE is an\n"
		"existing file (DESTINATION: the masters, \"host:port ...\"), NEO -> FileStorage\n"
		"otherwise (SOURCE: the masters, DESTINATION: the file).\n\n"
		"  -c, --cluster CLUSTER  the NEO cluster name (required)\n"
		"  -q, --quiet            print nothing to standard output\n"
		"  -l, --logfile FILE     the client's log\n"
		"      --ca, --cert, --key  (SSL) certificate authority, certificate, key (PEM)\n"
		"  -h, --help             show this help\n");
}

static int parse(int argc, char **argv, struct migrate *m)
{
	static const struct option longs[] = {
		{ "cluster", required_argument, NULL, 'c' }, { "quiet", no_argument, NULL, 'q' },
		{ "logfile", required_argument, NULL, 'l' }, { "ca", required_argument, NULL, 1 },
		{ "cert", required_argument, NULL, 2 }, { "key", required_argument, NULL, 3 },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:ql:h", longs, NULL)) != -1) {
		switch (c) {
		case 'c': m->cluster = optarg; break;
		case 'q': m->quiet = true; break;
		case 'l': m->logfile = optarg; break;
		case 1: m->ca = optarg; break;
		case 2: m->cert = optarg; break;
		case 3: m->key = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (m->cluster == NULL || argc - optind != 2) {
		fprintf(stderr, "neomigrate: %s\n", m->cluster == NULL ? "-c CLUSTER is required"
			: "SOURCE and DESTINATION are required");
		usage(stderr);
		return -1;
	}
	if ((m->ca || m->cert || m->key) && !(m->ca && m->cert && m->key)) {
		fprintf(stderr, "neomigrate: SSL needs all three of --ca, --cert and --key\n");
		return -1;
	}
	m->source = argv[optind];
	m->destination = argv[optind + 1];
	return 0;
}

int main(int argc, char **argv)
{
	struct migrate m = { 0 };
	struct stat st;
	bool from_file;
	int status;

	if (parse(argc, argv, &m) != 0)
		return 2;
	from_file = stat(m.source, &st) == 0;	/* as upstream: os.path.exists */
	if (!m.quiet)
		printf("Migrating from %s to %s\n", m.source, m.destination);
	m.started = now();
	status = from_file ? fs_to_neo(&m) : neo_to_fs(&m);
	if (m.client)
		neo_client_close(m.client);
	fs_close(m.fs);
	neo_free(m.buf);
	if (!m.quiet && status == 0)
		printf("Migration done in %3.5f\n", now() - m.started);
	return status;
}
