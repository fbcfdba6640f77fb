/* fuzz_store: libFuzzer target for the store API — random operation sequences checked against a
 * reference model (test/c/store_diff.c); any disagreement aborts, so the fuzzer keeps the input. */
#include <stdint.h>
#include <stdlib.h>

#include "store_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!store_diff_run(data, size))
        abort();
    return 0;
}
