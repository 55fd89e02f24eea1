/*
 * voice_bench.c: voice calls under load (build/bench/voice). Not a test: it
 * never fails on a number; it exits 1 only when something could not run.
 *
 * HOW TO RUN
 *   build/bench/voice            full ramp (< 15 min: no step starts after 14):
 *                                150..1,500 calls, 50..400 setups/s
 *   build/bench/voice --quick    50 and 100 calls, one rate step (< 60 s)
 *   options: --calls N,N,..  --rates R,R,..  --hold S  --window S  --agents N
 *   --paths menu,queue,relay  --server PATH  --keep  (see usage())
 *   Needs sipp (Debian sip-tester) and /usr/share/sip-tester/dtmf_2833_1.pcap.
 *
 * THE TRAFFIC. SIPp places the calls and answers them; the bench's own RTP
 * engine (voice_rtp.c, one thread) is the audio of both sides:
 *   - callers (SIPp uac, from 127.0.0.1, a trunk address: no digest) INVITE
 *     a service number offering PCMU and telephone-event/8000 (101);
 *   - path "menu": the number is `menu:main` (greeting by espeak-ng, "1 =
 *     queue:1"); the caller waits for the greeting (--dtmf-after, 2.5 s),
 *     sends RFC 4733 '1' (SIPp play_pcap_audio of the shipped 140 ms
 *     dtmf_2833_1.pcap: pcap play only for this, trap 1 of
 *     ../shared/notes/sipp-load.md), waits in queue 1 hearing the server's
 *     hold stream, is offered to an available agent whose phone the server
 *     calls, and is bridged; path "queue": the number is the queue itself
 *     (no menu); path "relay" (the baseline, no menu, no queue, no routing
 *     task): numbers `user:USERNAME` ring that phone directly and bridge;
 *   - agents: A users (role agent, voice capacity 1, queue 1), created once
 *     through the REST API into a template data folder that every step
 *     copies (users cost argon2id hashes; trap 6: each step starts a fresh
 *     server from the same prepared data); each step the admin sets them
 *     available and a SIPp uac REGISTERs every username (digest) from one
 *     UDP port, where a SIPp uas then answers every INVITE at once;
 *   - RTP: both SDPs name the engine's sockets. The engine answers every
 *     server port it hears from with 20 ms PCMU packets on absolute time
 *     (phases spread as calls start; no SIPp rtp_stream burst), each payload
 *     stamped with stream, sequence and send time. The server relays
 *     payloads as they are, so the far side measures RELAY DELAY (kernel
 *     receive timestamp - send time), LOSS (sequence gaps once bridged)
 *     and inter-arrival of relayed packets, for every packet (no sampling
 *     needed: the payload identifies the call). Unmarked packets to a
 *     caller are the server's own stream (hold tone): its INTER-ARRIVAL p99
 *     (kernel timestamps) and sequence gaps are the server's timing.
 *
 * THE RAMP, for each path (menu or queue first, then relay):
 *   1. CONCURRENCY: for each N in --calls, a fresh server; callers at
 *      rate max(N/ramp, N/hold * 1.25) per s with SIPp's limit -l N: calls
 *      last --hold s (20), so the server keeps N calls (in menu, queue or
 *      bridged) with churn N/hold per s inside the window (new callers
 *      hear the greeting: the server's own stream is measured too). Once N calls are up (or the ramp time passed) plus a settle,
 *      the WINDOW (--window s) measures: bridged calls (sampled every 100 ms),
 *      relay delay/loss, hold-tone timing, server CPU (utime+stime of
 *      /proc/PID/stat) and RSS. A call FAILS when SIPp counts it failed or
 *      when it was not bridged within --bridge-wait s of its answer (menu:
 *      plus --dtmf-after). The step PASSES when at most 1 % failed, relay
 *      loss <= 1 %, relay delay p99 <= --max-delay ms (10), relayed and
 *      hold-tone inter-arrival p99 <= 25 ms. The ramp stops at the first
 *      step that does not pass.
 *   2. SETUP RATE: for each R in --rates, a fresh server; R calls a second
 *      for --rate-secs s, each held (dtmf-after +) 4 s; all are judged; the
 *      same pass rule. The baseline path starts at the main path's highest
 *      passing step of each ramp and goes on up until it fails. CPS = bridged calls / seconds of the highest passing
 *      rate. The ramp stops at the first failing rate.
 * CPU per call-second = server CPU over the window / (mean bridged calls x
 * window s), at the highest passing concurrency step; RSS per call = (RSS in
 * the window - RSS with the agents registered, before any call) / mean
 * bridged calls, on that fresh process. CPU of every process is printed
 * (server, callers' SIPp, agents' SIPp, the bench's RTP engine) with the
 * machine's 2 cores: the load generators share them (trap 4: per-process
 * counters, not /proc/stat).
 *
 * Last line: RESULT voice max_calls=… cps=… cpu_ms_per_call_s=…
 * rss_kb_per_call=… for the first path (menu or queue); the line before it
 * compares it with the relay baseline (ratios).
 *
 * Every server and SIPp binds 127.0.0.1; every process started is stopped by
 * its pid, every step is bounded in time, the temporary folder is removed.
 */
#include "bench_util.h"
#include "voice_rtp.h"
#include "voice_sipp.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

void md5(const uint8_t *d, size_t n, uint8_t *md); /* libre (re_md5.h) */

#define ADMIN_PASSWORD "bench-admin-Pass-7"
#define AGENT_PASSWORD "bench-agent-Pass-7"
#define SIP_PASSWORD "bench-sip-pass-7"
#define MAX_AGENTS 4000
#define SETUP_HELPERS 4
#define QUEUE_NUMBER "5000"
#define MENU_NUMBER "6000"
#define RELAY_BASE 700000 /* relay numbers 700000 + agent index */
#define DTMF_PCAP "/usr/share/sip-tester/dtmf_2833_1.pcap"
#define SRC_MASTER (INADDR_LOOPBACK + 9)
#define MAX_STEPS 16

enum path { P_MENU, P_QUEUE, P_RELAY, P_N };
static const char *const path_name[] = {"menu", "queue", "relay"};

struct agent {
	int64_t user_id, agent_id;
	int ok;
	char err[160];
};

static struct {
	struct bench_dirs dir;
	char server_bin[PATH_MAX], tmpl[600], scen[600];
	pid_t server;
	int port, sip_port, agent_port;
	char admin_token[256];
	int64_t queue_id;
	struct agent *agents; /* shared mapping */
	char **usernames;
	int nagents;
	bool keep, cleanup_armed, is_helper;
	long clk_tck;
	struct vs_proc callers, phones;
} G;

struct cfg {
	int calls[MAX_STEPS], ncalls, rates[MAX_STEPS], nrates;
	double hold, window, settle, ramp, rate_secs, rate_talk, dtmf_after, bridge_wait, max_delay_ms;
	double deadline; /* bench_now_s() after which no step starts */
	bool quick, paths[P_N];
};

/* ---- process and cleanup ----------------------------------------------------- */

static void stop_server(void)
{
	if (G.server <= 0)
		return;
	int st = 0;
	double took = 0;
	if (!bench_stop_child(G.server, 15.0, &st, &took))
		printf("   server killed after 15 s (SIGTERM ignored)   <-- NOT CLEAN\n");
	else if (WIFSIGNALED(st) || (WIFEXITED(st) && WEXITSTATUS(st) != 0))
		printf("   server stop: %s %d after %.2f s   <-- NOT CLEAN\n",
		       WIFSIGNALED(st) ? "signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
		       took);
	G.server = 0;
}

static void cleanup(void)
{
	if (G.is_helper || !G.cleanup_armed)
		return;
	G.cleanup_armed = false;
	vs_kill(&G.callers);
	vs_kill(&G.phones);
	stop_server();
	vr_stop();
	if (G.dir.tmp[0] && !G.keep)
		bench_rm_rf(G.dir.tmp);
	else if (G.dir.tmp[0])
		fprintf(stderr, "voice bench: kept %s\n", G.dir.tmp);
}

__attribute__((format(printf, 1, 2), noreturn)) static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bench_vcomplain("voice bench", fmt, ap);
	va_end(ap);
	if (G.is_helper)
		_exit(1);
	if (G.dir.log[0])
		bench_print_log_tail(G.dir.log, 20);
	exit(1);
}

/* ---- /proc ------------------------------------------------------------------------ */

static long rss_kb(pid_t pid)
{
	static const char *const key[] = {"VmRSS:"};
	long v;
	bench_proc_status(pid, key, &v, 1);
	return v;
}

static long stat_ticks(const char *path)
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
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	p += 2;
	for (int field = 3; field < 14 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p)
		return -1;
	char *end;
	long ut = strtol(p, &end, 10);
	return ut + strtol(end, NULL, 10);
}

static long ticks(pid_t pid)
{
	if (pid <= 0)
		return -1;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	return stat_ticks(path);
}

static long engine_ticks(void)
{
	char path[96];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)getpid(), vr_tid());
	return stat_ticks(path);
}

static long fd_count(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	long n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
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

/* ---- HTTP setup ------------------------------------------------------------------------ */

static int http_do(const char *method, const char *path, const char *token, const char *json,
		   struct bench_resp *r)
{
	return bench_http_do(G.port, SRC_MASTER, 20, method, path, token, json, r);
}

static int64_t json_int_of(const struct bench_resp *r, const char *key)
{
	json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
	int64_t v = -1;
	if (j && json_is_integer(json_object_get(j, key)))
		v = json_integer_value(json_object_get(j, key));
	json_decref(j);
	return v;
}

static int login_admin(void)
{
	struct bench_resp r;
	int rc = http_do("POST", "/api/v1/auth/login", NULL,
			 "{\"username\":\"admin\",\"password\":\"" ADMIN_PASSWORD "\"}", &r);
	if (rc || r.status != 200) {
		printf("   admin login: %d %.150s\n", rc ? -1 : r.status, r.body ? r.body : "");
		bench_resp_free(&r);
		return -1;
	}
	json_t *j = json_loadb(r.body, r.body_len, 0, NULL);
	const char *t = json_string_value(json_object_get(j, "token"));
	int ok = t && strlen(t) < sizeof(G.admin_token);
	if (ok)
		snprintf(G.admin_token, sizeof(G.admin_token), "%s", t);
	json_decref(j);
	bench_resp_free(&r);
	return ok ? 0 : -1;
}

/* ---- the server ------------------------------------------------------------------------- */

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

/* A port free on 127.0.0.1 for both TCP and UDP (SIP listens on both). */
static int free_udp_tcp_port(void)
{
	for (int tries = 0; tries < 50; tries++) {
		int p = bench_free_port();
		if (p < 0)
			break;
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p),
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		int ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		if (fd >= 0)
			close(fd);
		if (ok)
			return p;
	}
	fail("cannot find a free port");
}

static int start_server(const char *data, bool sip)
{
	G.port = free_udp_tcp_port();
	G.sip_port = sip ? free_udp_tcp_port() : 0;
	char port[16], sport[16];
	snprintf(port, sizeof(port), "%d", G.port);
	snprintf(sport, sizeof(sport), "%d", G.sip_port);
	char *argv[] = {G.server_bin, "serve",     "--data", (char *)data, "--http-port", port,
			"--bind",     "127.0.0.1", "--sip-port", sport, "--web", G.dir.web, NULL};
	G.server = bench_spawn_server(G.dir.log, argv, "HOTLINE_ADMIN_PASSWORD", ADMIN_PASSWORD);
	if (G.server < 0) {
		G.server = 0;
		fail("fork: %s", strerror(errno));
	}
	int rc = bench_wait_ready(server_alive, healthz_ok, 20.0);
	if (rc == -2)
		fail("interrupted");
	if (rc == -3)
		printf("   server did not answer /healthz with 200 within 20 s\n");
	return rc == 0 ? 0 : -1;
}

/* ---- files -------------------------------------------------------------------------------- */

static int write_text(const char *dir, const char *name, const char *text, mode_t mode)
{
	char path[800];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	size_t n = strlen(text), off = 0;
	while (off < n) {
		ssize_t w = write(fd, text + off, n - off);
		if (w <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	return close(fd);
}

/* Copies the regular files of the template folder into a fresh data folder. */
static void copy_template(const char *to)
{
	bench_rm_rf(to);
	if (mkdir(to, 0700) != 0)
		fail("mkdir %s: %s", to, strerror(errno));
	DIR *d = opendir(G.tmpl);
	if (!d)
		fail("opendir %s: %s", G.tmpl, strerror(errno));
	struct dirent *de;
	char buf[1 << 16];
	while ((de = readdir(d))) {
		char src[900], dst[900];
		snprintf(src, sizeof(src), "%s/%s", G.tmpl, de->d_name);
		snprintf(dst, sizeof(dst), "%s/%s", to, de->d_name);
		struct stat sb;
		if (stat(src, &sb) != 0 || !S_ISREG(sb.st_mode))
			continue;
		int in = open(src, O_RDONLY | O_CLOEXEC);
		int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, sb.st_mode & 0777);
		if (in < 0 || out < 0)
			fail("copy %s: %s", src, strerror(errno));
		ssize_t n;
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if (write(out, buf, (size_t)n) != n)
				fail("copy %s: %s", dst, strerror(errno));
		close(in);
		close(out);
	}
	closedir(d);
}

static void agent_name(int i, char *out, size_t size)
{
	snprintf(out, size, "ag%d", i);
}

/* sip_accounts (htdigest, HA1 = MD5(user:hotline:password)) and the SIPp
 * injection files: agents (user;password), agents' media ports, callers
 * (media port;number;hold ms;dtmf pause ms) per path. */
static void write_static_files(const struct cfg *cf)
{
	G.usernames = calloc((size_t)G.nagents, sizeof(char *));
	if (!G.usernames)
		fail("out of memory");
	for (int i = 0; i < G.nagents; i++) {
		char u[32];
		agent_name(i, u, sizeof(u));
		if (!(G.usernames[i] = strdup(u)))
			fail("out of memory");
	}
	size_t cap = (size_t)G.nagents * 96 + 64;
	char *acc = malloc(cap), *csv = malloc(cap);
	if (!acc || !csv)
		fail("out of memory");
	size_t a = 0, c = 0;
	c += (size_t)snprintf(csv + c, cap - c, "SEQUENTIAL\n");
	for (int i = 0; i < G.nagents; i++) {
		char u[32], in[160];
		agent_name(i, u, sizeof(u));
		int n = snprintf(in, sizeof(in), "%s:hotline:%s", u, SIP_PASSWORD);
		uint8_t h[16];
		md5((const uint8_t *)in, (size_t)n, h);
		a += (size_t)snprintf(acc + a, cap - a, "%s:hotline:", u);
		for (int k = 0; k < 16; k++)
			a += (size_t)snprintf(acc + a, cap - a, "%02x", h[k]);
		a += (size_t)snprintf(acc + a, cap - a, "\n");
		c += (size_t)snprintf(csv + c, cap - c, "%s;%s\n", u, SIP_PASSWORD);
	}
	if (write_text(G.tmpl, "sip_accounts", acc, 0600) || write_text(G.scen, "agents.csv", csv, 0600))
		fail("write sip_accounts / agents.csv: %s", strerror(errno));
	free(acc);
	free(csv);
	char ports[512];
	int n = snprintf(ports, sizeof(ports), "SEQUENTIAL\n");
	for (int k = 0; k < VR_SOCKS; k++)
		n += snprintf(ports + n, sizeof(ports) - (size_t)n, "%d\n", vr_port(VR_AGENT, k));
	if (write_text(G.scen, "phone_ports.csv", ports, 0600))
		fail("write phone_ports.csv: %s", strerror(errno));
	(void)cf;
}

/* The callers' injection file of one step: media port (the engine's
 * caller sockets in turn); number; hold ms; DTMF pause ms. */
static void write_callers_csv(enum path p, int hold_ms, int dtmf_ms)
{
	int lines = p == P_RELAY ? G.nagents : VR_SOCKS * 8;
	size_t cap = (size_t)lines * 64 + 32;
	char *csv = malloc(cap);
	if (!csv)
		fail("out of memory");
	size_t c = (size_t)snprintf(csv, cap, "SEQUENTIAL\n");
	for (int i = 0; i < lines; i++) {
		char num[32];
		if (p == P_RELAY)
			snprintf(num, sizeof(num), "%d", RELAY_BASE + i);
		else
			snprintf(num, sizeof(num), "%s", p == P_MENU ? MENU_NUMBER : QUEUE_NUMBER);
		c += (size_t)snprintf(csv + c, cap - c, "%d;%s;%d;%d\n", vr_port(VR_CALLER, i % VR_SOCKS),
				      num, hold_ms, dtmf_ms);
	}
	if (write_text(G.scen, "callers.csv", csv, 0600) ||
	    vs_write_caller(G.scen, "caller.xml", p == P_MENU ? DTMF_PCAP : NULL, dtmf_ms, hold_ms))
		fail("write callers.csv / caller.xml: %s", strerror(errno));
	free(csv);
}

/* voice_numbers, voice_trunks, voice_menus of a step's data folder. */
static void write_voice_config(const char *data)
{
	size_t cap = (size_t)G.nagents * 48 + 256;
	char *nums = malloc(cap);
	if (!nums)
		fail("out of memory");
	size_t n = (size_t)snprintf(nums, cap, "# bench/voice\n%s queue:%lld\n%s menu:main\n",
				    QUEUE_NUMBER, (long long)G.queue_id, MENU_NUMBER);
	for (int i = 0; i < G.nagents; i++) {
		char u[32];
		agent_name(i, u, sizeof(u));
		n += (size_t)snprintf(nums + n, cap - n, "%d user:%s\n", RELAY_BASE + i, u);
	}
	char menus[512];
	snprintf(menus, sizeof(menus),
		 "[main]\nlanguage = en\ngreeting = Welcome. For sales press 1.\n1 = queue:%lld\n"
		 "timeout = 5\nretries = 2\n",
		 (long long)G.queue_id);
	if (write_text(data, "voice_numbers", nums, 0600) ||
	    write_text(data, "voice_trunks", "127.0.0.1\n", 0600) ||
	    write_text(data, "voice_menus", menus, 0600))
		fail("write voice config: %s", strerror(errno));
	free(nums);
}

/* ---- the template: queue, users, agents (once) ------------------------------------------ */

/* One agent user and its agent record (in a setup helper process; the
 * result goes to G.agents, shared with the parent). */
static void setup_agent(int i, void *arg)
{
	(void)arg;
	struct agent *a = &G.agents[i];
	char u[32], body[400];
	agent_name(i, u, sizeof(u));
	snprintf(body, sizeof(body),
		 "{\"username\":\"%s\",\"role\":\"agent\",\"display_name\":\"Agent "
		 "%d\",\"password\":\"" AGENT_PASSWORD "\"}",
		 u, i);
	struct bench_resp ur;
	int urc = http_do("POST", "/api/v1/users", G.admin_token, body, &ur);
	if (urc || ur.status != 201) {
		snprintf(a->err, sizeof(a->err), "POST /users: %d %.100s",
			 urc ? -1 : ur.status, ur.body ? ur.body : "");
		bench_resp_free(&ur);
		return;
	}
	a->user_id = json_int_of(&ur, "id");
	bench_resp_free(&ur);
	snprintf(body, sizeof(body),
		 "{\"name\":\"Agent %d\",\"user_id\":%lld,\"capacity\":{\"voice\":1},"
		 "\"queues\":[%lld]}",
		 i, (long long)a->user_id, (long long)G.queue_id);
	struct bench_resp ar;
	int arc = http_do("POST", "/api/v1/agents", G.admin_token, body, &ar);
	if (arc || ar.status != 201) {
		snprintf(a->err, sizeof(a->err), "POST /agents: %d %.100s",
			 arc ? -1 : ar.status, ar.body ? ar.body : "");
		bench_resp_free(&ar);
		return;
	}
	a->agent_id = json_int_of(&ar, "id");
	bench_resp_free(&ar);
	a->ok = 1;
}

static void setup_template(int nagents)
{
	G.nagents = nagents;
	if (mkdir(G.tmpl, 0700) != 0)
		fail("mkdir %s: %s", G.tmpl, strerror(errno));
	double t0 = bench_now_s();
	if (start_server(G.tmpl, false) != 0 || login_admin() != 0)
		fail("setup: the server did not start (log: %s)", G.dir.log);
	struct bench_resp r;
	int rc = http_do("POST", "/api/v1/queues", G.admin_token,
			 "{\"name\":\"Bench voice\",\"channels\":[\"voice\"],\"strategy\":\"longest_idle\","
			 "\"offer_timeout_seconds\":20,\"wrap_up_seconds\":0}",
			 &r);
	if (rc || r.status != 201)
		fail("setup: POST /api/v1/queues: %d %.200s", rc ? -1 : r.status, r.body ? r.body : "");
	G.queue_id = json_int_of(&r, "id");
	bench_resp_free(&r);

	(void)bench_fork_each(SETUP_HELPERS, nagents, 120.0 + 0.2 * nagents, &G.is_helper, setup_agent,
			      NULL);
	int ok = 0;
	const char *first_err = NULL;
	for (int i = 0; i < nagents; i++) {
		if (G.agents[i].ok)
			ok++;
		else if (!first_err)
			first_err = G.agents[i].err[0] ? G.agents[i].err : "not done in time";
	}
	double took = bench_now_s() - t0;
	stop_server();
	printf("setup: queue %lld; %d of %d agent users created in %.1f s (%.1f ms each: argon2id);"
	       " template data kept for every step%s%s\n",
	       (long long)G.queue_id, ok, nagents, took, took * 1000.0 / (nagents ? nagents : 1),
	       first_err ? "; first error: " : "", first_err ? first_err : "");
	if (bench_stop)
		fail("interrupted");
	if (ok != nagents)
		fail("setup failed");
}

/* ---- one step ------------------------------------------------------------------------------ */

struct step {
	bool ran, passed;
	enum path path;
	int asked, rate;
	bool rate_step;
	double bridged_mean;
	uint64_t bridged_min, bridged_max;
	long judged, not_bridged, sipp_failed, sipp_created;
	double fail_pct, loss_pct, tone_loss_pct;
	double delay_p50, delay_p99, delay_max, relay_iat_p99, tone_iat_p99, late_p99, wait_p50,
		wait_p99;
	double setups_per_s;
	double cpu_ms_per_call_s, srv_cpu_pct, callers_cpu_pct, phones_cpu_pct, engine_cpu_pct;
	long rss0, rss1, fds;
	double rss_kb_per_call;
	char why[200];
};

static void why_add(struct step *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void why_add(struct step *s, const char *fmt, ...)
{
	size_t n = strlen(s->why);
	if (n + 4 >= sizeof(s->why))
		return;
	if (n)
		n += (size_t)snprintf(s->why + n, sizeof(s->why) - n, "; ");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->why + n, sizeof(s->why) - n, fmt, ap);
	va_end(ap);
}

/* Errors and warnings the server logged. */
static void scan_log(void)
{
	FILE *f = fopen(G.dir.log, "r");
	if (!f)
		return;
	char line[1024];
	long errs = 0, warns = 0;
	int shown = 0;
	while (fgets(line, sizeof(line), f)) {
		bool e = strstr(line, "level=error") != NULL || strstr(line, " ERROR ") != NULL,
		     wn = strstr(line, "level=warn") != NULL || strstr(line, " WARN ") != NULL;
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

static bool log_has(const char *needle)
{
	FILE *f = fopen(G.dir.log, "r");
	if (!f)
		return false;
	char line[2048];
	bool found = false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

/* Server up on a copy of the template, agents available and registered,
 * the phones' SIPp answering. */
static int prepare_server(struct step *s)
{
	copy_template(G.dir.data);
	write_voice_config(G.dir.data);
	if (start_server(G.dir.data, true) != 0) {
		bench_print_log_tail(G.dir.log, 15);
		return -1;
	}
	s->ran = true;
	if (login_admin() != 0)
		return -1;
	/* service numbers are read by the server's file watcher */
	for (int i = 0; i < 100 && !log_has("service number(s) from"); i++)
		bench_sleep_s(0.05);
	double t0 = bench_now_s();
	int bad = 0;
	for (int i = 0; i < G.nagents && !bench_stop; i++) {
		char path[96];
		snprintf(path, sizeof(path), "/api/v1/agents/%lld/state", (long long)G.agents[i].agent_id);
		struct bench_resp r;
		int rc = http_do("PUT", path, G.admin_token, "{\"state\":\"available\"}", &r);
		if (rc || r.status != 200) {
			if (!bad++)
				printf("   PUT %s: %d %.150s\n", path, rc ? -1 : r.status, r.body ? r.body : "");
		}
		bench_resp_free(&r);
	}
	double t_avail = bench_now_s() - t0;
	/* register every phone from the agents' port, then answer there */
	G.agent_port = free_udp_tcp_port();
	char inf[700], rerr[200];
	t0 = bench_now_s();
	int reg = vs_register(G.sip_port, G.agent_port, G.usernames, G.nagents, SIP_PASSWORD, 60.0,
			      rerr, sizeof(rerr));
	printf("   agents: %d set available in %.1f s (%d errors); %d of %d phones registered in "
	       "%.1f s\n",
	       G.nagents, t_avail, bad, reg, G.nagents, bench_now_s() - t0);
	if (reg < G.nagents) {
		printf("   registration failed%s%s\n", rerr[0] ? ": " : "", rerr);
		return -1;
	}
	snprintf(inf, sizeof(inf), "%s/phone_ports.csv", G.scen);
	char *ph_args[] = {"-inf", inf, "-timeout", "900s", NULL};
	if (vs_start(&G.phones, G.scen, "phones", "agent.xml", G.sip_port, G.agent_port, ph_args))
		fail("cannot start sipp: %s", strerror(errno));
	bench_sleep_s(0.3);
	if (!vs_alive(&G.phones)) {
		printf("   the phones' sipp ended at once\n");
		vs_print_tail(&G.phones, 8);
		return -1;
	}
	return bench_stop ? -1 : 0;
}

static void finish_step(struct step *s)
{
	vs_kill(&G.callers);
	vs_kill(&G.phones);
	stop_server();
	scan_log();
}

static void judge_step(struct step *s, const struct cfg *cf, const struct vr_result *res,
		       const struct vr_step *vs, const struct vs_stats *cst)
{
	s->judged = (long)vs->judged;
	s->not_bridged = (long)vs->not_bridged;
	s->sipp_failed = cst->failed;
	s->sipp_created = cst->created;
	long denom = s->judged + s->sipp_failed;
	s->fail_pct = denom ? 100.0 * (double)(s->not_bridged + s->sipp_failed) / (double)denom : 100.0;
	s->loss_pct = res->relay_expected
			      ? 100.0 * (double)(res->relay_expected - res->relay_rx) / (double)res->relay_expected
			      : -1;
	s->tone_loss_pct = res->tone_expected
				   ? 100.0 * (double)(res->tone_expected - res->tone_rx) / (double)res->tone_expected
				   : -1;
	s->delay_p50 = vr_hist_q(&res->delay, 0.5);
	s->delay_p99 = vr_hist_q(&res->delay, 0.99);
	s->delay_max = vr_hist_q(&res->delay, 1.0);
	s->relay_iat_p99 = vr_hist_q(&res->relay_iat, 0.99);
	s->tone_iat_p99 = vr_hist_q(&res->tone_iat, 0.99);
	s->late_p99 = vr_hist_q(&res->late, 0.99);
	s->wait_p50 = vr_hist_q(&vs->wait, 0.5);
	s->wait_p99 = vr_hist_q(&vs->wait, 0.99);
	s->bridged_mean = res->samples ? (double)res->bridged_sum / (double)res->samples : 0;
	s->bridged_min = res->bridged_min;
	s->bridged_max = res->bridged_max;
	s->passed = true;
	if (!server_alive()) {
		s->passed = false;
		why_add(s, "server gone");
	}
	if (s->fail_pct > 1.0) {
		s->passed = false;
		why_add(s, "%.1f%% of calls failed", s->fail_pct);
	}
	if (!res->delay.n) {
		s->passed = false;
		why_add(s, "no relayed audio");
	}
	if (s->loss_pct > 1.0) {
		s->passed = false;
		why_add(s, "relay loss %.2f%%", s->loss_pct);
	}
	if (s->delay_p99 > cf->max_delay_ms) {
		s->passed = false;
		why_add(s, "relay delay p99 %.1f ms", s->delay_p99);
	}
	if (s->relay_iat_p99 > 25.0) {
		s->passed = false;
		why_add(s, "relayed interval p99 %.1f ms", s->relay_iat_p99);
	}
	if (s->tone_iat_p99 > 25.0) {
		s->passed = false;
		why_add(s, "hold stream interval p99 %.1f ms", s->tone_iat_p99);
	}
}

static void print_step(const struct step *s, const struct vr_result *res, const struct vs_stats *cst,
		       const struct vs_stats *pst)
{
	printf("   calls: %ld judged, %ld not bridged in time, sipp: %ld created, %ld ok, %ld failed",
	       s->judged, s->not_bridged, cst->created, cst->success, cst->failed);
	if (cst->failed)
		printf(" (rejected %ld, retrans %ld, unexpected %ld, recv timeout %ld, other %ld)",
		       cst->f_rejected, cst->f_retrans, cst->f_unexpected, cst->f_timeout_recv,
		       cst->f_other + cst->f_aborted + cst->f_timeout_send);
	printf("; phones: %ld answered, %ld failed -> %.2f%% failed\n", pst->created, pst->failed,
	       s->fail_pct);
	printf("   bridged calls in the window: mean %.0f, min %llu, max %llu; answer->bridged p50 "
	       "%.0f ms p99 %.0f ms; INVITE->200 mean %.2f ms\n",
	       s->bridged_mean, (unsigned long long)s->bridged_min, (unsigned long long)s->bridged_max,
	       s->wait_p50, s->wait_p99, cst->rtd_ms);
	printf("   relay: %llu packets, delay p50 %.2f ms p99 %.2f max %.1f, loss %.3f%%, interval "
	       "p99 %.1f ms (behind a perfectly timed sender)\n",
	       (unsigned long long)res->delay.n, s->delay_p50, s->delay_p99, s->delay_max,
	       s->loss_pct, s->relay_iat_p99);
	if (res->tone_iat.n)
		printf("   server's own stream (greeting, hold tone): %llu packets, interval p50 %.1f ms "
		       "p90 %.1f p99 %.1f p99.9 %.1f max %.1f, loss %.3f%%\n",
		       (unsigned long long)res->tone_iat.n, vr_hist_q(&res->tone_iat, 0.5),
		       vr_hist_q(&res->tone_iat, 0.9), s->tone_iat_p99, vr_hist_q(&res->tone_iat, 0.999),
		       vr_hist_q(&res->tone_iat, 1.0), s->tone_loss_pct);
	printf("   rtp engine: %llu sent (%llu errors), send lateness p99 %.1f ms, kernel drops on "
	       "its sockets %llu%s\n",
	       (unsigned long long)res->sent, (unsigned long long)res->send_err, s->late_p99,
	       (unsigned long long)vr_kernel_drops(),
	       res->unmarked_agent ? " (agents heard unrelayed packets!)" : "");
}

/* cpu counters of every process, for one window */
struct cpu {
	long srv, callers, phones, engine;
	double t;
};

static struct cpu cpu_now(void)
{
	struct cpu c = {ticks(G.server), ticks(G.callers.pid), ticks(G.phones.pid), engine_ticks(),
			bench_now_s()};
	return c;
}

static double pct(long a, long b, double secs)
{
	return a < 0 || b < 0 ? -1 : (double)(b - a) / (double)G.clk_tck / secs * 100.0;
}

static void cpu_fill(struct step *s, const struct cpu *a, const struct cpu *b)
{
	double secs = b->t - a->t;
	s->srv_cpu_pct = pct(a->srv, b->srv, secs);
	s->callers_cpu_pct = pct(a->callers, b->callers, secs);
	s->phones_cpu_pct = pct(a->phones, b->phones, secs);
	s->engine_cpu_pct = pct(a->engine, b->engine, secs);
}

static void print_cpu(const struct step *s)
{
	printf("   cpu (%% of one core; 2 cores): server %.0f, callers' sipp %.0f, phones' sipp %.0f, "
	       "rtp engine %.0f => %.0f%% of the machine",
	       s->srv_cpu_pct, s->callers_cpu_pct, s->phones_cpu_pct, s->engine_cpu_pct,
	       (s->srv_cpu_pct + s->callers_cpu_pct + s->phones_cpu_pct + s->engine_cpu_pct) / 2.0);
	if (s->cpu_ms_per_call_s > 0)
		printf("; server %.2f ms per call-second", s->cpu_ms_per_call_s);
	printf("\n");
}

/* Concurrency: N calls up at once, churn N/hold per second. */
static void run_calls(enum path p, int n, const struct cfg *cf, struct step *s)
{
	memset(s, 0, sizeof(*s));
	s->path = p;
	s->asked = n;
	double rate = (double)n / cf->ramp;
	if (rate < (double)n / cf->hold * 1.25)
		rate = (double)n / cf->hold * 1.25;
	s->rate = (int)(rate + 0.5);
	char la[64];
	loadavg(la, sizeof(la));
	printf("== %s, %d concurrent calls (%d calls/s, %.0f s each) (load average %s)\n", path_name[p],
	       n, s->rate, cf->hold, la);
	double t_start = bench_now_s();
	if (prepare_server(s) != 0) {
		why_add(s, "setup failed");
		finish_step(s);
		return;
	}
	bench_sleep_s(cf->settle);
	s->rss0 = rss_kb(G.server);
	double dtmf = p == P_MENU ? cf->dtmf_after : 0;
	vr_reset((int)((dtmf + cf->bridge_wait) * 1000));
	write_callers_csv(p, (int)(cf->hold * 1000), (int)(dtmf * 1000));
	char inf[700], r[16], l[16], m[16], tmo[16];
	snprintf(inf, sizeof(inf), "%s/callers.csv", G.scen);
	snprintf(r, sizeof(r), "%d", s->rate);
	snprintf(l, sizeof(l), "%d", n);
	/* enough calls for the whole step; the step stops them */
	snprintf(m, sizeof(m), "%d",
		 (int)(rate * (2 * cf->ramp + 2 * cf->settle + cf->window + cf->hold + 30)));
	snprintf(tmo, sizeof(tmo), "%ds", (int)(cf->ramp + cf->hold + cf->window + 60));
	char *args[] = {"-inf", inf, "-r", r, "-l", l, "-m", m, "-timeout", tmo, NULL};
	if (vs_start(&G.callers, G.scen, "callers", "caller.xml",
		     G.sip_port, free_udp_tcp_port(), args))
		fail("cannot start sipp: %s", strerror(errno));
	/* ramp: until n calls are bridged (or about as many as the churn
	 * allows), bounded by twice the planned ramp time */
	double t0 = bench_now_s(), planned = (double)n / rate;
	struct vr_step vs;
	for (;;) {
		vr_step_get(&vs);
		double el = bench_now_s() - t0;
		if (bench_stop || !server_alive() || !vs_alive(&G.callers))
			break;
		if (el > planned && vs.bridged_now >= (uint64_t)(n * 0.97))
			break;
		if (el > planned + dtmf + 2.0 && vs.bridged_now >= (uint64_t)(n * 0.85))
			break;
		if (el > 2 * planned + dtmf + 10.0)
			break;
		bench_sleep_s(0.1);
	}
	printf("   ramp: %.1f s, %llu bridged, %llu callers' streams, %llu phones' streams\n",
	       bench_now_s() - t0, (unsigned long long)vs.bridged_now,
	       (unsigned long long)vs.callers_now, (unsigned long long)vs.agents_now);
	bench_sleep_s(cf->settle);
	/* the window */
	int64_t w0 = vr_now_real(), w1 = w0 + (int64_t)(cf->window * 1e9);
	vr_window(w0, w1);
	struct cpu c0 = cpu_now();
	bench_sleep_s(cf->window / 2);
	long rss_mid = rss_kb(G.server);
	bench_sleep_s(cf->window / 2);
	struct cpu c1 = cpu_now();
	s->rss1 = rss_kb(G.server);
	if (rss_mid > s->rss1)
		s->rss1 = rss_mid;
	s->fds = fd_count(G.server);
	vr_judge_until_now();
	struct vs_stats cst = vs_read_stats(&G.callers), pst = vs_read_stats(&G.phones);
	for (int i = 0; i < 40 && !vr_window_done(); i++)
		bench_sleep_s(0.05);
	vr_step_get(&vs);
	const struct vr_result *res = vr_result();
	judge_step(s, cf, res, &vs, &cst);
	cpu_fill(s, &c0, &c1);
	double secs = c1.t - c0.t;
	if (s->bridged_mean > 0 && c1.srv >= c0.srv) {
		s->cpu_ms_per_call_s = (double)(c1.srv - c0.srv) * 1000.0 / (double)G.clk_tck /
				       (s->bridged_mean * secs);
		s->rss_kb_per_call = (double)(s->rss1 - s->rss0) / s->bridged_mean;
	}
	print_step(s, res, &cst, &pst);
	print_cpu(s);
	printf("   server rss %.1f MB before calls, %.1f MB with them: %.1f KB per bridged call; %ld "
	       "open files\n",
	       (double)s->rss0 / 1024.0, (double)s->rss1 / 1024.0, s->rss_kb_per_call, s->fds);
	if (!vs_alive(&G.callers) && cst.created < n)
		vs_print_tail(&G.callers, 6);
	finish_step(s);
	printf("   %s; step took %.1f s\n", s->passed ? "PASS" : s->why, bench_now_s() - t_start);
}

/* Setup rate: R calls a second for rate_secs, each short. */
static void run_rate(enum path p, int rate, const struct cfg *cf, struct step *s)
{
	memset(s, 0, sizeof(*s));
	s->path = p;
	s->rate = rate;
	s->rate_step = true;
	double dtmf = p == P_MENU ? cf->dtmf_after : 0;
	double hold = dtmf + cf->rate_talk;
	int total = (int)(rate * cf->rate_secs);
	int limit = (int)(rate * (hold + cf->bridge_wait + 4));
	s->asked = total;
	char la[64];
	loadavg(la, sizeof(la));
	printf("== %s, %d call setups/s for %.0f s (%d calls of %.1f s) (load average %s)\n",
	       path_name[p], rate, cf->rate_secs, total, hold, la);
	double t_start = bench_now_s();
	if (prepare_server(s) != 0) {
		why_add(s, "setup failed");
		finish_step(s);
		return;
	}
	bench_sleep_s(cf->settle);
	s->rss0 = rss_kb(G.server);
	vr_reset((int)((dtmf + cf->bridge_wait) * 1000));
	write_callers_csv(p, (int)(hold * 1000), (int)(dtmf * 1000));
	char inf[700], r[16], l[16], m[16], tmo[16];
	snprintf(inf, sizeof(inf), "%s/callers.csv", G.scen);
	snprintf(r, sizeof(r), "%d", rate);
	snprintf(l, sizeof(l), "%d", limit);
	snprintf(m, sizeof(m), "%d", total);
	snprintf(tmo, sizeof(tmo), "%ds", (int)(cf->rate_secs + hold + 40));
	char *args[] = {"-inf", inf, "-r", r, "-l", l, "-m", m, "-timeout", tmo, NULL};
	if (vs_start(&G.callers, G.scen, "callers", "caller.xml",
		     G.sip_port, free_udp_tcp_port(), args))
		fail("cannot start sipp: %s", strerror(errno));
	/* the window: from the first second to when the last call is placed */
	int64_t w0 = vr_now_real() + 1000000000LL,
		w1 = w0 + (int64_t)((cf->rate_secs - 1.0 + hold) * 1e9);
	vr_window(w0, w1);
	struct cpu c0 = cpu_now();
	long callers_last = c0.callers;
	int rc = -1;
	double tw = bench_now_s();
	while (vs_alive(&G.callers)) {
		long t = ticks(G.callers.pid);
		if (t >= 0)
			callers_last = t;
		if (bench_now_s() - tw > cf->rate_secs + hold + 45 || bench_stop)
			break;
		bench_sleep_s(0.05);
	}
	if (vs_alive(&G.callers))
		vs_kill(&G.callers);
	else
		rc = vs_wait(&G.callers, 0);
	struct cpu c1 = cpu_now();
	c1.callers = callers_last;
	s->rss1 = rss_kb(G.server);
	vr_judge_until_now();
	for (int i = 0; i < 60 && !vr_window_done(); i++)
		bench_sleep_s(0.05);
	bench_sleep_s(cf->bridge_wait > 1.2 ? 1.2 : cf->bridge_wait);
	struct vr_step vs;
	vr_step_get(&vs);
	struct vs_stats cst = vs_read_stats(&G.callers), pst = vs_read_stats(&G.phones);
	const struct vr_result *res = vr_result();
	judge_step(s, cf, res, &vs, &cst);
	cpu_fill(s, &c0, &c1);
	double secs = c1.t - c0.t;
	s->setups_per_s = (double)vs.bridged / cf->rate_secs;
	if (vs.bridged && c1.srv >= c0.srv)
		s->cpu_ms_per_call_s = -1;
	print_step(s, res, &cst, &pst);
	printf("   %llu calls bridged: %.0f setups/s over %.0f s; server cpu %.2f ms per call "
	       "(setup and %.0f s of the call)\n",
	       (unsigned long long)vs.bridged, s->setups_per_s, cf->rate_secs,
	       vs.bridged ? (double)(c1.srv - c0.srv) * 1000.0 / (double)G.clk_tck / (double)vs.bridged
			  : -1.0,
	       hold);
	(void)secs;
	print_cpu(s);
	if (rc != 0 && rc != 1)
		printf("   callers' sipp did not end by itself (killed)\n");
	if (cst.created < total)
		why_add(s, "only %ld of %d calls placed", cst.created, total);
	if (cst.created < total)
		s->passed = false;
	finish_step(s);
	printf("   %s; step took %.1f s\n", s->passed ? "PASS" : s->why, bench_now_s() - t_start);
}

/* ---- main -------------------------------------------------------------------------------------- */

static void usage(void)
{
	printf("usage: voice [--quick] [--calls N,N,..] [--rates R,R,..] [--hold S] [--window S]\n"
	       "             [--agents N] [--paths menu,queue,relay] [--server PATH] [--keep]\n"
	       "  --quick        50 and 100 calls, one rate step, menu(or queue) and relay (< 60 s)\n"
	       "  --calls        concurrency steps (default 150,300,450,600,900,1200,1500)\n"
	       "  --rates        setup-rate steps, calls/s (default 50,100,175,250,325,400)\n"
	       "  --hold S       call length in concurrency steps (default 20)\n"
	       "  --window S     measured seconds per concurrency step (default 8)\n"
	       "  --rate-secs S  seconds of calls per rate step (default 8)\n"
	       "  --agents N     agent users/phones (default: enough for the largest step)\n"
	       "  --paths        which paths, in order (default menu,relay; queue when the\n"
	       "                 server has no menus); the first one is the RESULT line's\n"
	       "  --max-delay MS relay delay p99 a passing step may have (default 10)\n"
	       "  --dtmf-after S menu: seconds from the answer to the digit (default 2.5)\n"
	       "  --bridge-wait S a call not bridged this long after the answer (and the\n"
	       "                 digit) failed (default 5)\n");
}

static int parse_list(const char *s, int *out, int max, int lo, int hi, const char *what)
{
	int n = 0;
	for (const char *p = s; *p && n < max;) {
		char *end;
		long x = strtol(p, &end, 10);
		if (end == p || x < lo || x > hi || (*end && *end != ','))
			fail("%s: numbers from %d to %d, comma separated", what, lo, hi);
		out[n++] = (int)x;
		p = *end == ',' ? end + 1 : end;
	}
	return n;
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

static bool server_has_menus(void)
{
	/* the menu and user: targets (docs/VOICE.md); detected from the server's
	 * strings, so an older build falls back to the queue path */
	FILE *f = fopen(G.server_bin, "rb");
	if (!f)
		return false;
	static char buf[1 << 20];
	size_t n, keep = 0;
	bool found = false;
	while (!found && (n = fread(buf + keep, 1, sizeof(buf) - keep, f)) > 0) {
		size_t len = keep + n;
		found = memmem(buf, len, "voice_menus", 11) != NULL;
		keep = len > 16 ? 16 : len;
		memmove(buf, buf + len - keep, keep);
	}
	fclose(f);
	return found;
}

int main(int argc, char **argv)
{
	struct cfg cf = {.hold = 20, .window = 8, .settle = 2, .ramp = 15, .rate_secs = 8, .rate_talk = 4,
			 .dtmf_after = 2.5, .bridge_wait = 5, .max_delay_ms = 10};
	int calls_def[] = {150, 300, 450, 600, 900, 1200, 1500};
	int rates_def[] = {50, 100, 175, 250, 325, 400};
	memcpy(cf.calls, calls_def, sizeof(calls_def));
	cf.ncalls = 7;
	memcpy(cf.rates, rates_def, sizeof(rates_def));
	cf.nrates = 6;
	int agents = 0;
	bool calls_set = false, rates_set = false, paths_set = false;
	double hold = -1, window = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--quick") == 0) {
			cf.quick = true;
		} else if (strcmp(a, "--calls") == 0 && v) {
			cf.ncalls = parse_list(argv[++i], cf.calls, MAX_STEPS, 1, 3000, "--calls");
			calls_set = true;
		} else if (strcmp(a, "--rates") == 0 && v) {
			cf.nrates = parse_list(argv[++i], cf.rates, MAX_STEPS, 0, 2000, "--rates");
			rates_set = true;
		} else if (strcmp(a, "--hold") == 0) {
			hold = parse_num(v, 3, 600, "--hold");
			i++;
		} else if (strcmp(a, "--window") == 0) {
			window = parse_num(v, 1, 300, "--window");
			i++;
		} else if (strcmp(a, "--rate-secs") == 0) {
			cf.rate_secs = parse_num(v, 2, 120, "--rate-secs");
			i++;
		} else if (strcmp(a, "--agents") == 0) {
			agents = (int)parse_num(v, 1, MAX_AGENTS, "--agents");
			i++;
		} else if (strcmp(a, "--max-delay") == 0) {
			cf.max_delay_ms = parse_num(v, 0.1, 1000, "--max-delay");
			i++;
		} else if (strcmp(a, "--dtmf-after") == 0) {
			cf.dtmf_after = parse_num(v, 0, 30, "--dtmf-after");
			i++;
		} else if (strcmp(a, "--bridge-wait") == 0) {
			cf.bridge_wait = parse_num(v, 0.5, 60, "--bridge-wait");
			i++;
		} else if (strcmp(a, "--paths") == 0 && v) {
			paths_set = true;
			memset(cf.paths, 0, sizeof(cf.paths));
			char tmp[64];
			snprintf(tmp, sizeof(tmp), "%s", argv[++i]);
			char *save = NULL;
			for (char *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				int k = 0;
				while (k < P_N && strcmp(t, path_name[k]) != 0)
					k++;
				if (k == P_N)
					fail("--paths: menu, queue or relay");
				cf.paths[k] = true;
			}
		} else if (strcmp(a, "--server") == 0 && v) {
			snprintf(G.server_bin, sizeof(G.server_bin), "%s", argv[++i]);
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
		if (!calls_set) {
			cf.calls[0] = 50;
			cf.calls[1] = 100;
			cf.ncalls = 2;
		}
		if (!rates_set) {
			cf.rates[0] = 50;
			cf.nrates = 1;
		}
		cf.hold = 12;
		cf.window = 3;
		cf.settle = 0.3;
		cf.ramp = 2.5;
		cf.rate_secs = 3;
		cf.rate_talk = 1.5;
	}
	if (hold > 0)
		cf.hold = hold;
	if (window > 0)
		cf.window = window;
	setvbuf(stdout, NULL, _IOLBF, 0);
	G.clk_tck = sysconf(_SC_CLK_TCK);

	char err[PATH_MAX + 100];
	if (bench_server_path(G.server_bin, sizeof(G.server_bin), err, sizeof(err)) != 0)
		fail("%s", err);
	if (access(DTMF_PCAP, R_OK) != 0 || system("command -v sipp >/dev/null 2>&1") != 0)
		fail("needs sipp and %s (Debian package sip-tester)", DTMF_PCAP);
	bool menus = server_has_menus();
	if (!paths_set) {
		cf.paths[menus ? P_MENU : P_QUEUE] = true;
		cf.paths[P_RELAY] = menus;
	}
	/* agents: one per concurrent call of the largest step, or per call of
	 * the largest rate step (calls of dtmf + 4 s, plus the bridge wait) */
	int need = 0;
	for (int i = 0; i < cf.ncalls; i++)
		need = cf.calls[i] > need ? cf.calls[i] : need;
	for (int i = 0; i < cf.nrates; i++) {
		int c = (int)(cf.rates[i] * (cf.dtmf_after + cf.rate_talk + 1.0));
		need = c > need ? c : need;
	}
	if (!agents)
		agents = need + need / 10 + 10;
	if (agents > MAX_AGENTS)
		agents = MAX_AGENTS;

	rlim_t nofile = bench_raise_nofile(); /* the server inherits it */
	bench_catch_signals();
	G.agents = mmap(NULL, sizeof(struct agent) * MAX_AGENTS, PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (G.agents == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	if (bench_make_dirs("voice", &G.dir) != 0)
		fail("mkdtemp %s: %s", G.dir.tmp, strerror(errno));
	G.cleanup_armed = true;
	atexit(cleanup);
	snprintf(G.tmpl, sizeof(G.tmpl), "%s/template", G.dir.tmp);
	snprintf(G.scen, sizeof(G.scen), "%s/sipp", G.dir.tmp);
	if (mkdir(G.dir.web, 0700) != 0 || mkdir(G.scen, 0700) != 0)
		fail("mkdir: %s", strerror(errno));
	if (vs_write_scenarios(G.scen) != 0)
		fail("cannot write the SIPp scenarios: %s", strerror(errno));
	if (vr_start() != 0)
		fail("rtp engine: %s", strerror(errno));

	printf("voice bench: paths");
	for (int k = 0; k < P_N; k++)
		if (cf.paths[k])
			printf(" %s", path_name[k]);
	printf("%s; calls", menus ? "" : " (this server has no voice menus: queue path)");
	for (int i = 0; i < cf.ncalls; i++)
		printf("%s%d", i ? "," : " ", cf.calls[i]);
	printf(" (%.0f s each, %.0f s window); rates", cf.hold, cf.window);
	for (int i = 0; i < cf.nrates; i++)
		printf("%s%d", i ? "," : " ", cf.rates[i]);
	printf("/s; %d agents; open files limit %lu%s\n", agents, (unsigned long)nofile,
	       cf.quick ? " (quick)" : "");
	setup_template(agents);
	write_static_files(&cf);

	struct step st[P_N][2][MAX_STEPS];
	memset(st, 0, sizeof(st));
	int best_calls[P_N], best_rate[P_N];
	double t_run = bench_now_s();
	cf.deadline = t_run + (cf.quick ? 55.0 : 14.0 * 60.0);
	int main_path = cf.paths[P_MENU] ? P_MENU : cf.paths[P_QUEUE] ? P_QUEUE : P_RELAY;
	for (int k = 0; k < P_N; k++)
		best_calls[k] = best_rate[k] = -1;
	for (int pass = 0; pass < 2; pass++)
		for (int k = 0; k < P_N; k++) {
			/* the main path first; the baseline then starts at the main
			 * path's highest passing step (the same traffic) and goes on
			 * up until it fails too: its own maximum, for the ratios */
			if (!cf.paths[k] || (pass == 0) != (k == main_path))
				continue;
			int from_c = 0, from_r = 0;
			if (k != main_path) {
				from_c = best_calls[main_path] > 0 ? best_calls[main_path] : 0;
				from_r = best_rate[main_path] > 0 ? best_rate[main_path] : 0;
			}
			for (int i = from_c; i < cf.ncalls && !bench_stop; i++) {
				if (bench_now_s() > cf.deadline) {
					printf("== %s, %d calls: skipped (time budget)\n", path_name[k], cf.calls[i]);
					break;
				}
				run_calls((enum path)k, cf.calls[i], &cf, &st[k][0][i]);
				if (!st[k][0][i].passed)
					break;
				best_calls[k] = i;
			}
			for (int i = from_r; i < cf.nrates && !bench_stop; i++) {
				if (bench_now_s() > cf.deadline) {
					printf("== %s, %d calls/s: skipped (time budget)\n", path_name[k], cf.rates[i]);
					break;
				}
				run_rate((enum path)k, cf.rates[i], &cf, &st[k][1][i]);
				if (!st[k][1][i].passed)
					break;
				best_rate[k] = i;
			}
		}
	if (bench_stop)
		fail("interrupted");

	printf("\nsummary (%.0f s of steps)\n", bench_now_s() - t_run);
	printf("path    step        bridged  fail%%  delay p50/p99 ms  loss%%  tone iat p99  "
	       "srv cpu%%  ms/call-s  KB/call  setups/s  result\n");
	for (int k = 0; k < P_N; k++)
		for (int r = 0; r < 2; r++)
			for (int i = 0; i < MAX_STEPS; i++) {
				struct step *s = &st[k][r][i];
				if (!s->ran)
					continue;
				char stepname[32];
				if (r)
					snprintf(stepname, sizeof(stepname), "%d/s", s->rate);
				else
					snprintf(stepname, sizeof(stepname), "%d calls", s->asked);
				printf("%-7s %-11s %7.0f %6.2f %8.2f/%-8.2f %6.3f %12.1f %9.0f %10.2f %8.1f %9.0f  %s\n",
				       path_name[k], stepname, s->bridged_mean, s->fail_pct, s->delay_p50,
				       s->delay_p99, s->loss_pct, s->tone_iat_p99, s->srv_cpu_pct,
				       s->cpu_ms_per_call_s, s->rss_kb_per_call, s->setups_per_s,
				       s->passed ? "pass" : s->why);
			}
	struct step *bc[P_N], *br[P_N];
	for (int k = 0; k < P_N; k++) {
		bc[k] = best_calls[k] >= 0 ? &st[k][0][best_calls[k]] : NULL;
		br[k] = best_rate[k] >= 0 ? &st[k][1][best_rate[k]] : NULL;
	}
	if (main_path != P_RELAY && cf.paths[P_RELAY]) {
		struct step *h = bc[main_path], *b = bc[P_RELAY], *hr = br[main_path], *brr = br[P_RELAY];
		char v[4][32];
		snprintf(v[0], sizeof(v[0]), "NA");
		snprintf(v[1], sizeof(v[1]), "NA");
		snprintf(v[2], sizeof(v[2]), "NA");
		snprintf(v[3], sizeof(v[3]), "NA");
		if (h && b && b->bridged_mean > 0)
			snprintf(v[0], sizeof(v[0]), "%.2f", h->bridged_mean / b->bridged_mean);
		if (hr && brr && brr->setups_per_s > 0)
			snprintf(v[1], sizeof(v[1]), "%.2f", hr->setups_per_s / brr->setups_per_s);
		if (h && b && b->cpu_ms_per_call_s > 0)
			snprintf(v[2], sizeof(v[2]), "%.2f", h->cpu_ms_per_call_s / b->cpu_ms_per_call_s);
		if (h && b && b->rss_kb_per_call > 0)
			snprintf(v[3], sizeof(v[3]), "%.2f", h->rss_kb_per_call / b->rss_kb_per_call);
		printf("RATIO voice_vs_relay max_calls=%s cps=%s cpu_ms_per_call_s=%s rss_kb_per_call=%s\n",
		       v[0], v[1], v[2], v[3]);
	}
	struct step *h = bc[main_path], *hr = br[main_path];
	char mc[32] = "0", cps[32] = "0", cpu[32] = "NA", rss[32] = "NA";
	if (h) {
		snprintf(mc, sizeof(mc), "%.0f", h->bridged_mean);
		snprintf(cpu, sizeof(cpu), "%.2f", h->cpu_ms_per_call_s);
		snprintf(rss, sizeof(rss), "%.1f", h->rss_kb_per_call);
	}
	if (hr)
		snprintf(cps, sizeof(cps), "%.0f", hr->setups_per_s);
	printf("RESULT voice max_calls=%s cps=%s cpu_ms_per_call_s=%s rss_kb_per_call=%s\n", mc, cps,
	       cpu, rss);
	return 0;
}
