/*
 * test_wfm_forecast.c: unit tests of src/wfm/wfm_forecast.c, run from
 * test_wfm's main() through wfm_forecast_tests() (wfm_tests.h).
 *
 * Every method is checked on synthetic series whose structure makes the
 * right answer known: a pure double-seasonal series must be forecast (to
 * rounding) by Holt-Winters, a pure weekly one by the seasonal naive
 * forecast, a weekly pattern plus noise that cancels over an even number
 * of weeks by the historical average. WAPE and MASE are checked on small
 * examples worked by hand; the backtest must pick the method each series
 * was built to favour; holidays masked out of the history must not
 * disturb the forecast; overrides and the intraday re-forecast must do
 * exactly what they say.
 */
#include "wfm/wfm.h"
#include "test.h"
#include "wfm_tests.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define DAY WFM_FC_DAY
#define WEEK WFM_FC_WEEK

/* A small deterministic generator for the test series (splitmix64). */
static uint64_t tr_state;

static double tr_unif(void)
{
	uint64_t z = (tr_state += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	z ^= z >> 31;
	return (double)(z >> 11) * 0x1.0p-53;
}

static double tr_normal(void)
{
	double u = tr_unif(), v = tr_unif();
	return sqrt(-2.0 * log1p(-u)) * cos(2.0 * M_PI * v);
}

/* level + daily curve + weekday effect + a fixed random weekly wiggle. */
static double *pure_double_seasonal(size_t n)
{
	double wiggle[WEEK];
	tr_state = 42;
	for (size_t j = 0; j < WEEK; j++)
		wiggle[j] = 5.0 * tr_unif();
	double *y = malloc(n * sizeof(double));
	for (size_t t = 0; t < n; t++) {
		size_t i = t % DAY, d = (t % WEEK) / DAY;
		double daily = 40.0 * sin(M_PI * (double)i / DAY);
		double weekday = d >= 5 ? -25.0 : 3.0 * (double)d;
		y[t] = 100.0 + daily + weekday + wiggle[t % WEEK];
	}
	return y;
}

static double max_abs_diff(const double *a, const double *b, size_t n)
{
	double m = 0.0;
	for (size_t i = 0; i < n; i++)
		if (fabs(a[i] - b[i]) > m)
			m = fabs(a[i] - b[i]);
	return m;
}

static void test_holt_winters_exact_on_double_seasonal(void)
{
	size_t n = 6 * WEEK, h = 2 * WEEK;
	double *y = pure_double_seasonal(n + h);
	double *f = malloc(h * sizeof(double));
	CHECK_EQ_INT(wfm_forecast(WFM_FC_HOLT_WINTERS, y, n, NULL, f, h), 0);
	CHECK(max_abs_diff(f, y + n, h) < 1e-9);
	/* with fixed (large) smoothing parameters too: zero errors, no drift */
	struct wfm_fc_opts o;
	wfm_fc_opts_init(&o);
	o.hw_alpha = 0.5;
	o.hw_gamma_day = 0.3;
	o.hw_gamma_week = 0.3;
	CHECK_EQ_INT(wfm_forecast(WFM_FC_HOLT_WINTERS, y, n, &o, f, h), 0);
	CHECK(max_abs_diff(f, y + n, h) < 1e-9);
	/* history starting mid-week on another weekday: seasons are relative */
	CHECK_EQ_INT(wfm_forecast(WFM_FC_HOLT_WINTERS, y + 211, n - 211, NULL, f,
				  h - 211),
		     0);
	CHECK(max_abs_diff(f, y + n, h - 211) < 1e-9);
	/* one week is not enough */
	CHECK_EQ_INT(wfm_forecast(WFM_FC_HOLT_WINTERS, y, WEEK + 5, NULL, f, h),
		     -ENODATA);
	free(f);
	free(y);
}

static void test_seasonal_naive_exact_on_weekly(void)
{
	size_t n = 3 * WEEK + 17, h = 2 * WEEK + 5;
	double *y = malloc((n + h) * sizeof(double));
	tr_state = 7;
	for (size_t t = 0; t < WEEK; t++)
		y[t] = floor(50.0 * tr_unif());
	for (size_t t = WEEK; t < n + h; t++)
		y[t] = y[t - WEEK];
	double *f = malloc(h * sizeof(double));
	CHECK_EQ_INT(wfm_forecast(WFM_FC_SEASONAL_NAIVE, y, n, NULL, f, h), 0);
	CHECK(max_abs_diff(f, y + n, h) == 0.0);
	/* an arbitrary weekly pattern is also a (degenerate) double-seasonal
	 * series, so Holt-Winters gets it too, and so does the average */
	CHECK_EQ_INT(wfm_forecast(WFM_FC_HOLT_WINTERS, y, n, NULL, f, h), 0);
	CHECK(max_abs_diff(f, y + n, h) < 1e-9);
	CHECK_EQ_INT(wfm_forecast(WFM_FC_HIST_AVERAGE, y, n, NULL, f, h), 0);
	CHECK(max_abs_diff(f, y + n, h) < 1e-9);
	CHECK_EQ_INT(wfm_forecast(WFM_FC_SEASONAL_NAIVE, y, WEEK - 1, NULL, f, h),
		     -ENODATA);
	free(f);
	free(y);
}

/* Weekly pattern + e on even weeks, - e on odd weeks: over an even number
 * of weeks the average is the pattern exactly, the naive forecast is off by
 * e (it repeats the last, odd, week). */
static void test_historical_average(void)
{
	size_t n = 6 * WEEK, h = WEEK;
	double pat[WEEK], e[WEEK];
	tr_state = 9;
	for (size_t j = 0; j < WEEK; j++) {
		pat[j] = 20.0 + 10.0 * tr_unif();
		e[j] = 5.0 * tr_unif();
	}
	double *y = malloc(n * sizeof(double)), f[WEEK];
	for (size_t t = 0; t < n; t++)
		y[t] = pat[t % WEEK] + ((t / WEEK) % 2 ? -e[t % WEEK] : e[t % WEEK]);
	CHECK_EQ_INT(wfm_forecast(WFM_FC_HIST_AVERAGE, y, n, NULL, f, h), 0);
	CHECK(max_abs_diff(f, pat, h) < 1e-12);
	CHECK_EQ_INT(wfm_forecast(WFM_FC_SEASONAL_NAIVE, y, n, NULL, f, h), 0);
	CHECK_NEAR(f[3], pat[3] - e[3], 1e-12, 0);
	/* the last 3 weeks only: weeks 3, 4, 5 = (-e, +e, -e) -> pat - e/3 */
	struct wfm_fc_opts o;
	wfm_fc_opts_init(&o);
	o.hist_weeks = 3;
	CHECK_EQ_INT(wfm_forecast(WFM_FC_HIST_AVERAGE, y, n, &o, f, h), 0);
	CHECK_NEAR(f[100], pat[100] - e[100] / 3, 1e-12, 0);
	free(y);
}

/* A holiday in the history, masked out, does not disturb any method; an
 * override writes the next holiday into the horizon. */
static void test_holidays_and_overrides(void)
{
	size_t n = 5 * WEEK, h = WEEK;
	double *truth = pure_double_seasonal(n + h);
	double *y = malloc(n * sizeof(double)), f[WEEK];
	unsigned char *ex = calloc(n, 1);
	memcpy(y, truth, n * sizeof(double));
	/* day 2 of the last week and day 4 of week 2 were holidays at 30% */
	size_t hol[2] = {4 * WEEK + 2 * DAY, 2 * WEEK + 4 * DAY};
	for (int k = 0; k < 2; k++)
		for (size_t i = 0; i < DAY; i++) {
			y[hol[k] + i] *= 0.3;
			ex[hol[k] + i] = 1;
		}
	y[3 * WEEK + 5] = NAN; /* a missing value, treated as excluded */
	struct wfm_fc_opts o;
	wfm_fc_opts_init(&o);
	for (int m = 0; m < WFM_FC_METHODS; m++) {
		o.exclude = NULL;
		CHECK_EQ_INT(wfm_forecast((enum wfm_fc_method)m, y, n, &o, f, h), 0);
		double unmasked = max_abs_diff(f, truth + n, h);
		CHECK(unmasked > 1.0); /* the holiday leaks without the mask */
		o.exclude = ex;
		CHECK_EQ_INT(wfm_forecast((enum wfm_fc_method)m, y, n, &o, f, h), 0);
		CHECK(max_abs_diff(f, truth + n, h) < 1e-9);
	}
	/* Next Wednesday is a holiday at 40%, and Friday afternoon has a known
	 * profile. */
	double prof[4] = {1, 2, 3, 4};
	struct wfm_fc_override ov[2] = {
		{.start = 2 * DAY, .len = DAY, .profile = NULL, .scale = 0.4},
		{.start = 4 * DAY + 60, .len = 4, .profile = prof, .scale = 0}};
	o.overrides = ov;
	o.n_overrides = 2;
	CHECK_EQ_INT(wfm_forecast(WFM_FC_HOLT_WINTERS, y, n, &o, f, h), 0);
	CHECK_NEAR(f[2 * DAY + 10], 0.4 * truth[n + 2 * DAY + 10], 1e-9, 0);
	CHECK_NEAR(f[2 * DAY - 1], truth[n + 2 * DAY - 1], 1e-9, 0);
	CHECK_NEAR(f[3 * DAY], truth[n + 3 * DAY], 1e-9, 0);
	CHECK(f[4 * DAY + 60] == 1.0 && f[4 * DAY + 63] == 4.0);
	CHECK_NEAR(f[4 * DAY + 64], truth[n + 4 * DAY + 64], 1e-9, 0);
	free(ex);
	free(y);
	free(truth);
}

/* Handle times: NAN where an interval had no calls. */
static void test_handle_time_with_gaps(void)
{
	size_t n = 2 * WEEK, h = WEEK;
	double *y = malloc(n * sizeof(double)), f[WEEK];
	for (size_t t = 0; t < n; t++)
		y[t] = 200.0 + (double)(t % WEEK) / 10.0;
	y[WEEK + 7] = NAN; /* no calls: fall back one more week */
	CHECK_EQ_INT(wfm_forecast(WFM_FC_SEASONAL_NAIVE, y, n, NULL, f, h), 0);
	CHECK(f[7] == y[7]);
	y[7] = NAN; /* no data for that interval of the week at all */
	CHECK_EQ_INT(wfm_forecast(WFM_FC_SEASONAL_NAIVE, y, n, NULL, f, h),
		     -ENODATA);
	free(y);
}

static void test_wape_mase_by_hand(void)
{
	double a[4] = {10, 20, 30, 40}, f[4] = {12, 18, 33, 40};
	/* |e| = 2, 2, 3, 0: WAPE = 7 / 100 */
	CHECK_NEAR(wfm_wape(a, f, 4, NULL), 0.07, 1e-15, 0);
	unsigned char ex[4] = {0, 0, 1, 0};
	/* without the third: 4 / 70 */
	CHECK_NEAR(wfm_wape(a, f, 4, ex), 4.0 / 70.0, 1e-15, 0);
	/* training series 1, 3, 2, 6, 4; lag 1 differences 2, 1, 4, 2 -> 2.25;
	 * mean |e| = 7 / 4 -> MASE = 1.75 / 2.25 = 7 / 9 */
	double tr[5] = {1, 3, 2, 6, 4};
	double sc = wfm_mase_scale(tr, 5, 1, NULL);
	CHECK_NEAR(sc, 2.25, 1e-15, 0);
	CHECK_NEAR(wfm_mase(a, f, 4, NULL, sc), 7.0 / 9.0, 1e-15, 0);
	/* lag 2: differences 1, 3, 2 -> 2 */
	CHECK_NEAR(wfm_mase_scale(tr, 5, 2, NULL), 2.0, 1e-15, 0);
	/* excluding tr[3] leaves lag-1 pair (1,3), (3,2) -> 1.5 */
	unsigned char ex5[5] = {0, 0, 0, 1, 0};
	CHECK_NEAR(wfm_mase_scale(tr, 5, 1, ex5), 1.5, 1e-15, 0);
	double z[4] = {0, 0, 0, 0};
	CHECK(isnan(wfm_wape(z, f, 4, NULL)));
	CHECK(isinf(wfm_mase(a, f, 4, NULL, 0.0)));
	CHECK(wfm_mase(a, a, 4, NULL, 0.0) == 0.0);
}

/* Backtest per horizon on a case worked by hand: a pure weekly pattern
 * whose last week jumps by +10 everywhere. Seasonal naive from the origin
 * n - 672 is off by exactly 10 at every step. */
static void test_backtest_by_hand(void)
{
	size_t n = 4 * WEEK;
	double *y = malloc(n * sizeof(double));
	double sum_last = 0.0;
	for (size_t t = 0; t < n; t++) {
		y[t] = 20.0 + (double)((t % WEEK) % 13) + (t >= 3 * WEEK ? 10.0 : 0.0);
		if (t >= 3 * WEEK)
			sum_last += y[t];
	}
	double *wape = malloc(WEEK * sizeof(double)), *mase = malloc(WEEK * sizeof(double));
	double wa, ma;
	CHECK_EQ_INT(wfm_backtest(WFM_FC_SEASONAL_NAIVE, y, n, NULL, WEEK, 1, 0, wape,
				  mase, &wa, &ma),
		     0);
	CHECK_NEAR(wa, 10.0 * WEEK / sum_last, 1e-12, 0);
	CHECK_NEAR(wape[5], 10.0 / y[3 * WEEK + 5], 1e-12, 0);
	/* the history before the origin is exactly weekly: scale 0 */
	CHECK(isinf(ma) && isinf(mase[0]));
	/* Two origins 96 apart, horizon 96, both inside the last week: both
	 * off by 10. Before origin o the lag-672 pairs are i in [672, o), of
	 * which those in [3 * 672, o) differ by 10: scale = 10 (o - 2016) /
	 * (o - 672), and MASE = 10 / scale averaged over the origins. */
	CHECK_EQ_INT(wfm_backtest(WFM_FC_SEASONAL_NAIVE, y, n, NULL, DAY, 2, DAY,
				  wape, mase, &wa, &ma),
		     0);
	size_t o1 = n - 2 * DAY, o2 = n - DAY;
	double s1 = 10.0 * (double)(o1 - 3 * WEEK) / (double)(o1 - WEEK);
	double s2 = 10.0 * (double)(o2 - 3 * WEEK) / (double)(o2 - WEEK);
	CHECK_NEAR(mase[0], (10.0 / s1 + 10.0 / s2) / 2.0, 1e-12, 0);
	CHECK_NEAR(ma, (10.0 / s1 + 10.0 / s2) / 2.0, 1e-12, 0);
	/* errors */
	CHECK_EQ_INT(wfm_backtest(WFM_FC_SEASONAL_NAIVE, y, n, NULL, 0, 1, 0, NULL,
				  NULL, NULL, NULL),
		     -EINVAL);
	CHECK_EQ_INT(wfm_backtest(WFM_FC_SEASONAL_NAIVE, y, n, NULL, WEEK, 4, WEEK,
				  NULL, NULL, NULL, NULL),
		     -ENODATA);
	free(wape);
	free(mase);
	free(y);
}

/* Series built to favour each method; the backtest must pick it. */
static void test_backtest_picks_the_right_method(void)
{
	size_t n = 16 * WEEK;
	double *y = malloc(n * sizeof(double));
	double pat[WEEK];
	struct wfm_fc_choice c;
	tr_state = 11;
	for (size_t j = 0; j < WEEK; j++)
		pat[j] = 60.0 + 30.0 * sin(M_PI * (double)(j % DAY) / DAY) +
			 10.0 * tr_unif();

	/* (a) a seasonal random walk: each interval of the week moves by a
	 * large step from one week to the next, independently. The last week
	 * is the best predictor. */
	for (size_t t = 0; t < n; t++)
		y[t] = t < WEEK ? pat[t] : y[t - WEEK] + 8.0 * tr_normal();
	CHECK_EQ_INT(wfm_fc_select(y, n, NULL, WEEK, 3, DAY, &c), 0);
	CHECK_EQ_INT(c.method, WFM_FC_SEASONAL_NAIVE);
	CHECK(c.wape[WFM_FC_SEASONAL_NAIVE] < c.wape[WFM_FC_HIST_AVERAGE]);

	/* (b) a stable weekly pattern with independent noise, 40 weeks of it:
	 * averaging the weeks removes the noise, the naive forecast doubles its
	 * variance, and Holt-Winters keeps some of it (its smoothing follows
	 * the noise a little, and its start from the first four weeks fades
	 * only slowly). */
	size_t nb = 40 * WEEK;
	double *yb = malloc(nb * sizeof(double));
	for (size_t t = 0; t < nb; t++)
		yb[t] = pat[t % WEEK] + 15.0 * tr_normal();
	CHECK_EQ_INT(wfm_fc_select(yb, nb, NULL, WEEK, 3, WEEK, &c), 0);
	free(yb);
	CHECK_EQ_INT(c.method, WFM_FC_HIST_AVERAGE);
	CHECK(c.wape[WFM_FC_HIST_AVERAGE] < c.wape[WFM_FC_SEASONAL_NAIVE]);

	/* (c) a double-seasonal pattern whose level wanders (a random walk per
	 * interval): only a model with a level follows it. */
	double level = 0.0;
	for (size_t t = 0; t < n; t++) {
		level += 0.6 * tr_normal();
		y[t] = pat[t % WEEK] + level + 2.0 * tr_normal();
	}
	CHECK_EQ_INT(wfm_fc_select(y, n, NULL, WEEK, 3, DAY, &c), 0);
	CHECK_EQ_INT(c.method, WFM_FC_HOLT_WINTERS);
	CHECK(c.wape[WFM_FC_HOLT_WINTERS] < c.wape[WFM_FC_SEASONAL_NAIVE]);
	CHECK(c.wape[WFM_FC_HOLT_WINTERS] < c.wape[WFM_FC_HIST_AVERAGE]);
	for (int m = 0; m < WFM_FC_METHODS; m++)
		CHECK_EQ_INT(c.status[m], 0);

	/* Too little history for Holt-Winters' first origin: it is skipped
	 * and reported, the others still compete. */
	CHECK_EQ_INT(wfm_fc_select(y, 2 * WEEK + DAY, NULL, DAY, 2, DAY, &c), 0);
	CHECK_EQ_INT(c.status[WFM_FC_HOLT_WINTERS], -ENODATA);
	CHECK(c.method != WFM_FC_HOLT_WINTERS);
	CHECK_EQ_STR(wfm_fc_method_name(WFM_FC_HOLT_WINTERS), "holt_winters");
	free(y);
}

/* Parameters: chosen from the grid (docs/WFM.md) unless given, then used
 * as given; bad ones refused; the floor applies. */
static void test_hw_params_and_bad_input(void)
{
	size_t n = 3 * WEEK;
	double *y = pure_double_seasonal(n), f[4], a, gd, gw;
	CHECK_EQ_INT(wfm_fc_hw_params(y, n, NULL, &a, &gd, &gw), 0);
	CHECK(a == 0.01 || a == 0.05 || a == 0.2);
	CHECK(gd == 0.02 || gd == 0.1);
	CHECK(gw == 0.02 || gw == 0.1);
	struct wfm_fc_opts o;
	wfm_fc_opts_init(&o);
	o.hw_alpha = 0.3;
	CHECK_EQ_INT(wfm_fc_hw_params(y, n, &o, &a, &gd, &gw), 0);
	CHECK(a == 0.3 && (gd == 0.02 || gd == 0.1));
	o.hw_gamma_week = 1.5;
	CHECK_EQ_INT(wfm_forecast(WFM_FC_HOLT_WINTERS, y, n, &o, f, 4), -EINVAL);
	CHECK_EQ_INT(wfm_forecast((enum wfm_fc_method)7, y, n, NULL, f, 4), -EINVAL);
	CHECK_EQ_INT(wfm_forecast(WFM_FC_HIST_AVERAGE, NULL, n, NULL, f, 4), -EINVAL);
	/* floor: a series that dips below zero is forecast at 0 there */
	for (size_t t = 0; t < n; t++)
		y[t] -= 120.0;
	double g[WEEK];
	CHECK_EQ_INT(wfm_forecast(WFM_FC_SEASONAL_NAIVE, y, n, NULL, g, WEEK), 0);
	int clipped = 0;
	for (size_t k = 0; k < WEEK; k++) {
		CHECK(g[k] >= 0.0);
		clipped += g[k] == 0.0;
	}
	CHECK(clipped > 0);
	free(y);
}

static void test_reforecast_intraday(void)
{
	double fc[8] = {10, 10, 10, 10, 20, 20, 20, 20};
	double act[4] = {12, 12, 12, 12};
	double out[8], scale;
	CHECK_EQ_INT(wfm_reforecast_intraday(fc, act, 8, 4, NULL, out, &scale), 0);
	CHECK_NEAR(scale, 1.2, 1e-15, 0);
	CHECK(out[0] == 12 && out[3] == 12);
	CHECK_NEAR(out[4], 24.0, 1e-12, 0);
	CHECK_NEAR(out[7], 24.0, 1e-12, 0);
	/* clamped */
	double big[4] = {100, 100, 100, 100};
	CHECK_EQ_INT(wfm_reforecast_intraday(fc, big, 8, 4, NULL, out, &scale), 0);
	CHECK(scale == 4.0 && out[5] == 80.0);
	/* shrunk toward 1 by a prior of 10 calls: (48 + 10) / (40 + 10) */
	struct wfm_reforecast_opts o;
	wfm_reforecast_opts_init(&o);
	o.prior = 10.0;
	CHECK_EQ_INT(wfm_reforecast_intraday(fc, act, 8, 4, &o, out, &scale), 0);
	CHECK_NEAR(scale, 58.0 / 50.0, 1e-15, 0);
	/* nothing elapsed: the forecast; in place */
	CHECK_EQ_INT(wfm_reforecast_intraday(fc, NULL, 8, 0, NULL, fc, &scale), 0);
	CHECK(scale == 1.0 && fc[4] == 20.0);
	CHECK_EQ_INT(wfm_reforecast_intraday(fc, act, 8, 9, NULL, out, NULL), -EINVAL);
}

int wfm_forecast_tests(int *passed, int *failed)
{
	TEST_RUN(test_holt_winters_exact_on_double_seasonal);
	TEST_RUN(test_seasonal_naive_exact_on_weekly);
	TEST_RUN(test_historical_average);
	TEST_RUN(test_holidays_and_overrides);
	TEST_RUN(test_handle_time_with_gaps);
	TEST_RUN(test_wape_mase_by_hand);
	TEST_RUN(test_backtest_by_hand);
	TEST_RUN(test_backtest_picks_the_right_method);
	TEST_RUN(test_hw_params_and_bad_input);
	TEST_RUN(test_reforecast_intraday);
	*passed += test_passed;
	*failed += test_failed;
	return test_failed;
}
