/* bench/voice/voice_rtp.c: see voice_rtp.h. */
#include "voice_rtp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x484c5642u /* "HLVB" */
#define PTIME_NS 20000000LL
#define IDLE_NS 1000000000LL  /* a port silent this long: the call ended */
#define STALL_NS 200000000LL  /* more behind than this: skip, do not burst */
#define PAYLOAD 160
#define PKT (12 + PAYLOAD)
#define BATCH 64
#define SBATCH 256
#define SOCKBUF (4 << 20)

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

struct vstream {
	uint8_t on, sock, bridged, judged, tone_any, w_any;
	int64_t last_relay_delay;
	uint32_t srv_ssrc; /* the server leg's SSRC: a new one on the same port is a new call */
	int32_t aidx;
	uint32_t gen, seq, ssrc, rtp_ts;
	uint16_t rtp_seq;
	int64_t next_due, first_rx, last_rx, last_tone_rx, last_relay_rx;
	/* the server's own stream heard on this port (window, by arrival) */
	uint32_t t_ext_first, t_ext_max, t_cycles;
	uint16_t t_last;
	uint64_t t_rx;
	/* this stream's packets as the far side received them (window, by send time) */
	uint32_t w_first, w_max;
	uint64_t w_rx;
};

static struct {
	pthread_t th;
	bool running;
	int stop;
	int tid;
	int fd[2][VR_SOCKS], port[2][VR_SOCKS], ep, tfd;
	struct vstream *s[2]; /* [65536] each */
	uint32_t *act;        /* (side << 16 | port) */
	int nact;
	uint32_t gen;
	/* commands from the main thread */
	int reset_req, reset_wait_ms;
	int64_t win_t0, win_t1, judge_until;
	int win_done, win_armed;
	/* owned by the engine thread */
	int64_t judge_from, bridge_wait_ns, next_sample;
	struct vr_result res;
	struct vr_step step;
	/* send batches */
	struct mmsghdr smsg[VR_SOCKS * 2][SBATCH];
	struct iovec siov[VR_SOCKS * 2][SBATCH];
	struct sockaddr_in sto[VR_SOCKS * 2][SBATCH];
	uint8_t sbuf[VR_SOCKS * 2][SBATCH][PKT];
	int sn[VR_SOCKS * 2];
} E;

int64_t vr_now_real(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void hist_add(struct vr_hist *h, int64_t ns)
{
	int64_t b = ns / (h->unit_ns ? h->unit_ns : 100000);
	if (b < 0)
		b = 0;
	h->n++;
	if (b >= VR_HBINS) {
		h->over++;
		b = VR_HBINS - 1;
	}
	h->bin[b]++;
}

double vr_hist_q(const struct vr_hist *h, double q)
{
	if (!h->n)
		return -1;
	uint64_t want = (uint64_t)((double)(h->n - 1) * q) + 1, acc = 0;
	for (int i = 0; i < VR_HBINS; i++) {
		acc += h->bin[i];
		if (acc >= want)
			return (i + 0.5) * (double)(h->unit_ns ? h->unit_ns : 100000) / 1e6;
	}
	return VR_HBINS * (double)(h->unit_ns ? h->unit_ns : 100000) / 1e6;
}

static bool in_win(int64_t t)
{
	return E.win_armed && t >= LOAD(E.win_t0) && t < LOAD(E.win_t1);
}

/* ---- sending ------------------------------------------------------------------ */

static void flush_sock(int k)
{
	int side = k / VR_SOCKS, i = k % VR_SOCKS;
	int off = 0;
	while (off < E.sn[k]) {
		int r = sendmmsg(E.fd[side][i], E.smsg[k] + off, (unsigned)(E.sn[k] - off), 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			E.res.send_err += (uint64_t)(E.sn[k] - off); /* EAGAIN included: a full buffer */
			break;
		}
		E.res.sent += (uint64_t)r;
		off += r;
		if (r == 0)
			break;
	}
	E.sn[k] = 0;
}

static void queue_packet(int side, uint16_t port, struct vstream *st, int64_t now)
{
	int k = side * VR_SOCKS + st->sock;
	if (E.sn[k] == SBATCH)
		flush_sock(k);
	int j = E.sn[k]++;
	uint8_t *p = E.sbuf[k][j];
	p[0] = 0x80;
	p[1] = 0; /* PCMU */
	p[2] = (uint8_t)(st->rtp_seq >> 8);
	p[3] = (uint8_t)st->rtp_seq;
	uint32_t ts = htonl(st->rtp_ts), ssrc = htonl(st->ssrc);
	memcpy(p + 4, &ts, 4);
	memcpy(p + 8, &ssrc, 4);
	uint8_t *q = p + 12;
	uint32_t magic = htonl(MAGIC), gen = st->gen, seq = st->seq;
	uint16_t sp = port;
	memcpy(q, &magic, 4);
	memcpy(q + 4, &sp, 2);
	q[6] = (uint8_t)side;
	q[7] = 0;
	memcpy(q + 8, &gen, 4);
	memcpy(q + 12, &seq, 4);
	memcpy(q + 16, &now, 8);
	st->rtp_seq++;
	st->rtp_ts += PAYLOAD;
	st->seq++;
	struct sockaddr_in *to = &E.sto[k][j];
	to->sin_family = AF_INET;
	to->sin_port = htons(port);
	to->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

/* ---- streams --------------------------------------------------------------------- */

static void fold(struct vstream *st)
{
	if (st->w_any) {
		E.res.relay_expected += (uint64_t)(st->w_max - st->w_first) + 1;
		E.res.relay_rx += st->w_rx;
	}
	if (st->tone_any && st->t_rx) {
		E.res.tone_expected += (uint64_t)(st->t_ext_max - st->t_ext_first) + 1;
		E.res.tone_rx += st->t_rx;
	}
	st->w_any = 0;
	st->w_rx = 0;
	st->t_rx = 0;
}

/* A bridged call counts (ok) when it was answered in the judged span; one
 * not bridged counts (failed) when it ended unbridged or waited the whole
 * bridge wait inside the span: calls still young at the end are left out. */
static void judge(struct vstream *st, bool ok, bool ended)
{
	if (st->judged)
		return;
	int64_t until = LOAD(E.judge_until);
	if (st->first_rx < E.judge_from || st->first_rx > until)
		return;
	if (!ok && !ended && st->first_rx + E.bridge_wait_ns > until)
		return;
	st->judged = 1;
	E.step.judged++;
	if (!ok)
		E.step.not_bridged++;
}

static void stream_end(int side, uint16_t port)
{
	struct vstream *st = &E.s[side][port];
	if (side == VR_CALLER && !st->judged)
		judge(st, false, true);
	fold(st);
	int i = st->aidx;
	E.act[i] = E.act[--E.nact];
	E.s[E.act[i] >> 16][E.act[i] & 0xffff].aidx = i;
	st->on = 0;
}

static struct vstream *stream_get(int side, uint16_t port, int sock, int64_t now)
{
	struct vstream *st = &E.s[side][port];
	if (st->on)
		return st;
	memset(st, 0, sizeof(*st));
	st->on = 1;
	st->sock = (uint8_t)sock;
	st->gen = ++E.gen;
	st->ssrc = 0x10000000u ^ (E.gen * 2654435761u);
	st->rtp_seq = (uint16_t)(E.gen * 7919u);
	st->rtp_ts = E.gen * 104729u;
	st->first_rx = now;
	st->next_due = now; /* answer at once, then every 20 ms on absolute time */
	st->aidx = E.nact;
	E.act[E.nact++] = (uint32_t)side << 16 | port;
	if (side == VR_CALLER)
		E.step.caller_streams++;
	else
		E.step.agent_streams++;
	return st;
}

/* ---- receiving ------------------------------------------------------------------------ */

static void on_packet(int side, int sock, const uint8_t *p, size_t n, uint16_t sport, int64_t rx)
{
	if (n < 12 || (p[0] >> 6) != 2)
		return;
	uint32_t ssrc;
	memcpy(&ssrc, p + 8, 4);
	struct vstream *st = &E.s[side][sport];
	if (st->on && st->srv_ssrc && st->srv_ssrc != ssrc)
		stream_end(side, sport); /* the port was reused by a new leg */
	st = stream_get(side, sport, sock, rx);
	st->srv_ssrc = ssrc;
	st->last_rx = rx;
	size_t h = 12 + 4u * (p[0] & 0x0f);
	if ((p[0] & 0x10) && n >= h + 4)
		h += 4 + 4u * (((size_t)p[h + 2] << 8) | p[h + 3]);
	uint32_t magic;
	if (n >= h + 24 && (memcpy(&magic, p + h, 4), ntohl(magic) == MAGIC)) {
		const uint8_t *q = p + h;
		uint16_t src_port;
		uint32_t gen, seq;
		int64_t sent;
		memcpy(&src_port, q + 4, 2);
		memcpy(&gen, q + 8, 4);
		memcpy(&seq, q + 12, 4);
		memcpy(&sent, q + 16, 8);
		if (q[6] == VR_PRIMER_SIDE)
			return; /* SIPp's primer: starts the stream, nothing to measure */
		int src_side = q[6] & 1;
		if (in_win(sent)) {
			hist_add(&E.res.delay, rx - sent);
			struct vstream *src = &E.s[src_side][src_port];
			if (src->on && src->gen == gen) {
				if (!src->w_any) {
					src->w_any = 1;
					src->w_first = src->w_max = seq;
				}
				if (seq > src->w_max)
					src->w_max = seq;
				if (seq < src->w_first)
					src->w_first = seq;
				src->w_rx++;
			}
		}
		if (st->last_relay_rx && rx - st->last_relay_rx < IDLE_NS && in_win(rx))
			hist_add(&E.res.relay_iat, PTIME_NS + (rx - sent) - st->last_relay_delay);
		st->last_relay_rx = rx;
		st->last_relay_delay = rx - sent;
		if (side == VR_CALLER && !st->bridged) {
			st->bridged = 1;
			E.step.bridged++;
			hist_add(&E.step.wait, rx - st->first_rx);
			judge(st, rx - st->first_rx <= E.bridge_wait_ns, false);
		}
		return;
	}
	if (side == VR_AGENT) {
		E.res.unmarked_agent++;
		return;
	}
	/* the server's own stream (hold tone) */
	uint16_t sq = (uint16_t)(p[2] << 8 | p[3]);
	if (in_win(rx)) {
		if (st->last_tone_rx && rx - st->last_tone_rx < IDLE_NS)
			hist_add(&E.res.tone_iat, rx - st->last_tone_rx);
		if (!st->tone_any || !st->t_rx) {
			st->tone_any = 1;
			st->t_cycles = 0;
			st->t_ext_first = st->t_ext_max = sq;
		} else {
			if (sq < st->t_last && st->t_last - sq > 30000)
				st->t_cycles += 65536;
			uint32_t ext = st->t_cycles + sq;
			if (ext > st->t_ext_max)
				st->t_ext_max = ext;
		}
		st->t_rx++;
	}
	st->t_last = sq;
	st->last_tone_rx = rx;
}

static void drain(int side, int sock)
{
	static struct mmsghdr m[BATCH];
	static struct iovec iov[BATCH];
	static uint8_t buf[BATCH][1600];
	static struct sockaddr_in from[BATCH];
	static char ctl[BATCH][64];
	for (int rounds = 0; rounds < 64; rounds++) {
		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = buf[i];
			iov[i].iov_len = sizeof(buf[i]);
			memset(&m[i].msg_hdr, 0, sizeof(m[i].msg_hdr));
			m[i].msg_hdr.msg_iov = &iov[i];
			m[i].msg_hdr.msg_iovlen = 1;
			m[i].msg_hdr.msg_name = &from[i];
			m[i].msg_hdr.msg_namelen = sizeof(from[i]);
			m[i].msg_hdr.msg_control = ctl[i];
			m[i].msg_hdr.msg_controllen = sizeof(ctl[i]);
		}
		int r = recvmmsg(E.fd[side][sock], m, BATCH, MSG_DONTWAIT, NULL);
		if (r <= 0)
			return;
		int64_t fallback = vr_now_real();
		for (int i = 0; i < r; i++) {
			int64_t rx = fallback;
			for (struct cmsghdr *c = CMSG_FIRSTHDR(&m[i].msg_hdr); c;
			     c = CMSG_NXTHDR(&m[i].msg_hdr, c))
				if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
					struct timespec ts;
					memcpy(&ts, CMSG_DATA(c), sizeof(ts));
					rx = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
				}
			on_packet(side, sock, buf[i], m[i].msg_len, ntohs(from[i].sin_port), rx);
		}
		if (r < BATCH)
			return;
	}
}

/* ---- the loop ------------------------------------------------------------------------------ */

static void do_reset(void)
{
	while (E.nact)
		stream_end((int)(E.act[E.nact - 1] >> 16), (uint16_t)(E.act[E.nact - 1] & 0xffff));
	memset(&E.step, 0, sizeof(E.step));
	memset(&E.res, 0, sizeof(E.res));
	E.step.wait.unit_ns = 10000000; /* 10 ms bins: up to 200 s */
	E.bridge_wait_ns = (int64_t)LOAD(E.reset_wait_ms) * 1000000LL;
	E.judge_from = vr_now_real();
	E.win_armed = 0;
}

static void tick(int64_t now)
{
	for (int i = 0; i < E.nact; i++) {
		uint32_t a = E.act[i];
		int side = (int)(a >> 16);
		uint16_t port = (uint16_t)(a & 0xffff);
		struct vstream *st = &E.s[side][port];
		if (now - st->last_rx > IDLE_NS) {
			stream_end(side, port);
			i--;
			continue;
		}
		if (side == VR_CALLER && !st->judged && !st->bridged && now - st->first_rx > E.bridge_wait_ns)
			judge(st, false, false);
		if (st->next_due > now)
			continue;
		if (now - st->next_due > STALL_NS)
			st->next_due = now; /* we stalled: no burst */
		if (in_win(now))
			hist_add(&E.res.late, now - st->next_due);
		queue_packet(side, port, st, now);
		st->next_due += PTIME_NS;
	}
	for (int k = 0; k < 2 * VR_SOCKS; k++)
		if (E.sn[k])
			flush_sock(k);
	if (now >= E.next_sample) {
		E.next_sample = now + 100000000LL;
		uint64_t b = 0, callers = 0, agents = 0;
		for (int i = 0; i < E.nact; i++) {
			uint32_t a = E.act[i];
			struct vstream *st = &E.s[a >> 16][a & 0xffff];
			if ((a >> 16) == VR_AGENT) {
				agents++;
				continue;
			}
			callers++;
			if (st->bridged && now - st->last_relay_rx < 500000000LL)
				b++;
		}
		STORE(E.step.bridged_now, b);
		STORE(E.step.callers_now, callers);
		STORE(E.step.agents_now, agents);
		if (in_win(now)) {
			if (!E.res.samples || b < E.res.bridged_min)
				E.res.bridged_min = b;
			if (b > E.res.bridged_max)
				E.res.bridged_max = b;
			E.res.samples++;
			E.res.bridged_sum += b;
		}
	}
	if (E.win_armed && !LOAD(E.win_done) && now > LOAD(E.win_t1) + 500000000LL) {
		for (int i = 0; i < E.nact; i++)
			fold(&E.s[E.act[i] >> 16][E.act[i] & 0xffff]);
		E.win_armed = 0;
		STORE(E.win_done, 1);
	}
}

static void *loop(void *arg)
{
	(void)arg;
	E.tid = (int)syscall(SYS_gettid);
	struct epoll_event ev[16];
	while (!LOAD(E.stop)) {
		if (LOAD(E.reset_req)) {
			do_reset();
			STORE(E.reset_req, 0);
		}
		if (LOAD(E.win_t1) && !E.win_armed && !LOAD(E.win_done))
			E.win_armed = 1;
		int n = epoll_wait(E.ep, ev, 16, 100);
		for (int i = 0; i < n; i++) {
			uint32_t u = ev[i].data.u32;
			if (u == 0xffffffffu) {
				uint64_t x;
				if (read(E.tfd, &x, sizeof(x)) < 0) {
					/* nothing: the tick runs below anyway */
				}
				continue;
			}
			drain((int)(u >> 8), (int)(u & 0xff));
		}
		tick(vr_now_real());
	}
	return NULL;
}

int vr_start(void)
{
	memset(&E.fd, -1, sizeof(E.fd));
	E.s[0] = calloc(65536, sizeof(struct vstream));
	E.s[1] = calloc(65536, sizeof(struct vstream));
	E.act = calloc(2 * 65536, sizeof(uint32_t));
	if (!E.s[0] || !E.s[1] || !E.act)
		return -1;
	E.ep = epoll_create1(EPOLL_CLOEXEC);
	if (E.ep < 0)
		return -1;
	for (int side = 0; side < 2; side++)
		for (int k = 0; k < VR_SOCKS; k++) {
			int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
			if (fd < 0)
				return -1;
			int sz = SOCKBUF, one = 1;
			if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) != 0)
				setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
			if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) != 0)
				setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
			setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
			struct sockaddr_in a = {.sin_family = AF_INET,
						.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
			socklen_t al = sizeof(a);
			if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
			    getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
				close(fd);
				return -1;
			}
			E.fd[side][k] = fd;
			E.port[side][k] = ntohs(a.sin_port);
			struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)(side << 8 | k)};
			epoll_ctl(E.ep, EPOLL_CTL_ADD, fd, &ev);
			for (int j = 0; j < SBATCH; j++) {
				int q = side * VR_SOCKS + k;
				E.siov[q][j].iov_base = E.sbuf[q][j];
				E.siov[q][j].iov_len = PKT;
				memset(E.sbuf[q][j] + 12, 0xff, PAYLOAD);
				E.smsg[q][j].msg_hdr.msg_iov = &E.siov[q][j];
				E.smsg[q][j].msg_hdr.msg_iovlen = 1;
				E.smsg[q][j].msg_hdr.msg_name = &E.sto[q][j];
				E.smsg[q][j].msg_hdr.msg_namelen = sizeof(E.sto[q][j]);
			}
		}
	E.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (E.tfd < 0)
		return -1;
	struct itimerspec its = {.it_interval = {0, 1000000}, .it_value = {0, 1000000}};
	timerfd_settime(E.tfd, 0, &its, NULL);
	struct epoll_event tev = {.events = EPOLLIN, .data.u32 = 0xffffffffu};
	epoll_ctl(E.ep, EPOLL_CTL_ADD, E.tfd, &tev);
	E.judge_until = INT64_MAX;
	if (pthread_create(&E.th, NULL, loop, NULL) != 0)
		return -1;
	E.running = true;
	return 0;
}

void vr_stop(void)
{
	if (!E.running)
		return;
	STORE(E.stop, 1);
	pthread_join(E.th, NULL);
	E.running = false;
}

int vr_port(int side, int k)
{
	return E.port[side][k];
}

static void wait_flag(int *flag)
{
	for (int i = 0; i < 2000 && LOAD(*flag); i++) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

void vr_reset(int bridge_wait_ms)
{
	STORE(E.win_t1, 0);
	STORE(E.win_done, 0);
	STORE(E.judge_until, INT64_MAX);
	STORE(E.reset_wait_ms, bridge_wait_ms);
	STORE(E.reset_req, 1);
	wait_flag(&E.reset_req);
}

void vr_window(int64_t t0, int64_t t1)
{
	STORE(E.win_done, 0);
	STORE(E.win_t0, t0);
	STORE(E.win_t1, t1);
}

bool vr_window_done(void)
{
	return LOAD(E.win_done) != 0;
}

const struct vr_result *vr_result(void)
{
	return &E.res;
}

void vr_step_get(struct vr_step *out)
{
	*out = E.step;
	out->bridged_now = LOAD(E.step.bridged_now);
	out->callers_now = LOAD(E.step.callers_now);
	out->agents_now = LOAD(E.step.agents_now);
}

void vr_judge_until_now(void)
{
	STORE(E.judge_until, vr_now_real());
}

uint64_t vr_kernel_drops(void)
{
	FILE *f = fopen("/proc/net/udp", "r");
	if (!f)
		return 0;
	char line[512];
	uint64_t total = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned lport = 0;
		unsigned long long drops = 0;
		char *colon = strchr(line, ':');
		if (!colon || sscanf(colon + 1, "%*x:%x", &lport) != 1)
			continue;
		/* the last field is drops */
		char *last = strrchr(line, ' ');
		while (last && last > line && (last[1] == '\n' || last[1] == 0)) {
			*last = 0;
			last = strrchr(line, ' ');
		}
		if (!last || sscanf(last + 1, "%llu", &drops) != 1)
			continue;
		for (int side = 0; side < 2; side++)
			for (int k = 0; k < VR_SOCKS; k++)
				if ((int)lport == E.port[side][k])
					total += drops;
	}
	fclose(f);
	return total;
}

int vr_tid(void)
{
	return E.tid;
}
