/*
 * voice_relay.c: the RTP relay thread ("hl-rtp"). docs/VOICE.md "Media".
 *
 * A bridged call's packets do not need the core thread: once both legs are
 * up (and the call is neither recorded nor held), the call hands its two
 * RTP sockets over: voice_call.c detaches them from libre's loop and this
 * thread forwards each packet from one leg's socket to the other leg's far
 * end, with recvmmsg and sendmmsg in batches. Marker and payload go as they
 * came; the header becomes the leg's own stream: our SSRC, and sequence
 * numbers and timestamps that continue the music the phone heard before
 * (the far phone's, moved by a fixed offset). A jitter buffer that saw our
 * music would otherwise take the other phone's numbers, when lower, for
 * late packets and drop them all (baresip does), and a new SSRC alone does
 * not reset every one. voice_relay_remove hands the numbers back, so the
 * core thread's music after a hold continues them too. So call set-up, prompts and the media tick on the
 * core thread never delay talking calls, and the relay gets a core of its
 * own on a two-core machine (bench/voice: the core thread topped out near
 * 600 relayed calls).
 *
 * Each leg's far end is the address in its SDP. When its first packet comes
 * from another IP address, that source is taken instead (symmetric RTP: a
 * phone behind NAT puts its private address in the SDP and sends from the
 * NAT's public one); from the SDP's own address, the SDP's port stays (some
 * peers send from one port and listen on another). Only the first packet
 * decides, so a stranger's packets cannot steal an established stream.
 *
 * Locking: one mutex guards the slot table. The thread holds it while it
 * handles one epoll batch; voice_relay_add/remove take it, so after
 * voice_relay_remove returns the thread will not touch those sockets
 * again (the caller may give them back to libre). Those waits are short
 * (one batch), never I/O of the caller's.
 */
#include "voice/voice_media.h"
#include "base/base.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#define MOD "voice"
#define BATCH 32
#define PKT_MAX 1500

struct side {
	int fd;
	/* what this leg's socket sends: our SSRC and the sequence and
	 * timestamp it continues (from the core thread's music before) */
	uint32_t ssrc;
	uint16_t seq;     /* the next sequence number */
	uint32_t ts;      /* about the next timestamp */
	bool mapped;      /* offsets for the incoming stream are set */
	uint32_t in_ssrc; /* the far phone's stream the offsets are for */
	uint16_t seq_off;
	uint32_t ts_off;
	struct sockaddr_storage far; /* where the other side's packets go to this leg's phone */
	socklen_t far_len;
	bool latched;
};

struct slot {
	uint32_t gen;
	bool used;
	struct side s[2];
	uint64_t packets;
};

struct voice_relay {
	pthread_t thread;
	pthread_mutex_t mu;
	int ep, wake;
	bool stop;
	struct slot *slots;
	unsigned n_slots, used;
	uint64_t packets, dropped;
};

/* Whether two socket addresses name the same IP address (ports aside). */
static bool same_host(const struct sockaddr_storage *x, const struct sockaddr_storage *y)
{
	if (x->ss_family != y->ss_family)
		return false;
	if (x->ss_family == AF_INET)
		return ((const struct sockaddr_in *)x)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)y)->sin_addr.s_addr;
	if (x->ss_family == AF_INET6)
		return !memcmp(&((const struct sockaddr_in6 *)x)->sin6_addr,
			       &((const struct sockaddr_in6 *)y)->sin6_addr, 16);
	return false;
}

static uint64_t key(unsigned idx, unsigned side, uint32_t gen)
{
	return (uint64_t)gen << 32 | (uint64_t)idx << 1 | side;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr32(uint8_t *p, uint32_t x)
{
	p[0] = (uint8_t)(x >> 24);
	p[1] = (uint8_t)(x >> 16);
	p[2] = (uint8_t)(x >> 8);
	p[3] = (uint8_t)x;
}

/* The header of a packet leaving through side b: our SSRC, and the far
 * phone's sequence and timestamp moved by fixed offsets so that they
 * continue where b's stream stood (a new incoming SSRC sets new offsets). */
static void rewrite(struct side *b, uint8_t *h)
{
	uint32_t in_ssrc = rd32(h + 8), in_ts = rd32(h + 4);
	uint16_t in_seq = (uint16_t)(h[2] << 8 | h[3]);
	if (!b->mapped || in_ssrc != b->in_ssrc) {
		b->seq_off = (uint16_t)(b->seq - in_seq);
		b->ts_off = b->ts - in_ts;
		b->in_ssrc = in_ssrc;
		b->mapped = true;
	}
	uint16_t seq = (uint16_t)(in_seq + b->seq_off);
	uint32_t ts = in_ts + b->ts_off;
	h[2] = (uint8_t)(seq >> 8);
	h[3] = (uint8_t)seq;
	wr32(h + 4, ts);
	wr32(h + 8, b->ssrc);
	if ((uint16_t)(seq + 1 - b->seq) < 0x8000) { /* newer than what went out */
		b->seq = (uint16_t)(seq + 1);
		b->ts = ts + 160;
	}
}

/* Forward what is waiting on slot idx's side `from` to the other side. */
static void pump(struct voice_relay *r, struct slot *sl, unsigned from)
{
	static __thread uint8_t bufs[BATCH][PKT_MAX];
	struct mmsghdr in[BATCH], out[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_storage src[BATCH];
	struct side *a = &sl->s[from], *b = &sl->s[!from];
	for (int round = 0; round < 8; round++) { /* bounded: other calls wait */
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){bufs[i], PKT_MAX};
			in[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &src[i], .msg_namelen = sizeof(src[i]),
							 .msg_iov = &iov[i], .msg_iovlen = 1}};
		}
		int n = recvmmsg(a->fd, in, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return;
		int k = 0;
		for (int i = 0; i < n; i++) {
			size_t len = in[i].msg_len;
			/* RTP version 2, not RTCP (payload types 200-204 with the M bit) */
			if (len < 12 || (bufs[i][0] >> 6) != 2 || (bufs[i][1] >= 200 && bufs[i][1] <= 204)) {
				r->dropped++;
				continue;
			}
			if (!a->latched) { /* symmetric RTP behind NAT: see the top */
				if (!same_host(&a->far, &src[i])) {
					memcpy(&a->far, &src[i], in[i].msg_hdr.msg_namelen);
					a->far_len = in[i].msg_hdr.msg_namelen;
				}
				a->latched = true;
			}
			rewrite(b, bufs[i]);
			iov[i].iov_len = len;
			out[k++] = (struct mmsghdr){.msg_hdr = {.msg_name = &b->far, .msg_namelen = b->far_len,
								 .msg_iov = &iov[i], .msg_iovlen = 1}};
		}
		if (k && b->far_len) {
			int sent = sendmmsg(b->fd, out, (unsigned)k, MSG_DONTWAIT);
			if (sent < k)
				r->dropped += (uint64_t)(k - (sent > 0 ? sent : 0));
			sl->packets += (uint64_t)(sent > 0 ? sent : 0);
			r->packets += (uint64_t)(sent > 0 ? sent : 0);
		}
		if (n < BATCH)
			return;
	}
}

static void *relay_main(void *arg)
{
	struct voice_relay *r = arg;
	pthread_setname_np(pthread_self(), "hl-rtp");
	struct epoll_event evs[256];
	for (;;) {
		int n = epoll_wait(r->ep, evs, 256, -1);
		if (n < 0 && errno != EINTR)
			break;
		pthread_mutex_lock(&r->mu);
		if (r->stop) {
			pthread_mutex_unlock(&r->mu);
			break;
		}
		for (int i = 0; i < n; i++) {
			uint64_t k = evs[i].data.u64;
			if (k == UINT64_MAX) { /* the wake-up eventfd */
				uint64_t x;
				ssize_t rd = read(r->wake, &x, sizeof(x));
				(void)rd;
				continue;
			}
			unsigned idx = (unsigned)(k & 0xffffffffu) >> 1, side = k & 1;
			if (idx >= r->n_slots || !r->slots[idx].used || r->slots[idx].gen != (uint32_t)(k >> 32))
				continue; /* removed while this batch was in flight */
			pump(r, &r->slots[idx], side);
		}
		pthread_mutex_unlock(&r->mu);
	}
	return NULL;
}

int voice_relay_start(struct voice_relay **rp)
{
	struct voice_relay *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->mu, NULL);
	r->ep = epoll_create1(EPOLL_CLOEXEC);
	r->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct epoll_event e = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
	int err = 0;
	if (r->ep < 0 || r->wake < 0 || epoll_ctl(r->ep, EPOLL_CTL_ADD, r->wake, &e))
		err = -errno;
	if (!err && (err = -pthread_create(&r->thread, NULL, relay_main, r)) == 0) {
		*rp = r;
		return 0;
	}
	if (r->ep >= 0)
		close(r->ep);
	if (r->wake >= 0)
		close(r->wake);
	pthread_mutex_destroy(&r->mu);
	free(r);
	return err ? err : -EIO;
}

void voice_relay_stop(struct voice_relay *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_mutex_unlock(&r->mu);
	uint64_t one = 1;
	ssize_t w = write(r->wake, &one, sizeof(one));
	(void)w;
	pthread_join(r->thread, NULL);
	LOG_INFO(MOD, "RTP relay: %llu packet(s) relayed, %llu dropped", (unsigned long long)r->packets,
		 (unsigned long long)r->dropped);
	close(r->ep);
	close(r->wake);
	pthread_mutex_destroy(&r->mu);
	free(r->slots);
	free(r);
}

int voice_relay_add(struct voice_relay *r, int fd_a, const struct sockaddr *far_a, socklen_t la,
		    const struct voice_rtp_out *out_a, int fd_b, const struct sockaddr *far_b,
		    socklen_t lb, const struct voice_rtp_out *out_b)
{
	if (!r || fd_a < 0 || fd_b < 0 || la > sizeof(struct sockaddr_storage) ||
	    lb > sizeof(struct sockaddr_storage))
		return -EINVAL;
	pthread_mutex_lock(&r->mu);
	unsigned idx = 0;
	while (idx < r->n_slots && r->slots[idx].used)
		idx++;
	if (idx == r->n_slots) {
		unsigned n = r->n_slots ? r->n_slots * 2 : 256;
		struct slot *s = realloc(r->slots, n * sizeof(*s));
		if (!s) {
			pthread_mutex_unlock(&r->mu);
			return -ENOMEM;
		}
		memset(s + r->n_slots, 0, (n - r->n_slots) * sizeof(*s));
		r->slots = s;
		r->n_slots = n;
	}
	struct slot *sl = &r->slots[idx];
	uint32_t gen = sl->gen + 1;
	memset(sl, 0, sizeof(*sl));
	sl->gen = gen;
	sl->s[0].fd = fd_a;
	sl->s[1].fd = fd_b;
	sl->s[0].ssrc = out_a->ssrc;
	sl->s[0].seq = out_a->seq;
	sl->s[0].ts = out_a->ts;
	sl->s[1].ssrc = out_b->ssrc;
	sl->s[1].seq = out_b->seq;
	sl->s[1].ts = out_b->ts;
	memcpy(&sl->s[0].far, far_a, la);
	sl->s[0].far_len = la;
	memcpy(&sl->s[1].far, far_b, lb);
	sl->s[1].far_len = lb;
	struct epoll_event e0 = {.events = EPOLLIN, .data.u64 = key(idx, 0, gen)};
	struct epoll_event e1 = {.events = EPOLLIN, .data.u64 = key(idx, 1, gen)};
	int err = 0;
	if (epoll_ctl(r->ep, EPOLL_CTL_ADD, fd_a, &e0))
		err = -errno;
	else if (epoll_ctl(r->ep, EPOLL_CTL_ADD, fd_b, &e1)) {
		err = -errno;
		(void)epoll_ctl(r->ep, EPOLL_CTL_DEL, fd_a, NULL);
	}
	if (!err) {
		sl->used = true;
		r->used++;
	}
	pthread_mutex_unlock(&r->mu);
	return err ? err : (int)idx + 1;
}

void voice_relay_remove(struct voice_relay *r, int id, struct voice_rtp_out *out_a,
			struct voice_rtp_out *out_b)
{
	if (!r || id <= 0)
		return;
	pthread_mutex_lock(&r->mu);
	unsigned idx = (unsigned)id - 1;
	if (idx < r->n_slots && r->slots[idx].used) {
		struct slot *sl = &r->slots[idx];
		struct voice_rtp_out *o[2] = {out_a, out_b};
		for (int k = 0; k < 2; k++)
			if (o[k]) {
				o[k]->seq = sl->s[k].seq;
				o[k]->ts = sl->s[k].ts;
			}
		(void)epoll_ctl(r->ep, EPOLL_CTL_DEL, sl->s[0].fd, NULL);
		(void)epoll_ctl(r->ep, EPOLL_CTL_DEL, sl->s[1].fd, NULL);
		sl->used = false;
		sl->gen++;
		r->used--;
	}
	pthread_mutex_unlock(&r->mu);
}

unsigned voice_relay_count(struct voice_relay *r)
{
	if (!r)
		return 0;
	pthread_mutex_lock(&r->mu);
	unsigned n = r->used;
	pthread_mutex_unlock(&r->mu);
	return n;
}
