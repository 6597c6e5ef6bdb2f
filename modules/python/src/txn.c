/*
 * txn.c - the Txn type: one two-phase commit of a Client.
 *
 * The library's transaction is freed by finish (on success), abort, or
 * the client's close; `txn` is NULL from then on.  A Txn serves one
 * thread at a time (`busy`), as a ZODB transaction does.
 */
#include "neoclient_py.h"

PyObject *txn_new(ClientObject *owner, struct neo_txn *txn)
{
	TxnObject *self = PyObject_New(TxnObject, &Txn_Type);

	if (self == NULL)
		return NULL;
	self->owner = (ClientObject *)Py_NewRef(owner);
	self->txn = txn;
	self->busy = false;
	return (PyObject *)self;
}

/* Starts a call on the transaction: its client open, the transaction
 * still open, no other call on it.  -1 with an exception otherwise. */
static int txn_enter(TxnObject *self)
{
	if (self->owner->client == NULL)
		self->txn = NULL;	/* freed by the client's close */
	if (self->txn == NULL) {
		PyErr_SetString(PyExc_ValueError, "the transaction is over");
		return -1;
	}
	if (self->busy) {
		PyErr_SetString(PyExc_RuntimeError, "the transaction is in use by another thread");
		return -1;
	}
	if (client_enter(self->owner) < 0)
		return -1;
	self->busy = true;
	return 0;
}

static void txn_leave(TxnObject *self)
{
	self->busy = false;
	client_leave(self->owner);
}

static void txn_abort(TxnObject *self)
{
	struct neo_txn *txn = self->txn;

	self->txn = NULL;
	Py_BEGIN_ALLOW_THREADS
	neo_txn_abort(txn);
	Py_END_ALLOW_THREADS
}

static void Txn_dealloc(TxnObject *self)
{
	/* An open transaction dropped without finish or abort is aborted. */
	if (self->txn && self->owner->client && !self->busy && client_enter(self->owner) == 0) {
		txn_abort(self);
		client_leave(self->owner);
	}
	Py_DECREF(self->owner);
	PyObject_Free(self);
}

static PyObject *done(int status)
{
	if (status != NEO_CLIENT_OK)
		return neopy_raise(status);
	Py_RETURN_NONE;
}

/* store(oid, serial, data): data copied (and compressed) by the library. */
static PyObject *Txn_store(TxnObject *self, PyObject *args)
{
	uint64_t oid, serial;
	Py_buffer data;
	int status;

	if (!PyArg_ParseTuple(args, "O&O&y*", neopy_id_converter, &oid, neopy_id_converter,
			      &serial, &data))
		return NULL;
	if (txn_enter(self) < 0) {
		PyBuffer_Release(&data);
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS
	status = neo_txn_store(self->txn, oid, serial, data.buf, (size_t)data.len);
	Py_END_ALLOW_THREADS
	txn_leave(self);
	PyBuffer_Release(&data);
	return done(status);
}

/* store_blob(oid, serial, data, path): a blob object's revision, the blob
 * read from the file at path (fsencoded) by chunks (neo/client.h). */
static PyObject *Txn_store_blob(TxnObject *self, PyObject *args)
{
	uint64_t oid, serial;
	Py_buffer data;
	PyObject *path;
	int status;

	if (!PyArg_ParseTuple(args, "O&O&y*O&", neopy_id_converter, &oid, neopy_id_converter,
			      &serial, &data, PyUnicode_FSConverter, &path))
		return NULL;
	if (txn_enter(self) < 0) {
		PyBuffer_Release(&data);
		Py_DECREF(path);
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS
	status = neo_txn_store_blob_path(self->txn, oid, serial, data.buf, (size_t)data.len,
					 PyBytes_AS_STRING(path));
	Py_END_ALLOW_THREADS
	txn_leave(self);
	PyBuffer_Release(&data);
	Py_DECREF(path);
	return done(status);
}

/* A call taking (oid, id) ids: delete, store_undo, check_current. */
typedef int (*two_id_fn)(struct neo_txn *txn, uint64_t oid, uint64_t id);

static PyObject *two_ids(TxnObject *self, PyObject *args, two_id_fn fn)
{
	uint64_t oid, id;
	int status;

	if (!PyArg_ParseTuple(args, "O&O&", neopy_id_converter, &oid, neopy_id_converter, &id))
		return NULL;
	if (txn_enter(self) < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	status = fn(self->txn, oid, id);
	Py_END_ALLOW_THREADS
	txn_leave(self);
	return done(status);
}

static PyObject *Txn_delete(TxnObject *self, PyObject *args)
{
	return two_ids(self, args, neo_txn_delete);
}

static PyObject *Txn_check_current(TxnObject *self, PyObject *args)
{
	return two_ids(self, args, neo_txn_check_current);
}

/* store_undo(oid, serial, data_serial): a back-pointer to data_serial. */
static PyObject *Txn_store_undo(TxnObject *self, PyObject *args)
{
	uint64_t oid, serial, data_serial;
	int status;

	if (!PyArg_ParseTuple(args, "O&O&O&", neopy_id_converter, &oid, neopy_id_converter,
			      &serial, neopy_id_converter, &data_serial))
		return NULL;
	if (txn_enter(self) < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	status = neo_txn_store_undo(self->txn, oid, serial, data_serial);
	Py_END_ALLOW_THREADS
	txn_leave(self);
	return done(status);
}

/* undo_serials(tid) -> [(oid, current_serial, undo_serial or None, is_current)] */
static PyObject *Txn_undo_serials(TxnObject *self, PyObject *args)
{
	uint64_t tid;
	struct neo_client_undo_serial *serials = NULL;
	size_t count = 0;
	PyObject *list;
	int status;

	if (!PyArg_ParseTuple(args, "O&", neopy_id_converter, &tid))
		return NULL;
	if (txn_enter(self) < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	status = neo_txn_undo_serials(self->txn, tid, &serials, &count);
	Py_END_ALLOW_THREADS
	txn_leave(self);
	if (status != NEO_CLIENT_OK)
		return neopy_raise(status);
	list = PyList_New((Py_ssize_t)count);
	for (size_t i = 0; list && i < count; i++) {
		PyObject *item = Py_BuildValue("(NNNO)", neopy_id(serials[i].oid),
					       neopy_id(serials[i].current_serial),
					       neopy_id_or_none(serials[i].undo_serial),
					       serials[i].is_current ? Py_True : Py_False);

		if (item == NULL) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, item);
	}
	neo_client_free(serials);
	return list;
}

static PyObject *conflict_list(const struct neo_client_conflict *conflicts, size_t count)
{
	PyObject *list = PyList_New((Py_ssize_t)count);

	for (size_t i = 0; list && i < count; i++) {
		const struct neo_client_conflict *c = &conflicts[i];
		PyObject *data = c->data ? neopy_bytes(c->data, c->size) : Py_NewRef(Py_None);
		PyObject *item = data ? Py_BuildValue("(NNNNO)", neopy_id(c->oid),
						      neopy_id(c->committed_serial),
						      neopy_id(c->base_serial), data,
						      c->read_conflict ? Py_True : Py_False)
				      : NULL;

		if (item == NULL) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, item);
	}
	return list;
}

/*
 * vote(user, description, extension) -> conflicts: [] once voted, else a
 * list of (oid, committed_serial, base_serial, data or None,
 * read_conflict) to resolve (store again, vote again) or to abort on.
 */
static PyObject *Txn_vote(TxnObject *self, PyObject *args)
{
	Py_buffer user, description, extension;
	struct neo_client_conflict *conflicts = NULL;
	size_t count = 0;
	PyObject *result;
	int status;

	if (!PyArg_ParseTuple(args, "y*y*y*", &user, &description, &extension))
		return NULL;
	if (txn_enter(self) < 0) {
		result = NULL;
		goto out;
	}
	Py_BEGIN_ALLOW_THREADS
	status = neo_txn_vote(self->txn, user.buf, (size_t)user.len, description.buf,
			      (size_t)description.len, extension.buf, (size_t)extension.len,
			      &conflicts, &count);
	Py_END_ALLOW_THREADS
	txn_leave(self);
	if (status == NEO_CLIENT_OK)
		result = PyList_New(0);
	else if (status == NEO_CLIENT_CONFLICT || status == NEO_CLIENT_READ_CONFLICT)
		result = conflict_list(conflicts, count);
	else
		result = neopy_raise(status);
	neo_client_conflicts_free(conflicts, count);
out:
	PyBuffer_Release(&user);
	PyBuffer_Release(&description);
	PyBuffer_Release(&extension);
	return result;
}

/* finish() -> tid.  The transaction is over once it succeeds. */
static PyObject *Txn_finish(TxnObject *self, PyObject *unused)
{
	uint64_t tid = 0;
	int status;

	(void)unused;
	if (txn_enter(self) < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	status = neo_txn_finish(self->txn, &tid);
	Py_END_ALLOW_THREADS
	if (status == NEO_CLIENT_OK)
		self->txn = NULL;
	txn_leave(self);
	if (status != NEO_CLIENT_OK)
		return neopy_raise(status);
	return neopy_id(tid);
}

/* abort(): at any point before a successful finish; then a no-op. */
static PyObject *Txn_abort(TxnObject *self, PyObject *unused)
{
	(void)unused;
	if (self->owner->client == NULL)
		self->txn = NULL;
	if (self->txn == NULL)
		Py_RETURN_NONE;
	if (txn_enter(self) < 0)
		return NULL;
	txn_abort(self);
	txn_leave(self);
	Py_RETURN_NONE;
}

static PyObject *Txn_get_ttid(TxnObject *self, void *unused)
{
	(void)unused;
	if (self->owner->client == NULL || self->txn == NULL)
		Py_RETURN_NONE;
	return neopy_id(neo_txn_ttid(self->txn));
}

static PyMethodDef Txn_methods[] = {
	{ "store", (PyCFunction)Txn_store, METH_VARARGS,
	  "store(oid, serial, data): a new revision based on serial (z64: new object)." },
	{ "store_blob", (PyCFunction)Txn_store_blob, METH_VARARGS,
	  "store_blob(oid, serial, data, path): a blob object's revision, its blob\n"
	  "read from the file at path, in chunks." },
	{ "delete", (PyCFunction)Txn_delete, METH_VARARGS, "delete(oid, serial): a deletion." },
	{ "store_undo", (PyCFunction)Txn_store_undo, METH_VARARGS,
	  "store_undo(oid, serial, data_serial): the data of revision data_serial again." },
	{ "check_current", (PyCFunction)Txn_check_current, METH_VARARGS,
	  "check_current(oid, serial): vote fails if oid changed since serial." },
	{ "undo_serials", (PyCFunction)Txn_undo_serials, METH_VARARGS,
	  "undo_serials(tid) -> [(oid, current_serial, undo_serial, is_current)]." },
	{ "vote", (PyCFunction)Txn_vote, METH_VARARGS,
	  "vote(user, description, extension) -> [] or the conflicts to resolve." },
	{ "finish", (PyCFunction)Txn_finish, METH_NOARGS, "finish() -> tid." },
	{ "abort", (PyCFunction)Txn_abort, METH_NOARGS, "abort()." },
	{ NULL }
};

static PyGetSetDef Txn_getset[] = {
	{ "ttid", (getter)Txn_get_ttid, NULL, "The master's temporary id, None once over.", NULL },
	{ NULL }
};

PyTypeObject Txn_Type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "neo.client._neoclient.Txn",
	.tp_doc = "A transaction of a Client (Client.begin()).",
	.tp_basicsize = sizeof(TxnObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_new = NULL,
	.tp_dealloc = (destructor)Txn_dealloc,
	.tp_methods = Txn_methods,
	.tp_getset = Txn_getset,
};
