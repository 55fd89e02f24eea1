/* bench/common/bench_util.c: see bench_util.h. */
#include "bench_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HTTP_MAX_RESPONSE (16u << 20)
#define LOG_TAIL_MAX 40

volatile sig_atomic_t bench_stop;

static void on_signal(int sig)
{
	(void)sig;
	bench_stop = 1;
}

void bench_catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: blocking calls return EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int bench_make_dirs(const char *name, struct bench_dirs *d)
{
	const char *tmpdir = getenv("TMPDIR");
	int n = snprintf(d->tmp, sizeof(d->tmp), "%s/hl-bench-%s.XXXXXX",
			 tmpdir && *tmpdir ? tmpdir : "/tmp", name);
	if (n < 0 || (size_t)n >= sizeof(d->tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (!mkdtemp(d->tmp))
		return -1;
	snprintf(d->data, sizeof(d->data), "%s/data", d->tmp);
	snprintf(d->web, sizeof(d->web), "%s/web", d->tmp);
	snprintf(d->log, sizeof(d->log), "%s/server.log", d->tmp);
	return 0;
}

void bench_vcomplain(const char *who, const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", who);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
}

int64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

double bench_now_s(void)
{
	return (double)bench_now_ns() * 1e-9;
}

void bench_sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !bench_stop)
		;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void bench_rm_rf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

rlim_t bench_raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 0;
	return rl.rlim_cur;
}

int bench_server_path(char *bin, size_t size, char *err, size_t esize)
{
	if (!bin[0]) {
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0) {
			snprintf(err, esize, "cannot read /proc/self/exe");
			return -1;
		}
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
		int k = snprintf(bin, size, "%s/../hotline", self);
		if (k < 0 || (size_t)k >= size) {
			bin[0] = '\0';
			snprintf(err, esize, "path of this program is too long");
			return -1;
		}
	}
	char real[PATH_MAX];
	if (!realpath(bin, real) || access(real, X_OK) != 0) {
		snprintf(err, esize,
			 "server binary %s not found (build the hotline target or pass --server PATH)",
			 bin);
		return -1;
	}
	snprintf(bin, size, "%s", real);
	return 0;
}

int bench_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	return ntohs(sa.sin_port);
}

pid_t bench_spawn_server(const char *log_path, char *const argv[], const char *env_name,
			 const char *env_value)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid != 0)
		return pid; /* the child's pid, or -1 with errno */
	/* If the bench is killed, the server must not outlive it. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(127);
	int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	if (env_name)
		setenv(env_name, env_value, 1);
	execv(argv[0], argv);
	fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

bool bench_child_exited(pid_t pid, int *status)
{
	int st = 0;
	if (waitpid(pid, &st, WNOHANG) != pid)
		return false;
	if (status)
		*status = st;
	return true;
}

bool bench_stop_child(pid_t pid, double grace_s, int *status, double *took_s)
{
	double t0 = bench_now_s();
	kill(pid, SIGTERM);
	int st = 0;
	pid_t r = 0;
	while ((r = waitpid(pid, &st, WNOHANG)) == 0 && bench_now_s() - t0 < grace_s)
		bench_sleep_s(0.02);
	if (took_s)
		*took_s = bench_now_s() - t0;
	if (r == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	if (status)
		*status = st;
	return r != 0;
}

int bench_wait_ready(bool (*alive)(void), bool (*probe)(void), double timeout_s)
{
	double t0 = bench_now_s();
	for (;;) {
		if (!alive())
			return -1;
		if (probe())
			return 0;
		if (bench_stop)
			return -2;
		if (bench_now_s() - t0 > timeout_s)
			return -3;
		bench_sleep_s(0.05);
	}
}

/* ---- HTTP ----------------------------------------------------------------- */

void bench_resp_free(struct bench_resp *r)
{
	free(r->buf);
	memset(r, 0, sizeof(*r));
}

bool bench_send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

static int http_connect(int port, uint32_t src, int timeout_s)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = {timeout_s, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (src) {
		int one = 1;
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		struct sockaddr_in from = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(src)};
		if (bind(fd, (struct sockaddr *)&from, sizeof(from)) != 0) {
			close(fd);
			return -1;
		}
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reads the answer up to Content-Length or the close; NULL on no memory. */
static char *http_read_all(int fd, size_t *lenp)
{
	size_t cap = 8192, len = 0;
	char *buf = malloc(cap);
	long want = -1; /* total bytes once Content-Length is known */
	while (buf && (want < 0 || (long)len < want)) {
		if (len + 1 >= cap) {
			if (cap >= HTTP_MAX_RESPONSE)
				break;
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		ssize_t n = recv(fd, buf + len, cap - len - 1, 0);
		if (n < 0 && errno == EINTR && !bench_stop)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		char *eoh = strstr(buf, "\r\n\r\n");
		if (want < 0 && eoh) {
			*eoh = '\0'; /* search the headers only */
			char *cl = strcasestr(buf, "\r\ncontent-length:");
			if (cl)
				want = (long)(eoh + 4 - buf) + strtol(cl + 17, NULL, 10);
			*eoh = '\r';
		}
	}
	*lenp = len;
	return buf;
}

int bench_http_do(int port, uint32_t src, int timeout_s, const char *method, const char *path,
		  const char *token, const char *json, struct bench_resp *r)
{
	memset(r, 0, sizeof(*r));
	int fd = http_connect(port, src, timeout_s);
	if (fd < 0)
		return -1;
	char head[1200], auth[300] = "", ctype[128] = "";
	if (token && *token)
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n", token);
	if (json)
		snprintf(ctype, sizeof(ctype), "Content-Type: application/json\r\nContent-Length: %zu\r\n",
			 strlen(json));
	int hn = snprintf(head, sizeof(head),
			  "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s%s\r\n",
			  method, path, port, auth, ctype);
	if (hn < 0 || (size_t)hn >= sizeof(head) || !bench_send_all(fd, head, (size_t)hn) ||
	    (json && !bench_send_all(fd, json, strlen(json)))) {
		close(fd);
		return -1;
	}
	size_t len = 0;
	char *buf = http_read_all(fd, &len);
	close(fd);
	if (!buf || len < 12 || strncmp(buf, "HTTP/1.", 7) != 0) {
		free(buf);
		return -1;
	}
	buf[len] = '\0';
	r->buf = buf;
	r->status = (int)strtol(buf + 9, NULL, 10);
	char *eoh = strstr(buf, "\r\n\r\n");
	r->body = eoh ? eoh + 4 : buf + len;
	r->body_len = (size_t)(buf + len - r->body);
	return 0;
}

/* ---- /proc and the log ---------------------------------------------------- */

int bench_proc_status(pid_t pid, const char *const *keys, long *vals, int n)
{
	for (int i = 0; i < n; i++)
		vals[i] = -1;
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		for (int i = 0; i < n; i++)
			if (strncmp(line, keys[i], strlen(keys[i])) == 0)
				vals[i] = strtol(line + strlen(keys[i]), NULL, 10);
	fclose(f);
	return 0;
}

void bench_print_log_tail(const char *path, int lines)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	if (lines > LOG_TAIL_MAX)
		lines = LOG_TAIL_MAX;
	if (lines < 0)
		lines = 0;
	char line[1024];
	char *ring[LOG_TAIL_MAX] = {0};
	unsigned n = 0;
	while (fgets(line, sizeof(line), f)) {
		free(ring[n % LOG_TAIL_MAX]);
		ring[n % LOG_TAIL_MAX] = strdup(line);
		n++;
	}
	fclose(f);
	fprintf(stderr, "--- last lines of the server log ---\n");
	for (unsigned i = n > (unsigned)lines ? n - (unsigned)lines : 0; i < n; i++)
		fputs(ring[i % LOG_TAIL_MAX] ? ring[i % LOG_TAIL_MAX] : "", stderr);
	for (unsigned i = 0; i < LOG_TAIL_MAX; i++)
		free(ring[i]);
}

/* ---- flat JSON fields -------------------------------------------------------- */

int bench_str_field(const char *s, size_t n, const char *key, char *out, size_t size)
{
	char pat[48];
	int pl = snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	if (pl < 0 || (size_t)pl >= sizeof(pat))
		return -1;
	const char *p = memmem(s, n, pat, (size_t)pl);
	if (!p)
		return -1;
	p += pl;
	const char *end = memchr(p, '"', (size_t)(s + n - p));
	if (!end || (size_t)(end - p) >= size)
		return -1;
	memcpy(out, p, (size_t)(end - p));
	out[end - p] = '\0';
	return 0;
}

int64_t bench_num_field(const char *s, size_t n, const char *key)
{
	char pat[48];
	int pl = snprintf(pat, sizeof(pat), "\"%s\":", key);
	if (pl < 0 || (size_t)pl >= sizeof(pat))
		return -1;
	const char *p = memmem(s, n, pat, (size_t)pl);
	if (!p || p + pl >= s + n)
		return -1;
	p += pl;
	while (p < s + n && *p == ' ')
		p++;
	if (p >= s + n || (*p != '-' && (*p < '0' || *p > '9')))
		return -1;
	return strtoll(p, NULL, 10);
}

int bench_fork_each(int procs, int n, double limit_s, bool *in_child, void (*item)(int i, void *arg),
		    void *arg)
{
	pid_t pids[64];
	if (procs < 1 || procs > 64)
		return -1;
	int started = 0, rc = 0;
	double t0 = bench_now_s();
	for (int h = 0; h < procs; h++) {
		pid_t pid = fork();
		if (pid < 0) {
			rc = -1;
			break;
		}
		if (pid == 0) {
			if (in_child)
				*in_child = true;
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			for (int i = h; i < n && !bench_stop; i += procs)
				item(i, arg);
			_exit(0);
		}
		pids[started++] = pid;
	}
	int left = started;
	while (left > 0) {
		for (int h = 0; h < started; h++)
			if (pids[h] > 0 && waitpid(pids[h], NULL, WNOHANG) == pids[h]) {
				pids[h] = 0;
				left--;
			}
		if (left && (bench_now_s() - t0 > limit_s || bench_stop)) {
			for (int h = 0; h < started; h++)
				if (pids[h] > 0) {
					kill(pids[h], SIGKILL);
					waitpid(pids[h], NULL, 0);
				}
			return -1;
		}
		if (left)
			bench_sleep_s(0.05);
	}
	return rc;
}
