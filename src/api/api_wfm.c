/*
 * api_wfm.c: POST /api/v1/wfm/erlang, the staffing calculator behind the
 * UI's calculator page (the same math as `hotline erlang`, src/wfm).
 *
 * The body names a load (model, calls per period, handle time, patience,
 * service-level threshold) and either an agent count to evaluate or a
 * target service level to staff for. The answer carries the evaluation,
 * scheduled staff after shrinkage, and a curve of service level, wait,
 * occupancy and abandonment over a range of agent counts for the chart.
 * The calculator is pure arithmetic bounded to a few milliseconds (at most
 * 61 evaluations, agent counts capped), so it runs on the web thread;
 * POST /api/v1/wfm/simulate runs the what-if simulator on the worker pool.
 */
#include "api/api_int.h"
#include "base/base.h"
#include "wfm/wfm.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define WFM_API_MAX_AGENTS 100000
#define CURVE_POINTS 61

static json_t *num(double x)
{
	return isfinite(x) ? json_real(x) : json_null();
}

static json_t *result_json(const struct wfm_result *r, enum wfm_model m)
{
	json_t *o = json_pack("{s:I, s:o, s:o, s:o, s:o, s:o}", "agents", (json_int_t)r->agents,
			      "traffic_erlangs", num(r->traffic_erlangs), "p_wait", num(r->p_wait),
			      "mean_wait_seconds", num(r->mean_wait_s), "service_level",
			      num(r->service_level), "occupancy", num(r->occupancy));
	if (m == WFM_ERLANG_A) {
		json_object_set_new(o, "p_abandon", num(r->p_abandon));
		json_object_set_new(o, "sl_answered", num(r->sl_answered));
		json_object_set_new(o, "sl_excluding_short_abandons", num(r->sl_excluding_short_abandons));
		json_object_set_new(o, "sl_wait_le_t", num(r->sl_wait_le_t));
	}
	if (m == WFM_ERLANG_B)
		json_object_set_new(o, "p_block", num(r->p_block));
	return o;
}

/* A number field: absent -> def (or missing when required). Returns 0 or
 * answers 422 and returns -1. */
static int get_num(struct api_req *req, json_t *in, const char *k, bool required, double def,
		   double lo, double hi, double *out)
{
	json_t *v = json_object_get(in, k);
	char d[160];
	if (!v) {
		if (!required) {
			*out = def;
			return 0;
		}
		snprintf(d, sizeof(d), "%s: required field is missing", k);
		api_problem(req, 422, d, k);
		return -1;
	}
	if (!json_is_number(v) || !(json_number_value(v) >= lo && json_number_value(v) <= hi)) {
		snprintf(d, sizeof(d), "%s: expected a number from %g to %g", k, lo, hi);
		api_problem(req, 422, d, k);
		return -1;
	}
	*out = json_number_value(v);
	return 0;
}

void api_handle_wfm_erlang(struct api_req *req)
{
	if (req->method != LWSHUMETH_POST) {
		api_add_header(req, "Allow", "POST");
		return api_problem(req, 405, "method not allowed here", NULL);
	}
	json_t *in = api_parse_body(req);
	if (!in)
		return;
	static const char *const keys[] = {"model", "calls", "period_seconds", "aht_seconds",
					   "patience_seconds", "sl_seconds", "agents", "target_sl",
					   "shrinkage", NULL};
	const char *k;
	json_t *v;
	if (!json_is_object(in)) {
		json_decref(in);
		return api_problem(req, 422, "the body must be a JSON object", NULL);
	}
	json_object_foreach(in, k, v) {
		bool known = false;
		for (const char *const *p = keys; *p; p++)
			known |= strcmp(*p, k) == 0;
		if (!known) {
			char d[160];
			snprintf(d, sizeof(d), "%s: unknown field", k);
			api_problem(req, 422, d, k);
			json_decref(in);
			return;
		}
	}
	const char *ms = json_string_value(json_object_get(in, "model"));
	enum wfm_model model;
	if (ms && !strcmp(ms, "b"))
		model = WFM_ERLANG_B;
	else if (ms && !strcmp(ms, "c"))
		model = WFM_ERLANG_C;
	else if (ms && !strcmp(ms, "a"))
		model = WFM_ERLANG_A;
	else {
		json_decref(in);
		return api_problem(req, 422, "model: expected one of: a, b, c", "model");
	}
	struct wfm_load load = {.model = model};
	double agents_d, target, shrink;
	if (get_num(req, in, "calls", true, 0, 0, 1e7, &load.calls) ||
	    get_num(req, in, "period_seconds", false, 1800, 1, 86400, &load.period_s) ||
	    get_num(req, in, "aht_seconds", true, 0, 0.001, 86400, &load.aht_s) ||
	    get_num(req, in, "patience_seconds", model == WFM_ERLANG_A, 0, 0.001, 1e7, &load.patience_s) ||
	    get_num(req, in, "sl_seconds", false, 20, 0, 86400, &load.sl_seconds) ||
	    get_num(req, in, "agents", false, 0, 0, WFM_API_MAX_AGENTS, &agents_d) ||
	    get_num(req, in, "target_sl", false, 0, 0, 0.9999, &target) ||
	    get_num(req, in, "shrinkage", false, 0, 0, 0.95, &shrink)) {
		json_decref(in);
		return;
	}
	json_decref(in);
	if (agents_d != floor(agents_d))
		return api_problem(req, 422, "agents: expected a whole number", "agents");
	long agents = (long)agents_d;
	if (!agents && target <= 0)
		return api_problem(req, 422, "give agents to evaluate, or target_sl to staff for", "target_sl");

	struct wfm_result r;
	int err;
	if (agents) {
		err = wfm_evaluate(&load, agents, &r);
	} else {
		struct wfm_target tg;
		wfm_target_init(&tg);
		tg.min_service_level = target;
		err = wfm_staff(&load, &tg, &agents, &r);
		if (!err && agents > WFM_API_MAX_AGENTS)
			err = -ERANGE;
	}
	if (err == -ERANGE)
		return api_problem(req, 422, "no staff up to 100000 agents meets that target", "target_sl");
	if (err)
		return api_problem(req, 422, "the load is not valid for this model (check patience against handle time)",
				   NULL);

	/* The chart: from well below the traffic to well above the answer. */
	long lo = (long)floor(r.traffic_erlangs * 0.8), hi = agents + 10;
	if (lo < 1)
		lo = 1;
	if (hi < lo + 10)
		hi = lo + 10;
	if (hi > WFM_API_MAX_AGENTS)
		hi = WFM_API_MAX_AGENTS;
	long step = (hi - lo) / (CURVE_POINTS - 1) + 1;
	json_t *curve = json_array();
	for (long n = lo; n <= hi; n += step) {
		struct wfm_result c;
		if (wfm_evaluate(&load, n, &c))
			continue;
		json_array_append_new(curve, json_pack("{s:I, s:o, s:o, s:o, s:o}", "agents", (json_int_t)n,
						       "service_level", num(c.service_level),
						       "mean_wait_seconds", num(c.mean_wait_s),
						       "occupancy", num(c.occupancy), "p_abandon",
						       num(c.p_abandon)));
	}
	json_t *out = json_pack("{s:o, s:o}", "result", result_json(&r, model), "curve", curve);
	if (shrink > 0)
		json_object_set_new(out, "scheduled_agents",
				    json_integer((json_int_t)wfm_scheduled_staff(agents, shrink)));
	api_respond_json(req, 200, out);
}

/* ---- POST /api/v1/wfm/simulate ----------------------------------------- */

/* Most simulated contacts (all replications) one API call may ask for;
 * larger studies belong to `hotline simulate`. Keeps a worker's turn to
 * about a second. */
#define SIM_API_MAX_CONTACTS 1000000.0

struct sim_ctx {
	struct wfm_sim_scenario *sc;
	char *body;
	int err;
};

static void sim_ctx_free(void *p)
{
	struct sim_ctx *c = p;
	wfm_sim_scenario_free(c->sc);
	free(c->body);
	free(c);
}

/* On a worker: the simulation blocks for as long as it takes. */
static void sim_work(void *arg)
{
	struct api_req *req = arg;
	struct sim_ctx *c = req->ctx;
	struct wfm_sim_report rep;
	memset(&rep, 0, sizeof(rep));
	c->err = wfm_simulate(c->sc, &rep);
	if (!c->err) {
		json_t *j = wfm_sim_report_json(c->sc, &rep);
		c->body = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(10));
		json_decref(j);
		if (!c->body)
			c->err = -ENOMEM;
	}
	wfm_sim_report_free(&rep);
	api_resume(req);
}

static void sim_done(struct api_req *req)
{
	struct sim_ctx *c = req->ctx;
	if (c->err) {
		api_problem(req, c->err == -EINVAL ? 422 : 500, "the simulation could not run", NULL);
		return;
	}
	char *b = c->body;
	c->body = NULL;
	api_respond(req, 200, "application/json", b, strlen(b));
}

void api_handle_wfm_simulate(struct api_req *req)
{
	if (req->method != LWSHUMETH_POST) {
		api_add_header(req, "Allow", "POST");
		return api_problem(req, 405, "method not allowed here", NULL);
	}
	if (!(req->who.role & (ROLE_ADMIN | ROLE_SUPERVISOR)))
		return api_problem(req, 403, "only admins and supervisors run simulations", NULL);
	/* Malformed JSON or invalid UTF-8: the same 400 as everywhere else. */
	json_t *parsed = api_parse_body(req);
	if (!parsed)
		return;
	json_decref(parsed);
	struct sim_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return api_problem(req, 500, "out of memory", NULL);
	req->ctx = c;
	req->ctx_free = sim_ctx_free;
	char err[300] = "";
	int r = wfm_sim_scenario_load(req->body, req->body_len, &c->sc, err, sizeof(err));
	if (r) {
		char d[360];
		snprintf(d, sizeof(d), "%s", err[0] ? err : "invalid scenario");
		/* The loader names the field first, a segment at a time
		 * ("queues[0]: aht_seconds: expected …"); join the segments into
		 * the dotted path the rest of the API uses. */
		char field[128] = "";
		size_t fl = 0;
		const char *seg = err, *colon;
		while ((colon = strstr(seg, ": ")) && !memchr(seg, ' ', (size_t)(colon - seg)) &&
		       colon > seg && fl + (size_t)(colon - seg) + 2 < sizeof(field)) {
			fl += (size_t)snprintf(field + fl, sizeof(field) - fl, "%s%.*s", fl ? "." : "",
					       (int)(colon - seg), seg);
			seg = colon + 2;
		}
		return api_problem(req, r == -EINVAL ? 422 : 500, d, field);
	}
	double contacts = 0;
	for (unsigned q = 0; q < c->sc->n_queues; q++)
		for (unsigned i = 0; i < c->sc->n_intervals; i++)
			contacts += c->sc->queues[q].calls[i];
	/* the warm-up runs interval 0's load for warmup_s more */
	for (unsigned q = 0; q < c->sc->n_queues; q++)
		contacts += c->sc->queues[q].calls[0] * c->sc->warmup_s / c->sc->interval_s;
	contacts *= c->sc->replications;
	if (!(contacts <= SIM_API_MAX_CONTACTS)) {
		char d[200];
		snprintf(d, sizeof(d),
			 "about %.0f simulated contacts is more than the API runs (%.0f); use `hotline simulate`",
			 contacts, SIM_API_MAX_CONTACTS);
		return api_problem(req, 422, d, "replications");
	}
	api_work(req, sim_work, sim_done);
}
