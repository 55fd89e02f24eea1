/*
 * store_int.h: the store module's private header. It defines the back-end
 * ops table that store.c (queues, threads, group commit, events) drives and
 * that store_sqlite.c and store_pg.c implement, plus the migration list.
 *
 * The ops table is also the test seam: a test may build its own ops that
 * wrap a real back end (see store_ops_for_url) and fail chosen calls, then
 * open the store with store_open_ops. Nothing outside src/store/ and
 * tests/unit/store/ may include this header.
 *
 * A connection (struct store_conn) is used by exactly one thread at a time:
 * the writer thread owns one, each reader thread owns one. The ops never
 * lock anything themselves.
 */
#ifndef HL_STORE_INT_H
#define HL_STORE_INT_H

#include "store/store.h"

#include <stdbool.h>

struct store_conn; /* defined by each back end */

struct store_ops {
	const char *name; /* "sqlite" or "postgresql", what store_backend says */

	/* Connect to url (already known to belong to this back end). readonly
	 * connections serve the reader pool and must refuse writes. Blocks
	 * (bounded by a connect timeout). Returns 0 and *cp, or a negative
	 * code with the reason logged. */
	int (*open)(struct store_conn **cp, const char *url, bool readonly);
	void (*close)(struct store_conn *c); /* NULL is allowed */

	/* Transaction control. begin(readonly=false) must take the write lock
	 * up front (BEGIN IMMEDIATE in SQLite) so that a busy database shows
	 * up here rather than half-way through a batch. begin(readonly=true)
	 * must give one consistent snapshot for the whole transaction. */
	int (*begin)(struct store_conn *c, bool readonly);
	int (*commit)(struct store_conn *c);
	int (*rollback)(struct store_conn *c); /* quiet when no tx is open */
	/* One unnamed-for-the-caller savepoint level around each write job. */
	int (*savepoint)(struct store_conn *c);
	int (*release)(struct store_conn *c);
	int (*rollback_to)(struct store_conn *c);
	/* Whether a transaction is still open: a back end may abort the
	 * whole transaction on some errors (SQLite on I/O errors, a lost
	 * PostgreSQL connection) and the writer must then fail the batch
	 * instead of letting later jobs run in autocommit. */
	bool (*in_tx)(struct store_conn *c);

	/* store_exec / store_query, with the same contract as in store.h. */
	int (*exec)(struct store_conn *c, const char *sql, const struct store_val *params,
		    int nparams, int64_t *changes);
	int (*query)(struct store_conn *c, const char *sql, const struct store_val *params,
		     int nparams, store_row_h *row, void *arg);
	/* Several ;-separated statements without parameters (migrations). */
	int (*exec_script)(struct store_conn *c, const char *sql);
};

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_pg_ops;

/* The back end a URL selects ("postgresql://", "postgres://" -> PostgreSQL,
 * anything else -> SQLite). Never NULL. */
const struct store_ops *store_ops_for_url(const char *url);

/* store_open with explicit ops (NULL: store_ops_for_url(opts->url)). The
 * ops must outlive the store. */
int store_open_ops(struct store **stp, const struct store_opts *opts,
		   const struct store_ops *ops);

/* ---- migrations (store_migrations.c) ------------------------------------ */

struct store_migration {
	int version; /* 1, 2, 3, ... without gaps */
	const char *sql; /* one script, run in its own transaction */
};

/* The migrations for a back end by its ops name; *n receives the count. */
const struct store_migration *store_migrations(const char *backend, size_t *n);

/* ---- helpers shared by the back ends (store.c) -------------------------- */

/* One line `level=error module=store msg="..."` on stderr; the message is
 * escaped. Replaced by the base logger once the lead wires it in. */
void store_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Monotonic clock in microseconds (timeouts and commit timing). */
int64_t store_mono_us(void);

/* PostgreSQL: the per-query timeout in milliseconds for connections opened
 * after the call (default 30000). A test hook; also handy for tools. */
void store_pg_set_timeout_ms(int ms);

#endif
