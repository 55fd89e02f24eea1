/*
 * voice_reg.c: the registrar for agent phones (core thread).
 *
 * Authentication is RFC 2617 digest with MD5 in realm "hotline" against an
 * HA1 per account (never the password itself). Nonces are stateless: the
 * time they were made plus an HMAC-SHA256 (per-process random key) over
 * that time and the source address, so a nonce is good only from the
 * address it was given to and only for VOICE_NONCE_TTL_MS; an expired one
 * of ours is answered with stale=true, anyone else's with a fresh
 * challenge. The password is checked only against a valid nonce, so
 * nothing about it leaks through challenges.
 *
 * A wrong password and an unknown user get the same answer (403) after the
 * same work, so neither REGISTER nor its answers enumerate accounts.
 * Failures are counted per source address: VOICE_FAIL_MAX within
 * VOICE_FAIL_WINDOW_MS block the address for VOICE_BLOCK_MS (voice.c then
 * answers 503 with Retry-After). The table of sources is bounded (least
 * recently seen dropped).
 *
 * Bindings (address of record = the To user = the digest username):
 * contact URI, expiry, Call-ID/CSeq (an older or replayed CSeq in the same
 * Call-ID is refused, RFC 3261 10.3 step 7), and the flow: the source
 * address and transport of the REGISTER, so that requests to the phone go
 * back where it registered from (NAT, TCP). One sweep timer drops expired
 * bindings and idle sources.
 *
 * Accounts come from an htdigest file (voice.h), re-read when it changes.
 */
#include "voice/voice_int.h"
#include "base/base.h"

#include <sodium.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define MOD "voice"
#define SWEEP_MS 5000
#define ACCOUNTS_MAX_BYTES (4 * 1024 * 1024)
#define USER_MAX 64
#define USER_CHARS "abcdefghijklmnopqrstuvwxyz0123456789._-"

struct account {
	struct le he;
	char user[USER_MAX + 1];
	uint8_t ha1[16];
};

struct aor {
	struct le he;
	char user[USER_MAX + 1];
	struct list bindings;
	unsigned n;
};

struct binding {
	struct le le;
	struct aor *aor;
	char *uri;
	char *callid;
	uint32_t cseq;
	struct sa src;
	enum sip_transp tp;
	uint64_t expires; /* tmr_jiffies ms */
};

struct source {
	struct le he;
	struct le lru;
	struct sa addr;
	uint32_t fails;
	uint64_t window_start, blocked_until, seen;
};

struct voice_reg {
	uint8_t key[32];
	uint8_t dummy_ha1[16]; /* checked against for unknown users */
	struct hash *accounts;
	unsigned n_accounts;
	struct hash *aors;
	struct hash *sources;
	struct list lru;
	unsigned n_sources;
	struct tmr sweep;
};

/* ---- pure helpers --------------------------------------------------------- */

/* "ip:port" (or only the address) for logs: base_log is printf, not
 * libre's re_printf. */
static const char *addr_fmt(const struct sa *sa, char buf[64], bool port)
{
	if (re_snprintf(buf, 64, port ? "%J" : "%j", sa) < 0)
		snprintf(buf, 64, "?");
	return buf;
}
#define addr_str(sa, buf) addr_fmt(sa, buf, true)

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* n bytes from 2n hex characters; -EINVAL on a non-hex character. */
static int unhex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int h = hexval(s[2 * i]), l = hexval(s[2 * i + 1]);
		if (h < 0 || l < 0)
			return -EINVAL;
		out[i] = (uint8_t)(h << 4 | l);
	}
	return 0;
}

static void nonce_mac(const uint8_t key[32], uint64_t t, const struct sa *src, uint8_t mac[32])
{
	uint8_t m[8 + 64];
	for (int i = 0; i < 8; i++)
		m[i] = (uint8_t)(t >> (56 - 8 * i));
	char ip[64];
	int n = re_snprintf(ip, sizeof(ip), "%j", src);
	if (n < 0)
		n = 0;
	memcpy(m + 8, ip, (size_t)n);
	crypto_auth_hmacsha256(mac, m, 8 + (size_t)n, key);
}

void voice_nonce_make(const uint8_t key[32], uint64_t now_ms, const struct sa *src, char *out)
{
	uint8_t mac[32];
	nonce_mac(key, now_ms, src, mac);
	(void)re_snprintf(out, VOICE_NONCE_LEN + 1, "%016llx%w", (unsigned long long)now_ms, mac,
			  (size_t)16);
}

int voice_nonce_check(const uint8_t key[32], const struct pl *nonce, uint64_t now_ms,
		      const struct sa *src)
{
	if (!nonce || nonce->l != VOICE_NONCE_LEN)
		return -EINVAL;
	uint8_t tb[8], got[16], mac[32];
	if (unhex(nonce->p, tb, 8) || unhex(nonce->p + 16, got, 16))
		return -EINVAL;
	uint64_t t = 0;
	for (int i = 0; i < 8; i++)
		t = t << 8 | tb[i];
	nonce_mac(key, t, src, mac);
	if (sodium_memcmp(mac, got, 16))
		return -EINVAL;
	if (t > now_ms + 1000)
		return -EINVAL; /* from the future: not one we made */
	if (now_ms - t > VOICE_NONCE_TTL_MS)
		return -ETIMEDOUT;
	return 0;
}

int voice_digest_check(const struct httpauth_digest_resp *resp, const struct pl *method,
		       const uint8_t ha1[16])
{
	uint8_t ha2[16], want[16], got[16];
	if (!pl_isset(&resp->response) || !pl_isset(&resp->nonce) || !pl_isset(&resp->uri))
		return -EINVAL;
	if (md5_printf(ha2, "%r:%r", method, &resp->uri))
		return -EINVAL;
	int r;
	if (pl_isset(&resp->qop)) {
		if (pl_strcasecmp(&resp->qop, "auth") || !pl_isset(&resp->nc) ||
		    !pl_isset(&resp->cnonce))
			return -EINVAL;
		r = md5_printf(want, "%w:%r:%r:%r:%r:%w", ha1, (size_t)16, &resp->nonce, &resp->nc,
			       &resp->cnonce, &resp->qop, ha2, sizeof(ha2));
	} else {
		r = md5_printf(want, "%w:%r:%w", ha1, (size_t)16, &resp->nonce, ha2, sizeof(ha2));
	}
	if (r)
		return -EINVAL;
	if (resp->response.l != 32 || unhex(resp->response.p, got, 16))
		return -EACCES;
	return sodium_memcmp(want, got, 16) ? -EACCES : 0;
}

/* ---- accounts --------------------------------------------------------------- */

static bool user_ok(const char *p, size_t l)
{
	if (!l || l > USER_MAX)
		return false;
	for (size_t i = 0; i < l; i++)
		if (!p[i] || !strchr(USER_CHARS, p[i]))
			return false;
	return true;
}

static bool account_cmp(struct le *le, void *arg)
{
	const struct account *a = le->data;
	return !pl_strcmp(arg, a->user);
}

static struct account *account_find(struct voice_reg *r, const struct pl *user)
{
	struct le *le = hash_lookup(r->accounts, hash_joaat_pl(user), account_cmp, (void *)user);
	return le ? le->data : NULL;
}

static bool account_free(struct le *le, void *arg)
{
	(void)arg;
	hash_unlink(le);
	free(le->data);
	return false;
}

static void accounts_clear(struct voice_reg *r)
{
	hash_apply(r->accounts, account_free, NULL);
	r->n_accounts = 0;
}

int voice_reg_set_accounts(struct voice_reg *r, const char *text, size_t len)
{
	accounts_clear(r);
	if (!text)
		return 0;
	size_t i = 0;
	unsigned skipped = 0;
	while (i < len) {
		size_t e = i;
		while (e < len && text[e] != '\n')
			e++;
		size_t l = e - i;
		const char *s = text + i;
		if (l && s[l - 1] == '\r')
			l--;
		i = e + 1;
		if (!l || s[0] == '#')
			continue;
		/* user:realm:ha1 */
		const char *c1 = memchr(s, ':', l);
		const char *c2 = c1 ? memchr(c1 + 1, ':', l - (size_t)(c1 + 1 - s)) : NULL;
		size_t ul = c1 ? (size_t)(c1 - s) : 0;
		uint8_t ha1[16];
		if (!c2 || !user_ok(s, ul) || (size_t)(c2 - c1 - 1) != strlen(VOICE_REALM) ||
		    memcmp(c1 + 1, VOICE_REALM, strlen(VOICE_REALM)) || (size_t)(s + l - c2 - 1) != 32 ||
		    unhex(c2 + 1, ha1, 16)) {
			skipped++;
			continue;
		}
		struct pl u = {s, ul};
		struct account *a = account_find(r, &u);
		if (!a) {
			a = calloc(1, sizeof(*a));
			if (!a)
				return -ENOMEM;
			memcpy(a->user, s, ul);
			hash_append(r->accounts, hash_joaat_pl(&u), &a->he, a);
			r->n_accounts++;
		}
		memcpy(a->ha1, ha1, 16);
	}
	if (skipped)
		LOG_WARN(MOD, "accounts: %u line(s) skipped (expected user:" VOICE_REALM ":32 hex digits)",
			 skipped);
	return 0;
}

/* ---- sources (throttling) ---------------------------------------------------- */

static bool source_cmp(struct le *le, void *arg)
{
	const struct source *s = le->data;
	return sa_cmp(&s->addr, arg, SA_ADDR);
}

static void source_drop(struct voice_reg *r, struct source *s)
{
	hash_unlink(&s->he);
	list_unlink(&s->lru);
	free(s);
	r->n_sources--;
}

static struct source *source_get(struct voice_reg *r, const struct sa *src, uint64_t now,
				 bool create)
{
	struct le *le = hash_lookup(r->sources, sa_hash(src, SA_ADDR), source_cmp, (void *)src);
	struct source *s = le ? le->data : NULL;
	if (!s && create) {
		if (r->n_sources >= VOICE_THROTTLE_MAX)
			source_drop(r, list_head(&r->lru)->data);
		s = calloc(1, sizeof(*s));
		if (!s)
			return NULL;
		sa_cpy(&s->addr, src);
		s->window_start = now;
		hash_append(r->sources, sa_hash(src, SA_ADDR), &s->he, s);
		r->n_sources++;
	}
	if (s) {
		s->seen = now;
		list_unlink(&s->lru);
		list_append(&r->lru, &s->lru, s);
	}
	return s;
}

bool voice_reg_blocked(struct voice_reg *r, const struct sa *src, uint64_t now, uint32_t *retry_s)
{
	struct le *le = hash_lookup(r->sources, sa_hash(src, SA_ADDR), source_cmp, (void *)src);
	struct source *s = le ? le->data : NULL;
	if (!s || s->blocked_until <= now)
		return false;
	if (retry_s)
		*retry_s = (uint32_t)((s->blocked_until - now + 999) / 1000);
	return true;
}

void voice_reg_fail(struct voice_reg *r, const struct sa *src, uint64_t now)
{
	struct source *s = source_get(r, src, now, true);
	if (!s)
		return;
	if (now - s->window_start > VOICE_FAIL_WINDOW_MS) {
		s->window_start = now;
		s->fails = 0;
	}
	if (++s->fails >= VOICE_FAIL_MAX) {
		s->blocked_until = now + VOICE_BLOCK_MS;
		s->fails = 0;
		s->window_start = now;
		char a[64];
		LOG_WARN(MOD, "%s: %d failed attempts; blocked for %d s", addr_fmt(src, a, false),
			 VOICE_FAIL_MAX, VOICE_BLOCK_MS / 1000);
	}
}

static void source_ok(struct voice_reg *r, const struct sa *src, uint64_t now)
{
	struct le *le = hash_lookup(r->sources, sa_hash(src, SA_ADDR), source_cmp, (void *)src);
	if (le) {
		struct source *s = le->data;
		s->fails = 0;
		s->window_start = now;
	}
}

/* ---- bindings ------------------------------------------------------------------ */

static bool aor_cmp(struct le *le, void *arg)
{
	const struct aor *a = le->data;
	return !pl_strcmp(arg, a->user);
}

static struct aor *aor_find(struct voice_reg *r, const struct pl *user)
{
	struct le *le = hash_lookup(r->aors, hash_joaat_pl(user), aor_cmp, (void *)user);
	return le ? le->data : NULL;
}

static void binding_free(struct binding *b)
{
	struct aor *a = b->aor;
	list_unlink(&b->le);
	a->n--;
	mem_deref(b->uri);
	mem_deref(b->callid);
	free(b);
	if (!a->n) {
		hash_unlink(&a->he);
		free(a);
	}
}

static bool sweep_aor(struct le *le, void *arg)
{
	struct aor *a = le->data;
	uint64_t now = *(uint64_t *)arg;
	struct le *b = list_head(&a->bindings);
	while (b) {
		struct binding *x = b->data;
		b = b->next;
		if (x->expires <= now) {
			LOG_INFO(MOD, "binding of %s expired: %s", a->user, x->uri);
			binding_free(x); /* may free a: the loop ends with b NULL */
		}
	}
	return false;
}

static void on_sweep(void *arg)
{
	struct voice_reg *r = arg;
	uint64_t now = tmr_jiffies();
	hash_apply(r->aors, sweep_aor, &now);
	struct le *le = list_head(&r->lru);
	while (le) {
		struct source *s = le->data;
		le = le->next;
		if (s->blocked_until <= now && now - s->seen > VOICE_FAIL_WINDOW_MS)
			source_drop(r, s);
	}
	tmr_start(&r->sweep, SWEEP_MS, on_sweep, r);
}

unsigned voice_reg_bindings(struct voice_reg *r, const char *user, voice_binding_h *h, void *arg)
{
	struct pl u;
	pl_set_str(&u, user);
	struct aor *a = aor_find(r, &u);
	unsigned n = 0;
	uint64_t now = tmr_jiffies();
	for (struct le *le = a ? list_head(&a->bindings) : NULL; le; le = le->next) {
		struct binding *b = le->data;
		if (b->expires <= now)
			continue;
		n++;
		if (h && h(b->uri, &b->src, b->tp, b->expires, arg))
			break;
	}
	return n;
}

/* ---- REGISTER -------------------------------------------------------------------- */

static void challenge(struct voice_reg *r, struct sip *sip, const struct sip_msg *msg,
		      uint64_t now, bool stale)
{
	char nonce[VOICE_NONCE_LEN + 1];
	voice_nonce_make(r->key, now, &msg->src, nonce);
	(void)sip_replyf(sip, msg, 401, "Unauthorized",
			 "WWW-Authenticate: Digest realm=\"" VOICE_REALM "\", nonce=\"%s\", "
			 "algorithm=MD5, qop=\"auth\"%s\r\nContent-Length: 0\r\n\r\n",
			 nonce, stale ? ", stale=true" : "");
}

void voice_reg_nonce(struct voice_reg *r, const struct sa *src, char *out)
{
	voice_nonce_make(r->key, tmr_jiffies(), src, out);
}

/* The first Authorization for our realm; others (and ones libre cannot
 * decode) are skipped: no usable credentials means a challenge. */
struct find_auth {
	struct httpauth_digest_resp resp;
	bool found;
};

static bool auth_hdr(const struct sip_hdr *hdr, const struct sip_msg *msg, void *arg)
{
	(void)msg;
	struct find_auth *f = arg;
	struct httpauth_digest_resp resp;
	if (httpauth_digest_response_decode(&resp, &hdr->val) || pl_strcmp(&resp.realm, VOICE_REALM))
		return false;
	f->resp = resp;
	f->found = true;
	return true;
}

/* One Contact of the request, validated. */
struct contact {
	struct pl uri;
	uint32_t expires;
};

struct contacts {
	struct contact c[VOICE_BINDINGS_MAX];
	unsigned n;
	bool star, bad, too_many;
	uint32_t def_expires;
};

static bool contact_hdr(const struct sip_hdr *hdr, const struct sip_msg *msg, void *arg)
{
	(void)msg;
	struct contacts *cs = arg;
	struct pl v = hdr->val;
	while (v.l && (v.p[0] == ' ' || v.p[0] == '\t')) {
		v.p++;
		v.l--;
	}
	while (v.l && (v.p[v.l - 1] == ' ' || v.p[v.l - 1] == '\t'))
		v.l--;
	if (v.l == 1 && v.p[0] == '*') {
		cs->star = true;
		return false;
	}
	struct sip_addr addr;
	if (sip_addr_decode(&addr, &v) || !addr.auri.l || addr.auri.l > VOICE_URI_MAX ||
	    addr.auri.l < 4 || strncasecmp(addr.auri.p, "sip", 3)) {
		cs->bad = true;
		return true;
	}
	if (cs->n == VOICE_BINDINGS_MAX) {
		cs->too_many = true;
		return true;
	}
	struct pl e;
	uint32_t exp = cs->def_expires;
	if (!msg_param_decode(&addr.params, "expires", &e)) {
		if (!e.l || e.l > 10) {
			cs->bad = true;
			return true;
		}
		exp = pl_u32(&e);
	}
	for (unsigned i = 0; i < cs->n; i++)
		if (!pl_cmp(&cs->c[i].uri, &addr.auri)) { /* the same contact twice: last wins */
			cs->c[i].expires = exp;
			return false;
		}
	cs->c[cs->n].uri = addr.auri;
	cs->c[cs->n].expires = exp;
	cs->n++;
	return false;
}

static struct binding *binding_find(struct aor *a, const struct pl *uri)
{
	for (struct le *le = a ? list_head(&a->bindings) : NULL; le; le = le->next) {
		struct binding *b = le->data;
		if (!pl_strcmp(uri, b->uri))
			return b;
	}
	return NULL;
}

static void reply_ok(struct voice_reg *r, struct sip *sip, const struct sip_msg *msg,
		     const struct pl *user, uint64_t now)
{
	struct mbuf *mb = mbuf_alloc(256);
	struct aor *a = aor_find(r, user);
	for (struct le *le = a && mb ? list_head(&a->bindings) : NULL; le; le = le->next) {
		struct binding *b = le->data;
		if (b->expires > now)
			(void)mbuf_printf(mb, "Contact: <%s>;expires=%llu\r\n", b->uri,
					  (unsigned long long)((b->expires - now + 999) / 1000));
	}
	(void)sip_replyf(sip, msg, 200, "OK", "%bContent-Length: 0\r\n\r\n",
			 mb ? (const char *)mb->buf : "", mb ? mb->end : (size_t)0);
	mem_deref(mb);
}

/* Apply the validated contacts. Returns 0, or a SIP status to answer. */
static int bind_contacts(struct voice_reg *r, const struct sip_msg *msg, const struct pl *user,
			 const struct contacts *cs, uint64_t now)
{
	struct aor *a = aor_find(r, user);
	/* RFC 3261 10.3 step 7: the same Call-ID with a CSeq not above the
	 * binding's is out of order (or replayed): refuse the whole request. */
	for (unsigned i = 0; i < cs->n; i++) {
		struct binding *b = binding_find(a, &cs->c[i].uri);
		if (b && !pl_strcmp(&msg->callid, b->callid) && msg->cseq.num <= b->cseq)
			return 400;
	}
	for (unsigned i = 0; i < cs->n; i++) {
		const struct contact *c = &cs->c[i];
		struct binding *b = binding_find(a, &c->uri);
		if (!c->expires) {
			if (b) {
				LOG_INFO(MOD, "%s unregistered %s", a->user, b->uri);
				binding_free(b);
				a = aor_find(r, user);
			}
			continue;
		}
		if (!a) {
			a = calloc(1, sizeof(*a));
			if (!a)
				return 500;
			memcpy(a->user, user->p, user->l);
			hash_append(r->aors, hash_joaat_pl(user), &a->he, a);
		}
		if (!b) {
			if (a->n >= VOICE_BINDINGS_MAX) { /* make room: drop the one expiring first */
				struct binding *old = NULL;
				for (struct le *le = list_head(&a->bindings); le; le = le->next) {
					struct binding *x = le->data;
					if (!old || x->expires < old->expires)
						old = x;
				}
				list_unlink(&old->le);
				a->n--;
				mem_deref(old->uri);
				mem_deref(old->callid);
				free(old);
			}
			b = calloc(1, sizeof(*b));
			if (!b || pl_strdup(&b->uri, &c->uri)) {
				free(b);
				return 500;
			}
			b->aor = a;
			list_append(&a->bindings, &b->le, b);
			a->n++;
			char as[64];
			LOG_INFO(MOD, "%s registered %s from %s (%s)", a->user, b->uri,
				 addr_str(&msg->src, as), sip_transp_name(msg->tp));
		}
		b->callid = mem_deref(b->callid);
		if (pl_strdup(&b->callid, &msg->callid))
			return 500;
		b->cseq = msg->cseq.num;
		b->src = msg->src;
		b->tp = msg->tp;
		uint32_t e = c->expires > VOICE_EXPIRES_MAX ? VOICE_EXPIRES_MAX : c->expires;
		b->expires = now + (uint64_t)e * 1000;
	}
	return 0;
}

static void remove_all(struct voice_reg *r, const struct pl *user)
{
	struct aor *a = aor_find(r, user);
	if (!a)
		return;
	LOG_INFO(MOD, "%s unregistered every contact", a->user);
	while (a && a->n) {
		unsigned n = a->n;
		binding_free(list_head(&a->bindings)->data);
		if (n == 1)
			a = NULL; /* freed with its last binding */
	}
}

int voice_reg_auth(struct voice_reg *r, struct sip *sip, const struct sip_msg *msg,
		   const struct pl *user)
{
	uint64_t now = tmr_jiffies();
	struct find_auth fa = {0};
	(void)sip_msg_hdr_apply(msg, true, SIP_HDR_AUTHORIZATION, auth_hdr, &fa);
	if (!fa.found) {
		challenge(r, sip, msg, now, false);
		return 1;
	}
	int nr = voice_nonce_check(r->key, &fa.resp.nonce, now, &msg->src);
	if (nr) {
		challenge(r, sip, msg, now, nr == -ETIMEDOUT);
		return 1;
	}
	if (pl_cmp(&fa.resp.uri, &msg->ruri)) {
		(void)sip_reply(sip, msg, 400, "Digest URI Mismatch");
		return 1;
	}
	/* From here on a wrong answer is a failed attempt; the same work is
	 * done for unknown users as for known ones. */
	if (!user) /* any account: the digest names it */
		user = &fa.resp.username;
	struct account *acc = pl_cmp(&fa.resp.username, user) ? NULL : account_find(r, user);
	int ok = voice_digest_check(&fa.resp, &msg->met, acc ? acc->ha1 : r->dummy_ha1);
	if (ok || !acc) {
		voice_reg_fail(r, &msg->src, now);
		char as[64];
		LOG_INFO(MOD, "%.*s for '%.*s' from %s refused: %s", (int)msg->met.l, msg->met.p,
			 (int)user->l, user->p, addr_str(&msg->src, as),
			 ok == -EINVAL ? "malformed digest" : "wrong credentials");
		(void)sip_reply(sip, msg, 403, "Forbidden");
		return 1;
	}
	source_ok(r, &msg->src, now);
	return 0;
}

void voice_reg_register(struct voice_reg *r, struct sip *sip, const struct sip_msg *msg)
{
	uint64_t now = tmr_jiffies();
	const struct pl *user = &msg->to.uri.user;
	if (!user->l || user->l > USER_MAX) {
		(void)sip_reply(sip, msg, 400, "Bad To User");
		return;
	}
	if (voice_reg_auth(r, sip, msg, user))
		return;

	uint32_t def = VOICE_EXPIRES_DEFAULT;
	if (pl_isset(&msg->expires)) {
		if (!msg->expires.l || msg->expires.l > 10) {
			(void)sip_reply(sip, msg, 400, "Bad Expires");
			return;
		}
		def = pl_u32(&msg->expires);
	}
	struct contacts cs = {.def_expires = def};
	(void)sip_msg_hdr_apply(msg, true, SIP_HDR_CONTACT, contact_hdr, &cs);
	if (cs.bad || (cs.star && (cs.n || !pl_isset(&msg->expires) || def != 0))) {
		(void)sip_reply(sip, msg, 400, "Bad Contact");
		return;
	}
	if (cs.too_many) {
		(void)sip_reply(sip, msg, 403, "Too Many Contacts");
		return;
	}
	if (cs.star) {
		remove_all(r, user);
		reply_ok(r, sip, msg, user, now);
		return;
	}
	for (unsigned i = 0; i < cs.n; i++)
		if (cs.c[i].expires && cs.c[i].expires < VOICE_EXPIRES_MIN) {
			(void)sip_replyf(sip, msg, 423, "Interval Too Brief",
					 "Min-Expires: %d\r\nContent-Length: 0\r\n\r\n",
					 VOICE_EXPIRES_MIN);
			return;
		}
	int st = bind_contacts(r, msg, user, &cs, now);
	if (st) {
		(void)sip_reply(sip, msg, (uint16_t)st, st == 400 ? "Out Of Order" : "Server Error");
		return;
	}
	reply_ok(r, sip, msg, user, now);
}

/* ---- life ------------------------------------------------------------------------ */

static bool aor_free(struct le *le, void *arg)
{
	(void)arg;
	struct aor *a = le->data;
	while (a->n > 1)
		binding_free(list_head(&a->bindings)->data);
	binding_free(list_head(&a->bindings)->data); /* frees a */
	return false;
}

static void reg_destructor(void *arg)
{
	struct voice_reg *r = arg;
	tmr_cancel(&r->sweep);
	if (r->aors)
		hash_apply(r->aors, aor_free, NULL);
	if (r->accounts)
		accounts_clear(r);
	while (!list_isempty(&r->lru))
		source_drop(r, list_head(&r->lru)->data);
	mem_deref(r->aors);
	mem_deref(r->accounts);
	mem_deref(r->sources);
	sodium_memzero(r->key, sizeof(r->key));
}

unsigned voice_reg_n_accounts(const struct voice_reg *r)
{
	return r->n_accounts;
}

int voice_reg_alloc(struct voice_reg **rp)
{
	if (sodium_init() < 0)
		return -EIO;
	struct voice_reg *r = mem_zalloc(sizeof(*r), reg_destructor);
	if (!r)
		return -ENOMEM;
	list_init(&r->lru);
	tmr_init(&r->sweep);
	randombytes_buf(r->key, sizeof(r->key));
	randombytes_buf(r->dummy_ha1, sizeof(r->dummy_ha1));
	if (hash_alloc(&r->accounts, 256) || hash_alloc(&r->aors, 256) ||
	    hash_alloc(&r->sources, 256)) {
		mem_deref(r);
		return -ENOMEM;
	}
	tmr_start(&r->sweep, SWEEP_MS, on_sweep, r);
	*rp = r;
	return 0;
}
