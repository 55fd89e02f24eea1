/*
 * api_res.c: create, read, replace, delete and list for every resource in
 * api_schema.c, plus the event log. The web thread validates; the SQL runs
 * as store jobs, which also render the JSON answer so that serialization
 * happens off the web thread. Each change appends "<kind>.created",
 * ".updated" or ".deleted" to the event log in the same transaction, with
 * the acting user and the new document: the audit trail.
 *
 * Table names in SQL text come only from the constant resource table,
 * never from the request.
 */
#include "api/api_int.h"
#include "base/base.h"
#include "store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

enum res_op { OP_LIST, OP_GET, OP_CREATE, OP_UPDATE, OP_DELETE };

struct res_ctx {
	const struct api_resource *res;
	enum res_op op;
	int64_t id, version, actor, after, limit;
	char search_type[16];
	char search_value[330];
	char q[210];
	char type_prefix[64];
	json_t *doc;
	char *doc_text;
	char name[330];
	char pwhash[128];
	bool has_password;
	struct schema_result sr;
	/* results */
	int status;
	char detail[256];
	char field[128];
	char *body;
	bool drop_sessions;
};

static void res_ctx_free(void *p)
{
	struct res_ctx *c = p;
	json_decref(c->doc);
	free(c->doc_text);
	free(c->body);
	free(c);
}

static int domain_error(struct res_ctx *c, int status, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int domain_error(struct res_ctx *c, int status, const char *field, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
	c->status = status;
	snprintf(c->field, sizeof(c->field), "%s", field ? field : "");
	return -EINVAL;
}


static char *dump(json_t *j)
{
	return json_dumps(j, JSON_COMPACT);
}

/* A growable string for rendering lists without a JSON tree. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *np = realloc(b->p, cap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* ---- rendering ------------------------------------------------------- */

/* A stored row as the API's JSON object: id, version and times spliced in
 * front of the document's members. The stored doc is always a compact JSON
 * object we serialized ourselves (validated, without id/version/times), so
 * no parse + dump is needed; that kept list and get fast, and create,
 * update and the login answer use the same rendering. */
static void render_row_text(const struct store_val *col, struct sbuf *b)
{
	char head[192], t1[32], t2[32];
	int n = snprintf(head, sizeof(head),
			 "{\"id\":%" PRId64 ",\"version\":%" PRId64 ",\"created_at\":\"%s\",\"updated_at\":\"%s\"",
			 col[0].i, col[1].i, base_iso8601(col[2].i, t1, sizeof(t1)),
			 base_iso8601(col[3].i, t2, sizeof(t2)));
	sb_add(b, head, (size_t)n);
	const char *doc = col[4].s ? col[4].s : "{}";
	size_t dl = strlen(doc);
	if (dl > 2 && doc[0] == '{') {
		sb_add(b, ",", 1);
		sb_add(b, doc + 1, dl - 1); /* members and the closing brace */
	} else {
		sb_add(b, "}", 1);
	}
}

static int get_row(const struct store_val *col, int n, void *arg)
{
	(void)n;
	render_row_text(col, arg);
	return 1;
}

/* One stored resource as JSON text (malloc'd) in *out. Returns 0, -ENOENT,
 * -ENOMEM or a store error. */
static int fetch_text(struct store_tx *tx, const struct api_resource *res, int64_t id, char **out)
{
	char sql[256];
	snprintf(sql, sizeof(sql),
		 "SELECT id, version, created_at, updated_at, doc FROM %s WHERE tenant = 1 AND id = $1",
		 res->name);
	struct store_val p[] = {store_int(id)};
	struct sbuf b = {0};
	*out = NULL;
	int r = store_query(tx, sql, p, 1, get_row, &b);
	if (r < 0 || b.oom) {
		free(b.p);
		return r < 0 ? r : -ENOMEM;
	}
	if (!b.p)
		return -ENOENT;
	*out = b.p;
	return 0;
}

int api_res_fetch(struct store_tx *tx, const struct api_resource *res, int64_t id, json_t **out)
{
	char *text;
	int r = fetch_text(tx, res, id, &text);
	if (r)
		return r;
	*out = json_loads(text, 0, NULL);
	free(text);
	return *out ? 0 : -ENOMEM;
}

/* ---- jobs ------------------------------------------------------------ */

/* Jobs receive the request (the completion needs it) and work on its
 * context, which the web thread leaves alone while the job runs. */
static struct res_ctx *job_ctx(void *arg)
{
	return ((struct api_req *)arg)->ctx;
}

struct list_acc {
	json_t *items;      /* events */
	struct sbuf text;   /* resources */
	int64_t count;
	int64_t limit;
	int64_t last_id;
	bool more;
};

static int list_row(const struct store_val *col, int n, void *arg)
{
	(void)n;
	struct list_acc *acc = arg;
	if (acc->count == acc->limit) {
		acc->more = true;
		return 1;
	}
	if (acc->count++)
		sb_add(&acc->text, ",", 1);
	render_row_text(col, &acc->text);
	acc->last_id = col[0].i;
	return 0;
}

/* Close the list text and hand it to the context. */
static int list_finish(struct res_ctx *c, struct list_acc *acc)
{
	char tail[48];
	int n = acc->more ? snprintf(tail, sizeof(tail), "],\"next_after\":%" PRId64 "}", acc->last_id)
			  : snprintf(tail, sizeof(tail), "],\"next_after\":null}");
	sb_add(&acc->text, tail, (size_t)n);
	if (acc->text.oom) {
		free(acc->text.p);
		return -ENOMEM;
	}
	c->body = acc->text.p;
	c->status = 200;
	return 0;
}

static void like_escape(const char *in, char *out, size_t size)
{
	size_t n = 0;
	for (const char *p = in; *p && n + 3 < size; p++) {
		char ch = *p;
		if (ch == '%' || ch == '_' || ch == '\\')
			out[n++] = '\\';
		out[n++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
	}
	out[n++] = '%';
	out[n] = '\0';
}

static int list_job(struct store_tx *tx, void *arg)
{
	struct res_ctx *c = job_ctx(arg);
	struct list_acc acc = {.limit = c->limit};
	char sql[512];
	int r;
	sb_add(&acc.text, "{\"items\":[", 10);
	if (c->search_type[0]) {
		snprintf(sql, sizeof(sql),
			 "SELECT c.id, c.version, c.created_at, c.updated_at, c.doc FROM customers c "
			 "JOIN customer_identities i ON i.customer_id = c.id "
			 "WHERE i.tenant = 1 AND i.type = $1 AND i.value = $2 AND c.id > $3 "
			 "ORDER BY c.id LIMIT $4");
		struct store_val p[] = {store_text(c->search_type), store_text(c->search_value),
					store_int(c->after), store_int(c->limit + 1)};
		r = store_query(tx, sql, p, 4, list_row, &acc);
	} else if (c->q[0]) {
		char pat[450];
		like_escape(c->q, pat, sizeof(pat));
		snprintf(sql, sizeof(sql),
			 "SELECT id, version, created_at, updated_at, doc FROM %s "
			 "WHERE tenant = 1 AND lower(name) LIKE $1 ESCAPE '\\' AND id > $2 ORDER BY id LIMIT $3",
			 c->res->name);
		struct store_val p[] = {store_text(pat), store_int(c->after), store_int(c->limit + 1)};
		r = store_query(tx, sql, p, 3, list_row, &acc);
	} else {
		snprintf(sql, sizeof(sql),
			 "SELECT id, version, created_at, updated_at, doc FROM %s "
			 "WHERE tenant = 1 AND id > $1 ORDER BY id LIMIT $2",
			 c->res->name);
		struct store_val p[] = {store_int(c->after), store_int(c->limit + 1)};
		r = store_query(tx, sql, p, 2, list_row, &acc);
	}
	if (r < 0) {
		free(acc.text.p);
		return r;
	}
	return list_finish(c, &acc);
}

static int get_job(struct store_tx *tx, void *arg)
{
	struct res_ctx *c = job_ctx(arg);
	int r = fetch_text(tx, c->res, c->id, &c->body);
	if (r == -ENOENT)
		return domain_error(c, 404, NULL, "no %s with id %" PRId64, c->res->singular, c->id);
	if (r)
		return r;
	c->status = 200;
	return 0;
}

static int check_refs(struct store_tx *tx, struct res_ctx *c)
{
	for (size_t i = 0; i < c->sr.nrefs; i++) {
		const struct schema_ref *ref = &c->sr.refs[i];
		char sql[128];
		int64_t one;
		snprintf(sql, sizeof(sql), "SELECT 1 FROM %s WHERE tenant = 1 AND id = $1", ref->table);
		struct store_val p[] = {store_int(ref->id)};
		int r = store_query_int(tx, sql, p, 1, &one);
		if (r == -ENOENT)
			return domain_error(c, 422, ref->path, "%s: there is no %s with id %" PRId64,
					    ref->path, ref->table, ref->id);
		if (r)
			return r;
	}
	return 0;
}

static int write_identities(struct store_tx *tx, struct res_ctx *c, int64_t id)
{
	if (strcmp(c->res->name, "customers") != 0)
		return 0;
	struct store_val pd[] = {store_int(id)};
	int r = store_exec(tx, "DELETE FROM customer_identities WHERE customer_id = $1", pd, 1, NULL);
	if (r)
		return r;
	json_t *ids = json_object_get(c->doc, "identities");
	size_t i;
	json_t *it;
	json_array_foreach(ids, i, it) {
		const char *type = json_string_value(json_object_get(it, "type"));
		const char *value = json_string_value(json_object_get(it, "value"));
		struct store_val p[] = {store_int(id), store_text(type), store_text(value)};
		r = store_exec(tx,
			       "INSERT INTO customer_identities (customer_id, type, value) VALUES ($1, $2, $3)",
			       p, 3, NULL);
		if (r == STORE_ECONFLICT) {
			char path[64];
			snprintf(path, sizeof(path), "identities[%zu]", i);
			return domain_error(c, 409, path, "%s: %s %s already belongs to another customer",
					    path, type, value);
		}
		if (r)
			return r;
	}
	return 0;
}

static int append_change_event(struct store_tx *tx, struct res_ctx *c, const char *verb,
			       int64_t id, const char *payload)
{
	char type[64];
	snprintf(type, sizeof(type), "%s.%s", c->res->singular, verb);
	struct store_event ev = {.type = type, .actor = c->actor, .payload = payload};
	if (strcmp(c->res->name, "queues") == 0)
		ev.queue = id;
	else if (strcmp(c->res->name, "agents") == 0)
		ev.agent = id;
	return store_event_append(tx, &ev);
}

static int conflict_name(struct res_ctx *c)
{
	if (strcmp(c->res->name, "agents") == 0 && !json_is_null(json_object_get(c->doc, "user_id")))
		return domain_error(c, 409, "user_id",
				    "an agent named \"%s\" exists already, or that user is already an agent",
				    c->name);
	return domain_error(c, 409, c->res->name_field, "a %s with %s \"%s\" exists already",
			    c->res->singular, c->res->name_field, c->name);
}

static int create_job(struct store_tx *tx, void *arg)
{
	struct res_ctx *c = job_ctx(arg);
	int r = check_refs(tx, c);
	if (r)
		return r;
	int64_t now = store_now_ms(), id;
	char sql[512];
	if (strcmp(c->res->name, "users") == 0) {
		struct store_val p[] = {store_text(c->name),
					store_text(json_string_value(json_object_get(c->doc, "role"))),
					store_text(c->pwhash), store_text(c->doc_text), store_int(now)};
		r = store_query_int(tx,
				    "INSERT INTO users (username, role, pwhash, doc, version, created_at, updated_at) "
				    "VALUES ($1, $2, $3, $4, 1, $5, $5) RETURNING id",
				    p, 5, &id);
	} else if (strcmp(c->res->name, "agents") == 0) {
		json_t *uid = json_object_get(c->doc, "user_id");
		struct store_val p[] = {store_text(c->name), store_text(c->doc_text), store_int(now),
					json_is_integer(uid) ? store_int(json_integer_value(uid)) : store_null()};
		r = store_query_int(tx,
				    "INSERT INTO agents (name, doc, version, created_at, updated_at, user_id) "
				    "VALUES ($1, $2, 1, $3, $3, $4) RETURNING id",
				    p, 4, &id);
	} else {
		snprintf(sql, sizeof(sql),
			 "INSERT INTO %s (name, doc, version, created_at, updated_at) "
			 "VALUES ($1, $2, 1, $3, $3) RETURNING id",
			 c->res->name);
		struct store_val p[] = {store_text(c->name), store_text(c->doc_text), store_int(now)};
		r = store_query_int(tx, sql, p, 3, &id);
	}
	if (r == STORE_ECONFLICT)
		return conflict_name(c);
	if (r)
		return r;
	if ((r = write_identities(tx, c, id)))
		return r;
	if ((r = fetch_text(tx, c->res, id, &c->body)))
		return r;
	c->id = id;
	c->status = 201;
	return append_change_event(tx, c, "created", id, c->body);
}

static int update_job(struct store_tx *tx, void *arg)
{
	struct res_ctx *c = job_ctx(arg);
	char sql[512];
	int64_t current;
	snprintf(sql, sizeof(sql), "SELECT version FROM %s WHERE tenant = 1 AND id = $1", c->res->name);
	struct store_val pid[] = {store_int(c->id)};
	int r = store_query_int(tx, sql, pid, 1, &current);
	if (r == -ENOENT)
		return domain_error(c, 404, NULL, "no %s with id %" PRId64, c->res->singular, c->id);
	if (r)
		return r;
	if (current != c->version)
		return domain_error(c, 409, "version",
				    "version conflict: you sent version %" PRId64
				    " but the %s is at version %" PRId64 "; reload and retry",
				    c->version, c->res->singular, current);
	if ((r = check_refs(tx, c)))
		return r;
	int64_t now = store_now_ms(), changes = 0;
	if (strcmp(c->res->name, "users") == 0) {
		const char *role = json_string_value(json_object_get(c->doc, "role"));
		/* A role or password change ends the user's browser sessions. */
		struct store_val pq[] = {store_int(c->id), store_text(role)};
		int64_t same;
		r = store_query_int(tx, "SELECT 1 FROM users WHERE id = $1 AND role = $2", pq, 2, &same);
		if (r && r != -ENOENT)
			return r;
		c->drop_sessions = (r == -ENOENT) || c->has_password;
		struct store_val p[] = {store_text(c->name), store_text(role), store_text(c->doc_text),
					store_int(now), store_int(c->id), store_int(c->version),
					store_text(c->has_password ? c->pwhash : NULL)};
		r = store_exec(tx,
			       "UPDATE users SET username = $1, role = $2, doc = $3, updated_at = $4, "
			       "version = version + 1, pwhash = COALESCE($7, pwhash) "
			       "WHERE tenant = 1 AND id = $5 AND version = $6",
			       p, 7, &changes);
		if (!r && c->drop_sessions) {
			struct store_val ps[] = {store_int(c->id)};
			r = store_exec(tx, "DELETE FROM sessions WHERE user_id = $1 AND kind = 'session'",
				       ps, 1, NULL);
		}
	} else if (strcmp(c->res->name, "agents") == 0) {
		json_t *uid = json_object_get(c->doc, "user_id");
		struct store_val p[] = {store_text(c->name), store_text(c->doc_text), store_int(now),
					store_int(c->id), store_int(c->version),
					json_is_integer(uid) ? store_int(json_integer_value(uid)) : store_null()};
		r = store_exec(tx,
			       "UPDATE agents SET name = $1, doc = $2, updated_at = $3, version = version + 1, "
			       "user_id = $6 WHERE tenant = 1 AND id = $4 AND version = $5",
			       p, 6, &changes);
	} else {
		snprintf(sql, sizeof(sql),
			 "UPDATE %s SET name = $1, doc = $2, updated_at = $3, version = version + 1 "
			 "WHERE tenant = 1 AND id = $4 AND version = $5",
			 c->res->name);
		struct store_val p[] = {store_text(c->name), store_text(c->doc_text), store_int(now),
					store_int(c->id), store_int(c->version)};
		r = store_exec(tx, sql, p, 5, &changes);
	}
	if (r == STORE_ECONFLICT)
		return conflict_name(c);
	if (r)
		return r;
	if (changes != 1)
		return domain_error(c, 409, "version", "version conflict; reload and retry");
	if ((r = write_identities(tx, c, c->id)))
		return r;
	if ((r = fetch_text(tx, c->res, c->id, &c->body)))
		return r;
	c->status = 200;
	return append_change_event(tx, c, "updated", c->id, c->body);
}

static int delete_job(struct store_tx *tx, void *arg)
{
	struct res_ctx *c = job_ctx(arg);
	char sql[256];
	int64_t changes = 0;
	snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE tenant = 1 AND id = $1", c->res->name);
	struct store_val p[] = {store_int(c->id)};
	int r = store_exec(tx, sql, p, 1, &changes);
	if (r)
		return r;
	if (changes == 0)
		return domain_error(c, 404, NULL, "no %s with id %" PRId64, c->res->singular, c->id);
	char payload[64];
	snprintf(payload, sizeof(payload), "{\"id\":%" PRId64 "}", c->id);
	c->status = 204;
	c->drop_sessions = strcmp(c->res->name, "users") == 0;
	return append_change_event(tx, c, "deleted", c->id, payload);
}

/* ---- web-thread side -------------------------------------------------- */

static void res_done(struct api_req *req)
{
	struct res_ctx *c = req->ctx;
	if (c->status >= 400) {
		api_problem(req, c->status, c->detail, c->field);
		return;
	}
	if (req->err || !c->status) {
		LOG_ERROR("api", "%s %s failed in the store: %d", c->res->name,
			  c->op == OP_LIST ? "list" : "change", req->err);
		api_problem(req, 500, "the store failed; nothing was changed", NULL);
		return;
	}
	if (c->drop_sessions)
		api_sessions_drop_user(req->api, c->id);
	if (c->status == 204) {
		api_respond(req, 204, "application/json", NULL, 0);
		return;
	}
	char *b = c->body;
	c->body = NULL;
	api_respond(req, c->status, "application/json", b, b ? strlen(b) : 0);
}

static void hash_then_write(void *arg)
{
	struct api_req *req = arg;
	struct res_ctx *c = req->ctx;
	/* c->pwhash holds the plain password until here */
	char plain[sizeof(c->pwhash)];
	memcpy(plain, c->pwhash, sizeof(plain));
	int r = api_hash_password(plain, c->pwhash);
	sodium_memzero(plain, sizeof(plain));
	if (r) {
		req->err = r;
		api_resume(req);
		return;
	}
	r = store_write(req->api->o.store, c->op == OP_CREATE ? create_job : update_job,
			api_store_done, req);
	if (r) {
		req->err = r;
		api_resume(req);
	}
}

static bool parse_id(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < 1)
		return false;
	*out = v;
	return true;
}

void api_handle_resource(struct api_req *req, const struct api_resource *res, const char *id)
{
	int m = req->method;
	bool writing = m == LWSHUMETH_POST || m == LWSHUMETH_PUT || m == LWSHUMETH_DELETE;
	if (!id && m != LWSHUMETH_GET && m != LWSHUMETH_POST) {
		api_add_header(req, "Allow", "GET, POST");
		return api_problem(req, 405, "method not allowed here", NULL);
	}
	if (id && m != LWSHUMETH_GET && m != LWSHUMETH_PUT && m != LWSHUMETH_DELETE) {
		api_add_header(req, "Allow", "GET, PUT, DELETE");
		return api_problem(req, 405, "method not allowed here", NULL);
	}
	if (!(req->who.role & (writing ? res->write_roles : res->read_roles)))
		return api_problem(req, 403, writing ? "your role may not change this" : "your role may not read this", NULL);

	struct res_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return api_problem(req, 500, "out of memory", NULL);
	req->ctx = c;
	req->ctx_free = res_ctx_free;
	c->res = res;
	c->actor = req->who.user_id;
	if (id && !parse_id(id, &c->id))
		return api_problem(req, 404, "no such resource (ids are positive integers)", NULL);

	store_job_h *job;
	bool write = true;
	if (!id && m == LWSHUMETH_GET) {
		c->op = OP_LIST;
		write = false;
		job = list_job;
		if (api_query_int(req, "limit", 50, 1, 200, &c->limit))
			return api_problem(req, 422, "limit: expected an integer from 1 to 200", "limit");
		if (api_query_int(req, "after", 0, 0, INT64_MAX, &c->after))
			return api_problem(req, 422, "after: expected a non-negative integer id", "after");
		if (strcmp(res->name, "customers") == 0) {
			if (!api_query_get(req, "phone", c->search_value, sizeof(c->search_value)))
				snprintf(c->search_type, sizeof(c->search_type), "phone");
			else if (!api_query_get(req, "email", c->search_value, sizeof(c->search_value)))
				snprintf(c->search_type, sizeof(c->search_type), "email");
			else
				api_query_get(req, "q", c->q, sizeof(c->q));
		}
	} else if (m == LWSHUMETH_GET) {
		c->op = OP_GET;
		write = false;
		job = get_job;
	} else if (m == LWSHUMETH_DELETE) {
		c->op = OP_DELETE;
		job = delete_job;
		if (strcmp(res->name, "users") == 0 && c->id == req->who.user_id)
			return api_problem(req, 409, "you cannot delete your own user", NULL);
	} else {
		c->op = m == LWSHUMETH_POST ? OP_CREATE : OP_UPDATE;
		job = c->op == OP_CREATE ? create_job : update_job;
		json_t *in = api_parse_body(req);
		if (!in)
			return;
		c->doc = schema_validate(res, in, c->op == OP_UPDATE, &c->version, &c->sr);
		if (!c->doc) {
			json_decref(in);
			return api_problem(req, c->sr.status ? c->sr.status : 422, c->sr.detail, c->sr.field);
		}
		if (c->op == OP_UPDATE && !c->version) {
			json_decref(in);
			return api_problem(req, 422, "version: required for updates (the version you read)",
					   "version");
		}
		json_t *pw = json_object_get(in, "password");
		if (strcmp(res->name, "users") == 0) {
			if (json_is_string(pw)) {
				c->has_password = true;
				snprintf(c->pwhash, sizeof(c->pwhash), "%s", json_string_value(pw));
			} else if (c->op == OP_CREATE) {
				json_decref(in);
				return api_problem(req, 422, "password: required when creating a user", "password");
			}
			/* A user may not demote themselves out of admin. */
			if (c->op == OP_UPDATE && c->id == req->who.user_id &&
			    strcmp(json_string_value(json_object_get(c->doc, "role")), "admin") != 0)
				{
					json_decref(in);
					return api_problem(req, 409, "you cannot remove your own admin role", "role");
				}
		}
		json_decref(in);
		snprintf(c->name, sizeof(c->name), "%s",
			 json_string_value(json_object_get(c->doc, res->name_field)));
		c->doc_text = dump(c->doc);
		if (c->has_password) {
			api_work(req, hash_then_write, res_done);
			return;
		}
	}
	api_submit(req, write, job, res_done);
}

/* ---- the event log ----------------------------------------------------- */

static int event_row(const struct store_val *col, int n, void *arg)
{
	(void)n;
	struct list_acc *acc = arg;
	if ((int64_t)json_array_size(acc->items) == acc->limit) {
		acc->more = true;
		return 1;
	}
	acc->count++;
	char t[32];
	json_t *payload = json_loads(col[8].s ? col[8].s : "{}", JSON_DECODE_ANY, NULL);
	json_t *e = json_pack("{s:I, s:s, s:s, s:o}", "id", (json_int_t)col[0].i, "ts",
			      base_iso8601(col[1].i, t, sizeof(t)), "type", col[2].s ? col[2].s : "",
			      "payload", payload ? payload : json_object());
	static const char *const names[] = {"actor", "interaction", "agent", "queue"};
	for (int i = 0; i < 4; i++)
		json_object_set_new(e, names[i], col[3 + i].type == STORE_INT ? json_integer(col[3 + i].i) : json_null());
	json_array_append_new(acc->items, e);
	acc->last_id = col[0].i;
	return 0;
}

static int events_job(struct store_tx *tx, void *arg)
{
	struct res_ctx *c = job_ctx(arg);
	struct list_acc acc = {.items = json_array(), .limit = c->limit};
	char pat[80];
	like_escape(c->type_prefix, pat, sizeof(pat));
	/* With interaction=ID: that contact's whole story, every routing
	 * decision with its reason included. */
	struct store_val p[] = {store_int(c->after), store_text(pat), store_int(c->limit + 1),
				store_int(c->id)};
	int r = store_query(tx,
			    c->id ? "SELECT id, ts, type, actor, interaction, agent, queue, 0, payload FROM events "
				    "WHERE tenant = 1 AND interaction = $4 AND id > $1 AND type LIKE $2 ESCAPE '\\' "
				    "ORDER BY id LIMIT $3"
				  : "SELECT id, ts, type, actor, interaction, agent, queue, 0, payload FROM events "
				    "WHERE tenant = 1 AND id > $1 AND type LIKE $2 ESCAPE '\\' AND $4 = 0 "
				    "ORDER BY id LIMIT $3",
			    p, 4, event_row, &acc);
	if (r < 0) {
		json_decref(acc.items);
		return r;
	}
	json_t *out = json_pack("{s:o}", "items", acc.items);
	json_object_set_new(out, "next_after", acc.more ? json_integer(acc.last_id) : json_null());
	c->body = dump(out);
	json_decref(out);
	c->status = 200;
	return 0;
}

void api_handle_events_list(struct api_req *req)
{
	if (!(req->who.role & (ROLE_ADMIN | ROLE_SUPERVISOR)))
		return api_problem(req, 403, "only admins and supervisors read the event log", NULL);
	struct res_ctx *c = calloc(1, sizeof(*c));
	if (!c)
		return api_problem(req, 500, "out of memory", NULL);
	req->ctx = c;
	req->ctx_free = res_ctx_free;
	c->res = schema_resource("users"); /* for log messages only */
	c->op = OP_LIST;
	if (api_query_int(req, "limit", 50, 1, 200, &c->limit))
		return api_problem(req, 422, "limit: expected an integer from 1 to 200", "limit");
	if (api_query_int(req, "after", 0, 0, INT64_MAX, &c->after))
		return api_problem(req, 422, "after: expected a non-negative integer id", "after");
	if (api_query_get(req, "type", c->type_prefix, 48) == -E2BIG)
		return api_problem(req, 422, "type: too long", "type");
	if (api_query_int(req, "interaction", 0, 0, INT64_MAX, &c->id))
		return api_problem(req, 422, "interaction: expected a task (interaction) id", "interaction");
	api_submit(req, false, events_job, res_done);
}
