// --threads (threads.hpp).
#include "threads.hpp"

#include <algorithm>
#include <barrier>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

#include "cpu_sampling.hpp"
#include "generator.hpp"

namespace cb::gen {

void pin_thread(unsigned cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (cpu >= CPU_SETSIZE) usage_error("--pin: no such CPU: " + std::to_string(cpu));
    CPU_SET(cpu, &set);
    if (const int err = ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set); err != 0)
        usage_error("--pin=" + std::to_string(cpu) + ": pthread_setaffinity_np: " + std::strerror(err));
}

wl::echo_phase merge_parts(const std::vector<wl::echo_phase>& parts, const wl::log_histogram& h,
                           std::uint64_t open_total) {
    wl::echo_phase m;
    m.gen_valid = true;
    m.thread_count = parts.size();
    for (const wl::echo_phase& p : parts) {
        m.requests += p.requests, m.mismatches += p.mismatches, m.errors += p.errors;
        m.cpu_ns += p.cpu_ns, m.conns += p.conns, m.stuck += p.stuck, m.marks += p.marks;
        m.sent += p.sent, m.late += p.late, m.threads_invalid += p.threads_invalid;
        m.elapsed_ns = std::max(m.elapsed_ns, p.elapsed_ns);
        m.schedule_ns = std::max(m.schedule_ns, p.schedule_ns);
        m.gen_valid = m.gen_valid && p.gen_valid;
    }
    set_latencies(m, h);
    if (open_total > 0)
        m.gen_valid = m.gen_valid && m.sent == open_total && m.late * 100 <= m.sent && m.errors == 0 &&
                      m.mismatches == 0;
    return m;
}

std::vector<phase_result> run_threads(std::vector<std::unique_ptr<closed_loop>>& loops, const thread_plan& plan) {
    const std::size_t n = loops.size();
    std::vector<wl::echo_phase> closed(n), open(n);
    std::vector<wl::log_histogram> open_h(n);
    // Two meetings before the open phase: every closed phase done (the
    // server's CPU over it sampled), then the common start t0 set.
    std::barrier meet(static_cast<std::ptrdiff_t>(n + 1));
    clk::time_point t0;
    server_clock closed_sc{plan.server};
    open_meter meter{plan.server};
    if (plan.closed_first) closed_sc.start();
    const std::uint64_t cpu0 = cpu_ns(RUSAGE_SELF);
    std::vector<std::jthread> threads;
    threads.reserve(n);
    for (std::size_t t = 0; t < n; ++t)
        threads.emplace_back([&, t] {
            if (!plan.pin.empty()) pin_thread(plan.pin[t % plan.pin.size()]);
            closed[t] = loops[t]->run();
            // The closed phase of this thread's slice: complete and intact?
            const std::uint64_t want = loops[t]->fds().size() * plan.requests;
            closed[t].threads_invalid =
                closed[t].requests == want && closed[t].errors == 0 && closed[t].mismatches == 0 ? 0 : 1;
            if (!plan.open) return;
            meet.arrive_and_wait();
            meet.arrive_and_wait();
            const std::uint64_t c0 = cpu_ns(RUSAGE_THREAD);
            open[t] = open_sends(loops[t]->fds(), loops[t]->done(), loops[t]->epoll_fd(), plan.oc,
                                 open_slice{slice_first(t, plan.conns, n), plan.conns}, t0, c0, open_h[t]);
        });
    std::vector<phase_result> out;
    const auto closed_result = [&](std::uint64_t cpu) {
        phase_result r;
        r.parts = closed;
        for (auto& l : loops) {
            r.part_hists.push_back(l->histogram());
            r.hist.merge(l->histogram());
        }
        r.merged = merge_parts(r.parts, r.hist, 0);
        r.merged.cpu_ns = cpu;  // the process's CPU: the threads' RUSAGE_SELF readings overlap
        return r;
    };
    if (plan.open) {
        meet.arrive_and_wait();
        if (plan.closed_phase_reported) {
            out.push_back(closed_result(cpu_ns(RUSAGE_SELF) - cpu0));
            if (plan.closed_first) closed_sc.stop(out.back().merged);
        }
        meter.start();
        if (plan.oc.hiccups) meter.probe.start();
        t0 = clk::now();
        meet.arrive_and_wait();
        for (auto& th : threads) th.join();
        phase_result r;
        r.parts = open;
        r.part_hists = open_h;
        for (const auto& h : open_h) r.hist.merge(h);
        r.merged = merge_parts(r.parts, r.hist, plan.oc.rate * plan.oc.duration_ms / 1000);
        // Sampled before anything closes: the server's tasks are all alive.
        meter.sc.stop(r.merged);
        meter.stop(r.merged);
        out.push_back(std::move(r));
    } else {
        for (auto& th : threads) th.join();
        out.push_back(closed_result(cpu_ns(RUSAGE_SELF) - cpu0));
    }
    return out;
}

}  // namespace cb::gen
