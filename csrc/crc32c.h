/* crc32c: the Castagnoli CRC that guards every block of a snapshot file (snapshot.h). Hardware
 * instructions where the CPU has them (SSE4.2), a table otherwise; the same value either way. */
#ifndef SC_CRC32C_H
#define SC_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The CRC of data[0..n) continued from crc (0 to start), as iSCSI and ext4 compute it. */
uint32_t crc32c(uint32_t crc, const void *data, size_t n);

#endif
