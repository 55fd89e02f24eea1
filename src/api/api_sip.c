/*
 * api_sip.c: an agent's SIP password (docs/VOICE.md, "Configuring a phone").
 *
 *   GET    /api/v1/users/{id}/sip_password   {"set": true|false}
 *   PUT    /api/v1/users/{id}/sip_password   {"password": "..."} -> 204
 *   DELETE /api/v1/users/{id}/sip_password   -> 204 (404 when none)
 *
 * Admins only. The secret exists only as HA1 = MD5(user ":hotline:" password)
 * on the user's line of DATA/sip_accounts (an Apache htdigest file), which
 * the voice module watches (voice_watch.c) and re-reads within 250 ms. The
 * password is never stored, logged or written to the event log; the audit
 * events (user.sip_password_set / user.sip_password_removed) carry the
 * actor and the user id only.
 *
 * Threads: the web thread validates and hands the request to a worker
 * (api_work); the worker reads the user (store_read_sync), rewrites the file
 * (every other line and comment kept as it is) atomically -- sip_accounts.tmp
 * with mode 0600, fsync, rename, fsync of the directory -- under one mutex,
 * so concurrent rewrites for different users never lose each other's lines,
 * appends the audit event (store_write_sync) and resumes the request.
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
#include <sys/stat.h>
#include <unistd.h>

#include <re_types.h>
#include <re_md5.h>

#define MOD "sip"
#define SIP_REALM "hotline"
#define SIP_PW_MIN 8
#define SIP_PW_MAX 128
/* The voice module reads at most 1 MiB of the file (voice_watch.c). */
#define SIP_FILE_MAX (1024 * 1024)

enum sip_verb { SIP_GET, SIP_SET, SIP_REMOVE };

struct sip_op {
	enum sip_verb verb;
	int64_t user_id, actor;
	char *password;          /* SIP_SET: wiped and freed after use */
	size_t password_len;
	char username[80];
	char dir[1024];          /* the data directory */
	/* results */
	int status;              /* 0: success */
	char detail[160];
	bool set;                /* SIP_GET */
};

/* Every rewrite of DATA/sip_accounts in this process goes through here. */
static pthread_mutex_t file_lock = PTHREAD_MUTEX_INITIALIZER;

static void op_free(void *arg)
{
	struct sip_op *op = arg;
	if (op->password) {
		sodium_memzero(op->password, op->password_len);
		free(op->password);
	}
	free(op);
}

static void fail(struct sip_op *op, int status, const char *detail)
{
	op->status = status;
	snprintf(op->detail, sizeof(op->detail), "%s", detail);
}

/* ---- the user --------------------------------------------------------- */

static int user_row(const struct store_val *cols, int ncols, void *arg)
{
	struct sip_op *op = arg;
	if (ncols < 1 || cols[0].type != STORE_TEXT || cols[0].len >= sizeof(op->username))
		return -EINVAL;
	memcpy(op->username, cols[0].s, cols[0].len);
	op->username[cols[0].len] = '\0';
	return 1;
}

static int user_job(struct store_tx *tx, void *arg)
{
	struct sip_op *op = arg;
	struct store_val p[] = {store_int(op->user_id)};
	int r = store_query(tx, "SELECT username FROM users WHERE tenant = 1 AND id = $1", p, 1,
			    user_row, op);
	if (r == 1)
		return 0;
	return r ? r : -ENOENT;
}

/* A name that can be the first field of an htdigest line: the schema allows
 * only a-z 0-9 . _ - anyway; refuse what would break the file regardless. */
static bool username_ok(const char *u)
{
	if (!u[0] || u[0] == '#')
		return false;
	for (const char *c = u; *c; c++)
		if (*c == ':' || *c == '\n' || *c == '\r' || (unsigned char)*c < 0x20 || *c == 0x7f)
			return false;
	return true;
}

static int event_job(struct store_tx *tx, void *arg)
{
	struct sip_op *op = arg;
	char payload[48];
	snprintf(payload, sizeof(payload), "{\"id\":%" PRId64 "}", op->user_id);
	struct store_event ev = {
		.type = op->verb == SIP_SET ? "user.sip_password_set" : "user.sip_password_removed",
		.actor = op->actor,
		.payload = payload,
	};
	return store_event_append(tx, &ev);
}

/* ---- the file ----------------------------------------------------------- */

/* Read the whole file into *out (NUL-terminated); a missing file is empty. */
static int file_read(const char *path, char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			return -errno;
		*out = calloc(1, 1);
		return *out ? 0 : -ENOMEM;
	}
	struct stat st;
	if (fstat(fd, &st)) {
		int e = errno;
		close(fd);
		return -e;
	}
	if (st.st_size < 0 || st.st_size > SIP_FILE_MAX) {
		close(fd);
		return -EFBIG;
	}
	size_t cap = (size_t)st.st_size + 1, n = 0;
	char *buf = malloc(cap);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		if (n + 1 >= cap) { /* grew since fstat */
			if (cap > SIP_FILE_MAX) {
				free(buf);
				close(fd);
				return -EFBIG;
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				close(fd);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + n, cap - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(buf);
			close(fd);
			return -e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

static bool line_is_user(const char *line, size_t len, const char *prefix, size_t plen)
{
	return len >= plen && memcmp(line, prefix, plen) == 0;
}

/* Copy text without the lines of the prefix ("user:hotline:"); put newline
 * (when not NULL) in place of the first one, or at the end when there was
 * none. Every other line is kept byte for byte. *found: a line was there. */
static char *rewrite(const char *text, size_t len, const char *prefix, const char *newline,
		     size_t *out_len, bool *found)
{
	size_t plen = strlen(prefix), nl = newline ? strlen(newline) : 0;
	char *out = malloc(len + nl + 2);
	if (!out)
		return NULL;
	size_t k = 0;
	*found = false;
	for (size_t i = 0; i < len;) {
		const char *eol = memchr(text + i, '\n', len - i);
		size_t e = eol ? (size_t)(eol - text) + 1 : len; /* end, with its '\n' */
		if (line_is_user(text + i, e - i, prefix, plen)) {
			if (!*found && newline) {
				memcpy(out + k, newline, nl);
				k += nl;
			}
			*found = true;
		} else {
			memcpy(out + k, text + i, e - i);
			k += e - i;
		}
		i = e;
	}
	if (newline && !*found) {
		if (k && out[k - 1] != '\n')
			out[k++] = '\n';
		memcpy(out + k, newline, nl);
		k += nl;
	}
	out[k] = '\0';
	*out_len = k;
	return out;
}

static int write_all(int fd, const char *buf, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, buf + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		off += (size_t)w;
	}
	return 0;
}

/* Replace path by buf: tmp (0600), fsync, rename, fsync the directory. */
static int file_replace(const char *dir, const char *path, const char *buf, size_t len)
{
	char tmp[1200];
	int n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	if (unlink(tmp) && errno != ENOENT)
		return -errno;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	int r = fchmod(fd, 0600) ? -errno : 0; /* whatever the umask */
	if (!r)
		r = write_all(fd, buf, len);
	if (!r && fsync(fd))
		r = -errno;
	if (close(fd) && !r)
		r = -errno;
	if (!r && rename(tmp, path))
		r = -errno;
	if (r) {
		unlink(tmp);
		return r;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	r = fsync(dfd) ? -errno : 0;
	close(dfd);
	return r;
}

/* "user:hotline:<HA1 hex>\n" */
static void ha1_line(const struct sip_op *op, char *out, size_t size)
{
	size_t ul = strlen(op->username), rl = strlen(SIP_REALM);
	size_t n = ul + 1 + rl + 1 + op->password_len;
	uint8_t *in = malloc(n), digest[MD5_SIZE];
	if (!in) {
		out[0] = '\0';
		return;
	}
	memcpy(in, op->username, ul);
	in[ul] = ':';
	memcpy(in + ul + 1, SIP_REALM, rl);
	in[ul + 1 + rl] = ':';
	memcpy(in + ul + rl + 2, op->password, op->password_len);
	md5(in, n, digest);
	sodium_memzero(in, n);
	free(in);
	char hex[2 * MD5_SIZE + 1];
	sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
	sodium_memzero(digest, sizeof(digest));
	snprintf(out, size, "%s:%s:%s\n", op->username, SIP_REALM, hex);
	sodium_memzero(hex, sizeof(hex));
}

/* GET: is there a line for the user? SET/REMOVE: rewrite under the lock. */
static void file_work(struct sip_op *op)
{
	char path[1100], prefix[96];
	snprintf(path, sizeof(path), "%s/sip_accounts", op->dir);
	snprintf(prefix, sizeof(prefix), "%s:%s:", op->username, SIP_REALM);
	char line[160] = "";
	if (op->verb == SIP_SET) {
		ha1_line(op, line, sizeof(line));
		sodium_memzero(op->password, op->password_len);
		if (!line[0])
			return fail(op, 500, "out of memory");
	}

	pthread_mutex_lock(&file_lock);
	char *text, *out = NULL;
	size_t len, out_len = 0;
	bool found = false;
	int r = file_read(path, &text, &len);
	if (!r) {
		out = rewrite(text, len, prefix, op->verb == SIP_SET ? line : NULL, &out_len, &found);
		if (!out)
			r = -ENOMEM;
	}
	if (!r && op->verb == SIP_GET)
		op->set = found;
	else if (!r && op->verb == SIP_REMOVE && !found)
		fail(op, 404, "this user has no SIP password");
	else if (!r && out_len > SIP_FILE_MAX)
		r = -EFBIG;
	else if (!r)
		r = file_replace(op->dir, path, out, out_len);
	pthread_mutex_unlock(&file_lock);

	sodium_memzero(line, sizeof(line));
	free(text);
	free(out);
	if (r) {
		LOG_ERROR(MOD, "cannot %s %s: %s", op->verb == SIP_GET ? "read" : "rewrite", path,
			  r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
		fail(op, 500, op->verb == SIP_GET ? "the SIP accounts file could not be read"
						  : "the SIP accounts file could not be written");
	}
}

/* On a worker. */
static void sip_work(void *arg)
{
	struct api_req *req = arg;
	struct sip_op *op = req->ctx;
	struct store *st = req->api->o.store;
	int r = store_read_sync(st, user_job, op);
	if (r == -ENOENT)
		fail(op, 404, "no user with this id");
	else if (r)
		fail(op, 503, "the store is not available");
	else if (!username_ok(op->username))
		fail(op, 422, "this username cannot have a SIP account (':' or a control character)");
	else
		file_work(op);
	if (!op->status && op->verb != SIP_GET) {
		LOG_INFO(MOD, "SIP password %s for user %" PRId64 " by user %" PRId64,
			 op->verb == SIP_SET ? "set" : "removed", op->user_id, op->actor);
		if ((r = store_write_sync(st, event_job, op))) {
			LOG_ERROR(MOD, "SIP password of user %" PRId64 " changed, but its audit event "
				  "could not be written (%d)", op->user_id, r);
			fail(op, 500, "the change was made but its audit event could not be written");
		}
	}
	api_resume(req);
}

/* Back on the web thread. */
static void sip_done(struct api_req *req)
{
	struct sip_op *op = req->ctx;
	if (op->status)
		return api_problem(req, op->status, op->detail, NULL);
	if (op->verb == SIP_GET)
		return api_respond_json(req, 200, json_pack("{s:b}", "set", op->set));
	api_respond(req, 204, "application/json", NULL, 0);
}

/* ---- validation (web thread) ------------------------------------------- */

/* NULL when acceptable, else why not. Valid UTF-8, 8-128 code points, no
 * C0/C1 control characters or DEL. */
static const char *password_problem(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		uint32_t cp;
		size_t k;
		if (c < 0x80) {
			cp = c;
			k = 1;
		} else if (c >= 0xC2 && c <= 0xDF) {
			cp = c & 0x1F;
			k = 2;
		} else if (c >= 0xE0 && c <= 0xEF) {
			cp = c & 0x0F;
			k = 3;
		} else if (c >= 0xF0 && c <= 0xF4) {
			cp = c & 0x07;
			k = 4;
		} else {
			return "password: is not valid UTF-8";
		}
		if (i + k > len)
			return "password: is not valid UTF-8";
		for (size_t j = 1; j < k; j++) {
			unsigned char cc = (unsigned char)s[i + j];
			if ((cc & 0xC0) != 0x80)
				return "password: is not valid UTF-8";
			cp = (cp << 6) | (cc & 0x3F);
		}
		if ((k == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
		    (k == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
			return "password: is not valid UTF-8";
		if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
			return "password: control characters are not allowed";
		i += k;
		n++;
	}
	if (n < SIP_PW_MIN || n > SIP_PW_MAX)
		return "password: expected a string of 8 to 128 characters";
	return NULL;
}

/* PUT's body: {"password": "..."} and nothing else. Fills op. */
static bool take_body(struct api_req *req, struct sip_op *op)
{
	json_t *j = api_parse_body(req);
	if (!j)
		return false;
	bool ok = false;
	const char *key;
	json_t *v = NULL;
	if (!json_is_object(j)) {
		api_problem(req, 422, "expected a JSON object {\"password\": \"...\"}", NULL);
		goto out;
	}
	json_object_foreach(j, key, v) {
		if (strcmp(key, "password") != 0) {
			char detail[160];
			snprintf(detail, sizeof(detail), "%.100s: unknown field", key);
			api_problem(req, 422, detail, key);
			goto out;
		}
	}
	v = json_object_get(j, "password");
	if (!v) {
		api_problem(req, 422, "password: required", "password");
		goto out;
	}
	if (!json_is_string(v)) {
		api_problem(req, 422, "password: expected a string", "password");
		goto out;
	}
	const char *s = json_string_value(v);
	size_t len = json_string_length(v);
	const char *why = password_problem(s, len);
	if (why) {
		api_problem(req, 422, why, "password");
		goto out;
	}
	if (!(op->password = malloc(len + 1))) {
		api_problem(req, 500, "out of memory", NULL);
		goto out;
	}
	memcpy(op->password, s, len);
	op->password[len] = '\0';
	op->password_len = len;
	ok = true;
out:
	v = json_is_object(j) ? json_object_get(j, "password") : NULL;
	if (json_is_string(v)) /* jansson's copy of it */
		sodium_memzero((char *)(uintptr_t)json_string_value(v), json_string_length(v));
	json_decref(j);
	sodium_memzero(req->body, req->body_len); /* the request's copy of it */
	return ok;
}

/* rest: what follows "/api/v1/users/", e.g. "12/sip_password". */
void api_handle_sip_password(struct api_req *req, const char *rest)
{
	struct api *a = req->api;
	int m = req->method;
	const char *slash = strchr(rest, '/');
	if (!slash || strcmp(slash, "/sip_password") != 0)
		return api_problem(req, 404, "no such endpoint", NULL);
	if (m != LWSHUMETH_GET && m != LWSHUMETH_PUT && m != LWSHUMETH_DELETE) {
		api_add_header(req, "Allow", "GET, PUT, DELETE");
		return api_problem(req, 405, "method not allowed here", NULL);
	}
	if (req->who.role != ROLE_ADMIN)
		return api_problem(req, 403, "only admins manage SIP passwords", NULL);
	int64_t id;
	if (!api_parse_id(rest, (size_t)(slash - rest), &id))
		return api_problem(req, 404, "no such user (ids are positive integers)", NULL);
	if (!a->o.data_dir || !*a->o.data_dir)
		return api_problem(req, 503, "SIP accounts are not configured (no data directory)", NULL);
	struct sip_op *op = calloc(1, sizeof(*op));
	if (!op)
		return api_problem(req, 500, "out of memory", NULL);
	req->ctx = op;
	req->ctx_free = op_free;
	op->verb = m == LWSHUMETH_GET ? SIP_GET : m == LWSHUMETH_PUT ? SIP_SET : SIP_REMOVE;
	op->user_id = id;
	op->actor = req->who.user_id;
	snprintf(op->dir, sizeof(op->dir), "%s", a->o.data_dir);
	if (op->verb == SIP_SET && !take_body(req, op))
		return;
	api_work(req, sip_work, sip_done);
}

/* ---- OpenAPI (api_schema.c calls it) ------------------------------------ */

static json_t *problem(void)
{
	return json_pack("{s:s, s:{s:{s:{s:s}}}}", "description", "Problem", "content",
			 "application/problem+json", "schema", "$ref", "#/components/schemas/Problem");
}

static json_t *responses(const char *ok, json_t *okr, const char *errs)
{
	json_t *r = json_object();
	json_object_set_new(r, ok, okr);
	char buf[96];
	snprintf(buf, sizeof(buf), "%s", errs);
	for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
		json_object_set_new(r, t, problem());
	return r;
}

void api_sip_openapi(json_t *paths, json_t *schemas)
{
	json_object_set_new(schemas, "SipPasswordInput", json_pack(
		"{s:s, s:b, s:[s], s:{s:{s:s, s:i, s:i, s:s}}}", "type", "object",
		"additionalProperties", 0, "required", "password", "properties", "password", "type",
		"string", "minLength", SIP_PW_MIN, "maxLength", SIP_PW_MAX, "description",
		"The phone's SIP password: 8-128 characters, no control characters; only its HA1 "
		"is kept (DATA/sip_accounts), the password itself is never stored or logged"));
	json_object_set_new(schemas, "SipPasswordState", json_pack(
		"{s:s, s:b, s:[s], s:{s:{s:s}}}", "type", "object", "additionalProperties", 0,
		"required", "set", "properties", "set", "type", "boolean"));
	json_t *get = json_pack("{s:s, s:[s], s:o}", "summary",
		"Whether the user has a SIP password (a line in DATA/sip_accounts); never the secret (admin)",
		"tags", "users", "responses", responses("200", json_pack("{s:s, s:{s:{s:{s:s}}}}",
			"description", "The state", "content", "application/json", "schema", "$ref",
			"#/components/schemas/SipPasswordState"), "401 403 404 500 503"));
	json_t *put = json_pack("{s:s, s:[s], s:{s:b, s:{s:{s:{s:s}}}}, s:o}", "summary",
		"Set or replace the user's SIP password: writes the user's htdigest line in "
		"DATA/sip_accounts, which the voice module re-reads within 250 ms (admin)",
		"tags", "users", "requestBody", "required", 1, "content", "application/json", "schema",
		"$ref", "#/components/schemas/SipPasswordInput", "responses",
		responses("204", json_pack("{s:s}", "description", "Set"),
			  "400 401 403 404 411 413 415 422 500 503"));
	json_t *del = json_pack("{s:s, s:[s], s:o}", "summary",
		"Remove the user's SIP password: the phone is refused at its next registration (admin)",
		"tags", "users", "responses", responses("204", json_pack("{s:s}", "description", "Removed"),
							 "401 403 404 500 503"));
	json_object_set_new(paths, "/api/v1/users/{id}/sip_password", json_pack(
		"{s:[{s:s, s:s, s:b, s:s, s:{s:s}}], s:o, s:o, s:o}", "parameters", "name", "id", "in",
		"path", "required", 1, "description", "User id", "schema", "type", "integer", "get", get,
		"put", put, "delete", del));
}
