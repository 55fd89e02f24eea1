/*
 * api_tasks.c: the routing endpoints on the web thread.
 *
 *   POST /api/v1/tasks                      create (admin, supervisor)
 *   GET  /api/v1/tasks/{id}                 state, position, estimated wait
 *   POST /api/v1/tasks/{id}/cancel|complete|wrapup
 *   POST /api/v1/tasks/{id}/abandon         the customer left (admin, supervisor)
 *   GET|PUT /api/v1/agents/{id}/state       requested state of an agent
 *   POST /api/v1/offers/{id}/accept|reject  {"version": N}
 *   GET  /api/v1/queue-status?queue=ID      open by business hours, agents,
 *                                           waiting (any logged-in user)
 *   GET  /api/v1/live                       the supervisor's live figures
 *
 * This file only routes, checks roles that need no domain state and
 * validates bodies; the work happens on the core thread, which owns the
 * routing engine (api_core.h). Checks that need domain state (is this the
 * caller's own agent or offer, is the task in a state that allows this)
 * are made there.
 */
#include "api/api_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void cmd_free(void *p)
{
	struct api_cmd *c = p;
	json_decref(c->body);
	free(c->resp);
	free(c);
}

static void cmd_done(struct api_req *req)
{
	struct api_cmd *c = req->ctx;
	if (c->status >= 400 || !c->status) {
		api_problem(req, c->status ? c->status : 500,
			    c->detail[0] ? c->detail : "routing failed", c->field);
		return;
	}
	char *b = c->resp;
	c->resp = NULL;
	api_respond(req, c->status, "application/json", b, b ? strlen(b) : 0);
}

bool api_parse_id(const char *s, size_t n, int64_t *out)
{
	char buf[24];
	if (!n || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	char *end;
	errno = 0;
	long long v = strtoll(buf, &end, 10);
	if (errno || end == buf || *end || v < 1 || v > 9007199254740991LL) /* 2^53 - 1: exact in JSON */
		return false;
	*out = v;
	return true;
}

static bool privileged(const struct api_req *req)
{
	return (req->who.role & (ROLE_ADMIN | ROLE_SUPERVISOR)) != 0;
}

static void invalid(struct api_req *req, const char *field, const char *detail)
{
	char d[256];
	snprintf(d, sizeof(d), "%s: %s", field, detail);
	api_problem(req, 422, d, field);
}

/* Only the listed keys may appear; NULL after answering 422. */
static bool only_keys(struct api_req *req, json_t *o, const char *const *keys)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		bool ok = false;
		for (const char *const *x = keys; *x; x++)
			if (strcmp(*x, k) == 0)
				ok = true;
		if (!ok) {
			invalid(req, k, "unknown field");
			return false;
		}
	}
	return true;
}

static bool opt_string(struct api_req *req, json_t *o, const char *key, size_t min, size_t max,
		       bool nullable)
{
	json_t *v = json_object_get(o, key);
	if (!v || (nullable && json_is_null(v)))
		return true;
	if (!json_is_string(v)) {
		invalid(req, key, nullable ? "expected a string or null" : "expected a string");
		return false;
	}
	size_t n = schema_utf8_len(json_string_value(v));
	if (strlen(json_string_value(v)) != json_string_length(v) || n < min || n > max) {
		char d[96];
		snprintf(d, sizeof(d), "expected a string of %zu to %zu characters", min, max);
		invalid(req, key, d);
		return false;
	}
	return true;
}

static bool opt_int(struct api_req *req, json_t *o, const char *key, int64_t min, int64_t max,
		    bool required, bool nullable)
{
	json_t *v = json_object_get(o, key);
	if (!v) {
		if (required)
			invalid(req, key, "required field is missing");
		return !required;
	}
	if (nullable && json_is_null(v))
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		char d[96];
		snprintf(d, sizeof(d), "expected an integer from %lld to %lld", (long long)min,
			 (long long)max);
		invalid(req, key, d);
		return false;
	}
	return true;
}

/* A body that must be a JSON object; an empty body gives {} when allowed. */
static json_t *object_body(struct api_req *req, bool allow_empty)
{
	if (!req->body_len && allow_empty)
		return json_object();
	json_t *j = api_parse_body(req);
	if (j && !json_is_object(j)) {
		json_decref(j);
		api_problem(req, 422, "the body must be a JSON object", NULL);
		return NULL;
	}
	return j;
}

static bool valid_task(struct api_req *req, json_t *b)
{
	static const char *const keys[] = {"channel", "queue_id", "priority", "skills", "language",
					   "customer_id", "attributes", NULL};
	static const char *const channels[] = {"voice", "chat", "email", "messaging", NULL};
	if (!only_keys(req, b, keys))
		return false;
	json_t *ch = json_object_get(b, "channel");
	if (ch) {
		bool ok = false;
		for (const char *const *c = channels; json_is_string(ch) && *c; c++)
			if (strcmp(*c, json_string_value(ch)) == 0)
				ok = true;
		if (!ok) {
			invalid(req, "channel", "expected one of: voice, chat, email, messaging");
			return false;
		}
	}
	if (!opt_int(req, b, "queue_id", 1, 0xFFFFFFFFLL, true, false) ||
	    !opt_int(req, b, "priority", 0, 1000, false, false) ||
	    !opt_int(req, b, "customer_id", 1, INT64_MAX, false, true) ||
	    !opt_string(req, b, "language", 2, 16, true))
		return false;
	json_t *sk = json_object_get(b, "skills");
	if (sk) {
		if (!json_is_array(sk) || json_array_size(sk) > 8) {
			invalid(req, "skills", "expected an array of up to 8 items");
			return false;
		}
		size_t i;
		json_t *it;
		json_array_foreach(sk, i, it) {
			char path[48];
			snprintf(path, sizeof(path), "skills[%zu]", i);
			json_t *id = json_object_get(it, "skill_id"), *lv = json_object_get(it, "min_level");
			if (!json_is_object(it) || json_object_size(it) != 2 || !json_is_integer(id) ||
			    !json_is_integer(lv) || json_integer_value(id) < 1 ||
			    json_integer_value(id) > 4095 || json_integer_value(lv) < 1 ||
			    json_integer_value(lv) > 5) {
				invalid(req, path,
					"expected {\"skill_id\": 1-4095, \"min_level\": 1-5}");
				return false;
			}
		}
	}
	json_t *at = json_object_get(b, "attributes");
	if (at) {
		if (!json_is_object(at)) {
			invalid(req, "attributes", "expected an object");
			return false;
		}
		char *s = json_dumps(at, JSON_COMPACT);
		size_t n = s ? strlen(s) : 0;
		free(s);
		if (n > 16384) {
			invalid(req, "attributes", "at most 16 KiB of JSON");
			return false;
		}
	}
	return true;
}

static struct api_cmd *new_cmd(struct api_req *req, enum api_cmd_kind kind, int64_t id, json_t *body)
{
	struct api_cmd *c = calloc(1, sizeof(*c));
	if (!c) {
		json_decref(body);
		api_problem(req, 500, "out of memory", NULL);
		return NULL;
	}
	c->kind = kind;
	c->id = id;
	c->body = body;
	c->user_id = req->who.user_id;
	c->privileged = privileged(req);
	req->ctx = c;
	req->ctx_free = cmd_free;
	return c;
}

static void post(struct api_req *req, enum api_cmd_kind kind, int64_t id, json_t *body)
{
	struct api_cmd *c = new_cmd(req, kind, id, body);
	if (c)
		api_core_post(req, c, cmd_done);
}

void api_tasks_post(struct api_req *req, enum api_cmd_kind kind, int64_t id, json_t *body)
{
	post(req, kind, id, body);
}

static void not_allowed(struct api_req *req, const char *allow)
{
	api_add_header(req, "Allow", allow);
	api_problem(req, 405, "method not allowed here", NULL);
}

/* GET /api/v1/queue-status[?queue=ID]: one queue, or every queue. */
static void handle_queue_status(struct api_req *req)
{
	if (req->method != LWSHUMETH_GET)
		return not_allowed(req, "GET");
	int64_t id;
	if (api_query_int(req, "queue", 0, 1, 0xFFFFFFFFLL, &id))
		return invalid(req, "queue", "expected a queue id (an integer from 1)");
	post(req, API_CMD_QUEUE_STATUS, id, NULL);
}

/* GET /api/v1/live (docs/CHAT.md, "Supervisor's live figures"). */
static void handle_live(struct api_req *req)
{
	if (req->method != LWSHUMETH_GET)
		return not_allowed(req, "GET");
	if (!privileged(req))
		return api_problem(req, 403, "only admins and supervisors see the live figures", NULL);
	post(req, API_CMD_LIVE_STATS, 0, NULL);
}

void api_handle_tasks(struct api_req *req, const char *rest)
{
	int m = req->method;
	if (strcmp(rest, "queue-status") == 0)
		return handle_queue_status(req);
	if (strcmp(rest, "live") == 0)
		return handle_live(req);
	rest += 5; /* "tasks" */
	if (!*rest) {
		if (m != LWSHUMETH_POST)
			return not_allowed(req, "POST");
		if (!privileged(req))
			return api_problem(req, 403, "only admins and supervisors create tasks", NULL);
		json_t *b = object_body(req, false);
		if (!b)
			return;
		if (!valid_task(req, b)) {
			json_decref(b);
			return;
		}
		return post(req, API_CMD_TASK_CREATE, 0, b);
	}
	rest++; /* '/' */
	const char *slash = strchr(rest, '/');
	int64_t id;
	if (!api_parse_id(rest, slash ? (size_t)(slash - rest) : strlen(rest), &id))
		return api_problem(req, 404, "no such task (ids are positive integers)", NULL);
	if (!slash)
		return m == LWSHUMETH_GET ? post(req, API_CMD_TASK_GET, id, NULL) : not_allowed(req, "GET");
	const char *verb = slash + 1;
	enum api_cmd_kind kind;
	if (strcmp(verb, "cancel") == 0)
		kind = API_CMD_TASK_CANCEL;
	else if (strcmp(verb, "complete") == 0)
		kind = API_CMD_TASK_COMPLETE;
	else if (strcmp(verb, "wrapup") == 0)
		kind = API_CMD_TASK_WRAPUP;
	else if (strcmp(verb, "abandon") == 0)
		kind = API_CMD_TASK_ABANDON;
	else
		return api_problem(req, 404, "no such endpoint", NULL);
	if (m != LWSHUMETH_POST)
		return not_allowed(req, "POST");
	if (kind == API_CMD_TASK_CANCEL && !privileged(req))
		return api_problem(req, 403, "only admins and supervisors cancel tasks", NULL);
	if (kind == API_CMD_TASK_ABANDON && !privileged(req))
		return api_problem(req, 403, "only admins and supervisors mark tasks abandoned", NULL);
	json_t *b = object_body(req, kind != API_CMD_TASK_WRAPUP);
	if (!b)
		return;
	bool ok;
	if (kind == API_CMD_TASK_WRAPUP) {
		static const char *const keys[] = {"disposition", "notes", NULL};
		/* disposition may be left out or empty: the core refuses that
		 * only where the queue says disposition_required */
		ok = only_keys(req, b, keys);
		ok = ok && opt_string(req, b, "disposition", 0, 64, false) &&
		     opt_string(req, b, "notes", 0, 2000, false);
	} else {
		static const char *const keys[] = {"reason", NULL};
		ok = only_keys(req, b, keys) && opt_string(req, b, "reason", 0, 200, false);
	}
	if (!ok) {
		json_decref(b);
		return;
	}
	post(req, kind, id, b);
}

void api_handle_offers(struct api_req *req, const char *rest)
{
	rest += 7; /* "offers/" */
	const char *slash = strchr(rest, '/');
	int64_t id;
	if (!slash || !api_parse_id(rest, (size_t)(slash - rest), &id))
		return api_problem(req, 404, "no such offer", NULL);
	enum api_cmd_kind kind;
	if (strcmp(slash + 1, "accept") == 0)
		kind = API_CMD_OFFER_ACCEPT;
	else if (strcmp(slash + 1, "reject") == 0)
		kind = API_CMD_OFFER_REJECT;
	else
		return api_problem(req, 404, "no such endpoint", NULL);
	if (req->method != LWSHUMETH_POST)
		return not_allowed(req, "POST");
	json_t *b = object_body(req, false);
	if (!b)
		return;
	static const char *const keys[] = {"version", NULL};
	if (!only_keys(req, b, keys) || !opt_int(req, b, "version", 1, 0xFFFFFFFFLL, true, false)) {
		json_decref(b);
		return;
	}
	post(req, kind, id, b);
}

void api_handle_agent_state(struct api_req *req, const char *rest)
{
	rest += 7; /* "agents/" */
	const char *slash = strchr(rest, '/');
	int64_t id;
	if (!slash || strcmp(slash + 1, "state") != 0 ||
	    !api_parse_id(rest, (size_t)(slash - rest), &id) || id > 0xFFFFFFFFLL)
		return api_problem(req, 404, "no such endpoint", NULL);
	if (req->method == LWSHUMETH_GET)
		return post(req, API_CMD_AGENT_STATE_GET, id, NULL);
	if (req->method != LWSHUMETH_PUT)
		return not_allowed(req, "GET, PUT");
	json_t *b = object_body(req, false);
	if (!b)
		return;
	static const char *const keys[] = {"state", "reason", NULL};
	const char *st = json_string_value(json_object_get(b, "state"));
	bool ok = only_keys(req, b, keys);
	if (ok && (!st || (strcmp(st, "available") && strcmp(st, "away") && strcmp(st, "offline")))) {
		invalid(req, "state", "expected one of: available, away, offline");
		ok = false;
	}
	ok = ok && opt_string(req, b, "reason", 0, 64, false);
	if (!ok) {
		json_decref(b);
		return;
	}
	post(req, API_CMD_AGENT_STATE_SET, id, b);
}
