// Echo-rig entries served by a program of its own (workloads/io/
// server_program.hpp, program_run.hpp): the Boost.Asio yardstick's and the
// CPython yardsticks' echo and slow_io. Each entry is one workload's params
// bound to the rig, so a yardstick gets the workload's own sizes, state,
// verify and counters, exactly as a runtime's tasks do; only who serves
// differs. Shared by the reference kinds (reference.cpp,
// reference_python.cpp).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/cli.hpp"
#include "bench/reference.hpp"
#include "workloads/io/program_run.hpp"

namespace cb {

struct program_entry {
    reference_entry ref;
    std::string unsupported;  // the workload's own reason it cannot run (too few descriptors...)
    int max_repetitions = 100;
    double ops = 0;  // round trips served
    std::function<run_result(const wl::server_program&, measurement&)> run;
    std::function<counters(const measurement&)> report;
};

// One workload's params served by a program that `t` describes (for the
// workload's unsupported()), named workload/RUNTIME/params.
template <class W>
program_entry program_entry_of(const typename W::params& p, const runtime_traits& t, const std::string& runtime,
                               const std::string& what) {
    program_entry e;
    e.ref = {std::string(W::name) + "/" + runtime + "/" + p.label(), std::string(W::name), runtime, p.label(), what};
    e.unsupported = W::unsupported(t, p);
    e.max_repetitions = repetitions_cap<W>(p) > 0 ? repetitions_cap<W>(p) : e.max_repetitions;
    e.ops = static_cast<double>(W::served(p));
    e.run = [p](const wl::server_program& prog, measurement& m) { return wl::run_on_program<W>(prog, p, m); };
    e.report = [p](const measurement& m) { return W::report(p, m); };
    return e;
}

// Who serves an entry: fills `prog` and returns "", or returns why the
// entry cannot run here (it is then declared with that reason).
using program_for = std::function<std::string(const program_entry&, wl::server_program& prog)>;
// Fields every repetition of an entry carries besides the workload's
// counters ("label", an interpreter's version...).
using entry_fields = std::function<nlohmann::json(const program_entry&)>;

// One run a repetition, each its own measurement, written as the entry's
// repetition with "reference": true (real and CPU time: the run's wall time,
// as for a runtime's I/O workload); a failed run is an error entry and ends
// that entry. `who` names the yardstick in progress lines and errors.
// Throws cb::interrupted if a signal arrives.
void run_program_entries(const options& o, const std::vector<program_entry>& todo, const std::string& who,
                         const program_for& server, const entry_fields& fields, nlohmann::json& benchmarks,
                         nlohmann::json& declared);

// The declared-pair object of an entry that cannot run, with the reason.
nlohmann::json declared_entry(const reference_entry& e, const std::string& reason);

}  // namespace cb
