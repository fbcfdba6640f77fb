/* fake_clock: a wall clock the protocol fuzz target sets, linked in place of time() with
 * -Wl,--wrap=time, so that expiry and "stats" answers are the same on every run of an input. */
#include "fake_clock.h"

/* A fixed moment (2023-11-14), far enough from 0 that the engine's clock arithmetic is ordinary. */
#define FAKE_CLOCK_START 1700000000

static time_t fake_now = FAKE_CLOCK_START;

time_t __wrap_time(time_t *out);

time_t __wrap_time(time_t *out)
{
    if (out != NULL)
        *out = fake_now;
    return fake_now;
}

void fake_clock_reset(void)
{
    fake_now = FAKE_CLOCK_START;
}

void fake_clock_advance(unsigned seconds)
{
    fake_now += (time_t)seconds;
}
