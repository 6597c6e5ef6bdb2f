/*
 * client.c - the Client type: one libneoclient client (connection to a
 * cluster) and its reads; Client.begin() starts a Txn (txn.c).
 *
 * Lifetime: close() waits for the calls running on other threads, then
 * closes the library's client with the GIL released (its network thread
 * may be waiting for the GIL in the invalidation callback).  The callback
 * reaches a separate invalidate_ctx, so that a Client dropped from that
 * very callback (where closing would wait on itself) can be left running
 * and silenced instead.
 */
#include "neoclient_py.h"

#include <string.h>
#include <unistd.h>

/* The ctx whose callback this thread (a network thread) is running, to
 * refuse closing that client from it. */
static _Thread_local struct invalidate_ctx *in_callback;

#if PY_VERSION_HEX >= 0x030D0000
#define interpreter_finalizing() Py_IsFinalizing()
#else
#define interpreter_finalizing() _Py_IsFinalizing()
#endif

int client_enter(ClientObject *self)
{
	if (self->client == NULL) {
		neopy_raise_closed();
		return -1;
	}
	self->inflight++;
	return 0;
}

void client_leave(ClientObject *self)
{
	self->inflight--;
}

/* Called by libneoclient's network thread, in commit order. */
static void invalidate_cb(void *arg, uint64_t tid, const uint64_t *oids, size_t count)
{
	struct invalidate_ctx *ctx = arg;
	PyGILState_STATE gil;
	PyObject *callable, *result;

	/* After finalization began, taking the GIL would end this thread
	 * (normally the atexit hook closed every client before). */
	if (interpreter_finalizing())
		return;
	gil = PyGILState_Ensure();
	callable = ctx->callable;
	if (callable) {
		PyObject *tid_object = neopy_id(tid);
		PyObject *oid_list = oids ? neopy_id_list(oids, count) : Py_NewRef(Py_None);

		Py_INCREF(callable);
		in_callback = ctx;
		result = tid_object && oid_list
				 ? PyObject_CallFunctionObjArgs(callable, tid_object, oid_list, NULL)
				 : NULL;
		in_callback = NULL;
		if (result == NULL)
			PyErr_WriteUnraisable(callable);
		Py_XDECREF(result);
		Py_XDECREF(tid_object);
		Py_XDECREF(oid_list);
		Py_DECREF(callable);
	}
	PyGILState_Release(gil);
}

static PyObject *Client_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
	static char *keywords[] = { "masters", "cluster", "read_only", "cache_size", "compress",
				    "ca", "cert", "key", "logfile", "connect_timeout",
				    "on_invalidate", NULL };
	const char *masters, *cluster, *ca = NULL, *cert = NULL, *key = NULL, *logfile = NULL;
	int read_only = 0, compress = -1, status;
	Py_ssize_t cache_size = 0;
	double connect_timeout = 0;
	PyObject *on_invalidate = Py_None;
	struct neo_client_config config = { .struct_size = sizeof config };
	ClientObject *self;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "ss|$pnizzzzdO:Client", keywords, &masters,
					 &cluster, &read_only, &cache_size, &compress, &ca, &cert,
					 &key, &logfile, &connect_timeout, &on_invalidate))
		return NULL;
	if (on_invalidate != Py_None && !PyCallable_Check(on_invalidate))
		return PyErr_Format(PyExc_TypeError, "on_invalidate must be callable");
	if (cache_size < 0 || connect_timeout < 0 || connect_timeout > 86400)
		return PyErr_Format(PyExc_ValueError, "bad cache_size or connect_timeout");
	self = (ClientObject *)type->tp_alloc(type, 0);
	if (self == NULL)
		return NULL;
	self->ctx = calloc(1, sizeof *self->ctx);
	if (self->ctx == NULL) {
		Py_DECREF(self);
		return PyErr_NoMemory();
	}
	if (on_invalidate != Py_None)
		self->ctx->callable = Py_NewRef(on_invalidate);
	config.cluster = cluster;
	config.masters = masters;
	config.read_only = read_only;
	config.cache_size = (size_t)cache_size;
	config.compress = compress;
	config.ca = ca;
	config.cert = cert;
	config.key = key;
	config.logfile = logfile;
	config.connect_timeout_ms = (unsigned)(connect_timeout * 1000);
	config.on_invalidate = invalidate_cb;
	config.invalidate_arg = self->ctx;
	Py_BEGIN_ALLOW_THREADS
	status = neo_client_open(&config, &self->client);
	Py_END_ALLOW_THREADS
	if (status != NEO_CLIENT_OK) {
		Py_DECREF(self);
		return neopy_raise(status);
	}
	return (PyObject *)self;
}

/* Closes the library's client once no other thread uses it; frees ctx. */
static int client_close(ClientObject *self)
{
	struct neo_client *client = self->client;
	struct invalidate_ctx *ctx = self->ctx;

	if (client) {
		if (in_callback && in_callback == ctx) {
			PyErr_SetString(PyExc_RuntimeError,
					"a client cannot be closed from its invalidation callback");
			return -1;
		}
		self->client = NULL;	/* new calls fail from now on */
		while (self->inflight > 0) {
			Py_BEGIN_ALLOW_THREADS
			usleep(1000);
			Py_END_ALLOW_THREADS
		}
		Py_BEGIN_ALLOW_THREADS
		neo_client_close(client);
		Py_END_ALLOW_THREADS
	}
	/* No network thread reads ctx any more. */
	if (ctx) {
		self->ctx = NULL;
		Py_XDECREF(ctx->callable);
		free(ctx);
	}
	return 0;
}

static int Client_traverse(ClientObject *self, visitproc visit, void *arg)
{
	if (self->ctx)
		Py_VISIT(self->ctx->callable);
	return 0;
}

static int Client_clear(ClientObject *self)
{
	/* The callback stays valid (ctx) until the client is closed. */
	if (self->ctx && self->client == NULL)
		Py_CLEAR(self->ctx->callable);
	return 0;
}

static void Client_dealloc(ClientObject *self)
{
	PyObject_GC_UnTrack(self);
	if (self->weakreflist)
		PyObject_ClearWeakRefs((PyObject *)self);
	if (self->client && in_callback && in_callback == self->ctx) {
		/* Dropped by the callback, in the network thread: closing would
		 * wait on this very thread.  Silence it and let it run. */
		Py_CLEAR(self->ctx->callable);
		self->client = NULL;
		self->ctx = NULL;
		PyErr_WarnEx(PyExc_ResourceWarning,
			     "neo.client: a client dropped in its invalidation callback is left open", 1);
	} else if (client_close(self) < 0) {
		PyErr_WriteUnraisable((PyObject *)self);
	}
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Client_close(ClientObject *self, PyObject *unused)
{
	(void)unused;
	if (client_close(self) < 0)
		return NULL;
	Py_RETURN_NONE;
}

static PyObject *Client_get_closed(ClientObject *self, void *unused)
{
	(void)unused;
	return PyBool_FromLong(self->client == NULL);
}

/* --- Loads ---------------------------------------------------------------------- */

enum load_kind { LOAD_CURRENT, LOAD_SERIAL, LOAD_BEFORE, LOAD_SERIAL_EX };

/* NoDataError, with `serial` and `next_serial` set (None when there is
 * no revision at all at that time, see neo/client.h). */
static PyObject *raise_no_data(const struct neo_client_record *record)
{
	PyObject *type, *value, *traceback, *serial, *next;

	neopy_raise(NEO_CLIENT_NO_DATA);
	PyErr_Fetch(&type, &value, &traceback);
	PyErr_NormalizeException(&type, &value, &traceback);
	serial = neopy_id_or_none(record->serial);
	next = neopy_id_or_none(record->next_serial);
	if (value && serial && next) {
		PyObject_SetAttrString(value, "serial", serial);
		PyObject_SetAttrString(value, "next_serial", next);
	}
	Py_XDECREF(serial);
	Py_XDECREF(next);
	PyErr_Restore(type, value, traceback);
	return NULL;
}

/* (data, serial, next_serial or None), and for LOAD_SERIAL_EX the
 * back-pointer (data_serial or None) too. */
static PyObject *load(ClientObject *self, PyObject *args, enum load_kind kind)
{
	uint64_t oid, tid = 0, data_serial = 0;
	struct neo_client_record record;
	PyObject *result = NULL;
	int status;

	if (kind == LOAD_CURRENT ? !PyArg_ParseTuple(args, "O&", neopy_id_converter, &oid)
				 : !PyArg_ParseTuple(args, "O&O&", neopy_id_converter, &oid,
						     neopy_id_converter, &tid))
		return NULL;
	if (client_enter(self) < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	switch (kind) {
	case LOAD_CURRENT:
		status = neo_client_load(self->client, oid, &record);
		break;
	case LOAD_SERIAL:
		status = neo_client_load_serial(self->client, oid, tid, &record);
		break;
	case LOAD_BEFORE:
		status = neo_client_load_before(self->client, oid, tid, &record);
		break;
	default:
		status = neo_client_load_serial_ex(self->client, oid, tid, &record, &data_serial);
		break;
	}
	Py_END_ALLOW_THREADS
	client_leave(self);
	if (status == NEO_CLIENT_NO_DATA)
		return raise_no_data(&record);
	if (status != NEO_CLIENT_OK)
		return neopy_raise(status);
	if (kind == LOAD_SERIAL_EX)
		result = Py_BuildValue("(NNNN)", neopy_bytes(record.data, record.size),
				       neopy_id(record.serial), neopy_id_or_none(record.next_serial),
				       neopy_id_or_none(data_serial));
	else
		result = Py_BuildValue("(NNN)", neopy_bytes(record.data, record.size),
				       neopy_id(record.serial), neopy_id_or_none(record.next_serial));
	neo_client_record_clear(&record);
	return result;
}

static PyObject *Client_load(ClientObject *self, PyObject *args)
{
	return load(self, args, LOAD_CURRENT);
}

static PyObject *Client_load_serial(ClientObject *self, PyObject *args)
{
	return load(self, args, LOAD_SERIAL);
}

static PyObject *Client_load_before(ClientObject *self, PyObject *args)
{
	return load(self, args, LOAD_BEFORE);
}

static PyObject *Client_load_serial_ex(ClientObject *self, PyObject *args)
{
	return load(self, args, LOAD_SERIAL_EX);
}

/* load_blob(oid, serial, path) -> size: the blob of that revision, written
 * to a new file at path (whole or absent, see neo/client.h). */
static PyObject *Client_load_blob(ClientObject *self, PyObject *args)
{
	uint64_t oid, serial, size = 0;
	PyObject *path;
	int status;

	if (!PyArg_ParseTuple(args, "O&O&O&", neopy_id_converter, &oid, neopy_id_converter,
			      &serial, PyUnicode_FSConverter, &path))
		return NULL;
	if (client_enter(self) < 0) {
		Py_DECREF(path);
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS
	status = neo_client_load_blob_path(self->client, oid, serial, PyBytes_AS_STRING(path),
					   &size);
	Py_END_ALLOW_THREADS
	client_leave(self);
	Py_DECREF(path);
	if (status != NEO_CLIENT_OK)
		return neopy_raise(status);
	return PyLong_FromUnsignedLongLong(size);
}

/* --- Other reads ------------------------------------------------------------------- */

static PyObject *Client_last_tid(ClientObject *self, PyObject *unused)
{
	uint64_t tid;

	(void)unused;
	if (self->client == NULL)
		return neopy_raise_closed();
	/* Only takes the library's lock, never held while it waits. */
	neo_client_last_tid(self->client, &tid);
	return neopy_id(tid);
}

static PyObject *Client_sync(ClientObject *self, PyObject *unused)
{
	int status;

	(void)unused;
	if (client_enter(self) < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	status = neo_client_sync(self->client);
	Py_END_ALLOW_THREADS
	client_leave(self);
	if (status != NEO_CLIENT_OK)
		return neopy_raise(status);
	Py_RETURN_NONE;
}

static PyObject *Client_new_oids(ClientObject *self, PyObject *args)
{
	Py_ssize_t count;
	uint64_t *oids;
	PyObject *result;
	int status;

	if (!PyArg_ParseTuple(args, "n", &count))
		return NULL;
	if (count < 1 || count > 10000)
		return PyErr_Format(PyExc_ValueError, "count must be 1 to 10000");
	oids = PyMem_RawMalloc((size_t)count * sizeof *oids);
	if (oids == NULL)
		return PyErr_NoMemory();
	if (client_enter(self) < 0) {
		PyMem_RawFree(oids);
		return NULL;
	}
	Py_BEGIN_ALLOW_THREADS
	status = neo_client_new_oids(self->client, (size_t)count, oids);
	Py_END_ALLOW_THREADS
	client_leave(self);
	result = status == NEO_CLIENT_OK ? neopy_id_list(oids, (size_t)count) : neopy_raise(status);
	PyMem_RawFree(oids);
	return result;
}

/* [(serial, size)], newest first */
static PyObject *Client_history(ClientObject *self, PyObject *args)
{
	uint64_t oid;
	Py_ssize_t length;
	struct neo_client_history_entry *entries = NULL;
	size_t count = 0;
	PyObject *list;
	int status;

	if (!PyArg_ParseTuple(args, "O&n", neopy_id_converter, &oid, &length))
		return NULL;
	if (length < 1)
		return PyErr_Format(PyExc_ValueError, "length must be at least 1");
	if (client_enter(self) < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	status = neo_client_history(self->client, oid, (size_t)length, &entries, &count);
	Py_END_ALLOW_THREADS
	client_leave(self);
	if (status != NEO_CLIENT_OK)
		return neopy_raise(status);
	list = PyList_New((Py_ssize_t)count);
	for (size_t i = 0; list && i < count; i++) {
		PyObject *item = Py_BuildValue("(NK)", neopy_id(entries[i].serial),
					       (unsigned long long)entries[i].size);

		if (item == NULL) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, item);
	}
	neo_client_free(entries);
	return list;
}

/* (user, description, extension, packed, [oid]) */
static PyObject *Client_transaction_info(ClientObject *self, PyObject *args)
{
	uint64_t tid;
	struct neo_client_txn_info info;
	PyObject *result;
	int status;

	if (!PyArg_ParseTuple(args, "O&", neopy_id_converter, &tid))
		return NULL;
	if (client_enter(self) < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	status = neo_client_transaction_info(self->client, tid, &info);
	Py_END_ALLOW_THREADS
	client_leave(self);
	if (status != NEO_CLIENT_OK)
		return neopy_raise(status);
	result = Py_BuildValue("(NNNON)", neopy_bytes(info.user, info.user_size),
			       neopy_bytes(info.description, info.description_size),
			       neopy_bytes(info.extension, info.extension_size),
			       info.packed ? Py_True : Py_False,
			       neopy_id_list(info.oids, info.oid_count));
	neo_client_txn_info_clear(&info);
	return result;
}

/* Tids, newest first, offsets [first, last). */
static PyObject *Client_undo_log(ClientObject *self, PyObject *args)
{
	unsigned long long first, last;
	uint64_t *tids = NULL;
	size_t count = 0;
	PyObject *list;
	int status;

	if (!PyArg_ParseTuple(args, "KK", &first, &last))
		return NULL;
	if (client_enter(self) < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	status = neo_client_undo_log(self->client, first, last, &tids, &count);
	Py_END_ALLOW_THREADS
	client_leave(self);
	if (status != NEO_CLIENT_OK)
		return neopy_raise(status);
	list = neopy_id_list(tids, count);
	neo_client_free(tids);
	return list;
}

/* Tids in [start, stop], ascending, at most length (0: no bound). */
static PyObject *Client_tids_from(ClientObject *self, PyObject *args)
{
	uint64_t start, stop;
	Py_ssize_t length;
	uint64_t *tids = NULL;
	size_t count = 0;
	PyObject *list;
	int status;

	if (!PyArg_ParseTuple(args, "O&O&n", neopy_id_converter, &start, neopy_id_converter,
			      &stop, &length))
		return NULL;
	if (length < 0)
		return PyErr_Format(PyExc_ValueError, "length must not be negative");
	if (client_enter(self) < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	status = neo_client_tids_from(self->client, start, stop, (size_t)length, &tids, &count);
	Py_END_ALLOW_THREADS
	client_leave(self);
	if (status != NEO_CLIENT_OK)
		return neopy_raise(status);
	list = neopy_id_list(tids, count);
	neo_client_free(tids);
	return list;
}

/* --- Pack -------------------------------------------------------------------------- */

/* pack(pack_tid, wait=False, gc=None) -> the pack order's id (its tid). */
static PyObject *Client_pack(ClientObject *self, PyObject *args, PyObject *kwargs)
{
	static char *keywords[] = { "pack_tid", "wait", "gc", NULL };
	uint64_t pack_tid, pack_id = 0;
	int wait = 0, status, gc_choice = -1;
	PyObject *gc = Py_None;

	if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O&|pO:pack", keywords, neopy_id_converter,
					 &pack_tid, &wait, &gc))
		return NULL;
	if (gc != Py_None) {
		gc_choice = PyObject_IsTrue(gc);
		if (gc_choice < 0)
			return NULL;
	}
	if (client_enter(self) < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	status = neo_client_pack_gc(self->client, pack_tid, gc_choice, wait, &pack_id);
	Py_END_ALLOW_THREADS
	client_leave(self);
	if (status != NEO_CLIENT_OK)
		return neopy_raise(status);
	return neopy_id_or_none(pack_id);
}

static PyObject *Client_wait_for_pack(ClientObject *self, PyObject *args)
{
	uint64_t pack_id;
	int status;

	if (!PyArg_ParseTuple(args, "O&", neopy_id_converter, &pack_id))
		return NULL;
	if (client_enter(self) < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	status = neo_client_wait_for_pack(self->client, pack_id);
	Py_END_ALLOW_THREADS
	client_leave(self);
	if (status != NEO_CLIENT_OK)
		return neopy_raise(status);
	Py_RETURN_NONE;
}

/* --- Transactions ------------------------------------------------------------------- */

/* begin(tid=None): a Txn; tid to commit as (restore), None for a new one. */
static PyObject *Client_begin(ClientObject *self, PyObject *args)
{
	uint64_t tid = 0;
	struct neo_txn *txn;
	PyObject *result;
	int status;

	if (!PyArg_ParseTuple(args, "|O&", neopy_id_converter, &tid))
		return NULL;
	if (client_enter(self) < 0)
		return NULL;
	Py_BEGIN_ALLOW_THREADS
	status = neo_client_begin(self->client, tid, &txn);
	Py_END_ALLOW_THREADS
	client_leave(self);
	if (status != NEO_CLIENT_OK)
		return neopy_raise(status);
	result = txn_new(self, txn);
	if (result == NULL) {
		Py_BEGIN_ALLOW_THREADS
		neo_txn_abort(txn);
		Py_END_ALLOW_THREADS
	}
	return result;
}

static PyMethodDef Client_methods[] = {
	{ "close", (PyCFunction)Client_close, METH_NOARGS,
	  "close(): abort open transactions, disconnect, stop the network thread." },
	{ "load", (PyCFunction)Client_load, METH_VARARGS,
	  "load(oid) -> (data, serial, next_serial): the current revision." },
	{ "load_serial", (PyCFunction)Client_load_serial, METH_VARARGS,
	  "load_serial(oid, serial) -> (data, serial, next_serial)." },
	{ "load_serial_ex", (PyCFunction)Client_load_serial_ex, METH_VARARGS,
	  "load_serial_ex(oid, serial) -> (data, serial, next_serial, data_serial):\n"
	  "data_serial is the revision an undo pointed back to, or None." },
	{ "load_before", (PyCFunction)Client_load_before, METH_VARARGS,
	  "load_before(oid, tid) -> (data, serial, next_serial): the newest before tid." },
	{ "load_blob", (PyCFunction)Client_load_blob, METH_VARARGS,
	  "load_blob(oid, serial, path) -> size: the blob of that revision into a\n"
	  "new file at path (NotBlobError if it has none)." },
	{ "last_tid", (PyCFunction)Client_last_tid, METH_NOARGS,
	  "last_tid() -> the last tid this client knows of." },
	{ "sync", (PyCFunction)Client_sync, METH_NOARGS,
	  "sync(): wait for every invalidation the master sent before now." },
	{ "new_oids", (PyCFunction)Client_new_oids, METH_VARARGS, "new_oids(count) -> [oid]." },
	{ "history", (PyCFunction)Client_history, METH_VARARGS,
	  "history(oid, length) -> [(serial, size)], newest first." },
	{ "transaction_info", (PyCFunction)Client_transaction_info, METH_VARARGS,
	  "transaction_info(tid) -> (user, description, extension, packed, [oid])." },
	{ "undo_log", (PyCFunction)Client_undo_log, METH_VARARGS,
	  "undo_log(first, last) -> [tid], newest first." },
	{ "tids_from", (PyCFunction)Client_tids_from, METH_VARARGS,
	  "tids_from(start, stop, length) -> [tid] in [start, stop], ascending." },
	{ "pack", (PyCFunction)(void (*)(void))Client_pack, METH_VARARGS | METH_KEYWORDS,
	  "pack(pack_tid, wait=False, gc=None) -> pack_id: forget revisions older\n"
	  "than the last one of each object at pack_tid; gc True also removes the\n"
	  "objects unreachable from the root then, False not, None as the cluster's\n"
	  "default (NEO in C's clusters; an upstream cluster never collects)." },
	{ "wait_for_pack", (PyCFunction)Client_wait_for_pack, METH_VARARGS,
	  "wait_for_pack(pack_id): until every storage applied that pack." },
	{ "begin", (PyCFunction)Client_begin, METH_VARARGS,
	  "begin(tid=None) -> Txn: a new transaction (committed as tid if given)." },
	{ NULL }
};

static PyGetSetDef Client_getset[] = {
	{ "closed", (getter)Client_get_closed, NULL, "True once closed.", NULL },
	{ NULL }
};

PyTypeObject Client_Type = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "neo.client._neoclient.Client",
	.tp_doc = "Client(masters, cluster, *, read_only=False, cache_size=0, compress=-1,\n"
		  "       ca=None, cert=None, key=None, logfile=None, connect_timeout=0,\n"
		  "       on_invalidate=None)\n\n"
		  "A client of the NEO cluster `cluster` (masters: \"host:port host:port\").\n"
		  "on_invalidate(tid, oids) is called from the network thread for each\n"
		  "transaction of another client, oids None when anything may have changed.",
	.tp_basicsize = sizeof(ClientObject),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
	.tp_new = Client_new,
	.tp_dealloc = (destructor)Client_dealloc,
	.tp_traverse = (traverseproc)Client_traverse,
	.tp_clear = (inquiry)Client_clear,
	.tp_weaklistoffset = offsetof(ClientObject, weakreflist),
	.tp_methods = Client_methods,
	.tp_getset = Client_getset,
};
