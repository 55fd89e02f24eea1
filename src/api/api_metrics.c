/*
 * api_metrics.c: GET /metrics in the Prometheus text format (version
 * 0.0.4). The web thread's own counters need no locks (only it writes
 * them); the store's come from store_stats_get().
 */
#include "api/api_int.h"
#include "base/base.h"
#include "store/store.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Request latency buckets, seconds. */
static const double lat_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
				     0.05,   0.1,   0.25,   0.5,   1.0};
#define NLAT (sizeof(lat_buckets) / sizeof(lat_buckets[0]))

void api_metrics_observe(struct api *a, int status, int64_t us)
{
	if (status < 100 || status > 599)
		status = 500;
	a->m.requests[status / 100]++;
	a->m.req_by_code[status]++;
	a->m.latency_us_sum += (uint64_t)(us > 0 ? us : 0);
	a->m.latency_count++;
	for (size_t i = 0; i < NLAT; i++)
		if ((double)us / 1e6 <= lat_buckets[i])
			a->m.latency_hist[i]++;
}

struct buf {
	char *p;
	size_t len, cap;
};

static void bprintf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void bprintf(struct buf *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return;
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 8192;
		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np)
			return;
		b->p = np;
		b->cap = cap;
	}
}

void api_handle_metrics(struct api_req *req)
{
	struct api *a = req->api;
	struct buf b = {0};
	struct store_stats ss;
	store_stats_get(a->o.store, &ss);

	bprintf(&b, "# HELP hotline_http_requests_total HTTP requests answered, by status code.\n"
		    "# TYPE hotline_http_requests_total counter\n");
	for (int c = 100; c < 600; c++)
		if (a->m.req_by_code[c])
			bprintf(&b, "hotline_http_requests_total{code=\"%d\"} %" PRIu64 "\n", c,
				a->m.req_by_code[c]);
	bprintf(&b, "# HELP hotline_http_request_duration_seconds Time from request to last byte written.\n"
		    "# TYPE hotline_http_request_duration_seconds histogram\n");
	for (size_t i = 0; i < NLAT; i++)
		bprintf(&b, "hotline_http_request_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
			lat_buckets[i], a->m.latency_hist[i]);
	bprintf(&b, "hotline_http_request_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
		    "hotline_http_request_duration_seconds_sum %.6f\n"
		    "hotline_http_request_duration_seconds_count %" PRIu64 "\n",
		a->m.latency_count, (double)a->m.latency_us_sum / 1e6, a->m.latency_count);
	bprintf(&b, "# HELP hotline_ws_connections Open WebSocket event streams.\n"
		    "# TYPE hotline_ws_connections gauge\nhotline_ws_connections %" PRIu64 "\n"
		    "# HELP hotline_ws_events_sent_total Events written to WebSocket subscribers.\n"
		    "# TYPE hotline_ws_events_sent_total counter\nhotline_ws_events_sent_total %" PRIu64 "\n"
		    "# HELP hotline_ws_slow_consumers_closed_total Subscribers closed because their buffer overflowed.\n"
		    "# TYPE hotline_ws_slow_consumers_closed_total counter\nhotline_ws_slow_consumers_closed_total %" PRIu64 "\n"
		    "# HELP hotline_events_total Committed events seen by the web thread.\n"
		    "# TYPE hotline_events_total counter\nhotline_events_total %" PRIu64 "\n"
		    "# HELP hotline_login_failures_total Failed logins.\n"
		    "# TYPE hotline_login_failures_total counter\nhotline_login_failures_total %" PRIu64 "\n"
		    "# HELP hotline_sessions Live sessions and API tokens.\n"
		    "# TYPE hotline_sessions gauge\nhotline_sessions %zu\n",
		a->m.ws_connections, a->m.ws_events_sent, a->m.ws_slow_closed, a->m.events_published,
		a->m.login_failures, a->nsessions);
	bprintf(&b, "# HELP hotline_store_commits_total Write transactions committed.\n"
		    "# TYPE hotline_store_commits_total counter\nhotline_store_commits_total %" PRIu64 "\n"
		    "# HELP hotline_store_jobs_total Write jobs completed.\n"
		    "# TYPE hotline_store_jobs_total counter\nhotline_store_jobs_total %" PRIu64 "\n"
		    "# HELP hotline_store_reads_total Read jobs completed.\n"
		    "# TYPE hotline_store_reads_total counter\nhotline_store_reads_total %" PRIu64 "\n"
		    "# HELP hotline_store_errors_total Failed store jobs.\n"
		    "# TYPE hotline_store_errors_total counter\nhotline_store_errors_total %" PRIu64 "\n"
		    "# HELP hotline_store_queue_depth Write jobs waiting.\n"
		    "# TYPE hotline_store_queue_depth gauge\nhotline_store_queue_depth %" PRIu64 "\n",
		ss.commits, ss.jobs, ss.reads, ss.errors, ss.queue_depth);
	bprintf(&b, "# HELP hotline_store_commit_duration_seconds Time spent in COMMIT (includes fsync).\n"
		    "# TYPE hotline_store_commit_duration_seconds histogram\n");
	for (int i = 0; i < 9; i++)
		bprintf(&b, "hotline_store_commit_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
			store_commit_buckets_us[i] / 1e6, ss.commit_hist[i]);
	bprintf(&b, "hotline_store_commit_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n"
		    "hotline_store_commit_duration_seconds_sum %.6f\n"
		    "hotline_store_commit_duration_seconds_count %" PRIu64 "\n",
		ss.commit_hist[9], (double)ss.commit_us_sum / 1e6, ss.commits);
	bprintf(&b, "# HELP hotline_worker_queue_depth Blocking work items waiting (password hashing).\n"
		    "# TYPE hotline_worker_queue_depth gauge\nhotline_worker_queue_depth %zu\n",
		base_workq_depth(a->o.workq));
	api_respond(req, 200, "text/plain; version=0.0.4", b.p, b.len);
}
