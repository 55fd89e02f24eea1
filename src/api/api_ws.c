/*
 * api_ws.c: the live event stream at /api/v1/events (WebSocket).
 *
 * Each committed event is serialized once (api_evmsg, refcounted) and
 * queued by pointer on every subscriber whose topics match. A subscriber's
 * queue is bounded (API_WS_MAX_EVENTS messages or API_WS_MAX_BYTES bytes);
 * when an event would overflow it, that subscriber alone is closed with
 * code 4008 "slow consumer" and its queue is dropped, so one slow reader
 * never holds up the others or grows the server's memory. A reader that
 * does not even read the close frame is cut off after 5 s.
 *
 * Idle cost: lws's own per-connection state plus struct api_ws; the queue
 * array exists only while messages are queued.
 */
#include "api/api_int.h"
#include "base/base.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

void api_evmsg_unref(struct api_evmsg *m)
{
	if (m && --m->refs <= 0) {
		api_evmsg_unref(m->visitor);
		free(m);
	}
}

struct api_evmsg *api_evmsg_from_text(const char *json, const char *type)
{
	size_t len = strlen(json);
	struct api_evmsg *m = malloc(sizeof(*m) + LWS_PRE + len);
	if (m) {
		m->refs = 1;
		m->interaction = 0;
		m->seq = 0;
		m->visitor = NULL;
		snprintf(m->type, sizeof(m->type), "%s", type);
		m->len = len;
		memcpy(m->buf + LWS_PRE, json, len);
	}
	return m;
}

static struct api_evmsg *evmsg_from_json(json_t *j, const char *type)
{
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!s)
		return NULL;
	struct api_evmsg *m = api_evmsg_from_text(s, type);
	free(s);
	return m;
}

struct api_evmsg *api_evmsg_from_event(const struct store_event *ev)
{
	char t[32];
	json_t *payload = json_loads(ev->payload ? ev->payload : "{}", JSON_DECODE_ANY, NULL);
	json_t *e = json_pack("{s:I, s:s, s:s, s:o}", "id", (json_int_t)ev->id, "ts",
			      base_iso8601(ev->ts_ms, t, sizeof(t)), "type", ev->type, "payload",
			      payload ? payload : json_object());
	const int64_t vals[] = {ev->actor, ev->interaction, ev->agent, ev->queue};
	static const char *const names[] = {"actor", "interaction", "agent", "queue"};
	for (int i = 0; i < 4; i++)
		json_object_set_new(e, names[i], vals[i] ? json_integer(vals[i]) : json_null());
	struct api_evmsg *m = evmsg_from_json(json_pack("{s:s, s:o}", "type", "event", "event", e), ev->type);
	if (m)
		m->interaction = ev->interaction;
	return m;
}

bool api_ws_topic_match(const struct api_ws *ws, const char *type)
{
	if (!ws->topics)
		return false;
	for (char **t = ws->topics; *t; t++) {
		size_t n = strlen(*t);
		if (strcmp(*t, "*") == 0 || strcmp(*t, type) == 0)
			return true;
		if (n >= 2 && (*t)[n - 1] == '*' && (*t)[n - 2] == '.' && strncmp(*t, type, n - 1) == 0)
			return true;
	}
	return false;
}

static void ring_clear(struct api_ws *ws)
{
	for (unsigned i = 0; i < ws->count; i++)
		api_evmsg_unref(ws->ring[(ws->head + i) % API_WS_MAX_EVENTS]);
	free(ws->ring);
	ws->ring = NULL;
	ws->head = ws->count = 0;
	ws->bytes = 0;
}

static void slow_close(struct api *a, struct api_ws *ws)
{
	ring_clear(ws);
	ws->closing = true;
	a->m.ws_slow_closed++;
	lws_callback_on_writable(ws->wsi);
	lws_set_timeout(ws->wsi, PENDING_TIMEOUT_USER_OK, 5);
}

/* Queue m on ws (takes a reference). */
static void ws_enqueue(struct api *a, struct api_ws *ws, struct api_evmsg *m)
{
	if (ws->closing)
		return;
	if (ws->count == API_WS_MAX_EVENTS || ws->bytes + m->len > API_WS_MAX_BYTES) {
		slow_close(a, ws);
		return;
	}
	if (!ws->ring) {
		ws->ring = calloc(API_WS_MAX_EVENTS, sizeof(*ws->ring));
		if (!ws->ring) {
			slow_close(a, ws);
			return;
		}
	}
	m->refs++;
	ws->ring[(ws->head + ws->count) % API_WS_MAX_EVENTS] = m;
	ws->count++;
	ws->bytes += m->len;
	lws_callback_on_writable(ws->wsi);
}

/* Only streams that subscribed to something are walked (a->topic_subs):
 * agents' desktops that just take offers and their chats cost nothing per
 * event. Chat events then go to their conversation's people (api_chat.c).
 * Takes over the references in evs. */
void api_ws_deliver(struct api *a, struct api_evmsg **evs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		a->m.events_published++;
		for (struct api_ws *ws = a->topic_subs; ws; ws = ws->tnext)
			if (api_ws_topic_match(ws, evs[i]->type))
				ws_enqueue(a, ws, evs[i]);
	}
	api_chat_on_events(a, evs, n);
	for (size_t i = 0; i < n; i++)
		api_evmsg_unref(evs[i]);
}

static size_t user_bucket(int64_t user_id)
{
	return (size_t)((uint64_t)user_id * 0x9E3779B97F4A7C15ull >> 54) % API_USER_BUCKETS;
}

/* Offers and chat events go to one user's own streams (a hash by user). */
void api_ws_deliver_user(struct api *a, int64_t user_id, struct api_evmsg *m)
{
	if (a->by_user)
		for (struct api_ws *ws = a->by_user[user_bucket(user_id)]; ws; ws = ws->unext)
			if (ws->who.user_id == user_id)
				ws_enqueue(a, ws, m);
	api_evmsg_unref(m);
}

void api_ws_send(struct api *a, struct api_ws *ws, struct api_evmsg *m)
{
	if (!ws->gone)
		ws_enqueue(a, ws, m);
}

void api_ws_unref(struct api_ws *ws)
{
	if (ws && --ws->refs <= 0)
		free(ws);
}

static void topics_link(struct api *a, struct api_ws *ws)
{
	if (ws->in_topics)
		return;
	ws->in_topics = true;
	ws->tprev = NULL;
	ws->tnext = a->topic_subs;
	if (a->topic_subs)
		a->topic_subs->tprev = ws;
	a->topic_subs = ws;
}

static void topics_unlink(struct api *a, struct api_ws *ws)
{
	if (!ws->in_topics)
		return;
	ws->in_topics = false;
	if (ws->tprev)
		ws->tprev->tnext = ws->tnext;
	else
		a->topic_subs = ws->tnext;
	if (ws->tnext)
		ws->tnext->tprev = ws->tprev;
}

static void free_topics(struct api_ws *ws)
{
	if (!ws->topics)
		return;
	for (char **t = ws->topics; *t; t++)
		free(*t);
	free(ws->topics);
	ws->topics = NULL;
}

void api_ws_send_json(struct api *a, struct api_ws *ws, json_t *j)
{
	struct api_evmsg *m = evmsg_from_json(j, "control");
	if (!m)
		return;
	api_ws_send(a, ws, m);
	api_evmsg_unref(m);
}

static void send_control(struct api *a, struct api_ws *ws, json_t *j)
{
	struct api_evmsg *m = evmsg_from_json(j, "control");
	if (!m)
		return;
	ws_enqueue(a, ws, m);
	api_evmsg_unref(m);
}

static void send_error(struct api *a, struct api_ws *ws, const char *detail)
{
	send_control(a, ws, json_pack("{s:s, s:s}", "type", "error", "detail", detail));
}

static void on_message(struct api *a, struct api_ws *ws)
{
	json_error_t e;
	json_t *j = json_loadb(ws->rx, ws->rx_len, JSON_REJECT_DUPLICATES, &e);
	if (!j) {
		char d[200];
		snprintf(d, sizeof(d), "malformed JSON at line %d, column %d: %s", e.line, e.column, e.text);
		send_error(a, ws, d);
		return;
	}
	if (ws->visitor) {
		api_chat_visitor_frame(a, ws, j); /* takes j */
		return;
	}
	const char *type = json_string_value(json_object_get(j, "type"));
	json_t *topics = json_object_get(j, "topics");
	if (type && strcmp(type, "subscribe") != 0 && api_chat_staff_frame(a, ws, type, j)) {
		/* handled */
	} else if (!type || strcmp(type, "subscribe") != 0) {
		send_error(a, ws, "type: expected \"subscribe\", \"chat_message\", \"chat_typing\" or \"chat_read\"");
	} else if (!json_is_array(topics) || json_array_size(topics) > 32) {
		send_error(a, ws, "topics: expected an array of up to 32 strings");
	} else {
		size_t n = json_array_size(topics), i;
		json_t *t;
		bool ok = true;
		json_array_foreach(topics, i, t) {
			if (!json_is_string(t) || json_string_length(t) < 1 || json_string_length(t) > 64)
				ok = false;
		}
		if (!ok) {
			send_error(a, ws, "topics: each topic is a string of 1 to 64 characters");
		} else {
			free_topics(ws);
			ws->topics = calloc(n + 1, sizeof(char *));
			for (i = 0; ws->topics && i < n; i++)
				ws->topics[i] = strdup(json_string_value(json_array_get(topics, i)));
			if (ws->topics && n)
				topics_link(a, ws);
			else
				topics_unlink(a, ws);
			send_control(a, ws, json_pack("{s:s, s:O}", "type", "subscribed", "topics", topics));
		}
	}
	json_decref(j);
}

int api_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, struct api_conn *conn,
		    void *in, size_t len)
{
	struct lws_context *ctx = lws_get_context(wsi);
	struct api *a = ctx ? lws_context_user(ctx) : NULL;
	struct api_ws *ws = conn ? conn->ws : NULL;

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED: {
		char uri[64] = "";
		lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);
		bool visitor = strcmp(uri, "/api/v1/chat/ws") == 0;
		if (!visitor && strcmp(uri, "/api/v1/events") != 0) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
					 (unsigned char *)"no such stream", 14);
			return -1;
		}
		struct api_principal who;
		memset(&who, 0, sizeof(who));
		if (!visitor && !api_auth_request(a, wsi, true, NULL, &who)) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION,
					 (unsigned char *)"unauthorized", 12);
			return -1;
		}
		ws = calloc(1, sizeof(*ws));
		if (!ws)
			return -1;
		ws->refs = 1;
		ws->wsi = wsi;
		ws->who = who;
		conn->ws = ws;
		a->m.ws_connections++;
		if (visitor) {
			/* widget visitors: no hello, no topics, not a subscriber */
			ws->visitor = true;
			ws->hello_sent = true;
			api_chat_visitor_open(a, ws);
			return 0;
		}
		ws->next = a->subscribers;
		if (a->subscribers)
			a->subscribers->prev = ws;
		a->subscribers = ws;
		if (!a->by_user)
			a->by_user = calloc(API_USER_BUCKETS, sizeof(*a->by_user));
		if (a->by_user) {
			struct api_ws **b = &a->by_user[user_bucket(who.user_id)];
			ws->unext = *b;
			if (*b)
				(*b)->uprev = ws;
			*b = ws;
		}
		lws_callback_on_writable(wsi);
		return 0;
	}
	case LWS_CALLBACK_RECEIVE:
		if (!ws)
			return -1;
		if (!ws->rx && !(ws->rx = malloc(API_WS_RX_MAX)))
			return -1;
		if (ws->rx_len + len > API_WS_RX_MAX) {
			lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
					 (unsigned char *)"message too large", 17);
			return -1;
		}
		memcpy(ws->rx + ws->rx_len, in, len);
		ws->rx_len += len;
		if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
			on_message(a, ws);
			ws->rx_len = 0;
			free(ws->rx); /* idle subscribers hold no buffers */
			ws->rx = NULL;
		}
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE: {
		if (!ws)
			return 0;
		if (ws->closing) {
			lws_close_reason(wsi, (enum lws_close_status)API_WS_CLOSE_SLOW,
					 (unsigned char *)"slow consumer", 13);
			return -1;
		}
		if (!ws->hello_sent) {
			struct api_evmsg *m = evmsg_from_json(
				json_pack("{s:s, s:{s:I, s:s, s:s}}", "type", "hello", "user", "id",
					  (json_int_t)ws->who.user_id, "username", ws->who.username,
					  "role", api_role_name(ws->who.role)),
				"hello");
			ws->hello_sent = true;
			if (m) {
				int w = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
				api_evmsg_unref(m);
				if (w < 0)
					return -1;
			}
			if (ws->count)
				lws_callback_on_writable(wsi);
			return 0;
		}
		if (!ws->count)
			return 0;
		struct api_evmsg *m = ws->ring[ws->head];
		ws->head = (ws->head + 1) % API_WS_MAX_EVENTS;
		ws->count--;
		ws->bytes -= m->len;
		int w = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
		api_evmsg_unref(m);
		if (w < 0)
			return -1;
		a->m.ws_events_sent++;
		if (ws->count)
			lws_callback_on_writable(wsi);
		else {
			free(ws->ring); /* idle subscribers hold no queue */
			ws->ring = NULL;
			ws->head = 0;
		}
		return 0;
	}
	case LWS_CALLBACK_CLOSED:
		if (!ws)
			return 0;
		if (ws->visitor) {
			api_chat_visitor_closed(a, ws);
		} else {
			if (ws->prev)
				ws->prev->next = ws->next;
			else
				a->subscribers = ws->next;
			if (ws->next)
				ws->next->prev = ws->prev;
			if (ws->uprev)
				ws->uprev->unext = ws->unext;
			else if (a->by_user)
				a->by_user[user_bucket(ws->who.user_id)] = ws->unext;
			if (ws->unext)
				ws->unext->uprev = ws->uprev;
			topics_unlink(a, ws);
		}
		ring_clear(ws);
		free_topics(ws);
		free(ws->rx);
		ws->rx = NULL;
		ws->gone = true;
		ws->wsi = NULL;
		conn->ws = NULL;
		a->m.ws_connections--;
		api_ws_unref(ws); /* chat jobs in flight may hold it a little longer */
		return 0;
	default:
		return 0;
	}
}
