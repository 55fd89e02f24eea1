/*
 * voice_media.c: the pure audio helpers of the voice channel (contract in
 * voice_media.h): G.711 µ-law/A-law, RFC 4733 telephone-event payloads,
 * the per-leg DTMF detector that merges RFC 4733 events with in-band tones
 * (spandsp's dtmf_rx), and the sentences the IVR speaks in each language.
 *
 * Nothing here keeps global state or does I/O; everything runs on the
 * thread that calls it (the core thread's 20 ms media tick in practice).
 */
#include "voice/voice_media.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* spandsp.h pulls in all of spandsp (and libtiff's header, for fax); the
 * DTMF receiver needs only these, in this order. */
#include <spandsp/telephony.h>
#include <spandsp/logging.h>
#include <spandsp/super_tone_rx.h>
#include <spandsp/dtmf.h>

/* ---- G.711 ------------------------------------------------------------------- */

/* Encoding is ITU-T G.711 as in G.191's reference code: a negative sample
 * x is coded as the mirror of -x-1 (one's complement), so the code book is
 * symmetric. spandsp's linear_to_alaw gives the same codes for every input;
 * its linear_to_ulaw differs on 127 negative values at decision
 * boundaries, where it picks a level as far or farther (the unit test
 * checks this for every sample value).
 * Decoding is a table: one load per sample on the media path. The tables
 * are the G.711 expansions (identical to spandsp's ulaw_to_linear and
 * alaw_to_linear, which the unit test checks for all 256 codes). */
static const int16_t ulaw_table[256] = {
	-32124, -31100, -30076, -29052, -28028, -27004, -25980, -24956,
	-23932, -22908, -21884, -20860, -19836, -18812, -17788, -16764,
	-15996, -15484, -14972, -14460, -13948, -13436, -12924, -12412,
	-11900, -11388, -10876, -10364,  -9852,  -9340,  -8828,  -8316,
	 -7932,  -7676,  -7420,  -7164,  -6908,  -6652,  -6396,  -6140,
	 -5884,  -5628,  -5372,  -5116,  -4860,  -4604,  -4348,  -4092,
	 -3900,  -3772,  -3644,  -3516,  -3388,  -3260,  -3132,  -3004,
	 -2876,  -2748,  -2620,  -2492,  -2364,  -2236,  -2108,  -1980,
	 -1884,  -1820,  -1756,  -1692,  -1628,  -1564,  -1500,  -1436,
	 -1372,  -1308,  -1244,  -1180,  -1116,  -1052,   -988,   -924,
	  -876,   -844,   -812,   -780,   -748,   -716,   -684,   -652,
	  -620,   -588,   -556,   -524,   -492,   -460,   -428,   -396,
	  -372,   -356,   -340,   -324,   -308,   -292,   -276,   -260,
	  -244,   -228,   -212,   -196,   -180,   -164,   -148,   -132,
	  -120,   -112,   -104,    -96,    -88,    -80,    -72,    -64,
	   -56,    -48,    -40,    -32,    -24,    -16,     -8,      0,
	 32124,  31100,  30076,  29052,  28028,  27004,  25980,  24956,
	 23932,  22908,  21884,  20860,  19836,  18812,  17788,  16764,
	 15996,  15484,  14972,  14460,  13948,  13436,  12924,  12412,
	 11900,  11388,  10876,  10364,   9852,   9340,   8828,   8316,
	  7932,   7676,   7420,   7164,   6908,   6652,   6396,   6140,
	  5884,   5628,   5372,   5116,   4860,   4604,   4348,   4092,
	  3900,   3772,   3644,   3516,   3388,   3260,   3132,   3004,
	  2876,   2748,   2620,   2492,   2364,   2236,   2108,   1980,
	  1884,   1820,   1756,   1692,   1628,   1564,   1500,   1436,
	  1372,   1308,   1244,   1180,   1116,   1052,    988,    924,
	   876,    844,    812,    780,    748,    716,    684,    652,
	   620,    588,    556,    524,    492,    460,    428,    396,
	   372,    356,    340,    324,    308,    292,    276,    260,
	   244,    228,    212,    196,    180,    164,    148,    132,
	   120,    112,    104,     96,     88,     80,     72,     64,
	    56,     48,     40,     32,     24,     16,      8,      0,
};
static const int16_t alaw_table[256] = {
	 -5504,  -5248,  -6016,  -5760,  -4480,  -4224,  -4992,  -4736,
	 -7552,  -7296,  -8064,  -7808,  -6528,  -6272,  -7040,  -6784,
	 -2752,  -2624,  -3008,  -2880,  -2240,  -2112,  -2496,  -2368,
	 -3776,  -3648,  -4032,  -3904,  -3264,  -3136,  -3520,  -3392,
	-22016, -20992, -24064, -23040, -17920, -16896, -19968, -18944,
	-30208, -29184, -32256, -31232, -26112, -25088, -28160, -27136,
	-11008, -10496, -12032, -11520,  -8960,  -8448,  -9984,  -9472,
	-15104, -14592, -16128, -15616, -13056, -12544, -14080, -13568,
	  -344,   -328,   -376,   -360,   -280,   -264,   -312,   -296,
	  -472,   -456,   -504,   -488,   -408,   -392,   -440,   -424,
	   -88,    -72,   -120,   -104,    -24,     -8,    -56,    -40,
	  -216,   -200,   -248,   -232,   -152,   -136,   -184,   -168,
	 -1376,  -1312,  -1504,  -1440,  -1120,  -1056,  -1248,  -1184,
	 -1888,  -1824,  -2016,  -1952,  -1632,  -1568,  -1760,  -1696,
	  -688,   -656,   -752,   -720,   -560,   -528,   -624,   -592,
	  -944,   -912,  -1008,   -976,   -816,   -784,   -880,   -848,
	  5504,   5248,   6016,   5760,   4480,   4224,   4992,   4736,
	  7552,   7296,   8064,   7808,   6528,   6272,   7040,   6784,
	  2752,   2624,   3008,   2880,   2240,   2112,   2496,   2368,
	  3776,   3648,   4032,   3904,   3264,   3136,   3520,   3392,
	 22016,  20992,  24064,  23040,  17920,  16896,  19968,  18944,
	 30208,  29184,  32256,  31232,  26112,  25088,  28160,  27136,
	 11008,  10496,  12032,  11520,   8960,   8448,   9984,   9472,
	 15104,  14592,  16128,  15616,  13056,  12544,  14080,  13568,
	   344,    328,    376,    360,    280,    264,    312,    296,
	   472,    456,    504,    488,    408,    392,    440,    424,
	    88,     72,    120,    104,     24,      8,     56,     40,
	   216,    200,    248,    232,    152,    136,    184,    168,
	  1376,   1312,   1504,   1440,   1120,   1056,   1248,   1184,
	  1888,   1824,   2016,   1952,   1632,   1568,   1760,   1696,
	   688,    656,    752,    720,    560,    528,    624,    592,
	   944,    912,   1008,    976,    816,    784,    880,    848,
};

static int top_bit(unsigned x)
{
	return 31 - __builtin_clz(x);
}

uint8_t voice_lin2ulaw(int16_t s)
{
	/* Bias by 0x84 so every segment starts at a power of two, then the
	 * segment is the position of the top bit; the code is stored inverted
	 * (G.711's choice: it keeps the line busy with ones in silence). */
	int linear = s, mask;
	if (linear < 0) {
		linear = 0x84 - linear - 1;
		mask = 0x7F;
	} else {
		linear = 0x84 + linear;
		mask = 0xFF;
	}
	int seg = top_bit((unsigned)linear | 0xFF) - 7;
	if (seg >= 8)
		return (uint8_t)(0x7F ^ mask);
	return (uint8_t)(((seg << 4) | ((linear >> (seg + 3)) & 0xF)) ^ mask);
}

uint8_t voice_lin2alaw(int16_t s)
{
	/* A-law: no bias, segment 0 is linear; even bits toggled (0x55). */
	int linear = s, mask;
	if (linear >= 0) {
		mask = 0x55 | 0x80;
	} else {
		mask = 0x55;
		linear = -linear - 1;
	}
	int seg = top_bit((unsigned)linear | 0xFF) - 7;
	if (seg >= 8)
		return (uint8_t)(0x7F ^ mask);
	return (uint8_t)(((seg << 4) | ((linear >> (seg ? seg + 3 : 4)) & 0x0F)) ^ mask);
}

int16_t voice_ulaw2lin(uint8_t u)
{
	return ulaw_table[u];
}

int16_t voice_alaw2lin(uint8_t a)
{
	return alaw_table[a];
}

void voice_g711_encode(bool alaw, const int16_t *pcm, uint8_t *out, size_t n)
{
	if (alaw) {
		for (size_t i = 0; i < n; i++)
			out[i] = voice_lin2alaw(pcm[i]);
	} else {
		for (size_t i = 0; i < n; i++)
			out[i] = voice_lin2ulaw(pcm[i]);
	}
}

void voice_g711_decode(bool alaw, const uint8_t *in, int16_t *pcm, size_t n)
{
	const int16_t *t = alaw ? alaw_table : ulaw_table;
	for (size_t i = 0; i < n; i++)
		pcm[i] = t[in[i]];
}

/* ---- RFC 4733 ---------------------------------------------------------------- */

int voice_te_parse(const uint8_t *p, size_t n, struct voice_te *out)
{
	/* RFC 4733 section 2.3: event (8 bits), E (1), R (1), volume (6),
	 * duration (16, network order). Events 0-15 are the DTMF keys
	 * (section 3.2, table 7). */
	static const char keys[16] = "0123456789*#ABCD";
	if (!p || n < 4)
		return -EINVAL;
	out->event = p[0];
	out->digit = p[0] < 16 ? keys[p[0]] : 0;
	out->end = (p[1] & 0x80) != 0;
	out->volume = p[1] & 0x3F;
	out->duration = (uint16_t)((p[2] << 8) | p[3]);
	return 0;
}

/* ---- DTMF detection -------------------------------------------------------------- */

/* How long in-band detection stays deaf after a telephone-event packet, and
 * how long an in-band digit suppresses the same key arriving as an event. */
#define DTMF_MERGE_MS 500
/* Timestamps of the most recent events remembered: a late retransmission
 * of the previous event (reordered behind the next one) must not count. */
#define DTMF_TS_HISTORY 4

struct voice_dtmf {
	dtmf_rx_state_t *rx;
	uint32_t ts[DTMF_TS_HISTORY]; /* recent event timestamps, ring */
	unsigned n_ts, ts_next;
	/* the latest event (by arrival), for long-event segments */
	uint32_t last_ts;
	uint16_t last_duration;
	uint8_t last_event;
	bool last_end;
	bool te_seen;     /* any telephone-event packet yet */
	uint64_t te_ms;   /* when the latest one arrived */
	char inband;      /* the latest in-band digit reported, 0 when none */
	uint64_t inband_ms;
};

int voice_dtmf_alloc(struct voice_dtmf **dp)
{
	struct voice_dtmf *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	/* No callback: digits queue inside spandsp (up to 128) and
	 * voice_dtmf_audio takes them with dtmf_rx_get. */
	d->rx = dtmf_rx_init(NULL, NULL, NULL);
	if (!d->rx) {
		free(d);
		return -ENOMEM;
	}
	*dp = d;
	return 0;
}

void voice_dtmf_free(struct voice_dtmf *d)
{
	if (!d)
		return;
	dtmf_rx_free(d->rx);
	free(d);
}

static bool ts_seen(const struct voice_dtmf *d, uint32_t ts)
{
	for (unsigned i = 0; i < d->n_ts; i++) {
		if (d->ts[i] == ts)
			return true;
	}
	return false;
}

static void ts_remember(struct voice_dtmf *d, uint32_t ts)
{
	d->ts[d->ts_next] = ts;
	d->ts_next = (d->ts_next + 1) % DTMF_TS_HISTORY;
	if (d->n_ts < DTMF_TS_HISTORY)
		d->n_ts++;
}

char voice_dtmf_event(struct voice_dtmf *d, uint32_t rtp_ts, const uint8_t *p, size_t n,
		      uint64_t now_ms)
{
	struct voice_te te;
	if (voice_te_parse(p, n, &te))
		return 0;
	d->te_seen = true;
	d->te_ms = now_ms;

	if (ts_seen(d, rtp_ts)) {
		/* A continuation, a retransmitted start or an end of an event
		 * already counted. */
		if (rtp_ts == d->last_ts) {
			d->last_end = d->last_end || te.end;
			if (te.duration > d->last_duration)
				d->last_duration = te.duration;
		}
		return 0;
	}
	/* An event longer than the 16-bit duration (about 8 s at 8 kHz) goes
	 * on as a new segment whose timestamp is the old one plus the
	 * duration (RFC 4733 section 2.5.2.1): the same key, not a new one. */
	bool segment = d->n_ts && !d->last_end && te.event == d->last_event &&
		       d->last_duration >= 0xFFFF - 800 &&
		       rtp_ts - d->last_ts <= (uint32_t)d->last_duration + 1600;
	ts_remember(d, rtp_ts);
	d->last_ts = rtp_ts;
	d->last_event = te.event;
	d->last_end = te.end;
	d->last_duration = te.duration;
	if (segment || !te.digit)
		return 0;
	/* The phone also sent the tone in-band and we heard that first. */
	if (d->inband == te.digit && now_ms - d->inband_ms < DTMF_MERGE_MS) {
		d->inband = 0;
		return 0;
	}
	return te.digit;
}

size_t voice_dtmf_audio(struct voice_dtmf *d, const int16_t *pcm, size_t n, uint64_t now_ms,
			char *out, size_t max)
{
	while (n > 0) {
		/* dtmf_rx takes an int count and a non-const buffer it only
		 * reads. */
		int chunk = n > 8000 ? 8000 : (int)n;
		dtmf_rx(d->rx, (int16_t *)(uintptr_t)pcm, chunk);
		pcm += chunk;
		n -= (size_t)chunk;
	}
	size_t k = 0;
	char buf[2]; /* dtmf_rx_get writes a NUL after the digits */
	/* One at a time so that digits beyond max stay queued in spandsp for
	 * the next call instead of being lost. */
	while (k < max && dtmf_rx_get(d->rx, buf, 1) == 1) {
		if (d->te_seen && now_ms - d->te_ms < DTMF_MERGE_MS)
			continue; /* the same key, already taken from the events */
		out[k++] = buf[0];
		d->inband = buf[0];
		d->inband_ms = now_ms;
	}
	return k;
}

/* ---- phrases ------------------------------------------------------------------------ */

enum lang { LANG_EN, LANG_SV, LANG_DE, LANG_HU, LANG_LT };

/* "sv", "SV", "sv-SE", "sv_FI" are Swedish; anything unknown is English. */
static enum lang lang_of(const char *s)
{
	static const char codes[][3] = {"en", "sv", "de", "hu", "lt"};
	if (!s || !s[0] || !s[1] || (s[2] && s[2] != '-' && s[2] != '_'))
		return LANG_EN;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		if ((s[0] | 0x20) == codes[i][0] && (s[1] | 0x20) == codes[i][1])
			return (enum lang)i;
	}
	return LANG_EN;
}

/* Hungarian takes "az" before a vowel sound and "a" otherwise, and numbers
 * are read out, so the article depends on how the number is spoken: egy
 * (1), öt (5), ötven (50-59), ötszáz (500-599), ezer (1000-1999) and
 * whatever leads a larger number start with a vowel. */
static bool hu_vowel(unsigned n)
{
	if (n >= 1000000)
		return hu_vowel(n / 1000000);
	if (n >= 1000)
		return n < 2000 || hu_vowel(n / 1000);
	if (n >= 100)
		return n / 100 == 5; /* 1xx is "száz" */
	if (n >= 10)
		return n / 10 == 5;
	return n == 1 || n == 5;
}

/* The suffix that makes "the 3 key" in Hungarian ("a 3-as gombot"): the
 * vowel harmony of the last spoken digit. */
static const char *hu_key_suffix(unsigned digit)
{
	static const char *const s[10] = {"-s", "-es", "-es", "-as", "-es",
					  "-ös", "-os", "-es", "-as", "-es"};
	return s[digit % 10];
}

/* Lithuanian plural: 1, 21, 31 … take the singular; 2-9, 22-29 … the
 * nominative plural; 10-20, 30, 40 … the genitive plural. */
static const char *lt_minutes(unsigned n)
{
	if (n % 10 == 1 && n % 100 != 11)
		return "minutė";
	if (n % 10 >= 2 && (n % 100 < 10 || n % 100 > 20))
		return "minutės";
	return "minučių";
}

/* The key for the callback offer: a is the digit 0-9 or the character
 * '0'-'9', '*' or '#' (both spellings are unambiguous). Returns the digit
 * value 0-9, or -1 for '*' and -2 for '#'; -3 when a is none of these. */
static int key_of(unsigned a)
{
	if (a <= 9)
		return (int)a;
	if (a >= '0' && a <= '9')
		return (int)(a - '0');
	if (a == '*')
		return -1;
	if (a == '#')
		return -2;
	return -3;
}

/* Writes "press <key>" in the language's words into buf. */
static void press_key(enum lang l, unsigned a, char *buf, size_t size)
{
	int k = key_of(a);
	static const char *const star[] = {"star", "stjärna", "die Sterntaste", "a csillag gombot",
					   "žvaigždutę"};
	static const char *const hash[] = {"hash", "fyrkant", "die Rautetaste",
					   "a kettőskereszt gombot", "grotelių klavišą"};
	if (k == -1) {
		snprintf(buf, size, "%s", star[l]);
	} else if (k == -2) {
		snprintf(buf, size, "%s", hash[l]);
	} else {
		unsigned v = k >= 0 ? (unsigned)k : a;
		switch (l) {
		case LANG_DE:
			snprintf(buf, size, "die %u", v);
			break;
		case LANG_HU:
			snprintf(buf, size, "%s %u%s gombot", hu_vowel(v) ? "az" : "a", v,
				 hu_key_suffix(v));
			break;
		default:
			snprintf(buf, size, "%u", v);
			break;
		}
	}
}

/* Texts without numbers, by phrase then language (en, sv, de, hu, lt). */
static const char *const fixed[][5] = {
	[VOICE_PHRASE_CLOSED] = {
		"We are closed right now. Please call again during our opening hours.",
		"Vi har stängt just nu. Välkommen att ringa igen under våra öppettider.",
		"Wir haben zurzeit geschlossen. Bitte rufen Sie während unserer Öffnungszeiten wieder an.",
		"Jelenleg zárva vagyunk. Kérjük, hívjon újra nyitvatartási időben.",
		"Šiuo metu nedirbame. Prašome paskambinti darbo valandomis.",
	},
	[VOICE_PHRASE_INVALID] = {
		"Sorry, that is not a valid choice.",
		"Tyvärr, det är inte ett giltigt val.",
		"Das ist leider keine gültige Auswahl.",
		"Sajnos ez nem érvényes választás.",
		"Atsiprašome, toks pasirinkimas negalimas.",
	},
	[VOICE_PHRASE_GOODBYE] = {
		"We did not receive a choice. Goodbye.",
		"Vi fick inget val. Hej då.",
		"Wir haben keine Auswahl erhalten. Auf Wiederhören.",
		"Nem érkezett választás. Viszonthallásra.",
		"Pasirinkimas negautas. Viso gero.",
	},
	[VOICE_PHRASE_CALLBACK_OK] = {
		"Thank you. We will call you back at this number. Goodbye.",
		"Tack. Vi ringer upp dig på det här numret. Hej då.",
		"Vielen Dank. Wir rufen Sie unter dieser Nummer zurück. Auf Wiederhören.",
		"Köszönjük. Ezen a számon visszahívjuk. Viszonthallásra.",
		"Ačiū. Paskambinsime jums šiuo numeriu. Viso gero.",
	},
	[VOICE_PHRASE_TRANSFER] = {
		"Please hold while we transfer your call.",
		"Var vänlig vänta medan vi kopplar ditt samtal.",
		"Bitte bleiben Sie am Apparat, wir verbinden Sie.",
		"Kérjük, tartsa a vonalat, amíg kapcsoljuk.",
		"Prašome palaukti, jūsų skambutis peradresuojamas.",
	},
	[VOICE_PHRASE_UNAVAILABLE] = {
		"Sorry, nobody can take your call right now. Please try again later.",
		"Tyvärr kan ingen ta ditt samtal just nu. Försök igen senare.",
		"Leider ist im Moment niemand erreichbar. Bitte versuchen Sie es später noch einmal.",
		"Sajnos jelenleg senki sem tudja fogadni a hívását. Kérjük, próbálja újra később.",
		"Atsiprašome, šiuo metu niekas negali atsiliepti. Prašome paskambinti vėliau.",
	},
};

static void position(enum lang l, unsigned a, unsigned b, char *buf, size_t size)
{
	char wait[160] = "";
	switch (l) {
	case LANG_SV:
		if (b)
			snprintf(wait, sizeof(wait), " Beräknad väntetid är %u %s.", b,
				 b == 1 ? "minut" : "minuter");
		snprintf(buf, size, "Du är nummer %u i kön.%s", a, wait);
		break;
	case LANG_DE:
		if (b)
			snprintf(wait, sizeof(wait), " Die voraussichtliche Wartezeit beträgt %u %s.", b,
				 b == 1 ? "Minute" : "Minuten");
		snprintf(buf, size, "Sie sind Nummer %u in der Warteschlange.%s", a, wait);
		break;
	case LANG_HU:
		/* "3." is read as the ordinal; nouns after a number stay
		 * singular ("2 perc"). */
		if (b)
			snprintf(wait, sizeof(wait), " A várható várakozási idő %u perc.", b);
		snprintf(buf, size, "Ön a sorban %s %u. helyen áll.%s", hu_vowel(a) ? "az" : "a", a,
			 wait);
		break;
	case LANG_LT:
		if (b)
			snprintf(wait, sizeof(wait), " Numatomas laukimo laikas yra %u %s.", b,
				 lt_minutes(b));
		snprintf(buf, size, "Jūsų eilės numeris yra %u.%s", a, wait);
		break;
	default:
		if (b)
			snprintf(wait, sizeof(wait), " The estimated waiting time is %u %s.", b,
				 b == 1 ? "minute" : "minutes");
		snprintf(buf, size, "You are number %u in the queue.%s", a, wait);
		break;
	}
}

static void callback_offer(enum lang l, unsigned a, char *buf, size_t size)
{
	char key[64];
	press_key(l, a, key, sizeof(key));
	switch (l) {
	case LANG_SV:
		snprintf(buf, size, "Tryck %s om du vill bli uppringd. Du behåller din plats i kön.",
			 key);
		break;
	case LANG_DE:
		snprintf(buf, size,
			 "Drücken Sie %s, wenn wir Sie zurückrufen sollen. Ihr Platz in der "
			 "Warteschlange bleibt erhalten.",
			 key);
		break;
	case LANG_HU:
		snprintf(buf, size,
			 "Ha visszahívást kér, nyomja meg %s. A helye a sorban megmarad.", key);
		break;
	case LANG_LT:
		snprintf(buf, size,
			 "Jei norite, kad jums paskambintume, paspauskite %s. Jūsų vieta eilėje "
			 "išliks.",
			 key);
		break;
	default:
		snprintf(buf, size,
			 "To be called back without losing your place in the queue, press %s.", key);
		break;
	}
}

size_t voice_phrase_text(const char *lang, enum voice_phrase ph, unsigned a, unsigned b, char *out,
			 size_t size)
{
	if (!out || size == 0)
		return 0;
	enum lang l = lang_of(lang);
	char buf[512];
	switch (ph) {
	case VOICE_PHRASE_POSITION:
		position(l, a, b, buf, sizeof(buf));
		break;
	case VOICE_PHRASE_CALLBACK_OFFER:
		callback_offer(l, a, buf, sizeof(buf));
		break;
	case VOICE_PHRASE_CLOSED:
	case VOICE_PHRASE_INVALID:
	case VOICE_PHRASE_GOODBYE:
	case VOICE_PHRASE_CALLBACK_OK:
	case VOICE_PHRASE_TRANSFER:
	case VOICE_PHRASE_UNAVAILABLE:
		snprintf(buf, sizeof(buf), "%s", fixed[ph][l]);
		break;
	default:
		buf[0] = '\0'; /* not a phrase: nothing to say */
		break;
	}
	size_t n = strlen(buf);
	if (n >= size) {
		/* Cut at a character boundary so a short buffer still holds
		 * valid UTF-8 (espeak-ng and the logs read it). */
		n = size - 1;
		while (n > 0 && ((unsigned char)buf[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(out, buf, n);
	out[n] = '\0';
	return n;
}
