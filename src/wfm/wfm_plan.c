/*
 * wfm_plan.c: the arithmetic that turns what the event log says into plans
 * and back: per-interval series (arrivals, handle times) from raw contact
 * timings, the patience estimate for Erlang A, staffing per interval of a
 * forecast, and schedule adherence of one agent over a day. Pure: no I/O,
 * no clock (time is an argument), no allocation. The server (src/api/
 * api_wfm_data.c) reads the events and calls these; docs/WFM.md
 * ("Forecasts, staffing and adherence from the event log") states every
 * definition used here.
 */
#include "wfm/wfm.h"

#include <errno.h>
#include <math.h>
#include <string.h>

double wfm_patience_mle(double total_wait_s, double n_abandoned)
{
	if (!(total_wait_s >= 0) || !(n_abandoned >= 0) || !isfinite(total_wait_s) ||
	    !isfinite(n_abandoned))
		return NAN;
	if (n_abandoned == 0)
		return INFINITY;
	return total_wait_s / n_abandoned;
}

void wfm_plan_opts_init(struct wfm_plan_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->model = WFM_ERLANG_C;
	o->interval_s = 900;
	o->patience_s = INFINITY;
	o->sl_seconds = 20;
	o->target_sl = 0.8;
	o->shrinkage = 0;
	o->max_agents = 100000;
}

int wfm_staff_intervals(const struct wfm_plan_opts *o, const double *calls, const double *aht_s,
			size_t n, long *agents, long *scheduled, double *sl)
{
	if (!o || (n && (!calls || !aht_s || !agents)) || !(o->interval_s > 0) ||
	    !(o->target_sl > 0 && o->target_sl < 1) || !(o->sl_seconds >= 0) ||
	    !(o->shrinkage >= 0 && o->shrinkage < 1) || o->max_agents < 1 ||
	    (o->model != WFM_ERLANG_C && o->model != WFM_ERLANG_A))
		return -EINVAL;
	/* Erlang A without a finite patience is Erlang C (nobody abandons). */
	enum wfm_model m = o->model;
	if (m == WFM_ERLANG_A && !isfinite(o->patience_s))
		m = WFM_ERLANG_C;
	if (m == WFM_ERLANG_A && !(o->patience_s > 0))
		return -EINVAL;
	struct wfm_target t;
	wfm_target_init(&t);
	t.min_service_level = o->target_sl;
	for (size_t i = 0; i < n; i++) {
		agents[i] = 0;
		if (scheduled)
			scheduled[i] = 0;
		if (sl)
			sl[i] = NAN;
		if (!(calls[i] > 0) || !isfinite(calls[i]))
			continue; /* nothing to answer: nobody needed */
		if (!(aht_s[i] > 0) || !isfinite(aht_s[i]))
			return -EINVAL;
		struct wfm_load l = {.model = m, .calls = calls[i], .period_s = o->interval_s,
				     .aht_s = aht_s[i], .patience_s = o->patience_s,
				     .sl_seconds = o->sl_seconds};
		/* Patience far beyond the handle time is Erlang C to 1e-6 and
		 * outside Erlang A's accepted range. */
		if (m == WFM_ERLANG_A && l.patience_s > 1e8 * l.aht_s)
			l.model = WFM_ERLANG_C;
		struct wfm_result r;
		long a = 0;
		int err = wfm_staff(&l, &t, &a, &r);
		if (err == -ERANGE || (!err && a > o->max_agents)) {
			agents[i] = -1;
			if (scheduled)
				scheduled[i] = -1;
			continue;
		}
		if (err)
			return err;
		agents[i] = a;
		if (scheduled)
			scheduled[i] = wfm_scheduled_staff(a, o->shrinkage);
		if (sl)
			sl[i] = r.service_level;
	}
	return 0;
}

/* In adherence: scheduled to work and taking contacts (available, busy,
 * wrap-up), or scheduled off or on a break and not taking them (away,
 * offline). */
int wfm_adh_in(enum wfm_adh_sched s, enum wfm_adh_state a)
{
	int on = a == WFM_ADH_AVAILABLE || a == WFM_ADH_BUSY || a == WFM_ADH_WRAPUP;
	return s == WFM_ADH_WORK ? on : !on;
}

int wfm_adherence(const unsigned char *sched, size_t n, double interval_s, int64_t start_ms,
		  int64_t now_ms, enum wfm_adh_state initial, const struct wfm_adh_change *ch,
		  size_t n_ch, struct wfm_adh_interval *out, struct wfm_adh_total *tot)
{
	if ((n && (!sched || !out)) || !tot || !(interval_s > 0) || (n_ch && !ch) ||
	    (unsigned)initial >= WFM_ADH_STATES)
		return -EINVAL;
	int64_t len_ms = (int64_t)llround(interval_s * 1000.0);
	if (len_ms <= 0)
		return -EINVAL;
	for (size_t k = 0; k < n_ch; k++)
		if ((unsigned)ch[k].state >= WFM_ADH_STATES || (k && ch[k].t_ms < ch[k - 1].t_ms))
			return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (sched[i] > WFM_ADH_BREAK)
			return -EINVAL;
	memset(tot, 0, sizeof(*tot));
	enum wfm_adh_state cur = initial;
	size_t k = 0;
	/* changes before the day only set the starting state */
	while (k < n_ch && ch[k].t_ms <= start_ms)
		cur = ch[k++].state;
	for (size_t i = 0; i < n; i++) {
		struct wfm_adh_interval *o = &out[i];
		memset(o, 0, sizeof(*o));
		o->dominant = -1;
		int64_t a = start_ms + (int64_t)i * len_ms, b = a + len_ms;
		if (b > now_ms)
			b = now_ms;
		double held[WFM_ADH_STATES] = {0};
		int64_t t = a;
		while (t < b) {
			int64_t next = b;
			if (k < n_ch && ch[k].t_ms < next)
				next = ch[k].t_ms > t ? ch[k].t_ms : t;
			double secs = (double)(next - t) / 1000.0;
			held[cur] += secs;
			o->elapsed_s += secs;
			if (wfm_adh_in((enum wfm_adh_sched)sched[i], cur))
				o->in_s += secs;
			t = next;
			while (k < n_ch && ch[k].t_ms <= t)
				cur = ch[k++].state;
		}
		if (o->elapsed_s > 0) {
			int best = 0;
			for (int s = 1; s < WFM_ADH_STATES; s++)
				if (held[s] > held[best])
					best = s;
			o->dominant = best;
		}
		tot->elapsed_s += o->elapsed_s;
		tot->in_s += o->in_s;
		if (sched[i] != WFM_ADH_OFF) {
			tot->scheduled_s += o->elapsed_s;
			tot->scheduled_in_s += o->in_s;
		}
	}
	/* the state now, for the real-time view: every change up to now */
	while (k < n_ch && ch[k].t_ms <= now_ms)
		cur = ch[k++].state;
	tot->current = cur;
	return 0;
}
