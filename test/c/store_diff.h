/* store_diff: runs a byte string, decoded as a sequence of store operations, against a real store
 * and a simple reference model, and reports the first disagreement. Shared by the libFuzzer target
 * test/fuzz/fuzz_store.c and the C test driver test/c/engine_test.c. */
#ifndef SC_TEST_STORE_DIFF_H
#define SC_TEST_STORE_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Byte 0 of the input chooses the store's configuration (see store_diff.c); every later byte
 * feeds the operation decoder. Returns true when store and model agreed on every operation and
 * every final check; otherwise prints the disagreement to stderr and returns false. */
bool store_diff_run(const uint8_t *data, size_t size);

#endif
