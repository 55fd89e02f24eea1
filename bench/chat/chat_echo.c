/*
 * chat_echo.c: the floor for bench/chat, a bare libwebsockets relay that
 * speaks the same frames as Hotline's web chat and nothing else.
 *
 * Run by the bench as `chat --echo-server PORT` (its own process, so its RSS
 * and CPU are measured like the server's). Same library, same build options
 * that matter (default poll loop, one service thread, UTF-8 validation, one
 * queued frame written per WRITEABLE callback) and the same hops as a real
 * round trip, but no store, no routing, no auth and no JSON library:
 *
 *   customer {"type":"start"}   -> "started" + "state active"; the
 *                                  conversation is tied to an agent stream
 *                                  (round robin over the connected ones)
 *   customer {"type":"message"} -> the acknowledgement ("message", from
 *                                  customer) to the customer and a
 *                                  chat.message event to the agent
 *   agent {"type":"chat_message"} -> "message" from agent to the customer
 *                                  and the chat.message event back to the
 *                                  agent (Hotline sends every participant
 *                                  each stored message)
 *
 * Paths: /api/v1/chat/ws is a customer, /api/v1/events an agent (which gets
 * a hello frame); GET /healthz answers 200. Fields are found by plain string
 * search, which is enough for the bench's own frames.
 *
 * `chat --echo-server PORT ev` (bench option --echo-ev) runs the same relay
 * on lws's libev event loop (epoll) instead of its default poll() loop: it
 * shows what the per-wakeup poll() over every socket costs.
 * CHAT_ECHO_FD_LIMIT=N in the environment sets fd_limit_per_thread (see
 * below), to measure that setting's cost.
 */
#include "bench_util.h"
#include "chat_bench.h"

#include <libwebsockets.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

struct outf {
	struct outf *next;
	size_t len;
	unsigned char buf[]; /* LWS_PRE headroom, then the frame */
};

enum { R_NONE, R_CUSTOMER, R_AGENT };

struct pss {
	int role;
	int agent_slot;  /* agents: index in E.agents */
	int64_t conv;    /* customers: conversation id, 0 before start */
	struct outf *head, *tail;
	unsigned nq;
	char *rx; /* a fragmented message being collected */
	size_t rxlen;
};

struct conv {
	struct lws *cust;
	int agent;
	int64_t seq;
};

static struct {
	struct lws **agents;
	int nagents, capagents, rr;
	struct conv *convs;
	int64_t nconv, capconv;
	int64_t event_id;
	volatile sig_atomic_t stop;
} E;

static void on_term(int sig)
{
	(void)sig;
	E.stop = 1;
}

static void iso_now(char out[48])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(out, 48, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000));
}

/* Queues a frame on wsi (formatted into a fresh buffer with LWS_PRE room). */
__attribute__((format(printf, 2, 3))) static void enq(struct lws *wsi, const char *fmt, ...)
{
	if (!wsi)
		return;
	struct pss *p = lws_wsi_user(wsi);
	char tmp[20000];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return;
	struct outf *f = malloc(sizeof(*f) + LWS_PRE + (size_t)n);
	if (!f)
		return;
	f->next = NULL;
	f->len = (size_t)n;
	memcpy(f->buf + LWS_PRE, tmp, (size_t)n);
	if (p->tail)
		p->tail->next = f;
	else
		p->head = f;
	p->tail = f;
	p->nq++;
	lws_callback_on_writable(wsi);
}

static void on_customer(struct lws *wsi, struct pss *p, const char *s, size_t n)
{
	char ts[48];
	if (memmem(s, n, "\"type\":\"start\"", 14)) {
		if (p->conv)
			return;
		if (E.nconv + 1 >= E.capconv) {
			int64_t cap = E.capconv ? E.capconv * 2 : 4096;
			struct conv *c = realloc(E.convs, (size_t)cap * sizeof(*c));
			if (!c)
				return;
			memset(c + E.capconv, 0, (size_t)(cap - E.capconv) * sizeof(*c));
			E.convs = c;
			E.capconv = cap;
		}
		int64_t id = ++E.nconv;
		p->conv = id;
		struct conv *c = &E.convs[id];
		c->cust = wsi;
		c->agent = -1;
		for (int i = 0; i < E.nagents && c->agent < 0; i++) {
			int k = (E.rr + i) % E.nagents;
			if (E.agents[k])
				c->agent = k;
		}
		if (E.nagents)
			E.rr = (E.rr + 1) % E.nagents;
		enq(wsi,
		    "{\"type\":\"started\",\"conversation\":%lld,\"token\":"
		    "\"echoechoechoechoechoechoechoechoechoechoech\",\"state\":\"queued\"}",
		    (long long)id);
		enq(wsi, "{\"type\":\"state\",\"state\":\"active\",\"agent\":{\"name\":\"Agent %d\"}}",
		    c->agent);
		return;
	}
	if (memmem(s, n, "\"type\":\"message\"", 16)) {
		char cid[72], text[16500];
		if (!p->conv || bench_str_field(s, n, "client_id", cid, sizeof(cid)) ||
		    bench_str_field(s, n, "text", text, sizeof(text))) {
			enq(wsi, "{\"type\":\"error\",\"code\":\"invalid\",\"detail\":\"bad message\"}");
			return;
		}
		struct conv *c = &E.convs[p->conv];
		int64_t seq = ++c->seq;
		iso_now(ts);
		enq(wsi,
		    "{\"type\":\"message\",\"seq\":%lld,\"client_id\":\"%s\",\"from\":\"customer\","
		    "\"name\":\"Customer\",\"text\":\"%s\",\"ts\":\"%s\"}",
		    (long long)seq, cid, text, ts);
		if (c->agent >= 0 && E.agents[c->agent])
			enq(E.agents[c->agent],
			    "{\"type\":\"event\",\"event\":{\"id\":%lld,\"ts\":\"%s\",\"type\":"
			    "\"chat.message\",\"actor\":null,\"interaction\":%lld,\"agent\":null,"
			    "\"queue\":1,\"payload\":{\"seq\":%lld,\"kind\":\"message\",\"from\":"
			    "\"customer\",\"user_id\":null,\"name\":\"Customer\",\"client_id\":\"%s\","
			    "\"text\":\"%s\"}}}",
			    (long long)++E.event_id, ts, (long long)p->conv, (long long)seq, cid, text);
	}
}

static void on_agent(struct lws *wsi, struct pss *p, const char *s, size_t n)
{
	if (!memmem(s, n, "\"type\":\"chat_message\"", 21))
		return;
	char cid[72], text[16500], ts[48];
	int64_t id = bench_num_field(s, n, "conversation");
	if (id <= 0 || id > E.nconv || bench_str_field(s, n, "client_id", cid, sizeof(cid)) ||
	    bench_str_field(s, n, "text", text, sizeof(text))) {
		enq(wsi, "{\"type\":\"error\",\"detail\":\"bad chat_message\"}");
		return;
	}
	struct conv *c = &E.convs[id];
	int64_t seq = ++c->seq;
	iso_now(ts);
	enq(c->cust,
	    "{\"type\":\"message\",\"seq\":%lld,\"client_id\":\"%s\",\"from\":\"agent\",\"name\":"
	    "\"Agent %d\",\"text\":\"%s\",\"ts\":\"%s\"}",
	    (long long)seq, cid, p->agent_slot, text, ts);
	enq(wsi,
	    "{\"type\":\"event\",\"event\":{\"id\":%lld,\"ts\":\"%s\",\"type\":\"chat.message\","
	    "\"actor\":null,\"interaction\":%lld,\"agent\":null,\"queue\":1,\"payload\":{\"seq\":%lld,"
	    "\"kind\":\"message\",\"from\":\"agent\",\"user_id\":1,\"name\":\"Agent %d\","
	    "\"client_id\":\"%s\",\"text\":\"%s\"}}}",
	    (long long)++E.event_id, ts, (long long)id, (long long)seq, p->agent_slot, cid, text);
}

static int cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct pss *p = user;
	switch (reason) {
	case LWS_CALLBACK_HTTP: {
		/* Only /healthz is served; anything else is a 404. */
		int ok = in && strcmp((const char *)in, "/healthz") == 0;
		if (lws_return_http_status(wsi, ok ? HTTP_STATUS_OK : HTTP_STATUS_NOT_FOUND, NULL))
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	case LWS_CALLBACK_ESTABLISHED: {
		char uri[256];
		memset(p, 0, sizeof(*p));
		p->agent_slot = -1;
		if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) < 0)
			return -1;
		if (strncmp(uri, "/api/v1/chat/ws", 15) == 0) {
			p->role = R_CUSTOMER;
		} else if (strncmp(uri, "/api/v1/events", 14) == 0) {
			p->role = R_AGENT;
			if (E.nagents == E.capagents) {
				int cap = E.capagents ? E.capagents * 2 : 256;
				struct lws **a = realloc(E.agents, (size_t)cap * sizeof(*a));
				if (!a)
					return -1;
				E.agents = a;
				E.capagents = cap;
			}
			p->agent_slot = E.nagents;
			E.agents[E.nagents++] = wsi;
			enq(wsi, "{\"type\":\"hello\",\"user\":{\"id\":%d,\"username\":\"echo-agent-%d\","
				 "\"role\":\"agent\"}}",
			    p->agent_slot + 1, p->agent_slot);
		} else {
			return -1;
		}
		return 0;
	}
	case LWS_CALLBACK_RECEIVE: {
		const char *s = in;
		size_t n = len;
		bool whole = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
		if (!whole || p->rx) {
			if (p->rxlen + len > 65536)
				return -1;
			char *nb = realloc(p->rx, p->rxlen + len + 1);
			if (!nb)
				return -1;
			memcpy(nb + p->rxlen, in, len);
			p->rx = nb;
			p->rxlen += len;
			if (!whole)
				return 0;
			s = p->rx;
			n = p->rxlen;
		}
		if (p->role == R_CUSTOMER)
			on_customer(wsi, p, s, n);
		else if (p->role == R_AGENT)
			on_agent(wsi, p, s, n);
		free(p->rx);
		p->rx = NULL;
		p->rxlen = 0;
		return 0;
	}
	case LWS_CALLBACK_SERVER_WRITEABLE: {
		struct outf *f = p->head;
		if (!f)
			return 0;
		int w = lws_write(wsi, f->buf + LWS_PRE, f->len, LWS_WRITE_TEXT);
		p->head = f->next;
		if (!p->head)
			p->tail = NULL;
		p->nq--;
		free(f);
		if (w < (int)0)
			return -1;
		if (p->head)
			lws_callback_on_writable(wsi);
		return 0;
	}
	case LWS_CALLBACK_CLOSED:
		if (p->role == R_AGENT && p->agent_slot >= 0 && p->agent_slot < E.nagents)
			E.agents[p->agent_slot] = NULL;
		if (p->role == R_CUSTOMER && p->conv > 0 && p->conv <= E.nconv)
			E.convs[p->conv].cust = NULL;
		while (p->head) {
			struct outf *f = p->head;
			p->head = f->next;
			free(f);
		}
		p->tail = NULL;
		free(p->rx);
		p->rx = NULL;
		return 0;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
	{"chat-echo", cb, sizeof(struct pss), 4096, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

int chat_echo_main(int port, bool ev)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	bench_raise_nofile();
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	if (ev) {
		/* lws_service() runs the libev loop until it is broken: SIGTERM
		 * simply ends the process */
		signal(SIGTERM, SIG_DFL);
	} else {
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGINT, &sa, NULL);
	}
	signal(SIGPIPE, SIG_IGN);
	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);

	struct lws_context_creation_info info;
	memset(&info, 0, sizeof(info));
	info.port = port;
	info.iface = "127.0.0.1";
	info.protocols = protocols;
	info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | (ev ? LWS_SERVER_OPTION_LIBEV : 0);
	info.max_http_header_data = 8192;
	info.timeout_secs = 30;
	info.keepalive_timeout = 30;
	info.vhost_name = "chat-echo";
	/* Diagnostic: CHAT_ECHO_FD_LIMIT=N sets fd_limit_per_thread as hotline
	 * does (max_connections + 64). Below RLIMIT_NOFILE that switches lws
	 * 4.1 to its "slow fds" mode: wsi_from_fd() scans the whole lookup
	 * table for every serviced fd instead of indexing it. */
	const char *fdl = getenv("CHAT_ECHO_FD_LIMIT");
	if (fdl && bench_int(fdl) > 0)
		info.fd_limit_per_thread = (unsigned)bench_int(fdl);
	struct lws_context *ctx = lws_create_context(&info);
	if (!ctx) {
		fprintf(stderr, "chat echo: cannot listen on 127.0.0.1:%d\n", port);
		return 1;
	}
	while (!E.stop && lws_service(ctx, 0) >= 0)
		;
	lws_context_destroy(ctx);
	free(E.agents);
	free(E.convs);
	return 0;
}
