/*
 * importer_conf.c - reading importer.conf, upstream's format (see
 * conf/importer.conf): the first section describes the destination
 * (adapter, engine, database, wait, writeback, compress), the next one the
 * source, whose storage= is a ZConfig <filestorage> section.  What upstream
 * accepts and we do not (several sources merged at mount points, a source
 * that is not a FileStorage) is refused with a message, never ignored.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "importer_db.h"
#include "runtime/alloc.h"
#include "runtime/config.h"

struct key_check {
	const char *const *allowed;
	const char *section;
	char *err;
	size_t errlen;
	const char *file;
};

static int check_key(void *ctx, const char *key, int line)
{
	struct key_check *c = ctx;

	for (size_t i = 0; c->allowed[i]; i++)
		if (strcmp(c->allowed[i], key) == 0)
			return 0;
	snprintf(c->err, c->errlen, "%s:%d: [%s] %s is not supported by our Importer "
		 "(merging databases at mount points is not: import one FileStorage)",
		 c->file, line, c->section, key);
	return -1;
}

static int get(const struct neo_config *cfg, const char *section, const char *key,
	       char **value, char *err, size_t errlen)
{
	*value = NULL;
	return neo_config_get(cfg, section, key, value, NULL, err, errlen) < 0 ? -1 : 0;
}

/* as upstream: booleans are exactly "true" or "false" */
static int parse_bool(const char *file, const char *key, const char *value, bool *out,
		      char *err, size_t errlen)
{
	if (value == NULL)
		return 0;
	if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0) {
		*out = strcmp(value, "true") == 0;
		return 0;
	}
	snprintf(err, errlen, "%s: %s must be true or false, not '%s'", file, key, value);
	return -1;
}

/* compress, as upstream: true (zlib, its default level), false, zlib or
 * zlib=LEVEL (1 to 9). */
static int parse_compress(const char *file, const char *value, int *level, char *err,
			  size_t errlen)
{
	char *end;
	long n;

	*level = 6;
	if (value == NULL || strcmp(value, "true") == 0 || strcmp(value, "zlib") == 0)
		return 0;
	if (strcmp(value, "false") == 0) {
		*level = -1;
		return 0;
	}
	if (strncmp(value, "zlib=", 5) == 0) {
		n = strtol(value + 5, &end, 10);
		if (*end == '\0' && end != value + 5 && n >= 1 && n <= 9) {
			*level = (int)n;
			return 0;
		}
	}
	snprintf(err, errlen, "%s: compress must be true, false, zlib or zlib=1..9, not '%s'",
		 file, value);
	return -1;
}

static char *next_line(char **cursor)
{
	char *line = *cursor, *nl;

	if (line == NULL || *line == '\0')
		return NULL;
	nl = strchr(line, '\n');
	if (nl) {
		*nl = '\0';
		*cursor = nl + 1;
	} else {
		*cursor = line + strlen(line);
	}
	while (isspace((unsigned char)*line))
		line++;
	for (char *e = line + strlen(line); e > line && isspace((unsigned char)e[-1]);)
		*--e = '\0';
	return line;
}

static char *key_value(char *line, const char *key)
{
	size_t n = strlen(key);

	if (strncasecmp(line, key, n) != 0 || !isspace((unsigned char)line[n]))
		return NULL;
	line += n;
	while (isspace((unsigned char)*line))
		line++;
	return line;
}

static int set_path(char **slot, const char *value)
{
	neo_free(*slot);
	*slot = neo_config_expand_path(value);
	return *slot ? 0 : -1;
}

/*
 * storage= of the source, as ZODB's ZConfig takes a FileStorage with its
 * blobs: <filestorage> path ... [blob-dir ...] </filestorage>, or that
 * section (without blob-dir) inside <blobstorage> blob-dir ...
 * </blobstorage>.
 */
static int parse_storage(const char *file, const char *section, char *text,
			 struct importer_conf *conf, char *err, size_t errlen)
{
	char *cursor = text, *line, *value;
	int depth = 0;			/* 1: in <filestorage> */
	bool wrapped = false, opened = false, closed = false, wrap_closed = false;

	while ((line = next_line(&cursor)) != NULL) {
		if (*line == '\0' || *line == '#')
			continue;
		if (!opened && !wrapped && strncasecmp(line, "<blobstorage", 12) == 0) {
			wrapped = true;
			continue;
		}
		if (!opened && strncasecmp(line, "<filestorage", 12) == 0) {
			opened = true;
			depth = 1;
			continue;
		}
		if (depth == 1 && strcasecmp(line, "</filestorage>") == 0) {
			closed = true;
			depth = 0;
			continue;
		}
		if (wrapped && depth == 0 && strcasecmp(line, "</blobstorage>") == 0) {
			wrap_closed = true;
			continue;
		}
		if (depth == 1 && (value = key_value(line, "path")) != NULL) {
			if (set_path(&conf->fs_path, value) != 0)
				return -1;
			continue;
		}
		if ((value = key_value(line, "blob-dir")) != NULL &&
		    (depth == 1) != wrapped) {
			if (set_path(&conf->blob_dir, value) != 0)
				return -1;
			continue;
		}
		if (depth == 1 && key_value(line, "read-only") != NULL)
			continue;	/* we never write unless writeback */
		snprintf(err, errlen, "%s: [%s] storage: '%s' is not supported by our Importer "
			 "(<filestorage> with path, read-only and blob-dir, or inside "
			 "<blobstorage> with blob-dir)", file, section, line);
		return -1;
	}
	if (!opened || !closed || conf->fs_path == NULL || (wrapped && !wrap_closed)) {
		snprintf(err, errlen, "%s: [%s] storage must be a <filestorage> section with a "
			 "path (with its blobs: blob-dir in it, or a <blobstorage> around it): "
			 "our Importer reads FileStorage only (convert another storage to a "
			 "FileStorage first, e.g. with zodbconvert, or copy it into NEO with "
			 "neomigrate)", file, section);
		return -1;
	}
	if (wrapped && conf->blob_dir == NULL) {
		snprintf(err, errlen, "%s: [%s] storage: <blobstorage> needs blob-dir", file,
			 section);
		return -1;
	}
	return 0;
}

static int read_destination(const struct neo_config *cfg, const char *file, const char *section,
			    struct importer_conf *conf, char *err, size_t errlen)
{
	static const char *const allowed[] = { "adapter", "engine", "database", "wait",
					       "writeback", "compress", NULL };
	struct key_check check = { allowed, section, err, errlen, file };
	char *wait = NULL, *writeback = NULL, *compress = NULL;
	int rc = -1;

	if (neo_config_foreach_key(cfg, section, check_key, &check) != 0)
		return -1;
	if (get(cfg, section, "adapter", &conf->adapter, err, errlen) ||
	    get(cfg, section, "engine", &conf->engine, err, errlen) ||
	    get(cfg, section, "database", &conf->database, err, errlen) ||
	    get(cfg, section, "wait", &wait, err, errlen) ||
	    get(cfg, section, "writeback", &writeback, err, errlen) ||
	    get(cfg, section, "compress", &compress, err, errlen))
		goto done;
	if (conf->database == NULL) {
		snprintf(err, errlen, "%s: [%s] needs database= (the destination's)", file, section);
		goto done;
	}
	if (conf->adapter && strcasecmp(conf->adapter, "Importer") == 0) {
		snprintf(err, errlen, "%s: [%s] the destination cannot be an Importer", file, section);
		goto done;
	}
	conf->wait_seconds = -2;
	if (wait != NULL) {
		char *end;
		double w = strtod(wait, &end);

		if (*end != '\0' || end == wait) {
			snprintf(err, errlen, "%s: wait must be a number, not '%s'", file, wait);
			goto done;
		}
		conf->wait_seconds = w < 0 ? -1 : (int)w;
	}
	if (parse_bool(file, "writeback", writeback, &conf->writeback, err, errlen) ||
	    parse_compress(file, compress, &conf->compress_level, err, errlen))
		goto done;
	rc = 0;
done:
	neo_free(wait);
	neo_free(writeback);
	neo_free(compress);
	return rc;
}

static int read_source(const struct neo_config *cfg, const char *file, const char *section,
		       struct importer_conf *conf, char *err, size_t errlen)
{
	static const char *const allowed[] = { "storage", NULL };
	struct key_check check = { allowed, section, err, errlen, file };
	char *storage = NULL;
	int rc;

	if (neo_config_foreach_key(cfg, section, check_key, &check) != 0)
		return -1;
	if (get(cfg, section, "storage", &storage, err, errlen))
		return -1;
	if (storage == NULL) {
		snprintf(err, errlen, "%s: [%s] needs storage=", file, section);
		return -1;
	}
	conf->source_name = neo_strdup(section);
	rc = conf->source_name ? parse_storage(file, section, storage, conf, err, errlen) : -1;
	neo_free(storage);
	if (rc == 0 && conf->blob_dir && conf->writeback) {
		snprintf(err, errlen, "%s: writeback=true with a blob-dir is not supported by our "
			 "Importer (NEO's blob commits would not go to the blob directory): set "
			 "writeback=false, or copy the database back with neomigrate --blob-dir",
			 file);
		rc = -1;
	}
	return rc;
}

int importer_conf_read(const char *path, struct importer_conf *conf, char *err, size_t errlen)
{
	struct neo_config *cfg;
	const char *dest, *source;
	int rc = -1;

	memset(conf, 0, sizeof(*conf));
	cfg = neo_config_parse_file(path, err, errlen);
	if (cfg == NULL)
		return -1;
	dest = neo_config_section(cfg, 0);
	source = neo_config_section(cfg, 1);
	if (dest == NULL || source == NULL) {
		snprintf(err, errlen, "%s: needs a section for the destination, then one for "
			 "the source (see importer.conf)", path);
	} else if (neo_config_section(cfg, 2) != NULL) {
		snprintf(err, errlen, "%s: [%s]: several source databases (merged at mount "
			 "points) are not supported by our Importer: import one FileStorage",
			 path, neo_config_section(cfg, 2));
	} else if (read_destination(cfg, path, dest, conf, err, errlen) == 0 &&
		   read_source(cfg, path, source, conf, err, errlen) == 0) {
		rc = 0;
	}
	neo_config_free(cfg);
	if (rc != 0)
		importer_conf_free(conf);
	return rc;
}

void importer_conf_free(struct importer_conf *conf)
{
	neo_free(conf->adapter);
	neo_free(conf->engine);
	neo_free(conf->database);
	neo_free(conf->source_name);
	neo_free(conf->fs_path);
	neo_free(conf->blob_dir);
	memset(conf, 0, sizeof(*conf));
}
