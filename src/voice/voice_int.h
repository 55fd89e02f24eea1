/*
 * voice_int.h (private to src/voice): the pieces behind voice.h, exposed to
 * the module's own files, the unit/fuzz drivers and nothing else.
 *
 *   voice.c      the SIP stack: transports, the request handler (sanity
 *                checks, dispatch by method), OPTIONS and refusals
 *   voice_reg.c  the registrar: accounts, nonces, digest, throttling,
 *                bindings
 *
 * Everything runs on the core thread. Time is libre's tmr_jiffies() (ms,
 * monotonic) unless a function takes `now`.
 */
#ifndef HL_VOICE_INT_H
#define HL_VOICE_INT_H

#include "voice/voice.h"

#include <re.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VOICE_REALM "hotline"
#define VOICE_NONCE_TTL_MS (300 * 1000)  /* a challenge is good for 5 minutes */
#define VOICE_FAIL_MAX 5                 /* failures per source ... */
#define VOICE_FAIL_WINDOW_MS (60 * 1000) /* ... within this window ... */
#define VOICE_BLOCK_MS (60 * 1000)       /* ... block the source this long */
#define VOICE_THROTTLE_MAX 4096          /* sources tracked (least recent dropped) */
#define VOICE_EXPIRES_DEFAULT 3600
#define VOICE_EXPIRES_MIN 60
#define VOICE_EXPIRES_MAX 3600
#define VOICE_BINDINGS_MAX 10            /* per address of record */
#define VOICE_BODY_MAX 16384             /* larger request bodies: 413 */
#define VOICE_URI_MAX 512                /* longer Contact URIs: 400 */

#include <sys/stat.h>

struct voice_reg;
#define VOICE_WATCH_MAX 5 /* configuration files the voice module watches */

/* Where a dialled number or a menu digit leads (voice_conf.c). */
enum voice_target_kind {
	VOICE_T_NONE,
	VOICE_T_QUEUE,
	VOICE_T_MENU,
	VOICE_T_USER,
	VOICE_T_NUMBER, /* out through the outbound trunk (never from a file) */
};
struct voice_target {
	enum voice_target_kind kind;
	uint32_t queue;   /* VOICE_T_QUEUE */
	char name[64];    /* the menu, the username, or the number */
};

struct voice_number {
	char num[40];
	struct voice_target t;
};

#define VOICE_MENU_KEYS "0123456789*#ABCD"
struct voice_menu {
	char name[64];
	char lang[8];
	char *greeting;      /* spoken text, or NULL */
	char *greeting_file; /* a WAV under DATA/prompts (wins over greeting), or NULL */
	struct voice_target key[16]; /* by the digit's place in VOICE_MENU_KEYS */
	unsigned timeout_s;  /* wait for a digit after the greeting */
	unsigned retries;    /* greetings replayed after a timeout or a wrong digit */
};

struct voice {
	struct sip *sip;
	struct sip_lsnr *lsnr;
	struct voice_reg *reg;
	struct tls *tls;      /* NULL: no TLS transport */
	unsigned transports;
	/* calls (voice_call.c) */
	struct sipsess_sock *sock;
	struct voice_routing rt;
	bool has_rt;
	char *numbers_path, *trunks_path; /* for log lines */
	struct voice_watch *watch;        /* the configuration files */
	int watch_kind[VOICE_WATCH_MAX];  /* which file each watch index is */
	char *menus_path, *data_dir;
	struct voice_number *numbers_tab;
	unsigned n_numbers;
	struct voice_menu *menus_tab;
	unsigned n_menus;
	struct sa trunks_tab[256];
	unsigned n_trunks;
	struct sa out_trunk;  /* where outbound calls go; unset: none */
	bool has_out_trunk;
	char out_user[64], out_pass[128]; /* its digest credentials ("": none) */
	struct list calls;
	unsigned n_calls, max_calls; /* more: 503 with Retry-After */
	int64_t last_call_id;
	struct tmr media;     /* the 20 ms media tick */
	uint64_t media_due;
	struct voice_target pending; /* voice_call_invite -> sipsess's connection handler */
	unsigned pending_se;         /* the INVITE's Session-Expires (0: none) */
	struct voice_prompts *prompts;
	struct voice_rec *rec;
	struct voice_relay *relay;   /* talking calls' RTP, off the core thread */
	struct list rec_wait;        /* recordings being finished (struct rec_wait) */
};

/* ---- calls (voice_call.c) --------------------------------------------- */

/* Set up calls (after v->sip exists): the sipsess socket, numbers, trunks,
 * routing. o may be NULL (no calls). Returns 0 or a negative errno. */
int voice_call_init(struct voice *v, const struct voice_opts *o);
/* Take INVITEs through libre's sipsess (after voice_recv's sip_listen, so
 * that voice_recv sees every request first). Returns 0 or a negative errno. */
int voice_call_listen(struct voice *v);
/* Hang up every call (tasks are left to the next start) and free. */
void voice_call_close(struct voice *v);
/* A new INVITE (no To tag) that passed the sanity checks: refuses it (403
 * for a number that is not a service number, counted as a failed attempt;
 * the digest challenge or 403 for a phone), returning true; or returns
 * false to let libre's sipsess listener take it (and answer it). */
bool voice_call_invite(struct voice *v, const struct sip_msg *msg, uint64_t now);

/* The request handler (sip_listen's). Replies through v->sip; with no
 * transport added (fuzzing), replies fail quietly. Always returns true. */
bool voice_recv(const struct sip_msg *msg, void *arg);

/* A voice with the stack allocated but no transport: for the fuzz driver.
 * accounts_text is an htdigest file's content (NULL: none). */
int voice_alloc_detached(struct voice **vp, const char *accounts_text);

/* ---- configuration files (voice_watch.c) ------------------------------ */

struct voice_watch;
struct voice_watch_file {
	const char *path;
	bool secret;   /* warn when others may read it */
};
/* A file's new content on the core thread: text (NUL-terminated, len
 * bytes; valid during the call) or NULL when it is gone or unreadable. */
typedef void(voice_watch_h)(unsigned idx, const char *text, size_t len, void *arg);
/* Read each file now and call h for it (on the calling thread: call it on
 * the core thread, before re_main), then watch them from a thread of their
 * own; a file that changes is read there and h runs with its new text on
 * the core thread. Returns 0 and *wp (mem_deref stops it), or a negative
 * errno. */
int voice_watch_start(struct voice_watch **wp, const struct voice_watch_file *files, unsigned n,
		      voice_watch_h *h, void *arg);

/* ---- registrar (voice_reg.c) ----------------------------------------- */

/* No accounts until voice_reg_set_accounts. Returns 0 or -ENOMEM. Free
 * with mem_deref. */
int voice_reg_alloc(struct voice_reg **rp);
/* Replace the accounts with htdigest text (the accounts file's content;
 * NULL: none, every phone is refused). Returns 0, -ENOMEM. Lines that are
 * not "user:hotline:32-hex" are skipped. */
int voice_reg_set_accounts(struct voice_reg *r, const char *text, size_t len);
unsigned voice_reg_n_accounts(const struct voice_reg *r);

/* ---- configuration (voice_conf.c): the numbers, menus and trunks files'
 * content (NULL: none); bad lines are logged with FILE:LINE and skipped.
 * Any input is safe (fuzzed). */
void voice_call_set_numbers(struct voice *v, const char *text);
void voice_call_set_menus(struct voice *v, const char *text);
void voice_call_set_trunks(struct voice *v, const char *text);
void voice_conf_free(struct voice *v);
/* "12" or "queue:12", "menu:NAME", "user:NAME". Returns 0 or -EINVAL. */
int voice_target_parse(const char *s, struct voice_target *t);
const struct voice_target *voice_number_target(const struct voice *v, const struct pl *num);
const struct voice_menu *voice_menu_find(const struct voice *v, const char *name);
bool voice_is_trunk(const struct voice *v, const struct sa *src);

/* Whether src is blocked for failed attempts; *retry_s: seconds left. */
bool voice_reg_blocked(struct voice_reg *r, const struct sa *src, uint64_t now,
		       uint32_t *retry_s);
/* Count one failed attempt from src (bad password, unknown user, an
 * unauthenticated INVITE). */
void voice_reg_fail(struct voice_reg *r, const struct sa *src, uint64_t now);

/* A nonce of this registrar for src, now (the fuzz driver's way past the
 * challenge). out must hold VOICE_NONCE_LEN + 1. */
void voice_reg_nonce(struct voice_reg *r, const struct sa *src, char *out);

/* Check a request's digest for the account user (the REGISTER's To user,
 * an INVITE's From user; NULL: whichever account the digest names, for
 * trunks that authenticate with credentials). 0: authenticated; 1:
 * answered already (401 challenge, 400, or 403 counted as a failed
 * attempt). */
int voice_reg_auth(struct voice_reg *r, struct sip *sip, const struct sip_msg *msg,
		   const struct pl *user);

/* Answer a REGISTER (digest, then bindings). */
void voice_reg_register(struct voice_reg *r, struct sip *sip, const struct sip_msg *msg);

/* Live bindings of user (tests, future calls): calls h for each until it
 * returns true. Returns the number visited. */
typedef bool(voice_binding_h)(const char *uri, const struct sa *src, enum sip_transp tp,
			      uint64_t expires, void *arg);
unsigned voice_reg_bindings(struct voice_reg *r, const char *user, voice_binding_h *h, void *arg);

/* ---- pure helpers (voice_reg.c), unit-tested and fuzzed ------------- */

#define VOICE_NONCE_LEN 48 /* 16 hex of the time + 32 hex of the MAC */

/* A nonce for src at now_ms: hex(now_ms) + hex(HMAC-SHA256(key, time ||
 * source address))[0..32). out must hold VOICE_NONCE_LEN + 1. */
void voice_nonce_make(const uint8_t key[32], uint64_t now_ms, const struct sa *src, char *out);
/* 0: ours, for this source, younger than VOICE_NONCE_TTL_MS; -ETIMEDOUT:
 * ours but expired; -EINVAL: not ours (other key, other source, malformed). */
int voice_nonce_check(const uint8_t key[32], const struct pl *nonce, uint64_t now_ms,
		      const struct sa *src);

/* RFC 2617 digest with MD5 over an HA1: qop "auth" (nc and cnonce
 * required) or no qop (RFC 2069). Returns 0 when resp->response matches,
 * -EACCES when not, -EINVAL for a qop other than auth or missing fields.
 * Compares in constant time. */
int voice_digest_check(const struct httpauth_digest_resp *resp, const struct pl *method,
		       const uint8_t ha1[16]);

#endif
