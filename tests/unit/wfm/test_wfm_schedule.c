/*
 * test_wfm_schedule.c: unit tests of the shift-schedule builder
 * (src/wfm/wfm_schedule.c), its own binary test_wfm_schedule because it
 * spawns /usr/bin/cbc.
 *
 * Two tiny instances with optima worked by hand must be solved exactly by
 * CBC (checked unless /usr/bin/cbc is absent, which is reported); the
 * fallback alone must be feasible and within a stated factor of them and
 * of CBC on a mid-sized day; the coverage report is compared with a hand
 * count; a fake solver that never answers must be killed at the deadline
 * and the fallback returned; the assignment must respect availability,
 * skills and maximum hours; the private temporary directory must be gone
 * afterwards; a day only one agent can work gets one shift; bad input
 * must give -EINVAL.
 */
#define _POSIX_C_SOURCE 200809L

#include "wfm/wfm.h"
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CBC "/usr/bin/cbc"

static int have_cbc(void)
{
	return access(CBC, X_OK) == 0;
}

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Instance 1: 8 one-hour intervals, 4-hour shifts starting at 0..4,
 * requirement 1 1 2 2 2 2 1 1. 12 agent-hours are needed and a shift gives
 * 4, so at least 3 shifts; {0, 2, 4} covers exactly: optimum 12, no
 * surplus, and it is the only optimum. */
static const double req1[8] = {1, 1, 2, 2, 2, 2, 1, 1};

static void inst1(struct wfm_sched_problem *p, struct wfm_sched_template *tp,
		  struct wfm_sched_agent *ag, unsigned n_agents)
{
	wfm_sched_template_init(tp);
	tp->first_start = 0;
	tp->last_start = 4;
	tp->length = 4;
	for (unsigned a = 0; a < n_agents; a++) {
		memset(&ag[a], 0, sizeof(ag[a]));
		ag[a].max_hours = 8;
	}
	memset(p, 0, sizeof(*p));
	p->n_intervals = 8;
	p->intervals_per_day = 8;
	p->interval_s = 3600;
	p->required = req1;
	p->templates = tp;
	p->n_templates = 1;
	p->agents = ag;
	p->n_agents = n_agents;
}

/* Instance 2: 6 intervals, requirement 1 0 1 1 1 0; a 5-interval shift
 * (start 0 or 1) with a one-interval unpaid meal at offset 1..3. Starting
 * at 0 with the meal at 1 works exactly 0, 2, 3, 4: optimum 4 paid
 * intervals, every other placement leaves a gap or a surplus. */
static const double req2[6] = {1, 0, 1, 1, 1, 0};

static void inst2(struct wfm_sched_problem *p, struct wfm_sched_template *tp,
		  struct wfm_sched_agent *ag)
{
	wfm_sched_template_init(tp);
	tp->last_start = 1;
	tp->length = 5;
	tp->n_breaks = 1;
	tp->breaks[0].len = 1;
	tp->breaks[0].earliest = 1;
	tp->breaks[0].latest = 3;
	memset(ag, 0, sizeof(*ag));
	ag->max_hours = 40;
	memset(p, 0, sizeof(*p));
	p->n_intervals = 6;
	p->intervals_per_day = 6;
	p->interval_s = 3600;
	p->required = req2;
	p->templates = tp;
	p->n_templates = 1;
	p->agents = ag;
	p->n_agents = 1;
}

static void opts_cbc(struct wfm_sched_opts *o)
{
	wfm_sched_opts_init(o);
	o->time_limit_s = 5;
}

static void opts_fallback(struct wfm_sched_opts *o)
{
	wfm_sched_opts_init(o);
	o->cbc_path = NULL;
}

static void test_tiny_optimum_cbc(void)
{
	if (!have_cbc()) {
		fprintf(stderr, "SKIP test_tiny_optimum_cbc: %s not installed\n", CBC);
		return;
	}
	struct wfm_sched_problem p;
	struct wfm_sched_template tp;
	struct wfm_sched_agent ag[3];
	struct wfm_sched_opts o;
	struct wfm_sched_result r;
	inst1(&p, &tp, ag, 3);
	opts_cbc(&o);
	REQUIRE(wfm_schedule(&p, &o, &r) == 0);
	CHECK_EQ_INT(r.cbc_status, 0);
	CHECK_EQ_INT(r.method, WFM_SCHED_CBC_OPTIMAL);
	CHECK_NEAR(r.objective, 12.0, 1e-9, 0);
	CHECK_NEAR(r.gap, 0.0, 1e-9, 0);
	CHECK_NEAR(r.bound, 12.0, 1e-6, 0);
	CHECK_EQ_INT(r.n_patterns, 5);
	CHECK_EQ_INT(r.n_shifts, 3);
	CHECK_EQ_INT(r.n_unassigned, 0);
	unsigned starts = 0;
	for (size_t i = 0; i < r.n_shifts; i++)
		starts |= 1u << r.shifts[i].start;
	CHECK_EQ_INT(starts, (1u << 0) | (1u << 2) | (1u << 4));
	for (unsigned t = 0; t < 8; t++)
		CHECK_EQ_INT(r.coverage[t], (unsigned)req1[t]);
	CHECK_NEAR(r.under, 0, 0, 0);
	CHECK_NEAR(r.over, 0, 0, 0);
	CHECK_NEAR(r.paid_hours, 12, 1e-9, 0);
	CHECK(r.lp_bound <= 12.0 + 1e-9);
	wfm_sched_result_free(&r);
}

static void test_break_placement(void)
{
	struct wfm_sched_problem p;
	struct wfm_sched_template tp;
	struct wfm_sched_agent ag;
	struct wfm_sched_opts o;
	struct wfm_sched_result r;
	inst2(&p, &tp, &ag);
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 0 && !have_cbc()) {
			fprintf(stderr, "SKIP test_break_placement (CBC): %s not installed\n", CBC);
			continue;
		}
		if (pass == 0)
			opts_cbc(&o);
		else
			opts_fallback(&o);
		REQUIRE(wfm_schedule(&p, &o, &r) == 0);
		/* 2 starts x 3 meal placements */
		CHECK_EQ_INT(r.n_patterns, 6);
		CHECK_EQ_INT(r.method, pass == 0 ? WFM_SCHED_CBC_OPTIMAL : WFM_SCHED_FALLBACK);
		CHECK_NEAR(r.objective, 4.0, 1e-9, 0);
		REQUIRE(r.n_shifts == 1);
		CHECK_EQ_INT(r.shifts[0].start, 0);
		CHECK_EQ_INT(r.shifts[0].n_breaks, 1);
		CHECK_EQ_INT(r.shifts[0].break_start[0], 1);
		CHECK_EQ_INT(r.shifts[0].paid, 4);
		CHECK_EQ_INT(r.shifts[0].agent, 0);
		for (unsigned t = 0; t < 6; t++)
			CHECK_EQ_INT(r.coverage[t], (unsigned)req2[t]);
		wfm_sched_result_free(&r);
	}
}

/* A day of 96 quarter hours: a two-peak requirement, 8-hour shifts with a
 * paid 15-minute break and an unpaid 30-minute meal, 4- and 6-hour part
 * time shifts. */
static double day_req[96];
static struct wfm_sched_template day_tp[3];
static struct wfm_sched_agent day_ag[60];

static void day_instance(struct wfm_sched_problem *p)
{
	for (unsigned t = 0; t < 96; t++) {
		double h = t / 4.0;
		double v = 0;
		if (h >= 7 && h < 22)
			v = 4 + 18 * exp(-0.5 * pow((h - 11) / 1.8, 2)) +
			    13 * exp(-0.5 * pow((h - 16) / 2.0, 2));
		day_req[t] = floor(v);
	}
	wfm_sched_template_init(&day_tp[0]);
	day_tp[0].first_start = 24; /* 06:00 */
	day_tp[0].last_start = 56;  /* 14:00 */
	day_tp[0].start_step = 2;
	day_tp[0].length = 34;      /* 8.5 h with a 30-minute meal */
	day_tp[0].n_breaks = 2;
	day_tp[0].breaks[0] = (struct wfm_sched_break){1, 6, 10, 1};
	day_tp[0].breaks[1] = (struct wfm_sched_break){2, 14, 20, 0};
	wfm_sched_template_init(&day_tp[1]);
	day_tp[1].first_start = 28;
	day_tp[1].last_start = 72;
	day_tp[1].start_step = 2;
	day_tp[1].length = 16;      /* 4 h */
	day_tp[1].cost_weight = 1.05;
	wfm_sched_template_init(&day_tp[2]);
	day_tp[2].first_start = 28;
	day_tp[2].last_start = 64;
	day_tp[2].start_step = 4;
	day_tp[2].length = 24;      /* 6 h with a break */
	day_tp[2].n_breaks = 1;
	day_tp[2].breaks[0] = (struct wfm_sched_break){1, 8, 14, 1};
	for (unsigned a = 0; a < 60; a++) {
		memset(&day_ag[a], 0, sizeof(day_ag[a]));
		day_ag[a].max_hours = 10;
	}
	memset(p, 0, sizeof(*p));
	p->n_intervals = 96;
	p->intervals_per_day = 96;
	p->interval_s = 900;
	p->required = day_req;
	p->templates = day_tp;
	p->n_templates = 3;
	p->agents = day_ag;
	p->n_agents = 60;
}

/* The fallback alone: feasible (full coverage where agents suffice) and
 * within 1.5x the optimum on the tiny instances and within 1.15x of CBC's
 * objective on the day. */
static void test_fallback_quality(void)
{
	struct wfm_sched_problem p;
	struct wfm_sched_template tp;
	struct wfm_sched_agent ag[3];
	struct wfm_sched_opts o;
	struct wfm_sched_result r, rc;
	opts_fallback(&o);
	inst1(&p, &tp, ag, 3);
	REQUIRE(wfm_schedule(&p, &o, &r) == 0);
	CHECK_EQ_INT(r.method, WFM_SCHED_FALLBACK);
	CHECK_EQ_INT(r.cbc_status, -ENOENT);
	CHECK_NEAR(r.under, 0, 0, 0);
	CHECK(r.objective <= 1.5 * 12 + 1e-9);
	CHECK(r.bound <= 12 + 1e-9);
	CHECK(r.gap >= 0 && r.gap < 1);
	fprintf(stderr, "  tiny: fallback %.2f (optimum 12), LP bound %.3f\n",
		r.objective, r.lp_bound);
	wfm_sched_result_free(&r);

	day_instance(&p);
	REQUIRE(wfm_schedule(&p, &o, &r) == 0);
	CHECK_NEAR(r.under, 0, 0, 0);
	CHECK_EQ_INT(r.short_intervals, 0);
	CHECK_EQ_INT(r.n_unassigned, 0);
	CHECK(r.gap >= 0 && r.gap < 0.25);
	for (unsigned t = 0; t < 96; t++)
		CHECK(r.coverage[t] >= day_req[t]);
	if (have_cbc()) {
		opts_cbc(&o);
		REQUIRE(wfm_schedule(&p, &o, &rc) == 0);
		CHECK_EQ_INT(rc.cbc_status, 0);
		CHECK(rc.method != WFM_SCHED_FALLBACK || rc.objective == r.objective);
		CHECK(rc.objective <= r.objective + 1e-9);
		CHECK(r.objective <= 1.15 * rc.objective);
		CHECK(rc.bound >= r.lp_bound - 1e-6);
		CHECK_NEAR(rc.under, 0, 0, 0);
		fprintf(stderr, "  day: %u patterns, fallback %.2f, CBC %.2f (%s, gap %.4f), LP bound %.2f\n",
			rc.n_patterns, r.objective, rc.objective,
			wfm_sched_method_name(rc.method), rc.gap, r.lp_bound);
		wfm_sched_result_free(&rc);
	} else {
		fprintf(stderr, "SKIP CBC comparison in test_fallback_quality: %s not installed\n", CBC);
	}
	wfm_sched_result_free(&r);
}

/* One agent available only 1..5 of 8; requirement 2 everywhere on 1..4:
 * the schedule gets one agent on 1..4; the report must say so. */
static void test_coverage_report(void)
{
	static const double req[8] = {0, 2, 2, 2, 2, 0, 0, 1};
	static const unsigned char av[8] = {0, 1, 1, 1, 1, 1, 0, 0};
	struct wfm_sched_template tp;
	struct wfm_sched_agent ag = {av, 0, 8, NULL, 0};
	struct wfm_sched_problem p = {8, 8, 3600, req, &tp, 1, &ag, 1};
	struct wfm_sched_opts o;
	struct wfm_sched_result r;
	wfm_sched_template_init(&tp);
	tp.last_start = 4;
	tp.length = 4;
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 0)
			opts_fallback(&o);
		else if (have_cbc())
			opts_cbc(&o);
		else
			break;
		REQUIRE(wfm_schedule(&p, &o, &r) == 0);
		REQUIRE(r.n_intervals == 8);
		static const unsigned want[8] = {0, 1, 1, 1, 1, 0, 0, 0};
		for (unsigned t = 0; t < 8; t++)
			CHECK_EQ_INT(r.coverage[t], want[t]);
		CHECK_NEAR(r.under, 5, 0, 0);       /* 4 x 1 + interval 7 */
		CHECK_NEAR(r.over, 0, 0, 0);
		CHECK_EQ_INT(r.short_intervals, 5);
		CHECK_EQ_INT(r.n_shifts, 1);
		CHECK_EQ_INT(r.n_unassigned, 0);
		CHECK_NEAR(r.agent_hours[0], 4, 1e-12, 0);
		wfm_sched_result_free(&r);
	}
}

/* Availability, skills, maximum and minimum hours in the assignment. */
static void test_assignment(void)
{
	double req[2 * 24];
	unsigned char morning[48], evening[48];
	static const unsigned sk7[] = {7};
	for (unsigned t = 0; t < 48; t++) {
		unsigned h = t % 24;
		req[t] = h >= 6 && h < 22 ? 2 : 0;
		morning[t] = h < 14;
		evening[t] = h >= 14;
	}
	struct wfm_sched_template tp[2];
	wfm_sched_template_init(&tp[0]);
	tp[0].first_start = 6;
	tp[0].last_start = 14;
	tp[0].length = 8;
	wfm_sched_template_init(&tp[1]);
	tp[1] = tp[0];
	tp[1].skill = 7;
	tp[1].cost_weight = 0.9; /* cheaper: used where someone has skill 7 */
	struct wfm_sched_agent ag[5] = {
		{morning, 0, 16, NULL, 0},
		{morning, 8, 16, sk7, 1},
		{evening, 0, 16, NULL, 0},
		{evening, 0, 8, NULL, 0},  /* at most one shift */
		{evening, 16, 16, NULL, 0}, /* wants two */
	};
	struct wfm_sched_problem p = {48, 24, 3600, req, tp, 2, ag, 5};
	struct wfm_sched_opts o;
	struct wfm_sched_result r;
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 0)
			opts_fallback(&o);
		else if (have_cbc())
			opts_cbc(&o);
		else
			break;
		REQUIRE(wfm_schedule(&p, &o, &r) == 0);
		double hours[5] = {0};
		unsigned days[5] = {0};
		for (size_t i = 0; i < r.n_shifts; i++) {
			const struct wfm_sched_shift *s = &r.shifts[i];
			if (s->agent == UINT_MAX)
				continue;
			REQUIRE(s->agent < 5);
			for (unsigned t = s->start; t < s->start + s->length; t++)
				CHECK(ag[s->agent].available[t]);
			if (tp[s->template_idx].skill == 7)
				CHECK_EQ_INT(s->agent, 1);
			hours[s->agent] += s->paid;
			CHECK(!(days[s->agent] & (1u << (s->start / 24))));
			days[s->agent] |= 1u << (s->start / 24);
		}
		for (unsigned a = 0; a < 5; a++) {
			CHECK(hours[a] <= ag[a].max_hours + 1e-9);
			CHECK_NEAR(r.agent_hours[a], hours[a], 1e-9, 0);
		}
		CHECK(hours[1] >= 8);
		CHECK(hours[4] >= 16);
		CHECK_EQ_INT(r.agents_below_min, 0);
		/* 2 agents x 16 h x 2 days are needed: 64 h, and available */
		CHECK_NEAR(r.under, 0, 0, 0);
		CHECK_EQ_INT(r.n_unassigned, 0);
		wfm_sched_result_free(&r);
	}

	/* Nobody can take an evening shift: reported, not hidden. */
	struct wfm_sched_agent only_morning = {morning, 0, 80, NULL, 0};
	static const double req_ev[24] = {[18] = 1, [19] = 1};
	struct wfm_sched_template late;
	wfm_sched_template_init(&late);
	late.first_start = 16;
	late.last_start = 16;
	late.length = 4;
	struct wfm_sched_problem p2 = {24, 24, 3600, req_ev, &late, 1, &only_morning, 1};
	opts_fallback(&o);
	REQUIRE(wfm_schedule(&p2, &o, &r) == 0);
	CHECK_EQ_INT(r.n_shifts, 0); /* the capacity rows already see it */
	CHECK_NEAR(r.under, 2, 0, 0);
	wfm_sched_result_free(&r);
}

/* Day rows: agent 0 is the only one who can work on day 0 (8 one-hour
 * intervals; 4-hour shifts at 0 or 4), agents 1 and 2 only on day 1.
 * Day 0 wants one agent all day: the per-interval limits allow a morning
 * and an evening shift, but one agent works one shift a day, so the model
 * must plan one shift there (4 agent-hours short), not two with one that
 * nobody can take. */
static void test_day_rows(void)
{
	static const double req[16] = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1};
	static unsigned char d0[16], d1[16];
	for (unsigned t = 0; t < 16; t++) {
		d0[t] = t < 8;
		d1[t] = t >= 8;
	}
	struct wfm_sched_template tp;
	wfm_sched_template_init(&tp);
	tp.last_start = 4;
	tp.start_step = 4;
	tp.length = 4;
	struct wfm_sched_agent ag[3] = {
		{d0, 0, 16, NULL, 0}, {d1, 0, 16, NULL, 0}, {d1, 0, 16, NULL, 0}};
	struct wfm_sched_problem p = {16, 8, 3600, req, &tp, 1, ag, 3};
	struct wfm_sched_opts o;
	struct wfm_sched_result r;
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 0)
			opts_fallback(&o);
		else if (have_cbc())
			opts_cbc(&o);
		else
			break;
		REQUIRE(wfm_schedule(&p, &o, &r) == 0);
		CHECK_EQ_INT(r.n_unassigned, 0);
		CHECK_EQ_INT(r.n_shifts, 2);
		CHECK_NEAR(r.under, 4, 0, 0);
		CHECK_EQ_INT(r.short_intervals, 4);
		CHECK_NEAR(r.agent_hours[0], 4, 1e-12, 0);
		wfm_sched_result_free(&r);
	}
}

static int dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;
	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n == 0;
}

/* A "solver" that never answers is killed at limit + grace; the fallback
 * comes back; the private directory is removed. */
static void test_time_limit(void)
{
	char dir[] = "/tmp/hl-wfm-test-XXXXXX";
	REQUIRE(mkdtemp(dir) != NULL);
	char fake[PATH_MAX], tmp[PATH_MAX];
	snprintf(fake, sizeof(fake), "%s/fake-cbc", dir);
	snprintf(tmp, sizeof(tmp), "%s/work", dir);
	REQUIRE(mkdir(tmp, 0700) == 0);
	FILE *f = fopen(fake, "w");
	REQUIRE(f != NULL);
	fputs("#!/bin/sh\nexec sleep 60\n", f);
	fclose(f);
	REQUIRE(chmod(fake, 0700) == 0);

	struct wfm_sched_problem p;
	struct wfm_sched_opts o;
	struct wfm_sched_result r;
	day_instance(&p);
	wfm_sched_opts_init(&o);
	o.cbc_path = fake;
	o.time_limit_s = 0.2;
	o.grace_s = 0.3;
	o.tmpdir = tmp;
	double t0 = mono();
	REQUIRE(wfm_schedule(&p, &o, &r) == 0);
	double dt = mono() - t0;
	CHECK_EQ_INT(r.cbc_status, -ETIME);
	CHECK_EQ_INT(r.method, WFM_SCHED_FALLBACK);
	CHECK_NEAR(r.under, 0, 0, 0);
	CHECK(dt < 30.0); /* not the fake's 60 s */
	CHECK(dir_is_empty(tmp));
	wfm_sched_result_free(&r);

	/* the real CBC with a tiny limit on a week: an answer, not a hang */
	if (have_cbc()) {
		static double wreq[7 * 96];
		static struct wfm_sched_agent wag[150];
		for (unsigned d = 0; d < 7; d++)
			for (unsigned t = 0; t < 96; t++)
				wreq[d * 96 + t] = day_req[t] * (d >= 5 ? 0.6 : 1.0) * 2.2;
		for (unsigned a = 0; a < 150; a++) {
			memset(&wag[a], 0, sizeof(wag[a]));
			wag[a].max_hours = 40;
		}
		p.n_intervals = 7 * 96;
		p.required = wreq;
		p.agents = wag;
		p.n_agents = 150;
		o.cbc_path = CBC;
		o.time_limit_s = 0.5;
		o.grace_s = 2;
		t0 = mono();
		REQUIRE(wfm_schedule(&p, &o, &r) == 0);
		dt = mono() - t0;
		CHECK(r.cbc_status == 0 || r.cbc_status == -ETIME || r.cbc_status == -EIO);
		CHECK(r.gap >= 0 && r.gap < 1);
		CHECK(r.objective <= r.fallback_objective + 1e-9);
		CHECK(dir_is_empty(tmp));
		fprintf(stderr, "  week, 0.5 s limit: %u patterns, %s (cbc_status %d), "
			"objective %.1f, fallback %.1f, gap %.4f, %.2f s\n",
			r.n_patterns, wfm_sched_method_name(r.method), r.cbc_status,
			r.objective, r.fallback_objective, r.gap, dt);
		wfm_sched_result_free(&r);
	}
	unlink(fake);
	rmdir(tmp);
	rmdir(dir);
}

static void test_missing_cbc(void)
{
	struct wfm_sched_problem p;
	struct wfm_sched_template tp;
	struct wfm_sched_agent ag[3];
	struct wfm_sched_opts o;
	struct wfm_sched_result r;
	inst1(&p, &tp, ag, 3);
	wfm_sched_opts_init(&o);
	o.cbc_path = "/nonexistent/cbc";
	REQUIRE(wfm_schedule(&p, &o, &r) == 0);
	CHECK_EQ_INT(r.cbc_status, -ENOENT);
	CHECK_EQ_INT(r.method, WFM_SCHED_FALLBACK);
	CHECK_NEAR(r.under, 0, 0, 0);
	wfm_sched_result_free(&r);
	wfm_sched_result_free(NULL);
}

static void test_einval(void)
{
	struct wfm_sched_problem p;
	struct wfm_sched_template tp;
	struct wfm_sched_agent ag[3];
	struct wfm_sched_opts o;
	struct wfm_sched_result r;
	double bad[8];
	opts_fallback(&o);
	inst1(&p, &tp, ag, 3);
	CHECK_EQ_INT(wfm_schedule(NULL, &o, &r), -EINVAL);
	CHECK_EQ_INT(wfm_schedule(&p, &o, NULL), -EINVAL);
#define BAD(stmt)                                                      \
	do {                                                           \
		inst1(&p, &tp, ag, 3);                                 \
		opts_fallback(&o);                                     \
		stmt;                                                  \
		CHECK_EQ_INT(wfm_schedule(&p, &o, &r), -EINVAL);       \
	} while (0)
	BAD(p.n_intervals = 0);
	BAD(p.intervals_per_day = 3);
	BAD(p.interval_s = 0);
	BAD(p.required = NULL);
	BAD(memcpy(bad, req1, sizeof(bad)); bad[3] = -1; p.required = bad);
	BAD(memcpy(bad, req1, sizeof(bad)); bad[3] = NAN; p.required = bad);
	BAD(p.n_templates = 0);
	BAD(tp.length = 0);
	BAD(tp.start_step = 0);
	BAD(tp.first_start = 5; tp.last_start = 4);
	BAD(tp.last_start = 8);
	BAD(tp.length = WFM_SCHED_MAX_LENGTH + 1);
	BAD(tp.cost_weight = 0);
	BAD(tp.n_breaks = 1; tp.breaks[0].len = 1; tp.breaks[0].earliest = 0;
	    tp.breaks[0].latest = 4);
	BAD(tp.n_breaks = 1; tp.breaks[0].len = 4);
	BAD(tp.n_breaks = WFM_SCHED_MAX_BREAKS + 1);
	BAD(ag[1].min_hours = 9);
	BAD(ag[1].max_hours = NAN);
	BAD(ag[1].n_skills = 1);
	BAD(p.agents = NULL);
	BAD(o.time_limit_s = 0);
	BAD(o.over_cost = -1);
	BAD(o.grace_s = INFINITY);
	/* a template that fits nowhere in the horizon */
	BAD(tp.first_start = 6; tp.last_start = 6);
#undef BAD
	inst1(&p, &tp, ag, 3);
	CHECK_EQ_INT(wfm_schedule(&p, NULL, &r), 0); /* NULL options: defaults */
	wfm_sched_result_free(&r);
	CHECK_EQ_STR(wfm_sched_method_name(WFM_SCHED_FALLBACK), "fallback");
	CHECK_EQ_STR(wfm_sched_method_name((enum wfm_sched_method)9), "?");
}

int main(void)
{
	TEST_RUN(test_tiny_optimum_cbc);
	TEST_RUN(test_break_placement);
	TEST_RUN(test_fallback_quality);
	TEST_RUN(test_coverage_report);
	TEST_RUN(test_assignment);
	TEST_RUN(test_day_rows);
	TEST_RUN(test_time_limit);
	TEST_RUN(test_missing_cbc);
	TEST_RUN(test_einval);
	TEST_MAIN_END();
}
