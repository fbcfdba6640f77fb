// binding_snapshot: SnapshotWorker, a snapshot file's save or load on libuv's thread pool,
// reporting to a JavaScript callback.
#include "binding.h"

namespace binding {
namespace {

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
        shared_->Ref();
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

}  // namespace

void QueueSnapshot(Napi::Function callback, SharedEngine *shared, std::string path, SnapshotKind kind)
{
    (new SnapshotWorker(callback, shared, std::move(path),
                        kind == SnapshotKind::SAVE_IDLE ? SnapshotWorker::SAVE_IDLE
                        : kind == SnapshotKind::SAVE    ? SnapshotWorker::SAVE : SnapshotWorker::LOAD))->Queue();
}

}  // namespace binding
