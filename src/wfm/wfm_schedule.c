/*
 * wfm_schedule.c: the shift-schedule builder (wfm_schedule() in wfm.h).
 *
 * Three stages. (1) The pattern model: every template is instantiated at
 * every allowed start of every day with every placement of its breaks, and
 * an integer count x_s of agents per pattern s must cover the requirement
 * per interval (a soft covering row with an under-coverage variable, so
 * the program is always feasible), subject to aggregate agent limits
 * (head count per day, per skill and per set of agents who could work
 * that day, agents available per interval, total contracted hours).
 * (2) The counts: a Lagrangian relaxation solved by subgradient ascent
 * with primal averaging (the volume algorithm) gives a valid lower bound
 * and a fractional solution; that is rounded down and repaired by a lazy
 * greedy, compared with a plain greedy, stripped of redundant shifts and
 * improved by single-shift moves; this fallback is always computed. Then,
 * if configured, CBC solves the same program from an MPS file in a private
 * temporary directory within a wall-clock limit, which the parent also
 * enforces with SIGKILL: first its LP relaxation, rounded and repaired
 * like the Lagrangian one, then the integer program started from the
 * better of that and the fallback (MIP start); the best is kept. (3) The
 * assignment: the shifts are handed to named agents greedily day by day,
 * the most constrained first (availability over the whole shift, skill,
 * one shift a day, rest, maximum hours; the least available agent first);
 * agents still below their minimum hours are topped up with the most
 * useful extra shifts they can work, and missing agent-intervals are then
 * filled by any agent who can work a pattern covering them. docs/WFM.md
 * ("Schedules") has the formulation.
 *
 * This file is the module's one exception to "no I/O, no clock": CBC is a
 * separate program, run with posix_spawn and an argument vector (no shell).
 */
#define _POSIX_C_SOURCE 200809L

#include "wfm/wfm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_PATTERNS 2000000u
#define MAX_INTERVALS 100000u
#define MAX_SETS 64
#define MAX_SET_AGENTS 1024 /* beyond, no eligible-set rows */

/* One pattern: a template at one start with its breaks placed. */
struct pat {
	unsigned tmpl, day, start, len, nb;
	unsigned bs[WFM_SCHED_MAX_BREAKS], bl[WFM_SCHED_MAX_BREAKS];
	unsigned paid, work, skill_row; /* skill_row: index into skills[] + 1, 0 none */
	unsigned elig;                  /* agents who could work it */
	double pay;  /* paid intervals x weight */
	double cost; /* the IP column cost: pay + over_cost x work */
	double ub;   /* a valid upper bound on x_s at an optimum */
};

struct model {
	const struct wfm_sched_problem *p;
	unsigned n, days;
	struct pat *pats;
	unsigned np;
	double *req;        /* ceil(required) */
	unsigned *avail;    /* agents available per interval */
	unsigned *avail_prefix; /* per agent: available intervals before t */
	unsigned *skills;   /* distinct nonzero template skills */
	unsigned nskills;
	unsigned *skill_cap; /* agents with skills[k] */
	double paid_cap;    /* sum of agents' max paid intervals */
	double pen, oc;     /* under penalty, over cost */
	/* Eligible-set rows: the distinct sets E of agents who could work a
	 * pattern, and per day everyone who could work that day (at most
	 * MAX_SETS, the all-agents set left out). Shifts whose set is inside
	 * E can only use E's hours (one row) and heads (one row per day).
	 * The fallback keeps all of them; the MPS gets only the per-day
	 * head rows of the day sets, because the others, though valid, kept
	 * CBC's heuristics from finding any solution in the bench. */
	unsigned nsets, words;
	uint64_t *set_bits;   /* nsets x words */
	double *set_paid;     /* sum of E's maximum paid intervals */
	unsigned *set_size;   /* |E| */
	uint64_t *pat_sets;   /* per pattern: bit j = its set is inside E_j */
	int set_day[MAX_SETS]; /* d: E is everyone who could work on day d
	                          (the only kind written to the MPS); -1 */
	double pu;          /* cost of an under variable: pen + oc */
	double const_ip;    /* IP objective - reported objective = oc x sum req */
};

/* Aggregate usage of the <= rows by a count vector. */
struct usage {
	unsigned *head;  /* per day */
	unsigned *skill; /* per day x skill */
	unsigned *cap;   /* per interval, shifts spanning it */
	double paid;
	unsigned *cov;   /* working agents per interval */
	double *spaid;   /* per eligible set */
	unsigned *sday;  /* per eligible set x day */
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void wfm_sched_template_init(struct wfm_sched_template *t)
{
	memset(t, 0, sizeof(*t));
	t->start_step = 1;
	t->length = 1;
	t->cost_weight = 1.0;
}

void wfm_sched_opts_init(struct wfm_sched_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->cbc_path = "/usr/bin/cbc";
	o->time_limit_s = 30.0;
	o->grace_s = 2.0;
	o->under_penalty = 0.0;
	o->over_cost = 0.01;
}

const char *wfm_sched_method_name(enum wfm_sched_method m)
{
	switch (m) {
	case WFM_SCHED_CBC_OPTIMAL:
		return "cbc_optimal";
	case WFM_SCHED_CBC_FEASIBLE:
		return "cbc_feasible";
	case WFM_SCHED_FALLBACK:
		return "fallback";
	}
	return "?";
}

void wfm_sched_result_free(struct wfm_sched_result *r)
{
	if (!r)
		return;
	free(r->coverage);
	free(r->shifts);
	free(r->agent_hours);
	memset(r, 0, sizeof(*r));
}

/* ---- validation --------------------------------------------------------- */

static int ok_num(double v, double lo, double hi)
{
	return isfinite(v) && v >= lo && v <= hi;
}

static int validate(const struct wfm_sched_problem *p,
		    const struct wfm_sched_opts *o)
{
	if (!p || !o || p->n_intervals == 0 || p->n_intervals > MAX_INTERVALS ||
	    p->intervals_per_day == 0 ||
	    p->n_intervals % p->intervals_per_day != 0 ||
	    !ok_num(p->interval_s, 1e-9, 1e9) || !p->required ||
	    !p->templates || p->n_templates == 0 ||
	    (p->n_agents > 0 && !p->agents))
		return -EINVAL;
	for (unsigned t = 0; t < p->n_intervals; t++)
		if (!ok_num(p->required[t], 0.0, 1e6))
			return -EINVAL;
	for (unsigned i = 0; i < p->n_templates; i++) {
		const struct wfm_sched_template *tp = &p->templates[i];
		if (tp->start_step == 0 || tp->first_start > tp->last_start ||
		    tp->last_start >= p->intervals_per_day || tp->length == 0 ||
		    tp->length > WFM_SCHED_MAX_LENGTH ||
		    tp->n_breaks > WFM_SCHED_MAX_BREAKS ||
		    !ok_num(tp->cost_weight, 1e-9, 1e9) || tp->days > 127)
			return -EINVAL;
		unsigned total = 0;
		for (unsigned b = 0; b < tp->n_breaks; b++) {
			const struct wfm_sched_break *br = &tp->breaks[b];
			if (br->len == 0 || br->earliest > br->latest ||
			    br->latest + br->len > tp->length)
				return -EINVAL;
			total += br->len;
		}
		if (total >= tp->length)
			return -EINVAL;
	}
	for (unsigned a = 0; a < p->n_agents; a++) {
		const struct wfm_sched_agent *ag = &p->agents[a];
		if (!ok_num(ag->min_hours, 0.0, 1e6) ||
		    !ok_num(ag->max_hours, ag->min_hours, 1e6) ||
		    (ag->n_skills > 0 && !ag->skills))
			return -EINVAL;
	}
	if (!ok_num(o->time_limit_s, 1e-3, 1e7) || !ok_num(o->grace_s, 0.0, 1e6) ||
	    !isfinite(o->under_penalty) || !ok_num(o->over_cost, 0.0, 1e6))
		return -EINVAL;
	return 0;
}

/* ---- the pattern model -------------------------------------------------- */

static int agent_has_skill(const struct wfm_sched_agent *ag, unsigned k)
{
	if (k == 0)
		return 1;
	for (unsigned i = 0; i < ag->n_skills; i++)
		if (ag->skills[i] == k)
			return 1;
	return 0;
}

static int pat_works(const struct pat *s, unsigned t)
{
	if (t < s->start || t >= s->start + s->len)
		return 0;
	for (unsigned b = 0; b < s->nb; b++)
		if (t >= s->bs[b] && t < s->bs[b] + s->bl[b])
			return 0;
	return 1;
}

struct enum_ctx {
	struct model *m;
	size_t cap;
	int err;
};

static void add_pattern(struct enum_ctx *c, const struct pat *s)
{
	struct model *m = c->m;
	if (c->err)
		return;
	if (m->np >= MAX_PATTERNS) {
		c->err = -E2BIG;
		return;
	}
	if (m->np == c->cap) {
		size_t nc = c->cap ? 2 * c->cap : 1024;
		struct pat *np = realloc(m->pats, nc * sizeof(*np));
		if (!np) {
			c->err = -ENOMEM;
			return;
		}
		m->pats = np;
		c->cap = nc;
	}
	m->pats[m->np++] = *s;
}

/* Place break b of template tp at every allowed offset after `from`. */
static void place_breaks(struct enum_ctx *c, const struct wfm_sched_template *tp,
			 struct pat *s, unsigned b, unsigned from)
{
	if (b >= tp->n_breaks || b >= WFM_SCHED_MAX_BREAKS) {
		add_pattern(c, s);
		return;
	}
	const struct wfm_sched_break *br = &tp->breaks[b];
	unsigned lo = br->earliest > from ? br->earliest : from;
	for (unsigned off = lo; off <= br->latest && off + br->len <= tp->length; off++) {
		s->bs[b] = s->start + off;
		s->bl[b] = br->len;
		place_breaks(c, tp, s, b + 1, off + br->len);
		if (c->err)
			return;
	}
}

/* The agents who could work pattern s (available over its whole span,
 * with its skill) into bits (may be NULL); returns how many. */
static unsigned elig_bits(const struct model *m, const struct pat *s, uint64_t *bits)
{
	const struct wfm_sched_problem *p = m->p;
	const struct wfm_sched_template *tp = &p->templates[s->tmpl];
	unsigned n = 0;
	if (bits)
		memset(bits, 0, m->words * sizeof(uint64_t));
	for (unsigned a = 0; a < p->n_agents; a++) {
		const struct wfm_sched_agent *ag = &p->agents[a];
		if (!agent_has_skill(ag, tp->skill))
			continue;
		if (ag->available) {
			const unsigned *pre = m->avail_prefix + (size_t)a * (m->n + 1);
			if (pre[s->start + s->len] - pre[s->start] != s->len)
				continue;
		}
		if (bits)
			bits[a / 64] |= (uint64_t)1 << (a % 64);
		n++;
	}
	return n;
}

/* Remembers a distinct eligible set (up to MAX_SETS; more are dropped,
 * which only loosens the model). */
static void note_set(struct model *m, const uint64_t *bits, int day)
{
	for (unsigned j = 0; j < m->nsets; j++)
		if (!memcmp(m->set_bits + (size_t)j * m->words, bits,
			    m->words * sizeof(uint64_t))) {
			if (day >= 0 && m->set_day[j] < 0)
				m->set_day[j] = day;
			return;
		}
	if (m->nsets == MAX_SETS || (day < 0 && m->nsets >= MAX_SETS / 2))
		return; /* pattern sets take at most half the slots */
	memcpy(m->set_bits + (size_t)m->nsets * m->words, bits,
	       m->words * sizeof(uint64_t));
	m->set_day[m->nsets++] = day;
}

static void model_free(struct model *m)
{
	free(m->pats);
	free(m->req);
	free(m->avail);
	free(m->avail_prefix);
	free(m->set_bits);
	free(m->set_paid);
	free(m->set_size);
	free(m->pat_sets);
	free(m->skills);
	free(m->skill_cap);
	memset(m, 0, sizeof(*m));
}

static int model_build(struct model *m, const struct wfm_sched_problem *p,
		       const struct wfm_sched_opts *o)
{
	memset(m, 0, sizeof(*m));
	m->p = p;
	m->n = p->n_intervals;
	m->days = p->n_intervals / p->intervals_per_day;
	m->req = calloc(m->n, sizeof(double));
	m->avail = calloc(m->n, sizeof(unsigned));
	m->skills = calloc(p->n_templates + 1, sizeof(unsigned));
	m->skill_cap = calloc(p->n_templates + 1, sizeof(unsigned));
	if (!m->req || !m->avail || !m->skills || !m->skill_cap)
		return -ENOMEM;
	for (unsigned t = 0; t < m->n; t++)
		m->req[t] = ceil(p->required[t] - 1e-9);
	m->avail_prefix = calloc((size_t)p->n_agents * (m->n + 1) + 1, sizeof(unsigned));
	if (!m->avail_prefix)
		return -ENOMEM;
	for (unsigned a = 0; a < p->n_agents; a++) {
		const struct wfm_sched_agent *ag = &p->agents[a];
		unsigned *pre = m->avail_prefix + (size_t)a * (m->n + 1);
		for (unsigned t = 0; t < m->n; t++) {
			unsigned v = !ag->available || ag->available[t];
			m->avail[t] += v;
			pre[t + 1] = pre[t] + v;
		}
		m->paid_cap += floor(ag->max_hours * 3600.0 / p->interval_s + 1e-9);
	}
	for (unsigned i = 0; i < p->n_templates; i++) {
		unsigned k = p->templates[i].skill, j;
		if (!k)
			continue;
		for (j = 0; j < m->nskills && m->skills[j] != k; j++)
			;
		if (j == m->nskills) {
			m->skills[m->nskills] = k;
			for (unsigned a = 0; a < p->n_agents; a++)
				m->skill_cap[m->nskills] += (unsigned)agent_has_skill(&p->agents[a], k);
			m->nskills++;
		}
	}

	struct enum_ctx c = {m, 0, 0};
	for (unsigned i = 0; i < p->n_templates && !c.err; i++) {
		const struct wfm_sched_template *tp = &p->templates[i];
		for (unsigned d = 0; d < m->days && !c.err; d++) {
			if (tp->days && !(tp->days & (1u << (d % 7))))
				continue;
			for (unsigned st = tp->first_start; st <= tp->last_start && !c.err;
			     st += tp->start_step) {
				struct pat s;
				memset(&s, 0, sizeof(s));
				s.tmpl = i;
				s.day = d;
				s.start = d * p->intervals_per_day + st;
				s.len = tp->length;
				s.nb = tp->n_breaks;
				if (s.start + s.len > m->n)
					break;
				place_breaks(&c, tp, &s, 0, 0);
			}
		}
	}
	if (c.err)
		return c.err;
	if (m->np == 0)
		return -EINVAL; /* no template fits the horizon */

	double maxcost = 0;
	uint64_t *bits = NULL;
	if (p->n_agents > 0 && p->n_agents <= MAX_SET_AGENTS) {
		m->words = (p->n_agents + 63) / 64;
		bits = calloc(m->words, sizeof(uint64_t));
		m->set_bits = calloc((size_t)MAX_SETS * m->words, sizeof(uint64_t));
		m->set_paid = calloc(MAX_SETS, sizeof(double));
		m->set_size = calloc(MAX_SETS, sizeof(unsigned));
		m->pat_sets = calloc(m->np, sizeof(uint64_t));
		if (!bits || !m->set_bits || !m->set_paid || !m->set_size || !m->pat_sets) {
			free(bits);
			return -ENOMEM;
		}
	}
	for (unsigned i = 0; i < m->np; i++) {
		struct pat *s = &m->pats[i];
		const struct wfm_sched_template *tp = &p->templates[s->tmpl];
		unsigned unpaid = 0, brk = 0;
		for (unsigned b = 0; b < tp->n_breaks; b++) {
			brk += tp->breaks[b].len;
			if (!tp->breaks[b].paid)
				unpaid += tp->breaks[b].len;
		}
		s->paid = s->len - unpaid;
		s->work = s->len - brk;
		s->pay = (double)s->paid * tp->cost_weight;
		if (s->pay > maxcost)
			maxcost = s->pay;
		s->skill_row = 0;
		for (unsigned k = 0; k < m->nskills; k++)
			if (m->skills[k] == tp->skill)
				s->skill_row = k + 1;
		/* At an optimum no pattern exceeds the largest requirement it
		 * covers (one fewer would cost less and cover as much), nor the
		 * agents available over its span, nor the head count. */
		double ub = 0;
		unsigned availmin = p->n_agents;
		for (unsigned t = s->start; t < s->start + s->len; t++) {
			if (pat_works(s, t) && m->req[t] > ub)
				ub = m->req[t];
			if (m->avail[t] < availmin)
				availmin = m->avail[t];
		}
		if (ub > availmin)
			ub = availmin;
		/* agents who could work this very shift: available over its
		 * whole span and with its skill (prefix sums per agent) */
		unsigned elig = elig_bits(m, s, bits);
		s->elig = elig;
		if (bits && elig > 0 && elig < p->n_agents)
			note_set(m, bits, -1);
		if (ub > elig)
			ub = elig;
		if (s->skill_row && ub > m->skill_cap[s->skill_row - 1])
			ub = m->skill_cap[s->skill_row - 1];
		s->ub = ub;
	}
	if (bits) {
		/* the agents who could work any shift of a day: no more
		 * shifts that day than there are of them */
		uint64_t *uni = calloc(m->words, sizeof(uint64_t));
		if (!uni) {
			free(bits);
			return -ENOMEM;
		}
		for (unsigned d = 0; d < m->days; d++) {
			memset(uni, 0, m->words * sizeof(uint64_t));
			unsigned any = 0;
			for (unsigned i = 0; i < m->np; i++) {
				if (m->pats[i].day != d || !m->pats[i].elig)
					continue;
				elig_bits(m, &m->pats[i], bits);
				for (unsigned w = 0; w < m->words; w++)
					uni[w] |= bits[w];
				any = 1;
			}
			unsigned cnt = 0;
			for (unsigned w = 0; w < m->words; w++)
				for (uint64_t v = uni[w]; v; v &= v - 1)
					cnt++;
			if (any && cnt < p->n_agents)
				note_set(m, uni, (int)d);
		}
		free(uni);
		/* which sets contain each pattern's set */
		for (unsigned i = 0; i < m->np; i++) {
			if (!m->pats[i].elig)
				continue;
			elig_bits(m, &m->pats[i], bits);
			for (unsigned j = 0; j < m->nsets; j++) {
				const uint64_t *e = m->set_bits + (size_t)j * m->words;
				unsigned w;
				for (w = 0; w < m->words && !(bits[w] & ~e[w]); w++)
					;
				if (w == m->words)
					m->pat_sets[i] |= (uint64_t)1 << j;
			}
		}
		double per_h = 3600.0 / p->interval_s;
		for (unsigned j = 0; j < m->nsets; j++)
			for (unsigned a = 0; a < p->n_agents; a++)
				if (m->set_bits[(size_t)j * m->words + a / 64] >> (a % 64) & 1) {
					m->set_size[j]++;
					m->set_paid[j] += floor(p->agents[a].max_hours * per_h + 1e-9);
				}
		free(bits);
	}
	m->oc = o->over_cost;
	m->pen = o->under_penalty > 0 ? o->under_penalty : 2.0 * maxcost + 1.0;
	m->pu = m->pen + m->oc;
	double sumreq = 0;
	for (unsigned t = 0; t < m->n; t++)
		sumreq += m->req[t];
	m->const_ip = m->oc * sumreq;
	for (unsigned i = 0; i < m->np; i++)
		m->pats[i].cost = m->pats[i].pay + m->oc * m->pats[i].work;
	return 0;
}

/* The reported objective of counts x: pay + pen x under + oc x over. */
static double evaluate(const struct model *m, const unsigned *x, unsigned *cov)
{
	double obj = 0;
	memset(cov, 0, m->n * sizeof(unsigned));
	for (unsigned i = 0; i < m->np; i++) {
		if (!x[i])
			continue;
		const struct pat *s = &m->pats[i];
		obj += x[i] * s->pay;
		for (unsigned t = s->start; t < s->start + s->len; t++)
			if (pat_works(s, t))
				cov[t] += x[i];
	}
	for (unsigned t = 0; t < m->n; t++) {
		double d = m->req[t] - cov[t];
		obj += d > 0 ? m->pen * d : -m->oc * d;
	}
	return obj;
}

/* ---- the fallback: Lagrangian bound, rounding, greedy ------------------- */

static int usage_alloc(struct usage *u, const struct model *m)
{
	u->head = calloc(m->days, sizeof(unsigned));
	u->skill = calloc((size_t)m->days * (m->nskills + 1), sizeof(unsigned));
	u->cap = calloc(m->n, sizeof(unsigned));
	u->cov = calloc(m->n, sizeof(unsigned));
	u->spaid = calloc(m->nsets + 1, sizeof(double));
	u->sday = calloc((size_t)(m->nsets + 1) * m->days, sizeof(unsigned));
	u->paid = 0;
	return u->head && u->skill && u->cap && u->cov && u->spaid && u->sday
		       ? 0
		       : -ENOMEM;
}

static void usage_free(struct usage *u)
{
	free(u->head);
	free(u->skill);
	free(u->cap);
	free(u->cov);
	free(u->spaid);
	free(u->sday);
}

/* Can one more of pattern i be added without breaking a <= row? */
static int can_add(const struct model *m, const struct usage *u,
		   const unsigned *x, unsigned i)
{
	const struct pat *s = &m->pats[i];
	if ((double)x[i] + 1 > s->ub || u->head[s->day] >= m->p->n_agents ||
	    u->paid + s->paid > m->paid_cap + 1e-9)
		return 0;
	if (s->skill_row &&
	    u->skill[s->day * (m->nskills + 1) + s->skill_row] >= m->skill_cap[s->skill_row - 1])
		return 0;
	for (unsigned t = s->start; t < s->start + s->len; t++)
		if (u->cap[t] >= m->avail[t])
			return 0;
	uint64_t sets = m->pat_sets ? m->pat_sets[i] : 0;
	for (unsigned j = 0; sets; j++, sets >>= 1)
		if ((sets & 1) &&
		    (u->spaid[j] + s->paid > m->set_paid[j] + 1e-9 ||
		     u->sday[j * m->days + s->day] >= m->set_size[j]))
			return 0;
	return 1;
}

static void add_one(const struct model *m, struct usage *u, unsigned *x,
		    unsigned i, int sign)
{
	const struct pat *s = &m->pats[i];
	x[i] += (unsigned)sign;
	u->head[s->day] += (unsigned)sign;
	u->skill[s->day * (m->nskills + 1) + s->skill_row] += (unsigned)sign;
	u->paid += sign * (double)s->paid;
	uint64_t sets = m->pat_sets ? m->pat_sets[i] : 0;
	for (unsigned j = 0; sets; j++, sets >>= 1)
		if (sets & 1) {
			u->spaid[j] += sign * (double)s->paid;
			u->sday[j * m->days + s->day] += (unsigned)sign;
		}
	for (unsigned t = s->start; t < s->start + s->len; t++) {
		u->cap[t] += (unsigned)sign;
		if (pat_works(s, t))
			u->cov[t] += (unsigned)sign;
	}
}

static double gain_of(const struct model *m, const struct usage *u, unsigned i)
{
	const struct pat *s = &m->pats[i];
	double g = 0;
	for (unsigned t = s->start; t < s->start + s->len; t++)
		if (u->cov[t] < m->req[t] && pat_works(s, t))
			g += 1;
	return g;
}

struct hent {
	double key;
	unsigned i;
};

static void heap_push(struct hent *h, size_t *n, struct hent e)
{
	size_t k = (*n)++;
	while (k > 0) {
		size_t up = (k - 1) / 2;
		if (h[up].key >= e.key)
			break;
		h[k] = h[up];
		k = up;
	}
	h[k] = e;
}

static struct hent heap_pop(struct hent *h, size_t *n)
{
	struct hent top = h[0], last = h[--(*n)];
	size_t k = 0;
	for (;;) {
		size_t c = 2 * k + 1;
		if (c >= *n)
			break;
		if (c + 1 < *n && h[c + 1].key > h[c].key)
			c++;
		if (h[c].key <= last.key)
			break;
		h[k] = h[c];
		k = c;
	}
	if (*n > 0)
		h[k] = last;
	return top;
}

/*
 * Lazy greedy repair: while some pattern that fits the <= rows covers a
 * missing agent-interval, add the one with the most missing
 * agent-intervals per unit of cost. Gains only fall as shifts are added, so
 * a stale heap key is an upper bound and the lazy evaluation is exact.
 */
static int greedy_repair(const struct model *m, struct usage *u, unsigned *x)
{
	struct hent *h = malloc((size_t)m->np * sizeof(*h));
	size_t hn = 0;
	if (!h)
		return -ENOMEM;
	for (unsigned i = 0; i < m->np; i++) {
		double g = gain_of(m, u, i);
		if (g > 0 && g * m->pu > m->pats[i].cost)
			heap_push(h, &hn, (struct hent){g / m->pats[i].cost, i});
	}
	while (hn > 0) {
		struct hent e = heap_pop(h, &hn);
		if (!can_add(m, u, x, e.i))
			continue;
		double g = gain_of(m, u, e.i);
		if (g <= 0 || g * m->pu <= m->pats[e.i].cost)
			continue;
		double key = g / m->pats[e.i].cost;
		if (hn > 0 && key < h[0].key - 1e-12) {
			heap_push(h, &hn, (struct hent){key, e.i});
			continue;
		}
		add_one(m, u, x, e.i, 1);
		heap_push(h, &hn, (struct hent){key, e.i});
	}
	free(h);
	return 0;
}

/* Drop shifts whose every working interval stays covered without them,
 * dearest first. */
static int prune(const struct model *m, struct usage *u, unsigned *x)
{
	unsigned *ord = malloc((size_t)m->np * sizeof(unsigned));
	unsigned no = 0;
	if (!ord)
		return -ENOMEM;
	for (unsigned i = 0; i < m->np; i++)
		if (x[i])
			ord[no++] = i;
	/* insertion by cost would be quadratic; a few passes suffice */
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned k = 0; k < no; k++) {
			unsigned i = ord[k];
			const struct pat *s = &m->pats[i];
			while (x[i]) {
				int redundant = 1;
				for (unsigned t = s->start; t < s->start + s->len && redundant; t++)
					if (pat_works(s, t) && (double)u->cov[t] - 1 < m->req[t])
						redundant = 0;
				if (!redundant)
					break;
				add_one(m, u, x, i, -1);
			}
		}
	}
	free(ord);
	return 0;
}

/*
 * Shift moves: take one shift out and put in the pattern of the same day
 * that lowers the objective most (another start, break placement or
 * template), while any move helps; at most `passes` sweeps.
 */
static int improve(const struct model *m, struct usage *u, unsigned *x,
		   unsigned passes)
{
	unsigned *first = calloc(m->days + 1, sizeof(unsigned));
	unsigned *ord = malloc((size_t)m->np * sizeof(unsigned));
	if (!first || !ord) {
		free(first);
		free(ord);
		return -ENOMEM;
	}
	/* patterns by day (counting sort) */
	for (unsigned i = 0; i < m->np; i++)
		first[m->pats[i].day + 1]++;
	for (unsigned d = 0; d < m->days; d++)
		first[d + 1] += first[d];
	unsigned *fill = calloc(m->days, sizeof(unsigned));
	if (!fill) {
		free(first);
		free(ord);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < m->np; i++) {
		unsigned d = m->pats[i].day;
		ord[first[d] + fill[d]++] = i;
	}
	free(fill);
	for (unsigned pass = 0; pass < passes; pass++) {
		int moved = 0;
		for (unsigned i = 0; i < m->np; i++) {
			if (!x[i])
				continue;
			const struct pat *s = &m->pats[i];
			add_one(m, u, x, i, -1);
			/* the change from taking it out */
			double rm = -s->pay;
			for (unsigned t = s->start; t < s->start + s->len; t++)
				if (pat_works(s, t))
					rm += u->cov[t] < m->req[t] ? m->pen : -m->oc;
			double best = 0; /* re-adding i costs -rm: net 0 */
			unsigned bj = i;
			for (unsigned k = first[s->day]; k < first[s->day + 1]; k++) {
				unsigned j = ord[k];
				if (j == i)
					continue;
				const struct pat *q = &m->pats[j];
				double ad = q->pay;
				for (unsigned t = q->start; t < q->start + q->len; t++)
					if (pat_works(q, t))
						ad += u->cov[t] < m->req[t] ? -m->pen : m->oc;
				if (rm + ad < best - 1e-9 && can_add(m, u, x, j)) {
					best = rm + ad;
					bj = j;
				}
			}
			if (rm < best - 1e-9) /* dropping it is best of all */
				continue;
			add_one(m, u, x, bj, 1);
			moved |= bj != i;
		}
		if (!moved)
			break;
	}
	free(first);
	free(ord);
	return 0;
}

/*
 * The Lagrangian dual of the covering rows with box bounds 0 <= x_s <=
 * ub_s: L(l) = sum_t l_t r_t + sum_s ub_s min(0, c_s - sum_{t in s} l_t),
 * 0 <= l_t <= pu. Every l gives a lower bound on the IP (the <= rows are
 * dropped, which only lowers it). Subgradient ascent with Polyak steps
 * towards the target `ub_ip`; xbar receives the volume algorithm's
 * average of the Lagrangian minimisers, a near-LP solution. Returns the
 * best bound found (IP units).
 */
static double lagrangian(const struct model *m, double ub_ip, double *xbar,
			 unsigned iters)
{
	double *lam = calloc(m->n, sizeof(double));
	double *g = calloc(m->n, sizeof(double));
	double best = 0;
	if (!lam || !g) {
		free(lam);
		free(g);
		return 0; /* a valid, if useless, bound */
	}
	/* start from the cheapest cost per working interval: the dual price
	 * of an interval that one shift covers alone at no waste */
	double price = INFINITY;
	for (unsigned i = 0; i < m->np; i++)
		if (m->pats[i].cost / m->pats[i].work < price)
			price = m->pats[i].cost / m->pats[i].work;
	for (unsigned t = 0; t < m->n; t++)
		lam[t] = m->req[t] > 0 ? price : 0;
	for (unsigned i = 0; i < m->np; i++)
		xbar[i] = 0;
	double theta = 1.0;
	unsigned stall = 0;
	for (unsigned it = 0; it < iters; it++) {
		double L = 0;
		for (unsigned t = 0; t < m->n; t++) {
			L += lam[t] * m->req[t];
			g[t] = m->req[t];
		}
		for (unsigned i = 0; i < m->np; i++) {
			const struct pat *s = &m->pats[i];
			double r = s->cost;
			for (unsigned t = s->start; t < s->start + s->len; t++)
				if (pat_works(s, t))
					r -= lam[t];
			double xi = r < 0 ? s->ub : 0;
			if (xi > 0) {
				L += xi * r;
				for (unsigned t = s->start; t < s->start + s->len; t++)
					if (pat_works(s, t))
						g[t] -= xi;
			}
			xbar[i] = it == 0 ? xi : 0.9 * xbar[i] + 0.1 * xi;
		}
		if (L > best + 1e-9 * fabs(best)) {
			best = L;
			stall = 0;
		} else if (++stall >= 15) {
			theta *= 0.5;
			stall = 0;
		}
		double gg = 0;
		for (unsigned t = 0; t < m->n; t++) {
			/* a projected direction: no push beyond the box */
			if ((lam[t] <= 0 && g[t] < 0) || (lam[t] >= m->pu && g[t] > 0))
				g[t] = 0;
			gg += g[t] * g[t];
		}
		if (gg <= 0 || theta < 1e-6 || ub_ip - best <= 1e-9 * ub_ip)
			break;
		double step = theta * (ub_ip - L) / gg;
		if (step <= 0)
			step = theta * 1e-3 * ub_ip / gg;
		for (unsigned t = 0; t < m->n; t++) {
			double v = lam[t] + step * g[t];
			lam[t] = v < 0 ? 0 : v > m->pu ? m->pu : v;
		}
	}
	free(lam);
	free(g);
	return best;
}

/* qsort has no context argument: the comparator reads the values through
 * a thread-local pointer set just before the call (wfm_schedule() may run
 * on several threads at once). */
static _Thread_local const double *sort_xbar;

static int cmp_xbar(const void *a, const void *b)
{
	double x = sort_xbar[*(const unsigned *)a], y = sort_xbar[*(const unsigned *)b];
	return x > y ? -1 : x < y;
}

/*
 * LP rounding: the floor of a fractional solution, largest values first,
 * each copy only while it fits the rows and still covers a missing
 * agent-interval (the volume algorithm's average overshoots where the
 * minimisers sat at their upper bounds), then greedy repair, pruning and
 * shift moves. Counts into x2, objective into *obj.
 */
static int round_repair(const struct model *m, const double *xbar,
			unsigned *x2, double *obj)
{
	struct usage u;
	unsigned *ord = malloc((size_t)m->np * sizeof(unsigned));
	unsigned *cov = malloc(m->n * sizeof(unsigned) + 1);
	int rc = usage_alloc(&u, m);
	if (!ord || !cov || rc) {
		rc = -ENOMEM;
		goto out;
	}
	memset(x2, 0, m->np * sizeof(unsigned));
	for (unsigned i = 0; i < m->np; i++)
		ord[i] = i;
	sort_xbar = xbar;
	qsort(ord, m->np, sizeof(unsigned), cmp_xbar);
	for (unsigned k = 0; k < m->np; k++) {
		unsigned i = ord[k];
		unsigned c = (unsigned)floor(xbar[i] + 1e-6);
		while (c-- > 0 && can_add(m, &u, x2, i) && gain_of(m, &u, i) > 0)
			add_one(m, &u, x2, i, 1);
	}
	if ((rc = greedy_repair(m, &u, x2)) || (rc = prune(m, &u, x2)) ||
	    (rc = improve(m, &u, x2, 20)))
		goto out;
	*obj = evaluate(m, x2, cov);
out:
	usage_free(&u);
	free(ord);
	free(cov);
	return rc;
}

/* The fallback's counts into x; returns its reported objective in *obj. */
static int fallback(const struct model *m, unsigned *x, double *obj,
		    double *lp_bound_ip)
{
	unsigned *x2 = calloc(m->np, sizeof(unsigned));
	unsigned *cov = malloc(m->n * sizeof(unsigned));
	double *xbar = malloc((size_t)m->np * sizeof(double));
	struct usage u;
	int rc = usage_alloc(&u, m);
	if (!x2 || !cov || !xbar || rc) {
		rc = -ENOMEM;
		goto out;
	}
	/* plain greedy first: it also gives the Lagrangian its target */
	memset(x, 0, m->np * sizeof(unsigned));
	if ((rc = greedy_repair(m, &u, x)) || (rc = prune(m, &u, x)) ||
	    (rc = improve(m, &u, x, 20)))
		goto out;
	double o1 = evaluate(m, x, cov);
	/* at most 400 steps, fewer when one step is large (each costs the
	 * total length of all patterns) */
	double work_all = 1;
	for (unsigned i = 0; i < m->np; i++)
		work_all += m->pats[i].len;
	double steps = floor(4e8 / work_all);
	unsigned iters = steps > 400 ? 400 : steps < 20 ? 20 : (unsigned)steps;
	*lp_bound_ip = lagrangian(m, o1 + m->const_ip, xbar, iters);

	double o2;
	if ((rc = round_repair(m, xbar, x2, &o2)))
		goto out;
	if (o2 < o1) {
		memcpy(x, x2, m->np * sizeof(unsigned));
		o1 = o2;
	}
	*obj = o1;
out:
	usage_free(&u);
	free(x2);
	free(cov);
	free(xbar);
	return rc;
}

/* ---- CBC ---------------------------------------------------------------- */

/* A number in at most 12 characters, as fixed MPS needs. */
static void mps_num(char *buf, size_t n, double v)
{
	for (int prec = 12; prec >= 4; prec--) {
		int k = snprintf(buf, n, "%.*g", prec, v);
		if (k > 0 && k <= 12)
			return;
	}
	snprintf(buf, n, "%.5e", v);
}

static void mps_entry(FILE *f, const char *col, const char *row, double v)
{
	char num[32];
	mps_num(num, sizeof(num), v);
	fprintf(f, "    %-8s  %-8s  %12s\n", col, row, num);
}

/* Coverage row of interval t exists iff req[t] > 0; capacity row A<t> iff
 * some pattern spans t and fewer agents are available than could overlap. */
static int write_mps(const struct model *m, const char *path)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	const struct wfm_sched_problem *p = m->p;
	unsigned char *span = calloc(m->n, 1);
	if (!span) {
		fclose(f);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < m->np; i++)
		for (unsigned t = m->pats[i].start; t < m->pats[i].start + m->pats[i].len; t++)
			span[t] = 1;
	char name[16], row[16];
	fprintf(f, "NAME          HLSCHED\nROWS\n N  COST\n");
	for (unsigned t = 0; t < m->n; t++)
		if (m->req[t] > 0)
			fprintf(f, " G  C%u\n", t);
	for (unsigned d = 0; d < m->days; d++) {
		fprintf(f, " L  H%u\n", d);
		for (unsigned k = 0; k < m->nskills; k++)
			fprintf(f, " L  S%u\n", d * m->nskills + k);
	}
	for (unsigned t = 0; t < m->n; t++)
		if (span[t])
			fprintf(f, " L  A%u\n", t);
	for (unsigned j = 0; j < m->nsets; j++)
		if (m->set_day[j] >= 0)
			fprintf(f, " L  R%u\n", j);
	fprintf(f, " L  P\nCOLUMNS\n");
	fprintf(f, "    MARKER                 'MARKER'                 'INTORG'\n");
	for (unsigned i = 0; i < m->np; i++) {
		const struct pat *s = &m->pats[i];
		snprintf(name, sizeof(name), "X%u", i);
		mps_entry(f, name, "COST", s->cost);
		for (unsigned t = s->start; t < s->start + s->len; t++) {
			if (pat_works(s, t) && m->req[t] > 0) {
				snprintf(row, sizeof(row), "C%u", t);
				mps_entry(f, name, row, 1);
			}
			snprintf(row, sizeof(row), "A%u", t);
			mps_entry(f, name, row, 1);
		}
		snprintf(row, sizeof(row), "H%u", s->day);
		mps_entry(f, name, row, 1);
		if (s->skill_row) {
			snprintf(row, sizeof(row), "S%u", s->day * m->nskills + s->skill_row - 1);
			mps_entry(f, name, row, 1);
		}
		mps_entry(f, name, "P", s->paid);
		uint64_t sets = m->pat_sets ? m->pat_sets[i] : 0;
		for (unsigned j = 0; sets; j++, sets >>= 1) {
			if (!(sets & 1) || m->set_day[j] != (int)s->day)
				continue;
			snprintf(row, sizeof(row), "R%u", j);
			mps_entry(f, name, row, 1);
		}
	}
	fprintf(f, "    MARKER                 'MARKER'                 'INTEND'\n");
	for (unsigned t = 0; t < m->n; t++) {
		if (m->req[t] <= 0)
			continue;
		snprintf(name, sizeof(name), "U%u", t);
		snprintf(row, sizeof(row), "C%u", t);
		mps_entry(f, name, "COST", m->pu);
		mps_entry(f, name, row, 1);
	}
	fprintf(f, "RHS\n");
	for (unsigned t = 0; t < m->n; t++)
		if (m->req[t] > 0) {
			snprintf(row, sizeof(row), "C%u", t);
			mps_entry(f, "RHS", row, m->req[t]);
		}
	for (unsigned d = 0; d < m->days; d++) {
		snprintf(row, sizeof(row), "H%u", d);
		mps_entry(f, "RHS", row, p->n_agents);
		for (unsigned k = 0; k < m->nskills; k++) {
			snprintf(row, sizeof(row), "S%u", d * m->nskills + k);
			mps_entry(f, "RHS", row, m->skill_cap[k]);
		}
	}
	for (unsigned t = 0; t < m->n; t++)
		if (span[t]) {
			snprintf(row, sizeof(row), "A%u", t);
			mps_entry(f, "RHS", row, m->avail[t]);
		}
	for (unsigned j = 0; j < m->nsets; j++)
		if (m->set_day[j] >= 0) {
			snprintf(row, sizeof(row), "R%u", j);
			mps_entry(f, "RHS", row, m->set_size[j]);
		}
	mps_entry(f, "RHS", "P", m->paid_cap);
	fprintf(f, "BOUNDS\n");
	for (unsigned i = 0; i < m->np; i++) {
		char num[32];
		snprintf(name, sizeof(name), "X%u", i);
		mps_num(num, sizeof(num), m->pats[i].ub);
		fprintf(f, " UP %-8s  %-8s  %12s\n", "BND", name, num);
	}
	fprintf(f, "ENDATA\n");
	free(span);
	int bad = ferror(f);
	if (fclose(f) != 0 || bad)
		return -EIO;
	return 0;
}

/* Runs cbc; 0 when it exited (any status), -ETIME when killed at the
 * deadline, -ENOENT when it could not be started. */
static int spawn_cbc(const char *cbc, const char *mps, const char *start,
		     const char *sol, const char *log, double limit_s, double grace_s)
{
	char sec[32];
	snprintf(sec, sizeof(sec), "%.3f", limit_s);
	/* start == NULL: the LP relaxation only */
	char *mip[] = {(char *)cbc, (char *)mps, "-mipstart", (char *)start,
		       "-timeMode", "elapsed", "-sec", sec, "-solve",
		       "-solution", (char *)sol, NULL};
	char *lp[] = {(char *)cbc, (char *)mps, "-timeMode", "elapsed", "-sec", sec,
		      "-initialSolve", "-solution", (char *)sol, NULL};
	char **argv = start ? mip : lp;
	posix_spawn_file_actions_t fa;
	if (posix_spawn_file_actions_init(&fa))
		return -ENOMEM;
	pid_t pid;
	int e = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (!e)
		e = posix_spawn_file_actions_addopen(&fa, 1, log,
						     O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (!e)
		e = posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (e) {
		posix_spawn_file_actions_destroy(&fa);
		return -EIO;
	}
	e = posix_spawn(&pid, cbc, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (e)
		return -ENOENT;
	double deadline = now_s() + limit_s + grace_s;
	int status = 0;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		int lost = r < 0 && errno != EINTR;
		if (lost || now_s() >= deadline) {
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			return lost ? -EIO : -ETIME;
		}
		struct timespec ts = {0, 5000000};
		nanosleep(&ts, NULL);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return -ENOENT; /* posix_spawn's child could not exec */
	return 0;
}

/* From CBC's log: "Lower bound:" (stopped early), or proof of optimality. */
static double parse_log_bound(const char *path, int *optimal)
{
	FILE *f = fopen(path, "r");
	char line[512];
	double bound = NAN, objv = NAN;
	*optimal = 0;
	if (!f)
		return NAN;
	while (fgets(line, sizeof(line), f)) {
		char *e;
		if (strncmp(line, "Result - Optimal solution found", 31) == 0)
			*optimal = 1;
		else if (strncmp(line, "Lower bound:", 12) == 0) {
			double v = strtod(line + 12, &e);
			if (e != line + 12)
				bound = v;
		} else if (strncmp(line, "Objective value:", 16) == 0) {
			double v = strtod(line + 16, &e);
			if (e != line + 16)
				objv = v;
		}
	}
	fclose(f);
	if (*optimal && isfinite(objv))
		return objv;
	return bound;
}

/* The X columns of CBC's solution file into x; -EIO if absent or not an
 * integer solution. */
static int parse_solution(const struct model *m, const char *path, unsigned *x)
{
	FILE *f = fopen(path, "r");
	char line[512];
	int rc = -EIO;
	if (!f)
		return -EIO;
	memset(x, 0, m->np * sizeof(unsigned));
	if (!fgets(line, sizeof(line), f) ||
	    (strncmp(line, "Optimal", 7) != 0 && strncmp(line, "Stopped", 7) != 0) ||
	    strstr(line, "infeasible") || strstr(line, "no integer"))
		goto out;
	rc = 0;
	while (fgets(line, sizeof(line), f)) {
		char *q = line, *e;
		while (*q == ' ' || *q == '*')
			q++;
		(void)strtoul(q, &e, 10); /* the column index */
		if (e == q)
			continue;
		q = e;
		while (*q == ' ')
			q++;
		if (*q != 'X')
			continue;
		unsigned long i = strtoul(q + 1, &e, 10);
		if (e == q + 1 || i >= m->np) {
			rc = -EIO;
			break;
		}
		double v = strtod(e, &q);
		if (q == e || !(v > -0.5) || fabs(v - floor(v + 0.5)) > 1e-6 ||
		    v > m->pats[i].ub + 0.5) {
			rc = -EIO;
			break;
		}
		x[i] = (unsigned)floor(v + 0.5);
	}
out:
	fclose(f);
	return rc;
}

/* CBC's LP solution: the X columns into xbar, its objective into *objv.
 * -EIO unless it says Optimal. */
static int parse_lp(const struct model *m, const char *path, double *xbar,
		    double *objv)
{
	FILE *f = fopen(path, "r");
	char line[512];
	int rc = -EIO;
	if (!f)
		return -EIO;
	for (unsigned i = 0; i < m->np; i++)
		xbar[i] = 0;
	const char *tag = "objective value";
	char *at;
	if (!fgets(line, sizeof(line), f) || strncmp(line, "Optimal", 7) != 0 ||
	    !(at = strstr(line, tag)))
		goto out;
	char *e;
	*objv = strtod(at + strlen(tag), &e);
	if (e == at + strlen(tag))
		goto out;
	rc = 0;
	while (fgets(line, sizeof(line), f)) {
		char *q = line;
		while (*q == ' ' || *q == '*')
			q++;
		(void)strtoul(q, &e, 10);
		if (e == q)
			continue;
		q = e;
		while (*q == ' ')
			q++;
		if (*q != 'X')
			continue;
		unsigned long i = strtoul(q + 1, &e, 10);
		double v = strtod(e, &q);
		if (i >= m->np || q == e || !isfinite(v)) {
			rc = -EIO;
			break;
		}
		xbar[i] = v;
	}
out:
	fclose(f);
	return rc;
}

static void rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *de;
		char path[PATH_MAX];
		while ((de = readdir(d)) != NULL) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			int k = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			if (k > 0 && (size_t)k < sizeof(path))
				unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
}

/* The fallback's counts as CBC's MIP start (its solution-file format). */
static int write_start(const struct model *m, const char *path,
		       const unsigned *x0)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -errno;
	fprintf(f, "Stopped on iterations - objective value 0\n");
	for (unsigned i = 0; i < m->np; i++)
		fprintf(f, "%u X%u %u 0\n", i, i, x0[i]);
	int bad = ferror(f);
	if (fclose(f) != 0 || bad)
		return -EIO;
	return 0;
}

static int round_repair(const struct model *m, const double *xbar,
			unsigned *x2, double *obj);

/*
 * Solve with CBC into x. First CBC's LP relaxation (-initialSolve), whose
 * optimum is a bound and whose solution is rounded and repaired like the
 * Lagrangian one; the better of that and x0 (which it may replace) is the
 * MIP start of the integer solve, which gets what is left of the time
 * limit. *optimal, *bound_ip (IP units, NAN if none) from the logs.
 */
static int run_cbc(const struct model *m, const struct wfm_sched_opts *o,
		   unsigned *x0, double *x0_obj, unsigned *x, int *optimal,
		   double *bound_ip)
{
	double t0 = now_s();
	const char *base = o->tmpdir;
	if (!base || !*base)
		base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	char dir[PATH_MAX - 64], mps[PATH_MAX], sol[PATH_MAX], log[PATH_MAX];
	char start[PATH_MAX];
	int k = snprintf(dir, sizeof(dir), "%s/hl-wfm-XXXXXX", base);
	if (k < 0 || (size_t)k >= sizeof(dir))
		return -ENAMETOOLONG;
	if (!mkdtemp(dir))
		return -errno;
	snprintf(mps, sizeof(mps), "%s/model.mps", dir);
	snprintf(sol, sizeof(sol), "%s/solution.txt", dir);
	snprintf(log, sizeof(log), "%s/cbc.log", dir);
	snprintf(start, sizeof(start), "%s/start.txt", dir);
	*bound_ip = NAN;
	*optimal = 0;
	int rc = write_mps(m, mps);
	if (!rc)
		rc = spawn_cbc(o->cbc_path, mps, NULL, sol, log, o->time_limit_s,
			       o->grace_s);
	if (!rc) {
		double *xbar = malloc((size_t)m->np * sizeof(double) + 1);
		unsigned *xr = calloc(m->np, sizeof(unsigned));
		double lpv, robj;
		if (!xbar || !xr) {
			rc = -ENOMEM;
		} else if (parse_lp(m, sol, xbar, &lpv) == 0) {
			*bound_ip = lpv;
			rc = round_repair(m, xbar, xr, &robj);
			if (!rc && robj < *x0_obj) {
				memcpy(x0, xr, m->np * sizeof(unsigned));
				*x0_obj = robj;
			}
		}
		free(xbar);
		free(xr);
	}
	double left = o->time_limit_s - (now_s() - t0);
	if (!rc && left < 0.05)
		rc = -ETIME;
	if (!rc)
		rc = write_start(m, start, x0);
	if (!rc)
		rc = spawn_cbc(o->cbc_path, mps, start, sol, log, left, o->grace_s);
	if (!rc) {
		double b = parse_log_bound(log, optimal);
		if (isfinite(b) && !(b < *bound_ip))
			*bound_ip = b;
		rc = parse_solution(m, sol, x);
	}
	rm_tree(dir);
	return rc;
}

/* ---- assignment to agents ----------------------------------------------- */

struct agent_state {
	unsigned paid, min_i, max_i;
	unsigned avail_total; /* intervals the agent is available in */
	unsigned *shift_idx; /* indices into the shifts array, not sorted */
	unsigned n, cap;
};

static int agent_free_for(const struct model *m, const struct wfm_sched_agent *ag,
			  const struct agent_state *as,
			  const struct wfm_sched_shift *shifts,
			  const struct pat *s, unsigned rest)
{
	const struct wfm_sched_template *tp = &m->p->templates[s->tmpl];
	if (as->paid + s->paid > as->max_i || !agent_has_skill(ag, tp->skill))
		return 0;
	if (ag->available)
		for (unsigned t = s->start; t < s->start + s->len; t++)
			if (!ag->available[t])
				return 0;
	unsigned ipd = m->p->intervals_per_day;
	for (unsigned k = 0; k < as->n; k++) {
		const struct wfm_sched_shift *o = &shifts[as->shift_idx[k]];
		if (o->start / ipd == s->day)
			return 0;
		if (s->start < o->start + o->length + rest &&
		    o->start < s->start + s->len + rest)
			return 0;
	}
	return 1;
}

static int agent_take(struct agent_state *as, unsigned idx)
{
	if (as->n == as->cap) {
		unsigned nc = as->cap ? 2 * as->cap : 8;
		unsigned *p = realloc(as->shift_idx, nc * sizeof(unsigned));
		if (!p)
			return -ENOMEM;
		as->shift_idx = p;
		as->cap = nc;
	}
	as->shift_idx[as->n++] = idx;
	return 0;
}

static void shift_from(struct wfm_sched_shift *sh, const struct pat *s,
		       unsigned pi_tmpl, unsigned agent)
{
	memset(sh, 0, sizeof(*sh));
	sh->agent = agent;
	sh->template_idx = pi_tmpl;
	sh->start = s->start;
	sh->length = s->len;
	sh->n_breaks = s->nb;
	for (unsigned b = 0; b < s->nb; b++)
		sh->break_start[b] = s->bs[b];
	sh->paid = s->paid;
}

/* The agent to give pattern s: free for it; the least available agents
 * first (keeping the flexible ones for shifts only they can work), then
 * agents below their minimum (most missing first), then the most room
 * under the maximum. */
static unsigned pick_agent(const struct model *m, const struct wfm_sched_opts *o,
			   const struct agent_state *st,
			   const struct wfm_sched_shift *shifts, const struct pat *s)
{
	unsigned best = UINT_MAX;
	double bkey = -INFINITY;
	for (unsigned a = 0; a < m->p->n_agents; a++) {
		if (!agent_free_for(m, &m->p->agents[a], &st[a], shifts, s, o->min_rest))
			continue;
		double need = (double)st[a].min_i - st[a].paid;
		double key = -1e9 * (double)st[a].avail_total +
			     (need > 0 ? 1e6 + need : 0) + (double)(st[a].max_i - st[a].paid);
		if (key > bkey) {
			bkey = key;
			best = a;
		}
	}
	return best;
}

/* What one more agent on s is worth against coverage cov. */
static double shift_value(const struct model *m, const struct pat *s,
			  const unsigned *cov)
{
	double v = -s->pay;
	for (unsigned t = s->start; t < s->start + s->len; t++)
		if (pat_works(s, t))
			v += cov[t] < m->req[t] ? m->pen : -m->oc;
	return v;
}

/* Appends pattern s worked by agent a; updates the agent and coverage. */
static int push_shift(const struct model *m, struct wfm_sched_shift **tmp,
		      size_t *n, size_t *cap, const struct pat *s, unsigned a,
		      struct agent_state *st, unsigned *cov)
{
	(void)m;
	if (*n == *cap) {
		size_t nc = 2 * *cap;
		struct wfm_sched_shift *np = realloc(*tmp, nc * sizeof(*np));
		if (!np)
			return -ENOMEM;
		*tmp = np;
		*cap = nc;
	}
	int rc = agent_take(&st[a], (unsigned)*n);
	if (rc)
		return rc;
	shift_from(&(*tmp)[*n], s, s->tmpl, a);
	st[a].paid += s->paid;
	for (unsigned t = s->start; t < s->start + s->len; t++)
		cov[t] += (unsigned)pat_works(s, t);
	(*n)++;
	return 0;
}

static int cmp_start(const void *a, const void *b)
{
	const struct pat *x = *(const struct pat *const *)a, *y = *(const struct pat *const *)b;
	/* day by day; within a day the shifts fewest agents can work first */
	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	if (x->elig != y->elig)
		return x->elig < y->elig ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->len > y->len ? -1 : x->len < y->len;
}

/* Greedy assignment and top-up; fills out->shifts, coverage, hours. */
static int assign(const struct model *m, const struct wfm_sched_opts *o,
		  const unsigned *x, struct wfm_sched_result *out)
{
	const struct wfm_sched_problem *p = m->p;
	size_t total = 0;
	for (unsigned i = 0; i < m->np; i++)
		total += x[i];
	const struct pat **list = malloc((total + 1) * sizeof(*list));
	struct agent_state *st = calloc(p->n_agents + 1, sizeof(*st));
	struct wfm_sched_shift *tmp = NULL;
	size_t cap = total + 16, n = 0, nun = 0;
	int rc = -ENOMEM;
	tmp = malloc(cap * sizeof(*tmp));
	struct wfm_sched_shift *un = malloc((total + 1) * sizeof(*un));
	if (!list || !st || !tmp || !un)
		goto out;
	size_t k = 0;
	for (unsigned i = 0; i < m->np; i++)
		for (unsigned c = 0; c < x[i]; c++)
			list[k++] = &m->pats[i];
	qsort(list, total, sizeof(*list), cmp_start);
	double per_h = 3600.0 / p->interval_s;
	for (unsigned a = 0; a < p->n_agents; a++) {
		st[a].min_i = (unsigned)ceil(p->agents[a].min_hours * per_h - 1e-9);
		st[a].max_i = (unsigned)floor(p->agents[a].max_hours * per_h + 1e-9);
		st[a].avail_total = m->avail_prefix[(size_t)a * (m->n + 1) + m->n];
	}
	for (size_t j = 0; j < total; j++) {
		const struct pat *s = list[j];
		unsigned best = pick_agent(m, o, st, tmp, s);
		if (best == UINT_MAX) {
			shift_from(&un[nun++], s, s->tmpl, UINT_MAX);
			continue;
		}
		shift_from(&tmp[n], s, s->tmpl, best);
		if ((rc = agent_take(&st[best], (unsigned)n)))
			goto out;
		st[best].paid += s->paid;
		n++;
	}

	/* coverage of what is assigned */
	unsigned *cov = calloc(m->n, sizeof(unsigned));
	if (!cov) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t j = 0; j < n; j++) {
		struct pat s;
		memset(&s, 0, sizeof(s));
		s.start = tmp[j].start;
		s.len = tmp[j].length;
		s.nb = tmp[j].n_breaks;
		for (unsigned b = 0; b < s.nb; b++) {
			s.bs[b] = tmp[j].break_start[b];
			s.bl[b] = p->templates[tmp[j].template_idx].breaks[b].len;
		}
		for (unsigned t = s.start; t < s.start + s.len; t++)
			cov[t] += (unsigned)pat_works(&s, t);
	}

	/* top-up: agents below their minimum get the most useful shift they
	 * can work (most missing intervals covered, then least surplus) */
	for (unsigned a = 0; a < p->n_agents; a++) {
		while (st[a].paid < st[a].min_i) {
			unsigned bi = UINT_MAX;
			double bv = -INFINITY;
			for (unsigned i = 0; i < m->np; i++) {
				const struct pat *s = &m->pats[i];
				double v = shift_value(m, s, cov);
				if (v > bv &&
				    agent_free_for(m, &p->agents[a], &st[a], tmp, s, o->min_rest)) {
					bv = v;
					bi = i;
				}
			}
			if (bi == UINT_MAX)
				break;
			if ((rc = push_shift(m, &tmp, &n, &cap, &m->pats[bi], a, st, cov))) {
				free(cov);
				goto out;
			}
		}
	}

	/* gap filling: while some agent can work a pattern whose missing
	 * agent-intervals are worth more than it costs, add the most valuable
	 * (this is what stands in for shifts nobody could take) */
	for (;;) {
		unsigned bi = UINT_MAX, ba = UINT_MAX;
		double bv = 0;
		for (unsigned i = 0; i < m->np; i++) {
			const struct pat *s = &m->pats[i];
			if (!s->elig)
				continue;
			double v = shift_value(m, s, cov);
			if (v <= bv)
				continue;
			unsigned a = pick_agent(m, o, st, tmp, s);
			if (a == UINT_MAX)
				continue;
			bv = v;
			bi = i;
			ba = a;
		}
		if (bi == UINT_MAX)
			break;
		if ((rc = push_shift(m, &tmp, &n, &cap, &m->pats[bi], ba, st, cov))) {
			free(cov);
			goto out;
		}
	}

	out->agent_hours = calloc(p->n_agents + 1, sizeof(double));
	out->shifts = malloc((n + nun + 1) * sizeof(*out->shifts));
	if (!out->agent_hours || !out->shifts) {
		free(cov);
		rc = -ENOMEM;
		goto out;
	}
	memcpy(out->shifts, tmp, n * sizeof(*tmp));
	memcpy(out->shifts + n, un, nun * sizeof(*un));
	out->n_shifts = n + nun;
	out->n_unassigned = nun;
	out->paid_hours = 0;
	for (unsigned a = 0; a < p->n_agents; a++) {
		out->agent_hours[a] = st[a].paid / per_h;
		out->paid_hours += out->agent_hours[a];
		if (st[a].paid < st[a].min_i)
			out->agents_below_min++;
	}
	out->coverage = cov;
	out->n_intervals = m->n;
	out->under = out->over = 0;
	out->short_intervals = 0;
	for (unsigned t = 0; t < m->n; t++) {
		double d = p->required[t] - cov[t];
		if (d > 0) {
			out->under += d;
			out->short_intervals++;
		} else {
			out->over -= d;
		}
	}
	rc = 0;
out:
	if (st)
		for (unsigned a = 0; a < p->n_agents; a++)
			free(st[a].shift_idx);
	free(st);
	free(list);
	free(tmp);
	free(un);
	return rc;
}

/* ---- the entry point ---------------------------------------------------- */

int wfm_schedule(const struct wfm_sched_problem *p,
		 const struct wfm_sched_opts *o, struct wfm_sched_result *out)
{
	struct wfm_sched_opts defaults;
	struct model m;
	unsigned *x = NULL, *xc = NULL, *cov = NULL;
	int rc;
	double t0 = now_s();

	if (!o) {
		wfm_sched_opts_init(&defaults);
		o = &defaults;
	}
	if (!out || (rc = validate(p, o)) != 0)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if ((rc = model_build(&m, p, o)) != 0)
		goto fail;
	x = calloc(m.np, sizeof(unsigned));
	xc = calloc(m.np, sizeof(unsigned));
	cov = calloc(m.n, sizeof(unsigned));
	if (!x || !xc || !cov) {
		rc = -ENOMEM;
		goto fail;
	}
	double fobj = 0, lb_ip = 0;
	if ((rc = fallback(&m, x, &fobj, &lb_ip)) != 0)
		goto fail;
	out->n_patterns = m.np;
	out->fallback_objective = fobj;
	out->lp_bound = lb_ip - m.const_ip > 0 ? lb_ip - m.const_ip : 0;
	out->method = WFM_SCHED_FALLBACK;
	out->objective = fobj;
	double bound = out->lp_bound;

	out->cbc_status = -ENOENT;
	if (o->cbc_path && *o->cbc_path) {
		int optimal = 0;
		double cb = NAN;
		out->cbc_status = run_cbc(&m, o, x, &out->objective, xc, &optimal, &cb);
		fobj = out->objective; /* the LP rounding may have improved it */
		if (isfinite(cb) && cb - m.const_ip > bound)
			bound = cb - m.const_ip;
		if (out->cbc_status == 0) {
			double cobj = evaluate(&m, xc, cov);
			if (cobj <= fobj + 1e-9) {
				memcpy(x, xc, m.np * sizeof(unsigned));
				out->objective = cobj;
				out->method = optimal ? WFM_SCHED_CBC_OPTIMAL
						      : WFM_SCHED_CBC_FEASIBLE;
			}
		}
	}
	if (bound > out->objective)
		bound = out->objective; /* tolerances: never a negative gap */
	out->bound = bound;
	out->gap = out->objective > 0 ? (out->objective - bound) / out->objective : 0;

	if ((rc = assign(&m, o, x, out)) != 0)
		goto fail;
	out->solve_s = now_s() - t0;
	free(x);
	free(xc);
	free(cov);
	model_free(&m);
	return 0;
fail:
	free(x);
	free(xc);
	free(cov);
	model_free(&m);
	wfm_sched_result_free(out);
	return rc;
}
