/*
 * store_migrations.c: the numbered schema migrations, one list per back
 * end. store_open applies those above the version kept in schema_version,
 * each in its own transaction.
 *
 * Rules: never edit a migration that has shipped; add the next number.
 * Both lists keep the same numbers and the same tables, so that the SQL the
 * modules write runs unchanged on either back end. Where the dialects
 * differ only in a type (ids), the schema is written once as a macro and
 * expanded per back end.
 *
 * Conventions: every table carries tenant (default 1); times are
 * milliseconds since the epoch as BIGINT; documents (doc, payload) are JSON
 * text; version counts updates for optimistic concurrency.
 */
#include "store/store_int.h"

#include <string.h>

/* A named table with the common document columns. */
#define DOC_COLS(ID)                                                                    \
	"id " ID ", tenant BIGINT NOT NULL DEFAULT 1, name TEXT NOT NULL,"             \
	" doc TEXT NOT NULL, version BIGINT NOT NULL DEFAULT 1,"                       \
	" created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL"

#define MIGRATION_1(ID)                                                                 \
	"CREATE TABLE events ("                                                         \
	" id " ID ", ts BIGINT NOT NULL, tenant BIGINT NOT NULL DEFAULT 1,"             \
	" type TEXT NOT NULL, interaction BIGINT, agent BIGINT, queue BIGINT,"          \
	" actor BIGINT, payload TEXT NOT NULL);\n"                                      \
	"CREATE INDEX events_tenant_type ON events(tenant, type, id);\n"               \
	"CREATE INDEX events_tenant_interaction ON events(tenant, interaction);\n"     \
	"CREATE INDEX events_tenant_agent ON events(tenant, agent);\n"                 \
	"CREATE TABLE users ("                                                          \
	" id " ID ", tenant BIGINT NOT NULL DEFAULT 1, username TEXT NOT NULL,"         \
	" role TEXT NOT NULL, pwhash TEXT NOT NULL, doc TEXT NOT NULL,"                 \
	" version BIGINT NOT NULL DEFAULT 1, created_at BIGINT NOT NULL,"               \
	" updated_at BIGINT NOT NULL, UNIQUE(tenant, username));\n"                     \
	"CREATE TABLE sessions ("                                                       \
	" token_hash TEXT PRIMARY KEY, tenant BIGINT NOT NULL DEFAULT 1,"               \
	" user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"              \
	" kind TEXT NOT NULL, name TEXT, csrf TEXT, created_at BIGINT NOT NULL,"        \
	" expires_at BIGINT NOT NULL);\n"                                               \
	"CREATE INDEX sessions_user ON sessions(user_id);\n"                           \
	"CREATE TABLE skills (" DOC_COLS(ID) ", UNIQUE(tenant, name));\n"              \
	"CREATE TABLE teams (" DOC_COLS(ID) ", UNIQUE(tenant, name));\n"               \
	"CREATE TABLE queues (" DOC_COLS(ID) ", UNIQUE(tenant, name));\n"              \
	"CREATE TABLE agents (" DOC_COLS(ID) ","                                        \
	" user_id BIGINT UNIQUE REFERENCES users(id) ON DELETE SET NULL,"               \
	" UNIQUE(tenant, name));\n"                                                     \
	"CREATE TABLE customers (" DOC_COLS(ID) ");\n"                                  \
	"CREATE INDEX customers_tenant_name ON customers(tenant, name);\n"             \
	"CREATE TABLE customer_identities ("                                            \
	" tenant BIGINT NOT NULL DEFAULT 1,"                                            \
	" customer_id BIGINT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,"      \
	" type TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY(tenant, type, value));\n" \
	"CREATE INDEX customer_identities_customer ON customer_identities(customer_id);\n"

/* Web chat (docs/CHAT.md). A conversation's id is an interaction id taken
 * by the core from the task sequence, so it is given, not generated. The
 * token is kept only as a hash. A message's (conversation, client_id) is
 * unique so a resent message is stored once. */
#define MIGRATION_2(ID)                                                                 \
	"CREATE TABLE conversations ("                                                  \
	" id BIGINT PRIMARY KEY, tenant BIGINT NOT NULL DEFAULT 1,"                     \
	" token_hash TEXT NOT NULL UNIQUE, customer_id BIGINT, queue_id BIGINT,"        \
	" task_id BIGINT, state TEXT NOT NULL, language TEXT, name TEXT, email TEXT,"   \
	" offline INTEGER NOT NULL DEFAULT 0, last_seq BIGINT NOT NULL DEFAULT 0,"      \
	" rating INTEGER, comment TEXT, created_at BIGINT NOT NULL, ended_at BIGINT);\n" \
	"CREATE INDEX conversations_state ON conversations(tenant, state, id);\n"      \
	"CREATE INDEX conversations_customer ON conversations(customer_id);\n"         \
	"CREATE TABLE chat_messages ("                                                  \
	" id " ID ", conversation BIGINT NOT NULL REFERENCES conversations(id),"         \
	" seq BIGINT NOT NULL, kind TEXT NOT NULL, sender TEXT NOT NULL,"               \
	" user_id BIGINT, name TEXT, client_id TEXT NOT NULL, body TEXT NOT NULL,"      \
	" attachment_id BIGINT, ts BIGINT NOT NULL,"                                    \
	" UNIQUE(conversation, seq), UNIQUE(conversation, client_id));\n"              \
	"CREATE TABLE chat_attachments ("                                               \
	" id " ID ", conversation BIGINT NOT NULL REFERENCES conversations(id),"         \
	" name TEXT NOT NULL, mime TEXT NOT NULL, size BIGINT NOT NULL,"                \
	" path TEXT NOT NULL, ts BIGINT NOT NULL);\n"

/* Workforce schedules (docs/WFM.md, "Schedules over the API"): a built
 * schedule as its JSON document, draft or published, with the span it
 * covers for the adherence lookup; and an index that lets forecasts read
 * one queue's events over a time range. */
#define MIGRATION_3(ID)                                                                 \
	"CREATE TABLE schedules ("                                                      \
	" id " ID ", tenant BIGINT NOT NULL DEFAULT 1, name TEXT NOT NULL,"             \
	" status TEXT NOT NULL, start_ms BIGINT NOT NULL, end_ms BIGINT NOT NULL,"      \
	" doc TEXT NOT NULL, version BIGINT NOT NULL DEFAULT 1, created_by BIGINT,"     \
	" created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, published_at BIGINT);\n" \
	"CREATE INDEX schedules_status_span ON schedules(tenant, status, start_ms);\n"  \
	"CREATE INDEX events_tenant_queue_ts ON events(tenant, queue, ts);\n"
static const char migration_3_sqlite[] = MIGRATION_3("INTEGER PRIMARY KEY AUTOINCREMENT");
static const char migration_3_pg[] = MIGRATION_3("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");

/* SQLite: INTEGER PRIMARY KEY is the rowid; AUTOINCREMENT keeps ids from
 * being reused after deletes (event ids must only grow). */
static const struct store_migration sqlite_migrations[] = {
	{1, MIGRATION_1("INTEGER PRIMARY KEY AUTOINCREMENT")},
	{2, MIGRATION_2("INTEGER PRIMARY KEY AUTOINCREMENT")},
	{3, migration_3_sqlite},
};

static const struct store_migration pg_migrations[] = {
	{1, MIGRATION_1("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")},
	{2, MIGRATION_2("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")},
	{3, migration_3_pg},
};

const struct store_migration *store_migrations(const char *backend, size_t *n)
{
	if (backend && strcmp(backend, "postgresql") == 0) {
		*n = sizeof(pg_migrations) / sizeof(pg_migrations[0]);
		return pg_migrations;
	}
	*n = sizeof(sqlite_migrations) / sizeof(sqlite_migrations[0]);
	return sqlite_migrations;
}
