/*
 * daemon/masterlist.c - -D/--dynamic-master-list: a file where a node keeps
 * the addresses of the masters it knows, so that started again it finds
 * them even if its --masters is out of date (core/cluster/cluster.md
 * section 1.2).
 *
 * As upstream (neo/lib/node.py's master database): the file is a JSON
 * array of [host, port] pairs; a missing file is created, and one that
 * cannot be written at start is an error; its addresses join --masters;
 * every master address the node learns afterwards (from the primary's
 * node lists, or a secondary's NotPrimaryMaster) is added and the file
 * rewritten (through a temporary file, renamed over it).  Unlike
 * upstream, a master learned while running is tried from the next start
 * on, not at once (the node's rotation of masters is fixed at start), and
 * addresses are never removed (upstream drops a master once it is
 * forgotten, which a NEO in C node does not do).
 */
#include "daemon/daemon.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/nodes.h"
#include "proto/packets.h"
#include "runtime/alloc.h"
#include "runtime/log.h"

static char *list_path;
static struct neo_address *known;
static size_t known_count, known_capacity;

static bool same(const struct neo_address *a, const struct neo_address *b)
{
	return a->port == b->port && strcmp(a->host, b->host) == 0;
}

static bool is_known(const struct neo_address *addr)
{
	for (size_t i = 0; i < known_count; i++)
		if (same(&known[i], addr))
			return true;
	return false;
}

static int add_known(const struct neo_address *addr)
{
	if (is_known(addr))
		return 0;
	if (neo_grow(&known, &known_capacity, known_count + 1, sizeof *known) < 0)
		return -1;
	known[known_count++] = *addr;
	return 1;
}

static int save(char *err, size_t errlen)
{
	size_t len = strlen(list_path);
	char *tmp = neo_malloc(len + 8);
	FILE *f;
	int failed;

	if (tmp == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(tmp, len + 8, "%s#neo#", list_path);
	f = fopen(tmp, "w");
	if (f == NULL) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
		neo_free(tmp);
		return -1;
	}
	fputc('[', f);
	for (size_t i = 0; i < known_count; i++)
		fprintf(f, "%s[\"%s\", %u]", i ? ", " : "", known[i].host, known[i].port);
	fputs("]\n", f);
	failed = ferror(f);
	failed |= fclose(f);
	if (failed || rename(tmp, list_path) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", list_path, strerror(errno));
		remove(tmp);
		neo_free(tmp);
		return -1;
	}
	neo_free(tmp);
	return 0;
}

static const char *skip_space(const char *p)
{
	while (isspace((unsigned char)*p))
		p++;
	return p;
}

/* One [host, port] pair at *p (after spaces); advances *p. */
static int parse_pair(const char **p, struct neo_address *out)
{
	const char *s = skip_space(*p);
	size_t n = 0;
	char *end;
	unsigned long port;

	if (*s++ != '[')
		return -1;
	s = skip_space(s);
	if (*s++ != '"')
		return -1;
	while (*s && *s != '"') {
		if (*s == '\\' && s[1])
			s++;
		if (n + 1 >= sizeof out->host)
			return -1;
		out->host[n++] = *s++;
	}
	if (*s++ != '"' || n == 0)
		return -1;
	out->host[n] = '\0';
	s = skip_space(s);
	if (*s++ != ',')
		return -1;
	s = skip_space(s);
	errno = 0;
	port = strtoul(s, &end, 10);
	if (end == s || errno || port == 0 || port > 65535)
		return -1;
	out->port = (uint16_t)port;
	s = skip_space(end);
	if (*s++ != ']')
		return -1;
	*p = s;
	return 0;
}

static int load(const char *text, char *err, size_t errlen)
{
	const char *p = skip_space(text);

	if (*p++ != '[')
		goto bad;
	p = skip_space(p);
	if (*p == ']')
		return 0;
	for (;;) {
		struct neo_address addr;

		if (parse_pair(&p, &addr) < 0)
			goto bad;
		if (add_known(&addr) < 0) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		p = skip_space(p);
		if (*p == ']')
			return 0;
		if (*p++ != ',')
			goto bad;
	}
bad:
	snprintf(err, errlen, "%s: not a JSON list of [host, port] pairs", list_path);
	return -1;
}

static char *read_file(const char *path, int *error)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0, capacity = 0;
	int c;

	*error = 0;
	if (f == NULL) {
		*error = errno;
		return NULL;
	}
	while ((c = fgetc(f)) != EOF) {
		if (neo_grow(&text, &capacity, len + 2, 1) < 0) {
			*error = ENOMEM;
			break;
		}
		text[len++] = (char)c;
	}
	fclose(f);
	if (*error == 0 && neo_grow(&text, &capacity, len + 1, 1) < 0)
		*error = ENOMEM;
	if (*error) {
		neo_free(text);
		return NULL;
	}
	text[len] = '\0';
	return text;
}

int neo_master_list_open(const char *path, struct neo_address **masters, size_t *count,
			 char *err, size_t errlen)
{
	int error;
	char *text;

	list_path = neo_strdup(path);
	if (list_path == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	text = read_file(path, &error);
	if (text == NULL && error != ENOENT) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(error));
		goto fail;
	}
	if (text) {
		int rc = load(text, err, errlen);

		neo_free(text);
		if (rc < 0)
			goto fail;
	}
	/* the file's masters join --masters (after them), and the other way */
	for (size_t i = 0; i < *count; i++)
		if (add_known(&(*masters)[i]) < 0) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	if (known_count > *count) {
		struct neo_address *merged = neo_calloc(known_count, sizeof *merged);
		size_t n = *count;

		if (merged == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		if (n)
			memcpy(merged, *masters, n * sizeof *merged);
		for (size_t i = 0; i < known_count; i++) {
			bool listed = false;

			for (size_t j = 0; j < n && !listed; j++)
				listed = same(&merged[j], &known[i]);
			if (!listed)
				merged[n++] = known[i];
		}
		neo_free(*masters);
		*masters = merged;
		*count = n;
	}
	/* as upstream: a file that cannot be written is an error at start */
	if (save(err, errlen) < 0)
		goto fail;
	return 0;
fail:
	neo_master_list_close();
	return -1;
}

void neo_master_list_note(const struct neo_address *addr)
{
	char err[512];
	int rc;

	if (list_path == NULL)
		return;
	rc = add_known(addr);
	if (rc <= 0)
		return;
	/* as upstream: a failure later is logged, not fatal */
	if (save(err, sizeof err) < 0)
		neo_log(NEO_LOG_ERROR, "--dynamic-master-list: %s", err);
	else
		neo_log(NEO_LOG_INFO, "master %s:%u added to %s", addr->host, addr->port, list_path);
}

void neo_master_list_note_nodes(const struct neo_list_node_info *nodes)
{
	for (uint32_t i = 0; list_path && i < nodes->count; i++) {
		struct neo_address addr;

		if (nodes->items[i].type == NEO_NODE_MASTER && nodes->items[i].address.has
		    && neo_address_from_wire(&nodes->items[i].address.v, &addr))
			neo_master_list_note(&addr);
	}
}

void neo_master_list_note_wire(const struct neo_list_wire_address *masters)
{
	for (uint32_t i = 0; list_path && i < masters->count; i++) {
		struct neo_address addr;

		if (neo_address_from_wire(&masters->items[i], &addr))
			neo_master_list_note(&addr);
	}
}

void neo_master_list_close(void)
{
	neo_free(list_path);
	list_path = NULL;
	neo_free(known);
	known = NULL;
	known_count = known_capacity = 0;
}
