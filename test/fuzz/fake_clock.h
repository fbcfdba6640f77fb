/* fake_clock: the time() the engine sees inside the protocol fuzz target (linked with
 * -Wl,--wrap=time): it starts at a fixed moment and moves only when the target says so. */
#ifndef SC_TEST_FAKE_CLOCK_H
#define SC_TEST_FAKE_CLOCK_H

#include <time.h>

void fake_clock_reset(void);
void fake_clock_advance(unsigned seconds);

#endif
