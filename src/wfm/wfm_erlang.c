/*
 * wfm_erlang.c: exact Erlang B, C and A, and the staffing searches on top.
 *
 * Two numerical kernels carry everything (docs/WFM.md gives the derivations
 * and the error arguments):
 *
 *  1. inv_erlang_b(): 1/B(n, a) by Erlang's forward recursion
 *     x_k = 1 + (k/a) x_{k-1}, started not at k = 0 but at the k0 below which
 *     the Poisson(a) mass is provably < 1e-20 of the total, and rescaled by
 *     powers of two so it never overflows. Cost O(sqrt(a) + |n - a|)
 *     instead of O(n); every step adds positive numbers, so no cancellation.
 *
 *  2. gamma_sum(): S(x, y) = sum_{j>=0} y^j / ((x+1)(x+2)...(x+j)), which is
 *     Garnett-Mandelbaum-Reiman's A(x, y) = x e^y y^-x gamma(x, y), and the
 *     first moment m = sum j t_j / S, returned as log S. Summed directly when
 *     y < x + 1 (terms fall from 1, no overflow); otherwise from the
 *     Legendre continued fraction of the upper incomplete gamma function and
 *     Loader's saddle-point form of the Poisson density, which keeps full
 *     relative precision where a plain lgamma() difference would lose 7
 *     digits at 100,000 agents.
 *
 * Erlang A's measures then follow in closed form from (1/B, S, m) at two
 * points y and y e^{-theta t}; all intermediate quantities are kept as
 * logarithms or as ratios in [0, 1], so nothing overflows and no formula
 * subtracts two large numbers.
 */
#include "wfm/wfm.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stddef.h>

#define LN2 0.693147180559945309417232121458
#define LN_2PI 1.837877066409345483560659472811

/* ---------------------------------------------------------------------- */
/* Kernel 1: Erlang B as 1/B, truncated and scaled                         */
/* ---------------------------------------------------------------------- */

struct inv_b {
	double log_x;       /* log(1/B) */
	double b;           /* B, may underflow to 0 */
};

static void inv_erlang_b(long n, double a, struct inv_b *r)
{
	if (n == 0) {
		r->log_x = 0.0;
		r->b = 1.0;
		return;
	}
	if (a == 0.0) {
		r->log_x = INFINITY;
		r->b = 0.0;
		return;
	}
	double inva = 1.0 / a;

	/*
	 * Where to start. x_n = sum_{k<=n} P(k)/P(n) for P the Poisson(a)
	 * weights; the part contributed by k <= k0 is at most
	 * prod_{j=k0+1}^{m} (j/a) / (1 - k0/a) for any m <= min(n, a) (a
	 * geometric bound). Once that is below 1e-20, starting the recursion at
	 * x_{k0} = 1 (true value in [1, 1/(1 - k0/a)]) changes x_n by less
	 * than 1e-20 relative. Walking down from min(n, floor(a)) keeps every
	 * factor <= 1, so the product cannot overflow.
	 */
	long m = n;
	if ((double)m > a)
		m = (long)floor(a);
	long k0 = m;
	double p = 1.0;
	while (k0 > 0) {
		p *= (double)k0 * inva;
		k0--;
		if (p < 1e-20 * (1.0 - (double)k0 * inva))
			break;
	}

	/*
	 * Forward recursion on the scaled value xs = x / 2^e. inv_scale is
	 * 2^-e (the "1 +" of the recursion, scaled); it underflows to 0
	 * harmlessly once x is astronomically large.
	 */
	double xs = 1.0, inv_scale = 1.0;
	long e = 0;
	for (long k = k0 + 1; k <= n; k++) {
		if (xs > 0x1p500) {
			xs *= 0x1p-500;
			inv_scale *= 0x1p-500;
			e += 500;
		}
		xs = inv_scale + (double)k * inva * xs;
	}
	r->log_x = log(xs) + (double)e * LN2;
	r->b = inv_scale / xs;
}

double wfm_erlang_b(long n, double a)
{
	if (n < 0 || !(a >= 0.0) || !isfinite(a) || n > WFM_MAX_AGENTS)
		return NAN;
	struct inv_b ib;
	inv_erlang_b(n, a, &ib);
	return ib.b;
}

/* C(n, a) from B(n, a): C = n B / (n - a + a B), all terms positive. */
static double erlang_c_from_b(long n, double a, double b)
{
	if (a >= (double)n)
		return 1.0;
	return (double)n * b / (((double)n - a) + a * b);
}

double wfm_erlang_c(long n, double a)
{
	if (n < 0 || !(a >= 0.0) || !isfinite(a) || n > WFM_MAX_AGENTS)
		return NAN;
	if (a >= (double)n)
		return 1.0;
	return erlang_c_from_b(n, a, wfm_erlang_b(n, a));
}

/* ---------------------------------------------------------------------- */
/* Kernel 2: the incomplete-gamma sum of Erlang A                          */
/* ---------------------------------------------------------------------- */

/*
 * Loader's stirlerr(x) = log Gamma(x+1) - (x+1/2) log x + x - log(2 pi)/2,
 * the remainder of Stirling's series. Series for x > 15 (error < 1e-17),
 * directly otherwise (values are small there, so the subtraction is mild).
 */
static double stirlerr(double x)
{
	const double s0 = 1.0 / 12, s1 = 1.0 / 360, s2 = 1.0 / 1260,
		     s3 = 1.0 / 1680, s4 = 1.0 / 1188;
	if (x <= 15.0) {
		int sign;
		return lgamma_r(x + 1.0, &sign) - (x + 0.5) * log(x) + x -
		       0.5 * LN_2PI;
	}
	double nn = x * x;
	if (x > 500)
		return (s0 - s1 / nn) / x;
	if (x > 80)
		return (s0 - (s1 - s2 / nn) / nn) / x;
	if (x > 35)
		return (s0 - (s1 - (s2 - s3 / nn) / nn) / nn) / x;
	return (s0 - (s1 - (s2 - (s3 - s4 / nn) / nn) / nn) / nn) / x;
}

/*
 * Loader's bd0(x, np) = x log(x/np) + np - x >= 0, the deviance term. When
 * x and np are close the direct form cancels, so it is summed as a series
 * in v = (x - np)/(x + np) instead.
 */
static double bd0(double x, double np)
{
	if (fabs(x - np) < 0.1 * (x + np)) {
		double v = (x - np) / (x + np);
		double s = (x - np) * v;
		double ej = 2.0 * x * v;
		double v2 = v * v;
		for (int j = 1; j < 1000; j++) {
			ej *= v2;
			double s1 = s + ej / (2 * j + 1);
			if (s1 == s)
				return s1;
			s = s1;
		}
		return s;
	}
	return x * log(x / np) + np - x;
}

/* log(e^-y y^x / Gamma(x+1)), the Poisson "density" at real x; y > 0. */
static double log_poisson_density(double x, double y)
{
	if (x < 10.0) {
		int sign;
		return -y + x * log(y) - lgamma_r(x + 1.0, &sign);
	}
	return -stirlerr(x) - bd0(x, y) - 0.5 * (LN_2PI + log(x));
}

struct gsum {
	double log_s; /* log S(x, y) >= 0 */
	double m;     /* sum j t_j / S: mean queue position given "queued" */
	int cf;       /* 1: computed by the continued fraction; log_p is set */
	double log_p; /* cf only: log P(x, y), the regularized lower gamma */
};

/* S(x, y) and m for x >= 0, y >= 0. See the file comment. */
static void gamma_sum(double x, double y, struct gsum *g)
{
	g->cf = 0;
	g->log_p = 0.0;
	if (y == 0.0) {
		g->log_s = 0.0;
		g->m = 0.0;
		return;
	}
	if (x == 0.0) {
		/* t_j = y^j / j!: S = e^y, m = y (no agents: everyone queues) */
		g->log_s = y;
		g->m = y;
		return;
	}
	if (y < x + 1.0) {
		/*
		 * Every ratio y/(x+j) < 1, so terms fall from t_0 = 1: no
		 * overflow, no cancellation. Stop when a geometric bound on the
		 * tails of both sums is below 1e-17 of the sums.
		 */
		double term = 1.0, s = 1.0, sj = 0.0;
		for (long j = 1;; j++) {
			term *= y / (x + (double)j);
			s += term;
			sj += (double)j * term;
			double r1 = y / (x + (double)j + 1.0);
			double g1 = r1 / (1.0 - r1);
			double tail_s = term * g1;
			double tail_sj = term * ((double)j * g1 + g1 / (1.0 - r1));
			if (tail_s <= 1e-17 * s && tail_sj <= 1e-17 * sj)
				break;
		}
		g->log_s = log(s);
		g->m = sj / s;
		return;
	}

	/*
	 * y >= x + 1: Q(x, y) by the Legendre continued fraction (modified
	 * Lentz), Q = e^-y y^x / Gamma(x) * h, hence Q / D = x h with D the
	 * Poisson density above, and S = P / D = (1 - Q) / D. Here Q < 1/2
	 * or so, so 1 - Q loses nothing.
	 */
	const double tiny = 1e-300;
	double b = y + 1.0 - x, c = 1.0 / tiny, d = 1.0 / b, h = d;
	for (long i = 1; i < 100000000L; i++) {
		double an = -(double)i * ((double)i - x);
		b += 2.0;
		d = an * d + b;
		if (fabs(d) < tiny)
			d = tiny;
		c = b + an / c;
		if (fabs(c) < tiny)
			c = tiny;
		d = 1.0 / d;
		double del = d * c;
		h *= del;
		if (fabs(del - 1.0) <= 2.0 * DBL_EPSILON)
			break;
	}
	double log_d = log_poisson_density(x, y);
	double q = exp(log(x * h) + log_d);
	g->cf = 1;
	g->log_p = log1p(-q);
	g->log_s = -log_d + g->log_p;
	/* M = sum j t_j = x + (y - x) S; both terms >= 0 here */
	g->m = x * exp(-g->log_s) + (y - x);
}

/* ---------------------------------------------------------------------- */
/* The three models                                                        */
/* ---------------------------------------------------------------------- */

static void fill_sl(struct wfm_result *r, double sl)
{
	r->service_level = sl;
	r->sl_answered = sl;
	r->sl_excluding_short_abandons = sl;
	r->sl_wait_le_t = sl;
}

static void eval_b(double a, long n, struct wfm_result *r)
{
	struct inv_b ib;
	inv_erlang_b(n, a, &ib);
	r->p_block = ib.b;
	r->p_wait = 0.0;
	r->mean_wait_s = 0.0;
	r->mean_queue_len = 0.0;
	r->occupancy = n > 0 ? a * (1.0 - ib.b) / (double)n : 0.0;
	/* blocked calls are never answered; the others are answered at once */
	fill_sl(r, 1.0 - ib.b);
}

static void eval_c(double a, double aht, long n, double t,
		   struct wfm_result *r)
{
	double dn = (double)n;
	if (a >= dn) {
		/* no steady state: the queue grows without bound */
		r->p_wait = 1.0;
		r->mean_wait_s = INFINITY;
		r->mean_queue_len = INFINITY;
		r->occupancy = n > 0 ? 1.0 : 0.0;
		fill_sl(r, 0.0);
		return;
	}
	struct inv_b ib;
	inv_erlang_b(n, a, &ib);
	double c = erlang_c_from_b(n, a, ib.b);
	r->p_wait = c;
	r->mean_wait_s = c * aht / (dn - a);
	r->mean_queue_len = c * a / (dn - a);
	r->occupancy = a / dn;
	/* W | W > 0 ~ Exp((n - a) / aht) */
	fill_sl(r, 1.0 - c * exp(-(dn - a) * t / aht));
}

/*
 * Erlang A. x = n mu / theta, y = lambda / theta; pi_n (the probability of
 * exactly n in system) = (1/S) / den with den = (1/B)(1/S) + 1 - 1/S.
 * docs/WFM.md derives each line.
 */
static void eval_a(double lambda, double aht, double patience, long n,
		   double t, struct wfm_result *r)
{
	double mu = 1.0 / aht, theta = 1.0 / patience;
	double a = lambda * aht;
	double x = (double)n * patience / aht;
	double y = lambda * patience;
	struct inv_b ib;
	struct gsum g;

	inv_erlang_b(n, a, &ib);
	gamma_sum(x, y, &g);

	double one_m_r = -expm1(-g.log_s); /* 1 - 1/S */
	double u = ib.log_x - g.log_s;     /* log((1/B)(1/S)) */
	double log_den = u > 0.0 ? u + log1p(one_m_r * exp(-u))
				 : log(exp(u) + one_m_r);
	double inv_den = exp(-log_den);

	double eq = g.m * inv_den; /* E[queue length] */
	r->p_wait = inv_den;       /* P(N >= n) = pi_n S */
	r->mean_queue_len = eq;
	r->mean_wait_s = eq / lambda; /* Little's law over all arrivals */
	r->p_abandon = eq / y;        /* theta E[Q] / lambda */
	r->occupancy = n > 0 ? a * (1.0 - r->p_abandon) / (double)n : 0.0;

	double p_w_gt_t, p_ab_gt_t;
	if (t > 0.0) {
		/*
		 * The offered wait V: P(V > t) = P(V > 0) P(x, y q) / P(x, y)
		 * with q = e^{-theta t} and P the regularized lower incomplete
		 * gamma function (docs/WFM.md). Then P(W > t) = P(V > t) q, and
		 * the callers who abandon after waiting more than t are
		 * P(V > t) m(x, y q) / y.
		 *
		 * The ratio is taken in whichever form avoids subtracting large
		 * logarithms: when S came from the continued fraction, log S is
		 * as large as y - x and only log P is O(1).
		 */
		double q = exp(-theta * t);
		struct gsum gq;
		gamma_sum(x, y * q, &gq);
		double log_ratio;
		if (!g.cf) {
			/* both by series: log S are small; K = e^{-x theta t + y (1-q)} */
			double log_k = -(double)n * mu * t - y * expm1(-theta * t);
			log_ratio = log_k + gq.log_s - g.log_s;
		} else if (gq.cf) {
			log_ratio = gq.log_p - g.log_p;
		} else {
			log_ratio = log_poisson_density(x, y * q) + gq.log_s - g.log_p;
		}
		double p_v_gt_t = r->p_wait * fmin(1.0, exp(log_ratio));
		p_w_gt_t = p_v_gt_t * q;
		p_ab_gt_t = p_v_gt_t * gq.m / y;
	} else {
		p_w_gt_t = r->p_wait;
		p_ab_gt_t = r->p_abandon;
	}
	double p_ab_le_t = fmax(0.0, r->p_abandon - p_ab_gt_t);
	double answered = fmax(0.0, 1.0 - p_w_gt_t - p_ab_le_t);
	r->sl_answered = answered;
	r->sl_wait_le_t = 1.0 - p_w_gt_t;
	r->sl_excluding_short_abandons =
		p_ab_le_t < 1.0 ? fmin(1.0, answered / (1.0 - p_ab_le_t)) : 0.0;
	r->service_level = answered;
}

static int load_ok(const struct wfm_load *l)
{
	if (!l)
		return 0;
	if (l->model != WFM_ERLANG_B && l->model != WFM_ERLANG_C &&
	    l->model != WFM_ERLANG_A)
		return 0;
	if (!(l->calls >= 0.0) || !isfinite(l->calls))
		return 0;
	if (!(l->period_s > 0.0) || !isfinite(l->period_s))
		return 0;
	if (!(l->aht_s > 0.0) || !isfinite(l->aht_s))
		return 0;
	if (!(l->sl_seconds >= 0.0) || !isfinite(l->sl_seconds))
		return 0;
	if (l->model == WFM_ERLANG_A &&
	    (!(l->patience_s > 0.0) || !isfinite(l->patience_s)))
		return 0;
	/*
	 * The Erlang A sums take up to ~9 sqrt(n patience / aht) terms near
	 * critical load; past 1e8 handle times of patience the answer equals
	 * Erlang C to 1e-8 anyway, so refuse rather than spin.
	 */
	if (l->model == WFM_ERLANG_A && l->patience_s / l->aht_s > 1e8)
		return 0;
	/* beyond this the traffic itself is not a meaningful staffing input */
	if (l->calls * l->aht_s / l->period_s > 1e12)
		return 0;
	return 1;
}

int wfm_evaluate(const struct wfm_load *load, long agents,
		 struct wfm_result *out)
{
	if (!load_ok(load) || !out || agents < 0 || agents > WFM_MAX_AGENTS)
		return -EINVAL;

	struct wfm_result r = {0};
	double lambda = load->calls / load->period_s;
	double a = lambda * load->aht_s;
	r.model = load->model;
	r.agents = agents;
	r.traffic_erlangs = a;

	if (lambda == 0.0) {
		/* nobody calls: nobody waits, every (zero) call is on time */
		fill_sl(&r, 1.0);
		*out = r;
		return 0;
	}
	switch (load->model) {
	case WFM_ERLANG_B:
		eval_b(a, agents, &r);
		break;
	case WFM_ERLANG_C:
		eval_c(a, load->aht_s, agents, load->sl_seconds, &r);
		break;
	case WFM_ERLANG_A:
		eval_a(lambda, load->aht_s, load->patience_s, agents,
		       load->sl_seconds, &r);
		break;
	}
	*out = r;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Inverse problems                                                        */
/* ---------------------------------------------------------------------- */

void wfm_target_init(struct wfm_target *t)
{
	t->min_service_level = -1.0;
	t->sl_def = WFM_SL_ANSWERED;
	t->max_mean_wait_s = -1.0;
	t->max_p_abandon = -1.0;
	t->max_p_block = -1.0;
	t->max_occupancy = -1.0;
}

static int target_set(double v)
{
	return v >= 0.0;
}

/* 0 ok, -EINVAL malformed, -ERANGE unreachable with any finite staff. */
static int target_check(const struct wfm_target *t, double calls)
{
	if (!t)
		return -EINVAL;
	int any = 0;
	if (target_set(t->min_service_level)) {
		if (t->min_service_level > 1.0 ||
		    (t->sl_def != WFM_SL_ANSWERED &&
		     t->sl_def != WFM_SL_EXCLUDING_SHORT_ABANDONS &&
		     t->sl_def != WFM_SL_WAIT_LE_T))
			return -EINVAL;
		any = 1;
	}
	if (target_set(t->max_mean_wait_s)) {
		if (!isfinite(t->max_mean_wait_s))
			return -EINVAL;
		any = 1;
	}
	if (target_set(t->max_p_abandon)) {
		if (t->max_p_abandon > 1.0)
			return -EINVAL;
		any = 1;
	}
	if (target_set(t->max_p_block)) {
		if (t->max_p_block > 1.0)
			return -EINVAL;
		any = 1;
	}
	if (target_set(t->max_occupancy)) {
		if (t->max_occupancy == 0.0 || t->max_occupancy > 1.0)
			return -EINVAL;
		any = 1;
	}
	if (!any)
		return -EINVAL;
	/*
	 * With any traffic at all these stay strictly inside (0, 1): ask for
	 * them exactly and no finite staff will do (the search would only
	 * find where the double rounds to the target).
	 */
	if (calls > 0.0 &&
	    (t->min_service_level >= 1.0 || t->max_p_abandon == 0.0 ||
	     t->max_p_block == 0.0 || t->max_mean_wait_s == 0.0))
		return -ERANGE;
	return 0;
}

static double pick_sl(const struct wfm_result *r, enum wfm_sl_def d)
{
	switch (d) {
	case WFM_SL_EXCLUDING_SHORT_ABANDONS:
		return r->sl_excluding_short_abandons;
	case WFM_SL_WAIT_LE_T:
		return r->sl_wait_le_t;
	case WFM_SL_ANSWERED:
		break;
	}
	return r->sl_answered;
}

static int meets(const struct wfm_result *r, const struct wfm_target *t)
{
	/* an unstable Erlang C queue meets nothing, whatever its occupancy */
	if (isinf(r->mean_wait_s))
		return 0;
	if (target_set(t->min_service_level) &&
	    !(pick_sl(r, t->sl_def) >= t->min_service_level))
		return 0;
	if (target_set(t->max_mean_wait_s) &&
	    !(r->mean_wait_s <= t->max_mean_wait_s))
		return 0;
	if (target_set(t->max_p_abandon) && !(r->p_abandon <= t->max_p_abandon))
		return 0;
	if (target_set(t->max_p_block) && !(r->p_block <= t->max_p_block))
		return 0;
	if (target_set(t->max_occupancy) && !(r->occupancy <= t->max_occupancy))
		return 0;
	return 1;
}

int wfm_staff(const struct wfm_load *load, const struct wfm_target *t,
	      long *agents, struct wfm_result *out)
{
	if (!load_ok(load) || !agents)
		return -EINVAL;
	int err = target_check(t, load->calls);
	if (err)
		return err;

	struct wfm_result r;
	if (load->calls == 0.0) {
		wfm_evaluate(load, 0, &r);
		*agents = 0;
		if (out)
			*out = r;
		return 0;
	}

	/*
	 * With traffic, zero agents never count (they would "meet" an
	 * occupancy cap vacuously). Grow hi by doubling from the traffic until
	 * it meets the targets, then bisect (lo fails, hi meets). Each measure
	 * is monotone in the agent count, so the bisection is exact.
	 */
	double a = load->calls * load->aht_s / load->period_s;
	long lo = 0;
	long hi = (long)fmin(ceil(a), (double)WFM_MAX_AGENTS);
	if (hi < 1)
		hi = 1;
	for (;;) {
		wfm_evaluate(load, hi, &r);
		if (meets(&r, t))
			break;
		if (hi == WFM_MAX_AGENTS)
			return -ERANGE;
		lo = hi;
		hi = hi > WFM_MAX_AGENTS / 2 ? WFM_MAX_AGENTS : 2 * hi;
	}
	struct wfm_result best = r;
	while (hi - lo > 1) {
		long mid = lo + (hi - lo) / 2;
		wfm_evaluate(load, mid, &r);
		if (meets(&r, t)) {
			hi = mid;
			best = r;
		} else {
			lo = mid;
		}
	}
	*agents = hi;
	if (out)
		*out = best;
	return 0;
}

int wfm_max_calls(const struct wfm_load *load, long agents,
		  const struct wfm_target *t, double *calls,
		  struct wfm_result *out)
{
	if (!load_ok(load) || !calls || agents < 0 || agents > WFM_MAX_AGENTS)
		return -EINVAL;
	int err = target_check(t, 0.0);
	if (err)
		return err;

	struct wfm_load l = *load;
	struct wfm_result r;
	l.calls = 0.0;
	wfm_evaluate(&l, agents, &r);
	if (!meets(&r, t))
		return -ERANGE;
	struct wfm_result best = r;

	/* Bracket: lo meets, hi fails. Start at the traffic agents can serve. */
	double lo = 0.0;
	double hi = fmax((double)agents, 1.0) * l.period_s / l.aht_s;
	double cap = 1e12 * l.period_s / l.aht_s; /* load_ok's traffic limit */
	for (;;) {
		l.calls = fmin(hi, cap);
		wfm_evaluate(&l, agents, &r);
		if (!meets(&r, t))
			break;
		if (l.calls >= cap)
			return -ERANGE; /* the targets never bind */
		lo = l.calls;
		best = r;
		hi *= 2.0;
	}
	hi = l.calls;
	for (int i = 0; i < 200 && hi - lo > 1e-13 * hi; i++) {
		l.calls = 0.5 * (lo + hi);
		wfm_evaluate(&l, agents, &r);
		if (meets(&r, t)) {
			lo = l.calls;
			best = r;
		} else {
			hi = l.calls;
		}
	}
	*calls = lo;
	if (out)
		*out = best;
	return 0;
}

long wfm_scheduled_staff(long agents, double shrinkage)
{
	if (agents < 0 || !(shrinkage >= 0.0) || !(shrinkage < 1.0))
		return -EINVAL;
	double q = (double)agents / (1.0 - shrinkage);
	double c = ceil(q - 1e-9 * fmax(1.0, q));
	if (c > (double)(WFM_MAX_AGENTS * 100L))
		return -EINVAL;
	return (long)c;
}

const char *wfm_model_name(enum wfm_model m)
{
	switch (m) {
	case WFM_ERLANG_B:
		return "Erlang B";
	case WFM_ERLANG_C:
		return "Erlang C";
	case WFM_ERLANG_A:
		return "Erlang A";
	}
	return "?";
}

const char *wfm_sl_def_name(enum wfm_sl_def d)
{
	switch (d) {
	case WFM_SL_ANSWERED:
		return "answered";
	case WFM_SL_EXCLUDING_SHORT_ABANDONS:
		return "excluding_short_abandons";
	case WFM_SL_WAIT_LE_T:
		return "wait_le_t";
	}
	return "?";
}
