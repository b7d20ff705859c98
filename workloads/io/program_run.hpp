// One run of an echo-like workload served by a program instead of a
// runtime's tasks (server_program.hpp: a reference such as the Asio
// server), through the workload's own state, verify, collect and report:
// the same listener, generator, go byte, checks and counters as under a
// runtime (run.hpp's run_once). What differs is who serves: the state hands
// the listener to the program, which accepts the generator's connections
// itself, and the server side's count is the program's total (W::served)
// rather than one result a task.
//
// Timed: from the go byte to the generator's exit (its last reply), as a
// runtime's run ends when its tasks see the generator's EOFs.
#pragma once

#include <chrono>
#include <vector>

#include "echo_rig.hpp"
#include "server_program.hpp"
#include "workloads/run.hpp"

namespace cb::wl {

template <class W>
concept program_servable = requires(const typename W::params& p, const server_program* prog) {
    typename W::template state<program_served>;
    requires std::constructible_from<typename W::template state<program_served>, const typename W::params&,
                                     const server_program*>;
    { W::served(p) } -> std::convertible_to<std::uint64_t>;
};

// Throws where the run cannot start (the program or the generator does not
// come up); a run that went wrong after the go byte is run_result::error.
template <class W>
    requires program_servable<W>
run_result run_on_program(const server_program& prog, const typename W::params& p, measurement& m) {
    typename W::template state<program_served> s(p, &prog);
    const auto t0 = std::chrono::steady_clock::now();
    if (::write(s.go_fd(), &go_byte, 1) != 1) throw_errno("go byte");
    s.client->finish(std::chrono::seconds(300));  // the generator's exit; the program is stopped in verify()
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::vector<std::uint64_t> no_tasks;
    run_result r{secs, W::verify(s, p, no_tasks)};
    if (r.error.empty()) {
        m.seconds += secs;
        ++m.iterations;
        W::collect(s, p, no_tasks, m);
    }
    return r;
}

}  // namespace cb::wl
