/*
 * voice_watch.c: the voice module's small configuration files (phone
 * accounts, service numbers, trunks), read OFF the core thread.
 *
 * A file is read once at start (voice_watch_start, before re_main, where a
 * blocking read is allowed), then a thread of its own stats the files every
 * 250 ms and reads one that changed. It hands the new text to the core
 * thread through a libre mqueue: the text waits in the file's slot (under
 * the lock) and the queue message carries only the slot's index, so a
 * message left in the queue at stop owns nothing. The core thread's
 * handler then parses the text in memory. The core thread never stats,
 * opens or reads a file for SIP.
 */
#include "voice/voice_int.h"
#include "base/base.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MOD "voice"
#define WATCH_MAX_BYTES (1024 * 1024)
#define WATCH_PERIOD_MS 250

struct watch_file {
	char *path;
	bool secret;          /* warn when others may read it */
	struct stat st;       /* as last seen (watcher thread after start) */
	bool seen;
	/* under w->lock: new text for the core thread */
	bool pending;
	char *text;           /* NULL: the file is gone or unreadable */
	size_t len;
};

struct voice_watch {
	struct watch_file f[VOICE_WATCH_MAX];
	unsigned n;
	voice_watch_h *h;
	void *arg;
	struct mqueue *mq;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	bool running;
	pthread_t thread;
};

/* stat f; when it changed since the last look, read it into *text (NULL:
 * gone, unreadable or too large) and return true. Any thread, but one at a
 * time per file. */
static bool file_read_if_changed(struct watch_file *f, char **text, size_t *len)
{
	struct stat st;
	if (stat(f->path, &st))
		memset(&st, 0, sizeof(st));
	if (f->seen && st.st_ino == f->st.st_ino && st.st_size == f->st.st_size &&
	    st.st_mtim.tv_sec == f->st.st_mtim.tv_sec && st.st_mtim.tv_nsec == f->st.st_mtim.tv_nsec)
		return false;
	f->seen = true;
	f->st = st;
	*text = NULL;
	*len = 0;
	if (!st.st_ino)
		return true;
	if (f->secret && (st.st_mode & 077))
		LOG_WARN(MOD, "%s is readable by others (chmod 600)", f->path);
	FILE *fp = fopen(f->path, "rb");
	char *t = NULL;
	if (fp && st.st_size >= 0 && st.st_size <= WATCH_MAX_BYTES && (t = malloc((size_t)st.st_size + 1))) {
		*len = fread(t, 1, (size_t)st.st_size, fp);
		t[*len] = '\0';
	}
	if (fp)
		fclose(fp);
	if (!t)
		LOG_ERROR(MOD, "cannot read %s (at most %d bytes)", f->path, WATCH_MAX_BYTES);
	*text = t;
	return true;
}

/* Core thread: a file changed; take its text from the slot. */
static void on_mq(int id, void *data, void *arg)
{
	(void)data;
	struct voice_watch *w = arg;
	if (id < 0 || (unsigned)id >= w->n)
		return;
	pthread_mutex_lock(&w->lock);
	struct watch_file *f = &w->f[id];
	bool pending = f->pending;
	char *text = f->text;
	size_t len = f->len;
	f->pending = false;
	f->text = NULL;
	pthread_mutex_unlock(&w->lock);
	if (pending)
		w->h((unsigned)id, text, len, w->arg);
	free(text);
}

static void *watch_thread(void *arg)
{
	struct voice_watch *w = arg;
	pthread_setname_np(pthread_self(), "hl-voice-cfg");
	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += WATCH_PERIOD_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&w->cond, &w->lock, &ts);
		if (w->stop)
			break;
		pthread_mutex_unlock(&w->lock);
		for (unsigned i = 0; i < w->n; i++) {
			char *text;
			size_t len;
			if (!file_read_if_changed(&w->f[i], &text, &len))
				continue;
			pthread_mutex_lock(&w->lock);
			free(w->f[i].text); /* a newer version replaces one not yet taken */
			w->f[i].text = text;
			w->f[i].len = len;
			w->f[i].pending = true;
			pthread_mutex_unlock(&w->lock);
			if (mqueue_push(w->mq, (int)i, NULL))
				LOG_ERROR(MOD, "cannot reach the core thread about %s", w->f[i].path);
		}
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

static void watch_destructor(void *arg)
{
	struct voice_watch *w = arg;
	if (w->running) {
		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_cond_broadcast(&w->cond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
	}
	w->mq = mem_deref(w->mq);
	for (unsigned i = 0; i < w->n; i++) {
		free(w->f[i].path);
		free(w->f[i].text);
	}
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
}

int voice_watch_start(struct voice_watch **wp, const struct voice_watch_file *files, unsigned n,
		      voice_watch_h *h, void *arg)
{
	if (n > VOICE_WATCH_MAX)
		return -EINVAL;
	struct voice_watch *w = mem_zalloc(sizeof(*w), watch_destructor);
	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->h = h;
	w->arg = arg;
	for (unsigned i = 0; i < n; i++) {
		if (!(w->f[i].path = strdup(files[i].path))) {
			mem_deref(w);
			return -ENOMEM;
		}
		w->f[i].secret = files[i].secret;
		w->n++;
	}
	int r = mqueue_alloc(&w->mq, on_mq, w);
	if (r) {
		mem_deref(w);
		return -r;
	}
	/* the first read, here on the calling (core) thread before re_main */
	for (unsigned i = 0; i < w->n; i++) {
		char *text;
		size_t len;
		if (file_read_if_changed(&w->f[i], &text, &len)) {
			h(i, text, len, arg);
			free(text);
		}
	}
	r = pthread_create(&w->thread, NULL, watch_thread, w);
	if (r) {
		mem_deref(w);
		return -r;
	}
	w->running = true;
	*wp = w;
	return 0;
}
