/*
 * core_int.h (private to src/core): the routing projection on the core
 * thread (core_routing.c) and the pure helpers that map stored queue and
 * agent documents into routing specs (core_conf.c, unit-tested in
 * tests/unit/core).
 */
#ifndef HL_CORE_INT_H
#define HL_CORE_INT_H

#include "routing/routing.h"

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* jansson's json_t, without its header: core.c also includes libre's re.h,
 * whose JSON enums clash with jansson's. */
typedef struct json_t json_t;

/* ---- core_conf.c: pure, no state beyond the caller's tables ---------- */

/* Small-number tables for strings the engine takes as integers: language
 * tags (engine languages 0..63) and away reasons (16-bit codes). A string
 * keeps its number for the life of the process. */
#define CORE_TABLE_MAX 64
struct core_table {
	char s[CORE_TABLE_MAX][65];
	unsigned n;
};
/* The number of s in t, adding it when `add` (case-sensitive). Returns
 * 0..CORE_TABLE_MAX-1, or -1 when unknown (add false) or the table is full. */
int core_table_id(struct core_table *t, const char *s, bool add);

/* "voice" -> ROUTING_CH_VOICE ...; -1 if unknown. */
int core_channel_parse(const char *s);
const char *core_channel_name(enum routing_channel c);
/* "longest_idle" ...; -1 if unknown. */
int core_strategy_parse(const char *s);

/* A queue document (as stored: name, channels, strategy, priority,
 * required_skills, service_level, offer_timeout_seconds, wrap_up_seconds,
 * overflow_steps, max_wait_*, sticky_agent) mapped to an engine spec.
 * spec.skills and spec.steps point into this struct: use it in place (do
 * not copy the struct). */
struct core_queue_conf {
	struct routing_queue_spec spec;
	struct routing_skill skills[ROUTING_MAX_REQS];
	struct routing_step steps[ROUTING_MAX_STEPS];
	unsigned channels;   /* bit (1 << routing_channel) per allowed channel */
	int priority;        /* default task priority */
};
/* Returns 0, -EINVAL (not an object, unknown strategy or step action),
 * -E2BIG (more required skills than the engine takes per task, or more
 * than ROUTING_MAX_STEPS steps), -ERANGE (a skill id above
 * ROUTING_MAX_SKILL). */
int core_queue_conf_from_doc(const json_t *doc, struct core_queue_conf *c);

#define CORE_AGENT_MAX_SKILLS 100
#define CORE_AGENT_MAX_QUEUES 200
/* An agent document (skills with levels, languages, capacity, queues,
 * user_id) mapped to an engine spec; languages are numbered through
 * `langs` (added on first sight). Same in-place rule as above. */
struct core_agent_conf {
	struct routing_agent_spec spec;
	struct routing_skill skills[CORE_AGENT_MAX_SKILLS];
	uint32_t queues[CORE_AGENT_MAX_QUEUES];
	int64_t user_id;     /* 0: no user */
};
/* Returns 0, -EINVAL (not an object), -ERANGE (skill id too large; that
 * skill is left out and the rest is filled in). */
int core_agent_conf_from_doc(const json_t *doc, struct core_table *langs,
			     struct core_agent_conf *c);

/* Whether a queue is open at `now` by its document's business_hours
 * ({"timezone", "weekly":[{"day","open","close"}], "holidays":[{"date"}]},
 * see the queue schema in src/api/api_schema.c), in local time of that
 * timezone (src/base tz.c):
 * - no business_hours, or an empty weekly list: always open (holidays
 *   still close);
 * - a holiday's date closes the whole local day;
 * - an interval is [open, close) on its day; "24:00" closes at midnight;
 * - close before open runs overnight (22:00-06:00 opens on its day and
 *   closes the next morning); the part after midnight is skipped when the
 *   day it opened was a holiday, or the next day is one;
 * - open == close is empty (use 00:00-24:00 for a whole day);
 * - an unknown timezone counts as UTC, so that a misspelt zone does not
 *   close the queue for good (the schema restricts the characters only).
 * Pure apart from reading the tz database once per zone. */
bool core_queue_open(const json_t *doc, time_t now);

/* A queue document's voice settings (voice_recording, voice_announce_s,
 * voice_moh, voice_closed_text, language, name; see the queue schema in
 * src/api/api_schema.c) and whether it is open at `now` (core_queue_open).
 * Fields a document from before they existed lacks get their defaults:
 * no recording, announcements every 30 s, built-in music and closed
 * phrase, "en". Pure. */
struct voice_queue_info;
void core_queue_voice_info(const json_t *doc, time_t now, struct voice_queue_info *out);

/* Whether an agent with `used` slots of `capacity` per channel may take
 * new work on ch, given blocking masks as in routing_agent_spec.block
 * (ongoing voice work blocks every other channel by default). Pure. */
bool core_agent_has_room(const uint8_t used[ROUTING_CH_COUNT],
			 const uint8_t capacity[ROUTING_CH_COUNT],
			 const uint8_t block[ROUTING_CH_COUNT], enum routing_channel ch);

/* A wrap-up's disposition against its queue's document: when
 * "disposition_required" is true it may not be empty; when "wrap_up_codes"
 * is a non-empty list a non-empty disposition must be one of them; any
 * other disposition is fine. Returns 0, or -EINVAL with *detail set (a
 * static string naming the field "disposition"). Pure. */
int core_wrapup_check(const json_t *qdoc, const char *disposition, const char **detail);

/* The local day (the process's TZ) containing now_ms: [*start_ms, *end_ms),
 * local midnight to the next, in wall-clock ms (23 or 25 hours on DST
 * days). */
void core_local_day(int64_t now_ms, int64_t *start_ms, int64_t *end_ms);

/* ---- core_routing.c: the routing projection (core thread) ------------- */

struct core_routing;
struct store;
struct store_event;
struct api;

/* Create the engine and load queues and agents from the store (blocking
 * read: call on the core thread before the web thread starts). */
int core_routing_alloc(struct core_routing **crp, struct store *st);
/* Start taking commands from the web thread (registers the api hook). */
void core_routing_attach(struct core_routing *cr, struct api *a);
/* The store's event hook (writer thread): committed queue.*, agent.* and
 * skill.* events are copied onto the core's mqueue. */
void core_routing_events(struct core_routing *cr, const struct store_event *evs, size_t n);
/* After re_main returned: refuse new commands, finish the ones in flight
 * (runs re_main until their store writes completed), detach from the api.
 * Core thread; blocks at most a few seconds. */
void core_routing_drain(struct core_routing *cr);
/* Free everything (after the store closed). NULL ok. */
void core_routing_free(struct core_routing *cr);

/* ---- the task API for channels on the core thread (src/voice) ----------
 *
 * A channel that lives on the core thread (voice calls) creates and ends its
 * tasks here instead of through api_cmd. Tasks made this way are durable
 * like API tasks (task.created committed before the task enters the
 * engine) and produce the same events; offers are still pushed to the
 * agent's WebSockets. In addition, each decision about the task is reported
 * to its callback: after the engine call that made it (from a zero timer,
 * never from inside the engine), so the callback may call these functions
 * again. Core thread only. */
enum core_note_type {
	CORE_NOTE_OFFER,     /* offered to agent (offer, version, timeout_ms, username) */
	CORE_NOTE_WITHDRAWN, /* that offer is gone: timed out, withdrawn, rejected */
	CORE_NOTE_ACCEPTED,  /* accepted by agent */
	CORE_NOTE_ENDED,     /* the task ended (state: done, abandoned, cancelled, ...);
			      * also when task.created could not be written */
};
struct core_task_note {
	enum core_note_type type;
	int64_t task;
	int64_t offer;        /* the API offer id (core_routing_offer_answer) */
	uint32_t version;
	int64_t timeout_ms;
	uint32_t agent;
	const char *username; /* the agent's Hotline username, NULL if unknown */
	const char *state;    /* ENDED: the task's final state */
};
typedef void(core_task_h)(const struct core_task_note *n, void *arg);

/* Create a task on queue for channel ("voice", ...) with attributes (a JSON
 * object's text, or NULL). *task: its id. Returns 0, -EINVAL (no such
 * routable queue, channel not taken), -ESHUTDOWN, -ENOMEM. */
int core_routing_task_open(struct core_routing *cr, uint32_t queue, const char *channel,
			   const char *attributes, core_task_h *h, void *arg, int64_t *task);
/* The customer left while the task waits (queued, offered, or not yet
 * routed): task.abandoned. An accepted task is ended instead (as
 * core_routing_task_end). Returns 0, -ENOENT, -EALREADY (finished). */
int core_routing_task_abandon(struct core_routing *cr, int64_t task, const char *note);
/* The work of an accepted task is over: task.completed, then wrap-up (or
 * done) as the queue says. A waiting task is abandoned. */
int core_routing_task_end(struct core_routing *cr, int64_t task);
/* Accept or reject an offer (the API offer id) on behalf of its agent.
 * Returns 0, -ENOENT (gone), -ESTALE, or the engine's error. */
int core_routing_offer_answer(struct core_routing *cr, int64_t offer, uint32_t version, bool accept);
/* Stop reporting decisions about task (pending reports are dropped). */
void core_routing_task_detach(struct core_routing *cr, int64_t task);

/* ---- the voice channel's hooks and the call commands (docs/VOICE.md) ------ */

struct voice;
/* The voice module the call commands (API_CMD_CALL_*) go to; NULL while
 * SIP is off (they answer 503). Core thread. */
void core_routing_set_voice(struct core_routing *cr, struct voice *v);
/* Append a call.* event (payload: a JSON object's text) to the event log
 * with the next batch: the events of one turn of the core loop are written
 * together by a zero timer (or with the engine call's own write, whichever
 * comes first). task, agent, queue: 0 for none. Returns 0, -EINVAL (not a
 * call.* type or not a JSON object), -ENOMEM. Core thread. */
int core_routing_call_event(struct core_routing *cr, const char *type, int64_t task, uint32_t agent,
			    uint32_t queue, const char *payload);
/* Write the call events still waiting for their timer now, synchronously
 * (at shutdown, after re_main returned). */
void core_routing_call_events_sync(struct core_routing *cr);
/* The voice settings of a queue now (core_queue_voice_info on its stored
 * document). Returns 0 or -ENOENT. */
int core_routing_queue_info(struct core_routing *cr, uint32_t queue, struct voice_queue_info *out);
/* A waiting task's position (1 = next) and estimated wait in seconds (the
 * routing engine's estimate, as GET /api/v1/tasks/{id} shows it; 0 when
 * unknown). Returns 0 or -ENOENT (no such task, or not waiting). */
int core_routing_task_position(struct core_routing *cr, int64_t task, unsigned *pos, unsigned *ewt_s);

#endif
