/*
 * api_core.h: the path between the web thread and the core thread for the
 * routing API (tasks, offers, agent states).
 *
 * The core thread owns the routing engine and every task and agent state;
 * the web thread never touches them. For /api/v1/tasks, /api/v1/offers and
 * /api/v1/agents/{id}/state the web thread validates the request, fills a
 * struct api_cmd and hands it to the hook the core registered with
 * api_set_core() (the core pushes it on its libre mqueue). The core does the
 * work, fills the result fields and calls api_cmd_done(), which posts the
 * request back to the web thread's inbox (the api_resume() path) where the
 * answer is written.
 *
 * The other direction, core -> one agent's WebSockets: api_user_message()
 * queues a JSON text on every live event stream whose principal is that
 * user (offers and withdrawn offers), whatever its topic subscription.
 *
 * This header is public to src/core (which depends on src/api); it uses no
 * private api types.
 */
#ifndef HL_API_CORE_H
#define HL_API_CORE_H

#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct api;

enum api_cmd_kind {
	API_CMD_TASK_CREATE = 0, /* body: validated task input */
	API_CMD_TASK_GET,        /* id: task id */
	API_CMD_TASK_CANCEL,     /* id; body: {"reason"?} or NULL */
	API_CMD_TASK_COMPLETE,   /* id */
	API_CMD_TASK_WRAPUP,     /* id; body: {"disposition", "notes"} */
	API_CMD_AGENT_STATE_SET, /* id: agent id; body: {"state", "reason"} */
	API_CMD_AGENT_STATE_GET, /* id: agent id */
	API_CMD_OFFER_ACCEPT,    /* id: offer id; body: {"version"} */
	API_CMD_OFFER_REJECT,    /* id: offer id; body: {"version"} */
	API_CMD_TASK_ABANDON,    /* id: task id; the customer left while it
				  * was queued or offered (ends ABANDONED);
				  * 409 once accepted */
	API_CMD_QUEUE_STATUS,    /* id: queue id, 0 = every queue; resp:
				  * {"queues":[{"id","name","channels":[..],
				  * "open","agents_logged_in","agents_available",
				  * "waiting"}]} (docs/CHAT.md) */
	API_CMD_LIVE_STATS,      /* resp: the supervisor's live figures,
				  * {"queues":[..],"agents":[..]} (docs/CHAT.md) */
	/* Voice calls (docs/VOICE.md; src/voice voice_call_*). 503 while SIP
	 * is off; the voice module's errors map to 404 (no such call), 409
	 * (not now; no registered phone; no outbound trunk), 422 (bad target
	 * or number) and 501 (not built yet). */
	API_CMD_CALLS_LIST,      /* resp: {"items":[call..]}; not privileged:
				  * only calls whose agent is the caller's */
	API_CMD_CALL_DIAL,       /* body: {"number"}; from the caller's own
				  * agent's phone; resp 201 {"call": id} */
	API_CMD_CALL_HANGUP,     /* id: call id; the call's agent or privileged */
	API_CMD_CALL_HOLD,       /* id: call id */
	API_CMD_CALL_RESUME,     /* id: call id */
	API_CMD_CALL_TRANSFER,   /* id: call id; body: {"target"}, validated:
				  * "queue:<id>", "agent:<username>", "number:<digits>" */
};

/* One command. Allocated and freed by the web thread; between the hook and
 * api_cmd_done() it belongs to the core, and the web thread leaves it alone. */
struct api_cmd {
	/* inputs (read-only for the core) */
	enum api_cmd_kind kind;
	int64_t user_id;        /* the caller's user (API tokens: their user) */
	bool privileged;        /* admin or supervisor */
	int64_t id;             /* from the path; 0 if none */
	json_t *body;           /* validated body or NULL; the core may read it */
	/* API_CMD_TASK_CREATE only, may be NULL: a store job run in the same
	 * write transaction as task.created, before it. The core sets cmd->id
	 * to the new task's id before the job runs; the job may append events
	 * of its own (e.g. chat.started). If it fails the task is not created
	 * (answered 503 unless the job set cmd->status). */
	store_job_h *prejob;
	/* results (written by the core) */
	int status;             /* HTTP status */
	char *resp;             /* JSON text (malloc'd) for 2xx; the web frees it */
	char detail[256];       /* problem detail for >= 400 */
	char field[64];         /* problem field, "" if none */
	/* private to src/api */
	void *req;
};

/* Called on the web thread for each command. Returns 0 when the core took
 * the command (it will call api_cmd_done exactly once), or a negative errno
 * (the web thread answers 503). Must not block. */
typedef int(api_cmd_post_h)(struct api_cmd *cmd, void *arg);

/* Register (or with h NULL, remove) the core's hook. Any thread. Until a
 * hook is set the routing endpoints answer 503. */
void api_set_core(struct api *a, api_cmd_post_h *h, void *arg);

/* The core finished cmd (status and resp or detail set): post it back to the
 * web thread. Any thread; the caller must not touch cmd afterwards. */
void api_cmd_done(struct api_cmd *cmd);

/* Queue `json` (copied) on every event stream of user `user_id`. Any
 * thread; never blocks; dropped if the user has no stream open. */
void api_user_message(struct api *a, int64_t user_id, const char *json);

#endif
