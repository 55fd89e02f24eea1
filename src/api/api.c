/*
 * api.c: the web thread. A libwebsockets context with one vhost serves
 *   /          static files from the web directory (LWSMPRO_FILE)
 *   /api, /healthz, /metrics   the "hl-api" protocol below (HTTP and WS)
 * One turn of the web thread's loop: lws_service() polls sockets and runs
 * the callbacks; LWS_CALLBACK_EVENT_WAIT_CANCELLED drains the inbox
 * (completed jobs, committed events, the stop request); a 250 ms timer
 * expires sessions and throttle entries and checks whether a stop finished.
 *
 * A request's path: LWS_CALLBACK_HTTP (headers) -> HTTP_BODY* ->
 * HTTP_BODY_COMPLETION -> dispatch() -> a handler that either answers at
 * once (api_respond) or suspends the request on a job (api_suspend) and is
 * resumed here by the inbox -> HTTP_WRITEABLE writes headers and body in
 * chunks -> the request is freed.
 */
#include "api/api_int.h"
#include "base/base.h"
#include "store/store.h"

#include <errno.h>
#include <ev.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MOD "api"
#define WRITE_CHUNK 32768

/* ---- requests ------------------------------------------------------- */

void api_req_free(struct api_req *req)
{
	struct api *a = req->api;
	if (req->ctx_free && req->ctx)
		req->ctx_free(req->ctx);
	lws_sul_cancel(&req->sul);
	free(req->body);
	free(req->resp);
	free(req);
	a->inflight--;
}

struct api_req *api_req_internal(struct api *a)
{
	struct api_req *req = calloc(1, sizeof(*req));
	if (!req)
		return NULL;
	req->api = a;
	req->internal = true;
	req->t0_us = base_mono_us();
	a->inflight++; /* a graceful stop waits for it like for any request */
	return req;
}

void api_add_header(struct api_req *req, const char *name, const char *value)
{
	size_t n = strlen(req->headers);
	snprintf(req->headers + n, sizeof(req->headers) - n, "%s: %s\r\n", name, value);
}

/* Takes ownership of body (malloc'd, LWS_PRE headroom NOT included: we
 * copy into a buffer with headroom). */
void api_respond(struct api_req *req, int status, const char *ctype, char *body, size_t len)
{
	if (req->responded) {
		free(body);
		return;
	}
	req->responded = true;
	req->status = status;
	req->ctype = ctype;
	req->resp = malloc(LWS_PRE + len + 1);
	if (req->resp && len)
		memcpy(req->resp + LWS_PRE, body, len);
	req->resp_len = req->resp ? len : 0;
	req->resp_off = 0;
	free(body);
	if (req->wsi)
		lws_callback_on_writable(req->wsi);
}

void api_respond_pre(struct api_req *req, int status, const char *ctype, char *buf, size_t len)
{
	if (req->responded) {
		free(buf);
		return;
	}
	req->responded = true;
	req->status = status;
	req->ctype = ctype;
	req->resp = buf;
	req->resp_len = buf ? len : 0;
	req->resp_off = 0;
	if (req->wsi)
		lws_callback_on_writable(req->wsi);
}

void api_respond_json(struct api_req *req, int status, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	api_respond(req, status, "application/json", s, s ? strlen(s) : 0);
}

static const char *status_title(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

void api_problem(struct api_req *req, int status, const char *detail, const char *field)
{
	json_t *j = json_pack("{s:s, s:s, s:i}", "type", "about:blank", "title", status_title(status),
			      "status", status);
	if (detail)
		json_object_set_new(j, "detail", json_string(detail));
	if (field && *field)
		json_object_set_new(j, "field", json_string(field));
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	api_respond(req, status, "application/problem+json", s, s ? strlen(s) : 0);
}

/* ---- the inbox (any thread -> web thread) ---------------------------- */

static void inbox_push(struct api *a, struct api_inbox_item *it)
{
	pthread_mutex_lock(&a->inbox_lock);
	if (a->inbox_tail)
		a->inbox_tail->next = it;
	else
		a->inbox_head = it;
	a->inbox_tail = it;
	pthread_cond_broadcast(&a->inbox_cond);
	pthread_mutex_unlock(&a->inbox_lock);
	if (a->ctx)
		lws_cancel_service(a->ctx);
}

void api_suspend(struct api_req *req, api_cont_h *cont)
{
	req->cont = cont;
	req->pending = true;
}

void api_resume(struct api_req *req)
{
	struct api_inbox_item *it = calloc(1, sizeof(*it));
	if (!it)
		abort(); /* cannot drop a completion without leaking the request */
	it->kind = INBOX_RESUME;
	it->req = req;
	inbox_push(req->api, it);
}

void api_store_done(int err, void *arg)
{
	struct api_req *req = arg;
	req->err = err;
	api_resume(req);
}

int api_submit(struct api_req *req, bool write, store_job_h *job, api_cont_h *cont)
{
	api_suspend(req, cont);
	int r = write ? store_write(req->api->o.store, job, api_store_done, req)
		      : store_read(req->api->o.store, job, api_store_done, req);
	if (r) {
		req->pending = false;
		api_problem(req, 503, "the store is not accepting work", NULL);
	}
	return r;
}

int api_work(struct api_req *req, base_work_h *fn, api_cont_h *cont)
{
	api_suspend(req, cont);
	int r = base_workq_push(req->api->o.workq, fn, req);
	if (r) {
		req->pending = false;
		api_problem(req, 503, "the server is shutting down", NULL);
	}
	return r;
}

static void inbox_drain(struct api *a)
{
	pthread_mutex_lock(&a->inbox_lock);
	struct api_inbox_item *it = a->inbox_head;
	a->inbox_head = a->inbox_tail = NULL;
	pthread_mutex_unlock(&a->inbox_lock);

	while (it) {
		struct api_inbox_item *next = it->next;
		switch (it->kind) {
		case INBOX_RESUME: {
			struct api_req *req = it->req;
			req->pending = false;
			if (!req->wsi && !req->internal)
				api_req_free(req); /* the client went away meanwhile */
			else if (req->cont)
				req->cont(req);
			break;
		}
		case INBOX_EVENTS:
			api_ws_deliver(a, it->evs, it->nevs);
			free(it->evs);
			break;
		case INBOX_STOP:
			a->stop_requested = 1;
			break;
		case INBOX_USER:
			api_ws_deliver_user(a, it->user_id, it->evs[0]);
			free(it->evs);
			break;
		case INBOX_CALL:
			it->fn(it->arg);
			break;
		}
		free(it);
		it = next;
	}
}

void api_publish_events(struct api *a, const struct store_event *evs, size_t n)
{
	if (!a || !n)
		return;
	struct api_inbox_item *it = calloc(1, sizeof(*it));
	struct api_evmsg **msgs = calloc(n, sizeof(*msgs));
	if (!it || !msgs) {
		free(it);
		free(msgs);
		return;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		msgs[k] = api_evmsg_from_event(&evs[i]);
		if (msgs[k]) {
			if (strcmp(evs[i].type, "chat.message") == 0)
				api_chat_prepare(msgs[k], &evs[i]);
			k++;
		}
	}
	it->kind = INBOX_EVENTS;
	it->evs = msgs;
	it->nevs = k;
	inbox_push(a, it);
}

void api_call(struct api *a, void (*fn)(void *arg), void *arg)
{
	struct api_inbox_item *it = calloc(1, sizeof(*it));
	if (!it)
		abort(); /* like api_resume: the caller's state would leak */
	it->kind = INBOX_CALL;
	it->fn = fn;
	it->arg = arg;
	inbox_push(a, it);
}

/* ---- the core's command path (api_core.h) ---------------------------- */

void api_set_core(struct api *a, api_cmd_post_h *h, void *arg)
{
	pthread_mutex_lock(&a->inbox_lock);
	a->core_h = h;
	a->core_arg = arg;
	pthread_mutex_unlock(&a->inbox_lock);
}

bool api_core_post(struct api_req *req, struct api_cmd *cmd, api_cont_h *cont)
{
	struct api *a = req->api;
	pthread_mutex_lock(&a->inbox_lock);
	api_cmd_post_h *h = a->core_h;
	void *arg = a->core_arg;
	pthread_mutex_unlock(&a->inbox_lock);
	cmd->req = req;
	api_suspend(req, cont);
	if (!h || h(cmd, arg)) {
		req->pending = false;
		api_add_header(req, "Retry-After", "5");
		api_problem(req, 503, "routing is not available (starting or stopping)", NULL);
		return false;
	}
	return true;
}

void api_cmd_done(struct api_cmd *cmd)
{
	api_resume(cmd->req);
}

void api_user_message(struct api *a, int64_t user_id, const char *json)
{
	if (!a || !json)
		return;
	struct api_inbox_item *it = calloc(1, sizeof(*it));
	struct api_evmsg **msgs = calloc(1, sizeof(*msgs));
	if (it && msgs)
		msgs[0] = api_evmsg_from_text(json, "user");
	if (!it || !msgs || !msgs[0]) {
		free(it);
		free(msgs);
		return;
	}
	it->kind = INBOX_USER;
	it->evs = msgs;
	it->nevs = 1;
	it->user_id = user_id;
	inbox_push(a, it);
}

/* ---- query strings and bodies --------------------------------------- */

int api_query_get(const struct api_req *req, const char *name, char *buf, size_t size)
{
	size_t nl = strlen(name);
	const char *p = req->query;
	while (*p) {
		const char *amp = strchr(p, '&');
		size_t seg = amp ? (size_t)(amp - p) : strlen(p);
		if (seg > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
			/* undo on_http's escapes: %26 is '&', %25 is '%' */
			const char *v = p + nl + 1, *end = p + seg;
			size_t k = 0;
			while (v < end) {
				char ch = *v++;
				if (ch == '%' && end - v >= 2 && v[0] == '2' && (v[1] == '6' || v[1] == '5')) {
					ch = v[1] == '6' ? '&' : '%';
					v += 2;
				}
				if (k + 1 >= size)
					return -E2BIG;
				buf[k++] = ch;
			}
			buf[k] = '\0';
			return 0;
		}
		p += seg;
		if (*p == '&')
			p++;
	}
	return -ENOENT;
}

int api_query_int(const struct api_req *req, const char *name, int64_t def, int64_t min,
		  int64_t max, int64_t *out)
{
	char buf[32], *end;
	int r = api_query_get(req, name, buf, sizeof(buf));
	if (r == -ENOENT) {
		*out = def;
		return 0;
	}
	if (r)
		return r;
	errno = 0;
	long long v = strtoll(buf, &end, 10);
	if (errno || end == buf || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static bool content_type_is_json(struct lws *wsi)
{
	char ct[128] = "";
	if (lws_hdr_copy(wsi, ct, sizeof(ct), WSI_TOKEN_HTTP_CONTENT_TYPE) <= 0)
		return false;
	for (char *c = ct; *c; c++)
		*c = (char)((*c >= 'A' && *c <= 'Z') ? *c + 32 : *c);
	return strncmp(ct, "application/json", 16) == 0 &&
	       (ct[16] == '\0' || ct[16] == ';' || ct[16] == ' ');
}

json_t *api_parse_body(struct api_req *req)
{
	if (!req->body_len) {
		api_problem(req, 400, "expected a JSON body", NULL);
		return NULL;
	}
	json_error_t e;
	json_t *j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
	if (!j) {
		char detail[320];
		/* jansson reports invalid UTF-8 as such; say so plainly. */
		if (strstr(e.text, "UTF-8") || strstr(e.text, "unable to decode byte"))
			snprintf(detail, sizeof(detail), "invalid UTF-8 at line %d, column %d: %s",
				 e.line, e.column, e.text);
		else
			snprintf(detail, sizeof(detail), "malformed JSON at line %d, column %d: %s",
				 e.line, e.column, e.text);
		api_problem(req, 400, detail, NULL);
		return NULL;
	}
	return j;
}

/* ---- dispatch ------------------------------------------------------- */

static void handle_healthz(struct api_req *req)
{
	api_respond_json(req, 200, json_pack("{s:s, s:s}", "status", "ok", "store",
					     store_backend(req->api->o.store)));
}

static void handle_openapi(struct api_req *req)
{
	struct api *a = req->api;
	char *copy = malloc(a->openapi_len);
	if (copy)
		memcpy(copy, a->openapi, a->openapi_len);
	api_respond(req, 200, "application/json", copy, copy ? a->openapi_len : 0);
}

static bool is_unsafe(int method)
{
	return method == LWSHUMETH_POST || method == LWSHUMETH_PUT ||
	       method == LWSHUMETH_PATCH || method == LWSHUMETH_DELETE;
}

static bool csrf_ok(struct api_req *req)
{
	char got[64] = "";
	int n = lws_hdr_custom_copy(req->wsi, got, sizeof(got), "x-csrf-token:", 13);
	size_t want = strlen(req->who.csrf);
	return n > 0 && (size_t)n == want && want > 0 &&
	       sodium_memcmp(got, req->who.csrf, want) == 0;
}

static void method_not_allowed(struct api_req *req, const char *allow)
{
	api_add_header(req, "Allow", allow);
	api_problem(req, 405, "method not allowed here", NULL);
}

static void dispatch(struct api_req *req)
{
	struct api *a = req->api;
	/* lws may report BODY_COMPLETION even for a request that had no body
	 * and was dispatched from LWS_CALLBACK_HTTP: route each one once. */
	if (req->dispatched)
		return;
	req->dispatched = true;
	const char *p = req->path;
	int m = req->method;

	if (a->stop_requested) {
		api_add_header(req, "Retry-After", "5");
		api_problem(req, 503, "the server is shutting down", NULL);
		return;
	}
	if (strcmp(p, "/healthz") == 0)
		return m == LWSHUMETH_GET ? handle_healthz(req) : method_not_allowed(req, "GET");
	if (strcmp(p, "/metrics") == 0)
		return m == LWSHUMETH_GET ? api_handle_metrics(req) : method_not_allowed(req, "GET");
	if (strncmp(p, "/api/v1/", 8) != 0)
		return api_problem(req, 404, "no such endpoint", NULL);
	p += 8;
	if (strcmp(p, "openapi.json") == 0)
		return m == LWSHUMETH_GET ? handle_openapi(req) : method_not_allowed(req, "GET");
	if (strcmp(p, "auth/login") == 0)
		return m == LWSHUMETH_POST ? api_handle_login(req) : method_not_allowed(req, "POST");
	if (strncmp(p, "chat/", 5) == 0)
		return api_handle_chat_public(req, p + 5); /* the widget: no login */

	if (!api_auth_request(a, req->wsi, false, NULL, &req->who)) {
		api_add_header(req, "WWW-Authenticate", "Bearer");
		return api_problem(req, 401, "log in first (cookie hl_session or Authorization: Bearer)", NULL);
	}
	if (req->who.via_cookie && is_unsafe(m) && !csrf_ok(req))
		return api_problem(req, 403, "missing or wrong X-CSRF-Token header", NULL);

	if (strcmp(p, "auth/logout") == 0)
		return m == LWSHUMETH_POST ? api_handle_logout(req) : method_not_allowed(req, "POST");
	if (strcmp(p, "auth/me") == 0)
		return m == LWSHUMETH_GET ? api_handle_me(req) : method_not_allowed(req, "GET");
	if (strcmp(p, "events") == 0)
		return m == LWSHUMETH_GET ? api_handle_events_list(req) : method_not_allowed(req, "GET");
	if (strcmp(p, "wfm/erlang") == 0)
		return api_handle_wfm_erlang(req);
	if (strcmp(p, "wfm/simulate") == 0)
		return api_handle_wfm_simulate(req);
	/* wfm from the event log (api_wfm_data.c, api_wfm_sched.c) */
	if (strcmp(p, "wfm/forecast") == 0)
		return api_handle_wfm_forecast(req);
	if (strcmp(p, "wfm/staffing") == 0)
		return api_handle_wfm_staffing(req);
	if (strcmp(p, "wfm/adherence") == 0)
		return api_handle_wfm_adherence(req);
	if (strcmp(p, "wfm/schedule") == 0)
		return api_handle_wfm_schedule(req);
	if (strncmp(p, "wfm/schedules", 13) == 0 && (!p[13] || p[13] == '/'))
		return api_handle_wfm_schedules(req, p + 13);
	if (strcmp(p, "tokens") == 0)
		return api_handle_tokens(req, NULL);
	if (strncmp(p, "tokens/", 7) == 0 && p[7])
		return api_handle_tokens(req, p + 7);
	if (strcmp(p, "chats") == 0 || strncmp(p, "chats/", 6) == 0)
		return api_handle_chats(req, p);
	if (strncmp(p, "customers/", 10) == 0 && strstr(p + 10, "/interactions")) {
		char *end;
		long long cid = strtoll(p + 10, &end, 10);
		if (cid < 1 || strcmp(end, "/interactions") != 0)
			return api_problem(req, 404, "no such endpoint", NULL);
		return m == LWSHUMETH_GET ? api_handle_customer_interactions(req, cid)
					  : method_not_allowed(req, "GET");
	}
	if (strcmp(p, "tasks") == 0 || strncmp(p, "tasks/", 6) == 0)
		return api_handle_tasks(req, p);
	if (strcmp(p, "queue-status") == 0 || strcmp(p, "live") == 0)
		return api_handle_tasks(req, p); /* answered by the core */
	if (strncmp(p, "offers/", 7) == 0)
		return api_handle_offers(req, p);
	if (strcmp(p, "calls") == 0 || strncmp(p, "calls/", 6) == 0)
		return api_handle_calls(req, p + 5);
	if (strcmp(p, "recordings") == 0 || strncmp(p, "recordings/", 11) == 0)
		return api_handle_recordings(req, p + 10);
	if (strncmp(p, "agents/", 7) == 0 && strchr(p + 7, '/'))
		return api_handle_agent_state(req, p);
	if (strncmp(p, "users/", 6) == 0 && strchr(p + 6, '/'))
		return api_handle_sip_password(req, p + 6); /* users/{id}/sip_password */

	char name[32];
	const char *slash = strchr(p, '/');
	size_t nl = slash ? (size_t)(slash - p) : strlen(p);
	if (nl == 0 || nl >= sizeof(name))
		return api_problem(req, 404, "no such endpoint", NULL);
	memcpy(name, p, nl);
	name[nl] = '\0';
	const struct api_resource *res = schema_resource(name);
	if (!res)
		return api_problem(req, 404, "no such endpoint", NULL);
	const char *id = slash ? slash + 1 : NULL;
	if (id && (!*id || strchr(id, '/')))
		return api_problem(req, 404, "no such endpoint", NULL);
	api_handle_resource(req, res, id);
}

/* ---- the lws protocol callback ---------------------------------------- */

static struct api_req *req_new(struct api *a, struct lws *wsi)
{
	struct api_req *req = calloc(1, sizeof(*req));
	if (!req)
		return NULL;
	req->api = a;
	req->wsi = wsi;
	req->t0_us = base_mono_us();
	a->inflight++;
	return req;
}

static int write_response(struct api *a, struct lws *wsi, struct api_req *req)
{
	if (!req->headers_sent) {
		unsigned char hbuf[LWS_PRE + 2048];
		unsigned char *start = hbuf + LWS_PRE, *p = start, *end = hbuf + sizeof(hbuf) - 1;
		if (lws_add_http_common_headers(wsi, (unsigned)req->status, req->ctype,
						req->resp_len, &p, end))
			return -1;
		if (strncmp(req->path, "/api/", 5) == 0 &&
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
						(const unsigned char *)"no-store", 8, &p, end))
			return -1;
		/* nosniff, CSP and frame headers come from lws's security option */
		/* extra headers "Name: value\r\n" */
		char *h = req->headers;
		while (*h) {
			char *colon = strstr(h, ": "), *eol = strstr(h, "\r\n");
			if (!colon || !eol)
				break;
			char hname[64];
			size_t hl = (size_t)(colon - h);
			if (hl + 2 > sizeof(hname))
				break;
			for (size_t i = 0; i < hl; i++)
				hname[i] = (char)((h[i] >= 'A' && h[i] <= 'Z') ? h[i] + 32 : h[i]);
			hname[hl] = ':';
			hname[hl + 1] = '\0';
			if (lws_add_http_header_by_name(wsi, (unsigned char *)hname,
							(unsigned char *)colon + 2,
							(int)(eol - colon - 2), &p, end))
				return -1;
			h = eol + 2;
		}
		if (lws_finalize_write_http_header(wsi, start, &p, end))
			return -1;
		req->headers_sent = true;
		if (req->resp_len) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	} else {
		size_t left = req->resp_len - req->resp_off;
		size_t n = left > WRITE_CHUNK ? WRITE_CHUNK : left;
		bool last = n == left;
		if (lws_write(wsi, (unsigned char *)req->resp + LWS_PRE + req->resp_off, n,
			      last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) != (int)n)
			return -1;
		req->resp_off += n;
		if (!last) {
			lws_callback_on_writable(wsi);
			return 0;
		}
	}
	/* Whole response written. */
	api_metrics_observe(a, req->status, base_mono_us() - req->t0_us);
	bool close_after = req->close_after;
	struct api_conn *conn = lws_wsi_user(wsi);
	if (conn)
		conn->req = NULL;
	api_req_free(req);
	if (close_after)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* Refuse a request whose headers already decide the answer, but only once
 * its body has been read (up to API_MAX_DISCARD); then close. */
static void refuse(struct api_req *req, int status, const char *detail)
{
	req->refuse_status = status;
	req->refuse_detail = detail;
	req->close_after = true;
}

static int on_http(struct api *a, struct lws *wsi, struct api_conn *conn)
{
	char *uri;
	int ulen;
	int method = lws_http_get_uri_and_method(wsi, &uri, &ulen);
	struct api_req *req = req_new(a, wsi);
	if (!req)
		return -1;
	conn->req = req;
	req->method = method;
	if (ulen < 0)
		ulen = 0;
	if ((size_t)ulen >= sizeof(req->path))
		ulen = (int)sizeof(req->path) - 1;
	memcpy(req->path, uri, (size_t)ulen);
	req->path[ulen] = '\0';
	lws_get_peer_simple(wsi, req->peer, sizeof(req->peer));

	/* URL arguments arrive as decoded fragments "name=value"; keep them as
	 * one "&"-joined string (values containing '&' are re-escaped). */
	size_t qn = 0;
	for (int i = 0;; i++) {
		char frag[512];
		int n = lws_hdr_copy_fragment(wsi, frag, sizeof(frag), WSI_TOKEN_HTTP_URI_ARGS, i);
		if (n <= 0)
			break;
		for (int k = 0; k < n && qn + 4 < sizeof(req->query); k++) {
			if (frag[k] == '&' || frag[k] == '%') {
				memcpy(req->query + qn, frag[k] == '&' ? "%26" : "%25", 3);
				qn += 3;
				continue;
			}
			req->query[qn++] = frag[k];
		}
		if (qn + 1 < sizeof(req->query))
			req->query[qn++] = '&';
	}
	if (qn && req->query[qn - 1] == '&')
		qn--;
	req->query[qn] = '\0';

	/* lws 4.1 reads bodies for POST and PUT only; any other method is
	 * answered at once, and if it claims a body the connection is closed
	 * after the answer rather than parsing that body as a request. */
	if (method != LWSHUMETH_POST && method != LWSHUMETH_PUT &&
	    (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 ||
	     lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0))
		req->close_after = true;
	if (method == LWSHUMETH_POST || method == LWSHUMETH_PUT) {
		char cl[32] = "";
		unsigned long long clen = 0;
		if (lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
			clen = strtoull(cl, NULL, 10);
		bool upload = api_chat_is_upload(req->path);
		req->max_body = upload ? API_MAX_UPLOAD : API_MAX_BODY;
		if (clen > req->max_body) {
			/* Answered once the body is drained (on_body), so the
			 * client is not reset mid-send and reads the 413. */
			refuse(req, 413, upload ? "the file is larger than 10 MiB"
						: "the body is larger than 1 MiB");
			return 0;
		}
		/* lws 4.1 never completes a chunked request body: ask for a
		 * Content-Length instead of letting the request hang. */
		if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
			req->close_after = true; /* close after answering */
			api_problem(req, 411, "chunked request bodies are not supported; send Content-Length",
				    NULL);
			return 0;
		}
		bool has_body = clen > 0;
		if (has_body && !upload && !content_type_is_json(wsi) &&
		    strcmp(req->path, "/api/v1/auth/logout") != 0) {
			refuse(req, 415, "expected Content-Type: application/json");
			return 0;
		}
		/* With a Content-Length (even 0) or chunked body, lws ends with
		 * HTTP_BODY_COMPLETION and we answer then. Without either, lws
		 * would read the rest of the connection as the body and the next
		 * request would stall: refuse with 411 and close. */
		if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 || has_body)
			return 0;
		req->close_after = true; /* close after answering */
		api_problem(req, 411, "a Content-Length header is required (0 for no body)", NULL);
		return 0;
	}
	dispatch(req);
	return 0;
}

static int on_body(struct lws *wsi, struct api_req *req, const void *in, size_t len)
{
	if (req->responded || !len || !in)
		return 0;
	size_t max = req->max_body ? req->max_body : API_MAX_BODY;
	if (!req->refuse_status && req->body_len + len > max)
		refuse(req, 413, max > API_MAX_BODY ? "the file is larger than 10 MiB"
						    : "the body is larger than 1 MiB");
	if (req->refuse_status) {
		/* Drain what the client sends (closing on unread data would reset
		 * the connection before it reads our answer), up to a cap so a
		 * huge upload cannot keep us reading. */
		req->discarded += len;
		if (req->discarded > API_MAX_DISCARD)
			api_problem(req, req->refuse_status, req->refuse_detail, NULL);
		return 0;
	}
	if (req->body_len + len + 1 > req->body_cap) {
		size_t cap = req->body_cap ? req->body_cap * 2 : 4096;
		while (cap < req->body_len + len + 1)
			cap *= 2;
		char *nb = realloc(req->body, cap);
		if (!nb)
			return -1;
		req->body = nb;
		req->body_cap = cap;
	}
	memcpy(req->body + req->body_len, in, len);
	req->body_len += len;
	req->body[req->body_len] = '\0';
	return 0;
}

static int callback_api(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			size_t len)
{
	struct lws_context *ctx = lws_get_context(wsi);
	struct api *a = ctx ? lws_context_user(ctx) : NULL;
	struct api_conn *conn = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		if (!conn)
			return -1;
		return on_http(a, wsi, conn);
	case LWS_CALLBACK_HTTP_BODY:
		if (conn && conn->req)
			return on_body(wsi, conn->req, in, len);
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (conn && conn->req && !conn->req->responded) {
			if (conn->req->refuse_status)
				api_problem(conn->req, conn->req->refuse_status, conn->req->refuse_detail, NULL);
			else
				dispatch(conn->req);
		}
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (conn && conn->req && conn->req->responded)
			return write_response(a, wsi, conn->req);
		return 0;
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (conn && conn->req) {
			struct api_req *req = conn->req;
			conn->req = NULL;
			req->wsi = NULL;
			if (!req->pending)
				api_req_free(req);
		}
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		if (a)
			inbox_drain(a);
		return 0;
	case LWS_CALLBACK_ESTABLISHED:
	case LWS_CALLBACK_RECEIVE:
	case LWS_CALLBACK_SERVER_WRITEABLE:
	case LWS_CALLBACK_CLOSED:
		return api_ws_callback(wsi, reason, conn, in, len);
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* ---- the thread ----------------------------------------------------- */

/* hl-api is protocols[0]: lws binds WebSocket upgrades that name no
 * subprotocol (a browser's plain `new WebSocket(url)`) and unmatched HTTP
 * to protocols[0]. Reasons it does not handle go on to lws's dummy HTTP
 * handler, which is what keeps static-file keep-alive working. (Marking a
 * later protocol "default" with a vhost option broke that keep-alive.)
 * The 1 KiB receive buffer bounds client control messages and keeps an
 * idle WebSocket small. */
static struct lws_protocols protocols[] = {
	{"hl-api", callback_api, sizeof(struct api_conn), 1024, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Text files say their charset: the widget's script is loaded into other
 * sites' pages, whose own encoding would otherwise apply. */
static const struct lws_protocol_vhost_options sec_headers[] = {
	{&sec_headers[1], NULL, "content-security-policy:",
	 "default-src 'none'; img-src 'self' data: ; media-src 'self'; script-src 'self'; "
	 "font-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; frame-ancestors 'none'; "
	 "base-uri 'none';form-action 'self';"},
	{&sec_headers[2], NULL, "x-content-type-options:", "nosniff"},
	{&sec_headers[3], NULL, "x-xss-protection:", "1; mode=block"},
	{&sec_headers[4], NULL, "x-frame-options:", "deny"},
	{NULL, NULL, "referrer-policy:", "no-referrer"},
};
static const struct lws_protocol_vhost_options mime_css = {
	NULL, NULL, ".css", "text/css; charset=utf-8"};
static const struct lws_protocol_vhost_options mime_js = {
	&mime_css, NULL, ".js", "text/javascript; charset=utf-8"};
static const struct lws_protocol_vhost_options mime_mjs = {
	&mime_js, NULL, ".mjs", "text/javascript; charset=utf-8"};

static void housekeeping(struct lws_sorted_usec_list *sul);
static struct api *housekeeping_api; /* one api per process */
static struct lws_sorted_usec_list housekeeping_sul;

static void housekeeping(struct lws_sorted_usec_list *sul)
{
	struct api *a = housekeeping_api;
	if (!a)
		return;
	api_auth_housekeeping(a);
	lws_sul_schedule(a->ctx, 0, sul, housekeeping, 250 * LWS_US_PER_MS);
}

static void *api_thread(void *arg)
{
	struct api *a = arg;
	pthread_setname_np(pthread_self(), "hl-web");
	for (;;) {
		/* one turn of the libev loop lws runs on (api_start) */
		ev_run(a->loop, EVRUN_ONCE);
		if (a->stop_requested) {
			if (!a->drain_deadline_us)
				a->drain_deadline_us = base_mono_us() + a->drain_ms * 1000LL;
			if (a->inflight == 0 || base_mono_us() > a->drain_deadline_us)
				break;
		}
	}
	lws_sul_cancel(&housekeeping_sul);
	/* Closing every connection orphans the requests still held by jobs. */
	lws_context_destroy(a->ctx);
	a->ctx = NULL;
	ev_loop_destroy(a->loop); /* ours (foreign to lws): lws has let go of it */
	a->loop = NULL;
	/* Wait for those jobs (store writes always complete) so that nothing
	 * posts into a freed api; 10 s at most. */
	int64_t until = base_mono_us() + 10 * 1000000LL;
	for (;;) {
		inbox_drain(a);
		if (a->inflight == 0 || base_mono_us() > until)
			break;
		pthread_mutex_lock(&a->inbox_lock);
		if (!a->inbox_head) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&a->inbox_cond, &a->inbox_lock, &ts);
		}
		pthread_mutex_unlock(&a->inbox_lock);
	}
	return NULL;
}

static void lws_log_bridge(int level, const char *line)
{
	size_t n = strlen(line);
	char buf[512];
	snprintf(buf, sizeof(buf), "%.*s", (int)(n && line[n - 1] == '\n' ? n - 1 : n), line);
	base_log(level & LLL_ERR ? BASE_LOG_ERROR : BASE_LOG_WARN, "lws", NULL, "%s", buf);
}

int api_start(struct api **ap, const struct api_opts *opts)
{
	struct api *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->o = *opts;
	if (!a->o.session_ttl_s)
		a->o.session_ttl_s = 12 * 3600;
	if (!a->o.max_connections)
		a->o.max_connections = 16384;
	a->drain_ms = 3000;
	pthread_mutex_init(&a->inbox_lock, NULL);
	pthread_cond_init(&a->inbox_cond, NULL);
	snprintf(a->web_dir, sizeof(a->web_dir), "%s", opts->web_dir ? opts->web_dir : "web");

	json_t *doc = schema_openapi();
	a->openapi = json_dumps(doc, JSON_COMPACT);
	a->openapi_len = a->openapi ? strlen(a->openapi) : 0;
	json_decref(doc);

	int r = api_auth_init(a);
	if (!r && (r = api_chat_init(a)))
		api_auth_free(a);
	if (r) {
		free(a->openapi);
		free(a);
		return r;
	}

	/* Mounts: callbacks first (most specific), then static files. */
	static const char *const cb_points[] = {"/api", "/healthz", "/metrics"};
	for (int i = 0; i < 3; i++) {
		struct lws_http_mount *m = &a->mounts[i];
		m->mountpoint = cb_points[i];
		m->mountpoint_len = (unsigned char)strlen(cb_points[i]);
		m->origin = "hl-api";
		m->origin_protocol = LWSMPRO_CALLBACK;
		m->mount_next = &a->mounts[i + 1];
	}
	struct lws_http_mount *fm = &a->mounts[3];
	fm->mountpoint = "/";
	fm->mountpoint_len = 1;
	fm->origin = a->web_dir;
	fm->def = "index.html";
	fm->origin_protocol = LWSMPRO_FILE;
	fm->extra_mimetypes = &mime_mjs;
	fm->cache_max_age = 0;
	fm->mount_next = NULL;

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_bridge);

	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = opts->port ? opts->port : CONTEXT_PORT_NO_LISTEN_SERVER;
	if (!opts->port)
		info.port = 0;
	info.iface = (opts->bind && *opts->bind) ? opts->bind : NULL;
	info.protocols = protocols;
	info.mounts = &a->mounts[0];
	info.user = a;
	/* The headers of lws's "security best practices" option, but our own
	 * list (on every response, files and API alike), because the UI's
	 * <audio> player of call recordings needs media-src 'self', which the
	 * option's fixed policy (default-src 'none') does not allow. */
	info.headers = &sec_headers[0];
	info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
	info.max_http_header_data = 8192;
	/* lws 4.1 looks sockets up directly only when this covers every
	 * descriptor the process may have; below the file limit it searches
	 * its table on every event (18% of the web thread at 15,000 chat
	 * sessions). So: the open-file limit, which main raised to the hard
	 * limit, and never less than max_connections. */
	struct rlimit rl;
	rlim_t fdl = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 0;
	if (fdl == RLIM_INFINITY || fdl > 1000000)
		fdl = 1000000;
	if (fdl < (rlim_t)a->o.max_connections + 64)
		fdl = (rlim_t)a->o.max_connections + 64;
	info.fd_limit_per_thread = (unsigned)fdl;
	/* libwebsockets on a libev (epoll) loop of our own: lws's default poll
	 * loop re-checks every socket on each wake-up, a cost that grows with
	 * the number of connections (bench/chat: p99 0.6 s at 15,000 widget
	 * sessions). The loop is ours (foreign) so the web thread keeps its
	 * one-turn-at-a-time loop with the drain checks between turns. */
	a->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOENV);
	if (!a->loop) {
		LOG_ERROR(MOD, "cannot create the web thread's event loop");
		api_chat_free(a);
		api_auth_free(a);
		free(a->openapi);
		free(a);
		return -ENOMEM;
	}
	void *foreign[1] = {a->loop};
	info.foreign_loops = foreign;
	info.options |= LWS_SERVER_OPTION_LIBEV;
	info.timeout_secs = 30;
	info.keepalive_timeout = 30;
	info.vhost_name = "hotline";

	a->ctx = lws_create_context(&info);
	if (!a->ctx) {
		LOG_ERROR(MOD, "could not start the HTTP server on port %d", opts->port);
		ev_loop_destroy(a->loop);
		api_chat_free(a);
		api_auth_free(a);
		free(a->openapi);
		free(a);
		return -EADDRINUSE;
	}
	struct lws_vhost *vh = lws_get_vhost_by_name(a->ctx, "hotline");
	a->port = vh ? lws_get_vhost_listen_port(vh) : opts->port;

	housekeeping_api = a;
	lws_sul_schedule(a->ctx, 0, &housekeeping_sul, housekeeping, 250 * LWS_US_PER_MS);
	api_chat_arm_all(a);

	r = pthread_create(&a->thread, NULL, api_thread, a);
	if (r) {
		lws_context_destroy(a->ctx);
		ev_loop_destroy(a->loop);
		api_chat_free(a);
		api_auth_free(a);
		free(a->openapi);
		free(a);
		return -r;
	}
	LOG_INFO(MOD, "listening on %s:%d, UI from %s", info.iface ? info.iface : "*", a->port,
		 a->web_dir);
	*ap = a;
	return 0;
}

int api_port(const struct api *a)
{
	return a->port;
}

void api_stop(struct api *a, int drain_ms)
{
	if (!a)
		return;
	a->drain_ms = drain_ms;
	struct api_inbox_item *it = calloc(1, sizeof(*it));
	if (it) {
		it->kind = INBOX_STOP;
		inbox_push(a, it);
	} else {
		a->stop_requested = 1;
		lws_cancel_service(a->ctx);
	}
	pthread_join(a->thread, NULL);
	housekeeping_api = NULL;
	api_chat_free(a);
	free(a->by_user);
	api_auth_free(a);
	free(a->openapi);
	pthread_mutex_destroy(&a->inbox_lock);
	pthread_cond_destroy(&a->inbox_cond);
	free(a);
}
