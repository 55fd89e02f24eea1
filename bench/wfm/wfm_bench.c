/*
 * wfm_bench.c: how fast the Erlang math is, against the obvious way.
 *
 * Times one Erlang C and one Erlang A evaluation (all measures, service
 * level included) at 10, 1,000 and 100,000 agents, and one Erlang A
 * staffing search, and in the same run a plain direct-summation Erlang C in
 * log space (sum of e^{k log a - lgamma(k+1)} over k < n, the textbook
 * formula made overflow-safe) as the baseline, with the speed ratio and the
 * relative difference of the two answers.
 *
 * Forecasting: two years of 15-minute intervals (70,080) of arrivals and
 * handle times for each of 200 synthetic queues (daily and weekly shape,
 * a yearly swing, a slow trend, Poisson-like noise; handle times missing
 * where no call arrived). Per queue and series: the method is chosen by a
 * rolling-origin backtest (3 origins a week apart, one-week horizon) and
 * the next week is forecast with it. `forecast_s` is the total time of
 * that work for all 200 queues (generating the series is not timed).
 *
 * Schedules: a week (7 x 96 quarter hours) for 200 agents. The
 * requirement per interval is wfm_staff() (Erlang C, 80% in 20 s, AHT
 * 300 s) on a two-peak daily arrival profile, lower at weekends, plus 25%
 * shrinkage; 120 full-time agents (32 to 40 h, any day) and 80 part-time
 * ones (12 to 24 h, each available on a fixed set of evenings or
 * mornings); templates of 8.5 h (paid break, unpaid 30-minute meal), 6 h
 * (paid break) and 4 h. `schedule_s` is the wall-clock time of
 * wfm_schedule() (pattern enumeration, fallback, CBC within 20 s, the
 * assignment), `schedule_gap` its optimality gap (na if it failed). The
 * fallback alone (no CBC) is run first and printed, not in RESULT.
 *
 * Not a test: it never fails on time. `--quick` runs each Erlang timing
 * for about 0.05 s instead of 0.3 s (the forecast and the schedule are the
 * same work either way). The last line is machine-readable:
 *   RESULT wfm erlang_a_us_1000=... staffing_search_us=... forecast_s=...
 *          schedule_s=... schedule_gap=...
 */
#include "wfm/wfm.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile double sink;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define FC_QUEUES 200
#define FC_N (2 * 365 * WFM_FC_DAY)

/* splitmix64: the bench's own deterministic numbers */
static uint64_t bench_rng = 12345;

static double unif(void)
{
	uint64_t z = (bench_rng += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	z ^= z >> 31;
	return ((double)(z >> 11) + 0.5) * 0x1.0p-53;
}

static double normal(void)
{
	return sqrt(-2.0 * log(unif())) * cos(2.0 * M_PI * unif());
}

/* Queue q's two years: counts in y, mean handle times in aht. */
static void make_series(unsigned q, double *y, double *aht)
{
	double base = 2.0 + 40.0 * unif(), trend = 0.5 * (unif() - 0.5);
	double sat = 0.3 + 0.5 * unif(), peak = 36.0 + 12.0 * unif();
	for (size_t t = 0; t < FC_N; t++) {
		size_t i = t % WFM_FC_DAY, d = (t / WFM_FC_DAY) % 7;
		double day = exp(-0.5 * pow(((double)i - peak) / 14.0, 2.0)) +
			     0.6 * exp(-0.5 * pow(((double)i - peak - 24.0) / 10.0, 2.0));
		double week = d == 5 ? sat : d == 6 ? 0.15 : 1.0 + 0.05 * (double)d;
		double year = 1.0 + 0.2 * sin(2.0 * M_PI * (double)t / (365.0 * WFM_FC_DAY));
		double lam = base * day * week * year * (1.0 + trend * (double)t / FC_N);
		double c = floor(lam + sqrt(lam) * normal() + 0.5);
		y[t] = c > 0 ? c : 0;
		aht[t] = y[t] > 0 ? 280.0 + 40.0 * sin(2.0 * M_PI * (double)i / 96) +
					    60.0 * normal() / sqrt(y[t])
				  : NAN;
	}
	(void)q;
}

struct fc_totals {
	unsigned chosen[2][WFM_FC_METHODS];
	double wape_sum[2];
	unsigned failed;
};

/* Select by backtest and forecast one week; returns the time taken. */
static double forecast_one(const double *y, int which, struct fc_totals *tot)
{
	struct wfm_fc_choice c;
	double f[WFM_FC_WEEK];
	double t0 = now_s();
	int rc = wfm_fc_select(y, FC_N, NULL, WFM_FC_WEEK, 3, WFM_FC_WEEK, &c);
	if (!rc)
		rc = wfm_forecast(c.method, y, FC_N, NULL, f, WFM_FC_WEEK);
	double dt = now_s() - t0;
	if (rc) {
		tot->failed++;
		return dt;
	}
	sink += f[0];
	tot->chosen[which][c.method]++;
	tot->wape_sum[which] += c.wape[c.method];
	return dt;
}


/* The baseline: C(n, a) by direct summation in log space, O(n) lgamma calls. */
static double erlang_c_direct(long n, double a)
{
	double la = log(a);
	double tail = (double)n * la - lgamma((double)n + 1.0) +
		      log((double)n / ((double)n - a));
	/* log-sum-exp with a running maximum */
	double m = tail, s = 1.0;
	for (long k = 0; k < n; k++) {
		double t = (double)k * la - lgamma((double)k + 1.0);
		if (t > m) {
			s = s * exp(m - t) + 1.0;
			m = t;
		} else {
			s += exp(t - m);
		}
	}
	return exp(tail - m) / s;
}

/* The week's schedule; fills *secs and *gap (NAN on failure). */
static void bench_schedule(double *secs, double *gap)
{
	enum { DAYS = 7, IPD = WFM_FC_DAY, N = DAYS * IPD, AGENTS = 200 };
	static double req[N];
	static unsigned char avail[AGENTS][N];
	static struct wfm_sched_agent ag[AGENTS];
	struct wfm_sched_template tp[3];
	struct wfm_target tg;
	double need = 0, peak = 0;
	*secs = NAN;
	*gap = NAN;
	wfm_target_init(&tg);
	tg.min_service_level = 0.8;
	for (unsigned t = 0; t < N; t++) {
		unsigned d = t / IPD, i = t % IPD;
		double h = i / 4.0, calls = 0;
		if (h >= 7 && h < 22)
			calls = 12 + 95 * exp(-0.5 * pow((h - 11) / 1.7, 2)) +
				70 * exp(-0.5 * pow((h - 15.5) / 2.0, 2)) +
				20 * exp(-0.5 * pow((h - 19.5) / 1.2, 2));
		calls *= 1.6 * (d == 5 ? 0.55 : d == 6 ? 0.35 : 1.0 + 0.03 * d);
		struct wfm_load l = {WFM_ERLANG_C, calls, 900, 300, 180, 20};
		long n = 0;
		if (calls > 0 && wfm_staff(&l, &tg, &n, NULL) != 0)
			return;
		req[t] = (double)wfm_scheduled_staff(n, 0.25);
		need += req[t] / 4;
		if (req[t] > peak)
			peak = req[t];
	}
	wfm_sched_template_init(&tp[0]);
	tp[0].first_start = 24; /* 06:00 */
	tp[0].last_start = 56;  /* 14:00 */
	tp[0].start_step = 2;
	tp[0].length = 34;
	tp[0].n_breaks = 2;
	tp[0].breaks[0] = (struct wfm_sched_break){1, 6, 10, 1};
	tp[0].breaks[1] = (struct wfm_sched_break){2, 14, 20, 0};
	wfm_sched_template_init(&tp[1]);
	tp[1].first_start = 28;
	tp[1].last_start = 64;
	tp[1].start_step = 2;
	tp[1].length = 24;
	tp[1].n_breaks = 1;
	tp[1].breaks[0] = (struct wfm_sched_break){1, 8, 14, 1};
	tp[1].cost_weight = 1.03;
	wfm_sched_template_init(&tp[2]);
	tp[2].first_start = 28;
	tp[2].last_start = 72;
	tp[2].start_step = 2;
	tp[2].length = 16;
	tp[2].cost_weight = 1.06;
	for (unsigned a = 0; a < AGENTS; a++) {
		memset(&ag[a], 0, sizeof(ag[a]));
		if (a < 120) {
			ag[a].min_hours = 32;
			ag[a].max_hours = 40;
			continue;
		}
		/* part-timers: three fixed days, mornings or evenings */
		unsigned dmask = 0, ndays = 0;
		while (ndays < 3) {
			unsigned bit = 1u << (unsigned)(unif() * 7);
			ndays += !(dmask & bit);
			dmask |= bit;
		}
		int morning = unif() < 0.4;
		for (unsigned t = 0; t < N; t++) {
			unsigned d = t / IPD, i = t % IPD;
			avail[a][t] = (dmask >> d & 1) && (morning ? i >= 24 && i < 56
								 : i >= 56 && i < 96);
		}
		ag[a].available = avail[a];
		ag[a].min_hours = 12;
		ag[a].max_hours = 24;
	}
	struct wfm_sched_problem p = {N, IPD, 900, req, tp, 3, ag, AGENTS};
	struct wfm_sched_opts o;
	struct wfm_sched_result r;
	wfm_sched_opts_init(&o);
	o.cbc_path = NULL; /* the fallback alone, for comparison */
	double t0 = now_s();
	if (wfm_schedule(&p, &o, &r) == 0) {
		printf("schedule, fallback alone: objective %.1f, Lagrangian bound %.1f, "
		       "gap %.4f, under %.0f agent-intervals; %.2f s\n", r.objective,
		       r.lp_bound, r.gap, r.under, now_s() - t0);
		wfm_sched_result_free(&r);
	}
	wfm_sched_opts_init(&o);
	o.time_limit_s = 20;
	t0 = now_s();
	int rc = wfm_schedule(&p, &o, &r);
	double dt = now_s() - t0;
	if (rc) {
		printf("schedule: FAILED (%d)\n", rc);
		return;
	}
	printf("schedule (a week, 200 agents, %u patterns; requirement %.0f agent-hours, peak %.0f):\n"
	       "  %s (cbc_status %d), objective %.1f, bound %.1f (Lagrangian %.1f), gap %.4f; "
	       "fallback alone %.1f\n"
	       "  %zu shifts (%zu unassigned), paid %.1f h, under %.0f and over %.0f "
	       "agent-intervals, %u intervals short, %u agents below their minimum; %.2f s\n",
	       r.n_patterns, need, peak, wfm_sched_method_name(r.method), r.cbc_status,
	       r.objective, r.bound, r.lp_bound, r.gap, r.fallback_objective,
	       r.n_shifts, r.n_unassigned, r.paid_hours, r.under, r.over,
	       r.short_intervals, r.agents_below_min, dt);
	*secs = dt;
	*gap = r.gap;
	wfm_sched_result_free(&r);
}

enum what { W_C, W_A, W_DIRECT, W_STAFF };

struct job {
	enum what what;
	long n;
	struct wfm_load load;
};

static void run_once(const struct job *j)
{
	struct wfm_result r;
	switch (j->what) {
	case W_C:
	case W_A:
		wfm_evaluate(&j->load, j->n, &r);
		sink += r.service_level;
		break;
	case W_DIRECT:
		sink += erlang_c_direct(j->n, j->load.calls * j->load.aht_s / j->load.period_s);
		break;
	case W_STAFF: {
		struct wfm_target t;
		long need = 0;
		wfm_target_init(&t);
		t.min_service_level = 0.8;
		wfm_staff(&j->load, &t, &need, &r);
		sink += (double)need;
		break;
	}
	}
}

/* Microseconds per call: repeat until `budget` seconds have passed. */
static double time_us(const struct job *j, double budget)
{
	run_once(j); /* warm up */
	long reps = 0;
	double t0 = now_s(), t1;
	do {
		run_once(j);
		reps++;
		t1 = now_s();
	} while (t1 - t0 < budget);
	return 1e6 * (t1 - t0) / (double)reps;
}

static struct wfm_load load_for(enum wfm_model m, double traffic)
{
	struct wfm_load l = {m, traffic * 1800.0 / 300.0, 1800.0, 300.0, 180.0, 20.0};
	return l;
}

int main(int argc, char **argv)
{
	double budget = 0.3;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			budget = 0.05;
		} else {
			fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
			return 2;
		}
	}
	static const long ns[] = {10, 1000, 100000};
	double a_us_1000 = NAN;

	printf("# wfm bench: time per evaluation, AHT 300 s, patience 180 s, t = 20 s,\n"
	       "# traffic = n - sqrt(n)/2 (the staffing regime)\n");
	printf("%-8s %12s %12s %16s %9s %12s\n", "agents", "erlang_c_us",
	       "erlang_a_us", "direct_sum_c_us", "ratio", "rel_diff_c");
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		long n = ns[i];
		double traffic = (double)n - 0.5 * sqrt((double)n);
		struct job jc = {W_C, n, load_for(WFM_ERLANG_C, traffic)};
		struct job ja = {W_A, n, load_for(WFM_ERLANG_A, traffic)};
		struct job jd = {W_DIRECT, n, load_for(WFM_ERLANG_C, traffic)};
		double c_us = time_us(&jc, budget);
		double a_us = time_us(&ja, budget);
		double d_us = time_us(&jd, budget);
		double c_lib = wfm_erlang_c(n, traffic);
		double c_dir = erlang_c_direct(n, traffic);
		printf("%-8ld %12.3f %12.3f %16.3f %8.1fx %12.2e\n", n, c_us, a_us,
		       d_us, d_us / c_us, fabs(c_lib - c_dir) / c_lib);
		if (n == 1000)
			a_us_1000 = a_us;
	}

	/* Erlang A staffing: 80% answered in 20 s at ~1,000 Erlangs */
	struct job js = {W_STAFF, 0, load_for(WFM_ERLANG_A, 1000.0)};
	double staff_us = time_us(&js, budget);
	struct wfm_target t;
	long need = 0;
	wfm_target_init(&t);
	t.min_service_level = 0.8;
	wfm_staff(&js.load, &t, &need, NULL);
	printf("staffing search (Erlang A, 1000 Erlangs, 80%% in 20 s): %ld agents, %.3f us\n",
	       need, staff_us);

	/* Forecasts: 200 queues x two years x (arrivals, handle times). */
	double *y = malloc(FC_N * sizeof(double)), *aht = malloc(FC_N * sizeof(double));
	if (!y || !aht) {
		fprintf(stderr, "out of memory\n");
		return 1;
	}
	struct fc_totals tot;
	memset(&tot, 0, sizeof(tot));
	double forecast_s = 0.0;
	for (unsigned q = 0; q < FC_QUEUES; q++) {
		make_series(q, y, aht);
		forecast_s += forecast_one(y, 0, &tot);
		forecast_s += forecast_one(aht, 1, &tot);
	}
	free(y);
	free(aht);
	for (int w = 0; w < 2; w++)
		printf("forecast %s: %u queues x %u intervals; chosen by backtest: "
		       "seasonal naive %u, historical average %u, Holt-Winters %u; "
		       "mean backtest WAPE %.3f\n",
		       w ? "handle times" : "arrivals", FC_QUEUES, (unsigned)FC_N,
		       tot.chosen[w][0], tot.chosen[w][1], tot.chosen[w][2],
		       tot.wape_sum[w] / FC_QUEUES);
	printf("forecast (backtest 3 origins x 1 week + select + 1-week forecast, "
	       "arrivals and handle times, 200 queues): %.2f s%s\n", forecast_s,
	       tot.failed ? " (some FAILED)" : "");

	double sched_s, sched_gap;
	bench_schedule(&sched_s, &sched_gap);
	char ss[32] = "na", sg[32] = "na";
	if (isfinite(sched_s))
		snprintf(ss, sizeof(ss), "%.3f", sched_s);
	if (isfinite(sched_gap))
		snprintf(sg, sizeof(sg), "%.4f", sched_gap);
	printf("RESULT wfm erlang_a_us_1000=%.3f staffing_search_us=%.3f "
	       "forecast_s=%.3f schedule_s=%s schedule_gap=%s\n",
	       a_us_1000, staff_us, forecast_s, ss, sg);
	return 0;
}
