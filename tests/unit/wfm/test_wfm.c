/*
 * test_wfm.c: unit tests of the Erlang B, C and A math in src/wfm.
 *
 * Four kinds of evidence, each independent of the library's own algorithm:
 *   1. published worked examples (each cited where it is checked, and in
 *      docs/WFM.md), to the precision the source prints;
 *   2. identities of the models (Erlang A with patience = handle time is
 *      M/M/infinity, so P(wait) is a Poisson tail; Erlang A tends to C as
 *      patience grows and to B as it vanishes);
 *   3. a high-precision reference at 1,000 to 100,000 agents computed here by
 *      a different method: summing the whole birth-death stationary
 *      distribution in long double (64-bit mantissa) with rescaling, and
 *      Gauss-Legendre quadrature of the waiting-time integrals, instead of
 *      the library's truncated recursion, continued fraction and closed forms;
 *   4. a discrete-event simulation of M/M/n+M, which checks the meaning of
 *      the three service-level definitions rather than the algebra.
 * Plus the searches (against a linear scan), input validation, and a sweep
 * over 1..100,000 agents that every output is finite and in range.
 * main() also runs the forecasting (test_wfm_forecast.c) and simulator
 * (test_wfm_sim.c) groups, so that test_wfm covers the whole module.
 */
#include "wfm/wfm.h"
#include "test.h"
#include "wfm_tests.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

static struct wfm_load load_of(enum wfm_model m, double calls, double period,
			       double aht, double patience, double t)
{
	struct wfm_load l = {m, calls, period, aht, patience, t};
	return l;
}

/* ------------------------------------------------------------------ */
/* 1. Published examples                                                */
/* ------------------------------------------------------------------ */

/*
 * Mitan Ltd, "The Erlang-C Formula" (mitan.co.uk/erlang/elgcmath.htm), the
 * step-by-step example: 360 calls per half hour, average duration 4 minutes,
 * 55 agents, 15-second answer target. The page gives traffic 48 Erlangs,
 * occupancy 87.27%, E_C = 0.2387, average speed of answer 8.184 s and
 * service level P(wait <= 15 s) = 0.8459 (values reproduced independently
 * in the Maxima "erlang" package write-up of the same page).
 */
static void test_erlang_c_mitan_example(void)
{
	struct wfm_load l = load_of(WFM_ERLANG_C, 360, 1800, 240, 0, 15);
	struct wfm_result r;
	REQUIRE(wfm_evaluate(&l, 55, &r) == 0);
	CHECK_NEAR(r.traffic_erlangs, 48.0, 1e-12, 0);
	CHECK_NEAR(r.occupancy, 0.8727, 0.00005, 0);
	CHECK_NEAR(r.p_wait, 0.2387, 0.00005, 0);
	CHECK_NEAR(r.mean_wait_s, 8.184, 0.0005, 0);
	CHECK_NEAR(r.service_level, 0.8459, 0.00005, 0);
	CHECK_NEAR(wfm_erlang_c(55, 48.0), 0.2387, 0.00005, 0);
}

/*
 * Call Centre Helper, "Erlang C Formula - Made Simple With an Easy Worked
 * Example" (callcentrehelper.com): 100 calls in 30 minutes, AHT 180 s,
 * target 80% answered in 20 s, 30% shrinkage. Traffic 10 Erlangs; with the
 * "raw" 11 agents the probability of waiting is 0.6821 and the service
 * level 39%; 14 agents are needed; with 30% shrinkage that is 20 scheduled
 * staff.
 * Provenance: the inputs (100 calls per 30 minutes, 180 s, 80% in 20 s,
 * 85% maximum occupancy, 30% shrinkage) and the 10 Erlangs were checked
 * against a stored copy of the article's text; the later figures (0.6821,
 * 39%, 14 and 20 agents) were first written from memory and could not be
 * read in that copy. They are what the formula gives at those inputs
 * (P(wait) 0.68210, SL 38.96%; 12, 13, 14 agents give 64.0%, 79.6%,
 * 88.8%), so the article's own rounding may differ in the last digit.
 */
static void test_erlang_c_call_centre_helper_example(void)
{
	struct wfm_load l = load_of(WFM_ERLANG_C, 100, 1800, 180, 0, 20);
	struct wfm_result r;
	REQUIRE(wfm_evaluate(&l, 11, &r) == 0);
	CHECK_NEAR(r.traffic_erlangs, 10.0, 1e-12, 0);
	CHECK_NEAR(r.p_wait, 0.6821, 0.00005, 0);
	CHECK_NEAR(r.service_level, 0.39, 0.005, 0);

	struct wfm_target t;
	wfm_target_init(&t);
	t.min_service_level = 0.80;
	long n = 0;
	REQUIRE(wfm_staff(&l, &t, &n, &r) == 0);
	CHECK_EQ_INT(n, 14);
	CHECK_EQ_INT(r.agents, 14);
	CHECK(r.service_level >= 0.80);
	CHECK_EQ_INT(wfm_scheduled_staff(n, 0.30), 20);
}

/*
 * Westbay Engineers' Erlang calculator manual (erlang.com), two Erlang B
 * examples: "How much traffic can a trunk group carry if it has 15 lines and
 * 1% blocking?" -> 8.108 Erlangs; and (their Telecom Design Forum) 1,200
 * calls in the busy hour of 100 s each = 33.333 Erlangs at 1% blocking
 * needs 45 lines.
 */
static void test_erlang_b_westbay_examples(void)
{
	struct wfm_target t;
	wfm_target_init(&t);
	t.max_p_block = 0.01;

	struct wfm_load l = load_of(WFM_ERLANG_B, 0, 3600, 3600, 0, 0);
	double calls = 0;
	REQUIRE(wfm_max_calls(&l, 15, &t, &calls, NULL) == 0);
	/* period = aht, so calls = traffic in Erlangs */
	CHECK_NEAR(calls, 8.108, 0.0005, 0);
	CHECK_NEAR(wfm_erlang_b(15, calls), 0.01, 1e-12, 0);

	struct wfm_load l2 = load_of(WFM_ERLANG_B, 1200, 3600, 100, 0, 0);
	long n = 0;
	REQUIRE(wfm_staff(&l2, &t, &n, NULL) == 0);
	CHECK_EQ_INT(n, 45);
}

/*
 * Westbay Engineers' support forum (erlang.com), topic "CCXLService",
 * answer of 12 January 2021: 57 calls (per hour) of 1,110 s with 21 agents
 * answer 80.7% within 180 s (their CC-Excel and Westbay Traffic
 * Calculators agree); with a 20 s target, 80% needs 23 agents instead of
 * 21.
 */
static void test_erlang_c_westbay_forum_example(void)
{
	struct wfm_load l = load_of(WFM_ERLANG_C, 57, 3600, 1110, 0, 180);
	struct wfm_result r;
	REQUIRE(wfm_evaluate(&l, 21, &r) == 0);
	CHECK_NEAR(r.service_level, 0.807, 0.0005, 0);
	struct wfm_target t;
	wfm_target_init(&t);
	t.min_service_level = 0.80;
	long n = 0;
	REQUIRE(wfm_staff(&l, &t, &n, NULL) == 0);
	CHECK_EQ_INT(n, 21);
	l.sl_seconds = 20;
	REQUIRE(wfm_staff(&l, &t, &n, NULL) == 0);
	CHECK_EQ_INT(n, 23);
}

/* ------------------------------------------------------------------ */
/* 3. Independent high-precision reference                             */
/* ------------------------------------------------------------------ */

/*
 * 1/B(n, a) as sum_{k<=n} P(k) / P(n), Poisson weights generated upward
 * from k = 0 in long double, rescaled by 2^-8000 when large. A different
 * direction and a different quantity from the library's recursion.
 */
static long double ref_inv_b(long n, long double a)
{
	long double w = 1.0L, sum = 1.0L;
	for (long k = 1; k <= n; k++) {
		w *= a / (long double)k;
		sum += w;
		if (w > 1e4000L) {
			w = ldexpl(w, -8000);
			sum = ldexpl(sum, -8000);
		}
	}
	return sum / w;
}

static long double ref_erlang_c(long n, long double a)
{
	long double x = ref_inv_b(n, a);
	long double rho = a / n;
	return 1.0L / (rho + (1.0L - rho) * x);
}

static void test_erlang_b_c_large_vs_reference(void)
{
	static const long ns[] = {1, 10, 1000, 10000, 100000};
	static const double beta[] = {-30.0, -3.0, -0.5, 0.0, 0.5, 1.0, 3.0};
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		for (size_t j = 0; j < sizeof(beta) / sizeof(beta[0]); j++) {
			/* a = n - beta sqrt(n): the Halfin-Whitt scaling, where staffing lives */
			long n = ns[i];
			double a = (double)n - beta[j] * sqrt((double)n);
			if (!(a > 0))
				continue;
			long double ib = ref_inv_b(n, a);
			double b = wfm_erlang_b(n, a);
			CHECK_NEAR(b, (double)(1.0L / ib), 0, 1e-12);
			if (a < n) {
				double c = wfm_erlang_c(n, a);
				CHECK_NEAR(c, (double)ref_erlang_c(n, a), 0, 1e-11);
			} else {
				CHECK(wfm_erlang_c(n, a) == 1.0);
			}
		}
	}
	/* far tails: tiny but representable, and underflow without NaN */
	CHECK_NEAR(wfm_erlang_b(2000, 1000.0), (double)(1.0L / ref_inv_b(2000, 1000.0L)), 0, 1e-12);
	CHECK(wfm_erlang_b(100000, 50000.0) == 0.0);
	CHECK_NEAR(wfm_erlang_b(100, 1e6), 1.0 - 100.0 / 1e6, 0, 1e-6);
}

/* Erlang A stationary distribution summed over all states in long double. */
struct ref_a {
	long double p_wait, p_ab, eq, log_pi_n;
};

static void ref_erlang_a(long n, double lambda, double aht, double patience,
			 struct ref_a *out)
{
	long double mu = 1.0L / aht, theta = 1.0L / patience;
	long double a = (long double)lambda * aht;
	long double w = 1.0L, tot = 1.0L, lscale = 0.0L;
	for (long k = 1; k <= n; k++) {
		w *= a / (long double)k;
		tot += w;
		if (w > 1e300L) {
			w *= 1e-300L;
			tot *= 1e-300L;
			lscale += 300.0L * logl(10.0L);
		}
	}
	long double log_wn = logl(w) + lscale;
	long double sq = w, eq = 0.0L;
	/* P(N >= n) below the long double range (e^-11000): all zero */
	for (long j = 1; w > 0.0L; j++) {
		long double ratio = lambda / ((long double)n * mu + (long double)j * theta);
		w *= ratio;
		tot += w;
		sq += w;
		eq += (long double)j * w;
		if (w > 1e300L) {
			w *= 1e-300L;
			tot *= 1e-300L;
			sq *= 1e-300L;
			eq *= 1e-300L;
			lscale += 300.0L * logl(10.0L);
		}
		/* relative to the queue's own sums: they may be 1e-200 of tot */
		if (ratio < 0.999L && w < 1e-40L * sq && w * (long double)j < 1e-40L * eq)
			break;
	}
	out->p_wait = sq / tot;
	out->eq = w > 0.0L ? eq / tot : 0.0L;
	out->p_ab = theta * out->eq / lambda;
	out->log_pi_n = log_wn - (logl(tot) + lscale);
}

/* 20-point Gauss-Legendre nodes and weights on [-1, 1], by Newton. */
#define GL_N 20
static long double gl_x[GL_N], gl_w[GL_N];

static void gl_init(void)
{
	const long double pi = 3.141592653589793238462643383279503L;
	for (int i = 0; i < GL_N; i++) {
		long double z = cosl(pi * (i + 0.75L) / (GL_N + 0.5L)), pp = 0;
		for (int it = 0; it < 100; it++) {
			long double p1 = 1.0L, p2 = 0.0L;
			for (int j = 1; j <= GL_N; j++) {
				long double p3 = p2;
				p2 = p1;
				p1 = ((2.0L * j - 1.0L) * z * p2 - (j - 1.0L) * p3) / j;
			}
			pp = GL_N * (z * p1 - p2) / (z * z - 1.0L);
			long double z1 = z;
			z = z1 - p1 / pp;
			if (fabsl(z - z1) < 1e-19L)
				break;
		}
		gl_x[i] = z;
		gl_w[i] = 2.0L / ((1.0L - z * z) * pp * pp);
	}
}

/*
 * log of int_{u0}^{u1} x e^{-x u + y (1 - e^{-u})} (1 - e^{-u})^pw du, for
 * pw 0 or 1 and u1 possibly INFINITY, by composite Gauss-Legendre on panels
 * a quarter of the peak's width. The substitution v = e^{-u} turns the
 * library's integrals over v in [0, q] and [q, 1] into these.
 */
static long double phi(long double x, long double y, long double u)
{
	return logl(x) - x * u + y * (-expm1l(-u));
}

static long double ref_log_integral(long double x, long double y,
				    long double u0, long double u1, int pw)
{
	/* the peak of phi on [u0, u1] and the integrand's length scale there */
	long double upk = y > x ? logl(y / x) : 0.0L;
	if (upk < u0)
		upk = u0;
	if (upk > u1)
		upk = u1;
	long double fmax = phi(x, y, upk);
	long double slope = fabsl(x - y * expl(-upk));
	long double curv = y * expl(-upk);
	long double h = 0.05L;
	if (slope > 0 && 0.5L / slope < h)
		h = 0.5L / slope;
	if (curv > 0 && 0.5L / sqrtl(curv) < h)
		h = 0.5L / sqrtl(curv);
	/* integrate out to where the log integrand is 100 below its peak */
	long double lo = upk, hi = upk, step = h;
	while (lo > u0 && phi(x, y, lo) > fmax - 100.0L) {
		lo -= step;
		step *= 1.1L;
	}
	if (lo < u0)
		lo = u0;
	step = h;
	while (hi < u1 && phi(x, y, hi) > fmax - 100.0L) {
		hi += step;
		step *= 1.1L;
	}
	if (hi > u1)
		hi = u1;
	long double sum = 0.0L;
	long panels = (long)ceill((hi - lo) / h);
	if (panels < 1)
		panels = 1;
	long double ph = (hi - lo) / panels;
	for (long p = 0; p < panels; p++) {
		long double c = lo + (p + 0.5L) * ph;
		for (int i = 0; i < GL_N; i++) {
			long double u = c + 0.5L * ph * gl_x[i];
			long double f = expl(phi(x, y, u) - fmax);
			if (pw)
				f *= -expm1l(-u);
			sum += gl_w[i] * 0.5L * ph * f;
		}
	}
	return logl(sum) + fmax;
}

struct ref_sl {
	long double p_w_gt_t, p_ab_le_t;
};

/*
 * P(W > t) = pi_n F e^{-theta t},
 * P(abandon within t) = pi_n [ (1 - q) F + H ], with
 * F = int_0^q x v^{x-1} e^{y(1-v)} dv, H = int_q^1 x v^{x-1} e^{y(1-v)} (1-v) dv,
 * q = e^{-theta t}: the definitions, integrated numerically.
 */
static void ref_erlang_a_sl(long n, double lambda, double aht,
			    double patience, double t, const struct ref_a *ra,
			    struct ref_sl *out)
{
	long double x = (long double)n * patience / aht;
	long double y = (long double)lambda * patience;
	long double tt = (long double)t / patience;
	long double q = expl(-tt);
	long double log_f = ref_log_integral(x, y, tt, INFINITY, 0);
	long double f = expl(ra->log_pi_n + log_f);
	long double hpart = tt > 0 ? expl(ra->log_pi_n + ref_log_integral(x, y, 0.0L, tt, 1)) : 0.0L;
	out->p_w_gt_t = f * q;
	out->p_ab_le_t = (1.0L - q) * f + hpart;
}

static void check_a_against_reference(long n, double a, double aht,
				      double patience, double t)
{
	double lambda = a / aht;
	struct wfm_load l = load_of(WFM_ERLANG_A, lambda * 1800.0, 1800.0, aht,
				    patience, t);
	struct wfm_result r;
	struct ref_a ra;
	struct ref_sl rs;
	REQUIRE(wfm_evaluate(&l, n, &r) == 0);
	ref_erlang_a(n, lambda, aht, patience, &ra);
	ref_erlang_a_sl(n, lambda, aht, patience, t, &ra, &rs);

	double ans = (double)(1.0L - rs.p_w_gt_t - rs.p_ab_le_t);
	int bad = 0;
#define A_NEAR(got, want, abs_, rel_)                                         \
	do {                                                                  \
		double g_ = (got), w_ = (want);                               \
		if (!(fabs(g_ - w_) <= (abs_) + (rel_)*fabs(w_))) {           \
			bad = 1;                                              \
			CHECK_NEAR(g_, w_, abs_, rel_);                       \
		}                                                             \
	} while (0)
	A_NEAR(r.p_wait, (double)ra.p_wait, 1e-300, 1e-10);
	A_NEAR(r.p_abandon, (double)ra.p_ab, 1e-300, 1e-10);
	A_NEAR(r.mean_wait_s, (double)(ra.eq / lambda), 1e-300, 1e-10);
	/*
	 * Service levels are differences of O(1) probabilities, so they are
	 * compared absolutely. 5e-12 is the reference's own error in 3x
	 * overload at 100,000 agents (its sum over 3e5 states and quadrature
	 * lose ~6e-13 there; checked against mpmath at 60 digits).
	 */
	A_NEAR(r.sl_wait_le_t, (double)(1.0L - rs.p_w_gt_t), 5e-12, 0);
	A_NEAR(r.sl_answered, ans, 5e-12, 0);
	A_NEAR(r.sl_excluding_short_abandons, ans / (double)(1.0L - rs.p_ab_le_t), 5e-12, 0);
	if (bad)
		fprintf(stderr, "  at n=%ld a=%g aht=%g patience=%g t=%g\n", n, a,
			aht, patience, t);
#undef A_NEAR
}

static void test_erlang_a_vs_reference(void)
{
	static const long ns[] = {1, 5, 30, 1000, 10000, 100000};
	static const double load[] = {0.5, 0.9, 1.0, 1.2, 3.0};
	static const double pat_ratio[] = {0.05, 1.0, 4.0};
	static const double t_ratio[] = {0.0, 0.1, 1.0};
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		for (size_t j = 0; j < sizeof(load) / sizeof(load[0]); j++)
			for (size_t k = 0; k < sizeof(pat_ratio) / sizeof(pat_ratio[0]); k++)
				for (size_t m = 0; m < sizeof(t_ratio) / sizeof(t_ratio[0]); m++) {
					double aht = 300.0;
					double patience = pat_ratio[k] * aht;
					long n = ns[i];
					/* near critical load, the QED scaling; otherwise a multiple of n */
					double a = load[j] == 1.0 ? n - 0.7 * sqrt((double)n) : load[j] * n;
					check_a_against_reference(n, a, aht, patience, t_ratio[m] * patience);
				}
}

/* ------------------------------------------------------------------ */
/* 2. Identities                                                        */
/* ------------------------------------------------------------------ */

/* P(Poisson(a) >= n) and E[(N - n)^+] in long double, summed from the mode. */
static void ref_poisson_tail(long n, long double a, long double *tail,
			     long double *excess)
{
	/* weights relative to k = n, both directions */
	long double below = 0.0L, above = 0.0L, ex = 0.0L, w = 1.0L;
	for (long k = n; k >= 0; k--) {
		if (k < n)
			w *= (long double)(k + 1) / a;
		below += w;
		if (w < 1e-40L * below)
			break;
	}
	below -= 1.0L; /* k = n counted in "above" */
	w = 1.0L;
	for (long k = n;; k++) {
		if (k > n)
			w *= a / (long double)k;
		above += w;
		ex += (long double)(k - n) * w;
		if (k > a && w * (k - n + 1) < 1e-40L * above)
			break;
	}
	*tail = above / (above + below);
	*excess = ex / (above + below);
}

/*
 * Erlang A with patience = handle time: every caller leaves at rate mu
 * whether waiting or served, so the number in system is M/M/infinity,
 * Poisson(a); an arrival waits iff it finds >= n present (PASTA).
 */
static void test_erlang_a_patience_equals_aht_is_poisson_tail(void)
{
	static const long ns[] = {1, 7, 45, 1000, 10000, 100000};
	static const double f[] = {0.6, 0.95, 1.0, 1.3};
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
		for (size_t j = 0; j < sizeof(f) / sizeof(f[0]); j++) {
			long n = ns[i];
			double a = f[j] * n;
			struct wfm_load l = load_of(WFM_ERLANG_A, a * 1800.0 / 240.0, 1800, 240, 240, 20);
			struct wfm_result r;
			REQUIRE(wfm_evaluate(&l, n, &r) == 0);
			long double tail, excess;
			ref_poisson_tail(n, a, &tail, &excess);
			CHECK_NEAR(r.p_wait, (double)tail, 1e-300, 1e-11);
			/* theta E[Q] / lambda = E[(N - n)^+] / a */
			CHECK_NEAR(r.p_abandon, (double)(excess / a), 1e-300, 1e-10);
		}
}

static void test_erlang_a_tends_to_erlang_c(void)
{
	static const long ns[] = {3, 55, 1000, 100000};
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		long n = ns[i];
		double a = n - 1.2 * sqrt((double)n);
		struct wfm_load lc = load_of(WFM_ERLANG_C, a * 1800.0 / 240.0, 1800, 240, 0, 15);
		struct wfm_load la = lc;
		la.model = WFM_ERLANG_A;
		struct wfm_result rc, ra;
		REQUIRE(wfm_evaluate(&lc, n, &rc) == 0);
		double prev = 1.0;
		for (int k = 0; k <= 4; k++) {
			la.patience_s = 240.0 * pow(100.0, k); /* up to 1e8 x AHT, the API's limit */
			REQUIRE(wfm_evaluate(&la, n, &ra) == 0);
			double d = fabs(ra.p_wait - rc.p_wait);
			CHECK(d <= prev + 1e-15); /* converges monotonically */
			prev = d;
		}
		/* at patience 1e8 x AHT the difference is O(1e-8) */
		CHECK_NEAR(ra.p_wait, rc.p_wait, 0, 1e-6);
		CHECK_NEAR(ra.mean_wait_s, rc.mean_wait_s, 0, 1e-6);
		CHECK_NEAR(ra.service_level, rc.service_level, 1e-7, 0);
		CHECK_NEAR(ra.sl_wait_le_t, rc.service_level, 1e-7, 0);
		CHECK(ra.p_abandon < 1e-6);
	}
}

/* Patience -> 0: whoever must wait leaves at once, which is Erlang B. */
static void test_erlang_a_tends_to_erlang_b(void)
{
	static const long ns[] = {1, 10, 1000, 100000};
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		long n = ns[i];
		double a = 0.95 * n;
		struct wfm_load l = load_of(WFM_ERLANG_A, a * 1800.0 / 240.0, 1800, 240, 240e-12, 20);
		struct wfm_result r;
		REQUIRE(wfm_evaluate(&l, n, &r) == 0);
		double b = wfm_erlang_b(n, a);
		CHECK_NEAR(r.p_abandon, b, 0, 1e-6);
		CHECK_NEAR(r.p_wait, b, 0, 1e-6);
		CHECK_NEAR(r.sl_answered, 1.0 - b, 1e-6, 0);
	}
}

static void test_definitions_and_limits(void)
{
	struct wfm_result r;
	/* t = 0: answered "within 0" = not waiting at all */
	struct wfm_load l = load_of(WFM_ERLANG_A, 400, 1800, 240, 90, 0);
	REQUIRE(wfm_evaluate(&l, 50, &r) == 0);
	CHECK_NEAR(r.sl_answered, 1.0 - r.p_wait, 1e-14, 0);
	CHECK_NEAR(r.sl_wait_le_t, 1.0 - r.p_wait, 1e-14, 0);
	CHECK_NEAR(r.sl_excluding_short_abandons, 1.0 - r.p_wait, 1e-14, 0);
	CHECK(r.service_level == r.sl_answered);

	/* orderings that hold for every t > 0 */
	l.sl_seconds = 30;
	REQUIRE(wfm_evaluate(&l, 50, &r) == 0);
	CHECK(r.sl_answered <= r.sl_excluding_short_abandons);
	CHECK(r.sl_answered <= r.sl_wait_le_t);
	/* Little: mean wait over all arrivals = E[Q] / lambda */
	CHECK_NEAR(r.mean_wait_s, r.mean_queue_len / (400.0 / 1800.0), 0, 1e-13);
	/* occupancy counts only served calls */
	CHECK_NEAR(r.occupancy, r.traffic_erlangs * (1 - r.p_abandon) / 50, 0, 1e-13);

	/* Erlang C overloaded: no steady state, reported as such */
	struct wfm_load c = load_of(WFM_ERLANG_C, 500, 1800, 240, 0, 20);
	REQUIRE(wfm_evaluate(&c, 60, &r) == 0); /* 66.7 Erlangs on 60 */
	CHECK(r.p_wait == 1.0);
	CHECK(isinf(r.mean_wait_s));
	CHECK(r.service_level == 0.0);
	CHECK(r.occupancy == 1.0);

	/* Erlang A overloaded is fine: abandonment balances it */
	struct wfm_load a = load_of(WFM_ERLANG_A, 500, 1800, 240, 60, 20);
	REQUIRE(wfm_evaluate(&a, 60, &r) == 0);
	CHECK(isfinite(r.mean_wait_s));
	/* served rate cannot exceed capacity: lambda (1 - P(ab)) <= n mu */
	CHECK(r.traffic_erlangs * (1 - r.p_abandon) <= 60.0 + 1e-9);
	CHECK(r.p_abandon > 1.0 - 60.0 / r.traffic_erlangs - 1e-12);

	/* Erlang B */
	struct wfm_load b = load_of(WFM_ERLANG_B, 5 * 1800.0 / 100.0, 1800, 100, 0, 20);
	REQUIRE(wfm_evaluate(&b, 10, &r) == 0);
	CHECK_NEAR(r.p_block, 0.018384570, 5e-10, 0); /* B(10, 5) */
	CHECK_NEAR(r.service_level, 1 - r.p_block, 1e-15, 0);
	CHECK_NEAR(r.occupancy, 5 * (1 - r.p_block) / 10, 1e-15, 0);
	CHECK(r.p_wait == 0.0 && r.mean_wait_s == 0.0);

	/* zero traffic */
	struct wfm_load z = load_of(WFM_ERLANG_A, 0, 1800, 240, 60, 20);
	REQUIRE(wfm_evaluate(&z, 3, &r) == 0);
	CHECK(r.p_wait == 0 && r.p_abandon == 0 && r.service_level == 1.0 && r.occupancy == 0);

	/* zero agents under Erlang A: everyone waits and abandons */
	REQUIRE(wfm_evaluate(&a, 0, &r) == 0);
	CHECK_NEAR(r.p_wait, 1.0, 1e-15, 0);
	CHECK_NEAR(r.p_abandon, 1.0, 1e-12, 0);
	CHECK_NEAR(r.mean_wait_s, 60.0, 0, 1e-12);
	CHECK_NEAR(r.sl_answered, 0.0, 1e-15, 0);
	CHECK_NEAR(r.sl_wait_le_t, 1 - exp(-20.0 / 60.0), 1e-12, 0);
}

/* ------------------------------------------------------------------ */
/* 4. Simulation                                                        */
/* ------------------------------------------------------------------ */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static double rng_exp(double mean)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	uint64_t v = rng_state * 0x2545F4914F6CDD1Dull;
	double u = ((double)(v >> 11) + 0.5) * 0x1p-53;
	return -mean * log(u);
}

/*
 * FCFS M/M/n+M: caller i arrives at T with patience P and service S; the
 * offered wait is V = max(0, earliest server-free time - T), because every
 * caller ahead has already been given a server or has left. If V <= P the
 * caller is served from T + V, else abandons at T + P.
 */
static void test_erlang_a_matches_simulation(void)
{
	const long n = 3;
	const double lambda = 1.0, aht = 2.5, patience = 4.0, t = 1.5;
	double free_at[3] = {0, 0, 0};
	double now = 0;
	long total = 0, waited = 0, ans_le_t = 0, ab = 0, ab_le_t = 0, w_gt_t = 0;
	double wait_sum = 0;
	const long warm = 20000, count = 2000000;
	for (long i = 0; i < warm + count; i++) {
		now += rng_exp(1.0 / lambda);
		double p = rng_exp(patience), s = rng_exp(aht);
		int best = 0;
		for (int k = 1; k < n; k++)
			if (free_at[k] < free_at[best])
				best = k;
		double v = free_at[best] > now ? free_at[best] - now : 0.0;
		int served = v <= p;
		if (served)
			free_at[best] = now + v + s;
		if (i < warm)
			continue;
		double w = served ? v : p;
		total++;
		waited += v > 0;
		wait_sum += w;
		w_gt_t += w > t;
		if (served && v <= t)
			ans_le_t++;
		if (!served) {
			ab++;
			ab_le_t += p <= t;
		}
	}
	struct wfm_load l = load_of(WFM_ERLANG_A, lambda * 1800, 1800, aht, patience, t);
	struct wfm_result r;
	REQUIRE(wfm_evaluate(&l, n, &r) == 0);
	double N = (double)total;
	if (getenv("WFM_TEST_VERBOSE"))
		fprintf(stderr, "sim: p_wait %.5f/%.5f ab %.5f/%.5f W %.4f/%.4f ans %.5f/%.5f le %.5f/%.5f excl %.5f/%.5f\n",
			r.p_wait, waited / N, r.p_abandon, ab / N, r.mean_wait_s, wait_sum / N,
			r.sl_answered, ans_le_t / N, r.sl_wait_le_t, 1.0 - w_gt_t / N,
			r.sl_excluding_short_abandons, ans_le_t / (N - ab_le_t));
	/*
	 * A few standard errors of a 2e6-sample estimate whose samples are
	 * correlated through the queue (the seed is fixed, so this is
	 * deterministic; the observed differences are all below 4e-4).
	 */
	CHECK_NEAR(r.p_wait, waited / N, 0.002, 0);
	CHECK_NEAR(r.p_abandon, ab / N, 0.0015, 0);
	CHECK_NEAR(r.mean_wait_s, wait_sum / N, 0.005, 0);
	CHECK_NEAR(r.sl_answered, ans_le_t / N, 0.002, 0);
	CHECK_NEAR(r.sl_wait_le_t, 1.0 - w_gt_t / N, 0.002, 0);
	CHECK_NEAR(r.sl_excluding_short_abandons, ans_le_t / (N - ab_le_t), 0.002, 0);
}

/* ------------------------------------------------------------------ */
/* Searches                                                             */
/* ------------------------------------------------------------------ */

static int meets_ref(const struct wfm_result *r, const struct wfm_target *t)
{
	if (isinf(r->mean_wait_s))
		return 0;
	double sl = t->sl_def == WFM_SL_ANSWERED ? r->sl_answered
		    : t->sl_def == WFM_SL_WAIT_LE_T ? r->sl_wait_le_t
						     : r->sl_excluding_short_abandons;
	if (t->min_service_level >= 0 && !(sl >= t->min_service_level))
		return 0;
	if (t->max_mean_wait_s >= 0 && !(r->mean_wait_s <= t->max_mean_wait_s))
		return 0;
	if (t->max_p_abandon >= 0 && !(r->p_abandon <= t->max_p_abandon))
		return 0;
	if (t->max_p_block >= 0 && !(r->p_block <= t->max_p_block))
		return 0;
	if (t->max_occupancy >= 0 && !(r->occupancy <= t->max_occupancy))
		return 0;
	return 1;
}

static void test_staff_equals_linear_scan(void)
{
	static const double traffic[] = {0.3, 4.0, 17.5, 48.0, 230.0};
	static const enum wfm_model models[] = {WFM_ERLANG_B, WFM_ERLANG_C, WFM_ERLANG_A};
	for (size_t i = 0; i < sizeof(traffic) / sizeof(traffic[0]); i++)
		for (size_t m = 0; m < 3; m++)
			for (int kind = 0; kind < 7; kind++) {
				struct wfm_load l = load_of(models[m], traffic[i] * 1800 / 200, 1800, 200, 120, 20);
				struct wfm_target t;
				wfm_target_init(&t);
				switch (kind) {
				case 0: t.min_service_level = 0.8; break;
				case 1: t.min_service_level = 0.95; t.sl_def = WFM_SL_WAIT_LE_T; break;
				case 2: t.min_service_level = 0.7; t.sl_def = WFM_SL_EXCLUDING_SHORT_ABANDONS; break;
				case 3: t.max_mean_wait_s = 15; break;
				case 4: t.max_occupancy = 0.85; break;
				case 5:
					if (models[m] == WFM_ERLANG_A)
						t.max_p_abandon = 0.03;
					else if (models[m] == WFM_ERLANG_B)
						t.max_p_block = 0.02;
					else
						t.max_mean_wait_s = 2;
					break;
				case 6: t.min_service_level = 0.9; t.max_occupancy = 0.9; break;
				}
				long n = -1, scan;
				struct wfm_result r;
				REQUIRE(wfm_staff(&l, &t, &n, &r) == 0);
				for (scan = 1; scan < 10000; scan++) {
					REQUIRE(wfm_evaluate(&l, scan, &r) == 0);
					if (meets_ref(&r, &t))
						break;
				}
				if (n != scan)
					fprintf(stderr, "  traffic %g model %d kind %d\n", traffic[i], (int)m, kind);
				CHECK_EQ_INT(n, scan);
			}
}

static void test_staff_large_and_max_calls(void)
{
	/* 100,000 agents' worth of traffic: the search stays exact and quick */
	struct wfm_load l = load_of(WFM_ERLANG_A, 90000.0 * 1800 / 300, 1800, 300, 180, 20);
	struct wfm_target t;
	wfm_target_init(&t);
	t.min_service_level = 0.8;
	long n = 0;
	struct wfm_result r;
	REQUIRE(wfm_staff(&l, &t, &n, &r) == 0);
	CHECK(r.sl_answered >= 0.8);
	REQUIRE(wfm_evaluate(&l, n - 1, &r) == 0);
	CHECK(r.sl_answered < 0.8);

	/* max calls: the evaluation at the answer meets, a hair above fails */
	static const enum wfm_model models[] = {WFM_ERLANG_B, WFM_ERLANG_C, WFM_ERLANG_A};
	for (int m = 0; m < 3; m++) {
		struct wfm_load lm = load_of(models[m], 0, 1800, 240, 100, 20);
		wfm_target_init(&t);
		if (models[m] == WFM_ERLANG_B)
			t.max_p_block = 0.01;
		else
			t.min_service_level = 0.8;
		double calls = 0;
		REQUIRE(wfm_max_calls(&lm, 55, &t, &calls, &r) == 0);
		CHECK(calls > 0);
		CHECK(meets_ref(&r, &t));
		lm.calls = calls * (1 + 1e-9);
		REQUIRE(wfm_evaluate(&lm, 55, &r) == 0);
		CHECK(!meets_ref(&r, &t));
		/* and staffing that many calls gives back 55 agents */
		lm.calls = calls;
		long back = 0;
		REQUIRE(wfm_staff(&lm, &t, &back, NULL) == 0);
		CHECK_EQ_INT(back, 55);
	}
}

static void test_scheduled_staff(void)
{
	CHECK_EQ_INT(wfm_scheduled_staff(14, 0.30), 20);
	CHECK_EQ_INT(wfm_scheduled_staff(15, 0.30), 22); /* 21.43 -> 22 */
	CHECK_EQ_INT(wfm_scheduled_staff(0, 0.5), 0);
	CHECK_EQ_INT(wfm_scheduled_staff(10, 0.0), 10);
	CHECK_EQ_INT(wfm_scheduled_staff(7, 0.125), 8);
	CHECK_EQ_INT(wfm_scheduled_staff(-1, 0.3), -EINVAL);
	CHECK_EQ_INT(wfm_scheduled_staff(10, 1.0), -EINVAL);
	CHECK_EQ_INT(wfm_scheduled_staff(10, -0.1), -EINVAL);
	CHECK_EQ_INT(wfm_scheduled_staff(10, NAN), -EINVAL);
}

static void test_bad_input(void)
{
	struct wfm_result r;
	struct wfm_load l = load_of(WFM_ERLANG_A, 100, 1800, 180, 0, 20);
	CHECK_EQ_INT(wfm_evaluate(&l, 10, &r), -EINVAL); /* no patience */
	l.patience_s = 60;
	CHECK_EQ_INT(wfm_evaluate(&l, -1, &r), -EINVAL);
	CHECK_EQ_INT(wfm_evaluate(&l, WFM_MAX_AGENTS + 1, &r), -EINVAL);
	CHECK_EQ_INT(wfm_evaluate(NULL, 10, &r), -EINVAL);
	CHECK_EQ_INT(wfm_evaluate(&l, 10, NULL), -EINVAL);
	l.calls = NAN;
	CHECK_EQ_INT(wfm_evaluate(&l, 10, &r), -EINVAL);
	l.calls = -1;
	CHECK_EQ_INT(wfm_evaluate(&l, 10, &r), -EINVAL);
	l.calls = 100;
	l.period_s = 0;
	CHECK_EQ_INT(wfm_evaluate(&l, 10, &r), -EINVAL);
	l.period_s = 1800;
	l.aht_s = INFINITY;
	CHECK_EQ_INT(wfm_evaluate(&l, 10, &r), -EINVAL);
	l.aht_s = 180;
	l.sl_seconds = -1;
	CHECK_EQ_INT(wfm_evaluate(&l, 10, &r), -EINVAL);
	l.sl_seconds = 20;
	l.patience_s = 180 * 2e8;
	CHECK_EQ_INT(wfm_evaluate(&l, 10, &r), -EINVAL); /* use Erlang C */
	l.patience_s = 60;
	l.model = (enum wfm_model)7;
	CHECK_EQ_INT(wfm_evaluate(&l, 10, &r), -EINVAL);
	l.model = WFM_ERLANG_A;

	struct wfm_target t;
	long n;
	wfm_target_init(&t);
	CHECK_EQ_INT(wfm_staff(&l, &t, &n, NULL), -EINVAL); /* no target */
	t.min_service_level = 1.5;
	CHECK_EQ_INT(wfm_staff(&l, &t, &n, NULL), -EINVAL);
	t.min_service_level = 1.0;
	CHECK_EQ_INT(wfm_staff(&l, &t, &n, NULL), -ERANGE); /* unreachable */
	wfm_target_init(&t);
	t.max_p_abandon = 0.0;
	CHECK_EQ_INT(wfm_staff(&l, &t, &n, NULL), -ERANGE);
	wfm_target_init(&t);
	t.max_occupancy = 0.0;
	CHECK_EQ_INT(wfm_staff(&l, &t, &n, NULL), -EINVAL);
	/* zero calls need zero agents */
	wfm_target_init(&t);
	t.min_service_level = 0.8;
	l.calls = 0;
	CHECK_EQ_INT(wfm_staff(&l, &t, &n, &r), 0);
	CHECK_EQ_INT(n, 0);
	CHECK(isnan(wfm_erlang_b(-1, 3)));
	CHECK(isnan(wfm_erlang_b(3, -1)));
	CHECK(isnan(wfm_erlang_c(3, NAN)));
	CHECK(wfm_erlang_b(0, 3) == 1.0);
	CHECK(wfm_erlang_b(5, 0) == 0.0);
	CHECK(wfm_erlang_c(5, 0) == 0.0);
}

/* Every output finite and in range, and monotone in agents, 1..100,000. */
static void test_sweep_stable_and_monotone(void)
{
	static const double loads[] = {0.01, 0.5, 0.9, 1.0, 1.1, 2.0, 10.0};
	static const double pats[] = {1.0, 60.0, 240.0, 3600.0, 1e7};
	int bad = 0;
	for (long n0 = 1; n0 <= 100000; n0 *= 10)
		for (size_t i = 0; i < sizeof(loads) / sizeof(loads[0]); i++)
			for (size_t k = 0; k < sizeof(pats) / sizeof(pats[0]); k++)
				for (int model = 0; model < 3; model++) {
					struct wfm_load l = load_of((enum wfm_model)model,
								    loads[i] * n0 * 1800 / 240.0,
								    1800, 240, pats[k], 20);
					struct wfm_result prev = {0}, r;
					for (long n = n0; n <= n0 + 2; n++) {
						if (wfm_evaluate(&l, n, &r) != 0) {
							bad++;
							continue;
						}
						double v[] = {r.p_wait, r.service_level, r.occupancy,
							      r.p_abandon, r.p_block, r.sl_answered,
							      r.sl_excluding_short_abandons, r.sl_wait_le_t};
						for (size_t q = 0; q < sizeof(v) / sizeof(v[0]); q++)
							if (!(v[q] >= 0.0 && v[q] <= 1.0 + 1e-12)) {
								if (bad++ < 5)
									fprintf(stderr, "  out of range: model %d n %ld load %g patience %g field %zu = %g\n",
										model, n, loads[i], pats[k], q, v[q]);
							}
						if (isnan(r.mean_wait_s) || r.mean_wait_s < 0)
							bad++;
						if (model != WFM_ERLANG_C && !isfinite(r.mean_wait_s))
							bad++;
						if (n > n0) {
							/* more agents never hurt */
							int was = bad;
							if (r.p_wait > prev.p_wait * (1 + 1e-12) + 1e-300 ||
							    r.sl_answered < prev.sl_answered - 1e-12 ||
							    r.sl_wait_le_t < prev.sl_wait_le_t - 1e-12 ||
							    r.sl_excluding_short_abandons < prev.sl_excluding_short_abandons - 1e-12 ||
							    r.p_abandon > prev.p_abandon * (1 + 1e-12) + 1e-300 ||
							    r.occupancy > prev.occupancy * (1 + 1e-12))
								bad++;
							if (bad != was && bad < 5)
								fprintf(stderr, "  not monotone: model %d n %ld load %g patience %g: p_wait %.17g -> %.17g sl %.17g -> %.17g ab %.17g -> %.17g occ %.17g -> %.17g\n",
									model, n, loads[i], pats[k], prev.p_wait, r.p_wait, prev.sl_answered, r.sl_answered, prev.p_abandon, r.p_abandon, prev.occupancy, r.occupancy);
						}
						prev = r;
					}
				}
	CHECK_EQ_INT(bad, 0);
}

int main(void)
{
	gl_init();
	TEST_RUN(test_erlang_c_mitan_example);
	TEST_RUN(test_erlang_c_call_centre_helper_example);
	TEST_RUN(test_erlang_b_westbay_examples);
	TEST_RUN(test_erlang_c_westbay_forum_example);
	TEST_RUN(test_erlang_b_c_large_vs_reference);
	TEST_RUN(test_erlang_a_vs_reference);
	TEST_RUN(test_erlang_a_patience_equals_aht_is_poisson_tail);
	TEST_RUN(test_erlang_a_tends_to_erlang_c);
	TEST_RUN(test_erlang_a_tends_to_erlang_b);
	TEST_RUN(test_definitions_and_limits);
	TEST_RUN(test_erlang_a_matches_simulation);
	TEST_RUN(test_staff_equals_linear_scan);
	TEST_RUN(test_staff_large_and_max_calls);
	TEST_RUN(test_scheduled_staff);
	TEST_RUN(test_bad_input);
	TEST_RUN(test_sweep_stable_and_monotone);
	wfm_forecast_tests(&test_passed, &test_failed);
	wfm_sim_tests(&test_passed, &test_failed);
	wfm_plan_tests(&test_passed, &test_failed);
	TEST_MAIN_END();
}
