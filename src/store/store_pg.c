/*
 * store_pg.c: the PostgreSQL back end of the store ops table, on libpq's
 * asynchronous API.
 *
 * Each store thread owns one connection and drives it with poll(): connect
 * with PQconnectStart/PQconnectPoll (the socket may change between polls),
 * send with PQsendQueryParams (text parameters) and PQflush, then
 * PQconsumeInput/PQisBusy/PQgetResult until the result stream ends. Every
 * wait has a deadline, so a stuck server or a lock wait turns into
 * -ETIMEDOUT (after a cancel request) instead of a hung store thread.
 *
 * Parameters travel as text; STORE_INT and STORE_REAL are declared int8 and
 * float8 so that expressions like "$1 + 1" type-check as they do in SQLite.
 * Result columns come back as STORE_INT for int2/int4/int8, STORE_REAL for
 * float4/float8/numeric, STORE_NULL for NULL and STORE_TEXT otherwise.
 * SQLSTATE 23505 (unique_violation) maps to STORE_ECONFLICT, 25006
 * (read-only transaction) to -EROFS.
 *
 * A connection found broken at the start of a transaction (before BEGIN,
 * or by BEGIN failing on it) is reconnected once: nothing has run yet, so
 * a server restart between transactions costs no job. A connection lost
 * inside a transaction fails that batch (or read job) only.
 */
#include "store/store_int.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONNECT_TIMEOUT_MS 10000
#define CANCEL_GRACE_MS 5000

/* PQftype OIDs (from pg_type.h, which client code should not include). */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

static atomic_int query_timeout_ms = 30000;

void store_pg_set_timeout_ms(int ms)
{
	atomic_store(&query_timeout_ms, ms > 0 ? ms : 30000);
}

struct store_conn {
	PGconn *pg;
	char *url;
	bool readonly;
	int timeout_ms;
};

static void ignore_notice(void *arg, const char *message)
{
	/* "relation already exists, skipping" and friends: not errors, and
	 * libpq's default would print them raw to stderr. */
	(void)arg;
	(void)message;
}

/* Wait until the socket is ready for events or the deadline (monotonic µs)
 * passes. Returns >0 ready, 0 timeout, <0 error. */
static int wait_sock(PGconn *pg, short events, int64_t deadline)
{
	int fd = PQsocket(pg);
	if (fd < 0)
		return -EBADF;
	for (;;) {
		int64_t left = deadline - store_mono_us();
		if (left <= 0)
			return 0;
		struct pollfd pfd = {.fd = fd, .events = events};
		int r = poll(&pfd, 1, (int)((left + 999) / 1000));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r > 0)
			return r;
	}
}

static int pg_connect(struct store_conn *c)
{
	if (c->pg) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	PGconn *pg = PQconnectStart(c->url);
	if (!pg)
		return -ENOMEM;
	int64_t deadline = store_mono_us() + (int64_t)CONNECT_TIMEOUT_MS * 1000;
	PostgresPollingStatusType ps = PGRES_POLLING_WRITING;
	while (PQstatus(pg) != CONNECTION_BAD && ps != PGRES_POLLING_OK &&
	       ps != PGRES_POLLING_FAILED) {
		/* Re-read the socket every time: libpq may switch to another
		 * address (and fd) while connecting. */
		int r = wait_sock(pg, ps == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
		if (r == 0) {
			store_log_error("postgresql connect: timed out after %d ms",
					CONNECT_TIMEOUT_MS);
			PQfinish(pg);
			return -ETIMEDOUT;
		}
		if (r < 0)
			break;
		ps = PQconnectPoll(pg);
	}
	if (PQstatus(pg) != CONNECTION_OK) {
		store_log_error("postgresql connect: %s", PQerrorMessage(pg));
		PQfinish(pg);
		return STORE_EBACKEND;
	}
	if (PQsetnonblocking(pg, 1) != 0) {
		store_log_error("postgresql: cannot set non-blocking: %s", PQerrorMessage(pg));
		PQfinish(pg);
		return STORE_EBACKEND;
	}
	PQsetNoticeProcessor(pg, ignore_notice, NULL);
	c->pg = pg;
	return 0;
}

/* Ask the server to cancel the running statement and wait (bounded) for
 * the result stream to end, so the connection is usable again. Returns
 * false when the connection had to be given up. */
static bool cancel_and_drain(struct store_conn *c)
{
	char errbuf[256];
	PGcancel *cn = PQgetCancel(c->pg);
	if (cn) {
		PQcancel(cn, errbuf, sizeof(errbuf));
		PQfreeCancel(cn);
	}
	int64_t deadline = store_mono_us() + (int64_t)CANCEL_GRACE_MS * 1000;
	for (;;) {
		while (!PQisBusy(c->pg)) {
			PGresult *r = PQgetResult(c->pg);
			if (!r)
				return true;
			PQclear(r);
		}
		if (wait_sock(c->pg, POLLIN, deadline) <= 0 || !PQconsumeInput(c->pg))
			break;
	}
	/* Unusable: drop it; the next begin() reconnects. */
	PQfinish(c->pg);
	c->pg = NULL;
	return false;
}

static int map_result(struct store_conn *c, PGresult *res, const char *sql)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (state && strcmp(state, "23505") == 0)
		return STORE_ECONFLICT; /* expected outcome: not logged */
	if (state && strcmp(state, "25006") == 0)
		return -EROFS;
	const char *msg = PQresultErrorMessage(res);
	if (!msg || !*msg)
		msg = PQerrorMessage(c->pg);
	/* libpq ends its messages with a newline; the log line must not. */
	int len = (int)strlen(msg);
	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
		len--;
	store_log_error("postgresql: %.*s (sqlstate %s) in: %.200s", len, msg,
			state ? state : "-", sql);
	return STORE_EBACKEND;
}

/* Send a statement and collect its results. With params == NULL and
 * nparams == 0 and script set, the simple protocol is used (several
 * statements allowed). *out receives the first tuples/command result, or
 * the first error result; the rest are drained. */
static int pg_run(struct store_conn *c, const char *sql, const struct store_val *params,
		  int nparams, bool script, PGresult **out)
{
	*out = NULL;
	if (!c->pg)
		return STORE_EBACKEND;

	const char *vals_small[16];
	Oid types_small[16];
	char *bufs_small[16];
	const char **vals = vals_small;
	Oid *types = types_small;
	char **bufs = bufs_small; /* what we allocated, freed at the end */
	int err = 0;
	if (nparams > 16) {
		vals = calloc((size_t)nparams, sizeof(*vals));
		types = calloc((size_t)nparams, sizeof(*types));
		bufs = calloc((size_t)nparams, sizeof(*bufs));
		if (!vals || !types || !bufs) {
			err = -ENOMEM;
			nparams = 0;
		}
	}
	for (int i = 0; i < nparams; i++) {
		char num[40];
		bufs[i] = NULL;
		vals[i] = NULL;
		types[i] = 0;
		switch (params[i].type) {
		case STORE_NULL:
			break;
		case STORE_INT:
			snprintf(num, sizeof(num), "%lld", (long long)params[i].i);
			bufs[i] = strdup(num);
			types[i] = OID_INT8;
			break;
		case STORE_REAL:
			/* 17 significant digits round-trip a double exactly. */
			snprintf(num, sizeof(num), "%.17g", params[i].d);
			bufs[i] = strdup(num);
			types[i] = OID_FLOAT8;
			break;
		case STORE_TEXT:
			/* Text format wants NUL-terminated strings; the caller's
			 * may be a slice. */
			if (params[i].s)
				bufs[i] = strndup(params[i].s, params[i].len);
			break;
		}
		if ((params[i].type == STORE_INT || params[i].type == STORE_REAL ||
		     (params[i].type == STORE_TEXT && params[i].s)) &&
		    !bufs[i])
			err = -ENOMEM;
		vals[i] = bufs[i];
	}

	int sent = 0;
	if (!err) {
		sent = script ? PQsendQuery(c->pg, sql)
			      : PQsendQueryParams(c->pg, sql, nparams, types, vals, NULL, NULL, 0);
		if (!sent) {
			store_log_error("postgresql send: %s", PQerrorMessage(c->pg));
			err = STORE_EBACKEND;
		}
	}
	int64_t deadline = store_mono_us() + (int64_t)c->timeout_ms * 1000;
	bool timed_out = false;

	/* Flush: 1 means "more to send"; reading meanwhile keeps a server
	 * that is busy sending to us from deadlocking against our writes. */
	while (!err) {
		int f = PQflush(c->pg);
		if (f == 0)
			break;
		if (f < 0) {
			store_log_error("postgresql flush: %s", PQerrorMessage(c->pg));
			err = STORE_EBACKEND;
			break;
		}
		int r = wait_sock(c->pg, POLLIN | POLLOUT, deadline);
		if (r == 0) {
			timed_out = true;
			break;
		}
		if (r < 0 || !PQconsumeInput(c->pg)) {
			err = STORE_EBACKEND;
			break;
		}
	}

	/* Results until PQgetResult returns NULL. */
	while (sent && !err && !timed_out) {
		while (!PQisBusy(c->pg)) {
			PGresult *r = PQgetResult(c->pg);
			if (!r)
				goto done;
			ExecStatusType s = PQresultStatus(r);
			bool bad = s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK &&
				   s != PGRES_EMPTY_QUERY;
			if (!*out) {
				*out = r;
			} else if (bad && PQresultStatus(*out) != PGRES_FATAL_ERROR) {
				/* A later statement of a script failed: report it. */
				PQclear(*out);
				*out = r;
			} else {
				PQclear(r);
			}
		}
		int r = wait_sock(c->pg, POLLIN, deadline);
		if (r == 0) {
			timed_out = true;
			break;
		}
		if (r < 0 || !PQconsumeInput(c->pg)) {
			store_log_error("postgresql receive: %s", PQerrorMessage(c->pg));
			err = STORE_EBACKEND;
		}
	}
	if (err && sent) {
		/* Half a result stream is no state to go on from: drop the
		 * connection; the next begin() reconnects. */
		PQfinish(c->pg);
		c->pg = NULL;
	}
	if (timed_out) {
		store_log_error("postgresql: statement timed out after %d ms: %.200s",
				c->timeout_ms, sql);
		cancel_and_drain(c);
		err = -ETIMEDOUT;
	}
done:
	for (int i = 0; i < nparams; i++)
		free(bufs[i]);
	if (vals != vals_small)
		free(vals);
	if (types != types_small)
		free(types);
	if (bufs != bufs_small)
		free(bufs);
	if (err) {
		PQclear(*out);
		*out = NULL;
		return err;
	}
	if (!*out) {
		store_log_error("postgresql: no result for: %.200s", sql);
		return STORE_EBACKEND;
	}
	ExecStatusType s = PQresultStatus(*out);
	if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK && s != PGRES_EMPTY_QUERY) {
		err = map_result(c, *out, sql);
		PQclear(*out);
		*out = NULL;
	}
	return err;
}

static int pg_query(struct store_conn *c, const char *sql, const struct store_val *params,
		    int nparams, store_row_h *row, void *arg)
{
	PGresult *res = NULL;
	int err = pg_run(c, sql, params, nparams, false, &res);
	if (err)
		return err;
	int nrows = PQntuples(res), ncols = PQnfields(res);
	struct store_val cols_small[16];
	struct store_val *cols = cols_small;
	if (ncols > 16 && !(cols = calloc((size_t)ncols, sizeof(*cols)))) {
		PQclear(res);
		return -ENOMEM;
	}
	for (int r = 0; row && r < nrows && !err; r++) {
		for (int i = 0; i < ncols; i++) {
			struct store_val *v = &cols[i];
			memset(v, 0, sizeof(*v));
			if (PQgetisnull(res, r, i)) {
				v->type = STORE_NULL;
				continue;
			}
			const char *s = PQgetvalue(res, r, i);
			char *end = NULL;
			switch (PQftype(res, i)) {
			case OID_INT2:
			case OID_INT4:
			case OID_INT8:
				v->type = STORE_INT;
				v->i = strtoll(s, &end, 10);
				break;
			case OID_FLOAT4:
			case OID_FLOAT8:
			case OID_NUMERIC:
				v->type = STORE_REAL;
				v->d = strtod(s, &end);
				break;
			default:
				v->type = STORE_TEXT;
				v->s = s;
				v->len = (size_t)PQgetlength(res, r, i);
			}
		}
		err = row(cols, ncols, arg);
	}
	if (cols != cols_small)
		free(cols);
	PQclear(res);
	return err;
}

static int pg_exec(struct store_conn *c, const char *sql, const struct store_val *params,
		   int nparams, int64_t *changes)
{
	PGresult *res = NULL;
	int err = pg_run(c, sql, params, nparams, false, &res);
	if (err)
		return err;
	if (changes) {
		const char *t = PQcmdTuples(res);
		*changes = t && *t ? strtoll(t, NULL, 10) : 0;
	}
	PQclear(res);
	return 0;
}

static int pg_exec_script(struct store_conn *c, const char *sql)
{
	PGresult *res = NULL;
	int err = pg_run(c, sql, NULL, 0, true, &res);
	PQclear(res);
	return err;
}

static int pg_begin(struct store_conn *c, bool readonly)
{
	/* A connection lost earlier (server restart, failed cancel) gets one
	 * reconnect here, between transactions, where nothing is lost. */
	if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
		int err = pg_connect(c);
		if (err)
			return err;
	}
	/* REPEATABLE READ: one snapshot for the whole read job. A read-only
	 * transaction at this level never fails with a serialization error. */
	const char *sql = readonly ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN";
	int err = pg_exec(c, sql, NULL, 0, NULL);
	if (err && (!c->pg || PQstatus(c->pg) == CONNECTION_BAD)) {
		/* An idle connection the server dropped is only noticed now.
		 * Nothing has run yet, so a fresh connection loses nothing. */
		err = pg_connect(c);
		if (!err)
			err = pg_exec(c, sql, NULL, 0, NULL);
	}
	return err;
}

static int pg_commit(struct store_conn *c)
{
	PGresult *res = NULL;
	int err = pg_run(c, "COMMIT", NULL, 0, false, &res);
	if (err)
		return err;
	/* COMMIT of a transaction in error state "succeeds" with the tag
	 * ROLLBACK: that is a failed commit for us. */
	if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		store_log_error("postgresql: COMMIT answered %s", PQcmdStatus(res));
		err = STORE_EBACKEND;
	}
	PQclear(res);
	return err;
}

static bool pg_in_tx(struct store_conn *c)
{
	if (!c->pg)
		return false;
	PGTransactionStatusType s = PQtransactionStatus(c->pg);
	return s == PQTRANS_INTRANS || s == PQTRANS_INERROR;
}

static int pg_rollback(struct store_conn *c)
{
	if (!pg_in_tx(c))
		return 0;
	return pg_exec(c, "ROLLBACK", NULL, 0, NULL);
}

static int pg_savepoint(struct store_conn *c)
{
	return pg_exec(c, "SAVEPOINT hl_job", NULL, 0, NULL);
}

static int pg_release(struct store_conn *c)
{
	return pg_exec(c, "RELEASE SAVEPOINT hl_job", NULL, 0, NULL);
}

static int pg_rollback_to(struct store_conn *c)
{
	return pg_exec(c, "ROLLBACK TO SAVEPOINT hl_job", NULL, 0, NULL);
}

static void pg_close(struct store_conn *c)
{
	if (!c)
		return;
	if (c->pg)
		PQfinish(c->pg);
	free(c->url);
	free(c);
}

static int pg_open(struct store_conn **cp, const char *url, bool readonly)
{
	*cp = NULL;
	struct store_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->url = strdup(url);
	c->readonly = readonly;
	c->timeout_ms = atomic_load(&query_timeout_ms);
	int err = c->url ? pg_connect(c) : -ENOMEM;
	if (err) {
		pg_close(c);
		return err;
	}
	*cp = c;
	return 0;
}

const struct store_ops store_pg_ops = {
	.name = "postgresql",
	.open = pg_open,
	.close = pg_close,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.savepoint = pg_savepoint,
	.release = pg_release,
	.rollback_to = pg_rollback_to,
	.in_tx = pg_in_tx,
	.exec = pg_exec,
	.query = pg_query,
	.exec_script = pg_exec_script,
};
