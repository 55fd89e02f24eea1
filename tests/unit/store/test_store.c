/*
 * test_store.c: unit tests for src/store, one suite for both back ends.
 *
 *   test_store [URL]
 *
 * Without URL the suite runs on a fresh SQLite file in a mkdtemp directory;
 * scripts/with-postgres passes a throwaway PostgreSQL cluster's URL. What
 * is checked: migrations (applied once), every value type and NULL, $N
 * placeholders out of order and inside literals, RETURNING, unique
 * conflicts, group commit where one failing job rolls back alone, events
 * (commit order, dropped with their job), read snapshots and read-only
 * enforcement, draining on close, concurrency, durability (a fresh
 * connection sees an acknowledged row; a SIGKILLed child loses nothing it
 * acknowledged) and, through a fault-injecting ops table (the test seam
 * from store_int.h), failed statements and a failed COMMIT.
 */
#include "store/store.h"
#include "store/store_int.h"
#include "test.h"

#include <errno.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char g_url[1024];
static char g_dir[256];
static bool g_pg;

/* ---- helpers ------------------------------------------------------------ */

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Events seen by event_h, in delivery order. */
#define MAX_EVS 4096
struct seen_ev {
	int64_t id, ts, tenant, agent;
	char type[32];
	char payload[64];
};
static struct {
	pthread_mutex_t lock;
	struct seen_ev evs[MAX_EVS];
	size_t n;
	int calls;
} g_events = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void events_reset(void)
{
	pthread_mutex_lock(&g_events.lock);
	g_events.n = 0;
	g_events.calls = 0;
	pthread_mutex_unlock(&g_events.lock);
}

static void on_events(const struct store_event *evs, size_t n, void *arg)
{
	(void)arg;
	pthread_mutex_lock(&g_events.lock);
	g_events.calls++;
	for (size_t i = 0; i < n && g_events.n < MAX_EVS; i++) {
		struct seen_ev *s = &g_events.evs[g_events.n++];
		s->id = evs[i].id;
		s->ts = evs[i].ts_ms;
		s->tenant = evs[i].tenant;
		s->agent = evs[i].agent;
		snprintf(s->type, sizeof(s->type), "%s", evs[i].type);
		snprintf(s->payload, sizeof(s->payload), "%s", evs[i].payload);
	}
	pthread_mutex_unlock(&g_events.lock);
}

static struct store *open_ops(const struct store_ops *ops, unsigned readers, unsigned batch)
{
	struct store_opts o = {.url = g_url, .readers = readers, .batch_max = batch,
			       .event_h = on_events};
	struct store *st = NULL;
	int err = store_open_ops(&st, &o, ops);
	if (err) {
		fprintf(stderr, "store_open(%s): %d\n", g_url, err);
		return NULL;
	}
	return st;
}

static struct store *open_store(void)
{
	events_reset();
	return open_ops(NULL, 0, 0);
}

/* A statement as a job, for store_*_sync. */
struct sql_job {
	const char *sql;
	struct store_val p[8];
	int np;
	int64_t out;
};

static int job_exec(struct store_tx *tx, void *arg)
{
	struct sql_job *j = arg;
	return store_exec(tx, j->sql, j->p, j->np, &j->out);
}

static int job_int(struct store_tx *tx, void *arg)
{
	struct sql_job *j = arg;
	return store_query_int(tx, j->sql, j->p, j->np, &j->out);
}

static int64_t count_sql(struct store *st, const char *sql)
{
	struct sql_job j = {.sql = sql, .out = -1};
	int err = store_read_sync(st, job_int, &j);
	if (err)
		return err;
	return j.out;
}

/* Counts completions; wait_done blocks until n arrived (or 30 s). */
struct waiter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int done;
	int errors;
	int last_err;
};
#define WAITER_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0}

static void waiter_note(struct waiter *w, int err)
{
	pthread_mutex_lock(&w->lock);
	w->done++;
	if (err) {
		w->errors++;
		w->last_err = err;
	}
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static bool wait_done(struct waiter *w, int n)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 30;
	pthread_mutex_lock(&w->lock);
	int r = 0;
	while (w->done < n && r == 0)
		r = pthread_cond_timedwait(&w->cond, &w->lock, &dl);
	bool ok = w->done >= n;
	pthread_mutex_unlock(&w->lock);
	return ok;
}

/* Holds the writer inside a job until opened, so that the jobs queued
 * meanwhile are certain to share the next batch. */
struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool entered, open;
};
#define GATE_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false, false}

static int job_gate(struct store_tx *tx, void *arg)
{
	(void)tx;
	struct gate *g = arg;
	pthread_mutex_lock(&g->lock);
	g->entered = true;
	pthread_cond_broadcast(&g->cond);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static void gate_wait_entered(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	while (!g->entered)
		pthread_cond_wait(&g->cond, &g->lock);
	pthread_mutex_unlock(&g->lock);
}

static void gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->open = true;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

static int job_noop(struct store_tx *tx, void *arg)
{
	(void)tx;
	(void)arg;
	return 0;
}

/* Completions run before event_h for the same batch, so a finished job
 * does not mean its events were delivered yet. The writer hands out a
 * batch's events before it takes the next batch: once a later write has
 * completed, every earlier event has been delivered. */
static void writer_barrier(struct store *st)
{
	CHECK_EQ_INT(store_write_sync(st, job_noop, NULL), 0);
}

static void done_ignore(int err, void *arg)
{
	(void)err;
	(void)arg;
}

/* ---- open, migrations --------------------------------------------------- */

static void test_open_applies_migrations_once(void)
{
	struct store *st = open_store();
	REQUIRE(st);
	CHECK_EQ_STR(store_backend(st), g_pg ? "postgresql" : "sqlite");
	int v = store_schema_version(st);
	CHECK(v >= 1);
	CHECK_EQ_INT(count_sql(st, "SELECT count(*) FROM schema_version"), v);
	CHECK_EQ_INT(count_sql(st, "SELECT count(*) FROM events"), 0);
	store_close(st);

	st = open_store();
	REQUIRE(st);
	CHECK_EQ_INT(store_schema_version(st), v);
	CHECK_EQ_INT(count_sql(st, "SELECT count(*) FROM schema_version"), v);
	CHECK_EQ_INT(count_sql(st, "SELECT max(version) FROM schema_version"), v);
	store_close(st);
}

static void test_open_rejects_bad_url(void)
{
	struct store *st = (struct store *)1;
	struct store_opts o = {.url = "sqlite:/nonexistent-dir-hl/x/y.db"};
	CHECK(store_open(&st, &o) < 0);
	CHECK(st == NULL);
	o.url = NULL;
	CHECK_EQ_INT(store_open(&st, &o), -EINVAL);
}

static void test_sqlite_plain_path_url(void)
{
	if (g_pg)
		return;
	char path[512];
	snprintf(path, sizeof(path), "%s/plain.db", g_dir);
	struct store_opts o = {.url = path};
	struct store *st = NULL;
	REQUIRE(store_open(&st, &o) == 0);
	CHECK_EQ_STR(store_backend(st), "sqlite");
	CHECK(store_schema_version(st) >= 1);
	store_close(st);
	CHECK(access(path, F_OK) == 0);
}

/* ---- values and placeholders -------------------------------------------- */

struct row_capture {
	int rows;
	int ncols;
	struct store_val v[8];
	char text[8][64];
};

static int capture_row(const struct store_val *cols, int ncols, void *arg)
{
	struct row_capture *rc = arg;
	rc->rows++;
	rc->ncols = ncols;
	for (int i = 0; i < ncols && i < 8; i++) {
		rc->v[i] = cols[i];
		rc->text[i][0] = '\0';
		if (cols[i].type == STORE_TEXT) {
			/* Columns are documented as NUL-terminated. */
			CHECK(cols[i].s[cols[i].len] == '\0');
			snprintf(rc->text[i], sizeof(rc->text[i]), "%s", cols[i].s);
		}
		rc->v[i].s = NULL;
	}
	return 0;
}

static int job_types(struct store_tx *tx, void *arg)
{
	struct row_capture *rc = arg;
	int err = store_exec(tx,
			     "CREATE TABLE t_types(k BIGINT, i BIGINT, r DOUBLE PRECISION,"
			     " s TEXT, n TEXT)",
			     NULL, 0, NULL);
	if (err)
		return err;
	const char *slice = "abcdef";
	struct store_val p[5] = {store_int(1), store_int(INT64_MAX), store_real(2.5),
				 store_textn(slice, 3), store_null()};
	int64_t changes = -1;
	err = store_exec(tx, "INSERT INTO t_types(k, i, r, s, n) VALUES ($1, $2, $3, $4, $5)", p,
			 5, &changes);
	if (err)
		return err;
	CHECK_EQ_INT(changes, 1);
	struct store_val p2[5] = {store_int(2), store_int(INT64_MIN), store_real(-1e300),
				  store_text("h\xc3\xa9llo 'q' $1"), store_text(NULL)};
	err = store_exec(tx, "INSERT INTO t_types(k, i, r, s, n) VALUES ($1, $2, $3, $4, $5)",
			 p2, 5, NULL);
	if (err)
		return err;
	struct store_val k = store_int(1);
	err = store_query(tx, "SELECT i, r, s, n, k FROM t_types WHERE k = $1", &k, 1,
			  capture_row, &rc[0]);
	if (err)
		return err;
	k = store_int(2);
	return store_query(tx, "SELECT i, r, s, n, k FROM t_types WHERE k = $1", &k, 1,
			   capture_row, &rc[1]);
}

static void test_values_of_every_type_and_null(void)
{
	struct store *st = open_store();
	REQUIRE(st);
	struct row_capture rc[2];
	memset(rc, 0, sizeof(rc));
	CHECK_EQ_INT(store_write_sync(st, job_types, rc), 0);
	CHECK_EQ_INT(rc[0].rows, 1);
	CHECK_EQ_INT(rc[0].ncols, 5);
	CHECK_EQ_INT(rc[0].v[0].type, STORE_INT);
	CHECK(rc[0].v[0].i == INT64_MAX);
	CHECK_EQ_INT(rc[0].v[1].type, STORE_REAL);
	CHECK(rc[0].v[1].d == 2.5);
	CHECK_EQ_INT(rc[0].v[2].type, STORE_TEXT);
	CHECK_EQ_STR(rc[0].text[2], "abc");
	CHECK_EQ_INT(rc[0].v[2].len, 3);
	CHECK_EQ_INT(rc[0].v[3].type, STORE_NULL);
	CHECK_EQ_INT(rc[1].rows, 1);
	CHECK(rc[1].v[0].i == INT64_MIN);
	CHECK(rc[1].v[1].d == -1e300);
	CHECK_EQ_STR(rc[1].text[2], "h\xc3\xa9llo 'q' $1");
	CHECK_EQ_INT(rc[1].v[3].type, STORE_NULL);
	store_close(st);
}

static int job_placeholders(struct store_tx *tx, void *arg)
{
	struct row_capture *rc = arg;
	int err = store_exec(tx, "CREATE TABLE t_ph(a BIGINT, b TEXT, c DOUBLE PRECISION)", NULL,
			     0, NULL);
	if (err)
		return err;
	/* $3 and $2 before $1; a '$1' inside a literal and a comment must
	 * stay text, not become a parameter. */
	struct store_val p[3] = {store_int(7), store_text("x"), store_real(0.25)};
	err = store_exec(tx,
			 "INSERT INTO t_ph(c, b, a) /* $9 */ VALUES ($3, $2 || '$1', $1)"
			 " -- $8",
			 p, 3, NULL);
	if (err)
		return err;
	struct store_val q[2] = {store_text("x$1"), store_int(7)};
	err = store_query(tx, "SELECT a, b, c, $2 + $2 FROM t_ph WHERE b = $1 AND a = $2", q, 2,
			  capture_row, rc);
	if (err)
		return err;
	/* Stopping early returns the row callback's value. */
	return 0;
}

static int stop_row(const struct store_val *cols, int ncols, void *arg)
{
	int *n = arg;
	(*n)++;
	return 42;
}

static int job_stop_early(struct store_tx *tx, void *arg)
{
	int err = store_query(tx, "SELECT a FROM t_ph UNION ALL SELECT a FROM t_ph", NULL, 0,
			      stop_row, arg);
	return err == 42 ? 0 : -EPROTO;
}

/* Too few parameters for the placeholders: an error on both back ends,
 * never a silent NULL. */
static int job_missing_param(struct store_tx *tx, void *arg)
{
	struct store_val p = store_int(1);
	return store_query(tx, "SELECT $1, $2", &p, 1, NULL, NULL);
}

static void test_placeholders_out_of_order(void)
{
	struct store *st = open_store();
	REQUIRE(st);
	struct row_capture rc;
	memset(&rc, 0, sizeof(rc));
	CHECK_EQ_INT(store_write_sync(st, job_placeholders, &rc), 0);
	CHECK_EQ_INT(rc.rows, 1);
	CHECK_EQ_INT(rc.v[0].i, 7);
	CHECK_EQ_STR(rc.text[1], "x$1");
	CHECK(rc.v[2].d == 0.25);
	CHECK_EQ_INT(rc.v[3].type, STORE_INT);
	CHECK_EQ_INT(rc.v[3].i, 14);
	int n = 0;
	CHECK_EQ_INT(store_read_sync(st, job_stop_early, &n), 0);
	CHECK_EQ_INT(n, 1);
	CHECK(store_read_sync(st, job_missing_param, NULL) < 0);
	store_close(st);
}

/* ---- RETURNING, conflicts ------------------------------------------------ */

struct skill_job {
	const char *name;
	int64_t id;
};

static int job_add_skill(struct store_tx *tx, void *arg)
{
	struct skill_job *sj = arg;
	int64_t now = store_now_ms();
	struct store_val p[3] = {store_text(sj->name), store_text("{}"), store_int(now)};
	return store_query_int(tx,
			       "INSERT INTO skills(name, doc, created_at, updated_at)"
			       " VALUES ($1, $2, $3, $3) RETURNING id",
			       p, 3, &sj->id);
}

static void test_returning_ids_and_unique_conflict(void)
{
	struct store *st = open_store();
	REQUIRE(st);
	struct skill_job a = {.name = "english"}, b = {.name = "german"}, c = {.name = "english"};
	CHECK_EQ_INT(store_write_sync(st, job_add_skill, &a), 0);
	CHECK_EQ_INT(store_write_sync(st, job_add_skill, &b), 0);
	CHECK(a.id > 0);
	CHECK(b.id > a.id);
	CHECK_EQ_INT(store_write_sync(st, job_add_skill, &c), STORE_ECONFLICT);
	CHECK_EQ_INT(count_sql(st, "SELECT count(*) FROM skills WHERE name = 'english'"), 1);
	/* The store still works after a conflict. */
	struct skill_job d = {.name = "swedish"};
	CHECK_EQ_INT(store_write_sync(st, job_add_skill, &d), 0);
	CHECK(d.id > b.id);
	/* changes counts the rows an UPDATE touched. */
	struct sql_job up = {.sql = "UPDATE skills SET version = version + $1 WHERE id <= $2",
			     .p = {store_int(1), store_int(d.id)}, .np = 2};
	CHECK_EQ_INT(store_write_sync(st, job_exec, &up), 0);
	CHECK_EQ_INT(up.out, 3);
	/* No row, and a NULL value: -ENOENT. */
	CHECK_EQ_INT(count_sql(st, "SELECT id FROM skills WHERE name = 'none'"), -ENOENT);
	CHECK_EQ_INT(count_sql(st, "SELECT max(id) FROM skills WHERE name = 'none'"), -ENOENT);
	store_close(st);
}

/* ---- group commit, savepoints, events ------------------------------------ */

struct batch_job {
	int idx;
	int fail;     /* 0 ok, 1 return -EIO after writing, 2 conflict */
	int err;
	int order;    /* completion sequence number */
	int64_t ev_id;
	struct waiter *w;
};
static atomic_int g_order;

static int job_batch(struct store_tx *tx, void *arg)
{
	struct batch_job *bj = arg;
	char name[32];
	snprintf(name, sizeof(name), "team-%d", bj->fail == 2 ? 0 : bj->idx);
	int64_t now = store_now_ms();
	struct store_val p[3] = {store_text(name), store_text("{}"), store_int(now)};
	int err = store_exec(tx,
			     "INSERT INTO teams(name, doc, created_at, updated_at)"
			     " VALUES ($1, $2, $3, $3)",
			     p, 3, NULL);
	if (err)
		return err;
	char payload[48];
	snprintf(payload, sizeof(payload), "{\"idx\":%d}", bj->idx);
	struct store_event ev = {.type = "team.created", .agent = bj->idx, .payload = payload};
	err = store_event_append(tx, &ev);
	if (err)
		return err;
	bj->ev_id = ev.id;
	CHECK(ev.ts_ms > 0);
	return bj->fail == 1 ? -EIO : 0;
}

static void done_batch(int err, void *arg)
{
	struct batch_job *bj = arg;
	bj->err = err;
	bj->order = atomic_fetch_add(&g_order, 1);
	waiter_note(bj->w, err);
}

static void test_failing_job_rolls_back_alone(void)
{
	struct store *st = open_store();
	REQUIRE(st);
	struct waiter w = WAITER_INIT;
	struct gate g = GATE_INIT;
	struct batch_job jobs[20];
	struct store_stats s0, s1;

	/* team-0 exists, so job 12 (fail == 2) conflicts. */
	struct batch_job first = {.idx = 0, .w = &w};
	CHECK_EQ_INT(store_write(st, job_batch, done_batch, &first), 0);
	REQUIRE(wait_done(&w, 1));
	CHECK_EQ_INT(first.err, 0);
	writer_barrier(st);
	events_reset();
	store_stats_get(st, &s0);

	CHECK_EQ_INT(store_write(st, job_gate, done_ignore, &g), 0);
	gate_wait_entered(&g);
	atomic_store(&g_order, 0);
	for (int i = 0; i < 20; i++) {
		jobs[i] = (struct batch_job){.idx = i + 1, .w = &w};
		jobs[i].fail = i == 6 ? 1 : i == 11 ? 2 : 0;
		CHECK_EQ_INT(store_write(st, job_batch, done_batch, &jobs[i]), 0);
	}
	store_stats_get(st, &s1);
	CHECK_EQ_INT(s1.queue_depth, 20);
	gate_open(&g);
	REQUIRE(wait_done(&w, 21));
	store_stats_get(st, &s1);
	writer_barrier(st);

	for (int i = 0; i < 20; i++) {
		CHECK_EQ_INT(jobs[i].order, i); /* completions in submission order */
		CHECK_EQ_INT(jobs[i].err, i == 6 ? -EIO : i == 11 ? STORE_ECONFLICT : 0);
	}
	CHECK_EQ_INT(count_sql(st, "SELECT count(*) FROM teams"), 1 + 18);
	CHECK_EQ_INT(count_sql(st, "SELECT count(*) FROM teams WHERE name = 'team-7'"), 0);
	CHECK_EQ_INT(count_sql(st, "SELECT count(*) FROM events WHERE agent = 7"), 0);
	/* Two commits (gate alone, then the 20) for 21 jobs: batching. */
	CHECK_EQ_INT(s1.commits - s0.commits, 2);
	CHECK_EQ_INT((s1.jobs + s1.errors) - (s0.jobs + s0.errors), 21);
	CHECK(s1.jobs + s1.errors - s0.jobs - s0.errors > s1.commits - s0.commits);
	CHECK_EQ_INT(s1.errors - s0.errors, 2);
	CHECK_EQ_INT(s1.queue_depth, 0);
	CHECK(s1.commit_hist[9] == s1.commits);
	CHECK(s1.commit_hist[0] <= s1.commit_hist[8]);

	/* Events: only committed jobs', in commit order, ids increasing, in
	 * one event_h call for the batch. */
	pthread_mutex_lock(&g_events.lock);
	CHECK_EQ_INT(g_events.n, 18);
	CHECK_EQ_INT(g_events.calls, 1);
	int64_t prev = 0;
	size_t k = 0;
	for (int i = 0; i < 20 && k < g_events.n; i++) {
		if (jobs[i].fail)
			continue;
		struct seen_ev *e = &g_events.evs[k++];
		CHECK_EQ_INT(e->agent, i + 1);
		CHECK_EQ_INT(e->id, jobs[i].ev_id);
		CHECK(e->id > prev);
		CHECK_EQ_INT(e->tenant, 1);
		CHECK_EQ_STR(e->type, "team.created");
		prev = e->id;
	}
	pthread_mutex_unlock(&g_events.lock);
	store_close(st);
}

static int job_event_defaults(struct store_tx *tx, void *arg)
{
	struct store_event ev = {.type = "system.started", .ts_ms = 1234};
	int err = store_event_append(tx, &ev);
	if (err)
		return err;
	struct store_event bad = {.type = NULL};
	CHECK_EQ_INT(store_event_append(tx, &bad), -EINVAL);
	*(int64_t *)arg = ev.id;
	return 0;
}

static int job_event_row(struct store_tx *tx, void *arg)
{
	struct row_capture *rc = arg;
	return store_query(tx,
			   "SELECT ts, tenant, type, interaction, agent, queue, actor, payload"
			   " FROM events WHERE type = 'system.started'",
			   NULL, 0, capture_row, rc);
}

static void test_event_defaults_stored(void)
{
	struct store *st = open_store();
	REQUIRE(st);
	int64_t id = 0;
	CHECK_EQ_INT(store_write_sync(st, job_event_defaults, &id), 0);
	CHECK(id > 0);
	struct row_capture rc;
	memset(&rc, 0, sizeof(rc));
	CHECK_EQ_INT(store_read_sync(st, job_event_row, &rc), 0);
	CHECK_EQ_INT(rc.rows, 1);
	CHECK_EQ_INT(rc.v[0].i, 1234);
	writer_barrier(st);
	CHECK_EQ_INT(rc.v[1].i, 1);
	CHECK_EQ_STR(rc.text[2], "system.started");
	for (int i = 3; i < 7; i++)
		CHECK_EQ_INT(rc.v[i].type, STORE_NULL);
	CHECK_EQ_STR(rc.text[7], "{}");
	pthread_mutex_lock(&g_events.lock);
	CHECK_EQ_INT(g_events.n, 1);
	CHECK_EQ_STR(g_events.evs[0].payload, "{}");
	pthread_mutex_unlock(&g_events.lock);
	store_close(st);
}

/* ---- readers ------------------------------------------------------------- */

struct snap_job {
	struct store *st;
	int64_t before, after;
	int write_err;
};

static int job_insert_skill_x(struct store_tx *tx, void *arg)
{
	(void)arg;
	return store_exec(tx,
			  "INSERT INTO skills(name, doc, created_at, updated_at)"
			  " VALUES ('snap', '{}', 1, 1)",
			  NULL, 0, NULL);
}

/* Counts, lets a write commit meanwhile, counts again: one snapshot means
 * both counts agree. (Blocking on the writer from a reader job is fine
 * in a test; the writer never waits for readers.) */
static int job_snapshot(struct store_tx *tx, void *arg)
{
	struct snap_job *sj = arg;
	int err = store_query_int(tx, "SELECT count(*) FROM skills", NULL, 0, &sj->before);
	if (err)
		return err;
	sj->write_err = store_write_sync(sj->st, job_insert_skill_x, NULL);
	return store_query_int(tx, "SELECT count(*) FROM skills", NULL, 0, &sj->after);
}

static int job_read_tries_write(struct store_tx *tx, void *arg)
{
	(void)arg;
	struct store_event ev = {.type = "x"};
	CHECK_EQ_INT(store_event_append(tx, &ev), -EROFS);
	return store_exec(tx, "INSERT INTO skills(name, doc, created_at, updated_at)"
			      " VALUES ('ro', '{}', 1, 1)",
			  NULL, 0, NULL);
}

static void test_reads_see_commits_in_one_snapshot(void)
{
	struct store *st = open_store();
	REQUIRE(st);
	struct skill_job a = {.name = "read-1"};
	CHECK_EQ_INT(store_write_sync(st, job_add_skill, &a), 0);
	int64_t n0 = count_sql(st, "SELECT count(*) FROM skills");
	CHECK_EQ_INT(count_sql(st, "SELECT count(*) FROM skills WHERE name = 'read-1'"), 1);

	struct snap_job sj = {.st = st};
	CHECK_EQ_INT(store_read_sync(st, job_snapshot, &sj), 0);
	CHECK_EQ_INT(sj.write_err, 0);
	CHECK_EQ_INT(sj.before, n0);
	CHECK_EQ_INT(sj.after, n0);
	CHECK_EQ_INT(count_sql(st, "SELECT count(*) FROM skills"), n0 + 1);

	CHECK_EQ_INT(store_read_sync(st, job_read_tries_write, NULL), -EROFS);
	CHECK_EQ_INT(count_sql(st, "SELECT count(*) FROM skills WHERE name = 'ro'"), 0);
	store_close(st);
}

/* ---- close drains -------------------------------------------------------- */

struct drain_ctx {
	struct store *st;
	struct waiter *w;
	int late_err;
};

static void done_gate_then_submit(int err, void *arg)
{
	struct drain_ctx *dc = arg;
	/* store_close is running by now: new jobs are refused. */
	dc->late_err = store_write(dc->st, job_insert_skill_x, done_ignore, NULL);
	waiter_note(dc->w, err);
}

static int job_drain_insert(struct store_tx *tx, void *arg)
{
	struct store_val p = store_int((int64_t)(intptr_t)arg);
	return store_exec(tx,
			  "INSERT INTO customers(name, doc, created_at, updated_at)"
			  " VALUES ('drain', '{}', $1, $1)",
			  &p, 1, NULL);
}

static void done_note(int err, void *arg)
{
	waiter_note(arg, err);
}

static int job_read_noop(struct store_tx *tx, void *arg)
{
	int64_t n;
	return store_query_int(tx, "SELECT count(*) FROM customers", NULL, 0, &n);
}

static void *closer_main(void *arg)
{
	store_close(arg);
	return NULL;
}

/* The gate job and its completion share one argument. */
struct gate_ctx {
	struct gate g;
	struct drain_ctx dc;
};

static int job_gate_ctx(struct store_tx *tx, void *arg)
{
	return job_gate(tx, &((struct gate_ctx *)arg)->g);
}

static void done_gate_ctx(int err, void *arg)
{
	done_gate_then_submit(err, &((struct gate_ctx *)arg)->dc);
}

static void test_close_drains_every_job(void)
{
	struct store *st = open_store();
	REQUIRE(st);
	struct waiter w = WAITER_INIT, wg = WAITER_INIT;
	struct gate_ctx gc = {.g = GATE_INIT, .dc = {.st = st, .w = &wg, .late_err = 1}};
	CHECK_EQ_INT(store_write(st, job_gate_ctx, done_gate_ctx, &gc), 0);
	gate_wait_entered(&gc.g);
	const int nw = 300, nr = 50;
	for (int i = 0; i < nw; i++)
		CHECK_EQ_INT(store_write(st, job_drain_insert, done_note, &w), 0);
	for (int i = 0; i < nr; i++)
		CHECK_EQ_INT(store_read(st, job_read_noop, done_note, &w), 0);

	pthread_t closer;
	REQUIRE(pthread_create(&closer, NULL, closer_main, st) == 0);
	sleep_ms(150); /* let store_close refuse new jobs before the gate opens */
	gate_open(&gc.g);
	pthread_join(closer, NULL);

	/* Every completion ran before store_close returned. */
	CHECK_EQ_INT(w.done, nw + nr);
	CHECK_EQ_INT(w.errors, 0);
	CHECK_EQ_INT(wg.done, 1);
	CHECK_EQ_INT(gc.dc.late_err, -ESHUTDOWN);

	st = open_store();
	REQUIRE(st);
	CHECK_EQ_INT(count_sql(st, "SELECT count(*) FROM customers WHERE name = 'drain'"), nw);
	store_close(st);
}

/* ---- concurrency --------------------------------------------------------- */

struct conc_ctx {
	struct store *st;
	struct waiter *w;
	int thread;
	int submit_errors;
};

static int job_conc_insert(struct store_tx *tx, void *arg)
{
	struct store_val p = store_int((int64_t)(intptr_t)arg);
	return store_exec(tx,
			  "INSERT INTO customers(name, doc, created_at, updated_at)"
			  " VALUES ('conc', '{}', $1, $1)",
			  &p, 1, NULL);
}

static struct waiter g_conc_w = WAITER_INIT;

static void done_conc(int err, void *arg)
{
	(void)arg;
	waiter_note(&g_conc_w, err);
}

static void *conc_main(void *arg)
{
	struct conc_ctx *cc = arg;
	for (int i = 0; i < 500; i++) {
		intptr_t v = cc->thread * 1000 + i;
		if (store_write(cc->st, job_conc_insert, done_conc, (void *)v))
			cc->submit_errors++;
	}
	return NULL;
}

static void test_concurrent_writers(void)
{
	struct store *st = open_store();
	REQUIRE(st);
	struct store_stats s0, s1;
	store_stats_get(st, &s0);
	pthread_t th[4];
	struct conc_ctx cc[4];
	for (int t = 0; t < 4; t++) {
		cc[t] = (struct conc_ctx){.st = st, .thread = t};
		REQUIRE(pthread_create(&th[t], NULL, conc_main, &cc[t]) == 0);
	}
	for (int t = 0; t < 4; t++) {
		pthread_join(th[t], NULL);
		CHECK_EQ_INT(cc[t].submit_errors, 0);
	}
	REQUIRE(wait_done(&g_conc_w, 2000));
	CHECK_EQ_INT(g_conc_w.errors, 0);
	store_stats_get(st, &s1);
	CHECK_EQ_INT(s1.jobs - s0.jobs, 2000);
	CHECK(s1.commits - s0.commits < 2000); /* group commit happened */
	CHECK_EQ_INT(count_sql(st, "SELECT count(*) FROM customers WHERE name = 'conc'"), 2000);
	CHECK_EQ_INT(count_sql(st, "SELECT count(DISTINCT created_at) FROM customers"
				   " WHERE name = 'conc'"),
		     2000);
	store_close(st);
}

/* ---- durability ---------------------------------------------------------- */

static int job_durable(struct store_tx *tx, void *arg)
{
	(void)arg;
	return store_exec(tx,
			  "INSERT INTO queues(name, doc, created_at, updated_at)"
			  " VALUES ('durable', '{}', 1, 1)",
			  NULL, 0, NULL);
}

/* A connection of its own, outside the store, counting rows with sql. */
static int64_t count_fresh(const char *sql)
{
	int64_t n = -1;
	if (g_pg) {
		PGconn *pg = PQconnectdb(g_url);
		if (PQstatus(pg) == CONNECTION_OK) {
			PGresult *r = PQexec(pg, sql);
			if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
				n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
			PQclear(r);
		}
		PQfinish(pg);
		return n;
	}
	sqlite3 *db = NULL;
	const char *path = g_url + strlen("sqlite:");
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
		sqlite3_stmt *s = NULL;
		if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK &&
		    sqlite3_step(s) == SQLITE_ROW)
			n = sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	return n;
}

static void test_write_sync_is_visible_to_fresh_connection(void)
{
	struct store *st = open_store();
	REQUIRE(st);
	CHECK_EQ_INT(store_write_sync(st, job_durable, NULL), 0);
	/* The store is still open: the row must be in the database (WAL)
	 * already, not in some buffer of ours. */
	CHECK_EQ_INT(count_fresh("SELECT count(*) FROM queues WHERE name = 'durable'"), 1);
	store_close(st);
}

/* Child: write forever, reporting each acknowledged id on a pipe. */
static int g_ack_fd;
static atomic_int g_inflight;

static int job_kill_insert(struct store_tx *tx, void *arg)
{
	struct store_val p = store_int((int64_t)(intptr_t)arg);
	return store_exec(tx,
			  "INSERT INTO customers(name, doc, created_at, updated_at)"
			  " VALUES ('killed', '{}', $1, $1)",
			  &p, 1, NULL);
}

static void done_kill(int err, void *arg)
{
	if (!err) {
		int64_t v = (int64_t)(intptr_t)arg;
		ssize_t w = write(g_ack_fd, &v, sizeof(v));
		(void)w;
	}
	atomic_fetch_sub(&g_inflight, 1);
}

static void child_writer(int fd)
{
	g_ack_fd = fd;
	struct store_opts o = {.url = g_url, .batch_max = 64};
	struct store *st = NULL;
	if (store_open(&st, &o))
		_exit(3);
	for (intptr_t i = 1;; i++) {
		while (atomic_load(&g_inflight) > 200)
			sleep_ms(1);
		atomic_fetch_add(&g_inflight, 1);
		if (store_write(st, job_kill_insert, done_kill, (void *)i))
			_exit(4);
	}
}

static void test_sigkill_loses_nothing_acknowledged(void)
{
	int fds[2];
	REQUIRE(pipe(fds) == 0);
	fflush(NULL);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		child_writer(fds[1]);
		_exit(0);
	}
	close(fds[1]);
	int64_t acked[4096];
	size_t n = 0;
	/* Kill in the middle of the stream, while batches are in flight. */
	while (n < 600) {
		ssize_t r = read(fds[0], &acked[n], sizeof(acked[n]));
		if (r != (ssize_t)sizeof(acked[n]))
			break;
		n++;
	}
	kill(pid, SIGKILL);
	int status = 0;
	waitpid(pid, &status, 0);
	CHECK(WIFSIGNALED(status));
	/* Acks written before the kill are still in the pipe. */
	for (;;) {
		if (n == sizeof(acked) / sizeof(acked[0]))
			break;
		ssize_t r = read(fds[0], &acked[n], sizeof(acked[n]));
		if (r != (ssize_t)sizeof(acked[n]))
			break;
		n++;
	}
	close(fds[0]);
	CHECK(n >= 600);

	struct store *st = open_store(); /* recovers the WAL / the aborted tx */
	REQUIRE(st);
	int64_t max = 0;
	for (size_t i = 0; i < n; i++)
		max = acked[i] > max ? acked[i] : max;
	int64_t rows = count_sql(st, "SELECT count(*) FROM customers WHERE name = 'killed'");
	CHECK(rows >= (int64_t)n);
	/* Every acknowledged id is there: acks are ids 1..max in order, so
	 * count those <= max. */
	char sql[160];
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM customers WHERE name = 'killed' AND created_at <= %lld",
		 (long long)max);
	CHECK_EQ_INT(count_sql(st, sql), max);
	CHECK_EQ_INT((int64_t)n, max);
	store_close(st);
}

/* ---- fault injection through the ops table ------------------------------ */

/* Wraps the real back end; fails the Nth exec from arming, or the next
 * COMMIT. The wrapper's connection holds the real one. */
struct store_conn {
	struct store_conn *inner;
};
static const struct store_ops *f_inner;
static atomic_int f_exec_countdown; /* 0: off; n: the nth exec fails */
static atomic_int f_commit_countdown; /* 0: off; n: the nth COMMIT fails */
static atomic_int f_begin_countdown, f_savepoint_countdown, f_release_countdown;

/* True when this call is the armed one: counts *cd down to it. */
static bool f_hit(atomic_int *cd)
{
	int k = atomic_load(cd);
	return k > 0 && atomic_fetch_sub(cd, 1) == 1;
}

static int f_open(struct store_conn **cp, const char *url, bool ro)
{
	struct store_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	int err = f_inner->open(&c->inner, url, ro);
	if (err) {
		free(c);
		return err;
	}
	*cp = c;
	return 0;
}
static void f_close(struct store_conn *c)
{
	if (c)
		f_inner->close(c->inner);
	free(c);
}
static int f_begin(struct store_conn *c, bool ro)
{
	return !ro && f_hit(&f_begin_countdown) ? -EIO : f_inner->begin(c->inner, ro);
}
static int f_commit(struct store_conn *c)
{
	return f_hit(&f_commit_countdown) ? -EIO : f_inner->commit(c->inner);
}
static int f_rollback(struct store_conn *c) { return f_inner->rollback(c->inner); }
static int f_savepoint(struct store_conn *c)
{
	return f_hit(&f_savepoint_countdown) ? -EIO : f_inner->savepoint(c->inner);
}
static int f_release(struct store_conn *c)
{
	return f_hit(&f_release_countdown) ? -EIO : f_inner->release(c->inner);
}
static int f_rollback_to(struct store_conn *c) { return f_inner->rollback_to(c->inner); }
static bool f_in_tx(struct store_conn *c) { return f_inner->in_tx(c->inner); }
static int f_exec(struct store_conn *c, const char *sql, const struct store_val *p, int n,
		  int64_t *changes)
{
	return f_hit(&f_exec_countdown) ? -EIO : f_inner->exec(c->inner, sql, p, n, changes);
}
static int f_query(struct store_conn *c, const char *sql, const struct store_val *p, int n,
		   store_row_h *row, void *arg)
{
	return f_inner->query(c->inner, sql, p, n, row, arg);
}
static int f_exec_script(struct store_conn *c, const char *sql)
{
	return f_inner->exec_script(c->inner, sql);
}

static struct store_ops f_ops = {
	.open = f_open, .close = f_close, .begin = f_begin, .commit = f_commit,
	.rollback = f_rollback, .savepoint = f_savepoint, .release = f_release,
	.rollback_to = f_rollback_to, .in_tx = f_in_tx, .exec = f_exec, .query = f_query,
	.exec_script = f_exec_script,
};

static struct store *open_faulty(void)
{
	f_inner = store_ops_for_url(g_url);
	f_ops.name = f_inner->name;
	atomic_store(&f_exec_countdown, 0);
	atomic_store(&f_commit_countdown, 0);
	atomic_store(&f_begin_countdown, 0);
	atomic_store(&f_savepoint_countdown, 0);
	atomic_store(&f_release_countdown, 0);
	events_reset();
	return open_ops(&f_ops, 1, 0);
}

/* Each job: two execs (insert, then update). */
struct fjob {
	int idx;
	int err;
	struct waiter *w;
};

static int job_two_execs(struct store_tx *tx, void *arg)
{
	struct fjob *fj = arg;
	char name[32];
	snprintf(name, sizeof(name), "fault-%d", fj->idx);
	struct store_val p[2] = {store_text(name), store_int(fj->idx)};
	int err = store_exec(tx,
			     "INSERT INTO agents(name, doc, created_at, updated_at)"
			     " VALUES ($1, '{}', $2, $2)",
			     p, 2, NULL);
	if (err)
		return err;
	struct store_event ev = {.type = "agent.created", .agent = fj->idx};
	if ((err = store_event_append(tx, &ev)))
		return err;
	return store_exec(tx, "UPDATE agents SET version = version + 1 WHERE name = $1", p, 1,
			  NULL);
}

static void done_fjob(int err, void *arg)
{
	struct fjob *fj = arg;
	fj->err = err;
	waiter_note(fj->w, err);
}

static void test_fault_failed_exec_rolls_back_its_job_only(void)
{
	struct store *st = open_faulty();
	REQUIRE(st);
	struct waiter w = WAITER_INIT;
	struct gate g = GATE_INIT;
	struct fjob jobs[10];
	CHECK_EQ_INT(store_write(st, job_gate, done_ignore, &g), 0);
	gate_wait_entered(&g);
	for (int i = 0; i < 10; i++) {
		jobs[i] = (struct fjob){.idx = i + 1, .w = &w};
		CHECK_EQ_INT(store_write(st, job_two_execs, done_fjob, &jobs[i]), 0);
	}
	/* exec #8 from here is job 4's second statement (its UPDATE), after
	 * its insert and its event went in: both must disappear. */
	atomic_store(&f_exec_countdown, 8);
	gate_open(&g);
	REQUIRE(wait_done(&w, 10));
	for (int i = 0; i < 10; i++)
		CHECK_EQ_INT(jobs[i].err, i == 3 ? -EIO : 0);
	CHECK_EQ_INT(count_sql(st, "SELECT count(*) FROM agents WHERE name LIKE 'fault-%'"), 9);
	CHECK_EQ_INT(count_sql(st, "SELECT count(*) FROM agents WHERE name = 'fault-4'"), 0);
	CHECK_EQ_INT(count_sql(st, "SELECT count(*) FROM agents WHERE version = 2"), 9);
	CHECK_EQ_INT(count_sql(st, "SELECT count(*) FROM events WHERE type = 'agent.created'"),
		     9);
	writer_barrier(st);
	pthread_mutex_lock(&g_events.lock);
	CHECK_EQ_INT(g_events.n, 9);
	for (size_t i = 0; i < g_events.n; i++)
		CHECK(g_events.evs[i].agent != 4);
	pthread_mutex_unlock(&g_events.lock);
	store_close(st);
}

static void test_fault_failed_commit_fails_whole_batch(void)
{
	struct store *st = open_faulty();
	REQUIRE(st);
	struct waiter w = WAITER_INIT;
	struct gate g = GATE_INIT;
	struct fjob jobs[5];
	CHECK_EQ_INT(store_write(st, job_gate, done_ignore, &g), 0);
	gate_wait_entered(&g);
	for (int i = 0; i < 5; i++) {
		jobs[i] = (struct fjob){.idx = 100 + i, .w = &w};
		CHECK_EQ_INT(store_write(st, job_two_execs, done_fjob, &jobs[i]), 0);
	}
	/* The gate's own batch commits for real (1st), the batch of the
	 * five queued behind it fails (2nd). */
	atomic_store(&f_commit_countdown, 2);
	gate_open(&g);
	REQUIRE(wait_done(&w, 5));
	for (int i = 0; i < 5; i++)
		CHECK_EQ_INT(jobs[i].err, -EIO);
	CHECK_EQ_INT(count_sql(st, "SELECT count(*) FROM agents WHERE name LIKE 'fault-10_'"),
		     0);
	CHECK_EQ_INT(count_sql(st, "SELECT count(*) FROM events WHERE agent >= 100"), 0);
	writer_barrier(st);
	pthread_mutex_lock(&g_events.lock);
	CHECK_EQ_INT(g_events.n, 0);
	pthread_mutex_unlock(&g_events.lock);
	/* The store goes on after a failed commit. */
	struct fjob after = {.idx = 200, .w = &w};
	CHECK_EQ_INT(store_write(st, job_two_execs, done_fjob, &after), 0);
	REQUIRE(wait_done(&w, 6));
	CHECK_EQ_INT(after.err, 0);
	store_close(st);
}

/* Fail each call of one kind in turn (N = 1, 2, ...) in a batch of three
 * jobs: exactly the job that made the call fails, the other two commit,
 * and only their events are delivered. */
static void torture_kind(struct store *st, atomic_int *cd, int calls, int per_job,
			 const char *kind, int *round)
{
	for (int n = 1; n <= calls; n++) {
		struct waiter w = WAITER_INIT;
		struct gate g = GATE_INIT;
		struct fjob jobs[3];
		int base = 1000 + 10 * (*round)++;
		CHECK_EQ_INT(store_write(st, job_gate, done_ignore, &g), 0);
		gate_wait_entered(&g);
		for (int i = 0; i < 3; i++) {
			jobs[i] = (struct fjob){.idx = base + i, .w = &w};
			CHECK_EQ_INT(store_write(st, job_two_execs, done_fjob, &jobs[i]), 0);
		}
		events_reset();
		atomic_store(cd, n);
		gate_open(&g);
		REQUIRE(wait_done(&w, 3));
		writer_barrier(st);
		int bad = (n - 1) / per_job;
		for (int i = 0; i < 3; i++) {
			if (jobs[i].err != (i == bad ? -EIO : 0))
				fprintf(stderr, "torture %s n=%d: job %d err %d\n", kind, n, i,
					jobs[i].err);
			CHECK_EQ_INT(jobs[i].err, i == bad ? -EIO : 0);
		}
		char sql[200];
		snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM agents WHERE created_at BETWEEN %d AND %d", base,
			 base + 2);
		CHECK_EQ_INT(count_sql(st, sql), 2);
		snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM events WHERE agent BETWEEN %d AND %d", base,
			 base + 2);
		CHECK_EQ_INT(count_sql(st, sql), 2);
		pthread_mutex_lock(&g_events.lock);
		CHECK_EQ_INT(g_events.n, 2);
		pthread_mutex_unlock(&g_events.lock);
	}
}

static void test_fault_each_call_in_turn(void)
{
	struct store *st = open_faulty();
	REQUIRE(st);
	int round = 0;
	torture_kind(st, &f_exec_countdown, 6, 2, "exec", &round);
	torture_kind(st, &f_savepoint_countdown, 3, 1, "savepoint", &round);
	torture_kind(st, &f_release_countdown, 3, 1, "release", &round);
	store_close(st);
}

static void test_fault_failed_begin_fails_batch(void)
{
	struct store *st = open_faulty();
	REQUIRE(st);
	struct waiter w = WAITER_INIT;
	struct fjob a = {.idx = 300, .w = &w}, b = {.idx = 301, .w = &w};
	atomic_store(&f_begin_countdown, 1);
	CHECK_EQ_INT(store_write(st, job_two_execs, done_fjob, &a), 0);
	REQUIRE(wait_done(&w, 1));
	CHECK_EQ_INT(a.err, -EIO);
	CHECK_EQ_INT(store_write(st, job_two_execs, done_fjob, &b), 0);
	REQUIRE(wait_done(&w, 2));
	CHECK_EQ_INT(b.err, 0);
	CHECK_EQ_INT(count_sql(st, "SELECT count(*) FROM agents WHERE name LIKE 'fault-30_'"), 1);
	store_close(st);
}

/* A job that ends the transaction under the writer (as SQLite does by
 * itself on I/O errors): the batch must fail as a whole, and the jobs
 * after it must not run in autocommit. */
static int job_rogue_rollback(struct store_tx *tx, void *arg)
{
	(void)arg;
	return store_exec(tx, "ROLLBACK", NULL, 0, NULL);
}

static void test_lost_transaction_fails_batch(void)
{
	struct store *st = open_store();
	REQUIRE(st);
	struct waiter w = WAITER_INIT;
	struct gate g = GATE_INIT;
	struct fjob a = {.idx = 400, .w = &w}, c = {.idx = 402, .w = &w};
	struct waiter wr = WAITER_INIT;
	CHECK_EQ_INT(store_write(st, job_gate, done_ignore, &g), 0);
	gate_wait_entered(&g);
	CHECK_EQ_INT(store_write(st, job_two_execs, done_fjob, &a), 0);
	CHECK_EQ_INT(store_write(st, job_rogue_rollback, done_note, &wr), 0);
	CHECK_EQ_INT(store_write(st, job_two_execs, done_fjob, &c), 0);
	gate_open(&g);
	REQUIRE(wait_done(&w, 2));
	REQUIRE(wait_done(&wr, 1));
	CHECK(a.err < 0);
	CHECK(wr.last_err < 0);
	CHECK(c.err < 0);
	CHECK_EQ_INT(count_sql(st, "SELECT count(*) FROM agents WHERE name LIKE 'fault-40_'"), 0);
	/* And the writer recovers. */
	struct fjob d = {.idx = 403, .w = &w};
	CHECK_EQ_INT(store_write(st, job_two_execs, done_fjob, &d), 0);
	REQUIRE(wait_done(&w, 3));
	CHECK_EQ_INT(d.err, 0);
	store_close(st);
}

/* ---- PostgreSQL statement timeout ---------------------------------------- */

static int job_sleep(struct store_tx *tx, void *arg)
{
	(void)arg;
	return store_query(tx, "SELECT pg_sleep(5)", NULL, 0, NULL, NULL);
}

static void test_pg_query_timeout_cancels(void)
{
	if (!g_pg)
		return;
	store_pg_set_timeout_ms(300);
	struct store *st = open_ops(NULL, 1, 0);
	store_pg_set_timeout_ms(30000);
	REQUIRE(st);
	int64_t t0 = store_mono_us();
	CHECK_EQ_INT(store_read_sync(st, job_sleep, NULL), -ETIMEDOUT);
	CHECK(store_mono_us() - t0 < 3000000);
	/* The same (single) reader connection works afterwards. */
	CHECK_EQ_INT(count_sql(st, "SELECT count(*) FROM schema_version"),
		     store_schema_version(st));
	store_close(st);
}

/* A server-side disconnect (restart, failover, admin) of an idle
 * connection costs no job: the next BEGIN reconnects. */
static void test_pg_reconnects_after_disconnect(void)
{
	if (!g_pg)
		return;
	struct store *st = open_ops(NULL, 1, 0);
	REQUIRE(st);
	CHECK_EQ_INT(store_write_sync(st, job_noop, NULL), 0);
	PGconn *pg = PQconnectdb(g_url);
	REQUIRE(PQstatus(pg) == CONNECTION_OK);
	PGresult *r = PQexec(pg, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
				 " WHERE pid <> pg_backend_pid() AND datname = current_database()");
	CHECK(PQresultStatus(r) == PGRES_TUPLES_OK);
	CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && strtoll(PQgetvalue(r, 0, 0), NULL, 10) == 2);
	PQclear(r);
	PQfinish(pg);
	/* Both connections were idle: BEGIN notices, reconnects, goes on. */
	struct skill_job sj = {.name = "reconnect"};
	CHECK_EQ_INT(store_write_sync(st, job_add_skill, &sj), 0);
	CHECK(sj.id > 0);
	CHECK_EQ_INT(count_sql(st, "SELECT count(*) FROM schema_version"),
		     store_schema_version(st));
	store_close(st);
}

/* ---- main ---------------------------------------------------------------- */

static void rm_dir(const char *dir)
{
	const char *names[] = {"test.db", "test.db-wal", "test.db-shm", "plain.db",
			       "plain.db-wal", "plain.db-shm"};
	char p[512];
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
}

int main(int argc, char **argv)
{
	if (argc > 1 && argv[1][0]) {
		snprintf(g_url, sizeof(g_url), "%s", argv[1]);
	} else {
		snprintf(g_dir, sizeof(g_dir), "/tmp/hl-store-test.XXXXXX");
		if (!mkdtemp(g_dir)) {
			perror("mkdtemp");
			return 1;
		}
		snprintf(g_url, sizeof(g_url), "sqlite:%s/test.db", g_dir);
	}
	g_pg = strncmp(g_url, "postgres", 8) == 0;
	printf("store tests on %s\n", g_pg ? "postgresql" : g_url);

	TEST_RUN(test_open_applies_migrations_once);
	TEST_RUN(test_open_rejects_bad_url);
	TEST_RUN(test_sqlite_plain_path_url);
	TEST_RUN(test_values_of_every_type_and_null);
	TEST_RUN(test_placeholders_out_of_order);
	TEST_RUN(test_returning_ids_and_unique_conflict);
	TEST_RUN(test_failing_job_rolls_back_alone);
	TEST_RUN(test_event_defaults_stored);
	TEST_RUN(test_reads_see_commits_in_one_snapshot);
	TEST_RUN(test_close_drains_every_job);
	TEST_RUN(test_concurrent_writers);
	TEST_RUN(test_write_sync_is_visible_to_fresh_connection);
	TEST_RUN(test_sigkill_loses_nothing_acknowledged);
	TEST_RUN(test_fault_failed_exec_rolls_back_its_job_only);
	TEST_RUN(test_fault_failed_commit_fails_whole_batch);
	TEST_RUN(test_fault_each_call_in_turn);
	TEST_RUN(test_fault_failed_begin_fails_batch);
	TEST_RUN(test_lost_transaction_fails_batch);
	TEST_RUN(test_pg_query_timeout_cancels);
	TEST_RUN(test_pg_reconnects_after_disconnect);

	if (g_dir[0])
		rm_dir(g_dir);
	TEST_MAIN_END();
}
