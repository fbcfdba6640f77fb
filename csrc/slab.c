/* slab: size-classed pages carved from one reserved address range, big blocks from malloc, and the
 * clock hand's ring over both. Every operation is O(1) but the hand's scan of one page's bitmap and
 * a madvise when memory goes back to the system. */
#include "slab.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SLAB_SLOTS_MAX (SLAB_PAGE_MAX / SLAB_BLOCK_MIN)
#define SLAB_FINE_MAX 256        /* classes step by 8 bytes up to here, then by about 1/8 */
#define SLAB_PAGE_SLOTS_MIN 4    /* the largest class is a quarter page */
#define SLAB_PAGES_MIN 4         /* a limit that holds fewer pages has none: every block is big */
#define MALLOC_OVERHEAD 16       /* what malloc adds to a chunk, at most, on 64-bit glibc */
#define MALLOC_FIELDS 64         /* bytes at each end of a freed chunk that malloc may write */
/* Giving back the interior of a malloc chunk relies on how glibc's malloc lays out and reuses a
 * freed chunk (MALLOC_FIELDS); another libc (musl, macOS) keeps that memory resident instead. */
#if defined(__GLIBC__) && defined(MADV_DONTNEED)
#define SLAB_RELEASE_INTERIOR 1
#else
#define SLAB_RELEASE_INTERIOR 0
#endif

/* A member of the hand's ring: a page or a big block. */
typedef struct slab_unit {
    struct slab_unit *prev, *next;
    size_t big;                  /* a big block: the bytes it counts; a page: 0 */
    uint64_t passed;             /* the hand's tick when it last left this unit, or it joined */
} slab_unit_t;

typedef struct slab_page {
    slab_unit_t unit;            /* first, so a unit that is a page is the page */
    struct slab_page *pprev, *pnext; /* its class's pages with a free slot; pnext alone links a
                                        released page into the spares or the unused metas */
    void *free;                  /* freed slots, linked through their first pointer */
    uint32_t fresh;              /* slots from here on were never used */
    uint32_t used;
    uint8_t cls;
    bool partial;                /* in its class's list of pages with a free slot */
    uint64_t bits[SLAB_SLOTS_MAX / 64]; /* allocated slots */
} slab_page_t;

typedef struct slab_class {
    uint32_t size;
    uint32_t per_page;
    slab_page_t *partial;        /* most recently freed-into first */
    uint64_t pages;
    uint64_t used;
} slab_class_t;

struct slab {
    size_t limit;
    size_t os_page;
    size_t page_size;            /* a power of two; 0: no pages */
    unsigned page_shift;
    unsigned growth;             /* how many times the starting limit the region holds */
    char *region;                /* max_pages * page_size reserved bytes */
    size_t max_pages;
    slab_page_t *metas;          /* one per page of the region */
    slab_page_t *unused;         /* released metas, linked through pnext */
    slab_page_t *spares;         /* emptied pages still resident and counted, linked through pnext */
    size_t nspares;
    size_t next_meta;            /* metas from here on were never used */
    size_t pages;
    size_t big_bytes;
    size_t big_blocks;
    size_t big_resident;         /* estimate of malloc's heap kept for big blocks: their peak, less
                                    what _big_release_interior gave back */
    slab_unit_t *hand;
    uint32_t hand_slot;          /* next slot to visit when the hand is on a page */
    uint64_t tick;               /* units the hand has left since the start */
    size_t units;                /* in the ring */
    unsigned nclasses;
    size_t block_max;            /* the largest class; bigger blocks are big */
    slab_class_t classes[SLAB_CLASSES_MAX];
    uint8_t class_of[SLAB_PAGE_MAX / SLAB_PAGE_SLOTS_MIN / 8 + 1]; /* (size + 7) / 8 -> class */
};

static size_t _round8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* Classes step by 8 bytes up to SLAB_FINE_MAX, then by about 1/8 up to page/16; from there on a
 * class is page/k for k = 15 down to 4, so its slots fill the page to within 8 bytes per slot. */
static void _init_classes(slab_t *sl)
{
    size_t size = SLAB_BLOCK_MIN;
    while (size <= sl->page_size / 16 && sl->nclasses < SLAB_CLASSES_MAX - 15) {
        sl->classes[sl->nclasses++].size = (uint32_t)size;
        size = size < SLAB_FINE_MAX ? size + 8 : _round8(size + size / 8);
    }
    for (size_t k = 15; k >= SLAB_PAGE_SLOTS_MIN; k--) {
        size = sl->page_size / k & ~(size_t)7;
        if (size > sl->classes[sl->nclasses - 1].size)
            sl->classes[sl->nclasses++].size = (uint32_t)size;
    }
    for (unsigned i = 0; i < sl->nclasses; i++)
        sl->classes[i].per_page = (uint32_t)(sl->page_size / sl->classes[i].size);
    sl->block_max = sl->classes[sl->nclasses - 1].size;
    unsigned cls = 0;
    for (size_t i = 0; i <= sl->block_max / 8; i++) {
        while (sl->classes[cls].size < i * 8)
            cls++;
        sl->class_of[i] = (uint8_t)cls;
    }
}

/* Zeroed, lazily backed address space; NULL on failure. */
static void *_reserve(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Pages of SLAB_PAGE_MAX, or smaller so that a small limit still holds 16 of them. */
static void _choose_pages(slab_t *sl)
{
    size_t page = SLAB_PAGE_MAX;
    while (page > SLAB_PAGE_MIN && page * 16 > sl->limit)
        page /= 2;
    unsigned shift = 0;
    while (((size_t)1 << shift) < page)
        shift++;
    /* With a few pages only, one pinned by a reader (an append reads the old item while its new
     * one is placed) can leave another class no page at all: then every block is big instead. */
    if (page * SLAB_PAGES_MIN > sl->limit)
        return;
    /* Address space, and metas, for the limit to grow: both mapped, so zero pages that cost no
     * memory until a page is used (calloc would clear them under valgrind and some allocators).
     * The room is not free everywhere: valgrind tracks every mapped byte, so a program creating
     * many stores (the C tests) asks for none. */
    size_t max_pages = sl->limit / page * sl->growth;
    void *region = _reserve(max_pages * page);
    if (region == NULL)
        return;
    slab_page_t *metas = _reserve(max_pages * sizeof(slab_page_t));
    if (metas == NULL) {
        munmap(region, max_pages * page);
        return;
    }
    sl->region = region;
    sl->metas = metas;
    sl->max_pages = max_pages;
    sl->page_size = page;
    sl->page_shift = shift;
    _init_classes(sl);
}

slab_t *slab_create(size_t memory_limit, unsigned growth)
{
    slab_t *sl = calloc(1, sizeof(*sl));
    if (sl == NULL)
        return NULL;
    sl->limit = memory_limit;
    sl->growth = growth > 1 ? growth : 1;
    long os_page = sysconf(_SC_PAGESIZE);
    sl->os_page = os_page > 0 ? (size_t)os_page : 4096;
    /* Without pages (a tiny limit, or no address space to reserve) every block is big. */
    _choose_pages(sl);
    return sl;
}

void slab_destroy(slab_t *sl)
{
    if (sl == NULL)
        return;
    slab_unit_t *u = sl->hand;
    if (u != NULL) {
        u->prev->next = NULL;
        while (u != NULL) {
            slab_unit_t *next = u->next;
            if (u->big)
                free(u);
            u = next;
        }
    }
    if (sl->region != NULL) {
        munmap(sl->region, sl->max_pages * sl->page_size);
        munmap(sl->metas, sl->max_pages * sizeof(slab_page_t));
    }
    free(sl);
}

static bool _is_small(const slab_t *sl, size_t size)
{
    return size <= sl->block_max && sl->page_size != 0;
}

static size_t _big_size(size_t size)
{
    return (sizeof(slab_unit_t) + size + MALLOC_OVERHEAD + 15) & ~(size_t)15;
}

size_t slab_block_size(const slab_t *sl, size_t size)
{
    if (_is_small(sl, size))
        return sl->classes[sl->class_of[(size + 7) / 8]].size;
    return _big_size(size);
}

bool slab_fits(const slab_t *sl, size_t size)
{
    if (_is_small(sl, size))
        return true;
    return size < sl->limit && _big_size(size) <= sl->limit;
}

static size_t _malloced(const slab_t *sl)
{
    return (sl->pages + sl->nspares) * sl->page_size + sl->big_bytes;
}

/* ---- the ring */

/* Inserts just behind the hand: the hand reaches it last. */
static void _ring_insert(slab_t *sl, slab_unit_t *u)
{
    u->passed = sl->tick;
    sl->units++;
    if (sl->hand == NULL) {
        u->prev = u->next = u;
        sl->hand = u;
        sl->hand_slot = 0;
        return;
    }
    u->next = sl->hand;
    u->prev = sl->hand->prev;
    u->prev->next = u;
    sl->hand->prev = u;
}

static void _ring_remove(slab_t *sl, slab_unit_t *u)
{
    sl->units--;
    if (sl->hand == u) {
        sl->hand = u->next == u ? NULL : u->next;
        sl->hand_slot = 0;
    }
    u->prev->next = u->next;
    u->next->prev = u->prev;
    u->prev = u->next = NULL;
}

/* ---- pages */

static char *_page_base(const slab_t *sl, const slab_page_t *p)
{
    return sl->region + ((size_t)(p - sl->metas) << sl->page_shift);
}

static bool _in_region(const slab_t *sl, const void *block)
{
    const char *b = block;
    return sl->region != NULL && b >= sl->region && b < sl->region + (sl->max_pages << sl->page_shift);
}

static slab_page_t *_page_of(const slab_t *sl, const void *block)
{
    return &sl->metas[(size_t)((const char *)block - sl->region) >> sl->page_shift];
}

static void _partial_remove(slab_class_t *c, slab_page_t *p)
{
    if (p->pprev)
        p->pprev->pnext = p->pnext;
    else
        c->partial = p->pnext;
    if (p->pnext)
        p->pnext->pprev = p->pprev;
    p->pprev = p->pnext = NULL;
    p->partial = false;
}

static void _partial_push(slab_class_t *c, slab_page_t *p)
{
    p->pprev = NULL;
    p->pnext = c->partial;
    if (c->partial)
        c->partial->pprev = p;
    c->partial = p;
    p->partial = true;
}

static slab_page_t *_page_new(slab_t *sl, unsigned cls)
{
    slab_page_t *p;
    if (sl->spares != NULL) {
        p = sl->spares;
        sl->spares = p->pnext;
        sl->nspares--;
    } else if (sl->unused != NULL) {
        p = sl->unused;
        sl->unused = p->pnext;
    } else if (sl->next_meta < sl->max_pages) {
        p = &sl->metas[sl->next_meta++];
    } else {
        return NULL;
    }
    memset(p, 0, sizeof(*p));
    p->cls = (uint8_t)cls;
    sl->pages++;
    sl->classes[cls].pages++;
    _ring_insert(sl, &p->unit);
    _partial_push(&sl->classes[cls], p);
    return p;
}

/* Returns a spare page's memory to the system; its meta waits for reuse. */
static void _spare_drop(slab_t *sl)
{
    slab_page_t *p = sl->spares;
    sl->spares = p->pnext;
    sl->nspares--;
#ifdef MADV_DONTNEED
    madvise(_page_base(sl, p), sl->page_size, MADV_DONTNEED);
#endif
    p->pnext = sl->unused;
    sl->unused = p;
}

/* A page with no block left becomes a spare, resident and counted, that the next page wanted by any
 * class takes without a syscall; past SLAB_SPARES_MAX, one goes back to the system. */
static void _page_release(slab_t *sl, slab_page_t *p)
{
    slab_class_t *c = &sl->classes[p->cls];
    if (p->partial)
        _partial_remove(c, p);
    _ring_remove(sl, &p->unit);
    c->pages--;
    sl->pages--;
    if (sl->nspares == SLAB_SPARES_MAX)
        _spare_drop(sl);
    p->pnext = sl->spares;
    sl->spares = p;
    sl->nspares++;
}

static void *_small_alloc(slab_t *sl, size_t size, bool *full)
{
    unsigned cls = sl->class_of[(size + 7) / 8];
    slab_class_t *c = &sl->classes[cls];
    slab_page_t *p = c->partial;
    if (p == NULL) {
        if (sl->spares == NULL && _malloced(sl) + sl->page_size > sl->limit) {
            *full = true;
            return NULL;
        }
        p = _page_new(sl, cls);
        if (p == NULL)
            return NULL;
    }
    char *slot;
    if (p->free != NULL) {
        slot = p->free;
        memcpy(&p->free, slot, sizeof(void *));
    } else {
        slot = _page_base(sl, p) + (size_t)p->fresh++ * c->size;
    }
    uint32_t i = (uint32_t)((size_t)(slot - _page_base(sl, p)) / c->size);
    p->bits[i / 64] |= (uint64_t)1 << (i % 64);
    p->used++;
    c->used++;
    if (p->free == NULL && p->fresh == c->per_page)
        _partial_remove(c, p);
    return slot;
}

static void _small_free(slab_t *sl, void *block)
{
    slab_page_t *p = _page_of(sl, block);
    slab_class_t *c = &sl->classes[p->cls];
    uint32_t i = (uint32_t)((size_t)((char *)block - _page_base(sl, p)) / c->size);
    p->bits[i / 64] &= ~((uint64_t)1 << (i % 64));
    p->used--;
    c->used--;
    if (p->used == 0) {
        _page_release(sl, p);
        return;
    }
    memcpy(block, &p->free, sizeof(void *));
    p->free = block;
    /* The page freed into last serves next, so a block the hand just freed is reused first. */
    if (p->partial)
        _partial_remove(c, p);
    _partial_push(c, p);
}

/* ---- big blocks */

static void *_big_alloc(slab_t *sl, size_t size, bool *full)
{
    size_t counted = _big_size(size);
    while (sl->spares != NULL && _malloced(sl) + counted > sl->limit)
        _spare_drop(sl);
    if (counted < size || _malloced(sl) + counted > sl->limit) {
        *full = true;
        return NULL;
    }
    slab_unit_t *u = malloc(sizeof(slab_unit_t) + size);
    if (u == NULL)
        return NULL;
    u->big = counted;
    sl->big_bytes += counted;
    if (sl->big_resident < sl->big_bytes)
        sl->big_resident = sl->big_bytes;
    sl->big_blocks++;
    _ring_insert(sl, u);
    return u + 1;
}

/* Hands the whole OS pages inside a big block back to the system before free(), when the heap
 * holds more than a sixteenth of the limit beyond the big blocks in use. Otherwise memory freed by
 * big items stays resident in malloc's heap while pages of the region take over (when sizes shift
 * from big to small), and one live chunk high in the heap keeps all of it: resident memory could
 * reach twice the limit. While big blocks replace big blocks, malloc reuses the memory and this
 * costs nothing (madvise and the page faults after it made such a workload 4x slower).
 * free() writes only near the ends of a chunk, which are kept; the interior comes back as zero pages. */
static void _big_release_interior(slab_t *sl, slab_unit_t *u)
{
    if (sl->big_resident - sl->big_bytes <= sl->limit / 16)
        return;
    sl->big_resident = sl->big_resident - u->big > sl->big_bytes ? sl->big_resident - u->big : sl->big_bytes;
    /* u->big is at least the chunk's bytes + MALLOC_OVERHEAD + 15; a small block has no interior. */
    uintptr_t start = (uintptr_t)u + MALLOC_FIELDS;
    uintptr_t end = (uintptr_t)u + u->big - MALLOC_OVERHEAD - 15 - MALLOC_FIELDS;
    start = (start + sl->os_page - 1) & ~(uintptr_t)(sl->os_page - 1);
    end &= ~(uintptr_t)(sl->os_page - 1);
#if SLAB_RELEASE_INTERIOR
    if (start < end)
        madvise((void *)start, end - start, MADV_DONTNEED);
#endif
}

static void _big_free(slab_t *sl, void *block)
{
    slab_unit_t *u = (slab_unit_t *)block - 1;
    sl->big_bytes -= u->big;
    sl->big_blocks--;
    _ring_remove(sl, u);
    _big_release_interior(sl, u); /* after big_bytes drops: it compares the two */
    free(u);
}

void *slab_alloc(slab_t *sl, size_t size, bool *full)
{
    *full = false;
    return _is_small(sl, size) ? _small_alloc(sl, size, full) : _big_alloc(sl, size, full);
}

void slab_free(slab_t *sl, void *block)
{
    if (_in_region(sl, block))
        _small_free(sl, block);
    else
        _big_free(sl, block);
}

/* ---- the hand */

/* The first allocated slot of page p at or after `from`, or -1. */
static long _next_slot(const slab_t *sl, const slab_page_t *p, uint32_t from)
{
    uint32_t n = sl->classes[p->cls].per_page;
    for (uint32_t w = from / 64; w * 64 < n; w++) {
        uint64_t bits = p->bits[w];
        if (w == from / 64)
            bits &= ~(uint64_t)0 << (from % 64);
        if (bits != 0)
            return (long)(w * 64 + (uint32_t)__builtin_ctzll(bits));
    }
    return -1;
}

/* Moves the hand to the next unit, stamping the one it leaves. */
static void _hand_advance(slab_t *sl)
{
    sl->hand->passed = ++sl->tick;
    sl->hand = sl->hand->next;
    sl->hand_slot = 0;
}

void *slab_hand_next(slab_t *sl)
{
    /* Every unit holds a block, so at most the rest of one page is scanned before one is found. */
    while (sl->hand != NULL) {
        slab_unit_t *u = sl->hand;
        if (u->big) {
            _hand_advance(sl);
            return u + 1;
        }
        slab_page_t *p = (slab_page_t *)u;
        long i = sl->hand_slot < sl->classes[p->cls].per_page ? _next_slot(sl, p, sl->hand_slot) : -1;
        if (i >= 0) {
            sl->hand_slot = (uint32_t)i + 1;
            return _page_base(sl, p) + (size_t)i * sl->classes[p->cls].size;
        }
        _hand_advance(sl);
    }
    return NULL;
}

bool slab_behind_hand(const slab_t *sl, const void *block)
{
    if (sl->hand == NULL)
        return false;
    const slab_unit_t *u = _in_region(sl, block) ? &_page_of(sl, block)->unit : (const slab_unit_t *)block - 1;
    if (u != sl->hand || u->big) /* a big block under the hand is new: it began the ring */
        return sl->tick - u->passed <= sl->units / 2;
    const slab_page_t *p = (const slab_page_t *)u;
    size_t i = (size_t)((const char *)block - _page_base(sl, p)) / sl->classes[p->cls].size;
    return i < sl->hand_slot;
}

size_t slab_page_blocks(const slab_t *sl, unsigned cls, size_t min_pages, void **blocks, size_t max)
{
    if (cls >= sl->nclasses || sl->classes[cls].pages < min_pages)
        return 0;
    const slab_page_t *fewest = NULL;
    for (size_t i = 0; i < sl->next_meta; i++) {
        const slab_page_t *p = &sl->metas[i];
        if (p->used > 0 && p->cls == cls && (fewest == NULL || p->used < fewest->used))
            fewest = p;
    }
    size_t n = 0;
    for (long slot = fewest ? _next_slot(sl, fewest, 0) : -1; slot >= 0 && n < max;
         slot = _next_slot(sl, fewest, (uint32_t)slot + 1))
        blocks[n++] = _page_base(sl, fewest) + (size_t)slot * sl->classes[cls].size;
    return n;
}

int slab_set_limit(slab_t *sl, size_t limit)
{
    if (sl->region != NULL && limit / sl->page_size > sl->max_pages)
        return -1;
    sl->limit = limit;
    while (sl->spares != NULL && _malloced(sl) > sl->limit)
        _spare_drop(sl);
    return 0;
}

bool slab_over_limit(const slab_t *sl)
{
    return _malloced(sl) > sl->limit;
}

void slab_get_stats(const slab_t *sl, slab_stats_t *out)
{
    out->malloced = _malloced(sl);
    out->pages = sl->pages + sl->nspares;
    out->page_size = sl->page_size;
    out->big_blocks = sl->big_blocks;
    out->spares = sl->nspares;
}

unsigned slab_class_of(const slab_t *sl, size_t size)
{
    return _is_small(sl, size) ? sl->class_of[(size + 7) / 8] : SLAB_CLASSES_MAX;
}

unsigned slab_classes(const slab_t *sl)
{
    return sl->nclasses;
}

void slab_get_class_stats(const slab_t *sl, unsigned cls, slab_class_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    if (cls >= sl->nclasses)
        return;
    const slab_class_t *c = &sl->classes[cls];
    out->block_size = c->size;
    out->per_page = c->per_page;
    out->pages = c->pages;
    out->used = c->used;
}
