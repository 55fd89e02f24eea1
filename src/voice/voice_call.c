/*
 * voice_call.c: calls into queues (core thread, libre). docs/VOICE.md "Calls".
 *
 * An INVITE to a service number (DATA/voice_numbers: "number queue_id")
 * from a registered phone (digest, as for REGISTER, against the From user)
 * or from a trunk address (DATA/voice_trunks) is answered at once (200 with
 * SDP, PCMU or PCMA, whichever the caller offers first); the caller hears
 * a hold tone (425 Hz, 1 s on, 1 s off) sent on one 20 ms media tick kept
 * on absolute time, and a routing task (channel voice) is created through
 * the core's task API (voice_routing).
 *
 * When the engine offers the task to an agent, the agent's phone (the
 * binding of its Hotline username that expires last) is called over the
 * flow it registered from; the INVITE offers only the caller's codec, so
 * the legs are bridged by relaying RTP payloads without transcoding. A 200
 * accepts the offer; a failure (486, 603, any other final answer, a
 * transport error) rejects it; the engine's offer timeout withdraws it
 * (the phone's INVITE is CANCELled). The engine re-offers as it decides.
 *
 * BYE from either side ends both legs and the task (accepted: completed,
 * then wrap-up; waiting: abandoned). A task the engine ends by itself
 * (maximum wait, queue removed) hangs up the call.
 *
 * Every libre callback only records what happened when it would free the
 * session it runs for; the work is done from a zero timer.
 */
#include "voice/voice_int.h"
#include "base/base.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MOD "voice"
#define PTIME_MS 20
#define SAMPLES 160 /* 20 ms at 8 kHz */
#define HOLD_HZ 425.0
#define HOLD_AMPL 6000.0
#define RTP_PORT_MIN 16384
#define RTP_PORT_MAX 32767
#define NUMBERS_MAX 4096
#define TRUNKS_MAX 256

enum call_state { CALL_QUEUED, CALL_RINGING, CALL_BRIDGED, CALL_GONE };

struct vcall;

struct leg {
	struct vcall *c;
	struct sipsess *sess;
	struct rtp_sock *rtp;
	struct sdp_session *sdp;
	struct sdp_media *m;
	uint32_t ts;
	bool up;
};

struct vcall {
	struct le le;
	struct voice *v;
	struct leg a; /* the caller */
	struct leg b; /* the agent's phone */
	enum call_state st;
	int64_t task;
	bool task_open;
	int64_t offer;
	uint32_t version;
	bool alaw;
	uint8_t pt;
	uint64_t phase;
	bool a_gone, b_gone;
	struct tmr later;
	char caller[65];
};

/* ---- G.711 (as spandsp's linear_to_ulaw / linear_to_alaw) ---------------- */

static int top_bit(unsigned x)
{
	return 31 - __builtin_clz(x);
}

static uint8_t lin2ulaw(int linear)
{
	int mask;
	if (linear < 0) {
		linear = 0x84 - linear - 1;
		mask = 0x7F;
	} else {
		linear = 0x84 + linear;
		mask = 0xFF;
	}
	int seg = top_bit((unsigned)linear | 0xFF) - 7;
	if (seg >= 8)
		return (uint8_t)(0x7F ^ mask);
	return (uint8_t)(((seg << 4) | ((linear >> (seg + 3)) & 0xF)) ^ mask);
}

static uint8_t lin2alaw(int linear)
{
	int mask;
	if (linear >= 0) {
		mask = 0x55 | 0x80;
	} else {
		mask = 0x55;
		linear = -linear - 1;
	}
	int seg = top_bit((unsigned)linear | 0xFF) - 7;
	if (seg >= 8)
		return (uint8_t)(0x7F ^ mask);
	return (uint8_t)(((seg << 4) | ((linear >> (seg ? seg + 3 : 4)) & 0x0F)) ^ mask);
}

/* ---- configuration files (numbers, trunks) ---------------------------------- */

/* Calls h(line) for each non-empty, non-comment line (NUL-terminated,
 * trimmed). */
static void lines(char *text, void (*h)(struct voice *v, char *line), struct voice *v)
{
	char *save = NULL;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *hash = strchr(l, '#');
		if (hash)
			*hash = 0;
		while (*l == ' ' || *l == '\t')
			l++;
		size_t e = strlen(l);
		while (e && (l[e - 1] == ' ' || l[e - 1] == '\t' || l[e - 1] == '\r'))
			l[--e] = 0;
		if (*l)
			h(v, l);
	}
}

static void number_line(struct voice *v, char *l)
{
	char num[40];
	unsigned long q = 0;
	if (sscanf(l, "%39s %lu", num, &q) != 2 || !q || q > UINT32_MAX || v->n_numbers >= NUMBERS_MAX) {
		LOG_WARN(MOD, "%s: line skipped (expected \"number queue_id\")", v->numbers_path);
		return;
	}
	struct voice_number *nn = realloc(v->numbers_tab, (v->n_numbers + 1) * sizeof(*nn));
	if (!nn)
		return;
	v->numbers_tab = nn;
	snprintf(nn[v->n_numbers].num, sizeof(nn[0].num), "%s", num);
	nn[v->n_numbers].queue = (uint32_t)q;
	v->n_numbers++;
}

static void trunk_line(struct voice *v, char *l)
{
	struct sa sa;
	if (v->n_trunks >= TRUNKS_MAX || sa_set_str(&sa, l, 0)) {
		LOG_WARN(MOD, "%s: line skipped (expected an IP address)", v->trunks_path);
		return;
	}
	v->trunks_tab[v->n_trunks++] = sa;
}

void voice_call_set_numbers(struct voice *v, const char *text)
{
	free(v->numbers_tab);
	v->numbers_tab = NULL;
	v->n_numbers = 0;
	char *t = text ? strdup(text) : NULL;
	if (t)
		lines(t, number_line, v);
	free(t);
	LOG_INFO(MOD, "%u service number(s) from %s", v->n_numbers, v->numbers_path);
}

void voice_call_set_trunks(struct voice *v, const char *text)
{
	v->n_trunks = 0;
	char *t = text ? strdup(text) : NULL;
	if (t)
		lines(t, trunk_line, v);
	free(t);
	LOG_INFO(MOD, "%u trunk address(es) from %s", v->n_trunks, v->trunks_path);
}

static uint32_t number_queue(struct voice *v, const struct pl *num)
{
	for (unsigned i = 0; i < v->n_numbers; i++)
		if (!pl_strcmp(num, v->numbers_tab[i].num))
			return v->numbers_tab[i].queue;
	return 0;
}

static bool is_trunk(struct voice *v, const struct sa *src)
{
	for (unsigned i = 0; i < v->n_trunks; i++)
		if (sa_cmp(&v->trunks_tab[i], src, SA_ADDR))
			return true;
	return false;
}

/* ---- legs and media ------------------------------------------------------------ */

static void leg_close(struct leg *l)
{
	l->sess = mem_deref(l->sess); /* BYE when established, CANCEL when ringing */
	l->rtp = mem_deref(l->rtp);
	l->m = NULL;
	l->sdp = mem_deref(l->sdp);
	l->up = false;
}

static void rtp_recv(const struct sa *src, const struct rtp_header *hdr, struct mbuf *mb, void *arg)
{
	(void)src;
	struct leg *l = arg;
	struct vcall *c = l->c;
	if (c->st != CALL_BRIDGED || hdr->pt != c->pt)
		return; /* only the call's codec is relayed (no telephone-event yet) */
	struct leg *o = l == &c->a ? &c->b : &c->a;
	if (!o->rtp || !o->m || !sa_isset(sdp_media_raddr(o->m), SA_ALL))
		return;
	size_t n = mbuf_get_left(mb);
	(void)rtp_send(o->rtp, sdp_media_raddr(o->m), false, hdr->m, c->pt, o->ts, mb);
	o->ts += (uint32_t)n; /* G.711: one byte a sample */
}

/* RTP socket and SDP session of a leg, on the local address laddr; with
 * only_alaw/only_ulaw the one codec, else both (the caller's leg). */
static int leg_media(struct leg *l, const struct sa *laddr, int codec)
{
	struct sa ip = *laddr;
	sa_set_port(&ip, 0);
	int err = rtp_listen(&l->rtp, IPPROTO_UDP, &ip, RTP_PORT_MIN, RTP_PORT_MAX, true, rtp_recv,
			     NULL, l);
	if (!err)
		err = sdp_session_alloc(&l->sdp, &ip);
	if (!err)
		err = sdp_media_add(&l->m, l->sdp, "audio", sa_port(rtp_local(l->rtp)), "RTP/AVP");
	if (!err && codec != 8)
		err = sdp_format_add(NULL, l->m, false, "0", "PCMU", 8000, 1, NULL, NULL, NULL, false, NULL);
	if (!err && codec != 0)
		err = sdp_format_add(NULL, l->m, false, "8", "PCMA", 8000, 1, NULL, NULL, NULL, false, NULL);
	l->ts = (uint32_t)rand();
	return err;
}

static void send_hold(struct vcall *c)
{
	struct leg *l = &c->a;
	if (!l->up || !l->rtp || !l->m || !sa_isset(sdp_media_raddr(l->m), SA_ALL))
		return;
	struct mbuf *mb = mbuf_alloc(RTP_HEADER_SIZE + SAMPLES);
	if (!mb)
		return;
	mb->pos = mb->end = RTP_HEADER_SIZE;
	for (int i = 0; i < SAMPLES; i++, c->phase++) {
		bool on = (c->phase / 8000) % 2 == 0;
		int s = on ? (int)lrint(HOLD_AMPL * sin(2.0 * M_PI * HOLD_HZ * (double)(c->phase % 8000) / 8000.0)) : 0;
		(void)mbuf_write_u8(mb, c->alaw ? lin2alaw(s) : lin2ulaw(s));
	}
	mb->pos = RTP_HEADER_SIZE;
	(void)rtp_send(l->rtp, sdp_media_raddr(l->m), false, false, c->pt, l->ts, mb);
	l->ts += SAMPLES;
	mem_deref(mb);
}

/* One tick for every call, on absolute time (due += 20 ms). */
static void media_tick(void *arg)
{
	struct voice *v = arg;
	uint64_t now = tmr_jiffies();
	for (struct le *le = list_head(&v->calls); le; le = le->next) {
		struct vcall *c = le->data;
		if (c->st == CALL_QUEUED || c->st == CALL_RINGING)
			send_hold(c);
	}
	if (list_isempty(&v->calls))
		return;
	v->media_due += PTIME_MS;
	if (v->media_due + 200 < now) /* stalled: no burst to catch up */
		v->media_due = now;
	tmr_start(&v->media, v->media_due > now ? v->media_due - now : 0, media_tick, v);
}

/* ---- calls ----------------------------------------------------------------------- */

static void call_destructor(void *arg)
{
	struct vcall *c = arg;
	tmr_cancel(&c->later);
	leg_close(&c->b);
	leg_close(&c->a);
	list_unlink(&c->le);
}

/* Hang up both legs and end the task. Frees c. */
static void call_end(struct vcall *c, const char *why)
{
	struct voice *v = c->v;
	enum call_state st = c->st;
	c->st = CALL_GONE;
	LOG_INFO(MOD, "call of task %lld ends: %s", (long long)c->task, why);
	if (c->task_open && v->has_rt) {
		c->task_open = false;
		v->rt.task_detach(v->rt.arg, c->task);
		if (st == CALL_BRIDGED)
			(void)v->rt.task_end(v->rt.arg, c->task);
		else
			(void)v->rt.task_abandon(v->rt.arg, c->task);
	}
	mem_deref(c);
}

static void reject_offer(struct vcall *c)
{
	struct voice *v = c->v;
	if (c->offer && v->has_rt)
		(void)v->rt.offer_answer(v->rt.arg, c->offer, c->version, 0);
	c->offer = 0;
}

static void on_later(void *arg)
{
	struct vcall *c = arg;
	if (c->a_gone) {
		call_end(c, "the caller hung up");
		return;
	}
	if (c->b_gone) {
		c->b_gone = false;
		leg_close(&c->b);
		if (c->st == CALL_RINGING) {
			c->st = CALL_QUEUED;
			reject_offer(c);
		} else if (c->st == CALL_BRIDGED) {
			call_end(c, "the agent hung up");
		}
	}
}

static int offer_h(struct mbuf **descp, const struct sip_msg *msg, void *arg)
{
	struct leg *l = arg;
	int err = sdp_decode(l->sdp, msg->mb, true);
	return err ? err : sdp_encode(descp, l->sdp, false);
}

static int answer_h(const struct sip_msg *msg, void *arg)
{
	struct leg *l = arg;
	return sdp_decode(l->sdp, msg->mb, false);
}

static void estab_a(const struct sip_msg *msg, void *arg)
{
	(void)msg;
	(void)arg;
}

static void close_a(int err, const struct sip_msg *msg, void *arg)
{
	(void)err;
	(void)msg;
	struct leg *l = arg;
	l->c->a_gone = true;
	tmr_start(&l->c->later, 0, on_later, l->c);
}

static void estab_b(const struct sip_msg *msg, void *arg)
{
	(void)msg;
	struct leg *l = arg;
	struct vcall *c = l->c;
	struct voice *v = c->v;
	if (c->st != CALL_RINGING || !c->offer || !v->has_rt) {
		c->b_gone = true;
		tmr_start(&c->later, 0, on_later, c);
		return;
	}
	int r = v->rt.offer_answer(v->rt.arg, c->offer, c->version, 1);
	c->offer = 0;
	if (r) {
		LOG_INFO(MOD, "task %lld: the agent answered, but the offer is gone (%d)",
			 (long long)c->task, r);
		c->st = CALL_QUEUED;
		c->b_gone = true; /* BYE, from the timer: not inside this session's callback */
		tmr_start(&c->later, 0, on_later, c);
		return;
	}
	l->up = true;
	c->st = CALL_BRIDGED;
	LOG_INFO(MOD, "task %lld: bridged", (long long)c->task);
}

static void close_b(int err, const struct sip_msg *msg, void *arg)
{
	struct leg *l = arg;
	struct vcall *c = l->c;
	LOG_INFO(MOD, "task %lld: the agent's leg closed (%s%u)", (long long)c->task,
		 err ? "error " : "", msg ? msg->scode : (unsigned)err);
	c->b_gone = true;
	tmr_start(&c->later, 0, on_later, c);
}

struct pick {
	char uri[VOICE_URI_MAX + 1];
	struct sa src;
	enum sip_transp tp;
	uint64_t expires;
	bool found;
};

static bool pick_binding(const char *uri, const struct sa *src, enum sip_transp tp,
			 uint64_t expires, void *arg)
{
	struct pick *p = arg;
	if (!p->found || expires > p->expires) {
		snprintf(p->uri, sizeof(p->uri), "%s", uri);
		p->src = *src;
		p->tp = tp;
		p->expires = expires;
		p->found = true;
	}
	return false;
}

/* The engine offers the call to an agent: ring its phone. */
static void ring_agent(struct vcall *c, const struct voice_note *n)
{
	struct voice *v = c->v;
	c->offer = n->offer;
	c->version = n->version;
	if (c->st != CALL_QUEUED) {
		reject_offer(c);
		return;
	}
	struct pick pk = {0};
	if (n->username)
		(void)voice_reg_bindings(v->reg, n->username, pick_binding, &pk);
	if (!pk.found) {
		LOG_INFO(MOD, "task %lld: agent %u (%s) has no registered phone; offer rejected",
			 (long long)c->task, n->agent, n->username ? n->username : "no user");
		reject_offer(c);
		return;
	}
	struct sa la;
	struct mbuf *offer = NULL;
	char route[128], from[160];
	int err = sip_transp_laddr(v->sip, &la, pk.tp, &pk.src);
	if (!err)
		err = leg_media(&c->b, &la, c->pt);
	if (!err)
		err = sdp_encode(&offer, c->b.sdp, true);
	if (!err) {
		(void)re_snprintf(route, sizeof(route), "sip:%J%s", &pk.src, sip_transp_param(pk.tp));
		(void)re_snprintf(from, sizeof(from), "sip:hotline@%J", &la);
		const char *routev[1] = {route};
		err = sipsess_connect(&c->b.sess, v->sock, pk.uri, c->caller, from, "hotline", routev, 1,
				      "application/sdp", offer, NULL, NULL, false, offer_h, answer_h,
				      NULL, estab_b, NULL, NULL, close_b, &c->b,
				      "X-Hotline-Task: %lld\r\n", (long long)c->task);
	}
	mem_deref(offer);
	if (err) {
		LOG_WARN(MOD, "task %lld: cannot call %s's phone: %s", (long long)c->task, n->username,
			 strerror(err));
		leg_close(&c->b);
		reject_offer(c);
		return;
	}
	c->st = CALL_RINGING;
	LOG_INFO(MOD, "task %lld: ringing %s at %s", (long long)c->task, n->username, pk.uri);
}

static struct vcall *call_find(struct voice *v, int64_t task)
{
	for (struct le *le = list_head(&v->calls); le; le = le->next) {
		struct vcall *c = le->data;
		if (c->task == task && c->task_open)
			return c;
	}
	return NULL;
}

static void on_note(const struct voice_note *n, void *arg)
{
	struct voice *v = arg;
	struct vcall *c = call_find(v, n->task);
	if (!c)
		return;
	switch (n->type) {
	case VOICE_NOTE_OFFER:
		ring_agent(c, n);
		break;
	case VOICE_NOTE_WITHDRAWN:
		if (c->st == CALL_RINGING && n->offer == c->offer) {
			LOG_INFO(MOD, "task %lld: the offer to %s ended; cancelling the call to the phone",
				 (long long)c->task, n->username ? n->username : "the agent");
			c->offer = 0;
			leg_close(&c->b);
			c->st = CALL_QUEUED;
		}
		break;
	case VOICE_NOTE_ACCEPTED:
		break;
	case VOICE_NOTE_ENDED:
		c->task_open = false;
		call_end(c, n->state ? n->state : "the task ended");
		break;
	}
}

/* sipsess's new-INVITE handler; voice_call_invite checked it and left the
 * queue in v->pending_queue. */
static void on_conn(const struct sip_msg *msg, void *arg)
{
	struct voice *v = arg;
	uint32_t queue = v->pending_queue;
	v->pending_queue = 0;
	if (!queue || !v->has_rt) {
		(void)sip_treply(NULL, v->sip, msg, 403, "Forbidden");
		return;
	}
	struct vcall *c = mem_zalloc(sizeof(*c), call_destructor);
	if (!c) {
		(void)sip_treply(NULL, v->sip, msg, 500, "Server Error");
		return;
	}
	c->v = v;
	c->a.c = c;
	c->b.c = c;
	tmr_init(&c->later);
	(void)pl_strcpy(&msg->from.uri.user, c->caller, sizeof(c->caller));
	list_append(&v->calls, &c->le, c);
	struct mbuf *ans = NULL;
	uint16_t code = 500;
	const char *reason = "Server Error";
	if (leg_media(&c->a, &msg->dst, -1))
		goto fail;
	code = 488;
	reason = "Not Acceptable Here";
	if (!mbuf_get_left(msg->mb) || sdp_decode(c->a.sdp, msg->mb, true))
		goto fail;
	const struct sdp_format *f = sdp_media_rformat(c->a.m, NULL);
	if (!f || !sa_isset(sdp_media_raddr(c->a.m), SA_ALL))
		goto fail;
	c->alaw = !str_casecmp(f->name, "PCMA");
	c->pt = c->alaw ? 8 : 0;
	code = 500;
	reason = "Server Error";
	if (sdp_encode(&ans, c->a.sdp, false))
		goto fail;
	char attrs[512];
	char num[64] = "", callid[128] = "";
	(void)pl_strcpy(&msg->uri.user, num, sizeof(num));
	(void)pl_strcpy(&msg->callid, callid, sizeof(callid));
	for (char *p = c->caller; *p; p++) /* keep the JSON simple: no quotes or backslashes */
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			*p = '_';
	for (char *p = num; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			*p = '_';
	for (char *p = callid; *p; p++)
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			*p = '_';
	snprintf(attrs, sizeof(attrs), "{\"caller\":\"%s\",\"number\":\"%s\",\"sip_call_id\":\"%s\"}",
		 c->caller, num, callid);
	int r = v->rt.task_open(v->rt.arg, queue, attrs, on_note, v, &c->task);
	if (r) {
		LOG_WARN(MOD, "call for queue %u refused: the task was not created (%d)", queue, r);
		code = 480;
		reason = "Temporarily Unavailable";
		goto fail;
	}
	c->task_open = true;
	int err = sipsess_accept(&c->a.sess, v->sock, msg, 200, "OK", "hotline", "application/sdp",
				 ans, NULL, NULL, false, offer_h, answer_h, estab_a, NULL, NULL,
				 close_a, &c->a, "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS\r\n");
	ans = mem_deref(ans);
	if (err) {
		LOG_WARN(MOD, "could not answer a call: %s", strerror(err));
		call_end(c, "answer failed");
		return;
	}
	c->a.up = true;
	c->st = CALL_QUEUED;
	char as[64];
	(void)re_snprintf(as, sizeof(as), "%J", &msg->src);
	LOG_INFO(MOD, "call from %s (%s) answered: task %lld on queue %u (%s)", c->caller, as,
		 (long long)c->task, queue, c->alaw ? "PCMA" : "PCMU");
	if (!tmr_isrunning(&v->media)) {
		v->media_due = tmr_jiffies();
		tmr_start(&v->media, 0, media_tick, v);
	}
	return;
fail:
	mem_deref(ans);
	(void)sip_treply(NULL, v->sip, msg, code, reason);
	mem_deref(c);
}

bool voice_call_invite(struct voice *v, const struct sip_msg *msg, uint64_t now)
{
	uint32_t q = v->has_rt && v->sock ? number_queue(v, &msg->uri.user) : 0;
	if (!q) { /* never forwarded anywhere; the number is not logged */
		voice_reg_fail(v->reg, &msg->src, now);
		(void)sip_reply(v->sip, msg, 403, "Forbidden");
		return true;
	}
	if (!is_trunk(v, &msg->src) && voice_reg_auth(v->reg, v->sip, msg, &msg->from.uri.user))
		return true;
	v->pending_queue = q;
	return false; /* on to sipsess: on_conn */
}

int voice_call_init(struct voice *v, const struct voice_opts *o)
{
	list_init(&v->calls);
	tmr_init(&v->media);
	if (o && o->routing) {
		v->rt = *o->routing;
		v->has_rt = true;
	}
	if (o && o->numbers_file && !(v->numbers_path = strdup(o->numbers_file)))
		return -ENOMEM;
	if (o && o->trunks_file && !(v->trunks_path = strdup(o->trunks_file)))
		return -ENOMEM;
	return 0; /* the files' content arrives through voice_watch (voice.c) */
}

int voice_call_listen(struct voice *v)
{
	int err = sipsess_listen(&v->sock, v->sip, 32, on_conn, v);
	return err ? -err : 0;
}

void voice_call_close(struct voice *v)
{
	tmr_cancel(&v->media);
	while (!list_isempty(&v->calls)) {
		struct vcall *c = list_head(&v->calls)->data;
		if (c->task_open && v->has_rt) /* shutting down: the task is left to the restart */
			v->rt.task_detach(v->rt.arg, c->task);
		c->task_open = false;
		mem_deref(c);
	}
	if (v->sock)
		sipsess_close_all(v->sock);
	v->sock = mem_deref(v->sock);
	free(v->numbers_tab);
	v->numbers_tab = NULL;
	free(v->numbers_path);
	free(v->trunks_path);
	v->numbers_path = v->trunks_path = NULL;
}
