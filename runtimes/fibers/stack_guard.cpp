#include "stack_guard.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <fstream>
#include <mutex>

#include <sys/mman.h>
#include <unistd.h>

#include "../core/fd.hpp"

namespace cb {

namespace {

// One registered chunk. Written under g_table_mutex, read by the handler
// without a lock: `begin` is stored last on registration and cleared first
// on removal, so a handler that sees a non-zero begin sees the rest.
struct guarded_chunk {
    std::atomic<std::uintptr_t> begin{0};
    std::atomic<std::uintptr_t> end{0};
    std::atomic<std::size_t> stride{0}, guard{0}, stack{0};
};
// 4096 chunks of 1024 stacks: far beyond vm.max_map_count's wall.
constexpr std::size_t max_chunks = 4096;
guarded_chunk g_chunks[max_chunks];
std::mutex g_table_mutex;

struct sigaction g_old_segv, g_old_bus;
std::once_flag g_installed;

// Async-signal-safe output: write(2) of fixed buffers only.
void put(const char* s, std::size_t n) noexcept {
    while (n > 0) {
        const ssize_t w = ::write(STDERR_FILENO, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        s += w;
        n -= static_cast<std::size_t>(w);
    }
}
void put(const char* s) noexcept {
    std::size_t n = 0;
    while (s[n]) ++n;
    put(s, n);
}
void put_number(std::uintptr_t v, unsigned base) noexcept {
    char buf[32];
    std::size_t i = sizeof buf;
    do {
        buf[--i] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v && i > 0);
    put(buf + i, sizeof buf - i);
}

// The default action for sig, then sig again: it is blocked while the
// handler runs, so it is delivered (and kills) when the handler returns.
void die_by(int sig) noexcept {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigemptyset(&dfl.sa_mask);
    ::sigaction(sig, &dfl, nullptr);
    ::raise(sig);
}

void forward(int sig, siginfo_t* info, void* uctx) noexcept {
    const struct sigaction& old = sig == SIGBUS ? g_old_bus : g_old_segv;
    if (old.sa_flags & SA_SIGINFO) {
        if (old.sa_sigaction) old.sa_sigaction(sig, info, uctx);
        else die_by(sig);
    } else if (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN) {
        // An ignored fault would re-fault forever: the default action is the
        // only honest one.
        die_by(sig);
    } else {
        old.sa_handler(sig);
    }
}

void on_fault(int sig, siginfo_t* info, void* uctx) {
    const auto a = reinterpret_cast<std::uintptr_t>(info->si_addr);
    for (const guarded_chunk& c : g_chunks) {
        const std::uintptr_t b = c.begin.load(std::memory_order_acquire);
        if (b == 0 || a < b || a >= c.end.load(std::memory_order_relaxed)) continue;
        const std::size_t stride = c.stride.load(std::memory_order_relaxed);
        if (stride == 0 || (a - b) % stride >= c.guard.load(std::memory_order_relaxed)) break;
        put("cobench: fiber stack overflow: a ");
        put_number(c.stack.load(std::memory_order_relaxed), 10);
        put("-byte fiber stack ran into its guard page at 0x");
        put_number(a, 16);
        put("\n");
        die_by(sig);
        return;
    }
    forward(sig, info, uctx);
}

}  // namespace

void install_stack_guard_handler() {
    std::call_once(g_installed, [] {
        struct sigaction sa {};
        sa.sa_sigaction = &on_fault;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        ::sigemptyset(&sa.sa_mask);
        if (::sigaction(SIGSEGV, &sa, &g_old_segv) != 0) throw_errno("fibers: sigaction(SIGSEGV)");
        if (::sigaction(SIGBUS, &sa, &g_old_bus) != 0) throw_errno("fibers: sigaction(SIGBUS)");
    });
}

void register_guarded_chunk(void* begin, std::size_t bytes, std::size_t stride, std::size_t guard, std::size_t stack_size) {
    install_stack_guard_handler();
    std::lock_guard lock(g_table_mutex);
    for (guarded_chunk& c : g_chunks) {
        if (c.begin.load(std::memory_order_relaxed) != 0) continue;
        c.end.store(reinterpret_cast<std::uintptr_t>(begin) + bytes, std::memory_order_relaxed);
        c.stride.store(stride, std::memory_order_relaxed);
        c.guard.store(guard, std::memory_order_relaxed);
        c.stack.store(stack_size, std::memory_order_relaxed);
        c.begin.store(reinterpret_cast<std::uintptr_t>(begin), std::memory_order_release);
        return;
    }
    throw spawn_error("fibers: more than " + std::to_string(max_chunks) + " chunks of guarded stacks");
}

void unregister_guarded_chunk(void* begin) noexcept {
    std::lock_guard lock(g_table_mutex);
    for (guarded_chunk& c : g_chunks)
        if (c.begin.load(std::memory_order_relaxed) == reinterpret_cast<std::uintptr_t>(begin))
            c.begin.store(0, std::memory_order_release);
}

std::string max_map_count_note() {
    std::ifstream f("/proc/sys/vm/max_map_count");
    std::string v;
    return "vm.max_map_count " + (f >> v ? v : std::string("?")) +
           ": each guarded fiber stack is two mappings (its guard page and its stack), so about half that many "
           "guarded fibers fit in one process; raise it with sysctl -w vm.max_map_count=N";
}

signal_stack_scope::signal_stack_scope() {
    stack_t old{};
    if (::sigaltstack(nullptr, &old) != 0) throw_errno("fibers: sigaltstack");
    if (!(old.ss_flags & SS_DISABLE)) return;  // the thread has one: use it
    const long min = ::sysconf(_SC_MINSIGSTKSZ);
    bytes_ = std::max<std::size_t>(64 * 1024, min > 0 ? 4 * static_cast<std::size_t>(min) : 0);
    mem_ = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (mem_ == MAP_FAILED) {
        mem_ = nullptr;
        throw_errno("fibers: mmap of an alternate signal stack");
    }
    stack_t ss{};
    ss.ss_sp = mem_;
    ss.ss_size = bytes_;
    if (::sigaltstack(&ss, nullptr) != 0) {
        const int e = errno;
        ::munmap(mem_, bytes_);
        throw_errno("fibers: sigaltstack", e);
    }
}

signal_stack_scope::~signal_stack_scope() {
    if (!mem_) return;
    stack_t off{};
    off.ss_flags = SS_DISABLE;
    ::sigaltstack(&off, nullptr);
    ::munmap(mem_, bytes_);
}

}  // namespace cb
