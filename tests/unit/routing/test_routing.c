/*
 * test_routing.c: unit tests of the routing engine (src/routing).
 *
 * Scenario tests drive one feature each through the public API and read the
 * decisions the engine reports. test_random_invariants then runs thousands
 * of random event sequences and checks, after every step, invariants
 * computed by a brute-force model that lives entirely in this file (its own
 * capacity counts, eligibility rules, stages and timers) - the engine's
 * bookkeeping is only ever compared against it, never trusted.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routing/routing.h"
#include "routing/routing_int.h"
#include "test.h"

/* ------------------------------------------------------------------ */
/* decision log shared by the scenario tests                            */

#define LOGMAX 4096
static struct routing_decision dlog[LOGMAX];
static int nlog;

static void log_cb(void *arg, const struct routing_decision *d)
{
	(void)arg;
	if (nlog < LOGMAX)
		dlog[nlog++] = *d;
}

static struct routing *mk(void)
{
	struct routing_opts o;
	struct routing *r = NULL;
	routing_opts_init(&o);
	o.decide = log_cb;
	nlog = 0;
	if (routing_alloc(&r, &o))
		return NULL;
	return r;
}

/* last decision of `type` about task (task 0: any) */
static const struct routing_decision *last(enum routing_decision_type type,
					   uint64_t task)
{
	int i;
	for (i = nlog - 1; i >= 0; i--)
		if (dlog[i].type == type && (!task || dlog[i].task == task))
			return &dlog[i];
	return NULL;
}

static int count(enum routing_decision_type type)
{
	int i, n = 0;
	for (i = 0; i < nlog; i++)
		n += dlog[i].type == type;
	return n;
}

static void queue(struct routing *r, uint32_t id, enum routing_strategy s)
{
	struct routing_queue_spec q;
	routing_queue_spec_init(&q);
	q.strategy = s;
	CHECK_EQ_INT(routing_queue_set(r, id, &q, 0), 0);
}

static void agent(struct routing *r, uint32_t id, const uint32_t *qs,
		  unsigned nq, const struct routing_skill *sk, unsigned ns,
		  int64_t avail_at)
{
	struct routing_agent_spec a;
	routing_agent_spec_init(&a);
	a.queues = qs;
	a.n_queues = nq;
	a.skills = sk;
	a.n_skills = ns;
	a.languages = 1;
	CHECK_EQ_INT(routing_agent_set(r, id, &a, avail_at), 0);
	if (avail_at >= 0)
		CHECK_EQ_INT(routing_agent_set_state(r, id, ROUTING_AGENT_AVAILABLE,
						     0, avail_at),
			     0);
}

static uint64_t task(struct routing *r, uint32_t q, int prio, int64_t now)
{
	struct routing_task_spec t;
	uint64_t id = 0;
	routing_task_spec_init(&t);
	t.queue = q;
	t.priority = prio;
	CHECK_EQ_INT(routing_task_add(r, &t, now, &id), 0);
	return id;
}

/* offered agent of task, or -1 */
static long offered_to(uint64_t t)
{
	const struct routing_decision *d = last(ROUTING_D_OFFER, t);
	return d ? (long)d->agent : -1;
}

static int accept_last(struct routing *r, uint64_t t, int64_t now)
{
	const struct routing_decision *d = last(ROUTING_D_OFFER, t);
	if (!d)
		return -1;
	return routing_offer_accept(r, d->offer, d->version, now);
}

/* ------------------------------------------------------------------ */
/* strategies                                                           */

static void test_longest_idle(void)
{
	struct routing *r = mk();
	uint32_t q = 1;
	REQUIRE(r);
	queue(r, 1, ROUTING_LONGEST_IDLE);
	agent(r, 11, &q, 1, NULL, 0, 100); /* idle longest */
	agent(r, 12, &q, 1, NULL, 0, 200);
	agent(r, 10, &q, 1, NULL, 0, 300);
	CHECK_EQ_INT(offered_to(task(r, 1, 0, 1000)), 11);
	CHECK_EQ_INT(offered_to(task(r, 1, 0, 1001)), 12);
	CHECK_EQ_INT(offered_to(task(r, 1, 0, 1002)), 10);
	CHECK_EQ_STR(routing_strategy_name(last(ROUTING_D_OFFER, 0)->strategy),
		     "longest-idle");
	routing_free(r);
}

static void test_least_occupied(void)
{
	struct routing *r = mk();
	struct routing_task_spec ts;
	uint32_t q = 1;
	uint64_t a, b, c;
	REQUIRE(r);
	queue(r, 1, ROUTING_LEAST_OCCUPIED);
	agent(r, 10, &q, 1, NULL, 0, 0);
	agent(r, 11, &q, 1, NULL, 0, 0);
	routing_task_spec_init(&ts);
	ts.channel = ROUTING_CH_CHAT;
	ts.queue = 1;
	CHECK_EQ_INT(routing_task_add(r, &ts, 10, &a), 0);
	CHECK_EQ_INT(routing_task_add(r, &ts, 11, &b), 0);
	CHECK_EQ_INT(routing_task_add(r, &ts, 12, &c), 0);
	/* loads alternate: each new chat goes to the less loaded agent */
	CHECK(offered_to(a) != offered_to(b));
	CHECK_EQ_INT(offered_to(c), offered_to(a));
	routing_free(r);
}

static void test_best_skill(void)
{
	struct routing *r = mk();
	struct routing_queue_spec qs;
	struct routing_skill need = {7, 2};
	struct routing_skill s3 = {7, 3}, s5 = {7, 5}, s5b = {7, 5};
	uint32_t q = 1;
	REQUIRE(r);
	routing_queue_spec_init(&qs);
	qs.strategy = ROUTING_BEST_SKILL;
	qs.skills = &need;
	qs.n_skills = 1;
	CHECK_EQ_INT(routing_queue_set(r, 1, &qs, 0), 0);
	agent(r, 10, &q, 1, &s3, 1, 0);
	agent(r, 12, &q, 1, &s5b, 1, 20); /* same level, idle longer */
	agent(r, 11, &q, 1, &s5, 1, 50);
	CHECK_EQ_INT(offered_to(task(r, 1, 0, 100)), 12);
	CHECK_EQ_INT(last(ROUTING_D_OFFER, 0)->key1, -5);
	CHECK_EQ_INT(offered_to(task(r, 1, 0, 101)), 11);
	CHECK_EQ_INT(offered_to(task(r, 1, 0, 102)), 10);
	routing_free(r);
}

static void test_round_robin(void)
{
	struct routing *r = mk();
	uint32_t q = 1;
	uint64_t t;
	int i;
	long seen[6];
	REQUIRE(r);
	queue(r, 1, ROUTING_ROUND_ROBIN);
	agent(r, 10, &q, 1, NULL, 0, 0);
	agent(r, 11, &q, 1, NULL, 0, 0);
	agent(r, 12, &q, 1, NULL, 0, 0);
	/* each task is offered and rejected; the next goes to the next agent */
	for (i = 0; i < 6; i++) {
		const struct routing_decision *d;
		t = task(r, 1, 0, 100 + i);
		d = last(ROUTING_D_OFFER, t);
		REQUIRE(d);
		seen[i] = d->agent;
		CHECK_EQ_INT(routing_task_cancel(r, t, ROUTING_TASK_CANCELLED,
						 100 + i),
			     0);
	}
	CHECK(seen[0] != seen[1] && seen[1] != seen[2] && seen[0] != seen[2]);
	CHECK_EQ_INT(seen[3], seen[0]);
	CHECK_EQ_INT(seen[4], seen[1]);
	CHECK_EQ_INT(seen[5], seen[2]);
	routing_free(r);
}

static void test_ring_all(void)
{
	struct routing *r = mk();
	uint32_t q = 1;
	uint64_t t;
	const struct routing_decision *offs[3];
	int i, n = 0;
	struct routing_agent_info ai;
	REQUIRE(r);
	queue(r, 1, ROUTING_RING_ALL);
	agent(r, 10, &q, 1, NULL, 0, 0);
	agent(r, 11, &q, 1, NULL, 0, 0);
	agent(r, 12, &q, 1, NULL, 0, 0);
	t = task(r, 1, 0, 100);
	for (i = 0; i < nlog && n < 3; i++)
		if (dlog[i].type == ROUTING_D_OFFER && dlog[i].task == t)
			offs[n++] = &dlog[i];
	REQUIRE(n == 3);
	CHECK_EQ_INT(routing_offer_accept(r, offs[1]->offer, offs[1]->version, 200),
		     0);
	/* the other two were withdrawn: their accepts are stale */
	CHECK_EQ_INT(routing_offer_accept(r, offs[0]->offer, offs[0]->version, 201),
		     -ESTALE);
	CHECK_EQ_INT(routing_offer_accept(r, offs[2]->offer, offs[2]->version, 201),
		     -ESTALE);
	CHECK_EQ_INT(count(ROUTING_D_WITHDRAW), 2);
	CHECK_EQ_INT(last(ROUTING_D_WITHDRAW, t)->reason, ROUTING_R_OTHER_ACCEPTED);
	CHECK_EQ_INT(routing_agent_info(r, offs[0]->agent, &ai), 0);
	CHECK_EQ_INT(ai.state, ROUTING_AGENT_AVAILABLE);
	CHECK_EQ_INT(ai.used[ROUTING_CH_VOICE], 0);
	routing_free(r);
}

/* ------------------------------------------------------------------ */
/* priority, aging, FIFO, arbitration                                   */

static void test_fifo_and_priority(void)
{
	struct routing *r = mk();
	uint32_t q = 1;
	uint64_t a, b, c;
	REQUIRE(r);
	queue(r, 1, ROUTING_LONGEST_IDLE); /* SL 20 s */
	agent(r, 10, &q, 1, NULL, 0, -1);
	a = task(r, 1, 0, 1000);
	b = task(r, 1, 0, 2000);
	c = task(r, 1, 1, 3000); /* one point higher: wins now */
	CHECK_EQ_INT(routing_agent_set_state(r, 10, ROUTING_AGENT_AVAILABLE, 0,
					     4000),
		     0);
	CHECK_EQ_INT(last(ROUTING_D_OFFER, 0)->task, c);
	CHECK_EQ_INT(accept_last(r, c, 4001), 0);
	CHECK_EQ_INT(routing_task_end(r, c, 4002), 0);
	/* then FIFO between equal priorities */
	CHECK_EQ_INT(last(ROUTING_D_OFFER, 0)->task, a);
	CHECK(last(ROUTING_D_OFFER, 0)->candidates >= 1);
	(void)b;
	routing_free(r);
}

static void test_aging_beats_priority(void)
{
	struct routing *r = mk();
	uint32_t q = 1;
	uint64_t old, hi;
	const struct routing_decision *d;
	REQUIRE(r);
	queue(r, 1, ROUTING_LONGEST_IDLE); /* SL 20 s: +1 per 20 s waited */
	agent(r, 10, &q, 1, NULL, 0, -1);
	old = task(r, 1, 0, 0);
	hi = task(r, 1, 1, 30000); /* priority 1 but 30 s younger */
	CHECK_EQ_INT(routing_agent_set_state(r, 10, ROUTING_AGENT_AVAILABLE, 0,
					     40000),
		     0);
	d = last(ROUTING_D_OFFER, 0);
	REQUIRE(d);
	/* old: 0 + 40/20 = 2.0 > hi: 1 + 10/20 = 1.5 */
	CHECK_EQ_INT(d->task, old);
	CHECK_NEAR(d->eff_priority, 2.0, 1e-9, 0);
	(void)hi;
	routing_free(r);
}

static void test_arbitration_across_queues(void)
{
	struct routing *r = mk();
	struct routing_queue_spec qs;
	uint32_t both[2] = {1, 2};
	uint64_t a, b;
	REQUIRE(r);
	routing_queue_spec_init(&qs);
	qs.sl_target_ms = 60000;
	CHECK_EQ_INT(routing_queue_set(r, 1, &qs, 0), 0);
	qs.sl_target_ms = 10000; /* tighter target ages faster */
	CHECK_EQ_INT(routing_queue_set(r, 2, &qs, 0), 0);
	agent(r, 10, both, 2, NULL, 0, -1);
	a = task(r, 1, 0, 0);     /* at 30 s: 0.5 */
	b = task(r, 2, 0, 20000); /* at 30 s: 1.0 */
	CHECK_EQ_INT(routing_agent_set_state(r, 10, ROUTING_AGENT_AVAILABLE, 0,
					     30000),
		     0);
	CHECK_EQ_INT(last(ROUTING_D_OFFER, 0)->task, b);
	CHECK_EQ_INT(last(ROUTING_D_OFFER, 0)->reason, ROUTING_R_AGENT_FREE);
	CHECK_EQ_INT(last(ROUTING_D_OFFER, 0)->candidates, 2);
	CHECK_EQ_INT(count(ROUTING_D_OFFER), 1); /* one decision, no double offer */
	(void)a;
	routing_free(r);
}

/* ------------------------------------------------------------------ */
/* skills, languages, overflow                                          */

static void test_skills_and_language(void)
{
	struct routing *r = mk();
	struct routing_task_spec ts;
	struct routing_skill sk = {3, 4}, lo = {3, 2}, need = {3, 3};
	struct routing_agent_spec as;
	uint32_t q = 1;
	uint64_t t;
	REQUIRE(r);
	queue(r, 1, ROUTING_LONGEST_IDLE);
	agent(r, 10, &q, 1, &lo, 1, 0);   /* level too low */
	routing_agent_spec_init(&as);
	as.queues = &q;
	as.n_queues = 1;
	as.skills = &sk;
	as.n_skills = 1;
	as.languages = 1u << 2; /* speaks language 2 only */
	CHECK_EQ_INT(routing_agent_set(r, 11, &as, 0), 0);
	CHECK_EQ_INT(routing_agent_set_state(r, 11, ROUTING_AGENT_AVAILABLE, 0, 0),
		     0);
	routing_task_spec_init(&ts);
	ts.queue = 1;
	ts.skills = &need;
	ts.n_skills = 1;
	ts.language = 0;
	CHECK_EQ_INT(routing_task_add(r, &ts, 10, &t), 0);
	CHECK_EQ_INT(offered_to(t), -1); /* 10 lacks level, 11 lacks language */
	ts.language = 2;
	CHECK_EQ_INT(routing_task_add(r, &ts, 11, &t), 0);
	CHECK_EQ_INT(offered_to(t), 11);
	routing_free(r);
}

static void test_overflow_steps(void)
{
	struct routing *r = mk();
	struct routing_queue_spec qs;
	struct routing_step st[3] = {
		{30000, ROUTING_STEP_LOWER_LEVEL, 1},
		{60000, ROUTING_STEP_ADD_QUEUE, 2},
		{120000, ROUTING_STEP_OFFER_CALLBACK, 0}};
	struct routing_skill need = {5, 4}, l3 = {5, 3}, l1 = {5, 1};
	uint32_t q1 = 1, q2 = 2;
	uint64_t t1, t2;
	int64_t due;
	REQUIRE(r);
	routing_queue_spec_init(&qs);
	qs.skills = &need;
	qs.n_skills = 1;
	qs.steps = st;
	qs.n_steps = 3;
	qs.max_wait_ms = 180000;
	qs.exit_action = ROUTING_EXIT_TIMEOUT;
	CHECK_EQ_INT(routing_queue_set(r, 1, &qs, 0), 0);
	queue(r, 2, ROUTING_LONGEST_IDLE);
	agent(r, 10, &q1, 1, &l3, 1, 0); /* level 3 < 4 */
	agent(r, 20, &q2, 1, &l1, 1, 0); /* other queue, level 1 */
	t1 = task(r, 1, 0, 0);
	CHECK_EQ_INT(offered_to(t1), -1);
	due = routing_tick(r, 1000);
	CHECK_EQ_INT(due, 30000);
	routing_tick(r, 30000);
	CHECK_EQ_INT(last(ROUTING_D_STEP, t1)->arg, 0);
	CHECK_EQ_INT(offered_to(t1), 10); /* level lowered to 3 */
	/* a second task: agent 10 is busy; at 60 s queue 2's agents join, but
	 * 20's level 1 is still below 4-1=3 ... so only the callback comes */
	t2 = task(r, 1, 0, 31000);
	routing_tick(r, 91000);
	CHECK_EQ_INT(offered_to(t2), -1);
	CHECK(last(ROUTING_D_STEP, t2) != NULL);
	routing_tick(r, 151000);
	CHECK(last(ROUTING_D_CALLBACK, t2) != NULL);
	routing_tick(r, 211000);
	CHECK_EQ_INT(last(ROUTING_D_TASK_END, t2)->task_state,
		     ROUTING_TASK_TIMED_OUT);
	CHECK_EQ_INT(routing_task_info(r, t2, 211000, &(struct routing_task_info){0}),
		     -ENOENT);
	routing_free(r);
}

static void test_overflow_add_queue_and_exit_queue(void)
{
	struct routing *r = mk();
	struct routing_queue_spec qs;
	struct routing_step st = {10000, ROUTING_STEP_ADD_QUEUE, 2};
	uint32_t q2 = 2, q3 = 3;
	uint64_t t1, t2;
	REQUIRE(r);
	routing_queue_spec_init(&qs);
	qs.steps = &st;
	qs.n_steps = 1;
	qs.max_wait_ms = 20000;
	qs.exit_action = ROUTING_EXIT_QUEUE;
	qs.exit_arg = 3;
	CHECK_EQ_INT(routing_queue_set(r, 1, &qs, 0), 0);
	queue(r, 2, ROUTING_LONGEST_IDLE);
	queue(r, 3, ROUTING_LONGEST_IDLE);
	t1 = task(r, 1, 0, 0);
	agent(r, 20, &q2, 1, NULL, 0, 5000); /* free, but not a member of 1 */
	CHECK_EQ_INT(offered_to(t1), -1);
	routing_tick(r, 10000);
	CHECK_EQ_INT(offered_to(t1), 20);
	CHECK_EQ_INT(last(ROUTING_D_OFFER, t1)->reason, ROUTING_R_STEP_DUE);
	t2 = task(r, 1, 0, 11000);
	agent(r, 30, &q3, 1, NULL, 0, 12000);
	routing_tick(r, 31000); /* 20 s in queue 1: moved to queue 3 */
	CHECK_EQ_INT(last(ROUTING_D_TASK_MOVED, t2)->arg, 3);
	CHECK_EQ_INT(offered_to(t2), 30);
	routing_free(r);
}

/* ------------------------------------------------------------------ */
/* offers                                                               */

static void test_reject_keeps_position(void)
{
	struct routing *r = mk();
	uint32_t q = 1;
	uint64_t a, b;
	const struct routing_decision *d;
	REQUIRE(r);
	queue(r, 1, ROUTING_LONGEST_IDLE);
	agent(r, 10, &q, 1, NULL, 0, 0);
	a = task(r, 1, 0, 100);
	b = task(r, 1, 0, 200);
	d = last(ROUTING_D_OFFER, a);
	REQUIRE(d);
	CHECK_EQ_INT(routing_offer_reject(r, d->offer, d->version, 300), 0);
	CHECK_EQ_INT(last(ROUTING_D_REQUEUE, a)->reason, ROUTING_R_REJECTED);
	/* a is back ahead of b and goes to the free agent again */
	d = last(ROUTING_D_OFFER, 0);
	CHECK_EQ_INT(d->task, a);
	CHECK(d->version > 1);
	CHECK_EQ_INT(routing_offer_accept(r, d->offer, d->version - 1, 400),
		     -ESTALE);
	CHECK_EQ_INT(routing_offer_accept(r, d->offer - 1, d->version - 1, 400),
		     -ESTALE);
	CHECK_EQ_INT(routing_offer_accept(r, d->offer, d->version, 400), 0);
	CHECK_EQ_INT(routing_offer_accept(r, d->offer, d->version, 400), -ESTALE);
	(void)b;
	routing_free(r);
}

static void test_offer_timeout_and_auto_away(void)
{
	struct routing *r = mk();
	uint32_t q = 1;
	uint64_t t;
	struct routing_agent_info ai;
	int i;
	REQUIRE(r);
	queue(r, 1, ROUTING_LONGEST_IDLE);
	agent(r, 10, &q, 1, NULL, 0, 0);
	t = task(r, 1, 0, 0);
	CHECK_EQ_INT(routing_next_due(r), 15000); /* voice default */
	for (i = 1; i <= 3; i++)
		routing_tick(r, 15000 * i);
	CHECK_EQ_INT(count(ROUTING_D_OFFER), 3);
	CHECK_EQ_INT(last(ROUTING_D_REQUEUE, t)->reason, ROUTING_R_OFFER_TIMEOUT);
	CHECK_EQ_INT(routing_agent_info(r, 10, &ai), 0);
	CHECK_EQ_INT(ai.state, ROUTING_AGENT_AWAY);
	CHECK_EQ_INT(ai.reason, ROUTING_REASON_MISSED_OFFERS);
	CHECK_EQ_INT(last(ROUTING_D_AGENT_STATE, 0)->reason,
		     ROUTING_R_MISSED_OFFERS);
	CHECK_EQ_INT(routing_next_due(r), ROUTING_NEVER);
	/* back available: gets it again */
	CHECK_EQ_INT(routing_agent_set_state(r, 10, ROUTING_AGENT_AVAILABLE, 0,
					     50000),
		     0);
	CHECK_EQ_INT(count(ROUTING_D_OFFER), 4);
	routing_free(r);
}

/* ------------------------------------------------------------------ */
/* agents: capacity, blending, states, wrap-up                          */

static void test_capacity_and_blending(void)
{
	struct routing *r = mk();
	struct routing_task_spec ts;
	uint32_t q = 1;
	uint64_t c[4], v;
	struct routing_agent_info ai;
	int i;
	REQUIRE(r);
	queue(r, 1, ROUTING_LONGEST_IDLE);
	agent(r, 10, &q, 1, NULL, 0, 0);
	routing_task_spec_init(&ts);
	ts.queue = 1;
	ts.channel = ROUTING_CH_CHAT;
	for (i = 0; i < 4; i++)
		CHECK_EQ_INT(routing_task_add(r, &ts, 10 + i, &c[i]), 0);
	CHECK_EQ_INT(count(ROUTING_D_OFFER), 3); /* chat capacity 3 */
	CHECK_EQ_INT(offered_to(c[3]), -1);
	/* chat does not block voice by default */
	v = task(r, 1, 0, 20);
	CHECK_EQ_INT(offered_to(v), 10);
	/* while voice is held, no new chat even after one ends */
	CHECK_EQ_INT(accept_last(r, c[0], 21), 0);
	CHECK_EQ_INT(routing_task_end(r, c[0], 22), 0);
	CHECK_EQ_INT(offered_to(c[3]), -1);
	CHECK_EQ_INT(routing_agent_info(r, 10, &ai), 0);
	CHECK_EQ_INT(ai.used[ROUTING_CH_CHAT], 2);
	CHECK_EQ_INT(ai.used[ROUTING_CH_VOICE], 1);
	CHECK_EQ_INT(routing_task_cancel(r, v, ROUTING_TASK_ABANDONED, 23), 0);
	CHECK_EQ_INT(offered_to(c[3]), 10); /* voice gone: chat flows again */
	routing_free(r);
}

static void test_state_change_while_busy(void)
{
	struct routing *r = mk();
	uint32_t q = 1;
	uint64_t a, b;
	struct routing_agent_info ai;
	REQUIRE(r);
	queue(r, 1, ROUTING_LONGEST_IDLE);
	agent(r, 10, &q, 1, NULL, 0, 0);
	a = task(r, 1, 0, 10);
	CHECK_EQ_INT(accept_last(r, a, 11), 0);
	CHECK_EQ_INT(routing_agent_set_state(r, 10, ROUTING_AGENT_AWAY, 7, 12), 0);
	CHECK_EQ_INT(routing_agent_info(r, 10, &ai), 0);
	CHECK_EQ_INT(ai.state, ROUTING_AGENT_BUSY); /* break starts later */
	CHECK_EQ_INT(ai.base, ROUTING_AGENT_AWAY);
	b = task(r, 1, 0, 13);
	CHECK_EQ_INT(routing_task_end(r, a, 14), 0);
	CHECK_EQ_INT(routing_agent_info(r, 10, &ai), 0);
	CHECK_EQ_INT(ai.state, ROUTING_AGENT_AWAY);
	CHECK_EQ_INT(ai.reason, 7);
	CHECK_EQ_INT(offered_to(b), -1);
	CHECK_EQ_INT(last(ROUTING_D_AGENT_STATE, 0)->agent_state,
		     ROUTING_AGENT_AWAY);
	routing_free(r);
}

static void test_wrapup(void)
{
	struct routing *r = mk();
	struct routing_queue_spec qs;
	uint32_t q1 = 1, q2 = 2;
	uint64_t a, b;
	struct routing_agent_info ai;
	REQUIRE(r);
	routing_queue_spec_init(&qs);
	qs.wrap_ms = 5000;
	CHECK_EQ_INT(routing_queue_set(r, 1, &qs, 0), 0);
	qs.wrap_ms = ROUTING_WRAP_MANUAL;
	CHECK_EQ_INT(routing_queue_set(r, 2, &qs, 0), 0);
	agent(r, 10, &q1, 1, NULL, 0, 0);
	a = task(r, 1, 0, 0);
	CHECK_EQ_INT(accept_last(r, a, 1), 0);
	CHECK_EQ_INT(routing_task_end(r, a, 100), 0);
	CHECK_EQ_INT(routing_agent_info(r, 10, &ai), 0);
	CHECK_EQ_INT(ai.state, ROUTING_AGENT_WRAPUP);
	b = task(r, 1, 0, 200);
	CHECK_EQ_INT(offered_to(b), -1);
	CHECK_EQ_INT(routing_tick(r, 1000), 5100);
	routing_tick(r, 5100);
	CHECK_EQ_INT(last(ROUTING_D_TASK_END, a)->reason, ROUTING_R_WRAP_TIMEOUT);
	CHECK_EQ_INT(offered_to(b), 10);
	CHECK_EQ_INT(accept_last(r, b, 5101), 0);
	/* manual wrap-up */
	agent(r, 20, &q2, 1, NULL, 0, 0);
	a = task(r, 2, 0, 6000);
	CHECK_EQ_INT(accept_last(r, a, 6001), 0);
	CHECK_EQ_INT(routing_task_end(r, a, 6002), 0);
	CHECK_EQ_INT(routing_tick(r, 60000000), ROUTING_NEVER);
	CHECK_EQ_INT(routing_task_info(r, a, 0, &(struct routing_task_info){0}), 0);
	CHECK_EQ_INT(routing_task_wrap_end(r, a, 60000001), 0);
	CHECK_EQ_INT(routing_agent_info(r, 20, &ai), 0);
	CHECK_EQ_INT(ai.state, ROUTING_AGENT_AVAILABLE);
	routing_free(r);
}

static void test_sticky_agent(void)
{
	struct routing *r = mk();
	struct routing_queue_spec qs;
	struct routing_task_spec ts;
	uint32_t q = 1;
	uint64_t a, b, c, x;
	REQUIRE(r);
	routing_queue_spec_init(&qs);
	qs.sticky_window_ms = 3600000;
	qs.sticky_wait_ms = 20000;
	CHECK_EQ_INT(routing_queue_set(r, 1, &qs, 0), 0);
	agent(r, 10, &q, 1, NULL, 0, 0);
	agent(r, 11, &q, 1, NULL, 0, 0);
	routing_task_spec_init(&ts);
	ts.queue = 1;
	ts.customer = 777;
	CHECK_EQ_INT(routing_task_add(r, &ts, 100, &a), 0);
	CHECK_EQ_INT(offered_to(a), 10);
	CHECK_EQ_INT(accept_last(r, a, 101), 0);
	CHECK_EQ_INT(routing_task_end(r, a, 200), 0);
	/* agent 10 busy with someone else; the customer returns */
	x = task(r, 1, 0, 300);
	CHECK_EQ_INT(offered_to(x), 11); /* 11 idle longer than 10 now */
	routing_task_cancel(r, x, ROUTING_TASK_CANCELLED, 301);
	x = task(r, 1, 0, 302);
	CHECK_EQ_INT(offered_to(x), 11);
	CHECK_EQ_INT(accept_last(r, x, 303), 0);
	x = task(r, 1, 0, 304);
	CHECK_EQ_INT(offered_to(x), 10);
	CHECK_EQ_INT(accept_last(r, x, 305), 0);
	CHECK_EQ_INT(routing_task_add(r, &ts, 400, &b), 0);
	CHECK_EQ_INT(offered_to(b), -1); /* held for agent 10 */
	CHECK_EQ_INT(routing_task_end(r, x, 500), 0); /* 10 frees within wait */
	CHECK_EQ_INT(offered_to(b), 10);
	CHECK_EQ_INT(last(ROUTING_D_OFFER, b)->reason, ROUTING_R_STICKY);
	/* again, but agent 10 does not free in time: normal routing */
	CHECK_EQ_INT(accept_last(r, b, 501), 0);
	CHECK_EQ_INT(routing_task_add(r, &ts, 600, &c), 0);
	CHECK_EQ_INT(offered_to(c), -1);
	CHECK_EQ_INT(routing_task_end(r, x + 0, 601), -ENOENT);
	CHECK_EQ_INT(routing_tick(r, 700), 20600);
	routing_tick(r, 20600);
	CHECK_EQ_INT(last(ROUTING_D_REQUEUE, c)->reason, ROUTING_R_STICKY_EXPIRED);
	routing_free(r);
}

static void test_position_and_ewt(void)
{
	struct routing *r = mk();
	struct routing_queue_spec qs;
	struct routing_task_info ti;
	uint32_t q = 1;
	uint64_t t[5];
	int i;
	REQUIRE(r);
	routing_queue_spec_init(&qs);
	qs.aht_ms = 100000;
	CHECK_EQ_INT(routing_queue_set(r, 1, &qs, 0), 0);
	agent(r, 10, &q, 1, NULL, 0, -1); /* logged in? not yet */
	CHECK_EQ_INT(routing_agent_set_state(r, 10, ROUTING_AGENT_AWAY, 1, 0), 0);
	agent(r, 11, &q, 1, NULL, 0, -1);
	CHECK_EQ_INT(routing_agent_set_state(r, 11, ROUTING_AGENT_AWAY, 1, 0), 0);
	for (i = 0; i < 5; i++)
		t[i] = task(r, 1, i == 4 ? 1 : 0, 1000 * i);
	CHECK_EQ_INT(routing_task_info(r, t[0], 5000, &ti), 0);
	CHECK_EQ_INT(ti.position, 2); /* the priority-1 task is ahead */
	CHECK_EQ_INT(ti.ewt_ms, 100000); /* 2 positions, 2 agents */
	CHECK_EQ_INT(routing_task_info(r, t[4], 5000, &ti), 0);
	CHECK_EQ_INT(ti.position, 1);
	CHECK_EQ_INT(routing_task_info(r, t[3], 5000, &ti), 0);
	CHECK_EQ_INT(ti.position, 5);
	CHECK_EQ_INT(routing_task_cancel(r, t[1], ROUTING_TASK_ABANDONED, 5000), 0);
	CHECK_EQ_INT(routing_task_info(r, t[3], 5000, &ti), 0);
	CHECK_EQ_INT(ti.position, 4);
	CHECK_EQ_INT(ti.ewt_ms, 200000);
	routing_free(r);
}

/* ------------------------------------------------------------------ */
/* run-time changes                                                     */

static void test_runtime_changes(void)
{
	struct routing *r = mk();
	struct routing_queue_spec qs;
	struct routing_skill need = {1, 3}, has = {1, 3};
	uint32_t q = 1;
	uint64_t a, b;
	struct routing_stats st;
	REQUIRE(r);
	routing_queue_spec_init(&qs);
	CHECK_EQ_INT(routing_queue_set(r, 1, &qs, 0), 0);
	agent(r, 10, &q, 1, NULL, 0, 0);
	a = task(r, 1, 0, 10);
	CHECK_EQ_INT(offered_to(a), 10);
	/* removing an agent withdraws its offer and requeues the task */
	CHECK_EQ_INT(routing_agent_remove(r, 10, 20), 0);
	CHECK_EQ_INT(last(ROUTING_D_REQUEUE, a)->reason, ROUTING_R_AGENT_GONE);
	CHECK_EQ_INT(routing_agent_remove(r, 10, 20), -ENOENT);
	/* new requirements: the waiting task now needs skill 1 level 3 */
	qs.skills = &need;
	qs.n_skills = 1;
	CHECK_EQ_INT(routing_queue_set(r, 1, &qs, 30), 0);
	agent(r, 11, &q, 1, NULL, 0, 40);
	CHECK_EQ_INT(offered_to(a), 10); /* still the old, withdrawn offer */
	agent(r, 11, &q, 1, &has, 1, 50); /* skills updated at run time */
	CHECK_EQ_INT(offered_to(a), 11);
	CHECK_EQ_INT(accept_last(r, a, 51), 0);
	CHECK_EQ_INT(routing_agent_remove(r, 11, 52), -EBUSY);
	b = task(r, 1, 0, 60);
	CHECK_EQ_INT(routing_queue_remove(r, 1, 70), 0);
	CHECK_EQ_INT(last(ROUTING_D_TASK_END, b)->reason, ROUTING_R_QUEUE_REMOVED);
	CHECK_EQ_INT(routing_task_end(r, a, 80), 0); /* accepted work continues */
	CHECK_EQ_INT(routing_agent_remove(r, 11, 90), 0);
	routing_stats(r, &st);
	CHECK_EQ_INT(st.tasks, 0);
	CHECK_EQ_INT(st.agents, 0);
	CHECK_EQ_INT(st.queues, 0);
	CHECK_EQ_INT(st.groups, 0);
	routing_free(r);
}

static void test_bad_arguments(void)
{
	struct routing *r = mk();
	struct routing_task_spec ts;
	struct routing_queue_spec qs;
	uint64_t id;
	char buf[256];
	REQUIRE(r);
	routing_task_spec_init(&ts);
	ts.queue = 99;
	CHECK_EQ_INT(routing_task_add(r, &ts, 0, &id), -ENOENT);
	ts.channel = ROUTING_CH_COUNT;
	CHECK_EQ_INT(routing_task_add(r, &ts, 0, &id), -EINVAL);
	routing_queue_spec_init(&qs);
	qs.sl_target_ms = 0;
	CHECK_EQ_INT(routing_queue_set(r, 1, &qs, 0), -EINVAL);
	CHECK_EQ_INT(routing_agent_set_state(r, 5, ROUTING_AGENT_AVAILABLE, 0, 0),
		     -ENOENT);
	CHECK_EQ_INT(routing_offer_accept(r, 1, 1, 0), -ESTALE);
	CHECK_EQ_INT(routing_task_cancel(r, 1, ROUTING_TASK_DONE, 0), -EINVAL);
	queue(r, 1, ROUTING_LONGEST_IDLE);
	ts.channel = ROUTING_CH_VOICE;
	ts.queue = 1;
	CHECK_EQ_INT(routing_task_add(r, &ts, 0, &id), 0);
	CHECK(routing_decision_format(&dlog[0], buf, sizeof(buf)) > 0 || nlog == 0);
	routing_free(r);
}

static void test_decision_format(void)
{
	struct routing *r = mk();
	uint32_t q = 1;
	char buf[512];
	uint64_t t;
	REQUIRE(r);
	queue(r, 1, ROUTING_LONGEST_IDLE);
	agent(r, 10, &q, 1, NULL, 0, 0);
	t = task(r, 1, 0, 5);
	REQUIRE(last(ROUTING_D_OFFER, t));
	CHECK(routing_decision_format(last(ROUTING_D_OFFER, t), buf, sizeof(buf)) > 0);
	CHECK(strstr(buf, "offer task=1 queue=1 agent=10") != NULL);
	CHECK(strstr(buf, "reason=task-arrived strategy=longest-idle") != NULL);
	routing_free(r);
}

/* ------------------------------------------------------------------ */
/* randomized run with an independent brute-force model                 */

#define NA 7
#define NQ 4
#define NS 4
#define MAXT 512
#define MAXO 2048

struct mq {
	struct routing_queue_spec s;
	struct routing_skill sk[1];
	struct routing_step st[3];
};

struct ma {
	int base;
	unsigned misses;
	int lv[NS]; /* 0: no skill */
	uint64_t langs;
	uint8_t cap[ROUTING_CH_COUNT], block[ROUTING_CH_COUNT];
	unsigned qmask;
};

struct mt {
	int live, state, q, chan, prio, lang, nx, stage, agent;
	struct routing_skill x[2];
	int64_t arrival, wrap_due;
};

struct mo {
	uint64_t id;
	uint32_t ver;
	int task, agent, live;
	int64_t expires;
};

static struct {
	struct routing *r;
	struct mq q[NQ];
	struct ma a[NA];
	struct mt t[MAXT + 1];
	struct mo o[MAXO];
	int no, nt;
	int64_t now;
	int fails;
	uint64_t hash;
	unsigned long decisions;
	char why[200];
} M;

static void mfail(const char *what)
{
	if (M.fails++ < 5)
		fprintf(stderr, "model: %s at t=%lld\n", what, (long long)M.now);
}

/* Brute-force load table: every live offer and every accepted or wrap-up
 * task, counted per agent and channel. */
static void m_usage(int used[NA][ROUTING_CH_COUNT])
{
	int i;
	memset(used, 0, sizeof(int) * NA * ROUTING_CH_COUNT);
	for (i = 0; i < M.no; i++)
		if (M.o[i].live)
			used[M.o[i].agent][M.t[M.o[i].task].chan]++;
	for (i = 1; i <= M.nt; i++)
		if (M.t[i].live && M.t[i].agent >= 0 &&
		    (M.t[i].state == ROUTING_TASK_ACCEPTED ||
		     M.t[i].state == ROUTING_TASK_WRAPUP))
			used[M.t[i].agent][M.t[i].chan]++;
}

static int m_routable(int used[NA][ROUTING_CH_COUNT], int a, int c)
{
	int k;
	uint8_t occ = 0;
	if (M.a[a].base != ROUTING_AGENT_AVAILABLE)
		return 0;
	for (k = 0; k < ROUTING_CH_COUNT; k++)
		if (used[a][k])
			occ |= (uint8_t)(1u << k);
	return used[a][c] < M.a[a].cap[c] && !(M.a[a].block[c] & occ);
}

/* Eligibility of agent a for task t at model stage `stage`. */
static int m_eligible(int a, int ti, int stage)
{
	const struct mt *t = &M.t[ti];
	const struct mq *q = &M.q[t->q];
	int lower = 0, droplang = 0, member = (M.a[a].qmask >> t->q) & 1, i;
	int need[NS];
	for (i = 0; i < stage; i++) {
		if (q->st[i].action == ROUTING_STEP_LOWER_LEVEL)
			lower += (int)q->st[i].arg;
		if (q->st[i].action == ROUTING_STEP_DROP_LANGUAGE)
			droplang = 1;
		if (q->st[i].action == ROUTING_STEP_ADD_QUEUE &&
		    ((M.a[a].qmask >> q->st[i].arg) & 1))
			member = 1;
	}
	if (lower > 4)
		lower = 4;
	if (!member)
		return 0;
	if (t->lang >= 0 && !droplang && !((M.a[a].langs >> t->lang) & 1))
		return 0;
	memset(need, 0, sizeof(need));
	for (i = 0; i < (int)q->s.n_skills; i++)
		need[q->sk[i].id] = q->sk[i].level;
	for (i = 0; i < t->nx; i++)
		if (t->x[i].level > need[t->x[i].id])
			need[t->x[i].id] = t->x[i].level;
	for (i = 0; i < NS; i++) {
		int l = need[i] ? need[i] - lower : 0;
		if (need[i] && l < 1)
			l = 1;
		if (l && M.a[a].lv[i] < l)
			return 0;
	}
	return 1;
}

static int m_stage_by_time(int ti)
{
	const struct mt *t = &M.t[ti];
	const struct mq *q = &M.q[t->q];
	int s = 0;
	while (s < (int)q->s.n_steps && t->arrival + q->st[s].after_ms <= M.now)
		s++;
	return s;
}

static double m_eff(int ti)
{
	const struct mt *t = &M.t[ti];
	return t->prio + (double)(M.now - t->arrival) /
				 (double)M.q[t->q].s.sl_target_ms;
}

static int m_find_offer(uint64_t id)
{
	int i;
	for (i = M.no - 1; i >= 0; i--)
		if (M.o[i].id == id)
			return i;
	return -1;
}

static void m_miss(int a)
{
	if (++M.a[a].misses >= 3 && M.a[a].base == ROUTING_AGENT_AVAILABLE) {
		M.a[a].misses = 0;
		M.a[a].base = ROUTING_AGENT_AWAY;
	}
}

static void m_decide(void *arg, const struct routing_decision *d)
{
	int ti = (int)d->task, a = d->has_agent ? (int)d->agent : -1, i, k;
	char buf[400];
	uint64_t h = M.hash;
	int used[NA][ROUTING_CH_COUNT];
	(void)arg;
	routing_decision_format(d, buf, sizeof(buf));
	if (getenv("ROUTING_TRACE"))
		fprintf(stderr, "  %s\n", buf);
	for (i = 0; buf[i]; i++)
		h = (h ^ (unsigned char)buf[i]) * 1099511628211ULL;
	M.hash = h;
	M.decisions++;
	if (d->type != ROUTING_D_AGENT_STATE && (ti < 1 || ti > MAXT || !M.t[ti].live)) {
		mfail("decision about an unknown task");
		return;
	}
	switch (d->type) {
	case ROUTING_D_OFFER:
		m_usage(used);
		if (M.t[ti].state != ROUTING_TASK_QUEUED &&
		    !(M.t[ti].state == ROUTING_TASK_OFFERED &&
		      M.q[M.t[ti].q].s.strategy == ROUTING_RING_ALL))
			mfail("offer of a task that is not waiting");
		if (!m_routable(used, a, M.t[ti].chan))
			mfail("offer to an agent without room");
		if (!m_eligible(a, ti, M.t[ti].stage))
			mfail("offer to an ineligible agent");
		/* arbitration: no better waiting task for this agent */
		for (k = 1; k <= M.nt; k++) {
			double e, ec;
			if (k == ti || !M.t[k].live ||
			    M.t[k].state != ROUTING_TASK_QUEUED ||
			    !m_routable(used, a, M.t[k].chan) ||
			    !m_eligible(a, k, M.t[k].stage))
				continue;
			e = m_eff(k);
			ec = m_eff(ti);
			if (e > ec + 1e-9 ||
			    (fabs(e - ec) <= 1e-9 && M.t[k].arrival < M.t[ti].arrival)) {
				snprintf(M.why, sizeof(M.why),
					 "agent %d got task %d (q%d eff %.4f) over "
					 "task %d (q%d eff %.4f)",
					 a, ti, M.t[ti].q, ec, k, M.t[k].q, e);
				mfail(M.why);
			}
		}
		if (M.no == MAXO) {
			mfail("model offer table full");
			return;
		}
		M.o[M.no].id = d->offer;
		M.o[M.no].ver = d->version;
		M.o[M.no].task = ti;
		M.o[M.no].agent = a;
		M.o[M.no].live = 1;
		M.o[M.no].expires = d->expires;
		if (d->expires != M.now + (M.t[ti].chan == ROUTING_CH_VOICE ? 15000 : 30000))
			mfail("offer timeout");
		M.no++;
		M.t[ti].state = ROUTING_TASK_OFFERED;
		m_usage(used);
		for (k = 0; k < ROUTING_CH_COUNT; k++)
			if (used[a][k] > M.a[a].cap[k])
				mfail("agent above capacity");
		break;
	case ROUTING_D_WITHDRAW:
	case ROUTING_D_REQUEUE:
		i = m_find_offer(d->offer);
		if (i < 0 || !M.o[i].live) {
			mfail("withdraw of an unknown offer");
			return;
		}
		M.o[i].live = 0;
		if (d->reason == ROUTING_R_REJECTED ||
		    d->reason == ROUTING_R_OFFER_TIMEOUT)
			m_miss(a);
		if (d->type == ROUTING_D_REQUEUE) {
			for (k = 0; k < M.no; k++)
				if (M.o[k].live && M.o[k].task == ti)
					mfail("requeue with offers left");
			M.t[ti].state = ROUTING_TASK_QUEUED;
		}
		break;
	case ROUTING_D_ACCEPT:
		i = m_find_offer(d->offer);
		if (i < 0 || !M.o[i].live) {
			mfail("accept of a dead offer reported");
			return;
		}
		M.o[i].live = 0;
		M.t[ti].state = ROUTING_TASK_ACCEPTED;
		M.t[ti].agent = a;
		M.a[a].misses = 0;
		break;
	case ROUTING_D_STEP:
	case ROUTING_D_CALLBACK:
		M.t[ti].stage++;
		break;
	case ROUTING_D_WRAPUP:
		M.t[ti].state = ROUTING_TASK_WRAPUP;
		M.t[ti].wrap_due = M.q[M.t[ti].q].s.wrap_ms > 0 ?
					   M.now + M.q[M.t[ti].q].s.wrap_ms :
					   ROUTING_NEVER;
		break;
	case ROUTING_D_TASK_END:
		for (k = 0; k < M.no; k++)
			if (M.o[k].live && M.o[k].task == ti)
				mfail("task ended with live offers");
		M.t[ti].live = 0;
		M.t[ti].state = d->task_state;
		break;
	case ROUTING_D_AGENT_STATE:
		if (d->reason == ROUTING_R_MISSED_OFFERS &&
		    M.a[a].base != ROUTING_AGENT_AWAY)
			mfail("auto-away the model did not expect");
		break;
	default:
		break;
	}
}

/* Everything that must hold between calls. */
static void m_check(void)
{
	int a, ti, c, i;
	int used[NA][ROUTING_CH_COUNT];
	m_usage(used);
	for (a = 0; a < NA; a++) {
		struct routing_agent_info ai;
		if (routing_agent_info(M.r, (uint32_t)a, &ai)) {
			mfail("agent missing");
			continue;
		}
		if ((int)ai.base != M.a[a].base)
			mfail("agent base state differs from the model");
		for (c = 0; c < ROUTING_CH_COUNT; c++) {
			if (used[a][c] > M.a[a].cap[c])
				mfail("agent above capacity");
			if (ai.used[c] != used[a][c])
				mfail("agent load differs from the model");
		}
	}
	for (i = 0; i < M.no; i++)
		if (M.o[i].live && M.o[i].expires <= M.now)
			mfail("expired offer still live");
	for (ti = 1; ti <= M.nt; ti++) {
		struct mt *t = &M.t[ti];
		struct routing_task_info inf;
		int n = 0;
		if (!t->live)
			continue;
		for (i = 0; i < M.no; i++)
			n += M.o[i].live && M.o[i].task == ti;
		if (n > 1 && M.q[t->q].s.strategy != ROUTING_RING_ALL)
			mfail("task held by two agents");
		if ((t->state == ROUTING_TASK_OFFERED) != (n > 0))
			mfail("offered state vs live offers");
		if (routing_task_info(M.r, (uint64_t)ti, M.now, &inf) ||
		    (int)inf.state != t->state)
			mfail("task state differs from the model");
		if ((t->state == ROUTING_TASK_QUEUED ||
		     t->state == ROUTING_TASK_OFFERED) &&
		    t->stage != m_stage_by_time(ti))
			mfail("overflow step not applied on time");
		if (t->state == ROUTING_TASK_WRAPUP && t->wrap_due <= M.now)
			mfail("wrap-up not ended on time");
		if (t->state != ROUTING_TASK_QUEUED)
			continue;
		if (M.q[t->q].s.exit_action != ROUTING_EXIT_NONE &&
		    t->arrival + M.q[t->q].s.max_wait_ms <= M.now)
			mfail("maximum wait not enforced");
		for (a = 0; a < NA; a++)
			if (m_routable(used, a, t->chan) &&
			    m_eligible(a, ti, t->stage)) {
				snprintf(M.why, sizeof(M.why),
					 "task %d waits while agent %d is free", ti, a);
				mfail(M.why);
			}
	}
}

static uint64_t rng;
static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static void m_setup(void)
{
	static const enum routing_strategy strat[NQ] = {
		ROUTING_LONGEST_IDLE, ROUTING_BEST_SKILL, ROUTING_RING_ALL,
		ROUTING_LEAST_OCCUPIED};
	int i, a;
	for (i = 0; i < NQ; i++) {
		struct mq *q = &M.q[i];
		routing_queue_spec_init(&q->s);
		q->s.strategy = rnd(3) == 0 ? ROUTING_ROUND_ROBIN : strat[i];
		q->s.sl_target_ms = 5000 + 5000 * (int64_t)rnd(4);
		q->sk[0].id = (uint16_t)rnd(NS);
		q->sk[0].level = (uint8_t)(1 + rnd(4));
		q->s.skills = q->sk;
		q->s.n_skills = rnd(3) ? 1 : 0;
		q->st[0].after_ms = 3000;
		q->st[0].action = ROUTING_STEP_LOWER_LEVEL;
		q->st[0].arg = 1;
		q->st[1].after_ms = 6000;
		q->st[1].action = ROUTING_STEP_ADD_QUEUE;
		q->st[1].arg = (uint32_t)((i + 1) % NQ);
		q->st[2].after_ms = 8000;
		q->st[2].action = rnd(2) ? ROUTING_STEP_DROP_LANGUAGE :
					   ROUTING_STEP_OFFER_CALLBACK;
		q->s.steps = q->st;
		q->s.n_steps = rnd(4);
		q->s.wrap_ms = i == 0 ? 2000 : i == 1 ? ROUTING_WRAP_MANUAL : 0;
		if (rnd(2)) {
			q->s.max_wait_ms = 15000;
			q->s.exit_action = ROUTING_EXIT_TIMEOUT;
		}
		if (routing_queue_set(M.r, (uint32_t)i, &q->s, 0))
			mfail("queue_set");
	}
	for (a = 0; a < NA; a++) {
		struct routing_agent_spec as;
		struct routing_skill sk[NS];
		uint32_t qs[NQ];
		unsigned nq = 0, ns = 0;
		struct ma *m = &M.a[a];
		routing_agent_spec_init(&as);
		memset(m, 0, sizeof(*m));
		for (i = 0; i < NS; i++)
			if (rnd(3)) {
				m->lv[i] = 1 + (int)rnd(5);
				sk[ns].id = (uint16_t)i;
				sk[ns].level = (uint8_t)m->lv[i];
				ns++;
			}
		for (i = 0; i < NQ; i++)
			if (rnd(2)) {
				qs[nq++] = (uint32_t)i;
				m->qmask |= 1u << i;
			}
		m->langs = 1 + rnd(3);
		as.languages = m->langs;
		as.capacity[ROUTING_CH_CHAT] = (uint8_t)(1 + rnd(3));
		memcpy(m->cap, as.capacity, sizeof(m->cap));
		memcpy(m->block, as.block, sizeof(m->block));
		as.skills = sk;
		as.n_skills = ns;
		as.queues = qs;
		as.n_queues = nq;
		m->base = ROUTING_AGENT_OFFLINE;
		if (routing_agent_set(M.r, (uint32_t)a, &as, 0))
			mfail("agent_set");
	}
}

/* When set, run_seed also hashes every live task's routing_task_info
 * (state, queue, stage, agent, position, estimated wait) after each step. */
static int hash_infos;

static void m_hash_infos(void)
{
	int ti;
	for (ti = 1; ti <= M.nt; ti++) {
		struct routing_task_info inf;
		char buf[160];
		int k;
		if (routing_task_info(M.r, (uint64_t)ti, M.now, &inf))
			continue;
		snprintf(buf, sizeof(buf), "%d %d %u %d %d %u %u %lld %.4f", ti,
			 (int)inf.state, (unsigned)inf.queue, inf.stage,
			 inf.has_agent, (unsigned)inf.agent, inf.position,
			 (long long)inf.ewt_ms, inf.eff_priority);
		for (k = 0; buf[k]; k++)
			M.hash = (M.hash ^ (unsigned char)buf[k]) * 1099511628211ULL;
	}
}

/* One random sequence; returns the decision-log hash. */
static uint64_t run_seed(uint64_t seed, int steps)
{
	struct routing_opts o;
	int step, ntasks = 0;
	memset(&M, 0, sizeof(M));
	rng = seed * 2654435761u + 88172645463325252ULL;
	M.hash = 1469598103934665603ULL;
	routing_opts_init(&o);
	o.decide = m_decide;
	if (routing_alloc(&M.r, &o))
		return 0;
	m_setup();
	for (step = 0; step < steps && !M.fails; step++) {
		unsigned ev = rnd(100);
		int i, rc, a = (int)rnd(NA);
		if (ev < 15) {
			M.now += rnd(2500);
			routing_tick(M.r, M.now);
		} else if (ev < 40 && ntasks < MAXT) {
			struct routing_task_spec ts;
			struct mt *t;
			uint64_t id = 0;
			routing_task_spec_init(&ts);
			ts.queue = rnd(NQ);
			ts.channel = rnd(3) ? ROUTING_CH_VOICE : ROUTING_CH_CHAT;
			ts.priority = (int)rnd(3);
			ts.language = rnd(3) ? ROUTING_NO_LANG : (int)rnd(2);
			t = &M.t[ntasks + 1];
			t->nx = (int)rnd(3);
			for (i = 0; i < t->nx; i++) {
				t->x[i].id = (uint16_t)((i + rnd(NS)) % NS);
				t->x[i].level = (uint8_t)(1 + rnd(3));
			}
			if (t->nx == 2 && t->x[0].id == t->x[1].id)
				t->nx = 1;
			ts.skills = t->x;
			ts.n_skills = (unsigned)t->nx;
			t->live = 1;
			t->state = ROUTING_TASK_QUEUED;
			t->q = (int)ts.queue;
			t->chan = ts.channel;
			t->prio = ts.priority;
			t->lang = ts.language;
			t->arrival = M.now;
			t->agent = -1;
			ntasks++;
			M.nt = ntasks;
			rc = routing_task_add(M.r, &ts, M.now, &id);
			if (rc || id != (uint64_t)ntasks)
				mfail("task_add");
		} else if (ev < 52) {
			static const int st[4] = {
				ROUTING_AGENT_AVAILABLE, ROUTING_AGENT_AVAILABLE,
				ROUTING_AGENT_AWAY, ROUTING_AGENT_OFFLINE};
			int s = st[rnd(4)];
			M.a[a].base = s;
			if (s == ROUTING_AGENT_AVAILABLE)
				M.a[a].misses = 0;
			if (routing_agent_set_state(M.r, (uint32_t)a, s, 1, M.now))
				mfail("set_state");
		} else if (ev < 80 && M.no) {
			/* accept or reject: a live offer usually, a dead one
			 * sometimes (must be refused) */
			int k = (int)rnd((unsigned)M.no), acc = rnd(4) != 0;
			struct mo *mo = &M.o[k];
			int live = mo->live, wrongver = rnd(10) == 0;
			uint32_t v = mo->ver + (wrongver ? 1000 : 0);
			if (acc)
				rc = routing_offer_accept(M.r, mo->id, v, M.now);
			else
				rc = routing_offer_reject(M.r, mo->id, v, M.now);
			if (live && !wrongver && rc != 0)
				mfail("live offer refused");
			if ((!live || wrongver) && rc != -ESTALE)
				mfail("stale offer not refused");
		} else if (ev < 88 && ntasks) {
			int ti = 1 + (int)rnd((unsigned)ntasks);
			int exp = !M.t[ti].live ? -ENOENT :
				  (M.t[ti].state == ROUTING_TASK_QUEUED ||
				   M.t[ti].state == ROUTING_TASK_OFFERED) ?
							  0 :
							  -EBUSY;
			rc = routing_task_cancel(M.r, (uint64_t)ti,
						 ROUTING_TASK_ABANDONED, M.now);
			if (rc != exp)
				mfail("cancel result");
		} else if (ntasks) {
			int ti = 1 + (int)rnd((unsigned)ntasks);
			if (M.t[ti].live && M.t[ti].state == ROUTING_TASK_ACCEPTED) {
				if (routing_task_end(M.r, (uint64_t)ti, M.now))
					mfail("task_end");
			} else if (M.t[ti].live &&
				   M.t[ti].state == ROUTING_TASK_WRAPUP) {
				if (routing_task_wrap_end(M.r, (uint64_t)ti, M.now))
					mfail("wrap_end");
			}
		}
		m_check();
		if (hash_infos)
			m_hash_infos();
	}
	routing_free(M.r);
	return M.hash ^ M.decisions;
}

static void test_random_invariants(void)
{
	unsigned s;
	unsigned long total = 0;
	unsigned first = getenv("ROUTING_SEED") ? (unsigned)strtoul(getenv("ROUTING_SEED"), NULL, 10) : 1;
	for (s = first; s <= 4000; s++) {
		uint64_t h1 = run_seed(s, 160);
		int f = M.fails;
		unsigned long d = M.decisions;
		uint64_t h2 = run_seed(s, 160);
		if (f || M.fails) {
			fprintf(stderr, "seed %u failed\n", s);
			CHECK(0);
			return;
		}
		total += d;
		/* same input, same decisions */
		CHECK(h1 == h2);
		CHECK(d == M.decisions);
	}
	CHECK(total > 100000);
}

/* Skill ids across the whole range (small ids have a direct level lookup,
 * large ones are searched): task arrival and agent arbitration agree with
 * the rules at both ends and at the boundary. */
static long wide_case(const struct routing_skill *req, unsigned n)
{
	static const struct routing_skill s10[] = {{127, 3}, {128, 2}, {4095, 5}};
	static const struct routing_skill s11[] = {{126, 5}, {129, 4}, {4094, 1}};
	struct routing *r = mk();
	struct routing_task_spec ts;
	uint32_t q = 1;
	uint64_t t;
	long who;
	if (!r)
		return -2;
	queue(r, 1, ROUTING_LONGEST_IDLE);
	agent(r, 10, &q, 1, s10, 3, 0);
	agent(r, 11, &q, 1, s11, 3, 1);
	routing_task_spec_init(&ts);
	ts.queue = 1;
	ts.skills = req;
	ts.n_skills = n;
	CHECK_EQ_INT(routing_task_add(r, &ts, 10, &t), 0);
	who = offered_to(t);
	routing_free(r);
	return who;
}

static void test_skill_ids_wide(void)
{
	static const struct routing_skill a[] = {{127, 3}}, b[] = {{128, 3}},
		c[] = {{128, 2}}, d[] = {{4095, 5}}, e[] = {{129, 4}, {4094, 1}},
		f[] = {{129, 5}}, g[] = {{126, 5}, {4095, 1}}, h[] = {{0, 1}},
		k[] = {{126, 5}, {129, 1}};
	struct routing *r;
	struct routing_task_spec ts;
	uint32_t q = 1;
	uint64_t t;
	CHECK_EQ_INT(wide_case(a, 1), 10);
	CHECK_EQ_INT(wide_case(b, 1), -1);
	CHECK_EQ_INT(wide_case(c, 1), 10);
	CHECK_EQ_INT(wide_case(d, 1), 10);
	CHECK_EQ_INT(wide_case(e, 2), 11);
	CHECK_EQ_INT(wide_case(f, 1), -1);
	CHECK_EQ_INT(wide_case(g, 2), -1);
	CHECK_EQ_INT(wide_case(h, 1), -1);
	CHECK_EQ_INT(wide_case(k, 2), 11);
	/* arbitration: the task waits, then agents free up */
	r = mk();
	REQUIRE(r);
	queue(r, 1, ROUTING_LONGEST_IDLE);
	routing_task_spec_init(&ts);
	ts.queue = 1;
	ts.skills = d;
	ts.n_skills = 1;
	CHECK_EQ_INT(routing_task_add(r, &ts, 0, &t), 0);
	{
		static const struct routing_skill s11[] = {{4095, 4}};
		static const struct routing_skill s10[] = {{5, 1}, {4095, 5}};
		agent(r, 11, &q, 1, s11, 1, 1);
		CHECK_EQ_INT(offered_to(t), -1);
		agent(r, 10, &q, 1, s10, 2, 2);
		CHECK_EQ_INT(offered_to(t), 10);
	}
	routing_free(r);
}

/* The ordered deque behind a group's waiting tasks (routing_int.h), against
 * a sorted array: random mostly-in-order inserts and removals at the head
 * and anywhere, across growth and wrap-around of the ring buffer. */
static void test_fifo_against_model(void)
{
	uint64_t x = 12345;
	int run, bad = 0;
#define FRND(n) (x ^= x << 13, x ^= x >> 7, x ^= x << 17, (unsigned)(x % (n)))
	for (run = 0; run < 200; run++) {
		struct routing_mem m = {0};
		struct routing_fifo f;
		int64_t model[400];
		int n = 0, maxn = 1 + (int)FRND(300), it, j;
		memset(&f, 0, sizeof(f));
		for (it = 0; it < 3000; it++) {
			unsigned op = FRND(3);
			if ((op < 2 && n < maxn) || n == 0) {
				int64_t k;
				int dup;
				do {
					k = FRND(op == 0 ? 1000 : 100000);
					if (FRND(2) && n)
						k = model[n - 1] + 1 + FRND(3);
					for (dup = 0, j = 0; j < n; j++)
						dup |= model[j] == k;
				} while (dup);
				/* entry key k / 7, tie k: ties on the key are common */
				if (routing_fifo_insert(&m, &f, k / 7, (uint64_t)k,
							(void *)(intptr_t)(k + 1)))
					bad++;
				for (j = n; j > 0 && (model[j - 1] / 7 > k / 7 ||
						      (model[j - 1] / 7 == k / 7 &&
						       model[j - 1] > k));
				     j--)
					model[j] = model[j - 1];
				model[j] = k;
				n++;
			} else {
				j = FRND(3) == 0 ? 0 : (int)FRND((unsigned)n);
				routing_fifo_remove(&f, model[j] / 7, (uint64_t)model[j]);
				memmove(&model[j], &model[j + 1],
					(size_t)(n - j - 1) * sizeof(*model));
				n--;
			}
			if ((int)f.n != n)
				bad++;
			for (j = 0; j < n; j++) {
				const struct routing_fent *e = routing_fifo_at(&f, (uint32_t)j);
				if (e->tie != (uint64_t)model[j] || e->k != model[j] / 7 ||
				    e->obj != (void *)(intptr_t)(model[j] + 1)) {
					bad++;
					break;
				}
			}
			if (n && routing_fifo_first(&f) != (void *)(intptr_t)(model[0] + 1))
				bad++;
		}
		routing_fifo_fini(&m, &f);
		if (m.bytes)
			bad++;
	}
#undef FRND
	CHECK_EQ_INT(bad, 0);
}

/* The decision logs of fixed random sequences, pinned: hashes of every
 * formatted decision of seeds 1..PIN_SEEDS, as the engine produced them
 * before its internals were optimized. Any change of behaviour (a different
 * offer, order, candidate count, runner-up, key) changes the hash. Update
 * the constant only for an intended change of behaviour. */
#define PIN_SEEDS 1500
#define PIN_HASH 0x08b959d21ba304f7ULL
static void test_decision_log_pinned(void)
{
	unsigned s;
	uint64_t h = 1469598103934665603ULL;
	for (s = 1; s <= PIN_SEEDS; s++) {
		uint64_t x = run_seed(s, 160);
		CHECK(!M.fails);
		h = (h ^ x) * 1099511628211ULL;
	}
	if (h != PIN_HASH)
		fprintf(stderr, "decision log hash %#llx, pinned %#llx\n",
			(unsigned long long)h, (unsigned long long)PIN_HASH);
	CHECK(h == PIN_HASH);
}

/* The same for routing_task_info (positions, estimated waits) of every live
 * task after every step of seeds 1..PIN_INFO_SEEDS. */
#define PIN_INFO_SEEDS 400
#define PIN_INFO_HASH 0xe378c1083645ffb1ULL
static void test_task_info_pinned(void)
{
	unsigned s;
	uint64_t h = 1469598103934665603ULL;
	hash_infos = 1;
	for (s = 1; s <= PIN_INFO_SEEDS; s++) {
		uint64_t x = run_seed(s, 160);
		CHECK(!M.fails);
		h = (h ^ x) * 1099511628211ULL;
	}
	hash_infos = 0;
	if (h != PIN_INFO_HASH)
		fprintf(stderr, "task info hash %#llx, pinned %#llx\n",
			(unsigned long long)h, (unsigned long long)PIN_INFO_HASH);
	CHECK(h == PIN_INFO_HASH);
}

int main(void)
{
	TEST_RUN(test_longest_idle);
	TEST_RUN(test_least_occupied);
	TEST_RUN(test_best_skill);
	TEST_RUN(test_round_robin);
	TEST_RUN(test_ring_all);
	TEST_RUN(test_fifo_and_priority);
	TEST_RUN(test_aging_beats_priority);
	TEST_RUN(test_arbitration_across_queues);
	TEST_RUN(test_skills_and_language);
	TEST_RUN(test_skill_ids_wide);
	TEST_RUN(test_overflow_steps);
	TEST_RUN(test_overflow_add_queue_and_exit_queue);
	TEST_RUN(test_reject_keeps_position);
	TEST_RUN(test_offer_timeout_and_auto_away);
	TEST_RUN(test_capacity_and_blending);
	TEST_RUN(test_state_change_while_busy);
	TEST_RUN(test_wrapup);
	TEST_RUN(test_sticky_agent);
	TEST_RUN(test_position_and_ewt);
	TEST_RUN(test_runtime_changes);
	TEST_RUN(test_bad_arguments);
	TEST_RUN(test_decision_format);
	TEST_RUN(test_random_invariants);
	TEST_RUN(test_fifo_against_model);
	TEST_RUN(test_decision_log_pinned);
	TEST_RUN(test_task_info_pinned);
	TEST_MAIN_END();
}
