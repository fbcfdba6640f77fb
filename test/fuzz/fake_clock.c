/* fake_clock: a wall clock the protocol fuzz target sets, linked in place of time() with
 * -Wl,--wrap=time, so that expiry and "stats" answers are the same on every run of an input; a
 * fixed hash seed (-Wl,--wrap=store_random_seed), so that both runs of an input lay out the table
 * alike: which chains an expired item is met (and freed) in decides what "stats slabs" shows; and
 * no CPU time in getrusage() (-Wl,--wrap=getrusage), whose figures "stats" reports. */
#include "fake_clock.h"

#include <stdint.h>
#include <sys/resource.h>

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

uint64_t __wrap_store_random_seed(const void *salt);

uint64_t __wrap_store_random_seed(const void *salt)
{
    (void)salt;
    return 0x9e3779b97f4a7c15u;
}

int __real_getrusage(int who, struct rusage *usage);
int __wrap_getrusage(int who, struct rusage *usage);

/* The rest of the figures stay real: libFuzzer reads its memory use from them. */
int __wrap_getrusage(int who, struct rusage *usage)
{
    int rc = __real_getrusage(who, usage);
    if (rc == 0) {
        usage->ru_utime = (struct timeval){0, 0};
        usage->ru_stime = (struct timeval){0, 0};
    }
    return rc;
}
