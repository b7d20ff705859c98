// References: programs that are not runtimes, measured beside them. One kind
// of catalogue entry, which --list, the orchestrator and the results use:
//
//   kernel_sched_pipe/{processes,threads}/pin:same
//       the kernel's own scheduler benchmark (perf bench sched pipe), two
//       tasks bouncing a byte as pipe_pong's do; selected through the
//       runtime whose tasks are exactly that (processes, threads);
//   echo/asio/..., slow_io/asio/...
//       the Boost.Asio echo server (cobench_asio_echo: one thread, C++20
//       coroutines, the way Asio's own examples write it), served through
//       the echo rig exactly as a runtime's tasks are, with the workloads'
//       own sizes, state, verify and counters (workloads/io/program_run.hpp);
//       selected by a name of its own, "asio", which --runtimes takes
//       besides the runtimes (without --runtimes it is in). Its entries
//       carry "reference": true, and the results' context.references.asio
//       says what it is.
//
// A reference that cannot run here (perf or the server missing) is
// declared, with the reason, not run.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/cli.hpp"

namespace cb {

struct reference_entry {
    std::string name;                       // workload/runtime/params
    std::string workload, runtime, params;  // runtime: the name --runtimes selects it by
    std::string what;                       // for --list: "[reference: WHAT]"
};

// Every reference entry of a profile, in catalogue order.
std::vector<reference_entry> reference_entries(profile p);

// The names --runtimes takes besides the registered runtimes, with what each
// is ("asio": "the Boost.Asio yardstick"); each is in unless a list leaves it out.
struct reference_runtime {
    std::string name, what;
};
std::vector<reference_runtime> reference_runtimes();

// Runs every selected reference entry, appending to `benchmarks` (or to
// `declared` where it cannot run here) and, for a reference program that
// ran, saying what it is in `references` (the results' context.references).
// Throws cb::interrupted if a signal arrives.
void run_references(const options& o, nlohmann::json& benchmarks, nlohmann::json& declared,
                    nlohmann::json& references);

}  // namespace cb
