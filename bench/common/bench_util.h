/*
 * bench/common/bench_util.h: what the benches (bench/api, bench/chat) share
 * to drive a server from outside: the clock, a stop flag for signals, the
 * temporary directory, a free port, the server process, a blocking HTTP/1.1
 * client for setup and checks, /proc/PID/status, the server log's tail and
 * the flat "key":value scan of the benches' own JSON frames.
 *
 * Nothing here prints figures or decides a run fails: each bench keeps its
 * own messages and its own fail(). Functions that can fail return -1 (or
 * false) with errno set where a system call failed.
 */
#ifndef HL_BENCH_UTIL_H
#define HL_BENCH_UTIL_H

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

/* Set to 1 on SIGINT, SIGTERM or SIGHUP once bench_catch_signals ran.
 * bench_sleep_s, bench_http_do and bench_wait_ready stop waiting when it is
 * set; benches poll it in their own loops. */
extern volatile sig_atomic_t bench_stop;

/* SIGINT, SIGTERM and SIGHUP set bench_stop (no SA_RESTART: blocking calls
 * return EINTR); SIGPIPE is ignored. */
void bench_catch_signals(void);

/* A run's files: a fresh private folder and, inside it, the server's data
 * and web folders (not created here) and its log. */
struct bench_dirs {
	char tmp[512], data[600], web[600], log[600];
};

/* Creates d->tmp = "$TMPDIR/hl-bench-NAME.XXXXXX" (/tmp when TMPDIR is unset
 * or empty) and fills d->data ("TMP/data"), d->web ("TMP/web") and d->log
 * ("TMP/server.log"). Returns 0, or -1 with errno set (d->tmp then holds
 * the template, for the message). */
int bench_make_dirs(const char *name, struct bench_dirs *d);

/* Prints "WHO: message\n" (message formatted from fmt and ap) to stderr:
 * the first line of a bench's fail(). */
void bench_vcomplain(const char *who, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* CLOCK_MONOTONIC in nanoseconds / in seconds: one clock for every process
 * of a run, so send times can travel between them. */
int64_t bench_now_ns(void);
double bench_now_s(void);

/* Sleeps s seconds (s >= 0), resuming after signals, but returns early once
 * bench_stop is set. */
void bench_sleep_s(double s);

/* Removes path and everything below it (files, folders, links themselves,
 * never what they point to). Best effort: entries that cannot be removed
 * are left. Does nothing when path does not exist. */
void bench_rm_rf(const char *path);

/* Raises this process's soft RLIMIT_NOFILE to its hard limit (best
 * effort). Returns the soft limit now (RLIM_INFINITY when unlimited). */
rlim_t bench_raise_nofile(void);

/* The server binary's path in bin (size bytes): when bin is empty, first
 * "<folder of this program>/../hotline" (this program: /proc/self/exe);
 * then bin is made absolute (realpath) and must be executable. Returns 0,
 * or -1 with a one-line reason in err (esize bytes): "cannot read
 * /proc/self/exe", "path of this program is too long" or "server binary
 * PATH not found (build the hotline target or pass --server PATH)". */
int bench_server_path(char *bin, size_t size, char *err, size_t esize);

/* A TCP port on 127.0.0.1 that was free just now (bound to port 0 and
 * released), or -1 with errno set. */
int bench_free_port(void);

/* Forks and execs argv[0] with argv: the server under test. In the child:
 * SIGTERM when this process dies (PR_SET_PDEATHSIG), stdout and stderr to
 * log_path (truncated), env_name=env_value set when env_name is not NULL;
 * if exec fails, it writes "exec PATH: reason" to the log and exits 127.
 * Returns the child's pid, or -1 (errno set) when fork failed. */
pid_t bench_spawn_server(const char *log_path, char *const argv[], const char *env_name,
			 const char *env_value);

/* Whether child pid has ended (waitpid WNOHANG): true with its wait status
 * in *status (when status is not NULL) once it has, and it is reaped. */
bool bench_child_exited(pid_t pid, int *status);

/* Stops child pid: SIGTERM, then waits up to grace_s seconds; if it is
 * still running then, SIGKILL and wait. *status gets its wait status and
 * *took_s the seconds until it ended (either may be NULL). Returns true
 * when it ended within grace_s, false when it had to be killed. */
bool bench_stop_child(pid_t pid, double grace_s, int *status, double *took_s);

/* Polls until the server answers: alive() false -> returns -1 (the server
 * is gone; alive may also not return); probe() true -> 0 (ready); bench_stop
 * set -> -2; timeout_s passed -> -3. Sleeps 50 ms between tries. */
int bench_wait_ready(bool (*alive)(void), bool (*probe)(void), double timeout_s);

/* ---- a minimal blocking HTTP/1.1 client for setup and checks ------------ */

struct bench_resp {
	int status;       /* from the status line */
	char *buf;        /* the whole response, NUL-terminated; owned */
	const char *body; /* into buf, after the headers */
	size_t body_len;
};

/* Frees r->buf and zeroes *r (safe on a zeroed or already freed resp). */
void bench_resp_free(struct bench_resp *r);

/* Sends all n bytes of p on a blocking socket (MSG_NOSIGNAL, retried on
 * EINTR). Returns false when the connection failed. */
bool bench_send_all(int fd, const char *p, size_t n);

/* One request on a new connection to 127.0.0.1:port ("Connection: close"):
 * method path, "Authorization: Bearer token" when token is neither NULL nor
 * empty, json as an application/json body when not NULL. src (host byte
 * order, 0 for any) binds the client's source address first: probing a port
 * before the server listens from 127.0.0.1 itself could pick that port as
 * the ephemeral one and connect to itself. timeout_s bounds each send and
 * receive. Reads up to Content-Length (or to the close), at most 16 MiB.
 * Returns 0 with *r filled (free it with bench_resp_free), or -1 on a
 * transport error or an answer that is not HTTP (*r then zeroed). */
int bench_http_do(int port, uint32_t src, int timeout_s, const char *method, const char *path,
		  const char *token, const char *json, struct bench_resp *r);

/* ---- /proc and the server log ------------------------------------------ */

/* The numbers after n keys (e.g. "VmRSS:", "Threads:") of /proc/PID/status
 * into vals, -1 for a key not found. Returns 0, or -1 (errno set, vals all
 * -1) when the file cannot be read. */
int bench_proc_status(pid_t pid, const char *const *keys, long *vals, int n);

/* Prints the last `lines` lines (at most 40; longer lines are cut at about
 * 1 KiB) of the file at path to stderr after a "--- last lines of the
 * server log ---" header. Nothing when the file cannot be opened. */
void bench_print_log_tail(const char *path, int lines);

/* ---- the benches' own flat JSON frames ---------------------------------- */

/* The string value of "key":"…" in s[0..n) into out (NUL-terminated).
 * No escapes are decoded (the benches' own texts have none). Returns 0, or
 * -1 when the key is missing or the value does not fit in size bytes. */
int bench_str_field(const char *s, size_t n, const char *key, char *out, size_t size);

/* The integer value of "key":N in s[0..n) (spaces after the colon allowed),
 * or -1 when the key is missing or no number follows. */
int64_t bench_num_field(const char *s, size_t n, const char *key);

/* item(i, arg) for every i in [0, n), spread over procs forked processes
 * (process h takes i = h, h + procs, ...), each killed with its parent
 * (PR_SET_PDEATHSIG). Results must go to memory the parent shares
 * (MAP_SHARED). *in_child (may be NULL) is set in each child before its
 * first item, so its atexit work can stand aside. Waits at most limit_s,
 * or until bench_stop; then kills what is left. Returns 0 when every
 * process finished, -1 otherwise (fork failed, killed at the limit). */
int bench_fork_each(int procs, int n, double limit_s, bool *in_child, void (*item)(int i, void *arg),
		    void *arg);

#endif
