/*
 * api.h: Hotline's HTTP, REST and WebSocket front end (the web thread).
 *
 * api_start() creates a libwebsockets context and runs its poll loop in a
 * thread of its own. That thread parses and validates requests, checks
 * authentication against its in-memory session table, serves static files
 * from the web directory, and hands every database access to the store as a
 * job. Store completions, password hashes and committed events come back
 * through one mutex-protected inbox plus lws_cancel_service(), the only lws
 * call that is safe from other threads.
 */
#ifndef HL_API_H
#define HL_API_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct store_event;
struct base_workq;
struct api;

struct api_opts {
	const char *bind;          /* address to listen on; NULL or "" = all */
	int port;                  /* HTTP port (0 = pick one; see api_port) */
	const char *web_dir;       /* static UI files */
	const char *data_dir;      /* chat attachments go under DATA/attachments;
				    * NULL: uploads are refused (503) */
	struct store *store;       /* not owned */
	struct base_workq *workq;  /* for password hashing; not owned */
	int session_ttl_s;         /* 0 = 12 hours */
	int max_connections;       /* 0 = 16384 */
};

/* Start the web thread and listen. Blocks until listening or failed.
 * Returns 0 and *ap, or a negative errno (reason logged). */
int api_start(struct api **ap, const struct api_opts *opts);

/* The port actually bound. */
int api_port(const struct api *a);

/* Hand committed events to WebSocket subscribers. Copies what it needs;
 * callable from any thread (the store's event hook calls it). */
void api_publish_events(struct api *a, const struct store_event *evs, size_t n);

/* Graceful stop: close the listening socket, let requests in flight finish
 * for up to drain_ms, close the rest, join the thread and free. NULL is
 * allowed. Blocks. */
void api_stop(struct api *a, int drain_ms);

/* Users from the command line (hotline user add|passwd) and first start.
 * Blocking: call from main only, with the store open and no web thread
 * needed. Returns 0, -EEXIST (add: name taken), -ENOENT (passwd: no such
 * user), -EINVAL (bad username/role/password) or another negative code. */
int api_user_add(struct store *st, const char *username, const char *role,
		 const char *password);
int api_user_passwd(struct store *st, const char *username, const char *password);
/* Number of users (first start creates admin when it is 0). */
int api_user_count(struct store *st, int64_t *count);

/* Validate a JSON request body against a resource's schema, as the HTTP
 * path does; for the fuzz target and unit tests. resource is a path name
 * ("queues", "agents", …). Returns the HTTP status the API would answer
 * (0 when valid) and writes the problem detail into detail. */
int api_validate_body(const char *resource, const char *body, size_t len, int create,
		      char *detail, size_t detail_size);

/* The web chat's own parsing (file type sniffing, file names, widget frame
 * validation) on arbitrary bytes, for the fuzz target. Returns 1 when the
 * bytes were a refused frame, else 0; traps on a broken invariant. */
int api_chat_fuzz(const uint8_t *data, size_t size);

#endif
