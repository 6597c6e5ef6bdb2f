/*
 * pickle/refs.h - the persistent references of a ZODB record, found by
 * reading its pickles' opcodes (core/cluster/cluster.md section 14.2).
 *
 * A ZODB record is two pickles one after the other: the class pickle and
 * the state pickle.  A reference to another persistent object is a
 * persistent id (BINPERSID, or PERSID in protocol 0) whose value is one
 * of ZODB's forms:
 *
 *   oid                                  PICKLE_REF_OID
 *   (oid, class)                         PICKLE_REF_OID_CLASS
 *   ['w', (oid,)] ['w', (oid, database)] PICKLE_REF_WEAK
 *   [oid]  (legacy weak reference)       PICKLE_REF_WEAK
 *   ['m', (database, oid, class)]        PICKLE_REF_MULTI
 *   ['n', (database, oid)]               PICKLE_REF_MULTI_OID
 *   [anything else, ...]                 PICKLE_REF_OTHER_LIST
 *
 * The strong ones (PICKLE_REF_OID, PICKLE_REF_OID_CLASS) are exactly what
 * ZODB.serialize.referencesf returns, in the same order; weak and
 * cross-database references keep nothing alive in this database, as for
 * FileStorage's garbage collection.
 *
 * The scanner does not build objects: it tracks, on a model of the
 * unpickler's stack and memo, only what a persistent id can be made of
 * (byte strings, text, tuples and lists of them).  Protocols 0 to 5 are
 * read; ZODB writes protocol 3 (Python 3) or 1 (Python 2).  Memory is
 * proportional to the record's size.
 */
#ifndef NEO_PICKLE_REFS_H
#define NEO_PICKLE_REFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pickle_refs_status {
	PICKLE_REFS_OK = 0,
	PICKLE_REFS_EINVAL = -1,	/* not a pickle this scanner reads */
	PICKLE_REFS_ENOMEM = -2
};

enum pickle_ref_kind {
	PICKLE_REF_OID,
	PICKLE_REF_OID_CLASS,
	PICKLE_REF_WEAK,
	PICKLE_REF_MULTI,
	PICKLE_REF_MULTI_OID,
	PICKLE_REF_OTHER_LIST
};

struct pickle_ref {
	enum pickle_ref_kind kind;
	const uint8_t *oid;		/* as pickled; NULL when the form has none */
	size_t oid_size;
};

/* True for the forms referencesf returns (they keep their target alive). */
bool pickle_ref_is_strong(const struct pickle_ref *ref);

/* Called for each persistent id, in pickle order; a non-zero return stops
 * the scan and is returned.  ref and its bytes live until the call returns. */
typedef int (*pickle_ref_cb)(void *ctx, const struct pickle_ref *ref);

/* Reads every pickle of data (a record: class pickle then state pickle). */
int pickle_refs_scan(const uint8_t *data, size_t size, pickle_ref_cb cb, void *ctx);

/* The strong references that are 8-byte oids, as NEO's 64-bit oids. */
typedef int (*pickle_oid_cb)(void *ctx, uint64_t oid);
int pickle_refs_oids(const uint8_t *data, size_t size, pickle_oid_cb cb, void *ctx);

#endif
