// binding_shared: SharedEngine's reference count and the process-wide registry of stores that
// handles name (a slot and its generation), shared by the Engine wrappers of every thread.
#include "binding.h"

#include <mutex>
#include <vector>

namespace binding {
namespace {

constexpr unsigned HANDLE_SLOT_BITS = 16;
constexpr uint64_t HANDLE_SLOT_MASK = (1u << HANDLE_SLOT_BITS) - 1;

struct Slot {
    SharedEngine *shared;
    uint64_t generation;  // bumped each time the slot's store is freed
};

std::mutex registry_lock;
std::vector<Slot> registry;  // never shrinks; a freed slot is reused with the next generation
size_t live_stores;

// Under registry_lock: a free slot for shared, and the handle naming it.
bool Register(SharedEngine *shared)
{
    size_t slot = 0;
    while (slot < registry.size() && registry[slot].shared != nullptr)
        slot++;
    if (slot > HANDLE_SLOT_MASK)
        return false;
    if (slot == registry.size())
        registry.push_back({nullptr, 1});
    registry[slot].shared = shared;
    shared->handle = slot | registry[slot].generation << HANDLE_SLOT_BITS;
    live_stores++;
    return true;
}

}  // namespace

SharedEngine *SharedEngine::Create(const engine_config_t *config)
{
    auto *shared = new (std::nothrow) SharedEngine();
    if (shared == nullptr)
        return nullptr;
    if (engine_init(&shared->engine, config) != 0) {  // it cleans up after itself
        delete shared;
        return nullptr;
    }
    shared->flight = flight_create();
    bool registered = false;
    if (shared->flight != nullptr) {
        std::lock_guard<std::mutex> guard(registry_lock);
        registered = Register(shared);
    }
    if (!registered) {
        flight_destroy(shared->flight);
        engine_destroy(&shared->engine);
        delete shared;
        return nullptr;
    }
    return shared;
}

SharedEngine *SharedEngine::Attach(uint64_t handle)
{
    std::lock_guard<std::mutex> guard(registry_lock);
    uint64_t slot = handle & HANDLE_SLOT_MASK;
    if (slot >= registry.size() || registry[slot].shared == nullptr ||
        registry[slot].generation != handle >> HANDLE_SLOT_BITS)
        return nullptr;
    registry[slot].shared->refs++;
    return registry[slot].shared;
}

void SharedEngine::Ref()
{
    std::lock_guard<std::mutex> guard(registry_lock);
    refs++;
}

void SharedEngine::Unref()
{
    {
        std::lock_guard<std::mutex> guard(registry_lock);
        if (--refs > 0)
            return;
        Slot &slot = registry[handle & HANDLE_SLOT_MASK];
        slot.shared = nullptr;
        slot.generation++;
        live_stores--;
    }
    // The last user is gone: nobody can reach it any more, so it is freed outside the lock.
    flight_destroy(flight);
    engine_destroy(&engine);
    delete this;
}

unsigned StoreUsers(uint64_t handle)
{
    std::lock_guard<std::mutex> guard(registry_lock);
    uint64_t slot = handle & HANDLE_SLOT_MASK;
    if (slot >= registry.size() || registry[slot].shared == nullptr ||
        registry[slot].generation != handle >> HANDLE_SLOT_BITS)
        return 0;
    return registry[slot].shared->refs;
}

size_t LiveStores()
{
    std::lock_guard<std::mutex> guard(registry_lock);
    return live_stores;
}

}  // namespace binding
