/*
 * store.h: Hotline's durable store, one interface over SQLite and PostgreSQL.
 *
 * The store owns its threads: one writer thread (the only one that changes
 * the database) and a small pool of reader threads. Callers never touch a
 * database handle; they submit *jobs*, C functions that run on a store
 * thread against a transaction handle, and get a *completion* callback once
 * the job's transaction has committed (writes) or finished (reads).
 *
 * Writes are group-committed: the writer takes every queued job (up to
 * batch_max), runs them in ONE transaction, each inside its own savepoint so
 * that one failing job rolls back alone, commits with synchronous=FULL
 * (SQLite, WAL) or a normal COMMIT (PostgreSQL), and only then calls the
 * completions. A completion with err == 0 therefore means "durable": the
 * caller may acknowledge to its client.
 *
 * Events (store_event_append) are rows of the one append-only `events` log.
 * They are written in the same transaction as the projections a job updates
 * and, after the commit, handed in commit order to opts.event_h.
 *
 * SQL text uses PostgreSQL-style placeholders $1..$N in both back ends (the
 * SQLite back end binds them as ?NNN). Keep SQL to the common dialect:
 * INSERT ... RETURNING, ON CONFLICT, standard types (BIGINT, TEXT,
 * DOUBLE PRECISION). Migrations are per back end (store_migrations.c).
 *
 * Threads: every function here may be called from any thread unless it says
 * otherwise; jobs and completions run on store threads and must not block
 * on anything but the store itself.
 */
#ifndef HL_STORE_H
#define HL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;    /* opaque: back end + writer thread + reader pool */
struct store_tx; /* opaque: valid only inside a job callback, on its thread */

/* A bound parameter or a result column. For STORE_TEXT, s points to len
 * bytes (not necessarily NUL-terminated when len is given explicitly; result
 * columns are always NUL-terminated). Result values are valid only during
 * the row callback. */
enum store_type { STORE_NULL = 0, STORE_INT, STORE_REAL, STORE_TEXT };
struct store_val {
	enum store_type type;
	int64_t i;
	double d;
	const char *s;
	size_t len;
};

static inline struct store_val store_int(int64_t i)
{
	struct store_val v = {.type = STORE_INT, .i = i};
	return v;
}
static inline struct store_val store_real(double d)
{
	struct store_val v = {.type = STORE_REAL, .d = d};
	return v;
}
/* s may be NULL, which binds SQL NULL. */
struct store_val store_text(const char *s);
static inline struct store_val store_textn(const char *s, size_t len)
{
	struct store_val v = {.type = s ? STORE_TEXT : STORE_NULL, .s = s, .len = len};
	return v;
}
static inline struct store_val store_null(void)
{
	struct store_val v = {.type = STORE_NULL};
	return v;
}

/* Error codes beyond negative errno values. */
#define STORE_ECONFLICT  (-1001) /* unique constraint violated */
#define STORE_EBACKEND   (-1002) /* back-end error (logged with its message) */

/* A row of a query: cols[0..ncols) valid only during the call. Return 0 to
 * go on; any other value stops the query and is returned by store_query. */
typedef int(store_row_h)(const struct store_val *cols, int ncols, void *arg);

/* Run a statement that returns no rows. *changes (may be NULL) receives the
 * number of rows inserted, updated or deleted. Returns 0, STORE_ECONFLICT
 * on a unique/primary-key violation, -EROFS for a write in a read job,
 * -ETIMEDOUT when the statement outran the back end's timeout (30 s,
 * PostgreSQL), or another negative code. Only on the job's own thread.
 *
 * After a statement failed, a job must not run further statements but
 * return the error: PostgreSQL refuses everything in the transaction until
 * the job's savepoint is rolled back (SQLite would go on; do not rely on
 * it). Use INSERT ... ON CONFLICT for "insert unless present". */
int store_exec(struct store_tx *tx, const char *sql, const struct store_val *params,
	       int nparams, int64_t *changes);

/* Run a query, calling row() for each result row. Returns 0, the first
 * non-zero value row() returned, or a negative code. */
int store_query(struct store_tx *tx, const char *sql, const struct store_val *params,
		int nparams, store_row_h *row, void *arg);

/* Convenience: the first column of the first row as an integer (e.g. for
 * "INSERT ... RETURNING id" or "SELECT count(*)"). Every row is consumed
 * (a multi-row RETURNING still writes them all). Returns 0, -ENOENT when
 * there is no row or the value is NULL (e.g. max() of no rows), or a
 * negative code. */
int store_query_int(struct store_tx *tx, const char *sql, const struct store_val *params,
		    int nparams, int64_t *out);

/* One entry of the event log. Fields that are 0 / NULL are stored as NULL
 * (payload NULL is stored as "{}"). ts_ms is wall-clock milliseconds since
 * the epoch; 0 means "now" (set by the store). */
struct store_event {
	int64_t id;          /* set by store_event_append */
	int64_t ts_ms;
	int64_t tenant;      /* 0 means the default tenant, 1 */
	const char *type;    /* e.g. "skill.created" (required) */
	int64_t interaction;
	int64_t agent;
	int64_t queue;
	int64_t actor;       /* user id of who caused it, 0 for the system */
	const char *payload; /* JSON text */
};

/* Append an event inside a write job. Copies what it needs; sets ev->id and
 * ev->ts_ms. The event is handed to opts.event_h after the batch commits
 * (and dropped if this job or the batch rolls back). Write jobs only:
 * -EROFS in a read job, -EINVAL without a type. */
int store_event_append(struct store_tx *tx, struct store_event *ev);

/* Milliseconds since the epoch as the store stamps them (wall clock). */
int64_t store_now_ms(void);

/* A job: runs on a store thread inside a transaction. Return 0 to keep its
 * work, a negative code to roll back just this job (the code is passed to
 * its completion). */
typedef int(store_job_h)(struct store_tx *tx, void *arg);

/* A completion: runs on the store thread after the batch committed (err is
 * the job's own result, 0 on success) or failed (err < 0 for every job of
 * the batch). Must not block; it typically posts to the caller's own queue.
 * Ownership of arg stays with the caller. Completions of a batch run in
 * submission order, all of them before the batch's event_h call. */
typedef void(store_done_h)(int err, void *arg);

/* Queue a write job. Returns 0 (done() will be called exactly once), or
 * -ESHUTDOWN after store_close started, or -ENOMEM. */
int store_write(struct store *st, store_job_h *job, store_done_h *done, void *arg);

/* Queue a read-only job on the reader pool (no events; a write attempt
 * fails with -EROFS). The job sees one consistent snapshot (SQLite read
 * transaction; PostgreSQL REPEATABLE READ READ ONLY). Same contract as
 * store_write. */
int store_read(struct store *st, store_job_h *job, store_done_h *done, void *arg);

/* Blocking variants for the CLI and tests: run the job and wait for its
 * commit. Never call them from a store thread or the core/web threads. */
int store_write_sync(struct store *st, store_job_h *job, void *arg);
int store_read_sync(struct store *st, store_job_h *job, void *arg);

typedef void(store_event_h)(const struct store_event *evs, size_t n, void *arg);

struct store_opts {
	/* "sqlite:PATH", a plain path (SQLite), or "postgresql://..." /
	 * "postgres://..." (libpq connection URI). */
	const char *url;
	unsigned readers;   /* reader threads; 0 means 2 */
	unsigned batch_max; /* most jobs per write transaction; 0 means 512 */
	store_event_h *event_h; /* may be NULL; called on the writer thread */
	void *event_arg;
};

/* Open the store: connect, apply pending migrations (numbered; each in its
 * own transaction; the applied version is kept in schema_version), start
 * the writer and reader threads. Blocks. Returns 0 and *stp, or a negative
 * code with the reason logged. */
int store_open(struct store **stp, const struct store_opts *opts);

/* Stop taking jobs, finish every queued one (completions are called), join
 * the threads and free the store. NULL is allowed. Blocks; never call it
 * from a job or a completion (it joins the thread running them). */
void store_close(struct store *st);

/* "sqlite" or "postgresql". */
const char *store_backend(const struct store *st);

/* The schema version after migrations. */
int store_schema_version(const struct store *st);

/* Counters for /metrics; a consistent-enough snapshot (relaxed atomics). */
struct store_stats {
	uint64_t commits;           /* write transactions committed */
	uint64_t jobs;              /* write jobs completed */
	uint64_t reads;             /* read jobs completed */
	uint64_t errors;            /* failed jobs */
	uint64_t commit_us_sum;     /* total time spent in COMMIT */
	/* commit latency histogram, cumulative upper bounds in microseconds:
	 * 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000, +Inf.
	 * Cumulative counts as Prometheus wants them: commit_hist[i] counts
	 * commits that took <= bound i, so commit_hist[9] == commits. */
	uint64_t commit_hist[10];
	uint64_t queue_depth;       /* write jobs waiting now */
};
void store_stats_get(const struct store *st, struct store_stats *out);
extern const double store_commit_buckets_us[9];

#endif
