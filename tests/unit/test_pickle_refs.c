/* test_pickle_refs.c - the pickle scanner (pickle/refs.h) against ZODB's
 * own referencesf: records written by a real ZODB, with what referencesf
 * and ZODB's unpickler found in them, come as JSON from
 * tests/zodb/pickle_refs_gen.py (tests/data/pickle_refs.json in the tree;
 * tests/zodb/pickle_refs_check.sh makes a bigger set at test time from
 * ZODB off PyPI and passes its path as argv[1]).  Every record's strong
 * references must be referencesf's list, in order, and every persistent
 * id must have the kind and oid ZODB's unpickler gives it.  Every prefix
 * of every record is also scanned (an error, never a crash), and a few
 * hand-made pickles check what ZODB never writes. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pickle/refs.h"
#include "tap.h"
#include "vector_json.h"

static const char *const kind_names[] = {
	[PICKLE_REF_OID] = "oid", [PICKLE_REF_OID_CLASS] = "oid_class",
	[PICKLE_REF_WEAK] = "weak", [PICKLE_REF_MULTI] = "multi",
	[PICKLE_REF_MULTI_OID] = "multi_oid", [PICKLE_REF_OTHER_LIST] = "other_list"
};

/* What the scanner found, as text: "kind:hexoid kind:hexoid ..." for all,
 * "hexoid hexoid ..." for the strong ones. */
struct found {
	char all[65536];
	char strong[65536];
	size_t all_len, strong_len;
};

static void append_hex(char *out, size_t *len, size_t cap, const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < size && *len + 3 < cap; i++)
		*len += (size_t)snprintf(out + *len, cap - *len, "%02x", data[i]);
}

static void append_text(char *out, size_t *len, size_t cap, const char *text)
{
	size_t n = strlen(text);

	if (*len + n + 1 < cap) {
		memcpy(out + *len, text, n + 1);
		*len += n;
	}
}

static int take_ref(void *ctx, const struct pickle_ref *ref)
{
	struct found *f = ctx;

	append_text(f->all, &f->all_len, sizeof f->all, kind_names[ref->kind]);
	append_text(f->all, &f->all_len, sizeof f->all, ":");
	if (ref->oid)
		append_hex(f->all, &f->all_len, sizeof f->all, ref->oid, ref->oid_size);
	else
		append_text(f->all, &f->all_len, sizeof f->all, "null");
	append_text(f->all, &f->all_len, sizeof f->all, " ");
	if (pickle_ref_is_strong(ref)) {
		append_hex(f->strong, &f->strong_len, sizeof f->strong, ref->oid, ref->oid_size);
		append_text(f->strong, &f->strong_len, sizeof f->strong, " ");
	}
	return 0;
}

/* The same text forms, from the JSON record. */
static void expected_of(json_t *record, struct found *e)
{
	size_t i;
	json_t *v;

	memset(e, 0, sizeof *e);
	json_array_foreach(json_object_get(record, "strong"), i, v) {
		append_text(e->strong, &e->strong_len, sizeof e->strong, json_string_value(v));
		append_text(e->strong, &e->strong_len, sizeof e->strong, " ");
	}
	json_array_foreach(json_object_get(record, "all"), i, v) {
		json_t *oid = json_array_get(v, 1);

		append_text(e->all, &e->all_len, sizeof e->all, json_string_value(json_array_get(v, 0)));
		append_text(e->all, &e->all_len, sizeof e->all, ":");
		append_text(e->all, &e->all_len, sizeof e->all,
			    json_is_string(oid) ? json_string_value(oid) : "null");
		append_text(e->all, &e->all_len, sizeof e->all, " ");
	}
}

static uint8_t *unhex(const char *text, size_t *size)
{
	size_t n = strlen(text) / 2;
	uint8_t *out = malloc(n + 1);

	for (size_t i = 0; out && i < n; i++) {
		unsigned byte;

		sscanf(text + 2 * i, "%2x", &byte);
		out[i] = (uint8_t)byte;
	}
	*size = n;
	return out;
}

static int ignore_ref(void *ctx, const struct pickle_ref *ref)
{
	(void)ctx;
	(void)ref;
	return 0;
}

struct tally {
	int records, strong_equal, all_equal, prefixes_safe;
	char first_diff[512];
};

static void check_record(json_t *record, struct tally *t)
{
	struct found *got = calloc(2, sizeof *got), *want = got + 1;
	size_t size;
	uint8_t *data = unhex(json_string_value(json_object_get(record, "data")), &size);
	int rc = pickle_refs_scan(data, size, take_ref, got);
	int whole_prefixes = 0;

	expected_of(record, want);
	t->records++;
	if (rc == PICKLE_REFS_OK && strcmp(got->strong, want->strong) == 0)
		t->strong_equal++;
	else if (!t->first_diff[0])
		snprintf(t->first_diff, sizeof t->first_diff, "rc %d, strong got [%.200s] want [%.200s]",
			 rc, got->strong, want->strong);
	if (rc == PICKLE_REFS_OK && strcmp(got->all, want->all) == 0)
		t->all_equal++;
	else if (!t->first_diff[0])
		snprintf(t->first_diff, sizeof t->first_diff, "all got [%.200s] want [%.200s]",
			 got->all, want->all);
	/* a cut record is refused (its last pickle has no STOP), but for
	 * the cut right after the class pickle */
	for (size_t cut = 0; cut < size; cut++) {
		uint8_t *copy = malloc(cut + 1);

		memcpy(copy, data, cut);
		if (pickle_refs_scan(copy, cut, ignore_ref, NULL) == PICKLE_REFS_OK)
			whole_prefixes++;
		free(copy);
	}
	t->prefixes_safe += whole_prefixes <= 1;
	free(data);
	free(got);
}

static void check_file(const char *path)
{
	json_error_t error;
	json_t *root = json_load_file(path, 0, &error);
	const char *protocols[] = { "zodb", "0", "1", "2" };
	json_t *records = json_object_get(root, "records");

	if (!tap_ok(root != NULL && json_array_size(records) > 0, "records loaded from %s", path)) {
		tap_diag("%s line %d", error.text, error.line);
		return;
	}
	for (size_t p = 0; p < sizeof protocols / sizeof *protocols; p++) {
		struct tally t = { 0 };
		size_t i;
		json_t *record;

		json_array_foreach(records, i, record) {
			json_t *proto = json_object_get(record, "protocol");
			char name[16];

			if (json_is_string(proto))
				snprintf(name, sizeof name, "%s", json_string_value(proto));
			else
				snprintf(name, sizeof name, "%lld", (long long)json_integer_value(proto));
			if (strcmp(name, protocols[p]) == 0)
				check_record(record, &t);
		}
		tap_ok(t.records > 0 && t.strong_equal == t.records,
		       "protocol %s: %d of %d records: strong references as referencesf",
		       protocols[p], t.strong_equal, t.records);
		tap_ok(t.records > 0 && t.all_equal == t.records,
		       "protocol %s: %d of %d records: every persistent id's kind and oid",
		       protocols[p], t.all_equal, t.records);
		tap_ok(t.prefixes_safe == t.records,
		       "protocol %s: every cut record of %d is refused (but after its class pickle)", protocols[p], t.records);
		if (t.first_diff[0])
			tap_diag("first difference: %s", t.first_diff);
	}
	json_decref(root);
}

struct oid_list {
	uint64_t oids[8];
	int count;
};

static int take_oid(void *ctx, uint64_t oid)
{
	struct oid_list *l = ctx;

	if (l->count < 8)
		l->oids[l->count++] = oid;
	return 0;
}

static int stop_at_first(void *ctx, const struct pickle_ref *ref)
{
	(void)ctx;
	(void)ref;
	return 7;
}

/* Pickles ZODB does not write, made by hand. */
static void check_by_hand(void)
{
	/* protocol 3: (oid, None) tuple as persistent id, then a memoized
	 * oid reused by BINGET, then a 3-byte "oid" that is not NEO's */
	static const uint8_t two_refs[] = {
		0x80, 0x03, ']', 'q', 0x00,
		'C', 0x08, 0, 0, 0, 0, 0, 0, 0, 0x05, 'q', 0x01, 'N', 0x86, 'Q', 'a',
		'h', 0x01, 'Q', 'a',
		'C', 0x03, 'a', 'b', 'c', 'Q', 'a', '.',
		/* second pickle: protocol 0 PERSID and STRING with escapes */
		'(', 'l', 'S', '\'', '\\', 'x', '0', '0', '\\', '0', '0', '0', '\\', '0', '0', '0', '\\',
		'0', '0', '0', '\\', '0', '0', '0', '\\', '0', '0', '0', '\\', '0', '0', '0', '\\', 'x',
		'0', '9', '\'', '\n', 'Q', 'a', '.' };
	static const uint8_t garbage[] = { 0x80, 0x03, 0xff, '.' };
	static const uint8_t underflow[] = { 0x80, 0x03, 'Q', '.' };
	static const uint8_t bad_get[] = { 0x80, 0x03, 'h', 0x09, '.' };
	struct oid_list l = { 0 };
	int rc = pickle_refs_oids(two_refs, sizeof two_refs, take_oid, &l);

	tap_ok(rc == PICKLE_REFS_OK && l.count == 3 && l.oids[0] == 5 && l.oids[1] == 5 &&
	       l.oids[2] == 9, "oids: a tuple, a memoized one, protocol 0 STRING (rc %d, %d)", rc,
	       l.count);
	tap_ok(pickle_refs_scan(two_refs, sizeof two_refs, stop_at_first, NULL) == 7,
	       "a callback's non-zero return stops the scan");
	tap_ok(pickle_refs_scan(garbage, sizeof garbage, ignore_ref, NULL) == PICKLE_REFS_EINVAL,
	       "an unknown opcode is refused");
	tap_ok(pickle_refs_scan(underflow, sizeof underflow, ignore_ref, NULL) ==
	       PICKLE_REFS_EINVAL, "BINPERSID on an empty stack is refused");
	tap_ok(pickle_refs_scan(bad_get, sizeof bad_get, ignore_ref, NULL) == PICKLE_REFS_EINVAL,
	       "a GET of nothing memoized is refused");
	tap_ok(pickle_refs_scan(NULL, 0, ignore_ref, NULL) == PICKLE_REFS_EINVAL,
	       "an empty record is refused");
}

int main(int argc, char **argv)
{
	check_by_hand();
	check_file(argc > 1 ? argv[1] : vectors_data_path("pickle_refs.json"));
	return tap_done();
}
