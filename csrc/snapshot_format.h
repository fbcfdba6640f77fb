/* snapshot_format: the byte layout of a snapshot file (snapshot.h), shared by the writer
 * (snapshot_save.c) and the reader (snapshot_load.c). Private to those two files. */
#ifndef SC_SNAPSHOT_FORMAT_H
#define SC_SNAPSHOT_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define SNAP_MAGIC "SCSNAP\r\n"       /* the CR LF catches a text-mode copy, as PNG's does */
#define SNAP_TRAILER_MAGIC "SCEND\r\n\0"
#define SNAP_BLOCK_MAGIC 0x4B424353u  /* "SCBK" little-endian */

#define SNAP_HEADER_BYTES 64
#define SNAP_TRAILER_BYTES 40
#define SNAP_BLOCK_HEADER_BYTES 16
#define SNAP_ITEM_HEADER_BYTES 40
#define SNAP_BLOCK_TARGET (1u << 20)  /* a block is written once its items pass this many bytes */

/* Header: magic[8] version@8 header_bytes@12 created@16 max_cas@24 memory_limit@32
 * max_item_size@40 reserved@48..60 crc@60 (of bytes 0..60).
 * Block header: magic@0 items@4 payload_bytes@8 crc@12 (of the payload).
 * Item: nkey@0 marks@1 reserved@2 flags@4 nvalue@8 reserved@12 exptime@16 atime@24 cas@32, then
 * the key and the value.
 * Trailer: magic[8] items@8 blocks@16 payload_bytes@24 reserved@32 crc@36 (of bytes 0..36). */

static inline void snap_put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline void snap_put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint32_t snap_get32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static inline uint64_t snap_get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

#endif
