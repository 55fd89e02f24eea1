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
	/* The routing engine (NULL: every call is refused). */
	const struct voice_routing *routing;
};

/* Open the SIP transports and start answering. Returns 0 and *vp, or a
 * negative errno (logged). Core thread. */
int voice_start(struct voice **vp, const struct voice_opts *opts);

/* Close the transports and free everything. NULL ok. Core thread. */
void voice_stop(struct voice *v);

#endif
