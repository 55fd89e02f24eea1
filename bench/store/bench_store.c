/*
 * bench_store.c: how many event-appending write jobs per second the store
 * commits durably, and how well group commit batches them.
 *
 *   build/bench/store_write [URL] [JOBS]
 *
 * URL defaults to a fresh SQLite file in a mkdtemp directory (removed
 * afterwards); JOBS defaults to 20000. Each job appends one ~200-byte
 * event, the shape of the real event log. Jobs are submitted as fast as
 * the queue takes them, with at most 4096 in flight, like a busy core
 * thread would. Prints jobs/s, commits, mean jobs per commit and the mean
 * COMMIT time.
 */
#include "store/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_long inflight, failed;

static int job_event(struct store_tx *tx, void *arg)
{
	static const char payload[] =
		"{\"interaction\":123456,\"queue\":7,\"agent\":42,\"state\":\"ringing\","
		"\"reason\":null,\"channel\":\"voice\",\"from\":\"+46701234567\","
		"\"to\":\"+4681234567\",\"skills\":[\"english\",\"billing\"],\"wait_ms\":15320}";
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

int main(int argc, char **argv)
{
	char dir[64] = "", url[512];
	long jobs = 20000;
	if (argc > 1 && argv[1][0]) {
		snprintf(url, sizeof(url), "%s", argv[1]);
	} else {
		snprintf(dir, sizeof(dir), "/tmp/hl-bench-store.XXXXXX");
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			return 1;
		}
		snprintf(url, sizeof(url), "sqlite:%s/bench.db", dir);
	}
	if (argc > 2) {
		char *end = NULL;
		jobs = strtol(argv[2], &end, 10);
		if (!end || *end || jobs <= 0) {
			fprintf(stderr, "JOBS must be a positive number\n");
			return 2;
		}
	}

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
	printf("backend=%s jobs=%ld failed=%ld seconds=%.3f jobs_per_s=%.0f commits=%llu"
	       " jobs_per_commit=%.1f commit_us_mean=%.0f\n",
	       store_backend(st), jobs, atomic_load(&failed), dt, (double)jobs / dt,
	       (unsigned long long)s.commits, s.commits ? (double)s.jobs / (double)s.commits : 0,
	       s.commits ? (double)s.commit_us_sum / (double)s.commits : 0);
	store_close(st);
	if (dir[0]) {
		const char *names[] = {"bench.db", "bench.db-wal", "bench.db-shm"};
		char p[128];
		for (int i = 0; i < 3; i++) {
			snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
			unlink(p);
		}
		rmdir(dir);
	}
	return atomic_load(&failed) ? 1 : 0;
}
