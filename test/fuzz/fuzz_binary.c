/* fuzz_binary: libFuzzer target for memcached's binary protocol over a real store — fuzz_protocol's
 * harness (each input fed whole and cut at fuzzer-chosen points must answer and store the same). */
#define FUZZ_PROTOCOL PROTOCOL_BINARY
#include "fuzz_protocol.c"
