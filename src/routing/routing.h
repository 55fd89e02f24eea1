/*
 * routing.h: the ACD engine, Hotline's pure routing core.
 *
 * The engine decides, the moment work arrives or an agent frees up, which
 * agent gets which interaction ("task"). It is pure: no I/O, no clock, no
 * threads, no global state. Time is an argument (`now`, milliseconds on any
 * monotonic scale the caller likes) and the same sequence of calls always
 * produces the same decisions. The core thread, the unit tests, the benchmark
 * and the workforce simulator all drive this one engine.
 *
 * Identifiers: queues and agents carry caller-chosen 32-bit ids (the store's
 * row ids); skills (0..ROUTING_MAX_SKILL) and languages (0..63) are
 * caller-chosen small integers. Tasks and offers get engine-chosen 64-bit ids
 * that are never reused within one engine instance.
 *
 * Output: every decision (offer made, offer withdrawn, task requeued, overflow
 * step applied, agent auto-away, ...) is reported synchronously through the
 * `decide` callback in routing_opts, with its reason and candidate scores.
 * The callback runs inside the routing_* call that caused it and must not call
 * back into the same engine (queue the work instead); the decision pointer is
 * valid only during the callback.
 *
 * Errors: every call that can fail returns 0 or a negative errno:
 * -EINVAL bad argument, -ENOENT unknown id, -EEXIST duplicate, -ENOMEM,
 * -ESTALE offer withdrawn or version mismatch, -EBUSY object still has work.
 *
 * See docs/ROUTING.md for the model, the strategies and the complexity.
 */
#ifndef HL_ROUTING_H
#define HL_ROUTING_H

#include <stddef.h>
#include <stdint.h>

#define ROUTING_MAX_SKILL 4095   /* skill ids are 0..ROUTING_MAX_SKILL */
#define ROUTING_MAX_REQS 8       /* skill requirements per task (queue + own) */
#define ROUTING_MAX_STEPS 8      /* overflow steps per queue */
#define ROUTING_NO_LANG (-1)
#define ROUTING_WRAP_MANUAL (-1) /* wrap-up lasts until routing_task_wrap_end */
#define ROUTING_NEVER INT64_MAX  /* "no timer due" from routing_tick */
/* Away reason the engine uses when it takes an agent away by itself. */
#define ROUTING_REASON_MISSED_OFFERS 0xFFFFu

enum routing_channel {
	ROUTING_CH_VOICE = 0,
	ROUTING_CH_CHAT,
	ROUTING_CH_EMAIL,
	ROUTING_CH_MESSAGING,
	ROUTING_CH_COUNT
};

enum routing_strategy {
	ROUTING_LONGEST_IDLE = 0, /* agent idle longest (default) */
	ROUTING_LEAST_OCCUPIED,   /* lowest current load, then least handle time */
	ROUTING_BEST_SKILL,       /* highest level sum on the queue's skills */
	ROUTING_ROUND_ROBIN,      /* agent offered least recently */
	ROUTING_RING_ALL          /* offer to every free match, first accept wins */
};

enum routing_agent_state {
	ROUTING_AGENT_OFFLINE = 0,
	ROUTING_AGENT_AVAILABLE,
	ROUTING_AGENT_AWAY,
	ROUTING_AGENT_BUSY,   /* reported only: holds offers or active work */
	ROUTING_AGENT_WRAPUP  /* reported only: holds wrap-up work only */
};

enum routing_task_state {
	ROUTING_TASK_QUEUED = 0,
	ROUTING_TASK_OFFERED,
	ROUTING_TASK_ACCEPTED,
	ROUTING_TASK_WRAPUP,
	ROUTING_TASK_DONE,
	ROUTING_TASK_ABANDONED,
	ROUTING_TASK_CANCELLED,
	ROUTING_TASK_TIMED_OUT,
	ROUTING_TASK_OVERFLOWED
};

/* Overflow step actions, applied when a task has waited `after_ms` in its
 * queue. Steps are cumulative: at 60 s a task has had every step up to 60 s. */
enum routing_step_action {
	ROUTING_STEP_LOWER_LEVEL = 0, /* arg: lower every minimum level by arg */
	ROUTING_STEP_ADD_QUEUE,       /* arg: queue id whose agents may serve too */
	ROUTING_STEP_DROP_LANGUAGE,   /* the preferred language stops being required */
	ROUTING_STEP_OFFER_CALLBACK   /* report a callback offer; task stays queued */
};

/* What happens at the queue's max_wait_ms. */
enum routing_exit_action {
	ROUTING_EXIT_NONE = 0,  /* wait forever */
	ROUTING_EXIT_TIMEOUT,   /* task ends as TIMED_OUT */
	ROUTING_EXIT_OVERFLOW,  /* task ends as OVERFLOWED (server sends it to arg) */
	ROUTING_EXIT_QUEUE      /* task moves to queue arg, keeping its arrival */
};

struct routing_skill {
	uint16_t id;    /* 0..ROUTING_MAX_SKILL */
	uint8_t level;  /* agent: 1..5; requirement: minimum 1..5 */
};

struct routing_step {
	int64_t after_ms;
	enum routing_step_action action;
	uint32_t arg;
};

struct routing_decision;

struct routing_opts {
	/* Receives every decision; may be NULL. Must not re-enter the engine. */
	void (*decide)(void *arg, const struct routing_decision *d);
	void *decide_arg;
	/* Consecutive missed offers (reject or timeout) after which the agent is
	 * set away with ROUTING_REASON_MISSED_OFFERS; 0 disables. Default 3. */
	unsigned max_misses;
	/* Cap on simultaneous ring-all offers for one task. Default 64. */
	unsigned ring_all_max;
};

struct routing_queue_spec {
	enum routing_strategy strategy;
	int64_t sl_target_ms;      /* service-level target; drives aging. Default 20 s */
	int64_t offer_timeout_ms;  /* 0: 15 s voice, 30 s text channels */
	int64_t wrap_ms;           /* 0 none, >0 timed, ROUTING_WRAP_MANUAL */
	int64_t aht_ms;            /* initial handle-time estimate; 0: per channel */
	/* Skills every task of this queue requires (merged with the task's own);
	 * also what BEST_SKILL scores agents on. Copied. */
	const struct routing_skill *skills;
	unsigned n_skills;
	const struct routing_step *steps; /* sorted by after_ms; copied */
	unsigned n_steps;
	int64_t max_wait_ms;       /* 0: no maximum */
	enum routing_exit_action exit_action;
	uint32_t exit_arg;
	int64_t sticky_window_ms;  /* 0: no sticky agent */
	int64_t sticky_wait_ms;    /* how long to hold for the last agent */
};

struct routing_agent_spec {
	const struct routing_skill *skills; /* copied; ids unique */
	unsigned n_skills;
	uint64_t languages;                 /* bit i: speaks language i */
	uint8_t capacity[ROUTING_CH_COUNT]; /* default 1, 3, 5, 5 */
	/* block[c]: mask of channels (bit = 1 << channel) whose ongoing work
	 * blocks new work on c. Default: voice blocks every other channel. */
	uint8_t block[ROUTING_CH_COUNT];
	const uint32_t *queues;             /* queues the agent serves; copied */
	unsigned n_queues;
};

struct routing_task_spec {
	enum routing_channel channel;
	uint32_t queue;
	int priority;                        /* 0..1000, higher first */
	const struct routing_skill *skills;  /* extra requirements; copied */
	unsigned n_skills;
	int language;                        /* ROUTING_NO_LANG or 0..63 */
	uint64_t customer;                   /* 0: anonymous (no sticky agent) */
	void *user;                          /* opaque, echoed in decisions */
};

enum routing_decision_type {
	ROUTING_D_OFFER = 0,   /* task reserved for agent: offer, version, expiry */
	ROUTING_D_WITHDRAW,    /* offer no longer valid; tell the agent's device */
	ROUTING_D_ACCEPT,      /* agent accepted; task is now ACCEPTED */
	ROUTING_D_REQUEUE,     /* task back in queue at its original position */
	ROUTING_D_STEP,        /* overflow step applied (arg: step index) */
	ROUTING_D_CALLBACK,    /* OFFER_CALLBACK step reached: offer the caller one */
	ROUTING_D_TASK_END,    /* task reached a terminal state (task_state) */
	ROUTING_D_TASK_MOVED,  /* EXIT_QUEUE: task moved to queue arg */
	ROUTING_D_WRAPUP,      /* task entered wrap-up */
	ROUTING_D_AGENT_STATE  /* agent's reported state changed (agent_state) */
};

enum routing_reason {
	ROUTING_R_NONE = 0,
	ROUTING_R_TASK_ARRIVED,   /* offer made because a task became routable */
	ROUTING_R_AGENT_FREE,     /* offer made by arbitration for a free agent */
	ROUTING_R_STICKY,         /* offer to the customer's last agent */
	ROUTING_R_REJECTED,
	ROUTING_R_OFFER_TIMEOUT,
	ROUTING_R_OTHER_ACCEPTED, /* ring-all: another agent won */
	ROUTING_R_CANCELLED,      /* task cancelled or abandoned */
	ROUTING_R_AGENT_GONE,     /* agent logged off or removed */
	ROUTING_R_QUEUE_REMOVED,
	ROUTING_R_MISSED_OFFERS,  /* auto-away after max_misses */
	ROUTING_R_MAX_WAIT,
	ROUTING_R_STEP_DUE,
	ROUTING_R_REQUESTED,      /* caller asked (state change, end, wrap end) */
	ROUTING_R_WRAP_TIMEOUT,
	ROUTING_R_STICKY_EXPIRED
};

/* One decision, with enough context to be written as an event verbatim. */
struct routing_decision {
	enum routing_decision_type type;
	enum routing_reason reason;
	int64_t now;
	uint64_t task;        /* 0 if not about a task */
	uint32_t queue;
	uint32_t agent;       /* valid if has_agent */
	int has_agent;
	uint64_t offer;       /* OFFER/WITHDRAW/ACCEPT */
	uint32_t version;
	int64_t expires;      /* OFFER: when it times out */
	enum routing_strategy strategy;
	enum routing_task_state task_state;
	enum routing_agent_state agent_state;
	uint16_t away_reason;
	double eff_priority;  /* chosen task's effective priority at `now` */
	int64_t wait_ms;      /* how long the task has waited */
	int64_t key1, key2;   /* chosen agent's strategy key (lower is better) */
	unsigned candidates;  /* candidates that passed the filters */
	int has_runner_up;
	double runner_up;     /* 2nd-best eff priority (agent free) or key1 */
	int stage;            /* overflow steps applied to the task */
	uint32_t arg;         /* step index, target queue, exit arg */
	void *user;           /* the task's user pointer */
};

struct routing_agent_info {
	enum routing_agent_state state;   /* reported state */
	enum routing_agent_state base;    /* requested: OFFLINE, AVAILABLE, AWAY */
	uint16_t reason;
	uint8_t used[ROUTING_CH_COUNT];   /* offers + active + wrap-up per channel */
	unsigned misses;
	int64_t idle_since;
};

struct routing_task_info {
	enum routing_task_state state;
	uint32_t queue;
	int stage;
	int has_agent;
	uint32_t agent;          /* ACCEPTED / WRAPUP / sticky target */
	double eff_priority;
	unsigned position;       /* 1-based among the queue's waiting tasks; 0 if not queued */
	int64_t ewt_ms;          /* estimated wait; -1 if no agent serves the queue */
};

struct routing_queue_info {
	unsigned waiting;
	unsigned free_agents[ROUTING_CH_COUNT];
	unsigned serving_slots[ROUTING_CH_COUNT];
	int64_t aht_ms;
};

struct routing_stats {
	uint64_t decisions, offers, accepts, requeues;
	size_t bytes;             /* bytes currently requested from malloc */
	unsigned agents, queues, tasks, groups;
};

struct routing;

/* Fill o with defaults (see field comments). Never fails. */
void routing_opts_init(struct routing_opts *o);
/* Create an engine. *rp receives it; free with routing_free. o may be NULL. */
int routing_alloc(struct routing **rp, const struct routing_opts *o);
/* Free the engine and everything in it; no decisions are reported. NULL ok. */
void routing_free(struct routing *r);

/* Fill s with defaults. */
void routing_queue_spec_init(struct routing_queue_spec *s);
/* Create queue `id` or replace its configuration. Waiting tasks are
 * regrouped under the new rules and routed again. The spec's arrays are
 * copied. Returns 0, -EINVAL, -ENOMEM. */
int routing_queue_set(struct routing *r, uint32_t id,
		      const struct routing_queue_spec *s, int64_t now);
/* Remove a queue: waiting and offered tasks end CANCELLED (reason
 * QUEUE_REMOVED); accepted work continues. Agents keep their other queues.
 * Returns 0 or -ENOENT. */
int routing_queue_remove(struct routing *r, uint32_t id, int64_t now);
/* Counters for a wallboard. Returns 0 or -ENOENT. */
int routing_queue_info(const struct routing *r, uint32_t id,
		       struct routing_queue_info *out);

/* Fill s with defaults (capacity 1/3/5/5, voice blocks other channels). */
void routing_agent_spec_init(struct routing_agent_spec *s);
/* Create agent `id` (state OFFLINE) or replace its skills, languages,
 * capacities and queues, keeping its state and work. Unknown queue ids are
 * ignored (so agents may be loaded before queues; re-set them afterwards).
 * Returns 0, -EINVAL, -ENOMEM. */
int routing_agent_set(struct routing *r, uint32_t id,
		      const struct routing_agent_spec *s, int64_t now);
/* Remove an agent. Its offers are withdrawn and its sticky tasks released.
 * Returns 0, -ENOENT, or -EBUSY while it has accepted or wrap-up work. */
int routing_agent_remove(struct routing *r, uint32_t id, int64_t now);
/* Request state OFFLINE, AVAILABLE or AWAY (reason: caller's code). New work
 * stops at once; while the agent still holds work its reported state stays
 * BUSY/WRAPUP and the requested state takes effect when that work ends.
 * OFFLINE withdraws outstanding offers. Returns 0, -ENOENT, -EINVAL. */
int routing_agent_set_state(struct routing *r, uint32_t id,
			    enum routing_agent_state st, uint16_t reason,
			    int64_t now);
/* Returns 0 or -ENOENT. */
int routing_agent_info(const struct routing *r, uint32_t id,
		       struct routing_agent_info *out);

/* Fill s with defaults (voice, priority 0, no language). */
void routing_task_spec_init(struct routing_task_spec *s);
/* Add a task arriving at `now` and route it at once (an OFFER decision may be
 * reported before this returns). *id receives the engine's task id.
 * Returns 0, -EINVAL (bad channel, priority, too many requirements),
 * -ENOENT (unknown queue), -ENOMEM. */
int routing_task_add(struct routing *r, const struct routing_task_spec *s,
		     int64_t now, uint64_t *id);
/* The customer hung up (ROUTING_TASK_ABANDONED) or the server withdrew the
 * task (ROUTING_TASK_CANCELLED) while QUEUED or OFFERED. Offers are
 * withdrawn; the id becomes invalid. Returns 0, -ENOENT, -EINVAL, or -EBUSY
 * once accepted (use routing_task_end). */
int routing_task_cancel(struct routing *r, uint64_t id,
			enum routing_task_state why, int64_t now);
/* Accepted work ended: the task goes to wrap-up per its queue (or DONE when
 * the queue has no wrap-up). Returns 0, -ENOENT, -EINVAL (not accepted). */
int routing_task_end(struct routing *r, uint64_t id, int64_t now);
/* The agent finished wrap-up early (or a manual wrap-up). 0, -ENOENT, -EINVAL. */
int routing_task_wrap_end(struct routing *r, uint64_t id, int64_t now);
/* Current state, position and estimated wait (computed now, O(position)).
 * Returns 0 or -ENOENT (unknown or already finished). */
int routing_task_info(const struct routing *r, uint64_t id, int64_t now,
		      struct routing_task_info *out);

/* Accept an offer. Refused with -ESTALE if the offer was withdrawn, timed
 * out, or `version` is not the version it was made with; -ENOENT never
 * (unknown offers are stale offers). Ring-all: the first accept wins and the
 * other offers are withdrawn. Returns 0 or -ESTALE. */
int routing_offer_accept(struct routing *r, uint64_t offer, uint32_t version,
			 int64_t now);
/* Decline an offer: the task goes back to its original position and the
 * agent's consecutive misses grow. Returns 0 or -ESTALE. */
int routing_offer_reject(struct routing *r, uint64_t offer, uint32_t version,
			 int64_t now);

/* Run everything due at or before `now` (offer timeouts, overflow steps,
 * maximum waits, sticky expiry, wrap-up ends). Returns the next due time, or
 * ROUTING_NEVER: arm one timer for it. Aging needs no tick. */
int64_t routing_tick(struct routing *r, int64_t now);
/* The next due time without running anything (ROUTING_NEVER if none). */
int64_t routing_next_due(const struct routing *r);

/* Counters and memory in use. Never fails. */
void routing_stats(const struct routing *r, struct routing_stats *out);

/* Human-readable one-line description of d (for logs and event payloads).
 * Writes at most n bytes including the NUL; returns what snprintf returns. */
int routing_decision_format(const struct routing_decision *d, char *buf,
			    size_t n);
/* Static names for enums (never NULL). */
const char *routing_strategy_name(enum routing_strategy s);
const char *routing_task_state_name(enum routing_task_state s);
const char *routing_agent_state_name(enum routing_agent_state s);
const char *routing_decision_type_name(enum routing_decision_type t);
const char *routing_reason_name(enum routing_reason r);

#endif
