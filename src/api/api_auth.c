/*
 * api_auth.c: logins, sessions, API tokens and login throttling.
 *
 * A token is 32 random bytes, base64url; the store keeps only its BLAKE2b
 * hash (crypto_generichash), so a copy of the database cannot be replayed.
 * The web thread holds every live session in a hash table loaded at start
 * and updated after each committed change, so authenticating a request
 * costs one hash lookup and never waits for the store. (With several
 * processes this table would follow the shared store's events; one process
 * owns it today.)
 *
 * Passwords are argon2id (libsodium crypto_pwhash_str, t=2, m=19 MiB: the
 * OWASP minimum, ~11 ms) and are only ever hashed or verified on the worker
 * pool. A login runs wholly on a worker: look the user up, verify, write
 * the session; then the web thread answers.
 *
 * Throttling by source address: the first 3 failures answer at once, then
 * each further failure is answered after 250 ms doubling up to 2 s, and the
 * 10th failure within 15 minutes locks that source out for 5 minutes (429
 * with Retry-After). A success clears the count.
 */
#include "api/api_int.h"
#include "base/base.h"
#include "store/store.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define MOD "auth"
#define PW_OPSLIMIT 2
#define PW_MEMLIMIT (19u * 1024u * 1024u)
#define THROTTLE_FREE_FAILS 3
#define THROTTLE_LOCK_FAILS 10
#define THROTTLE_WINDOW_MS (15 * 60 * 1000)
#define THROTTLE_LOCK_MS (5 * 60 * 1000)
#define API_TOKEN_TTL_MS (365LL * 24 * 3600 * 1000)

struct api_throttle {
	struct api_throttle *next;
	char peer[64];
	int fails;
	int64_t first_fail_ms, locked_until_ms;
};

const char *api_role_name(unsigned role)
{
	switch (role) {
	case ROLE_ADMIN: return "admin";
	case ROLE_SUPERVISOR: return "supervisor";
	case ROLE_AGENT: return "agent";
	default: return "none";
	}
}

unsigned api_role_parse(const char *s)
{
	if (!s)
		return 0;
	if (strcmp(s, "admin") == 0)
		return ROLE_ADMIN;
	if (strcmp(s, "supervisor") == 0)
		return ROLE_SUPERVISOR;
	if (strcmp(s, "agent") == 0)
		return ROLE_AGENT;
	return 0;
}

int api_hash_password(const char *password, char out[128])
{
	if (crypto_pwhash_str(out, password, strlen(password), PW_OPSLIMIT, PW_MEMLIMIT))
		return -ENOMEM;
	return 0;
}

void api_token_hash(const char *token, char out[65])
{
	unsigned char h[32];
	crypto_generichash(h, sizeof(h), (const unsigned char *)token, strlen(token), NULL, 0);
	sodium_bin2hex(out, 65, h, sizeof(h));
}

void api_random_token(char *out, size_t size, size_t nbytes)
{
	unsigned char raw[32];
	randombytes_buf(raw, nbytes);
	sodium_bin2base64(out, size, raw, nbytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* ---- the session table (web thread) ------------------------------------ */

static size_t bucket_of(const struct api *a, const char *hash)
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *p = hash; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return (size_t)(h & (a->nbuckets - 1));
}

static struct api_session *session_find(struct api *a, const char *hash)
{
	for (struct api_session *s = a->sessions[bucket_of(a, hash)]; s; s = s->next)
		if (strcmp(s->token_hash, hash) == 0)
			return s;
	return NULL;
}

static void table_grow(struct api *a)
{
	size_t nb = a->nbuckets * 2;
	struct api_session **nt = calloc(nb, sizeof(*nt));
	if (!nt)
		return;
	struct api_session **old = a->sessions;
	size_t ob = a->nbuckets;
	a->sessions = nt;
	a->nbuckets = nb;
	for (size_t i = 0; i < ob; i++) {
		struct api_session *s = old[i];
		while (s) {
			struct api_session *next = s->next;
			size_t b = bucket_of(a, s->token_hash);
			s->next = nt[b];
			nt[b] = s;
			s = next;
		}
	}
	free(old);
}

void api_session_put(struct api *a, const struct api_session *src)
{
	if (session_find(a, src->token_hash))
		return;
	struct api_session *s = malloc(sizeof(*s));
	if (!s)
		return;
	*s = *src;
	size_t b = bucket_of(a, s->token_hash);
	s->next = a->sessions[b];
	a->sessions[b] = s;
	if (++a->nsessions > a->nbuckets)
		table_grow(a);
}

static void remove_if(struct api *a, int (*pred)(const struct api_session *, const void *),
		      const void *arg)
{
	for (size_t i = 0; i < a->nbuckets; i++) {
		struct api_session **pp = &a->sessions[i];
		while (*pp) {
			if (pred(*pp, arg)) {
				struct api_session *dead = *pp;
				*pp = dead->next;
				free(dead);
				a->nsessions--;
			} else {
				pp = &(*pp)->next;
			}
		}
	}
}

static int match_hash(const struct api_session *s, const void *arg)
{
	return strcmp(s->token_hash, arg) == 0;
}
static int match_user(const struct api_session *s, const void *arg)
{
	return s->user_id == *(const int64_t *)arg;
}
static int match_expired(const struct api_session *s, const void *arg)
{
	return s->expires_at <= *(const int64_t *)arg;
}

void api_session_drop(struct api *a, const char *hash)
{
	remove_if(a, match_hash, hash);
}

void api_sessions_drop_user(struct api *a, int64_t user_id)
{
	remove_if(a, match_user, &user_id);
}

struct load_ctx {
	struct api *a;
	int64_t now;
};

static int load_row(const struct store_val *c, int n, void *arg)
{
	struct load_ctx *lc = arg;
	struct api_session s;
	memset(&s, 0, sizeof(s));
	snprintf(s.token_hash, sizeof(s.token_hash), "%s", c[0].s ? c[0].s : "");
	s.user_id = c[1].i;
	s.role = api_role_parse(c[2].s);
	snprintf(s.username, sizeof(s.username), "%s", c[3].s ? c[3].s : "");
	snprintf(s.csrf, sizeof(s.csrf), "%s", c[4].s ? c[4].s : "");
	snprintf(s.kind, sizeof(s.kind), "%s", c[5].s ? c[5].s : "session");
	snprintf(s.name, sizeof(s.name), "%s", c[6].s ? c[6].s : "");
	s.created_at = c[7].i;
	s.expires_at = c[8].i;
	(void)n;
	api_session_put(lc->a, &s);
	return 0;
}

static int load_job(struct store_tx *tx, void *arg)
{
	struct load_ctx *lc = arg;
	struct store_val p[] = {store_int(lc->now)};
	return store_query(tx,
			   "SELECT s.token_hash, s.user_id, u.role, u.username, s.csrf, s.kind, s.name, "
			   "s.created_at, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id "
			   "WHERE s.expires_at > $1",
			   p, 1, load_row, lc);
}

int api_auth_init(struct api *a)
{
	if (sodium_init() < 0)
		return -EIO;
	a->nbuckets = 1024;
	a->sessions = calloc(a->nbuckets, sizeof(*a->sessions));
	if (!a->sessions)
		return -ENOMEM;
	/* Before the web thread starts, so the table needs no lock. */
	struct load_ctx lc = {a, store_now_ms()};
	int r = store_read_sync(a->o.store, load_job, &lc);
	if (r) {
		LOG_ERROR(MOD, "could not load sessions: %d", r);
		return r;
	}
	LOG_INFO(MOD, "%zu live sessions and API tokens loaded", a->nsessions);
	return 0;
}

void api_auth_free(struct api *a)
{
	if (!a->sessions)
		return;
	int64_t all = INT64_MAX;
	remove_if(a, match_expired, &all);
	free(a->sessions);
	a->sessions = NULL;
	while (a->throttle) {
		struct api_throttle *t = a->throttle;
		a->throttle = t->next;
		free(t);
	}
}

void api_auth_housekeeping(struct api *a)
{
	int64_t now = store_now_ms();
	remove_if(a, match_expired, &now);
	struct api_throttle **pp = &a->throttle;
	while (*pp) {
		struct api_throttle *t = *pp;
		if (t->locked_until_ms < now && now - t->first_fail_ms > THROTTLE_WINDOW_MS) {
			*pp = t->next;
			free(t);
		} else {
			pp = &t->next;
		}
	}
}

/* ---- authenticating a request ---------------------------------------- */

static bool fill_principal(struct api *a, const char *token, bool via_cookie,
			   struct api_principal *who)
{
	char hash[65];
	if (!token[0])
		return false;
	api_token_hash(token, hash);
	struct api_session *s = session_find(a, hash);
	if (!s || s->expires_at <= store_now_ms())
		return false;
	memset(who, 0, sizeof(*who));
	who->user_id = s->user_id;
	who->role = s->role;
	who->via_cookie = via_cookie;
	snprintf(who->username, sizeof(who->username), "%s", s->username);
	snprintf(who->token_hash, sizeof(who->token_hash), "%s", s->token_hash);
	snprintf(who->csrf, sizeof(who->csrf), "%s", s->csrf);
	return true;
}

bool api_auth_request(struct api *a, struct lws *wsi, bool allow_query_token, const char *query,
		      struct api_principal *who)
{
	char buf[512];
	int n = lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_AUTHORIZATION);
	if (n > 7 && strncasecmp(buf, "Bearer ", 7) == 0)
		return fill_principal(a, buf + 7, false, who);
	if (allow_query_token) {
		char tok[160];
		const char *v = lws_get_urlarg_by_name(wsi, "token=", tok, sizeof(tok));
		if (v)
			return fill_principal(a, v, false, who);
	}
	(void)query;
	n = lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_HTTP_COOKIE);
	if (n > 0) {
		char *p = buf;
		while (p && *p) {
			while (*p == ' ')
				p++;
			if (strncmp(p, "hl_session=", 11) == 0) {
				char *v = p + 11, *end = strchr(v, ';');
				if (end)
					*end = '\0';
				return fill_principal(a, v, true, who);
			}
			p = strchr(p, ';');
			if (p)
				p++;
		}
	}
	return false;
}

/* ---- throttling ----------------------------------------------------- */

static struct api_throttle *throttle_get(struct api *a, const char *peer, bool create)
{
	for (struct api_throttle *t = a->throttle; t; t = t->next)
		if (strcmp(t->peer, peer) == 0)
			return t;
	if (!create)
		return NULL;
	struct api_throttle *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	snprintf(t->peer, sizeof(t->peer), "%s", peer);
	t->next = a->throttle;
	a->throttle = t;
	return t;
}

/* ---- login ---------------------------------------------------------- */

struct login_ctx {
	char username[65];
	char password[257];
	/* results */
	bool ok;
	struct api_session s;
	int64_t user_id;
	json_t *user; /* rendered user */
};

static void login_ctx_free(void *p)
{
	struct login_ctx *lc = p;
	sodium_memzero(lc->password, sizeof(lc->password));
	json_decref(lc->user);
	free(lc);
}

struct user_row {
	bool found;
	int64_t id;
	char role[16];
	char pwhash[256];
};

static int user_row_cb(const struct store_val *c, int n, void *arg)
{
	struct user_row *u = arg;
	(void)n;
	u->found = true;
	u->id = c[0].i;
	snprintf(u->role, sizeof(u->role), "%s", c[1].s ? c[1].s : "");
	snprintf(u->pwhash, sizeof(u->pwhash), "%s", c[2].s ? c[2].s : "");
	return 0;
}

struct login_job {
	struct login_ctx *lc;
	struct user_row u;
};

static int login_read_job(struct store_tx *tx, void *arg)
{
	struct login_job *lj = arg;
	struct store_val p[] = {store_text(lj->lc->username)};
	return store_query(tx, "SELECT id, role, pwhash FROM users WHERE tenant = 1 AND username = $1",
			   p, 1, user_row_cb, &lj->u);
}

static int login_write_job(struct store_tx *tx, void *arg)
{
	struct login_ctx *lc = arg;
	struct store_val p[] = {store_text(lc->s.token_hash), store_int(lc->s.user_id),
				store_text(lc->s.kind), store_text(lc->s.name), store_text(lc->s.csrf),
				store_int(lc->s.created_at), store_int(lc->s.expires_at)};
	int r = store_exec(tx,
			   "INSERT INTO sessions (token_hash, user_id, kind, name, csrf, created_at, expires_at) "
			   "VALUES ($1, $2, $3, $4, $5, $6, $7)",
			   p, 7, NULL);
	if (r)
		return r;
	struct store_event ev = {.type = "auth.login", .actor = lc->s.user_id, .payload = "{}"};
	r = store_event_append(tx, &ev);
	if (r)
		return r;
	return api_res_fetch(tx, schema_resource("users"), lc->s.user_id, &lc->user);
}

/* A hash of "password" made once, verified against when the user does not
 * exist so that unknown and known names take the same time. */
static char dummy_hash[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static void make_dummy(void)
{
	if (crypto_pwhash_str(dummy_hash, "password", 8, PW_OPSLIMIT, PW_MEMLIMIT))
		dummy_hash[0] = '\0'; /* verify then fails, as it should */
}

static void login_work(void *arg)
{
	struct api_req *req = arg;
	struct api *a = req->api;
	struct login_ctx *lc = req->ctx;
	struct login_job lj = {.lc = lc};

	int r = store_read_sync(a->o.store, login_read_job, &lj);
	if (r) {
		req->err = r;
		api_resume(req);
		return;
	}
	pthread_once(&dummy_once, make_dummy);
	const char *hash = lj.u.found ? lj.u.pwhash : dummy_hash;
	bool ok = crypto_pwhash_str_verify(hash, lc->password, strlen(lc->password)) == 0 &&
		  lj.u.found;
	if (ok) {
		char token[64];
		api_random_token(token, sizeof(token), 32);
		memset(&lc->s, 0, sizeof(lc->s));
		api_token_hash(token, lc->s.token_hash);
		api_random_token(lc->s.csrf, sizeof(lc->s.csrf), 24);
		lc->s.user_id = lj.u.id;
		lc->s.role = api_role_parse(lj.u.role);
		snprintf(lc->s.username, sizeof(lc->s.username), "%s", lc->username);
		snprintf(lc->s.kind, sizeof(lc->s.kind), "session");
		lc->s.created_at = store_now_ms();
		lc->s.expires_at = lc->s.created_at + (int64_t)a->o.session_ttl_s * 1000;
		r = store_write_sync(a->o.store, login_write_job, lc);
		if (r) {
			req->err = r;
			api_resume(req);
			return;
		}
		/* the plain token travels back in the password buffer, now unused */
		snprintf(lc->password, sizeof(lc->password), "%s", token);
	}
	lc->ok = ok;
	req->err = 0;
	api_resume(req);
}

static void delayed_401(struct lws_sorted_usec_list *sul)
{
	struct api_req *req = lws_container_of(sul, struct api_req, sul);
	api_problem(req, 401, "wrong username or password", NULL);
}

static void login_done(struct api_req *req)
{
	struct api *a = req->api;
	struct login_ctx *lc = req->ctx;
	if (req->err) {
		api_problem(req, 500, "the login could not be completed", NULL);
		return;
	}
	int64_t now = store_now_ms();
	if (!lc->ok) {
		a->m.login_failures++;
		struct api_throttle *t = throttle_get(a, req->peer, true);
		if (!t) {
			api_problem(req, 401, "wrong username or password", NULL);
			return;
		}
		if (!t->fails || now - t->first_fail_ms > THROTTLE_WINDOW_MS) {
			t->fails = 0;
			t->first_fail_ms = now;
		}
		t->fails++;
		LOG_WARN(MOD, "failed login for '%s' from %s (%d in a row)", lc->username, req->peer,
			 t->fails);
		if (t->fails >= THROTTLE_LOCK_FAILS) {
			t->locked_until_ms = now + THROTTLE_LOCK_MS;
			char ra[16];
			snprintf(ra, sizeof(ra), "%d", THROTTLE_LOCK_MS / 1000);
			api_add_header(req, "Retry-After", ra);
			api_problem(req, 429, "too many failed logins from this address; try again later", NULL);
			return;
		}
		if (t->fails <= THROTTLE_FREE_FAILS) {
			api_problem(req, 401, "wrong username or password", NULL);
			return;
		}
		int64_t delay_ms = 250LL << (t->fails - THROTTLE_FREE_FAILS - 1);
		if (delay_ms > 2000)
			delay_ms = 2000;
		lws_sul_schedule(lws_get_context(req->wsi), 0, &req->sul, delayed_401,
				 delay_ms * LWS_US_PER_MS);
		return;
	}
	struct api_throttle *t = throttle_get(a, req->peer, false);
	if (t) {
		t->fails = 0;
		t->locked_until_ms = 0;
	}
	api_session_put(a, &lc->s);
	char cookie[400], exp[32];
	snprintf(cookie, sizeof(cookie), "hl_session=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d",
		 lc->password, a->o.session_ttl_s);
	api_add_header(req, "Set-Cookie", cookie);
	json_t *out = json_pack("{s:s, s:s, s:s, s:O}", "token", lc->password, "csrf_token", lc->s.csrf,
				"expires_at", base_iso8601(lc->s.expires_at, exp, sizeof(exp)),
				"user", lc->user);
	LOG_INFO(MOD, "login '%s' from %s", lc->username, req->peer);
	api_respond_json(req, 200, out);
}

void api_handle_login(struct api_req *req)
{
	struct api *a = req->api;
	int64_t now = store_now_ms();
	struct api_throttle *t = throttle_get(a, req->peer, false);
	if (t && t->locked_until_ms > now) {
		char ra[24];
		snprintf(ra, sizeof(ra), "%lld", (long long)((t->locked_until_ms - now) / 1000 + 1));
		api_add_header(req, "Retry-After", ra);
		api_problem(req, 429, "too many failed logins from this address; try again later", NULL);
		return;
	}
	json_t *in = api_parse_body(req);
	if (!in)
		return;
	const char *username = NULL, *password = NULL;
	json_error_t e;
	if (!json_is_object(in)) {
		json_decref(in);
		api_problem(req, 422, "the body must be a JSON object", NULL);
		return;
	}
	const char *key;
	json_t *val;
	json_object_foreach(in, key, val) {
		if (strcmp(key, "username") && strcmp(key, "password")) {
			api_problem(req, 422, "unknown field", key);
			json_decref(in);
			return;
		}
	}
	if (json_unpack_ex(in, &e, JSON_STRICT, "{s:s, s:s}", "username", &username, "password",
			   &password)) {
		const char *field = !json_object_get(in, "username") || !json_is_string(json_object_get(in, "username"))
					    ? "username" : "password";
		char detail[128];
		snprintf(detail, sizeof(detail), "%s: required, a string", field);
		api_problem(req, 422, detail, field);
		json_decref(in);
		return;
	}
	struct login_ctx *lc = calloc(1, sizeof(*lc));
	if (!lc || strlen(username) >= sizeof(lc->username) || strlen(password) >= sizeof(lc->password)) {
		free(lc);
		json_decref(in);
		api_problem(req, 401, "wrong username or password", NULL);
		return;
	}
	snprintf(lc->username, sizeof(lc->username), "%s", username);
	snprintf(lc->password, sizeof(lc->password), "%s", password);
	json_decref(in);
	req->ctx = lc;
	req->ctx_free = login_ctx_free;
	api_work(req, login_work, login_done);
}

/* ---- logout, me ------------------------------------------------------- */

struct hash_ctx {
	char hash[65];
	int64_t user_id;
	char extra[128];
	json_t *out;
};

static void hash_ctx_free(void *p)
{
	struct hash_ctx *hc = p;
	json_decref(hc->out);
	free(hc);
}

static int logout_job(struct store_tx *tx, void *arg)
{
	struct hash_ctx *hc = ((struct api_req *)arg)->ctx;
	struct store_val p[] = {store_text(hc->hash)};
	int r = store_exec(tx, "DELETE FROM sessions WHERE token_hash = $1", p, 1, NULL);
	if (r)
		return r;
	struct store_event ev = {.type = "auth.logout", .actor = hc->user_id, .payload = "{}"};
	return store_event_append(tx, &ev);
}

static void logout_done(struct api_req *req)
{
	struct hash_ctx *hc = req->ctx;
	if (req->err) {
		api_problem(req, 500, "the logout could not be stored", NULL);
		return;
	}
	api_session_drop(req->api, hc->hash);
	api_add_header(req, "Set-Cookie", "hl_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
	api_respond(req, 204, "application/json", NULL, 0);
}

void api_handle_logout(struct api_req *req)
{
	struct hash_ctx *hc = calloc(1, sizeof(*hc));
	if (!hc)
		return api_problem(req, 500, "out of memory", NULL);
	snprintf(hc->hash, sizeof(hc->hash), "%s", req->who.token_hash);
	hc->user_id = req->who.user_id;
	req->ctx = hc;
	req->ctx_free = hash_ctx_free;
	api_submit(req, true, logout_job, logout_done);
}

static int me_job(struct store_tx *tx, void *arg)
{
	struct hash_ctx *hc = ((struct api_req *)arg)->ctx;
	return api_res_fetch(tx, schema_resource("users"), hc->user_id, &hc->out);
}

static void me_done(struct api_req *req)
{
	struct hash_ctx *hc = req->ctx;
	if (req->err) {
		api_problem(req, req->err == -ENOENT ? 401 : 500, "no such user", NULL);
		return;
	}
	json_t *out = json_pack("{s:O}", "user", hc->out);
	json_object_set_new(out, "csrf_token",
			    req->who.via_cookie ? json_string(req->who.csrf) : json_null());
	api_respond_json(req, 200, out);
}

void api_handle_me(struct api_req *req)
{
	struct hash_ctx *hc = calloc(1, sizeof(*hc));
	if (!hc)
		return api_problem(req, 500, "out of memory", NULL);
	hc->user_id = req->who.user_id;
	req->ctx = hc;
	req->ctx_free = hash_ctx_free;
	api_submit(req, false, me_job, me_done);
}

/* ---- API tokens ------------------------------------------------------ */

static json_t *token_json(const struct api_session *s, const char *plain)
{
	char id[17], c[32], e[32];
	snprintf(id, sizeof(id), "%.16s", s->token_hash);
	json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "name", s->name, "created_at",
			      base_iso8601(s->created_at, c, sizeof(c)), "expires_at",
			      base_iso8601(s->expires_at, e, sizeof(e)));
	if (plain)
		json_object_set_new(j, "token", json_string(plain));
	return j;
}

struct token_ctx {
	struct api_session s;
	char plain[64];
	bool revoke;
};

static void token_ctx_free(void *p)
{
	struct token_ctx *tc = p;
	sodium_memzero(tc->plain, sizeof(tc->plain));
	free(tc);
}

static int token_job(struct store_tx *tx, void *arg)
{
	struct token_ctx *tc = ((struct api_req *)arg)->ctx;
	int r;
	char payload[256];
	json_t *pj = json_pack("{s:s, s:s}", "id", "", "name", tc->s.name);
	char id[17];
	snprintf(id, sizeof(id), "%.16s", tc->s.token_hash);
	json_object_set_new(pj, "id", json_string(id));
	char *ps = json_dumps(pj, JSON_COMPACT);
	json_decref(pj);
	snprintf(payload, sizeof(payload), "%s", ps ? ps : "{}");
	free(ps);
	if (tc->revoke) {
		struct store_val p[] = {store_text(tc->s.token_hash)};
		r = store_exec(tx, "DELETE FROM sessions WHERE token_hash = $1", p, 1, NULL);
	} else {
		struct store_val p[] = {store_text(tc->s.token_hash), store_int(tc->s.user_id),
					store_text("api"), store_text(tc->s.name), store_text(""),
					store_int(tc->s.created_at), store_int(tc->s.expires_at)};
		r = store_exec(tx,
			       "INSERT INTO sessions (token_hash, user_id, kind, name, csrf, created_at, expires_at) "
			       "VALUES ($1, $2, $3, $4, $5, $6, $7)",
			       p, 7, NULL);
	}
	if (r)
		return r;
	struct store_event ev = {.type = tc->revoke ? "token.revoked" : "token.created",
				 .actor = tc->s.user_id, .payload = payload};
	return store_event_append(tx, &ev);
}

static void token_done(struct api_req *req)
{
	struct token_ctx *tc = req->ctx;
	if (req->err) {
		api_problem(req, 500, "the token change could not be stored", NULL);
		return;
	}
	if (tc->revoke) {
		api_session_drop(req->api, tc->s.token_hash);
		api_respond(req, 204, "application/json", NULL, 0);
		return;
	}
	api_session_put(req->api, &tc->s);
	api_respond_json(req, 201, token_json(&tc->s, tc->plain));
}

void api_handle_tokens(struct api_req *req, const char *id)
{
	struct api *a = req->api;
	if (req->who.role != ROLE_ADMIN)
		return api_problem(req, 403, "only admins manage API tokens", NULL);
	if (!id && req->method == LWSHUMETH_GET) {
		json_t *items = json_array();
		for (size_t i = 0; i < a->nbuckets; i++)
			for (struct api_session *s = a->sessions[i]; s; s = s->next)
				if (strcmp(s->kind, "api") == 0)
					json_array_append_new(items, token_json(s, NULL));
		api_respond_json(req, 200, json_pack("{s:o}", "items", items));
		return;
	}
	struct token_ctx *tc = calloc(1, sizeof(*tc));
	if (!tc)
		return api_problem(req, 500, "out of memory", NULL);
	req->ctx = tc;
	req->ctx_free = token_ctx_free;
	if (!id && req->method == LWSHUMETH_POST) {
		json_t *in = api_parse_body(req);
		if (!in)
			return;
		json_t *name = json_object_get(in, "name");
		const char *k;
		json_t *v;
		json_object_foreach(in, k, v) {
			if (strcmp(k, "name")) {
				json_decref(in);
				return api_problem(req, 422, "unknown field", k);
			}
		}
		if (!json_is_string(name) || json_string_length(name) < 1 ||
		    schema_utf8_len(json_string_value(name)) > 100) {
			json_decref(in);
			return api_problem(req, 422, "name: expected a string of 1 to 100 characters", "name");
		}
		api_random_token(tc->plain, sizeof(tc->plain), 32);
		api_token_hash(tc->plain, tc->s.token_hash);
		tc->s.user_id = req->who.user_id;
		tc->s.role = req->who.role;
		snprintf(tc->s.username, sizeof(tc->s.username), "%s", req->who.username);
		snprintf(tc->s.kind, sizeof(tc->s.kind), "api");
		snprintf(tc->s.name, sizeof(tc->s.name), "%s", json_string_value(name));
		tc->s.created_at = store_now_ms();
		tc->s.expires_at = tc->s.created_at + API_TOKEN_TTL_MS;
		json_decref(in);
		api_submit(req, true, token_job, token_done);
		return;
	}
	if (id && req->method == LWSHUMETH_DELETE) {
		for (size_t i = 0; i < a->nbuckets; i++)
			for (struct api_session *s = a->sessions[i]; s; s = s->next)
				if (strcmp(s->kind, "api") == 0 && strlen(id) == 16 &&
				    strncmp(s->token_hash, id, 16) == 0) {
					tc->s = *s;
					tc->revoke = true;
					api_submit(req, true, token_job, token_done);
					return;
				}
		return api_problem(req, 404, "no such token", NULL);
	}
	api_add_header(req, "Allow", id ? "DELETE" : "GET, POST");
	api_problem(req, 405, "method not allowed here", NULL);
}
