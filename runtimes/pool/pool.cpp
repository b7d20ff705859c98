#include "pool.hpp"

namespace cb {

pool_options& pool_config() {
    static pool_options o;
    return o;
}

pool_io_service& pool_io_service::get() {
    static pool_io_service s;
    return s;
}

pool_io_service::pool_io_service() : thread_([this] { loop(); }) {}

pool_io_service::~pool_io_service() {
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
