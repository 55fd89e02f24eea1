/*
 * voice.c: the SIP stack of the voice channel (core thread, libre).
 *
 * Transports: UDP and TCP on opts->port and, when a certificate file is
 * there, TLS on opts->port + 1 (as 5060/5061), on the bind address or, for
 * "all addresses", on every interface address (libre's transports need a
 * concrete address). Requests to a phone reuse the flow its REGISTER came
 * over (voice_reg.c keeps it), which is what makes TCP and TLS phones
 * reachable at all: a phone has no server certificate to connect to.
 *
 * Every request that is not part of a transaction libre already holds comes
 * to voice_recv, which first checks what libre's parser lets through and
 * our own handling relies on (answering 400 for a truncated body, a CSeq
 * method that is not the request's, no Call-ID; 413 for a body above
 * VOICE_BODY_MAX), refuses sources blocked for failed attempts (503 with
 * Retry-After; OPTIONS still answered, so monitoring keeps working), then
 * dispatches by method:
 *   OPTIONS   200 (monitoring pings, phones' keep-alives)
 *   REGISTER  the registrar (voice_reg.c)
 *   INVITE    to a service number from a registered phone (digest) or a
 *             trunk: a call (voice_call.c, through libre's sipsess); to any
 *             other number 403, and nothing is ever forwarded (counted as a
 *             failed attempt: toll-fraud scanners get blocked)
 *   ACK, BYE, CANCEL, in-dialog requests: libre's sipsess (481 without a
 *             dialog)
 *   others    501 with Allow
 * Bytes libre cannot parse as SIP are dropped by libre.
 */
#include "voice/voice_int.h"
#include "base/base.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MOD "voice"
#define ALLOW "Allow: OPTIONS, REGISTER, INVITE, ACK, BYE, CANCEL\r\n"

static bool is(const struct sip_msg *msg, const char *met)
{
	return !pl_strcmp(&msg->met, met);
}

/* The request's framing and key headers are usable. Answers (or, for ACK,
 * silently drops) and returns false when not. */
static bool request_sane(struct voice *v, const struct sip_msg *msg, bool ack)
{
	size_t body = mbuf_get_left(msg->mb);
	uint16_t code = 0;
	const char *reason = NULL;
	if (pl_isset(&msg->clen) && (msg->clen.l > 10 || pl_u32(&msg->clen) > body)) {
		code = 400; /* a datagram shorter than it says: truncated */
		reason = "Bad Content-Length";
	} else if (body > VOICE_BODY_MAX) {
		code = 413;
		reason = "Request Entity Too Large";
	} else if (!pl_isset(&msg->callid) || pl_cmp(&msg->cseq.met, &msg->met) ||
		   !pl_isset(&msg->from.auri) || !pl_isset(&msg->to.auri)) {
		code = 400;
		reason = "Bad Request";
	} else if (pl_isset(&msg->maxfwd) && pl_u32(&msg->maxfwd) == 0 && !is(msg, "OPTIONS")) {
		code = 483;
		reason = "Too Many Hops";
	}
	if (!code)
		return true;
	if (!ack)
		(void)sip_reply(v->sip, msg, code, reason);
	return false;
}

bool voice_recv(const struct sip_msg *msg, void *arg)
{
	struct voice *v = arg;
	bool ack = is(msg, "ACK");
	if (!request_sane(v, msg, ack))
		return true;
	if (ack)
		return !v->sock; /* sipsess's: the ACK of a 200 */
	uint64_t now = tmr_jiffies();
	uint32_t retry = 0;
	if (!is(msg, "OPTIONS") && voice_reg_blocked(v->reg, &msg->src, now, &retry)) {
		(void)sip_replyf(v->sip, msg, 503, "Service Unavailable",
				 "Retry-After: %u\r\nContent-Length: 0\r\n\r\n", retry);
		return true;
	}
	if (is(msg, "OPTIONS"))
		(void)sip_replyf(v->sip, msg, 200, "OK",
				 ALLOW "Accept: application/sdp\r\nContent-Length: 0\r\n\r\n");
	else if (is(msg, "REGISTER"))
		voice_reg_register(v->reg, v->sip, msg);
	else if (is(msg, "INVITE") && !pl_isset(&msg->to.tag))
		return voice_call_invite(v, msg, now);
	else if (v->sock && (is(msg, "INVITE") || is(msg, "BYE") || is(msg, "CANCEL") ||
			     is(msg, "INFO") || is(msg, "REFER") || is(msg, "NOTIFY")))
		return false; /* sipsess: dialogs (481 when there is none) */
	else if (is(msg, "BYE") || is(msg, "CANCEL") || is(msg, "INVITE"))
		(void)sip_reply(v->sip, msg, 481, "Call/Transaction Does Not Exist");
	else
		(void)sip_replyf(v->sip, msg, 501, "Not Implemented",
				 ALLOW "Content-Length: 0\r\n\r\n");
	return true;
}

/* ---- transports ------------------------------------------------------------ */

static int add_transports(struct voice *v, const struct sa *addr, uint16_t port)
{
	struct sa laddr = *addr;
	sa_set_port(&laddr, port);
	int r = sip_transp_add(v->sip, SIP_TRANSP_UDP, &laddr);
	if (!r)
		r = sip_transp_add(v->sip, SIP_TRANSP_TCP, &laddr);
	if (!r)
		v->transports += 2;
	if (!r && v->tls && port < 65535) {
		sa_set_port(&laddr, port + 1);
		r = sip_transp_add(v->sip, SIP_TRANSP_TLS, &laddr, v->tls);
		if (!r)
			v->transports++;
	}
	return r;
}

struct ifs {
	struct voice *v;
	uint16_t port;
	int added, err;
};

static bool add_if(const char *ifname, const struct sa *sa, void *arg)
{
	struct ifs *ifs = arg;
	(void)ifname;
	if (sa_is_linklocal(sa))
		return false;
	int r = add_transports(ifs->v, sa, ifs->port);
	if (r)
		ifs->err = r;
	else
		ifs->added++;
	return false;
}

static void voice_destructor(void *arg)
{
	struct voice *v = arg;
	v->watch = mem_deref(v->watch); /* its handler uses v: stop it first */
	voice_call_close(v);
	v->lsnr = mem_deref(v->lsnr);
	if (v->sip)
		sip_close(v->sip, true);
	v->sip = mem_deref(v->sip);
	v->reg = mem_deref(v->reg);
	v->tls = mem_deref(v->tls);
}

enum { WATCH_ACCOUNTS, WATCH_NUMBERS, WATCH_TRUNKS, WATCH_MENUS };

/* Core thread: a configuration file's new content (voice_watch.c). */
static void on_config_file(unsigned idx, const char *text, size_t len, void *arg)
{
	struct voice *v = arg;
	switch (v->watch_kind[idx]) {
	case WATCH_ACCOUNTS:
		if (!voice_reg_set_accounts(v->reg, text, len))
			LOG_INFO(MOD, "%u phone account(s)%s", voice_reg_n_accounts(v->reg),
				 text ? "" : " (the accounts file is gone or unreadable)");
		break;
	case WATCH_NUMBERS:
		voice_call_set_numbers(v, text);
		break;
	case WATCH_TRUNKS:
		voice_call_set_trunks(v, text);
		break;
	case WATCH_MENUS:
		voice_call_set_menus(v, text);
		break;
	}
}

/* Watch the files o names (accounts, numbers, trunks, menus). */
static int watch_files(struct voice *v, const struct voice_opts *o)
{
	struct voice_watch_file files[VOICE_WATCH_MAX];
	unsigned n = 0;
	if (o->accounts_file) {
		v->watch_kind[n] = WATCH_ACCOUNTS;
		files[n++] = (struct voice_watch_file){o->accounts_file, true};
	}
	if (o->numbers_file) {
		v->watch_kind[n] = WATCH_NUMBERS;
		files[n++] = (struct voice_watch_file){o->numbers_file, false};
	}
	if (o->trunks_file) {
		v->watch_kind[n] = WATCH_TRUNKS;
		files[n++] = (struct voice_watch_file){o->trunks_file, true}; /* may hold a password */
	}
	if (v->menus_path) {
		v->watch_kind[n] = WATCH_MENUS;
		files[n++] = (struct voice_watch_file){v->menus_path, false};
	}
	return n ? voice_watch_start(&v->watch, files, n, on_config_file, v) : 0;
}

static int voice_alloc(struct voice **vp, const struct voice_opts *o)
{
	struct voice *v = mem_zalloc(sizeof(*v), voice_destructor);
	if (!v)
		return -ENOMEM;
	int r = sip_alloc(&v->sip, NULL, 32, 32, 32, "Hotline " HL_VERSION, NULL, NULL);
	if (r) {
		mem_deref(v);
		return -r;
	}
	r = voice_reg_alloc(&v->reg);
	if (!r)
		r = voice_call_init(v, o);
	if (!r && o)
		r = watch_files(v, o);
	if (r) {
		mem_deref(v);
		return r;
	}
	*vp = v;
	return 0;
}

int voice_alloc_detached(struct voice **vp, const char *accounts_text)
{
	struct voice *v = NULL;
	int r = voice_alloc(&v, NULL);
	if (!r && accounts_text)
		r = voice_reg_set_accounts(v->reg, accounts_text, strlen(accounts_text));
	if (r) {
		mem_deref(v);
		return r;
	}
	*vp = v;
	return 0;
}

int voice_start(struct voice **vp, const struct voice_opts *o)
{
	if (!o || o->port <= 0 || o->port > 65535)
		return -EINVAL;
	struct voice *v;
	int r = voice_alloc(&v, o);
	if (r) {
		LOG_ERROR(MOD, "could not start SIP: %s", strerror(-r));
		return r;
	}
	if (o->tls_file && !access(o->tls_file, F_OK) &&
	    (r = tls_alloc(&v->tls, TLS_METHOD_SSLV23, o->tls_file, NULL))) {
		LOG_ERROR(MOD, "could not load the SIP TLS certificate and key from %s: %s",
			  o->tls_file, strerror(r));
		mem_deref(v);
		return -r;
	}
	uint16_t port = (uint16_t)o->port;
	bool any = !o->bind || !*o->bind || !strcmp(o->bind, "0.0.0.0") || !strcmp(o->bind, "::");
	if (!any) {
		struct sa addr;
		r = sa_set_str(&addr, o->bind, port);
		if (!r)
			r = add_transports(v, &addr, port);
	} else {
		struct ifs ifs = {.v = v, .port = port};
		net_getifaddrs(add_if, &ifs);
		r = ifs.added ? 0 : (ifs.err ? ifs.err : ENODEV);
	}
	if (!r)
		r = sip_listen(&v->lsnr, v->sip, true, voice_recv, v);
	if (!r && (r = -voice_call_listen(v)) < 0)
		r = -r;
	if (r) {
		LOG_ERROR(MOD, "could not listen for SIP on port %d: %s", o->port, strerror(r));
		mem_deref(v);
		return -r;
	}
	LOG_INFO(MOD, "SIP (UDP, TCP%s) on port %d%s, %u transport(s); phone accounts from %s",
		 v->tls ? ", TLS" : "", o->port, v->tls ? " (TLS on the next)" : "", v->transports,
		 o->accounts_file ? o->accounts_file : "(none)");
	*vp = v;
	return 0;
}

void voice_stop(struct voice *v)
{
	mem_deref(v);
}
