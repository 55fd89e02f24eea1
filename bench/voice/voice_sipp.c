/* bench/voice/voice_sipp.c: see voice_sipp.h. */
#include "voice_sipp.h"
#include "bench_util.h"
#include "voice_rtp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A phone (an agent's username from the injection file: user;password)
 * registers from the agents' SIPp port: the server calls it back over
 * that flow, where the answering SIPp then listens. */
static const char register_xml[] =
	"<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n"
	"<scenario name=\"hotline bench: an agent's phone registers\">\n"
	"  <send retrans=\"500\">\n"
	"    <![CDATA[\n\n"
	"      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0\n"
	"      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
	"      From: <sip:[field0]@[remote_ip]>;tag=[pid]SIPpTag00[call_number]\n"
	"      To: <sip:[field0]@[remote_ip]>\n"
	"      Call-ID: [call_id]\n"
	"      CSeq: 1 REGISTER\n"
	"      Contact: <sip:[field0]@[local_ip]:[local_port];transport=[transport]>\n"
	"      Max-Forwards: 70\n"
	"      Expires: 3600\n"
	"      Content-Length: 0\n\n"
	"    ]]>\n"
	"  </send>\n"
	"  <recv response=\"401\" auth=\"true\" timeout=\"10000\"/>\n"
	"  <send retrans=\"500\">\n"
	"    <![CDATA[\n\n"
	"      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0\n"
	"      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
	"      From: <sip:[field0]@[remote_ip]>;tag=[pid]SIPpTag00[call_number]\n"
	"      To: <sip:[field0]@[remote_ip]>\n"
	"      Call-ID: [call_id]\n"
	"      CSeq: 2 REGISTER\n"
	"      Contact: <sip:[field0]@[local_ip]:[local_port];transport=[transport]>\n"
	"      [authentication username=[field0] password=[field1]]\n"
	"      Max-Forwards: 70\n"
	"      Expires: 3600\n"
	"      Content-Length: 0\n\n"
	"    ]]>\n"
	"  </send>\n"
	"  <recv response=\"200\" timeout=\"10000\"/>\n"
	"</scenario>\n";

/* The agents' phones: answer every INVITE at once (200 with PCMU, the
 * media address one of the bench's agent-side sockets, field0), send the
 * primer (below), then wait for the server's BYE. %s: the primer file. */
static const char agent_xml[] = /* a format: %s the primer */
	"<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n"
	"<scenario name=\"hotline bench: agents' phones answer\">\n"
	"  <recv request=\"INVITE\" crlf=\"true\"/>\n"
	"  <send retrans=\"500\">\n"
	"    <![CDATA[\n\n"
	"      SIP/2.0 200 OK\n"
	"      [last_Via:]\n"
	"      [last_From:]\n"
	"      [last_To:];tag=[pid]SIPpTag01[call_number]\n"
	"      [last_Call-ID:]\n"
	"      [last_CSeq:]\n"
	"      [last_Record-Route:]\n"
	"      Contact: <sip:phone@[local_ip]:[local_port];transport=[transport]>\n"
	"      Content-Type: application/sdp\n"
	"      Content-Length: [len]\n\n"
	"      v=0\n"
	"      o=- [call_number] 1 IN IP4 127.0.0.1\n"
	"      s=-\n"
	"      c=IN IP4 127.0.0.1\n"
	"      t=0 0\n"
	"      m=audio [field0] RTP/AVP 0\n"
	"      a=rtpmap:0 PCMU/8000\n"
	"      a=ptime:20\n\n"
	"    ]]>\n"
	"  </send>\n"
	"  <recv request=\"ACK\" crlf=\"true\"/>\n"
	"  <nop>\n"
	"    <action>\n"
	"      <exec rtp_stream=\"%s,1,0\"/>\n"
	"    </action>\n"
	"  </nop>\n"
	"  <recv request=\"BYE\"/>\n"
	"  <send>\n"
	"    <![CDATA[\n\n"
	"      SIP/2.0 200 OK\n"
	"      [last_Via:]\n"
	"      [last_From:]\n"
	"      [last_To:]\n"
	"      [last_Call-ID:]\n"
	"      [last_CSeq:]\n"
	"      Content-Length: 0\n\n"
	"    ]]>\n"
	"  </send>\n"
	"</scenario>\n";

/* A caller (a trunk: no digest): INVITE field1 with the bench's caller-side
 * socket field0 as media (PCMU and telephone-event 101), ACK, optionally
 * the DTMF '1' after a pause, hold, BYE. %s: the DTMF part; %d: hold ms. */
static const char caller_fmt[] =
	"<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n"
	"<scenario name=\"hotline bench: a caller\">\n"
	"  <send retrans=\"500\" start_rtd=\"1\">\n"
	"    <![CDATA[\n\n"
	"      INVITE sip:[field1]@[remote_ip]:[remote_port] SIP/2.0\n"
	"      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
	"      From: <sip:c[call_number]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]\n"
	"      To: <sip:[field1]@[remote_ip]:[remote_port]>\n"
	"      Call-ID: [call_id]\n"
	"      CSeq: 1 INVITE\n"
	"      Contact: <sip:c[call_number]@[local_ip]:[local_port]>\n"
	"      Max-Forwards: 70\n"
	"      Content-Type: application/sdp\n"
	"      Content-Length: [len]\n\n"
	"      v=0\n"
	"      o=- [call_number] 1 IN IP4 127.0.0.1\n"
	"      s=-\n"
	"      c=IN IP4 127.0.0.1\n"
	"      t=0 0\n"
	"      m=audio [field0] RTP/AVP 0 101\n"
	"      a=rtpmap:0 PCMU/8000\n"
	"      a=rtpmap:101 telephone-event/8000\n"
	"      a=fmtp:101 0-15\n"
	"      a=ptime:20\n\n"
	"    ]]>\n"
	"  </send>\n"
	"  <recv response=\"100\" optional=\"true\"/>\n"
	"  <recv response=\"180\" optional=\"true\"/>\n"
	"  <recv response=\"183\" optional=\"true\"/>\n"
	"  <recv response=\"200\" rtd=\"1\" rrs=\"true\" timeout=\"15000\"/>\n"
	"  <send>\n"
	"    <![CDATA[\n\n"
	"      ACK [next_url] SIP/2.0\n"
	"      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
	"      [routes]\n"
	"      From: <sip:c[call_number]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]\n"
	"      To: <sip:[field1]@[remote_ip]:[remote_port]>[peer_tag_param]\n"
	"      Call-ID: [call_id]\n"
	"      CSeq: 1 ACK\n"
	"      Max-Forwards: 70\n"
	"      Content-Length: 0\n\n"
	"    ]]>\n"
	"  </send>\n"
	"  <nop>\n"
	"    <action>\n"
	"      <exec rtp_stream=\"%s,1,0\"/>\n"
	"    </action>\n"
	"  </nop>\n"
	"%s"
	"  <pause milliseconds=\"%d\"/>\n"
	"  <send retrans=\"500\">\n"
	"    <![CDATA[\n\n"
	"      BYE [next_url] SIP/2.0\n"
	"      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n"
	"      [routes]\n"
	"      From: <sip:c[call_number]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]\n"
	"      To: <sip:[field1]@[remote_ip]:[remote_port]>[peer_tag_param]\n"
	"      Call-ID: [call_id]\n"
	"      CSeq: 2 BYE\n"
	"      Max-Forwards: 70\n"
	"      Content-Length: 0\n\n"
	"    ]]>\n"
	"  </send>\n"
	"  <recv response=\"200\" crlf=\"true\" timeout=\"15000\"/>\n"
	"</scenario>\n";

static const char dtmf_fmt[] =
	"  <pause milliseconds=\"%d\"/>\n"
	"  <nop>\n"
	"    <action>\n"
	"      <exec play_pcap_audio=\"%s\"/>\n"
	"    </action>\n"
	"  </nop>\n";

static int write_file(const char *dir, const char *name, const char *text)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	int ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* The primer: two PCMU packets SIPp's rtp_stream sends to the server after
 * each ACK (no raw socket, unlike pcap play). The bench's RTP engine only
 * starts answering a server port once it hears from it; on a path where
 * the server sends nothing by itself (the bare relay: no greeting, no hold
 * stream) both sides would wait for each other. Its payload carries the
 * engine's mark with side VR_PRIMER_SIDE, so it starts a stream and is
 * measured nowhere. */
static int write_primer(const char *dir)
{
	uint8_t b[320];
	memset(b, 0xff, sizeof(b));
	for (int k = 0; k < 2; k++) {
		uint8_t *q = b + 160 * k;
		q[0] = 'H';
		q[1] = 'L';
		q[2] = 'V';
		q[3] = 'B';
		q[4] = q[5] = 0;
		q[6] = VR_PRIMER_SIDE;
		memset(q + 7, 0, 17);
	}
	char path[700];
	snprintf(path, sizeof(path), "%s/primer.ulaw", dir);
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t n = fwrite(b, 1, sizeof(b), f);
	return fclose(f) == 0 && n == sizeof(b) ? 0 : -1;
}

int vs_write_scenarios(const char *dir)
{
	char primer[700], buf[8192];
	snprintf(primer, sizeof(primer), "%s/primer.ulaw", dir);
	snprintf(buf, sizeof(buf), agent_xml, primer);
	return write_primer(dir) || write_file(dir, "register.xml", register_xml) ||
			       write_file(dir, "agent.xml", buf)
		       ? -1
		       : 0;
}

int vs_write_caller(const char *dir, const char *name, const char *dtmf_pcap, int dtmf_ms,
		    int hold_ms)
{
	char dtmf[512] = "", buf[8192], primer[700];
	snprintf(primer, sizeof(primer), "%s/primer.ulaw", dir);
	if (dtmf_pcap)
		snprintf(dtmf, sizeof(dtmf), dtmf_fmt, dtmf_ms, dtmf_pcap);
	int rest = hold_ms - (dtmf_pcap ? dtmf_ms : 0);
	snprintf(buf, sizeof(buf), caller_fmt, primer, dtmf, rest > 0 ? rest : 0);
	return write_file(dir, name, buf);
}

/* sipp's path: bench_spawn_server execs without a PATH search. */
static const char *vs_binary(void)
{
	static char bin[PATH_MAX];
	if (bin[0])
		return bin;
	const char *path = getenv("PATH");
	char dirs[4096];
	snprintf(dirs, sizeof(dirs), "%s", path && *path ? path : "/usr/bin:/bin");
	char *save = NULL;
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		snprintf(bin, sizeof(bin), "%s/sipp", d);
		if (access(bin, X_OK) == 0)
			return bin;
	}
	snprintf(bin, sizeof(bin), "/usr/bin/sipp");
	return bin;
}

int vs_start(struct vs_proc *p, const char *dir, const char *name, const char *scenario,
	     int remote_port, int local_port, char *const extra[])
{
	char remote[64], sf[700], lp[16], mp[16], cp[16];
	snprintf(remote, sizeof(remote), "127.0.0.1:%d", remote_port);
	snprintf(sf, sizeof(sf), "%s/%s", dir, scenario);
	snprintf(lp, sizeof(lp), "%d", local_port);
	snprintf(p->stat_path, sizeof(p->stat_path), "%s/%s_stats.csv", dir, name);
	snprintf(p->log_path, sizeof(p->log_path), "%s/%s.log", dir, name);
	unlink(p->stat_path);
	/* its media (-mp, only the pcap play uses it) and control (-cp) ports:
	 * free ones, never the defaults 6000/8888 another SIPp may hold */
	int m = bench_free_port(), c = bench_free_port();
	if (m < 0 || c < 0)
		return -1;
	snprintf(mp, sizeof(mp), "%d", m);
	snprintf(cp, sizeof(cp), "%d", c);
	char *argv[64];
	int n = 0;
	argv[n++] = (char *)vs_binary();
	argv[n++] = remote;
	argv[n++] = "-sf";
	argv[n++] = sf;
	argv[n++] = "-i";
	argv[n++] = "127.0.0.1";
	argv[n++] = "-p";
	argv[n++] = lp;
	argv[n++] = "-mp";
	argv[n++] = mp;
	argv[n++] = "-cp";
	argv[n++] = cp;
	argv[n++] = "-nostdin";
	argv[n++] = "-trace_stat";
	argv[n++] = "-stf";
	argv[n++] = p->stat_path;
	argv[n++] = "-fd";
	argv[n++] = "1";
	argv[n++] = "-buff_size";
	argv[n++] = "4194304";
	for (int i = 0; extra && extra[i] && n < 62; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	/* the server's helper: PDEATHSIG, output to a file; exec by PATH */
	p->pid = bench_spawn_server(p->log_path, argv, NULL, NULL);
	return p->pid > 0 ? 0 : -1;
}

bool vs_alive(struct vs_proc *p)
{
	if (p->pid <= 0)
		return false;
	int st;
	if (bench_child_exited(p->pid, &st)) {
		p->pid = -(WIFEXITED(st) ? WEXITSTATUS(st) : 128) - 1000;
		return false;
	}
	return true;
}

void vs_kill(struct vs_proc *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGKILL);
		waitpid(p->pid, NULL, 0);
	}
	p->pid = 0;
}

int vs_wait(struct vs_proc *p, double timeout_s)
{
	double t0 = bench_now_s();
	while (vs_alive(p)) {
		if (bench_now_s() - t0 > timeout_s || bench_stop) {
			vs_kill(p);
			return -1;
		}
		bench_sleep_s(0.05);
	}
	return p->pid <= -1000 ? -(p->pid + 1000) : -1;
}

static double rtd_ms(const char *s)
{
	int h = 0, m = 0, sec = 0;
	long us = 0;
	if (sscanf(s, "%d:%d:%d:%ld", &h, &m, &sec, &us) == 4)
		return (h * 3600.0 + m * 60.0 + sec) * 1000.0 + (double)us / 1000.0;
	return -1;
}

struct vs_stats vs_read_stats(const struct vs_proc *p)
{
	struct vs_stats s;
	memset(&s, 0, sizeof(s));
	s.rtd_ms = -1;
	FILE *f = fopen(p->stat_path, "r");
	if (!f)
		return s;
	char *head = NULL, *last = NULL, *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		if (!head) {
			head = strdup(line);
		} else {
			free(last);
			last = strdup(line);
		}
	}
	free(line);
	fclose(f);
	if (head && last) {
		char *hs = NULL, *ls = NULL;
		char *h = strtok_r(head, ";\r\n", &hs);
		char *v = strtok_r(last, ";\r\n", &ls);
		while (h && v) {
			long x = strtol(v, NULL, 10);
#define COL(name, field)              \
	else if (strcmp(h, name) == 0) \
		s.field = x;
			if (0) {
			}
			COL("TotalCallCreated", created)
			COL("CurrentCall", current)
			COL("SuccessfulCall(C)", success)
			COL("FailedCall(C)", failed)
			COL("FailedCallRejected(C)", f_rejected)
			COL("FailedMaxUDPRetrans(C)", f_retrans)
			COL("FailedUnexpectedMessage(C)", f_unexpected)
			COL("FailedCmdNotSent(C)", f_aborted)
			COL("FailedTimeoutOnRecv(C)", f_timeout_recv)
			COL("FailedTimeoutOnSend(C)", f_timeout_send)
#undef COL
			else if (strcmp(h, "ResponseTime1(C)") == 0) s.rtd_ms = rtd_ms(v);
			h = strtok_r(NULL, ";\r\n", &hs);
			v = strtok_r(NULL, ";\r\n", &ls);
		}
		s.f_other = s.failed - s.f_rejected - s.f_retrans - s.f_unexpected - s.f_aborted -
			    s.f_timeout_recv - s.f_timeout_send;
		s.ok = true;
	}
	free(head);
	free(last);
	return s;
}

void vs_print_tail(const struct vs_proc *p, int lines)
{
	FILE *f = fopen(p->log_path, "r");
	if (!f)
		return;
	char *ring[40] = {0};
	int n = 0;
	char buf[512];
	if (lines > 40)
		lines = 40;
	while (fgets(buf, sizeof(buf), f)) {
		if (!buf[0] || buf[0] == '\n')
			continue;
		free(ring[n % lines]);
		ring[n % lines] = strdup(buf);
		n++;
	}
	fclose(f);
	for (int i = n > lines ? n - lines : 0; i < n; i++) {
		printf("     sipp: %s", ring[i % lines]);
		free(ring[i % lines]);
		ring[i % lines] = NULL;
	}
	for (int i = 0; i < 40; i++)
		free(ring[i]);
}

/* ---- registering the phones ---------------------------------------------------- */

void md5(const uint8_t *d, size_t n, uint8_t *md); /* libre (re_md5.h) */

static void md5_hex(const char *s, char out[33])
{
	uint8_t h[16];
	md5((const uint8_t *)s, strlen(s), h);
	for (int k = 0; k < 16; k++)
		snprintf(out + 2 * k, 3, "%02x", h[k]);
}

/* The value of param="…" (or param=token) in a header line. */
static void hdr_param(const char *h, const char *param, char *out, size_t size)
{
	out[0] = 0;
	const char *p = strcasestr(h, param);
	if (!p)
		return;
	p += strlen(param);
	bool q = *p == '"';
	if (q)
		p++;
	size_t k = 0;
	while (*p && k + 1 < size && (q ? *p != '"' : (*p != ',' && *p != '\r' && *p != ' ')))
		out[k++] = *p++;
	out[k] = 0;
}

enum { RG_NEW, RG_SENT1, RG_SENT2, RG_OK, RG_FAIL };

int vs_register(int sip_port, int local_port, char **users, int n, const char *pass,
		double timeout_s, char *first_err, size_t esize)
{
	if (first_err && esize)
		first_err[0] = 0;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in la = {.sin_family = AF_INET, .sin_port = htons((uint16_t)local_port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_in ra = la;
	ra.sin_port = htons((uint16_t)sip_port);
	if (bind(fd, (struct sockaddr *)&la, sizeof(la)) != 0) {
		close(fd);
		return -1;
	}
	struct timeval tv = {0, 50000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	uint8_t *st = calloc((size_t)n, 1), *tries = calloc((size_t)n, 1);
	double *sent_at = calloc((size_t)n, sizeof(double));
	char(*nonce)[128] = calloc((size_t)n, 128);
	if (!st || !tries || !sent_at || !nonce) {
		close(fd);
		free(st);
		free(tries);
		free(sent_at);
		free(nonce);
		return -1;
	}
	char uri[64], msg[2048], buf[4096];
	snprintf(uri, sizeof(uri), "sip:127.0.0.1:%d", sip_port);
	char ha2[33], a2[96];
	snprintf(a2, sizeof(a2), "REGISTER:%s", uri);
	md5_hex(a2, ha2);
	int ok = 0, done = 0, next = 0, inflight = 0;
	double t0 = bench_now_s();
	unsigned pid = (unsigned)getpid();
	while (done < n && bench_now_s() - t0 < timeout_s && !bench_stop) {
		double now = bench_now_s();
		/* new ones, then retransmissions */
		for (int i = 0; i < n; i++) {
			bool fresh = st[i] == RG_NEW && i == next && inflight < 200;
			bool again = (st[i] == RG_SENT1 || st[i] == RG_SENT2) && now - sent_at[i] > 1.0;
			if (!fresh && !again) {
				if (st[i] == RG_NEW && i > next)
					break;
				continue;
			}
			if (again && ++tries[i] > 5) {
				st[i] = RG_FAIL;
				done++;
				inflight--;
				continue;
			}
			if (fresh) {
				st[i] = RG_SENT1;
				next++;
				inflight++;
			}
			char auth[600] = "";
			int cseq = st[i] == RG_SENT1 ? 1 : 2;
			if (st[i] == RG_SENT2) {
				char a1[256], ha1[33], r[512], resp[33];
				snprintf(a1, sizeof(a1), "%s:hotline:%s", users[i], pass);
				md5_hex(a1, ha1);
				snprintf(r, sizeof(r), "%s:%s:00000001:bench%d:auth:%s", ha1, nonce[i], i, ha2);
				md5_hex(r, resp);
				snprintf(auth, sizeof(auth),
					 "Authorization: Digest username=\"%s\", realm=\"hotline\", "
					 "nonce=\"%s\", uri=\"%s\", response=\"%s\", algorithm=MD5, "
					 "qop=auth, nc=00000001, cnonce=\"bench%d\"\r\n",
					 users[i], nonce[i], uri, resp, i);
			}
			int len = snprintf(msg, sizeof(msg),
					   "REGISTER %s SIP/2.0\r\n"
					   "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-%u-%d-%d-%d\r\n"
					   "From: <sip:%s@127.0.0.1>;tag=b%d\r\n"
					   "To: <sip:%s@127.0.0.1>\r\n"
					   "Call-ID: reg-%d-%u@bench\r\n"
					   "CSeq: %d REGISTER\r\n"
					   "Contact: <sip:%s@127.0.0.1:%d;transport=udp>\r\n"
					   "%s"
					   "Max-Forwards: 70\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n",
					   uri, local_port, pid, i, cseq, tries[i], users[i], i, users[i], i,
					   pid, cseq, users[i], local_port, auth);
			sendto(fd, msg, (size_t)len, 0, (struct sockaddr *)&ra, sizeof(ra));
			sent_at[i] = now;
		}
		for (int rounds = 0; rounds < 400; rounds++) {
			ssize_t r = recv(fd, buf, sizeof(buf) - 1, rounds ? MSG_DONTWAIT : 0);
			if (r <= 0)
				break;
			buf[r] = 0;
			int code = strncmp(buf, "SIP/2.0 ", 8) == 0 ? (int)strtol(buf + 8, NULL, 10) : 0;
			char *cid = strcasestr(buf, "\nCall-ID: reg-");
			if (!cid || code < 200)
				continue;
			long li = strtol(cid + 14, NULL, 10);
			int i = li < 0 || li > n ? -1 : (int)li;
			if (i < 0 || i >= n || (st[i] != RG_SENT1 && st[i] != RG_SENT2))
				continue;
			char *cs = strcasestr(buf, "\nCSeq: ");
			int cseq = cs ? (int)strtol(cs + 7, NULL, 10) : 0;
			if (code == 401 && st[i] == RG_SENT1 && cseq == 1) {
				char *wa = strcasestr(buf, "\nWWW-Authenticate:");
				if (wa)
					hdr_param(wa, "nonce=", nonce[i], 128);
				st[i] = RG_SENT2;
				tries[i] = 0;
				sent_at[i] = 0; /* send now */
			} else if (code == 200 && st[i] == RG_SENT2 && cseq == 2) {
				st[i] = RG_OK;
				ok++;
				done++;
				inflight--;
			} else if (cseq == (st[i] == RG_SENT1 ? 1 : 2)) {
				if (first_err && esize && !first_err[0])
					snprintf(first_err, esize, "%s: %.*s", users[i],
						 (int)strcspn(buf, "\r\n"), buf);
				st[i] = RG_FAIL;
				done++;
				inflight--;
			}
		}
	}
	close(fd);
	free(st);
	free(tries);
	free(sent_at);
	free(nonce);
	return ok;
}
