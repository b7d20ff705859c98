// The worker-group primitive with fewer workers than tasks: slices cover the
// range, results and errors come back from processes and threads, the park
// barrier counts what it is told to, and nothing is left behind.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include "runtimes/core/group.hpp"
#include "runtimes/core/worker_group.hpp"

namespace {

using cb::slice;

TEST(WorkerGroup, SlicesCoverTheRangeInOrder) {
    for (std::size_t n : {1u, 7u, 10u, 1000u})
        for (std::size_t k : {1u, 2u, 3u, 7u}) {
            if (k > n) continue;
            std::size_t next = 0;
            for (std::size_t w = 0; w < k; ++w) {
                slice s = cb::slice_of(n, k, w);
                EXPECT_EQ(s.first, next);
                EXPECT_GE(s.size(), n / k);
                EXPECT_LE(s.size(), n / k + 1);
                next = s.last;
            }
            EXPECT_EQ(next, n);
        }
}

bool no_children_left() {
    errno = 0;
    return ::waitpid(-1, nullptr, WNOHANG) == -1 && errno == ECHILD;
}

TEST(WorkerGroup, ProcessWorkersEachRunOneSlice) {
    const std::size_t n = 10, k = 3;
    cb::run_options o;
    cb::process_group g{n, k, 0, &o, nullptr};
    // Each task returns its index and its worker's pid, so the parent can
    // check that a worker ran exactly one contiguous slice.
    auto res = cb::run_process_workers(g, [](void*, slice s, std::uint64_t* out) {
        for (std::size_t i = s.first; i < s.last; ++i)
            out[i - s.first] = (static_cast<std::uint64_t>(::getpid()) << 20) | i;
    }, nullptr);
    ASSERT_EQ(res.size(), n);
    std::set<std::uint64_t> pids;
    for (std::size_t w = 0; w < k; ++w) {
        slice s = cb::slice_of(n, k, w);
        const std::uint64_t pid = res[s.first] >> 20;
        for (std::size_t i = s.first; i < s.last; ++i) {
            EXPECT_EQ(res[i] & 0xfffff, i);
            EXPECT_EQ(res[i] >> 20, pid) << "task " << i << " ran outside its worker";
        }
        pids.insert(pid);
    }
    EXPECT_EQ(pids.size(), k);
    EXPECT_EQ(pids.count(static_cast<std::uint64_t>(::getpid())), 0u);
    EXPECT_TRUE(no_children_left());
}

TEST(WorkerGroup, AFailingProcessWorkerIsAnErrorAndIsReaped) {
    cb::run_options o;
    cb::process_group g{9, 3, 0, &o, nullptr};
    EXPECT_THROW(cb::run_process_workers(g, [](void*, slice s, std::uint64_t* out) {
        if (s.worker == 1) throw std::runtime_error("boom");
        for (std::size_t i = s.first; i < s.last; ++i) out[i - s.first] = i;
    }, nullptr), std::runtime_error);
    EXPECT_TRUE(no_children_left());
}

TEST(WorkerGroup, ParkBarrierWaitsForOneArrivalPerWorker) {
    struct seen { std::size_t calls = 0, pids = 0; } s;
    cb::run_options o;
    o.parks = true;
    o.user = &s;
    o.on_parked = [](void* u, const cb::parked_info& info) {
        ++static_cast<seen*>(u)->calls;
        static_cast<seen*>(u)->pids = info.children.size();
    };
    cb::park_fds fds;
    const std::size_t n = 12, k = 4;
    cb::process_group g{n, k, k, &o, &fds};
    auto res = cb::run_process_workers(g, [](void* a, slice sl, std::uint64_t* out) {
        const auto* f = static_cast<const cb::park_fds*>(a);
        char c = 0;  // one arrival for the whole slice, as a worker with a barrier of its own would send
        if (!cb::write_full(f->arrive, &c, 1) || !cb::read_full(f->release, &c, 1)) throw std::runtime_error("park");
        for (std::size_t i = sl.first; i < sl.last; ++i) out[i - sl.first] = 1;
    }, &fds);
    EXPECT_EQ(cb::sum(res), n);
    EXPECT_EQ(s.calls, 1u);
    EXPECT_EQ(s.pids, k);
    EXPECT_EQ(fds.arrive, -1) << "the barrier's descriptors are the group's only";
    EXPECT_TRUE(no_children_left());
}

TEST(WorkerGroup, ThreadWorkersEachRunOneSlice) {
    const std::size_t n = 7, k = 2;
    std::vector<std::thread::id> ran_on(n);
    cb::run_thread_workers(k, n, {}, [&](slice s) {
        for (std::size_t i = s.first; i < s.last; ++i) ran_on[i] = std::this_thread::get_id();
    });
    std::set<std::thread::id> ids(ran_on.begin(), ran_on.end());
    EXPECT_EQ(ids.size(), k);
    EXPECT_EQ(ids.count(std::this_thread::get_id()), 0u);
    for (std::size_t w = 0; w < k; ++w) {
        slice s = cb::slice_of(n, k, w);
        for (std::size_t i = s.first; i < s.last; ++i) EXPECT_EQ(ran_on[i], ran_on[s.first]);
    }
}

}  // namespace
