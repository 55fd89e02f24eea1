/*
 * test_voice.c: the registrar's pure parts (nonces, the digest, accounts)
 * and the registrar itself, fed decoded requests through voice_recv on a
 * SIP stack with no transport (answers go nowhere; the bindings and the
 * throttle are what is checked). The wire behaviour is tested black-box in
 * tests/blackbox/sip.test.mjs.
 */
#include "voice/voice_int.h"
#include "base/base.h"
#include "test.h"

#include <errno.h>

static const uint8_t key[32] = {1, 2, 3};

static struct sa addr(const char *ip, uint16_t port)
{
	struct sa sa;
	sa_set_str(&sa, ip, port);
	return sa;
}

static void test_nonce(void)
{
	struct sa a = addr("192.0.2.1", 5060), a2 = addr("192.0.2.1", 5070), b = addr("192.0.2.2", 5060);
	char n[VOICE_NONCE_LEN + 1];
	voice_nonce_make(key, 1000000, &a, n);
	CHECK_EQ_INT(strlen(n), VOICE_NONCE_LEN);
	struct pl pl;
	pl_set_str(&pl, n);
	CHECK_EQ_INT(voice_nonce_check(key, &pl, 1000000, &a), 0);
	CHECK_EQ_INT(voice_nonce_check(key, &pl, 1000000, &a2), 0); /* same address, other port */
	CHECK_EQ_INT(voice_nonce_check(key, &pl, 1000000 + VOICE_NONCE_TTL_MS, &a), 0);
	CHECK_EQ_INT(voice_nonce_check(key, &pl, 1000001 + VOICE_NONCE_TTL_MS, &a), -ETIMEDOUT);
	CHECK_EQ_INT(voice_nonce_check(key, &pl, 1000000, &b), -EINVAL);
	CHECK_EQ_INT(voice_nonce_check(key, &pl, 998000, &a), -EINVAL); /* from the future */
	uint8_t other[32] = {9};
	CHECK_EQ_INT(voice_nonce_check(other, &pl, 1000000, &a), -EINVAL);
	n[20] = n[20] == 'a' ? 'b' : 'a';
	CHECK_EQ_INT(voice_nonce_check(key, &pl, 1000000, &a), -EINVAL);
	pl.l--;
	CHECK_EQ_INT(voice_nonce_check(key, &pl, 1000000, &a), -EINVAL);
	pl_set_str(&pl, "zz0000000000000000000000000000000000000000000000");
	CHECK_EQ_INT(voice_nonce_check(key, &pl, 1000000, &a), -EINVAL);
}

/* RFC 2617 section 3.5's example. */
static void test_digest(void)
{
	uint8_t ha1[16];
	md5_printf(ha1, "Mufasa:testrealm@host.com:Circle Of Life");
	struct httpauth_digest_resp r;
	struct pl hv, get = PL("GET");
	pl_set_str(&hv, "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", "
			"nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", qop=auth, "
			"nc=00000001, cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\", "
			"opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"");
	REQUIRE(!httpauth_digest_response_decode(&r, &hv));
	CHECK_EQ_INT(voice_digest_check(&r, &get, ha1), 0);
	struct pl post = PL("POST");
	CHECK_EQ_INT(voice_digest_check(&r, &post, ha1), -EACCES);
	ha1[0] ^= 1;
	CHECK_EQ_INT(voice_digest_check(&r, &get, ha1), -EACCES);
	ha1[0] ^= 1;
	struct pl upper = PL("6629FAE49393A05397450978507C4EF1");
	r.response = upper;
	CHECK_EQ_INT(voice_digest_check(&r, &get, ha1), 0);
	r.response.l--;
	CHECK_EQ_INT(voice_digest_check(&r, &get, ha1), -EACCES);
	struct pl intq = PL("auth-int");
	r.response = upper;
	r.qop = intq;
	CHECK_EQ_INT(voice_digest_check(&r, &get, ha1), -EINVAL);
	r.qop.l = 4; /* "auth" without nc */
	r.nc.p = NULL;
	r.nc.l = 0;
	CHECK_EQ_INT(voice_digest_check(&r, &get, ha1), -EINVAL);
	/* RFC 2069 (no qop): MD5(HA1:nonce:HA2) */
	uint8_t ha2[16], want[16];
	md5_printf(ha2, "GET:/dir/index.html");
	md5_printf(want, "%w:dcd98b7102dd2f0e8b11d0f600bfb0c093:%w", ha1, sizeof(ha1), ha2, sizeof(ha2));
	char hex[33];
	re_snprintf(hex, sizeof(hex), "%w", want, sizeof(want));
	memset(&r.qop, 0, sizeof(r.qop));
	pl_set_str(&r.response, hex);
	CHECK_EQ_INT(voice_digest_check(&r, &get, ha1), 0);
}

/* A request through the handler, as if from src over UDP. */
static void feed(struct voice *v, const struct sa *src, const char *text)
{
	struct mbuf *mb = mbuf_alloc(strlen(text));
	mbuf_write_str(mb, text);
	mb->pos = 0;
	struct sip_msg *msg;
	if (!sip_msg_decode(&msg, mb)) {
		msg->src = *src;
		msg->tp = SIP_TRANSP_UDP;
		voice_recv(msg, v);
		mem_deref(msg);
	}
	mem_deref(mb);
}

/* An authenticated REGISTER for user/pass from src. */
static void reg(struct voice *v, const struct sa *src, const char *user, const char *pass,
		unsigned cseq, const char *contact_and_expires)
{
	char nonce[VOICE_NONCE_LEN + 1], resp[33], text[2048];
	voice_reg_nonce(v->reg, src, nonce);
	uint8_t ha1[16], ha2[16], r[16];
	md5_printf(ha1, "%s:hotline:%s", user, pass);
	md5_printf(ha2, "REGISTER:sip:192.0.2.9");
	md5_printf(r, "%w:%s:00000001:cn:auth:%w", ha1, sizeof(ha1), nonce, ha2, sizeof(ha2));
	re_snprintf(resp, sizeof(resp), "%w", r, sizeof(r));
	re_snprintf(text, sizeof(text),
		    "REGISTER sip:192.0.2.9 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK%u\r\n"
		    "From: <sip:%s@x>;tag=1\r\nTo: <sip:%s@x>\r\nCall-ID: call-%s\r\nCSeq: %u REGISTER\r\n"
		    "%s"
		    "Authorization: Digest username=\"%s\", realm=\"hotline\", nonce=\"%s\", "
		    "uri=\"sip:192.0.2.9\", response=\"%s\", qop=auth, nc=00000001, cnonce=\"cn\"\r\n"
		    "Content-Length: 0\r\n\r\n",
		    cseq, user, user, user, cseq, contact_and_expires, user, nonce, resp);
	feed(v, src, text);
}

static bool count_uri(const char *uri, const struct sa *src, enum sip_transp tp, uint64_t expires,
		      void *arg)
{
	(void)src;
	(void)tp;
	(void)expires;
	if (strstr(uri, "@192.0.2.1:5062"))
		(*(int *)arg)++;
	return false;
}

static void test_registrar(void)
{
	struct voice *v;
	uint8_t ha1[16];
	char acc[256];
	md5_printf(ha1, "alice:hotline:pw-alice");
	re_snprintf(acc, sizeof(acc), "# phones\r\nalice:hotline:%w\r\nbob:other:%w\nBAD:hotline:%w\n",
		    ha1, sizeof(ha1), ha1, sizeof(ha1), ha1, sizeof(ha1));
	REQUIRE(!voice_alloc_detached(&v, acc));
	struct sa a = addr("192.0.2.1", 5060), evil = addr("198.51.100.7", 5060);

	reg(v, &a, "alice", "pw-alice", 2,
	    "Contact: <sip:alice@192.0.2.1:5062>, <sip:alice@192.0.2.1:5064>;expires=0\r\nExpires: 120\r\n");
	int n = 0;
	CHECK_EQ_INT(voice_reg_bindings(v->reg, "alice", count_uri, &n), 1);
	CHECK_EQ_INT(n, 1);
	/* replayed (same Call-ID and CSeq): ignored */
	reg(v, &a, "alice", "pw-alice", 2, "Contact: <sip:alice@192.0.2.1:5062>\r\nExpires: 0\r\n");
	CHECK_EQ_INT(voice_reg_bindings(v->reg, "alice", NULL, NULL), 1);
	/* bob's line names another realm, BAD is not a username: no such accounts */
	reg(v, &a, "bob", "pw-alice", 2, "Contact: <sip:bob@192.0.2.1:5062>\r\n");
	CHECK_EQ_INT(voice_reg_bindings(v->reg, "bob", NULL, NULL), 0);
	/* wrong password from another source: blocked after VOICE_FAIL_MAX */
	for (int i = 0; i < VOICE_FAIL_MAX; i++) {
		CHECK(!voice_reg_blocked(v->reg, &evil, tmr_jiffies(), NULL));
		reg(v, &evil, "alice", "guess", 10 + (unsigned)i, "Contact: <sip:alice@198.51.100.7>\r\n");
	}
	uint32_t retry = 0;
	CHECK(voice_reg_blocked(v->reg, &evil, tmr_jiffies(), &retry));
	CHECK(retry > 55 && retry <= 60);
	CHECK(!voice_reg_blocked(v->reg, &a, tmr_jiffies(), NULL)); /* alice's source is fine */
	/* blocked: even the right password does nothing */
	reg(v, &evil, "alice", "pw-alice", 20, "Contact: <sip:alice@198.51.100.7>\r\n");
	CHECK_EQ_INT(voice_reg_bindings(v->reg, "alice", NULL, NULL), 1);
	/* un-register */
	reg(v, &a, "alice", "pw-alice", 3, "Contact: <sip:alice@192.0.2.1:5062>\r\nExpires: 0\r\n");
	CHECK_EQ_INT(voice_reg_bindings(v->reg, "alice", NULL, NULL), 0);
	/* at most VOICE_BINDINGS_MAX per user: the one expiring first makes room */
	for (unsigned i = 0; i < VOICE_BINDINGS_MAX + 3; i++) {
		char c[128];
		re_snprintf(c, sizeof(c), "Contact: <sip:alice@192.0.2.1:%u>\r\nExpires: %u\r\n",
			    6000 + i, 100 + i);
		reg(v, &a, "alice", "pw-alice", 4 + i, c);
	}
	CHECK_EQ_INT(voice_reg_bindings(v->reg, "alice", NULL, NULL), VOICE_BINDINGS_MAX);
	reg(v, &a, "alice", "pw-alice", 40, "Contact: *\r\nExpires: 0\r\n");
	CHECK_EQ_INT(voice_reg_bindings(v->reg, "alice", NULL, NULL), 0);
	mem_deref(v);
}

int main(void)
{
	base_log_set_level(BASE_LOG_ERROR);
	if (libre_init())
		return 1;
	TEST_RUN(test_nonce);
	TEST_RUN(test_digest);
	TEST_RUN(test_registrar);
	libre_close();
	TEST_MAIN_END();
}
