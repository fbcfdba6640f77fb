/* slab: the memory of one store. Small blocks are carved from fixed-size pages in fine size classes
 * (no header per block); big blocks are malloc'd one by one. A clock hand visits every block.
 * Not thread-safe: one allocator belongs to one store, used by one thread at a time. */
#ifndef SC_SLAB_H
#define SC_SLAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Pages are SLAB_PAGE_MAX bytes, or smaller for a small limit (at least 16 pages fit), down to
 * SLAB_PAGE_MIN; a limit under 4 pages of SLAB_PAGE_MIN has no pages and every block is big. Blocks of up to a
 * quarter page come from pages (classes in 8-byte steps to 256 B, then ~1/8 steps, then page/k
 * sizes that fill a page); bigger blocks are malloc'd one by one.
 * Why 16 KiB: when a class needs a page, the hand empties one, whatever its class, so a page of
 * small blocks loses all its items at once. Writing sizes 1 B-4 KiB into 64 MiB, 64 KiB pages kept
 * 73k items, small ones under-represented (4k of each small size), 32 KiB 84k, 16 KiB 92k with
 * about 7k of every size, as a size-blind LRU keeps (98k in 48-byte-header malloc chunks). */
#define SLAB_PAGE_MAX 16384
#define SLAB_PAGE_MIN 4096
#define SLAB_BLOCK_MIN 32    /* the smallest class; blocks are multiples of 8 bytes */
#define SLAB_CLASSES_MAX 64
/* Emptied pages kept resident, and counted, for the next class that needs a page: a lone item set
 * and deleted in turn then costs no syscall. A big block that needs their room takes it first. */
#define SLAB_SPARES_MAX 4

typedef struct slab slab_t;

/* What the memory limit governs, and how it is used. */
typedef struct slab_stats {
    uint64_t malloced;  /* pages in use * page size + big blocks as counted: never over the limit */
    uint64_t pages;     /* in use or spare */
    uint64_t page_size; /* 0 when the limit is too small for pages */
    uint64_t big_blocks;
    uint64_t spares;    /* emptied pages kept resident for the next class that needs one */
} slab_stats_t;

typedef struct slab_class_stats {
    uint64_t block_size;
    uint64_t per_page;  /* blocks in a page */
    uint64_t pages;
    uint64_t used;      /* blocks allocated */
} slab_class_stats_t;

/* An allocator whose pages plus big blocks never count more than memory_limit bytes. Reserves
 * address space for growth * limit/page pages (no resident memory until used), so that
 * slab_set_limit() may raise the limit up to growth times (0 or 1: not at all). NULL when out of
 * memory. */
slab_t *slab_create(size_t memory_limit, unsigned growth);

/* Frees every page and big block at once. */
void slab_destroy(slab_t *sl);

/* The bytes a block of `size` counts against the limit: its class size, or for a big block the
 * size with its bookkeeping and malloc's chunk overhead. O(1). */
size_t slab_block_size(const slab_t *sl, size_t size);

/* Whether a block of `size` can be allocated at all once everything else is freed. */
bool slab_fits(const slab_t *sl, size_t size);

/* A block of at least `size` bytes, 8-byte aligned: a free block of its class, a new page, or a
 * big block. NULL with *full set when the limit leaves no room (free blocks, then retry); NULL with
 * *full clear when malloc or the page reservation failed. O(1). */
void *slab_alloc(slab_t *sl, size_t size, bool *full);

/* Gives a block back. A page whose last block goes becomes a spare or is returned to the system;
 * either way it may later serve any class. O(1). */
void slab_free(slab_t *sl, void *block);

/* The clock hand: the block it is on, moving it past; NULL when no block is allocated. Blocks are
 * visited in a fixed ring order of pages (slot by slot) and big blocks; a new page or big block
 * joins the ring just behind the hand, so it is visited last. O(page size / 4096). */
void *slab_hand_next(slab_t *sl);

/* Whether the hand passed this block less than half a revolution ago (or it joined the ring since,
 * just behind the hand): the hand then comes to it only after more than half a revolution. O(1). */
bool slab_behind_hand(const slab_t *sl, const void *block);

/* The blocks allocated in the page of class cls that has fewest, when the class has at least
 * min_pages pages: up to max of them into blocks. Returns how many (0: no such page). For emptying
 * a page on request ("slabs reassign"); O(pages). */
size_t slab_page_blocks(const slab_t *sl, unsigned cls, size_t min_pages, void **blocks, size_t max);

/* Changes the limit: a lower one holds new blocks back until enough are freed (the owner frees
 * them: slab_over_limit()); a higher one may be up to 4 times the first (the address space kept
 * for pages). -1 when it is higher than that. */
int slab_set_limit(slab_t *sl, size_t limit);
bool slab_over_limit(const slab_t *sl);

void slab_get_stats(const slab_t *sl, slab_stats_t *out);

/* The class a block of `size` comes from, or SLAB_CLASSES_MAX for a big block. O(1). */
unsigned slab_class_of(const slab_t *sl, size_t size);

/* Number of size classes (ids 0..n-1), and one class's figures. */
unsigned slab_classes(const slab_t *sl);
void slab_get_class_stats(const slab_t *sl, unsigned cls, slab_class_stats_t *out);

#endif
