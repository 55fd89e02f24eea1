/*
 * store_bench.c: durable event writes per second through the store's group
 * commit, next to the naive way measured in the same run: one transaction
 * and one fsync per event on the same SQLite settings (WAL,
 * synchronous=FULL), which is what acknowledging each write on its own
 * commit costs.
 *
 *   build/bench/store [--quick] [--url URL] [--jobs N]
 *
 * URL defaults to a fresh SQLite file in a temporary directory (removed
 * afterwards); the baseline always runs on SQLite. Each job appends one
 * ~200-byte event, the shape of the real event log, with at most 4096 in
 * flight like a busy core thread. Last line:
 *   RESULT store jobs_per_s=… baseline_per_s=… vs_baseline=… jobs_per_commit=… commit_us_mean=…
 */
#include "store/store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_long inflight, failed;

static const char payload[] =
	"{\"interaction\":123456,\"queue\":7,\"agent\":42,\"state\":\"ringing\","
	"\"reason\":null,\"channel\":\"voice\",\"from\":\"+46701234567\","
	"\"to\":\"+4681234567\",\"skills\":[\"english\",\"billing\"],\"wait_ms\":15320}";

static int job_event(struct store_tx *tx, void *arg)
{
	struct store_event ev = {.type = "interaction.offered",
				 .interaction = (int64_t)(intptr_t)arg,
				 .agent = 42,
				 .queue = 7,
				 .payload = payload};
	return store_event_append(tx, &ev);
}

static void done_event(int err, void *arg)
{
	(void)arg;
	if (err)
		atomic_fetch_add(&failed, 1);
	atomic_fetch_sub(&inflight, 1);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void remove_db(const char *dir, const char *name)
{
	const char *sfx[] = {"", "-wal", "-shm"};
	char p[256];
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s/%s%s", dir, name, sfx[i]);
		unlink(p);
	}
}

/* The baseline: the same event rows, each in its own transaction, acked
 * one by one. Returns rows per second, or -1. */
static double baseline(const char *dir, long n)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/baseline.db", dir);
	sqlite3 *db;
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return -1;
	sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			 "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, ts BIGINT NOT NULL,"
			 " tenant BIGINT NOT NULL DEFAULT 1, type TEXT NOT NULL, interaction BIGINT,"
			 " agent BIGINT, queue BIGINT, actor BIGINT, payload TEXT NOT NULL);",
		     NULL, NULL, NULL);
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db,
			       "INSERT INTO events (ts, type, interaction, agent, queue, payload)"
			       " VALUES (?1, 'interaction.offered', ?2, 42, 7, ?3)",
			       -1, &st, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return -1;
	}
	double t0 = now_s();
	for (long i = 0; i < n; i++) {
		sqlite3_bind_int64(st, 1, store_now_ms());
		sqlite3_bind_int64(st, 2, i + 1);
		sqlite3_bind_text(st, 3, payload, -1, SQLITE_STATIC);
		if (sqlite3_step(st) != SQLITE_DONE) /* autocommit: one fsync each */
			break;
		sqlite3_reset(st);
	}
	double dt = now_s() - t0;
	sqlite3_finalize(st);
	sqlite3_close(db);
	remove_db(dir, "baseline.db");
	return (double)n / dt;
}

int main(int argc, char **argv)
{
	char dir[64] = "/tmp/hl-bench-store.XXXXXX", url[512] = "";
	long jobs = 100000, base_n = 5000;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			jobs = 20000;
			base_n = 1000;
		} else if (strcmp(argv[i], "--url") == 0 && i + 1 < argc) {
			snprintf(url, sizeof(url), "%s", argv[++i]);
		} else if (strcmp(argv[i], "--jobs") == 0 && i + 1 < argc) {
			char *end = NULL;
			jobs = strtol(argv[++i], &end, 10);
			if (!end || *end || jobs <= 0) {
				fprintf(stderr, "--jobs: expected a positive number\n");
				return 2;
			}
		} else {
			fprintf(stderr, "usage: store [--quick] [--url URL] [--jobs N]\n");
			return 2;
		}
	}
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	if (!url[0])
		snprintf(url, sizeof(url), "sqlite:%s/bench.db", dir);

	struct store_opts o = {.url = url};
	struct store *st = NULL;
	int err = store_open(&st, &o);
	if (err) {
		fprintf(stderr, "store_open: %d\n", err);
		return 1;
	}
	double t0 = now_s();
	for (long i = 0; i < jobs; i++) {
		while (atomic_load(&inflight) >= 4096)
			usleep(100);
		atomic_fetch_add(&inflight, 1);
		if (store_write(st, job_event, done_event, (void *)(intptr_t)(i + 1))) {
			fprintf(stderr, "store_write failed\n");
			return 1;
		}
	}
	while (atomic_load(&inflight) > 0)
		usleep(100);
	double dt = now_s() - t0;
	struct store_stats s;
	store_stats_get(st, &s);
	const char *backend = store_backend(st);
	store_close(st);
	remove_db(dir, "bench.db");

	double per_s = (double)jobs / dt;
	double jpc = s.commits ? (double)s.jobs / (double)s.commits : 0;
	double cmean = s.commits ? (double)s.commit_us_sum / (double)s.commits : 0;
	printf("store (%s): %ld durable event writes in %.2f s = %.0f/s, %llu commits, %.1f jobs/commit,"
	       " mean COMMIT %.0f us, %ld failed\n",
	       backend, jobs, dt, per_s, (unsigned long long)s.commits, jpc, cmean,
	       atomic_load(&failed));
	double b = baseline(dir, base_n);
	rmdir(dir);
	printf("baseline (SQLite WAL FULL, one commit per event): %ld events, %.0f/s\n", base_n, b);
	printf("ratio: group commit is %.1fx the per-event commit\n", b > 0 ? per_s / b : 0);
	printf("RESULT store jobs_per_s=%.0f baseline_per_s=%.0f vs_baseline=%.1f jobs_per_commit=%.1f"
	       " commit_us_mean=%.0f\n",
	       per_s, b, b > 0 ? per_s / b : 0, jpc, cmean);
	return atomic_load(&failed) ? 1 : 0;
}
