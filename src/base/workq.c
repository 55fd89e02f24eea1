/*
 * workq.c: a fixed pool of threads for blocking work (argon2id hashing now;
 * TTS, mail and report queries later), so that the core and web threads
 * never block. Work items run in FIFO order; results travel back through
 * whatever queue the item's own function posts to.
 */
#include "base/base.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct work {
	struct work *next;
	base_work_h *fn;
	void *arg;
};

struct base_workq {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct work *head, *tail;
	size_t depth;
	bool stopping;
	unsigned n;
	pthread_t *threads;
};

static void *worker_main(void *arg)
{
	struct base_workq *wq = arg;
	for (;;) {
		pthread_mutex_lock(&wq->lock);
		while (!wq->head && !wq->stopping)
			pthread_cond_wait(&wq->cond, &wq->lock);
		struct work *w = wq->head;
		if (!w) {
			pthread_mutex_unlock(&wq->lock);
			return NULL;
		}
		wq->head = w->next;
		if (!wq->head)
			wq->tail = NULL;
		wq->depth--;
		pthread_mutex_unlock(&wq->lock);
		w->fn(w->arg);
		free(w);
	}
}

int base_workq_alloc(struct base_workq **wqp, unsigned n, const char *name)
{
	struct base_workq *wq = calloc(1, sizeof(*wq));
	if (!wq)
		return -ENOMEM;
	pthread_mutex_init(&wq->lock, NULL);
	pthread_cond_init(&wq->cond, NULL);
	wq->threads = calloc(n, sizeof(pthread_t));
	if (!wq->threads) {
		free(wq);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		int r = pthread_create(&wq->threads[i], NULL, worker_main, wq);
		if (r) {
			wq->n = i;
			base_workq_free(wq);
			return -r;
		}
		if (name)
			pthread_setname_np(wq->threads[i], name);
	}
	wq->n = n;
	*wqp = wq;
	return 0;
}

int base_workq_push(struct base_workq *wq, base_work_h *fn, void *arg)
{
	struct work *w = malloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fn = fn;
	w->arg = arg;
	w->next = NULL;
	pthread_mutex_lock(&wq->lock);
	if (wq->stopping) {
		pthread_mutex_unlock(&wq->lock);
		free(w);
		return -ESHUTDOWN;
	}
	if (wq->tail)
		wq->tail->next = w;
	else
		wq->head = w;
	wq->tail = w;
	wq->depth++;
	pthread_cond_signal(&wq->cond);
	pthread_mutex_unlock(&wq->lock);
	return 0;
}

size_t base_workq_depth(struct base_workq *wq)
{
	pthread_mutex_lock(&wq->lock);
	size_t d = wq->depth;
	pthread_mutex_unlock(&wq->lock);
	return d;
}

void base_workq_free(struct base_workq *wq)
{
	if (!wq)
		return;
	pthread_mutex_lock(&wq->lock);
	wq->stopping = true;
	pthread_cond_broadcast(&wq->cond);
	pthread_mutex_unlock(&wq->lock);
	for (unsigned i = 0; i < wq->n; i++)
		pthread_join(wq->threads[i], NULL);
	free(wq->threads);
	pthread_mutex_destroy(&wq->lock);
	pthread_cond_destroy(&wq->cond);
	free(wq);
}
