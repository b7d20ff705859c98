// Memory that every task of a run sees, whichever runtime runs it.
//
// Threads, the pool, fibers and coroutines share one address space anyway;
// forked processes share only what was mapped MAP_SHARED before the fork. So
// counters that tasks update together live in one anonymous shared mapping,
// made in a workload's state constructor (outside the clock) and unmapped in
// its destructor: one mmap and one munmap per run, whatever the runtime, so
// every runtime pays the same (first-touch page faults included).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>

#include <sys/mman.h>

#include "runtimes/core/fd.hpp"

namespace cb::wl {

// n objects of T, value-initialised, in one MAP_SHARED | MAP_ANONYMOUS mapping.
// T must work across address spaces: for atomics that means lock-free (a
// lock-based std::atomic would take a lock that lives in one process only).
template <class T>
class shared_array {
    static_assert(std::is_trivially_destructible_v<T>, "nothing runs destructors in forked children");

public:
    explicit shared_array(std::size_t n) : n_(n == 0 ? 1 : n), bytes_(n_ * sizeof(T)) {
        void* p = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw_errno("mmap(MAP_SHARED | MAP_ANONYMOUS)");
        p_ = static_cast<T*>(p);
        for (std::size_t i = 0; i < n_; ++i) ::new (static_cast<void*>(p_ + i)) T{};
    }
    ~shared_array() { ::munmap(p_, bytes_); }
    shared_array(const shared_array&) = delete;
    shared_array& operator=(const shared_array&) = delete;

    T& operator[](std::size_t i) noexcept { return p_[i]; }
    const T& operator[](std::size_t i) const noexcept { return p_[i]; }
    std::size_t size() const noexcept { return n_; }

private:
    std::size_t n_, bytes_;
    T* p_ = nullptr;
};

using shared_counter = std::atomic<std::uint64_t>;
static_assert(shared_counter::is_always_lock_free, "a shared counter must be address-free to work across processes");

// Raises *slot to at least v (C++20 has no atomic fetch_max).
inline void raise_to(shared_counter& slot, std::uint64_t v) noexcept {
    std::uint64_t cur = slot.load(std::memory_order_relaxed);
    while (cur < v && !slot.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
    }
}

}  // namespace cb::wl
