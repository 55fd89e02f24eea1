/*
 * core.h: the core thread, the process's main thread running libre's
 * re_main loop. It owns the lifecycle (start the store, the worker pool and
 * the web thread in order; stop them in reverse on SIGTERM/SIGINT) and,
 * as channels and routing arrive, all domain state: SIP dialogs, media
 * legs, routing decisions. Other threads reach it only through mqueue.
 */
#ifndef HL_CORE_H
#define HL_CORE_H

#include <stdint.h>

struct core_opts {
	const char *data_dir;       /* created if missing */
	const char *store_url;      /* NULL: sqlite:<data_dir>/hotline.db */
	const char *bind;           /* HTTP (and SIP) address; NULL = all */
	int http_port;
	int sip_port;               /* 0: no SIP listener */
	const char *web_dir;
	int drain_ms;               /* graceful-stop budget for HTTP, default 3000 */
};

/* Run the server until SIGTERM or SIGINT. Blocks. Returns the process exit
 * code: 0 after a clean stop, 1 when start-up failed (reason logged). */
int core_run(const struct core_opts *opts);

/* Open the store the way `serve` does, for the CLI (`hotline user …`).
 * Returns 0 and *stp, or a negative code. */
struct store;
int core_open_store(const struct core_opts *opts, struct store **stp);

#endif
