/*
 * voice_prompt.c: the prompt service (contract in voice_media.h). Calls
 * play text spoken by espeak-ng, WAV files and the built-in music on hold,
 * all as 8 kHz mono linear PCM in shared, refcounted buffers.
 *
 * Threads. The core thread owns the cache (a libre hash of entries keyed
 * "t:<lang>:<text>" or "f:<name>", and an LRU list weighed in bytes) and
 * never blocks on rendering: a miss creates a pending entry and queues a
 * job. One worker thread per service takes jobs in order, synthesizes or
 * reads the file, resamples to 8 kHz (speexdsp) and appends the finished
 * job to a done list; a libre mqueue wakes the core thread, whose handler
 * moves the audio into the cache. Callers poll (voice_prompt_text returns
 * NULL until the entry is ready), so no completion callback can outlive a
 * call. The worker never touches a libre object except mqueue_push, which
 * is made for that.
 *
 * Memory: jobs and audio buffers cross threads, so they come from malloc,
 * not libre's mem (audio buffers carry an atomic refcount and any thread
 * may drop the last reference). Cache entries live on the core thread and
 * use mem_zalloc.
 *
 * espeak-ng keeps its state in globals and is not re-entrant. Everything
 * that touches it holds espeak_lock; it is initialized once per process,
 * on the first worker thread, and never terminated (the voice data stay
 * loaded, about 1 MB). Those few variables are the only global mutable
 * state of the voice channel.
 */
#include "voice/voice_media.h"
#include "base/base.h"

#include <re.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <espeak-ng/espeak_ng.h>
#include <sndfile.h>
#include <speex/speex_resampler.h>

#define MOD "voice"

/* Longest audio a prompt may have (8 kHz samples): 10 minutes, 9.6 MB. A
 * longer file is refused rather than cached. */
#define PROMPT_MAX_SAMPLES (10u * 60u * 8000u)
/* Longest text handed to espeak-ng (bytes) and language name. */
#define PROMPT_MAX_TEXT 4000
#define PROMPT_MAX_LANG 32
/* speexdsp quality 5 (0-10): its default, "desktop" quality; about 3 ms
 * for 3 s of speech (docs notes/voice.md). */
#define RESAMPLE_QUALITY 5

/* ---- audio buffers ------------------------------------------------------------ */

struct audio {
	struct voice_audio pub; /* first: a voice_audio * is a struct audio * */
	atomic_uint refs;
	int16_t pcm[];
};

/* A buffer for n samples with one reference; pub.pcm points at them. */
static struct audio *audio_new(size_t n)
{
	if (n > (SIZE_MAX - sizeof(struct audio)) / sizeof(int16_t))
		return NULL;
	struct audio *a = malloc(sizeof(*a) + n * sizeof(int16_t));
	if (!a)
		return NULL;
	atomic_init(&a->refs, 1);
	a->pub.pcm = a->pcm;
	a->pub.n = n;
	return a;
}

struct voice_audio *voice_audio_ref(struct voice_audio *a)
{
	if (a)
		atomic_fetch_add_explicit(&((struct audio *)a)->refs, 1, memory_order_relaxed);
	return a;
}

void voice_audio_unref(struct voice_audio *a)
{
	/* acq_rel: the thread that frees must see every write made before
	 * the other threads let go. */
	if (a && atomic_fetch_sub_explicit(&((struct audio *)a)->refs, 1, memory_order_acq_rel) == 1)
		free(a);
}

/* ---- resampling to 8 kHz (worker thread) ----------------------------------------- */

/* A growing 8 kHz output fed with blocks of input at any rate. */
struct rs {
	SpeexResamplerState *st; /* NULL when the input is already 8 kHz */
	int rate;
	struct audio *out; /* out->pub.n samples of capacity cap */
	size_t n, cap;
	uint64_t in_total;
	int err;
};

static int rs_init(struct rs *r, int rate)
{
	memset(r, 0, sizeof(*r));
	r->rate = rate;
	if (rate <= 0 || rate > 768000)
		return r->err = -EINVAL;
	if (rate != 8000) {
		int e = 0;
		r->st = speex_resampler_init(1, (spx_uint32_t)rate, 8000, RESAMPLE_QUALITY, &e);
		if (!r->st)
			return r->err = -ENOMEM;
		/* Drop the filter's leading delay so the audio starts at 0
		 * (prompts are concatenated and looped; a late start is a gap). */
		speex_resampler_skip_zeros(r->st);
	}
	return 0;
}

/* Room for at least k more output samples. */
static int rs_reserve(struct rs *r, size_t k)
{
	if (r->n + k <= r->cap)
		return 0;
	if (r->n + k > PROMPT_MAX_SAMPLES + 1024)
		return r->err = -EFBIG;
	size_t cap = r->cap ? r->cap * 2 : 16384;
	while (cap < r->n + k)
		cap *= 2;
	struct audio *a = realloc(r->out, sizeof(*a) + cap * sizeof(int16_t));
	if (!a)
		return r->err = -ENOMEM;
	r->out = a;
	r->cap = cap;
	return 0;
}

/* Resample n input samples (NULL: n zeros, to flush the filter). */
static int rs_put(struct rs *r, const int16_t *in, size_t n, bool count)
{
	static const int16_t zeros[512];
	if (r->err)
		return r->err;
	if (count)
		r->in_total += n;
	while (n > 0) {
		size_t block = n > 4096 ? 4096 : n;
		const int16_t *src = in ? in : zeros;
		if (!in && block > sizeof(zeros) / sizeof(zeros[0]))
			block = sizeof(zeros) / sizeof(zeros[0]);
		/* 8000 / rate outputs per input, plus the filter's slack */
		size_t room = (size_t)((uint64_t)block * 8000 / (uint64_t)r->rate) + 64;
		if (rs_reserve(r, room))
			return r->err;
		if (!r->st) {
			memcpy(r->out->pcm + r->n, src, block * sizeof(int16_t));
			r->n += block;
		} else {
			spx_uint32_t in_len = (spx_uint32_t)block, out_len = (spx_uint32_t)room;
			speex_resampler_process_int(r->st, 0, src, &in_len, r->out->pcm + r->n, &out_len);
			r->n += out_len;
			if (in_len == 0)
				return r->err = -EIO; /* no progress: never expected */
			block = in_len;
		}
		if (in)
			in += block;
		n -= block;
	}
	return 0;
}

/* Flush and trim to exactly in_total * 8000 / rate samples (rounded), so
 * that the length does not depend on the filter. Returns the audio (one
 * reference) or NULL with r->err set. */
static struct voice_audio *rs_finish(struct rs *r)
{
	size_t want = (size_t)((r->in_total * 8000 + (uint64_t)r->rate / 2) / (uint64_t)r->rate);
	if (r->st && !r->err) {
		/* The filter holds about input-latency samples of the end. */
		size_t lat = (size_t)speex_resampler_get_input_latency(r->st);
		for (int i = 0; i < 4 && r->n < want && !r->err; i++)
			(void)rs_put(r, NULL, lat + 1, false);
	}
	if (!r->err && want > PROMPT_MAX_SAMPLES)
		r->err = -EFBIG;
	if (!r->err && want > r->n)
		(void)rs_reserve(r, want - r->n);
	if (r->st)
		speex_resampler_destroy(r->st);
	r->st = NULL;
	if (r->err) {
		free(r->out);
		r->out = NULL;
		return NULL;
	}
	if (!r->out) {
		r->out = audio_new(0);
		if (!r->out) {
			r->err = -ENOMEM;
			return NULL;
		}
	}
	if (r->n < want)
		memset(r->out->pcm + r->n, 0, (want - r->n) * sizeof(int16_t));
	struct audio *a = r->out;
	r->out = NULL;
	atomic_init(&a->refs, 1);
	a->pub.pcm = a->pcm; /* realloc may have moved it */
	a->pub.n = want;
	return &a->pub;
}

/* ---- espeak-ng (worker thread, under espeak_lock) -------------------------------- */

static pthread_mutex_t espeak_lock = PTHREAD_MUTEX_INITIALIZER;
static int espeak_state;           /* 0 not tried, 1 ready, -1 unavailable */
static struct rs *espeak_target;   /* where the synth callback writes */

static int synth_cb(short *wav, int n, espeak_EVENT *ev)
{
	(void)ev;
	if (!espeak_target || !wav || n <= 0)
		return 0;
	/* Returning 1 makes espeak-ng stop: the text is too long. */
	return rs_put(espeak_target, wav, (size_t)n, true) ? 1 : 0;
}

/* Initialize espeak-ng once per process. Returns 1 or -1 (logged once). */
static int espeak_ready(void)
{
	if (espeak_state)
		return espeak_state;
	espeak_ng_InitializePath(NULL); /* $ESPEAK_DATA_PATH or the built-in path */
	espeak_ng_ERROR_CONTEXT ctx = NULL;
	espeak_ng_STATUS st = espeak_ng_Initialize(&ctx);
	if (st == ENS_OK)
		st = espeak_ng_InitializeOutput(ENOUTPUT_MODE_SYNCHRONOUS, 0, NULL);
	/* Initialization succeeds even when it found no data (it loads
	 * lazily): a voice is the real test. */
	if (st == ENS_OK)
		st = espeak_ng_SetVoiceByName("en");
	if (st != ENS_OK) {
		char msg[256];
		espeak_ng_GetStatusCodeMessage(st, msg, sizeof(msg));
		LOG_WARN(MOD, "espeak-ng unavailable (%s): text prompts will stay silent", msg);
		espeak_ng_ClearErrorContext(&ctx);
		espeak_state = -1;
		return espeak_state;
	}
	espeak_SetSynthCallback(synth_cb);
	espeak_state = 1;
	return espeak_state;
}

/* Speak text in lang. Returns 0 and *out, -ENOTSUP when espeak-ng is not
 * available, or another negative errno (the caller logs). */
static int speak(const char *lang, const char *text, struct voice_audio **out)
{
	pthread_mutex_lock(&espeak_lock);
	if (espeak_ready() < 0) {
		pthread_mutex_unlock(&espeak_lock);
		return -ENOTSUP;
	}
	if (espeak_ng_SetVoiceByName(lang) != ENS_OK) {
		pthread_mutex_unlock(&espeak_lock);
		return -ENOENT;
	}
	struct rs r;
	int err = rs_init(&r, espeak_ng_GetSampleRate());
	if (!err) {
		espeak_target = &r;
		espeak_ng_STATUS st = espeak_ng_Synthesize(text, strlen(text) + 1, 0, POS_CHARACTER, 0,
							   espeakCHARS_UTF8, NULL, NULL);
		if (st == ENS_OK)
			st = espeak_ng_Synchronize();
		espeak_target = NULL;
		if (st != ENS_OK && !r.err)
			r.err = -EIO;
	}
	pthread_mutex_unlock(&espeak_lock);
	*out = rs_finish(&r);
	return *out ? 0 : r.err;
}

/* ---- WAV files (worker thread) ------------------------------------------------------ */

/* Read any file libsndfile knows (WAV in practice), mix the channels down
 * and resample to 8 kHz, block by block so a long 48 kHz stereo file does
 * not need its whole length in memory. */
static int load_file(const char *path, struct voice_audio **out)
{
	SF_INFO info;
	memset(&info, 0, sizeof(info));
	SNDFILE *sf = sf_open(path, SFM_READ, &info);
	if (!sf) {
		LOG_WARN(MOD, "prompt file %s: %s", path, sf_strerror(NULL));
		return -ENOENT;
	}
	int err = 0;
	struct rs r;
	memset(&r, 0, sizeof(r));
	int16_t *frames = NULL, *mono = NULL;
	if (info.channels < 1 || info.channels > 64 || rs_init(&r, info.samplerate)) {
		LOG_WARN(MOD, "prompt file %s: %d channel(s) at %d Hz not supported", path,
			 info.channels, info.samplerate);
		err = -EINVAL;
		goto out;
	}
	enum { BLOCK = 4096 };
	frames = malloc((size_t)BLOCK * (size_t)info.channels * sizeof(int16_t));
	mono = malloc(BLOCK * sizeof(int16_t));
	if (!frames || !mono) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		sf_count_t got = sf_readf_short(sf, frames, BLOCK);
		if (got <= 0)
			break;
		for (sf_count_t i = 0; i < got; i++) {
			int32_t sum = 0;
			for (int c = 0; c < info.channels; c++)
				sum += frames[i * info.channels + c];
			mono[i] = (int16_t)(sum / info.channels);
		}
		if (rs_put(&r, mono, (size_t)got, true))
			break;
	}
	if (sf_error(sf) && !r.err) {
		LOG_WARN(MOD, "prompt file %s: %s", path, sf_strerror(sf));
		err = -EIO;
	}
out:
	sf_close(sf);
	free(frames);
	free(mono);
	if (err) {
		if (r.st)
			speex_resampler_destroy(r.st);
		free(r.out);
		return err;
	}
	*out = rs_finish(&r);
	if (!*out) {
		LOG_WARN(MOD, "prompt file %s: %s", path,
			 r.err == -EFBIG ? "longer than 10 minutes" : strerror(-r.err));
		return r.err;
	}
	return 0;
}

/* ---- built-in music on hold --------------------------------------------------------- */

/* Four bars at 80 beats a minute (12 s): Cmaj7, Am7, Fmaj7, G6, each a
 * soft pad with a bass note and a music-box arpeggio an octave up. Every
 * note is added at its time modulo the loop length, so the tails of the
 * last bar ring on into the first and the loop point is seamless by
 * construction (no fade, no click). Everything stays in the telephone band:
 * the bass has harmonics so it is heard even where the line cuts below
 * 300 Hz. */
#define MUSIC_RATE 8000
#define MUSIC_BAR_SAMPLES (3 * MUSIC_RATE)
#define MUSIC_BARS 4
#define MUSIC_PEAK 12000.0 /* about -8.7 dBFS: well clear of clipping */

static double midi_hz(int note)
{
	return 440.0 * pow(2.0, (note - 69) / 12.0);
}

/* One note into the loop buffer. h[] are the harmonic amplitudes (h[0] the
 * fundamental); attack and release are raised-cosine ramps, decay an
 * exponential time constant (0: none). */
static void music_note(float *buf, size_t len, size_t start, double dur_s, double hz,
		       const double h[3], double amp, double attack_s, double decay_s,
		       double release_s)
{
	size_t total = (size_t)((dur_s + release_s) * MUSIC_RATE);
	double w = 2.0 * M_PI * hz / MUSIC_RATE;
	for (size_t i = 0; i < total; i++) {
		double t = (double)i / MUSIC_RATE;
		double env = 1.0;
		if (t < attack_s)
			env = 0.5 - 0.5 * cos(M_PI * t / attack_s);
		if (decay_s > 0)
			env *= exp(-t / decay_s);
		if (t > dur_s)
			env *= 0.5 + 0.5 * cos(M_PI * (t - dur_s) / release_s);
		double x = w * (double)i;
		double v = h[0] * sin(x) + h[1] * sin(2 * x) + h[2] * sin(3 * x);
		buf[(start + i) % len] += (float)(amp * env * v);
	}
}

static struct voice_audio *make_music(void)
{
	static const int chords[MUSIC_BARS][4] = {
		{60, 64, 67, 71}, /* Cmaj7: C E G B */
		{57, 60, 64, 67}, /* Am7:   A C E G */
		{53, 57, 60, 64}, /* Fmaj7: F A C E */
		{55, 59, 62, 64}, /* G6:    G B D E */
	};
	static const int bass[MUSIC_BARS] = {48, 45, 41, 43};
	/* eighth notes: chord tones 0-3, 4 = the root an octave up */
	static const int arp[8] = {0, 1, 2, 3, 4, 3, 2, 1};
	static const double pad_h[3] = {1.0, 0.0, -0.11}; /* soft triangle */
	static const double bass_h[3] = {0.6, 0.5, 0.3};
	static const double bell_h[3] = {1.0, 0.08, 0.0};

	size_t len = (size_t)MUSIC_BARS * MUSIC_BAR_SAMPLES;
	float *buf = calloc(len, sizeof(float));
	struct audio *a = audio_new(len);
	if (!buf || !a) {
		free(buf);
		free(a);
		return NULL;
	}
	for (int bar = 0; bar < MUSIC_BARS; bar++) {
		size_t at = (size_t)bar * MUSIC_BAR_SAMPLES;
		for (int k = 0; k < 4; k++)
			music_note(buf, len, at, 3.0, midi_hz(chords[bar][k]), pad_h, 0.10, 0.6, 0,
				   0.9);
		music_note(buf, len, at, 2.6, midi_hz(bass[bar]), bass_h, 0.30, 0.03, 1.6, 0.6);
		for (int e = 0; e < 8; e++) {
			int note = arp[e] == 4 ? chords[bar][0] + 12 : chords[bar][arp[e]];
			double accent = e == 0 ? 1.0 : e == 4 ? 0.85 : 0.65;
			music_note(buf, len, at + (size_t)e * (MUSIC_BAR_SAMPLES / 8), 1.2,
				   midi_hz(note + 12), bell_h, 0.16 * accent, 0.008, 0.45, 0.3);
		}
	}
	float peak = 0;
	for (size_t i = 0; i < len; i++)
		peak = fmaxf(peak, fabsf(buf[i]));
	double gain = peak > 0 ? MUSIC_PEAK / peak : 0;
	for (size_t i = 0; i < len; i++)
		a->pcm[i] = (int16_t)lrint(buf[i] * gain);
	free(buf);
	return &a->pub;
}

/* ---- the service -------------------------------------------------------------------- */

enum entry_state { ENTRY_PENDING, ENTRY_READY, ENTRY_FAILED };

/* A cache entry (core thread). */
struct entry {
	struct le he;  /* in p->cache */
	struct le lru; /* in p->lru, most recently used first */
	struct voice_prompts *p;
	enum entry_state state;
	struct voice_audio *audio; /* when ready */
	size_t bytes;              /* what it weighs in p->bytes */
	char key[];
};

/* Work for the worker thread. */
struct job {
	struct job *next;
	struct entry *e; /* core-owned: the worker only carries it back */
	bool text;
	char lang[PROMPT_MAX_LANG + 1];
	char *arg; /* the text, or the file's path */
	struct voice_audio *audio;
	int err;
};

struct voice_prompts {
	/* core thread */
	struct hash *cache;
	struct list lru;
	size_t bytes, max_bytes;
	struct mqueue *mq;
	struct voice_audio *music;
	char *dir;
	/* shared with the worker, under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *todo, **todo_tail;
	struct job *done, **done_tail;
	bool busy, stop, wake_pending;
	pthread_t th;
	bool th_started;
};

static void job_free(struct job *j)
{
	if (!j)
		return;
	voice_audio_unref(j->audio);
	free(j->arg);
	free(j);
}

static void entry_destructor(void *arg)
{
	struct entry *e = arg;
	hash_unlink(&e->he);
	list_unlink(&e->lru);
	e->p->bytes -= e->bytes;
	voice_audio_unref(e->audio);
}

static void *worker(void *arg)
{
	struct voice_prompts *p = arg;
	/* Load espeak-ng now, so a missing voice data directory is reported
	 * at start-up rather than at the first call. */
	pthread_mutex_lock(&espeak_lock);
	(void)espeak_ready();
	pthread_mutex_unlock(&espeak_lock);

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->todo && !p->stop)
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop)
			break;
		struct job *j = p->todo;
		p->todo = j->next;
		if (!p->todo)
			p->todo_tail = &p->todo;
		p->busy = true;
		pthread_mutex_unlock(&p->mu);

		j->err = j->text ? speak(j->lang, j->arg, &j->audio) : load_file(j->arg, &j->audio);

		pthread_mutex_lock(&p->mu);
		p->busy = false;
		j->next = NULL;
		*p->done_tail = j;
		p->done_tail = &j->next;
		/* One wake-up in flight at most: the handler takes the whole
		 * list. A failed push is retried with the next result. */
		if (!p->wake_pending && !mqueue_push(p->mq, 0, NULL))
			p->wake_pending = true;
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Drop least recently used entries until the cache fits, sparing keep
 * (just added, even when it alone is over the limit: evicting it would
 * only render it again) and pending ones (a job points at them). */
static void evict(struct voice_prompts *p, const struct entry *keep)
{
	struct le *le = p->lru.tail;
	while (le && p->bytes > p->max_bytes) {
		struct entry *e = le->data;
		le = le->prev;
		if (e != keep && e->state != ENTRY_PENDING)
			mem_deref(e);
	}
}

/* The core thread's side of the mqueue: results into the cache. */
static void on_done(int id, void *data, void *arg)
{
	(void)id;
	(void)data;
	struct voice_prompts *p = arg;
	pthread_mutex_lock(&p->mu);
	struct job *j = p->done;
	p->done = NULL;
	p->done_tail = &p->done;
	p->wake_pending = false;
	pthread_mutex_unlock(&p->mu);
	while (j) {
		struct job *next = j->next;
		struct entry *e = j->e;
		if (j->audio) {
			e->state = ENTRY_READY;
			e->audio = j->audio;
			j->audio = NULL;
			size_t b = e->audio->n * sizeof(int16_t);
			e->bytes += b;
			p->bytes += b;
		} else {
			e->state = ENTRY_FAILED;
			/* -ENOTSUP: espeak-ng is missing, said once at start. */
			if (j->err != -ENOTSUP)
				LOG_WARN(MOD, "prompt %s could not be rendered: %s", e->key,
					 strerror(-j->err));
		}
		evict(p, e);
		job_free(j);
		j = next;
	}
}

static bool key_cmp(struct le *le, void *arg)
{
	const struct entry *e = le->data;
	return strcmp(e->key, arg) == 0;
}

static struct entry *entry_find(struct voice_prompts *p, const char *key)
{
	struct le *le = hash_lookup(p->cache, hash_joaat_str(key), key_cmp, (void *)key);
	return le ? le->data : NULL;
}

static struct entry *entry_add(struct voice_prompts *p, const char *key, enum entry_state st)
{
	size_t klen = strlen(key);
	struct entry *e = mem_zalloc(sizeof(*e) + klen + 1, entry_destructor);
	if (!e)
		return NULL;
	memcpy(e->key, key, klen + 1);
	e->p = p;
	e->state = st;
	e->bytes = sizeof(*e) + klen + 1;
	p->bytes += e->bytes;
	hash_append(p->cache, hash_joaat_str(key), &e->he, e);
	list_prepend(&p->lru, &e->lru, e);
	evict(p, e);
	return e;
}

/* The cached audio for key (a new reference), or NULL; on a miss, a
 * pending entry and a job (text or file) are created. */
static struct voice_audio *lookup(struct voice_prompts *p, const char *key, bool text,
				  const char *lang, const char *arg)
{
	struct entry *e = entry_find(p, key);
	if (e) {
		if (e->state != ENTRY_PENDING) {
			list_unlink(&e->lru);
			list_prepend(&p->lru, &e->lru, e);
		}
		return e->state == ENTRY_READY ? voice_audio_ref(e->audio) : NULL;
	}
	struct job *j = calloc(1, sizeof(*j));
	char *copy = j ? strdup(arg) : NULL;
	if (!copy || !(e = entry_add(p, key, ENTRY_PENDING))) {
		free(copy);
		free(j);
		return NULL; /* out of memory: the next poll tries again */
	}
	j->e = e;
	j->text = text;
	j->arg = copy;
	if (lang)
		snprintf(j->lang, sizeof(j->lang), "%s", lang);
	pthread_mutex_lock(&p->mu);
	*p->todo_tail = j;
	p->todo_tail = &j->next;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* A key that can never render: remembered as failed and logged once. */
static struct voice_audio *refuse(struct voice_prompts *p, const char *key, const char *why)
{
	if (entry_find(p, key))
		return NULL;
	if (entry_add(p, key, ENTRY_FAILED))
		LOG_WARN(MOD, "prompt %s refused: %s", key, why);
	return NULL;
}

/* Builds "<prefix><a><sep><b>" in buf, or in a malloc'd string when buf is
 * too small (*heap then holds it, to free). NULL when out of memory. */
static char *make_key(char *buf, size_t size, char **heap, const char *prefix, const char *a,
		      const char *sep, const char *b)
{
	size_t n = strlen(prefix) + strlen(a) + strlen(sep) + strlen(b) + 1;
	*heap = NULL;
	if (n > size) {
		buf = *heap = malloc(n);
		if (!buf)
			return NULL;
	}
	snprintf(buf, n, "%s%s%s%s", prefix, a, sep, b);
	return buf;
}

static bool lang_ok(const char *lang)
{
	size_t n = strlen(lang);
	if (n == 0 || n > PROMPT_MAX_LANG)
		return false;
	/* espeak-ng voice names: "sv", "en-us", "sv+f3" */
	return strspn(lang, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_+") == n;
}

struct voice_audio *voice_prompt_text(struct voice_prompts *p, const char *lang, const char *text)
{
	if (!p || !lang || !text)
		return NULL;
	char buf[256], *heap;
	const char *key = make_key(buf, sizeof(buf), &heap, "t:", lang, ":", text);
	if (!key)
		return NULL;
	struct voice_audio *a;
	if (!lang_ok(lang))
		a = refuse(p, key, "not a language name");
	else if (strlen(text) > PROMPT_MAX_TEXT)
		a = refuse(p, key, "text longer than 4000 bytes");
	else
		a = lookup(p, key, true, lang, text);
	free(heap);
	return a;
}

struct voice_audio *voice_prompt_file(struct voice_prompts *p, const char *name)
{
	if (!p || !name || !name[0])
		return NULL;
	char buf[256], *heap, pbuf[512], *pheap = NULL;
	const char *key = make_key(buf, sizeof(buf), &heap, "f:", name, "", "");
	if (!key)
		return NULL;
	struct voice_audio *a = NULL;
	const char *path = NULL;
	/* ".." anywhere, not only as a path component: simpler to reason
	 * about, and no prompt needs it. */
	if (strstr(name, ".."))
		a = refuse(p, key, "\"..\" in the name");
	else if (name[0] != '/' && !p->dir)
		a = refuse(p, key, "relative name and no prompt directory");
	else if (!(path = name[0] == '/' ? name
					 : make_key(pbuf, sizeof(pbuf), &pheap, p->dir, "/", name, "")))
		a = NULL;
	else
		a = lookup(p, key, false, NULL, path);
	free(pheap);
	free(heap);
	return a;
}

struct voice_audio *voice_prompt_music(struct voice_prompts *p)
{
	return p ? voice_audio_ref(p->music) : NULL;
}

bool voice_prompts_idle(struct voice_prompts *p)
{
	if (!p)
		return true;
	pthread_mutex_lock(&p->mu);
	bool idle = !p->todo && !p->busy && !p->done;
	pthread_mutex_unlock(&p->mu);
	return idle;
}

int voice_prompts_start(struct voice_prompts **pp, const char *dir, size_t cache_bytes)
{
	if (!pp)
		return -EINVAL;
	struct voice_prompts *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->todo_tail = &p->todo;
	p->done_tail = &p->done;
	p->max_bytes = cache_bytes;
	list_init(&p->lru);
	int err = hash_alloc(&p->cache, 256);
	if (err) {
		err = -err;
		goto out;
	}
	if (dir && !(p->dir = strdup(dir))) {
		err = -ENOMEM;
		goto out;
	}
	/* Made here, not on the worker: it must be there for the first call
	 * and takes a few milliseconds. */
	p->music = make_music();
	if (!p->music) {
		err = -ENOMEM;
		goto out;
	}
	err = mqueue_alloc(&p->mq, on_done, p);
	if (err) {
		err = -err;
		goto out;
	}
	err = pthread_create(&p->th, NULL, worker, p);
	if (err) {
		LOG_ERROR(MOD, "prompt worker thread: %s", strerror(err));
		err = -err;
		goto out;
	}
	p->th_started = true;
	*pp = p;
	return 0;
out:
	voice_prompts_stop(p);
	return err;
}

void voice_prompts_stop(struct voice_prompts *p)
{
	if (!p)
		return;
	if (p->th_started) {
		pthread_mutex_lock(&p->mu);
		p->stop = true;
		pthread_cond_signal(&p->cv);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->th, NULL);
	}
	/* The worker is gone: no lock needed. Jobs never run or never
	 * delivered are dropped with their pending entries. */
	for (struct job *j = p->todo, *next; j; j = next) {
		next = j->next;
		job_free(j);
	}
	for (struct job *j = p->done, *next; j; j = next) {
		next = j->next;
		job_free(j);
	}
	p->mq = mem_deref(p->mq);
	list_flush(&p->lru); /* every entry is on it; the destructor unhashes */
	p->cache = mem_deref(p->cache);
	voice_audio_unref(p->music);
	free(p->dir);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
