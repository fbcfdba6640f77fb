// binding_server: the NativeServer wrapper — libuv listeners serving one engine on Node's loop
// (and its I/O threads), closed by close() or at environment teardown.
#include "binding.h"

#include <memory>

#include <sys/un.h>

namespace binding {
namespace {

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
        SharedEngine *shared = EngineShared(info[0]);
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
        shared->Ref();
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

}  // namespace

Napi::Function NativeServerClass(Napi::Env env)
{
    return NativeServer::Init(env);
}

}  // namespace binding
