/* bench/voice/voice_sipp.h: SIPp (Debian sip-tester 3.6.1) for bench/voice:
 * the scenarios (written into the run's folder), starting and stopping the
 * processes by pid, and their statistics files. */
#ifndef HL_BENCH_VOICE_SIPP_H
#define HL_BENCH_VOICE_SIPP_H

#include <stdbool.h>
#include <sys/types.h>

/* Writes register.xml (unused: see vs_register) and agent.xml into dir. */
int vs_write_scenarios(const char *dir);

/* Writes the callers' scenario dir/name: INVITE (number and media port from
 * the injection file: port;number), ACK, with dtmf_pcap (not NULL) a pause
 * of dtmf_ms and the pcap played (RFC 4733, 140 ms), BYE hold_ms after the
 * ACK. Returns 0 or -1. */
int vs_write_caller(const char *dir, const char *name, const char *dtmf_pcap, int dtmf_ms,
		    int hold_ms);

struct vs_proc {
	pid_t pid;
	char stat_path[600], log_path[600];
};

/* Starts `sipp 127.0.0.1:remote -sf DIR/scenario -i 127.0.0.1 -p local ...`
 * with its statistics in DIR/name_stats.csv (every second) and its output in
 * DIR/name.log; extra: a NULL-terminated list of more arguments. */
int vs_start(struct vs_proc *p, const char *dir, const char *name, const char *scenario,
	     int remote_port, int local_port, char *const extra[]);

/* SIGKILL and reap (the server is thrown away after each step, trap 6). */
void vs_kill(struct vs_proc *p);
/* Waits up to timeout_s for it to end; returns its exit status (0 all
 * calls succeeded, 1 some failed) or -1 when it had to be killed. */
int vs_wait(struct vs_proc *p, double timeout_s);
bool vs_alive(struct vs_proc *p);

/* The last statistics line: cumulative counters. */
struct vs_stats {
	bool ok;
	long created, current, success, failed;
	long f_rejected, f_retrans, f_unexpected, f_aborted, f_timeout_recv, f_timeout_send,
		f_other;
	double rtd_ms; /* mean INVITE -> 200 (ResponseTime1, cumulative) */
};
struct vs_stats vs_read_stats(const struct vs_proc *p);

/* Registers users[0..n) (password pass, realm "hotline", digest with
 * qop=auth) at 127.0.0.1:sip_port from UDP 127.0.0.1:local_port, Contact
 * that address, Expires 3600; at most 200 in flight, retransmitted every
 * second (5 times). SIPp 3.6.1 cannot take the digest username from its
 * injection file ([authentication username=[field0]] is sent literally),
 * so the bench does this itself, then the phones' SIPp listens on the same
 * port: the server calls a phone back over the flow it registered from.
 * Returns how many got a 200 within timeout_s; *first_err gets the first
 * other final answer's status line (or is left empty). */
int vs_register(int sip_port, int local_port, char **users, int n, const char *pass,
		double timeout_s, char *first_err, size_t esize);

/* Last lines of its output (errors), to stdout with a prefix. */
void vs_print_tail(const struct vs_proc *p, int lines);

#endif
