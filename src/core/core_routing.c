/*
 * core_routing.c: the routing engine in the server. Everything here runs on
 * the core thread (libre re_main), which owns the engine, the tasks, the
 * offers and the agents' states; other threads reach it only through the
 * libre mqueue allocated in core_routing_alloc:
 *
 *   web thread   --MQ_CMD-->     a task/offer/agent-state command (api_core.h)
 *   store writer --MQ_CONFIG-->  a committed queue.* / agent.* / skill.* event
 *   store writer --MQ_WRITTEN--> one of our event writes committed
 *
 * Every engine call gets `now` from tmr_jiffies() (monotonic ms); after each
 * call one libre timer is re-armed to the engine's next due time.
 *
 * Decisions reported by the engine (decide callback) update the small
 * projection kept here (task state, live offers), push offers and withdrawn
 * offers to the agent's WebSockets at once (api_user_message), and become
 * events collected in `pend`. After the engine call the collected events
 * are written in one store job; a command is answered only when that job
 * committed, so an acknowledged change is durable (task.created is written
 * before the task enters the engine at all).
 *
 * A create command may carry a prejob (api_core.h): it runs in the same
 * store job as task.created, before it, so e.g. a chat conversation and its
 * first task are durable together or not at all.
 *
 * Conversations (docs/CHAT.md): a task whose attributes carry an integer
 * "conversation_id" belongs to that chat; its task.* events say so, and
 * accepting it writes chat.joined under the conversation's id.
 *
 * Read-only figures: queue status (open by business hours, agents logged
 * in and available, waiting) and the supervisor's live figures (today's
 * counts per queue, kept in memory here, bumped as events are decided,
 * rebuilt from the log of today at start, reset at local midnight).
 *
 * Ids: tasks carry a durable id of our own (the events' `interaction`
 * column, continued from max(interaction) at start); the engine's task ids
 * stay private. Offer ids and versions are the engine's. Queue, agent and
 * skill ids are the store's.
 */
#include "core/core_int.h"
#include "api/api.h"
#include "api/api_core.h"
#include "base/base.h"
#include "store/store.h"
#include "voice/voice.h"

/* libre piecewise: re.h would pull in re_json.h, which clashes with jansson */
#include <re_types.h>
#include <re_mem.h>
#include <re_list.h>
#include <re_hash.h>
#include <re_tmr.h>
#include <re_mqueue.h>
#include <re_main.h>

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MOD "routing"
#define FINISHED_KEEP 2000 /* finished tasks kept for GET and wrap-up */

enum { MQ_CMD = 1, MQ_CONFIG, MQ_WRITTEN, MQ_STOP };

/* Today's figures of a queue (docs/CHAT.md "Supervisor's live figures"):
 * counted as the events are decided, rebuilt from the log at start, reset
 * at local midnight. */
struct core_day {
	uint32_t offered;        /* task.created */
	uint32_t answered;       /* task.accepted */
	uint32_t abandoned;      /* task.abandoned */
	uint32_t answered_in_sl; /* accepted within service_level.seconds of creation */
};

struct core_queue {
	struct le le;
	uint32_t id;
	bool routable;      /* the engine has it: tasks for it are taken */
	unsigned channels;
	int priority;
	unsigned n_skills;
	json_t *doc;        /* stored document: name, business_hours, wrap-up rules */
	int64_t sl_ms;      /* service_level.seconds */
	int sl_percent;
	unsigned waiting;   /* tasks queued or offered (not yet accepted) */
	struct core_day today;
	/* scratch of one QUEUE_STATUS / LIVE_STATS command */
	unsigned st_logged, st_avail;
	int64_t st_oldest;
};

struct core_agent {
	struct le le;
	uint32_t id;
	int64_t user_id;
	char reason[65];
	enum routing_agent_state requested;
	json_t *doc; /* last stored document, re-applied when a queue appears */
	uint32_t *queues;  /* the queues it serves (from doc) */
	unsigned n_queues;
	uint8_t capacity[ROUTING_CH_COUNT], block[ROUTING_CH_COUNT];
	int64_t since;     /* wall ms of the last reported state change */
	json_t *st_tasks;  /* scratch of one LIVE_STATS command */
};

struct core_task;
struct core_offer {
	struct le le;  /* cr->offers */
	struct le tle; /* task->offers */
	uint64_t id;
	uint32_t version;
	uint32_t agent;
	int64_t expires;
	struct core_task *t;
};

struct core_task {
	struct le le;  /* cr->tasks */
	struct le fle; /* cr->finished */
	int64_t id;
	uint64_t eid;  /* engine id while in the engine */
	bool in_engine;
	uint32_t queue;
	enum routing_channel ch;
	int priority;
	struct routing_skill skills[ROUTING_MAX_REQS];
	unsigned n_skills;
	char lang[17];
	int lang_id;
	int64_t customer;
	char *attributes;
	int64_t conversation; /* attributes.conversation_id, 0 if none */
	bool waiting;         /* counted in its queue's `waiting` */
	enum routing_task_state state;
	uint32_t agent;
	bool has_agent;
	struct list offers;
	int64_t created_wall;
	char *disposition, *notes;
	struct api_cmd *create_cmd; /* until task.created committed */
	core_task_h *h;             /* core_routing_task_open's callback */
	void *harg;
	bool abandon_pending;       /* abandoned before it was routed */
};

/* A decision reported to a task's callback (core_routing_task_open). */
struct core_note {
	struct le le;
	core_task_h *h;
	void *harg;
	struct core_task_note n;
	char username[65];
	char state[16];
};

struct core_user {
	struct le le;
	int64_t id;
	char username[65];
};

/* A batch of events for one store write, and what to do after it. */
struct core_write {
	struct core_routing *cr;
	struct api_cmd *cmd;      /* answer after commit */
	struct core_task *route;  /* add to the engine after commit */
	store_job_h *prejob;      /* run first in the same job (api_cmd.prejob) */
	struct api_cmd *pcmd;     /* its argument */
	int err;
	size_t n, cap;
	struct store_event *evs;
};

struct config_msg {
	char type[64];
	int64_t id;
	char *payload;
};

struct core_routing {
	struct routing *r;
	struct store *st;
	struct api *api;
	struct mqueue *mq;
	struct tmr tmr;
	struct hash *tasks, *offers, *agents, *queues, *users;
	struct list notes;         /* decisions for task callbacks, not yet delivered */
	struct tmr ntmr;           /* delivers them */
	struct list finished;
	unsigned nfinished;
	struct core_table langs, reasons;
	int64_t next_task_id;
	/* API offer id = offer_base + engine offer id. The base is the start
	 * time in ms x 1000, so an offer id from before a restart never names
	 * an offer of this run (the engine counts from 1 again). */
	int64_t offer_base;
	struct core_write *pend;   /* events of the current engine call */
	const char *note;          /* extra "reason" for the next TASK_END event */
	int64_t actor;             /* user causing the current call, 0 system */
	int64_t day_start, day_end; /* the local day the queues' counters cover */
	unsigned writes_inflight;
	struct voice *voice;       /* the call commands' target; NULL: SIP is off */
	struct tmr etmr;           /* writes call.* events from the voice module */
	bool in_cmd;               /* on_cmd is running (its caller is the actor) */
	bool draining;
	atomic_bool stopping;
};

static const char *const task_state_names[] = {"queued", "offered", "accepted", "wrapup",
					       "done", "abandoned", "cancelled", "timed_out",
					       "overflowed"};
static const char *const agent_state_names[] = {"offline", "available", "away", "busy",
						"wrapup"};

static int64_t now_ms(void)
{
	return (int64_t)tmr_jiffies();
}

/* ---- lookups ------------------------------------------------------------ */

static uint32_t key64(uint64_t k)
{
	return (uint32_t)(k ^ (k >> 32));
}

static bool task_cmp(struct le *le, void *arg)
{
	return ((struct core_task *)le->data)->id == *(int64_t *)arg;
}
static bool offer_cmp(struct le *le, void *arg)
{
	return ((struct core_offer *)le->data)->id == *(uint64_t *)arg;
}
static bool agent_cmp(struct le *le, void *arg)
{
	return ((struct core_agent *)le->data)->id == *(uint32_t *)arg;
}
static bool queue_cmp(struct le *le, void *arg)
{
	return ((struct core_queue *)le->data)->id == *(uint32_t *)arg;
}

static struct core_task *task_find(struct core_routing *cr, int64_t id)
{
	return list_ledata(hash_lookup(cr->tasks, key64((uint64_t)id), task_cmp, &id));
}
static struct core_offer *offer_find(struct core_routing *cr, uint64_t id)
{
	return list_ledata(hash_lookup(cr->offers, key64(id), offer_cmp, &id));
}
static struct core_agent *agent_find(struct core_routing *cr, uint32_t id)
{
	return list_ledata(hash_lookup(cr->agents, id, agent_cmp, &id));
}
static struct core_queue *queue_find(struct core_routing *cr, uint32_t id)
{
	return list_ledata(hash_lookup(cr->queues, id, queue_cmp, &id));
}

static bool user_cmp(struct le *le, void *arg)
{
	return ((struct core_user *)le->data)->id == *(int64_t *)arg;
}

static struct core_user *user_find(struct core_routing *cr, int64_t id)
{
	return list_ledata(hash_lookup(cr->users, key64((uint64_t)id), user_cmp, &id));
}

static void user_set(struct core_routing *cr, int64_t id, const char *username)
{
	struct core_user *u = user_find(cr, id);
	if (!username) {
		if (u) {
			hash_unlink(&u->le);
			free(u);
		}
		return;
	}
	if (!u) {
		u = calloc(1, sizeof(*u));
		if (!u)
			return;
		u->id = id;
		hash_append(cr->users, key64((uint64_t)id), &u->le, u);
	}
	snprintf(u->username, sizeof(u->username), "%s", username);
}

static void task_free(struct core_task *t)
{
	free(t->attributes);
	free(t->disposition);
	free(t->notes);
	free(t);
}

/* ---- rendering ------------------------------------------------------------ */

static json_t *task_json(struct core_routing *cr, struct core_task *t, bool with_info)
{
	char ts[32];
	json_t *skills = json_array();
	for (unsigned i = 0; i < t->n_skills; i++)
		json_array_append_new(skills, json_pack("{s:i, s:i}", "skill_id", (int)t->skills[i].id,
							"min_level", (int)t->skills[i].level));
	json_t *attrs = t->attributes ? json_loads(t->attributes, 0, NULL) : NULL;
	json_t *j = json_pack("{s:I, s:s, s:s, s:I, s:i, s:o, s:o, s:s}", "id", (json_int_t)t->id,
			      "state", task_state_names[t->state], "channel", core_channel_name(t->ch),
			      "queue_id", (json_int_t)t->queue, "priority", t->priority, "skills",
			      skills, "attributes", attrs ? attrs : json_object(), "created_at",
			      base_iso8601(t->created_wall, ts, sizeof(ts)));
	json_object_set_new(j, "language", t->lang[0] ? json_string(t->lang) : json_null());
	json_object_set_new(j, "customer_id", t->customer ? json_integer(t->customer) : json_null());
	json_object_set_new(j, "agent_id", t->has_agent ? json_integer(t->agent) : json_null());
	json_object_set_new(j, "disposition", t->disposition ? json_string(t->disposition) : json_null());
	json_object_set_new(j, "notes", t->notes ? json_string(t->notes) : json_null());
	int64_t pos = 0, ewt = -1;
	if (with_info && t->in_engine) {
		struct routing_task_info ti;
		if (routing_task_info(cr->r, t->eid, now_ms(), &ti) == 0) {
			pos = ti.position;
			ewt = ti.position ? ti.ewt_ms : -1;
		}
	}
	json_object_set_new(j, "position", json_integer(pos));
	json_object_set_new(j, "estimated_wait_seconds",
			    ewt >= 0 ? json_integer((ewt + 999) / 1000) : json_null());
	return j;
}

static char *dump_decref(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return s;
}

/* A task's event payload with its conversation (docs/CHAT.md) added. */
static json_t *with_conv(const struct core_task *t, json_t *p)
{
	if (t && t->conversation && p)
		json_object_set_new(p, "conversation_id", json_integer(t->conversation));
	return p;
}

/* attributes.conversation_id: > 0 names a conversation; 0 means "this task
 * starts one" (its own id, filled in at create); -1 none. */
static int64_t conv_attr(json_t *attrs)
{
	json_t *c = json_object_get(attrs, "conversation_id");
	return json_is_integer(c) && json_integer_value(c) >= 0 ? json_integer_value(c) : -1;
}

/* ---- live figures (cheap counters; the hot path only bumps them) ---------- */

static bool day_reset(struct le *le, void *arg)
{
	(void)arg;
	struct core_queue *q = le->data;
	memset(&q->today, 0, sizeof(q->today));
	return false;
}

/* Move the counters to the local day of `wall` (ms) if it is another. */
static void day_roll(struct core_routing *cr, int64_t wall)
{
	if (wall >= cr->day_start && wall < cr->day_end)
		return;
	core_local_day(wall, &cr->day_start, &cr->day_end);
	hash_apply(cr->queues, day_reset, NULL);
}

enum day_what { DAY_OFFERED, DAY_ANSWERED, DAY_ABANDONED };

static void day_count(struct core_routing *cr, uint32_t queue, enum day_what what, int64_t wait_ms)
{
	day_roll(cr, store_now_ms());
	struct core_queue *q = queue_find(cr, queue);
	if (!q)
		return;
	switch (what) {
	case DAY_OFFERED: q->today.offered++; break;
	case DAY_ANSWERED:
		q->today.answered++;
		if (wait_ms <= q->sl_ms)
			q->today.answered_in_sl++;
		break;
	case DAY_ABANDONED: q->today.abandoned++; break;
	}
}

/* A task counts as waiting in its queue from entering the engine until it
 * is accepted or ends. */
static void waiting_set(struct core_routing *cr, struct core_task *t, bool on)
{
	if (t->waiting == on)
		return;
	t->waiting = on;
	struct core_queue *q = queue_find(cr, t->queue);
	if (q && on)
		q->waiting++;
	else if (q && q->waiting)
		q->waiting--;
}

/* ---- events and writes ------------------------------------------------------ */

static struct core_write *pend(struct core_routing *cr)
{
	if (!cr->pend) {
		cr->pend = calloc(1, sizeof(*cr->pend));
		if (cr->pend)
			cr->pend->cr = cr;
	}
	return cr->pend;
}

/* Queue an event for the next flush (takes payload). */
static void ev_add(struct core_routing *cr, const char *type, int64_t task, int64_t agent,
		   int64_t queue, json_t *payload)
{
	struct core_write *w = pend(cr);
	if (w && w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 8;
		struct store_event *evs = realloc(w->evs, cap * sizeof(*evs));
		if (evs) {
			w->evs = evs;
			w->cap = cap;
		}
	}
	if (!w || w->n == w->cap) {
		LOG_ERROR(MOD, "out of memory: event %s lost", type);
		json_decref(payload);
		return;
	}
	struct store_event *e = &w->evs[w->n++];
	memset(e, 0, sizeof(*e));
	e->type = strdup(type);
	e->interaction = task;
	e->agent = agent;
	e->queue = queue;
	e->actor = cr->actor;
	e->payload = dump_decref(payload);
}

static void write_free(struct core_write *w)
{
	for (size_t i = 0; i < w->n; i++) {
		free((char *)w->evs[i].type);
		free((char *)w->evs[i].payload);
	}
	free(w->evs);
	free(w);
}

static int write_job(struct store_tx *tx, void *arg)
{
	struct core_write *w = arg;
	if (w->prejob) {
		int r = w->prejob(tx, w->pcmd);
		if (r)
			return r < 0 ? r : -EIO;
	}
	for (size_t i = 0; i < w->n; i++) {
		int r = store_event_append(tx, &w->evs[i]);
		if (r)
			return r;
	}
	return 0;
}

static void write_done(int err, void *arg)
{
	struct core_write *w = arg;
	w->err = err;
	if (mqueue_push(w->cr->mq, MQ_WRITTEN, w))
		LOG_ERROR(MOD, "cannot reach the core thread after a write");
}

static void reply(struct api_cmd *cmd)
{
	if (cmd)
		api_cmd_done(cmd);
}

static void task_route(struct core_routing *cr, struct core_task *t, int err);

/* Write what the last engine call decided; then answer cmd (and, for a
 * new task, route it). With nothing to write, answer at once. */
static void flush(struct core_routing *cr, struct api_cmd *cmd, struct core_task *route)
{
	struct core_write *w = cr->pend;
	cr->pend = NULL;
	if (!w && !cmd && !route)
		return;
	if (!w && !route) {
		reply(cmd);
		return;
	}
	if (!w && !(w = calloc(1, sizeof(*w)))) {
		LOG_ERROR(MOD, "out of memory");
		if (cmd) {
			cmd->status = 500;
			snprintf(cmd->detail, sizeof(cmd->detail), "out of memory");
		}
		reply(cmd);
		if (route)
			task_route(cr, route, -ENOMEM);
		return;
	}
	w->cr = cr;
	w->cmd = cmd;
	w->route = route;
	cr->writes_inflight++;
	int r = store_write(cr->st, write_job, write_done, w);
	if (r) {
		cr->writes_inflight--;
		LOG_ERROR(MOD, "store refused a write: %d", r);
		if (cmd) {
			cmd->status = 503;
			snprintf(cmd->detail, sizeof(cmd->detail), "the store is not accepting work");
		}
		reply(cmd);
		write_free(w);
		if (route) /* answers its create command with 503 */
			task_route(cr, route, r);
	}
}

static void rearm(struct core_routing *cr);

/* ---- decisions ---------------------------------------------------------------- */

static void offer_drop(struct core_routing *cr, struct core_offer *o)
{
	hash_unlink(&o->le);
	list_unlink(&o->tle);
	free(o);
	(void)cr;
}

static void push_user(struct core_routing *cr, uint32_t agent_id, json_t *msg)
{
	struct core_agent *a = agent_find(cr, agent_id);
	if (!a || !a->user_id || !cr->api) {
		json_decref(msg);
		return;
	}
	char *s = dump_decref(msg);
	api_user_message(cr->api, a->user_id, s);
	free(s);
}

static void task_finish(struct core_routing *cr, struct core_task *t)
{
	while (!list_isempty(&t->offers))
		offer_drop(cr, list_head(&t->offers)->data);
	t->in_engine = false;
	list_append(&cr->finished, &t->fle, t);
	if (++cr->nfinished > FINISHED_KEEP) {
		struct core_task *old = list_head(&cr->finished)->data;
		list_unlink(&old->fle);
		hash_unlink(&old->le);
		task_free(old);
		cr->nfinished--;
	}
}

/* An agent accepted a conversation's task: it joins the chat
 * (docs/CHAT.md, chat.joined). */
static void chat_joined(struct core_routing *cr, struct core_task *t)
{
	struct core_agent *a = agent_find(cr, t->agent);
	const char *name = a ? json_string_value(json_object_get(a->doc, "name")) : NULL;
	json_t *p = json_pack("{s:o, s:I, s:s, s:I}", "user_id",
			      a && a->user_id ? json_integer(a->user_id) : json_null(), "agent_id",
			      (json_int_t)t->agent, "name", name ? name : "", "task_id", (json_int_t)t->id);
	ev_add(cr, "chat.joined", t->conversation, t->agent, t->queue, p);
}

/* ---- reports to task callbacks (core_routing_task_open) ------------------------- */

static void notes_run(void *arg)
{
	struct core_routing *cr = arg;
	while (!list_isempty(&cr->notes)) {
		struct core_note *n = list_head(&cr->notes)->data;
		list_unlink(&n->le);
		n->n.username = n->username[0] ? n->username : NULL;
		n->n.state = n->state;
		n->h(&n->n, n->harg);
		free(n);
	}
}

static void note_add(struct core_routing *cr, struct core_task *t, enum core_note_type type,
		     const struct routing_decision *d)
{
	if (!t || !t->h)
		return;
	struct core_note *n = calloc(1, sizeof(*n));
	if (!n) {
		LOG_ERROR(MOD, "out of memory: a decision about task %" PRId64 " not reported", t->id);
		return;
	}
	n->h = t->h;
	n->harg = t->harg;
	n->n.type = type;
	n->n.task = t->id;
	if (d) {
		n->n.offer = d->offer ? cr->offer_base + (int64_t)d->offer : 0;
		n->n.version = d->version;
		n->n.timeout_ms = d->expires - d->now;
		n->n.agent = d->has_agent ? d->agent : 0;
		struct core_agent *a = d->has_agent ? agent_find(cr, d->agent) : NULL;
		struct core_user *u = a && a->user_id ? user_find(cr, a->user_id) : NULL;
		if (u)
			snprintf(n->username, sizeof(n->username), "%s", u->username);
	}
	snprintf(n->state, sizeof(n->state), "%s", task_state_names[t->state]);
	list_append(&cr->notes, &n->le, n);
	tmr_start(&cr->ntmr, 0, notes_run, cr);
}

static void on_decide(void *arg, const struct routing_decision *d)
{
	struct core_routing *cr = arg;
	struct core_task *t = d->user;
	char line[512];
	routing_decision_format(d, line, sizeof(line));
	json_t *p = json_pack("{s:s, s:s, s:s}", "decision", routing_decision_type_name(d->type),
			      "reason", routing_reason_name(d->reason), "line", line);
	int64_t tid = t ? t->id : 0, agent = d->has_agent ? d->agent : 0;
	const char *type = NULL;
	struct core_offer *o = d->offer ? offer_find(cr, d->offer) : NULL;

	switch (d->type) {
	case ROUTING_D_OFFER: {
		type = "task.offered";
		t->state = ROUTING_TASK_OFFERED;
		o = calloc(1, sizeof(*o));
		if (o) {
			o->id = d->offer;
			o->version = d->version;
			o->agent = d->agent;
			o->expires = d->expires;
			o->t = t;
			hash_append(cr->offers, key64(o->id), &o->le, o);
			list_append(&t->offers, &o->tle, o);
		}
		int64_t timeout = d->expires - d->now;
		json_object_set_new(p, "offer_id", json_integer(cr->offer_base + (json_int_t)d->offer));
		json_object_set_new(p, "version", json_integer(d->version));
		json_object_set_new(p, "timeout_ms", json_integer(timeout));
		json_object_set_new(p, "strategy", json_string(routing_strategy_name(d->strategy)));
		json_object_set_new(p, "candidates", json_integer(d->candidates));
		json_object_set_new(p, "wait_ms", json_integer(d->wait_ms));
		push_user(cr, d->agent,
			  json_pack("{s:s, s:I, s:i, s:I, s:o}", "type", "offer", "offer_id",
				    cr->offer_base + (json_int_t)d->offer, "version", (int)d->version, "timeout_ms",
				    (json_int_t)timeout, "task", task_json(cr, t, false)));
		note_add(cr, t, CORE_NOTE_OFFER, d);
		break;
	}
	case ROUTING_D_WITHDRAW:
	case ROUTING_D_REQUEUE:
		if (d->type == ROUTING_D_WITHDRAW)
			type = "task.offer_withdrawn";
		else if (d->reason == ROUTING_R_REJECTED)
			type = "task.rejected";
		else if (d->reason == ROUTING_R_OFFER_TIMEOUT)
			type = "task.timed_out";
		else
			type = "task.requeued";
		if (d->type == ROUTING_D_REQUEUE && t)
			t->state = ROUTING_TASK_QUEUED;
		if (d->offer) {
			json_object_set_new(p, "offer_id", json_integer(cr->offer_base + (json_int_t)d->offer));
			json_object_set_new(p, "version", json_integer(d->version));
			if (d->has_agent && d->reason != ROUTING_R_REJECTED)
				push_user(cr, d->agent,
					  json_pack("{s:s, s:I, s:i, s:I, s:s}", "type", "offer_withdrawn",
						    "offer_id", cr->offer_base + (json_int_t)d->offer, "version",
						    (int)d->version, "task_id", (json_int_t)tid, "reason",
						    routing_reason_name(d->reason)));
		}
		if (d->reason == ROUTING_R_OFFER_TIMEOUT)
			json_object_set_new(p, "what", json_string("offer"));
		if (d->offer)
			note_add(cr, t, CORE_NOTE_WITHDRAWN, d);
		if (o)
			offer_drop(cr, o);
		break;
	case ROUTING_D_ACCEPT: {
		type = "task.accepted";
		t->state = ROUTING_TASK_ACCEPTED;
		t->agent = d->agent;
		t->has_agent = true;
		struct core_agent *a = agent_find(cr, d->agent);
		/* queued_ms: since task.created, on the wall clock, so it counts
		 * across a restart (the engine's wait_ms starts again then); the
		 * service level is measured on it. */
		int64_t queued = store_now_ms() - t->created_wall;
		json_object_set_new(p, "offer_id", json_integer(cr->offer_base + (json_int_t)d->offer));
		json_object_set_new(p, "wait_ms", json_integer(d->wait_ms));
		json_object_set_new(p, "queued_ms", json_integer(queued));
		json_object_set_new(p, "user_id", a && a->user_id ? json_integer(a->user_id) : json_null());
		waiting_set(cr, t, false);
		day_count(cr, t->queue, DAY_ANSWERED, queued);
		note_add(cr, t, CORE_NOTE_ACCEPTED, d);
		if (o)
			offer_drop(cr, o);
		break;
	}
	case ROUTING_D_STEP:
		type = "task.step";
		json_object_set_new(p, "step", json_integer(d->arg));
		break;
	case ROUTING_D_CALLBACK:
		type = "task.callback_offered";
		break;
	case ROUTING_D_TASK_MOVED:
		type = "task.moved";
		if (t) {
			waiting_set(cr, t, false);
			t->queue = d->arg;
			waiting_set(cr, t, true);
		}
		json_object_set_new(p, "to_queue", json_integer(d->arg));
		break;
	case ROUTING_D_WRAPUP:
		type = "task.wrapup_started";
		t->state = ROUTING_TASK_WRAPUP;
		break;
	case ROUTING_D_TASK_END:
		t->state = d->task_state;
		switch (d->task_state) {
		case ROUTING_TASK_DONE: type = "task.done"; break;
		case ROUTING_TASK_ABANDONED: type = "task.abandoned"; break;
		case ROUTING_TASK_CANCELLED: type = "task.cancelled"; break;
		case ROUTING_TASK_TIMED_OUT: type = "task.expired"; break; /* max wait */
		case ROUTING_TASK_OVERFLOWED: type = "task.overflowed"; break;
		default: type = "task.ended"; break;
		}
		json_object_set_new(p, "state", json_string(task_state_names[d->task_state]));
		if (d->task_state == ROUTING_TASK_OVERFLOWED)
			json_object_set_new(p, "to_queue", json_integer(d->arg));
		if (d->task_state == ROUTING_TASK_ABANDONED) {
			int64_t wait = store_now_ms() - t->created_wall;
			json_object_set_new(p, "wait_ms", json_integer(wait));
			day_count(cr, t->queue, DAY_ABANDONED, wait);
		}
		if (cr->note)
			json_object_set_new(p, "note", json_string(cr->note));
		waiting_set(cr, t, false);
		note_add(cr, t, CORE_NOTE_ENDED, d);
		t->h = NULL;
		task_finish(cr, t);
		break;
	case ROUTING_D_AGENT_STATE: {
		type = "agent.state_changed";
		struct core_agent *a = agent_find(cr, d->agent);
		json_object_set_new(p, "state", json_string(agent_state_names[d->agent_state]));
		json_object_set_new(p, "away_reason",
				    d->away_reason == ROUTING_REASON_MISSED_OFFERS ? json_string("missed-offers")
				    : (a && a->reason[0]) ? json_string(a->reason) : json_null());
		if (a && d->reason == ROUTING_R_MISSED_OFFERS) {
			a->requested = ROUTING_AGENT_AWAY;
			snprintf(a->reason, sizeof(a->reason), "missed-offers");
		}
		if (a)
			a->since = store_now_ms();
		tid = 0;
		break;
	}
	}
	if (!type) {
		json_decref(p);
		return;
	}
	ev_add(cr, type, tid, agent, d->queue, tid ? with_conv(t, p) : p);
	if (d->type == ROUTING_D_ACCEPT && t->conversation)
		chat_joined(cr, t);
}

/* ---- the timer ------------------------------------------------------------------ */

static void on_tmr(void *arg)
{
	struct core_routing *cr = arg;
	cr->actor = 0;
	routing_tick(cr->r, now_ms());
	flush(cr, NULL, NULL);
	rearm(cr);
}

static void rearm(struct core_routing *cr)
{
	int64_t next = routing_next_due(cr->r);
	if (next == ROUTING_NEVER || cr->draining) {
		tmr_cancel(&cr->tmr);
		return;
	}
	int64_t now = now_ms();
	tmr_start(&cr->tmr, next > now ? (uint64_t)(next - now) : 0, on_tmr, cr);
}

/* ---- configuration (queues, agents) ---------------------------------------------- */

static void agent_apply(struct core_routing *cr, uint32_t id, json_t *doc)
{
	struct core_agent_conf *c = malloc(sizeof(*c));
	if (!c)
		return;
	int r = core_agent_conf_from_doc(doc, &cr->langs, c);
	if (r == -ERANGE)
		LOG_WARN(MOD, "agent %u: skill ids above %d are not routed", id, ROUTING_MAX_SKILL);
	else if (r) {
		free(c);
		return;
	}
	r = routing_agent_set(cr->r, id, &c->spec, now_ms());
	if (r) {
		LOG_ERROR(MOD, "agent %u: the engine refused it: %d", id, r);
		free(c);
		return;
	}
	struct core_agent *a = agent_find(cr, id);
	if (!a && (a = calloc(1, sizeof(*a)))) {
		a->id = id;
		a->since = store_now_ms(); /* every agent starts offline */
		hash_append(cr->agents, id, &a->le, a);
	}
	if (a) {
		a->user_id = c->user_id;
		json_decref(a->doc);
		a->doc = json_incref(doc);
		uint32_t *qs = c->spec.n_queues ? malloc(c->spec.n_queues * sizeof(*qs)) : NULL;
		if (qs)
			memcpy(qs, c->queues, c->spec.n_queues * sizeof(*qs));
		free(a->queues);
		a->queues = qs;
		a->n_queues = qs ? c->spec.n_queues : 0;
		memcpy(a->capacity, c->spec.capacity, sizeof(a->capacity));
		memcpy(a->block, c->spec.block, sizeof(a->block));
	}
	free(c);
}

static void agent_free(struct core_agent *a)
{
	json_decref(a->doc);
	json_decref(a->st_tasks);
	free(a->queues);
	free(a);
}

static void agent_forget(struct core_routing *cr, uint32_t id)
{
	int r = routing_agent_remove(cr->r, id, now_ms());
	if (r == -EBUSY) {
		/* still holds work: no new work; removed when it is set again */
		routing_agent_set_state(cr->r, id, ROUTING_AGENT_OFFLINE, 0, now_ms());
		LOG_WARN(MOD, "agent %u deleted while it holds work; set offline", id);
		return;
	}
	struct core_agent *a = agent_find(cr, id);
	if (a) {
		hash_unlink(&a->le);
		agent_free(a);
	}
}

static bool reapply_if_member(struct le *le, void *arg)
{
	struct core_agent *a = le->data;
	uint32_t q = *(uint32_t *)((void **)arg)[1];
	struct core_routing *cr = ((void **)arg)[0];
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(a->doc, "queues"), i, v)
		if (json_integer_value(v) == q) {
			agent_apply(cr, a->id, a->doc);
			break;
		}
	return false;
}

/* A queue document from the store. One the engine cannot take is still
 * known here (its name, hours and status are shown) but takes no tasks; an
 * update the engine refuses leaves the previous routing in place. */
static void queue_apply(struct core_routing *cr, uint32_t id, json_t *doc)
{
	struct core_queue_conf c;
	int r = core_queue_conf_from_doc(doc, &c);
	if (r) {
		LOG_ERROR(MOD, "queue %u cannot be routed (%s); tasks for it are refused", id,
			  r == -E2BIG ? "more than 8 required skills" :
			  r == -ERANGE ? "a skill id above 4095" : "bad document");
	} else if ((r = routing_queue_set(cr->r, id, &c.spec, now_ms()))) {
		LOG_ERROR(MOD, "queue %u: the engine refused it: %d", id, r);
	}
	struct core_queue *q = queue_find(cr, id);
	bool created = !q, was_routable = q && q->routable;
	if (!q && (q = calloc(1, sizeof(*q)))) {
		q->id = id;
		hash_append(cr->queues, id, &q->le, q);
	}
	if (!q)
		return;
	json_decref(q->doc);
	q->doc = json_incref(doc);
	json_t *sl = json_object_get(doc, "service_level");
	json_t *sec = json_object_get(sl, "seconds"), *pct = json_object_get(sl, "percent");
	q->sl_ms = (json_is_integer(sec) ? json_integer_value(sec) : 20) * 1000;
	q->sl_percent = json_is_integer(pct) ? (int)json_integer_value(pct) : 80;
	if (!r) {
		q->routable = true;
		q->channels = c.channels;
		q->priority = c.priority;
		q->n_skills = c.spec.n_skills;
	} else if (created) {
		size_t i;
		json_t *v;
		json_array_foreach(json_object_get(doc, "channels"), i, v) {
			int ch = core_channel_parse(json_string_value(v));
			if (ch >= 0)
				q->channels |= 1u << ch;
		}
	}
	if (!was_routable && q->routable) { /* agents loaded before it may serve it now */
		void *args[2] = {cr, &id};
		hash_apply(cr->agents, reapply_if_member, args);
	}
}

static void queue_free(struct core_queue *q)
{
	json_decref(q->doc);
	free(q);
}

static void queue_forget(struct core_routing *cr, uint32_t id)
{
	routing_queue_remove(cr->r, id, now_ms());
	struct core_queue *q = queue_find(cr, id);
	if (q) {
		hash_unlink(&q->le);
		queue_free(q);
	}
}

static void on_config(struct core_routing *cr, struct config_msg *m)
{
	json_t *doc = json_loads(m->payload ? m->payload : "{}", 0, NULL);
	if (!strncmp(m->type, "user.", 5)) { /* usernames, for the voice channel */
		json_t *id = json_object_get(doc, "id");
		if (json_is_integer(id))
			user_set(cr, json_integer_value(id),
				 strcmp(m->type, "user.deleted")
					 ? json_string_value(json_object_get(doc, "username")) : NULL);
	} else if (m->id > 0 && m->id <= UINT32_MAX) {
		uint32_t id = (uint32_t)m->id;
		cr->actor = 0;
		if (!strcmp(m->type, "queue.created") || !strcmp(m->type, "queue.updated"))
			queue_apply(cr, id, doc);
		else if (!strcmp(m->type, "queue.deleted"))
			queue_forget(cr, id);
		else if (!strcmp(m->type, "agent.created") || !strcmp(m->type, "agent.updated"))
			agent_apply(cr, id, doc);
		else if (!strcmp(m->type, "agent.deleted"))
			agent_forget(cr, id);
		/* skill.*: skills are only ids to the engine; the queue and agent
		 * documents that name them are what routing follows. */
		flush(cr, NULL, NULL);
		rearm(cr);
	}
	json_decref(doc);
}

/* ---- commands ---------------------------------------------------------------------- */

static void fail(struct api_cmd *cmd, int status, const char *field, const char *detail)
{
	cmd->status = status;
	snprintf(cmd->field, sizeof(cmd->field), "%s", field ? field : "");
	snprintf(cmd->detail, sizeof(cmd->detail), "%s", detail);
}

static void ok(struct core_routing *cr, struct api_cmd *cmd, int status, json_t *j)
{
	(void)cr;
	cmd->status = status;
	cmd->resp = dump_decref(j);
}

static bool own_agent(struct core_routing *cr, struct api_cmd *cmd, uint32_t agent)
{
	struct core_agent *a = agent_find(cr, agent);
	return a && a->user_id && a->user_id == cmd->user_id;
}

/* Fill a new task from a validated task body (POST /tasks, or the payload
 * of a task.created event when rebuilding). Returns NULL with cmd's
 * problem set (when cmd is given). */
static struct core_task *task_from_json(struct core_routing *cr, json_t *b, struct api_cmd *cmd)
{
	uint32_t qid = (uint32_t)json_integer_value(json_object_get(b, "queue_id"));
	struct core_queue *q = queue_find(cr, qid);
	if (!q || !q->routable) {
		if (cmd)
			fail(cmd, 422, "queue_id", "queue_id: no such queue, or it cannot be routed");
		return NULL;
	}
	struct core_task *t = calloc(1, sizeof(*t));
	if (!t) {
		if (cmd)
			fail(cmd, 500, NULL, "out of memory");
		return NULL;
	}
	list_init(&t->offers);
	json_t *ch = json_object_get(b, "channel");
	int c = ch ? core_channel_parse(json_string_value(ch)) : -1;
	if (c >= 0) {
		t->ch = (enum routing_channel)c;
	} else {
		for (c = ROUTING_CH_COUNT - 1; c >= 0; c--)
			if (q->channels & (1u << c))
				t->ch = (enum routing_channel)c;
	}
	const char *field = NULL, *detail = NULL;
	if (!(q->channels & (1u << t->ch))) {
		field = "channel";
		detail = "channel: the queue does not take this channel";
	}
	json_t *pr = json_object_get(b, "priority");
	t->priority = json_is_integer(pr) ? (int)json_integer_value(pr) : q->priority;
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(b, "skills"), i, v) {
		if (t->n_skills == ROUTING_MAX_REQS)
			break;
		t->skills[t->n_skills].id = (uint16_t)json_integer_value(json_object_get(v, "skill_id"));
		t->skills[t->n_skills].level = (uint8_t)json_integer_value(json_object_get(v, "min_level"));
		t->n_skills++;
	}
	if (!field && t->n_skills + q->n_skills > ROUTING_MAX_REQS) {
		field = "skills";
		detail = "skills: with the queue's own, at most 8 requirements";
	}
	const char *lang = json_string_value(json_object_get(b, "language"));
	t->lang_id = ROUTING_NO_LANG;
	if (lang && !field) {
		t->lang_id = core_table_id(&cr->langs, lang, true);
		if (t->lang_id < 0) {
			field = "language";
			detail = "language: too many distinct languages";
		}
		snprintf(t->lang, sizeof(t->lang), "%s", lang);
	}
	if (field) {
		if (cmd)
			fail(cmd, 422, field, detail);
		free(t);
		return NULL;
	}
	json_t *cu = json_object_get(b, "customer_id");
	t->customer = json_is_integer(cu) ? json_integer_value(cu) : 0;
	json_t *at = json_object_get(b, "attributes");
	t->attributes = json_is_object(at) ? json_dumps(at, JSON_COMPACT) : strdup("{}");
	t->conversation = conv_attr(at); /* 0 (starts one) is resolved at create */
	if (t->conversation < 0)
		t->conversation = 0;
	t->queue = qid;
	t->state = ROUTING_TASK_QUEUED;
	return t;
}

static void cmd_task_create(struct core_routing *cr, struct api_cmd *cmd)
{
	struct core_task *t = task_from_json(cr, cmd->body, cmd);
	if (!t)
		return;
	t->created_wall = store_now_ms();
	t->id = cr->next_task_id++;
	t->create_cmd = cmd;
	/* "conversation_id": 0 asks for a new conversation with this task's id
	 * (the web chat's first task, whose prejob writes chat.started) */
	json_t *at = json_object_get(cmd->body, "attributes");
	if (conv_attr(at) == 0) {
		json_t *copy = json_deep_copy(at);
		json_object_set_new(copy, "conversation_id", json_integer(t->id));
		char *s = json_dumps(copy, JSON_COMPACT);
		json_decref(copy);
		if (s) {
			free(t->attributes);
			t->attributes = s;
			t->conversation = t->id;
		}
	}
	hash_append(cr->tasks, key64((uint64_t)t->id), &t->le, t);
	json_t *p = task_json(cr, t, false);
	json_object_del(p, "position");
	json_object_del(p, "estimated_wait_seconds");
	ev_add(cr, "task.created", t->id, 0, t->queue, with_conv(t, p));
	if (cmd->prejob) {
		cmd->id = t->id;
		struct core_write *w = pend(cr);
		if (!w || !w->n) { /* task.created itself was lost */
			hash_unlink(&t->le);
			task_free(t);
			fail(cmd, 500, NULL, "out of memory");
			return;
		}
		w->prejob = cmd->prejob;
		w->pcmd = cmd;
	}
	flush(cr, NULL, t); /* answered once task.created committed and routed */
}

/* task.created committed: now route it. */

/* The engine's view of one of our tasks (the engine copies what it keeps). */
static void task_spec(struct core_task *t, struct routing_task_spec *s)
{
	routing_task_spec_init(s);
	s->channel = t->ch;
	s->queue = t->queue;
	s->priority = t->priority;
	s->skills = t->skills;
	s->n_skills = t->n_skills;
	s->language = t->lang_id;
	s->customer = (uint64_t)t->customer;
	s->user = t;
}

static void task_route(struct core_routing *cr, struct core_task *t, int err)
{
	struct api_cmd *cmd = t->create_cmd;
	t->create_cmd = NULL;
	if (err) {
		t->state = ROUTING_TASK_CANCELLED;
		note_add(cr, t, CORE_NOTE_ENDED, NULL);
		hash_unlink(&t->le);
		task_free(t);
		/* a prejob that refused may have said why (cmd->status >= 400) */
		if (cmd && cmd->status < 400)
			fail(cmd, 503, NULL, "the store failed; the task was not created");
		else if (cmd && !cmd->detail[0])
			snprintf(cmd->detail, sizeof(cmd->detail), "the task was not created");
		reply(cmd);
		return;
	}
	day_count(cr, t->queue, DAY_OFFERED, 0);
	struct routing_task_spec s;
	task_spec(t, &s);
	cr->actor = cmd ? cmd->user_id : 0;
	waiting_set(cr, t, true); /* before: the add may decide at once */
	int r = routing_task_add(cr->r, &s, now_ms(), &t->eid);
	if (r) {
		/* the queue went away (or the engine refused) between the check
		 * and the commit: the task ends at once, durably */
		waiting_set(cr, t, false);
		t->state = ROUTING_TASK_CANCELLED;
		ev_add(cr, "task.cancelled", t->id, 0, t->queue,
		       with_conv(t, json_pack("{s:s, s:i}", "reason", "not-routable", "error", r)));
		note_add(cr, t, CORE_NOTE_ENDED, NULL);
		t->h = NULL;
		task_finish(cr, t);
	} else {
		t->in_engine = true;
		if (t->abandon_pending) /* the customer left before it was routed */
			(void)routing_task_cancel(cr->r, t->eid, ROUTING_TASK_ABANDONED, now_ms());
	}
	if (cmd)
		ok(cr, cmd, 201, task_json(cr, t, true));
	flush(cr, cmd, NULL);
	rearm(cr);
}

static struct core_task *cmd_task(struct core_routing *cr, struct api_cmd *cmd)
{
	struct core_task *t = task_find(cr, cmd->id);
	if (!t || t->create_cmd) {
		fail(cmd, 404, NULL, "no such task (finished tasks are kept for a while only)");
		return NULL;
	}
	if (!cmd->privileged && !(t->has_agent && own_agent(cr, cmd, t->agent))) {
		bool offered = false;
		for (struct le *le = list_head(&t->offers); le; le = le->next)
			if (own_agent(cr, cmd, ((struct core_offer *)le->data)->agent))
				offered = true;
		if (!offered || cmd->kind != API_CMD_TASK_GET) {
			fail(cmd, 403, NULL, "this task is not yours");
			return NULL;
		}
	}
	return t;
}

static json_t *agent_json(struct core_routing *cr, struct core_agent *a)
{
	struct routing_agent_info ai;
	memset(&ai, 0, sizeof(ai));
	routing_agent_info(cr->r, a->id, &ai);
	json_t *used = json_object();
	for (int c = 0; c < ROUTING_CH_COUNT; c++)
		json_object_set_new(used, core_channel_name((enum routing_channel)c), json_integer(ai.used[c]));
	json_t *j = json_pack("{s:I, s:s, s:s, s:i, s:o}", "agent_id", (json_int_t)a->id, "state",
			      agent_state_names[ai.state], "requested", agent_state_names[ai.base],
			      "misses", (int)ai.misses, "used", used);
	json_object_set_new(j, "reason", a->reason[0] ? json_string(a->reason) : json_null());
	return j;
}

/* ---- status and live figures (read-only; cost linear in queues, agents
 * and, for the live figures, tasks held; nothing of it on the routing path) */

struct collect {
	void **v;
	size_t n, cap;
};

static bool collect_one(struct le *le, void *arg)
{
	struct collect *c = arg;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		void **v = realloc(c->v, cap * sizeof(*v));
		if (!v)
			return true; /* stop: a shorter answer beats none */
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = le->data;
	return false;
}

static int by_queue_id(const void *a, const void *b)
{
	uint32_t x = (*(struct core_queue *const *)a)->id, y = (*(struct core_queue *const *)b)->id;
	return x < y ? -1 : x > y;
}

static int by_agent_id(const void *a, const void *b)
{
	uint32_t x = (*(struct core_agent *const *)a)->id, y = (*(struct core_agent *const *)b)->id;
	return x < y ? -1 : x > y;
}

/* Every queue (or just `only`) sorted by id, scratch counters zeroed. */
static void queues_sorted(struct core_routing *cr, struct core_queue *only, struct collect *c)
{
	memset(c, 0, sizeof(*c));
	if (only) {
		c->v = malloc(sizeof(*c->v));
		if (c->v)
			c->v[c->n++] = only;
	} else {
		hash_apply(cr->queues, collect_one, c);
		if (c->n)
			qsort(c->v, c->n, sizeof(*c->v), by_queue_id);
	}
	for (size_t i = 0; i < c->n; i++) {
		struct core_queue *q = c->v[i];
		q->st_logged = q->st_avail = 0;
		q->st_oldest = INT64_MAX;
	}
}

static json_t *channels_json(unsigned mask)
{
	json_t *a = json_array();
	for (int c = 0; c < ROUTING_CH_COUNT; c++)
		if (mask & (1u << c))
			json_array_append_new(a, json_string(core_channel_name((enum routing_channel)c)));
	return a;
}

/* Available for a queue: requested available, and room for new work on
 * the queue's chat channel (a chat queue) or on any of its channels. */
static bool agent_available(const struct core_agent *a, const struct routing_agent_info *ai,
			    const struct core_queue *q)
{
	if (ai->base != ROUTING_AGENT_AVAILABLE || ai->state == ROUTING_AGENT_OFFLINE ||
	    ai->state == ROUTING_AGENT_AWAY)
		return false;
	if (q->channels & (1u << ROUTING_CH_CHAT))
		return core_agent_has_room(ai->used, a->capacity, a->block, ROUTING_CH_CHAT);
	for (int c = 0; c < ROUTING_CH_COUNT; c++)
		if ((q->channels & (1u << c)) &&
		    core_agent_has_room(ai->used, a->capacity, a->block, (enum routing_channel)c))
			return true;
	return false;
}

static void cmd_queue_status(struct core_routing *cr, struct api_cmd *cmd)
{
	struct core_queue *only = NULL;
	if (cmd->id && !(only = cmd->id <= UINT32_MAX ? queue_find(cr, (uint32_t)cmd->id) : NULL)) {
		fail(cmd, 404, NULL, "no such queue");
		return;
	}
	struct collect qs, as = {0};
	queues_sorted(cr, only, &qs);
	hash_apply(cr->agents, collect_one, &as);
	for (size_t i = 0; i < as.n; i++) {
		struct core_agent *a = as.v[i];
		struct routing_agent_info ai;
		if (routing_agent_info(cr->r, a->id, &ai))
			continue;
		for (unsigned k = 0; k < a->n_queues; k++) {
			struct core_queue *q = only ? (only->id == a->queues[k] ? only : NULL)
						    : queue_find(cr, a->queues[k]);
			if (!q)
				continue;
			if (ai.state != ROUTING_AGENT_OFFLINE)
				q->st_logged++;
			if (agent_available(a, &ai, q))
				q->st_avail++;
		}
	}
	time_t wall = (time_t)(store_now_ms() / 1000);
	json_t *list = json_array();
	for (size_t i = 0; i < qs.n; i++) {
		struct core_queue *q = qs.v[i];
		const char *name = json_string_value(json_object_get(q->doc, "name"));
		json_array_append_new(list, json_pack(
			"{s:I, s:s, s:o, s:b, s:i, s:i, s:i}", "id", (json_int_t)q->id, "name",
			name ? name : "", "channels", channels_json(q->channels), "open",
			core_queue_open(q->doc, wall), "agents_logged_in", (int)q->st_logged,
			"agents_available", (int)q->st_avail, "waiting", (int)q->waiting));
	}
	free(qs.v);
	free(as.v);
	ok(cr, cmd, 200, json_pack("{s:o}", "queues", list));
}

static bool live_task(struct le *le, void *arg)
{
	struct core_routing *cr = arg;
	struct core_task *t = le->data;
	if (!t->in_engine)
		return false;
	if (t->state == ROUTING_TASK_QUEUED || t->state == ROUTING_TASK_OFFERED) {
		struct core_queue *q = queue_find(cr, t->queue);
		if (q && t->created_wall < q->st_oldest)
			q->st_oldest = t->created_wall;
	} else if ((t->state == ROUTING_TASK_ACCEPTED || t->state == ROUTING_TASK_WRAPUP) &&
		   t->has_agent) {
		struct core_agent *a = agent_find(cr, t->agent);
		if (a && a->st_tasks)
			json_array_append_new(a->st_tasks, json_integer(t->id));
	}
	return false;
}

static int by_json_int(const void *a, const void *b)
{
	json_int_t x = json_integer_value(*(json_t *const *)a);
	json_int_t y = json_integer_value(*(json_t *const *)b);
	return x < y ? -1 : x > y;
}

static void cmd_live_stats(struct core_routing *cr, struct api_cmd *cmd)
{
	int64_t wall = store_now_ms();
	day_roll(cr, wall);
	struct collect qs, as = {0};
	queues_sorted(cr, NULL, &qs);
	hash_apply(cr->agents, collect_one, &as);
	if (as.n)
		qsort(as.v, as.n, sizeof(*as.v), by_agent_id);
	for (size_t i = 0; i < as.n; i++) {
		struct core_agent *a = as.v[i];
		json_decref(a->st_tasks);
		a->st_tasks = json_array();
	}
	hash_apply(cr->tasks, live_task, cr);

	json_t *queues = json_array();
	for (size_t i = 0; i < qs.n; i++) {
		struct core_queue *q = qs.v[i];
		const struct core_day *d = &q->today;
		const char *name = json_string_value(json_object_get(q->doc, "name"));
		int64_t oldest = q->st_oldest == INT64_MAX ? wall : q->st_oldest;
		unsigned denom = d->answered + d->abandoned;
		json_array_append_new(queues, json_pack(
			"{s:I, s:s, s:i, s:I, s:i, s:i, s:i, s:i, s:o, s:{s:i, s:I}}", "id",
			(json_int_t)q->id, "name", name ? name : "", "waiting", (int)q->waiting,
			"longest_wait_seconds", (json_int_t)(oldest < wall ? (wall - oldest) / 1000 : 0),
			"offered_today", (int)d->offered, "answered_today", (int)d->answered,
			"abandoned_today", (int)d->abandoned, "answered_in_sl_today", (int)d->answered_in_sl,
			"service_level_today", denom ? json_real((double)d->answered_in_sl / denom) : json_null(),
			"target", "percent", q->sl_percent, "seconds", (json_int_t)(q->sl_ms / 1000)));
	}
	json_t *agents = json_array();
	for (size_t i = 0; i < as.n; i++) {
		struct core_agent *a = as.v[i];
		struct routing_agent_info ai;
		memset(&ai, 0, sizeof(ai));
		routing_agent_info(cr->r, a->id, &ai);
		json_t *used = json_object(), *cap = json_object();
		for (int c = 0; c < ROUTING_CH_COUNT; c++) {
			const char *ch = core_channel_name((enum routing_channel)c);
			json_object_set_new(used, ch, json_integer(ai.used[c]));
			json_object_set_new(cap, ch, json_integer(a->capacity[c]));
		}
		char ts[32];
		const char *name = json_string_value(json_object_get(a->doc, "name"));
		json_t *tasks = a->st_tasks;
		a->st_tasks = NULL;
		/* tasks come from a hash walk: sort for a stable answer */
		size_t nt = json_array_size(tasks);
		json_t **tv = nt ? malloc(nt * sizeof(*tv)) : NULL;
		if (tv) {
			for (size_t k = 0; k < nt; k++)
				tv[k] = json_incref(json_array_get(tasks, k));
			qsort(tv, nt, sizeof(*tv), by_json_int);
			json_array_clear(tasks);
			for (size_t k = 0; k < nt; k++)
				json_array_append_new(tasks, tv[k]);
			free(tv);
		}
		json_array_append_new(agents, json_pack(
			"{s:I, s:s, s:o, s:s, s:o, s:s, s:o, s:o, s:o}", "agent_id", (json_int_t)a->id,
			"name", name ? name : "", "user_id",
			a->user_id ? json_integer(a->user_id) : json_null(), "state",
			agent_state_names[ai.state], "reason",
			a->reason[0] ? json_string(a->reason) : json_null(), "since",
			base_iso8601(a->since, ts, sizeof(ts)), "used", used, "capacity", cap, "tasks",
			tasks ? tasks : json_array()));
	}
	free(qs.v);
	free(as.v);
	ok(cr, cmd, 200, json_pack("{s:o, s:o}", "queues", queues, "agents", agents));
}

/* ---- voice calls (API_CMD_CALL_*, docs/VOICE.md) ------------------------------------- */

/* Task ids stay far below this; call ids (voice.h) are above it. An
 * event's interaction column is only ever a task id: the next task id is
 * continued from max(interaction) at start. */
#define TASK_ID_LIMIT 1000000000000LL

static void call_fail(struct api_cmd *cmd, int r, const char *field)
{
	switch (r) {
	case -ENOSYS: fail(cmd, 501, NULL, "calls cannot do this yet (not built)"); break;
	case -ENOENT: fail(cmd, 404, NULL, "no such call (it may have ended)"); break;
	case -EBUSY: fail(cmd, 409, NULL, "the call is not in a state for this now"); break;
	case -EINVAL:
		fail(cmd, 422, field, field && !strcmp(field, "number") ? "number: cannot be dialled"
								      : "target: no such queue, agent or number");
		break;
	case -ENODEV: fail(cmd, 409, NULL, "no registered phone: register your phone first"); break;
	case -ENOTSUP: fail(cmd, 409, NULL, "no outbound trunk is configured"); break;
	default: fail(cmd, 500, NULL, "the call command failed"); break;
	}
}

struct own_agents {
	int64_t user_id;
	uint32_t ids[16];
	unsigned n;
};

static bool own_collect(struct le *le, void *arg)
{
	struct core_agent *a = le->data;
	struct own_agents *o = arg;
	if (a->user_id && a->user_id == o->user_id && o->n < 16) {
		o->ids[o->n++] = a->id;
		if (a->id < o->ids[0]) { /* the lowest id first: dial from that one */
			o->ids[o->n - 1] = o->ids[0];
			o->ids[0] = a->id;
		}
	}
	return false;
}

static void own_agents(struct core_routing *cr, int64_t user_id, struct own_agents *o)
{
	memset(o, 0, sizeof(*o));
	o->user_id = user_id;
	hash_apply(cr->agents, own_collect, o);
}

static bool in_own(const struct own_agents *o, json_int_t agent)
{
	for (unsigned i = 0; i < o->n; i++)
		if ((json_int_t)o->ids[i] == agent)
			return true;
	return false;
}

/* A call's task and queue (voice_calls_json), 0 when it has none. */
static void call_task(struct voice *v, int64_t call, int64_t *task, uint32_t *queue)
{
	*task = 0;
	*queue = 0;
	char *text = voice_calls_json(v);
	json_t *all = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	size_t i;
	json_t *c;
	json_array_foreach(all, i, c) {
		if (json_integer_value(json_object_get(c, "call")) != call)
			continue;
		json_int_t t = json_integer_value(json_object_get(c, "task"));
		json_int_t q = json_integer_value(json_object_get(c, "queue"));
		*task = t > 0 && t < TASK_ID_LIMIT ? t : 0;
		*queue = q > 0 && q <= UINT32_MAX ? (uint32_t)q : 0;
		break;
	}
	json_decref(all);
}

/* The audit event of a call command (the actor is the caller); task and
 * queue as they were before the command. */
static void call_audit(struct core_routing *cr, struct api_cmd *cmd, const char *type, int64_t call,
		       uint32_t agent, int64_t task, uint32_t queue, json_t *p)
{
	cr->actor = cmd->user_id; /* the voice module may have run the engine meanwhile */
	json_object_set_new(p, "call", json_integer(call));
	ev_add(cr, type, task, agent, queue, p);
}

static void cmd_call(struct core_routing *cr, struct api_cmd *cmd)
{
	struct voice *v = cr->voice;
	if (!v) {
		fail(cmd, 503, NULL, "voice is not running (SIP is off)");
		return;
	}
	int r;
	if (cmd->kind == API_CMD_CALLS_LIST) {
		char *text = voice_calls_json(v);
		json_t *all = text ? json_loads(text, 0, NULL) : NULL;
		free(text);
		if (!json_is_array(all)) {
			json_decref(all);
			fail(cmd, 500, NULL, "the calls could not be listed");
			return;
		}
		if (!cmd->privileged) {
			struct own_agents o;
			own_agents(cr, cmd->user_id, &o);
			for (size_t i = json_array_size(all); i-- > 0;)
				if (!in_own(&o, json_integer_value(json_object_get(json_array_get(all, i), "agent"))))
					json_array_remove(all, i);
		}
		ok(cr, cmd, 200, json_pack("{s:o}", "items", all));
		return;
	}
	if (cmd->kind == API_CMD_CALL_DIAL) {
		struct own_agents o;
		own_agents(cr, cmd->user_id, &o);
		struct core_user *u = user_find(cr, cmd->user_id);
		if (!o.n || !u) {
			fail(cmd, 403, NULL, "dialling needs an agent linked to your user (and its phone)");
			return;
		}
		const char *number = json_string_value(json_object_get(cmd->body, "number"));
		int64_t call = 0;
		r = voice_call_dial(v, u->username, o.ids[0], number, &call);
		if (r) {
			call_fail(cmd, r, "number");
			return;
		}
		call_audit(cr, cmd, "call.dial_requested", call, o.ids[0], 0, 0,
			   json_pack("{s:s}", "number", number ? number : ""));
		ok(cr, cmd, 201, json_pack("{s:I}", "call", (json_int_t)call));
		return;
	}
	uint32_t agent = 0;
	r = voice_call_agent(v, cmd->id, &agent);
	if (r) {
		call_fail(cmd, r, NULL);
		return;
	}
	if (!cmd->privileged && !(agent && own_agent(cr, cmd, agent))) {
		fail(cmd, 403, NULL, "this call is not yours");
		return;
	}
	const char *target = json_string_value(json_object_get(cmd->body, "target"));
	const char *type = NULL;
	int64_t task;
	uint32_t queue;
	call_task(v, cmd->id, &task, &queue); /* before: a hang-up ends it */
	switch (cmd->kind) {
	case API_CMD_CALL_HANGUP:
		r = voice_call_hangup(v, cmd->id);
		type = "call.hangup_requested";
		break;
	case API_CMD_CALL_HOLD:
	case API_CMD_CALL_RESUME:
		r = voice_call_hold(v, cmd->id, cmd->kind == API_CMD_CALL_HOLD);
		type = cmd->kind == API_CMD_CALL_HOLD ? "call.hold_requested" : "call.resume_requested";
		break;
	case API_CMD_CALL_TRANSFER:
		r = target ? voice_call_transfer(v, cmd->id, target) : -EINVAL;
		type = "call.transfer_requested";
		break;
	default:
		r = -EINVAL;
		break;
	}
	if (r) {
		call_fail(cmd, r, "target");
		return;
	}
	json_t *p = json_object();
	if (cmd->kind == API_CMD_CALL_TRANSFER)
		json_object_set_new(p, "target", json_string(target));
	call_audit(cr, cmd, type, cmd->id, agent, task, queue, p);
	ok(cr, cmd, 200, json_pack("{s:I}", "call", (json_int_t)cmd->id));
}

static void on_cmd(struct core_routing *cr, struct api_cmd *cmd)
{
	int64_t now = now_ms();
	int r;
	cr->actor = cmd->user_id;
	cr->note = NULL;
	cr->in_cmd = true;
	switch (cmd->kind) {
	case API_CMD_TASK_CREATE:
		cmd_task_create(cr, cmd);
		cr->in_cmd = false;
		if (cmd->status)
			reply(cmd);
		return;
	case API_CMD_TASK_GET: {
		struct core_task *t = cmd_task(cr, cmd);
		if (t)
			ok(cr, cmd, 200, task_json(cr, t, true));
		break;
	}
	case API_CMD_TASK_CANCEL:
	case API_CMD_TASK_ABANDON: {
		bool abandon = cmd->kind == API_CMD_TASK_ABANDON;
		if (abandon && !cmd->privileged) {
			fail(cmd, 403, NULL, "only admins and supervisors mark tasks abandoned");
			break;
		}
		struct core_task *t = cmd_task(cr, cmd);
		if (!t)
			break;
		if (!t->in_engine || (t->state != ROUTING_TASK_QUEUED && t->state != ROUTING_TASK_OFFERED)) {
			fail(cmd, 409, NULL, abandon ? "only a waiting or offered task can be abandoned"
						     : "only a waiting or offered task can be cancelled");
			break;
		}
		cr->note = json_string_value(json_object_get(cmd->body, "reason"));
		r = routing_task_cancel(cr->r, t->eid,
					abandon ? ROUTING_TASK_ABANDONED : ROUTING_TASK_CANCELLED, now);
		cr->note = NULL;
		if (r)
			fail(cmd, 409, NULL, abandon ? "the task cannot be abandoned now"
						     : "the task cannot be cancelled now");
		else
			ok(cr, cmd, 200, task_json(cr, t, true));
		break;
	}
	case API_CMD_QUEUE_STATUS:
		cmd_queue_status(cr, cmd);
		break;
	case API_CMD_CALLS_LIST:
	case API_CMD_CALL_DIAL:
	case API_CMD_CALL_HANGUP:
	case API_CMD_CALL_HOLD:
	case API_CMD_CALL_RESUME:
	case API_CMD_CALL_TRANSFER:
		cmd_call(cr, cmd);
		break;
	case API_CMD_LIVE_STATS:
		if (!cmd->privileged)
			fail(cmd, 403, NULL, "only admins and supervisors see the live figures");
		else
			cmd_live_stats(cr, cmd);
		break;
	case API_CMD_TASK_COMPLETE: {
		struct core_task *t = cmd_task(cr, cmd);
		if (!t)
			break;
		if (!t->in_engine || t->state != ROUTING_TASK_ACCEPTED) {
			fail(cmd, 409, NULL, "only an accepted task can be completed");
			break;
		}
		ev_add(cr, "task.completed", t->id, t->agent, t->queue, with_conv(t, json_object()));
		r = routing_task_end(cr->r, t->eid, now);
		if (r)
			fail(cmd, 409, NULL, "the task cannot be completed now");
		else
			ok(cr, cmd, 200, task_json(cr, t, true));
		break;
	}
	case API_CMD_TASK_WRAPUP: {
		struct core_task *t = cmd_task(cr, cmd);
		if (!t)
			break;
		bool wrapping = t->in_engine && t->state == ROUTING_TASK_WRAPUP;
		bool done = !t->in_engine && t->state == ROUTING_TASK_DONE;
		if ((!wrapping && !done) || t->disposition) {
			fail(cmd, 409, NULL, t->disposition ? "the task has a disposition already"
							    : "the task is not in wrap-up or done");
			break;
		}
		const char *disp = json_string_value(json_object_get(cmd->body, "disposition"));
		const char *notes = json_string_value(json_object_get(cmd->body, "notes"));
		struct core_queue *q = queue_find(cr, t->queue);
		const char *why = NULL;
		if (q && core_wrapup_check(q->doc, disp, &why)) {
			fail(cmd, 422, "disposition", why);
			break;
		}
		t->disposition = strdup(disp ? disp : "");
		t->notes = strdup(notes ? notes : "");
		ev_add(cr, "task.wrapped_up", t->id, t->has_agent ? t->agent : 0, t->queue,
		       with_conv(t, json_pack("{s:s, s:s}", "disposition", t->disposition, "notes",
					      t->notes)));
		if (wrapping)
			routing_task_wrap_end(cr->r, t->eid, now);
		ok(cr, cmd, 200, task_json(cr, t, true));
		break;
	}
	case API_CMD_AGENT_STATE_GET:
	case API_CMD_AGENT_STATE_SET: {
		struct core_agent *a = agent_find(cr, (uint32_t)cmd->id);
		if (!a) {
			fail(cmd, 404, NULL, "no such agent");
			break;
		}
		if (!cmd->privileged && !own_agent(cr, cmd, a->id)) {
			fail(cmd, 403, NULL, "agents may change and read only their own state");
			break;
		}
		if (cmd->kind == API_CMD_AGENT_STATE_SET) {
			const char *st = json_string_value(json_object_get(cmd->body, "state"));
			const char *reason = json_string_value(json_object_get(cmd->body, "reason"));
			enum routing_agent_state s = !strcmp(st, "available") ? ROUTING_AGENT_AVAILABLE
						     : !strcmp(st, "away")    ? ROUTING_AGENT_AWAY
									      : ROUTING_AGENT_OFFLINE;
			int code = reason && *reason ? core_table_id(&cr->reasons, reason, true) + 1 : 0;
			snprintf(a->reason, sizeof(a->reason), "%s", reason ? reason : "");
			a->requested = s;
			ev_add(cr, "agent.state_requested", 0, a->id, 0,
			       json_pack("{s:s, s:s?}", "state", st, "reason", reason));
			routing_agent_set_state(cr->r, a->id, s, (uint16_t)(code > 0 ? code : 0), now);
		}
		ok(cr, cmd, 200, agent_json(cr, a));
		break;
	}
	case API_CMD_OFFER_ACCEPT:
	case API_CMD_OFFER_REJECT: {
		struct core_offer *o = cmd->id > cr->offer_base
			? offer_find(cr, (uint64_t)(cmd->id - cr->offer_base)) : NULL;
		uint32_t version = (uint32_t)json_integer_value(json_object_get(cmd->body, "version"));
		if (!o) {
			fail(cmd, 409, NULL, "the offer was withdrawn, timed out or taken");
			break;
		}
		if (!own_agent(cr, cmd, o->agent)) {
			fail(cmd, 403, NULL, "this offer is not yours");
			break;
		}
		struct core_task *t = o->t;
		r = cmd->kind == API_CMD_OFFER_ACCEPT ? routing_offer_accept(cr->r, o->id, version, now)
						      : routing_offer_reject(cr->r, o->id, version, now);
		if (r == -ESTALE)
			fail(cmd, 409, "version", "the offer is stale (withdrawn, timed out or another version)");
		else if (r)
			fail(cmd, 409, NULL, "the offer cannot be answered now");
		else
			ok(cr, cmd, 200, task_json(cr, t, true));
		break;
	}
	}
	cr->in_cmd = false;
	flush(cr, cmd, NULL);
	rearm(cr);
}

/* ---- the mqueue ------------------------------------------------------------------------ */

static void on_mq(int id, void *data, void *arg)
{
	struct core_routing *cr = arg;
	switch (id) {
	case MQ_CMD:
		on_cmd(cr, data);
		break;
	case MQ_CONFIG: {
		struct config_msg *m = data;
		on_config(cr, m);
		free(m->payload);
		free(m);
		break;
	}
	case MQ_WRITTEN: {
		struct core_write *w = data;
		cr->writes_inflight--;
		if (w->err)
			LOG_ERROR(MOD, "writing %zu routing event(s) failed: %d", w->n, w->err);
		if (w->route)
			task_route(cr, w->route, w->err);
		else
			reply(w->cmd);
		write_free(w);
		break;
	}
	case MQ_STOP:
		break;
	}
	if (cr->draining && !cr->writes_inflight)
		re_cancel();
}

static int post_cmd(struct api_cmd *cmd, void *arg)
{
	struct core_routing *cr = arg;
	if (atomic_load(&cr->stopping))
		return -ESHUTDOWN;
	return mqueue_push(cr->mq, MQ_CMD, cmd) ? -ENOMEM : 0;
}

void core_routing_events(struct core_routing *cr, const struct store_event *evs, size_t n)
{
	if (!cr || atomic_load(&cr->stopping))
		return;
	for (size_t i = 0; i < n; i++) {
		const char *t = evs[i].type;
		bool q = !strncmp(t, "queue.", 6), a = !strncmp(t, "agent.", 6);
		bool u = !strcmp(t, "user.created") || !strcmp(t, "user.updated") ||
			 !strcmp(t, "user.deleted");
		if (!q && !a && !u)
			continue; /* skill.*: see on_config */
		if (a && strcmp(t, "agent.created") && strcmp(t, "agent.updated") &&
		    strcmp(t, "agent.deleted"))
			continue; /* our own agent.state_* events */
		struct config_msg *m = calloc(1, sizeof(*m));
		if (!m)
			continue;
		snprintf(m->type, sizeof(m->type), "%s", t);
		m->id = q ? evs[i].queue : a ? evs[i].agent : -1;
		m->payload = evs[i].payload ? strdup(evs[i].payload) : NULL;
		if (mqueue_push(cr->mq, MQ_CONFIG, m)) {
			free(m->payload);
			free(m);
		}
	}
}

/* ---- start-up ------------------------------------------------------------------------------ */

/* One of today's counted events (task.created, .accepted, .abandoned). */
struct day_ev {
	uint32_t queue;
	uint8_t what;     /* enum day_what */
	int64_t wait_ms;  /* accepted: since created */
};

struct load {
	json_t *queues, *agents, *open, *users;
	int64_t max_task;
	int64_t day_start;    /* in: local midnight (wall ms) */
	struct day_ev *day;   /* out: today's events, in log order */
	size_t nday, capday;
};

/* Tasks created but not ended, with the agent that accepted them if any. */
static const char open_tasks_sql[] =
	"SELECT e.interaction, e.ts, e.payload, "
	"(SELECT max(a.agent) FROM events a WHERE a.tenant = 1 AND a.interaction = e.interaction "
	"AND a.type = 'task.accepted') FROM events e "
	"WHERE e.tenant = 1 AND e.type = 'task.created' AND NOT EXISTS (SELECT 1 FROM events x "
	"WHERE x.tenant = 1 AND x.interaction = e.interaction AND x.type IN "
	"('task.done', 'task.cancelled', 'task.abandoned', 'task.expired', 'task.overflowed')) "
	"ORDER BY e.interaction";

static int open_row(const struct store_val *col, int n, void *arg)
{
	(void)n;
	json_t *doc = json_loads(col[2].s ? col[2].s : "{}", 0, NULL);
	if (doc)
		json_array_append_new(arg, json_pack("{s:I, s:I, s:o, s:I}", "id", (json_int_t)col[0].i,
						     "ts", (json_int_t)col[1].i, "doc", doc, "agent",
						     (json_int_t)(col[3].type == STORE_INT ? col[3].i : 0)));
	return 0;
}

static int load_row(const struct store_val *col, int n, void *arg)
{
	(void)n;
	json_t *doc = json_loads(col[1].s ? col[1].s : "{}", 0, NULL);
	if (doc)
		json_array_append_new(arg, json_pack("{s:I, s:o}", "id", (json_int_t)col[0].i, "doc", doc));
	return 0;
}

static int user_row(const struct store_val *col, int n, void *arg)
{
	(void)n;
	if (col[1].s)
		json_array_append_new(arg, json_pack("{s:I, s:s}", "id", (json_int_t)col[0].i,
						     "username", col[1].s));
	return 0;
}

static int day_row(const struct store_val *col, int n, void *arg)
{
	(void)n;
	struct load *l = arg;
	if (col[1].type != STORE_INT || col[1].i <= 0 || col[1].i > UINT32_MAX || !col[0].s)
		return 0;
	if (l->nday == l->capday) {
		size_t cap = l->capday ? l->capday * 2 : 1024;
		struct day_ev *v = realloc(l->day, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		l->day = v;
		l->capday = cap;
	}
	struct day_ev *e = &l->day[l->nday];
	memset(e, 0, sizeof(*e));
	e->queue = (uint32_t)col[1].i;
	if (!strcmp(col[0].s, "task.created")) {
		e->what = DAY_OFFERED;
	} else if (!strcmp(col[0].s, "task.abandoned")) {
		e->what = DAY_ABANDONED;
	} else {
		e->what = DAY_ANSWERED;
		/* queued_ms (since task.created); events written before it
		 * existed have only the engine's wait_ms */
		json_t *p = json_loads(col[2].s ? col[2].s : "{}", 0, NULL);
		json_t *w = json_object_get(p, "queued_ms");
		if (!json_is_integer(w))
			w = json_object_get(p, "wait_ms");
		e->wait_ms = json_integer_value(w);
		json_decref(p);
	}
	l->nday++;
	return 0;
}

/* Today's counters come from the log: the first event of today is found by
 * a binary search over ids (ids grow with time; O(log n) primary-key
 * lookups, no index on ts needed), then the counted types from there on
 * through the (tenant, type, id) index. A wall clock that stepped back
 * can hide a few events around midnight from this; they only ever make
 * the counters low. */
static int load_today(struct store_tx *tx, struct load *l)
{
	int64_t lo, hi, ts;
	int r = store_query_int(tx, "SELECT min(id) FROM events", NULL, 0, &lo);
	if (!r)
		r = store_query_int(tx, "SELECT max(id) FROM events", NULL, 0, &hi);
	if (r == -ENOENT)
		return 0; /* no events at all */
	if (r)
		return r;
	hi++; /* the first id whose first event at or after it is of today */
	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2;
		struct store_val p[] = {store_int(mid)};
		r = store_query_int(tx, "SELECT ts FROM events WHERE id >= $1 ORDER BY id LIMIT 1", p, 1,
				    &ts);
		if (r == -ENOENT) {
			hi = mid;
			continue;
		}
		if (r)
			return r;
		if (ts >= l->day_start)
			hi = mid;
		else
			lo = mid + 1;
	}
	struct store_val p[] = {store_int(lo), store_int(l->day_start)};
	return store_query(tx,
			   "SELECT type, queue, CASE WHEN type = 'task.accepted' THEN payload END "
			   "FROM events WHERE tenant = 1 AND type IN ('task.created', 'task.accepted', "
			   "'task.abandoned') AND id >= $1 AND ts >= $2 ORDER BY id",
			   p, 2, day_row, l);
}

static int load_job(struct store_tx *tx, void *arg)
{
	struct load *l = arg;
	int r = store_query(tx, "SELECT id, doc FROM queues WHERE tenant = 1 ORDER BY id", NULL, 0,
			    load_row, l->queues);
	if (!r)
		r = store_query(tx, "SELECT id, doc FROM agents WHERE tenant = 1 ORDER BY id", NULL, 0,
				load_row, l->agents);
	if (!r)
		r = store_query(tx, "SELECT id, username FROM users WHERE tenant = 1", NULL, 0,
				user_row, l->users);
	if (!r) {
		r = store_query_int(tx, "SELECT max(interaction) FROM events", NULL, 0, &l->max_task);
		if (r == -ENOENT) {
			l->max_task = 0;
			r = 0;
		}
	}
	if (!r)
		r = store_query(tx, open_tasks_sql, NULL, 0, open_row, l->open);
	if (!r)
		r = load_today(tx, l);
	return r;
}

/* A task that was open when the process stopped. Waiting or offered: it
 * goes back into the engine (arriving now: its wait restarts) with a
 * task.requeued event. Accepted or in wrap-up: the agent's session is gone
 * with the process, so it is closed as done (task.done, reason restart);
 * a disposition may still be posted. */
static void rebuild_task(struct core_routing *cr, json_t *row, unsigned *requeued, unsigned *closed)
{
	json_t *doc = json_object_get(row, "doc");
	int64_t id = json_integer_value(json_object_get(row, "id"));
	int64_t agent = json_integer_value(json_object_get(row, "agent"));
	struct core_task *t = task_from_json(cr, doc, NULL);
	if (!t) {
		/* its queue is gone or cannot be routed: end it durably */
		json_t *p = json_pack("{s:s}", "reason", "not-routable-after-restart");
		int64_t conv = conv_attr(json_object_get(doc, "attributes"));
		if (conv > 0)
			json_object_set_new(p, "conversation_id", json_integer(conv));
		ev_add(cr, "task.cancelled", id, 0, json_integer_value(json_object_get(doc, "queue_id")), p);
		(*closed)++;
		return;
	}
	t->id = id;
	t->created_wall = json_integer_value(json_object_get(row, "ts"));
	hash_append(cr->tasks, key64((uint64_t)t->id), &t->le, t);
	if (agent > 0) {
		t->state = ROUTING_TASK_DONE;
		t->agent = (uint32_t)agent;
		t->has_agent = true;
		ev_add(cr, "task.done", t->id, agent, t->queue,
		       with_conv(t, json_pack("{s:s, s:s}", "state", "done", "reason", "restart")));
		task_finish(cr, t);
		(*closed)++;
		return;
	}
	struct routing_task_spec s;
	task_spec(t, &s);
	waiting_set(cr, t, true);
	if (routing_task_add(cr->r, &s, now_ms(), &t->eid)) {
		waiting_set(cr, t, false);
		t->state = ROUTING_TASK_CANCELLED;
		ev_add(cr, "task.cancelled", t->id, 0, t->queue,
		       with_conv(t, json_pack("{s:s}", "reason", "not-routable-after-restart")));
		task_finish(cr, t);
		(*closed)++;
		return;
	}
	t->in_engine = true;
	ev_add(cr, "task.requeued", t->id, 0, t->queue,
	       with_conv(t, json_pack("{s:s}", "reason", "restart")));
	(*requeued)++;
}

int core_routing_alloc(struct core_routing **crp, struct store *st)
{
	struct core_routing *cr = calloc(1, sizeof(*cr));
	if (!cr)
		return -ENOMEM;
	cr->st = st;
	list_init(&cr->finished);
	list_init(&cr->notes);
	tmr_init(&cr->tmr);
	tmr_init(&cr->ntmr);
	tmr_init(&cr->etmr);
	struct routing_opts ro;
	routing_opts_init(&ro);
	ro.decide = on_decide;
	ro.decide_arg = cr;
	struct load l = {.queues = json_array(), .agents = json_array(), .open = json_array(),
			 .users = json_array()};
	core_local_day(store_now_ms(), &cr->day_start, &cr->day_end);
	l.day_start = cr->day_start;
	int r = routing_alloc(&cr->r, &ro);
	if (!r)
		r = hash_alloc(&cr->tasks, 1024) || hash_alloc(&cr->offers, 256) ||
		    hash_alloc(&cr->agents, 256) || hash_alloc(&cr->queues, 64) ||
		    hash_alloc(&cr->users, 256) ? -ENOMEM : 0;
	if (!r)
		r = mqueue_alloc(&cr->mq, on_mq, cr) ? -ENOMEM : 0;
	if (!r)
		r = store_read_sync(st, load_job, &l);
	if (r) {
		LOG_ERROR(MOD, "could not start routing: %d", r);
		json_decref(l.queues);
		json_decref(l.agents);
		json_decref(l.open);
		json_decref(l.users);
		free(l.day);
		core_routing_free(cr);
		return r;
	}
	cr->next_task_id = l.max_task + 1;
	cr->offer_base = store_now_ms() * 1000;
	size_t i;
	json_t *v;
	json_array_foreach(l.queues, i, v)
		queue_apply(cr, (uint32_t)json_integer_value(json_object_get(v, "id")), json_object_get(v, "doc"));
	json_array_foreach(l.agents, i, v)
		agent_apply(cr, (uint32_t)json_integer_value(json_object_get(v, "id")), json_object_get(v, "doc"));
	/* the load decided nothing worth an event */
	if (cr->pend) {
		write_free(cr->pend);
		cr->pend = NULL;
	}
	/* today's counters, from the log (before the rebuild below, which
	 * writes no counted events) */
	for (size_t k = 0; k < l.nday; k++) {
		struct core_queue *q = queue_find(cr, l.day[k].queue);
		if (!q)
			continue;
		switch (l.day[k].what) {
		case DAY_OFFERED: q->today.offered++; break;
		case DAY_ANSWERED:
			q->today.answered++;
			if (l.day[k].wait_ms <= q->sl_ms)
				q->today.answered_in_sl++;
			break;
		default: q->today.abandoned++; break;
		}
	}
	unsigned requeued = 0, closed = 0;
	json_array_foreach(l.open, i, v)
		rebuild_task(cr, v, &requeued, &closed);
	flush(cr, NULL, NULL);
	LOG_INFO(MOD, "routing %zu queue(s), %zu agent(s); %u open task(s) queued again, %u "
		 "in-progress task(s) closed; next task id %" PRId64 "; %zu of today's event(s) counted",
		 json_array_size(l.queues), json_array_size(l.agents), requeued, closed,
		 cr->next_task_id, l.nday);
	json_decref(l.queues);
	json_decref(l.agents);
	json_decref(l.open);
	json_array_foreach(l.users, i, v)
		user_set(cr, json_integer_value(json_object_get(v, "id")),
			 json_string_value(json_object_get(v, "username")));
	json_decref(l.users);
	free(l.day);
	rearm(cr);
	*crp = cr;
	return 0;
}

void core_routing_attach(struct core_routing *cr, struct api *a)
{
	cr->api = a;
	api_set_core(a, post_cmd, cr);
}

void core_routing_drain(struct core_routing *cr)
{
	if (!cr || cr->draining)
		return;
	atomic_store(&cr->stopping, true);
	if (cr->api)
		api_set_core(cr->api, NULL, NULL);
	cr->draining = true;
	tmr_cancel(&cr->tmr);
	/* The web thread may have pushed commands before the hook went away:
	 * a marker behind them tells when they are all taken; then wait for
	 * their writes. */
	if (!mqueue_push(cr->mq, MQ_STOP, NULL))
		re_main(NULL);
	cr->api = NULL;
}

static bool free_task(struct le *le, void *arg)
{
	(void)arg;
	struct core_task *t = le->data;
	hash_unlink(&t->le);
	while (!list_isempty(&t->offers)) {
		struct core_offer *o = list_head(&t->offers)->data;
		hash_unlink(&o->le);
		list_unlink(&o->tle);
		free(o);
	}
	task_free(t);
	return false;
}

static bool free_agent(struct le *le, void *arg)
{
	(void)arg;
	struct core_agent *a = le->data;
	hash_unlink(&a->le);
	agent_free(a);
	return false;
}

static bool free_queue(struct le *le, void *arg)
{
	(void)arg;
	struct core_queue *q = le->data;
	hash_unlink(le);
	queue_free(q);
	return false;
}

static bool free_user(struct le *le, void *arg)
{
	(void)arg;
	hash_unlink(le);
	free(le->data);
	return false;
}

void core_routing_free(struct core_routing *cr)
{
	if (!cr)
		return;
	tmr_cancel(&cr->tmr);
	tmr_cancel(&cr->ntmr);
	tmr_cancel(&cr->etmr);
	while (!list_isempty(&cr->notes)) {
		struct core_note *n = list_head(&cr->notes)->data;
		list_unlink(&n->le);
		free(n);
	}
	if (cr->users)
		hash_apply(cr->users, free_user, NULL);
	cr->users = mem_deref(cr->users);
	cr->mq = mem_deref(cr->mq);
	if (cr->tasks)
		hash_apply(cr->tasks, free_task, NULL);
	if (cr->agents)
		hash_apply(cr->agents, free_agent, NULL);
	if (cr->queues)
		hash_apply(cr->queues, free_queue, NULL);
	cr->tasks = mem_deref(cr->tasks);
	cr->offers = mem_deref(cr->offers);
	cr->agents = mem_deref(cr->agents);
	cr->queues = mem_deref(cr->queues);
	if (cr->pend)
		write_free(cr->pend);
	routing_free(cr->r);
	free(cr);
}

/* ---- the task API for channels on the core thread ------------------------------------------ */

int core_routing_task_open(struct core_routing *cr, uint32_t queue, const char *channel,
			   const char *attributes, core_task_h *h, void *arg, int64_t *task)
{
	if (cr->draining || atomic_load(&cr->stopping))
		return -ESHUTDOWN;
	json_t *attrs = attributes ? json_loads(attributes, 0, NULL) : NULL;
	json_t *b = json_pack("{s:I, s:s, s:o}", "queue_id", (json_int_t)queue, "channel", channel,
			      "attributes", json_is_object(attrs) ? attrs : json_object());
	if (attrs && !json_is_object(attrs))
		json_decref(attrs);
	if (!b)
		return -ENOMEM;
	cr->actor = 0;
	cr->note = NULL;
	struct core_task *t = task_from_json(cr, b, NULL);
	json_decref(b);
	if (!t)
		return -EINVAL;
	t->conversation = 0;
	t->created_wall = store_now_ms();
	t->id = cr->next_task_id++;
	t->h = h;
	t->harg = arg;
	hash_append(cr->tasks, key64((uint64_t)t->id), &t->le, t);
	json_t *p = task_json(cr, t, false);
	json_object_del(p, "position");
	json_object_del(p, "estimated_wait_seconds");
	ev_add(cr, "task.created", t->id, 0, t->queue, p);
	*task = t->id;
	flush(cr, NULL, t); /* routed once task.created committed */
	return 0;
}

int core_routing_task_abandon(struct core_routing *cr, int64_t id, const char *note)
{
	struct core_task *t = task_find(cr, id);
	if (!t)
		return -ENOENT;
	if (!t->in_engine) {
		if (t->state != ROUTING_TASK_QUEUED)
			return -EALREADY;
		t->abandon_pending = true; /* task.created not committed yet */
		return 0;
	}
	if (t->state == ROUTING_TASK_ACCEPTED || t->state == ROUTING_TASK_WRAPUP)
		return core_routing_task_end(cr, id);
	cr->actor = 0;
	cr->note = note;
	int r = routing_task_cancel(cr->r, t->eid, ROUTING_TASK_ABANDONED, now_ms());
	cr->note = NULL;
	flush(cr, NULL, NULL);
	rearm(cr);
	return r;
}

int core_routing_task_end(struct core_routing *cr, int64_t id)
{
	struct core_task *t = task_find(cr, id);
	if (!t)
		return -ENOENT;
	if (!t->in_engine)
		return core_routing_task_abandon(cr, id, NULL);
	if (t->state == ROUTING_TASK_WRAPUP)
		return -EALREADY;
	if (t->state != ROUTING_TASK_ACCEPTED)
		return core_routing_task_abandon(cr, id, NULL);
	cr->actor = 0;
	cr->note = NULL;
	ev_add(cr, "task.completed", t->id, t->agent, t->queue, with_conv(t, json_object()));
	int r = routing_task_end(cr->r, t->eid, now_ms());
	flush(cr, NULL, NULL);
	rearm(cr);
	return r;
}

int core_routing_offer_answer(struct core_routing *cr, int64_t offer, uint32_t version, bool accept)
{
	struct core_offer *o = offer > cr->offer_base ? offer_find(cr, (uint64_t)(offer - cr->offer_base))
						      : NULL;
	if (!o)
		return -ENOENT;
	struct core_agent *a = agent_find(cr, o->agent);
	cr->actor = a ? a->user_id : 0;
	cr->note = NULL;
	int r = accept ? routing_offer_accept(cr->r, o->id, version, now_ms())
		       : routing_offer_reject(cr->r, o->id, version, now_ms());
	flush(cr, NULL, NULL);
	rearm(cr);
	return r;
}

void core_routing_task_detach(struct core_routing *cr, int64_t id)
{
	struct core_task *t = task_find(cr, id);
	if (t) {
		t->h = NULL;
		t->harg = NULL;
	}
	struct le *le = list_head(&cr->notes);
	while (le) {
		struct core_note *n = le->data;
		le = le->next;
		if (n->n.task == id) {
			list_unlink(&n->le);
			free(n);
		}
	}
}

/* ---- the voice channel's hooks ----------------------------------------------------------------- */

void core_routing_set_voice(struct core_routing *cr, struct voice *v)
{
	if (cr)
		cr->voice = v;
}

static void call_events_flush(void *arg)
{
	struct core_routing *cr = arg;
	flush(cr, NULL, NULL);
}

int core_routing_call_event(struct core_routing *cr, const char *type, int64_t task, uint32_t agent,
			    uint32_t queue, const char *payload)
{
	if (!type || strncmp(type, "call.", 5) || strlen(type) >= 64)
		return -EINVAL;
	/* re-serialized: compact, and certainly one JSON object (the
	 * recordings list finds a call's events by its "call" member) */
	json_t *p = payload ? json_loads(payload, 0, NULL) : json_object();
	if (!json_is_object(p)) {
		json_decref(p);
		LOG_WARN(MOD, "event %s: the payload is not a JSON object; not written", type);
		return -EINVAL;
	}
	size_t before = cr->pend ? cr->pend->n : 0;
	int64_t actor = cr->actor;
	if (!cr->in_cmd)
		cr->actor = 0; /* outside an API command the system acts */
	ev_add(cr, type, task > 0 ? task : 0, agent, queue, p);
	cr->actor = actor;
	if (!cr->pend || cr->pend->n == before)
		return -ENOMEM;
	tmr_start(&cr->etmr, 0, call_events_flush, cr);
	return 0;
}

static int call_events_job(struct store_tx *tx, void *arg)
{
	return write_job(tx, arg);
}

void core_routing_call_events_sync(struct core_routing *cr)
{
	if (!cr)
		return;
	tmr_cancel(&cr->etmr);
	struct core_write *w = cr->pend;
	cr->pend = NULL;
	if (!w)
		return;
	int r = w->n ? store_write_sync(cr->st, call_events_job, w) : 0;
	if (r)
		LOG_ERROR(MOD, "writing %zu event(s) at shutdown failed: %d", w->n, r);
	write_free(w);
}

int core_routing_queue_info(struct core_routing *cr, uint32_t queue, struct voice_queue_info *out)
{
	struct core_queue *q = queue_find(cr, queue);
	if (!q)
		return -ENOENT;
	core_queue_voice_info(q->doc, (time_t)(store_now_ms() / 1000), out);
	return 0;
}

int core_routing_task_position(struct core_routing *cr, int64_t task, unsigned *pos, unsigned *ewt_s)
{
	struct core_task *t = task_find(cr, task);
	struct routing_task_info ti;
	if (!t || !t->in_engine || routing_task_info(cr->r, t->eid, now_ms(), &ti) || !ti.position)
		return -ENOENT;
	*pos = ti.position;
	*ewt_s = ti.ewt_ms > 0 ? (unsigned)((ti.ewt_ms + 999) / 1000) : 0;
	return 0;
}
