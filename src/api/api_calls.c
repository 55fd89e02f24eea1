/*
 * api_calls.c: voice calls and their recordings (docs/API.md "Calls").
 *
 *   GET  /api/v1/calls                       live calls (agents: their own)
 *   POST /api/v1/calls {"number"}            click to dial from the caller's
 *                                            own agent phone: 201 {"call"}
 *   POST /api/v1/calls/{id}/hangup|hold|resume
 *   POST /api/v1/calls/{id}/transfer {"target": "queue:<id>" |
 *                                     "agent:<username>" | "number:<digits>"}
 *   GET  /api/v1/recordings[?call&agent&limit&after]   newest first
 *   GET  /api/v1/recordings/{id}             one (by its call.recorded event id)
 *   GET  /api/v1/recordings/{id}/audio       the WAV file (attachment)
 *
 * The call endpoints only validate here; the core thread owns the calls
 * (src/voice through core_routing.c's API_CMD_CALL_*), checks that the call
 * is the caller's (or that the caller is a supervisor or admin) and writes
 * the audit event. Recordings are the call.recorded events of the log (a
 * store read job); an agent sees those whose agent column is one of their
 * agents. The audio is read by a worker (never the web thread) into one
 * buffer with the write headroom lws needs, and written out in chunks
 * (nosniff comes with every response, api.c).
 */
#include "api/api_int.h"
#include "base/base.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MOD "api"
#define CALL_NUMBER_MAX 32
#define RECORDING_MAX_BYTES (1024LL * 1024 * 1024) /* 1 GiB: ~18 h at 8 kHz 16-bit */

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

static void not_allowed(struct api_req *req, const char *allow)
{
	api_add_header(req, "Allow", allow);
	api_problem(req, 405, "method not allowed here", NULL);
}

/* A JSON object body (empty: {} when allowed) with only the listed keys. */
static json_t *object_body(struct api_req *req, bool allow_empty, const char *const *keys)
{
	json_t *j;
	if (!req->body_len && allow_empty) {
		j = json_object();
	} else {
		j = api_parse_body(req);
		if (!j)
			return NULL;
		if (!json_is_object(j)) {
			json_decref(j);
			api_problem(req, 422, "the body must be a JSON object", NULL);
			return NULL;
		}
	}
	const char *k;
	json_t *v;
	json_object_foreach(j, k, v) {
		bool ok = false;
		for (const char *const *x = keys; x && *x; x++)
			if (strcmp(*x, k) == 0)
				ok = true;
		if (!ok) {
			invalid(req, k, "unknown field");
			json_decref(j);
			return NULL;
		}
	}
	return j;
}

/* A number to dial: digits, '+', '*', '#', 1 to 32 characters. */
static bool number_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n < 1 || n > CALL_NUMBER_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '*' || s[i] == '#'))
			return false;
	return true;
}

/* "queue:<id>", "agent:<username>" or "number:<digits>". */
static bool target_ok(const char *s)
{
	if (!s)
		return false;
	if (strncmp(s, "queue:", 6) == 0) {
		int64_t id;
		return api_parse_id(s + 6, strlen(s + 6), &id) && id <= 0xFFFFFFFFLL;
	}
	if (strncmp(s, "agent:", 6) == 0) {
		const char *u = s + 6;
		size_t n = strlen(u);
		if (n < 1 || n > 64)
			return false;
		return strspn(u, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
	}
	if (strncmp(s, "number:", 7) == 0)
		return number_ok(s + 7);
	return false;
}

/* ---- /api/v1/calls ------------------------------------------------------------ */

void api_handle_calls(struct api_req *req, const char *rest)
{
	int m = req->method;
	if (!*rest) {
		if (m == LWSHUMETH_GET)
			return api_tasks_post(req, API_CMD_CALLS_LIST, 0, NULL);
		if (m != LWSHUMETH_POST)
			return not_allowed(req, "GET, POST");
		static const char *const keys[] = {"number", NULL};
		json_t *b = object_body(req, false, keys);
		if (!b)
			return;
		json_t *num = json_object_get(b, "number");
		if (!json_is_string(num) || !number_ok(json_string_value(num))) {
			json_decref(b);
			return invalid(req, "number",
				       num ? "expected 1 to 32 of the characters 0-9 + * #"
					   : "required field is missing");
		}
		return api_tasks_post(req, API_CMD_CALL_DIAL, 0, b);
	}
	if (*rest != '/')
		return api_problem(req, 404, "no such endpoint", NULL);
	rest++;
	const char *slash = strchr(rest, '/');
	int64_t id;
	if (!slash || !api_parse_id(rest, (size_t)(slash - rest), &id))
		return api_problem(req, 404, "no such endpoint (POST /api/v1/calls/{id}/hangup, ...)", NULL);
	const char *verb = slash + 1;
	enum api_cmd_kind kind;
	if (strcmp(verb, "hangup") == 0)
		kind = API_CMD_CALL_HANGUP;
	else if (strcmp(verb, "hold") == 0)
		kind = API_CMD_CALL_HOLD;
	else if (strcmp(verb, "resume") == 0)
		kind = API_CMD_CALL_RESUME;
	else if (strcmp(verb, "transfer") == 0)
		kind = API_CMD_CALL_TRANSFER;
	else
		return api_problem(req, 404, "no such endpoint", NULL);
	if (m != LWSHUMETH_POST)
		return not_allowed(req, "POST");
	static const char *const none[] = {NULL};
	static const char *const tkeys[] = {"target", NULL};
	bool transfer = kind == API_CMD_CALL_TRANSFER;
	json_t *b = object_body(req, !transfer, transfer ? tkeys : none);
	if (!b)
		return;
	if (transfer) {
		json_t *t = json_object_get(b, "target");
		if (!json_is_string(t) || !target_ok(json_string_value(t))) {
			json_decref(b);
			return invalid(req, "target",
				       t ? "expected \"queue:<id>\", \"agent:<username>\" or \"number:<digits>\""
					 : "required field is missing");
		}
	}
	api_tasks_post(req, kind, id, b);
}

/* ---- /api/v1/recordings --------------------------------------------------------- */

struct rec_ctx {
	int64_t id;          /* one recording (its event id); 0: the list */
	int64_t after, limit, call, agent;
	int64_t user_id;     /* not privileged: only their agents' recordings */
	bool audio;
	/* results */
	int status;
	char detail[160];
	char *body;          /* JSON text */
	int64_t call_id;     /* audio: for the file name */
	char file[256];
	char path[1400];
	char *data;          /* audio: LWS_PRE headroom, then the file */
	size_t len;
	/* list scratch */
	json_t *items;
	int64_t last_id;
	bool more;
	struct store_tx *tx;
};

static void rec_ctx_free(void *p)
{
	struct rec_ctx *c = p;
	free(c->body);
	free(c->data);
	json_decref(c->items);
	free(c);
}

/* A call's number and caller from its call.started event: by the task
 * (indexed) for inbound calls, else the newest call.started before the
 * recording that names the call. */
struct started {
	json_t *payload;
};

static int started_row(const struct store_val *col, int n, void *arg)
{
	(void)n;
	struct started *s = arg;
	if (!s->payload && col[0].s)
		s->payload = json_loads(col[0].s, 0, NULL);
	return 1;
}

static void call_like(int64_t call, char a[48], char b[48])
{
	snprintf(a, 48, "%%\"call\":%" PRId64 ",%%", call);
	snprintf(b, 48, "%%\"call\":%" PRId64 "}%%", call);
}

static void add_started(struct store_tx *tx, json_t *item, int64_t event_id, int64_t task, int64_t call)
{
	struct started s = {0};
	if (task > 0) {
		struct store_val p[] = {store_int(task), store_int(event_id)};
		store_query(tx,
			    "SELECT payload FROM events WHERE tenant = 1 AND interaction = $1 AND "
			    "type = 'call.started' AND id < $2 ORDER BY id LIMIT 1",
			    p, 2, started_row, &s);
	}
	if (!s.payload && call > 0) {
		char l1[48], l2[48];
		call_like(call, l1, l2);
		struct store_val p[] = {store_int(event_id), store_text(l1), store_text(l2)};
		store_query(tx,
			    "SELECT payload FROM events WHERE tenant = 1 AND type = 'call.started' AND id < $1 "
			    "AND (payload LIKE $2 OR payload LIKE $3) ORDER BY id DESC LIMIT 1",
			    p, 3, started_row, &s);
	}
	const char *caller = json_string_value(json_object_get(s.payload, "caller"));
	const char *number = json_string_value(json_object_get(s.payload, "number"));
	const char *dir = json_string_value(json_object_get(s.payload, "direction"));
	json_object_set_new(item, "caller", caller ? json_string(caller) : json_null());
	json_object_set_new(item, "number", number ? json_string(number) : json_null());
	json_object_set_new(item, "direction", dir ? json_string(dir) : json_null());
	json_decref(s.payload);
}

static json_t *int_or_null(const struct store_val *v)
{
	return v->type == STORE_INT && v->i ? json_integer(v->i) : json_null();
}

/* id, ts, interaction, agent, queue, payload */
static int rec_row(const struct store_val *col, int n, void *arg)
{
	(void)n;
	struct rec_ctx *c = arg;
	if ((int64_t)json_array_size(c->items) == c->limit) {
		c->more = true;
		return 1;
	}
	json_t *p = json_loads(col[5].s ? col[5].s : "{}", 0, NULL);
	json_t *call = json_object_get(p, "call");
	if (c->call && json_integer_value(call) != c->call) { /* a LIKE false match */
		json_decref(p);
		return 0;
	}
	char ts[32];
	const char *file = json_string_value(json_object_get(p, "file"));
	json_t *item = json_pack("{s:I, s:I, s:o, s:o, s:o, s:s, s:I, s:I, s:s}", "id", (json_int_t)col[0].i,
				 "call", json_integer_value(call), "task_id", int_or_null(&col[2]),
				 "agent_id", int_or_null(&col[3]), "queue_id", int_or_null(&col[4]), "file",
				 file ? file : "", "duration_ms",
				 json_integer_value(json_object_get(p, "duration_ms")), "bytes",
				 json_integer_value(json_object_get(p, "bytes")), "created_at",
				 base_iso8601(col[1].i, ts, sizeof(ts)));
	json_decref(p);
	if (!item)
		return -ENOMEM;
	json_array_append_new(c->items, item);
	c->last_id = col[0].i;
	return 0;
}

static int rec_job(struct store_tx *tx, void *arg)
{
	struct api_req *req = arg;
	struct rec_ctx *c = req->ctx;
	c->items = json_array();
	char l1[48] = "", l2[48] = "";
	if (c->call)
		call_like(c->call, l1, l2);
	int64_t limit = c->id ? 1 : c->limit;
	struct store_val p[] = {
		store_int(c->id),
		store_int(c->id ? INT64_MAX : (c->after ? c->after : INT64_MAX)),
		store_int(c->call), store_text(l1), store_text(l2),
		store_int(c->agent), store_int(c->user_id), store_int(limit + 1)};
	c->limit = limit;
	int r = store_query(tx,
			    "SELECT id, ts, interaction, agent, queue, payload FROM events WHERE tenant = 1 "
			    "AND type = 'call.recorded' AND ($1 = 0 OR id = $1) AND id < $2 "
			    "AND ($3 = 0 OR payload LIKE $4 OR payload LIKE $5) AND ($6 = 0 OR agent = $6) "
			    "AND ($7 = 0 OR agent IN (SELECT id FROM agents WHERE tenant = 1 AND user_id = $7)) "
			    "ORDER BY id DESC LIMIT $8",
			    p, 8, rec_row, c);
	if (r < 0)
		return r;
	size_t i;
	json_t *it;
	json_array_foreach(c->items, i, it)
		add_started(tx, it, json_integer_value(json_object_get(it, "id")),
			    json_integer_value(json_object_get(it, "task_id")),
			    json_integer_value(json_object_get(it, "call")));
	if (c->id) {
		json_t *one = json_array_get(c->items, 0);
		if (!one) {
			c->status = 404;
			snprintf(c->detail, sizeof(c->detail), "no such recording");
			return 0;
		}
		c->call_id = json_integer_value(json_object_get(one, "call"));
		snprintf(c->file, sizeof(c->file), "%s", json_string_value(json_object_get(one, "file")));
		c->body = json_dumps(one, JSON_COMPACT);
	} else {
		json_t *out = json_pack("{s:O, s:o}", "items", c->items, "next_after",
					c->more ? json_integer(c->last_id) : json_null());
		c->body = json_dumps(out, JSON_COMPACT);
		json_decref(out);
	}
	c->status = 200;
	return c->body ? 0 : -ENOMEM;
}

/* A file name inside DATA/recordings: relative, no "..", no odd bytes. */
static bool file_ok(const char *f)
{
	if (!f[0] || f[0] == '/' || strstr(f, ".."))
		return false;
	for (const unsigned char *p = (const unsigned char *)f; *p; p++)
		if (*p < 0x21 || *p == 0x7f || *p == '\\')
			return false;
	return true;
}

static void audio_read_work(void *arg)
{
	struct api_req *req = arg;
	struct rec_ctx *c = req->ctx;
	int fd = open(c->path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	c->status = 404;
	snprintf(c->detail, sizeof(c->detail), "the recording's file is gone");
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		if (st.st_size > RECORDING_MAX_BYTES) {
			c->status = 500;
			snprintf(c->detail, sizeof(c->detail), "the file is too large to serve");
		} else if (!(c->data = malloc(LWS_PRE + (size_t)st.st_size + 1))) {
			c->status = 500;
			snprintf(c->detail, sizeof(c->detail), "out of memory");
		} else {
			size_t want = (size_t)st.st_size, off = 0;
			while (off < want) {
				ssize_t n = read(fd, c->data + LWS_PRE + off, want - off);
				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0)
					break;
				off += (size_t)n;
			}
			c->len = off;
			c->status = 200;
		}
	}
	if (fd >= 0)
		close(fd);
	api_resume(req);
}

static void audio_read_done(struct api_req *req)
{
	struct rec_ctx *c = req->ctx;
	if (c->status != 200)
		return api_problem(req, c->status, c->detail, NULL);
	char cd[96];
	snprintf(cd, sizeof(cd), "attachment; filename=\"call-%" PRId64 ".wav\"", c->call_id);
	api_add_header(req, "Content-Disposition", cd);
	char *d = c->data;
	c->data = NULL;
	api_respond_pre(req, 200, "audio/wav", d, c->len);
}

static void rec_done(struct api_req *req)
{
	struct rec_ctx *c = req->ctx;
	if (req->err) {
		LOG_ERROR(MOD, "recordings: store error %d", req->err);
		return api_problem(req, 500, "the store failed", NULL);
	}
	if (c->status != 200)
		return api_problem(req, c->status ? c->status : 500, c->detail, NULL);
	if (c->audio) {
		if (!file_ok(c->file) || !req->api->o.data_dir || !*req->api->o.data_dir)
			return api_problem(req, 404, "the recording has no file", NULL);
		snprintf(c->path, sizeof(c->path), "%s/recordings/%s", req->api->o.data_dir, c->file);
		api_work(req, audio_read_work, audio_read_done);
		return;
	}
	char *b = c->body;
	c->body = NULL;
	api_respond(req, 200, "application/json", b, strlen(b));
}

void api_handle_recordings(struct api_req *req, const char *rest)
{
	if (req->method != LWSHUMETH_GET)
		return not_allowed(req, "GET");
	struct rec_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return api_problem(req, 500, "out of memory", NULL);
	req->ctx = c;
	req->ctx_free = rec_ctx_free;
	c->user_id = privileged(req) ? 0 : req->who.user_id;
	if (*rest) {
		if (*rest != '/')
			return api_problem(req, 404, "no such endpoint", NULL);
		rest++;
		const char *slash = strchr(rest, '/');
		if (!api_parse_id(rest, slash ? (size_t)(slash - rest) : strlen(rest), &c->id))
			return api_problem(req, 404, "no such recording (ids are positive integers)", NULL);
		if (slash && strcmp(slash, "/audio") != 0)
			return api_problem(req, 404, "no such endpoint", NULL);
		c->audio = slash != NULL;
	} else {
		if (api_query_int(req, "limit", 50, 1, 200, &c->limit))
			return invalid(req, "limit", "expected an integer from 1 to 200");
		if (api_query_int(req, "after", 0, 0, INT64_MAX, &c->after))
			return invalid(req, "after", "expected a recording id (newer ones are left out)");
		if (api_query_int(req, "call", 0, 1, INT64_MAX, &c->call))
			return invalid(req, "call", "expected a call id");
		if (api_query_int(req, "agent", 0, 1, 0xFFFFFFFFLL, &c->agent))
			return invalid(req, "agent", "expected an agent id");
	}
	api_submit(req, false, rec_job, rec_done);
}

/* ---- OpenAPI ----------------------------------------------------------------------- */

static json_t *oa_ref(const char *n)
{
	char b[96];
	snprintf(b, sizeof(b), "#/components/schemas/%s", n);
	return json_pack("{s:s}", "$ref", b);
}

static json_t *oa_op(const char *summary, json_t *body, const char *ok, json_t *okschema,
		     const char *media, const char *errs, json_t *params)
{
	json_t *o = json_pack("{s:s, s:[s]}", "summary", summary, "tags", "calls");
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
		json_object_set_new(r, t, json_pack("{s:s, s:{s:{s:o}}}", "description", "Problem",
						     "content", "application/problem+json", "schema",
						     oa_ref("Problem")));
	json_object_set_new(o, "responses", r);
	if (params)
		json_object_set_new(o, "parameters", params);
	return o;
}

static json_t *oa_param(const char *name, const char *in, bool required, const char *desc)
{
	return json_pack("{s:s, s:s, s:b, s:s, s:{s:s}}", "name", name, "in", in, "required", required,
			 "description", desc, "schema", "type", "integer");
}

void api_calls_openapi(json_t *paths, json_t *schemas)
{
	json_object_set_new(schemas, "Call", json_pack(
		"{s:s, s:[s,s,s,s], s:{s:{s:s}, s:{s:s}, s:{s:s, s:[s,s]}, s:{s:s, s:[s,s,s,s,s,s]},"
		" s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}}",
		"type", "object", "required", "call", "direction", "state", "started_ms", "properties",
		"call", "type", "integer", "task", "type", "integer",
		"direction", "type", "string", "enum", "inbound", "outbound",
		"state", "type", "string", "enum", "menu", "queued", "ringing", "talking", "held", "dialing",
		"caller", "type", "string", "number", "type", "string", "queue", "type", "integer",
		"agent", "type", "integer", "started_ms", "type", "integer",
		"answered_ms", "type", "integer", "recording", "type", "boolean"));
	json_object_set_new(schemas, "CallList", json_pack("{s:s, s:[s], s:{s:{s:s, s:o}}}", "type",
		"object", "required", "items", "properties", "items", "type", "array", "items",
		oa_ref("Call")));
	json_object_set_new(schemas, "CallRef", json_pack("{s:s, s:b, s:[s], s:{s:{s:s}}}", "type",
		"object", "additionalProperties", 0, "required", "call", "properties", "call", "type",
		"integer"));
	json_object_set_new(schemas, "DialInput", json_pack(
		"{s:s, s:b, s:[s], s:{s:{s:s, s:s, s:s}}}", "type", "object", "additionalProperties", 0,
		"required", "number", "properties", "number", "type", "string", "pattern",
		"^[0-9+*#]{1,32}$", "description", "The number to call from your own agent phone"));
	json_object_set_new(schemas, "TransferInput", json_pack(
		"{s:s, s:b, s:[s], s:{s:{s:s, s:s, s:s}}}", "type", "object", "additionalProperties", 0,
		"required", "target", "properties", "target", "type", "string", "pattern",
		"^(queue:[0-9]+|agent:[a-z0-9._-]{1,64}|number:[0-9+*#]{1,32})$", "description",
		"queue:<id>, agent:<username> or number:<digits>"));
	json_t *nullint = json_pack("{s:[s,s]}", "type", "integer", "null");
	json_t *nullstr = json_pack("{s:[s,s]}", "type", "string", "null");
	json_object_set_new(schemas, "Recording", json_pack(
		"{s:s, s:b, s:[s,s,s,s,s,s,s,s,s,s,s,s],"
		" s:{s:{s:s}, s:{s:s}, s:O, s:O, s:O, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s, s:s}, s:O, s:O,"
		" s:{s:[s,s]}}}",
		"type", "object", "additionalProperties", 0, "required", "id", "call", "task_id", "agent_id",
		"queue_id", "file", "duration_ms", "bytes", "created_at", "caller", "number", "direction",
		"properties", "id", "type", "integer", "call", "type", "integer", "task_id", nullint,
		"agent_id", nullint, "queue_id", nullint, "file", "type", "string", "duration_ms", "type",
		"integer", "bytes", "type", "integer", "created_at", "type", "string", "format", "date-time",
		"caller", nullstr, "number", nullstr, "direction", "type", "string", "null"));
	json_decref(nullint);
	json_decref(nullstr);
	json_object_set_new(schemas, "RecordingList", json_pack(
		"{s:s, s:b, s:[s,s], s:{s:{s:s, s:o}, s:{s:[s,s]}}}", "type", "object",
		"additionalProperties", 0, "required", "items", "next_after", "properties", "items", "type",
		"array", "items", oa_ref("Recording"), "next_after", "type", "integer", "null"));

	json_object_set_new(paths, "/api/v1/calls", json_pack("{s:o, s:o}",
		"get", oa_op("Live calls (supervisors and admins: all; agents: their own)", NULL, "200",
			     oa_ref("CallList"), NULL, "401 403 500 501 503", NULL),
		"post", oa_op("Click to dial: your agent phone rings, then the number is called through "
			      "the outbound trunk", oa_ref("DialInput"), "201", oa_ref("CallRef"), NULL,
			      "400 401 403 409 413 415 422 500 501 503", NULL)));
	static const char *const verbs[][2] = {
		{"hangup", "Hang up both legs (the call's agent, or a supervisor or admin)"},
		{"hold", "Put the caller on hold (music); the agent's phone hears silence"},
		{"resume", "Take the caller off hold"},
		{"transfer", "Blind transfer to a queue, an agent or a number"}};
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		char path[64];
		snprintf(path, sizeof(path), "/api/v1/calls/{id}/%s", verbs[i][0]);
		bool tr = strcmp(verbs[i][0], "transfer") == 0;
		json_object_set_new(paths, path, json_pack("{s:[o], s:o}", "parameters",
			oa_param("id", "path", true, "Call id"), "post",
			oa_op(verbs[i][1], tr ? oa_ref("TransferInput") : NULL, "200", oa_ref("CallRef"), NULL,
			      "400 401 403 404 409 413 415 422 500 501 503", NULL)));
	}
	json_object_set_new(paths, "/api/v1/recordings", json_pack("{s:o}", "get",
		oa_op("Call recordings, newest first (supervisors and admins: all; agents: their own)", NULL,
		      "200", oa_ref("RecordingList"), NULL, "401 422 500 503",
		      json_pack("[o,o,o,o]", oa_param("limit", "query", false, "1-200, default 50"),
				oa_param("after", "query", false,
					 "Only recordings older than this id (next_after of the last page)"),
				oa_param("call", "query", false, "Only this call's"),
				oa_param("agent", "query", false, "Only this agent's")))));
	json_object_set_new(paths, "/api/v1/recordings/{id}", json_pack("{s:[o], s:o}", "parameters",
		oa_param("id", "path", true, "Recording id"), "get",
		oa_op("One recording", NULL, "200", oa_ref("Recording"), NULL, "401 404 500 503", NULL)));
	json_object_set_new(paths, "/api/v1/recordings/{id}/audio", json_pack("{s:[o], s:o}",
		"parameters", oa_param("id", "path", true, "Recording id"), "get",
		oa_op("The recording as a WAV file (download)", NULL, "200",
		      json_pack("{s:s, s:s}", "type", "string", "format", "binary"), "audio/wav",
		      "401 404 500 503", NULL)));
}
