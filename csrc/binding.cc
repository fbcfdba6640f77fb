// binding: the N-API face of the C engine — Engine (store + in-process feed), NativeServer
// (libuv listeners on Node's loop) and Session (one connection whose transport lives in JS, e.g.
// TLS), each in its binding_*.cc; here the module and the helpers they share.
#include "binding.h"

#include <cstring>

#include <sys/resource.h>

#include <cmath>
#include <vector>

namespace binding {

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

// ---- arguments and results of the Engine's item operations ----

bool KeyArg(const Napi::CallbackInfo &info, size_t i, Key *k)
{
    return KeyValue(info.Env(), info.Length() > i ? (napi_value)info[i] : info.Env().Undefined(), k);
}

// How long a string is in UTF-8 once copying it into room stopped this close to the end: a copy
// never splits a character, so it may have been cut short by up to 3 bytes.
static bool MaybeCut(napi_env env, napi_value v, size_t copied, size_t room, size_t *whole)
{
    *whole = copied;
    return copied + 4 >= room && napi_get_value_string_utf8(env, v, nullptr, 0, whole) == napi_ok && *whole > copied;
}

bool KeyValue(napi_env env, napi_value v, Key *k)
{
    bool is_buffer = false;
    size_t whole = 0;
    if (napi_get_value_string_utf8(env, v, k->text, sizeof(k->text), &k->len) == napi_ok) {
        k->data = k->text;
        if (MaybeCut(env, v, k->len, sizeof(k->text), &whole))
            k->len = whole;  // too long: refused below
    } else if (napi_is_buffer(env, v, &is_buffer) == napi_ok && is_buffer) {
        void *data = nullptr;
        napi_get_buffer_info(env, v, &data, &k->len);
        k->data = static_cast<const char *>(data);
    } else {
        napi_throw_type_error(env, nullptr, "key must be a string or a Buffer");
        return false;
    }
    if (k->len > STORE_KEY_MAX || !store_key_valid(k->data, k->len)) {
        napi_throw_range_error(env, nullptr, "key must be 1 to 250 bytes, without spaces or control characters");
        return false;
    }
    return true;
}

bool ValueArg(const Napi::CallbackInfo &info, size_t i, ValueBytes *v)
{
    return ValueBytesOf(info.Env(), info.Length() > i ? (napi_value)info[i] : info.Env().Undefined(), v);
}

bool ValueBytesOf(napi_env env, napi_value js, ValueBytes *v)
{
    bool is_buffer = false;
    size_t whole = 0;
    if (napi_get_value_string_utf8(env, js, v->room, sizeof(v->room), &v->len) == napi_ok) {
        v->data = v->room;
        if (MaybeCut(env, js, v->len, sizeof(v->room), &whole)) {  // take it whole
            v->big.resize(whole + 1);
            napi_get_value_string_utf8(env, js, &v->big[0], whole + 1, &v->len);
            v->big.resize(v->len);
            v->data = v->big.data();
        }
        return true;
    }
    if (napi_is_buffer(env, js, &is_buffer) == napi_ok && is_buffer) {
        void *data = nullptr;
        napi_get_buffer_info(env, js, &data, &v->len);
        v->data = static_cast<const char *>(data);
        return true;
    }
    napi_throw_type_error(env, nullptr, "value must be a string or a Buffer");
    return false;
}

// A number (lib/ checked its range) or a BigInt, as a uint64.
uint64_t U64Arg(const Napi::CallbackInfo &info, size_t i)
{
    if (info.Length() <= i)
        return 0;
    if (info[i].IsBigInt()) {
        bool lossless;
        return info[i].As<Napi::BigInt>().Uint64Value(&lossless);
    }
    return info[i].IsNumber() ? (uint64_t)info[i].As<Napi::Number>().Int64Value() : 0;
}

int64_t I64Arg(const Napi::CallbackInfo &info, size_t i)
{
    return info.Length() > i && info[i].IsNumber() ? info[i].As<Napi::Number>().Int64Value() : 0;
}

// The item's value as a string (UTF-8) or a new Buffer.
Napi::Value ItemValue(Napi::Env env, const item_t *it, bool as_string)
{
    napi_value v = nullptr;
    if (as_string)
        napi_create_string_utf8(env, item_value(it), it->nvalue, &v);
    else
        napi_create_buffer_copy(env, it->nvalue, item_value(it), nullptr, &v);
    return Napi::Value(env, v);
}

Napi::Value Latin1(Napi::Env env, const char *text)
{
    napi_value v = nullptr;
    napi_create_string_latin1(env, text, NAPI_AUTO_LENGTH, &v);
    return Napi::Value(env, v);
}

bool FlagArg(const Napi::CallbackInfo &info, size_t i)
{
    bool flag = false;
    if (info.Length() > i)
        napi_get_value_bool(info.Env(), info[i], &flag);
    return flag;
}

// A number up to 2^53, past it a BigInt: as the Client returns incr's value and takes a cas.
Napi::Value U64Value(Napi::Env env, uint64_t n)
{
    if (n <= (1ull << 53))
        return Napi::Number::New(env, (double)n);
    return Napi::BigInt::New(env, n);
}

}  // namespace binding

namespace {

using namespace binding;

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
    Napi::Function engine_class = EngineClass(env);
    env.SetInstanceData(new Napi::FunctionReference(Napi::Persistent(engine_class)));
    exports.Set("Engine", engine_class);
    exports.Set("NativeServer", NativeServerClass(env));
    exports.Set("openFilesLimit", Napi::Function::New(env, OpenFilesLimit));
    // Stores alive in the process (every thread's), for the tests of their release.
    exports.Set("liveStores", Napi::Function::New(env, [](const Napi::CallbackInfo &info) {
        return Napi::Number::New(info.Env(), (double)LiveStores());
    }));
    // The users of one store, by its handle: what its tests wait on, unlike liveStores() untouched by
    // other stores that the garbage collector frees meanwhile.
    exports.Set("storeUsers", Napi::Function::New(env, [](const Napi::CallbackInfo &info) {
        bool lossless = false;
        uint64_t handle = info.Length() > 0 && info[0].IsBigInt() ? info[0].As<Napi::BigInt>().Uint64Value(&lossless) : 0;
        return Napi::Number::New(info.Env(), (double)StoreUsers(handle));
    }));
    exports.Set("Session", SessionClass(env));
    // What lib/'s JavaScript transport must do alike with the native one, defined once in C.
    Napi::Object constants = Napi::Object::New(env);
    constants.Set("LINGER_MS", Napi::Number::New(env, CONN_LINGER_MS));
    constants.Set("REPLY_TOO_MANY_CONNECTIONS", Napi::String::New(env, TEXT_TOO_MANY_CONNECTIONS "\r\n"));
    // Engine.set's failures, worded as every protocol words them.
    Napi::Object set_errors = Napi::Object::New(env);
    set_errors.Set("TOO_LARGE", Napi::String::New(env, TEXT_TOO_LARGE));
    set_errors.Set("NO_MEMORY", Napi::String::New(env, TEXT_NO_MEMORY_STORING));
    constants.Set("SET_ERRORS", set_errors);
    // incr/decr's failures, likewise.
    Napi::Object arith_errors = Napi::Object::New(env);
    arith_errors.Set("NON_NUMERIC", Napi::String::New(env, TEXT_NON_NUMERIC));
    arith_errors.Set("NO_MEMORY", Napi::String::New(env, TEXT_NO_MEMORY));
    constants.Set("ARITH_ERRORS", arith_errors);
    // The names of store_status_t by number, which Engine's store and delete return.
    Napi::Array statuses = Napi::Array::New(env);
    for (uint32_t i = 0; strcmp(store_status_name((store_status_t)i), "UNKNOWN") != 0; i++)
        statuses.Set(i, Napi::String::New(env, store_status_name((store_status_t)i)));
    constants.Set("STORE_STATUSES", statuses);
    exports.Set("constants", constants);
    return exports;
}

}  // namespace

NODE_API_MODULE(simplecached, InitModule)
