/*
 * voice_call.c: calls (core thread, libre). docs/VOICE.md "Calls".
 *
 * A call has up to two legs: a, the customer (or whoever dialled in), and
 * b, the agent's or user's phone (or, for an outbound call, the number
 * dialled through the outbound trunk). Its flow:
 *
 *   INVITE to a service number (DATA/voice_numbers) from a registered phone
 *   (digest) or a trunk address -> answered at once (200, PCMU or PCMA, plus
 *   telephone-event) -> the number's target:
 *     menu:NAME   greeting (WAV or spoken text), then a digit (RFC 4733 or
 *                 in-band) picks the next target; timeout and wrong digits
 *                 replay the greeting up to `retries` times, then goodbye
 *     queue:ID    closed by its business hours: the closed message, hang up;
 *                 open: a routing task (channel voice); the caller hears the
 *                 queue's music and, every announce_s, its place and the
 *                 estimated wait (and, with an outbound trunk, "press 1 to
 *                 be called back"); each offer rings the agent's phone over
 *                 the flow it registered from; answering accepts the offer
 *                 and bridges (RTP relayed, no transcoding); no answer,
 *                 486/603 or an offer timeout re-offers
 *     user:NAME   that user's phone rings directly (no task)
 *   A registered phone may also call a username (an internal call) or, with
 *   an outbound trunk, any other number.
 *
 *   Bridged: hold (API, or a sendonly/inactive re-INVITE from either phone:
 *   the other side hears music), blind transfer (API or REFER from the
 *   agent's phone), attended transfer (REFER with Replaces naming the
 *   agent's consultation call), hang up (BYE or API). Recording, per queue:
 *   both directions decoded, mixed every 20 ms and written by voice_rec's
 *   thread.
 *
 * Callbacks: the task keeps its place while the customer is gone; when it
 * is offered, the agent's phone rings first, then the customer's number is
 * dialled through the outbound trunk.
 *
 * Every step is a call.* event (through the core's event hook). Work that
 * would free a session from inside its own libre callback is deferred to a
 * zero timer (c->later) with a flag saying what to do.
 */
#include "voice/voice_int.h"
#include "voice/voice_media.h"
#include "base/base.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MOD "voice"
#define PTIME_MS 20
#define SAMPLES 160 /* 20 ms at 8 kHz */
#define RTP_PORT_MIN 16384
#define RTP_PORT_MAX 32767
#define TE_PT 101
#define RING_TIMEOUT_MS 30000   /* direct and outbound legs */
#define PROMPT_WAIT_MS 4000     /* a prompt not rendered by then is skipped */
#define SE_MIN 90               /* RFC 4028 Min-SE */
#define CALLBACK_DIGIT '1'

enum flow {
	F_NEW,      /* answered, not routed yet */
	F_MENU,     /* greeting, then waiting for a digit */
	F_QUEUE,    /* waiting in a queue (task open); b may be ringing */
	F_DIRECT,   /* b (a user's phone or a number) rings; no task */
	F_BRIDGED,  /* talking */
	F_CALLBACK, /* a hung up to be called back: the task waits, then b, then a */
	F_OUT,      /* click to dial: b (the agent) rings, then a is dialled */
	F_ENDING,   /* a last prompt, then hang up */
};
static const char *const flow_names[] = {"new",     "menu",     "queued",  "ringing",
					 "talking", "callback", "dialing", "ending"};

/* What c->later does (bits). */
enum {
	DO_A_GONE = 1,
	DO_B_GONE = 2,
	DO_PROMPT = 4,   /* a prompt finished: run c->after */
	DO_EXPIRED = 8,  /* session timer */
	DO_RING_TO = 16, /* a direct leg rang too long */
	DO_XFER = 32,    /* a REFER arrived */
	DO_CB_HANGUP = 64,
};

struct vcall;

struct leg {
	struct vcall *c;
	struct sipsess *sess;
	struct rtp_sock *rtp;
	struct sdp_session *sdp;
	struct sdp_media *m;
	uint32_t ts;    /* what this leg's socket sends: timestamp, */
	uint16_t seq;   /* sequence number and SSRC (our own numbering, so */
	uint32_t ssrc;  /* that the relay thread can continue it) */
	bool up;     /* established */
	bool dialed; /* we sent the INVITE */
	bool held;   /* its phone put the call on hold (sendonly/inactive) */
	int te_pt;   /* the far end's telephone-event payload type; -1 none */
	uint16_t scode;
	char callid[128];
	int16_t acc[2 * SAMPLES]; /* decoded audio received (recording) */
	size_t nacc;
};

typedef void(after_h)(struct vcall *c);

struct vcall {
	struct le le;
	struct voice *v;
	int64_t id;
	int64_t task;
	bool task_open;
	uint32_t queue;
	int64_t offer;
	uint32_t version;
	uint32_t agent;
	char username[64];
	struct leg *a, *b;
	int relay_id; /* > 0: the relay thread forwards a <-> b */
	enum flow f;
	bool alaw;
	uint8_t pt;
	bool codec_set;
	bool outbound;
	bool held;     /* API hold */
	unsigned todo; /* DO_* */
	struct tmr later;
	/* what a hears */
	struct voice_audio *prompt;
	size_t ppos;
	char *want_text, *want_file;
	char want_lang[8];
	uint64_t want_since;
	after_h *after;
	struct voice_audio *music;
	size_t mpos;
	char moh[128];
	unsigned moh_poll;
	/* menu */
	char menu[64];
	unsigned tries;
	uint64_t digit_due;
	struct voice_dtmf *dtmf;
	/* queue */
	char lang[8];
	unsigned announce_s;
	uint64_t announce_due;
	bool cb_ok;    /* a callback may be offered */
	char cb_number[65];
	bool recording;
	struct voice_recording *rec;
	/* timers */
	uint64_t ring_due, se_due;
	unsigned se_s;
	/* for events and the API */
	int64_t started_ms, answered_ms, talk_start_ms;
	int64_t talk_ms; /* talk before the current segment (transfers) */
	char caller[65], number[65];
	char xfer[300];
	const char *end_by;
	char end_reason[64];
};

static void call_end(struct vcall *c, const char *by, const char *reason);

/* ---- small helpers ------------------------------------------------------------ */

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Call ids: from the clock (microseconds since the epoch, ~1.7e15, below
 * 2^53 so JavaScript keeps them exact), strictly increasing. */
static int64_t next_call_id(struct voice *v)
{
	int64_t t = wall_ms() * 1000;
	v->last_call_id = t > v->last_call_id ? t : v->last_call_id + 1;
	return v->last_call_id;
}

/* s as the inside of a JSON string: quotes, backslashes and controls
 * escaped, bytes >= 0x80 replaced by '?' (SIP user parts are not promised
 * to be UTF-8). */
static void jesc(char *out, size_t size, const char *s)
{
	size_t o = 0;
	for (; s && *s && o + 7 < size; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch < 0x20) {
			o += (size_t)snprintf(out + o, size - o, "\\u%04x", ch);
		} else {
			out[o++] = ch >= 0x80 ? '?' : (char)ch;
		}
	}
	out[o] = 0;
}

/* A call.* event; fmt adds fields after "call" (",\"k\":v..."), or NULL. */
static void ev(struct vcall *c, const char *type, const char *fmt, ...)
{
	struct voice *v = c->v;
	if (!v->has_rt || !v->rt.event)
		return;
	char extra[700] = "", payload[800];
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(extra, sizeof(extra), fmt, ap);
		va_end(ap);
	}
	snprintf(payload, sizeof(payload), "{\"call\":%lld%s}", (long long)c->id, extra);
	(void)v->rt.event(v->rt.arg, type, c->task_open || c->task ? c->task : 0, c->agent, c->queue,
			  payload);
}

static void defer(struct vcall *c, unsigned what);

/* ---- legs ------------------------------------------------------------------------ */

static void leg_destructor(void *arg)
{
	struct leg *l = arg;
	l->sess = mem_deref(l->sess); /* BYE when established, CANCEL when ringing */
	l->rtp = mem_deref(l->rtp);
	l->m = NULL;
	l->sdp = mem_deref(l->sdp);
}

static struct leg *leg_new(struct vcall *c)
{
	struct leg *l = mem_zalloc(sizeof(*l), leg_destructor);
	if (l) {
		l->c = c;
		l->te_pt = -1;
	}
	return l;
}

static bool leg_media_ok(const struct leg *l)
{
	return l && l->rtp && l->m && sa_isset(sdp_media_raddr(l->m), SA_ALL);
}

static void rtp_recv(const struct sa *src, const struct rtp_header *hdr, struct mbuf *mb, void *arg);

/* RTP socket and SDP session of a leg on laddr's address; codec 0 (PCMU), 8
 * (PCMA) or -1 (both), plus telephone-event. */
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
		err = sdp_format_add(NULL, l->m, false, "0", "PCMU", 8000, 1, NULL, NULL, NULL, false,
				     NULL);
	if (!err && codec != 0)
		err = sdp_format_add(NULL, l->m, false, "8", "PCMA", 8000, 1, NULL, NULL, NULL, false,
				     NULL);
	if (!err)
		err = sdp_format_add(NULL, l->m, false, "101", "telephone-event", 8000, 1, NULL, NULL,
				     NULL, false, "0-15");
	l->ts = rand_u32();
	l->seq = (uint16_t)rand_u32();
	l->ssrc = l->rtp ? rtp_sess_ssrc(l->rtp) : rand_u32();
	return err;
}

/* After an SDP exchange on l: its telephone-event type and hold state. */
static void leg_sdp_done(struct leg *l)
{
	const struct sdp_format *te = sdp_media_rformat(l->m, "telephone-event");
	l->te_pt = te ? te->pt : -1;
	/* libre keeps the far end's direction from our side: its a=sendonly
	 * (a hold, RFC 3264 8.4) reads SDP_RECVONLY here */
	enum sdp_dir d = sdp_media_rdir(l->m);
	l->held = sa_isset(sdp_media_raddr(l->m), SA_ALL) ? (d == SDP_RECVONLY || d == SDP_INACTIVE)
							   : true;
}

/* The codec the far end of l picked (first common audio format). */
static bool leg_codec(struct vcall *c, struct leg *l)
{
	const struct sdp_format *f = sdp_media_rformat(l->m, NULL);
	while (f && !str_casecmp(f->name, "telephone-event"))
		f = NULL; /* the first format is the codec; telephone-event alone: none */
	if (!f)
		return false;
	c->alaw = !str_casecmp(f->name, "PCMA");
	c->pt = c->alaw ? 8 : 0;
	c->codec_set = true;
	return true;
}

/* ---- what the customer hears ----------------------------------------------------- */

static void want_clear(struct vcall *c)
{
	free(c->want_text);
	free(c->want_file);
	c->want_text = c->want_file = NULL;
}

/* Play a prompt (a WAV under DATA/prompts wins over text in lang), then
 * run after (from c->later). Replaces a prompt that is playing. */
static void play(struct vcall *c, const char *lang, const char *text, const char *file, after_h *after)
{
	want_clear(c);
	if (c->prompt)
		voice_audio_unref(c->prompt);
	c->prompt = NULL;
	c->ppos = 0;
	c->after = after;
	if (file && *file)
		c->want_file = strdup(file);
	else if (text && *text)
		c->want_text = strdup(text);
	snprintf(c->want_lang, sizeof(c->want_lang), "%s", lang && *lang ? lang : "en");
	c->want_since = tmr_jiffies();
	if (!c->want_file && !c->want_text)
		defer(c, DO_PROMPT);
}

static void play_phrase(struct vcall *c, enum voice_phrase ph, unsigned a, unsigned b, after_h *after)
{
	char text[400];
	voice_phrase_text(c->lang, ph, a, b, text, sizeof(text));
	play(c, c->lang, text, NULL, after);
}

static bool music_on(const struct vcall *c)
{
	return c->f == F_QUEUE || c->f == F_DIRECT || (c->f == F_BRIDGED && (c->held || (c->b && c->b->held)));
}

static void next_audio(struct vcall *c, int16_t *pcm, uint64_t now)
{
	struct voice *v = c->v;
	if (!c->prompt && (c->want_text || c->want_file) && v->prompts) {
		c->prompt = c->want_file ? voice_prompt_file(v->prompts, c->want_file)
					 : voice_prompt_text(v->prompts, c->want_lang, c->want_text);
		if (!c->prompt && now - c->want_since > PROMPT_WAIT_MS) {
			LOG_WARN(MOD, "call %lld: a prompt was not ready in time; skipped", (long long)c->id);
			want_clear(c);
			defer(c, DO_PROMPT);
		} else if (c->prompt) {
			want_clear(c);
			c->ppos = 0;
		}
	} else if (!v->prompts && (c->want_text || c->want_file)) {
		want_clear(c);
		defer(c, DO_PROMPT);
	}
	size_t i = 0;
	if (c->prompt) {
		for (; i < SAMPLES && c->ppos < c->prompt->n; i++)
			pcm[i] = c->prompt->pcm[c->ppos++];
		if (c->ppos >= c->prompt->n) {
			voice_audio_unref(c->prompt);
			c->prompt = NULL;
			defer(c, DO_PROMPT);
		}
	} else if (music_on(c) && !c->want_text && !c->want_file) {
		if (c->moh[0] && v->prompts && ++c->moh_poll % 25 == 1) {
			struct voice_audio *m = voice_prompt_file(v->prompts, c->moh);
			if (m) {
				if (c->music)
					voice_audio_unref(c->music);
				c->music = m;
				c->mpos = 0;
				c->moh[0] = 0;
			}
		}
		if (!c->music && v->prompts)
			c->music = voice_prompt_music(v->prompts);
		if (c->music && c->music->n) {
			for (; i < SAMPLES; i++) {
				if (c->mpos >= c->music->n)
					c->mpos = 0;
				pcm[i] = c->music->pcm[c->mpos++];
			}
		}
	}
	for (; i < SAMPLES; i++)
		pcm[i] = 0;
}

/* One RTP packet out of l's socket to its far end, numbered as l's own
 * stream (l->seq, l->ts, l->ssrc); the timestamp then moves by n samples. */
static void leg_send(struct leg *l, bool marker, uint8_t pt, const uint8_t *payload, size_t n)
{
	uint8_t buf[RTP_HEADER_SIZE + 2 * SAMPLES];
	if (n > 2 * SAMPLES || !leg_media_ok(l))
		return;
	buf[0] = 0x80;
	buf[1] = (uint8_t)((marker ? 0x80 : 0) | (pt & 0x7f));
	buf[2] = (uint8_t)(l->seq >> 8);
	buf[3] = (uint8_t)l->seq;
	for (int k = 0; k < 4; k++) {
		buf[4 + k] = (uint8_t)(l->ts >> (24 - 8 * k));
		buf[8 + k] = (uint8_t)(l->ssrc >> (24 - 8 * k));
	}
	memcpy(buf + RTP_HEADER_SIZE, payload, n);
	struct mbuf mb = {.buf = buf, .size = sizeof(buf), .pos = 0, .end = RTP_HEADER_SIZE + n};
	(void)udp_send(rtp_sock(l->rtp), sdp_media_raddr(l->m), &mb);
	l->seq++;
	l->ts += (uint32_t)n; /* G.711: one byte a sample */
}

static void send_audio(struct vcall *c, uint64_t now)
{
	struct leg *l = c->a;
	if (!l || !l->up || !leg_media_ok(l) || !c->codec_set)
		return;
	int16_t pcm[SAMPLES];
	next_audio(c, pcm, now);
	uint8_t enc[SAMPLES];
	voice_g711_encode(c->alaw, pcm, enc, SAMPLES);
	leg_send(l, false, c->pt, enc, SAMPLES);
}

/* ---- recording -------------------------------------------------------------------- */

struct rec_wait {
	struct le le;
	int64_t call, task;
	uint32_t agent, queue;
};

static void rec_done(const struct voice_rec_info *info, void *arg)
{
	struct voice *v = arg;
	struct rec_wait *w = NULL;
	for (struct le *le = list_head(&v->rec_wait); le; le = le->next) {
		struct rec_wait *x = le->data;
		if (x->call == info->call) {
			w = x;
			break;
		}
	}
	if (info->err) {
		LOG_ERROR(MOD, "call %lld: the recording could not be written: %s", (long long)info->call,
			  strerror(info->err < 0 ? -info->err : info->err));
	} else if (w && v->has_rt && v->rt.event) {
		char f[300], payload[500];
		jesc(f, sizeof(f), info->file);
		snprintf(payload, sizeof(payload),
			 "{\"call\":%lld,\"file\":\"%s\",\"duration_ms\":%llu,\"bytes\":%llu}",
			 (long long)info->call, f, (unsigned long long)info->duration_ms,
			 (unsigned long long)info->bytes);
		(void)v->rt.event(v->rt.arg, "call.recorded", w->task, w->agent, w->queue, payload);
	}
	if (w) {
		list_unlink(&w->le);
		mem_deref(w);
	}
}

static void rec_start(struct vcall *c)
{
	struct voice *v = c->v;
	if (!c->recording || c->rec || !v->rec)
		return;
	struct rec_wait *w = mem_zalloc(sizeof(*w), NULL);
	if (!w)
		return;
	if (voice_recording_open(v->rec, c->id, rec_done, v, &c->rec)) {
		mem_deref(w);
		c->rec = NULL;
		LOG_WARN(MOD, "call %lld: recording could not start", (long long)c->id);
		return;
	}
	w->call = c->id;
	list_append(&v->rec_wait, &w->le, w);
	if (c->a)
		c->a->nacc = 0;
	if (c->b)
		c->b->nacc = 0;
}

static void rec_fill(struct vcall *c)
{
	for (struct le *le = list_head(&c->v->rec_wait); le; le = le->next) {
		struct rec_wait *w = le->data;
		if (w->call == c->id) {
			w->task = c->task;
			w->agent = c->agent;
			w->queue = c->queue;
		}
	}
}

static void rec_stop(struct vcall *c)
{
	if (!c->rec)
		return;
	rec_fill(c);
	voice_recording_close(c->rec);
	c->rec = NULL;
}

/* Every tick: 20 ms of both directions, mixed (missing audio is silence). */
static void rec_tick(struct vcall *c)
{
	int16_t mix[SAMPLES];
	struct leg *l[2] = {c->a, c->b};
	for (int i = 0; i < SAMPLES; i++) {
		int s = 0;
		for (int k = 0; k < 2; k++)
			if (l[k] && (size_t)i < l[k]->nacc)
				s += l[k]->acc[i];
		mix[i] = (int16_t)(s > 32767 ? 32767 : s < -32768 ? -32768 : s);
	}
	for (int k = 0; k < 2; k++) {
		if (!l[k])
			continue;
		if (l[k]->nacc > SAMPLES) {
			memmove(l[k]->acc, l[k]->acc + SAMPLES, (l[k]->nacc - SAMPLES) * sizeof(int16_t));
			l[k]->nacc -= SAMPLES;
		} else {
			l[k]->nacc = 0;
		}
	}
	voice_recording_put(c->rec, mix, SAMPLES);
}

/* ---- the media tick ----------------------------------------------------------------- */

static void on_digit(struct vcall *c, char d, const char *source);

static void rtp_recv(const struct sa *src, const struct rtp_header *hdr, struct mbuf *mb, void *arg)
{
	(void)src;
	struct leg *l = arg;
	struct vcall *c = l->c;
	if (!c)
		return;
	uint64_t now = tmr_jiffies();
	size_t n = mbuf_get_left(mb);
	if (l == c->a && c->dtmf && (c->f == F_MENU || c->f == F_QUEUE)) {
		if (l->te_pt >= 0 && hdr->pt == l->te_pt) {
			char d = voice_dtmf_event(c->dtmf, hdr->ts, mbuf_buf(mb), n, now);
			if (d)
				on_digit(c, d, "rfc4733");
			return;
		}
		if (hdr->pt == c->pt && n && n <= 2 * SAMPLES) {
			int16_t pcm[2 * SAMPLES];
			char ds[4];
			voice_g711_decode(c->alaw, mbuf_buf(mb), pcm, n);
			size_t k = voice_dtmf_audio(c->dtmf, pcm, n, now, ds, sizeof(ds));
			for (size_t i = 0; i < k; i++) {
				enum flow f0 = c->f;
				on_digit(c, ds[i], "inband");
				if (c->f != f0)
					break; /* the next digit belongs to no menu yet */
			}
		}
		return;
	}
	if (c->f != F_BRIDGED || hdr->pt != c->pt)
		return; /* only the call's codec is relayed */
	if (c->rec && n <= 2 * SAMPLES && l->nacc + n <= 2 * SAMPLES) {
		voice_g711_decode(c->alaw, mbuf_buf(mb), l->acc + l->nacc, n);
		l->nacc += n;
	}
	if (c->held || (c->a && c->a->held) || (c->b && c->b->held))
		return;
	struct leg *o = l == c->a ? c->b : c->a;
	if (!o || !o->up || !leg_media_ok(o))
		return;
	leg_send(o, hdr->m, c->pt, mbuf_buf(mb), n);
}

static void menu_timeout(struct vcall *c);
static void announce(struct vcall *c);

/* One tick for every call, on absolute time (due += 20 ms). */
static void media_tick(void *arg)
{
	struct voice *v = arg;
	uint64_t now = tmr_jiffies();
	for (struct le *le = list_head(&v->calls); le; le = le->next) {
		struct vcall *c = le->data;
		if (c->a && (c->f != F_BRIDGED || c->held || (c->b && c->b->held)))
			send_audio(c, now);
		if (c->f == F_MENU && c->digit_due && now >= c->digit_due && !c->prompt &&
		    !c->want_text && !c->want_file) {
			c->digit_due = 0;
			menu_timeout(c);
		}
		if (c->f == F_QUEUE && c->announce_due && now >= c->announce_due && !c->prompt &&
		    !c->want_text && !c->want_file)
			announce(c);
		if (c->rec && c->f == F_BRIDGED)
			rec_tick(c);
		if (c->se_due && now >= c->se_due) {
			c->se_due = 0;
			defer(c, DO_EXPIRED);
		}
		if (c->ring_due && now >= c->ring_due) {
			c->ring_due = 0;
			defer(c, DO_RING_TO);
		}
	}
	if (list_isempty(&v->calls))
		return;
	v->media_due += PTIME_MS;
	if (v->media_due + 200 < now) /* stalled: no burst to catch up */
		v->media_due = now;
	tmr_start(&v->media, v->media_due > now ? v->media_due - now : 0, media_tick, v);
}

static void media_start(struct voice *v)
{
	if (!tmr_isrunning(&v->media)) {
		v->media_due = tmr_jiffies();
		tmr_start(&v->media, 0, media_tick, v);
	}
}

/* ---- the relay thread -------------------------------------------------------------- */

static bool relay_far(const struct leg *l, struct sockaddr_storage *ss, socklen_t *len)
{
	const struct sa *ra = sdp_media_raddr(l->m);
	if (!sa_isset(ra, SA_ALL) || ra->len > sizeof(*ss))
		return false;
	memcpy(ss, &ra->u, ra->len);
	*len = ra->len;
	return true;
}

/* A talking call that is neither recorded nor held: its packets go to the
 * relay thread (voice_relay.c), off the core thread. */
static void relay_on(struct vcall *c)
{
	struct voice *v = c->v;
	if (c->relay_id || !v->relay || c->f != F_BRIDGED || c->rec || c->held || !c->a || !c->b ||
	    !c->a->up || !c->b->up || c->a->held || c->b->held || !leg_media_ok(c->a) ||
	    !leg_media_ok(c->b))
		return;
	struct udp_sock *ua = rtp_sock(c->a->rtp), *ub = rtp_sock(c->b->rtp);
	struct sockaddr_storage fa, fb;
	socklen_t la, lb;
	int af_a = sa_af(sdp_media_laddr(c->a->m));
	int af_b = sa_af(sdp_media_laddr(c->b->m));
	int fd_a = udp_sock_fd(ua, af_a), fd_b = udp_sock_fd(ub, af_b);
	if (fd_a < 0 || fd_b < 0 || !relay_far(c->a, &fa, &la) || !relay_far(c->b, &fb, &lb))
		return;
	udp_thread_detach(ua);
	udp_thread_detach(ub);
	/* the relay continues each leg's own stream (see voice_relay.c) */
	struct voice_rtp_out oa = {c->a->ssrc, c->a->seq, c->a->ts}, ob = {c->b->ssrc, c->b->seq, c->b->ts};
	int id = voice_relay_add(v->relay, fd_a, (struct sockaddr *)&fa, la, &oa, fd_b, (struct sockaddr *)&fb,
				 lb, &ob);
	if (id <= 0) {
		(void)udp_thread_attach(ua);
		(void)udp_thread_attach(ub);
		return; /* the core thread relays it (rtp_recv) */
	}
	c->relay_id = id;
}

/* Back to the core thread (before a leg changes or goes). */
static void relay_off(struct vcall *c)
{
	if (!c->relay_id)
		return;
	struct voice_rtp_out oa = {0}, ob = {0};
	voice_relay_remove(c->v->relay, c->relay_id, &oa, &ob);
	c->relay_id = 0;
	if (c->a) { /* our numbering goes on where the relay left it */
		c->a->seq = oa.seq;
		c->a->ts = oa.ts;
	}
	if (c->b) {
		c->b->seq = ob.seq;
		c->b->ts = ob.ts;
	}
	if (c->a && c->a->rtp)
		(void)udp_thread_attach(rtp_sock(c->a->rtp));
	if (c->b && c->b->rtp)
		(void)udp_thread_attach(rtp_sock(c->b->rtp));
}

/* Free a leg of c (BYE or CANCEL as its state needs). */
static void leg_drop(struct vcall *c, struct leg **lp)
{
	relay_off(c);
	if (*lp) {
		(*lp)->c = NULL;
		*lp = mem_deref(*lp);
	}
}

/* ---- calls ----------------------------------------------------------------------- */

static void call_destructor(void *arg)
{
	struct vcall *c = arg;
	struct voice *v = c->v;
	relay_off(c);
	tmr_cancel(&c->later);
	rec_stop(c);
	if (c->a)
		c->a->c = NULL;
	if (c->b)
		c->b->c = NULL;
	c->b = mem_deref(c->b);
	c->a = mem_deref(c->a);
	want_clear(c);
	if (c->prompt)
		voice_audio_unref(c->prompt);
	if (c->music)
		voice_audio_unref(c->music);
	voice_dtmf_free(c->dtmf);
	if (c->le.list) {
		list_unlink(&c->le);
		v->n_calls--;
	}
}

static struct vcall *call_new(struct voice *v)
{
	struct vcall *c = mem_zalloc(sizeof(*c), call_destructor);
	if (!c)
		return NULL;
	c->v = v;
	c->id = next_call_id(v);
	c->started_ms = wall_ms();
	tmr_init(&c->later);
	snprintf(c->lang, sizeof(c->lang), "en");
	c->announce_s = 30;
	list_append(&v->calls, &c->le, c);
	v->n_calls++;
	media_start(v);
	return c;
}

/* The task's work is over (accepted: completed and wrap-up; waiting:
 * abandoned); stop hearing about it. */
static void task_close(struct vcall *c, bool abandon)
{
	struct voice *v = c->v;
	if (!c->task_open || !v->has_rt)
		return;
	c->task_open = false;
	v->rt.task_detach(v->rt.arg, c->task);
	if (abandon)
		(void)v->rt.task_abandon(v->rt.arg, c->task);
	else
		(void)v->rt.task_end(v->rt.arg, c->task);
}

static void reject_offer(struct vcall *c)
{
	struct voice *v = c->v;
	if (c->offer && v->has_rt)
		(void)v->rt.offer_answer(v->rt.arg, c->offer, c->version, 0);
	c->offer = 0;
}

/* Hang up both legs, end the task, free c. */
static void call_end(struct vcall *c, const char *by, const char *reason)
{
	enum flow f = c->f;
	int64_t now = wall_ms();
	LOG_INFO(MOD, "call %lld (task %lld) ends: %s", (long long)c->id, (long long)c->task, reason);
	/* An offer still ringing is not rejected: the task ends (abandoned),
	 * which withdraws it; a rejection would count as the agent's miss. */
	c->offer = 0;
	task_close(c, f != F_BRIDGED);
	ev(c, "call.ended", ",\"by\":\"%s\",\"reason\":\"%s\",\"duration_ms\":%lld,\"talk_ms\":%lld", by,
	   reason, (long long)(now - c->started_ms),
	   (long long)(c->talk_ms + (c->talk_start_ms ? now - c->talk_start_ms : 0)));
	mem_deref(c);
}

static void after_hangup(struct vcall *c)
{
	call_end(c, c->end_by ? c->end_by : "system", c->end_reason[0] ? c->end_reason : "finished");
}

/* Say a last phrase, then hang up. */
static void end_with(struct vcall *c, enum voice_phrase ph, const char *reason)
{
	c->f = F_ENDING;
	c->end_by = "system";
	snprintf(c->end_reason, sizeof(c->end_reason), "%s", reason);
	c->ring_due = 0;
	leg_drop(c, &c->b);
	if (c->a && c->a->up)
		play_phrase(c, ph, 0, 0, after_hangup);
	else
		defer(c, DO_PROMPT), c->after = after_hangup;
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

/* The outbound trunk's credentials, when the provider challenges. */
static int trunk_auth(char **username, char **password, const char *realm, void *arg)
{
	(void)realm;
	struct voice *v = arg;
	if (!v->out_user[0])
		return EAUTH;
	int err = str_dup(username, v->out_user);
	if (!err)
		err = str_dup(password, v->out_pass);
	return err;
}

static int offer_h(struct mbuf **descp, const struct sip_msg *msg, void *arg);
static int answer_h(const struct sip_msg *msg, void *arg);
static void estab_h(const struct sip_msg *msg, void *arg);
static void close_h(int err, const struct sip_msg *msg, void *arg);
static void refer_h(struct sip *sip, const struct sip_msg *msg, void *arg);

/* Dial a new leg into *lp: the registered phone of user (by the flow it
 * registered from), or number through the outbound trunk. The INVITE offers
 * the call's codec once it is known, else PCMU and PCMA. Returns 0 or an
 * errno (ENODEV: no registered phone; ENOTSUP: no outbound trunk). */
static int dial_leg(struct vcall *c, struct leg **lp, const char *user, const char *number,
		    const char *from_user)
{
	struct voice *v = c->v;
	struct pick pk = {0};
	char uri[VOICE_URI_MAX + 80], route[128], from[200];
	const char *routev[1] = {route};
	unsigned nroute = 0;
	if (user) {
		(void)voice_reg_bindings(v->reg, user, pick_binding, &pk);
		if (!pk.found)
			return ENODEV;
		snprintf(uri, sizeof(uri), "%s", pk.uri);
		(void)re_snprintf(route, sizeof(route), "sip:%J%s", &pk.src, sip_transp_param(pk.tp));
		nroute = 1;
	} else {
		if (!v->has_out_trunk)
			return ENOTSUP;
		pk.src = v->out_trunk;
		pk.tp = SIP_TRANSP_UDP;
		(void)re_snprintf(uri, sizeof(uri), "sip:%s@%J", number, &v->out_trunk);
	}
	struct sa la;
	struct mbuf *offer = NULL;
	struct leg *l = leg_new(c);
	if (!l)
		return ENOMEM;
	l->dialed = true;
	int err = sip_transp_laddr(v->sip, &la, pk.tp, &pk.src);
	if (!err)
		err = leg_media(l, &la, c->codec_set ? c->pt : -1);
	if (!err)
		err = sdp_encode(&offer, l->sdp, true);
	if (!err) {
		char cu[80];
		jesc(cu, sizeof(cu), from_user && *from_user ? from_user : "hotline");
		for (char *p = cu; *p; p++) /* a SIP user part: keep it plain */
			if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			      *p == '+' || *p == '-' || *p == '.' || *p == '_'))
				*p = '_';
		(void)re_snprintf(from, sizeof(from), "sip:%s@%J", cu, &la);
		err = sipsess_connect(&l->sess, v->sock, uri, from_user && *from_user ? from_user : NULL, from,
				      "hotline", routev, nroute, "application/sdp", offer,
				      user ? NULL : trunk_auth, user ? NULL : v, false, offer_h, answer_h, NULL, estab_h, NULL, refer_h, close_h, l,
				      "X-Hotline-Call: %lld\r\n", (long long)c->id);
	}
	mem_deref(offer);
	if (err) {
		mem_deref(l);
		return err;
	}
	if (*lp)
		leg_drop(c, lp);
	*lp = l;
	return 0;
}

/* ---- routing: queue, menu, user ------------------------------------------------------- */

static void on_note(const struct voice_note *n, void *arg);
static void route_to(struct vcall *c, const struct voice_target *t);

static void queue_settings(struct vcall *c, uint32_t queue, struct voice_queue_info *qi)
{
	struct voice *v = c->v;
	memset(qi, 0, sizeof(*qi));
	snprintf(qi->language, sizeof(qi->language), "en");
	qi->open = true;
	qi->announce_s = 30;
	if (v->has_rt && v->rt.queue_info)
		(void)v->rt.queue_info(v->rt.arg, queue, qi);
}

static void enter_queue(struct vcall *c, uint32_t queue)
{
	struct voice *v = c->v;
	struct voice_queue_info qi;
	queue_settings(c, queue, &qi);
	snprintf(c->lang, sizeof(c->lang), "%s", qi.language[0] ? qi.language : "en");
	c->queue = queue;
	if (!qi.open) {
		ev(c, "call.closed", ",\"queue\":%u", queue);
		c->f = F_ENDING;
		c->end_by = "system";
		snprintf(c->end_reason, sizeof(c->end_reason), "closed");
		if (qi.closed_text[0])
			play(c, c->lang, qi.closed_text, NULL, after_hangup);
		else
			play_phrase(c, VOICE_PHRASE_CLOSED, 0, 0, after_hangup);
		return;
	}
	char attrs[600], caller[140], num[140];
	jesc(caller, sizeof(caller), c->caller);
	jesc(num, sizeof(num), c->number);
	snprintf(attrs, sizeof(attrs), "{\"caller\":\"%s\",\"number\":\"%s\",\"call\":%lld}", caller,
		 num, (long long)c->id);
	int r = v->has_rt ? v->rt.task_open(v->rt.arg, queue, attrs, on_note, v, &c->task) : -ENOSYS;
	if (r) {
		LOG_WARN(MOD, "call %lld: no task on queue %u (%d)", (long long)c->id, queue, r);
		end_with(c, VOICE_PHRASE_UNAVAILABLE, "no queue");
		return;
	}
	c->task_open = true;
	c->f = F_QUEUE;
	c->recording = qi.recording;
	c->announce_s = qi.announce_s;
	c->announce_due = qi.announce_s ? tmr_jiffies() + 1500 : 0;
	c->cb_ok = v->has_out_trunk && c->caller[0] && strspn(c->caller, "+0123456789") == strlen(c->caller);
	if (c->music)
		voice_audio_unref(c->music);
	c->music = NULL;
	snprintf(c->moh, sizeof(c->moh), "%s", qi.moh);
	c->moh_poll = 0;
	ev(c, "call.queued", ",\"queue\":%u,\"task\":%lld", queue, (long long)c->task);
	LOG_INFO(MOD, "call %lld: task %lld on queue %u", (long long)c->id, (long long)c->task, queue);
}

static void announce(struct vcall *c)
{
	struct voice *v = c->v;
	unsigned pos = 0, ewt = 0;
	c->announce_due = c->announce_s ? tmr_jiffies() + (uint64_t)c->announce_s * 1000 : 0;
	if (!v->has_rt || !v->rt.task_position || v->rt.task_position(v->rt.arg, c->task, &pos, &ewt) ||
	    !pos)
		return;
	char text[800];
	size_t n = voice_phrase_text(c->lang, VOICE_PHRASE_POSITION, pos, (ewt + 59) / 60, text,
				     sizeof(text));
	if (c->cb_ok && n + 2 < sizeof(text)) {
		text[n++] = ' ';
		voice_phrase_text(c->lang, VOICE_PHRASE_CALLBACK_OFFER, (unsigned)(CALLBACK_DIGIT - '0'), 0,
				  text + n, sizeof(text) - n);
	}
	ev(c, "call.announced", ",\"position\":%u,\"ewt_s\":%u", pos, ewt);
	play(c, c->lang, text, NULL, NULL);
}

static void menu_greet(struct vcall *c);

static void after_greeting(struct vcall *c)
{
	const struct voice_menu *m = voice_menu_find(c->v, c->menu);
	if (c->f == F_MENU)
		c->digit_due = tmr_jiffies() + (m ? m->timeout_s : 5) * 1000ull;
}

static void menu_greet(struct vcall *c)
{
	const struct voice_menu *m = voice_menu_find(c->v, c->menu);
	if (!m) {
		end_with(c, VOICE_PHRASE_UNAVAILABLE, "no menu");
		return;
	}
	c->digit_due = 0;
	play(c, m->lang, m->greeting, m->greeting_file, after_greeting);
}

static void menu_timeout(struct vcall *c)
{
	const struct voice_menu *m = voice_menu_find(c->v, c->menu);
	if (!m || c->tries >= m->retries) {
		ev(c, "call.menu_failed", ",\"menu\":\"%s\"", c->menu);
		end_with(c, VOICE_PHRASE_GOODBYE, "no choice");
		return;
	}
	c->tries++;
	menu_greet(c);
}

static void menu_start(struct vcall *c, const char *name)
{
	const struct voice_menu *m = voice_menu_find(c->v, name);
	if (!m) {
		LOG_WARN(MOD, "call %lld: no menu named %s", (long long)c->id, name);
		end_with(c, VOICE_PHRASE_UNAVAILABLE, "no menu");
		return;
	}
	snprintf(c->menu, sizeof(c->menu), "%s", name);
	snprintf(c->lang, sizeof(c->lang), "%s", m->lang);
	c->tries = 0;
	c->f = F_MENU;
	ev(c, "call.menu", ",\"menu\":\"%s\"", name);
	menu_greet(c);
}

static void after_invalid(struct vcall *c)
{
	menu_greet(c);
}

static void after_callback_ok(struct vcall *c)
{
	defer(c, DO_CB_HANGUP);
}

static void on_digit(struct vcall *c, char d, const char *source)
{
	ev(c, "call.digit", ",\"digit\":\"%c\",\"source\":\"%s\"", d, source);
	if (c->f == F_QUEUE) {
		if (d == CALLBACK_DIGIT && c->cb_ok && c->task_open && !c->b) {
			snprintf(c->cb_number, sizeof(c->cb_number), "%s", c->caller);
			ev(c, "call.callback_requested", ",\"number\":\"%s\"", c->cb_number);
			c->announce_due = 0;
			play_phrase(c, VOICE_PHRASE_CALLBACK_OK, 0, 0, after_callback_ok);
		}
		return;
	}
	if (c->f != F_MENU)
		return;
	const struct voice_menu *m = voice_menu_find(c->v, c->menu);
	const char *k = strchr(VOICE_MENU_KEYS, d);
	if (!m || !k || !d)
		return;
	const struct voice_target *t = &m->key[k - VOICE_MENU_KEYS];
	if (t->kind == VOICE_T_NONE) {
		if (c->tries >= m->retries) {
			end_with(c, VOICE_PHRASE_GOODBYE, "no valid choice");
			return;
		}
		c->tries++;
		c->digit_due = 0;
		play_phrase(c, VOICE_PHRASE_INVALID, 0, 0, after_invalid);
		return;
	}
	c->digit_due = 0;
	want_clear(c);
	if (c->prompt) { /* barge-in: the digit stops the greeting */
		voice_audio_unref(c->prompt);
		c->prompt = NULL;
	}
	c->after = NULL;
	struct voice_target tt = *t;
	route_to(c, &tt);
}

/* Ring user's phone (or number, via the trunk) directly: no task. */
static void ring_direct(struct vcall *c, const char *user, const char *number)
{
	int err = dial_leg(c, &c->b, user, number, c->caller);
	if (err) {
		LOG_INFO(MOD, "call %lld: cannot ring %s: %s", (long long)c->id, user ? user : number,
			 strerror(err));
		end_with(c, VOICE_PHRASE_UNAVAILABLE, err == ENODEV ? "not registered" : "no route");
		return;
	}
	c->f = F_DIRECT;
	c->ring_due = tmr_jiffies() + RING_TIMEOUT_MS;
	if (user)
		snprintf(c->username, sizeof(c->username), "%s", user);
	char who[140];
	jesc(who, sizeof(who), user ? user : number);
	ev(c, "call.ringing", ",\"%s\":\"%s\"", user ? "username" : "number", who);
}

static void route_to(struct vcall *c, const struct voice_target *t)
{
	switch (t->kind) {
	case VOICE_T_QUEUE:
		enter_queue(c, t->queue);
		break;
	case VOICE_T_MENU:
		menu_start(c, t->name);
		break;
	case VOICE_T_USER:
		ring_direct(c, t->name, NULL);
		break;
	case VOICE_T_NUMBER:
		ring_direct(c, NULL, t->name);
		break;
	default:
		end_with(c, VOICE_PHRASE_UNAVAILABLE, "no target");
		break;
	}
}

/* ---- the routing engine's decisions ------------------------------------------------------- */

static struct vcall *call_by_task(struct voice *v, int64_t task)
{
	for (struct le *le = list_head(&v->calls); le; le = le->next) {
		struct vcall *c = le->data;
		if (c->task == task && c->task_open)
			return c;
	}
	return NULL;
}

static struct vcall *call_by_id(struct voice *v, int64_t id)
{
	for (struct le *le = list_head(&v->calls); le; le = le->next) {
		struct vcall *c = le->data;
		if (c->id == id)
			return c;
	}
	return NULL;
}

/* The engine offers the call to an agent: ring its phone. */
static void ring_agent(struct vcall *c, const struct voice_note *n)
{
	c->offer = n->offer;
	c->version = n->version;
	if ((c->f != F_QUEUE && c->f != F_CALLBACK) || c->b) {
		reject_offer(c);
		return;
	}
	int err = n->username ? dial_leg(c, &c->b, n->username, NULL, c->caller) : ENODEV;
	if (err) {
		LOG_INFO(MOD, "call %lld: agent %u (%s) cannot be rung (%s); offer rejected",
			 (long long)c->id, n->agent, n->username ? n->username : "no user", strerror(err));
		reject_offer(c);
		return;
	}
	c->agent = n->agent;
	snprintf(c->username, sizeof(c->username), "%s", n->username);
	char u[140];
	jesc(u, sizeof(u), n->username);
	ev(c, "call.ringing", ",\"username\":\"%s\"", u);
	LOG_INFO(MOD, "call %lld: ringing %s", (long long)c->id, n->username);
}

static void on_note(const struct voice_note *n, void *arg)
{
	struct voice *v = arg;
	struct vcall *c = call_by_task(v, n->task);
	if (!c)
		return;
	switch (n->type) {
	case VOICE_NOTE_OFFER:
		ring_agent(c, n);
		break;
	case VOICE_NOTE_WITHDRAWN:
		if (c->b && !c->b->up && n->offer == c->offer) {
			LOG_INFO(MOD, "call %lld: the offer to %s ended; cancelling the call to the phone",
				 (long long)c->id, n->username ? n->username : "the agent");
			ev(c, "call.no_answer", ",\"code\":0");
			c->offer = 0;
			leg_drop(c, &c->b);
			c->agent = 0;
		}
		break;
	case VOICE_NOTE_ACCEPTED:
		break;
	case VOICE_NOTE_ENDED:
		c->task_open = false;
		call_end(c, "system", n->state ? n->state : "the task ended");
		break;
	}
}

/* ---- session callbacks ---------------------------------------------------------------- */

static int offer_h(struct mbuf **descp, const struct sip_msg *msg, void *arg)
{
	struct leg *l = arg;
	struct vcall *c = l->c;
	if (c)
		relay_off(c); /* the far end or the direction may change */
	int err = sdp_decode(l->sdp, msg->mb, true);
	if (err) {
		if (c)
			relay_on(c);
		return err;
	}
	bool was = l->held;
	leg_sdp_done(l);
	if (c && l->held != was && c->f == F_BRIDGED)
		ev(c, l->held ? "call.held" : "call.resumed", ",\"by\":\"%s\"", l == c->a ? "caller" : "agent");
	if (c && l == c->a && c->se_s) /* a refresh (re-INVITE) */
		c->se_due = tmr_jiffies() + (uint64_t)c->se_s * 1000;
	if (c)
		relay_on(c);
	return sdp_encode(descp, l->sdp, false);
}

static int answer_h(const struct sip_msg *msg, void *arg)
{
	struct leg *l = arg;
	int err = sdp_decode(l->sdp, msg->mb, false);
	if (!err)
		leg_sdp_done(l);
	return err;
}

static void bridge(struct vcall *c)
{
	c->f = F_BRIDGED;
	c->ring_due = 0;
	c->answered_ms = c->answered_ms ? c->answered_ms : wall_ms();
	c->talk_start_ms = wall_ms();
	want_clear(c);
	if (c->prompt) {
		voice_audio_unref(c->prompt);
		c->prompt = NULL;
	}
	c->after = NULL;
	ev(c, "call.answered", ",\"username\":\"%s\"", c->username);
	rec_start(c);
	relay_on(c);
	LOG_INFO(MOD, "call %lld: bridged%s", (long long)c->id, c->relay_id ? " (relay thread)" : "");
}

static void estab_h(const struct sip_msg *msg, void *arg)
{
	(void)msg;
	struct leg *l = arg;
	struct vcall *c = l->c;
	if (!c || !l->dialed)
		return; /* a's own establishment: nothing to do */
	struct voice *v = c->v;
	l->up = true;
	if (l == c->b && (c->f == F_QUEUE || c->f == F_CALLBACK)) {
		int r = c->offer && v->has_rt ? v->rt.offer_answer(v->rt.arg, c->offer, c->version, 1)
					       : -ENOENT;
		c->offer = 0;
		if (r) {
			LOG_INFO(MOD, "call %lld: the agent answered, but the offer is gone (%d)",
				 (long long)c->id, r);
			l->up = false;
			defer(c, DO_B_GONE); /* BYE, from the timer: not inside this callback */
			return;
		}
		if (c->f == F_QUEUE) {
			bridge(c);
			return;
		}
		/* a callback: now the customer */
		int err = dial_leg(c, &c->a, NULL, c->cb_number, c->number);
		if (err) {
			LOG_WARN(MOD, "call %lld: the callback to %s cannot be dialled: %s", (long long)c->id,
				 c->cb_number, strerror(err));
			c->end_by = "system";
			snprintf(c->end_reason, sizeof(c->end_reason), "callback failed");
			c->f = F_BRIDGED; /* the task was accepted: it completes */
			defer(c, DO_A_GONE);
			return;
		}
		c->ring_due = tmr_jiffies() + RING_TIMEOUT_MS;
		ev(c, "call.callback_dialing", ",\"number\":\"%s\"", c->cb_number);
		return;
	}
	if (l == c->b && c->f == F_DIRECT) {
		bridge(c);
		return;
	}
	if (l == c->b && c->f == F_OUT) { /* the agent answered: now the number */
		if (!leg_codec(c, l)) {
			defer(c, DO_B_GONE);
			return;
		}
		int err = dial_leg(c, &c->a, NULL, c->number, NULL);
		if (err) {
			defer(c, DO_A_GONE);
			return;
		}
		c->ring_due = tmr_jiffies() + RING_TIMEOUT_MS;
		return;
	}
	if (l == c->a && (c->f == F_OUT || c->f == F_CALLBACK)) {
		if (!c->codec_set)
			(void)leg_codec(c, l);
		bridge(c);
	}
}

static void close_h(int err, const struct sip_msg *msg, void *arg)
{
	struct leg *l = arg;
	struct vcall *c = l->c;
	if (!c)
		return;
	l->scode = msg ? msg->scode : 0;
	if (err == ECONNRESET) /* libre's way of saying: the far end sent BYE */
		LOG_INFO(MOD, "call %lld: the %s leg hung up (BYE)", (long long)c->id,
			 l == c->a ? "caller's" : "phone's");
	else
		LOG_INFO(MOD, "call %lld: the %s leg closed (%s%u)", (long long)c->id,
			 l == c->a ? "caller's" : "phone's", err ? "error " : "",
			 msg ? msg->scode : (unsigned)err);
	defer(c, l == c->a ? DO_A_GONE : DO_B_GONE);
}

static void refer_h(struct sip *sip, const struct sip_msg *msg, void *arg)
{
	struct leg *l = arg;
	struct vcall *c = l->c;
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_REFER_TO);
	if (!c || !h || c->f != F_BRIDGED || h->val.l >= sizeof(c->xfer)) {
		(void)sip_treply(NULL, sip, msg, c && h ? 488 : 400, c && h ? "Not Acceptable Here" : "Bad Request");
		return;
	}
	(void)pl_strcpy(&h->val, c->xfer, sizeof(c->xfer));
	(void)sip_treply(NULL, sip, msg, 202, "Accepted");
	defer(c, DO_XFER);
}

/* ---- transfers ---------------------------------------------------------------------------- */

static void pct_decode(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (*s == '%' && s[1] && s[2]) {
			char h[3] = {s[1], s[2], 0};
			char *end;
			long x = strtol(h, &end, 16);
			if (!*end && x > 0) {
				*o++ = (char)x;
				s += 2;
				continue;
			}
		}
		*o++ = *s;
	}
	*o = 0;
}

static bool has_binding(const char *uri, const struct sa *src, enum sip_transp tp, uint64_t expires,
			void *arg)
{
	(void)uri;
	(void)src;
	(void)tp;
	(void)expires;
	*(bool *)arg = true;
	return true;
}

static bool user_registered(struct voice *v, const char *user)
{
	bool found = false;
	(void)voice_reg_bindings(v->reg, user, has_binding, &found);
	return found;
}

/* The agent's leg goes; the caller (a) stays: the task (if any) is done for
 * this agent (wrap-up). */
static void drop_agent(struct vcall *c)
{
	relay_off(c);
	rec_stop(c);
	task_close(c, false);
	leg_drop(c, &c->b);
	c->agent = 0;
	c->username[0] = 0;
	c->held = false;
	if (c->talk_start_ms) { /* the talk so far counts; waiting again does not */
		c->talk_ms += wall_ms() - c->talk_start_ms;
		c->talk_start_ms = 0;
	}
}

/* Blind transfer of a to target ("queue:ID", "agent:USER", "number:N"). */
static int transfer(struct vcall *c, const char *target)
{
	struct voice *v = c->v;
	struct voice_target t = {0};
	if (!strncmp(target, "agent:", 6) || !strncmp(target, "user:", 5)) {
		const char *u = strchr(target, ':') + 1;
		if (!*u || strlen(u) >= sizeof(t.name))
			return -EINVAL;
		if (!user_registered(v, u))
			return -ENODEV;
		t.kind = VOICE_T_USER;
		snprintf(t.name, sizeof(t.name), "%s", u);
	} else if (!strncmp(target, "number:", 7)) {
		const char *n = target + 7;
		if (!*n || strlen(n) > 32 || strspn(n, "+*#0123456789") != strlen(n))
			return -EINVAL;
		if (!v->has_out_trunk)
			return -ENOTSUP;
		t.kind = VOICE_T_NUMBER;
		snprintf(t.name, sizeof(t.name), "%s", n);
	} else if (!strncmp(target, "queue:", 6)) {
		if (voice_target_parse(target, &t) || t.kind != VOICE_T_QUEUE)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (!c->a || !c->a->up || (c->f != F_BRIDGED))
		return -EBUSY;
	char tj[140];
	jesc(tj, sizeof(tj), target);
	ev(c, "call.transferred", ",\"target\":\"%s\"", tj);
	drop_agent(c);
	c->queue = t.kind == VOICE_T_QUEUE ? c->queue : 0;
	route_to(c, &t);
	return 0;
}

/* A REFER from a phone on c: Refer-To's user part names a service number, a
 * username or (with an outbound trunk) a number; with Replaces, the agent's
 * consultation call whose far end takes the caller over. */
static void do_refer(struct vcall *c)
{
	struct voice *v = c->v;
	struct sip_addr addr;
	struct pl pl;
	pl_set_str(&pl, c->xfer);
	char user[64] = "", rep[200] = "";
	if (sip_addr_decode(&addr, &pl) || !pl_isset(&addr.uri.user) ||
	    pl_strcpy(&addr.uri.user, user, sizeof(user))) {
		LOG_INFO(MOD, "call %lld: REFER with an unusable Refer-To", (long long)c->id);
		return;
	}
	struct pl r;
	if (pl_isset(&addr.uri.headers) &&
	    !re_regex(addr.uri.headers.p, addr.uri.headers.l, "Replaces=[^&]+", &r)) {
		(void)pl_strcpy(&r, rep, sizeof(rep));
		pct_decode(rep);
		char *semi = strchr(rep, ';');
		if (semi)
			*semi = 0;
	}
	if (rep[0]) { /* attended: find the consultation call by its Call-ID */
		for (struct le *le = list_head(&v->calls); le; le = le->next) {
			struct vcall *c2 = le->data;
			struct leg *keep = NULL;
			if (c2 == c || c2->f != F_BRIDGED || !c2->a || !c2->b)
				continue;
			if (!strcmp(c2->a->callid, rep))
				keep = c2->b;
			else if (!strcmp(c2->b->callid, rep))
				keep = c2->a;
			if (!keep)
				continue;
			if (!c2->codec_set || c2->pt != c->pt) {
				LOG_INFO(MOD, "call %lld: attended transfer across codecs; refused", (long long)c->id);
				return;
			}
			char tj[140];
			jesc(tj, sizeof(tj), user);
			ev(c, "call.transferred", ",\"target\":\"attended:%s\"", tj);
			relay_off(c2);
			drop_agent(c);
			if (keep == c2->b)
				c2->b = NULL;
			else
				c2->a = NULL;
			keep->c = c;
			c->b = keep;
			keep->dialed = true;
			snprintf(c->username, sizeof(c->username), "%s", c2->username[0] ? c2->username : user);
			c->f = F_BRIDGED;
			c->talk_start_ms = wall_ms();
			ev(c, "call.answered", ",\"username\":\"%s\"", c->username);
			relay_on(c);
			c2->end_by = "agent";
			snprintf(c2->end_reason, sizeof(c2->end_reason), "transferred");
			defer(c2, DO_A_GONE);
			return;
		}
		LOG_INFO(MOD, "call %lld: REFER names no call of ours; ignored", (long long)c->id);
		return;
	}
	char target[120];
	struct pl up;
	pl_set_str(&up, user);
	const struct voice_target *nt = voice_number_target(v, &up);
	if (nt && nt->kind == VOICE_T_QUEUE)
		snprintf(target, sizeof(target), "queue:%u", nt->queue);
	else if (nt && nt->kind == VOICE_T_USER)
		snprintf(target, sizeof(target), "agent:%s", nt->name);
	else if (user_registered(v, user))
		snprintf(target, sizeof(target), "agent:%s", user);
	else
		snprintf(target, sizeof(target), "number:%s", user);
	int tr = transfer(c, target);
	if (tr)
		LOG_INFO(MOD, "call %lld: REFER to %s failed: %s", (long long)c->id, user, strerror(-tr));
}

/* ---- deferred work -------------------------------------------------------------------------- */

static void on_later(void *arg)
{
	struct vcall *c = arg;
	unsigned todo = c->todo;
	c->todo = 0;
	if ((todo & DO_RING_TO) && c->b && c->b->up && (c->f == F_OUT || c->f == F_CALLBACK))
		todo = (todo & ~(unsigned)DO_RING_TO) | DO_A_GONE; /* the customer's leg rang out */
	if (todo & DO_XFER)
		do_refer(c);
	if (todo & DO_EXPIRED) {
		call_end(c, "system", "session expired");
		return;
	}
	if (todo & DO_A_GONE) {
		if (c->f == F_CALLBACK && c->b && !(c->a && c->a->up)) {
			/* the customer did not answer the callback */
			c->f = F_BRIDGED;
			call_end(c, "system", c->end_reason[0] ? c->end_reason : "callback unanswered");
		} else if (c->f == F_OUT) {
			uint16_t code = c->a ? c->a->scode : 0;
			ev(c, "call.no_answer", ",\"code\":%u", code);
			call_end(c, "system", "the number did not answer");
		} else {
			call_end(c, c->end_by ? c->end_by : "caller",
				 c->end_reason[0] ? c->end_reason : "the caller hung up");
		}
		return;
	}
	if (todo & DO_CB_HANGUP) {
		/* the caller keeps the place; its leg goes */
		leg_drop(c, &c->a);
		if (c->f == F_QUEUE)
			c->f = F_CALLBACK;
		return;
	}
	if (todo & (DO_B_GONE | DO_RING_TO)) {
		bool was_up = c->b && c->b->up;
		uint16_t code = c->b ? c->b->scode : 0;
		leg_drop(c, &c->b);
		if (c->f == F_QUEUE || (c->f == F_CALLBACK && !was_up)) {
			ev(c, "call.no_answer", ",\"code\":%u", code);
			c->agent = 0;
			reject_offer(c);
		} else if (c->f == F_DIRECT) {
			ev(c, "call.no_answer", ",\"code\":%u", code);
			end_with(c, VOICE_PHRASE_UNAVAILABLE, "no answer");
		} else if (c->f == F_BRIDGED || c->f == F_OUT || c->f == F_CALLBACK) {
			call_end(c, c->outbound && !was_up ? "system" : "agent", "the agent hung up");
			return;
		}
	}
	if (todo & DO_PROMPT) {
		after_h *after = c->after;
		c->after = NULL;
		if (after)
			after(c); /* may free c: last */
	}
}

static void defer(struct vcall *c, unsigned what)
{
	c->todo |= what;
	tmr_start(&c->later, 0, on_later, c);
}

/* ---- new calls -------------------------------------------------------------------------------- */

/* sipsess's new-INVITE handler; voice_call_invite checked it and left the
 * target in v->pending. */
static void on_conn(const struct sip_msg *msg, void *arg)
{
	struct voice *v = arg;
	struct voice_target t = v->pending;
	unsigned se = v->pending_se;
	v->pending.kind = VOICE_T_NONE;
	v->pending_se = 0;
	if (t.kind == VOICE_T_NONE) {
		(void)sip_treply(NULL, v->sip, msg, 403, "Forbidden");
		return;
	}
	struct vcall *c = call_new(v);
	if (!c) {
		(void)sip_treply(NULL, v->sip, msg, 500, "Server Error");
		return;
	}
	c->a = leg_new(c);
	(void)pl_strcpy(&msg->from.uri.user, c->caller, sizeof(c->caller));
	(void)pl_strcpy(&msg->uri.user, c->number, sizeof(c->number));
	struct mbuf *ans = NULL;
	uint16_t code = 500;
	const char *reason = "Server Error";
	if (!c->a || leg_media(c->a, &msg->dst, -1) || voice_dtmf_alloc(&c->dtmf))
		goto fail;
	(void)pl_strcpy(&msg->callid, c->a->callid, sizeof(c->a->callid));
	code = 488;
	reason = "Not Acceptable Here";
	if (!mbuf_get_left(msg->mb) || sdp_decode(c->a->sdp, msg->mb, true))
		goto fail;
	leg_sdp_done(c->a);
	if (!leg_codec(c, c->a) || !sa_isset(sdp_media_raddr(c->a->m), SA_ALL))
		goto fail;
	code = 500;
	reason = "Server Error";
	if (sdp_encode(&ans, c->a->sdp, false))
		goto fail;
	char hdrs[200];
	snprintf(hdrs, sizeof(hdrs), "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, REFER\r\n%s",
		 se ? "Require: timer\r\n" : "");
	if (se) {
		size_t n = strlen(hdrs);
		snprintf(hdrs + n, sizeof(hdrs) - n, "Session-Expires: %u;refresher=uac\r\n", se);
	}
	int err = sipsess_accept(&c->a->sess, v->sock, msg, 200, "OK", "hotline", "application/sdp", ans,
				 NULL, NULL, false, offer_h, answer_h, estab_h, NULL, refer_h, close_h,
				 c->a, "%s", hdrs);
	ans = mem_deref(ans);
	if (err) {
		LOG_WARN(MOD, "could not answer a call: %s", strerror(err));
		call_end(c, "system", "answer failed");
		return;
	}
	c->a->up = true;
	if (se) {
		c->se_s = se;
		c->se_due = tmr_jiffies() + (uint64_t)se * 1000;
	}
	char as[64], cj[140], nj[140];
	(void)re_snprintf(as, sizeof(as), "%J", &msg->src);
	jesc(cj, sizeof(cj), c->caller);
	jesc(nj, sizeof(nj), c->number);
	ev(c, "call.started", ",\"direction\":\"inbound\",\"caller\":\"%s\",\"number\":\"%s\"", cj, nj);
	LOG_INFO(MOD, "call %lld from %s (%s) to %s answered (%s)", (long long)c->id, c->caller, as,
		 c->number, c->alaw ? "PCMA" : "PCMU");
	route_to(c, &t);
	return;
fail:
	mem_deref(ans);
	(void)sip_treply(NULL, v->sip, msg, code, reason);
	if (c->a)
		c->a->c = NULL;
	mem_deref(c);
}

bool voice_call_invite(struct voice *v, const struct sip_msg *msg, uint64_t now)
{
	const struct voice_target *t = v->has_rt && v->sock ? voice_number_target(v, &msg->uri.user) : NULL;
	bool trunk = voice_is_trunk(v, &msg->src);
	struct voice_target direct = {0};
	/* (also from a trunk's address: phones may share its public address;
	 * these always need a phone's digest below) */
	if (!t && v->sock && pl_isset(&msg->uri.user) && msg->uri.user.l < sizeof(direct.name)) {
		/* a phone calling a colleague (a username with a binding) or,
		 * with an outbound trunk, an outside number */
		char user[64];
		(void)pl_strcpy(&msg->uri.user, user, sizeof(user));
		if (user_registered(v, user)) {
			direct.kind = VOICE_T_USER;
			snprintf(direct.name, sizeof(direct.name), "%s", user);
		} else if (v->has_out_trunk && strspn(user, "+*#0123456789") == strlen(user)) {
			direct.kind = VOICE_T_NUMBER;
			snprintf(direct.name, sizeof(direct.name), "%s", user);
		}
		if (direct.kind)
			t = &direct;
	}
	if (!t) { /* never forwarded anywhere; the number is not logged */
		voice_reg_fail(v->reg, &msg->src, now);
		(void)sip_reply(v->sip, msg, 403, "Forbidden");
		return true;
	}
	/* Service numbers: a trunk address, or any account's digest (a phone,
	 * or a provider's trunk that authenticates with credentials). A
	 * colleague or an outside number: only a phone calling as itself (the
	 * From user is the account), so caller ids cannot be borrowed. */
	if ((!trunk || direct.kind) &&
	    voice_reg_auth(v->reg, v->sip, msg, direct.kind ? &msg->from.uri.user : NULL))
		return true;
	if (direct.kind) { /* and only a phone that is registered now: an account
			    * made for a provider's inbound trunk never dials out */
		char from[64];
		if (pl_strcpy(&msg->from.uri.user, from, sizeof(from)) || !user_registered(v, from)) {
			LOG_INFO(MOD, "a call out from '%s', which has no registered phone, refused", from);
			(void)sip_reply(v->sip, msg, 403, "Forbidden");
			return true;
		}
	}
	if (v->n_calls >= v->max_calls) {
		LOG_WARN(MOD, "%u calls: the limit; new calls get 503", v->n_calls);
		(void)sip_replyf(v->sip, msg, 503, "Service Unavailable",
				 "Retry-After: 5\r\nContent-Length: 0\r\n\r\n");
		return true;
	}
	unsigned se = 0;
	const struct sip_hdr *h = sip_msg_xhdr(msg, "Session-Expires");
	if (!h)
		h = sip_msg_xhdr(msg, "x");
	struct pl sev;
	if (h && sip_msg_hdr_has_value(msg, SIP_HDR_SUPPORTED, "timer") &&
	    !re_regex(h->val.p, h->val.l, "[0-9]+", &sev)) {
		se = sev.l < 9 ? pl_u32(&sev) : 86400;
		if (se && se < SE_MIN) {
			(void)sip_replyf(v->sip, msg, 422, "Session Interval Too Small",
					 "Min-SE: %u\r\nContent-Length: 0\r\n\r\n", SE_MIN);
			return true;
		}
	}
	v->pending = *t;
	v->pending_se = se;
	return false; /* on to sipsess: on_conn */
}

int voice_call_init(struct voice *v, const struct voice_opts *o)
{
	list_init(&v->calls);
	list_init(&v->rec_wait);
	tmr_init(&v->media);
	v->last_call_id = 0;
	struct rlimit rl;
	v->max_calls = 1000;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 1024)
		v->max_calls = (unsigned)((rl.rlim_cur - 512) / 5); /* 4 fds a bridged call, and room */
	const char *mx = getenv("HOTLINE_VOICE_MAX_CALLS");
	char *end = NULL;
	unsigned long mxv = mx ? strtoul(mx, &end, 10) : 0;
	if (mx && end != mx && !*end && mxv > 0 && mxv < 1000000)
		v->max_calls = (unsigned)mxv;
	if (o && o->routing) {
		v->rt = *o->routing;
		v->has_rt = true;
	}
	if (o && o->numbers_file && !(v->numbers_path = strdup(o->numbers_file)))
		return -ENOMEM;
	if (o && o->trunks_file && !(v->trunks_path = strdup(o->trunks_file)))
		return -ENOMEM;
	if (o && o->menus_file && !(v->menus_path = strdup(o->menus_file)))
		return -ENOMEM;
	if (o && o->data_dir && !(v->data_dir = strdup(o->data_dir)))
		return -ENOMEM;
	if (!v->data_dir && v->numbers_path) { /* the numbers file's directory */
		const char *slash = strrchr(v->numbers_path, '/');
		v->data_dir = slash ? strndup(v->numbers_path, (size_t)(slash - v->numbers_path))
				    : strdup(".");
		if (!v->data_dir)
			return -ENOMEM;
	}
	if (!v->menus_path && v->data_dir && o && o->numbers_file) {
		size_t n = strlen(v->data_dir) + sizeof("/voice_menus");
		if (!(v->menus_path = malloc(n)))
			return -ENOMEM;
		snprintf(v->menus_path, n, "%s/voice_menus", v->data_dir);
	}
	return 0; /* the files' content arrives through voice_watch (voice.c) */
}

int voice_call_listen(struct voice *v)
{
	int err = sipsess_listen(&v->sock, v->sip, 32, on_conn, v);
	if (err)
		return -err;
	char dir[1200];
	if (v->data_dir) {
		snprintf(dir, sizeof(dir), "%s/prompts", v->data_dir);
		int r = voice_prompts_start(&v->prompts, dir, 64u << 20);
		if (r)
			LOG_WARN(MOD, "no prompts or music (%s): callers hear silence", strerror(-r));
		r = voice_relay_start(&v->relay);
		if (r)
			LOG_WARN(MOD, "no RTP relay thread (%s): the core thread relays", strerror(-r));
		snprintf(dir, sizeof(dir), "%s/recordings", v->data_dir);
		r = voice_rec_start(&v->rec, dir);
		if (r)
			LOG_WARN(MOD, "calls cannot be recorded (%s)", strerror(-r));
	}
	return 0;
}

void voice_call_close(struct voice *v)
{
	tmr_cancel(&v->media);
	while (!list_isempty(&v->calls)) {
		struct vcall *c = list_head(&v->calls)->data;
		if (c->task_open && v->has_rt) /* shutting down: the task is left to the restart */
			v->rt.task_detach(v->rt.arg, c->task);
		int64_t now = wall_ms();
		ev(c, "call.ended", ",\"by\":\"system\",\"reason\":\"shutdown\",\"duration_ms\":%lld,\"talk_ms\":%lld",
		   (long long)(now - c->started_ms),
		   (long long)(c->talk_ms + (c->talk_start_ms ? now - c->talk_start_ms : 0)));
		c->task_open = false;
		mem_deref(c); /* its recording is finished by voice_rec_stop, without call.recorded */
	}
	voice_relay_stop(v->relay); /* every call is gone: no pair left */
	v->relay = NULL;
	if (v->sock)
		sipsess_close_all(v->sock);
	v->sock = mem_deref(v->sock);
	voice_rec_stop(v->rec);
	v->rec = NULL;
	list_flush(&v->rec_wait);
	voice_prompts_stop(v->prompts);
	v->prompts = NULL;
	voice_conf_free(v);
	free(v->numbers_path);
	free(v->trunks_path);
	free(v->menus_path);
	free(v->data_dir);
	v->numbers_path = v->trunks_path = v->menus_path = v->data_dir = NULL;
}

/* ---- commands from the API ------------------------------------------------------------------- */

int voice_call_hangup(struct voice *v, int64_t call)
{
	struct vcall *c = v ? call_by_id(v, call) : NULL;
	if (!c)
		return -ENOENT;
	call_end(c, "api", "hung up from the desktop");
	return 0;
}

int voice_call_hold(struct voice *v, int64_t call, bool hold)
{
	struct vcall *c = v ? call_by_id(v, call) : NULL;
	if (!c)
		return -ENOENT;
	if (c->f != F_BRIDGED)
		return -EBUSY;
	if (c->held != hold) {
		relay_off(c);
		c->held = hold;
		ev(c, hold ? "call.held" : "call.resumed", ",\"by\":\"api\"");
		relay_on(c);
	}
	return 0;
}

int voice_call_transfer(struct voice *v, int64_t call, const char *target)
{
	struct vcall *c = v ? call_by_id(v, call) : NULL;
	if (!c)
		return -ENOENT;
	return transfer(c, target ? target : "");
}

int voice_call_dial(struct voice *v, const char *username, uint32_t agent_id, const char *number,
		    int64_t *call)
{
	if (!v || !username || !number || !*number || strlen(number) > 32 ||
	    strspn(number, "+*#0123456789") != strlen(number))
		return -EINVAL;
	if (!user_registered(v, username))
		return -ENODEV;
	if (!v->has_out_trunk)
		return -ENOTSUP;
	if (v->n_calls >= v->max_calls)
		return -EBUSY;
	struct vcall *c = call_new(v);
	if (!c)
		return -ENOMEM;
	c->outbound = true;
	c->f = F_OUT;
	c->agent = agent_id;
	snprintf(c->username, sizeof(c->username), "%s", username);
	snprintf(c->number, sizeof(c->number), "%s", number);
	int err = dial_leg(c, &c->b, username, NULL, number);
	if (err) {
		mem_deref(c);
		return err == ENODEV ? -ENODEV : -err;
	}
	c->ring_due = tmr_jiffies() + RING_TIMEOUT_MS;
	char u[140];
	jesc(u, sizeof(u), username);
	ev(c, "call.started", ",\"direction\":\"outbound\",\"caller\":\"%s\",\"number\":\"%s\"", u, number);
	*call = c->id;
	return 0;
}

int voice_call_agent(struct voice *v, int64_t call, uint32_t *agent)
{
	struct vcall *c = v ? call_by_id(v, call) : NULL;
	if (!c)
		return -ENOENT;
	*agent = c->agent;
	return 0;
}

char *voice_calls_json(struct voice *v)
{
	size_t cap = 64 + (v ? v->n_calls : 0) * 900, n = 0;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	out[n++] = '[';
	for (struct le *le = v ? list_head(&v->calls) : NULL; le; le = le->next) {
		struct vcall *c = le->data;
		char cj[140], nj[140], uj[140];
		jesc(cj, sizeof(cj), c->caller);
		jesc(nj, sizeof(nj), c->number);
		jesc(uj, sizeof(uj), c->username);
		const char *st = c->f == F_BRIDGED && (c->held || (c->b && c->b->held)) ? "held"
				 : c->f == F_QUEUE && c->b ? "ringing"
							    : flow_names[c->f];
		int w = snprintf(out + n, cap - n,
				 "%s{\"call\":%lld,\"task\":%lld,\"direction\":\"%s\",\"state\":\"%s\","
				 "\"caller\":\"%s\",\"number\":\"%s\",\"queue\":%u,\"agent\":%u,"
				 "\"username\":\"%s\",\"started_ms\":%lld,\"answered_ms\":%lld,"
				 "\"recording\":%s}",
				 n > 1 ? "," : "", (long long)c->id, (long long)c->task,
				 c->outbound ? "outbound" : "inbound", st, cj, nj, c->queue, c->agent, uj,
				 (long long)c->started_ms, (long long)c->answered_ms, c->rec ? "true" : "false");
		if (w < 0 || (size_t)w >= cap - n)
			break;
		n += (size_t)w;
	}
	out[n++] = ']';
	out[n] = 0;
	return out;
}
