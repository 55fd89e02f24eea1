/*
 * voice_rec.c: call recording (contract in voice_media.h). The core thread
 * hands 20 ms chunks of mixed audio to a writer thread that owns the files
 * and does every disk call, so a slow or full disk never stalls the media
 * tick: the queue is bounded (per recording and in total) and what does not
 * fit is dropped and counted.
 *
 * A recording is three kinds of queued operations, in order: open (create
 * "<call>-<unix ms>.wav"), data, close. Both the open and the close
 * operation are allocated when the recording is opened, so closing cannot
 * fail for lack of memory. On close the writer finishes the WAV header
 * (sf_close), fsyncs the file and the directory, and appends the recording
 * to a done list; a libre mqueue wakes the core thread, which runs the
 * done handler and frees the recording. A file that could not be written
 * is removed and reported with err.
 *
 * Files are 8 kHz mono 16-bit PCM WAV written through libsndfile on a
 * descriptor we own (sf_open_fd without close), because fsync needs the
 * descriptor after sf_close has written the final header.
 */
#include "voice/voice_media.h"
#include "base/base.h"

#include <re.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sndfile.h>

#define MOD "voice"

/* How far the writer may fall behind, in samples: 5 s per recording, and
 * 10 minutes of audio (9.6 MB) over all recordings together. */
#define REC_QUEUE_PER (5u * 8000u)
#define REC_QUEUE_ALL (600u * 8000u)

enum op_kind { OP_OPEN, OP_DATA, OP_CLOSE };

struct op {
	struct op *next;
	struct voice_recording *rc;
	enum op_kind kind;
	size_t n;
	int16_t pcm[];
};

struct voice_recording {
	struct voice_rec *r;
	int64_t call;
	int64_t start_ms; /* wall clock at open: the name's timestamp */
	voice_rec_done_h *h;
	void *arg;
	struct op *open_op, *close_op; /* preallocated, queued by open/close */
	struct voice_recording *next;  /* in r->live, then in r->done */
	/* under r->mu */
	size_t queued;    /* samples waiting in r's queue */
	uint64_t dropped; /* samples that did not fit */
	/* writer thread */
	SNDFILE *sf;
	int fd;
	uint64_t frames;
	uint64_t bytes;
	int err;
	char name[64];
};

struct voice_rec {
	char *dir;
	struct mqueue *mq;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct op *head, **tail;      /* the writer's queue */
	size_t queued;                /* samples in it */
	struct voice_recording *live; /* opened, not finished */
	struct voice_recording *done, **done_tail;
	bool stop, wake_pending;
	pthread_t th;
	bool th_started;
};

/* ---- writer thread ------------------------------------------------------------------ */

static void rec_create(struct voice_rec *r, struct voice_recording *rc)
{
	SF_INFO info = {.samplerate = 8000, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
	char path[4096];
	/* A second recording of the same call in the same millisecond takes
	 * the next free millisecond: names stay unique, never overwritten. */
	for (int i = 0; i < 100; i++) {
		snprintf(rc->name, sizeof(rc->name), "%" PRId64 "-%" PRId64 ".wav", rc->call,
			 rc->start_ms + i);
		snprintf(path, sizeof(path), "%s/%s", r->dir, rc->name);
		rc->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		if (rc->fd >= 0 || errno != EEXIST)
			break;
	}
	if (rc->fd < 0) {
		rc->err = -errno;
		LOG_ERROR(MOD, "recording %s/%s: %s", r->dir, rc->name, strerror(errno));
		return;
	}
	rc->sf = sf_open_fd(rc->fd, SFM_WRITE, &info, SF_FALSE);
	if (!rc->sf) {
		rc->err = -EIO;
		LOG_ERROR(MOD, "recording %s: %s", path, sf_strerror(NULL));
	}
}

static void rec_write(struct voice_recording *rc, const int16_t *pcm, size_t n)
{
	if (rc->err || !rc->sf)
		return;
	sf_count_t w = sf_write_short(rc->sf, pcm, (sf_count_t)n);
	if (w != (sf_count_t)n) {
		rc->err = -EIO;
		LOG_ERROR(MOD, "recording %s/%s: %s", rc->r->dir, rc->name, sf_strerror(rc->sf));
		return;
	}
	rc->frames += n;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int err = fsync(fd) ? -errno : 0;
	close(fd);
	return err;
}

/* The header, then the data on disk, then the directory entry: only then
 * is the recording reported done. */
static void rec_finish(struct voice_rec *r, struct voice_recording *rc)
{
	if (rc->sf) {
		int e = sf_close(rc->sf);
		rc->sf = NULL;
		if (e && !rc->err) {
			rc->err = -EIO;
			LOG_ERROR(MOD, "recording %s/%s: %s", r->dir, rc->name, sf_error_number(e));
		}
	}
	if (rc->fd >= 0) {
		struct stat st;
		if (!rc->err && fsync(rc->fd)) {
			rc->err = -errno;
			LOG_ERROR(MOD, "recording %s/%s: fsync: %s", r->dir, rc->name, strerror(errno));
		}
		if (!rc->err && !fstat(rc->fd, &st))
			rc->bytes = (uint64_t)st.st_size;
		close(rc->fd);
		rc->fd = -1;
		if (!rc->err) {
			int e = fsync_dir(r->dir);
			if (e) {
				rc->err = e;
				LOG_ERROR(MOD, "recording %s: fsync of the directory: %s", r->dir,
					  strerror(-e));
			}
		}
		if (rc->err) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", r->dir, rc->name);
			(void)unlink(path);
			rc->bytes = 0;
		}
	}
	if (rc->dropped)
		LOG_WARN(MOD, "recording %s/%s: %" PRIu64 " ms of audio dropped (disk too slow)",
			 r->dir, rc->name, rc->dropped / 8);
}

/* Under r->mu: move a finished recording from live to done and wake the
 * core thread (one wake-up in flight at most: the handler takes all). */
static void rec_done(struct voice_rec *r, struct voice_recording *rc)
{
	for (struct voice_recording **pp = &r->live; *pp; pp = &(*pp)->next) {
		if (*pp == rc) {
			*pp = rc->next;
			break;
		}
	}
	rc->next = NULL;
	*r->done_tail = rc;
	r->done_tail = &rc->next;
	if (!r->wake_pending && !mqueue_push(r->mq, 0, NULL))
		r->wake_pending = true;
}

static void *writer(void *arg)
{
	struct voice_rec *r = arg;
	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (!r->head && !r->stop)
			pthread_cond_wait(&r->cv, &r->mu);
		if (!r->head)
			break; /* stopping, and everything queued is written */
		struct op *op = r->head;
		r->head = op->next;
		if (!r->head)
			r->tail = &r->head;
		struct voice_recording *rc = op->rc;
		enum op_kind kind = op->kind;
		r->queued -= op->n;
		rc->queued -= op->n;
		pthread_mutex_unlock(&r->mu);

		switch (kind) {
		case OP_OPEN:
			rc->open_op = NULL;
			rec_create(r, rc);
			break;
		case OP_DATA:
			rec_write(rc, op->pcm, op->n);
			break;
		case OP_CLOSE:
			rc->close_op = NULL;
			rec_finish(r, rc);
			break;
		}
		free(op);

		pthread_mutex_lock(&r->mu);
		if (kind == OP_CLOSE)
			rec_done(r, rc);
	}
	/* Recordings the core never closed are finished all the same. */
	while (r->live) {
		struct voice_recording *rc = r->live;
		pthread_mutex_unlock(&r->mu);
		rec_finish(r, rc);
		pthread_mutex_lock(&r->mu);
		rec_done(r, rc);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* ---- core thread -------------------------------------------------------------------- */

static void rec_free(struct voice_recording *rc)
{
	free(rc->open_op);
	free(rc->close_op);
	free(rc);
}

static void on_done(int id, void *data, void *arg)
{
	(void)id;
	(void)data;
	struct voice_rec *r = arg;
	pthread_mutex_lock(&r->mu);
	struct voice_recording *rc = r->done;
	r->done = NULL;
	r->done_tail = &r->done;
	r->wake_pending = false;
	pthread_mutex_unlock(&r->mu);
	while (rc) {
		struct voice_recording *next = rc->next;
		struct voice_rec_info info = {
			.call = rc->call,
			.file = rc->name,
			.duration_ms = rc->frames / 8,
			.bytes = rc->bytes,
			.err = rc->err,
		};
		if (rc->h)
			rc->h(&info, rc->arg);
		rec_free(rc);
		rc = next;
	}
}

static void enqueue(struct voice_rec *r, struct op *op)
{
	op->next = NULL;
	*r->tail = op;
	r->tail = &op->next;
	pthread_cond_signal(&r->cv);
}

int voice_recording_open(struct voice_rec *r, int64_t call, voice_rec_done_h *h, void *arg,
			 struct voice_recording **out)
{
	if (!r || !out)
		return -EINVAL;
	struct voice_recording *rc = calloc(1, sizeof(*rc));
	if (!rc)
		return -ENOMEM;
	rc->open_op = calloc(1, sizeof(struct op));
	rc->close_op = calloc(1, sizeof(struct op));
	if (!rc->open_op || !rc->close_op) {
		rec_free(rc);
		return -ENOMEM;
	}
	rc->r = r;
	rc->call = call;
	rc->start_ms = base_wall_ms();
	rc->h = h;
	rc->arg = arg;
	rc->fd = -1;
	rc->open_op->rc = rc;
	rc->open_op->kind = OP_OPEN;
	rc->close_op->rc = rc;
	rc->close_op->kind = OP_CLOSE;
	pthread_mutex_lock(&r->mu);
	rc->next = r->live;
	r->live = rc;
	enqueue(r, rc->open_op);
	pthread_mutex_unlock(&r->mu);
	*out = rc;
	return 0;
}

void voice_recording_put(struct voice_recording *rc, const int16_t *pcm, size_t n)
{
	if (!rc || !pcm || n == 0)
		return;
	struct voice_rec *r = rc->r;
	/* Allocate outside the lock: the writer holds it only for list
	 * operations, and so does this. */
	struct op *op = n <= REC_QUEUE_PER ? malloc(sizeof(*op) + n * sizeof(int16_t)) : NULL;
	if (op) {
		op->rc = rc;
		op->kind = OP_DATA;
		op->n = n;
		memcpy(op->pcm, pcm, n * sizeof(int16_t));
	}
	pthread_mutex_lock(&r->mu);
	if (!op || rc->queued + n > REC_QUEUE_PER || r->queued + n > REC_QUEUE_ALL) {
		rc->dropped += n;
		pthread_mutex_unlock(&r->mu);
		free(op);
		return;
	}
	rc->queued += n;
	r->queued += n;
	enqueue(r, op);
	pthread_mutex_unlock(&r->mu);
}

void voice_recording_close(struct voice_recording *rc)
{
	if (!rc)
		return;
	struct voice_rec *r = rc->r;
	pthread_mutex_lock(&r->mu);
	if (rc->close_op)
		enqueue(r, rc->close_op);
	pthread_mutex_unlock(&r->mu);
}

/* mkdir -p, mode for the directories it creates. */
static int mkdir_p(const char *dir, mode_t mode)
{
	char path[4096];
	size_t n = strlen(dir);
	if (n == 0 || n >= sizeof(path))
		return -EINVAL;
	memcpy(path, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		char c = path[i];
		path[i] = '\0';
		if (mkdir(path, mode) && errno != EEXIST)
			return -errno;
		path[i] = c;
	}
	struct stat st;
	if (stat(dir, &st))
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int voice_rec_start(struct voice_rec **rp, const char *dir)
{
	if (!rp || !dir || !dir[0])
		return -EINVAL;
	int err = mkdir_p(dir, 0750);
	if (err) {
		LOG_ERROR(MOD, "recordings directory %s: %s", dir, strerror(-err));
		return err;
	}
	struct voice_rec *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	r->tail = &r->head;
	r->done_tail = &r->done;
	if (!(r->dir = strdup(dir))) {
		err = -ENOMEM;
		goto out;
	}
	err = mqueue_alloc(&r->mq, on_done, r);
	if (err) {
		err = -err;
		goto out;
	}
	err = pthread_create(&r->th, NULL, writer, r);
	if (err) {
		LOG_ERROR(MOD, "recording writer thread: %s", strerror(err));
		err = -err;
		goto out;
	}
	r->th_started = true;
	*rp = r;
	return 0;
out:
	voice_rec_stop(r);
	return err;
}

void voice_rec_stop(struct voice_rec *r)
{
	if (!r)
		return;
	if (r->th_started) {
		pthread_mutex_lock(&r->mu);
		r->stop = true;
		pthread_cond_signal(&r->cv);
		pthread_mutex_unlock(&r->mu);
		pthread_join(r->th, NULL);
	}
	/* The writer drained the queue and finished every file; what it
	 * reported and the core has not seen yet is dropped. */
	r->mq = mem_deref(r->mq);
	for (struct voice_recording *rc = r->done, *next; rc; rc = next) {
		next = rc->next;
		rec_free(rc);
	}
	free(r->dir);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}
