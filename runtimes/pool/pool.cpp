#include "pool.hpp"

#include <climits>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include <oneapi/tbb/global_control.h>
#include <pthread.h>
#include <sys/resource.h>
#include <time.h>

namespace cb {

pool_options& pool_config() {
    static pool_options o;
    return o;
}

int checked_workers(std::size_t k) {
    if (k == 0 || k > static_cast<std::size_t>(INT_MAX))
        throw std::invalid_argument("pool: run_options::workers = " + std::to_string(k) +
                                    " is not an arena size (1 .. " + std::to_string(INT_MAX) + ")");
    return static_cast<int>(k);
}

tbb::task_arena& pool_runtime::sized_arena(int k) {
    static std::mutex m;
    static std::map<int, std::unique_ptr<tbb::task_arena>> arenas;
    std::lock_guard lk(m);
    auto& a = arenas[k];
    if (!a) a = std::make_unique<tbb::task_arena>(k);
    return *a;
}

namespace {
// The started service, for cpu_ns_if_started: reading it must not start it.
std::atomic<pool_io_service*> started_service{nullptr};
}  // namespace

pool_io_service& pool_io_service::get() {
    static pool_io_service s;
    return s;
}

std::uint64_t pool_io_service::cpu_ns_if_started() {
    pool_io_service* s = started_service.load(std::memory_order_acquire);
    if (!s) return 0;
    clockid_t id{};
    timespec ts{};
    if (::pthread_getcpuclockid(s->thread_.native_handle(), &id) != 0 || ::clock_gettime(id, &ts) != 0) return 0;
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(ts.tv_nsec);
}

pool_io_service::pool_io_service()
    : thread_([this] {
          // Named so that a profile or /proc/PID/task tells it from oneTBB's
          // workers, which keep the process's name.
          ::pthread_setname_np(::pthread_self(), "cb-pool-io");
          loop();
      }) {
    started_service.store(this, std::memory_order_release);
}

pool_io_service::~pool_io_service() {
    started_service.store(nullptr, std::memory_order_release);
    stop_.store(true);
    reactor_.wake();
    thread_.join();
}

void pool_io_service::add_timer(steady::time_point when, timer_waiter* w) {
    bool earliest;
    {
        std::lock_guard lk(m_);
        earliest = timers_.empty() || when < timers_.next();
        timers_.add(when, w);
    }
    if (earliest) reactor_.wake();
}

void pool_io_service::loop() {
    while (!stop_.load()) {
        std::chrono::nanoseconds timeout;
        {
            std::lock_guard lk(m_);
            timeout = poll_timeout(false, timers_);
        }
        reactor_.poll(timeout);
        std::lock_guard lk(m_);
        timers_.fire_due(steady::now());
    }
}

namespace {
void check_room_for_mappings(std::size_t tasks) {
    std::ifstream sysctl("/proc/sys/vm/max_map_count");
    std::size_t max_maps = 0;
    if (!(sysctl >> max_maps) || max_maps == 0) return;
    std::ifstream maps("/proc/self/maps");
    std::size_t in_use = 0;
    for (std::string line; std::getline(maps, line);) ++in_use;
    constexpr std::size_t per_stack = 2, spare = 256;  // spare: the run's own heap, threads' stacks
    const std::size_t room = max_maps > in_use + spare ? (max_maps - in_use - spare) / per_stack : 0;
    if (tasks <= room) return;
    throw spawn_error("pool: " + std::to_string(tasks) + " tasks suspended at once would each map a oneTBB stack " +
                      "and its guard page; vm.max_map_count " + std::to_string(max_maps) + " with " +
                      std::to_string(in_use) + " mappings in use leaves room for " + std::to_string(room) +
                      " (past it oneTBB crashes instead of failing, so the run is refused; raise it with "
                      "sysctl -w vm.max_map_count=N)");
}
}  // namespace

void check_room_for_suspended_stacks(std::size_t tasks, bool all_suspended_at_once) {
    if (all_suspended_at_once) check_room_for_mappings(tasks);
    rlimit rl{};
    if (::getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return;
    // VmSize: the address space in use now, oneTBB's cached stacks included.
    std::ifstream f("/proc/self/status");
    std::string key;
    std::size_t used_kb = 0;
    while (f >> key) {
        if (key == "VmSize:") {
            f >> used_kb;
            break;
        }
        f.ignore(4096, '\n');
    }
    const std::size_t used = used_kb * 1024, limit = static_cast<std::size_t>(rl.rlim_cur);
    const std::size_t stack = tbb::global_control::active_value(tbb::global_control::thread_stack_size) + 4096;
    const std::size_t room = limit > used ? (limit - used) / stack : 0;
    if (tasks <= room) return;
    throw spawn_error("pool: " + std::to_string(tasks) + " tasks could each hold a suspended oneTBB stack of " +
                      std::to_string(stack / 1024) + " KiB; RLIMIT_AS (ulimit -v) of " + std::to_string(limit >> 20) +
                      " MiB leaves room for " + std::to_string(room) +
                      " (past it oneTBB crashes instead of failing, so the run is refused)");
}

namespace {
struct resume_waiter : io_waiter, timer_waiter {
    tbb::task::suspend_point sp{};
    resume_waiter() : io_waiter{&on_io}, timer_waiter{&on_timer} {}
    static void on_io(io_waiter* w) noexcept { tbb::task::resume(static_cast<resume_waiter*>(w)->sp); }
    static void on_timer(timer_waiter* w) noexcept { tbb::task::resume(static_cast<resume_waiter*>(w)->sp); }
};
}  // namespace

ready<void> pool_context::sleep_for(std::chrono::nanoseconds d) {
    resume_waiter w;
    auto when = steady::now() + d;
    tbb::task::suspend([&](tbb::task::suspend_point sp) {
        w.sp = sp;
        pool_io_service::get().add_timer(when, &w);
    });
    return {};
}

void pool_context::wait_fd(int fd, std::uint32_t events) {
    resume_waiter w;
    tbb::task::suspend([&](tbb::task::suspend_point sp) {
        w.sp = sp;
        pool_io_service::get().arm(fd, events, &w);
    });
}


}  // namespace cb
