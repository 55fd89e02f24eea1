/*
 * api_chat.c: web chat on the web thread (the contract is docs/CHAT.md).
 *
 * What lives here:
 * - the widget's public endpoints (/api/v1/chat/...) and its WebSocket
 *   frames (/api/v1/chat/ws, a "visitor" struct api_ws);
 * - the staff endpoints (/api/v1/chats...) and the chat frames staff send
 *   on /api/v1/events;
 * - a table of live conversations (web thread only): for each, the
 *   visitors' sockets attached to it and the staff users taking part. It
 *   is a cache of the event log: rebuilt at start from the open
 *   conversations' chat.joined/chat.left events and kept current by the
 *   committed chat.* events that pass through api_chat_on_events.
 *
 * Durability: every message is a store write job (row + chat.message
 * event in one transaction). Nobody is shown a message before it is
 * committed: the sender's acknowledgement IS the committed event coming
 * back, carrying the sender's client_id. A resent client_id stores
 * nothing (UNIQUE(conversation, client_id)).
 *
 * Exactly-once per connection: a visitor socket remembers the highest seq
 * it was sent (max_seq) and skips anything at or below it. A resume first
 * finds the conversation (by token), attaches the socket in "resuming"
 * mode (live messages are held, not sent), then reads the history; the
 * history is sent, then the held messages above it. Anything committed
 * before the history snapshot is in the history; anything after reaches
 * the attached socket live; what is in both is dropped by seq.
 *
 * Starting a conversation takes three hops: a store job finds or creates
 * the customer; the core creates the routing task whose id becomes the
 * conversation id, and runs our prejob in the same transaction as
 * task.created (the conversation row, chat.started and the optional first
 * message); then the visitor is answered and attached.
 *
 * Work that must round-trip outside an HTTP request (visitor frames) uses
 * an internal api_req (api_req_internal) so the same api_submit /
 * api_core_post / api_work paths serve both. A visitor socket that closes
 * while a job is out is kept alive by a reference (ws->refs) and marked
 * gone; the job's answer is dropped.
 */
#include "api/api_int.h"
#include "base/base.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MOD "chat"
#define CHAT_MAX_TEXT 16384
#define CHAT_MAX_USERS 8
#define CHAT_MAX_INVITED 4
#define CHAT_BUCKETS 4096
#define CHAT_RATE_PER_S 20.0
#define CHAT_HELD_MAX 256
#define CHAT_HISTORY_MAX 2000

enum chat_state { CS_QUEUED = 0, CS_ACTIVE, CS_ENDED };
static const char *const state_names[] = {"queued", "active", "ended"};

struct chat_user {
	int64_t user_id, agent_id;
	char name[101];
};

struct chat_conv {
	struct chat_conv *next; /* hash chain */
	int64_t id;
	enum chat_state state;
	struct chat_user users[CHAT_MAX_USERS];
	unsigned nusers;
	int64_t invited[CHAT_MAX_INVITED];
	bool invited_transfer[CHAT_MAX_INVITED];
	int64_t invited_by[CHAT_MAX_INVITED];
	unsigned ninvited;
	struct api_ws *visitors;
	struct api *api;
	struct lws_sorted_usec_list grace; /* armed while a waiting customer is away */
	bool grace_armed;
};

struct api_chat {
	struct chat_conv *b[CHAT_BUCKETS];
	size_t n;
	char attach_dir[1024];
	int64_t grace_us;  /* how long a waiting customer may be away */
};

/* ---- the conversation table ------------------------------------------------ */

static size_t conv_bucket(int64_t id)
{
	return (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ull >> 40) % CHAT_BUCKETS;
}

static struct chat_conv *conv_find(struct api *a, int64_t id)
{
	if (!a->chat)
		return NULL;
	for (struct chat_conv *c = a->chat->b[conv_bucket(id)]; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

static struct chat_conv *conv_get(struct api *a, int64_t id)
{
	struct chat_conv *c = conv_find(a, id);
	if (c || !a->chat)
		return c;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->id = id;
	c->api = a;
	size_t b = conv_bucket(id);
	c->next = a->chat->b[b];
	a->chat->b[b] = c;
	a->chat->n++;
	return c;
}

/* An ended conversation nobody watches any more leaves the table. */
static void conv_maybe_free(struct api *a, struct chat_conv *c)
{
	if (!c || c->state != CS_ENDED || c->visitors)
		return;
	if (c->grace_armed)
		lws_sul_cancel(&c->grace);
	struct chat_conv **pp = &a->chat->b[conv_bucket(c->id)];
	while (*pp && *pp != c)
		pp = &(*pp)->next;
	if (*pp)
		*pp = c->next;
	a->chat->n--;
	free(c);
}

static int conv_user_index(const struct chat_conv *c, int64_t user_id)
{
	for (unsigned i = 0; i < c->nusers; i++)
		if (c->users[i].user_id == user_id)
			return (int)i;
	return -1;
}

static void conv_add_user(struct chat_conv *c, int64_t user_id, int64_t agent_id, const char *name)
{
	int i = conv_user_index(c, user_id);
	if (i < 0) {
		if (c->nusers == CHAT_MAX_USERS)
			return;
		i = (int)c->nusers++;
	}
	c->users[i].user_id = user_id;
	c->users[i].agent_id = agent_id;
	snprintf(c->users[i].name, sizeof(c->users[i].name), "%s", name ? name : "");
	if (c->state != CS_ENDED)
		c->state = CS_ACTIVE;
}

static void conv_del_user(struct chat_conv *c, int64_t user_id)
{
	int i = conv_user_index(c, user_id);
	if (i < 0)
		return;
	c->users[i] = c->users[--c->nusers];
	if (!c->nusers && c->state == CS_ACTIVE)
		c->state = CS_QUEUED;
}

static int conv_invited_index(const struct chat_conv *c, int64_t user_id)
{
	for (unsigned i = 0; i < c->ninvited; i++)
		if (c->invited[i] == user_id)
			return (int)i;
	return -1;
}

static void deliver_staff_json(struct api *a, const struct chat_conv *c, json_t *j);

static void presence(struct api *a, struct chat_conv *c, bool online)
{
	deliver_staff_json(a, c, json_pack("{s:s, s:I, s:b}", "type", "chat_presence", "conversation",
					   (json_int_t)c->id, "online", online));
}

static void conv_attach(struct chat_conv *c, struct api_ws *ws)
{
	if (c->grace_armed) {
		lws_sul_cancel(&c->grace);
		c->grace_armed = false;
	}
	if (!c->visitors && c->api)
		presence(c->api, c, true);
	ws->conv = c->id;
	ws->cprev = NULL;
	ws->cnext = c->visitors;
	if (c->visitors)
		c->visitors->cprev = ws;
	c->visitors = ws;
}

static void chat_grace(struct lws_sorted_usec_list *sul);

/* A customer who closed the page while waiting has left: after a grace
 * period for reconnecting, the chat is abandoned (chat_grace). */
static void arm_grace(struct api *a, struct chat_conv *c)
{
	if (c->state != CS_QUEUED || c->visitors || c->grace_armed || !a->ctx)
		return;
	c->grace_armed = true;
	lws_sul_schedule(a->ctx, 0, &c->grace, chat_grace, a->chat->grace_us);
}

static void conv_detach(struct api *a, struct api_ws *ws)
{
	struct chat_conv *c = ws->conv ? conv_find(a, ws->conv) : NULL;
	if (c) {
		if (ws->cprev)
			ws->cprev->cnext = ws->cnext;
		else
			c->visitors = ws->cnext;
		if (ws->cnext)
			ws->cnext->cprev = ws->cprev;
	}
	ws->cprev = ws->cnext = NULL;
	ws->conv = 0;
	if (c && !c->visitors && c->state != CS_ENDED) {
		presence(a, c, false);
		arm_grace(a, c);
	}
	conv_maybe_free(a, c);
}

static json_t *conv_participants(const struct chat_conv *c)
{
	json_t *arr = json_array();
	for (unsigned i = 0; c && i < c->nusers; i++)
		json_array_append_new(arr, json_pack("{s:I, s:I, s:s}", "user_id",
						     (json_int_t)c->users[i].user_id, "agent_id",
						     (json_int_t)c->users[i].agent_id, "name", c->users[i].name));
	return arr;
}

/* The visitor's view of who is serving them: the first agent, or null. */
static json_t *conv_agent(const struct chat_conv *c)
{
	if (!c || !c->nusers)
		return json_null();
	return json_pack("{s:s}", "name", c->users[0].name);
}

/* ---- small helpers ------------------------------------------------------------ */

static bool client_id_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n < 1 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '-' || ch == '_'))
			return false;
	}
	return true;
}

static bool email_ok(const char *s)
{
	size_t n = strlen(s);
	const char *at = strchr(s, '@');
	if (n < 3 || n > 254 || !at || at == s || !at[1] || strchr(at + 1, '@'))
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ')
			return false;
	return true;
}

static bool language_ok(const char *s)
{
	static const char *const langs[] = {"en", "sv", "de", "hu", "lt"};
	for (size_t i = 0; i < 5; i++)
		if (strcmp(s, langs[i]) == 0)
			return true;
	return false;
}

static bool privileged(const struct api_principal *who)
{
	return who->role == ROLE_ADMIN || who->role == ROLE_SUPERVISOR;
}

static void visitor_error(struct api *a, struct api_ws *ws, const char *code, const char *field,
			  const char *client_id, const char *detail)
{
	json_t *j = json_pack("{s:s, s:s, s:s}", "type", "error", "code", code, "detail", detail);
	if (field)
		json_object_set_new(j, "field", json_string(field));
	if (client_id)
		json_object_set_new(j, "client_id", json_string(client_id));
	api_ws_send_json(a, ws, j);
}

static void staff_error(struct api *a, struct api_ws *ws, const char *client_id, const char *detail)
{
	json_t *j = json_pack("{s:s, s:s}", "type", "error", "detail", detail);
	if (client_id)
		json_object_set_new(j, "client_id", json_string(client_id));
	api_ws_send_json(a, ws, j);
}

/* Send m to every stream of the conversation's staff that did not get it
 * through its own topic subscription. */
static void deliver_staff(struct api *a, const struct chat_conv *c, struct api_evmsg *m,
			  int64_t also_user)
{
	if (!a->by_user)
		return;
	int64_t ids[CHAT_MAX_USERS + 1];
	unsigned n = 0;
	for (unsigned i = 0; c && i < c->nusers; i++)
		ids[n++] = c->users[i].user_id;
	if (also_user && (!c || conv_user_index(c, also_user) < 0))
		ids[n++] = also_user;
	for (unsigned i = 0; i < n; i++) {
		size_t b = (size_t)((uint64_t)ids[i] * 0x9E3779B97F4A7C15ull >> 54) % API_USER_BUCKETS;
		for (struct api_ws *ws = a->by_user[b]; ws; ws = ws->unext)
			if (ws->who.user_id == ids[i] &&
			    !(ws->in_topics && api_ws_topic_match(ws, m->type)))
				api_ws_send(a, ws, m);
	}
}

static void deliver_staff_json(struct api *a, const struct chat_conv *c, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!s)
		return;
	struct api_evmsg *m = api_evmsg_from_text(s, "chat_live");
	free(s);
	if (m)
		deliver_staff(a, c, m, 0);
	api_evmsg_unref(m);
}

static void visitors_send_json(struct api *a, struct chat_conv *c, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!s)
		return;
	struct api_evmsg *m = api_evmsg_from_text(s, "chat_visitor");
	free(s);
	for (struct api_ws *ws = c->visitors; m && ws; ws = ws->cnext)
		api_ws_send(a, ws, m);
	api_evmsg_unref(m);
}

static void send_state(struct api *a, struct chat_conv *c)
{
	visitors_send_json(a, c, json_pack("{s:s, s:s, s:o}", "type", "state", "state",
					   state_names[c->state], "agent", conv_agent(c)));
}

/* A message frame for a visitor socket, once per seq. */
static void visitor_send_message(struct api *a, struct api_ws *ws, struct api_evmsg *vm, int64_t seq)
{
	if (ws->resuming) {
		if (ws->nheld == CHAT_HELD_MAX)
			return; /* the history read will bring it */
		if (!ws->held && !(ws->held = calloc(CHAT_HELD_MAX, sizeof(*ws->held))))
			return;
		vm->refs++;
		ws->held[ws->nheld++] = vm;
		return;
	}
	if (seq <= ws->max_seq)
		return;
	ws->max_seq = seq;
	api_ws_send(a, ws, vm);
}

/* ---- rows as JSON ------------------------------------------------------------- */

/* One stored message (a row of MSG_COLS) as the staff's JSON. */
#define MSG_COLS "m.seq, m.kind, m.sender, m.user_id, m.name, m.client_id, m.body, m.ts, "  \
		 "a.id, a.name, a.mime, a.size"
#define MSG_FROM "chat_messages m LEFT JOIN chat_attachments a ON a.id = m.attachment_id"

static json_t *msg_json(const struct store_val *c)
{
	char ts[32];
	json_t *j = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s}", "seq", (json_int_t)c[0].i,
			      "kind", c[1].s, "from", c[2].s, "name", c[4].type == STORE_TEXT ? c[4].s : "",
			      "client_id", c[5].s, "text", c[6].s, "ts",
			      base_iso8601(c[7].i, ts, sizeof(ts)));
	json_object_set_new(j, "user_id", c[3].type == STORE_INT ? json_integer(c[3].i) : json_null());
	if (c[8].type == STORE_INT)
		json_object_set_new(j, "attachment",
				    json_pack("{s:I, s:s, s:s, s:I}", "id", (json_int_t)c[8].i, "name",
					      c[9].s, "mime", c[10].s, "size", (json_int_t)c[11].i));
	return j;
}

/* The widget's frame for a message (no kind, no user id). */
static json_t *visitor_frame_of(json_t *msg)
{
	json_t *v = json_deep_copy(msg);
	json_object_del(v, "kind");
	json_object_del(v, "user_id");
	json_object_set_new(v, "type", json_string("message"));
	return v;
}

#define CONV_COLS "id, state, queue_id, task_id, customer_id, name, email, language, offline, " \
		  "last_seq, rating, comment, created_at, ended_at"

static json_t *conv_row_json(const struct store_val *c)
{
	char t1[32], t2[32];
	json_t *j = json_pack("{s:I, s:s, s:b, s:I, s:s}", "id", (json_int_t)c[0].i, "state", c[1].s,
			      "offline", (int)c[8].i, "last_seq", (json_int_t)c[9].i, "created_at",
			      base_iso8601(c[12].i, t1, sizeof(t1)));
	static const char *const ints[] = {"queue_id", "task_id", "customer_id"};
	for (int i = 0; i < 3; i++)
		json_object_set_new(j, ints[i], c[2 + i].type == STORE_INT ? json_integer(c[2 + i].i)
									 : json_null());
	static const char *const texts[] = {"name", "email", "language"};
	for (int i = 0; i < 3; i++)
		json_object_set_new(j, texts[i], c[5 + i].type == STORE_TEXT ? json_string(c[5 + i].s)
									  : json_null());
	json_object_set_new(j, "rating", c[10].type == STORE_INT ? json_integer(c[10].i) : json_null());
	json_object_set_new(j, "comment", c[11].type == STORE_TEXT ? json_string(c[11].s) : json_null());
	json_object_set_new(j, "ended_at", c[13].type == STORE_INT
						   ? json_string(base_iso8601(c[13].i, t2, sizeof(t2)))
						   : json_null());
	return j;
}

static int conv_row_cb(const struct store_val *c, int n, void *arg)
{
	(void)n;
	json_t **out = arg;
	*out = conv_row_json(c);
	return 0;
}

static int conv_list_cb(const struct store_val *c, int n, void *arg)
{
	(void)n;
	json_array_append_new(arg, conv_row_json(c));
	return 0;
}

static int msg_list_cb(const struct store_val *c, int n, void *arg)
{
	(void)n;
	json_array_append_new(arg, msg_json(c));
	return 0;
}

/* ---- events (store thread, then web thread) ---------------------------------- */

void api_chat_prepare(struct api_evmsg *m, const struct store_event *ev)
{
	json_t *p = json_loads(ev->payload ? ev->payload : "{}", 0, NULL);
	if (!p)
		return;
	m->seq = json_integer_value(json_object_get(p, "seq"));
	const char *kind = json_string_value(json_object_get(p, "kind"));
	if (kind && strcmp(kind, "message") == 0) {
		json_t *v = visitor_frame_of(p);
		char *s = json_dumps(v, JSON_COMPACT);
		json_decref(v);
		if (s) {
			m->visitor = api_evmsg_from_text(s, "chat_visitor");
			free(s);
		}
	}
	json_decref(p);
}

/* The payload of a committed event, from its serialized frame. */
static json_t *event_payload(const struct api_evmsg *m)
{
	json_t *j = json_loadb((const char *)m->buf + LWS_PRE, m->len, 0, NULL);
	json_t *p = json_incref(json_object_get(json_object_get(j, "event"), "payload"));
	json_decref(j);
	return p;
}

void api_chat_on_events(struct api *a, struct api_evmsg **evs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct api_evmsg *m = evs[i];
		if (!m->interaction || strncmp(m->type, "chat.", 5) != 0)
			continue;
		const char *t = m->type + 5;
		struct chat_conv *c = conv_find(a, m->interaction);
		if (strcmp(t, "message") == 0) {
			if (!c)
				continue;
			deliver_staff(a, c, m, 0);
			if (m->visitor)
				for (struct api_ws *ws = c->visitors; ws; ws = ws->cnext)
					visitor_send_message(a, ws, m->visitor, m->seq);
			continue;
		}
		json_t *p = event_payload(m);
		int64_t uid = json_integer_value(json_object_get(p, "user_id"));
		if (strcmp(t, "joined") == 0) {
			if ((c = conv_get(a, m->interaction))) {
				int k = conv_invited_index(c, uid);
				if (k >= 0) {
					c->invited[k] = c->invited[--c->ninvited];
					c->invited_transfer[k] = c->invited_transfer[c->ninvited];
					c->invited_by[k] = c->invited_by[c->ninvited];
				}
				conv_add_user(c, uid, json_integer_value(json_object_get(p, "agent_id")),
					      json_string_value(json_object_get(p, "name")));
				deliver_staff(a, c, m, 0);
				send_state(a, c);
			}
		} else if (strcmp(t, "left") == 0) {
			if (c) {
				deliver_staff(a, c, m, 0);
				conv_del_user(c, uid);
				send_state(a, c);
			}
		} else if (strcmp(t, "ended") == 0) {
			if (c) {
				c->state = CS_ENDED;
				deliver_staff(a, c, m, 0);
				send_state(a, c);
				conv_maybe_free(a, c);
			}
		} else if (c) {
			/* started, transferred, rated */
			deliver_staff(a, c, m, 0);
		}
		json_decref(p);
	}
}

/* ---- operations: one struct for every chat round trip ------------------------- */

struct chat_op {
	struct api *a;
	struct api_ws *ws;        /* visitor or staff socket (referenced), or NULL */
	int64_t conv;
	int64_t user_id;          /* staff caller, 0 for the customer */
	bool priv;
	char sender[16];          /* customer, agent, supervisor */
	char kind[16];            /* message, note, whisper */
	char name[101];
	char email[255];
	char lang[8];
	char topic[101];
	char client_id[65];
	char token[64], token_hash[65];
	char visitor_id[40];
	char *text;
	int64_t queue;
	int64_t customer_id;
	int64_t after;
	int64_t task_id;
	int64_t other;            /* agent id / rating / target queue, by op */
	bool offline;
	bool dup;
	/* results */
	int status;
	char detail[256];
	char field[64];
	json_t *out;              /* result document */
	json_t *list;             /* history or rows */
	/* attachments */
	char mime[40];
	char fname[101];
	char path[1100];
	char *data;
	size_t data_len;
	int64_t attach_id;
	/* a core command (start, end, transfer) */
	struct api_cmd cmd;
};

static void op_free(void *p)
{
	struct chat_op *op = p;
	free(op->text);
	free(op->data);
	json_decref(op->out);
	json_decref(op->list);
	json_decref(op->cmd.body);
	free(op->cmd.resp);
	api_ws_unref(op->ws);
	free(op);
}

static struct chat_op *op_new(struct api *a, struct api_ws *ws)
{
	struct chat_op *op = calloc(1, sizeof(*op));
	if (!op)
		return NULL;
	op->a = a;
	if (ws) {
		op->ws = ws;
		ws->refs++;
	}
	return op;
}

/* An internal request carrying op (for visitor and staff-socket frames). */
static struct api_req *op_req(struct api *a, struct chat_op *op)
{
	struct api_req *req = api_req_internal(a);
	if (!req) {
		op_free(op);
		return NULL;
	}
	req->ctx = op;
	req->ctx_free = op_free;
	return req;
}

static bool op_ws_live(const struct chat_op *op)
{
	return op->ws && !op->ws->gone;
}

static int op_fail(struct chat_op *op, int status, const char *field, const char *detail)
{
	op->status = status;
	snprintf(op->field, sizeof(op->field), "%s", field ? field : "");
	snprintf(op->detail, sizeof(op->detail), "%s", detail);
	return -EPERM; /* rolls back just this job */
}

/* After a job or command: answer the HTTP client, or for an internal
 * request tell the socket about a failure. Returns true if it failed. */
static bool op_failed(struct api_req *req, struct chat_op *op)
{
	int status = op->status >= 400 ? op->status : (req->err ? 503 : 0);
	if (!status)
		return false;
	const char *detail = op->detail[0] ? op->detail : "the store is busy; try again";
	if (!req->internal) {
		api_problem(req, status, detail, op->field[0] ? op->field : NULL);
	} else if (op_ws_live(op)) {
		if (op->ws->visitor)
			visitor_error(req->api, op->ws,
				      status == 404 ? "not_found" : status == 409 ? "closed"
						  : status >= 500 ? "unavailable" : "invalid",
				      op->field[0] ? op->field : NULL, op->client_id[0] ? op->client_id : NULL,
				      detail);
		else
			staff_error(req->api, op->ws, op->client_id[0] ? op->client_id : NULL, detail);
	}
	return true;
}

static void op_done_internal(struct api_req *req)
{
	if (req->internal)
		api_req_free(req);
}

/* ---- storing a message ---------------------------------------------------------- */

struct conv_head {
	bool found;
	char state[16];
	int64_t last_seq, task_id, queue_id, customer_id;
	char name[101];
	bool offline;
};

static int head_cb(const struct store_val *c, int n, void *arg)
{
	(void)n;
	struct conv_head *h = arg;
	h->found = true;
	snprintf(h->state, sizeof(h->state), "%s", c[0].s);
	h->last_seq = c[1].i;
	h->task_id = c[2].type == STORE_INT ? c[2].i : 0;
	h->queue_id = c[3].type == STORE_INT ? c[3].i : 0;
	h->customer_id = c[4].type == STORE_INT ? c[4].i : 0;
	snprintf(h->name, sizeof(h->name), "%s", c[5].type == STORE_TEXT ? c[5].s : "");
	h->offline = n > 6 && c[6].type == STORE_INT && c[6].i;
	return 0;
}

static int conv_head(struct store_tx *tx, int64_t id, struct conv_head *h)
{
	memset(h, 0, sizeof(*h));
	struct store_val p[] = {store_int(id)};
	int r = store_query(tx,
			    "SELECT state, last_seq, task_id, queue_id, customer_id, name, offline FROM conversations "
			    "WHERE id = $1",
			    p, 1, head_cb, h);
	return r ? r : h->found ? 0 : -ENOENT;
}

static int name_cb(const struct store_val *c, int n, void *arg)
{
	(void)n;
	snprintf(arg, 101, "%s", c[0].type == STORE_TEXT ? c[0].s : "");
	return 0;
}

/* conv_head for a job that acts on a conversation: 404 when there is
 * none, 409 once it ended (unless the job may act on ended ones). */
static int live_head(struct store_tx *tx, struct chat_op *op, struct conv_head *h, bool ended_ok)
{
	int r = conv_head(tx, op->conv, h);
	if (r == -ENOENT)
		return op_fail(op, 404, NULL, "no such conversation");
	if (!r && !ended_ok && strcmp(h->state, "ended") == 0)
		return op_fail(op, 409, NULL, "the conversation has ended");
	return r;
}

/* Append one event about the conversation (payload pl is taken). */
static int conv_event(struct store_tx *tx, const char *type, int64_t conv, int64_t queue,
		      int64_t agent, int64_t actor, json_t *pl)
{
	char *payload = json_dumps(pl, JSON_COMPACT);
	json_decref(pl);
	struct store_event ev = {.type = type, .interaction = conv, .queue = queue, .agent = agent,
				 .actor = actor, .payload = payload};
	int r = payload ? store_event_append(tx, &ev) : -ENOMEM;
	free(payload);
	return r;
}

static int one_msg_cb(const struct store_val *c, int n, void *arg)
{
	(void)n;
	json_t **out = arg;
	*out = msg_json(c);
	return 0;
}

/* Store one message (op: conv, kind, sender, user_id, name, client_id,
 * text; optional attachment in path/mime/fname/data_len). In a write job. */
static int store_message(struct store_tx *tx, struct chat_op *op)
{
	struct conv_head h;
	int r = live_head(tx, op, &h, true); /* ended: checked below, after the resend check */
	if (r)
		return r;
	struct store_val pd[] = {store_int(op->conv), store_text(op->client_id)};
	r = store_query(tx, "SELECT " MSG_COLS " FROM " MSG_FROM
			    " WHERE m.conversation = $1 AND m.client_id = $2",
			pd, 2, one_msg_cb, &op->out);
	if (r)
		return r;
	if (op->out) {
		op->dup = true; /* stored before: answer with it, store nothing */
		op->status = 201;
		return 0;
	}
	if (strcmp(h.state, "ended") == 0 && strcmp(op->kind, "note") != 0)
		return op_fail(op, 409, NULL, "the conversation has ended");
	if (!op->name[0])
		snprintf(op->name, sizeof(op->name), "%s", strcmp(op->sender, "customer") == 0 ? h.name : "");
	if (op->user_id && !op->name[0]) {
		/* the agent's name, else the username */
		struct store_val pu[] = {store_int(op->user_id)};
		r = store_query(tx,
				"SELECT coalesce((SELECT name FROM agents WHERE user_id = $1), "
				"(SELECT username FROM users WHERE id = $1))",
				pu, 1, name_cb, op->name);
		if (r)
			return r;
	}
	int64_t now = store_now_ms(), seq = h.last_seq + 1;
	if (op->path[0]) {
		struct store_val pa[] = {store_int(op->conv), store_text(op->fname), store_text(op->mime),
					 store_int((int64_t)op->data_len), store_text(op->path), store_int(now)};
		r = store_query_int(tx,
				    "INSERT INTO chat_attachments (conversation, name, mime, size, path, ts) "
				    "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
				    pa, 6, &op->attach_id);
		if (r)
			return r;
	}
	const char *text = op->text ? op->text : "";
	struct store_val pm[] = {store_int(op->conv),
				 store_int(seq),
				 store_text(op->kind),
				 store_text(op->sender),
				 op->user_id ? store_int(op->user_id) : store_null(),
				 store_text(op->name),
				 store_text(op->client_id),
				 store_text(text),
				 op->attach_id ? store_int(op->attach_id) : store_null(),
				 store_int(now)};
	r = store_exec(tx,
		       "INSERT INTO chat_messages (conversation, seq, kind, sender, user_id, name, client_id, "
		       "body, attachment_id, ts) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
		       pm, 10, NULL);
	if (r)
		return r;
	struct store_val pl[] = {store_int(op->conv), store_int(seq)};
	if ((r = store_exec(tx, "UPDATE conversations SET last_seq = $2 WHERE id = $1", pl, 2, NULL)))
		return r;
	char ts[32];
	json_t *msg = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:s}", "seq", (json_int_t)seq, "kind",
				op->kind, "from", op->sender, "name", op->name, "client_id", op->client_id,
				"text", text, "ts", base_iso8601(now, ts, sizeof(ts)));
	json_object_set_new(msg, "user_id", op->user_id ? json_integer(op->user_id) : json_null());
	if (op->attach_id)
		json_object_set_new(msg, "attachment",
				    json_pack("{s:I, s:s, s:s, s:I}", "id", (json_int_t)op->attach_id, "name",
					      op->fname, "mime", op->mime, "size", (json_int_t)op->data_len));
	char *payload = json_dumps(msg, JSON_COMPACT);
	struct store_event ev = {.ts_ms = now, .type = "chat.message", .interaction = op->conv,
				 .queue = h.queue_id, .actor = op->user_id, .payload = payload};
	r = store_event_append(tx, &ev);
	free(payload);
	if (r) {
		json_decref(msg);
		return r;
	}
	op->out = msg;
	op->status = 201;
	return 0;
}

static int message_job(struct store_tx *tx, void *arg)
{
	struct api_req *req = arg;
	return store_message(tx, req->ctx);
}

static void message_done(struct api_req *req)
{
	struct chat_op *op = req->ctx;
	if (!op_failed(req, op)) {
		if (!req->internal) {
			api_respond_json(req, 201, json_incref(op->out));
		} else if (op->dup && op_ws_live(op) && op->ws->visitor) {
			/* the first copy reached an earlier connection, or this
			 * one: send it unless this socket had it */
			json_t *v = visitor_frame_of(op->out);
			int64_t seq = json_integer_value(json_object_get(op->out, "seq"));
			if (seq > op->ws->max_seq && !op->ws->resuming) {
				op->ws->max_seq = seq;
				api_ws_send_json(req->api, op->ws, v);
			} else {
				json_decref(v);
			}
		} else if (op->dup && op_ws_live(op)) {
			/* a staff client resending after a reconnect waits for the
			 * event with its client_id: give it the stored one */
			api_ws_send_json(req->api, op->ws,
					 json_pack("{s:s, s:{s:s, s:I, s:O}}", "type", "event", "event", "type",
						   "chat.message", "interaction", (json_int_t)op->conv, "payload",
						   op->out));
		}
	}
	op_done_internal(req);
}

/* ---- visitor: start ------------------------------------------------------------ */

static int customer_job(struct store_tx *tx, void *arg)
{
	struct api_req *req = arg;
	struct chat_op *op = req->ctx;
	int r;
	if (op->email[0]) {
		struct store_val p[] = {store_text(op->email)};
		r = store_query_int(tx,
				    "SELECT customer_id FROM customer_identities WHERE tenant = 1 AND "
				    "type = 'email' AND value = $1",
				    p, 1, &op->customer_id);
		if (r == 0)
			return 0;
		if (r != -ENOENT)
			return r;
	}
	json_t *ids = json_array();
	json_array_append_new(ids, json_pack("{s:s, s:s}", "type", "chat", "value", op->visitor_id));
	if (op->email[0])
		json_array_append_new(ids, json_pack("{s:s, s:s}", "type", "email", "value", op->email));
	json_t *doc = json_pack("{s:s, s:s, s:o}", "name", op->name, "language", op->lang,
				"identities", ids);
	char *text = json_dumps(doc, JSON_COMPACT);
	int64_t now = store_now_ms();
	struct store_val p[] = {store_text(op->name), store_text(text), store_int(now)};
	r = store_query_int(tx,
			    "INSERT INTO customers (name, doc, version, created_at, updated_at) "
			    "VALUES ($1, $2, 1, $3, $3) RETURNING id",
			    p, 3, &op->customer_id);
	for (size_t i = 0; !r && i < json_array_size(ids); i++) {
		json_t *it = json_array_get(ids, i);
		struct store_val pi[] = {store_int(op->customer_id),
					 store_text(json_string_value(json_object_get(it, "type"))),
					 store_text(json_string_value(json_object_get(it, "value")))};
		r = store_exec(tx,
			       "INSERT INTO customer_identities (customer_id, type, value) VALUES ($1, $2, $3)",
			       pi, 3, NULL);
	}
	if (!r) {
		json_object_set_new(doc, "id", json_integer(op->customer_id));
		json_object_set_new(doc, "source", json_string("chat"));
		char *payload = json_dumps(doc, JSON_COMPACT);
		struct store_event ev = {.type = "customer.created", .payload = payload};
		r = store_event_append(tx, &ev);
		free(payload);
	}
	free(text);
	json_decref(doc);
	return r;
}

/* In the core's write, with task.created: the conversation and its start. */
static int start_prejob(struct store_tx *tx, void *arg)
{
	struct api_cmd *cmd = arg;
	struct api_req *req = cmd->req;
	struct chat_op *op = req->ctx;
	op->conv = cmd->id;
	int64_t now = store_now_ms();
	struct store_val p[] = {store_int(op->conv),      store_text(op->token_hash),
				store_int(op->customer_id), store_int(op->queue),
				store_int(op->conv),      store_text(op->lang),
				store_text(op->name),     op->email[0] ? store_text(op->email) : store_null(),
				store_int(op->offline),   store_int(now)};
	int r = store_exec(tx,
			   "INSERT INTO conversations (id, token_hash, customer_id, queue_id, task_id, state, "
			   "language, name, email, offline, created_at) VALUES ($1, $2, $3, $4, $5, 'queued', "
			   "$6, $7, $8, $9, $10)",
			   p, 10, NULL);
	if (r)
		return r;
	json_t *pl = json_pack("{s:s, s:s?, s:s, s:I, s:I, s:b, s:s?}", "name", op->name, "email",
			       op->email[0] ? op->email : NULL, "language", op->lang, "queue_id",
			       (json_int_t)op->queue, "customer_id", (json_int_t)op->customer_id,
			       "offline", op->offline, "topic", op->topic[0] ? op->topic : NULL);
	r = conv_event(tx, "chat.started", op->conv, op->queue, 0, 0, pl);
	if (r || !op->text)
		return r;
	snprintf(op->kind, sizeof(op->kind), "message");
	snprintf(op->sender, sizeof(op->sender), "customer");
	if (!op->client_id[0])
		snprintf(op->client_id, sizeof(op->client_id), "first-%" PRId64, op->conv);
	return store_message(tx, op);
}

static void start_core_done(struct api_req *req)
{
	struct chat_op *op = req->ctx;
	struct api *a = req->api;
	struct api_cmd *cmd = &op->cmd;
	if (op_ws_live(op))
		op->ws->busy = false;
	if (cmd->status != 201) {
		op->status = cmd->status ? cmd->status : 503;
		snprintf(op->detail, sizeof(op->detail), "%s",
			 cmd->detail[0] ? cmd->detail : "routing is not available");
		if (!strcmp(cmd->field, "queue_id") || !strcmp(cmd->field, "channel"))
			snprintf(op->field, sizeof(op->field), "queue");
		op_failed(req, op);
		op_done_internal(req);
		return;
	}
	op->conv = cmd->id;
	struct chat_conv *c = conv_get(a, op->conv);
	if (c && op_ws_live(op) && !op->ws->conv) {
		conv_attach(c, op->ws);
		api_ws_send_json(a, op->ws, json_pack("{s:s, s:I, s:s, s:s}", "type", "started",
						      "conversation", (json_int_t)op->conv, "token",
						      op->token, "state", state_names[c->state]));
		if (op->out) {
			/* the first message: its event may have passed before
			 * the socket was attached */
			int64_t seq = json_integer_value(json_object_get(op->out, "seq"));
			op->ws->max_seq = seq;
			api_ws_send_json(a, op->ws, visitor_frame_of(op->out));
		}
	} else if (c) {
		arm_grace(a, c); /* the customer went away while it started */
	}
	op_done_internal(req);
}

static void start_customer_done(struct api_req *req)
{
	struct chat_op *op = req->ctx;
	if (op_failed(req, op)) {
		if (op_ws_live(op))
			op->ws->busy = false;
		op_done_internal(req);
		return;
	}
	struct api_cmd *cmd = &op->cmd;
	cmd->kind = API_CMD_TASK_CREATE;
	cmd->privileged = true;
	/* conversation_id 0: the core puts the new task's own id there */
	/* The customer's language is shown to the agent (attributes), not a
	 * routing requirement: agents without languages on their profile would
	 * never be offered a chat. */
	cmd->body = json_pack("{s:I, s:s, s:I, s:{s:I, s:s, s:s, s:b}}", "queue_id",
			      (json_int_t)op->queue, "channel", "chat", "customer_id",
			      (json_int_t)op->customer_id, "attributes", "conversation_id", (json_int_t)0,
			      "name", op->name, "language", op->lang, "offline", op->offline);
	cmd->prejob = start_prejob;
	if (!api_core_post(req, cmd, start_core_done)) {
		op->status = 503;
		snprintf(op->detail, sizeof(op->detail), "routing is not available; try again");
		if (op_ws_live(op))
			op->ws->busy = false;
		op_failed(req, op);
		op_done_internal(req);
	}
}

/* The first problem with a start frame: its field (and *why), or NULL. Pure. */
static const char *start_invalid(const json_t *j, const char **why)
{
	const char *name = json_string_value(json_object_get(j, "name"));
	json_t *email = json_object_get(j, "email"), *lang = json_object_get(j, "language");
	json_t *topic = json_object_get(j, "topic"), *text = json_object_get(j, "text");
	json_t *q = json_object_get(j, "queue"), *off = json_object_get(j, "offline");
	if (!json_is_integer(q) || json_integer_value(q) < 1)
		return *why = "queue: expected a queue id (a topic's queue_id)", "queue";
	if (!name || !*name || strlen(name) > 100)
		return *why = "name: expected 1 to 100 characters", "name";
	if (email && !json_is_null(email) &&
	    (!json_is_string(email) || (json_string_length(email) && !email_ok(json_string_value(email)))))
		return *why = "email: expected an address like name@example.com", "email";
	if (lang && !json_is_null(lang) && (!json_is_string(lang) || !language_ok(json_string_value(lang))))
		return *why = "language: expected en, sv, de, hu or lt", "language";
	if (topic && !json_is_null(topic) && (!json_is_string(topic) || json_string_length(topic) > 100))
		return *why = "topic: expected up to 100 characters", "topic";
	if (text && !json_is_null(text) &&
	    (!json_is_string(text) || !json_string_length(text) || json_string_length(text) > CHAT_MAX_TEXT))
		return *why = "text: expected 1 to 16384 bytes", "text";
	if (off && !json_is_boolean(off))
		return *why = "offline: expected true or false", "offline";
	return NULL;
}

/* The first problem with a message frame (client_id, text), or NULL. Pure. */
static const char *message_invalid(const json_t *j, const char **why)
{
	const char *cid = json_string_value(json_object_get(j, "client_id"));
	json_t *text = json_object_get(j, "text");
	if (!client_id_ok(cid))
		return *why = "client_id: expected 1 to 64 of A-Z a-z 0-9 _ -", "client_id";
	if (!json_is_string(text) || !json_string_length(text) || json_string_length(text) > CHAT_MAX_TEXT)
		return *why = "text: expected 1 to 16384 bytes", "text";
	return NULL;
}

static void visitor_start(struct api *a, struct api_ws *ws, json_t *j)
{
	const char *name = json_string_value(json_object_get(j, "name"));
	json_t *email = json_object_get(j, "email"), *lang = json_object_get(j, "language");
	json_t *topic = json_object_get(j, "topic"), *text = json_object_get(j, "text");
	json_t *q = json_object_get(j, "queue"), *off = json_object_get(j, "offline");
	const char *why = NULL;
	const char *bad = ws->conv || ws->busy ? "type" : start_invalid(j, &why);
	if (bad && !why)
		why = "this connection already has a conversation";
	if (bad) {
		visitor_error(a, ws, "invalid", bad, NULL, why);
		json_decref(j);
		return;
	}
	struct chat_op *op = op_new(a, ws);
	if (!op) {
		json_decref(j);
		return;
	}
	op->queue = json_integer_value(q);
	snprintf(op->name, sizeof(op->name), "%s", name);
	if (json_is_string(email)) {
		snprintf(op->email, sizeof(op->email), "%s", json_string_value(email));
		for (char *p = op->email; *p; p++) /* email identities are kept lower-case */
			*p = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
	}
	snprintf(op->lang, sizeof(op->lang), "%s", json_is_string(lang) ? json_string_value(lang) : "en");
	if (json_is_string(topic))
		snprintf(op->topic, sizeof(op->topic), "%s", json_string_value(topic));
	if (json_is_string(text))
		op->text = strdup(json_string_value(text));
	op->offline = json_is_true(off);
	json_decref(j);
	api_random_token(op->token, sizeof(op->token), 32);
	api_token_hash(op->token, op->token_hash);
	api_random_token(op->visitor_id, sizeof(op->visitor_id), 18);
	struct api_req *req = op_req(a, op);
	if (!req)
		return;
	ws->busy = true;
	if (api_submit(req, true, customer_job, start_customer_done)) {
		ws->busy = false;
		visitor_error(a, ws, "unavailable", NULL, NULL, "the store is busy; try again");
		api_req_free(req);
	}
}

/* ---- visitor: resume --------------------------------------------------------------- */

struct token_row {
	int64_t id;
	char state[16];
	json_t *rating;
	char name[101];
};

static int token_cb(const struct store_val *c, int n, void *arg)
{
	(void)n;
	struct token_row *t = arg;
	t->id = c[0].i;
	snprintf(t->state, sizeof(t->state), "%s", c[1].s);
	t->rating = c[2].type == STORE_INT ? json_integer(c[2].i) : json_null();
	snprintf(t->name, sizeof(t->name), "%s", c[3].type == STORE_TEXT ? c[3].s : "");
	return 0;
}

static int token_lookup(struct store_tx *tx, const char *hash, struct token_row *t)
{
	memset(t, 0, sizeof(*t));
	struct store_val p[] = {store_text(hash)};
	int r = store_query(tx, "SELECT id, state, rating, name FROM conversations WHERE token_hash = $1",
			    p, 1, token_cb, t);
	return r ? r : t->id ? 0 : -ENOENT;
}

static int resume_find_job(struct store_tx *tx, void *arg)
{
	struct api_req *req = arg;
	struct chat_op *op = req->ctx;
	struct token_row t;
	int r = token_lookup(tx, op->token_hash, &t);
	if (r == -ENOENT)
		return op_fail(op, 404, "token", "no conversation has this token");
	if (r)
		return r;
	op->conv = t.id;
	op->out = json_pack("{s:s, s:o}", "state", t.state, "rating", t.rating);
	return 0;
}

static int history_job(struct store_tx *tx, void *arg)
{
	struct api_req *req = arg;
	struct chat_op *op = req->ctx;
	op->list = json_array();
	struct store_val p[] = {store_int(op->conv), store_int(op->after), store_int(CHAT_HISTORY_MAX)};
	return store_query(tx, "SELECT " MSG_COLS " FROM " MSG_FROM
			       " WHERE m.conversation = $1 AND m.kind = 'message' AND m.seq > $2"
			       " ORDER BY m.seq LIMIT $3",
			   p, 3, msg_list_cb, op->list);
}

static void release_held(struct api *a, struct api_ws *ws)
{
	ws->resuming = false;
	for (unsigned i = 0; i < ws->nheld; i++) {
		struct api_evmsg *m = ws->held[i];
		json_t *j = json_loadb((const char *)m->buf + LWS_PRE, m->len, 0, NULL);
		int64_t seq = json_integer_value(json_object_get(j, "seq"));
		json_decref(j);
		if (!ws->gone)
			visitor_send_message(a, ws, m, seq);
		api_evmsg_unref(m);
	}
	free(ws->held);
	ws->held = NULL;
	ws->nheld = 0;
}

static void history_done(struct api_req *req)
{
	struct chat_op *op = req->ctx;
	struct api *a = req->api;
	if (!op_ws_live(op)) {
		op_done_internal(req);
		return;
	}
	struct api_ws *ws = op->ws;
	ws->busy = false;
	if (op_failed(req, op)) {
		release_held(a, ws);
		op_done_internal(req);
		return;
	}
	size_t i;
	json_t *m;
	json_array_foreach(op->list, i, m) {
		int64_t seq = json_integer_value(json_object_get(m, "seq"));
		if (seq <= ws->max_seq)
			continue;
		ws->max_seq = seq;
		api_ws_send_json(a, ws, visitor_frame_of(m));
	}
	release_held(a, ws);
	op_done_internal(req);
}

static void resume_found(struct api_req *req)
{
	struct chat_op *op = req->ctx;
	struct api *a = req->api;
	if (!op_ws_live(op)) {
		op_done_internal(req);
		return;
	}
	struct api_ws *ws = op->ws;
	if (op_failed(req, op)) {
		ws->busy = false;
		op_done_internal(req);
		return;
	}
	struct chat_conv *c = conv_get(a, op->conv);
	if (!c) {
		ws->busy = false;
		visitor_error(a, ws, "unavailable", NULL, NULL, "out of memory");
		op_done_internal(req);
		return;
	}
	const char *state = json_string_value(json_object_get(op->out, "state"));
	if (state && strcmp(state, "ended") == 0)
		c->state = CS_ENDED;
	conv_attach(c, ws);
	ws->resuming = true;
	ws->max_seq = op->after;
	api_ws_send_json(a, ws, json_pack("{s:s, s:I, s:s, s:o, s:O}", "type", "resumed",
					  "conversation", (json_int_t)op->conv, "state",
					  state_names[c->state], "agent", conv_agent(c), "rating",
					  json_object_get(op->out, "rating")));
	if (api_submit(req, false, history_job, history_done)) {
		ws->busy = false;
		release_held(a, ws);
		op_done_internal(req);
	}
}

static void visitor_resume(struct api *a, struct api_ws *ws, json_t *j)
{
	const char *token = json_string_value(json_object_get(j, "token"));
	json_t *after = json_object_get(j, "after");
	if (ws->conv || ws->busy) {
		visitor_error(a, ws, "invalid", "type", NULL, "this connection already has a conversation");
	} else if (!token || !*token || strlen(token) > 100) {
		visitor_error(a, ws, "invalid", "token", NULL, "token: expected the conversation's token");
	} else if (after && !(json_is_integer(after) && json_integer_value(after) >= 0)) {
		visitor_error(a, ws, "invalid", "after", NULL, "after: expected a seq (0 or more)");
	} else {
		struct chat_op *op = op_new(a, ws);
		if (op) {
			api_token_hash(token, op->token_hash);
			op->after = json_integer_value(after);
			struct api_req *req = op_req(a, op);
			if (req) {
				ws->busy = true;
				if (api_submit(req, false, resume_find_job, resume_found)) {
					ws->busy = false;
					visitor_error(a, ws, "unavailable", NULL, NULL, "the store is busy; try again");
					api_req_free(req);
				}
			}
		}
	}
	json_decref(j);
}

/* ---- ending and rating ------------------------------------------------------------ */

static int end_job(struct store_tx *tx, void *arg)
{
	struct api_req *req = arg;
	struct chat_op *op = req->ctx;
	struct conv_head h;
	int r = live_head(tx, op, &h, false);
	if (r)
		return r;
	if (op->offline && (strcmp(h.state, "queued") != 0 || h.offline))
		return op_fail(op, 409, NULL, "kept: an offline message or an agent took it");
	op->task_id = h.task_id;
	int64_t now = store_now_ms();
	struct store_val p[] = {store_int(op->conv), store_int(now)};
	if ((r = store_exec(tx, "UPDATE conversations SET state = 'ended', ended_at = $2 WHERE id = $1",
			    p, 2, NULL)))
		return r;
	json_t *pl = json_pack("{s:s}", "by", op->sender);
	if (op->offline)
		json_object_set_new(pl, "reason", json_string("customer-left"));
	if (op->user_id)
		json_object_set_new(pl, "user_id", json_integer(op->user_id));
	if ((r = conv_event(tx, "chat.ended", op->conv, h.queue_id, 0, op->user_id, pl)))
		return r;
	struct store_val pc[] = {store_int(op->conv)};
	json_t *row = NULL;
	r = store_query(tx, "SELECT " CONV_COLS " FROM conversations WHERE id = $1", pc, 1,
			conv_row_cb, &row);
	op->out = row;
	return r;
}

static void end_answer(struct api_req *req)
{
	struct chat_op *op = req->ctx;
	if (!req->internal) {
		json_t *j = op->out ? json_incref(op->out) : json_object();
		struct chat_conv *c = conv_find(req->api, op->conv);
		json_object_set_new(j, "participants", conv_participants(c));
		api_respond_json(req, 200, j);
	}
	op_done_internal(req);
}

/* After the end: a waiting task is abandoned (customer) or cancelled
 * (staff); an accepted one goes to wrap-up. Both are tried in turn: only
 * the core knows the task's state. */
static void end_second_done(struct api_req *req)
{
	end_answer(req);
}

static void end_first_done(struct api_req *req)
{
	struct chat_op *op = req->ctx;
	if (op->cmd.status == 409) {
		free(op->cmd.resp);
		struct api_cmd *cmd = &op->cmd;
		memset(cmd, 0, sizeof(*cmd));
		cmd->kind = strcmp(op->sender, "customer") == 0 ? API_CMD_TASK_ABANDON : API_CMD_TASK_CANCEL;
		cmd->id = op->task_id;
		cmd->privileged = true;
		cmd->user_id = op->user_id;
		if (api_core_post(req, cmd, end_second_done))
			return;
		/* 503 recorded on req; the conversation ended anyway */
	}
	end_answer(req);
}

static void end_stored(struct api_req *req)
{
	struct chat_op *op = req->ctx;
	if (op_failed(req, op)) {
		op_done_internal(req);
		return;
	}
	struct api_cmd *cmd = &op->cmd;
	cmd->kind = API_CMD_TASK_COMPLETE;
	cmd->id = op->task_id;
	cmd->privileged = true;
	cmd->user_id = op->user_id;
	if (!op->task_id || !api_core_post(req, cmd, end_first_done))
		end_answer(req);
}

static void end_begin(struct api *a, struct api_req *req)
{
	if (api_submit(req, true, end_job, end_stored) && req->internal)
		api_req_free(req);
	(void)a;
}

/* The grace period ran out with the customer still away and nobody
 * serving: end the chat as the customer would (its task is abandoned).
 * Offline-form conversations wait for an agent instead. */
static void chat_grace(struct lws_sorted_usec_list *sul)
{
	struct chat_conv *c = lws_container_of(sul, struct chat_conv, grace);
	struct api *a = c->api;
	c->grace_armed = false;
	if (c->visitors || c->state != CS_QUEUED)
		return;
	struct chat_op *op = op_new(a, NULL);
	if (!op)
		return;
	op->conv = c->id;
	op->offline = true; /* only if still queued and not an offline message: see end_job */
	snprintf(op->sender, sizeof(op->sender), "customer");
	struct api_req *req = op_req(a, op);
	if (req)
		end_begin(a, req);
}

static int rate_job(struct store_tx *tx, void *arg)
{
	struct api_req *req = arg;
	struct chat_op *op = req->ctx;
	struct conv_head h;
	int r = live_head(tx, op, &h, true);
	if (r)
		return r;
	if (strcmp(h.state, "ended") != 0)
		return op_fail(op, 422, "type", "a chat is rated after it ends");
	int64_t changes = 0;
	struct store_val p[] = {store_int(op->conv), store_int(op->other),
				op->text ? store_text(op->text) : store_null()};
	if ((r = store_exec(tx,
			    "UPDATE conversations SET rating = $2, comment = $3 WHERE id = $1 AND rating IS NULL",
			    p, 3, &changes)))
		return r;
	if (!changes)
		return op_fail(op, 422, "rating", "this chat has been rated already");
	return conv_event(tx, "chat.rated", op->conv, h.queue_id, 0, 0,
			  json_pack("{s:I, s:s?}", "rating", (json_int_t)op->other, "comment", op->text));
}

static void rate_done(struct api_req *req)
{
	struct chat_op *op = req->ctx;
	if (!op_failed(req, op) && op_ws_live(op))
		api_ws_send_json(req->api, op->ws, json_pack("{s:s}", "type", "rated"));
	op_done_internal(req);
}

/* ---- visitor frames ---------------------------------------------------------------- */

void api_chat_visitor_open(struct api *a, struct api_ws *ws)
{
	(void)a;
	ws->tokens = 2 * CHAT_RATE_PER_S;
	ws->tok_us = base_mono_us();
}

void api_chat_visitor_closed(struct api *a, struct api_ws *ws)
{
	if (ws->conv)
		conv_detach(a, ws);
	for (unsigned i = 0; i < ws->nheld; i++)
		api_evmsg_unref(ws->held[i]);
	free(ws->held);
	ws->held = NULL;
	ws->nheld = 0;
}

static bool rate_ok(struct api_ws *ws)
{
	int64_t now = base_mono_us();
	ws->tokens += (double)(now - ws->tok_us) * CHAT_RATE_PER_S / 1e6;
	ws->tok_us = now;
	if (ws->tokens > 2 * CHAT_RATE_PER_S)
		ws->tokens = 2 * CHAT_RATE_PER_S;
	if (ws->tokens < 1)
		return false;
	ws->tokens -= 1;
	return true;
}

/* Begin storing a message from op (the op's socket or request gets the answer). */
static void message_begin(struct api *a, struct chat_op *op, struct api_req *http)
{
	struct api_req *req = http;
	if (!req) {
		req = op_req(a, op);
		if (!req)
			return;
	} else {
		if (req->ctx && req->ctx != op && req->ctx_free)
			req->ctx_free(req->ctx); /* the handler's first context */
		req->ctx = op;
		req->ctx_free = op_free;
	}
	if (api_submit(req, true, message_job, message_done) && req->internal) {
		if (op_ws_live(op)) {
			if (op->ws->visitor)
				visitor_error(a, op->ws, "unavailable", NULL, op->client_id,
					      "the store is busy; try again");
			else
				staff_error(a, op->ws, op->client_id, "the store is busy; try again");
		}
		api_req_free(req);
	}
}

void api_chat_visitor_frame(struct api *a, struct api_ws *ws, json_t *j)
{
	const char *type = json_string_value(json_object_get(j, "type"));
	if (!rate_ok(ws)) {
		visitor_error(a, ws, "rate_limited", NULL,
			      json_string_value(json_object_get(j, "client_id")),
			      "too many frames; at most 20 per second");
		json_decref(j);
		return;
	}
	if (!type) {
		visitor_error(a, ws, "invalid", "type", NULL, "type: expected a string");
		json_decref(j);
		return;
	}
	if (strcmp(type, "start") == 0)
		return visitor_start(a, ws, j);
	if (strcmp(type, "resume") == 0)
		return visitor_resume(a, ws, j);
	struct chat_conv *c = ws->conv ? conv_find(a, ws->conv) : NULL;
	if (!c) {
		visitor_error(a, ws, "invalid", "type",
			      json_string_value(json_object_get(j, "client_id")),
			      ws->busy ? "the conversation is still starting" : "start or resume a conversation first");
		json_decref(j);
		return;
	}
	if (strcmp(type, "message") == 0) {
		const char *cid = json_string_value(json_object_get(j, "client_id"));
		json_t *text = json_object_get(j, "text");
		const char *why = NULL, *bad = message_invalid(j, &why);
		if (bad) {
			visitor_error(a, ws, "invalid", bad, client_id_ok(cid) ? cid : NULL, why);
		} else {
			struct chat_op *op = op_new(a, ws);
			if (op) {
				op->conv = c->id;
				snprintf(op->kind, sizeof(op->kind), "message");
				snprintf(op->sender, sizeof(op->sender), "customer");
				snprintf(op->client_id, sizeof(op->client_id), "%s", cid);
				op->text = strdup(json_string_value(text));
				message_begin(a, op, NULL);
			}
		}
	} else if (strcmp(type, "typing") == 0) {
		json_t *on = json_object_get(j, "on");
		if (!json_is_boolean(on))
			visitor_error(a, ws, "invalid", "on", NULL, "on: expected true or false");
		else
			deliver_staff_json(a, c, json_pack("{s:s, s:I, s:b, s:s}", "type", "chat_typing",
							   "conversation", (json_int_t)c->id, "on",
							   json_is_true(on), "from", "customer"));
	} else if (strcmp(type, "read") == 0) {
		json_t *seq = json_object_get(j, "seq");
		if (!json_is_integer(seq) || json_integer_value(seq) < 0)
			visitor_error(a, ws, "invalid", "seq", NULL, "seq: expected a message seq");
		else
			deliver_staff_json(a, c, json_pack("{s:s, s:I, s:I, s:s}", "type", "chat_read",
							   "conversation", (json_int_t)c->id, "seq",
							   json_integer_value(seq), "by", "customer"));
	} else if (strcmp(type, "end") == 0) {
		struct chat_op *op = op_new(a, ws);
		if (op) {
			op->conv = c->id;
			snprintf(op->sender, sizeof(op->sender), "customer");
			struct api_req *req = op_req(a, op);
			if (req)
				end_begin(a, req);
		}
	} else if (strcmp(type, "rate") == 0) {
		json_t *rating = json_object_get(j, "rating"), *comment = json_object_get(j, "comment");
		if (!json_is_integer(rating) || json_integer_value(rating) < 1 ||
		    json_integer_value(rating) > 5) {
			visitor_error(a, ws, "invalid", "rating", NULL, "rating: expected 1 to 5");
		} else if (comment && !json_is_null(comment) &&
			   (!json_is_string(comment) || json_string_length(comment) > 2000)) {
			visitor_error(a, ws, "invalid", "comment", NULL, "comment: expected up to 2000 characters");
		} else {
			struct chat_op *op = op_new(a, ws);
			if (op) {
				op->conv = c->id;
				op->other = json_integer_value(rating);
				if (json_is_string(comment) && json_string_length(comment))
					op->text = strdup(json_string_value(comment));
				struct api_req *req = op_req(a, op);
				if (req && api_submit(req, true, rate_job, rate_done))
					api_req_free(req);
			}
		}
	} else {
		visitor_error(a, ws, "invalid", "type", NULL,
			      "type: expected start, resume, message, typing, read, end or rate");
	}
	json_decref(j);
}

/* ---- staff frames on /api/v1/events ------------------------------------------------- */

static bool may_write(const struct api_principal *who, const struct chat_conv *c)
{
	return privileged(who) || (c && conv_user_index(c, who->user_id) >= 0);
}

/* A staff message from body j (client_id, text, kind) to conversation c by
 * who: checks it and returns the op to store (ws: the staff socket that
 * gets the answer, or NULL for a REST request), or NULL with an HTTP
 * status, detail and field. Who may write what: the chat's agents write
 * messages and notes; supervisors write notes and whispers. */
static struct chat_op *staff_message(struct api *a, struct api_ws *ws, const struct api_principal *who,
				     const struct chat_conv *c, const json_t *j, int *status,
				     const char **detail, const char **field)
{
	const char *kind = json_string_value(json_object_get(j, "kind"));
	if (!kind)
		kind = "message";
	int ui = c ? conv_user_index(c, who->user_id) : -1;
	*status = 422;
	*field = message_invalid(j, detail);
	if (*field)
		return NULL;
	if (strcmp(kind, "message") && strcmp(kind, "note") && strcmp(kind, "whisper")) {
		*field = "kind";
		*detail = "kind: expected message, note or whisper";
		return NULL;
	}
	*status = 403;
	*field = NULL;
	if (strcmp(kind, "whisper") == 0 && !privileged(who)) {
		*detail = "only supervisors whisper";
		return NULL;
	}
	if (strcmp(kind, "message") == 0 ? ui < 0 : (ui < 0 && !privileged(who))) {
		*detail = "only the chat's agents write here";
		return NULL;
	}
	struct chat_op *op = op_new(a, ws);
	if (!op) {
		*status = 500;
		*detail = "out of memory";
		return NULL;
	}
	op->conv = c->id;
	op->user_id = who->user_id;
	snprintf(op->kind, sizeof(op->kind), "%s", kind);
	snprintf(op->sender, sizeof(op->sender), "%s", ui >= 0 ? "agent" : "supervisor");
	snprintf(op->name, sizeof(op->name), "%s", ui >= 0 ? c->users[ui].name : "");
	snprintf(op->client_id, sizeof(op->client_id), "%s",
		 json_string_value(json_object_get(j, "client_id")));
	op->text = strdup(json_string_value(json_object_get(j, "text")));
	return op;
}

bool api_chat_staff_frame(struct api *a, struct api_ws *ws, const char *type, json_t *j)
{
	if (strncmp(type, "chat_", 5) != 0)
		return false;
	json_t *cv = json_object_get(j, "conversation");
	int64_t id = json_is_integer(cv) ? json_integer_value(cv) : 0;
	struct chat_conv *c = id ? conv_find(a, id) : NULL;
	const char *cid = json_string_value(json_object_get(j, "client_id"));
	if (!id) {
		staff_error(a, ws, cid, "conversation: expected a conversation id");
		return true;
	}
	if (!c || !may_write(&ws->who, c)) {
		staff_error(a, ws, cid, "conversation: not one of your live conversations");
		return true;
	}
	int ui = conv_user_index(c, ws->who.user_id);
	const char *name = ui >= 0 ? c->users[ui].name : ws->who.username;
	if (strcmp(type, "chat_typing") == 0) {
		bool on = json_is_true(json_object_get(j, "on"));
		visitors_send_json(a, c, json_pack("{s:s, s:b, s:s}", "type", "typing", "on", on, "name", name));
	} else if (strcmp(type, "chat_read") == 0) {
		json_t *seq = json_object_get(j, "seq");
		if (json_is_integer(seq))
			visitors_send_json(a, c, json_pack("{s:s, s:I}", "type", "read", "seq",
							   json_integer_value(seq)));
	} else if (strcmp(type, "chat_message") == 0) {
		int status;
		const char *detail, *field;
		struct chat_op *op = staff_message(a, ws, &ws->who, c, j, &status, &detail, &field);
		if (op)
			message_begin(a, op, NULL);
		else
			staff_error(a, ws, client_id_ok(cid) ? cid : NULL, detail);
	} else {
		staff_error(a, ws, cid, "type: expected chat_message, chat_typing or chat_read");
	}
	return true;
}

/* ---- attachments --------------------------------------------------------------------- */

bool api_chat_is_upload(const char *path)
{
	if (strcmp(path, "/api/v1/chat/attachments") == 0)
		return true;
	if (strncmp(path, "/api/v1/chats/", 14) != 0)
		return false;
	const char *s = strchr(path + 14, '/');
	return s && strcmp(s, "/attachments") == 0;
}

/* The file's type from its first bytes; NULL when not one we take. */
static const char *sniff(const unsigned char *d, size_t n)
{
	if (n >= 8 && !memcmp(d, "\x89PNG\r\n\x1a\n", 8))
		return "image/png";
	if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF)
		return "image/jpeg";
	if (n >= 6 && (!memcmp(d, "GIF87a", 6) || !memcmp(d, "GIF89a", 6)))
		return "image/gif";
	if (n >= 12 && !memcmp(d, "RIFF", 4) && !memcmp(d + 8, "WEBP", 4))
		return "image/webp";
	if (n >= 5 && !memcmp(d, "%PDF-", 5))
		return "application/pdf";
	return NULL;
}

static void url_decode(const char *in, char *out, size_t size)
{
	size_t k = 0;
	for (size_t i = 0; in[i] && k + 1 < size; i++) {
		if (in[i] == '%' && in[i + 1] && in[i + 2]) {
			char hex[3] = {in[i + 1], in[i + 2], 0};
			char *end;
			long v = strtol(hex, &end, 16);
			if (!*end) {
				out[k++] = (char)v;
				i += 2;
				continue;
			}
		}
		out[k++] = in[i] == '+' ? ' ' : in[i];
	}
	out[k] = '\0';
}

/* A file name we can show and put in a header: printable, no path, no
 * quotes, valid UTF-8, at most 100 bytes. */
static void clean_name(const char *raw, const char *mime, char *out, size_t size)
{
	char tmp[256];
	url_decode(raw, tmp, sizeof(tmp));
	const char *base = strrchr(tmp, '/');
	base = base ? base + 1 : tmp;
	size_t k = 0;
	for (size_t i = 0; base[i] && k + 1 < size; i++) {
		unsigned char ch = (unsigned char)base[i];
		if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\' || ch == ';')
			continue;
		out[k++] = (char)ch;
	}
	out[k] = '\0';
	/* cut back to a whole UTF-8 sequence; drop the name if it is not UTF-8 */
	json_t *probe = json_string(out);
	if (!probe) {
		k = 0;
		out[0] = '\0';
	}
	json_decref(probe);
	if (!k)
		snprintf(out, size, "%s", strcmp(mime, "application/pdf") == 0 ? "document.pdf" : "image");
}

static void upload_work(void *arg)
{
	struct api_req *req = arg;
	struct chat_op *op = req->ctx;
	char dir[1100];
	snprintf(dir, sizeof(dir), "%s", op->path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	char *parent = strrchr(dir, '/');
	if (parent) {
		*parent = '\0';
		mkdir(dir, 0750);
		*parent = '/';
	}
	mkdir(dir, 0750);
	int fd = open(op->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	bool ok = fd >= 0;
	size_t off = 0;
	while (ok && off < op->data_len) {
		ssize_t w = write(fd, op->data + off, op->data_len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			ok = false;
		else
			off += (size_t)w;
	}
	if (ok && fsync(fd))
		ok = false; /* the message that names it must not outlive a crash without it */
	if (fd >= 0)
		close(fd);
	if (!ok) {
		LOG_ERROR(MOD, "cannot write attachment %s: %s", op->path, strerror(errno));
		unlink(op->path);
		op->status = 503;
		snprintf(op->detail, sizeof(op->detail), "the file could not be stored");
	}
	api_resume(req);
}

static void upload_written(struct api_req *req)
{
	struct chat_op *op = req->ctx;
	if (op_failed(req, op))
		return;
	free(op->data);
	op->data = NULL;
	if (api_submit(req, true, message_job, message_done))
		unlink(op->path);
}

static void upload_begin(struct api_req *req, struct chat_op *op)
{
	struct api *a = req->api;
	if (!a->chat->attach_dir[0])
		return api_problem(req, 503, "attachments are not configured (no data directory)", NULL);
	unsigned char rnd[12];
	char hex[25];
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	snprintf(op->path, sizeof(op->path), "%s/%" PRId64 "/%s", a->chat->attach_dir, op->conv, hex);
	snprintf(op->kind, sizeof(op->kind), "message");
	snprintf(op->client_id, sizeof(op->client_id), "file-%s", hex);
	op->text = strdup(op->fname);
	api_work(req, upload_work, upload_written);
}

/* Take the request's raw body as an attachment: check size and type. */
static bool upload_take(struct api_req *req, struct chat_op *op)
{
	if (!req->body_len)
		return api_problem(req, 400, "expected the file as the request body", NULL), false;
	const char *mime = sniff((const unsigned char *)req->body, req->body_len);
	if (!mime)
		return api_problem(req, 415, "only PNG, JPEG, GIF, WebP images and PDF files are taken", NULL),
		       false;
	snprintf(op->mime, sizeof(op->mime), "%s", mime);
	char raw[400] = "";
	lws_hdr_custom_copy(req->wsi, raw, sizeof(raw), "x-filename:", 11);
	clean_name(raw, mime, op->fname, sizeof(op->fname));
	op->data = req->body;
	op->data_len = req->body_len;
	req->body = NULL;
	req->body_len = req->body_cap = 0;
	return true;
}

static int token_conv_job(struct store_tx *tx, void *arg)
{
	struct api_req *req = arg;
	struct chat_op *op = req->ctx;
	struct token_row t;
	int r = token_lookup(tx, op->token_hash, &t);
	json_decref(t.rating);
	if (r == -ENOENT)
		return op_fail(op, 401, NULL, "X-Chat-Token: no conversation has this token");
	if (r)
		return r;
	op->conv = t.id;
	snprintf(op->name, sizeof(op->name), "%s", t.name);
	if (strcmp(t.state, "ended") == 0)
		op->dup = true; /* reused as "ended" for uploads */
	return 0;
}

static void public_upload_found(struct api_req *req)
{
	struct chat_op *op = req->ctx;
	if (op_failed(req, op))
		return;
	if (op->dup)
		return api_problem(req, 409, "the conversation has ended", NULL);
	snprintf(op->sender, sizeof(op->sender), "customer");
	upload_begin(req, op);
}

/* GET an attachment: the row, then the file (on a worker). */
static int attach_row_cb(const struct store_val *c, int n, void *arg)
{
	(void)n;
	struct chat_op *op = arg;
	op->conv = c[0].i;
	snprintf(op->fname, sizeof(op->fname), "%s", c[1].s);
	snprintf(op->mime, sizeof(op->mime), "%s", c[2].s);
	snprintf(op->path, sizeof(op->path), "%s", c[3].s);
	return 0;
}

static int attach_get_job(struct store_tx *tx, void *arg)
{
	struct api_req *req = arg;
	struct chat_op *op = req->ctx;
	int64_t want_conv = 0;
	if (op->token_hash[0]) {
		struct token_row t;
		int r = token_lookup(tx, op->token_hash, &t);
		json_decref(t.rating);
		if (r == -ENOENT)
			return op_fail(op, 401, NULL, "X-Chat-Token: no conversation has this token");
		if (r)
			return r;
		want_conv = t.id;
	}
	struct store_val p[] = {store_int(op->attach_id)};
	int r = store_query(tx, "SELECT conversation, name, mime, path FROM chat_attachments WHERE id = $1",
			    p, 1, attach_row_cb, op);
	if (r)
		return r;
	if (!op->path[0] || (want_conv && op->conv != want_conv))
		return op_fail(op, 404, NULL, "no such attachment");
	return 0;
}

static void attach_read_work(void *arg)
{
	struct api_req *req = arg;
	struct chat_op *op = req->ctx;
	FILE *f = fopen(op->path, "rb");
	if (f) {
		op->data = malloc(API_MAX_UPLOAD + 1);
		op->data_len = op->data ? fread(op->data, 1, API_MAX_UPLOAD + 1, f) : 0;
		fclose(f);
	}
	if (!op->data || !f) {
		op->status = 404;
		snprintf(op->detail, sizeof(op->detail), "the file is missing");
	}
	api_resume(req);
}

static void attach_read_done(struct api_req *req)
{
	struct chat_op *op = req->ctx;
	if (op_failed(req, op))
		return;
	char cd[400], enc[320];
	size_t k = 0;
	for (const unsigned char *p = (const unsigned char *)op->fname; *p && k + 4 < sizeof(enc); p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		    *p == '.' || *p == '-' || *p == '_')
			enc[k++] = (char)*p;
		else
			k += (size_t)snprintf(enc + k, sizeof(enc) - k, "%%%02X", *p);
	}
	enc[k] = '\0';
	snprintf(cd, sizeof(cd), "%s; filename*=UTF-8''%s",
		 strcmp(op->mime, "application/pdf") == 0 ? "attachment" : "inline", enc);
	api_add_header(req, "Content-Disposition", cd);
	char *d = op->data;
	op->data = NULL;
	api_respond(req, 200, op->mime, d, op->data_len);
}

static void attach_got_row(struct api_req *req)
{
	struct chat_op *op = req->ctx;
	if (op_failed(req, op))
		return;
	api_work(req, attach_read_work, attach_read_done);
}

/* ---- transcript --------------------------------------------------------------------- */

static int transcript_job(struct store_tx *tx, void *arg)
{
	struct api_req *req = arg;
	struct chat_op *op = req->ctx;
	int r = token_conv_job(tx, arg);
	if (r)
		return r;
	op->after = 0;
	return history_job(tx, arg);
}

static void transcript_done(struct api_req *req)
{
	struct chat_op *op = req->ctx;
	if (op_failed(req, op))
		return;
	size_t cap = 256, len = 0;
	char *out = malloc(cap);
	size_t i;
	json_t *m;
	char head[200];
	int hn = snprintf(head, sizeof(head), "Conversation %" PRId64 "\n\n", op->conv);
	json_array_foreach(op->list, i, m) {
		const char *name = json_string_value(json_object_get(m, "name"));
		const char *text = json_string_value(json_object_get(m, "text"));
		const char *ts = json_string_value(json_object_get(m, "ts"));
		json_t *att = json_object_get(m, "attachment");
		size_t need = strlen(ts) + strlen(name) + strlen(text) + 64;
		if (len + need + (size_t)hn + 1 > cap) {
			while (len + need + (size_t)hn + 1 > cap)
				cap *= 2;
			char *n2 = realloc(out, cap);
			if (!n2)
				break;
			out = n2;
		}
		if (!out)
			break;
		len += (size_t)snprintf(out + len, cap - len, "[%s] %s: %s%s\n", ts, name[0] ? name : "-",
					att ? "(file) " : "", text);
	}
	char *body = malloc(len + (size_t)hn + 1);
	if (body && out) {
		memcpy(body, head, (size_t)hn);
		memcpy(body + hn, out, len);
	}
	free(out);
	api_add_header(req, "Content-Disposition", "attachment; filename=\"chat-transcript.txt\"");
	api_respond(req, 200, "text/plain; charset=utf-8", body, body ? len + (size_t)hn : 0);
}

/* ---- public endpoints ------------------------------------------------------------------- */

static void cors(struct api_req *req)
{
	api_add_header(req, "Access-Control-Allow-Origin", "*");
	api_add_header(req, "Access-Control-Expose-Headers", "Content-Disposition");
}

static bool chat_token(struct api_req *req, struct chat_op *op)
{
	char tok[128] = "";
	int n = lws_hdr_custom_copy(req->wsi, tok, sizeof(tok), "x-chat-token:", 13);
	if (n <= 0 || n > 100)
		return false;
	api_token_hash(tok, op->token_hash);
	return true;
}

static void config_done(struct api_req *req)
{
	struct chat_op *op = req->ctx;
	struct api_cmd *cmd = &op->cmd;
	if (cmd->status != 200 || !cmd->resp)
		return api_problem(req, cmd->status >= 400 ? cmd->status : 503,
				   cmd->detail[0] ? cmd->detail : "routing is not available", NULL);
	json_t *st = json_loads(cmd->resp, 0, NULL);
	json_t *topics = json_array(), *queue = json_null();
	bool open = false;
	json_int_t avail = 0, logged_in = 0;
	size_t i;
	json_t *q;
	json_array_foreach(json_object_get(st, "queues"), i, q) {
		bool chat = false;
		size_t k;
		json_t *ch;
		json_array_foreach(json_object_get(q, "channels"), k, ch) {
			if (json_is_string(ch) && strcmp(json_string_value(ch), "chat") == 0)
				chat = true;
		}
		if (!chat)
			continue;
		json_t *id = json_object_get(q, "id"), *name = json_object_get(q, "name");
		bool qopen = json_is_true(json_object_get(q, "open"));
		json_int_t qav = json_integer_value(json_object_get(q, "agents_available"));
		json_int_t qin = json_integer_value(json_object_get(q, "agents_logged_in"));
		json_array_append_new(topics, json_pack("{s:O, s:O, s:b, s:I, s:I}", "queue_id", id, "name",
							name, "open", qopen, "agents_available", qav,
							"agents_logged_in", qin));
		char idtext[24];
		snprintf(idtext, sizeof(idtext), "%" JSON_INTEGER_FORMAT, json_integer_value(id));
		if (json_is_null(queue) && (strcmp(op->topic, idtext) == 0 ||
					    (json_is_string(name) && strcasecmp(op->topic, json_string_value(name)) == 0))) {
			json_decref(queue);
			queue = json_pack("{s:O, s:O}", "id", id, "name", name);
			open = qopen;
			avail = qav;
			logged_in = qin;
		}
	}
	json_decref(st);
	if (json_is_null(queue) && json_array_size(topics)) {
		/* no (or an unknown) queue asked for: the first chat queue */
		json_t *t0 = json_array_get(topics, 0);
		json_decref(queue);
		queue = json_pack("{s:O, s:O}", "id", json_object_get(t0, "queue_id"), "name",
				  json_object_get(t0, "name"));
		open = json_is_true(json_object_get(t0, "open"));
		avail = json_integer_value(json_object_get(t0, "agents_available"));
		logged_in = json_integer_value(json_object_get(t0, "agents_logged_in"));
	}
	api_respond_json(req, 200,
			 json_pack("{s:o, s:b, s:I, s:I, s:o, s:[sssss], s:I}", "queue", queue, "open", open,
				   "agents_available", avail, "agents_logged_in", logged_in, "topics", topics,
				   "languages", "en", "sv",
				   "de", "hu", "lt", "max_attachment_bytes", (json_int_t)API_MAX_UPLOAD));
}

static struct chat_op *req_op(struct api_req *req)
{
	struct chat_op *op = op_new(req->api, NULL);
	if (!op) {
		api_problem(req, 500, "out of memory", NULL);
		return NULL;
	}
	req->ctx = op;
	req->ctx_free = op_free;
	return op;
}

void api_handle_chat_public(struct api_req *req, const char *rest)
{
	int m = req->method;
	cors(req);
	if (m == LWSHUMETH_OPTIONS) {
		api_add_header(req, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
		api_add_header(req, "Access-Control-Allow-Headers", "Content-Type, X-Chat-Token, X-Filename");
		api_add_header(req, "Access-Control-Max-Age", "600");
		return api_respond(req, 204, "text/plain", NULL, 0);
	}
	if (strcmp(rest, "config") == 0) {
		if (m != LWSHUMETH_GET)
			return api_problem(req, 405, "method not allowed here", NULL);
		struct chat_op *op = req_op(req);
		if (!op)
			return;
		api_query_get(req, "queue", op->topic, sizeof(op->topic));
		op->cmd.kind = API_CMD_QUEUE_STATUS;
		op->cmd.id = 0;
		api_core_post(req, &op->cmd, config_done);
		return;
	}
	if (strcmp(rest, "attachments") == 0) {
		if (m != LWSHUMETH_POST)
			return api_problem(req, 405, "method not allowed here", NULL);
		struct chat_op *op = req_op(req);
		if (!op)
			return;
		if (!chat_token(req, op))
			return api_problem(req, 401, "X-Chat-Token: expected the conversation's token", NULL);
		if (!upload_take(req, op))
			return;
		api_submit(req, false, token_conv_job, public_upload_found);
		return;
	}
	if (strncmp(rest, "attachments/", 12) == 0) {
		if (m != LWSHUMETH_GET)
			return api_problem(req, 405, "method not allowed here", NULL);
		struct chat_op *op = req_op(req);
		if (!op)
			return;
		char *end;
		op->attach_id = strtoll(rest + 12, &end, 10);
		if (op->attach_id < 1 || *end)
			return api_problem(req, 404, "no such attachment", NULL);
		if (!chat_token(req, op)) {
			/* staff: any logged-in user */
			if (!api_auth_request(req->api, req->wsi, false, NULL, &req->who))
				return api_problem(req, 401, "X-Chat-Token or a login is needed", NULL);
		}
		api_submit(req, false, attach_get_job, attach_got_row);
		return;
	}
	if (strcmp(rest, "transcript") == 0) {
		if (m != LWSHUMETH_GET)
			return api_problem(req, 405, "method not allowed here", NULL);
		struct chat_op *op = req_op(req);
		if (!op)
			return;
		if (!chat_token(req, op))
			return api_problem(req, 401, "X-Chat-Token: expected the conversation's token", NULL);
		api_submit(req, false, transcript_job, transcript_done);
		return;
	}
	api_problem(req, 404, "no such endpoint", NULL);
}

/* ---- staff endpoints ----------------------------------------------------------------------- */

struct joined_scan {
	int64_t user;
	bool ever;
	json_t *people; /* replayed participants: [{user_id, agent_id, name}] */
};

static int joined_cb(const struct store_val *c, int n, void *arg)
{
	(void)n;
	struct joined_scan *s = arg;
	json_t *p = json_loads(c[1].s, 0, NULL);
	int64_t uid = json_integer_value(json_object_get(p, "user_id"));
	if (uid == s->user)
		s->ever = true;
	size_t i;
	json_t *x;
	json_array_foreach(s->people, i, x) {
		if (json_integer_value(json_object_get(x, "user_id")) == uid) {
			json_array_remove(s->people, i);
			break;
		}
	}
	if (strcmp(c[0].s, "chat.joined") == 0)
		json_array_append_new(s->people,
				      json_pack("{s:I, s:I, s:s}", "user_id", (json_int_t)uid, "agent_id",
						json_integer_value(json_object_get(p, "agent_id")), "name",
						json_string_value(json_object_get(p, "name")) ?: ""));
	json_decref(p);
	return 0;
}

static int chat_get_job(struct store_tx *tx, void *arg)
{
	struct api_req *req = arg;
	struct chat_op *op = req->ctx;
	struct store_val p[] = {store_int(op->conv)};
	int r = store_query(tx, "SELECT " CONV_COLS " FROM conversations WHERE id = $1", p, 1,
			    conv_row_cb, &op->out);
	if (r)
		return r;
	if (!op->out)
		return op_fail(op, 404, NULL, "no such conversation");
	struct joined_scan s = {.user = op->user_id, .people = json_array()};
	r = store_query(tx,
			"SELECT type, payload FROM events WHERE tenant = 1 AND interaction = $1 AND "
			"type IN ('chat.joined', 'chat.left') ORDER BY id",
			p, 1, joined_cb, &s);
	/* the stored state says queued or ended; "active" is derived: someone
	 * is serving */
	if (json_array_size(s.people) && !strcmp(json_string_value(json_object_get(op->out, "state")), "queued"))
		json_object_set_new(op->out, "state", json_string("active"));
	json_object_set_new(op->out, "participants", s.people);
	if (r)
		return r;
	if (!op->priv && !s.ever)
		return op_fail(op, 403, NULL, "this conversation is not yours");
	op->list = json_array();
	return store_query(tx, "SELECT " MSG_COLS " FROM " MSG_FROM " WHERE m.conversation = $1 ORDER BY m.seq",
			   p, 1, msg_list_cb, op->list);
}

static void chat_get_done(struct api_req *req)
{
	struct chat_op *op = req->ctx;
	if (op_failed(req, op))
		return;
	json_object_set(op->out, "messages", op->list);
	api_respond_json(req, 200, json_incref(op->out));
}

static int chat_list_job(struct store_tx *tx, void *arg)
{
	struct api_req *req = arg;
	struct chat_op *op = req->ctx;
	op->list = json_array();
	char sql[512];
	const char *where = strcmp(op->kind, "open") == 0    ? "state <> 'ended' AND "
			    : strcmp(op->kind, "ended") == 0 ? "state = 'ended' AND "
							     : "";
	if (op->priv) {
		snprintf(sql, sizeof(sql),
			 "SELECT " CONV_COLS " FROM conversations WHERE %s tenant = 1 AND id > $1 "
			 "ORDER BY id LIMIT $2",
			 where);
		struct store_val p[] = {store_int(op->after), store_int(op->other)};
		return store_query(tx, sql, p, 2, conv_list_cb, op->list);
	}
	/* agents: the conversations they ever joined */
	char like1[48], like2[48];
	snprintf(like1, sizeof(like1), "%%\"user_id\":%" PRId64 ",%%", op->user_id);
	snprintf(like2, sizeof(like2), "%%\"user_id\":%" PRId64 "}%%", op->user_id);
	snprintf(sql, sizeof(sql),
		 "SELECT " CONV_COLS " FROM conversations WHERE %s tenant = 1 AND id > $1 AND id IN "
		 "(SELECT interaction FROM events WHERE tenant = 1 AND type = 'chat.joined' AND "
		 "(payload LIKE $3 OR payload LIKE $4)) ORDER BY id LIMIT $2",
		 where);
	struct store_val p[] = {store_int(op->after), store_int(op->other), store_text(like1),
				store_text(like2)};
	return store_query(tx, sql, p, 4, conv_list_cb, op->list);
}

static void chat_list_done(struct api_req *req)
{
	struct chat_op *op = req->ctx;
	if (op_failed(req, op))
		return;
	size_t n = json_array_size(op->list);
	json_t *next = n == (size_t)op->other
		? json_incref(json_object_get(json_array_get(op->list, n - 1), "id")) : json_null();
	json_t *items = json_array();
	size_t i;
	json_t *c;
	json_array_foreach(op->list, i, c) {
		struct chat_conv *cv = conv_find(req->api, json_integer_value(json_object_get(c, "id")));
		bool ended = !strcmp(json_string_value(json_object_get(c, "state")), "ended");
		/* an agent's open chats are the ones it is in now */
		if (!op->priv && !ended && (!cv || conv_user_index(cv, op->user_id) < 0))
			continue;
		if (!ended && cv && cv->nusers)
			json_object_set_new(c, "state", json_string("active"));
		json_object_set_new(c, "participants", conv_participants(cv));
		json_array_append(items, c);
	}
	api_respond_json(req, 200, json_pack("{s:o, s:o}", "items", items, "next_after", next));
}

/* Who an agent is (for invite/join): agents row by id or by user. */
static int agent_row_cb(const struct store_val *c, int n, void *arg)
{
	(void)n;
	struct chat_op *op = arg;
	op->other = c[0].i;
	op->user_id = c[1].type == STORE_INT ? c[1].i : 0;
	snprintf(op->name, sizeof(op->name), "%s", c[2].s);
	return 0;
}

static int invite_find_job(struct store_tx *tx, void *arg)
{
	struct api_req *req = arg;
	struct chat_op *op = req->ctx;
	int64_t want = op->other;
	op->other = 0;
	struct store_val p[] = {store_int(want)};
	int r = store_query(tx, "SELECT id, user_id, name FROM agents WHERE id = $1", p, 1,
			    agent_row_cb, op);
	if (r)
		return r;
	if (!op->other)
		return op_fail(op, 422, "agent_id", "agent_id: no such agent");
	if (!op->user_id)
		return op_fail(op, 422, "agent_id", "agent_id: that agent has no user to log in with");
	return 0;
}

static void invite_found(struct api_req *req)
{
	struct chat_op *op = req->ctx;
	struct api *a = req->api;
	if (op_failed(req, op))
		return;
	struct chat_conv *c = conv_find(a, op->conv);
	if (!c || c->state == CS_ENDED)
		return api_problem(req, 409, "the conversation is not live", NULL);
	if (conv_user_index(c, op->user_id) >= 0)
		return api_problem(req, 409, "that agent is in the chat already", "agent_id");
	int k = conv_invited_index(c, op->user_id);
	if (k < 0) {
		if (c->ninvited == CHAT_MAX_INVITED)
			return api_problem(req, 409, "too many open invitations", NULL);
		k = (int)c->ninvited++;
	}
	c->invited[k] = op->user_id;
	c->invited_transfer[k] = op->dup; /* dup: a transfer */
	c->invited_by[k] = req->who.user_id;
	int me = conv_user_index(c, req->who.user_id);
	json_t *msg = json_pack("{s:s, s:I, s:{s:I, s:s}, s:s, s:b}", "type", "chat_invite",
				"conversation", (json_int_t)op->conv, "from", "user_id",
				(json_int_t)req->who.user_id, "name",
				me >= 0 && c->users[me].name[0] ? c->users[me].name : req->who.username, "note",
				op->text ? op->text : "", "transfer", op->dup);
	char *s = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (s) {
		struct api_evmsg *m = api_evmsg_from_text(s, "chat_invite");
		free(s);
		if (m)
			api_ws_deliver_user(a, op->user_id, m);
	}
	api_respond_json(req, 202, json_pack("{s:I, s:I, s:b}", "conversation", (json_int_t)op->conv,
					     "invited_agent_id", (json_int_t)op->other, "transfer", op->dup));
}

/* chat.joined / chat.left (+ chat.transferred) written by the web thread */
static int member_job(struct store_tx *tx, void *arg)
{
	struct api_req *req = arg;
	struct chat_op *op = req->ctx;
	struct conv_head h;
	int r = live_head(tx, op, &h, false);
	if (r)
		return r;
	op->task_id = h.task_id;
	if (strcmp(op->kind, "join") == 0) {
		op->other = 0;
		struct store_val pu[] = {store_int(op->user_id)};
		int64_t uid = op->user_id;
		if ((r = store_query(tx, "SELECT id, user_id, name FROM agents WHERE user_id = $1", pu, 1,
				     agent_row_cb, op)))
			return r;
		op->user_id = uid;
		if (!op->name[0])
			snprintf(op->name, sizeof(op->name), "%s", req->who.username);
		/* an invited agent holds no task of its own (the chat's task is
		 * the inviting agent's): task_id null */
		r = conv_event(tx, "chat.joined", op->conv, h.queue_id, op->other, req->who.user_id,
			       json_pack("{s:I, s:I, s:s, s:n}", "user_id", (json_int_t)op->user_id,
					 "agent_id", (json_int_t)op->other, "name", op->name, "task_id"));
		if (r || !op->after) /* after: the user who handed over, leaving now */
			return r;
	}
	int64_t leaver = strcmp(op->kind, "join") == 0 ? op->after : op->user_id;
	r = conv_event(tx, "chat.left", op->conv, h.queue_id, 0, req->who.user_id,
		       json_pack("{s:I, s:s}", "user_id", (json_int_t)leaver, "reason",
				 strcmp(op->kind, "join") == 0 ? "transfer" : "left"));
	if (r || strcmp(op->kind, "join") != 0)
		return r;
	return conv_event(tx, "chat.transferred", op->conv, h.queue_id, 0, req->who.user_id,
			  json_pack("{s:I, s:I, s:s, s:I}", "from_user_id", (json_int_t)leaver, "to_agent_id",
				    (json_int_t)op->other, "note", op->text ? op->text : "", "task_id",
				    (json_int_t)h.task_id));
}

static void member_answer(struct api_req *req)
{
	struct chat_op *op = req->ctx;
	struct chat_conv *c = conv_find(req->api, op->conv);
	api_respond_json(req, 200, json_pack("{s:I, s:s, s:o}", "id", (json_int_t)op->conv, "state",
					     c ? state_names[c->state] : "ended", "participants",
					     conv_participants(c)));
}

static void member_done(struct api_req *req)
{
	struct chat_op *op = req->ctx;
	if (op_failed(req, op))
		return;
	if (strcmp(op->kind, "join") == 0 && op->after && op->task_id) {
		/* handed over: the first agent's task goes to wrap-up */
		struct api_cmd *cmd = &op->cmd;
		cmd->kind = API_CMD_TASK_COMPLETE;
		cmd->id = op->task_id;
		cmd->privileged = true;
		if (api_core_post(req, cmd, member_answer))
			return;
		return;
	}
	member_answer(req);
}

/* Transfer to a queue: a new task whose prejob points the conversation at it. */
static int transfer_prejob(struct store_tx *tx, void *arg)
{
	struct api_cmd *cmd = arg;
	struct api_req *req = cmd->req;
	struct chat_op *op = req->ctx;
	struct store_val p[] = {store_int(op->conv), store_int(cmd->id), store_int(op->queue)};
	int r = store_exec(tx, "UPDATE conversations SET task_id = $2, queue_id = $3, state = 'queued' "
			       "WHERE id = $1 AND state <> 'ended'",
			   p, 3, NULL);
	if (r)
		return r;
	struct chat_conv *c = NULL; /* the web thread's table is not ours here: the leavers come in op->list */
	(void)c;
	size_t i;
	json_t *u;
	json_array_foreach(op->list, i, u) {
		r = conv_event(tx, "chat.left", op->conv, op->queue, 0, op->user_id,
			       json_pack("{s:O, s:O, s:s}", "user_id", json_object_get(u, "user_id"),
					 "agent_id", json_object_get(u, "agent_id"), "reason", "transfer"));
		if (r)
			return r;
	}
	return conv_event(tx, "chat.transferred", op->conv, op->queue, 0, op->user_id,
			  json_pack("{s:I, s:I, s:s, s:I}", "from_user_id", (json_int_t)op->user_id,
				    "to_queue_id", (json_int_t)op->queue, "note", op->text ? op->text : "",
				    "task_id", (json_int_t)cmd->id));
}

static void transfer_old_done(struct api_req *req)
{
	struct chat_op *op = req->ctx;
	api_respond_json(req, 200, json_pack("{s:I, s:s, s:I, s:I}", "id", (json_int_t)op->conv, "state",
					     "queued", "task_id", (json_int_t)op->attach_id, "queue_id",
					     (json_int_t)op->queue));
}

static void transfer_new_done(struct api_req *req)
{
	struct chat_op *op = req->ctx;
	struct api_cmd *cmd = &op->cmd;
	if (cmd->status != 201) {
		int st = cmd->status ? cmd->status : 503;
		return api_problem(req, st, cmd->detail[0] ? cmd->detail : "routing failed",
				   !strcmp(cmd->field, "queue_id") || !strcmp(cmd->field, "channel") ? "queue_id"
												 : NULL);
	}
	op->attach_id = cmd->id; /* the new task */
	free(cmd->resp);
	json_decref(cmd->body);
	memset(cmd, 0, sizeof(*cmd));
	cmd->kind = API_CMD_TASK_COMPLETE;
	cmd->id = op->task_id;
	cmd->privileged = true;
	if (!op->task_id || !api_core_post(req, cmd, transfer_old_done))
		transfer_old_done(req);
}

static int transfer_head_job(struct store_tx *tx, void *arg)
{
	struct api_req *req = arg;
	struct chat_op *op = req->ctx;
	struct conv_head h;
	int r = live_head(tx, op, &h, false);
	if (r)
		return r;
	op->task_id = h.task_id;
	op->customer_id = h.customer_id;
	struct store_val p[] = {store_int(op->conv)};
	json_t *row = NULL;
	r = store_query(tx, "SELECT " CONV_COLS " FROM conversations WHERE id = $1", p, 1, conv_row_cb, &row);
	if (!r && row) {
		snprintf(op->lang, sizeof(op->lang), "%s",
			 json_string_value(json_object_get(row, "language")) ?: "en");
		snprintf(op->name, sizeof(op->name), "%s", json_string_value(json_object_get(row, "name")) ?: "");
	}
	json_decref(row);
	return r;
}

static void transfer_head_done(struct api_req *req)
{
	struct chat_op *op = req->ctx;
	if (op_failed(req, op))
		return;
	struct chat_conv *c = conv_find(req->api, op->conv);
	op->list = conv_participants(c);
	struct api_cmd *cmd = &op->cmd;
	cmd->kind = API_CMD_TASK_CREATE;
	cmd->privileged = true;
	cmd->user_id = req->who.user_id;
	cmd->body = json_pack("{s:I, s:s, s:{s:I, s:s, s:s, s:s}}", "queue_id", (json_int_t)op->queue,
			      "channel", "chat", "attributes", "conversation_id", (json_int_t)op->conv,
			      "language", op->lang[0] ? op->lang : "en", "name", op->name, "transfer_note",
			      op->text ? op->text : "");
	if (op->customer_id)
		json_object_set_new(cmd->body, "customer_id", json_integer(op->customer_id));
	cmd->prejob = transfer_prejob;
	api_core_post(req, cmd, transfer_new_done);
}

static void handle_one_chat(struct api_req *req, int64_t id, const char *action)
{
	struct api *a = req->api;
	int m = req->method;
	struct chat_conv *c = conv_find(a, id);
	struct chat_op *op = req_op(req);
	if (!op)
		return;
	op->conv = id;
	op->user_id = req->who.user_id;
	op->priv = privileged(&req->who);
	if (!action) {
		if (m != LWSHUMETH_GET)
			return api_problem(req, 405, "method not allowed here", NULL);
		api_submit(req, false, chat_get_job, chat_get_done);
		return;
	}
	if (m != LWSHUMETH_POST)
		return api_problem(req, 405, "method not allowed here", NULL);
	bool member = c && conv_user_index(c, req->who.user_id) >= 0;
	if (strcmp(action, "attachments") == 0) {
		if (!member)
			return api_problem(req, 403, "only the chat's agents send files", NULL);
		if (!upload_take(req, op))
			return;
		snprintf(op->sender, sizeof(op->sender), "agent");
		snprintf(op->name, sizeof(op->name), "%s", c->users[conv_user_index(c, req->who.user_id)].name);
		return upload_begin(req, op);
	}
	if (strcmp(action, "join") == 0) {
		int k = c ? conv_invited_index(c, req->who.user_id) : -1;
		if (k < 0)
			return api_problem(req, 403, "join a chat you were invited to", NULL);
		snprintf(op->kind, sizeof(op->kind), "join");
		op->after = c->invited_transfer[k] ? c->invited_by[k] : 0;
		api_submit(req, true, member_job, member_done);
		return;
	}
	json_t *b = req->body_len ? api_parse_body(req) : json_object();
	if (!b)
		return;
	const char *bad = NULL;
	if (!json_is_object(b))
		bad = "expected a JSON object";
	if (!bad && strcmp(action, "messages") == 0) {
		int status;
		const char *detail, *field;
		struct chat_op *mop = c ? staff_message(a, NULL, &req->who, c, b, &status, &detail, &field)
					: NULL;
		if (!c) {
			status = op->priv ? 409 : 403;
			detail = op->priv ? "the conversation is not live" : "only the chat's agents write here";
			field = NULL;
		}
		if (!mop) {
			api_problem(req, status, detail, field);
			json_decref(b);
			return;
		}
		json_decref(b);
		return message_begin(a, mop, req); /* mop replaces op as the request's context */
	}
	if (!bad && strcmp(action, "end") == 0) {
		json_decref(b);
		if (!member && !op->priv)
			return api_problem(req, 403, "only the chat's agents or a supervisor end it", NULL);
		snprintf(op->sender, sizeof(op->sender), "%s", member ? "agent" : "supervisor");
		return end_begin(a, req);
	}
	if (!bad && strcmp(action, "leave") == 0) {
		json_decref(b);
		if (!member)
			return api_problem(req, 409, "you are not in this chat", NULL);
		snprintf(op->kind, sizeof(op->kind), "leave");
		api_submit(req, true, member_job, member_done);
		return;
	}
	if (!bad && (strcmp(action, "invite") == 0 || strcmp(action, "transfer") == 0)) {
		if (!member && !op->priv) {
			json_decref(b);
			return api_problem(req, 403, "only the chat's agents or a supervisor do this", NULL);
		}
		json_t *ag = json_object_get(b, "agent_id"), *q = json_object_get(b, "queue_id");
		json_t *note = json_object_get(b, "note");
		bool transfer = strcmp(action, "transfer") == 0;
		if (note && !json_is_null(note) && (!json_is_string(note) || json_string_length(note) > 2000)) {
			json_decref(b);
			return api_problem(req, 422, "note: expected up to 2000 characters", "note");
		}
		if (json_is_string(note))
			op->text = strdup(json_string_value(note));
		if (transfer && json_is_integer(q) && json_integer_value(q) > 0 && !ag) {
			op->queue = json_integer_value(q);
			op->user_id = req->who.user_id;
			json_decref(b);
			api_submit(req, false, transfer_head_job, transfer_head_done);
			return;
		}
		if (!json_is_integer(ag) || json_integer_value(ag) < 1) {
			json_decref(b);
			return api_problem(req, 422,
					   transfer ? "expected agent_id or queue_id (one of them)"
						    : "agent_id: expected an agent id",
					   transfer ? "queue_id" : "agent_id");
		}
		op->other = json_integer_value(ag);
		op->dup = transfer;
		json_decref(b);
		api_submit(req, false, invite_find_job, invite_found);
		return;
	}
	json_decref(b);
	api_problem(req, bad ? 422 : 404, bad ? bad : "no such endpoint", NULL);
}

void api_handle_chats(struct api_req *req, const char *rest)
{
	/* rest: "chats", "chats/ID", "chats/ID/ACTION" */
	if (strcmp(rest, "chats") == 0) {
		if (req->method != LWSHUMETH_GET)
			return api_problem(req, 405, "method not allowed here", NULL);
		struct chat_op *op = req_op(req);
		if (!op)
			return;
		op->user_id = req->who.user_id;
		op->priv = privileged(&req->who);
		char st[16] = "open";
		api_query_get(req, "state", st, sizeof(st));
		if (strcmp(st, "open") && strcmp(st, "ended") && strcmp(st, "all"))
			return api_problem(req, 422, "state: expected open, ended or all", "state");
		snprintf(op->kind, sizeof(op->kind), "%s", st);
		if (api_query_int(req, "limit", 50, 1, 200, &op->other) ||
		    api_query_int(req, "after", 0, 0, INT64_MAX, &op->after))
			return;
		api_submit(req, false, chat_list_job, chat_list_done);
		return;
	}
	const char *p = rest + 6;
	char *end;
	long long id = strtoll(p, &end, 10);
	if (id < 1 || end == p || (*end && *end != '/'))
		return api_problem(req, 404, "no such conversation", NULL);
	const char *action = *end == '/' ? end + 1 : NULL;
	if (action && (!*action || strchr(action, '/')))
		return api_problem(req, 404, "no such endpoint", NULL);
	handle_one_chat(req, id, action);
}

/* ---- a customer's interactions on every channel ------------------------------------------ */

struct hist {
	json_t *items;
};

static int hist_task_cb(const struct store_val *c, int n, void *arg)
{
	(void)n;
	struct hist *h = arg;
	json_t *p = json_loads(c[3].s, 0, NULL);
	json_t *attrs = json_object_get(p, "attributes");
	json_t *conv = json_object_get(attrs, "conversation_id");
	/* a transfer's later task belongs to its conversation's row */
	if (json_is_integer(conv) && json_integer_value(conv) && json_integer_value(conv) != c[0].i) {
		json_decref(p);
		return 0;
	}
	char ts[32];
	json_array_append_new(h->items,
			      json_pack("{s:I, s:O, s:I, s:s, s:s, s:n, s:n, s:n, s:n}", "id", (json_int_t)c[0].i,
					"channel", json_object_get(p, "channel") ?: json_null(), "queue_id",
					(json_int_t)(c[2].type == STORE_INT ? c[2].i : 0), "state", "queued",
					"created_at", base_iso8601(c[1].i, ts, sizeof(ts)), "ended_at", "agent_id",
					"disposition", "summary"));
	json_decref(p);
	return 0;
}

static int hist_event_cb(const struct store_val *c, int n, void *arg)
{
	(void)n;
	json_t *it = arg;
	const char *type = c[0].s;
	char ts[32];
	json_t *p = json_loads(c[3].s, 0, NULL);
	if (strcmp(type, "task.accepted") == 0 && c[2].type == STORE_INT)
		json_object_set_new(it, "agent_id", json_integer(c[2].i));
	if (strcmp(type, "task.wrapped_up") == 0)
		json_object_set(it, "disposition", json_object_get(p, "disposition"));
	const char *st = json_string_value(json_object_get(p, "state"));
	if (strncmp(type, "task.", 5) == 0 && st)
		json_object_set_new(it, "state", json_string(st));
	else if (strcmp(type, "task.accepted") == 0)
		json_object_set_new(it, "state", json_string("accepted"));
	if (!strcmp(type, "task.done") || !strcmp(type, "task.abandoned") || !strcmp(type, "task.cancelled") ||
	    !strcmp(type, "task.expired") || !strcmp(type, "chat.ended"))
		json_object_set_new(it, "ended_at", json_string(base_iso8601(c[1].i, ts, sizeof(ts))));
	if (strcmp(type, "chat.message") == 0 && json_is_null(json_object_get(it, "summary")) &&
	    !strcmp(json_string_value(json_object_get(p, "kind")) ?: "", "message")) {
		char sum[124];
		snprintf(sum, sizeof(sum), "%s", json_string_value(json_object_get(p, "text")) ?: "");
		json_t *s = json_string(sum); /* NULL if the cut split a UTF-8 sequence */
		for (size_t k = strlen(sum); !s && k > 0; k--) {
			sum[k - 1] = '\0';
			s = json_string(sum);
		}
		json_object_set_new(it, "summary", s ? s : json_null());
	}
	json_decref(p);
	return 0;
}

static int history_list_job(struct store_tx *tx, void *arg)
{
	struct api_req *req = arg;
	struct chat_op *op = req->ctx;
	char like1[48], like2[48];
	snprintf(like1, sizeof(like1), "%%\"customer_id\":%" PRId64 ",%%", op->customer_id);
	snprintf(like2, sizeof(like2), "%%\"customer_id\":%" PRId64 "}%%", op->customer_id);
	struct hist h = {.items = json_array()};
	op->list = h.items;
	struct store_val p[] = {store_text(like1), store_text(like2), store_int(op->other)};
	int r = store_query(tx,
			    "SELECT interaction, ts, queue, payload FROM events WHERE tenant = 1 AND "
			    "type = 'task.created' AND (payload LIKE $1 OR payload LIKE $2) "
			    "ORDER BY id DESC LIMIT $3",
			    p, 3, hist_task_cb, &h);
	size_t i;
	json_t *it;
	json_array_foreach(h.items, i, it) {
		if (r)
			break;
		struct store_val pi[] = {store_int(json_integer_value(json_object_get(it, "id")))};
		r = store_query(tx,
				"SELECT type, ts, agent, payload FROM events WHERE tenant = 1 AND interaction = $1 "
				"AND (type LIKE 'task.%' OR type IN ('chat.ended', 'chat.message')) ORDER BY id",
				pi, 1, hist_event_cb, it);
	}
	return r;
}

static void history_list_done(struct api_req *req)
{
	struct chat_op *op = req->ctx;
	if (op_failed(req, op))
		return;
	api_respond_json(req, 200, json_pack("{s:O}", "items", op->list));
}

void api_handle_customer_interactions(struct api_req *req, int64_t customer_id)
{
	struct chat_op *op = req_op(req);
	if (!op)
		return;
	op->customer_id = customer_id;
	if (api_query_int(req, "limit", 50, 1, 200, &op->other))
		return;
	api_submit(req, false, history_list_job, history_list_done);
}

/* ---- start-up ------------------------------------------------------------------------------ */

struct load_ctx {
	struct api *a;
};

static int load_conv_cb(const struct store_val *c, int n, void *arg)
{
	(void)n;
	struct load_ctx *lc = arg;
	struct chat_conv *cv = conv_get(lc->a, c[0].i);
	if (cv)
		cv->state = CS_QUEUED;
	return 0;
}

static int load_member_cb(const struct store_val *c, int n, void *arg)
{
	(void)n;
	struct load_ctx *lc = arg;
	struct chat_conv *cv = conv_find(lc->a, c[0].i);
	json_t *p = json_loads(c[2].s, 0, NULL);
	if (cv && p) {
		int64_t uid = json_integer_value(json_object_get(p, "user_id"));
		if (strcmp(c[1].s, "chat.joined") == 0)
			conv_add_user(cv, uid, json_integer_value(json_object_get(p, "agent_id")),
				      json_string_value(json_object_get(p, "name")));
		else
			conv_del_user(cv, uid);
	}
	json_decref(p);
	return 0;
}

static int load_job(struct store_tx *tx, void *arg)
{
	int r = store_query(tx, "SELECT id FROM conversations WHERE tenant = 1 AND state <> 'ended'", NULL, 0,
			    load_conv_cb, arg);
	if (r)
		return r;
	return store_query(tx,
			   "SELECT interaction, type, payload FROM events WHERE tenant = 1 AND "
			   "type IN ('chat.joined', 'chat.left') AND interaction IN "
			   "(SELECT id FROM conversations WHERE tenant = 1 AND state <> 'ended') ORDER BY id",
			   NULL, 0, load_member_cb, arg);
}

int api_chat_init(struct api *a)
{
	a->chat = calloc(1, sizeof(*a->chat));
	if (!a->chat)
		return -ENOMEM;
	/* How long a waiting customer may be gone (page closed, network lost)
	 * before the chat counts as abandoned: 2 minutes, or
	 * HOTLINE_CHAT_GRACE_MS (docs/OPERATIONS.md). */
	a->chat->grace_us = 120 * LWS_US_PER_SEC;
	const char *g = getenv("HOTLINE_CHAT_GRACE_MS");
	if (g) {
		char *end;
		errno = 0;
		long long ms = strtoll(g, &end, 10);
		if (!errno && end != g && !*end && ms > 0 && ms <= 24LL * 3600 * 1000)
			a->chat->grace_us = ms * LWS_US_PER_MS;
		else
			LOG_WARN(MOD, "HOTLINE_CHAT_GRACE_MS=%s ignored: expected 1 to 86400000", g);
	}
	if (a->o.data_dir && *a->o.data_dir) {
		snprintf(a->chat->attach_dir, sizeof(a->chat->attach_dir), "%s/attachments", a->o.data_dir);
		if (mkdir(a->chat->attach_dir, 0750) && errno != EEXIST)
			LOG_WARN(MOD, "cannot create %s: %s", a->chat->attach_dir, strerror(errno));
	}
	if (!a->o.store)
		return 0;
	struct load_ctx lc = {a};
	int r = store_read_sync(a->o.store, load_job, &lc);
	if (r) {
		LOG_ERROR(MOD, "could not load open conversations: %d", r);
		api_chat_free(a);
		return r;
	}
	if (a->chat->n)
		LOG_INFO(MOD, "%zu open conversation(s) loaded", a->chat->n);
	return 0;
}

void api_chat_arm_all(struct api *a)
{
	for (size_t i = 0; a->chat && i < CHAT_BUCKETS; i++)
		for (struct chat_conv *c = a->chat->b[i]; c; c = c->next)
			arm_grace(a, c);
}

void api_chat_free(struct api *a)
{
	if (!a || !a->chat)
		return;
	for (size_t i = 0; i < CHAT_BUCKETS; i++) {
		struct chat_conv *c = a->chat->b[i];
		while (c) {
			struct chat_conv *next = c->next;
			free(c); /* the lws context, and with it every grace timer, is gone */
			c = next;
		}
	}
	free(a->chat);
	a->chat = NULL;
}

/* ---- the fuzz target's entry ------------------------------------------------------------- */

int api_chat_fuzz(const uint8_t *data, size_t size)
{
	/* raw bytes as an upload: type sniffing and the file name cleaner */
	const char *mime = sniff(data, size);
	char raw[400], name[101];
	size_t n = size < sizeof(raw) - 1 ? size : sizeof(raw) - 1;
	memcpy(raw, data, n);
	raw[n] = '\0';
	clean_name(raw, mime ? mime : "image/png", name, sizeof(name));
	json_t *probe = json_string(name);
	if (!probe || !name[0] || strlen(name) > 100 || strchr(name, '"') || strchr(name, '/'))
		__builtin_trap(); /* a cleaned name is always a short, valid, header-safe string */
	json_decref(probe);
	/* the same bytes as a widget frame */
	json_error_t e;
	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &e);
	if (!j)
		return 0;
	const char *why = NULL, *field = NULL;
	const char *type = json_string_value(json_object_get(j, "type"));
	if (type && strcmp(type, "start") == 0)
		field = start_invalid(j, &why);
	else if (type && strcmp(type, "message") == 0)
		field = message_invalid(j, &why);
	if (field && (!why || !*why))
		__builtin_trap(); /* every refusal says why */
	json_decref(j);
	return field ? 1 : 0;
}

/* ---- OpenAPI for the chat endpoints (added by schema_openapi) ---------------------------- */

static json_t *oa_problem(void)
{
	return json_pack("{s:s, s:{s:{s:{s:s}}}}", "description", "Problem", "content",
			 "application/problem+json", "schema", "$ref", "#/components/schemas/Problem");
}

/* One operation: ok is "201" etc.; okschema NULL for a non-JSON answer of
 * type `media`; errs a space-separated list of problem statuses. */
static json_t *oa_op(const char *summary, json_t *body, const char *ok, json_t *okschema,
		     const char *media, const char *errs, bool public_op)
{
	json_t *o = json_pack("{s:s, s:[s]}", "summary", summary, "tags", "chat");
	if (body)
		json_object_set_new(o, "requestBody", json_pack("{s:b, s:{s:{s:o}}}", "required", 1,
								 "content", "application/json", "schema", body));
	json_t *r = json_object();
	json_t *okr = json_pack("{s:s}", "description", "OK");
	if (okschema)
		json_object_set_new(okr, "content", json_pack("{s:{s:o}}", media ? media : "application/json",
							       "schema", okschema));
	json_object_set_new(r, ok, okr);
	char buf[128];
	snprintf(buf, sizeof(buf), "%s", errs);
	for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
		json_object_set_new(r, t, oa_problem());
	json_object_set_new(o, "responses", r);
	if (public_op)
		json_object_set_new(o, "security", json_pack("[{}]"));
	return o;
}

static json_t *oa_ref(const char *n)
{
	char b[96];
	snprintf(b, sizeof(b), "#/components/schemas/%s", n);
	return json_pack("{s:s}", "$ref", b);
}

static json_t *oa_id_param(const char *desc)
{
	return json_pack("[{s:s, s:s, s:b, s:s, s:{s:s}}]", "name", "id", "in", "path", "required", 1,
			 "description", desc, "schema", "type", "integer");
}

void api_chat_openapi(json_t *paths, json_t *schemas)
{
	json_object_set_new(schemas, "ChatMessage", json_pack(
		"{s:s, s:[s,s,s,s,s,s], s:{s:{s:s}, s:{s:s, s:[s,s,s]}, s:{s:s, s:[s,s,s]}, s:{s:[s,s]},"
		" s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s, s:s}, s:{s:s}}}",
		"type", "object", "required", "seq", "kind", "from", "client_id", "text", "ts", "properties",
		"seq", "type", "integer", "kind", "type", "string", "enum", "message", "note", "whisper",
		"from", "type", "string", "enum", "customer", "agent", "supervisor", "user_id", "type",
		"integer", "null", "name", "type", "string", "client_id", "type", "string", "text", "type",
		"string", "ts", "type", "string", "format", "date-time", "attachment", "type", "object"));
	json_object_set_new(schemas, "Conversation", json_pack(
		"{s:s, s:[s,s,s], s:{s:{s:s}, s:{s:s, s:[s,s,s]}, s:{s:[s,s]}, s:{s:[s,s]}, s:{s:[s,s]},"
		" s:{s:[s,s]}, s:{s:[s,s]}, s:{s:[s,s]}, s:{s:s}, s:{s:s}, s:{s:[s,s]}, s:{s:[s,s]},"
		" s:{s:s}, s:{s:[s,s]}, s:{s:s}, s:{s:s, s:o}}}",
		"type", "object", "required", "id", "state", "created_at", "properties",
		"id", "type", "integer", "state", "type", "string", "enum", "queued", "active", "ended",
		"queue_id", "type", "integer", "null", "task_id", "type", "integer", "null",
		"customer_id", "type", "integer", "null", "name", "type", "string", "null",
		"email", "type", "string", "null", "language", "type", "string", "null",
		"offline", "type", "boolean", "last_seq", "type", "integer",
		"rating", "type", "integer", "null", "comment", "type", "string", "null",
		"created_at", "type", "string", "ended_at", "type", "string", "null",
		"participants", "type", "array", "messages", "type", "array", "items", oa_ref("ChatMessage")));
	json_t *msg_in = json_pack("{s:s, s:[s,s], s:{s:{s:s, s:i, s:i}, s:{s:s, s:i, s:i}, s:{s:s, s:[s,s,s]}}}",
				   "type", "object", "required", "client_id", "text", "properties",
				   "client_id", "type", "string", "minLength", 1, "maxLength", 64, "text",
				   "type", "string", "minLength", 1, "maxLength", 16384, "kind", "type",
				   "string", "enum", "message", "note", "whisper");
	json_t *obj = json_pack("{s:s}", "type", "object");
	json_object_set_new(paths, "/api/v1/chat/config", json_pack("{s:o}", "get",
		oa_op("The widget's settings: chat topics (queues), open or not, agents available", NULL,
		      "200", json_pack("{s:s, s:[s,s,s,s]}", "type", "object", "required", "queue", "open",
				       "agents_available", "topics"),
		      NULL, "503", true)));
	json_object_set_new(paths, "/api/v1/chat/attachments", json_pack("{s:o}", "post",
		oa_op("Send a file (raw body; PNG, JPEG, GIF, WebP or PDF up to 10 MiB) with X-Chat-Token",
		      NULL, "201", oa_ref("ChatMessage"), NULL, "400 401 409 413 415 503", true)));
	json_object_set_new(paths, "/api/v1/chat/attachments/{id}", json_pack("{s:o, s:o}",
		"parameters", oa_id_param("Attachment id"), "get",
		oa_op("A file of a conversation (X-Chat-Token, or staff login)", NULL, "200",
		      json_pack("{s:s, s:s}", "type", "string", "format", "binary"), "application/octet-stream",
		      "401 404 503", true)));
	json_object_set_new(paths, "/api/v1/chat/transcript", json_pack("{s:o}", "get",
		oa_op("The customer's transcript as text (X-Chat-Token)", NULL, "200",
		      json_pack("{s:s}", "type", "string"), "text/plain", "401 503", true)));
	json_object_set_new(paths, "/api/v1/chats", json_pack("{s:o}", "get",
		oa_op("Conversations: an agent's own, or all for supervisors (?state=open|ended|all)", NULL,
		      "200", json_pack("{s:s, s:[s,s], s:{s:{s:s, s:o}}}", "type", "object", "required",
				       "items", "next_after", "properties", "items", "type", "array", "items",
				       oa_ref("Conversation")),
		      NULL, "401 422 503", false)));
	json_object_set_new(paths, "/api/v1/chats/{id}", json_pack("{s:o, s:o}",
		"parameters", oa_id_param("Conversation id"), "get",
		oa_op("A conversation with every message (notes and whispers too)", NULL, "200",
		      oa_ref("Conversation"), NULL, "401 403 404 503", false)));
	json_object_set_new(paths, "/api/v1/chats/{id}/messages", json_pack("{s:o, s:o}",
		"parameters", oa_id_param("Conversation id"), "post",
		oa_op("Write to the customer (message), the team (note) or the agents (whisper)",
		      msg_in, "201", oa_ref("ChatMessage"), NULL, "400 401 403 404 409 413 415 422 503", false)));
	json_object_set_new(paths, "/api/v1/chats/{id}/attachments", json_pack("{s:o, s:o}",
		"parameters", oa_id_param("Conversation id"), "post",
		oa_op("Send a file to the customer (raw body)", NULL, "201", oa_ref("ChatMessage"), NULL,
		      "400 401 403 404 409 413 415 503", false)));
	json_object_set_new(paths, "/api/v1/chats/{id}/end", json_pack("{s:o, s:o}",
		"parameters", oa_id_param("Conversation id"), "post",
		oa_op("End the chat; the agent's task goes to wrap-up", json_incref(obj), "200",
		      oa_ref("Conversation"), NULL, "400 401 403 404 409 503", false)));
	json_object_set_new(paths, "/api/v1/chats/{id}/transfer", json_pack("{s:o, s:o}",
		"parameters", oa_id_param("Conversation id"), "post",
		oa_op("Transfer to a queue (queue_id) or an agent (agent_id), with a note", json_incref(obj),
		      "200", json_incref(obj), NULL, "400 401 403 404 409 422 503", false)));
	json_object_set_new(json_object_get(json_object_get(json_object_get(paths, "/api/v1/chats/{id}/transfer"),
						      "post"), "responses"), "202",
			json_pack("{s:s, s:{s:{s:o}}}", "description", "Agent invited", "content",
				  "application/json", "schema", json_incref(obj)));
	json_object_set_new(paths, "/api/v1/chats/{id}/invite", json_pack("{s:o, s:o}",
		"parameters", oa_id_param("Conversation id"), "post",
		oa_op("Invite another agent into the chat", json_incref(obj), "202", json_incref(obj), NULL,
		      "400 401 403 404 409 422 503", false)));
	static const char *const member_ops[][2] = {{"join", "Join a chat you were invited to"},
						    {"leave", "Leave a chat"}};
	for (int i = 0; i < 2; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/api/v1/chats/{id}/%s", member_ops[i][0]);
		json_object_set_new(paths, path, json_pack("{s:o, s:o}", "parameters",
			oa_id_param("Conversation id"), "post",
			oa_op(member_ops[i][1], NULL, "200", json_incref(obj), NULL,
			      "400 401 403 404 409 503", false)));
	}
	json_object_set_new(paths, "/api/v1/customers/{id}/interactions", json_pack("{s:o, s:o}",
		"parameters", oa_id_param("Customer id"), "get",
		oa_op("A customer's interactions on every channel, newest first", NULL, "200",
		      json_pack("{s:s, s:[s], s:{s:{s:s}}}", "type", "object", "required", "items",
				"properties", "items", "type", "array"),
		      NULL, "401 422 503", false)));
	json_decref(obj);
}
