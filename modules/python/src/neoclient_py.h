/*
 * neoclient_py.h - the parts of the neo.client._neoclient extension that
 * its files share:
 *
 *   module.c   the module: exceptions, ids as 8-byte strings, errors
 *   client.c   the Client type, one libneoclient client
 *   txn.c      the Txn type, one transaction of a Client
 *
 * Threading: every call that may wait on the network releases the GIL.
 * libneoclient calls the invalidation callback from its network thread,
 * which takes the GIL to call the Python callable: so nothing here may
 * hold the GIL while it waits on the network thread, close included.
 */
#ifndef NEOCLIENT_PY_H
#define NEOCLIENT_PY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdbool.h>
#include <stdint.h>

#include <neo/client.h>

/* What the network thread's callback reaches: not the Client itself,
 * so that a Client can go away while its network thread still runs
 * (see client.c).  Fields are read and written with the GIL held. */
struct invalidate_ctx {
	PyObject *callable;		/* owned; NULL: nobody listens */
};

typedef struct {
	PyObject_HEAD
	struct neo_client *client;	/* NULL once closed */
	struct invalidate_ctx *ctx;	/* owned, freed once the client is closed */
	int inflight;			/* calls running without the GIL */
	PyObject *weakreflist;
} ClientObject;

typedef struct {
	PyObject_HEAD
	ClientObject *owner;		/* strong reference */
	struct neo_txn *txn;		/* NULL once finished or aborted */
	bool busy;			/* a call is running without the GIL */
} TxnObject;

extern PyTypeObject Client_Type;
extern PyTypeObject Txn_Type;

/* --- module.c --- */

int neopy_init_errors(PyObject *module);
/* Sets the exception for a libneoclient status, with the calling thread's
 * last message; returns NULL. */
PyObject *neopy_raise(int status);
/* Raises the error of a closed client; returns NULL. */
PyObject *neopy_raise_closed(void);
/* "O&" converter: an 8-byte big-endian id (bytes), or None for 0. */
int neopy_id_converter(PyObject *object, void *id);
PyObject *neopy_id(uint64_t id);
/* An id, or None for 0. */
PyObject *neopy_id_or_none(uint64_t id);
PyObject *neopy_id_list(const uint64_t *ids, size_t count);
/* bytes of size bytes at data (b'' for NULL). */
PyObject *neopy_bytes(const void *data, size_t size);

/* --- client.c --- */

/* Marks a call as running on the client; -1 with an exception if closed.
 * Pair with client_leave, both with the GIL held. */
int client_enter(ClientObject *self);
void client_leave(ClientObject *self);

/* --- txn.c --- */

PyObject *txn_new(ClientObject *owner, struct neo_txn *txn);

#endif
