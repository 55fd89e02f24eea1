/*
 * store.c: the back-end independent half of the store: job queues, the
 * writer thread with group commit, the reader pool, events, migrations,
 * statistics and the blocking helpers.
 *
 * Writer loop, one turn: wait for jobs; take up to batch_max; BEGIN; for
 * each job SAVEPOINT, run it, RELEASE (or ROLLBACK TO + RELEASE when it
 * failed, dropping the events it appended); COMMIT; call the completions in
 * submission order; hand the committed events to opts.event_h. Nothing is
 * reported before the COMMIT returned, which is what makes "err == 0"
 * mean "durable". When COMMIT (or the transaction) fails, every job of the
 * batch gets the error and no event of the batch is delivered. A batch of
 * one job skips the savepoint: its failure rolls back the whole (its own)
 * transaction.
 *
 * Readers: one shared queue, N threads, each with its own read-only
 * connection; a read job runs inside one read transaction (one snapshot).
 *
 * Close rule: store_close first refuses new jobs (-ESHUTDOWN), then lets the
 * threads drain their queues completely (every completion is called), joins
 * them and only then frees the store.
 */
#include "store/store_int.h"
#include "base/base.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const double store_commit_buckets_us[9] = {100,  250,   500,   1000,  2500,
					   5000, 10000, 25000, 100000};

struct job {
	struct job *next;
	store_job_h *fn;
	store_done_h *done;
	void *arg;
	int err;
};

/* A FIFO of jobs with its own lock; the writer and the reader pool each
 * have one so that a slow report query never delays a commit. */
struct jobq {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct job *head, *tail;
	size_t depth;
	bool closing;
};

struct store_tx {
	struct store *st;
	struct store_conn *conn;
	bool write;
	/* Events appended in this transaction, in order; copies owned here. */
	struct store_event *evs;
	size_t nev, cap;
};

struct store {
	const struct store_ops *ops;
	char *url;
	unsigned batch_max;
	store_event_h *event_h;
	void *event_arg;
	int schema_version;

	struct store_conn *wconn;
	pthread_t writer;
	bool writer_started;
	struct jobq wq;

	unsigned nreaders;
	struct store_conn **rconns;
	pthread_t *readers;
	unsigned readers_started;
	struct jobq rq;

	atomic_uint_fast64_t commits, jobs, reads, errors, commit_us_sum;
	atomic_uint_fast64_t commit_bucket[10]; /* per bucket, not cumulative */
};

/* Errors go through the project's structured log; the clocks are base's. */
void store_log_error(const char *fmt, ...)
{
	char msg[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	base_log(BASE_LOG_ERROR, "store", NULL, "%s", msg);
}

int64_t store_mono_us(void)
{
	return base_mono_us();
}

int64_t store_now_ms(void)
{
	return base_wall_ms();
}

struct store_val store_text(const char *s)
{
	return store_textn(s, s ? strlen(s) : 0);
}

const struct store_ops *store_ops_for_url(const char *url)
{
	if (url && (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0))
		return &store_pg_ops;
	return &store_sqlite_ops;
}

static void jobq_init(struct jobq *q)
{
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	q->head = q->tail = NULL;
	q->depth = 0;
	q->closing = false;
}

static void jobq_destroy(struct jobq *q)
{
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
}

static int jobq_push(struct jobq *q, store_job_h *fn, store_done_h *done, void *arg)
{
	if (!fn)
		return -EINVAL;
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->fn = fn;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&q->lock);
	if (q->closing) {
		pthread_mutex_unlock(&q->lock);
		free(j);
		return -ESHUTDOWN;
	}
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	q->depth++;
	pthread_cond_signal(&q->cond);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

/* Wait for work and take up to max jobs as a list. Returns NULL only when
 * the queue is closing and empty: the thread's signal to exit. */
static struct job *jobq_take(struct jobq *q, unsigned max, unsigned *n)
{
	pthread_mutex_lock(&q->lock);
	while (!q->head && !q->closing)
		pthread_cond_wait(&q->cond, &q->lock);
	struct job *first = q->head, *last = NULL, *j = q->head;
	unsigned k = 0;
	while (j && k < max) {
		last = j;
		j = j->next;
		k++;
	}
	if (last) {
		q->head = j;
		if (!j)
			q->tail = NULL;
		last->next = NULL;
		q->depth -= k;
	}
	pthread_mutex_unlock(&q->lock);
	*n = k;
	return first;
}

static void jobq_close(struct jobq *q)
{
	pthread_mutex_lock(&q->lock);
	q->closing = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

/* ---- transactions, statements, events ---------------------------------- */

int store_exec(struct store_tx *tx, const char *sql, const struct store_val *params,
	       int nparams, int64_t *changes)
{
	if (changes)
		*changes = 0;
	if (!tx || !sql || nparams < 0 || (nparams > 0 && !params))
		return -EINVAL;
	return tx->st->ops->exec(tx->conn, sql, params, nparams, changes);
}

int store_query(struct store_tx *tx, const char *sql, const struct store_val *params,
		int nparams, store_row_h *row, void *arg)
{
	if (!tx || !sql || nparams < 0 || (nparams > 0 && !params))
		return -EINVAL;
	return tx->st->ops->query(tx->conn, sql, params, nparams, row, arg);
}

struct first_int {
	bool seen;
	bool null;
	int64_t v;
};

static int first_int_row(const struct store_val *cols, int ncols, void *arg)
{
	struct first_int *fi = arg;
	if (fi->seen)
		return 0; /* keep draining, e.g. a multi-row RETURNING */
	fi->seen = true;
	if (ncols < 1 || cols[0].type == STORE_NULL) {
		fi->null = true;
		return 0;
	}
	switch (cols[0].type) {
	case STORE_INT:
		fi->v = cols[0].i;
		break;
	case STORE_REAL:
		fi->v = (int64_t)cols[0].d;
		break;
	default: {
		char *end = NULL;
		errno = 0;
		long long x = strtoll(cols[0].s, &end, 10);
		if (errno || end == cols[0].s || *end)
			fi->null = true;
		else
			fi->v = x;
	}
	}
	return 0;
}

int store_query_int(struct store_tx *tx, const char *sql, const struct store_val *params,
		    int nparams, int64_t *out)
{
	struct first_int fi = {0};
	int err = store_query(tx, sql, params, nparams, first_int_row, &fi);
	if (err)
		return err;
	if (!fi.seen || fi.null)
		return -ENOENT;
	if (out)
		*out = fi.v;
	return 0;
}

static void events_free_from(struct store_tx *tx, size_t from)
{
	for (size_t i = from; i < tx->nev; i++) {
		free((char *)tx->evs[i].type);
		free((char *)tx->evs[i].payload);
	}
	if (from < tx->nev)
		tx->nev = from;
}

int store_event_append(struct store_tx *tx, struct store_event *ev)
{
	if (!tx || !ev || !ev->type || !*ev->type)
		return -EINVAL;
	if (!tx->write)
		return -EROFS;
	if (tx->nev == tx->cap) {
		size_t cap = tx->cap ? tx->cap * 2 : 64;
		struct store_event *evs = realloc(tx->evs, cap * sizeof(*evs));
		if (!evs)
			return -ENOMEM;
		tx->evs = evs;
		tx->cap = cap;
	}
	struct store_event e = *ev;
	if (!e.ts_ms)
		e.ts_ms = store_now_ms();
	if (!e.tenant)
		e.tenant = 1;
	const char *payload = e.payload ? e.payload : "{}";
	/* 0 means "none" for the references, stored as NULL. */
#define REF(x) ((x) ? store_int(x) : store_null())
	struct store_val p[8] = {
		store_int(e.ts_ms), store_int(e.tenant), store_text(e.type),
		REF(e.interaction), REF(e.agent),	REF(e.queue),
		REF(e.actor),	    store_text(payload),
	};
#undef REF
	int64_t id = 0;
	int err = store_query_int(tx,
				  "INSERT INTO events(ts, tenant, type, interaction, agent, queue,"
				  " actor, payload) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
				  " RETURNING id",
				  p, 8, &id);
	if (err)
		return err == -ENOENT ? STORE_EBACKEND : err;
	e.id = id;
	e.type = strdup(ev->type);
	e.payload = strdup(payload);
	if (!e.type || !e.payload) {
		free((char *)e.type);
		free((char *)e.payload);
		return -ENOMEM;
	}
	tx->evs[tx->nev++] = e;
	ev->id = id;
	ev->ts_ms = e.ts_ms;
	return 0;
}

/* ---- writer ------------------------------------------------------------- */

static void record_commit_time(struct store *st, int64_t us)
{
	if (us < 0)
		us = 0;
	atomic_fetch_add_explicit(&st->commit_us_sum, (uint64_t)us, memory_order_relaxed);
	int b = 9;
	for (int i = 0; i < 9; i++) {
		if ((double)us <= store_commit_buckets_us[i]) {
			b = i;
			break;
		}
	}
	atomic_fetch_add_explicit(&st->commit_bucket[b], 1, memory_order_relaxed);
}

/* Call a job; results > 0 break the contract and would read as success
 * to nobody, so they become -EINVAL. */
static int call_job(struct store_tx *tx, struct job *j)
{
	int err = j->fn(tx, j->arg);
	return err > 0 ? -EINVAL : err;
}

/* Run one job inside its savepoint. Returns the job's result; on failure
 * its writes and its events are gone. *tx_lost is set when the whole
 * transaction disappeared under the job (the batch is then lost). */
static int run_write_job(struct store *st, struct store_tx *tx, struct job *j, bool *tx_lost)
{
	const struct store_ops *ops = st->ops;
	size_t mark = tx->nev;
	int err = ops->savepoint(st->wconn);
	if (err) {
		*tx_lost = !ops->in_tx(st->wconn);
		return err;
	}
	err = call_job(tx, j);
	if (!err) {
		err = ops->release(st->wconn);
		if (!err)
			return 0;
	}
	events_free_from(tx, mark);
	if (!ops->in_tx(st->wconn)) {
		*tx_lost = true;
		return err;
	}
	/* ROLLBACK TO keeps the savepoint on the stack; RELEASE pops it so
	 * that savepoints do not pile up over a batch of 512 jobs. */
	int rerr = ops->rollback_to(st->wconn);
	if (!rerr)
		rerr = ops->release(st->wconn);
	if (rerr || !ops->in_tx(st->wconn))
		*tx_lost = true;
	return err;
}

static void run_write_batch(struct store *st, struct job *batch, unsigned n)
{
	const struct store_ops *ops = st->ops;
	struct store_tx tx = {.st = st, .conn = st->wconn, .write = true};
	int batch_err = ops->begin(st->wconn, false);
	bool commit = true;
	struct job *j;

	if (n == 1 && !batch_err) {
		/* Alone in its batch (the usual case under light load) a job
		 * needs no savepoint: if it fails, the whole transaction is
		 * its own to roll back. Saves two round trips per commit on
		 * PostgreSQL. */
		j = batch;
		j->err = call_job(&tx, j);
		if (j->err) {
			ops->rollback(st->wconn);
			events_free_from(&tx, 0);
			commit = false;
		}
	}
	for (j = n == 1 ? NULL : batch; j && !batch_err; j = j->next) {
		bool lost = false;
		j->err = run_write_job(st, &tx, j, &lost);
		if (lost) {
			store_log_error("write transaction aborted under a job (err %d); failing"
					" the batch of %u jobs",
					j->err, n);
			batch_err = j->err ? j->err : STORE_EBACKEND;
		}
	}
	if (!batch_err && commit) {
		int64_t t0 = store_mono_us();
		batch_err = ops->commit(st->wconn);
		if (!batch_err) {
			record_commit_time(st, store_mono_us() - t0);
			atomic_fetch_add_explicit(&st->commits, 1, memory_order_relaxed);
		}
	}
	if (batch_err) {
		ops->rollback(st->wconn);
		events_free_from(&tx, 0);
	}

	/* Completions in submission order, only now that the fate of the
	 * whole transaction is known. */
	for (j = batch; j; j = j->next) {
		int err = batch_err ? batch_err : j->err;
		if (err)
			atomic_fetch_add_explicit(&st->errors, 1, memory_order_relaxed);
		else
			atomic_fetch_add_explicit(&st->jobs, 1, memory_order_relaxed);
		if (j->done)
			j->done(err, j->arg);
	}
	if (tx.nev && st->event_h)
		st->event_h(tx.evs, tx.nev, st->event_arg);
	events_free_from(&tx, 0);
	free(tx.evs);
	while (batch) {
		j = batch->next;
		free(batch);
		batch = j;
	}
}

static void *writer_main(void *arg)
{
	struct store *st = arg;
	for (;;) {
		unsigned n = 0;
		struct job *batch = jobq_take(&st->wq, st->batch_max, &n);
		if (!batch)
			break;
		run_write_batch(st, batch, n);
	}
	return NULL;
}

/* ---- readers ------------------------------------------------------------ */

struct reader_arg {
	struct store *st;
	struct store_conn *conn;
};

static void run_read_job(struct store *st, struct store_conn *conn, struct job *j)
{
	const struct store_ops *ops = st->ops;
	struct store_tx tx = {.st = st, .conn = conn, .write = false};
	int err = ops->begin(conn, true);
	if (!err) {
		err = call_job(&tx, j);
		/* Nothing to keep in a read transaction: commit is only the
		 * cheaper way to end it when all went well. */
		int cerr = err ? ops->rollback(conn) : ops->commit(conn);
		if (!err && cerr)
			err = cerr;
	}
	if (err)
		atomic_fetch_add_explicit(&st->errors, 1, memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&st->reads, 1, memory_order_relaxed);
	if (j->done)
		j->done(err, j->arg);
	free(tx.evs);
}

static void *reader_main(void *arg)
{
	struct reader_arg *ra = arg;
	struct store *st = ra->st;
	struct store_conn *conn = ra->conn;
	free(ra);
	for (;;) {
		unsigned n = 0;
		struct job *j = jobq_take(&st->rq, 1, &n);
		if (!j)
			break;
		run_read_job(st, conn, j);
		free(j);
	}
	return NULL;
}

/* ---- migrations --------------------------------------------------------- */

static int version_row(const struct store_val *cols, int ncols, void *arg)
{
	int *v = arg;
	if (ncols > 0 && cols[0].type == STORE_INT)
		*v = (int)cols[0].i;
	return 0;
}

static int read_version(struct store *st, int *v)
{
	*v = 0;
	return st->ops->query(st->wconn, "SELECT max(version) FROM schema_version", NULL, 0,
			      version_row, v);
}

/* Apply every migration above the stored version, each in its own
 * transaction that re-reads the version under the write lock (BEGIN
 * IMMEDIATE; LOCK TABLE in PostgreSQL), so two processes starting at once
 * do not both apply a step. */
static int migrate(struct store *st)
{
	const struct store_ops *ops = st->ops;
	int err = ops->exec_script(
		st->wconn, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)");
	if (err)
		return err;
	size_t n = 0;
	const struct store_migration *m = store_migrations(ops->name, &n);
	int v = 0;
	if ((err = read_version(st, &v)))
		return err;
	for (size_t i = 0; i < n; i++) {
		if (m[i].version <= v)
			continue;
		if ((err = ops->begin(st->wconn, false)))
			return err;
		if (strcmp(ops->name, "postgresql") == 0)
			err = ops->exec_script(st->wconn,
					       "LOCK TABLE schema_version IN EXCLUSIVE MODE");
		if (!err)
			err = read_version(st, &v);
		if (!err && m[i].version > v) {
			err = ops->exec_script(st->wconn, m[i].sql);
			struct store_val p = store_int(m[i].version);
			if (!err)
				err = ops->exec(st->wconn,
						"INSERT INTO schema_version(version) VALUES ($1)",
						&p, 1, NULL);
		}
		if (!err)
			err = ops->commit(st->wconn);
		if (err) {
			ops->rollback(st->wconn);
			store_log_error("migration %d failed (%d)", m[i].version, err);
			return err;
		}
		if (m[i].version > v)
			v = m[i].version;
	}
	st->schema_version = v;
	return 0;
}

/* ---- open / close ------------------------------------------------------- */

int store_open_ops(struct store **stp, const struct store_opts *opts,
		   const struct store_ops *ops)
{
	if (!stp || !opts || !opts->url || !*opts->url)
		return -EINVAL;
	*stp = NULL;
	struct store *st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->ops = ops ? ops : store_ops_for_url(opts->url);
	st->url = strdup(opts->url);
	st->batch_max = opts->batch_max ? opts->batch_max : 512;
	st->nreaders = opts->readers ? opts->readers : 2;
	st->event_h = opts->event_h;
	st->event_arg = opts->event_arg;
	jobq_init(&st->wq);
	jobq_init(&st->rq);
	st->rconns = calloc(st->nreaders, sizeof(*st->rconns));
	st->readers = calloc(st->nreaders, sizeof(*st->readers));
	int err = 0;
	if (!st->url || !st->rconns || !st->readers) {
		err = -ENOMEM;
		goto out;
	}

	/* Readers connect after the migrations so that a fresh SQLite file
	 * already has its WAL set up and the schema in place. */
	if ((err = st->ops->open(&st->wconn, st->url, false)))
		goto out;
	if ((err = migrate(st)))
		goto out;
	for (unsigned i = 0; i < st->nreaders; i++) {
		if ((err = st->ops->open(&st->rconns[i], st->url, true)))
			goto out;
	}

	if (pthread_create(&st->writer, NULL, writer_main, st)) {
		err = -EAGAIN;
		goto out;
	}
	st->writer_started = true;
	for (unsigned i = 0; i < st->nreaders; i++) {
		struct reader_arg *ra = malloc(sizeof(*ra));
		if (!ra) {
			err = -ENOMEM;
			goto out;
		}
		ra->st = st;
		ra->conn = st->rconns[i];
		if (pthread_create(&st->readers[i], NULL, reader_main, ra)) {
			free(ra);
			err = -EAGAIN;
			goto out;
		}
		st->readers_started++;
	}
	*stp = st;
	return 0;

out:
	if (err != -ENOMEM)
		store_log_error("store_open failed (%d)", err);
	store_close(st);
	return err;
}

int store_open(struct store **stp, const struct store_opts *opts)
{
	return store_open_ops(stp, opts, NULL);
}

void store_close(struct store *st)
{
	if (!st)
		return;
	/* Closing a queue refuses new jobs; the threads still take what is
	 * queued and exit only when their queue is empty. */
	jobq_close(&st->wq);
	jobq_close(&st->rq);
	if (st->writer_started)
		pthread_join(st->writer, NULL);
	for (unsigned i = 0; i < st->readers_started; i++)
		pthread_join(st->readers[i], NULL);
	for (unsigned i = 0; st->rconns && i < st->nreaders; i++)
		st->ops->close(st->rconns[i]);
	st->ops->close(st->wconn);
	jobq_destroy(&st->wq);
	jobq_destroy(&st->rq);
	free(st->rconns);
	free(st->readers);
	free(st->url);
	free(st);
}

int store_write(struct store *st, store_job_h *job, store_done_h *done, void *arg)
{
	if (!st)
		return -EINVAL;
	return jobq_push(&st->wq, job, done, arg);
}

int store_read(struct store *st, store_job_h *job, store_done_h *done, void *arg)
{
	if (!st)
		return -EINVAL;
	return jobq_push(&st->rq, job, done, arg);
}

/* The waiter owns this on its stack; done() touches it only under the
 * lock and never after unlocking, so the waiter may return at once. */
struct sync_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int err;
};

static void sync_done(int err, void *arg)
{
	struct sync_wait *w = arg;
	pthread_mutex_lock(&w->lock);
	w->err = err;
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

struct sync_job {
	store_job_h *fn;
	void *arg;
	struct sync_wait w;
};

static int sync_job_run(struct store_tx *tx, void *arg)
{
	struct sync_job *sj = arg;
	return sj->fn(tx, sj->arg);
}

static void sync_job_done(int err, void *arg)
{
	struct sync_job *sj = arg;
	sync_done(err, &sj->w);
}

static int run_sync(struct store *st, bool write, store_job_h *job, void *arg)
{
	if (!st || !job)
		return -EINVAL;
	struct sync_job sj = {.fn = job, .arg = arg};
	pthread_mutex_init(&sj.w.lock, NULL);
	pthread_cond_init(&sj.w.cond, NULL);
	int err = write ? store_write(st, sync_job_run, sync_job_done, &sj)
			: store_read(st, sync_job_run, sync_job_done, &sj);
	if (!err) {
		pthread_mutex_lock(&sj.w.lock);
		while (!sj.w.done)
			pthread_cond_wait(&sj.w.cond, &sj.w.lock);
		err = sj.w.err;
		pthread_mutex_unlock(&sj.w.lock);
	}
	pthread_mutex_destroy(&sj.w.lock);
	pthread_cond_destroy(&sj.w.cond);
	return err;
}

int store_write_sync(struct store *st, store_job_h *job, void *arg)
{
	return run_sync(st, true, job, arg);
}

int store_read_sync(struct store *st, store_job_h *job, void *arg)
{
	return run_sync(st, false, job, arg);
}

/* ---- introspection ------------------------------------------------------ */

const char *store_backend(const struct store *st)
{
	return st ? st->ops->name : NULL;
}

int store_schema_version(const struct store *st)
{
	return st ? st->schema_version : 0;
}

void store_stats_get(const struct store *st, struct store_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!st)
		return;
	/* The atomics are only read here; the cast drops the const the
	 * caller's view puts on them. */
	struct store *s = (struct store *)st;
	out->commits = atomic_load_explicit(&s->commits, memory_order_relaxed);
	out->jobs = atomic_load_explicit(&s->jobs, memory_order_relaxed);
	out->reads = atomic_load_explicit(&s->reads, memory_order_relaxed);
	out->errors = atomic_load_explicit(&s->errors, memory_order_relaxed);
	out->commit_us_sum = atomic_load_explicit(&s->commit_us_sum, memory_order_relaxed);
	uint64_t cum = 0;
	for (int i = 0; i < 10; i++) {
		cum += atomic_load_explicit(&s->commit_bucket[i], memory_order_relaxed);
		out->commit_hist[i] = cum; /* Prometheus-style: count of <= bound */
	}
	pthread_mutex_lock(&s->wq.lock);
	out->queue_depth = s->wq.depth;
	pthread_mutex_unlock(&s->wq.lock);
}
