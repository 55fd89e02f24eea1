/*
 * api_bench.c: the HTTP API under load, measured from outside the server.
 *
 * Starts the real server (build/hotline serve) on 127.0.0.1 with a fresh
 * data directory and a temporary web directory, logs in as admin and
 * creates five queues. Then wrk (--latency -t2 -c64) drives, one after the
 * other: a static file of exactly the size of the queue list (the floor:
 * same server, same port, no auth, no JSON, no store), the authenticated
 * GET /api/v1/queues, and POST /api/v1/customers (each one a committed row
 * and an event; a Lua script counts every answer that is not 201). It
 * prints req/s and p99 for each and their ratios to the floor.
 *
 * Memory is the server's VmRSS from /proc: right after start (the figure
 * in RESULT as idle_rss_mb), after the load has settled, then with N idle
 * authenticated WebSocket streams open (default 10,000, each checked for
 * the 101, the right Sec-WebSocket-Accept and the hello frame), which
 * gives KB per idle connection (user space only: kernel socket buffers
 * are not in RSS), and again after they are closed; a second round shows
 * whether that memory is reused. Before that, one plain upgrade with no
 * Sec-WebSocket-Protocol (what a browser's new WebSocket(url) sends) must
 * get its hello too; if it does not, the bench says so and the streams
 * name the server's protocol (hl-api) so the memory figure stays real.
 *
 * Load generator and server share the machine, so the figures rank, they
 * do not promise capacity. Never fails on a number; exits 1 only when
 * something could not run (no wrk, server did not start or crashed, ...).
 * It always stops the server and removes its temporary directory.
 * Last line: RESULT api get_vs_static=... post_per_s=... idle_rss_mb=...
 * ws_idle_kb_each=...
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

#define WRK_PATH "/usr/bin/wrk"
#define ADMIN_PASSWORD "bench-admin-Pass-7"
/* RFC 6455's sample key: a fixed key is fine, and its accept value is known. */
#define WS_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define WS_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define WS_INFLIGHT 256 /* handshakes at once: keeps the listen backlog short */
#define WS_BUF 1024     /* 101 headers + hello frame fit easily */
#define MAX_SRC_ADDRS 8 /* 127.0.0.1..8, only if ephemeral ports run out */

static struct {
	struct bench_dirs dir; /* tmp, data, web, log */
	char server_bin[PATH_MAX];
	pid_t server;
	int port;
	char token[256];
	bool cleanup_armed;
} G;

/* Stops the server (SIGTERM, then SIGKILL after 10 s); returns its wait status
 * or -1. Prints how it went so a slow or unclean stop is visible. */
static int stop_server(bool quiet)
{
	if (G.server <= 0)
		return -1;
	int st = 0;
	double took = 0;
	if (!bench_stop_child(G.server, 10.0, &st, &took))
		fprintf(stderr, "WARNING: server ignored SIGTERM for 10 s; killed\n");
	G.server = 0;
	if (!quiet) {
		if (WIFEXITED(st))
			printf("server stop:     SIGTERM -> exit %d in %.2f s%s\n", WEXITSTATUS(st), took,
			       WEXITSTATUS(st) != 0 || took > 5.0 ? "   <-- NOT CLEAN" : "");
		else if (WIFSIGNALED(st))
			printf("server stop:     killed by signal %d after %.2f s   <-- NOT CLEAN\n",
			       WTERMSIG(st), took);
	}
	return st;
}

static void cleanup(void)
{
	if (!G.cleanup_armed)
		return;
	G.cleanup_armed = false;
	stop_server(true);
	if (G.dir.tmp[0])
		bench_rm_rf(G.dir.tmp);
}

__attribute__((format(printf, 1, 2), noreturn)) static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bench_vcomplain("api bench", fmt, ap);
	va_end(ap);
	if (G.dir.log[0])
		bench_print_log_tail(G.dir.log, 20);
	exit(1); /* atexit: stop the server, remove the temp directory */
}

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		fail("cannot write %s: %s", path, strerror(errno));
}

/* ---- server process ---------------------------------------------------- */

/* Fails the run if the server has died: a crash under load is the most
 * important thing this bench can find, so say how it died. */
static void check_server_alive(const char *when)
{
	int st;
	if (G.server <= 0)
		fail("server not running %s", when);
	if (bench_child_exited(G.server, &st)) {
		G.server = 0;
		if (WIFSIGNALED(st))
			fail("server CRASHED %s: killed by signal %d (%s)", when, WTERMSIG(st),
			     strsignal(WTERMSIG(st)));
		fail("server exited %s with status %d", when, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
}

struct rss {
	long rss_kb, anon_kb, file_kb, hwm_kb, threads;
};

static struct rss read_rss(void)
{
	static const char *const keys[] = {"VmRSS:", "RssAnon:", "RssFile:", "VmHWM:", "Threads:"};
	long v[5];
	if (bench_proc_status(G.server, keys, v, 5) != 0)
		fail("cannot read /proc/%d/status: %s", (int)G.server, strerror(errno));
	return (struct rss){v[0], v[1], v[2], v[3], v[4]};
}

static void print_rss(const char *label, struct rss r)
{
	printf("rss %-22s %7.1f MB  (anon %.1f, file %.1f; peak %.1f; %ld threads)\n", label,
	       (double)r.rss_kb / 1024.0, (double)r.anon_kb / 1024.0, (double)r.file_kb / 1024.0,
	       (double)r.hwm_kb / 1024.0, r.threads);
}

static int free_port(void)
{
	int port = bench_free_port();
	if (port < 0)
		fail("cannot find a free port: %s", strerror(errno));
	return port;
}

/* ---- a minimal blocking HTTP/1.1 client for setup and checks ------------ */

/* Returns 0 with *r filled, or -1 on a transport error. Uses the session
 * token once logged in. */
static int http_do(const char *method, const char *path, const char *json, struct bench_resp *r)
{
	return bench_http_do(G.port, 0, 10, method, path, G.token, json, r);
}

static void expect(const char *method, const char *path, const char *json, int status,
		   struct bench_resp *r)
{
	if (http_do(method, path, json, r) != 0)
		fail("%s %s: no HTTP answer", method, path);
	if (r->status != status)
		fail("%s %s: expected %d, got %d: %.300s", method, path, status, r->status, r->body);
}

static bool server_up(void)
{
	check_server_alive("during start");
	return true;
}

static bool healthz_ok(void)
{
	struct bench_resp r;
	bool ok = http_do("GET", "/healthz", NULL, &r) == 0 && r.status == 200;
	bench_resp_free(&r);
	return ok;
}

static void start_server(void)
{
	G.port = free_port();
	char port[16];
	snprintf(port, sizeof(port), "%d", G.port);
	char *argv[] = {G.server_bin, "serve",    "--data",    G.dir.data,       "--http-port",
			port,         "--bind",   "127.0.0.1", "--sip-port", "0",
			"--web",      G.dir.web,      NULL};
	G.server = bench_spawn_server(G.dir.log, argv, "HOTLINE_ADMIN_PASSWORD", ADMIN_PASSWORD);
	if (G.server < 0) {
		G.server = 0;
		fail("fork: %s", strerror(errno));
	}
	double t0 = bench_now_s();
	int rc = bench_wait_ready(server_up, healthz_ok, 15.0);
	if (rc == -2)
		fail("interrupted");
	if (rc != 0)
		fail("server did not answer /healthz with 200 within 15 s");
	printf("server:          %s on 127.0.0.1:%d, ready in %.2f s\n", G.server_bin, G.port,
	       bench_now_s() - t0);
}

/* ---- wrk ---------------------------------------------------------------- */

struct wrk_res {
	double rps, p50_ms, p99_ms;
	long requests, non2xx, sock_connect, sock_read, sock_write, sock_timeout;
	long non201, first_bad; /* from the POST script; -1 when not used */
	char first_bad_body[256];
};

static double parse_time_ms(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	if (strncmp(end, "us", 2) == 0)
		return v / 1000.0;
	if (strncmp(end, "ms", 2) == 0)
		return v;
	if (*end == 's')
		return v * 1000.0;
	if (*end == 'm')
		return v * 60000.0;
	if (*end == 'h')
		return v * 3600000.0;
	return -1;
}

static void parse_wrk(const char *out, struct wrk_res *w)
{
	memset(w, 0, sizeof(*w));
	w->rps = w->p50_ms = w->p99_ms = -1;
	w->non201 = w->first_bad = -1;
	const char *p;
	if ((p = strstr(out, "Requests/sec:")))
		w->rps = strtod(p + 13, NULL);
	if ((p = strstr(out, "Latency Distribution"))) {
		const char *q50 = strstr(p, " 50%"), *q99 = strstr(p, " 99%");
		if (q50)
			w->p50_ms = parse_time_ms(q50 + 4 + strspn(q50 + 4, " \t"));
		if (q99)
			w->p99_ms = parse_time_ms(q99 + 4 + strspn(q99 + 4, " \t"));
	}
	if ((p = strstr(out, " requests in ")))
		while (p > out && p[-1] >= '0' && p[-1] <= '9')
			p--;
	if (p)
		w->requests = strtol(p, NULL, 10);
	if ((p = strstr(out, "Non-2xx or 3xx responses:")))
		w->non2xx = strtol(p + 25, NULL, 10);
	if ((p = strstr(out, "Socket errors:")))
		sscanf(p, "Socket errors: connect %ld, read %ld, write %ld, timeout %ld", &w->sock_connect,
		       &w->sock_read, &w->sock_write, &w->sock_timeout);
	if ((p = strstr(out, "HL_NON201 "))) {
		char *end;
		w->non201 = strtol(p + 10, &end, 10);
		w->first_bad = strtol(end, &end, 10);
		if (*end == ' ') {
			size_t n = strcspn(end + 1, "\n");
			snprintf(w->first_bad_body, sizeof(w->first_bad_body), "%.*s", (int)n, end + 1);
		}
	}
}

/* Runs wrk against path on the server, bounded to dur + 30 s. */
static void run_wrk(const char *label, const char *path, const char *script, int dur,
		    struct wrk_res *w)
{
	char url[256], d[32];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", G.port, path);
	snprintf(d, sizeof(d), "%ds", dur);
	char *argv[16];
	int a = 0;
	argv[a++] = WRK_PATH;
	argv[a++] = "--latency";
	argv[a++] = "-t2";
	argv[a++] = "-c64";
	argv[a++] = "-d";
	argv[a++] = d;
	if (script) {
		argv[a++] = "-s";
		argv[a++] = (char *)script;
	}
	argv[a++] = url;
	argv[a] = NULL;

	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) != 0)
		fail("pipe: %s", strerror(errno));
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0)
		fail("fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		execv(WRK_PATH, argv);
		_exit(127);
	}
	close(pfd[1]);
	char out[65536];
	size_t len = 0;
	double deadline = bench_now_s() + dur + 30;
	for (;;) {
		if (bench_stop || bench_now_s() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(pfd[0]);
			fail("%s: %s", label, bench_stop ? "interrupted" : "wrk did not finish in time; killed");
		}
		struct pollfd pf = {pfd[0], POLLIN, 0};
		if (poll(&pf, 1, 200) <= 0)
			continue;
		ssize_t n = read(pfd[0], out + len, sizeof(out) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == sizeof(out) - 1)
			break;
	}
	out[len] = '\0';
	close(pfd[0]);
	int st;
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail("%s: wrk failed (status %d):\n%s", label, st, out);
	parse_wrk(out, w);
	if (w->rps < 0 || w->p99_ms < 0)
		fail("%s: cannot read req/s and p99 from wrk's output:\n%s", label, out);
	check_server_alive(label);
	printf("%-9s %-21s %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms  %8ld requests", label, path, w->rps,
	       w->p50_ms, w->p99_ms, w->requests);
	long sock = w->sock_connect + w->sock_read + w->sock_write + w->sock_timeout;
	if (w->non2xx || sock)
		printf("  ERRORS: %ld non-2xx, socket connect %ld read %ld write %ld timeout %ld", w->non2xx,
		       w->sock_connect, w->sock_read, w->sock_write, w->sock_timeout);
	/* A keep-alive connection that stalls after its first answer shows up as
	 * about one request per connection: say so, the ratio is meaningless. */
	if (w->requests < 2 * 64)
		printf("  <-- STALLED: about one answer per connection (keep-alive broken?)");
	printf("\n");
	if (w->non201 > 0)
		printf("          %ld answers were not 201; first: %ld %s\n", w->non201, w->first_bad,
		       w->first_bad_body);
}

static void write_scripts(const char *get_lua, const char *post_lua, const char *post_body)
{
	char s[4096];
	/* Only the header: no response() hook, so wrk stays as fast as for the
	 * static file and the ratio compares servers, not Lua. wrk itself counts
	 * statuses above 399 ("Non-2xx or 3xx responses"). */
	int n = snprintf(s, sizeof(s),
			 "-- GET with the bench session's token\n"
			 "wrk.method = \"GET\"\n"
			 "wrk.headers[\"Authorization\"] = \"Bearer %s\"\n",
			 G.token);
	write_file(get_lua, s, (size_t)n);
	/* POST: 201 is the only success. response() sees every answer; done()
	 * sums the per-thread counters (each wrk thread has its own Lua state). */
	n = snprintf(s, sizeof(s),
		     "-- POST /api/v1/customers: count every answer that is not 201\n"
		     "wrk.method = \"POST\"\n"
		     "wrk.body = [[%s]]\n"
		     "wrk.headers[\"Content-Type\"] = \"application/json\"\n"
		     "wrk.headers[\"Authorization\"] = \"Bearer %s\"\n"
		     "local threads = {}\n"
		     "function setup(thread) table.insert(threads, thread) end\n"
		     "function init(args) hl_bad = 0; hl_first = 0; hl_body = \"\" end\n"
		     "function response(status, headers, body)\n"
		     "  if status ~= 201 then\n"
		     "    hl_bad = hl_bad + 1\n"
		     "    if hl_first == 0 then hl_first = status; hl_body = string.sub(body or \"\", 1, 200) end\n"
		     "  end\n"
		     "end\n"
		     "function done(summary, latency, requests)\n"
		     "  local bad, first, body = 0, 0, \"\"\n"
		     "  for _, t in ipairs(threads) do\n"
		     "    bad = bad + t:get(\"hl_bad\")\n"
		     "    if first == 0 and t:get(\"hl_first\") ~= 0 then\n"
		     "      first = t:get(\"hl_first\"); body = t:get(\"hl_body\")\n"
		     "    end\n"
		     "  end\n"
		     "  body = string.gsub(body, \"\\n\", \" \")\n"
		     "  io.write(string.format(\"HL_NON201 %%d %%d %%s\\n\", bad, first, body))\n"
		     "end\n",
		     post_body, G.token);
	if (n < 0 || (size_t)n >= sizeof(s))
		fail("POST script too long");
	write_file(post_lua, s, (size_t)n);
}

/* ---- idle WebSockets ----------------------------------------------------- */

enum { C_NEW, C_CONNECTING, C_WAIT, C_OPEN, C_CLOSING, C_DONE, C_FAILED };
enum { F_CONNECT, F_STATUS, F_ACCEPT, F_HELLO, F_EOF, F_TOOLONG, F_TIMEOUT, F_DROPPED, F_N };
static const char *const fail_names[F_N] = {
	"connect error", "status not 101",     "bad Sec-WebSocket-Accept", "no hello frame",
	"closed early",  "handshake too long", "timed out",                "dropped while idle"};

struct wsc {
	int fd;
	uint8_t st;
	uint16_t n;
	char buf[WS_BUF];
};

struct ws_run {
	struct wsc *c;
	int n, ep;
	int open, failed, inflight, src;
	long fails[F_N];
	char first_status[128];
	int first_errno;
};

static void ws_fail(struct ws_run *w, int i, int why)
{
	struct wsc *c = &w->c[i];
	if (c->st == C_CONNECTING || c->st == C_WAIT)
		w->inflight--;
	if (c->st == C_OPEN)
		w->open--;
	if (c->fd >= 0)
		close(c->fd); /* also leaves the epoll set */
	c->fd = -1;
	c->st = C_FAILED;
	w->failed++;
	w->fails[why]++;
}

/* Parses what arrived so far: 0 = need more, 1 = 101 + accept + hello seen,
 * or -(1 + F_x). */
static int ws_parse(struct ws_run *w, struct wsc *c)
{
	c->buf[c->n] = '\0';
	char *eoh = strstr(c->buf, "\r\n\r\n");
	if (!eoh)
		return c->n >= WS_BUF - 1 ? -(1 + F_TOOLONG) : 0;
	if (strncmp(c->buf, "HTTP/1.1 101", 12) != 0) {
		if (!w->first_status[0])
			snprintf(w->first_status, sizeof(w->first_status), "%.*s",
				 (int)strcspn(c->buf, "\r\n"), c->buf);
		return -(1 + F_STATUS);
	}
	*eoh = '\0';
	char *acc = strcasestr(c->buf, "\r\nsec-websocket-accept:");
	bool ok = acc && strncmp(acc + 23 + strspn(acc + 23, " "), WS_ACCEPT, strlen(WS_ACCEPT)) == 0;
	*eoh = '\r';
	if (!ok)
		return -(1 + F_ACCEPT);
	const unsigned char *f = (const unsigned char *)eoh + 4;
	size_t have = (size_t)((const unsigned char *)c->buf + c->n - f);
	if (have < 2)
		return 0;
	size_t plen = f[1] & 0x7f, hl = 2;
	if (f[0] != 0x81 || (f[1] & 0x80) || plen == 127)
		return -(1 + F_HELLO); /* a final, unmasked text frame is expected */
	if (plen == 126) {
		if (have < 4)
			return 0;
		plen = ((size_t)f[2] << 8) | f[3];
		hl = 4;
	}
	if (have < hl + plen)
		return c->n >= WS_BUF - 1 ? -(1 + F_TOOLONG) : 0;
	return memmem(f + hl, plen, "\"type\":\"hello\"", 14) ? 1 : -(1 + F_HELLO);
}

static void ws_start(struct ws_run *w, int i, const char *req, size_t reqlen)
{
	struct wsc *c = &w->c[i];
	for (;;) {
		c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (c->fd < 0) {
			w->first_errno = w->first_errno ? w->first_errno : errno;
			c->st = C_NEW;
			ws_fail(w, i, F_CONNECT);
			return;
		}
		if (w->src > 0) {
			/* Another source address: a fresh set of ephemeral ports. */
			int one = 1;
			setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
			struct sockaddr_in src = {.sin_family = AF_INET,
						  .sin_addr.s_addr = htonl(INADDR_LOOPBACK + (uint32_t)w->src)};
			bind(c->fd, (struct sockaddr *)&src, sizeof(src));
		}
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)G.port),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		int r = connect(c->fd, (struct sockaddr *)&sa, sizeof(sa));
		if (r != 0 && errno == EADDRNOTAVAIL && w->src + 1 < MAX_SRC_ADDRS) {
			close(c->fd);
			w->src++;
			continue;
		}
		w->inflight++;
		if (r != 0 && errno != EINPROGRESS) {
			w->first_errno = w->first_errno ? w->first_errno : errno;
			c->st = C_CONNECTING;
			ws_fail(w, i, F_CONNECT);
			return;
		}
		struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)i};
		c->st = C_CONNECTING;
		if (r == 0) {
			/* loopback may connect at once */
			if (!bench_send_all(c->fd, req, reqlen)) {
				ws_fail(w, i, F_CONNECT);
				return;
			}
			c->st = C_WAIT;
			ev.events = EPOLLIN;
		}
		epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev);
		return;
	}
}

static void ws_event(struct ws_run *w, int i, uint32_t events, const char *req, size_t reqlen)
{
	struct wsc *c = &w->c[i];
	if (c->st == C_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof(err);
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
		if (err || !bench_send_all(c->fd, req, reqlen)) {
			w->first_errno = w->first_errno ? w->first_errno : (err ? err : errno);
			ws_fail(w, i, F_CONNECT);
			return;
		}
		c->st = C_WAIT;
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
		epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
		return;
	}
	if (c->st == C_WAIT) {
		ssize_t n = recv(c->fd, c->buf + c->n, WS_BUF - 1 - c->n, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			ws_fail(w, i, F_EOF);
			return;
		}
		c->n = (uint16_t)(c->n + n);
		int r = ws_parse(w, c);
		if (r < 0) {
			ws_fail(w, i, -r - 1);
		} else if (r == 1) {
			c->st = C_OPEN;
			w->inflight--;
			w->open++;
		}
		return;
	}
	if (c->st == C_OPEN) {
		/* An idle stream gets nothing; data or EOF here means the server
		 * sent something unasked or dropped us. */
		char tmp[512];
		ssize_t n = recv(c->fd, tmp, sizeof(tmp), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			ws_fail(w, i, F_DROPPED);
		(void)events;
		return;
	}
	if (c->st == C_CLOSING) {
		char tmp[512];
		ssize_t n = recv(c->fd, tmp, sizeof(tmp), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			close(c->fd);
			c->fd = -1;
			c->st = C_DONE;
		}
	}
}

static void ws_pump(struct ws_run *w, int timeout_ms, const char *req, size_t reqlen)
{
	struct epoll_event evs[512];
	int k = epoll_wait(w->ep, evs, 512, timeout_ms);
	for (int j = 0; j < k; j++)
		ws_event(w, (int)evs[j].data.u32, evs[j].events, req, reqlen);
}

struct ws_out {
	int asked, open;
	double kb_each, open_s, conn_per_s;
	struct rss before, with, after;
	long server_count, server_count_after;
	int closed_clean;
};

static long metric(const char *text, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, name, n) == 0 && p[n] == ' ')
			return strtol(p + n + 1, NULL, 10);
	return -1;
}

static long server_ws_count(void)
{
	struct bench_resp r;
	long v = -1;
	if (http_do("GET", "/metrics", NULL, &r) == 0 && r.status == 200)
		v = metric(r.body, "hotline_ws_connections");
	bench_resp_free(&r);
	return v;
}

/* The upgrade request; proto NULL sends no Sec-WebSocket-Protocol, as a
 * browser's new WebSocket(url) does. */
static size_t ws_request(char *req, size_t size, const char *proto)
{
	char ph[96] = "";
	if (proto)
		snprintf(ph, sizeof(ph), "Sec-WebSocket-Protocol: %s\r\n", proto);
	int rn = snprintf(req, size,
			  "GET /api/v1/events?token=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
			  "Upgrade: websocket\r\nConnection: Upgrade\r\n%s"
			  "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
			  G.token, G.port, ph);
	if (rn < 0 || (size_t)rn >= size)
		fail("upgrade request too long");
	return (size_t)rn;
}

/* One blocking handshake with a 2 s limit: true when the 101, the accept
 * value and the hello frame all arrived; otherwise *what says how far it got. */
static bool ws_probe(const char *proto, const char **what)
{
	char req[768];
	size_t reqlen = ws_request(req, sizeof(req), proto);
	struct ws_run w;
	memset(&w, 0, sizeof(w));
	struct wsc *c = calloc(1, sizeof(*c));
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)G.port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {0, 200000};
	int r = 0;
	*what = "no connection";
	if (c && fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0 &&
	    bench_send_all(fd, req, reqlen)) {
		double t0 = bench_now_s();
		*what = "no answer";
		while (r == 0 && bench_now_s() - t0 < 2.0 && !bench_stop) {
			ssize_t n = recv(fd, c->buf + c->n, WS_BUF - 1 - c->n, 0);
			if (n == 0) {
				r = -(1 + F_EOF);
				break;
			}
			if (n < 0)
				continue;
			c->n = (uint16_t)(c->n + n);
			r = ws_parse(&w, c);
		}
		if (r == 0 && strstr(c->buf, "\r\n\r\n"))
			*what = "101 but no hello frame within 2 s";
		else if (r < 0)
			*what = fail_names[-r - 1];
	}
	if (fd >= 0)
		close(fd);
	free(c);
	return r == 1;
}

static void run_ws(int round, int n, const char *proto, double limit_s, double hold_s,
		   double settle_s, struct ws_out *o)
{
	memset(o, 0, sizeof(*o));
	o->asked = n;
	char req[768];
	size_t reqlen = ws_request(req, sizeof(req), proto);

	struct ws_run w = {.n = n};
	w.c = calloc((size_t)n, sizeof(*w.c));
	w.ep = epoll_create1(EPOLL_CLOEXEC);
	if (!w.c || w.ep < 0)
		fail("out of memory for %d connections", n);
	for (int i = 0; i < n; i++)
		w.c[i].fd = -1;

	o->before = read_rss();
	double t0 = bench_now_s();
	int next = 0;
	while (w.open + w.failed < n && bench_now_s() - t0 < limit_s && !bench_stop) {
		while (w.inflight < WS_INFLIGHT && next < n)
			ws_start(&w, next++, req, reqlen);
		ws_pump(&w, 50, req, reqlen);
	}
	o->open_s = bench_now_s() - t0;
	for (int i = 0; i < n; i++)
		if (w.c[i].st == C_NEW || w.c[i].st == C_CONNECTING || w.c[i].st == C_WAIT) {
			if (w.c[i].st == C_NEW) {
				w.c[i].st = C_FAILED; /* never started: count as timed out */
				w.failed++;
				w.fails[F_TIMEOUT]++;
			} else {
				ws_fail(&w, i, F_TIMEOUT);
			}
		}
	int opened = w.open;
	o->conn_per_s = o->open_s > 0 ? opened / o->open_s : 0;
	check_server_alive("while opening WebSockets");

	/* Hold them idle: lets the server settle, and catches any stream it
	 * drops (a hold past 30 s would show an idle timeout). */
	double t1 = bench_now_s();
	while (bench_now_s() - t1 < hold_s && !bench_stop)
		ws_pump(&w, 50, req, reqlen);
	o->with = read_rss();
	o->open = w.open;
	o->server_count = server_ws_count();
	o->kb_each = w.open > 0 ? (double)(o->with.rss_kb - o->before.rss_kb) / w.open : -1;

	printf("ws open (%d):     %d of %d idle streams got 101 + accept + hello in %.2f s (%.0f/s), %d "
	       "still open after %.0f s idle; server counts %ld\n",
	       round, opened, n, o->open_s, o->conn_per_s, w.open, hold_s, o->server_count);
	if (w.src > 0)
		printf("                 used source addresses 127.0.0.1-%d (ephemeral ports ran short)\n",
		       w.src + 1);
	if (w.failed) {
		printf("ws failures:    ");
		for (int f = 0; f < F_N; f++)
			if (w.fails[f])
				printf(" %s %ld;", fail_names[f], w.fails[f]);
		if (w.first_errno)
			printf(" first errno: %s;", strerror(w.first_errno));
		if (w.first_status[0])
			printf(" first status: %s", w.first_status);
		printf("\n");
	}

	/* Close: a masked close frame (1000) each, then wait for the server's
	 * close and EOF, so the server's own close path is exercised. */
	static const unsigned char close_frame[8] = {0x88, 0x82, 0x11, 0x22, 0x33, 0x44,
						     0x03 ^ 0x11, 0xe8 ^ 0x22};
	int closing = 0;
	for (int i = 0; i < n; i++)
		if (w.c[i].st == C_OPEN) {
			if (bench_send_all(w.c[i].fd, (const char *)close_frame, sizeof(close_frame))) {
				w.c[i].st = C_CLOSING;
				closing++;
			} else {
				close(w.c[i].fd);
				w.c[i].fd = -1;
				w.c[i].st = C_FAILED;
			}
		}
	double t2 = bench_now_s();
	for (;;) {
		int left = 0;
		for (int i = 0; i < n; i++)
			left += w.c[i].st == C_CLOSING;
		if (!left || bench_now_s() - t2 > 10.0 || bench_stop)
			break;
		ws_pump(&w, 50, req, reqlen);
	}
	for (int i = 0; i < n; i++) {
		if (w.c[i].st == C_DONE)
			o->closed_clean++;
		if (w.c[i].fd >= 0)
			close(w.c[i].fd);
	}
	close(w.ep);
	free(w.c);
	bench_sleep_s(settle_s);
	check_server_alive("after closing WebSockets");
	o->after = read_rss();
	o->server_count_after = server_ws_count();
	printf("ws close (%d):    %d of %d closed by the server after our close frame in %.2f s; "
	       "server counts %ld afterwards\n",
	       round, o->closed_clean, closing, bench_now_s() - t2 - settle_s, o->server_count_after);
}

/* ---- report helpers ---------------------------------------------------- */

static void print_metrics(void)
{
	struct bench_resp r;
	if (http_do("GET", "/metrics", NULL, &r) != 0 || r.status != 200) {
		printf("server metrics:  /metrics did not answer\n");
		bench_resp_free(&r);
		return;
	}
	printf("server metrics:  http");
	const char *key = "hotline_http_requests_total{code=\"";
	for (const char *p = r.body; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, key, strlen(key)) == 0) {
			const char *q = p + strlen(key);
			printf(" %.3s=%ld", q, strtol(q + 5, NULL, 10));
		}
	printf("; events %ld; store commits %ld, jobs %ld, errors %ld, queue depth %ld\n",
	       metric(r.body, "hotline_events_total"), metric(r.body, "hotline_store_commits_total"),
	       metric(r.body, "hotline_store_jobs_total"), metric(r.body, "hotline_store_errors_total"),
	       metric(r.body, "hotline_store_queue_depth"));
	bench_resp_free(&r);
}

/* Errors and warnings the server logged during the run: under load these
 * are findings in their own right. */
static void scan_log(void)
{
	FILE *f = fopen(G.dir.log, "r");
	if (!f)
		return;
	char line[1024];
	long lines = 0, errs = 0, warns = 0;
	int shown = 0;
	while (fgets(line, sizeof(line), f)) {
		lines++;
		bool e = strstr(line, "level=error") != NULL, wn = strstr(line, "level=warn") != NULL;
		errs += e;
		warns += wn;
		if ((e || wn) && shown < 5) {
			if (!shown)
				printf("server log:      errors/warnings (first 5):\n");
			printf("                 %s", line);
			shown++;
		}
	}
	fclose(f);
	printf("server log:      %ld lines, %ld errors, %ld warnings\n", lines, errs, warns);
}

static void usage(void)
{
	printf("usage: api [--quick] [--server PATH] [--duration SEC] [--ws N]\n"
	       "  --quick        5 s per wrk run (default 15 s)\n"
	       "  --server PATH  hotline binary (default: <dir of this program>/../hotline)\n"
	       "  --duration S   seconds per wrk run (overrides --quick)\n"
	       "  --ws N         idle WebSocket connections to open (default 10000)\n");
}

static long parse_long(const char *s, long lo, long hi, const char *what)
{
	char *end;
	errno = 0;
	long v = strtol(s ? s : "", &end, 10);
	if (!s || errno || *end || end == s || v < lo || v > hi)
		fail("%s: expected a number from %ld to %ld", what, lo, hi);
	return v;
}

int main(int argc, char **argv)
{
	bool quick = false;
	int dur = -1, nws = 10000;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			quick = true;
		else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc)
			snprintf(G.server_bin, sizeof(G.server_bin), "%s", argv[++i]);
		else if (strcmp(argv[i], "--duration") == 0)
			dur = (int)parse_long(i + 1 < argc ? argv[++i] : NULL, 1, 600, "--duration");
		else if (strcmp(argv[i], "--ws") == 0)
			nws = (int)parse_long(i + 1 < argc ? argv[++i] : NULL, 1, 60000, "--ws");
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage();
			return 0;
		} else {
			usage();
			return 2;
		}
	}
	if (dur < 0)
		dur = quick ? 5 : 15;
	double settle = quick ? 1.0 : 2.0;
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (access(WRK_PATH, X_OK) != 0) {
		fprintf(stderr, "api bench: wrk not found at %s; install it (apt-get install wrk)\n",
			WRK_PATH);
		return 1;
	}
	char err[PATH_MAX + 100];
	if (bench_server_path(G.server_bin, sizeof(G.server_bin), err, sizeof(err)) != 0)
		fail("%s", err);

	/* Each idle WebSocket is a descriptor here too. */
	rlim_t nofile = bench_raise_nofile();
	if (nofile != RLIM_INFINITY && (rlim_t)nws + 64 > nofile) {
		printf("note:            RLIMIT_NOFILE is %lu: opening %lu WebSockets instead of %d\n",
		       (unsigned long)nofile, (unsigned long)(nofile - 64), nws);
		nws = (int)(nofile - 64);
	}

	bench_catch_signals();

	if (bench_make_dirs("api", &G.dir) != 0)
		fail("mkdtemp %s: %s", G.dir.tmp, strerror(errno));
	G.cleanup_armed = true;
	atexit(cleanup);
	if (mkdir(G.dir.data, 0700) != 0 || mkdir(G.dir.web, 0700) != 0)
		fail("mkdir in %s: %s", G.dir.tmp, strerror(errno));
	static const char index_html[] =
		"<!doctype html><html><head><meta charset=\"utf-8\"><title>Hotline</title></head>"
		"<body><p>api bench</p></body></html>\n";
	char path[700];
	snprintf(path, sizeof(path), "%s/index.html", G.dir.web);
	write_file(path, index_html, sizeof(index_html) - 1);

	printf("api bench:       wrk --latency -t2 -c64 -d%ds per run, %d idle WebSockets%s\n", dur,
	       nws, quick ? " (quick)" : "");
	start_server();
	struct rss start = read_rss();
	print_rss("after start (idle):", start);

	/* Log in and build the data set: five queues, so the list is realistic. */
	struct bench_resp r;
	char *login = NULL;
	json_t *j = json_pack("{s:s, s:s}", "username", "admin", "password", ADMIN_PASSWORD);
	login = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	expect("POST", "/api/v1/auth/login", login, 200, &r);
	free(login);
	json_t *lj = json_loadb(r.body, r.body_len, 0, NULL);
	const char *tok = json_string_value(json_object_get(lj, "token"));
	if (!tok || strlen(tok) >= sizeof(G.token) - 1)
		fail("login answer has no token: %.200s", r.body);
	snprintf(G.token, sizeof(G.token), "%s", tok);
	json_decref(lj);
	bench_resp_free(&r);

	static const struct {
		const char *name, *desc, *strategy, *lang;
		int prio;
	} queues[] = {
		{"Support EN", "First-line support, English", "longest_idle", "en", 50},
		{"Support SV", "First-line support, Swedish", "least_occupied", "sv", 50},
		{"Sales", "Inbound sales and quotes", "best_skill", "en", 70},
		{"Billing", "Invoices, refunds and payment plans", "round_robin", "de", 40},
		{"VIP", "Key accounts: answer first", "ring_all", "en", 100},
	};
	for (size_t i = 0; i < sizeof(queues) / sizeof(queues[0]); i++) {
		json_t *weekly = json_array();
		static const char *const days[] = {"mon", "tue", "wed", "thu", "fri"};
		for (int d = 0; d < 5; d++)
			json_array_append_new(weekly, json_pack("{s:s, s:s, s:s}", "day", days[d], "open",
								"08:00", "close", "17:00"));
		json_t *q = json_pack(
			"{s:s, s:s, s:[s,s,s], s:s, s:i, s:s, s:{s:i, s:i}, s:i, s:i, s:{s:s, s:o}}",
			"name", queues[i].name, "description", queues[i].desc, "channels", "voice", "chat",
			"email", "strategy", queues[i].strategy, "priority", queues[i].prio, "language",
			queues[i].lang, "service_level", "percent", 80, "seconds", 20,
			"offer_timeout_seconds", 20, "wrap_up_seconds", 30, "business_hours", "timezone",
			"Europe/Stockholm", "weekly", weekly);
		char *body = json_dumps(q, JSON_COMPACT);
		json_decref(q);
		expect("POST", "/api/v1/queues", body, 201, &r);
		free(body);
		bench_resp_free(&r);
	}

	/* The floor: the GET's exact body as a static file on the same server. */
	expect("GET", "/api/v1/queues", NULL, 200, &r);
	snprintf(path, sizeof(path), "%s/same.json", G.dir.web);
	write_file(path, r.body, r.body_len);
	size_t body_len = r.body_len;
	bench_resp_free(&r);
	expect("GET", "/same.json", NULL, 200, &r);
	if (r.body_len != body_len)
		fail("/same.json came back with %zu bytes, expected %zu", r.body_len, body_len);
	bench_resp_free(&r);
	expect("GET", "/", NULL, 200, &r);
	bench_resp_free(&r);
	printf("data:            5 queues; GET /api/v1/queues body %zu bytes = /same.json\n", body_len);

	char get_lua[700], post_lua[700];
	snprintf(get_lua, sizeof(get_lua), "%s/get.lua", G.dir.tmp);
	snprintf(post_lua, sizeof(post_lua), "%s/post.lua", G.dir.tmp);
	/* No identities: those must be unique across customers, so a fixed body
	 * would turn every POST after the first into a 409. */
	static const char post_body[] =
		"{\"name\":\"Maria Svensson\",\"company\":\"Nordic Freight AB\",\"notes\":\"Called about "
		"a delayed delivery; prefers email.\",\"language\":\"sv\"}";
	write_scripts(get_lua, post_lua, post_body);

	struct wrk_res st, gt, pt;
	run_wrk("static", "/same.json", NULL, dur, &st);
	bench_sleep_s(settle);
	run_wrk("GET", "/api/v1/queues", get_lua, dur, &gt);
	bench_sleep_s(settle);
	struct rss after_get = read_rss();
	run_wrk("POST", "/api/v1/customers", post_lua, dur, &pt);
	bench_sleep_s(settle);
	double post_ok = pt.rps;
	if (pt.non201 > 0 && pt.requests > 0)
		post_ok = pt.rps * (double)(pt.requests - pt.non201) / (double)pt.requests;
	double get_ratio = st.rps > 0 ? gt.rps / st.rps : 0;
	printf("ratios:          GET/static %.2f (aim >= 0.50), POST/static %.3f; p99 GET/static %.1fx, "
	       "POST/static %.1fx\n",
	       get_ratio, st.rps > 0 ? pt.rps / st.rps : 0, st.p99_ms > 0 ? gt.p99_ms / st.p99_ms : 0,
	       st.p99_ms > 0 ? pt.p99_ms / st.p99_ms : 0);
	print_rss("after GET runs:", after_get);
	struct rss settled = read_rss();
	print_rss("after POST, settled:", settled);

	/* The documented client sends no subprotocol (neither does a browser's
	 * new WebSocket(url)); check that it gets a working stream, and fall
	 * back to naming the server's protocol so the memory figure still comes
	 * from real, authenticated streams. */
	const char *why_plain = NULL, *why_named = NULL;
	bool plain_ok = ws_probe(NULL, &why_plain);
	bool named_ok = plain_ok || ws_probe("hl-api", &why_named);
	const char *proto = plain_ok ? NULL : "hl-api";
	if (plain_ok)
		printf("ws probe:        plain upgrade (no Sec-WebSocket-Protocol): 101 + hello\n");
	else
		printf("ws probe:        plain upgrade (no Sec-WebSocket-Protocol, as browsers send): %s"
		       "   <-- BROKEN\n                 with Sec-WebSocket-Protocol: hl-api: %s; "
		       "the 10k below use hl-api\n",
		       why_plain, named_ok ? "101 + hello" : why_named);
	/* Round 1 gives the figure; round 2 shows whether the memory of closed
	 * streams is reused (RSS flat) or lost (RSS grows again). The full run
	 * holds round 1 for 35 s to cross the server's 30 s timeouts. */
	struct ws_out wo, wo2;
	run_ws(1, nws, proto, quick ? 30.0 : 60.0, quick ? settle : 35.0, settle, &wo);
	if (wo.open == 0)
		fail("no WebSocket connection was accepted");
	print_rss("with WebSockets open:", wo.with);
	print_rss("after they closed:", wo.after);
	run_ws(2, nws, proto, quick ? 30.0 : 60.0, settle, settle, &wo2);
	print_rss("round 2 open:", wo2.with);
	print_rss("round 2 closed:", wo2.after);
	printf("ws memory:       +%.1f MB for %d idle streams = %.2f KB each (aim < 6; server RSS "
	       "only, kernel socket memory not included); round 2 %+.1f MB over round 1's peak\n",
	       (double)(wo.with.rss_kb - wo.before.rss_kb) / 1024.0, wo.open, wo.kb_each,
	       (double)(wo2.with.rss_kb - wo.with.rss_kb) / 1024.0);
	print_metrics();

	double idle_mb = (double)start.rss_kb / 1024.0;
	printf("idle rss:        %.1f MB right after start (reported as idle_rss_mb; aim < 30), "
	       "%.1f MB idle after the load\n",
	       idle_mb, (double)settled.rss_kb / 1024.0);
	stop_server(false);
	scan_log();
	printf("RESULT api get_vs_static=%.2f post_per_s=%.0f idle_rss_mb=%.1f ws_idle_kb_each=%.2f\n",
	       get_ratio, post_ok, idle_mb, wo.kb_each);
	return 0;
}
