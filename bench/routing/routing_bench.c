/*
 * routing_bench.c: throughput, latency, memory and scaling of the routing
 * engine, and the same decisions made the way FreeSWITCH mod_callcenter
 * makes them (an agents x tiers SQL join per waiting member, SQLite in
 * memory, its schema), with the ratio between the two.
 *
 * Scenario: N agents (default 10,000), 100 skills, 200 queues; each queue
 * requires one skill at level 1-2; each agent serves 4-8 queues and has 5-10
 * skills (levels 1-5, so some members fall short of a queue's level). Voice
 * work; three waiting tasks per agent. Steady state: a random busy agent
 * ends its call, the engine arbitrates for it (one decision), the offer is
 * accepted, a new task arrives; a tick runs every 100 events.
 *
 * The bench reads the clock (CLOCK_MONOTONIC around each engine call); the
 * engine never does. Memory is the engine's own accounting: it tracks the
 * exact size of every malloc it makes (malloc headers not included).
 * Never fails on time. Last line: RESULT routing decisions_per_s=... .
 */
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "routing/routing.h"

#define NSKILLS 100

static uint64_t rs = 88172645463325252ULL;
static unsigned rnd(unsigned n)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return (unsigned)(rs % n);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct pend {
	uint64_t offer, task;
	uint32_t version, agent;
};

static struct {
	struct pend *v;
	unsigned n, cap;
	unsigned offers;
} P;

static void on_decision(void *arg, const struct routing_decision *d)
{
	(void)arg;
	if (d->type != ROUTING_D_OFFER)
		return;
	P.offers++;
	if (P.n == P.cap) {
		P.cap = P.cap ? P.cap * 2 : 1024;
		P.v = realloc(P.v, P.cap * sizeof(*P.v));
		if (!P.v)
			abort();
	}
	P.v[P.n].offer = d->offer;
	P.v[P.n].version = d->version;
	P.v[P.n].task = d->task;
	P.v[P.n].agent = d->agent;
	P.n++;
}

struct world {
	unsigned n_agents, n_queues;
	uint32_t (*aq)[8];    /* queues of each agent */
	unsigned *naq;
	uint16_t *qskill;
	uint16_t (*qsec)[3];  /* secondary skills some tasks of a queue need */
	uint64_t *busy_task; /* per agent: accepted task or 0 */
	uint32_t *busy;      /* agents with accepted work */
	unsigned n_busy;
	unsigned *busy_pos;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct result {
	double dps, p50, p99, p999, mean_us;
	double bytes_agent, bytes_task;
	unsigned decisions;
	double setup_s;
};

static void busy_add(struct world *w, uint32_t a, uint64_t t)
{
	w->busy_task[a] = t;
	w->busy_pos[a] = w->n_busy;
	w->busy[w->n_busy++] = a;
}

static void busy_del(struct world *w, uint32_t a)
{
	unsigned p = w->busy_pos[a];
	w->busy[p] = w->busy[--w->n_busy];
	w->busy_pos[w->busy[p]] = p;
	w->busy_task[a] = 0;
}

static void world_init(struct world *w, unsigned n_agents, unsigned n_queues)
{
	unsigned a, q;
	memset(w, 0, sizeof(*w));
	w->n_agents = n_agents;
	w->n_queues = n_queues;
	w->aq = calloc(n_agents, sizeof(*w->aq));
	w->naq = calloc(n_agents, sizeof(*w->naq));
	w->qskill = calloc(n_queues, sizeof(*w->qskill));
	w->qsec = calloc(n_queues, sizeof(*w->qsec));
	w->busy_task = calloc(n_agents, sizeof(*w->busy_task));
	w->busy = calloc(n_agents, sizeof(*w->busy));
	w->busy_pos = calloc(n_agents, sizeof(*w->busy_pos));
	if (!w->aq || !w->naq || !w->qskill || !w->qsec || !w->busy_task || !w->busy ||
	    !w->busy_pos)
		abort();
	for (q = 0; q < n_queues; q++) {
		w->qskill[q] = (uint16_t)rnd(NSKILLS);
		w->qsec[q][0] = (uint16_t)rnd(NSKILLS);
		w->qsec[q][1] = (uint16_t)rnd(NSKILLS);
		w->qsec[q][2] = (uint16_t)rnd(NSKILLS);
	}
	for (a = 0; a < n_agents; a++) {
		unsigned n = 4 + rnd(5), i, j;
		for (i = 0; i < n; i++) {
			uint32_t x = rnd(n_queues);
			for (j = 0; j < w->naq[a] && w->aq[a][j] != x; j++)
				;
			if (j == w->naq[a])
				w->aq[a][w->naq[a]++] = x;
		}
	}
}

static void world_free(struct world *w)
{
	free(w->aq);
	free(w->naq);
	free(w->qskill);
	free(w->qsec);
	free(w->busy_task);
	free(w->busy);
	free(w->busy_pos);
}

static void accept_pending(struct routing *r, struct world *w, int64_t now,
			   double *eng)
{
	unsigned i;
	for (i = 0; i < P.n; i++) {
		double t0 = now_s();
		if (routing_offer_accept(r, P.v[i].offer, P.v[i].version, now) == 0)
			busy_add(w, P.v[i].agent, P.v[i].task);
		*eng += now_s() - t0;
	}
	P.n = 0;
}

static int add_task(struct routing *r, struct world *w, int64_t now)
{
	struct routing_task_spec ts;
	struct routing_skill extra;
	uint64_t id;
	routing_task_spec_init(&ts);
	ts.queue = rnd(w->n_queues);
	ts.priority = rnd(10) == 0 ? 1 : 0;
	if (rnd(5) == 0) {
		/* some tasks need one of the queue's secondary skills */
		extra.id = w->qsec[ts.queue][rnd(3)];
		extra.level = 1;
		ts.skills = &extra;
		ts.n_skills = 1;
	}
	return routing_task_add(r, &ts, now, &id);
}

/* Build the engine for n agents, fill it, run `decisions` steady-state
 * decisions; fills res. */
static int run_engine(unsigned n_agents, unsigned decisions, struct result *res,
		      struct world *wout)
{
	struct routing_opts o;
	struct routing *r;
	struct routing_stats st;
	struct world w;
	unsigned n_queues = n_agents >= 1000 ? 200 : 20, q, a, i;
	size_t b0, b1, b2;
	int64_t now = 0;
	double *lat, eng = 0, t_setup = now_s();
	unsigned n_lat = 0, waiting = 3 * n_agents;
	static const enum routing_strategy strat[10] = {
		ROUTING_LONGEST_IDLE, ROUTING_LONGEST_IDLE, ROUTING_LONGEST_IDLE,
		ROUTING_LONGEST_IDLE, ROUTING_LONGEST_IDLE, ROUTING_LONGEST_IDLE,
		ROUTING_LONGEST_IDLE, ROUTING_LEAST_OCCUPIED, ROUTING_BEST_SKILL,
		ROUTING_ROUND_ROBIN};

	rs = 88172645463325252ULL;
	world_init(&w, n_agents, n_queues);
	routing_opts_init(&o);
	o.decide = on_decision;
	if (routing_alloc(&r, &o))
		return -ENOMEM;
	for (q = 0; q < n_queues; q++) {
		struct routing_queue_spec qs;
		struct routing_skill sk = {w.qskill[q], (uint8_t)(1 + rnd(2))};
		struct routing_step step = {30000, ROUTING_STEP_LOWER_LEVEL, 1};
		routing_queue_spec_init(&qs);
		qs.strategy = strat[q % 10];
		qs.skills = &sk;
		qs.n_skills = 1;
		qs.steps = &step;
		qs.n_steps = 1;
		qs.offer_timeout_ms = 3600000;
		qs.max_wait_ms = 600000; /* whatever nobody can serve leaves */
		qs.exit_action = ROUTING_EXIT_OVERFLOW;
		if (routing_queue_set(r, q, &qs, now))
			return -EINVAL;
	}
	routing_stats(r, &st);
	b0 = st.bytes;
	for (a = 0; a < n_agents; a++) {
		struct routing_agent_spec as;
		struct routing_skill sk[16];
		unsigned ns = 0, target = 5 + rnd(6), j;
		routing_agent_spec_init(&as);
		for (i = 0; i < w.naq[a] && ns < target; i++) {
			uint16_t s = w.qskill[w.aq[a][i]];
			for (j = 0; j < ns && sk[j].id != s; j++)
				;
			if (j == ns) {
				sk[ns].id = s;
				sk[ns].level = (uint8_t)(1 + rnd(5));
				ns++;
			}
		}
		for (i = 0; i < w.naq[a] && ns < 10; i++) {
			/* about half the members have each secondary skill */
			unsigned k;
			for (k = 0; k < 3 && ns < 10; k++) {
				uint16_t s = w.qsec[w.aq[a][i]][k];
				if (rnd(2))
					continue;
				for (j = 0; j < ns && sk[j].id != s; j++)
					;
				if (j == ns) {
					sk[ns].id = s;
					sk[ns].level = (uint8_t)(1 + rnd(5));
					ns++;
				}
			}
		}
		while (ns < target) {
			uint16_t s = (uint16_t)rnd(NSKILLS);
			for (j = 0; j < ns && sk[j].id != s; j++)
				;
			if (j == ns) {
				sk[ns].id = s;
				sk[ns].level = (uint8_t)(1 + rnd(5));
				ns++;
			}
		}
		as.skills = sk;
		as.n_skills = ns;
		as.queues = w.aq[a];
		as.n_queues = w.naq[a];
		as.languages = 1;
		if (routing_agent_set(r, a, &as, now) ||
		    routing_agent_set_state(r, a, ROUTING_AGENT_AVAILABLE, 0, now))
			return -EINVAL;
	}
	routing_stats(r, &st);
	b1 = st.bytes;
	for (i = 0; i < waiting; i++) {
		now += 1;
		if (add_task(r, &w, now))
			return -EINVAL;
		accept_pending(r, &w, now, &eng);
	}
	routing_stats(r, &st);
	b2 = st.bytes;
	res->bytes_agent = (double)(b1 - b0) / n_agents;
	res->bytes_task = (double)(b2 - b1) / st.tasks;
	res->setup_s = now_s() - t_setup;

	/* steady state */
	lat = malloc(sizeof(*lat) * (decisions + 16));
	if (!lat)
		return -ENOMEM;
	eng = 0;
	P.offers = 0;
	for (i = 0; P.offers < decisions; i++) {
		double t0, dt;
		unsigned before;
		now += 1;
		if (w.n_busy) {
			uint32_t ag = w.busy[rnd(w.n_busy)];
			uint64_t t = w.busy_task[ag];
			busy_del(&w, ag);
			before = P.offers;
			t0 = now_s();
			routing_task_end(r, t, now);
			dt = now_s() - t0;
			eng += dt;
			if (P.offers > before) {
				unsigned k, nd = P.offers - before;
				for (k = 0; k < nd && n_lat < decisions + 16; k++)
					lat[n_lat++] = dt / nd;
			}
			accept_pending(r, &w, now, &eng);
		}
		before = P.offers;
		t0 = now_s();
		add_task(r, &w, now);
		dt = now_s() - t0;
		eng += dt;
		if (P.offers > before && n_lat < decisions + 16)
			lat[n_lat++] = dt / (P.offers - before);
		accept_pending(r, &w, now, &eng);
		if (i % 100 == 0) {
			t0 = now_s();
			routing_tick(r, now);
			eng += now_s() - t0;
			accept_pending(r, &w, now, &eng);
		}
	}
	qsort(lat, n_lat, sizeof(*lat), cmp_double);
	res->decisions = P.offers;
	res->dps = P.offers / eng;
	res->mean_us = eng / P.offers * 1e6;
	res->p50 = lat[n_lat / 2] * 1e6;
	res->p99 = lat[(size_t)(n_lat * 0.99)] * 1e6;
	res->p999 = lat[(size_t)(n_lat * 0.999)] * 1e6;
	free(lat);
	routing_free(r);
	if (wout)
		*wout = w;
	else
		world_free(&w);
	return 0;
}

/* ------------------------------------------------------------------ */
/* the FreeSWITCH mod_callcenter way                                    */

static int exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		fprintf(stderr, "sqlite: %s\n", err ? err : "?");
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

/* mod_callcenter's tables (columns as in its CREATE TABLE statements). */
static const char *fs_schema =
	"CREATE TABLE members (queue VARCHAR(255), system VARCHAR(255),"
	" uuid VARCHAR(255) NOT NULL DEFAULT '', session_uuid VARCHAR(255) NOT NULL DEFAULT '',"
	" cid_number VARCHAR(255), cid_name VARCHAR(255),"
	" system_epoch INTEGER NOT NULL DEFAULT 0, joined_epoch INTEGER NOT NULL DEFAULT 0,"
	" rejoined_epoch INTEGER NOT NULL DEFAULT 0, bridge_epoch INTEGER NOT NULL DEFAULT 0,"
	" abandoned_epoch INTEGER NOT NULL DEFAULT 0, base_score INTEGER NOT NULL DEFAULT 0,"
	" skill_score INTEGER NOT NULL DEFAULT 0, serving_agent VARCHAR(255),"
	" serving_system VARCHAR(255), state VARCHAR(255));"
	"CREATE TABLE agents (name VARCHAR(255), system VARCHAR(255), uuid VARCHAR(255),"
	" type VARCHAR(255), contact VARCHAR(255), status VARCHAR(255), state VARCHAR(255),"
	" max_no_answer INTEGER NOT NULL DEFAULT 0, wrap_up_time INTEGER NOT NULL DEFAULT 0,"
	" reject_delay_time INTEGER NOT NULL DEFAULT 0, busy_delay_time INTEGER NOT NULL DEFAULT 0,"
	" no_answer_delay_time INTEGER NOT NULL DEFAULT 0,"
	" last_bridge_start INTEGER NOT NULL DEFAULT 0, last_bridge_end INTEGER NOT NULL DEFAULT 0,"
	" last_offered_call INTEGER NOT NULL DEFAULT 0, last_status_change INTEGER NOT NULL DEFAULT 0,"
	" no_answer_count INTEGER NOT NULL DEFAULT 0, calls_answered INTEGER NOT NULL DEFAULT 0,"
	" talk_time INTEGER NOT NULL DEFAULT 0, ready_time INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE tiers (queue VARCHAR(255), agent VARCHAR(255), state VARCHAR(255),"
	" level INTEGER NOT NULL DEFAULT 1, position INTEGER NOT NULL DEFAULT 1);";

/* The dispatcher's member scan, and the per-member agent query (longest
 * idle shape), with the agent state and tier state filters in SQL. */
static const char *fs_members =
	"SELECT queue,uuid,session_uuid,cid_number,cid_name,joined_epoch,"
	"(?1-joined_epoch)+base_score+skill_score AS score, state, abandoned_epoch "
	"FROM members WHERE state = 'Waiting' OR state = 'Abandoned' OR "
	"(serving_agent = 'ring-all' AND state = 'Trying') ORDER BY score DESC";
static const char *fs_agents =
	"SELECT system, name, status, contact, no_answer_count, max_no_answer,"
	" reject_delay_time, busy_delay_time, no_answer_delay_time, tiers.state,"
	" agents.last_bridge_end, agents.wrap_up_time, agents.state, agents.ready_time,"
	" tiers.position, tiers.level, agents.type, agents.uuid "
	"FROM agents LEFT JOIN tiers ON (agents.name = tiers.agent) "
	"WHERE tiers.queue = ?1 AND (agents.status = 'Available' OR"
	" agents.status = 'On Break' OR agents.status = 'Available (On Demand)')"
	" AND agents.state = 'Waiting' AND tiers.state = 'Ready' "
	"ORDER BY tiers.level, agents.last_bridge_end, tiers.position";

struct sqlres {
	double per_decision_us, per_query_us, members_scanned;
	unsigned decisions;
};

static int run_sql(const struct world *w, unsigned samples, double budget_s,
		   struct sqlres *res)
{
	sqlite3 *db;
	sqlite3_stmt *ins, *mem, *ag, *upd_a, *upd_free, *upd_t, *upd_m;
	unsigned a, i, q, waiting = 3 * w->n_agents;
	char name[32], qn[32], uuid[32];
	double t_all = 0, t_q = 0, t_start;
	unsigned n_q = 0, scanned = 0, done = 0;
	int64_t now = 1000000;

	if (sqlite3_open(":memory:", &db) != SQLITE_OK || exec(db, fs_schema) ||
	    exec(db, "BEGIN"))
		return -1;
	sqlite3_prepare_v2(db, "INSERT INTO agents (name, system, type, status, state,"
			   " last_bridge_end) VALUES (?1, 'single_box', 'callback',"
			   " 'Available', 'In a queue call', ?2)", -1, &ins, NULL);
	for (a = 0; a < w->n_agents; a++) {
		snprintf(name, sizeof(name), "agent%u", a);
		sqlite3_bind_text(ins, 1, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(ins, 2, rnd(1000000));
		sqlite3_step(ins);
		sqlite3_reset(ins);
	}
	sqlite3_finalize(ins);
	sqlite3_prepare_v2(db, "INSERT INTO tiers (queue, agent, state, level, position)"
			   " VALUES (?1, ?2, 'Ready', 1, ?3)", -1, &ins, NULL);
	for (a = 0; a < w->n_agents; a++)
		for (i = 0; i < w->naq[a]; i++) {
			snprintf(name, sizeof(name), "agent%u", a);
			snprintf(qn, sizeof(qn), "q%u@default", w->aq[a][i]);
			sqlite3_bind_text(ins, 1, qn, -1, SQLITE_TRANSIENT);
			sqlite3_bind_text(ins, 2, name, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int(ins, 3, (int)i + 1);
			sqlite3_step(ins);
			sqlite3_reset(ins);
		}
	sqlite3_finalize(ins);
	sqlite3_prepare_v2(db, "INSERT INTO members (queue, system, uuid, session_uuid,"
			   " joined_epoch, base_score, state) VALUES (?1, 'single_box',"
			   " ?2, ?2, ?3, ?4, 'Waiting')", -1, &ins, NULL);
	for (i = 0; i < waiting; i++) {
		snprintf(qn, sizeof(qn), "q%u@default", rnd(w->n_queues));
		snprintf(uuid, sizeof(uuid), "m%u", i);
		sqlite3_bind_text(ins, 1, qn, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(ins, 2, uuid, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(ins, 3, now - (int64_t)(waiting - i));
		sqlite3_bind_int(ins, 4, rnd(10) == 0 ? 1000 : 0);
		sqlite3_step(ins);
		sqlite3_reset(ins);
	}
	sqlite3_finalize(ins);
	if (exec(db, "COMMIT"))
		return -1;
	sqlite3_prepare_v2(db, fs_members, -1, &mem, NULL);
	sqlite3_prepare_v2(db, fs_agents, -1, &ag, NULL);
	sqlite3_prepare_v2(db, "UPDATE agents SET state = 'Waiting', last_bridge_end = ?2"
			   " WHERE name = ?1", -1, &upd_free, NULL);
	sqlite3_prepare_v2(db, "UPDATE agents SET state = 'Receiving', last_offered_call = ?2"
			   " WHERE name = ?1", -1, &upd_a, NULL);
	sqlite3_prepare_v2(db, "UPDATE tiers SET state = 'Offering' WHERE agent = ?1"
			   " AND queue = ?2", -1, &upd_t, NULL);
	sqlite3_prepare_v2(db, "UPDATE members SET state = 'Trying', serving_agent = ?1"
			   " WHERE uuid = ?2", -1, &upd_m, NULL);

	/* one decision: a busy agent frees up; the dispatcher walks the
	 * waiting members by score and runs the agents query for each until
	 * one returns an agent, then marks agent, tier and member */
	t_start = now_s();
	while (done < samples && now_s() - t_start < budget_s) {
		double t0 = now_s();
		int found = 0;
		a = rnd(w->n_agents);
		now++;
		snprintf(name, sizeof(name), "agent%u", a);
		sqlite3_bind_text(upd_free, 1, name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(upd_free, 2, now);
		sqlite3_step(upd_free);
		sqlite3_reset(upd_free);
		sqlite3_bind_int64(mem, 1, now);
		while (!found && sqlite3_step(mem) == SQLITE_ROW) {
			double tq = now_s();
			scanned++;
			sqlite3_bind_text(ag, 1, (const char *)sqlite3_column_text(mem, 0),
					  -1, SQLITE_TRANSIENT);
			if (sqlite3_step(ag) == SQLITE_ROW) {
				const char *an = (const char *)sqlite3_column_text(ag, 1);
				found = 1;
				sqlite3_bind_text(upd_a, 1, an, -1, SQLITE_TRANSIENT);
				sqlite3_bind_int64(upd_a, 2, now);
				sqlite3_bind_text(upd_t, 1, an, -1, SQLITE_TRANSIENT);
				sqlite3_bind_text(upd_t, 2,
						  (const char *)sqlite3_column_text(mem, 0),
						  -1, SQLITE_TRANSIENT);
				sqlite3_bind_text(upd_m, 1, an, -1, SQLITE_TRANSIENT);
				sqlite3_bind_text(upd_m, 2,
						  (const char *)sqlite3_column_text(mem, 1),
						  -1, SQLITE_TRANSIENT);
			}
			sqlite3_reset(ag);
			t_q += now_s() - tq;
			n_q++;
		}
		sqlite3_reset(mem);
		if (found) {
			sqlite3_step(upd_a);
			sqlite3_reset(upd_a);
			sqlite3_step(upd_t);
			sqlite3_reset(upd_t);
			sqlite3_step(upd_m);
			sqlite3_reset(upd_m);
		}
		t_all += now_s() - t0;
		done++;
	}
	res->decisions = done;
	res->per_decision_us = done ? t_all / done * 1e6 : 0;
	res->per_query_us = n_q ? t_q / n_q * 1e6 : 0;
	res->members_scanned = done ? (double)scanned / done : 0;
	sqlite3_finalize(mem);
	sqlite3_finalize(ag);
	sqlite3_finalize(upd_a);
	sqlite3_finalize(upd_free);
	sqlite3_finalize(upd_t);
	sqlite3_finalize(upd_m);
	sqlite3_close(db);
	(void)q;
	return 0;
}

int main(int argc, char **argv)
{
	int quick = 0, i;
	struct result main_r, sc;
	struct world w;
	struct sqlres sq;
	static const unsigned scale[4] = {100, 1000, 10000, 100000};
	unsigned main_n = 10000;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			quick = 1;
		else if (!strcmp(argv[i], "--profile") && i + 1 < argc) {
			/* engine only, one size: for perf */
			struct result pr;
			unsigned n = (unsigned)strtoul(argv[++i], NULL, 10);
			unsigned dec = 200000;
			/* optional decision count: run twice with different
			 * counts under callgrind to get instructions per
			 * steady-state decision by difference */
			if (i + 1 < argc && argv[i + 1][0] != '-')
				dec = (unsigned)strtoul(argv[++i], NULL, 10);
			if (run_engine(n, dec, &pr, NULL))
				return 1;
			printf("%u agents: %.0f decisions/s p99 %.2f us setup %.1f s\n",
			       n, pr.dps, pr.p99, pr.setup_s);
			return 0;
		} else {
			fprintf(stderr, "usage: %s [--quick | --profile agents [decisions]]\n",
				argv[0]);
			return 2;
		}
	}
	printf("routing bench: %u agents, %u skills, 200 queues, 4-8 queues and "
	       "5-10 skills per agent, 3 waiting tasks per agent%s\n",
	       main_n, NSKILLS, quick ? " (quick)" : "");
	if (run_engine(main_n, quick ? 200000 : 1000000, &main_r, &w)) {
		fprintf(stderr, "engine run failed\n");
		return 1;
	}
	printf("engine: %u decisions, %.0f decisions/s (all engine calls: end, "
	       "arbitrate, accept, arrive, tick)\n",
	       main_r.decisions, main_r.dps);
	printf("engine: per-decision latency p50 %.2f us, p99 %.2f us, p99.9 %.2f us, "
	       "mean %.2f us\n",
	       main_r.p50, main_r.p99, main_r.p999, main_r.mean_us);
	printf("memory (engine's own allocation accounting, malloc headers "
	       "excluded): %.0f bytes/agent, %.0f bytes/task\n",
	       main_r.bytes_agent, main_r.bytes_task);

	if (run_sql(&w, quick ? 8 : 40, quick ? 8.0 : 60.0, &sq)) {
		fprintf(stderr, "sql run failed\n");
		return 1;
	}
	world_free(&w);
	printf("mod_callcenter way (SQLite :memory:, its schema, no indexes as "
	       "in mod_callcenter): %u decisions sampled, %.0f us/decision, "
	       "%.1f members scanned/decision, %.0f us per agents query\n",
	       sq.decisions, sq.per_decision_us, sq.members_scanned,
	       sq.per_query_us);
	printf("ratio at %u agents: engine is %.0fx faster per decision\n", main_n,
	       sq.per_decision_us / main_r.mean_us);

	printf("\nscaling (same scenario; 20 queues at 100 agents):\n");
	printf("%8s %14s %10s %10s %10s %12s %12s\n", "agents", "decisions/s",
	       "p50_us", "p99_us", "p99.9_us", "bytes/agent", "bytes/task");
	for (i = 0; i < 4; i++) {
		unsigned n = scale[i];
		unsigned dec = quick ? 50000 : 300000;
		if (n == main_n) {
			sc = main_r;
		} else if (run_engine(n, dec, &sc, NULL)) {
			fprintf(stderr, "engine run failed at %u\n", n);
			return 1;
		}
		printf("%8u %14.0f %10.2f %10.2f %10.2f %12.0f %12.0f\n", n, sc.dps,
		       sc.p50, sc.p99, sc.p999, sc.bytes_agent, sc.bytes_task);
	}
	free(P.v);
	printf("RESULT routing decisions_per_s=%.0f p99_us=%.2f vs_sql=%.0f "
	       "bytes_per_agent=%.0f bytes_per_task=%.0f\n",
	       main_r.dps, main_r.p99, sq.per_decision_us / main_r.mean_us,
	       main_r.bytes_agent, main_r.bytes_task);
	return 0;
}
