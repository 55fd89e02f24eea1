/*
 * routing_int.h: private building blocks of the routing engine.
 *
 * Two containers, both allocation-counted through struct routing_mem so the
 * engine can report its exact memory use:
 *  - an indexed binary min-heap whose entries remember where they live
 *    (through a pointer to a uint32_t slot in the owning object), so any
 *    entry can be re-keyed or removed in O(log n), plus an ordered iterator
 *    that walks a heap best-first without modifying it (used to skip
 *    candidates that fail a filter);
 *  - an open-addressing hash map from uint64 keys to pointers.
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

struct routing_hslot {
	uint64_t key;
	void *val; /* NULL: empty slot */
};

struct routing_hash {
	struct routing_hslot *s;
	uint32_t n, mask; /* mask + 1 slots */
};

void *routing_hash_get(const struct routing_hash *h, uint64_t key);
/* Insert or replace; val must not be NULL. 0 or -ENOMEM. */
int routing_hash_put(struct routing_mem *m, struct routing_hash *h,
		     uint64_t key, void *val);
void routing_hash_del(struct routing_hash *h, uint64_t key);
void routing_hash_fini(struct routing_mem *m, struct routing_hash *h);

#endif
