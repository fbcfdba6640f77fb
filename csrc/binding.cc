// binding: the N-API face of the C engine — Engine (store + in-process feed), NativeServer
// (libuv listeners on Node's loop) and Session (one connection whose transport lives in JS, e.g.
// TLS). Validation and friendly errors live in lib/; this stays thin.
#include <napi.h>
#include <uv.h>

#include <sys/resource.h>
#include <sys/un.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

extern "C" {
#include "engine.h"
#include "protocols.h"
#include "session.h"
#include "snapshot.h"
#include "stats.h"
#include "net.h"
#include "replies.h"
}

namespace {

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

Napi::Error UvError(Napi::Env env, int rc, const char *syscall)
{
    Napi::Error err = Napi::Error::New(env, std::string(syscall) + " " + uv_err_name(rc) + ": " + uv_strerror(rc));
    err.Set("code", Napi::String::New(env, uv_err_name(rc)));
    err.Set("errno", Napi::Number::New(env, rc));
    err.Set("syscall", Napi::String::New(env, syscall));
    return err;
}

size_t SizeOption(Napi::Object opts, const char *name, size_t fallback)
{
    Napi::Value v = opts.Get(name);
    return v.IsNumber() ? (size_t)v.As<Napi::Number>().Int64Value() : fallback;
}

// "simple" (the seed protocol, the default) or "memcached" (the text protocol).
bool ProtocolOption(Napi::Env env, Napi::Object opts, protocol_t *out)
{
    Napi::Value v = opts.Get("protocol");
    std::string name = v.IsString() ? v.As<Napi::String>().Utf8Value() : "simple";
    if (name == "simple") {
        *out = PROTOCOL_SIMPLE;
    } else if (name == "memcached") {
        *out = PROTOCOL_MEMCACHED;
    } else {
        Napi::TypeError::New(env, "protocol must be 'simple' or 'memcached'").ThrowAsJavaScriptException();
        return false;
    }
    return true;
}

// [[user, password], ...] of Buffers (lib/auth.js parsed and checked them) into the table.
bool AuthArg(Napi::Env env, Napi::Value v, auth_t *auth)
{
    if (!v.IsArray()) {
        Napi::TypeError::New(env, "auth must be an array of [user, password] Buffers").ThrowAsJavaScriptException();
        return false;
    }
    Napi::Array list = v.As<Napi::Array>();
    std::vector<auth_cred_t> creds;
    for (uint32_t i = 0; i < list.Length(); i++) {
        Napi::Value pair = list.Get(i);
        Napi::Value user = pair.IsArray() ? pair.As<Napi::Array>().Get(0u) : Napi::Value();
        Napi::Value pass = pair.IsArray() ? pair.As<Napi::Array>().Get(1u) : Napi::Value();
        if (user.IsEmpty() || pass.IsEmpty() || !user.IsBuffer() || !pass.IsBuffer()) {
            Napi::TypeError::New(env, "auth must be an array of [user, password] Buffers").ThrowAsJavaScriptException();
            return false;
        }
        Napi::Buffer<char> u = user.As<Napi::Buffer<char>>(), p = pass.As<Napi::Buffer<char>>();
        creds.push_back({u.Data(), u.Length(), p.Data(), p.Length()});
    }
    if (auth_replace(auth, creds.data(), creds.size()) != 0) {
        Napi::RangeError::New(env, "auth: too many or too long credentials").ThrowAsJavaScriptException();
        return false;
    }
    return true;
}

// Keys and values arrive as Buffers (lib/ converts strings once, at the edge).
bool BufferArg(const Napi::CallbackInfo &info, size_t i, const char **data, size_t *len)
{
    if (info.Length() <= i || !info[i].IsBuffer()) {
        Napi::TypeError::New(info.Env(), "expected a Buffer").ThrowAsJavaScriptException();
        return false;
    }
    Napi::Buffer<char> b = info[i].As<Napi::Buffer<char>>();
    *data = b.Data();
    *len = b.Length();
    return true;
}

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

// A save or load of a snapshot file on libuv's thread pool while the store keeps serving
// (snapshot.h holds each shard's lock only briefly). It holds a reference, so the store outlives
// it; callback(report) gets {status: 'ok'|'missing'|'invalid'|'io', items, bytes, expired,
// dropped, seconds, error}.
class SnapshotWorker : public Napi::AsyncWorker {
public:
    enum Kind { LOAD, SAVE, SAVE_IDLE };

    SnapshotWorker(Napi::Function callback, SharedEngine *shared, std::string path, Kind kind)
        : Napi::AsyncWorker(callback), shared_(shared), path_(std::move(path)), kind_(kind)
    {
        shared_->refs++;
    }

    ~SnapshotWorker() override { shared_->Unref(); }

    void Execute() override
    {
        engine_t *e = &shared_->engine;
        status_ = kind_ == SAVE_IDLE ? snapshot_save_idle(e, path_.c_str(), &report_)
                  : kind_ == SAVE    ? snapshot_save(e, path_.c_str(), &report_)
                                     : snapshot_load(e, path_.c_str(), &report_);
    }

    void OnOK() override
    {
        Napi::Env env = Env();
        Napi::Object out = Napi::Object::New(env);
        const char *status = status_ == SNAPSHOT_OK ? "ok" : status_ == SNAPSHOT_MISSING ? "missing"
                             : status_ == SNAPSHOT_INVALID ? "invalid" : "io";
        out.Set("status", status);
        out.Set("items", Napi::Number::New(env, (double)report_.items));
        out.Set("bytes", Napi::Number::New(env, (double)report_.bytes));
        out.Set("expired", Napi::Number::New(env, (double)report_.expired));
        out.Set("dropped", Napi::Number::New(env, (double)report_.dropped));
        out.Set("seconds", Napi::Number::New(env, report_.seconds));
        out.Set("error", report_.error);
        Callback().Call({out});
    }

private:
    SharedEngine *shared_;
    std::string path_;
    Kind kind_;
    snapshot_status_t status_ = SNAPSHOT_IO;
    snapshot_report_t report_ = {};
};

class Engine : public Napi::ObjectWrap<Engine> {
public:
    static Napi::Function Init(Napi::Env env)
    {
        return DefineClass(env, "Engine",
                           {InstanceMethod("feed", &Engine::Feed), InstanceMethod("get", &Engine::Get),
                            InstanceMethod("set", &Engine::Set), InstanceMethod("delete", &Engine::Delete),
                            InstanceMethod("stats", &Engine::Stats), InstanceMethod("latency", &Engine::Latency),
                            InstanceMethod("snapshot", &Engine::Snapshot),
                            InstanceMethod("setAuth", &Engine::SetAuth),
                            InstanceMethod("countRejected", &Engine::CountRejected)});
    }

    explicit Engine(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Engine>(info)
    {
        Napi::Object opts = info.Length() > 0 && info[0].IsObject() ? info[0].As<Napi::Object>()
                                                                      : Napi::Object::New(info.Env());
        engine_config_t config = {};
        config.memory_limit = SizeOption(opts, "memoryLimit", 64u << 20);
        config.max_item_size = SizeOption(opts, "maxItemSize", 1u << 20);
        config.shards = (unsigned)SizeOption(opts, "shards", 1);
        config.limit_growth = ENGINE_LIMIT_GROWTH;  // what cache_memlimit may raise the limit to
        Napi::Value auth = opts.Get("auth");
        bool with_auth = !auth.IsUndefined() && !auth.IsNull();
        shared_ = new SharedEngine();
        if (engine_init(&shared_->engine, &config) != 0 || (with_auth && (shared_->engine.auth = auth_create()) == nullptr)) {
            Napi::Error::New(info.Env(), "out of memory creating the store").ThrowAsJavaScriptException();
            return;
        }
        if (with_auth && !AuthArg(info.Env(), auth, shared_->engine.auth))
            return;
        shared_->engine.snapshots.shown = opts.Get("snapshots").ToBoolean().Value();
        // enableShutdown: memcached's -A, the "shutdown" command; set before any session exists.
        shared_->engine.shutdown_enabled = opts.Get("enableShutdown").ToBoolean();
        // sasl: memcached's -S, SASL PLAIN on the binary protocol with auth's users.
        shared_->engine.sasl = with_auth && opts.Get("sasl").ToBoolean();
        StartFeeder(PROTOCOL_SIMPLE);
        StartFeeder(PROTOCOL_MEMCACHED);
    }

    ~Engine() override
    {
        for (Feeder &feeder : feeders_)
            feeder.Stop();
        shared_->Unref();
    }

    SharedEngine *Shared() { return shared_; }

private:
    // In-process callers hold the store already: their sessions need no credentials, and take
    // every reply at once (no output mark).
    void StartFeeder(protocol_t proto)
    {
        feeders_[proto].Start(&shared_->engine, proto, UINT32_MAX);
        feeders_[proto].session.proto.text.authenticated = true;
    }

    // feed(buffer, {protocol}) runs protocol bytes through this engine's own session for that
    // protocol, keeping an incomplete command for the next call, and returns the replies. After a
    // quit or a broken stream, which would close a socket, the next call starts a fresh session.
    Napi::Value Feed(const Napi::CallbackInfo &info)
    {
        const char *data;
        size_t len;
        if (!BufferArg(info, 0, &data, &len))
            return info.Env().Undefined();
        protocol_t proto = PROTOCOL_SIMPLE;
        if (info.Length() > 1 && info[1].IsObject() && !ProtocolOption(info.Env(), info[1].As<Napi::Object>(), &proto))
            return info.Env().Undefined();
        Feeder &feeder = feeders_[proto];
        buf_t out;
        buf_init(&out);
        feeder.Feed(data, len, &out);
        if (feeder.session.state != SESSION_OPEN) {
            feeder.Stop();
            StartFeeder(proto);
        }
        Napi::Value result = Napi::Buffer<char>::Copy(info.Env(), buf_head(&out), buf_len(&out));
        buf_free(&out);
        return result;
    }

    Napi::Value Get(const Napi::CallbackInfo &info)
    {
        const char *key;
        size_t nkey;
        if (!BufferArg(info, 0, &key, &nkey))
            return info.Env().Undefined();
        engine_t *e = &shared_->engine;
        engine_tick(e);
        item_t *it = store_key_valid(key, nkey) ? cache_get(e->cache, key, nkey) : NULL;
        engine_count_get(&e->stats, false, it != NULL);
        if (it == NULL)
            return info.Env().Null();
        Napi::Value value = Napi::Buffer<char>::Copy(info.Env(), item_value(it), it->nvalue);
        cache_release(e->cache, it);
        return value;
    }

    // Returns the store's status name: "OK", "TOO_LARGE" or "NO_MEMORY" (lib/ turns it into an error).
    Napi::Value Set(const Napi::CallbackInfo &info)
    {
        const char *key, *value;
        size_t nkey, nvalue;
        if (!BufferArg(info, 0, &key, &nkey) || !BufferArg(info, 1, &value, &nvalue))
            return info.Env().Undefined();
        engine_t *e = &shared_->engine;
        engine_tick(e);
        stat_add(&e->stats.cmd_set, 1);
        return Napi::String::New(info.Env(), store_status_name(cache_set(e->cache, key, nkey, value, nvalue, 0, 0)));
    }

    Napi::Value Delete(const Napi::CallbackInfo &info)
    {
        const char *key;
        size_t nkey;
        if (!BufferArg(info, 0, &key, &nkey))
            return info.Env().Undefined();
        engine_t *e = &shared_->engine;
        engine_tick(e);
        bool deleted = store_key_valid(key, nkey) && cache_delete(e->cache, key, nkey) == STORE_OK;
        stat_add(deleted ? &e->stats.delete_hits : &e->stats.delete_misses, 1);
        return Napi::Boolean::New(info.Env(), deleted);
    }

    // setAuth([[user, password], ...]) replaces the credentials of an engine created with auth.
    Napi::Value SetAuth(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        if (shared_->engine.auth == nullptr)
            Napi::Error::New(env, "this engine was created without authentication").ThrowAsJavaScriptException();
        else
            AuthArg(env, info.Length() > 0 ? info[0] : env.Undefined(), shared_->engine.auth);
        return env.Undefined();
    }

    // A listener in JavaScript (TLS) refused a connection past maxConnections: rejected_connections.
    Napi::Value CountRejected(const Napi::CallbackInfo &info)
    {
        stat_add(&shared_->engine.stats.rejected_connections, 1);
        return info.Env().Undefined();
    }

    // stats(group = ''): the pairs of a memcached stats group (stats.c) as {name: value}, numbers
    // where the value is one; undefined for an unknown group.
    Napi::Value Stats(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        std::string group = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
        Napi::Object out = Napi::Object::New(env);
        StatsTarget target{env, out};
        if (stats_report(&shared_->engine, group.data(), group.size(), StatsTarget::Add, &target) != 0)
            return env.Undefined();
        return out;
    }

    // snapshot(path, kind, callback): 'load', 'save', or 'idle' (a save at idle priority) of a
    // snapshot file, in the background.
    Napi::Value Snapshot(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        if (info.Length() < 3 || !info[0].IsString() || !info[1].IsString() || !info[2].IsFunction()) {
            Napi::TypeError::New(env, "snapshot(path, kind, callback)").ThrowAsJavaScriptException();
            return env.Undefined();
        }
        std::string kind = info[1].As<Napi::String>().Utf8Value();
        auto *worker = new SnapshotWorker(info[2].As<Napi::Function>(), shared_, info[0].As<Napi::String>().Utf8Value(),
                                          kind == "idle" ? SnapshotWorker::SAVE_IDLE
                                          : kind == "save" ? SnapshotWorker::SAVE : SnapshotWorker::LOAD);
        worker->Queue();
        return env.Undefined();
    }

    // latency(): every command's execution-time histogram (latency.h) summed over all threads, as
    // {bounds: [seconds...], commands: {get: {counts: [per bucket, +Inf last], sum: seconds}, ...}}.
    Napi::Value Latency(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        engine_stats_t st;  // about 3 KB, most of it the histograms
        engine_stats_sum(&shared_->engine, &st);
        Napi::Array bounds = Napi::Array::New(env, LATENCY_NBOUNDS);
        for (uint32_t b = 0; b < LATENCY_NBOUNDS; b++)
            bounds.Set(b, Napi::Number::New(env, (double)latency_bounds_ns[b] / 1e9));
        Napi::Object commands = Napi::Object::New(env);
        for (unsigned c = 0; c < LATENCY_NCOMMANDS; c++) {
            Napi::Array counts = Napi::Array::New(env, LATENCY_NBUCKETS);
            for (uint32_t b = 0; b < LATENCY_NBUCKETS; b++)
                counts.Set(b, Napi::Number::New(env, (double)st.latency.count[c][b]));
            Napi::Object one = Napi::Object::New(env);
            one.Set("counts", counts);
            one.Set("sum", Napi::Number::New(env, (double)st.latency.sum_ns[c] / 1e9));
            commands.Set(latency_labels[c], one);
        }
        Napi::Object out = Napi::Object::New(env);
        out.Set("bounds", bounds);
        out.Set("commands", commands);
        return out;
    }

    struct StatsTarget {
        Napi::Env env;
        Napi::Object out;

        static int Add(void *ctx, const char *name, const char *value)
        {
            StatsTarget *t = static_cast<StatsTarget *>(ctx);
            char *end = nullptr;
            double number = strtod(value, &end);
            bool numeric = *value != '\0' && *end == '\0' && std::isfinite(number);
            t->out.Set(name, numeric ? Napi::Value(Napi::Number::New(t->env, number)) : Napi::Value(Napi::String::New(t->env, value)));
            return 0;
        }
    };

    SharedEngine *shared_ = nullptr;
    Feeder feeders_[2] = {};  // indexed by protocol_t; zeroed, so Stop() is safe before Start()
};


// Unsent output past which a Session stops executing input until JavaScript has written it: the
// same mark as a native connection's.
constexpr size_t SESSION_OUTPUT_HIGH_WATER = CONN_OUTPUT_HIGH_WATER;

// new Session(engine, {protocol}): one client connection whose transport lives in JavaScript
// (lib/tls_server.js). feed(bytes) executes every complete command and returns the replies; an
// incomplete command waits for the next call. It counts in curr_connections until close().
class Session : public Napi::ObjectWrap<Session> {
public:
    static Napi::Function Init(Napi::Env env)
    {
        return DefineClass(env, "Session",
                           {InstanceMethod("feed", &Session::Feed), InstanceMethod("close", &Session::Close),
                            InstanceAccessor("state", &Session::State, nullptr),
                            InstanceAccessor("blocked", &Session::Blocked, nullptr),
                            InstanceAccessor("executed", &Session::Executed, nullptr)});
    }

    explicit Session(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Session>(info)
    {
        Napi::Env env = info.Env();
        Napi::FunctionReference *engine_class = env.GetInstanceData<Napi::FunctionReference>();
        if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsObject() ||
            !info[0].As<Napi::Object>().InstanceOf(engine_class->Value())) {
            Napi::TypeError::New(env, "Session(engine, {protocol})").ThrowAsJavaScriptException();
            return;
        }
        protocol_t proto;
        if (!ProtocolOption(env, info[1].As<Napi::Object>(), &proto))
            return;
        shared_ = Engine::Unwrap(info[0].As<Napi::Object>())->Shared();
        shared_->refs++;
        engine_t *e = &shared_->engine;
        feeder_.Start(e, proto, SESSION_OUTPUT_HIGH_WATER);
        stat_add(&e->stats.curr_connections, 1);
        stat_add(&e->stats.total_connections, 1);
        open_ = true;
    }

    ~Session() override
    {
        Release();
        if (shared_)
            shared_->Unref();
    }

private:
    // feed(buffer) -> Buffer of replies. When `blocked` is true afterwards, output reached the
    // high-water mark with input left: write the replies, then call feed() again (with no bytes).
    Napi::Value Feed(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        const char *data = nullptr;
        size_t len = 0;
        if (info.Length() > 0 && !BufferArg(info, 0, &data, &len))
            return env.Undefined();
        if (!open_) {
            Napi::Error::New(env, "session is closed").ThrowAsJavaScriptException();
            return env.Undefined();
        }
        engine_t *e = &shared_->engine;
        stat_add(&e->stats.bytes_read, len);
        buf_t out;
        buf_init(&out);
        executed_ = feeder_.Feed(data, len, &out);
        blocked_ = feeder_.session.state == SESSION_OPEN && buf_len(&out) >= SESSION_OUTPUT_HIGH_WATER &&
                   buf_len(&feeder_.pending) > 0;
        stat_add(&e->stats.bytes_written, buf_len(&out));
        Napi::Value result = Napi::Buffer<char>::Copy(env, buf_head(&out), buf_len(&out));
        buf_free(&out);
        return result;
    }

    // 'open', or 'quit' / 'broken': write the replies returned, then end the connection.
    Napi::Value State(const Napi::CallbackInfo &info)
    {
        static const char *names[] = {"open", "quit", "broken"};
        return Napi::String::New(info.Env(), open_ ? names[feeder_.session.state] : "closed");
    }

    Napi::Value Blocked(const Napi::CallbackInfo &info) { return Napi::Boolean::New(info.Env(), blocked_); }

    // Whether the last feed() executed input (a command, or data it discards), as the plain
    // listeners count activity for the idle timeout: replies alone would miss noreply commands.
    Napi::Value Executed(const Napi::CallbackInfo &info) { return Napi::Boolean::New(info.Env(), executed_); }

    // The connection is gone: it stops counting and its buffer is freed. Idempotent.
    Napi::Value Close(const Napi::CallbackInfo &info)
    {
        Release();
        return info.Env().Undefined();
    }

    void Release()
    {
        if (!open_)
            return;
        open_ = false;
        blocked_ = false;
        feeder_.Stop();
        stat_sub(&shared_->engine.stats.curr_connections, 1);
    }

    SharedEngine *shared_ = nullptr;
    Feeder feeder_ = {};
    bool open_ = false;
    bool blocked_ = false;
    bool executed_ = false;
};

class NativeServer;

// The native half of a server. It lives until its handles have closed, which can be after the
// JavaScript wrapper is gone (environment teardown finalizes wrappers while handles still close).
struct ServerState {
    net_server_t *server = nullptr;
    SharedEngine *shared = nullptr;
    NativeServer *wrapper = nullptr;  // null once the wrapper is finalized
    napi_async_cleanup_hook_handle cleanup = nullptr;
    bool closing = false;
    bool tearing_down = false;
};

// One listener serving one protocol on Node's loop. While open it keeps its wrapper and engine
// alive; an environment teardown (process exit, worker termination) closes it through an async
// cleanup hook, so no handle outlives the loop.
class NativeServer : public Napi::ObjectWrap<NativeServer> {
public:
    static Napi::Function Init(Napi::Env env)
    {
        return DefineClass(env, "NativeServer",
                           {InstanceMethod("address", &NativeServer::Address),
                            InstanceMethod("close", &NativeServer::Close)});
    }

    // new NativeServer(engine, {listeners: [{host, port, protocol}], maxConnections, threads, idleTimeout,
    // writeTimeout, verbose})
    // listens at once or throws (err.listener says which one failed).
    explicit NativeServer(const Napi::CallbackInfo &info) : Napi::ObjectWrap<NativeServer>(info)
    {
        Napi::Env env = info.Env();
        Napi::FunctionReference *engine_class = env.GetInstanceData<Napi::FunctionReference>();
        if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsObject() ||
            !info[0].As<Napi::Object>().InstanceOf(engine_class->Value())) {
            Napi::TypeError::New(env, "NativeServer(engine, options)").ThrowAsJavaScriptException();
            return;
        }
        SharedEngine *shared = Engine::Unwrap(info[0].As<Napi::Object>())->Shared();
        Napi::Object opts = info[1].As<Napi::Object>();
        Napi::Value list = opts.Get("listeners");
        if (!list.IsArray() || list.As<Napi::Array>().Length() == 0 ||
            list.As<Napi::Array>().Length() > NET_MAX_LISTENERS) {
            Napi::TypeError::New(env, "options.listeners: 1 to 4 {host, port, protocol}").ThrowAsJavaScriptException();
            return;
        }
        Napi::Array listeners = list.As<Napi::Array>();
        net_config_t config = {};
        std::string hosts[NET_MAX_LISTENERS], paths[NET_MAX_LISTENERS];
        for (uint32_t i = 0; i < listeners.Length(); i++) {
            Napi::Object l = listeners.Get(i).As<Napi::Object>();
            hosts[i] = l.Get("host").ToString().Utf8Value();
            config.listen[i].host = hosts[i].c_str();
            config.listen[i].port = (int)SizeOption(l, "port", 0);
            // {path, mode}: a Unix domain socket instead of host and port.
            if (l.Get("path").IsString()) {
                paths[i] = l.Get("path").ToString().Utf8Value();
                config.listen[i].path = paths[i].c_str();
                config.listen[i].mode = (unsigned)SizeOption(l, "mode", 0700);
            }
            if (!ProtocolOption(env, l, &config.listen[i].proto))
                return;
        }
        config.nlisten = listeners.Length();
        config.max_connections = (unsigned)SizeOption(opts, "maxConnections", 1024);
        config.threads = (unsigned)SizeOption(opts, "threads", 0);
        config.idle_timeout = (unsigned)SizeOption(opts, "idleTimeout", 0);
        config.write_timeout = (unsigned)SizeOption(opts, "writeTimeout", 0);
        // onShutdown(graceful): a client's "shutdown", when the engine allows it (memcached's -A).
        Napi::Value on_shutdown = opts.Get("onShutdown");
        if (on_shutdown.IsFunction()) {
            on_shutdown_ = Napi::Persistent(on_shutdown.As<Napi::Function>());
            config.on_shutdown = ShutdownCb;
        }
        // memcached's -v/-vv: the engine's level, which "verbosity" changes later.
        if (opts.Has("verbose"))
            __atomic_store_n(&shared->engine.verbosity, (unsigned)SizeOption(opts, "verbose", 0), __ATOMIC_RELAXED);
        uv_loop_t *loop;
        napi_get_uv_event_loop(env, &loop);
        net_server_t *server;
        unsigned failed = 0;
        int rc = net_server_start(loop, &shared->engine, &config, &server, &failed);
        if (rc != 0) {
            Napi::Error err = UvError(env, rc, "listen");
            err.Set("listener", Napi::Number::New(env, failed));
            err.ThrowAsJavaScriptException();
            return;
        }
        state_ = new ServerState();
        server->shutdown_ctx = state_;
        state_->server = server;
        state_->shared = shared;
        state_->wrapper = this;
        shared->refs++;
        Ref();
        napi_add_async_cleanup_hook(env, CleanupHook, state_, &state_->cleanup);
    }

    ~NativeServer() override
    {
        if (state_)
            state_->wrapper = nullptr;
    }

private:
    Napi::Value Address(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        if (state_ == nullptr || state_->closing)
            return env.Null();
        unsigned index = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 0;
        struct sockaddr_storage addr;
        int rc = net_server_address(state_->server, index, &addr);
        if (rc != 0) {
            UvError(env, rc, "getsockname").ThrowAsJavaScriptException();
            return env.Undefined();
        }
        // A Unix-socket listener's address is its path, as net.Server.address() gives it.
        if (addr.ss_family == AF_UNIX)
            return Napi::String::New(env, ((struct sockaddr_un *)&addr)->sun_path);
        char ip[64] = "";
        int port;
        const char *family;
        if (addr.ss_family == AF_INET6) {
            auto *a6 = (struct sockaddr_in6 *)&addr;
            uv_ip6_name(a6, ip, sizeof(ip));
            port = ntohs(a6->sin6_port);
            family = "IPv6";
        } else {
            auto *a4 = (struct sockaddr_in *)&addr;
            uv_ip4_name(a4, ip, sizeof(ip));
            port = ntohs(a4->sin_port);
            family = "IPv4";
        }
        Napi::Object out = Napi::Object::New(env);
        out.Set("address", Napi::String::New(env, ip));
        out.Set("family", Napi::String::New(env, family));
        out.Set("port", Napi::Number::New(env, port));
        return out;
    }

    // close(callback): the callback runs once every connection and the listener are closed.
    Napi::Value Close(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        if (info.Length() < 1 || !info[0].IsFunction()) {
            Napi::TypeError::New(env, "close(callback)").ThrowAsJavaScriptException();
            return env.Undefined();
        }
        if (state_ == nullptr || state_->closing) {
            Napi::Error::New(env, "server is not running").ThrowAsJavaScriptException();
            return env.Undefined();
        }
        on_closed_ = Napi::Persistent(info[0].As<Napi::Function>());
        async_context_ = std::make_unique<Napi::AsyncContext>(env, "simplecached:close");
        state_->closing = true;
        net_server_close(state_->server, ClosedCb, state_);
        return env.Undefined();
    }

    // Runs on the loop once the last handle has closed; JavaScript only outside teardown.
    static void ClosedCb(void *ctx)
    {
        auto *state = static_cast<ServerState *>(ctx);
        napi_remove_async_cleanup_hook(state->cleanup);
        state->shared->Unref();
        NativeServer *wrapper = state->tearing_down ? nullptr : state->wrapper;
        delete state;
        if (wrapper)
            wrapper->Closed();
    }

    // Node's loop, from the server's async handle: tells JavaScript, which closes the server.
    static void ShutdownCb(void *ctx, bool graceful)
    {
        auto *state = static_cast<ServerState *>(ctx);
        if (state->closing || state->tearing_down || state->wrapper == nullptr)
            return;
        state->wrapper->Shutdown(graceful);
    }

    void Shutdown(bool graceful)
    {
        if (on_shutdown_.IsEmpty())
            return;
        Napi::Env env = Env();
        Napi::HandleScope scope(env);
        Napi::AsyncContext context(env, "simplecached:shutdown");
        on_shutdown_.MakeCallback(Value(), {Napi::Boolean::New(env, graceful)}, context);
        if (env.IsExceptionPending())
            napi_fatal_exception(env, env.GetAndClearPendingException().Value());
    }

    void Closed()
    {
        state_ = nullptr;
        Napi::Env env = Env();
        Napi::HandleScope scope(env);
        Napi::Object self = Value();
        Napi::FunctionReference cb = std::move(on_closed_);
        on_shutdown_.Reset();  // its closure holds the Server, which holds this wrapper
        Unref();
        cb.MakeCallback(self, {}, *async_context_);
        if (env.IsExceptionPending())
            napi_fatal_exception(env, env.GetAndClearPendingException().Value());
    }

    static void CleanupHook(napi_async_cleanup_hook_handle handle, void *arg)
    {
        (void)handle;
        auto *state = static_cast<ServerState *>(arg);
        state->tearing_down = true;
        if (state->wrapper)
            state->wrapper->state_ = nullptr;
        if (!state->closing) {
            state->closing = true;
            net_server_close(state->server, ClosedCb, state);
        }
    }

    ServerState *state_ = nullptr;
    Napi::FunctionReference on_closed_;
    Napi::FunctionReference on_shutdown_;
    std::unique_ptr<Napi::AsyncContext> async_context_;
};

// openFilesLimit(): the soft limit on open descriptors (Node raises it to the hard limit when it
// starts), which bounds how many connections a server can hold; Infinity when unlimited.
Napi::Value OpenFilesLimit(const Napi::CallbackInfo &info)
{
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
        return Napi::Number::New(info.Env(), INFINITY);
    return Napi::Number::New(info.Env(), (double)limit.rlim_cur);
}

Napi::Object InitModule(Napi::Env env, Napi::Object exports)
{
    Napi::Function engine_class = Engine::Init(env);
    env.SetInstanceData(new Napi::FunctionReference(Napi::Persistent(engine_class)));
    exports.Set("Engine", engine_class);
    exports.Set("NativeServer", NativeServer::Init(env));
    exports.Set("openFilesLimit", Napi::Function::New(env, OpenFilesLimit));
    exports.Set("Session", Session::Init(env));
    // What lib/'s JavaScript transport must do alike with the native one, defined once in C.
    Napi::Object constants = Napi::Object::New(env);
    constants.Set("LINGER_MS", Napi::Number::New(env, CONN_LINGER_MS));
    constants.Set("REPLY_TOO_MANY_CONNECTIONS", Napi::String::New(env, TEXT_TOO_MANY_CONNECTIONS "\r\n"));
    // Engine.set's failures, worded as every protocol words them.
    Napi::Object set_errors = Napi::Object::New(env);
    set_errors.Set("TOO_LARGE", Napi::String::New(env, TEXT_TOO_LARGE));
    set_errors.Set("NO_MEMORY", Napi::String::New(env, TEXT_NO_MEMORY_STORING));
    constants.Set("SET_ERRORS", set_errors);
    exports.Set("constants", constants);
    return exports;
}

}  // namespace

NODE_API_MODULE(simplecached, InitModule)
