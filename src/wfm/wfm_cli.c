/*
 * wfm_cli.c: `hotline erlang`, the command-line face of wfm_erlang.c.
 *
 *   hotline erlang b|c|a --calls N --period S --aht S [--patience S]
 *                  [--agents N] [--sl-seconds T] [--target-sl F] [--json] ...
 *
 * With --agents it evaluates that staff; without --agents but with a target
 * it finds the fewest agents that meet every target given. The parsing is
 * strict on purpose: a planner who types "--target-sl 80" meaning 80% must
 * get an error naming the flag, not a silently impossible target. Usage
 * errors exit 2, "no staffing meets the target" exits 1.
 *
 * Output goes to the FILE pointers passed in, so tests can capture it
 * (wfm_cli_erlang_to); wfm_cli_erlang is the stdout/stderr wrapper main.c
 * calls.
 */
#include "wfm/wfm.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_USAGE 2

static const char usage_text[] =
	"usage: hotline erlang b|c|a --calls N --period SECONDS --aht SECONDS\n"
	"                     [--patience SECONDS] [--agents N] [--sl-seconds T]\n"
	"                     [--target-sl FRACTION] [--sl-definition DEF]\n"
	"                     [--target-wait SECONDS] [--target-abandon FRACTION]\n"
	"                     [--target-block FRACTION] [--max-occupancy FRACTION]\n"
	"                     [--shrinkage FRACTION] [--json]\n"
	"  b: Erlang B (blocked calls lost)  c: Erlang C (callers wait)\n"
	"  a: Erlang A (callers abandon after an exponential patience; needs --patience)\n"
	"  --calls N        calls offered in the period\n"
	"  --period S       length of the period in seconds (1800 for a half hour)\n"
	"  --aht S          average handle time in seconds\n"
	"  --agents N       evaluate N agents on the phones\n"
	"  --sl-seconds T   service-level threshold in seconds (default 20)\n"
	"  --target-sl F    without --agents: fewest agents with service level >= F\n"
	"  --sl-definition  for Erlang A targets: answered (default),\n"
	"                   excluding-short-abandons or wait-le-t\n"
	"  --target-wait S, --target-abandon F, --target-block F, --max-occupancy F:\n"
	"                   further targets (all given targets are met together)\n"
	"  --shrinkage F    also print scheduled staff = ceil(agents / (1 - F))\n"
	"  --json           print one JSON object instead of text\n";

struct cli_opts {
	struct wfm_load load;
	struct wfm_target target;
	int have_calls, have_period, have_aht, have_patience;
	long agents; /* -1: not given */
	double shrinkage; /* < 0: not given */
	int any_target;
	int json;
};

static int usage_error(FILE *err, const char *fmt, const char *a,
		       const char *b)
{
	fputs("hotline erlang: ", err);
	fprintf(err, fmt, a, b);
	fputs("\n(see hotline erlang --help)\n", err);
	return EXIT_USAGE;
}

/* A finite number >= lo (and <= hi when hi >= lo); 0 or -EINVAL. */
static int parse_double(const char *s, double lo, double hi, int hi_open,
			double *out)
{
	if (!s || !*s)
		return -EINVAL;
	char *end = NULL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end != '\0' || !isfinite(v))
		return -EINVAL;
	if (v < lo)
		return -EINVAL;
	if (hi >= lo && (hi_open ? v >= hi : v > hi))
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
	if (!s || !*s)
		return -EINVAL;
	char *end = NULL;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

/*
 * One flag: name and value, value from "--x=v" or the next argument.
 * Returns 0 or the exit code of the usage error it printed.
 */
static int apply_flag(struct cli_opts *o, const char *name, const char *val,
		      FILE *err)
{
	double d;
	if (strcmp(name, "--calls") == 0) {
		if (parse_double(val, 0.0, -1.0, 0, &d))
			return usage_error(err, "%s: expected a number of calls >= 0, got '%s'", name, val);
		o->load.calls = d;
		o->have_calls = 1;
	} else if (strcmp(name, "--period") == 0) {
		if (parse_double(val, 0.0, -1.0, 0, &d) || d == 0.0)
			return usage_error(err, "%s: expected seconds > 0, got '%s'", name, val);
		o->load.period_s = d;
		o->have_period = 1;
	} else if (strcmp(name, "--aht") == 0) {
		if (parse_double(val, 0.0, -1.0, 0, &d) || d == 0.0)
			return usage_error(err, "%s: expected seconds > 0, got '%s'", name, val);
		o->load.aht_s = d;
		o->have_aht = 1;
	} else if (strcmp(name, "--patience") == 0) {
		if (parse_double(val, 0.0, -1.0, 0, &d) || d == 0.0)
			return usage_error(err, "%s: expected seconds > 0, got '%s'", name, val);
		o->load.patience_s = d;
		o->have_patience = 1;
	} else if (strcmp(name, "--sl-seconds") == 0) {
		if (parse_double(val, 0.0, -1.0, 0, &d))
			return usage_error(err, "%s: expected seconds >= 0, got '%s'", name, val);
		o->load.sl_seconds = d;
	} else if (strcmp(name, "--agents") == 0) {
		long n;
		if (parse_long(val, 1, WFM_MAX_AGENTS, &n))
			return usage_error(err, "%s: expected a whole number of agents from 1 to 10000000, got '%s'", name, val);
		o->agents = n;
	} else if (strcmp(name, "--target-sl") == 0) {
		if (parse_double(val, 0.0, 1.0, 1, &d))
			return usage_error(err, "%s: expected a fraction in [0, 1), e.g. 0.8 for 80%%, got '%s'", name, val);
		o->target.min_service_level = d;
		o->any_target = 1;
	} else if (strcmp(name, "--target-wait") == 0) {
		if (parse_double(val, 0.0, -1.0, 0, &d) || d == 0.0)
			return usage_error(err, "%s: expected a mean wait in seconds > 0, got '%s'", name, val);
		o->target.max_mean_wait_s = d;
		o->any_target = 1;
	} else if (strcmp(name, "--target-abandon") == 0) {
		if (parse_double(val, 0.0, 1.0, 1, &d) || d == 0.0)
			return usage_error(err, "%s: expected a fraction in (0, 1), e.g. 0.05, got '%s'", name, val);
		o->target.max_p_abandon = d;
		o->any_target = 1;
	} else if (strcmp(name, "--target-block") == 0) {
		if (parse_double(val, 0.0, 1.0, 1, &d) || d == 0.0)
			return usage_error(err, "%s: expected a fraction in (0, 1), e.g. 0.01, got '%s'", name, val);
		o->target.max_p_block = d;
		o->any_target = 1;
	} else if (strcmp(name, "--max-occupancy") == 0) {
		if (parse_double(val, 0.0, 1.0, 0, &d) || d == 0.0)
			return usage_error(err, "%s: expected a fraction in (0, 1], e.g. 0.85, got '%s'", name, val);
		o->target.max_occupancy = d;
		o->any_target = 1;
	} else if (strcmp(name, "--shrinkage") == 0) {
		if (parse_double(val, 0.0, 1.0, 1, &d))
			return usage_error(err, "%s: expected a fraction in [0, 1), e.g. 0.3, got '%s'", name, val);
		o->shrinkage = d;
	} else if (strcmp(name, "--sl-definition") == 0) {
		if (strcmp(val, "answered") == 0)
			o->target.sl_def = WFM_SL_ANSWERED;
		else if (strcmp(val, "excluding-short-abandons") == 0)
			o->target.sl_def = WFM_SL_EXCLUDING_SHORT_ABANDONS;
		else if (strcmp(val, "wait-le-t") == 0)
			o->target.sl_def = WFM_SL_WAIT_LE_T;
		else
			return usage_error(err, "%s: expected answered, excluding-short-abandons or wait-le-t, got '%s'", name, val);
	} else {
		return usage_error(err, "unknown option '%s'%s", name, "");
	}
	return 0;
}

static int parse_args(struct cli_opts *o, int argc, char **argv, FILE *err)
{
	memset(o, 0, sizeof(*o));
	wfm_target_init(&o->target);
	o->agents = -1;
	o->shrinkage = -1.0;
	o->load.sl_seconds = 20.0;

	if (argc < 2)
		return usage_error(err, "missing the model: b, c or a%s%s", "", "");
	const char *m = argv[1];
	if (strcmp(m, "b") == 0 || strcmp(m, "B") == 0)
		o->load.model = WFM_ERLANG_B;
	else if (strcmp(m, "c") == 0 || strcmp(m, "C") == 0)
		o->load.model = WFM_ERLANG_C;
	else if (strcmp(m, "a") == 0 || strcmp(m, "A") == 0)
		o->load.model = WFM_ERLANG_A;
	else
		return usage_error(err, "unknown model '%s': expected b, c or a%s", m, "");

	for (int i = 2; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "--json") == 0) {
			o->json = 1;
			continue;
		}
		if (strncmp(arg, "--", 2) != 0)
			return usage_error(err, "unexpected argument '%s'%s", arg, "");
		char name[64];
		const char *val;
		const char *eq = strchr(arg, '=');
		if (eq) {
			size_t len = (size_t)(eq - arg);
			if (len >= sizeof(name))
				return usage_error(err, "unknown option '%s'%s", arg, "");
			memcpy(name, arg, len);
			name[len] = '\0';
			val = eq + 1;
		} else {
			if (strlen(arg) >= sizeof(name))
				return usage_error(err, "unknown option '%s'%s", arg, "");
			snprintf(name, sizeof(name), "%s", arg);
			if (i + 1 >= argc)
				return usage_error(err, "%s: missing value%s", name, "");
			val = argv[++i];
		}
		int rc = apply_flag(o, name, val, err);
		if (rc)
			return rc;
	}

	if (!o->have_calls)
		return usage_error(err, "--calls is required%s%s", "", "");
	if (!o->have_period)
		return usage_error(err, "--period is required (seconds, e.g. 1800)%s%s", "", "");
	if (!o->have_aht)
		return usage_error(err, "--aht is required (seconds)%s%s", "", "");
	if (o->load.model == WFM_ERLANG_A && !o->have_patience)
		return usage_error(err, "--patience is required for Erlang A (mean seconds a caller waits before hanging up)%s%s", "", "");
	if (o->load.model == WFM_ERLANG_A && o->load.patience_s > 1e8 * o->load.aht_s)
		return usage_error(err, "--patience: more than 1e8 handle times is infinite patience; use 'hotline erlang c'%s%s", "", "");
	if (o->load.model != WFM_ERLANG_A && o->have_patience)
		return usage_error(err, "--patience applies to Erlang A only (use 'hotline erlang a')%s%s", "", "");
	if (o->load.model != WFM_ERLANG_A && o->target.max_p_abandon >= 0)
		return usage_error(err, "--target-abandon applies to Erlang A only%s%s", "", "");
	if (o->load.model != WFM_ERLANG_B && o->target.max_p_block >= 0)
		return usage_error(err, "--target-block applies to Erlang B only%s%s", "", "");
	if (o->agents < 0 && !o->any_target)
		return usage_error(err, "give --agents N to evaluate, or a target such as --target-sl 0.8 to staff%s%s", "", "");
	if (o->load.calls * o->load.aht_s / o->load.period_s > 1e9)
		return usage_error(err, "--calls: traffic of %s Erlangs is beyond what this tool staffs%s", "more than 1e9", "");
	return 0;
}

/* json_real for finite values, null for infinities and NaN. */
static json_t *jnum(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static void print_json(FILE *out, const struct cli_opts *o,
		       const struct wfm_result *r, long scheduled,
		       int have_max, double max_calls, int meets)
{
	json_t *j = json_object();
	json_object_set_new(j, "model", json_string(o->load.model == WFM_ERLANG_A ? "A" : o->load.model == WFM_ERLANG_B ? "B" : "C"));
	json_object_set_new(j, "agents", json_integer(r->agents));
	json_object_set_new(j, "traffic_erlangs", jnum(r->traffic_erlangs));
	json_object_set_new(j, "p_wait", jnum(r->p_wait));
	json_object_set_new(j, "mean_wait_seconds", jnum(r->mean_wait_s));
	json_object_set_new(j, "service_level", jnum(r->service_level));
	json_object_set_new(j, "sl_seconds", jnum(o->load.sl_seconds));
	json_object_set_new(j, "occupancy", jnum(r->occupancy));
	if (o->load.model == WFM_ERLANG_A) {
		json_object_set_new(j, "p_abandon", jnum(r->p_abandon));
		json_object_set_new(j, "sl_answered", jnum(r->sl_answered));
		json_object_set_new(j, "sl_excluding_short_abandons",
				    jnum(r->sl_excluding_short_abandons));
		json_object_set_new(j, "sl_wait_le_t", jnum(r->sl_wait_le_t));
	}
	if (o->load.model == WFM_ERLANG_B)
		json_object_set_new(j, "p_block", jnum(r->p_block));
	if (scheduled >= 0)
		json_object_set_new(j, "scheduled_staff", json_integer(scheduled));
	if (o->agents >= 0 && o->any_target) {
		json_object_set_new(j, "meets_targets", json_boolean(meets));
		json_object_set_new(j, "max_calls",
				    have_max ? jnum(max_calls) : json_null());
	}
	char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
	if (s) {
		fprintf(out, "%s\n", s);
		free(s);
	}
	json_decref(j);
}

static void print_text(FILE *out, const struct cli_opts *o,
		       const struct wfm_result *r, long scheduled,
		       int have_max, double max_calls, int meets)
{
	const struct wfm_load *l = &o->load;
	fprintf(out, "%s: %g calls in %g s, AHT %g s", wfm_model_name(l->model),
		l->calls, l->period_s, l->aht_s);
	if (l->model == WFM_ERLANG_A)
		fprintf(out, ", mean patience %g s", l->patience_s);
	fprintf(out, "\n");
	fprintf(out, "  traffic                  %.3f Erlangs\n", r->traffic_erlangs);
	if (o->agents < 0)
		fprintf(out, "  agents needed            %ld\n", r->agents);
	else
		fprintf(out, "  agents                   %ld\n", r->agents);
	if (scheduled >= 0)
		fprintf(out, "  scheduled staff          %ld (shrinkage %.1f%%)\n",
			scheduled, 100.0 * o->shrinkage);
	if (l->model == WFM_ERLANG_B) {
		fprintf(out, "  blocking                 %.2f%%\n", 100.0 * r->p_block);
	} else {
		fprintf(out, "  probability of waiting   %.2f%%\n", 100.0 * r->p_wait);
		if (isfinite(r->mean_wait_s))
			fprintf(out, "  mean wait (all calls)    %.2f s\n", r->mean_wait_s);
		else
			fprintf(out, "  mean wait (all calls)    unbounded (traffic >= agents)\n");
	}
	if (l->model == WFM_ERLANG_A)
		fprintf(out, "  abandonment              %.2f%%\n", 100.0 * r->p_abandon);
	if (l->model == WFM_ERLANG_B)
		fprintf(out, "  service level            %.2f%% answered (not blocked)\n",
			100.0 * r->service_level);
	else
		fprintf(out, "  service level            %.2f%% answered within %g s\n",
			100.0 * r->service_level, l->sl_seconds);
	if (l->model == WFM_ERLANG_A) {
		fprintf(out, "    excluding short abandons  %.2f%%  (answered within t / (offered - abandoned within t))\n",
			100.0 * r->sl_excluding_short_abandons);
		fprintf(out, "    1 - P(wait > t)           %.2f%%  (answered or abandoned within t)\n",
			100.0 * r->sl_wait_le_t);
	}
	fprintf(out, "  occupancy                %.2f%%\n", 100.0 * r->occupancy);
	if (o->agents >= 0 && o->any_target) {
		fprintf(out, "  meets targets            %s\n", meets ? "yes" : "no");
		if (have_max)
			fprintf(out, "  most calls at target     %.2f per %g s\n",
				max_calls, l->period_s);
	}
}

int wfm_cli_erlang_to(FILE *out, FILE *err, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage_text, out);
			return 0;
		}
	}
	struct cli_opts o;
	int rc = parse_args(&o, argc, argv, err);
	if (rc)
		return rc;

	struct wfm_result r;
	long scheduled = -1;
	int have_max = 0, meets = 0;
	double max_calls = 0.0;

	if (o.agents >= 0) {
		if (wfm_evaluate(&o.load, o.agents, &r) != 0)
			return usage_error(err, "invalid load%s%s", "", "");
		if (o.any_target) {
			/* Does this staff meet the targets, and how much could it carry? */
			long need = 0;
			int s = wfm_staff(&o.load, &o.target, &need, NULL);
			meets = s == 0 && need <= o.agents;
			have_max = wfm_max_calls(&o.load, o.agents, &o.target,
						 &max_calls, NULL) == 0;
		}
	} else {
		long need = 0;
		int s = wfm_staff(&o.load, &o.target, &need, &r);
		if (s == -ERANGE) {
			fprintf(err, "hotline erlang: no staff of up to %ld agents meets the targets\n",
				WFM_MAX_AGENTS);
			return 1;
		}
		if (s != 0)
			return usage_error(err, "invalid targets%s%s", "", "");
	}
	if (o.shrinkage >= 0.0)
		scheduled = wfm_scheduled_staff(r.agents, o.shrinkage);

	if (o.json)
		print_json(out, &o, &r, scheduled, have_max, max_calls, meets);
	else
		print_text(out, &o, &r, scheduled, have_max, max_calls, meets);
	return 0;
}

int wfm_cli_erlang(int argc, char **argv)
{
	return wfm_cli_erlang_to(stdout, stderr, argc, argv);
}
