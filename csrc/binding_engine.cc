// binding_engine: the Engine wrapper — one reference to the C store, its in-process operations
// and a protocol session per protocol for feed().
#include "binding.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

namespace binding {
namespace {

class Engine : public Napi::ObjectWrap<Engine> {
public:
    static Napi::Function Init(Napi::Env env)
    {
        return DefineClass(env, "Engine",
                           {InstanceMethod("feed", &Engine::Feed), InstanceMethod("stats", &Engine::Stats), InstanceMethod("latency", &Engine::Latency),
                            InstanceMethod("snapshot", &Engine::Snapshot),
                            InstanceMethod("setAuth", &Engine::SetAuth),
                            InstanceMethod("countRejected", &Engine::CountRejected),
                            InstanceMethod("gets", &Engine::Gets), InstanceMethod("arith", &Engine::Arith),
                            InstanceMethod("touch", &Engine::Touch), InstanceMethod("flush", &Engine::Flush),
                            InstanceMethod("getOrSet", &Engine::GetOrSet), InstanceMethod("handle", &Engine::Handle),
                            InstanceMethod("close", &Engine::Close),
                            InstanceAccessor("attached", &Engine::Attached, nullptr)});
    }

    explicit Engine(const Napi::CallbackInfo &info) : Napi::ObjectWrap<Engine>(info)
    {
        Napi::Object opts = info.Length() > 0 && info[0].IsObject() ? info[0].As<Napi::Object>()
                                                                      : Napi::Object::New(info.Env());
        // attach: a handle from another Engine's handle(), in any thread: the same store, one more reference.
        Napi::Value handle = opts.Get("attach");
        if (handle.IsBigInt()) {
            bool lossless;
            shared_ = SharedEngine::Attach(handle.As<Napi::BigInt>().Uint64Value(&lossless));
            if (shared_ == nullptr) {
                CodedError(info.Env(), "ERR_ENGINE_GONE", "this handle's store has been freed (or is no handle)");
                return;
            }
            if (!AttachStats())
                return;
        } else if (!CreateStore(info.Env(), opts)) {
            return;
        }
        // get, getInto, has, store and delete: own functions of this object (binding_engine_fast.cc).
        ops_ = new (std::nothrow) EngineOps{shared_, stats_, 1};
        if (ops_ == nullptr || !DefineFastOps(info.Env(), info.This(), ops_)) {
            Release();
            Napi::Error::New(info.Env(), "out of memory creating the Engine").ThrowAsJavaScriptException();
        }
    }

    ~Engine() override
    {
        Release();
        if (ops_ != nullptr)
            EngineOpsUnref(ops_);
    }

    SharedEngine *Shared() { return shared_; }

private:
    bool CreateStore(Napi::Env env, Napi::Object opts)
    {
        engine_config_t config = {};
        config.memory_limit = SizeOption(opts, "memoryLimit", 64u << 20);
        config.max_item_size = SizeOption(opts, "maxItemSize", 1u << 20);
        config.shards = (unsigned)SizeOption(opts, "shards", 1);
        config.limit_growth = ENGINE_LIMIT_GROWTH;  // what cache_memlimit may raise the limit to
        Napi::Value auth = opts.Get("auth");
        bool with_auth = !auth.IsUndefined() && !auth.IsNull();
        shared_ = SharedEngine::Create(&config);
        if (shared_ == nullptr || (with_auth && (shared_->engine.auth = auth_create()) == nullptr)) {
            Napi::Error::New(env, "out of memory creating the store").ThrowAsJavaScriptException();
            return false;
        }
        stats_ = &shared_->engine.stats;
        if (with_auth && !AuthArg(env, auth, shared_->engine.auth))
            return false;
        shared_->engine.snapshots.shown = opts.Get("snapshots").ToBoolean().Value();
        // enableShutdown: memcached's -A, the "shutdown" command; set before any session exists.
        shared_->engine.shutdown_enabled = opts.Get("enableShutdown").ToBoolean();
        // disableFlushAll: memcached's -F, flush_all refused on every protocol.
        shared_->engine.flush_disabled = opts.Get("disableFlushAll").ToBoolean();
        // disableEvictions: memcached's -M, a full cache refuses writes instead of evicting.
        cache_set_evictions(shared_->engine.cache, !opts.Get("disableEvictions").ToBoolean());
        // sasl: memcached's -S, SASL PLAIN on the binary protocol with auth's users.
        shared_->engine.sasl = with_auth && opts.Get("sasl").ToBoolean();
        return true;
    }

    // The creating thread counts in the engine's own block; an attached Engine, which may run in
    // any thread, counts in a block of its own, added into the totals as an I/O thread's is.
    bool AttachStats()
    {
        own_stats_ = static_cast<engine_stats_t *>(calloc(1, sizeof(engine_stats_t)));
        if (own_stats_ == nullptr || engine_stats_attach(&shared_->engine, own_stats_) != 0) {
            free(own_stats_);
            own_stats_ = nullptr;
            CodedError(Env(), "ERR_ENGINE_ATTACH", "too many Engines attached to this store");
            return false;
        }
        stats_ = own_stats_;
        return true;
    }

    // Gives this wrapper's reference back (close(), or finalization by GC or at the end of its
    // thread); the store is freed with its last reference. Idempotent.
    void Release()
    {
        if (shared_ == nullptr)
            return;
        for (Feeder &feeder : feeders_)
            feeder.Stop();
        if (ops_ != nullptr) {
            ops_->shared = nullptr;
            ops_->stats = nullptr;
        }
        if (own_stats_ != nullptr) {
            engine_stats_detach(&shared_->engine, own_stats_);
            free(own_stats_);
            own_stats_ = nullptr;
        }
        SharedEngine *shared = shared_;
        shared_ = nullptr;
        stats_ = nullptr;
        shared->Unref();
    }

    void CodedError(Napi::Env env, const char *code, const char *message)
    {
        Napi::Error err = Napi::Error::New(env, message);
        err.Set("code", Napi::String::New(env, code));
        err.ThrowAsJavaScriptException();
    }

    // Every operation starts here: a closed Engine throws ERR_ENGINE_CLOSED, never touches memory.
    engine_t *Open(Napi::Env env)
    {
        if (shared_ == nullptr) {
            CodedError(env, "ERR_ENGINE_CLOSED", "this Engine is closed");
            return nullptr;
        }
        return &shared_->engine;
    }

    // The item operations' start: an open Engine, the key at `index`, and the clock brought up to
    // date; nullptr when a JavaScript error is pending.
    engine_t *OpenForKey(const Napi::CallbackInfo &info, size_t index, Key *k)
    {
        engine_t *e = Open(info.Env());
        if (e == nullptr || !KeyArg(info, index, k))
            return nullptr;
        engine_tick(e);
        return e;
    }

    Napi::Value Close(const Napi::CallbackInfo &info)
    {
        Release();
        return info.Env().Undefined();
    }

    Napi::Value Attached(const Napi::CallbackInfo &info) { return Napi::Boolean::New(info.Env(), own_stats_ != nullptr); }

    // handle(): a BigInt naming this store, for Engine.attach() in any thread of the process.
    Napi::Value Handle(const Napi::CallbackInfo &info)
    {
        if (Open(info.Env()) == nullptr)
            return info.Env().Undefined();
        return Napi::BigInt::New(info.Env(), shared_->handle);
    }

    // In-process callers hold the store already: their sessions need no credentials, and take
    // every reply at once (no output mark).
    void StartFeeder(protocol_t proto)
    {
        feeders_[proto].Start(&shared_->engine, proto, UINT32_MAX);
        feeders_[proto].session.proto.text.authenticated = true;
        feeders_[proto].session.stats = stats_;
    }

    // feed(buffer, {protocol}) runs protocol bytes through this engine's own session for that
    // protocol, keeping an incomplete command for the next call, and returns the replies. After a
    // quit or a broken stream, which would close a socket, the next call starts a fresh session.
    Napi::Value Feed(const Napi::CallbackInfo &info)
    {
        const char *data;
        size_t len;
        if (Open(info.Env()) == nullptr || !BufferArg(info, 0, &data, &len))
            return info.Env().Undefined();
        if (!started_) {
            StartFeeder(PROTOCOL_SIMPLE);
            StartFeeder(PROTOCOL_MEMCACHED);
            started_ = true;
        }
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

    // ---- the item operations: the C store's own, as the protocols call them, minus the parsing ----

    // gets(key, asString) -> {value, flags, cas (BigInt)} or null.
    Napi::Value Gets(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        Key k;
        engine_t *e = OpenForKey(info, 0, &k);
        if (e == nullptr)
            return env.Undefined();
        item_t *it = cache_get(e->cache, k.data, k.len);
        engine_count_get(stats_, false, it != NULL);
        if (it == NULL)
            return env.Null();
        napi_value out = nullptr, flags = nullptr, cas = nullptr;
        napi_create_object(env, &out);
        napi_create_uint32(env, item_flags(it), &flags);
        napi_create_bigint_uint64(env, it->cas, &cas);
        napi_value value = ItemValue(env, it, FlagArg(info, 1));
        cache_release(e->cache, it);
        if (out == nullptr || value == nullptr || flags == nullptr || cas == nullptr ||
            napi_set_named_property(env, out, "value", value) != napi_ok ||
            napi_set_named_property(env, out, "flags", flags) != napi_ok ||
            napi_set_named_property(env, out, "cas", cas) != napi_ok)
            return env.Undefined();
        return Napi::Value(env, out);
    }

    // arith(incr, key, delta) -> the new value, null when absent, or "NON_NUMERIC"/"NO_MEMORY".
    Napi::Value Arith(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        Key k;
        engine_t *e = OpenForKey(info, 1, &k);
        if (e == nullptr)
            return env.Undefined();
        bool incr = FlagArg(info, 0);
        uint64_t value;
        switch (cache_arith(e->cache, k.data, k.len, incr, U64Arg(info, 2), &value)) {
        case STORE_OK:
            stat_add(incr ? &stats_->incr_hits : &stats_->decr_hits, 1);
            return U64Value(env, value);
        case STORE_NOT_FOUND:
            stat_add(incr ? &stats_->incr_misses : &stats_->decr_misses, 1);
            return env.Null();
        case STORE_NON_NUMERIC:
            return Latin1(env, "NON_NUMERIC");
        default:
            return Latin1(env, "NO_MEMORY");
        }
    }

    // touch(key, ttl) -> whether the item was there.
    Napi::Value Touch(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        Key k;
        engine_t *e = OpenForKey(info, 0, &k);
        if (e == nullptr)
            return env.Undefined();
        bool hit = cache_touch(e->cache, k.data, k.len, engine_exptime(e, I64Arg(info, 1))) == STORE_OK;
        engine_count_get(stats_, true, hit);
        return Napi::Boolean::New(env, hit);
    }

    // flush(delay): memcached's flush_all [delay], taking effect a second before the delay ends.
    Napi::Value Flush(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        engine_t *e = Open(env);
        if (e == nullptr)
            return env.Undefined();
        engine_tick(e);
        stat_add(&stats_->cmd_flush, 1);
        int64_t delay = I64Arg(info, 0);
        cache_flush(e->cache, delay > 0 ? engine_exptime(e, delay) - 1 : 0);
        return env.Undefined();
    }

    // getOrSet(key, ttl, compute, asString, waitMs) -> the value present, else compute(key)'s
    // result, stored with ttl unless null or undefined (lib/ normalizes what it returns). One
    // thread computes a missing key at a time (flight.h); the others wait up to waitMs for it, then
    // read its value. The lease is ended however compute returns: a throw, or the thread's end.
    Napi::Value GetOrSet(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        Key k;
        engine_t *e = OpenForKey(info, 0, &k);
        if (e == nullptr)
            return env.Undefined();
        if (info.Length() < 3 || !info[2].IsFunction()) {
            Napi::TypeError::New(env, "compute must be a function").ThrowAsJavaScriptException();
            return env.Undefined();
        }
        bool as_string = FlagArg(info, 3);
        unsigned wait_ms = (unsigned)I64Arg(info, 4);
        flight_status_t flight = FLIGHT_BUSY;
        for (int round = 0; round < 3; round++) {
            item_t *it = cache_get(e->cache, k.data, k.len);
            engine_count_get(stats_, false, it != NULL);
            if (it != NULL) {
                Napi::Value value = ItemValue(env, it, as_string);
                cache_release(e->cache, it);
                return value;
            }
            flight = flight_begin(shared_->flight, k.data, k.len, wait_ms);
            if (flight != FLIGHT_LANDED)
                break;  // owned, or busy: compute (FLIGHT_LANDED without a value: its compute failed)
            engine_tick(e);  // the wait may have been long
        }
        std::string key(k.data, k.len);  // compute may run anything, even close() on this Engine
        SharedEngine *shared = shared_;
        shared->Ref();
        napi_value arg = nullptr, returned = nullptr;
        if (napi_create_string_utf8(env, key.data(), key.size(), &arg) == napi_ok)
            napi_call_function(env, env.Undefined(), info[2], 1, &arg, &returned);
        Napi::Value result(env, returned);
        if (returned != nullptr && (result.IsNumber() || result.IsBoolean()))
            result = result.ToString();  // stored as the Client stores them
        bool stored_ok = returned != nullptr && !env.IsExceptionPending() && shared_ != nullptr &&
                         (result.IsString() || result.IsBuffer());
        if (stored_ok) {
            ValueBytes v;
            if (result.IsBuffer()) {
                Napi::Buffer<char> b = result.As<Napi::Buffer<char>>();
                v.data = b.Data();
                v.len = b.Length();
            } else {
                v.big = result.As<Napi::String>().Utf8Value();
                v.data = v.big.data();
                v.len = v.big.size();
            }
            engine_tick(e);
            store_write_t w = {STORE_MODE_SET, key.data(), key.size(), v.data, v.len, 0,
                               engine_exptime(e, I64Arg(info, 1)), 0, nullptr};
            EngineWrite(e, stats_, &w);
        }
        if (flight == FLIGHT_OWNED)
            flight_end(shared->flight, key.data(), key.size());
        shared->Unref();
        if (returned == nullptr || env.IsExceptionPending())
            return env.Undefined();
        return result;
    }

    // setAuth([[user, password], ...]) replaces the credentials of an engine created with auth.
    Napi::Value SetAuth(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        if (Open(env) == nullptr)
            return env.Undefined();
        if (shared_->engine.auth == nullptr)
            Napi::Error::New(env, "this engine was created without authentication").ThrowAsJavaScriptException();
        else
            AuthArg(env, info.Length() > 0 ? info[0] : env.Undefined(), shared_->engine.auth);
        return env.Undefined();
    }

    // A listener in JavaScript (TLS) refused a connection past maxConnections: rejected_connections.
    Napi::Value CountRejected(const Napi::CallbackInfo &info)
    {
        if (Open(info.Env()) == nullptr)
            return info.Env().Undefined();
        stat_add(&stats_->rejected_connections, 1);
        return info.Env().Undefined();
    }

    // stats(group = ''): the pairs of a memcached stats group (stats.c) as {name: value}, numbers
    // where the value is one; undefined for an unknown group.
    Napi::Value Stats(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        if (Open(env) == nullptr)
            return env.Undefined();
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
        if (Open(env) == nullptr)
            return env.Undefined();
        std::string kind = info[1].As<Napi::String>().Utf8Value();
        QueueSnapshot(info[2].As<Napi::Function>(), shared_, info[0].As<Napi::String>().Utf8Value(),
                      kind == "idle" ? SnapshotKind::SAVE_IDLE : kind == "save" ? SnapshotKind::SAVE : SnapshotKind::LOAD);
        return env.Undefined();
    }

    // latency(): every command's execution-time histogram (latency.h) summed over all threads, as
    // {bounds: [seconds...], commands: {get: {counts: [per bucket, +Inf last], sum: seconds}, ...}}.
    Napi::Value Latency(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        if (Open(env) == nullptr)
            return env.Undefined();
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

    SharedEngine *shared_ = nullptr;  // null once closed
    engine_stats_t *stats_ = nullptr; // where this Engine's operations count
    engine_stats_t *own_stats_ = nullptr;  // an attached Engine's block
    Feeder feeders_[2] = {};  // indexed by protocol_t; zeroed, so Stop() is safe before Start()
    bool started_ = false;    // feeders start at the first feed()
    EngineOps *ops_ = nullptr;  // shared with the hot functions, which may outlive this wrapper
};

}  // namespace

Napi::Function EngineClass(Napi::Env env)
{
    return Engine::Init(env);
}

SharedEngine *EngineShared(Napi::Value engine)
{
    return Engine::Unwrap(engine.As<Napi::Object>())->Shared();
}

}  // namespace binding
