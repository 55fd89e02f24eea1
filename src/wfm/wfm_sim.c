/*
 * wfm_sim.c: the what-if simulator. A discrete-event simulation of a
 * contact-center day that drives the real ACD engine (src/routing, through
 * routing.h only), so that what it predicts is what the server's routing
 * would do, skills, priorities and strategies included.
 *
 * Per replication: one routing engine; queues and agent groups from the
 * scenario; Poisson arrivals with a piecewise-constant rate per interval
 * (exact: an exponential gap that crosses an interval boundary is redrawn
 * from the boundary with the next rate, which the memoryless property
 * allows); every offer accepted at once or after a fixed delay; handle
 * times exponential or fixed; an exponential patience per caller, whose
 * expiry cancels a still-waiting task as ABANDONED; routing_tick at the
 * engine's due times; staffing changed at interval boundaries. Decisions
 * come back through the engine's callback, which only records them; they
 * are acted upon after the engine call returns (the callback must not
 * re-enter the engine).
 *
 * Statistics are kept per queue and arrival interval and per replication;
 * the report gives the mean over replications and a Student-t confidence
 * interval. The random numbers are xoshiro256** seeded by splitmix64 from
 * (seed, replication): deterministic on every platform, independent of
 * rand() and of the clock. Pure apart from malloc.
 */
#include "wfm/wfm.h"
#include "wfm/wfm_int.h"
#include "routing/routing.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- random numbers ------------------------------------------------------ */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *g, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
	for (int i = 0; i < 4; i++)
		g->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *g)
{
	uint64_t *s = g->s;
	uint64_t r = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

/* Uniform in [0, 1). */
static double rng_unif(struct rng *g)
{
	return (double)(rng_next(g) >> 11) * 0x1.0p-53;
}

/* Exponential with the given mean. */
static double rng_exp(struct rng *g, double mean)
{
	return -mean * log1p(-rng_unif(g));
}

/* ---- quantiles for the confidence intervals ------------------------------ */

/* Standard normal quantile (P. J. Acklam's rational approximation, relative
 * error below 1.2e-9), for 0 < p < 1. */
static double norm_quantile(double p)
{
	static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
				   -2.759285104469687e+02, 1.383577518672690e+02,
				   -3.066479806614716e+01, 2.506628277459239e+00};
	static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
				   -1.556989798598866e+02, 6.680131188771972e+01,
				   -1.328068155288572e+01};
	static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
				   -2.400758277161838e+00, -2.549732539343734e+00,
				   4.374664141464968e+00, 2.938163982698783e+00};
	static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
				   2.445134137142996e+00, 3.754408661907416e+00};
	double q, r;
	if (p < 0.02425) {
		q = sqrt(-2 * log(p));
		return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
		       ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	}
	if (p > 1 - 0.02425) {
		q = sqrt(-2 * log1p(-p));
		return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
		       ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	}
	q = p - 0.5;
	r = q * q;
	return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
	       (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

double wfm_t_quantile(double p, double nu)
{
	if (!(p > 0.0 && p < 1.0) || !(nu >= 1.0))
		return NAN;
	if (nu == 1.0)
		return tan(M_PI * (p - 0.5));
	if (nu == 2.0)
		return (2 * p - 1) / sqrt(2 * p * (1 - p));
	/* Cornish-Fisher expansion (Abramowitz & Stegun 26.7.5): within 4e-3
	 * of the exact quantile at 3 degrees of freedom, 1e-3 from 5, for p
	 * from 0.95 to 0.995; plenty for a confidence half-width. */
	double z = norm_quantile(p), z2 = z * z;
	double g1 = (z2 + 1) * z / 4;
	double g2 = ((5 * z2 + 16) * z2 + 3) * z / 96;
	double g3 = (((3 * z2 + 19) * z2 + 17) * z2 - 15) * z / 384;
	double g4 = ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) * z /
		    92160;
	return z + (g1 + (g2 + (g3 + g4 / nu) / nu) / nu) / nu;
}

/* ---- running statistics over replications -------------------------------- */

struct acc {
	double mean, m2;
	unsigned n;
};

static void acc_add(struct acc *a, double x)
{
	a->n++;
	double d = x - a->mean;
	a->mean += d / a->n;
	a->m2 += d * (x - a->mean);
}

static struct wfm_sim_stat acc_stat(const struct acc *a, double conf)
{
	struct wfm_sim_stat s = {NAN, NAN, a->n};
	if (a->n == 0)
		return s;
	s.mean = a->mean;
	if (a->n >= 2) {
		double sd = sqrt(a->m2 / (a->n - 1));
		s.half_width = wfm_t_quantile(0.5 + conf / 2, a->n - 1) * sd /
			       sqrt((double)a->n);
	}
	return s;
}

/* ---- one replication ----------------------------------------------------- */

enum ev_type { EV_ARRIVAL, EV_ABANDON, EV_ACCEPT, EV_END, EV_STAFF };

struct ev {
	int64_t t;
	uint64_t seq;
	uint64_t offer;
	uint32_t a;
	uint32_t version;
	uint8_t type;
};

enum { T_WAITING, T_ANSWERED, T_ABANDONED, T_DONE };

struct task {
	int64_t arrival, offer_at, handle_ms, patience_ms;
	uint64_t rid;
	uint32_t q;
	int32_t iv; /* arrival interval, -1 during warm-up */
	uint8_t state;
};

/* A decision, copied out of the callback. */
struct dec {
	enum routing_decision_type type;
	enum routing_task_state task_state;
	uint64_t offer;
	uint32_t version;
	uint32_t task; /* index into tasks */
};

/* Per replication counts: queue x (interval + whole day). */
struct cnt {
	double offered, answered, in_sl, abandoned, wait_ms;
};

struct sim {
	const struct wfm_sim_scenario *sc;
	struct routing *r;
	struct rng g;
	int64_t warm_ms, iv_ms, end_ms, stop_ms; /* horizon end, drain end */
	struct ev *heap;
	size_t nheap, capheap;
	uint64_t seq;
	struct task *tasks;
	size_t ntasks, captasks;
	struct dec *decs;
	size_t ndecs, headdecs, capdecs;
	int oom;
	int64_t accept_delay_ms;
	double *next_arrival;   /* per queue, seconds since the start */
	unsigned *cur_staff;    /* per group: agents now logged in */
	unsigned *max_staff;    /* per group */
	struct cnt *cnt;        /* per queue x (n_intervals + 1) */
	double *busy_ms;        /* per interval + whole day */
	uint64_t calls;         /* engine calls */
};

static int heap_less(const struct ev *x, const struct ev *y)
{
	return x->t < y->t || (x->t == y->t && x->seq < y->seq);
}

static int ev_push(struct sim *s, struct ev e)
{
	if (s->nheap == s->capheap) {
		size_t nc = s->capheap ? 2 * s->capheap : 256;
		struct ev *nh = realloc(s->heap, nc * sizeof(*nh));
		if (!nh)
			return -ENOMEM;
		s->heap = nh;
		s->capheap = nc;
	}
	e.seq = s->seq++;
	size_t i = s->nheap++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!heap_less(&e, &s->heap[p]))
			break;
		s->heap[i] = s->heap[p];
		i = p;
	}
	s->heap[i] = e;
	return 0;
}

static struct ev ev_pop(struct sim *s)
{
	struct ev top = s->heap[0];
	struct ev last = s->heap[--s->nheap];
	size_t i = 0, n = s->nheap;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && heap_less(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!heap_less(&s->heap[c], &last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (n)
		s->heap[i] = last;
	return top;
}

static void on_decision(void *arg, const struct routing_decision *d)
{
	struct sim *s = arg;
	if (d->type != ROUTING_D_OFFER && d->type != ROUTING_D_ACCEPT &&
	    d->type != ROUTING_D_TASK_END)
		return;
	if (s->ndecs == s->capdecs) {
		size_t nc = s->capdecs ? 2 * s->capdecs : 64;
		struct dec *nd = realloc(s->decs, nc * sizeof(*nd));
		if (!nd) {
			s->oom = 1;
			return;
		}
		s->decs = nd;
		s->capdecs = nc;
	}
	struct dec *x = &s->decs[s->ndecs++];
	x->type = d->type;
	x->task_state = d->task_state;
	x->offer = d->offer;
	x->version = d->version;
	x->task = (uint32_t)(uintptr_t)d->user;
}

static int64_t to_ms(double sec)
{
	return (int64_t)llround(sec * 1000.0);
}

static struct cnt *cell(struct sim *s, uint32_t q, unsigned i)
{
	return &s->cnt[(size_t)q * (s->sc->n_intervals + 1) + i];
}

/* Interval of time t (ms), -1 before the horizon, n_intervals after. */
static int32_t interval_of(const struct sim *s, int64_t t)
{
	if (t < s->warm_ms)
		return -1;
	int64_t i = (t - s->warm_ms) / s->iv_ms;
	return i > s->sc->n_intervals ? (int32_t)s->sc->n_intervals : (int32_t)i;
}

/* Adds the busy span [a, b) to the intervals it overlaps. */
static void add_busy(struct sim *s, int64_t a, int64_t b)
{
	unsigned n = s->sc->n_intervals;
	if (a < s->warm_ms)
		a = s->warm_ms;
	if (b > s->end_ms)
		b = s->end_ms;
	while (a < b) {
		int32_t i = interval_of(s, a);
		int64_t e = s->warm_ms + (int64_t)(i + 1) * s->iv_ms;
		if (e > b)
			e = b;
		s->busy_ms[i] += (double)(e - a);
		s->busy_ms[n] += (double)(e - a);
		a = e;
	}
}

/* The next arrival of queue q after time t (seconds), INFINITY if none
 * before the end of the horizon. */
static double next_arrival(struct sim *s, uint32_t q, double t)
{
	const struct wfm_sim_scenario *sc = s->sc;
	const double *calls = sc->queues[q].calls;
	double warm = (double)s->warm_ms / 1000.0, iv = (double)s->iv_ms / 1000.0;
	double end = (double)s->end_ms / 1000.0;
	while (t < end) {
		double rate, seg_end;
		if (t < warm) {
			rate = calls[0] / iv;
			seg_end = warm;
		} else {
			double k = floor((t - warm) / iv);
			if (warm + (k + 1) * iv <= t)
				k += 1;
			if (k >= sc->n_intervals)
				break;
			rate = calls[(unsigned)k] / iv;
			seg_end = warm + (k + 1) * iv;
		}
		if (rate > 0.0) {
			double nt = t + rng_exp(&s->g, 1.0 / rate);
			if (nt < seg_end)
				return nt;
		}
		t = seg_end;
	}
	return INFINITY;
}

static int push_arrival(struct sim *s, uint32_t q, double after)
{
	double t = next_arrival(s, q, after);
	s->next_arrival[q] = t;
	if (!isfinite(t))
		return 0;
	struct ev e = {.t = to_ms(t), .type = EV_ARRIVAL, .a = q};
	return ev_push(s, e);
}

static uint32_t agent_id(unsigned g, unsigned k)
{
	return (uint32_t)g * WFM_SIM_MAX_AGENTS + k + 1;
}

/* Logs agents in or out so that each group has its staff for interval i. */
static int set_staff(struct sim *s, unsigned i, int64_t now)
{
	const struct wfm_sim_scenario *sc = s->sc;
	for (unsigned g = 0; g < sc->n_groups; g++) {
		unsigned want = sc->groups[g].agents[i];
		while (s->cur_staff[g] < want) {
			int rc = routing_agent_set_state(s->r, agent_id(g, s->cur_staff[g]),
							 ROUTING_AGENT_AVAILABLE, 0, now);
			s->calls++;
			if (rc)
				return rc;
			s->cur_staff[g]++;
		}
		while (s->cur_staff[g] > want) {
			s->cur_staff[g]--;
			int rc = routing_agent_set_state(s->r, agent_id(g, s->cur_staff[g]),
							 ROUTING_AGENT_OFFLINE, 0, now);
			s->calls++;
			if (rc)
				return rc;
		}
	}
	return 0;
}

static int accept_offer(struct sim *s, uint64_t offer, uint32_t version,
			int64_t now)
{
	s->calls++;
	int rc = routing_offer_accept(s->r, offer, version, now);
	return rc == -ESTALE ? 0 : rc; /* withdrawn: the caller hung up */
}

/* Acts on the decisions the last engine call reported (which may report
 * more). */
static int drain_decisions(struct sim *s, int64_t now)
{
	while (s->headdecs < s->ndecs) {
		struct dec d = s->decs[s->headdecs++];
		struct task *t = &s->tasks[d.task];
		int rc = 0;
		if (d.type == ROUTING_D_OFFER) {
			t->offer_at = now;
			if (s->accept_delay_ms == 0) {
				rc = accept_offer(s, d.offer, d.version, now);
			} else {
				struct ev e = {.t = now + s->accept_delay_ms,
					       .type = EV_ACCEPT, .a = d.task,
					       .offer = d.offer, .version = d.version};
				rc = ev_push(s, e);
			}
		} else if (d.type == ROUTING_D_ACCEPT) {
			const struct wfm_sim_queue *q = &s->sc->queues[t->q];
			t->state = T_ANSWERED;
			if (t->iv >= 0) {
				int64_t w = now - t->arrival;
				int in_sl = w <= to_ms(q->sl_s);
				struct cnt *c[2] = {cell(s, t->q, (unsigned)t->iv),
						    cell(s, t->q, s->sc->n_intervals)};
				for (int k = 0; k < 2; k++) {
					c[k]->answered += 1;
					c[k]->in_sl += in_sl;
					c[k]->wait_ms += (double)w;
				}
			}
			struct ev e = {.t = now + t->handle_ms, .type = EV_END, .a = d.task};
			rc = ev_push(s, e);
		} else if (d.type == ROUTING_D_TASK_END &&
			   d.task_state == ROUTING_TASK_DONE) {
			t->state = T_DONE;
			add_busy(s, t->offer_at, now);
		}
		if (rc)
			return rc;
	}
	s->headdecs = s->ndecs = 0;
	return s->oom ? -ENOMEM : 0;
}

static int on_arrival(struct sim *s, uint32_t qi, int64_t now)
{
	const struct wfm_sim_queue *q = &s->sc->queues[qi];
	if (s->ntasks == s->captasks) {
		size_t nc = s->captasks ? 2 * s->captasks : 1024;
		if (nc > UINT32_MAX)
			return -ENOMEM;
		struct task *nt = realloc(s->tasks, nc * sizeof(*nt));
		if (!nt)
			return -ENOMEM;
		s->tasks = nt;
		s->captasks = nc;
	}
	uint32_t ti = (uint32_t)s->ntasks++;
	struct task *t = &s->tasks[ti];
	memset(t, 0, sizeof(*t));
	t->arrival = now;
	t->q = qi;
	t->iv = interval_of(s, now);
	t->state = T_WAITING;
	t->handle_ms = q->handle_dist == WFM_SIM_FIXED ? to_ms(q->aht_s)
						       : to_ms(rng_exp(&s->g, q->aht_s));
	t->patience_ms = isfinite(q->patience_s) ? to_ms(rng_exp(&s->g, q->patience_s))
						 : -1;
	if (t->iv >= 0) {
		cell(s, qi, (unsigned)t->iv)->offered += 1;
		cell(s, qi, s->sc->n_intervals)->offered += 1;
	}
	if (t->patience_ms >= 0) {
		struct ev e = {.t = now + t->patience_ms, .type = EV_ABANDON, .a = ti};
		int rc = ev_push(s, e);
		if (rc)
			return rc;
	}
	struct routing_task_spec ts;
	routing_task_spec_init(&ts);
	ts.queue = q->id;
	ts.priority = q->priority;
	ts.user = (void *)(uintptr_t)ti;
	s->calls++;
	int rc = routing_task_add(s->r, &ts, now, &s->tasks[ti].rid);
	if (rc)
		return rc;
	rc = drain_decisions(s, now);
	if (rc)
		return rc;
	return push_arrival(s, qi, s->next_arrival[qi]);
}

static int on_abandon(struct sim *s, uint32_t ti, int64_t now)
{
	struct task *t = &s->tasks[ti];
	if (t->state != T_WAITING)
		return 0;
	s->calls++;
	int rc = routing_task_cancel(s->r, t->rid, ROUTING_TASK_ABANDONED, now);
	if (rc)
		return rc;
	t->state = T_ABANDONED;
	if (t->iv >= 0) {
		struct cnt *c[2] = {cell(s, t->q, (unsigned)t->iv),
				    cell(s, t->q, s->sc->n_intervals)};
		for (int k = 0; k < 2; k++) {
			c[k]->abandoned += 1;
			c[k]->wait_ms += (double)(now - t->arrival);
		}
	}
	return drain_decisions(s, now);
}

static void to_routing_skills(const struct wfm_sim_skill *in, unsigned n,
			      struct routing_skill *out)
{
	for (unsigned i = 0; i < n; i++) {
		out[i].id = (uint16_t)in[i].id;
		out[i].level = (uint8_t)in[i].level;
	}
}

static int setup(struct sim *s)
{
	const struct wfm_sim_scenario *sc = s->sc;
	struct routing_opts ro;
	routing_opts_init(&ro);
	ro.decide = on_decision;
	ro.decide_arg = s;
	ro.max_misses = 0;
	int rc = routing_alloc(&s->r, &ro);
	if (rc)
		return rc;
	for (unsigned i = 0; i < sc->n_queues; i++) {
		const struct wfm_sim_queue *q = &sc->queues[i];
		struct routing_skill sk[WFM_SIM_MAX_SKILLS];
		struct routing_queue_spec qs;
		routing_queue_spec_init(&qs);
		to_routing_skills(q->skills, q->n_skills, sk);
		qs.strategy = (enum routing_strategy)q->strategy;
		qs.sl_target_ms = to_ms(q->sl_s) > 0 ? to_ms(q->sl_s) : 1;
		/* offers never time out in the simulation: agents answer */
		qs.offer_timeout_ms = s->accept_delay_ms + 3600 * 1000;
		qs.wrap_ms = to_ms(q->wrap_s);
		qs.aht_ms = to_ms(q->aht_s) > 0 ? to_ms(q->aht_s) : 1;
		qs.skills = sk;
		qs.n_skills = q->n_skills;
		rc = routing_queue_set(s->r, q->id, &qs, 0);
		if (rc)
			return rc;
	}
	for (unsigned g = 0; g < sc->n_groups; g++) {
		const struct wfm_sim_group *gr = &sc->groups[g];
		struct routing_skill sk[WFM_SIM_MAX_SKILLS];
		struct routing_agent_spec as;
		routing_agent_spec_init(&as);
		to_routing_skills(gr->skills, gr->n_skills, sk);
		as.skills = sk;
		as.n_skills = gr->n_skills;
		as.queues = gr->queues;
		as.n_queues = gr->n_queues;
		for (unsigned k = 0; k < s->max_staff[g]; k++) {
			rc = routing_agent_set(s->r, agent_id(g, k), &as, 0);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* One replication into s->cnt and s->busy_ms (zeroed by the caller). */
static int run_one(struct sim *s)
{
	const struct wfm_sim_scenario *sc = s->sc;
	int rc = setup(s);
	if (rc)
		return rc;
	rc = set_staff(s, 0, 0);
	if (!rc)
		rc = drain_decisions(s, 0);
	for (unsigned i = 1; i < sc->n_intervals && !rc; i++) {
		struct ev e = {.t = s->warm_ms + (int64_t)i * s->iv_ms,
			       .type = EV_STAFF, .a = i};
		rc = ev_push(s, e);
	}
	for (uint32_t q = 0; q < sc->n_queues && !rc; q++)
		rc = push_arrival(s, q, 0.0);
	int64_t due = routing_next_due(s->r);
	int64_t now = 0;
	while (!rc) {
		int have_ev = s->nheap > 0;
		if (!have_ev && due == ROUTING_NEVER)
			break;
		if (due != ROUTING_NEVER && (!have_ev || due <= s->heap[0].t)) {
			now = due;
			if (now > s->stop_ms)
				break;
			s->calls++;
			routing_tick(s->r, now);
			rc = drain_decisions(s, now);
		} else {
			struct ev e = ev_pop(s);
			now = e.t;
			if (now > s->stop_ms)
				break;
			switch (e.type) {
			case EV_ARRIVAL:
				rc = on_arrival(s, e.a, now);
				break;
			case EV_ABANDON:
				rc = on_abandon(s, e.a, now);
				break;
			case EV_ACCEPT:
				rc = accept_offer(s, e.offer, e.version, now);
				if (!rc)
					rc = drain_decisions(s, now);
				break;
			case EV_END:
				s->calls++;
				rc = routing_task_end(s->r, s->tasks[e.a].rid, now);
				if (!rc)
					rc = drain_decisions(s, now);
				break;
			case EV_STAFF:
				rc = set_staff(s, e.a, now);
				if (!rc)
					rc = drain_decisions(s, now);
				break;
			}
		}
		due = routing_next_due(s->r);
	}
	if (rc)
		return rc;
	/* Cut off: callers still waiting waited until stop; agents still busy
	 * were busy until then (only the horizon counts). */
	for (size_t i = 0; i < s->ntasks; i++) {
		struct task *t = &s->tasks[i];
		if (t->state == T_WAITING && t->iv >= 0) {
			double w = (double)(s->stop_ms - t->arrival);
			cell(s, t->q, (unsigned)t->iv)->wait_ms += w;
			cell(s, t->q, sc->n_intervals)->wait_ms += w;
		} else if (t->state == T_ANSWERED) {
			add_busy(s, t->offer_at, s->stop_ms);
		}
	}
	return 0;
}

void wfm_sim_scenario_init(struct wfm_sim_scenario *s)
{
	memset(s, 0, sizeof(*s));
	s->interval_s = 900.0;
	s->n_intervals = 1;
	s->replications = 10;
	s->seed = 1;
	s->drain_s = 4 * 3600.0;
	s->confidence = 0.95;
}

void wfm_sim_queue_init(struct wfm_sim_queue *q)
{
	memset(q, 0, sizeof(*q));
	q->aht_s = 300.0;
	q->handle_dist = WFM_SIM_EXPONENTIAL;
	q->patience_s = INFINITY;
	q->sl_s = 20.0;
}

static int bad(char *err, size_t errlen, const char *what, unsigned idx)
{
	if (err && errlen)
		snprintf(err, errlen, what, idx);
	return -EINVAL;
}

static int skills_ok(const struct wfm_sim_skill *sk, unsigned n)
{
	if (n > WFM_SIM_MAX_SKILLS)
		return 0;
	for (unsigned i = 0; i < n; i++) {
		if (sk[i].id > ROUTING_MAX_SKILL || sk[i].level < 1 || sk[i].level > 5)
			return 0;
		for (unsigned j = 0; j < i; j++)
			if (sk[j].id == sk[i].id)
				return 0;
	}
	return 1;
}

/* Time fields are bounded so that every time fits in int64 milliseconds
 * with room to spare: a simulated run is at most about 30 years. */
#define SIM_MAX_SECONDS 1e9

int wfm_sim_validate(const struct wfm_sim_scenario *s, char *err, size_t errlen)
{
	if (!s)
		return bad(err, errlen, "no scenario%.0u", 0);
	if (!(s->interval_s >= 1.0 && s->interval_s <= 86400.0))
		return bad(err, errlen, "interval_seconds: expected 1 to 86400%.0u", 0);
	if (s->n_intervals < 1 || s->n_intervals > WFM_SIM_MAX_INTERVALS)
		return bad(err, errlen, "intervals: expected 1 to %u", WFM_SIM_MAX_INTERVALS);
	if (s->replications < 1 || s->replications > WFM_SIM_MAX_REPLICATIONS)
		return bad(err, errlen, "replications: expected 1 to %u",
			   WFM_SIM_MAX_REPLICATIONS);
	if (!(s->warmup_s >= 0.0 && s->warmup_s <= SIM_MAX_SECONDS))
		return bad(err, errlen, "warmup_seconds: expected 0 to 1e9%.0u", 0);
	if (!(s->drain_s >= 0.0 && s->drain_s <= SIM_MAX_SECONDS))
		return bad(err, errlen, "drain_seconds: expected 0 to 1e9%.0u", 0);
	if (!(s->accept_delay_s >= 0.0 && s->accept_delay_s <= 86400.0))
		return bad(err, errlen, "accept_delay_seconds: expected 0 to 86400%.0u", 0);
	if (!(s->confidence > 0.0 && s->confidence < 1.0))
		return bad(err, errlen, "confidence: expected a fraction in (0, 1)%.0u", 0);
	if (s->n_queues < 1 || s->n_queues > WFM_SIM_MAX_QUEUES || !s->queues)
		return bad(err, errlen, "queues: expected 1 to %u", WFM_SIM_MAX_QUEUES);
	if (s->n_groups > WFM_SIM_MAX_GROUPS || (s->n_groups && !s->groups))
		return bad(err, errlen, "agents: expected 0 to %u groups",
			   WFM_SIM_MAX_GROUPS);
	for (unsigned i = 0; i < s->n_queues; i++) {
		const struct wfm_sim_queue *q = &s->queues[i];
		for (unsigned j = 0; j < i; j++)
			if (s->queues[j].id == q->id)
				return bad(err, errlen, "queues[%u].id: duplicate", i);
		if (!q->calls)
			return bad(err, errlen, "queues[%u].calls: missing", i);
		for (unsigned k = 0; k < s->n_intervals; k++)
			if (!(q->calls[k] >= 0.0 && q->calls[k] <= 1e6))
				return bad(err, errlen,
					   "queues[%u].calls: expected 0 to 1e6 per interval", i);
		if (!(q->aht_s > 0.0 && q->aht_s <= 86400.0))
			return bad(err, errlen, "queues[%u].aht_seconds: expected (0, 86400]", i);
		if ((unsigned)q->handle_dist > WFM_SIM_FIXED)
			return bad(err, errlen, "queues[%u].handle_time: unknown", i);
		if (!(q->patience_s > 0.0))
			return bad(err, errlen, "queues[%u].patience_seconds: expected > 0", i);
		if (isfinite(q->patience_s) && q->patience_s > SIM_MAX_SECONDS)
			return bad(err, errlen, "queues[%u].patience_seconds: too large", i);
		if (!(q->sl_s >= 0.0 && q->sl_s <= 86400.0))
			return bad(err, errlen, "queues[%u].sl_seconds: expected 0 to 86400", i);
		if (!(q->wrap_s >= 0.0 && q->wrap_s <= 86400.0))
			return bad(err, errlen, "queues[%u].wrap_seconds: expected 0 to 86400", i);
		if (q->priority < 0 || q->priority > 1000)
			return bad(err, errlen, "queues[%u].priority: expected 0 to 1000", i);
		if (q->strategy < 0 || q->strategy > ROUTING_RING_ALL)
			return bad(err, errlen, "queues[%u].strategy: unknown", i);
		if (!skills_ok(q->skills, q->n_skills))
			return bad(err, errlen,
				   "queues[%u].skills: at most 8, ids 0..4095 unique, levels 1..5", i);
	}
	for (unsigned g = 0; g < s->n_groups; g++) {
		const struct wfm_sim_group *gr = &s->groups[g];
		if (!gr->agents)
			return bad(err, errlen, "agents[%u].count: missing", g);
		for (unsigned k = 0; k < s->n_intervals; k++)
			if (gr->agents[k] > WFM_SIM_MAX_AGENTS)
				return bad(err, errlen, "agents[%u].count: at most 100000", g);
		if (gr->n_queues < 1 || gr->n_queues > WFM_SIM_MAX_QUEUES || !gr->queues)
			return bad(err, errlen, "agents[%u].queues: expected 1 to 256 ids", g);
		for (unsigned k = 0; k < gr->n_queues; k++) {
			unsigned j;
			for (j = 0; j < s->n_queues; j++)
				if (s->queues[j].id == gr->queues[k])
					break;
			if (j == s->n_queues)
				return bad(err, errlen, "agents[%u].queues: unknown queue id", g);
			for (j = 0; j < k; j++)
				if (gr->queues[j] == gr->queues[k])
					return bad(err, errlen, "agents[%u].queues: duplicate queue id", g);
		}
		if (!skills_ok(gr->skills, gr->n_skills))
			return bad(err, errlen,
				   "agents[%u].skills: at most 8, ids 0..4095 unique, levels 1..5", g);
	}
	return 0;
}

void wfm_sim_report_free(struct wfm_sim_report *r)
{
	if (!r)
		return;
	free(r->cells);
	free(r->occupancy);
	memset(r, 0, sizeof(*r));
}

static void sim_reset(struct sim *s)
{
	routing_free(s->r);
	s->r = NULL;
	s->nheap = 0;
	s->ntasks = 0;
	s->ndecs = s->headdecs = 0;
	s->oom = 0;
	s->seq = 0;
}

int wfm_simulate(const struct wfm_sim_scenario *sc, struct wfm_sim_report *out)
{
	if (!out)
		return -EINVAL;
	int rc = wfm_sim_validate(sc, NULL, 0);
	if (rc)
		return rc;
	unsigned nq = sc->n_queues, ni = sc->n_intervals, ng = sc->n_groups;
	size_t ncell = (size_t)nq * (ni + 1);
	struct sim s;
	memset(&s, 0, sizeof(s));
	s.sc = sc;
	s.warm_ms = to_ms(sc->warmup_s);
	s.iv_ms = to_ms(sc->interval_s);
	s.end_ms = s.warm_ms + (int64_t)ni * s.iv_ms;
	s.stop_ms = s.end_ms + to_ms(sc->drain_s);
	s.accept_delay_ms = to_ms(sc->accept_delay_s);
	/* acc layout per cell: offered, sl, wait, abandon, answered */
	struct acc *acc = calloc(ncell * 5 + ni + 1, sizeof(*acc));
	s.next_arrival = calloc(nq, sizeof(double));
	s.cur_staff = calloc(ng + 1, sizeof(unsigned));
	s.max_staff = calloc(ng + 1, sizeof(unsigned));
	s.cnt = calloc(ncell, sizeof(struct cnt));
	s.busy_ms = calloc(ni + 1, sizeof(double));
	double *staff_ms = calloc(ni + 1, sizeof(double));
	memset(out, 0, sizeof(*out));
	out->cells = calloc(ncell, sizeof(*out->cells));
	out->occupancy = calloc(ni + 1, sizeof(*out->occupancy));
	if (!acc || !s.next_arrival || !s.cur_staff || !s.max_staff || !s.cnt ||
	    !s.busy_ms || !staff_ms || !out->cells || !out->occupancy) {
		rc = -ENOMEM;
		goto done;
	}
	for (unsigned g = 0; g < ng; g++)
		for (unsigned i = 0; i < ni; i++) {
			unsigned a = sc->groups[g].agents[i];
			if (a > s.max_staff[g])
				s.max_staff[g] = a;
			staff_ms[i] += (double)a * (double)s.iv_ms;
			staff_ms[ni] += (double)a * (double)s.iv_ms;
		}
	struct acc *occ = acc + ncell * 5;
	for (unsigned rep = 0; rep < sc->replications; rep++) {
		rng_seed(&s.g, sc->seed, rep + 1);
		memset(s.cnt, 0, ncell * sizeof(struct cnt));
		memset(s.busy_ms, 0, (ni + 1) * sizeof(double));
		memset(s.cur_staff, 0, (ng + 1) * sizeof(unsigned));
		rc = run_one(&s);
		sim_reset(&s);
		if (rc)
			goto done;
		for (size_t c = 0; c < ncell; c++) {
			const struct cnt *k = &s.cnt[c];
			struct acc *a = &acc[c * 5];
			acc_add(&a[0], k->offered);
			acc_add(&a[4], k->answered);
			if (k->offered > 0) {
				acc_add(&a[1], k->in_sl / k->offered);
				acc_add(&a[2], k->wait_ms / 1000.0 / k->offered);
				acc_add(&a[3], k->abandoned / k->offered);
			}
		}
		for (unsigned i = 0; i <= ni; i++)
			if (staff_ms[i] > 0)
				acc_add(&occ[i], s.busy_ms[i] / staff_ms[i]);
	}
	out->n_queues = nq;
	out->n_intervals = ni;
	out->replications = sc->replications;
	out->confidence = sc->confidence;
	out->events = s.calls;
	for (size_t c = 0; c < ncell; c++) {
		struct acc *a = &acc[c * 5];
		out->cells[c].offered = acc_stat(&a[0], sc->confidence);
		out->cells[c].service_level = acc_stat(&a[1], sc->confidence);
		out->cells[c].mean_wait_s = acc_stat(&a[2], sc->confidence);
		out->cells[c].p_abandon = acc_stat(&a[3], sc->confidence);
		out->cells[c].answered = acc_stat(&a[4], sc->confidence);
	}
	for (unsigned i = 0; i <= ni; i++)
		out->occupancy[i] = acc_stat(&occ[i], sc->confidence);
done:
	if (rc)
		wfm_sim_report_free(out);
	sim_reset(&s);
	free(s.heap);
	free(s.tasks);
	free(s.decs);
	free(acc);
	free(s.next_arrival);
	free(s.cur_staff);
	free(s.max_staff);
	free(s.cnt);
	free(s.busy_ms);
	free(staff_ms);
	return rc;
}
