/*
 * bench/voice/voice_rtp.h: the bench's own RTP endpoints (one thread):
 * the callers' and the agents' audio, and what they hear.
 *
 * SIPp places and answers the calls (SIP, and the short RFC 4733 DTMF by
 * pcap play), but the SDP it sends names these sockets as the media
 * address, so every RTP packet the server sends lands here. A few sockets
 * per side serve every call: the server tells the legs apart by its own
 * ports, and so does this engine. A packet from a server port not seen
 * before starts a stream: from then on the engine sends one PCMU packet
 * (160 bytes) every 20 ms, on absolute time from the first packet heard,
 * back to that port, until the port has been silent for a second (the
 * call ended). On the callers' side the first packets are the server's
 * own hold tone; the agents' side first hears the relayed caller.
 *
 * Every packet sent carries, in its payload, a mark, its stream, its
 * sequence number and its send time (CLOCK_REALTIME ns). The server relays
 * payloads untouched (new SSRC, sequence and timestamps of its own), so
 * the far side reads back exactly which packet it got and when it was
 * sent: RELAY DELAY = kernel receive timestamp (SO_TIMESTAMPNS: when the
 * server's send reached our socket; on loopback that is inside the
 * server's sendto) - send time; LOSS = gaps in each stream's sequence
 * numbers as received, between the first and the last packet the far
 * side got (the server drops a caller's audio until the call is bridged:
 * that is not loss). Unmarked packets are the server's own stream (hold
 * tone): their inter-arrival (kernel timestamps again) is the server's
 * timing, and gaps in its RTP sequence numbers its loss.
 *
 * This replaces SIPp's rtp_stream (bursty: every call on the same 20 ms
 * boundary, its own inter-arrival p99 36-40 ms) and -rtp_echo (one socket
 * that overflows from ~400 calls): see ../shared/notes/sipp-load.md.
 */
#ifndef HL_BENCH_VOICE_RTP_H
#define HL_BENCH_VOICE_RTP_H

#include <stdbool.h>
#include <stdint.h>

#define VR_SOCKS 4 /* sockets per side */
#define VR_HBINS 20000 /* histogram: 0.1 ms bins up to 2 s */

enum { VR_CALLER = 0, VR_AGENT = 1 };

struct vr_hist {
	int64_t unit_ns; /* bin width (0: 0.1 ms) */
	uint64_t n, over;
	uint64_t bin[VR_HBINS];
};

/* What one measurement window saw (written by the engine thread; read by
 * the caller once vr_window_done). */
struct vr_result {
	/* relayed packets (both directions), by send time in the window */
	uint64_t relay_rx, relay_expected;
	struct vr_hist delay;     /* relay delay, µs/100 */
	/* relayed packets' inter-arrival per receiving stream, corrected by
	 * the sender's own spacing: 20 ms + the change in relay delay (the
	 * interval a peer would see behind a perfectly timed sender) */
	struct vr_hist relay_iat;
	/* the server's own stream to waiting callers */
	uint64_t tone_rx, tone_expected;
	struct vr_hist tone_iat;
	/* the engine's own send lateness (due -> sendto), its own health */
	struct vr_hist late;
	uint64_t sent, send_err;
	/* bridged caller streams, sampled every 100 ms in the window */
	uint64_t samples, bridged_sum, bridged_min, bridged_max;
	uint64_t unmarked_agent; /* agent side heard something not relayed */
};

/* Counters over the whole step (since vr_reset). */
struct vr_step {
	uint64_t caller_streams, agent_streams, bridged;
	/* callers answered at or after t0 and at least bridge_wait before
	 * judged_until, and which of those were not bridged within bridge_wait */
	uint64_t judged, not_bridged;
	struct vr_hist wait; /* first packet heard -> first relayed packet (10 ms bins) */
	uint64_t bridged_now, callers_now, agents_now;
};

/* Starts the engine (binds VR_SOCKS sockets per side on 127.0.0.1 with
 * 4 MiB buffers). Returns 0 or -1 with errno set. */
int vr_start(void);
void vr_stop(void);

/* The UDP port of socket k (0..VR_SOCKS-1) of a side. */
int vr_port(int side, int k);

/* Drops every stream and zeroes the step's counters; calls answered from
 * now on are judged bridged-or-not after bridge_wait_ms. */
void vr_reset(int bridge_wait_ms);

/* Measures from t0 to t1 (CLOCK_REALTIME ns, by send or arrival time).
 * vr_window_done() turns true half a second after t1. */
void vr_window(int64_t t0, int64_t t1);
bool vr_window_done(void);
const struct vr_result *vr_result(void);
/* Snapshot of the step counters (consistent enough: plain loads). */
void vr_step_get(struct vr_step *out);
/* Stops judging calls answered from now on (end of the step's load). */
void vr_judge_until_now(void);

/* Value at quantile q of a histogram, ms (-1 when empty). */
#define VR_PRIMER_SIDE 2 /* payload side byte of the SIPp primer packets */
double vr_hist_q(const struct vr_hist *h, double q);

/* drops counted by the kernel on the engine's sockets (/proc/net/udp) */
uint64_t vr_kernel_drops(void);
int vr_tid(void);

int64_t vr_now_real(void);

#endif
