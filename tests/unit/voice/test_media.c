/*
 * test_media.c: the voice channel's media layer (voice_media.h). G.711
 * against spandsp's reference codec for every code and every sample value;
 * RFC 4733 parsing and the DTMF detector (retransmissions, phones that
 * never send an end packet, in-band and RFC 4733 of one key press heard
 * once) with in-band tones made by spandsp's own generator through µ-law;
 * the phrases in every language; the prompt service inside a libre loop
 * (espeak-ng text, a 16 kHz stereo WAV, "..", the music loop, the LRU);
 * and recording (a 440 Hz tone written, fsynced and read back exactly).
 */
#include "voice/voice_media.h"
#include "base/base.h"
#include "test.h"

#include <re.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sndfile.h>
#include <spandsp.h>

/* ---- helpers ----------------------------------------------------------------------- */

/* Share of the signal's energy at freq (Goertzel): about 1 for a pure tone
 * at freq, about 0 for anything else. */
static double tone_share(const int16_t *x, size_t n, double freq, double rate)
{
	double coeff = 2 * cos(2 * M_PI * freq / rate), s1 = 0, s2 = 0, energy = 0;
	for (size_t i = 0; i < n; i++) {
		double s0 = x[i] + coeff * s1 - s2;
		s2 = s1;
		s1 = s0;
		energy += (double)x[i] * x[i];
	}
	double power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
	return energy > 0 ? 2 * power / ((double)n * energy) : 0;
}

static double rms(const int16_t *x, size_t n)
{
	double e = 0;
	for (size_t i = 0; i < n; i++)
		e += (double)x[i] * x[i];
	return n ? sqrt(e / (double)n) : 0;
}

static bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		int k = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2
			: (*p & 0xF8) == 0xF0 ? 3 : -1;
		if (k < 0 || (k == 1 && *p < 0xC2))
			return false;
		p++;
		for (int i = 0; i < k; i++, p++) {
			if ((*p & 0xC0) != 0x80)
				return false;
		}
	}
	return true;
}

static int64_t now_ms(void)
{
	return base_mono_us() / 1000;
}

/* Run the libre loop, calling cond(arg) every 20 ms, until it returns true
 * or timeout_ms pass. Returns the last result. */
struct poll_ctx {
	struct tmr t;
	bool (*cond)(void *);
	void *arg;
	int64_t deadline;
	bool ok;
};

static void poll_tick(void *arg)
{
	struct poll_ctx *c = arg;
	c->ok = c->cond(c->arg);
	if (c->ok || now_ms() > c->deadline) {
		re_cancel();
		return;
	}
	tmr_start(&c->t, 20, poll_tick, c);
}

static bool run_until(bool (*cond)(void *), void *arg, int timeout_ms)
{
	struct poll_ctx c = {.cond = cond, .arg = arg, .deadline = now_ms() + timeout_ms};
	tmr_init(&c.t);
	tmr_start(&c.t, 0, poll_tick, &c);
	(void)re_main(NULL);
	tmr_cancel(&c.t);
	return c.ok;
}

static char tmpdir[64];

static void make_tmpdir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/hl-test-media-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		exit(1);
	}
}

static void rm_rf(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char p[512];
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		struct stat st;
		if (!lstat(p, &st) && S_ISDIR(st.st_mode))
			rm_rf(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

/* ---- G.711 ------------------------------------------------------------------------------ */

static void test_g711(void)
{
	for (int c = 0; c < 256; c++) {
		/* the tables are G.711's expansion, as spandsp's */
		CHECK_EQ_INT(voice_ulaw2lin((uint8_t)c), ulaw_to_linear((uint8_t)c));
		CHECK_EQ_INT(voice_alaw2lin((uint8_t)c), alaw_to_linear((uint8_t)c));
		/* decode then encode is the identity, except µ-law's two zeros
		 * (0x7F is -0 and comes back as +0, 0xFF) */
		if (c != 0x7F)
			CHECK_EQ_INT(voice_lin2ulaw(voice_ulaw2lin((uint8_t)c)), c);
		CHECK_EQ_INT(voice_lin2alaw(voice_alaw2lin((uint8_t)c)), c);
	}
	CHECK_EQ_INT(voice_ulaw2lin(0x7F), 0);
	CHECK_EQ_INT(voice_ulaw2lin(0xFF), 0);
	CHECK_EQ_INT(voice_lin2ulaw(0), 0xFF);
	CHECK_EQ_INT(voice_lin2alaw(0), 0xD5);

	/* every sample value: the same code as spandsp, except for 127
	 * negative values on decision boundaries, which G.191's reference (and
	 * we) round the other way, never to a farther level; and back within half a quantization step (steps grow with
	 * the segment: |x|/16 bounds them, plus the top segment's clipping at
	 * ±32124 / ±32256) */
	int bad_u = 0, bad_a = 0, far_u = 0, far_a = 0, ties = 0;
	for (int x = -32768; x <= 32767; x++) {
		int16_t s = (int16_t)x;
		uint8_t mine = voice_lin2ulaw(s), ref = linear_to_ulaw(s);
		if (mine != ref) {
			ties++;
			if (x >= 0 || abs(voice_ulaw2lin(mine) - x) > abs(voice_ulaw2lin(ref) - x))
				bad_u++;
		}
		if (voice_lin2alaw(s) != linear_to_alaw(s))
			bad_a++;
		int eu = abs(voice_ulaw2lin(voice_lin2ulaw(s)) - x);
		int ea = abs(voice_alaw2lin(voice_lin2alaw(s)) - x);
		int tol = abs(x) / 16 + 8;
		if (eu > tol && abs(x) < 32124)
			far_u++;
		if (ea > tol && abs(x) < 32256)
			far_a++;
	}
	CHECK_EQ_INT(bad_u, 0);
	CHECK_EQ_INT(ties, 127); /* one per negative step but the top */
	CHECK_EQ_INT(bad_a, 0);
	CHECK_EQ_INT(far_u, 0);
	CHECK_EQ_INT(far_a, 0);

	/* the block functions agree with the sample functions */
	int16_t pcm[256], back[256];
	uint8_t enc[256];
	for (int i = 0; i < 256; i++)
		pcm[i] = (int16_t)(i * 251 - 32000);
	for (int alaw = 0; alaw < 2; alaw++) {
		voice_g711_encode(alaw, pcm, enc, 256);
		voice_g711_decode(alaw, enc, back, 256);
		int wrong = 0;
		for (int i = 0; i < 256; i++) {
			uint8_t e = alaw ? voice_lin2alaw(pcm[i]) : voice_lin2ulaw(pcm[i]);
			int16_t d = alaw ? voice_alaw2lin(e) : voice_ulaw2lin(e);
			wrong += enc[i] != e || back[i] != d;
		}
		CHECK_EQ_INT(wrong, 0);
	}
}

/* ---- RFC 4733 and DTMF ------------------------------------------------------------------ */

/* digits as spandsp's generator makes them (default level and timing:
 * -10 dBm0, 50 ms on, 55 ms off), then silence, through µ-law like a phone
 * line. *n samples, malloc'd. */
static int16_t *dtmf_line(const char *digits, size_t *n)
{
	dtmf_tx_state_t *tx = dtmf_tx_init(NULL);
	size_t cap = 8000 * 10, len = 0;
	int16_t *pcm = calloc(cap, sizeof(int16_t));
	if (!tx || !pcm)
		abort();
	dtmf_tx_put(tx, digits, -1);
	for (;;) {
		int k = dtmf_tx(tx, pcm + len, 160);
		if (k <= 0 || len + 160 > cap - 1600)
			break;
		len += (size_t)k;
	}
	len += 1600; /* 200 ms of silence: the last digit's end is seen */
	dtmf_tx_free(tx);
	for (size_t i = 0; i < len; i++)
		pcm[i] = voice_ulaw2lin(voice_lin2ulaw(pcm[i]));
	*n = len;
	return pcm;
}

/* Feed pcm in 20 ms frames from t0; digits appended to out. */
static size_t feed(struct voice_dtmf *d, const int16_t *pcm, size_t n, uint64_t t0, char *out,
		   size_t max)
{
	size_t k = 0;
	for (size_t off = 0; off < n; off += 160) {
		size_t len = n - off < 160 ? n - off : 160;
		k += voice_dtmf_audio(d, pcm + off, len, t0 + off / 8, out + k, max - k);
	}
	out[k] = '\0';
	return k;
}

static void test_dtmf_inband(void)
{
	struct voice_dtmf *d;
	REQUIRE(voice_dtmf_alloc(&d) == 0);
	size_t n;
	int16_t *pcm = dtmf_line("159#*0ABCD", &n);
	char got[32];
	feed(d, pcm, n, 1000, got, sizeof(got) - 1);
	CHECK_EQ_STR(got, "159#*0ABCD");
	free(pcm);

	/* a 1 kHz tone and a chord of speech-band tones are not digits */
	int16_t *noise = calloc(16000, sizeof(int16_t));
	REQUIRE(noise);
	for (int i = 0; i < 16000; i++)
		noise[i] = (int16_t)(8000 * sin(2 * M_PI * 1000 * i / 8000.0) +
				     3000 * sin(2 * M_PI * 300 * i / 8000.0));
	feed(d, noise, 16000, 5000, got, sizeof(got) - 1);
	CHECK_EQ_STR(got, "");
	free(noise);

	/* max: digits beyond it wait for the next call */
	pcm = dtmf_line("12", &n);
	char one[2];
	size_t k = 0;
	for (size_t off = 0; off < n; off += 160)
		k += voice_dtmf_audio(d, pcm + off, n - off < 160 ? n - off : 160, 9000 + off / 8,
				      one, 0);
	CHECK_EQ_INT(k, 0);
	CHECK_EQ_INT(voice_dtmf_audio(d, pcm, 0, 10000, one, 1), 1);
	CHECK(one[0] == '1');
	CHECK_EQ_INT(voice_dtmf_audio(d, pcm, 0, 10000, one, 1), 1);
	CHECK(one[0] == '2');
	CHECK_EQ_INT(voice_dtmf_audio(d, pcm, 0, 10000, one, 1), 0);
	free(pcm);
	voice_dtmf_free(d);
	voice_dtmf_free(NULL);
}

static void te(uint8_t *p, uint8_t event, bool end, uint16_t dur)
{
	p[0] = event;
	p[1] = (uint8_t)((end ? 0x80 : 0) | 10);
	p[2] = (uint8_t)(dur >> 8);
	p[3] = (uint8_t)dur;
}

static void test_te(void)
{
	struct voice_te t;
	uint8_t p[8];
	te(p, 5, true, 800);
	CHECK_EQ_INT(voice_te_parse(p, 4, &t), 0);
	CHECK(t.digit == '5' && t.event == 5 && t.end && t.volume == 10 && t.duration == 800);
	te(p, 11, false, 0x1234);
	p[1] |= 0x40; /* R bit: ignored */
	CHECK_EQ_INT(voice_te_parse(p, 8, &t), 0);
	CHECK(t.digit == '#' && !t.end && t.volume == 10 && t.duration == 0x1234);
	const char *keys = "0123456789*#ABCD";
	for (int e = 0; e < 256; e++) {
		te(p, (uint8_t)e, false, 0);
		REQUIRE(voice_te_parse(p, 4, &t) == 0);
		CHECK(t.digit == (e < 16 ? keys[e] : 0));
	}
	CHECK_EQ_INT(voice_te_parse(p, 3, &t), -EINVAL);
	CHECK_EQ_INT(voice_te_parse(NULL, 0, &t), -EINVAL);
}

static void test_dtmf_events(void)
{
	struct voice_dtmf *d;
	REQUIRE(voice_dtmf_alloc(&d) == 0);
	uint8_t p[4];
	uint64_t t = 100000;

	/* the start sent three times, continuations, the end three times:
	 * one digit */
	te(p, 5, false, 0);
	CHECK(voice_dtmf_event(d, 1000, p, 4, t) == '5');
	CHECK(voice_dtmf_event(d, 1000, p, 4, t) == 0);
	CHECK(voice_dtmf_event(d, 1000, p, 4, t) == 0);
	for (int i = 1; i < 5; i++) {
		te(p, 5, false, (uint16_t)(160 * i));
		CHECK(voice_dtmf_event(d, 1000, p, 4, t + 20 * (uint64_t)i) == 0);
	}
	te(p, 5, true, 800);
	for (int i = 0; i < 3; i++)
		CHECK(voice_dtmf_event(d, 1000, p, 4, t + 100) == 0);

	/* the same key again with no end packet ever, then again: two */
	te(p, 1, false, 160);
	CHECK(voice_dtmf_event(d, 9000, p, 4, t + 1000) == '1');
	CHECK(voice_dtmf_event(d, 9000, p, 4, t + 1020) == 0);
	CHECK(voice_dtmf_event(d, 12000, p, 4, t + 1400) == '1');
	/* a late retransmission of the first one: not a third */
	CHECK(voice_dtmf_event(d, 9000, p, 4, t + 1420) == 0);
	/* an end packet whose start was lost still counts, once */
	te(p, 2, true, 800);
	CHECK(voice_dtmf_event(d, 15000, p, 4, t + 2000) == '2');
	CHECK(voice_dtmf_event(d, 15000, p, 4, t + 2000) == 0);
	/* other events (16: flash) and short payloads count for nothing */
	te(p, 16, false, 160);
	CHECK(voice_dtmf_event(d, 18000, p, 4, t + 3000) == 0);
	CHECK(voice_dtmf_event(d, 19000, p, 3, t + 3000) == 0);
	/* a key held past the 16-bit duration goes on in a new segment
	 * (RFC 4733 2.5.2.1): still one press */
	te(p, 9, false, 0xFFFF);
	CHECK(voice_dtmf_event(d, 30000, p, 4, t + 4000) == '9');
	te(p, 9, false, 160);
	CHECK(voice_dtmf_event(d, 30000 + 0xFFFF, p, 4, t + 12200) == 0);
	te(p, 9, true, 800);
	CHECK(voice_dtmf_event(d, 30000 + 0xFFFF, p, 4, t + 12300) == 0);
	voice_dtmf_free(d);
}

/* A phone that sends a key both ways: heard once, whichever comes first. */
static void test_dtmf_both(void)
{
	struct voice_dtmf *d;
	REQUIRE(voice_dtmf_alloc(&d) == 0);
	uint8_t p[4];
	char got[16];
	size_t n;
	int16_t *seven = dtmf_line("7", &n);

	/* the event first, the tone right behind it */
	te(p, 7, false, 0);
	CHECK(voice_dtmf_event(d, 1000, p, 4, 50000) == '7');
	feed(d, seven, n, 50020, got, sizeof(got) - 1);
	CHECK_EQ_STR(got, "");
	te(p, 7, true, 400);
	CHECK(voice_dtmf_event(d, 1000, p, 4, 50060) == 0);

	/* in-band alone, well after: heard */
	feed(d, seven, n, 52000, got, sizeof(got) - 1);
	CHECK_EQ_STR(got, "7");

	/* the tone first (detected near 52000 + 50 ms), the event 200 ms
	 * later: not again; a later press as an event counts */
	te(p, 7, false, 0);
	CHECK(voice_dtmf_event(d, 5000, p, 4, 52250) == 0);
	CHECK(voice_dtmf_event(d, 9000, p, 4, 54000) == '7');
	/* another key in-band 500 ms after the last event: heard */
	int16_t *eight = dtmf_line("8", &n);
	feed(d, eight, n, 54600, got, sizeof(got) - 1);
	CHECK_EQ_STR(got, "8");
	free(seven);
	free(eight);
	voice_dtmf_free(d);
}

/* ---- phrases ---------------------------------------------------------------------------- */

static const char *const langs[] = {"en", "sv", "de", "hu", "lt"};

static void test_phrases(void)
{
	char buf[512], en[512];
	unsigned vals[][2] = {{3, 2}, {1, 1}, {12, 0}, {5, 21}, {40, 11}, {1000, 10}};
	for (size_t l = 0; l < 5; l++) {
		for (int ph = VOICE_PHRASE_POSITION; ph <= VOICE_PHRASE_UNAVAILABLE; ph++) {
			for (size_t v = 0; v < sizeof(vals) / sizeof(vals[0]); v++) {
				unsigned a = vals[v][0], b = vals[v][1];
				size_t n = voice_phrase_text(langs[l], (enum voice_phrase)ph, a, b, buf,
							     sizeof(buf));
				CHECK(n > 10 && n == strlen(buf));
				CHECK(utf8_valid(buf));
				char num[16];
				if (ph == VOICE_PHRASE_POSITION) {
					snprintf(num, sizeof(num), "%u", a);
					CHECK(strstr(buf, num) != NULL);
					snprintf(num, sizeof(num), " %u ", b);
					CHECK(!b || strstr(buf, num) != NULL);
				}
				if (ph == VOICE_PHRASE_CALLBACK_OFFER && a <= 9) {
					snprintf(num, sizeof(num), "%u", a);
					CHECK(strstr(buf, num) != NULL);
				}
				if (l > 0) {
					voice_phrase_text("en", (enum voice_phrase)ph, a, b, en,
							  sizeof(en));
					CHECK(strcmp(buf, en) != 0); /* translated */
				}
				/* every buffer size: a prefix, valid UTF-8 */
				char full[512];
				snprintf(full, sizeof(full), "%s", buf);
				for (size_t size = 1; size <= n + 1; size++) {
					char small[512];
					size_t k = voice_phrase_text(langs[l], (enum voice_phrase)ph, a,
								     b, small, size);
					if (k != strlen(small) || k >= size || !utf8_valid(small) ||
					    strncmp(small, full, k) != 0 || (size > n && k != n)) {
						CHECK(!"truncation");
						break;
					}
				}
			}
		}
	}
	/* singular and plural */
	struct {
		const char *lang;
		unsigned b;
		const char *want;
	} forms[] = {
		{"en", 1, "1 minute."},   {"en", 2, "2 minutes."},   {"sv", 1, "1 minut."},
		{"sv", 5, "5 minuter."},  {"de", 1, "1 Minute."},    {"de", 3, "3 Minuten."},
		{"hu", 1, "1 perc."},     {"hu", 7, "7 perc."},      {"lt", 1, "1 minutė."},
		{"lt", 2, "2 minutės."},  {"lt", 10, "10 minučių."}, {"lt", 11, "11 minučių."},
		{"lt", 21, "21 minutė."}, {"lt", 25, "25 minutės."}, {"lt", 30, "30 minučių."},
	};
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		voice_phrase_text(forms[i].lang, VOICE_PHRASE_POSITION, 4, forms[i].b, buf,
				  sizeof(buf));
		if (!strstr(buf, forms[i].want))
			fprintf(stderr, "  %s b=%u: \"%s\" lacks \"%s\"\n", forms[i].lang,
				forms[i].b, buf, forms[i].want);
		CHECK(strstr(buf, forms[i].want) != NULL);
	}
	/* Hungarian articles follow the spoken number */
	voice_phrase_text("hu", VOICE_PHRASE_POSITION, 5, 0, buf, sizeof(buf));
	CHECK(strstr(buf, " az 5. ") != NULL);
	voice_phrase_text("hu", VOICE_PHRASE_POSITION, 3, 0, buf, sizeof(buf));
	CHECK(strstr(buf, " a 3. ") != NULL);
	voice_phrase_text("hu", VOICE_PHRASE_POSITION, 1500, 0, buf, sizeof(buf));
	CHECK(strstr(buf, " az 1500. ") != NULL);
	voice_phrase_text("hu", VOICE_PHRASE_POSITION, 100, 0, buf, sizeof(buf));
	CHECK(strstr(buf, " a 100. ") != NULL);
	/* the key: a digit or its character; star and hash as words */
	voice_phrase_text("en", VOICE_PHRASE_CALLBACK_OFFER, 1, 0, buf, sizeof(buf));
	voice_phrase_text("en", VOICE_PHRASE_CALLBACK_OFFER, '1', 0, en, sizeof(en));
	CHECK_EQ_STR(buf, en);
	CHECK(strstr(buf, "press 1.") != NULL);
	voice_phrase_text("sv", VOICE_PHRASE_CALLBACK_OFFER, '*', 0, buf, sizeof(buf));
	CHECK(strstr(buf, "stjärna") != NULL);
	voice_phrase_text("de", VOICE_PHRASE_CALLBACK_OFFER, '#', 0, buf, sizeof(buf));
	CHECK(strstr(buf, "Rautetaste") != NULL);
	/* languages: unknown ones are English; region suffixes are ignored */
	voice_phrase_text("en", VOICE_PHRASE_CLOSED, 0, 0, en, sizeof(en));
	const char *as_en[] = {"xx", "", "e", "english", "fr", NULL};
	for (size_t i = 0; i < sizeof(as_en) / sizeof(as_en[0]); i++) {
		voice_phrase_text(as_en[i], VOICE_PHRASE_CLOSED, 0, 0, buf, sizeof(buf));
		CHECK_EQ_STR(buf, en);
	}
	voice_phrase_text("sv", VOICE_PHRASE_CLOSED, 0, 0, en, sizeof(en));
	voice_phrase_text("SV_fi", VOICE_PHRASE_CLOSED, 0, 0, buf, sizeof(buf));
	CHECK_EQ_STR(buf, en);
	/* not a phrase: empty; no buffer: nothing written */
	CHECK_EQ_INT(voice_phrase_text("en", (enum voice_phrase)99, 0, 0, buf, sizeof(buf)), 0);
	CHECK_EQ_STR(buf, "");
	CHECK_EQ_INT(voice_phrase_text("en", VOICE_PHRASE_CLOSED, 0, 0, buf, 0), 0);
}

/* ---- prompts ---------------------------------------------------------------------------- */

struct prompt_wait {
	struct voice_prompts *p;
	const char *lang[2], *text[2], *file;
	struct voice_audio *a[2], *f;
	int64_t started, took[2];
};

static bool prompts_ready(void *arg)
{
	struct prompt_wait *w = arg;
	for (int i = 0; i < 2; i++) {
		if (!w->a[i]) {
			w->a[i] = voice_prompt_text(w->p, w->lang[i], w->text[i]);
			if (w->a[i])
				w->took[i] = now_ms() - w->started;
		}
	}
	if (!w->f)
		w->f = voice_prompt_file(w->p, w->file);
	return w->a[0] && w->a[1] && w->f;
}

static bool prompts_idle(void *arg)
{
	return voice_prompts_idle(arg);
}

/* 1 s of a 1 kHz tone at 16 kHz in stereo (both channels). */
static int write_tone_wav(const char *path)
{
	SF_INFO info = {.samplerate = 16000, .channels = 2, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
	SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
	if (!sf)
		return -1;
	int16_t fr[2];
	for (int i = 0; i < 16000; i++) {
		fr[0] = fr[1] = (int16_t)lrint(10000 * sin(2 * M_PI * 1000 * i / 16000.0));
		sf_writef_short(sf, fr, 1);
	}
	return sf_close(sf);
}

static void test_prompts(void)
{
	char dir[128], wav[160];
	snprintf(dir, sizeof(dir), "%s/prompts", tmpdir);
	REQUIRE(mkdir(dir, 0700) == 0);
	snprintf(wav, sizeof(wav), "%s/tone.wav", dir);
	REQUIRE(write_tone_wav(wav) == 0);

	struct voice_prompts *p;
	REQUIRE(voice_prompts_start(&p, dir, 8u << 20) == 0);
	char sv[256];
	voice_phrase_text("sv", VOICE_PHRASE_POSITION, 3, 0, sv, sizeof(sv));
	struct prompt_wait w = {.p = p,
				.lang = {"en", "sv"},
				.text = {"You are number 3 in the queue", sv},
				.file = "tone.wav",
				.started = now_ms()};
	bool ok = run_until(prompts_ready, &w, 10000);
	CHECK(ok);
	for (int i = 0; i < 2; i++) {
		if (!w.a[i])
			continue;
		double secs = (double)w.a[i]->n / 8000, r = rms(w.a[i]->pcm, w.a[i]->n);
		printf("  espeak-ng %s \"%s\": %.2f s of audio, RMS %.0f, ready after %lld ms\n",
		       w.lang[i], w.text[i], secs, r, (long long)w.took[i]);
		CHECK(secs > 0.5 && secs < 10);
		CHECK(r > 300);
	}
	if (w.f) {
		/* 16000 frames at 16 kHz: 8000 at 8 kHz, the tone intact */
		CHECK_EQ_INT(w.f->n, 8000);
		double share = tone_share(w.f->pcm + 200, w.f->n - 400, 1000, 8000);
		double r = rms(w.f->pcm + 200, w.f->n - 400);
		CHECK(share > 0.95);
		CHECK_NEAR(r, 10000 / sqrt(2), 0, 0.05);
		/* starts on time: the resampler's delay is skipped */
		CHECK(rms(w.f->pcm, 40) > 3000);
	}
	/* cached: the same buffer again at once */
	struct voice_audio *again = voice_prompt_text(p, "en", "You are number 3 in the queue");
	CHECK(again && again == w.a[0]);
	voice_audio_unref(again);

	/* refused without a job: NULL now and later */
	CHECK(voice_prompt_file(p, "../prompts/tone.wav") == NULL);
	CHECK(voice_prompt_file(p, "a/..b.wav") == NULL);
	CHECK(voice_prompts_idle(p));
	CHECK(voice_prompt_text(p, "sv; rm", "hej") == NULL);
	CHECK(voice_prompts_idle(p));
	/* a missing file and an unknown voice fail once and stay NULL */
	CHECK(voice_prompt_file(p, "missing.wav") == NULL);
	CHECK(voice_prompt_text(p, "zz-nolang", "hello") == NULL);
	CHECK(run_until(prompts_idle, p, 10000));
	CHECK(voice_prompt_file(p, "missing.wav") == NULL);
	CHECK(voice_prompt_text(p, "zz-nolang", "hello") == NULL);
	CHECK(voice_prompts_idle(p));
	/* absolute names work too */
	struct voice_audio *by_path = NULL;
	for (int i = 0; i < 500 && !by_path; i++) {
		by_path = voice_prompt_file(p, wav);
		if (!by_path)
			run_until(prompts_idle, p, 100);
	}
	CHECK(by_path && by_path->n == 8000);
	voice_audio_unref(by_path);

	/* the music: 8-16 s, loud enough, no clipping, and no click where it
	 * loops: the jump from the last sample to the first is no bigger
	 * than the largest step inside the music */
	struct voice_audio *m = voice_prompt_music(p);
	REQUIRE(m && m->n >= 8 * 8000 && m->n <= 16 * 8000);
	int peak = 0, step = 0;
	for (size_t i = 0; i < m->n; i++) {
		peak = abs(m->pcm[i]) > peak ? abs(m->pcm[i]) : peak;
		if (i)
			step = abs(m->pcm[i] - m->pcm[i - 1]) > step ? abs(m->pcm[i] - m->pcm[i - 1])
								     : step;
	}
	int wrap = abs(m->pcm[m->n - 1] - m->pcm[0]);
	printf("  music: %.1f s, peak %d, RMS %.0f, loop jump %d (largest step %d)\n",
	       (double)m->n / 8000, peak, rms(m->pcm, m->n), wrap, step);
	CHECK(peak < 32000 && peak > 4000);
	CHECK(rms(m->pcm, m->n) > 1000);
	CHECK(wrap <= step && wrap < 2000);
	voice_audio_unref(m);

	/* references outlive the service */
	struct voice_audio *keep = voice_audio_ref(w.a[1]);
	voice_audio_unref(w.a[0]);
	voice_audio_unref(w.a[1]);
	voice_audio_unref(w.f);
	voice_prompts_stop(p);
	CHECK(keep->n > 4000 && rms(keep->pcm, keep->n) > 300);
	voice_audio_unref(keep);
	voice_prompts_stop(NULL);
	voice_audio_unref(NULL);
}

struct one_wait {
	struct voice_prompts *p;
	const char *text;
	struct voice_audio *a;
};

static bool one_ready(void *arg)
{
	struct one_wait *w = arg;
	w->a = voice_prompt_text(w->p, "en", w->text);
	return w->a != NULL;
}

/* A cache smaller than one prompt keeps only the latest. */
static void test_prompt_lru(void)
{
	struct voice_prompts *p;
	REQUIRE(voice_prompts_start(&p, NULL, 1000) == 0);
	struct one_wait a = {p, "first", NULL}, b = {p, "second", NULL};
	REQUIRE(run_until(one_ready, &a, 10000));
	REQUIRE(run_until(one_ready, &b, 10000));
	struct voice_audio *y = voice_prompt_text(p, "en", "second");
	CHECK(y == b.a);
	voice_audio_unref(y);
	/* evicted: rendered again (which evicts "second") */
	CHECK(voice_prompt_text(p, "en", "first") == NULL);
	struct voice_audio *old = a.a;
	CHECK(run_until(one_ready, &a, 10000));
	CHECK(a.a != old);
	/* espeak-ng carries a little context from one text to the next, so
	 * the same text is not always the same length to the sample */
	CHECK(a.a && fabs((double)a.a->n - (double)old->n) < 0.2 * (double)old->n);
	voice_audio_unref(old);
	voice_audio_unref(a.a);
	voice_audio_unref(b.a);
	/* no directory: relative names are refused */
	CHECK(voice_prompt_file(p, "tone.wav") == NULL);
	CHECK(voice_prompts_idle(p));
	voice_prompts_stop(p);
}

/* ---- recording -------------------------------------------------------------------------- */

struct rec_wait {
	int calls;
	struct voice_rec_info info;
	char file[64];
};

static void rec_done(const struct voice_rec_info *info, void *arg)
{
	struct rec_wait *w = arg;
	w->calls++;
	w->info = *info;
	snprintf(w->file, sizeof(w->file), "%s", info->file);
	w->info.file = w->file;
}

static bool rec_finished(void *arg)
{
	return ((struct rec_wait *)arg)->calls > 0;
}

static void test_recording(void)
{
	char dir[128], path[512];
	snprintf(dir, sizeof(dir), "%s/rec/a/b", tmpdir); /* created, -p */
	struct voice_rec *r;
	REQUIRE(voice_rec_start(&r, dir) == 0);

	int16_t tone[8000];
	for (int i = 0; i < 8000; i++)
		tone[i] = (int16_t)lrint(12000 * sin(2 * M_PI * 440 * i / 8000.0));
	struct rec_wait w = {0};
	struct voice_recording *rc;
	int64_t t0 = base_wall_ms();
	REQUIRE(voice_recording_open(r, 42, rec_done, &w, &rc) == 0);
	for (int i = 0; i < 8000; i += 160)
		voice_recording_put(rc, tone + i, 160);
	voice_recording_close(rc);
	CHECK(run_until(rec_finished, &w, 10000));
	CHECK_EQ_INT(w.calls, 1);
	CHECK_EQ_INT(w.info.err, 0);
	CHECK_EQ_INT(w.info.call, 42);
	CHECK_EQ_INT(w.info.duration_ms, 1000);
	CHECK_EQ_INT(w.info.bytes, 44 + 16000);
	long long ms = 0;
	CHECK(sscanf(w.file, "42-%lld.wav", &ms) == 1 && ms >= t0 && ms <= base_wall_ms());

	snprintf(path, sizeof(path), "%s/%s", dir, w.file);
	SF_INFO info = {0};
	SNDFILE *sf = sf_open(path, SFM_READ, &info);
	REQUIRE(sf);
	CHECK_EQ_INT(info.samplerate, 8000);
	CHECK_EQ_INT(info.channels, 1);
	CHECK_EQ_INT(info.frames, 8000);
	CHECK_EQ_INT(info.format, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
	int16_t back[8000];
	CHECK_EQ_INT(sf_readf_short(sf, back, 8000), 8000);
	sf_close(sf);
	CHECK(memcmp(back, tone, sizeof(tone)) == 0);
	CHECK(tone_share(back, 8000, 440, 8000) > 0.95);

	/* more than 5 s in one go is more than the writer may lag: dropped;
	 * the rest of the recording is kept */
	struct rec_wait w2 = {0};
	REQUIRE(voice_recording_open(r, 43, rec_done, &w2, &rc) == 0);
	int16_t *big = calloc(6 * 8000, sizeof(int16_t));
	REQUIRE(big);
	voice_recording_put(rc, big, 6 * 8000);
	free(big);
	voice_recording_put(rc, tone, 160);
	voice_recording_close(rc);
	CHECK(run_until(rec_finished, &w2, 10000));
	CHECK_EQ_INT(w2.info.err, 0);
	CHECK_EQ_INT(w2.info.duration_ms, 20);

	/* a recording still open at stop is finished, without a callback */
	struct rec_wait w3 = {0};
	REQUIRE(voice_recording_open(r, 44, rec_done, &w3, &rc) == 0);
	voice_recording_put(rc, tone, 800);
	voice_rec_stop(r);
	CHECK_EQ_INT(w3.calls, 0);
	int found = 0;
	DIR *d = opendir(dir);
	REQUIRE(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "44-", 3))
			continue;
		found++;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		memset(&info, 0, sizeof(info));
		sf = sf_open(path, SFM_READ, &info);
		CHECK(sf && info.frames == 800);
		if (sf)
			sf_close(sf);
	}
	closedir(d);
	CHECK_EQ_INT(found, 1);

	/* the directory vanished: the error is reported, no file left */
	snprintf(dir, sizeof(dir), "%s/rec2", tmpdir);
	REQUIRE(voice_rec_start(&r, dir) == 0);
	REQUIRE(rmdir(dir) == 0);
	struct rec_wait w4 = {0};
	REQUIRE(voice_recording_open(r, 45, rec_done, &w4, &rc) == 0);
	voice_recording_put(rc, tone, 160);
	voice_recording_close(rc);
	CHECK(run_until(rec_finished, &w4, 10000));
	CHECK_EQ_INT(w4.info.err, -ENOENT);
	CHECK_EQ_INT(w4.info.bytes, 0);
	voice_rec_stop(r);

	/* a file where the directory should be */
	snprintf(path, sizeof(path), "%s/prompts/tone.wav/rec", tmpdir);
	CHECK(voice_rec_start(&r, path) < 0);
	voice_rec_stop(NULL);
}

int main(void)
{
	base_log_set_level(BASE_LOG_ERROR);
	if (libre_init())
		return 1;
	make_tmpdir();
	TEST_RUN(test_g711);
	TEST_RUN(test_te);
	TEST_RUN(test_dtmf_inband);
	TEST_RUN(test_dtmf_events);
	TEST_RUN(test_dtmf_both);
	TEST_RUN(test_phrases);
	TEST_RUN(test_prompts);
	TEST_RUN(test_prompt_lru);
	TEST_RUN(test_recording);
	rm_rf(tmpdir);
	libre_close();
	TEST_MAIN_END();
}
