/*
 * voice.h: the voice channel on the core thread (libre). Today: the SIP
 * listener (UDP and TCP on one port, TLS on the next) and the registrar for agent phones
 * (digest authentication with expiring stateless nonces, per-source
 * throttling of failed attempts, bindings with expiry that remember the
 * flow the REGISTER came over). Calls, media and trunks come next
 * (docs/VOICE.md, issue #5).
 *
 * Threads: every function here runs on the core thread, the one running
 * re_main (libre objects are not thread-safe).
 */
#ifndef HL_VOICE_H
#define HL_VOICE_H

#include <stdint.h>

struct voice;

struct voice_opts {
	const char *bind;     /* NULL, "", "0.0.0.0" or "::": every interface address */
	int port;             /* UDP and TCP; TLS on port + 1 (none on 65535) */
	/* Phone credentials: an htdigest file (lines "user:hotline:HA1hex",
	 * HA1 = MD5(user ":hotline:" password)). NULL or missing file: no
	 * phone can register (every attempt is refused). Re-read when it
	 * changes (checked at most once a second, on REGISTER). */
	const char *accounts_file;
	/* TLS: a PEM file with the certificate (chain) and its private key.
	 * NULL or missing file: no TLS transport. */
	const char *tls_file;
};

/* Open the SIP transports and start answering. Returns 0 and *vp, or a
 * negative errno (logged). Core thread. */
int voice_start(struct voice **vp, const struct voice_opts *opts);

/* Close the transports and free everything. NULL ok. Core thread. */
void voice_stop(struct voice *v);

#endif
