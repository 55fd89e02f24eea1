/*
 * api_users.c: user administration outside HTTP (the `hotline user`
 * command and the first-start admin), and the body validator exposed for
 * the fuzz target. Both go through the same schema and store paths as the
 * REST API, so a user made here is indistinguishable from one made there.
 */
#include "api/api_int.h"
#include "base/base.h"
#include "store/store.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct cli_user {
	const char *username, *role;
	char pwhash[128];
	char *doc;
	int64_t count;
};

static int add_job(struct store_tx *tx, void *arg)
{
	struct cli_user *u = arg;
	int64_t now = store_now_ms(), id;
	struct store_val p[] = {store_text(u->username), store_text(u->role), store_text(u->pwhash),
				store_text(u->doc), store_int(now)};
	int r = store_query_int(tx,
				"INSERT INTO users (username, role, pwhash, doc, version, created_at, updated_at) "
				"VALUES ($1, $2, $3, $4, 1, $5, $5) RETURNING id",
				p, 5, &id);
	if (r == STORE_ECONFLICT)
		return -EEXIST;
	if (r)
		return r;
	json_t *out;
	if ((r = api_res_fetch(tx, schema_resource("users"), id, &out)))
		return r;
	char *s = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	struct store_event ev = {.type = "user.created", .payload = s};
	r = store_event_append(tx, &ev);
	free(s);
	return r;
}

int api_user_add(struct store *st, const char *username, const char *role, const char *password)
{
	if (sodium_init() < 0)
		return -EIO;
	json_t *in = json_pack("{s:s, s:s, s:s}", "username", username, "role", role, "password",
			       password);
	struct schema_result sr;
	json_t *doc = schema_validate(schema_resource("users"), in, false, NULL, &sr);
	json_decref(in);
	if (!doc) {
		LOG_ERROR("users", "%s", sr.detail);
		return -EINVAL;
	}
	struct cli_user u = {.username = username, .role = role};
	u.doc = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	int r = api_hash_password(password, u.pwhash);
	if (!r)
		r = store_write_sync(st, add_job, &u);
	free(u.doc);
	return r;
}

static int passwd_job(struct store_tx *tx, void *arg)
{
	struct cli_user *u = arg;
	int64_t changes = 0, id;
	struct store_val pq[] = {store_text(u->username)};
	int r = store_query_int(tx, "SELECT id FROM users WHERE tenant = 1 AND username = $1", pq, 1, &id);
	if (r)
		return r;
	struct store_val p[] = {store_text(u->pwhash), store_int(store_now_ms()), store_int(id)};
	r = store_exec(tx,
		       "UPDATE users SET pwhash = $1, updated_at = $2, version = version + 1 WHERE id = $3",
		       p, 3, &changes);
	if (r)
		return r;
	struct store_val ps[] = {store_int(id)};
	if ((r = store_exec(tx, "DELETE FROM sessions WHERE user_id = $1 AND kind = 'session'", ps, 1, NULL)))
		return r;
	struct store_event ev = {.type = "user.password_changed", .payload = "{}"};
	char payload[64];
	snprintf(payload, sizeof(payload), "{\"id\":%lld}", (long long)id);
	ev.payload = payload;
	return store_event_append(tx, &ev);
}

int api_user_passwd(struct store *st, const char *username, const char *password)
{
	if (sodium_init() < 0)
		return -EIO;
	size_t n = schema_utf8_len(password);
	if (n < 8 || n > 256)
		return -EINVAL;
	struct cli_user u = {.username = username};
	int r = api_hash_password(password, u.pwhash);
	if (!r)
		r = store_write_sync(st, passwd_job, &u);
	return r;
}

static int count_job(struct store_tx *tx, void *arg)
{
	struct cli_user *u = arg;
	return store_query_int(tx, "SELECT count(*) FROM users", NULL, 0, &u->count);
}

int api_user_count(struct store *st, int64_t *count)
{
	struct cli_user u = {0};
	int r = store_read_sync(st, count_job, &u);
	*count = u.count;
	return r;
}

int api_validate_body(const char *resource, const char *body, size_t len, int create,
		      char *detail, size_t detail_size)
{
	const struct api_resource *res = schema_resource(resource);
	if (!res) {
		snprintf(detail, detail_size, "no such resource");
		return 404;
	}
	json_error_t e;
	json_t *in = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
	if (!in) {
		snprintf(detail, detail_size, "line %d, column %d: %s", e.line, e.column, e.text);
		return 400;
	}
	struct schema_result sr;
	int64_t version = 0;
	json_t *doc = schema_validate(res, in, !create, &version, &sr);
	json_decref(in);
	if (!doc) {
		snprintf(detail, detail_size, "%s", sr.detail);
		return sr.status ? sr.status : 422;
	}
	json_decref(doc);
	detail[0] = '\0';
	return 0;
}
