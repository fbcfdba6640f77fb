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
}

namespace binding {

// The C engine outlives whichever of its users goes last: the Engine wrapper (finalized by GC or
// at environment teardown) or any server still draining connections.
struct SharedEngine {
    engine_t engine;
    unsigned refs = 1;
    void Unref()
    {
        if (--refs == 0) {
            engine_destroy(&engine);
            delete this;
        }
    }
};

Napi::Error UvError(Napi::Env env, int rc, const char *syscall);
size_t SizeOption(Napi::Object opts, const char *name, size_t fallback);
// "simple" (the seed protocol, the default) or "memcached" (the text protocol).
bool ProtocolOption(Napi::Env env, Napi::Object opts, protocol_t *out);
// [[user, password], ...] of Buffers (lib/auth.js parsed and checked them) into the table.
bool AuthArg(Napi::Env env, Napi::Value v, auth_t *auth);
// Keys and values arrive as Buffers (lib/ converts strings once, at the edge).
bool BufferArg(const Napi::CallbackInfo &info, size_t i, const char **data, size_t *len);

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
// The store under an Engine wrapper (the caller checked it is one).
SharedEngine *EngineShared(Napi::Value engine);
// A save or load of a snapshot file in the background (binding_snapshot.cc).
enum class SnapshotKind { LOAD, SAVE, SAVE_IDLE };
void QueueSnapshot(Napi::Function callback, SharedEngine *shared, std::string path, SnapshotKind kind);

}  // namespace binding

#endif
