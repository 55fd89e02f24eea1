/*
 * test_relay.c: the RTP relay thread (voice_relay.c) with real UDP sockets
 * on 127.0.0.1 and 127.0.0.2: two "phones" and the server's two leg
 * sockets. RTP from one phone reaches the other as the sending leg's own
 * stream (its SSRC; sequence and timestamp continuing the leg's numbering,
 * moved by a fixed offset; payload unchanged), both ways, and
 * voice_relay_remove tells where each stream stands; RTCP and non-RTP are dropped;
 * a first packet from another IP address than the SDP's is answered there
 * (NAT), one from the SDP's own address keeps the SDP's port; after
 * voice_relay_remove nothing is forwarded.
 */
#include "voice/voice_media.h"
#include "base/base.h"
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

static int udp(const char *ip, struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	inet_pton(AF_INET, ip, &a.sin_addr);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)))
		return -1;
	socklen_t l = sizeof(*addr);
	getsockname(fd, (struct sockaddr *)addr, &l);
	return fd;
}

/* One RTP packet: pt 0, seq, timestamp seq * 160, ssrc, 160 payload bytes
 * of fill. */
static size_t rtp(uint8_t *p, uint16_t seq, uint32_t ssrc, uint8_t fill)
{
	p[0] = 0x80;
	p[1] = 0;
	p[2] = (uint8_t)(seq >> 8);
	p[3] = (uint8_t)seq;
	uint32_t ts = htonl((uint32_t)seq * 160);
	memcpy(p + 4, &ts, 4);
	uint32_t s = htonl(ssrc);
	memcpy(p + 8, &s, 4);
	memset(p + 12, fill, 160);
	return 172;
}

/* Receive one datagram within ms; its length or -1. */
static ssize_t recv_wait(int fd, uint8_t *buf, size_t size, int ms, struct sockaddr_in *from)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	if (poll(&pfd, 1, ms) != 1)
		return -1;
	socklen_t l = sizeof(*from);
	return recvfrom(fd, buf, size, 0, (struct sockaddr *)from, &l);
}

static void test_relay(void)
{
	struct sockaddr_in pa, pb, sa, sb, nat, from;
	int phone_a = udp("127.0.0.1", &pa), phone_b = udp("127.0.0.1", &pb);
	int srv_a = udp("127.0.0.1", &sa), srv_b = udp("127.0.0.1", &sb);
	int natted = udp("127.0.0.2", &nat); /* phone b's "public" address */
	REQUIRE(phone_a >= 0 && phone_b >= 0 && srv_a >= 0 && srv_b >= 0 && natted >= 0);
	struct voice_relay *r = NULL;
	REQUIRE(voice_relay_start(&r) == 0);
	struct voice_rtp_out oa = {0x1111, 500, 9000}, ob = {0x2222, 65535, 50000};
	int id = voice_relay_add(r, srv_a, (struct sockaddr *)&pa, sizeof(pa), &oa, srv_b,
				 (struct sockaddr *)&pb, sizeof(pb), &ob);
	REQUIRE(id > 0);
	CHECK_EQ_INT(voice_relay_count(r), 1);
	uint8_t out[200], in[2000];

	/* a -> b: the SSRC becomes leg b's, the rest is as sent */
	size_t n = rtp(out, 7, 0xabcdef, 0x55);
	CHECK(sendto(phone_a, out, n, 0, (struct sockaddr *)&sa, sizeof(sa)) == (ssize_t)n);
	ssize_t got = recv_wait(phone_b, in, sizeof(in), 2000, &from);
	CHECK_EQ_INT(got, (ssize_t)n);
	CHECK(from.sin_port == sb.sin_port); /* from the server's b socket */
	uint32_t ssrc, ts;
	memcpy(&ssrc, in + 8, 4);
	memcpy(&ts, in + 4, 4);
	CHECK_EQ_INT(ntohl(ssrc), 0x2222);
	CHECK_EQ_INT(in[2] << 8 | in[3], 65535); /* leg b's next number */
	CHECK_EQ_INT(ntohl(ts), 50000);
	CHECK(!memcmp(in, out, 2) && !memcmp(in + 12, out + 12, n - 12));
	/* the next one follows: sequence wraps, the timestamp moves by 160 */
	n = rtp(out, 8, 0xabcdef, 0x56);
	CHECK(sendto(phone_a, out, n, 0, (struct sockaddr *)&sa, sizeof(sa)) == (ssize_t)n);
	CHECK_EQ_INT(recv_wait(phone_b, in, sizeof(in), 2000, &from), (ssize_t)n);
	memcpy(&ts, in + 4, 4);
	CHECK_EQ_INT(in[2] << 8 | in[3], 0);
	CHECK_EQ_INT(ntohl(ts), 50160);

	/* RTCP and garbage are not relayed */
	uint8_t rtcp[8] = {0x80, 200, 0, 1, 0, 0, 0, 1};
	CHECK(sendto(phone_a, rtcp, sizeof(rtcp), 0, (struct sockaddr *)&sa, sizeof(sa)) == 8);
	CHECK(sendto(phone_a, "hello", 5, 0, (struct sockaddr *)&sa, sizeof(sa)) == 5);
	CHECK(recv_wait(phone_b, in, sizeof(in), 300, &from) < 0);

	/* b's first packet comes from another IP (NAT): a's packets go there */
	n = rtp(out, 9, 0x123456, 0x66);
	CHECK(sendto(natted, out, n, 0, (struct sockaddr *)&sb, sizeof(sb)) == (ssize_t)n);
	got = recv_wait(phone_a, in, sizeof(in), 2000, &from);
	CHECK_EQ_INT(got, (ssize_t)n);
	memcpy(&ssrc, in + 8, 4);
	CHECK_EQ_INT(ntohl(ssrc), 0x1111);
	n = rtp(out, 8, 0xabcdef, 0x77);
	CHECK(sendto(phone_a, out, n, 0, (struct sockaddr *)&sa, sizeof(sa)) == (ssize_t)n);
	CHECK_EQ_INT(recv_wait(natted, in, sizeof(in), 2000, &from), (ssize_t)n);
	CHECK(recv_wait(phone_b, in, sizeof(in), 200, &from) < 0);

	/* removed: nothing more, and the sockets are the caller's again */
	struct voice_rtp_out ra = {0}, rb = {0};
	voice_relay_remove(r, id, &ra, &rb);
	CHECK_EQ_INT(voice_relay_count(r), 0);
	CHECK_EQ_INT(rb.seq, 1); /* after 65535 and 0 */
	CHECK_EQ_INT(ra.seq, 501); /* one packet went to a */
	CHECK(sendto(phone_a, out, n, 0, (struct sockaddr *)&sa, sizeof(sa)) == (ssize_t)n);
	CHECK(recv_wait(natted, in, sizeof(in), 300, &from) < 0);
	CHECK_EQ_INT(recv_wait(srv_a, in, sizeof(in), 500, &from), (ssize_t)n);
	voice_relay_remove(r, id, NULL, NULL); /* twice: harmless */
	CHECK(voice_relay_add(r, -1, (struct sockaddr *)&pa, sizeof(pa), &oa, srv_b, (struct sockaddr *)&pb,
			      sizeof(pb), &ob) == -EINVAL);
	voice_relay_stop(r);
	voice_relay_stop(NULL);
	close(phone_a);
	close(phone_b);
	close(srv_a);
	close(srv_b);
	close(natted);
}

int main(void)
{
	base_log_set_level(BASE_LOG_ERROR);
	TEST_RUN(test_relay);
	TEST_MAIN_END();
}
