/*
 * routing_util.c: the containers behind the routing engine's indexes (see
 * routing_int.h): a counted allocator, an indexed binary heap with a
 * best-first iterator, and a uint64 -> pointer hash map. Kept apart from
 * routing.c so the engine file reads as policy, not plumbing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "routing/routing_int.h"

void *routing_mem_alloc(struct routing_mem *m, size_t n)
{
	void *p = calloc(1, n);
	if (p)
		m->bytes += n;
	return p;
}

void *routing_mem_realloc(struct routing_mem *m, void *p, size_t old, size_t n)
{
	void *q = realloc(p, n);
	if (q) {
		m->bytes -= old;
		m->bytes += n;
	}
	return q;
}

void routing_mem_free(struct routing_mem *m, void *p, size_t n)
{
	if (!p)
		return;
	m->bytes -= n;
	free(p);
}

/* ---- free lists ---- */

#if defined(__SANITIZE_ADDRESS__)
#define HL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HL_ASAN 1
#endif
#endif
#ifdef HL_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

void *routing_pool_get(struct routing_mem *m, struct routing_pool *p)
{
	void *x = p->head;
	if (!x)
		return routing_mem_alloc(m, p->size);
	UNPOISON(x, p->size);
	memcpy(&p->head, x, sizeof(void *));
	memset(x, 0, p->size);
	return x;
}

void routing_pool_put(struct routing_pool *p, void *x)
{
	if (!x)
		return;
	memcpy(x, &p->head, sizeof(void *));
	p->head = x;
	POISON((char *)x + sizeof(void *), p->size - sizeof(void *));
}

void routing_pool_fini(struct routing_mem *m, struct routing_pool *p)
{
	while (p->head) {
		void *x = p->head;
		memcpy(&p->head, x, sizeof(void *));
		UNPOISON(x, p->size);
		routing_mem_free(m, x, p->size);
	}
}

/* ---- heap ---- */

static inline void hset(struct routing_heap *h, uint32_t i,
			const struct routing_hent *e)
{
	h->v[i] = *e;
	*e->posp = i;
}

static void sift_up(struct routing_heap *h, uint32_t i)
{
	struct routing_hent e = h->v[i];
	while (i > 0) {
		uint32_t p = (i - 1) / 2;
		if (!routing_hent_less(&e, &h->v[p]))
			break;
		hset(h, i, &h->v[p]);
		i = p;
	}
	hset(h, i, &e);
}

static void sift_down(struct routing_heap *h, uint32_t i)
{
	struct routing_hent e = h->v[i];
	for (;;) {
		uint32_t l = 2 * i + 1, c;
		if (l >= h->n)
			break;
		c = l;
		if (l + 1 < h->n && routing_hent_less(&h->v[l + 1], &h->v[l]))
			c = l + 1;
		if (!routing_hent_less(&h->v[c], &e))
			break;
		hset(h, i, &h->v[c]);
		i = c;
	}
	hset(h, i, &e);
}

int routing_heap_reserve(struct routing_mem *m, struct routing_heap *h,
			 uint32_t n)
{
	uint32_t nc = h->cap ? h->cap : 4;
	void *nv;
	if (n <= h->cap)
		return 0;
	while (nc < n)
		nc *= 2;
	nv = routing_mem_realloc(m, h->v, h->cap * sizeof(*h->v),
				 nc * sizeof(*h->v));
	if (!nv)
		return -ENOMEM;
	h->v = nv;
	h->cap = nc;
	return 0;
}

int routing_heap_push(struct routing_mem *m, struct routing_heap *h,
		      int64_t k1, int64_t k2, uint64_t tie, uint32_t *posp,
		      void *obj)
{
	if (h->n == h->cap && routing_heap_reserve(m, h, h->n + 1))
		return -ENOMEM;
	h->v[h->n].k1 = k1;
	h->v[h->n].k2 = k2;
	h->v[h->n].tie = tie;
	h->v[h->n].posp = posp;
	h->v[h->n].obj = obj;
	*posp = h->n;
	h->n++;
	sift_up(h, h->n - 1);
	return 0;
}

void routing_heap_remove(struct routing_heap *h, uint32_t pos)
{
	*h->v[pos].posp = ROUTING_NOPOS;
	h->n--;
	if (pos == h->n)
		return;
	hset(h, pos, &h->v[h->n]);
	if (pos > 0 && routing_hent_less(&h->v[pos], &h->v[(pos - 1) / 2]))
		sift_up(h, pos);
	else
		sift_down(h, pos);
}

void routing_heap_rekey(struct routing_heap *h, uint32_t pos, int64_t k1,
			int64_t k2)
{
	h->v[pos].k1 = k1;
	h->v[pos].k2 = k2;
	if (pos > 0 && routing_hent_less(&h->v[pos], &h->v[(pos - 1) / 2]))
		sift_up(h, pos);
	else
		sift_down(h, pos);
}

void routing_heap_fini(struct routing_mem *m, struct routing_heap *h)
{
	routing_mem_free(m, h->v, h->cap * sizeof(*h->v));
	memset(h, 0, sizeof(*h));
}

/* The frontier is itself a tiny min-heap of indexes into the big heap: the
 * smallest unvisited entry is always a child of a visited one. */
static int fr_less(const struct routing_iter *it, uint32_t a, uint32_t b)
{
	return routing_hent_less(&it->h->v[a], &it->h->v[b]);
}

static int fr_push(struct routing_iter *it, uint32_t x)
{
	unsigned i;
	if (it->n == ROUTING_ITER_MAX)
		return -1;
	i = it->n++;
	while (i > 0) {
		unsigned p = (i - 1) / 2;
		if (!fr_less(it, x, it->fr[p]))
			break;
		it->fr[i] = it->fr[p];
		i = p;
	}
	it->fr[i] = x;
	return 0;
}

static uint32_t fr_pop(struct routing_iter *it)
{
	uint32_t top = it->fr[0], x = it->fr[--it->n];
	unsigned i = 0;
	for (;;) {
		unsigned l = 2 * i + 1, c;
		if (l >= it->n)
			break;
		c = l;
		if (l + 1 < it->n && fr_less(it, it->fr[l + 1], it->fr[l]))
			c = l + 1;
		if (!fr_less(it, it->fr[c], x))
			break;
		it->fr[i] = it->fr[c];
		i = c;
	}
	if (it->n)
		it->fr[i] = x;
	return top;
}

void routing_iter_init(struct routing_iter *it, const struct routing_heap *h)
{
	it->h = h;
	it->n = 0;
	if (h->n)
		it->fr[it->n++] = 0;
}

long routing_iter_next(struct routing_iter *it)
{
	uint32_t i, l;
	if (!it->n)
		return -1;
	if (it->n + 1 >= ROUTING_ITER_MAX)
		return -2;
	i = fr_pop(it);
	l = 2 * i + 1;
	if (l < it->h->n)
		fr_push(it, l);
	if (l + 1 < it->h->n)
		fr_push(it, l + 1);
	return (long)i;
}

/* ---- ordered deque ---- */

static inline int fent_less(int64_t k, uint64_t tie, const struct routing_fent *e)
{
	return k < e->k || (k == e->k && tie < e->tie);
}

/* Number of entries smaller than (k, tie). */
static uint32_t fifo_rank(const struct routing_fifo *f, int64_t k, uint64_t tie)
{
	uint32_t lo = 0, hi = f->n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct routing_fent *e = routing_fifo_at(f, mid);
		if (e->k < k || (e->k == k && e->tie < tie))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int fifo_grow(struct routing_mem *m, struct routing_fifo *f)
{
	uint32_t nc = f->cap ? f->cap * 2 : 4, i;
	struct routing_fent *nv = routing_mem_alloc(m, nc * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	for (i = 0; i < f->n; i++)
		nv[i] = *routing_fifo_at(f, i);
	routing_mem_free(m, f->v, f->cap * sizeof(*f->v));
	f->v = nv;
	f->cap = nc;
	f->head = 0;
	return 0;
}

/* Move logical entries [a, b) one slot towards the back, to [a + 1, b + 1)
 * (slot b must be free): memmove of the physically contiguous runs, last
 * run first. */
static void fifo_shift_right(struct routing_fifo *f, uint32_t a, uint32_t b)
{
	uint32_t mask = f->cap - 1;
	while (b > a) {
		uint32_t ps = (f->head + b - 1) & mask; /* last source */
		uint32_t pd = (f->head + b) & mask;     /* its destination */
		uint32_t len = b - a;
		if (len > ps + 1)
			len = ps + 1;
		if (len > pd + 1)
			len = pd + 1;
		memmove(&f->v[pd + 1 - len], &f->v[ps + 1 - len],
			len * sizeof(*f->v));
		b -= len;
	}
}

/* Move logical entries [a, b) one slot towards the front, to [a - 1, b - 1)
 * (a >= 1, slot a - 1 free): first run first. */
static void fifo_shift_left(struct routing_fifo *f, uint32_t a, uint32_t b)
{
	uint32_t mask = f->cap - 1;
	while (a < b) {
		uint32_t ps = (f->head + a) & mask;     /* first source */
		uint32_t pd = (f->head + a - 1) & mask; /* its destination */
		uint32_t len = b - a;
		if (len > f->cap - ps)
			len = f->cap - ps;
		if (len > f->cap - pd)
			len = f->cap - pd;
		memmove(&f->v[pd], &f->v[ps], len * sizeof(*f->v));
		a += len;
	}
}

int routing_fifo_insert(struct routing_mem *m, struct routing_fifo *f,
			int64_t k, uint64_t tie, void *obj)
{
	uint32_t p;
	struct routing_fent *e;
	if (f->n == f->cap && fifo_grow(m, f))
		return -ENOMEM;
	if (!f->n || !fent_less(k, tie, routing_fifo_at(f, f->n - 1)))
		p = f->n; /* the usual case: latest arrival */
	else
		p = fifo_rank(f, k, tie);
	if (p >= f->n / 2) {
		/* shift the back part right */
		fifo_shift_right(f, p, f->n);
	} else {
		/* shift the front part left */
		f->head = (f->head - 1) & (f->cap - 1);
		fifo_shift_left(f, 1, p + 1);
	}
	f->n++;
	e = routing_fifo_at(f, p);
	e->k = k;
	e->tie = tie;
	e->obj = obj;
	return 0;
}

void routing_fifo_remove(struct routing_fifo *f, int64_t k, uint64_t tie)
{
	uint32_t p;
	const struct routing_fent *e = &f->v[f->head];
	if (e->k == k && e->tie == tie)
		p = 0; /* the usual case: the oldest leaves */
	else
		p = fifo_rank(f, k, tie);
	if (p < f->n / 2) {
		fifo_shift_right(f, 0, p);
		f->head = (f->head + 1) & (f->cap - 1);
	} else {
		fifo_shift_left(f, p + 1, f->n);
	}
	f->n--;
}

void routing_fifo_fini(struct routing_mem *m, struct routing_fifo *f)
{
	routing_mem_free(m, f->v, f->cap * sizeof(*f->v));
	memset(f, 0, sizeof(*f));
}

/* ---- hash ---- */

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static inline uint32_t home(const struct routing_hash *h, uint64_t key)
{
	if (h->seq)
		return ((uint32_t)mix64(key >> 2) + (uint32_t)(key & 3)) & h->mask;
	return (uint32_t)mix64(key) & h->mask;
}

void *routing_hash_get(const struct routing_hash *h, uint64_t key)
{
	uint32_t i;
	if (!h->s)
		return NULL;
	for (i = home(h, key);; i = (i + 1) & h->mask) {
		if (!h->s[i].val)
			return NULL;
		if (h->s[i].key == key)
			return h->s[i].val;
	}
}

static int grow(struct routing_mem *m, struct routing_hash *h)
{
	uint32_t oldn = h->s ? h->mask + 1 : 0, nn = oldn ? oldn * 2 : 16, i;
	struct routing_hslot *old = h->s;
	struct routing_hslot *s = routing_mem_alloc(m, nn * sizeof(*s));
	if (!s)
		return -ENOMEM;
	h->s = s;
	h->mask = nn - 1;
	for (i = 0; i < oldn; i++) {
		uint32_t j;
		if (!old[i].val)
			continue;
		for (j = home(h, old[i].key); s[j].val;
		     j = (j + 1) & h->mask)
			;
		s[j] = old[i];
	}
	routing_mem_free(m, old, oldn * sizeof(*old));
	return 0;
}

int routing_hash_put(struct routing_mem *m, struct routing_hash *h,
		     uint64_t key, void *val)
{
	uint32_t i;
	if (!h->s || (h->n + 1) * 4 > (h->mask + 1) * 3) {
		int err = grow(m, h);
		if (err)
			return err;
	}
	for (i = home(h, key);; i = (i + 1) & h->mask) {
		if (!h->s[i].val) {
			h->s[i].key = key;
			h->s[i].val = val;
			h->n++;
			return 0;
		}
		if (h->s[i].key == key) {
			h->s[i].val = val;
			return 0;
		}
	}
}

/* Backward-shift deletion keeps probe chains intact without tombstones. */
void routing_hash_del(struct routing_hash *h, uint64_t key)
{
	uint32_t i, j;
	if (!h->s)
		return;
	for (i = home(h, key);; i = (i + 1) & h->mask) {
		if (!h->s[i].val)
			return;
		if (h->s[i].key == key)
			break;
	}
	h->n--;
	j = i;
	for (;;) {
		uint32_t hm;
		j = (j + 1) & h->mask;
		if (!h->s[j].val)
			break;
		hm = home(h, h->s[j].key);
		/* move j to i if its home is not within (i, j] cyclically */
		if (((j - hm) & h->mask) >= ((j - i) & h->mask)) {
			h->s[i] = h->s[j];
			i = j;
		}
	}
	h->s[i].val = NULL;
	h->s[i].key = 0;
}

void routing_hash_fini(struct routing_mem *m, struct routing_hash *h)
{
	if (h->s)
		routing_mem_free(m, h->s, (h->mask + 1) * sizeof(*h->s));
	memset(h, 0, sizeof(*h));
}
