/* canary: a tiny N-API addon that leaks (leak) and races (race) on purpose. The sanitizer scripts
 * load it as the real addon is loaded, to show that the checks are live and that their
 * suppression files, which name only Node's own reports, hide nothing an addon does. */
#include <node_api.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

/* Volatile, so the compiler keeps the allocation the canary exists to leak. */
static void *volatile canary_sink;
/* Volatile too: the race must happen, not be optimised away with a store nobody reads. */
static _Alignas(64) volatile int canary_shared;
/* Set (relaxed) once the second thread has written: the main thread's write then surely comes
 * while both are alive, yet a relaxed atomic orders nothing for TSan, so the race stays a race.
 * (Without it TSan missed the race about once in 40 runs, when the threads did not overlap.) */
static _Alignas(64) int canary_written;   /* not in canary_shared's shadow cell */

static napi_value canary_leak(napi_env env, napi_callback_info info)
{
    (void)env;
    (void)info;
    canary_sink = malloc(4242);
    canary_sink = NULL;
    return NULL;
}

static void *canary_writer(void *arg)
{
    (void)arg;
    canary_shared = 1;
    __atomic_store_n(&canary_written, 1, __ATOMIC_RELAXED);
    return NULL;
}

/* Two unsynchronised writes of canary_shared, one from a second thread. */
static napi_value canary_race(napi_env env, napi_callback_info info)
{
    (void)env;
    (void)info;
    pthread_t thread;
    if (pthread_create(&thread, NULL, canary_writer, NULL) != 0)
        return NULL;
    while (!__atomic_load_n(&canary_written, __ATOMIC_RELAXED))
        sched_yield();
    canary_shared = 2;
    pthread_join(thread, NULL);
    return NULL;
}

static int canary_export(napi_env env, napi_value exports, const char *name, napi_callback cb)
{
    napi_value fn;
    return napi_create_function(env, name, NAPI_AUTO_LENGTH, cb, NULL, &fn) == napi_ok &&
           napi_set_named_property(env, exports, name, fn) == napi_ok;
}

NAPI_MODULE_INIT()
{
    if (!canary_export(env, exports, "leak", canary_leak) || !canary_export(env, exports, "race", canary_race))
        return NULL;
    return exports;
}
