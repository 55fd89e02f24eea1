/*
 * wfm.h: workforce management, the queueing half: how many agents a half
 * hour needs, and what a given number of agents will deliver.
 *
 * Three models, all exact (no approximations such as Halfin-Whitt or the
 * "Erlang C with an abandonment fudge" many calculators ship):
 *   - Erlang B  (M/M/n/n): blocked calls are lost;
 *   - Erlang C  (M/M/n):   callers wait forever;
 *   - Erlang A  (M/M/n+M): callers wait at most an exponential patience
 *                           (Palm 1943; Garnett, Mandelbaum and Reiman 2002).
 * docs/WFM.md states every formula, the numerical method and why it is
 * stable from 1 to 100,000 agents, and the published examples the unit
 * tests check.
 *
 * Below them: forecasting of arrivals and handle times per 15-minute
 * interval (seasonal naive, historical average, double-seasonal
 * Holt-Winters; backtests, choice of method, intraday re-forecast) and the
 * what-if simulator, which drives the real routing engine (routing.h)
 * through a simulated day.
 *
 * Everything here is pure: no I/O, no clock, no global state, so the
 * functions are safe to call from any thread. The Erlang math does not
 * allocate; the backtests, the simulator and the scenario loader do (and
 * say so). Errors are 0 or a negative errno, like the rest of Hotline. The
 * exceptions are wfm_cli_erlang() and wfm_cli_simulate(), the `hotline
 * erlang` and `hotline simulate` commands, which read files and print.
 */
#ifndef HL_WFM_H
#define HL_WFM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The queueing model of one interval. */
enum wfm_model {
	WFM_ERLANG_B, /* loss system: no queue */
	WFM_ERLANG_C, /* infinite patience */
	WFM_ERLANG_A, /* exponential patience */
};

/*
 * The offered load of one interval (for example one half hour). All times
 * in seconds. The arrival rate is calls / period_s, the traffic in Erlangs
 * is calls * aht_s / period_s.
 */
struct wfm_load {
	enum wfm_model model;
	double calls;      /* offered calls in the period, >= 0 (may be fractional: a forecast) */
	double period_s;   /* > 0 */
	double aht_s;      /* mean handle time, > 0 */
	double patience_s; /* mean patience, > 0 and <= 1e8 * aht_s (beyond,
	                      use Erlang C); read for WFM_ERLANG_A only */
	double sl_seconds; /* threshold t of the service level, >= 0 */
};

/*
 * Which service level a staffing target is about. Erlang A needs the choice
 * because callers who hang up while waiting can be counted three ways; for
 * Erlang B and C all three are the same number.
 */
enum wfm_sl_def {
	/* answered within t / offered (the default; what `service_level` is) */
	WFM_SL_ANSWERED,
	/* answered within t / (offered - abandoned within t) */
	WFM_SL_EXCLUDING_SHORT_ABANDONS,
	/* 1 - P(wait > t): answered or abandoned within t, over offered */
	WFM_SL_WAIT_LE_T,
};

/*
 * Performance of `agents` agents under a load. Plain data: callers read the
 * fields. Probabilities are fractions in [0, 1].
 */
struct wfm_result {
	enum wfm_model model;
	long agents;
	double traffic_erlangs; /* offered load a = lambda * aht */
	double p_wait;          /* P(an arrival waits at all); 0 for Erlang B */
	double mean_wait_s;     /* mean wait over ALL arrivals (served, abandoned,
	                           or for B blocked = 0); INFINITY when an Erlang C
	                           queue is unstable (traffic >= agents) */
	double service_level;   /* the headline figure: answered within t over
	                           offered (B: 1 - blocking; A: sl_answered) */
	double occupancy;       /* mean fraction of agents busy */
	double p_abandon;       /* Erlang A: P(an arrival abandons); else 0 */
	double p_block;         /* Erlang B: P(an arrival is blocked); else 0 */
	/* The three service-level definitions (enum wfm_sl_def). For Erlang B
	 * and C all three equal service_level. */
	double sl_answered;
	double sl_excluding_short_abandons;
	double sl_wait_le_t;
	double mean_queue_len;  /* mean number of callers waiting (INFINITY if
	                           unstable) */
};

/*
 * Staffing targets. wfm_target_init() marks every target unused (a negative
 * value means unused); set the ones that apply. When several are set, the
 * staffing functions satisfy all of them.
 */
struct wfm_target {
	double min_service_level; /* in [0, 1); which definition: sl_def */
	enum wfm_sl_def sl_def;
	double max_mean_wait_s;   /* mean wait over all arrivals */
	double max_p_abandon;     /* Erlang A only */
	double max_p_block;       /* Erlang B only */
	double max_occupancy;     /* in (0, 1] */
};

/* The largest agent count any search considers; beyond it: -ERANGE. */
#define WFM_MAX_AGENTS 10000000L

/* Sets every target to "unused" and sl_def to WFM_SL_ANSWERED. */
void wfm_target_init(struct wfm_target *t);

/*
 * Erlang's loss formula B(n, a): the probability that an arrival finds all
 * n servers busy in M/M/n/n with offered traffic a Erlangs. Exact to a few
 * ulps for 0 <= n <= WFM_MAX_AGENTS; underflows gracefully to 0 when tiny.
 * Returns NAN for a < 0, n < 0 or a non-finite a.
 */
double wfm_erlang_b(long n, double a);

/*
 * Erlang's delay formula C(n, a): the probability that an arrival waits in
 * M/M/n. Returns 1 when a >= n (no steady state: everyone waits), NAN on
 * the same bad input as wfm_erlang_b().
 */
double wfm_erlang_c(long n, double a);

/*
 * Evaluates `agents` (>= 0) agents under `load` and fills *out.
 * Returns 0, or -EINVAL for a bad load or agent count (out untouched).
 */
int wfm_evaluate(const struct wfm_load *load, long agents,
		 struct wfm_result *out);

/*
 * The fewest agents that meet every target set in *t. Every measure here is
 * monotone in the number of agents, so the answer is exact (not the first
 * count a coarse scan happens to hit). On success *agents is set and, if
 * out is not NULL, *out holds the evaluation at that count.
 * Returns 0; -EINVAL for a bad load, no target set, or a target outside its
 * range; -ERANGE if no count up to WFM_MAX_AGENTS meets the targets (for
 * example a service level of 100%, which no finite staff reaches).
 */
int wfm_staff(const struct wfm_load *load, const struct wfm_target *t,
	      long *agents, struct wfm_result *out);

/*
 * The most calls per period (with load's period, handle time and patience)
 * that `agents` agents carry while meeting every target in *t; load->calls
 * is ignored. *calls is accurate to a relative 1e-12, and the evaluation at
 * *calls meets the targets. out (may be NULL) receives that evaluation.
 * Returns 0; -EINVAL as for wfm_staff(); -ERANGE if even zero calls miss
 * the targets, or if the targets never bind (any traffic meets them).
 */
int wfm_max_calls(const struct wfm_load *load, long agents,
		  const struct wfm_target *t, double *calls,
		  struct wfm_result *out);

/*
 * Scheduled staff for `agents` on the phones when a fraction `shrinkage` of
 * paid time goes to breaks, training, absence: ceil(agents / (1 - shrinkage)).
 * A quotient within 1e-9 of an integer counts as that integer, so that
 * 14 agents at 30% shrinkage give 20 and not 21 (14 / 0.7 is
 * 20.000000000000004 in binary floating point).
 * Returns the count, or -EINVAL for agents < 0 or shrinkage outside [0, 1).
 */
long wfm_scheduled_staff(long agents, double shrinkage);

/* Name of a model ("Erlang B", ...) and of a service-level definition
 * ("answered", "excluding_short_abandons", "wait_le_t"). Static strings. */
const char *wfm_model_name(enum wfm_model m);
const char *wfm_sl_def_name(enum wfm_sl_def d);

/*
 * `hotline erlang b|c|a --calls N --period S --aht S [--patience S]
 *  [--agents N] [--sl-seconds T] [--target-sl F] [--json] ...`
 * argv[0] is "erlang". Prints the result to stdout, messages to stderr.
 * Returns the process exit code: 0, 2 for a usage error (the message names
 * the flag), 1 when no staffing meets the target.
 */
int wfm_cli_erlang(int argc, char **argv);

/* The same, printing to `out` and `err` instead (for tests and embedding). */
int wfm_cli_erlang_to(FILE *out, FILE *err, int argc, char **argv);

/* ------------------------------------------------------------------------
 * Forecasting (wfm_forecast.c): arrivals and handle times per queue per
 * 15-minute interval. Pure: no I/O, no clock, no global state; the
 * functions that need scratch memory say so (malloc, -ENOMEM). A series is
 * an array of doubles, one per interval, oldest first, whose length the
 * seasons are counted from (y[i] and y[i + 672] are the same interval of
 * the week, whatever weekday y[0] is); a non-finite value
 * (NAN: no data, e.g. the handle time of an interval without calls) is
 * treated like an excluded interval.
 * ------------------------------------------------------------------------ */

#define WFM_FC_DAY 96   /* 15-minute intervals per day */
#define WFM_FC_WEEK 672 /* 15-minute intervals per week */

enum wfm_fc_method {
	WFM_FC_SEASONAL_NAIVE = 0, /* the same interval one week earlier */
	WFM_FC_HIST_AVERAGE,       /* mean of the same interval of the week */
	WFM_FC_HOLT_WINTERS,       /* additive double-seasonal (96 and 672) */
	WFM_FC_METHODS
};

/*
 * An override of the forecast horizon: intervals [start, start + len)
 * counted from the first forecast interval (0) get profile[i - start] when
 * profile is not NULL, else the method's forecast times scale. For
 * holidays and special days whose shape is known in advance.
 */
struct wfm_fc_override {
	size_t start, len;
	const double *profile; /* len values, or NULL */
	double scale;          /* used when profile is NULL; >= 0 */
};

/*
 * Options common to every method. wfm_fc_opts_init() gives the defaults;
 * every pointer is borrowed for the duration of the call only.
 */
struct wfm_fc_opts {
	/* n flags: nonzero = exclude y[i] from fitting (holidays, outages,
	 * special days). NULL: nothing excluded. Seasonal naive skips back
	 * whole weeks past an excluded interval, the historical average leaves
	 * it out, Holt-Winters replaces it by its own one-step forecast. */
	const unsigned char *exclude;
	const struct wfm_fc_override *overrides; /* applied last, in order */
	unsigned n_overrides;
	/* Historical average: the last hist_weeks weeks (0: all history). */
	unsigned hist_weeks;
	/* Holt-Winters smoothing: level alpha, daily and weekly seasonal
	 * gammas, all in [0, 1]. A negative value (the default) means "choose
	 * by least one-step squared error over a small grid" (docs/WFM.md). */
	double hw_alpha, hw_gamma_day, hw_gamma_week;
	/* Forecasts below this are raised to it (default 0: counts and handle
	 * times are never negative). -INFINITY disables. */
	double floor;
};

/* Defaults: nothing excluded or overridden, all history,
 * Holt-Winters parameters chosen by grid, floor 0. Never fails. */
void wfm_fc_opts_init(struct wfm_fc_opts *o);

/*
 * Forecasts h intervals following the n of history y by method m into
 * out[0..h). Needs at least one week of history (two for Holt-Winters)
 * with, for seasonal naive, a non-excluded value at every interval of the
 * week. Does not allocate. Returns 0; -EINVAL for a bad argument;
 * -ENODATA when the history is too short or too sparse for the method.
 */
int wfm_forecast(enum wfm_fc_method m, const double *y, size_t n,
		 const struct wfm_fc_opts *o, double *out, size_t h);

/* The Holt-Winters parameters wfm_forecast() would use on this history
 * (chosen or as given), for reports. Returns 0, -EINVAL or -ENODATA. */
int wfm_fc_hw_params(const double *y, size_t n, const struct wfm_fc_opts *o,
		     double *alpha, double *gamma_day, double *gamma_week);

/*
 * Error measures over n intervals, ignoring intervals where actual or
 * forecast is not finite or exclude (may be NULL) is set.
 * WAPE = sum |actual - forecast| / sum |actual| (NAN when sum |actual| = 0).
 * MASE = mean |actual - forecast| / scale, scale = the mean absolute
 * lag-`lag` difference of the training series train[0..n_train) (the
 * in-sample error of the seasonal naive forecast; Hyndman & Koehler
 * 2006); INFINITY when that scale is 0 and the error is not, 0 when both
 * are, NAN when nothing is left to average.
 */
double wfm_wape(const double *actual, const double *forecast, size_t n,
		const unsigned char *exclude);
double wfm_mase_scale(const double *train, size_t n_train, size_t lag,
		      const unsigned char *exclude);
double wfm_mase(const double *actual, const double *forecast, size_t n,
		const unsigned char *exclude, double scale);

/*
 * A rolling-origin backtest of one method: origins at
 * n - h - k * step for k = n_origins - 1 ... 0 (the last origin forecasts
 * the final h intervals), each forecasting h intervals from the history
 * before it (o applies with its overrides ignored; the exclusion mask
 * also removes intervals from scoring). Per horizon step j (0-based),
 * wape[j] and mase[j] pool all origins (either may be NULL); *wape_all and
 * *mase_all (may be NULL) pool every step. MASE scales by the lag-672
 * (weekly seasonal naive) in-sample error of each origin's history.
 * Allocates h doubles. Returns 0, -EINVAL, -ENODATA (too little history
 * for the first origin), -ENOMEM.
 */
int wfm_backtest(enum wfm_fc_method m, const double *y, size_t n,
		 const struct wfm_fc_opts *o, size_t h, unsigned n_origins,
		 size_t step, double *wape, double *mase, double *wape_all,
		 double *mase_all);

/* The outcome of wfm_fc_select(): every method's pooled backtest errors
 * (NAN for a method that could not run) and the chosen one. */
struct wfm_fc_choice {
	enum wfm_fc_method method;
	double wape[WFM_FC_METHODS];
	double mase[WFM_FC_METHODS];
	int status[WFM_FC_METHODS]; /* wfm_backtest()'s return per method */
};

/*
 * Backtests every method (as wfm_backtest() with h, n_origins, step) and
 * chooses the lowest pooled WAPE (ties: lower MASE, then the simpler
 * method, in enum order). Returns 0; -ENODATA when no method could be
 * backtested; -EINVAL; -ENOMEM.
 */
int wfm_fc_select(const double *y, size_t n, const struct wfm_fc_opts *o,
		  size_t h, unsigned n_origins, size_t step,
		  struct wfm_fc_choice *out);

/* Static name of a method ("seasonal_naive", "historical_average",
 * "holt_winters"), "?" if out of range. */
const char *wfm_fc_method_name(enum wfm_fc_method m);

/* Intraday re-forecast settings (wfm_reforecast_intraday). */
struct wfm_reforecast_opts {
	/* Pseudo-calls added to both actual and forecast so far, so that the
	 * first few intervals do not swing the day: scale = (A + k) / (F + k).
	 * Default 0. */
	double prior;
	double min_scale, max_scale; /* clamp; defaults 0.25 and 4 */
};

/* Defaults as documented above. Never fails. */
void wfm_reforecast_opts_init(struct wfm_reforecast_opts *o);

/*
 * As the day runs: intervals [0, elapsed) are over and actual[0..elapsed)
 * arrived against forecast[0..elapsed). out[i] = actual[i] for i < elapsed
 * and forecast[i] * scale for elapsed <= i < n, scale = (sum actual + prior)
 * / (sum forecast + prior) clamped to [min_scale, max_scale] (1 when the
 * denominator is 0). o may be NULL (defaults); *scale_out may be NULL.
 * out may alias forecast. Returns 0 or -EINVAL (elapsed > n, bad opts).
 */
int wfm_reforecast_intraday(const double *forecast, const double *actual,
			    size_t n, size_t elapsed,
			    const struct wfm_reforecast_opts *o, double *out,
			    double *scale_out);

/* ------------------------------------------------------------------------
 * What-if simulation (wfm_sim.c): a discrete-event simulation that drives
 * the real ACD engine (src/routing) with Poisson arrivals, exponential or
 * fixed handle times and exponential patience, over a day of intervals,
 * repeated in independent seeded replications. Deterministic: the same
 * scenario and seed give the same report on every machine. No I/O, no
 * clock; allocates.
 * ------------------------------------------------------------------------ */

#define WFM_SIM_MAX_SKILLS 8     /* per queue or agent group */
#define WFM_SIM_MAX_QUEUES 256
#define WFM_SIM_MAX_GROUPS 256
#define WFM_SIM_MAX_INTERVALS 2976 /* a month of 15-minute intervals */
#define WFM_SIM_MAX_REPLICATIONS 10000
#define WFM_SIM_MAX_AGENTS 100000 /* per group per interval */

enum wfm_sim_dist {
	WFM_SIM_EXPONENTIAL = 0, /* mean = the given value */
	WFM_SIM_FIXED            /* always the given value */
};

struct wfm_sim_skill {
	unsigned id;    /* 0..4095 */
	unsigned level; /* 1..5: agent's level, or the queue's minimum */
};

struct wfm_sim_queue {
	uint32_t id;             /* unique; the routing queue id */
	char name[64];
	const double *calls;     /* expected arrivals per interval (n_intervals) */
	double aht_s;            /* > 0 */
	enum wfm_sim_dist handle_dist;
	double patience_s;       /* mean exponential patience; INFINITY: none */
	double sl_s;             /* service-level threshold, >= 0 */
	double wrap_s;           /* after-call work, >= 0 (counts as busy) */
	int priority;            /* 0..1000 */
	int strategy;            /* enum routing_strategy (0: longest idle) */
	struct wfm_sim_skill skills[WFM_SIM_MAX_SKILLS]; /* required */
	unsigned n_skills;
};

struct wfm_sim_group {
	char name[64];
	const unsigned *agents;  /* logged-in agents per interval (n_intervals) */
	const uint32_t *queues;  /* queue ids served */
	unsigned n_queues;
	struct wfm_sim_skill skills[WFM_SIM_MAX_SKILLS];
	unsigned n_skills;
};

/*
 * A scenario: plain data the caller fills (or wfm_sim_scenario_load()
 * builds). Arrays are borrowed by wfm_simulate() for the call only.
 */
struct wfm_sim_scenario {
	double interval_s;        /* > 0, e.g. 900 */
	unsigned n_intervals;     /* 1..WFM_SIM_MAX_INTERVALS */
	unsigned replications;    /* 1..WFM_SIM_MAX_REPLICATIONS (>= 2 for CIs) */
	uint64_t seed;
	double warmup_s;          /* simulated before interval 0 with interval
	                             0's load and staff, not counted */
	double drain_s;           /* after the last interval, arrivals stop and
	                             work in progress may finish for at most
	                             this long; callers still waiting then count
	                             as unanswered. Default 4 h */
	double accept_delay_s;    /* offer to accept, >= 0 (0: at once) */
	double confidence;        /* of the intervals, in (0, 1); default 0.95 */
	const struct wfm_sim_queue *queues;
	unsigned n_queues;
	const struct wfm_sim_group *groups;
	unsigned n_groups;
};

/* A mean over replications with the half-width of its confidence interval
 * (Student t with r - 1 degrees of freedom; NAN when fewer than two
 * replications had data). n counts the replications that had data. */
struct wfm_sim_stat {
	double mean, half_width;
	unsigned n;
};

/* One queue over one interval (by arrival time), or over the whole day. */
struct wfm_sim_cell {
	struct wfm_sim_stat offered;       /* arrivals */
	struct wfm_sim_stat service_level; /* answered within sl_s / offered */
	struct wfm_sim_stat mean_wait_s;   /* over all arrivals (to answer or
	                                      abandon) */
	struct wfm_sim_stat p_abandon;     /* abandoned / offered */
	struct wfm_sim_stat answered;      /* answered calls */
};

/*
 * The report. cells[q * (n_intervals + 1) + i] is queue q (scenario
 * order) in interval i; i == n_intervals is the whole day. occupancy[i]
 * is the busy (offer to end of wrap-up) over logged-in agent time of all
 * agents in interval i, occupancy[n_intervals] the whole day.
 */
struct wfm_sim_report {
	unsigned n_queues, n_intervals, replications;
	double confidence;
	struct wfm_sim_cell *cells;
	struct wfm_sim_stat *occupancy;
	uint64_t events;          /* engine calls made, all replications */
};

/* Defaults: interval 900 s, 1 interval, 10 replications, seed 1, no
 * warm-up, drain 4 h, accept at once, 95% confidence, no queues. */
void wfm_sim_scenario_init(struct wfm_sim_scenario *s);

/* Defaults for a queue: exponential handle 300 s, infinite patience, SL 20
 * s, no wrap-up, priority 0, longest idle, no skills. Never fails. */
void wfm_sim_queue_init(struct wfm_sim_queue *q);

/*
 * Checks the scenario (every limit above, unique queue ids, groups serving
 * known queues). Returns 0 or -EINVAL; on -EINVAL and err != NULL, writes
 * a one-line reason naming the field into err[0..errlen).
 */
int wfm_sim_validate(const struct wfm_sim_scenario *s, char *err,
		     size_t errlen);

/*
 * Runs the scenario: every replication drives its own routing engine
 * (created and freed here) with its own random stream derived from
 * (seed, replication). Fills *out (free with wfm_sim_report_free).
 * Blocks for as long as the simulation takes (linear in calls x
 * replications); any thread may call it. Returns 0, -EINVAL (see
 * wfm_sim_validate), -ENOMEM, or a negative errno from the engine.
 */
int wfm_simulate(const struct wfm_sim_scenario *s, struct wfm_sim_report *out);

/* Frees what wfm_simulate() allocated in r and zeroes it. NULL ok. */
void wfm_sim_report_free(struct wfm_sim_report *r);

/*
 * Parses a JSON scenario (format: docs/WFM.md) from text[0..len) (need not
 * be NUL-terminated). *out receives a scenario that owns all its arrays;
 * free it with wfm_sim_scenario_free. Returns 0, -EINVAL (err gets a
 * one-line reason naming the field, if err != NULL), -ENOMEM.
 */
int wfm_sim_scenario_load(const char *text, size_t len,
			  struct wfm_sim_scenario **out, char *err,
			  size_t errlen);

/* Frees a scenario made by wfm_sim_scenario_load. NULL ok. */
void wfm_sim_scenario_free(struct wfm_sim_scenario *s);

/* The report as the JSON object `hotline simulate --json` prints (a new
 * jansson reference the caller owns): replications, confidence,
 * interval_seconds, intervals, queues[{id, name, sl_seconds, intervals[],
 * day}], occupancy[], occupancy_day; each figure {mean, half_width}. */
struct json_t;
struct json_t *wfm_sim_report_json(const struct wfm_sim_scenario *sc,
				   const struct wfm_sim_report *r);

/*
 * `hotline simulate --scenario FILE.json [--json] [--replications N]
 *  [--seed N]`; argv[0] is "simulate". Reads the file, simulates, prints a
 * table (or one JSON object with --json) to stdout. Returns the exit code:
 * 0, 2 for a usage or scenario error (message on stderr), 1 if the
 * simulation failed.
 */
int wfm_cli_simulate(int argc, char **argv);

/* The same, printing to `out` and `err` (for tests and embedding). */
int wfm_cli_simulate_to(FILE *out, FILE *err, int argc, char **argv);

/* ------------------------------------------------------------------------
 * Shift schedules (wfm_schedule.c): which shifts to staff, and who works
 * them, so that the agents on the phones meet a requirement per interval
 * (for example wfm_staff() per 15-minute interval). The pattern model is a
 * set-covering integer program solved by COIN-OR CBC run as a subprocess
 * on an MPS file, within a wall-clock limit; a Lagrangian LP rounding plus
 * greedy repair runs first and is returned whenever CBC is missing, fails,
 * or stops without a better schedule. docs/WFM.md ("Schedules") states
 * the model, the MPS formulation, the fallback and the gap.
 *
 * Unlike the rest of this module, wfm_schedule() does I/O and reads the
 * clock: it writes and reads files in a private temporary directory
 * (mkdtemp, always removed) and spawns CBC (posix_spawn, no shell).
 * Everything else in this section is pure.
 * ------------------------------------------------------------------------ */

#define WFM_SCHED_MAX_BREAKS 3
#define WFM_SCHED_MAX_LENGTH 96 /* intervals in one shift */

/* A break or meal inside a shift: `len` intervals starting between
 * `earliest` and `latest` intervals after the shift start (inclusive).
 * Breaks of a template are placed in order and may not overlap. */
struct wfm_sched_break {
	unsigned len;           /* >= 1 */
	unsigned earliest, latest;
	int paid;               /* nonzero: paid (a coffee break); 0: unpaid meal */
};

/*
 * A shift template: shifts of `length` intervals (breaks included)
 * starting at day offsets first_start, first_start + start_step, ...,
 * <= last_start (intervals from the start of each day), on every day
 * whose bit (1 << (day % 7)) is set in `days` (0: every day). A template
 * that `skill` is nonzero for can only be worked by agents with that
 * skill. Paid time is `length` minus the unpaid breaks; a shift costs
 * paid intervals x cost_weight (default 1 with the wfm_sched_template_init
 * defaults).
 */
struct wfm_sched_template {
	unsigned first_start, last_start, start_step; /* step >= 1 */
	unsigned length;                              /* 1..WFM_SCHED_MAX_LENGTH */
	struct wfm_sched_break breaks[WFM_SCHED_MAX_BREAKS];
	unsigned n_breaks;
	unsigned days;        /* weekday mask, bit d = day d % 7; 0: all */
	unsigned skill;       /* 0: anyone */
	double cost_weight;   /* > 0 */
};

/* An agent: availability, contracted hours over the horizon, skills. */
struct wfm_sched_agent {
	const unsigned char *available; /* n_intervals flags (nonzero: may
	                                   work); NULL: always available */
	double min_hours, max_hours;    /* paid hours over the horizon,
	                                   0 <= min <= max */
	const unsigned *skills;         /* n_skills ids (may be NULL if 0) */
	unsigned n_skills;
};

/* The problem. Arrays are borrowed for the call only. A shift that would
 * end past the last interval is not generated (no wrap-around). */
struct wfm_sched_problem {
	unsigned n_intervals;       /* horizon, a multiple of intervals_per_day */
	unsigned intervals_per_day; /* e.g. 96 */
	double interval_s;          /* e.g. 900; converts hours */
	const double *required;     /* agents needed per interval, >= 0;
	                               rounded up to whole agents */
	const struct wfm_sched_template *templates;
	unsigned n_templates;
	const struct wfm_sched_agent *agents;
	unsigned n_agents;
};

struct wfm_sched_opts {
	const char *cbc_path;  /* default "/usr/bin/cbc"; NULL or "": no CBC */
	double time_limit_s;   /* CBC's -sec, > 0; default 30. The parent
	                          kills CBC after time_limit_s + grace_s */
	double grace_s;        /* default 2 */
	double under_penalty;  /* per missing agent-interval; <= 0 (default):
	                          2 x the dearest shift + 1 */
	double over_cost;      /* per surplus agent-interval, >= 0; default 0.01 */
	unsigned min_rest;     /* intervals between two shifts of one agent */
	const char *tmpdir;    /* parent of the private directory; NULL:
	                          $TMPDIR or /tmp */
};

/* How the pattern counts were found. */
enum wfm_sched_method {
	WFM_SCHED_CBC_OPTIMAL = 0, /* CBC proved optimality */
	WFM_SCHED_CBC_FEASIBLE,    /* CBC's incumbent at the time limit */
	WFM_SCHED_FALLBACK,        /* LP rounding + greedy repair */
};

/* One shift worked by one agent (agent == UINT_MAX: nobody could take it). */
struct wfm_sched_shift {
	unsigned agent;
	unsigned template_idx;
	unsigned start;                          /* interval in the horizon */
	unsigned length;
	unsigned break_start[WFM_SCHED_MAX_BREAKS]; /* absolute intervals */
	unsigned n_breaks;
	unsigned paid;                           /* paid intervals */
};

/*
 * The outcome. objective, bound and gap are about the pattern model (the
 * integer program): objective = cost of paid time + under_penalty x
 * missing agent-intervals + over_cost x surplus agent-intervals of the
 * pattern counts; bound = the best lower bound known (CBC's, or the
 * Lagrangian LP bound, which always exists); gap = (objective - bound) /
 * objective (0 when objective is 0). coverage[] and the totals
 * below it are of the final schedule: only the shifts an agent works.
 */
struct wfm_sched_result {
	enum wfm_sched_method method;
	int cbc_status;     /* 0: CBC ran and answered; -ENOENT: not found or
	                       disabled; -ETIME: killed at the deadline, or no
	                       time left after the LP; -EIO: failed or
	                       unreadable answer */
	double objective, bound, gap;
	double lp_bound;    /* the Lagrangian bound alone (never NAN) */
	double fallback_objective; /* what the fallback alone reached (no
	                              CBC, not even its LP) */
	double solve_s;     /* wall-clock seconds of the whole call */
	unsigned n_patterns;

	unsigned n_intervals;
	unsigned *coverage;      /* agents working per interval */
	double under, over;      /* sum over intervals of max(0, req - cov)
	                            and max(0, cov - req) */
	unsigned short_intervals; /* intervals with cov < req */
	double paid_hours;

	struct wfm_sched_shift *shifts; /* assigned first, then unassigned */
	size_t n_shifts, n_unassigned;
	double *agent_hours;      /* paid hours per agent */
	unsigned agents_below_min; /* min_hours could not be met */
};

/* Template defaults: start 0, step 1, length 1, no breaks, every day, no
 * skill, weight 1. Options: as documented in struct wfm_sched_opts. */
void wfm_sched_template_init(struct wfm_sched_template *t);
void wfm_sched_opts_init(struct wfm_sched_opts *o);

/*
 * Builds a schedule: enumerates the shift patterns (template x day x start
 * x break placement), finds pattern counts (fallback first, then, if
 * configured, CBC's LP relaxation rounded and repaired and CBC's integer
 * solve started from the better of the two, both within the time limit,
 * keeping the best), then assigns the shifts greedily to agents respecting
 * availability, skills, at most one shift per agent per day, min_rest and
 * max_hours, tops agents up towards min_hours with extra shifts where that
 * is possible, and fills intervals still short with any shift an agent can
 * work that covers them. o may be
 * NULL (defaults). Blocks for up to about time_limit_s + grace_s plus the
 * fallback's time; any thread may call it. Fills *out (free with
 * wfm_sched_result_free). Returns 0 (whatever CBC did: see
 * out->cbc_status); -EINVAL for a bad problem or options; -E2BIG when
 * there are more than 2,000,000 patterns; -ENOMEM.
 */
int wfm_schedule(const struct wfm_sched_problem *p,
		 const struct wfm_sched_opts *o, struct wfm_sched_result *out);

/* Frees what wfm_schedule() allocated in r and zeroes it. NULL ok. */
void wfm_sched_result_free(struct wfm_sched_result *r);

/* Static name: "cbc_optimal", "cbc_feasible", "fallback"; "?" otherwise. */
const char *wfm_sched_method_name(enum wfm_sched_method m);

/* ------------------------------------------------------------------------
 * Plans from the event log (wfm_plan.c): the patience estimate, staffing
 * per interval of a forecast, and schedule adherence. Pure: no I/O, no
 * clock, no allocation. docs/WFM.md ("Forecasts, staffing and adherence
 * from the event log") states the definitions.
 * ------------------------------------------------------------------------ */

/*
 * Mean patience 1/theta for Erlang A by the maximum-likelihood estimator of
 * an exponential patience under censoring: the total time every contact
 * spent waiting (answered ones until answered, abandoned ones until they
 * hung up, others until they left the queue) over the number that
 * abandoned. Equivalently E[wait] / P(abandon) (Mandelbaum and Zeltyn).
 * Returns INFINITY when nobody abandoned (use Erlang C), NAN for negative
 * or non-finite input.
 */
double wfm_patience_mle(double total_wait_s, double n_abandoned);

/* Staffing per interval. wfm_plan_opts_init(): Erlang C, 900 s intervals,
 * infinite patience, 80% within 20 s (answered), no shrinkage, at most
 * 100,000 agents per interval. */
struct wfm_plan_opts {
	enum wfm_model model; /* WFM_ERLANG_C or WFM_ERLANG_A */
	double interval_s;    /* > 0 */
	double patience_s;    /* Erlang A; INFINITY turns A into C */
	double sl_seconds;    /* >= 0 */
	double target_sl;     /* in (0, 1): answered within sl_seconds */
	double shrinkage;     /* in [0, 1) */
	long max_agents;      /* beyond: the interval is unreachable (-1) */
};

void wfm_plan_opts_init(struct wfm_plan_opts *o);

/*
 * For each of n intervals with calls[i] offered contacts of mean handle
 * time aht_s[i]: agents[i] = the fewest agents meeting the service level
 * (wfm_staff; 0 when calls[i] <= 0), scheduled[i] =
 * wfm_scheduled_staff(agents[i], shrinkage), sl[i] the service level
 * reached (NAN without calls). An interval that no count up to max_agents
 * can serve gets -1 in agents and scheduled. scheduled and sl may be NULL.
 * Returns 0, or -EINVAL (bad options, or a non-positive handle time where
 * calls > 0).
 */
int wfm_staff_intervals(const struct wfm_plan_opts *o, const double *calls, const double *aht_s,
			size_t n, long *agents, long *scheduled, double *sl);

/* Adherence: what an agent was scheduled to do in an interval, and the
 * states the server reports (agent.state_changed). */
enum wfm_adh_sched { WFM_ADH_OFF = 0, WFM_ADH_WORK, WFM_ADH_BREAK };
enum wfm_adh_state {
	WFM_ADH_OFFLINE = 0,
	WFM_ADH_AVAILABLE,
	WFM_ADH_AWAY,
	WFM_ADH_BUSY,
	WFM_ADH_WRAPUP,
	WFM_ADH_STATES
};

/* A state change at t_ms (epoch milliseconds). */
struct wfm_adh_change {
	int64_t t_ms;
	enum wfm_adh_state state;
};

/* One interval: seconds elapsed (up to now), seconds in adherence, and the
 * state held longest (-1 when no time elapsed). */
struct wfm_adh_interval {
	double elapsed_s, in_s;
	int dominant;
};

/* The day: elapsed and adherent seconds over every interval, and over the
 * scheduled span only (work and breaks), which is what the percentage
 * uses; the state at now_ms. */
struct wfm_adh_total {
	double elapsed_s, in_s;
	double scheduled_s, scheduled_in_s;
	enum wfm_adh_state current;
};

/* 1 when state a is in adherence with scheduled activity s: scheduled to
 * work and available, busy or in wrap-up; or on a break or off and away or
 * offline. */
int wfm_adh_in(enum wfm_adh_sched s, enum wfm_adh_state a);

/*
 * One agent's adherence over n intervals of interval_s seconds from
 * start_ms, counting time up to now_ms only. sched[i] is an enum
 * wfm_adh_sched; the agent is in `initial` at start_ms unless a change at
 * or before start_ms says otherwise; ch[0..n_ch) are the changes in time
 * order (earlier ones only set the starting state). Fills out[0..n) and
 * *tot. Returns 0 or -EINVAL (bad values, changes out of order).
 */
int wfm_adherence(const unsigned char *sched, size_t n, double interval_s, int64_t start_ms,
		  int64_t now_ms, enum wfm_adh_state initial, const struct wfm_adh_change *ch,
		  size_t n_ch, struct wfm_adh_interval *out, struct wfm_adh_total *tot);

#endif
