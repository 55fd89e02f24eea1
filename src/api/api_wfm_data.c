/*
 * api_wfm_data.c: workforce figures from the server's own event log.
 *
 *   GET  /api/v1/wfm/forecast?queue=ID&days=N&horizon_days=H
 *   GET  /api/v1/wfm/staffing?queue=ID&...   (the forecast, staffed)
 *   POST /api/v1/wfm/staffing                (a given forecast, staffed)
 *   GET  /api/v1/wfm/adherence?date=YYYY-MM-DD
 *
 * A forecast is two hops off the web thread: a store read job collects one
 * queue's arrivals, handle times and waits per 15-minute interval
 * (api_wfm_read_queue: a few range scans of the events table by queue and
 * time, at most WFM_MAX_HISTORY_DAYS days), then a worker backtests,
 * forecasts and staffs it and renders the JSON (api_wfm_forecast). The
 * adherence report is one read job: published schedules, the agents' state
 * changes of the day, and the arithmetic of wfm_adherence(), which is
 * linear in the day's events. docs/WFM.md ("Forecasts, staffing and
 * adherence from the event log") defines every figure.
 */
#include "api/api_wfm_int.h"
#include "base/base.h"
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- shared helpers ---------------------------------------------------- */

int api_wfm_bad(struct wfm_perr *e, const char *field, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
	va_end(ap);
	snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
	return -EINVAL;
}

json_t *api_wfm_num(double x)
{
	return isfinite(x) ? json_real(x) : json_null();
}

/* Days since 1970-01-01 of a civil date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int api_wfm_parse_date(const char *s, int64_t *day_ms)
{
	if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -EINVAL;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -EINVAL;
	int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	unsigned m = (unsigned)((s[5] - '0') * 10 + (s[6] - '0'));
	unsigned d = (unsigned)((s[8] - '0') * 10 + (s[9] - '0'));
	static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (y < 1970 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return -EINVAL;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (m == 2 && d == 29 && !leap)
		return -EINVAL;
	*day_ms = days_from_civil(y, m, d) * WFM_DAY_MS;
	return 0;
}

void api_wfm_format_date(int64_t day_ms, char *buf, size_t size)
{
	char iso[32];
	base_iso8601(day_ms, iso, sizeof(iso));
	snprintf(buf, size, "%.10s", iso);
}

int api_wfm_weekday(int64_t day_ms)
{
	int64_t d = day_ms / WFM_DAY_MS; /* 1970-01-01 was a Thursday */
	return (int)(((d + 3) % 7 + 7) % 7);
}

int api_wfm_parse_hhmm(const char *s, unsigned *minutes)
{
	if (!s || strlen(s) != 5 || s[2] != ':')
		return -EINVAL;
	for (int i = 0; i < 5; i++)
		if (i != 2 && (s[i] < '0' || s[i] > '9'))
			return -EINVAL;
	unsigned h = (unsigned)((s[0] - '0') * 10 + (s[1] - '0'));
	unsigned m = (unsigned)((s[3] - '0') * 10 + (s[4] - '0'));
	if (m > 59 || h > 24 || (h == 24 && m))
		return -EINVAL;
	*minutes = h * 60 + m;
	return 0;
}

static void join_path(char *buf, size_t size, const char *path, const char *k)
{
	snprintf(buf, size, "%s%s%s", path, *path ? "." : "", k);
}

int api_wfm_known_keys(json_t *o, const char *const *keys, const char *path, struct wfm_perr *e)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		bool known = false;
		for (const char *const *p = keys; *p && !known; p++)
			known = strcmp(*p, k) == 0;
		if (!known) {
			char f[128];
			join_path(f, sizeof(f), path, k);
			return api_wfm_bad(e, f, "%s: unknown field", f);
		}
	}
	return 0;
}

int api_wfm_get_num(json_t *o, const char *k, const char *path, bool required, double def,
		    double lo, double hi, double *out, struct wfm_perr *e)
{
	json_t *v = json_object_get(o, k);
	char f[128];
	join_path(f, sizeof(f), path, k);
	if (!v || json_is_null(v)) {
		if (required)
			return api_wfm_bad(e, f, "%s: required field is missing", f);
		*out = def;
		return 0;
	}
	if (!json_is_number(v) || !(json_number_value(v) >= lo && json_number_value(v) <= hi))
		return api_wfm_bad(e, f, "%s: expected a number from %g to %g", f, lo, hi);
	*out = json_number_value(v);
	return 0;
}

/* ---- one queue's history from the event log ----------------------------- */

int api_wfm_qdata_init(struct wfm_qdata *q, int64_t queue_id, unsigned days, int64_t now_ms)
{
	memset(q, 0, sizeof(*q));
	q->queue_id = queue_id;
	q->days = days;
	q->now_ms = now_ms;
	q->day0_ms = now_ms - ((now_ms % WFM_DAY_MS) + WFM_DAY_MS) % WFM_DAY_MS;
	q->hist_start_ms = q->day0_ms - (int64_t)days * WFM_DAY_MS;
	q->n = (size_t)days * WFM_DAY_IV + WFM_DAY_IV;
	q->sl_fraction = 0.8;
	q->sl_seconds = 20;
	q->arrivals = calloc(q->n, sizeof(double));
	q->handle_sum = calloc(q->n, sizeof(double));
	q->handle_n = calloc(q->n, sizeof(double));
	q->talk_sum = calloc(q->n, sizeof(double));
	if (!q->arrivals || !q->handle_sum || !q->handle_n || !q->talk_sum) {
		api_wfm_qdata_free(q);
		return -ENOMEM;
	}
	return 0;
}

void api_wfm_qdata_free(struct wfm_qdata *q)
{
	free(q->arrivals);
	free(q->handle_sum);
	free(q->handle_n);
	free(q->talk_sum);
	q->arrivals = q->handle_sum = q->handle_n = q->talk_sum = NULL;
}

static int queue_row(const struct store_val *c, int n, void *arg)
{
	(void)n;
	struct wfm_qdata *q = arg;
	q->found = true;
	snprintf(q->queue_name, sizeof(q->queue_name), "%s", c[0].s ? c[0].s : "");
	json_t *doc = json_loads(c[1].s ? c[1].s : "{}", 0, NULL);
	json_t *sl = json_object_get(doc, "service_level");
	json_t *pct = json_object_get(sl, "percent"), *sec = json_object_get(sl, "seconds");
	if (json_is_number(pct)) {
		double f = json_number_value(pct) / 100.0;
		q->sl_fraction = f > 0.99 ? 0.99 : f < 0.01 ? 0.01 : f;
	}
	if (json_is_number(sec))
		q->sl_seconds = json_number_value(sec);
	json_decref(doc);
	return 1;
}

static long iv_of(const struct wfm_qdata *q, int64_t ts)
{
	if (ts < q->hist_start_ms)
		return -1;
	int64_t i = (ts - q->hist_start_ms) / WFM_IV_MS;
	return i < (int64_t)q->n ? (long)i : -1;
}

static int arrival_row(const struct store_val *c, int n, void *arg)
{
	(void)n;
	struct wfm_qdata *q = arg;
	long i = iv_of(q, c[0].i);
	if (i >= 0)
		q->arrivals[i] += 1;
	return 0;
}

/* The timings of one interaction, gathered from its events in id order. */
struct timing_walk {
	struct wfm_qdata *q;
	int64_t id;
	int64_t created, accepted, talk_end;
	bool done, left;
};

static int timing_row(const struct store_val *c, int n, void *arg)
{
	(void)n;
	struct timing_walk *w = arg;
	struct wfm_qdata *q = w->q;
	int64_t id = c[0].i, ts = c[2].i;
	const char *type = c[1].s ? c[1].s : "";
	if (id != w->id) {
		w->id = id;
		w->created = w->accepted = w->talk_end = 0;
		w->done = w->left = false;
	}
	if (!strcmp(type, "task.created")) {
		w->created = ts;
	} else if (!strcmp(type, "task.accepted")) {
		if (w->accepted)
			return 0;
		w->accepted = ts;
		if (w->created && !w->left) {
			q->wait_total_s += (double)(ts - w->created) / 1000.0;
			q->n_answered += 1;
		}
	} else if (!strcmp(type, "task.completed") || !strcmp(type, "task.wrapup_started")) {
		if (w->accepted && !w->talk_end)
			w->talk_end = ts;
	} else if (!strcmp(type, "task.done")) {
		if (!w->accepted || w->done)
			return 0;
		w->done = true;
		long i = iv_of(q, w->accepted);
		if (i >= 0) {
			q->handle_sum[i] += (double)(ts - w->accepted) / 1000.0;
			q->talk_sum[i] += (double)((w->talk_end ? w->talk_end : ts) - w->accepted) / 1000.0;
			q->handle_n[i] += 1;
		}
	} else if (w->created && !w->accepted && !w->left) {
		/* abandoned, cancelled, expired, overflowed before an answer */
		w->left = true;
		q->wait_total_s += (double)(ts - w->created) / 1000.0;
		if (!strcmp(type, "task.abandoned"))
			q->n_abandoned += 1;
		else
			q->n_left += 1;
	}
	return 0;
}

int api_wfm_read_queue(struct store_tx *tx, struct wfm_qdata *q)
{
	struct store_val pq[] = {store_int(q->queue_id)};
	int r = store_query(tx, "SELECT name, doc FROM queues WHERE tenant = 1 AND id = $1", pq, 1,
			    queue_row, q);
	if (r < 0)
		return r;
	if (!q->found)
		return 0;
	int64_t end = q->day0_ms + WFM_DAY_MS;
	struct store_val p[] = {store_int(q->queue_id), store_int(q->hist_start_ms), store_int(end)};
	r = store_query(tx,
			"SELECT ts FROM events WHERE tenant = 1 AND queue = $1 AND ts >= $2 AND ts < $3 "
			"AND type = 'task.created'",
			p, 3, arrival_row, q);
	if (r < 0)
		return r;
	struct timing_walk w = {.q = q, .id = -1};
	r = store_query(tx,
			"SELECT interaction, type, ts FROM events WHERE tenant = 1 AND queue = $1 "
			"AND ts >= $2 AND ts < $3 AND interaction IS NOT NULL AND type IN "
			"('task.created', 'task.accepted', 'task.completed', 'task.wrapup_started', "
			"'task.done', 'task.abandoned', 'task.cancelled', 'task.expired', "
			"'task.overflowed') ORDER BY interaction, id",
			p, 3, timing_row, &w);
	return r < 0 ? r : 0;
}

/* ---- forecasting (on a worker) --------------------------------------------- */

void api_wfm_fcast_free(struct wfm_fcast *f)
{
	free(f->arrivals);
	free(f->aht);
	f->arrivals = f->aht = NULL;
}

int api_wfm_forecast(const struct wfm_qdata *q, unsigned horizon_days, struct wfm_fcast *f)
{
	memset(f, 0, sizeof(*f));
	size_t nh = (size_t)q->days * WFM_DAY_IV;
	if (nh < WFM_FC_WEEK || !horizon_days)
		return -EINVAL;
	f->horizon_days = horizon_days;
	f->h = (size_t)horizon_days * WFM_DAY_IV;
	f->arrivals = calloc(f->h, sizeof(double));
	f->aht = calloc(f->h, sizeof(double));
	double *hs = malloc(nh * sizeof(double));
	if (!f->arrivals || !f->aht || !hs) {
		free(hs);
		api_wfm_fcast_free(f);
		return -ENOMEM;
	}
	struct wfm_fc_opts o;
	wfm_fc_opts_init(&o);
	/* Backtest: three origins a day apart, a horizon of up to a week,
	 * shortened until the first origin has a week of history. */
	f->bt_origins = 3;
	f->bt_h = f->h < WFM_FC_WEEK ? f->h : WFM_FC_WEEK;
	while (f->bt_h > WFM_DAY_IV && nh < f->bt_h + 2 * WFM_DAY_IV + WFM_FC_WEEK)
		f->bt_h -= WFM_DAY_IV;

	f->arr_status = wfm_fc_select(q->arrivals, nh, &o, f->bt_h, f->bt_origins, WFM_DAY_IV,
				      &f->arr_choice);
	f->arr_method = f->arr_status ? WFM_FC_HIST_AVERAGE : f->arr_choice.method;
	int r = wfm_forecast(f->arr_method, q->arrivals, nh, &o, f->arrivals, f->h);
	if (r) {
		f->arr_method = WFM_FC_HIST_AVERAGE;
		r = wfm_forecast(f->arr_method, q->arrivals, nh, &o, f->arrivals, f->h);
	}
	if (r) {
		free(hs);
		api_wfm_fcast_free(f);
		return r == -ENOMEM ? r : -EINVAL;
	}

	/* Handle times: the mean per interval where there were any. */
	double tot = 0, cnt = 0;
	for (size_t i = 0; i < q->n; i++) {
		tot += q->handle_sum[i];
		cnt += q->handle_n[i];
		if (i < nh)
			hs[i] = q->handle_n[i] > 0 ? q->handle_sum[i] / q->handle_n[i] : NAN;
	}
	f->mean_aht = cnt > 0 ? tot / cnt : NAN;
	f->aht_status = wfm_fc_select(hs, nh, &o, f->bt_h, f->bt_origins, WFM_DAY_IV, &f->aht_choice);
	r = -ENODATA;
	if (!f->aht_status) {
		r = wfm_forecast(f->aht_choice.method, hs, nh, &o, f->aht, f->h);
		f->aht_method = wfm_fc_method_name(f->aht_choice.method);
	}
	if (r) {
		f->aht_method = "overall_mean";
		for (size_t k = 0; k < f->h; k++)
			f->aht[k] = f->mean_aht;
	}
	for (size_t k = 0; k < f->h; k++)
		if (!isfinite(f->aht[k]) || f->aht[k] <= 0)
			f->aht[k] = f->mean_aht;
	free(hs);

	/* Today: intervals over so far, and the rest scaled. */
	int64_t into = q->now_ms - q->day0_ms;
	f->elapsed = into <= 0 ? 0 : (size_t)(into / WFM_IV_MS);
	if (f->elapsed > WFM_DAY_IV)
		f->elapsed = WFM_DAY_IV;
	f->scale = 1;
	wfm_reforecast_intraday(f->arrivals, q->arrivals + nh, WFM_DAY_IV, f->elapsed, NULL,
				f->reforecast, &f->scale);
	f->patience_s = wfm_patience_mle(q->wait_total_s, q->n_abandoned);
	return 0;
}

/* ---- JSON ------------------------------------------------------------------ */

static json_t *int_series(const double *y, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer((json_int_t)llround(y[i])));
	return a;
}

static json_t *real_series(const double *y, size_t n, double round_to)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, isfinite(y[i]) ? json_real(round(y[i] * round_to) / round_to)
							: json_null());
	return a;
}

static json_t *handle_series(const struct wfm_qdata *q, size_t from, size_t n)
{
	json_t *a = json_array();
	for (size_t i = from; i < from + n; i++)
		json_array_append_new(a, q->handle_n[i] > 0
						 ? json_real(round(q->handle_sum[i] / q->handle_n[i] * 10) / 10)
						 : json_null());
	return a;
}

static json_t *choice_json(const struct wfm_fc_choice *c, int status)
{
	json_t *a = json_array();
	for (int m = 0; m < WFM_FC_METHODS; m++) {
		int st = status ? status : c->status[m];
		json_array_append_new(a, json_pack("{s:s, s:o, s:o, s:s}", "method",
						   wfm_fc_method_name((enum wfm_fc_method)m), "wape",
						   api_wfm_num(st ? NAN : c->wape[m]), "mase",
						   api_wfm_num(st ? NAN : c->mase[m]), "status",
						   st ? "not_enough_history" : "ok"));
	}
	return a;
}

static json_t *forecast_json(const struct wfm_qdata *q, const struct wfm_fcast *f)
{
	char t0[32], t1[32], t2[32];
	size_t nh = (size_t)q->days * WFM_DAY_IV;
	double arr_total = 0, handled = 0;
	for (size_t i = 0; i < q->n; i++) {
		arr_total += q->arrivals[i];
		handled += q->handle_n[i];
	}
	/* today's actuals run to the interval in progress (the last one, when
	 * the day is not over, is partial) */
	size_t seen = f->elapsed < WFM_DAY_IV ? f->elapsed + 1 : WFM_DAY_IV;
	json_t *today = json_pack("{s:s, s:I, s:o, s:o, s:o, s:o, s:o}", "start",
				  base_iso8601(q->day0_ms, t1, sizeof(t1)), "elapsed_intervals",
				  (json_int_t)f->elapsed, "arrivals", int_series(q->arrivals + nh, seen),
				  "handle_seconds", handle_series(q, nh, seen), "forecast",
				  real_series(f->arrivals, WFM_DAY_IV, 100), "reforecast",
				  real_series(f->reforecast, WFM_DAY_IV, 100), "scale", api_wfm_num(f->scale));
	json_t *fc = json_pack("{s:s, s:I, s:s, s:o, s:s, s:o}", "start", t1, "horizon_days",
			       (json_int_t)f->horizon_days, "method", wfm_fc_method_name(f->arr_method),
			       "arrivals", real_series(f->arrivals, f->h, 100), "handle_method",
			       f->aht_method, "handle_seconds", real_series(f->aht, f->h, 10));
	json_t *bt = json_pack("{s:I, s:I, s:I, s:o, s:o}", "horizon_intervals", (json_int_t)f->bt_h,
			       "origins", (json_int_t)f->bt_origins, "step_intervals",
			       (json_int_t)WFM_DAY_IV, "arrivals", choice_json(&f->arr_choice, f->arr_status),
			       "handle_seconds", choice_json(&f->aht_choice, f->aht_status));
	json_t *contacts = json_pack("{s:I, s:I, s:o, s:I, s:I, s:I, s:o}", "arrivals",
				     (json_int_t)llround(arr_total), "handled", (json_int_t)llround(handled),
				     "mean_handle_seconds", api_wfm_num(f->mean_aht), "answered",
				     (json_int_t)llround(q->n_answered), "abandoned",
				     (json_int_t)llround(q->n_abandoned), "left",
				     (json_int_t)llround(q->n_left), "patience_seconds",
				     api_wfm_num(f->patience_s));
	json_t *hist = json_pack("{s:s, s:I, s:o, s:o}", "start",
				 base_iso8601(q->hist_start_ms, t0, sizeof(t0)), "days", (json_int_t)q->days,
				 "arrivals", int_series(q->arrivals, nh), "handle_seconds",
				 handle_series(q, 0, nh));
	return json_pack("{s:I, s:s, s:I, s:s, s:o, s:o, s:o, s:o, s:o}", "queue_id",
			 (json_int_t)q->queue_id, "queue_name", q->queue_name, "interval_seconds",
			 (json_int_t)WFM_IV_S, "now", base_iso8601(q->now_ms, t2, sizeof(t2)), "history",
			 hist, "today", today, "forecast", fc, "backtest", bt, "contacts", contacts);
}

json_t *api_wfm_staff_json(const struct wfm_plan_opts *o, const double *calls,
			   const double *aht, size_t n, long *sched_out, int *err)
{
	long *ag = calloc(n ? n : 1, sizeof(long)), *sc = calloc(n ? n : 1, sizeof(long));
	double *sl = calloc(n ? n : 1, sizeof(double));
	json_t *out = NULL;
	if (!ag || !sc || !sl) {
		*err = -ENOMEM;
		goto out;
	}
	*err = wfm_staff_intervals(o, calls, aht, n, ag, sc, sl);
	if (*err)
		goto out;
	json_t *ja = json_array(), *js = json_array();
	long peak_a = 0, peak_s = 0;
	double hours_a = 0, hours_s = 0;
	size_t unreachable = 0;
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(ja, ag[i] < 0 ? json_null() : json_integer(ag[i]));
		json_array_append_new(js, sc[i] < 0 ? json_null() : json_integer(sc[i]));
		if (ag[i] < 0) {
			unreachable++;
			continue;
		}
		peak_a = ag[i] > peak_a ? ag[i] : peak_a;
		peak_s = sc[i] > peak_s ? sc[i] : peak_s;
		hours_a += (double)ag[i] * o->interval_s / 3600.0;
		hours_s += (double)sc[i] * o->interval_s / 3600.0;
	}
	bool a = o->model == WFM_ERLANG_A && isfinite(o->patience_s);
	out = json_pack("{s:s, s:o, s:o, s:o, s:o, s:I, s:o, s:o, s:o, s:o, s:o, s:I, s:I, s:o, s:o, s:I}",
			"model", a ? "a" : "c", "patience_seconds", api_wfm_num(a ? o->patience_s : NAN),
			"target_sl", json_real(o->target_sl), "sl_seconds", json_real(o->sl_seconds),
			"shrinkage", json_real(o->shrinkage), "interval_seconds",
			(json_int_t)llround(o->interval_s), "calls", real_series(calls, n, 100),
			"aht_seconds", real_series(aht, n, 10), "agents", ja, "scheduled", js,
			"service_level", real_series(sl, n, 10000), "peak_agents", (json_int_t)peak_a,
			"peak_scheduled", (json_int_t)peak_s, "agent_hours", json_real(round(hours_a * 100) / 100),
			"scheduled_hours", json_real(round(hours_s * 100) / 100), "unreachable_intervals",
			(json_int_t)unreachable);
	if (sched_out)
		memcpy(sched_out, sc, n * sizeof(long));
out:
	free(ag);
	free(sc);
	free(sl);
	return out;
}

void api_wfm_plan_for(const struct wfm_staff_params *sp, const struct wfm_qdata *q,
		      const struct wfm_fcast *f, struct wfm_plan_opts *o, double *aht_out)
{
	wfm_plan_opts_init(o);
	o->interval_s = WFM_IV_S;
	o->target_sl = sp->target_sl > 0 ? sp->target_sl : q->sl_fraction;
	o->sl_seconds = sp->sl_seconds >= 0 ? sp->sl_seconds : q->sl_seconds;
	o->shrinkage = sp->shrinkage;
	double patience = sp->patience_s > 0 ? sp->patience_s : f->patience_s;
	/* A: when asked for, or by default when the queue has abandonments. */
	bool use_a = sp->model == WFM_ERLANG_A || (sp->model < 0 && isfinite(patience));
	o->model = use_a ? WFM_ERLANG_A : WFM_ERLANG_C;
	o->patience_s = use_a ? patience : INFINITY;
	for (size_t k = 0; k < f->h; k++)
		aht_out[k] = isfinite(f->aht[k]) && f->aht[k] > 0 ? f->aht[k] : sp->default_aht;
}

/* ---- GET forecast / GET staffing ------------------------------------------- */

struct fc_ctx {
	struct wfm_qdata q;
	unsigned horizon_days;
	bool staffing;
	struct wfm_staff_params sp;
	int err;
	char *body;
};

static void fc_ctx_free(void *p)
{
	struct fc_ctx *c = p;
	api_wfm_qdata_free(&c->q);
	free(c->body);
	free(c);
}

static int fc_read_job(struct store_tx *tx, void *arg)
{
	struct fc_ctx *c = ((struct api_req *)arg)->ctx;
	return api_wfm_read_queue(tx, &c->q);
}

static void fc_work(void *arg)
{
	struct api_req *req = arg;
	struct fc_ctx *c = req->ctx;
	struct wfm_fcast f;
	c->err = api_wfm_forecast(&c->q, c->horizon_days, &f);
	if (c->err) {
		api_resume(req);
		return;
	}
	json_t *j = NULL;
	if (!c->staffing) {
		j = forecast_json(&c->q, &f);
	} else {
		struct wfm_plan_opts o;
		double *aht = malloc(f.h * sizeof(double));
		if (aht) {
			api_wfm_plan_for(&c->sp, &c->q, &f, &o, aht);
			j = api_wfm_staff_json(&o, f.arrivals, aht, f.h, NULL, &c->err);
			free(aht);
		} else {
			c->err = -ENOMEM;
		}
		if (j) {
			char t[32];
			json_object_set_new(j, "queue_id", json_integer(c->q.queue_id));
			json_object_set_new(j, "start", json_string(base_iso8601(c->q.day0_ms, t, sizeof(t))));
			json_object_set_new(j, "horizon_days", json_integer(f.horizon_days));
			json_object_set_new(j, "forecast_method", json_string(wfm_fc_method_name(f.arr_method)));
			json_object_set_new(j, "handle_method", json_string(f.aht_method));
		}
	}
	api_wfm_fcast_free(&f);
	if (j) {
		c->body = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(12));
		json_decref(j);
		if (!c->body)
			c->err = -ENOMEM;
	} else if (!c->err) {
		c->err = -ENOMEM;
	}
	api_resume(req);
}

static void fc_done(struct api_req *req)
{
	struct fc_ctx *c = req->ctx;
	if (c->err) {
		LOG_ERROR("api", "wfm forecast of queue %" PRId64 " failed: %d", c->q.queue_id, c->err);
		return api_problem(req, c->err == -EINVAL ? 422 : 500, "the forecast could not be computed",
				   NULL);
	}
	char *b = c->body;
	c->body = NULL;
	api_respond(req, 200, "application/json", b, strlen(b));
}

static void fc_after_read(struct api_req *req)
{
	struct fc_ctx *c = req->ctx;
	if (req->err) {
		LOG_ERROR("api", "wfm: reading queue %" PRId64 " failed: %d", c->q.queue_id, req->err);
		return api_problem(req, 500, "the store failed", NULL);
	}
	if (!c->q.found)
		return api_problem(req, 404, "no queue with that id", "queue");
	api_work(req, fc_work, fc_done);
}

/* A fraction query argument (e.g. 0.8); absent -> def. 0 or -EINVAL. */
static int query_real(const struct api_req *req, const char *name, double def, double lo, double hi,
		      double *out)
{
	char buf[32], *end;
	int r = api_query_get(req, name, buf, sizeof(buf));
	if (r == -ENOENT) {
		*out = def;
		return 0;
	}
	if (r)
		return -EINVAL;
	errno = 0;
	double v = strtod(buf, &end);
	if (errno || end == buf || *end || !(v >= lo && v <= hi))
		return -EINVAL;
	*out = v;
	return 0;
}

static void handle_queue_get(struct api_req *req, bool staffing)
{
	if (req->method != LWSHUMETH_GET) {
		api_add_header(req, "Allow", staffing ? "GET, POST" : "GET");
		return api_problem(req, 405, "method not allowed here", NULL);
	}
	if (!(req->who.role & (ROLE_ADMIN | ROLE_SUPERVISOR)))
		return api_problem(req, 403, "only admins and supervisors read forecasts", NULL);
	int64_t queue, days, horizon;
	if (api_query_int(req, "queue", 0, 1, INT64_MAX, &queue) || !queue)
		return api_problem(req, 422, "queue: expected a queue id", "queue");
	if (api_query_int(req, "days", 28, 7, WFM_MAX_HISTORY_DAYS, &days))
		return api_problem(req, 422, "days: expected 7 to 91 days of history", "days");
	if (api_query_int(req, "horizon_days", 7, 1, WFM_MAX_HORIZON_DAYS, &horizon))
		return api_problem(req, 422, "horizon_days: expected 1 to 28", "horizon_days");
	struct fc_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return api_problem(req, 500, "out of memory", NULL);
	req->ctx = c;
	req->ctx_free = fc_ctx_free;
	c->staffing = staffing;
	c->horizon_days = (unsigned)horizon;
	if (staffing) {
		char m[8] = "";
		int r = api_query_get(req, "model", m, sizeof(m));
		if (r == -ENOENT)
			c->sp.model = -1;
		else if (!r && !strcmp(m, "a"))
			c->sp.model = WFM_ERLANG_A;
		else if (!r && !strcmp(m, "c"))
			c->sp.model = WFM_ERLANG_C;
		else
			return api_problem(req, 422, "model: expected a or c", "model");
		if (query_real(req, "target_sl", 0, 0.01, 0.9999, &c->sp.target_sl))
			return api_problem(req, 422, "target_sl: expected a fraction from 0.01 to 0.9999",
					   "target_sl");
		if (query_real(req, "sl_seconds", -1, 0, 86400, &c->sp.sl_seconds))
			return api_problem(req, 422, "sl_seconds: expected 0 to 86400", "sl_seconds");
		if (query_real(req, "shrinkage", 0, 0, 0.95, &c->sp.shrinkage))
			return api_problem(req, 422, "shrinkage: expected a fraction from 0 to 0.95", "shrinkage");
		if (query_real(req, "aht_seconds", 300, 1, 86400, &c->sp.default_aht))
			return api_problem(req, 422, "aht_seconds: expected 1 to 86400", "aht_seconds");
		if (query_real(req, "patience_seconds", -1, 1, 1e7, &c->sp.patience_s))
			return api_problem(req, 422, "patience_seconds: expected 1 to 10000000",
					   "patience_seconds");
	}
	if (api_wfm_qdata_init(&c->q, queue, (unsigned)days, base_wall_ms()))
		return api_problem(req, 500, "out of memory", NULL);
	api_submit(req, false, fc_read_job, fc_after_read);
}

void api_handle_wfm_forecast(struct api_req *req)
{
	handle_queue_get(req, false);
}

/* ---- POST staffing: a given forecast ------------------------------------- */

#define STAFF_MAX_INTERVALS 2976 /* a month of quarter hours */

struct staff_ctx {
	struct wfm_plan_opts o;
	double *calls, *aht;
	size_t n;
	int err;
	char *body;
};

static void staff_ctx_free(void *p)
{
	struct staff_ctx *c = p;
	free(c->calls);
	free(c->aht);
	free(c->body);
	free(c);
}

static void staff_work(void *arg)
{
	struct api_req *req = arg;
	struct staff_ctx *c = req->ctx;
	json_t *j = api_wfm_staff_json(&c->o, c->calls, c->aht, c->n, NULL, &c->err);
	if (j) {
		c->body = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(12));
		json_decref(j);
		if (!c->body)
			c->err = -ENOMEM;
	}
	api_resume(req);
}

static void staff_done(struct api_req *req)
{
	struct staff_ctx *c = req->ctx;
	if (c->err)
		return api_problem(req, c->err == -EINVAL ? 422 : 500, "the staffing could not be computed",
				   NULL);
	char *b = c->body;
	c->body = NULL;
	api_respond(req, 200, "application/json", b, strlen(b));
}

/* A number or an array of n numbers into out[0..n). */
static int series_or_number(json_t *in, const char *k, size_t n, double lo, double hi, double *out,
			    struct wfm_perr *e)
{
	json_t *v = json_object_get(in, k);
	if (json_is_number(v)) {
		double x = json_number_value(v);
		if (!(x >= lo && x <= hi))
			return api_wfm_bad(e, k, "%s: expected a number from %g to %g", k, lo, hi);
		for (size_t i = 0; i < n; i++)
			out[i] = x;
		return 0;
	}
	if (!json_is_array(v) || json_array_size(v) != n)
		return api_wfm_bad(e, k, "%s: expected a number or an array of %zu numbers (one per interval)",
				   k, n);
	for (size_t i = 0; i < n; i++) {
		json_t *x = json_array_get(v, i);
		if (!json_is_number(x) || !(json_number_value(x) >= lo && json_number_value(x) <= hi)) {
			char f[64];
			snprintf(f, sizeof(f), "%s[%zu]", k, i);
			return api_wfm_bad(e, f, "%s: expected a number from %g to %g", f, lo, hi);
		}
		out[i] = json_number_value(x);
	}
	return 0;
}

static void handle_staffing_post(struct api_req *req)
{
	if (!(req->who.role & (ROLE_ADMIN | ROLE_SUPERVISOR)))
		return api_problem(req, 403, "only admins and supervisors compute staffing", NULL);
	json_t *in = api_parse_body(req);
	if (!in)
		return;
	struct wfm_perr e = {"", ""};
	static const char *const keys[] = {"interval_seconds", "calls", "aht_seconds", "model",
					   "patience_seconds", "target_sl", "sl_seconds", "shrinkage", NULL};
	struct staff_ctx *c = calloc(1, sizeof(*c));
	if (!c) {
		json_decref(in);
		return api_problem(req, 500, "out of memory", NULL);
	}
	req->ctx = c;
	req->ctx_free = staff_ctx_free;
	wfm_plan_opts_init(&c->o);
	json_t *calls = json_object_get(in, "calls");
	const char *model = json_string_value(json_object_get(in, "model"));
	double patience = 0;
	int r = 0;
	if (!json_is_object(in))
		r = api_wfm_bad(&e, "", "the body must be a JSON object");
	if (!r)
		r = api_wfm_known_keys(in, keys, "", &e);
	if (!r && (!json_is_array(calls) || !json_array_size(calls) ||
		   json_array_size(calls) > STAFF_MAX_INTERVALS))
		r = api_wfm_bad(&e, "calls", "calls: expected an array of 1 to %d numbers (one per interval)",
				STAFF_MAX_INTERVALS);
	if (!r && json_object_get(in, "model") && (!model || (strcmp(model, "a") && strcmp(model, "c"))))
		r = api_wfm_bad(&e, "model", "model: expected a or c");
	if (!r)
		r = api_wfm_get_num(in, "interval_seconds", "", false, 900, 60, 86400, &c->o.interval_s, &e);
	if (!r)
		r = api_wfm_get_num(in, "target_sl", "", false, 0.8, 0.01, 0.9999, &c->o.target_sl, &e);
	if (!r)
		r = api_wfm_get_num(in, "sl_seconds", "", false, 20, 0, 86400, &c->o.sl_seconds, &e);
	if (!r)
		r = api_wfm_get_num(in, "shrinkage", "", false, 0, 0, 0.95, &c->o.shrinkage, &e);
	if (!r)
		r = api_wfm_get_num(in, "patience_seconds", "", model && !strcmp(model, "a"), 0, 1, 1e7,
				    &patience, &e);
	if (!r) {
		c->n = json_array_size(calls);
		c->calls = malloc(c->n * sizeof(double));
		c->aht = malloc(c->n * sizeof(double));
		if (!c->calls || !c->aht) {
			json_decref(in);
			return api_problem(req, 500, "out of memory", NULL);
		}
		r = series_or_number(in, "calls", c->n, 0, 1e6, c->calls, &e);
	}
	if (!r)
		r = series_or_number(in, "aht_seconds", c->n, 1, 86400, c->aht, &e);
	bool erlang_a = model && !strcmp(model, "a");
	json_decref(in); /* model pointed into it */
	if (r)
		return api_problem(req, 422, e.detail, e.field);
	if (erlang_a) {
		c->o.model = WFM_ERLANG_A;
		c->o.patience_s = patience;
	}
	api_work(req, staff_work, staff_done);
}

void api_handle_wfm_staffing(struct api_req *req)
{
	if (req->method == LWSHUMETH_POST)
		return handle_staffing_post(req);
	handle_queue_get(req, true);
}

/* ---- GET adherence ------------------------------------------------------------ */

#define ADH_MAX_AGENTS 2000

struct adh_agent {
	int64_t agent_id, schedule_id;
	char name[101];
	unsigned char sched[WFM_DAY_IV];
	enum wfm_adh_state initial;
	struct wfm_adh_change *ch;
	size_t n_ch, cap_ch;
};

struct adh_ctx {
	int64_t day_ms, now_ms;
	struct adh_agent *ag;
	size_t n_ag, cap_ag;
	json_t *schedule_ids;
	int status;
	char detail[160];
	char *body;
	struct adh_agent *cur; /* for the single-agent query */
};

static void adh_ctx_free(void *p)
{
	struct adh_ctx *c = p;
	for (size_t i = 0; i < c->n_ag; i++)
		free(c->ag[i].ch);
	free(c->ag);
	json_decref(c->schedule_ids);
	free(c->body);
	free(c);
}

static const char *const adh_state_names[WFM_ADH_STATES] = {"offline", "available", "away", "busy",
							      "wrapup"};
static const char *const adh_sched_names[] = {"off", "work", "break"};

static int state_parse(const char *payload, enum wfm_adh_state *out)
{
	json_t *j = json_loads(payload ? payload : "{}", 0, NULL);
	const char *s = json_string_value(json_object_get(j, "state"));
	int r = -EINVAL;
	for (int i = 0; s && i < WFM_ADH_STATES; i++)
		if (!strcmp(s, adh_state_names[i])) {
			*out = (enum wfm_adh_state)i;
			r = 0;
		}
	json_decref(j);
	return r;
}

static struct adh_agent *adh_find(struct adh_ctx *c, int64_t id)
{
	for (size_t i = 0; i < c->n_ag; i++)
		if (c->ag[i].agent_id == id)
			return &c->ag[i];
	return NULL;
}

/* One published schedule: agents it schedules that no later publication
 * already gave a plan for the day. */
static int adh_schedule_row(const struct store_val *col, int n, void *arg)
{
	(void)n;
	struct adh_ctx *c = arg;
	json_t *doc = json_loads(col[1].s ? col[1].s : "{}", 0, NULL);
	int64_t s0;
	if (!doc || api_wfm_parse_date(json_string_value(json_object_get(doc, "start_date")), &s0)) {
		json_decref(doc);
		return 0;
	}
	bool used = false;
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(doc, "agents"), i, a) {
		int64_t id = json_integer_value(json_object_get(a, "agent_id"));
		if (id <= 0 || adh_find(c, id) || c->n_ag >= ADH_MAX_AGENTS)
			continue;
		if (c->n_ag == c->cap_ag) {
			size_t cap = c->cap_ag ? c->cap_ag * 2 : 16;
			struct adh_agent *na = realloc(c->ag, cap * sizeof(*na));
			if (!na) {
				json_decref(doc);
				return -ENOMEM;
			}
			c->ag = na;
			c->cap_ag = cap;
		}
		struct adh_agent *g = &c->ag[c->n_ag++];
		memset(g, 0, sizeof(*g));
		g->agent_id = id;
		g->schedule_id = col[0].i;
		used = true;
		/* this agent's shifts that touch the day */
		size_t k;
		json_t *s;
		json_array_foreach(json_object_get(doc, "shifts"), k, s) {
			if (json_integer_value(json_object_get(s, "agent_id")) != id)
				continue;
			int64_t st = json_integer_value(json_object_get(s, "start_interval"));
			int64_t len = json_integer_value(json_object_get(s, "length"));
			for (int64_t t = st; t < st + len; t++) {
				int64_t iv = (s0 + t * WFM_IV_MS - c->day_ms) / WFM_IV_MS;
				if (s0 + t * WFM_IV_MS >= c->day_ms && iv < WFM_DAY_IV)
					g->sched[iv] = WFM_ADH_WORK;
			}
			size_t b;
			json_t *br;
			json_array_foreach(json_object_get(s, "breaks"), b, br) {
				int64_t bs = json_integer_value(json_object_get(br, "start_interval"));
				int64_t bl = json_integer_value(json_object_get(br, "length"));
				for (int64_t t = bs; t < bs + bl; t++) {
					int64_t iv = (s0 + t * WFM_IV_MS - c->day_ms) / WFM_IV_MS;
					if (s0 + t * WFM_IV_MS >= c->day_ms && iv < WFM_DAY_IV)
						g->sched[iv] = WFM_ADH_BREAK;
				}
			}
		}
	}
	if (used)
		json_array_append_new(c->schedule_ids, json_integer(col[0].i));
	json_decref(doc);
	return 0;
}

static int adh_name_row(const struct store_val *col, int n, void *arg)
{
	(void)n;
	struct adh_agent *g = adh_find(arg, col[0].i);
	if (g)
		snprintf(g->name, sizeof(g->name), "%s", col[1].s ? col[1].s : "");
	return 0;
}

static int adh_initial_row(const struct store_val *col, int n, void *arg)
{
	(void)n;
	struct adh_ctx *c = arg;
	state_parse(col[0].s, &c->cur->initial);
	return 1;
}

static int adh_change_row(const struct store_val *col, int n, void *arg)
{
	(void)n;
	struct adh_ctx *c = arg;
	struct adh_agent *g = adh_find(c, col[0].i);
	enum wfm_adh_state st;
	if (!g || state_parse(col[2].s, &st))
		return 0;
	if (g->n_ch && col[1].i < g->ch[g->n_ch - 1].t_ms)
		return 0; /* clock stepped back: keep the order the log has */
	if (g->n_ch == g->cap_ch) {
		size_t cap = g->cap_ch ? g->cap_ch * 2 : 16;
		struct wfm_adh_change *nc = realloc(g->ch, cap * sizeof(*nc));
		if (!nc)
			return -ENOMEM;
		g->ch = nc;
		g->cap_ch = cap;
	}
	g->ch[g->n_ch].t_ms = col[1].i;
	g->ch[g->n_ch].state = st;
	g->n_ch++;
	return 0;
}

static int adh_cmp(const void *a, const void *b)
{
	const struct adh_agent *x = a, *y = b;
	int r = strcmp(x->name, y->name);
	return r ? r : (x->agent_id > y->agent_id) - (x->agent_id < y->agent_id);
}

static json_t *adh_agent_json(struct adh_ctx *c, struct adh_agent *g)
{
	struct wfm_adh_interval iv[WFM_DAY_IV];
	struct wfm_adh_total tot;
	int64_t now = c->now_ms;
	if (wfm_adherence(g->sched, WFM_DAY_IV, WFM_IV_S, c->day_ms, now, g->initial, g->ch, g->n_ch,
			  iv, &tot))
		return NULL;
	json_t *sched = json_array(), *act = json_array(), *adh = json_array();
	for (int i = 0; i < WFM_DAY_IV; i++) {
		json_array_append_new(sched, json_string(adh_sched_names[g->sched[i]]));
		json_array_append_new(act, iv[i].dominant < 0 ? json_null()
							      : json_string(adh_state_names[iv[i].dominant]));
		json_array_append_new(adh, iv[i].elapsed_s > 0
						   ? json_real(round(iv[i].in_s / iv[i].elapsed_s * 1000) / 1000)
						   : json_null());
	}
	json_t *cur = json_pack("{s:s}", "state", adh_state_names[tot.current]);
	int64_t into = now - c->day_ms;
	if (into >= 0 && into < WFM_DAY_MS) {
		enum wfm_adh_sched s = (enum wfm_adh_sched)g->sched[into / WFM_IV_MS];
		json_object_set_new(cur, "scheduled", json_string(adh_sched_names[s]));
		json_object_set_new(cur, "in_adherence", json_boolean(wfm_adh_in(s, tot.current)));
	} else {
		json_object_set_new(cur, "scheduled", json_null());
		json_object_set_new(cur, "in_adherence", json_null());
	}
	return json_pack("{s:I, s:s, s:I, s:o, s:o, s:o, s:f, s:f, s:o, s:o}", "agent_id",
			 (json_int_t)g->agent_id, "name", g->name, "schedule_id",
			 (json_int_t)g->schedule_id, "scheduled", sched, "actual", act, "adherence", adh,
			 "scheduled_seconds", round(tot.scheduled_s), "adherent_seconds",
			 round(tot.scheduled_in_s), "percent",
			 api_wfm_num(tot.scheduled_s > 0 ? round(tot.scheduled_in_s / tot.scheduled_s * 1000) / 10
							 : NAN),
			 "current", cur);
}

static int adh_job(struct store_tx *tx, void *arg)
{
	struct adh_ctx *c = ((struct api_req *)arg)->ctx;
	int64_t end = c->day_ms + WFM_DAY_MS;
	struct store_val p[] = {store_int(c->day_ms), store_int(end)};
	int r = store_query(tx,
			    "SELECT id, doc FROM schedules WHERE tenant = 1 AND status = 'published' "
			    "AND start_ms < $2 AND end_ms > $1 ORDER BY published_at DESC, id DESC",
			    p, 2, adh_schedule_row, c);
	if (r < 0)
		return r;
	if (c->n_ag) {
		r = store_query(tx, "SELECT id, name FROM agents WHERE tenant = 1", NULL, 0, adh_name_row, c);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < c->n_ag; i++) {
		c->cur = &c->ag[i];
		c->cur->initial = WFM_ADH_OFFLINE;
		struct store_val pi[] = {store_int(c->ag[i].agent_id), store_int(c->day_ms)};
		r = store_query(tx,
				"SELECT payload FROM events WHERE tenant = 1 AND agent = $1 "
				"AND type = 'agent.state_changed' AND ts <= $2 ORDER BY id DESC LIMIT 1",
				pi, 2, adh_initial_row, c);
		if (r < 0)
			return r;
	}
	if (c->n_ag) {
		r = store_query(tx,
				"SELECT agent, ts, payload FROM events WHERE tenant = 1 "
				"AND type = 'agent.state_changed' AND ts > $1 AND ts < $2 AND agent IS NOT NULL "
				"ORDER BY id",
				p, 2, adh_change_row, c);
		if (r < 0)
			return r;
	}
	if (c->n_ag > 1)
		qsort(c->ag, c->n_ag, sizeof(*c->ag), adh_cmp);
	json_t *agents = json_array();
	double s_all = 0, in_all = 0;
	for (size_t i = 0; i < c->n_ag; i++) {
		json_t *a = adh_agent_json(c, &c->ag[i]);
		if (!a)
			continue;
		s_all += json_number_value(json_object_get(a, "scheduled_seconds"));
		in_all += json_number_value(json_object_get(a, "adherent_seconds"));
		json_array_append_new(agents, a);
	}
	char d[16], t[32];
	api_wfm_format_date(c->day_ms, d, sizeof(d));
	json_t *out = json_pack("{s:s, s:i, s:s, s:O, s:o, s:o}", "date", d, "interval_seconds", WFM_IV_S,
				"now", base_iso8601(c->now_ms, t, sizeof(t)), "schedules", c->schedule_ids,
				"agents", agents, "percent",
				api_wfm_num(s_all > 0 ? round(in_all / s_all * 1000) / 10 : NAN));
	c->body = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(12));
	json_decref(out);
	return c->body ? 0 : -ENOMEM;
}

static void adh_done(struct api_req *req)
{
	struct adh_ctx *c = req->ctx;
	if (req->err || !c->body) {
		LOG_ERROR("api", "wfm adherence failed in the store: %d", req->err);
		return api_problem(req, 500, "the store failed", NULL);
	}
	char *b = c->body;
	c->body = NULL;
	api_respond(req, 200, "application/json", b, strlen(b));
}

void api_handle_wfm_adherence(struct api_req *req)
{
	if (req->method != LWSHUMETH_GET) {
		api_add_header(req, "Allow", "GET");
		return api_problem(req, 405, "method not allowed here", NULL);
	}
	if (!(req->who.role & (ROLE_ADMIN | ROLE_SUPERVISOR)))
		return api_problem(req, 403, "only admins and supervisors read adherence", NULL);
	struct adh_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return api_problem(req, 500, "out of memory", NULL);
	req->ctx = c;
	req->ctx_free = adh_ctx_free;
	c->now_ms = base_wall_ms();
	c->schedule_ids = json_array();
	char date[16];
	int r = api_query_get(req, "date", date, sizeof(date));
	if (r == -ENOENT)
		c->day_ms = c->now_ms - ((c->now_ms % WFM_DAY_MS) + WFM_DAY_MS) % WFM_DAY_MS;
	else if (r || api_wfm_parse_date(date, &c->day_ms))
		return api_problem(req, 422, "date: expected YYYY-MM-DD", "date");
	api_submit(req, false, adh_job, adh_done);
}
