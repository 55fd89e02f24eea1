/*
 * routing_int.h: private building blocks of the routing engine.
 *
 * Containers, all allocation-counted through struct routing_mem so the
 * engine can report its exact memory use:
 *  - an indexed binary min-heap whose entries remember where they live
 *    (through a pointer to a uint32_t slot in the owning object), so any
 *    entry can be re-keyed or removed in O(log n), plus an ordered iterator
 *    that walks a heap best-first without modifying it (used to skip
 *    candidates that fail a filter);
 *  - an open-addressing hash map from uint64 keys to pointers;
 *  - an ordered deque (sorted ring buffer) for nearly-FIFO sequences;
 *  - free lists of same-size objects.
 * Nothing here is exported from the library's public header.
 */
#ifndef HL_ROUTING_INT_H
#define HL_ROUTING_INT_H

#include <stddef.h>
#include <stdint.h>

#define ROUTING_NOPOS UINT32_MAX

struct routing_mem {
	size_t bytes; /* bytes currently requested from malloc */
};

void *routing_mem_alloc(struct routing_mem *m, size_t n);      /* zeroed */
void *routing_mem_realloc(struct routing_mem *m, void *p, size_t old,
			  size_t n);
void routing_mem_free(struct routing_mem *m, void *p, size_t n);

/* Free list of same-size objects (tasks, offers): a freed object is kept for
 * the next allocation instead of going back to malloc, so the steady state
 * allocates nothing. Pooled objects stay counted in routing_mem (they are
 * still held from malloc). Under AddressSanitizer a pooled object is
 * poisoned, so a use after "free" is still reported. */
struct routing_pool {
	void *head;
	size_t size; /* object size, at least sizeof(void *) */
};

void *routing_pool_get(struct routing_mem *m, struct routing_pool *p); /* zeroed */
void routing_pool_put(struct routing_pool *p, void *x);
void routing_pool_fini(struct routing_mem *m, struct routing_pool *p);

/* Entries order by (k1, k2, tie), smallest first. */
struct routing_hent {
	int64_t k1, k2;
	uint64_t tie;
	uint32_t *posp; /* where the entry's index is kept; ROUTING_NOPOS if out */
	void *obj;
};

struct routing_heap {
	struct routing_hent *v;
	uint32_t n, cap;
};

int routing_heap_push(struct routing_mem *m, struct routing_heap *h,
		      int64_t k1, int64_t k2, uint64_t tie, uint32_t *posp,
		      void *obj);
/* Make room for n entries so later pushes cannot fail. 0 or -ENOMEM. */
int routing_heap_reserve(struct routing_mem *m, struct routing_heap *h,
			 uint32_t n);
void routing_heap_remove(struct routing_heap *h, uint32_t pos);
void routing_heap_rekey(struct routing_heap *h, uint32_t pos, int64_t k1,
			int64_t k2);
void routing_heap_fini(struct routing_mem *m, struct routing_heap *h);

static inline int routing_hent_less(const struct routing_hent *a,
				    const struct routing_hent *b)
{
	if (a->k1 != b->k1)
		return a->k1 < b->k1;
	if (a->k2 != b->k2)
		return a->k2 < b->k2;
	return a->tie < b->tie;
}

/* Best-first walk over a heap: each step costs O(log steps). When the
 * frontier would exceed ROUTING_ITER_MAX the walk reports -2 and the caller
 * falls back to a linear scan, so a pathological filter costs O(n) instead
 * of failing. */
#define ROUTING_ITER_MAX 64
struct routing_iter {
	const struct routing_heap *h;
	uint32_t fr[ROUTING_ITER_MAX];
	unsigned n;
};
void routing_iter_init(struct routing_iter *it, const struct routing_heap *h);
/* Next entry index in order, -1 when done, -2 when the frontier is full. */
long routing_iter_next(struct routing_iter *it);

/* Ordered deque of (k, tie) entries, smallest first: a ring buffer kept
 * sorted. Built for a group's waiting tasks, which arrive (and leave) almost
 * always in order: adding at the back and removing the front are O(1), an
 * out-of-order add or a removal from the middle is a binary search plus a
 * move of the shorter side. Nothing outside the buffer is touched, unlike
 * an indexed heap that writes each moved entry's owner. */
struct routing_fent {
	int64_t k;
	uint64_t tie;
	void *obj;
};

struct routing_fifo {
	struct routing_fent *v;
	uint32_t head, n, cap; /* cap: 0 or a power of two */
};

static inline struct routing_fent *routing_fifo_at(const struct routing_fifo *f,
						   uint32_t i)
{
	return &f->v[(f->head + i) & (f->cap - 1)];
}

static inline void *routing_fifo_first(const struct routing_fifo *f)
{
	return f->v[f->head].obj;
}

/* Insert (k, tie) (unique). 0 or -ENOMEM. */
int routing_fifo_insert(struct routing_mem *m, struct routing_fifo *f,
			int64_t k, uint64_t tie, void *obj);
/* Remove the entry (k, tie), which must be present. */
void routing_fifo_remove(struct routing_fifo *f, int64_t k, uint64_t tie);
void routing_fifo_fini(struct routing_mem *m, struct routing_fifo *f);

struct routing_hslot {
	uint64_t key;
	void *val; /* NULL: empty slot */
};

struct routing_hash {
	struct routing_hslot *s;
	uint32_t n, mask; /* mask + 1 slots */
	/* Keys are engine-issued sequence numbers: runs of four consecutive
	 * keys share one home block (one cache line of slots), blocks are
	 * spread by the mix as usual. Set before the first put. Default 0:
	 * every key is mixed. */
	uint32_t seq;
};

void *routing_hash_get(const struct routing_hash *h, uint64_t key);
/* Insert or replace; val must not be NULL. 0 or -ENOMEM. */
int routing_hash_put(struct routing_mem *m, struct routing_hash *h,
		     uint64_t key, void *val);
void routing_hash_del(struct routing_hash *h, uint64_t key);
void routing_hash_fini(struct routing_mem *m, struct routing_hash *h);

#endif
