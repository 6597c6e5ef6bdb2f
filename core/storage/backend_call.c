/*
 * storage/backend_call.c - the one place that tells whether the backend
 * module has an optional operation (neo/backend.h tags them), and what
 * the node does when it has not: a log line, and for a request the error
 * BACKEND_NOT_IMPLEMENTED, never a call through NULL.  The loader has
 * already refused a module that lacks a mandatory operation.
 */
#include "storage/storage.h"

#include "runtime/log.h"

bool storage_backend_check(struct storage *s, struct neo_conn *conn, uint32_t msg_id,
			   bool present, const char *op, const char *what)
{
	if (present)
		return true;
	neo_log(NEO_LOG_WARNING, "%s: backend %s does not implement %s", what, s->be->name, op);
	if (conn != NULL)
		storage_send_error(conn, msg_id, NEO_ERROR_BACKEND_NOT_IMPLEMENTED,
				   "backend %s does not implement %s (%s)", s->be->name, op, what);
	return false;
}

bool storage_backend_can_pack(const struct storage *s)
{
	const struct neo_backend *be = s->be;

	return be->pack_order_put && be->pack_order_rename && be->pack_order_sign
	       && be->pack_orders_from && be->pack_oid && be->pt_set_packed && be->oid_range;
}
