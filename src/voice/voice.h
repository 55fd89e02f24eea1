/*
 * voice.h: the voice channel on the core thread (libre). Today: the SIP
 * listener (UDP and TCP on one port, TLS on the next) and the registrar for agent phones
 * (digest authentication with expiring stateless nonces, per-source
 * throttling of failed attempts, bindings with expiry that remember the
 * flow the REGISTER came over), and calls into queues (voice_call.c:
 * answered, a hold tone, a routing task through the core's task API, the
 * offered agent's phone rung and bridged by RTP relay). Menus, prompts and
 * recording come next (docs/VOICE.md, issue #5).
 *
 * Threads: every function here runs on the core thread, the one running
 * re_main (libre objects are not thread-safe).
 */
#ifndef HL_VOICE_H
#define HL_VOICE_H

#include <stdbool.h>
#include <stdint.h>

struct voice;

/* What the routing engine decided about a call's task (core_int.h's
 * core_task_note, handed through by the core). */
enum voice_note_type { VOICE_NOTE_OFFER, VOICE_NOTE_WITHDRAWN, VOICE_NOTE_ACCEPTED, VOICE_NOTE_ENDED };
struct voice_note {
	enum voice_note_type type;
	int64_t task;
	int64_t offer;        /* offer id, for offer_answer */
	uint32_t version;
	int64_t timeout_ms;
	uint32_t agent;
	const char *username; /* the agent's Hotline username (its phone account); NULL unknown */
	const char *state;    /* ENDED: final task state */
};
typedef void(voice_note_h)(const struct voice_note *n, void *arg);

/* A queue's voice settings (the queue document's fields, see
 * src/api/api_schema.c) and whether it is open now. */
struct voice_queue_info {
	char language[8];       /* "en", "sv", "de", "hu", "lt" */
	bool open;              /* within its business hours now */
	bool recording;         /* record calls (both directions mixed, 8 kHz WAV) */
	unsigned announce_s;    /* position/wait announcement period; 0 = never */
	char moh[128];          /* music on hold: a WAV under DATA/prompts; "" built-in */
	char closed_text[256];  /* spoken when closed; "" = the built-in phrase */
	char name[64];
};

/* The core's task API (core_int.h, core_routing_task_*), as the voice
 * module sees it. Every function returns 0 or a negative errno. */
struct voice_routing {
	void *arg;
	int (*task_open)(void *arg, uint32_t queue, const char *attributes, voice_note_h *h,
			 void *harg, int64_t *task);
	int (*task_abandon)(void *arg, int64_t task);
	int (*task_end)(void *arg, int64_t task);
	int (*offer_answer)(void *arg, int64_t offer, uint32_t version, int accept);
	void (*task_detach)(void *arg, int64_t task);
	/* Append an event (type "call.*", payload a JSON object's text) to the
	 * event log, written with the core's next batch; agent and queue 0 when
	 * none. Returns 0 or a negative errno. May be NULL (no events). */
	int (*event)(void *arg, const char *type, int64_t task, uint32_t agent, uint32_t queue,
		     const char *payload);
	/* What a call needs to know about a queue, now. Returns 0 and *out, or
	 * -ENOENT (no such queue). May be NULL (defaults: en, open, no
	 * recording, announcements every 30 s, built-in music). */
	int (*queue_info)(void *arg, uint32_t queue, struct voice_queue_info *out);
	/* A waiting task's place in its queue (1 = next) and the estimated wait
	 * in seconds (0 unknown). Returns 0, or -ENOENT when the task is not
	 * waiting. May be NULL. */
	int (*task_position)(void *arg, int64_t task, unsigned *pos, unsigned *ewt_s);
};

struct voice_opts {
	const char *bind;     /* NULL, "", "0.0.0.0" or "::": every interface address */
	int port;             /* UDP and TCP; TLS on port + 1 (none on 65535) */
	/* Phone credentials: an htdigest file (lines "user:hotline:HA1hex",
	 * HA1 = MD5(user ":hotline:" password)). NULL or missing file: no
	 * phone can register (every attempt is refused). Re-read when it
	 * changes (watched off the core thread, every 250 ms). */
	const char *accounts_file;
	/* TLS: a PEM file with the certificate (chain) and its private key.
	 * NULL or missing file: no TLS transport. */
	const char *tls_file;
	/* Service numbers: a text file, one "number queue_id" per line (# starts
	 * a comment). An INVITE to a number listed here goes to that queue.
	 * Re-read when it changes. NULL or missing: no number takes calls. */
	const char *numbers_file;
	/* Trunks: a text file, one IP address per line. INVITEs from these
	 * addresses need no digest. NULL or missing: no trunk. */
	const char *trunks_file;
	/* Menus: an INI-like file of [NAME] sections (docs/VOICE.md). NULL:
	 * DATA/voice_menus beside numbers_file. Re-read when it changes. */
	const char *menus_file;
	/* The data directory: prompts under DATA/prompts, recordings written to
	 * DATA/recordings. NULL: numbers_file's directory (none: no prompts,
	 * no recording). */
	const char *data_dir;
	/* The routing engine (NULL: every call is refused). */
	const struct voice_routing *routing;
};

/* Open the SIP transports and start answering. Returns 0 and *vp, or a
 * negative errno (logged). Core thread. */
int voice_start(struct voice **vp, const struct voice_opts *opts);

/* Close the transports and free everything. NULL ok. Core thread. */
void voice_stop(struct voice *v);

/* ---- commands from the API (through the core), core thread ----------------
 * A call is named by its call id: for an inbound call its task id, for an
 * outbound call (voice_call_dial) an id above 10^12 (from the clock at
 * start, so unique across restarts). Every call.* event carries it as
 * "call" in its payload. Each returns 0 or a negative errno: -ENOENT no
 * such call, -EBUSY not in a state for it (e.g. hold before the agent
 * answered), -EINVAL a bad target. */

/* Hang up both legs (the task ends as if the agent hung up). */
int voice_call_hangup(struct voice *v, int64_t call);
/* Hold (true) or resume (false): on hold the caller hears music and the
 * agent's phone silence; RTP is not relayed. */
int voice_call_hold(struct voice *v, int64_t call, bool hold);
/* Blind transfer of the caller to target: "queue:<id>" (a new task on that
 * queue; the agent goes to wrap-up), "agent:<username>" (that user's phone
 * rings; the call is bridged to it), or "number:<digits>" (out through the
 * outbound trunk). The agent's leg is hung up once the caller's new leg or
 * task exists. */
int voice_call_transfer(struct voice *v, int64_t call, const char *target);
/* Click to dial: ring the phone of username (agent agent_id); when it
 * answers, call number through the outbound trunk and bridge the two.
 * *call: the new call's id. -ENODEV: no registered phone; -ENOTSUP: no
 * outbound trunk. Not a routing task: the agent's state is left alone. */
int voice_call_dial(struct voice *v, const char *username, uint32_t agent_id, const char *number,
		    int64_t *call);
/* The agent on a call (for permission checks): 0 and *agent (0 while no
 * agent has it), or -ENOENT. */
int voice_call_agent(struct voice *v, int64_t call, uint32_t *agent);
/* The calls now, as a JSON array (malloc'd text, the caller frees; NULL on
 * allocation failure): [{"call","task","direction":"inbound"|"outbound",
 * "state":"menu"|"queued"|"ringing"|"talking"|"held"|"dialing",
 * "caller","number","queue","agent","started_ms","answered_ms",
 * "recording"}] (0/"" where unknown). */
char *voice_calls_json(struct voice *v);

#endif
