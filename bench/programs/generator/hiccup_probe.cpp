// The hiccup probe's thread (hiccup_probe.hpp).
#include "hiccup_probe.hpp"

#include <cerrno>
#include <exception>

#include <time.h>

#include "generator.hpp"

namespace cb::gen {

void hiccup_probe::start() {
    try {
        thread_ = std::thread([this] {
            while (!stop_.load(std::memory_order_relaxed)) {
                const clk::time_point a = clk::now();
                timespec ts{0, 1000000};
                ::nanosleep(&ts, nullptr);
                const std::uint64_t slept = since_ns(a, clk::now());
                hist_.record(slept > 1000000 ? slept - 1000000 : 0);
            }
        });
    } catch (const std::exception&) {
        errno = EAGAIN;
        die("hiccup probe thread");
    }
}

const wl::log_histogram& hiccup_probe::stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
    return hist_;
}

}  // namespace cb::gen
