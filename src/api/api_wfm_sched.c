/*
 * api_wfm_sched.c: shift schedules over the API.
 *
 *   POST /api/v1/wfm/schedule               build (and optionally save,
 *                                           publish) a schedule
 *   GET  /api/v1/wfm/schedules              saved schedules, newest first
 *   GET  /api/v1/wfm/schedules/{id}         one, with every shift
 *   POST /api/v1/wfm/schedules/{id}/publish make it the plan adherence
 *                                           is measured against
 *
 * The body gives a requirement per 15-minute interval (or a queue, whose
 * forecast is staffed for the schedule's days), shift templates and agents
 * (availability, contracted hours, skills). The web thread validates it
 * into a struct wfm_sched_problem; a worker runs wfm_schedule() (CBC as a
 * subprocess under a time limit, with the fallback) and renders the
 * schedule; a store write job saves it with its event. Only one schedule
 * is built at a time (a worker may be busy for the whole time limit), a
 * second request meanwhile gets 429. The stored document is the schedule
 * as the POST answered it; adherence (api_wfm_data.c) reads its shifts.
 */
#include "api/api_wfm_int.h"
#include "base/base.h"
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCHED_MAX_DAYS 14
#define SCHED_MAX_TEMPLATES 32
#define SCHED_MAX_AGENTS 1024
#define SCHED_MAX_SKILLS 32
#define SCHED_MAX_WINDOWS 200

/* Schedules being built (web thread only). */
static unsigned sched_running;

struct sched_ctx {
	/* the request */
	char name[101];
	int64_t start_ms;
	unsigned days;
	size_t n;
	double *required;
	bool from_queue;
	struct wfm_qdata q;
	struct wfm_staff_params sp;
	unsigned offset_days; /* start date - today */
	struct wfm_sched_template *tpl;
	char (*tpl_name)[65];
	unsigned n_tpl;
	struct wfm_sched_agent *ag;
	int64_t *agent_id;
	unsigned char *avail;  /* n_ag * n flags */
	unsigned *skills;      /* n_ag * SCHED_MAX_SKILLS */
	unsigned n_ag;
	double time_limit_s;
	unsigned min_rest;
	bool save, publish;
	bool holds_slot;
	int64_t actor;
	/* results */
	int err;
	struct wfm_perr perr;
	json_t *doc;
	char *body;
	int64_t id, now;
	int status;
};

static void sched_ctx_free(void *p)
{
	struct sched_ctx *c = p;
	if (c->holds_slot)
		sched_running--;
	free(c->required);
	api_wfm_qdata_free(&c->q);
	free(c->tpl);
	free(c->tpl_name);
	free(c->ag);
	free(c->agent_id);
	free(c->avail);
	free(c->skills);
	json_decref(c->doc);
	free(c->body);
	free(c);
}

/* ---- validation (web thread) ---------------------------------------------- */

/* Whole minutes that are a multiple of the interval, as intervals. */
static int minutes_iv(json_t *o, const char *k, const char *path, bool required, double def,
		      double lo, double hi, unsigned *out, struct wfm_perr *e)
{
	double v;
	int r = api_wfm_get_num(o, k, path, required, def, lo, hi, &v, e);
	if (r)
		return r;
	if (v != floor(v) || (long)v % 15) {
		char f[128];
		snprintf(f, sizeof(f), "%s.%s", path, k);
		return api_wfm_bad(e, f, "%s: expected whole minutes, a multiple of 15", f);
	}
	*out = (unsigned)(v / 15);
	return 0;
}

static int hhmm_iv(json_t *o, const char *k, const char *path, const char *def, unsigned *out,
		   struct wfm_perr *e)
{
	json_t *v = json_object_get(o, k);
	const char *s = v ? json_string_value(v) : def;
	unsigned m;
	char f[128];
	snprintf(f, sizeof(f), "%s.%s", path, k);
	if (!s || api_wfm_parse_hhmm(s, &m) || m % 15)
		return api_wfm_bad(e, f, "%s: expected a time \"HH:MM\" on a quarter hour", f);
	*out = m / 15;
	return 0;
}

static int parse_template(struct sched_ctx *c, json_t *t, unsigned i, struct wfm_perr *e)
{
	static const char *const keys[] = {"name", "start_earliest", "start_latest", "start_step_minutes",
					   "length_minutes", "breaks", "weekdays", "skill_id",
					   "cost_weight", NULL};
	char path[32];
	snprintf(path, sizeof(path), "templates[%u]", i);
	if (!json_is_object(t))
		return api_wfm_bad(e, path, "%s: expected an object", path);
	int r = api_wfm_known_keys(t, keys, path, e);
	if (r)
		return r;
	struct wfm_sched_template *w = &c->tpl[i];
	wfm_sched_template_init(w);
	json_t *nm = json_object_get(t, "name");
	if (nm && (!json_is_string(nm) || strlen(json_string_value(nm)) > 64))
		return api_wfm_bad(e, path, "%s.name: expected text of at most 64 bytes", path);
	snprintf(c->tpl_name[i], sizeof(c->tpl_name[i]), "%s", nm ? json_string_value(nm) : "");
	if (!c->tpl_name[i][0])
		snprintf(c->tpl_name[i], sizeof(c->tpl_name[i]), "shift %u", i + 1);
	unsigned a = 0, b = 0, step = 0, len = 0;
	double skill, weight;
	if ((r = hhmm_iv(t, "start_earliest", path, NULL, &a, e)) ||
	    (r = hhmm_iv(t, "start_latest", path, json_string_value(json_object_get(t, "start_earliest")), &b, e)) ||
	    (r = minutes_iv(t, "start_step_minutes", path, false, 15, 15, 1440, &step, e)) ||
	    (r = minutes_iv(t, "length_minutes", path, true, 0, 15, 1440, &len, e)) ||
	    (r = api_wfm_get_num(t, "skill_id", path, false, 0, 0, 4095, &skill, e)) ||
	    (r = api_wfm_get_num(t, "cost_weight", path, false, 1, 0.001, 1000, &weight, e)))
		return r;
	if (b < a || b >= WFM_DAY_IV)
		return api_wfm_bad(e, path, "%s.start_latest: must be on the same day, not before start_earliest",
				   path);
	w->first_start = a;
	w->last_start = b;
	w->start_step = step;
	w->length = len;
	w->skill = (unsigned)skill;
	w->cost_weight = weight;
	json_t *brs = json_object_get(t, "breaks");
	if (brs && (!json_is_array(brs) || json_array_size(brs) > WFM_SCHED_MAX_BREAKS))
		return api_wfm_bad(e, path, "%s.breaks: expected at most %d breaks", path, WFM_SCHED_MAX_BREAKS);
	size_t k;
	json_t *br;
	json_array_foreach(brs, k, br) {
		static const char *const bkeys[] = {"length_minutes", "earliest_minutes", "latest_minutes",
						    "paid", NULL};
		char bp[64];
		snprintf(bp, sizeof(bp), "%s.breaks[%zu]", path, k);
		if (!json_is_object(br))
			return api_wfm_bad(e, bp, "%s: expected an object", bp);
		if ((r = api_wfm_known_keys(br, bkeys, bp, e)))
			return r;
		struct wfm_sched_break *x = &w->breaks[k];
		if ((r = minutes_iv(br, "length_minutes", bp, true, 0, 15, 1440, &x->len, e)) ||
		    (r = minutes_iv(br, "earliest_minutes", bp, true, 0, 0, 1440, &x->earliest, e)))
			return r;
		x->latest = x->earliest; /* the default: a fixed place */
		if (json_object_get(br, "latest_minutes") &&
		    (r = minutes_iv(br, "latest_minutes", bp, true, 0, 0, 1440, &x->latest, e)))
			return r;
		json_t *paid = json_object_get(br, "paid");
		if (paid && !json_is_boolean(paid))
			return api_wfm_bad(e, bp, "%s.paid: expected true or false", bp);
		x->paid = json_is_true(paid);
		if (x->latest < x->earliest || x->latest + x->len >= len)
			return api_wfm_bad(e, bp, "%s: the break must lie inside the shift, latest >= earliest", bp);
		w->n_breaks++;
	}
	json_t *wd = json_object_get(t, "weekdays");
	if (wd) {
		static const char *const names[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
		if (!json_is_array(wd) || !json_array_size(wd))
			return api_wfm_bad(e, path, "%s.weekdays: expected a list of mon ... sun", path);
		int w0 = api_wfm_weekday(c->start_ms);
		json_t *d;
		json_array_foreach(wd, k, d) {
			int day = -1;
			for (int j = 0; j < 7; j++)
				if (json_is_string(d) && !strcmp(json_string_value(d), names[j]))
					day = j;
			if (day < 0)
				return api_wfm_bad(e, path, "%s.weekdays[%zu]: expected one of mon ... sun", path, k);
			w->days |= 1u << ((day - w0 + 7) % 7);
		}
	}
	return 0;
}

static int parse_agent(struct sched_ctx *c, json_t *a, unsigned i, struct wfm_perr *e)
{
	static const char *const keys[] = {"agent_id", "min_hours", "max_hours", "skills", "available",
					   NULL};
	char path[32];
	snprintf(path, sizeof(path), "agents[%u]", i);
	if (!json_is_object(a))
		return api_wfm_bad(e, path, "%s: expected an object", path);
	int r = api_wfm_known_keys(a, keys, path, e);
	if (r)
		return r;
	double id, mn, mx;
	double hours_cap = 24.0 * c->days;
	double def_max = 40.0 * ((c->days + 6) / 7);
	if ((r = api_wfm_get_num(a, "agent_id", path, true, 0, 1, 9007199254740991.0, &id, e)) ||
	    (r = api_wfm_get_num(a, "min_hours", path, false, 0, 0, 10000, &mn, e)) ||
	    (r = api_wfm_get_num(a, "max_hours", path, false, def_max, 0, 10000, &mx, e)))
		return r;
	if (id != floor(id))
		return api_wfm_bad(e, path, "%s.agent_id: expected an agent id", path);
	if (mn > mx)
		return api_wfm_bad(e, path, "%s.min_hours: more than max_hours", path);
	/* contracted hours (e.g. 40 a week) beyond what the horizon holds */
	mx = mx > hours_cap ? hours_cap : mx;
	mn = mn > mx ? mx : mn;
	for (unsigned j = 0; j < i; j++)
		if (c->agent_id[j] == (int64_t)id)
			return api_wfm_bad(e, path, "%s.agent_id: agent %.0f is listed twice", path, id);
	c->agent_id[i] = (int64_t)id;
	struct wfm_sched_agent *g = &c->ag[i];
	g->min_hours = mn;
	g->max_hours = mx;
	json_t *sk = json_object_get(a, "skills");
	if (sk && (!json_is_array(sk) || json_array_size(sk) > SCHED_MAX_SKILLS))
		return api_wfm_bad(e, path, "%s.skills: expected at most %d skill ids", path, SCHED_MAX_SKILLS);
	g->skills = c->skills + (size_t)i * SCHED_MAX_SKILLS;
	size_t k;
	json_t *s;
	json_array_foreach(sk, k, s) {
		if (!json_is_integer(s) || json_integer_value(s) < 1 || json_integer_value(s) > 4095)
			return api_wfm_bad(e, path, "%s.skills[%zu]: expected a skill id", path, k);
		c->skills[(size_t)i * SCHED_MAX_SKILLS + k] = (unsigned)json_integer_value(s);
		g->n_skills++;
	}
	json_t *av = json_object_get(a, "available");
	if (!av || json_is_null(av))
		return 0; /* always available */
	if (!json_is_array(av) || json_array_size(av) > SCHED_MAX_WINDOWS)
		return api_wfm_bad(e, path, "%s.available: expected at most %d windows {date, from, to}",
				   path, SCHED_MAX_WINDOWS);
	unsigned char *fl = c->avail + (size_t)i * c->n;
	g->available = fl;
	json_t *wnd;
	json_array_foreach(av, k, wnd) {
		static const char *const wkeys[] = {"date", "from", "to", NULL};
		char wp[64];
		snprintf(wp, sizeof(wp), "%s.available[%zu]", path, k);
		int64_t day;
		unsigned from = 0, to = 0;
		if (!json_is_object(wnd))
			return api_wfm_bad(e, wp, "%s: expected {date, from, to}", wp);
		if ((r = api_wfm_known_keys(wnd, wkeys, wp, e)))
			return r;
		if (api_wfm_parse_date(json_string_value(json_object_get(wnd, "date")), &day))
			return api_wfm_bad(e, wp, "%s.date: expected YYYY-MM-DD", wp);
		if ((r = hhmm_iv(wnd, "from", wp, "00:00", &from, e)) || (r = hhmm_iv(wnd, "to", wp, "24:00", &to, e)))
			return r;
		if (to <= from)
			return api_wfm_bad(e, wp, "%s.to: must be after from", wp);
		int64_t d = (day - c->start_ms) / WFM_DAY_MS;
		if (day < c->start_ms || d >= c->days)
			continue; /* outside the schedule */
		for (unsigned t = from; t < to; t++)
			fl[(size_t)d * WFM_DAY_IV + t] = 1;
	}
	return 0;
}

static int parse_body(struct sched_ctx *c, json_t *in, struct wfm_perr *e)
{
	static const char *const keys[] = {"name", "start_date", "days", "required", "queue_id", "staffing",
					   "templates", "agents", "time_limit_seconds", "min_rest_hours",
					   "save", "publish", NULL};
	if (!json_is_object(in))
		return api_wfm_bad(e, "", "the body must be a JSON object");
	int r = api_wfm_known_keys(in, keys, "", e);
	if (r)
		return r;
	if (api_wfm_parse_date(json_string_value(json_object_get(in, "start_date")), &c->start_ms))
		return api_wfm_bad(e, "start_date", "start_date: expected YYYY-MM-DD");
	char d[16];
	api_wfm_format_date(c->start_ms, d, sizeof(d));
	json_t *nm = json_object_get(in, "name");
	if (nm && (!json_is_string(nm) || !json_string_length(nm) || json_string_length(nm) > 100))
		return api_wfm_bad(e, "name", "name: expected 1 to 100 bytes of text");
	if (nm)
		snprintf(c->name, sizeof(c->name), "%s", json_string_value(nm));
	else
		snprintf(c->name, sizeof(c->name), "Schedule from %s", d);
	double days, limit, rest;
	json_t *req = json_object_get(in, "required"), *qid = json_object_get(in, "queue_id");
	if (!req == !qid)
		return api_wfm_bad(e, "required", "required: give a requirement per interval, or queue_id");
	if ((r = api_wfm_get_num(in, "days", "", !qid && !json_is_array(req), req && json_is_array(req)
				 ? (double)(json_array_size(req) / WFM_DAY_IV) : 7, 1, SCHED_MAX_DAYS, &days, e)) ||
	    (r = api_wfm_get_num(in, "time_limit_seconds", "", false, 10, 1, 30, &limit, e)) ||
	    (r = api_wfm_get_num(in, "min_rest_hours", "", false, 0, 0, 24, &rest, e)))
		return r;
	if (days != floor(days))
		return api_wfm_bad(e, "days", "days: expected a whole number of days");
	c->days = (unsigned)days;
	c->n = (size_t)c->days * WFM_DAY_IV;
	c->time_limit_s = limit;
	c->min_rest = (unsigned)ceil(rest * 4);
	json_t *sv = json_object_get(in, "save"), *pb = json_object_get(in, "publish");
	if ((sv && !json_is_boolean(sv)) || (pb && !json_is_boolean(pb)))
		return api_wfm_bad(e, sv && !json_is_boolean(sv) ? "save" : "publish",
				   "save, publish: expected true or false");
	c->publish = json_is_true(pb);
	c->save = json_is_true(sv) || c->publish;

	if (req) {
		if (!json_is_array(req) || json_array_size(req) != c->n)
			return api_wfm_bad(e, "required", "required: expected %zu numbers (96 per day)", c->n);
		c->required = malloc(c->n * sizeof(double));
		if (!c->required)
			return -ENOMEM;
		for (size_t i = 0; i < c->n; i++) {
			json_t *x = json_array_get(req, i);
			if (!json_is_number(x) || !(json_number_value(x) >= 0 && json_number_value(x) <= 10000)) {
				char f[48];
				snprintf(f, sizeof(f), "required[%zu]", i);
				return api_wfm_bad(e, f, "%s: expected a number from 0 to 10000", f);
			}
			c->required[i] = json_number_value(x);
		}
	} else {
		if (!json_is_integer(qid) || json_integer_value(qid) < 1)
			return api_wfm_bad(e, "queue_id", "queue_id: expected a queue id");
		c->from_queue = true;
		json_t *st = json_object_get(in, "staffing");
		static const char *const skeys[] = {"model", "target_sl", "sl_seconds", "shrinkage",
						    "aht_seconds", "patience_seconds", "history_days", NULL};
		if (st && (!json_is_object(st) || (r = api_wfm_known_keys(st, skeys, "staffing", e))))
			return r ? r : api_wfm_bad(e, "staffing", "staffing: expected an object");
		const char *m = json_string_value(json_object_get(st, "model"));
		if (json_object_get(st, "model") && (!m || (strcmp(m, "a") && strcmp(m, "c"))))
			return api_wfm_bad(e, "staffing.model", "staffing.model: expected a or c");
		c->sp.model = !m ? -1 : !strcmp(m, "a") ? WFM_ERLANG_A : WFM_ERLANG_C;
		double hist;
		if ((r = api_wfm_get_num(st, "target_sl", "staffing", false, 0, 0.01, 0.9999, &c->sp.target_sl, e)) ||
		    (r = api_wfm_get_num(st, "sl_seconds", "staffing", false, -1, 0, 86400, &c->sp.sl_seconds, e)) ||
		    (r = api_wfm_get_num(st, "shrinkage", "staffing", false, 0, 0, 0.95, &c->sp.shrinkage, e)) ||
		    (r = api_wfm_get_num(st, "aht_seconds", "staffing", false, 300, 1, 86400, &c->sp.default_aht, e)) ||
		    (r = api_wfm_get_num(st, "patience_seconds", "staffing", false, -1, 1, 1e7, &c->sp.patience_s, e)) ||
		    (r = api_wfm_get_num(st, "history_days", "staffing", false, 28, 7, WFM_MAX_HISTORY_DAYS, &hist, e)))
			return r;
		int64_t now = base_wall_ms();
		if ((r = api_wfm_qdata_init(&c->q, json_integer_value(qid), (unsigned)hist, now)))
			return r;
		if (c->start_ms < c->q.day0_ms ||
		    (c->start_ms - c->q.day0_ms) / WFM_DAY_MS + c->days > WFM_MAX_HORIZON_DAYS)
			return api_wfm_bad(e, "start_date",
					   "start_date: with queue_id the schedule must start today or later and end "
					   "within %d days", WFM_MAX_HORIZON_DAYS);
		c->offset_days = (unsigned)((c->start_ms - c->q.day0_ms) / WFM_DAY_MS);
	}

	json_t *tpl = json_object_get(in, "templates"), *ag = json_object_get(in, "agents");
	if (!json_is_array(tpl) || !json_array_size(tpl) || json_array_size(tpl) > SCHED_MAX_TEMPLATES)
		return api_wfm_bad(e, "templates", "templates: expected 1 to %d shift templates",
				   SCHED_MAX_TEMPLATES);
	if (!json_is_array(ag) || !json_array_size(ag) || json_array_size(ag) > SCHED_MAX_AGENTS)
		return api_wfm_bad(e, "agents", "agents: expected 1 to %d agents", SCHED_MAX_AGENTS);
	c->n_tpl = (unsigned)json_array_size(tpl);
	c->n_ag = (unsigned)json_array_size(ag);
	c->tpl = calloc(c->n_tpl, sizeof(*c->tpl));
	c->tpl_name = calloc(c->n_tpl, sizeof(*c->tpl_name));
	c->ag = calloc(c->n_ag, sizeof(*c->ag));
	c->agent_id = calloc(c->n_ag, sizeof(*c->agent_id));
	c->avail = calloc((size_t)c->n_ag * c->n, 1);
	c->skills = calloc((size_t)c->n_ag * SCHED_MAX_SKILLS, sizeof(unsigned));
	if (!c->tpl || !c->tpl_name || !c->ag || !c->agent_id || !c->avail || !c->skills)
		return -ENOMEM;
	for (unsigned i = 0; i < c->n_tpl; i++)
		if ((r = parse_template(c, json_array_get(tpl, i), i, e)))
			return r;
	for (unsigned i = 0; i < c->n_ag; i++)
		if ((r = parse_agent(c, json_array_get(ag, i), i, e)))
			return r;
	return 0;
}

/* ---- the schedule (on a worker) --------------------------------------------- */

static const char *cbc_status_name(int s)
{
	switch (s) {
	case 0: return "ok";
	case -ENOENT: return "missing";
	case -ETIME: return "time_limit";
	default: return "failed";
	}
}

static json_t *iso(int64_t ms)
{
	char t[32];
	return json_string(base_iso8601(ms, t, sizeof(t)));
}

static json_t *schedule_doc(struct sched_ctx *c, const struct wfm_sched_result *r, json_t *source)
{
	char d[16];
	api_wfm_format_date(c->start_ms, d, sizeof(d));
	json_t *req = json_array(), *cov = json_array(), *tn = json_array(), *agents = json_array(),
	       *shifts = json_array();
	for (size_t i = 0; i < c->n; i++) {
		json_array_append_new(req, json_integer((json_int_t)ceil(c->required[i] - 1e-9)));
		json_array_append_new(cov, json_integer(r->coverage[i]));
	}
	for (unsigned i = 0; i < c->n_tpl; i++)
		json_array_append_new(tn, json_string(c->tpl_name[i]));
	for (unsigned i = 0; i < c->n_ag; i++)
		json_array_append_new(agents, json_pack("{s:I, s:f, s:f, s:f}", "agent_id",
							(json_int_t)c->agent_id[i], "hours",
							round(r->agent_hours[i] * 100) / 100, "min_hours",
							c->ag[i].min_hours, "max_hours", c->ag[i].max_hours));
	for (size_t k = 0; k < r->n_shifts; k++) {
		const struct wfm_sched_shift *s = &r->shifts[k];
		const struct wfm_sched_template *t = &c->tpl[s->template_idx];
		json_t *brs = json_array();
		for (unsigned b = 0; b < s->n_breaks; b++)
			json_array_append_new(brs, json_pack("{s:I, s:I, s:o, s:o, s:b}", "start_interval",
							     (json_int_t)s->break_start[b], "length",
							     (json_int_t)t->breaks[b].len, "start",
							     iso(c->start_ms + s->break_start[b] * WFM_IV_MS), "end",
							     iso(c->start_ms + (s->break_start[b] + t->breaks[b].len) *
										 WFM_IV_MS),
							     "paid", t->breaks[b].paid));
		json_array_append_new(
			shifts, json_pack("{s:o, s:s, s:I, s:I, s:f, s:o, s:o, s:o}", "agent_id",
					  s->agent == UINT_MAX ? json_null()
							       : json_integer(c->agent_id[s->agent]),
					  "template", c->tpl_name[s->template_idx], "start_interval",
					  (json_int_t)s->start, "length", (json_int_t)s->length, "paid_hours",
					  s->paid * WFM_IV_S / 3600.0, "start", iso(c->start_ms + s->start * WFM_IV_MS),
					  "end", iso(c->start_ms + (s->start + s->length) * WFM_IV_MS), "breaks", brs));
	}
	json_t *doc = json_pack("{s:s, s:s, s:I, s:i, s:o, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:f, s:I}",
				"name", c->name, "start_date", d, "days", (json_int_t)c->days,
				"interval_seconds", WFM_IV_S, "source", source, "method",
				wfm_sched_method_name(r->method), "cbc_status", cbc_status_name(r->cbc_status),
				"objective", api_wfm_num(r->objective), "bound", api_wfm_num(r->bound), "gap",
				api_wfm_num(r->gap), "lp_bound", api_wfm_num(r->lp_bound),
				"fallback_objective", api_wfm_num(r->fallback_objective), "solve_seconds",
				round(r->solve_s * 1000) / 1000, "patterns", (json_int_t)r->n_patterns);
	json_object_set_new(doc, "required", req);
	json_object_set_new(doc, "coverage", cov);
	json_object_set_new(doc, "under", json_real(r->under));
	json_object_set_new(doc, "over", json_real(r->over));
	json_object_set_new(doc, "short_intervals", json_integer(r->short_intervals));
	json_object_set_new(doc, "paid_hours", json_real(round(r->paid_hours * 100) / 100));
	json_object_set_new(doc, "unassigned", json_integer((json_int_t)r->n_unassigned));
	json_object_set_new(doc, "agents_below_min", json_integer(r->agents_below_min));
	json_object_set_new(doc, "templates", tn);
	json_object_set_new(doc, "agents", agents);
	json_object_set_new(doc, "shifts", shifts);
	return doc;
}

/* The requirement from the queue's forecast, staffed. */
static int requirement_from_queue(struct sched_ctx *c, json_t **source)
{
	struct wfm_fcast f;
	int r = api_wfm_forecast(&c->q, c->offset_days + c->days, &f);
	if (r)
		return r;
	struct wfm_plan_opts o;
	double *aht = malloc(f.h * sizeof(double));
	long *sc = malloc(f.h * sizeof(long));
	c->required = malloc(c->n * sizeof(double));
	json_t *st = NULL;
	if (!aht || !sc || !c->required) {
		r = -ENOMEM;
		goto out;
	}
	api_wfm_plan_for(&c->sp, &c->q, &f, &o, aht);
	st = api_wfm_staff_json(&o, f.arrivals, aht, f.h, sc, &r);
	if (!st)
		goto out;
	size_t off = (size_t)c->offset_days * WFM_DAY_IV;
	for (size_t i = 0; i < c->n; i++) {
		if (sc[off + i] < 0) {
			api_wfm_bad(&c->perr, "queue_id", "the forecast of interval %zu cannot be staffed", i);
			r = -EINVAL;
			goto out;
		}
		c->required[i] = (double)sc[off + i];
	}
	*source = json_pack("{s:s, s:I, s:s, s:O, s:O, s:O, s:O, s:O}", "kind", "queue", "queue_id",
			    (json_int_t)c->q.queue_id, "forecast_method", wfm_fc_method_name(f.arr_method),
			    "model", json_object_get(st, "model"), "patience_seconds",
			    json_object_get(st, "patience_seconds"), "target_sl", json_object_get(st, "target_sl"),
			    "sl_seconds", json_object_get(st, "sl_seconds"), "shrinkage",
			    json_object_get(st, "shrinkage"));
out:
	json_decref(st);
	free(aht);
	free(sc);
	api_wfm_fcast_free(&f);
	return r;
}

static void sched_work(void *arg)
{
	struct api_req *req = arg;
	struct sched_ctx *c = req->ctx;
	json_t *source = NULL;
	if (c->from_queue) {
		c->err = requirement_from_queue(c, &source);
		if (c->err) {
			api_resume(req);
			return;
		}
	} else {
		source = json_pack("{s:s}", "kind", "requirement");
	}
	struct wfm_sched_problem p = {.n_intervals = (unsigned)c->n, .intervals_per_day = WFM_DAY_IV,
				      .interval_s = WFM_IV_S, .required = c->required,
				      .templates = c->tpl, .n_templates = c->n_tpl, .agents = c->ag,
				      .n_agents = c->n_ag};
	struct wfm_sched_opts o;
	wfm_sched_opts_init(&o);
	o.time_limit_s = c->time_limit_s;
	o.min_rest = c->min_rest;
	struct wfm_sched_result r;
	memset(&r, 0, sizeof(r));
	c->err = wfm_schedule(&p, &o, &r);
	if (c->err == -E2BIG)
		api_wfm_bad(&c->perr, "templates", "templates: more than 2,000,000 shift patterns; "
				    "use fewer start times or fewer days");
	if (!c->err) {
		c->doc = schedule_doc(c, &r, source);
		source = NULL;
		if (!c->doc)
			c->err = -ENOMEM;
	}
	json_decref(source);
	wfm_sched_result_free(&r);
	api_resume(req);
}

/* ---- saving and answering ---------------------------------------------------- */

/* {"id":…,"status":…,"created_at":…,"updated_at":…,"published_at":…, + doc} */
static char *splice(int64_t id, const char *status, int64_t created, int64_t updated, int64_t published,
		    const char *doc)
{
	char head[320], t1[32], t2[32], t3[40];
	if (published)
		snprintf(t3, sizeof(t3), "\"%s\"", base_iso8601(published, t1, sizeof(t1)));
	else
		snprintf(t3, sizeof(t3), "null");
	if (id)
		snprintf(head, sizeof(head),
			 "{\"id\":%" PRId64 ",\"status\":\"%s\",\"created_at\":\"%s\",\"updated_at\":\"%s\","
			 "\"published_at\":%s",
			 id, status, base_iso8601(created, t1, sizeof(t1)), base_iso8601(updated, t2, sizeof(t2)),
			 t3);
	else
		snprintf(head, sizeof(head),
			 "{\"id\":null,\"status\":\"unsaved\",\"created_at\":null,\"updated_at\":null,"
			 "\"published_at\":null");
	size_t hl = strlen(head), dl = doc ? strlen(doc) : 0;
	char *out = malloc(hl + dl + 2);
	if (!out)
		return NULL;
	memcpy(out, head, hl);
	if (dl > 2 && doc[0] == '{') {
		out[hl] = ',';
		memcpy(out + hl + 1, doc + 1, dl - 1);
		out[hl + dl] = '\0';
	} else {
		memcpy(out + hl, "}", 2);
	}
	return out;
}

static int save_job(struct store_tx *tx, void *arg)
{
	struct sched_ctx *c = ((struct api_req *)arg)->ctx;
	char *doc = json_dumps(c->doc, JSON_COMPACT | JSON_REAL_PRECISION(12));
	if (!doc)
		return -ENOMEM;
	const char *status = c->publish ? "published" : "draft";
	c->now = store_now_ms();
	struct store_val p[] = {store_text(c->name), store_text(status), store_int(c->start_ms),
				store_int(c->start_ms + (int64_t)c->days * WFM_DAY_MS), store_text(doc),
				store_int(c->actor), store_int(c->now),
				c->publish ? store_int(c->now) : store_null()};
	int r = store_query_int(tx,
				"INSERT INTO schedules (name, status, start_ms, end_ms, doc, version, created_by, "
				"created_at, updated_at, published_at) VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7, $8) "
				"RETURNING id",
				p, 8, &c->id);
	if (!r) {
		c->body = splice(c->id, status, c->now, c->now, c->publish ? c->now : 0, doc);
		if (!c->body)
			r = -ENOMEM;
	}
	free(doc);
	if (r)
		return r;
	char d[16];
	api_wfm_format_date(c->start_ms, d, sizeof(d));
	json_t *pl = json_pack("{s:I, s:s, s:s, s:s, s:I}", "id", (json_int_t)c->id, "name", c->name,
			       "status", status, "start_date", d, "days", (json_int_t)c->days);
	char *pls = json_dumps(pl, JSON_COMPACT);
	json_decref(pl);
	struct store_event ev = {.type = "schedule.created", .actor = c->actor, .payload = pls};
	r = pls ? store_event_append(tx, &ev) : -ENOMEM;
	if (!r && c->publish) {
		struct store_event ev2 = {.type = "schedule.published", .actor = c->actor, .payload = pls};
		r = store_event_append(tx, &ev2);
	}
	free(pls);
	return r;
}

static void saved_done(struct api_req *req)
{
	struct sched_ctx *c = req->ctx;
	if (req->err || !c->body) {
		LOG_ERROR("api", "saving a schedule failed in the store: %d", req->err);
		return api_problem(req, 500, "the store failed; the schedule was not saved", NULL);
	}
	char *b = c->body;
	c->body = NULL;
	api_respond(req, 201, "application/json", b, strlen(b));
}

static void sched_done(struct api_req *req)
{
	struct sched_ctx *c = req->ctx;
	if (c->holds_slot) {
		c->holds_slot = false;
		sched_running--;
	}
	if (c->err) {
		if (c->perr.detail[0])
			return api_problem(req, 422, c->perr.detail, c->perr.field);
		LOG_ERROR("api", "building a schedule failed: %d", c->err);
		return api_problem(req, c->err == -EINVAL ? 422 : 500, "the schedule could not be built", NULL);
	}
	if (c->save) {
		api_submit(req, true, save_job, saved_done);
		return;
	}
	char *doc = json_dumps(c->doc, JSON_COMPACT | JSON_REAL_PRECISION(12));
	char *b = doc ? splice(0, NULL, 0, 0, 0, doc) : NULL;
	free(doc);
	if (!b)
		return api_problem(req, 500, "out of memory", NULL);
	api_respond(req, 200, "application/json", b, strlen(b));
}

static int sched_read_job(struct store_tx *tx, void *arg)
{
	struct sched_ctx *c = ((struct api_req *)arg)->ctx;
	return api_wfm_read_queue(tx, &c->q);
}

static void sched_after_read(struct api_req *req)
{
	struct sched_ctx *c = req->ctx;
	if (req->err || !c->q.found) {
		c->holds_slot = false;
		sched_running--;
		if (req->err)
			return api_problem(req, 500, "the store failed", NULL);
		return api_problem(req, 422, "queue_id: there is no queue with that id", "queue_id");
	}
	api_work(req, sched_work, sched_done);
}

void api_handle_wfm_schedule(struct api_req *req)
{
	if (req->method != LWSHUMETH_POST) {
		api_add_header(req, "Allow", "POST");
		return api_problem(req, 405, "method not allowed here", NULL);
	}
	if (!(req->who.role & (ROLE_ADMIN | ROLE_SUPERVISOR)))
		return api_problem(req, 403, "only admins and supervisors build schedules", NULL);
	json_t *in = api_parse_body(req);
	if (!in)
		return;
	struct sched_ctx *c = calloc(1, sizeof(*c));
	if (!c) {
		json_decref(in);
		return api_problem(req, 500, "out of memory", NULL);
	}
	req->ctx = c;
	req->ctx_free = sched_ctx_free;
	c->actor = req->who.user_id;
	struct wfm_perr e = {"", ""};
	int r = parse_body(c, in, &e);
	json_decref(in);
	if (r == -ENOMEM)
		return api_problem(req, 500, "out of memory", NULL);
	if (r)
		return api_problem(req, 422, e.detail, e.field);
	if (sched_running) {
		api_add_header(req, "Retry-After", "5");
		return api_problem(req, 429, "a schedule is being built; try again in a few seconds", NULL);
	}
	sched_running++;
	c->holds_slot = true;
	/* On a refusal (503) ctx_free releases the slot. */
	if (c->from_queue)
		api_submit(req, false, sched_read_job, sched_after_read);
	else
		api_work(req, sched_work, sched_done);
}

/* ---- saved schedules ----------------------------------------------------------- */

struct saved_ctx {
	int64_t id, after, limit, actor;
	bool publish;
	int status;
	char *body;
	bool more;
	int64_t last_id;
	size_t count;
	char *list;
	size_t len, cap;
};

static void saved_ctx_free(void *p)
{
	struct saved_ctx *c = p;
	free(c->body);
	free(c->list);
	free(c);
}

static int one_row(const struct store_val *col, int n, void *arg)
{
	(void)n;
	struct saved_ctx *c = arg;
	free(c->body);
	c->body = splice(col[0].i, col[1].s ? col[1].s : "draft", col[2].i, col[3].i,
			 col[4].type == STORE_INT ? col[4].i : 0, col[5].s);
	c->status = c->body ? 200 : 500;
	return 1;
}

static int fetch_one(struct store_tx *tx, struct saved_ctx *c)
{
	struct store_val p[] = {store_int(c->id)};
	c->status = 404;
	int r = store_query(tx,
			    "SELECT id, status, created_at, updated_at, published_at, doc FROM schedules "
			    "WHERE tenant = 1 AND id = $1",
			    p, 1, one_row, c);
	return r < 0 ? r : 0;
}

static int get_job(struct store_tx *tx, void *arg)
{
	return fetch_one(tx, ((struct api_req *)arg)->ctx);
}

static int publish_job(struct store_tx *tx, void *arg)
{
	struct saved_ctx *c = ((struct api_req *)arg)->ctx;
	int64_t now = store_now_ms(), changes = 0;
	struct store_val p[] = {store_int(c->id), store_int(now)};
	int r = store_exec(tx,
			   "UPDATE schedules SET status = 'published', published_at = $2, updated_at = $2, "
			   "version = version + 1 WHERE tenant = 1 AND id = $1",
			   p, 2, &changes);
	if (r)
		return r;
	if (!changes) {
		c->status = 404;
		return 0;
	}
	char pl[64];
	snprintf(pl, sizeof(pl), "{\"id\":%" PRId64 "}", c->id);
	struct store_event ev = {.type = "schedule.published", .actor = c->actor, .payload = pl};
	if ((r = store_event_append(tx, &ev)))
		return r;
	return fetch_one(tx, c);
}

static void list_add(struct saved_ctx *c, const char *s)
{
	size_t n = strlen(s);
	if (c->len + n + 1 > c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 4096;
		while (cap < c->len + n + 1)
			cap *= 2;
		char *np = realloc(c->list, cap);
		if (!np)
			return;
		c->list = np;
		c->cap = cap;
	}
	memcpy(c->list + c->len, s, n + 1);
	c->len += n;
}

static int list_row(const struct store_val *col, int n, void *arg)
{
	(void)n;
	struct saved_ctx *c = arg;
	if ((int64_t)c->count == c->limit) {
		c->more = true;
		return 1;
	}
	char d[16], t1[32], t2[32];
	api_wfm_format_date(col[3].i, d, sizeof(d));
	json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:I, s:s, s:o}", "id", (json_int_t)col[0].i, "name",
			      col[1].s ? col[1].s : "", "status", col[2].s ? col[2].s : "", "start_date", d,
			      "days", (json_int_t)((col[4].i - col[3].i) / WFM_DAY_MS), "created_at",
			      base_iso8601(col[5].i, t1, sizeof(t1)), "published_at",
			      col[6].type == STORE_INT ? json_string(base_iso8601(col[6].i, t2, sizeof(t2)))
						       : json_null());
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!s)
		return -ENOMEM;
	if (c->count++)
		list_add(c, ",");
	list_add(c, s);
	free(s);
	c->last_id = col[0].i;
	return 0;
}

static int list_job(struct store_tx *tx, void *arg)
{
	struct saved_ctx *c = ((struct api_req *)arg)->ctx;
	list_add(c, "{\"items\":[");
	struct store_val p[] = {store_int(c->after ? c->after : INT64_MAX), store_int(c->limit + 1)};
	int r = store_query(tx,
			    "SELECT id, name, status, start_ms, end_ms, created_at, published_at FROM schedules "
			    "WHERE tenant = 1 AND id < $1 ORDER BY id DESC LIMIT $2",
			    p, 2, list_row, c);
	if (r < 0)
		return r;
	char tail[48];
	if (c->more)
		snprintf(tail, sizeof(tail), "],\"next_after\":%" PRId64 "}", c->last_id);
	else
		snprintf(tail, sizeof(tail), "],\"next_after\":null}");
	list_add(c, tail);
	if (!c->list || c->list[c->len - 1] != '}')
		return -ENOMEM;
	c->body = c->list;
	c->list = NULL;
	c->status = 200;
	return 0;
}

static void saved_answer(struct api_req *req)
{
	struct saved_ctx *c = req->ctx;
	if (req->err) {
		LOG_ERROR("api", "wfm schedules: store error %d", req->err);
		return api_problem(req, 500, "the store failed", NULL);
	}
	if (c->status == 404 || !c->body)
		return api_problem(req, 404, "no schedule with that id", NULL);
	char *b = c->body;
	c->body = NULL;
	api_respond(req, 200, "application/json", b, strlen(b));
}

void api_handle_wfm_schedules(struct api_req *req, const char *rest)
{
	if (!(req->who.role & (ROLE_ADMIN | ROLE_SUPERVISOR)))
		return api_problem(req, 403, "only admins and supervisors read schedules", NULL);
	struct saved_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return api_problem(req, 500, "out of memory", NULL);
	req->ctx = c;
	req->ctx_free = saved_ctx_free;
	c->actor = req->who.user_id;
	if (!*rest) {
		if (req->method != LWSHUMETH_GET) {
			api_add_header(req, "Allow", "GET");
			return api_problem(req, 405, "method not allowed here", NULL);
		}
		if (api_query_int(req, "limit", 50, 1, 200, &c->limit))
			return api_problem(req, 422, "limit: expected an integer from 1 to 200", "limit");
		if (api_query_int(req, "after", 0, 0, INT64_MAX, &c->after))
			return api_problem(req, 422, "after: expected a schedule id (the list runs newest first)",
					   "after");
		api_submit(req, false, list_job, saved_answer);
		return;
	}
	/* "/ID" or "/ID/publish" */
	char *end;
	errno = 0;
	long long id = strtoll(rest + 1, &end, 10);
	if (rest[0] != '/' || errno || end == rest + 1 || id < 1 || (*end && strcmp(end, "/publish")))
		return api_problem(req, 404, "no such endpoint", NULL);
	c->id = id;
	if (!*end) {
		if (req->method != LWSHUMETH_GET) {
			api_add_header(req, "Allow", "GET");
			return api_problem(req, 405, "method not allowed here", NULL);
		}
		api_submit(req, false, get_job, saved_answer);
		return;
	}
	if (req->method != LWSHUMETH_POST) {
		api_add_header(req, "Allow", "POST");
		return api_problem(req, 405, "method not allowed here", NULL);
	}
	api_submit(req, true, publish_job, saved_answer);
}
