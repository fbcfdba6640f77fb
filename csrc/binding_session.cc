// binding_session: the Session wrapper — one client connection whose transport lives in
// JavaScript (TLS), fed through the C protocols.
#include "binding.h"

namespace binding {
namespace {

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
        shared_ = EngineShared(info[0]);
        shared_->Ref();
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

}  // namespace

Napi::Function SessionClass(Napi::Env env)
{
    return Session::Init(env);
}

}  // namespace binding
