/*
 * routing.c: the ACD engine (see routing.h for the contract and
 * docs/ROUTING.md for the model).
 *
 * Two indexes make every decision O(log n) instead of a scan:
 *
 *  - Free agents: each queue keeps, per channel, a heap of the member agents
 *    that could take new work on that channel right now, ordered by the
 *    queue's strategy key (idle-since, load, skill score, last offer). A
 *    task looks at the heads of its queue (and of queues added by overflow
 *    steps), skipping agents that lack a skill, best-first.
 *
 *  - Waiting tasks: tasks with identical eligibility (queue, channel,
 *    priority, effective skill requirements, language, overflow stage) form
 *    a group, kept in arrival order (a sorted deque). Within one queue
 *    every group ages at the same rate (one priority point per
 *    service-level target), so
 *    effective priority order between group heads never changes with time:
 *    each queue keeps its non-empty groups in a heap keyed by
 *    arrival - priority * SL. A free agent looks at the best eligible group
 *    head of each of its queues and compares those few heads by effective
 *    priority at `now` (one arbitration across all its queues).
 *
 * The engine keeps the invariant "no waiting task has a free eligible agent"
 * after every public call: whatever frees an agent runs that agent's
 * arbitration; whatever makes a task wait again routes it.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routing/routing.h"
#include "routing/routing_int.h"

#define MAXR (2 * ROUTING_MAX_REQS) /* queue skills + task's own */
#define TK_TASK 1
#define TK_OFFER 2
#define NOW_UNSET INT64_MIN

#define LVL_IDS 128 /* skill ids with a direct level lookup in struct agent */

struct queue;
struct agent;
struct group;
struct task;

struct offer {
	uint32_t tpos; /* timer heap; first member (see tent_pos) */
	uint32_t version;
	uint64_t id;
	struct task *t;
	struct agent *a;
	int64_t expires;
	struct offer *tnext;         /* task's offers */
	struct offer *aprev, *anext; /* agent's offers */
};

struct task {
	uint32_t tpos; /* timer heap; first member (see tent_pos) */
	uint64_t id;
	struct queue *q;
	uint8_t chan, state, n_reqs, n_xreqs, stage, sticky;
	int16_t lang;
	int prio;
	struct routing_skill reqs[MAXR];              /* queue + own, sorted */
	struct routing_skill xreqs[ROUTING_MAX_REQS]; /* own, as given */
	int64_t arrival, enter, sticky_due, wrap_due, accepted_at;
	struct group *g;
	struct agent *a;             /* working agent or sticky target */
	struct task *sprev, *snext;  /* sticky list of a */
	struct offer *offers;
	unsigned n_offers;
	uint32_t version;
	uint64_t customer;
	void *user;
};

struct memb {
	struct agent *a;
	struct queue *q;
	uint32_t pos[ROUTING_CH_COUNT];
	int64_t skill_score; /* sum of levels on the queue's skills */
	struct memb *qprev, *qnext;
};

struct agent {
	uint32_t id;
	uint8_t base, reported;
	uint16_t reason;
	uint8_t cap[ROUTING_CH_COUNT], used[ROUTING_CH_COUNT],
		block[ROUTING_CH_COUNT];
	unsigned n_skills;
	struct routing_skill *skills; /* sorted by id */
	/* levels of skills 0..LVL_IDS-1, a nibble each (0: lacks it), so the
	 * eligibility test needs no search for the usual small skill ids */
	uint8_t lvl[LVL_IDS / 2];
	uint64_t langs;
	int64_t idle_since, busy_total, work_start;
	uint64_t last_offer_seq;
	unsigned misses, n_work, n_active, n_wrap;
	unsigned n_memb, m_cap, m_used;
	/* one block: m_cap pointers (the memberships in use), then m_cap
	 * struct memb slots handed out in order, so an agent's memberships sit
	 * together in memory (arbitration and reindexing walk all of them) */
	struct memb **m;
	struct offer *offers;
	struct task *sticky_head, *sticky_tail;
	uint32_t mark;
};

struct fref {
	struct group *g;
	struct queue *fq; /* NULL once fq is removed */
	struct fref *prev, *next;
	int linked;
};

struct group {
	/* what arbitration reads first: one cache line with the first
	 * requirements */
	struct queue *q;
	struct routing_fifo tasks; /* by (arrival, id) */
	uint32_t qpos;
	uint32_t mark;
	int prio;
	uint8_t chan, stage, n_reqs;
	int16_t lang;
	struct routing_skill reqs[MAXR];
	uint64_t hkey;
	struct group *hnext;
	unsigned n_fref;
	struct fref fref[ROUTING_MAX_STEPS];
};

struct queue {
	/* hot: arbitration, arrival and reindexing read these first */
	struct routing_heap aheap[ROUTING_CH_COUNT]; /* free members */
	struct routing_heap gheap[ROUTING_CH_COUNT]; /* non-empty own groups */
	struct fref *foreign[ROUTING_CH_COUNT];      /* others' groups */
	uint8_t chan_mask;
	/* bit c: gheap[c] or foreign[c] is not empty (see wait_update) */
	uint8_t wait_mask;
	uint32_t id;
	struct routing_queue_spec s;
	struct routing_skill skills[ROUTING_MAX_REQS];
	struct routing_step steps[ROUTING_MAX_STEPS];
	/* per stage (number of steps applied): cumulative effects */
	uint8_t lower[ROUTING_MAX_STEPS + 1], droplang[ROUTING_MAX_STEPS + 1],
		nxq[ROUTING_MAX_STEPS + 1];
	uint32_t xq[ROUTING_MAX_STEPS];
	struct memb *members, *members_tail;
	unsigned n_members;
	unsigned serving[ROUTING_CH_COUNT];
	unsigned waiting;
	int64_t aht;
	unsigned refs; /* tasks pointing here */
	int dead;
};

struct cust {
	uint64_t id;
	uint32_t agent;
	int64_t at;
	struct cust *prev, *next;
};

/* The timer heap: a 4-ary min-heap of (due, kind, seq), one entry per task
 * with a pending step, maximum wait, sticky hold or wrap-up end, and one per
 * offer. Kind and sequence are packed into one word (kind in the top bits),
 * so an entry is 24 bytes, and four children per node halve the depth of a
 * binary heap: removing an entry near the top (an accepted task's step
 * timer) touches half as many levels and owners. Pop order is the same total
 * order (due, kind, seq) as before. The owner's index lives in its first
 * member (task.tpos, offer.tpos). */
#define TK_SHIFT 62
struct tent {
	int64_t due;
	uint64_t tie; /* kind << TK_SHIFT | seq */
	void *obj;
};

struct theap {
	struct tent *v;
	uint32_t n, cap;
};

_Static_assert(offsetof(struct task, tpos) == 0, "tpos first");
_Static_assert(offsetof(struct offer, tpos) == 0, "tpos first");

static inline uint32_t *tent_pos(const struct tent *e)
{
	return (uint32_t *)e->obj;
}

static inline int tent_less(const struct tent *a, const struct tent *b)
{
	return a->due < b->due || (a->due == b->due && a->tie < b->tie);
}

static void th_sift_up(struct theap *h, uint32_t i)
{
	struct tent e = h->v[i];
	struct tent *v = h->v;
	while (i > 0) {
		uint32_t p = (i - 1) / 4;
		if (!tent_less(&e, &v[p]))
			break;
		v[i] = v[p];
		*tent_pos(&v[i]) = i;
		i = p;
	}
	v[i] = e;
	*tent_pos(&e) = i;
}

static void th_sift_down(struct theap *h, uint32_t i)
{
	struct tent e = h->v[i];
	struct tent *v = h->v;
	uint32_t n = h->n;
	for (;;) {
		uint32_t c = 4 * i + 1, end, j, b;
		if (c >= n)
			break;
		end = c + 4 < n ? c + 4 : n;
		b = c;
		for (j = c + 1; j < end; j++)
			if (tent_less(&v[j], &v[b]))
				b = j;
		if (!tent_less(&v[b], &e))
			break;
		v[i] = v[b];
		*tent_pos(&v[i]) = i;
		i = b;
	}
	v[i] = e;
	*tent_pos(&e) = i;
}

static void th_fix(struct theap *h, uint32_t pos)
{
	if (pos > 0 && tent_less(&h->v[pos], &h->v[(pos - 1) / 4]))
		th_sift_up(h, pos);
	else
		th_sift_down(h, pos);
}

static int th_push(struct routing_mem *m, struct theap *h, int64_t due,
		   uint64_t tie, void *obj)
{
	if (h->n == h->cap) {
		uint32_t nc = h->cap ? h->cap * 2 : 64;
		void *nv = routing_mem_realloc(m, h->v, h->cap * sizeof(*h->v),
					       nc * sizeof(*h->v));
		if (!nv)
			return -ENOMEM;
		h->v = nv;
		h->cap = nc;
	}
	h->v[h->n].due = due;
	h->v[h->n].tie = tie;
	h->v[h->n].obj = obj;
	h->n++;
	th_sift_up(h, h->n - 1);
	return 0;
}

static void th_remove(struct theap *h, uint32_t pos)
{
	*tent_pos(&h->v[pos]) = ROUTING_NOPOS;
	h->n--;
	if (pos == h->n)
		return;
	h->v[pos] = h->v[h->n];
	*tent_pos(&h->v[pos]) = pos;
	th_fix(h, pos);
}

struct routing {
	struct routing_opts o;
	struct routing_mem mem;
	struct routing_hash agents, queues, tasks, offers, groups, custs;
	struct theap timers;
	struct cust *chead, *ctail;
	int64_t now, max_sticky;
	uint64_t task_seq, offer_seq, rr_seq, timer_seq;
	uint32_t mark;
	struct routing_stats st;
	/* scratch list of agents freed during one call, routed at its end */
	struct agent **freed;
	unsigned n_freed, cap_freed;
	struct task **requeued;
	unsigned n_requeued, cap_requeued;
	/* free lists: the steady state reuses tasks and offers */
	struct routing_pool task_pool, offer_pool;
	/* A reindex of one agent deferred from task_done (see
	 * agent_reindex_defer), with the agent's key fields at that moment. */
	struct agent *pend;
	struct {
		int64_t idle_since, busy_total;
		uint64_t last_offer_seq;
		uint8_t used[ROUTING_CH_COUNT];
		unsigned rm;
	} ps;
};

static void task_finish(struct routing *r, struct task *t,
			enum routing_task_state st, enum routing_reason why,
			uint32_t arg);

static const int64_t def_timeout[ROUTING_CH_COUNT] = {15000, 30000, 30000,
						      30000};
static const int64_t def_aht[ROUTING_CH_COUNT] = {240000, 600000, 900000,
						  600000};

/* ------------------------------------------------------------------ */
/* small helpers                                                        */

static void set_now(struct routing *r, int64_t now)
{
	/* time never goes backwards inside the engine */
	if (r->now == NOW_UNSET || now > r->now)
		r->now = now;
}

static double eff_prio(const struct task *t, int64_t now)
{
	return (double)t->prio +
	       (double)(now - t->arrival) / (double)t->q->s.sl_target_ms;
}

static uint8_t occ_mask(const struct agent *a)
{
	uint8_t m = 0;
	int c;
	for (c = 0; c < ROUTING_CH_COUNT; c++)
		if (a->used[c])
			m |= (uint8_t)(1u << c);
	return m;
}

static int routable(const struct agent *a, int c)
{
	return a->base == ROUTING_AGENT_AVAILABLE && a->used[c] < a->cap[c] &&
	       !(a->block[c] & occ_mask(a));
}

/* Channels (bit c) on which a can take new work now: routable() for all c
 * at once. */
static inline unsigned routable_mask(const struct agent *a)
{
	unsigned occ;
	_Static_assert(ROUTING_CH_COUNT == 4, "four channels");
	if (a->base != ROUTING_AGENT_AVAILABLE)
		return 0;
	occ = (unsigned)(a->used[0] != 0) | (unsigned)(a->used[1] != 0) << 1 |
	      (unsigned)(a->used[2] != 0) << 2 | (unsigned)(a->used[3] != 0) << 3;
	return (unsigned)(a->used[0] < a->cap[0] && !(a->block[0] & occ)) |
	       (unsigned)(a->used[1] < a->cap[1] && !(a->block[1] & occ)) << 1 |
	       (unsigned)(a->used[2] < a->cap[2] && !(a->block[2] & occ)) << 2 |
	       (unsigned)(a->used[3] < a->cap[3] && !(a->block[3] & occ)) << 3;
}

/* The agent's level of skill id, 0 if it lacks it. */
static inline unsigned skill_level(const struct agent *a, unsigned id)
{
	unsigned lo = 0, hi = a->n_skills;
	if (id < LVL_IDS)
		return (a->lvl[id >> 1] >> ((id & 1) << 2)) & 15u;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (a->skills[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < a->n_skills && a->skills[lo].id == id ? a->skills[lo].level : 0;
}

static inline __attribute__((always_inline)) int
has_skills(const struct agent *a, const struct routing_skill *req, unsigned n,
	   int lang)
{
	unsigned i;
	if (lang >= 0 && !((a->langs >> lang) & 1))
		return 0;
	for (i = 0; i < n; i++)
		if (skill_level(a, req[i].id) < req[i].level)
			return 0;
	return 1;
}

static int64_t skill_score(const struct agent *a, const struct queue *q)
{
	int64_t s = 0;
	unsigned i, j;
	for (i = 0; i < q->s.n_skills; i++)
		for (j = 0; j < a->n_skills; j++)
			if (a->skills[j].id == q->skills[i].id)
				s += a->skills[j].level;
	return s;
}

static int64_t load_permille(const struct agent *a)
{
	int64_t l = 0;
	int c;
	for (c = 0; c < ROUTING_CH_COUNT; c++)
		if (a->cap[c])
			l += (int64_t)a->used[c] * 1000 / a->cap[c];
	return l;
}

/* The strategy key of agent a in queue q: smaller is better. */
static void agent_key(const struct agent *a, const struct queue *q,
		      int64_t score, int64_t *k1, int64_t *k2)
{
	switch (q->s.strategy) {
	case ROUTING_LEAST_OCCUPIED:
		*k1 = load_permille(a);
		*k2 = a->busy_total;
		break;
	case ROUTING_BEST_SKILL:
		*k1 = -score;
		*k2 = a->idle_since;
		break;
	case ROUTING_ROUND_ROBIN:
		*k1 = (int64_t)a->last_offer_seq;
		*k2 = 0;
		break;
	default:
		*k1 = a->idle_since;
		*k2 = 0;
		break;
	}
}

static void sort_skills(struct routing_skill *s, unsigned n)
{
	unsigned i, j;
	for (i = 1; i < n; i++) {
		struct routing_skill x = s[i];
		for (j = i; j > 0 && s[j - 1].id > x.id; j--)
			s[j] = s[j - 1];
		s[j] = x;
	}
}

/* Merge queue and task requirements; a skill in both keeps the higher
 * minimum. Result sorted by id. */
static unsigned merge_reqs(struct routing_skill *out,
			   const struct routing_skill *a, unsigned na,
			   const struct routing_skill *b, unsigned nb)
{
	unsigned n = 0, i, j;
	for (i = 0; i < na; i++)
		out[n++] = a[i];
	for (i = 0; i < nb; i++) {
		for (j = 0; j < n; j++)
			if (out[j].id == b[i].id)
				break;
		if (j < n) {
			if (b[i].level > out[j].level)
				out[j].level = b[i].level;
		} else {
			out[n++] = b[i];
		}
	}
	sort_skills(out, n);
	return n;
}

/* Effective requirements of t at its stage (levels lowered, min 1). */
static unsigned eff_reqs(const struct task *t, struct routing_skill *out,
			 int *lang)
{
	unsigned i, low = t->q->lower[t->stage];
	for (i = 0; i < t->n_reqs; i++) {
		out[i] = t->reqs[i];
		out[i].level = out[i].level > low + 1 ?
				       (uint8_t)(out[i].level - low) : 1;
	}
	*lang = t->q->droplang[t->stage] ? -1 : t->lang;
	return t->n_reqs;
}

static void emit(struct routing *r, struct routing_decision *d)
{
	r->st.decisions++;
	if (r->o.decide)
		r->o.decide(r->o.decide_arg, d);
}

static void dec_task(struct routing *r, struct routing_decision *d,
		     enum routing_decision_type type, enum routing_reason why,
		     const struct task *t)
{
	memset(d, 0, sizeof(*d));
	d->type = type;
	d->reason = why;
	d->now = r->now;
	d->task = t->id;
	d->queue = t->q->id;
	d->strategy = t->q->s.strategy;
	d->task_state = t->state;
	d->eff_priority = eff_prio(t, r->now);
	d->wait_ms = r->now - t->arrival;
	d->stage = t->stage;
	d->user = t->user;
}

static int push_list(struct routing *r, void ***v, unsigned *n, unsigned *cap,
		     void *x)
{
	if (*n == *cap) {
		unsigned nc = *cap ? *cap * 2 : 16;
		void *nv = routing_mem_realloc(&r->mem, *v, *cap * sizeof(void *),
					       nc * sizeof(void *));
		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = x;
	return 0;
}

static void note_freed(struct routing *r, struct agent *a)
{
	(void)push_list(r, (void ***)&r->freed, &r->n_freed, &r->cap_freed, a);
}

static void note_requeued(struct routing *r, struct task *t)
{
	(void)push_list(r, (void ***)&r->requeued, &r->n_requeued,
			&r->cap_requeued, t);
}

/* ------------------------------------------------------------------ */
/* timers                                                               */

static void timer_set(struct routing *r, uint32_t *pos, int kind, void *obj,
		      int64_t due)
{
	if (due == ROUTING_NEVER) {
		if (*pos != ROUTING_NOPOS)
			th_remove(&r->timers, *pos);
		return;
	}
	if (*pos != ROUTING_NOPOS) {
		if (r->timers.v[*pos].due != due) {
			r->timers.v[*pos].due = due;
			th_fix(&r->timers, *pos);
		}
		return;
	}
	/* a failed push only delays the timer to the next armed one; the
	 * index lands in *pos, the first member of obj */
	(void)th_push(&r->mem, &r->timers, due,
		      (uint64_t)kind << TK_SHIFT | ++r->timer_seq, obj);
}

static int64_t task_due(const struct task *t)
{
	const struct queue *q = t->q;
	int64_t due = ROUTING_NEVER;
	if (t->state == ROUTING_TASK_WRAPUP)
		return t->wrap_due;
	if (t->state != ROUTING_TASK_QUEUED && t->state != ROUTING_TASK_OFFERED)
		return ROUTING_NEVER;
	if (t->sticky)
		due = t->sticky_due;
	if (t->stage < q->s.n_steps &&
	    t->enter + q->steps[t->stage].after_ms < due)
		due = t->enter + q->steps[t->stage].after_ms;
	/* the maximum wait applies only while the task waits in its queue */
	if (t->state == ROUTING_TASK_QUEUED && !t->sticky &&
	    q->s.exit_action != ROUTING_EXIT_NONE && q->s.max_wait_ms > 0 &&
	    t->enter + q->s.max_wait_ms < due)
		due = t->enter + q->s.max_wait_ms;
	return due;
}

static void task_arm(struct routing *r, struct task *t)
{
	timer_set(r, &t->tpos, TK_TASK, t, task_due(t));
}

/* ------------------------------------------------------------------ */
/* agent index                                                          */

/* One entry of agent a in queue q's free heap on channel c: in the heap
 * with key (k1, k2) when `in`, out of it otherwise. */
static void reindex_one(struct routing *r, struct memb *m, int c, int in,
			int64_t k1, int64_t k2)
{
	struct routing_heap *h = &m->q->aheap[c];
	if (!in) {
		if (m->pos[c] != ROUTING_NOPOS)
			routing_heap_remove(h, m->pos[c]);
		return;
	}
	if (m->pos[c] == ROUTING_NOPOS)
		/* capacity reserved at membership time */
		(void)routing_heap_push(&r->mem, h, k1, k2, m->a->id, &m->pos[c],
					m);
	else if (h->v[m->pos[c]].k1 != k1 || h->v[m->pos[c]].k2 != k2)
		routing_heap_rekey(h, m->pos[c], k1, k2);
}

/* agent_key() from the fields saved by agent_reindex_defer. Kept as its own
 * copy: folding both into one helper measured ~25% fewer decisions/s in
 * bench/routing (the hot path lost its specialised code). */
static void pend_key(const struct routing *r, const struct agent *a,
		     const struct queue *q, int64_t score, int64_t *k1,
		     int64_t *k2)
{
	int64_t l = 0;
	int c;
	switch (q->s.strategy) {
	case ROUTING_LEAST_OCCUPIED:
		for (c = 0; c < ROUTING_CH_COUNT; c++)
			if (a->cap[c])
				l += (int64_t)r->ps.used[c] * 1000 / a->cap[c];
		*k1 = l;
		*k2 = r->ps.busy_total;
		break;
	case ROUTING_BEST_SKILL:
		*k1 = -score;
		*k2 = r->ps.idle_since;
		break;
	case ROUTING_ROUND_ROBIN:
		*k1 = (int64_t)r->ps.last_offer_seq;
		*k2 = 0;
		break;
	default:
		*k1 = r->ps.idle_since;
		*k2 = 0;
		break;
	}
}

/* Put a's free-heap entries in step with its state: in the heap of every
 * (queue, channel) it could take work on now, keyed by the queue's
 * strategy. `snap`: use the state saved by agent_reindex_defer. */
static void agent_reindex_from(struct routing *r, struct agent *a, int snap)
{
	unsigned i, rm = snap ? r->ps.rm : routable_mask(a);
	for (i = 0; i < a->n_memb; i++) {
		struct memb *m = a->m[i];
		struct queue *q = m->q;
		unsigned bits;
		int keyed = 0;
		int64_t k1 = 0, k2 = 0;
		for (bits = q->chan_mask; bits; bits &= bits - 1) {
			int c = __builtin_ctz(bits); /* channels in order */
			int in = (rm >> c) & 1;
			if (in && !keyed) {
				/* the key depends on agent and queue only */
				if (snap)
					pend_key(r, a, q, m->skill_score, &k1, &k2);
				else
					agent_key(a, q, m->skill_score, &k1, &k2);
				keyed = 1;
			}
			reindex_one(r, m, c, in, k1, k2);
		}
	}
}

/* Run a deferred reindex now. Called before anything else reads or
 * changes a free heap, so the heap operations happen in the same order
 * (and leave the same layout) as without deferral. */
static void pend_flush(struct routing *r)
{
	struct agent *a = r->pend;
	if (!a)
		return;
	r->pend = NULL;
	agent_reindex_from(r, a, 1);
}

/* The deferred reindex of a, then the reindex for a's current state, with
 * the same result as running both in turn. The common pair: a freed agent
 * (push into each free heap) gets an offer at once (remove from each). When
 * the push would have appended at the bottom without sifting, the remove
 * takes it straight back off the bottom and the heap is exactly as before:
 * both are skipped. Otherwise both run. Heaps of different (queue, channel)
 * pairs are independent, so the pairs are handled one heap at a time. */
static void agent_reindex_pend(struct routing *r, struct agent *a)
{
	unsigned i, rm1 = r->ps.rm, rm2 = routable_mask(a);
	r->pend = NULL;
	for (i = 0; i < a->n_memb; i++) {
		struct memb *m = a->m[i];
		struct queue *q = m->q;
		unsigned bits;
		int keyed1 = 0, keyed2 = 0;
		int64_t k1 = 0, k2 = 0, l1 = 0, l2 = 0;
		for (bits = q->chan_mask; bits; bits &= bits - 1) {
			int c = __builtin_ctz(bits);
			int in1 = (rm1 >> c) & 1, in2 = (rm2 >> c) & 1;
			if (in1 && !keyed1) {
				pend_key(r, a, q, m->skill_score, &k1, &k2);
				keyed1 = 1;
			}
			if (in1 && !in2 && m->pos[c] == ROUTING_NOPOS) {
				const struct routing_heap *h = &q->aheap[c];
				struct routing_hent e;
				e.k1 = k1;
				e.k2 = k2;
				e.tie = a->id;
				if (!h->n ||
				    !routing_hent_less(&e, &h->v[(h->n - 1) / 2]))
					continue; /* push then pop the bottom */
			}
			reindex_one(r, m, c, in1, k1, k2);
			if (in2 && !keyed2) {
				agent_key(a, q, m->skill_score, &l1, &l2);
				keyed2 = 1;
			}
			reindex_one(r, m, c, in2, l1, l2);
		}
	}
}

static void agent_reindex(struct routing *r, struct agent *a)
{
	if (r->pend == a) {
		agent_reindex_pend(r, a);
		return;
	}
	pend_flush(r);
	agent_reindex_from(r, a, 0);
}

/* agent_reindex(a), deferred to the next free-heap access (pend_flush) or
 * the next reindex of a (agent_reindex_pend). Only task_done defers: the
 * freed agent usually gets an offer at once. */
static void agent_reindex_defer(struct routing *r, struct agent *a)
{
	pend_flush(r);
	r->pend = a;
	r->ps.idle_since = a->idle_since;
	r->ps.busy_total = a->busy_total;
	r->ps.last_offer_seq = a->last_offer_seq;
	memcpy(r->ps.used, a->used, sizeof(r->ps.used));
	r->ps.rm = routable_mask(a);
}

static enum routing_agent_state agent_reported(const struct agent *a)
{
	if (a->n_work > a->n_wrap)
		return ROUTING_AGENT_BUSY;
	if (a->n_wrap)
		return ROUTING_AGENT_WRAPUP;
	return a->base;
}

static void agent_state_update(struct routing *r, struct agent *a,
			       enum routing_reason why)
{
	enum routing_agent_state s = agent_reported(a);
	struct routing_decision d;
	if (s == a->reported)
		return;
	a->reported = (uint8_t)s;
	memset(&d, 0, sizeof(d));
	d.type = ROUTING_D_AGENT_STATE;
	d.reason = why;
	d.now = r->now;
	d.agent = a->id;
	d.has_agent = 1;
	d.agent_state = s;
	d.away_reason = a->reason;
	emit(r, &d);
}

/* Make queue q index free agents on channel c (first task on c). */
static int ensure_chan(struct routing *r, struct queue *q, int c)
{
	pend_flush(r);
	struct memb *m;
	int err;
	if (q->chan_mask & (1u << c))
		return 0;
	err = routing_heap_reserve(&r->mem, &q->aheap[c], q->n_members);
	if (err)
		return err;
	q->chan_mask |= (uint8_t)(1u << c);
	for (m = q->members; m; m = m->qnext) {
		int64_t k1, k2;
		if (!routable(m->a, c))
			continue;
		agent_key(m->a, q, m->skill_score, &k1, &k2);
		(void)routing_heap_push(&r->mem, &q->aheap[c], k1, k2, m->a->id,
					&m->pos[c], m);
	}
	return 0;
}

static void agent_slot_take(struct routing *r, struct agent *a, int c)
{
	if (a->n_work++ == 0)
		a->work_start = r->now;
	a->used[c]++;
}

static void agent_slot_release(struct routing *r, struct agent *a, int c)
{
	a->used[c]--;
	if (--a->n_work == 0)
		a->busy_total += r->now - a->work_start;
}

/* ------------------------------------------------------------------ */
/* groups                                                               */

static uint64_t group_hash(const struct queue *q, int chan, int prio,
			   int stage, int lang, const struct routing_skill *s,
			   unsigned n)
{
	uint64_t h = 1469598103934665603ULL;
	unsigned i;
#define MIX(x) (h = (h ^ (uint64_t)(x)) * 1099511628211ULL)
	MIX((uintptr_t)q);
	MIX(chan);
	MIX(prio);
	MIX(stage);
	MIX(lang + 1);
	for (i = 0; i < n; i++)
		MIX(((uint64_t)s[i].id << 8) | s[i].level);
#undef MIX
	return h;
}

static void group_key(const struct group *g, int64_t *k1, int64_t *k2,
		      uint64_t *tie)
{
	/* the head's arrival and id, without touching the head task */
	const struct routing_fent *h = &g->tasks.v[g->tasks.head];
	*k1 = h->k - (int64_t)g->prio * g->q->s.sl_target_ms;
	*k2 = h->k;
	*tie = h->tie;
}

/* Keep q->wait_mask in step with gheap[c] and foreign[c]. */
static inline void wait_update(struct queue *q, int c)
{
	if (q->gheap[c].n || q->foreign[c])
		q->wait_mask |= (uint8_t)(1u << c);
	else
		q->wait_mask &= (uint8_t) ~(1u << c);
}

static void fref_link(struct fref *f, int c)
{
	struct queue *fq = f->fq;
	if (!fq || f->linked)
		return;
	f->prev = NULL;
	f->next = fq->foreign[c];
	if (f->next)
		f->next->prev = f;
	fq->foreign[c] = f;
	f->linked = 1;
	wait_update(fq, c);
}

static void fref_unlink(struct fref *f, int c)
{
	if (!f->linked)
		return;
	if (f->prev)
		f->prev->next = f->next;
	else
		f->fq->foreign[c] = f->next;
	if (f->next)
		f->next->prev = f->prev;
	f->linked = 0;
	wait_update(f->fq, c);
}

static void group_free(struct routing *r, struct group *g)
{
	struct group **pp = NULL, *x;
	unsigned i;
	for (i = 0; i < g->n_fref; i++)
		fref_unlink(&g->fref[i], g->chan);
	x = routing_hash_get(&r->groups, g->hkey);
	if (x == g) {
		if (g->hnext)
			routing_hash_put(&r->mem, &r->groups, g->hkey, g->hnext);
		else
			routing_hash_del(&r->groups, g->hkey);
	} else {
		for (pp = &x->hnext; *pp != g; pp = &(*pp)->hnext)
			;
		*pp = g->hnext;
	}
	routing_fifo_fini(&r->mem, &g->tasks);
	routing_mem_free(&r->mem, g, sizeof(*g));
	r->st.groups--;
}

static struct group *group_get(struct routing *r, struct task *t)
{
	struct routing_skill req[MAXR];
	int lang;
	unsigned n = eff_reqs(t, req, &lang), i;
	struct queue *q = t->q;
	uint64_t hk = group_hash(q, t->chan, t->prio, t->stage, lang, req, n);
	struct group *g = routing_hash_get(&r->groups, hk), *head = g;
	for (; g; g = g->hnext)
		if (g->q == q && g->chan == t->chan && g->prio == t->prio &&
		    g->stage == t->stage && g->lang == lang && g->n_reqs == n &&
		    !memcmp(g->reqs, req, n * sizeof(*req)))
			return g;
	g = routing_mem_alloc(&r->mem, sizeof(*g));
	if (!g)
		return NULL;
	if (routing_hash_put(&r->mem, &r->groups, hk, g)) {
		routing_mem_free(&r->mem, g, sizeof(*g));
		return NULL;
	}
	g->hkey = hk;
	g->hnext = head;
	g->q = q;
	g->chan = t->chan;
	g->prio = t->prio;
	g->stage = t->stage;
	g->lang = (int16_t)lang;
	g->n_reqs = (uint8_t)n;
	memcpy(g->reqs, req, n * sizeof(*req));
	g->qpos = ROUTING_NOPOS;
	for (i = 0; i < q->nxq[t->stage]; i++) {
		struct queue *fq = routing_hash_get(&r->queues, q->xq[i]);
		if (!fq || fq == q)
			continue;
		g->fref[g->n_fref].g = g;
		g->fref[g->n_fref].fq = fq;
		g->n_fref++;
	}
	r->st.groups++;
	return g;
}

/* Put a QUEUED task into its group (it waits). 0 or -ENOMEM. */
static int task_group(struct routing *r, struct task *t)
{
	struct group *g = group_get(r, t);
	int64_t k1, k2;
	uint64_t tie;
	unsigned i;
	if (!g)
		return -ENOMEM;
	if (routing_fifo_insert(&r->mem, &g->tasks, t->arrival, t->id, t)) {
		if (!g->tasks.n)
			group_free(r, g);
		return -ENOMEM;
	}
	t->g = g;
	t->q->waiting++;
	if (routing_fifo_first(&g->tasks) != t)
		return 0;
	group_key(g, &k1, &k2, &tie);
	if (g->qpos == ROUTING_NOPOS) {
		if (routing_heap_push(&r->mem, &t->q->gheap[g->chan], k1, k2, tie,
				      &g->qpos, g)) {
			/* the push failed: nothing changed in gheap */
			routing_fifo_remove(&g->tasks, t->arrival, t->id);
			t->g = NULL;
			t->q->waiting--;
			group_free(r, g);
			return -ENOMEM;
		}
		wait_update(t->q, g->chan);
		for (i = 0; i < g->n_fref; i++)
			fref_link(&g->fref[i], g->chan);
	} else {
		t->q->gheap[g->chan].v[g->qpos].tie = tie;
		routing_heap_rekey(&t->q->gheap[g->chan], g->qpos, k1, k2);
	}
	return 0;
}

static void task_ungroup(struct routing *r, struct task *t)
{
	struct group *g = t->g;
	int64_t k1, k2;
	uint64_t tie;
	if (!g)
		return;
	routing_fifo_remove(&g->tasks, t->arrival, t->id);
	t->g = NULL;
	t->q->waiting--;
	if (!g->tasks.n) {
		routing_heap_remove(&g->q->gheap[g->chan], g->qpos);
		wait_update(g->q, g->chan);
		group_free(r, g);
		return;
	}
	group_key(g, &k1, &k2, &tie);
	g->q->gheap[g->chan].v[g->qpos].tie = tie;
	routing_heap_rekey(&g->q->gheap[g->chan], g->qpos, k1, k2);
}

/* ------------------------------------------------------------------ */
/* offers                                                               */

static int offer_make(struct routing *r, struct task *t, struct agent *a,
		      enum routing_reason why, const struct routing_decision *sc)
{
	struct offer *o = routing_pool_get(&r->mem, &r->offer_pool);
	struct routing_decision d;
	int64_t to = t->q->s.offer_timeout_ms ? t->q->s.offer_timeout_ms :
						 def_timeout[t->chan];
	if (!o)
		return -ENOMEM;
	o->id = ++r->offer_seq;
	o->version = ++t->version;
	o->t = t;
	o->a = a;
	o->expires = r->now + to;
	o->tpos = ROUTING_NOPOS;
	if (routing_hash_put(&r->mem, &r->offers, o->id, o)) {
		routing_pool_put(&r->offer_pool, o);
		return -ENOMEM;
	}
	timer_set(r, &o->tpos, TK_OFFER, o, o->expires);
	o->tnext = t->offers;
	t->offers = o;
	t->n_offers++;
	o->aprev = NULL;
	o->anext = a->offers;
	if (a->offers)
		a->offers->aprev = o;
	a->offers = o;
	agent_slot_take(r, a, t->chan);
	a->last_offer_seq = ++r->rr_seq;
	t->state = ROUTING_TASK_OFFERED;
	agent_reindex(r, a);
	r->st.offers++;
	dec_task(r, &d, ROUTING_D_OFFER, why, t);
	d.agent = a->id;
	d.has_agent = 1;
	d.offer = o->id;
	d.version = o->version;
	d.expires = o->expires;
	if (sc) {
		d.key1 = sc->key1;
		d.key2 = sc->key2;
		d.candidates = sc->candidates;
		d.has_runner_up = sc->has_runner_up;
		d.runner_up = sc->runner_up;
	}
	emit(r, &d);
	agent_state_update(r, a, why);
	return 0;
}

static void task_exit(struct routing *r, struct task *t);

static int past_max_wait(const struct routing *r, const struct task *t)
{
	const struct queue *q = t->q;
	return q->s.exit_action != ROUTING_EXIT_NONE && q->s.max_wait_ms > 0 &&
	       t->enter + q->s.max_wait_ms <= r->now;
}

/* A task is waiting again (offer ended, sticky hold released): if its
 * maximum wait passed meanwhile it leaves now, else its timer is re-armed. */
static void task_back(struct routing *r, struct task *t)
{
	if (!t->sticky && past_max_wait(r, t))
		task_exit(r, t);
	else
		task_arm(r, t);
}

/* Detach o from everything; the agent's slot is NOT released. */
static void offer_unlink(struct routing *r, struct offer *o)
{
	struct offer **pp;
	struct task *t = o->t;
	struct agent *a = o->a;
	timer_set(r, &o->tpos, TK_OFFER, o, ROUTING_NEVER);
	routing_hash_del(&r->offers, o->id);
	for (pp = &t->offers; *pp != o; pp = &(*pp)->tnext)
		;
	*pp = o->tnext;
	t->n_offers--;
	if (o->aprev)
		o->aprev->anext = o->anext;
	else
		a->offers = o->anext;
	if (o->anext)
		o->anext->aprev = o->aprev;
}

/* End offer o without acceptance: release the agent's slot, report, and if
 * it was the task's last offer put the task back in its queue. The agent is
 * noted for arbitration and the task for routing at the end of the call. */
static void offer_drop(struct routing *r, struct offer *o,
		       enum routing_reason why, int requeue)
{
	struct task *t = o->t;
	struct agent *a = o->a;
	struct routing_decision d;
	uint64_t oid = o->id;
	uint32_t ver = o->version;
	offer_unlink(r, o);
	routing_pool_put(&r->offer_pool, o);
	agent_slot_release(r, a, t->chan);
	agent_reindex(r, a);
	note_freed(r, a);
	if (!t->n_offers && requeue) {
		t->state = ROUTING_TASK_QUEUED;
		if (task_group(r, t) == 0)
			note_requeued(r, t);
	}
	dec_task(r, &d, (!t->n_offers && requeue) ? ROUTING_D_REQUEUE :
						    ROUTING_D_WITHDRAW,
		 why, t);
	d.agent = a->id;
	d.has_agent = 1;
	d.offer = oid;
	d.version = ver;
	emit(r, &d);
	agent_state_update(r, a, why);
	if (t->state == ROUTING_TASK_QUEUED)
		task_back(r, t);
}

/* ------------------------------------------------------------------ */
/* routing: a task looks for agents                                     */

static int better_key(int64_t a1, int64_t a2, uint64_t at, int64_t b1,
		      int64_t b2, uint64_t bt)
{
	if (a1 != b1)
		return a1 < b1;
	if (a2 != b2)
		return a2 < b2;
	return at < bt;
}

static unsigned task_queues(struct routing *r, const struct task *t,
			    struct queue **qs)
{
	unsigned n = 0, i;
	qs[n++] = t->q;
	for (i = 0; i < t->q->nxq[t->stage]; i++) {
		struct queue *fq = routing_hash_get(&r->queues, t->q->xq[i]);
		unsigned j;
		if (!fq)
			continue;
		for (j = 0; j < n && qs[j] != fq; j++)
			;
		if (j == n)
			qs[n++] = fq;
	}
	return n;
}

/* Route a QUEUED task that is in no group: offer it to the best free agent
 * (all free agents for ring-all) or let it wait in its group. */
static int route_task(struct routing *r, struct task *t, enum routing_reason why)
{
	struct queue *qs[1 + ROUTING_MAX_STEPS];
	struct routing_skill req[MAXR];
	struct agent *best = NULL, *ring[256];
	int64_t b1 = 0, b2 = 0;
	unsigned nq = task_queues(r, t, qs), nr = 0, nreq, i;
	unsigned ring_max = r->o.ring_all_max < 256 ? r->o.ring_all_max : 256;
	int lang, c = t->chan, is_ring = t->q->s.strategy == ROUTING_RING_ALL;
	struct routing_decision sc;

	pend_flush(r); /* this walks free heaps */

	nreq = eff_reqs(t, req, &lang);
	memset(&sc, 0, sizeof(sc));
	r->mark++;
	for (i = 0; i < nq; i++) {
		struct queue *q = qs[i];
		struct routing_heap *h = &q->aheap[c];
		struct routing_iter it;
		long k;
		int linear = 0;
		uint32_t lin = 0;
		if (ensure_chan(r, q, c))
			continue;
		routing_iter_init(&it, h);
		for (;;) {
			struct memb *m;
			struct agent *a;
			int64_t k1, k2;
			if (!linear) {
				k = routing_iter_next(&it);
				if (k == -2) {
					/* too many skipped: scan the rest
					 * (visited agents stay marked) */
					linear = 1;
					continue;
				}
				if (k < 0)
					break;
			} else {
				if (lin >= h->n)
					break;
				k = lin++;
			}
			m = h->v[k].obj;
			a = m->a;
			if (a->mark == r->mark)
				continue;
			a->mark = r->mark;
			if (!has_skills(a, req, nreq, lang))
				continue;
			sc.candidates++;
			if (is_ring) {
				if (nr < ring_max)
					ring[nr++] = a;
				if (nr == ring_max && !linear)
					break;
				continue;
			}
			if (q == t->q) {
				k1 = h->v[k].k1;
				k2 = h->v[k].k2;
			} else {
				agent_key(a, t->q, skill_score(a, t->q), &k1, &k2);
			}
			if (!best || better_key(k1, k2, a->id, b1, b2, best->id)) {
				if (best) {
					sc.has_runner_up = 1;
					sc.runner_up = (double)b1;
				}
				best = a;
				b1 = k1;
				b2 = k2;
			} else if (!sc.has_runner_up || (double)k1 < sc.runner_up) {
				sc.has_runner_up = 1;
				sc.runner_up = (double)k1;
			}
			if (!linear)
				break; /* first eligible in order is this queue's best */
		}
	}
	if (is_ring && nr) {
		for (i = 0; i < nr; i++) {
			agent_key(ring[i], t->q, 0, &sc.key1, &sc.key2);
			if (offer_make(r, t, ring[i], why, &sc))
				break;
		}
		if (t->n_offers)
			return 0;
	}
	if (best) {
		sc.key1 = b1;
		sc.key2 = b2;
		if (offer_make(r, t, best, why, &sc) == 0)
			return 0;
	}
	t->state = ROUTING_TASK_QUEUED;
	return task_group(r, t);
}

/* ------------------------------------------------------------------ */
/* routing: a free agent arbitrates across all its queues               */

/* The best group head so far. Heads are compared from their group's entry
 * in the queue's group heap (k2 = arrival, tie = id of the head; the group
 * has the head's priority and queue), so a candidate's task is not touched
 * until it wins. */
struct pick {
	struct group *g;
	double eff;
	int64_t arrival;
	uint64_t id;
};

static void consider(struct routing *r, struct group *g, struct pick *best,
		     struct routing_decision *sc)
{
	const struct routing_hent *he;
	double e;
	int64_t arrival;
	uint64_t id;
	if (g->mark == r->mark)
		return;
	g->mark = r->mark;
	he = &g->q->gheap[g->chan].v[g->qpos];
	arrival = he->k2;
	id = he->tie;
	/* eff_prio() of the head, from the same operands */
	e = (double)g->prio +
	    (double)(r->now - arrival) / (double)g->q->s.sl_target_ms;
	sc->candidates++;
	if (!best->g || e > best->eff ||
	    (e == best->eff && (arrival < best->arrival ||
				(arrival == best->arrival && id < best->id)))) {
		if (best->g) {
			sc->has_runner_up = 1;
			sc->runner_up = best->eff;
		}
		best->g = g;
		best->eff = e;
		best->arrival = arrival;
		best->id = id;
	} else if (!sc->has_runner_up || e > sc->runner_up) {
		sc->has_runner_up = 1;
		sc->runner_up = e;
	}
}

/* A best-first walk over a heap of at most this many entries never fills
 * its frontier (ROUTING_ITER_MAX): the frontier holds at most one more
 * entry than were visited, and at most the entries not yet visited, so it
 * reaches ROUTING_ITER_MAX - 1 only past 2 * (ROUTING_ITER_MAX - 2) + 1
 * entries. */
#define ITER_SURE (2 * (ROUTING_ITER_MAX - 2))

static struct task *pick_for_agent(struct routing *r, struct agent *a,
				   struct routing_decision *sc)
{
	struct pick best;
	unsigned i, rm = routable_mask(a);
	if (!rm)
		return NULL; /* no room on any channel (sc is not used) */
	memset(sc, 0, sizeof(*sc));
	r->mark++;
	best.g = NULL;
	best.eff = 0;
	best.arrival = 0;
	best.id = 0;
	for (i = 0; i < a->n_memb; i++) {
		struct queue *q = a->m[i]->q;
		unsigned bits;
		/* channels (in order) with room and with work waiting */
		for (bits = rm & q->wait_mask; bits; bits &= bits - 1) {
			int c = __builtin_ctz(bits);
			struct routing_heap *h = &q->gheap[c];
			struct routing_iter it;
			struct fref *f;
			long k;
			if (h->n) {
				/* fast path: the best group is eligible (what
				 * the walk below would return first) */
				struct group *g = h->v[0].obj;
				if (has_skills(a, g->reqs, g->n_reqs, g->lang)) {
					consider(r, g, &best, sc);
					goto foreign;
				}
			}
			if (h->n <= ITER_SURE) {
				/* small heap: the walk below cannot overflow
				 * its frontier, so it returns the smallest
				 * eligible entry: find that by one scan,
				 * testing skills only on entries that would
				 * improve on the best found so far */
				const struct routing_hent *bh = NULL;
				uint32_t j;
				for (j = 1; j < h->n; j++) {
					const struct routing_hent *e = &h->v[j];
					struct group *g = e->obj;
					if (bh && !routing_hent_less(e, bh))
						continue;
					if (has_skills(a, g->reqs, g->n_reqs, g->lang))
						bh = e;
				}
				if (bh)
					consider(r, bh->obj, &best, sc);
				goto foreign;
			}
			routing_iter_init(&it, h);
			while ((k = routing_iter_next(&it)) >= 0) {
				struct group *g = h->v[k].obj;
				if (has_skills(a, g->reqs, g->n_reqs, g->lang)) {
					consider(r, g, &best, sc);
					break;
				}
			}
			if (k == -2) {
				/* many ineligible groups: check them all */
				uint32_t j;
				for (j = 0; j < h->n; j++) {
					struct group *g = h->v[j].obj;
					if (has_skills(a, g->reqs, g->n_reqs, g->lang))
						consider(r, g, &best, sc);
				}
			}
		foreign:
			for (f = q->foreign[c]; f; f = f->next)
				if (has_skills(a, f->g->reqs, f->g->n_reqs,
					       f->g->lang))
					consider(r, f->g, &best, sc);
		}
	}
	return best.g ? routing_fifo_first(&best.g->tasks) : NULL;
}

static void route_agent(struct routing *r, struct agent *a)
{
	for (;;) {
		struct routing_decision sc;
		struct task *t, *s;
		if (a->base != ROUTING_AGENT_AVAILABLE)
			return;
		for (s = a->sticky_head; s; s = s->snext)
			if (routable(a, s->chan))
				break;
		if (s) {
			/* the customer's last agent is free: offer first */
			if (s->sprev)
				s->sprev->snext = s->snext;
			else
				a->sticky_head = s->snext;
			if (s->snext)
				s->snext->sprev = s->sprev;
			else
				a->sticky_tail = s->sprev;
			s->sticky = 0;
			s->a = NULL;
			if (offer_make(r, s, a, ROUTING_R_STICKY, NULL)) {
				s->state = ROUTING_TASK_QUEUED;
				if (task_group(r, s) == 0)
					note_requeued(r, s);
				task_arm(r, s);
				return;
			}
			task_arm(r, s);
			continue;
		}
		t = pick_for_agent(r, a, &sc);
		if (!t)
			return;
		task_ungroup(r, t);
		agent_key(a, t->q, skill_score(a, t->q), &sc.key1, &sc.key2);
		if (offer_make(r, t, a, ROUTING_R_AGENT_FREE, &sc)) {
			(void)task_group(r, t);
			return;
		}
	}
}

/* Settle everything noted during a call: freed agents arbitrate first (so
 * the highest effective priority wins), then requeued tasks that are still
 * waiting look for any other free agent. */
/* Order for settling requeued tasks: highest effective priority first, then
 * earlier arrival, then lower id (a total order, so results are stable). */
static int task_before(const struct task *a, const struct task *b, int64_t now)
{
	double ea = eff_prio(a, now), eb = eff_prio(b, now);
	if (ea != eb)
		return ea > eb;
	if (a->arrival != b->arrival)
		return a->arrival < b->arrival;
	return a->id < b->id;
}

static void settle(struct routing *r)
{
	unsigned i;
	for (i = 0; i < r->n_freed; i++)
		route_agent(r, r->freed[i]);
	r->n_freed = 0;
	/* highest effective priority first, so no task overtakes a better one */
	for (i = 1; i < r->n_requeued; i++) {
		/* insertion sort: the list is short (one agent's offers) */
		struct task *x = r->requeued[i];
		unsigned j;
		for (j = i; j > 0 && task_before(x, r->requeued[j - 1], r->now); j--)
			r->requeued[j] = r->requeued[j - 1];
		r->requeued[j] = x;
	}
	for (i = 0; i < r->n_requeued; i++) {
		struct task *t = r->requeued[i];
		if (t->state != ROUTING_TASK_QUEUED || !t->g)
			continue;
		task_ungroup(r, t);
		if (route_task(r, t, ROUTING_R_TASK_ARRIVED))
			task_finish(r, t, ROUTING_TASK_CANCELLED, ROUTING_R_NONE, 0);
	}
	r->n_requeued = 0;
	/* every public call ends here: no reindex stays deferred past it */
	pend_flush(r);
}

/* ------------------------------------------------------------------ */
/* tasks                                                                */

static void queue_unref(struct routing *r, struct queue *q);

static void sticky_remove(struct task *t)
{
	struct agent *a = t->a;
	if (!t->sticky)
		return;
	if (t->sprev)
		t->sprev->snext = t->snext;
	else
		a->sticky_head = t->snext;
	if (t->snext)
		t->snext->sprev = t->sprev;
	else
		a->sticky_tail = t->sprev;
	t->sticky = 0;
	t->a = NULL;
}

/* Report a terminal state and free the task (no offers, not grouped). */
static void task_finish(struct routing *r, struct task *t,
			enum routing_task_state st, enum routing_reason why,
			uint32_t arg)
{
	struct routing_decision d;
	unsigned i;
	task_ungroup(r, t);
	sticky_remove(t);
	t->state = (uint8_t)st;
	dec_task(r, &d, ROUTING_D_TASK_END, why, t);
	d.arg = arg;
	if (t->a) {
		d.agent = t->a->id;
		d.has_agent = 1;
	}
	emit(r, &d);
	timer_set(r, &t->tpos, TK_TASK, t, ROUTING_NEVER);
	routing_hash_del(&r->tasks, t->id);
	for (i = 0; i < r->n_requeued; i++)
		if (r->requeued[i] == t)
			r->requeued[i] = r->requeued[--r->n_requeued];
	queue_unref(r, t->q);
	routing_pool_put(&r->task_pool, t);
	r->st.tasks--;
}

static void set_reqs(struct task *t)
{
	t->n_reqs = (uint8_t)merge_reqs(t->reqs, t->q->skills, t->q->s.n_skills,
					t->xreqs, t->n_xreqs);
}

void routing_task_spec_init(struct routing_task_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->channel = ROUTING_CH_VOICE;
	s->language = ROUTING_NO_LANG;
}

static struct cust *cust_get(struct routing *r, uint64_t id)
{
	return routing_hash_get(&r->custs, id);
}

int routing_task_add(struct routing *r, const struct routing_task_spec *s,
		     int64_t now, uint64_t *id)
{
	struct queue *q;
	struct task *t;
	unsigned i;
	int err;
	if (!r || !s || (unsigned)s->channel >= ROUTING_CH_COUNT ||
	    s->priority < 0 || s->priority > 1000 ||
	    s->n_skills > ROUTING_MAX_REQS || (s->n_skills && !s->skills) ||
	    s->language < ROUTING_NO_LANG || s->language > 63)
		return -EINVAL;
	for (i = 0; i < s->n_skills; i++)
		if (s->skills[i].id > ROUTING_MAX_SKILL ||
		    s->skills[i].level < 1 || s->skills[i].level > 5)
			return -EINVAL;
	q = routing_hash_get(&r->queues, s->queue);
	if (!q)
		return -ENOENT;
	set_now(r, now);
	t = routing_pool_get(&r->mem, &r->task_pool);
	if (!t)
		return -ENOMEM;
	t->id = ++r->task_seq;
	if (routing_hash_put(&r->mem, &r->tasks, t->id, t)) {
		routing_pool_put(&r->task_pool, t);
		return -ENOMEM;
	}
	r->st.tasks++;
	t->q = q;
	q->refs++;
	t->chan = (uint8_t)s->channel;
	t->prio = s->priority;
	t->lang = (int16_t)s->language;
	t->n_xreqs = (uint8_t)s->n_skills;
	if (s->n_skills)
		memcpy(t->xreqs, s->skills, s->n_skills * sizeof(*s->skills));
	set_reqs(t);
	t->arrival = t->enter = r->now;
	t->tpos = ROUTING_NOPOS;
	t->customer = s->customer;
	t->user = s->user;
	t->state = ROUTING_TASK_QUEUED;
	if (id)
		*id = t->id;

	/* sticky agent: a returning customer goes first to their last agent */
	if (q->s.sticky_window_ms > 0 && t->customer) {
		struct cust *c = cust_get(r, t->customer);
		struct agent *a = c && r->now - c->at <= q->s.sticky_window_ms ?
					  routing_hash_get(&r->agents, c->agent) :
					  NULL;
		if (a && a->base != ROUTING_AGENT_OFFLINE) {
			if (routable(a, t->chan) &&
			    offer_make(r, t, a, ROUTING_R_STICKY, NULL) == 0) {
				task_arm(r, t);
				return 0;
			}
			if (q->s.sticky_wait_ms > 0) {
				t->sticky = 1;
				t->a = a;
				t->sticky_due = r->now + q->s.sticky_wait_ms;
				t->snext = NULL;
				t->sprev = a->sticky_tail;
				if (a->sticky_tail)
					a->sticky_tail->snext = t;
				else
					a->sticky_head = t;
				a->sticky_tail = t;
				task_arm(r, t);
				return 0;
			}
		}
	}
	err = route_task(r, t, ROUTING_R_TASK_ARRIVED);
	if (err) {
		task_finish(r, t, ROUTING_TASK_CANCELLED, ROUTING_R_NONE, 0);
		settle(r);
		return err;
	}
	task_arm(r, t);
	settle(r);
	return 0;
}

/* Withdraw all offers of t (no requeue); agents noted for arbitration. */
static void task_withdraw_all(struct routing *r, struct task *t,
			      enum routing_reason why)
{
	while (t->offers)
		offer_drop(r, t->offers, why, 0);
}

int routing_task_cancel(struct routing *r, uint64_t id,
			enum routing_task_state why, int64_t now)
{
	struct task *t;
	if (!r || (why != ROUTING_TASK_ABANDONED && why != ROUTING_TASK_CANCELLED))
		return -EINVAL;
	t = routing_hash_get(&r->tasks, id);
	if (!t)
		return -ENOENT;
	if (t->state != ROUTING_TASK_QUEUED && t->state != ROUTING_TASK_OFFERED)
		return -EBUSY;
	set_now(r, now);
	task_withdraw_all(r, t, ROUTING_R_CANCELLED);
	task_finish(r, t, why, ROUTING_R_REQUESTED, 0);
	settle(r);
	return 0;
}

static void cust_remember(struct routing *r, struct task *t, struct agent *a)
{
	struct cust *c;
	if (!t->customer || r->max_sticky <= 0)
		return;
	c = cust_get(r, t->customer);
	if (!c) {
		c = routing_mem_alloc(&r->mem, sizeof(*c));
		if (!c)
			return;
		c->id = t->customer;
		if (routing_hash_put(&r->mem, &r->custs, c->id, c)) {
			routing_mem_free(&r->mem, c, sizeof(*c));
			return;
		}
	} else {
		/* move to the tail of the expiry list */
		if (c->prev)
			c->prev->next = c->next;
		else
			r->chead = c->next;
		if (c->next)
			c->next->prev = c->prev;
		else
			r->ctail = c->prev;
	}
	c->agent = a->id;
	c->at = r->now;
	c->next = NULL;
	c->prev = r->ctail;
	if (r->ctail)
		r->ctail->next = c;
	else
		r->chead = c;
	r->ctail = c;
}

static void task_done(struct routing *r, struct task *t, enum routing_reason why)
{
	struct agent *a = t->a;
	struct queue *q = t->q;
	int64_t ht = r->now - t->accepted_at;
	/* handle time (accept to wrap end) feeds the wait estimate */
	q->aht += (ht - q->aht) / 8;
	if (t->state == ROUTING_TASK_WRAPUP)
		a->n_wrap--;
	a->n_active--;
	agent_slot_release(r, a, t->chan);
	/* idle means "no accepted work since": a withdrawn offer does not
	 * send an agent to the back of the longest-idle line */
	if (!a->n_active)
		a->idle_since = r->now;
	cust_remember(r, t, a);
	task_finish(r, t, ROUTING_TASK_DONE, why, 0);
	agent_reindex_defer(r, a);
	agent_state_update(r, a, ROUTING_R_REQUESTED);
	note_freed(r, a);
}

int routing_task_end(struct routing *r, uint64_t id, int64_t now)
{
	struct task *t;
	struct routing_decision d;
	if (!r)
		return -EINVAL;
	t = routing_hash_get(&r->tasks, id);
	if (!t)
		return -ENOENT;
	if (t->state != ROUTING_TASK_ACCEPTED)
		return -EINVAL;
	set_now(r, now);
	if (t->q->s.wrap_ms == 0) {
		task_done(r, t, ROUTING_R_REQUESTED);
	} else {
		t->state = ROUTING_TASK_WRAPUP;
		t->a->n_wrap++;
		t->wrap_due = t->q->s.wrap_ms > 0 ? r->now + t->q->s.wrap_ms :
						    ROUTING_NEVER;
		task_arm(r, t);
		dec_task(r, &d, ROUTING_D_WRAPUP, ROUTING_R_REQUESTED, t);
		d.agent = t->a->id;
		d.has_agent = 1;
		emit(r, &d);
		agent_state_update(r, t->a, ROUTING_R_REQUESTED);
	}
	settle(r);
	return 0;
}

int routing_task_wrap_end(struct routing *r, uint64_t id, int64_t now)
{
	struct task *t;
	if (!r)
		return -EINVAL;
	t = routing_hash_get(&r->tasks, id);
	if (!t)
		return -ENOENT;
	if (t->state != ROUTING_TASK_WRAPUP)
		return -EINVAL;
	set_now(r, now);
	task_done(r, t, ROUTING_R_REQUESTED);
	settle(r);
	return 0;
}

/* Count tasks of group g ahead of t: x is ahead when its static key
 * (arrival - prio * SL) is smaller, or equal with an earlier (arrival, id).
 * Within a group every task has the same priority, so "ahead" holds for a
 * prefix of the group's (arrival, id) order: an exponential then binary
 * search. */
static int fent_ahead(const struct routing_fent *e, int64_t p,
		      const struct task *t, int64_t tk)
{
	int64_t xk = e->k - p;
	return xk < tk || (xk == tk && (e->k < t->arrival ||
					(e->k == t->arrival && e->tie < t->id)));
}

static unsigned count_ahead(const struct group *g, const struct task *t,
			    int64_t tk)
{
	const struct routing_fifo *f = &g->tasks;
	int64_t p = (int64_t)g->prio * g->q->s.sl_target_ms;
	uint32_t lo = 0, hi = 1;
	/* exponential search for a bound, then binary search: O(1 +
	 * log(ahead)) per group, O(position + groups) in all */
	while (hi <= f->n && fent_ahead(routing_fifo_at(f, hi - 1), p, t, tk)) {
		lo = hi;
		hi *= 2;
	}
	if (hi > f->n)
		hi = f->n;
	/* entries before lo are ahead, entries from hi on are not */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (fent_ahead(routing_fifo_at(f, mid), p, t, tk))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int routing_task_info(const struct routing *r, uint64_t id, int64_t now,
		      struct routing_task_info *out)
{
	const struct task *t;
	const struct queue *q;
	if (!r || !out)
		return -EINVAL;
	t = routing_hash_get(&r->tasks, id);
	if (!t)
		return -ENOENT;
	q = t->q;
	memset(out, 0, sizeof(*out));
	out->state = t->state;
	out->queue = q->id;
	out->stage = t->stage;
	out->eff_priority = eff_prio(t, now);
	if (t->a) {
		out->has_agent = 1;
		out->agent = t->a->id;
	}
	if (t->state == ROUTING_TASK_QUEUED) {
		const struct routing_heap *gh = &q->gheap[t->chan];
		int64_t tk = t->arrival - (int64_t)t->prio * q->s.sl_target_ms;
		unsigned pos = 1, i, slots = q->serving[t->chan];
		for (i = 0; i < gh->n; i++)
			pos += count_ahead(gh->v[i].obj, t, tk);
		out->position = pos;
		out->ewt_ms = slots ? q->aht * (int64_t)pos / slots : -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* offers: accept, reject, timeout                                      */

static struct offer *offer_find(struct routing *r, uint64_t id, uint32_t ver)
{
	struct offer *o = routing_hash_get(&r->offers, id);
	return o && o->version == ver ? o : NULL;
}

int routing_offer_accept(struct routing *r, uint64_t offer, uint32_t version,
			 int64_t now)
{
	struct offer *o;
	struct task *t;
	struct agent *a;
	struct routing_decision d;
	if (!r)
		return -EINVAL;
	o = offer_find(r, offer, version);
	if (!o)
		return -ESTALE;
	set_now(r, now);
	t = o->t;
	a = o->a;
	offer_unlink(r, o);
	routing_pool_put(&r->offer_pool, o);
	/* the offer's reserved slot becomes the task's slot */
	t->state = ROUTING_TASK_ACCEPTED;
	t->a = a;
	t->accepted_at = r->now;
	a->n_active++;
	a->misses = 0;
	r->st.accepts++;
	dec_task(r, &d, ROUTING_D_ACCEPT, ROUTING_R_REQUESTED, t);
	d.agent = a->id;
	d.has_agent = 1;
	d.offer = offer;
	d.version = version;
	emit(r, &d);
	task_withdraw_all(r, t, ROUTING_R_OTHER_ACCEPTED);
	task_arm(r, t);
	agent_state_update(r, a, ROUTING_R_REQUESTED);
	settle(r);
	return 0;
}

static void agent_set_base(struct routing *r, struct agent *a, int st,
			   uint16_t reason, enum routing_reason why);

static void offer_miss(struct routing *r, struct offer *o,
		       enum routing_reason why)
{
	struct agent *a = o->a;
	offer_drop(r, o, why, 1);
	a->misses++;
	if (r->o.max_misses && a->misses >= r->o.max_misses &&
	    a->base == ROUTING_AGENT_AVAILABLE) {
		a->misses = 0;
		agent_set_base(r, a, ROUTING_AGENT_AWAY,
			       ROUTING_REASON_MISSED_OFFERS,
			       ROUTING_R_MISSED_OFFERS);
	}
}

int routing_offer_reject(struct routing *r, uint64_t offer, uint32_t version,
			 int64_t now)
{
	struct offer *o;
	if (!r)
		return -EINVAL;
	o = offer_find(r, offer, version);
	if (!o)
		return -ESTALE;
	set_now(r, now);
	offer_miss(r, o, ROUTING_R_REJECTED);
	settle(r);
	return 0;
}

/* ------------------------------------------------------------------ */
/* agents                                                               */

static void serving_update(struct agent *a, struct queue *q, int sign)
{
	int c;
	if (a->base == ROUTING_AGENT_OFFLINE)
		return;
	for (c = 0; c < ROUTING_CH_COUNT; c++)
		q->serving[c] = (unsigned)((int)q->serving[c] + sign * a->cap[c]);
}

static void release_sticky(struct routing *r, struct agent *a)
{
	while (a->sticky_head) {
		struct task *t = a->sticky_head;
		sticky_remove(t);
		if (task_group(r, t) == 0)
			note_requeued(r, t);
		task_back(r, t);
	}
}

static void agent_set_base(struct routing *r, struct agent *a, int st,
			   uint16_t reason, enum routing_reason why)
{
	int was_off = a->base == ROUTING_AGENT_OFFLINE;
	unsigned i;
	if (!was_off && st == ROUTING_AGENT_OFFLINE)
		for (i = 0; i < a->n_memb; i++)
			serving_update(a, a->m[i]->q, -1);
	if (a->base != ROUTING_AGENT_AVAILABLE && st == ROUTING_AGENT_AVAILABLE &&
	    !a->n_work)
		a->idle_since = r->now;
	a->base = (uint8_t)st;
	a->reason = reason;
	if (was_off && st != ROUTING_AGENT_OFFLINE)
		for (i = 0; i < a->n_memb; i++)
			serving_update(a, a->m[i]->q, 1);
	if (st == ROUTING_AGENT_OFFLINE) {
		/* nobody will answer: give the offers back */
		while (a->offers)
			offer_drop(r, a->offers, ROUTING_R_AGENT_GONE, 1);
		release_sticky(r, a);
	}
	agent_reindex(r, a);
	/* force a report even if BUSY masks it: the request is an event */
	a->reported = 0xff;
	agent_state_update(r, a, why);
	if (st == ROUTING_AGENT_AVAILABLE)
		note_freed(r, a);
}

int routing_agent_set_state(struct routing *r, uint32_t id,
			    enum routing_agent_state st, uint16_t reason,
			    int64_t now)
{
	struct agent *a;
	if (!r || (st != ROUTING_AGENT_OFFLINE && st != ROUTING_AGENT_AVAILABLE &&
		   st != ROUTING_AGENT_AWAY))
		return -EINVAL;
	a = routing_hash_get(&r->agents, id);
	if (!a)
		return -ENOENT;
	set_now(r, now);
	if (st == ROUTING_AGENT_AVAILABLE)
		a->misses = 0;
	agent_set_base(r, a, st, reason, ROUTING_R_REQUESTED);
	settle(r);
	return 0;
}

static size_t memb_block_size(unsigned cap)
{
	return cap * (sizeof(struct memb *) + sizeof(struct memb));
}

static void memb_remove_all(struct routing *r, struct agent *a)
{
	unsigned i;
	pend_flush(r);
	for (i = 0; i < a->n_memb; i++) {
		struct memb *m = a->m[i];
		struct queue *q = m->q;
		int c;
		for (c = 0; c < ROUTING_CH_COUNT; c++)
			if (m->pos[c] != ROUTING_NOPOS)
				routing_heap_remove(&q->aheap[c], m->pos[c]);
		serving_update(a, q, -1);
		if (m->qprev)
			m->qprev->qnext = m->qnext;
		else
			q->members = m->qnext;
		if (m->qnext)
			m->qnext->qprev = m->qprev;
		else
			q->members_tail = m->qprev;
		q->n_members--;
	}
	routing_mem_free(&r->mem, a->m, memb_block_size(a->m_cap));
	a->m = NULL;
	a->n_memb = a->m_cap = a->m_used = 0;
}

static int memb_add(struct routing *r, struct agent *a, struct queue *q)
{
	struct memb *m;
	int c;
	pend_flush(r);
	if (a->m_used == a->m_cap)
		return -ENOMEM; /* cannot happen: one slot per configured queue */
	/* a fresh (zeroed, never used) slot of the agent's block */
	m = (struct memb *)(a->m + a->m_cap) + a->m_used;
	for (c = 0; c < ROUTING_CH_COUNT; c++) {
		m->pos[c] = ROUTING_NOPOS;
		if ((q->chan_mask & (1u << c)) &&
		    routing_heap_reserve(&r->mem, &q->aheap[c], q->n_members + 1))
			return -ENOMEM;
	}
	a->m_used++;
	m->a = a;
	m->q = q;
	m->skill_score = skill_score(a, q);
	/* append, so member order (and ties) follow configuration order */
	m->qprev = q->members_tail;
	if (q->members_tail)
		q->members_tail->qnext = m;
	else
		q->members = m;
	q->members_tail = m;
	q->n_members++;
	a->m[a->n_memb++] = m;
	serving_update(a, q, 1);
	return 0;
}

void routing_agent_spec_init(struct routing_agent_spec *s)
{
	int c;
	memset(s, 0, sizeof(*s));
	s->capacity[ROUTING_CH_VOICE] = 1;
	s->capacity[ROUTING_CH_CHAT] = 3;
	s->capacity[ROUTING_CH_EMAIL] = 5;
	s->capacity[ROUTING_CH_MESSAGING] = 5;
	for (c = 1; c < ROUTING_CH_COUNT; c++)
		s->block[c] = 1u << ROUTING_CH_VOICE;
}

int routing_agent_set(struct routing *r, uint32_t id,
		      const struct routing_agent_spec *s, int64_t now)
{
	struct agent *a;
	struct routing_skill *sk = NULL;
	unsigned i, j;
	int created = 0;
	if (!r || !s || (s->n_skills && !s->skills) ||
	    (s->n_queues && !s->queues) || s->n_skills > 1024 ||
	    s->n_queues > 4096)
		return -EINVAL;
	for (i = 0; i < s->n_skills; i++) {
		if (s->skills[i].id > ROUTING_MAX_SKILL ||
		    s->skills[i].level < 1 || s->skills[i].level > 5)
			return -EINVAL;
		for (j = 0; j < i; j++)
			if (s->skills[j].id == s->skills[i].id)
				return -EINVAL;
	}
	set_now(r, now);
	a = routing_hash_get(&r->agents, id);
	if (!a) {
		a = routing_mem_alloc(&r->mem, sizeof(*a));
		if (!a)
			return -ENOMEM;
		if (routing_hash_put(&r->mem, &r->agents, id, a)) {
			routing_mem_free(&r->mem, a, sizeof(*a));
			return -ENOMEM;
		}
		a->id = id;
		a->base = a->reported = ROUTING_AGENT_OFFLINE;
		a->idle_since = r->now;
		created = 1;
		r->st.agents++;
	}
	if (s->n_skills) {
		sk = routing_mem_alloc(&r->mem, s->n_skills * sizeof(*sk));
		if (!sk)
			goto oom;
		memcpy(sk, s->skills, s->n_skills * sizeof(*sk));
		sort_skills(sk, s->n_skills);
	}
	memb_remove_all(r, a);
	routing_mem_free(&r->mem, a->skills, a->n_skills * sizeof(*a->skills));
	a->skills = sk;
	a->n_skills = s->n_skills;
	memset(a->lvl, 0, sizeof(a->lvl));
	for (i = 0; i < a->n_skills; i++)
		if (sk[i].id < LVL_IDS)
			a->lvl[sk[i].id >> 1] |=
				(uint8_t)(sk[i].level << ((sk[i].id & 1) << 2));
	a->langs = s->languages;
	memcpy(a->cap, s->capacity, sizeof(a->cap));
	memcpy(a->block, s->block, sizeof(a->block));
	if (s->n_queues) {
		a->m = routing_mem_alloc(&r->mem, memb_block_size(s->n_queues));
		if (!a->m)
			goto oom_m;
		a->m_cap = s->n_queues;
	}
	for (i = 0; i < s->n_queues; i++) {
		struct queue *q = routing_hash_get(&r->queues, s->queues[i]);
		for (j = 0; q && j < a->n_memb; j++)
			if (a->m[j]->q == q)
				q = NULL;
		if (q && memb_add(r, a, q))
			goto oom_m;
	}
	agent_reindex(r, a);
	note_freed(r, a);
	settle(r);
	return 0;
oom_m:
	/* leave the agent with the memberships that succeeded */
	agent_reindex(r, a);
	return -ENOMEM;
oom:
	if (created) {
		routing_hash_del(&r->agents, id);
		routing_mem_free(&r->mem, a, sizeof(*a));
		r->st.agents--;
	}
	return -ENOMEM;
}

int routing_agent_remove(struct routing *r, uint32_t id, int64_t now)
{
	struct agent *a;
	if (!r)
		return -EINVAL;
	a = routing_hash_get(&r->agents, id);
	if (!a)
		return -ENOENT;
	if (a->n_active)
		return -EBUSY;
	set_now(r, now);
	while (a->offers)
		offer_drop(r, a->offers, ROUTING_R_AGENT_GONE, 1);
	release_sticky(r, a);
	memb_remove_all(r, a);
	routing_hash_del(&r->agents, id);
	/* drop it from the freed list of this call */
	{
		unsigned i;
		for (i = 0; i < r->n_freed; i++)
			if (r->freed[i] == a)
				r->freed[i] = r->freed[--r->n_freed], i--;
	}
	routing_mem_free(&r->mem, a->skills, a->n_skills * sizeof(*a->skills));
	routing_mem_free(&r->mem, a, sizeof(*a));
	r->st.agents--;
	settle(r);
	return 0;
}

int routing_agent_info(const struct routing *r, uint32_t id,
		       struct routing_agent_info *out)
{
	const struct agent *a;
	if (!r || !out)
		return -EINVAL;
	a = routing_hash_get(&r->agents, id);
	if (!a)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->state = agent_reported(a);
	out->base = a->base;
	out->reason = a->reason;
	memcpy(out->used, a->used, sizeof(out->used));
	out->misses = a->misses;
	out->idle_since = a->idle_since;
	return 0;
}

/* ------------------------------------------------------------------ */
/* queues                                                               */

void routing_queue_spec_init(struct routing_queue_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->strategy = ROUTING_LONGEST_IDLE;
	s->sl_target_ms = 20000;
}

static void queue_free(struct routing *r, struct queue *q)
{
	int c;
	for (c = 0; c < ROUTING_CH_COUNT; c++) {
		routing_heap_fini(&r->mem, &q->aheap[c]);
		routing_heap_fini(&r->mem, &q->gheap[c]);
	}
	routing_mem_free(&r->mem, q, sizeof(*q));
}

static void queue_unref(struct routing *r, struct queue *q)
{
	if (--q->refs == 0 && q->dead)
		queue_free(r, q);
}

static int queue_apply(struct queue *q, const struct routing_queue_spec *s)
{
	unsigned i;
	if ((unsigned)s->strategy > ROUTING_RING_ALL || s->sl_target_ms <= 0 ||
	    s->n_skills > ROUTING_MAX_REQS || s->n_steps > ROUTING_MAX_STEPS ||
	    (s->n_skills && !s->skills) || (s->n_steps && !s->steps) ||
	    s->offer_timeout_ms < 0 || s->wrap_ms < ROUTING_WRAP_MANUAL ||
	    s->max_wait_ms < 0 || (unsigned)s->exit_action > ROUTING_EXIT_QUEUE)
		return -EINVAL;
	for (i = 0; i < s->n_skills; i++)
		if (s->skills[i].id > ROUTING_MAX_SKILL || s->skills[i].level < 1 ||
		    s->skills[i].level > 5)
			return -EINVAL;
	for (i = 0; i < s->n_steps; i++)
		if (s->steps[i].after_ms < 0 ||
		    (unsigned)s->steps[i].action > ROUTING_STEP_OFFER_CALLBACK ||
		    (i && s->steps[i].after_ms < s->steps[i - 1].after_ms))
			return -EINVAL;
	q->s = *s;
	if (s->n_skills)
		memcpy(q->skills, s->skills, s->n_skills * sizeof(*s->skills));
	if (s->n_steps)
		memcpy(q->steps, s->steps, s->n_steps * sizeof(*s->steps));
	q->s.skills = q->skills;
	q->s.steps = q->steps;
	q->lower[0] = q->droplang[0] = q->nxq[0] = 0;
	for (i = 0; i < s->n_steps; i++) {
		const struct routing_step *st = &s->steps[i];
		unsigned low = q->lower[i] + (st->action == ROUTING_STEP_LOWER_LEVEL ?
						      st->arg : 0);
		q->lower[i + 1] = (uint8_t)(low > 4 ? 4 : low);
		q->droplang[i + 1] = q->droplang[i] ||
				     st->action == ROUTING_STEP_DROP_LANGUAGE;
		q->nxq[i + 1] = q->nxq[i];
		if (st->action == ROUTING_STEP_ADD_QUEUE)
			q->xq[q->nxq[i + 1]++] = st->arg;
	}
	return 0;
}

static int cmp_task_prio(const void *x, const void *y)
{
	const struct task *a = *(const struct task *const *)x;
	const struct task *b = *(const struct task *const *)y;
	int64_t ka = a->arrival - (int64_t)a->prio * a->q->s.sl_target_ms;
	int64_t kb = b->arrival - (int64_t)b->prio * b->q->s.sl_target_ms;
	if (ka != kb)
		return ka < kb ? -1 : 1;
	if (a->arrival != b->arrival)
		return a->arrival < b->arrival ? -1 : 1;
	return a->id < b->id ? -1 : a->id > b->id;
}

/* Take every waiting task of q out of its group; returns an array the
 * caller frees (n_out entries), or NULL with *n_out 0. */
static struct task **queue_drain(struct routing *r, struct queue *q,
				 unsigned *n_out)
{
	struct task **v;
	unsigned n = 0, c;
	*n_out = 0;
	if (!q->waiting)
		return NULL;
	v = routing_mem_alloc(&r->mem, q->waiting * sizeof(*v));
	if (!v)
		return NULL;
	for (c = 0; c < ROUTING_CH_COUNT; c++)
		while (q->gheap[c].n) {
			struct group *g = q->gheap[c].v[0].obj;
			struct task *t = routing_fifo_first(&g->tasks);
			task_ungroup(r, t);
			v[n++] = t;
		}
	*n_out = n;
	return v;
}

int routing_queue_set(struct routing *r, uint32_t id,
		      const struct routing_queue_spec *s, int64_t now)
{
	struct queue *q, tmp;
	struct task **v;
	struct memb *m;
	unsigned n, i, k;
	int err, c;
	if (!r || !s)
		return -EINVAL;
	memset(&tmp, 0, sizeof(tmp));
	err = queue_apply(&tmp, s);
	if (err)
		return err;
	pend_flush(r);
	set_now(r, now);
	if (s->sticky_window_ms > r->max_sticky)
		r->max_sticky = s->sticky_window_ms;
	q = routing_hash_get(&r->queues, id);
	if (!q) {
		q = routing_mem_alloc(&r->mem, sizeof(*q));
		if (!q)
			return -ENOMEM;
		if (routing_hash_put(&r->mem, &r->queues, id, q)) {
			routing_mem_free(&r->mem, q, sizeof(*q));
			return -ENOMEM;
		}
		q->id = id;
		queue_apply(q, s);
		q->aht = s->aht_ms > 0 ? s->aht_ms : def_aht[ROUTING_CH_VOICE];
		r->st.queues++;
		return 0;
	}
	/* reconfigure: regroup waiting tasks under the new rules */
	v = queue_drain(r, q, &n);
	if (q->waiting) /* drain failed for lack of memory */
		return -ENOMEM;
	queue_apply(q, s);
	if (s->aht_ms > 0)
		q->aht = s->aht_ms;
	for (m = q->members; m; m = m->qnext)
		m->skill_score = skill_score(m->a, q);
	for (c = 0; c < ROUTING_CH_COUNT; c++) {
		if (!(q->chan_mask & (1u << c)))
			continue;
		while (q->aheap[c].n)
			routing_heap_remove(&q->aheap[c], 0);
		q->chan_mask &= (uint8_t) ~(1u << c);
		(void)ensure_chan(r, q, c);
	}
	/* every task of the queue (also offered, sticky, working) follows
	 * the new steps and requirements */
	for (k = 0; r->tasks.s && k <= r->tasks.mask; k++) {
		struct task *t = r->tasks.s[k].val;
		if (!t || t->q != q)
			continue;
		if (t->stage > q->s.n_steps)
			t->stage = (uint8_t)q->s.n_steps;
		set_reqs(t);
		task_arm(r, t);
	}
	if (n) /* v is NULL when nothing waits; qsort must not see it */
		qsort(v, n, sizeof(*v), cmp_task_prio);
	for (i = 0; i < n; i++) {
		struct task *t = v[i];
		if (route_task(r, t, ROUTING_R_TASK_ARRIVED))
			task_finish(r, t, ROUTING_TASK_CANCELLED, ROUTING_R_NONE, 0);
	}
	routing_mem_free(&r->mem, v, n * sizeof(*v));
	for (m = q->members; m; m = m->qnext)
		note_freed(r, m->a);
	settle(r);
	return 0;
}

int routing_queue_remove(struct routing *r, uint32_t id, int64_t now)
{
	struct queue *q;
	struct task **v;
	unsigned n, i, k;
	int c;
	if (!r)
		return -EINVAL;
	q = routing_hash_get(&r->queues, id);
	if (!q)
		return -ENOENT;
	pend_flush(r);
	set_now(r, now);
	routing_hash_del(&r->queues, id);
	r->st.queues--;
	q->dead = 1;
	q->refs++; /* hold it while we work */
	v = queue_drain(r, q, &n);
	for (i = 0; i < n; i++)
		task_finish(r, v[i], ROUTING_TASK_CANCELLED,
			    ROUTING_R_QUEUE_REMOVED, 0);
	routing_mem_free(&r->mem, v, n * sizeof(*v));
	/* offered and sticky tasks are not in groups: find them */
	for (k = 0; r->tasks.s && k <= r->tasks.mask; k++) {
		struct task *t = r->tasks.s[k].val;
		if (!t || t->q != q ||
		    (t->state != ROUTING_TASK_QUEUED &&
		     t->state != ROUTING_TASK_OFFERED))
			continue;
		task_withdraw_all(r, t, ROUTING_R_QUEUE_REMOVED);
		task_finish(r, t, ROUTING_TASK_CANCELLED, ROUTING_R_QUEUE_REMOVED,
			    0);
		k--; /* the table shifted back into this slot */
	}
	for (c = 0; c < ROUTING_CH_COUNT; c++)
		while (q->foreign[c]) {
			struct fref *f = q->foreign[c];
			fref_unlink(f, c);
			f->fq = NULL;
		}
	while (q->members) {
		struct memb *m = q->members;
		struct agent *a = m->a;
		unsigned j;
		for (j = 0; j < a->n_memb && a->m[j] != m; j++)
			;
		a->m[j] = a->m[--a->n_memb];
		for (c = 0; c < ROUTING_CH_COUNT; c++)
			if (m->pos[c] != ROUTING_NOPOS)
				routing_heap_remove(&q->aheap[c], m->pos[c]);
		q->members = m->qnext;
		if (q->members)
			q->members->qprev = NULL;
		else
			q->members_tail = NULL;
		/* the slot stays in the agent's block until its next reset */
	}
	queue_unref(r, q);
	settle(r);
	return 0;
}

int routing_queue_info(const struct routing *r, uint32_t id,
		       struct routing_queue_info *out)
{
	const struct queue *q;
	int c;
	if (!r || !out)
		return -EINVAL;
	q = routing_hash_get(&r->queues, id);
	if (!q)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->waiting = q->waiting;
	for (c = 0; c < ROUTING_CH_COUNT; c++) {
		out->free_agents[c] = q->aheap[c].n;
		out->serving_slots[c] = q->serving[c];
	}
	out->aht_ms = q->aht;
	return 0;
}

/* ------------------------------------------------------------------ */
/* time                                                                 */

static void task_exit(struct routing *r, struct task *t)
{
	struct queue *q = t->q, *nq;
	struct routing_decision d;
	switch (q->s.exit_action) {
	case ROUTING_EXIT_TIMEOUT:
		task_finish(r, t, ROUTING_TASK_TIMED_OUT, ROUTING_R_MAX_WAIT, 0);
		return;
	case ROUTING_EXIT_QUEUE:
		nq = routing_hash_get(&r->queues, q->s.exit_arg);
		if (nq && nq != q) {
			task_ungroup(r, t);
			sticky_remove(t);
			t->q = nq;
			nq->refs++;
			queue_unref(r, q);
			t->stage = 0;
			t->enter = r->now;
			set_reqs(t);
			dec_task(r, &d, ROUTING_D_TASK_MOVED, ROUTING_R_MAX_WAIT, t);
			d.arg = nq->id;
			emit(r, &d);
			if (route_task(r, t, ROUTING_R_TASK_ARRIVED))
				task_finish(r, t, ROUTING_TASK_CANCELLED,
					    ROUTING_R_NONE, 0);
			else
				task_arm(r, t);
			return;
		}
		/* fall through: no such queue, leave the engine */
		/* FALLTHROUGH */
	default:
		task_finish(r, t, ROUTING_TASK_OVERFLOWED, ROUTING_R_MAX_WAIT,
			    q->s.exit_arg);
		return;
	}
}

static void task_timer(struct routing *r, struct task *t)
{
	struct queue *q = t->q;
	struct routing_decision d;
	int changed = 0;
	if (t->state == ROUTING_TASK_WRAPUP) {
		task_done(r, t, ROUTING_R_WRAP_TIMEOUT);
		return;
	}
	if (t->sticky && t->sticky_due <= r->now) {
		struct agent *a = t->a;
		sticky_remove(t);
		dec_task(r, &d, ROUTING_D_REQUEUE, ROUTING_R_STICKY_EXPIRED, t);
		d.agent = a->id;
		d.has_agent = 1;
		emit(r, &d);
		changed = 1;
	}
	while (t->stage < q->s.n_steps &&
	       t->enter + q->steps[t->stage].after_ms <= r->now) {
		const struct routing_step *st = &q->steps[t->stage];
		t->stage++;
		dec_task(r, &d, st->action == ROUTING_STEP_OFFER_CALLBACK ?
					ROUTING_D_CALLBACK :
					ROUTING_D_STEP,
			 ROUTING_R_STEP_DUE, t);
		d.arg = t->stage - 1;
		emit(r, &d);
		if (st->action != ROUTING_STEP_OFFER_CALLBACK)
			changed = 1;
	}
	if (t->state == ROUTING_TASK_QUEUED && !t->sticky && past_max_wait(r, t)) {
		task_exit(r, t);
		return;
	}
	if (changed && t->state == ROUTING_TASK_QUEUED && !t->sticky) {
		/* new eligibility: regroup and look for agents again */
		task_ungroup(r, t);
		if (route_task(r, t, ROUTING_R_STEP_DUE)) {
			task_finish(r, t, ROUTING_TASK_CANCELLED, ROUTING_R_NONE, 0);
			return;
		}
	}
	task_arm(r, t);
}

int64_t routing_tick(struct routing *r, int64_t now)
{
	if (!r)
		return ROUTING_NEVER;
	set_now(r, now);
	while (r->timers.n && r->timers.v[0].due <= r->now) {
		struct tent *e = &r->timers.v[0];
		if (e->tie >> TK_SHIFT == TK_OFFER) {
			struct offer *o = e->obj;
			offer_miss(r, o, ROUTING_R_OFFER_TIMEOUT);
		} else {
			task_timer(r, e->obj);
		}
		settle(r);
	}
	/* forget customers past every queue's sticky window */
	while (r->chead && r->chead->at + r->max_sticky < r->now) {
		struct cust *c = r->chead;
		r->chead = c->next;
		if (r->chead)
			r->chead->prev = NULL;
		else
			r->ctail = NULL;
		routing_hash_del(&r->custs, c->id);
		routing_mem_free(&r->mem, c, sizeof(*c));
	}
	return routing_next_due(r);
}

int64_t routing_next_due(const struct routing *r)
{
	int64_t due = ROUTING_NEVER;
	if (!r)
		return due;
	if (r->timers.n)
		due = r->timers.v[0].due;
	if (r->chead && r->chead->at + r->max_sticky + 1 < due)
		due = r->chead->at + r->max_sticky + 1;
	return due;
}

/* ------------------------------------------------------------------ */
/* life cycle                                                           */

void routing_opts_init(struct routing_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_misses = 3;
	o->ring_all_max = 64;
}

int routing_alloc(struct routing **rp, const struct routing_opts *o)
{
	struct routing *r;
	if (!rp)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->mem.bytes = sizeof(*r);
	if (o)
		r->o = *o;
	else
		routing_opts_init(&r->o);
	if (!r->o.ring_all_max)
		r->o.ring_all_max = 64;
	r->now = NOW_UNSET;
	r->offers.seq = 1; /* offer ids are a sequence */
	r->task_pool.size = sizeof(struct task);
	r->offer_pool.size = sizeof(struct offer);
	*rp = r;
	return 0;
}

void routing_free(struct routing *r)
{
	uint32_t k;
	if (!r)
		return;
	for (k = 0; r->offers.s && k <= r->offers.mask; k++)
		if (r->offers.s[k].val)
			routing_mem_free(&r->mem, r->offers.s[k].val,
					 sizeof(struct offer));
	for (k = 0; r->groups.s && k <= r->groups.mask; k++) {
		struct group *g = r->groups.s[k].val, *n;
		for (; g; g = n) {
			n = g->hnext;
			routing_fifo_fini(&r->mem, &g->tasks);
			routing_mem_free(&r->mem, g, sizeof(*g));
		}
	}
	for (k = 0; r->tasks.s && k <= r->tasks.mask; k++) {
		struct task *t = r->tasks.s[k].val;
		if (t) {
			if (--t->q->refs == 0 && t->q->dead)
				queue_free(r, t->q);
			routing_mem_free(&r->mem, t, sizeof(*t));
		}
	}
	for (k = 0; r->agents.s && k <= r->agents.mask; k++) {
		struct agent *a = r->agents.s[k].val;
		if (a) {
			routing_mem_free(&r->mem, a->m, memb_block_size(a->m_cap));
			routing_mem_free(&r->mem, a->skills,
					 a->n_skills * sizeof(*a->skills));
			routing_mem_free(&r->mem, a, sizeof(*a));
		}
	}
	for (k = 0; r->queues.s && k <= r->queues.mask; k++)
		if (r->queues.s[k].val)
			queue_free(r, r->queues.s[k].val);
	while (r->chead) {
		struct cust *c = r->chead;
		r->chead = c->next;
		routing_mem_free(&r->mem, c, sizeof(*c));
	}
	routing_hash_fini(&r->mem, &r->agents);
	routing_hash_fini(&r->mem, &r->queues);
	routing_hash_fini(&r->mem, &r->tasks);
	routing_hash_fini(&r->mem, &r->offers);
	routing_hash_fini(&r->mem, &r->groups);
	routing_hash_fini(&r->mem, &r->custs);
	routing_mem_free(&r->mem, r->timers.v, r->timers.cap * sizeof(*r->timers.v));
	routing_pool_fini(&r->mem, &r->task_pool);
	routing_pool_fini(&r->mem, &r->offer_pool);
	routing_mem_free(&r->mem, r->freed, r->cap_freed * sizeof(void *));
	routing_mem_free(&r->mem, r->requeued, r->cap_requeued * sizeof(void *));
	free(r);
}

void routing_stats(const struct routing *r, struct routing_stats *out)
{
	*out = r->st;
	out->bytes = r->mem.bytes;
}

/* ------------------------------------------------------------------ */
/* names and formatting                                                 */

const char *routing_strategy_name(enum routing_strategy s)
{
	static const char *n[] = {"longest-idle", "least-occupied", "best-skill",
				  "round-robin", "ring-all"};
	return (unsigned)s <= ROUTING_RING_ALL ? n[s] : "?";
}

const char *routing_task_state_name(enum routing_task_state s)
{
	static const char *n[] = {"queued",   "offered",   "accepted",
				  "wrap-up",  "done",      "abandoned",
				  "cancelled", "timed-out", "overflowed"};
	return (unsigned)s <= ROUTING_TASK_OVERFLOWED ? n[s] : "?";
}

const char *routing_agent_state_name(enum routing_agent_state s)
{
	static const char *n[] = {"offline", "available", "away", "busy",
				  "wrap-up"};
	return (unsigned)s <= ROUTING_AGENT_WRAPUP ? n[s] : "?";
}

const char *routing_decision_type_name(enum routing_decision_type t)
{
	static const char *n[] = {"offer",    "withdraw",   "accept",
				  "requeue",  "step",       "callback",
				  "task-end", "task-moved", "wrap-up",
				  "agent-state"};
	return (unsigned)t <= ROUTING_D_AGENT_STATE ? n[t] : "?";
}

const char *routing_reason_name(enum routing_reason r)
{
	static const char *n[] = {
		"none",         "task-arrived",   "agent-free",
		"sticky",       "rejected",       "offer-timeout",
		"other-accepted", "cancelled",    "agent-gone",
		"queue-removed", "missed-offers", "max-wait",
		"step-due",     "requested",      "wrap-timeout",
		"sticky-expired"};
	return (unsigned)r <= ROUTING_R_STICKY_EXPIRED ? n[r] : "?";
}

int routing_decision_format(const struct routing_decision *d, char *buf,
			    size_t n)
{
	char agent[16] = "-";
	if (d->has_agent)
		snprintf(agent, sizeof(agent), "%u", (unsigned)d->agent);
	if (d->type == ROUTING_D_AGENT_STATE)
		return snprintf(buf, n, "t=%lld agent-state agent=%s state=%s "
				"away_reason=%u reason=%s",
				(long long)d->now, agent,
				routing_agent_state_name(d->agent_state),
				(unsigned)d->away_reason,
				routing_reason_name(d->reason));
	return snprintf(buf, n,
			"t=%lld %s task=%llu queue=%u agent=%s offer=%llu v=%u "
			"reason=%s strategy=%s state=%s eff=%.4f wait=%lldms "
			"stage=%d key=(%lld,%lld) candidates=%u runner_up=%.4f "
			"arg=%u",
			(long long)d->now, routing_decision_type_name(d->type),
			(unsigned long long)d->task, (unsigned)d->queue, agent,
			(unsigned long long)d->offer, (unsigned)d->version,
			routing_reason_name(d->reason),
			routing_strategy_name(d->strategy),
			routing_task_state_name(d->task_state), d->eff_priority,
			(long long)d->wait_ms, d->stage, (long long)d->key1,
			(long long)d->key2, d->candidates,
			d->has_runner_up ? d->runner_up : NAN,
			(unsigned)d->arg);
}
