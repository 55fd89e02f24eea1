/*
 * wfm_forecast.c: forecasts of arrivals and handle times per 15-minute
 * interval, their rolling-origin backtests, the choice of method by
 * backtest, and the intraday re-forecast.
 *
 * Three methods (docs/WFM.md, "Forecasting"): the weekly seasonal naive
 * forecast, the historical average of the same interval of the week, and
 * an additive double-seasonal Holt-Winters model (Taylor 2003) with a
 * daily (96) and a weekly (672) season in error-correction form. Excluded
 * intervals (holidays, outages) are skipped by the first two and replaced
 * by the model's own one-step forecast in Holt-Winters, so they neither
 * teach the model nor count in backtests. Overrides then write known
 * special days into the horizon.
 *
 * Pure: no I/O, no clock, no global state. wfm_forecast() does not
 * allocate (the Holt-Winters state, 768 doubles, lives on the stack);
 * wfm_backtest() and wfm_fc_select() allocate one horizon of doubles.
 */
#include "wfm/wfm.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The Holt-Winters grid (used when a parameter is negative). Small on
 * purpose: each point is one pass over the history, and the bench fits two
 * years of 200 queues. */
static const double hw_alphas[] = {0.01, 0.05, 0.2};
static const double hw_gammas[] = {0.02, 0.1};

void wfm_fc_opts_init(struct wfm_fc_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->hw_alpha = -1.0;
	o->hw_gamma_day = -1.0;
	o->hw_gamma_week = -1.0;
	o->floor = 0.0;
}

const char *wfm_fc_method_name(enum wfm_fc_method m)
{
	switch (m) {
	case WFM_FC_SEASONAL_NAIVE: return "seasonal_naive";
	case WFM_FC_HIST_AVERAGE: return "historical_average";
	case WFM_FC_HOLT_WINTERS: return "holt_winters";
	default: return "?";
	}
}

/* y[i] usable for fitting: finite and not excluded. */
static int usable(const double *y, const unsigned char *ex, size_t i)
{
	return isfinite(y[i]) && !(ex && ex[i]);
}

static int seasonal_naive(const double *y, size_t n, const unsigned char *ex,
			  double *out, size_t h)
{
	if (n < WFM_FC_WEEK)
		return -ENODATA;
	for (size_t k = 0; k < h; k++) {
		/* The most recent same interval of the week before n. */
		size_t back = (k / WFM_FC_WEEK + 1) * WFM_FC_WEEK;
		size_t t = n + k;
		int found = 0;
		while (back <= t) {
			size_t i = t - back;
			if (usable(y, ex, i)) {
				out[k] = y[i];
				found = 1;
				break;
			}
			back += WFM_FC_WEEK;
		}
		if (!found)
			return -ENODATA;
	}
	return 0;
}

static int hist_average(const double *y, size_t n, const unsigned char *ex,
			unsigned weeks, double *out, size_t h)
{
	double sum[WFM_FC_WEEK];
	unsigned cnt[WFM_FC_WEEK];
	if (n < WFM_FC_WEEK)
		return -ENODATA;
	memset(sum, 0, sizeof(sum));
	memset(cnt, 0, sizeof(cnt));
	size_t start = 0;
	if (weeks && (size_t)weeks * WFM_FC_WEEK < n)
		start = n - (size_t)weeks * WFM_FC_WEEK;
	for (size_t i = start; i < n; i++) {
		if (!usable(y, ex, i))
			continue;
		sum[i % WFM_FC_WEEK] += y[i];
		cnt[i % WFM_FC_WEEK]++;
	}
	for (size_t k = 0; k < h; k++) {
		size_t s = (n + k) % WFM_FC_WEEK;
		if (!cnt[s])
			return -ENODATA;
		out[k] = sum[s] / cnt[s];
	}
	return 0;
}

/* Holt-Winters state: level and the two seasonal ring buffers, indexed by
 * t mod 96 and t mod 672 (t counted from y[0]). */
struct hw {
	double level;
	double day[WFM_FC_DAY];
	double week[WFM_FC_WEEK];
};

/*
 * Initial state from the first min(4, n / 672) weeks: the level is the
 * mean, the weekly profile is the mean of each interval of the week minus
 * the level, the daily profile is that averaged over the seven days, and
 * the weekly component keeps what the daily one does not explain. On a
 * pure double-seasonal series this decomposition is exact.
 */
static int hw_init(struct hw *s, const double *y, size_t n,
		   const unsigned char *ex)
{
	size_t weeks = n / WFM_FC_WEEK;
	if (weeks < 2)
		return -ENODATA;
	if (weeks > 4)
		weeks = 4;
	double w0[WFM_FC_WEEK];
	unsigned cnt[WFM_FC_WEEK];
	double tot = 0.0;
	unsigned ntot = 0;
	for (size_t j = 0; j < WFM_FC_WEEK; j++) {
		w0[j] = 0.0;
		cnt[j] = 0;
		for (size_t k = 0; k < weeks; k++) {
			size_t i = k * WFM_FC_WEEK + j;
			if (usable(y, ex, i)) {
				w0[j] += y[i];
				cnt[j]++;
			}
		}
		if (cnt[j]) {
			w0[j] /= cnt[j];
			tot += w0[j];
			ntot++;
		}
	}
	if (ntot == 0)
		return -ENODATA;
	s->level = tot / ntot;
	/* Daily profile from the intervals of the day that have data. */
	for (size_t i = 0; i < WFM_FC_DAY; i++) {
		double d = 0.0;
		unsigned c = 0;
		for (size_t k = 0; k < 7; k++) {
			size_t j = k * WFM_FC_DAY + i;
			if (cnt[j]) {
				d += w0[j] - s->level;
				c++;
			}
		}
		s->day[i] = c ? d / c : 0.0;
	}
	for (size_t j = 0; j < WFM_FC_WEEK; j++)
		s->week[j] = cnt[j] ? w0[j] - s->level - s->day[j % WFM_FC_DAY]
				    : 0.0;
	return 0;
}

/* Runs the recursion over y[0..n) from the initial state; returns the sum
 * of squared one-step errors from the second week on. */
static double hw_run(struct hw *s, const double *y, size_t n,
		     const unsigned char *ex, double a, double gd, double gw)
{
	double sse = 0.0;
	double level = s->level;
	size_t id = 0, iw = 0;
	for (size_t t = 0; t < n; t++) {
		double f = level + s->day[id] + s->week[iw];
		if (usable(y, ex, t)) {
			double e = y[t] - f;
			level += a * e;
			s->day[id] += gd * e;
			s->week[iw] += gw * e;
			if (t >= WFM_FC_WEEK)
				sse += e * e;
		}
		if (++id == WFM_FC_DAY)
			id = 0;
		if (++iw == WFM_FC_WEEK)
			iw = 0;
	}
	s->level = level;
	return sse;
}

/* Grid points evaluated together: at most 3 x 2 x 2. */
#define HW_MAXK 12

/*
 * hw_run() for K parameter sets at once, returning only each set's sum of
 * squared one-step errors. One pass instead of K: the recursion is bound by
 * the latency of its level update (each step waits for the last), and K
 * independent chains side by side fill the pipeline. The arithmetic per
 * set is hw_run()'s, in the same order. The state, about 74 KiB, lives on
 * the stack.
 */
static void hw_grid(const struct hw *init, const double *y, size_t n,
		    const unsigned char *ex, size_t K, const double *a,
		    const double *gd, const double *gw, double *sse)
{
	double lv[HW_MAXK], sum[HW_MAXK];
	double day[WFM_FC_DAY][HW_MAXK], week[WFM_FC_WEEK][HW_MAXK];
	for (size_t k = 0; k < K; k++) {
		lv[k] = init->level;
		sum[k] = 0.0;
		for (size_t i = 0; i < WFM_FC_DAY; i++)
			day[i][k] = init->day[i];
		for (size_t j = 0; j < WFM_FC_WEEK; j++)
			week[j][k] = init->week[j];
	}
	size_t id = 0, iw = 0;
	for (size_t t = 0; t < n; t++) {
		if (usable(y, ex, t)) {
			double *d = day[id], *w = week[iw];
			int count = t >= WFM_FC_WEEK;
			for (size_t k = 0; k < K; k++) {
				double e = y[t] - (lv[k] + d[k] + w[k]);
				lv[k] += a[k] * e;
				d[k] += gd[k] * e;
				w[k] += gw[k] * e;
				if (count)
					sum[k] += e * e;
			}
		}
		if (++id == WFM_FC_DAY)
			id = 0;
		if (++iw == WFM_FC_WEEK)
			iw = 0;
	}
	for (size_t k = 0; k < K; k++)
		sse[k] = sum[k];
}

static int hw_choose(const double *y, size_t n, const struct wfm_fc_opts *o,
		     const struct hw *init, double *pa, double *pd, double *pw)
{
	const double *as = hw_alphas, *ds = hw_gammas, *ws = hw_gammas;
	size_t na = sizeof(hw_alphas) / sizeof(hw_alphas[0]);
	size_t nd = sizeof(hw_gammas) / sizeof(hw_gammas[0]), nw = nd;
	if (o->hw_alpha >= 0.0) {
		as = &o->hw_alpha;
		na = 1;
	}
	if (o->hw_gamma_day >= 0.0) {
		ds = &o->hw_gamma_day;
		nd = 1;
	}
	if (o->hw_gamma_week >= 0.0) {
		ws = &o->hw_gamma_week;
		nw = 1;
	}
	*pa = as[0];
	*pd = ds[0];
	*pw = ws[0];
	if (na * nd * nw == 1)
		return 0;
	double a[HW_MAXK], gd[HW_MAXK], gw[HW_MAXK], sse[HW_MAXK];
	size_t K = 0;
	for (size_t i = 0; i < na; i++)
		for (size_t j = 0; j < nd; j++)
			for (size_t k = 0; k < nw; k++) {
				a[K] = as[i];
				gd[K] = ds[j];
				gw[K] = ws[k];
				K++;
			}
	hw_grid(init, y, n, o->exclude, K, a, gd, gw, sse);
	double best = INFINITY;
	for (size_t k = 0; k < K; k++)
		/* strictly better only: ties keep the earlier (smaller)
		 * parameters */
		if (sse[k] < best) {
			best = sse[k];
			*pa = a[k];
			*pd = gd[k];
			*pw = gw[k];
		}
	return 0;
}

static int check_params(const struct wfm_fc_opts *o)
{
	if (o->hw_alpha > 1.0 || o->hw_gamma_day > 1.0 ||
	    o->hw_gamma_week > 1.0 || isnan(o->hw_alpha) ||
	    isnan(o->hw_gamma_day) || isnan(o->hw_gamma_week) ||
	    isnan(o->floor) || (o->n_overrides && !o->overrides))
		return -EINVAL;
	return 0;
}

int wfm_fc_hw_params(const double *y, size_t n, const struct wfm_fc_opts *o,
		     double *alpha, double *gamma_day, double *gamma_week)
{
	struct wfm_fc_opts def;
	if (!o) {
		wfm_fc_opts_init(&def);
		o = &def;
	}
	if (!y || !alpha || !gamma_day || !gamma_week || check_params(o))
		return -EINVAL;
	struct hw init;
	int rc = hw_init(&init, y, n, o->exclude);
	if (rc)
		return rc;
	return hw_choose(y, n, o, &init, alpha, gamma_day, gamma_week);
}

static int holt_winters(const double *y, size_t n, const struct wfm_fc_opts *o,
			double *out, size_t h)
{
	struct hw init, s;
	int rc = hw_init(&init, y, n, o->exclude);
	if (rc)
		return rc;
	double a, gd, gw;
	hw_choose(y, n, o, &init, &a, &gd, &gw);
	s = init;
	hw_run(&s, y, n, o->exclude, a, gd, gw);
	for (size_t k = 0; k < h; k++)
		out[k] = s.level + s.day[(n + k) % WFM_FC_DAY] +
			 s.week[(n + k) % WFM_FC_WEEK];
	return 0;
}

int wfm_forecast(enum wfm_fc_method m, const double *y, size_t n,
		 const struct wfm_fc_opts *o, double *out, size_t h)
{
	struct wfm_fc_opts def;
	if (!o) {
		wfm_fc_opts_init(&def);
		o = &def;
	}
	if (!y || (!out && h) || check_params(o))
		return -EINVAL;
	int rc;
	switch (m) {
	case WFM_FC_SEASONAL_NAIVE:
		rc = seasonal_naive(y, n, o->exclude, out, h);
		break;
	case WFM_FC_HIST_AVERAGE:
		rc = hist_average(y, n, o->exclude, o->hist_weeks, out, h);
		break;
	case WFM_FC_HOLT_WINTERS:
		rc = holt_winters(y, n, o, out, h);
		break;
	default:
		return -EINVAL;
	}
	if (rc)
		return rc;
	for (unsigned v = 0; v < o->n_overrides; v++) {
		const struct wfm_fc_override *ov = &o->overrides[v];
		for (size_t k = ov->start; k < h && k - ov->start < ov->len; k++)
			out[k] = ov->profile ? ov->profile[k - ov->start]
					     : out[k] * ov->scale;
	}
	for (size_t k = 0; k < h; k++)
		if (out[k] < o->floor)
			out[k] = o->floor;
	return 0;
}

/* ---- error measures ---------------------------------------------------- */

static int scored(const double *a, const double *f, const unsigned char *ex,
		  size_t i)
{
	return isfinite(a[i]) && isfinite(f[i]) && !(ex && ex[i]);
}

double wfm_wape(const double *actual, const double *forecast, size_t n,
		const unsigned char *exclude)
{
	double num = 0.0, den = 0.0;
	for (size_t i = 0; i < n; i++) {
		if (!scored(actual, forecast, exclude, i))
			continue;
		num += fabs(actual[i] - forecast[i]);
		den += fabs(actual[i]);
	}
	return den > 0.0 ? num / den : NAN;
}

double wfm_mase_scale(const double *train, size_t n_train, size_t lag,
		      const unsigned char *exclude)
{
	double sum = 0.0;
	size_t c = 0;
	if (lag == 0)
		return NAN;
	for (size_t i = lag; i < n_train; i++) {
		if (!usable(train, exclude, i) || !usable(train, exclude, i - lag))
			continue;
		sum += fabs(train[i] - train[i - lag]);
		c++;
	}
	return c ? sum / (double)c : NAN;
}

/* |e| / scale with 0/0 = 0 (a perfect forecast of a series the naive
 * method also gets right) and e/0 = infinity. */
static double scaled_err(double e, double scale)
{
	e = fabs(e);
	if (scale > 0.0)
		return e / scale;
	return e == 0.0 ? 0.0 : INFINITY;
}

double wfm_mase(const double *actual, const double *forecast, size_t n,
		const unsigned char *exclude, double scale)
{
	double sum = 0.0;
	size_t c = 0;
	if (!(scale >= 0.0))
		return NAN;
	for (size_t i = 0; i < n; i++) {
		if (!scored(actual, forecast, exclude, i))
			continue;
		sum += scaled_err(actual[i] - forecast[i], scale);
		c++;
	}
	return c ? sum / (double)c : NAN;
}

int wfm_backtest(enum wfm_fc_method m, const double *y, size_t n,
		 const struct wfm_fc_opts *o, size_t h, unsigned n_origins,
		 size_t step, double *wape, double *mase, double *wape_all,
		 double *mase_all)
{
	struct wfm_fc_opts bo;
	if (o)
		bo = *o;
	else
		wfm_fc_opts_init(&bo);
	bo.overrides = NULL;
	bo.n_overrides = 0;
	if (!y || h == 0 || n_origins == 0 || (n_origins > 1 && step == 0) ||
	    (unsigned)m >= WFM_FC_METHODS || check_params(&bo))
		return -EINVAL;
	size_t span = h + (size_t)(n_origins - 1) * step;
	if ((n_origins > 1 && step > n) || span >= n)
		return -ENODATA;
	/* Per-step sums: |e|, |a|, scaled |e|, count; f holds one forecast. */
	double *buf = calloc(4 * h, sizeof(double));
	if (!buf)
		return -ENOMEM;
	double *se = buf, *sa = buf + h, *ss = buf + 2 * h, *f = buf + 3 * h;
	size_t *cnt = calloc(h, sizeof(size_t));
	if (!cnt) {
		free(buf);
		return -ENOMEM;
	}
	int rc = 0;
	for (unsigned k = n_origins; k-- > 0;) {
		size_t origin = n - h - (size_t)k * step;
		rc = wfm_forecast(m, y, origin, &bo, f, h);
		if (rc)
			break;
		double scale = wfm_mase_scale(y, origin, WFM_FC_WEEK, bo.exclude);
		for (size_t j = 0; j < h; j++) {
			size_t i = origin + j;
			if (!usable(y, bo.exclude, i) || !isfinite(f[j]))
				continue;
			double e = y[i] - f[j];
			se[j] += fabs(e);
			sa[j] += fabs(y[i]);
			ss[j] += isnan(scale) ? NAN : scaled_err(e, scale);
			cnt[j]++;
		}
	}
	if (rc == 0) {
		double te = 0.0, ta = 0.0, ts = 0.0;
		size_t tc = 0;
		for (size_t j = 0; j < h; j++) {
			if (wape)
				wape[j] = sa[j] > 0.0 ? se[j] / sa[j] : NAN;
			if (mase)
				mase[j] = cnt[j] ? ss[j] / (double)cnt[j] : NAN;
			te += se[j];
			ta += sa[j];
			ts += ss[j];
			tc += cnt[j];
		}
		if (wape_all)
			*wape_all = ta > 0.0 ? te / ta : NAN;
		if (mase_all)
			*mase_all = tc ? ts / (double)tc : NAN;
	}
	free(cnt);
	free(buf);
	return rc;
}

/* a < b with NAN worst. */
static int better(double a, double b)
{
	if (isnan(a))
		return 0;
	if (isnan(b))
		return 1;
	return a < b;
}

int wfm_fc_select(const double *y, size_t n, const struct wfm_fc_opts *o,
		  size_t h, unsigned n_origins, size_t step,
		  struct wfm_fc_choice *out)
{
	if (!out)
		return -EINVAL;
	int any = 0;
	out->method = WFM_FC_SEASONAL_NAIVE;
	for (int m = 0; m < WFM_FC_METHODS; m++) {
		out->wape[m] = out->mase[m] = NAN;
		out->status[m] = wfm_backtest((enum wfm_fc_method)m, y, n, o, h,
					      n_origins, step, NULL, NULL,
					      &out->wape[m], &out->mase[m]);
		if (out->status[m] == -EINVAL || out->status[m] == -ENOMEM)
			return out->status[m];
		if (out->status[m])
			continue;
		int mo = (int)out->method;
		int eq = out->wape[m] == out->wape[mo] ||
			 (isnan(out->wape[m]) && isnan(out->wape[mo]));
		if (!any || better(out->wape[m], out->wape[mo]) ||
		    (eq && better(out->mase[m], out->mase[mo])))
			out->method = (enum wfm_fc_method)m;
		any = 1;
	}
	return any ? 0 : -ENODATA;
}

/* ---- intraday ----------------------------------------------------------- */

void wfm_reforecast_opts_init(struct wfm_reforecast_opts *o)
{
	o->prior = 0.0;
	o->min_scale = 0.25;
	o->max_scale = 4.0;
}

int wfm_reforecast_intraday(const double *forecast, const double *actual,
			    size_t n, size_t elapsed,
			    const struct wfm_reforecast_opts *o, double *out,
			    double *scale_out)
{
	struct wfm_reforecast_opts def;
	if (!o) {
		wfm_reforecast_opts_init(&def);
		o = &def;
	}
	if (!forecast || !out || (elapsed && !actual) || elapsed > n ||
	    !(o->prior >= 0.0) || !(o->min_scale >= 0.0) ||
	    !(o->max_scale >= o->min_scale))
		return -EINVAL;
	double fa = o->prior, aa = o->prior;
	for (size_t i = 0; i < elapsed; i++) {
		if (isfinite(forecast[i]) && isfinite(actual[i])) {
			fa += forecast[i];
			aa += actual[i];
		}
	}
	double scale = fa > 0.0 ? aa / fa : 1.0;
	if (scale < o->min_scale)
		scale = o->min_scale;
	if (scale > o->max_scale)
		scale = o->max_scale;
	for (size_t i = 0; i < n; i++)
		out[i] = i < elapsed ? actual[i] : forecast[i] * scale;
	if (scale_out)
		*scale_out = scale;
	return 0;
}
