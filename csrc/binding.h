// binding: what the N-API wrappers (binding_*.cc, one class each) share — the reference-counted
// C engine, argument helpers and the protocol feeder. Validation and friendly errors live in lib/.
#ifndef SC_BINDING_H
#define SC_BINDING_H

#include <napi.h>
#include <uv.h>

#include <string>

extern "C" {
#include "engine.h"
#include "protocols.h"
#include "session.h"
#include "snapshot.h"
#include "stats.h"
#include "net.h"
#include "replies.h"
#include "flight.h"
}

namespace binding {

// The C engine outlives whichever of its users goes last: every Engine wrapper on it, in any
// thread (finalized by close(), GC or environment teardown), and any server still draining
// connections. A handle names it by registry slot and generation, never by address, so a handle to
// a freed store finds nothing (binding_shared.cc).
struct SharedEngine {
    engine_t engine;
    flight_t *flight = nullptr;  // getOrSet's leases
    uint64_t handle = 0;         // slot | generation << HANDLE_SLOT_BITS
    unsigned refs = 1;           // under the registry's lock

    // A new store, registered with one reference; null when out of memory.
    static SharedEngine *Create(const engine_config_t *config);
    // One more reference to the store a handle names; null when it is gone or was never one.
    static SharedEngine *Attach(uint64_t handle);
    void Ref();
    void Unref();
};

// Stores alive in this process (any thread), for tests of their release.
size_t LiveStores();
// The users (references) of the store a handle names: 0 once it is freed. For tests.
unsigned StoreUsers(uint64_t handle);

Napi::Error UvError(Napi::Env env, int rc, const char *syscall);
size_t SizeOption(Napi::Object opts, const char *name, size_t fallback);
// "simple" (the seed protocol, the default) or "memcached" (the text protocol).
bool ProtocolOption(Napi::Env env, Napi::Object opts, protocol_t *out);
// [[user, password], ...] of Buffers (lib/auth.js parsed and checked them) into the table.
bool AuthArg(Napi::Env env, Napi::Value v, auth_t *auth);
// Keys and values arrive as Buffers (lib/ converts strings once, at the edge).
bool BufferArg(const Napi::CallbackInfo &info, size_t i, const char **data, size_t *len);

// A key as a string or Buffer, checked as every protocol checks one (KeyArg throws otherwise).
struct Key {
    char text[STORE_KEY_MAX + 2];
    const char *data;
    size_t len;
};
bool KeyArg(const Napi::CallbackInfo &info, size_t i, Key *k);
bool KeyValue(napi_env env, napi_value v, Key *k);

// A value as a Buffer, or a string taken as UTF-8 (into stack room when it is short).
struct ValueBytes {
    char room[4096];
    std::string big;
    const char *data;
    size_t len;
};
bool ValueArg(const Napi::CallbackInfo &info, size_t i, ValueBytes *v);
bool ValueBytesOf(napi_env env, napi_value js, ValueBytes *v);

// A number (lib/ checked its range) or a BigInt as a uint64; a number as an int64; 0 when absent.
uint64_t U64Arg(const Napi::CallbackInfo &info, size_t i);
int64_t I64Arg(const Napi::CallbackInfo &info, size_t i);
// What the item operations return, made with N-API's own calls: in a worker being terminated they
// fail, and node-addon-api's wrappers would then abort the process; these return undefined.
// An item's value as a string (UTF-8) or a new Buffer.
Napi::Value ItemValue(Napi::Env env, const item_t *it, bool as_string);
Napi::Value Latin1(Napi::Env env, const char *text);
// A boolean argument (false when absent or not a boolean).
bool FlagArg(const Napi::CallbackInfo &info, size_t i);
// A number up to 2^53, past it a BigInt: as the Client returns incr's value.
Napi::Value U64Value(Napi::Env env, uint64_t n);

// One protocol session and the input it has not executed yet: what Engine.feed() and a
// JavaScript transport's Session both feed through. Pending input is bounded as on a socket.
struct Feeder {
    session_t session;
    buf_t pending;
    size_t max_pending;

    void Start(engine_t *e, protocol_t proto, uint32_t out_high_water)
    {
        protocol_start(&session, e, proto);
        session.out_high_water = out_high_water;
        buf_init(&pending);
        // The protocols bound a pending command themselves; this is a backstop.
        max_pending = e->max_item_size + 2 * 1024 * 1024;
    }

    void Stop()
    {
        protocol_end(&session);
        buf_free(&pending);
    }

    // Appends data and executes every complete command into out (up to the output mark); input
    // past the bound breaks the session. Returns whether any input was executed or discarded.
    bool Feed(const char *data, size_t len, buf_t *out)
    {
        engine_tick(session.engine);  // sessions read no clock; no group's timer may be running
        if (session.state == SESSION_OPEN && len > 0 &&
            (buf_len(&pending) + len > max_pending || buf_append(&pending, data, len) != 0))
            session.state = SESSION_BROKEN;
        size_t used = session_feed(&session, buf_head(&pending), buf_len(&pending), out);
        buf_consume(&pending, used);
        if (buf_len(&pending) == 0)
            buf_free(&pending);
        return used > 0;
    }
};

// The wrappers' classes, and how they reach each other.
Napi::Function EngineClass(Napi::Env env);
Napi::Function SessionClass(Napi::Env env);
Napi::Function NativeServerClass(Napi::Env env);
// What the hot operations of one Engine wrapper share (binding_engine_fast.cc): its store, or null
// once it is closed, and where it counts. Freed with the last of the wrapper and those functions.
struct EngineOps {
    SharedEngine *shared;
    engine_stats_t *stats;
    unsigned refs;  // the wrapper's and one per function; all in the wrapper's thread
};
// Defines get, getInto, has, store and delete on the wrapper object self, as functions over ops.
bool DefineFastOps(napi_env env, napi_value self, EngineOps *ops);
void EngineOpsUnref(EngineOps *ops);
// A storage command once parsed, as the protocols run it: size check, write, counters.
store_status_t EngineWrite(engine_t *e, engine_stats_t *stats, store_write_t *w);
// The store under an Engine wrapper (the caller checked it is one).
SharedEngine *EngineShared(Napi::Value engine);
// A save or load of a snapshot file in the background (binding_snapshot.cc).
enum class SnapshotKind { LOAD, SAVE, SAVE_IDLE };
void QueueSnapshot(Napi::Function callback, SharedEngine *shared, std::string path, SnapshotKind kind);

}  // namespace binding

#endif
