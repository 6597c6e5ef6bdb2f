/*
 * mysql_connection.c - database= parsing, connecting, the session's
 * settings and the lock that keeps two storage nodes off one database.
 *
 * The client library's own auto-reconnect stays off: it would silently
 * drop an open transaction.  mysql_statements.c decides when to reconnect
 * (only when nothing was uncommitted) and calls back in here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <errmsg.h>
#include <mysqld_error.h>

#include "mysql_db.h"

/* MariaDB's answer to a statement of a KILLed connection; MySQL's
 * headers lack it. */
#ifndef ER_CONNECTION_KILLED
#define ER_CONNECTION_KILLED 1927
#endif

static char *copy_span(const char *start, size_t length)
{
	char *copy = malloc(length + 1);

	if (copy != NULL) {
		memcpy(copy, start, length);
		copy[length] = '\0';
	}
	return copy;
}

/* As upstream's "[user[:password]@]database[(~|.|/)unix_socket]": the
 * credentials end at the last '@' that a database name follows; the name
 * runs up to the first '~', '.' or '/', and the rest is the socket. */
static const char *credentials_end(const char *database)
{
	const char *at = NULL;

	for (const char *p = database; *p != '\0'; p++)
		if (*p == '@' && p[1] != '\0' && strchr("~./", p[1]) == NULL)
			at = p;
	return at;
}

static int parse_credentials(const char *start, const char *at, struct neo_mysql_target *target)
{
	const char *colon = memchr(start, ':', (size_t)(at - start));

	if (colon == NULL) {
		target->user = copy_span(start, (size_t)(at - start));
		return target->user != NULL ? 0 : -1;
	}
	target->user = copy_span(start, (size_t)(colon - start));
	target->password = copy_span(colon + 1, (size_t)(at - colon - 1));
	return target->user != NULL && target->password != NULL ? 0 : -1;
}

/* "~/x" is the user's home, as upstream expands it. */
static char *expand_socket(const char *socket)
{
	const char *home = getenv("HOME");
	char *path;

	if (strncmp(socket, "~/", 2) != 0 || home == NULL)
		return strdup(socket);
	path = malloc(strlen(home) + strlen(socket));
	if (path != NULL)
		sprintf(path, "%s%s", home, socket + 1);
	return path;
}

int neo_mysql_parse_target(const char *database, struct neo_mysql_target *target,
			   char *err, size_t errlen)
{
	const char *at = credentials_end(database);
	const char *name = at != NULL ? at + 1 : database;
	size_t name_length = strcspn(name, "~./");
	bool ok;

	memset(target, 0, sizeof(*target));
	if (at == database || name_length == 0) {
		snprintf(err, errlen, "mysql_innodb: database='%s' is not [user[:password]@]database"
			 "[unix_socket] (e.g. root@neo/run/mysqld/mysqld.sock)", database);
		return NEO_BACKEND_EINVAL;
	}
	ok = at == NULL || parse_credentials(database, at, target) == 0;
	target->database = copy_span(name, name_length);
	if (name[name_length] != '\0')
		target->socket = expand_socket(name + name_length);
	if (!ok || target->database == NULL || (name[name_length] != '\0' && target->socket == NULL)) {
		neo_mysql_free_target(target);
		snprintf(err, errlen, "out of memory");
		return NEO_BACKEND_EIO;
	}
	return NEO_BACKEND_OK;
}

void neo_mysql_free_target(struct neo_mysql_target *target)
{
	free(target->user);
	free(target->password);
	free(target->database);
	free(target->socket);
	memset(target, 0, sizeof(*target));
}

bool neo_mysql_is_lost(unsigned int code)
{
	return code == CR_SERVER_GONE_ERROR || code == CR_SERVER_LOST ||
	       code == CR_SERVER_LOST_EXTENDED || code == ER_CONNECTION_KILLED ||
	       code == ER_SERVER_SHUTDOWN;
}

void neo_mysql_log(struct neo_db *db, enum neo_backend_log_level level, const char *message)
{
	if (db->log != NULL)
		db->log(db->log_ctx, level, message);
}

/* The words for a refused connection, naming what to fix. */
static int connect_failure(struct neo_db *db, MYSQL *conn)
{
	unsigned int code = mysql_errno(conn);
	const struct neo_mysql_target *t = &db->target;

	if (code == ER_ACCESS_DENIED_ERROR || code == ER_DBACCESS_DENIED_ERROR) {
		snprintf(db->errmsg, sizeof(db->errmsg), "access to database '%s' denied for user "
			 "'%s' (check user and password in database=): %s", t->database,
			 t->user ? t->user : "(default)", mysql_error(conn));
		return NEO_BACKEND_EINVAL;
	}
	if (code == ER_BAD_DB_ERROR) {
		snprintf(db->errmsg, sizeof(db->errmsg), "the database '%s' does not exist on the "
			 "MySQL server; create it first (CREATE DATABASE `%s`)", t->database,
			 t->database);
		return NEO_BACKEND_EINVAL;
	}
	snprintf(db->errmsg, sizeof(db->errmsg), "cannot connect to the MySQL server%s%s: %s",
		 t->socket ? " at socket " : "", t->socket ? t->socket : "", mysql_error(conn));
	return NEO_BACKEND_EIO;
}

/* Credentials and a missing database do not fix themselves: only an
 * unreachable server is worth waiting for. */
static bool worth_retrying(unsigned int code)
{
	return code == CR_CONNECTION_ERROR || code == CR_CONN_HOST_ERROR ||
	       code == CR_SERVER_LOST || code == CR_SERVER_GONE_ERROR ||
	       code == ER_SERVER_SHUTDOWN || code == ER_CON_COUNT_ERROR;
}

static int connect_once(struct neo_db *db, bool *retry)
{
	MYSQL *conn = mysql_init(NULL);
	unsigned int timeout = 10;
	unsigned long packet = 1ul << 30;	/* the server's limit is the one that counts */
	const struct neo_mysql_target *t = &db->target;
	int status;

	*retry = false;
	if (conn == NULL) {
		snprintf(db->errmsg, sizeof(db->errmsg), "out of memory");
		return NEO_BACKEND_EIO;
	}
	mysql_options(conn, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
	mysql_options(conn, MYSQL_OPT_MAX_ALLOWED_PACKET, &packet);
	/* CLIENT_FOUND_ROWS: an UPDATE counts the rows it matched, as
	 * SQLite's changes(), so "no such row" is told from "no change". */
	if (mysql_real_connect(conn, NULL, t->user, t->password, t->database, 0, t->socket,
			       CLIENT_FOUND_ROWS) == NULL) {
		*retry = worth_retrying(mysql_errno(conn));
		status = connect_failure(db, conn);
		mysql_close(conn);
		return status;
	}
	db->conn = conn;
	return NEO_BACKEND_OK;
}

/* Runs a statement of the session set-up and returns its first value
 * (NULL for none) in value. */
static int session_query(struct neo_db *db, const char *sql, char *value, size_t size)
{
	MYSQL_RES *result;
	MYSQL_ROW row;

	if (mysql_query(db->conn, sql) != 0)
		return neo_mysql_fail(db, NEO_BACKEND_EIO, sql);
	result = mysql_store_result(db->conn);
	if (value == NULL) {
		mysql_free_result(result);
		return NEO_BACKEND_OK;
	}
	if (result == NULL)
		return neo_mysql_fail(db, NEO_BACKEND_EIO, sql);
	row = mysql_fetch_row(result);
	if (row != NULL && row[0] != NULL)
		snprintf(value, size, "%s", row[0]);
	else
		snprintf(value, size, "NULL");
	mysql_free_result(result);
	return NEO_BACKEND_OK;
}

/* As upstream: a session-wide named lock, released when the connection
 * ends; a second storage node on the same database is refused.  A
 * second of patience covers a just-killed predecessor whose connection
 * the server has not reaped yet. */
static int take_lock(struct neo_db *db)
{
	char got[32];
	int status = session_query(db, "SELECT GET_LOCK(CONCAT(DATABASE(), '.neostorage'), 1)",
				   got, sizeof(got));

	if (status != NEO_BACKEND_OK)
		return status;
	if (strcmp(got, "1") != 0) {
		snprintf(db->errmsg, sizeof(db->errmsg), "database '%s' is locked (used by another "
			 "storage node?)", db->target.database);
		return NEO_BACKEND_ELOCKED;
	}
	return NEO_BACKEND_OK;
}

static int check_packet_size(struct neo_db *db)
{
	char value[32];
	int status = session_query(db, "SELECT @@max_allowed_packet", value, sizeof(value));

	if (status != NEO_BACKEND_OK)
		return status;
	db->max_allowed_packet = strtoul(value, NULL, 10);
	if (db->max_allowed_packet < NEO_MYSQL_MIN_ALLOWED_PACKET) {
		snprintf(db->errmsg, sizeof(db->errmsg), "the MySQL server's max_allowed_packet is "
			 "%lu; at least %luK is needed (set max_allowed_packet = 128M in its "
			 "configuration)", db->max_allowed_packet, NEO_MYSQL_MIN_ALLOWED_PACKET / 1024);
		return NEO_BACKEND_EINVAL;
	}
	return NEO_BACKEND_OK;
}

static int setup_session(struct neo_db *db)
{
	/* As upstream: no idle timeout, strict types, and the engine asked
	 * for or an error (never a silent MyISAM). */
	int status = session_query(db, "SET SESSION wait_timeout = 2147483,"
		" SESSION sql_mode = 'TRADITIONAL,NO_ENGINE_SUBSTITUTION',"
		" SESSION group_concat_max_len = 4294967295", NULL, 0);

	if (status == NEO_BACKEND_OK && mysql_autocommit(db->conn, 0) != 0)
		status = neo_mysql_fail(db, NEO_BACKEND_EIO, "autocommit off");
	if (status == NEO_BACKEND_OK)
		status = take_lock(db);
	if (status == NEO_BACKEND_OK)
		status = check_packet_size(db);
	return status;
}

static double seconds_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int neo_mysql_connect(struct neo_db *db)
{
	double deadline = seconds_now() + db->wait_seconds;
	bool retry, told = false;
	int status;

	while ((status = connect_once(db, &retry)) != NEO_BACKEND_OK) {
		if (!retry || (db->wait_seconds >= 0 && seconds_now() >= deadline))
			return status;
		if (!told)
			neo_mysql_log(db, NEO_BACKEND_LOG_WARNING, db->errmsg);
		told = true;
		sleep(1);
	}
	status = setup_session(db);
	if (status != NEO_BACKEND_OK)
		neo_mysql_disconnect(db);
	return status;
}

void neo_mysql_disconnect(struct neo_db *db)
{
	neo_mysql_forget_statements(db);
	if (db->conn != NULL)
		mysql_close(db->conn);
	db->conn = NULL;
}
