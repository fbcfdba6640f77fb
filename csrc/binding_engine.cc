// binding_engine: the Engine wrapper — one reference to the C store, its in-process operations
// and a protocol session per protocol for feed().
#include "binding.h"

#include <cmath>

namespace binding {
namespace {

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
        QueueSnapshot(info[2].As<Napi::Function>(), shared_, info[0].As<Napi::String>().Utf8Value(),
                      kind == "idle" ? SnapshotKind::SAVE_IDLE : kind == "save" ? SnapshotKind::SAVE : SnapshotKind::LOAD);
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
