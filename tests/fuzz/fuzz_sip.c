/*
 * fuzz_sip.c: any bytes as a SIP datagram through the voice channel's own
 * handling (src/voice): libre decodes, then voice_recv runs the sanity
 * checks, the dispatch and the registrar (digest, throttling, bindings)
 * exactly as for the network, on a stack with no transport (replies go
 * nowhere). It must never crash, leak or read out of bounds.
 *
 * Reaching past the digest needs a nonce we made and a response computed
 * from it: the literal @NONCE@ in an input is replaced by a valid nonce
 * for the input's source, and a 32-character response starting with
 * @RESP@ by the right answer for the account "alice" (password
 * "alice-pass"), computed here independently of the registrar. So seeds
 * (and the fuzzer's variations of them) reach the bindings code.
 * The source address comes from the input's bytes (65536 sources), so the
 * throttle's table fills and evicts instead of blocking everything.
 */
#include "voice/voice_int.h"
#include "base/base.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct voice *v;
static uint8_t alice_ha1[16];

/* Overwrite a "@RESP@..." response (32 characters) in place with the
 * digest the registrar expects for alice. */
static void fill_response(struct sip_msg *msg)
{
	uint8_t *p = memmem(msg->mb->buf, msg->mb->end, "@RESP@", 6);
	const struct sip_hdr *hdr = sip_msg_hdr(msg, SIP_HDR_AUTHORIZATION);
	struct httpauth_digest_resp r;
	if (!p || !hdr || httpauth_digest_response_decode(&r, &hdr->val) ||
	    r.response.p != (const char *)p || r.response.l != 32)
		return;
	uint8_t ha2[16], want[16];
	md5_printf(ha2, "%r:%r", &msg->met, &r.uri);
	if (pl_isset(&r.qop))
		md5_printf(want, "%w:%r:%r:%r:%r:%w", alice_ha1, sizeof(alice_ha1), &r.nonce, &r.nc,
			   &r.cnonce, &r.qop, ha2, sizeof(ha2));
	else
		md5_printf(want, "%w:%r:%w", alice_ha1, sizeof(alice_ha1), &r.nonce, ha2, sizeof(ha2));
	char hex[33];
	re_snprintf(hex, sizeof(hex), "%w", want, sizeof(want));
	memcpy(p, hex, 32);
}
static const uint8_t key[32]; /* for the pure nonce check on raw bytes */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!v) {
		base_log_set_level(BASE_LOG_ERROR);
		if (libre_init() || voice_alloc_detached(&v, NULL))
			abort();
		/* the real HA1 of alice-pass, computed once */
		char text[128];
		md5_printf(alice_ha1, "alice:" VOICE_REALM ":alice-pass");
		re_snprintf(text, sizeof(text), "alice:" VOICE_REALM ":%w\n# comment\nbad line\n",
			    alice_ha1, sizeof(alice_ha1));
		if (voice_reg_set_accounts(v->reg, text, strlen(text)))
			abort();
	}
	if (size > 65536)
		return 0;
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	struct sa src;
	sa_set_in(&src, 0x7f000000u | (h & 0xffffu), (uint16_t)(1024 + (h >> 16) % 60000));

	/* The pure helpers on raw bytes too. */
	struct pl raw = {(const char *)data, size};
	(void)voice_nonce_check(key, &raw, tmr_jiffies(), &src);

	struct mbuf *mb = mbuf_alloc(size + 64);
	if (!mb)
		return 0;
	const char *mark = "@NONCE@";
	size_t i = 0;
	while (i < size) {
		const uint8_t *m = size - i >= 7 ? memmem(data + i, size - i, mark, 7) : NULL;
		size_t upto = m ? (size_t)(m - data) : size;
		(void)mbuf_write_mem(mb, data + i, upto - i);
		if (!m)
			break;
		char nonce[VOICE_NONCE_LEN + 1];
		voice_reg_nonce(v->reg, &src, nonce);
		(void)mbuf_write_str(mb, nonce);
		i = upto + 7;
	}
	mb->pos = 0;
	struct sip_msg *msg = NULL;
	if (!sip_msg_decode(&msg, mb)) {
		msg->src = src;
		msg->dst = src;
		msg->tp = (h & 1) ? SIP_TRANSP_UDP : SIP_TRANSP_TCP;
		fill_response(msg);
		if (msg->req)
			(void)voice_recv(msg, v);
		mem_deref(msg);
	}
	mem_deref(mb);
	return 0;
}
