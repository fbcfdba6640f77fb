/* fuzz_snapshot: the snapshot loader (snapshot_load_bytes) on arbitrary bytes. The checksums in the
 * input are recomputed first wherever its framing allows, so mutations reach the item parser and
 * the loading, not only the CRC check; a file that loads must leave the store consistent with it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "engine.h"
#include "snapshot.h"
#include "snapshot_format.h"

#define FUZZ_CHECK(cond)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "fuzz_snapshot: %s failed at line %d\n", #cond, __LINE__); \
            abort();                                                          \
        }                                                                     \
    } while (0)

/* Header, trailer and every block whose length fits get their CRC-32C set to match. */
static void _fix_checksums(unsigned char *p, size_t size)
{
    if (size < SNAP_HEADER_BYTES + SNAP_TRAILER_BYTES)
        return;
    snap_put32(p + 60, crc32c(0, p, 60));
    unsigned char *t = p + size - SNAP_TRAILER_BYTES;
    snap_put32(t + 36, crc32c(0, t, 36));
    size_t off = SNAP_HEADER_BYTES, end = size - SNAP_TRAILER_BYTES;
    while (end - off >= SNAP_BLOCK_HEADER_BYTES) {
        uint32_t len = snap_get32(p + off + 8);
        if (len > end - off - SNAP_BLOCK_HEADER_BYTES)
            break;
        snap_put32(p + off + 12, crc32c(0, p + off + SNAP_BLOCK_HEADER_BYTES, len));
        off += SNAP_BLOCK_HEADER_BYTES + len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *copy = malloc(size ? size : 1);
    FUZZ_CHECK(copy != NULL);
    memcpy(copy, data, size);
    _fix_checksums(copy, size);
    engine_t e;
    engine_config_t config = {.memory_limit = 1 << 20, .max_item_size = 4096, .shards = 2};
    FUZZ_CHECK(engine_init(&e, &config) == 0);
    snapshot_report_t r;
    memset(&r, 0, sizeof(r));
    snapshot_status_t st = snapshot_load_bytes(&e, copy, size, "fuzz", &r);
    store_stats_t ss;
    cache_get_stats(e.cache, &ss);
    if (st == SNAPSHOT_OK) {
        FUZZ_CHECK(r.error[0] == '\0');
        FUZZ_CHECK(ss.items <= r.items + r.dropped);
    } else {
        FUZZ_CHECK(st == SNAPSHOT_INVALID && r.error[0] != '\0');
        FUZZ_CHECK(ss.items == 0 && r.items == 0);
    }
    engine_destroy(&e);
    free(copy);
    return 0;
}
