/*
 * api_int.h (private to src/api): the web thread's objects.
 *
 * Lifetimes (the close rule):
 * - struct api_req is one HTTP request. It is allocated when the request
 *   line arrives and freed on the web thread either after the response is
 *   fully written, or, when the connection closed while a job was in
 *   flight, when that job's completion arrives (req->wsi is then NULL: the
 *   request is an orphan and its result is dropped).
 * - Jobs (store jobs, hash work) only read the request's immutable inputs
 *   and write its result fields; the web thread does not touch a request
 *   while req->pending is set.
 * - struct api_ws is one WebSocket subscriber, living in lws's per-session
 *   memory from ESTABLISHED to CLOSED.
 */
#ifndef HL_API_INT_H
#define HL_API_INT_H

#include "api/api.h"
#include "api/api_core.h"
#include "api/api_schema.h"
#include "base/base.h"
#include "store/store.h"

#include <jansson.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define API_MAX_BODY (1024 * 1024)
#define API_MAX_UPLOAD (10 * 1024 * 1024) /* chat attachments */
#define API_MAX_DISCARD (16 * 1024 * 1024) /* most of an oversized body we read */
#define API_WS_MAX_EVENTS 256
#define API_WS_MAX_BYTES (1024 * 1024)
#define API_WS_CLOSE_SLOW 4008
#define API_WS_RX_MAX (64 * 1024) /* largest frame a client may send (chat text) */

struct api;
struct api_req;

/* Who is calling, after authentication. */
struct api_principal {
	int64_t user_id;
	unsigned role;          /* ROLE_* bit */
	bool via_cookie;        /* cookie auth: unsafe methods need CSRF */
	char username[65];
	char token_hash[65];
	char csrf[48];
};

/* A live session or API token, kept in the web thread's table and in the
 * sessions table of the store. */
struct api_session {
	struct api_session *next; /* hash chain */
	char token_hash[65];
	int64_t user_id;
	unsigned role;
	char username[65];
	char csrf[48];
	char kind[8];             /* "session" or "api" */
	char name[101];
	int64_t created_at, expires_at;
};

typedef void(api_cont_h)(struct api_req *req);

struct api_req {
	struct api *api;
	struct lws *wsi;        /* NULL: connection gone, drop the result */
	int method;             /* LWSHUMETH_* */
	char path[512];
	char query[1024];       /* "a=1&b=2" (raw, url-encoded) */
	char peer[64];
	char *body;
	size_t body_len, body_cap;
	bool close_after;       /* close the connection after the answer */
	int refuse_status;      /* answer this once the body is drained */
	const char *refuse_detail;
	size_t discarded;       /* bytes of an oversized body drained */
	bool pending;           /* a job or work item holds the request */
	bool dispatched;
	int64_t t0_us;
	struct api_principal who;

	/* set by handlers for their continuation */
	api_cont_h *cont;
	int err;                /* job status */
	void *ctx;              /* handler-owned state, freed by ctx_free */
	void (*ctx_free)(void *ctx);

	/* the response */
	int status;
	const char *ctype;
	char *resp;
	size_t resp_len, resp_off;
	char headers[768];      /* extra "Name: value\r\n" lines */
	bool headers_sent;
	bool responded;
	bool internal;          /* no HTTP client: made by api_chat.c for its
				 * own store/core round trips (see api_req_internal) */
	size_t max_body;        /* 0: API_MAX_BODY */
	struct lws_sorted_usec_list sul; /* delayed answers (throttled logins) */
};

/* Per-connection memory given by lws (pss). */
struct api_conn {
	struct api_req *req;
	struct api_ws *ws;
};

struct api_ws {
	struct api_ws *prev, *next; /* list of subscribers */
	struct lws *wsi;
	struct api_principal who;
	char **topics;              /* NULL-terminated, or NULL: none */
	struct api_evmsg **ring;    /* allocated while events are queued */
	unsigned head, count;
	size_t bytes;
	bool hello_sent;
	bool closing;
	char *rx;                   /* a control message being received */
	size_t rx_len;
	int refs;                   /* 1 while open, +1 per chat job in flight */
	bool gone;                  /* closed: jobs drop their answers */
	struct api_ws *uprev, *unext; /* staff: streams of the same user (a->by_user) */
	bool in_topics;             /* staff: on a->topic_subs (has topics) */
	struct api_ws *tprev, *tnext;
	/* widget visitors (api_chat.c) */
	bool visitor;
	int64_t conv;               /* attached conversation, 0 none */
	struct api_ws *cprev, *cnext; /* visitors of the same conversation */
	int64_t max_seq;            /* highest message seq sent on this socket */
	bool resuming;              /* hold live messages until history is sent */
	struct api_evmsg **held;
	unsigned nheld;
	double tokens;              /* rate limit: frames allowed now */
	int64_t tok_us;
	bool busy;                  /* a start/resume is in flight */
};

/* One serialized event shared by every subscriber that gets it. */
struct api_evmsg {
	int refs;
	int64_t interaction;        /* of the event; 0 for other messages */
	int64_t seq;                /* chat.message: its seq, else 0 */
	struct api_evmsg *visitor;  /* chat.message of kind "message": the
				     * widget's frame for it (owned), or NULL */
	char type[64];
	size_t len;
	unsigned char buf[];        /* LWS_PRE bytes of headroom, then JSON */
};

/* Items crossing into the web thread. */
enum api_inbox_kind { INBOX_RESUME, INBOX_EVENTS, INBOX_STOP, INBOX_USER, INBOX_CALL };
struct api_inbox_item {
	struct api_inbox_item *next;
	enum api_inbox_kind kind;
	struct api_req *req;          /* RESUME */
	struct api_evmsg **evs;       /* EVENTS; USER: one message */
	size_t nevs;
	int64_t user_id;              /* USER: to this user's streams */
	void (*fn)(void *arg);        /* CALL: run fn(arg) on the web thread */
	void *arg;
};

struct api_metrics {
	uint64_t requests[6];         /* by status class 1xx..5xx; [0] unused */
	uint64_t req_by_code[600];
	uint64_t latency_hist[12];    /* cumulative buckets, see api_metrics.c */
	uint64_t latency_us_sum;
	uint64_t latency_count;
	uint64_t ws_connections;
	uint64_t ws_events_sent;
	uint64_t ws_slow_closed;
	uint64_t login_failures;
	uint64_t events_published;
};

struct api {
	struct api_opts o;
	struct lws_context *ctx;
	struct ev_loop *loop;     /* libev loop lws runs on (web thread) */
	pthread_t thread;
	int port;
	volatile int stop_requested;
	bool deprecated;
	int64_t drain_deadline_us;

	int drain_ms;
	pthread_mutex_t inbox_lock;
	pthread_cond_t inbox_cond;
	struct api_inbox_item *inbox_head, *inbox_tail;
	/* the core's command hook (api_core.h), under inbox_lock */
	api_cmd_post_h *core_h;
	void *core_arg;

	/* web-thread only */
	struct api_session **sessions; /* hash table by token_hash */
	size_t nbuckets, nsessions;
	struct api_throttle *throttle; /* failed logins by source */
	struct api_ws *subscribers;    /* every staff stream */
	struct api_ws *topic_subs;     /* staff streams with a subscription */
	struct api_ws **by_user;       /* staff streams by user id (API_USER_BUCKETS) */
	struct api_chat *chat;         /* api_chat.c: conversations on this thread */
	size_t inflight;               /* requests not yet freed */
	struct api_metrics m;
	char *openapi;                 /* cached document */
	size_t openapi_len;
	struct lws_http_mount mounts[4];
	char web_dir[1024];
};

#define API_USER_BUCKETS 1024

/* api.c */
/* A request with no client, for work that must round-trip through the
 * store or the core outside an HTTP request (widget frames). Its cont runs
 * on the web thread like any resumed request; free it with api_req_free.
 * api_problem/api_respond on it only record status and body. */
struct api_req *api_req_internal(struct api *a);
void api_req_free(struct api_req *req);
/* Run fn(arg) on the web thread (any thread). */
void api_call(struct api *a, void (*fn)(void *arg), void *arg);
void api_respond(struct api_req *req, int status, const char *ctype, char *body, size_t len);
void api_respond_json(struct api_req *req, int status, json_t *j);
/* Like api_respond, but buf already has LWS_PRE bytes of headroom before
 * the len bytes of body (no copy: large files). Takes ownership. */
void api_respond_pre(struct api_req *req, int status, const char *ctype, char *buf, size_t len);
void api_problem(struct api_req *req, int status, const char *detail, const char *field);
void api_add_header(struct api_req *req, const char *name, const char *value);
/* Hand the request to another thread; call api_resume() there when done:
 * it posts the request back and runs req->cont on the web thread. */
void api_suspend(struct api_req *req, api_cont_h *cont);
void api_resume(struct api_req *req);
/* The store_done_h that resumes a suspended request (arg = req). */
void api_store_done(int err, void *arg);
/* Suspend req on a store job (write or read; the job gets req as its
 * argument and finds its context in req->ctx), resumed into cont. Returns
 * 0, or answers 503 itself and returns the store's error. */
int api_submit(struct api_req *req, bool write, store_job_h *job, api_cont_h *cont);
/* The same for blocking work on the worker pool: fn(req) must end with
 * api_resume(req). */
int api_work(struct api_req *req, base_work_h *fn, api_cont_h *cont);
int api_query_get(const struct api_req *req, const char *name, char *buf, size_t size);
int api_query_int(const struct api_req *req, const char *name, int64_t def, int64_t min,
		  int64_t max, int64_t *out);
json_t *api_parse_body(struct api_req *req); /* NULL after answering 400/415 */

/* api_auth.c */
int api_auth_init(struct api *a);
void api_auth_free(struct api *a);
void api_auth_housekeeping(struct api *a); /* expire sessions, throttle entries */
/* Authenticate from the Authorization header, ?token= (WS only) or the
 * cookie. Returns true with req->who filled. */
bool api_auth_request(struct api *a, struct lws *wsi, bool allow_query_token,
		      const char *query, struct api_principal *who);
void api_handle_login(struct api_req *req);
void api_handle_logout(struct api_req *req);
void api_handle_me(struct api_req *req);
void api_handle_tokens(struct api_req *req, const char *id);
const char *api_role_name(unsigned role);
unsigned api_role_parse(const char *s);
void api_session_put(struct api *a, const struct api_session *s);
void api_session_drop(struct api *a, const char *token_hash);
void api_sessions_drop_user(struct api *a, int64_t user_id);
int api_hash_password(const char *password, char out[128]);

/* api_res.c */
/* Render one stored resource (doc + id, version, times) into *out (new
 * reference). Returns 0, -ENOENT, or a store error. On a store thread. */
int api_res_fetch(struct store_tx *tx, const struct api_resource *res, int64_t id, json_t **out);
void api_handle_resource(struct api_req *req, const struct api_resource *res, const char *id);
void api_handle_events_list(struct api_req *req);

/* api_ws.c */
int api_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, struct api_conn *conn,
		    void *in, size_t len);
void api_ws_deliver(struct api *a, struct api_evmsg **evs, size_t n);
struct api_evmsg *api_evmsg_from_event(const struct store_event *ev);
void api_evmsg_unref(struct api_evmsg *m);

/* api_ws.c: queue m on every stream of user_id, whatever its topics (takes
 * over the caller's reference). */
void api_ws_deliver_user(struct api *a, int64_t user_id, struct api_evmsg *m);
struct api_evmsg *api_evmsg_from_text(const char *json, const char *type);

/* api_tasks.c: /api/v1/tasks..., /api/v1/offers/{id}/accept|reject and
 * /api/v1/agents/{id}/state, answered by the core thread (api_core.h).
 * `rest` is the path after "/api/v1/". */
void api_handle_tasks(struct api_req *req, const char *rest);
void api_handle_offers(struct api_req *req, const char *rest);
void api_handle_agent_state(struct api_req *req, const char *rest);
/* api.c: post a command to the core; false after answering 503 */
bool api_core_post(struct api_req *req, struct api_cmd *cmd, api_cont_h *cont);
/* api_tasks.c: post a command built from the request (takes body) and
 * answer with its result; parse a positive id (at most 2^53 - 1) of n chars. */
void api_tasks_post(struct api_req *req, enum api_cmd_kind kind, int64_t id, json_t *body);
bool api_parse_id(const char *s, size_t n, int64_t *out);

/* api_calls.c: /api/v1/calls... (answered by the core, api_core.h) and
 * /api/v1/recordings... (the call.recorded events; files under
 * DATA/recordings). `rest` is the path after "calls" / "recordings". */
void api_handle_calls(struct api_req *req, const char *rest);
void api_handle_recordings(struct api_req *req, const char *rest);
void api_calls_openapi(json_t *paths, json_t *schemas);

/* api_wfm.c */
void api_handle_wfm_erlang(struct api_req *req);
void api_handle_wfm_simulate(struct api_req *req);
/* api_wfm_data.c, api_wfm_sched.c, api_wfm_schema.c: forecasts, staffing,
 * adherence and schedules from the event log (`rest` after
 * "/api/v1/wfm/schedules"); their OpenAPI entries. */
void api_handle_wfm_forecast(struct api_req *req);
void api_handle_wfm_staffing(struct api_req *req);
void api_handle_wfm_adherence(struct api_req *req);
void api_handle_wfm_schedule(struct api_req *req);
void api_handle_wfm_schedules(struct api_req *req, const char *rest);
void api_wfm_openapi(json_t *paths, json_t *schemas);

/* api_chat.c */
int api_chat_init(struct api *a);     /* load open conversations (blocking, at start) */
void api_chat_free(struct api *a);
/* Once the lws context exists (before the web thread runs): start the
 * abandonment grace timers of loaded conversations nobody is attached to. */
void api_chat_arm_all(struct api *a);
/* /api/v1/chat/... (public, `rest` after "/api/v1/chat/") */
void api_handle_chat_public(struct api_req *req, const char *rest);
/* /api/v1/chats... (staff, `rest` after "/api/v1/") */
void api_handle_chats(struct api_req *req, const char *rest);
void api_handle_customer_interactions(struct api_req *req, int64_t customer_id);
/* Add the chat endpoints to the OpenAPI document (api_schema.c calls it). */
void api_chat_openapi(json_t *paths, json_t *schemas);
/* Is this an upload path (raw body up to 10 MiB, any Content-Type)? */
bool api_chat_is_upload(const char *path);
/* Widget socket events (api_ws.c calls these) */
void api_chat_visitor_open(struct api *a, struct api_ws *ws);
void api_chat_visitor_frame(struct api *a, struct api_ws *ws, json_t *j);
void api_chat_visitor_closed(struct api *a, struct api_ws *ws);
/* A staff stream frame other than subscribe; returns false if unknown. */
bool api_chat_staff_frame(struct api *a, struct api_ws *ws, const char *type, json_t *j);
/* On the store thread, for a chat.message event: fill m's seq and, for
 * kind "message", its widget frame (m->visitor). */
void api_chat_prepare(struct api_evmsg *m, const struct store_event *ev);
/* Committed events after topic delivery: route chat.* to participants and visitors. */
void api_chat_on_events(struct api *a, struct api_evmsg **evs, size_t n);
/* api_ws.c helpers for api_chat.c */
void api_ws_send(struct api *a, struct api_ws *ws, struct api_evmsg *m); /* takes a ref */
void api_ws_send_json(struct api *a, struct api_ws *ws, json_t *j);     /* steals j */
bool api_ws_topic_match(const struct api_ws *ws, const char *type);
void api_ws_unref(struct api_ws *ws);
/* api_auth.c */
void api_token_hash(const char *token, char out[65]);
void api_random_token(char *out, size_t size, size_t nbytes);

/* api_sip.c: /api/v1/users/{id}/sip_password (`rest` after "/api/v1/users/"),
 * the user's line of DATA/sip_accounts; its OpenAPI entries. */
void api_handle_sip_password(struct api_req *req, const char *rest);
void api_sip_openapi(json_t *paths, json_t *schemas);

/* api_metrics.c */
void api_metrics_observe(struct api *a, int status, int64_t us);
void api_handle_metrics(struct api_req *req);

#endif
