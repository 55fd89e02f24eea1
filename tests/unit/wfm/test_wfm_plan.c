/*
 * test_wfm_plan.c: unit tests of src/wfm/wfm_plan.c (the patience
 * estimate, staffing per interval, adherence), run from test_wfm's main()
 * through wfm_plan_tests() (wfm_tests.h).
 *
 * The patience estimator is checked by hand and on simulated M/M/n+M
 * queues (it must recover the patience it was given); staffing per
 * interval against wfm_staff() one interval at a time and the Call Centre
 * Helper example; adherence against time lines worked by hand.
 */
#include "wfm/wfm.h"
#include "test.h"
#include "wfm_tests.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static uint64_t pl_state = 7;

static double pl_unif(void)
{
	uint64_t z = (pl_state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}

static double pl_exp(double mean)
{
	return -mean * log(pl_unif());
}

static void test_patience_by_hand(void)
{
	/* 3 abandoned; waits: 10 + 20 + 30 (abandoned) + 40 (answered) */
	CHECK_NEAR(wfm_patience_mle(100, 3), 100.0 / 3, 1e-12, 0);
	CHECK(isinf(wfm_patience_mle(50, 0)));
	CHECK(isnan(wfm_patience_mle(-1, 2)));
	CHECK(isnan(wfm_patience_mle(NAN, 2)));
}

/*
 * A single-server-per-caller view is enough for the estimator: each
 * caller's offered wait V and patience P are independent; the caller
 * waits min(V, P) and abandons when P < V. With exponential P of mean 90 s
 * and any independent V (here exponential of mean 40 s, and a fixed 60 s),
 * the estimator must recover 90 s.
 */
static void test_patience_recovers_mean(void)
{
	for (int kind = 0; kind < 2; kind++) {
		double total = 0, ab = 0;
		for (int i = 0; i < 400000; i++) {
			double v = kind ? 60.0 : pl_exp(40), p = pl_exp(90);
			total += v < p ? v : p;
			ab += p < v;
		}
		CHECK_NEAR(wfm_patience_mle(total, ab), 90.0, 0, 0.02);
	}
}

static void test_staff_intervals(void)
{
	struct wfm_plan_opts o;
	wfm_plan_opts_init(&o);
	o.interval_s = 1800;
	o.shrinkage = 0.3;
	/* Call Centre Helper: 100 calls per half hour, AHT 180 s, 80% in 20 s:
	 * 14 agents, 20 scheduled; no calls: nobody; overload beyond the cap:
	 * unreachable. */
	double calls[] = {100, 0, 50, 1e7};
	double aht[] = {180, 180, 300, 180};
	long ag[4], sc[4];
	double sl[4];
	o.max_agents = 1000;
	REQUIRE(wfm_staff_intervals(&o, calls, aht, 4, ag, sc, sl) == 0);
	CHECK_EQ_INT(ag[0], 14);
	CHECK_EQ_INT(sc[0], 20);
	CHECK(sl[0] >= 0.8);
	CHECK_EQ_INT(ag[1], 0);
	CHECK_EQ_INT(sc[1], 0);
	CHECK(isnan(sl[1]));
	CHECK_EQ_INT(ag[3], -1);
	CHECK_EQ_INT(sc[3], -1);
	/* the third interval as wfm_staff() staffs it alone */
	struct wfm_load l = {.model = WFM_ERLANG_C, .calls = 50, .period_s = 1800, .aht_s = 300,
			     .sl_seconds = 20};
	struct wfm_target t;
	wfm_target_init(&t);
	t.min_service_level = 0.8;
	long n;
	struct wfm_result r;
	REQUIRE(wfm_staff(&l, &t, &n, &r) == 0);
	CHECK_EQ_INT(ag[2], n);
	CHECK_NEAR(sl[2], r.service_level, 1e-15, 0);

	/* Erlang A with a finite patience needs no more agents than C; with
	 * an infinite one it is C. */
	o.model = WFM_ERLANG_A;
	o.patience_s = 60;
	long ag_a[4];
	REQUIRE(wfm_staff_intervals(&o, calls, aht, 3, ag_a, NULL, NULL) == 0);
	CHECK(ag_a[0] <= ag[0] && ag_a[2] <= ag[2]);
	o.patience_s = INFINITY;
	REQUIRE(wfm_staff_intervals(&o, calls, aht, 3, ag_a, NULL, NULL) == 0);
	CHECK_EQ_INT(ag_a[0], 14);

	aht[0] = 0;
	CHECK_EQ_INT(wfm_staff_intervals(&o, calls, aht, 1, ag, NULL, NULL), -EINVAL);
	o.target_sl = 1;
	CHECK_EQ_INT(wfm_staff_intervals(&o, calls, aht, 0, ag, NULL, NULL), -EINVAL);
}

/*
 * Four 15-minute intervals from t0: off, work, break, work. The agent is
 * offline until 10 minutes in, available at 0:10 (5 minutes early: out of
 * adherence while off), busy at 0:20, away at 0:35 (5 minutes late for the
 * break at 0:30), available at 0:50 (5 minutes late back), and now is
 * 0:55.
 */
static void test_adherence_by_hand(void)
{
	const int64_t t0 = 1700000000000LL, M = 60000;
	unsigned char sched[] = {WFM_ADH_OFF, WFM_ADH_WORK, WFM_ADH_BREAK, WFM_ADH_WORK};
	struct wfm_adh_change ch[] = {
		{t0 - 3600000, WFM_ADH_OFFLINE}, /* before the day: starting state */
		{t0 + 10 * M, WFM_ADH_AVAILABLE},
		{t0 + 20 * M, WFM_ADH_BUSY},
		{t0 + 35 * M, WFM_ADH_AWAY},
		{t0 + 50 * M, WFM_ADH_AVAILABLE},
	};
	struct wfm_adh_interval iv[4];
	struct wfm_adh_total tot;
	REQUIRE(wfm_adherence(sched, 4, 900, t0, t0 + 55 * M, WFM_ADH_AVAILABLE, ch, 5, iv, &tot) == 0);
	/* 0:00-0:15 off: offline 10 min in, available 5 min out */
	CHECK_NEAR(iv[0].elapsed_s, 900, 1e-9, 0);
	CHECK_NEAR(iv[0].in_s, 600, 1e-9, 0);
	CHECK_EQ_INT(iv[0].dominant, WFM_ADH_OFFLINE);
	/* 0:15-0:30 work: available then busy, all in */
	CHECK_NEAR(iv[1].in_s, 900, 1e-9, 0);
	CHECK_EQ_INT(iv[1].dominant, WFM_ADH_BUSY);
	/* 0:30-0:45 break: busy 5 min (out), away 10 min (in) */
	CHECK_NEAR(iv[2].in_s, 600, 1e-9, 0);
	CHECK_EQ_INT(iv[2].dominant, WFM_ADH_AWAY);
	/* 0:45-0:55 work (10 min elapsed): away 5 min (out), available 5 (in) */
	CHECK_NEAR(iv[3].elapsed_s, 600, 1e-9, 0);
	CHECK_NEAR(iv[3].in_s, 300, 1e-9, 0);
	/* scheduled span: 15 + 15 + 10 min, in: 15 + 10 + 5 */
	CHECK_NEAR(tot.scheduled_s, 2400, 1e-9, 0);
	CHECK_NEAR(tot.scheduled_in_s, 1800, 1e-9, 0);
	CHECK_NEAR(tot.elapsed_s, 3300, 1e-9, 0);
	CHECK_NEAR(tot.in_s, 2400, 1e-9, 0);
	CHECK_EQ_INT(tot.current, WFM_ADH_AVAILABLE);

	/* now before the day: nothing elapsed, no dominant state */
	REQUIRE(wfm_adherence(sched, 4, 900, t0, t0 - 1, WFM_ADH_OFFLINE, NULL, 0, iv, &tot) == 0);
	CHECK_EQ_INT(iv[0].dominant, -1);
	CHECK_NEAR(tot.scheduled_s, 0, 0, 0);

	/* a change exactly at an interval boundary counts from there */
	struct wfm_adh_change c2[] = {{t0 + 15 * M, WFM_ADH_AVAILABLE}};
	REQUIRE(wfm_adherence(sched, 2, 900, t0, t0 + 30 * M, WFM_ADH_OFFLINE, c2, 1, iv, &tot) == 0);
	CHECK_NEAR(iv[0].in_s, 900, 1e-9, 0);
	CHECK_NEAR(iv[1].in_s, 900, 1e-9, 0);

	/* out of order, bad states */
	struct wfm_adh_change bad[] = {{t0 + 2, WFM_ADH_AWAY}, {t0 + 1, WFM_ADH_AWAY}};
	CHECK_EQ_INT(wfm_adherence(sched, 4, 900, t0, t0 + M, WFM_ADH_OFFLINE, bad, 2, iv, &tot), -EINVAL);
	unsigned char bs[] = {7};
	CHECK_EQ_INT(wfm_adherence(bs, 1, 900, t0, t0 + M, WFM_ADH_OFFLINE, NULL, 0, iv, &tot), -EINVAL);
}

static void test_adherence_rule(void)
{
	CHECK(wfm_adh_in(WFM_ADH_WORK, WFM_ADH_AVAILABLE));
	CHECK(wfm_adh_in(WFM_ADH_WORK, WFM_ADH_BUSY));
	CHECK(wfm_adh_in(WFM_ADH_WORK, WFM_ADH_WRAPUP));
	CHECK(!wfm_adh_in(WFM_ADH_WORK, WFM_ADH_AWAY));
	CHECK(!wfm_adh_in(WFM_ADH_WORK, WFM_ADH_OFFLINE));
	CHECK(wfm_adh_in(WFM_ADH_BREAK, WFM_ADH_AWAY));
	CHECK(wfm_adh_in(WFM_ADH_OFF, WFM_ADH_OFFLINE));
	CHECK(!wfm_adh_in(WFM_ADH_BREAK, WFM_ADH_BUSY));
	CHECK(!wfm_adh_in(WFM_ADH_OFF, WFM_ADH_AVAILABLE));
}

int wfm_plan_tests(int *passed, int *failed)
{
	TEST_RUN(test_patience_by_hand);
	TEST_RUN(test_patience_recovers_mean);
	TEST_RUN(test_staff_intervals);
	TEST_RUN(test_adherence_by_hand);
	TEST_RUN(test_adherence_rule);
	*passed += test_passed;
	*failed += test_failed;
	return test_failed;
}
