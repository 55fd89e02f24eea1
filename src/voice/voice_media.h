/*
 * voice_media.h (private to src/voice): audio for calls.
 *
 *   voice_media.c   G.711, RFC 4733 telephone events, DTMF detection
 *                   (RFC 4733 and in-band, spandsp), the spoken phrases
 *   voice_prompt.c  prompts: text spoken by espeak-ng on a worker thread,
 *                   WAV files read with libsndfile, both as 8 kHz mono PCM
 *                   in a cache; the built-in music on hold
 *   voice_rec.c     call recording: a writer thread that writes 8 kHz WAV
 *
 * Threads: unless a function says otherwise it runs on the core thread.
 * The worker threads never touch libre objects; they hand results back
 * through a libre mqueue (voice_prompt, voice_rec).
 */
#ifndef HL_VOICE_MEDIA_H
#define HL_VOICE_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- G.711 (pure) ----------------------------------------------------------- */

uint8_t voice_lin2ulaw(int16_t s);
uint8_t voice_lin2alaw(int16_t s);
int16_t voice_ulaw2lin(uint8_t u);
int16_t voice_alaw2lin(uint8_t a);
/* n samples <-> n bytes. */
void voice_g711_encode(bool alaw, const int16_t *pcm, uint8_t *out, size_t n);
void voice_g711_decode(bool alaw, const uint8_t *in, int16_t *pcm, size_t n);

/* ---- RFC 4733 telephone events (pure) -------------------------------------- */

struct voice_te {
	char digit;        /* '0'-'9', '*', '#', 'A'-'D'; 0 for other events */
	uint8_t event;     /* the event code */
	bool end;          /* the E bit */
	uint8_t volume;    /* 0..63 (-dBm0) */
	uint16_t duration; /* in timestamp units */
};
/* Parse one telephone-event payload (the first 4-byte block; redundant
 * blocks after it are ignored). Returns 0, or -EINVAL when shorter than 4
 * bytes. Any input is safe (fuzzed). */
int voice_te_parse(const uint8_t *p, size_t n, struct voice_te *out);

/* ---- DTMF detection: RFC 4733 and in-band --------------------------------- */

/* One per call leg. Digits from either source, each once: a telephone event
 * counts on its first packet (RFC 4733 retransmits a start and the end
 * three times, and some phones never send the end), keyed by its RTP
 * timestamp; in-band digits come from spandsp's dtmf_rx on the decoded
 * audio. While telephone events arrive, in-band detection is ignored for
 * 500 ms, and an event for the key heard in-band in the last 500 ms is not
 * counted, so a phone that sends both is not heard twice. Digits 0-9, *, #,
 * A-D. Not thread-safe (one leg, one thread). */
struct voice_dtmf;
/* Returns 0 and *dp (voice_dtmf_free), or -ENOMEM. */
int voice_dtmf_alloc(struct voice_dtmf **dp);
void voice_dtmf_free(struct voice_dtmf *d);
/* A telephone-event packet: payload p/n and its RTP timestamp, at now_ms.
 * Returns the digit when this packet starts a new event, else 0. */
char voice_dtmf_event(struct voice_dtmf *d, uint32_t rtp_ts, const uint8_t *p, size_t n,
		      uint64_t now_ms);
/* In-band audio (8 kHz linear, any n), at now_ms. Writes the digits
 * detected (at most max) to out and returns how many; digits beyond max
 * wait for the next call (n may be 0 to collect them). */
size_t voice_dtmf_audio(struct voice_dtmf *d, const int16_t *pcm, size_t n, uint64_t now_ms,
			char *out, size_t max);

/* ---- phrases (pure) --------------------------------------------------------- */

enum voice_phrase {
	VOICE_PHRASE_POSITION,  /* a = place in the queue, b = estimated wait in minutes (0: unknown) */
	VOICE_PHRASE_CLOSED,    /* we are closed */
	VOICE_PHRASE_INVALID,   /* that is not a valid choice */
	VOICE_PHRASE_GOODBYE,   /* no choice made: goodbye */
	VOICE_PHRASE_CALLBACK_OFFER, /* a = the key: press it to be called back, keeping your place
				      * (0-9, or the character '0'-'9', '*' or '#') */
	VOICE_PHRASE_CALLBACK_OK,    /* we will call you back at your number; goodbye */
	VOICE_PHRASE_TRANSFER,  /* please hold while we transfer your call */
	VOICE_PHRASE_UNAVAILABLE, /* nobody can take the call now */
};
/* The text of a phrase in lang ("en", "sv", "de", "hu", "lt"; anything else
 * is English), with numbers as digits (espeak-ng speaks them in the
 * language). Returns the length written (always NUL-terminated). */
size_t voice_phrase_text(const char *lang, enum voice_phrase ph, unsigned a, unsigned b, char *out,
			 size_t size);

/* ---- prompts ------------------------------------------------------------------ */

/* 8 kHz mono linear PCM. Shared and immutable: take a reference with
 * voice_audio_ref, drop it with voice_audio_unref (any thread). */
struct voice_audio {
	const int16_t *pcm;
	size_t n; /* samples */
};
struct voice_audio *voice_audio_ref(struct voice_audio *a);
void voice_audio_unref(struct voice_audio *a);

struct voice_prompts;
/* Start the prompt service: a worker thread for espeak-ng and file reads,
 * and a cache of at most cache_bytes of audio (least recently used out).
 * dir: where relative WAV names are looked up (DATA/prompts). Returns 0
 * and *pp, or a negative errno. Core thread (it allocates a libre mqueue). */
int voice_prompts_start(struct voice_prompts **pp, const char *dir, size_t cache_bytes);
/* Stop the worker (waits for the text it is speaking) and free. NULL ok. */
void voice_prompts_stop(struct voice_prompts *p);
/* Text spoken in lang: a new reference to the cached audio, or NULL when it
 * is not rendered yet; then rendering is queued once (later calls with the
 * same key return NULL until it is done, then the audio). Callers poll,
 * e.g. from the 20 ms media tick, so no callback outlives a call. A text
 * that failed to render stays NULL (logged once). */
struct voice_audio *voice_prompt_text(struct voice_prompts *p, const char *lang, const char *text);
/* A WAV file (any rate and channel count; mixed down and resampled to
 * 8 kHz mono): name relative to dir, or absolute. Same polling contract.
 * Names with ".." are refused (NULL, logged once). */
struct voice_audio *voice_prompt_file(struct voice_prompts *p, const char *name);
/* The built-in music on hold: a few seconds of synthesized, loopable music
 * (made at start, no file). Always available; a new reference. */
struct voice_audio *voice_prompt_music(struct voice_prompts *p);
/* Whether the worker has nothing queued (tests). */
bool voice_prompts_idle(struct voice_prompts *p);

/* ---- recording ------------------------------------------------------------- */

struct voice_rec;
/* Start the writer thread; files go to dir (created if missing). Returns 0
 * and *rp, or a negative errno. Core thread. */
int voice_rec_start(struct voice_rec **rp, const char *dir);
/* Stop: files still open are finished on the writer thread, which is then
 * joined; done callbacks not yet delivered are dropped, and recordings not
 * closed are gone (do not use them after). Blocks until the writer has
 * written and fsynced what was queued. Not from a done handler. NULL ok. */
void voice_rec_stop(struct voice_rec *r);

/* A recording that finished: file name (relative to dir), length. err
 * nonzero (a negative errno) if the file could not be written (it is then
 * removed). info and info->file are valid only during the handler. */
struct voice_rec_info {
	int64_t call;
	const char *file;
	uint64_t duration_ms;
	uint64_t bytes;
	int err;
};
typedef void(voice_rec_done_h)(const struct voice_rec_info *info, void *arg);

struct voice_recording;
/* Open a recording for call: the file is "<call>-<unix ms>.wav" (8 kHz mono
 * 16-bit PCM WAV). h runs on the core thread when the file is complete
 * (after voice_recording_close). Returns 0 and *out, or a negative errno. */
int voice_recording_open(struct voice_rec *r, int64_t call, voice_rec_done_h *h, void *arg,
			 struct voice_recording **out);
/* Mixed audio for the file (the caller adds both directions). Never
 * blocks on disk: if the writer falls more than 5 s behind on this file
 * (or 10 minutes over all files), the samples are dropped and counted
 * (logged when the file closes). */
void voice_recording_put(struct voice_recording *rc, const int16_t *pcm, size_t n);
/* No more audio: the writer finishes the file, then h runs. rc is gone. */
void voice_recording_close(struct voice_recording *rc);

/* ---- the RTP relay thread (voice_relay.c) --------------------------------- */

#include <sys/socket.h>

struct voice_relay;
/* The RTP stream a leg's socket sends: SSRC, next sequence number and
 * timestamp. */
struct voice_rtp_out {
	uint32_t ssrc;
	uint16_t seq;
	uint32_t ts;
};
/* Start the relay thread. Returns 0 and *rp, or a negative errno. */
int voice_relay_start(struct voice_relay **rp);
/* Stop and join it (every pair is dropped). NULL ok. */
void voice_relay_stop(struct voice_relay *r);
/* Relay between two non-blocking UDP sockets that no other thread reads
 * (the caller took them out of libre's loop): RTP arriving on fd_a goes out
 * of fd_b to far_b as the stream out_b describes (its SSRC; sequence and
 * timestamp continuing from out_b's), and the other way round; marker and
 * payload unchanged. far_* is each phone's address from its SDP; a first
 * packet from another IP address replaces it by its source (NAT). Returns
 * an id > 0, or a negative errno. Any thread. */
int voice_relay_add(struct voice_relay *r, int fd_a, const struct sockaddr *far_a, socklen_t la,
		    const struct voice_rtp_out *out_a, int fd_b, const struct sockaddr *far_b,
		    socklen_t lb, const struct voice_rtp_out *out_b);
/* Stop relaying id; when it returns, the thread no longer touches the two
 * sockets. *out_a / *out_b (NULL: not wanted) get where each stream
 * stands (seq, ts). Any thread; waits at most for the batch in progress. */
void voice_relay_remove(struct voice_relay *r, int id, struct voice_rtp_out *out_a,
			struct voice_rtp_out *out_b);
/* Pairs being relayed now. */
unsigned voice_relay_count(struct voice_relay *r);

#endif
