// binding_engine_fast: the Engine's hot item operations (get, getInto, has, store, delete) as plain
// N-API functions carrying their store as data, one set per Engine: no object unwrapping per call.
#include "binding.h"

extern "C" {
#include "lookup.h"
}

namespace binding {
namespace {

constexpr size_t MAX_ARGS = 6;
// Values up to this size are copied out under the shard lock and turned into JavaScript values
// once it is released; longer ones are held and copied straight from the item.
constexpr size_t VALUE_ROOM = 4096;

// One call's arguments (missing ones read as undefined) and the store, once it is known open.
struct Call {
    size_t argc = MAX_ARGS;
    napi_value argv[MAX_ARGS];
    EngineOps *ops = nullptr;
    engine_t *engine = nullptr;
};

bool Begin(napi_env env, napi_callback_info info, Call *call)
{
    void *data = nullptr;
    if (napi_get_cb_info(env, info, &call->argc, call->argv, nullptr, &data) != napi_ok)
        return false;
    call->ops = static_cast<EngineOps *>(data);
    if (call->ops->shared == nullptr) {
        napi_throw_error(env, "ERR_ENGINE_CLOSED", "this Engine is closed");
        return false;
    }
    call->engine = &call->ops->shared->engine;
    engine_tick(call->engine);
    return true;
}

bool BoolValue(napi_env env, napi_value v)
{
    bool flag = false;
    napi_get_value_bool(env, v, &flag);
    return flag;
}

// A number (lib/ checked its range) or a BigInt as a uint64; anything else 0.
uint64_t U64Of(napi_env env, const Call &call, size_t i)
{
    if (i >= call.argc)
        return 0;
    napi_value v = call.argv[i];
    int64_t n = 0;
    if (napi_get_value_int64(env, v, &n) == napi_ok)
        return (uint64_t)n;
    uint64_t big = 0;
    bool lossless;
    napi_get_value_bigint_uint64(env, v, &big, &lossless);
    return big;
}

int64_t I64Of(napi_env env, const Call &call, size_t i)
{
    int64_t n = 0;
    if (i < call.argc)
        napi_get_value_int64(env, call.argv[i], &n);
    return n;
}

// A value's bytes as a string: UTF-8, decoded, unless every byte is ASCII, which needs no decoding.
napi_value StringOf(napi_env env, const char *bytes, size_t n)
{
    unsigned char any = 0;
    for (size_t i = 0; i < n; i++)
        any |= (unsigned char)bytes[i];
    napi_value out = nullptr;
    if (any < 0x80)
        napi_create_string_latin1(env, bytes, n, &out);
    else
        napi_create_string_utf8(env, bytes, n, &out);
    return out;
}

// A store_status_t as a number: lib/ names it (constants.STORE_STATUSES), sparing a string per call.
napi_value StatusNumber(napi_env env, store_status_t status)
{
    napi_value out = nullptr;
    napi_create_uint32(env, (uint32_t)status, &out);
    return out;
}

// A held item's value made into a JavaScript value, then released. The store is referenced
// meanwhile: making the value may run a collection that finalizes this Engine's last wrapper.
napi_value HeldValue(napi_env env, EngineOps *ops, item_t *it, bool as_string)
{
    SharedEngine *shared = ops->shared;
    shared->Ref();
    napi_value value = ItemValue(env, it, as_string);
    cache_release(shared->engine.cache, it);
    shared->Unref();
    return value;
}

// get(key, asString) -> the value (a string or a new Buffer), or null; counts as memcached's get.
napi_value FastGet(napi_env env, napi_callback_info info)
{
    Call call;
    Key k;
    if (!Begin(env, info, &call) || !KeyValue(env, call.argv[0], &k))
        return nullptr;
    bool as_string = BoolValue(env, call.argv[1]);
    char room[VALUE_ROOM];
    lookup_t found;
    lookup_get(call.engine->cache, k.data, k.len, room, sizeof(room), &found);
    engine_count_get(call.ops->stats, false, found.hit);
    napi_value out = nullptr;
    if (!found.hit)
        napi_get_null(env, &out);
    else if (found.held != nullptr)
        out = HeldValue(env, call.ops, found.held, as_string);
    else if (as_string)
        out = StringOf(env, room, found.nvalue);
    else
        napi_create_buffer_copy(env, found.nvalue, room, nullptr, &out);
    return out;
}

// getInto(key, pool, offset) -> null, the value's length once copied into pool at offset (an
// ArrayBuffer lib/ hands out Buffer views of: a Buffer made in JavaScript costs far less than one made here), or a
// new Buffer when it does not fit there. The copy into the pool is made under the shard lock.
napi_value FastGetInto(napi_env env, napi_callback_info info)
{
    Call call;
    Key k;
    if (!Begin(env, info, &call) || !KeyValue(env, call.argv[0], &k))
        return nullptr;
    void *room = nullptr;
    size_t size = 0;
    uint32_t offset = 0;
    if (napi_get_arraybuffer_info(env, call.argv[1], &room, &size) != napi_ok ||
        napi_get_value_uint32(env, call.argv[2], &offset) != napi_ok || offset > size) {
        napi_throw_type_error(env, nullptr, "getInto(key, pool ArrayBuffer, offset within it)");
        return nullptr;
    }
    lookup_t found;
    lookup_get(call.engine->cache, k.data, k.len, static_cast<char *>(room) + offset, size - offset, &found);
    engine_count_get(call.ops->stats, false, found.hit);
    napi_value out = nullptr;
    if (!found.hit)
        napi_get_null(env, &out);
    else if (found.held != nullptr)
        out = HeldValue(env, call.ops, found.held, false);
    else
        napi_create_uint32(env, (uint32_t)found.nvalue, &out);
    return out;
}

// has(key): whether a live item is there, without copying it out or counting a get.
napi_value FastHas(napi_env env, napi_callback_info info)
{
    Call call;
    Key k;
    if (!Begin(env, info, &call) || !KeyValue(env, call.argv[0], &k))
        return nullptr;
    lookup_t found;
    napi_value out = nullptr;
    napi_get_boolean(env, lookup_get(call.engine->cache, k.data, k.len, nullptr, 0, &found), &out);
    return out;
}

// store(mode, key, value, flags, ttl, cas) -> the store_status_t (OK, NOT_STORED, EXISTS, NOT_FOUND,
// TOO_LARGE, NO_MEMORY); mode is a store_mode_t, ttl memcached's exptime.
napi_value FastStore(napi_env env, napi_callback_info info)
{
    Call call;
    Key k;
    ValueBytes v;
    uint32_t mode = 0;
    if (!Begin(env, info, &call) || !KeyValue(env, call.argv[1], &k) || !ValueBytesOf(env, call.argv[2], &v))
        return nullptr;
    if (napi_get_value_uint32(env, call.argv[0], &mode) != napi_ok || mode > STORE_MODE_CAS) {
        napi_throw_range_error(env, nullptr, "unknown store mode");
        return nullptr;
    }
    store_write_t w = {(store_mode_t)mode, k.data, k.len, v.data, v.len, (uint32_t)U64Of(env, call, 3),
                       engine_exptime(call.engine, I64Of(env, call, 4)), U64Of(env, call, 5), nullptr};
    return StatusNumber(env, EngineWrite(call.engine, call.ops->stats, &w));
}

// delete(key, cas = 0) -> the store_status_t: OK, NOT_FOUND or EXISTS (the item's cas differs).
napi_value FastDelete(napi_env env, napi_callback_info info)
{
    Call call;
    Key k;
    if (!Begin(env, info, &call) || !KeyValue(env, call.argv[0], &k))
        return nullptr;
    store_status_t st = cache_delete_cas(call.engine->cache, k.data, k.len, U64Of(env, call, 1));
    stat_add(st == STORE_OK ? &call.ops->stats->delete_hits : &call.ops->stats->delete_misses, 1);
    return StatusNumber(env, st);
}

void OpsFinalize(napi_env, void *data, void *)
{
    EngineOpsUnref(static_cast<EngineOps *>(data));
}

}  // namespace

// What a protocol's storage command does once it has parsed the line: the too-large check (a
// failed set also drops the old value), the write, and the counters. Returns the status.
store_status_t EngineWrite(engine_t *e, engine_stats_t *stats, store_write_t *w)
{
    stat_add(&stats->cmd_set, 1);
    if (cache_too_large(e->cache, w->nkey, w->flags, w->nvalue)) {
        stat_add(&stats->store_too_large, 1);
        if (w->mode == STORE_MODE_SET)
            cache_delete(e->cache, w->key, w->nkey);
        return STORE_TOO_LARGE;
    }
    store_status_t st = cache_write(e->cache, w, NULL);
    if (w->mode == STORE_MODE_CAS)
        engine_count_cas(stats, st);
    if (st == STORE_TOO_LARGE && (w->mode == STORE_MODE_APPEND || w->mode == STORE_MODE_PREPEND))
        return STORE_NOT_STORED;  // memcached fails to allocate it and stores nothing
    if (st == STORE_TOO_LARGE || st == STORE_NO_MEMORY)
        stat_add(&stats->store_no_memory, 1);
    return st == STORE_TOO_LARGE ? STORE_NO_MEMORY : st;
}

void EngineOpsUnref(EngineOps *ops)
{
    if (--ops->refs == 0)
        delete ops;
}

bool DefineFastOps(napi_env env, napi_value self, EngineOps *ops)
{
    static const struct {
        const char *name;
        napi_callback fn;
    } table[] = {{"get", FastGet}, {"getInto", FastGetInto}, {"has", FastHas}, {"store", FastStore}, {"delete", FastDelete}};
    for (const auto &op : table) {
        napi_value fn = nullptr;
        if (napi_create_function(env, op.name, NAPI_AUTO_LENGTH, op.fn, ops, &fn) != napi_ok)
            return false;
        // Each function holds the ops until it is collected: it may outlive the Engine wrapper.
        if (napi_add_finalizer(env, fn, ops, OpsFinalize, nullptr, nullptr) != napi_ok)
            return false;
        ops->refs++;
        if (napi_set_named_property(env, self, op.name, fn) != napi_ok)
            return false;
    }
    return true;
}

}  // namespace binding
