/*
 * store_sqlite.c: the SQLite back end of the store ops table.
 *
 * One read-write connection for the writer thread (WAL, synchronous=FULL so
 * that a returned COMMIT is on disk, foreign keys on, a busy timeout for
 * other processes such as the CLI) and one read-only connection per reader
 * thread; WAL lets readers run beside the writer. Connections are opened
 * with SQLITE_OPEN_NOMUTEX because each is only ever used by one thread.
 *
 * SQL arrives with PostgreSQL placeholders $1..$N. SQLite would treat "$1"
 * as a *named* parameter numbered by first appearance, so "$2 ... $1" would
 * bind the wrong values; the text is therefore rewritten to ?1..?N (outside
 * string literals, quoted identifiers and comments), which SQLite binds by
 * the number given. Prepared statements are cached per connection by their
 * original text (SQLITE_PREPARE_PERSISTENT), a small LRU.
 */
#include "store/store_int.h"

#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define STMT_CACHE 64
#define BUSY_TIMEOUT_MS 5000

struct stmt_entry {
	char *sql; /* original text: the cache key */
	sqlite3_stmt *stmt;
	uint64_t last_use;
	bool in_use; /* a row callback re-entered with the same SQL */
};

struct store_conn {
	sqlite3 *db;
	bool readonly;
	uint64_t tick;
	struct stmt_entry cache[STMT_CACHE];
};

/* "sqlite:PATH" or a plain PATH. */
static const char *url_path(const char *url)
{
	if (strncmp(url, "sqlite:", 7) == 0)
		return url + 7;
	return url;
}

static int map_rc(struct store_conn *c, int rc, const char *what)
{
	int ext = sqlite3_extended_errcode(c->db);
	if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
		return STORE_ECONFLICT; /* an expected outcome: not logged */
	if (rc == SQLITE_READONLY)
		return -EROFS;
	store_log_error("sqlite %s: %s (%d)", what, sqlite3_errmsg(c->db), ext);
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
		return -EBUSY;
	if (rc == SQLITE_NOMEM)
		return -ENOMEM;
	return STORE_EBACKEND;
}

/* Copy sql into a new string with every $N placeholder turned into ?N.
 * Skips '...' literals, "..." and `...` and [...] identifiers, -- and
 * block comments, where a '$' is data. */
static char *rewrite_placeholders(const char *sql)
{
	size_t n = strlen(sql);
	char *out = malloc(n + 1);
	if (!out)
		return NULL;
	size_t i = 0;
	while (i < n) {
		char ch = sql[i];
		if (ch == '\'' || ch == '"' || ch == '`' || ch == '[') {
			char close = ch == '[' ? ']' : ch;
			out[i] = sql[i];
			i++;
			while (i < n) {
				out[i] = sql[i];
				if (sql[i] == close) {
					/* A doubled quote is an escaped quote. */
					if (close != ']' && i + 1 < n && sql[i + 1] == close) {
						out[i + 1] = sql[i + 1];
						i += 2;
						continue;
					}
					i++;
					break;
				}
				i++;
			}
		} else if (ch == '-' && i + 1 < n && sql[i + 1] == '-') {
			while (i < n && sql[i] != '\n') {
				out[i] = sql[i];
				i++;
			}
		} else if (ch == '/' && i + 1 < n && sql[i + 1] == '*') {
			out[i] = sql[i];
			out[i + 1] = sql[i + 1];
			i += 2;
			while (i < n && !(sql[i] == '*' && i + 1 < n && sql[i + 1] == '/')) {
				out[i] = sql[i];
				i++;
			}
			if (i < n) {
				out[i] = sql[i];
				out[i + 1] = sql[i + 1];
				i += 2;
			}
		} else if (ch == '$' && i + 1 < n && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
			out[i++] = '?';
		} else {
			out[i] = ch;
			i++;
		}
	}
	out[n] = '\0';
	return out;
}

static int prepare(struct store_conn *c, const char *sql, unsigned flags, sqlite3_stmt **out)
{
	char *text = rewrite_placeholders(sql);
	if (!text)
		return -ENOMEM;
	int rc = sqlite3_prepare_v3(c->db, text, -1, flags, out, NULL);
	free(text);
	if (rc != SQLITE_OK)
		return map_rc(c, rc, "prepare");
	if (!*out) { /* only whitespace or comments */
		store_log_error("sqlite prepare: empty statement");
		return -EINVAL;
	}
	return 0;
}

/* A statement for sql: from the cache when possible. *entry is set when the
 * statement belongs to the cache (give it back with put_stmt), NULL when it
 * is a one-off that the caller finalizes. */
static int get_stmt(struct store_conn *c, const char *sql, sqlite3_stmt **stmt,
		    struct stmt_entry **entry)
{
	struct stmt_entry *victim = NULL;
	*entry = NULL;
	c->tick++;
	for (int i = 0; i < STMT_CACHE; i++) {
		struct stmt_entry *e = &c->cache[i];
		if (e->sql && strcmp(e->sql, sql) == 0) {
			if (e->in_use)
				return prepare(c, sql, 0, stmt);
			e->in_use = true;
			e->last_use = c->tick;
			*stmt = e->stmt;
			*entry = e;
			return 0;
		}
		if (e->in_use)
			continue;
		if (!victim || !e->sql || (victim->sql && e->last_use < victim->last_use))
			victim = e;
	}
	if (!victim) /* every slot busy in nested callbacks */
		return prepare(c, sql, 0, stmt);
	char *key = strdup(sql);
	if (!key)
		return -ENOMEM;
	int err = prepare(c, sql, SQLITE_PREPARE_PERSISTENT, stmt);
	if (err) {
		free(key);
		return err;
	}
	if (victim->sql) {
		sqlite3_finalize(victim->stmt);
		free(victim->sql);
	}
	victim->sql = key;
	victim->stmt = *stmt;
	victim->last_use = c->tick;
	victim->in_use = true;
	*entry = victim;
	return 0;
}

static void put_stmt(sqlite3_stmt *stmt, struct stmt_entry *entry)
{
	if (!entry) {
		sqlite3_finalize(stmt);
		return;
	}
	/* Clear bindings: they point into the caller's memory, which is gone
	 * once the call returns. */
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	entry->in_use = false;
}

static int bind_params(struct store_conn *c, sqlite3_stmt *stmt, const struct store_val *p,
		       int n)
{
	int want = sqlite3_bind_parameter_count(stmt);
	if (want != n) {
		/* PostgreSQL refuses a count mismatch too; fail alike. */
		store_log_error("sqlite: statement takes %d parameters, %d given", want, n);
		return -EINVAL;
	}
	for (int i = 0; i < n; i++) {
		int rc;
		switch (p[i].type) {
		case STORE_NULL:
			rc = sqlite3_bind_null(stmt, i + 1);
			break;
		case STORE_INT:
			rc = sqlite3_bind_int64(stmt, i + 1, p[i].i);
			break;
		case STORE_REAL:
			rc = sqlite3_bind_double(stmt, i + 1, p[i].d);
			break;
		case STORE_TEXT:
			if (!p[i].s)
				rc = sqlite3_bind_null(stmt, i + 1);
			else
				rc = sqlite3_bind_text64(stmt, i + 1, p[i].s, p[i].len,
							 SQLITE_STATIC, SQLITE_UTF8);
			break;
		default:
			return -EINVAL;
		}
		if (rc != SQLITE_OK)
			return map_rc(c, rc, "bind");
	}
	return 0;
}

static int run(struct store_conn *c, const char *sql, const struct store_val *params,
	       int nparams, store_row_h *row, void *arg, int64_t *changes)
{
	sqlite3_stmt *stmt = NULL;
	struct stmt_entry *entry = NULL;
	int err = get_stmt(c, sql, &stmt, &entry);
	if (err)
		return err;
	err = bind_params(c, stmt, params, nparams);
	int ncols = sqlite3_column_count(stmt);
	struct store_val cols_small[16];
	struct store_val *cols = cols_small;
	if (!err && ncols > 16) {
		cols = calloc((size_t)ncols, sizeof(*cols));
		if (!cols)
			err = -ENOMEM;
	}
	int rc = SQLITE_DONE;
	int stop = 0; /* the row callback's non-zero answer */
	while (!err && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (!row || stop)
			continue; /* drain: RETURNING rows are written as stepped */
		for (int i = 0; i < ncols; i++) {
			struct store_val *v = &cols[i];
			memset(v, 0, sizeof(*v));
			switch (sqlite3_column_type(stmt, i)) {
			case SQLITE_NULL:
				v->type = STORE_NULL;
				break;
			case SQLITE_INTEGER:
				v->type = STORE_INT;
				v->i = sqlite3_column_int64(stmt, i);
				break;
			case SQLITE_FLOAT:
				v->type = STORE_REAL;
				v->d = sqlite3_column_double(stmt, i);
				break;
			default: /* TEXT, and BLOB read as text (NUL-terminated) */
				v->type = STORE_TEXT;
				v->s = (const char *)sqlite3_column_text(stmt, i);
				v->len = (size_t)sqlite3_column_bytes(stmt, i);
				if (!v->s)
					v->s = "";
			}
		}
		stop = row(cols, ncols, arg);
		/* A SELECT can stop here; a write must run to its end or it
		 * would be half done. */
		if (stop && sqlite3_stmt_readonly(stmt)) {
			rc = SQLITE_DONE;
			break;
		}
	}
	if (!err && rc != SQLITE_DONE)
		err = map_rc(c, rc, "step");
	if (!err && stop)
		err = stop;
	if (!err && changes)
		*changes = sqlite3_stmt_readonly(stmt) ? 0 : sqlite3_changes64(c->db);
	if (cols != cols_small)
		free(cols);
	put_stmt(stmt, entry);
	return err;
}

static int sq_exec(struct store_conn *c, const char *sql, const struct store_val *params,
		   int nparams, int64_t *changes)
{
	return run(c, sql, params, nparams, NULL, NULL, changes);
}

static int sq_query(struct store_conn *c, const char *sql, const struct store_val *params,
		    int nparams, store_row_h *row, void *arg)
{
	return run(c, sql, params, nparams, row, arg, NULL);
}

static int sq_exec_script(struct store_conn *c, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(c->db, sql, NULL, NULL, &msg);
	if (rc == SQLITE_OK)
		return 0;
	int ext = sqlite3_extended_errcode(c->db);
	store_log_error("sqlite script: %s (%d)", msg ? msg : sqlite3_errstr(rc), ext);
	sqlite3_free(msg);
	if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
		return STORE_ECONFLICT;
	return rc == SQLITE_BUSY ? -EBUSY : STORE_EBACKEND;
}

static int sq_begin(struct store_conn *c, bool readonly)
{
	/* IMMEDIATE takes the write lock now: a writer in another process
	 * makes BEGIN wait (busy_timeout) instead of failing a later job. */
	return sq_exec(c, readonly ? "BEGIN" : "BEGIN IMMEDIATE", NULL, 0, NULL);
}

static int sq_commit(struct store_conn *c)
{
	return sq_exec(c, "COMMIT", NULL, 0, NULL);
}

static bool sq_in_tx(struct store_conn *c)
{
	return !sqlite3_get_autocommit(c->db);
}

static int sq_rollback(struct store_conn *c)
{
	/* After some errors SQLite has already rolled back; a second
	 * ROLLBACK would only log "no transaction is active". */
	if (!sq_in_tx(c))
		return 0;
	return sq_exec(c, "ROLLBACK", NULL, 0, NULL);
}

static int sq_savepoint(struct store_conn *c)
{
	return sq_exec(c, "SAVEPOINT hl_job", NULL, 0, NULL);
}

static int sq_release(struct store_conn *c)
{
	return sq_exec(c, "RELEASE SAVEPOINT hl_job", NULL, 0, NULL);
}

static int sq_rollback_to(struct store_conn *c)
{
	return sq_exec(c, "ROLLBACK TO SAVEPOINT hl_job", NULL, 0, NULL);
}

static void sq_close(struct store_conn *c)
{
	if (!c)
		return;
	for (int i = 0; i < STMT_CACHE; i++) {
		if (c->cache[i].sql) {
			sqlite3_finalize(c->cache[i].stmt);
			free(c->cache[i].sql);
		}
	}
	sqlite3_close_v2(c->db);
	free(c);
}

/* Run a PRAGMA that returns one text row and check the answer, because
 * journal_mode=WAL can silently stay "delete" (e.g. on some filesystems). */
struct pragma_row {
	char val[32];
};

static int pragma_row_h(const struct store_val *cols, int ncols, void *arg)
{
	struct pragma_row *pr = arg;
	if (ncols > 0 && cols[0].type == STORE_TEXT) {
		size_t n = cols[0].len < sizeof(pr->val) - 1 ? cols[0].len : sizeof(pr->val) - 1;
		memcpy(pr->val, cols[0].s, n);
		pr->val[n] = '\0';
	}
	return 0;
}

static int sq_open(struct store_conn **cp, const char *url, bool readonly)
{
	*cp = NULL;
	struct store_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->readonly = readonly;
	int flags = SQLITE_OPEN_NOMUTEX |
		    (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
	const char *path = url_path(url);
	int rc = sqlite3_open_v2(path, &c->db, flags, NULL);
	if (rc != SQLITE_OK) {
		store_log_error("sqlite open %s: %s", path,
				c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		sq_close(c);
		return rc == SQLITE_CANTOPEN ? -ENOENT : STORE_EBACKEND;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
	int err = 0;
	if (!readonly) {
		struct pragma_row pr = {{0}};
		err = sq_query(c, "PRAGMA journal_mode=WAL", NULL, 0, pragma_row_h, &pr);
		if (!err && strcmp(pr.val, "wal") != 0) {
			store_log_error("sqlite %s: journal_mode is %s, not wal", path, pr.val);
			err = STORE_EBACKEND;
		}
		if (!err)
			err = sq_exec_script(c, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON");
	} else {
		err = sq_exec_script(c, "PRAGMA foreign_keys=ON");
	}
	if (err) {
		sq_close(c);
		return err;
	}
	*cp = c;
	return 0;
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.savepoint = sq_savepoint,
	.release = sq_release,
	.rollback_to = sq_rollback_to,
	.in_tx = sq_in_tx,
	.exec = sq_exec,
	.query = sq_query,
	.exec_script = sq_exec_script,
};
