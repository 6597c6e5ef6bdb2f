/*
 * module.c - neo.client._neoclient: the module, its exceptions, and ids.
 *
 * Ids (oids, tids, serials) cross the boundary as ZODB has them: 8-byte
 * big-endian strings.  Each libneoclient status has its exception class,
 * all under Error, with the status in the `status` attribute.
 */
#include "neoclient_py.h"

#include <string.h>

static PyObject *Error;

/* One exception class per status; names as the module exports them. */
static struct {
	int status;
	const char *name;
	PyObject *type;
} errors[] = {
	{ NEO_CLIENT_NOT_FOUND, "NotFoundError", NULL },
	{ NEO_CLIENT_NO_DATA, "NoDataError", NULL },
	{ NEO_CLIENT_CONFLICT, "ConflictError", NULL },
	{ NEO_CLIENT_READ_CONFLICT, "ReadConflictError", NULL },
	{ NEO_CLIENT_UNDO_ERROR, "UndoError", NULL },
	{ NEO_CLIENT_READ_ONLY, "ReadOnlyError", NULL },
	{ NEO_CLIENT_DISCONNECTED, "DisconnectedError", NULL },
	{ NEO_CLIENT_UNAVAILABLE, "UnavailableError", NULL },
	{ NEO_CLIENT_TIMEOUT, "TimeoutError", NULL },
	{ NEO_CLIENT_INCOMPLETE, "IncompleteError", NULL },
	{ NEO_CLIENT_INVALID, "InvalidError", NULL },
	{ NEO_CLIENT_PROTOCOL, "ProtocolError", NULL },
	{ NEO_CLIENT_NOMEM, "NoMemoryError", NULL },
	{ NEO_CLIENT_TID_NOT_FOUND, "TidNotFoundError", NULL },
	{ NEO_CLIENT_NOT_BLOB, "NotBlobError", NULL },
	{ NEO_CLIENT_IO, "BlobIOError", NULL },
};

#define ERROR_COUNT (sizeof errors / sizeof errors[0])

int neopy_init_errors(PyObject *module)
{
	char qualified[96];

	Error = PyErr_NewExceptionWithDoc("neo.client._neoclient.Error",
					  "An error of libneoclient; `status` is its code.",
					  NULL, NULL);
	if (Error == NULL || PyModule_AddObjectRef(module, "Error", Error) < 0)
		return -1;
	for (size_t i = 0; i < ERROR_COUNT; i++) {
		snprintf(qualified, sizeof qualified, "neo.client._neoclient.%s", errors[i].name);
		errors[i].type = PyErr_NewException(qualified, Error, NULL);
		if (errors[i].type == NULL
		    || PyModule_AddObjectRef(module, errors[i].name, errors[i].type) < 0)
			return -1;
	}
	return 0;
}

PyObject *neopy_raise(int status)
{
	PyObject *type = Error, *value, *code, *text;
	const char *message = neo_client_errmsg();

	for (size_t i = 0; i < ERROR_COUNT; i++)
		if (errors[i].status == status)
			type = errors[i].type;
	if (message == NULL || *message == '\0')
		message = "failed";
	/* Messages may quote what a peer sent: not always UTF-8. */
	text = PyUnicode_DecodeUTF8(message, (Py_ssize_t)strlen(message), "replace");
	if (text == NULL)
		return NULL;
	value = PyObject_CallOneArg(type, text);
	Py_DECREF(text);
	if (value == NULL)
		return NULL;
	code = PyLong_FromLong(status);
	if (code && PyObject_SetAttrString(value, "status", code) == 0)
		PyErr_SetObject(type, value);
	Py_XDECREF(code);
	Py_DECREF(value);
	return NULL;
}

PyObject *neopy_raise_closed(void)
{
	PyErr_SetString(Error, "the client is closed");
	return NULL;
}

int neopy_id_converter(PyObject *object, void *id)
{
	uint64_t value = 0;
	const unsigned char *bytes;

	if (object == Py_None) {
		*(uint64_t *)id = 0;
		return 1;
	}
	if (!PyBytes_Check(object) || PyBytes_GET_SIZE(object) != 8) {
		PyErr_Format(PyExc_TypeError, "an id is 8 bytes, not %R", object);
		return 0;
	}
	bytes = (const unsigned char *)PyBytes_AS_STRING(object);
	for (int i = 0; i < 8; i++)
		value = value << 8 | bytes[i];
	*(uint64_t *)id = value;
	return 1;
}

PyObject *neopy_id(uint64_t id)
{
	char bytes[8];

	for (int i = 7; i >= 0; i--, id >>= 8)
		bytes[i] = (char)(id & 0xff);
	return PyBytes_FromStringAndSize(bytes, 8);
}

PyObject *neopy_id_or_none(uint64_t id)
{
	if (id == 0)
		Py_RETURN_NONE;
	return neopy_id(id);
}

PyObject *neopy_bytes(const void *data, size_t size)
{
	return PyBytes_FromStringAndSize(data ? (const char *)data : "", (Py_ssize_t)size);
}

PyObject *neopy_id_list(const uint64_t *ids, size_t count)
{
	PyObject *list = PyList_New((Py_ssize_t)count);

	for (size_t i = 0; list && i < count; i++) {
		PyObject *id = neopy_id(ids[i]);

		if (id == NULL) {
			Py_CLEAR(list);
			break;
		}
		PyList_SET_ITEM(list, (Py_ssize_t)i, id);
	}
	return list;
}

/* blob_data(record) -> the object's own data of a record: without the
 * manifest of a blob object's record (neo/client.h), else record itself. */
static PyObject *module_blob_data(PyObject *module, PyObject *record)
{
	size_t size;

	(void)module;
	if (!PyBytes_Check(record)) {
		PyErr_Format(PyExc_TypeError, "a record is bytes, not %R", record);
		return NULL;
	}
	size = neo_client_blob_data_size(PyBytes_AS_STRING(record),
					 (size_t)PyBytes_GET_SIZE(record));
	if (size == (size_t)PyBytes_GET_SIZE(record))
		return Py_NewRef(record);
	return PyBytes_FromStringAndSize(PyBytes_AS_STRING(record), (Py_ssize_t)size);
}

/* is_blob(record) -> whether it is a blob object's record. */
static PyObject *module_is_blob(PyObject *module, PyObject *record)
{
	(void)module;
	if (!PyBytes_Check(record)) {
		PyErr_Format(PyExc_TypeError, "a record is bytes, not %R", record);
		return NULL;
	}
	return PyBool_FromLong(neo_client_record_is_blob(PyBytes_AS_STRING(record),
							 (size_t)PyBytes_GET_SIZE(record)));
}

/* is_blob_chunk(record) -> whether it is a blob's chunk record. */
static PyObject *module_is_blob_chunk(PyObject *module, PyObject *record)
{
	(void)module;
	if (!PyBytes_Check(record)) {
		PyErr_Format(PyExc_TypeError, "a record is bytes, not %R", record);
		return NULL;
	}
	return PyBool_FromLong(neo_client_record_is_blob_chunk(PyBytes_AS_STRING(record),
							       (size_t)PyBytes_GET_SIZE(record)));
}

/* blob_chunks(record) -> [oid]: the chunks a blob object's record lists. */
static PyObject *module_blob_chunks(PyObject *module, PyObject *record)
{
	uint64_t *oids;
	size_t count;
	PyObject *list;
	int status;

	(void)module;
	if (!PyBytes_Check(record)) {
		PyErr_Format(PyExc_TypeError, "a record is bytes, not %R", record);
		return NULL;
	}
	status = neo_client_blob_chunk_oids(PyBytes_AS_STRING(record),
					    (size_t)PyBytes_GET_SIZE(record), &oids, &count);
	if (status != NEO_CLIENT_OK)
		return neopy_raise(status);
	list = neopy_id_list(oids, count);
	neo_client_free(oids);
	return list;
}

static PyMethodDef module_methods[] = {
	{ "is_blob_chunk", module_is_blob_chunk, METH_O,
	  "is_blob_chunk(record) -> a blob's chunk record?" },
	{ "blob_chunks", module_blob_chunks, METH_O,
	  "blob_chunks(record) -> [oid]: the chunks of a blob object's record." },
	{ "blob_data", module_blob_data, METH_O,
	  "blob_data(record) -> the object's own data (a blob object's record\n"
	  "without its manifest; any other record as it is)." },
	{ "is_blob", module_is_blob, METH_O, "is_blob(record) -> a blob object's record?" },
	{ NULL }
};

static struct PyModuleDef module_def = {
	PyModuleDef_HEAD_INIT,
	.m_name = "neo.client._neoclient",
	.m_doc = "libneoclient, the C client of a NEO cluster, for neo.client.Storage.",
	.m_size = -1,
	.m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__neoclient(void)
{
	PyObject *module = PyModule_Create(&module_def);

	if (module == NULL)
		return NULL;
	if (PyType_Ready(&Client_Type) < 0 || PyType_Ready(&Txn_Type) < 0
	    || PyModule_AddObjectRef(module, "Client", (PyObject *)&Client_Type) < 0
	    || PyModule_AddObjectRef(module, "Txn", (PyObject *)&Txn_Type) < 0
	    || PyModule_AddIntConstant(module, "API_VERSION", NEO_CLIENT_API_VERSION) < 0
	    || neopy_init_errors(module) < 0) {
		Py_DECREF(module);
		return NULL;
	}
	return module;
}
