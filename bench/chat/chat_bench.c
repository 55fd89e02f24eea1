/*
 * chat_bench.c: web chat under load (build/bench/chat). Not a test: it never
 * fails on a number; it exits 1 only when something could not run.
 *
 * HOW TO RUN
 *   build/bench/chat            1,000, 5,000 and 15,000 sessions (several minutes)
 *   build/bench/chat --quick    1,000 sessions, 4 s of messages (< 30 s)
 *   build/bench/chat --sessions 2000,8000 --rate 5000 --duration 20
 *   options: --server PATH (default <dir of this program>/../hotline),
 *   --warmup S, --duration S, --agents N, --no-echo, --no-hotline, --keep
 *   (leave the data directory and server log in $TMPDIR/hl-bench-chat.*),
 *   --echo-poll (a third server: the same echo on lws's default poll()
 *   loop instead of libev/epoll: what the poll() scan over every socket
 *   costs; hotline ran on that loop until bench/chat showed it),
 *   --timeline (round-trip p50/p99 per second of the window: steady, or a
 *   growing queue?). CHAT_ECHO_FD_LIMIT=N in the environment gives the echo
 *   hotline's fd_limit_per_thread setting (see chat_echo.c).
 *   `make bench` runs it with the other benches (BENCH_ARGS=--quick).
 *
 * WHAT IT DOES, for each session count N and for two servers, one after the
 * other, each started fresh on 127.0.0.1 with a free port:
 *   - echo:    the floor, a bare libwebsockets relay of the same frames
 *              (chat_echo.c: same library and the same libev loop as the
 *              server's web thread, no store, no routing);
 *   - hotline: the real server (`hotline serve --data DIR --http-port P
 *              --bind 127.0.0.1 --sip-port 0`, HOTLINE_ADMIN_PASSWORD set).
 * 1. Setup (hotline): the admin logs in and creates one queue that takes chat
 *    (strategy least_occupied, offer timeout 300 s, no wrap-up), then A agent
 *    users, each with an agent record (capacity chat C, member of the queue);
 *    each agent logs in. Four helper processes do this in parallel (each
 *    user costs two argon2id hashes on the server's worker pool).
 *    AGENTS: routing capacity is what limits concurrent accepted chats, so
 *    A = max(ceil(N / 20), ceil(round trips per s / 50)) agents with
 *    C = ceil(N / A) <= 20 (capacity.chat's schema maximum), all in one
 *    queue: 15,000 sessions are 750 agents with 20 chats each (each agent
 *    answering ~3.3 messages a second), 5,000 are 250 x 20, 1,000 are
 *    50 x 20 (50 replies a second each: only visitors' sockets have a frame
 *    rate limit). --agents overrides A.
 * 2. One agent process opens A event streams (/api/v1/events?token=…, from
 *    127.0.0.2), waits for each hello, sets every agent available (PUT
 *    /api/v1/agents/{id}/state) and accepts every offer (POST
 *    /api/v1/offers/{id}/accept) over a pool of 32 keep-alive HTTP connections.
 *    Server RSS is read now ("before").
 * 3. ceil(N / 5000) customer processes (each <= 5,000 sockets, each from its
 *    own 127.0.0.x source address; every process may hold at most 20,000
 *    files) open N widget WebSockets (/api/v1/chat/ws, at most 200
 *    handshakes in flight per process), send {"type":"start"} and wait for
 *    "started" and then {"type":"state","state":"active"} (an agent
 *    accepted; when the agent was faster than the start's answer, "started"
 *    itself says "active" and no state frame follows). When all are active (or the time limit passed) and the
 *    server has settled, RSS is read again: RSS PER SESSION = (after -
 *    before) / active sessions. Kernel socket memory is not in RSS.
 * 4. Messages at a fixed total rate, open loop (send times do not wait for
 *    answers): --rate is MESSAGES STORED PER SECOND, both directions: the
 *    default 5,000 is 2,500 customer messages a second, each answered by one
 *    agent message. Customers take turns round robin. A customer sends
 *    {"type":"message","client_id":"cK","text":"<send time ns> …"}; the
 *    server stores it, acknowledges it to the customer and sends the agent a
 *    chat.message event on its stream; the agent answers on the same stream
 *    with {"type":"chat_message","conversation","client_id":"aK","text":
 *    <the same text>}; the server stores that and sends the customer the
 *    agent's "message" frame. ROUND TRIP = customer's send to the customer's
 *    receipt of that agent message (the text carries the send time; one
 *    monotonic clock for all processes). The acknowledgement's latency
 *    (send to own message back: store commit included) is shown too.
 *    Warm-up first (not measured), then the measured window: latencies of
 *    messages sent in the window; LOST = sent in the window and not answered
 *    by the end of a drain period. SERVER CPU = utime+stime of the server
 *    process (/proc/PID/stat, all threads) over the window, per thousand
 *    messages stored in it (customer messages sent + agent replies sent),
 *    with the busiest threads by name (/proc/PID/task/ * /stat; threads
 *    without a name are "main" and "thread#1", "#2"… in creation order: in
 *    hotline thread#1 is the store writer). For hotline also the store's
 *    own counters over the window (GET /metrics): commits per second, write
 *    jobs per commit (group commit), mean COMMIT time.
 * Last line: RESULT chat sessions=… p99_ms=… rss_kb_per_session=… vs_echo=…
 * for the largest session count reached (>= 99 % of the sessions active and
 * answers flowing), vs_echo = p99(hotline) / p99(echo) at that count.
 *
 * Client and server share this machine's cores (and with other users), so
 * the figures rank; the load average is printed with each step. Every loop
 * is bounded in count and time; the server is stopped and the temporary
 * directory removed on every exit path.
 */
#include "bench_util.h"
#include "chat_bench.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ADMIN_PASSWORD "bench-admin-Pass-7"
#define AGENT_PASSWORD "bench-agent-Pass-7"
#define WS_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define MAX_CUST_WORKERS 7
#define MAX_WORKERS (MAX_CUST_WORKERS + 1) /* worker 0 holds the agents */
#define SESSIONS_PER_WORKER 5000
#define MAX_SESSIONS (MAX_CUST_WORKERS * SESSIONS_PER_WORKER)
#define MAX_AGENTS 2000
#define AGENT_MAX_FPS 50   /* replies per second one simulated agent sends at most */
#define AGENT_CHAT_CAP 20  /* schema maximum of capacity.chat */
#define HANDSHAKES 200     /* per process in flight */
#define HTTP_POOL 32       /* the agent process's keep-alive connections */
#define LAT_CAP (1u << 20) /* latency samples per worker and kind */
#define RBUF_MAX (1u << 20)
#define SETUP_HELPERS 4
/* source addresses: agents 127.0.0.2, customer process k 127.0.0.(3 + k),
 * the master's and setup helpers' HTTP 127.0.0.10 */
#define SRC_AGENTS (INADDR_LOOPBACK + 1)
#define SRC_CUSTOMERS (INADDR_LOOPBACK + 2)
#define SRC_MASTER (INADDR_LOOPBACK + 9)

/* ---- small utilities ---------------------------------------------------- */

#define ADD(x, n) __atomic_fetch_add(&(x), (n), __ATOMIC_RELAXED)
#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

static bool has(const char *s, size_t n, const char *lit)
{
	return memmem(s, n, lit, strlen(lit)) != NULL;
}

/* ---- what the master and the workers share (one anonymous mapping) ----- */

enum { CMD_RUN, CMD_LOAD, CMD_STOP, CMD_EXIT };

struct wstat {
	/* written by the worker only */
	long conns, open, failed, dropped, started, active, hello, state_ok, offers, accepted,
		accept_fail, withdrawn, joined, sent, acked, replies, msgs_in, replies_sent, err_frames,
		rate_limited, unavailable, http_err, proto_err, sent_win, replies_win, acked_win,
		active_in_started;
	uint32_t nlat, nack;
	int first_status;
	char first_err[240];
	int done;
};

struct shm {
	int cmd;
	int64_t load_t0, win_t0, win_t1; /* monotonic ns, set before CMD_LOAD */
	struct wstat w[MAX_WORKERS];
	uint32_t lat[MAX_WORKERS][LAT_CAP]; /* round trips, µs */
	uint32_t ack[MAX_WORKERS][LAT_CAP]; /* own message acknowledged, µs */
	uint16_t lat_sec[MAX_WORKERS][LAT_CAP]; /* second of the window it was sent in */
};

struct agent_cred {
	int64_t user_id, agent_id;
	char token[128];
	int ok;
	char err[160];
};

enum { K_ECHO, K_HOTLINE, K_ECHO_POLL };
static const char *const kind_name[] = {"echo", "hotline", "echo-poll"};

static struct {
	struct bench_dirs dir; /* tmp, data, web, log */
	char self[PATH_MAX], server_bin[PATH_MAX];
	int kind;
	pid_t server;
	int port;
	char admin_token[256];
	int64_t queue_id;
	struct shm *shm;
	struct agent_cred *agents; /* shared mapping, MAX_AGENTS */
	int nagents, agent_cap;
	pid_t workers[MAX_WORKERS];
	int nworkers;
	bool keep, cleanup_armed, is_worker;
	char proc_comm[20]; /* the server's process name: threads that keep it are unnamed */
	long clk_tck;
} G;

static void kill_workers(void)
{
	for (int i = 0; i < G.nworkers; i++)
		if (G.workers[i] > 0) {
			kill(G.workers[i], SIGKILL);
			waitpid(G.workers[i], NULL, 0);
			G.workers[i] = 0;
		}
	G.nworkers = 0;
}

/* Stops the server: SIGTERM, then SIGKILL after 15 s. Returns seconds taken
 * (or -1 when it had to be killed). */
static double stop_server(void)
{
	if (G.server <= 0)
		return 0;
	int st = 0;
	double took = 0;
	if (!bench_stop_child(G.server, 15.0, &st, &took)) {
		took = -1;
	} else if ((WIFSIGNALED(st) && !(G.kind == K_ECHO && WTERMSIG(st) == SIGTERM)) ||
		   (WIFEXITED(st) && WEXITSTATUS(st) != 0)) {
		/* (the libev echo ends by the default SIGTERM action) */
		printf("   server stop: %s %d after %.2f s   <-- NOT CLEAN\n",
		       WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
		       took);
	}
	G.server = 0;
	return took;
}

static void cleanup(void)
{
	if (G.is_worker || !G.cleanup_armed)
		return;
	G.cleanup_armed = false;
	kill_workers();
	stop_server();
	if (G.dir.tmp[0] && !G.keep)
		bench_rm_rf(G.dir.tmp);
	else if (G.dir.tmp[0])
		fprintf(stderr, "chat bench: kept %s\n", G.dir.tmp);
}

__attribute__((format(printf, 1, 2), noreturn)) static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bench_vcomplain("chat bench", fmt, ap);
	va_end(ap);
	if (G.is_worker)
		_exit(1);
	if (G.kind == K_HOTLINE && G.dir.log[0])
		bench_print_log_tail(G.dir.log, 20);
	exit(1); /* atexit: workers, server, temporary directory */
}

/* ---- /proc ---------------------------------------------------------------- */

static long proc_rss_kb(pid_t pid)
{
	static const char *const key[] = {"VmRSS:"};
	long v;
	bench_proc_status(pid, key, &v, 1);
	return v;
}

/* utime+stime in clock ticks of /proc/PID/stat or /proc/PID/task/TID/stat;
 * comm copied when asked. */
static long stat_ticks(const char *path, char *comm, size_t csize)
{
	char buf[1024];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');
	if (!lp || !rp)
		return -1;
	if (comm)
		snprintf(comm, csize, "%.*s", (int)(rp - lp - 1), lp + 1);
	/* after ") ": state(3) ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime(14) stime(15) */
	char *p = rp + 2;
	for (int field = 3; field < 14 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p)
		return -1;
	char *end;
	long ut = strtol(p, &end, 10);
	long stt = strtol(end, NULL, 10);
	return ut + stt;
}

static long proc_ticks(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	return stat_ticks(path, NULL, 0);
}

#define MAX_THREADS 64
struct thread_cpu {
	int n;
	int tid[MAX_THREADS];
	long ticks[MAX_THREADS];
	char comm[MAX_THREADS][20];
};

static void thread_cpu(pid_t pid, struct thread_cpu *t)
{
	memset(t, 0, sizeof(*t));
	char path[96];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)) && t->n < MAX_THREADS) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		char sp[320];
		snprintf(sp, sizeof(sp), "/proc/%d/task/%s/stat", (int)pid, de->d_name);
		long v = stat_ticks(sp, t->comm[t->n], sizeof(t->comm[0]));
		if (v >= 0) {
			t->tid[t->n] = bench_int(de->d_name);
			t->ticks[t->n] = v;
			t->n++;
		}
	}
	closedir(d);
	/* in creation order; threads that kept the process name are unnamed:
	 * "main", then "thread#1", "thread#2", … (in hotline, thread#1 is the
	 * store writer: the store starts first, its writer before its readers) */
	for (int i = 1; i < t->n; i++)
		for (int j = i; j > 0 && t->tid[j] < t->tid[j - 1]; j--) {
			int ti = t->tid[j];
			long tk = t->ticks[j];
			char c[20];
			memcpy(c, t->comm[j], sizeof(c));
			t->tid[j] = t->tid[j - 1];
			t->ticks[j] = t->ticks[j - 1];
			memcpy(t->comm[j], t->comm[j - 1], sizeof(c));
			t->tid[j - 1] = ti;
			t->ticks[j - 1] = tk;
			memcpy(t->comm[j - 1], c, sizeof(c));
		}
	int unnamed = 0;
	for (int i = 0; i < t->n; i++) {
		if (t->tid[i] == (int)pid)
			snprintf(t->comm[i], sizeof(t->comm[i]), "main");
		else if (strcmp(t->comm[i], G.proc_comm) == 0)
			snprintf(t->comm[i], sizeof(t->comm[i]), "thread#%d", ++unnamed);
	}
}

static void loadavg(char *out, size_t size)
{
	FILE *f = fopen("/proc/loadavg", "r");
	double a = 0, b = 0, c = 0;
	if (f) {
		if (fscanf(f, "%lf %lf %lf", &a, &b, &c) != 3)
			a = b = c = 0;
		fclose(f);
	}
	snprintf(out, size, "%.2f %.2f %.2f", a, b, c);
}

/* ---- a minimal blocking HTTP/1.1 client for setup ------------------------ */

/* From another source address (SRC_MASTER): see bench_http_do. */
static int http_do(const char *method, const char *path, const char *token, const char *json,
		   struct bench_resp *r)
{
	return bench_http_do(G.port, SRC_MASTER, 20, method, path, token, json, r);
}

/* The integer field of a JSON answer, or -1. */
static int64_t json_int_of(const struct bench_resp *r, const char *key)
{
	json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
	int64_t v = -1;
	if (j && json_is_integer(json_object_get(j, key)))
		v = json_integer_value(json_object_get(j, key));
	json_decref(j);
	return v;
}

static int login(const char *user, const char *pass, char *tok, size_t size, char *err,
		 size_t esize)
{
	json_t *j = json_pack("{s:s, s:s}", "username", user, "password", pass);
	char *body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	struct bench_resp r;
	int rc = http_do("POST", "/api/v1/auth/login", NULL, body, &r);
	free(body);
	if (rc != 0 || r.status != 200) {
		snprintf(err, esize, "login %s: %d %.100s", user, rc ? -1 : r.status, r.body ? r.body : "");
		bench_resp_free(&r);
		return -1;
	}
	json_t *lj = json_loadb(r.body, r.body_len, 0, NULL);
	const char *t = json_string_value(json_object_get(lj, "token"));
	int ok = t && strlen(t) < size;
	if (ok)
		snprintf(tok, size, "%s", t);
	else
		snprintf(err, esize, "login %s: no token", user);
	json_decref(lj);
	bench_resp_free(&r);
	return ok ? 0 : -1;
}

/* ---- the client side: non-blocking WebSockets and HTTP over epoll ------- */

enum { ST_FREE, ST_CONNECTING, ST_HANDSHAKE, ST_OPEN, ST_DEAD };
enum { RO_CUSTOMER, RO_AGENT, RO_HTTP };
enum { CS_NONE, CS_START_SENT, CS_STARTED, CS_ACTIVE };

struct conn {
	int fd;
	uint8_t st, role, cs, busy;
	int idx;      /* session index (customer) or agent index */
	int64_t conv; /* customer: conversation id */
	uint32_t nmsg;
	char *rbuf, *wbuf;
	uint32_t rlen, rcap, wlen, wcap;
};

enum { HR_STATE, HR_ACCEPT };
struct hreq {
	uint8_t kind, tries;
	int agent;
	int64_t id, version;
};

/* One worker process's state. */
static struct {
	int wid, ep;
	struct wstat *st;
	struct conn *c;
	int nc;      /* conns in use (customers or agents, then the HTTP pool) */
	int nsess;   /* customers or agents this worker owns */
	int first;   /* global index of its first session / agent */
	uint32_t src; /* source address 127.0.0.x */
	int inflight, next_open;
	/* http queue (agent worker) */
	struct hreq *q;
	uint32_t qhead, qtail, qcap;
	int pool_first;
	uint32_t rng;
	/* load (customer workers) */
	double rt_rate; /* round trips per second for this worker */
	int64_t sent_total;
	int rr;
} W;

static void set_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_err(const char *fmt, ...)
{
	if (W.st->first_err[0])
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(W.st->first_err, sizeof(W.st->first_err), fmt, ap);
	va_end(ap);
	for (char *p = W.st->first_err; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
}

static void ep_mod(struct conn *c, int i, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)i};
	epoll_ctl(W.ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->rbuf);
	free(c->wbuf);
	c->rbuf = c->wbuf = NULL;
	c->rlen = c->rcap = c->wlen = c->wcap = 0;
}

static void http_conn_lost(int i);

/* A connection failed or was dropped. */
static void conn_dead(int i, const char *why)
{
	struct conn *c = &W.c[i];
	if (c->st == ST_DEAD || c->st == ST_FREE)
		return;
	if (c->role == RO_HTTP) {
		http_conn_lost(i);
		return;
	}
	bool was_open = c->st == ST_OPEN;
	if (c->st == ST_CONNECTING || c->st == ST_HANDSHAKE ||
	    (c->role == RO_CUSTOMER && c->cs == CS_START_SENT))
		W.inflight--;
	if (was_open) {
		ADD(W.st->open, -1);
		ADD(W.st->dropped, 1);
		if (c->role == RO_CUSTOMER && c->cs == CS_ACTIVE)
			ADD(W.st->active, -1);
	} else {
		ADD(W.st->failed, 1);
	}
	if (why)
		set_err("%s %d: %s", c->role == RO_AGENT ? "agent" : "customer", c->idx, why);
	conn_close(c);
	c->st = ST_DEAD;
}

static int conn_flush(int i)
{
	struct conn *c = &W.c[i];
	while (c->wlen) {
		ssize_t n = send(c->fd, c->wbuf, c->wlen, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			ep_mod(c, i, EPOLLIN | EPOLLOUT);
			return 0;
		}
		if (n <= 0)
			return -1;
		memmove(c->wbuf, c->wbuf + n, c->wlen - (size_t)n);
		c->wlen -= (uint32_t)n;
	}
	ep_mod(c, i, EPOLLIN);
	return 0;
}

static void conn_write(int i, const char *p, size_t n)
{
	struct conn *c = &W.c[i];
	if (c->fd < 0)
		return;
	if (!c->wlen) {
		ssize_t w;
		do
			w = send(c->fd, p, n, MSG_NOSIGNAL);
		while (w < 0 && errno == EINTR);
		if (w == (ssize_t)n)
			return;
		if (w < 0 && errno != EAGAIN) {
			conn_dead(i, strerror(errno));
			return;
		}
		if (w > 0) {
			p += w;
			n -= (size_t)w;
		}
	}
	if (c->wlen + n > c->wcap) {
		uint32_t cap = c->wcap ? c->wcap : 1024;
		while (cap < c->wlen + n)
			cap *= 2;
		if (cap > RBUF_MAX) {
			conn_dead(i, "output backlog over 1 MiB");
			return;
		}
		char *nb = realloc(c->wbuf, cap);
		if (!nb) {
			conn_dead(i, "out of memory");
			return;
		}
		c->wbuf = nb;
		c->wcap = cap;
	}
	memcpy(c->wbuf + c->wlen, p, n);
	c->wlen += (uint32_t)n;
	ep_mod(c, i, EPOLLIN | EPOLLOUT);
}

/* A masked client frame (opcode 1 text, 9/10 ping/pong, 8 close). */
static void ws_send(int i, int opcode, const char *p, size_t n)
{
	char stack[2048];
	char *f = n + 14 <= sizeof(stack) ? stack : malloc(n + 14);
	if (!f)
		return;
	size_t h = 0;
	f[h++] = (char)(0x80 | opcode);
	if (n < 126) {
		f[h++] = (char)(0x80 | n);
	} else if (n < 65536) {
		f[h++] = (char)(0x80 | 126);
		f[h++] = (char)(n >> 8);
		f[h++] = (char)(n & 0xff);
	} else {
		f[h++] = (char)(0x80 | 127);
		for (int k = 7; k >= 0; k--)
			f[h++] = (char)((uint64_t)n >> (8 * k));
	}
	W.rng = W.rng * 1664525u + 1013904223u;
	unsigned char m[4] = {(unsigned char)(W.rng >> 24), (unsigned char)(W.rng >> 16),
			      (unsigned char)(W.rng >> 8), (unsigned char)W.rng};
	memcpy(f + h, m, 4);
	h += 4;
	for (size_t k = 0; k < n; k++)
		f[h + k] = (char)(p[k] ^ m[k & 3]);
	conn_write(i, f, h + n);
	if (f != stack)
		free(f);
}

static int conn_start(int i)
{
	struct conn *c = &W.c[i];
	c->st = ST_CONNECTING;
	if (c->role != RO_HTTP) {
		W.inflight++; /* conn_dead() takes it back on failure */
		ADD(W.st->conns, 1);
	}
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		conn_dead(i, strerror(errno));
		return -1;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(W.src)};
	if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) != 0) {
		conn_dead(i, "bind to the source address failed");
		return -1;
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)G.port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int r = connect(c->fd, (struct sockaddr *)&sa, sizeof(sa));
	if (r != 0 && errno != EINPROGRESS) {
		conn_dead(i, strerror(errno));
		return -1;
	}
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)i};
	epoll_ctl(W.ep, EPOLL_CTL_ADD, c->fd, &ev);
	return 0;
}

static void send_upgrade(int i)
{
	struct conn *c = &W.c[i];
	char req[768];
	char path[400];
	if (c->role == RO_AGENT)
		snprintf(path, sizeof(path), "/api/v1/events?token=%s",
			 G.kind == K_HOTLINE ? G.agents[c->idx].token : "echo");
	else
		snprintf(path, sizeof(path), "/api/v1/chat/ws");
	int n = snprintf(req, sizeof(req),
			 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Key: " WS_KEY "\r\n"
			 "Sec-WebSocket-Version: 13\r\n%s\r\n",
			 path, G.port,
			 c->role == RO_CUSTOMER ? "Origin: http://shop.example\r\n" : "");
	c->st = ST_HANDSHAKE;
	conn_write(i, req, (size_t)n);
}

/* ---- the agent side -------------------------------------------------------- */

static void hq_push(uint8_t kind, int agent, int64_t id, int64_t version)
{
	if (W.qtail - W.qhead >= W.qcap) {
		ADD(W.st->http_err, 1);
		set_err("HTTP request queue full");
		return;
	}
	struct hreq *r = &W.q[W.qtail++ % W.qcap];
	r->kind = kind;
	r->tries = 0;
	r->agent = agent;
	r->id = id;
	r->version = version;
}

static void http_pump(void);

static void agent_frame(int i, const char *s, size_t n)
{
	struct conn *c = &W.c[i];
	if (has(s, n, "\"chat.message\"")) {
		if (!has(s, n, "\"from\":\"customer\"") || !has(s, n, "\"kind\":\"message\""))
			return;
		ADD(W.st->msgs_in, 1);
		int64_t conv = bench_num_field(s, n, "interaction");
		char cid[72], text[512];
		if (conv <= 0 || bench_str_field(s, n, "client_id", cid, sizeof(cid)) ||
		    bench_str_field(s, n, "text", text, sizeof(text))) {
			ADD(W.st->proto_err, 1);
			set_err("agent: cannot read chat.message: %.180s", s);
			return;
		}
		cid[0] = 'a';
		char out[700];
		int k = snprintf(out, sizeof(out),
				 "{\"type\":\"chat_message\",\"conversation\":%lld,\"client_id\":\"%s\","
				 "\"text\":\"%s\"}",
				 (long long)conv, cid, text);
		ws_send(i, 1, out, (size_t)k);
		ADD(W.st->replies_sent, 1);
		return;
	}
	if (has(s, n, "\"type\":\"offer\"")) {
		ADD(W.st->offers, 1);
		/* once per session: a real parser, so the offer's own "version"
		 * is not confused with the task's */
		json_t *j = json_loadb(s, n, 0, NULL);
		json_t *jid = json_object_get(j, "offer_id"), *jv = json_object_get(j, "version");
		int64_t id = json_is_integer(jid) ? json_integer_value(jid) : -1;
		int64_t ver = json_is_integer(jv) ? json_integer_value(jv) : -1;
		json_decref(j);
		if (id <= 0 || ver < 0) {
			ADD(W.st->proto_err, 1);
			set_err("agent: cannot read offer: %.180s", s);
			return;
		}
		hq_push(HR_ACCEPT, c->idx, id, ver);
		http_pump();
		return;
	}
	if (has(s, n, "\"type\":\"offer_withdrawn\"")) {
		ADD(W.st->withdrawn, 1);
		return;
	}
	if (has(s, n, "\"chat.joined\"")) {
		ADD(W.st->joined, 1);
		return;
	}
	if (has(s, n, "\"type\":\"hello\"")) {
		ADD(W.st->hello, 1);
		if (G.kind == K_HOTLINE) {
			hq_push(HR_STATE, c->idx, G.agents[c->idx].agent_id, 0);
			http_pump();
		} else {
			ADD(W.st->state_ok, 1);
		}
		return;
	}
	if (has(s, n, "\"type\":\"error\"")) {
		ADD(W.st->err_frames, 1);
		if (has(s, n, "rate_limited"))
			ADD(W.st->rate_limited, 1);
		set_err("agent stream error frame: %.180s", s);
	}
}

/* ---- the customer side ----------------------------------------------------- */

static void record(uint32_t *arr, uint32_t *count, int64_t sent_ns, int64_t now)
{
	uint32_t k = *count;
	if (k >= LAT_CAP)
		return;
	if (arr == G.shm->lat[W.wid]) {
		int64_t sec = (sent_ns - LOAD(G.shm->win_t0)) / 1000000000LL;
		G.shm->lat_sec[W.wid][k] = (uint16_t)(sec < 0 ? 0 : sec > 65535 ? 65535 : sec);
	}
	int64_t us = (now - sent_ns) / 1000;
	arr[k] = us < 0 ? 0 : (us > 0xffffffffLL ? 0xffffffffu : (uint32_t)us);
	STORE(*count, k + 1);
}

static void customer_frame(int i, const char *s, size_t n)
{
	struct conn *c = &W.c[i];
	struct shm *sh = G.shm;
	if (has(s, n, "\"type\":\"message\"")) {
		char text[512];
		if (bench_str_field(s, n, "text", text, sizeof(text))) {
			ADD(W.st->proto_err, 1);
			set_err("customer: message without text: %.180s", s);
			return;
		}
		int64_t t = strtoll(text, NULL, 10), now = bench_now_ns();
		bool in_win = t >= LOAD(sh->win_t0) && t < LOAD(sh->win_t1);
		if (has(s, n, "\"from\":\"agent\"")) {
			ADD(W.st->replies, 1);
			if (in_win) {
				record(sh->lat[W.wid], &W.st->nlat, t, now);
				ADD(W.st->replies_win, 1);
			}
		} else if (has(s, n, "\"from\":\"customer\"")) {
			ADD(W.st->acked, 1);
			if (in_win) {
				record(sh->ack[W.wid], &W.st->nack, t, now);
				ADD(W.st->acked_win, 1);
			}
		}
		return;
	}
	if (has(s, n, "\"type\":\"started\"")) {
		if (c->cs == CS_START_SENT) {
			W.inflight--;
			c->cs = CS_STARTED;
			c->conv = bench_num_field(s, n, "conversation");
			ADD(W.st->started, 1);
			/* an agent may have joined before the socket was attached:
			 * then "started" already says "active" and no "state"
			 * frame follows */
			if (has(s, n, "\"state\":\"active\"")) {
				c->cs = CS_ACTIVE;
				ADD(W.st->active, 1);
				ADD(W.st->active_in_started, 1);
			}
		}
		return;
	}
	if (has(s, n, "\"type\":\"state\"")) {
		if (has(s, n, "\"state\":\"active\"") && c->cs != CS_ACTIVE) {
			if (c->cs == CS_START_SENT) { /* no "started" seen: still count it */
				W.inflight--;
				ADD(W.st->started, 1);
			}
			c->cs = CS_ACTIVE;
			ADD(W.st->active, 1);
		} else if (has(s, n, "\"state\":\"ended\"") && c->cs == CS_ACTIVE) {
			c->cs = CS_STARTED;
			ADD(W.st->active, -1);
			set_err("customer %d: conversation ended by the server", c->idx);
		}
		return;
	}
	if (has(s, n, "\"type\":\"error\"")) {
		ADD(W.st->err_frames, 1);
		if (has(s, n, "\"rate_limited\""))
			ADD(W.st->rate_limited, 1);
		if (has(s, n, "\"unavailable\""))
			ADD(W.st->unavailable, 1);
		set_err("customer error frame: %.200s", s);
	}
}

static void customer_open(int i)
{
	struct conn *c = &W.c[i];
	char out[256];
	int k = snprintf(out, sizeof(out),
			 "{\"type\":\"start\",\"queue\":%lld,\"name\":\"Customer %d\",\"language\":\"en\"}",
			 (long long)G.queue_id, c->idx);
	c->cs = CS_START_SENT;
	ws_send(i, 1, out, (size_t)k);
}

/* Sends one customer message from session i, stamped with the send time. */
static void customer_send(int i, int64_t now)
{
	struct conn *c = &W.c[i];
	struct shm *sh = G.shm;
	char out[256];
	uint32_t k = ++c->nmsg;
	/* ~110 bytes of frame: a short chat line */
	int len = snprintf(out, sizeof(out),
			   "{\"type\":\"message\",\"client_id\":\"c%u\",\"text\":\"%lld Hi, my order "
			   "has not arrived yet, can you check it please\"}",
			   k, (long long)now);
	ws_send(i, 1, out, (size_t)len);
	ADD(W.st->sent, 1);
	if (now >= LOAD(sh->win_t0) && now < LOAD(sh->win_t1))
		ADD(W.st->sent_win, 1);
}

/* ---- frames and handshakes -------------------------------------------------- */

static void ws_frames(int i)
{
	struct conn *c = &W.c[i];
	uint32_t off = 0;
	while (c->st == ST_OPEN && c->rlen - off >= 2) {
		const unsigned char *f = (const unsigned char *)c->rbuf + off;
		size_t have = c->rlen - off, hl = 2;
		uint64_t plen = f[1] & 0x7f;
		if (plen == 126) {
			if (have < 4)
				break;
			plen = ((uint64_t)f[2] << 8) | f[3];
			hl = 4;
		} else if (plen == 127) {
			if (have < 10)
				break;
			plen = 0;
			for (int k = 0; k < 8; k++)
				plen = (plen << 8) | f[2 + k];
			hl = 10;
		}
		if (f[1] & 0x80) {
			ADD(W.st->proto_err, 1);
			conn_dead(i, "masked frame from the server");
			return;
		}
		if (plen > RBUF_MAX) {
			conn_dead(i, "frame too long");
			return;
		}
		if (have < hl + plen)
			break;
		int op = f[0] & 0x0f;
		bool fin = (f[0] & 0x80) != 0;
		const char *p = (const char *)f + hl;
		if (!fin || op == 0) {
			ADD(W.st->proto_err, 1);
			set_err("fragmented frame from the server (not handled)");
		} else if (op == 1) {
			if (c->role == RO_AGENT)
				agent_frame(i, p, (size_t)plen);
			else
				customer_frame(i, p, (size_t)plen);
		} else if (op == 9) {
			ws_send(i, 10, p, (size_t)plen);
		} else if (op == 8) {
			char why[160];
			int code = plen >= 2 ? ((unsigned char)p[0] << 8 | (unsigned char)p[1]) : 0;
			snprintf(why, sizeof(why), "closed by the server (code %d %.*s)", code,
				 plen > 2 ? (int)(plen - 2 > 100 ? 100 : plen - 2) : 0, p + 2);
			conn_dead(i, why);
			return;
		}
		off += (uint32_t)(hl + plen);
	}
	if (c->st != ST_OPEN)
		return;
	if (off) {
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= off;
	}
}

static void handshake(int i)
{
	struct conn *c = &W.c[i];
	char *eoh = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
	if (!eoh) {
		if (c->rlen > 8192)
			conn_dead(i, "handshake answer too long");
		return;
	}
	if (c->rlen < 12 || strncmp(c->rbuf, "HTTP/1.1 101", 12) != 0) {
		int status = c->rlen >= 12 ? bench_int(c->rbuf + 9) : 0;
		if (!W.st->first_status)
			W.st->first_status = status;
		char line[120];
		snprintf(line, sizeof(line), "upgrade answered %.*s", (int)strcspn(c->rbuf, "\r\n"),
			 c->rbuf);
		conn_dead(i, line);
		return;
	}
	uint32_t hlen = (uint32_t)(eoh + 4 - c->rbuf);
	memmove(c->rbuf, c->rbuf + hlen, c->rlen - hlen);
	c->rlen -= hlen;
	c->st = ST_OPEN;
	ADD(W.st->open, 1);
	if (c->role == RO_CUSTOMER) {
		customer_open(i); /* stays in flight until "started" */
	} else {
		W.inflight--;
	}
	ws_frames(i);
}

/* ---- the agents' HTTP pool ---------------------------------------------------- */

static struct hreq g_inflight[HTTP_POOL];

/* Sends the request at the head of the queue on pool connection i. */
static void http_send(int i)
{
	struct conn *c = &W.c[i];
	if (W.qhead == W.qtail || c->busy || c->st != ST_OPEN)
		return;
	struct hreq *r = &g_inflight[i - W.pool_first];
	*r = W.q[W.qhead % W.qcap];
	W.qhead++;
	char body[96], req[1024], path[128];
	const char *method;
	int bn;
	if (r->kind == HR_STATE) {
		method = "PUT";
		snprintf(path, sizeof(path), "/api/v1/agents/%lld/state", (long long)r->id);
		bn = snprintf(body, sizeof(body), "{\"state\":\"available\"}");
	} else {
		method = "POST";
		snprintf(path, sizeof(path), "/api/v1/offers/%lld/accept", (long long)r->id);
		bn = snprintf(body, sizeof(body), "{\"version\":%lld}", (long long)r->version);
	}
	int n = snprintf(req, sizeof(req),
			 "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
			 "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			 method, path, G.port, G.agents[r->agent].token, bn, body);
	c->busy = 1;
	conn_write(i, req, (size_t)n);
}

/* Sends what is queued on idle pool connections; reconnects lost ones. */
static void http_pump(void)
{
	for (int k = 0; k < HTTP_POOL && W.qhead != W.qtail; k++) {
		int i = W.pool_first + k;
		struct conn *c = &W.c[i];
		if (c->st == ST_DEAD || c->st == ST_FREE) {
			c->busy = 0;
			conn_start(i);
			continue;
		}
		if (c->st == ST_OPEN && !c->busy)
			http_send(i);
	}
}

static void http_conn_lost(int i)
{
	struct conn *c = &W.c[i];
	int k = i - W.pool_first;
	if (c->busy) {
		struct hreq r = g_inflight[k];
		if (++r.tries <= 3) {
			/* put it back at the head */
			W.qhead--;
			W.q[W.qhead % W.qcap] = r;
		} else {
			ADD(W.st->http_err, 1);
			set_err("HTTP request failed 3 times (connection lost)");
		}
	}
	conn_close(c);
	c->busy = 0;
	c->st = ST_DEAD;
}

static void http_done(int i, int status, const char *body, size_t blen)
{
	struct conn *c = &W.c[i];
	struct hreq *r = &g_inflight[i - W.pool_first];
	c->busy = 0;
	if (r->kind == HR_STATE) {
		if (status == 200) {
			ADD(W.st->state_ok, 1);
		} else {
			ADD(W.st->http_err, 1);
			set_err("PUT state of agent %lld: %d %.150s", (long long)r->id, status, body);
		}
	} else {
		if (status == 200) {
			ADD(W.st->accepted, 1);
		} else {
			ADD(W.st->accept_fail, 1);
			set_err("accept offer %lld: %d %.150s", (long long)r->id, status, body);
		}
	}
	(void)blen;
}

static void http_read(int i)
{
	struct conn *c = &W.c[i];
	for (;;) {
		char *eoh = c->rlen ? memmem(c->rbuf, c->rlen, "\r\n\r\n", 4) : NULL;
		if (!eoh)
			return;
		size_t hlen = (size_t)(eoh + 4 - c->rbuf);
		*eoh = '\0';
		int status = bench_int(c->rbuf + 9);
		char *cl = strcasestr(c->rbuf, "\r\ncontent-length:");
		bool chunked = strcasestr(c->rbuf, "\r\ntransfer-encoding: chunked") != NULL;
		bool closing = strcasestr(c->rbuf, "\r\nconnection: close") != NULL;
		*eoh = '\r';
		size_t total, blen;
		const char *body = c->rbuf + hlen;
		if (cl) {
			blen = (size_t)strtoul(cl + 17, NULL, 10);
			total = hlen + blen;
			if (c->rlen < total)
				return;
		} else if (chunked) {
			char *end = memmem(c->rbuf + hlen, c->rlen - hlen, "0\r\n\r\n", 5);
			if (!end)
				return;
			total = (size_t)(end + 5 - c->rbuf);
			blen = total - hlen;
		} else {
			return; /* until EOF */
		}
		char save = c->rbuf[total - 1];
		c->rbuf[total - 1] = '\0';
		http_done(i, status, body, blen);
		c->rbuf[total - 1] = save;
		memmove(c->rbuf, c->rbuf + total, c->rlen - total);
		c->rlen -= (uint32_t)total;
		if (closing) {
			conn_close(c);
			c->st = ST_DEAD;
			return;
		}
	}
}

/* ---- the event loop ------------------------------------------------------------- */

static void on_event(int i, uint32_t events)
{
	struct conn *c = &W.c[i];
	if (c->st == ST_DEAD || c->st == ST_FREE || c->fd < 0)
		return;
	if (c->st == ST_CONNECTING) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		int err = 0;
		socklen_t el = sizeof(err);
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err) {
			conn_dead(i, strerror(err));
			return;
		}
		if (c->role == RO_HTTP) {
			c->st = ST_OPEN;
			ep_mod(c, i, EPOLLIN);
			http_send(i);
		} else {
			send_upgrade(i);
			if (c->st == ST_HANDSHAKE && !c->wlen)
				ep_mod(c, i, EPOLLIN);
		}
		return;
	}
	if (events & EPOLLOUT) {
		if (conn_flush(i) != 0) {
			conn_dead(i, "write failed");
			return;
		}
	}
	if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		return;
	for (int rounds = 0; rounds < 16 && c->fd >= 0; rounds++) {
		if (c->rcap - c->rlen < 4096) {
			uint32_t cap = c->rcap ? c->rcap * 2 : 8192;
			if (cap > RBUF_MAX) {
				conn_dead(i, "input over 1 MiB without a whole frame");
				return;
			}
			char *nb = realloc(c->rbuf, cap);
			if (!nb) {
				conn_dead(i, "out of memory");
				return;
			}
			c->rbuf = nb;
			c->rcap = cap;
		}
		ssize_t n = recv(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			conn_dead(i, n == 0 ? "connection closed by the server" : strerror(errno));
			return;
		}
		c->rlen += (uint32_t)n;
		if (c->role == RO_HTTP)
			http_read(i);
		else if (c->st == ST_HANDSHAKE)
			handshake(i);
		else if (c->st == ST_OPEN)
			ws_frames(i);
		if ((size_t)n < 4096)
			break;
	}
	if (c->role == RO_HTTP && c->st == ST_OPEN && !c->busy)
		http_send(i);
}

/* Worker main: role agent (wid 0) or customers (wid >= 1). Never returns. */
static void worker_main(int wid, int first, int count, uint32_t src, double rt_rate)
{
	G.is_worker = true;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGINT, SIG_IGN); /* the master decides */
	memset(&W, 0, sizeof(W));
	W.wid = wid;
	W.st = &G.shm->w[wid];
	W.first = first;
	W.nsess = count;
	W.src = src;
	W.rt_rate = rt_rate;
	W.rng = (uint32_t)(getpid() * 2654435761u);
	bool agents = wid == 0;
	int pool = agents && G.kind == K_HOTLINE ? HTTP_POOL : 0;
	W.nc = count + pool;
	W.c = calloc((size_t)W.nc, sizeof(*W.c));
	W.ep = epoll_create1(EPOLL_CLOEXEC);
	if (!W.c || W.ep < 0)
		fail("worker %d: out of memory", wid);
	for (int i = 0; i < W.nc; i++) {
		W.c[i].fd = -1;
		W.c[i].idx = i < count ? first + i : -1;
		W.c[i].role = i < count ? (agents ? RO_AGENT : RO_CUSTOMER) : RO_HTTP;
	}
	W.pool_first = count;
	if (pool) {
		W.qcap = 1u << 16;
		W.q = calloc(W.qcap, sizeof(*W.q));
		if (!W.q)
			fail("worker %d: out of memory", wid);
		for (int k = 0; k < pool; k++)
			conn_start(count + k);
	}
	struct epoll_event evs[512];
	int64_t t_start = bench_now_ns();
	int64_t last_cmd_change = t_start;
	int prev_cmd = -1;
	for (;;) {
		int cmd = LOAD(G.shm->cmd);
		int64_t now = bench_now_ns();
		if (cmd != prev_cmd) {
			prev_cmd = cmd;
			last_cmd_change = now;
		}
		/* bounded: the master moves on within minutes; if it does not, stop */
		if (cmd == CMD_EXIT || now - last_cmd_change > 900LL * 1000000000LL)
			break;
		while (W.inflight < HANDSHAKES && W.next_open < count)
			conn_start(W.next_open++);
		int timeout = 20;
		if (cmd == CMD_LOAD && !agents && W.rt_rate > 0) {
			int64_t t0 = LOAD(G.shm->load_t0);
			int64_t due = now > t0 ? (int64_t)((double)(now - t0) * 1e-9 * W.rt_rate) : 0;
			int burst = 0;
			while (W.sent_total < due && burst < 2000) {
				int tries = 0;
				while (tries < count && W.c[W.rr].cs != CS_ACTIVE) {
					W.rr = (W.rr + 1) % count;
					tries++;
				}
				if (tries >= count)
					break;
				customer_send(W.rr, now);
				W.rr = (W.rr + 1) % count;
				W.sent_total++;
				burst++;
			}
			if (W.sent_total < due)
				W.sent_total = due; /* nobody active or far behind: do not burst */
			double gap_ms = 1000.0 / W.rt_rate;
			timeout = gap_ms < 1.0 ? 0 : (gap_ms > 20 ? 20 : (int)gap_ms);
			if (timeout == 0)
				timeout = 1;
		}
		int k = epoll_wait(W.ep, evs, 512, timeout);
		for (int j = 0; j < k; j++)
			on_event((int)evs[j].data.u32, evs[j].events);
		if (pool)
			http_pump();
	}
	for (int i = 0; i < W.nc; i++)
		if (W.c[i].fd >= 0)
			close(W.c[i].fd);
	STORE(W.st->done, 1);
	_exit(0);
}

/* ---- the master ------------------------------------------------------------------ */

static int free_port(void)
{
	int port = bench_free_port();
	if (port < 0)
		fail("cannot find a free port: %s", strerror(errno));
	return port;
}

static bool server_alive(void)
{
	int st;
	if (G.server <= 0)
		return false;
	if (bench_child_exited(G.server, &st)) {
		G.server = 0;
		if (WIFSIGNALED(st))
			printf("   server CRASHED: killed by signal %d (%s)\n", WTERMSIG(st),
			       strsignal(WTERMSIG(st)));
		else
			printf("   server exited with status %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		return false;
	}
	return true;
}

static bool healthz_ok(void)
{
	struct bench_resp r;
	bool ok = http_do("GET", "/healthz", NULL, NULL, &r) == 0 && r.status == 200;
	bench_resp_free(&r);
	return ok;
}

static int start_server(int kind)
{
	G.kind = kind;
	G.port = free_port();
	char port[16];
	snprintf(port, sizeof(port), "%d", G.port);
	if (kind == K_HOTLINE) {
		bench_rm_rf(G.dir.data);
		if (mkdir(G.dir.data, 0700) != 0)
			fail("mkdir %s: %s", G.dir.data, strerror(errno));
	}
	if (kind == K_HOTLINE) {
		char *argv[] = {G.server_bin, "serve",     "--data",    G.dir.data,
				"--http-port", port,       "--bind",    "127.0.0.1",
				"--sip-port",  "0",        "--web",     G.dir.web,
				NULL};
		G.server = bench_spawn_server(G.dir.log, argv, "HOTLINE_ADMIN_PASSWORD", ADMIN_PASSWORD);
	} else {
		char *argv[] = {G.self, "--echo-server", port, kind == K_ECHO ? "ev" : NULL, NULL};
		G.server = bench_spawn_server(G.dir.log, argv, NULL, NULL);
	}
	if (G.server < 0) {
		G.server = 0;
		fail("fork: %s", strerror(errno));
	}
	int rc = bench_wait_ready(server_alive, healthz_ok, 15.0);
	if (rc == -2)
		fail("interrupted");
	if (rc == -3)
		printf("   server did not answer /healthz with 200 within 15 s\n");
	return rc == 0 ? 0 : -1;
}

/* One agent user, its agent record and its login (in a setup helper
 * process; the result goes to G.agents, shared with the parent). */
static void setup_agent(int i, void *arg)
{
	int cap = *(const int *)arg;
	struct agent_cred *a = &G.agents[i];
	char uname[64], name[64];
	snprintf(uname, sizeof(uname), "bench-agent-%d", i);
	snprintf(name, sizeof(name), "Agent %d", i);
	json_t *u = json_pack("{s:s, s:s, s:s, s:s}", "username", uname, "role",
			      "agent", "display_name", name, "password",
			      AGENT_PASSWORD);
	char *ub = json_dumps(u, JSON_COMPACT);
	json_decref(u);
	struct bench_resp ur;
	int urc = http_do("POST", "/api/v1/users", G.admin_token, ub, &ur);
	free(ub);
	if (urc || ur.status != 201) {
		snprintf(a->err, sizeof(a->err), "POST /users: %d %.100s",
			 urc ? -1 : ur.status, ur.body ? ur.body : "");
		bench_resp_free(&ur);
		return;
	}
	a->user_id = json_int_of(&ur, "id");
	bench_resp_free(&ur);
	/* languages: a chat task requires the conversation's */
	json_t *ag = json_pack("{s:s, s:I, s:{s:i}, s:[I], s:[s]}", "name", name,
			       "user_id", (json_int_t)a->user_id, "capacity",
			       "chat", cap, "queues", (json_int_t)G.queue_id,
			       "languages", "en");
	char *ab = json_dumps(ag, JSON_COMPACT);
	json_decref(ag);
	struct bench_resp ar;
	int arc = http_do("POST", "/api/v1/agents", G.admin_token, ab, &ar);
	free(ab);
	if (arc || ar.status != 201) {
		snprintf(a->err, sizeof(a->err), "POST /agents: %d %.100s",
			 arc ? -1 : ar.status, ar.body ? ar.body : "");
		bench_resp_free(&ar);
		return;
	}
	a->agent_id = json_int_of(&ar, "id");
	bench_resp_free(&ar);
	if (login(uname, AGENT_PASSWORD, a->token, sizeof(a->token), a->err,
		  sizeof(a->err)) == 0)
		a->ok = 1;
}

/* Admin login, the chat queue, A agent users with agent records, their
 * logins (SETUP_HELPERS processes in parallel). */
static int setup_hotline(int nagents, int cap)
{
	char err[200];
	if (login("admin", ADMIN_PASSWORD, G.admin_token, sizeof(G.admin_token), err, sizeof(err))) {
		printf("   setup: %s\n", err);
		return -1;
	}
	json_t *q = json_pack("{s:s, s:s, s:[s], s:s, s:i, s:i}", "name", "Bench chat", "description",
			      "bench/chat load", "channels", "chat", "strategy", "least_occupied",
			      "offer_timeout_seconds", 300, "wrap_up_seconds", 0);
	char *body = json_dumps(q, JSON_COMPACT);
	json_decref(q);
	struct bench_resp r;
	int rc = http_do("POST", "/api/v1/queues", G.admin_token, body, &r);
	free(body);
	if (rc || r.status != 201) {
		printf("   setup: POST /api/v1/queues: %d %.200s\n", rc ? -1 : r.status,
		       r.body ? r.body : "");
		bench_resp_free(&r);
		return -1;
	}
	G.queue_id = json_int_of(&r, "id");
	bench_resp_free(&r);

	memset(G.agents, 0, sizeof(*G.agents) * MAX_AGENTS);
	double t0 = bench_now_s();
	/* bounded: 120 s plus 0.1 s per agent */
	(void)bench_fork_each(SETUP_HELPERS, nagents, 120.0 + 0.1 * nagents, &G.is_worker, setup_agent,
			      &cap);
	int ok = 0;
	const char *first_err = NULL;
	for (int i = 0; i < nagents; i++) {
		if (G.agents[i].ok)
			ok++;
		else if (!first_err)
			first_err = G.agents[i].err[0] ? G.agents[i].err : "not done in time";
	}
	printf("   setup: queue %lld; %d of %d agents (capacity chat %d) created and logged in "
	       "in %.1f s%s%s\n",
	       (long long)G.queue_id, ok, nagents, cap, bench_now_s() - t0,
	       first_err ? "; first error: " : "", first_err ? first_err : "");
	return ok == nagents ? 0 : -1;
}

static pid_t spawn_worker(int wid, int first, int count, uint32_t src, double rt_rate)
{
	pid_t pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0)
		worker_main(wid, first, count, src, rt_rate);
	G.workers[G.nworkers++] = pid;
	return pid;
}

static void stop_workers(void)
{
	STORE(G.shm->cmd, CMD_EXIT);
	double t0 = bench_now_s();
	for (int i = 0; i < G.nworkers; i++) {
		while (G.workers[i] > 0 && bench_now_s() - t0 < 10.0) {
			if (waitpid(G.workers[i], NULL, WNOHANG) == G.workers[i]) {
				G.workers[i] = 0;
				break;
			}
			bench_sleep_s(0.01);
		}
	}
	kill_workers();
}

static long sum_field(size_t off, int from, int to)
{
	long s = 0;
	for (int w = from; w < to; w++)
		s += __atomic_load_n((long *)((char *)&G.shm->w[w] + off), __ATOMIC_RELAXED);
	return s;
}
#define SUM(field, from, to) sum_field(offsetof(struct wstat, field), (from), (to))

static const char *first_error(int from, int to)
{
	for (int w = from; w < to; w++)
		if (G.shm->w[w].first_err[0])
			return G.shm->w[w].first_err;
	return NULL;
}

/* The server's own counters (hotline only): store commits, write jobs,
 * time in COMMIT, events written to sockets. */
struct srv_metrics {
	bool ok;
	double commits, jobs, commit_s, ws_sent;
};

static double metric_of(const char *text, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

static struct srv_metrics read_metrics(void)
{
	struct srv_metrics m = {0};
	struct bench_resp r = {0};
	if (G.kind == K_HOTLINE && http_do("GET", "/metrics", NULL, NULL, &r) == 0 && r.status == 200) {
		m.commits = metric_of(r.body, "hotline_store_commits_total");
		m.jobs = metric_of(r.body, "hotline_store_jobs_total");
		m.commit_s = metric_of(r.body, "hotline_store_commit_duration_seconds_sum");
		m.ws_sent = metric_of(r.body, "hotline_ws_events_sent_total");
		m.ok = m.commits >= 0 && m.jobs >= 0;
	}
	bench_resp_free(&r);
	return m;
}

/* Errors and warnings the server logged: under load these are findings. */
static void scan_log(void)
{
	FILE *f = fopen(G.dir.log, "r");
	if (!f)
		return;
	char line[1024];
	long errs = 0, warns = 0;
	int shown = 0;
	while (fgets(line, sizeof(line), f)) {
		bool e = strstr(line, "level=error") != NULL, wn = strstr(line, "level=warn") != NULL;
		errs += e;
		warns += wn;
		if ((e || wn) && shown < 3) {
			printf("   server log: %s", line);
			shown++;
		}
	}
	fclose(f);
	if (errs || warns)
		printf("   server log: %ld errors, %ld warnings\n", errs, warns);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

struct pct {
	long n;
	double p50, p90, p99, p999, max;
};

static struct pct percentiles(bool acks, int ncw)
{
	struct pct p = {0, -1, -1, -1, -1, -1};
	long total = 0;
	for (int w = 1; w <= ncw; w++)
		total += acks ? LOAD(G.shm->w[w].nack) : LOAD(G.shm->w[w].nlat);
	if (!total)
		return p;
	uint32_t *all = malloc((size_t)total * sizeof(*all));
	if (!all)
		return p;
	long k = 0;
	for (int w = 1; w <= ncw; w++) {
		uint32_t n = acks ? LOAD(G.shm->w[w].nack) : LOAD(G.shm->w[w].nlat);
		memcpy(all + k, acks ? G.shm->ack[w] : G.shm->lat[w], n * sizeof(*all));
		k += n;
	}
	qsort(all, (size_t)total, sizeof(*all), cmp_u32);
	p.n = total;
#define AT(q) ((double)all[(long)((double)(total - 1) * (q))] / 1000.0)
	p.p50 = AT(0.50);
	p.p90 = AT(0.90);
	p.p99 = AT(0.99);
	p.p999 = AT(0.999);
	p.max = (double)all[total - 1] / 1000.0;
#undef AT
	free(all);
	return p;
}

/* Round trips by the second of the window they were sent in: shows whether
 * latency is steady or a queue grows (--timeline). */
static void print_timeline(int ncw, double secs)
{
	int nsec = (int)secs + 1;
	if (nsec > 600)
		nsec = 600;
	printf("   timeline (by send second): p50/p99 ms");
	for (int sec = 0; sec < nsec; sec++) {
		long total = 0;
		for (int w = 1; w <= ncw; w++) {
			uint32_t n = LOAD(G.shm->w[w].nlat);
			for (uint32_t i = 0; i < n; i++)
				total += G.shm->lat_sec[w][i] == sec;
		}
		if (!total)
			continue;
		uint32_t *v = malloc((size_t)total * sizeof(*v));
		if (!v)
			return;
		long k = 0;
		for (int w = 1; w <= ncw; w++) {
			uint32_t n = LOAD(G.shm->w[w].nlat);
			for (uint32_t i = 0; i < n; i++)
				if (G.shm->lat_sec[w][i] == sec)
					v[k++] = G.shm->lat[w][i];
		}
		qsort(v, (size_t)total, sizeof(*v), cmp_u32);
		printf(" %s%d:%.0f/%.0f", sec % 5 == 0 ? "\n     " : "", sec,
		       (double)v[(total - 1) / 2] / 1000.0,
		       (double)v[(long)((double)(total - 1) * 0.99)] / 1000.0);
		free(v);
	}
	printf("\n");
}

struct step {
	bool ran, reached;
	int asked, active;
	double open_s, kb_per_session;
	long rss_before, rss_after;
	struct pct rt, ack;
	double rate_msgs, cpu_ms_per_k, cpu_pct, client_cpu_pct;
	long lost, sent_win;
};

struct cfg {
	double rate; /* messages per second, both directions */
	double warmup, duration, drain, settle;
	int agents_override;
	bool quick, timeline;
};

static void print_threads(const struct thread_cpu *a, const struct thread_cpu *b, double secs)
{
	/* name: CPU% over the window, busiest first (threads of the same name summed) */
	char names[MAX_THREADS][20];
	double pct[MAX_THREADS];
	int n = 0;
	for (int i = 0; i < b->n; i++) {
		long before = 0;
		for (int j = 0; j < a->n; j++)
			if (a->tid[j] == b->tid[i])
				before = a->ticks[j];
		double v = (double)(b->ticks[i] - before) / (double)G.clk_tck / secs * 100.0;
		int k = 0;
		while (k < n && strcmp(names[k], b->comm[i]) != 0)
			k++;
		if (k == n) {
			snprintf(names[n], sizeof(names[n]), "%s", b->comm[i]);
			pct[n++] = 0;
		}
		pct[k] += v;
	}
	printf("   server threads (%% of one core):");
	for (int shown = 0; shown < 6; shown++) {
		int best = -1;
		for (int k = 0; k < n; k++)
			if (pct[k] >= 0 && (best < 0 || pct[k] > pct[best]))
				best = k;
		if (best < 0 || pct[best] < 0.5)
			break;
		printf(" %s %.0f", names[best], pct[best]);
		pct[best] = -1;
	}
	printf("\n");
}

/* One server at one session count. */
static void run_step(int kind, int n, const struct cfg *cf, struct step *s)
{
	memset(s, 0, sizeof(*s));
	s->asked = n;
	char la[64];
	loadavg(la, sizeof(la));
	double rt_rate = cf->rate / 2.0;
	int nagents = cf->agents_override > 0 ? cf->agents_override
					      : (int)((n + AGENT_CHAT_CAP - 1) / AGENT_CHAT_CAP);
	int by_rate = (int)((rt_rate + AGENT_MAX_FPS - 1) / AGENT_MAX_FPS);
	if (cf->agents_override <= 0 && nagents < by_rate)
		nagents = by_rate;
	if (nagents > n)
		nagents = n;
	if (nagents > MAX_AGENTS)
		nagents = MAX_AGENTS;
	int cap = (n + nagents - 1) / nagents;
	if (cap > AGENT_CHAT_CAP) {
		printf("== %s %d sessions: %d agents x capacity %d is not enough; skipped\n",
		       kind_name[kind], n, nagents, AGENT_CHAT_CAP);
		return;
	}
	printf("== %s, %d sessions, %d agents (load average %s)\n", kind_name[kind], n, nagents, la);
	memset(G.shm, 0, offsetof(struct shm, lat));
	G.shm->win_t0 = G.shm->win_t1 = INT64_MAX;
	double t_start = bench_now_s();
	if (start_server(kind) != 0) {
		bench_print_log_tail(G.dir.log, 20);
		return;
	}
	s->ran = true;
	if (kind == K_HOTLINE && setup_hotline(nagents, cap) != 0) {
		bench_print_log_tail(G.dir.log, 10);
		stop_server();
		return;
	}

	/* agents */
	G.nworkers = 0;
	spawn_worker(0, 0, nagents, SRC_AGENTS, 0);
	double t0 = bench_now_s();
	while (SUM(state_ok, 0, 1) + SUM(failed, 0, 1) < nagents && bench_now_s() - t0 < 60.0 &&
	       !bench_stop && server_alive())
		bench_sleep_s(0.02);
	long ready = SUM(state_ok, 0, 1);
	printf("   agents: %ld of %d streams open with hello%s in %.1f s\n", SUM(hello, 0, 1), nagents,
	       kind == K_HOTLINE ? " and set available" : "", bench_now_s() - t0);
	if (ready < nagents) {
		const char *e = first_error(0, 1);
		printf("   agents not ready (%ld of %d); first error: %s\n", ready, nagents,
		       e ? e : "none (timed out)");
		stop_workers();
		stop_server();
		return;
	}
	bench_sleep_s(cf->settle);
	s->rss_before = proc_rss_kb(G.server);
	{
		char sp[64];
		snprintf(sp, sizeof(sp), "/proc/%d/stat", (int)G.server);
		stat_ticks(sp, G.proc_comm, sizeof(G.proc_comm));
	}

	/* customers */
	int ncw = (n + SESSIONS_PER_WORKER - 1) / SESSIONS_PER_WORKER;
	for (int w = 0; w < ncw; w++) {
		int first = w * n / ncw, last = (w + 1) * n / ncw;
		spawn_worker(1 + w, first, last - first, SRC_CUSTOMERS + (uint32_t)w,
			     rt_rate * (double)(last - first) / (double)n);
	}
	t0 = bench_now_s();
	double limit = 30.0 + (double)n / 200.0;
	long active = 0, failed = 0;
	double last_progress = t0;
	long last_active = -1;
	while (!bench_stop) {
		active = SUM(active, 1, 1 + ncw);
		failed = SUM(failed, 1, 1 + ncw) + SUM(dropped, 1, 1 + ncw);
		if (active != last_active) {
			last_active = active;
			last_progress = bench_now_s();
		}
		if (active + failed >= n || bench_now_s() - t0 > limit || !server_alive())
			break;
		/* no new active session for 20 s: give up waiting */
		if (bench_now_s() - last_progress > 20.0)
			break;
		bench_sleep_s(0.05);
	}
	s->open_s = bench_now_s() - t0;
	s->active = (int)active;
	long started = SUM(started, 1, 1 + ncw);
	printf("   sessions: %ld of %d active (%ld started, %ld failed) in %.1f s (%.0f/s)", active, n,
	       started, failed, s->open_s, s->open_s > 0 ? (double)active / s->open_s : 0.0);
	if (SUM(active_in_started, 1, 1 + ncw))
		printf("; %ld were already active in \"started\"", SUM(active_in_started, 1, 1 + ncw));
	if (kind == K_HOTLINE)
		printf("; offers %ld, accepted %ld, accept errors %ld, withdrawn %ld",
		       SUM(offers, 0, 1), SUM(accepted, 0, 1), SUM(accept_fail, 0, 1),
		       SUM(withdrawn, 0, 1));
	printf("\n");
	const char *e = first_error(0, 1 + ncw);
	if (e)
		printf("   first error: %s\n", e);
	if (!server_alive() || active == 0) {
		if (kind == K_HOTLINE && SUM(open, 1, 1 + ncw) == 0 && G.shm->w[1].first_status)
			printf("   the widget WebSocket /api/v1/chat/ws answered %d: not there yet?\n",
			       G.shm->w[1].first_status);
		stop_workers();
		stop_server();
		return;
	}
	bench_sleep_s(cf->settle);
	s->rss_after = proc_rss_kb(G.server);
	s->kb_per_session = (double)(s->rss_after - s->rss_before) / (double)active;
	printf("   rss: %.1f MB with agents only, %.1f MB with %ld sessions: %.2f KB per session\n",
	       (double)s->rss_before / 1024.0, (double)s->rss_after / 1024.0, active,
	       s->kb_per_session);

	/* messages */
	int64_t now = bench_now_ns();
	STORE(G.shm->load_t0, now);
	STORE(G.shm->win_t0, now + (int64_t)(cf->warmup * 1e9));
	STORE(G.shm->win_t1, now + (int64_t)((cf->warmup + cf->duration) * 1e9));
	STORE(G.shm->cmd, CMD_LOAD);
	bench_sleep_s(cf->warmup);
	long sent0 = SUM(sent, 1, 1 + ncw), rep0 = SUM(replies_sent, 0, 1);
	long cpu0 = proc_ticks(G.server), ccpu0 = 0;
	for (int w = 0; w < G.nworkers; w++)
		ccpu0 += proc_ticks(G.workers[w]);
	struct thread_cpu th0, th1;
	struct srv_metrics m0 = read_metrics(), m1;
	thread_cpu(G.server, &th0);
	double w0 = bench_now_s();
	bench_sleep_s(cf->duration);
	double secs = bench_now_s() - w0;
	long sent1 = SUM(sent, 1, 1 + ncw), rep1 = SUM(replies_sent, 0, 1);
	long cpu1 = proc_ticks(G.server), ccpu1 = 0;
	for (int w = 0; w < G.nworkers; w++)
		ccpu1 += proc_ticks(G.workers[w]);
	thread_cpu(G.server, &th1);
	m1 = read_metrics();
	STORE(G.shm->cmd, CMD_STOP);
	/* drain: answers to the window's last messages */
	double d0 = bench_now_s();
	while (bench_now_s() - d0 < cf->drain && !bench_stop &&
	       SUM(replies_win, 1, 1 + ncw) < SUM(sent_win, 1, 1 + ncw))
		bench_sleep_s(0.02);
	bool alive = server_alive();
	long msgs = (sent1 - sent0) + (rep1 - rep0);
	double cpu_s = (double)(cpu1 - cpu0) / (double)G.clk_tck;
	s->rate_msgs = (double)msgs / secs;
	s->cpu_ms_per_k = msgs > 0 ? cpu_s * 1000.0 / ((double)msgs / 1000.0) : -1;
	s->cpu_pct = cpu_s / secs * 100.0;
	s->client_cpu_pct = (double)(ccpu1 - ccpu0) / (double)G.clk_tck / secs * 100.0;
	s->sent_win = SUM(sent_win, 1, 1 + ncw);
	s->lost = s->sent_win - SUM(replies_win, 1, 1 + ncw);
	s->rt = percentiles(false, ncw);
	s->ack = percentiles(true, ncw);
	printf("   load: %.0f msg/s stored (asked %.0f: %.0f customer + %.0f agent) for %.1f s after "
	       "%.1f s warm-up\n",
	       s->rate_msgs, cf->rate, (double)(sent1 - sent0) / secs, (double)(rep1 - rep0) / secs,
	       secs, cf->warmup);
	printf("   round trip customer->agent->customer: p50 %.2f ms  p90 %.2f  p99 %.2f  p99.9 %.2f  "
	       "max %.2f  (%ld samples; %ld of %ld unanswered after %.1f s drain)\n",
	       s->rt.p50, s->rt.p90, s->rt.p99, s->rt.p999, s->rt.max, s->rt.n, s->lost, s->sent_win,
	       cf->drain);
	if (cf->timeline)
		print_timeline(ncw, secs);
	printf("   own message acknowledged:         p50 %.2f ms  p90 %.2f  p99 %.2f  p99.9 %.2f  "
	       "max %.2f\n",
	       s->ack.p50, s->ack.p90, s->ack.p99, s->ack.p999, s->ack.max);
	printf("   server cpu: %.1f ms per 1000 messages (%.0f%% of one core); client processes %.0f%%\n",
	       s->cpu_ms_per_k, s->cpu_pct, s->client_cpu_pct);
	if (alive)
		print_threads(&th0, &th1, secs);
	if (m0.ok && m1.ok && m1.commits > m0.commits)
		printf("   store: %.0f commits/s, %.1f write jobs per commit, %.2f ms mean COMMIT "
		       "(fsync included); %.0f frames/s to event-stream sockets\n",
		       (m1.commits - m0.commits) / secs,
		       (m1.jobs - m0.jobs) / (m1.commits - m0.commits),
		       (m1.commit_s - m0.commit_s) * 1000.0 / (m1.commits - m0.commits),
		       (m1.ws_sent - m0.ws_sent) / secs);
	long errs = SUM(err_frames, 0, 1 + ncw), proto = SUM(proto_err, 0, 1 + ncw),
	     drops = SUM(dropped, 0, 1 + ncw);
	if (errs || proto || drops)
		printf("   errors: %ld error frames (%ld rate_limited, %ld unavailable), %ld protocol, "
		       "%ld connections dropped; first: %s\n",
		       errs, SUM(rate_limited, 0, 1 + ncw), SUM(unavailable, 0, 1 + ncw), proto, drops,
		       first_error(0, 1 + ncw) ? first_error(0, 1 + ncw) : "-");
	s->reached = alive && active >= (long)n * 99 / 100 && s->rt.n > 0 &&
		     s->lost <= s->sent_win / 100;
	stop_workers();
	double stop_s = stop_server();
	if (kind == K_HOTLINE)
		scan_log();
	if (stop_s < 0)
		printf("   server killed after 15 s (SIGTERM ignored)   <-- NOT CLEAN\n");
	else
		printf("   server stopped in %.2f s; step took %.1f s\n", stop_s, bench_now_s() - t_start);
}

static void usage(void)
{
	printf("usage: chat [--quick] [--sessions N,N,...] [--rate MSGS_PER_S] [--warmup S]\n"
	       "            [--duration S] [--agents N] [--server PATH] [--no-echo] [--no-hotline]\n"
	       "            [--echo-poll] [--timeline] [--keep]\n"
	       "  --quick        1000 sessions, 1 s warm-up, 4 s measured (under 30 s)\n"
	       "  --sessions     session counts (default 1000,5000,15000; at most %d)\n"
	       "  --rate         messages stored per second, both directions (default 5000)\n"
	       "  --warmup S     seconds of load before measuring (default 3)\n"
	       "  --duration S   measured seconds (default 15)\n"
	       "  --agents N     simulated agents (default: enough for capacity <= 20 each\n"
	       "                 and <= %d replies per second each)\n"
	       "  --server PATH  hotline binary (default <dir of this program>/../hotline)\n"
	       "  --echo-poll    also run the echo on lws's default poll() loop\n"
	       "  --timeline     round-trip p50/p99 for each second of the window\n",
	       MAX_SESSIONS, AGENT_MAX_FPS);
}

static double parse_num(const char *s, double lo, double hi, const char *what)
{
	char *end;
	errno = 0;
	double v = strtod(s ? s : "", &end);
	if (!s || errno || *end || end == s || v < lo || v > hi)
		fail("%s: expected a number from %g to %g", what, lo, hi);
	return v;
}

int main(int argc, char **argv)
{
	if ((argc == 3 || argc == 4) && strcmp(argv[1], "--echo-server") == 0)
		return chat_echo_main(bench_int(argv[2]), argc == 4 && strcmp(argv[3], "ev") == 0);

	struct cfg cf = {.rate = 5000, .warmup = 3, .duration = 15, .drain = 3, .settle = 2};
	int sessions[8] = {1000, 5000, 15000}, nsteps = 3;
	bool do_echo = true, do_hotline = true, do_echo_poll = false, sessions_set = false;
	double warmup = -1, duration = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--quick") == 0) {
			cf.quick = true;
		} else if (strcmp(a, "--sessions") == 0 && v) {
			nsteps = 0;
			for (char *p = argv[++i]; *p && nsteps < 8;) {
				char *end;
				long x = strtol(p, &end, 10);
				if (end == p || x < 1 || x > MAX_SESSIONS)
					fail("--sessions: numbers from 1 to %d, comma separated", MAX_SESSIONS);
				sessions[nsteps++] = (int)x;
				p = *end == ',' ? end + 1 : end;
				if (*end && *end != ',')
					fail("--sessions: numbers from 1 to %d, comma separated", MAX_SESSIONS);
			}
			sessions_set = true;
		} else if (strcmp(a, "--rate") == 0) {
			cf.rate = parse_num(v, 2, 200000, "--rate");
			i++;
		} else if (strcmp(a, "--warmup") == 0) {
			warmup = parse_num(v, 0, 120, "--warmup");
			i++;
		} else if (strcmp(a, "--duration") == 0) {
			duration = parse_num(v, 1, 600, "--duration");
			i++;
		} else if (strcmp(a, "--agents") == 0) {
			cf.agents_override = (int)parse_num(v, 1, MAX_AGENTS, "--agents");
			i++;
		} else if (strcmp(a, "--server") == 0 && v) {
			snprintf(G.server_bin, sizeof(G.server_bin), "%s", argv[++i]);
		} else if (strcmp(a, "--no-echo") == 0) {
			do_echo = false;
		} else if (strcmp(a, "--timeline") == 0) {
			cf.timeline = true;
		} else if (strcmp(a, "--echo-poll") == 0) {
			do_echo_poll = true;
		} else if (strcmp(a, "--no-hotline") == 0) {
			do_hotline = false;
		} else if (strcmp(a, "--keep") == 0) {
			G.keep = true;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage();
			return 0;
		} else {
			usage();
			return 2;
		}
	}
	if (cf.quick) {
		if (!sessions_set) {
			sessions[0] = 1000;
			nsteps = 1;
		}
		cf.warmup = 1;
		cf.duration = 4;
		cf.drain = 1;
		cf.settle = 0.5;
	}
	if (warmup >= 0)
		cf.warmup = warmup;
	if (duration > 0)
		cf.duration = duration;
	setvbuf(stdout, NULL, _IOLBF, 0);
	G.clk_tck = sysconf(_SC_CLK_TCK);

	ssize_t sl = readlink("/proc/self/exe", G.self, sizeof(G.self) - 1);
	if (sl <= 0)
		fail("cannot read /proc/self/exe");
	G.self[sl] = '\0';
	if (do_hotline) {
		char err[PATH_MAX + 100];
		if (bench_server_path(G.server_bin, sizeof(G.server_bin), err, sizeof(err)) != 0)
			fail("%s", err);
	}

	rlim_t nofile = bench_raise_nofile();
	if (nofile != RLIM_INFINITY && nofile < SESSIONS_PER_WORKER + 256)
		fail("RLIMIT_NOFILE is %lu; need at least %d per client process",
		     (unsigned long)nofile, SESSIONS_PER_WORKER + 256);

	bench_catch_signals();

	G.shm = mmap(NULL, sizeof(struct shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
		     0);
	G.agents = mmap(NULL, sizeof(struct agent_cred) * MAX_AGENTS, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (G.shm == MAP_FAILED || G.agents == MAP_FAILED)
		fail("mmap: %s", strerror(errno));

	if (bench_make_dirs("chat", &G.dir) != 0)
		fail("mkdtemp %s: %s", G.dir.tmp, strerror(errno));
	G.cleanup_armed = true;
	atexit(cleanup);
	if (mkdir(G.dir.web, 0700) != 0)
		fail("mkdir %s: %s", G.dir.web, strerror(errno));

	printf("chat bench: sessions");
	for (int i = 0; i < nsteps; i++)
		printf("%s%d", i ? "," : " ", sessions[i]);
	printf("; %.0f messages/s stored (%.0f round trips/s); %.0f s warm-up, %.0f s measured%s\n",
	       cf.rate, cf.rate / 2, cf.warmup, cf.duration, cf.quick ? " (quick)" : "");

	struct step echo[8], hot[8], echo_poll[8];
	memset(echo, 0, sizeof(echo));
	memset(hot, 0, sizeof(hot));
	memset(echo_poll, 0, sizeof(echo_poll));
	for (int i = 0; i < nsteps && !bench_stop; i++) {
		if (do_echo)
			run_step(K_ECHO, sessions[i], &cf, &echo[i]);
		if (do_echo_poll && !bench_stop)
			run_step(K_ECHO_POLL, sessions[i], &cf, &echo_poll[i]);
		if (do_hotline && !bench_stop)
			run_step(K_HOTLINE, sessions[i], &cf, &hot[i]);
	}
	if (bench_stop)
		fail("interrupted");

	printf("\nsummary       sessions  active  open/s   KB/sess  rt p50 ms  rt p99 ms  ack p99 ms  "
	       "cpu ms/1k msg  lost\n");
	int best = -1;
	for (int i = 0; i < nsteps; i++) {
		for (int k = 0; k < 3; k++) {
			struct step *s = k == K_ECHO ? &echo[i] : k == K_HOTLINE ? &hot[i] : &echo_poll[i];
			if (!s->ran)
				continue;
			printf("%-12s %9d %7d %7.0f %9.2f %10.2f %10.2f %11.2f %14.1f %5ld\n",
			       kind_name[k], s->asked, s->active,
			       s->open_s > 0 ? (double)s->active / s->open_s : 0.0, s->kb_per_session,
			       s->rt.p50, s->rt.p99, s->ack.p99, s->cpu_ms_per_k, s->lost);
		}
		if (hot[i].reached)
			best = i;
	}
	if (best < 0) {
		printf("RESULT chat sessions=0 p99_ms=NA rss_kb_per_session=NA vs_echo=NA\n");
		return 0;
	}
	struct step *h = &hot[best], *e = &echo[best];
	char vs[32] = "NA";
	if (e->reached && e->rt.p99 > 0)
		snprintf(vs, sizeof(vs), "%.2f", h->rt.p99 / e->rt.p99);
	printf("RESULT chat sessions=%d p99_ms=%.2f rss_kb_per_session=%.2f vs_echo=%s\n", h->active,
	       h->rt.p99, h->kb_per_session, vs);
	return 0;
}
