/*
 * wfm_sim_cli.c: the JSON scenario loader of the what-if simulator and the
 * `hotline simulate` command.
 *
 * The loader is a parser of untrusted text (a planner's file, later an API
 * body), so it is strict: unknown keys, wrong types, out-of-range values
 * and arrays of the wrong length are errors that name the field, every
 * size is bounded (wfm.h's WFM_SIM_MAX_*), and tests/fuzz/fuzz_scenario.c
 * feeds it arbitrary bytes. The scenario it returns owns every array it
 * points to, in one allocation context freed by wfm_sim_scenario_free().
 *
 * The command reads the file, runs wfm_simulate() and prints either a
 * table or one JSON object. The format is in docs/WFM.md.
 */
#include "wfm/wfm.h"
#include "routing/routing.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_USAGE 2
#define MAX_FILE_BYTES (64u << 20)

/* A loaded scenario and the arrays it owns; sc must stay first so that
 * wfm_sim_scenario_free() can find the rest. */
struct owned {
	struct wfm_sim_scenario sc;
	struct wfm_sim_queue *queues;
	struct wfm_sim_group *groups;
	double *calls;       /* n_queues x n_intervals */
	unsigned *agents;    /* n_groups x n_intervals */
	uint32_t *served;    /* every group's queue ids, concatenated */
};

void wfm_sim_scenario_free(struct wfm_sim_scenario *s)
{
	struct owned *o = (struct owned *)s;
	if (!o)
		return;
	free(o->queues);
	free(o->groups);
	free(o->calls);
	free(o->agents);
	free(o->served);
	free(o);
}

struct perr {
	char *buf;
	size_t len;
};

/* Formats the error (field path and what was expected) and returns -EINVAL. */
static int fail(struct perr *e, const char *path, const char *what)
{
	if (e->buf && e->len)
		snprintf(e->buf, e->len, "%s: %s", path, what);
	return -EINVAL;
}

/* A number (integer or real) in [lo, hi]. */
static int get_num(json_t *v, double lo, double hi, double *out)
{
	if (!json_is_number(v))
		return -EINVAL;
	double d = json_number_value(v);
	if (!isfinite(d) || d < lo || d > hi)
		return -EINVAL;
	*out = d;
	return 0;
}

/* A whole number in [lo, hi] (a real with no fraction is accepted). */
static int get_int(json_t *v, double lo, double hi, long long *out)
{
	double d;
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);
		if ((double)i < lo || (double)i > hi)
			return -EINVAL;
		*out = i;
		return 0;
	}
	if (get_num(v, lo, hi, &d) || d != floor(d))
		return -EINVAL;
	*out = (long long)d;
	return 0;
}

static int check_keys(json_t *obj, const char *const *allowed, const char *path,
		      struct perr *e)
{
	const char *k;
	json_t *v;
	char p[160];
	json_object_foreach(obj, k, v) {
		size_t i;
		for (i = 0; allowed[i]; i++)
			if (strcmp(k, allowed[i]) == 0)
				break;
		if (!allowed[i]) {
			snprintf(p, sizeof(p), "%s%s%.60s", path, *path ? "." : "", k);
			return fail(e, p, "unknown key");
		}
	}
	return 0;
}

static int parse_skills(json_t *arr, struct wfm_sim_skill *sk, unsigned *n,
			const char *path, struct perr *e)
{
	char p[128];
	size_t i;
	json_t *v;
	static const char *const keys[] = {"id", "level", NULL};
	if (!json_is_array(arr) || json_array_size(arr) > WFM_SIM_MAX_SKILLS)
		return fail(e, path, "expected an array of at most 8 skills");
	json_array_foreach(arr, i, v) {
		long long id, level;
		snprintf(p, sizeof(p), "%s[%zu]", path, i);
		if (!json_is_object(v))
			return fail(e, p, "expected {\"id\": N, \"level\": 1..5}");
		if (check_keys(v, keys, p, e))
			return -EINVAL;
		if (get_int(json_object_get(v, "id"), 0, ROUTING_MAX_SKILL, &id))
			return fail(e, p, "id: expected 0 to 4095");
		json_t *lv = json_object_get(v, "level");
		level = 1;
		if (lv && get_int(lv, 1, 5, &level))
			return fail(e, p, "level: expected 1 to 5");
		for (size_t j = 0; j < i; j++)
			if (sk[j].id == (unsigned)id)
				return fail(e, p, "id: duplicate skill");
		sk[i].id = (unsigned)id;
		sk[i].level = (unsigned)level;
	}
	*n = (unsigned)json_array_size(arr);
	return 0;
}

/* A number per interval: one number for all, or an array of n. */
static int parse_series_d(json_t *v, unsigned n, double lo, double hi,
			  double *out, const char *path, struct perr *e,
			  const char *what)
{
	double d;
	if (json_is_array(v)) {
		if (json_array_size(v) != n)
			return fail(e, path, "array length differs from intervals");
		for (unsigned i = 0; i < n; i++)
			if (get_num(json_array_get(v, i), lo, hi, &out[i]))
				return fail(e, path, what);
		return 0;
	}
	if (get_num(v, lo, hi, &d))
		return fail(e, path, what);
	for (unsigned i = 0; i < n; i++)
		out[i] = d;
	return 0;
}

static int parse_series_u(json_t *v, unsigned n, unsigned *out,
			  const char *path, struct perr *e)
{
	long long x;
	const char *what = "expected a whole number of agents 0 to 100000, or an array of them";
	if (json_is_array(v)) {
		if (json_array_size(v) != n)
			return fail(e, path, "array length differs from intervals");
		for (unsigned i = 0; i < n; i++) {
			if (get_int(json_array_get(v, i), 0, WFM_SIM_MAX_AGENTS, &x))
				return fail(e, path, what);
			out[i] = (unsigned)x;
		}
		return 0;
	}
	if (get_int(v, 0, WFM_SIM_MAX_AGENTS, &x))
		return fail(e, path, what);
	for (unsigned i = 0; i < n; i++)
		out[i] = (unsigned)x;
	return 0;
}

static const char *const strategy_names[] = {
	"longest_idle", "least_occupied", "best_skill", "round_robin", "ring_all",
};

static int parse_queue(json_t *v, unsigned idx, struct owned *o, struct perr *e)
{
	static const char *const keys[] = {
		"id", "name", "calls", "aht_seconds", "handle_time",
		"patience_seconds", "sl_seconds", "wrap_seconds", "priority",
		"strategy", "skills", NULL};
	struct wfm_sim_queue *q = &o->queues[idx];
	unsigned ni = o->sc.n_intervals;
	char p[64];
	json_t *x;
	long long ll;
	snprintf(p, sizeof(p), "queues[%u]", idx);
	if (!json_is_object(v))
		return fail(e, p, "expected an object");
	if (check_keys(v, keys, p, e))
		return -EINVAL;
	wfm_sim_queue_init(q);
	q->id = idx + 1;
	if ((x = json_object_get(v, "id"))) {
		if (get_int(x, 0, UINT32_MAX, &ll))
			return fail(e, p, "id: expected 0 to 4294967295");
		q->id = (uint32_t)ll;
	}
	if ((x = json_object_get(v, "name"))) {
		if (!json_is_string(x) || json_string_length(x) >= sizeof(q->name) ||
		    strlen(json_string_value(x)) != json_string_length(x))
			return fail(e, p, "name: expected a string of at most 63 bytes");
		snprintf(q->name, sizeof(q->name), "%s", json_string_value(x));
	} else {
		snprintf(q->name, sizeof(q->name), "queue %u", (unsigned)q->id);
	}
	q->calls = &o->calls[(size_t)idx * ni];
	x = json_object_get(v, "calls");
	if (!x)
		return fail(e, p, "calls: missing");
	char sp[80];
	snprintf(sp, sizeof(sp), "%s.calls", p);
	if (parse_series_d(x, ni, 0.0, 1e6, (double *)q->calls, sp, e,
			   "expected calls per interval, 0 to 1e6, or an array of them"))
		return -EINVAL;
	if ((x = json_object_get(v, "aht_seconds")) &&
	    (get_num(x, 0.0, 86400.0, &q->aht_s) || q->aht_s <= 0.0))
		return fail(e, p, "aht_seconds: expected (0, 86400]");
	if ((x = json_object_get(v, "handle_time"))) {
		const char *s = json_string_value(x);
		if (s && strcmp(s, "exponential") == 0)
			q->handle_dist = WFM_SIM_EXPONENTIAL;
		else if (s && strcmp(s, "fixed") == 0)
			q->handle_dist = WFM_SIM_FIXED;
		else
			return fail(e, p, "handle_time: expected \"exponential\" or \"fixed\"");
	}
	if ((x = json_object_get(v, "patience_seconds")) && !json_is_null(x) &&
	    (get_num(x, 0.0, 1e9, &q->patience_s) || q->patience_s <= 0.0))
		return fail(e, p, "patience_seconds: expected (0, 1e9] or null (infinite)");
	if ((x = json_object_get(v, "sl_seconds")) && get_num(x, 0.0, 86400.0, &q->sl_s))
		return fail(e, p, "sl_seconds: expected 0 to 86400");
	if ((x = json_object_get(v, "wrap_seconds")) &&
	    get_num(x, 0.0, 86400.0, &q->wrap_s))
		return fail(e, p, "wrap_seconds: expected 0 to 86400");
	if ((x = json_object_get(v, "priority"))) {
		if (get_int(x, 0, 1000, &ll))
			return fail(e, p, "priority: expected 0 to 1000");
		q->priority = (int)ll;
	}
	if ((x = json_object_get(v, "strategy"))) {
		const char *s = json_string_value(x);
		int k;
		for (k = 0; s && k < (int)(sizeof(strategy_names) / sizeof(*strategy_names)); k++)
			if (strcmp(s, strategy_names[k]) == 0)
				break;
		if (!s || k == (int)(sizeof(strategy_names) / sizeof(*strategy_names)))
			return fail(e, p, "strategy: expected longest_idle, least_occupied, "
					  "best_skill, round_robin or ring_all");
		q->strategy = k;
	}
	if ((x = json_object_get(v, "skills"))) {
		snprintf(sp, sizeof(sp), "%s.skills", p);
		if (parse_skills(x, q->skills, &q->n_skills, sp, e))
			return -EINVAL;
	}
	for (unsigned j = 0; j < idx; j++)
		if (o->queues[j].id == q->id)
			return fail(e, p, "id: duplicate queue id");
	return 0;
}

static int parse_group(json_t *v, unsigned idx, struct owned *o, size_t *served,
		       struct perr *e)
{
	static const char *const keys[] = {"name", "count", "queues", "skills", NULL};
	struct wfm_sim_group *g = &o->groups[idx];
	unsigned ni = o->sc.n_intervals;
	char p[64], sp[80];
	json_t *x;
	snprintf(p, sizeof(p), "agents[%u]", idx);
	if (!json_is_object(v))
		return fail(e, p, "expected an object");
	if (check_keys(v, keys, p, e))
		return -EINVAL;
	if ((x = json_object_get(v, "name"))) {
		if (!json_is_string(x) || json_string_length(x) >= sizeof(g->name) ||
		    strlen(json_string_value(x)) != json_string_length(x))
			return fail(e, p, "name: expected a string of at most 63 bytes");
		snprintf(g->name, sizeof(g->name), "%s", json_string_value(x));
	} else {
		snprintf(g->name, sizeof(g->name), "group %u", idx + 1);
	}
	g->agents = &o->agents[(size_t)idx * ni];
	x = json_object_get(v, "count");
	snprintf(sp, sizeof(sp), "%s.count", p);
	if (!x)
		return fail(e, sp, "missing");
	if (parse_series_u(x, ni, (unsigned *)g->agents, sp, e))
		return -EINVAL;
	x = json_object_get(v, "queues");
	if (!json_is_array(x) || json_array_size(x) < 1 ||
	    json_array_size(x) > WFM_SIM_MAX_QUEUES)
		return fail(e, p, "queues: expected an array of 1 to 256 queue ids");
	g->queues = &o->served[*served];
	for (size_t k = 0; k < json_array_size(x); k++) {
		long long id;
		unsigned j;
		if (get_int(json_array_get(x, k), 0, UINT32_MAX, &id))
			return fail(e, p, "queues: expected queue ids");
		for (j = 0; j < o->sc.n_queues; j++)
			if (o->queues[j].id == (uint32_t)id)
				break;
		if (j == o->sc.n_queues)
			return fail(e, p, "queues: unknown queue id");
		o->served[(*served)++] = (uint32_t)id;
	}
	g->n_queues = (unsigned)json_array_size(x);
	if ((x = json_object_get(v, "skills"))) {
		snprintf(sp, sizeof(sp), "%s.skills", p);
		if (parse_skills(x, g->skills, &g->n_skills, sp, e))
			return -EINVAL;
	}
	return 0;
}

/* The interval count: "intervals", else the length of the first per
 * interval array, else 1. */
static int find_intervals(json_t *root, unsigned *n, struct perr *e)
{
	json_t *x = json_object_get(root, "intervals");
	long long ll;
	if (x) {
		if (get_int(x, 1, WFM_SIM_MAX_INTERVALS, &ll))
			return fail(e, "intervals", "expected 1 to 2976");
		*n = (unsigned)ll;
		return 0;
	}
	*n = 1;
	const char *lists[2] = {"queues", "agents"}, *fields[2] = {"calls", "count"};
	for (int l = 0; l < 2; l++) {
		json_t *arr = json_object_get(root, lists[l]), *it;
		size_t i;
		if (!json_is_array(arr))
			continue;
		json_array_foreach(arr, i, it) {
			json_t *f = json_object_get(it, fields[l]);
			if (json_is_array(f)) {
				size_t len = json_array_size(f);
				if (len < 1 || len > WFM_SIM_MAX_INTERVALS)
					return fail(e, fields[l],
						    "expected 1 to 2976 values per interval");
				*n = (unsigned)len;
				return 0;
			}
		}
	}
	return 0;
}

static int load_root(json_t *root, struct owned *o, struct perr *e)
{
	static const char *const keys[] = {
		"interval_seconds", "intervals", "replications", "seed",
		"warmup_seconds", "drain_seconds", "accept_delay_seconds",
		"confidence", "queues", "agents", NULL};
	struct wfm_sim_scenario *sc = &o->sc;
	json_t *x;
	long long ll;
	if (!json_is_object(root))
		return fail(e, "scenario", "expected a JSON object");
	if (check_keys(root, keys, "", e))
		return -EINVAL;
	wfm_sim_scenario_init(sc);
	if ((x = json_object_get(root, "interval_seconds")) &&
	    get_num(x, 1.0, 86400.0, &sc->interval_s))
		return fail(e, "interval_seconds", "expected 1 to 86400");
	if (find_intervals(root, &sc->n_intervals, e))
		return -EINVAL;
	if ((x = json_object_get(root, "replications"))) {
		if (get_int(x, 1, WFM_SIM_MAX_REPLICATIONS, &ll))
			return fail(e, "replications", "expected 1 to 10000");
		sc->replications = (unsigned)ll;
	}
	if ((x = json_object_get(root, "seed"))) {
		if (!json_is_integer(x) || json_integer_value(x) < 0)
			return fail(e, "seed", "expected a whole number >= 0");
		sc->seed = (uint64_t)json_integer_value(x);
	}
	if ((x = json_object_get(root, "warmup_seconds")) &&
	    get_num(x, 0.0, 1e9, &sc->warmup_s))
		return fail(e, "warmup_seconds", "expected 0 to 1e9");
	if ((x = json_object_get(root, "drain_seconds")) &&
	    get_num(x, 0.0, 1e9, &sc->drain_s))
		return fail(e, "drain_seconds", "expected 0 to 1e9");
	if ((x = json_object_get(root, "accept_delay_seconds")) &&
	    get_num(x, 0.0, 86400.0, &sc->accept_delay_s))
		return fail(e, "accept_delay_seconds", "expected 0 to 86400");
	if ((x = json_object_get(root, "confidence")) &&
	    (get_num(x, 0.0, 1.0, &sc->confidence) || sc->confidence <= 0.0 ||
	     sc->confidence >= 1.0))
		return fail(e, "confidence", "expected a fraction in (0, 1)");

	json_t *qs = json_object_get(root, "queues");
	if (!json_is_array(qs) || json_array_size(qs) < 1 ||
	    json_array_size(qs) > WFM_SIM_MAX_QUEUES)
		return fail(e, "queues", "expected an array of 1 to 256 queues");
	json_t *gs = json_object_get(root, "agents");
	if (gs && (!json_is_array(gs) || json_array_size(gs) > WFM_SIM_MAX_GROUPS))
		return fail(e, "agents", "expected an array of at most 256 agent groups");
	size_t nq = json_array_size(qs), ng = gs ? json_array_size(gs) : 0;
	size_t ni = sc->n_intervals, nserved = 0;
	for (size_t g = 0; g < ng; g++) {
		json_t *list = json_object_get(json_array_get(gs, g), "queues");
		nserved += json_is_array(list) ? json_array_size(list) : 0;
	}
	o->queues = calloc(nq, sizeof(*o->queues));
	o->groups = calloc(ng + 1, sizeof(*o->groups));
	o->calls = calloc(nq * ni, sizeof(double));
	o->agents = calloc(ng * ni + 1, sizeof(unsigned));
	o->served = calloc(nserved + 1, sizeof(uint32_t));
	if (!o->queues || !o->groups || !o->calls || !o->agents || !o->served)
		return -ENOMEM;
	sc->n_queues = (unsigned)nq;
	sc->n_groups = (unsigned)ng;
	sc->queues = o->queues;
	sc->groups = o->groups;
	for (size_t i = 0; i < nq; i++)
		if (parse_queue(json_array_get(qs, i), (unsigned)i, o, e))
			return -EINVAL;
	size_t used = 0;
	for (size_t g = 0; g < ng; g++)
		if (parse_group(json_array_get(gs, g), (unsigned)g, o, &used, e))
			return -EINVAL;
	return wfm_sim_validate(sc, e->buf, e->len);
}

int wfm_sim_scenario_load(const char *text, size_t len,
			  struct wfm_sim_scenario **out, char *err, size_t errlen)
{
	struct perr e = {err, errlen};
	if (err && errlen)
		err[0] = '\0';
	if (!out || (!text && len))
		return -EINVAL;
	*out = NULL;
	json_error_t je;
	json_t *root = json_loadb(text ? text : "", len,
				  JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		if (err && errlen)
			snprintf(err, errlen, "JSON line %d column %d: %s", je.line,
				 je.column, je.text);
		return -EINVAL;
	}
	struct owned *o = calloc(1, sizeof(*o));
	if (!o) {
		json_decref(root);
		return -ENOMEM;
	}
	int rc = load_root(root, o, &e);
	json_decref(root);
	if (rc) {
		wfm_sim_scenario_free(&o->sc);
		return rc;
	}
	*out = &o->sc;
	return 0;
}

/* ---- the command ---------------------------------------------------------- */

static const char usage_text[] =
	"usage: hotline simulate --scenario FILE.json [--json]\n"
	"                        [--replications N] [--seed N]\n"
	"  Runs the what-if simulation of FILE.json (format: docs/WFM.md) through\n"
	"  the routing engine and prints, per queue and interval, service level,\n"
	"  mean wait, abandonment and occupancy with confidence intervals.\n"
	"  --replications N, --seed N override the file's values.\n"
	"  --json  print one JSON object instead of a table\n";

static int usage(FILE *err, const char *msg, const char *arg)
{
	fprintf(err, "hotline simulate: %s%s%s\n(see hotline simulate --help)\n",
		msg, arg ? " " : "", arg ? arg : "");
	return EXIT_USAGE;
}

static char *read_file(const char *path, size_t *len, FILE *err)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(err, "hotline simulate: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (n < cap)
			break;
		if (cap >= MAX_FILE_BYTES) {
			fprintf(err, "hotline simulate: %s: larger than 64 MiB\n", path);
			free(buf);
			buf = NULL;
			break;
		}
		char *nb = realloc(buf, cap * 2);
		if (!nb) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = nb;
		cap *= 2;
	}
	if (buf && ferror(f)) {
		fprintf(err, "hotline simulate: %s: read error\n", path);
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = n;
	return buf;
}

static json_t *jnum(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *jstat(const struct wfm_sim_stat *s)
{
	json_t *o = json_object();
	json_object_set_new(o, "mean", jnum(s->mean));
	json_object_set_new(o, "half_width", jnum(s->half_width));
	return o;
}

static json_t *jcell(const struct wfm_sim_cell *c)
{
	json_t *o = json_object();
	json_object_set_new(o, "offered", jstat(&c->offered));
	json_object_set_new(o, "answered", jstat(&c->answered));
	json_object_set_new(o, "service_level", jstat(&c->service_level));
	json_object_set_new(o, "mean_wait_seconds", jstat(&c->mean_wait_s));
	json_object_set_new(o, "p_abandon", jstat(&c->p_abandon));
	return o;
}

json_t *wfm_sim_report_json(const struct wfm_sim_scenario *sc, const struct wfm_sim_report *r)
{
	json_t *root = json_object();
	unsigned ni = r->n_intervals;
	json_object_set_new(root, "replications", json_integer(r->replications));
	json_object_set_new(root, "confidence", json_real(r->confidence));
	json_object_set_new(root, "interval_seconds", json_real(sc->interval_s));
	json_object_set_new(root, "intervals", json_integer(ni));
	json_t *qs = json_array();
	for (unsigned q = 0; q < r->n_queues; q++) {
		const struct wfm_sim_queue *sq = &sc->queues[q];
		json_t *jq = json_object(), *iv = json_array();
		json_object_set_new(jq, "id", json_integer(sq->id));
		json_object_set_new(jq, "name", json_string(sq->name));
		json_object_set_new(jq, "sl_seconds", json_real(sq->sl_s));
		for (unsigned i = 0; i < ni; i++)
			json_array_append_new(iv, jcell(&r->cells[(size_t)q * (ni + 1) + i]));
		json_object_set_new(jq, "intervals", iv);
		json_object_set_new(jq, "day", jcell(&r->cells[(size_t)q * (ni + 1) + ni]));
		json_array_append_new(qs, jq);
	}
	json_object_set_new(root, "queues", qs);
	json_t *occ = json_array();
	for (unsigned i = 0; i < ni; i++)
		json_array_append_new(occ, jstat(&r->occupancy[i]));
	json_object_set_new(root, "occupancy", occ);
	json_object_set_new(root, "occupancy_day", jstat(&r->occupancy[ni]));
	return root;
}

static void print_json(FILE *out, const struct wfm_sim_scenario *sc,
		       const struct wfm_sim_report *r)
{
	json_t *root = wfm_sim_report_json(sc, r);
	json_dumpf(root, out, JSON_COMPACT | JSON_REAL_PRECISION(10));
	fputc('\n', out);
	json_decref(root);
}

/* "12.3% ±0.4" style cell; "-" when there is no data. */
static void pct(FILE *out, const struct wfm_sim_stat *s)
{
	if (!isfinite(s->mean))
		fprintf(out, " %15s", "-");
	else if (isfinite(s->half_width))
		fprintf(out, "  %6.2f%% ±%5.2f", 100 * s->mean, 100 * s->half_width);
	else
		fprintf(out, "  %6.2f%%       ", 100 * s->mean);
}

static void num(FILE *out, const struct wfm_sim_stat *s)
{
	if (!isfinite(s->mean))
		fprintf(out, " %15s", "-");
	else if (isfinite(s->half_width))
		fprintf(out, " %7.1f ±%6.1f", s->mean, s->half_width);
	else
		fprintf(out, " %7.1f        ", s->mean);
}

static void print_table(FILE *out, const struct wfm_sim_scenario *sc,
			const struct wfm_sim_report *r)
{
	unsigned ni = r->n_intervals;
	fprintf(out, "Simulation: %u queue%s, %u interval%s of %g s, %u replication%s, "
		     "%g%% confidence intervals (±)\n",
		r->n_queues, r->n_queues == 1 ? "" : "s", ni, ni == 1 ? "" : "s",
		sc->interval_s, r->replications, r->replications == 1 ? "" : "s",
		100 * r->confidence);
	fprintf(out, "%-20s %8s %15s %15s %15s %15s %15s\n", "queue", "interval",
		"offered", "service level", "mean wait s", "abandoned", "occupancy");
	for (unsigned q = 0; q < r->n_queues; q++) {
		for (unsigned i = 0; i <= ni; i++) {
			const struct wfm_sim_cell *c = &r->cells[(size_t)q * (ni + 1) + i];
			char ivs[16];
			if (i == ni)
				snprintf(ivs, sizeof(ivs), "day");
			else
				snprintf(ivs, sizeof(ivs), "%u", i);
			fprintf(out, "%-20.20s %8s", sc->queues[q].name, ivs);
			num(out, &c->offered);
			pct(out, &c->service_level);
			num(out, &c->mean_wait_s);
			pct(out, &c->p_abandon);
			pct(out, &r->occupancy[i]);
			fputc('\n', out);
		}
	}
	fprintf(out, "(service level: answered within each queue's sl_seconds over offered; "
		     "occupancy: all agents)\n");
}

int wfm_cli_simulate_to(FILE *out, FILE *err, int argc, char **argv)
{
	const char *path = NULL;
	int json = 0;
	long long reps = -1, seed = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		char name[32];
		const char *eq = strchr(a, '=');
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage_text, out);
			return 0;
		}
		if (strcmp(a, "--json") == 0) {
			json = 1;
			continue;
		}
		if (strncmp(a, "--", 2) != 0)
			return usage(err, "unexpected argument", a);
		if (eq) {
			size_t n = (size_t)(eq - a);
			if (n >= sizeof(name))
				return usage(err, "unknown flag", a);
			memcpy(name, a, n);
			name[n] = '\0';
			val = eq + 1;
		} else {
			snprintf(name, sizeof(name), "%s", a);
			if (i + 1 >= argc)
				return usage(err, "missing value for", a);
			val = argv[++i];
		}
		if (strcmp(name, "--scenario") == 0) {
			path = val;
		} else if (strcmp(name, "--replications") == 0 ||
			   strcmp(name, "--seed") == 0) {
			char *end = NULL;
			errno = 0;
			long long v = strtoll(val, &end, 10);
			int is_rep = name[2] == 'r';
			if (errno || end == val || *end || v < (is_rep ? 1 : 0) ||
			    (is_rep && v > WFM_SIM_MAX_REPLICATIONS))
				return usage(err, is_rep ? "--replications: expected 1 to 10000, got"
							 : "--seed: expected a whole number >= 0, got",
					     val);
			if (is_rep)
				reps = v;
			else
				seed = v;
		} else {
			return usage(err, "unknown flag", name);
		}
	}
	if (!path)
		return usage(err, "--scenario FILE.json is required", NULL);
	size_t len = 0;
	char *text = read_file(path, &len, err);
	if (!text)
		return EXIT_USAGE;
	struct wfm_sim_scenario *sc = NULL;
	char msg[256];
	int rc = wfm_sim_scenario_load(text, len, &sc, msg, sizeof(msg));
	free(text);
	if (rc) {
		fprintf(err, "hotline simulate: %s: %s\n", path,
			rc == -ENOMEM ? "out of memory" : msg);
		return EXIT_USAGE;
	}
	if (reps > 0)
		sc->replications = (unsigned)reps;
	if (seed >= 0)
		sc->seed = (uint64_t)seed;
	struct wfm_sim_report rep;
	rc = wfm_simulate(sc, &rep);
	if (rc) {
		fprintf(err, "hotline simulate: simulation failed: %s\n", strerror(-rc));
		wfm_sim_scenario_free(sc);
		return 1;
	}
	if (json)
		print_json(out, sc, &rep);
	else
		print_table(out, sc, &rep);
	wfm_sim_report_free(&rep);
	wfm_sim_scenario_free(sc);
	return 0;
}

int wfm_cli_simulate(int argc, char **argv)
{
	return wfm_cli_simulate_to(stdout, stderr, argc, argv);
}
