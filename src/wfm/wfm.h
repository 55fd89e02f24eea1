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
 * Everything here is pure: no I/O, no clock, no allocation, no global
 * state, so the functions are safe to call from any thread. Errors are 0 or
 * a negative errno, like the rest of Hotline. The one exception is
 * wfm_cli_erlang(), the `hotline erlang` command, which prints.
 */
#ifndef HL_WFM_H
#define HL_WFM_H

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

#endif
